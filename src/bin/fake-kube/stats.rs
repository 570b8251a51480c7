//! Request counts, and the endpoint that reports them, as one axum middleware.
//!
//! Every request is counted by its key: the HTTP method and the path with each
//! namespace and object name replaced by a placeholder, so that calls to one
//! endpoint share a key whatever they name, e.g.
//! `PATCH api/v1/namespaces/{namespace}/serviceaccounts/{name}`. A request counts
//! when it arrives, before latency and injected faults, so a refused or faulted call
//! counts like any other: it is a call the client made.
//!
//! `GET /_fake/requests` answers the counts as one JSON object from key to count,
//! and `DELETE /_fake/requests` answers them and starts again from zero. Those
//! paths are outside Kubernetes' URL space; they are answered here, so they get no
//! latency or fault, draw nothing from the fault dice, and are not counted.
//!
//! fake-gcp's `stats.rs` does the same with Google's placeholders
//! (`{projectsId}`); Kubernetes paths name their parameters `{namespace}` and
//! `{name}`.
//!
//! Invariant: counting changes no response and no decision of the fake.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The path of the counts.
pub const REQUESTS_PATH: &str = "/_fake/requests";

/// How many requests the server received, by key.
#[derive(Default)]
pub struct RequestCounts {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl RequestCounts {
    fn record(&self, method: &Method, path: &str) {
        let key = format!("{method} {}", path_template(path));
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
            _ => ApiError::path_not_found().into_response(),
        };
    }
    counts.record(request.method(), request.uri().path());
    next.run(request).await
}

/// Returns a request path with namespaces and names replaced by placeholders.
///
/// After `api/<version>` or `apis/<group>/<version>`, a path alternates between a
/// collection and one of its members: the member of `namespaces` becomes
/// `{namespace}`, any other member `{name}`, and what follows an object's name (a
/// subresource such as `status`) stays. Other paths (`version`, `openapi/v3`) are
/// kept. The leading `/` is dropped.
pub fn path_template(path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let prefix = match segments.first() {
        Some(&"api") => 2,
        Some(&"apis") => 3,
        _ => return path.to_owned(),
    };
    let mut template: Vec<&str> = segments.iter().take(prefix).copied().collect();
    let mut rest = segments.iter().skip(prefix).copied();
    while let Some(collection) = rest.next() {
        template.push(collection);
        match rest.next() {
            Some(_) if collection == "namespaces" => template.push("{namespace}"),
            Some(_) => {
                template.push("{name}");
                template.extend(rest.by_ref());
            }
            None => {}
        }
    }
    template.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        assert_eq!(path_template(path), expected, "{path}");
    }

    #[test]
    fn namespaces_and_names_become_placeholders() {
        check("/api/v1/namespaces/team-a", "api/v1/namespaces/{namespace}");
        check("/api/v1/namespaces", "api/v1/namespaces");
        check(
            "/api/v1/namespaces/team-a/serviceaccounts/app",
            "api/v1/namespaces/{namespace}/serviceaccounts/{name}",
        );
        check(
            "/api/v1/namespaces/team-a/serviceaccounts",
            "api/v1/namespaces/{namespace}/serviceaccounts",
        );
        check("/api/v1/serviceaccounts", "api/v1/serviceaccounts");
        check(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/reader",
            "apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}",
        );
        check(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:viewer",
            "apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
        );
    }

    #[test]
    fn subresources_and_other_paths_stay() {
        check(
            "/api/v1/namespaces/x/finalize",
            "api/v1/namespaces/{namespace}/finalize",
        );
        check(
            "/api/v1/namespaces/x/resourcequotas/q/status",
            "api/v1/namespaces/{namespace}/resourcequotas/{name}/status",
        );
        check("/version", "version");
        check("/api", "api");
        check(
            "/apis/rbac.authorization.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1",
        );
        check("/openapi/v3/api/v1", "openapi/v3/api/v1");
    }
}
