//! `yagura drift`: a refresh-only plan for scheduled drift detection. It reads
//! every stored resource and reports what changed outside yagura; it writes nothing.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde_json::{Value as Json, json};

use crate::addr::InstanceAddr;
use crate::diag::{Diagnostic, Diagnostics};
use crate::refresh::Drift;
use crate::state::StateResource;

use super::plan::{backend, registry, select_instances};
use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, error_line, load, print_diagnostics};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    /// Check only this service (can be repeated)
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Check only this environment (can be repeated)
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// One resource that changed outside yagura.
struct Found {
    instance: InstanceAddr,
    address: String,
    deleted: bool,
    /// Top-level attributes that differ: name, stored, current.
    attributes: Vec<(String, Json, Json)>,
}

pub fn run(root: &Path, args: DriftArgs) -> i32 {
    let Some(repo) = load(root) else {
        return EXIT_ERROR;
    };
    let instances = match select_instances(&repo, &args.services, &args.envs) {
        Ok(i) => i,
        Err(d) => {
            print_diagnostics(&d, &repo.sources);
            return EXIT_ERROR;
        }
    };
    let (backend, registry) = match (backend(&repo, root), registry(&repo)) {
        (Ok(b), Ok(r)) => (b, Arc::new(r)),
        (Err(m), _) | (_, Err(m)) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let Some(runtime) = super::runtime() else {
        return EXIT_ERROR;
    };
    let mut diags = Diagnostics::default();
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for instance in instances {
            let state = backend.read(&instance).await;
            let registry = registry.clone();
            tasks.spawn(async move {
                let state = match state {
                    Ok(Some(state)) => state,
                    Ok(None) => return Ok(Vec::new()),
                    Err(e) => return Err(Diagnostic::error(e.to_string())),
                };
                let refreshed = crate::refresh::refresh(&registry, &state)
                    .await
                    .map_err(|e| Diagnostic::error(format!("{instance}: {e}")))?;
                let mut found = Vec::new();
                for drift in &refreshed.drift {
                    let (address, deleted) = match drift {
                        Drift::Changed(a) => (a, false),
                        Drift::Deleted(a) => (a, true),
                    };
                    let before = state.resource(address);
                    let after = refreshed.state.resource(address);
                    found.push(Found {
                        instance: instance.clone(),
                        address: address.clone(),
                        deleted,
                        attributes: differences(before, after),
                    });
                }
                if !refreshed.unrefreshed_types.is_empty() {
                    let types: Vec<&str> = refreshed
                        .unrefreshed_types
                        .iter()
                        .map(String::as_str)
                        .collect();
                    return Err(Diagnostic::warning(format!(
                        "{instance}: this build cannot read {}; they were not checked",
                        types.join(", ")
                    ))
                    .note(format!(
                        "{} other resources were checked",
                        state.resources.len()
                    )));
                }
                Ok(found)
            });
        }
        let mut all = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            all.push(joined.expect("drift tasks do not panic"));
        }
        all
    });
    let mut found = Vec::new();
    for result in results {
        match result {
            Ok(f) => found.extend(f),
            Err(d) => diags.push(d),
        }
    }
    found.sort_by(|a, b| (&a.instance, &a.address).cmp(&(&b.instance, &b.address)));
    print_diagnostics(&diags, &repo.sources);
    if diags.has_errors() {
        return EXIT_ERROR;
    }
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Human => write_human(&mut out, &found),
        Format::Json => {
            let entries: Vec<Json> = found
                .iter()
                .map(|f| {
                    json!({
                        "instance": f.instance.to_string(),
                        "address": f.address,
                        "change": if f.deleted { "deleted" } else { "changed" },
                        "attributes": f.attributes.iter().map(|(name, before, after)| {
                            (name.clone(), json!({"before": before, "after": after}))
                        }).collect::<serde_json::Map<_, _>>(),
                    })
                })
                .collect();
            writeln!(out, "{}", json!({ "drift": entries }))
        }
    };
    if written.and_then(|()| out.flush()).is_err() {
        return EXIT_ERROR;
    }
    if found.is_empty() {
        EXIT_OK
    } else {
        EXIT_CHANGES
    }
}

fn write_human(out: &mut dyn Write, found: &[Found]) -> std::io::Result<()> {
    if found.is_empty() {
        return writeln!(out, "No drift: every resource matches its stored state.");
    }
    for f in found {
        if f.deleted {
            writeln!(
                out,
                "{}/{} was deleted outside yagura",
                f.instance, f.address
            )?;
            continue;
        }
        writeln!(out, "{}/{} changed outside yagura:", f.instance, f.address)?;
        for (name, before, after) in &f.attributes {
            writeln!(out, "  ~ {name}: {before} -> {after}")?;
        }
    }
    let noun = if found.len() == 1 {
        "resource"
    } else {
        "resources"
    };
    writeln!(
        out,
        "\n{} {noun} drifted. Run plan to see what apply would do about it.",
        found.len()
    )
}

/// The top-level attributes that differ, with sensitive ones hidden.
fn differences(
    before: Option<&StateResource>,
    after: Option<&StateResource>,
) -> Vec<(String, Json, Json)> {
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    let sensitive = |name: &str| {
        before
            .sensitive_attributes
            .iter()
            .any(|p| p.first().map(String::as_str) == Some(name))
    };
    let mut names: Vec<&String> = before
        .attributes
        .keys()
        .chain(after.attributes.keys())
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let (b, a) = (
            before.attributes.get(name).cloned().unwrap_or(Json::Null),
            after.attributes.get(name).cloned().unwrap_or(Json::Null),
        );
        if b != a {
            if sensitive(name) {
                out.push((
                    name.clone(),
                    json!("(sensitive value)"),
                    json!("(sensitive value)"),
                ));
            } else {
                out.push((name.clone(), b, a));
            }
        }
    }
    out
}
