//! Prints values as `terraform console` does.
//!
//! This follows Terraform's `internal/repl/format.go`: tuples and objects are
//! written bare, lists, sets and maps inside `tolist(...)`, `toset(...)` and
//! `tomap(...)`, one element per line with two-space indentation, and strings
//! with a newline as heredocs. Object keys are not aligned.

use super::value::Value;

/// Formats a value exactly as `terraform console` prints it.
pub fn console_format(value: &Value) -> String {
    format_value(value, 0)
}

fn format_value(value: &Value, indent: usize) -> String {
    match value {
        Value::Unknown => "(known after apply)".to_string(),
        Value::Sensitive(_) => "(sensitive value)".to_string(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => heredoc(s, indent).unwrap_or_else(|| go_quote(s)),
        Value::Tuple(items) => format_sequence(items, indent),
        Value::List(items) => format!("tolist({})", format_sequence(items, indent)),
        Value::Set(items) => format!("toset({})", format_sequence(items, indent)),
        Value::Object(map) => format_mapping(map, indent),
        Value::Map(map) => format!("tomap({})", format_mapping(map, indent)),
    }
}

/// Writes a string with line breaks as a heredoc, indented (`<<-`) when nested.
fn heredoc(s: &str, indent: usize) -> Option<String> {
    let lines: Vec<&str> = s.split('\n').collect();
    if lines.len() < 2 {
        return None;
    }
    let operator = if indent > 0 { "<<-" } else { "<<" };
    let mut delimiter = "EOT".to_string();
    while lines.iter().any(|line| line.trim() == delimiter) {
        delimiter.push('_');
    }
    let pad = " ".repeat(indent);
    let mut out = format!("{operator}{delimiter}");
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out.push('\n');
    out.push_str(&pad);
    out.push_str(&delimiter);
    Some(out)
}

fn format_sequence(items: &[Value], indent: usize) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    let inner = indent + 2;
    let mut out = String::from("[");
    for item in items {
        out.push('\n');
        out.push_str(&" ".repeat(inner));
        out.push_str(&format_value(item, inner));
        out.push(',');
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push(']');
    out
}

fn format_mapping(map: &std::collections::BTreeMap<String, Value>, indent: usize) -> String {
    if map.is_empty() {
        return "{}".to_string();
    }
    let inner = indent + 2;
    let mut out = String::from("{");
    for (key, item) in map {
        out.push('\n');
        out.push_str(&" ".repeat(inner));
        out.push_str(&heredoc(key, inner).unwrap_or_else(|| go_quote(key)));
        out.push_str(" = ");
        out.push_str(&format_value(item, inner));
    }
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    out.push('}');
    out
}

/// Quotes a string as Go's `strconv.Quote` does: printable characters stay,
/// the rest become `\n`, `\x01`, `\u00a0` or `\U000e0001` escapes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint`: everything but control and format
/// characters, separators other than the ASCII space, private use characters
/// and noncharacters. Unassigned code points are treated as printable.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(c as u32,
        // Space, line and paragraph separators.
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000
        // Format characters.
        | 0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890 | 0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Surrogates cannot occur in a char; private use and noncharacters.
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
        | 0xFDD0..=0xFDEF | 0xFFFE | 0xFFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: Value, expected: &str) {
        assert_eq!(console_format(&value), expected);
    }

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    fn i(x: i64) -> Value {
        Value::int(x)
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn null() {
        check(Value::Null, "null");
    }

    #[test]
    fn unknown() {
        check(Value::Unknown, "(known after apply)");
    }

    #[test]
    fn sensitive() {
        check(s("x").sensitive(), "(sensitive value)");
    }

    #[test]
    fn number() {
        check(Value::float(1e21), "1000000000000000000000");
    }

    #[test]
    fn quoted_string() {
        check(
            s("tab\there \"q\" \\ é \u{1} \u{a0} \u{2028} 😀"),
            r#""tab\there \"q\" \\ é \x01 \u00a0 \u2028 😀""#,
        );
    }

    #[test]
    fn heredoc_at_top_level() {
        check(s("a\nb\n"), "<<EOT\na\nb\n\nEOT");
    }

    #[test]
    fn heredoc_delimiter_avoids_content() {
        check(s("EOT\nx"), "<<EOT_\nEOT\nx\nEOT_");
    }

    #[test]
    fn empty_collections() {
        check(Value::Tuple(vec![]), "[]");
        check(Value::List(vec![]), "tolist([])");
        check(Value::Set(vec![]), "toset([])");
        check(Value::Map(Default::default()), "tomap({})");
        check(obj(&[]), "{}");
    }

    #[test]
    fn tuple() {
        check(
            Value::Tuple(vec![i(1), s("a"), Value::Tuple(vec![i(2)])]),
            "[\n  1,\n  \"a\",\n  [\n    2,\n  ],\n]",
        );
    }

    #[test]
    fn object_keys_are_not_aligned() {
        check(
            obj(&[("a", i(1)), ("bbbbb", i(2))]),
            "{\n  \"a\" = 1\n  \"bbbbb\" = 2\n}",
        );
    }

    #[test]
    fn map_and_set() {
        check(
            Value::Map([("a".to_string(), Value::Set(vec![i(1)]))].into()),
            "tomap({\n  \"a\" = toset([\n    1,\n  ])\n})",
        );
    }

    #[test]
    fn nested_heredoc_is_indented() {
        check(
            obj(&[("a", s("x\ny")), ("b", Value::Tuple(vec![s("p\nq")]))]),
            "{\n  \"a\" = <<-EOT\n  x\n  y\n  EOT\n  \"b\" = [\n    <<-EOT\n    p\n    q\n    EOT,\n  ]\n}",
        );
    }

    #[test]
    fn nested_sensitive() {
        check(
            Value::Tuple(vec![i(1), i(2).sensitive()]),
            "[\n  1,\n  (sensitive value),\n]",
        );
    }
}
