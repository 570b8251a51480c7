//! `google_sql_database_instance`, `google_sql_database` and `google_sql_user`
//! (Cloud SQL Admin v1).

use super::{GcpClient, unsupported};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

/// The types this module implements.
pub const TYPES: &[&str] = &[
    "google_sql_database_instance",
    "google_sql_database",
    "google_sql_user",
];

pub async fn read(
    _client: &GcpClient,
    type_name: &str,
    _stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    Err(unsupported(type_name, "read"))
}

pub async fn create(
    _client: &GcpClient,
    type_name: &str,
    _planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    Err(unsupported(type_name, "create"))
}

pub async fn update(
    _client: &GcpClient,
    type_name: &str,
    _stored: &RemoteObject,
    _planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    Err(unsupported(type_name, "update"))
}

pub async fn delete(
    _client: &GcpClient,
    type_name: &str,
    _stored: &RemoteObject,
) -> Result<(), ProviderError> {
    Err(unsupported(type_name, "delete"))
}

pub async fn import(
    _client: &GcpClient,
    type_name: &str,
    _id: &str,
) -> Result<RemoteObject, ProviderError> {
    Err(unsupported(type_name, "import"))
}
