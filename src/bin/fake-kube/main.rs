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
//! received (see `stats`), as fake-gcp does. What the two fakes do alike is
//! fake-gcp's code, included by path: the fault dice (`dice`), the request counts
//! (`stats`), resettable connections (`connection`) and the process, fault and
//! error plumbing (`serving`).
//!
//! Invariant: nothing here talks to a real cluster; no credentials are read.

#[path = "../fake-gcp/connection.rs"]
mod connection;
#[path = "../fake-gcp/dice.rs"]
mod dice;
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
#[path = "../fake-gcp/serving.rs"]
mod serving;
#[path = "../fake-gcp/stats.rs"]
mod stats;
mod table;
mod validation;
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use tokio::net::TcpListener;

use crate::connection::{Connection, ResettableListener};
use crate::dice::FaultArgs;
use crate::errors::{ApiError, Reason};
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

    #[command(flatten)]
    faults: FaultArgs,

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

fn main() -> ExitCode {
    let args = Args::parse();
    serving::run_process("fake-kube", args.verbose, run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let schemas = match &args.schemas {
        Some(dir) => Some(Schemas::load(dir)?),
        None => None,
    };
    let faults = args.faults.into_faults(dice::rng_seed(args.seed_rng));
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
            Arc::new(RequestCounts::new(request::path_template, || {
                ApiError::path_not_found().into_response()
            })),
            stats::middleware,
        ))
        .with_state(server);
    let service = app.into_make_service_with_connect_info::<Connection>();
    let http = axum::serve(ResettableListener::new(listener), service);

    serving::print_first_line(&serde_json::json!({"url": format!("http://{local}")}))
        .map_err(|error| format!("cannot print the URL: {error}"))?;

    let stopped = async {
        match http.await {
            Ok(()) => "the server stopped unexpectedly".to_owned(),
            Err(error) => format!("the server stopped serving: {error}"),
        }
    };
    serving::serve_until_shutdown(args.exit_on_stdin_eof, stopped).await
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
