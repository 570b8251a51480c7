//! Type conversion functions (`tostring`, `tolist`, ...), the sensitive mark
//! functions. Unification itself lives in `types`.

use super::{Fail, FuncContext};
use crate::lang::types::{self, Type};
pub(super) use crate::lang::types::{type_of, unify, unify_values};
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
