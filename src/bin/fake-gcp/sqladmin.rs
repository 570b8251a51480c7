//! Cloud SQL Admin v1: instances, their databases and users, and the `sql#operation`s
//! every mutation returns.
//!
//! Each mutation starts a `sql#operation` (stored with the other operations, so
//! `--operation-delay-ms` and `--failing-operations` apply) and its change lands when
//! the operation is done; a second mutation of the same instance meanwhile gets 409
//! `operationInProgress`, as Cloud SQL allows one admin operation per instance. Every
//! call needs `sqladmin.googleapis.com` enabled in the project (403 `SERVICE_DISABLED`
//! otherwise), and a deleted instance's name stays taken for `--sql-name-reuse-ms`.
//! Settings are kept as Google's JSON: PATCH merges objects and replaces lists.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crm::project_denied;
use crate::errors::{ApiError, Code};
use crate::operations::{Effect, NewOperation, Rollback};
use crate::request::{etag, parse_json, rfc3339, validate_labels};
use crate::world::{Shared, World};

const SERVICE: &str = "sqladmin.googleapis.com";
const SELF_LINK_BASE: &str = "https://sqladmin.googleapis.com/v1/projects";

/// Returns the routes of `sqladmin.googleapis.com`.
pub fn router() -> Router<Shared> {
    let instance = "/v1/projects/{project}/instances/{instance}";
    Router::new()
        .route(
            "/v1/projects/{project}/instances",
            get(list_instances).post(insert_instance),
        )
        .route(
            instance,
            get(get_instance)
                .patch(patch_instance)
                .delete(delete_instance),
        )
        .route(
            &format!("{instance}/databases"),
            get(list_databases).post(insert_database),
        )
        .route(
            &format!("{instance}/databases/{{database}}"),
            get(get_database)
                .patch(patch_database)
                .put(patch_database)
                .delete(delete_database),
        )
        .route(
            &format!("{instance}/users"),
            get(list_users)
                .post(insert_user)
                .put(update_user)
                .delete(delete_user),
        )
        .route(&format!("{instance}/users/{{name}}"), get(get_user))
        .route("/v1/projects/{project}/operations", get(list_operations))
        .route(
            "/v1/projects/{project}/operations/{operation}",
            get(get_operation),
        )
}

/// Every Cloud SQL instance, the names deleted instances still hold, and the
/// `sql#operation` records.
#[derive(Default)]
pub struct SqlInstances {
    instances: Vec<Instance>,
    /// Names of deleted instances, by project number, reserved until the instant.
    reserved: Vec<(u64, String, Instant)>,
    /// Operations in the order they started.
    operations: Vec<SqlOperation>,
    next_id: u64,
    next_ip: u32,
}

struct Instance {
    /// Tells a recreated instance from its predecessor.
    id: u64,
    project_number: u64,
    project_id: String,
    name: String,
    region: String,
    database_version: String,
    state: &'static str,
    /// `settings` as Google renders it, without `settingsVersion`.
    settings: Value,
    settings_version: u64,
    public_ip: Option<String>,
    private_ip: Option<String>,
    create_time: SystemTime,
    /// The last operation started on the instance; while it runs, others get 409.
    operation: Option<String>,
    databases: Vec<Database>,
    users: Vec<User>,
}

#[derive(Clone)]
struct Database {
    name: String,
    charset: String,
    collation: String,
}

#[derive(Clone)]
struct User {
    name: String,
    host: String,
    /// `None` is `BUILT_IN`, which proto3 JSON leaves out as the enum's default.
    user_type: Option<String>,
}

struct SqlOperation {
    name: String,
    project_number: u64,
    project_id: String,
    instance: String,
    target_link: String,
    operation_type: &'static str,
    insert_time: SystemTime,
}

/// The database engine, from the prefix of `databaseVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    MySql,
    Postgres,
    SqlServer,
}

impl Engine {
    fn of(database_version: &str) -> Option<Engine> {
        let (prefix, rest) = database_version.split_once('_')?;
        if rest.is_empty() {
            return None;
        }
        match prefix {
            "MYSQL" => Some(Engine::MySql),
            "POSTGRES" => Some(Engine::Postgres),
            "SQLSERVER" => Some(Engine::SqlServer),
            _ => None,
        }
    }

    /// Returns the databases Cloud SQL creates with an instance.
    fn system_databases(self) -> Vec<Database> {
        let (names, charset, collation): (&[&str], &str, &str) = match self {
            Engine::MySql => (
                &["information_schema", "mysql", "performance_schema", "sys"],
                "utf8mb4",
                "utf8mb4_0900_ai_ci",
            ),
            Engine::Postgres => (&["postgres"], "UTF8", "en_US.UTF8"),
            Engine::SqlServer => (
                &["master", "model", "msdb", "tempdb"],
                "UTF8",
                "SQL_Latin1_General_CP1_CI_AS",
            ),
        };
        names
            .iter()
            .map(|name| Database {
                name: (*name).to_owned(),
                charset: charset.to_owned(),
                collation: collation.to_owned(),
            })
            .collect()
    }

    /// Returns the administrator Cloud SQL creates with an instance.
    fn default_user(self) -> User {
        let (name, host) = match self {
            Engine::MySql => ("root", "%"),
            Engine::Postgres => ("postgres", ""),
            Engine::SqlServer => ("sqlserver", ""),
        };
        User {
            name: name.to_owned(),
            host: host.to_owned(),
            user_type: None,
        }
    }

    fn default_charset(self) -> (&'static str, &'static str) {
        match self {
            Engine::MySql => ("utf8mb4", "utf8mb4_0900_ai_ci"),
            Engine::Postgres => ("UTF8", "en_US.UTF8"),
            Engine::SqlServer => ("UTF8", "SQL_Latin1_General_CP1_CI_AS"),
        }
    }
}

impl Instance {
    fn engine(&self) -> Engine {
        Engine::of(&self.database_version).unwrap_or(Engine::MySql)
    }

    fn self_link(&self) -> String {
        format!(
            "{SELF_LINK_BASE}/{}/instances/{}",
            self.project_id, self.name
        )
    }

    fn to_json(&self) -> Value {
        let mut settings = self.settings.clone();
        settings["settingsVersion"] = Value::from(self.settings_version.to_string());
        let mut ip_addresses = Vec::new();
        if let Some(ip) = &self.public_ip {
            ip_addresses.push(json!({"type": "PRIMARY", "ipAddress": ip}));
        }
        if let Some(ip) = &self.private_ip {
            ip_addresses.push(json!({"type": "PRIVATE", "ipAddress": ip}));
        }
        let mut json = json!({
            "kind": "sql#instance",
            "name": self.name,
            "project": self.project_id,
            "region": self.region,
            "gceZone": format!("{}-b", self.region),
            "databaseVersion": self.database_version,
            "state": self.state,
            "settings": settings,
            "etag": etag(&self.self_link(), self.settings_version),
            "connectionName": format!("{}:{}:{}", self.project_id, self.region, self.name),
            "selfLink": self.self_link(),
            "backendType": "SECOND_GEN",
            "instanceType": "CLOUD_SQL_INSTANCE",
            "createTime": rfc3339(self.create_time),
            "serviceAccountEmailAddress": format!(
                "p{}-{:06}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
                self.project_number,
                self.id % 1_000_000
            ),
        });
        if !ip_addresses.is_empty() {
            json["ipAddresses"] = Value::Array(ip_addresses);
        }
        json
    }

    fn database_json(&self, database: &Database) -> Value {
        json!({
            "kind": "sql#database",
            "name": database.name,
            "charset": database.charset,
            "collation": database.collation,
            "instance": self.name,
            "project": self.project_id,
            "etag": etag(&format!("{}/databases/{}", self.self_link(), database.name), 1),
            "selfLink": format!("{}/databases/{}", self.self_link(), database.name),
        })
    }

    fn user_json(&self, user: &User) -> Value {
        let mut json = json!({
            "kind": "sql#user",
            "name": user.name,
            "instance": self.name,
            "project": self.project_id,
            "etag": etag(&format!("{}/users/{}@{}", self.self_link(), user.name, user.host), 1),
        });
        if !user.host.is_empty() {
            json["host"] = Value::from(user.host.as_str());
        }
        if let Some(user_type) = &user.user_type {
            json["type"] = Value::from(user_type.as_str());
        }
        json
    }

    /// Finds a user; without `host` a name alone must be unambiguous.
    fn user_index(&self, name: &str, host: Option<&str>) -> Option<usize> {
        let engine = self.engine();
        let matching: Vec<usize> = self
            .users
            .iter()
            .enumerate()
            .filter(|(_, user)| user.name == name)
            // PostgreSQL and SQL Server users have no host; Cloud SQL ignores it.
            .filter(|(_, user)| engine != Engine::MySql || host.is_none_or(|h| user.host == h))
            .map(|(index, _)| index)
            .collect();
        match matching.as_slice() {
            [index] => Some(*index),
            _ => None,
        }
    }
}

impl SqlInstances {
    fn position(&self, project_number: u64, name: &str) -> Option<usize> {
        self.instances
            .iter()
            .position(|instance| instance.project_number == project_number && instance.name == name)
    }

    fn by_id_mut(&mut self, id: u64) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|instance| instance.id == id)
    }

    fn allocate_ip(&mut self, first_octets: &str) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("{first_octets}.{}.{}", (n >> 8) & 255, n & 255)
    }

    /// Gives the instance the addresses its IP configuration asks for.
    fn assign_ips(&mut self, id: u64) {
        let Some(instance) = self.instances.iter().find(|instance| instance.id == id) else {
            return;
        };
        let ip_configuration = &instance.settings["ipConfiguration"];
        let wants_public = ip_configuration["ipv4Enabled"] != false;
        let wants_private = ip_configuration["privateNetwork"].is_string();
        let needs_public = wants_public && instance.public_ip.is_none();
        let needs_private = wants_private && instance.private_ip.is_none();
        let public = needs_public.then(|| self.allocate_ip("34.118"));
        let private = needs_private.then(|| self.allocate_ip("10.20"));
        let Some(instance) = self.by_id_mut(id) else {
            return;
        };
        if !wants_public {
            instance.public_ip = None;
        }
        if let Some(ip) = public {
            instance.public_ip = Some(ip);
        }
        if let Some(ip) = private {
            instance.private_ip = Some(ip);
        }
    }

    fn name_reserved(&self, project_number: u64, name: &str, now: Instant) -> bool {
        self.reserved.iter().any(|(number, reserved, until)| {
            *number == project_number && reserved == name && now < *until
        })
    }
}

// Errors in Cloud SQL's words; it fills `errors[].reason` with its own names.

fn invalid(message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_argument(format!("Invalid request: {message}.")).with_reason("invalid")
}

fn instance_not_found() -> ApiError {
    ApiError::not_found("The Cloud SQL instance does not exist.")
        .with_reason("instanceDoesNotExist")
}

fn operation_in_progress() -> ApiError {
    ApiError::new(
        Code::Aborted,
        "Operation failed because another operation was already in progress.",
    )
    .with_reason("operationInProgress")
}

fn instance_already_exists() -> ApiError {
    ApiError::already_exists(
        "The Cloud SQL instance already exists. When you delete an instance, you can't reuse the name of the deleted instance until one week from the deletion date.",
    )
    .with_reason("instanceAlreadyExists")
}

/// The project a call names, which must be active with the Cloud SQL Admin API enabled.
struct SqlProject {
    number: u64,
    id: String,
}

fn sql_project(world: &World, project: &str) -> Result<SqlProject, ApiError> {
    let found = world
        .projects
        .find_active(project)
        .ok_or_else(|| project_denied(project))?;
    world.require_enabled_service(found.number, SERVICE)?;
    Ok(SqlProject {
        number: found.number,
        id: found.project_id.clone(),
    })
}

/// Finds an instance of the project, by index into `world.sql.instances`.
fn find_instance(world: &World, project: &str, instance: &str) -> Result<usize, ApiError> {
    let project = sql_project(world, project)?;
    world
        .sql
        .position(project.number, instance)
        .ok_or_else(instance_not_found)
}

/// Fails with 409 `operationInProgress` while an operation runs on the instance.
fn check_idle(world: &World, index: usize) -> Result<(), ApiError> {
    let running = world.sql.instances[index]
        .operation
        .as_deref()
        .and_then(|name| world.operations.get(name))
        .is_some_and(|operation| operation["done"] != true);
    if running {
        return Err(operation_in_progress());
    }
    Ok(())
}

/// What a new `sql#operation` acts on and does.
struct OperationStart {
    index: usize,
    operation_type: &'static str,
    effect: Effect,
    rollback: Option<Rollback>,
}

/// Starts an operation on the instance at `index` and returns its first rendering.
fn start(world: &mut World, start: OperationStart) -> Value {
    let name = uuid::Uuid::new_v4().to_string();
    let instance = &world.sql.instances[start.index];
    let record = SqlOperation {
        name: name.clone(),
        project_number: instance.project_number,
        project_id: instance.project_id.clone(),
        instance: instance.name.clone(),
        target_link: instance.self_link(),
        operation_type: start.operation_type,
        insert_time: world.wall_now,
    };
    world.start_operation(NewOperation {
        name: name.clone(),
        metadata: Value::Null,
        effect: start.effect,
        rollback: start.rollback,
    });
    world.sql.instances[start.index].operation = Some(name);
    let json = render_operation(world, &record, "PENDING");
    world.sql.operations.push(record);
    json
}

/// Renders a `sql#operation`; `pending_status` is what a running one reports.
fn render_operation(world: &World, record: &SqlOperation, pending_status: &str) -> Value {
    let state = world.operations.get(&record.name).unwrap_or(Value::Null);
    let mut json = json!({
        "kind": "sql#operation",
        "name": record.name,
        "selfLink": format!("{SELF_LINK_BASE}/{}/operations/{}", record.project_id, record.name),
        "targetLink": record.target_link,
        "targetId": record.instance,
        "targetProject": record.project_id,
        "operationType": record.operation_type,
        "insertTime": rfc3339(record.insert_time),
        "startTime": rfc3339(record.insert_time),
        "user": world.directory.creator.split_once(':').map_or(world.directory.creator.as_str(), |(_, email)| email),
        "status": pending_status,
    });
    if state["done"] == true {
        json["status"] = Value::from("DONE");
        json["endTime"] = Value::from(rfc3339(record.insert_time + world.settings.operation_delay));
        if let Some(error) = state.get("error") {
            // Cloud SQL reports failures as `error.errors[]` with string codes.
            let code = match error["code"].as_u64() {
                Some(13) => "INTERNAL_ERROR",
                Some(5) => "NOT_FOUND",
                _ => "UNKNOWN",
            };
            json["error"] = json!({
                "kind": "sql#operationErrors",
                "errors": [{"kind": "sql#operationError", "code": code, "message": error["message"]}],
            });
        }
    }
    json
}

// Settings: Google's JSON, merged on PATCH and normalised after every change.

const EDITIONS: &[&str] = &["ENTERPRISE", "ENTERPRISE_PLUS"];
const AVAILABILITY_TYPES: &[&str] = &["ZONAL", "REGIONAL"];
const DISK_TYPES: &[&str] = &["PD_SSD", "PD_HDD", "HYPERDISK_BALANCED"];
const ACTIVATION_POLICIES: &[&str] = &["ALWAYS", "NEVER", "ON_DEMAND"];
const SSL_MODES: &[&str] = &[
    "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
    "ENCRYPTED_ONLY",
    "TRUSTED_CLIENT_CERTIFICATE_REQUIRED",
];

fn default_settings(engine: Engine) -> Value {
    let mut backup = json!({
        "kind": "sql#backupConfiguration",
        "enabled": false,
        "startTime": "00:00",
        "pointInTimeRecoveryEnabled": false,
        "transactionLogRetentionDays": 7,
        "backupRetentionSettings": {"retentionUnit": "COUNT", "retainedBackups": 7},
    });
    if engine == Engine::MySql {
        backup["binaryLogEnabled"] = Value::Bool(false);
    }
    json!({
        "kind": "sql#settings",
        "edition": "ENTERPRISE",
        "availabilityType": "ZONAL",
        "activationPolicy": "ALWAYS",
        "pricingPlan": "PER_USE",
        "dataDiskSizeGb": "10",
        "dataDiskType": "PD_SSD",
        "storageAutoResize": true,
        "storageAutoResizeLimit": "0",
        "deletionProtectionEnabled": false,
        "ipConfiguration": {
            "ipv4Enabled": true,
            "requireSsl": false,
            "sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
        },
        "backupConfiguration": backup,
    })
}

/// Merges `patch` into `target` as PATCH does: objects field by field, `null`
/// removes a field, anything else (lists included) replaces wholesale.
fn merge(target: &mut Value, patch: &Value) {
    let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) if target.get(key).is_some_and(Value::is_object) => {
                if let Some(existing) = target.get_mut(key) {
                    merge(existing, value);
                }
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn check_enum(settings: &Value, field: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match settings.get(field) {
        None => Ok(()),
        Some(Value::String(value)) if allowed.contains(&value.as_str()) => Ok(()),
        Some(other) => Err(invalid(format!(
            "Invalid value for settings.{field}: {other}; expected one of {}",
            allowed.join(", ")
        ))),
    }
}

fn check_bool(object: &Value, path: &str, field: &str) -> Result<(), ApiError> {
    match object.get(field) {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(invalid(format!(
            "Invalid value for {path}.{field}: {other}; expected a boolean"
        ))),
    }
}

/// Reads an int64 that Google's JSON carries as a string but accepts as a number.
fn int64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// Checks merged settings and puts them in Google's form (int64s as strings, empty
/// lists and maps left out); `tier` is required.
fn normalise_settings(mut settings: Value) -> Result<Value, ApiError> {
    let Some(object) = settings.as_object_mut() else {
        return Err(invalid("settings must be an object"));
    };
    object.remove("settingsVersion");
    object.insert("kind".to_owned(), Value::from("sql#settings"));
    match object.get("tier") {
        Some(Value::String(tier)) if tier.starts_with("db-") && tier.len() > 3 => {}
        Some(Value::String(tier)) => {
            return Err(invalid(format!("Invalid Tier ({tier}) for (SECOND_GEN)")));
        }
        None => return Err(invalid("settings.tier is required")),
        Some(other) => return Err(invalid(format!("Invalid Tier ({other}) for (SECOND_GEN)"))),
    }
    for (field, allowed) in [
        ("edition", EDITIONS),
        ("availabilityType", AVAILABILITY_TYPES),
        ("dataDiskType", DISK_TYPES),
        ("activationPolicy", ACTIVATION_POLICIES),
    ] {
        check_enum(&settings, field, allowed)?;
    }
    for field in ["deletionProtectionEnabled", "storageAutoResize"] {
        check_bool(&settings, "settings", field)?;
    }
    let object = settings
        .as_object_mut()
        .expect("settings were checked to be an object");
    for field in ["dataDiskSizeGb", "storageAutoResizeLimit"] {
        if let Some(value) = object.get(field) {
            let size = int64(value)
                .filter(|size| *size >= 0)
                .ok_or_else(|| invalid(format!("Invalid value for settings.{field}: {value}")))?;
            if field == "dataDiskSizeGb" && !(10..=65_536).contains(&size) {
                return Err(invalid(format!(
                    "The disk size must be between 10 GB and 65536 GB; got {size} GB"
                )));
            }
            object.insert(field.to_owned(), Value::from(size.to_string()));
        }
    }
    match object.get("userLabels") {
        None => {}
        Some(Value::Object(labels)) if labels.is_empty() => {
            object.remove("userLabels");
        }
        Some(labels) => {
            let labels = serde_json::from_value(labels.clone())
                .map_err(|_| invalid("settings.userLabels must map label keys to string values"))?;
            validate_labels("settings.userLabels", &labels)?;
        }
    }
    match object.get_mut("databaseFlags") {
        None => {}
        Some(Value::Array(flags)) if flags.is_empty() => {
            object.remove("databaseFlags");
        }
        Some(Value::Array(flags)) => {
            for flag in flags {
                let well_formed = flag["name"].as_str().is_some_and(|name| !name.is_empty())
                    && (flag.get("value").is_none() || flag["value"].is_string());
                if !well_formed {
                    return Err(invalid(format!(
                        "Invalid flag {flag}: a flag has a name and an optional string value"
                    )));
                }
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "settings.databaseFlags must be a list, not {other}"
            )));
        }
    }
    if let Some(ip_configuration) = object.get_mut("ipConfiguration") {
        normalise_ip_configuration(ip_configuration)?;
    }
    if let Some(backup) = object.get_mut("backupConfiguration") {
        if !backup.is_object() {
            return Err(invalid("settings.backupConfiguration must be an object"));
        }
        for field in ["enabled", "binaryLogEnabled", "pointInTimeRecoveryEnabled"] {
            check_bool(backup, "settings.backupConfiguration", field)?;
        }
        if let Some(start_time) = backup.get("startTime") {
            let well_formed = start_time.as_str().is_some_and(|text| {
                text.split_once(':').is_some_and(|(hours, minutes)| {
                    hours.len() == 2
                        && minutes.len() == 2
                        && hours.parse::<u8>().is_ok_and(|h| h < 24)
                        && minutes.parse::<u8>().is_ok_and(|m| m < 60)
                })
            });
            if !well_formed {
                return Err(invalid(format!(
                    "Invalid value for settings.backupConfiguration.startTime: {start_time}; expected HH:MM"
                )));
            }
        }
        backup["kind"] = Value::from("sql#backupConfiguration");
    }
    Ok(settings)
}

fn normalise_ip_configuration(ip_configuration: &mut Value) -> Result<(), ApiError> {
    let path = "settings.ipConfiguration";
    if !ip_configuration.is_object() {
        return Err(invalid(format!("{path} must be an object")));
    }
    for field in [
        "ipv4Enabled",
        "requireSsl",
        "enablePrivatePathForGoogleCloudServices",
    ] {
        check_bool(ip_configuration, path, field)?;
    }
    if let Some(mode) = ip_configuration.get("sslMode")
        && !mode.as_str().is_some_and(|mode| SSL_MODES.contains(&mode))
    {
        return Err(invalid(format!("Invalid value for {path}.sslMode: {mode}")));
    }
    match ip_configuration.get("privateNetwork") {
        None | Some(Value::String(_)) => {}
        Some(other) => {
            return Err(invalid(format!(
                "Invalid value for {path}.privateNetwork: {other}"
            )));
        }
    }
    if ip_configuration["privateNetwork"] == ""
        && let Some(object) = ip_configuration.as_object_mut()
    {
        object.remove("privateNetwork");
    }
    if ip_configuration["ipv4Enabled"] == false && !ip_configuration["privateNetwork"].is_string() {
        return Err(invalid(
            "At least one of public IP or private IP must be enabled",
        ));
    }
    match ip_configuration.get_mut("authorizedNetworks") {
        None => {}
        Some(Value::Array(networks)) if networks.is_empty() => {
            if let Some(object) = ip_configuration.as_object_mut() {
                object.remove("authorizedNetworks");
            }
        }
        Some(Value::Array(networks)) => {
            for network in networks {
                let cidr = network["value"].as_str().unwrap_or_default();
                if !is_cidr(cidr) {
                    return Err(invalid(format!(
                        "Non-CIDR value {} in {path}.authorizedNetworks",
                        network["value"]
                    )));
                }
                network["kind"] = Value::from("sql#aclEntry");
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "{path}.authorizedNetworks must be a list, not {other}"
            )));
        }
    }
    Ok(())
}

fn is_cidr(text: &str) -> bool {
    let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
    address.parse::<std::net::Ipv4Addr>().is_ok() && prefix.parse::<u8>().is_ok_and(|p| p <= 32)
}

fn disk_size(settings: &Value) -> i64 {
    int64(&settings["dataDiskSizeGb"]).unwrap_or(10)
}

fn is_instance_name(name: &str) -> bool {
    (1..=84).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceBody {
    name: Option<String>,
    region: Option<String>,
    database_version: Option<String>,
    settings: Option<Value>,
}

async fn insert_instance(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: InstanceBody = parse_json(&body)?;
    let mut world = server.world();
    let sql_project = sql_project(&world, &project)?;
    let name = body.name.unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("Missing parameter: name").with_reason("required"));
    }
    if !is_instance_name(&name) {
        return Err(invalid(format!(
            "Invalid instance name '{name}': use 1 to 84 lowercase letters, digits or hyphens, starting with a letter"
        )));
    }
    let database_version = body
        .database_version
        .unwrap_or_else(|| "MYSQL_8_0".to_owned());
    let engine = Engine::of(&database_version)
        .ok_or_else(|| invalid(format!("Invalid database version {database_version}")))?;
    let region = body.region.unwrap_or_else(|| "us-central1".to_owned());
    let mut settings = default_settings(engine);
    merge(&mut settings, &body.settings.unwrap_or_else(|| json!({})));
    let settings = normalise_settings(settings)?;
    if world.sql.position(sql_project.number, &name).is_some()
        || world
            .sql
            .name_reserved(sql_project.number, &name, world.now)
    {
        return Err(instance_already_exists());
    }
    world.sql.next_id += 1;
    let id = world.sql.next_id;
    let create_time = world.wall_now;
    world.sql.instances.push(Instance {
        id,
        project_number: sql_project.number,
        project_id: sql_project.id,
        name,
        region,
        database_version,
        state: "PENDING_CREATE",
        settings,
        settings_version: 1,
        public_ip: None,
        private_ip: None,
        create_time,
        operation: None,
        databases: engine.system_databases(),
        users: vec![engine.default_user()],
    });
    let index = world.sql.instances.len() - 1;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "CREATE",
            effect: Box::new(move |world| {
                if let Some(instance) = world.sql.by_id_mut(id) {
                    instance.state = "RUNNABLE";
                }
                world.sql.assign_ips(id);
                Ok(json!({}))
            }),
            // A failed create leaves nothing behind, so the name can be tried again.
            rollback: Some(Box::new(move |world| {
                world.sql.instances.retain(|instance| instance.id != id);
            })),
        },
    );
    Ok(Json(operation))
}

async fn list_instances(
    State(server): State<Shared>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let sql_project = sql_project(&world, &project)?;
    let items: Vec<Value> = world
        .sql
        .instances
        .iter()
        .filter(|instance| instance.project_number == sql_project.number)
        .map(Instance::to_json)
        .collect();
    let mut json = json!({"kind": "sql#instancesList"});
    if !items.is_empty() {
        json["items"] = Value::Array(items);
    }
    Ok(Json(json))
}

async fn get_instance(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    Ok(Json(world.sql.instances[index].to_json()))
}

async fn patch_instance(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: InstanceBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let current = &world.sql.instances[index];
    if body.name.as_ref().is_some_and(|name| *name != current.name) {
        return Err(invalid("The instance name cannot be changed"));
    }
    if body
        .region
        .as_ref()
        .is_some_and(|region| *region != current.region)
    {
        return Err(invalid("The region of an instance cannot be changed"));
    }
    let upgrade = body
        .database_version
        .clone()
        .filter(|version| *version != current.database_version);
    if let Some(version) = &upgrade {
        // Terraform sends a major-version upgrade as a PATCH of databaseVersion alone.
        if body.settings.is_some() {
            return Err(invalid(
                "A major version upgrade cannot be combined with other changes; patch databaseVersion alone",
            ));
        }
        if Engine::of(version) != Some(current.engine()) {
            return Err(invalid(format!(
                "Cannot upgrade {} to {version}: the database engine cannot change",
                current.database_version
            )));
        }
    }
    let new_settings = match &body.settings {
        None => None,
        Some(patch) => {
            let mut merged = current.settings.clone();
            merge(&mut merged, patch);
            let merged = normalise_settings(merged)?;
            if disk_size(&merged) < disk_size(&current.settings) {
                return Err(invalid(format!(
                    "The disk size cannot be decreased; current size {} GB, requested {} GB",
                    disk_size(&current.settings),
                    disk_size(&merged)
                )));
            }
            let old_network = &current.settings["ipConfiguration"]["privateNetwork"];
            if old_network.is_string()
                && merged["ipConfiguration"]["privateNetwork"] != *old_network
            {
                return Err(invalid(
                    "The private network of an instance cannot be removed or changed",
                ));
            }
            Some(merged)
        }
    };
    check_idle(&world, index)?;
    let id = world.sql.instances[index].id;
    let operation_type = if upgrade.is_some() {
        "MAJOR_VERSION_UPGRADE"
    } else {
        "UPDATE"
    };
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type,
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                if let Some(version) = upgrade {
                    instance.database_version = version;
                }
                if let Some(settings) = new_settings
                    && settings != instance.settings
                {
                    instance.settings = settings;
                    instance.settings_version += 1;
                }
                world.sql.assign_ips(id);
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

async fn delete_instance(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    check_idle(&world, index)?;
    let current = &world.sql.instances[index];
    if current.settings["deletionProtectionEnabled"] == true {
        return Err(ApiError::failed_precondition(
            "The instance is protected. Please disable the deletion protection and try again. To disable deletion protection, update the instance settings with deletionProtectionEnabled set to false.",
        ));
    }
    let id = current.id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "DELETE",
            effect: Box::new(move |world| {
                let reserved_until = world.now + world.settings.sql_name_reuse;
                let Some(position) = world
                    .sql
                    .instances
                    .iter()
                    .position(|instance| instance.id == id)
                else {
                    return Err(instance_not_found());
                };
                let instance = world.sql.instances.remove(position);
                world
                    .sql
                    .reserved
                    .retain(|(_, _, until)| *until > world.now);
                world
                    .sql
                    .reserved
                    .push((instance.project_number, instance.name, reserved_until));
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

// Databases.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatabaseBody {
    name: Option<String>,
    charset: Option<String>,
    collation: Option<String>,
}

async fn insert_database(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: DatabaseBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let name = body.name.unwrap_or_default();
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("Missing or too long parameter: name").with_reason("required"));
    }
    check_idle(&world, index)?;
    let current = &world.sql.instances[index];
    if current
        .databases
        .iter()
        .any(|database| database.name == name)
    {
        return Err(invalid(format!(
            "failed to create database {name}. Detail: database \"{name}\" already exists"
        )));
    }
    let (charset, collation) = current.engine().default_charset();
    let database = Database {
        name,
        charset: body.charset.unwrap_or_else(|| charset.to_owned()),
        collation: body.collation.unwrap_or_else(|| collation.to_owned()),
    };
    let id = current.id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "CREATE_DATABASE",
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                instance.databases.push(database);
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

async fn list_databases(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let instance = &world.sql.instances[index];
    let items: Vec<Value> = instance
        .databases
        .iter()
        .map(|database| instance.database_json(database))
        .collect();
    Ok(Json(json!({"kind": "sql#databasesList", "items": items})))
}

fn database_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("The database {name} does not exist.")).with_reason("notFound")
}

async fn get_database(
    State(server): State<Shared>,
    Path((project, instance, database)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let instance = &world.sql.instances[index];
    let found = instance
        .databases
        .iter()
        .find(|candidate| candidate.name == database)
        .ok_or_else(|| database_not_found(&database))?;
    Ok(Json(instance.database_json(found)))
}

/// PATCH and PUT alike: charset and collation change, the name cannot.
async fn patch_database(
    State(server): State<Shared>,
    Path((project, instance, database)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: DatabaseBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    if !world.sql.instances[index]
        .databases
        .iter()
        .any(|candidate| candidate.name == database)
    {
        return Err(database_not_found(&database));
    }
    if body.name.as_ref().is_some_and(|name| *name != database) {
        return Err(invalid("The name of a database cannot be changed"));
    }
    check_idle(&world, index)?;
    let id = world.sql.instances[index].id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "UPDATE_DATABASE",
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                let found = instance
                    .databases
                    .iter_mut()
                    .find(|candidate| candidate.name == database)
                    .ok_or_else(|| database_not_found(&database))?;
                if let Some(charset) = body.charset {
                    found.charset = charset;
                }
                if let Some(collation) = body.collation {
                    found.collation = collation;
                }
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

async fn delete_database(
    State(server): State<Shared>,
    Path((project, instance, database)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    if !world.sql.instances[index]
        .databases
        .iter()
        .any(|candidate| candidate.name == database)
    {
        return Err(database_not_found(&database));
    }
    check_idle(&world, index)?;
    let id = world.sql.instances[index].id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "DELETE_DATABASE",
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                instance
                    .databases
                    .retain(|candidate| candidate.name != database);
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

// Users. Passwords are accepted and never stored or returned.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    name: Option<String>,
    host: Option<String>,
    #[serde(rename = "type")]
    user_type: Option<String>,
}

const USER_TYPES: &[&str] = &[
    "BUILT_IN",
    "CLOUD_IAM_USER",
    "CLOUD_IAM_SERVICE_ACCOUNT",
    "CLOUD_IAM_GROUP",
];

fn user_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("The user {name} does not exist.")).with_reason("notFound")
}

async fn insert_user(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: UserBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let name = body.name.unwrap_or_default();
    if name.is_empty() {
        return Err(invalid("Missing parameter: name").with_reason("required"));
    }
    if let Some(user_type) = &body.user_type
        && !USER_TYPES.contains(&user_type.as_str())
    {
        return Err(invalid(format!("Invalid user type {user_type}")));
    }
    let current = &world.sql.instances[index];
    // MySQL users without a host may connect from anywhere; other engines have none.
    let host = match current.engine() {
        Engine::MySql => body
            .host
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "%".to_owned()),
        Engine::Postgres | Engine::SqlServer => String::new(),
    };
    check_idle(&world, index)?;
    let current = &world.sql.instances[index];
    if current
        .users
        .iter()
        .any(|user| user.name == name && user.host == host)
    {
        return Err(
            ApiError::already_exists(format!("The user {name}@{host} already exists."))
                .with_reason("alreadyExists"),
        );
    }
    let user = User {
        name,
        host,
        user_type: body.user_type.filter(|user_type| user_type != "BUILT_IN"),
    };
    let id = current.id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "CREATE_USER",
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                instance.users.push(user);
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

async fn list_users(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let instance = &world.sql.instances[index];
    let items: Vec<Value> = instance
        .users
        .iter()
        .map(|user| instance.user_json(user))
        .collect();
    Ok(Json(json!({"kind": "sql#usersList", "items": items})))
}

async fn get_user(
    State(server): State<Shared>,
    Path((project, instance, name)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let instance = &world.sql.instances[index];
    let user = instance
        .user_index(&name, query.get("host").map(String::as_str))
        .ok_or_else(|| user_not_found(&name))?;
    Ok(Json(instance.user_json(&instance.users[user])))
}

/// `PUT users?name=&host=`: sets the password (or the user's type); the fake keeps
/// no password, so only the operation shows.
async fn update_user(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let _: UserBody = parse_json(&body)?;
    let name = query
        .get("name")
        .cloned()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid("Missing parameter: name").with_reason("required"))?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    world.sql.instances[index]
        .user_index(&name, query.get("host").map(String::as_str))
        .ok_or_else(|| user_not_found(&name))?;
    check_idle(&world, index)?;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "UPDATE_USER",
            effect: Box::new(|_| Ok(json!({}))),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

async fn delete_user(
    State(server): State<Shared>,
    Path((project, instance)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let name = query
        .get("name")
        .cloned()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid("Missing parameter: name").with_reason("required"))?;
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance)?;
    let user = world.sql.instances[index]
        .user_index(&name, query.get("host").map(String::as_str))
        .ok_or_else(|| user_not_found(&name))?;
    check_idle(&world, index)?;
    let host = world.sql.instances[index].users[user].host.clone();
    let id = world.sql.instances[index].id;
    let operation = start(
        &mut world,
        OperationStart {
            index,
            operation_type: "DELETE_USER",
            effect: Box::new(move |world| {
                let instance = world.sql.by_id_mut(id).ok_or_else(instance_not_found)?;
                instance
                    .users
                    .retain(|user| !(user.name == name && user.host == host));
                Ok(json!({}))
            }),
            rollback: None,
        },
    );
    Ok(Json(operation))
}

// Operations.

async fn get_operation(
    State(server): State<Shared>,
    Path((project, operation)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let sql_project = sql_project(&world, &project)?;
    let record = world
        .sql
        .operations
        .iter()
        .find(|record| record.name == operation && record.project_number == sql_project.number)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "The Cloud SQL operation {operation} does not exist."
            ))
            .with_reason("operationDoesNotExist")
        })?;
    Ok(Json(render_operation(&world, record, "RUNNING")))
}

async fn list_operations(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let sql_project = sql_project(&world, &project)?;
    let instance = query.get("instance");
    let items: Vec<Value> = world
        .sql
        .operations
        .iter()
        .rev()
        .filter(|record| record.project_number == sql_project.number)
        .filter(|record| instance.is_none_or(|instance| record.instance == *instance))
        .map(|record| render_operation(&world, record, "RUNNING"))
        .collect();
    let mut json = json!({"kind": "sql#operationsList"});
    if !items.is_empty() {
        json["items"] = Value::Array(items);
    }
    Ok(Json(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_merge(target: Value, patch: Value, expected: Value) {
        let mut target = target;
        merge(&mut target, &patch);
        assert_eq!(target, expected);
    }

    #[test]
    fn merge_keeps_unsent_fields_and_replaces_lists() {
        check_merge(
            json!({"tier": "db-f1-micro", "databaseFlags": [{"name": "a"}], "ip": {"v4": true}}),
            json!({"databaseFlags": [{"name": "b"}], "ip": {"net": "n"}}),
            json!({"tier": "db-f1-micro", "databaseFlags": [{"name": "b"}], "ip": {"v4": true, "net": "n"}}),
        );
    }

    #[test]
    fn merge_null_removes() {
        check_merge(
            json!({"userLabels": {"a": "1", "b": "2"}}),
            json!({"userLabels": {"a": null}}),
            json!({"userLabels": {"b": "2"}}),
        );
    }

    #[test]
    fn disk_size_becomes_a_string() {
        let mut settings = default_settings(Engine::Postgres);
        merge(
            &mut settings,
            &json!({"tier": "db-f1-micro", "dataDiskSizeGb": 20}),
        );
        let settings = normalise_settings(settings).unwrap();
        assert_eq!(settings["dataDiskSizeGb"], "20");
    }

    #[test]
    fn tier_is_required() {
        assert!(normalise_settings(default_settings(Engine::MySql)).is_err());
    }

    #[test]
    fn engines() {
        assert_eq!(Engine::of("POSTGRES_16"), Some(Engine::Postgres));
        assert_eq!(Engine::of("MYSQL_8_0"), Some(Engine::MySql));
        assert_eq!(Engine::of("ORACLE_19"), None);
        assert_eq!(Engine::of("MYSQL_"), None);
    }
}
