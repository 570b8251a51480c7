//! Refresh: reads every resource of an instance's prior state through its
//! provider, so that the plan compares the specs with what exists, and notes
//! what changed outside yagura.
//!
//! Invariant: refresh never writes state and never changes a resource; the
//! refreshed document is handed to `plan` in memory.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::providers::{ProviderError, Registry, RemoteObject};
use crate::state::{StateDocument, StateResource};

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

/// Reads every stored resource through its provider, all at once: the providers
/// bound their calls per API.
pub async fn refresh(
    registry: &Arc<Registry>,
    prior: &StateDocument,
) -> Result<Refreshed, RefreshError> {
    let mut state = prior.clone();
    let env = prior.instance.env.as_str();
    let mut drift = Vec::new();
    let mut unrefreshed_types = BTreeSet::new();
    // Polled together in this task, so that reads which can share a request (the
    // members of one IAM policy) reach the provider's batcher together.
    let mut reads = FuturesUnordered::new();
    let resources = std::mem::take(&mut state.resources);
    let mut kept: Vec<Option<StateResource>> = vec![None; resources.len()];
    for (i, resource) in resources.into_iter().enumerate() {
        if registry.provider(&resource.type_name, env).is_none() {
            unrefreshed_types.insert(resource.type_name.clone());
            kept[i] = Some(resource);
            continue;
        }
        reads.push(async move {
            let provider = registry
                .provider(&resource.type_name, env)
                .expect("checked above");
            let stored = RemoteObject {
                provider_id: resource.provider_id.clone(),
                attributes: resource.attributes.clone(),
            };
            let read = provider.read(&resource.type_name, &stored).await;
            (i, resource, read)
        });
    }
    let mut first_error = None;
    while let Some((i, resource, read)) = reads.next().await {
        match read {
            Err(source) => {
                // The first failure in address order is the one reported.
                if first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                    first_error = Some((
                        i,
                        RefreshError {
                            address: resource.address.clone(),
                            source,
                        },
                    ));
                }
            }
            Ok(None) => drift.push((i, Drift::Deleted(resource.address.clone()))),
            Ok(Some(current)) => {
                if current.attributes != resource.attributes {
                    drift.push((i, Drift::Changed(resource.address.clone())));
                }
                let mut updated = resource;
                updated.attributes = current.attributes;
                updated.provider_id = current.provider_id.or(updated.provider_id);
                kept[i] = Some(updated);
            }
        }
    }
    if let Some((_, error)) = first_error {
        return Err(error);
    }
    drift.sort_by_key(|(i, _)| *i);
    state.resources = kept.into_iter().flatten().collect();
    Ok(Refreshed {
        state,
        drift: drift.into_iter().map(|(_, d)| d).collect(),
        unrefreshed_types,
    })
}

/// Reads the resources that the service's `import` blocks adopt and adds them to
/// `state` in memory; returns their addresses and ids. An import block whose
/// address the state already holds has done its work and is skipped, as in
/// Terraform.
pub async fn import_blocks(
    registry: &Registry,
    repo: &crate::config::Repo,
    state: &mut StateDocument,
) -> Result<Vec<(String, String)>, String> {
    let instance = state.instance.clone();
    let (ids, diags) = crate::plan::import_ids(repo, &instance, Some(state));
    if let Some(error) = diags.iter().find(|d| d.is_error()) {
        return Err(format!("{instance}: {}", error.message));
    }
    let mut imported = Vec::new();
    let mut declared: Option<Vec<String>> = None;
    for (to, id) in ids {
        if state.resource(&to).is_some() {
            continue;
        }
        // Importing to an address the specs do not declare would plan its deletion.
        let declared = declared.get_or_insert_with(|| {
            crate::plan::plan_instance(repo, &instance, None)
                .0
                .map(|p| p.changes.iter().map(|c| c.addr.to_string()).collect())
                .unwrap_or_default()
        });
        if !declared.contains(&to) {
            return Err(format!(
                "{instance}: an `import` block imports to {to}, which the specs do not declare; declare the resource first"
            ));
        }
        let id = match id {
            Ok(crate::lang::Value::String(id)) => id,
            Ok(other) => {
                return Err(format!(
                    "{instance}: the id of the import of {to} must be a known string, not {}",
                    other.type_name()
                ));
            }
            Err(message) => {
                return Err(format!(
                    "{instance}: the id of the import of {to}: {message}"
                ));
            }
        };
        let addr = crate::addr::ResourceAddr::parse(&to)
            .map_err(|m| format!("{instance}: {to} is not a resource address: {m}"))?;
        let provider = registry
            .provider(&addr.type_name, &instance.env)
            .ok_or_else(|| format!("{instance}: this build cannot import {}", addr.type_name))?;
        let object = provider
            .import(&addr.type_name, &id)
            .await
            .map_err(|e| format!("{instance}: cannot import {to} (id {id:?}): {e}"))?;
        state.apply_entry(crate::state::JournalEntry::Put(
            crate::apply::stored_resource(&to, &addr.type_name, object, Vec::new()),
        ));
        imported.push((to, id));
    }
    Ok(imported)
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
            .block_on(refresh(&Arc::new(Registry::local()), &doc))
            .expect("refreshes");
        assert_eq!(refreshed.state, doc);
        assert!(refreshed.drift.is_empty());
        assert_eq!(
            refreshed.unrefreshed_types.into_iter().collect::<Vec<_>>(),
            ["google_project"]
        );
    }
}
