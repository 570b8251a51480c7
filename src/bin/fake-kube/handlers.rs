//! The resource verbs: get, list, watch, create, replace, patch (server-side
//! apply, merge and JSON patches) and delete, for every served kind.
//!
//! Every write goes the same way: read and check the body against the path (400),
//! ask the namespace lifecycle whether the namespace takes new objects (404, 403),
//! canonicalise quantities and validate (422), check existence and preconditions
//! (409, 404), record ownership (`fieldmanager`), then `commit`, which fills the
//! server-set metadata, skips writes that change nothing (no new
//! `resourceVersion`, as the apiserver skips them), and stores the object unless
//! it is a dry run.
//!
//! Invariant: the world is locked once per request and never across an await.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::errors::{ApiError, Cause, FieldError, Reason};
use crate::fieldmanager::{self, Force, ManagedEntry, Operation};
use crate::kinds::{self, Kind};
use crate::patches;
use crate::request::{self, DryRun, Query, Target};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::serving;
use crate::table;
use crate::validation;
use crate::world::{self, EventType, Shared, Stored, WatchEvent, World};

/// Answers a request for a served resource under `/api/v1` or
/// `/apis/<group>/<version>`; any other path gets the apiserver's 404.
pub fn resource(
    server: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    match handle(server, method, uri, headers, body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn handle(
    server: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let target = request::parse_path(uri.path()).ok_or_else(ApiError::path_not_found)?;
    let query = Query::parse(uri.query());
    match (method, target.name.is_some()) {
        (&Method::GET, true) => get(server, &target, headers),
        (&Method::GET, false) if query.flag("watch") => watch(server, &target, &query, headers),
        (&Method::GET, false) => list(server, &target, &query, headers),
        (&Method::POST, false) => create(server, &target, &query, headers, body),
        (&Method::PUT, true) => replace(server, &target, &query, headers, body),
        (&Method::PATCH, true) => patch(server, &target, &query, headers, body),
        (&Method::DELETE, true) => delete(server, &target, &query, body),
        _ => Err(ApiError::new(
            Reason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// Answers an object, as a table when the client asks for one.
fn object_response(
    status: StatusCode,
    kind: &Kind,
    object: Value,
    headers: &HeaderMap,
) -> Response {
    if table::wanted(headers) {
        return json_response(
            status,
            table::of_objects(kind, std::slice::from_ref(&object), None),
        );
    }
    json_response(status, object)
}

fn get(server: &Shared, target: &Target, headers: &HeaderMap) -> Result<Response, ApiError> {
    let live = find_live(&server.world(), target)?;
    Ok(object_response(
        StatusCode::OK,
        target.kind,
        live.render(),
        headers,
    ))
}

/// The selectors of a list or watch.
struct Selection {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Selection {
    fn parse(kind: &Kind, query: &Query) -> Result<Selection, ApiError> {
        Ok(Selection {
            labels: LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(kind, query.get("fieldSelector").unwrap_or_default())?,
        })
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

/// The position a continued list starts from: an object's namespace and name.
fn continue_key(object: &Value) -> (String, String) {
    (
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn list(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let selection = Selection::parse(kind, query)?;
    let limit =
        match query.get("limit") {
            None | Some("" | "0") => None,
            Some(text) => Some(text.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("invalid limit {text:?}: not a number"))
            })?),
        };
    let start = match query.get("continue").filter(|token| !token.is_empty()) {
        None => None,
        Some(token) => Some(decode_continue(token)?),
    };
    let world = server.world();
    let mut items: Vec<Value> = world
        .list(kind, target.namespace.as_deref())
        .into_iter()
        .map(Stored::render)
        .filter(|object| selection.matches(object))
        .filter(|object| {
            start
                .as_ref()
                .is_none_or(|start| continue_key(object) >= *start)
        })
        .collect();
    let mut metadata = Map::new();
    metadata.insert(
        "resourceVersion".to_owned(),
        world.revision().to_string().into(),
    );
    drop(world);
    if let Some(limit) = limit
        && items.len() > limit
    {
        let rest = items.split_off(limit);
        let (namespace, name) = continue_key(&rest[0]);
        let token = BASE64.encode(json!({"namespace": namespace, "name": name}).to_string());
        metadata.insert("continue".to_owned(), token.into());
        metadata.insert("remainingItemCount".to_owned(), rest.len().into());
    }
    if table::wanted(headers) {
        let continue_token = metadata.get("continue").cloned();
        let mut table = table::of_objects(kind, &items, continue_token);
        table["metadata"]["resourceVersion"] = metadata["resourceVersion"].clone();
        return Ok(json_response(StatusCode::OK, table));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({
            "apiVersion": kind.api_version(),
            "kind": kind.list_kind(),
            "metadata": metadata,
            "items": items,
        }),
    ))
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::bad_request("continue key is not valid");
    let bytes = BASE64.decode(token).map_err(|_| invalid())?;
    let key: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match (key["namespace"].as_str(), key["name"].as_str()) {
        (Some(namespace), Some(name)) => Ok((namespace.to_owned(), name.to_owned())),
        _ => Err(invalid()),
    }
}

/// The longest a watch stays open when the client names no timeout.
const WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

/// Streams changes as newline-separated `{"type", "object"}` events: from the
/// given `resourceVersion` on, or, without one (or with `0`), a synthetic `ADDED`
/// for every current object first.
fn watch(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let format = if table::wanted(headers) {
        EventFormat::Table
    } else {
        EventFormat::Object
    };
    let selection = Selection::parse(kind, query)?;
    // Longer watches are cut to the default, as the apiserver cuts them to its
    // request timeout; the client starts another.
    let timeout = match query.get("timeoutSeconds") {
        None | Some("") => WATCH_TIMEOUT,
        Some(text) => Duration::from_secs(text.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid timeoutSeconds {text:?}: not a number"))
        })?)
        .min(WATCH_TIMEOUT),
    };
    let namespace = target.namespace.clone();
    let relevant = move |event: &WatchEvent| {
        event.resource == kind.resource
            && namespace
                .as_deref()
                .is_none_or(|namespace| event.namespace == namespace)
            && selection.matches(&event.object)
    };
    let world = server.world();
    let receiver = world.subscribe();
    let mut pending: VecDeque<Value> = VecDeque::new();
    let mut seen = world.revision();
    match query.get("resourceVersion").unwrap_or_default() {
        "" | "0" => {
            for stored in world.list(kind, target.namespace.as_deref()) {
                let object = stored.render();
                let event = WatchEvent {
                    revision: seen,
                    resource: kind.resource,
                    namespace: object["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    event_type: EventType::Added,
                    object,
                };
                if relevant(&event) {
                    pending.push_back(event_json(kind, &event, format));
                }
            }
        }
        text => {
            let since: u64 = text
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {text:?}")))?;
            match world.events_since(since) {
                Some(events) => {
                    for event in events.iter().filter(|event| relevant(event)) {
                        pending.push_back(event_json(kind, event, format));
                    }
                }
                None => {
                    let expired = ApiError::new(
                        Reason::Expired,
                        format!("too old resource version: {since} ({})", world.revision()),
                    );
                    pending.push_back(json!({"type": "ERROR", "object": expired.to_status()}));
                    seen = u64::MAX;
                }
            }
        }
    }
    drop(world);
    let deadline = tokio::time::Instant::now() + timeout;
    let state = (receiver, pending, seen, relevant);
    let stream = futures_util::stream::unfold(
        state,
        move |(mut receiver, mut pending, seen, relevant)| async move {
            loop {
                if let Some(event) = pending.pop_front() {
                    let mut line = event.to_string();
                    line.push('\n');
                    return Some((
                        Ok::<_, std::io::Error>(Bytes::from(line)),
                        (receiver, pending, seen, relevant),
                    ));
                }
                if seen == u64::MAX {
                    return None;
                }
                let event = match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Ok(event)) => event,
                    // A watcher too slow for the channel is closed, and re-lists.
                    Ok(Err(
                        broadcast::error::RecvError::Lagged(_)
                        | broadcast::error::RecvError::Closed,
                    ))
                    | Err(_) => return None,
                };
                if event.revision > seen && relevant(&event) {
                    pending.push_back(event_json(kind, &event, format));
                }
            }
        },
    );
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| {
            ApiError::new(Reason::InternalError, "cannot start the watch").into_response()
        }))
}

/// How a watch shows the objects of its events.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EventFormat {
    Object,
    /// A one-row table, for `kubectl get --watch`.
    Table,
}

fn event_json(kind: &Kind, event: &WatchEvent, format: EventFormat) -> Value {
    let object = match format {
        EventFormat::Object => event.object.clone(),
        EventFormat::Table => table::of_objects(kind, std::slice::from_ref(&event.object), None),
    };
    json!({"type": event.event_type.name(), "object": object})
}

/// How a body may lack `apiVersion` and `kind`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TypeMeta {
    /// Missing type fields take the path's, as the decoder defaults them.
    Default,
    /// An apply patch must name its version and kind.
    Required,
}

/// Checks a body's `apiVersion`, `kind`, name and namespace against the path.
fn check_body(
    kind: &Kind,
    target: &Target,
    object: &mut Value,
    type_meta: TypeMeta,
) -> Result<(), ApiError> {
    let expected_version = kind.api_version();
    match object.get("apiVersion").and_then(Value::as_str) {
        Some(version) if version == expected_version => {}
        version if type_meta == TypeMeta::Required => {
            return Err(ApiError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {}, expected: {expected_version}",
                version.unwrap_or_default()
            )));
        }
        Some(version) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({version}) does not match the expected API version ({expected_version})"
            )));
        }
        None => object["apiVersion"] = expected_version.into(),
    }
    match object.get("kind").and_then(Value::as_str) {
        Some(name) if name == kind.kind => {}
        Some(name) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({name}) does not match the expected kind ({})",
                kind.kind
            )));
        }
        None if type_meta == TypeMeta::Required => {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{object}'"
            )));
        }
        None => object["kind"] = kind.kind.into(),
    }
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    if let Some(name) = &target.name {
        match object["metadata"]["name"].as_str() {
            Some(body_name) if body_name == name => {}
            None if type_meta == TypeMeta::Required => {
                object["metadata"]["name"] = name.clone().into()
            }
            body_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    body_name.unwrap_or_default()
                )));
            }
        }
    }
    let metadata = object["metadata"]
        .as_object_mut()
        .expect("check_body made metadata an object");
    if kind.namespaced {
        let namespace = target.namespace.clone().unwrap_or_default();
        match metadata.get("namespace").and_then(Value::as_str) {
            Some(body_namespace) if !body_namespace.is_empty() && body_namespace != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                metadata.insert("namespace".to_owned(), namespace.into());
            }
        }
    } else {
        metadata.remove("namespace");
    }
    Ok(())
}

/// Metadata only the server writes, dropped from what clients send.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Drops server-written metadata from a body, including the `managedFields` a
/// client sends: ownership is the server's record alone. The kind's reset fields
/// (`status`, a namespace's `spec.finalizers`) stay until `server_defaults`
/// decides them, as the strategy does after decoding.
fn strip_server_metadata(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for name in SERVER_METADATA {
            metadata.remove(*name);
        }
    }
}

fn remove_path(object: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for name in parents {
        match node.get_mut(*name) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(*last);
    }
}

/// Refuses new objects in a namespace that is missing or being deleted, as the
/// NamespaceLifecycle admission plugin does.
fn admit(
    world: &World,
    kind: &'static Kind,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let Some(namespace) = namespace.filter(|_| kind.namespaced) else {
        return Ok(());
    };
    match world.get(kinds::namespaces(), None, namespace) {
        None => Err(ApiError::not_found(kinds::namespaces(), namespace)),
        Some(stored) if stored.is_terminating() => Err(ApiError::forbidden(
            kind,
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        )
        .with_cause(Cause::new(
            "NamespaceTerminating",
            format!("namespace {namespace} is being terminated"),
            "metadata.namespace",
        ))),
        Some(_) => Ok(()),
    }
}

/// Canonicalises quantities, fills defaults and validates an object about to be
/// stored; `live` is the stored version of an update.
fn validate(
    server: &Shared,
    kind: &'static Kind,
    object: &mut Value,
    live: Option<&Value>,
) -> Result<(), ApiError> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut errors = validation::canonicalise_quantities(kind, object);
    validation::default_fields(kind, object);
    errors.extend(validation::metadata(kind, object));
    errors.extend(validation::kind_specific(kind, object));
    if let Some(live) = live
        && let Some(error) = validation::role_ref_change(kind, live, object)
    {
        errors.push(error);
    }
    if errors.is_empty()
        && let Some(schemas) = &server.schemas
    {
        errors.extend(schemas.check(kind, object));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(kind, &name, &errors))
    }
}

/// Fills what the registry's strategy sets: a namespace's name label, finalizer
/// and phase; a quota's status; no status for the other kinds.
fn server_defaults(kind: &Kind, object: &mut Value, live: Option<&Value>) {
    match kind.resource {
        "namespaces" => {
            let name = object["metadata"]["name"].clone();
            if !object["metadata"]["labels"].is_object() {
                object["metadata"]["labels"] = json!({});
            }
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            if !object["spec"].is_object() {
                object["spec"] = json!({});
            }
            match live {
                Some(live) => {
                    object["spec"]["finalizers"] = live["spec"]["finalizers"].clone();
                    object["status"] = live["status"].clone();
                }
                None => {
                    let mut finalizers = object["spec"]["finalizers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if !finalizers.iter().any(|finalizer| finalizer == "kubernetes") {
                        finalizers.push("kubernetes".into());
                    }
                    object["spec"]["finalizers"] = finalizers.into();
                    object["status"] = json!({"phase": "Active"});
                }
            }
            if object["spec"]["finalizers"].is_null() {
                remove_path(object, &["spec", "finalizers"]);
            }
        }
        "resourcequotas" => match object["spec"]["hard"].as_object() {
            Some(hard) if !hard.is_empty() => {
                let used: Map<String, Value> = hard
                    .keys()
                    .map(|resource| (resource.clone(), "0".into()))
                    .collect();
                object["status"] = json!({"hard": hard.clone(), "used": used});
            }
            _ => remove_path(object, &["status"]),
        },
        // The other kinds have no status; Go's decoder drops what it has no
        // field for.
        _ => remove_path(object, &["status"]),
    }
}

/// A write ready to be stored.
struct Write<'a> {
    kind: &'static Kind,
    live: Option<&'a Stored>,
    object: Value,
    entries: Vec<ManagedEntry>,
    /// The manager that made the write, whose entry gets the time.
    actor: (&'a str, Operation),
    dry_run: DryRun,
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_of(object: &Value) -> Value {
    let mut spec = object.clone();
    if let Some(map) = spec.as_object_mut() {
        for name in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(name);
        }
    }
    spec
}

/// Fills server metadata and stores the object; answers it with 201 for a create
/// and 200 otherwise.
fn commit(world: &mut World, write: Write<'_>) -> (StatusCode, Value) {
    let Write {
        kind,
        live,
        mut object,
        mut entries,
        actor,
        dry_run,
    } = write;
    validation::drop_empty_maps(kind, &mut object);
    object["apiVersion"] = kind.api_version().into();
    object["kind"] = kind.kind.into();
    let now = world::now();
    let metadata = object["metadata"]
        .as_object_mut()
        .expect("check_body made metadata an object");
    for name in SERVER_METADATA {
        metadata.remove(*name);
    }
    match live {
        Some(live) => {
            for name in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                if let Some(value) = live.body["metadata"].get(name) {
                    metadata.insert(name.to_owned(), value.clone());
                }
            }
            let generation = live.body["metadata"]["generation"].as_i64().unwrap_or(1);
            let changed = spec_of(&live.body) != spec_of(&object);
            object["metadata"]["generation"] = (generation + i64::from(changed)).into();
            object["metadata"]["resourceVersion"] = live.resource_version().into();
            if object == live.body && fieldmanager::same_ownership(&entries, &live.entries) {
                return (StatusCode::OK, live.render());
            }
        }
        None => {
            metadata.insert("uid".to_owned(), uuid::Uuid::new_v4().to_string().into());
            metadata.insert("creationTimestamp".to_owned(), now.clone().into());
            metadata.insert("generation".to_owned(), 1.into());
        }
    }
    let object_changed = live.is_none_or(|live| live.body != object);
    let (manager, operation) = actor;
    for entry in &mut entries {
        if entry.manager != manager || entry.operation != operation {
            continue;
        }
        let before = live.and_then(|live| {
            live.entries
                .iter()
                .find(|old| old.manager == manager && old.operation == operation)
        });
        match before {
            Some(before) if !object_changed => entry.time = before.time.clone(),
            _ => entry.time = now.clone(),
        }
        if entry.time.is_empty() {
            entry.time = now.clone();
        }
    }
    let status = if live.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    if dry_run == DryRun::All {
        if live.is_none() {
            remove_path(&mut object, &["metadata", "resourceVersion"]);
        }
        return (
            status,
            Stored {
                body: object,
                entries,
            }
            .render(),
        );
    }
    object["metadata"]["resourceVersion"] = world.next_revision().to_string().into();
    let stored = Stored {
        body: object,
        entries,
    };
    let rendered = stored.render();
    world.put(kind, stored);
    (status, rendered)
}

/// Defaults a validated object and stores it as a write by `manager` that is
/// not an apply (a create, replace or patch), over `live` if there is one.
fn commit_update(
    world: &mut World,
    kind: &'static Kind,
    live: Option<&Stored>,
    mut object: Value,
    manager: &str,
    dry_run: DryRun,
) -> (StatusCode, Value) {
    server_defaults(kind, &mut object, live.map(|live| &live.body));
    let (entries, _) = match live {
        Some(live) => fieldmanager::update(kind, &live.body, &live.entries, &object, manager),
        None => fieldmanager::update(kind, &json!({}), &[], &object, manager),
    };
    commit(
        world,
        Write {
            kind,
            live,
            object,
            entries,
            actor: (manager, Operation::Update),
            dry_run,
        },
    )
}

/// Returns the stored object an item request names, or the 404 for it.
fn find_live(world: &World, target: &Target) -> Result<Stored, ApiError> {
    let name = target.item_name();
    world
        .get(target.kind, target.namespace.as_deref(), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(target.kind, name))
}

/// Returns a name for `metadata.generateName`: the prefix and five random
/// characters from the apiserver's alphabet.
fn generated_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(5)
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    format!("{prefix}{suffix}")
}

fn create(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    if kind.namespaced && target.namespace.is_none() {
        return Err(ApiError::new(
            Reason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        ));
    }
    let dry_run = query.dry_run("CreateOptions")?;
    let manager = request::field_manager(query, headers, "CreateOptions")?;
    let mut object = request::object_body(headers, body)?;
    check_body(kind, target, &mut object, TypeMeta::Default)?;
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
        && let Some(prefix) = object["metadata"]["generateName"].as_str()
    {
        object["metadata"]["name"] = generated_name(prefix).into();
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if object["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|version| !version.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    strip_server_metadata(&mut object);
    let mut world = server.world();
    admit(&world, kind, target.namespace.as_deref(), &name)?;
    validate(server, kind, &mut object, None)?;
    if let Some(existing) = world.get(kind, target.namespace.as_deref(), &name) {
        let mut error = ApiError::already_exists(kind, &name);
        if existing.is_terminating() {
            error.message = format!("object is being deleted: {}", error.message);
        }
        return Err(error);
    }
    let (status, created) = commit_update(&mut world, kind, None, object, &manager, dry_run);
    if kind.resource == "namespaces" && dry_run == DryRun::No {
        create_default_service_account(&mut world, &name);
    }
    Ok(object_response(status, kind, created, headers))
}

/// Creates the `default` service account of a new namespace, as the service
/// account controller does.
fn create_default_service_account(world: &mut World, namespace: &str) {
    let kind = kinds::service_accounts();
    if world.get(kind, Some(namespace), "default").is_some() {
        return;
    }
    let object = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    });
    commit(
        world,
        Write {
            kind,
            live: None,
            object,
            entries: Vec::new(),
            actor: ("", Operation::Update),
            dry_run: DryRun::No,
        },
    );
}

/// Checks the `resourceVersion` and `uid` a client sent against the stored object.
fn check_preconditions(
    kind: &'static Kind,
    name: &str,
    live: &Stored,
    object: &Value,
) -> Result<(), ApiError> {
    if let Some(version) = object["metadata"]["resourceVersion"].as_str()
        && !version.is_empty()
        && version != live.resource_version()
    {
        return Err(ApiError::stale_resource_version(kind, name));
    }
    if let Some(uid) = object["metadata"]["uid"].as_str()
        && !uid.is_empty()
        && uid != live.uid()
    {
        return Err(ApiError::conflict(
            kind,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                live.uid()
            ),
        ));
    }
    Ok(())
}

fn replace(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let name = target.item_name();
    let dry_run = query.dry_run("UpdateOptions")?;
    let manager = request::field_manager(query, headers, "UpdateOptions")?;
    let mut object = request::object_body(headers, body)?;
    check_body(kind, target, &mut object, TypeMeta::Default)?;
    let mut world = server.world();
    let Some(live) = world.get(kind, target.namespace.as_deref(), name).cloned() else {
        if !kind.create_on_update
            || object["metadata"]["resourceVersion"]
                .as_str()
                .is_some_and(|version| !version.is_empty())
        {
            return Err(ApiError::not_found(kind, name));
        }
        strip_server_metadata(&mut object);
        admit(&world, kind, target.namespace.as_deref(), name)?;
        validate(server, kind, &mut object, None)?;
        let (status, created) = commit_update(&mut world, kind, None, object, &manager, dry_run);
        return Ok(object_response(status, kind, created, headers));
    };
    check_preconditions(kind, name, &live, &object)?;
    strip_server_metadata(&mut object);
    validate(server, kind, &mut object, Some(&live.body))?;
    let (status, updated) = commit_update(&mut world, kind, Some(&live), object, &manager, dry_run);
    Ok(object_response(status, kind, updated, headers))
}

/// The patch formats of a PATCH request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Apply,
    /// JSON merge patch; strategic merge patches are read as merge patches.
    Merge,
    Json,
}

fn patch(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let patch_type = match request::content_type(headers).as_str() {
        "application/apply-patch+yaml" => PatchType::Apply,
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            PatchType::Merge
        }
        "application/json-patch+json" => PatchType::Json,
        _ => {
            return Err(ApiError::new(
                Reason::UnsupportedMediaType,
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
            ));
        }
    };
    match patch_type {
        PatchType::Apply if query.get("fieldManager").is_none_or(str::is_empty) => {
            return Err(request::options_invalid(
                "PatchOptions",
                FieldError::required("fieldManager", "is required for apply patch"),
            ));
        }
        PatchType::Merge | PatchType::Json if query.get("force").is_some() => {
            return Err(request::options_invalid(
                "PatchOptions",
                FieldError {
                    reason: "FieldValueForbidden",
                    field: "force".to_owned(),
                    body: "Forbidden: may not be specified for non-apply patch".to_owned(),
                },
            ));
        }
        _ => {}
    }
    let dry_run = query.dry_run("PatchOptions")?;
    let manager = request::field_manager(query, headers, "PatchOptions")?;
    match patch_type {
        PatchType::Apply => apply(server, target, query, headers, body, &manager, dry_run),
        PatchType::Merge | PatchType::Json => {
            patch_update(server, target, headers, body, &manager, dry_run, patch_type)
        }
    }
}

fn apply(
    server: &Shared,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &Bytes,
    manager: &str,
    dry_run: DryRun,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let name = target.item_name();
    let force = match query.get("force") {
        None | Some("" | "false" | "0") => Force::No,
        Some("true" | "1") => Force::Yes,
        Some(other) => return Err(ApiError::bad_request(format!("invalid force {other:?}"))),
    };
    let config: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!(
            "error decoding YAML: fake-kube reads apply patches in their JSON form only: {error}"
        ))
    })?;
    let mut config = request::object(config)?;
    check_body(kind, target, &mut config, TypeMeta::Required)?;
    let mut world = server.world();
    let live = world.get(kind, target.namespace.as_deref(), name).cloned();
    let version = config["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default();
    if !version.is_empty()
        && live
            .as_ref()
            .is_none_or(|live| live.resource_version() != version)
    {
        return Err(ApiError::stale_resource_version(kind, name));
    }
    strip_server_metadata(&mut config);
    // The configuration is read as the apiserver decodes it, canonical and
    // defaulted, so that it compares equal to what it produced before.
    let quantity_errors = validation::canonicalise_quantities(kind, &mut config);
    if !quantity_errors.is_empty() {
        return Err(ApiError::invalid(kind, name, &quantity_errors));
    }
    validation::default_fields(kind, &mut config);
    if live.is_none() {
        admit(&world, kind, target.namespace.as_deref(), name)?;
    }
    let empty = json!({});
    let (live_body, live_entries) = match &live {
        Some(live) => (&live.body, live.entries.as_slice()),
        None => (&empty, &[][..]),
    };
    let (mut object, entries) =
        fieldmanager::apply(kind, live_body, live_entries, &config, manager, force)
            .map_err(fieldmanager::Conflicts::into_error)?;
    object["metadata"]["name"] = name.into();
    if let Some(namespace) = &target.namespace {
        object["metadata"]["namespace"] = namespace.clone().into();
    }
    validate(
        server,
        kind,
        &mut object,
        live.as_ref().map(|live| &live.body),
    )?;
    server_defaults(kind, &mut object, live.as_ref().map(|live| &live.body));
    let (status, applied) = commit(
        &mut world,
        Write {
            kind,
            live: live.as_ref(),
            object,
            entries,
            actor: (manager, Operation::Apply),
            dry_run,
        },
    );
    if status == StatusCode::CREATED && kind.resource == "namespaces" && dry_run == DryRun::No {
        create_default_service_account(&mut world, name);
    }
    Ok(object_response(status, kind, applied, headers))
}

/// Applies a merge or JSON patch to the stored object, as an update.
fn patch_update(
    server: &Shared,
    target: &Target,
    headers: &HeaderMap,
    body: &Bytes,
    manager: &str,
    dry_run: DryRun,
    patch_type: PatchType,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let name = target.item_name();
    let patch: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("error decoding the patch as JSON: {error}"))
    })?;
    let mut world = server.world();
    let live = find_live(&world, target)?;
    let mut object = live.body.clone();
    match patch_type {
        PatchType::Json => patches::json_patch(&mut object, &patch)?,
        _ if !patch.is_object() => {
            return Err(ApiError::bad_request("a merge patch must be a JSON object"));
        }
        _ => patches::merge(&mut object, &patch)?,
    }
    let mut object = serving::without_nulls(object);
    if object["apiVersion"] != live.body["apiVersion"] || object["kind"] != live.body["kind"] {
        return Err(ApiError::bad_request(
            "a patch may not change the apiVersion or kind of an object",
        ));
    }
    check_body(kind, target, &mut object, TypeMeta::Default)?;
    check_preconditions(kind, name, &live, &object)?;
    strip_server_metadata(&mut object);
    validate(server, kind, &mut object, Some(&live.body))?;
    let (status, patched) = commit_update(&mut world, kind, Some(&live), object, manager, dry_run);
    Ok(object_response(status, kind, patched, headers))
}

fn delete(
    server: &Shared,
    target: &Target,
    query: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let kind = target.kind;
    let name = target.item_name();
    let mut dry_run = query.dry_run("DeleteOptions")?;
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding DeleteOptions: {error}"))
        })?
    };
    if options["dryRun"]
        .as_array()
        .is_some_and(|values| values.iter().any(|value| value == "All"))
    {
        dry_run = DryRun::All;
    }
    let mut world = server.world();
    let live = find_live(&world, target)?;
    let preconditions = json!({"metadata": {
        "uid": options["preconditions"]["uid"],
        "resourceVersion": options["preconditions"]["resourceVersion"],
    }});
    check_preconditions(kind, name, &live, &preconditions)?;
    if kind.resource == "namespaces" {
        return delete_namespace(server, &mut world, live, dry_run);
    }
    if dry_run == DryRun::No {
        world.remove(kind, target.namespace.as_deref(), name);
    }
    if kind.returns_deleted_object {
        return Ok(json_response(StatusCode::OK, live.render()));
    }
    let mut details = Map::new();
    details.insert("name".to_owned(), name.into());
    if !kind.group.is_empty() {
        details.insert("group".to_owned(), kind.group.into());
    }
    details.insert("kind".to_owned(), kind.resource.into());
    details.insert("uid".to_owned(), live.uid().into());
    Ok(json_response(
        StatusCode::OK,
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }),
    ))
}

/// Starts a namespace's deletion: it turns `Terminating`, loses its content at
/// once, and is gone after `--namespace-finalize-ms`, as when the namespace
/// controller has finished. Deleting it again answers it unchanged.
fn delete_namespace(
    server: &Shared,
    world: &mut World,
    live: Stored,
    dry_run: DryRun,
) -> Result<Response, ApiError> {
    let kind = kinds::namespaces();
    let name = live.body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if world::UNDELETABLE_NAMESPACES.contains(&name.as_str()) {
        return Err(ApiError::forbidden(
            kind,
            &name,
            "this namespace may not be deleted",
        ));
    }
    if live.is_terminating() {
        return Ok(json_response(StatusCode::OK, live.render()));
    }
    let mut object = live.body.clone();
    object["metadata"]["deletionTimestamp"] = world::now().into();
    object["metadata"]["deletionGracePeriodSeconds"] = 0.into();
    object["status"]["phase"] = "Terminating".into();
    if dry_run == DryRun::All {
        return Ok(json_response(
            StatusCode::OK,
            Stored {
                body: object,
                entries: live.entries,
            }
            .render(),
        ));
    }
    object["metadata"]["resourceVersion"] = world.next_revision().to_string().into();
    let stored = Stored {
        body: object,
        entries: live.entries.clone(),
    };
    let rendered = stored.render();
    world.put(kind, stored);
    world.delete_namespace_contents(&name);
    let uid = live.uid().to_owned();
    let finalize = server.settings.namespace_finalize;
    let server = server.clone();
    tokio::spawn(async move {
        tokio::time::sleep(finalize).await;
        let mut world = server.world();
        if world
            .get(kind, None, &name)
            .is_some_and(|stored| stored.uid() == uid)
        {
            world.remove(kind, None, &name);
        }
    });
    Ok(json_response(StatusCode::OK, rendered))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_take_the_prefix() {
        let name = generated_name("team-");
        assert!(name.starts_with("team-") && name.len() == 10, "{name}");
    }
}
