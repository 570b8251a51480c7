//! Google Cloud resource types over REST: one file per API family, all calls
//! through `client::GcpClient`.

mod batch;
pub mod client;
mod dns;
mod iam;
mod project;
mod secretmanager;
mod spanner;
mod sql;

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::{Provider, ProviderError, ProviderFuture, RemoteObject};
use crate::lang::Value;
pub use client::{ClientOptions, DefaultCredentials, Endpoints, GcpClient, GcpError, TokenSource};

/// The provider of every `google_*` type that this build implements.
pub struct GcpProvider {
    client: Arc<GcpClient>,
    /// Batches this process's writers to each IAM policy, and knows the accounts it created.
    policy_writers: iam::PolicyWriters,
    /// Batches the services enabled in each project.
    enables: project::Enables,
    /// Shares reads of one IAM policy.
    policy_reads: iam::PolicyReads,
}

impl GcpProvider {
    pub fn new(client: Arc<GcpClient>) -> GcpProvider {
        GcpProvider {
            client,
            policy_writers: iam::PolicyWriters::default(),
            enables: project::Enables::default(),
            policy_reads: iam::PolicyReads::default(),
        }
    }

    /// Whether this build implements the type.
    pub fn supports(type_name: &str) -> bool {
        matches!(
            type_name,
            "google_project"
                | "google_project_service"
                | "google_spanner_instance"
                | "google_spanner_database"
                | "google_service_account"
                | "google_project_iam_member"
                | "google_service_account_iam_member"
                | "google_secret_manager_secret"
                | "google_secret_manager_secret_version"
        ) || sql::TYPES.contains(&type_name)
            || dns::TYPES.contains(&type_name)
    }
}

fn api_error(type_name: &str, e: GcpError) -> ProviderError {
    ProviderError::Api {
        method: format!("{type_name}: {} {}", e.method, e.path),
        status: e.status,
        message: match e.status_name {
            Some(name) => format!("{name}: {}", e.message),
            None => e.message,
        },
    }
}

/// A resource's values that its API cannot take, said before any call.
fn invalid(type_name: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid {
        type_name: type_name.to_string(),
        message: message.into(),
    }
}

/// Refuses to delete a resource whose stored `deletion_protection` is not off, as
/// Terraform does; `what` names it (`instance main`).
fn refuse_if_protected(
    type_name: &str,
    what: &str,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    let unprotected = stored
        .attributes
        .get("deletion_protection")
        .and_then(Json::as_bool)
        == Some(false);
    if unprotected {
        return Ok(());
    }
    Err(invalid(
        type_name,
        format!(
            "{what} has deletion_protection on; set `deletion_protection = false` and apply before destroying it"
        ),
    ))
}

fn unsupported(type_name: &str, operation: &'static str) -> ProviderError {
    ProviderError::Unsupported {
        type_name: type_name.to_string(),
        operation,
    }
}

/// A string attribute of a planned value.
fn planned_str<'v>(planned: &'v Value, name: &str) -> Option<&'v str> {
    planned.get_attr(name).and_then(Value::as_str)
}

fn planned_bool(planned: &Value, name: &str, default: bool) -> bool {
    planned
        .get_attr(name)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

fn stored_str<'v>(stored: &'v RemoteObject, name: &str) -> Option<&'v str> {
    stored.attributes.get(name).and_then(Json::as_str)
}

/// A string map attribute of a planned value as JSON.
fn planned_map(planned: &Value, name: &str) -> Json {
    match planned.get_attr(name) {
        Some(v) if !v.is_null() => v.clone().unmark_deep().0.to_json(),
        _ => Json::Object(Map::new()),
    }
}

impl Provider for GcpProvider {
    fn read<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, Option<RemoteObject>> {
        Box::pin(async move {
            let read = match type_name {
                "google_project" => project::read_project(&self.client, stored).await,
                "google_project_service" => project::read_service(&self.client, stored).await,
                "google_spanner_instance" => spanner::read_instance(&self.client, stored).await,
                "google_spanner_database" => spanner::read_database(&self.client, stored).await,
                "google_secret_manager_secret" => {
                    secretmanager::read_secret(&self.client, stored).await
                }
                "google_secret_manager_secret_version" => {
                    secretmanager::read_version(&self.client, stored).await
                }
                "google_service_account" => iam::read_service_account(&self.client, stored).await,
                iam::PROJECT_IAM_MEMBER | iam::SERVICE_ACCOUNT_IAM_MEMBER => {
                    iam::read_member(&self.client, &self.policy_reads, type_name, stored).await
                }
                t if sql::TYPES.contains(&t) => return sql::read(&self.client, t, stored).await,
                t if dns::TYPES.contains(&t) => return dns::read(&self.client, t, stored).await,
                _ => return Err(unsupported(type_name, "read")),
            };
            read.map_err(|e| api_error(type_name, e))
        })
    }

    fn create<'a>(
        &'a self,
        type_name: &'a str,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move {
            match type_name {
                "google_project" => project::create_project(&self.client, planned).await,
                "google_project_service" => {
                    project::enable_service(&self.client, &self.enables, planned).await
                }
                "google_spanner_instance" => spanner::create_instance(&self.client, planned).await,
                "google_spanner_database" => spanner::create_database(&self.client, planned).await,
                "google_secret_manager_secret" => {
                    secretmanager::create_secret(&self.client, planned).await
                }
                "google_secret_manager_secret_version" => {
                    secretmanager::create_version(&self.client, planned).await
                }
                "google_service_account" => {
                    iam::create_service_account(&self.client, &self.policy_writers, planned).await
                }
                iam::PROJECT_IAM_MEMBER | iam::SERVICE_ACCOUNT_IAM_MEMBER => {
                    iam::create_member(&self.client, &self.policy_writers, type_name, planned).await
                }
                t if sql::TYPES.contains(&t) => sql::create(&self.client, t, planned).await,
                t if dns::TYPES.contains(&t) => dns::create(&self.client, t, planned).await,
                _ => Err(unsupported(type_name, "create")),
            }
        })
    }

    fn update<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move {
            match type_name {
                "google_project" => project::update_project(&self.client, stored, planned).await,
                "google_project_service" => Ok(project::service_object(planned, stored)),
                "google_spanner_instance" => {
                    spanner::update_instance(&self.client, stored, planned).await
                }
                "google_spanner_database" => {
                    spanner::update_database(&self.client, stored, planned).await
                }
                "google_secret_manager_secret" => {
                    secretmanager::update_secret(&self.client, stored, planned).await
                }
                "google_secret_manager_secret_version" => {
                    secretmanager::update_version(&self.client, stored, planned).await
                }
                "google_service_account" => {
                    iam::update_service_account(&self.client, stored, planned).await
                }
                iam::PROJECT_IAM_MEMBER | iam::SERVICE_ACCOUNT_IAM_MEMBER => {
                    iam::update_member(type_name, stored, planned)
                }
                t if sql::TYPES.contains(&t) => sql::update(&self.client, t, stored, planned).await,
                t if dns::TYPES.contains(&t) => dns::update(&self.client, t, stored, planned).await,
                _ => Err(unsupported(type_name, "update")),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            match type_name {
                "google_project" => project::delete_project(&self.client, stored).await,
                "google_project_service" => project::disable_service(&self.client, stored).await,
                "google_spanner_instance" => spanner::delete_instance(&self.client, stored).await,
                "google_spanner_database" => spanner::delete_database(&self.client, stored).await,
                "google_secret_manager_secret" => {
                    secretmanager::delete_secret(&self.client, stored).await
                }
                "google_secret_manager_secret_version" => {
                    secretmanager::destroy_version(&self.client, stored).await
                }
                "google_service_account" => {
                    iam::delete_service_account(&self.client, &self.policy_writers, stored).await
                }
                iam::PROJECT_IAM_MEMBER | iam::SERVICE_ACCOUNT_IAM_MEMBER => {
                    iam::delete_member(&self.client, &self.policy_writers, type_name, stored).await
                }
                t if sql::TYPES.contains(&t) => sql::delete(&self.client, t, stored).await,
                t if dns::TYPES.contains(&t) => dns::delete(&self.client, t, stored).await,
                _ => Err(unsupported(type_name, "delete")),
            }
        })
    }

    fn import<'a>(&'a self, type_name: &'a str, id: &'a str) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move {
            match type_name {
                "google_project" => project::import_project(&self.client, id).await,
                "google_project_service" => project::import_service(&self.client, id).await,
                "google_spanner_instance" => spanner::import_instance(&self.client, id).await,
                "google_spanner_database" => spanner::import_database(&self.client, id).await,
                "google_secret_manager_secret" => {
                    secretmanager::import_secret(&self.client, id).await
                }
                "google_secret_manager_secret_version" => {
                    secretmanager::import_version(&self.client, id).await
                }
                "google_service_account" => iam::import_service_account(&self.client, id).await,
                iam::PROJECT_IAM_MEMBER | iam::SERVICE_ACCOUNT_IAM_MEMBER => {
                    iam::import_member(&self.client, type_name, id).await
                }
                t if sql::TYPES.contains(&t) => sql::import(&self.client, t, id).await,
                t if dns::TYPES.contains(&t) => dns::import(&self.client, t, id).await,
                _ => Err(unsupported(type_name, "import")),
            }
        })
    }
}
