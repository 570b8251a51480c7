//! Label and field selectors of list and watch requests (`labelSelector`,
//! `fieldSelector`).
//!
//! Label selectors take the apiserver's syntax: comma-separated requirements,
//! each `key`, `!key`, `key=value`, `key==value`, `key!=value`,
//! `key in (a,b)` or `key notin (a,b)`. Field selectors take `metadata.name` and
//! `metadata.namespace` (and a namespace's `status.phase`) with `=`, `==` or `!=`.

use serde_json::Value;

use crate::errors::ApiError;
use crate::kinds::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses a `labelSelector` query value.
    pub fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let mut requirements = Vec::new();
        for part in split_outside_parentheses(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: found '{part}', expected: a valid label selector"
                ))
            })?);
        }
        Ok(LabelSelector(requirements))
    }

    /// Reports whether an object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let label = |key: &str| labels.get(key).and_then(Value::as_str);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::NotExists(key) => label(key).is_none(),
            Requirement::Equals(key, value) => label(key) == Some(value.as_str()),
            Requirement::NotEquals(key, value) => label(key) != Some(value.as_str()),
            Requirement::In(key, values) => {
                label(key).is_some_and(|label| values.iter().any(|value| value == label))
            }
            Requirement::NotIn(key, values) => {
                label(key).is_none_or(|label| values.iter().all(|value| value != label))
            }
        })
    }
}

fn split_outside_parentheses(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text.get(start..index).unwrap_or_default());
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

fn parse_requirement(part: &str) -> Option<Requirement> {
    if let Some(key) = part.strip_prefix('!') {
        return valid_key(key.trim()).map(|key| Requirement::NotExists(key.to_owned()));
    }
    for (operator, set_operator) in [(" notin ", false), (" in ", true)] {
        if let Some((key, values)) = part.split_once(operator) {
            let key = valid_key(key.trim())?.to_owned();
            let values = values
                .trim()
                .strip_prefix('(')?
                .strip_suffix(')')?
                .split(',')
                .map(|value| value.trim().to_owned())
                .collect();
            return Some(if set_operator {
                Requirement::In(key, values)
            } else {
                Requirement::NotIn(key, values)
            });
        }
    }
    for (operator, equal) in [("!=", false), ("==", true), ("=", true)] {
        if let Some((key, value)) = part.split_once(operator) {
            let key = valid_key(key.trim())?.to_owned();
            let value = value.trim().to_owned();
            return Some(if equal {
                Requirement::Equals(key, value)
            } else {
                Requirement::NotEquals(key, value)
            });
        }
    }
    valid_key(part).map(|key| Requirement::Exists(key.to_owned()))
}

fn valid_key(key: &str) -> Option<&str> {
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)))
    .then_some(key)
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a `fieldSelector` query value for a kind.
    pub fn parse(kind: &Kind, text: &str) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((field, value)) = part.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) = part.split_once("==") {
                (field, true, value)
            } else if let Some((field, value)) = part.split_once('=') {
                (field, true, value)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (kind.resource == "namespaces" && field == "status.phase");
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_owned(), equal, value.to_owned()));
        }
        Ok(FieldSelector(terms))
    }

    /// Reports whether an object satisfies every term.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let actual = match field.as_str() {
                "metadata.name" => &object["metadata"]["name"],
                "metadata.namespace" => &object["metadata"]["namespace"],
                _ => &object["status"]["phase"],
            };
            (actual.as_str().unwrap_or_default() == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(selector: &str, labels: Value, expected: bool) {
        let object = json!({"metadata": {"labels": labels}});
        let selector = LabelSelector::parse(selector).unwrap();
        assert_eq!(selector.matches(&object), expected, "{selector:?}");
    }

    #[test]
    fn label_selectors_take_every_operator() {
        check("", json!({}), true);
        check("app", json!({"app": "x"}), true);
        check("!app", json!({"app": "x"}), false);
        check("app=x,tier!=db", json!({"app": "x", "tier": "web"}), true);
        check("app==y", json!({"app": "x"}), false);
        check("app in (x, y)", json!({"app": "y"}), true);
        check("app notin (x,y)", json!({"app": "z"}), true);
        check("app notin (x,y)", json!({}), true);
        check(
            "app.kubernetes.io/managed-by=yagura",
            json!({"app.kubernetes.io/managed-by": "yagura"}),
            true,
        );
        assert!(LabelSelector::parse("a b").is_err());
    }

    #[test]
    fn field_selectors_take_names_and_namespaces() {
        let kind = crate::kinds::service_accounts();
        let object = json!({"metadata": {"name": "a", "namespace": "n"}});
        assert!(
            FieldSelector::parse(kind, "metadata.name=a")
                .unwrap()
                .matches(&object)
        );
        assert!(
            !FieldSelector::parse(kind, "metadata.namespace!=n")
                .unwrap()
                .matches(&object)
        );
        assert!(FieldSelector::parse(kind, "spec.x=1").is_err());
    }
}
