//! The resources the fake serves, and what the apiserver's registry knows of each.
//!
//! One `Kind` per resource: its names (plural resource, singular, kind, short
//! names), its group and version, whether it is namespaced, and the strategy
//! details that change behaviour (create on PUT, fields reset on writes, maps that
//! are owned whole by server-side apply). Discovery, routing, validation and the
//! field manager all read this table; nothing else lists resources.

/// One served resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// The API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// The plural resource name used in paths, e.g. `serviceaccounts`.
    pub resource: &'static str,
    pub singular: &'static str,
    /// The kind, e.g. `ServiceAccount`.
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Whether a PUT of a missing object creates it (the strategy's
    /// `AllowCreateOnUpdate`): true for LimitRange and the RBAC kinds.
    pub create_on_update: bool,
    /// Fields the strategy resets on every write to the main resource, so clients
    /// cannot set them and nobody owns them, e.g. `status`.
    pub reset_fields: &'static [&'static [&'static str]],
    /// Maps that are atomic in the schema (`x-kubernetes-map-type: atomic`), which
    /// server-side apply owns as a whole.
    pub atomic_maps: &'static [&'static [&'static str]],
    /// Maps of resource quantities, which the server canonicalises; a `[]` segment
    /// stands for every item of a list.
    pub quantity_maps: &'static [&'static [&'static str]],
    /// The schema file's stem in `--schemas`, e.g. `role-rbac-v1`.
    pub schema_file: &'static str,
    /// Whether a DELETE answers the deleted object (the store's
    /// `ReturnDeletedObject`) rather than a `Status`: true for ServiceAccount and
    /// ResourceQuota.
    pub returns_deleted_object: bool,
}

const RBAC: &str = "rbac.authorization.k8s.io";

/// Every served resource.
pub const KINDS: &[Kind] = &[
    Kind {
        group: "",
        version: "v1",
        resource: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        create_on_update: false,
        reset_fields: &[&["status"], &["spec", "finalizers"]],
        atomic_maps: &[],
        quantity_maps: &[],
        schema_file: "namespace-v1",
        returns_deleted_object: false,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        create_on_update: false,
        reset_fields: &[],
        atomic_maps: &[],
        quantity_maps: &[],
        schema_file: "serviceaccount-v1",
        returns_deleted_object: true,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        namespaced: true,
        short_names: &["quota"],
        create_on_update: false,
        reset_fields: &[&["status"]],
        atomic_maps: &[],
        quantity_maps: &[&["spec", "hard"]],
        schema_file: "resourcequota-v1",
        returns_deleted_object: true,
    },
    Kind {
        group: "",
        version: "v1",
        resource: "limitranges",
        singular: "limitrange",
        kind: "LimitRange",
        namespaced: true,
        short_names: &["limits"],
        create_on_update: true,
        reset_fields: &[],
        atomic_maps: &[],
        quantity_maps: &[
            &["spec", "limits", "[]", "max"],
            &["spec", "limits", "[]", "min"],
            &["spec", "limits", "[]", "default"],
            &["spec", "limits", "[]", "defaultRequest"],
            &["spec", "limits", "[]", "maxLimitRequestRatio"],
        ],
        schema_file: "limitrange-v1",
        returns_deleted_object: false,
    },
    Kind {
        group: RBAC,
        version: "v1",
        resource: "roles",
        singular: "role",
        kind: "Role",
        namespaced: true,
        short_names: &[],
        create_on_update: true,
        reset_fields: &[],
        atomic_maps: &[],
        quantity_maps: &[],
        schema_file: "role-rbac-v1",
        returns_deleted_object: false,
    },
    Kind {
        group: RBAC,
        version: "v1",
        resource: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        namespaced: true,
        short_names: &[],
        create_on_update: true,
        reset_fields: &[],
        atomic_maps: &[&["roleRef"]],
        quantity_maps: &[],
        schema_file: "rolebinding-rbac-v1",
        returns_deleted_object: false,
    },
    Kind {
        group: RBAC,
        version: "v1",
        resource: "clusterroles",
        singular: "clusterrole",
        kind: "ClusterRole",
        namespaced: false,
        short_names: &[],
        create_on_update: true,
        reset_fields: &[],
        atomic_maps: &[],
        quantity_maps: &[],
        schema_file: "clusterrole-rbac-v1",
        returns_deleted_object: false,
    },
    Kind {
        group: RBAC,
        version: "v1",
        resource: "clusterrolebindings",
        singular: "clusterrolebinding",
        kind: "ClusterRoleBinding",
        namespaced: false,
        short_names: &[],
        create_on_update: true,
        reset_fields: &[],
        atomic_maps: &[&["roleRef"]],
        quantity_maps: &[],
        schema_file: "clusterrolebinding-rbac-v1",
        returns_deleted_object: false,
    },
];

/// The group versions served, as discovery lists them: (group, version).
pub const GROUP_VERSIONS: &[(&str, &str)] = &[("", "v1"), (RBAC, "v1")];

/// The verbs every served resource answers.
pub const VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// Finds a served resource by group and plural name.
pub fn find(group: &str, resource: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|kind| kind.group == group && kind.resource == resource)
}

/// Returns the namespace resource, which other code needs by name.
pub fn namespaces() -> &'static Kind {
    find("", "namespaces").expect("KINDS lists namespaces")
}

/// Returns the service account resource.
pub fn service_accounts() -> &'static Kind {
    find("", "serviceaccounts").expect("KINDS lists serviceaccounts")
}

impl Kind {
    /// Returns `v1` or `rbac.authorization.k8s.io/v1`.
    pub fn api_version(&self) -> String {
        group_version(self.group, self.version)
    }

    /// Returns the resource as error messages name it: `namespaces`,
    /// `roles.rbac.authorization.k8s.io`.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// Returns the kind as `Invalid` messages name it: `Namespace`,
    /// `Role.rbac.authorization.k8s.io`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Returns the kind of a list of these, e.g. `NamespaceList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Returns the path prefix of the group version: `/api/v1` or `/apis/<group>/v1`.
    pub fn group_version_path(&self) -> String {
        group_version_path(self.group, self.version)
    }

    /// Returns the path of the collection, in a namespace or across all of them.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(namespace) if self.namespaced => format!(
                "{}/namespaces/{namespace}/{}",
                self.group_version_path(),
                self.resource
            ),
            _ => format!("{}/{}", self.group_version_path(), self.resource),
        }
    }

    /// Returns the `x-kubernetes-group-version-kind` of the kind's operations.
    pub fn group_version_kind(&self) -> serde_json::Value {
        serde_json::json!({"group": self.group, "version": self.version, "kind": self.kind})
    }
}

/// Returns `v1` for the core group, `<group>/<version>` otherwise.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// Returns `/api/v1` for the core group, `/apis/<group>/<version>` otherwise.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_qualified_outside_the_core_group() {
        let role = find(RBAC, "roles").unwrap();
        assert_eq!(role.qualified_resource(), "roles.rbac.authorization.k8s.io");
        assert_eq!(role.qualified_kind(), "Role.rbac.authorization.k8s.io");
        assert_eq!(role.api_version(), "rbac.authorization.k8s.io/v1");
        assert_eq!(
            role.collection_path(Some("ns")),
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles"
        );
        assert_eq!(namespaces().qualified_resource(), "namespaces");
        assert_eq!(
            namespaces().collection_path(Some("x")),
            "/api/v1/namespaces"
        );
        assert_eq!(
            service_accounts().collection_path(None),
            "/api/v1/serviceaccounts"
        );
    }
}
