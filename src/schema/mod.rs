//! One schema per resource type: attribute types, required, optional,
//! computed, sensitive, forces-replacement, defaults and value checks.
//!
//! Invariant: schemas are static data. Validation and diffing read them; no
//! code path adds a type at run time.

mod google;
mod kubernetes;
mod random;

use std::collections::BTreeMap;

use crate::lang::Value;

/// The API a resource type is managed through (for per-API concurrency and endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Local,
    ResourceManager,
    ServiceUsage,
    Iam,
    Spanner,
    SqlAdmin,
    SecretManager,
    Dns,
    Kubernetes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    String,
    Number,
    Bool,
    StringList,
    StringMap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Set by the provider; the configuration may not set it.
    Computed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    Bool(bool),
    Str(&'static str),
}

impl Default {
    pub fn value(self) -> Value {
        match self {
            Default::Bool(b) => Value::Bool(b),
            Default::Str(s) => Value::string(s),
        }
    }
}

/// Checks a known string value; the error is a short phrase.
pub type ValueCheck = fn(&str) -> Result<(), String>;

/// One attribute of a resource or nested block.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub presence: Presence,
    pub force_new: bool,
    pub sensitive: bool,
    pub default: Option<Default>,
    /// Checks a known string value (names, ids); the error is a short phrase.
    pub check: Option<ValueCheck>,
}

impl Attr {
    const fn new(name: &'static str, ty: AttrType, presence: Presence) -> Attr {
        Attr {
            name,
            ty,
            presence,
            force_new: false,
            sensitive: false,
            default: None,
            check: None,
        }
    }
    const fn force_new(mut self) -> Attr {
        self.force_new = true;
        self
    }
    const fn sensitive(mut self) -> Attr {
        self.sensitive = true;
        self
    }
    const fn default(mut self, default: Default) -> Attr {
        self.default = Some(default);
        self
    }
    const fn check(mut self, check: ValueCheck) -> Attr {
        self.check = Some(check);
        self
    }
}

const fn req(name: &'static str, ty: AttrType) -> Attr {
    Attr::new(name, ty, Presence::Required)
}
const fn opt(name: &'static str, ty: AttrType) -> Attr {
    Attr::new(name, ty, Presence::Optional)
}
const fn computed(name: &'static str, ty: AttrType) -> Attr {
    Attr::new(name, ty, Presence::Computed)
}

/// A nested block type (`settings`, `metadata`, `rule`).
#[derive(Clone, Copy, Debug)]
pub struct NestedBlock {
    pub name: &'static str,
    pub min: usize,
    /// `None` for any number.
    pub max: Option<usize>,
    pub force_new: bool,
    pub block: &'static BlockSchema,
}

#[derive(Clone, Copy, Debug)]
pub struct BlockSchema {
    pub attrs: &'static [Attr],
    pub blocks: &'static [NestedBlock],
}

impl BlockSchema {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// Whether a planned value of this block has an unknown in what the
    /// configuration sets, which only a plan against newer state can resolve;
    /// unknowns in computed attributes are the provider's to fill.
    pub fn has_unknown_settings(&self, value: &Value) -> bool {
        if value.is_unknown() {
            return true;
        }
        let settings = self
            .attrs
            .iter()
            .filter(|a| a.presence != Presence::Computed)
            .filter_map(|a| value.get_attr(a.name))
            .any(Value::contains_unknown);
        settings
            || self.blocks.iter().any(|nested| {
                value
                    .get_attr(nested.name)
                    .is_some_and(|blocks| match blocks.as_sequence() {
                        Some(items) => items.iter().any(|b| nested.block.has_unknown_settings(b)),
                        None => blocks.is_unknown(),
                    })
            })
    }

    /// Names a configuration may set: non-computed attributes.
    pub fn settable(&self) -> Vec<&'static str> {
        self.attrs
            .iter()
            .filter(|a| a.presence != Presence::Computed)
            .map(|a| a.name)
            .collect()
    }
}

/// Values derived at plan time from the configuration (an email, an id).
pub type PlanTimeValues = fn(&BTreeMap<String, Value>) -> Vec<(&'static str, Value)>;

/// Everything yagura knows about one resource type.
#[derive(Clone, Copy, Debug)]
pub struct ResourceSchema {
    pub type_name: &'static str,
    pub api: Api,
    pub block: BlockSchema,
    /// Groups of attributes of which at most one may be set; `exactly` when one must be.
    pub one_of: &'static [(&'static [&'static str], OneOf)],
    /// `prevent_destroy` is implied in protected environments.
    pub protected_in_protected_envs: bool,
    pub plan_time: Option<PlanTimeValues>,
    /// A rule about in-place changes the attribute flags cannot say (DDL is append-only,
    /// a disk only grows), checked when a stored resource would be updated.
    pub change_rule: Option<ChangeRule>,
}

/// Judges an update from the stored values to the configured ones.
pub type ChangeRule =
    fn(prior: &BTreeMap<String, Value>, config: &BTreeMap<String, Value>) -> ChangeVerdict;

/// What a `ChangeRule` decides.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeVerdict {
    /// The update may proceed in place.
    InPlace,
    /// The change can only be made by replacing the resource; the path names the attribute.
    Replace(&'static str),
    /// The change is refused, with the reason.
    Refuse(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneOf {
    AtMostOne,
    ExactlyOne,
}

static ALL: &[&ResourceSchema] = &[
    &random::RANDOM_ID,
    &random::RANDOM_PASSWORD,
    &google::PROJECT,
    &google::PROJECT_SERVICE,
    &google::SERVICE_ACCOUNT,
    &google::PROJECT_IAM_MEMBER,
    &google::SERVICE_ACCOUNT_IAM_MEMBER,
    &google::SPANNER_INSTANCE,
    &google::SPANNER_DATABASE,
    &google::SQL_DATABASE_INSTANCE,
    &google::SQL_DATABASE,
    &google::SQL_USER,
    &google::SECRET,
    &google::SECRET_VERSION,
    &google::DNS_RECORD_SET,
    &kubernetes::NAMESPACE,
    &kubernetes::SERVICE_ACCOUNT,
    &kubernetes::ROLE,
    &kubernetes::ROLE_BINDING,
    &kubernetes::RESOURCE_QUOTA,
    &kubernetes::LIMIT_RANGE,
];

/// Looks up the schema of a resource type.
pub fn resource(type_name: &str) -> Option<&'static ResourceSchema> {
    ALL.iter().copied().find(|s| s.type_name == type_name)
}

/// Every supported resource type, in a stable order.
pub fn all() -> &'static [&'static ResourceSchema] {
    ALL
}

/// Returns the names of all supported types.
/// Whether any type has a sensitive attribute (at any depth) of this name.
pub fn is_sensitive_name(name: &str) -> bool {
    fn in_block(block: &BlockSchema, name: &str) -> bool {
        block.attrs.iter().any(|a| a.sensitive && a.name == name)
            || block.blocks.iter().any(|b| in_block(b.block, name))
    }
    ALL.iter().any(|s| in_block(&s.block, name))
}

pub fn type_names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|s| s.type_name)
}

/// Checks a GCP project id: 6–30 characters, `[a-z][a-z0-9-]*[a-z0-9]`.
pub fn check_project_id(id: &str) -> Result<(), String> {
    let ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a valid project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen (it has {} characters)",
            id.chars().count()
        ))
    }
}

/// Checks a service account id: 6–30 characters, `[a-z]([-a-z0-9]*[a-z0-9])`.
pub fn check_account_id(id: &str) -> Result<(), String> {
    let ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} is not a valid service account id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter (it has {} characters)",
            id.chars().count()
        ))
    }
}

/// Checks a DNS-1123 label (Kubernetes namespace names).
pub fn check_dns_label(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
        ))
    }
}

/// Checks a DNS-1123 subdomain (most Kubernetes object names).
pub fn check_dns_subdomain(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| check_dns_label(label).is_ok());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_of_the_reference_is_known() {
        for name in [
            "random_id",
            "random_password",
            "google_project",
            "google_project_service",
            "google_service_account",
            "google_project_iam_member",
            "google_service_account_iam_member",
            "google_spanner_instance",
            "google_spanner_database",
            "google_sql_database_instance",
            "google_sql_database",
            "google_sql_user",
            "google_secret_manager_secret",
            "google_secret_manager_secret_version",
            "google_dns_record_set",
            "kubernetes_namespace_v1",
            "kubernetes_service_account_v1",
            "kubernetes_role_v1",
            "kubernetes_role_binding_v1",
            "kubernetes_resource_quota_v1",
            "kubernetes_limit_range_v1",
        ] {
            assert!(resource(name).is_some(), "{name}");
        }
        assert_eq!(all().len(), 21);
    }

    #[test]
    fn only_unknown_settings_call_for_a_new_plan() {
        let object = |pairs: &[(&str, Value)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        let account = resource("google_service_account").expect("a schema");
        // The email and unique id are the provider's to fill.
        let created = object(&[
            ("account_id", Value::string("app")),
            ("project", Value::string("p-1")),
            ("unique_id", Value::Unknown),
        ]);
        assert!(!account.block.has_unknown_settings(&created));
        let waiting = object(&[
            ("account_id", Value::string("app")),
            ("project", Value::Unknown),
        ]);
        assert!(account.block.has_unknown_settings(&waiting));

        // Settings in nested blocks count; computed ones there do not.
        let namespace = resource("kubernetes_namespace_v1").expect("a schema");
        let metadata = |name: Value| {
            object(&[(
                "metadata",
                Value::List(vec![object(&[("name", name), ("uid", Value::Unknown)])]),
            )])
        };
        assert!(
            !namespace
                .block
                .has_unknown_settings(&metadata(Value::string("ns")))
        );
        assert!(
            namespace
                .block
                .has_unknown_settings(&metadata(Value::Unknown))
        );
        assert!(namespace.block.has_unknown_settings(&Value::Unknown));
    }

    #[test]
    fn id_checks_follow_gcp_rules() {
        assert!(check_project_id("acme-payment-prod").is_ok());
        assert!(check_project_id("short").is_err());
        assert!(check_project_id("ends-with-").is_err());
        assert!(check_project_id("a-project-id-that-is-far-too-long-1").is_err());
        assert!(check_account_id("payment-sa").is_ok());
        assert!(check_dns_label("Payments").is_err());
        assert!(check_dns_subdomain("a.b-c").is_ok());
    }
}
