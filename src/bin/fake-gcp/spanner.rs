//! Cloud Spanner's admin API (v1): instance configs, instances, databases, their DDL
//! and the long-running operations that change them.
//!
//! Where the Spanner emulator departs from Google, this fake follows Google: a missing
//! instance or database is a 404 in Google's envelope, instances can be updated,
//! operations stay pending for `--operation-delay-ms` (and `--failing-operations` of
//! them fail), unknown instance configs are refused, deletes of missing resources are
//! 404s, and drop protection is enforced on databases and their instances. A create is
//! readable at once as `CREATING`; while an operation runs on an instance, other
//! changes to it get `FAILED_PRECONDITION`.
//!
//! DDL statements are stored as given (Spanner would reformat them). The fake follows
//! the named objects they create, alter and drop, so that a duplicate or missing name
//! fails a DDL operation after the statements before it were applied, as on Spanner.
//! Every call needs an active project; Spanner's API is refused only while it is
//! still propagating after being enabled.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::crm::project_denied;
use crate::dice::SplitMix64;
use crate::errors::ApiError;
use crate::operations::NewOperation;
use crate::request::{
    mask_paths, page, page_offset, page_size, parse_json, rfc3339, validate_labels,
};
use crate::world::{Shared, World};

const SERVICE: &str = "spanner.googleapis.com";
const INSTANCE_API: &str = "type.googleapis.com/google.spanner.admin.instance.v1";
const DATABASE_API: &str = "type.googleapis.com/google.spanner.admin.database.v1";

/// The Google-managed instance configurations every project sees, with their
/// display names.
const INSTANCE_CONFIGS: &[(&str, &str)] = &[
    ("regional-us-central1", "Iowa (us-central1)"),
    ("regional-us-east1", "South Carolina (us-east1)"),
    ("regional-europe-west1", "Belgium (europe-west1)"),
    ("regional-asia-northeast1", "Tokyo (asia-northeast1)"),
    ("nam3", "United States (Northern Virginia/South Carolina)"),
    ("eur3", "Europe (Belgium/Netherlands)"),
];

const EDITIONS: &[&str] = &["STANDARD", "ENTERPRISE", "ENTERPRISE_PLUS"];

/// A database keeps old versions of its data for one hour unless its DDL says otherwise.
const DEFAULT_RETENTION: &str = "1h";

/// Returns the routes of `spanner.googleapis.com`'s admin API.
pub fn router() -> Router<Shared> {
    let instance = "/v1/projects/{project}/instances/{instance}";
    let database = "/v1/projects/{project}/instances/{instance}/databases/{database}";
    Router::new()
        .route(
            "/v1/projects/{project}/instanceConfigs",
            get(list_instance_configs),
        )
        .route(
            "/v1/projects/{project}/instanceConfigs/{config}",
            get(get_instance_config),
        )
        .route(
            "/v1/projects/{project}/instances",
            get(list_instances).post(create_instance),
        )
        .route(
            instance,
            get(get_instance)
                .patch(update_instance)
                .delete(delete_instance),
        )
        .route(
            &format!("{instance}/operations/{{operation}}"),
            get(get_instance_operation),
        )
        .route(
            &format!("{instance}/databases"),
            get(list_databases).post(create_database),
        )
        .route(
            database,
            get(get_database)
                .patch(update_database)
                .delete(drop_database),
        )
        .route(
            &format!("{database}/ddl"),
            get(get_database_ddl).patch(update_database_ddl),
        )
        .route(
            &format!("{database}/operations/{{operation}}"),
            get(get_database_operation),
        )
}

/// Every Spanner instance of every project, with its databases.
#[derive(Default)]
pub struct SpannerInstances {
    instances: Vec<Instance>,
    /// Tells a recreated instance or database from its predecessor.
    next_id: u64,
}

#[derive(Clone)]
struct Instance {
    id: u64,
    project_id: String,
    project_number: u64,
    instance_id: String,
    /// The configuration's id, e.g. `regional-us-central1`.
    config: String,
    display_name: String,
    /// Compute capacity; 0 for an instance created without any.
    processing_units: u64,
    labels: BTreeMap<String, String>,
    edition: String,
    ready: bool,
    create_time: SystemTime,
    update_time: SystemTime,
    /// The last create or update operation; while it runs, other changes are refused.
    operation: Option<String>,
    databases: Vec<Database>,
}

#[derive(Clone)]
struct Database {
    id: u64,
    database_id: String,
    dialect: &'static str,
    ready: bool,
    create_time: SystemTime,
    /// The schema as the DDL statements that built it, as they were sent.
    statements: Vec<String>,
    version_retention_period: String,
    enable_drop_protection: bool,
    /// The last `UpdateDatabase` operation; while it runs, another is refused.
    update_operation: Option<String>,
    /// The `operationId`s of the DDL updates applied to this database.
    ddl_operation_ids: Vec<String>,
}

impl Instance {
    fn name(&self) -> String {
        format!(
            "projects/{}/instances/{}",
            self.project_id, self.instance_id
        )
    }

    fn to_json(&self) -> Value {
        let mut json = json!({
            "name": self.name(),
            "config": format!("projects/{}/instanceConfigs/{}", self.project_id, self.config),
            "displayName": self.display_name,
            "state": if self.ready { "READY" } else { "CREATING" },
            "instanceType": "PROVISIONED",
            "edition": self.edition,
            "createTime": rfc3339(self.create_time),
            "updateTime": rfc3339(self.update_time),
        });
        // proto3 JSON leaves out zero numbers and empty maps.
        let nodes = self.processing_units / 1000;
        if nodes > 0 {
            json["nodeCount"] = Value::from(nodes);
        }
        if self.processing_units > 0 {
            json["processingUnits"] = Value::from(self.processing_units);
        }
        if !self.labels.is_empty() {
            json["labels"] = json!(self.labels);
        }
        json
    }

    /// Renders the instance as an operation's `response`.
    fn to_response(&self) -> Value {
        let mut json = self.to_json();
        json["@type"] = Value::from(format!("{INSTANCE_API}.Instance"));
        json
    }

    fn database_name(&self, database_id: &str) -> String {
        format!("{}/databases/{database_id}", self.name())
    }
}

impl Database {
    /// Renders the database; `instance_name` is `projects/P/instances/I`.
    fn to_json(&self, instance_name: &str, reconciling: bool, now: SystemTime) -> Value {
        let retention =
            retention_duration(&self.version_retention_period).unwrap_or(Duration::from_secs(3600));
        // Old versions reach back over the retention period, but not before creation.
        let earliest = now
            .checked_sub(retention)
            .map_or(self.create_time, |time| time.max(self.create_time));
        let mut json = json!({
            "name": format!("{instance_name}/databases/{}", self.database_id),
            "state": if self.ready { "READY" } else { "CREATING" },
            "createTime": rfc3339(self.create_time),
            "versionRetentionPeriod": self.version_retention_period,
            "earliestVersionTime": rfc3339(earliest),
            "databaseDialect": self.dialect,
        });
        if self.enable_drop_protection {
            json["enableDropProtection"] = Value::Bool(true);
        }
        if reconciling {
            json["reconciling"] = Value::Bool(true);
        }
        json
    }

    /// Renders the database as an operation's `response`.
    fn to_response(&self, instance_name: &str, now: SystemTime) -> Value {
        let mut json = self.to_json(instance_name, false, now);
        json["@type"] = Value::from(format!("{DATABASE_API}.Database"));
        json
    }
}

impl SpannerInstances {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn instance_mut(&mut self, id: u64) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|instance| instance.id == id)
    }

    /// Finds a database by its id, with the name of the instance that holds it.
    fn database_mut(&mut self, id: u64) -> Option<(String, &mut Database)> {
        self.instances.iter_mut().find_map(|instance| {
            let instance_name = instance.name();
            instance
                .databases
                .iter_mut()
                .find(|database| database.id == id)
                .map(|database| (instance_name, database))
        })
    }
}

// Errors in Spanner's words.

fn invalid_request(request: &str, detail: &str) -> ApiError {
    ApiError::invalid_argument(format!("Invalid {request} request. {detail}"))
}

/// Returns Spanner's 400 for a bad field: a short message and a `BadRequest` detail.
fn bad_field(request: &str, field: &str, description: impl Into<String>) -> ApiError {
    let description = description.into();
    ApiError::invalid_argument(format!("Invalid {request} request.")).with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": field, "description": description}],
    }))
}

fn resource_info(resource: &str, name: &str, description: &str) -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.ResourceInfo",
        "resourceType": resource,
        "resourceName": name,
        "description": description,
    })
}

fn instance_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Instance not found: {name}")).with_detail(resource_info(
        &format!("{INSTANCE_API}.Instance"),
        name,
        "Instance does not exist.",
    ))
}

fn database_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Database not found: {name}")).with_detail(resource_info(
        &format!("{DATABASE_API}.Database"),
        name,
        "Database does not exist.",
    ))
}

fn instance_busy(name: &str, operation: &str) -> ApiError {
    ApiError::failed_precondition(format!(
        "Instance {name} cannot be modified while operation {operation} is in progress."
    ))
}

/// The project a call names, which must be active.
struct SpannerProject {
    number: u64,
    id: String,
}

fn spanner_project(world: &World, project: &str) -> Result<SpannerProject, ApiError> {
    let found = world
        .projects
        .find_active(project)
        .ok_or_else(|| project_denied(project))?;
    world.require_service(found.number, SERVICE)?;
    Ok(SpannerProject {
        number: found.number,
        id: found.project_id.clone(),
    })
}

/// Finds an instance, by index into `world.spanner.instances`.
fn find_instance(world: &World, project: &str, instance_id: &str) -> Result<usize, ApiError> {
    let project = spanner_project(world, project)?;
    world
        .spanner
        .instances
        .iter()
        .position(|instance| {
            instance.project_number == project.number && instance.instance_id == instance_id
        })
        .ok_or_else(|| {
            instance_not_found(&format!("projects/{}/instances/{instance_id}", project.id))
        })
}

/// Finds a database, by indexes of its instance and of the database in it.
fn find_database(
    world: &World,
    project: &str,
    instance_id: &str,
    database_id: &str,
) -> Result<(usize, usize), ApiError> {
    let index = find_instance(world, project, instance_id)?;
    let instance = &world.spanner.instances[index];
    instance
        .databases
        .iter()
        .position(|database| database.database_id == database_id)
        .map(|position| (index, position))
        .ok_or_else(|| database_not_found(&instance.database_name(database_id)))
}

/// Reports whether the named operation exists and is not done yet.
fn running(world: &World, operation: Option<&str>) -> bool {
    operation
        .and_then(|name| world.operations.get(name))
        .is_some_and(|operation| operation["done"] != true)
}

/// Returns an operation id in the shape of Spanner's generated ones: 16 hex digits.
fn generated_operation_id(world: &mut World) -> String {
    let seq = world.operations.next_seq();
    format!("{:016x}", SplitMix64(seq).next_u64())
}

/// Reads an int32 field that JSON may carry as a number or a string.
fn int_field(request: &str, field: &str, value: Option<&Value>) -> Result<Option<u64>, ApiError> {
    let parsed = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.parse::<u64>().ok(),
        Some(other) => other.as_u64(),
    };
    parsed
        .filter(|number| *number <= i32::MAX as u64)
        .map(Some)
        .ok_or_else(|| bad_field(request, field, "must be a non-negative 32-bit integer"))
}

/// Checks a processing-unit count: multiples of 100 below 1000, of 1000 from there.
fn check_processing_units(request: &str, units: u64) -> Result<u64, ApiError> {
    let valid = if units < 1000 {
        units > 0 && units.is_multiple_of(100)
    } else {
        units.is_multiple_of(1000)
    };
    if valid {
        Ok(units)
    } else {
        Err(invalid_request(
            request,
            "Processing units should be multiple of 100 for values below 1000 and multiples of 1000 for values above 1000.",
        ))
    }
}

fn check_display_name(display_name: &str) -> Result<(), ApiError> {
    if (4..=30).contains(&display_name.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::invalid_argument(format!(
            "Display name must be between 4-30 characters long. Got: {display_name}"
        )))
    }
}

fn check_edition(request: &str, edition: &str) -> Result<(), ApiError> {
    if EDITIONS.contains(&edition) {
        Ok(())
    } else {
        Err(bad_field(
            request,
            "instance.edition",
            format!("'{edition}' is not one of {}", EDITIONS.join(", ")),
        ))
    }
}

/// Checks an instance id: 2–64 characters, `[a-z][-a-z0-9]*[a-z0-9]`.
fn is_instance_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a database id: 2–30 characters, `[a-z][a-z0-9_-]*[a-z0-9]`.
fn is_database_id(id: &str) -> bool {
    (2..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

// Instance configs.

fn config_json(project_id: &str, config: &str, display_name: &str) -> Value {
    json!({
        "name": format!("projects/{project_id}/instanceConfigs/{config}"),
        "displayName": display_name,
        "configType": "GOOGLE_MANAGED",
        "quorumType": if config.starts_with("regional-") { "REGION" } else { "MULTI_REGION" },
        "freeInstanceAvailability": "AVAILABLE",
    })
}

async fn list_instance_configs(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = page_size(&query, 1000)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let project = spanner_project(&world, &project)?;
    let configs = INSTANCE_CONFIGS
        .iter()
        .map(|(config, display_name)| config_json(&project.id, config, display_name))
        .collect();
    Ok(Json(page(configs, "instanceConfigs", offset, page_size)))
}

async fn get_instance_config(
    State(server): State<Shared>,
    Path((project, config)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let project = spanner_project(&world, &project)?;
    INSTANCE_CONFIGS
        .iter()
        .find(|(known, _)| *known == config)
        .map(|(config, display_name)| Json(config_json(&project.id, config, display_name)))
        .ok_or_else(|| ApiError::not_found(format!("Instance config \"{config}\" not found")))
}

// Instances.

/// An `Instance` as a request carries it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InstanceBody {
    name: Option<String>,
    config: Option<String>,
    display_name: Option<String>,
    /// int32, as a number or a string.
    node_count: Option<Value>,
    processing_units: Option<Value>,
    labels: Option<BTreeMap<String, String>>,
    edition: Option<String>,
    autoscaling_config: Option<Value>,
    // Output-only fields a client may send back; they are ignored.
    #[serde(rename = "state")]
    _state: Option<IgnoredAny>,
    #[serde(rename = "createTime")]
    _create_time: Option<IgnoredAny>,
    #[serde(rename = "updateTime")]
    _update_time: Option<IgnoredAny>,
    #[serde(rename = "instanceType")]
    _instance_type: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateInstanceBody {
    instance_id: Option<String>,
    instance: Option<InstanceBody>,
}

/// Reads `projects/P/instanceConfigs/C` and returns `C`, which must be a known config.
fn instance_config(config: Option<&str>) -> Result<String, ApiError> {
    const REQUEST: &str = "CreateInstance";
    let config = config.unwrap_or_default();
    let id = match config.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", project, "instanceConfigs", id] if !project.is_empty() && !id.is_empty() => {
            (*id).to_owned()
        }
        _ => {
            return Err(bad_field(
                REQUEST,
                "instance.config",
                format!(
                    "Expected projects/{{project ID}}/instanceConfigs/{{instance config ID}}. Got: {config}"
                ),
            ));
        }
    };
    if !INSTANCE_CONFIGS.iter().any(|(known, _)| *known == id) {
        return Err(bad_field(
            REQUEST,
            "instance.config",
            format!("Instance config {config} does not exist."),
        ));
    }
    Ok(id)
}

async fn create_instance(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const REQUEST: &str = "CreateInstance";
    let body: CreateInstanceBody = parse_json(&body)?;
    let instance_id = body.instance_id.unwrap_or_default();
    if !is_instance_id(&instance_id) {
        return Err(ApiError::invalid_argument(format!(
            "Instance ID must start with a lowercase letter, be 2-64 characters long, contain only lowercase letters, numbers, or hyphens, and not end with a hyphen. Got: {instance_id}"
        )));
    }
    let requested = body
        .instance
        .ok_or_else(|| bad_field(REQUEST, "instance", "the instance is required"))?;
    if let Some(name) = &requested.name
        && *name != format!("projects/{project}/instances/{instance_id}")
    {
        return Err(bad_field(
            REQUEST,
            "instance.name",
            format!("Expected projects/{project}/instances/{instance_id}. Got: {name}"),
        ));
    }
    let config = instance_config(requested.config.as_deref())?;
    let display_name = requested.display_name.unwrap_or_default();
    check_display_name(&display_name)?;
    if requested.autoscaling_config.is_some() {
        return Err(bad_field(
            REQUEST,
            "instance.autoscaling_config",
            "fake-gcp does not support autoscaling",
        ));
    }
    let node_count = int_field(
        REQUEST,
        "instance.node_count",
        requested.node_count.as_ref(),
    )?;
    let units = int_field(
        REQUEST,
        "instance.processing_units",
        requested.processing_units.as_ref(),
    )?;
    let processing_units = match (node_count.filter(|n| *n > 0), units.filter(|u| *u > 0)) {
        (Some(_), Some(_)) => {
            return Err(invalid_request(
                REQUEST,
                "Only one of nodes or processing units should be specified.",
            ));
        }
        (Some(nodes), None) => nodes * 1000,
        (None, Some(units)) => check_processing_units(REQUEST, units)?,
        (None, None) => 0,
    };
    let labels = requested.labels.unwrap_or_default();
    validate_labels("instance.labels", &labels)?;
    let edition = requested.edition.unwrap_or_else(|| "STANDARD".to_owned());
    check_edition(REQUEST, &edition)?;

    let mut world = server.world();
    let project = spanner_project(&world, &project)?;
    if world.spanner.instances.iter().any(|instance| {
        instance.project_number == project.number && instance.instance_id == instance_id
    }) {
        return Err(ApiError::already_exists(format!(
            "Instance already exists: projects/{}/instances/{instance_id}",
            project.id
        )));
    }
    let id = world.spanner.next_id();
    let instance = Instance {
        id,
        project_id: project.id,
        project_number: project.number,
        instance_id,
        config,
        display_name,
        processing_units,
        labels,
        edition,
        ready: false,
        create_time: world.wall_now,
        update_time: world.wall_now,
        operation: None,
        databases: Vec::new(),
    };
    let operation_name = format!(
        "{}/operations/{}",
        instance.name(),
        generated_operation_id(&mut world)
    );
    let metadata = json!({
        "@type": format!("{INSTANCE_API}.CreateInstanceMetadata"),
        "instance": instance.to_json(),
        "startTime": rfc3339(world.wall_now),
        "expectedFulfillmentPeriod": "FULFILLMENT_PERIOD_NORMAL",
    });
    let name = instance.name();
    world.spanner.instances.push(Instance {
        operation: Some(operation_name.clone()),
        ..instance
    });
    let operation = world.start_operation(NewOperation {
        name: operation_name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let instance = world
                .spanner
                .instance_mut(id)
                .ok_or_else(|| instance_not_found(&name))?;
            instance.ready = true;
            instance.update_time = now;
            Ok(instance.to_response())
        }),
        // A failed create leaves nothing behind.
        rollback: Some(Box::new(move |world| {
            world.spanner.instances.retain(|instance| instance.id != id);
        })),
    });
    Ok(Json(operation))
}

async fn get_instance(
    State(server): State<Shared>,
    Path((project, instance_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_instance(&world, &project, &instance_id)?;
    Ok(Json(world.spanner.instances[index].to_json()))
}

async fn list_instances(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if query.get("filter").is_some_and(|filter| !filter.is_empty()) {
        return Err(bad_field(
            "ListInstances",
            "filter",
            "fake-gcp does not filter instances",
        ));
    }
    let page_size = page_size(&query, 1000)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let project = spanner_project(&world, &project)?;
    let mut instances: Vec<&Instance> = world
        .spanner
        .instances
        .iter()
        .filter(|instance| instance.project_number == project.number)
        .collect();
    instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let instances = instances.into_iter().map(Instance::to_json).collect();
    Ok(Json(page(instances, "instances", offset, page_size)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateInstanceBody {
    instance: Option<InstanceBody>,
    field_mask: Option<String>,
}

/// What an `UpdateInstance` changes, checked before the operation starts.
#[derive(Clone, Default)]
struct InstanceChange {
    display_name: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    processing_units: Option<u64>,
    edition: Option<String>,
}

impl InstanceChange {
    /// Reads the fields the mask names, in camelCase or snake_case.
    fn from_request(mask: &str, requested: InstanceBody) -> Result<InstanceChange, ApiError> {
        const REQUEST: &str = "UpdateInstance";
        let mut change = InstanceChange::default();
        let mut node_count = None;
        let mut units = None;
        for path in mask_paths(mask) {
            match path {
                "displayName" | "display_name" => {
                    let display_name = requested.display_name.clone().unwrap_or_default();
                    check_display_name(&display_name)?;
                    change.display_name = Some(display_name);
                }
                "labels" => {
                    let labels = requested.labels.clone().unwrap_or_default();
                    validate_labels("instance.labels", &labels)?;
                    change.labels = Some(labels);
                }
                "nodeCount" | "node_count" => {
                    let nodes = int_field(
                        REQUEST,
                        "instance.node_count",
                        requested.node_count.as_ref(),
                    )?
                    .unwrap_or(0);
                    if nodes == 0 {
                        return Err(invalid_request(REQUEST, "Node count must be positive."));
                    }
                    node_count = Some(nodes);
                }
                "processingUnits" | "processing_units" => {
                    let requested_units = int_field(
                        REQUEST,
                        "instance.processing_units",
                        requested.processing_units.as_ref(),
                    )?
                    .unwrap_or(0);
                    units = Some(check_processing_units(REQUEST, requested_units)?);
                }
                "edition" => {
                    let edition = requested.edition.clone().unwrap_or_default();
                    check_edition(REQUEST, &edition)?;
                    change.edition = Some(edition);
                }
                "config" => {
                    return Err(bad_field(
                        REQUEST,
                        "field_mask",
                        "config cannot be updated; move the instance instead",
                    ));
                }
                other => {
                    return Err(bad_field(
                        REQUEST,
                        "field_mask",
                        format!(
                            "'{other}' cannot be updated by fake-gcp; only displayName, labels, nodeCount, processingUnits and edition can"
                        ),
                    ));
                }
            }
        }
        change.processing_units = match (node_count, units) {
            (Some(_), Some(_)) => {
                return Err(invalid_request(
                    REQUEST,
                    "Only one of nodes or processing units should be specified.",
                ));
            }
            (Some(nodes), None) => Some(nodes * 1000),
            (None, units) => units,
        };
        Ok(change)
    }

    fn apply(self, instance: &mut Instance, now: SystemTime) {
        if let Some(display_name) = self.display_name {
            instance.display_name = display_name;
        }
        if let Some(labels) = self.labels {
            instance.labels = labels;
        }
        if let Some(units) = self.processing_units {
            instance.processing_units = units;
        }
        if let Some(edition) = self.edition {
            instance.edition = edition;
        }
        instance.update_time = now;
    }
}

async fn update_instance(
    State(server): State<Shared>,
    Path((project, instance_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const REQUEST: &str = "UpdateInstance";
    let body: UpdateInstanceBody = parse_json(&body)?;
    let mask = body
        .field_mask
        .filter(|mask| !mask_paths(mask).is_empty())
        .ok_or_else(|| bad_field(REQUEST, "field_mask", "The field mask must be specified."))?;
    let requested = body
        .instance
        .ok_or_else(|| bad_field(REQUEST, "instance", "the instance is required"))?;
    let expected_name = format!("projects/{project}/instances/{instance_id}");
    match &requested.name {
        Some(name) if *name == expected_name => {}
        other => {
            return Err(bad_field(
                REQUEST,
                "instance.name",
                format!(
                    "Expected {expected_name}. Got: {}",
                    other.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    let change = InstanceChange::from_request(&mask, requested)?;

    let mut world = server.world();
    let index = find_instance(&world, &project, &instance_id)?;
    let current = &world.spanner.instances[index];
    if let Some(operation) = current.operation.as_deref()
        && running(&world, Some(operation))
    {
        return Err(instance_busy(&current.name(), operation));
    }
    let (id, name) = (current.id, current.name());
    let mut desired = current.clone();
    change.clone().apply(&mut desired, world.wall_now);
    let operation_name = format!("{name}/operations/{}", generated_operation_id(&mut world));
    let metadata = json!({
        "@type": format!("{INSTANCE_API}.UpdateInstanceMetadata"),
        "instance": desired.to_json(),
        "startTime": rfc3339(world.wall_now),
        "expectedFulfillmentPeriod": "FULFILLMENT_PERIOD_NORMAL",
    });
    world.spanner.instances[index].operation = Some(operation_name.clone());
    // Reads show the old values until the operation is done, as Spanner's do.
    let operation = world.start_operation(NewOperation {
        name: operation_name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let instance = world
                .spanner
                .instance_mut(id)
                .ok_or_else(|| instance_not_found(&name))?;
            change.apply(instance, now);
            Ok(instance.to_response())
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

async fn delete_instance(
    State(server): State<Shared>,
    Path((project, instance_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let index = find_instance(&world, &project, &instance_id)?;
    let instance = &world.spanner.instances[index];
    if instance
        .databases
        .iter()
        .any(|database| database.enable_drop_protection)
    {
        return Err(ApiError::failed_precondition(format!(
            "Cannot delete instance {} because it contains databases with drop protection enabled. Please disable drop protection for all databases in the instance before deleting it.",
            instance.name()
        )));
    }
    // Its databases go with it; an operation still running on it fails when due.
    world.spanner.instances.remove(index);
    Ok(Json(json!({})))
}

async fn get_instance_operation(
    State(server): State<Shared>,
    Path((project, instance_id, operation)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let project = spanner_project(&world, &project)?;
    let name = format!(
        "projects/{}/instances/{instance_id}/operations/{operation}",
        project.id
    );
    world
        .operations
        .get(&name)
        .map(Json)
        .ok_or_else(|| operation_not_found(&name))
}

fn operation_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Operation not found: {name}"))
}

// Databases.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateDatabaseBody {
    create_statement: Option<String>,
    extra_statements: Option<Vec<String>>,
    database_dialect: Option<String>,
    encryption_config: Option<Value>,
    proto_descriptors: Option<String>,
}

/// Reads ``CREATE DATABASE `id` `` (GoogleSQL) or `CREATE DATABASE "id"` (PostgreSQL)
/// and returns the id.
fn parse_create_database(statement: &str, dialect: &str) -> Result<String, ApiError> {
    let tokens = tokens(statement);
    let [create, database, quoted] = tokens.as_slice() else {
        return Err(ddl_syntax_error(
            statement,
            "expected CREATE DATABASE and a database id",
        ));
    };
    if !create.eq_ignore_ascii_case("CREATE") || !database.eq_ignore_ascii_case("DATABASE") {
        return Err(ddl_syntax_error(
            statement,
            "expected CREATE DATABASE and a database id",
        ));
    }
    let quote = if dialect == "POSTGRESQL" { '"' } else { '`' };
    let (id, was_quoted) = match quoted
        .strip_prefix(quote)
        .and_then(|rest| rest.strip_suffix(quote))
    {
        Some(id) => (id, true),
        None => (quoted.as_str(), false),
    };
    if !is_database_id(id) {
        return Err(ApiError::invalid_argument(format!(
            "Invalid database name: {id}. The database ID must start with a lowercase letter, be 2-30 characters long, contain only lowercase letters, numbers, underscores or hyphens, and end with a letter or a number."
        )));
    }
    if id.contains('-') && !was_quoted {
        return Err(ddl_syntax_error(
            statement,
            &format!("a database id with hyphens must be enclosed in {quote}"),
        ));
    }
    Ok(id.to_owned())
}

async fn create_database(
    State(server): State<Shared>,
    Path((project, instance_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const REQUEST: &str = "CreateDatabase";
    let body: CreateDatabaseBody = parse_json(&body)?;
    let dialect = match body.database_dialect.as_deref() {
        None | Some("DATABASE_DIALECT_UNSPECIFIED" | "GOOGLE_STANDARD_SQL") => {
            "GOOGLE_STANDARD_SQL"
        }
        Some("POSTGRESQL") => "POSTGRESQL",
        Some(other) => {
            return Err(bad_field(
                REQUEST,
                "database_dialect",
                format!("'{other}' is not GOOGLE_STANDARD_SQL or POSTGRESQL"),
            ));
        }
    };
    if body.encryption_config.is_some() || body.proto_descriptors.is_some() {
        return Err(bad_field(
            REQUEST,
            "encryption_config",
            "fake-gcp supports neither customer-managed encryption nor proto bundles",
        ));
    }
    let create_statement = body
        .create_statement
        .filter(|statement| !statement.trim().is_empty())
        .ok_or_else(|| bad_field(REQUEST, "create_statement", "the statement is required"))?;
    let database_id = parse_create_database(&create_statement, dialect)?;
    let extra_statements = body.extra_statements.unwrap_or_default();
    for statement in &extra_statements {
        DdlStatement::parse(statement)?;
    }

    let mut world = server.world();
    let index = find_instance(&world, &project, &instance_id)?;
    let instance = &world.spanner.instances[index];
    let name = instance.database_name(&database_id);
    if instance
        .databases
        .iter()
        .any(|database| database.database_id == database_id)
    {
        return Err(ApiError::already_exists(format!(
            "Database already exists: {name}"
        )));
    }
    if !instance.ready {
        return Err(ApiError::failed_precondition(format!(
            "Instance {} is not ready: databases can be created once it is.",
            instance.name()
        )));
    }
    let id = world.spanner.next_id();
    let create_time = world.wall_now;
    world.spanner.instances[index].databases.push(Database {
        id,
        database_id,
        dialect,
        ready: false,
        create_time,
        statements: Vec::new(),
        version_retention_period: DEFAULT_RETENTION.to_owned(),
        enable_drop_protection: false,
        update_operation: None,
        ddl_operation_ids: Vec::new(),
    });
    let operation_name = format!(
        "{name}/operations/_auto_op_{}",
        generated_operation_id(&mut world)
    );
    let metadata = json!({
        "@type": format!("{DATABASE_API}.CreateDatabaseMetadata"),
        "database": name,
    });
    let operation = world.start_operation(NewOperation {
        name: operation_name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let (instance_name, database) = world
                .spanner
                .database_mut(id)
                .ok_or_else(|| database_not_found(&name))?;
            // The extra statements run atomically with the creation: if one fails,
            // the database is not created.
            let mut created = database.clone();
            let applied = extra_statements
                .iter()
                .try_for_each(|statement| apply_ddl(&mut created, statement));
            if let Err(error) = applied {
                remove_database(world, id);
                return Err(error);
            }
            created.ready = true;
            *database = created;
            Ok(database.to_response(&instance_name, now))
        }),
        rollback: Some(Box::new(move |world| remove_database(world, id))),
    });
    Ok(Json(operation))
}

fn remove_database(world: &mut World, id: u64) {
    for instance in &mut world.spanner.instances {
        instance.databases.retain(|database| database.id != id);
    }
}

async fn list_databases(
    State(server): State<Shared>,
    Path((project, instance_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = page_size(&query, 1000)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let index = find_instance(&world, &project, &instance_id)?;
    let instance = &world.spanner.instances[index];
    let databases = instance
        .databases
        .iter()
        .map(|database| {
            let reconciling = running(&world, database.update_operation.as_deref());
            database.to_json(&instance.name(), reconciling, world.wall_now)
        })
        .collect();
    Ok(Json(page(databases, "databases", offset, page_size)))
}

async fn get_database(
    State(server): State<Shared>,
    Path((project, instance_id, database_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let (index, position) = find_database(&world, &project, &instance_id, &database_id)?;
    let instance = &world.spanner.instances[index];
    let database = &instance.databases[position];
    let reconciling = running(&world, database.update_operation.as_deref());
    Ok(Json(database.to_json(
        &instance.name(),
        reconciling,
        world.wall_now,
    )))
}

/// A `Database` as an `UpdateDatabase` request carries it; output-only fields a
/// client sends back are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatabaseBody {
    name: Option<String>,
    enable_drop_protection: Option<bool>,
}

/// `PATCH …/databases/D?updateMask=enableDropProtection`, the one updatable field.
async fn update_database(
    State(server): State<Shared>,
    Path((project, instance_id, database_id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const REQUEST: &str = "UpdateDatabase";
    let body: DatabaseBody = parse_json(&body)?;
    let mask = query
        .get("updateMask")
        .filter(|mask| !mask_paths(mask).is_empty())
        .ok_or_else(|| bad_field(REQUEST, "update_mask", "The update mask must be specified."))?;
    for path in mask_paths(mask) {
        if !matches!(path, "enableDropProtection" | "enable_drop_protection") {
            return Err(bad_field(
                REQUEST,
                "update_mask",
                format!("'{path}' cannot be updated; only enable_drop_protection can"),
            ));
        }
    }
    let expected_name =
        format!("projects/{project}/instances/{instance_id}/databases/{database_id}");
    if let Some(name) = &body.name
        && *name != expected_name
    {
        return Err(bad_field(
            REQUEST,
            "database.name",
            format!("Expected {expected_name}. Got: {name}"),
        ));
    }
    let enable_drop_protection = body.enable_drop_protection.unwrap_or(false);

    let mut world = server.world();
    let (index, position) = find_database(&world, &project, &instance_id, &database_id)?;
    let instance = &world.spanner.instances[index];
    let database = &instance.databases[position];
    let name = instance.database_name(&database.database_id);
    if running(&world, database.update_operation.as_deref()) {
        return Err(ApiError::failed_precondition(format!(
            "Database {name} has an UpdateDatabase operation in progress; retry once it is done."
        )));
    }
    let id = database.id;
    let operation_name = format!(
        "{name}/operations/_auto_op_{}",
        generated_operation_id(&mut world)
    );
    let metadata = json!({
        "@type": format!("{DATABASE_API}.UpdateDatabaseMetadata"),
        "request": {
            "database": {"name": name, "enableDropProtection": enable_drop_protection},
            "updateMask": mask,
        },
        "progress": {"progressPercent": 0, "startTime": rfc3339(world.wall_now)},
    });
    world.spanner.instances[index].databases[position].update_operation =
        Some(operation_name.clone());
    let operation = world.start_operation(NewOperation {
        name: operation_name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let (instance_name, database) = world
                .spanner
                .database_mut(id)
                .ok_or_else(|| database_not_found(&name))?;
            database.enable_drop_protection = enable_drop_protection;
            Ok(database.to_response(&instance_name, now))
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

async fn drop_database(
    State(server): State<Shared>,
    Path((project, instance_id, database_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let (index, position) = find_database(&world, &project, &instance_id, &database_id)?;
    let instance = &world.spanner.instances[index];
    if instance.databases[position].enable_drop_protection {
        return Err(ApiError::failed_precondition(format!(
            "Cannot drop database {} because the `enable_drop_protection` setting is currently enabled for it. Please disable the setting and try again.",
            instance.database_name(&database_id)
        )));
    }
    world.spanner.instances[index].databases.remove(position);
    Ok(Json(json!({})))
}

async fn get_database_ddl(
    State(server): State<Shared>,
    Path((project, instance_id, database_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let (index, position) = find_database(&world, &project, &instance_id, &database_id)?;
    let database = &world.spanner.instances[index].databases[position];
    let mut json = json!({});
    if !database.statements.is_empty() {
        json["statements"] = json!(database.statements);
    }
    Ok(Json(json))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateDdlBody {
    statements: Option<Vec<String>>,
    operation_id: Option<String>,
    proto_descriptors: Option<String>,
}

/// Checks a client-chosen operation id: `[a-z][a-z0-9_]*`.
fn is_operation_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

async fn update_database_ddl(
    State(server): State<Shared>,
    Path((project, instance_id, database_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    const REQUEST: &str = "UpdateDatabaseDdl";
    let body: UpdateDdlBody = parse_json(&body)?;
    if body.proto_descriptors.is_some() {
        return Err(bad_field(
            REQUEST,
            "proto_descriptors",
            "fake-gcp does not support proto bundles",
        ));
    }
    let statements = body
        .statements
        .filter(|statements| !statements.is_empty())
        .ok_or_else(|| bad_field(REQUEST, "statements", "at least one statement is required"))?;
    for statement in &statements {
        DdlStatement::parse(statement)?;
    }
    let operation_id = body.operation_id.unwrap_or_default();
    if !operation_id.is_empty() && !is_operation_id(&operation_id) {
        return Err(bad_field(
            REQUEST,
            "operation_id",
            format!("'{operation_id}' must match [a-z][a-z0-9_]*"),
        ));
    }

    let mut world = server.world();
    let (index, position) = find_database(&world, &project, &instance_id, &database_id)?;
    let instance = &world.spanner.instances[index];
    let database = &instance.databases[position];
    let name = instance.database_name(&database.database_id);
    let id = database.id;
    if !database.ready {
        return Err(ApiError::failed_precondition(format!(
            "Database {name} is still being created; its schema can be updated once it is ready."
        )));
    }
    let operation_id = if operation_id.is_empty() {
        format!("_auto_op_{}", generated_operation_id(&mut world))
    } else {
        operation_id
    };
    let operation_name = format!("{name}/operations/{operation_id}");
    let database = &mut world.spanner.instances[index].databases[position];
    if database.ddl_operation_ids.contains(&operation_id) {
        return Err(ApiError::already_exists(format!(
            "Operation already exists: {operation_name}"
        )));
    }
    database.ddl_operation_ids.push(operation_id);
    let metadata = json!({
        "@type": format!("{DATABASE_API}.UpdateDatabaseDdlMetadata"),
        "database": name,
        "statements": statements,
    });
    let operation = world.start_operation(NewOperation {
        name: operation_name,
        metadata,
        effect: Box::new(move |world| {
            let (_, database) = world
                .spanner
                .database_mut(id)
                .ok_or_else(|| database_not_found(&name))?;
            // Statements commit one by one: those before a failing one stay applied.
            for statement in &statements {
                apply_ddl(database, statement)?;
            }
            Ok(json!({"@type": "type.googleapis.com/google.protobuf.Empty", "value": {}}))
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

async fn get_database_operation(
    State(server): State<Shared>,
    Path((project, instance_id, database_id, operation)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let project = spanner_project(&world, &project)?;
    let name = format!(
        "projects/{}/instances/{instance_id}/databases/{database_id}/operations/{operation}",
        project.id
    );
    world
        .operations
        .get(&name)
        .map(Json)
        .ok_or_else(|| operation_not_found(&name))
}

// DDL: just enough of Spanner's grammar to follow the schema's named objects.

/// Splits a statement into words; parentheses, commas and semicolons separate too.
fn tokens(statement: &str) -> Vec<String> {
    statement
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';'))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words that name a kind of schema object after CREATE, ALTER or DROP.
const KIND_WORDS: &[&str] = &[
    "TABLE",
    "INDEX",
    "SEARCH",
    "VECTOR",
    "VIEW",
    "CHANGE",
    "STREAM",
    "SEQUENCE",
    "ROLE",
    "MODEL",
    "SCHEMA",
    "PROPERTY",
    "GRAPH",
    "PROTO",
    "BUNDLE",
    "LOCALITY",
    "GROUP",
    "PLACEMENT",
    "DATABASE",
];

/// A named schema object: its kind (`TABLE`, `INDEX`, `CHANGE STREAM`, …) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SchemaObject {
    kind: String,
    /// As written, quotes removed.
    name: String,
}

impl SchemaObject {
    /// Reports whether two names denote the same object; Spanner's names are
    /// case-insensitive.
    fn same_as(&self, other: &SchemaObject) -> bool {
        self.kind == other.kind && self.name.eq_ignore_ascii_case(&other.name)
    }

    /// Returns the kind as Spanner's messages spell it, e.g. `Change stream`.
    fn kind_label(&self) -> String {
        let lower = self.kind.to_lowercase();
        let mut chars = lower.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
}

/// What a DDL statement does to the schema's named objects.
#[derive(Debug, PartialEq, Eq)]
enum DdlStatement {
    Create {
        object: SchemaObject,
        or_replace: bool,
        if_not_exists: bool,
    },
    Alter(SchemaObject),
    Drop {
        object: SchemaObject,
        if_exists: bool,
    },
    /// `ALTER DATABASE name SET OPTIONS (…)`.
    AlterDatabase {
        name: String,
    },
    /// `GRANT`, `REVOKE`, `ANALYZE`, `RENAME`: kept, not followed.
    Other,
}

fn ddl_syntax_error(statement: &str, detail: &str) -> ApiError {
    ApiError::invalid_argument(format!(
        "Error parsing Spanner DDL statement: {statement} : Syntax error: {detail}"
    ))
}

fn unquote(name: &str) -> &str {
    ['`', '"']
        .iter()
        .find_map(|quote| {
            name.strip_prefix(*quote)
                .and_then(|rest| rest.strip_suffix(*quote))
        })
        .unwrap_or(name)
}

impl DdlStatement {
    /// Parses the head of a statement; the rest is not checked.
    fn parse(statement: &str) -> Result<DdlStatement, ApiError> {
        let words = tokens(statement);
        let upper: Vec<String> = words.iter().map(|word| word.to_ascii_uppercase()).collect();
        let Some(verb) = upper.first() else {
            return Err(ddl_syntax_error(statement, "the statement is empty"));
        };
        let mut at = 1;
        let skip = |expected: &[&str], at: &mut usize| -> bool {
            let matches = expected
                .iter()
                .enumerate()
                .all(|(offset, word)| upper.get(*at + offset).is_some_and(|w| w == word));
            if matches {
                *at += expected.len();
            }
            matches
        };
        match verb.as_str() {
            "CREATE" | "ALTER" | "DROP" => {}
            "GRANT" | "REVOKE" | "ANALYZE" | "RENAME" => return Ok(DdlStatement::Other),
            other => {
                return Err(ddl_syntax_error(
                    statement,
                    &format!("Encountered '{other}' while parsing: ddl_statement"),
                ));
            }
        }
        let or_replace = verb == "CREATE" && skip(&["OR", "REPLACE"], &mut at);
        while skip(&["UNIQUE"], &mut at) || skip(&["NULL_FILTERED"], &mut at) {}
        let mut kind = Vec::new();
        while let Some(word) = upper
            .get(at)
            .filter(|word| KIND_WORDS.contains(&word.as_str()))
        {
            // Search and vector indexes share the indexes' names.
            if !matches!(word.as_str(), "SEARCH" | "VECTOR") {
                kind.push(word.as_str());
            }
            at += 1;
        }
        if kind.is_empty() {
            return Err(ddl_syntax_error(
                statement,
                &format!("expected the kind of object after {verb}"),
            ));
        }
        let kind = kind.join(" ");
        let if_not_exists = skip(&["IF", "NOT", "EXISTS"], &mut at);
        let if_exists = skip(&["IF", "EXISTS"], &mut at);
        // A proto bundle has no name: the database holds at most one.
        let name = if kind == "PROTO BUNDLE" {
            String::new()
        } else {
            let name = words
                .get(at)
                .ok_or_else(|| ddl_syntax_error(statement, &format!("expected a {kind} name")))?;
            unquote(name).to_owned()
        };
        let object = SchemaObject { kind, name };
        match verb.as_str() {
            "CREATE" if object.kind == "DATABASE" => Err(ddl_syntax_error(
                statement,
                "CREATE DATABASE is not a schema update; create databases with CreateDatabase",
            )),
            "CREATE" => Ok(DdlStatement::Create {
                object,
                or_replace,
                if_not_exists,
            }),
            "ALTER" if object.kind == "DATABASE" => {
                Ok(DdlStatement::AlterDatabase { name: object.name })
            }
            "ALTER" => Ok(DdlStatement::Alter(object)),
            _ => Ok(DdlStatement::Drop { object, if_exists }),
        }
    }
}

/// Returns the object a statement of the schema creates, if any.
fn created_object(statement: &str) -> Option<SchemaObject> {
    match DdlStatement::parse(statement) {
        Ok(DdlStatement::Create { object, .. }) => Some(object),
        _ => None,
    }
}

/// Returns the object a statement of the schema alters, if any.
fn altered_object(statement: &str) -> Option<SchemaObject> {
    match DdlStatement::parse(statement) {
        Ok(DdlStatement::Alter(object)) => Some(object),
        _ => None,
    }
}

/// Applies one statement to a database's schema, as Spanner does when it commits.
fn apply_ddl(database: &mut Database, statement: &str) -> Result<(), ApiError> {
    let position = |database: &Database, object: &SchemaObject| {
        database.statements.iter().position(|existing| {
            created_object(existing).is_some_and(|created| created.same_as(object))
        })
    };
    match DdlStatement::parse(statement)? {
        DdlStatement::Create {
            object,
            or_replace,
            if_not_exists,
        } => match position(database, &object) {
            Some(index) if or_replace => database.statements[index] = statement.to_owned(),
            Some(_) if if_not_exists => {}
            Some(_) => {
                return Err(ApiError::failed_precondition(format!(
                    "Duplicate name in schema: {}.",
                    object.name
                )));
            }
            None => database.statements.push(statement.to_owned()),
        },
        DdlStatement::Alter(object) => {
            if position(database, &object).is_none() {
                return Err(ApiError::not_found(format!(
                    "{} not found: {}",
                    object.kind_label(),
                    object.name
                )));
            }
            database.statements.push(statement.to_owned());
        }
        DdlStatement::Drop { object, if_exists } => {
            if position(database, &object).is_none() {
                if if_exists {
                    return Ok(());
                }
                return Err(ApiError::not_found(format!(
                    "{} not found: {}",
                    object.kind_label(),
                    object.name
                )));
            }
            database.statements.retain(|existing| {
                let about_it =
                    |found: Option<SchemaObject>| found.is_some_and(|found| found.same_as(&object));
                !about_it(created_object(existing)) && !about_it(altered_object(existing))
            });
        }
        DdlStatement::AlterDatabase { name } => {
            if name != database.database_id {
                return Err(ApiError::invalid_argument(format!(
                    "ALTER DATABASE names database {name}, but the statement was sent to database {}.",
                    database.database_id
                )));
            }
            if let Some(period) = option_value(statement, "version_retention_period") {
                database.version_retention_period = match period {
                    None => DEFAULT_RETENTION.to_owned(),
                    Some(period) => check_retention(&period)?,
                };
            }
            database.statements.push(statement.to_owned());
        }
        DdlStatement::Other => {
            if !statement
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("ANALYZE")
            {
                database.statements.push(statement.to_owned());
            }
        }
    }
    Ok(())
}

/// Finds `option = 'value'` (or `option = null`) in a `SET OPTIONS` list: `None` when
/// the option is not set, `Some(None)` for `null`.
fn option_value(statement: &str, option: &str) -> Option<Option<String>> {
    let lower = statement.to_ascii_lowercase();
    let start = lower.find(option)? + option.len();
    let rest = statement.get(start..)?.trim_start().strip_prefix('=')?;
    let rest = rest.trim_start();
    if rest.to_ascii_lowercase().starts_with("null") {
        return Some(None);
    }
    let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let value = rest.get(1..)?.split(quote).next()?;
    Some(Some(value.to_owned()))
}

/// Reads a retention period such as `3d`, `36h`, `90m` or `3600s`.
fn retention_duration(period: &str) -> Option<Duration> {
    let unit = period.chars().last()?;
    let amount: u64 = period.get(..period.len() - unit.len_utf8())?.parse().ok()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    amount.checked_mul(seconds).map(Duration::from_secs)
}

/// Checks that a retention period lies between one hour and seven days.
fn check_retention(period: &str) -> Result<String, ApiError> {
    match retention_duration(period) {
        Some(duration)
            if (Duration::from_secs(3600)..=Duration::from_secs(7 * 86_400))
                .contains(&duration) =>
        {
            Ok(period.to_owned())
        }
        _ => Err(ApiError::invalid_argument(format!(
            "Invalid version_retention_period: {period}. The period must be between 1h and 7d."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Code;

    fn object(kind: &str, name: &str) -> SchemaObject {
        SchemaObject {
            kind: kind.to_owned(),
            name: name.to_owned(),
        }
    }

    fn check_parse(statement: &str, expected: DdlStatement) {
        assert_eq!(DdlStatement::parse(statement).unwrap(), expected);
    }

    fn database(statements: &[&str]) -> Database {
        let mut database = Database {
            id: 1,
            database_id: "payments".to_owned(),
            dialect: "GOOGLE_STANDARD_SQL",
            ready: true,
            create_time: SystemTime::UNIX_EPOCH,
            statements: Vec::new(),
            version_retention_period: DEFAULT_RETENTION.to_owned(),
            enable_drop_protection: false,
            update_operation: None,
            ddl_operation_ids: Vec::new(),
        };
        for statement in statements {
            apply_ddl(&mut database, statement).unwrap();
        }
        database
    }

    #[test]
    fn create_table() {
        check_parse(
            "CREATE TABLE Payments (Id STRING(36) NOT NULL) PRIMARY KEY (Id)",
            DdlStatement::Create {
                object: object("TABLE", "Payments"),
                or_replace: false,
                if_not_exists: false,
            },
        );
    }

    #[test]
    fn create_unique_index_if_not_exists() {
        check_parse(
            "create unique index if not exists `ByAmount` on Payments(Amount)",
            DdlStatement::Create {
                object: object("INDEX", "ByAmount"),
                or_replace: false,
                if_not_exists: true,
            },
        );
    }

    #[test]
    fn search_indexes_are_indexes() {
        check_parse(
            "DROP SEARCH INDEX Words",
            DdlStatement::Drop {
                object: object("INDEX", "Words"),
                if_exists: false,
            },
        );
    }

    #[test]
    fn change_stream_and_database() {
        check_parse(
            "ALTER CHANGE STREAM Everything SET FOR ALL",
            DdlStatement::Alter(object("CHANGE STREAM", "Everything")),
        );
        check_parse(
            "ALTER DATABASE `payments` SET OPTIONS (version_retention_period = '3d')",
            DdlStatement::AlterDatabase {
                name: "payments".to_owned(),
            },
        );
    }

    #[test]
    fn unknown_verb_is_a_syntax_error() {
        let error = DdlStatement::parse("CREAT TABLE T (Id INT64) PRIMARY KEY (Id)").unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument);
        assert!(error.message.contains("CREAT"), "{}", error.message);
    }

    #[test]
    fn duplicate_names_fail_whatever_their_case() {
        let mut database = database(&["CREATE TABLE Users (Id INT64) PRIMARY KEY (Id)"]);
        let error = apply_ddl(
            &mut database,
            "CREATE TABLE users (Id INT64) PRIMARY KEY (Id)",
        )
        .unwrap_err();
        assert_eq!(error.message, "Duplicate name in schema: users.");
        assert_eq!(error.code, Code::FailedPrecondition);
    }

    #[test]
    fn drop_removes_the_object_and_its_alterations() {
        let database = database(&[
            "CREATE TABLE Users (Id INT64) PRIMARY KEY (Id)",
            "CREATE INDEX UsersById ON Users(Id)",
            "ALTER TABLE Users ADD COLUMN Name STRING(MAX)",
            "DROP TABLE Users",
        ]);
        assert_eq!(database.statements, ["CREATE INDEX UsersById ON Users(Id)"]);
    }

    #[test]
    fn retention_comes_from_alter_database() {
        let database =
            database(&["ALTER DATABASE `payments` SET OPTIONS (version_retention_period = '3d')"]);
        assert_eq!(database.version_retention_period, "3d");
        let mut database = database;
        let error = apply_ddl(
            &mut database,
            "ALTER DATABASE `payments` SET OPTIONS (version_retention_period = '8d')",
        )
        .unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument);
    }

    #[test]
    fn create_database_statements() {
        assert_eq!(
            parse_create_database("CREATE DATABASE `pay-db`", "GOOGLE_STANDARD_SQL").unwrap(),
            "pay-db"
        );
        assert_eq!(
            parse_create_database("CREATE DATABASE \"pay\"", "POSTGRESQL").unwrap(),
            "pay"
        );
        assert!(parse_create_database("CREATE DATABASE pay-db", "GOOGLE_STANDARD_SQL").is_err());
        assert!(parse_create_database("CREATE DATABASE `Pay`", "GOOGLE_STANDARD_SQL").is_err());
        assert!(parse_create_database("CREATE TABLE `pay`", "GOOGLE_STANDARD_SQL").is_err());
    }

    #[test]
    fn processing_units() {
        assert!(check_processing_units("CreateInstance", 100).is_ok());
        assert!(check_processing_units("CreateInstance", 2000).is_ok());
        assert!(check_processing_units("CreateInstance", 150).is_err());
        assert!(check_processing_units("CreateInstance", 1500).is_err());
    }
}
