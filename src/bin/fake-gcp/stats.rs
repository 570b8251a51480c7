//! Request counts, and the endpoint that reports them, as one axum middleware.
//!
//! Every request that reaches a port is counted by its key: the HTTP method and
//! the path with each id or name replaced by a placeholder, so that calls of one
//! method share a key whatever they name. Each fake brings its own placeholder
//! rule: fake-gcp's `request::path_template` gives
//! `POST v3/projects/{projectsId}:setIamPolicy`, fake-kube's
//! `PATCH api/v1/namespaces/{namespace}`. A request counts when it arrives, before
//! latency, injected faults and any checks, so a refused or faulted call counts
//! like any other: it is a call the client made.
//!
//! `GET /_fake/requests` answers the port's counts as one JSON object from key to
//! count, and `DELETE /_fake/requests` answers them and starts again from zero.
//! Those paths are outside the fakes' API paths; they are answered here, so they
//! get no latency or fault, draw nothing from the fault dice, and are not counted.
//!
//! fake-kube includes this file as it is.
//!
//! Invariant: counting changes no response and no decision of the fake.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The path of the counts on every port.
pub const REQUESTS_PATH: &str = "/_fake/requests";

/// How many requests one port received, by key.
pub struct RequestCounts {
    counts: Mutex<BTreeMap<String, u64>>,
    /// Returns a request path with its ids replaced by placeholders.
    path_template: fn(&str) -> String,
    /// Answers a method other than GET and DELETE on `REQUESTS_PATH`: the fake's
    /// 404 for a method it does not serve.
    not_found: fn() -> Response,
}

impl RequestCounts {
    pub fn new(path_template: fn(&str) -> String, not_found: fn() -> Response) -> RequestCounts {
        RequestCounts {
            counts: Mutex::default(),
            path_template,
            not_found,
        }
    }

    fn record(&self, method: &Method, path: &str) {
        let key = format!("{method} {}", (self.path_template)(path));
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Answers `/_fake/requests`; counts every other request and passes it on.
pub async fn middleware(
    State(counts): State<Arc<RequestCounts>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == REQUESTS_PATH {
        return match *request.method() {
            Method::GET => Json(counts.snapshot()).into_response(),
            Method::DELETE => Json(counts.take()).into_response(),
            _ => (counts.not_found)(),
        };
    }
    counts.record(request.method(), request.uri().path());
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn requests_count_under_their_key_until_taken() {
        let counts = RequestCounts::new(
            |path: &str| path.replace("acme", "{id}"),
            || StatusCode::NOT_FOUND.into_response(),
        );
        counts.record(&Method::GET, "/v1/acme");
        counts.record(&Method::GET, "/v1/acme");
        counts.record(&Method::POST, "/v1");
        let expected = BTreeMap::from([("GET /v1/{id}".to_owned(), 2), ("POST /v1".to_owned(), 1)]);
        assert_eq!(counts.snapshot(), expected);
        assert_eq!(counts.take(), expected);
        assert!(counts.snapshot().is_empty());
    }
}
