//! Plans and diagnostics as text: human (terminal), Markdown (PR comments) and
//! JSON (Terraform's machine-readable plan format).
//!
//! Invariant: `render` writes only to the writer or string it is handed. It never
//! prints, never reads the environment and never decides on colour by itself:
//! the caller passes a [`Style`]. Secrets never reach the output: values carrying
//! the sensitive mark, and attributes the schema declares sensitive, are shown as
//! `(sensitive value)` or `null`.

pub mod diagnostics;
pub mod human;
pub mod json;
pub mod markdown;
pub mod progress;

use crate::lang::Value;
use crate::schema::{self, BlockSchema};

/// Whether rendered text may contain ANSI escape codes.
///
/// The caller decides: `Styled` on a terminal unless `NO_COLOR` is set, `Plain`
/// everywhere else (pipes, files, CI logs, PR comments). `Plain` output never
/// contains an escape code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Styled,
}

/// Returns the schema of a resource type's top-level block, if yagura knows the type.
fn resource_block(type_name: &str) -> Option<&'static BlockSchema> {
    schema::resource(type_name).map(|resource| &resource.block)
}

/// Returns the value with the sensitive mark added to every attribute the schema
/// declares sensitive.
///
/// The planner already marks them; doing it again here means that a value built
/// without the marks (an imported state, a future planner bug) still cannot leak a
/// password into a PR comment.
fn mark_schema_sensitive(block: Option<&BlockSchema>, value: &Value) -> Value {
    let Some(block) = block else {
        return value.clone();
    };
    match value {
        Value::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(name, attr_value)| {
                    let marked = if block.attr(name).is_some_and(|attr| attr.sensitive) {
                        attr_value.clone().sensitive()
                    } else if let Some(nested) = block.block(name) {
                        mark_nested_blocks(nested.block, attr_value)
                    } else {
                        attr_value.clone()
                    };
                    (name.clone(), marked)
                })
                .collect(),
        ),
        Value::Sensitive(inner) => mark_schema_sensitive(Some(block), inner).sensitive(),
        other => other.clone(),
    }
}

fn mark_nested_blocks(block: &BlockSchema, value: &Value) -> Value {
    let mark_all = |items: &[Value]| {
        items
            .iter()
            .map(|item| mark_schema_sensitive(Some(block), item))
            .collect()
    };
    match value {
        Value::List(items) => Value::List(mark_all(items)),
        Value::Tuple(items) => Value::Tuple(mark_all(items)),
        Value::Set(items) => Value::Set(mark_all(items)),
        Value::Object(_) => mark_schema_sensitive(Some(block), value),
        other => other.clone(),
    }
}

/// Returns the stored and planned values of a change with schema-sensitive attributes marked.
fn marked_values(change: &crate::plan::PlannedChange) -> (Option<Value>, Option<Value>) {
    let block = resource_block(change.type_name());
    let mark = |value: &Option<Value>| {
        value
            .as_ref()
            .map(|value| mark_schema_sensitive(block, value))
    };
    (mark(&change.before), mark(&change.after))
}

/// Returns "1 thing" or "N things".
fn plural(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("{n} {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Hand-built plans shared by the renderers' snapshot tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::collections::BTreeMap;

    use crate::addr::{InstanceAddr, ResourceAddr};
    use crate::lang::Value;
    use crate::plan::{ActionReason, ChangeAction, InstancePlan, Plan, PlannedChange};

    pub fn object(attrs: &[(&str, Value)]) -> Value {
        Value::Object(
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    pub fn map(entries: &[(&str, &str)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        )
    }

    pub fn strings(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::string(*s)).collect())
    }

    pub fn s(text: &str) -> Value {
        Value::string(text)
    }

    /// Parses an address written as `Display` prints it.
    pub fn addr(text: &str) -> ResourceAddr {
        ResourceAddr::parse(text).expect("test addresses are valid")
    }

    pub fn change(
        address: &str,
        action: ChangeAction,
        before: Option<Value>,
        after: Option<Value>,
    ) -> PlannedChange {
        PlannedChange {
            addr: addr(address),
            action,
            before,
            after,
            replace_paths: Vec::new(),
            reason: None,
            create_before_destroy: false,
            dependencies: Vec::new(),
            previous_address: None,
            importing: None,
        }
    }

    pub fn instance(service: &str, env: &str, changes: Vec<PlannedChange>) -> InstancePlan {
        InstancePlan {
            instance: InstanceAddr::new(service, env),
            changes,
            outputs: BTreeMap::new(),
            prior_lineage: None,
            prior_serial: None,
        }
    }

    /// A Cloud SQL instance as the planner produces it for a create.
    fn sql_instance_after() -> Value {
        object(&[
            ("project", s("payment-prod")),
            ("name", s("payment-main")),
            ("database_version", s("POSTGRES_16")),
            ("region", s("europe-west1")),
            ("deletion_protection", Value::Bool(true)),
            ("root_password", s("hunter2").sensitive()),
            (
                "connection_name",
                s("payment-prod:europe-west1:payment-main"),
            ),
            ("self_link", Value::Unknown),
            ("public_ip_address", Value::Unknown),
            ("private_ip_address", Value::Null),
            ("id", s("payment-main")),
            (
                "settings",
                Value::List(vec![object(&[
                    ("tier", s("db-custom-2-7680")),
                    ("availability_type", s("REGIONAL")),
                    ("disk_size", Value::int(50)),
                    (
                        "user_labels",
                        map(&[("team", "payments"), ("cost-center", "cc-42")]),
                    ),
                    (
                        "backup_configuration",
                        Value::List(vec![object(&[
                            ("enabled", Value::Bool(true)),
                            ("start_time", s("03:00")),
                        ])]),
                    ),
                    (
                        "database_flags",
                        Value::List(vec![
                            object(&[("name", s("max_connections")), ("value", s("200"))]),
                            object(&[
                                ("name", s("log_min_duration_statement")),
                                ("value", s("250")),
                            ]),
                        ]),
                    ),
                ])]),
            ),
        ])
    }

    /// A create with unknown, sensitive, nested-block, map and list attributes.
    pub fn create() -> InstancePlan {
        let database = change(
            "module.db.google_spanner_database.main",
            ChangeAction::Create,
            None,
            Some(object(&[
                ("project", s("payment-prod")),
                ("instance", s("payment-main")),
                ("name", s("ledger")),
                (
                    "ddl",
                    strings(&[
                        "CREATE TABLE accounts (id STRING(36) NOT NULL) PRIMARY KEY (id)",
                        "CREATE TABLE entries (id STRING(36) NOT NULL, amount INT64) PRIMARY KEY (id)",
                    ]),
                ),
                ("deletion_protection", Value::Bool(true)),
                ("state", Value::Unknown),
                ("id", Value::Unknown),
            ])),
        );
        let sql = change(
            "google_sql_database_instance.main",
            ChangeAction::Create,
            None,
            Some(sql_instance_after()),
        );
        let mut user = change(
            "google_sql_user.app[\"payments\"]",
            ChangeAction::Create,
            None,
            Some(object(&[
                ("project", s("payment-prod")),
                ("instance", s("payment-main")),
                ("name", s("payments")),
                ("type", s("BUILT_IN")),
                // Left unmarked on purpose: the schema says `password` is sensitive.
                ("password", s("correct horse battery staple")),
                ("id", Value::Unknown),
            ])),
        );
        user.dependencies = vec!["google_sql_database_instance.main".to_string()];
        let mut plan = instance("payment", "production", vec![database, sql, user]);
        plan.prior_lineage = Some("3f1c2a9e-lineage".to_string());
        plan.prior_serial = Some(7);
        plan
    }

    /// An update: a changed scalar, a changed map entry, a changed nested block,
    /// a list diff and unchanged attributes that are hidden.
    pub fn update() -> InstancePlan {
        let before = object(&[
            ("project_id", s("payment-staging")),
            ("name", s("Payment staging")),
            ("org_id", s("123456789012")),
            ("billing_account", s("0123AB-4567CD-89EF01")),
            (
                "labels",
                map(&[("team", "payments"), ("tier", "small"), ("owner", "alice")]),
            ),
            ("deletion_policy", s("PREVENT")),
            ("number", s("987654321098")),
            ("id", s("projects/payment-staging")),
        ]);
        let mut after = before.clone();
        if let Value::Object(attrs) = &mut after {
            attrs.insert("name".into(), s("Payments staging"));
            attrs.insert(
                "labels".into(),
                map(&[("team", "payments"), ("tier", "large"), ("env", "staging")]),
            );
        }
        let project = change(
            "google_project.this",
            ChangeAction::Update,
            Some(before),
            Some(after),
        );

        let ddl_before = [
            "CREATE TABLE accounts (id STRING(36) NOT NULL) PRIMARY KEY (id)",
            "CREATE TABLE entries (id STRING(36) NOT NULL, amount INT64) PRIMARY KEY (id)",
            "CREATE INDEX entries_by_amount ON entries (amount)",
        ];
        let ddl_after = [
            "CREATE TABLE accounts (id STRING(36) NOT NULL) PRIMARY KEY (id)",
            "CREATE TABLE entries (id STRING(36) NOT NULL, amount INT64) PRIMARY KEY (id)",
            "CREATE INDEX entries_by_amount ON entries (amount DESC)",
            "CREATE TABLE holds (id STRING(36) NOT NULL) PRIMARY KEY (id)",
        ];
        let database = |ddl: &[&str]| {
            object(&[
                ("project", s("payment-staging")),
                ("instance", s("payment-main")),
                ("name", s("ledger")),
                ("ddl", strings(ddl)),
                ("deletion_protection", Value::Bool(true)),
                ("state", s("READY")),
                ("id", s("payment-staging/payment-main/ledger")),
            ])
        };
        let spanner = change(
            "module.db.google_spanner_database.main",
            ChangeAction::Update,
            Some(database(&ddl_before)),
            Some(database(&ddl_after)),
        );

        let settings = |tier: &str, flags: &[(&str, &str)]| {
            Value::List(vec![object(&[
                ("tier", s(tier)),
                ("availability_type", s("ZONAL")),
                ("disk_size", Value::int(20)),
                (
                    "database_flags",
                    Value::List(
                        flags
                            .iter()
                            .map(|(n, v)| object(&[("name", s(n)), ("value", s(v))]))
                            .collect(),
                    ),
                ),
            ])])
        };
        let sql = |tier: &str, flags: &[(&str, &str)], password: &str| {
            object(&[
                ("project", s("payment-staging")),
                ("name", s("payment-main")),
                ("database_version", s("POSTGRES_16")),
                ("region", s("europe-west1")),
                ("root_password", s(password).sensitive()),
                ("id", s("payment-main")),
                ("settings", settings(tier, flags)),
            ])
        };
        let sql_change = change(
            "google_sql_database_instance.main",
            ChangeAction::Update,
            Some(sql(
                "db-f1-micro",
                &[("max_connections", "100")],
                "old-secret",
            )),
            Some(sql(
                "db-custom-2-7680",
                &[("max_connections", "100"), ("work_mem", "64MB")],
                "new-secret",
            )),
        );

        let script_before = "#!/bin/sh\nset -eu\necho start\nmigrate --to 41\necho done\n";
        let script_after = "#!/bin/sh\nset -eu\necho start\nmigrate --to 42\necho done\n";
        let config_map = |script: &str| {
            object(&[
                (
                    "metadata",
                    Value::List(vec![object(&[
                        ("name", s("payment-jobs")),
                        ("namespace", s("payment")),
                    ])]),
                ),
                (
                    "data",
                    Value::Map([("run.sh".to_string(), s(script))].into_iter().collect()),
                ),
                ("id", s("payment/payment-jobs")),
            ])
        };
        let k8s = change(
            "kubernetes_config_map.jobs",
            ChangeAction::Update,
            Some(config_map(script_before)),
            Some(config_map(script_after)),
        );
        instance(
            "payment",
            "staging",
            vec![k8s, project, spanner, sql_change],
        )
    }

    /// A replacement forced by one attribute, then a create-before-destroy one.
    pub fn replace() -> InstancePlan {
        let before = object(&[
            ("project", s("ledger-prod")),
            ("name", s("ledger-main")),
            ("config", s("regional-us-central1")),
            ("display_name", s("Ledger")),
            ("processing_units", Value::int(1000)),
            ("labels", map(&[("team", "ledger")])),
            ("state", s("READY")),
            ("id", s("ledger-prod/ledger-main")),
        ]);
        let mut after = before.clone();
        if let Value::Object(attrs) = &mut after {
            attrs.insert("config".into(), s("regional-europe-west1"));
            attrs.insert("state".into(), Value::Unknown);
            attrs.insert("id".into(), Value::Unknown);
        }
        let mut spanner = change(
            "google_spanner_instance.main",
            ChangeAction::Replace,
            Some(before),
            Some(after),
        );
        spanner.replace_paths = vec![vec!["config".to_string()]];

        let member = |member: &str| {
            object(&[
                ("project", s("ledger-prod")),
                ("role", s("roles/spanner.databaseUser")),
                ("member", s(member)),
                ("condition", Value::List(vec![])),
                ("etag", s("BwXhq1")),
                (
                    "id",
                    s(&format!("ledger-prod/roles/spanner.databaseUser/{member}")),
                ),
            ])
        };
        let mut iam = change(
            "google_project_iam_member.reader[0]",
            ChangeAction::Replace,
            Some(member(
                "serviceAccount:ledger@ledger-prod.iam.gserviceaccount.com",
            )),
            Some(object(&[
                ("project", s("ledger-prod")),
                ("role", s("roles/spanner.databaseUser")),
                (
                    "member",
                    s("serviceAccount:ledger-api@ledger-prod.iam.gserviceaccount.com"),
                ),
                ("condition", Value::List(vec![])),
                ("etag", Value::Unknown),
                (
                    "id",
                    s(
                        "ledger-prod/roles/spanner.databaseUser/serviceAccount:ledger-api@ledger-prod.iam.gserviceaccount.com",
                    ),
                ),
            ])),
        );
        iam.replace_paths = vec![vec!["member".to_string()]];
        iam.create_before_destroy = true;
        let unchanged = change(
            "google_project.this",
            ChangeAction::NoOp,
            Some(object(&[
                ("project_id", s("ledger-prod")),
                ("name", s("Ledger")),
            ])),
            Some(object(&[
                ("project_id", s("ledger-prod")),
                ("name", s("Ledger")),
            ])),
        );
        instance("ledger", "production", vec![iam, unchanged, spanner])
    }

    /// Deletes with both reasons.
    pub fn delete() -> InstancePlan {
        let mut removed = change(
            "module.cache.google_secret_manager_secret.token",
            ChangeAction::Delete,
            Some(object(&[
                ("project", s("ledger-staging")),
                ("secret_id", s("cache-token")),
                ("labels", map(&[("team", "ledger")])),
                ("id", s("projects/ledger-staging/secrets/cache-token")),
            ])),
            None,
        );
        removed.reason = Some(ActionReason::NoLongerInConfig);
        let mut by_key = change(
            "kubernetes_namespace_v1.tenant[\"acme\"]",
            ChangeAction::Delete,
            Some(object(&[
                (
                    "metadata",
                    Value::List(vec![object(&[
                        ("name", s("tenant-acme")),
                        ("labels", map(&[("tenant", "acme")])),
                    ])]),
                ),
                ("id", s("tenant-acme")),
            ])),
            None,
        );
        by_key.reason = Some(ActionReason::KeyNoLongerInConfig);
        let mut by_index = change(
            "random_id.suffix[2]",
            ChangeAction::Delete,
            Some(object(&[
                ("byte_length", Value::int(4)),
                ("hex", s("9f3a21cc")),
                ("id", s("nzohzA")),
            ])),
            None,
        );
        by_index.reason = Some(ActionReason::KeyNoLongerInConfig);
        instance("ledger", "staging", vec![by_key, removed, by_index])
    }

    /// An instance whose resources all stay as they are.
    pub fn unchanged() -> InstancePlan {
        let project = object(&[("project_id", s("payment-dev")), ("name", s("Payment dev"))]);
        instance(
            "payment",
            "development",
            vec![change(
                "google_project.this",
                ChangeAction::NoOp,
                Some(project.clone()),
                Some(project),
            )],
        )
    }

    /// Every scenario in one plan, as `yagura plan` over several instances prints it.
    pub fn fleet() -> Plan {
        Plan {
            instances: vec![create(), unchanged(), update(), replace(), delete()],
        }
    }

    pub fn only(instance: InstancePlan) -> Plan {
        Plan {
            instances: vec![instance],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Value;
    use tests_support::{object, s};

    #[test]
    fn schema_sensitive_attributes_are_marked_even_in_nested_blocks() {
        let value = object(&[("password", s("x")), ("name", s("u"))]);
        let marked = mark_schema_sensitive(resource_block("google_sql_user"), &value);
        assert_eq!(marked.get_attr("password"), Some(&s("x").sensitive()));
        assert_eq!(marked.get_attr("name"), Some(&s("u")));
    }

    #[test]
    fn values_of_unknown_types_are_left_alone() {
        let value = object(&[("password", s("x"))]);
        assert_eq!(
            mark_schema_sensitive(resource_block("nope_thing"), &value),
            value
        );
        assert_eq!(mark_schema_sensitive(None, &Value::Null), Value::Null);
    }

    #[test]
    fn plural_counts() {
        assert_eq!(plural(1, "change", "changes"), "1 change");
        assert_eq!(plural(0, "change", "changes"), "0 changes");
    }
}
