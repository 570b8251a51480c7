//! What clients read before they call: `/version` and API discovery (`/api`,
//! `/apis`, each group, the resource lists of each group version); the OpenAPI
//! documents are `openapi`'s.
//!
//! Discovery answers the legacy (unaggregated) JSON documents. Clients that ask
//! for aggregated discovery (`as=APIGroupDiscoveryList`) see an
//! `application/json` answer and fall back to these, as client-go does.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::kinds;
use crate::openapi;

/// Answers a GET of a discovery path, or `None` when the path is no discovery path.
pub fn answer(path: &str, headers: &HeaderMap) -> Option<Response> {
    let path = path.trim_end_matches('/');
    if path.starts_with("/openapi/") {
        return openapi::answer(path, headers);
    }
    let document = match path {
        "/version" => version(),
        "/api" => api_versions(headers),
        "/apis" => group_list(),
        _ => {
            if let Some((group, version)) = group_version_of(path) {
                resource_list(group, version)
            } else {
                let group = path.strip_prefix("/apis/")?;
                api_group(group)?
            }
        }
    };
    Some((StatusCode::OK, axum::Json(document)).into_response())
}

/// Returns the group and version of `/api/v1` or `/apis/<group>/<version>`.
fn group_version_of(path: &str) -> Option<(&'static str, &'static str)> {
    kinds::GROUP_VERSIONS
        .iter()
        .find(|(group, version)| kinds::group_version_path(group, version) == path)
        .copied()
}

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": openapi::KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_versions(headers: &HeaderMap) -> Value {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    })
}

/// The named groups (all but the core group), each with its one version.
fn named_groups() -> impl Iterator<Item = (&'static str, &'static str)> {
    kinds::GROUP_VERSIONS
        .iter()
        .filter(|(group, _)| !group.is_empty())
        .copied()
}

fn group_json(group: &str, version: &str) -> Value {
    let group_version =
        json!({"groupVersion": kinds::group_version(group, version), "version": version});
    json!({
        "name": group,
        "versions": [group_version],
        "preferredVersion": group_version,
    })
}

fn group_list() -> Value {
    let groups: Vec<Value> = named_groups()
        .map(|(group, version)| group_json(group, version))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn api_group(name: &str) -> Option<Value> {
    let (group, version) = named_groups().find(|(group, _)| *group == name)?;
    let mut document = group_json(group, version);
    document["kind"] = "APIGroup".into();
    document["apiVersion"] = "v1".into();
    Some(document)
}

fn resource_list(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = kinds::KINDS
        .iter()
        .filter(|kind| kind.group == group && kind.version == version)
        .map(|kind| {
            let mut resource = json!({
                "name": kind.resource,
                "singularName": kind.singular,
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": kinds::VERBS,
            });
            if !kind.short_names.is_empty() {
                resource["shortNames"] = kind.short_names.into();
            }
            resource
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": kinds::group_version(group, version),
        "resources": resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_map_to_their_paths() {
        assert_eq!(group_version_of("/api/v1"), Some(("", "v1")));
        assert_eq!(
            group_version_of("/apis/rbac.authorization.k8s.io/v1"),
            Some(("rbac.authorization.k8s.io", "v1"))
        );
        assert_eq!(group_version_of("/apis/apps/v1"), None);
        assert_eq!(
            api_group("rbac.authorization.k8s.io").unwrap()["kind"],
            "APIGroup"
        );
        assert!(api_group("apps").is_none());
    }
}
