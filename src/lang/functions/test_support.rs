//! Shorthands shared by the functions' unit tests.

use std::path::Path;

use super::{FuncContext, call};
use crate::lang::Value;

/// Calls a function from the module directory `.`, with the error as text.
pub fn call_in(dir: &Path, name: &str, args: Vec<Value>) -> Result<Value, String> {
    let render = |_: &str, _: &Path, _: Value| Ok(Value::Null);
    let ctx = FuncContext {
        base_dir: dir,
        render_template: &render,
    };
    call(name, args, &ctx).map_err(|e| e.to_string())
}

/// Calls a function from the module directory `.`.
pub fn call_str(name: &str, args: Vec<Value>) -> Result<Value, String> {
    call_in(Path::new("."), name, args)
}

pub fn s(x: &str) -> Value {
    Value::string(x)
}

pub fn i(x: i64) -> Value {
    Value::int(x)
}

pub fn t(items: Vec<Value>) -> Value {
    Value::Tuple(items)
}

pub fn l(items: Vec<Value>) -> Value {
    Value::List(items)
}

pub fn set(items: Vec<Value>) -> Value {
    Value::Set(items)
}

pub fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}
