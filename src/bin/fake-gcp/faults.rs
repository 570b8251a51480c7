//! Latency and fault injection, and the request log, as one axum middleware.
//!
//! The dice and the order of things are `dice` and `serving::with_faults`, shared
//! with fake-kube; this file says what an injected fault answers in Google's error
//! envelope: a 429 as a per-minute quota running out, a 503 as UNAVAILABLE.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::connection::Connection;
use crate::dice::FaultKind;
use crate::errors::{ApiError, Code};
use crate::serving;
use crate::world::Shared;

/// The state the middleware of one API's router sees.
#[derive(Clone)]
pub struct ApiContext {
    pub server: Shared,
    /// The API's discovery name, e.g. `cloudresourcemanager`.
    pub api: &'static str,
}

/// Adds latency, injects faults in Google's envelope and logs each request (API,
/// method, path, status).
pub async fn middleware(
    State(context): State<ApiContext>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    request: Request,
    next: Next,
) -> Response {
    let refusal = |kind: FaultKind| {
        match kind {
            FaultKind::TooManyRequests => rate_limited(context.api),
            _ => ApiError::new(Code::Unavailable, "The service is currently unavailable."),
        }
        .into_response()
    };
    let faults = &context.server.faults;
    serving::with_faults(
        faults,
        Some(context.api),
        connection,
        request,
        next,
        refusal,
    )
    .await
}

/// Returns the 429 Google gives when a per-minute quota runs out.
fn rate_limited(api: &str) -> ApiError {
    let service = format!("{api}.googleapis.com");
    ApiError::new(
        Code::ResourceExhausted,
        format!(
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service '{service}'."
        ),
    )
    .with_reason("rateLimitExceeded")
    .with_domain("usageLimits")
    .with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {"service": service, "quota_limit": "RequestsPerMinute"},
    }))
    .with_detail(json!({
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "1s",
    }))
    .with_retry_after(1)
}
