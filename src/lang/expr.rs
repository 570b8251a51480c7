//! The expression tree the evaluator walks, lowered from `hcl::edit` with spans.
//!
//! Lowering keeps only what evaluation needs (no decor), applies template strip
//! markers once, and gives every node a `Span` so that errors point at the source.

use hcl::edit::expr as hx;
use hcl::edit::template as ht;
use hcl::edit::{Decorated, Span as _};

use super::value::{Number, Value};
use crate::diag::{FileId, Span};

/// An expression with the place it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    Template(Vec<TemplatePart>),
    Tuple(Vec<Expr>),
    Object(Vec<(ObjectKey, Expr)>),
    /// A root name: `var`, `local`, `each`, `count`, a resource type, a for variable.
    Var(String),
    GetAttr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    /// `source[*].rest`: `each` is evaluated for every element with `SplatItem` bound to it.
    Splat {
        source: Box<Expr>,
        each: Box<Expr>,
    },
    SplatItem,
    Call {
        name: String,
        args: Vec<Expr>,
        expand_final: bool,
    },
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    For(Box<ForExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ObjectKey {
    /// A bare identifier, which is a literal key.
    Name(String),
    Expr(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Eq,
    NotEq,
    LessEq,
    GreaterEq,
    Less,
    Greater,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: Expr,
    /// Present for the object form `{ for k, v in x : key => value }`.
    pub key_expr: Option<Expr>,
    pub value_expr: Expr,
    pub cond: Option<Expr>,
    /// `...` after the value: group values with the same key into tuples.
    pub grouping: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Interp(Expr),
    If {
        cond: Expr,
        then: Vec<TemplatePart>,
        otherwise: Vec<TemplatePart>,
    },
    For {
        key_var: Option<String>,
        value_var: String,
        collection: Expr,
        body: Vec<TemplatePart>,
    },
}

/// A static reference found in an expression: a root name and the attribute
/// names that follow it, up to the first dynamic step.
#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub root: String,
    pub attrs: Vec<String>,
    pub span: Span,
}

impl Expr {
    /// Lowers an `hcl::edit` expression parsed from `file`.
    pub fn lower(expr: &hx::Expression, file: FileId) -> Expr {
        Lowerer { file }.expr(expr)
    }

    /// Lowers the elements of a standalone template (a `templatefile` source).
    pub fn lower_template(elements: &[&ht::Element], file: FileId) -> Expr {
        let lowerer = Lowerer { file };
        Expr {
            kind: ExprKind::Template(lowerer.template(elements)),
            span: Span::new(file, 0..0),
        }
    }

    /// Collects the references this expression makes, skipping names bound by
    /// `for` expressions and template `for` directives inside it.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        collect_refs(self, &mut Vec::new(), &mut out);
        out
    }

    /// A literal string value, if the expression is one (used for `source`, `type` and such).
    pub fn as_literal_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Literal(Value::String(s)) => Some(s),
            ExprKind::Template(parts) => match parts.as_slice() {
                [TemplatePart::Literal(s)] => Some(s),
                [] => Some(""),
                _ => None,
            },
            _ => None,
        }
    }

    /// The root name when the expression is a bare identifier (`string`, `ignore_changes` items).
    pub fn as_bare_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Var(name) => Some(name),
            _ => None,
        }
    }

    /// Splits a traversal into its root name and the static attribute names after it.
    pub fn as_static_traversal(&self) -> Option<(String, Vec<String>)> {
        match &self.kind {
            ExprKind::Var(name) => Some((name.clone(), Vec::new())),
            ExprKind::GetAttr(inner, attr) => {
                let (root, mut attrs) = inner.as_static_traversal()?;
                attrs.push(attr.clone());
                Some((root, attrs))
            }
            _ => None,
        }
    }
}

struct Lowerer {
    file: FileId,
}

impl Lowerer {
    fn span(&self, range: Option<std::ops::Range<usize>>) -> Span {
        Span::new(self.file, range.unwrap_or(0..0))
    }

    fn expr(&self, expr: &hx::Expression) -> Expr {
        let span = self.span(expr.span());
        let kind = match expr {
            hx::Expression::Null(_) => ExprKind::Literal(Value::Null),
            hx::Expression::Bool(b) => ExprKind::Literal(Value::Bool(*b.value())),
            hx::Expression::Number(n) => ExprKind::Literal(Value::Number(lower_number(n.value()))),
            hx::Expression::String(s) => ExprKind::Literal(Value::String(s.value().clone())),
            hx::Expression::Array(array) => {
                ExprKind::Tuple(array.iter().map(|e| self.expr(e)).collect())
            }
            hx::Expression::Object(object) => ExprKind::Object(
                object
                    .iter()
                    .map(|(key, value)| {
                        let key = match key {
                            hx::ObjectKey::Ident(ident) => {
                                ObjectKey::Name(ident.value().to_string())
                            }
                            hx::ObjectKey::Expression(e) => ObjectKey::Expr(self.expr(e)),
                        };
                        (key, self.expr(value.expr()))
                    })
                    .collect(),
            ),
            hx::Expression::StringTemplate(template) => {
                let elements: Vec<&ht::Element> = template.iter().collect();
                ExprKind::Template(self.template(&elements))
            }
            hx::Expression::HeredocTemplate(heredoc) => {
                let elements: Vec<&ht::Element> = heredoc.template.iter().collect();
                ExprKind::Template(self.template(&elements))
            }
            hx::Expression::Parenthesis(p) => return self.expr(p.inner()),
            hx::Expression::Variable(ident) => ExprKind::Var(ident.value().to_string()),
            hx::Expression::Conditional(c) => ExprKind::Conditional(
                Box::new(self.expr(&c.cond_expr)),
                Box::new(self.expr(&c.true_expr)),
                Box::new(self.expr(&c.false_expr)),
            ),
            hx::Expression::FuncCall(call) => {
                let name = std::iter::once(call.name.name.value().to_string())
                    .chain(call.name.namespace.iter().map(|n| n.value().to_string()))
                    .collect::<Vec<_>>();
                // Namespaced calls (`provider::x::f`) keep their full name.
                let name = if call.name.namespace.is_empty() {
                    name[0].clone()
                } else {
                    let mut parts: Vec<String> = call
                        .name
                        .namespace
                        .iter()
                        .map(|n| n.value().to_string())
                        .collect();
                    parts.push(call.name.name.value().to_string());
                    parts.join("::")
                };
                ExprKind::Call {
                    name,
                    args: call.args.iter().map(|a| self.expr(a)).collect(),
                    expand_final: call.args.expand_final(),
                }
            }
            hx::Expression::Traversal(traversal) => return self.traversal(traversal, span),
            hx::Expression::UnaryOp(op) => ExprKind::Unary(
                match op.operator.value() {
                    hx::UnaryOperator::Neg => UnaryOp::Neg,
                    hx::UnaryOperator::Not => UnaryOp::Not,
                },
                Box::new(self.expr(&op.expr)),
            ),
            hx::Expression::BinaryOp(op) => ExprKind::Binary(
                lower_binary(*op.operator.value()),
                Box::new(self.expr(&op.lhs_expr)),
                Box::new(self.expr(&op.rhs_expr)),
            ),
            hx::Expression::ForExpr(f) => ExprKind::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.value().to_string()),
                value_var: f.intro.value_var.value().to_string(),
                collection: self.expr(&f.intro.collection_expr),
                key_expr: f.key_expr.as_ref().map(|k| self.expr(k)),
                value_expr: self.expr(&f.value_expr),
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr)),
                grouping: f.grouping,
            })),
        };
        Expr { kind, span }
    }

    fn traversal(&self, traversal: &hx::Traversal, span: Span) -> Expr {
        let root = self.expr(&traversal.expr);
        let ops: Vec<&hx::TraversalOperator> =
            traversal.operators.iter().map(Decorated::value).collect();
        let op_spans: Vec<Span> = traversal
            .operators
            .iter()
            .map(|o| self.span(o.span()))
            .collect();
        self.apply_ops(root, &ops, &op_spans, span.start)
    }

    /// Applies traversal operators to `base`; a splat consumes the operators it governs.
    fn apply_ops(
        &self,
        mut base: Expr,
        ops: &[&hx::TraversalOperator],
        spans: &[Span],
        start: u32,
    ) -> Expr {
        let mut i = 0;
        while i < ops.len() {
            let op_span = spans[i];
            let span = Span {
                file: self.file,
                start,
                end: op_span.end.max(base.span.end),
            };
            match ops[i] {
                hx::TraversalOperator::GetAttr(ident) => {
                    base = Expr {
                        kind: ExprKind::GetAttr(Box::new(base), ident.value().to_string()),
                        span,
                    };
                }
                hx::TraversalOperator::Index(index) => {
                    base = Expr {
                        kind: ExprKind::Index(Box::new(base), Box::new(self.expr(index))),
                        span,
                    };
                }
                hx::TraversalOperator::LegacyIndex(n) => {
                    let index = Expr {
                        kind: ExprKind::Literal(Value::int(*n.value() as i64)),
                        span: op_span,
                    };
                    base = Expr {
                        kind: ExprKind::Index(Box::new(base), Box::new(index)),
                        span,
                    };
                }
                hx::TraversalOperator::AttrSplat(_) | hx::TraversalOperator::FullSplat(_) => {
                    let full = matches!(ops[i], hx::TraversalOperator::FullSplat(_));
                    // An attribute splat governs the attribute accesses after it; a
                    // full splat governs every operator after it.
                    let mut end = i + 1;
                    while end < ops.len()
                        && (full || matches!(ops[end], hx::TraversalOperator::GetAttr(_)))
                    {
                        end += 1;
                    }
                    let item = Expr {
                        kind: ExprKind::SplatItem,
                        span: op_span,
                    };
                    let each =
                        self.apply_ops(item, &ops[i + 1..end], &spans[i + 1..end], op_span.start);
                    let end_span = spans
                        .get(end.saturating_sub(1))
                        .map_or(op_span.end, |s| s.end);
                    base = Expr {
                        kind: ExprKind::Splat {
                            source: Box::new(base),
                            each: Box::new(each),
                        },
                        span: Span {
                            file: self.file,
                            start,
                            end: end_span,
                        },
                    };
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        base
    }

    /// Lowers template elements, applying the `~` strip markers to adjacent literals.
    fn template(&self, elements: &[&ht::Element]) -> Vec<TemplatePart> {
        let mut parts: Vec<TemplatePart> = Vec::new();
        let mut strip_next = false;
        for element in elements {
            match element {
                ht::Element::Literal(literal) => {
                    let text: &str = literal.as_str();
                    let text = if strip_next { text.trim_start() } else { text };
                    strip_next = false;
                    parts.push(TemplatePart::Literal(text.to_string()));
                }
                ht::Element::Interpolation(interp) => {
                    if interp.strip.strip_start() {
                        trim_last_literal(&mut parts);
                    }
                    strip_next = interp.strip.strip_end();
                    parts.push(TemplatePart::Interp(self.expr(&interp.expr)));
                }
                ht::Element::Directive(directive) => match directive.as_ref() {
                    ht::Directive::If(d) => {
                        if d.if_expr.strip.strip_start() {
                            trim_last_literal(&mut parts);
                        }
                        let mut then =
                            self.nested(&d.if_expr.template, d.if_expr.strip.strip_end());
                        let (mut otherwise, before_end) = match &d.else_expr {
                            Some(e) => {
                                if e.strip.strip_start() {
                                    trim_last_literal(&mut then);
                                }
                                (self.nested(&e.template, e.strip.strip_end()), true)
                            }
                            None => (Vec::new(), false),
                        };
                        if d.endif_expr.strip.strip_start() {
                            if before_end {
                                trim_last_literal(&mut otherwise);
                            } else {
                                trim_last_literal(&mut then);
                            }
                        }
                        strip_next = d.endif_expr.strip.strip_end();
                        let cond = self.expr(&d.if_expr.cond_expr);
                        parts.push(TemplatePart::If {
                            cond,
                            then,
                            otherwise,
                        });
                    }
                    ht::Directive::For(d) => {
                        if d.for_expr.strip.strip_start() {
                            trim_last_literal(&mut parts);
                        }
                        let mut body =
                            self.nested(&d.for_expr.template, d.for_expr.strip.strip_end());
                        if d.endfor_expr.strip.strip_start() {
                            trim_last_literal(&mut body);
                        }
                        strip_next = d.endfor_expr.strip.strip_end();
                        parts.push(TemplatePart::For {
                            key_var: d.for_expr.key_var.as_ref().map(|k| k.value().to_string()),
                            value_var: d.for_expr.value_var.value().to_string(),
                            collection: self.expr(&d.for_expr.collection_expr),
                            body,
                        });
                    }
                },
            }
        }
        parts
    }

    fn nested(&self, template: &ht::Template, strip_first: bool) -> Vec<TemplatePart> {
        let elements: Vec<&ht::Element> = template.iter().collect();
        let mut parts = self.template(&elements);
        if strip_first && let Some(TemplatePart::Literal(text)) = parts.first_mut() {
            *text = text.trim_start().to_string();
        }
        parts
    }
}

fn trim_last_literal(parts: &mut [TemplatePart]) {
    if let Some(TemplatePart::Literal(text)) = parts.last_mut() {
        *text = text.trim_end().to_string();
    }
}

fn lower_number(n: &hcl::Number) -> Number {
    if let Some(i) = n.as_i64() {
        Number::Int(i)
    } else {
        Number::from_f64(n.as_f64().unwrap_or(f64::NAN))
    }
}

fn lower_binary(op: hx::BinaryOperator) -> BinaryOp {
    use hx::BinaryOperator as B;
    match op {
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::LessEq => BinaryOp::LessEq,
        B::GreaterEq => BinaryOp::GreaterEq,
        B::Less => BinaryOp::Less,
        B::Greater => BinaryOp::Greater,
        B::Plus => BinaryOp::Plus,
        B::Minus => BinaryOp::Minus,
        B::Mul => BinaryOp::Mul,
        B::Div => BinaryOp::Div,
        B::Mod => BinaryOp::Mod,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
    }
}

fn collect_refs(expr: &Expr, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    if let Some((root, attrs)) = expr.as_static_traversal() {
        if !bound.contains(&root) {
            out.push(Reference {
                root,
                attrs,
                span: expr.span,
            });
        }
        return;
    }
    match &expr.kind {
        ExprKind::Literal(_) | ExprKind::SplatItem | ExprKind::Var(_) => {}
        ExprKind::Template(parts) => collect_template_refs(parts, bound, out),
        ExprKind::Tuple(items) => items.iter().for_each(|e| collect_refs(e, bound, out)),
        ExprKind::Object(items) => {
            for (key, value) in items {
                if let ObjectKey::Expr(k) = key {
                    collect_refs(k, bound, out);
                }
                collect_refs(value, bound, out);
            }
        }
        ExprKind::GetAttr(inner, _) => collect_refs(inner, bound, out),
        ExprKind::Index(inner, index) => {
            collect_refs(inner, bound, out);
            collect_refs(index, bound, out);
        }
        ExprKind::Splat { source, each } => {
            collect_refs(source, bound, out);
            collect_refs(each, bound, out);
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|e| collect_refs(e, bound, out)),
        ExprKind::Conditional(c, t, f) => {
            collect_refs(c, bound, out);
            collect_refs(t, bound, out);
            collect_refs(f, bound, out);
        }
        ExprKind::Unary(_, e) => collect_refs(e, bound, out),
        ExprKind::Binary(_, l, r) => {
            collect_refs(l, bound, out);
            collect_refs(r, bound, out);
        }
        ExprKind::For(f) => {
            collect_refs(&f.collection, bound, out);
            let n = bound.len();
            bound.extend(f.key_var.iter().cloned());
            bound.push(f.value_var.clone());
            if let Some(k) = &f.key_expr {
                collect_refs(k, bound, out);
            }
            collect_refs(&f.value_expr, bound, out);
            if let Some(c) = &f.cond {
                collect_refs(c, bound, out);
            }
            bound.truncate(n);
        }
    }
}

fn collect_template_refs(
    parts: &[TemplatePart],
    bound: &mut Vec<String>,
    out: &mut Vec<Reference>,
) {
    for part in parts {
        match part {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => collect_refs(e, bound, out),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                collect_refs(cond, bound, out);
                collect_template_refs(then, bound, out);
                collect_template_refs(otherwise, bound, out);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                collect_refs(collection, bound, out);
                let n = bound.len();
                bound.extend(key_var.iter().cloned());
                bound.push(value_var.clone());
                collect_template_refs(body, bound, out);
                bound.truncate(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<String> {
        let parsed = hcl::edit::parser::parse_expr(src).expect("test input parses");
        Expr::lower(&parsed, FileId(0))
            .references()
            .into_iter()
            .map(|r| {
                std::iter::once(r.root)
                    .chain(r.attrs)
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    #[test]
    fn references_stop_at_dynamic_steps() {
        assert_eq!(
            refs("google_project.p.project_id"),
            ["google_project.p.project_id"]
        );
        assert_eq!(
            refs("kubernetes_namespace_v1.ns.metadata[0].name"),
            ["kubernetes_namespace_v1.ns.metadata"]
        );
        assert_eq!(refs("module.db[each.key].id"), ["module.db", "each.key"]);
    }

    #[test]
    fn for_variables_are_not_references() {
        assert_eq!(
            refs("[for s in var.list : upper(s.name) if s.on]"),
            ["var.list"]
        );
        assert_eq!(
            refs("\"%{for x in local.xs}${x}${var.sep}%{endfor}\""),
            ["local.xs", "var.sep"]
        );
    }

    #[test]
    fn splats_reference_their_source() {
        assert_eq!(
            refs("google_service_account.sa[*].email"),
            ["google_service_account.sa"]
        );
    }

    #[test]
    fn spans_point_into_the_source() {
        let src = "1 + var.count";
        let parsed = hcl::edit::parser::parse_expr(src).expect("test input parses");
        let r = &Expr::lower(&parsed, FileId(0)).references()[0];
        assert_eq!(&src[r.span.range()], "var.count");
    }
}
