//! The token rewrites `terraform fmt` makes on top of `hclwrite`'s layout.
//!
//! Terraform walks the body structure and, for every attribute, unwraps a
//! value that is a lone interpolation (`"${var.x}"` becomes `var.x`); for the
//! `type` of a top-level `variable` block it turns legacy quoted types and
//! bare collection keywords into type expressions (`"string"` becomes
//! `string`, `list` becomes `list(any)`); and it rewrites every block label
//! in the quoted form (`resource aws_instance web` gets quotes). These are
//! the only places where yagura's formatter changes more than whitespace,
//! and only because Terraform does.

use super::lexer::{Token, TokenKind};

/// Applies Terraform's rewrites to the tokens of a whole file.
pub(super) fn rewrite(tokens: Vec<Token>) -> Vec<Token> {
    let mut rewriter = Rewriter {
        tokens,
        pos: 0,
        out: Vec::new(),
    };
    let mut path = Vec::new();
    while rewriter.pos < rewriter.tokens.len() {
        rewriter.body(&mut path);
        // A stray closing brace at the top level; keep it and go on.
        rewriter.copy_through(rewriter.pos + 1);
    }
    rewriter.out
}

struct Rewriter {
    tokens: Vec<Token>,
    /// Index of the next token not yet copied to `out`.
    pos: usize,
    out: Vec<Token>,
}

impl Rewriter {
    fn kind_at(&self, index: usize) -> Option<TokenKind> {
        self.tokens.get(index).map(|token| token.kind)
    }

    /// Copies the tokens from `pos` up to, not including, `end`.
    fn copy_through(&mut self, end: usize) {
        let end = end.min(self.tokens.len());
        if let Some(tokens) = self.tokens.get(self.pos..end) {
            self.out.extend_from_slice(tokens);
        }
        self.pos = self.pos.max(end);
    }

    /// Rewrites the items of a body, stopping before the `}` that closes it.
    /// `path` holds the types of the blocks around the body.
    fn body(&mut self, path: &mut Vec<String>) {
        while let Some(kind) = self.kind_at(self.pos) {
            match kind {
                TokenKind::CBrace => return,
                TokenKind::Ident => self.item(path),
                _ => self.copy_through(self.pos + 1),
            }
        }
    }

    fn item(&mut self, path: &mut Vec<String>) {
        // Inline comments are invisible to HCL's parser: `a /* c */ = 1`.
        let mut next = self.pos + 1;
        while self.tokens.get(next).is_some_and(is_inline_comment) {
            next += 1;
        }
        if self.kind_at(next) == Some(TokenKind::Equal) {
            self.attribute(path, next);
        } else {
            self.block(path);
        }
    }

    fn attribute(&mut self, path: &[String], equals: usize) {
        let name = self.tokens[self.pos].text.clone();
        self.copy_through(equals + 1);
        let end = self.expression_end(self.pos);
        // Comments before and after the value are not part of it.
        let mut start = self.pos;
        while start < end && self.tokens[start].kind == TokenKind::Comment {
            start += 1;
        }
        let mut stop = end;
        while stop > start && self.tokens[stop - 1].kind == TokenKind::Comment {
            stop -= 1;
        }
        self.copy_through(start);
        let value = self.tokens[start..stop].to_vec();
        let value = if path == ["variable"] && name == "type" {
            type_expression(value)
        } else {
            unwrap_interpolation(value)
        };
        self.out.extend(value);
        self.pos = stop;
        self.copy_through(end);
    }

    /// Finds where the value starting at `start` ends: at the first newline
    /// or line comment outside brackets, or at the `}` of a one-line block.
    fn expression_end(&self, start: usize) -> usize {
        let mut depth = 0;
        let mut index = start;
        while let Some(token) = self.tokens.get(index) {
            if depth == 0 && (token.ends_line() || token.kind == TokenKind::CBrace) {
                break;
            }
            depth += token.bracket_change();
            if depth < 0 {
                break;
            }
            index += 1;
        }
        index
    }

    fn block(&mut self, path: &mut Vec<String>) {
        let block_type = self.tokens[self.pos].text.clone();
        self.copy_through(self.pos + 1);
        let mut labels: Vec<std::ops::Range<usize>> = Vec::new();
        let mut index = self.pos;
        loop {
            match self.tokens.get(index) {
                Some(token) if is_inline_comment(token) => index += 1,
                Some(token) if token.kind == TokenKind::Ident => {
                    labels.push(index..index + 1);
                    index += 1;
                }
                Some(token) if token.kind == TokenKind::OQuote => {
                    let Some(close) = self.closing_quote(index) else {
                        return;
                    };
                    labels.push(index..close + 1);
                    index = close + 1;
                }
                Some(token) if token.kind == TokenKind::OBrace => break,
                // Not a block after all; the body loop copies what follows.
                _ => return,
            }
        }
        if let Some(last) = labels.last() {
            // Terraform rebuilds the labels, dropping comments between them
            // and any label that is not a plain string.
            let after_labels = last.end;
            for label in &labels {
                if let Some(tokens) = normalized_label(&self.tokens[label.clone()]) {
                    self.out.extend(tokens);
                }
            }
            self.pos = after_labels;
        }
        self.copy_through(index + 1);
        path.push(block_type);
        self.body(path);
        path.pop();
        if self.kind_at(self.pos) == Some(TokenKind::CBrace) {
            self.copy_through(self.pos + 1);
        }
    }

    /// Finds the `"` that closes the quoted string opened at `open`.
    fn closing_quote(&self, open: usize) -> Option<usize> {
        let mut depth = 0;
        for (index, token) in self.tokens.iter().enumerate().skip(open + 1) {
            match token.kind {
                TokenKind::CQuote if depth == 0 => return Some(index),
                TokenKind::Newline if depth == 0 => return None,
                _ => depth += token.bracket_change(),
            }
        }
        None
    }
}

fn is_inline_comment(token: &Token) -> bool {
    token.kind == TokenKind::Comment && !token.ends_line()
}

/// Unwraps a value that is a single interpolation, `"${x}"`, to `x`, adding
/// parentheses when the unwrapped expression spans several lines.
fn unwrap_interpolation(tokens: Vec<Token>) -> Vec<Token> {
    let n = tokens.len();
    if n < 5 {
        return tokens;
    }
    let is_interpolation = tokens[0].kind == TokenKind::OQuote
        && tokens[1].kind == TokenKind::TemplateInterp
        && tokens[n - 2].kind == TokenKind::TemplateSeqEnd
        && tokens[n - 1].kind == TokenKind::CQuote;
    if !is_interpolation {
        return tokens;
    }
    let inside = &tokens[2..n - 2];
    // Only a provably single interpolation unwraps; a nested quoted string
    // may hold its own, as in `"${foo("${bar}")}"`.
    let mut quotes = 0;
    for token in inside {
        match token.kind {
            TokenKind::OQuote => quotes += 1,
            TokenKind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            TokenKind::TemplateInterp | TokenKind::TemplateSeqEnd | TokenKind::QuotedLit => {
                return tokens;
            }
            _ => {}
        }
    }
    let first = inside
        .iter()
        .position(|token| token.kind != TokenKind::Newline)
        .unwrap_or(inside.len());
    let last = inside
        .iter()
        .rposition(|token| token.kind != TokenKind::Newline)
        .map_or(first, |i| i + 1);
    let trimmed = &inside[first..last.max(first)];
    let mut multi_line = false;
    let mut leading_paren = false;
    let mut trailing_paren = false;
    for (i, token) in trimmed.iter().enumerate() {
        if i == 0 && token.kind == TokenKind::OParen {
            leading_paren = true;
        } else if token.kind == TokenKind::Newline {
            multi_line = true;
        } else if i + 1 == trimmed.len() && token.kind == TokenKind::CParen {
            trailing_paren = true;
        }
    }
    if multi_line && !(leading_paren && trailing_paren) {
        // A multi-line conditional would not parse without parentheses.
        let mut wrapped = Vec::with_capacity(trimmed.len() + 2);
        wrapped.push(Token::new(TokenKind::OParen, "("));
        wrapped.extend_from_slice(trimmed);
        wrapped.push(Token::new(TokenKind::CParen, ")"));
        return wrapped;
    }
    trimmed.to_vec()
}

/// Normalises a variable's type: `list`, `map` and `set` get `(any)`, and the
/// quoted types of Terraform 0.11 become `string`, `list(string)` and
/// `map(string)`.
fn type_expression(tokens: Vec<Token>) -> Vec<Token> {
    let keyword = match tokens.as_slice() {
        [keyword] if keyword.kind == TokenKind::Ident => match keyword.text.as_str() {
            "list" | "map" | "set" => keyword.text.clone(),
            _ => return tokens,
        },
        [open, literal, close]
            if open.kind == TokenKind::OQuote
                && literal.kind == TokenKind::QuotedLit
                && close.kind == TokenKind::CQuote =>
        {
            match literal.text.as_str() {
                "string" => return vec![Token::new(TokenKind::Ident, "string")],
                "list" | "map" => {
                    return collection_type(&literal.text, "string");
                }
                _ => return tokens,
            }
        }
        _ => return tokens,
    };
    collection_type(&keyword, "any")
}

fn collection_type(collection: &str, element: &str) -> Vec<Token> {
    vec![
        Token::new(TokenKind::Ident, collection),
        Token::new(TokenKind::OParen, "("),
        Token::new(TokenKind::Ident, element),
        Token::new(TokenKind::CParen, ")"),
    ]
}

/// Returns a label's tokens in quoted form, or `None` when Terraform drops
/// the label because it is not a single literal string.
fn normalized_label(label: &[Token]) -> Option<Vec<Token>> {
    let value = match label {
        [ident] if ident.kind == TokenKind::Ident => ident.text.clone(),
        [open, close] if open.kind == TokenKind::OQuote && close.kind == TokenKind::CQuote => {
            String::new()
        }
        [open, literal, close]
            if open.kind == TokenKind::OQuote
                && literal.kind == TokenKind::QuotedLit
                && close.kind == TokenKind::CQuote =>
        {
            unescape(&literal.text)?
        }
        _ => return None,
    };
    let mut tokens = vec![Token::new(TokenKind::OQuote, "\"")];
    if !value.is_empty() {
        tokens.push(Token::new(TokenKind::QuotedLit, &escape(&value)));
    }
    tokens.push(Token::new(TokenKind::CQuote, "\""));
    Some(tokens)
}

/// Decodes the escapes of a quoted string literal, or `None` if one is invalid.
fn unescape(literal: &str) -> Option<String> {
    let mut value = String::with_capacity(literal.len());
    let mut chars = literal.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                let escaped = match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '"' => '"',
                    '\\' => '\\',
                    'u' => hex_char(&mut chars, 4)?,
                    'U' => hex_char(&mut chars, 8)?,
                    _ => return None,
                };
                value.push(escaped);
            }
            '$' | '%' => {
                value.push(ch);
                // `$${` and `%%{` stand for a literal `${` and `%{`.
                let mut lookahead = chars.clone();
                if lookahead.next() == Some(ch) && lookahead.next() == Some('{') {
                    chars.next();
                }
            }
            _ => value.push(ch),
        }
    }
    Some(value)
}

fn hex_char(chars: &mut impl Iterator<Item = char>, digits: usize) -> Option<char> {
    let hex: String = chars.take(digits).collect();
    if hex.len() != digits {
        return None;
    }
    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)
}

/// Writes `value` as the inside of a quoted string, as `hclwrite` does.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '$' | '%' => {
                escaped.push(ch);
                if chars.peek() == Some(&'{') {
                    escaped.push(ch);
                }
            }
            _ if is_printable(ch) => escaped.push(ch),
            _ if (ch as u32) < 0x10000 => escaped.push_str(&format!("\\u{:04x}", ch as u32)),
            _ => escaped.push_str(&format!("\\U{:08x}", ch as u32)),
        }
    }
    escaped
}

/// Approximates Go's `unicode.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space, but no other spaces, controls, format
/// characters or private-use characters.
fn is_printable(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    let format_or_private = matches!(ch,
        '\u{00AD}'
        | '\u{0600}'..='\u{0605}'
        | '\u{061C}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E000}'..='\u{F8FF}'
        | '\u{E0001}'..='\u{E007F}'
        | '\u{F0000}'..='\u{10FFFF}'
    );
    !(ch.is_control() || ch.is_whitespace() || format_or_private)
}
