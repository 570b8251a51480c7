//! Type constraints (`string`, `list(string)`, `object({...})`, `optional(...)`)
//! and the conversions Terraform applies when a value meets one.

use std::collections::BTreeMap;

use super::value::{Number, Value};

/// A type constraint of a `variable` or a conversion function.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    Object(BTreeMap<String, ObjectAttr>),
}

/// One attribute of an `object({...})` type.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectAttr {
    pub ty: Type,
    /// `optional(T)` or `optional(T, default)`.
    pub optional: bool,
    pub default: Option<Value>,
}

impl std::fmt::Display for Type {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Tuple(ts) => {
                f.write_str("tuple([")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
            Type::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (name, attr)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if attr.optional {
                        write!(f, "{name} = optional({})", attr.ty)?;
                    } else {
                        write!(f, "{name} = {}", attr.ty)?;
                    }
                }
                f.write_str("})")
            }
        }
    }
}

/// Converts a value to a type the way Terraform does for variables and the
/// `to*` functions. The error is a short phrase fit for "invalid value: ...".
pub fn convert(value: Value, ty: &Type) -> Result<Value, String> {
    convert_at(value, ty, &mut Vec::new())
}

fn convert_at(value: Value, ty: &Type, path: &mut Vec<String>) -> Result<Value, String> {
    let (value, marked) = value.unmark();
    let converted = convert_unmarked(value, ty, path)?;
    Ok(if marked {
        converted.sensitive()
    } else {
        converted
    })
}

fn at(path: &[String]) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {}", path.join(""))
    }
}

fn convert_unmarked(value: Value, ty: &Type, path: &mut Vec<String>) -> Result<Value, String> {
    if matches!(value, Value::Null | Value::Unknown) {
        return Ok(value);
    }
    match ty {
        Type::Any => Ok(value),
        Type::String => match value {
            Value::String(_) => Ok(value),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(format!(
                "string required, but have {}{}",
                other.type_name(),
                at(path)
            )),
        },
        Type::Number => match value {
            Value::Number(_) => Ok(value),
            Value::String(s) => parse_number(&s)
                .map(Value::Number)
                .ok_or_else(|| format!("a number is required, but have string {s:?}{}", at(path))),
            other => Err(format!(
                "number required, but have {}{}",
                other.type_name(),
                at(path)
            )),
        },
        Type::Bool => match value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s == "true" || s == "1" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" || s == "0" => Ok(Value::Bool(false)),
            Value::String(s) => Err(format!(
                "a bool is required, but have string {s:?}{}",
                at(path)
            )),
            other => Err(format!(
                "bool required, but have {}{}",
                other.type_name(),
                at(path)
            )),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = match value {
                Value::Tuple(items) | Value::List(items) | Value::Set(items) => items,
                other => {
                    let want = if matches!(ty, Type::List(_)) {
                        "list"
                    } else {
                        "set"
                    };
                    return Err(format!(
                        "{want} of {elem} required, but have {}{}",
                        other.type_name(),
                        at(path)
                    ));
                }
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(format!("[{i}]"));
                out.push(convert_at(item, elem, path)?);
                path.pop();
            }
            let out = if **elem == Type::Any {
                unify_elements(out, path)?
            } else {
                out
            };
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(out)
            } else {
                Value::new_set(out)
            })
        }
        Type::Map(elem) => {
            let map = match value {
                Value::Object(map) | Value::Map(map) => map,
                other => {
                    return Err(format!(
                        "map of {elem} required, but have {}{}",
                        other.type_name(),
                        at(path)
                    ));
                }
            };
            let mut out = BTreeMap::new();
            for (k, v) in map {
                path.push(format!("[{k:?}]"));
                let v = convert_at(v, elem, path)?;
                path.pop();
                out.insert(k, v);
            }
            if **elem == Type::Any {
                let keys: Vec<String> = out.keys().cloned().collect();
                let values = unify_elements(out.into_values().collect(), path)?;
                out = keys.into_iter().zip(values).collect();
            }
            Ok(Value::Map(out))
        }
        Type::Tuple(types) => {
            let items = match value {
                Value::Tuple(items) | Value::List(items) | Value::Set(items) => items,
                other => {
                    return Err(format!(
                        "tuple required, but have {}{}",
                        other.type_name(),
                        at(path)
                    ));
                }
            };
            if items.len() != types.len() {
                return Err(format!(
                    "tuple of {} elements required, but have {}{}",
                    types.len(),
                    items.len(),
                    at(path)
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, t)) in items.into_iter().zip(types).enumerate() {
                path.push(format!("[{i}]"));
                out.push(convert_at(item, t, path)?);
                path.pop();
            }
            Ok(Value::Tuple(out))
        }
        Type::Object(attrs) => {
            let mut map = match value {
                Value::Object(map) | Value::Map(map) => map,
                other => {
                    return Err(format!(
                        "object required, but have {}{}",
                        other.type_name(),
                        at(path)
                    ));
                }
            };
            let mut out = BTreeMap::new();
            for (name, attr) in attrs {
                path.push(format!(".{name}"));
                let v = match map.remove(name) {
                    Some(Value::Null) | None if attr.optional => match &attr.default {
                        Some(default) => convert_at(default.clone(), &attr.ty, path)?,
                        None => Value::Null,
                    },
                    Some(v) => convert_at(v, &attr.ty, path)?,
                    None => {
                        path.pop();
                        return Err(format!("attribute {name:?} is required{}", at(path)));
                    }
                };
                path.pop();
                out.insert(name.clone(), v);
            }
            Ok(Value::Object(out))
        }
    }
}

/// Unifies the elements of a `list(any)`, `set(any)` or `map(any)`; an error
/// when they have no common type, as Terraform reports it.
fn unify_elements(items: Vec<Value>, path: &[String]) -> Result<Vec<Value>, String> {
    let empty = items.is_empty();
    match unify_values(items) {
        Some(items) => Ok(items),
        None if empty => Ok(Vec::new()),
        None => Err(format!("all elements must have the same type{}", at(path))),
    }
}

// Unification follows cty's `convert.Unify`: strings absorb numbers and bools,
// objects with different attributes become maps, tuples of different lengths
// become lists. `convert` then converts each value to the unified type.

/// The type of a value, with `Any` for null and unknown values.
pub fn type_of(value: &Value) -> Type {
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
pub fn unify(types: &[Type]) -> Option<Type> {
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
pub fn unify_values(values: Vec<Value>) -> Option<Vec<Value>> {
    let types: Vec<Type> = values.iter().map(type_of).collect();
    let ty = unify(&types)?;
    values.into_iter().map(|v| convert(v, &ty).ok()).collect()
}

/// Parses a number the way Terraform converts a string to a number.
pub fn parse_number(s: &str) -> Option<Number> {
    if s.is_empty() {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(Number::from_f64(f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: Value, ty: Type, expected: Result<Value, &str>) {
        assert_eq!(convert(value, &ty), expected.map_err(str::to_string));
    }

    #[test]
    fn primitives_convert_like_terraform() {
        check(Value::int(5), Type::String, Ok(Value::string("5")));
        check(Value::string("2.5"), Type::Number, Ok(Value::float(2.5)));
        check(Value::string("true"), Type::Bool, Ok(Value::Bool(true)));
        check(
            Value::string("yes"),
            Type::Bool,
            Err("a bool is required, but have string \"yes\""),
        );
    }

    #[test]
    fn optional_attributes_take_defaults() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "a".to_string(),
            ObjectAttr {
                ty: Type::String,
                optional: false,
                default: None,
            },
        );
        attrs.insert(
            "b".to_string(),
            ObjectAttr {
                ty: Type::Number,
                optional: true,
                default: Some(Value::int(3)),
            },
        );
        let mut input = BTreeMap::new();
        input.insert("a".to_string(), Value::string("x"));
        input.insert("extra".to_string(), Value::Bool(true));
        let mut expected = BTreeMap::new();
        expected.insert("a".to_string(), Value::string("x"));
        expected.insert("b".to_string(), Value::int(3));
        check(
            Value::Object(input),
            Type::Object(attrs.clone()),
            Ok(Value::Object(expected)),
        );
        check(
            Value::Object(BTreeMap::new()),
            Type::Object(attrs),
            Err("attribute \"a\" is required"),
        );
    }

    #[test]
    fn list_of_any_unifies_primitives() {
        check(
            Value::Tuple(vec![Value::int(1), Value::string("a")]),
            Type::List(Box::new(Type::Any)),
            Ok(Value::List(vec![Value::string("1"), Value::string("a")])),
        );
    }
}
