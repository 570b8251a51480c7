//! Google Cloud types, with the attributes of RESOURCE-TYPES.md.

use std::collections::BTreeMap;

use super::{
    Api,
    AttrType::{Bool, Number, String as Str, StringList, StringMap},
    BlockSchema, ChangeVerdict, Default, NestedBlock, OneOf, ResourceSchema, check_account_id,
    check_project_id, computed, opt, req,
};
use crate::lang::Value;

fn s<'a>(config: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a str> {
    config.get(name).and_then(Value::as_str)
}

/// `RESOURCE/ROLE/MEMBER`, with `/TITLE` for a conditional grant, as the provider records it.
fn member_id(resource: &str, role: &str, member: &str, config: &BTreeMap<String, Value>) -> String {
    let title = config
        .get("condition")
        .and_then(Value::as_sequence)
        .and_then(|c| c.first())
        .and_then(|c| c.get_attr("title"))
        .and_then(Value::as_str);
    match title {
        Some(title) => format!("{resource}/{role}/{member}/{title}"),
        None => format!("{resource}/{role}/{member}"),
    }
}

fn one_of_values(allowed: &'static [&'static str], value: &str) -> Result<(), String> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        let list = allowed
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(format!("{value:?} is not one of {list}"))
    }
}

pub static PROJECT: ResourceSchema = ResourceSchema {
    type_name: "google_project",
    api: Api::ResourceManager,
    block: BlockSchema {
        attrs: &[
            req("project_id", Str).force_new().check(check_project_id),
            req("name", Str).check(|n| {
                if (4..=30).contains(&n.chars().count()) {
                    Ok(())
                } else {
                    Err(format!(
                        "{n:?} is not a valid project name: 4 to 30 characters"
                    ))
                }
            }),
            opt("org_id", Str),
            opt("folder_id", Str),
            opt("billing_account", Str),
            opt("labels", StringMap),
            opt("deletion_policy", Str)
                .default(Default::Str("PREVENT"))
                .check(|v| one_of_values(&["PREVENT", "ABANDON", "DELETE"], v)),
            computed("number", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[(&["org_id", "folder_id"], OneOf::ExactlyOne)],
    protected_in_protected_envs: true,
    plan_time: Some(|c| {
        s(c, "project_id")
            .map(|p| vec![("id", Value::string(format!("projects/{p}")))])
            .unwrap_or_default()
    }),
};

pub static PROJECT_SERVICE: ResourceSchema = ResourceSchema {
    type_name: "google_project_service",
    api: Api::ServiceUsage,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("service", Str).force_new(),
            opt("disable_on_destroy", Bool).default(Default::Bool(true)),
            opt("disable_dependent_services", Bool).default(Default::Bool(false)),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(|c| match (s(c, "project"), s(c, "service")) {
        (Some(p), Some(svc)) => vec![("id", Value::string(format!("{p}/{svc}")))],
        _ => Vec::new(),
    }),
};

pub static SERVICE_ACCOUNT: ResourceSchema = ResourceSchema {
    type_name: "google_service_account",
    api: Api::Iam,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("account_id", Str).force_new().check(check_account_id),
            opt("display_name", Str),
            opt("description", Str),
            opt("disabled", Bool).default(Default::Bool(false)),
            computed("email", Str),
            computed("unique_id", Str),
            computed("name", Str),
            computed("member", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    // The email is derived from the id and project, so dependents see it in the plan.
    plan_time: Some(|c| match (s(c, "project"), s(c, "account_id")) {
        (Some(p), Some(a)) => {
            let email = format!("{a}@{p}.iam.gserviceaccount.com");
            let name = format!("projects/{p}/serviceAccounts/{email}");
            vec![
                ("member", Value::string(format!("serviceAccount:{email}"))),
                ("id", Value::string(name.clone())),
                ("name", Value::string(name)),
                ("email", Value::string(email)),
            ]
        }
        _ => Vec::new(),
    }),
};

static CONDITION: BlockSchema = BlockSchema {
    attrs: &[
        req("title", Str),
        opt("description", Str),
        req("expression", Str),
    ],
    blocks: &[],
};

pub static PROJECT_IAM_MEMBER: ResourceSchema = ResourceSchema {
    type_name: "google_project_iam_member",
    api: Api::ResourceManager,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("role", Str).force_new(),
            req("member", Str).force_new(),
            computed("etag", Str),
            computed("id", Str),
        ],
        blocks: &[NestedBlock {
            name: "condition",
            min: 0,
            max: Some(1),
            force_new: true,
            block: &CONDITION,
        }],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(|c| match (s(c, "project"), s(c, "role"), s(c, "member")) {
        (Some(p), Some(r), Some(m)) => vec![("id", Value::string(member_id(p, r, m, c)))],
        _ => Vec::new(),
    }),
};

pub static SERVICE_ACCOUNT_IAM_MEMBER: ResourceSchema = ResourceSchema {
    type_name: "google_service_account_iam_member",
    api: Api::Iam,
    block: BlockSchema {
        attrs: &[
            req("service_account_id", Str).force_new().check(|id| {
                if id.starts_with("projects/") && id.contains("/serviceAccounts/") {
                    Ok(())
                } else {
                    Err(format!("{id:?} is not a service account name: use projects/PROJECT/serviceAccounts/EMAIL"))
                }
            }),
            req("role", Str).force_new(),
            req("member", Str).force_new(),
            computed("etag", Str),
            computed("id", Str),
        ],
        blocks: &[NestedBlock { name: "condition", min: 0, max: Some(1), force_new: true, block: &CONDITION }],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(|c| match (s(c, "service_account_id"), s(c, "role"), s(c, "member")) {
        (Some(sa), Some(r), Some(m)) => vec![("id", Value::string(member_id(sa, r, m, c)))],
        _ => Vec::new(),
    }),
};

pub static SPANNER_INSTANCE: ResourceSchema = ResourceSchema {
    type_name: "google_spanner_instance",
    api: Api::Spanner,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("name", Str).force_new(),
            req("config", Str).force_new(),
            req("display_name", Str),
            opt("num_nodes", Number),
            opt("processing_units", Number),
            opt("labels", StringMap),
            opt("force_destroy", Bool).default(Default::Bool(false)),
            computed("state", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[(&["num_nodes", "processing_units"], OneOf::AtMostOne)],
    protected_in_protected_envs: true,
    plan_time: Some(|c| match (s(c, "project"), s(c, "name")) {
        (Some(p), Some(n)) => vec![("id", Value::string(format!("{p}/{n}")))],
        _ => Vec::new(),
    }),
};

/// Spanner applies DDL by appending statements (`updateDdl`); anything else
/// rewrites history, which only a new database can do.
fn spanner_ddl_rule(
    prior: &BTreeMap<String, Value>,
    config: &BTreeMap<String, Value>,
) -> ChangeVerdict {
    let statements = |m: &BTreeMap<String, Value>| -> Vec<String> {
        m.get("ddl")
            .and_then(Value::as_sequence)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (old, new) = (statements(prior), statements(config));
    if new.len() >= old.len() && new[..old.len()] == old[..] {
        return ChangeVerdict::InPlace;
    }
    if config.get("deletion_protection").and_then(Value::as_bool) == Some(false) {
        return ChangeVerdict::Replace("ddl");
    }
    ChangeVerdict::Refuse(
        "its `ddl` changes statements that were already applied; Spanner can only append statements. \
         Append new statements instead, or set `deletion_protection = false` to replace the database and lose its data"
            .to_string(),
    )
}

/// A Cloud SQL disk grows but never shrinks.
fn sql_disk_rule(
    prior: &BTreeMap<String, Value>,
    config: &BTreeMap<String, Value>,
) -> ChangeVerdict {
    let disk = |m: &BTreeMap<String, Value>| {
        m.get("settings")
            .and_then(Value::as_sequence)
            .and_then(|s| s.first())
            .and_then(|s| s.get_attr("disk_size"))
            .and_then(Value::as_number)
            .map(|n| n.as_f64())
    };
    match (disk(prior), disk(config)) {
        (Some(old), Some(new)) if new < old => ChangeVerdict::Refuse(format!(
            "its `settings.disk_size` would shrink from {old} to {new} GB; Cloud SQL disks only grow"
        )),
        _ => ChangeVerdict::InPlace,
    }
}

pub static SPANNER_DATABASE: ResourceSchema = ResourceSchema {
    type_name: "google_spanner_database",
    api: Api::Spanner,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("instance", Str).force_new(),
            req("name", Str).force_new(),
            opt("ddl", StringList),
            opt("database_dialect", Str)
                .force_new()
                .check(|v| one_of_values(&["GOOGLE_STANDARD_SQL", "POSTGRESQL"], v)),
            opt("version_retention_period", Str),
            opt("deletion_protection", Bool).default(Default::Bool(true)),
            computed("state", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: Some(spanner_ddl_rule),
    one_of: &[],
    protected_in_protected_envs: true,
    plan_time: Some(
        |c| match (s(c, "project"), s(c, "instance"), s(c, "name")) {
            (Some(p), Some(i), Some(n)) => vec![("id", Value::string(format!("{p}/{i}/{n}")))],
            _ => Vec::new(),
        },
    ),
};

static BACKUP_CONFIGURATION: BlockSchema = BlockSchema {
    attrs: &[
        opt("enabled", Bool),
        opt("start_time", Str),
        opt("point_in_time_recovery_enabled", Bool),
    ],
    blocks: &[],
};

static IP_CONFIGURATION: BlockSchema = BlockSchema {
    attrs: &[
        opt("ipv4_enabled", Bool),
        opt("private_network", Str),
        opt("ssl_mode", Str),
    ],
    blocks: &[],
};

static DATABASE_FLAGS: BlockSchema = BlockSchema {
    attrs: &[req("name", Str), req("value", Str)],
    blocks: &[],
};

static SQL_SETTINGS: BlockSchema = BlockSchema {
    attrs: &[
        req("tier", Str),
        opt("edition", Str).check(|v| one_of_values(&["ENTERPRISE", "ENTERPRISE_PLUS"], v)),
        opt("availability_type", Str).check(|v| one_of_values(&["ZONAL", "REGIONAL"], v)),
        opt("disk_size", Number),
        opt("disk_type", Str)
            .force_new()
            .check(|v| one_of_values(&["PD_SSD", "PD_HDD"], v)),
        opt("user_labels", StringMap),
    ],
    blocks: &[
        NestedBlock {
            name: "backup_configuration",
            min: 0,
            max: Some(1),
            force_new: false,
            block: &BACKUP_CONFIGURATION,
        },
        NestedBlock {
            name: "ip_configuration",
            min: 0,
            max: Some(1),
            force_new: false,
            block: &IP_CONFIGURATION,
        },
        NestedBlock {
            name: "database_flags",
            min: 0,
            max: None,
            force_new: false,
            block: &DATABASE_FLAGS,
        },
    ],
};

pub static SQL_DATABASE_INSTANCE: ResourceSchema = ResourceSchema {
    type_name: "google_sql_database_instance",
    api: Api::SqlAdmin,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("name", Str).force_new(),
            req("database_version", Str),
            req("region", Str).force_new(),
            opt("deletion_protection", Bool).default(Default::Bool(true)),
            opt("root_password", Str).sensitive(),
            computed("connection_name", Str),
            computed("self_link", Str),
            computed("public_ip_address", Str),
            computed("private_ip_address", Str),
            computed("id", Str),
        ],
        blocks: &[NestedBlock {
            name: "settings",
            min: 1,
            max: Some(1),
            force_new: false,
            block: &SQL_SETTINGS,
        }],
    },
    change_rule: Some(sql_disk_rule),
    one_of: &[],
    protected_in_protected_envs: true,
    plan_time: Some(|c| match (s(c, "project"), s(c, "region"), s(c, "name")) {
        (Some(p), Some(r), Some(n)) => vec![
            ("connection_name", Value::string(format!("{p}:{r}:{n}"))),
            ("id", Value::string(n)),
        ],
        _ => Vec::new(),
    }),
};

pub static SQL_DATABASE: ResourceSchema = ResourceSchema {
    type_name: "google_sql_database",
    api: Api::SqlAdmin,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("instance", Str).force_new(),
            req("name", Str).force_new(),
            opt("charset", Str).force_new(),
            opt("collation", Str).force_new(),
            opt("deletion_policy", Str)
                .default(Default::Str("DELETE"))
                .check(|v| one_of_values(&["DELETE", "ABANDON"], v)),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(
        |c| match (s(c, "project"), s(c, "instance"), s(c, "name")) {
            (Some(p), Some(i), Some(n)) => vec![(
                "id",
                Value::string(format!("projects/{p}/instances/{i}/databases/{n}")),
            )],
            _ => Vec::new(),
        },
    ),
};

pub static SQL_USER: ResourceSchema = ResourceSchema {
    type_name: "google_sql_user",
    api: Api::SqlAdmin,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("instance", Str).force_new(),
            req("name", Str).force_new(),
            opt("host", Str).force_new(),
            opt("type", Str)
                .force_new()
                .default(Default::Str("BUILT_IN"))
                .check(|v| {
                    one_of_values(
                        &["BUILT_IN", "CLOUD_IAM_USER", "CLOUD_IAM_SERVICE_ACCOUNT"],
                        v,
                    )
                }),
            opt("password", Str).sensitive(),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: None,
};

static AUTO: BlockSchema = BlockSchema {
    attrs: &[],
    blocks: &[],
};
static REPLICA: BlockSchema = BlockSchema {
    attrs: &[req("location", Str)],
    blocks: &[],
};
static USER_MANAGED: BlockSchema = BlockSchema {
    attrs: &[],
    blocks: &[NestedBlock {
        name: "replicas",
        min: 1,
        max: None,
        force_new: true,
        block: &REPLICA,
    }],
};
static REPLICATION: BlockSchema = BlockSchema {
    attrs: &[],
    blocks: &[
        NestedBlock {
            name: "auto",
            min: 0,
            max: Some(1),
            force_new: true,
            block: &AUTO,
        },
        NestedBlock {
            name: "user_managed",
            min: 0,
            max: Some(1),
            force_new: true,
            block: &USER_MANAGED,
        },
    ],
};

pub static SECRET: ResourceSchema = ResourceSchema {
    type_name: "google_secret_manager_secret",
    api: Api::SecretManager,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("secret_id", Str).force_new(),
            opt("labels", StringMap),
            computed("name", Str),
            computed("id", Str),
        ],
        blocks: &[NestedBlock {
            name: "replication",
            min: 1,
            max: Some(1),
            force_new: true,
            block: &REPLICATION,
        }],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(|c| match (s(c, "project"), s(c, "secret_id")) {
        (Some(p), Some(id)) => vec![("id", Value::string(format!("projects/{p}/secrets/{id}")))],
        _ => Vec::new(),
    }),
};

pub static SECRET_VERSION: ResourceSchema = ResourceSchema {
    type_name: "google_secret_manager_secret_version",
    api: Api::SecretManager,
    block: BlockSchema {
        attrs: &[
            req("secret", Str).force_new(),
            req("secret_data", Str).force_new().sensitive(),
            opt("enabled", Bool).default(Default::Bool(true)),
            computed("name", Str),
            computed("version", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: None,
};

pub static DNS_RECORD_SET: ResourceSchema = ResourceSchema {
    type_name: "google_dns_record_set",
    api: Api::Dns,
    block: BlockSchema {
        attrs: &[
            req("project", Str).force_new(),
            req("managed_zone", Str).force_new(),
            req("name", Str).force_new().check(|n| {
                if n.ends_with('.') {
                    Ok(())
                } else {
                    Err(format!(
                        "{n:?} is not a fully qualified name: it must end with a dot"
                    ))
                }
            }),
            req("type", Str).force_new().check(|v| {
                one_of_values(
                    &[
                        "A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SPF", "SRV", "TXT",
                    ],
                    v,
                )
            }),
            opt("ttl", Number),
            req("rrdatas", StringList),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(|c| {
        match (
            s(c, "project"),
            s(c, "managed_zone"),
            s(c, "name"),
            s(c, "type"),
        ) {
            (Some(p), Some(z), Some(n), Some(t)) => {
                vec![(
                    "id",
                    Value::string(format!("projects/{p}/managedZones/{z}/rrsets/{n}/{t}")),
                )]
            }
            _ => Vec::new(),
        }
    }),
};
