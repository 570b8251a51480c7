//! The apiserver's validation of the served kinds, with its messages: object
//! names, labels and annotations, resource quantities, RBAC rules, subjects and
//! role references.
//!
//! Names follow each kind's registry: a namespace name is a DNS-1123 label, a
//! service account, resource quota or limit range name a DNS-1123 subdomain, and
//! an RBAC object name any valid path segment (so `system:viewer` is fine). The
//! messages are Kubernetes 1.33's. Everything here is a pure function of the
//! object; which errors answer a request is the caller's business.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::errors::FieldError;
use crate::kinds::Kind;
use crate::quantity;

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const LABEL_KEY: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn anchored(pattern: &str) -> Regex {
    Regex::new(&format!("^{pattern}$")).expect("the validation patterns are valid regexes")
}

static LABEL_REGEX: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_LABEL));
static SUBDOMAIN_REGEX: LazyLock<Regex> = LazyLock::new(|| anchored(DNS1123_SUBDOMAIN));
static LABEL_KEY_REGEX: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_KEY));
static LABEL_VALUE_REGEX: LazyLock<Regex> = LazyLock::new(|| anchored(LABEL_VALUE));

/// Builds Go's `RegexError` text: `<message> (e.g. 'a',  or 'b', regex used …)`.
fn regex_error(message: &str, pattern: &str, examples: &[&str]) -> String {
    let mut text = format!("{message} (e.g. ");
    for (index, example) in examples.iter().enumerate() {
        if index > 0 {
            text.push_str(" or ");
        }
        text.push_str(&format!("'{example}', "));
    }
    text.push_str(&format!("regex used for validation is '{pattern}')"));
    text
}

fn max_len_error(length: usize) -> String {
    format!("must be no more than {length} characters")
}

/// Returns the problems of a DNS-1123 label (`IsDNS1123Label`).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push(max_len_error(63));
    }
    if !LABEL_REGEX.is_match(value) {
        if SUBDOMAIN_REGEX.is_match(value) {
            problems.push("must not contain dots".to_owned());
        } else {
            problems.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL,
                &["my-name", "123-abc"],
            ));
        }
    }
    problems
}

/// Returns the problems of a DNS-1123 subdomain (`IsDNS1123Subdomain`).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 253 {
        problems.push(max_len_error(253));
    }
    if !SUBDOMAIN_REGEX.is_match(value) {
        problems.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            DNS1123_SUBDOMAIN,
            &["example.com"],
        ));
    }
    problems
}

/// Returns the problems of a name used as a path segment (`IsValidPathSegmentName`).
pub fn path_segment_name(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|illegal| value.contains(**illegal))
        .map(|illegal| format!("may not contain '{illegal}'"))
        .collect()
}

/// Returns the problems of an object name of a kind.
pub fn object_name(kind: &Kind, name: &str) -> Vec<String> {
    match (kind.group, kind.resource) {
        ("", "namespaces") => dns1123_label(name),
        ("", _) => dns1123_subdomain(name),
        _ => path_segment_name(name),
    }
}

/// Returns the problems of a label key or annotation key (`IsQualifiedName`).
fn qualified_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_owned());
            } else {
                problems.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|problem| format!("prefix part {problem}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    LABEL_KEY,
                    &["MyName", "my.name", "123-abc"],
                )
            )];
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        problems.push(format!("name part {}", max_len_error(63)));
    }
    if !LABEL_KEY_REGEX.is_match(name) {
        problems.push(format!(
            "name part {}",
            regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                LABEL_KEY,
                &["MyName", "my.name", "123-abc"],
            )
        ));
    }
    problems
}

fn label_value(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push(max_len_error(63));
    }
    if !LABEL_VALUE_REGEX.is_match(value) {
        problems.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE,
            &["MyValue", "my_value", "12345"],
        ));
    }
    problems
}

/// Renders a string value as Go's `%q` does, for `Invalid value: "…"`.
pub fn quoted(value: &str) -> String {
    format!("{value:?}")
}

/// Validates the metadata every kind shares: name, labels, annotations.
pub fn metadata(kind: &Kind, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for problem in object_name(kind, name) {
            errors.push(FieldError::invalid("metadata.name", &quoted(name), problem));
        }
    }
    if let Some(labels) = object["metadata"]["labels"].as_object() {
        for (key, value) in labels {
            for problem in qualified_name(key) {
                errors.push(FieldError::invalid(
                    "metadata.labels",
                    &quoted(key),
                    problem,
                ));
            }
            match value.as_str() {
                Some(value) => {
                    for problem in label_value(value) {
                        errors.push(FieldError::invalid(
                            "metadata.labels",
                            &quoted(value),
                            problem,
                        ));
                    }
                }
                None => errors.push(FieldError::invalid(
                    "metadata.labels",
                    &value.to_string(),
                    "must be a string",
                )),
            }
        }
    }
    if let Some(annotations) = object["metadata"]["annotations"].as_object() {
        for key in annotations.keys() {
            for problem in qualified_name(&key.to_lowercase()) {
                errors.push(FieldError::invalid(
                    "metadata.annotations",
                    &quoted(key),
                    problem,
                ));
            }
        }
    }
    errors
}

/// Canonicalises the quantities of an object in place, returning the ones that
/// are no quantity.
pub fn canonicalise_quantities(kind: &Kind, object: &mut Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for path in kind.quantity_maps {
        canonicalise_at(object, path, String::new(), &mut errors);
    }
    errors
}

fn canonicalise_at(node: &mut Value, path: &[&str], field: String, errors: &mut Vec<FieldError>) {
    let Some((first, rest)) = path.split_first() else {
        let Some(map) = node.as_object_mut() else {
            if !node.is_null() {
                errors.push(FieldError::invalid(
                    field,
                    &node.to_string(),
                    "must be a map of resource names to quantities",
                ));
            }
            return;
        };
        for (resource, value) in map.iter_mut() {
            let field = format!("{field}[{resource}]");
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Null => continue,
                other => {
                    errors.push(FieldError::invalid(
                        field,
                        &other.to_string(),
                        "must be a quantity",
                    ));
                    continue;
                }
            };
            match quantity::canonical(&text) {
                Ok(canonical) => *value = Value::String(canonical),
                Err(error) => errors.push(FieldError::invalid(
                    field,
                    &quoted(&text),
                    error.to_string(),
                )),
            }
        }
        return;
    };
    if *first == "[]" {
        if let Some(items) = node.as_array_mut() {
            for (index, item) in items.iter_mut().enumerate() {
                canonicalise_at(item, rest, format!("{field}[{index}]"), errors);
            }
        }
        return;
    }
    if let Some(child) = node.get_mut(*first) {
        let field = if field.is_empty() {
            (*first).to_owned()
        } else {
            format!("{field}.{first}")
        };
        canonicalise_at(child, rest, field, errors);
    }
}

/// Validates what is particular to a kind: quota values, limit range types,
/// RBAC rules, role references and subjects.
pub fn kind_specific(kind: &Kind, object: &Value) -> Vec<FieldError> {
    match kind.resource {
        "resourcequotas" => resource_quota(object),
        "limitranges" => limit_range(object),
        "roles" => policy_rules(object, Scope::Namespaced),
        "clusterroles" => policy_rules(object, Scope::Cluster),
        "rolebindings" => role_binding(object, Scope::Namespaced),
        "clusterrolebindings" => role_binding(object, Scope::Cluster),
        _ => Vec::new(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Namespaced,
    Cluster,
}

fn resource_quota(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(hard) = object["spec"]["hard"].as_object() else {
        return errors;
    };
    for (resource, value) in hard {
        let field = format!("spec.hard[{resource}]");
        for problem in qualified_name(resource) {
            errors.push(FieldError::invalid(&field, &quoted(resource), problem));
        }
        let text = value.as_str().unwrap_or_default();
        if text.starts_with('-') {
            errors.push(FieldError::invalid(
                &field,
                &quoted(text),
                "must be greater than or equal to 0",
            ));
        } else if is_integer_resource(resource) && !is_integer(text) {
            errors.push(FieldError::invalid(
                &field,
                &quoted(text),
                "must be an integer",
            ));
        }
    }
    errors
}

/// Reports whether quota counts a resource in whole objects, as
/// `IsIntegerResourceName` says.
fn is_integer_resource(resource: &str) -> bool {
    resource.starts_with("count/")
        || matches!(
            resource,
            "pods"
                | "services"
                | "replicationcontrollers"
                | "resourcequotas"
                | "secrets"
                | "configmaps"
                | "persistentvolumeclaims"
                | "services.nodeports"
                | "services.loadbalancers"
        )
}

/// Reports whether a canonical quantity is a whole number.
fn is_integer(canonical: &str) -> bool {
    !["m", "u", "n"]
        .iter()
        .any(|suffix| canonical.ends_with(suffix))
        && !canonical.contains('.')
        && !canonical.contains("e-")
        && !canonical.contains("E-")
}

fn limit_range(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(limits) = object["spec"]["limits"].as_array() else {
        return errors;
    };
    for (index, limit) in limits.iter().enumerate() {
        if limit["type"].as_str().unwrap_or_default().is_empty() {
            errors.push(FieldError::required(
                format!("spec.limits[{index}].type"),
                "",
            ));
        }
    }
    errors
}

/// Renders a list of strings as Go's `%#v` does: `[]string{"a", "b"}`.
fn go_strings(values: &Value) -> String {
    let items: Vec<String> = values
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| quoted(item.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!("[]string{{{}}}", items.join(", "))
}

fn non_empty_list(value: &Value) -> bool {
    value.as_array().is_some_and(|items| !items.is_empty())
}

fn policy_rules(object: &Value, scope: Scope) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(rules) = object["rules"].as_array() else {
        return errors;
    };
    for (index, rule) in rules.iter().enumerate() {
        let path = format!("rules[{index}]");
        if !non_empty_list(&rule["verbs"]) {
            errors.push(FieldError::required(
                format!("{path}.verbs"),
                "verbs must contain at least one value",
            ));
        }
        if non_empty_list(&rule["nonResourceURLs"]) {
            let urls = go_strings(&rule["nonResourceURLs"]);
            if scope == Scope::Namespaced {
                errors.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    &urls,
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if non_empty_list(&rule["apiGroups"])
                || non_empty_list(&rule["resources"])
                || non_empty_list(&rule["resourceNames"])
            {
                errors.push(FieldError::invalid(
                    format!("{path}.nonResourceURLs"),
                    &urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if !non_empty_list(&rule["apiGroups"]) {
            errors.push(FieldError::required(
                format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if !non_empty_list(&rule["resources"]) {
            errors.push(FieldError::required(
                format!("{path}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errors
}

fn role_binding(object: &Value, scope: Scope) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let role_ref = &object["roleRef"];
    let api_group = role_ref["apiGroup"].as_str().unwrap_or_default();
    if api_group != RBAC_GROUP {
        errors.push(FieldError::not_supported(
            "roleRef.apiGroup",
            &quoted(api_group),
            &[RBAC_GROUP],
        ));
    }
    let role_kind = role_ref["kind"].as_str().unwrap_or_default();
    let supported: &[&str] = match scope {
        Scope::Namespaced => &["Role", "ClusterRole"],
        Scope::Cluster => &["ClusterRole"],
    };
    if !supported.contains(&role_kind) {
        errors.push(FieldError::not_supported(
            "roleRef.kind",
            &quoted(role_kind),
            supported,
        ));
    }
    let role_name = role_ref["name"].as_str().unwrap_or_default();
    if role_name.is_empty() {
        errors.push(FieldError::required("roleRef.name", ""));
    } else {
        for problem in path_segment_name(role_name) {
            errors.push(FieldError::invalid(
                "roleRef.name",
                &quoted(role_name),
                problem,
            ));
        }
    }
    if let Some(subjects) = object["subjects"].as_array() {
        for (index, subject) in subjects.iter().enumerate() {
            errors.extend(subject_errors(
                subject,
                scope,
                &format!("subjects[{index}]"),
            ));
        }
    }
    errors
}

fn subject_errors(subject: &Value, scope: Scope, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = subject["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError::required(format!("{path}.name"), ""));
    }
    let api_group = subject["apiGroup"].as_str().unwrap_or_default();
    match subject["kind"].as_str().unwrap_or_default() {
        "ServiceAccount" => {
            if !name.is_empty() {
                for problem in dns1123_subdomain(name) {
                    errors.push(FieldError::invalid(
                        format!("{path}.name"),
                        &quoted(name),
                        problem,
                    ));
                }
            }
            if !api_group.is_empty() {
                errors.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    &quoted(api_group),
                    &[""],
                ));
            }
            if scope == Scope::Cluster
                && subject["namespace"].as_str().unwrap_or_default().is_empty()
            {
                errors.push(FieldError::required(format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if api_group != RBAC_GROUP {
                errors.push(FieldError::not_supported(
                    format!("{path}.apiGroup"),
                    &quoted(api_group),
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            format!("{path}.kind"),
            &quoted(other),
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errors
}

/// Fills the defaults the v1 types get when decoded: a `User` or `Group`
/// subject's `apiGroup`.
pub fn default_fields(kind: &Kind, object: &mut Value) {
    if kind.resource != "rolebindings" && kind.resource != "clusterrolebindings" {
        return;
    }
    let Some(subjects) = object.get_mut("subjects").and_then(Value::as_array_mut) else {
        return;
    };
    for subject in subjects {
        let Some(subject) = subject.as_object_mut() else {
            continue;
        };
        let needs_group = matches!(
            subject.get("kind").and_then(Value::as_str),
            Some("User" | "Group")
        ) && subject
            .get("apiGroup")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if needs_group {
            subject.insert("apiGroup".to_owned(), RBAC_GROUP.into());
        }
    }
}

/// Returns the 422 error of a changed role reference, which RBAC forbids.
pub fn role_ref_change(kind: &Kind, old: &Value, new: &Value) -> Option<FieldError> {
    if kind.resource != "rolebindings" && kind.resource != "clusterrolebindings" {
        return None;
    }
    if old["roleRef"] == new["roleRef"] {
        return None;
    }
    let field = |name: &str| quoted(new["roleRef"][name].as_str().unwrap_or_default());
    Some(FieldError::invalid(
        "roleRef",
        &format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            field("apiGroup"),
            field("kind"),
            field("name")
        ),
        "cannot change roleRef",
    ))
}

/// Drops the maps that are empty: Go omits an empty map when it writes the object.
pub fn drop_empty_maps(kind: &Kind, object: &mut Value) {
    for path in [
        &["metadata", "labels"][..],
        &["metadata", "annotations"][..],
    ]
    .into_iter()
    .chain(kind.quantity_maps.iter().copied())
    .chain([&["status", "hard"][..], &["status", "used"][..]])
    {
        drop_empty_at(object, path);
    }
}

fn drop_empty_at(node: &mut Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if *first == "[]" {
        if let Some(items) = node.as_array_mut() {
            for item in items {
                drop_empty_at(item, rest);
            }
        }
        return;
    }
    let Some(map) = node.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        if map
            .get(*first)
            .is_some_and(|value| value.as_object().is_some_and(Map::is_empty) || value.is_null())
        {
            map.remove(*first);
        }
        return;
    }
    if let Some(child) = map.get_mut(*first) {
        drop_empty_at(child, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;
    use serde_json::json;

    #[test]
    fn names_follow_each_registry() {
        assert!(object_name(kinds::namespaces(), "team-a").is_empty());
        assert_eq!(
            object_name(kinds::namespaces(), "a.b"),
            vec!["must not contain dots".to_owned()]
        );
        assert_eq!(
            object_name(kinds::namespaces(), "Bad_Name"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_owned()]
        );
        assert!(object_name(kinds::service_accounts(), "a.b").is_empty());
        let role = kinds::find(RBAC_GROUP, "clusterroles").unwrap();
        assert!(object_name(role, "system:viewer").is_empty());
        assert_eq!(
            object_name(role, "a/b"),
            vec!["may not contain '/'".to_owned()]
        );
        assert_eq!(object_name(kinds::namespaces(), &"a".repeat(64)).len(), 1);
    }

    #[test]
    fn quantities_are_canonicalised_where_the_kind_has_them() {
        let limits = kinds::find("", "limitranges").unwrap();
        let mut object = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "1000m", "memory": 1024}}]}});
        assert!(canonicalise_quantities(limits, &mut object).is_empty());
        assert_eq!(
            object["spec"]["limits"][0]["max"],
            json!({"cpu": "1", "memory": "1024"})
        );
        let mut object =
            json!({"spec": {"limits": [{"type": "Container", "min": {"cpu": "lots"}}]}});
        let errors = canonicalise_quantities(limits, &mut object);
        assert_eq!(errors[0].field, "spec.limits[0].min[cpu]");
    }

    #[test]
    fn role_bindings_check_their_reference_and_subjects() {
        let binding = kinds::find(RBAC_GROUP, "clusterrolebindings").unwrap();
        let object = json!({
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
        });
        let fields: Vec<String> = kind_specific(binding, &object)
            .into_iter()
            .map(|error| error.field)
            .collect();
        assert_eq!(fields, vec!["roleRef.kind", "subjects[0].namespace"]);
    }
}
