//! Sets of field paths, the unit of ownership in server-side apply, and their
//! `FieldsV1` encoding.
//!
//! A path is a list of field names from the object's root (`metadata`, `labels`,
//! `app`). A set is a trie: each node may be a member itself (the manager owns
//! that field) and may have children. `FieldsV1` writes a member with children as
//! `".": {}` beside the `f:<name>` keys of its children, a member without children
//! as `{}`, as structured-merge-diff does:
//! `{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`.
//!
//! Lists never appear inside a path: this fake treats every list as atomic (see
//! `fieldmanager`), so a list is one leaf.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A path of field names from the object's root.
pub type FieldPath = Vec<String>;

/// Renders a path as conflict messages do: `.metadata.labels.app`.
pub fn path_text(path: &[String]) -> String {
    path.iter().map(|name| format!(".{name}")).collect()
}

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds a path.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for name in path {
            node = node.children.entry(name.clone()).or_default();
        }
        node.member = true;
    }

    /// Reports whether a path is a member.
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|node| node.member)
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        let mut node = self;
        for name in path {
            node = node.children.get(name)?;
        }
        Some(node)
    }

    /// Returns every member, in order.
    pub fn members(&self) -> Vec<FieldPath> {
        let mut members = Vec::new();
        self.collect(&mut Vec::new(), &mut members);
        members
    }

    fn collect(&self, prefix: &mut FieldPath, members: &mut Vec<FieldPath>) {
        if self.member {
            members.push(prefix.clone());
        }
        for (name, child) in &self.children {
            prefix.push(name.clone());
            child.collect(prefix, members);
            prefix.pop();
        }
    }

    /// Returns the members of both sets.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut union = self.clone();
        for path in other.members() {
            union.insert(&path);
        }
        union
    }

    /// Returns the members of this set that are members of `other` too.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut intersection = FieldSet::new();
        for path in self.members() {
            if other.contains(&path) {
                intersection.insert(&path);
            }
        }
        intersection
    }

    /// Returns the members of this set that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut difference = FieldSet::new();
        for path in self.members() {
            if !other.contains(&path) {
                difference.insert(&path);
            }
        }
        difference
    }

    /// Returns this set without `prefix` and everything under it.
    pub fn without_subtree(&self, prefix: &[String]) -> FieldSet {
        let mut rest = FieldSet::new();
        for path in self.members() {
            if !path.starts_with(prefix) {
                rest.insert(&path);
            }
        }
        rest
    }

    /// Returns the `FieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let mut object = Map::new();
        if self.member && !self.children.is_empty() {
            object.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (name, child) in &self.children {
            object.insert(format!("f:{name}"), child.to_fields_v1());
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> FieldPath {
        text.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn fields_v1_marks_members_with_children_by_a_dot() {
        let mut set = FieldSet::new();
        set.insert(&path("metadata.labels"));
        set.insert(&path("metadata.labels.app"));
        set.insert(&path("spec.hard.pods"));
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                   "f:spec": {"f:hard": {"f:pods": {}}}})
        );
    }

    #[test]
    fn set_operations_work_on_members() {
        let mut a = FieldSet::new();
        a.insert(&path("metadata.labels.a"));
        a.insert(&path("metadata.labels.b"));
        let mut b = FieldSet::new();
        b.insert(&path("metadata.labels.b"));
        b.insert(&path("metadata.labels"));
        assert_eq!(
            a.intersection(&b).members(),
            vec![path("metadata.labels.b")]
        );
        assert_eq!(a.difference(&b).members(), vec![path("metadata.labels.a")]);
        assert_eq!(a.union(&b).members().len(), 3);
        assert!(a.difference(&a).is_empty());
        assert_eq!(path_text(&path("metadata.labels.x")), ".metadata.labels.x");
    }
}
