//! Server-side apply and field ownership: who owns which field of an object, and
//! what an apply or an update does to the object and to its owners.
//!
//! This follows structured-merge-diff's `Updater` as the apiserver wires it
//! (`k8s.io/apimachinery/pkg/util/managedfields`):
//!
//! - An **apply** by manager M merges M's configuration into the live object.
//!   M's new set is the leaves of the configuration. Fields M owned before and no
//!   longer sends are removed from the object unless another manager owns them.
//!   A field whose value the apply changes (or adds) and that another manager owns
//!   is a conflict; without `force` the apply fails, with it the other managers
//!   lose those fields.
//! - An **update** (create, replace, merge patch) by manager U always wins: U takes
//!   every field it added or changed, other managers lose them, and every manager
//!   loses the fields the update removed. Maps the update created are members of
//!   U's set themselves (`".": {}` in `FieldsV1`).
//! - Managers are identified by name and operation, so `kubectl` applying and
//!   `kubectl` updating are two owners, as in Kubernetes. Entries left empty are
//!   dropped. `apiVersion`, `kind`, `metadata.name`, `namespace`, `uid`,
//!   `resourceVersion`, `generation`, `creationTimestamp`, `managedFields` and the
//!   kind's reset fields (`status`, a namespace's `spec.finalizers`) are never
//!   owned.
//!
//! Simplifications, consistent throughout: every list is atomic, owned and
//! replaced as a whole (Kubernetes marks RBAC `rules` and `subjects` atomic; this
//! fake does the same for `spec.limits`, `finalizers`, `secrets` and every other
//! list), so `FieldsV1` never holds `k:`/`v:`/`i:` keys. A `null` in an applied
//! configuration or an update counts as absent. The always-present structs
//! `metadata` and `spec` are never members themselves. Maps marked
//! `x-kubernetes-map-type: atomic` (`roleRef`) are leaves.

use serde_json::{Map, Value, json};

use crate::errors::{ApiError, Cause, Reason};
use crate::fields::{FieldPath, FieldSet, path_text};
use crate::kinds::Kind;

/// The kind of write that last gave a manager its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339, seconds precision, as the apiserver writes it.
    pub time: String,
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// Returns the entry as it appears in `metadata.managedFields`.
    pub fn to_json(&self) -> Value {
        json!({
            "manager": self.manager,
            "operation": self.operation.name(),
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        })
    }

    fn is(&self, manager: &str, operation: Operation) -> bool {
        self.manager == manager && self.operation == operation
    }

    /// Returns the manager as conflict messages name it: `"kubectl"` for an
    /// applier, `"kubectl-edit" using v1` for an updater.
    fn describe(&self) -> String {
        match self.operation {
            Operation::Apply => format!("{:?}", self.manager),
            Operation::Update => format!("{:?} using {}", self.manager, self.api_version),
        }
    }
}

/// Reports whether two lists of entries give the same managers the same fields,
/// whatever their times.
pub fn same_ownership(a: &[ManagedEntry], b: &[ManagedEntry]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.manager == b.manager
                && a.operation == b.operation
                && a.api_version == b.api_version
                && a.fields == b.fields
        })
}

/// What changed between two versions of an object, as structured-merge-diff's
/// `Comparison` reports it.
#[derive(Debug, Default)]
struct Comparison {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

/// Compares two objects of a kind.
fn compare(kind: &Kind, old: &Value, new: &Value) -> Comparison {
    let mut comparison = Comparison::default();
    compare_node(kind, Some(old), Some(new), &mut Vec::new(), &mut comparison);
    comparison
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

fn empty_or_absent(value: Option<&Value>) -> bool {
    value.is_none_or(|value| value.as_object().is_some_and(Map::is_empty))
}

fn compare_node(
    kind: &Kind,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut FieldPath,
    comparison: &mut Comparison,
) {
    let old = present(old);
    let new = present(new);
    let maps = old.is_none_or(Value::is_object) && new.is_none_or(Value::is_object);
    let leaf = !maps || is_atomic_map(kind, path) || (empty_or_absent(old) && empty_or_absent(new));
    if leaf {
        match (old, new) {
            (None, Some(_)) => comparison.added.insert(path),
            (Some(_), None) => comparison.removed.insert(path),
            (Some(old), Some(new)) if old != new => comparison.modified.insert(path),
            _ => {}
        }
        return;
    }
    let empty = Map::new();
    let old_map = old.and_then(Value::as_object).unwrap_or(&empty);
    let new_map = new.and_then(Value::as_object).unwrap_or(&empty);
    let mut names: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        path.push(name.clone());
        compare_node(kind, old_map.get(name), new_map.get(name), path, comparison);
        path.pop();
    }
    if path.is_empty() || is_always_present(path) {
        return;
    }
    match (old, new) {
        (None, Some(_)) => comparison.added.insert(path),
        (Some(_), None) => comparison.removed.insert(path),
        _ => {}
    }
}

/// The structs every object of the served kinds has, which are never added or
/// removed as a whole.
fn is_always_present(path: &[String]) -> bool {
    matches!(path, [name] if name == "metadata" || name == "spec")
}

fn is_atomic_map(kind: &Kind, path: &[String]) -> bool {
    kind.atomic_maps
        .iter()
        .any(|atomic| atomic.iter().copied().eq(path.iter().map(String::as_str)))
}

/// Returns the fields an applied configuration sets: its leaves.
fn applied_set(kind: &Kind, config: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    collect_leaves(kind, config, &mut Vec::new(), &mut set);
    set
}

fn collect_leaves(kind: &Kind, value: &Value, path: &mut FieldPath, set: &mut FieldSet) {
    match value {
        Value::Null => {}
        Value::Object(object) if !is_atomic_map(kind, path) => {
            for (name, child) in object {
                path.push(name.clone());
                collect_leaves(kind, child, path, set);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
}

/// Returns a set without the fields nobody may own.
fn without_unowned(kind: &Kind, set: &FieldSet) -> FieldSet {
    let mut set = set.clone();
    for name in ["apiVersion", "kind"] {
        set = set.without_subtree(&[name.to_owned()]);
    }
    for name in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "selfLink",
        "managedFields",
    ] {
        set = set.without_subtree(&["metadata".to_owned(), name.to_owned()]);
    }
    for reset in kind.reset_fields {
        let reset: FieldPath = reset.iter().map(|name| (*name).to_owned()).collect();
        set = set.without_subtree(&reset);
    }
    set
}

/// Merges an applied configuration into an object: maps are merged key by key,
/// everything else (scalars, lists, atomic maps) is replaced.
fn merge(kind: &Kind, live: &mut Value, config: &Value, path: &mut FieldPath) {
    match (live, config) {
        (Value::Object(live), Value::Object(config)) if !is_atomic_map(kind, path) => {
            for (name, value) in config {
                if value.is_null() {
                    continue;
                }
                path.push(name.clone());
                match live.get_mut(name) {
                    Some(existing) => merge(kind, existing, value, path),
                    None => {
                        live.insert(name.clone(), value.clone());
                    }
                }
                path.pop();
            }
        }
        (live, config) => *live = config.clone(),
    }
}

/// Removes one field from an object, if present.
fn remove_path(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    for name in parents {
        match node.get_mut(name) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

/// The owners an apply would take fields from, by entry.
#[derive(Debug)]
pub struct Conflicts(Vec<(ManagedEntry, FieldSet)>);

impl Conflicts {
    /// Returns the apiserver's 409 for the conflicts.
    pub fn into_error(self) -> ApiError {
        let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
        let mut owners = self.0;
        owners.sort_by(|(a, _), (b, _)| (&a.manager, a.operation).cmp(&(&b.manager, b.operation)));
        for (entry, fields) in &owners {
            for path in fields.members() {
                conflicts.push((entry.describe(), path));
            }
        }
        let message = match conflicts.as_slice() {
            [(owner, path)] => format!(
                "Apply failed with 1 conflict: conflict with {owner}: {}",
                path_text(path)
            ),
            _ => {
                let mut lines = Vec::new();
                for (entry, fields) in &owners {
                    lines.push(format!("conflicts with {}:", entry.describe()));
                    for path in fields.members() {
                        lines.push(format!("- {}", path_text(&path)));
                    }
                }
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            }
        };
        let mut error = ApiError::new(Reason::Conflict, message);
        for (owner, path) in conflicts {
            error = error.with_cause(Cause::new(
                "FieldManagerConflict",
                format!("conflict with {owner}"),
                path_text(&path),
            ));
        }
        error
    }
}

/// Whether an apply may take fields from other managers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    No,
    Yes,
}

/// Applies `config` (stripped of server fields and `null`s) by `manager` to
/// `live` (an object without `managedFields`; `{}` for a new one).
///
/// Returns the new object and entries; the applier's time is left as it was (or
/// empty for a new entry) for the caller to stamp.
pub fn apply(
    kind: &Kind,
    live: &Value,
    entries: &[ManagedEntry],
    config: &Value,
    manager: &str,
    force: Force,
) -> Result<(Value, Vec<ManagedEntry>), Conflicts> {
    let mut merged = live.clone();
    merge(kind, &mut merged, config, &mut Vec::new());
    let new_set = without_unowned(kind, &applied_set(kind, config));
    let mut entries: Vec<ManagedEntry> = entries.to_vec();
    let last_set = match entries
        .iter_mut()
        .find(|entry| entry.is(manager, Operation::Apply))
    {
        Some(entry) => std::mem::replace(&mut entry.fields, new_set),
        None => {
            entries.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Apply,
                api_version: kind.api_version(),
                time: String::new(),
                fields: new_set,
            });
            FieldSet::new()
        }
    };
    for path in last_set.members() {
        if !entries.iter().any(|entry| entry.fields.contains(&path)) {
            remove_path(&mut merged, &path);
        }
    }
    let comparison = compare(kind, live, &merged);
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts = Vec::new();
    for entry in &mut entries {
        if entry.is(manager, Operation::Apply) {
            continue;
        }
        let taken = entry.fields.intersection(&changed);
        entry.fields = entry.fields.difference(&comparison.removed);
        if !taken.is_empty() {
            conflicts.push((entry.clone(), taken));
        }
    }
    if !conflicts.is_empty() && force == Force::No {
        return Err(Conflicts(conflicts));
    }
    for (owner, taken) in &conflicts {
        if let Some(entry) = entries
            .iter_mut()
            .find(|entry| entry.is(&owner.manager, owner.operation))
        {
            entry.fields = entry.fields.difference(taken);
        }
    }
    entries.retain(|entry| !entry.fields.is_empty());
    Ok((merged, entries))
}

/// Records an update by `manager` that turned `live` into `new` (both without
/// `managedFields`; `live` is `{}` for a create).
///
/// Returns the new entries and whether the updater's entry changed, so that the
/// caller can stamp its time.
pub fn update(
    kind: &Kind,
    live: &Value,
    entries: &[ManagedEntry],
    new: &Value,
    manager: &str,
) -> (Vec<ManagedEntry>, bool) {
    let comparison = compare(kind, live, new);
    let changed = comparison.modified.union(&comparison.added);
    let mut entries: Vec<ManagedEntry> = entries.to_vec();
    for entry in &mut entries {
        entry.fields = entry.fields.difference(&comparison.removed);
        if !entry.is(manager, Operation::Update) {
            entry.fields = entry.fields.difference(&changed);
        }
    }
    let taken = without_unowned(kind, &changed);
    let updated = !taken.is_empty();
    if updated {
        match entries
            .iter_mut()
            .find(|entry| entry.is(manager, Operation::Update))
        {
            Some(entry) => entry.fields = entry.fields.union(&taken),
            None => entries.push(ManagedEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version: kind.api_version(),
                time: String::new(),
                fields: taken,
            }),
        }
    }
    entries.retain(|entry| !entry.fields.is_empty());
    (entries, updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;

    /// A namespace as stored: the object and its managed fields.
    type Live = (Value, Vec<ManagedEntry>);

    fn namespace() -> &'static Kind {
        kinds::namespaces()
    }

    fn labels(pairs: &[(&str, &str)]) -> Value {
        let labels: Map<String, Value> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).into()))
            .collect();
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": labels}})
    }

    /// Nothing stored yet.
    fn absent() -> Live {
        (json!({}), Vec::new())
    }

    /// Returns a namespace with `pairs` as its labels, created by kubectl-edit.
    fn created_by_kubectl_edit(pairs: &[(&str, &str)]) -> Live {
        let live = labels(pairs);
        let (entries, _) = update(namespace(), &json!({}), &[], &live, "kubectl-edit");
        (live, entries)
    }

    /// Applies a namespace with `pairs` as its labels by `manager` over `live`.
    fn apply_labels(
        live: &Live,
        pairs: &[(&str, &str)],
        manager: &str,
        force: Force,
    ) -> Result<Live, Conflicts> {
        apply(
            namespace(),
            &live.0,
            &live.1,
            &labels(pairs),
            manager,
            force,
        )
    }

    #[test]
    fn apply_owns_leaves_only() {
        let (object, entries) =
            apply_labels(&absent(), &[("a", "1")], "yagura", Force::No).unwrap();
        assert_eq!(object["metadata"]["labels"]["a"], "1");
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].fields.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}})
        );
    }

    #[test]
    fn dropped_fields_go_unless_someone_else_owns_them() {
        let first =
            apply_labels(&absent(), &[("a", "1"), ("b", "2")], "yagura", Force::No).unwrap();
        let second = apply_labels(&first, &[("b", "2")], "other", Force::No).unwrap();
        let (object, _) = apply_labels(&second, &[], "yagura", Force::No).unwrap();
        assert_eq!(object["metadata"]["labels"], json!({"b": "2"}));
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let live = created_by_kubectl_edit(&[("x", "1")]);
        assert_eq!(
            live.1[0].fields.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
        let error = apply_labels(&live, &[("x", "2")], "yagura", Force::No)
            .unwrap_err()
            .into_error();
        assert_eq!(
            error.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .metadata.labels.x"
        );
        let (object, entries) = apply_labels(&live, &[("x", "2")], "yagura", Force::Yes).unwrap();
        assert_eq!(object["metadata"]["labels"]["x"], "2");
        let edit = entries
            .iter()
            .find(|entry| entry.manager == "kubectl-edit")
            .unwrap();
        // kubectl-edit keeps the map it created; the key went to yagura.
        assert_eq!(
            edit.fields.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {}}})
        );
    }

    #[test]
    fn same_value_is_shared_without_conflict() {
        let live = created_by_kubectl_edit(&[("x", "1")]);
        let (_, entries) = apply_labels(&live, &[("x", "1")], "yagura", Force::No).unwrap();
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn many_conflicts_are_listed_by_manager() {
        let live = created_by_kubectl_edit(&[("a", "1"), ("b", "1")]);
        let error = apply_labels(&live, &[("a", "2"), ("b", "2")], "yagura", Force::No)
            .unwrap_err()
            .into_error();
        assert_eq!(
            error.message,
            "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using v1:\n- .metadata.labels.a\n- .metadata.labels.b"
        );
        assert_eq!(error.causes.len(), 2);
        assert_eq!(error.causes[0].field, ".metadata.labels.a");
    }

    #[test]
    fn updates_take_changed_fields_from_appliers() {
        let (object, entries) =
            apply_labels(&absent(), &[("a", "1"), ("b", "1")], "yagura", Force::No).unwrap();
        let mut edited = object.clone();
        edited["metadata"]["labels"]["a"] = "2".into();
        let (entries, updated) = update(namespace(), &object, &entries, &edited, "kubectl-edit");
        assert!(updated);
        let yagura = entries
            .iter()
            .find(|entry| entry.manager == "yagura")
            .unwrap();
        assert_eq!(
            yagura.fields.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}}})
        );
    }

    #[test]
    fn atomic_maps_are_one_field() {
        let binding = kinds::find("rbac.authorization.k8s.io", "rolebindings").unwrap();
        let config = json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}});
        let (_, entries) = apply(binding, &json!({}), &[], &config, "yagura", Force::No).unwrap();
        assert_eq!(entries[0].fields.to_fields_v1(), json!({"f:roleRef": {}}));
    }
}
