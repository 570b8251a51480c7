//! Type conversion functions (`tostring`, `tolist`, ...), the sensitive mark
//! functions, and the type unification other functions share.
//!
//! Unification follows cty's `convert.Unify`: strings absorb numbers and bools,
//! objects with different attributes become maps, tuples of different lengths
//! become lists. `types::convert` then converts each value to the unified type.

use std::collections::BTreeMap;

use super::{Fail, FuncContext};
use crate::lang::types::{self, ObjectAttr, Type};
use crate::lang::value::Value;

pub(super) fn sensitive(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(first(args).sensitive())
}

pub(super) fn nonsensitive(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(first(args).unmark().0)
}

pub(super) fn tostring(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    convert_or_explain(first(args), &Type::String, "string")
}

pub(super) fn tonumber(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let value = first(args);
    if let Value::String(s) = value.unmarked() {
        // Terraform accepts only the decimal notation, without surrounding spaces.
        let decimal = !s.is_empty()
            && s.trim() == s
            && s.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
        if !decimal {
            return Err(Fail::arg(
                0,
                format!(
                    "cannot convert {s:?} to number; given string must be a decimal representation of a number."
                ),
            ));
        }
    }
    convert_or_explain(value, &Type::Number, "number")
}

pub(super) fn tobool(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let value = first(args);
    // cty also reads "1" and "0" as bools; `types::convert` does not.
    let (unmarked, marked) = value.clone().unmark();
    let remark = |v: Value| if marked { v.sensitive() } else { v };
    match unmarked {
        Value::String(s) if s == "1" => return Ok(remark(Value::Bool(true))),
        Value::String(s) if s == "0" => return Ok(remark(Value::Bool(false))),
        Value::String(s) if s != "true" && s != "false" => {
            return Err(Fail::arg(
                0,
                format!(
                    "cannot convert {s:?} to bool; only the strings \"true\" or \"false\" are allowed."
                ),
            ));
        }
        _ => {}
    }
    convert_or_explain(value, &Type::Bool, "bool")
}

pub(super) fn tolist(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    to_collection(first(args), CollectionKind::List)
}

pub(super) fn toset(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    to_collection(first(args), CollectionKind::Set)
}

pub(super) fn tomap(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    to_collection(first(args), CollectionKind::Map)
}

fn first(args: Vec<Value>) -> Value {
    args.into_iter().next().unwrap_or(Value::Null)
}

fn convert_or_explain(value: Value, ty: &Type, want: &str) -> Result<Value, Fail> {
    let type_name = value.type_name();
    types::convert(value, ty)
        .map_err(|_| Fail::arg(0, format!("cannot convert {type_name} to {want}.")))
}

#[derive(Clone, Copy, PartialEq)]
enum CollectionKind {
    List,
    Set,
    Map,
}

fn to_collection(value: Value, kind: CollectionKind) -> Result<Value, Fail> {
    let (value, marked) = value.unmark();
    let want = match kind {
        CollectionKind::List => "list of any single type",
        CollectionKind::Set => "set of any single type",
        CollectionKind::Map => "map of any single type",
    };
    let fail = |value: &Value| {
        Fail::arg(
            0,
            format!("cannot convert {} to {want}.", value.type_name()),
        )
    };
    if matches!(value, Value::Null | Value::Unknown) {
        return Ok(value);
    }
    let element_types: Vec<Type> = match (&value, kind) {
        (
            Value::Tuple(items) | Value::List(items) | Value::Set(items),
            CollectionKind::List | CollectionKind::Set,
        ) => items.iter().map(type_of).collect(),
        (Value::Object(map) | Value::Map(map), CollectionKind::Map) => {
            map.values().map(type_of).collect()
        }
        _ => return Err(fail(&value)),
    };
    let element = unify(&element_types).ok_or_else(|| fail(&value))?;
    let ty = match kind {
        CollectionKind::List => Type::List(Box::new(element)),
        CollectionKind::Set => Type::Set(Box::new(element)),
        CollectionKind::Map => Type::Map(Box::new(element)),
    };
    let converted = types::convert(value.clone(), &ty).map_err(|_| fail(&value))?;
    Ok(if marked {
        converted.sensitive()
    } else {
        converted
    })
}

/// The type of a value, with `Any` for null and unknown values.
pub(super) fn type_of(value: &Value) -> Type {
    match value.unmarked() {
        Value::Null | Value::Unknown => Type::Any,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::Tuple(items) => Type::Tuple(items.iter().map(type_of).collect()),
        Value::List(items) => Type::List(Box::new(collection_element_type(items.iter()))),
        Value::Set(items) => Type::Set(Box::new(collection_element_type(items.iter()))),
        Value::Map(map) => Type::Map(Box::new(collection_element_type(map.values()))),
        Value::Object(map) => Type::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ObjectAttr {
                            ty: type_of(v),
                            optional: false,
                            default: None,
                        },
                    )
                })
                .collect(),
        ),
        Value::Sensitive(_) => unreachable!("unmarked() removed the mark"),
    }
}

fn collection_element_type<'a>(items: impl Iterator<Item = &'a Value>) -> Type {
    let types: Vec<Type> = items.map(type_of).collect();
    unify(&types).unwrap_or(Type::Any)
}

/// Finds the one type all the given types convert to, as cty's `convert.Unify` does.
pub(super) fn unify(types: &[Type]) -> Option<Type> {
    let known: Vec<&Type> = types.iter().filter(|t| **t != Type::Any).collect();
    let Some(first) = known.first() else {
        return Some(Type::Any);
    };
    if known.iter().all(|t| t == first) {
        return Some((*first).clone());
    }
    let is_primitive = |t: &Type| matches!(t, Type::String | Type::Number | Type::Bool);
    if known.iter().all(|t| is_primitive(t)) {
        return known
            .iter()
            .any(|t| **t == Type::String)
            .then_some(Type::String);
    }
    if known.iter().all(|t| matches!(t, Type::Object(_))) {
        let attr_sets: Vec<Vec<&String>> = known
            .iter()
            .map(|t| match t {
                Type::Object(attrs) => attrs.keys().collect(),
                _ => Vec::new(),
            })
            .collect();
        if attr_sets.iter().all(|names| *names == attr_sets[0]) {
            let mut attrs = BTreeMap::new();
            for name in &attr_sets[0] {
                let attr_types: Vec<Type> = known
                    .iter()
                    .filter_map(|t| match t {
                        Type::Object(attrs) => attrs.get(*name).map(|a| a.ty.clone()),
                        _ => None,
                    })
                    .collect();
                let ty = unify(&attr_types)?;
                attrs.insert(
                    (*name).clone(),
                    ObjectAttr {
                        ty,
                        optional: false,
                        default: None,
                    },
                );
            }
            return Some(Type::Object(attrs));
        }
    }
    if known
        .iter()
        .all(|t| matches!(t, Type::Object(_) | Type::Map(_)))
    {
        let mut element_types = Vec::new();
        for t in &known {
            match t {
                Type::Object(attrs) => element_types.extend(attrs.values().map(|a| a.ty.clone())),
                Type::Map(elem) => element_types.push((**elem).clone()),
                _ => {}
            }
        }
        return Some(Type::Map(Box::new(unify(&element_types)?)));
    }
    if known.iter().all(|t| matches!(t, Type::Tuple(_))) {
        let lengths: Vec<usize> = known
            .iter()
            .map(|t| match t {
                Type::Tuple(elems) => elems.len(),
                _ => 0,
            })
            .collect();
        if lengths.iter().all(|len| *len == lengths[0]) {
            let mut elems = Vec::new();
            for i in 0..lengths[0] {
                let position: Vec<Type> = known
                    .iter()
                    .filter_map(|t| match t {
                        Type::Tuple(elems) => elems.get(i).cloned(),
                        _ => None,
                    })
                    .collect();
                elems.push(unify(&position)?);
            }
            return Some(Type::Tuple(elems));
        }
    }
    if known
        .iter()
        .all(|t| matches!(t, Type::Tuple(_) | Type::List(_)))
    {
        let mut element_types = Vec::new();
        for t in &known {
            match t {
                Type::Tuple(elems) => element_types.extend(elems.iter().cloned()),
                Type::List(elem) => element_types.push((**elem).clone()),
                _ => {}
            }
        }
        return Some(Type::List(Box::new(unify(&element_types)?)));
    }
    if known.iter().all(|t| matches!(t, Type::Set(_))) {
        let element_types: Vec<Type> = known
            .iter()
            .filter_map(|t| match t {
                Type::Set(elem) => Some((**elem).clone()),
                _ => None,
            })
            .collect();
        return Some(Type::Set(Box::new(unify(&element_types)?)));
    }
    None
}

/// Converts values to their unified type, or returns `None` when they have none.
pub(super) fn unify_values(values: Vec<Value>) -> Option<Vec<Value>> {
    let types: Vec<Type> = values.iter().map(type_of).collect();
    let ty = unify(&types)?;
    values
        .into_iter()
        .map(|v| types::convert(v, &ty).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    use super::*;

    fn check(name: &str, arg: Value, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, vec![arg]), expected.map_err(str::to_string));
    }

    #[test]
    fn tostring_number() {
        check("tostring", Value::int(5), Ok(s("5")));
    }

    #[test]
    fn tostring_null_is_null() {
        check("tostring", Value::Null, Ok(Value::Null));
    }

    #[test]
    fn tostring_tuple_fails() {
        check(
            "tostring",
            Value::Tuple(vec![]),
            Err("Invalid value for \"v\" parameter: cannot convert tuple to string."),
        );
    }

    #[test]
    fn tonumber_string() {
        check("tonumber", s("-1e3"), Ok(Value::int(-1000)));
    }

    #[test]
    fn tonumber_rejects_spaces() {
        check(
            "tonumber",
            s(" 1"),
            Err(
                "Invalid value for \"v\" parameter: cannot convert \" 1\" to number; given string must be a decimal representation of a number.",
            ),
        );
    }

    #[test]
    fn tobool_one() {
        check("tobool", s("1"), Ok(Value::Bool(true)));
    }

    #[test]
    fn tobool_yes_fails() {
        check(
            "tobool",
            s("yes"),
            Err(
                "Invalid value for \"v\" parameter: cannot convert \"yes\" to bool; only the strings \"true\" or \"false\" are allowed.",
            ),
        );
    }

    #[test]
    fn tolist_unifies_to_string() {
        check(
            "tolist",
            Value::Tuple(vec![Value::int(1), s("a")]),
            Ok(Value::List(vec![s("1"), s("a")])),
        );
    }

    #[test]
    fn tolist_number_and_bool_fails() {
        check(
            "tolist",
            Value::Tuple(vec![Value::int(1), Value::Bool(true)]),
            Err(
                "Invalid value for \"v\" parameter: cannot convert tuple to list of any single type.",
            ),
        );
    }

    #[test]
    fn tolist_objects_with_different_attributes_become_maps() {
        check(
            "tolist",
            Value::Tuple(vec![
                obj(&[("a", Value::int(1))]),
                obj(&[("b", Value::int(1))]),
            ]),
            Ok(Value::List(vec![
                Value::Map([("a".to_string(), Value::int(1))].into()),
                Value::Map([("b".to_string(), Value::int(1))].into()),
            ])),
        );
    }

    #[test]
    fn tolist_nested_tuples_unify() {
        check(
            "tolist",
            Value::Tuple(vec![
                Value::Tuple(vec![Value::int(1)]),
                Value::Tuple(vec![s("a")]),
            ]),
            Ok(Value::List(vec![
                Value::Tuple(vec![s("1")]),
                Value::Tuple(vec![s("a")]),
            ])),
        );
    }

    #[test]
    fn toset_deduplicates_after_conversion() {
        check(
            "toset",
            Value::Tuple(vec![Value::int(1), s("1")]),
            Ok(Value::Set(vec![s("1")])),
        );
    }

    #[test]
    fn tomap_mixed_fails() {
        check(
            "tomap",
            obj(&[("a", Value::int(1)), ("b", Value::Tuple(vec![]))]),
            Err(
                "Invalid value for \"v\" parameter: cannot convert object to map of any single type.",
            ),
        );
    }

    #[test]
    fn tomap_keeps_inner_marks() {
        check(
            "tomap",
            obj(&[("a", s("x").sensitive())]),
            Ok(Value::Map([("a".to_string(), s("x").sensitive())].into())),
        );
    }

    #[test]
    fn sensitive_marks() {
        check("sensitive", s("x"), Ok(s("x").sensitive()));
    }

    #[test]
    fn nonsensitive_unmarks() {
        check("nonsensitive", s("x").sensitive(), Ok(s("x")));
    }

    #[test]
    fn nonsensitive_of_plain_value() {
        check("nonsensitive", s("x"), Ok(s("x")));
    }
}
