//! The plan walk of one instance: the static graph of variables, locals,
//! resources, outputs and module calls, evaluated in dependency order, with
//! each resource diffed against its prior state as soon as it is evaluated,
//! so that dependents see planned values.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use petgraph::stable_graph::NodeIndex;

use crate::addr::{InstanceAddr, InstanceKey, ModulePath, ResourceAddr};
use crate::config::{Module, ModuleCall, Repo, ResourceMode, Service};
use crate::diag::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::graph::DepGraph;
use crate::lang::Value;
use crate::lang::eval::{EmptyScope, Evaluator, Scope};
use crate::lang::expr::{Expr, Reference};
use crate::lang::types::{self, Type};
use crate::schema;
use crate::state::StateDocument;

use super::diff::{diff, mark_sensitive};
use super::resource::{conform_state, eval_resource_body};
use super::{ActionReason, ChangeAction, InstancePlan, PlannedChange};

/// A module in the static tree of module calls (not yet expanded by `count`/`for_each`).
pub struct StaticModule<'r> {
    pub module: &'r Module,
    pub parent: Option<usize>,
    pub call: Option<&'r ModuleCall>,
    /// `module.a.module.b`, or empty for the root.
    pub prefix: String,
}

/// A vertex of the instance graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    Var(usize, usize),
    Local(usize, usize),
    Resource(usize, usize),
    Output(usize, usize),
    /// The expansion of the call that creates static module `.0`.
    Expand(usize),
}

/// The dependency graph of a service's module tree.
pub struct InstanceGraph<'r> {
    pub modules: Vec<StaticModule<'r>>,
    pub graph: DepGraph<Node>,
    index: HashMap<Node, NodeIndex>,
    /// For every resource node, the resource nodes it depends on, directly or through values.
    resource_deps: HashMap<Node, BTreeSet<String>>,
}

impl<'r> InstanceGraph<'r> {
    /// A readable name for a node (`module.db.google_sql_user.app`, `var.name`).
    pub fn label(&self, node: Node) -> String {
        let (m, text) = match node {
            Node::Var(m, i) => (
                m,
                format!("var.{}", self.modules[m].module.variables[i].name),
            ),
            Node::Local(m, i) => (
                m,
                format!("local.{}", self.modules[m].module.locals[i].name),
            ),
            Node::Resource(m, i) => {
                let r = &self.modules[m].module.resources[i];
                let data = if r.mode == ResourceMode::Data {
                    "data."
                } else {
                    ""
                };
                (m, format!("{data}{}.{}", r.type_name, r.name))
            }
            Node::Output(m, i) => (
                m,
                format!("output.{}", self.modules[m].module.outputs[i].name),
            ),
            Node::Expand(m) => {
                let parent = self.modules[m].parent.expect("only child modules expand");
                let call = self.modules[m].call.expect("child modules have a call");
                (parent, format!("module.{}", call.name))
            }
        };
        let prefix = &self.modules[m].prefix;
        if prefix.is_empty() {
            text
        } else {
            format!("{prefix}.{text}")
        }
    }

    /// The graph in DOT, for `yagura graph`.
    pub fn to_dot(&self, name: &str) -> String {
        self.graph.to_dot(name, |n| self.label(*n))
    }

    fn span(&self, node: Node) -> Span {
        let m = |i: usize| self.modules[i].module;
        match node {
            Node::Var(a, i) => m(a).variables[i].span,
            Node::Local(a, i) => m(a).locals[i].span,
            Node::Resource(a, i) => m(a).resources[i].span,
            Node::Output(a, i) => m(a).outputs[i].span,
            Node::Expand(a) => {
                self.modules[a]
                    .call
                    .expect("child modules have a call")
                    .span
            }
        }
    }
}

/// Where an expression is evaluated, for checking which names it may use.
#[derive(Clone, Copy)]
struct RefContext {
    module: usize,
    count: bool,
    each: bool,
}

/// Builds the static graph of a service; `None` when it has errors that prevent planning.
pub fn instance_graph<'r>(
    repo: &'r Repo,
    service: &'r Service,
) -> (Option<InstanceGraph<'r>>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut modules = vec![StaticModule {
        module: &service.module,
        parent: None,
        call: None,
        prefix: String::new(),
    }];
    let mut i = 0;
    while i < modules.len() {
        let module = modules[i].module;
        for call in &module.calls {
            let Some(child) = repo.module(&call.dir) else {
                continue;
            };
            // A module that calls itself, directly or not, would expand forever.
            let mut ancestor = Some(i);
            let mut recursive = false;
            while let Some(a) = ancestor {
                if modules[a].module.dir == call.dir {
                    recursive = true;
                }
                ancestor = modules[a].parent;
            }
            if recursive {
                diags.push(
                    Diagnostic::error(format!("module {} calls itself", call.dir.display()))
                        .at(Some(call.source_span), "this call makes a loop of modules"),
                );
                continue;
            }
            let prefix = if modules[i].prefix.is_empty() {
                format!("module.{}", call.name)
            } else {
                format!("{}.module.{}", modules[i].prefix, call.name)
            };
            modules.push(StaticModule {
                module: child,
                parent: Some(i),
                call: Some(call),
                prefix,
            });
        }
        i += 1;
    }
    let mut g = InstanceGraph {
        modules,
        graph: DepGraph::default(),
        index: HashMap::new(),
        resource_deps: HashMap::new(),
    };
    let mut nodes = Vec::new();
    for (m, sm) in g.modules.iter().enumerate() {
        nodes.extend((0..sm.module.variables.len()).map(|i| Node::Var(m, i)));
        nodes.extend((0..sm.module.locals.len()).map(|i| Node::Local(m, i)));
        nodes.extend((0..sm.module.resources.len()).map(|i| Node::Resource(m, i)));
        nodes.extend((0..sm.module.outputs.len()).map(|i| Node::Output(m, i)));
        if sm.parent.is_some() {
            nodes.push(Node::Expand(m));
        }
    }
    for node in &nodes {
        let idx = g.graph.add_node(*node);
        g.index.insert(*node, idx);
    }
    for node in nodes {
        let deps = node_dependencies(&g, node, &mut diags);
        let from = g.index[&node];
        for dep in deps {
            let to = g.index[&dep];
            g.graph.add_dependency(from, to);
        }
    }
    match g.graph.evaluation_order() {
        Ok(_) => {}
        Err(cycles) => {
            for mut cycle in cycles {
                // Start the chain at the alphabetically first member, so reports are stable.
                let first = (0..cycle.len())
                    .min_by_key(|&i| g.label(*g.graph.node(cycle[i])))
                    .unwrap_or(0);
                cycle.rotate_left(first);
                let labels: Vec<String> =
                    cycle.iter().map(|i| g.label(*g.graph.node(*i))).collect();
                let chain = format!("{} -> {}", labels.join(" -> "), labels[0]);
                let mut d = Diagnostic::error(format!("dependency cycle: {chain}")).at(
                    Some(g.span(*g.graph.node(cycle[0]))),
                    format!("{} is part of the cycle", labels[0]),
                );
                for i in cycle.iter().skip(1) {
                    let node = *g.graph.node(*i);
                    d = d.related(
                        g.span(node),
                        format!("{} is part of the cycle", g.label(node)),
                    );
                }
                diags.push(d.help("break the cycle by removing one of these references"));
            }
        }
    }
    if diags.has_errors() {
        return (None, diags);
    }
    g.resource_deps = resource_closure(&g);
    (Some(g), diags)
}

/// Every resource each resource node depends on, through any chain of values.
fn resource_closure(g: &InstanceGraph<'_>) -> HashMap<Node, BTreeSet<String>> {
    let order = g
        .graph
        .evaluation_order()
        .expect("instance_graph rejected cycles");
    let mut reach: HashMap<NodeIndex, BTreeSet<String>> = HashMap::new();
    for idx in order {
        let mut set = BTreeSet::new();
        for dep in g.graph.dependencies(idx) {
            let node = *g.graph.node(dep);
            if matches!(node, Node::Resource(..)) {
                set.insert(g.label(node));
            }
            if let Some(inner) = reach.get(&dep) {
                set.extend(inner.iter().cloned());
            }
        }
        reach.insert(idx, set);
    }
    g.index
        .iter()
        .filter(|(n, _)| matches!(n, Node::Resource(..)))
        .map(|(n, idx)| (*n, reach.remove(idx).unwrap_or_default()))
        .collect()
}

fn node_dependencies(g: &InstanceGraph<'_>, node: Node, diags: &mut Diagnostics) -> Vec<Node> {
    let mut deps = Vec::new();
    let sm = |m: usize| &g.modules[m];
    match node {
        Node::Var(m, i) => {
            let var = &sm(m).module.variables[i];
            deps.push(Node::Expand(m));
            let parent = sm(m)
                .parent
                .expect("variables of the root are rejected by the loader");
            let call = sm(m).call.expect("child modules have a call");
            let ctx = RefContext {
                module: parent,
                count: call.count.is_some(),
                each: call.for_each.is_some(),
            };
            if let Some(arg) = call.args.iter().find(|a| a.name == var.name) {
                deps.extend(expr_deps(g, ctx, &arg.expr, diags));
            }
            // As in Terraform 1.9 and later, a validation may read other
            // variables, locals and resources of its module, not only its own.
            let ctx = RefContext {
                module: m,
                count: false,
                each: false,
            };
            for v in &var.validations {
                for r in v
                    .condition
                    .references()
                    .into_iter()
                    .chain(v.error_message.references())
                {
                    if r.root == "var" && r.attrs.first() == Some(&var.name) {
                        continue;
                    }
                    match resolve_reference(g, ctx, &r) {
                        Ok(nodes) => deps.extend(nodes),
                        Err(d) => diags.push(d),
                    }
                }
            }
        }
        Node::Local(m, i) => {
            let ctx = RefContext {
                module: m,
                count: false,
                each: false,
            };
            deps.extend(expr_deps(g, ctx, &sm(m).module.locals[i].expr, diags));
        }
        Node::Output(m, i) => {
            let ctx = RefContext {
                module: m,
                count: false,
                each: false,
            };
            let output = &sm(m).module.outputs[i];
            deps.extend(expr_deps(g, ctx, &output.expr, diags));
            for e in &output.depends_on {
                deps.extend(depends_on_target(g, m, e, diags));
            }
        }
        Node::Resource(m, i) => {
            let r = &sm(m).module.resources[i];
            if sm(m).parent.is_some() {
                deps.push(Node::Expand(m));
            }
            let ctx = RefContext {
                module: m,
                count: r.count.is_some(),
                each: r.for_each.is_some(),
            };
            let meta = RefContext {
                module: m,
                count: false,
                each: false,
            };
            for e in r.count.iter().chain(r.for_each.iter()) {
                deps.extend(expr_deps(g, meta, e, diags));
            }
            for e in &r.depends_on {
                deps.extend(depends_on_target(g, m, e, diags));
            }
            body_deps(g, ctx, &r.body, &mut deps, diags);
        }
        Node::Expand(m) => {
            let parent = sm(m).parent.expect("only child modules expand");
            if sm(parent).parent.is_some() {
                deps.push(Node::Expand(parent));
            }
            let call = sm(m).call.expect("child modules have a call");
            let meta = RefContext {
                module: parent,
                count: false,
                each: false,
            };
            for e in call.count.iter().chain(call.for_each.iter()) {
                deps.extend(expr_deps(g, meta, e, diags));
            }
            for e in &call.depends_on {
                deps.extend(depends_on_target(g, parent, e, diags));
            }
            // Arguments must name variables of the called module.
            let child = sm(m).module;
            for arg in &call.args {
                if !child.variables.iter().any(|v| v.name == arg.name) {
                    let names: Vec<&str> =
                        child.variables.iter().map(|v| v.name.as_str()).collect();
                    diags.push(
                        Diagnostic::error(format!(
                            "module \"{}\" has no variable `{}`",
                            call.name, arg.name
                        ))
                        .at(
                            Some(arg.name_span),
                            format!("not declared in {}", child.dir.display()),
                        )
                        .with_help(
                            did_you_mean(&arg.name, names.iter().copied())
                                .map(|s| format!("did you mean `{s}`?")),
                        ),
                    );
                }
            }
            for var in &child.variables {
                if var.default.is_none() && !call.args.iter().any(|a| a.name == var.name) {
                    diags.push(
                        Diagnostic::error(format!(
                            "module \"{}\" needs a value for the variable `{}`",
                            call.name, var.name
                        ))
                        .at(Some(call.span), format!("`{}` is missing", var.name))
                        .related(var.span, "declared here without a default"),
                    );
                }
            }
        }
    }
    deps
}

fn body_deps(
    g: &InstanceGraph<'_>,
    ctx: RefContext,
    body: &crate::config::Body,
    deps: &mut Vec<Node>,
    diags: &mut Diagnostics,
) {
    for attr in &body.attributes {
        deps.extend(expr_deps(g, ctx, &attr.expr, diags));
    }
    for block in &body.blocks {
        body_deps(g, ctx, &block.body, deps, diags);
    }
    for dynamic in &body.dynamic_blocks {
        deps.extend(expr_deps(g, ctx, &dynamic.for_each, diags));
        let refs = collect_body_refs(&dynamic.content);
        for r in refs {
            if r.root == dynamic.iterator {
                continue;
            }
            match resolve_reference(g, ctx, &r) {
                Ok(nodes) => deps.extend(nodes),
                Err(d) => diags.push(d),
            }
        }
    }
}

fn collect_body_refs(body: &crate::config::Body) -> Vec<Reference> {
    let mut out = Vec::new();
    for attr in &body.attributes {
        out.extend(attr.expr.references());
    }
    for block in &body.blocks {
        out.extend(collect_body_refs(&block.body));
    }
    for dynamic in &body.dynamic_blocks {
        out.extend(dynamic.for_each.references());
        out.extend(
            collect_body_refs(&dynamic.content)
                .into_iter()
                .filter(|r| r.root != dynamic.iterator),
        );
    }
    out
}

fn depends_on_target(
    g: &InstanceGraph<'_>,
    m: usize,
    expr: &Expr,
    diags: &mut Diagnostics,
) -> Vec<Node> {
    let ctx = RefContext {
        module: m,
        count: false,
        each: false,
    };
    match expr.as_static_traversal() {
        Some(_) => expr_deps(g, ctx, expr, diags),
        None => {
            diags.push(
                Diagnostic::error("`depends_on` lists references to resources or modules")
                    .at(Some(expr.span), ""),
            );
            Vec::new()
        }
    }
}

fn expr_deps(
    g: &InstanceGraph<'_>,
    ctx: RefContext,
    expr: &Expr,
    diags: &mut Diagnostics,
) -> Vec<Node> {
    let mut deps = Vec::new();
    for r in expr.references() {
        match resolve_reference(g, ctx, &r) {
            Ok(nodes) => deps.extend(nodes),
            Err(d) => diags.push(d),
        }
    }
    deps
}

const ROOT_ONLY: &[&str] = &["service", "env", "platform"];

/// Maps a reference to the graph nodes it reads, or explains why it is wrong.
fn resolve_reference(
    g: &InstanceGraph<'_>,
    ctx: RefContext,
    r: &Reference,
) -> Result<Vec<Node>, Diagnostic> {
    let sm = &g.modules[ctx.module];
    let module = sm.module;
    let first = r.attrs.first().map(String::as_str);
    let missing_attr = |what: &str| {
        Diagnostic::error(format!("`{}` must be followed by a {what} name", r.root))
            .at(Some(r.span), "")
    };
    match r.root.as_str() {
        "var" => {
            let name = first.ok_or_else(|| missing_attr("variable"))?;
            match module.variables.iter().position(|v| v.name == name) {
                Some(i) => Ok(vec![Node::Var(ctx.module, i)]),
                None => Err(undeclared(
                    "variable",
                    &format!("var.{name}"),
                    r.span,
                    module.variables.iter().map(|v| v.name.as_str()),
                    name,
                )),
            }
        }
        "local" => {
            let name = first.ok_or_else(|| missing_attr("local value"))?;
            match module.locals.iter().position(|l| l.name == name) {
                Some(i) => Ok(vec![Node::Local(ctx.module, i)]),
                None => Err(undeclared(
                    "local value",
                    &format!("local.{name}"),
                    r.span,
                    module.locals.iter().map(|l| l.name.as_str()),
                    name,
                )),
            }
        }
        "module" => {
            let name = first.ok_or_else(|| missing_attr("module call"))?;
            let Some(child) = g.modules.iter().position(|c| {
                c.parent == Some(ctx.module) && c.call.is_some_and(|call| call.name == name)
            }) else {
                return Err(undeclared(
                    "module call",
                    &format!("module.{name}"),
                    r.span,
                    module.calls.iter().map(|c| c.name.as_str()),
                    name,
                ));
            };
            let outputs = &g.modules[child].module.outputs;
            match r.attrs.get(1) {
                Some(output) => match outputs.iter().position(|o| &o.name == output) {
                    Some(i) => Ok(vec![Node::Output(child, i), Node::Expand(child)]),
                    None => Err(undeclared(
                        "output",
                        &format!("module.{name}.{output}"),
                        r.span,
                        outputs.iter().map(|o| o.name.as_str()),
                        output,
                    )),
                },
                None => Ok((0..outputs.len())
                    .map(|i| Node::Output(child, i))
                    .chain([Node::Expand(child)])
                    .collect()),
            }
        }
        "count" => {
            if !ctx.count {
                return Err(Diagnostic::error("`count.index` used where there is no `count`")
                    .at(Some(r.span), "")
                    .help("`count.index` is available in resources and module calls that set `count`"));
            }
            if first != Some("index") {
                return Err(Diagnostic::error("`count` has only the attribute `index`")
                    .at(Some(r.span), ""));
            }
            Ok(Vec::new())
        }
        "each" => {
            if !ctx.each {
                return Err(Diagnostic::error("`each` used where there is no `for_each`")
                    .at(Some(r.span), "")
                    .help("`each.key` and `each.value` are available in resources and module calls that set `for_each`"));
            }
            if !matches!(first, Some("key" | "value") | None) {
                return Err(
                    Diagnostic::error("`each` has only the attributes `key` and `value`")
                        .at(Some(r.span), ""),
                );
            }
            Ok(Vec::new())
        }
        "path" => match first {
            Some("module" | "root" | "cwd") | None => Ok(Vec::new()),
            Some(other) => Err(Diagnostic::error(format!("`path.{other}` does not exist"))
                .at(Some(r.span), "")
                .help("use `path.module`, `path.root` or `path.cwd`")),
        },
        "terraform" => Ok(Vec::new()),
        "self" => Err(Diagnostic::error("`self` is not supported here").at(Some(r.span), "")),
        root if ROOT_ONLY.contains(&root) => {
            if sm.parent.is_some() {
                Err(Diagnostic::error(format!("`{root}` is not available inside modules"))
                    .at(Some(r.span), "")
                    .help(format!("modules see only their variables: pass the value in, e.g. `{root}_name = {root}.name` in the module call")))
            } else {
                Ok(Vec::new())
            }
        }
        "data" => {
            let (Some(type_name), Some(name)) = (r.attrs.first(), r.attrs.get(1)) else {
                return Err(
                    Diagnostic::error("a data reference is `data.TYPE.NAME`").at(Some(r.span), "")
                );
            };
            match module.resources.iter().position(|x| {
                x.mode == ResourceMode::Data && &x.type_name == type_name && &x.name == name
            }) {
                Some(i) => Ok(vec![Node::Resource(ctx.module, i)]),
                None => Err(Diagnostic::error(format!(
                    "reference to undeclared data source `data.{type_name}.{name}`"
                ))
                .at(Some(r.span), "")),
            }
        }
        type_name => {
            let declared: Vec<&crate::config::Resource> = module
                .resources
                .iter()
                .filter(|x| x.mode == ResourceMode::Managed && x.type_name == type_name)
                .collect();
            if declared.is_empty() && schema::resource(type_name).is_none() {
                let mut candidates: Vec<&str> =
                    vec!["var", "local", "module", "each", "count", "path", "data"];
                if sm.parent.is_none() {
                    candidates.extend(ROOT_ONLY);
                }
                candidates.extend(module.resources.iter().map(|x| x.type_name.as_str()));
                return Err(Diagnostic::error(format!("unknown name `{type_name}`"))
                    .at(Some(r.span), "not a variable, local, module or resource")
                    .with_help(
                        did_you_mean(type_name, candidates).map(|s| format!("did you mean `{s}`?")),
                    ));
            }
            let name = first.ok_or_else(|| missing_attr("resource"))?;
            match module.resources.iter().position(|x| {
                x.mode == ResourceMode::Managed && x.type_name == type_name && x.name == name
            }) {
                Some(i) => Ok(vec![Node::Resource(ctx.module, i)]),
                None => Err(undeclared(
                    "resource",
                    &format!("{type_name}.{name}"),
                    r.span,
                    declared.iter().map(|x| x.name.as_str()),
                    name,
                )),
            }
        }
    }
}

fn undeclared<'a>(
    what: &str,
    full: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Diagnostic {
    Diagnostic::error(format!("reference to undeclared {what} `{full}`"))
        .at(Some(span), format!("no {what} named `{name}` here"))
        .with_help(did_you_mean(name, candidates).map(|s| format!("did you mean `{s}`?")))
}

/// One expanded module instance and the values evaluated in it so far.
struct ModInst {
    static_idx: usize,
    path: ModulePath,
    parent: Option<usize>,
    key: InstanceKey,
    each_value: Option<Value>,
    dir: Value,
    vars: Value,
    locals: Value,
    calls: Value,
    resources: BTreeMap<String, Value>,
}

fn empty_object() -> Value {
    Value::Object(BTreeMap::new())
}

fn object_mut(v: &mut Value) -> &mut BTreeMap<String, Value> {
    if !matches!(v, Value::Object(_)) {
        *v = empty_object();
    }
    match v {
        Value::Object(map) => map,
        _ => unreachable!("set to an object above"),
    }
}

/// The context objects of the root module: `service`, `env` and `platform`.
struct RootValues {
    service: Value,
    env: Value,
    platform: Value,
    root_dir: Value,
}

struct InstScope<'w> {
    inst: &'w ModInst,
    root: Option<&'w RootValues>,
    count: Option<i64>,
    each: Option<(Value, Value)>,
    root_dir: &'w Value,
}

impl Scope for InstScope<'_> {
    fn resolve(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "var" => Some(Cow::Borrowed(&self.inst.vars)),
            "local" => Some(Cow::Borrowed(&self.inst.locals)),
            "module" => Some(Cow::Borrowed(&self.inst.calls)),
            "count" => self.count.map(|i| {
                let mut m = BTreeMap::new();
                m.insert("index".to_string(), Value::int(i));
                Cow::Owned(Value::Object(m))
            }),
            "each" => self.each.as_ref().map(|(k, v)| {
                let mut m = BTreeMap::new();
                m.insert("key".to_string(), k.clone());
                m.insert("value".to_string(), v.clone());
                Cow::Owned(Value::Object(m))
            }),
            "path" => {
                let mut m = BTreeMap::new();
                m.insert("module".to_string(), self.inst.dir.clone());
                m.insert("root".to_string(), self.root_dir.clone());
                m.insert("cwd".to_string(), self.root_dir.clone());
                Some(Cow::Owned(Value::Object(m)))
            }
            "terraform" => {
                let mut m = BTreeMap::new();
                m.insert("workspace".to_string(), Value::string("default"));
                Some(Cow::Owned(Value::Object(m)))
            }
            "service" => self.root.map(|r| Cow::Borrowed(&r.service)),
            "env" => self.root.map(|r| Cow::Borrowed(&r.env)),
            "platform" => self.root.map(|r| Cow::Borrowed(&r.platform)),
            type_name => match self.inst.resources.get(type_name) {
                Some(v) => Some(Cow::Borrowed(v)),
                // A known type with no instances here: reading a name from it fails clearly.
                None if schema::resource(type_name).is_some() => Some(Cow::Owned(empty_object())),
                None => None,
            },
        }
    }
}

struct Walk<'r> {
    repo: &'r Repo,
    graph: &'r InstanceGraph<'r>,
    instance: &'r InstanceAddr,
    protected: bool,
    root: RootValues,
    instances: Vec<ModInst>,
    by_static: Vec<Vec<usize>>,
    prior: BTreeMap<String, &'r crate::state::StateResource>,
    /// New address to old address, for resources that `moved` blocks renamed.
    moved_from: HashMap<String, String>,
    changes: Vec<PlannedChange>,
    outputs: BTreeMap<String, Value>,
    diags: Diagnostics,
}

/// Plans one instance: evaluates its module tree and diffs every resource.
pub fn plan_instance(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
) -> (Option<InstancePlan>, Diagnostics) {
    plan_with_console(repo, instance, prior, Mode::Apply, None, &mut Vec::new())
}

/// Each `import` block's address and its evaluated id.
pub type ImportIds = Vec<(String, Result<Value, String>)>;

/// Evaluates the ids of the service's `import` blocks in its root module.
pub fn import_ids(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
) -> (ImportIds, Diagnostics) {
    let Some(service) = repo.service(&instance.service) else {
        return (Vec::new(), Diagnostics::default());
    };
    let imports = &service.module.imports;
    if imports.is_empty() {
        return (Vec::new(), Diagnostics::default());
    }
    let exprs: Vec<Expr> = imports.iter().map(|i| i.id.clone()).collect();
    let mut results = Vec::new();
    let (_, diags) = plan_with_console(
        repo,
        instance,
        prior,
        Mode::Apply,
        Some(ConsoleInput::Exprs(&exprs)),
        &mut results,
    );
    let ids = imports.iter().map(|i| i.to.clone()).zip(results).collect();
    (ids, diags)
}

/// What the console evaluates after the walk.
enum ConsoleInput<'a> {
    /// Expression sources typed at `yagura console`.
    Sources(&'a [String]),
    /// Expressions from the specs.
    Exprs(&'a [Expr]),
}

/// Plans the destruction of every resource of an instance, as `yagura destroy` does.
/// `prevent_destroy`, explicit or implied by a protected environment, still holds.
pub fn plan_destroy(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
) -> (Option<InstancePlan>, Diagnostics) {
    plan_with_console(repo, instance, prior, Mode::Destroy, None, &mut Vec::new())
}

/// What a plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Make the resources match the specs.
    Apply,
    /// Delete every resource in the state.
    Destroy,
}

/// Evaluates expressions in the root module of a planned instance, as `yagura console` does.
pub fn eval_in_instance(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
    sources: &[String],
) -> (Vec<Result<Value, String>>, Diagnostics) {
    let mut results = Vec::new();
    let (_, diags) = plan_with_console(
        repo,
        instance,
        prior,
        Mode::Apply,
        Some(ConsoleInput::Sources(sources)),
        &mut results,
    );
    (results, diags)
}

fn plan_with_console(
    repo: &Repo,
    instance: &InstanceAddr,
    prior: Option<&StateDocument>,
    mode: Mode,
    console: Option<ConsoleInput<'_>>,
    console_results: &mut Vec<Result<Value, String>>,
) -> (Option<InstancePlan>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let (Some(service), Some(env)) = (
        repo.service(&instance.service),
        repo.environment(&instance.env),
    ) else {
        diags.push(Diagnostic::error(format!("no instance {instance}")));
        return (None, diags);
    };
    let (graph, graph_diags) = instance_graph(repo, service);
    diags.extend(graph_diags);
    let Some(graph) = graph else {
        return (None, diags);
    };
    for module in graph.modules.iter().skip(1) {
        for import in &module.module.imports {
            diags.push(
                Diagnostic::error("`import` blocks belong in a service's spec, not in a module")
                    .at(Some(import.span), "")
                    .help(format!(
                        "import it from the service as `{}.{}`",
                        module.prefix, import.to
                    )),
            );
        }
    }
    let root = match root_values(repo, service, env) {
        Ok(root) => root,
        Err(d) => {
            diags.extend(d);
            return (None, diags);
        }
    };
    let mut walk = Walk {
        repo,
        graph: &graph,
        instance,
        protected: env.protected,
        root,
        instances: Vec::new(),
        by_static: vec![Vec::new(); graph.modules.len()],
        prior: BTreeMap::new(),
        moved_from: HashMap::new(),
        changes: Vec::new(),
        outputs: BTreeMap::new(),
        diags,
    };
    walk.apply_moves(prior);
    walk.add_instance(0, ModulePath::default(), None, InstanceKey::None, None);
    let order = graph
        .graph
        .evaluation_order()
        .expect("instance_graph rejected cycles");
    if mode == Mode::Apply {
        for idx in order {
            walk.eval_node(*graph.graph.node(idx));
        }
    }
    walk.plan_orphans(mode);
    walk.plan_deposed(prior);
    let message = |d: Diagnostic| match d.help {
        Some(help) => format!("{}; {help}", d.message),
        None => d.message,
    };
    match console {
        None => {}
        Some(ConsoleInput::Sources(sources)) => {
            let dir = walk.module_dir(0);
            let scope = walk.scope(0, None, None);
            for source in sources {
                let result = hcl::edit::parser::parse_expr(source.trim())
                    .map_err(|e| e.message().to_string())
                    .and_then(|parsed| {
                        let expr = Expr::lower(&parsed, crate::diag::FileId(u32::MAX));
                        Evaluator::new(&scope, &dir).eval(&expr).map_err(message)
                    });
                console_results.push(result);
            }
        }
        Some(ConsoleInput::Exprs(exprs)) => {
            let dir = walk.module_dir(0);
            let scope = walk.scope(0, None, None);
            for expr in exprs {
                console_results.push(Evaluator::new(&scope, &dir).eval(expr).map_err(message));
            }
        }
    }
    let mut changes = walk.changes;
    spread_create_before_destroy(&mut changes);
    changes.sort_by(|a, b| a.addr.cmp(&b.addr));
    let plan = InstancePlan {
        instance: instance.clone(),
        changes,
        outputs: walk.outputs,
        prior_lineage: prior.map(|p| p.lineage.clone()),
        prior_serial: prior.map(|p| p.serial),
    };
    let ok = !walk.diags.has_errors();
    (ok.then_some(plan), walk.diags)
}

fn eval_constant_body(
    body: &crate::config::Body,
    dir: &Path,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let mut ev = Evaluator::new(&EmptyScope, dir);
    let mut out = BTreeMap::new();
    for attr in &body.attributes {
        match ev.eval(&attr.expr) {
            Ok(v) => {
                out.insert(attr.name.clone(), v);
            }
            Err(d) => diags.push(d.note("platform and environment settings are constants")),
        }
    }
    out
}

fn root_values(
    repo: &Repo,
    service: &Service,
    env: &crate::config::Environment,
) -> Result<RootValues, Diagnostics> {
    let mut diags = Diagnostics::default();
    let dir = repo.root.as_path();
    let mut platform = eval_constant_body(&repo.platform.body, dir, &mut diags);
    for (key, blocks) in [
        ("clusters", &repo.platform.clusters),
        ("dns_zones", &repo.platform.dns_zones),
    ] {
        let mut map = BTreeMap::new();
        for block in blocks {
            let mut attrs = eval_constant_body(&block.body, dir, &mut diags);
            attrs
                .entry("name".to_string())
                .or_insert_with(|| Value::string(&block.labels[0]));
            map.insert(block.labels[0].clone(), Value::Object(attrs));
        }
        platform.insert(key.to_string(), Value::Object(map));
    }
    let mut env_values = eval_constant_body(&env.body, dir, &mut diags);
    env_values.insert("name".to_string(), Value::string(&env.name));
    env_values.insert("protected".to_string(), Value::Bool(env.protected));
    let mut service_values = BTreeMap::new();
    service_values.insert("name".to_string(), Value::string(&service.name));
    service_values.insert("owner".to_string(), Value::string(&service.owner));
    service_values.insert(
        "environments".to_string(),
        Value::Tuple(service.environments.iter().map(Value::string).collect()),
    );
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(RootValues {
        service: Value::Object(service_values),
        env: Value::Object(env_values),
        platform: Value::Object(platform),
        root_dir: Value::string("."),
    })
}

/// The keys `count` or `for_each` expand to, with `each.value` for `for_each`.
type Expansion = Vec<(InstanceKey, Option<Value>)>;

fn expand(
    ev: &mut Evaluator<'_>,
    count: Option<&Expr>,
    for_each: Option<&Expr>,
) -> Result<Option<Expansion>, Diagnostic> {
    if let Some(count) = count {
        let v = ev.eval(count)?;
        if v.is_sensitive() {
            return Err(
                Diagnostic::error("`count` cannot be a sensitive value").at(Some(count.span), "")
            );
        }
        let n = match v {
            Value::Unknown => {
                return Err(Diagnostic::error("`count` depends on values known only after apply")
                    .at(Some(count.span), "unknown during plan")
                    .help("base `count` on values known at plan time (variables, locals, literals)"));
            }
            Value::Null => {
                return Err(Diagnostic::error("`count` is null").at(Some(count.span), ""));
            }
            other => match types::convert(other, &Type::Number)
                .ok()
                .and_then(|n| n.as_number())
                .and_then(|n| n.as_i64())
            {
                Some(n) if n >= 0 => n,
                _ => {
                    return Err(
                        Diagnostic::error("`count` must be a whole number, 0 or more")
                            .at(Some(count.span), ""),
                    );
                }
            },
        };
        return Ok(Some((0..n).map(|i| (InstanceKey::Int(i), None)).collect()));
    }
    let Some(for_each) = for_each else {
        return Ok(None);
    };
    let v = ev.eval(for_each)?;
    if v.is_sensitive() {
        return Err(Diagnostic::error("`for_each` cannot be a sensitive value")
            .at(Some(for_each.span), "")
            .help("the keys of `for_each` appear in addresses, which are never secret"));
    }
    match v {
        Value::Unknown => Err(Diagnostic::error("`for_each` keys depend on values known only after apply")
            .at(Some(for_each.span), "unknown during plan")
            .help("build the keys from values known at plan time; the values may be unknown, the keys may not")),
        Value::Object(map) | Value::Map(map) => Ok(Some(map.into_iter().map(|(k, v)| (InstanceKey::Str(k), Some(v))).collect())),
        Value::Set(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.push((InstanceKey::Str(s.clone()), Some(Value::String(s)))),
                    Value::Unknown => {
                        return Err(Diagnostic::error("`for_each` keys depend on values known only after apply")
                            .at(Some(for_each.span), "a set element is unknown during plan"));
                    }
                    _ => return Err(Diagnostic::error("`for_each` over a set needs strings").at(Some(for_each.span), "")),
                }
            }
            Ok(Some(out))
        }
        Value::Tuple(_) | Value::List(_) => Err(Diagnostic::error("`for_each` needs a map or a set of strings, not a list")
            .at(Some(for_each.span), "")
            .help("convert the list with `toset(...)`, or build a map with a `for` expression")),
        Value::Null => Err(Diagnostic::error("`for_each` is null").at(Some(for_each.span), "")),
        other => Err(Diagnostic::error(format!("`for_each` needs a map or a set of strings, not a {}", other.type_name())).at(Some(for_each.span), "")),
    }
}

impl<'r> Walk<'r> {
    fn add_instance(
        &mut self,
        static_idx: usize,
        path: ModulePath,
        parent: Option<usize>,
        key: InstanceKey,
        each_value: Option<Value>,
    ) -> usize {
        let dir = self.graph.modules[static_idx]
            .module
            .dir
            .display()
            .to_string();
        self.instances.push(ModInst {
            static_idx,
            path,
            parent,
            key,
            each_value,
            dir: Value::String(dir),
            vars: empty_object(),
            locals: empty_object(),
            calls: empty_object(),
            resources: BTreeMap::new(),
        });
        let i = self.instances.len() - 1;
        self.by_static[static_idx].push(i);
        i
    }

    fn scope(
        &self,
        inst: usize,
        count: Option<i64>,
        each: Option<(Value, Value)>,
    ) -> InstScope<'_> {
        let root = (self.instances[inst].static_idx == 0).then_some(&self.root);
        InstScope {
            inst: &self.instances[inst],
            root,
            count,
            each,
            root_dir: &self.root.root_dir,
        }
    }

    fn module_dir(&self, static_idx: usize) -> std::path::PathBuf {
        self.repo
            .root
            .join(&self.graph.modules[static_idx].module.dir)
    }

    fn eval_node(&mut self, node: Node) {
        match node {
            Node::Expand(m) => self.eval_expand(m),
            Node::Var(m, i) => self.eval_var(m, i),
            Node::Local(m, i) => {
                let local = &self.graph.modules[m].module.locals[i];
                let dir = self.module_dir(m);
                for inst in self.by_static[m].clone() {
                    let scope = self.scope(inst, None, None);
                    let result = Evaluator::new(&scope, &dir).eval(&local.expr);
                    match result {
                        Ok(v) => {
                            object_mut(&mut self.instances[inst].locals)
                                .insert(local.name.clone(), v);
                        }
                        Err(d) => {
                            // An unknown stands in for the failed value, so one error does not cascade.
                            self.diags.push(d);
                            object_mut(&mut self.instances[inst].locals)
                                .insert(local.name.clone(), Value::Unknown);
                        }
                    }
                }
            }
            Node::Output(m, i) => self.eval_output(m, i),
            Node::Resource(m, i) => self.eval_resource(m, i),
        }
    }

    fn eval_expand(&mut self, m: usize) {
        let sm = &self.graph.modules[m];
        let parent_static = sm.parent.expect("only child modules expand");
        let call = sm.call.expect("child modules have a call");
        let dir = self.module_dir(parent_static);
        for parent in self.by_static[parent_static].clone() {
            let scope = self.scope(parent, None, None);
            let mut ev = Evaluator::new(&scope, &dir);
            let expansion = match expand(&mut ev, call.count.as_ref(), call.for_each.as_ref()) {
                Ok(e) => e,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            let parent_path = self.instances[parent].path.clone();
            let shape = match &expansion {
                None => {
                    self.add_instance(
                        m,
                        parent_path.child(&call.name, InstanceKey::None),
                        Some(parent),
                        InstanceKey::None,
                        None,
                    );
                    empty_object()
                }
                Some(keys) => {
                    for (key, each) in keys {
                        self.add_instance(
                            m,
                            parent_path.child(&call.name, key.clone()),
                            Some(parent),
                            key.clone(),
                            each.clone(),
                        );
                    }
                    if call.count.is_some() {
                        Value::Tuple(keys.iter().map(|_| empty_object()).collect())
                    } else {
                        Value::Object(
                            keys.iter()
                                .map(|(k, _)| (key_string(k), empty_object()))
                                .collect(),
                        )
                    }
                }
            };
            object_mut(&mut self.instances[parent].calls).insert(call.name.clone(), shape);
        }
    }

    fn eval_var(&mut self, m: usize, i: usize) {
        let sm = &self.graph.modules[m];
        let var = &sm.module.variables[i];
        let call = sm.call.expect("child modules have a call");
        let parent_static = sm.parent.expect("child modules have a parent");
        let parent_dir = self.module_dir(parent_static);
        let own_dir = self.module_dir(m);
        let arg = call.args.iter().find(|a| a.name == var.name);
        for inst in self.by_static[m].clone() {
            let parent = self.instances[inst]
                .parent
                .expect("child instances have a parent");
            let (count, each) = match (&self.instances[inst].key, &self.instances[inst].each_value)
            {
                (InstanceKey::Int(n), _) => (Some(*n), None),
                (InstanceKey::Str(k), Some(v)) => (None, Some((Value::string(k), v.clone()))),
                _ => (None, None),
            };
            let (value, span) = match arg {
                Some(arg) => {
                    let scope = self.scope(parent, count, each);
                    (
                        Evaluator::new(&scope, &parent_dir).eval(&arg.expr),
                        arg.expr.span,
                    )
                }
                None => match &var.default {
                    Some(default) => (
                        Evaluator::new(&EmptyScope, &own_dir).eval(default),
                        default.span,
                    ),
                    None => continue, // reported by the graph builder
                },
            };
            let value = match value {
                Ok(v) => v,
                Err(d) => {
                    self.diags.push(d);
                    object_mut(&mut self.instances[inst].vars)
                        .insert(var.name.clone(), Value::Unknown);
                    continue;
                }
            };
            let value = if value.is_null() && arg.is_some() {
                match (&var.default, var.nullable) {
                    (Some(default), _) if !var.nullable => Evaluator::new(&EmptyScope, &own_dir)
                        .eval(default)
                        .unwrap_or(Value::Null),
                    (None, false) => {
                        self.diags.push(
                            Diagnostic::error(format!("variable `{}` may not be null", var.name))
                                .at(Some(span), ""),
                        );
                        continue;
                    }
                    _ => value,
                }
            } else {
                value
            };
            let value = match types::convert(value, &var.ty) {
                Ok(v) => v,
                Err(m) => {
                    object_mut(&mut self.instances[inst].vars)
                        .insert(var.name.clone(), Value::Unknown);
                    self.diags.push(
                        Diagnostic::error(format!(
                            "invalid value for variable `{}`: {m}",
                            var.name
                        ))
                        .at(Some(span), format!("expected {}", var.ty))
                        .related(var.span, "declared here"),
                    );
                    continue;
                }
            };
            let value = if var.sensitive {
                value.sensitive()
            } else {
                value
            };
            object_mut(&mut self.instances[inst].vars).insert(var.name.clone(), value);
            for validation in &var.validations {
                let scope = self.scope(inst, None, None);
                let mut ev = Evaluator::new(&scope, &own_dir);
                match ev.eval(&validation.condition) {
                    Ok(Value::Bool(true)) | Ok(Value::Unknown) => {}
                    Ok(Value::Bool(false)) => {
                        let message = ev
                            .eval(&validation.error_message)
                            .ok()
                            .and_then(|m| m.as_str().map(str::to_string))
                            .unwrap_or_else(|| "the value is not valid".to_string());
                        self.diags.push(
                            Diagnostic::error(format!(
                                "invalid value for variable `{}`: {message}",
                                var.name
                            ))
                            .at(Some(span), "this value fails the validation")
                            .related(validation.condition.span, "the condition"),
                        );
                    }
                    Ok(_) => self.diags.push(
                        Diagnostic::error("a validation condition must be a bool")
                            .at(Some(validation.condition.span), ""),
                    ),
                    Err(d) => self.diags.push(d),
                }
            }
        }
    }

    fn eval_output(&mut self, m: usize, i: usize) {
        let sm = &self.graph.modules[m];
        let output = &sm.module.outputs[i];
        let dir = self.module_dir(m);
        for inst in self.by_static[m].clone() {
            let scope = self.scope(inst, None, None);
            let value = match Evaluator::new(&scope, &dir).eval(&output.expr) {
                Ok(v) => v,
                Err(d) => {
                    self.diags.push(d);
                    Value::Unknown
                }
            };
            if value.contains_sensitive() && !output.sensitive && !value.is_unknown() {
                self.diags.push(
                    Diagnostic::error(format!("output `{}` has a sensitive value", output.name))
                        .at(Some(output.expr.span), "")
                        .help("set `sensitive = true` in the output block to pass it on"),
                );
                continue;
            }
            let value = if output.sensitive {
                value.sensitive()
            } else {
                value
            };
            let Some(parent) = self.instances[inst].parent else {
                self.outputs.insert(output.name.clone(), value);
                continue;
            };
            let call_name = sm.call.expect("child modules have a call").name.clone();
            let key = self.instances[inst].key.clone();
            let calls = object_mut(&mut self.instances[parent].calls);
            let slot = calls.entry(call_name).or_insert_with(empty_object);
            let target = match (slot, &key) {
                (Value::Tuple(items), InstanceKey::Int(n)) => items.get_mut(*n as usize),
                (Value::Object(map), InstanceKey::Str(k)) => map.get_mut(k),
                (other, InstanceKey::None) => Some(other),
                _ => None,
            };
            if let Some(target) = target {
                object_mut(target).insert(output.name.clone(), value);
            }
        }
    }

    fn eval_resource(&mut self, m: usize, i: usize) {
        let graph = self.graph;
        let sm = &graph.modules[m];
        let resource = &sm.module.resources[i];
        if resource.mode == ResourceMode::Data {
            self.diags.push(
                Diagnostic::error(format!(
                    "data sources are not supported (`data.{}`)",
                    resource.type_name
                ))
                .at(Some(resource.type_span), ""),
            );
            return;
        }
        let Some(schema) = schema::resource(&resource.type_name) else {
            let names: Vec<&str> = schema::type_names().collect();
            self.diags.push(
                Diagnostic::error(format!("unknown resource type `{}`", resource.type_name))
                    .at(Some(resource.span), "not a supported type")
                    .note(format!("supported types: {}", names.join(", ")))
                    .with_help(
                        did_you_mean(&resource.type_name, names.iter().copied())
                            .map(|s| format!("did you mean `{s}`?")),
                    ),
            );
            return;
        };
        let dir = self.module_dir(m);
        let what = format!("{} \"{}\"", resource.type_name, resource.name);
        let dependencies: Vec<String> = graph
            .resource_deps
            .get(&Node::Resource(m, i))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for inst in self.by_static[m].clone() {
            let expansion = {
                let scope = self.scope(inst, None, None);
                let mut ev = Evaluator::new(&scope, &dir);
                match expand(&mut ev, resource.count.as_ref(), resource.for_each.as_ref()) {
                    Ok(e) => e,
                    Err(d) => {
                        self.diags.push(d);
                        continue;
                    }
                }
            };
            let keys: Expansion = expansion
                .clone()
                .unwrap_or_else(|| vec![(InstanceKey::None, None)]);
            let mut planned = Vec::new();
            for (key, each_value) in keys {
                let (count, each) = match (&key, each_value) {
                    (InstanceKey::Int(n), _) => (Some(*n), None),
                    (InstanceKey::Str(k), Some(v)) => (None, Some((Value::string(k), v))),
                    _ => (None, None),
                };
                let mut body_diags = Diagnostics::default();
                let config = {
                    let scope = self.scope(inst, count, each);
                    let mut ev = Evaluator::new(&scope, &dir);
                    eval_resource_body(
                        &mut ev,
                        &resource.body,
                        schema,
                        &what,
                        resource.span,
                        &mut body_diags,
                    )
                };
                let failed = body_diags.has_errors();
                self.diags.extend(body_diags);
                let addr = ResourceAddr {
                    module: self.instances[inst].path.clone(),
                    mode: resource.mode,
                    type_name: resource.type_name.clone(),
                    name: resource.name.clone(),
                    key: key.clone(),
                };
                if failed {
                    planned.push((key, Value::Unknown));
                    continue;
                }
                let address = addr.to_string();
                let prior = self.prior.remove(&address);
                let previous_address = prior.and_then(|_| self.moved_from.get(&address).cloned());
                let prior_values = prior.map(|p| conform_state(&p.attributes, &schema.block));
                let result = diff(schema, config, prior_values.as_ref(), &resource.lifecycle);
                if let Some(reason) = &result.refused {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "{}/{address} cannot be changed: {reason}",
                            self.instance
                        ))
                        .at(Some(resource.span), ""),
                    );
                }
                if result.action == ChangeAction::Replace {
                    self.check_prevent_destroy(
                        &address,
                        resource.lifecycle.prevent_destroy,
                        schema,
                        resource.span,
                        "replaced",
                    );
                }
                planned.push((key, result.after.clone()));
                self.changes.push(PlannedChange {
                    addr,
                    action: result.action,
                    before: prior_values.map(|p| mark_sensitive(&schema.block, p)),
                    after: Some(result.after),
                    replace_paths: result.replace_paths,
                    reason: None,
                    create_before_destroy: resource.lifecycle.create_before_destroy,
                    dependencies: dependencies.clone(),
                    previous_address,
                    importing: None,
                });
            }
            let value = match (&expansion, resource.count.is_some()) {
                (None, _) => planned.pop().map_or(Value::Unknown, |(_, v)| v),
                (Some(_), true) => Value::Tuple(planned.into_iter().map(|(_, v)| v).collect()),
                (Some(_), false) => Value::Object(
                    planned
                        .into_iter()
                        .map(|(k, v)| (key_string(&k), v))
                        .collect(),
                ),
            };
            let by_type = self.instances[inst]
                .resources
                .entry(resource.type_name.clone())
                .or_insert_with(empty_object);
            object_mut(by_type).insert(resource.name.clone(), value);
        }
    }

    /// Keys the prior state by address, following the `moved` blocks of every module.
    fn apply_moves(&mut self, prior: Option<&'r StateDocument>) {
        let Some(prior) = prior else { return };
        let mut by_address: BTreeMap<String, &'r crate::state::StateResource> = prior
            .resources
            .iter()
            .map(|r| (r.address.clone(), r))
            .collect();
        for module in &self.graph.modules {
            let prefix = if module.prefix.is_empty() {
                String::new()
            } else {
                format!("{}.", module.prefix)
            };
            for moved in &module.module.moved {
                let from = format!("{prefix}{}", moved.from);
                let to = format!("{prefix}{}", moved.to);
                let matching: Vec<String> = by_address
                    .keys()
                    .filter(|a| moved_suffix(a, &from).is_some())
                    .cloned()
                    .collect();
                for old in matching {
                    let suffix = moved_suffix(&old, &from).expect("filtered above");
                    let new = format!("{to}{suffix}");
                    if by_address.contains_key(&new) {
                        self.diags.push(
                            Diagnostic::error(format!(
                                "{}: cannot move {old} to {new}, which the state already holds",
                                self.instance
                            ))
                            .at(Some(moved.span), ""),
                        );
                        continue;
                    }
                    let resource = by_address.remove(&old).expect("listed above");
                    let original = self.moved_from.remove(&old).unwrap_or(old);
                    self.moved_from.insert(new.clone(), original);
                    by_address.insert(new, resource);
                }
            }
        }
        self.prior = by_address;
    }

    fn check_prevent_destroy(
        &mut self,
        address: &str,
        explicit: Option<bool>,
        schema: &schema::ResourceSchema,
        span: Span,
        verb: &str,
    ) {
        let implied = self.protected && schema.protected_in_protected_envs;
        let (prevent, why) = match explicit {
            Some(p) => (p, "its `lifecycle { prevent_destroy = true }`".to_string()),
            None => (
                implied,
                format!("{} is a protected environment", self.instance.env),
            ),
        };
        if prevent {
            self.diags.push(
                Diagnostic::error(format!("{}/{address} would be {verb}, but {why} forbids destroying it", self.instance))
                    .at(Some(span), "")
                    .help("if destroying it is intended, set `lifecycle { prevent_destroy = false }` on the resource"),
            );
        }
    }

    /// The declaration of a resource address, whatever its keys.
    fn declared_resource(&self, addr: &ResourceAddr) -> Option<&'r crate::config::Resource> {
        let prefix = addr
            .module
            .0
            .iter()
            .map(|step| format!("module.{}", step.name))
            .collect::<Vec<_>>()
            .join(".");
        let graph: &'r InstanceGraph<'r> = self.graph;
        graph
            .modules
            .iter()
            .find(|m| m.prefix == prefix)?
            .module
            .resources
            .iter()
            .find(|r| r.mode == addr.mode && r.type_name == addr.type_name && r.name == addr.name)
    }

    /// Old objects of `create_before_destroy` replacements that an interrupted apply
    /// left are deleted.
    fn plan_deposed(&mut self, prior: Option<&StateDocument>) {
        for old in prior.iter().flat_map(|p| &p.deposed) {
            let Ok(addr) = ResourceAddr::parse(&old.address) else {
                continue;
            };
            let before = match schema::resource(&old.type_name) {
                Some(s) => mark_sensitive(&s.block, conform_state(&old.attributes, &s.block)),
                None => Value::from_json(&serde_json::Value::Object(old.attributes.clone())),
            };
            self.changes.push(PlannedChange {
                addr,
                action: ChangeAction::Delete,
                before: Some(before),
                after: None,
                replace_paths: Vec::new(),
                reason: Some(ActionReason::Deposed),
                create_before_destroy: true,
                dependencies: old.dependencies.clone(),
                previous_address: None,
                importing: None,
            });
        }
    }

    /// Resources in the prior state that the specs no longer declare (or, when
    /// destroying, every resource left in it) are deleted.
    fn plan_orphans(&mut self, mode: Mode) {
        let orphans: Vec<(String, &crate::state::StateResource)> =
            std::mem::take(&mut self.prior).into_iter().collect();
        for (address, stored) in orphans {
            let addr = match ResourceAddr::parse(&address) {
                Ok(a) => a,
                Err(m) => {
                    self.diags.push(Diagnostic::error(format!(
                        "the state of {} holds an invalid address: {m}",
                        self.instance
                    )));
                    continue;
                }
            };
            let schema = schema::resource(&stored.type_name);
            let before = match schema {
                Some(s) => mark_sensitive(&s.block, conform_state(&stored.attributes, &s.block)),
                None => Value::from_json(&serde_json::Value::Object(stored.attributes.clone())),
            };
            let still_declared = self.declared_resource(&addr).is_some();
            // A resource still declared (only its key went away) keeps its
            // lifecycle; a removed one has only the protection its type implies.
            let declared = self.declared_resource(&addr);
            match (declared, schema) {
                (Some(resource), Some(s)) => {
                    let (explicit, span) = (resource.lifecycle.prevent_destroy, resource.span);
                    self.check_prevent_destroy(&address, explicit, s, span, "destroyed");
                }
                (None, Some(s)) if self.protected && s.protected_in_protected_envs => {
                    self.diags.push(
                        Diagnostic::error(format!(
                            "{}/{} would be destroyed, but {} is a protected environment",
                            self.instance, address, self.instance.env
                        ))
                        .help("resources of this type are kept in protected environments; remove it from the state with `yagura state rm` if it is really gone"),
                    );
                }
                _ => {}
            }
            self.changes.push(PlannedChange {
                addr,
                action: ChangeAction::Delete,
                before: Some(before),
                after: None,
                replace_paths: Vec::new(),
                reason: match (mode, still_declared) {
                    (Mode::Destroy, _) => None,
                    (Mode::Apply, true) => Some(ActionReason::KeyNoLongerInConfig),
                    (Mode::Apply, false) => Some(ActionReason::NoLongerInConfig),
                },
                create_before_destroy: false,
                dependencies: stored.dependencies.clone(),
                previous_address: self.moved_from.get(&address).cloned(),
                importing: None,
            });
        }
    }
}

/// As in Terraform, `create_before_destroy` spreads to the replaced resources that
/// a `create_before_destroy` replacement depends on: its new object needs their
/// new objects before their old ones can go.
fn spread_create_before_destroy(changes: &mut [PlannedChange]) {
    loop {
        let needed: BTreeSet<String> = changes
            .iter()
            .filter(|c| c.action == ChangeAction::Replace && c.create_before_destroy)
            .flat_map(|c| c.dependencies.iter().cloned())
            .collect();
        let mut spread = false;
        for change in changes.iter_mut() {
            if change.action == ChangeAction::Replace
                && !change.create_before_destroy
                && needed.contains(&crate::addr::static_label(&change.addr.to_string()))
            {
                change.create_before_destroy = true;
                spread = true;
            }
        }
        if !spread {
            return;
        }
    }
}

/// The rest of `address` after `from` when `from` names it or contains it
/// (`module.a` contains `module.a.x.y`; `x.y` contains `x.y[0]`).
fn moved_suffix<'a>(address: &'a str, from: &str) -> Option<&'a str> {
    let rest = address.strip_prefix(from)?;
    (rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')).then_some(rest)
}

fn key_string(key: &InstanceKey) -> String {
    match key {
        InstanceKey::None => String::new(),
        InstanceKey::Int(i) => i.to_string(),
        InstanceKey::Str(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::moved_suffix;

    #[test]
    fn moves_match_whole_names_only() {
        assert_eq!(moved_suffix("module.a.x.y", "module.a"), Some(".x.y"));
        assert_eq!(
            moved_suffix("module.a[\"k\"].x.y", "module.a"),
            Some("[\"k\"].x.y")
        );
        assert_eq!(moved_suffix("x.y[0]", "x.y"), Some("[0]"));
        assert_eq!(moved_suffix("x.y", "x.y"), Some(""));
        assert_eq!(moved_suffix("module.ab.x.y", "module.a"), None);
        assert_eq!(moved_suffix("x.yz", "x.y"), None);
    }
}
