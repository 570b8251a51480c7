//! `yagura apply`: execute a saved plan, or plan and apply after confirmation.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use clap::Args;

use crate::addr::InstanceAddr;
use crate::apply::{self, Context, InstanceReport, Status};
use crate::config::Repo;
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::saved::{SAVED_PLAN_VERSION, SavedPlan, spec_digest};
use crate::plan::{ChangeAction, InstancePlan, Plan};
use crate::refresh::Drift;
use crate::render;
use crate::render::progress;
use crate::state::{LockInfo, StateDocument, StateWriter};

use super::plan::{backend, select_instances};
use super::{EXIT_ERROR, EXIT_OK, error_line, load, print_diagnostics, stdout_style};

/// How an apply or a destroy runs.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// API calls in flight at once, across all instances: Google's (each API is
    /// also bounded, and slowed down when it answers 429), and each cluster's
    #[arg(long, value_name = "N", default_value_t = 64)]
    parallelism: usize,
    /// How long to wait for another apply's lock, e.g. `30s` or `5m` [default: fail at once]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    lock_timeout: Option<Duration>,
    /// Plan against the stored state without reading the cloud first
    #[arg(long)]
    no_refresh: bool,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`; without it, apply plans first and asks to confirm
    #[arg(value_name = "PLANFILE")]
    plan_file: Option<PathBuf>,
    /// Apply without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    /// Apply only this service (can be repeated)
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Apply only this environment (can be repeated)
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// Parses `90`, `90s`, `5m` or `1h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 30s or 5m"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("'{text}' is not a duration such as 30s or 5m")),
    };
    Ok(Duration::from_secs(seconds))
}

/// An instance ready to apply: its lock, its state and its plan.
struct Prepared {
    writer: Box<dyn StateWriter>,
    state: StateDocument,
    plan: InstancePlan,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    /// Destroy this service's resources (can be repeated)
    #[arg(long = "service", value_name = "NAME", required = true)]
    services: Vec<String>,
    /// In this environment (can be repeated)
    #[arg(long = "env", value_name = "NAME", required = true)]
    envs: Vec<String>,
    /// Destroy without asking for confirmation
    #[arg(long)]
    auto_approve: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// `yagura destroy`: apply a plan that deletes every resource of the instances.
pub fn destroy(root: &Path, args: DestroyArgs) -> i32 {
    run_mode(
        root,
        ApplyArgs {
            plan_file: None,
            auto_approve: args.auto_approve,
            services: args.services,
            envs: args.envs,
            run: args.run,
        },
        true,
    )
}

pub fn run(root: &Path, args: ApplyArgs) -> i32 {
    run_mode(root, args, false)
}

fn run_mode(root: &Path, args: ApplyArgs, destroy: bool) -> i32 {
    let Some(repo) = load(root) else {
        return EXIT_ERROR;
    };
    let repo = Arc::new(repo);
    let saved = match &args.plan_file {
        None => None,
        Some(path) => match read_saved_plan(&root.join(path), &repo) {
            Ok(saved) => Some(saved),
            Err(message) => {
                error_line(message);
                return EXIT_ERROR;
            }
        },
    };
    let mut instances: Vec<InstanceAddr> = match &saved {
        Some(saved) => saved.instances.iter().map(|i| i.instance.clone()).collect(),
        None => match select_instances(&repo, &args.services, &args.envs) {
            Ok(i) => i,
            Err(d) => {
                print_diagnostics(&d, &repo.sources);
                return EXIT_ERROR;
            }
        },
    };
    let backend: Arc<dyn crate::state::Backend> = match backend(&repo, root) {
        Ok(b) => Arc::from(b),
        Err(m) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let Some(runtime) = super::runtime() else {
        return EXIT_ERROR;
    };
    if saved.is_none() {
        match super::plan::removed_instances(
            &runtime,
            backend.as_ref(),
            &repo,
            &args.services,
            &args.envs,
        ) {
            Ok(removed) => instances.extend(removed),
            Err(m) => {
                error_line(m);
                return EXIT_ERROR;
            }
        }
    }
    // `--parallelism` bounds the API calls in flight, not the resources being worked
    // on: a resource waiting for a long operation holds no place.
    let registry = match super::plan::registry_with(&repo, args.run.parallelism) {
        Ok(r) => Arc::new(r),
        Err(m) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let (events, progress) = progress::sink(progress_output());
    let context = Context {
        repo: repo.clone(),
        registry,
        events,
        interrupted: interrupted.clone(),
        destroy,
    };

    let info = LockInfo::current(if destroy { "destroy" } else { "apply" });
    let wait = args.run.lock_timeout.unwrap_or(Duration::ZERO);
    let locked = match runtime.block_on(lock_all(backend, instances, info, wait)) {
        Ok(locked) => locked,
        Err(e) => {
            error_line(e);
            return EXIT_ERROR;
        }
    };

    let mut diags = Diagnostics::default();
    let prepared = runtime.block_on(prepare(
        &context,
        locked,
        saved.as_ref(),
        !args.run.no_refresh,
        &mut diags,
    ));
    print_diagnostics(&diags, &repo.sources);
    let Some(prepared) = prepared else {
        return EXIT_ERROR;
    };

    let plan = Plan {
        instances: prepared.iter().map(|p| p.plan.clone()).collect(),
    };
    if saved.is_none() {
        let mut stdout = std::io::stdout().lock();
        if render::human::plan(&plan, &mut stdout, stdout_style())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return EXIT_ERROR;
        }
        drop(stdout);
        if plan.counts().is_empty() {
            // Nothing to confirm; refreshed state is still recorded below.
        } else if !args.auto_approve && !confirm(destroy) {
            return EXIT_ERROR;
        }
    }

    // Ctrl-C: stop starting steps, let the ones in flight finish and record them.
    // `ctrl_c` installs its handler when first polled, so it is polled once here,
    // before any step starts: left to the watcher task, a Ctrl-C that came before the
    // task first ran would still kill the process.
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    let first_poll = runtime.block_on(std::future::poll_fn(|cx| {
        Poll::Ready(ctrl_c.as_mut().poll(cx))
    }));
    let watcher = {
        let interrupted = interrupted.clone();
        let progress = progress.clone();
        runtime.spawn(async move {
            let heard = match first_poll {
                Poll::Ready(heard) => heard,
                Poll::Pending => ctrl_c.await,
            };
            if heard.is_ok() {
                interrupted.store(true, Ordering::SeqCst);
                progress.note("Interrupted: waiting for the calls in flight, then recording them.");
            }
        })
    };
    progress.begin(&plan);
    let started = Instant::now();
    let reports = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for p in prepared {
            let context = context.clone();
            tasks.spawn(apply::apply_instance(context, p.plan, p.state, p.writer));
        }
        let mut reports = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(e) => error_line(format!("an instance's apply panicked: {e}")),
            }
        }
        reports
    });
    watcher.abort();
    progress.finish();
    reports_summary(
        reports,
        started.elapsed(),
        interrupted.load(Ordering::SeqCst),
        destroy,
    )
}

/// Locks every instance. Without a wait they are tried all at once and any refusal
/// fails the apply; with one, they are taken in address order, so that two applies
/// never wait on each other in a ring.
async fn lock_all(
    backend: Arc<dyn crate::state::Backend>,
    mut instances: Vec<InstanceAddr>,
    info: LockInfo,
    wait: Duration,
) -> Result<Vec<(InstanceAddr, Box<dyn StateWriter>)>, crate::state::StateError> {
    instances.sort();
    let mut locked = Vec::with_capacity(instances.len());
    if !wait.is_zero() {
        for instance in instances {
            let writer = backend.lock(&instance, &info, wait).await?;
            locked.push((instance, writer));
        }
        return Ok(locked);
    }
    let info = Arc::new(info);
    let mut tasks = tokio::task::JoinSet::new();
    for instance in instances {
        let (backend, info) = (backend.clone(), info.clone());
        tasks.spawn(async move {
            let writer = backend.lock(&instance, &info, Duration::ZERO).await;
            (instance, writer)
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (instance, writer) = joined.expect("taking a lock does not panic");
        match writer {
            Ok(writer) => locked.push((instance, writer)),
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    match first_error {
        // The locks taken are released as `locked` is dropped.
        Some(e) => Err(e),
        None => {
            locked.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(locked)
        }
    }
}

/// Reads a saved plan and checks it was made from these specs by a build that reads it.
fn read_saved_plan(path: &Path, repo: &Repo) -> Result<SavedPlan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plan {}: {e}", path.display()))?;
    let saved: SavedPlan = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a yagura plan: {e}", path.display()))?;
    if saved.format_version != SAVED_PLAN_VERSION {
        return Err(format!(
            "{} has plan format {}, and this yagura reads format {SAVED_PLAN_VERSION}; plan again",
            path.display(),
            saved.format_version
        ));
    }
    if saved.spec_digest != spec_digest(&repo.sources) {
        return Err(format!(
            "the specs changed since {} was made; plan again",
            path.display()
        ));
    }
    Ok(saved)
}

/// Reads each locked instance's state, finishes what a killed apply left, refreshes
/// and plans. `None` when any instance cannot be planned or a saved plan is stale.
async fn prepare(
    context: &Context,
    locked: Vec<(InstanceAddr, Box<dyn StateWriter>)>,
    saved: Option<&SavedPlan>,
    refresh: bool,
    diags: &mut Diagnostics,
) -> Option<Vec<Prepared>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (instance, mut writer) in locked {
        let context = context.clone();
        let expected = saved.and_then(|s| {
            s.instances
                .iter()
                .find(|i| i.instance == instance)
                .map(|i| (i.prior_lineage.clone(), i.prior_serial))
        });
        tasks.spawn(async move {
            let result =
                read_and_refresh(&context, &instance, writer.as_mut(), expected, refresh).await;
            (instance, writer, result)
        });
    }
    let mut ready = Vec::new();
    let mut failed = false;
    while let Some(joined) = tasks.join_next().await {
        let (instance, writer, result) = joined.expect("preparing an instance does not panic");
        match result {
            Ok((state, drift, imported)) => {
                for d in drift {
                    diags.push(d);
                }
                ready.push((instance, writer, state, imported));
            }
            Err(d) => {
                diags.push(d);
                failed = true;
            }
        }
    }
    if failed {
        return None;
    }
    ready.sort_by(|a, b| a.0.cmp(&b.0));
    let mut prepared = Vec::new();
    for (instance, writer, mut state, imported) in ready {
        let (plan, d) = context.plan(&instance, Some(&state));
        diags.extend(d);
        match plan {
            Some(mut plan) => {
                super::plan::mark_imports(&mut plan, &imported);
                // An imported resource depends on what the specs say it does.
                for change in plan.changes.iter().filter(|c| c.importing.is_some()) {
                    let address = change.addr.to_string();
                    if let Some(r) = state.resources.iter_mut().find(|r| r.address == address) {
                        r.dependencies = change.dependencies.clone();
                    }
                }
                prepared.push(Prepared {
                    writer,
                    state,
                    plan,
                })
            }
            None => failed = true,
        }
    }
    if failed {
        return None;
    }
    if let Some(saved) = saved {
        let fresh = render::json::plan(&Plan {
            instances: prepared.iter().map(|p| p.plan.clone()).collect(),
        });
        if let Some(difference) = plan_difference(&saved.plan, &fresh) {
            diags.push(
                Diagnostic::error(format!("the plan is stale: {difference} since it was made"))
                    .help("run plan again and apply the new plan"),
            );
            return None;
        }
    }
    Some(prepared)
}

/// Reads one locked instance's state, resolves unfinished creates and refreshes it.
async fn read_and_refresh(
    context: &Context,
    instance: &InstanceAddr,
    writer: &mut dyn StateWriter,
    expected: Option<(Option<String>, Option<u64>)>,
    refresh: bool,
) -> Result<(StateDocument, Vec<Diagnostic>, Vec<(String, String)>), Diagnostic> {
    let stored = writer
        .read()
        .await
        .map_err(|e| Diagnostic::error(e.to_string()))?;
    if let Some((lineage, serial)) = expected {
        let now = (
            stored.as_ref().map(|s| s.lineage.clone()),
            stored.as_ref().map(|s| s.serial),
        );
        if now != (lineage, serial) {
            return Err(Diagnostic::error(format!(
                "the plan is stale: the state of {instance} was written since the plan was made"
            ))
            .help("run plan again and apply the new plan"));
        }
    }
    let mut state = stored
        .unwrap_or_else(|| StateDocument::new(instance.clone(), uuid::Uuid::new_v4().to_string()));
    apply::resolve_pending(context, instance, &mut state, writer)
        .await
        .map_err(Diagnostic::error)?;
    let mut notes = Vec::new();
    if refresh && !state.resources.is_empty() {
        let refreshed = crate::refresh::refresh(&context.registry, &state)
            .await
            .map_err(|e| {
                Diagnostic::error(format!("{instance}: {e}")).help(
                    "pass --no-refresh to apply against the stored state without reading the cloud",
                )
            })?;
        for drift in &refreshed.drift {
            let (address, what) = match drift {
                Drift::Changed(a) => (a, "changed"),
                Drift::Deleted(a) => (a, "was deleted"),
            };
            notes.push(Diagnostic::warning(format!(
                "{instance}/{address} {what} outside yagura"
            )));
        }
        state = refreshed.state;
    }
    let has_imports = context
        .repo
        .service(&instance.service)
        .is_some_and(|s| !s.module.imports.is_empty());
    let imported = if refresh && has_imports {
        crate::refresh::import_blocks(&context.registry, &context.repo, &mut state)
            .await
            .map_err(Diagnostic::error)?
    } else {
        Vec::new()
    };
    Ok((state, notes, imported))
}

/// The first difference between a saved plan's resource changes and a fresh plan's.
fn plan_difference(saved: &serde_json::Value, fresh: &serde_json::Value) -> Option<String> {
    let index = |plan: &serde_json::Value| -> BTreeMap<(String, String), serde_json::Value> {
        plan.get("resource_changes")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                let instance = c["instance"].as_str().unwrap_or_default().to_string();
                let address = c["address"].as_str().unwrap_or_default().to_string();
                ((instance, address), c.clone())
            })
            .collect()
    };
    let (saved, fresh) = (index(saved), index(fresh));
    for (key, was) in &saved {
        match fresh.get(key) {
            None => return Some(format!("{}/{} is no longer planned", key.0, key.1)),
            Some(now) if now["change"]["actions"] != was["change"]["actions"] => {
                return Some(format!(
                    "{}/{} was planned as {}, and is now {}",
                    key.0, key.1, was["change"]["actions"], now["change"]["actions"]
                ));
            }
            Some(now) if now != was => {
                return Some(format!("the planned values of {}/{} changed", key.0, key.1));
            }
            Some(_) => {}
        }
    }
    fresh
        .keys()
        .find(|key| !saved.contains_key(*key))
        .map(|key| format!("{}/{} is newly planned", key.0, key.1))
}

/// Asks on the terminal; anything but `yes` declines.
fn confirm(destroy: bool) -> bool {
    if !std::io::stdin().is_terminal() {
        error_line(if destroy {
            "destroy needs confirmation, and there is no terminal to ask on; pass --auto-approve"
        } else {
            "apply needs confirmation, and there is no terminal to ask on; pass --auto-approve, or apply a plan saved with `plan --out`"
        });
        return false;
    }
    if destroy {
        eprint!(
            "\nDestroy every resource listed above? There is no undo. Only 'yes' is accepted: "
        );
    } else {
        eprint!("\nApply these changes? Only 'yes' is accepted: ");
    }
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        eprintln!("Apply cancelled.");
        return false;
    }
    true
}

/// Bars on a terminal; the plain timestamped lines on CI, in pipes and files, and
/// with `TERM` unset or `dumb`.
fn progress_output() -> progress::Output {
    if wants_bars(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI"),
        std::env::var_os("TERM"),
    ) {
        progress::Output::Bars(progress::DrawTarget::stderr())
    } else {
        progress::Output::Lines(Box::new(std::io::stderr()))
    }
}

fn wants_bars(stderr_is_terminal: bool, ci: Option<OsString>, term: Option<OsString>) -> bool {
    // CI services set `CI=true`; an empty value, `false` or `0` means no CI.
    let on_ci = ci.is_some_and(|v| !(v.is_empty() || v == "false" || v == "0"));
    let dumb = term.is_none_or(|t| t.is_empty() || t == "dumb");
    stderr_is_terminal && !on_ci && !dumb
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Prints every resource's outcome and the totals; the exit code.
fn reports_summary(
    mut reports: Vec<InstanceReport>,
    elapsed: Duration,
    interrupted: bool,
    destroy: bool,
) -> i32 {
    reports.sort_by(|a, b| a.instance.cmp(&b.instance));
    let (mut created, mut changed, mut destroyed, mut failed, mut skipped, mut not_started) =
        (0, 0, 0, 0, 0, 0);
    let mut out = String::new();
    for report in &reports {
        if report.resources.is_empty() && report.error.is_none() {
            continue;
        }
        out.push_str(&format!("\n{}:\n", report.instance));
        for r in &report.resources {
            let (mark, what) = match (&r.status, r.action) {
                (Status::Done, ChangeAction::Create) => {
                    created += 1;
                    ("+", "created".to_string())
                }
                (Status::Done, ChangeAction::Update) => {
                    changed += 1;
                    ("~", "changed".to_string())
                }
                (Status::Done, ChangeAction::Replace) => {
                    created += 1;
                    destroyed += 1;
                    ("±", "replaced".to_string())
                }
                (Status::Done, ChangeAction::Delete) => {
                    destroyed += 1;
                    ("-", "destroyed".to_string())
                }
                (Status::Done, ChangeAction::NoOp) => continue,
                (Status::Failed(m), _) => {
                    failed += 1;
                    ("!", format!("failed: {m}"))
                }
                (Status::Skipped(why), _) => {
                    skipped += 1;
                    ("·", format!("skipped: {why}"))
                }
                (Status::NotStarted, _) => {
                    not_started += 1;
                    ("·", "not started (interrupted)".to_string())
                }
            };
            out.push_str(&format!(
                "  {mark} {:<60} {what} ({})\n",
                r.address,
                seconds(r.elapsed)
            ));
        }
        if let Some(e) = &report.error {
            out.push_str(&format!("  ! {e}\n"));
        }
    }
    let mut diags = Diagnostics::default();
    for report in &reports {
        diags.extend(report.diagnostics.clone());
    }
    let any_failed = reports.iter().any(InstanceReport::failed);
    let what = if destroy { "Destroy" } else { "Apply" };
    let verdict = if interrupted {
        format!("{what} interrupted")
    } else if any_failed {
        format!("{what} failed")
    } else {
        format!("{what} complete")
    };
    out.push_str(&format!(
        "\n{verdict} in {}: {created} created, {changed} changed, {destroyed} destroyed, {failed} failed, {skipped} skipped{}.\n",
        seconds(elapsed),
        if not_started > 0 {
            format!(", {not_started} not started")
        } else {
            String::new()
        }
    ));
    // The state is written by now: a closed stdout (`| head`) loses only the summary.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    if !diags.is_empty() {
        print_diagnostics(&diags, &crate::diag::SourceMap::default());
    }
    if any_failed || interrupted {
        EXIT_ERROR
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn bars_only_on_an_attended_terminal() {
        let some = |v: &str| Some(OsString::from(v));
        assert!(wants_bars(true, None, some("xterm-256color")));
        assert!(wants_bars(true, some("false"), some("xterm")));
        assert!(!wants_bars(false, None, some("xterm")));
        assert!(!wants_bars(true, some("true"), some("xterm")));
        assert!(!wants_bars(true, some("1"), some("xterm")));
        assert!(!wants_bars(true, None, some("dumb")));
        assert!(!wants_bars(true, None, None));
    }
}
