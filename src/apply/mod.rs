//! Apply: executes an instance's plan through the providers, step by step in
//! dependency order, recording each finished step in the state journal at once.
//!
//! The steps come from the plan the user saw. Values that were `(known after
//! apply)` come from re-planning the instance against the state as it grows, so a
//! resource is created from its dependencies' real ids; the re-plan is pure and
//! takes microseconds per resource. A step that the re-plan no longer agrees with
//! fails instead of doing something the user did not approve.
//!
//! Invariant: before a create is called its intent is durable, and after any step
//! returns its outcome is durable before the step's dependents start, so a process
//! killed at any moment leaves nothing in the cloud that the state cannot find.
//! Failure of a step skips only its dependents; independent work goes on.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::addr::{InstanceAddr, static_label};
use crate::config::Repo;
use crate::diag::Diagnostics;
use crate::lang::Value;
use crate::plan::{
    ActionReason, ChangeAction, InstancePlan, PlannedChange, plan_destroy, plan_instance,
};
use crate::providers::priority::with_priority;
use crate::providers::{ProviderError, Registry, RemoteObject};
use crate::schema::{self, BlockSchema};
use crate::state::{JournalEntry, PendingCreate, StateDocument, StateResource, StateWriter};

/// One call a resource needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    Create,
    Update,
    Delete,
    /// Reading back what an interrupted create may have made.
    ReadBack,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Create => "create",
            Step::Update => "update",
            Step::Delete => "delete",
            Step::ReadBack => "read back",
        })
    }
}

/// What happens while an apply runs, for progress displays.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        instance: InstanceAddr,
        address: String,
        step: Step,
    },
    Finished {
        instance: InstanceAddr,
        address: String,
        step: Step,
        elapsed: Duration,
    },
    Failed {
        instance: InstanceAddr,
        address: String,
        step: Step,
        message: String,
    },
}

/// Receives events; called from many tasks at once.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// What happened to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Done,
    Failed(String),
    /// Not attempted because a resource it needs failed or was skipped.
    Skipped(String),
    /// Not attempted because the apply was interrupted.
    NotStarted,
}

/// One resource's outcome.
#[derive(Clone, Debug)]
pub struct ResourceReport {
    pub address: String,
    pub action: ChangeAction,
    pub status: Status,
    /// Time spent in its provider calls.
    pub elapsed: Duration,
}

/// One instance's outcome.
#[derive(Debug)]
pub struct InstanceReport {
    pub instance: InstanceAddr,
    pub resources: Vec<ResourceReport>,
    /// A failure of the instance as a whole (planning, state writes).
    pub error: Option<String>,
    /// Warnings and errors from re-planning.
    pub diagnostics: Diagnostics,
    /// The serial of the state written at the end.
    pub serial: Option<u64>,
}

impl InstanceReport {
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .resources
                .iter()
                .any(|r| !matches!(r.status, Status::Done))
    }
}

/// What every instance's apply shares.
#[derive(Clone)]
pub struct Context {
    pub repo: Arc<Repo>,
    pub registry: Arc<Registry>,
    pub events: EventSink,
    /// Set on Ctrl-C: no step starts after it, the ones in flight finish.
    pub interrupted: Arc<AtomicBool>,
    /// Destroying every resource (`yagura destroy`) rather than following the specs.
    pub destroy: bool,
}

impl Context {
    /// Plans an instance against `state` the way this apply does.
    pub fn plan(
        &self,
        instance: &InstanceAddr,
        state: Option<&StateDocument>,
    ) -> (Option<InstancePlan>, Diagnostics) {
        if self.destroy {
            plan_destroy(&self.repo, instance, state)
        } else {
            plan_instance(&self.repo, instance, state)
        }
    }

    fn emit(&self, event: Event) {
        (self.events)(event);
    }
}

/// Progress of one planned change through its steps.
#[derive(Debug)]
struct Work {
    action: ChangeAction,
    create_before_destroy: bool,
    /// The static address (`module.a.google_project.this`) that dependencies name.
    label: String,
    /// Addresses of resources this one depends on, by static label (from the specs,
    /// or for deletes from the state).
    dependencies: Vec<String>,
    delete_done: bool,
    write_done: bool,
    in_flight: bool,
    status: Option<Status>,
    elapsed: Duration,
}

impl Work {
    fn needs_delete(&self) -> bool {
        matches!(self.action, ChangeAction::Delete | ChangeAction::Replace) && !self.delete_done
    }

    fn needs_write(&self) -> bool {
        matches!(
            self.action,
            ChangeAction::Create | ChangeAction::Update | ChangeAction::Replace
        ) && !self.write_done
    }
}

/// The paths of a schema's sensitive attributes, as the state records them.
fn sensitive_paths(block: &BlockSchema) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for attr in block.attrs.iter().filter(|a| a.sensitive) {
        out.push(vec![attr.name.to_string()]);
    }
    for nested in block.blocks {
        for mut path in sensitive_paths(nested.block) {
            path.insert(0, nested.name.to_string());
            out.push(path);
        }
    }
    out
}

fn known_attributes(value: &Value) -> serde_json::Map<String, serde_json::Value> {
    match value.clone().unmark_deep().0.to_json() {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn remote(resource: &StateResource) -> RemoteObject {
    RemoteObject {
        provider_id: resource.provider_id.clone(),
        attributes: resource.attributes.clone(),
    }
}

/// A resource as the state records it, from what its provider reported.
pub fn stored_resource(
    address: &str,
    type_name: &str,
    object: RemoteObject,
    dependencies: Vec<String>,
) -> StateResource {
    StateResource {
        address: address.to_string(),
        type_name: type_name.to_string(),
        provider_id: object.provider_id,
        attributes: object.attributes,
        sensitive_attributes: schema::resource(type_name)
            .map(|s| sensitive_paths(&s.block))
            .unwrap_or_default(),
        dependencies,
    }
}

/// Calls the provider for one step.
async fn invoke(
    registry: &Registry,
    env: &str,
    call: &Call,
    after: Option<Value>,
    prior: Option<RemoteObject>,
) -> Result<Option<RemoteObject>, ProviderError> {
    let Some(provider) = registry.provider(&call.type_name, env) else {
        return Err(ProviderError::Unsupported {
            type_name: call.type_name.clone(),
            operation: "apply",
        });
    };
    match (call.step, &after, &prior) {
        (Step::Create, Some(after), _) | (Step::Update, Some(after), None) => {
            provider.create(&call.type_name, after).await.map(Some)
        }
        (Step::Update, Some(after), Some(prior)) => provider
            .update(&call.type_name, prior, after)
            .await
            .map(Some),
        (Step::Delete, _, Some(prior)) => {
            provider.delete(&call.type_name, prior).await.map(|()| None)
        }
        _ => Err(ProviderError::Invalid {
            type_name: call.type_name.clone(),
            message: format!("nothing to {}", call.step),
        }),
    }
}

/// The suffix of the work key of an object deposed by an earlier apply.
const DEPOSED: &str = " (deposed)";

/// A provider call in flight.
struct Call {
    address: String,
    step: Step,
    type_name: String,
    dependencies: Vec<String>,
}

type CallResult = (Call, Result<Option<RemoteObject>, ProviderError>, Duration);

/// Reads back every create a killed apply left unfinished and records what exists.
/// Returns the addresses it could not resolve, with why.
pub async fn resolve_pending(
    context: &Context,
    instance: &InstanceAddr,
    state: &mut StateDocument,
    writer: &mut dyn StateWriter,
) -> Result<(), String> {
    let pending = state.pending.clone();
    for intent in pending {
        let Some(provider) = context.registry.provider(&intent.type_name, &instance.env) else {
            return Err(format!(
                "an earlier apply of {instance} was interrupted while creating {}, and this build cannot read {} to find out whether it exists",
                intent.address, intent.type_name
            ));
        };
        context.emit(Event::Started {
            instance: instance.clone(),
            address: intent.address.clone(),
            step: Step::ReadBack,
        });
        let start = Instant::now();
        let object = RemoteObject {
            provider_id: intent.provider_id.clone(),
            attributes: intent.attributes.clone(),
        };
        let found = provider
            .read(&intent.type_name, &object)
            .await
            .map_err(|e| {
                format!(
                    "an earlier apply of {instance} was interrupted while creating {}, and reading it back failed: {e}; once you know whether it exists, import it or forget the create with `yagura state rm --service {} --env {} {}`",
                    intent.address, instance.service, instance.env, intent.address
                )
            })?;
        let entry = match found {
            Some(object) => JournalEntry::Put(stored_resource(
                &intent.address,
                &intent.type_name,
                object,
                intent.dependencies.clone(),
            )),
            None => JournalEntry::Remove {
                address: intent.address.clone(),
            },
        };
        writer
            .record(state, std::slice::from_ref(&entry))
            .await
            .map_err(|e| e.to_string())?;
        state.apply_entry(entry);
        context.emit(Event::Finished {
            instance: instance.clone(),
            address: intent.address.clone(),
            step: Step::ReadBack,
            elapsed: start.elapsed(),
        });
    }
    Ok(())
}

/// Applies one instance's plan. `state` is the (refreshed) state the plan was made
/// against; `writer` holds the instance's lock. The state is committed at the end,
/// also when steps failed, so that everything done is kept.
pub async fn apply_instance(
    context: Context,
    plan: InstancePlan,
    mut state: StateDocument,
    mut writer: Box<dyn StateWriter>,
) -> InstanceReport {
    let instance = plan.instance.clone();
    let mut report = InstanceReport {
        instance: instance.clone(),
        resources: Vec::new(),
        error: None,
        diagnostics: Diagnostics::default(),
        serial: None,
    };
    let mut work: BTreeMap<String, Work> = plan
        .changes
        .iter()
        .filter(|c| c.action != ChangeAction::NoOp)
        // Deposed objects are work of their own, below.
        .filter(|c| c.reason != Some(ActionReason::Deposed))
        .map(|c| {
            let address = c.addr.to_string();
            (
                address.clone(),
                Work {
                    action: c.action,
                    create_before_destroy: c.create_before_destroy,
                    label: static_label(&address),
                    dependencies: c.dependencies.clone(),
                    delete_done: false,
                    write_done: false,
                    in_flight: false,
                    status: None,
                    elapsed: Duration::ZERO,
                },
            )
        })
        .collect();
    // Resources that `import` blocks adopted are recorded before anything else.
    let imported: Vec<JournalEntry> = plan
        .changes
        .iter()
        .filter(|c| c.importing.is_some())
        .filter_map(|c| state.resource(&c.addr.to_string()).cloned())
        .map(JournalEntry::Put)
        .collect();
    let changed_state = !work.is_empty() || !imported.is_empty();
    // The calls of one turn are polled together by one task, so that calls that
    // can share a request (IAM grants on one policy, API enables in one project)
    // all reach the provider's batcher before the first of them is sent.
    let (results, mut finished_calls) = tokio::sync::mpsc::unbounded_channel::<CallResult>();
    let mut calls_in_flight = 0usize;
    // Which deposed objects (replaced with create_before_destroy) wait for deletion.
    let mut deposed: HashMap<String, StateResource> = HashMap::new();
    // Those an earlier apply left are deleted now, under their own work keys.
    for old in &state.deposed {
        let key = format!("{}{DEPOSED}", old.address);
        deposed.insert(key.clone(), old.clone());
        work.insert(
            key.clone(),
            Work {
                action: ChangeAction::Delete,
                create_before_destroy: true,
                label: key,
                dependencies: Vec::new(),
                delete_done: false,
                write_done: true,
                in_flight: false,
                status: None,
                elapsed: Duration::ZERO,
            },
        );
    }

    let heights = heights(&work);
    // The plan the steps take their values from: the one made before the apply at
    // first, and made again (lazily) once a finished step changed the state.
    let mut current: Option<InstancePlan> = Some(plan);
    let mut unrecorded: Vec<JournalEntry> = imported;
    let mut stale = false;
    let mut halted = false;
    loop {
        let mut intents = Vec::new();
        let mut starts = Vec::new();
        // A step settled without a call (a delete of what is already gone).
        let mut progressed = false;
        let blocked = blocked_reasons(&work);
        for (address, reason) in blocked {
            if let Some(w) = work.get_mut(&address)
                && w.status.is_none()
                && !w.in_flight
            {
                w.status = Some(Status::Skipped(reason));
            }
        }
        let ready: Vec<(String, Step)> = if halted || context.interrupted.load(Ordering::SeqCst) {
            Vec::new()
        } else {
            work.iter()
                .filter(|(_, w)| w.status.is_none() && !w.in_flight)
                .filter_map(|(address, w)| {
                    next_step(address, w, &work, &state).map(|s| (address.clone(), s))
                })
                .collect()
        };
        // A plan against the grown state is only needed for values that were
        // `(known after apply)`: a step whose settings are all known takes them
        // as approved (as Terraform does), whatever the state around it gained.
        let needs_values = || {
            let Some(current) = current.as_ref() else {
                return true;
            };
            ready.iter().any(|(address, step)| {
                if !matches!(step, Step::Create | Step::Update) {
                    return false;
                }
                let Some(after) = current
                    .changes
                    .iter()
                    .find(|c| c.addr.to_string() == *address)
                    .and_then(|c| c.after.as_ref())
                else {
                    return true;
                };
                schema::resource(&static_type(address))
                    .is_none_or(|s| s.block.has_unknown_settings(after))
            })
        };
        if !ready.is_empty() && stale && needs_values() {
            let (replanned, diags) = context.plan(&instance, Some(&state));
            if replanned.is_none() {
                report.diagnostics.extend(diags);
                report.error =
                    Some("the specs could not be evaluated against the new state".into());
                halted = true;
            }
            current = replanned;
            stale = false;
        }
        if let Some(current) = current.as_ref().filter(|_| !halted) {
            let changes: HashMap<String, &PlannedChange> = current
                .changes
                .iter()
                .map(|c| (c.addr.to_string(), c))
                .collect();
            for (address, step) in ready {
                let w = work.get_mut(&address).expect("ready work exists");
                if w.status.is_some() {
                    continue;
                }
                let change = changes.get(&address).copied();
                let type_name = static_type(&address);
                match step {
                    Step::Delete => {
                        let target = if w.create_before_destroy {
                            deposed.get(&address).cloned()
                        } else {
                            state.resource(&address).cloned()
                        };
                        let Some(target) = target else {
                            // Already gone (refresh found it deleted): nothing to call.
                            w.delete_done = true;
                            progressed = true;
                            continue;
                        };
                        w.in_flight = true;
                        starts.push((
                            Call {
                                address: address.clone(),
                                step,
                                type_name: target.type_name.clone(),
                                dependencies: target.dependencies.clone(),
                            },
                            None,
                            Some(remote(&target)),
                        ));
                    }
                    Step::Create | Step::Update => {
                        let expected = match (w.action, w.create_before_destroy) {
                            (ChangeAction::Replace, false) => ChangeAction::Create,
                            (ChangeAction::Replace, true) => ChangeAction::Replace,
                            (action, _) => action,
                        };
                        let Some(change) = change.filter(|c| c.action == expected) else {
                            let now = change.map_or("nothing", |c| action_name(c.action));
                            w.status = Some(Status::Failed(format!(
                                "the plan changed while applying: {} was planned, the specs and state now call for {now}; run plan again",
                                action_name(w.action)
                            )));
                            continue;
                        };
                        let Some(after) = change.after.clone() else {
                            continue;
                        };
                        let call_step = if expected == ChangeAction::Update {
                            Step::Update
                        } else {
                            Step::Create
                        };
                        let prior = if call_step == Step::Update {
                            state.resource(&address).map(remote)
                        } else {
                            None
                        };
                        // With create_before_destroy the old object is deposed, not
                        // forgotten, before the new one takes its address.
                        if call_step == Step::Create
                            && w.create_before_destroy
                            && let Some(old) = state.resource(&address)
                        {
                            deposed.insert(address.clone(), old.clone());
                            intents.push(JournalEntry::Depose(old.clone()));
                        }
                        if call_step == Step::Create && !Registry::is_local(&type_name) {
                            let pending = PendingCreate {
                                address: address.clone(),
                                type_name: type_name.clone(),
                                provider_id: None,
                                attributes: known_attributes(&after),
                                sensitive_attributes: schema::resource(&type_name)
                                    .map(|s| sensitive_paths(&s.block))
                                    .unwrap_or_default(),
                                dependencies: change.dependencies.clone(),
                            };
                            intents.push(JournalEntry::Intent(pending));
                        }
                        w.in_flight = true;
                        starts.push((
                            Call {
                                address: address.clone(),
                                step: call_step,
                                type_name,
                                dependencies: change.dependencies.clone(),
                            },
                            Some(after),
                            prior,
                        ));
                    }
                    Step::ReadBack => {}
                }
            }
        }
        // One durable write per turn: the outcomes of the calls that just finished
        // (already in `state`) and the intents of the creates about to start.
        if !intents.is_empty() || !unrecorded.is_empty() {
            let mut batch = std::mem::take(&mut unrecorded);
            batch.extend(intents.iter().cloned());
            if let Err(e) = writer.record(&state, &batch).await {
                report.error = Some(format!("cannot record the journal: {e}"));
                for (call, _, _) in &starts {
                    if let Some(w) = work.get_mut(&call.address) {
                        w.in_flight = false;
                    }
                }
                starts.clear();
                context.interrupted.store(true, Ordering::SeqCst);
            } else {
                for entry in intents {
                    state.apply_entry(entry);
                }
            }
        }
        let mut turn: Vec<Pin<Box<dyn Future<Output = CallResult> + Send>>> = Vec::new();
        for (call, after, prior) in starts {
            context.emit(Event::Started {
                instance: instance.clone(),
                address: call.address.clone(),
                step: call.step,
            });
            let registry = context.registry.clone();
            let env = instance.env.clone();
            let priority = heights.get(&call.address).copied().unwrap_or(1);
            turn.push(Box::pin(async move {
                let start = Instant::now();
                let invoked = AssertUnwindSafe(with_priority(
                    priority,
                    invoke(&registry, &env, &call, after, prior),
                ))
                .catch_unwind()
                .await;
                let result = invoked.unwrap_or_else(|_| {
                    Err(ProviderError::Invalid {
                        type_name: call.type_name.clone(),
                        message: format!("the provider failed unexpectedly during {}", call.step),
                    })
                });
                (call, result, start.elapsed())
            }));
        }
        if !turn.is_empty() {
            calls_in_flight += turn.len();
            let results = results.clone();
            tokio::spawn(async move {
                let mut running: FuturesUnordered<_> = turn.into_iter().collect();
                while let Some(result) = running.next().await {
                    let _ = results.send(result);
                }
            });
        }

        if calls_in_flight == 0 {
            if progressed {
                continue;
            }
            break;
        }
        // Wait for one call, then take every other that has finished too, so that
        // their outcomes share one journal write.
        let mut finished = Vec::new();
        if let Some(result) = finished_calls.recv().await {
            finished.push(result);
        }
        while let Ok(result) = finished_calls.try_recv() {
            finished.push(result);
        }
        calls_in_flight -= finished.len();
        let mut entries = Vec::new();
        for (call, result, elapsed) in finished {
            let w = work.get_mut(&call.address).expect("calls are for work");
            w.in_flight = false;
            w.elapsed += elapsed;
            match result {
                Ok(object) => {
                    match call.step {
                        Step::Delete => {
                            w.delete_done = true;
                            if w.create_before_destroy {
                                deposed.remove(&call.address);
                                entries.push(JournalEntry::DeposedGone {
                                    address: call.address.trim_end_matches(DEPOSED).to_string(),
                                });
                            } else {
                                entries.push(JournalEntry::Remove {
                                    address: call.address.clone(),
                                });
                            }
                        }
                        _ => {
                            w.write_done = true;
                            if let Some(object) = object {
                                entries.push(JournalEntry::Put(stored_resource(
                                    &call.address,
                                    &call.type_name,
                                    object,
                                    call.dependencies.clone(),
                                )));
                            }
                        }
                    }
                    context.emit(Event::Finished {
                        instance: instance.clone(),
                        address: call.address.clone(),
                        step: call.step,
                        elapsed,
                    });
                }
                Err(e) => {
                    // The replacement failed: the deposed object stays the current one.
                    if call.step == Step::Create && deposed.remove(&call.address).is_some() {
                        entries.push(JournalEntry::DeposedGone {
                            address: call.address.clone(),
                        });
                    }
                    // A create the API refused made nothing: its intent is settled.
                    if call.step == Step::Create
                        && e.refused_outright()
                        && !Registry::is_local(&call.type_name)
                    {
                        entries.push(JournalEntry::Refused {
                            address: call.address.clone(),
                        });
                    }
                    let message = format!("{}: {e}", call.address);
                    context.emit(Event::Failed {
                        instance: instance.clone(),
                        address: call.address.clone(),
                        step: call.step,
                        message: message.clone(),
                    });
                    w.status = Some(Status::Failed(message));
                }
            }
        }
        if !entries.is_empty() {
            stale = true;
        }
        for entry in &entries {
            state.apply_entry(entry.clone());
        }
        // Written at the top of the next turn, before anything else starts.
        unrecorded.extend(entries);
    }

    let interrupted = context.interrupted.load(Ordering::SeqCst);
    for (address, w) in work {
        let status = match w.status {
            Some(status) => status,
            None if !w.needs_delete() && !w.needs_write() => Status::Done,
            None if interrupted => Status::NotStarted,
            None => Status::Skipped("a resource it depends on did not finish".into()),
        };
        report.resources.push(ResourceReport {
            address,
            action: w.action,
            status,
            elapsed: w.elapsed,
        });
    }
    // Deposed objects whose delete did not happen stay in the state, and the next
    // apply deletes them; their work items report what happened.
    drop(deposed);
    if changed_state || state.serial == 0 {
        match writer.commit(&state).await {
            Ok(serial) => report.serial = Some(serial),
            Err(e) => {
                report.error = Some(format!(
                    "cannot write the state (every finished step is in the journal): {e}"
                ))
            }
        }
    }
    // Released here rather than on drop, so that a failure to release is reported.
    if let Err(e) = writer.unlock().await {
        report
            .error
            .get_or_insert(format!("cannot release the lock: {e}"));
    }
    report
}

fn action_name(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::NoOp => "no change",
        ChangeAction::Create => "create",
        ChangeAction::Update => "update",
        ChangeAction::Replace => "replace",
        ChangeAction::Delete => "delete",
    }
}

/// The type of a resource address (`module.a.google_project.this[0]` → `google_project`).
fn static_type(address: &str) -> String {
    let label = static_label(address);
    let parts: Vec<&str> = label.split('.').collect();
    parts
        .len()
        .checked_sub(2)
        .map(|i| parts[i].to_string())
        .unwrap_or_default()
}

/// Work that can no longer run because something it needs failed or was skipped.
/// How many writes wait, one after another, on each piece of work, itself
/// included: the length of the longest chain of its dependents. When more calls
/// are ready than may be in flight, those with the longest chain behind them go
/// first, so that the critical path is not stretched by work that nothing waits on.
fn heights(work: &BTreeMap<String, Work>) -> HashMap<String, u32> {
    let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
    for (address, w) in work {
        for dependency in &w.dependencies {
            dependents
                .entry(dependency.as_str())
                .or_default()
                .push(address.as_str());
        }
    }
    fn height<'w>(
        address: &'w str,
        work: &'w BTreeMap<String, Work>,
        dependents: &HashMap<&str, Vec<&'w str>>,
        memo: &mut HashMap<&'w str, u32>,
    ) -> u32 {
        if let Some(known) = memo.get(address) {
            return *known;
        }
        // Counted as 1 while it is being measured, so a cycle cannot recurse forever.
        memo.insert(address, 1);
        let label = work.get(address).map_or(address, |w| w.label.as_str());
        let behind = dependents
            .get(label)
            .into_iter()
            .flatten()
            .filter(|d| **d != address)
            .map(|d| height(d, work, dependents, memo))
            .max()
            .unwrap_or(0);
        memo.insert(address, behind + 1);
        behind + 1
    }
    let mut memo = HashMap::new();
    for address in work.keys() {
        height(address, work, &dependents, &mut memo);
    }
    memo.into_iter()
        .map(|(address, h)| (address.to_string(), h))
        .collect()
}

fn blocked_reasons(work: &BTreeMap<String, Work>) -> Vec<(String, String)> {
    let broken: Vec<(&String, &Work)> = work
        .iter()
        .filter(|(_, w)| matches!(w.status, Some(Status::Failed(_) | Status::Skipped(_))))
        .collect();
    let mut out = Vec::new();
    for (address, w) in work {
        if w.status.is_some() || w.in_flight {
            continue;
        }
        for (other, o) in &broken {
            // A write waits for its dependencies' writes; a delete for the deletes of
            // what depends on it.
            let needs_its_write =
                w.needs_write() && o.needs_write() && w.dependencies.contains(&o.label);
            let needs_its_delete =
                w.needs_delete() && o.needs_delete() && o.dependencies.contains(&w.label);
            if needs_its_write || needs_its_delete {
                out.push((address.clone(), format!("{other} did not finish")));
                break;
            }
        }
    }
    out
}

/// The step a resource can take now, if any.
fn next_step(
    address: &str,
    w: &Work,
    work: &BTreeMap<String, Work>,
    state: &StateDocument,
) -> Option<Step> {
    let first_delete = w.needs_delete() && !(w.create_before_destroy && w.needs_write());
    if first_delete {
        // Everything that depends on it and goes away goes first; with an orphan, so does
        // every kept resource that depended on it and is updated.
        let waiting = work.iter().any(|(other, o)| {
            other != address
                && ((o.needs_delete() && o.dependencies.contains(&w.label))
                    || (w.action == ChangeAction::Delete
                        && o.needs_write()
                        && state
                            .resource(other)
                            .is_some_and(|r| r.dependencies.contains(&w.label))))
        });
        return (!waiting).then_some(Step::Delete);
    }
    if w.needs_write() {
        let waiting = w.dependencies.iter().any(|dep| {
            work.iter()
                .any(|(other, o)| other != address && o.label == *dep && o.needs_write())
        });
        return (!waiting).then_some(if w.action == ChangeAction::Update {
            Step::Update
        } else {
            Step::Create
        });
    }
    if w.needs_delete() {
        // The deposed half of a create_before_destroy replacement.
        return Some(Step::Delete);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_labels_drop_keys() {
        assert_eq!(
            static_label(r#"module.db["a.b[c]"].google_sql_user.app[0]"#),
            "module.db.google_sql_user.app"
        );
        assert_eq!(static_label("google_project.this"), "google_project.this");
        assert_eq!(
            static_type(r#"module.x["k"].google_project.p[3]"#),
            "google_project"
        );
    }
}
