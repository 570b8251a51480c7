//! Refresh: reads every resource of an instance's prior state through its
//! provider, so that the plan compares the specs with what exists, and notes
//! what changed outside yagura.
//!
//! Invariant: refresh never writes state and never changes a resource; the
//! refreshed document is handed to `plan` in memory.

use std::collections::BTreeSet;

use crate::providers::{ProviderError, Registry, RemoteObject};
use crate::state::StateDocument;

/// What refresh found changed outside yagura.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// Its attributes differ from the stored ones.
    Changed(String),
    /// It no longer exists.
    Deleted(String),
}

/// The refreshed state and what it learned.
#[derive(Debug)]
pub struct Refreshed {
    pub state: StateDocument,
    pub drift: Vec<Drift>,
    /// Types whose provider this build cannot reach; they keep their stored values.
    pub unrefreshed_types: BTreeSet<String>,
}

/// A resource whose read failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot refresh {address}: {source}")]
pub struct RefreshError {
    pub address: String,
    #[source]
    pub source: ProviderError,
}

/// Reads every stored resource through its provider.
pub async fn refresh(
    registry: &Registry,
    prior: &StateDocument,
) -> Result<Refreshed, RefreshError> {
    let mut state = prior.clone();
    let mut drift = Vec::new();
    let mut unrefreshed_types = BTreeSet::new();
    let mut kept = Vec::with_capacity(state.resources.len());
    for resource in std::mem::take(&mut state.resources) {
        let Some(provider) = registry.provider(&resource.type_name) else {
            unrefreshed_types.insert(resource.type_name.clone());
            kept.push(resource);
            continue;
        };
        let stored = RemoteObject {
            provider_id: resource.provider_id.clone(),
            attributes: resource.attributes.clone(),
        };
        let read = provider
            .read(&resource.type_name, &stored)
            .await
            .map_err(|source| RefreshError {
                address: resource.address.clone(),
                source,
            })?;
        match read {
            None => drift.push(Drift::Deleted(resource.address.clone())),
            Some(current) => {
                if current.attributes != resource.attributes {
                    drift.push(Drift::Changed(resource.address.clone()));
                }
                let mut updated = resource;
                updated.attributes = current.attributes;
                updated.provider_id = current.provider_id.or(updated.provider_id);
                kept.push(updated);
            }
        }
    }
    state.resources = kept;
    Ok(Refreshed {
        state,
        drift,
        unrefreshed_types,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::InstanceAddr;
    use crate::state::StateResource;

    #[test]
    fn local_resources_refresh_to_themselves_and_others_are_kept() {
        let mut doc = StateDocument::new(InstanceAddr::new("svc", "development"), "l".into());
        let attrs =
            crate::providers::random::random_id_attributes(&[1, 2], "", serde_json::Value::Null);
        doc.resources.push(StateResource {
            address: "random_id.x".into(),
            type_name: "random_id".into(),
            provider_id: Some("AQI".into()),
            attributes: attrs,
            sensitive_attributes: Vec::new(),
            dependencies: Vec::new(),
        });
        doc.resources.push(StateResource {
            address: "google_project.p".into(),
            type_name: "google_project".into(),
            provider_id: None,
            attributes: serde_json::Map::new(),
            sensitive_attributes: Vec::new(),
            dependencies: Vec::new(),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let refreshed = runtime
            .block_on(refresh(&Registry::local(), &doc))
            .expect("refreshes");
        assert_eq!(refreshed.state, doc);
        assert!(refreshed.drift.is_empty());
        assert_eq!(
            refreshed.unrefreshed_types.into_iter().collect::<Vec<_>>(),
            ["google_project"]
        );
    }
}
