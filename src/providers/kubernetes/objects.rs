//! The objects behind the `kubernetes_*` types: where each lives in the API,
//! the manifest yagura applies from a planned value, and the attributes it
//! reports from an object the server returns.
//!
//! Invariant: a manifest holds only the fields yagura manages, plus `apiVersion`,
//! `kind` and `metadata.name`/`namespace`, never anything read from the server
//! (`managedFields`, `uid`, `resourceVersion`, `status`). Attributes report what
//! yagura set, never what other managers or the server added, so that another
//! controller's labels or the server's defaults are not drift.

use std::collections::BTreeSet;

use serde_json::{Map, Value as Json, json};

use super::client::FIELD_MANAGER;
use super::quantity::same_quantity;
use crate::schema::{check_dns_label, check_dns_subdomain};

/// Where a type's objects live in the API.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    pub type_name: &'static str,
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The resource name in paths (`serviceaccounts`).
    pub plural: &'static str,
    pub namespaced: bool,
}

/// Every type the provider implements.
pub const KINDS: &[Kind] = &[
    Kind {
        type_name: "kubernetes_namespace_v1",
        api_version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
    },
    Kind {
        type_name: "kubernetes_service_account_v1",
        api_version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
    },
    Kind {
        type_name: "kubernetes_role_v1",
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
    },
    Kind {
        type_name: "kubernetes_role_binding_v1",
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
    },
    Kind {
        type_name: "kubernetes_resource_quota_v1",
        api_version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        namespaced: true,
    },
    Kind {
        type_name: "kubernetes_limit_range_v1",
        api_version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        namespaced: true,
    },
];

/// The kind of a type, if the provider implements it.
pub fn kind(type_name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.type_name == type_name)
}

/// The labels the API server sets itself; reported only when a spec sets them too.
const SERVER_LABELS: &[&str] = &["kubernetes.io/metadata.name"];

/// One object: its namespace (for namespaced kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// Checks the parts that go into request paths.
    fn new(kind: &Kind, namespace: Option<&str>, name: &str) -> Result<ObjectRef, String> {
        if kind.type_name == "kubernetes_namespace_v1" {
            check_dns_label(name)?;
        } else {
            check_dns_subdomain(name)?;
        }
        let namespace = match (kind.namespaced, namespace) {
            (true, Some(ns)) => {
                check_dns_label(ns)?;
                Some(ns.to_string())
            }
            (true, None) => return Err(format!("{} needs a namespace", kind.kind)),
            (false, _) => None,
        };
        Ok(ObjectRef {
            namespace,
            name: name.to_string(),
        })
    }

    /// Reads an id given to `import`: `NAME` for namespaces, `NAMESPACE/NAME` otherwise.
    pub fn parse_id(kind: &Kind, id: &str) -> Result<ObjectRef, String> {
        let expected = if kind.namespaced {
            "the id of a namespaced object is \"NAMESPACE/NAME\", as in \"payments/app\""
        } else {
            "the id of a namespace is its name, as in \"payments\""
        };
        let parsed = match (kind.namespaced, id.split_once('/')) {
            (true, Some((namespace, name))) => ObjectRef::new(kind, Some(namespace), name),
            (false, None) => ObjectRef::new(kind, None, id),
            _ => return Err(format!("{id:?} is not an id of {}: {expected}", kind.kind)),
        };
        parsed.map_err(|e| format!("{id:?} is not an id of {}: {e}; {expected}", kind.kind))
    }

    /// The id yagura and Terraform give the object.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The path of the object's collection, without a trailing slash.
    pub fn collection(&self, kind: &Kind) -> String {
        let root = if kind.api_version.contains('/') {
            format!("/apis/{}", kind.api_version)
        } else {
            format!("/api/{}", kind.api_version)
        };
        match &self.namespace {
            Some(ns) => format!("{root}/namespaces/{ns}/{}", kind.plural),
            None => format!("{root}/{}", kind.plural),
        }
    }

    /// The object as stored attributes name it (`metadata[0]`), or by its id.
    pub fn from_attributes(
        kind: &Kind,
        attributes: &Map<String, Json>,
        provider_id: Option<&str>,
    ) -> Result<ObjectRef, String> {
        let metadata = attributes
            .get("metadata")
            .and_then(|m| m.get(0))
            .unwrap_or(&Json::Null);
        let name = metadata.get("name").and_then(Json::as_str);
        let namespace = metadata.get("namespace").and_then(Json::as_str);
        match (name, provider_id) {
            (Some(name), _) => ObjectRef::new(kind, namespace, name),
            (None, Some(id)) => ObjectRef::parse_id(kind, id),
            (None, None) => Err("the stored object has no name".to_string()),
        }
    }
}

/// The first object of a block list (`metadata`, `spec`, `role_ref`).
fn first<'v>(value: &'v Json, block: &str) -> &'v Json {
    value
        .get(block)
        .and_then(|b| b.get(0))
        .unwrap_or(&Json::Null)
}

fn items<'v>(value: &'v Json, block: &str) -> &'v [Json] {
    value
        .get(block)
        .and_then(Json::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Copies `from[name]` into `to[key]` when it is set and not empty: absent
/// optional attributes are not sent, so that server-side apply removes what
/// yagura set before and no longer does.
fn copy_set(to: &mut Map<String, Json>, key: &str, from: &Json, name: &str) {
    match from.get(name) {
        None | Some(Json::Null) => {}
        Some(Json::Object(m)) if m.is_empty() => {}
        Some(Json::Array(a)) if a.is_empty() => {}
        Some(value) => {
            to.insert(key.to_string(), value.clone());
        }
    }
}

/// The object yagura applies for a planned value (as JSON), and where it lives.
pub fn manifest(kind: &Kind, planned: &Json) -> Result<(ObjectRef, Json), String> {
    let metadata = first(planned, "metadata");
    let name = metadata
        .get("name")
        .and_then(Json::as_str)
        .ok_or("`metadata.name` must be known")?;
    let namespace = metadata.get("namespace").and_then(Json::as_str);
    if kind.namespaced && namespace.is_none() {
        return Err("`metadata.namespace` must be known".to_string());
    }
    let object = ObjectRef::new(kind, namespace, name)?;
    let mut meta = Map::new();
    meta.insert("name".into(), json!(object.name));
    if let Some(ns) = &object.namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    copy_set(&mut meta, "labels", metadata, "labels");
    copy_set(&mut meta, "annotations", metadata, "annotations");
    let mut body = Map::new();
    body.insert("apiVersion".into(), json!(kind.api_version));
    body.insert("kind".into(), json!(kind.kind));
    body.insert("metadata".into(), Json::Object(meta));
    match kind.type_name {
        "kubernetes_service_account_v1" => {
            copy_set(
                &mut body,
                "automountServiceAccountToken",
                planned,
                "automount_service_account_token",
            );
        }
        "kubernetes_role_v1" => {
            let rules: Vec<Json> = items(planned, "rule")
                .iter()
                .map(|rule| {
                    let mut out = Map::new();
                    copy_set(&mut out, "apiGroups", rule, "api_groups");
                    out.insert("resources".into(), list_or_empty(rule, "resources"));
                    out.insert("verbs".into(), list_or_empty(rule, "verbs"));
                    copy_set(&mut out, "resourceNames", rule, "resource_names");
                    Json::Object(out)
                })
                .collect();
            body.insert("rules".into(), Json::Array(rules));
        }
        "kubernetes_role_binding_v1" => {
            let role_ref = first(planned, "role_ref");
            let mut out = Map::new();
            out.insert(
                "apiGroup".into(),
                role_ref
                    .get("api_group")
                    .filter(|g| !g.is_null())
                    .cloned()
                    .unwrap_or_else(|| json!("rbac.authorization.k8s.io")),
            );
            copy_set(&mut out, "kind", role_ref, "kind");
            copy_set(&mut out, "name", role_ref, "name");
            body.insert("roleRef".into(), Json::Object(out));
            let subjects: Vec<Json> = items(planned, "subject")
                .iter()
                .map(|subject| {
                    let mut out = Map::new();
                    copy_set(&mut out, "kind", subject, "kind");
                    copy_set(&mut out, "name", subject, "name");
                    copy_set(&mut out, "namespace", subject, "namespace");
                    copy_set(&mut out, "apiGroup", subject, "api_group");
                    Json::Object(out)
                })
                .collect();
            body.insert("subjects".into(), Json::Array(subjects));
        }
        "kubernetes_resource_quota_v1" => {
            let mut spec = Map::new();
            copy_set(&mut spec, "hard", first(planned, "spec"), "hard");
            body.insert("spec".into(), Json::Object(spec));
        }
        "kubernetes_limit_range_v1" => {
            let limits: Vec<Json> = items(first(planned, "spec"), "limit")
                .iter()
                .map(|limit| {
                    let mut out = Map::new();
                    copy_set(&mut out, "type", limit, "type");
                    for (key, name) in LIMIT_MAPS {
                        copy_set(&mut out, key, limit, name);
                    }
                    Json::Object(out)
                })
                .collect();
            body.insert("spec".into(), json!({ "limits": limits }));
        }
        _ => {}
    }
    Ok((object, Json::Object(body)))
}

/// The quantity maps of a limit range item: API field, attribute.
const LIMIT_MAPS: &[(&str, &str)] = &[
    ("default", "default"),
    ("defaultRequest", "default_request"),
    ("max", "max"),
    ("min", "min"),
];

fn list_or_empty(from: &Json, name: &str) -> Json {
    match from.get(name) {
        Some(Json::Array(items)) => Json::Array(items.clone()),
        _ => json!([]),
    }
}

/// The keys of a map below `metadata`/`spec` that yagura's field manager owns,
/// from the object's `managedFields`: `path` names the map (`["metadata", "labels"]`).
fn owned_keys(object: &Json, path: &[&str]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let entries = object
        .pointer("/metadata/managedFields")
        .and_then(Json::as_array)
        .map_or(&[][..], Vec::as_slice);
    for entry in entries {
        let ours = entry.get("manager").and_then(Json::as_str) == Some(FIELD_MANAGER)
            && entry.get("operation").and_then(Json::as_str) == Some("Apply")
            && entry
                .get("subresource")
                .and_then(Json::as_str)
                .is_none_or(str::is_empty);
        if !ours {
            continue;
        }
        let mut fields = entry.get("fieldsV1");
        for part in path {
            fields = fields.and_then(|f| f.get(format!("f:{part}")));
        }
        if let Some(Json::Object(map)) = fields {
            keys.extend(
                map.keys()
                    .filter_map(|k| k.strip_prefix("f:"))
                    .map(str::to_string),
            );
        }
    }
    keys
}

/// The keys of `reference` (a stored or planned map), if it is one.
fn reference_keys(reference: Option<&Json>) -> BTreeSet<String> {
    reference
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A map as yagura reports it: the live entries whose keys yagura set (in
/// `reference`) or owns, with a quantity spelled as in `reference` when the
/// server's spelling has the same value. An empty map is null, as unset.
fn reported_map(
    live: Option<&Json>,
    reference: Option<&Json>,
    owned: &BTreeSet<String>,
    quantities: Quantities,
    excluded: &[&str],
) -> Json {
    let Some(live) = live.and_then(Json::as_object) else {
        return Json::Null;
    };
    let referenced = reference_keys(reference);
    let mut out = Map::new();
    for (key, value) in live {
        let wanted =
            referenced.contains(key) || (owned.contains(key) && !excluded.contains(&key.as_str()));
        if !wanted {
            continue;
        }
        out.insert(
            key.clone(),
            spelled_as_reference(value, reference.and_then(|r| r.get(key)), quantities),
        );
    }
    if out.is_empty() {
        Json::Null
    } else {
        Json::Object(out)
    }
}

/// Whether map values are quantities, compared by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quantities {
    Compare,
    Verbatim,
}

fn spelled_as_reference(live: &Json, reference: Option<&Json>, quantities: Quantities) -> Json {
    match (quantities, live.as_str(), reference.and_then(Json::as_str)) {
        (Quantities::Compare, Some(live), Some(wanted)) if same_quantity(live, wanted) => {
            json!(wanted)
        }
        _ => live.clone(),
    }
}

fn string_or_null(object: &Json, name: &str) -> Json {
    match object.get(name) {
        Some(Json::String(s)) => json!(s),
        _ => Json::Null,
    }
}

fn list_or_null(object: &Json, name: &str) -> Json {
    match object.get(name) {
        Some(Json::Array(items)) if !items.is_empty() => Json::Array(items.clone()),
        _ => Json::Null,
    }
}

/// The attributes of the object the server returned, in the shape of the type's
/// schema. `reference` is what yagura last set (the planned value on a write, the
/// stored attributes on a read; none on import): it decides which labels,
/// annotations and quota keys are reported and how quantities are spelled.
pub fn attributes(
    kind: &Kind,
    live: &Json,
    reference: Option<&Map<String, Json>>,
) -> Map<String, Json> {
    let reference = reference.map(|r| Json::Object(r.clone()));
    let reference = reference.as_ref();
    let ref_first = |block: &str| reference.map(|r| first(r, block));
    let meta = live.get("metadata").unwrap_or(&Json::Null);
    let ref_meta = ref_first("metadata");
    let name = meta.get("name").and_then(Json::as_str).unwrap_or_default();
    let namespace = meta.get("namespace").and_then(Json::as_str);
    let object = ObjectRef {
        namespace: namespace.filter(|_| kind.namespaced).map(str::to_string),
        name: name.to_string(),
    };
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    if kind.namespaced {
        metadata.insert("namespace".into(), json!(namespace));
    }
    metadata.insert(
        "labels".into(),
        reported_map(
            meta.get("labels"),
            ref_meta.and_then(|m| m.get("labels")),
            &owned_keys(live, &["metadata", "labels"]),
            Quantities::Verbatim,
            SERVER_LABELS,
        ),
    );
    metadata.insert(
        "annotations".into(),
        reported_map(
            meta.get("annotations"),
            ref_meta.and_then(|m| m.get("annotations")),
            &owned_keys(live, &["metadata", "annotations"]),
            Quantities::Verbatim,
            &[],
        ),
    );
    metadata.insert("uid".into(), string_or_null(meta, "uid"));
    metadata.insert(
        "resource_version".into(),
        string_or_null(meta, "resourceVersion"),
    );
    metadata.insert(
        "generation".into(),
        meta.get("generation")
            .filter(|g| g.is_number())
            .cloned()
            .unwrap_or(Json::Null),
    );
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(object.id()));
    attrs.insert("metadata".into(), json!([metadata]));
    match kind.type_name {
        "kubernetes_service_account_v1" => {
            attrs.insert(
                "automount_service_account_token".into(),
                live.get("automountServiceAccountToken")
                    .filter(|b| b.is_boolean())
                    .cloned()
                    .unwrap_or(Json::Null),
            );
        }
        "kubernetes_role_v1" => {
            let rules: Vec<Json> = items(live, "rules")
                .iter()
                .map(|rule| {
                    json!({
                        "api_groups": list_or_null(rule, "apiGroups"),
                        "resources": list_or_null(rule, "resources"),
                        "verbs": list_or_null(rule, "verbs"),
                        "resource_names": list_or_null(rule, "resourceNames"),
                    })
                })
                .collect();
            attrs.insert("rule".into(), Json::Array(rules));
        }
        "kubernetes_role_binding_v1" => {
            let role_ref = live.get("roleRef").unwrap_or(&Json::Null);
            attrs.insert(
                "role_ref".into(),
                json!([{
                    "api_group": string_or_null(role_ref, "apiGroup"),
                    "kind": string_or_null(role_ref, "kind"),
                    "name": string_or_null(role_ref, "name"),
                }]),
            );
            let ref_subjects = reference.map_or(&[][..], |r| items(r, "subject"));
            let subjects: Vec<Json> = items(live, "subjects")
                .iter()
                .enumerate()
                .map(|(i, subject)| {
                    let kind = subject.get("kind").and_then(Json::as_str).unwrap_or("");
                    let unset = ref_subjects
                        .get(i)
                        .and_then(|s| s.get("api_group"))
                        .is_none_or(Json::is_null);
                    let api_group = match subject.get("apiGroup").and_then(Json::as_str) {
                        // The server fills in a subject's API group when a spec leaves it out.
                        Some(group) if unset && group == default_subject_api_group(kind) => {
                            Json::Null
                        }
                        _ => string_or_null(subject, "apiGroup"),
                    };
                    json!({
                        "kind": kind,
                        "name": string_or_null(subject, "name"),
                        "namespace": string_or_null(subject, "namespace"),
                        "api_group": api_group,
                    })
                })
                .collect();
            attrs.insert("subject".into(), Json::Array(subjects));
        }
        "kubernetes_resource_quota_v1" => {
            let ref_spec = ref_first("spec");
            let hard = reported_map(
                live.pointer("/spec/hard"),
                ref_spec.and_then(|s| s.get("hard")),
                &owned_keys(live, &["spec", "hard"]),
                Quantities::Compare,
                &[],
            );
            attrs.insert("spec".into(), json!([{ "hard": hard }]));
        }
        "kubernetes_limit_range_v1" => {
            let ref_limits = ref_first("spec").map_or(&[][..], |s| items(s, "limit"));
            let limits: Vec<Json> = live
                .pointer("/spec/limits")
                .and_then(Json::as_array)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .enumerate()
                .map(|(i, limit)| limit_attributes(limit, ref_limits.get(i)))
                .collect();
            attrs.insert("spec".into(), json!([{ "limit": limits }]));
        }
        _ => {}
    }
    attrs
}

/// The API group the server gives a role binding subject of `kind` without one.
fn default_subject_api_group(kind: &str) -> &'static str {
    match kind {
        "ServiceAccount" => "",
        _ => "rbac.authorization.k8s.io",
    }
}

/// One limit range item as attributes. A container item's `default` and
/// `defaultRequest` entries that the server derived (a default limit from `max`,
/// a default request from the default limit or from `min`) are left out unless
/// the reference sets them, as the server adds them to every container item.
fn limit_attributes(limit: &Json, reference: Option<&Json>) -> Json {
    let reference = reference.filter(|r| r.get("type") == limit.get("type"));
    let container = limit.get("type").and_then(Json::as_str) == Some("Container");
    let mut out = Map::new();
    out.insert("type".into(), string_or_null(limit, "type"));
    for (key, name) in LIMIT_MAPS {
        let wanted = reference.and_then(|r| r.get(*name));
        let Some(live) = limit.get(*key).and_then(Json::as_object) else {
            out.insert(name.to_string(), Json::Null);
            continue;
        };
        let referenced = reference_keys(wanted);
        let derived_from: &[&str] = match (*key, container) {
            ("default", true) => &["max"],
            ("defaultRequest", true) => &["default", "min"],
            _ => &[],
        };
        let mut map = Map::new();
        for (entry, value) in live {
            let derived = derived_from.iter().any(|source| {
                let source_value = limit.get(*source).and_then(|s| s.get(entry));
                matches!((value.as_str(), source_value.and_then(Json::as_str)),
                    (Some(v), Some(s)) if same_quantity(v, s))
            });
            if derived && !referenced.contains(entry) {
                continue;
            }
            map.insert(
                entry.clone(),
                spelled_as_reference(
                    value,
                    wanted.and_then(|w| w.get(entry)),
                    Quantities::Compare,
                ),
            );
        }
        out.insert(
            name.to_string(),
            if map.is_empty() {
                Json::Null
            } else {
                Json::Object(map)
            },
        );
    }
    Json::Object(out)
}

/// Keeps the stored `resource_version` and `generation` when nothing else that
/// yagura reports changed: another manager's label or the server's bookkeeping
/// moves an object's version without touching what yagura manages, and that is
/// no drift. They are the version at which yagura last saw its fields change.
pub fn keep_versions_when_unchanged(
    attributes: &mut Map<String, Json>,
    stored: &Map<String, Json>,
) {
    let without_versions = |attrs: &Map<String, Json>| {
        let mut copy = attrs.clone();
        if let Some(Json::Object(meta)) = copy.get_mut("metadata").and_then(|m| m.get_mut(0)) {
            meta.remove("resource_version");
            meta.remove("generation");
        }
        copy
    };
    if without_versions(attributes) != without_versions(stored) {
        return;
    }
    let stored_meta = stored.get("metadata").and_then(|m| m.get(0));
    if let (Some(Json::Object(meta)), Some(stored_meta)) = (
        attributes.get_mut("metadata").and_then(|m| m.get_mut(0)),
        stored_meta,
    ) {
        for name in ["resource_version", "generation"] {
            meta.insert(
                name.to_string(),
                stored_meta.get(name).cloned().unwrap_or(Json::Null),
            );
        }
    }
}

/// Whether a namespace has been deleted and waits for its content to go.
pub fn is_terminating(object: &Json) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
        || object.pointer("/status/phase").and_then(Json::as_str) == Some("Terminating")
}

/// The object's `metadata.uid`.
pub fn uid(object: &Json) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Json::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(type_name: &str) -> &'static Kind {
        kind(type_name).expect("a known type")
    }

    /// Checks the manifest of a planned value.
    fn check_manifest(type_name: &str, planned: Json, expected: Json) {
        let (_, body) = manifest(kind_of(type_name), &planned).expect("a manifest");
        assert_eq!(body, expected);
    }

    /// Checks the attributes reported for a live object against a reference.
    fn check_attributes(type_name: &str, live: Json, reference: Option<Json>, expected: Json) {
        let reference = reference.map(|r| r.as_object().expect("an object").clone());
        let attrs = attributes(kind_of(type_name), &live, reference.as_ref());
        assert_eq!(Json::Object(attrs), expected);
    }

    fn yagura_owns(fields: Json) -> Json {
        json!([{"manager": "yagura", "operation": "Apply", "apiVersion": "v1",
                "fieldsType": "FieldsV1", "fieldsV1": fields}])
    }

    #[test]
    fn a_namespace_manifest_holds_only_what_yagura_sets() {
        check_manifest(
            "kubernetes_namespace_v1",
            json!({"id": null, "metadata": [{"name": "payments", "labels": {"team": "pay"},
                "annotations": {}, "uid": null, "resource_version": null, "generation": null}]}),
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "payments", "labels": {"team": "pay"}}}),
        );
    }

    #[test]
    fn a_role_manifest_leaves_out_unset_lists() {
        check_manifest(
            "kubernetes_role_v1",
            json!({"metadata": [{"name": "team", "namespace": "payments", "labels": null}],
                   "rule": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get"], "resource_names": null},
                            {"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["list"], "resource_names": ["web"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "team", "namespace": "payments"},
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                             {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"], "resourceNames": ["web"]}]}),
        );
    }

    #[test]
    fn a_role_binding_manifest() {
        check_manifest(
            "kubernetes_role_binding_v1",
            json!({"metadata": [{"name": "team", "namespace": "payments"}],
                   "role_ref": [{"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": "team"}],
                   "subject": [{"kind": "Group", "name": "payments@acme.example", "namespace": null, "api_group": "rbac.authorization.k8s.io"},
                               {"kind": "ServiceAccount", "name": "app", "namespace": "payments", "api_group": null}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "team", "namespace": "payments"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "team"},
                   "subjects": [{"kind": "Group", "name": "payments@acme.example", "apiGroup": "rbac.authorization.k8s.io"},
                                {"kind": "ServiceAccount", "name": "app", "namespace": "payments"}]}),
        );
    }

    #[test]
    fn quota_and_limit_range_manifests() {
        check_manifest(
            "kubernetes_resource_quota_v1",
            json!({"metadata": [{"name": "q", "namespace": "payments"}],
                   "spec": [{"hard": {"requests.cpu": "1000m", "pods": "10"}}]}),
            json!({"apiVersion": "v1", "kind": "ResourceQuota",
                   "metadata": {"name": "q", "namespace": "payments"},
                   "spec": {"hard": {"requests.cpu": "1000m", "pods": "10"}}}),
        );
        check_manifest(
            "kubernetes_limit_range_v1",
            json!({"metadata": [{"name": "l", "namespace": "payments"}],
                   "spec": [{"limit": [{"type": "Container", "default": {"cpu": "500m"},
                       "default_request": {"cpu": "100m"}, "max": null, "min": {}}]}]}),
            json!({"apiVersion": "v1", "kind": "LimitRange",
                   "metadata": {"name": "l", "namespace": "payments"},
                   "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"},
                       "defaultRequest": {"cpu": "100m"}}]}}),
        );
    }

    #[test]
    fn a_manifest_needs_known_names_fit_for_paths() {
        let sa = kind_of("kubernetes_service_account_v1");
        let no_namespace = json!({"metadata": [{"name": "app", "namespace": null}]});
        assert!(
            manifest(sa, &no_namespace)
                .unwrap_err()
                .contains("namespace")
        );
        let bad = json!({"metadata": [{"name": "../x", "namespace": "payments"}]});
        assert!(manifest(sa, &bad).unwrap_err().contains("DNS-1123"));
    }

    #[test]
    fn labels_are_those_yagura_set_or_owns() {
        let live = json!({"metadata": {
            "name": "payments", "uid": "u-1", "resourceVersion": "7",
            "labels": {"team": "pay", "owned": "yes", "kubernetes.io/metadata.name": "payments", "other": "x"},
            "managedFields": yagura_owns(json!({"f:metadata": {"f:labels": {
                "f:owned": {}, "f:kubernetes.io/metadata.name": {}}}})),
        }});
        check_attributes(
            "kubernetes_namespace_v1",
            live,
            Some(
                json!({"metadata": [{"name": "payments", "labels": {"team": "pay", "gone": "z"}}]}),
            ),
            json!({"id": "payments", "metadata": [{"name": "payments",
                "labels": {"team": "pay", "owned": "yes"}, "annotations": null,
                "uid": "u-1", "resource_version": "7", "generation": null}]}),
        );
    }

    #[test]
    fn an_imported_object_reports_only_what_yagura_owns() {
        let live = json!({"metadata": {"name": "app", "namespace": "payments", "uid": "u",
            "resourceVersion": "3", "generation": 1,
            "annotations": {"iam.gke.io/gcp-service-account": "a@p.iam.gserviceaccount.com"}},
            "automountServiceAccountToken": false});
        check_attributes(
            "kubernetes_service_account_v1",
            live,
            None,
            json!({"id": "payments/app", "automount_service_account_token": false,
                "metadata": [{"name": "app", "namespace": "payments", "labels": null,
                "annotations": null, "uid": "u", "resource_version": "3", "generation": 1}]}),
        );
    }

    #[test]
    fn quota_quantities_keep_the_spelling_of_the_spec() {
        let live = json!({"metadata": {"name": "q", "namespace": "p"},
            "spec": {"hard": {"requests.cpu": "1", "pods": "12", "limits.memory": "1Gi"}}});
        check_attributes(
            "kubernetes_resource_quota_v1",
            live,
            Some(
                json!({"spec": [{"hard": {"requests.cpu": "1000m", "pods": "10", "limits.memory": "1024Mi"}}]}),
            ),
            json!({"id": "p/q", "metadata": [{"name": "q", "namespace": "p", "labels": null,
                "annotations": null, "uid": null, "resource_version": null, "generation": null}],
                "spec": [{"hard": {"requests.cpu": "1000m", "pods": "12", "limits.memory": "1024Mi"}}]}),
        );
    }

    #[test]
    fn limit_ranges_leave_out_what_the_server_derived() {
        let live = json!({"metadata": {"name": "l", "namespace": "p"}, "spec": {"limits": [{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "1Gi"},
            "defaultRequest": {"cpu": "100m", "memory": "1Gi"},
            "max": {"cpu": "2", "memory": "1Gi"}}]}});
        check_attributes(
            "kubernetes_limit_range_v1",
            live,
            Some(
                json!({"spec": [{"limit": [{"type": "Container", "default": {"cpu": "0.5"},
                "default_request": {"cpu": "100m"}, "max": {"cpu": "2000m", "memory": "1024Mi"}, "min": null}]}]}),
            ),
            json!({"id": "p/l", "metadata": [{"name": "l", "namespace": "p", "labels": null,
                "annotations": null, "uid": null, "resource_version": null, "generation": null}],
                "spec": [{"limit": [{"type": "Container", "default": {"cpu": "0.5"},
                    "default_request": {"cpu": "100m"}, "max": {"cpu": "2000m", "memory": "1024Mi"}, "min": null}]}]}),
        );
    }

    #[test]
    fn role_bindings_hide_the_api_group_the_server_filled_in() {
        let live = json!({"metadata": {"name": "b", "namespace": "p"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"},
                         {"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"}]});
        check_attributes(
            "kubernetes_role_binding_v1",
            live,
            Some(
                json!({"subject": [{"kind": "Group", "name": "g", "api_group": null},
                                    {"kind": "User", "name": "u", "api_group": "rbac.authorization.k8s.io"}]}),
            ),
            json!({"id": "p/b", "metadata": [{"name": "b", "namespace": "p", "labels": null,
                "annotations": null, "uid": null, "resource_version": null, "generation": null}],
                "role_ref": [{"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}],
                "subject": [{"kind": "Group", "name": "g", "namespace": null, "api_group": null},
                            {"kind": "User", "name": "u", "namespace": null, "api_group": "rbac.authorization.k8s.io"}]}),
        );
    }

    #[test]
    fn roles_report_rules_in_schema_shape() {
        let live = json!({"metadata": {"name": "r", "namespace": "p"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]});
        check_attributes(
            "kubernetes_role_v1",
            live,
            None,
            json!({"id": "p/r", "metadata": [{"name": "r", "namespace": "p", "labels": null,
                "annotations": null, "uid": null, "resource_version": null, "generation": null}],
                "rule": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list"], "resource_names": null}]}),
        );
    }

    #[test]
    fn versions_move_only_with_what_yagura_reports() {
        let stored = json!({"id": "p", "metadata": [{"name": "p", "labels": {"a": "1"},
            "uid": "u", "resource_version": "5", "generation": null}]});
        let stored = stored.as_object().expect("an object").clone();
        let mut same = stored.clone();
        same["metadata"][0]["resource_version"] = json!("9");
        keep_versions_when_unchanged(&mut same, &stored);
        assert_eq!(same["metadata"][0]["resource_version"], "5");
        let mut changed = stored.clone();
        changed["metadata"][0]["resource_version"] = json!("9");
        changed["metadata"][0]["labels"]["a"] = json!("2");
        keep_versions_when_unchanged(&mut changed, &stored);
        assert_eq!(changed["metadata"][0]["resource_version"], "9");
    }

    #[test]
    fn import_ids() {
        let ns = kind_of("kubernetes_namespace_v1");
        let role = kind_of("kubernetes_role_v1");
        let parsed = ObjectRef::parse_id(role, "payments/team").expect("a valid id");
        assert_eq!(parsed.id(), "payments/team");
        assert_eq!(
            parsed.collection(role),
            "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/roles"
        );
        let parsed = ObjectRef::parse_id(ns, "payments").expect("a valid id");
        assert_eq!(parsed.collection(ns), "/api/v1/namespaces");
        assert!(
            ObjectRef::parse_id(role, "team")
                .unwrap_err()
                .contains("\"NAMESPACE/NAME\"")
        );
        assert!(
            ObjectRef::parse_id(ns, "a/b")
                .unwrap_err()
                .contains("the id of a namespace is its name")
        );
        assert!(ObjectRef::parse_id(role, "payments/../x").is_err());
    }
}
