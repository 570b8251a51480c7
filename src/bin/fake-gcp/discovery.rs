//! Request checks against Google's discovery documents, as one axum middleware.
//!
//! With `--discovery DIR`, each API with a document (`DIR/<api>.<version>.json`) gets
//! this layer: a request whose method and path match none of the document's methods
//! is answered 404, and a request body that Google's JSON parser would refuse
//! (an unknown field, a value of the wrong type, a value outside an enum) is answered
//! 400 INVALID_ARGUMENT with Google's wording, before any handler runs. The
//! document's `schemas` become one JSON Schema document with `$defs`, and a
//! validator per request schema is compiled once, at start-up.
//!
//! It checks only the shape of bodies: path and query parameters and what a field's
//! value means are the handlers' business.

use std::path::Path;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, ValidationError, ValidatorMap};
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::serving;

/// The largest request body read; Google's own limit for JSON APIs is far lower
/// than anything a test sends.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// One API's discovery document, ready to check requests.
pub struct Discovery {
    /// `name.version`, e.g. `sqladmin.v1`, for messages.
    label: String,
    /// Longest literal path first, so that the most specific method wins.
    methods: Vec<DiscoveryMethod>,
    /// The document's `schemas`, to name a field's type in an error.
    schemas: Map<String, Value>,
    /// A validator per schema, by the pointer `#/$defs/<id>`.
    validators: ValidatorMap,
}

/// A method of the document: where it listens and what body it takes.
struct DiscoveryMethod {
    /// E.g. `sql.instances.insert`.
    id: String,
    http_method: Method,
    /// The request path (without its leading `/`) the method answers.
    path: Regex,
    /// How many literal characters the path template has.
    literal_len: usize,
    /// The schema id of the request body; `None` when the method takes no body.
    request: Option<String>,
}

impl Discovery {
    /// Reads and compiles `dir/<api>.<version>.json`.
    pub fn load(dir: &Path, api: &str, version: &str) -> Result<Discovery, String> {
        let path = dir.join(format!("{api}.{version}.json"));
        let text = std::fs::read_to_string(&path).map_err(|error| {
            format!("cannot read discovery document {}: {error}", path.display())
        })?;
        let document: Value = serde_json::from_str(&text).map_err(|error| {
            format!("discovery document {} is not JSON: {error}", path.display())
        })?;
        Discovery::from_document(&format!("{api}.{version}"), &document)
            .map_err(|error| format!("discovery document {}: {error}", path.display()))
    }

    /// Builds the checks from a parsed discovery document.
    fn from_document(label: &str, document: &Value) -> Result<Discovery, String> {
        let schemas = document
            .get("schemas")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("it has no `schemas` object")?;
        let service_path = document
            .get("servicePath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut methods = Vec::new();
        collect_methods(document, service_path, &mut methods)?;
        if methods.is_empty() {
            return Err("it declares no methods".to_owned());
        }
        methods.sort_by_key(|method| std::cmp::Reverse(method.literal_len));

        let mut defs = Map::new();
        for (id, schema) in &schemas {
            defs.insert(id.clone(), json_schema(schema));
        }
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": defs,
        });
        let validators = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .build_map(&root)
            .map_err(|error| format!("its schemas do not compile: {error}"))?;
        for method in &methods {
            if let Some(id) = &method.request
                && !validators.contains_key(&pointer(id))
            {
                return Err(format!(
                    "method {} takes schema {id:?}, which is not in `schemas`",
                    method.id
                ));
            }
        }
        Ok(Discovery {
            label: label.to_owned(),
            methods,
            schemas,
            validators,
        })
    }

    /// Finds the method a request maps to; `path` is the URI's path.
    fn find_method(&self, http_method: &Method, path: &str) -> Option<&DiscoveryMethod> {
        let path = path.strip_prefix('/').unwrap_or(path);
        self.methods
            .iter()
            .find(|method| method.http_method == *http_method && method.path.is_match(path))
    }

    /// Checks a request body against the method's request schema, the way Google's
    /// JSON parser does.
    fn check_body(&self, method: &DiscoveryMethod, body: &Bytes) -> Result<(), ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::invalid_argument(format!("Invalid JSON payload received. {error}"))
        })?;
        // Google's parser reads a null member as unset.
        let value = serving::without_nulls(value);
        let Some(request) = &method.request else {
            // A method that takes no body has no field a body's names could bind to.
            return match value.as_object() {
                Some(fields) if fields.is_empty() => Ok(()),
                Some(fields) => Err(refusal(
                    fields
                        .keys()
                        .map(|name| Violation::unknown_name(name, ""))
                        .collect(),
                )),
                None => Err(refusal(vec![Violation::root_not_a_message()])),
            };
        };
        if !value.is_object() {
            return Err(refusal(vec![Violation::root_not_a_message()]));
        }
        let validator = self
            .validators
            .get(&pointer(request))
            .expect("from_document checked that every request schema has a validator");
        let violations: Vec<Violation> = validator
            .iter_errors(&value)
            .flat_map(|error| self.violations(request, &error))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(refusal(violations))
        }
    }

    /// Words one validation error the way Google does, naming fields by their
    /// proto path (`instance.settings.ip_configuration`).
    fn violations(&self, request: &str, error: &ValidationError<'_>) -> Vec<Violation> {
        let mut field = body_field(request).unwrap_or_default();
        let mut last_name = String::new();
        let mut parent = field.clone();
        let mut node = self.schemas.get(request);
        for segment in error.instance_path().segments() {
            let name = match &segment {
                LocationSegment::Property(name) => name.to_string(),
                LocationSegment::Index(index) => index.to_string(),
            };
            parent = field.clone();
            last_name = name.clone();
            let next = match node
                .and_then(|node| node.get("type"))
                .and_then(Value::as_str)
            {
                Some("array") => {
                    field.push_str(&format!("[{name}]"));
                    node.and_then(|node| node.get("items"))
                }
                _ => match node
                    .and_then(|node| node.get("properties"))
                    .and_then(|properties| properties.get(&name))
                {
                    Some(property) => {
                        if !field.is_empty() {
                            field.push('.');
                        }
                        field.push_str(&snake_case(&name));
                        Some(property)
                    }
                    None => {
                        field.push_str(&format!("[{name}]"));
                        node.and_then(|node| node.get("additionalProperties"))
                    }
                },
            };
            node = next.and_then(|next| self.resolve(next));
        }
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                .iter()
                .map(|name| Violation::unknown_name(name, &field))
                .collect(),
            _ if error.instance_path().as_str().is_empty() => {
                vec![Violation::root_not_a_message()]
            }
            _ if error.instance().is_array() && !is_repeated(node) => {
                vec![Violation::not_repeating(&last_name, &parent)]
            }
            _ => {
                let type_name = node.map_or("TYPE_MESSAGE".to_owned(), |node| self.type_name(node));
                vec![Violation::invalid_value(
                    &field,
                    &type_name,
                    error.instance(),
                )]
            }
        }
    }

    /// Follows a discovery `$ref` to its schema.
    fn resolve<'a>(&'a self, node: &'a Value) -> Option<&'a Value> {
        match node.get("$ref").and_then(Value::as_str) {
            Some(id) => self.schemas.get(id),
            None => Some(node),
        }
    }

    /// Returns the proto type Google names in an "Invalid value" message.
    fn type_name(&self, node: &Value) -> String {
        let format = node.get("format").and_then(Value::as_str);
        let name = match node.get("type").and_then(Value::as_str) {
            Some("array") => {
                return match node.get("items").and_then(|items| self.resolve(items)) {
                    Some(items) => self.type_name(items),
                    None => "TYPE_MESSAGE".to_owned(),
                };
            }
            Some("string") if node.get("enum").is_some() => "TYPE_ENUM",
            Some("string") => match format {
                Some("int64") => "TYPE_INT64",
                Some("uint64") => "TYPE_UINT64",
                Some("byte") => "TYPE_BYTES",
                _ => "TYPE_STRING",
            },
            Some("integer") => match format {
                Some("uint32") => "TYPE_UINT32",
                _ => "TYPE_INT32",
            },
            Some("number") => match format {
                Some("float") => "TYPE_FLOAT",
                _ => "TYPE_DOUBLE",
            },
            Some("boolean") => "TYPE_BOOL",
            _ => "TYPE_MESSAGE",
        };
        name.to_owned()
    }
}

/// Returns the JSON pointer of a discovery schema in the converted document.
fn pointer(id: &str) -> String {
    format!("#/$defs/{id}")
}

/// Reports whether a field (a resolved discovery schema) holds a list or a map.
fn is_repeated(node: Option<&Value>) -> bool {
    node.is_some_and(|node| {
        node.get("type").and_then(Value::as_str) == Some("array")
            || node.get("additionalProperties").is_some()
    })
}

/// Returns the name of the request message's field that holds a body of schema
/// `request`, as Google's messages prefix field paths with it.
///
/// Discovery documents do not say; Google's request messages end in `Request` and
/// bind the whole body (`body: "*"`), while a bare resource (`Project`) is bound to
/// a field named after it (`project`).
fn body_field(request: &str) -> Option<String> {
    if request.ends_with("Request") {
        None
    } else {
        Some(snake_case(request))
    }
}

/// Turns a JSON name into its proto field name: `ipConfiguration` → `ip_configuration`.
fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

/// One problem in a body, as a `BadRequest.fieldViolations` entry.
struct Violation {
    field: Option<String>,
    description: String,
}

impl Violation {
    fn unknown_name(name: &str, at: &str) -> Violation {
        let description = if at.is_empty() {
            format!("Invalid JSON payload received. Unknown name {name:?}: Cannot find field.")
        } else {
            format!(
                "Invalid JSON payload received. Unknown name {name:?} at '{at}': Cannot find field."
            )
        };
        Violation {
            field: (!at.is_empty()).then(|| at.to_owned()),
            description,
        }
    }

    fn not_repeating(name: &str, at: &str) -> Violation {
        let description = if at.is_empty() {
            format!(
                "Invalid JSON payload received. Unknown name {name:?}: Proto field is not repeating, cannot start list."
            )
        } else {
            format!(
                "Invalid JSON payload received. Unknown name {name:?} at '{at}': Proto field is not repeating, cannot start list."
            )
        };
        Violation {
            field: (!at.is_empty()).then(|| at.to_owned()),
            description,
        }
    }

    fn invalid_value(field: &str, type_name: &str, value: &Value) -> Violation {
        Violation {
            field: Some(field.to_owned()),
            description: format!("Invalid value at '{field}' ({type_name}), {value}"),
        }
    }

    fn root_not_a_message() -> Violation {
        Violation {
            field: None,
            description:
                "Invalid JSON payload received. Unknown name \"\": Root element must be a message."
                    .to_owned(),
        }
    }
}

/// Returns the 400 Google answers to a body its parser refuses.
fn refusal(violations: Vec<Violation>) -> ApiError {
    let message = violations
        .iter()
        .map(|violation| violation.description.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let field_violations: Vec<Value> = violations
        .iter()
        .map(|violation| match &violation.field {
            Some(field) => json!({"field": field, "description": violation.description}),
            None => json!({"description": violation.description}),
        })
        .collect();
    ApiError::invalid_argument(message).with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": field_violations,
    }))
}

/// Gathers the methods of a document's (nested) `resources`.
fn collect_methods(
    resource: &Value,
    service_path: &str,
    methods: &mut Vec<DiscoveryMethod>,
) -> Result<(), String> {
    if let Some(declared) = resource.get("methods").and_then(Value::as_object) {
        for (name, method) in declared {
            methods.push(discovery_method(name, method, service_path)?);
        }
    }
    if let Some(resources) = resource.get("resources").and_then(Value::as_object) {
        for resource in resources.values() {
            collect_methods(resource, service_path, methods)?;
        }
    }
    Ok(())
}

fn discovery_method(
    name: &str,
    method: &Value,
    service_path: &str,
) -> Result<DiscoveryMethod, String> {
    let id = method
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_owned();
    let http_method = method
        .get("httpMethod")
        .and_then(Value::as_str)
        .and_then(|text| Method::from_bytes(text.as_bytes()).ok())
        .ok_or_else(|| format!("method {id} has no valid `httpMethod`"))?;
    let template = method
        .get("flatPath")
        .or_else(|| method.get("path"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("method {id} has no `path`"))?;
    let (path, literal_len) = path_pattern(&format!("{service_path}{template}"))
        .map_err(|error| format!("method {id}: {error}"))?;
    let request = method
        .get("request")
        .and_then(|request| request.get("$ref"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(DiscoveryMethod {
        id,
        http_method,
        path,
        literal_len,
        request,
    })
}

/// Turns a path template into an anchored regex: `{param}` is one path segment up
/// to a `:verb`, `{+param}` any run of characters, slashes included.
fn path_pattern(template: &str) -> Result<(Regex, usize), String> {
    let mut pattern = String::from("^");
    let mut literal_len = 0;
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let literal = rest.get(..start).unwrap_or_default();
        pattern.push_str(&regex::escape(literal));
        literal_len += literal.len();
        let end = rest
            .get(start..)
            .and_then(|tail| tail.find('}'))
            .map(|end| start + end)
            .ok_or_else(|| format!("unclosed `{{` in path {template:?}"))?;
        let parameter = rest.get(start + 1..end).unwrap_or_default();
        pattern.push_str(if parameter.starts_with('+') {
            ".+"
        } else {
            "[^/:]+"
        });
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    pattern.push_str(&regex::escape(rest));
    literal_len += rest.len();
    pattern.push('$');
    let regex = Regex::new(&pattern).map_err(|error| format!("path {template:?}: {error}"))?;
    Ok((regex, literal_len))
}

/// Converts one discovery schema into JSON Schema (draft 2020-12).
///
/// Google's JSON parser accepts int64 and uint64 values (strings in discovery) and
/// int32 values both as JSON numbers and as strings of digits, and refuses names a
/// message does not declare.
fn json_schema(node: &Value) -> Value {
    if let Some(id) = node.get("$ref").and_then(Value::as_str) {
        return json!({"$ref": format!("#/$defs/{id}")});
    }
    let format = node.get("format").and_then(Value::as_str);
    match node.get("type").and_then(Value::as_str) {
        Some("string") => {
            if let Some(values) = node.get("enum") {
                return json!({"enum": values});
            }
            match format {
                Some("int64") => json!({"type": ["string", "integer"], "pattern": "^-?[0-9]+$"}),
                Some("uint64") => {
                    json!({"type": ["string", "integer"], "pattern": "^[0-9]+$", "minimum": 0})
                }
                _ => json!({"type": "string"}),
            }
        }
        Some("integer") => match format {
            Some("uint32") => {
                json!({"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0})
            }
            _ => json!({"type": ["integer", "string"], "pattern": "^-?[0-9]+$"}),
        },
        Some("number") => json!({
            "type": ["number", "string"],
            "pattern": "^(-?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|NaN|-?Infinity)$",
        }),
        Some("boolean") => json!({"type": "boolean"}),
        Some("array") => match node.get("items") {
            Some(items) => json!({"type": "array", "items": json_schema(items)}),
            None => json!({"type": "array"}),
        },
        Some("object") => {
            let properties: Map<String, Value> = node
                .get("properties")
                .and_then(Value::as_object)
                .map(|properties| {
                    properties
                        .iter()
                        .map(|(name, property)| (name.clone(), json_schema(property)))
                        .collect()
                })
                .unwrap_or_default();
            let additional = match node.get("additionalProperties") {
                Some(values) => json_schema(values),
                None => Value::Bool(false),
            };
            json!({
                "type": "object",
                "properties": properties,
                "additionalProperties": additional,
            })
        }
        // `any`, and nodes without a type: whatever JSON comes.
        _ => json!({}),
    }
}

/// Answers requests the document does not know with 404 and refuses bodies
/// Google's parser would refuse; everything else goes on to the handlers.
pub async fn middleware(
    State(discovery): State<Arc<Discovery>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(method) = discovery.find_method(request.method(), request.uri().path()) else {
        let message = format!(
            "Method not found. {} {} is not a method of {} (by its discovery document).",
            request.method(),
            request.uri().path(),
            discovery.label
        );
        tracing::warn!("{message}");
        return ApiError::not_found(message).into_response();
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::invalid_argument(format!("cannot read the request body: {error}"))
                .into_response();
        }
    };
    if let Err(error) = discovery.check_body(method, &body) {
        tracing::info!("{}: refused body: {}", method.id, error.message);
        return error.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
            "servicePath": "",
            "schemas": {
                "Instance": {
                    "id": "Instance",
                    "type": "object",
                    "properties": {
                        "displayName": {"type": "string"},
                        "nodeCount": {"type": "integer", "format": "int32"},
                        "diskSizeGb": {"type": "string", "format": "int64"},
                        "state": {"type": "string", "enum": ["READY", "CREATING"]},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "settings": {"$ref": "Settings"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Settings": {
                    "id": "Settings",
                    "type": "object",
                    "properties": {"ipv4Enabled": {"type": "boolean"}},
                },
                "CreateInstanceRequest": {
                    "id": "CreateInstanceRequest",
                    "type": "object",
                    "properties": {
                        "instanceId": {"type": "string"},
                        "instance": {"$ref": "Instance"},
                    },
                },
            },
            "resources": {"instances": {"methods": {
                "create": {
                    "id": "x.instances.create",
                    "httpMethod": "POST",
                    "path": "v1/{+parent}/instances",
                    "flatPath": "v1/projects/{projectsId}/instances",
                    "request": {"$ref": "CreateInstanceRequest"},
                },
                "patch": {
                    "id": "x.instances.patch",
                    "httpMethod": "PATCH",
                    "path": "v1/{+name}",
                    "flatPath": "v1/projects/{projectsId}/instances/{instancesId}",
                    "request": {"$ref": "Instance"},
                },
                "restart": {
                    "id": "x.instances.restart",
                    "httpMethod": "POST",
                    "path": "v1/{+name}:restart",
                    "flatPath": "v1/projects/{projectsId}/instances/{instancesId}:restart",
                },
                "get": {
                    "id": "x.instances.get",
                    "httpMethod": "GET",
                    "path": "v1/{+name}",
                    "flatPath": "v1/projects/{projectsId}/instances/{instancesId}",
                },
            }}},
        })
    }

    /// Sends a body to a method and returns Google's message, or `ok`.
    fn check(method: &str, path: &str, body: Value) -> String {
        let discovery = Discovery::from_document("x.v1", &document()).unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let found = discovery
            .find_method(&method, path)
            .expect("the path maps to a method");
        match discovery.check_body(found, &Bytes::from(body.to_string())) {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.message,
        }
    }

    fn create(body: Value) -> String {
        check("POST", "/v1/projects/p/instances", body)
    }

    #[test]
    fn valid_body_passes() {
        let body = json!({"instanceId": "i", "instance": {
            "displayName": "I", "nodeCount": 1, "diskSizeGb": "10",
            "state": "READY", "labels": {"env": "dev"}, "settings": {"ipv4Enabled": true},
            "tags": ["a"], "kind": null,
        }});
        assert_eq!(create(body), "ok");
    }

    #[test]
    fn int64_takes_numbers_and_strings_of_digits() {
        assert_eq!(create(json!({"instance": {"diskSizeGb": 10}})), "ok");
        assert_eq!(create(json!({"instance": {"nodeCount": "3"}})), "ok");
    }

    #[test]
    fn unknown_top_level_field() {
        assert_eq!(
            create(json!({"foo": 1})),
            r#"Invalid JSON payload received. Unknown name "foo": Cannot find field."#
        );
    }

    #[test]
    fn unknown_nested_field() {
        assert_eq!(
            create(json!({"instance": {"settings": {"ipv6Enabled": true}}})),
            r#"Invalid JSON payload received. Unknown name "ipv6Enabled" at 'instance.settings': Cannot find field."#
        );
    }

    #[test]
    fn unknown_field_in_a_bare_resource_body() {
        assert_eq!(
            check(
                "PATCH",
                "/v1/projects/p/instances/i",
                json!({"procesingUnits": 100})
            ),
            r#"Invalid JSON payload received. Unknown name "procesingUnits" at 'instance': Cannot find field."#
        );
    }

    #[test]
    fn wrong_type() {
        assert_eq!(
            create(json!({"instance": {"nodeCount": "three"}})),
            r#"Invalid value at 'instance.node_count' (TYPE_INT32), "three""#
        );
        assert_eq!(
            create(json!({"instance": {"diskSizeGb": 1.5}})),
            "Invalid value at 'instance.disk_size_gb' (TYPE_INT64), 1.5"
        );
        assert_eq!(
            create(json!({"instance": {"labels": {"env": 1}}})),
            "Invalid value at 'instance.labels[env]' (TYPE_STRING), 1"
        );
    }

    #[test]
    fn wrong_enum_value() {
        assert_eq!(
            create(json!({"instance": {"state": "RUNNING"}})),
            r#"Invalid value at 'instance.state' (TYPE_ENUM), "RUNNING""#
        );
    }

    #[test]
    fn list_for_a_single_field() {
        assert_eq!(
            create(json!({"instance": {"displayName": ["a"]}})),
            r#"Invalid JSON payload received. Unknown name "displayName" at 'instance': Proto field is not repeating, cannot start list."#
        );
    }

    #[test]
    fn root_must_be_an_object() {
        assert_eq!(
            create(json!([1])),
            r#"Invalid JSON payload received. Unknown name "": Root element must be a message."#
        );
    }

    #[test]
    fn method_without_a_body_takes_none() {
        assert_eq!(
            check("POST", "/v1/projects/p/instances/i:restart", json!({})),
            "ok"
        );
        assert_eq!(
            check(
                "POST",
                "/v1/projects/p/instances/i:restart",
                json!({"force": true})
            ),
            r#"Invalid JSON payload received. Unknown name "force": Cannot find field."#
        );
    }

    #[test]
    fn verbs_and_paths_pick_their_method() {
        let discovery = Discovery::from_document("x.v1", &document()).unwrap();
        let id = |method: Method, path: &str| {
            discovery
                .find_method(&method, path)
                .map(|method| method.id.clone())
        };
        assert_eq!(
            id(Method::POST, "/v1/projects/p/instances/i:restart").as_deref(),
            Some("x.instances.restart")
        );
        assert_eq!(
            id(Method::GET, "/v1/projects/p/instances/i").as_deref(),
            Some("x.instances.get")
        );
        assert_eq!(id(Method::GET, "/v1/projects/p/instances/i/x"), None);
        assert_eq!(id(Method::DELETE, "/v1/projects/p/instances/i"), None);
    }

    #[test]
    fn proto_names() {
        assert_eq!(snake_case("ipConfiguration"), "ip_configuration");
        assert_eq!(snake_case("ipv4Enabled"), "ipv4_enabled");
        assert_eq!(snake_case("etag"), "etag");
    }
}
