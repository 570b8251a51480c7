//! Evaluates a resource's body against its type's schema into a configuration
//! object: attributes converted to their types, nested blocks as lists of
//! objects, defaults filled in, and every problem reported with its span.

use std::collections::BTreeMap;

use crate::config::Body;
use crate::config::body::unsupported;
use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::lang::Value;
use crate::lang::eval::Evaluator;
use crate::lang::types::{self, Type};
use crate::schema::{AttrType, BlockSchema, OneOf, Presence, ResourceSchema};

/// The language type of a schema attribute type.
pub fn lang_type(ty: AttrType) -> Type {
    match ty {
        AttrType::String => Type::String,
        AttrType::Number => Type::Number,
        AttrType::Bool => Type::Bool,
        AttrType::StringList => Type::List(Box::new(Type::String)),
        AttrType::StringMap => Type::Map(Box::new(Type::String)),
    }
}

/// Evaluates a resource body; `what` names it in messages (`google_project "this"`).
pub fn eval_resource_body(
    ev: &mut Evaluator<'_>,
    body: &Body,
    schema: &ResourceSchema,
    what: &str,
    span: Span,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let config = eval_block(ev, body, &schema.block, what, span, diags);
    for (group, rule) in schema.one_of {
        let set: Vec<&str> = group
            .iter()
            .copied()
            .filter(|n| config.get(*n).is_some_and(|v| !v.is_null()))
            .collect();
        let names = group
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        if set.len() > 1 {
            diags.push(
                Diagnostic::error(format!("{what} sets {names}: set only one of them"))
                    .at(Some(span), ""),
            );
        } else if set.is_empty() && *rule == OneOf::ExactlyOne {
            diags.push(Diagnostic::error(format!("{what} must set {names}")).at(Some(span), ""));
        }
    }
    config
}

fn eval_block(
    ev: &mut Evaluator<'_>,
    body: &Body,
    schema: &BlockSchema,
    what: &str,
    span: Span,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let supported: Vec<&str> = schema
        .settable()
        .into_iter()
        .chain(schema.blocks.iter().map(|b| b.name))
        .collect();
    for attr in &body.attributes {
        let Some(attr_schema) = schema.attr(&attr.name) else {
            let is_block = schema.block(&attr.name).is_some();
            let d = if is_block {
                Diagnostic::error(format!(
                    "`{}` is a block in {what}, not an attribute",
                    attr.name
                ))
                .at(Some(attr.name_span), "")
                .help(format!("write it as `{} {{ ... }}`", attr.name))
            } else {
                unsupported("attribute", &attr.name, what, attr.name_span, &supported)
            };
            diags.push(d);
            continue;
        };
        if attr_schema.presence == Presence::Computed {
            diags.push(
                Diagnostic::error(format!(
                    "`{}` of {what} is computed and cannot be set",
                    attr.name
                ))
                .at(Some(attr.name_span), "set by the provider"),
            );
            continue;
        }
        // A failed attribute is recorded as unknown, so it is not reported missing as well.
        let value = match ev.eval(&attr.expr) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                out.insert(attr.name.clone(), Value::Unknown);
                continue;
            }
        };
        let value = match types::convert(value, &lang_type(attr_schema.ty)) {
            Ok(v) => v,
            Err(m) => {
                diags.push(
                    Diagnostic::error(format!("invalid value for `{}` of {what}: {m}", attr.name))
                        .at(Some(attr.expr.span), ""),
                );
                out.insert(attr.name.clone(), Value::Unknown);
                continue;
            }
        };
        if let (Some(check), Some(s)) = (attr_schema.check, value.as_str())
            && let Err(m) = check(s)
        {
            diags.push(
                Diagnostic::error(format!("invalid `{}` of {what}: {m}", attr.name))
                    .at(Some(attr.expr.span), ""),
            );
        }
        out.insert(attr.name.clone(), value);
    }
    for block in &body.blocks {
        if schema.block(&block.kind).is_none() {
            diags.push(unsupported(
                "block",
                &block.kind,
                what,
                block.kind_span,
                &supported,
            ));
        }
    }
    for dynamic in &body.dynamic_blocks {
        if schema.block(&dynamic.kind).is_none() {
            diags.push(unsupported(
                "block",
                &dynamic.kind,
                what,
                dynamic.span,
                &supported,
            ));
        }
    }
    for attr_schema in schema.attrs {
        if out.contains_key(attr_schema.name) || attr_schema.presence == Presence::Computed {
            continue;
        }
        if attr_schema.presence == Presence::Required {
            diags.push(
                Diagnostic::error(format!(
                    "{what} is missing the required attribute `{}`",
                    attr_schema.name
                ))
                .at(Some(span), format!("`{}` is required", attr_schema.name)),
            );
            continue;
        }
        out.insert(
            attr_schema.name.to_string(),
            attr_schema.default.map_or(Value::Null, |d| d.value()),
        );
    }
    for nested in schema.blocks {
        let mut items = Vec::new();
        let mut unknown = false;
        for block in body.blocks_of(nested.name) {
            if !block.labels.is_empty() {
                diags.push(
                    Diagnostic::error(format!("a `{}` block takes no labels", nested.name))
                        .at(Some(block.kind_span), ""),
                );
            }
            let inner_what = format!("the `{}` block of {what}", nested.name);
            items.push(Value::Object(eval_block(
                ev,
                &block.body,
                nested.block,
                &inner_what,
                block.span,
                diags,
            )));
        }
        for dynamic in body.dynamic_blocks.iter().filter(|d| d.kind == nested.name) {
            let collection = match ev.eval(&dynamic.for_each) {
                Ok(v) => v.unmark().0,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let pairs: Vec<(Value, Value)> = match collection {
                Value::Unknown => {
                    unknown = true;
                    continue;
                }
                Value::Null => Vec::new(),
                other if other.as_sequence().is_some() || other.as_mapping().is_some() => {
                    other.into_pairs().expect("a collection has pairs")
                }
                other => {
                    diags.push(
                        Diagnostic::error(format!(
                            "`for_each` of a dynamic block needs a collection, not a {}",
                            other.type_name()
                        ))
                        .at(Some(dynamic.for_each.span), ""),
                    );
                    continue;
                }
            };
            for (key, value) in pairs {
                let mut iterator = BTreeMap::new();
                iterator.insert("key".to_string(), key);
                iterator.insert("value".to_string(), value);
                ev.push_binding(&dynamic.iterator, Value::Object(iterator));
                let inner_what = format!("the `{}` block of {what}", nested.name);
                let object = eval_block(
                    ev,
                    &dynamic.content,
                    nested.block,
                    &inner_what,
                    dynamic.span,
                    diags,
                );
                ev.pop_binding();
                items.push(Value::Object(object));
            }
        }
        if unknown {
            out.insert(nested.name.to_string(), Value::Unknown);
            continue;
        }
        if items.len() < nested.min {
            diags.push(
                Diagnostic::error(format!("{what} needs a `{}` block", nested.name))
                    .at(Some(span), format!("no `{}` block", nested.name)),
            );
        }
        if let Some(max) = nested.max
            && items.len() > max
        {
            diags.push(
                Diagnostic::error(format!(
                    "{what} takes at most {max} `{}` block(s)",
                    nested.name
                ))
                .at(Some(span), ""),
            );
        }
        out.insert(nested.name.to_string(), Value::List(items));
    }
    out
}

/// Converts stored attributes to the shapes the schema gives configurations.
pub fn conform_state(
    attributes: &serde_json::Map<String, serde_json::Value>,
    schema: &BlockSchema,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for attr in schema.attrs {
        let raw = attributes
            .get(attr.name)
            .map_or(Value::Null, Value::from_json);
        let value = types::convert(raw.clone(), &lang_type(attr.ty)).unwrap_or(raw);
        out.insert(attr.name.to_string(), value);
    }
    for nested in schema.blocks {
        let items = attributes
            .get(nested.name)
            .and_then(serde_json::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(serde_json::Value::as_object)
                    .map(|o| Value::Object(conform_state(o, nested.block)))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(nested.name.to_string(), Value::List(items));
    }
    out
}
