//! `google_service_account` (IAM v1), and the member-level IAM types
//! `google_project_iam_member` (Resource Manager v3) and
//! `google_service_account_iam_member` (IAM v1), which share one
//! read-modify-write of an IAM policy.
//!
//! Invariant: a policy write changes only the one member a resource manages, in
//! the binding keyed by its role and condition. Every other member, binding,
//! condition and audit config goes back to Google as it was read: the creator's
//! `roles/owner`, service agents and other tools' grants live in the same policy.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::Method;
use serde_json::{Map, Value as Json, json};
use tokio::time::Instant;

use super::batch::Batches;
use super::{GcpClient, GcpError, api_error, invalid, planned_bool, planned_str, stored_str};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

const CRM: &str = "cloudresourcemanager";
const IAM: &str = "iam";

const SERVICE_ACCOUNT: &str = "google_service_account";
pub(super) const PROJECT_IAM_MEMBER: &str = "google_project_iam_member";
pub(super) const SERVICE_ACCOUNT_IAM_MEMBER: &str = "google_service_account_iam_member";

/// How long a policy write keeps restarting after concurrent changes (409, 412).
const CONFLICT_WINDOW: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// google_service_account

/// The stored attributes of a service account as IAM describes it.
fn account_object(account: &Json) -> RemoteObject {
    let text = |field: &str| {
        account
            .get(field)
            .and_then(Json::as_str)
            .unwrap_or_default()
    };
    let non_empty = |field: &str| match text(field) {
        "" => Json::Null,
        value => Json::String(value.to_string()),
    };
    let email = text("email");
    let name = text("name");
    let account_id = email.split_once('@').map_or(email, |(id, _)| id);
    let mut attrs = Map::new();
    attrs.insert(
        "project".into(),
        Json::String(text("projectId").to_string()),
    );
    attrs.insert("account_id".into(), Json::String(account_id.to_string()));
    attrs.insert("display_name".into(), non_empty("displayName"));
    attrs.insert("description".into(), non_empty("description"));
    attrs.insert(
        "disabled".into(),
        Json::Bool(
            account
                .get("disabled")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        ),
    );
    attrs.insert("email".into(), Json::String(email.to_string()));
    attrs.insert("unique_id".into(), non_empty("uniqueId"));
    attrs.insert("name".into(), Json::String(name.to_string()));
    attrs.insert(
        "member".into(),
        Json::String(format!("serviceAccount:{email}")),
    );
    attrs.insert("id".into(), Json::String(name.to_string()));
    RemoteObject {
        provider_id: Some(name.to_string()),
        attributes: attrs,
    }
}

/// `projects/P/serviceAccounts/EMAIL` of a stored account.
fn stored_account_name(stored: &RemoteObject) -> Option<String> {
    if let Some(name) = stored_str(stored, "name").or(stored.provider_id.as_deref()) {
        return Some(name.to_string());
    }
    let project = stored_str(stored, "project")?;
    let email = stored_str(stored, "email")
        .map(str::to_string)
        .or_else(|| {
            stored_str(stored, "account_id")
                .map(|id| format!("{id}@{project}.iam.gserviceaccount.com"))
        })?;
    Some(format!("projects/{project}/serviceAccounts/{email}"))
}

/// Reads an account; `None` when IAM answers 404 (missing, deleted, or not yet visible).
async fn get_account(client: &GcpClient, name: &str) -> Result<Option<Json>, GcpError> {
    match client
        .call(IAM, Method::GET, &format!("v1/{name}"), None)
        .await
    {
        Ok(account) => Ok(Some(account)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a just-created account until IAM answers it.
///
/// IAM writes are sequential but reads are eventually consistent: right after a
/// create, GET may 404, and policies naming the account are refused for a while
/// even after a GET succeeded. Terraform reads three times in a row and then
/// sleeps 10 s; here one read suffices, because every policy write that names an
/// account this process created, or reads that account's own policy, waits for
/// it (`ClientOptions::new_account_window`). The wait is bounded by the client's operation timeout.
async fn wait_until_readable(client: &GcpClient, name: &str) -> Result<Json, GcpError> {
    let deadline = Instant::now() + client.options.operation_timeout;
    let mut delay = client.options.poll_min;
    loop {
        match get_account(client, name).await? {
            Some(account) => return Ok(account),
            None => {
                if Instant::now() + delay > deadline {
                    return Err(GcpError {
                        method: "GET".to_string(),
                        path: format!("v1/{name}"),
                        status: Some(404),
                        status_name: Some("NOT_FOUND".to_string()),
                        reason: None,
                        message: "the new service account did not become readable in time"
                            .to_string(),
                        retry_after: None,
                    });
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(client.options.poll_max);
            }
        }
    }
}

pub(super) async fn read_service_account(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let Some(name) = stored_account_name(stored) else {
        return Ok(None);
    };
    Ok(get_account(client, &name)
        .await?
        .map(|account| account_object(&account)))
}

/// Enables or disables an account.
async fn set_disabled(client: &GcpClient, name: &str, disabled: bool) -> Result<(), GcpError> {
    let verb = if disabled { "disable" } else { "enable" };
    client
        .call(
            IAM,
            Method::POST,
            &format!("v1/{name}:{verb}"),
            Some(&json!({})),
        )
        .await
        .map(|_| ())
}

pub(super) async fn create_service_account(
    client: &GcpClient,
    writers: &PolicyWriters,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = SERVICE_ACCOUNT;
    let (Some(project), Some(account_id)) = (
        planned_str(planned, "project"),
        planned_str(planned, "account_id"),
    ) else {
        return Err(invalid(T, "`project` and `account_id` must be known"));
    };
    let display_name = planned_str(planned, "display_name").unwrap_or_default();
    let description = planned_str(planned, "description").unwrap_or_default();
    let email = format!("{account_id}@{project}.iam.gserviceaccount.com");
    let name = format!("projects/{project}/serviceAccounts/{email}");
    let body = json!({
        "accountId": account_id,
        "serviceAccount": { "displayName": display_name, "description": description },
    });
    let adopting = match client
        .call(
            IAM,
            Method::POST,
            &format!("v1/projects/{project}/serviceAccounts"),
            Some(&body),
        )
        .await
    {
        Ok(_) => false,
        Err(e) if e.is_already_exists() => true,
        Err(e) => return Err(api_error(T, e)),
    };
    writers.created(&email);
    let mut account = wait_until_readable(client, &name)
        .await
        .map_err(|e| api_error(T, e))?;
    // A create whose answer was lost, retried, or an account made by someone
    // else: adopt it only if it is exactly the one asked for. No label can mark
    // an account as yagura's, so the display name and description must match.
    if adopting {
        let text = |field: &str| {
            account
                .get(field)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        if text("displayName") != display_name || text("description") != description {
            return Err(invalid(
                T,
                format!(
                    "service account {email} already exists with display name {:?} and description {:?}, not the planned {display_name:?} and {description:?}; import it or choose another `account_id`",
                    text("displayName"),
                    text("description"),
                ),
            ));
        }
        tracing::info!(%email, "adopting the existing service account");
    }
    let disabled = planned_bool(planned, "disabled", false);
    if account
        .get("disabled")
        .and_then(Json::as_bool)
        .unwrap_or(false)
        != disabled
    {
        set_disabled(client, &name, disabled)
            .await
            .map_err(|e| api_error(T, e))?;
        account = get_account(client, &name)
            .await
            .map_err(|e| api_error(T, e))?
            .ok_or_else(|| invalid(T, format!("service account {email} vanished after create")))?;
    }
    Ok(account_object(&account))
}

pub(super) async fn update_service_account(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = SERVICE_ACCOUNT;
    let name =
        stored_account_name(stored).ok_or_else(|| invalid(T, "the stored account has no name"))?;
    let display_name = planned_str(planned, "display_name").unwrap_or_default();
    let description = planned_str(planned, "description").unwrap_or_default();
    let mut mask = Vec::new();
    if stored_str(stored, "display_name").unwrap_or_default() != display_name {
        mask.push("displayName");
    }
    if stored_str(stored, "description").unwrap_or_default() != description {
        mask.push("description");
    }
    if !mask.is_empty() {
        // The mask goes in the body, and the answer holds only the masked fields,
        // so the account is read again below.
        let body = json!({
            "serviceAccount": { "displayName": display_name, "description": description },
            "updateMask": mask.join(","),
        });
        client
            .call(IAM, Method::PATCH, &format!("v1/{name}"), Some(&body))
            .await
            .map_err(|e| api_error(T, e))?;
    }
    let disabled = planned_bool(planned, "disabled", false);
    let stored_disabled = stored
        .attributes
        .get("disabled")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    if disabled != stored_disabled {
        set_disabled(client, &name, disabled)
            .await
            .map_err(|e| api_error(T, e))?;
    }
    let account = get_account(client, &name)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| {
            invalid(
                T,
                format!("service account {name} disappeared during the update"),
            )
        })?;
    Ok(account_object(&account))
}

pub(super) async fn delete_service_account(
    client: &GcpClient,
    writers: &PolicyWriters,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = SERVICE_ACCOUNT;
    let name =
        stored_account_name(stored).ok_or_else(|| invalid(T, "the stored account has no name"))?;
    // Once deleted, its policy's 404 means it is gone, not that it is not seen yet.
    if let Some(email) = name.rsplit('/').next() {
        writers.deleted(email);
    }
    match client
        .call(IAM, Method::DELETE, &format!("v1/{name}"), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(T, e)),
    }
}

/// Imports by `projects/P/serviceAccounts/EMAIL` or by `EMAIL` alone.
pub(super) async fn import_service_account(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = SERVICE_ACCOUNT;
    let name = if id.starts_with("projects/") {
        id.to_string()
    } else {
        // A user-managed account's email names its project; IAM resolves `-` for others.
        let project = id
            .strip_suffix(".iam.gserviceaccount.com")
            .and_then(|rest| rest.rsplit_once('@'))
            .map_or("-", |(_, project)| project);
        format!("projects/{project}/serviceAccounts/{id}")
    };
    let account = get_account(client, &name)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| invalid(T, format!("service account {name} does not exist")))?;
    Ok(account_object(&account))
}

// ---------------------------------------------------------------------------
// IAM policies, shared by the member types

/// The writers of each IAM policy in this process: changes to one policy that
/// arrive together are written in one read-modify-write, so a plan that grants
/// ten roles on a project reads and writes its policy once, not ten times. Other
/// processes are handled by the etag check and the restart loop.
#[derive(Default)]
pub(super) struct PolicyWriters {
    batches: Batches<(Grant, MemberChange), Result<Json, GcpError>>,
    /// The emails of the service accounts this process created, which IAM may not
    /// see everywhere yet.
    new_accounts: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl PolicyWriters {
    fn created(&self, email: &str) {
        self.accounts().insert(email.to_string());
    }

    fn deleted(&self, email: &str) {
        self.accounts().remove(email);
    }

    fn is_new(&self, email: &str) -> bool {
        self.accounts().contains(email)
    }

    fn accounts(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.new_accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Google's limit on bindings changes is the policy size, not a count; batches stay
/// small enough that one bad member costs little to isolate.
const POLICY_BATCH: usize = 50;

/// The resource an IAM policy is attached to.
#[derive(Clone, Debug, PartialEq)]
enum PolicyResource {
    /// A project id.
    Project(String),
    /// `projects/P/serviceAccounts/EMAIL`.
    ServiceAccount(String),
}

impl PolicyResource {
    /// The resource of a member type's policy, from that type's parent attribute.
    fn of(type_name: &str, parent: &str) -> PolicyResource {
        if type_name == PROJECT_IAM_MEMBER {
            PolicyResource::Project(parent.to_string())
        } else {
            PolicyResource::ServiceAccount(parent.to_string())
        }
    }

    /// The attribute naming the resource in the member type's schema.
    fn attribute_name(type_name: &str) -> &'static str {
        if type_name == PROJECT_IAM_MEMBER {
            "project"
        } else {
            "service_account_id"
        }
    }

    fn parent(&self) -> &str {
        match self {
            PolicyResource::Project(id) | PolicyResource::ServiceAccount(id) => id,
        }
    }

    /// The key of the in-process lock.
    fn lock_key(&self) -> String {
        match self {
            PolicyResource::Project(project) => format!("projects/{project}"),
            PolicyResource::ServiceAccount(name) => name.clone(),
        }
    }

    /// Reads the policy, asking for version 3 so that conditions are shown.
    /// Whether this is the policy of a service account this process created.
    fn is_new_account(&self, writers: &PolicyWriters) -> bool {
        match self {
            PolicyResource::Project(_) => false,
            PolicyResource::ServiceAccount(name) => name
                .rsplit('/')
                .next()
                .is_some_and(|email| writers.is_new(email)),
        }
    }

    async fn get_policy(&self, client: &GcpClient) -> Result<Json, GcpError> {
        match self {
            PolicyResource::Project(project) => {
                client
                    .call(
                        CRM,
                        Method::POST,
                        &format!("v3/projects/{project}:getIamPolicy"),
                        Some(&json!({ "options": { "requestedPolicyVersion": 3 } })),
                    )
                    .await
            }
            PolicyResource::ServiceAccount(name) => {
                client
                    .call(
                        IAM,
                        Method::POST,
                        &format!("v1/{name}:getIamPolicy?options.requestedPolicyVersion=3"),
                        None,
                    )
                    .await
            }
        }
    }

    /// Writes a policy that carries the etag it was read with.
    async fn set_policy(&self, client: &GcpClient, policy: &Json) -> Result<Json, GcpError> {
        match self {
            // The default mask is `bindings,etag`: without `auditConfigs` named,
            // audit configs would be dropped silently.
            PolicyResource::Project(project) => {
                let body = json!({ "policy": policy, "updateMask": "bindings,etag,auditConfigs" });
                client
                    .call(
                        CRM,
                        Method::POST,
                        &format!("v3/projects/{project}:setIamPolicy"),
                        Some(&body),
                    )
                    .await
            }
            PolicyResource::ServiceAccount(name) => {
                let body = json!({ "policy": policy, "updateMask": "bindings,etag" });
                client
                    .call(
                        IAM,
                        Method::POST,
                        &format!("v1/{name}:setIamPolicy"),
                        Some(&body),
                    )
                    .await
            }
        }
    }
}

/// The condition of a binding, part of its key.
#[derive(Clone, Debug, PartialEq)]
struct Condition {
    title: String,
    /// As the spec or Google gave it; a missing and an empty description match.
    description: Option<String>,
    expression: String,
}

impl Condition {
    /// Reads `{title, description, expression}`, the shape of both Google's `Expr`
    /// and the `condition` block.
    fn from_json(json: &Json) -> Option<Condition> {
        let text = |field: &str| json.get(field).and_then(Json::as_str).map(str::to_string);
        if !json.is_object() {
            return None;
        }
        Some(Condition {
            title: text("title").unwrap_or_default(),
            description: text("description"),
            expression: text("expression").unwrap_or_default(),
        })
    }

    fn same_as(&self, other: &Condition) -> bool {
        self.title == other.title
            && self.expression == other.expression
            && self.description.as_deref().unwrap_or_default()
                == other.description.as_deref().unwrap_or_default()
    }

    fn to_google(&self) -> Json {
        let mut expr = json!({ "title": self.title, "expression": self.expression });
        if let Some(description) = self.description.as_deref().filter(|d| !d.is_empty()) {
            expr["description"] = Json::String(description.to_string());
        }
        expr
    }

    fn to_attribute(&self) -> Json {
        json!({
            "title": self.title,
            "description": self.description,
            "expression": self.expression,
        })
    }
}

/// The first item of a `condition` block list, planned or stored.
fn condition_of_block(block: Option<&Json>) -> Option<Condition> {
    block
        .and_then(Json::as_array)
        .and_then(|items| items.first())
        .and_then(Condition::from_json)
}

/// One member of one role (under one condition) on one resource: what a member
/// type manages.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Grant {
    resource: PolicyResource,
    role: String,
    member: String,
    condition: Option<Condition>,
}

impl Grant {
    fn from_planned(type_name: &str, planned: &Value) -> Result<Grant, ProviderError> {
        let parent_name = PolicyResource::attribute_name(type_name);
        let (Some(parent), Some(role), Some(member)) = (
            planned_str(planned, parent_name),
            planned_str(planned, "role"),
            planned_str(planned, "member"),
        ) else {
            return Err(invalid(
                type_name,
                format!("`{parent_name}`, `role` and `member` must be known"),
            ));
        };
        let condition_block = planned.get_attr("condition").map(Value::to_json);
        Ok(Grant {
            resource: PolicyResource::of(type_name, parent),
            role: role.to_string(),
            member: member.to_string(),
            condition: condition_of_block(condition_block.as_ref()),
        })
    }

    fn from_stored(type_name: &str, stored: &RemoteObject) -> Option<Grant> {
        let parent = stored_str(stored, PolicyResource::attribute_name(type_name))?;
        Some(Grant {
            resource: PolicyResource::of(type_name, parent),
            role: stored_str(stored, "role")?.to_string(),
            member: stored_str(stored, "member")?.to_string(),
            condition: condition_of_block(stored.attributes.get("condition")),
        })
    }

    /// `RESOURCE/ROLE/MEMBER`, then `/TITLE` under a condition, as Terraform does.
    fn id(&self) -> String {
        let mut id = format!("{}/{}/{}", self.resource.parent(), self.role, self.member);
        if let Some(condition) = &self.condition {
            id.push('/');
            id.push_str(&condition.title);
        }
        id
    }

    fn object(&self, type_name: &str, etag: Option<&str>) -> RemoteObject {
        let mut attrs = Map::new();
        attrs.insert(
            PolicyResource::attribute_name(type_name).into(),
            Json::String(self.resource.parent().to_string()),
        );
        attrs.insert("role".into(), Json::String(self.role.clone()));
        attrs.insert("member".into(), Json::String(self.member.clone()));
        attrs.insert(
            "condition".into(),
            Json::Array(self.condition.iter().map(Condition::to_attribute).collect()),
        );
        attrs.insert(
            "etag".into(),
            etag.map_or(Json::Null, |e| Json::String(e.to_string())),
        );
        let id = self.id();
        attrs.insert("id".into(), Json::String(id.clone()));
        RemoteObject {
            provider_id: Some(id),
            attributes: attrs,
        }
    }

    fn binding_matches(&self, binding: &Json) -> bool {
        binding.get("role").and_then(Json::as_str) == Some(self.role.as_str())
            && match (
                &self.condition,
                binding.get("condition").and_then(Condition::from_json),
            ) {
                (None, None) => true,
                (Some(mine), Some(theirs)) => mine.same_as(&theirs),
                _ => false,
            }
    }

    /// Whether the policy holds this grant.
    fn is_in(&self, policy: &Json) -> bool {
        bindings(policy).iter().any(|binding| {
            self.binding_matches(binding) && members(binding).any(|m| same_member(m, &self.member))
        })
    }

    /// Adds the member to the policy; returns whether the policy changed.
    fn add_to(&self, policy: &mut Json) -> bool {
        if self.is_in(policy) {
            return false;
        }
        merge_duplicate_bindings(policy);
        let list = bindings_mut(policy);
        match list.iter_mut().find(|b| self.binding_matches(b)) {
            Some(binding) => match binding.get_mut("members") {
                Some(Json::Array(members)) => members.push(Json::String(self.member.clone())),
                _ => binding["members"] = json!([self.member]),
            },
            None => {
                let mut binding = json!({ "role": self.role, "members": [self.member] });
                if let Some(condition) = &self.condition {
                    binding["condition"] = condition.to_google();
                }
                list.push(binding);
            }
        }
        true
    }

    /// Removes the member from the policy, and the binding if it becomes empty;
    /// returns whether the policy changed.
    fn remove_from(&self, policy: &mut Json) -> bool {
        if !self.is_in(policy) {
            return false;
        }
        merge_duplicate_bindings(policy);
        let list = bindings_mut(policy);
        for binding in list.iter_mut().filter(|b| self.binding_matches(b)) {
            if let Some(Json::Array(members)) = binding.get_mut("members") {
                members.retain(|m| !m.as_str().is_some_and(|m| same_member(m, &self.member)));
            }
        }
        list.retain(|b| !(self.binding_matches(b) && members(b).next().is_none()));
        true
    }
}

fn bindings(policy: &Json) -> &[Json] {
    policy
        .get("bindings")
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

fn bindings_mut(policy: &mut Json) -> &mut Vec<Json> {
    if !policy.get("bindings").is_some_and(Json::is_array) {
        policy["bindings"] = json!([]);
    }
    match policy.get_mut("bindings") {
        Some(Json::Array(list)) => list,
        _ => unreachable!("bindings_mut has just made `bindings` an array"),
    }
}

fn members(binding: &Json) -> impl Iterator<Item = &str> {
    binding
        .get("members")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
}

/// Whether two principals are the same: Google treats email addresses
/// case-insensitively, and may return them in another case than they were written.
fn same_member(a: &str, b: &str) -> bool {
    match (a.split_once(':'), b.split_once(':')) {
        (Some((kind_a, who_a)), Some((kind_b, who_b))) if who_a.contains('@') => {
            kind_a == kind_b && who_a.eq_ignore_ascii_case(who_b)
        }
        _ => a == b,
    }
}

/// Merges bindings of the same role and condition into the first of them, as
/// Google stores them; members keep their order and their spelling.
fn merge_duplicate_bindings(policy: &mut Json) {
    let list = bindings_mut(policy);
    let mut merged: Vec<Json> = Vec::with_capacity(list.len());
    for binding in list.drain(..) {
        let key = |b: &Json| {
            (
                b.get("role").cloned(),
                b.get("condition").and_then(Condition::from_json),
            )
        };
        let (role, condition) = key(&binding);
        let existing = merged.iter_mut().find(|other| {
            let (other_role, other_condition) = key(other);
            other_role == role
                && match (&condition, &other_condition) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.same_as(b),
                    _ => false,
                }
        });
        match existing {
            Some(target) => {
                let extra: Vec<Json> = members(&binding)
                    .filter(|m| !members(target).any(|t| t == *m))
                    .map(|m| Json::String(m.to_string()))
                    .collect();
                match target.get_mut("members") {
                    Some(Json::Array(list)) => list.extend(extra),
                    _ => target["members"] = Json::Array(extra),
                }
            }
            None => merged.push(binding),
        }
    }
    *list = merged;
}

/// A conflicting concurrent change to the policy: restart the read-modify-write.
fn is_conflict(e: &GcpError) -> bool {
    matches!(e.status, Some(409 | 412)) && !e.is_already_exists()
}

/// A write naming a service account that IAM does not see yet.
fn is_unknown_service_account(e: &GcpError) -> bool {
    e.status == Some(400)
        && e.message.contains("Service account")
        && e.message.contains("does not exist")
}

/// How a read-modify-write changes a grant's member.
#[derive(Clone, Copy, Debug)]
pub(super) enum MemberChange {
    Add,
    Remove,
}

/// Adds or removes one grant; returns the policy as written, or as read when it
/// needed no change. Changes to the same policy that arrive together share one
/// read-modify-write.
async fn change_member(
    client: &GcpClient,
    writers: &PolicyWriters,
    grant: &Grant,
    change: MemberChange,
) -> Result<Json, GcpError> {
    let resource = &grant.resource;
    let run = |batch: Vec<(Grant, MemberChange)>| async move {
        let changes: Vec<(&Grant, MemberChange)> = batch.iter().map(|(g, c)| (g, *c)).collect();
        match read_modify_write(client, writers, resource, &changes).await {
            // A member naming a service account IAM does not see (yet) waits alone,
            // after the others are written together.
            Err(e) if changes.len() > 1 && is_unknown_service_account(&e) => {
                let named = |g: &Grant| {
                    g.member
                        .split_once(':')
                        .is_some_and(|(_, email)| e.message.contains(email))
                };
                let (waiting, ready): (Vec<_>, Vec<_>) =
                    changes.iter().enumerate().partition(|(_, (g, _))| named(g));
                let mut results: Vec<Option<Result<Json, GcpError>>> = vec![None; changes.len()];
                if !ready.is_empty() {
                    let together: Vec<(&Grant, MemberChange)> =
                        ready.iter().map(|(_, c)| **c).collect();
                    let outcome = read_modify_write(client, writers, resource, &together).await;
                    for (i, _) in &ready {
                        results[*i] = Some(outcome.clone());
                    }
                }
                for (i, change) in waiting {
                    results[i] = Some(
                        read_modify_write(client, writers, resource, std::slice::from_ref(change))
                            .await,
                    );
                }
                results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(e.clone())))
                    .collect()
            }
            // One bad grant (an invalid member, say) must not fail the others: on an
            // error that no retry fixes, each change is tried on its own.
            Err(e) if changes.len() > 1 && !e.is_retryable() => {
                let mut results = Vec::new();
                for change in &changes {
                    results.push(
                        read_modify_write(client, writers, resource, std::slice::from_ref(change))
                            .await,
                    );
                }
                results
            }
            outcome => vec![outcome; changes.len()],
        }
    };
    writers
        .batches
        .submit(
            &resource.lock_key(),
            (grant.clone(), change),
            POLICY_BATCH,
            run,
        )
        .await
}

/// Makes `changes` to one policy in one read-modify-write.
///
/// On a concurrent change (409 `ABORTED`, 412) the whole read-modify-write restarts
/// with jittered backoff for up to `CONFLICT_WINDOW`. A write that names a service
/// account IAM does not see yet restarts for up to the client's
/// `new_account_window` when this process created the account and its
/// `unknown_account_window` otherwise; the policy
/// of an account this process created is read again while it is not found.
async fn read_modify_write(
    client: &GcpClient,
    writers: &PolicyWriters,
    resource: &PolicyResource,
    changes: &[(&Grant, MemberChange)],
) -> Result<Json, GcpError> {
    let started = Instant::now();
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(client.options.min_backoff)
        .with_max_delay(client.options.max_backoff)
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        let (error, window) = match write_once(client, resource, changes).await {
            Ok(policy) => return Ok(policy),
            Err(Failure::Read(e)) if e.is_not_found() && resource.is_new_account(writers) => {
                (e, client.options.new_account_window)
            }
            Err(Failure::Read(e)) => return Err(e),
            Err(Failure::Write(e)) if is_conflict(&e) => (e, CONFLICT_WINDOW),
            // The caller sets the named members aside and writes the others now.
            Err(Failure::Write(e)) if is_unknown_service_account(&e) && changes.len() > 1 => {
                return Err(e);
            }
            Err(Failure::Write(e)) if is_unknown_service_account(&e) => {
                let new = changes.iter().any(|(grant, _)| {
                    grant
                        .member
                        .split_once(':')
                        .is_some_and(|(_, email)| writers.is_new(email))
                });
                let window = if new {
                    client.options.new_account_window
                } else {
                    client.options.unknown_account_window
                };
                (e, window)
            }
            Err(Failure::Write(e)) => return Err(e),
        };
        let delay = delays.next().unwrap_or(client.options.max_backoff);
        if started.elapsed() + delay > window {
            return Err(error);
        }
        tracing::debug!(error = %error, ?delay, "restarting the IAM policy read-modify-write");
        tokio::time::sleep(delay).await;
    }
}

/// Where one read-modify-write failed.
enum Failure {
    Read(GcpError),
    Write(GcpError),
}

/// Reads the policy, makes the changes and writes it under the etag just read;
/// returns the policy as written, or as read when it needed no change.
async fn write_once(
    client: &GcpClient,
    resource: &PolicyResource,
    changes: &[(&Grant, MemberChange)],
) -> Result<Json, Failure> {
    let mut policy = resource.get_policy(client).await.map_err(Failure::Read)?;
    let mut changed = false;
    for (grant, change) in changes {
        changed |= match change {
            MemberChange::Add => grant.add_to(&mut policy),
            MemberChange::Remove => grant.remove_from(&mut policy),
        };
    }
    if !changed {
        return Ok(policy);
    }
    // Version 3 is required with conditions; without it (and the etag just
    // read) a write could erase conditional bindings.
    policy["version"] = json!(3);
    resource
        .set_policy(client, &policy)
        .await
        .map_err(Failure::Write)
}

fn etag_of(policy: &Json) -> Option<&str> {
    policy.get("etag").and_then(Json::as_str)
}

/// Reads of one policy that arrive together (a refresh of the members of one
/// project) share one `getIamPolicy`.
pub(super) type PolicyReads = Batches<(), Result<Json, GcpError>>;

pub(super) async fn read_member(
    client: &GcpClient,
    reads: &PolicyReads,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let Some(grant) = Grant::from_stored(type_name, stored) else {
        return Ok(None);
    };
    let resource = &grant.resource;
    let run = |batch: Vec<()>| async move {
        let policy = resource.get_policy(client).await;
        vec![policy; batch.len()]
    };
    let policy = match reads
        .submit(&resource.lock_key(), (), usize::MAX, run)
        .await
    {
        Ok(policy) => policy,
        // The service account (and with it its policy) is gone.
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    // The policy's etag moves with every writer of the policy; the member's
    // presence is what matters, so the stored etag stands and no drift is seen.
    Ok(grant
        .is_in(&policy)
        .then(|| grant.object(type_name, stored_str(stored, "etag"))))
}

pub(super) async fn create_member(
    client: &GcpClient,
    writers: &PolicyWriters,
    type_name: &str,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let grant = Grant::from_planned(type_name, planned)?;
    let policy = change_member(client, writers, &grant, MemberChange::Add)
        .await
        .map_err(|e| api_error(type_name, e))?;
    Ok(grant.object(type_name, etag_of(&policy)))
}

/// Every attribute of a member type forces replacement, so an update only
/// records the planned values.
pub(super) fn update_member(
    type_name: &str,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let grant = Grant::from_planned(type_name, planned)?;
    Ok(grant.object(type_name, stored_str(stored, "etag")))
}

pub(super) async fn delete_member(
    client: &GcpClient,
    writers: &PolicyWriters,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    let grant = Grant::from_stored(type_name, stored).ok_or_else(|| {
        invalid(
            type_name,
            "the stored member has no resource, role or member",
        )
    })?;
    match change_member(client, writers, &grant, MemberChange::Remove).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(api_error(type_name, e)),
    }
}

/// An import id split into its resource, its role, and the rest: the member,
/// possibly followed by `/` and a condition title.
#[derive(Debug, PartialEq)]
struct ImportId<'a> {
    resource: PolicyResource,
    role: &'a str,
    rest: &'a str,
}

/// Splits `RESOURCE/ROLE/MEMBER[/TITLE]`, or Terraform's `RESOURCE ROLE MEMBER [TITLE]`;
/// returns the parts and the separator that comes before a title.
///
/// Roles (`roles/x`, `projects/p/roles/x`) and members (`principal://…`,
/// `serviceAccount:p.svc.id.goog[ns/ksa]`) may hold slashes, so the member and
/// title are told apart later, against the policy.
fn parse_import_id<'a>(type_name: &str, id: &'a str) -> Option<(ImportId<'a>, char)> {
    let id = id.trim();
    let slash_form = || {
        let resource_end = if type_name == PROJECT_IAM_MEMBER {
            nth_slash(id, 1)?
        } else {
            nth_slash(id, 4)?
        };
        let after_resource = id.get(resource_end + 1..)?;
        let role_segments = if after_resource.starts_with("roles/") {
            2
        } else {
            4
        };
        let role_end = nth_slash(after_resource, role_segments)?;
        import_id(
            type_name,
            id.get(..resource_end)?,
            after_resource.get(..role_end)?,
            after_resource.get(role_end + 1..)?,
        )
    };
    let space_form = || {
        let (resource, after_resource) = id.split_once(char::is_whitespace)?;
        let (role, rest) = after_resource
            .trim_start()
            .split_once(char::is_whitespace)?;
        import_id(type_name, resource, role, rest)
    };
    slash_form()
        .map(|import| (import, '/'))
        .or_else(|| space_form().map(|import| (import, ' ')))
}

/// Checks the parts of an import id.
fn import_id<'a>(
    type_name: &str,
    resource: &'a str,
    role: &'a str,
    rest: &'a str,
) -> Option<ImportId<'a>> {
    let rest = rest.trim();
    let role_ok = role.starts_with("roles/")
        || ((role.starts_with("projects/") || role.starts_with("organizations/"))
            && role.contains("/roles/"));
    let resource_ok = if type_name == PROJECT_IAM_MEMBER {
        !resource.is_empty() && !resource.contains('/')
    } else {
        resource.starts_with("projects/")
            && resource.split('/').nth(2) == Some("serviceAccounts")
            && resource.split('/').count() == 4
    };
    let no_blanks = !resource.contains(char::is_whitespace) && !role.contains(char::is_whitespace);
    (role_ok && resource_ok && no_blanks && !rest.is_empty()).then(|| ImportId {
        resource: PolicyResource::of(type_name, resource),
        role,
        rest,
    })
}

/// The byte index of the `n`th `/` (1-based) of `text`.
fn nth_slash(text: &str, n: usize) -> Option<usize> {
    text.match_indices('/')
        .nth(n.checked_sub(1)?)
        .map(|(i, _)| i)
}

/// Finds the grant an import id names in a policy.
fn find_import(import: &ImportId<'_>, policy: &Json, separator: char) -> Option<Grant> {
    bindings(policy)
        .iter()
        .filter(|b| b.get("role").and_then(Json::as_str) == Some(import.role))
        .find_map(|binding| {
            let condition = binding.get("condition").and_then(Condition::from_json);
            members(binding).find_map(|member| {
                let wanted = match &condition {
                    None => import.rest.to_string(),
                    Some(c) => {
                        let title_at = import.rest.len().checked_sub(c.title.len() + 1)?;
                        let (who, title) = import.rest.split_at_checked(title_at)?;
                        if title.strip_prefix(separator)? != c.title {
                            return None;
                        }
                        who.trim_end().to_string()
                    }
                };
                same_member(member, &wanted).then(|| Grant {
                    resource: import.resource.clone(),
                    role: import.role.to_string(),
                    member: wanted,
                    condition: condition.clone(),
                })
            })
        })
}

pub(super) async fn import_member(
    client: &GcpClient,
    type_name: &str,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    let shape = if type_name == PROJECT_IAM_MEMBER {
        "PROJECT/ROLE/MEMBER[/CONDITION_TITLE]"
    } else {
        "projects/P/serviceAccounts/EMAIL/ROLE/MEMBER[/CONDITION_TITLE]"
    };
    let (import, separator) = parse_import_id(type_name, id)
        .ok_or_else(|| invalid(type_name, format!("{id:?} is not {shape}")))?;
    let policy = import
        .resource
        .get_policy(client)
        .await
        .map_err(|e| api_error(type_name, e))?;
    let grant = find_import(&import, &policy, separator).ok_or_else(|| {
        invalid(
            type_name,
            format!(
                "the policy of {} has no member {:?} in role {}",
                import.resource.lock_key(),
                import.rest,
                import.role
            ),
        )
    })?;
    Ok(grant.object(type_name, etag_of(&policy)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: &str, member: &str, condition: Option<(&str, &str)>) -> Grant {
        Grant {
            resource: PolicyResource::Project("p".into()),
            role: role.into(),
            member: member.into(),
            condition: condition.map(|(title, expression)| Condition {
                title: title.into(),
                description: None,
                expression: expression.into(),
            }),
        }
    }

    /// Applies a change to a policy's bindings and compares the bindings after.
    fn check(change: MemberChange, grant: Grant, before: Json, after: Json) {
        let mut policy = json!({ "etag": "E", "auditConfigs": [{"service": "allServices"}], "bindings": before.clone() });
        let changed = match change {
            MemberChange::Add => grant.add_to(&mut policy),
            MemberChange::Remove => grant.remove_from(&mut policy),
        };
        assert_eq!(policy["bindings"], after);
        assert!(changed, "the change reports that it changed the policy");
        assert_eq!(policy["auditConfigs"], json!([{"service": "allServices"}]));
        assert_eq!(policy["etag"], "E");
    }

    #[test]
    fn add_appends_to_the_role_and_keeps_others() {
        check(
            MemberChange::Add,
            grant("roles/viewer", "user:b@x.com", None),
            json!([{"role": "roles/owner", "members": ["user:creator@x.com"]},
                   {"role": "roles/viewer", "members": ["user:a@x.com"]}]),
            json!([{"role": "roles/owner", "members": ["user:creator@x.com"]},
                   {"role": "roles/viewer", "members": ["user:a@x.com", "user:b@x.com"]}]),
        );
    }

    #[test]
    fn add_is_case_insensitive_for_emails() {
        let mut policy =
            json!({"bindings": [{"role": "roles/viewer", "members": ["user:A@X.com"]}]});
        assert!(!grant("roles/viewer", "user:a@x.com", None).add_to(&mut policy));
    }

    #[test]
    fn add_creates_a_conditional_binding_apart() {
        check(
            MemberChange::Add,
            grant("roles/viewer", "user:a@x.com", Some(("t", "true"))),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com"]}]),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com"]},
                   {"role": "roles/viewer", "members": ["user:a@x.com"],
                    "condition": {"title": "t", "expression": "true"}}]),
        );
    }

    #[test]
    fn add_merges_duplicate_bindings() {
        check(
            MemberChange::Add,
            grant("roles/viewer", "user:c@x.com", None),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com"]},
                   {"role": "roles/editor", "members": ["user:e@x.com"]},
                   {"role": "roles/viewer", "members": ["user:b@x.com", "user:a@x.com"]}]),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com", "user:b@x.com", "user:c@x.com"]},
                   {"role": "roles/editor", "members": ["user:e@x.com"]}]),
        );
    }

    #[test]
    fn remove_keeps_other_members_and_deleted_principals() {
        check(
            MemberChange::Remove,
            grant(
                "roles/viewer",
                "serviceAccount:sa@p.iam.gserviceaccount.com",
                None,
            ),
            json!([{"role": "roles/viewer", "members": [
                "serviceAccount:SA@p.iam.gserviceaccount.com",
                "deleted:serviceAccount:sa@p.iam.gserviceaccount.com?uid=1",
                "user:a@x.com"]}]),
            json!([{"role": "roles/viewer", "members": [
                "deleted:serviceAccount:sa@p.iam.gserviceaccount.com?uid=1",
                "user:a@x.com"]}]),
        );
    }

    #[test]
    fn remove_drops_the_emptied_binding_only() {
        check(
            MemberChange::Remove,
            grant("roles/viewer", "user:a@x.com", Some(("t", "true"))),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com"]},
                   {"role": "roles/viewer", "members": ["user:a@x.com"],
                    "condition": {"title": "t", "expression": "true"}}]),
            json!([{"role": "roles/viewer", "members": ["user:a@x.com"]}]),
        );
    }

    #[test]
    fn remove_of_an_absent_member_changes_nothing() {
        let mut policy =
            json!({"bindings": [{"role": "roles/viewer", "members": ["user:a@x.com"]}]});
        assert!(!grant("roles/viewer", "user:b@x.com", None).remove_from(&mut policy));
    }

    #[test]
    fn descriptions_missing_or_empty_match() {
        let mut with_empty = grant("roles/viewer", "user:a@x.com", Some(("t", "true")));
        if let Some(c) = &mut with_empty.condition {
            c.description = Some(String::new());
        }
        let policy = json!({"bindings": [{"role": "roles/viewer", "members": ["user:a@x.com"],
            "condition": {"title": "t", "expression": "true"}}]});
        assert!(with_empty.is_in(&policy));
    }

    #[test]
    fn ids() {
        assert_eq!(
            grant("roles/viewer", "user:a@x.com", None).id(),
            "p/roles/viewer/user:a@x.com"
        );
        assert_eq!(
            grant("roles/viewer", "user:a@x.com", Some(("t", "true"))).id(),
            "p/roles/viewer/user:a@x.com/t"
        );
    }

    fn parsed(type_name: &str, id: &str) -> Option<(String, String, String)> {
        parse_import_id(type_name, id).map(|(i, _)| {
            (
                i.resource.parent().to_string(),
                i.role.to_string(),
                i.rest.to_string(),
            )
        })
    }

    #[test]
    fn import_ids() {
        let t = |a: &str, b: &str, c: &str| Some((a.to_string(), b.to_string(), c.to_string()));
        assert_eq!(
            parsed(PROJECT_IAM_MEMBER, "p/roles/viewer/user:a@x.com"),
            t("p", "roles/viewer", "user:a@x.com")
        );
        assert_eq!(
            parsed(
                PROJECT_IAM_MEMBER,
                "p/projects/p/roles/custom/user:a@x.com/title"
            ),
            t("p", "projects/p/roles/custom", "user:a@x.com/title")
        );
        assert_eq!(
            parsed(PROJECT_IAM_MEMBER, "p roles/viewer user:a@x.com"),
            t("p", "roles/viewer", "user:a@x.com")
        );
        assert_eq!(
            parsed(
                SERVICE_ACCOUNT_IAM_MEMBER,
                "projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com/roles/iam.workloadIdentityUser/serviceAccount:p.svc.id.goog[ns/ksa]"
            ),
            t(
                "projects/p/serviceAccounts/sa@p.iam.gserviceaccount.com",
                "roles/iam.workloadIdentityUser",
                "serviceAccount:p.svc.id.goog[ns/ksa]"
            )
        );
        assert_eq!(parsed(PROJECT_IAM_MEMBER, "p/roles/viewer"), None);
        assert_eq!(
            parsed(SERVICE_ACCOUNT_IAM_MEMBER, "p/roles/viewer/user:a@x.com"),
            None
        );
    }

    #[test]
    fn import_tells_member_from_condition_title() {
        let policy = json!({"bindings": [
            {"role": "roles/viewer", "members": ["serviceAccount:p.svc.id.goog[ns/ksa]"]},
            {"role": "roles/viewer", "members": ["user:a@x.com"],
             "condition": {"title": "until 2030", "expression": "true"}}]});
        let (import, separator) =
            parse_import_id(PROJECT_IAM_MEMBER, "p/roles/viewer/user:a@x.com/until 2030")
                .expect("parses");
        let found = find_import(&import, &policy, separator).expect("found");
        assert_eq!(found.member, "user:a@x.com");
        assert_eq!(
            found.condition.map(|c| c.title).as_deref(),
            Some("until 2030")
        );
        let (import, separator) = parse_import_id(
            PROJECT_IAM_MEMBER,
            "p/roles/viewer/serviceAccount:p.svc.id.goog[ns/ksa]",
        )
        .expect("parses");
        let found = find_import(&import, &policy, separator).expect("found");
        assert_eq!(found.condition, None);
        let (import, separator) =
            parse_import_id(PROJECT_IAM_MEMBER, "p roles/viewer user:a@x.com until 2030")
                .expect("parses");
        let found = find_import(&import, &policy, separator).expect("found");
        assert_eq!(
            found.condition.map(|c| c.title).as_deref(),
            Some("until 2030")
        );
    }
}
