//! Plans in Terraform's machine-readable plan format (`terraform show -json`,
//! format version 1.2), so that tools written for Terraform plans (OPA and
//! conftest policies on `resource_changes[].change.after`, cost estimators)
//! read yagura's.
//!
//! Two departures from Terraform, both forced by what yagura is:
//!
//! - A yagura plan covers several instances (`payment/production`,
//!   `payment/staging`), and two instances hold resources at the same address.
//!   Each entry of `resource_changes` keeps Terraform's `address` (the address
//!   inside its instance) and gains a yagura field, `"instance":
//!   "payment/production"`, so that the pair is unique. In `planned_values`,
//!   each instance is one child module of the root module, addressed
//!   `module.instance["payment/production"]`, as if the fleet were a root
//!   module calling one module with `for_each` over the instances; resources
//!   there carry their full address under that module.
//! - Secrets never appear. Terraform writes sensitive values in clear and
//!   marks them in `*_sensitive`; yagura writes `null` in their place and marks
//!   them the same way.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::marked_values;
use crate::addr::{InstanceAddr, InstanceKey, ModulePath, ResourceAddr};
use crate::config::ResourceMode;
use crate::lang::Value;
use crate::plan::{ActionReason, ChangeAction, Plan, PlannedChange};

/// The version of Terraform's JSON plan format this renderer writes.
const FORMAT_VERSION: &str = "1.2";

/// Returns the plan in Terraform's JSON plan representation.
pub fn plan(plan: &Plan) -> Json {
    let mut resource_changes = Vec::new();
    let mut instance_modules = Vec::new();
    for instance in &plan.instances {
        let mut module = ModuleTree::default();
        for change in &instance.changes {
            resource_changes.push(resource_change(&instance.instance, change));
            if let Some(resource) = planned_resource(&instance.instance, change) {
                module.insert(&change.addr.module.0, resource);
            }
        }
        instance_modules.push(module.to_json(instance_module_address(&instance.instance)));
    }
    let mut root_module = Map::new();
    if !instance_modules.is_empty() {
        root_module.insert("child_modules".into(), Json::Array(instance_modules));
    }
    json!({
        "format_version": FORMAT_VERSION,
        "terraform_version": concat!("yagura ", env!("CARGO_PKG_VERSION")),
        "planned_values": { "root_module": root_module },
        "resource_changes": resource_changes,
        "applyable": !plan.counts().is_empty(),
        "complete": true,
        "errored": false,
    })
}

/// Writes the same document as `plan`, one resource at a time, so that a plan of
/// tens of thousands of resources never exists as one JSON tree in memory.
pub fn write_plan(plan: &Plan, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // Keys in the order serde_json's sorted maps print them, so both outputs are identical.
    write!(
        out,
        "{{\"applyable\":{},\"complete\":true,\"errored\":false",
        !plan.counts().is_empty()
    )?;
    write!(
        out,
        ",\"format_version\":{}",
        Json::String(FORMAT_VERSION.to_string())
    )?;
    out.write_all(b",\"planned_values\":{\"root_module\":{")?;
    if !plan.instances.is_empty() {
        out.write_all(b"\"child_modules\":[")?;
        for (i, instance) in plan.instances.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let mut module = ModuleTree::default();
            for change in &instance.changes {
                if let Some(resource) = planned_resource(&instance.instance, change) {
                    module.insert(&change.addr.module.0, resource);
                }
            }
            serde_json::to_writer(
                &mut *out,
                &module.to_json(instance_module_address(&instance.instance)),
            )?;
        }
        out.write_all(b"]")?;
    }
    out.write_all(b"}},\"resource_changes\":[")?;
    let mut first = true;
    for instance in &plan.instances {
        for change in &instance.changes {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            serde_json::to_writer(&mut *out, &resource_change(&instance.instance, change))?;
        }
    }
    write!(
        out,
        "],\"terraform_version\":{}}}",
        Json::String(concat!("yagura ", env!("CARGO_PKG_VERSION")).to_string())
    )
}

/// `module.instance["payment/production"]`: the module an instance stands for in `planned_values`.
fn instance_module_address(instance: &InstanceAddr) -> String {
    format!("module.instance[{}]", Json::String(instance.to_string()))
}

/// Returns Terraform's provider address for a resource type, from its prefix.
fn provider_name(type_name: &str) -> String {
    let provider = type_name.split('_').next().unwrap_or(type_name);
    format!("registry.terraform.io/hashicorp/{provider}")
}

fn resource_change(instance: &InstanceAddr, change: &PlannedChange) -> Json {
    let (before, after) = marked_values(change);
    let mut entry = resource_identity(&change.addr);
    entry.insert("address".into(), change.addr.to_string().into());
    // A yagura extension: the instance the change belongs to. Together with
    // `address` it identifies the change; see the module documentation.
    entry.insert("instance".into(), instance.to_string().into());
    if let Some(previous) = &change.previous_address {
        entry.insert("previous_address".into(), previous.clone().into());
    }
    // Terraform names a deposed object by a key; yagura keeps at most one per address.
    if change.reason == Some(ActionReason::Deposed) {
        entry.insert("deposed".into(), "00000001".into());
    }
    if let Some(id) = &change.importing {
        entry.insert("importing".into(), serde_json::json!({ "id": id }));
    }
    if !change.addr.module.is_root() {
        entry.insert(
            "module_address".into(),
            change.addr.module.to_string().into(),
        );
    }
    let mut body = Map::new();
    let actions = change
        .action
        .terraform_actions(change.create_before_destroy);
    body.insert("actions".into(), json!(actions));
    body.insert("before".into(), before.as_ref().map_or(Json::Null, values));
    body.insert("after".into(), after.as_ref().map_or(Json::Null, values));
    body.insert(
        "after_unknown".into(),
        after.as_ref().map_or(Json::Bool(false), unknown_as_bool),
    );
    body.insert(
        "before_sensitive".into(),
        before.as_ref().map_or(Json::Bool(false), sensitive_as_bool),
    );
    body.insert(
        "after_sensitive".into(),
        after.as_ref().map_or(Json::Bool(false), sensitive_as_bool),
    );
    if !change.replace_paths.is_empty() {
        let paths = change
            .replace_paths
            .iter()
            .map(|path| replace_path(path, before.as_ref().or(after.as_ref())))
            .collect();
        body.insert("replace_paths".into(), Json::Array(paths));
    }
    entry.insert("change".into(), Json::Object(body));
    if let Some(reason) = action_reason(change) {
        entry.insert("action_reason".into(), reason.into());
    }
    Json::Object(entry)
}

/// The entry of a resource in `planned_values`, or `None` when it will not exist.
fn planned_resource(instance: &InstanceAddr, change: &PlannedChange) -> Option<Json> {
    if change.action == ChangeAction::Delete {
        return None;
    }
    let (_, after) = marked_values(change);
    let after = after?;
    let mut entry = resource_identity(&change.addr);
    entry.insert(
        "address".into(),
        format!("{}.{}", instance_module_address(instance), change.addr).into(),
    );
    entry.insert("schema_version".into(), 0.into());
    entry.insert("values".into(), values(&after));
    entry.insert("sensitive_values".into(), sensitive_as_bool(&after));
    Some(Json::Object(entry))
}

/// The fields a resource change and a planned resource share: mode, type, name, index, provider.
fn resource_identity(addr: &ResourceAddr) -> Map<String, Json> {
    let mut entry = Map::new();
    let mode = match addr.mode {
        ResourceMode::Managed => "managed",
        ResourceMode::Data => "data",
    };
    entry.insert("mode".into(), mode.into());
    entry.insert("type".into(), addr.type_name.clone().into());
    entry.insert("name".into(), addr.name.clone().into());
    match &addr.key {
        InstanceKey::None => {}
        InstanceKey::Int(index) => {
            entry.insert("index".into(), (*index).into());
        }
        InstanceKey::Str(key) => {
            entry.insert("index".into(), key.clone().into());
        }
    }
    entry.insert(
        "provider_name".into(),
        provider_name(&addr.type_name).into(),
    );
    entry
}

/// Terraform's `action_reason` for the change, when Terraform would give one.
fn action_reason(change: &PlannedChange) -> Option<&'static str> {
    match (change.action, &change.reason, &change.addr.key) {
        (ChangeAction::Replace, _, _) => Some("replace_because_cannot_update"),
        (ChangeAction::Delete, Some(ActionReason::NoLongerInConfig), _) => {
            Some("delete_because_no_resource_config")
        }
        (ChangeAction::Delete, Some(ActionReason::KeyNoLongerInConfig), InstanceKey::Int(_)) => {
            Some("delete_because_count_index")
        }
        (ChangeAction::Delete, Some(ActionReason::KeyNoLongerInConfig), InstanceKey::Str(_)) => {
            Some("delete_because_each_key")
        }
        (ChangeAction::Delete, Some(ActionReason::KeyNoLongerInConfig), InstanceKey::None) => {
            Some("delete_because_wrong_repetition")
        }
        _ => None,
    }
}

/// A replace path with list indices as numbers and everything else as strings, as
/// Terraform writes them; `value` tells which steps index a list.
fn replace_path(path: &[String], value: Option<&Value>) -> Json {
    let mut current = value;
    let mut steps = Vec::new();
    for step in path {
        let (json_step, next) = match current.map(Value::unmarked) {
            Some(Value::List(items) | Value::Tuple(items) | Value::Set(items)) => {
                match step.parse::<usize>() {
                    Ok(index) => (Json::from(index), items.get(index)),
                    Err(_) => (Json::from(step.clone()), None),
                }
            }
            Some(Value::Object(entries) | Value::Map(entries)) => {
                (Json::from(step.clone()), entries.get(step))
            }
            _ => (Json::from(step.clone()), None),
        };
        steps.push(json_step);
        current = next;
    }
    Json::Array(steps)
}

/// A value as JSON with secrets replaced by `null`, unknown attributes left out
/// and unknown list elements `null`, as Terraform writes `before` and `after`.
fn values(value: &Value) -> Json {
    match value {
        Value::Sensitive(_) | Value::Unknown | Value::Null => Json::Null,
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            Json::Array(items.iter().map(values).collect())
        }
        Value::Object(entries) | Value::Map(entries) => Json::Object(
            entries
                .iter()
                .filter(|(_, entry)| !entry.is_unknown())
                .map(|(key, entry)| (key.clone(), values(entry)))
                .collect(),
        ),
        scalar => scalar.to_json(),
    }
}

/// `after_unknown`: the value's shape with `true` where it is unknown, as
/// Terraform's `unknownAsBool` builds it (known leaves of objects left out).
fn unknown_as_bool(value: &Value) -> Json {
    as_bool(value, &|value| value.is_unknown())
}

/// `*_sensitive`: the value's shape with `true` where it is sensitive.
fn sensitive_as_bool(value: &Value) -> Json {
    as_bool(value, &Value::is_sensitive)
}

fn as_bool(value: &Value, is_marked: &dyn Fn(&Value) -> bool) -> Json {
    if is_marked(value) {
        return Json::Bool(true);
    }
    match value.unmarked() {
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            Json::Array(items.iter().map(|item| as_bool(item, is_marked)).collect())
        }
        Value::Object(entries) | Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(key, entry)| (key.clone(), as_bool(entry, is_marked)))
                .filter(|(_, marks)| *marks != Json::Bool(false))
                .collect(),
        ),
        _ => Json::Bool(false),
    }
}

/// The resources of one instance, nested by module path as Terraform nests `child_modules`.
#[derive(Default)]
struct ModuleTree {
    resources: Vec<Json>,
    children: BTreeMap<ModulePath, ModuleTree>,
}

impl ModuleTree {
    fn insert(&mut self, steps: &[crate::addr::ModuleStep], resource: Json) {
        let mut node = self;
        for depth in 1..=steps.len() {
            let path = ModulePath(steps[..depth].to_vec());
            node = node.children.entry(path).or_default();
        }
        node.resources.push(resource);
    }

    fn to_json(&self, address: String) -> Json {
        let mut module = Map::new();
        if !self.resources.is_empty() {
            module.insert("resources".into(), Json::Array(self.resources.clone()));
        }
        let prefix = address.clone();
        module.insert("address".into(), address.into());
        if !self.children.is_empty() {
            let children = self
                .children
                .iter()
                .map(|(path, child)| child.to_json(format!("{prefix}.{path}")))
                .collect();
            module.insert("child_modules".into(), Json::Array(children));
        }
        Json::Object(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests_support::{self as support, only};

    fn check(plan: &Plan) -> Json {
        let rendered = super::plan(plan);
        let text = rendered.to_string();
        for secret in ["hunter2", "correct horse", "old-secret", "new-secret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        rendered
    }

    /// Snapshots the plan with the crate version redacted, so that a release
    /// does not touch every snapshot.
    fn check_snapshot(name: &str, plan: &Plan) {
        insta::assert_json_snapshot!(name, check(plan), { ".terraform_version" => "[version]" });
    }

    #[test]
    fn create() {
        check_snapshot("create", &only(support::create()));
    }

    #[test]
    fn update() {
        check_snapshot("update", &only(support::update()));
    }

    #[test]
    fn replace() {
        check_snapshot("replace", &only(support::replace()));
    }

    #[test]
    fn delete() {
        check_snapshot("delete", &only(support::delete()));
    }

    #[test]
    fn no_changes() {
        check_snapshot("no_changes", &only(support::unchanged()));
    }

    #[test]
    fn changes_are_unique_by_instance_and_address() {
        let rendered = check(&support::fleet());
        let changes = rendered["resource_changes"]
            .as_array()
            .expect("resource_changes is an array");
        let mut keys: Vec<(String, String)> = changes
            .iter()
            .map(|change| {
                (
                    change["instance"].to_string(),
                    change["address"].to_string(),
                )
            })
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }

    #[test]
    fn unknowns_mirror_the_value() {
        let value = Value::Object(
            [
                ("id".to_string(), Value::Unknown),
                ("name".to_string(), Value::string("x")),
                (
                    "list".to_string(),
                    Value::List(vec![Value::string("a"), Value::Unknown]),
                ),
                ("password".to_string(), Value::Unknown.sensitive()),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            unknown_as_bool(&value),
            json!({ "id": true, "list": [false, true], "password": true })
        );
        assert_eq!(values(&value), json!({ "name": "x", "list": ["a", null] }));
        assert_eq!(
            sensitive_as_bool(&value),
            json!({ "list": [false, false], "password": true })
        );
    }

    #[test]
    fn providers_come_from_the_type_prefix() {
        assert_eq!(
            provider_name("google_project"),
            "registry.terraform.io/hashicorp/google"
        );
        assert_eq!(
            provider_name("kubernetes_namespace_v1"),
            "registry.terraform.io/hashicorp/kubernetes"
        );
        assert_eq!(
            provider_name("random_id"),
            "registry.terraform.io/hashicorp/random"
        );
    }

    #[test]
    fn replace_paths_index_lists_with_numbers() {
        let value = Value::Object(
            [(
                "settings".to_string(),
                Value::List(vec![Value::Object(BTreeMap::new())]),
            )]
            .into_iter()
            .collect(),
        );
        let path = ["settings".to_string(), "0".to_string(), "tier".to_string()];
        assert_eq!(
            replace_path(&path, Some(&value)),
            json!(["settings", 0, "tier"])
        );
    }

    #[test]
    fn streaming_writes_the_same_document() {
        let plan = crate::render::tests_support::fleet();
        let mut out = Vec::new();
        write_plan(&plan, &mut out).expect("writes to memory");
        let streamed: Json = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(streamed, super::plan(&plan));
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            super::plan(&plan).to_string()
        );
    }
}
