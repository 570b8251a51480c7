//! `google_project` (Resource Manager v3 and Cloud Billing v1) and
//! `google_project_service` (Service Usage v1).

use reqwest::Method;
use serde_json::{Map, Value as Json, json};

use super::batch::Batches;
use super::{
    GcpClient, GcpError, api_error, invalid, planned_bool, planned_map, planned_str, stored_str,
};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

const CRM: &str = "cloudresourcemanager";
const BILLING: &str = "cloudbilling";
const SERVICE_USAGE: &str = "serviceusage";

/// `organizations/N` or `folders/N` from the planned `org_id` / `folder_id`.
fn planned_parent(planned: &Value) -> Option<String> {
    planned_str(planned, "folder_id")
        .map(|f| format!("folders/{f}"))
        .or_else(|| planned_str(planned, "org_id").map(|o| format!("organizations/{o}")))
}

fn stored_parent(stored: &RemoteObject) -> Option<String> {
    stored_str(stored, "folder_id")
        .map(|f| format!("folders/{f}"))
        .or_else(|| stored_str(stored, "org_id").map(|o| format!("organizations/{o}")))
}

/// Whether `parent` lists the project among its children (deleted ones included).
async fn listed_under(
    client: &GcpClient,
    parent: &str,
    project_id: &str,
) -> Result<bool, GcpError> {
    let mut page_token = String::new();
    loop {
        let mut path = format!("v3/projects?parent={parent}&showDeleted=true&pageSize=500");
        if !page_token.is_empty() {
            path.push_str(&format!("&pageToken={page_token}"));
        }
        let page = client.call(CRM, Method::GET, &path, None).await?;
        let found = page
            .get("projects")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .any(|p| p.get("projectId").and_then(Json::as_str) == Some(project_id));
        if found {
            return Ok(true);
        }
        match page.get("nextPageToken").and_then(Json::as_str) {
            Some(token) if !token.is_empty() => page_token = token.to_string(),
            _ => return Ok(false),
        }
    }
}

/// Labels as Google returns them, with an empty map read as unset so that a
/// spec without labels matches a project without any.
fn labels_of(project: &Json) -> Json {
    match project.get("labels") {
        Some(Json::Object(m)) if !m.is_empty() => Json::Object(m.clone()),
        _ => Json::Null,
    }
}

fn empty_as_null(labels: Json) -> Json {
    match labels {
        Json::Object(m) if m.is_empty() => Json::Null,
        other => other,
    }
}

/// The stored attributes of a project as Google describes it; its billing info is
/// read unless a call that just set it returned it.
async fn project_object(
    client: &GcpClient,
    project: &Json,
    deletion_policy: &str,
    billing: Option<Json>,
) -> Result<RemoteObject, GcpError> {
    let project_id = project
        .get("projectId")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let parent = project
        .get("parent")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let billing = match billing {
        Some(billing) => billing,
        None => {
            client
                .call(
                    BILLING,
                    Method::GET,
                    &format!("v1/projects/{project_id}/billingInfo"),
                    None,
                )
                .await?
        }
    };
    let billing_account = billing
        .get("billingAccountName")
        .and_then(Json::as_str)
        .and_then(|n| n.strip_prefix("billingAccounts/"))
        .filter(|n| !n.is_empty())
        .map_or(Json::Null, |n| Json::String(n.to_string()));
    let mut attrs = Map::new();
    attrs.insert("project_id".into(), Json::String(project_id.clone()));
    attrs.insert(
        "name".into(),
        project.get("displayName").cloned().unwrap_or(Json::Null),
    );
    attrs.insert(
        "org_id".into(),
        parent
            .strip_prefix("organizations/")
            .map_or(Json::Null, |o| Json::String(o.to_string())),
    );
    attrs.insert(
        "folder_id".into(),
        parent
            .strip_prefix("folders/")
            .map_or(Json::Null, |f| Json::String(f.to_string())),
    );
    attrs.insert("billing_account".into(), billing_account);
    attrs.insert("labels".into(), labels_of(project));
    attrs.insert(
        "deletion_policy".into(),
        Json::String(deletion_policy.to_string()),
    );
    attrs.insert(
        "number".into(),
        project
            .get("name")
            .and_then(Json::as_str)
            .and_then(|n| n.strip_prefix("projects/"))
            .map_or(Json::Null, |n| Json::String(n.to_string())),
    );
    attrs.insert("id".into(), Json::String(format!("projects/{project_id}")));
    Ok(RemoteObject {
        provider_id: Some(project_id),
        attributes: attrs,
    })
}

/// Reads a project by id; `None` once it is deleted (`DELETE_REQUESTED`) or gone.
async fn get_project(client: &GcpClient, project_id: &str) -> Result<Option<Json>, GcpError> {
    match client
        .call(CRM, Method::GET, &format!("v3/projects/{project_id}"), None)
        .await
    {
        Ok(project) if project.get("state").and_then(Json::as_str) == Some("DELETE_REQUESTED") => {
            Ok(None)
        }
        Ok(project) => Ok(Some(project)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn read_project(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let project_id = stored_str(stored, "project_id")
        .or(stored.provider_id.as_deref())
        .unwrap_or_default();
    let project = match get_project(client, project_id).await {
        Ok(Some(project)) => project,
        Ok(None) => return Ok(None),
        // Google answers a missing project with 403, like one we may not see; the
        // parent's list of projects, which is strongly consistent, tells them apart.
        Err(e) if e.status == Some(403) => match stored_parent(stored) {
            Some(parent) if !listed_under(client, &parent, project_id).await? => return Ok(None),
            _ => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let policy = stored_str(stored, "deletion_policy").unwrap_or("PREVENT");
    project_object(client, &project, policy, None)
        .await
        .map(Some)
}

/// Links a project to a billing account (or unlinks it); returns the billing info
/// Google answers with.
async fn set_billing(
    client: &GcpClient,
    project_id: &str,
    account: Option<&str>,
) -> Result<Json, GcpError> {
    let name = account
        .map(|a| format!("billingAccounts/{a}"))
        .unwrap_or_default();
    client
        .call(
            BILLING,
            Method::PUT,
            &format!("v1/projects/{project_id}/billingInfo"),
            Some(&json!({ "billingAccountName": name })),
        )
        .await
}

pub(super) async fn create_project(
    client: &GcpClient,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_project";
    let project_id =
        planned_str(planned, "project_id").ok_or_else(|| invalid(T, "`project_id` is unknown"))?;
    let parent =
        planned_parent(planned).ok_or_else(|| invalid(T, "set `org_id` or `folder_id`"))?;
    let display_name = planned_str(planned, "name").unwrap_or(project_id);
    let labels = planned_map(planned, "labels");
    let body = json!({ "projectId": project_id, "displayName": display_name, "parent": parent, "labels": labels });
    let created = match client
        .call(CRM, Method::POST, "v3/projects", Some(&body))
        .await
    {
        Ok(operation) => client
            .wait_operation(CRM, "v3", operation)
            .await
            .map_err(|e| api_error(T, e))?,
        // A create whose answer was lost, retried: adopt the project only if it is
        // exactly the one asked for; project ids are global and never reused.
        Err(e) if e.is_already_exists() => {
            let existing = get_project(client, project_id)
                .await
                .map_err(|e| api_error(T, e))?;
            match existing {
                Some(p)
                    if p.get("displayName").and_then(Json::as_str) == Some(display_name)
                        && p.get("parent").and_then(Json::as_str) == Some(parent.as_str())
                        && labels_of(&p) == empty_as_null(labels.clone()) =>
                {
                    tracing::info!(project_id, "adopting the project a lost create made");
                    p
                }
                _ => {
                    return Err(invalid(
                        T,
                        format!(
                            "the project id {project_id:?} is taken (by another project, or a deleted one: ids are never reused); choose another `project_id`"
                        ),
                    ));
                }
            }
        }
        Err(e) => return Err(api_error(T, e)),
    };
    let billing = match planned_str(planned, "billing_account") {
        Some(account) => Some(
            set_billing(client, project_id, Some(account))
                .await
                .map_err(|e| api_error(T, e))?,
        ),
        None => None,
    };
    let policy = planned_str(planned, "deletion_policy").unwrap_or("PREVENT");
    let project = if created.get("projectId").is_some() {
        created
    } else {
        json!({ "projectId": project_id })
    };
    let object = project_object(client, &project, policy, billing)
        .await
        .map_err(|e| api_error(T, e))?;
    Ok(object)
}

pub(super) async fn update_project(
    client: &GcpClient,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_project";
    let project_id = stored_str(stored, "project_id")
        .ok_or_else(|| invalid(T, "the stored project has no id"))?;
    let display_name = planned_str(planned, "name").unwrap_or(project_id);
    let labels = planned_map(planned, "labels");
    if stored_str(stored, "name") != Some(display_name)
        || stored
            .attributes
            .get("labels")
            .cloned()
            .unwrap_or(Json::Null)
            != empty_as_null(labels.clone())
    {
        let body = json!({ "displayName": display_name, "labels": labels });
        client
            .call_and_wait(
                CRM,
                "v3",
                Method::PATCH,
                &format!("v3/projects/{project_id}?updateMask=displayName,labels"),
                Some(&body),
            )
            .await
            .map_err(|e| api_error(T, e))?;
    }
    let stored_parent = stored_str(stored, "folder_id")
        .map(|f| format!("folders/{f}"))
        .or_else(|| stored_str(stored, "org_id").map(|o| format!("organizations/{o}")));
    let parent = planned_parent(planned);
    if let Some(parent) = parent.filter(|p| Some(p) != stored_parent.as_ref()) {
        // A new parent moves the project; it is never replaced.
        client
            .call_and_wait(
                CRM,
                "v3",
                Method::POST,
                &format!("v3/projects/{project_id}:move"),
                Some(&json!({ "destinationParent": parent })),
            )
            .await
            .map_err(|e| api_error(T, e))?;
    }
    let account = planned_str(planned, "billing_account");
    let billing = if account != stored_str(stored, "billing_account") {
        Some(
            set_billing(client, project_id, account)
                .await
                .map_err(|e| api_error(T, e))?,
        )
    } else {
        None
    };
    let policy = planned_str(planned, "deletion_policy").unwrap_or("PREVENT");
    let project = get_project(client, project_id)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| {
            invalid(
                T,
                format!("project {project_id} disappeared during the update"),
            )
        })?;
    project_object(client, &project, policy, billing)
        .await
        .map_err(|e| api_error(T, e))
}

pub(super) async fn delete_project(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_project";
    let project_id = stored_str(stored, "project_id")
        .ok_or_else(|| invalid(T, "the stored project has no id"))?;
    match stored_str(stored, "deletion_policy").unwrap_or("PREVENT") {
        "ABANDON" => Ok(()),
        "DELETE" => {
            let operation = match client
                .call(
                    CRM,
                    Method::DELETE,
                    &format!("v3/projects/{project_id}"),
                    None,
                )
                .await
            {
                Ok(op) => op,
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(api_error(T, e)),
            };
            client
                .wait_operation(CRM, "v3", operation)
                .await
                .map(|_| ())
                .map_err(|e| api_error(T, e))
        }
        _ => Err(invalid(
            T,
            format!(
                "project {project_id} has deletion_policy PREVENT; set it to \"DELETE\" (or \"ABANDON\" to keep the project) to remove it"
            ),
        )),
    }
}

pub(super) async fn import_project(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_project";
    let project_id = id.strip_prefix("projects/").unwrap_or(id);
    let project = get_project(client, project_id)
        .await
        .map_err(|e| api_error(T, e))?
        .ok_or_else(|| invalid(T, format!("project {project_id} does not exist")))?;
    project_object(client, &project, "PREVENT", None)
        .await
        .map_err(|e| api_error(T, e))
}

/// The stored attributes of an enabled service.
pub(super) fn service_object(planned: &Value, stored: &RemoteObject) -> RemoteObject {
    let project = planned_str(planned, "project")
        .or(stored_str(stored, "project"))
        .unwrap_or_default();
    let service = planned_str(planned, "service")
        .or(stored_str(stored, "service"))
        .unwrap_or_default();
    let id = format!("{project}/{service}");
    let mut attrs = Map::new();
    attrs.insert("project".into(), Json::String(project.to_string()));
    attrs.insert("service".into(), Json::String(service.to_string()));
    attrs.insert(
        "disable_on_destroy".into(),
        Json::Bool(planned_bool(planned, "disable_on_destroy", true)),
    );
    attrs.insert(
        "disable_dependent_services".into(),
        Json::Bool(planned_bool(planned, "disable_dependent_services", false)),
    );
    attrs.insert("id".into(), Json::String(id.clone()));
    RemoteObject {
        provider_id: Some(id),
        attributes: attrs,
    }
}

pub(super) async fn read_service(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, GcpError> {
    let (Some(project), Some(service)) =
        (stored_str(stored, "project"), stored_str(stored, "service"))
    else {
        return Ok(None);
    };
    let state = match client
        .call(
            SERVICE_USAGE,
            Method::GET,
            &format!("v1/projects/{project}/services/{service}"),
            None,
        )
        .await
    {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    if state.get("state").and_then(Json::as_str) != Some("ENABLED") {
        return Ok(None);
    }
    Ok(Some(stored.clone()))
}

/// The services being enabled in each project; those that arrive together are
/// enabled with one `batchEnable`.
pub(super) type Enables = Batches<String, Result<(), GcpError>>;

/// `services:batchEnable` takes at most this many services.
const ENABLE_BATCH: usize = 20;

pub(super) async fn enable_service(
    client: &GcpClient,
    enables: &Enables,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_project_service";
    let (Some(project), Some(service)) = (
        planned_str(planned, "project"),
        planned_str(planned, "service"),
    ) else {
        return Err(invalid(T, "`project` and `service` must be known"));
    };
    let run = |services: Vec<String>| async move {
        match enable_batch(client, project, &services).await {
            // A batch is atomic: one unknown service fails it whole, so each is
            // then enabled on its own to find out which.
            Err(e) if services.len() > 1 && !e.is_retryable() => {
                let mut results = Vec::new();
                for service in &services {
                    results
                        .push(enable_batch(client, project, std::slice::from_ref(service)).await);
                }
                results
            }
            outcome => vec![outcome; services.len()],
        }
    };
    enables
        .submit(project, service.to_string(), ENABLE_BATCH, run)
        .await
        .map_err(|e| api_error(T, e))?;
    Ok(service_object(
        planned,
        &RemoteObject {
            provider_id: None,
            attributes: Map::new(),
        },
    ))
}

/// Enables services of one project: `:enable` for one, `:batchEnable` for several.
async fn enable_batch(
    client: &GcpClient,
    project: &str,
    services: &[String],
) -> Result<(), GcpError> {
    let (path, body) = match services {
        [service] => (
            format!("v1/projects/{project}/services/{service}:enable"),
            json!({}),
        ),
        _ => (
            format!("v1/projects/{project}/services:batchEnable"),
            json!({ "serviceIds": services }),
        ),
    };
    client
        .call_and_wait(SERVICE_USAGE, "v1", Method::POST, &path, Some(&body))
        .await
        .map(|_| ())
}

pub(super) async fn disable_service(
    client: &GcpClient,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    const T: &str = "google_project_service";
    if stored
        .attributes
        .get("disable_on_destroy")
        .and_then(Json::as_bool)
        == Some(false)
    {
        return Ok(());
    }
    let (Some(project), Some(service)) =
        (stored_str(stored, "project"), stored_str(stored, "service"))
    else {
        return Err(invalid(T, "the stored service has no project or name"));
    };
    let dependents = stored
        .attributes
        .get("disable_dependent_services")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let body = json!({ "disableDependentServices": dependents });
    let operation = match client
        .call(
            SERVICE_USAGE,
            Method::POST,
            &format!("v1/projects/{project}/services/{service}:disable"),
            Some(&body),
        )
        .await
    {
        Ok(op) => op,
        // Not enabled any more: nothing to do.
        Err(e) if e.status_name.as_deref() == Some("FAILED_PRECONDITION") || e.is_not_found() => {
            return Ok(());
        }
        Err(e) => return Err(api_error(T, e)),
    };
    client
        .wait_operation(SERVICE_USAGE, "v1", operation)
        .await
        .map(|_| ())
        .map_err(|e| api_error(T, e))
}

pub(super) async fn import_service(
    client: &GcpClient,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    const T: &str = "google_project_service";
    let Some((project, service)) = id.split_once('/') else {
        return Err(invalid(T, format!("{id:?} is not PROJECT/SERVICE")));
    };
    let mut attrs = Map::new();
    attrs.insert("project".into(), Json::String(project.to_string()));
    attrs.insert("service".into(), Json::String(service.to_string()));
    let stored = RemoteObject {
        provider_id: Some(id.to_string()),
        attributes: attrs,
    };
    let found = read_service(client, &stored)
        .await
        .map_err(|e| api_error(T, e))?;
    match found {
        Some(_) => {
            let planned = Value::Object(
                [
                    ("project".to_string(), Value::string(project)),
                    ("service".to_string(), Value::string(service)),
                ]
                .into_iter()
                .collect(),
            );
            Ok(service_object(&planned, &stored))
        }
        None => Err(invalid(T, format!("{service} is not enabled in {project}"))),
    }
}
