//! Request counts per API, and the endpoint that reports them, as one axum middleware.
//!
//! Every request that reaches an API's port is counted by its key: the HTTP method
//! and the path with each resource id replaced by a placeholder, so that calls of
//! one Google method share a key whatever they name, e.g.
//! `POST v3/projects/{projectsId}:setIamPolicy`. A request counts when it arrives,
//! before latency, injected faults and the discovery checks, so a refused or
//! faulted call counts like any other: it is a call the client made. The key does
//! not depend on `--discovery`.
//!
//! `GET /_fake/requests` answers the API's counts as one JSON object from key to
//! count, and `DELETE /_fake/requests` answers them and starts again from zero.
//! Those paths are outside Google's URL space; they are answered here, so they get
//! no latency or fault, draw nothing from the fault dice, and are not counted.
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

/// The path of the counts on every API's port.
pub const REQUESTS_PATH: &str = "/_fake/requests";

/// How many requests one API received, by key.
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
            _ => ApiError::not_found("Method not found.").into_response(),
        };
    }
    counts.record(request.method(), request.uri().path());
    next.run(request).await
}

/// Returns a request path with its resource ids replaced by placeholders.
///
/// Google's REST paths are a version (`v1`, `dns/v1`) and then collections, each
/// followed by the id of one of its members, the last segment possibly ending in
/// a `:verb`. An id becomes `{<collection>Id}`, as the `flatPath` of most of
/// Google's discovery documents names it; a verb stays. DNS names a record set by
/// two segments, `rrsets/{rrsetsId}/{type}`. A path without a version segment
/// (oauth2's `/token`) is kept as it is. The leading `/` is dropped.
pub fn path_template(path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let Some(version) = segments.iter().position(|segment| is_version(segment)) else {
        return path.to_owned();
    };
    let mut template: Vec<String> = segments
        .iter()
        .take(version + 1)
        .map(|segment| (*segment).to_owned())
        .collect();
    let mut collection: Option<&str> = None;
    let mut record_set_type = false;
    for segment in segments.iter().skip(version + 1) {
        let placeholder = if record_set_type {
            record_set_type = false;
            Some("{type}".to_owned())
        } else {
            collection.take().map(|name| {
                record_set_type = name == "rrsets";
                format!("{{{name}Id}}")
            })
        };
        match placeholder {
            Some(placeholder) => template.push(match verb(segment) {
                Some(verb) => format!("{placeholder}:{verb}"),
                None => placeholder,
            }),
            None => {
                collection = Some(segment);
                template.push((*segment).to_owned());
            }
        }
    }
    template.join("/")
}

/// Reports whether a path segment is an API version: `v1`, `v3`, `v1beta1`.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let tail = rest.get(digits..).unwrap_or_default();
    digits > 0
        && (tail.is_empty()
            || ["alpha", "beta"].iter().any(|stage| {
                tail.strip_prefix(stage)
                    .is_some_and(|number| number.chars().all(|c| c.is_ascii_digit()))
            }))
}

/// Returns the custom verb an id segment ends in: `setIamPolicy` of `p:setIamPolicy`.
fn verb(segment: &str) -> Option<&str> {
    let (_, verb) = segment.rsplit_once(':')?;
    (!verb.is_empty() && verb.chars().all(|c| c.is_ascii_alphanumeric())).then_some(verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        assert_eq!(path_template(path), expected, "{path}");
    }

    #[test]
    fn ids_become_placeholders_and_verbs_stay() {
        check(
            "/v3/projects/acme-dev:setIamPolicy",
            "v3/projects/{projectsId}:setIamPolicy",
        );
        check("/v3/projects/acme-dev", "v3/projects/{projectsId}");
        check("/v3/projects", "v3/projects");
        check(
            "/v1/projects/acme-dev/services/compute.googleapis.com:enable",
            "v1/projects/{projectsId}/services/{servicesId}:enable",
        );
        check("/v1/operations/acf.p2-1-2", "v1/operations/{operationsId}");
    }

    #[test]
    fn verbs_on_collections_stay() {
        check(
            "/v1/projects/acme-dev/services:batchEnable",
            "v1/projects/{projectsId}/services:batchEnable",
        );
    }

    #[test]
    fn emails_and_names_with_dots_are_ids() {
        check(
            "/v1/projects/-/serviceAccounts/app@acme-dev.iam.gserviceaccount.com:getIamPolicy",
            "v1/projects/{projectsId}/serviceAccounts/{serviceAccountsId}:getIamPolicy",
        );
    }

    #[test]
    fn prefixes_before_the_version_stay() {
        check(
            "/dns/v1/projects/p/managedZones/z/changes/7",
            "dns/v1/projects/{projectsId}/managedZones/{managedZonesId}/changes/{changesId}",
        );
    }

    #[test]
    fn record_sets_take_a_name_and_a_type() {
        check(
            "/dns/v1/projects/p/managedZones/z/rrsets/www.example.com./CNAME",
            "dns/v1/projects/{projectsId}/managedZones/{managedZonesId}/rrsets/{rrsetsId}/{type}",
        );
    }

    #[test]
    fn sub_resources_after_an_id_stay() {
        check(
            "/v1/projects/p/instances/i/databases/d/ddl",
            "v1/projects/{projectsId}/instances/{instancesId}/databases/{databasesId}/ddl",
        );
    }

    #[test]
    fn paths_without_a_version_stay() {
        check("/token", "token");
        check("/v1beta1/things/x", "v1beta1/things/{thingsId}");
        check("/very/x", "very/x");
    }
}
