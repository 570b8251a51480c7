//! Sets the spaces before every token the way `hclwrite`'s `format` does.
//!
//! Three passes over the lines of a token sequence: indentation by bracket
//! nesting, spacing between neighbouring tokens, then vertical alignment of
//! `=` and of trailing comments across consecutive lines. Only
//! `Token::spaces_before` changes here; no token is added, removed or edited.

use std::ops::Range;

use super::lexer::{Token, TokenKind};

/// One line split into the cells that alignment works on: everything up to an
/// attribute's `=`, the `=` and its value, and a trailing line comment.
struct Line {
    lead: Range<usize>,
    assign: Option<Range<usize>>,
    comment: Option<Range<usize>>,
}

/// Rewrites `spaces_before` of every token to the canonical layout.
pub(super) fn layout(tokens: &mut [Token]) {
    let lines = split_lines(tokens);
    indent(tokens, &lines);
    space(tokens, &lines);
    align(tokens, &lines);
}

fn split_lines(tokens: &[Token]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.ends_line() {
            lines.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < tokens.len() {
        lines.push(start..tokens.len());
    }
    lines
        .into_iter()
        .map(|range| split_cells(tokens, range))
        .collect()
}

fn split_cells(tokens: &[Token], mut lead: Range<usize>) -> Line {
    let mut comment = None;
    if lead.len() > 1 && tokens[lead.end - 1].kind == TokenKind::Comment {
        comment = Some(lead.end - 1..lead.end);
        lead.end -= 1;
    }
    let mut assign = None;
    let equals = lead
        .clone()
        .skip(1)
        .find(|&i| tokens[i].kind == TokenKind::Equal);
    if let Some(equals) = equals {
        // Only a value that closes every bracket it opens counts as an
        // assignment; `a = {` starts a multi-line value instead.
        if net_brackets(&tokens[equals..lead.end]) == 0 {
            assign = Some(equals..lead.end);
            lead.end = equals;
        }
    }
    Line {
        lead,
        assign,
        comment,
    }
}

fn net_brackets(tokens: &[Token]) -> i32 {
    tokens.iter().map(Token::bracket_change).sum()
}

fn indent(tokens: &mut [Token], lines: &[Line]) {
    // Each entry is the number of brackets a line opened net; a closing line
    // pops entries so that unbalanced lines cannot skew later indentation.
    let mut indents: Vec<i32> = Vec::new();
    for line in lines {
        if line.lead.is_empty() {
            continue;
        }
        let first = line.lead.start;
        if tokens[first].kind == TokenKind::Newline {
            tokens[first].spaces_before = 0;
            continue;
        }
        let mut net = 0;
        for token in &tokens[line.lead.clone()] {
            net += token.bracket_change();
            if token.kind == TokenKind::OHeredoc {
                break;
            }
        }
        if let Some(assign) = &line.assign {
            net += net_brackets(&tokens[assign.clone()]);
        }
        if net > 0 {
            tokens[first].spaces_before = 2 * indents.len();
            indents.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = indents.last_mut() else {
                break;
            };
            if closed >= *top {
                closed -= *top;
                indents.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        tokens[first].spaces_before = 2 * indents.len();
    }
}

fn space(tokens: &mut [Token], lines: &[Line]) {
    for line in lines {
        space_cell(tokens, line.lead.clone());
        if let Some(assign) = &line.assign {
            // The `=` is always separated from what it assigns to.
            tokens[assign.start].spaces_before = 1;
            space_cell(tokens, assign.clone());
        }
    }
}

fn space_cell(tokens: &mut [Token], cell: Range<usize>) {
    for i in cell.start..cell.end.saturating_sub(1) {
        let before = if i > cell.start {
            tokens[i - 1].kind
        } else {
            TokenKind::Nil
        };
        let spaced = space_after(&tokens[i], before, &tokens[i + 1]);
        tokens[i + 1].spaces_before = usize::from(spaced);
    }
}

/// Returns whether `subject` is followed by a space when `before` precedes it
/// and `after` follows it, mirroring `hclwrite`'s `spaceAfterToken`.
fn space_after(subject: &Token, before: TokenKind, after: &Token) -> bool {
    use TokenKind as K;
    let (s, a) = (subject.kind, after.kind);
    match () {
        _ if a == K::Newline || a == K::Nil => false,
        _ if s == K::Ident && a == K::OParen => false,
        _ if (s == K::Ident && a == K::DoubleColon) || (s == K::DoubleColon && a == K::Ident) => {
            false
        }
        _ if s == K::Dot || a == K::Dot => false,
        _ if a == K::Comma || a == K::Ellipsis => false,
        _ if s == K::Comma => true,
        _ if matches!(s, K::QuotedLit | K::StringLit | K::OQuote | K::OHeredoc)
            || matches!(a, K::QuotedLit | K::StringLit | K::CQuote | K::CHeredoc) =>
        {
            // Templates keep their text exactly.
            false
        }
        // `in` after an identifier is the keyword of a `for` expression, not
        // a reference indexed by the tuple after it: `[for x in [foo]: x]`.
        _ if s == K::Ident && subject.text == "in" && before == K::Ident => true,
        _ if a == K::OBrack
            && (s == K::Ident || s == K::NumberLit || subject.bracket_change() < 0) =>
        {
            false
        }
        _ if s == K::Bang => false,
        _ if s == K::Minus => !is_negation_context(before),
        _ if s == K::OBrace || a == K::CBrace => {
            // Braces keep a space inside, except in an empty pair: `foo {}`.
            !(s == K::OBrace && a == K::CBrace)
        }
        _ if matches!(s, K::TemplateInterp | K::TemplateControl) && a == K::OBrace => true,
        _ if s == K::CBrace && a == K::TemplateSeqEnd => true,
        _ if s == K::TemplateSeqEnd && matches!(a, K::TemplateInterp | K::TemplateControl) => false,
        _ if subject.bracket_change() > 0 => false,
        _ if after.bracket_change() < 0 => false,
        _ => true,
    }
}

/// Returns whether a minus after a token of kind `before` negates rather
/// than subtracts, judged by whether `before` can end an operand.
fn is_negation_context(before: TokenKind) -> bool {
    use TokenKind as K;
    matches!(
        before,
        K::Nil
            | K::OParen
            | K::OBrace
            | K::OBrack
            | K::Equal
            | K::Colon
            | K::Comma
            | K::Question
            | K::Plus
            | K::Star
            | K::Slash
            | K::Percent
            | K::Minus
            | K::EqualOp
            | K::NotEqual
            | K::GreaterThan
            | K::GreaterThanEq
            | K::LessThan
            | K::LessThanEq
            | K::And
            | K::Or
            | K::Bang
    )
}

fn align(tokens: &mut [Token], lines: &[Line]) {
    // `=` first, since moving it also moves any comment after the value.
    align_cells(tokens, lines, |line| {
        let assign = line.assign.as_ref()?;
        Some((line.lead.clone(), assign.start))
    });
    align_cells(tokens, lines, |line| {
        let comment = line.comment.as_ref()?;
        let before = line.lead.start..line.assign.as_ref().map_or(line.lead.end, |a| a.end);
        Some((before, comment.start))
    });
}

/// Aligns, across each run of consecutive lines for which `cell` gives the
/// tokens before a cell and the cell's first token, that first token one
/// column after the widest run of tokens before it.
fn align_cells(
    tokens: &mut [Token],
    lines: &[Line],
    cell: impl Fn(&Line) -> Option<(Range<usize>, usize)>,
) {
    let mut chain: Vec<(usize, usize)> = Vec::new();
    for line in lines.iter().map(Some).chain([None]) {
        match line.and_then(&cell) {
            Some((before, first)) => chain.push((columns(&tokens[before]), first)),
            None => {
                let widest = chain.iter().map(|&(width, _)| width).max().unwrap_or(0);
                for &(width, first) in &chain {
                    tokens[first].spaces_before = widest - width + 1;
                }
                chain.clear();
            }
        }
    }
}

/// Counts the columns the tokens take, one per user-perceived character.
fn columns(tokens: &[Token]) -> usize {
    tokens
        .iter()
        .map(|token| token.spaces_before + grapheme_count(&token.text))
        .sum()
}

/// Approximates the number of grapheme clusters in `text`.
///
/// `hclwrite` counts extended grapheme clusters; without Unicode's tables we
/// count characters, folding in the common extenders: combining and spacing
/// marks, variation selectors, Hangul vowel and final jamo, emoji modifiers
/// and zero-width-joined emoji, `\r\n`, and pairs of flag letters.
fn grapheme_count(text: &str) -> usize {
    let mut count = 0;
    let mut previous: Option<char> = None;
    let mut regional_run = 0;
    for ch in text.chars() {
        let regional = is_regional_indicator(ch);
        let extends = is_grapheme_extender(ch)
            || (ch == '\n' && previous == Some('\r'))
            || (previous == Some('\u{200D}') && is_pictographic(ch))
            || (regional && regional_run % 2 == 1);
        regional_run = if regional { regional_run + 1 } else { 0 };
        if !extends {
            count += 1;
        }
        previous = Some(ch);
    }
    count
}

fn is_regional_indicator(ch: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&ch)
}

fn is_pictographic(ch: char) -> bool {
    matches!(ch, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}')
}

fn is_grapheme_extender(ch: char) -> bool {
    let code = u32::from(ch);
    // The Brahmic scripts from Devanagari to Malayalam share one layout: their
    // vowel signs and other marks sit at the same offsets of each block.
    if (0x0900..0x0D80).contains(&code) {
        let offset = code % 0x80;
        return matches!(offset, 0x00..=0x03 | 0x3A..=0x4D | 0x51..=0x57 | 0x62..=0x63)
            && !matches!(offset, 0x3D);
    }
    matches!(ch,
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{0591}'..='\u{05BD}'
        | '\u{0610}'..='\u{061A}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0DCA}'..='\u{0DDF}'
        | '\u{0E31}'
        | '\u{0E34}'..='\u{0E3A}'
        | '\u{0E47}'..='\u{0E4E}'
        | '\u{1160}'..='\u{11FF}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{302A}'..='\u{302F}'
        | '\u{3099}'..='\u{309A}'
        | '\u{D7B0}'..='\u{D7FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}'
    )
}
