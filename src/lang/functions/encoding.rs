//! `base64encode`, `base64decode`, `jsonencode` and `jsondecode`.
//!
//! JSON text is written here rather than by serde_json because Terraform's
//! must match byte for byte: numbers as `Number` displays them (never with an
//! exponent), keys sorted, and Go's HTML-safe escapes (`<` as `\u003c`).

use base64::Engine as _;

use super::{Fail, FuncContext, string_arg};
use crate::lang::value::Value;

pub(super) fn base64encode(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(string_arg(&args, 0)?),
    ))
}

pub(super) fn base64decode(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&s)
        .map_err(|_| Fail::call(format!("failed to decode base64 data {s:?}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| Fail::call("the result of decoding the provided string is not valid UTF-8"))
}

pub(super) fn jsonencode(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(json_text(
        args.first().unwrap_or(&Value::Null),
    )))
}

pub(super) fn jsondecode(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let json: serde_json::Value =
        serde_json::from_str(&s).map_err(|e| Fail::call(json_error(&e)))?;
    Ok(Value::from_json(&json))
}

fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of JSON input".to_string(),
        _ => format!("invalid JSON: {e}"),
    }
}

/// Writes a value as compact JSON, exactly as Terraform's `jsonencode` does.
pub(super) fn json_text(value: &Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Unknown => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_json_string(s, out),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) | Value::Map(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
        Value::Sensitive(inner) => write_json(inner, out),
    }
}

/// Go's `encoding/json` string escaping, HTML-safe.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use std::path::Path;

    use super::super::call;
    use super::*;

    fn check(name: &str, arg: Value, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, vec![arg]), expected.map_err(str::to_string));
    }

    #[test]
    fn base64_roundtrip() {
        check(
            "base64encode",
            s("Hello, World!"),
            Ok(s("SGVsbG8sIFdvcmxkIQ==")),
        );
        check(
            "base64decode",
            s("SGVsbG8sIFdvcmxkIQ=="),
            Ok(s("Hello, World!")),
        );
    }

    #[test]
    fn base64decode_invalid() {
        check(
            "base64decode",
            s("notbase64!"),
            Err(
                "Call to function \"base64decode\" failed: failed to decode base64 data \"notbase64!\"",
            ),
        );
    }

    #[test]
    fn base64decode_not_utf8() {
        check(
            "base64decode",
            s("/w=="),
            Err(
                "Call to function \"base64decode\" failed: the result of decoding the provided string is not valid UTF-8",
            ),
        );
    }

    #[test]
    fn jsonencode_sorts_keys_and_escapes_html() {
        let value = Value::Object(
            [
                ("b".to_string(), s("<>&")),
                (
                    "a".to_string(),
                    Value::Tuple(vec![
                        Value::int(1),
                        Value::float(2.5),
                        Value::Null,
                        Value::Bool(true),
                    ]),
                ),
            ]
            .into(),
        );
        check(
            "jsonencode",
            value,
            Ok(s(r#"{"a":[1,2.5,null,true],"b":"\u003c\u003e\u0026"}"#)),
        );
    }

    #[test]
    fn jsonencode_large_number_without_exponent() {
        check(
            "jsonencode",
            Value::float(1e21),
            Ok(s("1000000000000000000000")),
        );
    }

    #[test]
    fn jsonencode_control_characters() {
        check(
            "jsonencode",
            s("\u{2028}é\n\t\u{1}"),
            Ok(s(r#""\u2028é\n\t\u0001""#)),
        );
    }

    #[test]
    fn jsonencode_null() {
        check("jsonencode", Value::Null, Ok(s("null")));
    }

    #[test]
    fn jsondecode_structures() {
        check(
            "jsondecode",
            s(r#"{"a": [1, "x"], "b": {}}"#),
            Ok(Value::Object(
                [
                    ("a".to_string(), Value::Tuple(vec![Value::int(1), s("x")])),
                    ("b".to_string(), Value::Object(Default::default())),
                ]
                .into(),
            )),
        );
    }

    #[test]
    fn jsondecode_empty() {
        check(
            "jsondecode",
            s(""),
            Err("Call to function \"jsondecode\" failed: unexpected end of JSON input"),
        );
    }

    #[test]
    fn jsondecode_trailing_garbage() {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        assert!(call("jsondecode", vec![s("1 2")], &ctx).is_err());
    }
}
