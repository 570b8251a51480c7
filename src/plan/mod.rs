//! Plans: the desired resources of each instance, evaluated from the specs,
//! compared with stored state into `PlannedChange` values.
//!
//! Invariant: planning is pure. It reads the loaded repo and the prior states
//! it is handed; it does no I/O, no network and reads no clock.

mod diff;
mod resource;
pub mod saved;
mod walk;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::addr::{InstanceAddr, ResourceAddr};
use crate::config::Repo;
use crate::diag::Diagnostics;
use crate::lang::Value;
use crate::state::StateDocument;

pub use walk::{InstanceGraph, eval_in_instance, import_ids, instance_graph};

/// What a plan does to one resource instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    NoOp,
    Create,
    Update,
    /// Delete then create (or the reverse with `create_before_destroy`).
    Replace,
    Delete,
}

impl ChangeAction {
    /// Terraform's `change.actions` for this action.
    pub fn terraform_actions(self, create_before_destroy: bool) -> &'static [&'static str] {
        match self {
            ChangeAction::NoOp => &["no-op"],
            ChangeAction::Create => &["create"],
            ChangeAction::Update => &["update"],
            ChangeAction::Replace if create_before_destroy => &["create", "delete"],
            ChangeAction::Replace => &["delete", "create"],
            ChangeAction::Delete => &["delete"],
        }
    }
}

/// Why a resource is deleted or replaced, when it is not the obvious reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    /// Removed from the specs.
    NoLongerInConfig,
    /// Its `count` or `for_each` no longer has this key.
    KeyNoLongerInConfig,
    /// The old object of a `create_before_destroy` replacement that an interrupted
    /// apply left behind.
    Deposed,
}

/// The change to one resource instance.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedChange {
    pub addr: ResourceAddr,
    pub action: ChangeAction,
    /// The stored value (`None` for a create); sensitive attributes carry the mark.
    pub before: Option<Value>,
    /// The planned value (`None` for a delete); unknown attributes are `Value::Unknown`.
    pub after: Option<Value>,
    /// Attribute paths whose change forces the replacement.
    pub replace_paths: Vec<Vec<String>>,
    pub reason: Option<ActionReason>,
    pub create_before_destroy: bool,
    /// Addresses of the resources this one depends on.
    pub dependencies: Vec<String>,
    /// The address the stored resource had, when a `moved` block renamed it.
    pub previous_address: Option<String>,
    /// The id an `import` block adopts this resource by; its prior value is what
    /// the import read.
    pub importing: Option<String>,
}

impl PlannedChange {
    pub fn type_name(&self) -> &str {
        &self.addr.type_name
    }
}

/// The plan of one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct InstancePlan {
    pub instance: InstanceAddr,
    /// Every resource instance, in address order, no-ops included.
    pub changes: Vec<PlannedChange>,
    /// Values of the service's outputs after apply.
    pub outputs: BTreeMap<String, Value>,
    /// The prior state's identity, for staleness checks of saved plans.
    pub prior_lineage: Option<String>,
    pub prior_serial: Option<u64>,
}

/// Counts of changes by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangeCounts {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    /// Resources whose address changes (with or without other changes).
    pub moved: usize,
    /// Existing resources adopted by `import` blocks.
    pub import: usize,
}

impl ChangeCounts {
    pub fn is_empty(&self) -> bool {
        self.add + self.change + self.replace + self.destroy + self.moved + self.import == 0
    }

    pub fn add_counts(&mut self, other: ChangeCounts) {
        self.add += other.add;
        self.change += other.change;
        self.replace += other.replace;
        self.destroy += other.destroy;
        self.moved += other.moved;
        self.import += other.import;
    }
}

impl InstancePlan {
    pub fn counts(&self) -> ChangeCounts {
        let mut counts = ChangeCounts::default();
        for change in &self.changes {
            if change.previous_address.is_some() {
                counts.moved += 1;
            }
            if change.importing.is_some() {
                counts.import += 1;
            }
            match change.action {
                ChangeAction::NoOp => {}
                ChangeAction::Create => counts.add += 1,
                ChangeAction::Update => counts.change += 1,
                ChangeAction::Replace => counts.replace += 1,
                ChangeAction::Delete => counts.destroy += 1,
            }
        }
        counts
    }

    pub fn has_changes(&self) -> bool {
        !self.counts().is_empty()
    }
}

/// The plan of every selected instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub instances: Vec<InstancePlan>,
}

impl Plan {
    pub fn counts(&self) -> ChangeCounts {
        let mut counts = ChangeCounts::default();
        for instance in &self.instances {
            counts.add_counts(instance.counts());
        }
        counts
    }
}

/// Plans one instance against its prior state. An instance the specs no longer
/// have (its service is gone, or no longer runs in its environment) is planned for
/// deletion.
pub fn plan_instance(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
) -> (Option<InstancePlan>, Diagnostics) {
    match prior {
        Some(prior) if !in_specs(repo, instance) => plan_removed(repo, instance, prior),
        _ => walk::plan_instance(repo, instance, prior),
    }
}

/// Plans the destruction of every resource of an instance, as `yagura destroy` does.
pub fn plan_destroy(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
) -> (Option<InstancePlan>, Diagnostics) {
    match prior {
        Some(prior) if !in_specs(repo, instance) => plan_removed(repo, instance, prior),
        _ => walk::plan_destroy(repo, instance, prior),
    }
}

/// Whether the specs have this instance: its service runs in its environment.
pub fn in_specs(repo: &Repo, instance: &InstanceAddr) -> bool {
    repo.service(&instance.service)
        .is_some_and(|s| s.environments.contains(&instance.env))
}

/// Plans the deletion of every resource of an instance that left the specs. With no
/// lifecycle left to read, only the protection of protected environments applies;
/// an environment gone from `yagura.hcl` counts as protected.
fn plan_removed(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: &StateDocument,
) -> (Option<InstancePlan>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let protected = repo.environment(&instance.env).is_none_or(|e| e.protected);
    let mut changes = Vec::new();
    let deposed = prior
        .deposed
        .iter()
        .map(|r| (r, Some(ActionReason::Deposed)));
    let current = prior
        .resources
        .iter()
        .map(|r| (r, Some(ActionReason::NoLongerInConfig)));
    for (resource, reason) in current.chain(deposed) {
        let addr = match ResourceAddr::parse(&resource.address) {
            Ok(addr) => addr,
            Err(m) => {
                diags.push(crate::diag::Diagnostic::error(format!(
                    "the state of {instance} holds an invalid address: {m}"
                )));
                continue;
            }
        };
        let schema = crate::schema::resource(&resource.type_name);
        if protected && schema.is_some_and(|s| s.protected_in_protected_envs) {
            diags.push(
                crate::diag::Diagnostic::error(format!(
                    "{instance}/{} would be destroyed because {instance} left the specs, but {} is a protected environment",
                    resource.address, instance.env
                ))
                .help(format!(
                    "put {} back in the service's environments, or forget the resource with `yagura state rm --service {} --env {} {}`",
                    instance.env, instance.service, instance.env, resource.address
                )),
            );
        }
        let before = match schema {
            Some(s) => diff::mark_sensitive(
                &s.block,
                resource::conform_state(&resource.attributes, &s.block),
            ),
            None => Value::from_json(&serde_json::Value::Object(resource.attributes.clone())),
        };
        changes.push(PlannedChange {
            addr,
            action: ChangeAction::Delete,
            before: Some(before),
            after: None,
            replace_paths: Vec::new(),
            reason,
            create_before_destroy: false,
            dependencies: resource.dependencies.clone(),
            previous_address: None,
            importing: None,
        });
    }
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    let plan = InstancePlan {
        instance: instance.clone(),
        changes,
        outputs: BTreeMap::new(),
        prior_lineage: Some(prior.lineage.clone()),
        prior_serial: Some(prior.serial),
    };
    ((!diags.has_errors()).then_some(plan), diags)
}
