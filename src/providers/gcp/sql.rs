//! `google_sql_database_instance`, `google_sql_database` and `google_sql_user`
//! (Cloud SQL Admin v1).
//!
//! Every mutation returns a `sql#operation`, which this module polls at
//! `v1/projects/P/operations/NAME` until its `status` is `DONE`; it failed when
//! `error.errors[]` is not empty. Cloud SQL runs one admin operation per instance
//! at a time, so a call refused with `operationInProgress` waits for the running
//! operations of the instance and is made again.
//!
//! Optional attributes that the configuration leaves null are read back as null:
//! Cloud SQL fills in its defaults, and yagura manages only what the
//! configuration states. An import, which has no configuration to follow,
//! reports every attribute. `deletion_protection` is the instance's
//! `settings.deletionProtectionEnabled`, so it also guards against deletions
//! made outside yagura.
//!
//! Invariant: passwords (`root_password`, a user's `password`) go to the API and
//! into state only; Cloud SQL never returns them, they are never read back, never
//! logged and never part of an error message.

use reqwest::Method;
use serde_json::{Map, Value as Json, json};

use super::{GcpClient, GcpError, api_error, invalid, refuse_if_protected, unsupported};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

/// The types this module implements.
pub const TYPES: &[&str] = &[
    "google_sql_database_instance",
    "google_sql_database",
    "google_sql_user",
];

const INSTANCE: &str = "google_sql_database_instance";
const DATABASE: &str = "google_sql_database";
const USER: &str = "google_sql_user";

const SQL: &str = "sqladmin";

pub async fn read(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    match type_name {
        INSTANCE => read_instance(client, stored).await,
        DATABASE => read_database(client, stored).await,
        USER => read_user(client, stored).await,
        _ => Err(unsupported(type_name, "read")),
    }
}

pub async fn create(
    client: &GcpClient,
    type_name: &str,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let plan = planned_json(planned);
    match type_name {
        INSTANCE => create_instance(client, &plan).await,
        DATABASE => create_database(client, &plan).await,
        USER => create_user(client, &plan).await,
        _ => Err(unsupported(type_name, "create")),
    }
}

pub async fn update(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let plan = planned_json(planned);
    match type_name {
        INSTANCE => update_instance(client, stored, &plan).await,
        DATABASE => update_database(client, stored, &plan).await,
        USER => update_user(client, stored, &plan).await,
        _ => Err(unsupported(type_name, "update")),
    }
}

pub async fn delete(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    match type_name {
        INSTANCE => delete_instance(client, stored).await,
        DATABASE => delete_database(client, stored).await,
        USER => delete_user(client, stored).await,
        _ => Err(unsupported(type_name, "delete")),
    }
}

pub async fn import(
    client: &GcpClient,
    type_name: &str,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    match type_name {
        INSTANCE => import_instance(client, id).await,
        DATABASE => import_database(client, id).await,
        USER => import_user(client, id).await,
        _ => Err(unsupported(type_name, "import")),
    }
}

// Shared pieces: values, shapes, paths, errors.

/// Adds a sentence to the message of a failed API call.
fn with_hint(error: ProviderError, hint: &str) -> ProviderError {
    match error {
        ProviderError::Api {
            method,
            status,
            message,
        } => ProviderError::Api {
            method,
            status,
            message: format!("{message}; {hint}"),
        },
        other => other,
    }
}

/// A planned value as JSON, without sensitive marks; unknown values are null.
fn planned_json(planned: &Value) -> Map<String, Json> {
    match planned.clone().unmark_deep().0.to_json() {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

fn text<'a>(map: &'a Map<String, Json>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Json::as_str)
}

/// The first object of a nested block (`settings`, `backup_configuration`).
fn block<'a>(map: &'a Map<String, Json>, name: &str) -> Option<&'a Map<String, Json>> {
    map.get(name)?.as_array()?.first()?.as_object()
}

/// Reads an int64, which Google's JSON carries as a string.
fn int64(value: Option<&Json>) -> Option<i64> {
    match value? {
        Json::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Percent-encodes a path segment or query value (user names, hosts such as `%`).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What an object read from the API is reported like.
#[derive(Clone, Copy)]
enum Shape<'a> {
    /// Every attribute the API has (an import).
    Every,
    /// The attributes a stored or planned value sets: one that is null there stays null.
    Like(&'a Map<String, Json>),
}

impl<'a> Shape<'a> {
    fn reports(self, name: &str) -> bool {
        match self {
            Shape::Every => true,
            Shape::Like(map) => map.get(name).is_some_and(|v| !v.is_null()),
        }
    }

    /// The shape of a nested block's object, or `None` when the block is absent.
    fn block(self, name: &str) -> Option<Shape<'a>> {
        match self {
            Shape::Every => Some(Shape::Every),
            Shape::Like(map) => block(map, name).map(Shape::Like),
        }
    }

    /// An optional attribute: the API's value, or null when the shape leaves it null.
    fn optional(self, name: &str, value: Option<&Json>) -> Json {
        if self.reports(name) {
            value.cloned().unwrap_or(Json::Null)
        } else {
            Json::Null
        }
    }
}

async fn get_optional(client: &GcpClient, path: &str) -> Result<Option<Json>, GcpError> {
    match client.call(SQL, Method::GET, path, None).await {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Lists what the live object differs in from a request, by the request's field
/// paths: a request field that is absent or null is not compared, passwords are
/// never compared, lists are compared regardless of order, labels exactly.
fn differences(requested: &Json, live: &Json, path: &str, out: &mut Vec<String>) {
    let field = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match requested {
        Json::Null => {}
        Json::Object(fields) => {
            for (key, value) in fields {
                if matches!(key.as_str(), "password" | "rootPassword") {
                    continue;
                }
                differences(
                    value,
                    live.get(key).unwrap_or(&Json::Null),
                    &field(key),
                    out,
                );
            }
            if path.ends_with("userLabels") {
                let extra = live
                    .as_object()
                    .is_some_and(|live| live.keys().any(|k| !fields.contains_key(k)));
                if extra {
                    out.push(path.to_string());
                }
            }
        }
        Json::Array(items) => {
            let mut wanted: Vec<String> = items.iter().map(Json::to_string).collect();
            let mut found: Vec<String> = live
                .as_array()
                .map(|l| l.iter().map(Json::to_string).collect())
                .unwrap_or_default();
            wanted.sort();
            found.sort();
            if wanted != found {
                out.push(path.to_string());
            }
        }
        scalar => {
            let same = scalar == live
                || (int64(Some(scalar)).is_some() && int64(Some(scalar)) == int64(Some(live)));
            if !same {
                out.push(path.to_string());
            }
        }
    }
}

// Operations.

fn operation_status(operation: &Json) -> &str {
    operation
        .get("status")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

/// The failure of a finished operation, named after the call that started it.
fn operation_failure(operation: &Json, method: &Method, path: &str) -> Option<GcpError> {
    let errors = operation.get("error")?.get("errors")?.as_array()?;
    let first = errors.first()?;
    let code = first.get("code").and_then(Json::as_str).map(str::to_string);
    let message = errors
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let text = e
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("the operation failed");
            match e.get("code").and_then(Json::as_str) {
                Some(code) if i > 0 => format!("{code}: {text}"),
                _ => text.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let name = operation
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default();
    Some(GcpError {
        method: method.to_string(),
        path: format!(
            "{} (operation {name})",
            path.split('?').next().unwrap_or(path)
        ),
        status: None,
        status_name: code,
        reason: None,
        message,
        retry_after: None,
    })
}

fn polling_error(operation: &str, message: &str) -> GcpError {
    GcpError {
        method: Method::GET.to_string(),
        path: format!("operations/{operation}"),
        status: None,
        status_name: None,
        reason: None,
        message: message.to_string(),
        retry_after: None,
    }
}

/// Polls a `sql#operation` until it is `DONE`, with capped backoff, and returns it.
async fn poll_until_done(
    client: &GcpClient,
    project: &str,
    operation: Json,
) -> Result<Json, GcpError> {
    let is_done = |op: &Json| operation_status(op) == "DONE";
    if is_done(&operation) {
        return Ok(operation);
    }
    let name = operation
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(polling_error("", "an unfinished operation has no name"));
    }
    let path = format!("v1/projects/{project}/operations/{}", encode(&name));
    client.poll(SQL, &path, operation, is_done).await
}

async fn instance_operations(
    client: &GcpClient,
    project: &str,
    instance: &str,
) -> Result<Vec<Json>, GcpError> {
    let list = client
        .call(
            SQL,
            Method::GET,
            &format!(
                "v1/projects/{project}/operations?instance={}",
                encode(instance)
            ),
            None,
        )
        .await?;
    Ok(list
        .get("items")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Waits for the operations running on an instance; their outcome is not ours to report.
async fn wait_for_running(
    client: &GcpClient,
    project: &str,
    instance: &str,
) -> Result<(), GcpError> {
    for operation in instance_operations(client, project, instance).await? {
        if operation_status(&operation) != "DONE" {
            poll_until_done(client, project, operation).await?;
        }
    }
    tokio::time::sleep(client.options.poll_min).await;
    Ok(())
}

fn is_operation_in_progress(e: &GcpError) -> bool {
    e.status == Some(409) && e.reason.as_deref() == Some("operationInProgress")
}

/// Makes a call that returns a `sql#operation` on `instance` and waits for the
/// operation; fails with the operation's error when it ends in one.
async fn call_and_wait(
    client: &GcpClient,
    project: &str,
    instance: &str,
    method: Method,
    path: &str,
    body: Option<&Json>,
) -> Result<(), GcpError> {
    let deadline = tokio::time::Instant::now() + client.options.operation_timeout;
    loop {
        match client.call(SQL, method.clone(), path, body).await {
            Ok(operation) => {
                let done = poll_until_done(client, project, operation).await?;
                return match operation_failure(&done, &method, path) {
                    Some(failure) => Err(failure),
                    None => Ok(()),
                };
            }
            Err(e) if is_operation_in_progress(&e) && tokio::time::Instant::now() < deadline => {
                wait_for_running(client, project, instance).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

// Instances.

fn instance_path(project: &str, name: &str) -> String {
    format!("v1/projects/{project}/instances/{name}")
}

/// The administrator Cloud SQL creates with an instance, whose password is the
/// instance's `root_password`: `root@%` (MySQL), `postgres` or `sqlserver`.
fn administrator(database_version: &str) -> (&'static str, Option<&'static str>) {
    if database_version.starts_with("POSTGRES") {
        ("postgres", None)
    } else if database_version.starts_with("SQLSERVER") {
        ("sqlserver", None)
    } else {
        ("root", Some("%"))
    }
}

/// The API's `settings` for a planned `settings` block: only what the configuration sets.
fn settings_body(settings: &Map<String, Json>, deletion_protection: bool) -> Map<String, Json> {
    let mut body = Map::new();
    for (attr, field) in [
        ("tier", "tier"),
        ("edition", "edition"),
        ("availability_type", "availabilityType"),
        ("disk_type", "dataDiskType"),
    ] {
        if let Some(value) = settings.get(attr).filter(|v| !v.is_null()) {
            body.insert(field.into(), value.clone());
        }
    }
    if let Some(size) = int64(settings.get("disk_size")) {
        body.insert("dataDiskSizeGb".into(), json!(size.to_string()));
    }
    if let Some(labels @ Json::Object(_)) = settings.get("user_labels") {
        body.insert("userLabels".into(), labels.clone());
    }
    let subset = |object: &Map<String, Json>, fields: &[(&str, &str)]| {
        let mut out = Map::new();
        for (attr, field) in fields {
            if let Some(value) = object.get(*attr).filter(|v| !v.is_null()) {
                out.insert((*field).into(), value.clone());
            }
        }
        Json::Object(out)
    };
    if let Some(backup) = block(settings, "backup_configuration") {
        body.insert(
            "backupConfiguration".into(),
            subset(
                backup,
                &[
                    ("enabled", "enabled"),
                    ("start_time", "startTime"),
                    (
                        "point_in_time_recovery_enabled",
                        "pointInTimeRecoveryEnabled",
                    ),
                ],
            ),
        );
    }
    if let Some(ip) = block(settings, "ip_configuration") {
        body.insert(
            "ipConfiguration".into(),
            subset(
                ip,
                &[
                    ("ipv4_enabled", "ipv4Enabled"),
                    ("private_network", "privateNetwork"),
                    ("ssl_mode", "sslMode"),
                ],
            ),
        );
    }
    let flags: Vec<Json> = settings
        .get("database_flags")
        .and_then(Json::as_array)
        .map(|flags| {
            flags
                .iter()
                .map(|flag| json!({ "name": flag.get("name"), "value": flag.get("value") }))
                .collect()
        })
        .unwrap_or_default();
    body.insert("databaseFlags".into(), Json::Array(flags));
    body.insert(
        "deletionProtectionEnabled".into(),
        json!(deletion_protection),
    );
    body
}

/// The instance's flags as `database_flags` blocks, in the order the shape lists
/// them (Cloud SQL keeps flags as a set), others after them by name.
fn flag_blocks(settings: &Json, shape: Shape) -> Json {
    let order: Vec<&str> = match shape {
        Shape::Every => Vec::new(),
        Shape::Like(map) => map
            .get("database_flags")
            .and_then(Json::as_array)
            .map(|flags| flags.iter().filter_map(|f| text_of(f, "name")).collect())
            .unwrap_or_default(),
    };
    let mut flags: Vec<Json> = settings
        .get("databaseFlags")
        .and_then(Json::as_array)
        .map(|flags| {
            flags
                .iter()
                .map(|f| {
                    json!({
                        "name": f.get("name").cloned().unwrap_or(Json::Null),
                        "value": f.get("value").cloned().unwrap_or(Json::Null),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    flags.sort_by_key(|f| {
        let name = text_of(f, "name").unwrap_or_default().to_string();
        let position = order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
        (position, name)
    });
    Json::Array(flags)
}

fn text_of<'a>(json: &'a Json, name: &str) -> Option<&'a str> {
    json.get(name).and_then(Json::as_str)
}

/// A nested block read from an API object (`backupConfiguration`), with the given
/// attributes; absent when the shape has no such block.
fn api_block(api: Option<&Json>, shape: Option<Shape>, fields: &[(&str, &str)]) -> Json {
    let (Some(shape), Some(api)) = (shape, api) else {
        return json!([]);
    };
    let mut item = Map::new();
    for (attr, field) in fields {
        item.insert((*attr).into(), shape.optional(attr, api.get(*field)));
    }
    json!([item])
}

/// The address of the given type (`PRIMARY`, `PRIVATE`) in `ipAddresses`.
fn ip_address(instance: &Json, kind: &str) -> Json {
    instance
        .get("ipAddresses")
        .and_then(Json::as_array)
        .and_then(|ips| ips.iter().find(|ip| text_of(ip, "type") == Some(kind)))
        .and_then(|ip| ip.get("ipAddress").cloned())
        .unwrap_or(Json::Null)
}

fn instance_object(
    instance: &Json,
    project: &str,
    name: &str,
    shape: Shape,
    root_password: Json,
) -> RemoteObject {
    let settings = instance.get("settings").unwrap_or(&Json::Null);
    let settings_shape = shape.block("settings").unwrap_or(Shape::Every);
    let mut block = Map::new();
    block.insert(
        "tier".into(),
        settings.get("tier").cloned().unwrap_or(Json::Null),
    );
    for (attr, field) in [
        ("edition", "edition"),
        ("availability_type", "availabilityType"),
        ("disk_type", "dataDiskType"),
    ] {
        block.insert(
            attr.into(),
            settings_shape.optional(attr, settings.get(field)),
        );
    }
    let disk_size = int64(settings.get("dataDiskSizeGb")).map(|n| json!(n));
    block.insert(
        "disk_size".into(),
        settings_shape.optional("disk_size", disk_size.as_ref()),
    );
    let labels = match settings.get("userLabels") {
        Some(labels @ Json::Object(_)) => labels.clone(),
        _ => json!({}),
    };
    block.insert(
        "user_labels".into(),
        settings_shape.optional("user_labels", Some(&labels)),
    );
    block.insert(
        "backup_configuration".into(),
        api_block(
            settings.get("backupConfiguration"),
            settings_shape.block("backup_configuration"),
            &[
                ("enabled", "enabled"),
                ("start_time", "startTime"),
                (
                    "point_in_time_recovery_enabled",
                    "pointInTimeRecoveryEnabled",
                ),
            ],
        ),
    );
    block.insert(
        "ip_configuration".into(),
        api_block(
            settings.get("ipConfiguration"),
            settings_shape.block("ip_configuration"),
            &[
                ("ipv4_enabled", "ipv4Enabled"),
                ("private_network", "privateNetwork"),
                ("ssl_mode", "sslMode"),
            ],
        ),
    );
    block.insert(
        "database_flags".into(),
        flag_blocks(settings, settings_shape),
    );

    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("name".into(), json!(name));
    attrs.insert(
        "database_version".into(),
        instance
            .get("databaseVersion")
            .cloned()
            .unwrap_or(Json::Null),
    );
    attrs.insert(
        "region".into(),
        instance.get("region").cloned().unwrap_or(Json::Null),
    );
    attrs.insert(
        "deletion_protection".into(),
        json!(
            settings
                .get("deletionProtectionEnabled")
                .and_then(Json::as_bool)
                .unwrap_or(false)
        ),
    );
    attrs.insert("root_password".into(), root_password);
    attrs.insert("settings".into(), json!([block]));
    attrs.insert(
        "connection_name".into(),
        instance
            .get("connectionName")
            .cloned()
            .unwrap_or(Json::Null),
    );
    attrs.insert(
        "self_link".into(),
        instance.get("selfLink").cloned().unwrap_or(Json::Null),
    );
    attrs.insert("public_ip_address".into(), ip_address(instance, "PRIMARY"));
    attrs.insert("private_ip_address".into(), ip_address(instance, "PRIVATE"));
    attrs.insert("id".into(), json!(name));
    RemoteObject {
        provider_id: Some(format!("projects/{project}/instances/{name}")),
        attributes: attrs,
    }
}

/// The project and name of a stored object.
fn stored_project_and<'a>(
    type_name: &str,
    stored: &'a RemoteObject,
    second: &str,
) -> Result<(&'a str, &'a str), ProviderError> {
    match (
        text(&stored.attributes, "project"),
        text(&stored.attributes, second),
    ) {
        (Some(project), Some(value)) => Ok((project, value)),
        _ => Err(invalid(
            type_name,
            format!("the stored resource has no `project` or `{second}`"),
        )),
    }
}

async fn read_instance(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    let (project, name) = stored_project_and(INSTANCE, stored, "name")?;
    let instance = get_optional(client, &instance_path(project, name))
        .await
        .map_err(|e| api_error(INSTANCE, e))?;
    let root_password = stored
        .attributes
        .get("root_password")
        .cloned()
        .unwrap_or(Json::Null);
    Ok(instance.map(|i| {
        instance_object(
            &i,
            project,
            name,
            Shape::Like(&stored.attributes),
            root_password,
        )
    }))
}

async fn create_instance(
    client: &GcpClient,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (Some(project), Some(name), Some(region), Some(version), Some(settings)) = (
        text(plan, "project"),
        text(plan, "name"),
        text(plan, "region"),
        text(plan, "database_version"),
        block(plan, "settings"),
    ) else {
        return Err(invalid(
            INSTANCE,
            "`project`, `name`, `region`, `database_version` and `settings` must be known",
        ));
    };
    let deletion_protection = plan
        .get("deletion_protection")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    let mut body = json!({
        "name": name,
        "region": region,
        "databaseVersion": version,
        "settings": settings_body(settings, deletion_protection),
    });
    if let Some(password) = text(plan, "root_password") {
        body["rootPassword"] = json!(password);
    }
    let insert_path = format!("v1/projects/{project}/instances");
    let created = call_and_wait(
        client,
        project,
        name,
        Method::POST,
        &insert_path,
        Some(&body),
    )
    .await;
    match created {
        Ok(()) => {}
        Err(e) if e.is_already_exists() => {
            // A create whose response was lost and that was made again finds its own
            // instance; anything else holding the name is not adopted.
            let live = get_optional(client, &instance_path(project, name))
                .await
                .map_err(|e| api_error(INSTANCE, e))?;
            let Some(live) = live else {
                return Err(with_hint(
                    api_error(INSTANCE, e),
                    &format!(
                        "no instance named {name:?} exists, so Cloud SQL still reserves the name of a deleted instance; choose another name"
                    ),
                ));
            };
            let mut differing = Vec::new();
            differences(&body, &live, "", &mut differing);
            if !differing.is_empty() {
                return Err(with_hint(
                    api_error(INSTANCE, e),
                    &format!(
                        "the existing instance {name:?} differs from the requested one in {}, so it is not adopted",
                        differing.join(", ")
                    ),
                ));
            }
            wait_for_create(client, project, name, &insert_path)
                .await
                .map_err(|e| api_error(INSTANCE, e))?;
        }
        Err(e) => return Err(api_error(INSTANCE, e)),
    }
    let instance = get_optional(client, &instance_path(project, name))
        .await
        .map_err(|e| api_error(INSTANCE, e))?
        .ok_or_else(|| {
            invalid(
                INSTANCE,
                format!("instance {name} disappeared right after its creation in {project}"),
            )
        })?;
    Ok(instance_object(
        &instance,
        project,
        name,
        Shape::Like(plan),
        plan.get("root_password").cloned().unwrap_or(Json::Null),
    ))
}

/// Waits for the newest `CREATE` operation of an adopted instance and reports its failure.
async fn wait_for_create(
    client: &GcpClient,
    project: &str,
    name: &str,
    insert_path: &str,
) -> Result<(), GcpError> {
    let operations = instance_operations(client, project, name).await?;
    let Some(create) = operations
        .into_iter()
        .find(|op| text_of(op, "operationType") == Some("CREATE"))
    else {
        return Ok(());
    };
    let done = poll_until_done(client, project, create).await?;
    match operation_failure(&done, &Method::POST, insert_path) {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

async fn update_instance(
    client: &GcpClient,
    stored: &RemoteObject,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (project, name) = stored_project_and(INSTANCE, stored, "name")?;
    let path = instance_path(project, name);
    let settings =
        block(plan, "settings").ok_or_else(|| invalid(INSTANCE, "`settings` must be known"))?;
    let live = get_optional(client, &path)
        .await
        .map_err(|e| api_error(INSTANCE, e))?
        .ok_or_else(|| {
            invalid(
                INSTANCE,
                format!("instance {name} no longer exists in {project}"),
            )
        })?;
    let live_settings = live.get("settings").unwrap_or(&Json::Null);
    if let Some(disk_type) = text(settings, "disk_type")
        && text_of(live_settings, "dataDiskType").is_some_and(|live| live != disk_type)
    {
        return Err(invalid(
            INSTANCE,
            format!(
                "the disk type of instance {name} cannot change in place; changing `settings.disk_type` needs a new instance"
            ),
        ));
    }

    // Cloud SQL takes a major-version upgrade only as a PATCH of `databaseVersion` alone.
    if let Some(version) = text(plan, "database_version")
        && text_of(&live, "databaseVersion") != Some(version)
    {
        let body = json!({ "databaseVersion": version });
        call_and_wait(client, project, name, Method::PATCH, &path, Some(&body))
            .await
            .map_err(|e| api_error(INSTANCE, e))?;
    }

    let deletion_protection = plan
        .get("deletion_protection")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    let settings_changed = plan.get("settings") != stored.attributes.get("settings")
        || plan.get("deletion_protection") != stored.attributes.get("deletion_protection");
    if settings_changed {
        let mut body = settings_body(settings, deletion_protection);
        // PATCH merges maps, so labels the configuration dropped are removed by name.
        if let (Some(Json::Object(labels)), Some(Json::Object(live_labels))) =
            (body.get_mut("userLabels"), live_settings.get("userLabels"))
        {
            for key in live_labels.keys() {
                if !labels.contains_key(key) {
                    labels.insert(key.clone(), Json::Null);
                }
            }
        }
        let body = json!({ "settings": body });
        call_and_wait(client, project, name, Method::PATCH, &path, Some(&body))
            .await
            .map_err(|e| api_error(INSTANCE, e))?;
    }

    // The root password is set at creation only; later it is the administrator's password.
    let root_password = plan.get("root_password").cloned().unwrap_or(Json::Null);
    if let Some(password) = root_password.as_str()
        && stored.attributes.get("root_password") != Some(&root_password)
    {
        let version = text(plan, "database_version")
            .or_else(|| text_of(&live, "databaseVersion"))
            .unwrap_or_default();
        let (user, host) = administrator(version);
        set_password(client, project, name, user, host, password)
            .await
            .map_err(|e| api_error(INSTANCE, e))?;
    }

    let instance = get_optional(client, &path)
        .await
        .map_err(|e| api_error(INSTANCE, e))?
        .ok_or_else(|| {
            invalid(
                INSTANCE,
                format!("instance {name} disappeared during the update"),
            )
        })?;
    Ok(instance_object(
        &instance,
        project,
        name,
        Shape::Like(plan),
        root_password,
    ))
}

async fn delete_instance(client: &GcpClient, stored: &RemoteObject) -> Result<(), ProviderError> {
    let (project, name) = stored_project_and(INSTANCE, stored, "name")?;
    refuse_if_protected(INSTANCE, &format!("instance {name}"), stored)?;
    match call_and_wait(
        client,
        project,
        name,
        Method::DELETE,
        &instance_path(project, name),
        None,
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(INSTANCE, e)),
    }
}

async fn import_instance(client: &GcpClient, id: &str) -> Result<RemoteObject, ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    let (project, name) = match parts.as_slice() {
        ["projects", project, "instances", name] | [project, name] => (*project, *name),
        _ => {
            return Err(invalid(
                INSTANCE,
                format!("{id:?} is not projects/PROJECT/instances/NAME or PROJECT/NAME"),
            ));
        }
    };
    let instance = client
        .call(SQL, Method::GET, &instance_path(project, name), None)
        .await
        .map_err(|e| api_error(INSTANCE, e))?;
    Ok(instance_object(
        &instance,
        project,
        name,
        Shape::Every,
        Json::Null,
    ))
}

// Databases.

fn database_path(project: &str, instance: &str, name: &str) -> String {
    format!(
        "v1/projects/{project}/instances/{instance}/databases/{}",
        encode(name)
    )
}

fn database_object(
    database: &Json,
    project: &str,
    instance: &str,
    name: &str,
    shape: Shape,
    deletion_policy: Json,
) -> RemoteObject {
    let id = format!("projects/{project}/instances/{instance}/databases/{name}");
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("instance".into(), json!(instance));
    attrs.insert("name".into(), json!(name));
    attrs.insert(
        "charset".into(),
        shape.optional("charset", database.get("charset")),
    );
    attrs.insert(
        "collation".into(),
        shape.optional("collation", database.get("collation")),
    );
    let deletion_policy = match deletion_policy {
        Json::Null => json!("DELETE"),
        policy => policy,
    };
    attrs.insert("deletion_policy".into(), deletion_policy);
    attrs.insert("id".into(), json!(id.clone()));
    RemoteObject {
        provider_id: Some(id),
        attributes: attrs,
    }
}

/// The project, instance and name of a stored database or user.
fn stored_triple(
    type_name: &str,
    stored: &RemoteObject,
) -> Result<(String, String, String), ProviderError> {
    let attrs = &stored.attributes;
    match (
        text(attrs, "project"),
        text(attrs, "instance"),
        text(attrs, "name"),
    ) {
        (Some(p), Some(i), Some(n)) => Ok((p.to_string(), i.to_string(), n.to_string())),
        _ => Err(invalid(
            type_name,
            "the stored resource has no `project`, `instance` or `name`",
        )),
    }
}

async fn read_database(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    let (project, instance, name) = stored_triple(DATABASE, stored)?;
    let database = get_optional(client, &database_path(&project, &instance, &name))
        .await
        .map_err(|e| api_error(DATABASE, e))?;
    Ok(database.map(|d| {
        database_object(
            &d,
            &project,
            &instance,
            &name,
            Shape::Like(&stored.attributes),
            stored
                .attributes
                .get("deletion_policy")
                .cloned()
                .unwrap_or(Json::Null),
        )
    }))
}

/// Whether an insert failed because the object exists: Cloud SQL answers a
/// duplicate database with a 400 whose message says so.
fn is_duplicate(e: &GcpError) -> bool {
    e.is_already_exists()
        || (e.status == Some(400) && e.message.to_lowercase().contains("already exists"))
}

async fn create_database(
    client: &GcpClient,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (Some(project), Some(instance), Some(name)) = (
        text(plan, "project"),
        text(plan, "instance"),
        text(plan, "name"),
    ) else {
        return Err(invalid(
            DATABASE,
            "`project`, `instance` and `name` must be known",
        ));
    };
    let mut body = json!({ "name": name });
    for field in ["charset", "collation"] {
        if let Some(value) = text(plan, field) {
            body[field] = json!(value);
        }
    }
    let path = database_path(project, instance, name);
    match call_and_wait(
        client,
        project,
        instance,
        Method::POST,
        &format!("v1/projects/{project}/instances/{instance}/databases"),
        Some(&body),
    )
    .await
    {
        Ok(()) => {}
        Err(e) if is_duplicate(&e) => {
            let live = get_optional(client, &path)
                .await
                .map_err(|e| api_error(DATABASE, e))?;
            let mut differing = Vec::new();
            if let Some(live) = &live {
                differences(&body, live, "", &mut differing);
            }
            if live.is_none() || !differing.is_empty() {
                return Err(with_hint(
                    api_error(DATABASE, e),
                    &format!(
                        "the existing database {name:?} differs from the requested one in {}, so it is not adopted",
                        differing.join(", ")
                    ),
                ));
            }
        }
        Err(e) => return Err(api_error(DATABASE, e)),
    }
    let database = client
        .call(SQL, Method::GET, &path, None)
        .await
        .map_err(|e| api_error(DATABASE, e))?;
    Ok(database_object(
        &database,
        project,
        instance,
        name,
        Shape::Like(plan),
        plan.get("deletion_policy").cloned().unwrap_or(Json::Null),
    ))
}

async fn update_database(
    client: &GcpClient,
    stored: &RemoteObject,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (project, instance, name) = stored_triple(DATABASE, stored)?;
    let path = database_path(&project, &instance, &name);
    let mut patch = Map::new();
    for field in ["charset", "collation"] {
        if let Some(value) = text(plan, field)
            && text(&stored.attributes, field) != Some(value)
        {
            patch.insert(field.into(), json!(value));
        }
    }
    if !patch.is_empty() {
        call_and_wait(
            client,
            &project,
            &instance,
            Method::PATCH,
            &path,
            Some(&Json::Object(patch)),
        )
        .await
        .map_err(|e| api_error(DATABASE, e))?;
    }
    let database = client
        .call(SQL, Method::GET, &path, None)
        .await
        .map_err(|e| api_error(DATABASE, e))?;
    Ok(database_object(
        &database,
        &project,
        &instance,
        &name,
        Shape::Like(plan),
        plan.get("deletion_policy").cloned().unwrap_or(Json::Null),
    ))
}

async fn delete_database(client: &GcpClient, stored: &RemoteObject) -> Result<(), ProviderError> {
    let (project, instance, name) = stored_triple(DATABASE, stored)?;
    // ABANDON leaves the database to the instance (PostgreSQL refuses to drop a
    // database other roles can still use).
    if text(&stored.attributes, "deletion_policy") == Some("ABANDON") {
        return Ok(());
    }
    match call_and_wait(
        client,
        &project,
        &instance,
        Method::DELETE,
        &database_path(&project, &instance, &name),
        None,
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(DATABASE, e)),
    }
}

async fn import_database(client: &GcpClient, id: &str) -> Result<RemoteObject, ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    let (project, instance, name) = match parts.as_slice() {
        [
            "projects",
            project,
            "instances",
            instance,
            "databases",
            name,
        ]
        | [project, instance, name] => (*project, *instance, *name),
        _ => {
            return Err(invalid(
                DATABASE,
                format!(
                    "{id:?} is not projects/PROJECT/instances/INSTANCE/databases/NAME or PROJECT/INSTANCE/NAME"
                ),
            ));
        }
    };
    let database = client
        .call(
            SQL,
            Method::GET,
            &database_path(project, instance, name),
            None,
        )
        .await
        .map_err(|e| api_error(DATABASE, e))?;
    Ok(database_object(
        &database,
        project,
        instance,
        name,
        Shape::Every,
        Json::Null,
    ))
}

// Users.

fn users_path(project: &str, instance: &str) -> String {
    format!("v1/projects/{project}/instances/{instance}/users")
}

/// `users?name=N&host=H`, the address of one user for update and delete.
fn user_query(project: &str, instance: &str, name: &str, host: Option<&str>) -> String {
    let mut path = format!("{}?name={}", users_path(project, instance), encode(name));
    if let Some(host) = host {
        path.push_str(&format!("&host={}", encode(host)));
    }
    path
}

async fn get_user(
    client: &GcpClient,
    project: &str,
    instance: &str,
    name: &str,
    host: Option<&str>,
) -> Result<Option<Json>, GcpError> {
    let mut path = format!("{}/{}", users_path(project, instance), encode(name));
    if let Some(host) = host {
        path.push_str(&format!("?host={}", encode(host)));
    }
    get_optional(client, &path).await
}

/// The user's host as Cloud SQL reports it; PostgreSQL and SQL Server users have none.
fn user_host(user: &Json) -> Option<&str> {
    text_of(user, "host").filter(|h| !h.is_empty())
}

fn user_object(
    user: &Json,
    project: &str,
    instance: &str,
    name: &str,
    shape: Shape,
    password: Json,
) -> RemoteObject {
    let host = user_host(user);
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("instance".into(), json!(instance));
    attrs.insert("name".into(), json!(name));
    attrs.insert(
        "host".into(),
        shape.optional("host", host.map(|h| json!(h)).as_ref()),
    );
    attrs.insert(
        "type".into(),
        json!(text_of(user, "type").unwrap_or("BUILT_IN")),
    );
    attrs.insert("password".into(), password);
    attrs.insert(
        "id".into(),
        json!(format!("{name}/{}/{instance}", host.unwrap_or_default())),
    );
    let provider_id = match host {
        Some(host) => format!("{project}/{instance}/{host}/{name}"),
        None => format!("{project}/{instance}/{name}"),
    };
    RemoteObject {
        provider_id: Some(provider_id),
        attributes: attrs,
    }
}

async fn set_password(
    client: &GcpClient,
    project: &str,
    instance: &str,
    name: &str,
    host: Option<&str>,
    password: &str,
) -> Result<(), GcpError> {
    let body = json!({ "name": name, "password": password });
    call_and_wait(
        client,
        project,
        instance,
        Method::PUT,
        &user_query(project, instance, name, host),
        Some(&body),
    )
    .await
}

async fn read_user(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    let (project, instance, name) = stored_triple(USER, stored)?;
    let host = text(&stored.attributes, "host");
    let user = get_user(client, &project, &instance, &name, host)
        .await
        .map_err(|e| api_error(USER, e))?;
    // Cloud SQL never returns a password: the stored one is what yagura set.
    let password = stored
        .attributes
        .get("password")
        .cloned()
        .unwrap_or(Json::Null);
    Ok(user.map(|u| {
        user_object(
            &u,
            &project,
            &instance,
            &name,
            Shape::Like(&stored.attributes),
            password,
        )
    }))
}

async fn create_user(
    client: &GcpClient,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (Some(project), Some(instance), Some(name)) = (
        text(plan, "project"),
        text(plan, "instance"),
        text(plan, "name"),
    ) else {
        return Err(invalid(
            USER,
            "`project`, `instance` and `name` must be known",
        ));
    };
    let host = text(plan, "host");
    let password = text(plan, "password");
    let mut body = json!({ "name": name });
    if let Some(host) = host {
        body["host"] = json!(host);
    }
    if let Some(user_type) = text(plan, "type") {
        body["type"] = json!(user_type);
    }
    if let Some(password) = password {
        body["password"] = json!(password);
    }
    match call_and_wait(
        client,
        project,
        instance,
        Method::POST,
        &users_path(project, instance),
        Some(&body),
    )
    .await
    {
        Ok(()) => {}
        Err(e) if is_duplicate(&e) => {
            let live = get_user(client, project, instance, name, host)
                .await
                .map_err(|e| api_error(USER, e))?;
            let mut differing = Vec::new();
            if let Some(live) = &live {
                let mut live = live.clone();
                if live.get("type").is_none() {
                    live["type"] = json!("BUILT_IN");
                }
                differences(&body, &live, "", &mut differing);
            }
            if live.is_none() || !differing.is_empty() {
                return Err(with_hint(
                    api_error(USER, e),
                    &format!(
                        "the existing user {name:?} differs from the requested one in {}, so it is not adopted",
                        differing.join(", ")
                    ),
                ));
            }
            // A password cannot be read back to compare: setting it makes the
            // adopted user the one requested.
            if let Some(password) = password {
                let live_host = live.as_ref().and_then(user_host);
                set_password(client, project, instance, name, live_host, password)
                    .await
                    .map_err(|e| api_error(USER, e))?;
            }
        }
        Err(e) => return Err(api_error(USER, e)),
    }
    let user = get_user(client, project, instance, name, host)
        .await
        .map_err(|e| api_error(USER, e))?
        .ok_or_else(|| {
            invalid(
                USER,
                format!("user {name} disappeared right after its creation on {instance}"),
            )
        })?;
    Ok(user_object(
        &user,
        project,
        instance,
        name,
        Shape::Like(plan),
        plan.get("password").cloned().unwrap_or(Json::Null),
    ))
}

async fn update_user(
    client: &GcpClient,
    stored: &RemoteObject,
    plan: &Map<String, Json>,
) -> Result<RemoteObject, ProviderError> {
    let (project, instance, name) = stored_triple(USER, stored)?;
    let host = text(&stored.attributes, "host");
    let live = get_user(client, &project, &instance, &name, host)
        .await
        .map_err(|e| api_error(USER, e))?
        .ok_or_else(|| invalid(USER, format!("user {name} no longer exists on {instance}")))?;
    let password = plan.get("password").cloned().unwrap_or(Json::Null);
    if let Some(new_password) = password.as_str()
        && stored.attributes.get("password") != Some(&password)
    {
        set_password(
            client,
            &project,
            &instance,
            &name,
            user_host(&live),
            new_password,
        )
        .await
        .map_err(|e| api_error(USER, e))?;
    }
    Ok(user_object(
        &live,
        &project,
        &instance,
        &name,
        Shape::Like(plan),
        password,
    ))
}

async fn delete_user(client: &GcpClient, stored: &RemoteObject) -> Result<(), ProviderError> {
    let (project, instance, name) = stored_triple(USER, stored)?;
    let host = text(&stored.attributes, "host");
    let Some(live) = get_user(client, &project, &instance, &name, host)
        .await
        .map_err(|e| api_error(USER, e))?
    else {
        return Ok(());
    };
    match call_and_wait(
        client,
        &project,
        &instance,
        Method::DELETE,
        &user_query(&project, &instance, &name, user_host(&live)),
        None,
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(USER, e)),
    }
}

async fn import_user(client: &GcpClient, id: &str) -> Result<RemoteObject, ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    let (project, instance, host, name) = match parts.as_slice() {
        [project, instance, host, name] => (*project, *instance, Some(*host), *name),
        [project, instance, name] => (*project, *instance, None, *name),
        _ => {
            return Err(invalid(
                USER,
                format!(
                    "{id:?} is not PROJECT/INSTANCE/HOST/NAME (MySQL) or PROJECT/INSTANCE/NAME"
                ),
            ));
        }
    };
    let user = get_user(client, project, instance, name, host)
        .await
        .map_err(|e| api_error(USER, e))?
        .ok_or_else(|| invalid(USER, format!("user {name} does not exist on {instance}")))?;
    Ok(user_object(
        &user,
        project,
        instance,
        name,
        Shape::Every,
        Json::Null,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_differences(requested: Json, live: Json, expected: &[&str]) {
        let mut out = Vec::new();
        differences(&requested, &live, "", &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn differences_follow_the_request() {
        check_differences(
            json!({"name": "db", "settings": {"tier": "db-f1-micro", "dataDiskSizeGb": "20"}}),
            json!({"name": "db", "state": "RUNNABLE", "settings": {"tier": "db-f1-micro", "dataDiskSizeGb": 20, "edition": "ENTERPRISE"}}),
            &[],
        );
        check_differences(
            json!({"settings": {"tier": "db-f1-micro", "userLabels": {}}}),
            json!({"settings": {"tier": "db-g1-small"}}),
            &["settings.tier"],
        );
    }

    #[test]
    fn differences_never_compare_passwords() {
        check_differences(
            json!({"name": "app", "password": "a", "rootPassword": "b"}),
            json!({"name": "app"}),
            &[],
        );
    }

    #[test]
    fn differences_compare_lists_as_sets_and_labels_exactly() {
        check_differences(
            json!({"databaseFlags": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]}),
            json!({"databaseFlags": [{"name": "b", "value": "2"}, {"name": "a", "value": "1"}]}),
            &[],
        );
        check_differences(
            json!({"databaseFlags": [], "userLabels": {"team": "pay"}}),
            json!({"databaseFlags": [{"name": "a", "value": "1"}], "userLabels": {"team": "pay", "x": "y"}}),
            &["databaseFlags", "userLabels"],
        );
    }

    #[test]
    fn operation_errors_name_the_call_and_google_message() {
        let operation = json!({"name": "op-1", "status": "DONE", "error": {"errors": [
            {"code": "INTERNAL_ERROR", "message": "Internal error encountered."}]}});
        let e = operation_failure(&operation, &Method::POST, "v1/projects/p/instances")
            .expect("a failure");
        assert_eq!(
            e.to_string(),
            "POST v1/projects/p/instances (operation op-1) failed: Internal error encountered."
        );
        assert_eq!(e.status_name.as_deref(), Some("INTERNAL_ERROR"));
        let done = json!({"name": "op-2", "status": "DONE"});
        assert!(operation_failure(&done, &Method::POST, "x").is_none());
    }

    #[test]
    fn user_names_and_hosts_are_encoded() {
        assert_eq!(
            user_query("p", "i", "app", Some("%")),
            "v1/projects/p/instances/i/users?name=app&host=%25"
        );
        assert_eq!(encode("sa@p.iam"), "sa%40p.iam");
    }
}
