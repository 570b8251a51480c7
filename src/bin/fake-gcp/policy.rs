//! IAM allow policies, shared by projects (CRM) and service accounts (IAM).
//!
//! A policy is read and written whole, guarded by its etag: a write carrying an etag
//! other than the current one is refused with 409 ABORTED, which is what makes the
//! read-modify-write loop of §5 of the API notes necessary. The update mask decides
//! which fields a write replaces (`bindings,etag` by default, so audit configs are
//! kept unless named). A policy never written reads as Google's empty one, etag `ACAB`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::request::{etag, mask_paths};
use crate::world::World;

/// The etag Google gives a resource whose policy was never written.
const EMPTY_POLICY_ETAG: &str = "ACAB";

/// Which kind of resource a policy is attached to; the rules differ slightly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyTarget {
    Project,
    ServiceAccount,
}

/// `google.iam.v1.Policy` as a request carries it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default, deserialize_with = "int32")]
    pub version: i64,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    #[serde(default)]
    pub audit_configs: Vec<Value>,
    #[serde(default)]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Binding {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Expr>,
}

/// `google.type.Expr`, the condition of a binding.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Expr {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
}

/// The body of `:setIamPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetIamPolicyRequest {
    pub policy: Option<Policy>,
    pub update_mask: Option<String>,
}

/// The body of CRM's `:getIamPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetIamPolicyRequest {
    pub options: Option<GetPolicyOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPolicyOptions {
    #[serde(default, deserialize_with = "optional_int32")]
    pub requested_policy_version: Option<i64>,
}

/// Reads an int32 field as Google's JSON parser does: a number or a string of
/// digits (`3` or `"3"`), `null` meaning unset.
fn optional_int32<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int32 {
        Number(i32),
        Text(String),
    }
    match Option::<Int32>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Int32::Number(number)) => Ok(Some(i64::from(number))),
        Some(Int32::Text(text)) => text
            .parse::<i32>()
            .map(|number| Some(i64::from(number)))
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an int32"))),
    }
}

fn int32<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    optional_int32(deserializer).map(Option::unwrap_or_default)
}

impl GetIamPolicyRequest {
    pub fn requested_version(&self) -> i64 {
        self.options
            .as_ref()
            .and_then(|options| options.requested_policy_version)
            .unwrap_or(0)
    }
}

struct StoredPolicy {
    bindings: Vec<Binding>,
    audit_configs: Vec<Value>,
    revision: u64,
}

/// Every policy written so far, keyed by resource (`projects/N`,
/// `projects/P/serviceAccounts/UNIQUE_ID`).
#[derive(Default)]
pub struct Policies {
    by_resource: HashMap<String, StoredPolicy>,
}

impl Policies {
    /// Renders the policy of `resource` as `getIamPolicy` answers.
    pub fn get(&self, resource: &str, requested_version: i64) -> Result<Value, ApiError> {
        check_version("options.requestedPolicyVersion", requested_version)?;
        Ok(match self.by_resource.get(resource) {
            Some(stored) => render(resource, stored, requested_version),
            None => json!({"etag": EMPTY_POLICY_ETAG}),
        })
    }

    /// Adds `member` to `role` without a condition, as Google does for a project's
    /// creator.
    pub fn grant(&mut self, resource: &str, role: &str, member: &str) {
        let stored = self
            .by_resource
            .entry(resource.to_owned())
            .or_insert_with(|| StoredPolicy {
                bindings: Vec::new(),
                audit_configs: Vec::new(),
                revision: 0,
            });
        stored.bindings.push(Binding {
            role: role.to_owned(),
            members: vec![member.to_owned()],
            condition: None,
        });
        stored.bindings = normalize(std::mem::take(&mut stored.bindings));
        stored.revision += 1;
    }

    /// Forgets the policy of a deleted resource.
    pub fn remove(&mut self, resource: &str) {
        self.by_resource.remove(resource);
    }

    /// Replaces `from` by `to` wherever it is a member, compared case-insensitively,
    /// as Google rewrites a deleted service account into a `deleted:` principal.
    pub fn rename_member(&mut self, from: &str, to: &str) {
        for stored in self.by_resource.values_mut() {
            let mut changed = false;
            for member in stored
                .bindings
                .iter_mut()
                .flat_map(|binding| binding.members.iter_mut())
            {
                if member.eq_ignore_ascii_case(from) {
                    *member = to.to_owned();
                    changed = true;
                }
            }
            if changed {
                stored.revision += 1;
            }
        }
    }

    fn current_etag(&self, resource: &str) -> String {
        match self.by_resource.get(resource) {
            Some(stored) => etag(resource, stored.revision),
            None => EMPTY_POLICY_ETAG.to_owned(),
        }
    }
}

fn check_version(field: &str, version: i64) -> Result<(), ApiError> {
    if matches!(version, 0 | 1 | 3) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("policy version {version} is not one of 0, 1 or 3"),
        ))
    }
}

/// Renders a stored policy. A reader asking for a version below 3 gets conditional
/// bindings under a `_withcond_` role, as Google hides conditions from v1 readers.
fn render(resource: &str, stored: &StoredPolicy, requested_version: i64) -> Value {
    let has_conditions = stored
        .bindings
        .iter()
        .any(|binding| binding.condition.is_some());
    let show_conditions = requested_version >= 3;
    let bindings: Vec<Binding> = stored
        .bindings
        .iter()
        .map(|binding| match &binding.condition {
            Some(condition) if !show_conditions => Binding {
                role: format!("{}_withcond_{}", binding.role, condition_hash(condition)),
                members: binding.members.clone(),
                condition: None,
            },
            _ => binding.clone(),
        })
        .collect();
    let version = if has_conditions && show_conditions {
        3
    } else {
        1
    };
    let mut json = json!({"version": version, "etag": etag(resource, stored.revision)});
    if !bindings.is_empty() {
        json["bindings"] = serde_json::to_value(&bindings).unwrap_or_default();
    }
    if !stored.audit_configs.is_empty() {
        json["auditConfigs"] = Value::Array(stored.audit_configs.clone());
    }
    json
}

fn condition_hash(condition: &Expr) -> String {
    let text = format!(
        "{}\n{}\n{}",
        condition.title, condition.description, condition.expression
    );
    Sha256::digest(text)
        .iter()
        .take(10)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Merges bindings with the same role and condition, drops duplicate members and
/// empty bindings, as Google stores them.
fn normalize(bindings: Vec<Binding>) -> Vec<Binding> {
    let mut merged: Vec<Binding> = Vec::new();
    for binding in bindings {
        let existing = merged
            .iter_mut()
            .find(|other| other.role == binding.role && other.condition == binding.condition);
        let target = match existing {
            Some(target) => target,
            None => {
                merged.push(Binding {
                    members: Vec::new(),
                    ..binding.clone()
                });
                merged.last_mut().expect("a binding was just pushed")
            }
        };
        for member in binding.members {
            if !target.members.contains(&member) {
                target.members.push(member);
            }
        }
    }
    merged.retain(|binding| !binding.members.is_empty());
    merged
}

/// Handles `:setIamPolicy` on `resource`: validates, checks the etag, writes the
/// fields the mask names, and returns the new policy.
pub fn set_iam_policy(
    world: &mut World,
    resource: &str,
    target: PolicyTarget,
    request: SetIamPolicyRequest,
) -> Result<Value, ApiError> {
    let policy = request
        .policy
        .ok_or_else(|| ApiError::missing_field("policy"))?;
    let mask = request.update_mask.as_deref().unwrap_or("bindings,etag");
    let mut replace_bindings = false;
    let mut replace_audit_configs = false;
    for path in mask_paths(mask) {
        match path {
            "bindings" => replace_bindings = true,
            "auditConfigs" | "audit_configs" => replace_audit_configs = true,
            "etag" | "version" => {}
            other => {
                return Err(ApiError::invalid_field(
                    "updateMask",
                    format!("'{other}' is not a field of Policy that can be updated"),
                ));
            }
        }
    }
    check_version("policy.version", policy.version)?;
    for binding in &policy.bindings {
        check_binding(world, binding, policy.version, target)?;
    }
    if !policy.etag.is_empty() && policy.etag != world.policies.current_etag(resource) {
        return Err(ApiError::concurrent_policy_change());
    }
    let stored = world
        .policies
        .by_resource
        .entry(resource.to_owned())
        .or_insert_with(|| StoredPolicy {
            bindings: Vec::new(),
            audit_configs: Vec::new(),
            revision: 0,
        });
    if replace_bindings {
        stored.bindings = normalize(policy.bindings);
    }
    if replace_audit_configs {
        stored.audit_configs = policy.audit_configs;
    }
    stored.revision += 1;
    Ok(render(resource, stored, policy.version))
}

fn check_binding(
    world: &World,
    binding: &Binding,
    version: i64,
    target: PolicyTarget,
) -> Result<(), ApiError> {
    let role = binding.role.as_str();
    let role_ok = role.starts_with("roles/")
        || ((role.starts_with("projects/") || role.starts_with("organizations/"))
            && role.contains("/roles/"));
    if !role_ok {
        return Err(ApiError::invalid_field(
            "policy.bindings.role",
            format!("role '{role}' is not a predefined role (roles/…) or a custom role"),
        ));
    }
    if let Some(condition) = &binding.condition {
        if version != 3 {
            return Err(ApiError::invalid_field(
                "policy.version",
                "a policy with conditional bindings must have version 3",
            ));
        }
        if condition.expression.is_empty() {
            return Err(ApiError::missing_field(
                "policy.bindings.condition.expression",
            ));
        }
    }
    for member in &binding.members {
        check_member(world, member, target)?;
    }
    Ok(())
}

const MEMBER_PREFIXES: &[&str] = &[
    "user:",
    "group:",
    "domain:",
    "serviceAccount:",
    "deleted:",
    "principal:",
    "principalSet:",
    "projectOwner:",
    "projectEditor:",
    "projectViewer:",
];

fn check_member(world: &World, member: &str, target: PolicyTarget) -> Result<(), ApiError> {
    if member == "allUsers" || member == "allAuthenticatedUsers" {
        if target == PolicyTarget::Project {
            return Err(ApiError::invalid_argument(format!(
                "Principal {member} cannot be granted a role on a project."
            )));
        }
        return Ok(());
    }
    let Some(prefix) = MEMBER_PREFIXES
        .iter()
        .find(|prefix| member.starts_with(**prefix))
    else {
        return Err(ApiError::invalid_field(
            "policy.bindings.members",
            format!(
                "'{member}' is not a valid principal (user:, group:, serviceAccount:, domain:, …)"
            ),
        ));
    };
    let identity = member.get(prefix.len()..).unwrap_or_default();
    // Workload Identity principals name a Kubernetes service account instead of an email.
    let workload_identity = *prefix == "serviceAccount:" && identity.contains(".svc.id.goog[");
    if matches!(*prefix, "user:" | "group:" | "serviceAccount:")
        && !identity.contains('@')
        && !workload_identity
    {
        return Err(ApiError::invalid_field(
            "policy.bindings.members",
            format!("'{member}' does not name an email address"),
        ));
    }
    if *prefix == "serviceAccount:"
        && !workload_identity
        && !world.service_account_usable_as_member(identity)
    {
        return Err(ApiError::invalid_argument(format!(
            "Service account {identity} does not exist."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(role: &str, members: &[&str]) -> Binding {
        Binding {
            role: role.to_owned(),
            members: members.iter().map(|member| (*member).to_owned()).collect(),
            condition: None,
        }
    }

    #[test]
    fn normalize_merges_and_drops_empty() {
        let bindings = vec![
            binding("roles/viewer", &["user:a@x.com"]),
            binding("roles/editor", &[]),
            binding("roles/viewer", &["user:a@x.com", "user:b@x.com"]),
        ];
        assert_eq!(
            normalize(bindings),
            vec![binding("roles/viewer", &["user:a@x.com", "user:b@x.com"])]
        );
    }

    #[test]
    fn versions_read_as_numbers_or_strings() {
        let request: SetIamPolicyRequest =
            serde_json::from_value(json!({"policy": {"version": "3"}})).unwrap();
        assert_eq!(request.policy.unwrap().version, 3);
        let request: GetIamPolicyRequest =
            serde_json::from_value(json!({"options": {"requestedPolicyVersion": 1}})).unwrap();
        assert_eq!(request.requested_version(), 1);
        let request: GetIamPolicyRequest =
            serde_json::from_value(json!({"options": {"requestedPolicyVersion": null}})).unwrap();
        assert_eq!(request.requested_version(), 0);
        assert!(
            serde_json::from_value::<SetIamPolicyRequest>(json!({"policy": {"version": "x"}}))
                .is_err()
        );
    }

    #[test]
    fn unwritten_policy_is_acab() {
        let policies = Policies::default();
        assert_eq!(
            policies.get("projects/1", 3).unwrap(),
            json!({"etag": "ACAB"})
        );
    }

    #[test]
    fn conditions_hidden_from_v1_readers() {
        let mut policies = Policies::default();
        policies.grant("projects/1", "roles/viewer", "user:a@x.com");
        let stored = policies.by_resource.get_mut("projects/1").unwrap();
        stored.bindings[0].condition = Some(Expr {
            expression: "request.time < timestamp('2030-01-01T00:00:00Z')".to_owned(),
            title: "until-2030".to_owned(),
            description: String::new(),
            location: String::new(),
        });
        let v1 = policies.get("projects/1", 1).unwrap();
        assert_eq!(v1["version"], 1);
        assert!(
            v1["bindings"][0]["role"]
                .as_str()
                .unwrap()
                .starts_with("roles/viewer_withcond_")
        );
        let v3 = policies.get("projects/1", 3).unwrap();
        assert_eq!(v3["version"], 3);
        assert_eq!(v3["bindings"][0]["condition"]["title"], "until-2030");
    }

    #[test]
    fn rename_member_changes_etag() {
        let mut policies = Policies::default();
        policies.grant(
            "projects/1",
            "roles/viewer",
            "serviceAccount:A@p.iam.gserviceaccount.com",
        );
        let before = policies.current_etag("projects/1");
        policies.rename_member(
            "serviceAccount:a@p.iam.gserviceaccount.com",
            "deleted:serviceAccount:a@p.iam.gserviceaccount.com?uid=1",
        );
        assert_ne!(policies.current_etag("projects/1"), before);
        let policy = policies.get("projects/1", 3).unwrap();
        assert_eq!(
            policy["bindings"][0]["members"][0],
            "deleted:serviceAccount:a@p.iam.gserviceaccount.com?uid=1"
        );
    }
}
