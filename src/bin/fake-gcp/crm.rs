//! Cloud Resource Manager v3: projects, their operations and IAM policies, plus
//! read-only organizations and folders from the seed.
//!
//! Creates, updates, moves, deletes and undeletes are operations; the change lands
//! when the operation is done. A missing project answers 403, never 404, because that
//! is what Google does. Project ids are never freed, not even by deletion.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::operations::NewOperation;
use crate::policy::{GetIamPolicyRequest, PolicyTarget, SetIamPolicyRequest, set_iam_policy};
use crate::request::{
    etag, mask_paths, page, page_offset, page_size, parse_json, rfc3339, split_verb,
    validate_labels,
};
use crate::world::{SeedProject, Shared, World};

const PROJECT_TYPE: &str = "type.googleapis.com/google.cloud.resourcemanager.v3.Project";
const METADATA_TYPE_PREFIX: &str = "type.googleapis.com/google.cloud.resourcemanager.v3.";

/// Returns the routes of `cloudresourcemanager.googleapis.com`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/v3/projects", post(create_project).get(list_projects))
        .route(
            "/v3/projects/{name}",
            get(get_project)
                .patch(update_project)
                .delete(delete_project)
                .post(project_method),
        )
        .route("/v3/operations/{id}", get(get_operation))
        .route("/v3/organizations/{id}", get(get_organization))
        .route("/v3/folders/{id}", get(get_folder))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectState {
    /// The create operation is not done yet; nobody can see the project.
    Creating,
    Active,
    DeleteRequested,
}

impl ProjectState {
    fn name(self) -> &'static str {
        match self {
            ProjectState::Creating => "STATE_UNSPECIFIED",
            ProjectState::Active => "ACTIVE",
            ProjectState::DeleteRequested => "DELETE_REQUESTED",
        }
    }
}

pub struct Project {
    pub number: u64,
    pub project_id: String,
    pub display_name: String,
    pub parent: String,
    pub labels: BTreeMap<String, String>,
    pub state: ProjectState,
    create_time: SystemTime,
    update_time: SystemTime,
    delete_time: Option<SystemTime>,
    revision: u64,
}

impl Project {
    /// Renders the project as Google's JSON (empty fields omitted).
    pub fn to_json(&self) -> Value {
        let mut json = json!({
            "name": format!("projects/{}", self.number),
            "projectId": self.project_id,
            "state": self.state.name(),
            "createTime": rfc3339(self.create_time),
            "updateTime": rfc3339(self.update_time),
            "etag": etag(&format!("projects/{}", self.number), self.revision),
        });
        if !self.parent.is_empty() {
            json["parent"] = Value::from(self.parent.as_str());
        }
        if !self.display_name.is_empty() {
            json["displayName"] = Value::from(self.display_name.as_str());
        }
        if !self.labels.is_empty() {
            json["labels"] = json!(self.labels);
        }
        if let Some(delete_time) = self.delete_time {
            json["deleteTime"] = Value::from(rfc3339(delete_time));
        }
        json
    }

    /// Renders the project as an operation's `response`.
    fn to_response(&self) -> Value {
        let mut json = self.to_json();
        json["@type"] = Value::from(PROJECT_TYPE);
        json
    }

    fn touch(&mut self, now: SystemTime) {
        self.update_time = now;
        self.revision += 1;
    }
}

/// Every project, including those being created and those pending deletion.
#[derive(Default)]
pub struct Projects {
    projects: Vec<Project>,
    next_number: u64,
}

impl Projects {
    /// Finds a visible project (created, possibly pending deletion) by id or number.
    pub fn find(&self, id_or_number: &str) -> Option<&Project> {
        self.projects.iter().find(|project| {
            project.state != ProjectState::Creating
                && (project.project_id == id_or_number
                    || project.number.to_string() == id_or_number)
        })
    }

    /// Finds an `ACTIVE` project by id or number.
    pub fn find_active(&self, id_or_number: &str) -> Option<&Project> {
        self.find(id_or_number)
            .filter(|project| project.state == ProjectState::Active)
    }

    fn by_number_mut(&mut self, number: u64) -> Option<&mut Project> {
        self.projects
            .iter_mut()
            .find(|project| project.number == number)
    }

    /// Reports whether an id was ever used, by any project in any state.
    fn id_taken(&self, project_id: &str) -> bool {
        self.projects
            .iter()
            .any(|project| project.project_id == project_id)
    }

    fn insert(&mut self, project_id: String, parent: String, now: SystemTime) -> &mut Project {
        self.next_number += 1;
        // Twelve digits, like real project numbers.
        let number = 480_000_000_000 + self.next_number;
        self.projects.push(Project {
            number,
            project_id,
            display_name: String::new(),
            parent,
            labels: BTreeMap::new(),
            state: ProjectState::Creating,
            create_time: now,
            update_time: now,
            delete_time: None,
            revision: 1,
        });
        self.projects.last_mut().expect("a project was just pushed")
    }
}

/// The answer for a project that is missing or that the caller cannot see.
pub fn project_denied(id: &str) -> ApiError {
    ApiError::permission_denied(format!(
        "The caller does not have permission on project '{id}' (or it may not exist)."
    ))
}

/// Creates a seeded project, already `ACTIVE`; returns its number.
pub fn seed_project(world: &mut World, seed: &SeedProject) -> Result<u64, String> {
    check_project_id(&seed.project_id).map_err(|error| error.message)?;
    if world.projects.id_taken(&seed.project_id) {
        return Err(format!("seed project {} is listed twice", seed.project_id));
    }
    let parent = match &seed.parent {
        Some(parent) => parent.clone(),
        None => world
            .directory
            .organizations
            .first()
            .cloned()
            .unwrap_or_default(),
    };
    if !parent.is_empty() && !world.directory.has_parent(&parent) {
        return Err(format!(
            "seed project {}: parent {parent} is not among the seeded organizations and folders",
            seed.project_id
        ));
    }
    let now = world.wall_now;
    let project = world.projects.insert(seed.project_id.clone(), parent, now);
    project.state = ProjectState::Active;
    project.display_name = seed.display_name.clone().unwrap_or_default();
    let number = project.number;
    let creator = world.directory.creator.clone();
    world
        .policies
        .grant(&format!("projects/{number}"), "roles/owner", &creator);
    Ok(number)
}

fn check_project_id(project_id: &str) -> Result<(), ApiError> {
    if project_id.is_empty() {
        return Err(ApiError::missing_field("projectId"));
    }
    if !crate::request::is_resource_id(project_id, 6, 30) {
        return Err(ApiError::invalid_field(
            "projectId",
            format!(
                "'{project_id}' must be 6 to 30 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen"
            ),
        ));
    }
    if project_id.contains("google") {
        return Err(ApiError::invalid_field(
            "projectId",
            format!("'{project_id}' contains the restricted string 'google'"),
        ));
    }
    Ok(())
}

fn check_display_name(display_name: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-'\" !".contains(c);
    if !(4..=30).contains(&display_name.chars().count()) || !display_name.chars().all(allowed) {
        return Err(ApiError::invalid_field(
            "displayName",
            format!(
                "'{display_name}' must be 4 to 30 letters, digits, hyphens, quotes, spaces or exclamation points"
            ),
        ));
    }
    Ok(())
}

/// Checks that `parent` is a seeded organization or folder; otherwise the caller
/// lacks `permission` on it, as far as Google lets on.
fn check_parent(
    world: &World,
    field: &str,
    parent: &str,
    permission: &str,
) -> Result<(), ApiError> {
    let well_formed = ["organizations/", "folders/"].iter().any(|prefix| {
        parent
            .strip_prefix(prefix)
            .is_some_and(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
    });
    if !well_formed {
        return Err(ApiError::invalid_field(
            field,
            format!("'{parent}' must be organizations/NUMBER or folders/NUMBER"),
        ));
    }
    if !world.directory.has_parent(parent) {
        return Err(ApiError::permission_denied(format!(
            "Permission '{permission}' denied on parent resource '{parent}' (or it may not exist)."
        )));
    }
    Ok(())
}

fn metadata(kind: &str, world: &World) -> Value {
    json!({
        "@type": format!("{METADATA_TYPE_PREFIX}{kind}"),
        "createTime": rfc3339(world.wall_now),
    })
}

fn operation_name(world: &mut World) -> String {
    format!(
        "operations/cp.{}",
        7_300_000_000_000_000_000 + world.operations.next_seq()
    )
}

/// Returns the error an operation reports when its project vanished meanwhile.
fn vanished(number: u64) -> ApiError {
    ApiError::failed_precondition(format!("Project projects/{number} is not in state ACTIVE."))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectBody {
    project_id: Option<String>,
    display_name: Option<String>,
    parent: Option<String>,
    labels: Option<BTreeMap<String, String>>,
}

async fn create_project(
    State(server): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ProjectBody = parse_json(&body)?;
    let project_id = body.project_id.unwrap_or_default();
    check_project_id(&project_id)?;
    if let Some(display_name) = &body.display_name {
        check_display_name(display_name)?;
    }
    let labels = body.labels.unwrap_or_default();
    validate_labels("labels", &labels)?;
    let mut world = server.world();
    let parent = body.parent.unwrap_or_default();
    if !parent.is_empty() {
        check_parent(&world, "parent", &parent, "resourcemanager.projects.create")?;
    }
    if world.projects.id_taken(&project_id) {
        return Err(ApiError::already_exists("Requested entity already exists"));
    }
    let now = world.wall_now;
    let project = world.projects.insert(project_id, parent, now);
    project.display_name = body.display_name.unwrap_or_default();
    project.labels = labels;
    let number = project.number;
    let name = operation_name(&mut world);
    let metadata = metadata("CreateProjectMetadata", &world);
    let operation = world.start_operation(NewOperation {
        name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let creator = world.directory.creator.clone();
            let project = world
                .projects
                .by_number_mut(number)
                .ok_or_else(|| vanished(number))?;
            project.state = ProjectState::Active;
            project.create_time = now;
            project.touch(now);
            let response = project.to_response();
            world
                .policies
                .grant(&format!("projects/{number}"), "roles/owner", &creator);
            Ok(response)
        }),
        // A create that failed leaves nothing behind, so its id can be tried again.
        rollback: Some(Box::new(move |world| {
            world
                .projects
                .projects
                .retain(|project| project.number != number);
        })),
    });
    Ok(Json(operation))
}

async fn list_projects(
    State(server): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let parent = query.get("parent").cloned().unwrap_or_default();
    if parent.is_empty() {
        return Err(ApiError::missing_field("parent"));
    }
    let show_deleted = query
        .get("showDeleted")
        .is_some_and(|value| value == "true");
    let page_size = page_size(&query, 500)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    check_parent(&world, "parent", &parent, "resourcemanager.projects.list")?;
    let matching: Vec<Value> = world
        .projects
        .projects
        .iter()
        .filter(|project| project.parent == parent)
        .filter(|project| match project.state {
            ProjectState::Creating => false,
            ProjectState::Active => true,
            ProjectState::DeleteRequested => show_deleted,
        })
        .map(Project::to_json)
        .collect();
    Ok(Json(page(matching, "projects", offset, page_size)))
}

async fn get_project(
    State(server): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (id, verb) = split_verb(&name);
    if verb.is_some() {
        return Err(method_not_found());
    }
    let world = server.world();
    let project = world.projects.find(id).ok_or_else(|| project_denied(id))?;
    Ok(Json(project.to_json()))
}

fn method_not_found() -> ApiError {
    ApiError::not_found("Method not found.")
}

async fn update_project(
    State(server): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ProjectBody = parse_json(&body)?;
    let mut new_display_name = None;
    let mut new_labels = None;
    match query.get("updateMask") {
        Some(mask) => {
            for path in mask_paths(mask) {
                match path {
                    "displayName" | "display_name" => {
                        new_display_name = Some(body.display_name.clone().unwrap_or_default());
                    }
                    "labels" => new_labels = Some(body.labels.clone().unwrap_or_default()),
                    other => {
                        return Err(ApiError::invalid_field(
                            "updateMask",
                            format!("'{other}' cannot be updated; only displayName and labels can"),
                        ));
                    }
                }
            }
        }
        None => {
            new_display_name = body.display_name.clone();
            new_labels = body.labels.clone();
        }
    }
    if let Some(display_name) = new_display_name.as_deref().filter(|name| !name.is_empty()) {
        check_display_name(display_name)?;
    }
    if let Some(labels) = &new_labels {
        validate_labels("labels", labels)?;
    }
    let mut world = server.world();
    let number = active_project_number(&world, &name)?;
    let name = operation_name(&mut world);
    let metadata = metadata("UpdateProjectMetadata", &world);
    let operation = world.start_operation(NewOperation {
        name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let project = world
                .projects
                .by_number_mut(number)
                .filter(|project| project.state == ProjectState::Active)
                .ok_or_else(|| vanished(number))?;
            if let Some(display_name) = new_display_name {
                project.display_name = display_name;
            }
            if let Some(labels) = new_labels {
                project.labels = labels;
            }
            project.touch(now);
            Ok(project.to_response())
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

/// Finds the project a mutating call names; it must exist and be `ACTIVE`.
fn active_project_number(world: &World, id: &str) -> Result<u64, ApiError> {
    let project = world.projects.find(id).ok_or_else(|| project_denied(id))?;
    if project.state != ProjectState::Active {
        return Err(ApiError::failed_precondition(format!(
            "Project '{id}' is in state {}; it must be ACTIVE.",
            project.state.name()
        )));
    }
    Ok(project.number)
}

async fn delete_project(
    State(server): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let number = world
        .projects
        .find(&name)
        .ok_or_else(|| project_denied(&name))?
        .number;
    let name = operation_name(&mut world);
    let metadata = metadata("DeleteProjectMetadata", &world);
    let operation = world.start_operation(NewOperation {
        name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let project = world
                .projects
                .by_number_mut(number)
                .ok_or_else(|| vanished(number))?;
            // Deleting a project already pending deletion changes nothing.
            if project.state == ProjectState::Active {
                project.state = ProjectState::DeleteRequested;
                project.delete_time = Some(now);
                project.touch(now);
            }
            let response = project.to_response();
            // Deletion disconnects billing; undelete does not restore it.
            world.billing.unlink(number);
            Ok(response)
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

async fn project_method(
    State(server): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (id, verb) = split_verb(&name);
    match verb {
        Some("undelete") => undelete_project(&server, id),
        Some("move") => move_project(&server, id, parse_json(&body)?),
        Some("getIamPolicy") => {
            let request: GetIamPolicyRequest = parse_json(&body)?;
            let world = server.world();
            let project = world.projects.find(id).ok_or_else(|| project_denied(id))?;
            let resource = format!("projects/{}", project.number);
            Ok(Json(
                world.policies.get(&resource, request.requested_version())?,
            ))
        }
        Some("setIamPolicy") => {
            let request: SetIamPolicyRequest = parse_json(&body)?;
            let mut world = server.world();
            let project = world.projects.find(id).ok_or_else(|| project_denied(id))?;
            let resource = format!("projects/{}", project.number);
            let policy = set_iam_policy(&mut world, &resource, PolicyTarget::Project, request)?;
            Ok(Json(policy))
        }
        _ => Err(method_not_found()),
    }
}

fn undelete_project(server: &Shared, id: &str) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let project = world.projects.find(id).ok_or_else(|| project_denied(id))?;
    if project.state != ProjectState::DeleteRequested {
        return Err(ApiError::failed_precondition(format!(
            "Project '{id}' is not in state DELETE_REQUESTED."
        )));
    }
    let number = project.number;
    let name = operation_name(&mut world);
    let metadata = metadata("UndeleteProjectMetadata", &world);
    let operation = world.start_operation(NewOperation {
        name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let project = world
                .projects
                .by_number_mut(number)
                .ok_or_else(|| vanished(number))?;
            project.state = ProjectState::Active;
            project.delete_time = None;
            project.touch(now);
            Ok(project.to_response())
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoveProjectRequest {
    destination_parent: Option<String>,
}

fn move_project(
    server: &Shared,
    id: &str,
    request: MoveProjectRequest,
) -> Result<Json<Value>, ApiError> {
    let destination = request.destination_parent.unwrap_or_default();
    if destination.is_empty() {
        return Err(ApiError::missing_field("destinationParent"));
    }
    let mut world = server.world();
    let number = active_project_number(&world, id)?;
    check_parent(
        &world,
        "destinationParent",
        &destination,
        "resourcemanager.projects.move",
    )?;
    let name = operation_name(&mut world);
    let metadata = metadata("MoveProjectMetadata", &world);
    let operation = world.start_operation(NewOperation {
        name,
        metadata,
        effect: Box::new(move |world| {
            let now = world.wall_now;
            let project = world
                .projects
                .by_number_mut(number)
                .ok_or_else(|| vanished(number))?;
            project.parent = destination;
            project.touch(now);
            Ok(project.to_response())
        }),
        rollback: None,
    });
    Ok(Json(operation))
}

async fn get_operation(
    State(server): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = format!("operations/{id}");
    let world = server.world();
    world
        .operations
        .get(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("Operation '{name}' not found.")))
}

async fn get_organization(
    State(server): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = format!("organizations/{id}");
    let world = server.world();
    if !world.directory.organizations.contains(&name) {
        return Err(ApiError::permission_denied(format!(
            "The caller does not have permission on '{name}' (or it may not exist)."
        )));
    }
    Ok(Json(json!({
        "name": name,
        "displayName": format!("organization {id}"),
        "state": "ACTIVE",
    })))
}

async fn get_folder(
    State(server): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = format!("folders/{id}");
    let world = server.world();
    if !world.directory.folders.contains(&name) {
        return Err(ApiError::permission_denied(format!(
            "The caller does not have permission on '{name}' (or it may not exist)."
        )));
    }
    let parent = world
        .directory
        .organizations
        .first()
        .cloned()
        .unwrap_or_default();
    Ok(Json(json!({
        "name": name,
        "parent": parent,
        "displayName": format!("folder {id}"),
        "state": "ACTIVE",
    })))
}
