//! What fake-gcp and fake-kube do alike as servers: run as a process until a
//! signal or the end of stdin, print their addresses as the first line of stdout,
//! pass each request through the fault dice, answer an error as JSON with its
//! `Retry-After`, and read request bodies with their nulls dropped.
//!
//! fake-kube includes this file as it is; it leans only on `dice` and
//! `connection`, which both fakes include too. What an error or an injected fault
//! looks like stays with each fake.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::connection::Connection;
use crate::dice::{FaultKind, Faults};

/// Runs a fake's server to its end and returns the process's exit code.
///
/// With `verbose`, requests are logged to stderr. The server runs on a runtime of
/// two worker threads; its error is printed as `<name>: <message>`.
pub fn run_process(
    name: &str,
    verbose: bool,
    server: impl Future<Output = Result<(), String>>,
) -> ExitCode {
    if verbose {
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
            eprintln!("{name}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(server);
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the line that tells a client where the server listens, and flushes it.
pub fn print_first_line(line: &Value) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// Waits until shutdown is asked for, or the server stops by itself.
///
/// `stopped` completes only when serving ends, with the reason; that is an error,
/// since a fake serves until it is told to stop.
pub async fn serve_until_shutdown(
    exit_on_stdin_eof: bool,
    stopped: impl Future<Output = String>,
) -> Result<(), String> {
    tokio::select! {
        () = shutdown_requested(exit_on_stdin_eof) => Ok(()),
        reason = stopped => Err(reason),
    }
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

/// Serves one request through the fault dice, and logs it with its outcome: the
/// status, or which fault was injected.
///
/// The latency comes first. An injected 429 or 503 is answered by `refusal`
/// before the handler runs, so nothing changes; `reset` lets the handler run and
/// then kills the connection, so the change happens but its response is lost, as
/// when a network blip hits a create. The log line starts with `api` when given.
pub async fn with_faults(
    faults: &Faults,
    api: Option<&str>,
    connection: Connection,
    request: Request,
    next: Next,
    refusal: impl FnOnce(FaultKind) -> Response,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let (response, outcome) = match faults.pick_fault() {
        None => {
            let response = next.run(request).await;
            let status = response.status().as_u16().to_string();
            (response, status)
        }
        Some(FaultKind::Reset) => {
            let response = next.run(request).await;
            connection.reset();
            (response, "connection reset (injected)".to_owned())
        }
        Some(kind @ FaultKind::TooManyRequests) => (refusal(kind), "429 (injected)".to_owned()),
        Some(kind @ FaultKind::Unavailable) => (refusal(kind), "503 (injected)".to_owned()),
    };
    match api {
        Some(api) => tracing::info!("{api} {method} {path} -> {outcome}"),
        None => tracing::info!("{method} {path} -> {outcome}"),
    }
    response
}

/// Returns an error body as JSON with its status and, when given, `Retry-After`.
pub fn error_response(status: StatusCode, body: Value, retry_after_secs: Option<u64>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Drops object members that are `null`, which both APIs read as unset.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| (name, without_nulls(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_dropped_at_every_depth() {
        assert_eq!(
            without_nulls(json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}, null]})),
            json!({"b": {"d": 1}, "e": [{}, null]})
        );
    }

    #[test]
    fn retry_after_is_a_header() {
        let response = error_response(StatusCode::TOO_MANY_REQUESTS, json!({}), Some(1));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response = error_response(StatusCode::NOT_FOUND, json!({}), None);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
