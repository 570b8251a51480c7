//! `google_spanner_instance` and `google_spanner_database` (Spanner v1).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use super::{
    GcpClient, GcpError, api_error, invalid, planned_bool, planned_map, planned_str,
    refuse_if_protected, stored_str,
};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

const SPANNER: &str = "spanner";

fn planned_number(planned: &Value, name: &str) -> Option<i64> {
    planned
        .get_attr(name)
        .and_then(Value::as_number)
        .and_then(|n| n.as_i64())
}

fn json_number(v: Option<&Json>) -> Option<i64> {
    v.and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// Spanner reports a missing instance or database as NOT_FOUND (and the
/// emulator's gateway as a 500 it cannot serialise); both read as gone.
fn is_gone(e: &GcpError) -> bool {
    e.is_not_found() || e.status_name.as_deref() == Some("NOT_FOUND")
}

/// The stored attributes of an instance; capacity is reported the way the
/// configuration states it (nodes or processing units), so neither drifts.
fn instance_object(
    instance: &Json,
    project: &str,
    name: &str,
    uses_nodes: bool,
    force_destroy: bool,
) -> RemoteObject {
    let config = instance
        .get("config")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let config = config.rsplit('/').next().unwrap_or(config);
    let nodes = json_number(instance.get("nodeCount"));
    let units = json_number(instance.get("processingUnits"));
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("name".into(), json!(name));
    attrs.insert("config".into(), json!(config));
    attrs.insert(
        "display_name".into(),
        instance.get("displayName").cloned().unwrap_or(Json::Null),
    );
    attrs.insert(
        "num_nodes".into(),
        if uses_nodes { json!(nodes) } else { Json::Null },
    );
    attrs.insert(
        "processing_units".into(),
        if uses_nodes { Json::Null } else { json!(units) },
    );
    let labels = match instance.get("labels") {
        Some(Json::Object(m)) if !m.is_empty() => Json::Object(m.clone()),
        _ => Json::Null,
    };
    attrs.insert("labels".into(), labels);
    attrs.insert("force_destroy".into(), json!(force_destroy));
    attrs.insert(
        "state".into(),
        instance.get("state").cloned().unwrap_or(Json::Null),
    );
    attrs.insert("id".into(), json!(format!("{project}/{name}")));
    RemoteObject {
        provider_id: Some(format!("projects/{project}/instances/{name}")),
        attributes: attrs,
    }
}

async fn get_instance(
    client: &GcpClient,
    project: &str,
    name: &str,
) -> Result<Option<Json>, GcpError> {
    match client
        .call(
            SPANNER,
            Method::GET,
            &format!("v1/projects/{project}/instances/{name}"),
            None,
        )
        .await
    {
        Ok(i) => Ok(Some(i)),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn read_instance(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let (Some(project), Some(name)) = (stored_str(stored, "project"), stored_str(stored, "name"))
    else {
        return Ok(None);
    };
    let uses_nodes = stored
        .attributes
        .get("num_nodes")
        .is_some_and(|n| !n.is_null());
    let force_destroy = stored
        .attributes
        .get("force_destroy")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    Ok(get_instance(client, project, name)
        .await?
        .map(|i| instance_object(&i, project, name, uses_nodes, force_destroy)))
}

pub(super) async fn create_instance(
    client: &GcpClient,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_instance";
    let (Some(project), Some(name), Some(config)) = (
        planned_str(planned, "project"),
        planned_str(planned, "name"),
        planned_str(planned, "config"),
    ) else {
        return Err(invalid(T, "`project`, `name` and `config` must be known"));
    };
    let mut instance = json!({
        "config": format!("projects/{project}/instanceConfigs/{config}"),
        "displayName": planned_str(planned, "display_name").unwrap_or(name),
        "labels": planned_map(planned, "labels"),
    });
    let nodes = planned_number(planned, "num_nodes");
    match (nodes, planned_number(planned, "processing_units")) {
        (Some(n), _) => instance["nodeCount"] = json!(n),
        (None, Some(u)) => instance["processingUnits"] = json!(u),
        (None, None) => instance["nodeCount"] = json!(1),
    }
    let body = json!({ "instanceId": name, "instance": instance });
    let created = match client
        .call_and_wait(
            SPANNER,
            "v1",
            Method::POST,
            &format!("v1/projects/{project}/instances"),
            Some(&body),
        )
        .await
    {
        Ok(i) => i,
        Err(e) if e.is_already_exists() => {
            // Adopt only an instance that is exactly the one requested.
            let existing = get_instance(client, project, name)
                .await
                .map_err(|e| api_error(T, e))?;
            match existing {
                Some(i)
                    if i.get("displayName") == instance.get("displayName")
                        && i.get("config").and_then(Json::as_str)
                            == instance["config"].as_str() =>
                {
                    i
                }
                _ => {
                    return Err(invalid(
                        T,
                        format!(
                            "an instance named {name:?} already exists in {project} and is not the one requested"
                        ),
                    ));
                }
            }
        }
        Err(e) => return Err(api_error(T, e)),
    };
    let uses_nodes = nodes.is_some() || planned_number(planned, "processing_units").is_none();
    let force_destroy = planned_bool(planned, "force_destroy", false);
    Ok(instance_object(
        &created,
        project,
        name,
        uses_nodes,
        force_destroy,
    ))
}

pub(super) async fn update_instance(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_instance";
    let (Some(project), Some(name)) = (stored_str(stored, "project"), stored_str(stored, "name"))
    else {
        return Err(invalid(T, "the stored instance has no project or name"));
    };
    let mut instance = json!({
        "name": format!("projects/{project}/instances/{name}"),
        "displayName": planned_str(planned, "display_name").unwrap_or(name),
        "labels": planned_map(planned, "labels"),
    });
    let mut mask = vec!["displayName", "labels"];
    let nodes = planned_number(planned, "num_nodes");
    let units = planned_number(planned, "processing_units");
    match (nodes, units) {
        (Some(n), _) => {
            instance["nodeCount"] = json!(n);
            mask.push("nodeCount");
        }
        (None, Some(u)) => {
            instance["processingUnits"] = json!(u);
            mask.push("processingUnits");
        }
        (None, None) => {}
    }
    // The field mask lives in the body and is mandatory.
    let body = json!({ "instance": instance, "fieldMask": mask.join(",") });
    client
        .call_and_wait(
            SPANNER,
            "v1",
            Method::PATCH,
            &format!("v1/projects/{project}/instances/{name}"),
            Some(&body),
        )
        .await
        .map_err(|e| api_error(T, e))?;
    let instance = get_instance(client, project, name)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| invalid(T, format!("instance {name} disappeared during the update")))?;
    // Capacity is reported the way the configuration now states it, which may
    // have switched between nodes and processing units.
    let uses_nodes = nodes.is_some() || units.is_none();
    let force_destroy = planned_bool(planned, "force_destroy", false);
    Ok(instance_object(
        &instance,
        project,
        name,
        uses_nodes,
        force_destroy,
    ))
}

pub(super) async fn delete_instance(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_spanner_instance";
    let (Some(project), Some(name)) = (stored_str(stored, "project"), stored_str(stored, "name"))
    else {
        return Err(invalid(T, "the stored instance has no project or name"));
    };
    match client
        .call(
            SPANNER,
            Method::DELETE,
            &format!("v1/projects/{project}/instances/{name}"),
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(api_error(T, e)),
    }
}

pub(super) async fn import_instance(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_instance";
    let (project, name) = split_two(id, "instances")
        .ok_or_else(|| invalid(T, format!("{id:?} is not PROJECT/INSTANCE")))?;
    let instance = get_instance(client, project, name)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| invalid(T, format!("instance {name} does not exist in {project}")))?;
    let uses_nodes = instance
        .get("processingUnits")
        .and_then(|u| json_number(Some(u)))
        .is_none_or(|u| u % 1000 == 0);
    Ok(instance_object(&instance, project, name, uses_nodes, false))
}

/// Splits `P/N` or `projects/P/<kind>/N`.
fn split_two<'a>(id: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [p, n] => Some((p, n)),
        ["projects", p, k, n] if *k == kind => Some((p, n)),
        _ => None,
    }
}

fn database_path(project: &str, instance: &str, name: &str) -> String {
    format!("v1/projects/{project}/instances/{instance}/databases/{name}")
}

/// The period Spanner reports for a database whose DDL never set one.
const DEFAULT_RETENTION: &str = "1h";

/// The named schema object a DDL statement creates or drops, as its kind and
/// name in lower case without quotes (Spanner's names are case-insensitive).
#[derive(Debug, PartialEq)]
enum SchemaChange {
    Create(String),
    Drop(String),
    Other,
}

fn schema_change(statement: &str) -> SchemaChange {
    let words: Vec<String> = statement
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut words = words.iter().map(String::as_str).peekable();
    let creates = match words.next() {
        Some("create") => true,
        Some("drop") => false,
        _ => return SchemaChange::Other,
    };
    let mut kind = Vec::new();
    while let Some(&word) = words.peek() {
        match word {
            // Modifiers; search and vector indexes share the names of indexes.
            "or" | "replace" | "unique" | "null_filtered" | "search" | "vector" => {}
            "table" | "index" | "view" | "change" | "stream" | "sequence" | "role" | "model"
            | "schema" | "property" | "graph" | "locality" | "group" | "placement" => {
                kind.push(word)
            }
            _ => break,
        }
        words.next();
    }
    while matches!(words.peek(), Some(&("if" | "not" | "exists"))) {
        words.next();
    }
    match words.next() {
        Some(name) if !kind.is_empty() => {
            let object = format!("{} {}", kind.join(" "), name.trim_matches(['`', '"']));
            if creates {
                SchemaChange::Create(object)
            } else {
                SchemaChange::Drop(object)
            }
        }
        _ => SchemaChange::Other,
    }
}

/// The named schema objects that applying `statements` in order leaves.
fn schema_objects<'a>(statements: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut objects = BTreeSet::new();
    for statement in statements {
        match schema_change(statement) {
            SchemaChange::Create(object) => {
                objects.insert(object);
            }
            SchemaChange::Drop(object) => {
                objects.remove(&object);
            }
            SchemaChange::Other => {}
        }
    }
    objects
}

/// Compares the stored statements with the live schema by the objects they
/// name, and returns the statements that describe the live schema when the two
/// differ: the stored ones, less those creating objects dropped outside yagura,
/// then Spanner's statements for objects created outside yagura.
///
/// Statements cannot be compared as text: Spanner reformats them, and its schema
/// folds `ALTER` statements into the objects they change.
fn ddl_drift(stored: &[String], live: &[String]) -> Option<Vec<String>> {
    let expected = schema_objects(stored.iter().map(String::as_str));
    let actual = schema_objects(live.iter().map(String::as_str));
    if expected == actual {
        return None;
    }
    let dropped_outside = |statement: &String| {
        matches!(schema_change(statement), SchemaChange::Create(object)
            if expected.contains(&object) && !actual.contains(&object))
    };
    let created_outside = |statement: &&String| {
        matches!(schema_change(statement), SchemaChange::Create(object)
            if !expected.contains(&object))
    };
    let mut ddl: Vec<String> = stored
        .iter()
        .filter(|statement| !dropped_outside(statement))
        .cloned()
        .collect();
    ddl.extend(live.iter().filter(created_outside).cloned());
    Some(ddl)
}

fn json_strings(value: Option<&Json>) -> Vec<String> {
    value
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The DDL a database's `version_retention_period` stands for.
fn retention_statement(name: &str, period: &str) -> String {
    format!("ALTER DATABASE `{name}` SET OPTIONS (version_retention_period = '{period}')")
}

/// Applies DDL statements with an operation id derived from them, so that a
/// replayed request is recognised instead of applied twice.
async fn update_ddl(client: &GcpClient, path: &str, statements: &[String]) -> Result<(), GcpError> {
    if statements.is_empty() {
        return Ok(());
    }
    let mut hasher = Sha256::new();
    for statement in statements {
        hasher.update(statement.as_bytes());
        hasher.update([0]);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let body = json!({ "statements": statements, "operationId": format!("yagura_{digest}") });
    match client
        .call_and_wait(
            SPANNER,
            "v1",
            Method::PATCH,
            &format!("{path}/ddl"),
            Some(&body),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}

fn planned_ddl(planned: &Value) -> Vec<String> {
    planned
        .get_attr("ddl")
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn database_object(planned: &Value, state: Option<&Json>) -> RemoteObject {
    let project = planned_str(planned, "project").unwrap_or_default();
    let instance = planned_str(planned, "instance").unwrap_or_default();
    let name = planned_str(planned, "name").unwrap_or_default();
    let ddl = planned_ddl(planned);
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(project));
    attrs.insert("instance".into(), json!(instance));
    attrs.insert("name".into(), json!(name));
    attrs.insert(
        "ddl".into(),
        if ddl.is_empty() {
            Json::Null
        } else {
            json!(ddl)
        },
    );
    attrs.insert(
        "database_dialect".into(),
        planned
            .get_attr("database_dialect")
            .map_or(Json::Null, Value::to_json),
    );
    attrs.insert(
        "version_retention_period".into(),
        planned
            .get_attr("version_retention_period")
            .map_or(Json::Null, Value::to_json),
    );
    attrs.insert(
        "deletion_protection".into(),
        json!(planned_bool(planned, "deletion_protection", true)),
    );
    attrs.insert("state".into(), state.cloned().unwrap_or(Json::Null));
    attrs.insert("id".into(), json!(format!("{project}/{instance}/{name}")));
    RemoteObject {
        provider_id: Some(format!(
            "projects/{project}/instances/{instance}/databases/{name}"
        )),
        attributes: attrs,
    }
}

pub(super) async fn create_database(
    client: &GcpClient,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_database";
    let (Some(project), Some(instance), Some(name)) = (
        planned_str(planned, "project"),
        planned_str(planned, "instance"),
        planned_str(planned, "name"),
    ) else {
        return Err(invalid(T, "`project`, `instance` and `name` must be known"));
    };
    let dialect = planned_str(planned, "database_dialect").unwrap_or("GOOGLE_STANDARD_SQL");
    let create_statement = if dialect == "POSTGRESQL" {
        format!("CREATE DATABASE \"{name}\"")
    } else {
        format!("CREATE DATABASE `{name}`")
    };
    let body = json!({ "createStatement": create_statement, "databaseDialect": dialect });
    let path = database_path(project, instance, name);
    let created = client
        .call_and_wait(
            SPANNER,
            "v1",
            Method::POST,
            &format!("v1/projects/{project}/instances/{instance}/databases"),
            Some(&body),
        )
        .await;
    match created {
        Ok(_) => {}
        // A lost create replayed: the database exists; the DDL below is idempotent by operation id.
        Err(e) if e.is_already_exists() => {}
        Err(e) => return Err(api_error(T, e)),
    }
    // DDL is applied after creation, as Terraform does: the PostgreSQL dialect
    // rejects extra statements in the create request.
    let mut statements = planned_ddl(planned);
    if let Some(period) = planned_str(planned, "version_retention_period") {
        statements.push(retention_statement(name, period));
    }
    update_ddl(client, &path, &statements)
        .await
        .map_err(|e| api_error(T, e))?;
    let database = client
        .call(SPANNER, Method::GET, &path, None)
        .await
        .map_err(|e| api_error(T, e))?;
    Ok(database_object(planned, database.get("state")))
}

pub(super) async fn read_database(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let (Some(project), Some(instance), Some(name)) = (
        stored_str(stored, "project"),
        stored_str(stored, "instance"),
        stored_str(stored, "name"),
    ) else {
        return Ok(None);
    };
    let path = database_path(project, instance, name);
    let database = match client.call(SPANNER, Method::GET, &path, None).await {
        Ok(d) => d,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let ddl = client
        .call(SPANNER, Method::GET, &format!("{path}/ddl"), None)
        .await?;
    let live = json_strings(ddl.get("statements"));
    let mut object = stored.clone();
    let stored_ddl = json_strings(stored.attributes.get("ddl"));
    if let Some(drifted) = ddl_drift(&stored_ddl, &live) {
        object.attributes.insert(
            "ddl".into(),
            if drifted.is_empty() {
                Json::Null
            } else {
                json!(drifted)
            },
        );
    }
    object.attributes.insert(
        "state".into(),
        database.get("state").cloned().unwrap_or(Json::Null),
    );
    // Spanner reports its default period for a database that never set one.
    let period_unset = stored
        .attributes
        .get("version_retention_period")
        .is_none_or(Json::is_null);
    if let Some(period) = database.get("versionRetentionPeriod")
        && !(period_unset && period == DEFAULT_RETENTION)
    {
        object
            .attributes
            .insert("version_retention_period".into(), period.clone());
    }
    Ok(Some(object))
}

pub(super) async fn update_database(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_database";
    let (Some(project), Some(instance), Some(name)) = (
        stored_str(stored, "project"),
        stored_str(stored, "instance"),
        stored_str(stored, "name"),
    ) else {
        return Err(invalid(
            T,
            "the stored database has no project, instance or name",
        ));
    };
    let stored_ddl: Vec<String> = stored
        .attributes
        .get("ddl")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let ddl = planned_ddl(planned);
    if ddl.len() < stored_ddl.len() || ddl[..stored_ddl.len()] != stored_ddl[..] {
        return Err(invalid(
            T,
            "applied DDL statements cannot change; only appended statements are applied",
        ));
    }
    let mut statements: Vec<String> = ddl[stored_ddl.len()..].to_vec();
    let period = planned_str(planned, "version_retention_period");
    if period.is_some() && period != stored_str(stored, "version_retention_period") {
        statements.push(retention_statement(name, period.unwrap_or_default()));
    }
    let path = database_path(project, instance, name);
    update_ddl(client, &path, &statements)
        .await
        .map_err(|e| api_error(T, e))?;
    Ok(database_object(planned, stored.attributes.get("state")))
}

pub(super) async fn delete_database(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_spanner_database";
    let (Some(project), Some(instance), Some(name)) = (
        stored_str(stored, "project"),
        stored_str(stored, "instance"),
        stored_str(stored, "name"),
    ) else {
        return Err(invalid(
            T,
            "the stored database has no project, instance or name",
        ));
    };
    refuse_if_protected(T, &format!("database {name}"), stored)?;
    match client
        .call(
            SPANNER,
            Method::DELETE,
            &database_path(project, instance, name),
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_gone(&e) => Ok(()),
        Err(e) => Err(api_error(T, e)),
    }
}

pub(super) async fn import_database(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_spanner_database";
    let parts: Vec<&str> = id.split('/').collect();
    let (project, instance, name) = match parts.as_slice() {
        [p, i, n] => (*p, *i, *n),
        ["projects", p, "instances", i, "databases", n] => (*p, *i, *n),
        _ => {
            return Err(invalid(
                T,
                format!("{id:?} is not PROJECT/INSTANCE/DATABASE"),
            ));
        }
    };
    let path = database_path(project, instance, name);
    let database = client
        .call(SPANNER, Method::GET, &path, None)
        .await
        .map_err(|e| api_error(T, e))?;
    let ddl = client
        .call(SPANNER, Method::GET, &format!("{path}/ddl"), None)
        .await
        .map_err(|e| api_error(T, e))?;
    let planned = Value::Object(
        [
            ("project".to_string(), Value::string(project)),
            ("instance".to_string(), Value::string(instance)),
            ("name".to_string(), Value::string(name)),
            (
                "ddl".to_string(),
                Value::from_json(ddl.get("statements").unwrap_or(&Json::Null)),
            ),
            ("deletion_protection".to_string(), Value::Bool(true)),
        ]
        .into_iter()
        .collect(),
    );
    Ok(database_object(&planned, database.get("state")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_drift(stored: &[&str], live: &[&str], expected: Option<&[&str]>) {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ddl_drift(&strings(stored), &strings(live)),
            expected.map(strings)
        );
    }

    const TABLE: &str = "CREATE TABLE Payments (Id STRING(36) NOT NULL) PRIMARY KEY (Id)";
    const FORMATTED: &str = "CREATE TABLE Payments (\n  Id STRING(36) NOT NULL,\n) PRIMARY KEY(Id)";
    const INDEX: &str = "CREATE INDEX PaymentsById ON Payments(Id)";

    #[test]
    fn reformatted_statements_are_not_drift() {
        check_drift(&[TABLE, INDEX], &[FORMATTED, INDEX], None);
    }

    #[test]
    fn alterations_folded_into_the_schema_are_not_drift() {
        check_drift(
            &[
                TABLE,
                "ALTER TABLE Payments ADD COLUMN Amount INT64",
                "ALTER DATABASE `payments` SET OPTIONS (version_retention_period = '3d')",
            ],
            &[
                "CREATE TABLE Payments (\n  Id STRING(36) NOT NULL,\n  Amount INT64,\n) PRIMARY KEY(Id)",
                "ALTER DATABASE payments SET OPTIONS (\n  version_retention_period = '3d'\n)",
            ],
            None,
        );
    }

    #[test]
    fn names_are_case_insensitive_and_unquoted() {
        check_drift(
            &["CREATE TABLE `payments` (Id INT64) PRIMARY KEY (Id)"],
            &[FORMATTED],
            None,
        );
    }

    #[test]
    fn dropped_objects_are_not_expected() {
        check_drift(
            &[TABLE, INDEX, "DROP INDEX PaymentsById"],
            &[FORMATTED],
            None,
        );
    }

    #[test]
    fn objects_created_outside_are_appended() {
        let audit = "CREATE TABLE Audit (\n  Id INT64,\n) PRIMARY KEY(Id)";
        check_drift(&[TABLE], &[FORMATTED, audit], Some(&[TABLE, audit]));
    }

    #[test]
    fn objects_dropped_outside_leave_the_list() {
        check_drift(&[TABLE, INDEX], &[FORMATTED], Some(&[TABLE]));
    }

    #[test]
    fn unparsed_statements_are_ignored() {
        assert_eq!(
            schema_change("GRANT SELECT ON TABLE Payments TO ROLE r"),
            SchemaChange::Other
        );
        assert_eq!(
            schema_change(
                "create unique null_filtered index if not exists `ByAmount` on Payments(Amount)"
            ),
            SchemaChange::Create("index byamount".to_string())
        );
    }
}
