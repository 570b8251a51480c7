//! Latency and fault injection, and the request log, as one axum middleware.
//!
//! A fraction of calls (`--fault-rate`) gets one of the enabled faults: 429 and 503
//! are answered before the handler runs, so nothing changes; `reset` lets the handler
//! run and then kills the connection, so the change happens but its response is lost,
//! as when a network blip hits a create. The decisions come from one seeded generator,
//! so a run with `--seed-rng` replays the same faults for the same request order.
//!
//! fake-gcp's `faults.rs` does the same with Google's error envelope; the dice are
//! the same, the answers are Kubernetes `Status` objects.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::connection::Connection;
use crate::errors::{ApiError, Reason};
use crate::world::Shared;

/// A kind of injected fault, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// 429 TooManyRequests with `Retry-After: 1` and `details.retryAfterSeconds`.
    #[value(name = "429")]
    TooManyRequests,
    /// 503 ServiceUnavailable.
    #[value(name = "503")]
    Unavailable,
    /// The connection is closed with an RST instead of a response.
    Reset,
}

/// How slow calls are, how often they fail, and how.
pub struct Faults {
    pub latency: Duration,
    pub rate: f64,
    pub kinds: Vec<FaultKind>,
    rng: Mutex<SplitMix64>,
}

impl Faults {
    pub fn new(latency: Duration, rate: f64, kinds: Vec<FaultKind>, rng_seed: u64) -> Faults {
        Faults {
            latency,
            rate,
            kinds,
            rng: Mutex::new(SplitMix64(rng_seed)),
        }
    }

    /// Decides whether the call about to be served fails, and how.
    pub fn pick_fault(&self) -> Option<FaultKind> {
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if rng.next_f64() >= self.rate {
            return None;
        }
        let index = rng.next_u64() % self.kinds.len() as u64;
        self.kinds.get(index as usize).copied()
    }
}

/// Sebastiano Vigna's SplitMix64: tiny, seedable and good enough for fault dice.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Adds latency, injects faults and logs each request (method, path, status).
pub async fn middleware(
    State(server): State<Shared>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let faults = &server.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let (response, outcome) = match faults.pick_fault() {
        None => {
            let response = next.run(request).await;
            let status = response.status().as_u16().to_string();
            (response, status)
        }
        Some(FaultKind::TooManyRequests) => (
            ApiError::too_many_requests("Too many requests, please try again later.", 1)
                .into_response(),
            "429 (injected)".to_owned(),
        ),
        Some(FaultKind::Unavailable) => (
            ApiError::new(
                Reason::ServiceUnavailable,
                "the server is currently unable to handle the request",
            )
            .into_response(),
            "503 (injected)".to_owned(),
        ),
        Some(FaultKind::Reset) => {
            let response = next.run(request).await;
            connection.reset();
            (response, "connection reset (injected)".to_owned())
        }
    };
    tracing::info!("{method} {path} -> {outcome}");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rate: f64, kinds: Vec<FaultKind>, seed: u64) -> Faults {
        Faults::new(Duration::ZERO, rate, kinds, seed)
    }

    #[test]
    fn rate_zero_never_faults() {
        let faults = faults(0.0, vec![FaultKind::Unavailable], 1);
        assert!((0..100).all(|_| faults.pick_fault().is_none()));
    }

    #[test]
    fn rate_one_always_faults() {
        let faults = faults(1.0, vec![FaultKind::TooManyRequests], 1);
        assert!((0..100).all(|_| faults.pick_fault() == Some(FaultKind::TooManyRequests)));
    }
}
