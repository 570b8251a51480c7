//! The patch formats of PATCH requests other than server-side apply: JSON merge
//! patches (RFC 7386, with the strategic merge patch directives kubectl writes)
//! and JSON patches (RFC 6902).

use serde_json::{Value, json};

use crate::errors::{ApiError, Reason};

/// Applies a JSON merge patch (RFC 7386) in place. Of the strategic merge patch
/// directives, `$setElementOrder/…` and `$retainKeys` are ignored and
/// `$patch: replace` / `$patch: delete` on a map are honoured; others are refused.
pub fn merge(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch.clone();
            if let Some(map) = replacement.as_object_mut() {
                map.remove("$patch");
            }
            *target = replacement;
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch directive $patch: {other:?}"
            )));
        }
        None => {}
    }
    if !target.is_object() {
        *target = json!({});
    }
    let target_map = target.as_object_mut().expect("made an object just above");
    for (key, value) in patch_map {
        if key.starts_with("$setElementOrder/") || key == "$retainKeys" {
            continue;
        }
        if key.starts_with('$') {
            return Err(ApiError::bad_request(format!(
                "fake-kube does not support the strategic merge patch directive {key}"
            )));
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        let entry = target_map.entry(key.clone()).or_insert(Value::Null);
        merge(entry, value)?;
        if entry.is_null() {
            target_map.remove(key);
        }
    }
    Ok(())
}

/// Applies a JSON patch (RFC 6902): `add`, `remove`, `replace`, `move`, `copy`
/// and `test` operations on JSON pointers, in order; the first failing one fails
/// the patch with a 422, as the apiserver answers it.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let operations = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array of operations"))?;
    for operation in operations {
        apply_operation(target, operation).map_err(|message| {
            ApiError::new(
                Reason::Invalid,
                format!(
                    "the server rejected our request due to an error in our request: {message}"
                ),
            )
        })?;
    }
    Ok(())
}

fn apply_operation(target: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation["op"]
        .as_str()
        .ok_or("an operation has no \"op\"")?;
    let path = pointer(
        operation["path"]
            .as_str()
            .ok_or("an operation has no \"path\"")?,
    )?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("{op} operation has no \"value\""))
    };
    let from = || -> Result<Vec<String>, String> {
        let from = operation["from"]
            .as_str()
            .ok_or_else(|| format!("{op} operation has no \"from\""))?;
        pointer(from)
    };
    match op {
        "add" => add(target, &path, value()?),
        "remove" => remove(target, &path).map(drop),
        "replace" => {
            remove(target, &path)?;
            add(target, &path, value()?)
        }
        "move" => {
            let moved = remove(target, &from()?)?;
            add(target, &path, moved)
        }
        "copy" => {
            let copied = lookup(target, &from()?)?.clone();
            add(target, &path, copied)
        }
        "test" => {
            if *lookup(target, &path)? == value()? {
                Ok(())
            } else {
                Err(format!("testing value {} failed", operation["path"]))
            }
        }
        other => Err(format!("unexpected kind of operation {other:?}")),
    }
}

/// Splits a JSON pointer (RFC 6901) into its unescaped tokens.
fn pointer(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let rest = text
        .strip_prefix('/')
        .ok_or_else(|| format!("JSON pointer {text:?} does not start with /"))?;
    Ok(rest
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// Reads an array index; `-` (the end) and the length itself only where an item
/// may be inserted.
fn index(items: &[Value], token: &str, inserting: bool) -> Result<usize, String> {
    if inserting && token == "-" {
        return Ok(items.len());
    }
    let index: usize = token
        .parse()
        .map_err(|_| format!("{token:?} is no array index"))?;
    let in_bounds = if inserting {
        index <= items.len()
    } else {
        index < items.len()
    };
    if in_bounds {
        Ok(index)
    } else {
        Err(format!("array index {index} is out of bounds"))
    }
}

fn missing(path: &[String]) -> String {
    format!("path /{} does not exist", path.join("/"))
}

fn lookup<'a>(target: &'a Value, path: &[String]) -> Result<&'a Value, String> {
    let mut node = target;
    for token in path {
        node = match node {
            Value::Object(map) => map.get(token),
            Value::Array(items) => items.get(index(items, token, false)?),
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok(node)
}

/// Returns the container of the path's last token, and that token.
fn parent<'a>(target: &'a mut Value, path: &[String]) -> Result<(&'a mut Value, String), String> {
    let (last, parents) = path.split_last().ok_or("the root cannot be removed")?;
    let mut node = target;
    for token in parents {
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => {
                let index = index(items, token, false)?;
                items.get_mut(index)
            }
            _ => None,
        }
        .ok_or_else(|| missing(path))?;
    }
    Ok((node, last.clone()))
}

fn add(target: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (node, last) = parent(target, path)?;
    match node {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = index(items, &last, true)?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(path)),
    }
}

fn remove(target: &mut Value, path: &[String]) -> Result<Value, String> {
    let (node, last) = parent(target, path)?;
    match node {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(path)),
        Value::Array(items) => {
            let index = index(items, &last, false)?;
            Ok(items.remove(index))
        }
        _ => Err(missing(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_replace_maps_key_by_key_and_delete_nulls() {
        let mut object = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "rules": [1, 2]});
        merge(
            &mut object,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "rules": [3]}),
        )
        .unwrap();
        assert_eq!(
            object,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "rules": [3]})
        );
    }

    #[test]
    fn strategic_directives_replace_or_delete_maps() {
        let mut object = json!({"metadata": {"labels": {"a": "1"}, "annotations": {"x": "y"}}});
        merge(
            &mut object,
            &json!({"metadata": {"labels": {"$patch": "replace", "b": "2"},
                                 "annotations": {"$patch": "delete"},
                                 "$setElementOrder/finalizers": []}}),
        )
        .unwrap();
        assert_eq!(object, json!({"metadata": {"labels": {"b": "2"}}}));
        assert!(merge(&mut object, &json!({"$deleteFromPrimitiveList/x": []})).is_err());
    }

    #[test]
    fn json_patches_apply_their_operations_in_order() {
        let mut object = json!({"metadata": {"labels": {"a": "1"}}, "rules": [{"verbs": ["get"]}]});
        json_patch(
            &mut object,
            &json!([
                {"op": "test", "path": "/metadata/labels/a", "value": "1"},
                {"op": "add", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "x"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
                {"op": "add", "path": "/rules/0/verbs/-", "value": "list"},
                {"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/b"},
                {"op": "move", "from": "/metadata/labels/b", "path": "/metadata/labels/c"},
            ]),
        )
        .unwrap();
        assert_eq!(
            object,
            json!({"metadata": {"labels": {"a": "2", "app.kubernetes.io/name": "x", "c": "2"}},
                   "rules": [{"verbs": ["get", "list"]}]})
        );
        let failed = json_patch(
            &mut object,
            &json!([{"op": "test", "path": "/metadata/labels/a", "value": "9"}]),
        );
        assert_eq!(failed.unwrap_err().status().as_u16(), 422);
        assert!(json_patch(&mut object, &json!([{"op": "remove", "path": "/nope"}])).is_err());
        assert!(
            json_patch(
                &mut object,
                &json!([{"op": "add", "path": "/rules/5", "value": 1}])
            )
            .is_err()
        );
    }
}
