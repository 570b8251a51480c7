//! What the API clients share: repeating calls that may succeed on another
//! attempt, and the rule that plain HTTP is for loopback only.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// How often and how patiently a call is repeated.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Attempts of one call, the first included.
    pub max_attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

/// An error that says whether another attempt may succeed, and how long the
/// server asked to wait before it.
pub trait Transient: std::fmt::Display {
    fn is_retryable(&self) -> bool;
    fn retry_after(&self) -> Option<Duration>;
}

/// Runs `attempt` until it succeeds, fails for good, or runs out of attempts,
/// with jittered exponential backoff that waits at least as long as the server asks.
pub async fn retrying<T, E, Fut>(backoff: Backoff, attempt: impl FnMut() -> Fut) -> Result<T, E>
where
    E: Transient,
    Fut: Future<Output = Result<T, E>>,
{
    let schedule = ExponentialBuilder::default()
        .with_min_delay(backoff.min_delay)
        .with_max_delay(backoff.max_delay)
        .with_max_times(backoff.max_attempts.saturating_sub(1))
        .with_jitter();
    attempt
        .retry(schedule)
        .sleep(tokio::time::sleep)
        .when(E::is_retryable)
        .adjust(|e: &E, planned| match (e.retry_after(), planned) {
            (Some(server), Some(planned)) => Some(server.max(planned)),
            (_, planned) => planned,
        })
        .notify(|e: &E, wait| tracing::debug!(error = %e, ?wait, "retrying"))
        .await
}

/// Whether a URL names this machine, where plain HTTP (a fake, an emulator) is allowed.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
