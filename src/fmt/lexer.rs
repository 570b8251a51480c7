//! Splits HCL source into the tokens `hclsyntax`'s scanner produces.
//!
//! Terraform's formatter only ever moves whitespace between these tokens, so
//! the token boundaries and kinds must match the Go scanner's exactly; in
//! particular a quoted string breaks into several literal tokens at every `$`
//! and `%`, which decides whether Terraform keeps a block label. The lexer
//! never fails: bytes it does not understand become `Invalid` tokens, so no
//! input is lost.

use hcl::edit::Ident;

/// The kinds of token that the formatting rules tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    OQuote,
    CQuote,
    OHeredoc,
    CHeredoc,
    Star,
    Slash,
    Plus,
    Minus,
    Percent,
    Equal,
    EqualOp,
    NotEqual,
    LessThan,
    LessThanEq,
    GreaterThan,
    GreaterThanEq,
    And,
    Or,
    Bang,
    Dot,
    Comma,
    DoubleColon,
    Ellipsis,
    FatArrow,
    Question,
    Colon,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    /// Literal text inside a quoted string.
    QuotedLit,
    /// Literal text inside a heredoc; it may end with the line's newline.
    StringLit,
    NumberLit,
    Ident,
    /// A `#`, `//` or `/* */` comment; line comments include their newline.
    Comment,
    Newline,
    /// A newline inside a quoted string (a syntax error HCL still scans).
    QuotedNewline,
    /// A character HCL scans but gives no meaning (`&`, `|`, `^`, `;`, …).
    Other,
    Invalid,
    /// Stands for "no token" at the edges of a line.
    Nil,
}

/// One token, its text and the spaces the formatter puts before it.
#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) text: String,
    pub(super) spaces_before: usize,
}

impl Token {
    pub(super) fn new(kind: TokenKind, text: &str) -> Token {
        Token {
            kind,
            text: text.to_string(),
            spaces_before: 0,
        }
    }

    /// Returns whether this token ends a line, as a newline or a line comment does.
    pub(super) fn ends_line(&self) -> bool {
        match self.kind {
            TokenKind::Newline => true,
            TokenKind::Comment => self.text.ends_with('\n'),
            _ => false,
        }
    }

    /// Returns +1 for an opening bracket, -1 for a closing one and 0 otherwise.
    pub(super) fn bracket_change(&self) -> i32 {
        match self.kind {
            TokenKind::OBrace
            | TokenKind::OBrack
            | TokenKind::OParen
            | TokenKind::TemplateControl
            | TokenKind::TemplateInterp => 1,
            TokenKind::CBrace
            | TokenKind::CBrack
            | TokenKind::CParen
            | TokenKind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }
}

enum Mode {
    /// Inside a `"…"` template.
    Quoted,
    /// Inside a heredoc template, waiting for `marker` alone on a line.
    Heredoc { marker: String, start_of_line: bool },
    /// Expression tokens inside a `${` or `%{` sequence.
    Main,
}

/// Splits `source` into tokens; concatenating their texts gives back `source`
/// without its spaces and tabs between tokens.
pub(super) fn lex(source: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        source,
        pos: 0,
        tokens: Vec::new(),
        modes: Vec::new(),
        braces: 0,
        return_braces: Vec::new(),
    };
    lexer.run();
    lexer.tokens
}

struct Lexer<'a> {
    source: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    /// Template modes entered; empty means top-level expression tokens.
    modes: Vec<Mode>,
    /// Count of open braces, including `${` and `%{`.
    braces: i64,
    /// Brace counts at which a `}` closes a template sequence, not an object.
    return_braces: Vec<i64>,
}

impl<'a> Lexer<'a> {
    fn run(&mut self) {
        while self.pos < self.source.len() {
            match self.modes.last() {
                None | Some(Mode::Main) => self.main_token(),
                Some(Mode::Quoted) => self.quoted_token(),
                Some(Mode::Heredoc { .. }) => self.heredoc_token(),
            }
        }
    }

    fn rest(&self) -> &'a str {
        self.source.get(self.pos..).unwrap_or("")
    }

    fn emit(&mut self, kind: TokenKind, len: usize) {
        let end = (self.pos + len).min(self.source.len());
        let text = self.source.get(self.pos..end).unwrap_or("");
        self.tokens.push(Token::new(kind, text));
        self.pos = end;
    }

    /// Emits the next character as an `Invalid` token.
    fn emit_invalid_char(&mut self) {
        let len = self.rest().chars().next().map_or(1, char::len_utf8);
        self.emit(TokenKind::Invalid, len);
    }

    fn main_token(&mut self) {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let second = bytes.get(1).copied();
        let Some(&first) = bytes.first() else {
            return;
        };
        let (kind, len) = match (first, second) {
            (b' ' | b'\t', _) => {
                let len = bytes
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                self.pos += len;
                return;
            }
            (b'0'..=b'9', _) => (TokenKind::NumberLit, number_len(bytes)),
            (b'#', _) | (b'/', Some(b'/')) => {
                let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
                (TokenKind::Comment, len)
            }
            (b'/', Some(b'*')) => match rest.get(2..).and_then(|r| r.find("*/")) {
                Some(i) => (TokenKind::Comment, i + 4),
                None => (TokenKind::Invalid, rest.len()),
            },
            (b'\n', _) => (TokenKind::Newline, 1),
            (b'\r', Some(b'\n')) => (TokenKind::Newline, 2),
            (b'=', Some(b'=')) => (TokenKind::EqualOp, 2),
            (b'=', Some(b'>')) => (TokenKind::FatArrow, 2),
            (b'=', _) => (TokenKind::Equal, 1),
            (b'!', Some(b'=')) => (TokenKind::NotEqual, 2),
            (b'!', _) => (TokenKind::Bang, 1),
            (b'>', Some(b'=')) => (TokenKind::GreaterThanEq, 2),
            (b'>', _) => (TokenKind::GreaterThan, 1),
            (b'<', Some(b'<')) if heredoc_intro_len(rest).is_some() => {
                self.begin_heredoc(rest);
                return;
            }
            (b'<', Some(b'=')) => (TokenKind::LessThanEq, 2),
            (b'<', _) => (TokenKind::LessThan, 1),
            (b'&', Some(b'&')) => (TokenKind::And, 2),
            (b'|', Some(b'|')) => (TokenKind::Or, 2),
            (b':', Some(b':')) => (TokenKind::DoubleColon, 2),
            (b':', _) => (TokenKind::Colon, 1),
            (b'.', _) if rest.starts_with("...") => (TokenKind::Ellipsis, 3),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'~', Some(b'}')) => {
                self.close_template_sequence(2);
                return;
            }
            (b'{', _) => {
                self.braces += 1;
                (TokenKind::OBrace, 1)
            }
            (b'}', _) => {
                if self.return_braces.last() == Some(&self.braces) {
                    self.close_template_sequence(1);
                } else {
                    self.braces -= 1;
                    self.emit(TokenKind::CBrace, 1);
                }
                return;
            }
            (b'"', _) => {
                self.emit(TokenKind::OQuote, 1);
                self.modes.push(Mode::Quoted);
                return;
            }
            (b'[', _) => (TokenKind::OBrack, 1),
            (b']', _) => (TokenKind::CBrack, 1),
            (b'(', _) => (TokenKind::OParen, 1),
            (b')', _) => (TokenKind::CParen, 1),
            (b',', _) => (TokenKind::Comma, 1),
            (b'*', _) => (TokenKind::Star, 1),
            (b'/', _) => (TokenKind::Slash, 1),
            (b'%', _) => (TokenKind::Percent, 1),
            (b'+', _) => (TokenKind::Plus, 1),
            (b'-', _) => (TokenKind::Minus, 1),
            (b'?', _) => (TokenKind::Question, 1),
            (b'&' | b'|' | b'~' | b'^' | b';' | b'`' | b'\'', _) => (TokenKind::Other, 1),
            _ => match ident_len(rest) {
                0 => {
                    self.emit_invalid_char();
                    return;
                }
                len => (TokenKind::Ident, len),
            },
        };
        self.emit(kind, len);
    }

    /// Emits the `}` or `~}` of length `len` that ends a template sequence,
    /// returning to the template around it when the braces balance.
    fn close_template_sequence(&mut self, len: usize) {
        let returns = self.return_braces.last() == Some(&self.braces);
        self.emit(TokenKind::TemplateSeqEnd, len);
        self.braces -= 1;
        if returns {
            self.return_braces.pop();
            self.modes.pop();
        }
    }

    fn begin_heredoc(&mut self, rest: &str) {
        let len = heredoc_intro_len(rest).unwrap_or(rest.len());
        let intro = rest.get(2..len).unwrap_or("");
        let marker = intro
            .strip_prefix('-')
            .unwrap_or(intro)
            .trim_end_matches(['\r', '\n']);
        self.modes.push(Mode::Heredoc {
            marker: marker.to_string(),
            start_of_line: true,
        });
        self.emit(TokenKind::OHeredoc, len);
    }

    /// Emits `${` or `%{` (with an optional `~`) and enters expression mode.
    fn begin_template_sequence(&mut self, kind: TokenKind) {
        let len = if self.rest().get(2..3) == Some("~") {
            3
        } else {
            2
        };
        self.emit(kind, len);
        self.braces += 1;
        self.return_braces.push(self.braces);
        if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
            *start_of_line = false;
        }
        self.modes.push(Mode::Main);
    }

    fn quoted_token(&mut self) {
        let rest = self.rest();
        if rest.starts_with("${") {
            return self.begin_template_sequence(TokenKind::TemplateInterp);
        }
        if rest.starts_with("%{") {
            return self.begin_template_sequence(TokenKind::TemplateControl);
        }
        if rest.starts_with('"') {
            self.emit(TokenKind::CQuote, 1);
            self.modes.pop();
            return;
        }
        if rest.starts_with(['$', '%']) {
            // A lone `$` or `%`, or the escapes `$${` and `%%{`, make a
            // literal token of their own.
            let len = escaped_introducer_len(rest);
            return self.emit(TokenKind::QuotedLit, len);
        }
        if rest.starts_with(['\r', '\n']) {
            let len = rest
                .bytes()
                .take_while(|&b| b == b'\r' || b == b'\n')
                .count();
            return self.emit(TokenKind::QuotedNewline, len);
        }
        let mut len = 0;
        let mut chars = rest.char_indices().peekable();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '\\' => match chars.peek() {
                    Some(&(j, next)) if next != '\r' && next != '\n' => {
                        chars.next();
                        len = j + next.len_utf8();
                    }
                    _ => break,
                },
                '$' | '%' | '"' | '\r' | '\n' => break,
                _ => len = i + ch.len_utf8(),
            }
        }
        if len == 0 {
            self.emit_invalid_char();
        } else {
            self.emit(TokenKind::QuotedLit, len);
        }
    }

    fn heredoc_token(&mut self) {
        let rest = self.rest();
        if rest.starts_with("${") {
            return self.begin_template_sequence(TokenKind::TemplateInterp);
        }
        if rest.starts_with("%{") {
            return self.begin_template_sequence(TokenKind::TemplateControl);
        }
        let literal_len = if rest.starts_with(['$', '%']) {
            escaped_introducer_len(rest)
        } else {
            rest.find(['$', '%', '\r', '\n']).unwrap_or(rest.len())
        };
        let after = rest.get(literal_len..).unwrap_or("");
        let eol_len = if after.starts_with('\n') {
            1
        } else if after.starts_with("\r\n") {
            2
        } else {
            0
        };
        if literal_len + eol_len == 0 {
            // A carriage return not followed by a newline.
            return self.emit_invalid_char();
        }
        if eol_len == 0 {
            if let Some(Mode::Heredoc { start_of_line, .. }) = self.modes.last_mut() {
                *start_of_line = false;
            }
            return self.emit(TokenKind::StringLit, literal_len);
        }
        let line = rest.get(..literal_len).unwrap_or("");
        let Some(Mode::Heredoc {
            marker,
            start_of_line,
        }) = self.modes.last_mut()
        else {
            return;
        };
        if *start_of_line && line.trim() == marker.as_str() {
            // The closing marker and its newline are separate tokens, so the
            // newline still ends the attribute the heredoc belongs to.
            self.modes.pop();
            self.emit(TokenKind::CHeredoc, literal_len);
            self.emit(TokenKind::Newline, eol_len);
        } else {
            *start_of_line = true;
            self.emit(TokenKind::StringLit, literal_len + eol_len);
        }
    }
}

/// Length of a number literal starting with a digit: digits, dots and
/// exponents, never ending in a dot.
fn number_len(bytes: &[u8]) -> usize {
    let mut len = 1;
    let mut pos = 1;
    loop {
        let unit = match bytes.get(pos) {
            Some(b'0'..=b'9') => 1,
            Some(b'.') => {
                pos += 1;
                continue;
            }
            Some(b'e' | b'E') => match (bytes.get(pos + 1), bytes.get(pos + 2)) {
                (Some(b'0'..=b'9'), _) => 2,
                (Some(b'+' | b'-'), Some(b'0'..=b'9')) => 3,
                _ => break,
            },
            _ => break,
        };
        pos += unit;
        len = pos;
    }
    len
}

/// Length of `$`/`%` alone, or of the escapes `$${`/`%%{` with an optional `~`.
fn escaped_introducer_len(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    if bytes.len() >= 3 && bytes[1] == bytes[0] && bytes[2] == b'{' {
        if bytes.get(3) == Some(&b'~') { 4 } else { 3 }
    } else {
        1
    }
}

/// Length of the identifier at the start of `rest`, or 0.
fn ident_len(rest: &str) -> usize {
    let mut len = 0;
    for ch in rest.chars() {
        let fits = if len == 0 {
            is_id_start(ch)
        } else {
            is_id_continue(ch)
        };
        if !fits {
            break;
        }
        len += ch.len_utf8();
    }
    len
}

fn is_id_start(ch: char) -> bool {
    if ch.is_ascii() {
        ch.is_ascii_alphabetic() || ch == '_'
    } else {
        Ident::try_new(ch.to_string()).is_ok()
    }
}

fn is_id_continue(ch: char) -> bool {
    if ch.is_ascii() {
        ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'
    } else {
        Ident::try_new(format!("a{ch}")).is_ok()
    }
}

/// Length of a heredoc introducer such as `<<-EOT\n`, newline included.
fn heredoc_intro_len(rest: &str) -> Option<usize> {
    let after_angles = rest.strip_prefix("<<")?;
    let dash = usize::from(after_angles.starts_with('-'));
    let name = after_angles.get(dash..)?;
    let name_len = ident_len(name);
    if name_len == 0 {
        return None;
    }
    let after_name = name.get(name_len..)?;
    let newline_len = if after_name.starts_with('\n') {
        1
    } else if after_name.starts_with("\r\n") {
        2
    } else {
        return None;
    };
    Some(2 + dash + name_len + newline_len)
}
