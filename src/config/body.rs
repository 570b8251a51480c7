//! Generic HCL bodies lowered with spans: attributes, nested and `dynamic` blocks.

use hcl::edit::Span as _;
use hcl::edit::structure as hs;

use crate::diag::{Diagnostic, Diagnostics, FileId, Span};
use crate::lang::expr::Expr;

/// `name = expr`, with the spans of the name and of the whole attribute.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub expr: Expr,
    pub name_span: Span,
    pub span: Span,
}

/// A nested block: `labels` are its string labels.
#[derive(Clone, Debug)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub kind_span: Span,
    pub span: Span,
}

/// A `dynamic "NAME" { for_each = ..., iterator = ..., content { ... } }` block.
#[derive(Clone, Debug)]
pub struct DynamicBlock {
    pub kind: String,
    pub for_each: Expr,
    pub iterator: String,
    pub content: Body,
    pub span: Span,
}

/// The attributes and blocks of a body, in source order per kind.
#[derive(Clone, Debug, Default)]
pub struct Body {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
    pub dynamic_blocks: Vec<DynamicBlock>,
    pub span: Option<Span>,
}

impl Body {
    /// Lowers an `hcl::edit` body; duplicate attributes are reported.
    pub fn lower(
        body: &hs::Body,
        file: FileId,
        span: Option<Span>,
        diags: &mut Diagnostics,
    ) -> Body {
        let mut out = Body {
            span,
            ..Body::default()
        };
        for structure in body.iter() {
            match structure {
                hs::Structure::Attribute(attr) => {
                    let name = attr.key.value().to_string();
                    let name_span = Span::new(file, attr.key.span().unwrap_or(0..0));
                    if let Some(first) = out.attributes.iter().find(|a| a.name == name) {
                        diags.push(
                            Diagnostic::error(format!("attribute `{name}` is set twice"))
                                .at(Some(name_span), "set again here")
                                .related(first.name_span, "first set here"),
                        );
                        continue;
                    }
                    out.attributes.push(Attribute {
                        name,
                        expr: Expr::lower(&attr.value, file),
                        name_span,
                        span: Span::new(file, attr.span().unwrap_or(0..0)),
                    });
                }
                hs::Structure::Block(block) => {
                    let lowered = Block::lower(block, file, diags);
                    if lowered.kind == "dynamic" {
                        if let Some(d) = DynamicBlock::from_block(lowered, diags) {
                            out.dynamic_blocks.push(d);
                        }
                    } else {
                        out.blocks.push(lowered);
                    }
                }
            }
        }
        out
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }

    /// Reports attributes and blocks not in the allowed lists, naming the allowed ones.
    pub fn check_allowed(
        &self,
        what: &str,
        attributes: &[&str],
        blocks: &[&str],
        diags: &mut Diagnostics,
    ) {
        for attr in &self.attributes {
            if !attributes.contains(&attr.name.as_str()) {
                diags.push(unsupported(
                    "attribute",
                    &attr.name,
                    what,
                    attr.name_span,
                    attributes,
                ));
            }
        }
        for block in &self.blocks {
            if !blocks.contains(&block.kind.as_str()) {
                diags.push(unsupported(
                    "block",
                    &block.kind,
                    what,
                    block.kind_span,
                    blocks,
                ));
            }
        }
    }
}

/// "unknown attribute `x` in what", listing what is supported.
pub fn unsupported(
    kind: &str,
    name: &str,
    what: &str,
    span: Span,
    supported: &[&str],
) -> Diagnostic {
    let list = if supported.is_empty() {
        "none".to_string()
    } else {
        supported
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let suggestion = crate::diag::did_you_mean(name, supported.iter().copied());
    Diagnostic::error(format!("unknown {kind} `{name}` in {what}"))
        .at(Some(span), format!("not a supported {kind} of {what}"))
        .note(format!("supported: {list}"))
        .with_help(suggestion.map(|s| format!("did you mean `{s}`?")))
}

impl Block {
    pub fn lower(block: &hs::Block, file: FileId, diags: &mut Diagnostics) -> Block {
        let span = Span::new(file, block.span().unwrap_or(0..0));
        Block {
            kind: block.ident.value().to_string(),
            labels: block
                .labels
                .iter()
                .map(|l| l.as_str().to_string())
                .collect(),
            body: Body::lower(&block.body, file, Some(span), diags),
            kind_span: Span::new(file, block.ident.span().unwrap_or(0..0)),
            span,
        }
    }

    /// Checks the block has exactly the labels named (for messages) in `names`.
    pub fn expect_labels(&self, names: &[&str], diags: &mut Diagnostics) -> bool {
        if self.labels.len() == names.len() {
            return true;
        }
        let want = if names.is_empty() {
            "no labels".to_string()
        } else {
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(" ")
        };
        diags.push(
            Diagnostic::error(format!("a `{}` block takes {want}", self.kind)).at(
                Some(self.kind_span),
                format!("has {} label(s)", self.labels.len()),
            ),
        );
        false
    }
}

impl DynamicBlock {
    fn from_block(block: Block, diags: &mut Diagnostics) -> Option<DynamicBlock> {
        if !block.expect_labels(&["NAME"], diags) {
            return None;
        }
        let kind = block.labels[0].clone();
        block.body.check_allowed(
            "a `dynamic` block",
            &["for_each", "iterator", "labels"],
            &["content"],
            diags,
        );
        let Some(for_each) = block.body.attribute("for_each") else {
            diags.push(
                Diagnostic::error("a `dynamic` block needs `for_each`")
                    .at(Some(block.kind_span), ""),
            );
            return None;
        };
        let iterator = match block.body.attribute("iterator") {
            Some(attr) => match attr.expr.as_bare_name() {
                Some(name) => name.to_string(),
                None => {
                    diags.push(
                        Diagnostic::error("`iterator` must be a bare name")
                            .at(Some(attr.expr.span), ""),
                    );
                    return None;
                }
            },
            None => kind.clone(),
        };
        let Some(content) = block.body.blocks_of("content").next() else {
            diags.push(
                Diagnostic::error("a `dynamic` block needs a `content` block")
                    .at(Some(block.kind_span), ""),
            );
            return None;
        };
        Some(DynamicBlock {
            kind,
            for_each: for_each.expr.clone(),
            iterator,
            content: content.body.clone(),
            span: block.span,
        })
    }
}
