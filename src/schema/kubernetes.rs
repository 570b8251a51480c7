//! Kubernetes types: every one has a `metadata` block.

use std::collections::BTreeMap;

use super::{
    Api,
    AttrType::{Bool, Number, String as Str, StringList, StringMap},
    BlockSchema, NestedBlock, ResourceSchema, check_dns_label, check_dns_subdomain, computed, opt,
    req,
};
use crate::lang::Value;

static NAMESPACE_METADATA: BlockSchema = BlockSchema {
    attrs: &[
        req("name", Str).force_new().check(check_dns_label),
        opt("labels", StringMap),
        opt("annotations", StringMap),
        computed("uid", Str),
        computed("resource_version", Str),
        computed("generation", Number),
    ],
    blocks: &[],
};

static METADATA: BlockSchema = BlockSchema {
    attrs: &[
        req("name", Str).force_new().check(check_dns_subdomain),
        req("namespace", Str).force_new().check(check_dns_label),
        opt("labels", StringMap),
        opt("annotations", StringMap),
        computed("uid", Str),
        computed("resource_version", Str),
        computed("generation", Number),
    ],
    blocks: &[],
};

const fn metadata(block: &'static BlockSchema) -> NestedBlock {
    NestedBlock {
        name: "metadata",
        min: 1,
        max: Some(1),
        force_new: false,
        block,
    }
}

/// `namespace/name` or `name`, the id Terraform's Kubernetes provider uses.
fn object_id(config: &BTreeMap<String, Value>) -> Vec<(&'static str, Value)> {
    let Some(meta) = config
        .get("metadata")
        .and_then(|m| m.as_sequence())
        .and_then(|m| m.first())
    else {
        return Vec::new();
    };
    let name = meta.get_attr("name").and_then(Value::as_str);
    let namespace = meta.get_attr("namespace").and_then(Value::as_str);
    match (namespace, name) {
        (Some(ns), Some(name)) => vec![("id", Value::string(format!("{ns}/{name}")))],
        (None, Some(name)) if meta.get_attr("namespace").is_none() => {
            vec![("id", Value::string(name))]
        }
        _ => Vec::new(),
    }
}

pub static NAMESPACE: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_namespace_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[computed("id", Str)],
        blocks: &[metadata(&NAMESPACE_METADATA)],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};

pub static SERVICE_ACCOUNT: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_service_account_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[
            opt("automount_service_account_token", Bool),
            computed("id", Str),
        ],
        blocks: &[metadata(&METADATA)],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};

static RULE: BlockSchema = BlockSchema {
    attrs: &[
        opt("api_groups", StringList),
        req("resources", StringList),
        req("verbs", StringList),
        opt("resource_names", StringList),
    ],
    blocks: &[],
};

pub static ROLE: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_role_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[computed("id", Str)],
        blocks: &[
            metadata(&METADATA),
            NestedBlock {
                name: "rule",
                min: 1,
                max: None,
                force_new: false,
                block: &RULE,
            },
        ],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};

static ROLE_REF: BlockSchema = BlockSchema {
    attrs: &[
        opt("api_group", Str).default(super::Default::Str("rbac.authorization.k8s.io")),
        req("kind", Str).check(|k| match k {
            "Role" | "ClusterRole" => Ok(()),
            other => Err(format!(
                "{other:?} is not a role kind: use \"Role\" or \"ClusterRole\""
            )),
        }),
        req("name", Str),
    ],
    blocks: &[],
};

static SUBJECT: BlockSchema = BlockSchema {
    attrs: &[
        req("kind", Str).check(|k| match k {
            "User" | "Group" | "ServiceAccount" => Ok(()),
            other => Err(format!(
                "{other:?} is not a subject kind: use \"User\", \"Group\" or \"ServiceAccount\""
            )),
        }),
        req("name", Str),
        opt("namespace", Str),
        opt("api_group", Str),
    ],
    blocks: &[],
};

pub static ROLE_BINDING: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_role_binding_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[computed("id", Str)],
        blocks: &[
            metadata(&METADATA),
            NestedBlock {
                name: "role_ref",
                min: 1,
                max: Some(1),
                force_new: true,
                block: &ROLE_REF,
            },
            NestedBlock {
                name: "subject",
                min: 1,
                max: None,
                force_new: false,
                block: &SUBJECT,
            },
        ],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};

static QUOTA_SPEC: BlockSchema = BlockSchema {
    attrs: &[req("hard", StringMap)],
    blocks: &[],
};

pub static RESOURCE_QUOTA: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_resource_quota_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[computed("id", Str)],
        blocks: &[
            metadata(&METADATA),
            NestedBlock {
                name: "spec",
                min: 1,
                max: Some(1),
                force_new: false,
                block: &QUOTA_SPEC,
            },
        ],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};

static LIMIT: BlockSchema = BlockSchema {
    attrs: &[
        req("type", Str),
        opt("default", StringMap),
        opt("default_request", StringMap),
        opt("max", StringMap),
        opt("min", StringMap),
    ],
    blocks: &[],
};

static LIMIT_SPEC: BlockSchema = BlockSchema {
    attrs: &[],
    blocks: &[NestedBlock {
        name: "limit",
        min: 1,
        max: None,
        force_new: false,
        block: &LIMIT,
    }],
};

pub static LIMIT_RANGE: ResourceSchema = ResourceSchema {
    type_name: "kubernetes_limit_range_v1",
    api: Api::Kubernetes,
    block: BlockSchema {
        attrs: &[computed("id", Str)],
        blocks: &[
            metadata(&METADATA),
            NestedBlock {
                name: "spec",
                min: 1,
                max: Some(1),
                force_new: false,
                block: &LIMIT_SPEC,
            },
        ],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: Some(object_id),
};
