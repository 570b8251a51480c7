//! Compares a resource's configuration with its prior state: the action, the
//! planned value, and the attribute paths that force a replacement.

use std::collections::BTreeMap;

use crate::config::Lifecycle;
use crate::lang::Value;
use crate::lang::eval::values_equal;
use crate::schema::{BlockSchema, ChangeVerdict, Presence, ResourceSchema};

use super::ChangeAction;

/// The outcome of comparing one resource instance.
pub struct Diff {
    pub action: ChangeAction,
    pub after: Value,
    pub replace_paths: Vec<Vec<String>>,
    /// Why the type refuses this change, when it does.
    pub refused: Option<String>,
}

/// Decides what happens to a resource, given its configuration and prior state.
pub fn diff(
    schema: &ResourceSchema,
    mut config: BTreeMap<String, Value>,
    prior: Option<&BTreeMap<String, Value>>,
    lifecycle: &Lifecycle,
) -> Diff {
    let Some(prior) = prior else {
        return Diff {
            action: ChangeAction::Create,
            after: planned_new(schema, config),
            replace_paths: Vec::new(),
            refused: None,
        };
    };
    // Ignored attributes keep their stored values.
    if lifecycle.ignore_all_changes {
        for (name, value) in prior {
            config.insert(name.clone(), value.clone());
        }
    }
    for path in &lifecycle.ignore_changes {
        if let Some(first) = path.first()
            && let Some(value) = prior.get(first)
        {
            config.insert(first.clone(), value.clone());
        }
    }
    let mut replace_paths = Vec::new();
    let changed = compare_block(
        &schema.block,
        &config,
        prior,
        &mut Vec::new(),
        &mut replace_paths,
    );
    if !changed {
        return Diff {
            action: ChangeAction::NoOp,
            after: mark_sensitive(&schema.block, prior.clone()),
            replace_paths,
            refused: None,
        };
    }
    let mut refused = None;
    if replace_paths.is_empty()
        && let Some(rule) = schema.change_rule
    {
        let unmarked = |m: &BTreeMap<String, Value>| -> BTreeMap<String, Value> {
            m.iter()
                .map(|(k, v)| (k.clone(), v.clone().unmark_deep().0))
                .collect()
        };
        match rule(&unmarked(prior), &unmarked(&config)) {
            ChangeVerdict::InPlace => {}
            ChangeVerdict::Replace(path) => replace_paths.push(vec![path.to_string()]),
            ChangeVerdict::Refuse(reason) => refused = Some(reason),
        }
    }
    if !replace_paths.is_empty() {
        return Diff {
            action: ChangeAction::Replace,
            after: planned_new(schema, config),
            replace_paths,
            refused,
        };
    }
    // An in-place update keeps the computed values the provider reported.
    let mut after = config;
    fill_computed_from_prior(&schema.block, &mut after, prior);
    apply_plan_time(schema, &mut after);
    Diff {
        action: ChangeAction::Update,
        after: mark_sensitive(&schema.block, after),
        replace_paths,
        refused,
    }
}

/// The planned value of a resource about to be created: computed attributes are unknown
/// unless the schema derives them at plan time.
fn planned_new(schema: &ResourceSchema, mut config: BTreeMap<String, Value>) -> Value {
    fill_computed_unknown(&schema.block, &mut config);
    apply_plan_time(schema, &mut config);
    mark_sensitive(&schema.block, config)
}

fn apply_plan_time(schema: &ResourceSchema, config: &mut BTreeMap<String, Value>) {
    if let Some(derive) = schema.plan_time {
        let unmarked: BTreeMap<String, Value> = config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unmark_deep().0))
            .collect();
        for (name, value) in derive(&unmarked) {
            config.insert(name.to_string(), value);
        }
    }
}

fn fill_computed_unknown(block: &BlockSchema, config: &mut BTreeMap<String, Value>) {
    for attr in block
        .attrs
        .iter()
        .filter(|a| a.presence == Presence::Computed)
    {
        config.insert(attr.name.to_string(), Value::Unknown);
    }
    for nested in block.blocks {
        if let Some(Value::List(items)) = config.get_mut(nested.name) {
            for item in items {
                if let Value::Object(map) = item {
                    fill_computed_unknown(nested.block, map);
                }
            }
        }
    }
}

fn fill_computed_from_prior(
    block: &BlockSchema,
    config: &mut BTreeMap<String, Value>,
    prior: &BTreeMap<String, Value>,
) {
    for attr in block
        .attrs
        .iter()
        .filter(|a| a.presence == Presence::Computed)
    {
        config.insert(
            attr.name.to_string(),
            prior.get(attr.name).cloned().unwrap_or(Value::Null),
        );
    }
    for nested in block.blocks {
        let prior_items = prior
            .get(nested.name)
            .and_then(Value::as_sequence)
            .unwrap_or(&[]);
        if let Some(Value::List(items)) = config.get_mut(nested.name) {
            for (i, item) in items.iter_mut().enumerate() {
                if let (Value::Object(map), Some(Value::Object(prior_map))) =
                    (item, prior_items.get(i))
                {
                    fill_computed_from_prior(nested.block, map, prior_map);
                }
            }
        }
    }
}

/// Marks the schema's sensitive attributes, recursively.
pub fn mark_sensitive(block: &BlockSchema, mut values: BTreeMap<String, Value>) -> Value {
    for attr in block.attrs.iter().filter(|a| a.sensitive) {
        if let Some(v) = values.remove(attr.name) {
            let v = if v.is_null() { v } else { v.sensitive() };
            values.insert(attr.name.to_string(), v);
        }
    }
    for nested in block.blocks {
        if let Some(Value::List(items)) = values.remove(nested.name) {
            let items = items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => mark_sensitive(nested.block, map),
                    other => other,
                })
                .collect();
            values.insert(nested.name.to_string(), Value::List(items));
        } else if let Some(other) = values.get(nested.name).cloned() {
            values.insert(nested.name.to_string(), other);
        }
    }
    Value::Object(values)
}

/// An empty map, list or string reads as unset: APIs answer "no labels" or "no
/// description" by leaving the field out, so `labels = {}` or `description = ""`
/// in a spec must not differ from it on every plan.
fn empty_as_null(value: Value) -> Value {
    match &value {
        Value::String(text) if text.is_empty() => Value::Null,
        Value::Map(m) | Value::Object(m) if m.is_empty() => Value::Null,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) if items.is_empty() => {
            Value::Null
        }
        _ => value,
    }
}

/// Compares configured attributes with prior values; returns whether anything
/// differs and records the paths of differing attributes that force replacement.
fn compare_block(
    block: &BlockSchema,
    config: &BTreeMap<String, Value>,
    prior: &BTreeMap<String, Value>,
    path: &mut Vec<String>,
    replace_paths: &mut Vec<Vec<String>>,
) -> bool {
    let mut changed = false;
    for attr in block
        .attrs
        .iter()
        .filter(|a| a.presence != Presence::Computed)
    {
        let c = config.get(attr.name).unwrap_or(&Value::Null);
        let p = prior.get(attr.name).unwrap_or(&Value::Null);
        if c.contains_unknown()
            || !values_equal(
                &empty_as_null(c.clone().unmark_deep().0),
                &empty_as_null(p.clone().unmark_deep().0),
            )
        {
            changed = true;
            if attr.force_new {
                let mut p = path.clone();
                p.push(attr.name.to_string());
                replace_paths.push(p);
            }
        }
    }
    for nested in block.blocks {
        let c = config.get(nested.name).unwrap_or(&Value::Null);
        let p = prior.get(nested.name).unwrap_or(&Value::Null);
        let (Some(c_items), Some(p_items)) = (c.as_sequence(), p.as_sequence()) else {
            changed = true;
            if nested.force_new {
                let mut p = path.clone();
                p.push(nested.name.to_string());
                replace_paths.push(p);
            }
            continue;
        };
        if c_items.len() != p_items.len() {
            changed = true;
            if nested.force_new {
                let mut p = path.clone();
                p.push(nested.name.to_string());
                replace_paths.push(p);
            }
            continue;
        }
        for (i, (ci, pi)) in c_items.iter().zip(p_items).enumerate() {
            let (Some(cm), Some(pm)) = (ci.as_mapping(), pi.as_mapping()) else {
                continue;
            };
            path.push(nested.name.to_string());
            path.push(i.to_string());
            let mut inner_replace = Vec::new();
            let inner_changed = compare_block(nested.block, cm, pm, path, &mut inner_replace);
            path.truncate(path.len() - 2);
            if inner_changed {
                changed = true;
                if nested.force_new {
                    let mut p = path.clone();
                    p.push(nested.name.to_string());
                    replace_paths.push(p);
                } else {
                    replace_paths.extend(inner_replace);
                }
            }
        }
    }
    replace_paths.dedup();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    fn obj(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn project_config(name: &str, id: &str) -> BTreeMap<String, Value> {
        obj(&[
            ("project_id", Value::string(id)),
            ("name", Value::string(name)),
            ("org_id", Value::string("1")),
            ("folder_id", Value::Null),
            ("billing_account", Value::Null),
            ("labels", Value::Null),
            ("deletion_policy", Value::string("PREVENT")),
        ])
    }

    fn check(
        config: BTreeMap<String, Value>,
        prior: Option<BTreeMap<String, Value>>,
        action: ChangeAction,
        replace: &[&str],
    ) {
        let schema = schema::resource("google_project").expect("known type");
        let d = diff(schema, config, prior.as_ref(), &Lifecycle::default());
        assert_eq!(d.action, action);
        let replace: Vec<Vec<String>> = replace.iter().map(|p| vec![p.to_string()]).collect();
        assert_eq!(d.replace_paths, replace);
    }

    fn stored(name: &str, id: &str) -> BTreeMap<String, Value> {
        let mut p = project_config(name, id);
        p.insert("number".to_string(), Value::string("123"));
        p.insert("id".to_string(), Value::string(format!("projects/{id}")));
        p
    }

    #[test]
    fn actions_follow_the_schema() {
        check(
            project_config("Pay", "acme-pay"),
            None,
            ChangeAction::Create,
            &[],
        );
        check(
            project_config("Pay", "acme-pay"),
            Some(stored("Pay", "acme-pay")),
            ChangeAction::NoOp,
            &[],
        );
        check(
            project_config("Payments", "acme-pay"),
            Some(stored("Pay", "acme-pay")),
            ChangeAction::Update,
            &[],
        );
        check(
            project_config("Pay", "acme-pay2"),
            Some(stored("Pay", "acme-pay")),
            ChangeAction::Replace,
            &["project_id"],
        );
    }

    #[test]
    fn empty_labels_match_labels_the_api_leaves_out() {
        let mut config = project_config("Pay", "acme-pay");
        config.insert("labels".to_string(), Value::Object(BTreeMap::new()));
        config.insert("folder_id".to_string(), Value::string(""));
        check(
            config.clone(),
            Some(stored("Pay", "acme-pay")),
            ChangeAction::NoOp,
            &[],
        );
        config.insert(
            "labels".to_string(),
            Value::Object(obj(&[("team", Value::string("pay"))])),
        );
        check(
            config,
            Some(stored("Pay", "acme-pay")),
            ChangeAction::Update,
            &[],
        );
    }

    #[test]
    fn updates_keep_computed_values_and_creates_do_not() {
        let schema = schema::resource("google_project").expect("known type");
        let d = diff(
            schema,
            project_config("Payments", "acme-pay"),
            Some(&stored("Pay", "acme-pay")),
            &Lifecycle::default(),
        );
        assert_eq!(d.after.get_attr("number"), Some(&Value::string("123")));
        let d = diff(
            schema,
            project_config("Pay", "acme-pay"),
            None,
            &Lifecycle::default(),
        );
        assert_eq!(d.after.get_attr("number"), Some(&Value::Unknown));
        assert_eq!(
            d.after.get_attr("id"),
            Some(&Value::string("projects/acme-pay"))
        );
    }

    #[test]
    fn ignored_changes_are_not_changes() {
        let schema = schema::resource("google_project").expect("known type");
        let lifecycle = Lifecycle {
            ignore_changes: vec![vec!["name".to_string()]],
            ..Lifecycle::default()
        };
        let d = diff(
            schema,
            project_config("Other", "acme-pay"),
            Some(&stored("Pay", "acme-pay")),
            &lifecycle,
        );
        assert_eq!(d.action, ChangeAction::NoOp);
    }

    fn spanner_db(ddl: &[&str], deletion_protection: bool) -> BTreeMap<String, Value> {
        obj(&[
            ("project", Value::string("p")),
            ("instance", Value::string("i")),
            ("name", Value::string("db")),
            (
                "ddl",
                Value::List(ddl.iter().map(|s| Value::string(*s)).collect()),
            ),
            ("database_dialect", Value::Null),
            ("version_retention_period", Value::Null),
            ("deletion_protection", Value::Bool(deletion_protection)),
        ])
    }

    #[test]
    fn spanner_ddl_is_append_only() {
        let schema = schema::resource("google_spanner_database").expect("known type");
        let prior = spanner_db(&["CREATE TABLE A (x INT64) PRIMARY KEY (x)"], true);
        let appended = spanner_db(
            &[
                "CREATE TABLE A (x INT64) PRIMARY KEY (x)",
                "CREATE INDEX AX ON A (x)",
            ],
            true,
        );
        let d = diff(schema, appended, Some(&prior), &Lifecycle::default());
        assert_eq!((d.action, d.refused), (ChangeAction::Update, None));
        let edited = spanner_db(&["CREATE TABLE A (y INT64) PRIMARY KEY (y)"], true);
        let d = diff(schema, edited, Some(&prior), &Lifecycle::default());
        assert!(d.refused.is_some_and(|r| r.contains("can only append")));
        let unprotected = spanner_db(&["CREATE TABLE A (y INT64) PRIMARY KEY (y)"], false);
        let d = diff(schema, unprotected, Some(&prior), &Lifecycle::default());
        assert_eq!(
            (d.action, d.replace_paths),
            (ChangeAction::Replace, vec![vec!["ddl".to_string()]])
        );
    }
}
