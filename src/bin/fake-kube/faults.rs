//! Latency and fault injection, and the request log, as one axum middleware.
//!
//! The dice and the order of things are fake-gcp's `dice` and
//! `serving::with_faults`, included by path; this file says what an injected fault
//! answers as a Kubernetes `Status`: a 429 TooManyRequests with
//! `details.retryAfterSeconds`, a 503 ServiceUnavailable.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::connection::Connection;
use crate::dice::FaultKind;
use crate::errors::{ApiError, Reason};
use crate::serving;
use crate::world::Shared;

/// Adds latency, injects faults as `Status` errors and logs each request (method,
/// path, status).
pub async fn middleware(
    State(server): State<Shared>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    request: Request,
    next: Next,
) -> Response {
    serving::with_faults(&server.faults, None, connection, request, next, refusal).await
}

/// Returns the answer to an injected 429 or 503.
fn refusal(kind: FaultKind) -> Response {
    match kind {
        FaultKind::TooManyRequests => {
            ApiError::too_many_requests("Too many requests, please try again later.", 1)
        }
        _ => ApiError::new(
            Reason::ServiceUnavailable,
            "the server is currently unable to handle the request",
        ),
    }
    .into_response()
}
