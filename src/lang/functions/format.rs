//! `format` and `formatlist`: Go's `fmt` verbs as cty's format function
//! interprets them, with Terraform's conversions of the arguments.

use super::encoding::json_text;
use super::{Fail, FuncContext, string_arg};
use crate::lang::types::{self, Type};
use crate::lang::value::{Number, Value};

pub(super) fn format(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let spec = string_arg(&args, 0)?;
    let verbs = parse(&spec).map_err(Fail::call)?;
    // An untyped null argument leaves the result unknown, as cty's type check does.
    if args.iter().skip(1).any(Value::is_null) {
        return Ok(Value::Unknown);
    }
    let values = args.get(1..).unwrap_or_default();
    format_with(&verbs, values, 1).map(Value::String)
}

pub(super) fn formatlist(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let spec = string_arg(&args, 0)?;
    let verbs = parse(&spec).map_err(Fail::call)?;
    let values = args.get(1..).unwrap_or_default();
    let mut length: Option<(usize, usize)> = None;
    for (i, value) in values.iter().enumerate() {
        if let Some(items) = value.as_sequence() {
            match length {
                None => length = Some((i, items.len())),
                Some((first, n)) if n != items.len() => {
                    return Err(Fail::arg(
                        i + 1,
                        format!(
                            "argument {} has length {}, which is inconsistent with argument {} of length {n}.",
                            i + 1,
                            items.len(),
                            first + 1
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let n_results = length.map_or(1, |(_, n)| n);
    let mut results = Vec::with_capacity(n_results);
    for row in 0..n_results {
        let row_values: Vec<Value> = values
            .iter()
            .map(|value| match value.as_sequence() {
                Some(items) => items.get(row).cloned().unwrap_or(Value::Null),
                None => value.clone(),
            })
            .collect();
        if row_values.iter().any(Value::is_null) {
            return Ok(Value::Unknown);
        }
        results.push(Value::String(format_with(&verbs, &row_values, 1)?));
    }
    Ok(Value::List(results))
}

/// One piece of a format string.
enum Piece {
    Literal(String),
    Verb(Verb),
}

struct Verb {
    /// The verb as written, for error messages.
    raw: String,
    offset: usize,
    /// One-based argument number.
    arg: usize,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
    mode: char,
}

fn parse(spec: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = spec.char_indices().peekable();
    let mut next_arg = 1;
    let invalid_end = || format!("invalid format string starting at offset {}", spec.len());
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        if let Some((_, '%')) = chars.peek() {
            chars.next();
            literal.push('%');
            continue;
        }
        let mut verb = Verb {
            raw: String::new(),
            offset: start,
            arg: 0,
            minus: false,
            plus: false,
            sharp: false,
            space: false,
            zero: false,
            width: None,
            precision: None,
            mode: 'v',
        };
        while let Some(&(_, c)) = chars.peek() {
            match c {
                '-' => verb.minus = true,
                '+' => verb.plus = true,
                '#' => verb.sharp = true,
                ' ' => verb.space = true,
                '0' => verb.zero = true,
                _ => break,
            }
            chars.next();
        }
        if let Some((_, '[')) = chars.peek() {
            chars.next();
            let n = read_digits(&mut chars).ok_or_else(invalid_end)?;
            match chars.next() {
                Some((_, ']')) => next_arg = n,
                Some((i, c)) => {
                    return Err(format!("unrecognized format character {c:?} at offset {i}"));
                }
                None => return Err(invalid_end()),
            }
        }
        verb.width = read_digits(&mut chars);
        if let Some((_, '.')) = chars.peek() {
            chars.next();
            verb.precision = Some(read_digits(&mut chars).unwrap_or(0));
        }
        match chars.next() {
            Some((end, mode)) if mode.is_alphabetic() => {
                verb.mode = mode;
                verb.raw = spec
                    .get(start..end + mode.len_utf8())
                    .unwrap_or_default()
                    .to_string();
            }
            Some((i, c)) => {
                return Err(format!("unrecognized format character {c:?} at offset {i}"));
            }
            None => return Err(invalid_end()),
        }
        verb.arg = next_arg;
        next_arg += 1;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Verb(verb));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

fn read_digits(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(&(_, c)) = chars.peek() {
        let Some(d) = c.to_digit(10) else { break };
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

/// Formats the arguments; `first_arg` is the position of the first value in the call.
fn format_with(pieces: &[Piece], values: &[Value], first_arg: usize) -> Result<String, Fail> {
    let mut out = String::new();
    let mut max_arg = 0;
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Verb(verb) => {
                let Some(value) = values.get(verb.arg - 1) else {
                    return Err(Fail::call(format!(
                        "not enough arguments for {:?} at {}: need index {} but have {} total",
                        verb.raw,
                        verb.offset,
                        verb.arg,
                        values.len()
                    )));
                };
                max_arg = max_arg.max(verb.arg);
                out.push_str(&format_verb(verb, value)?);
            }
        }
    }
    if values.len() > max_arg {
        let message = if max_arg == 0 {
            "too many arguments; no verbs in format string".to_string()
        } else {
            format!("too many arguments; only {max_arg} used by format string")
        };
        return Err(Fail::arg(first_arg + max_arg, message));
    }
    Ok(out)
}

fn format_verb(verb: &Verb, value: &Value) -> Result<String, Fail> {
    let unsupported = |why: &str| {
        Fail::call(format!(
            "unsupported value for {:?} at {}: {why}",
            verb.raw, verb.offset
        ))
    };
    match verb.mode {
        'v' => {
            let text = match value {
                Value::String(s) if !verb.sharp => s.clone(),
                Value::Number(n) if !verb.sharp => n.to_string(),
                Value::Bool(b) if !verb.sharp => b.to_string(),
                other => json_text(other),
            };
            Ok(pad(verb, "", &text))
        }
        's' | 'q' => {
            let mut s = match types::convert(value.clone(), &Type::String) {
                Ok(Value::String(s)) => s,
                _ => return Err(unsupported("string required")),
            };
            if let Some(precision) = verb.precision {
                s = s.chars().take(precision).collect();
            }
            if verb.mode == 'q' {
                // cty quotes with Go's JSON encoder, not with `strconv.Quote`.
                s = json_text(&Value::String(s));
            }
            Ok(pad(verb, "", &s))
        }
        // cty writes bools without padding.
        't' => match types::convert(value.clone(), &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(b.to_string()),
            _ => Err(unsupported("bool required")),
        },
        'b' | 'd' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = match (value, types::convert(value.clone(), &Type::Number)) {
                (_, Ok(Value::Number(n))) => n,
                (Value::String(_), _) => return Err(unsupported("a number is required")),
                _ => return Err(unsupported("number required")),
            };
            if matches!(verb.mode, 'b' | 'd' | 'o' | 'x' | 'X') {
                format_integer(verb, n).ok_or_else(|| unsupported("an integer is required"))
            } else {
                Ok(format_float(verb, n.as_f64()))
            }
        }
        mode => Err(Fail::call(format!(
            "unsupported format verb {mode:?} in {:?} at offset {}",
            verb.raw, verb.offset
        ))),
    }
}

/// Pads `sign` and `body` to the verb's width, counting characters as Go does.
fn pad(verb: &Verb, sign: &str, body: &str) -> String {
    let len = sign.chars().count() + body.chars().count();
    let padding = verb.width.unwrap_or(0).saturating_sub(len);
    if verb.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else if verb.zero {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

/// Formats like Go's `big.Int.Format`.
fn format_integer(verb: &Verb, n: Number) -> Option<String> {
    let value: i128 = match n {
        Number::Int(i) => i128::from(i),
        Number::Float(f) if f.fract() == 0.0 && f.abs() < 1.7e38 => f as i128,
        Number::Float(_) => return None,
    };
    let magnitude = value.unsigned_abs();
    let (digits, prefix) = match verb.mode {
        'b' => (format!("{magnitude:b}"), "0b"),
        'o' => (format!("{magnitude:o}"), "0"),
        'x' => (format!("{magnitude:x}"), "0x"),
        'X' => (format!("{magnitude:X}"), "0X"),
        _ => (magnitude.to_string(), ""),
    };
    let prefix = if verb.sharp { prefix } else { "" };
    let sign = if value < 0 {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    };
    let mut zeros = 0;
    if let Some(precision) = verb.precision {
        if digits.len() < precision {
            zeros = precision - digits.len();
        } else if digits == "0" && precision == 0 {
            return Some(String::new());
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0, 0);
    if let Some(width) = verb.width
        && length < width
    {
        let d = width - length;
        if verb.minus {
            right = d;
        } else if verb.zero && verb.precision.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    Some(format!(
        "{}{sign}{prefix}{}{digits}{}",
        " ".repeat(left),
        "0".repeat(zeros),
        " ".repeat(right)
    ))
}

/// Formats like Go's `big.Float.Format` for `e`, `E`, `f`, `F`, `g` and `G`.
fn format_float(verb: &Verb, x: f64) -> String {
    let sign = if x.is_sign_negative() && x != 0.0 {
        "-"
    } else if x.is_infinite() || verb.plus {
        if verb.space && !verb.plus { " " } else { "+" }
    } else if verb.space {
        " "
    } else {
        ""
    };
    let x = x.abs();
    let body = if x.is_infinite() {
        "Inf".to_string()
    } else {
        match verb.mode {
            'e' | 'E' => exponent_form(x, verb.precision.unwrap_or(6), verb.mode == 'E'),
            'f' | 'F' => format!("{:.*}", verb.precision.unwrap_or(6), x),
            _ => general_form(x, verb.precision, verb.mode == 'G'),
        }
    };
    let padding = verb
        .width
        .unwrap_or(0)
        .saturating_sub(sign.len() + body.len());
    if verb.zero && !x.is_infinite() {
        format!("{sign}{}{body}", "0".repeat(padding))
    } else if verb.minus {
        format!("{sign}{body}{}", " ".repeat(padding))
    } else {
        format!("{}{sign}{body}", " ".repeat(padding))
    }
}

/// `d.dddde±dd` with `precision` digits after the point.
fn exponent_form(x: f64, precision: usize, upper: bool) -> String {
    let text = format!("{:.*e}", precision, x);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    go_exponent(mantissa, exponent.parse().unwrap_or(0), upper)
}

fn go_exponent(mantissa: &str, exponent: i32, upper: bool) -> String {
    let e = if upper { 'E' } else { 'e' };
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{sign}{:02}", exponent.abs())
}

/// Go's `%g`: the shortest digits (or `precision` significant ones), in
/// exponent form when the exponent is below -4 or reaches the precision.
fn general_form(x: f64, precision: Option<usize>, upper: bool) -> String {
    let text = match precision {
        None => format!("{x:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, x),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.trim_end_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let eprec = match precision {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i32;
            let n_digits = digits.len() as i32;
            if p > n_digits && n_digits > exponent {
                n_digits
            } else {
                p
            }
        }
    };
    if exponent < -4 || exponent >= eprec {
        let mantissa = match digits.split_at(1) {
            (first, "") => first.to_string(),
            (first, rest) => format!("{first}.{rest}"),
        };
        return go_exponent(&mantissa, exponent, upper);
    }
    let point = exponent + 1;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use std::path::Path;

    use super::super::call;
    use super::*;

    fn check(args: Vec<Value>, expected: Result<&str, &str>) {
        assert_eq!(
            call_str("format", args),
            expected.map(Value::string).map_err(str::to_string)
        );
    }

    fn fl(x: f64) -> Value {
        Value::float(x)
    }

    #[test]
    fn plain_string() {
        check(vec![s("Hello, %s!"), s("World")], Ok("Hello, World!"));
    }

    #[test]
    fn integer_widths() {
        check(
            vec![s("%5d|%-5d|%05d"), i(42), i(42), i(42)],
            Ok("   42|42   |00042"),
        );
    }

    #[test]
    fn integer_bases() {
        check(
            vec![
                s("%x %X %o %b %#x %#o"),
                i(255),
                i(255),
                i(8),
                i(5),
                i(255),
                i(8),
            ],
            Ok("ff FF 10 101 0xff 010"),
        );
    }

    #[test]
    fn integer_signs() {
        check(vec![s("%+d % d %d"), i(5), i(5), i(-5)], Ok("+5  5 -5"));
    }

    #[test]
    fn big_integer() {
        check(
            vec![s("%d %x"), fl(1e20), fl(1e20)],
            Ok("100000000000000000000 56bc75e2d63100000"),
        );
    }

    #[test]
    fn fixed_point() {
        check(
            vec![
                s("%.0f %.1f %5.1f %-8.3f|"),
                fl(2.5),
                fl(0.05),
                fl(-1.25),
                i(3),
            ],
            Ok("2 0.1  -1.2 3.000   |"),
        );
    }

    #[test]
    fn exponent() {
        check(
            vec![s("%e %E %e"), fl(1234.5678), fl(1e-7), i(0)],
            Ok("1.234568e+03 1.000000E-07 0.000000e+00"),
        );
    }

    #[test]
    fn general() {
        check(
            vec![
                s("%g %g %g %.3g %g %g"),
                fl(0.1),
                i(123456789),
                fl(1e20),
                fl(2.34567),
                fl(1e-4),
                fl(0.000012),
            ],
            Ok("0.1 1.23456789e+08 1e+20 2.35 0.0001 1.2e-05"),
        );
    }

    #[test]
    fn string_precision_and_width() {
        check(
            vec![s("%.3s|%10s|%-10s|"), s("abcdef"), s("r"), s("l")],
            Ok("abc|         r|l         |"),
        );
    }

    #[test]
    fn quoted() {
        check(vec![s("%q"), s("quote\"d")], Ok("\"quote\\\"d\""));
    }

    #[test]
    fn quoted_like_json() {
        check(
            vec![s("%q"), s("\u{1}\u{7f}\u{2028}")],
            Ok("\"\\u0001\u{7f}\\u2028\""),
        );
    }

    #[test]
    fn bool_ignores_width() {
        check(
            vec![s("%t|%5t"), Value::Bool(false), Value::Bool(true)],
            Ok("false|true"),
        );
    }

    #[test]
    fn default_verb_uses_json_for_collections() {
        check(
            vec![
                s("%v|%v|%#v"),
                Value::Tuple(vec![i(1), s("x")]),
                fl(1.5),
                s("x"),
            ],
            Ok("[1,\"x\"]|1.5|\"x\""),
        );
    }

    #[test]
    fn default_verb_ignores_precision() {
        check(vec![s("%10.4v|"), s("abcdefg")], Ok("   abcdefg|"));
    }

    #[test]
    fn explicit_argument_index() {
        check(vec![s("%[2]s %[1]s"), s("a"), s("b")], Ok("b a"));
    }

    #[test]
    fn percent_literal() {
        check(vec![s("100%%")], Ok("100%"));
    }

    #[test]
    fn number_from_string() {
        check(vec![s("%d"), s("12")], Ok("12"));
    }

    #[test]
    fn null_argument_is_unknown() {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        assert_eq!(
            call("format", vec![s("%v"), Value::Null], &ctx),
            Ok(Value::Unknown)
        );
    }

    #[test]
    fn string_required() {
        check(
            vec![s("%s"), Value::Tuple(vec![i(1)])],
            Err(
                "Call to function \"format\" failed: unsupported value for \"%s\" at 0: string required",
            ),
        );
    }

    #[test]
    fn integer_required() {
        check(
            vec![s("%d"), fl(1.5)],
            Err(
                "Call to function \"format\" failed: unsupported value for \"%d\" at 0: an integer is required",
            ),
        );
    }

    #[test]
    fn not_enough_arguments() {
        check(
            vec![s("%s %s"), s("a")],
            Err(
                "Call to function \"format\" failed: not enough arguments for \"%s\" at 3: need index 2 but have 1 total",
            ),
        );
    }

    #[test]
    fn too_many_arguments() {
        check(
            vec![s("%s"), s("a"), s("b")],
            Err(
                "Invalid value for \"args\" parameter: too many arguments; only 1 used by format string",
            ),
        );
    }

    #[test]
    fn unsupported_verb() {
        check(
            vec![s("%z"), i(1)],
            Err(
                "Call to function \"format\" failed: unsupported format verb 'z' in \"%z\" at offset 0",
            ),
        );
    }

    #[test]
    fn unfinished_verb() {
        check(
            vec![s("abc%")],
            Err("Call to function \"format\" failed: invalid format string starting at offset 4"),
        );
    }

    #[test]
    fn unrecognized_character() {
        check(
            vec![s("%*d"), i(3)],
            Err(
                "Call to function \"format\" failed: unrecognized format character '*' at offset 1",
            ),
        );
    }

    #[test]
    fn formatlist_mixes_lists_and_scalars() {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        assert_eq!(
            call(
                "formatlist",
                vec![s("%s-%s"), Value::Tuple(vec![s("a"), s("b")]), s("c")],
                &ctx
            ),
            Ok(Value::List(vec![s("a-c"), s("b-c")]))
        );
    }

    #[test]
    fn formatlist_length_mismatch() {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        assert_eq!(
            call("formatlist", vec![s("%s-%s"), Value::Tuple(vec![s("a"), s("b")]), Value::Tuple(vec![s("c")])], &ctx)
                .map_err(|e| e.to_string()),
            Err("Invalid value for \"args\" parameter: argument 2 has length 1, which is inconsistent with argument 1 of length 2.".to_string())
        );
    }
}
