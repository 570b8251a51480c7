//! Cloud Billing v1: the billing link of a project, and the seeded billing accounts.
//!
//! Linking is synchronous (a PUT, no operation). Only seeded accounts exist; any other
//! well-formed account answers 403, as an account the caller cannot use does.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crm::Project;
use crate::errors::ApiError;
use crate::request::{parse_json, split_verb};
use crate::world::{Shared, World};

/// Returns the routes of `cloudbilling.googleapis.com`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route(
            "/v1/projects/{project}/billingInfo",
            get(get_billing_info).put(update_billing_info),
        )
        .route(
            "/v1/billingAccounts/{account}",
            get(get_billing_account).post(billing_account_method),
        )
        .route(
            "/v1/billingAccounts/{account}/projects",
            get(list_account_projects),
        )
}

/// Which billing account each project (by number) is linked to.
#[derive(Default)]
pub struct BillingLinks {
    by_project: HashMap<u64, String>,
}

impl BillingLinks {
    pub fn link(&mut self, project_number: u64, account: String) {
        self.by_project.insert(project_number, account);
    }

    pub fn unlink(&mut self, project_number: u64) {
        self.by_project.remove(&project_number);
    }

    /// Returns the account a project is linked to (`billingAccounts/…`), if any.
    pub fn account_of(&self, project_number: u64) -> Option<&str> {
        self.by_project.get(&project_number).map(String::as_str)
    }
}

fn billing_info(world: &World, project: &Project) -> Value {
    let mut json = json!({
        "name": format!("projects/{}/billingInfo", project.project_id),
        "projectId": project.project_id,
    });
    if let Some(account) = world.billing.account_of(project.number) {
        json["billingAccountName"] = Value::from(account);
        json["billingEnabled"] = Value::Bool(true);
    }
    json
}

fn caller_denied() -> ApiError {
    ApiError::permission_denied("The caller does not have permission")
}

async fn get_billing_info(
    State(server): State<Shared>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let project = world.projects.find(&project).ok_or_else(caller_denied)?;
    Ok(Json(billing_info(&world, project)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectBillingInfoBody {
    billing_account_name: Option<String>,
}

fn is_account_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts.iter().all(|part| {
            part.len() == 6
                && part
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        })
}

async fn update_billing_info(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ProjectBillingInfoBody = parse_json(&body)?;
    let account = body.billing_account_name.unwrap_or_default();
    if !account.is_empty()
        && !account
            .strip_prefix("billingAccounts/")
            .is_some_and(is_account_id)
    {
        return Err(ApiError::invalid_field(
            "billingAccountName",
            format!("'{account}' must be billingAccounts/XXXXXX-XXXXXX-XXXXXX or empty"),
        ));
    }
    let mut world = server.world();
    let found = world.projects.find(&project).ok_or_else(caller_denied)?;
    if found.state != crate::crm::ProjectState::Active {
        return Err(ApiError::failed_precondition(format!(
            "Project '{project}' is pending deletion; its billing cannot change."
        )));
    }
    let number = found.number;
    if account.is_empty() {
        world.billing.unlink(number);
    } else {
        if !world.directory.billing_accounts.contains(&account) {
            return Err(caller_denied());
        }
        world.billing.link(number, account);
    }
    let project = world.projects.find(&project).ok_or_else(caller_denied)?;
    Ok(Json(billing_info(&world, project)))
}

fn find_account(world: &World, id: &str) -> Result<String, ApiError> {
    let name = format!("billingAccounts/{id}");
    if world.directory.billing_accounts.contains(&name) {
        Ok(name)
    } else {
        Err(caller_denied())
    }
}

async fn get_billing_account(
    State(server): State<Shared>,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let name = find_account(&world, &account)?;
    Ok(Json(json!({
        "name": name,
        "open": true,
        "displayName": format!("Billing account {account}"),
    })))
}

#[derive(Debug, Default, Deserialize)]
struct TestIamPermissionsRequest {
    #[serde(default)]
    permissions: Vec<String>,
}

/// Answers `:testIamPermissions` on an account: the caller holds every permission.
async fn billing_account_method(
    State(server): State<Shared>,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (id, verb) = split_verb(&account);
    if verb != Some("testIamPermissions") {
        return Err(ApiError::not_found("Method not found."));
    }
    let request: TestIamPermissionsRequest = parse_json(&body)?;
    let world = server.world();
    find_account(&world, id)?;
    if request.permissions.is_empty() {
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({"permissions": request.permissions})))
}

async fn list_account_projects(
    State(server): State<Shared>,
    Path(account): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let name = find_account(&world, &account)?;
    let mut numbers: Vec<u64> = world
        .billing
        .by_project
        .iter()
        .filter(|(_, linked)| **linked == name)
        .map(|(number, _)| *number)
        .collect();
    numbers.sort_unstable();
    let infos: Vec<Value> = numbers
        .iter()
        .filter_map(|number| world.projects.find(&number.to_string()))
        .map(|project| billing_info(&world, project))
        .collect();
    if infos.is_empty() {
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({"projectBillingInfo": infos})))
}
