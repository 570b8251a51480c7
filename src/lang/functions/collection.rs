//! Collection functions: lists, sets, maps and the tuples and objects that
//! convert to them. Results keep Terraform's types: `keys` of an object is a
//! tuple but `keys` of a map is a list, `concat` of lists is a list, and so on.

use std::collections::BTreeMap;

use super::conversion::{type_of, unify, unify_values};
use super::string::graphemes;
use super::{
    Fail, FuncContext, int_arg, is_homogeneous, list_arg, sequence_arg, string_arg,
    string_list_arg, unify_list,
};
use crate::lang::types::{self, Type};
use crate::lang::value::{Number, Value};

pub(super) fn alltrue(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    for item in list_arg(&args, 0, Type::Bool)? {
        if item != Value::Bool(true) {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

pub(super) fn anytrue(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = list_arg(&args, 0, Type::Bool)?;
    Ok(Value::Bool(items.contains(&Value::Bool(true))))
}

pub(super) fn chunklist(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = list_arg(&args, 0, Type::Any)?;
    let size = int_arg(&args, 1)?;
    if size < 0 {
        return Err(Fail::arg(1, "the size argument must be positive"));
    }
    if items.is_empty() {
        return Ok(Value::List(vec![]));
    }
    let size = if size == 0 {
        items.len()
    } else {
        size as usize
    };
    Ok(Value::List(
        items
            .chunks(size)
            .map(|chunk| Value::List(chunk.to_vec()))
            .collect(),
    ))
}

pub(super) fn coalesce(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let all_strings = unify(&args.iter().map(type_of).collect::<Vec<_>>());
    let Some(ty) = all_strings else {
        return Err(Fail::call("all arguments must have the same type"));
    };
    for arg in args {
        if arg.is_unknown() {
            return Ok(Value::Unknown);
        }
        if arg.is_null() {
            continue;
        }
        let arg = types::convert(arg, &ty)
            .map_err(|_| Fail::call("all arguments must have the same type"))?;
        if ty == Type::String && arg.as_str() == Some("") {
            continue;
        }
        return Ok(arg);
    }
    Err(Fail::call("no non-null, non-empty-string arguments"))
}

pub(super) fn coalescelist(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    if args.is_empty() {
        return Err(Fail::call("at least one argument is required"));
    }
    for (i, arg) in args.iter().enumerate() {
        match arg.as_sequence() {
            Some([]) => continue,
            Some(_) => return Ok(arg.clone()),
            None => return Err(Fail::arg(i, "a list or tuple is required")),
        }
    }
    Err(Fail::call("no non-null arguments"))
}

pub(super) fn compact(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = list_arg(&args, 0, Type::String)?;
    Ok(Value::List(
        items
            .into_iter()
            .filter(|item| !item.is_null() && item.as_str() != Some(""))
            .collect(),
    ))
}

pub(super) fn concat(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    if args.is_empty() {
        return Err(Fail::call("at least one argument is required"));
    }
    let mut items = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        match arg.as_sequence() {
            Some(seq) => items.extend(seq.iter().cloned()),
            None => {
                return Err(Fail::arg(
                    i,
                    format!(
                        "all arguments must be lists or tuples; got {}",
                        arg.type_name()
                    ),
                ));
            }
        }
    }
    // Only lists of one element type concatenate into a list.
    let first_type = type_of(&args[0]);
    let all_same_list =
        matches!(args[0], Value::List(_)) && args.iter().all(|arg| type_of(arg) == first_type);
    Ok(if all_same_list {
        Value::List(items)
    } else {
        Value::Tuple(items)
    })
}

pub(super) fn contains(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = match args.first() {
        Some(Value::Tuple(items) | Value::List(items) | Value::Set(items)) => items,
        _ => return Err(Fail::call("argument must be list, tuple, or set")),
    };
    let value = args.get(1).unwrap_or(&Value::Null);
    Ok(Value::Bool(
        items.iter().any(|item| values_equal(item, value)),
    ))
}

/// Equality as cty's `Equals`: same type and same value.
fn values_equal(a: &Value, b: &Value) -> bool {
    a == b
}

pub(super) fn distinct(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = list_arg(&args, 0, Type::Any)?;
    let items = unify_list(0, items)?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::List(out))
}

pub(super) fn element(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = match args.first() {
        Some(Value::Tuple(items) | Value::List(items)) => items.clone(),
        _ => return Err(Fail::arg(0, "cannot read elements from set.")),
    };
    let index = int_arg(&args, 1)?;
    if items.is_empty() {
        return Err(Fail::call("cannot use element function with an empty list"));
    }
    if index < 0 {
        return Err(Fail::call(
            "cannot use element function with a negative index",
        ));
    }
    Ok(items[(index as usize) % items.len()].clone())
}

pub(super) fn flatten(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = sequence_arg(&args, 0)?;
    let mut out = Vec::new();
    flatten_into(items, &mut out);
    Ok(Value::Tuple(out))
}

fn flatten_into(items: Vec<Value>, out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Tuple(inner) | Value::List(inner) | Value::Set(inner) => {
                flatten_into(inner, out)
            }
            other => out.push(other),
        }
    }
}

pub(super) fn index(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = match args.first() {
        Some(Value::Tuple(items) | Value::List(items)) => items,
        _ => return Err(Fail::arg(0, "argument must be a list or tuple")),
    };
    let value = args.get(1).unwrap_or(&Value::Null);
    items
        .iter()
        .position(|item| values_equal(item, value))
        .map(|i| Value::int(i as i64))
        .ok_or_else(|| Fail::call("item not found"))
}

pub(super) fn keys(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    match args.first() {
        Some(Value::Object(map)) => Ok(Value::Tuple(map.keys().map(Value::string).collect())),
        Some(Value::Map(map)) => Ok(Value::List(map.keys().map(Value::string).collect())),
        _ => Err(Fail::arg(0, "must have map or object type")),
    }
}

pub(super) fn values(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    match args.first() {
        Some(Value::Object(map)) => Ok(Value::Tuple(map.values().cloned().collect())),
        Some(Value::Map(map)) => Ok(Value::List(map.values().cloned().collect())),
        _ => Err(Fail::call("values() requires a map as the first argument")),
    }
}

pub(super) fn length(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let count = match args.first().map(Value::unmarked) {
        Some(Value::Unknown) => return Ok(Value::Unknown),
        Some(Value::String(s)) => graphemes(s).len(),
        Some(Value::Tuple(items)) => items.len(),
        // A list or set containing unknowns may still be known to be empty or not.
        Some(Value::List(items) | Value::Set(items))
            if items.iter().any(Value::contains_unknown) =>
        {
            return Ok(Value::Unknown);
        }
        Some(Value::List(items) | Value::Set(items)) => items.len(),
        Some(Value::Object(map) | Value::Map(map)) => map.len(),
        _ => {
            return Err(Fail::call(
                "argument must be a string, a collection type, or a structural type.",
            ));
        }
    };
    Ok(Value::int(count as i64))
}

pub(super) fn lookup(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    if args.len() > 3 {
        return Err(Fail::call("lookup() takes no more than three arguments"));
    }
    let key = string_arg(&args, 1)?;
    let default = args.get(2);
    let found = match args.first() {
        Some(Value::Object(map) | Value::Map(map)) => map.get(&key).cloned(),
        _ => return Err(Fail::arg(0, "the first argument must be a map or object")),
    };
    match (found, default) {
        (Some(value), Some(default)) if matches!(args.first(), Some(Value::Map(_))) => {
            let unified = unify_values(vec![value.clone(), default.clone()]);
            Ok(unified
                .and_then(|mut values| values.drain(..1).next())
                .unwrap_or(value))
        }
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(Fail::call(format!("lookup failed to find key {key:?}"))),
    }
}

pub(super) fn matchkeys(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let values = list_arg(&args, 0, Type::Any)?;
    let keys = list_arg(&args, 1, Type::Any)?;
    let searchset = list_arg(&args, 2, Type::Any)?;
    if values.len() != keys.len() {
        return Err(Fail::call("length of keys and values should be equal"));
    }
    let keys = unify_values(keys.into_iter().chain(searchset.iter().cloned()).collect())
        .ok_or_else(|| Fail::arg(2, "search set must be of the same type as the given keys"))?;
    let (keys, searchset) = keys.split_at(values.len());
    Ok(Value::List(
        values
            .into_iter()
            .zip(keys)
            .filter(|(_, key)| searchset.contains(key))
            .map(|(value, _)| value)
            .collect(),
    ))
}

pub(super) fn merge(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let mut merged = BTreeMap::new();
    let mut all_maps = true;
    for arg in &args {
        match arg {
            Value::Null => {}
            Value::Map(map) => merged.extend(map.clone()),
            Value::Object(map) => {
                all_maps = false;
                merged.extend(map.clone());
            }
            other => {
                return Err(Fail::call(format!(
                    "arguments must be maps or objects, got {:?}",
                    other.type_name()
                )));
            }
        }
    }
    let values: Vec<Value> = merged.values().cloned().collect();
    Ok(
        if all_maps && !args.iter().all(Value::is_null) && is_homogeneous(&values) {
            Value::Map(merged)
        } else {
            Value::Object(merged)
        },
    )
}

pub(super) fn one(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let items = match args.first() {
        Some(Value::Tuple(items) | Value::List(items) | Value::Set(items)) => items,
        _ => {
            return Err(Fail::arg(
                0,
                "must be a list, set, or tuple value with either zero or one elements.",
            ));
        }
    };
    match items.as_slice() {
        [] => Ok(Value::Null),
        [item] => Ok(item.clone()),
        _ => Err(Fail::arg(
            0,
            "must be a list, set, or tuple value with either zero or one elements.",
        )),
    }
}

pub(super) fn range(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let mut numbers = Vec::new();
    for i in 0..args.len() {
        numbers.push(super::number_arg(&args, i)?);
    }
    let zero = Number::Int(0);
    let (start, end, step) = match numbers.as_slice() {
        [end] => (
            zero,
            *end,
            if *end < zero {
                Number::Int(-1)
            } else {
                Number::Int(1)
            },
        ),
        [start, end] => (
            *start,
            *end,
            if end < start {
                Number::Int(-1)
            } else {
                Number::Int(1)
            },
        ),
        [start, end, step] => (*start, *end, *step),
        _ => return Err(Fail::call("must have one, two, or three arguments")),
    };
    if step == zero {
        return Err(Fail::arg(2, "step must not be zero"));
    }
    let down = step < zero;
    if down && end > start {
        return Err(Fail::arg(
            1,
            "end must be less than start when step is negative",
        ));
    }
    if !down && end < start {
        return Err(Fail::arg(
            1,
            "end must be greater than start when step is positive",
        ));
    }
    let mut values = Vec::new();
    let mut n = start;
    while if down { n > end } else { n < end } {
        if values.len() >= 1024 {
            return Err(Fail::call(
                "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step",
            ));
        }
        values.push(Value::Number(n));
        n = super::numeric::add(n, step);
    }
    Ok(Value::List(values))
}

pub(super) fn reverse(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    match args.into_iter().next() {
        Some(Value::Tuple(items)) => Ok(Value::Tuple(items.into_iter().rev().collect())),
        Some(Value::List(items) | Value::Set(items)) => {
            Ok(Value::List(items.into_iter().rev().collect()))
        }
        _ => Err(Fail::arg(0, "can only reverse list or tuple values")),
    }
}

/// Reads every argument as a set and gives all their elements one type.
fn set_args(args: &[Value]) -> Result<Vec<Vec<Value>>, Fail> {
    let mut sets = Vec::new();
    let mut all = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let items = arg
            .as_sequence()
            .ok_or_else(|| Fail::arg(i, "a set of any single type is required."))?;
        sets.push(items.len());
        all.extend(items.iter().cloned());
    }
    let mut all = unify_values(all)
        .ok_or_else(|| Fail::call("given sets must all have compatible element types"))?;
    let mut out = Vec::new();
    for len in sets {
        let rest = all.split_off(len);
        out.push(std::mem::replace(&mut all, rest));
    }
    Ok(out)
}

pub(super) fn setunion(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    Ok(Value::new_set(
        set_args(&args)?.into_iter().flatten().collect(),
    ))
}

pub(super) fn setintersection(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let mut sets = set_args(&args)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let others: Vec<Vec<Value>> = sets.collect();
    Ok(Value::new_set(
        first
            .into_iter()
            .filter(|item| others.iter().all(|set| set.contains(item)))
            .collect(),
    ))
}

pub(super) fn setsubtract(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let mut sets = set_args(&args)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let others: Vec<Vec<Value>> = sets.collect();
    Ok(Value::new_set(
        first
            .into_iter()
            .filter(|item| !others.iter().any(|set| set.contains(item)))
            .collect(),
    ))
}

pub(super) fn setproduct(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    if args.len() < 2 {
        return Err(Fail::call("at least two arguments are required"));
    }
    let mut lists = Vec::new();
    for i in 0..args.len() {
        let items = sequence_arg(&args, i)?;
        lists.push(unify_list(i, items)?);
    }
    let mut products: Vec<Vec<Value>> = vec![vec![]];
    for list in &lists {
        products = products
            .into_iter()
            .flat_map(|prefix| {
                list.iter().map(move |item| {
                    let mut row = prefix.clone();
                    row.push(item.clone());
                    row
                })
            })
            .collect();
    }
    let rows: Vec<Value> = products.into_iter().map(Value::Tuple).collect();
    Ok(if args.iter().all(|arg| matches!(arg, Value::Set(_))) {
        Value::new_set(rows)
    } else {
        Value::List(rows)
    })
}

pub(super) fn slice(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let start = int_arg(&args, 1)?;
    let end = int_arg(&args, 2)?;
    let (items, is_tuple) = match args.first() {
        Some(Value::Tuple(items)) => (items, true),
        Some(Value::List(items)) => (items, false),
        _ => return Err(Fail::arg(0, "must be a list or tuple value")),
    };
    if start < 0 {
        return Err(Fail::arg(1, "start index must not be less than zero"));
    }
    if end > items.len() as i64 {
        return Err(Fail::arg(
            2,
            "end index must not be greater than the length of the list",
        ));
    }
    if start > end {
        return Err(Fail::arg(
            1,
            "start index must not be greater than end index",
        ));
    }
    let part = items
        .get(start as usize..end as usize)
        .unwrap_or_default()
        .to_vec();
    Ok(if is_tuple {
        Value::Tuple(part)
    } else {
        Value::List(part)
    })
}

pub(super) fn sort(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let mut items = string_list_arg(&args, 0)?;
    items.sort();
    Ok(Value::List(items.into_iter().map(Value::String).collect()))
}

pub(super) fn transpose(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let map = match super::convert_arg(
        &args,
        0,
        &Type::Map(Box::new(Type::List(Box::new(Type::String)))),
    )? {
        Value::Map(map) => map,
        _ => return Err(Fail::arg(0, "map of list of string required.")),
    };
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (key, list) in map {
        for item in list.as_sequence().unwrap_or_default() {
            match item.as_str() {
                Some(s) => out
                    .entry(s.to_string())
                    .or_default()
                    .push(Value::string(key.clone())),
                None => return Err(Fail::arg(0, "input must not contain null list elements")),
            }
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

pub(super) fn zipmap(args: Vec<Value>, _: &FuncContext<'_>) -> Result<Value, Fail> {
    let keys = string_list_arg(&args, 0)?;
    let (values, is_tuple) = match args.get(1) {
        Some(Value::Tuple(items)) => (items.clone(), true),
        Some(Value::List(items)) => (items.clone(), false),
        _ => return Err(Fail::arg(1, "must be a list or tuple value")),
    };
    if keys.len() != values.len() {
        return Err(Fail::call(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            values.len()
        )));
    }
    let map: BTreeMap<String, Value> = keys.into_iter().zip(values).collect();
    Ok(if is_tuple {
        Value::Object(map)
    } else {
        Value::Map(map)
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    use super::*;

    fn check(name: &str, args: Vec<Value>, expected: Result<Value, &str>) {
        assert_eq!(call_str(name, args), expected.map_err(str::to_string));
    }

    #[test]
    fn alltrue_empty() {
        check("alltrue", vec![t(vec![])], Ok(Value::Bool(true)));
    }

    #[test]
    fn alltrue_string_true() {
        check(
            "alltrue",
            vec![t(vec![s("true"), Value::Bool(true)])],
            Ok(Value::Bool(true)),
        );
    }

    #[test]
    fn anytrue_one() {
        check(
            "anytrue",
            vec![t(vec![Value::Bool(false), Value::Bool(true)])],
            Ok(Value::Bool(true)),
        );
    }

    #[test]
    fn chunklist_pairs() {
        check(
            "chunklist",
            vec![t(vec![i(1), i(2), i(3)]), i(2)],
            Ok(l(vec![l(vec![i(1), i(2)]), l(vec![i(3)])])),
        );
    }

    #[test]
    fn chunklist_zero_size() {
        check(
            "chunklist",
            vec![t(vec![i(1), i(2)]), i(0)],
            Ok(l(vec![l(vec![i(1), i(2)])])),
        );
    }

    #[test]
    fn coalesce_skips_empty_strings() {
        check("coalesce", vec![s(""), s("b")], Ok(s("b")));
    }

    #[test]
    fn coalesce_converts_to_string() {
        check("coalesce", vec![i(1), s("x")], Ok(s("1")));
    }

    #[test]
    fn coalesce_nothing() {
        check(
            "coalesce",
            vec![Value::Null, s("")],
            Err("Call to function \"coalesce\" failed: no non-null, non-empty-string arguments"),
        );
    }

    #[test]
    fn coalesce_known_before_unknown() {
        check("coalesce", vec![s("a"), Value::Unknown], Ok(s("a")));
    }

    #[test]
    fn coalesce_unknown_first() {
        check("coalesce", vec![Value::Unknown, s("a")], Ok(Value::Unknown));
    }

    #[test]
    fn coalescelist_first_non_empty() {
        check(
            "coalescelist",
            vec![t(vec![]), t(vec![s("a")])],
            Ok(t(vec![s("a")])),
        );
    }

    #[test]
    fn compact_drops_empty_and_null() {
        check(
            "compact",
            vec![t(vec![s("a"), s(""), Value::Null, s("b")])],
            Ok(l(vec![s("a"), s("b")])),
        );
    }

    #[test]
    fn concat_tuples() {
        check(
            "concat",
            vec![t(vec![i(1)]), t(vec![s("x")])],
            Ok(t(vec![i(1), s("x")])),
        );
    }

    #[test]
    fn concat_lists() {
        check(
            "concat",
            vec![l(vec![s("a")]), l(vec![s("b")])],
            Ok(l(vec![s("a"), s("b")])),
        );
    }

    #[test]
    fn concat_scalar_fails() {
        check(
            "concat",
            vec![t(vec![i(1)]), s("x")],
            Err(
                "Invalid value for \"seqs\" parameter: all arguments must be lists or tuples; got string",
            ),
        );
    }

    #[test]
    fn contains_is_type_strict() {
        check(
            "contains",
            vec![t(vec![i(1)]), s("1")],
            Ok(Value::Bool(false)),
        );
    }

    #[test]
    fn distinct_keeps_first() {
        check(
            "distinct",
            vec![t(vec![s("b"), s("a"), s("b")])],
            Ok(l(vec![s("b"), s("a")])),
        );
    }

    #[test]
    fn element_wraps() {
        check(
            "element",
            vec![t(vec![s("a"), s("b"), s("c")]), i(5)],
            Ok(s("c")),
        );
    }

    #[test]
    fn element_negative() {
        check(
            "element",
            vec![t(vec![s("a")]), i(-1)],
            Err(
                "Call to function \"element\" failed: cannot use element function with a negative index",
            ),
        );
    }

    #[test]
    fn flatten_nested() {
        check(
            "flatten",
            vec![t(vec![t(vec![i(1), t(vec![i(2)])]), t(vec![]), i(3)])],
            Ok(t(vec![i(1), i(2), i(3)])),
        );
    }

    #[test]
    fn index_found() {
        check("index", vec![t(vec![s("a"), s("b")]), s("b")], Ok(i(1)));
    }

    #[test]
    fn keys_of_object_is_tuple() {
        check(
            "keys",
            vec![obj(&[("b", i(1)), ("a", i(2))])],
            Ok(t(vec![s("a"), s("b")])),
        );
    }

    #[test]
    fn keys_of_map_is_list() {
        check("keys", vec![map(&[("a", i(1))])], Ok(l(vec![s("a")])));
    }

    #[test]
    fn values_of_object() {
        check(
            "values",
            vec![obj(&[("b", i(1)), ("a", s("x"))])],
            Ok(t(vec![s("x"), i(1)])),
        );
    }

    #[test]
    fn length_of_string_counts_clusters() {
        check("length", vec![s("he\u{301}llo")], Ok(i(5)));
    }

    #[test]
    fn length_of_tuple_with_unknown() {
        check("length", vec![t(vec![Value::Unknown, i(1)])], Ok(i(2)));
    }

    #[test]
    fn length_of_number_fails() {
        check(
            "length",
            vec![i(5)],
            Err(
                "Call to function \"length\" failed: argument must be a string, a collection type, or a structural type.",
            ),
        );
    }

    #[test]
    fn lookup_default() {
        check(
            "lookup",
            vec![obj(&[("a", i(1))]), s("z"), s("d")],
            Ok(s("d")),
        );
    }

    #[test]
    fn lookup_missing() {
        check(
            "lookup",
            vec![obj(&[("a", i(1))]), s("z")],
            Err("Call to function \"lookup\" failed: lookup failed to find key \"z\""),
        );
    }

    #[test]
    fn matchkeys_filters() {
        check(
            "matchkeys",
            vec![
                t(vec![s("a"), s("b"), s("c")]),
                t(vec![i(1), i(2), i(3)]),
                t(vec![i(1), i(3)]),
            ],
            Ok(l(vec![s("a"), s("c")])),
        );
    }

    #[test]
    fn merge_objects() {
        check(
            "merge",
            vec![
                obj(&[("a", i(1))]),
                Value::Null,
                obj(&[("a", i(3)), ("b", i(2))]),
            ],
            Ok(obj(&[("a", i(3)), ("b", i(2))])),
        );
    }

    #[test]
    fn merge_maps() {
        check(
            "merge",
            vec![map(&[("a", s("x"))]), map(&[("b", s("y"))])],
            Ok(map(&[("a", s("x")), ("b", s("y"))])),
        );
    }

    #[test]
    fn merge_nothing() {
        check("merge", vec![], Ok(obj(&[])));
    }

    #[test]
    fn one_empty_is_null() {
        check("one", vec![t(vec![])], Ok(Value::Null));
    }

    #[test]
    fn one_too_many() {
        check(
            "one",
            vec![t(vec![i(1), i(2)])],
            Err(
                "Invalid value for \"list\" parameter: must be a list, set, or tuple value with either zero or one elements.",
            ),
        );
    }

    #[test]
    fn range_down() {
        check(
            "range",
            vec![i(5), i(0), i(-2)],
            Ok(l(vec![i(5), i(3), i(1)])),
        );
    }

    #[test]
    fn range_implicit_down() {
        check("range", vec![i(1), i(0)], Ok(l(vec![i(1)])));
    }

    #[test]
    fn range_fractional_step() {
        check(
            "range",
            vec![i(1), i(2), Value::float(0.5)],
            Ok(l(vec![i(1), Value::float(1.5)])),
        );
    }

    #[test]
    fn range_wrong_direction() {
        check(
            "range",
            vec![i(0), i(1), i(-1)],
            Err(
                "Invalid value for \"params\" parameter: end must be less than start when step is negative",
            ),
        );
    }

    #[test]
    fn reverse_list() {
        check(
            "reverse",
            vec![l(vec![s("a"), s("b")])],
            Ok(l(vec![s("b"), s("a")])),
        );
    }

    #[test]
    fn setunion_unifies() {
        check(
            "setunion",
            vec![t(vec![i(1)]), t(vec![s("x")])],
            Ok(set(vec![s("1"), s("x")])),
        );
    }

    #[test]
    fn setintersection_common() {
        check(
            "setintersection",
            vec![t(vec![s("a"), s("b")]), t(vec![s("b"), s("c")])],
            Ok(set(vec![s("b")])),
        );
    }

    #[test]
    fn setsubtract_removes() {
        check(
            "setsubtract",
            vec![t(vec![s("a"), s("b")]), t(vec![s("b")])],
            Ok(set(vec![s("a")])),
        );
    }

    #[test]
    fn setproduct_pairs() {
        check(
            "setproduct",
            vec![t(vec![s("a")]), t(vec![i(1), i(2)])],
            Ok(l(vec![t(vec![s("a"), i(1)]), t(vec![s("a"), i(2)])])),
        );
    }

    #[test]
    fn slice_middle() {
        check(
            "slice",
            vec![t(vec![s("a"), s("b"), s("c")]), i(1), i(2)],
            Ok(t(vec![s("b")])),
        );
    }

    #[test]
    fn slice_past_end() {
        check(
            "slice",
            vec![t(vec![i(1)]), i(0), i(2)],
            Err(
                "Invalid value for \"end_index\" parameter: end index must not be greater than the length of the list",
            ),
        );
    }

    #[test]
    fn sort_lexical() {
        check(
            "sort",
            vec![t(vec![i(10), i(9), s("a")])],
            Ok(l(vec![s("10"), s("9"), s("a")])),
        );
    }

    #[test]
    fn transpose_swaps() {
        check(
            "transpose",
            vec![obj(&[
                ("a", t(vec![s("1"), s("2")])),
                ("b", t(vec![s("2")])),
            ])],
            Ok(map(&[
                ("1", l(vec![s("a")])),
                ("2", l(vec![s("a"), s("b")])),
            ])),
        );
    }

    #[test]
    fn zipmap_tuple_values_give_object() {
        check(
            "zipmap",
            vec![t(vec![s("a")]), t(vec![i(1)])],
            Ok(obj(&[("a", i(1))])),
        );
    }

    #[test]
    fn zipmap_length_mismatch() {
        check(
            "zipmap",
            vec![t(vec![s("a"), s("b")]), t(vec![i(1)])],
            Err(
                "Call to function \"zipmap\" failed: number of keys (2) does not match number of values (1)",
            ),
        );
    }
}
