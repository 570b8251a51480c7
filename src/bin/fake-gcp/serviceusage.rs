//! Service Usage v1: which services each project has enabled.
//!
//! Enabling and disabling are operations; enabling what is already enabled answers
//! Google's ready-made `operations/noop.DONE_OPERATION`. Enabling a service enables its
//! dependencies, some services need a billing link, and a just-enabled service stays
//! unusable for `--consistency-lag-ms`: calls that depend on it get 403
//! `SERVICE_DISABLED` and the `state:ENABLED` list leaves it out, as Google's
//! propagation delay does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crm::project_denied;
use crate::errors::ApiError;
use crate::operations::{NewOperation, already_done};
use crate::request::{page, page_offset, page_size, parse_json, split_verb};
use crate::world::{Shared, World};

const TYPE_PREFIX: &str = "type.googleapis.com/google.api.serviceusage.v1.";

/// Services that enable others with them (`container` needs `compute`).
const DEPENDENCIES: &[(&str, &[&str])] =
    &[("container.googleapis.com", &["compute.googleapis.com"])];

/// Services that refuse to be enabled on a project without a billing account.
const NEEDS_BILLING: &[&str] = &[
    "compute.googleapis.com",
    "container.googleapis.com",
    "dns.googleapis.com",
    "spanner.googleapis.com",
    "sqladmin.googleapis.com",
];

/// `batchEnable` takes at most this many service ids.
const BATCH_ENABLE_LIMIT: usize = 20;

/// `batchGet` takes at most this many names.
const BATCH_GET_LIMIT: usize = 30;

/// Returns the routes of `serviceusage.googleapis.com`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/v1/projects/{project}/services", get(list_services))
        .route(
            "/v1/projects/{project}/services:batchEnable",
            post(batch_enable),
        )
        .route("/v1/projects/{project}/services:batchGet", get(batch_get))
        .route(
            "/v1/projects/{project}/services/{service}",
            get(get_service).post(service_method),
        )
        .route("/v1/operations/{id}", get(get_operation))
}

struct ServiceRecord {
    enabled: bool,
    /// Before this instant a just-enabled service is not usable yet.
    usable_from: Instant,
}

/// The state of every service a project ever touched; the rest are `DISABLED`.
#[derive(Default)]
pub struct Services {
    by_project: HashMap<u64, BTreeMap<String, ServiceRecord>>,
    /// Services with an enable or disable operation still running.
    in_flight: HashSet<(u64, String)>,
}

impl Services {
    fn is_enabled(&self, project_number: u64, service: &str) -> bool {
        self.record(project_number, service)
            .is_some_and(|record| record.enabled)
    }

    fn record(&self, project_number: u64, service: &str) -> Option<&ServiceRecord> {
        self.by_project.get(&project_number)?.get(service)
    }

    fn set(&mut self, project_number: u64, service: &str, enabled: bool, usable_from: Instant) {
        self.by_project.entry(project_number).or_default().insert(
            service.to_owned(),
            ServiceRecord {
                enabled,
                usable_from,
            },
        );
    }
}

/// Enables a service of a seeded project, usable at once.
pub fn seed_service(world: &mut World, project_number: u64, service: &str) -> Result<(), String> {
    if !is_service_name(service) {
        return Err(format!(
            "seed service '{service}' is not a service name like iam.googleapis.com"
        ));
    }
    let now = world.now;
    world.services.set(project_number, service, true, now);
    Ok(())
}

impl World {
    /// Fails with 403 `SERVICE_DISABLED` while `service` is still propagating after
    /// being enabled on the project; dependent APIs call this first.
    ///
    /// A service that was never enabled is not refused: the fake does not know which
    /// project a real caller's quota would be charged to.
    pub fn require_service(&self, project_number: u64, service: &str) -> Result<(), ApiError> {
        match self.services.record(project_number, service) {
            Some(record) if record.enabled && self.now < record.usable_from => {
                Err(service_disabled(project_number, service))
            }
            _ => Ok(()),
        }
    }

    /// Fails with 403 `SERVICE_DISABLED` unless `service` is enabled on the project and
    /// done propagating; APIs whose fake checks enablement strictly call this.
    pub fn require_enabled_service(
        &self,
        project_number: u64,
        service: &str,
    ) -> Result<(), ApiError> {
        match self.services.record(project_number, service) {
            Some(record) if record.enabled && self.now >= record.usable_from => Ok(()),
            _ => Err(service_disabled(project_number, service)),
        }
    }
}

fn service_disabled(project_number: u64, service: &str) -> ApiError {
    ApiError::permission_denied(format!(
        "{service} API has not been used in project {project_number} before or it is disabled. \
         Enable it by visiting https://console.developers.google.com/apis/api/{service}/overview?project={project_number} then retry. \
         If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
    ))
    .with_reason("accessNotConfigured")
    .with_domain("usageLimits")
    .with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {"service": service, "consumer": format!("projects/{project_number}")},
    }))
}

fn is_service_name(service: &str) -> bool {
    service
        .strip_suffix(".googleapis.com")
        .is_some_and(|prefix| {
            !prefix.is_empty()
                && prefix.starts_with(|c: char| c.is_ascii_lowercase())
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        })
}

fn check_service_names<'a>(services: impl IntoIterator<Item = &'a str>) -> Result<(), ApiError> {
    let unknown: Vec<&str> = services
        .into_iter()
        .filter(|service| !is_service_name(service))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ApiError::permission_denied(format!(
        "Not found or permission denied for service(s): {}.",
        unknown.join(", ")
    ))
    .with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED",
        "domain": "serviceusage.googleapis.com",
    })))
}

fn service_json(project_number: u64, service: &str, enabled: bool) -> Value {
    json!({
        "name": format!("projects/{project_number}/services/{service}"),
        "parent": format!("projects/{project_number}"),
        "config": {"name": service},
        "state": if enabled { "ENABLED" } else { "DISABLED" },
    })
}

fn active_project_number(world: &World, project: &str) -> Result<u64, ApiError> {
    world
        .projects
        .find_active(project)
        .map(|found| found.number)
        .ok_or_else(|| project_denied(project))
}

fn operation_name(project_number: u64) -> String {
    format!(
        "operations/acf.p2-{project_number}-{}",
        uuid::Uuid::new_v4()
    )
}

fn in_progress(services: &[String]) -> ApiError {
    ApiError::failed_precondition(format!(
        "Another activation or deactivation is in progress for service(s): {}.",
        services.join(", ")
    ))
}

/// Returns `requested` followed by the dependencies they pull in, without repeats.
fn with_dependencies(requested: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let mut queue: Vec<String> = requested.to_vec();
    while let Some(service) = queue.pop() {
        if all.contains(&service) {
            continue;
        }
        if let Some((_, dependencies)) = DEPENDENCIES.iter().find(|(name, _)| *name == service) {
            queue.extend(
                dependencies
                    .iter()
                    .map(|dependency| (*dependency).to_owned()),
            );
        }
        all.push(service);
    }
    all
}

/// Which response an enable operation carries.
enum EnableKind {
    Single,
    Batch,
}

fn enable_response(
    world: &World,
    project_number: u64,
    requested: &[String],
    kind: &EnableKind,
) -> Value {
    let services: Vec<Value> = requested
        .iter()
        .map(|service| {
            service_json(
                project_number,
                service,
                world.services.is_enabled(project_number, service),
            )
        })
        .collect();
    match kind {
        EnableKind::Single => json!({
            "@type": format!("{TYPE_PREFIX}EnableServiceResponse"),
            "service": services.first().cloned().unwrap_or_default(),
        }),
        EnableKind::Batch => json!({
            "@type": format!("{TYPE_PREFIX}BatchEnableServicesResponse"),
            "services": services,
        }),
    }
}

fn start_enable(
    world: &mut World,
    project_number: u64,
    requested: Vec<String>,
    kind: EnableKind,
) -> Result<Value, ApiError> {
    check_service_names(requested.iter().map(String::as_str))?;
    let all = with_dependencies(&requested);
    let needing_billing: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|service| NEEDS_BILLING.contains(service))
        .collect();
    if !needing_billing.is_empty() && world.billing.account_of(project_number).is_none() {
        return Err(ApiError::failed_precondition(format!(
            "Billing account for project '{project_number}' is not found. Billing must be enabled for activation of service(s) '{}' to proceed.",
            needing_billing.join(",")
        ))
        .with_detail(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "UREQ_PROJECT_BILLING_NOT_FOUND",
            "domain": "serviceusage.googleapis.com",
        })));
    }
    let busy: Vec<String> = all
        .iter()
        .filter(|service| {
            world
                .services
                .in_flight
                .contains(&(project_number, (*service).clone()))
        })
        .cloned()
        .collect();
    if !busy.is_empty() {
        return Err(in_progress(&busy));
    }
    if all
        .iter()
        .all(|service| world.services.is_enabled(project_number, service))
    {
        let response = enable_response(world, project_number, &requested, &kind);
        return Ok(already_done("operations/noop.DONE_OPERATION", response));
    }
    for service in &all {
        world
            .services
            .in_flight
            .insert((project_number, service.clone()));
    }
    let resource_names: Vec<String> = requested
        .iter()
        .map(|service| format!("projects/{project_number}/services/{service}"))
        .collect();
    let in_flight = all.clone();
    Ok(world.start_operation(NewOperation {
        name: operation_name(project_number),
        metadata: json!({
            "@type": format!("{TYPE_PREFIX}OperationMetadata"),
            "resourceNames": resource_names,
        }),
        effect: Box::new(move |world| {
            let usable_from = world.now + world.settings.consistency_lag;
            for service in &all {
                world
                    .services
                    .in_flight
                    .remove(&(project_number, service.clone()));
                if !world.services.is_enabled(project_number, service) {
                    world
                        .services
                        .set(project_number, service, true, usable_from);
                }
            }
            Ok(enable_response(world, project_number, &requested, &kind))
        }),
        rollback: Some(Box::new(move |world| {
            for service in in_flight {
                world.services.in_flight.remove(&(project_number, service));
            }
        })),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DisableServiceRequest {
    #[serde(default)]
    disable_dependent_services: bool,
    check_if_service_has_usage: Option<String>,
}

fn start_disable(
    world: &mut World,
    project_number: u64,
    service: String,
    request: DisableServiceRequest,
) -> Result<Value, ApiError> {
    check_service_names([service.as_str()])?;
    if let Some(check) = request.check_if_service_has_usage.as_deref()
        && !matches!(
            check,
            "SKIP" | "CHECK" | "CHECK_IF_SERVICE_HAS_USAGE_UNSPECIFIED"
        )
    {
        return Err(ApiError::invalid_field(
            "checkIfServiceHasUsage",
            format!("'{check}' is not one of SKIP, CHECK"),
        ));
    }
    if !world.services.is_enabled(project_number, &service) {
        return Err(ApiError::failed_precondition(format!(
            "Service {service} is not enabled on project {project_number}."
        )));
    }
    let dependents: Vec<String> = DEPENDENCIES
        .iter()
        .filter(|(_, dependencies)| dependencies.contains(&service.as_str()))
        .map(|(dependent, _)| (*dependent).to_owned())
        .filter(|dependent| world.services.is_enabled(project_number, dependent))
        .collect();
    if !dependents.is_empty() && !request.disable_dependent_services {
        return Err(ApiError::failed_precondition(format!(
            "The service {service} is depended on by the following active service(s): {}; \
             Please specify disable_dependent_services=true if you want to proceed with disabling all services.",
            dependents.join(",")
        )));
    }
    let mut all = vec![service.clone()];
    all.extend(dependents);
    let busy: Vec<String> = all
        .iter()
        .filter(|name| {
            world
                .services
                .in_flight
                .contains(&(project_number, (*name).clone()))
        })
        .cloned()
        .collect();
    if !busy.is_empty() {
        return Err(in_progress(&busy));
    }
    for name in &all {
        world
            .services
            .in_flight
            .insert((project_number, name.clone()));
    }
    let in_flight = all.clone();
    Ok(world.start_operation(NewOperation {
        name: operation_name(project_number),
        metadata: json!({
            "@type": format!("{TYPE_PREFIX}OperationMetadata"),
            "resourceNames": [format!("projects/{project_number}/services/{service}")],
        }),
        effect: Box::new(move |world| {
            let now = world.now;
            for name in &all {
                world
                    .services
                    .in_flight
                    .remove(&(project_number, name.clone()));
                world.services.set(project_number, name, false, now);
            }
            Ok(json!({
                "@type": format!("{TYPE_PREFIX}DisableServiceResponse"),
                "service": service_json(project_number, &service, false),
            }))
        }),
        rollback: Some(Box::new(move |world| {
            for name in in_flight {
                world.services.in_flight.remove(&(project_number, name));
            }
        })),
    }))
}

async fn service_method(
    State(server): State<Shared>,
    Path((project, service)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (service, verb) = split_verb(&service);
    let mut world = server.world();
    let project_number = active_project_number(&world, &project)?;
    let operation = match verb {
        Some("enable") => start_enable(
            &mut world,
            project_number,
            vec![service.to_owned()],
            EnableKind::Single,
        )?,
        Some("disable") => start_disable(
            &mut world,
            project_number,
            service.to_owned(),
            parse_json(&body)?,
        )?,
        _ => return Err(ApiError::not_found("Method not found.")),
    };
    Ok(Json(operation))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchEnableRequest {
    #[serde(default)]
    service_ids: Vec<String>,
}

async fn batch_enable(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: BatchEnableRequest = parse_json(&body)?;
    if request.service_ids.is_empty() {
        return Err(ApiError::missing_field("serviceIds"));
    }
    if request.service_ids.len() > BATCH_ENABLE_LIMIT {
        return Err(ApiError::invalid_field(
            "serviceIds",
            format!(
                "{} services requested; at most {BATCH_ENABLE_LIMIT} can be enabled in one batch",
                request.service_ids.len()
            ),
        ));
    }
    let mut world = server.world();
    let project_number = active_project_number(&world, &project)?;
    let operation = start_enable(
        &mut world,
        project_number,
        request.service_ids,
        EnableKind::Batch,
    )?;
    Ok(Json(operation))
}

async fn get_service(
    State(server): State<Shared>,
    Path((project, service)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if service.contains(':') {
        return Err(ApiError::not_found("Method not found."));
    }
    check_service_names([service.as_str()])?;
    let world = server.world();
    let project_number = active_project_number(&world, &project)?;
    let enabled = world.services.is_enabled(project_number, &service);
    Ok(Json(service_json(project_number, &service, enabled)))
}

async fn batch_get(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let names: Vec<&str> = query
        .iter()
        .filter(|(key, _)| key == "names")
        .map(|(_, value)| value.as_str())
        .collect();
    if names.is_empty() {
        return Err(ApiError::missing_field("names"));
    }
    if names.len() > BATCH_GET_LIMIT {
        return Err(ApiError::invalid_field(
            "names",
            format!("at most {BATCH_GET_LIMIT} services can be read in one batch"),
        ));
    }
    let world = server.world();
    let project_number = active_project_number(&world, &project)?;
    let mut services = Vec::new();
    for name in names {
        let service = name
            .rsplit_once("/services/")
            .map(|(_, service)| service)
            .ok_or_else(|| {
                ApiError::invalid_field("names", format!("'{name}' is not projects/P/services/S"))
            })?;
        check_service_names([service])?;
        let enabled = world.services.is_enabled(project_number, service);
        services.push(service_json(project_number, service, enabled));
    }
    Ok(Json(json!({"services": services})))
}

async fn list_services(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let wanted = match query.get("filter").map(String::as_str) {
        None | Some("") => None,
        Some("state:ENABLED") => Some(true),
        Some("state:DISABLED") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "filter",
                format!("'{other}' is not state:ENABLED or state:DISABLED"),
            ));
        }
    };
    let page_size = page_size(&query, 200)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let project_number = active_project_number(&world, &project)?;
    let services: Vec<Value> = world
        .services
        .by_project
        .get(&project_number)
        .into_iter()
        .flatten()
        // A service still propagating is missing from the list, as on Google.
        .filter(|(_, record)| !(record.enabled && world.now < record.usable_from))
        .filter(|(_, record)| wanted.is_none_or(|enabled| record.enabled == enabled))
        .map(|(service, record)| service_json(project_number, service, record.enabled))
        .collect();
    Ok(Json(page(services, "services", offset, page_size)))
}

async fn get_operation(
    State(server): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = format!("operations/{id}");
    if name == "operations/noop.DONE_OPERATION" {
        return Ok(Json(json!({"name": name, "done": true})));
    }
    let world = server.world();
    world
        .operations
        .get(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Operation '{name}' not found.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_pulls_in_compute() {
        let all = with_dependencies(&["container.googleapis.com".to_owned()]);
        assert_eq!(all, ["container.googleapis.com", "compute.googleapis.com"]);
    }

    #[test]
    fn service_names() {
        assert!(is_service_name("iam.googleapis.com"));
        assert!(is_service_name("bigquery-json.googleapis.com"));
        assert!(!is_service_name("googleapis.com"));
        assert!(!is_service_name("iam"));
        assert!(!is_service_name("IAM.googleapis.com"));
    }
}
