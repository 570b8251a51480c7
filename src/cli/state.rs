//! State surgery: `state list/show/rm/mv`, `import` and `force-unlock`. Every
//! change takes the instance's lock and writes the state once.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::addr::{InstanceAddr, ResourceAddr};
use crate::config::Repo;
use crate::diag::Diagnostic;
use crate::providers::RemoteObject;
use crate::state::{Backend, JournalEntry, LockInfo, StateDocument, StateResource};

use super::plan::{backend, registry};
use super::{EXIT_ERROR, EXIT_OK, error_line, load, print_diagnostics};

/// The instance a state command works on.
#[derive(Args, Debug, Clone)]
pub struct InstanceArgs {
    /// The service
    #[arg(long = "service", value_name = "NAME")]
    service: String,
    /// The environment
    #[arg(long = "env", value_name = "NAME")]
    env: String,
    /// How long to wait for another apply's lock, e.g. `30s` [default: fail at once]
    #[arg(long, value_name = "DURATION", value_parser = super::apply::parse_duration)]
    lock_timeout: Option<Duration>,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in an instance's state
    List(InstanceArgs),
    /// Show one resource's stored attributes (sensitive ones hidden)
    Show {
        #[command(flatten)]
        instance: InstanceArgs,
        /// The resource address, e.g. `module.app.google_project.this`
        address: String,
    },
    /// Forget resources without destroying them
    Rm {
        #[command(flatten)]
        instance: InstanceArgs,
        /// Addresses to forget
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Give a resource a new address
    Mv {
        #[command(flatten)]
        instance: InstanceArgs,
        from: String,
        to: String,
    },
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    instance: InstanceArgs,
    /// Where the resource goes, e.g. `module.app.google_project.this`
    address: String,
    /// The resource's id, as Terraform's import takes it
    id: String,
}

/// What every state command starts from.
struct Session {
    repo: Repo,
    backend: Box<dyn Backend>,
    runtime: tokio::runtime::Runtime,
    instance: InstanceAddr,
}

fn session(root: &Path, args: &InstanceArgs) -> Result<Session, i32> {
    let repo = load(root).ok_or(EXIT_ERROR)?;
    let instance = InstanceAddr::new(&args.service, &args.env);
    match super::plan::select_instances(
        &repo,
        std::slice::from_ref(&args.service),
        std::slice::from_ref(&args.env),
    ) {
        Ok(list) if list.contains(&instance) => {}
        Ok(_) => {
            error_line(format!(
                "service {:?} does not run in environment {:?}",
                args.service, args.env
            ));
            return Err(EXIT_ERROR);
        }
        Err(d) => {
            print_diagnostics(&d, &repo.sources);
            return Err(EXIT_ERROR);
        }
    }
    let backend = backend(&repo, root).map_err(|m| {
        error_line(m);
        EXIT_ERROR
    })?;
    let runtime = super::runtime().ok_or(EXIT_ERROR)?;
    Ok(Session {
        repo,
        backend,
        runtime,
        instance,
    })
}

pub fn run(root: &Path, command: StateCommand) -> i32 {
    match command {
        StateCommand::List(args) => list(root, &args),
        StateCommand::Show { instance, address } => show(root, &instance, &address),
        StateCommand::Rm {
            instance,
            addresses,
        } => change(root, &instance, "state rm", |state| {
            let mut entries = Vec::new();
            for address in &addresses {
                let pending = state.pending.iter().any(|p| &p.address == address);
                if state.resource(address).is_none() && !pending {
                    return Err(format!("{address} is not in the state"));
                }
                // Also forgets an interrupted create that cannot be read back.
                entries.push(JournalEntry::Remove {
                    address: address.clone(),
                });
            }
            Ok((
                entries,
                format!(
                    "Removed {} from the state; the resources themselves were not touched.",
                    addresses.join(", ")
                ),
            ))
        }),
        StateCommand::Mv { instance, from, to } => change(root, &instance, "state mv", |state| {
            if let Err(m) = ResourceAddr::parse(&to) {
                return Err(format!("{to} is not a resource address: {m}"));
            }
            let Some(resource) = state.resource(&from).cloned() else {
                return Err(format!("{from} is not in the state"));
            };
            if state.resource(&to).is_some() {
                return Err(format!("{to} is already in the state"));
            }
            let moved = StateResource {
                address: to.clone(),
                ..resource
            };
            Ok((
                vec![
                    JournalEntry::Remove {
                        address: from.clone(),
                    },
                    JournalEntry::Put(moved),
                ],
                format!("Moved {from} to {to}."),
            ))
        }),
    }
}

fn list(root: &Path, args: &InstanceArgs) -> i32 {
    let s = match session(root, args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match s.runtime.block_on(s.backend.read(&s.instance)) {
        Ok(state) => {
            let mut out = std::io::stdout().lock();
            for resource in state.iter().flat_map(|d| &d.resources) {
                let _ = writeln!(out, "{}", resource.address);
            }
            EXIT_OK
        }
        Err(e) => {
            error_line(e);
            EXIT_ERROR
        }
    }
}

fn show(root: &Path, args: &InstanceArgs, address: &str) -> i32 {
    let s = match session(root, args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let state = match s.runtime.block_on(s.backend.read(&s.instance)) {
        Ok(state) => state,
        Err(e) => {
            error_line(e);
            return EXIT_ERROR;
        }
    };
    let Some(resource) = state.as_ref().and_then(|d| d.resource(address)) else {
        error_line(format!("{address} is not in the state of {}", s.instance));
        return EXIT_ERROR;
    };
    let mut shown = serde_json::Map::new();
    shown.insert("address".into(), resource.address.clone().into());
    shown.insert("type".into(), resource.type_name.clone().into());
    if let Some(id) = &resource.provider_id {
        shown.insert("provider_id".into(), id.clone().into());
    }
    let mut attributes = serde_json::Value::Object(resource.attributes.clone());
    for path in &resource.sensitive_attributes {
        hide(&mut attributes, path);
    }
    shown.insert("attributes".into(), attributes);
    if !resource.dependencies.is_empty() {
        shown.insert("dependencies".into(), resource.dependencies.clone().into());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(shown)).expect("JSON serialises")
    );
    EXIT_OK
}

/// Replaces a sensitive attribute's value, wherever a path reaches (through lists).
/// Prints what a state change did, or why it did not happen.
fn report(result: Result<String, String>) -> i32 {
    match result {
        Ok(message) => {
            println!("{message}");
            EXIT_OK
        }
        Err(message) => {
            error_line(message);
            EXIT_ERROR
        }
    }
}

fn hide(value: &mut serde_json::Value, path: &[String]) {
    match (value, path.split_first()) {
        (serde_json::Value::Array(items), _) => {
            for item in items {
                hide(item, path);
            }
        }
        (serde_json::Value::Object(map), Some((first, rest))) => {
            if let Some(inner) = map.get_mut(first) {
                if rest.is_empty() {
                    if !inner.is_null() {
                        *inner = "(sensitive value)".into();
                    }
                } else {
                    hide(inner, rest);
                }
            }
        }
        _ => {}
    }
}

/// Locks the instance, lets `edit` decide the steps, records and commits them.
fn change(
    root: &Path,
    args: &InstanceArgs,
    operation: &str,
    edit: impl FnOnce(&StateDocument) -> Result<(Vec<JournalEntry>, String), String>,
) -> i32 {
    let s = match session(root, args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let info = LockInfo::current(operation);
    let result: Result<String, String> = s.runtime.block_on(async {
        let mut writer = s
            .backend
            .lock(
                &s.instance,
                &info,
                args.lock_timeout.unwrap_or(Duration::ZERO),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut state = writer
            .read()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} has no state yet", s.instance))?;
        let (entries, message) = edit(&state)?;
        writer
            .record(&state, &entries)
            .await
            .map_err(|e| e.to_string())?;
        for entry in entries {
            state.apply_entry(entry);
        }
        let serial = writer.commit(&state).await.map_err(|e| e.to_string())?;
        Ok(format!("{message} (state serial {serial})"))
    });
    report(result)
}

/// `yagura import ADDRESS ID`: reads an existing resource and records it at an
/// address the specs declare.
pub fn import(root: &Path, args: ImportArgs) -> i32 {
    let s = match session(root, &args.instance) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let addr = match ResourceAddr::parse(&args.address) {
        Ok(a) => a,
        Err(m) => {
            error_line(format!("{} is not a resource address: {m}", args.address));
            return EXIT_ERROR;
        }
    };
    // The address must be one the specs plan, so the next plan keeps it.
    let (plan, diags) = crate::plan::plan_instance(&s.repo, &s.instance, None);
    print_diagnostics(&diags, &s.repo.sources);
    let Some(plan) = plan else {
        return EXIT_ERROR;
    };
    let Some(change) = plan.changes.iter().find(|c| c.addr == addr) else {
        let mut diags = crate::diag::Diagnostics::default();
        diags.push(
            Diagnostic::error(format!(
                "the specs of {} declare no {}",
                s.instance, args.address
            ))
            .help("declare the resource first; import records an existing resource at its address"),
        );
        print_diagnostics(&diags, &s.repo.sources);
        return EXIT_ERROR;
    };
    let registry = match registry(&s.repo) {
        Ok(r) => r,
        Err(m) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let Some(provider) = registry.provider(&addr.type_name, &s.instance.env) else {
        error_line(format!("this build cannot import {}", addr.type_name));
        return EXIT_ERROR;
    };
    let info = LockInfo::current("import");
    let dependencies = change.dependencies.clone();
    let result: Result<String, String> = s.runtime.block_on(async {
        let mut writer = s
            .backend
            .lock(
                &s.instance,
                &info,
                args.instance.lock_timeout.unwrap_or(Duration::ZERO),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut state = writer
            .read()
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| {
                StateDocument::new(s.instance.clone(), uuid::Uuid::new_v4().to_string())
            });
        if state.resource(&args.address).is_some() {
            return Err(format!(
                "{} is already in the state of {}; `yagura state rm` it first to import another",
                args.address, s.instance
            ));
        }
        let object: RemoteObject = provider
            .import(&addr.type_name, &args.id)
            .await
            .map_err(|e| format!("cannot import {}: {e}", args.address))?;
        let resource = crate::apply::stored_resource(
            &args.address,
            &addr.type_name,
            object,
            dependencies,
        );
        let entry = JournalEntry::Put(resource);
        writer
            .record(&state, std::slice::from_ref(&entry))
            .await
            .map_err(|e| e.to_string())?;
        state.apply_entry(entry);
        let serial = writer.commit(&state).await.map_err(|e| e.to_string())?;
        Ok(format!(
            "Imported {} into {}/{} (state serial {serial}). Run plan to see how it differs from the specs.",
            args.id, s.instance, args.address
        ))
    });
    report(result)
}

/// `yagura force-unlock`: releases a lock its holder left behind.
pub fn force_unlock(root: &Path, args: InstanceArgs) -> i32 {
    let s = match session(root, &args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match s.runtime.block_on(s.backend.force_unlock(&s.instance)) {
        Ok(Some(holder)) => {
            println!("Released the lock of {} held by {holder}.", s.instance);
            EXIT_OK
        }
        Ok(None) => {
            println!(
                "{} has no lock to release (local and postgres locks end with the process that holds them).",
                s.instance
            );
            EXIT_OK
        }
        Err(e) => {
            error_line(e);
            EXIT_ERROR
        }
    }
}
