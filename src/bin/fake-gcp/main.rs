//! `fake-gcp`: an in-memory fake of the Google Cloud APIs yagura calls, for
//! tests, examples and benchmarks.
//!
//! Each API listens on its own loopback port under Google's own URL paths and JSON.
//! The first line on stdout maps each API's discovery name to its base URL; then the
//! server runs until SIGINT, SIGTERM or (with `--exit-on-stdin-eof`) the end of stdin.
//! Latency, errors, failing operations and eventual-consistency lag come by flag.
//! Every port also reports the requests it received at `GET /_fake/requests`
//! (see `stats`), so that tests can count the calls a change made.
//!
//! Invariant: nothing here talks to the real Google; no credentials are read.

mod billing;
mod connection;
mod crm;
mod dice;
mod discovery;
mod dns;
mod errors;
mod faults;
mod iam;
mod oauth;
mod operations;
mod policy;
mod request;
mod secretmanager;
mod serviceusage;
mod serving;
mod spanner;
mod sqladmin;
mod stats;
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::connection::{Connection, ResettableListener};
use crate::dice::FaultArgs;
use crate::discovery::Discovery;
use crate::errors::ApiError;
use crate::faults::ApiContext;
use crate::stats::RequestCounts;
use crate::world::{Seed, Server, Settings, Shared, World};

/// Builds the routes of one API.
type RouterFn = fn() -> Router<Shared>;

/// The Google APIs served, by discovery name, with the version of their discovery
/// document, in the order their ports are given out; the OAuth token endpoint,
/// `oauth2`, comes last.
const APIS: &[(&str, &str, RouterFn)] = &[
    ("cloudresourcemanager", "v3", crm::router),
    ("cloudbilling", "v1", billing::router),
    ("serviceusage", "v1", serviceusage::router),
    ("iam", "v1", iam::router),
    ("sqladmin", "v1", sqladmin::router),
    ("dns", "v1", dns::router),
    ("secretmanager", "v1", secretmanager::router),
    ("spanner", "v1", spanner::router),
];

/// One API as served: its routes and, with `--discovery`, its request checks.
struct ServedApi {
    /// The discovery name, e.g. `sqladmin`.
    name: &'static str,
    router: Router<Shared>,
    discovery: Option<Arc<Discovery>>,
}

/// Serve an in-memory fake of the Google Cloud APIs yagura calls
///
/// Prints one JSON line mapping each API's discovery name to its base URL, then
/// serves until interrupted.
///
/// Every API's port also answers `GET /_fake/requests` with the requests that port
/// has received, as a JSON object from `METHOD path` to a count, the path's ids
/// replaced by placeholders (`POST v3/projects/{projectsId}:setIamPolicy`); faulted
/// and refused requests count too. `DELETE /_fake/requests` answers the same and
/// resets the counts. Neither gets latency or faults, nor counts itself.
#[derive(Debug, Parser)]
#[command(name = "fake-gcp")]
struct Args {
    /// Host and port to listen on; with port 0 every API gets its own ephemeral port,
    /// otherwise the APIs take consecutive ports from this one
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// JSON file naming what exists from the start; defaults to
    /// examples/fleet/yagura.hcl's organization 123456789012 and billing account
    /// 01ABCD-234567-89EFGH
    ///
    /// Keys, all optional: `organizations` and `folders` (ids), `billing_accounts`,
    /// `creator` (a principal), `projects` (`[{project_id, parent, display_name,
    /// billing_account, services}]`) and `managed_zones` (`[{project, name, dns_name,
    /// description}]`, Cloud DNS zones of seeded projects holding only their apex SOA
    /// and NS) and `service_account_keys` (`[{client_email, private_key_id,
    /// public_key_pem}]`, the keys whose signed JWTs oauth2's `/token` accepts).
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,

    /// Folder that exists in addition to the seed's, by number (can be repeated)
    #[arg(long, value_name = "NUMBER")]
    folder: Vec<String>,

    /// Principal granted roles/owner on every project it creates, overriding the
    /// seed's `creator` [default: user:creator@example.com]
    #[arg(long, value_name = "PRINCIPAL")]
    creator: Option<String>,

    /// How long operations take before they are done, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 50)]
    operation_delay_ms: u64,

    /// How long a deleted Cloud SQL instance's name stays reserved, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    sql_name_reuse_ms: u64,

    #[command(flatten)]
    faults: FaultArgs,

    /// Fraction of operations (0 to 1) that finish with `error` instead of `response`
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = dice::parse_fraction)]
    failing_operations: f64,

    /// How long a new service account stays invisible and a just-enabled service
    /// unusable, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    consistency_lag_ms: u64,

    /// How much longer a new service account stays unknown to IAM policies, as a
    /// member of a policy write (400 "does not exist") and for its own policy (404),
    /// once reads find it, in milliseconds: IAM reads are served by replicas that
    /// need not agree
    #[arg(long, value_name = "MS", default_value_t = 0)]
    policy_lag_ms: u64,

    /// Seed of the fault dice, for runs that replay the same faults [default: the clock]
    #[arg(long, value_name = "S")]
    seed_rng: Option<u64>,

    /// Exit when stdin reaches end of file, so a test's server dies with the test
    #[arg(long)]
    exit_on_stdin_eof: bool,

    /// Folder of Google's discovery documents (`<api>.<version>.json`, e.g.
    /// `sqladmin.v1.json`), one for each API served; with it, a request that is no
    /// method of its API's document gets 404, and a body that Google's JSON parser
    /// would refuse gets Google's 400 INVALID_ARGUMENT before any handler runs
    #[arg(long, value_name = "DIR", env = "FAKE_GCP_DISCOVERY")]
    discovery: Option<PathBuf>,

    /// Log every request (method, path, status) to stderr
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    serving::run_process("fake-gcp", args.verbose, run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let mut seed = match &args.seed {
        Some(path) => Seed::load(path)?,
        None => Seed::fleet_default(),
    };
    seed.folders.extend(args.folder);
    if let Some(creator) = args.creator {
        seed.creator = Some(creator);
    }
    let rng_seed = dice::rng_seed(args.seed_rng);
    let settings = Settings {
        operation_delay: Duration::from_millis(args.operation_delay_ms),
        consistency_lag: Duration::from_millis(args.consistency_lag_ms),
        policy_lag: Duration::from_millis(args.policy_lag_ms),
        sql_name_reuse: Duration::from_millis(args.sql_name_reuse_ms),
    };
    let service_account_keys = std::mem::take(&mut seed.service_account_keys);
    let world = World::new(settings, seed, args.failing_operations, rng_seed)?;
    let server = Server::new(world, args.faults.into_faults(rng_seed));
    let mut apis = Vec::new();
    for (name, version, router) in APIS {
        let discovery = match &args.discovery {
            Some(dir) => Some(Arc::new(Discovery::load(dir, name, version)?)),
            None => None,
        };
        apis.push(ServedApi {
            name,
            router: router(),
            discovery,
        });
    }
    apis.push(ServedApi {
        name: "oauth2",
        router: oauth::router(&service_account_keys)?,
        discovery: None,
    });

    let mut base_urls = serde_json::Map::new();
    let mut servers = JoinSet::new();
    for (
        index,
        ServedApi {
            name: api,
            router,
            discovery,
        },
    ) in apis.into_iter().enumerate()
    {
        let port = match args.listen.port() {
            0 => 0,
            first => first
                .checked_add(index as u16)
                .ok_or_else(|| format!("no port left for {api} after {first}"))?,
        };
        let address = SocketAddr::new(args.listen.ip(), port);
        let listener = TcpListener::bind(address)
            .await
            .map_err(|error| format!("cannot listen on {address} for {api}: {error}"))?;
        let local = listener
            .local_addr()
            .map_err(|error| format!("cannot read the address of {api}'s listener: {error}"))?;
        base_urls.insert(api.to_owned(), format!("http://{local}/").into());
        let context = ApiContext {
            server: server.clone(),
            api,
        };
        let mut app = router
            .fallback(method_not_found)
            .method_not_allowed_fallback(method_not_found);
        if let Some(discovery) = discovery {
            app = app.layer(axum::middleware::from_fn_with_state(
                discovery,
                discovery::middleware,
            ));
        }
        // Outermost, so that the counts see every request and their endpoint is
        // answered before faults, latency and the discovery checks.
        let app = app
            .layer(axum::middleware::from_fn_with_state(
                context,
                faults::middleware,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(RequestCounts::new(request::path_template, || {
                    ApiError::not_found("Method not found.").into_response()
                })),
                stats::middleware,
            ))
            .with_state(server.clone());
        let service = app.into_make_service_with_connect_info::<Connection>();
        servers.spawn(async move {
            axum::serve(ResettableListener::new(listener), service)
                .await
                .map_err(|error| format!("{api} stopped serving: {error}"))
        });
    }

    serving::print_first_line(&serde_json::Value::Object(base_urls))
        .map_err(|error| format!("cannot print the base URLs: {error}"))?;

    let stopped = async {
        match servers.join_next().await {
            Some(Ok(Ok(()))) => "a server stopped unexpectedly".to_owned(),
            Some(Ok(Err(message))) => message,
            Some(Err(error)) => format!("a server task failed: {error}"),
            None => std::future::pending().await,
        }
    };
    serving::serve_until_shutdown(args.exit_on_stdin_eof, stopped).await
}

/// Google answers an unknown path or method with a 404 in its envelope.
async fn method_not_found() -> ApiError {
    ApiError::not_found("Method not found.")
}
