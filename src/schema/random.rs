//! `random_id` and `random_password`: generated locally at apply.

use super::{
    Api,
    AttrType::{Bool, Number, String as Str, StringMap},
    BlockSchema, Default, ResourceSchema, computed, opt, req,
};

pub static RANDOM_ID: ResourceSchema = ResourceSchema {
    type_name: "random_id",
    api: Api::Local,
    block: BlockSchema {
        attrs: &[
            req("byte_length", Number).force_new(),
            opt("prefix", Str).force_new(),
            opt("keepers", StringMap).force_new(),
            computed("hex", Str),
            computed("dec", Str),
            computed("b64_url", Str),
            computed("b64_std", Str),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: None,
};

pub static RANDOM_PASSWORD: ResourceSchema = ResourceSchema {
    type_name: "random_password",
    api: Api::Local,
    block: BlockSchema {
        attrs: &[
            req("length", Number).force_new(),
            opt("special", Bool)
                .force_new()
                .default(Default::Bool(true)),
            opt("upper", Bool).force_new().default(Default::Bool(true)),
            opt("lower", Bool).force_new().default(Default::Bool(true)),
            opt("numeric", Bool)
                .force_new()
                .default(Default::Bool(true)),
            opt("keepers", StringMap).force_new(),
            computed("result", Str).sensitive(),
            computed("id", Str),
        ],
        blocks: &[],
    },
    change_rule: None,
    one_of: &[],
    protected_in_protected_envs: false,
    plan_time: None,
};
