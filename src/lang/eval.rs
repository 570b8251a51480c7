//! Evaluates expressions against a scope: operators, templates, `for`
//! expressions, splats, function calls, unknown values and sensitive marks.
//!
//! Invariant: evaluation is pure. It reads the scope it is given and, through
//! `file` and `templatefile`, files below the module directory; nothing else.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use super::expr::{BinaryOp, Expr, ExprKind, ForExpr, ObjectKey, TemplatePart, UnaryOp};
use super::functions::{self, FuncContext, FuncError};
use super::types::{self, Type};
use super::value::{Number, Value};
use crate::diag::{Diagnostic, FileId, Span};

/// Resolves the root names an expression may use (`var`, `local`, a resource type, ...).
pub trait Scope {
    fn resolve(&self, name: &str) -> Option<Cow<'_, Value>>;
}

/// A scope with no names, for `console` and literal-only contexts.
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn resolve(&self, _name: &str) -> Option<Cow<'_, Value>> {
        None
    }
}

/// A scope backed by a map of root names, for templates and tests.
pub struct MapScope(pub BTreeMap<String, Value>);

impl Scope for MapScope {
    fn resolve(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.0.get(name).map(Cow::Borrowed)
    }
}

pub type EvalResult = Result<Value, Diagnostic>;

/// Walks expressions; holds the names bound by `for` expressions while it does.
pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    base_dir: &'a Path,
    bound: Vec<(String, Value)>,
    splat_items: Vec<Value>,
}

impl<'a> Evaluator<'a> {
    pub fn new(scope: &'a dyn Scope, base_dir: &'a Path) -> Evaluator<'a> {
        Evaluator {
            scope,
            base_dir,
            bound: Vec::new(),
            splat_items: Vec::new(),
        }
    }

    /// Binds a name for the expressions evaluated until `pop_binding` (a `dynamic` block's iterator).
    pub fn push_binding(&mut self, name: &str, value: Value) {
        self.bound.push((name.to_string(), value));
    }

    pub fn pop_binding(&mut self) {
        self.bound.pop();
    }

    pub fn eval(&mut self, expr: &Expr) -> EvalResult {
        match &expr.kind {
            ExprKind::Literal(v) => Ok(v.clone()),
            ExprKind::Var(_) | ExprKind::GetAttr(..) | ExprKind::Index(..) => {
                self.eval_traversal(expr).map(Cow::into_owned)
            }
            ExprKind::Template(parts) => self.eval_template(parts),
            ExprKind::Tuple(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(Value::Tuple(out))
            }
            ExprKind::Object(items) => {
                let mut out = BTreeMap::new();
                for (key, value) in items {
                    let key = match key {
                        ObjectKey::Name(name) => name.clone(),
                        ObjectKey::Expr(k) => {
                            let kv = self.eval(k)?;
                            if kv.is_unknown() {
                                return Ok(Value::Unknown);
                            }
                            match types::convert(kv, &Type::String) {
                                Ok(Value::String(s)) => s,
                                Ok(Value::Sensitive(_)) => {
                                    return Err(error(
                                        k.span,
                                        "sensitive values cannot be object keys",
                                    ));
                                }
                                _ => return Err(error(k.span, "object keys must be strings")),
                            }
                        }
                    };
                    let value = self.eval(value)?;
                    out.insert(key, value);
                }
                Ok(Value::Object(out))
            }
            ExprKind::SplatItem => self
                .splat_items
                .last()
                .cloned()
                .ok_or_else(|| error(expr.span, "splat item outside a splat")),
            ExprKind::Splat { source, each } => self.eval_splat(source, each),
            ExprKind::Call {
                name,
                args,
                expand_final,
            } => self.eval_call(name, args, *expand_final, expr.span),
            ExprKind::Conditional(cond, then, otherwise) => {
                let c = self.eval(cond)?;
                let (c, marked) = c.unmark();
                let result = match c {
                    Value::Unknown => Ok(Value::Unknown),
                    Value::Null => Err(error(cond.span, "the condition value is null")),
                    other => match types::convert(other, &Type::Bool) {
                        Ok(Value::Bool(true)) => self.eval_branch(then, otherwise),
                        Ok(Value::Bool(false)) => self.eval_branch(otherwise, then),
                        _ => Err(error(cond.span, "the condition must be a bool")),
                    },
                }?;
                Ok(mark_if(result, marked))
            }
            ExprKind::Unary(op, operand) => {
                let v = self.eval(operand)?;
                let (v, marked) = v.unmark();
                let result = match (op, v) {
                    (_, Value::Unknown) => Value::Unknown,
                    (UnaryOp::Neg, v) => match types::convert(v, &Type::Number) {
                        Ok(Value::Number(Number::Int(i))) => match i.checked_neg() {
                            Some(n) => Value::int(n),
                            None => Value::float(-(i as f64)),
                        },
                        Ok(Value::Number(n)) => Value::float(-n.as_f64()),
                        _ => {
                            return Err(error(
                                operand.span,
                                "unsuitable value for unary operator: a number is required",
                            ));
                        }
                    },
                    (UnaryOp::Not, v) => match types::convert(v, &Type::Bool) {
                        Ok(Value::Bool(b)) => Value::Bool(!b),
                        _ => {
                            return Err(error(
                                operand.span,
                                "unsuitable value for unary operator: a bool is required",
                            ));
                        }
                    },
                };
                Ok(mark_if(result, marked))
            }
            ExprKind::Binary(op, lhs, rhs) => self.eval_binary(*op, lhs, rhs, expr.span),
            ExprKind::For(f) => self.eval_for(f, expr.span),
        }
    }

    /// Evaluates the chosen branch of a conditional and gives it the type both
    /// branches share, as Terraform does (`c ? [1] : [2, 3]` is a list). Errors in
    /// the other branch do not matter, as in Terraform.
    fn eval_branch(&mut self, chosen: &Expr, other: &Expr) -> EvalResult {
        let value = self.eval(chosen)?;
        let Ok(other_value) = self.eval(other) else {
            return Ok(value);
        };
        if value.contains_unknown() || other_value.contains_unknown() {
            return Ok(value);
        }
        let (value, marked) = value.unmark();
        let (other_value, _) = other_value.unmark();
        match types::unify(&[types::type_of(&value), types::type_of(&other_value)]) {
            Some(ty) => Ok(mark_if(
                types::convert(value.clone(), &ty).unwrap_or(value),
                marked,
            )),
            None => Err(error(
                chosen.span.to(other.span),
                format!(
                    "inconsistent conditional result types: the true and false results are {} and {}, which have no common type",
                    value.type_name(),
                    other_value.type_name()
                ),
            )),
        }
    }

    /// Evaluates references without copying what they point at until the end.
    fn eval_traversal(&mut self, expr: &Expr) -> Result<Cow<'a, Value>, Diagnostic> {
        match &expr.kind {
            ExprKind::Var(name) => {
                if let Some((_, v)) = self.bound.iter().rev().find(|(n, _)| n == name) {
                    return Ok(Cow::Owned(v.clone()));
                }
                self.scope
                    .resolve(name)
                    .ok_or_else(|| error(expr.span, format!("unknown name `{name}`")))
            }
            ExprKind::GetAttr(inner, attr) => {
                let base = self.eval_traversal(inner)?;
                get_attr(base, attr, expr.span)
            }
            ExprKind::Index(inner, index) => {
                let base = self.eval_traversal(inner)?;
                let key = self.eval(index)?;
                index_value(base, key, index.span)
            }
            _ => self.eval(expr).map(Cow::Owned),
        }
    }

    fn eval_splat(&mut self, source: &Expr, each: &Expr) -> EvalResult {
        let v = self.eval(source)?;
        let (v, marked) = v.unmark();
        let items = match v {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Null => Vec::new(),
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => items,
            // A splat on a single value treats it as a one-element tuple.
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.splat_items.push(item);
            let r = self.eval(each);
            self.splat_items.pop();
            out.push(r?);
        }
        Ok(mark_if(Value::Tuple(out), marked))
    }

    fn eval_call(
        &mut self,
        name: &str,
        args: &[Expr],
        expand_final: bool,
        span: Span,
    ) -> EvalResult {
        match name {
            "try" => {
                if args.is_empty() {
                    return Err(error(span, "`try` needs at least one argument"));
                }
                let mut last = None;
                for arg in args {
                    match self.eval(arg) {
                        Ok(v) => return Ok(v),
                        Err(e) => last = Some(e),
                    }
                }
                let cause = last.map(|e| e.message).unwrap_or_default();
                return Err(error(span, format!("no expression succeeded: {cause}")));
            }
            "can" => {
                if args.len() != 1 {
                    return Err(error(span, "`can` takes exactly one argument"));
                }
                return Ok(match self.eval(&args[0]) {
                    Ok(v) if v.is_unknown() => Value::Unknown,
                    Ok(_) => Value::Bool(true),
                    Err(_) => Value::Bool(false),
                });
            }
            _ => {}
        }
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            values.push(self.eval(arg)?);
        }
        if expand_final {
            let last = values
                .pop()
                .expect("the parser puts `...` after an argument");
            let (last, marked) = last.unmark();
            match last {
                Value::Unknown => return Ok(Value::Unknown),
                Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                    values.extend(items.into_iter().map(|v| mark_if(v, marked)));
                }
                _ => {
                    let last_span = args.last().map_or(span, |a| a.span);
                    return Err(error(
                        last_span,
                        "the final argument before `...` must be a list, set or tuple",
                    ));
                }
            }
        }
        let render =
            |source: &str, path: &Path, vars: Value| render_template_file(source, path, vars);
        let ctx = FuncContext {
            base_dir: self.base_dir,
            render_template: &render,
        };
        functions::call(name, values, &ctx).map_err(|e| match e {
            FuncError::UnknownFunction(_) => error(span, e.to_string()).with_help(
                crate::diag::did_you_mean(name, functions::names().iter().copied())
                    .map(|s| format!("did you mean `{s}`?")),
            ),
            FuncError::Invalid {
                arg: Some(i),
                message,
            } => {
                let arg_span = args.get(i).map_or(span, |a| a.span);
                error(arg_span, format!("invalid argument to `{name}`: {message}"))
            }
            other => error(span, format!("invalid call to `{name}`: {other}")),
        })
    }

    fn eval_binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, span: Span) -> EvalResult {
        let l = self.eval(lhs)?;
        // `&&` and `||` short-circuit on a known operand, as Terraform 1.11 does not;
        // evaluating both keeps error behaviour identical to Terraform.
        let r = self.eval(rhs)?;
        let (l, lm) = l.unmark();
        let (r, rm) = r.unmark();
        let marked = lm || rm;
        let result = match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                if l.contains_unknown() || r.contains_unknown() {
                    Value::Unknown
                } else {
                    let equal = values_equal(&l, &r);
                    Value::Bool(if op == BinaryOp::Eq { equal } else { !equal })
                }
            }
            BinaryOp::And | BinaryOp::Or => {
                let lb = to_bool_operand(l, lhs.span)?;
                let rb = to_bool_operand(r, rhs.span)?;
                match (lb, rb) {
                    (Some(a), Some(b)) => {
                        Value::Bool(if op == BinaryOp::And { a && b } else { a || b })
                    }
                    _ => Value::Unknown,
                }
            }
            _ => {
                let a = to_number_operand(l, lhs.span)?;
                let b = to_number_operand(r, rhs.span)?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(mark_if(Value::Unknown, marked));
                };
                arithmetic(op, a, b).map_err(|m| error(span, m))?
            }
        };
        Ok(mark_if(result, marked))
    }

    fn eval_for(&mut self, f: &ForExpr, span: Span) -> EvalResult {
        let collection = self.eval(&f.collection)?;
        let (collection, marked) = collection.unmark();
        let pairs: Vec<(Value, Value)> = match collection {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Null => {
                return Err(error(
                    f.collection.span,
                    "a `for` expression cannot iterate over null",
                ));
            }
            other if other.as_sequence().is_some() || other.as_mapping().is_some() => {
                other.into_pairs().expect("a collection has pairs")
            }
            other => {
                return Err(error(
                    f.collection.span,
                    format!(
                        "a `for` expression needs a collection, not a {}",
                        other.type_name()
                    ),
                ));
            }
        };
        let mut tuple = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut any_unknown_key = false;
        for (key, value) in pairs {
            let n = self.bound.len();
            if let Some(k) = &f.key_var {
                self.bound.push((k.clone(), mark_if(key, marked)));
            }
            self.bound
                .push((f.value_var.clone(), mark_if(value, marked)));
            let step = self.for_step(
                f,
                &mut tuple,
                &mut object,
                &mut groups,
                &mut any_unknown_key,
                span,
            );
            self.bound.truncate(n);
            step?;
        }
        let result = if f.key_expr.is_some() {
            if any_unknown_key {
                Value::Unknown
            } else if f.grouping {
                Value::Object(
                    groups
                        .into_iter()
                        .map(|(k, v)| (k, Value::Tuple(v)))
                        .collect(),
                )
            } else {
                Value::Object(object)
            }
        } else {
            Value::Tuple(tuple)
        };
        Ok(result)
    }

    fn for_step(
        &mut self,
        f: &ForExpr,
        tuple: &mut Vec<Value>,
        object: &mut BTreeMap<String, Value>,
        groups: &mut BTreeMap<String, Vec<Value>>,
        any_unknown_key: &mut bool,
        span: Span,
    ) -> Result<(), Diagnostic> {
        if let Some(cond) = &f.cond {
            let c = self.eval(cond)?;
            match types::convert(c.unmark().0, &Type::Bool) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => return Ok(()),
                Ok(Value::Unknown) => {
                    *any_unknown_key = true;
                    return Ok(());
                }
                _ => {
                    return Err(error(
                        cond.span,
                        "the `if` clause of a `for` expression must be a bool",
                    ));
                }
            }
        }
        match &f.key_expr {
            None => tuple.push(self.eval(&f.value_expr)?),
            Some(key_expr) => {
                let key = self.eval(key_expr)?;
                if key.is_unknown() {
                    *any_unknown_key = true;
                    return Ok(());
                }
                let key = match types::convert(key.unmark().0, &Type::String) {
                    Ok(Value::String(s)) => s,
                    _ => {
                        return Err(error(
                            key_expr.span,
                            "the key of a `for` expression must be a string",
                        ));
                    }
                };
                let value = self.eval(&f.value_expr)?;
                if f.grouping {
                    groups.entry(key).or_default().push(value);
                } else if let std::collections::btree_map::Entry::Vacant(slot) =
                    object.entry(key.clone())
                {
                    slot.insert(value);
                } else {
                    return Err(error(
                        span,
                        format!(
                            "duplicate object key {key:?}; use `...` after the value to group values by key"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn eval_template(&mut self, parts: &[TemplatePart]) -> EvalResult {
        // A template that is a single interpolation yields the value itself, unconverted.
        if let [TemplatePart::Interp(e)] = parts {
            return self.eval(e);
        }
        let mut out = String::new();
        let mut marked = false;
        match self.render_parts(parts, &mut out, &mut marked)? {
            true => Ok(mark_if(Value::String(out), marked)),
            false => Ok(mark_if(Value::Unknown, marked)),
        }
    }

    /// Appends rendered parts to `out`; returns false when some part is unknown.
    fn render_parts(
        &mut self,
        parts: &[TemplatePart],
        out: &mut String,
        marked: &mut bool,
    ) -> Result<bool, Diagnostic> {
        let mut known = true;
        for part in parts {
            match part {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::Interp(e) => {
                    let v = self.eval(e)?;
                    let (v, m) = v.unmark();
                    *marked |= m;
                    match v {
                        Value::Unknown => known = false,
                        Value::Null => {
                            return Err(error(
                                e.span,
                                "the expression result is null; cannot include a null value in a string template",
                            ));
                        }
                        other => match types::convert(other, &Type::String) {
                            Ok(Value::String(s)) => out.push_str(&s),
                            Ok(Value::Unknown) => known = false,
                            _ => {
                                return Err(error(
                                    e.span,
                                    "cannot include this value in a string template: a string is required",
                                ));
                            }
                        },
                    }
                }
                TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    let c = self.eval(cond)?;
                    let (c, m) = c.unmark();
                    *marked |= m;
                    match types::convert(c, &Type::Bool) {
                        Ok(Value::Bool(true)) => known &= self.render_parts(then, out, marked)?,
                        Ok(Value::Bool(false)) => {
                            known &= self.render_parts(otherwise, out, marked)?
                        }
                        Ok(Value::Unknown) => known = false,
                        _ => {
                            return Err(error(
                                cond.span,
                                "the condition of `%{if}` must be a bool",
                            ));
                        }
                    }
                }
                TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                } => {
                    let c = self.eval(collection)?;
                    let (c, m) = c.unmark();
                    *marked |= m;
                    let pairs: Vec<(Value, Value)> = match c {
                        Value::Unknown => {
                            known = false;
                            continue;
                        }
                        other => match other.into_pairs() {
                            Some(pairs) => pairs,
                            None => {
                                return Err(error(collection.span, "`%{for}` needs a collection"));
                            }
                        },
                    };
                    for (k, v) in pairs {
                        let n = self.bound.len();
                        if let Some(kv) = key_var {
                            self.bound.push((kv.clone(), k));
                        }
                        self.bound.push((value_var.clone(), v));
                        let r = self.render_parts(body, out, marked);
                        self.bound.truncate(n);
                        known &= r?;
                    }
                }
            }
        }
        Ok(known)
    }
}

fn error(span: Span, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(message).at(Some(span), "")
}

fn mark_if(v: Value, marked: bool) -> Value {
    if marked { v.sensitive() } else { v }
}

fn get_attr<'v>(
    base: Cow<'v, Value>,
    attr: &str,
    span: Span,
) -> Result<Cow<'v, Value>, Diagnostic> {
    if let Value::Sensitive(_) = base.as_ref() {
        let inner = base.into_owned().unmark().0;
        return get_attr(Cow::Owned(inner), attr, span)
            .map(|v| Cow::Owned(v.into_owned().sensitive()));
    }
    match base {
        Cow::Borrowed(Value::Object(map) | Value::Map(map)) => map
            .get(attr)
            .map(Cow::Borrowed)
            .ok_or_else(|| missing_attr(attr, map, span)),
        Cow::Owned(Value::Object(mut map) | Value::Map(mut map)) => match map.remove(attr) {
            Some(v) => Ok(Cow::Owned(v)),
            None => Err(missing_attr(attr, &map, span)),
        },
        ref other => match other.as_ref() {
            Value::Unknown => Ok(Cow::Owned(Value::Unknown)),
            Value::Null => Err(error(
                span,
                format!("cannot read attribute `{attr}` of a null value"),
            )),
            Value::Tuple(_) | Value::List(_) | Value::Set(_) => Err(error(
                span,
                format!(
                    "cannot read attribute `{attr}` of a list; index one element (`[0].{attr}`) or all of them (`[*].{attr}`)"
                ),
            )),
            v => Err(error(
                span,
                format!("cannot read attribute `{attr}` of a {}", v.type_name()),
            )),
        },
    }
}

fn missing_attr(attr: &str, map: &BTreeMap<String, Value>, span: Span) -> Diagnostic {
    error(span, format!("no attribute named `{attr}`")).with_help(
        crate::diag::did_you_mean(attr, map.keys().map(String::as_str))
            .map(|s| format!("did you mean `{s}`?")),
    )
}

fn index_value<'v>(
    base: Cow<'v, Value>,
    key: Value,
    span: Span,
) -> Result<Cow<'v, Value>, Diagnostic> {
    let (key, key_marked) = key.unmark();
    if base.is_sensitive() || key_marked {
        let inner = base.into_owned().unmark().0;
        return index_value(Cow::Owned(inner), key, span)
            .map(|v| Cow::Owned(v.into_owned().sensitive()));
    }
    if key.is_unknown() || base.is_unknown() {
        return Ok(Cow::Owned(Value::Unknown));
    }
    match base.as_ref() {
        Value::Tuple(items) | Value::List(items) => {
            let index = match types::convert(key, &Type::Number) {
                Ok(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            let Some(index) = index else {
                return Err(error(span, "a list index must be a whole number"));
            };
            if index < 0 || index as usize >= items.len() {
                return Err(error(
                    span,
                    format!(
                        "index {index} is out of range for a list of {} elements",
                        items.len()
                    ),
                ));
            }
            Ok(match base {
                Cow::Borrowed(Value::Tuple(items) | Value::List(items)) => {
                    Cow::Borrowed(&items[index as usize])
                }
                Cow::Owned(Value::Tuple(mut items) | Value::List(mut items)) => {
                    Cow::Owned(items.swap_remove(index as usize))
                }
                _ => unreachable!("matched a list above"),
            })
        }
        Value::Object(_) | Value::Map(_) => {
            let key = match types::convert(key, &Type::String) {
                Ok(Value::String(s)) => s,
                _ => return Err(error(span, "a map key must be a string")),
            };
            match base {
                Cow::Borrowed(Value::Object(map) | Value::Map(map)) => map
                    .get(&key)
                    .map(Cow::Borrowed)
                    .ok_or_else(|| missing_key(&key, map, span)),
                Cow::Owned(Value::Object(mut map) | Value::Map(mut map)) => {
                    match map.remove(&key) {
                        Some(v) => Ok(Cow::Owned(v)),
                        None => Err(missing_key(&key, &map, span)),
                    }
                }
                _ => unreachable!("matched a map above"),
            }
        }
        Value::Set(_) => Err(error(
            span,
            "elements of a set have no index; convert it with `tolist` first",
        )),
        Value::Null => Err(error(span, "cannot index a null value")),
        other => Err(error(span, format!("cannot index a {}", other.type_name()))),
    }
}

fn missing_key(key: &str, map: &BTreeMap<String, Value>, span: Span) -> Diagnostic {
    error(span, format!("no element with the key {key:?}")).with_help(
        crate::diag::did_you_mean(key, map.keys().map(String::as_str))
            .map(|s| format!("did you mean {s:?}?")),
    )
}

fn to_bool_operand(v: Value, span: Span) -> Result<Option<bool>, Diagnostic> {
    match v {
        Value::Unknown => Ok(None),
        Value::Null => Err(error(span, "a bool is required, but the value is null")),
        other => match types::convert(other, &Type::Bool) {
            Ok(Value::Bool(b)) => Ok(Some(b)),
            Err(m) => Err(error(span, m)),
            Ok(_) => Err(error(span, "a bool is required")),
        },
    }
}

fn to_number_operand(v: Value, span: Span) -> Result<Option<Number>, Diagnostic> {
    match v {
        Value::Unknown => Ok(None),
        Value::Null => Err(error(span, "a number is required, but the value is null")),
        other => match types::convert(other, &Type::Number) {
            Ok(Value::Number(n)) => Ok(Some(n)),
            Err(m) => Err(error(span, m)),
            Ok(_) => Err(error(span, "a number is required")),
        },
    }
}

fn arithmetic(op: BinaryOp, a: Number, b: Number) -> Result<Value, String> {
    use Number::Int;
    Ok(match op {
        BinaryOp::Plus => match (a, b) {
            (Int(x), Int(y)) => x
                .checked_add(y)
                .map_or_else(|| Value::float(x as f64 + y as f64), Value::int),
            _ => Value::float(a.as_f64() + b.as_f64()),
        },
        BinaryOp::Minus => match (a, b) {
            (Int(x), Int(y)) => x
                .checked_sub(y)
                .map_or_else(|| Value::float(x as f64 - y as f64), Value::int),
            _ => Value::float(a.as_f64() - b.as_f64()),
        },
        BinaryOp::Mul => match (a, b) {
            (Int(x), Int(y)) => x
                .checked_mul(y)
                .map_or_else(|| Value::float(x as f64 * y as f64), Value::int),
            _ => Value::float(a.as_f64() * b.as_f64()),
        },
        BinaryOp::Div => {
            // Terraform divides big floats: x/0 is an infinity, 0/0 an error.
            if b.as_f64() == 0.0 {
                if a.as_f64() == 0.0 {
                    return Err("cannot divide zero by zero".to_string());
                }
                return Ok(Value::Number(Number::Float(a.as_f64() / b.as_f64())));
            }
            match (a, b) {
                (Int(x), Int(y)) if x % y == 0 => Value::int(x / y),
                _ => Value::float(a.as_f64() / b.as_f64()),
            }
        }
        BinaryOp::Mod => {
            // As in Terraform, x % 0 is x.
            if b.as_f64() == 0.0 {
                return Ok(Value::Number(a));
            }
            match (a, b) {
                (Int(x), Int(y)) => Value::int(x % y),
                _ => Value::float(a.as_f64() % b.as_f64()),
            }
        }
        BinaryOp::Less => Value::Bool(a < b),
        BinaryOp::LessEq => Value::Bool(a <= b),
        BinaryOp::Greater => Value::Bool(a > b),
        BinaryOp::GreaterEq => Value::Bool(a >= b),
        BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::And | BinaryOp::Or => {
            unreachable!("handled by eval_binary")
        }
    })
}

/// Equality as Terraform's `==`: same type and same value.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.unmarked(), b.unmarked()) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y))
        | (Value::List(x), Value::List(y))
        | (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) | (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && values_equal(v1, v2))
        }
        (x, y) => x == y,
    }
}

/// Renders a template file's source with the given variables (for `templatefile`).
fn render_template_file(source: &str, path: &Path, vars: Value) -> Result<Value, String> {
    let template = hcl::edit::parser::parse_template(source).map_err(|e| {
        format!(
            "{}:{}:{}: {}",
            path.display(),
            e.location().line(),
            e.location().column(),
            e.message()
        )
    })?;
    let elements: Vec<&hcl::edit::template::Element> = template.iter().collect();
    let expr = Expr::lower_template(&elements, FileId(u32::MAX));
    let vars = match vars.unmark().0 {
        Value::Object(map) | Value::Map(map) => map,
        Value::Null => BTreeMap::new(),
        _ => return Err("the variables of `templatefile` must be an object or map".to_string()),
    };
    let scope = MapScope(vars);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut evaluator = Evaluator::new(&scope, dir);
    evaluator
        .eval(&expr)
        .map_err(|d| format!("{}: {}", path.display(), d.message))
        .map(|v| match v {
            // A template file always renders to a string, even for a single interpolation.
            Value::Number(_) | Value::Bool(_) => {
                types::convert(v, &Type::String).unwrap_or(Value::Unknown)
            }
            other => other,
        })
}

/// Evaluates one expression with no scope, as `yagura console` does without an instance.
pub fn eval_console(src: &str, base_dir: &Path) -> Result<Value, String> {
    let parsed = hcl::edit::parser::parse_expr(src.trim()).map_err(|e| e.message().to_string())?;
    let expr = Expr::lower(&parsed, FileId(u32::MAX));
    Evaluator::new(&EmptyScope, base_dir)
        .eval(&expr)
        .map_err(|d| match d.help {
            Some(help) => format!("{}; {help}", d.message),
            None => d.message,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::display::console_format;

    fn check(src: &str, expected: &str) {
        let got = match eval_console(src, Path::new(".")) {
            Ok(v) => console_format(&v),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "for {src}");
    }

    fn check_value(src: &str, expected: Value) {
        assert_eq!(eval_console(src, Path::new(".")), Ok(expected), "for {src}");
    }

    #[test]
    fn arithmetic_keeps_integers_exact() {
        check_value("1 + 2 * 3", Value::int(7));
        check_value("10 / 4", Value::float(2.5));
        check_value("10 / 2", Value::int(5));
        check_value("-(3 - 5)", Value::int(2));
        check_value("7 % 3", Value::int(1));
        check_value("\"3\" + 1", Value::int(4));
    }

    #[test]
    fn comparisons_and_logic() {
        check_value("1 < 2 && !false", Value::Bool(true));
        check_value("\"a\" == \"a\" || 1 == 2", Value::Bool(true));
        check_value("1 == \"1\"", Value::Bool(false));
        check_value("true ? \"y\" : \"n\"", Value::string("y"));
    }

    #[test]
    fn templates_render_directives_and_strip_markers() {
        check_value("\"a-${1 + 1}-b\"", Value::string("a-2-b"));
        check_value(
            "\"%{ if true }yes%{ else }no%{ endif }\"",
            Value::string("yes"),
        );
        check_value(
            "\"%{ for x in [1, 2] }<${x}>%{ endfor }\"",
            Value::string("<1><2>"),
        );
        check_value("\"a   ${~ \"b\" ~}   c\"", Value::string("abc"));
        check_value("\"${5}\"", Value::int(5));
    }

    #[test]
    fn for_expressions_build_tuples_and_objects() {
        check_value(
            "[for i, x in [\"a\", \"b\"] : \"${i}${x}\" if x != \"c\"]",
            Value::Tuple(vec![Value::string("0a"), Value::string("1b")]),
        );
        let mut m = BTreeMap::new();
        m.insert(
            "a".to_string(),
            Value::Tuple(vec![Value::int(1), Value::int(2)]),
        );
        check_value(
            "{for p in [[\"a\", 1], [\"a\", 2]] : p[0] => p[1]...}",
            Value::Object(m),
        );
        check(
            "{for x in [\"a\", \"a\"] : x => 1}",
            "error: duplicate object key \"a\"; use `...` after the value to group values by key",
        );
    }

    #[test]
    fn splats_project_elements() {
        check_value(
            "[{a = 1}, {a = 2}][*].a",
            Value::Tuple(vec![Value::int(1), Value::int(2)]),
        );
        check_value("null[*]", Value::Tuple(vec![]));
    }

    #[test]
    fn indexing_and_attributes() {
        check_value("{a = [10, 20]}.a[1]", Value::int(20));
        check_value("[1, 2][\"0\"]", Value::int(1));
        check(
            "[1][3]",
            "error: index 3 is out of range for a list of 1 elements",
        );
        check(
            "{abc = 1}.abd",
            "error: no attribute named `abd`; did you mean `abc`?",
        );
    }

    #[test]
    fn try_and_can_catch_errors() {
        check_value("try([1][5], \"fallback\")", Value::string("fallback"));
        check_value("can([1][5])", Value::Bool(false));
        check_value("can([1][0])", Value::Bool(true));
    }

    #[test]
    fn unknown_values_propagate() {
        let mut scope = BTreeMap::new();
        scope.insert("u".to_string(), Value::Unknown);
        let scope = MapScope(scope);
        let parsed = hcl::edit::parser::parse_expr("\"x-${u}\" == \"x\" ? u.a : [for v in u : v]")
            .expect("parses");
        let expr = Expr::lower(&parsed, FileId(0));
        assert_eq!(
            Evaluator::new(&scope, Path::new(".")).eval(&expr),
            Ok(Value::Unknown)
        );
    }

    #[test]
    fn sensitive_marks_propagate() {
        check("\"a${sensitive(\"b\")}\"", "(sensitive value)");
    }
}
