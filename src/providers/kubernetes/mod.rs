//! Kubernetes resource types through the API server of an environment's cluster.

use super::{Provider, ProviderError, ProviderFuture, RemoteObject};
use crate::lang::Value;

/// The provider of every `kubernetes_*` type in one cluster.
pub struct KubernetesProvider {}

impl KubernetesProvider {
    /// Whether the type is a Kubernetes type.
    pub fn supports(type_name: &str) -> bool {
        type_name.starts_with("kubernetes_")
    }
}

fn unsupported(type_name: &str, operation: &'static str) -> ProviderError {
    ProviderError::Unsupported {
        type_name: type_name.to_string(),
        operation,
    }
}

impl Provider for KubernetesProvider {
    fn read<'a>(
        &'a self,
        type_name: &'a str,
        _stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, Option<RemoteObject>> {
        Box::pin(async move { Err(unsupported(type_name, "read")) })
    }

    fn create<'a>(
        &'a self,
        type_name: &'a str,
        _planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move { Err(unsupported(type_name, "create")) })
    }

    fn update<'a>(
        &'a self,
        type_name: &'a str,
        _stored: &'a RemoteObject,
        _planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move { Err(unsupported(type_name, "update")) })
    }

    fn delete<'a>(
        &'a self,
        type_name: &'a str,
        _stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, ()> {
        Box::pin(async move { Err(unsupported(type_name, "delete")) })
    }

    fn import<'a>(&'a self, type_name: &'a str, _id: &'a str) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move { Err(unsupported(type_name, "import")) })
    }
}
