//! Server-side printing: `meta.k8s.io/v1` `Table` answers, which `kubectl get`
//! asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
//!
//! The columns are the apiserver's printers' for each kind: `Name`, `Status` and
//! `Age` for namespaces; `Name`, `Secrets`, `Age` for service accounts; request and
//! limit usage for quotas; the role and its subjects for bindings; `Created At` for
//! limit ranges and roles. Each row carries the object's metadata as a
//! `PartialObjectMetadata`, the default of `includeObject`.

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use crate::kinds::Kind;

/// Reports whether the client asks for a table.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media_type| {
            let parameters: Vec<&str> = media_type.split(';').map(str::trim).collect();
            parameters.contains(&"as=Table")
                && parameters.contains(&"g=meta.k8s.io")
                && (parameters.contains(&"v=v1") || parameters.contains(&"v=v1beta1"))
        })
}

fn column(name: &str, column_type: &str, format: &str, description: &str, priority: u8) -> Value {
    json!({
        "name": name,
        "type": column_type,
        "format": format,
        "description": description,
        "priority": priority,
    })
}

fn name_column() -> Value {
    column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        0,
    )
}

fn age_column() -> Value {
    column(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        0,
    )
}

fn created_at_column() -> Value {
    column(
        "Created At",
        "date",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        0,
    )
}

fn columns(kind: &Kind) -> Vec<Value> {
    match kind.resource {
        "namespaces" => vec![
            name_column(),
            column("Status", "string", "", "The status of the namespace", 0),
            age_column(),
        ],
        "serviceaccounts" => vec![
            name_column(),
            column(
                "Secrets",
                "string",
                "",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
                0,
            ),
            age_column(),
        ],
        "resourcequotas" => vec![
            name_column(),
            age_column(),
            column(
                "Request",
                "string",
                "",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
                0,
            ),
            column(
                "Limit",
                "string",
                "",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
                0,
            ),
        ],
        "rolebindings" | "clusterrolebindings" => vec![
            name_column(),
            column(
                "Role",
                "string",
                "",
                "Role references the role being granted.",
                0,
            ),
            age_column(),
            column("Users", "string", "", "Users in the roleBinding", 1),
            column("Groups", "string", "", "Groups in the roleBinding", 1),
            column(
                "ServiceAccounts",
                "string",
                "",
                "ServiceAccounts in the roleBinding",
                1,
            ),
        ],
        _ => vec![name_column(), created_at_column()],
    }
}

/// Returns the cells of one object's row.
fn cells(kind: &Kind, object: &Value) -> Vec<Value> {
    let name = object["metadata"]["name"].clone();
    let created = object["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default();
    let age = Value::from(age(created));
    match kind.resource {
        "namespaces" => vec![name, object["status"]["phase"].clone(), age],
        "serviceaccounts" => {
            let secrets = object["secrets"].as_array().map_or(0, Vec::len);
            vec![name, secrets.into(), age]
        }
        "resourcequotas" => {
            let (requests, limits) = quota_usage(object);
            vec![name, age, requests.into(), limits.into()]
        }
        "rolebindings" | "clusterrolebindings" => {
            let role = format!(
                "{}/{}",
                object["roleRef"]["kind"].as_str().unwrap_or_default(),
                object["roleRef"]["name"].as_str().unwrap_or_default()
            );
            let subjects = |wanted: &str| -> String {
                object["subjects"]
                    .as_array()
                    .map(|subjects| {
                        subjects
                            .iter()
                            .filter(|subject| subject["kind"] == wanted)
                            .map(|subject| {
                                let name = subject["name"].as_str().unwrap_or_default();
                                match subject["namespace"].as_str() {
                                    Some(namespace) if wanted == "ServiceAccount" => {
                                        format!("{namespace}/{name}")
                                    }
                                    _ => name.to_owned(),
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            vec![
                name,
                role.into(),
                age,
                subjects("User").into(),
                subjects("Group").into(),
                subjects("ServiceAccount").into(),
            ]
        }
        _ => vec![name, created.into()],
    }
}

/// Returns a quota's `resource: used/hard` lists, requests and limits apart.
fn quota_usage(object: &Value) -> (String, String) {
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(hard) = object["status"]["hard"].as_object() {
        for (resource, limit) in hard {
            let used = object["status"]["used"][resource].as_str().unwrap_or("0");
            let text = format!("{resource}: {used}/{}", limit.as_str().unwrap_or_default());
            if resource.starts_with("limits") {
                limits.push(text);
            } else {
                requests.push(text);
            }
        }
    }
    (requests.join(", "), limits.join(", "))
}

/// Prints the time since `created` as kubectl's `HumanDuration` does.
fn age(created: &str) -> String {
    let Ok(created) = created.parse::<jiff::Timestamp>() else {
        return "<unknown>".to_owned();
    };
    let seconds = jiff::Timestamp::now().as_second() - created.as_second();
    human_duration(seconds)
}

fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            rest => format!("{minutes}m{rest}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            rest => format!("{hours}h{rest}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            rest => format!("{}d{rest}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            rest => format!("{}y{rest}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Returns the table of some objects of a kind.
pub fn of_objects(kind: &Kind, objects: &[Value], continue_token: Option<Value>) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut metadata = object["metadata"].clone();
            if let Some(metadata) = metadata.as_object_mut() {
                metadata.remove("managedFields");
            }
            json!({
                "cells": cells(kind, object),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                },
            })
        })
        .collect();
    let mut table = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns(kind),
        "rows": rows,
    });
    if let Some(token) = continue_token {
        table["metadata"]["continue"] = token;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_print_as_kubectl_does() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
                .parse()
                .unwrap(),
        );
        assert!(wanted(&headers));
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!wanted(&headers));
    }
}
