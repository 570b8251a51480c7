//! IAM v1: service accounts and their IAM policies.
//!
//! Creating an account is synchronous, but for `--consistency-lag-ms` afterwards the
//! account answers 404 to GET and cannot be named in a policy, as IAM's eventual
//! consistency does. Deleting is a soft delete: the account can be undeleted by its
//! unique id, and policies naming it show it as a `deleted:` principal meanwhile.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::policy::{PolicyTarget, SetIamPolicyRequest, set_iam_policy};
use crate::request::{
    etag, is_resource_id, mask_paths, page, page_offset, page_size, parse_json, split_verb,
};
use crate::world::{Shared, World};

const IAM_SERVICE: &str = "iam.googleapis.com";

/// Returns the routes of `iam.googleapis.com`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route(
            "/v1/projects/{project}/serviceAccounts",
            post(create_service_account).get(list_service_accounts),
        )
        .route(
            "/v1/projects/{project}/serviceAccounts/{account}",
            get(get_service_account)
                .patch(patch_service_account)
                .delete(delete_service_account)
                .post(service_account_method),
        )
}

pub struct ServiceAccount {
    project_number: u64,
    project_id: String,
    account_id: String,
    unique_id: String,
    display_name: String,
    description: String,
    disabled: bool,
    deleted: bool,
    /// Before this instant the new account is invisible (consistency lag).
    visible_from: Instant,
    /// Before this instant IAM policies do not know the account (policy lag).
    policy_visible_from: Instant,
    revision: u64,
}

impl ServiceAccount {
    fn email(&self) -> String {
        format!(
            "{}@{}.iam.gserviceaccount.com",
            self.account_id, self.project_id
        )
    }

    fn name(&self) -> String {
        format!(
            "projects/{}/serviceAccounts/{}",
            self.project_id,
            self.email()
        )
    }

    /// The key of the account's own IAM policy; a recreated account starts afresh.
    fn policy_resource(&self) -> String {
        format!(
            "projects/{}/serviceAccounts/{}",
            self.project_id, self.unique_id
        )
    }

    fn etag(&self) -> String {
        etag(&self.policy_resource(), self.revision)
    }

    fn to_json(&self) -> Value {
        let mut json = json!({
            "name": self.name(),
            "projectId": self.project_id,
            "uniqueId": self.unique_id,
            "email": self.email(),
            "etag": self.etag(),
            "oauth2ClientId": self.unique_id,
        });
        if !self.display_name.is_empty() {
            json["displayName"] = Value::from(self.display_name.as_str());
        }
        if !self.description.is_empty() {
            json["description"] = Value::from(self.description.as_str());
        }
        if self.disabled {
            json["disabled"] = Value::Bool(true);
        }
        json
    }

    fn matches(&self, key: &str) -> bool {
        self.unique_id == key || self.email().eq_ignore_ascii_case(key)
    }
}

/// Every service account, deleted ones included (they can be undeleted).
#[derive(Default)]
pub struct ServiceAccounts {
    accounts: Vec<ServiceAccount>,
    next_unique_id: u64,
}

impl World {
    /// Reports whether `email` may be named as `serviceAccount:` in a policy.
    ///
    /// Accounts of projects this fake does not hold (Google's service agents, other
    /// clouds' projects) are taken on trust.
    pub fn service_account_usable_as_member(&self, email: &str) -> bool {
        let Some(project_id) = email
            .strip_suffix(".iam.gserviceaccount.com")
            .and_then(|rest| rest.rsplit_once('@'))
            .map(|(_, project_id)| project_id)
        else {
            return true;
        };
        if self.projects.find(project_id).is_none() {
            return true;
        }
        self.service_accounts.accounts.iter().any(|account| {
            !account.deleted
                && account.email().eq_ignore_ascii_case(email)
                && account.policy_visible_from <= self.now
        })
    }
}

/// An account whose own policy is asked for: unknown until IAM policies know it.
fn find_policy_account<'w>(
    world: &'w World,
    project: &str,
    key: &str,
) -> Result<&'w ServiceAccount, ApiError> {
    let found = find_account(world, project, key)?;
    if world.now < found.policy_visible_from {
        return Err(unknown_account());
    }
    Ok(found)
}

fn unknown_account() -> ApiError {
    ApiError::not_found("Unknown service account")
}

/// Returns the number and id of the `ACTIVE` project `project` names, after checking
/// that the IAM API is usable there.
fn project_for(world: &World, project: &str, permission: &str) -> Result<(u64, String), ApiError> {
    let found = world.projects.find_active(project).ok_or_else(|| {
        ApiError::permission_denied(format!(
            "Permission '{permission}' denied on resource (or it may not exist)."
        ))
    })?;
    world.require_service(found.number, IAM_SERVICE)?;
    Ok((found.number, found.project_id.clone()))
}

/// Finds the live account `key` (email or unique id) names under `project`, which
/// may be the `-` wildcard (then a missing account is 403, as on Google).
fn find_account<'a>(
    world: &'a World,
    project: &str,
    key: &str,
) -> Result<&'a ServiceAccount, ApiError> {
    let wildcard = project == "-";
    let project_number = if wildcard {
        None
    } else {
        Some(project_for(world, project, "iam.serviceAccounts.get")?.0)
    };
    world
        .service_accounts
        .accounts
        .iter()
        .find(|account| {
            !account.deleted
                && account.matches(key)
                && project_number.is_none_or(|number| account.project_number == number)
        })
        .ok_or_else(|| {
            if wildcard {
                ApiError::permission_denied(format!(
                    "Permission 'iam.serviceAccounts.get' denied on resource (or it may not exist): {key}"
                ))
            } else {
                unknown_account()
            }
        })
}

fn find_account_mut<'a>(
    world: &'a mut World,
    project: &str,
    key: &str,
) -> Result<&'a mut ServiceAccount, ApiError> {
    let unique_id = find_account(world, project, key)?.unique_id.clone();
    world
        .service_accounts
        .accounts
        .iter_mut()
        .find(|account| account.unique_id == unique_id)
        .ok_or_else(unknown_account)
}

fn check_display_name(display_name: &str) -> Result<(), ApiError> {
    if display_name.len() > 100 {
        return Err(ApiError::invalid_field(
            "serviceAccount.displayName",
            "must be at most 100 bytes",
        ));
    }
    Ok(())
}

fn check_description(description: &str) -> Result<(), ApiError> {
    if description.len() > 256 {
        return Err(ApiError::invalid_field(
            "serviceAccount.description",
            "must be at most 256 bytes",
        ));
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccountBody {
    display_name: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateServiceAccountRequest {
    account_id: Option<String>,
    service_account: Option<ServiceAccountBody>,
}

async fn create_service_account(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: CreateServiceAccountRequest = parse_json(&body)?;
    let account_id = request.account_id.unwrap_or_default();
    if account_id.is_empty() {
        return Err(ApiError::missing_field("accountId"));
    }
    if !is_resource_id(&account_id, 6, 30) {
        return Err(ApiError::invalid_field(
            "accountId",
            format!("'{account_id}' must be 6 to 30 characters matching [a-z]([-a-z0-9]*[a-z0-9])"),
        ));
    }
    let body = request.service_account.unwrap_or_default();
    let display_name = body.display_name.unwrap_or_default();
    let description = body.description.unwrap_or_default();
    check_display_name(&display_name)?;
    check_description(&description)?;
    let mut world = server.world();
    let (project_number, project_id) = project_for(&world, &project, "iam.serviceAccounts.create")?;
    let taken = world.service_accounts.accounts.iter().any(|account| {
        !account.deleted
            && account.project_number == project_number
            && account.account_id == account_id
    });
    if taken {
        return Err(ApiError::already_exists(format!(
            "Service account {account_id} already exists within project projects/{project_id}."
        )));
    }
    world.service_accounts.next_unique_id += 1;
    let account = ServiceAccount {
        project_number,
        project_id,
        account_id,
        // 21 digits, like Google's unique ids.
        unique_id: format!("1{:020}", world.service_accounts.next_unique_id),
        display_name,
        description,
        disabled: false,
        deleted: false,
        visible_from: world.now + world.settings.consistency_lag,
        policy_visible_from: world.now + world.settings.consistency_lag + world.settings.policy_lag,
        revision: 1,
    };
    let json = account.to_json();
    world.service_accounts.accounts.push(account);
    Ok(Json(json))
}

async fn list_service_accounts(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = page_size(&query, 100)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let (project_number, _) = project_for(&world, &project, "iam.serviceAccounts.list")?;
    let accounts: Vec<Value> = world
        .service_accounts
        .accounts
        .iter()
        .filter(|account| !account.deleted && account.project_number == project_number)
        .map(ServiceAccount::to_json)
        .collect();
    Ok(Json(page(accounts, "accounts", offset, page_size)))
}

async fn get_service_account(
    State(server): State<Shared>,
    Path((project, account)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    if account.contains(':') {
        return Err(ApiError::not_found("Method not found."));
    }
    let world = server.world();
    let found = find_account(&world, &project, &account)?;
    if world.now < found.visible_from {
        return Err(unknown_account());
    }
    Ok(Json(found.to_json()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchServiceAccountRequest {
    service_account: Option<ServiceAccountBody>,
    update_mask: Option<String>,
}

async fn patch_service_account(
    State(server): State<Shared>,
    Path((project, account)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: PatchServiceAccountRequest = parse_json(&body)?;
    let mask = request.update_mask.unwrap_or_default();
    let paths = mask_paths(&mask);
    if paths.is_empty() {
        return Err(ApiError::missing_field("updateMask"));
    }
    let body = request.service_account.unwrap_or_default();
    let mut new_display_name = None;
    let mut new_description = None;
    for path in &paths {
        match *path {
            "displayName" | "display_name" => {
                new_display_name = Some(body.display_name.clone().unwrap_or_default());
            }
            "description" => new_description = Some(body.description.clone().unwrap_or_default()),
            other => {
                return Err(ApiError::invalid_field(
                    "updateMask",
                    format!("'{other}' cannot be updated; only displayName and description can"),
                ));
            }
        }
    }
    if let Some(display_name) = &new_display_name {
        check_display_name(display_name)?;
    }
    if let Some(description) = &new_description {
        check_description(description)?;
    }
    let mut world = server.world();
    let found = find_account_mut(&mut world, &project, &account)?;
    if let Some(display_name) = new_display_name {
        found.display_name = display_name;
    }
    if let Some(description) = new_description {
        found.description = description;
    }
    found.revision += 1;
    // Google's answer holds only the name, the etag and the fields in the mask.
    let full = found.to_json();
    let mut answer = json!({"name": full["name"], "etag": full["etag"]});
    for path in paths {
        let field = if path == "display_name" {
            "displayName"
        } else {
            path
        };
        if let Some(value) = full.get(field) {
            answer[field] = value.clone();
        }
    }
    Ok(Json(answer))
}

async fn delete_service_account(
    State(server): State<Shared>,
    Path((project, account)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let found = find_account_mut(&mut world, &project, &account)?;
    found.deleted = true;
    let email = found.email();
    let unique_id = found.unique_id.clone();
    let policy_resource = found.policy_resource();
    world.policies.remove(&policy_resource);
    world.policies.rename_member(
        &format!("serviceAccount:{email}"),
        &format!("deleted:serviceAccount:{email}?uid={unique_id}"),
    );
    Ok(Json(json!({})))
}

async fn service_account_method(
    State(server): State<Shared>,
    Path((project, account)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (key, verb) = split_verb(&account);
    let mut world = server.world();
    match verb {
        Some("disable") | Some("enable") => {
            let found = find_account_mut(&mut world, &project, key)?;
            found.disabled = verb == Some("disable");
            found.revision += 1;
            Ok(Json(json!({})))
        }
        Some("undelete") => undelete(&mut world, &project, key),
        Some("getIamPolicy") => {
            let requested_version = match query.get("options.requestedPolicyVersion") {
                None => 0,
                Some(text) => text.parse().map_err(|_| {
                    ApiError::invalid_field(
                        "options.requestedPolicyVersion",
                        format!("'{text}' is not a number"),
                    )
                })?,
            };
            let resource = find_policy_account(&world, &project, key)?.policy_resource();
            Ok(Json(world.policies.get(&resource, requested_version)?))
        }
        Some("setIamPolicy") => {
            let request: SetIamPolicyRequest = parse_json(&body)?;
            let resource = find_policy_account(&world, &project, key)?.policy_resource();
            let policy =
                set_iam_policy(&mut world, &resource, PolicyTarget::ServiceAccount, request)?;
            Ok(Json(policy))
        }
        _ => Err(ApiError::not_found("Method not found.")),
    }
}

/// Restores a deleted account by its unique id, unless its email was reused since.
fn undelete(world: &mut World, project: &str, unique_id: &str) -> Result<Json<Value>, ApiError> {
    let (project_number, _) = project_for(world, project, "iam.serviceAccounts.undelete")?;
    let accounts = &world.service_accounts.accounts;
    let index = accounts
        .iter()
        .position(|account| {
            account.deleted
                && account.project_number == project_number
                && account.unique_id == unique_id
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Account deleted: {unique_id} not found or cannot be undeleted."
            ))
        })?;
    let email = accounts[index].email();
    if accounts
        .iter()
        .any(|account| !account.deleted && account.email() == email)
    {
        return Err(ApiError::failed_precondition(format!(
            "Cannot undelete {email}: an account with this email exists."
        )));
    }
    let account = &mut world.service_accounts.accounts[index];
    account.deleted = false;
    account.revision += 1;
    let json = account.to_json();
    world.policies.rename_member(
        &format!("deleted:serviceAccount:{email}?uid={unique_id}"),
        &format!("serviceAccount:{email}"),
    );
    Ok(Json(json!({"restoredAccount": json})))
}
