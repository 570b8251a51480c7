//! `google_secret_manager_secret` and `google_secret_manager_secret_version`
//! (Secret Manager v1).
//!
//! Invariant: secret payloads go to the API and into state only; they are
//! never logged and never part of an error message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Map, Value as Json, json};

use super::{GcpClient, GcpError, api_error, invalid, planned_map, planned_str, stored_str};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

const SM: &str = "secretmanager";

/// The API's replication from the planned `replication` block.
fn replication_body(planned: &Value) -> Json {
    let block = planned
        .get_attr("replication")
        .and_then(Value::as_sequence)
        .and_then(|b| b.first());
    let user_managed = block
        .and_then(|b| b.get_attr("user_managed"))
        .and_then(Value::as_sequence)
        .and_then(|u| u.first());
    match user_managed {
        Some(managed) => {
            let replicas: Vec<Json> = managed
                .get_attr("replicas")
                .and_then(Value::as_sequence)
                .unwrap_or(&[])
                .iter()
                .filter_map(|r| r.get_attr("location").and_then(Value::as_str))
                .map(|location| json!({ "location": location }))
                .collect();
            json!({ "userManaged": { "replicas": replicas } })
        }
        None => json!({ "automatic": {} }),
    }
}

/// The `replication` block from the API's replication.
fn replication_block(secret: &Json) -> Json {
    let replication = secret.get("replication");
    match replication.and_then(|r| r.get("userManaged")) {
        Some(managed) => {
            let replicas: Vec<Json> = managed
                .get("replicas")
                .and_then(Json::as_array)
                .unwrap_or(&Vec::new())
                .iter()
                .map(|r| json!({ "location": r.get("location").cloned().unwrap_or(Json::Null) }))
                .collect();
            json!([{ "auto": [], "user_managed": [{ "replicas": replicas }] }])
        }
        None => json!([{ "auto": [{}], "user_managed": [] }]),
    }
}

fn secret_object(secret: &Json, project: &str, secret_id: &str) -> RemoteObject {
    let id = format!("projects/{project}/secrets/{secret_id}");
    let labels = match secret.get("labels") {
        Some(Json::Object(m)) if !m.is_empty() => Json::Object(m.clone()),
        _ => Json::Null,
    };
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("secret_id".into(), json!(secret_id));
    attrs.insert("labels".into(), labels);
    attrs.insert("replication".into(), replication_block(secret));
    attrs.insert(
        "name".into(),
        secret.get("name").cloned().unwrap_or(Json::Null),
    );
    attrs.insert("id".into(), json!(id.clone()));
    RemoteObject {
        provider_id: Some(id),
        attributes: attrs,
    }
}

async fn get_secret(
    client: &GcpClient,
    project: &str,
    secret_id: &str,
) -> Result<Option<Json>, GcpError> {
    match client
        .call(
            SM,
            Method::GET,
            &format!("v1/projects/{project}/secrets/{secret_id}"),
            None,
        )
        .await
    {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn read_secret(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let (Some(project), Some(secret_id)) = (
        stored_str(stored, "project"),
        stored_str(stored, "secret_id"),
    ) else {
        return Ok(None);
    };
    Ok(get_secret(client, project, secret_id)
        .await?
        .map(|s| secret_object(&s, project, secret_id)))
}

pub(super) async fn create_secret(
    client: &GcpClient,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret";
    let (Some(project), Some(secret_id)) = (
        planned_str(planned, "project"),
        planned_str(planned, "secret_id"),
    ) else {
        return Err(invalid(T, "`project` and `secret_id` must be known"));
    };
    let body = json!({ "replication": replication_body(planned), "labels": planned_map(planned, "labels") });
    let path = format!("v1/projects/{project}/secrets?secretId={secret_id}");
    let secret = match client.call(SM, Method::POST, &path, Some(&body)).await {
        Ok(s) => s,
        Err(e) if e.is_already_exists() => {
            // A lost create replayed: adopt only a secret with the requested replication and labels.
            let existing = get_secret(client, project, secret_id)
                .await
                .map_err(|e| api_error(T, e))?;
            match existing {
                Some(s)
                    if s.get("replication").map(|r| r.get("userManaged").is_some())
                        == Some(body["replication"].get("userManaged").is_some())
                        && secret_object(&s, project, secret_id).attributes["labels"]
                            == secret_labels(&body["labels"]) =>
                {
                    s
                }
                _ => {
                    return Err(invalid(
                        T,
                        format!("a different secret {secret_id:?} already exists in {project}"),
                    ));
                }
            }
        }
        Err(e) => return Err(api_error(T, e)),
    };
    Ok(secret_object(&secret, project, secret_id))
}

fn secret_labels(labels: &Json) -> Json {
    match labels {
        Json::Object(m) if !m.is_empty() => labels.clone(),
        _ => Json::Null,
    }
}

pub(super) async fn update_secret(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret";
    let (Some(project), Some(secret_id)) = (
        stored_str(stored, "project"),
        stored_str(stored, "secret_id"),
    ) else {
        return Err(invalid(T, "the stored secret has no project or id"));
    };
    let body = json!({ "labels": planned_map(planned, "labels") });
    let secret = client
        .call(
            SM,
            Method::PATCH,
            &format!("v1/projects/{project}/secrets/{secret_id}?updateMask=labels"),
            Some(&body),
        )
        .await
        .map_err(|e| api_error(T, e))?;
    Ok(secret_object(&secret, project, secret_id))
}

pub(super) async fn delete_secret(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_secret_manager_secret";
    let (Some(project), Some(secret_id)) = (
        stored_str(stored, "project"),
        stored_str(stored, "secret_id"),
    ) else {
        return Err(invalid(T, "the stored secret has no project or id"));
    };
    match client
        .call(
            SM,
            Method::DELETE,
            &format!("v1/projects/{project}/secrets/{secret_id}"),
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(T, e)),
    }
}

pub(super) async fn import_secret(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret";
    let parts: Vec<&str> = id.split('/').collect();
    let ["projects", project, "secrets", secret_id] = parts.as_slice() else {
        return Err(invalid(
            T,
            format!("{id:?} is not projects/PROJECT/secrets/SECRET"),
        ));
    };
    let secret = get_secret(client, project, secret_id)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| invalid(T, format!("secret {secret_id} does not exist in {project}")))?;
    Ok(secret_object(&secret, project, secret_id))
}

fn version_object(version: &Json, secret: &str, secret_data: Json) -> RemoteObject {
    let name = version
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let number = name.rsplit('/').next().unwrap_or_default().to_string();
    let mut attrs = Map::new();
    attrs.insert("secret".into(), json!(secret));
    attrs.insert("secret_data".into(), secret_data);
    attrs.insert(
        "enabled".into(),
        json!(version.get("state").and_then(Json::as_str) == Some("ENABLED")),
    );
    attrs.insert("name".into(), json!(name.clone()));
    attrs.insert("version".into(), json!(number));
    attrs.insert("id".into(), json!(name.clone()));
    RemoteObject {
        provider_id: Some(name),
        attributes: attrs,
    }
}

async fn set_version_enabled(
    client: &GcpClient,
    name: &str,
    enabled: bool,
) -> Result<Json, GcpError> {
    let verb = if enabled { "enable" } else { "disable" };
    client
        .call(
            SM,
            Method::POST,
            &format!("v1/{name}:{verb}"),
            Some(&json!({})),
        )
        .await
}

pub(super) async fn create_version(
    client: &GcpClient,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret_version";
    let secret =
        planned_str(planned, "secret").ok_or_else(|| invalid(T, "`secret` must be known"))?;
    let data = planned
        .get_attr("secret_data")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(T, "`secret_data` must be known"))?;
    let body = json!({ "payload": { "data": STANDARD.encode(data.as_bytes()) } });
    let mut version = client
        .call(
            SM,
            Method::POST,
            &format!("v1/{secret}:addVersion"),
            Some(&body),
        )
        .await
        .map_err(|e| api_error(T, e))?;
    let enabled = planned
        .get_attr("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !enabled {
        let name = version
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        version = set_version_enabled(client, &name, false)
            .await
            .map_err(|e| api_error(T, e))?;
    }
    Ok(version_object(&version, secret, json!(data)))
}

pub(super) async fn read_version(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let Some(name) = stored_str(stored, "name").or(stored.provider_id.as_deref()) else {
        return find_version(client, stored).await;
    };
    let version = match client
        .call(SM, Method::GET, &format!("v1/{name}"), None)
        .await
    {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    if version.get("state").and_then(Json::as_str) == Some("DESTROYED") {
        return Ok(None);
    }
    // The payload is not read back: the stored one is what yagura wrote.
    let secret = stored_str(stored, "secret").unwrap_or_default();
    let data = stored
        .attributes
        .get("secret_data")
        .cloned()
        .unwrap_or(Json::Null);
    Ok(Some(version_object(&version, secret, data)))
}

/// The version whose name a create never reported (its response was lost, or the
/// process died): the newest live version of the secret holding exactly the
/// requested payload, if any.
async fn find_version(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let (Some(secret), Some(wanted)) = (
        stored_str(stored, "secret"),
        stored.attributes.get("secret_data").and_then(Json::as_str),
    ) else {
        return Ok(None);
    };
    let listed = match client
        .call(SM, Method::GET, &format!("v1/{secret}/versions"), None)
        .await
    {
        Ok(listed) => listed,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut versions: Vec<&Json> = listed
        .get("versions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("state").and_then(Json::as_str) != Some("DESTROYED"))
        .collect();
    let number = |v: &Json| {
        v.get("name")
            .and_then(Json::as_str)
            .and_then(|n| n.rsplit('/').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    versions.sort_by_key(|v| std::cmp::Reverse(number(v)));
    for version in versions {
        let Some(name) = version.get("name").and_then(Json::as_str) else {
            continue;
        };
        let access = client
            .call(SM, Method::GET, &format!("v1/{name}:access"), None)
            .await?;
        let data = access
            .get("payload")
            .and_then(|p| p.get("data"))
            .and_then(Json::as_str)
            .and_then(|d| STANDARD.decode(d).ok());
        if data.as_deref() == Some(wanted.as_bytes()) {
            return Ok(Some(version_object(version, secret, json!(wanted))));
        }
    }
    Ok(None)
}

pub(super) async fn update_version(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret_version";
    let name =
        stored_str(stored, "name").ok_or_else(|| invalid(T, "the stored version has no name"))?;
    let enabled = planned
        .get_attr("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let version = set_version_enabled(client, name, enabled)
        .await
        .map_err(|e| api_error(T, e))?;
    let secret = stored_str(stored, "secret").unwrap_or_default();
    Ok(version_object(
        &version,
        secret,
        stored
            .attributes
            .get("secret_data")
            .cloned()
            .unwrap_or(Json::Null),
    ))
}

pub(super) async fn destroy_version(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_secret_manager_secret_version";
    let name =
        stored_str(stored, "name").ok_or_else(|| invalid(T, "the stored version has no name"))?;
    match client
        .call(
            SM,
            Method::POST,
            &format!("v1/{name}:destroy"),
            Some(&json!({})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(T, e)),
    }
}

pub(super) async fn import_version(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_secret_manager_secret_version";
    let Some((secret, _)) = id.split_once("/versions/") else {
        return Err(invalid(
            T,
            format!("{id:?} is not projects/P/secrets/S/versions/N"),
        ));
    };
    let version = client
        .call(SM, Method::GET, &format!("v1/{id}"), None)
        .await
        .map_err(|e| api_error(T, e))?;
    let access = client
        .call(SM, Method::GET, &format!("v1/{id}:access"), None)
        .await
        .map_err(|e| api_error(T, e))?;
    let data = access
        .get("payload")
        .and_then(|p| p.get("data"))
        .and_then(Json::as_str)
        .and_then(|d| STANDARD.decode(d).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map_or(Json::Null, Json::String);
    Ok(version_object(&version, secret, data))
}
