//! Secret Manager v1: secrets, their versions and payloads.
//!
//! Everything is synchronous. Requests name the project by id or number; responses
//! always use the number (`projects/123/secrets/S`), as Google does. Versions count
//! from 1 per secret, `latest` names the newest, and a destroyed version loses its
//! payload for good. Payloads are checked against an optional CRC32C.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::crm::project_denied;
use crate::errors::{ApiError, Code};
use crate::request::{
    mask_paths, page, page_offset, page_size, parse_json, rfc3339, split_verb, validate_labels,
};
use crate::world::{Shared, World};

const SERVICE: &str = "secretmanager.googleapis.com";

/// A payload may hold at most 64 KiB.
const MAX_PAYLOAD_BYTES: usize = 65_536;

/// Returns the routes of `secretmanager.googleapis.com`.
pub fn router() -> Router<Shared> {
    let secret = "/v1/projects/{project}/secrets/{secret}";
    Router::new()
        .route(
            "/v1/projects/{project}/secrets",
            get(list_secrets).post(create_secret),
        )
        .route(
            secret,
            get(get_secret)
                .patch(patch_secret)
                .delete(delete_secret)
                .post(secret_method),
        )
        .route(&format!("{secret}/versions"), get(list_versions))
        .route(
            &format!("{secret}/versions/{{version}}"),
            get(get_version).post(version_method),
        )
}

/// Every secret of every project.
#[derive(Default)]
pub struct Secrets {
    secrets: Vec<Secret>,
}

struct Secret {
    project_number: u64,
    secret_id: String,
    /// `{"automatic": {}}` or `{"userManaged": {"replicas": [{"location": …}]}}`.
    replication: Value,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    create_time: SystemTime,
    revision: u64,
    versions: Vec<Version>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionState {
    Enabled,
    Disabled,
    Destroyed,
}

impl VersionState {
    fn name(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

struct Version {
    number: u64,
    state: VersionState,
    create_time: SystemTime,
    destroy_time: Option<SystemTime>,
    /// `None` once destroyed.
    payload: Option<Vec<u8>>,
    crc32c: u32,
    client_specified_checksum: bool,
    revision: u64,
}

impl Secret {
    fn name(&self) -> String {
        format!(
            "projects/{}/secrets/{}",
            self.project_number, self.secret_id
        )
    }

    fn to_json(&self) -> Value {
        let mut json = json!({
            "name": self.name(),
            "replication": self.replication,
            "createTime": rfc3339(self.create_time),
            "etag": quoted_etag(&self.name(), self.revision),
        });
        if !self.labels.is_empty() {
            json["labels"] = json!(self.labels);
        }
        if !self.annotations.is_empty() {
            json["annotations"] = json!(self.annotations);
        }
        json
    }

    fn version_name(&self, version: &Version) -> String {
        format!("{}/versions/{}", self.name(), version.number)
    }

    fn version_json(&self, version: &Version) -> Value {
        let replication_status = match self.replication.get("userManaged") {
            Some(user_managed) => json!({"userManaged": {
                "replicas": user_managed["replicas"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|replica| json!({"location": replica["location"]}))
                    .collect::<Vec<_>>(),
            }}),
            None => json!({"automatic": {}}),
        };
        let name = self.version_name(version);
        let mut json = json!({
            "name": name,
            "createTime": rfc3339(version.create_time),
            "state": version.state.name(),
            "replicationStatus": replication_status,
            "etag": quoted_etag(&name, version.revision),
        });
        if let Some(destroy_time) = version.destroy_time {
            json["destroyTime"] = Value::from(rfc3339(destroy_time));
        }
        if version.client_specified_checksum {
            json["clientSpecifiedPayloadChecksum"] = Value::Bool(true);
        }
        json
    }

    /// Finds a version by number or the `latest` alias.
    fn version_index(&self, version: &str) -> Option<usize> {
        if version == "latest" {
            return self.versions.len().checked_sub(1);
        }
        let number: u64 = version.parse().ok()?;
        self.versions
            .iter()
            .position(|candidate| candidate.number == number)
    }
}

/// Returns an etag in Secret Manager's quoted form, e.g. `"1a2b3c4d5e6f70"`.
fn quoted_etag(key: &str, revision: u64) -> String {
    let digest = Sha256::digest(format!("{key}#{revision}"));
    let hex: String = digest[..7]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Computes the CRC32C (Castagnoli) checksum Secret Manager uses for payloads.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn secret_not_found(project_number: u64, secret_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Secret [projects/{project_number}/secrets/{secret_id}] not found."
    ))
}

fn version_not_found(secret: &str, version: &str) -> ApiError {
    ApiError::not_found(format!(
        "Secret Version [{secret}/versions/{version}] not found."
    ))
}

fn method_not_found() -> ApiError {
    ApiError::not_found("Method not found.")
}

fn secret_project(world: &World, project: &str) -> Result<u64, ApiError> {
    let found = world
        .projects
        .find_active(project)
        .ok_or_else(|| project_denied(project))?;
    world.require_service(found.number, SERVICE)?;
    Ok(found.number)
}

/// Finds a secret, by index into `world.secrets.secrets`.
fn find_secret(world: &World, project: &str, secret_id: &str) -> Result<usize, ApiError> {
    let project_number = secret_project(world, project)?;
    world
        .secrets
        .secrets
        .iter()
        .position(|secret| secret.project_number == project_number && secret.secret_id == secret_id)
        .ok_or_else(|| secret_not_found(project_number, secret_id))
}

/// Fails with 409 `ABORTED` when the request's etag is not the current one.
fn check_etag(sent: Option<&str>, current: &str) -> Result<(), ApiError> {
    match sent {
        Some(sent) if !sent.is_empty() && sent != current => Err(ApiError::new(
            Code::Aborted,
            format!("The etag provided ({sent}) does not match the current etag ({current})."),
        )),
        _ => Ok(()),
    }
}

fn is_secret_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks the replication policy and returns it in Google's form.
fn check_replication(replication: Option<Value>) -> Result<Value, ApiError> {
    let replication = replication.ok_or_else(|| ApiError::missing_field("secret.replication"))?;
    let automatic = replication.get("automatic");
    let user_managed = replication.get("userManaged");
    match (automatic, user_managed) {
        (Some(automatic), None) if automatic.is_object() => Ok(json!({"automatic": automatic})),
        (None, Some(user_managed)) => {
            let replicas = user_managed["replicas"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if replicas.is_empty() {
                return Err(ApiError::missing_field(
                    "secret.replication.user_managed.replicas",
                ));
            }
            let mut locations = Vec::new();
            for replica in &replicas {
                let location = replica["location"].as_str().unwrap_or_default();
                if location.is_empty() {
                    return Err(ApiError::missing_field(
                        "secret.replication.user_managed.replicas.location",
                    ));
                }
                if locations.contains(&location) {
                    return Err(ApiError::invalid_field(
                        "secret.replication.user_managed.replicas",
                        format!("location '{location}' is listed twice"),
                    ));
                }
                locations.push(location);
            }
            Ok(json!({"userManaged": {"replicas": replicas}}))
        }
        _ => Err(ApiError::invalid_field(
            "secret.replication",
            "exactly one of automatic and userManaged must be set",
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SecretBody {
    replication: Option<Value>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

async fn create_secret(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: SecretBody = parse_json(&body)?;
    let secret_id = query.get("secretId").cloned().unwrap_or_default();
    if secret_id.is_empty() {
        return Err(ApiError::missing_field("secretId"));
    }
    if !is_secret_id(&secret_id) {
        return Err(ApiError::invalid_field(
            "secretId",
            format!("'{secret_id}' must be 1 to 255 letters, digits, hyphens or underscores"),
        ));
    }
    let replication = check_replication(body.replication)?;
    let labels = body.labels.unwrap_or_default();
    validate_labels("secret.labels", &labels)?;
    let mut world = server.world();
    let project_number = secret_project(&world, &project)?;
    if world
        .secrets
        .secrets
        .iter()
        .any(|secret| secret.project_number == project_number && secret.secret_id == secret_id)
    {
        return Err(ApiError::already_exists(format!(
            "Secret [projects/{project_number}/secrets/{secret_id}] already exists."
        )));
    }
    let secret = Secret {
        project_number,
        secret_id,
        replication,
        labels,
        annotations: body.annotations.unwrap_or_default(),
        create_time: world.wall_now,
        revision: 1,
        versions: Vec::new(),
    };
    let json = secret.to_json();
    world.secrets.secrets.push(secret);
    Ok(Json(json))
}

async fn list_secrets(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if query.get("filter").is_some_and(|filter| !filter.is_empty()) {
        return Err(ApiError::invalid_field(
            "filter",
            "fake-gcp does not filter secrets",
        ));
    }
    let page_size = page_size(&query, 25_000)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let project_number = secret_project(&world, &project)?;
    // Newest first, as Google sorts them.
    let secrets: Vec<Value> = world
        .secrets
        .secrets
        .iter()
        .rev()
        .filter(|secret| secret.project_number == project_number)
        .map(Secret::to_json)
        .collect();
    let total = secrets.len();
    let mut json = page(secrets, "secrets", offset, page_size);
    json["totalSize"] = Value::from(total);
    Ok(Json(json))
}

async fn get_secret(
    State(server): State<Shared>,
    Path((project, secret)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (secret_id, verb) = split_verb(&secret);
    if verb.is_some() {
        return Err(method_not_found());
    }
    let world = server.world();
    let index = find_secret(&world, &project, secret_id)?;
    Ok(Json(world.secrets.secrets[index].to_json()))
}

#[derive(Debug, Default, Deserialize)]
struct PatchSecretBody {
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    etag: Option<String>,
}

async fn patch_secret(
    State(server): State<Shared>,
    Path((project, secret_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: PatchSecretBody = parse_json(&body)?;
    let mask = query
        .get("updateMask")
        .filter(|mask| !mask.is_empty())
        .ok_or_else(|| ApiError::missing_field("updateMask"))?;
    let mut new_labels = None;
    let mut new_annotations = None;
    for path in mask_paths(mask) {
        match path {
            "labels" => new_labels = Some(body.labels.clone().unwrap_or_default()),
            "annotations" => new_annotations = Some(body.annotations.clone().unwrap_or_default()),
            other => {
                return Err(ApiError::invalid_field(
                    "updateMask",
                    format!(
                        "'{other}' cannot be updated by fake-gcp; only labels and annotations can"
                    ),
                ));
            }
        }
    }
    if let Some(labels) = &new_labels {
        validate_labels("secret.labels", labels)?;
    }
    let mut world = server.world();
    let index = find_secret(&world, &project, &secret_id)?;
    let secret = &mut world.secrets.secrets[index];
    check_etag(
        body.etag.as_deref(),
        &quoted_etag(&secret.name(), secret.revision),
    )?;
    if let Some(labels) = new_labels {
        secret.labels = labels;
    }
    if let Some(annotations) = new_annotations {
        secret.annotations = annotations;
    }
    secret.revision += 1;
    Ok(Json(secret.to_json()))
}

async fn delete_secret(
    State(server): State<Shared>,
    Path((project, secret_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let index = find_secret(&world, &project, &secret_id)?;
    let secret = &world.secrets.secrets[index];
    check_etag(
        query.get("etag").map(String::as_str),
        &quoted_etag(&secret.name(), secret.revision),
    )?;
    world.secrets.secrets.remove(index);
    Ok(Json(json!({})))
}

#[derive(Debug, Default, Deserialize)]
struct AddVersionBody {
    payload: Option<PayloadBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadBody {
    data: Option<String>,
    /// An int64, which JSON carries as a string.
    data_crc32c: Option<Value>,
}

/// `POST …/secrets/S:addVersion`.
async fn secret_method(
    State(server): State<Shared>,
    Path((project, secret)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (secret_id, verb) = split_verb(&secret);
    if verb != Some("addVersion") {
        return Err(method_not_found());
    }
    let body: AddVersionBody = parse_json(&body)?;
    let payload = body
        .payload
        .ok_or_else(|| ApiError::missing_field("payload"))?;
    let data = BASE64
        .decode(payload.data.unwrap_or_default())
        .map_err(|error| {
            ApiError::invalid_field("payload.data", format!("invalid base64: {error}"))
        })?;
    if data.len() > MAX_PAYLOAD_BYTES {
        return Err(ApiError::invalid_field(
            "payload.data",
            format!(
                "the payload is {} bytes; at most {MAX_PAYLOAD_BYTES} are allowed",
                data.len()
            ),
        ));
    }
    let checksum = crc32c(&data);
    let client_specified_checksum = match &payload.data_crc32c {
        None => false,
        Some(sent) => {
            let sent = match sent {
                Value::String(text) => text.parse::<u64>().ok(),
                other => other.as_u64(),
            };
            if sent != Some(u64::from(checksum)) {
                return Err(ApiError::invalid_argument(
                    "Checksum mismatch: the payload's data_crc32c does not match its data.",
                ));
            }
            true
        }
    };
    let mut world = server.world();
    let index = find_secret(&world, &project, secret_id)?;
    let now = world.wall_now;
    let secret = &mut world.secrets.secrets[index];
    let number = secret
        .versions
        .last()
        .map_or(1, |version| version.number + 1);
    secret.versions.push(Version {
        number,
        state: VersionState::Enabled,
        create_time: now,
        destroy_time: None,
        payload: Some(data),
        crc32c: checksum,
        client_specified_checksum,
        revision: 1,
    });
    let version = secret.versions.last().expect("a version was just pushed");
    Ok(Json(secret.version_json(version)))
}

async fn list_versions(
    State(server): State<Shared>,
    Path((project, secret_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let wanted_state = match query.get("filter").map(String::as_str) {
        None | Some("") => None,
        Some(filter) => Some(
            filter
                .strip_prefix("state:")
                .filter(|state| ["ENABLED", "DISABLED", "DESTROYED"].contains(state))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "filter",
                        format!("fake-gcp understands only state:ENABLED|DISABLED|DESTROYED, not '{filter}'"),
                    )
                })?
                .to_owned(),
        ),
    };
    let page_size = page_size(&query, 25_000)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let index = find_secret(&world, &project, &secret_id)?;
    let secret = &world.secrets.secrets[index];
    let versions: Vec<Value> = secret
        .versions
        .iter()
        .rev()
        .filter(|version| {
            wanted_state
                .as_deref()
                .is_none_or(|state| version.state.name() == state)
        })
        .map(|version| secret.version_json(version))
        .collect();
    let total = versions.len();
    let mut json = page(versions, "versions", offset, page_size);
    json["totalSize"] = Value::from(total);
    Ok(Json(json))
}

/// `GET …/versions/V` and `GET …/versions/V:access`.
async fn get_version(
    State(server): State<Shared>,
    Path((project, secret_id, version)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (version_id, verb) = split_verb(&version);
    let world = server.world();
    let index = find_secret(&world, &project, &secret_id)?;
    let secret = &world.secrets.secrets[index];
    let found = secret
        .version_index(version_id)
        .map(|position| &secret.versions[position])
        .ok_or_else(|| version_not_found(&secret.name(), version_id))?;
    match verb {
        None => Ok(Json(secret.version_json(found))),
        Some("access") => {
            let payload = match (&found.payload, found.state) {
                (Some(payload), VersionState::Enabled) => payload,
                _ => {
                    return Err(ApiError::failed_precondition(format!(
                        "{} is in {} state.",
                        version_label(secret, found),
                        found.state.name()
                    )));
                }
            };
            Ok(Json(json!({
                "name": secret.version_name(found),
                "payload": {
                    "data": BASE64.encode(payload),
                    "dataCrc32c": found.crc32c.to_string(),
                },
            })))
        }
        Some(_) => Err(method_not_found()),
    }
}

fn version_label(secret: &Secret, version: &Version) -> String {
    format!("Secret Version [{}]", secret.version_name(version))
}

#[derive(Debug, Default, Deserialize)]
struct VersionStateBody {
    etag: Option<String>,
}

/// `POST …/versions/V:disable`, `:enable` and `:destroy`.
async fn version_method(
    State(server): State<Shared>,
    Path((project, secret_id, version)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (version_id, verb) = split_verb(&version);
    let target = match verb {
        Some("disable") => VersionState::Disabled,
        Some("enable") => VersionState::Enabled,
        Some("destroy") => VersionState::Destroyed,
        _ => return Err(method_not_found()),
    };
    let body: VersionStateBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_secret(&world, &project, &secret_id)?;
    let now = world.wall_now;
    let secret = &mut world.secrets.secrets[index];
    let position = secret
        .version_index(version_id)
        .ok_or_else(|| version_not_found(&secret.name(), version_id))?;
    let found = &secret.versions[position];
    check_etag(
        body.etag.as_deref(),
        &quoted_etag(&secret.version_name(found), found.revision),
    )?;
    if found.state == VersionState::Destroyed {
        return Err(ApiError::failed_precondition(format!(
            "{} is in DESTROYED state.",
            version_label(secret, found)
        )));
    }
    let found = &mut secret.versions[position];
    if found.state != target {
        found.state = target;
        found.revision += 1;
        if target == VersionState::Destroyed {
            found.payload = None;
            found.destroy_time = Some(now);
        }
    }
    let found = &secret.versions[position];
    Ok(Json(secret.version_json(found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The standard check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn etags_are_quoted() {
        let tag = quoted_etag("projects/1/secrets/s", 1);
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 16);
    }

    #[test]
    fn replication_needs_exactly_one_policy() {
        assert!(check_replication(None).is_err());
        assert!(check_replication(Some(json!({}))).is_err());
        assert!(check_replication(Some(json!({"automatic": {}}))).is_ok());
        assert!(check_replication(Some(json!({"userManaged": {"replicas": []}}))).is_err());
        assert!(
            check_replication(Some(
                json!({"userManaged": {"replicas": [{"location": "us-east1"}]}})
            ))
            .is_ok()
        );
    }
}
