//! `yamlencode`, byte for byte as Terraform writes YAML.
//!
//! Terraform encodes through go-cty-yaml, whose emitter is go-yaml's port of
//! libyaml. This module follows that emitter's rules for the few shapes a value
//! produces: block mappings and sequences, `[]` and `{}` for empty ones,
//! strings double-quoted (or as `|` literals when they contain a newline and
//! the literal style can hold them), plain numbers, bools and nulls, and the
//! folding of long double-quoted strings at column 80. The emitter's state
//! (column, indent, and the `whitespace` and `indention` flags) is kept as
//! libyaml keeps it, so that line breaks and spaces fall where Terraform's do.

use super::{Fail, FuncContext};
use crate::lang::value::Value;

pub(super) fn yamlencode(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::String(encode(args.first().unwrap_or(&Value::Null))))
}

/// Encodes a value as a YAML document.
pub(super) fn encode(value: &Value) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        indent: -1,
        whitespace: true,
        indention: true,
        open_ended: false,
    };
    emitter.node(value, Context::Root);
    emitter.indent = -1;
    emitter.write_indent();
    if emitter.open_ended {
        emitter.write_indicator("...", true, false, false);
        emitter.write_indent();
    }
    emitter.out
}

const BEST_INDENT: i64 = 2;
const BEST_WIDTH: usize = 80;
/// Longer mapping keys are written in the `? key` form.
const MAX_SIMPLE_KEY_LEN: usize = 128;

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Root,
    SequenceItem,
    MappingValue,
    SimpleKey,
}

struct Emitter {
    out: String,
    column: usize,
    indent: i64,
    /// The last character written is whitespace.
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
    /// A root plain scalar needs the `...` document end marker.
    open_ended: bool,
}

impl Emitter {
    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Tuple(items) | Value::List(items) | Value::Set(items) if items.is_empty() => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            Value::Object(map) | Value::Map(map) if map.is_empty() => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                let saved = self.indent;
                self.increase_indent(false, context == Context::MappingValue && !self.indention);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Context::SequenceItem);
                }
                self.indent = saved;
            }
            Value::Object(map) | Value::Map(map) => {
                let saved = self.indent;
                self.increase_indent(false, false);
                for (key, item) in map {
                    self.write_indent();
                    let key_value = Value::String(key.clone());
                    if key.len() <= MAX_SIMPLE_KEY_LEN && !key.chars().any(is_break) {
                        self.node(&key_value, Context::SimpleKey);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(&key_value, Context::MappingValue);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, Context::MappingValue);
                }
                self.indent = saved;
            }
            Value::Sensitive(inner) => self.node(inner, context),
            scalar => {
                let saved = self.indent;
                self.increase_indent(true, false);
                match scalar {
                    Value::String(s)
                        if s.contains('\n')
                            && literal_allowed(s)
                            && context != Context::SimpleKey =>
                    {
                        self.write_literal(s);
                    }
                    Value::String(s) => self.write_double_quoted(s, context != Context::SimpleKey),
                    Value::Bool(b) => self.write_plain(&b.to_string(), context),
                    Value::Number(n) => self.write_plain(&n.to_string(), context),
                    _ => self.write_plain("null", context),
                }
                self.indent = saved;
            }
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn write_plain(&mut self, text: &str, context: Context) {
        if !self.whitespace {
            self.put(' ');
        }
        for c in text.chars() {
            self.put(c);
        }
        self.whitespace = false;
        self.indention = false;
        if context == Context::Root {
            self.open_ended = true;
        }
    }

    fn write_double_quoted(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match escape_letter(c) {
                    Some(letter) => self.put(letter),
                    None => {
                        let code = c as u32;
                        let (prefix, width) = match code {
                            0..=0xFF => ('x', 2),
                            0x100..=0xFFFF => ('u', 4),
                            _ => ('U', 8),
                        };
                        self.put(prefix);
                        for digit in format!("{code:0width$X}").chars() {
                            self.put(digit);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && i < s.len() - 1 {
                    self.write_indent();
                    if let Some((_, ' ')) = chars.peek() {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        if s.starts_with([' ', '\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            self.write_indicator(&BEST_INDENT.to_string(), false, false, false);
        }
        let mut rev = s.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some("-"),
            (Some(last), _) if !is_break(last) => Some("-"),
            (Some(_), None) => Some("+"),
            (Some(_), Some(before)) if is_break(before) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                if c == '\n' {
                    self.put_break();
                } else {
                    self.out.push(c);
                    self.column = 0;
                }
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                    breaks = false;
                }
                self.put(c);
                self.indention = false;
            }
        }
    }
}

/// libyaml's analysis: the literal style cannot hold trailing spaces, a space
/// before a line break, or characters it would have to escape.
fn literal_allowed(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    if chars.last() == Some(&' ') {
        return false;
    }
    let space_break = chars
        .windows(2)
        .any(|pair| pair[0] == ' ' && is_break(pair[1]));
    let special = chars.iter().any(|c| !is_printable(*c) || *c == '\u{feff}');
    !(space_break || special)
}

/// libyaml's `is_printable`, which reads UTF-8 bytes and so refuses every
/// character outside the Basic Multilingual Plane.
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn escape_letter(c: char) -> Option<char> {
    Some(match c {
        '\0' => '0',
        '\u{7}' => 'a',
        '\u{8}' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\u{b}' => 'v',
        '\u{c}' => 'f',
        '\r' => 'r',
        '\u{1b}' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{a0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn check(value: Value, expected: &str) {
        assert_eq!(encode(&value), expected);
    }

    #[test]
    fn root_string() {
        check(s("x"), "\"x\"\n");
    }

    #[test]
    fn root_number_is_open_ended() {
        check(Value::float(1.5), "1.5\n...\n");
    }

    #[test]
    fn root_null() {
        check(Value::Null, "null\n...\n");
    }

    #[test]
    fn mapping_of_scalars() {
        check(
            obj(&[("a", i(1)), ("b", s("x")), ("c", Value::Bool(true))]),
            "\"a\": 1\n\"b\": \"x\"\n\"c\": true\n",
        );
    }

    #[test]
    fn sequence_in_mapping_is_indentless() {
        check(obj(&[("c", t(vec![i(1), i(2)]))]), "\"c\":\n- 1\n- 2\n");
    }

    #[test]
    fn mapping_in_mapping() {
        check(
            obj(&[("d", obj(&[("e", Value::Null)]))]),
            "\"d\":\n  \"e\": null\n",
        );
    }

    #[test]
    fn sequences_of_sequences() {
        check(
            t(vec![t(vec![i(1), i(2)]), t(vec![i(3)])]),
            "- - 1\n  - 2\n- - 3\n",
        );
    }

    #[test]
    fn mapping_in_sequence() {
        check(
            t(vec![obj(&[("a", i(1)), ("b", i(2))])]),
            "- \"a\": 1\n  \"b\": 2\n",
        );
    }

    #[test]
    fn empty_collections_are_flow() {
        check(
            obj(&[("h", t(vec![])), ("i", obj(&[]))]),
            "\"h\": []\n\"i\": {}\n",
        );
    }

    #[test]
    fn literal_strip() {
        check(
            obj(&[("g", s("multi\nline"))]),
            "\"g\": |-\n  multi\n  line\n",
        );
    }

    #[test]
    fn literal_clip() {
        check(s("x\n"), "|\n  x\n");
    }

    #[test]
    fn literal_keep() {
        check(s("x\n\n"), "|+\n  x\n\n");
    }

    #[test]
    fn literal_with_leading_space_has_indent_hint() {
        check(s(" x\ny"), "|2-\n   x\n  y\n");
    }

    #[test]
    fn tab_forces_double_quotes() {
        check(s("a\tb\nc"), "\"a\\tb\\nc\"\n");
    }

    #[test]
    fn astral_characters_are_escaped() {
        check(s("😀 é"), "\"\\U0001F600 é\"\n");
    }

    #[test]
    fn special_breaks_are_escaped() {
        check(s("\u{a0}\u{85}\u{2028}x"), "\"\u{a0}\\N\\Lx\"\n");
    }

    #[test]
    fn multiline_key_is_complex() {
        check(obj(&[("x\ny", i(2))]), "? |-\n  x\n  y\n: 2\n");
    }

    #[test]
    fn long_string_folds() {
        let long = "very long string very long string very long string very long string very long string very long string";
        check(
            obj(&[("a", obj(&[("b", obj(&[("c", s(long))]))]))]),
            "\"a\":\n  \"b\":\n    \"c\": \"very long string very long string very long string very long string very\n      long string very long string\"\n",
        );
    }

    #[test]
    fn long_string_fold_escapes_following_space() {
        let long = "very long string very long string very long string very long string very long string very long string  x";
        check(
            t(vec![s(long)]),
            "- \"very long string very long string very long string very long string very long string\n  very long string  x\"\n",
        );
    }
}
