//! Reading a resource request: which object or collection the path names, the
//! query options, the field manager, the body in whatever encoding it came, and
//! the key the request is counted under.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::errors::{ApiError, FieldError, Reason};
use crate::kinds::{self, Kind};
use crate::protobuf;
use crate::serving;

/// What a resource path names.
#[derive(Debug)]
pub struct Target {
    pub kind: &'static Kind,
    /// The namespace of a namespaced request; `None` for cluster-scoped kinds and
    /// for lists across all namespaces.
    pub namespace: Option<String>,
    /// The object's name; `None` for the collection.
    pub name: Option<String>,
}

impl Target {
    /// Returns the name of an item request.
    pub fn item_name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// Parses `/api/v1/…` and `/apis/<group>/<version>/…`; `None` when the path names
/// nothing this server serves (subresources included).
pub fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<String> = path
        .strip_prefix('/')?
        .split('/')
        .map(percent_decode)
        .collect::<Option<_>>()?;
    let (group, version, rest) = match segments.as_slice() {
        [api, version, rest @ ..] if api == "api" => ("", version.as_str(), rest),
        [apis, group, version, rest @ ..] if apis == "apis" => {
            (group.as_str(), version.as_str(), rest)
        }
        _ => return None,
    };
    if !kinds::GROUP_VERSIONS.contains(&(group, version)) {
        return None;
    }
    let non_empty = |text: &String| (!text.is_empty()).then(|| text.clone());
    let target = match rest {
        [resource] => Target {
            kind: kinds::find(group, resource)?,
            namespace: None,
            name: None,
        },
        [resource, name] => {
            let kind = kinds::find(group, resource)?;
            if kind.namespaced {
                return None;
            }
            Target {
                kind,
                namespace: None,
                name: Some(non_empty(name)?),
            }
        }
        [namespaces, namespace, resource] if namespaces == "namespaces" => {
            let kind = kinds::find(group, resource)?;
            kind.namespaced.then_some(())?;
            Target {
                kind,
                namespace: Some(non_empty(namespace)?),
                name: None,
            }
        }
        [namespaces, namespace, resource, name] if namespaces == "namespaces" => {
            let kind = kinds::find(group, resource)?;
            kind.namespaced.then_some(())?;
            Target {
                kind,
                namespace: Some(non_empty(namespace)?),
                name: Some(non_empty(name)?),
            }
        }
        _ => return None,
    };
    Some(target)
}

/// Decodes `%XX` escapes of a path segment; `None` when malformed.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The query of a request.
#[derive(Debug, Default)]
pub struct Query {
    values: HashMap<String, Vec<String>>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            values
                .entry(name.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        Query { values }
    }

    /// Returns the first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|values| values.first())
            .map(String::as_str)
    }

    /// Reports whether a boolean parameter is `true` (or `1`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    /// Returns `dryRun`, which may only be `All`, for the options kind named
    /// (`CreateOptions`, `PatchOptions`, …).
    pub fn dry_run(&self, options_kind: &'static str) -> Result<DryRun, ApiError> {
        let Some(values) = self.values.get("dryRun") else {
            return Ok(DryRun::No);
        };
        for value in values {
            if value != "All" {
                return Err(options_invalid(
                    options_kind,
                    FieldError::not_supported("dryRun", &format!("{value:?}"), &["All"]),
                ));
            }
        }
        Ok(if values.is_empty() {
            DryRun::No
        } else {
            DryRun::All
        })
    }
}

/// Whether a write is only checked, not stored (`dryRun=All`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    No,
    All,
}

/// Returns the 422 the apiserver gives for bad request options, e.g.
/// `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: …`.
pub fn options_invalid(options_kind: &'static str, error: FieldError) -> ApiError {
    let mut invalid = ApiError::new(
        Reason::Invalid,
        format!(
            "{options_kind}.meta.k8s.io \"\" is invalid: {}",
            error.text()
        ),
    );
    invalid.group = Some("meta.k8s.io");
    invalid.kind = Some(options_kind);
    invalid.causes = vec![crate::errors::Cause::new(
        error.reason,
        error.body,
        error.field,
    )];
    invalid
}

/// Returns the field manager of a write: the `fieldManager` parameter, or else
/// the User-Agent up to its first `/`, printable characters only and at most
/// 128 of them, as the apiserver derives it (`kubectl-edit`).
pub fn field_manager(
    query: &Query,
    headers: &HeaderMap,
    options_kind: &'static str,
) -> Result<String, ApiError> {
    if let Some(manager) = query
        .get("fieldManager")
        .filter(|manager| !manager.is_empty())
    {
        if manager.chars().count() > 128 {
            return Err(options_invalid(
                options_kind,
                FieldError {
                    reason: "FieldValueTooLong",
                    field: "fieldManager".to_owned(),
                    body: "Too long: may not be more than 128 bytes".to_owned(),
                },
            ));
        }
        if manager.chars().any(char::is_control) {
            return Err(options_invalid(
                options_kind,
                FieldError::invalid(
                    "fieldManager",
                    &format!("{manager:?}"),
                    "must only contain printable characters",
                ),
            ));
        }
        return Ok(manager.to_owned());
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    Ok(user_agent
        .split('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect())
}

/// Returns the media type of the body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Reads the object of a create or replace, JSON or protobuf.
pub fn object_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let media_type = content_type(headers);
    let value = match media_type.as_str() {
        "application/json" | "" => serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding the request body as JSON: {error}"))
        })?,
        "application/vnd.kubernetes.protobuf" => protobuf::decode(body).map_err(|error| {
            ApiError::bad_request(format!("error decoding the protobuf request body: {error}"))
        })?,
        _ => {
            return Err(ApiError::new(
                Reason::UnsupportedMediaType,
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf (fake-kube reads no YAML; got {media_type})"
                ),
            ));
        }
    };
    object(value)
}

/// Checks that a decoded body is an object, dropping its `null`s, which Go reads
/// as unset.
pub fn object(value: Value) -> Result<Value, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request is not a JSON object",
        ));
    }
    Ok(serving::without_nulls(value))
}

/// Returns a request path with namespaces and names replaced by placeholders:
/// the key under which `stats` counts the request.
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

    fn target(path: &str) -> Option<(String, Option<String>, Option<String>)> {
        parse_path(path).map(|target| {
            (
                target.kind.resource.to_owned(),
                target.namespace,
                target.name,
            )
        })
    }

    #[test]
    fn paths_name_items_and_collections() {
        assert_eq!(
            target("/api/v1/namespaces/x"),
            Some(("namespaces".to_owned(), None, Some("x".to_owned())))
        );
        assert_eq!(
            target("/api/v1/namespaces/x/serviceaccounts"),
            Some(("serviceaccounts".to_owned(), Some("x".to_owned()), None))
        );
        assert_eq!(
            target("/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aviewer"),
            Some((
                "clusterroles".to_owned(),
                None,
                Some("system:viewer".to_owned())
            ))
        );
        assert_eq!(
            target("/api/v1/serviceaccounts"),
            Some(("serviceaccounts".to_owned(), None, None))
        );
    }

    #[test]
    fn other_paths_name_nothing() {
        assert!(target("/api/v1/serviceaccounts/x").is_none());
        assert!(target("/api/v1/pods").is_none());
        assert!(target("/api/v2/namespaces").is_none());
        assert!(target("/apis/rbac.authorization.k8s.io/v1/namespaces/x/clusterroles").is_none());
        assert!(target("/api/v1/namespaces/x/finalize").is_none());
        assert!(target("/api/v1/namespaces//serviceaccounts").is_none());
    }

    #[test]
    fn the_field_manager_defaults_to_the_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::USER_AGENT,
            "kubectl-edit/v1.33.1 (linux/amd64) kubernetes/8adc0f0"
                .parse()
                .unwrap(),
        );
        let manager = field_manager(&Query::default(), &headers, "PatchOptions").unwrap();
        assert_eq!(manager, "kubectl-edit");
        let query = Query::parse(Some("fieldManager=yagura"));
        assert_eq!(
            field_manager(&query, &headers, "PatchOptions").unwrap(),
            "yagura"
        );
    }

    fn check_template(path: &str, expected: &str) {
        assert_eq!(path_template(path), expected, "{path}");
    }

    #[test]
    fn namespaces_and_names_become_placeholders() {
        check_template("/api/v1/namespaces/team-a", "api/v1/namespaces/{namespace}");
        check_template("/api/v1/namespaces", "api/v1/namespaces");
        check_template(
            "/api/v1/namespaces/team-a/serviceaccounts/app",
            "api/v1/namespaces/{namespace}/serviceaccounts/{name}",
        );
        check_template(
            "/api/v1/namespaces/team-a/serviceaccounts",
            "api/v1/namespaces/{namespace}/serviceaccounts",
        );
        check_template("/api/v1/serviceaccounts", "api/v1/serviceaccounts");
        check_template(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles/reader",
            "apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}",
        );
        check_template(
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:viewer",
            "apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
        );
    }

    #[test]
    fn subresources_and_other_paths_stay() {
        check_template(
            "/api/v1/namespaces/x/finalize",
            "api/v1/namespaces/{namespace}/finalize",
        );
        check_template(
            "/api/v1/namespaces/x/resourcequotas/q/status",
            "api/v1/namespaces/{namespace}/resourcequotas/{name}/status",
        );
        check_template("/version", "version");
        check_template("/api", "api");
        check_template(
            "/apis/rbac.authorization.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1",
        );
        check_template("/openapi/v3/api/v1", "openapi/v3/api/v1");
    }
}
