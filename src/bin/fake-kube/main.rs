//! `fake-kube`: an in-memory fake of the Kubernetes API server, for tests,
//! examples and benchmarks.
//!
//! It serves the kinds yagura provisions (namespaces, service accounts, resource
//! quotas, limit ranges and the four RBAC kinds) under the apiserver's paths and
//! JSON, with server-side apply and managed fields, the namespace lifecycle,
//! quantity canonicalisation, validation, discovery and OpenAPI enough for kubectl.
//! The first line on stdout is `{"url":"http://127.0.0.1:PORT"}`; then the server
//! runs until SIGINT, SIGTERM or (with `--exit-on-stdin-eof`) the end of stdin.
//! Latency and errors come by flag, and `GET /_fake/requests` reports the requests
//! received (see `stats`), as fake-gcp does.
//!
//! Invariant: nothing here talks to a real cluster; no credentials are read.

#[path = "../fake-gcp/connection.rs"]
mod connection;
mod discovery;
mod errors;
mod faults;
mod fieldmanager;
mod fields;
mod handlers;
mod kinds;
mod openapi;
mod patches;
mod protobuf;
mod quantity;
mod request;
mod schemas;
mod selectors;
mod stats;
mod table;
mod validation;
mod world;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use tokio::net::TcpListener;

use crate::connection::{Connection, ResettableListener};
use crate::errors::{ApiError, Reason};
use crate::faults::{FaultKind, Faults};
use crate::schemas::Schemas;
use crate::stats::RequestCounts;
use crate::world::{Server, Settings, Shared};

/// Serve an in-memory fake of the Kubernetes API server
///
/// Prints `{"url":"http://HOST:PORT"}` on the first line of stdout, then serves
/// until interrupted.
///
/// Served: core v1 namespaces, serviceaccounts, resourcequotas and limitranges;
/// rbac.authorization.k8s.io/v1 roles, rolebindings, clusterroles and
/// clusterrolebindings. Verbs: get, list (label and field selectors, limit and
/// continue), watch, create, replace, delete, and patch as server-side apply
/// (application/apply-patch+yaml, whose body must be JSON; other YAML is refused
/// with 400), as a JSON merge patch (application/merge-patch+json; strategic merge
/// patches are read as merge patches) or as a JSON patch. Request bodies may be
/// JSON or, as kubectl 1.32+ sends for `create`, protobuf; answers are JSON, and
/// tables for kubectl get.
///
/// Server-side apply keeps managedFields and reports conflicts as the apiserver
/// does; every list (rules, subjects, spec.limits, finalizers, …) is atomic, owned
/// and replaced as a whole. managedFields a client sends are ignored. The cluster
/// starts with the namespaces default, kube-node-lease, kube-public and
/// kube-system; every new namespace gets a `default` service account. A deleted
/// namespace is Terminating, loses its content at once and is gone after
/// --namespace-finalize-ms.
///
/// Checked on every write: names (namespaces: DNS-1123 label; service accounts,
/// quotas, limit ranges: DNS-1123 subdomain; RBAC objects: path segment), label
/// keys and values, annotation keys, quantities (canonicalised, e.g. 1000m -> 1),
/// quota values, limit range types, RBAC rules, subjects and role references
/// (immutable); with --schemas also the whole object against the kind's JSON
/// schema.
///
/// Also answered: GET /version, /api, /apis, the resource lists, and the OpenAPI
/// v3 and v2 documents kubectl reads. GET /_fake/requests answers the requests
/// received, as a JSON object from `METHOD path` to a count, namespaces and names
/// replaced by placeholders (`PATCH api/v1/namespaces/{namespace}`); faulted and
/// refused requests count too. DELETE /_fake/requests answers the same and resets
/// the counts. Neither gets latency or faults, nor counts itself.
#[derive(Debug, Parser)]
#[command(name = "fake-kube")]
struct Args {
    /// Host and port to listen on; port 0 picks an ephemeral port
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Delay added to every call, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,

    /// Fraction of calls (0 to 1) that get one of the faults named by --faults
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_fraction)]
    fault_rate: f64,

    /// Faults to inject, comma-separated: 429, 503, reset [default: 429,503,reset]
    #[arg(
        long,
        value_name = "KIND",
        value_delimiter = ',',
        default_values = ["429", "503", "reset"],
        hide_default_value = true
    )]
    faults: Vec<FaultKind>,

    /// Seed of the fault dice, for runs that replay the same faults [default: the clock]
    #[arg(long, value_name = "S")]
    seed_rng: Option<u64>,

    /// How long a deleted namespace stays Terminating before it is gone, in
    /// milliseconds
    #[arg(long, value_name = "MS", default_value_t = 100)]
    namespace_finalize_ms: u64,

    /// Folder of the Kubernetes JSON schemas (`<kind>-v1.json`,
    /// `<kind>-rbac-v1.json` and `_definitions.json`); with it, every object
    /// written is also checked against its kind's schema, and a violation gets
    /// 422 Invalid naming the field
    #[arg(long, value_name = "DIR", env = "FAKE_KUBE_SCHEMAS")]
    schemas: Option<PathBuf>,

    /// Exit when stdin reaches end of file, so a test's server dies with the test
    #[arg(long)]
    exit_on_stdin_eof: bool,

    /// Log every request (method, path, status) to stderr
    #[arg(short, long)]
    verbose: bool,
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    let fraction: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!("{fraction} is not between 0 and 1"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fake-kube: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fake-kube: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let schemas = match &args.schemas {
        Some(dir) => Some(Schemas::load(dir)?),
        None => None,
    };
    let rng_seed = args.seed_rng.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
    });
    let faults = Faults::new(
        Duration::from_millis(args.latency_ms),
        args.fault_rate,
        args.faults,
        rng_seed,
    );
    let settings = Settings {
        namespace_finalize: Duration::from_millis(args.namespace_finalize_ms),
    };
    let server = Server::new(settings, faults, schemas);

    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let local = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listener's address: {error}"))?;
    // Outermost, so that the counts see every request and their endpoint is
    // answered before faults and latency.
    let app = Router::new()
        .fallback(serve)
        .layer(axum::middleware::from_fn_with_state(
            server.clone(),
            faults::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(RequestCounts::default()),
            stats::middleware,
        ))
        .with_state(server);
    let service = app.into_make_service_with_connect_info::<Connection>();
    let serving = axum::serve(ResettableListener::new(listener), service);

    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::json!({"url": format!("http://{local}")})
    )
    .and_then(|()| stdout.flush())
    .map_err(|error| format!("cannot print the URL: {error}"))?;
    drop(stdout);

    tokio::select! {
        () = shutdown_requested(args.exit_on_stdin_eof) => Ok(()),
        served = serving => match served {
            Ok(()) => Err("the server stopped unexpectedly".to_owned()),
            Err(error) => Err(format!("the server stopped serving: {error}")),
        },
    }
}

/// The largest request body the apiserver reads (`MaxRequestBodyBytes`).
const MAX_REQUEST_BODY: usize = 3 * 1024 * 1024;

/// Answers every request: discovery documents, else the resources.
async fn serve(
    State(server): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::GET
        && let Some(response) = discovery::answer(uri.path(), &headers)
    {
        return response;
    }
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                Reason::RequestEntityTooLarge,
                format!("Request entity too large: limit is {MAX_REQUEST_BODY}"),
            )
            .into_response();
        }
    };
    handlers::resource(&server, &method, &uri, &headers, &body)
}

/// Completes on SIGINT, SIGTERM, or the end of stdin when asked to watch it.
async fn shutdown_requested(exit_on_stdin_eof: bool) {
    let stdin_closed = async {
        if !exit_on_stdin_eof {
            return std::future::pending().await;
        }
        let (closed, closed_receiver) = tokio::sync::oneshot::channel();
        // Tokio's stdin needs a feature we do not enable, and a blocking read in a
        // plain thread is all this needs; the thread dies with the process.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = closed.send(());
        });
        let _ = closed_receiver.await;
    };
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
        () = stdin_closed => {}
    }
}
