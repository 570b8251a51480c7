//! Kubernetes resource types through the API server of an environment's
//! cluster: `client.rs` (endpoint, credentials, retries, errors), `objects.rs`
//! (manifests and attributes of each kind), `quantity.rs` (resource quantities).
//!
//! Creates and updates are server-side applies as the field manager `yagura`: a
//! create refuses conflicts, so that an existing object is adopted only when no
//! other manager shaped what yagura sets differently (which also finishes a create
//! that a killed apply left half-done); an update forces, since the plan showed
//! the change and the user approved it.
//!
//! Invariant: providers know nothing of plans or state documents; credentials are
//! looked up at the first call, never when the registry is built.

mod client;
mod objects;
mod quantity;

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::{Provider, ProviderError, ProviderFuture, RemoteObject};
use crate::lang::Value;
use crate::providers::gcp::TokenSource;
pub use client::{Cluster, ClusterOptions};
use client::{ClusterClient, Conflicts, KubeError};
use objects::{Kind, ObjectRef};

/// The provider of every `kubernetes_*` type in one cluster.
#[derive(Debug)]
pub struct KubernetesProvider {
    client: ClusterClient,
}

impl KubernetesProvider {
    /// Checks the cluster's endpoint and CA; makes no call and looks up no credentials.
    pub fn new(
        cluster: &Cluster,
        tokens: Arc<dyn TokenSource>,
        options: ClusterOptions,
    ) -> Result<KubernetesProvider, String> {
        Ok(KubernetesProvider {
            client: ClusterClient::new(cluster, tokens, options)?,
        })
    }

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

fn invalid(type_name: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid {
        type_name: type_name.to_string(),
        message: message.into(),
    }
}

/// An API server failure as a provider error: `<type>: PATCH <path>`, the HTTP
/// status, and `<reason>: <message>` from the `Status`, so that a 4xx refusal
/// (403 Forbidden, 422 Invalid) reads as refused outright and a 409 conflict not.
/// A call that was never made (no endpoint, no credentials) is `Invalid`, so that
/// an apply knows nothing was created.
fn api_error(type_name: &str, e: KubeError) -> ProviderError {
    if e.is_setup() {
        return invalid(
            type_name,
            format!("cannot call {} {}: {}", e.method, e.path, e.message),
        );
    }
    ProviderError::Api {
        method: format!("{type_name}: {} {}", e.method, e.path),
        status: e.status,
        message: e.describe(),
    }
}

fn kind_of(type_name: &str, operation: &'static str) -> Result<&'static Kind, ProviderError> {
    objects::kind(type_name).ok_or_else(|| unsupported(type_name, operation))
}

fn remote(attributes: Map<String, Json>) -> RemoteObject {
    RemoteObject {
        provider_id: attributes
            .get("id")
            .and_then(Json::as_str)
            .map(str::to_string),
        attributes,
    }
}

impl KubernetesProvider {
    /// Reads an object. A namespace that is terminating still exists: it is
    /// reported as present, as Terraform does until it is gone, because its name
    /// cannot be used again until then and reporting it gone would plan a create
    /// that fails.
    async fn read_object(
        &self,
        type_name: &str,
        stored: &RemoteObject,
    ) -> Result<Option<RemoteObject>, ProviderError> {
        let kind = kind_of(type_name, "read")?;
        let object =
            ObjectRef::from_attributes(kind, &stored.attributes, stored.provider_id.as_deref())
                .map_err(|m| invalid(type_name, m))?;
        let Some(live) = self
            .client
            .get(&object.collection(kind), &object.name)
            .await
            .map_err(|e| api_error(type_name, e))?
        else {
            return Ok(None);
        };
        let mut attributes = objects::attributes(kind, &live, Some(&stored.attributes));
        objects::keep_versions_when_unchanged(&mut attributes, &stored.attributes);
        Ok(Some(remote(attributes)))
    }

    /// Applies a planned value server-side and reports the object as it now is.
    async fn apply(
        &self,
        type_name: &str,
        planned: &Value,
        conflicts: Conflicts,
        operation: &'static str,
    ) -> Result<RemoteObject, ProviderError> {
        let kind = kind_of(type_name, operation)?;
        let planned = planned.to_json();
        let (object, manifest) =
            objects::manifest(kind, &planned).map_err(|m| invalid(type_name, m))?;
        let live = self
            .client
            .apply(&object.collection(kind), &object.name, &manifest, conflicts)
            .await
            .map_err(|e| api_error(type_name, e))?;
        // A namespace being deleted takes the apply but vanishes soon after.
        if kind.kind == "Namespace" && objects::is_terminating(&live) {
            return Err(ProviderError::Api {
                method: format!(
                    "{type_name}: PATCH {}/{}",
                    object.collection(kind),
                    object.name
                ),
                status: Some(409),
                message: format!(
                    "namespace {:?} is being deleted; apply again once it is gone",
                    object.name
                ),
            });
        }
        let reference = planned.as_object();
        Ok(remote(objects::attributes(kind, &live, reference)))
    }

    /// Deletes an object; a namespace is waited for until it is gone (its content
    /// is removed first), so that a create of the same name that follows succeeds.
    async fn delete_object(
        &self,
        type_name: &str,
        stored: &RemoteObject,
    ) -> Result<(), ProviderError> {
        let kind = kind_of(type_name, "delete")?;
        let object =
            ObjectRef::from_attributes(kind, &stored.attributes, stored.provider_id.as_deref())
                .map_err(|m| invalid(type_name, m))?;
        let collection = object.collection(kind);
        match self.client.delete(&collection, &object.name).await {
            Ok(()) => {}
            // A namespace already terminating refuses a second deletion with a conflict.
            Err(e) if kind.kind == "Namespace" && e.status == Some(409) => {}
            Err(e) => return Err(api_error(type_name, e)),
        }
        if kind.kind != "Namespace" {
            return Ok(());
        }
        let stored_uid = stored
            .attributes
            .get("metadata")
            .and_then(|m| m.get(0))
            .and_then(|m| m.get("uid"))
            .and_then(Json::as_str);
        let options = &self.client.options;
        let deadline = tokio::time::Instant::now() + options.deletion_timeout;
        let mut delay = options.poll_min;
        loop {
            let live = self
                .client
                .get(&collection, &object.name)
                .await
                .map_err(|e| api_error(type_name, e))?;
            let gone = match &live {
                None => true,
                // Someone made a new namespace of the same name: the deleted one is gone.
                Some(live) => stored_uid.is_some_and(|uid| objects::uid(live) != Some(uid)),
            };
            if gone {
                return Ok(());
            }
            if tokio::time::Instant::now() + delay > deadline {
                return Err(ProviderError::Api {
                    method: format!("{type_name}: GET {collection}/{}", object.name),
                    status: None,
                    message: format!(
                        "namespace {:?} is still terminating after {} s; its content may be held by finalizers",
                        object.name,
                        options.deletion_timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(options.poll_max);
        }
    }

    /// Reads an existing object by `NAME` (namespaces) or `NAMESPACE/NAME`.
    async fn import_object(
        &self,
        type_name: &str,
        id: &str,
    ) -> Result<RemoteObject, ProviderError> {
        let kind = kind_of(type_name, "import")?;
        let object = ObjectRef::parse_id(kind, id).map_err(|m| invalid(type_name, m))?;
        let collection = object.collection(kind);
        match self.client.get(&collection, &object.name).await {
            Ok(Some(live)) => Ok(remote(objects::attributes(kind, &live, None))),
            Ok(None) => Err(ProviderError::Api {
                method: format!("{type_name}: GET {collection}/{}", object.name),
                status: Some(404),
                message: format!("NotFound: {} {:?} does not exist", kind.kind, object.id()),
            }),
            Err(e) => Err(api_error(type_name, e)),
        }
    }
}

impl Provider for KubernetesProvider {
    fn read<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, Option<RemoteObject>> {
        Box::pin(self.read_object(type_name, stored))
    }

    fn create<'a>(
        &'a self,
        type_name: &'a str,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(self.apply(type_name, planned, Conflicts::Refuse, "create"))
    }

    fn update<'a>(
        &'a self,
        type_name: &'a str,
        _stored: &'a RemoteObject,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(self.apply(type_name, planned, Conflicts::Force, "update"))
    }

    fn delete<'a>(
        &'a self,
        type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, ()> {
        Box::pin(self.delete_object(type_name, stored))
    }

    fn import<'a>(&'a self, type_name: &'a str, id: &'a str) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(self.import_object(type_name, id))
    }
}
