//! String functions. Case mapping is Go's (one character at a time, so `ß`
//! stays `ß`), and lengths and offsets count grapheme clusters as cty does.

use std::collections::BTreeMap;

use regex::Regex;

use super::{Fail, FuncContext, int_arg, list_arg, string_arg};
use crate::lang::types::Type;
use crate::lang::value::Value;

pub(super) fn chomp(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(s.trim_end_matches(['\r', '\n']).to_string()))
}

pub(super) fn startswith(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::Bool(
        string_arg(&args, 0)?.starts_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn endswith(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::Bool(
        string_arg(&args, 0)?.ends_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn indent(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let spaces = int_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let spaces = usize::try_from(spaces)
        .map_err(|_| Fail::arg(0, "number of spaces must not be negative"))?;
    Ok(Value::String(
        s.replace('\n', &format!("\n{}", " ".repeat(spaces))),
    ))
}

pub(super) fn join(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let separator = string_arg(&args, 0)?;
    if args.len() < 2 {
        return Err(Fail::call("at least one list is required"));
    }
    let mut parts = Vec::new();
    for i in 1..args.len() {
        for item in list_arg(&args, i, Type::String)? {
            match item {
                Value::String(s) => parts.push(s),
                _ => return Err(Fail::arg(i, format!("element {} is null", parts.len()))),
            }
        }
    }
    Ok(Value::String(parts.join(&separator)))
}

pub(super) fn lower(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(
        string_arg(&args, 0)?.chars().map(to_lower).collect(),
    ))
}

pub(super) fn upper(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(
        string_arg(&args, 0)?.chars().map(to_upper).collect(),
    ))
}

/// Go's `strings.Title`: upper-cases the first letter of every word.
pub(super) fn title(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let mut previous = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(if is_word_separator(previous) {
            to_upper(c)
        } else {
            c
        });
        previous = c;
    }
    Ok(Value::String(out))
}

fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    c.is_whitespace()
}

/// Go's `unicode.ToUpper`: a character without a one-character upper case stays as it is.
fn to_upper(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn to_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

pub(super) fn trim(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let cutset: Vec<char> = string_arg(&args, 1)?.chars().collect();
    Ok(Value::String(
        s.trim_matches(|c| cutset.contains(&c)).to_string(),
    ))
}

pub(super) fn trimprefix(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let prefix = string_arg(&args, 1)?;
    Ok(Value::String(
        s.strip_prefix(&prefix).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trimsuffix(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let suffix = string_arg(&args, 1)?;
    Ok(Value::String(
        s.strip_suffix(&suffix).unwrap_or(&s).to_string(),
    ))
}

pub(super) fn trimspace(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(string_arg(&args, 0)?.trim().to_string()))
}

/// Replaces every occurrence; a search string wrapped in slashes is a regex
/// whose replacement may refer to groups as `$1` or `${name}`.
pub(super) fn replace(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let search = string_arg(&args, 1)?;
    let replacement = string_arg(&args, 2)?;
    if search.len() > 1
        && let Some(pattern) = search
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix('/'))
    {
        let re = compile(pattern).map_err(Fail::call)?;
        return Ok(Value::String(
            re.replace_all(&s, replacement.as_str()).into_owned(),
        ));
    }
    Ok(Value::String(s.replace(&search, &replacement)))
}

/// Compiles a pattern, reusing earlier compilations: specs call `regex` with the
/// same few patterns for every instance of a fleet, and compiling dominates.
fn compile(pattern: &str) -> Result<Regex, String> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Regex>> = Default::default();
    }
    if let Some(re) = CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Regex::new(pattern).map_err(|e| format!("invalid regular expression pattern: {e}"))?;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        // Bounded, so generated patterns cannot grow it without limit.
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
    });
    Ok(re)
}

pub(super) fn regex(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let pattern = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let re = compile(&pattern).map_err(|e| Fail::arg(0, e))?;
    let shape = MatchShape::of(&re).map_err(|e| Fail::arg(0, e))?;
    let captures = re
        .captures(&s)
        .ok_or_else(|| Fail::call("pattern did not match any part of the given string"))?;
    Ok(shape.result(&re, &captures))
}

pub(super) fn regexall(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let pattern = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let re = compile(&pattern).map_err(|e| Fail::arg(0, e))?;
    let shape = MatchShape::of(&re).map_err(|e| Fail::arg(0, e))?;
    Ok(Value::List(
        re.captures_iter(&s)
            .map(|c| shape.result(&re, &c))
            .collect(),
    ))
}

/// What a match returns: the matched string, a tuple of the groups, or an
/// object of the named groups.
enum MatchShape {
    Whole,
    Groups,
    Named,
}

impl MatchShape {
    fn of(re: &Regex) -> Result<MatchShape, String> {
        let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
        if names.is_empty() {
            Ok(MatchShape::Whole)
        } else if names.iter().all(Option::is_none) {
            Ok(MatchShape::Groups)
        } else if names.iter().all(Option::is_some) {
            Ok(MatchShape::Named)
        } else {
            Err("invalid regular expression pattern: cannot mix both named and unnamed capture groups".to_string())
        }
    }

    fn result(&self, re: &Regex, captures: &regex::Captures<'_>) -> Value {
        let group =
            |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::string(m.as_str()));
        match self {
            MatchShape::Whole => group(captures.get(0)),
            MatchShape::Groups => Value::Tuple(captures.iter().skip(1).map(group).collect()),
            MatchShape::Named => Value::Object(
                re.capture_names()
                    .flatten()
                    .map(|name| (name.to_string(), group(captures.name(name))))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }
}

pub(super) fn split(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let separator = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let parts: Vec<Value> = if separator.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(separator.as_str()).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

pub(super) fn strrev(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(graphemes(&s).into_iter().rev().collect()))
}

/// Takes `length` grapheme clusters from `offset`, as cty's `Substr` does.
pub(super) fn substr(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let s = string_arg(&args, 0)?;
    let mut offset = int_arg(&args, 1)?;
    let length = int_arg(&args, 2)?;
    let clusters = graphemes(&s);
    let n_clusters = clusters.len() as i64;
    if offset < 0 {
        offset = (offset + n_clusters).max(0);
    } else if length == 0 {
        return Ok(Value::string(""));
    }
    let start = offset.min(n_clusters) as usize;
    let rest = clusters.get(start..).unwrap_or_default();
    let taken = if length < 0 {
        rest.len()
    } else {
        (length as usize).min(rest.len())
    };
    Ok(Value::String(
        rest.get(..taken).unwrap_or_default().concat(),
    ))
}

/// Splits a string into extended grapheme clusters, approximately: a cluster is
/// a character followed by combining marks, variation selectors, emoji
/// modifiers and zero-width-joined characters; CRLF and regional indicator
/// pairs are single clusters.
pub(super) fn graphemes(s: &str) -> Vec<&str> {
    let mut clusters = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        let mut joined = c == '\u{200d}';
        let mut regional = is_regional_indicator(c);
        while let Some(&(i, next)) = chars.peek() {
            let extends = joined
                || is_extending(next)
                || (c == '\r' && next == '\n' && i == start + 1)
                || (regional && is_regional_indicator(next));
            if !extends {
                break;
            }
            regional = false;
            joined = next == '\u{200d}';
            chars.next();
        }
        let end = chars.peek().map_or(s.len(), |&(i, _)| i);
        clusters.push(&s[start..end]);
        start = end;
    }
    clusters
}

fn is_extending(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200C | 0x200D | 0x20D0..=0x20FF
        | 0x302A..=0x302F | 0x3099 | 0x309A | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use std::path::Path;

    use super::super::call;
    use super::*;

    fn check(name: &str, args: Vec<Value>, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, args), expected.map_err(str::to_string));
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|x| s(x)).collect())
    }

    fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(items)
    }

    #[test]
    fn chomp_all_newlines() {
        check("chomp", vec![s("a\r\n\n")], Ok(s("a")));
    }

    #[test]
    fn indent_pads_every_line_but_the_first() {
        check("indent", vec![i(2), s("a\n\nb")], Ok(s("a\n  \n  b")));
    }

    #[test]
    fn join_converts_primitives() {
        check(
            "join",
            vec![s("-"), tuple(vec![i(1), Value::Bool(true), s("x")])],
            Ok(s("1-true-x")),
        );
    }

    #[test]
    fn join_several_lists() {
        check(
            "join",
            vec![s(","), tuple(vec![s("a")]), tuple(vec![s("b")])],
            Ok(s("a,b")),
        );
    }

    #[test]
    fn join_nested_list_fails() {
        check(
            "join",
            vec![s(","), tuple(vec![tuple(vec![s("a")])])],
            Err("Invalid value for \"lists\" parameter: list of string required."),
        );
    }

    #[test]
    fn join_without_lists() {
        check(
            "join",
            vec![s(",")],
            Err("Call to function \"join\" failed: at least one list is required"),
        );
    }

    #[test]
    fn upper_keeps_sharp_s() {
        check("upper", vec![s("straße")], Ok(s("STRAßE")));
    }

    #[test]
    fn lower_unicode() {
        check("lower", vec![s("ÉCOLE ΣΑΣ")], Ok(s("école σασ")));
    }

    #[test]
    fn title_words() {
        check(
            "title",
            vec![s("hello world-foo bar_baz élan")],
            Ok(s("Hello World-Foo Bar_baz Élan")),
        );
    }

    #[test]
    fn trim_cutset() {
        check("trim", vec![s("?!hello?!"), s("!?")], Ok(s("hello")));
    }

    #[test]
    fn trimprefix_absent() {
        check(
            "trimprefix",
            vec![s("helloworld"), s("world")],
            Ok(s("helloworld")),
        );
    }

    #[test]
    fn trimsuffix_present() {
        check(
            "trimsuffix",
            vec![s("helloworld"), s("world")],
            Ok(s("hello")),
        );
    }

    #[test]
    fn trimspace_unicode_spaces() {
        check("trimspace", vec![s("\u{a0} x\n")], Ok(s("x")));
    }

    #[test]
    fn replace_plain() {
        check("replace", vec![s("a.b.c"), s("."), s("-")], Ok(s("a-b-c")));
    }

    #[test]
    fn replace_regex_groups() {
        check(
            "replace",
            vec![s("2024-01-15"), s("/(\\d+)-(\\d+)-(\\d+)/"), s("$3/$2/$1")],
            Ok(s("15/01/2024")),
        );
    }

    #[test]
    fn replace_single_slash_is_literal() {
        check("replace", vec![s("a/b"), s("/"), s("|")], Ok(s("a|b")));
    }

    #[test]
    fn replace_bad_regex() {
        let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
        let ctx = FuncContext {
            base_dir: Path::new("."),
            render_template: &render,
        };
        assert!(call("replace", vec![s("x"), s("/(/"), s("y")], &ctx).is_err());
    }

    #[test]
    fn regex_whole_match() {
        check("regex", vec![s("[a-z]+"), s("123abc456")], Ok(s("abc")));
    }

    #[test]
    fn regex_groups() {
        check(
            "regex",
            vec![s("(\\d+)-(\\d+)"), s("ab 12-34")],
            Ok(tuple(vec![s("12"), s("34")])),
        );
    }

    #[test]
    fn regex_unmatched_group_is_null() {
        check(
            "regex",
            vec![s("(a)(b)?"), s("a")],
            Ok(tuple(vec![s("a"), Value::Null])),
        );
    }

    #[test]
    fn regex_named_groups() {
        check(
            "regex",
            vec![s("(?P<y>\\d{4})-(?P<m>\\d{2})"), s("2024-05")],
            Ok(Value::Object(
                [("m".to_string(), s("05")), ("y".to_string(), s("2024"))].into(),
            )),
        );
    }

    #[test]
    fn regex_no_match() {
        check(
            "regex",
            vec![s("x"), s("abc")],
            Err(
                "Call to function \"regex\" failed: pattern did not match any part of the given string",
            ),
        );
    }

    #[test]
    fn regexall_strings() {
        check(
            "regexall",
            vec![s("[0-9]+"), s("a1b22")],
            Ok(list(&["1", "22"])),
        );
    }

    #[test]
    fn regexall_no_match() {
        check("regexall", vec![s("z"), s("abc")], Ok(list(&[])));
    }

    #[test]
    fn split_keeps_empty_parts() {
        check("split", vec![s(","), s("a,,b")], Ok(list(&["a", "", "b"])));
    }

    #[test]
    fn split_empty_string() {
        check("split", vec![s(","), s("")], Ok(list(&[""])));
    }

    #[test]
    fn split_empty_separator() {
        check("split", vec![s(""), s("abc")], Ok(list(&["a", "b", "c"])));
    }

    #[test]
    fn strrev_keeps_clusters() {
        check("strrev", vec![s("ae\u{301}😀")], Ok(s("😀e\u{301}a")));
    }

    #[test]
    fn substr_middle() {
        check("substr", vec![s("hello world"), i(1), i(4)], Ok(s("ello")));
    }

    #[test]
    fn substr_negative_offset() {
        check("substr", vec![s("hello"), i(-3), i(-1)], Ok(s("llo")));
    }

    #[test]
    fn substr_offset_before_start() {
        check("substr", vec![s("hello"), i(-10), i(2)], Ok(s("he")));
    }

    #[test]
    fn substr_past_end() {
        check("substr", vec![s("hello"), i(10), i(2)], Ok(s("")));
    }

    #[test]
    fn substr_unicode() {
        check("substr", vec![s("héllo"), i(1), i(3)], Ok(s("éll")));
    }

    #[test]
    fn startswith_prefix() {
        check(
            "startswith",
            vec![s("hello"), s("he")],
            Ok(Value::Bool(true)),
        );
    }

    #[test]
    fn endswith_empty_suffix() {
        check("endswith", vec![s("hello"), s("")], Ok(Value::Bool(true)));
    }
}
