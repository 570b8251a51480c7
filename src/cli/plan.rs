//! `yagura plan`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::addr::InstanceAddr;
use crate::config::Repo;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::plan::saved::{SAVED_PLAN_VERSION, SavedInstance, SavedPlan, spec_digest};
use crate::plan::{InstancePlan, Plan, plan_instance};
use crate::providers::Registry;
use crate::refresh::Drift;
use crate::render;
use crate::state::local::LocalBackend;
use crate::state::{Backend, StateDocument};

use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, error_line, load, print_diagnostics, stdout_style};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Markdown,
    Json,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Exit with 0 when nothing changes, 1 on errors and 2 when there are changes
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan against the stored state without reading the cloud first
    #[arg(long)]
    no_refresh: bool,
    /// Plan only this service (can be repeated)
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Plan only this environment (can be repeated)
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    /// Save the plan to FILE for `apply`
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Instances planned at once [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    parallelism: Option<usize>,
}

/// Chooses the instances the filters select; unknown names are errors.
pub(crate) fn select_instances(
    repo: &Repo,
    services: &[String],
    envs: &[String],
) -> Result<Vec<InstanceAddr>, Diagnostics> {
    let mut diags = Diagnostics::default();
    for s in services {
        if repo.service(s).is_none() {
            diags.push(
                Diagnostic::error(format!("no service named {s:?}")).with_help(
                    did_you_mean(s, repo.services.iter().map(|x| x.name.as_str()))
                        .map(|x| format!("did you mean {x:?}?")),
                ),
            );
        }
    }
    for e in envs {
        if repo.environment(e).is_none() {
            diags.push(
                Diagnostic::error(format!("no environment named {e:?}")).with_help(
                    did_you_mean(e, repo.environments.iter().map(|x| x.name.as_str()))
                        .map(|x| format!("did you mean {x:?}?")),
                ),
            );
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut out = Vec::new();
    for service in &repo.services {
        if !services.is_empty() && !services.contains(&service.name) {
            continue;
        }
        for env in &service.environments {
            if envs.is_empty() || envs.contains(env) {
                out.push(InstanceAddr::new(&service.name, env));
            }
        }
    }
    Ok(out)
}

/// The state backend the platform configures.
pub(crate) fn backend(repo: &Repo, root: &Path) -> Result<Box<dyn Backend>, String> {
    let state = &repo.platform.state;
    match state.backend.as_str() {
        "local" => {
            let dir = state.settings.get("path").map_or("state", String::as_str);
            Ok(Box::new(LocalBackend::new(root.join(dir))))
        }
        other => Err(format!(
            "the {other:?} state backend is not available in this build yet; use backend = \"local\""
        )),
    }
}

/// Whether `plan` reads the cloud before comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresh {
    Read,
    Skip,
}

/// Reads an instance's prior state and refreshes it through the providers.
fn prior_state(
    backend: &dyn Backend,
    registry: &Registry,
    instance: &InstanceAddr,
    refresh: Refresh,
    notes: &mut Diagnostics,
) -> Result<Option<StateDocument>, Diagnostic> {
    let prior = backend
        .read(instance)
        .map_err(|e| Diagnostic::error(e.to_string()))?;
    let Some(prior) = prior else {
        tracing::debug!("no stored state");
        return Ok(None);
    };
    tracing::debug!(
        serial = prior.serial,
        resources = prior.resources.len(),
        "read the stored state"
    );
    if refresh == Refresh::Skip || prior.resources.is_empty() {
        return Ok(Some(prior));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Diagnostic::error(format!("cannot start the refresh runtime: {e}")))?;
    let refreshed = runtime
        .block_on(crate::refresh::refresh(registry, &prior))
        .map_err(|e| Diagnostic::error(format!("{instance}: {e}")))?;
    for drift in &refreshed.drift {
        let (address, what) = match drift {
            Drift::Changed(a) => (a, "changed"),
            Drift::Deleted(a) => (a, "was deleted"),
        };
        notes.push(Diagnostic::warning(format!(
            "{instance}/{address} {what} outside yagura"
        )));
    }
    if !refreshed.unrefreshed_types.is_empty() {
        let types: Vec<&str> = refreshed
            .unrefreshed_types
            .iter()
            .map(String::as_str)
            .collect();
        notes.push(Diagnostic::warning(format!(
            "this build cannot read {} yet; they are planned against the stored state",
            types.join(", ")
        )));
    }
    Ok(Some(refreshed.state))
}

/// Plans the selected instances in parallel; returns the plan and every diagnostic.
pub(crate) fn plan_all(
    repo: &Repo,
    backend: &dyn Backend,
    instances: &[InstanceAddr],
    parallelism: usize,
    refresh: Refresh,
) -> (Plan, Diagnostics) {
    let registry = Registry::local();
    let registry = &registry;
    let chunk = instances.len().div_ceil(parallelism.max(1)).max(1);
    let results: Vec<(Option<InstancePlan>, Diagnostics)> = std::thread::scope(|scope| {
        let handles: Vec<_> = instances
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|instance| {
                            let _span = tracing::debug_span!("instance", %instance).entered();
                            let mut notes = Diagnostics::default();
                            match prior_state(backend, registry, instance, refresh, &mut notes) {
                                Ok(prior) => {
                                    let (plan, d) = plan_instance(repo, instance, prior.as_ref());
                                    notes.extend(d);
                                    (plan, notes)
                                }
                                Err(d) => {
                                    notes.push(d);
                                    (None, notes)
                                }
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("planning threads do not panic"))
            .collect()
    });
    let mut plan = Plan::default();
    let mut diags = Diagnostics::default();
    for (instance_plan, d) in results {
        diags.extend(d);
        if let Some(p) = instance_plan {
            plan.instances.push(p);
        }
    }
    (plan, diags)
}

pub fn run(root: &Path, args: PlanArgs) -> i32 {
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
    let backend = match backend(&repo, root) {
        Ok(b) => b,
        Err(m) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let parallelism = args
        .parallelism
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let refresh = if args.no_refresh {
        Refresh::Skip
    } else {
        Refresh::Read
    };
    tracing::info!(
        instances = instances.len(),
        parallelism,
        ?refresh,
        "planning"
    );
    let (plan, diags) = plan_all(&repo, backend.as_ref(), &instances, parallelism, refresh);
    tracing::info!(changes = ?plan.counts(), "planned");
    print_diagnostics(&diags, &repo.sources);
    if diags.has_errors() {
        return EXIT_ERROR;
    }
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        Format::Human => render::human::plan(&plan, &mut stdout, stdout_style()),
        Format::Markdown => stdout.write_all(render::markdown::plan(&plan).as_bytes()),
        Format::Json => {
            render::json::write_plan(&plan, &mut stdout).and_then(|()| writeln!(stdout))
        }
    };
    if let Err(e) = written.and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            error_line(format!("cannot write the plan: {e}"));
        }
        return EXIT_ERROR;
    }
    if let Some(out) = &args.out {
        // Like `git -C`, a relative path is relative to the directory yagura runs in.
        let out = &root.join(out);
        let saved = SavedPlan {
            format_version: SAVED_PLAN_VERSION,
            yagura_version: env!("CARGO_PKG_VERSION").to_string(),
            spec_digest: spec_digest(&repo.sources),
            instances: plan
                .instances
                .iter()
                .map(|i| SavedInstance {
                    instance: i.instance.clone(),
                    prior_lineage: i.prior_lineage.clone(),
                    prior_serial: i.prior_serial,
                })
                .collect(),
            plan: render::json::plan(&plan),
        };
        let text = serde_json::to_string_pretty(&saved).expect("saved plans serialise");
        if let Err(e) = write_atomically(out, text.as_bytes()) {
            error_line(format!("cannot save the plan to {}: {e}", out.display()));
            return EXIT_ERROR;
        }
        eprintln!("Saved the plan to {}", out.display());
    }
    if args.detailed_exitcode && !plan.counts().is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

/// Writes a file by writing a temporary sibling, syncing it and renaming it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
