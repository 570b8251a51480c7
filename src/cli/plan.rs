//! `yagura plan`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::addr::InstanceAddr;
use crate::config::Repo;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::plan::saved::{SAVED_PLAN_VERSION, SavedInstance, SavedPlan, spec_digest};
use crate::plan::{InstancePlan, Plan, plan_instance};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::providers::Registry;
use crate::providers::gcp::{
    ClientOptions, DefaultCredentials, Endpoints, GcpClient, GcpProvider, TokenSource,
};
use crate::providers::kubernetes::{Cluster, ClusterOptions, KubernetesProvider};
use crate::refresh::Drift;
use crate::render;
use crate::state::gcs::GcsBackend;
use crate::state::local::LocalBackend;
use crate::state::postgres::PostgresBackend;
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

/// Instances with a stored state that the specs no longer have (their service is
/// gone, or no longer runs in their environment), within the filters: planned for
/// deletion. A service filter names services of the specs, so it selects none.
pub(crate) fn removed_instances(
    runtime: &tokio::runtime::Runtime,
    backend: &dyn Backend,
    repo: &Repo,
    services: &[String],
    envs: &[String],
) -> Result<Vec<InstanceAddr>, String> {
    if !services.is_empty() {
        return Ok(Vec::new());
    }
    let stored = runtime
        .block_on(backend.list())
        .map_err(|e| format!("cannot list the stored states: {e}"))?;
    let mut removed = Vec::new();
    for instance in stored
        .into_iter()
        .filter(|i| !crate::plan::in_specs(repo, i))
        .filter(|i| envs.is_empty() || envs.contains(&i.env))
    {
        // Once everything of a removed instance is gone, there is nothing to plan.
        let state = runtime
            .block_on(backend.read(&instance))
            .map_err(|e| e.to_string())?;
        if state.is_some_and(|s| {
            !s.resources.is_empty() || !s.pending.is_empty() || !s.deposed.is_empty()
        }) {
            removed.push(instance);
        }
    }
    Ok(removed)
}

/// The state backend the platform configures.
pub(crate) fn backend(repo: &Repo, root: &Path) -> Result<Box<dyn Backend>, String> {
    let state = &repo.platform.state;
    let setting = |name: &str| state.settings.get(name).cloned();
    match state.backend.as_str() {
        "local" => {
            let dir = setting("path").unwrap_or_else(|| "state".to_string());
            Ok(Box::new(LocalBackend::new(root.join(dir))))
        }
        "postgres" => {
            let url = std::env::var("YAGURA_PG_URL")
                .ok()
                .or_else(|| setting("conn_str"))
                .ok_or(
                    "the postgres backend needs a connection string: set `conn_str` in the state block or YAGURA_PG_URL",
                )?;
            Ok(Box::new(PostgresBackend::new(url)))
        }
        "gcs" => {
            let bucket =
                setting("bucket").ok_or("the gcs backend needs `bucket` in the state block")?;
            let prefix = setting("prefix").unwrap_or_else(|| "yagura".to_string());
            Ok(Box::new(GcsBackend::new(gcp_client(repo)?, bucket, prefix)))
        }
        other => Err(format!("unknown state backend {other:?}")),
    }
}

/// Whether `plan` reads the cloud before comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refresh {
    Read,
    Skip,
}

/// An instance that could not be read or refreshed; its diagnostic is already recorded.
#[derive(Debug, Clone, Copy)]
struct Failed;

/// Refreshes the prior states of all instances at once, on one runtime: the
/// providers bound their own concurrency per API.
fn refresh_all(
    runtime: &tokio::runtime::Runtime,
    registry: Arc<Registry>,
    priors: Vec<Option<StateDocument>>,
    instances: &[InstanceAddr],
    diags: &mut Diagnostics,
) -> Vec<Result<Option<StateDocument>, Failed>> {
    let mut unrefreshed = BTreeSet::new();
    // Kubernetes types in environments that name no cluster, by environment.
    let mut clusterless: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let results = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, prior) in priors.into_iter().enumerate() {
            let registry = registry.clone();
            tasks.spawn(async move {
                let refreshed = match &prior {
                    Some(doc) if !doc.resources.is_empty() => {
                        Some(crate::refresh::refresh(&registry, doc).await)
                    }
                    _ => None,
                };
                (i, prior, refreshed)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.expect("refresh tasks do not panic"));
        }
        results
    });
    let mut out: Vec<Result<Option<StateDocument>, Failed>> =
        (0..instances.len()).map(|_| Err(Failed)).collect();
    for (i, prior, refreshed) in results {
        let instance = &instances[i];
        out[i] = match refreshed {
            None => Ok(prior),
            Some(Err(e)) => {
                diags.push(Diagnostic::error(format!("{instance}: {e}")).help(
                    "pass --no-refresh to plan against the stored state without reading the cloud",
                ));
                Err(Failed)
            }
            Some(Ok(refreshed)) => {
                for drift in &refreshed.drift {
                    let (address, what) = match drift {
                        Drift::Changed(a) => (a, "changed"),
                        Drift::Deleted(a) => (a, "was deleted"),
                    };
                    diags.push(Diagnostic::warning(format!(
                        "{instance}/{address} {what} outside yagura"
                    )));
                }
                for type_name in refreshed.unrefreshed_types {
                    if KubernetesProvider::supports(&type_name) {
                        clusterless
                            .entry(instance.env.clone())
                            .or_default()
                            .insert(type_name);
                    } else {
                        unrefreshed.insert(type_name);
                    }
                }
                Ok(Some(refreshed.state))
            }
        };
    }
    if !unrefreshed.is_empty() {
        let types: Vec<&str> = unrefreshed.iter().map(String::as_str).collect();
        diags.push(Diagnostic::warning(format!(
            "this build cannot read {} yet; they are planned against the stored state",
            types.join(", ")
        )));
    }
    for (env, types) in clusterless {
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        diags.push(
            Diagnostic::warning(format!(
                "environment `{env}` names no cluster, so {} cannot be read; they are planned against the stored state",
                types.join(", ")
            ))
            .help("set `cluster` in the environment to a platform `cluster` block"),
        );
    }
    out
}

/// The Google client, with the endpoints from `yagura.hcl` and the environment.
pub(crate) fn gcp_client(repo: &Repo) -> Result<Arc<GcpClient>, String> {
    gcp_client_with(repo, ClientOptions::default())
}

fn gcp_client_with(repo: &Repo, options: ClientOptions) -> Result<Arc<GcpClient>, String> {
    let mut endpoints = Endpoints::default();
    for (api, url) in &repo.platform.endpoints {
        endpoints
            .set(api, url)
            .map_err(|e| format!("{}: {e}", crate::config::PLATFORM_FILE))?;
    }
    for (api, _) in crate::providers::gcp::client::APIS {
        let var = format!("YAGURA_ENDPOINT_{}", api.to_uppercase());
        if let Ok(url) = std::env::var(&var) {
            endpoints
                .set(api, &url)
                .map_err(|e| format!("{var}: {e}"))?;
        }
    }
    if let Ok(host) = std::env::var("SPANNER_EMULATOR_HOST") {
        endpoints
            .set("spanner", &format!("http://{host}/"))
            .map_err(|e| format!("SPANNER_EMULATOR_HOST: {e}"))?;
    }
    let client = GcpClient::new(endpoints, Arc::new(DefaultCredentials::default()), options)?;
    Ok(Arc::new(client))
}

/// The providers: local ones, Google's through the configured endpoints, and
/// each environment's cluster.
pub(crate) fn registry(repo: &Repo) -> Result<Registry, String> {
    let registry = Registry::local().with_gcp(GcpProvider::new(gcp_client(repo)?));
    with_clusters(registry, repo, ClusterOptions::default())
}

/// The providers, with at most `parallelism` Google API calls in flight, and as
/// many calls in flight to each cluster.
pub(crate) fn registry_with(repo: &Repo, parallelism: usize) -> Result<Registry, String> {
    let options = ClientOptions {
        total_concurrency: parallelism.max(1),
        ..ClientOptions::default()
    };
    let registry = Registry::local().with_gcp(GcpProvider::new(gcp_client_with(repo, options)?));
    let cluster_options = ClusterOptions {
        concurrency: parallelism.max(1),
        ..ClusterOptions::default()
    };
    with_clusters(registry, repo, cluster_options)
}

/// Adds the provider of each environment's cluster; environments that name one
/// cluster share its provider. Credentials are looked up at the first call.
fn with_clusters(
    mut registry: Registry,
    repo: &Repo,
    options: ClusterOptions,
) -> Result<Registry, String> {
    let tokens: Arc<dyn TokenSource> = Arc::new(DefaultCredentials::default());
    let mut providers: BTreeMap<&str, Arc<KubernetesProvider>> = BTreeMap::new();
    for env in &repo.environments {
        let Some(name) = env.cluster.as_deref() else {
            continue;
        };
        // The loader reports an environment naming an undeclared cluster.
        let Some(block) = repo
            .platform
            .clusters
            .iter()
            .find(|c| c.labels.first().map(String::as_str) == Some(name))
        else {
            continue;
        };
        let provider = match providers.get(name) {
            Some(provider) => provider.clone(),
            None => {
                let (cluster, source) = cluster_config(name, block)?;
                // The CA always comes from yagura.hcl; the endpoint maybe from a variable.
                let provider = KubernetesProvider::new(&cluster, tokens.clone(), options.clone())
                    .map_err(|e| {
                    if e.contains("`ca_certificate`") {
                        format!("{}: {e}", crate::config::PLATFORM_FILE)
                    } else {
                        format!("{source}: {e}")
                    }
                })?;
                let provider = Arc::new(provider);
                providers.insert(name, provider.clone());
                provider
            }
        };
        registry = registry.with_cluster(&env.name, provider);
    }
    Ok(registry)
}

/// A platform `cluster` block, with its endpoint overridden by
/// `YAGURA_CLUSTER_ENDPOINT_<NAME>` (upper case, `-` as `_`), and where the
/// endpoint came from, for errors.
fn cluster_config(name: &str, block: &crate::config::Block) -> Result<(Cluster, String), String> {
    let file = crate::config::PLATFORM_FILE;
    let literal = |attribute: &str| -> Result<Option<String>, String> {
        match block.body.attribute(attribute) {
            None => Ok(None),
            Some(attr) => match attr.expr.as_literal_str() {
                Some(text) => Ok(Some(text.to_string())),
                None => Err(format!(
                    "{file}: `{attribute}` of cluster {name:?} must be a literal string"
                )),
            },
        }
    };
    let var = format!(
        "YAGURA_CLUSTER_ENDPOINT_{}",
        name.to_uppercase().replace('-', "_")
    );
    let (endpoint, source) = match std::env::var(&var) {
        Ok(url) => (Some(url), var),
        Err(_) => (literal("endpoint")?, file.to_string()),
    };
    let cluster = Cluster {
        name: name.to_string(),
        endpoint,
        ca_certificate: literal("ca_certificate")?,
    };
    Ok((cluster, source))
}

/// Plans the selected instances in parallel; returns the plan and every diagnostic.
pub(crate) fn plan_all(
    runtime: &tokio::runtime::Runtime,
    repo: &Repo,
    backend: &dyn Backend,
    registry: Arc<Registry>,
    instances: &[InstanceAddr],
    parallelism: usize,
    refresh: Refresh,
) -> (Plan, Diagnostics) {
    let mut diags = Diagnostics::default();
    let priors: Vec<Result<Option<StateDocument>, Failed>> = instances
        .iter()
        .map(|instance| {
            runtime.block_on(backend.read(instance)).map_err(|e| {
                diags.push(Diagnostic::error(e.to_string()));
                Failed
            })
        })
        .collect();
    let priors = match refresh {
        Refresh::Skip => priors,
        Refresh::Read => {
            let readable: Vec<Option<StateDocument>> =
                priors.iter().map(|p| p.clone().ok().flatten()).collect();
            let refreshed = refresh_all(runtime, registry.clone(), readable, instances, &mut diags);
            priors
                .into_iter()
                .zip(refreshed)
                .map(|(read, refreshed)| read.and(refreshed))
                .collect()
        }
    };
    // An instance whose state could not be read or refreshed is not planned.
    let mut work: Vec<(&InstanceAddr, Option<StateDocument>)> = instances
        .iter()
        .zip(priors)
        .filter_map(|(instance, prior)| prior.ok().map(|p| (instance, p)))
        .collect();
    // `import` blocks read what they adopt, as part of reading the cloud.
    let mut imported: BTreeMap<InstanceAddr, Vec<(String, String)>> = BTreeMap::new();
    for (instance, prior) in &mut work {
        let has_imports = repo
            .service(&instance.service)
            .is_some_and(|s| !s.module.imports.is_empty());
        if !has_imports {
            continue;
        }
        if refresh == Refresh::Skip {
            diags.push(Diagnostic::warning(format!(
                "{instance}: `import` blocks are not read without refresh; what they adopt is planned as a create"
            )));
            continue;
        }
        let state = prior.get_or_insert_with(|| {
            StateDocument::new((*instance).clone(), uuid::Uuid::new_v4().to_string())
        });
        match runtime.block_on(crate::refresh::import_blocks(&registry, repo, state)) {
            Ok(list) => {
                imported.insert((*instance).clone(), list);
            }
            Err(message) => diags.push(Diagnostic::error(message)),
        }
    }
    if diags.has_errors() {
        return (Plan::default(), diags);
    }
    let chunk = work.len().div_ceil(parallelism.max(1)).max(1);
    let results: Vec<(Option<InstancePlan>, Diagnostics)> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(instance, prior)| {
                            let _span = tracing::debug_span!("instance", %instance).entered();
                            plan_instance(repo, instance, prior.as_ref())
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
    for (instance_plan, d) in results {
        diags.extend(d);
        if let Some(mut p) = instance_plan {
            if let Some(list) = imported.get(&p.instance) {
                mark_imports(&mut p, list);
            }
            plan.instances.push(p);
        }
    }
    (plan, diags)
}

/// Marks the changes of resources that `import` blocks adopt.
pub(crate) fn mark_imports(plan: &mut InstancePlan, imported: &[(String, String)]) {
    for change in &mut plan.changes {
        let address = change.addr.to_string();
        if let Some((_, id)) = imported.iter().find(|(to, _)| *to == address) {
            change.importing = Some(id.clone());
        }
    }
}

pub fn run(root: &Path, args: PlanArgs) -> i32 {
    let Some(repo) = load(root) else {
        return EXIT_ERROR;
    };
    let mut instances = match select_instances(&repo, &args.services, &args.envs) {
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
    let Some(runtime) = super::runtime() else {
        return EXIT_ERROR;
    };
    match removed_instances(
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
    let registry = match registry(&repo) {
        Ok(r) => Arc::new(r),
        Err(m) => {
            error_line(m);
            return EXIT_ERROR;
        }
    };
    let (plan, diags) = plan_all(
        &runtime,
        &repo,
        backend.as_ref(),
        registry,
        &instances,
        parallelism,
        refresh,
    );
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
