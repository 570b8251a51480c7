//! The value type of the language: what every expression evaluates to.
//!
//! Values mirror Terraform's type system closely enough that `terraform console`
//! and `yagura console` print the same thing: tuples and lists, objects and maps
//! and sets are distinct, numbers keep integers exact, a value may be unknown
//! (known only after apply) and may carry the sensitive mark.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// A number: integers stay exact, everything else is a 64-bit float.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// Builds a number from a float, keeping it an integer when it is one.
    pub fn from_f64(f: f64) -> Number {
        if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    /// Returns the number as an integer when it has no fractional part.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(i),
            Number::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 9.2e18 => {
                Some(f as i64)
            }
            Number::Float(_) => None,
        }
    }

    pub fn is_integer(self) -> bool {
        self.as_i64().is_some()
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            _ => self.as_f64() == other.as_f64(),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

impl fmt::Display for Number {
    /// Formats like Go's `strconv.FormatFloat(f, 'f', -1, 64)`, which is what
    /// Terraform prints: the shortest digits that round-trip, never an exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => f.write_str(&format_float(x)),
        }
    }
}

/// Formats a float positionally with the shortest round-trip digits.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    // `{:e}` gives the shortest round-trip mantissa digits and a decimal exponent.
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let point = exponent + 1; // position of the decimal point within `digits`
    let body = if point <= 0 {
        format!("0.{}{}", "0".repeat((-point) as usize), digits)
    } else if point as usize >= digits.len() {
        format!("{}{}", digits, "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// A value of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    /// Known only after apply.
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    /// `[a, b]`: a sequence whose elements may have different types.
    Tuple(Vec<Value>),
    /// `tolist(...)`: a sequence of one element type.
    List(Vec<Value>),
    /// `toset(...)`: sorted and without duplicates.
    Set(Vec<Value>),
    /// `{ a = 1 }`: attributes whose values may have different types.
    Object(BTreeMap<String, Value>),
    /// `tomap(...)`: keys to values of one type.
    Map(BTreeMap<String, Value>),
    /// The sensitive mark: printed as `(sensitive value)`, never shown.
    Sensitive(Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    pub fn float(f: f64) -> Value {
        Value::Number(Number::from_f64(f))
    }

    /// Wraps a value in the sensitive mark (once).
    pub fn sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Sensitive(inner) => inner.is_null(),
            _ => false,
        }
    }

    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(inner) => inner.is_unknown(),
            _ => false,
        }
    }

    /// Returns true when the value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(inner) => inner.contains_unknown(),
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                items.iter().any(Value::contains_unknown)
            }
            Value::Object(map) | Value::Map(map) => map.values().any(Value::contains_unknown),
            _ => false,
        }
    }

    pub fn is_sensitive(&self) -> bool {
        matches!(self, Value::Sensitive(_))
    }

    /// Returns true when the value or anything inside it carries the sensitive mark.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                items.iter().any(Value::contains_sensitive)
            }
            Value::Object(map) | Value::Map(map) => map.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// Removes the top-level sensitive mark, returning the value and whether it had one.
    pub fn unmark(self) -> (Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark().0, true),
            other => (other, false),
        }
    }

    /// Removes every sensitive mark, returning the value and whether it had any.
    pub fn unmark_deep(self) -> (Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark_deep().0, true),
            Value::Tuple(items) => {
                let (items, marked) = unmark_items(items);
                (Value::Tuple(items), marked)
            }
            Value::List(items) => {
                let (items, marked) = unmark_items(items);
                (Value::List(items), marked)
            }
            Value::Set(items) => {
                let (items, marked) = unmark_items(items);
                (Value::Set(items), marked)
            }
            Value::Object(map) => {
                let (map, marked) = unmark_map(map);
                (Value::Object(map), marked)
            }
            Value::Map(map) => {
                let (map, marked) = unmark_map(map);
                (Value::Map(map), marked)
            }
            other => (other, false),
        }
    }

    /// Borrows through the sensitive mark.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(inner) => inner.unmarked(),
            other => other,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.unmarked() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.unmarked() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<Number> {
        match self.unmarked() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements of a tuple, list or set.
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self.unmarked() {
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    /// The attributes of an object or the entries of a map.
    pub fn as_mapping(&self) -> Option<&BTreeMap<String, Value>> {
        match self.unmarked() {
            Value::Object(map) | Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// Looks up an attribute of an object or map.
    pub fn get_attr(&self, name: &str) -> Option<&Value> {
        self.as_mapping().and_then(|m| m.get(name))
    }

    /// The name Terraform gives the value's type in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Object(_) => "object",
            Value::Map(_) => "map",
            Value::Sensitive(inner) => inner.type_name(),
        }
    }

    /// The key and value of each element, as `for` iterates them: list indices,
    /// set elements as their own keys, map keys. `None` for non-collections.
    pub fn into_pairs(self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Tuple(items) | Value::List(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (Value::int(i as i64), v))
                    .collect(),
            ),
            Value::Set(items) => Some(items.into_iter().map(|v| (v.clone(), v)).collect()),
            Value::Object(map) | Value::Map(map) => Some(
                map.into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect(),
            ),
            Value::Sensitive(inner) => inner.into_pairs(),
            _ => None,
        }
    }

    /// Builds a set: sorts and removes duplicates, as Terraform orders set elements.
    pub fn new_set(mut items: Vec<Value>) -> Value {
        items.sort_by(compare_for_set);
        items.dedup();
        Value::Set(items)
    }

    /// Converts to JSON, dropping marks; unknown values become null.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(Number::Int(i)) => serde_json::Value::from(*i),
            Value::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) | Value::Map(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::Sensitive(inner) => inner.to_json(),
        }
    }

    /// Converts from JSON the way `jsondecode` does: arrays are tuples, objects are objects.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::int(i),
                None => Value::float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Tuple(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

fn unmark_items(items: Vec<Value>) -> (Vec<Value>, bool) {
    let mut any = false;
    let items = items
        .into_iter()
        .map(|v| {
            let (v, m) = v.unmark_deep();
            any |= m;
            v
        })
        .collect();
    (items, any)
}

fn unmark_map(map: BTreeMap<String, Value>) -> (BTreeMap<String, Value>, bool) {
    let mut any = false;
    let map = map
        .into_iter()
        .map(|(k, v)| {
            let (v, m) = v.unmark_deep();
            any |= m;
            (k, v)
        })
        .collect();
    (map, any)
}

/// Orders set elements as Terraform does: strings lexically, numbers numerically,
/// and otherwise by type, then by their JSON text.
pub fn compare_for_set(a: &Value, b: &Value) -> Ordering {
    match (a.unmarked(), b.unmarked()) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (x, y) => x
            .type_name()
            .cmp(y.type_name())
            .then_with(|| x.to_json().to_string().cmp(&y.to_json().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_float(x: f64, expected: &str) {
        assert_eq!(format_float(x), expected);
    }

    #[test]
    fn floats_print_like_terraform() {
        check_float(1e21, "1000000000000000000000");
        check_float(1e-7, "0.0000001");
        check_float(2.5, "2.5");
        check_float(-0.125, "-0.125");
        check_float(2e20, "200000000000000000000");
        check_float(0.1 + 0.2, "0.30000000000000004");
    }

    #[test]
    fn numbers_compare_across_representations() {
        assert_eq!(Number::Int(2), Number::Float(2.0));
        assert_eq!(Number::from_f64(4.0), Number::Int(4));
    }

    #[test]
    fn sets_are_sorted_and_deduplicated() {
        let set = Value::new_set(vec![
            Value::string("b"),
            Value::string("a"),
            Value::string("b"),
        ]);
        assert_eq!(
            set,
            Value::Set(vec![Value::string("a"), Value::string("b")])
        );
    }
}
