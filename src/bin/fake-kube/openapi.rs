//! The OpenAPI documents kubectl reads: the v3 index and group-version
//! documents, and the v2 document older kubectl versions read instead.
//!
//! They hold the paths and operations of the served kinds, each with its
//! `x-kubernetes-group-version-kind` and query parameters, which is what kubectl
//! checks to learn that the server validates fields itself (`fieldValidation`)
//! before `apply --server-side`, `create` and `replace` (kubectl 1.29 and later
//! read v3, 1.27 and 1.28 read v2, in protobuf). They carry no component schemas:
//! kubectl needs none once the server validates, so `kubectl explain` finds
//! nothing.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::kinds::{self, Kind};

/// The Kubernetes version the fake claims to be.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// The media type kubectl asks for the protobuf OpenAPI v2 document by.
const OPENAPI_V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The media type the apiserver answers it with: the same with `.` for `@`, which
/// Go's media type parser refuses.
const OPENAPI_V2_PROTOBUF_ANSWER: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Answers a GET under `/openapi/`, or `None` when the path names no document.
pub fn answer(path: &str, headers: &HeaderMap) -> Option<Response> {
    let document = match path {
        "/openapi/v3" => index(),
        "/openapi/v2" => return Some(v2(headers)),
        _ => document(path.strip_prefix("/openapi/v3/")?)?,
    };
    Some((StatusCode::OK, axum::Json(document)).into_response())
}

/// The OpenAPI v3 path of a group version's document: `api/v1`,
/// `apis/rbac.authorization.k8s.io/v1`.
fn group_version_key(group: &str, version: &str) -> String {
    kinds::group_version_path(group, version)
        .trim_start_matches('/')
        .to_owned()
}

fn index() -> Value {
    let mut paths = Map::new();
    for (group, version) in kinds::GROUP_VERSIONS {
        let key = group_version_key(group, version);
        let Some(document) = document(&key) else {
            continue;
        };
        let hash = hex_upper(&Sha256::digest(document.to_string().as_bytes()));
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

fn query_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": "string", "uniqueItems": true},
    })
}

fn dry_run() -> Value {
    query_parameter(
        "dryRun",
        "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
    )
}

fn field_manager() -> Value {
    query_parameter(
        "fieldManager",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    )
}

fn field_validation() -> Value {
    query_parameter(
        "fieldValidation",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
    )
}

fn force() -> Value {
    json!({
        "name": "force",
        "in": "query",
        "description": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
        "schema": {"type": "boolean", "uniqueItems": true},
    })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": {"type": "string", "uniqueItems": true},
    })
}

/// Returns the operation id's stem: `CoreV1Namespace`,
/// `RbacAuthorizationV1NamespacedRole`.
fn operation_stem(kind: &Kind, namespaced_path: bool) -> String {
    let group = if kind.group.is_empty() {
        "Core".to_owned()
    } else {
        kind.group
            .trim_end_matches(".k8s.io")
            .split('.')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let version = kind.version.replacen('v', "V", 1);
    let scope = if namespaced_path { "Namespaced" } else { "" };
    format!("{group}{version}{scope}{}", kind.kind)
}

fn operation(
    kind: &Kind,
    action: &str,
    verb: &str,
    stem: &str,
    description: String,
    parameters: Vec<Value>,
) -> Value {
    let tag = if kind.group.is_empty() {
        "core_v1".to_owned()
    } else {
        format!(
            "{}_v1",
            kind.group.trim_end_matches(".k8s.io").replace('.', "_")
        )
    };
    json!({
        "tags": [tag],
        "description": description,
        "operationId": format!("{verb}{stem}"),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind.group_version_kind(),
    })
}

/// Returns the OpenAPI v3 document of a group version (`api/v1`).
fn document(key: &str) -> Option<Value> {
    let (group, version) = kinds::GROUP_VERSIONS
        .iter()
        .find(|(group, version)| group_version_key(group, version) == key)
        .copied()?;
    let mut paths = Map::new();
    for kind in kinds::KINDS
        .iter()
        .filter(|kind| kind.group == group && kind.version == version)
    {
        let namespaced = kind.namespaced;
        let mut collection_parameters = Vec::new();
        if namespaced {
            collection_parameters.push(path_parameter(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        let collection = kind.collection_path(namespaced.then_some("{namespace}"));
        paths.insert(
            collection.clone(),
            json!({
                "get": operation(kind, "list", "list", &operation_stem(kind, namespaced),
                    format!("list or watch objects of kind {}", kind.kind), Vec::new()),
                "post": operation(kind, "post", "create", &operation_stem(kind, namespaced),
                    format!("create a {}", kind.kind), vec![dry_run(), field_manager(), field_validation()]),
                "parameters": collection_parameters.clone(),
            }),
        );
        let mut item_parameters = vec![path_parameter(
            "name",
            &format!("name of the {}", kind.kind),
        )];
        item_parameters.extend(collection_parameters);
        let stem = operation_stem(kind, namespaced);
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({
                "get": operation(kind, "get", "read", &stem,
                    format!("read the specified {}", kind.kind), Vec::new()),
                "put": operation(kind, "put", "replace", &stem,
                    format!("replace the specified {}", kind.kind), vec![dry_run(), field_manager(), field_validation()]),
                "patch": operation(kind, "patch", "patch", &stem,
                    format!("partially update the specified {}", kind.kind),
                    vec![dry_run(), field_manager(), field_validation(), force()]),
                "delete": operation(kind, "delete", "delete", &stem,
                    format!("delete a {}", kind.kind), vec![dry_run()]),
                "parameters": item_parameters,
            }),
        );
        if namespaced {
            paths.insert(
                kind.collection_path(None),
                json!({
                    "get": operation(kind, "list", "list", &format!("{}ForAllNamespaces", operation_stem(kind, false)),
                        format!("list or watch objects of kind {}", kind.kind), Vec::new()),
                    "parameters": [],
                }),
            );
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {},
    }))
}

/// Answers the OpenAPI v2 document: protobuf when the client asks for it (as
/// kubectl does), JSON otherwise.
fn v2(headers: &HeaderMap) -> Response {
    let swagger = v2_document();
    let wants_protobuf = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| {
            accept.contains(OPENAPI_V2_PROTOBUF) || accept.contains(OPENAPI_V2_PROTOBUF_ANSWER)
        });
    if wants_protobuf {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, OPENAPI_V2_PROTOBUF_ANSWER)],
            v2_protobuf(&swagger),
        )
            .into_response()
    } else {
        (StatusCode::OK, axum::Json(swagger)).into_response()
    }
}

/// Returns the OpenAPI v2 (Swagger) document of every group version, made from
/// the v3 documents' paths and operations.
fn v2_document() -> Value {
    let mut paths = Map::new();
    for (group, version) in kinds::GROUP_VERSIONS {
        let Some(document) = document(&group_version_key(group, version)) else {
            continue;
        };
        let Some(v3_paths) = document["paths"].as_object() else {
            continue;
        };
        for (path, item) in v3_paths {
            let mut v2_item = Map::new();
            for (name, value) in item.as_object().into_iter().flatten() {
                let value = if name == "parameters" {
                    v2_parameters(value)
                } else {
                    let mut operation = value.clone();
                    operation["parameters"] = v2_parameters(&value["parameters"]);
                    operation
                };
                v2_item.insert(name.clone(), value);
            }
            paths.insert(path.clone(), Value::Object(v2_item));
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": {},
    })
}

/// Turns v3 parameters (`schema: {type}`) into v2 ones (`type` beside `in`).
fn v2_parameters(parameters: &Value) -> Value {
    parameters
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| {
            let mut v2 = parameter.clone();
            if let Some(map) = v2.as_object_mut() {
                let schema = map.remove("schema").unwrap_or(Value::Null);
                map.insert("type".to_owned(), schema["type"].clone());
                map.insert("uniqueItems".to_owned(), true.into());
            }
            v2
        })
        .collect()
}

/// A protobuf message being written, field by field.
#[derive(Default)]
struct Proto(Vec<u8>);

impl Proto {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn bytes(&mut self, number: u64, bytes: &[u8]) {
        self.varint(number << 3 | 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, number: u64, text: Option<&str>) {
        if let Some(text) = text.filter(|text| !text.is_empty()) {
            self.bytes(number, text.as_bytes());
        }
    }

    fn boolean(&mut self, number: u64, value: bool) {
        if value {
            self.varint(number << 3);
            self.varint(1);
        }
    }

    fn message(&mut self, number: u64, message: Proto) {
        self.bytes(number, &message.0);
    }
}

/// Encodes the v2 document as gnostic's `openapi.v2.Document`, the message
/// client-go reads (field numbers of gnostic's `OpenAPIv2.proto`).
fn v2_protobuf(swagger: &Value) -> Vec<u8> {
    let mut document = Proto::default();
    document.string(1, swagger["swagger"].as_str());
    let mut info = Proto::default();
    info.string(1, swagger["info"]["title"].as_str());
    info.string(2, swagger["info"]["version"].as_str());
    document.message(2, info);
    let mut paths = Proto::default();
    for (path, item) in swagger["paths"].as_object().into_iter().flatten() {
        let mut path_item = Proto::default();
        for (method, number) in [
            ("get", 2),
            ("put", 3),
            ("post", 4),
            ("delete", 5),
            ("patch", 8),
        ] {
            if let Some(operation) = item.get(method) {
                path_item.message(number, v2_operation(operation));
            }
        }
        for parameter in item["parameters"].as_array().into_iter().flatten() {
            path_item.message(9, v2_parameter(parameter));
        }
        let mut named = Proto::default();
        named.string(1, Some(path));
        named.message(2, path_item);
        paths.message(2, named);
    }
    document.message(8, paths);
    document.0
}

fn v2_operation(operation: &Value) -> Proto {
    let mut message = Proto::default();
    for tag in operation["tags"].as_array().into_iter().flatten() {
        message.string(1, tag.as_str());
    }
    message.string(3, operation["description"].as_str());
    message.string(5, operation["operationId"].as_str());
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        message.message(8, v2_parameter(parameter));
    }
    let mut responses = Proto::default();
    for (code, response) in operation["responses"].as_object().into_iter().flatten() {
        let mut body = Proto::default();
        body.string(1, response["description"].as_str());
        let mut value = Proto::default();
        value.message(1, body);
        let mut named = Proto::default();
        named.string(1, Some(code));
        named.message(2, value);
        responses.message(1, named);
    }
    message.message(9, responses);
    for name in ["x-kubernetes-action", "x-kubernetes-group-version-kind"] {
        let Some(value) = operation.get(name) else {
            continue;
        };
        // JSON is YAML, which is what the extension's `yaml` field holds.
        let mut any = Proto::default();
        any.string(2, Some(&value.to_string()));
        let mut named = Proto::default();
        named.string(1, Some(name));
        named.message(2, any);
        message.message(13, named);
    }
    message
}

/// Encodes a query or path parameter as a `ParametersItem`.
fn v2_parameter(parameter: &Value) -> Proto {
    let mut sub_schema = Proto::default();
    let place = parameter["in"].as_str().unwrap_or_default();
    sub_schema.boolean(1, parameter["required"].as_bool().unwrap_or(false));
    sub_schema.string(2, Some(place));
    sub_schema.string(3, parameter["description"].as_str());
    sub_schema.string(4, parameter["name"].as_str());
    let (kind, type_number, unique_items_number) = match place {
        "path" => (4, 5, 19),
        _ => (3, 6, 20),
    };
    sub_schema.string(type_number, parameter["type"].as_str());
    sub_schema.boolean(unique_items_number, true);
    let mut non_body = Proto::default();
    non_body.message(kind, sub_schema);
    let mut wrapped = Proto::default();
    wrapped.message(2, non_body);
    let mut item = Proto::default();
    item.message(1, wrapped);
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_the_apiserver() {
        let role = kinds::find("rbac.authorization.k8s.io", "roles").unwrap();
        assert_eq!(
            operation_stem(role, true),
            "RbacAuthorizationV1NamespacedRole"
        );
        assert_eq!(
            operation_stem(kinds::namespaces(), false),
            "CoreV1Namespace"
        );
    }

    #[test]
    fn the_index_points_at_each_group_version() {
        let index = index();
        let url = index["paths"]["apis/rbac.authorization.k8s.io/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/rbac.authorization.k8s.io/v1?hash="));
        let document = document("api/v1").unwrap();
        let patch =
            &document["paths"]["/api/v1/namespaces/{namespace}/serviceaccounts/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "ServiceAccount"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|parameter| parameter["name"] == "fieldValidation")
        );
    }

    #[test]
    fn the_v2_document_has_the_patch_operations_and_their_parameters() {
        let swagger = v2_document();
        let patch =
            &swagger["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchRbacAuthorizationV1ClusterRole");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|parameter| parameter["name"] == "fieldValidation"
                    && parameter["type"] == "string")
        );
        let bytes = v2_protobuf(&swagger);
        // `swagger = 1`: tag 0x0a, length 3, "2.0".
        assert_eq!(bytes.get(..5), Some(&b"\x0a\x032.0"[..]));
    }
}
