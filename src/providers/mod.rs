//! The provider interface: how a resource type is read, created, updated,
//! deleted and imported, and the registry that maps types to providers.
//!
//! Invariant: providers know nothing of plans, graphs or state documents. They
//! take a resource's attributes and return what the API reports.

pub mod gcp;
pub mod kubernetes;
pub mod priority;
pub mod random;
pub mod retry;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::lang::Value;

/// A boxed future, so that providers can be used as trait objects.
pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A resource as the provider reports it.
#[derive(Clone, PartialEq)]
pub struct RemoteObject {
    /// The id the API knows the resource by.
    pub provider_id: Option<String>,
    /// Attribute values in the shape of the type's schema; nested blocks are lists of objects.
    pub attributes: Map<String, Json>,
}

/// Shows attribute values except those of attributes any schema marks sensitive
/// (passwords, secret payloads), so that a logged or failed comparison leaks nothing.
impl std::fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: serde_json::Map<String, Json> = self
            .attributes
            .iter()
            .map(|(name, value)| {
                let value = if crate::schema::is_sensitive_name(name) && !value.is_null() {
                    Json::String("(sensitive value)".to_string())
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect();
        f.debug_struct("RemoteObject")
            .field("provider_id", &self.provider_id)
            .field("attributes", &shown)
            .finish()
    }
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{type_name} does not support {operation}")]
    Unsupported {
        type_name: String,
        operation: &'static str,
    },
    #[error("{type_name}: {message}")]
    Invalid { type_name: String, message: String },
    #[error("{method} failed{}: {message}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default())]
    Api {
        method: String,
        status: Option<u16>,
        message: String,
    },
}

impl ProviderError {
    /// Whether the API refused the call outright, so that nothing was made: a 4xx
    /// answer other than a timeout, a conflict or a rate limit, or a check before
    /// any call.
    pub fn refused_outright(&self) -> bool {
        match self {
            ProviderError::Unsupported { .. } | ProviderError::Invalid { .. } => true,
            ProviderError::Api { status, .. } => {
                matches!(status, Some(s) if (400..500).contains(s) && !matches!(s, 408 | 409 | 429))
            }
        }
    }
}

/// One family of resource types behind one API (or none, for `random_*`).
pub trait Provider: Send + Sync {
    /// Reads a resource's current attributes; `None` when it no longer exists.
    fn read<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, Option<RemoteObject>>;

    /// Creates a resource from its planned value (unknown attributes are the provider's to fill).
    fn create<'a>(
        &'a self,
        type_name: &'a str,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject>;

    /// Updates a resource in place to its planned value.
    fn update<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject>;

    /// Deletes a resource.
    fn delete<'a>(&'a self, type_name: &'a str, stored: &'a RemoteObject)
    -> ProviderFuture<'a, ()>;

    /// Reads an existing resource by the id a user gives to `import`.
    fn import<'a>(&'a self, type_name: &'a str, id: &'a str) -> ProviderFuture<'a, RemoteObject>;
}

/// Maps resource types to the providers that manage them.
#[derive(Default)]
pub struct Registry {
    random: random::RandomProvider,
    gcp: Option<gcp::GcpProvider>,
    /// The provider of each environment's cluster, by environment name; environments
    /// may share a cluster, and then share its provider.
    kubernetes: BTreeMap<String, Arc<kubernetes::KubernetesProvider>>,
}

impl Registry {
    /// The providers available without any credentials or endpoints.
    pub fn local() -> Registry {
        Registry::default()
    }

    /// Adds the Google provider.
    pub fn with_gcp(mut self, gcp: gcp::GcpProvider) -> Registry {
        self.gcp = Some(gcp);
        self
    }

    /// Adds the provider of the cluster that an environment's namespaces land in.
    pub fn with_cluster(
        mut self,
        env: &str,
        cluster: Arc<kubernetes::KubernetesProvider>,
    ) -> Registry {
        self.kubernetes.insert(env.to_string(), cluster);
        self
    }

    /// Whether a type lives only in state (`random_*`): creating one calls no API,
    /// so an interrupted create leaves nothing behind.
    pub fn is_local(type_name: &str) -> bool {
        type_name.starts_with("random_")
    }

    /// The provider of a type in an environment, or `None` when this build cannot
    /// reach its API (or the environment names no cluster, for Kubernetes types).
    pub fn provider(&self, type_name: &str, env: &str) -> Option<&dyn Provider> {
        if Registry::is_local(type_name) {
            return Some(&self.random);
        }
        if kubernetes::KubernetesProvider::supports(type_name) {
            return self
                .kubernetes
                .get(env)
                .map(|cluster| cluster.as_ref() as &dyn Provider);
        }
        match &self.gcp {
            Some(gcp) if gcp::GcpProvider::supports(type_name) => Some(gcp),
            _ => None,
        }
    }
}
