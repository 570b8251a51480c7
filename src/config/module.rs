//! A module: `variable`, `locals`, `resource`, `data`, `module` and `output`
//! blocks read from one directory. A service directory is the root module of
//! its instances.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, Span};
use crate::lang::expr::{Expr, ExprKind};
use crate::lang::types::{ObjectAttr, Type};

use super::body::{Attribute, Block, Body};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceMode {
    Managed,
    Data,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub name: String,
    pub ty: Type,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
}

#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub prevent_destroy: Option<bool>,
    pub create_before_destroy: bool,
    /// Attribute paths whose changes are ignored.
    pub ignore_changes: Vec<Vec<String>>,
    /// `ignore_changes = all`.
    pub ignore_all_changes: bool,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub mode: ResourceMode,
    pub type_name: String,
    pub name: String,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    pub lifecycle: Lifecycle,
    pub body: Body,
    pub type_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub name: String,
    pub source: String,
    /// The module directory the source resolves to.
    pub dir: PathBuf,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<Expr>,
    pub args: Vec<Attribute>,
    pub source_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Output {
    pub name: String,
    pub expr: Expr,
    /// Resources whose changes must finish before anything reading this output.
    pub depends_on: Vec<Expr>,
    pub sensitive: bool,
    pub description: Option<String>,
    pub span: Span,
}

/// Everything declared in one module directory.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub dir: PathBuf,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    pub resources: Vec<Resource>,
    pub calls: Vec<ModuleCall>,
    pub outputs: Vec<Output>,
    pub moved: Vec<Moved>,
    /// `import` blocks: existing resources to adopt at addresses the specs declare.
    pub imports: Vec<Import>,
}

/// An `import { to = ..., id = ... }` block, as in Terraform 1.5: the resource
/// with that id is read and recorded at `to` by the next apply.
#[derive(Clone, Debug)]
pub struct Import {
    /// The address, relative to the service's root module.
    pub to: String,
    /// The id expression; it may use `service`, `env`, `platform`, variables and locals.
    pub id: crate::lang::expr::Expr,
    pub span: Span,
}

/// A `moved { from = ..., to = ... }` block: a resource or module call renamed
/// in the specs, whose stored state follows it instead of being replaced.
#[derive(Clone, Debug)]
pub struct Moved {
    /// Addresses relative to the module that declares the block.
    pub from: String,
    pub to: String,
    pub span: Span,
}

impl Module {
    /// Adds the top-level blocks of one file; blocks it does not own are returned.
    pub fn add_blocks(&mut self, blocks: Vec<Block>, diags: &mut Diagnostics) -> Vec<Block> {
        let mut others = Vec::new();
        for block in blocks {
            match block.kind.as_str() {
                "variable" => self.add_variable(block, diags),
                "locals" => self.add_locals(block, diags),
                "resource" | "data" => self.add_resource(block, diags),
                "module" => self.add_call(block, diags),
                "output" => self.add_output(block, diags),
                "moved" => self.add_moved(block, diags),
                "import" => self.add_import(block, diags),
                _ => others.push(block),
            }
        }
        others
    }

    fn add_variable(&mut self, block: Block, diags: &mut Diagnostics) {
        if !block.expect_labels(&["NAME"], diags) {
            return;
        }
        let body = &block.body;
        body.check_allowed(
            "a `variable` block",
            &["type", "default", "description", "sensitive", "nullable"],
            &["validation"],
            diags,
        );
        let name = block.labels[0].clone();
        if let Some(first) = self.variables.iter().find(|v| v.name == name) {
            diags.push(duplicate("variable", &name, block.span, first.span));
            return;
        }
        let ty = match body.attribute("type") {
            Some(attr) => match parse_type(&attr.expr) {
                Ok(ty) => ty,
                Err(d) => {
                    diags.push(d);
                    Type::Any
                }
            },
            None => Type::Any,
        };
        let validations = body
            .blocks_of("validation")
            .filter_map(|v| {
                v.body.check_allowed(
                    "a `validation` block",
                    &["condition", "error_message"],
                    &[],
                    diags,
                );
                match (
                    v.body.attribute("condition"),
                    v.body.attribute("error_message"),
                ) {
                    (Some(c), Some(m)) => Some(Validation {
                        condition: c.expr.clone(),
                        error_message: m.expr.clone(),
                    }),
                    _ => {
                        diags.push(
                            Diagnostic::error(
                                "a `validation` block needs `condition` and `error_message`",
                            )
                            .at(Some(v.kind_span), ""),
                        );
                        None
                    }
                }
            })
            .collect();
        self.variables.push(Variable {
            name,
            ty,
            default: body.attribute("default").map(|a| a.expr.clone()),
            description: body
                .attribute("description")
                .and_then(|a| a.expr.as_literal_str().map(str::to_string)),
            sensitive: literal_bool(body.attribute("sensitive"), diags).unwrap_or(false),
            nullable: literal_bool(body.attribute("nullable"), diags).unwrap_or(true),
            validations,
            span: block.span,
        });
    }

    fn add_locals(&mut self, block: Block, diags: &mut Diagnostics) {
        block.expect_labels(&[], diags);
        for attr in block.body.attributes {
            if let Some(first) = self.locals.iter().find(|l| l.name == attr.name) {
                diags.push(duplicate("local value", &attr.name, attr.span, first.span));
                continue;
            }
            self.locals.push(Local {
                name: attr.name,
                expr: attr.expr,
                span: attr.span,
            });
        }
        for b in &block.body.blocks {
            diags.push(
                Diagnostic::error("a `locals` block holds only attributes")
                    .at(Some(b.kind_span), ""),
            );
        }
    }

    fn add_resource(&mut self, block: Block, diags: &mut Diagnostics) {
        if !block.expect_labels(&["TYPE", "NAME"], diags) {
            return;
        }
        let mode = if block.kind == "data" {
            ResourceMode::Data
        } else {
            ResourceMode::Managed
        };
        let type_name = block.labels[0].clone();
        let name = block.labels[1].clone();
        if !is_identifier(&name) {
            diags.push(
                Diagnostic::error(format!("invalid resource name {name:?}"))
                    .at(Some(block.span), "")
                    .help("a name starts with a letter or underscore and holds letters, digits, underscores and dashes"),
            );
        }
        if let Some(first) = self
            .resources
            .iter()
            .find(|r| r.mode == mode && r.type_name == type_name && r.name == name)
        {
            diags.push(duplicate(
                "resource",
                &format!("{type_name}.{name}"),
                block.span,
                first.span,
            ));
            return;
        }
        let mut body = block.body;
        let count = take_attr(&mut body, "count");
        let for_each = take_attr(&mut body, "for_each");
        if let (Some(_), Some(f)) = (&count, &for_each) {
            diags.push(
                Diagnostic::error("`count` and `for_each` cannot both be set")
                    .at(Some(f.span), "choose one of them"),
            );
        }
        let depends_on = take_attr(&mut body, "depends_on")
            .map(|e| depends_on_list(e, diags))
            .unwrap_or_default();
        if let Some(p) = take_attr(&mut body, "provider") {
            diags.push(
                Diagnostic::error(
                    "`provider` is not supported: resources use the platform's providers",
                )
                .at(Some(p.span), ""),
            );
        }
        let lifecycle = take_block(&mut body, "lifecycle")
            .map(|b| parse_lifecycle(&b, diags))
            .unwrap_or_default();
        let type_span = block.kind_span;
        self.resources.push(Resource {
            mode,
            type_name,
            name,
            count,
            for_each,
            depends_on,
            lifecycle,
            body,
            type_span,
            span: block.span,
        });
    }

    fn add_call(&mut self, block: Block, diags: &mut Diagnostics) {
        if !block.expect_labels(&["NAME"], diags) {
            return;
        }
        let name = block.labels[0].clone();
        if let Some(first) = self.calls.iter().find(|c| c.name == name) {
            diags.push(duplicate("module call", &name, block.span, first.span));
            return;
        }
        let mut body = block.body;
        let Some(source_attr) = body
            .attributes
            .iter()
            .position(|a| a.name == "source")
            .map(|i| body.attributes.remove(i))
        else {
            diags.push(Diagnostic::error(format!("module \"{name}\" has no `source`")).at(Some(block.kind_span), "")
                .help("set `source` to the module's directory, e.g. \"../../modules/microservice\""));
            return;
        };
        let Some(source) = source_attr.expr.as_literal_str().map(str::to_string) else {
            diags.push(
                Diagnostic::error("`source` must be a literal string")
                    .at(Some(source_attr.expr.span), ""),
            );
            return;
        };
        if !(source.starts_with("./") || source.starts_with("../")) {
            diags.push(
                Diagnostic::error(format!("unsupported module source {source:?}"))
                    .at(Some(source_attr.expr.span), "not a local path")
                    .help("modules are local directories: start the source with ./ or ../"),
            );
            return;
        }
        let count = take_attr(&mut body, "count");
        let for_each = take_attr(&mut body, "for_each");
        let depends_on = take_attr(&mut body, "depends_on")
            .map(|e| depends_on_list(e, diags))
            .unwrap_or_default();
        for attr in ["version", "providers"] {
            if let Some(a) = take_attr(&mut body, attr) {
                diags.push(
                    Diagnostic::error(format!("`{attr}` is not supported in module calls"))
                        .at(Some(a.span), ""),
                );
            }
        }
        for b in &body.blocks {
            diags.push(
                Diagnostic::error("module calls take only arguments").at(Some(b.kind_span), ""),
            );
        }
        self.calls.push(ModuleCall {
            name,
            dir: normalize(&self.dir.join(&source)),
            source,
            count,
            for_each,
            depends_on,
            args: body.attributes,
            source_span: source_attr.expr.span,
            span: block.span,
        });
    }

    fn add_moved(&mut self, block: Block, diags: &mut Diagnostics) {
        block.expect_labels(&[], diags);
        block
            .body
            .check_allowed("a `moved` block", &["from", "to"], &[], diags);
        let address = |name: &str, diags: &mut Diagnostics| -> Option<String> {
            let Some(attr) = block.body.attribute(name) else {
                diags.push(
                    Diagnostic::error(format!("a `moved` block needs `{name}`"))
                        .at(Some(block.kind_span), ""),
                );
                return None;
            };
            let text = address_text(&attr.expr);
            let valid = text.as_deref().is_some_and(|t| {
                crate::addr::ResourceAddr::parse(t).is_ok() || is_module_address(t)
            });
            if !valid {
                diags.push(
                    Diagnostic::error(format!("`{name}` must be a resource or module address"))
                        .at(Some(attr.expr.span), "")
                        .help("for example `google_project.old`, `google_project.p[0]` or `module.app`"),
                );
                return None;
            }
            text
        };
        let (Some(from), Some(to)) = (address("from", diags), address("to", diags)) else {
            return;
        };
        if is_module_address(&from) != is_module_address(&to) {
            diags.push(
                Diagnostic::error(
                    "a `moved` block moves a resource to a resource or a module to a module",
                )
                .at(Some(block.span), ""),
            );
            return;
        }
        self.moved.push(Moved {
            from,
            to,
            span: block.span,
        });
    }

    fn add_import(&mut self, block: Block, diags: &mut Diagnostics) {
        block.expect_labels(&[], diags);
        block
            .body
            .check_allowed("an `import` block", &["to", "id"], &[], diags);
        let (Some(to), Some(id)) = (block.body.attribute("to"), block.body.attribute("id")) else {
            diags.push(
                Diagnostic::error("an `import` block needs `to` and `id`")
                    .at(Some(block.kind_span), ""),
            );
            return;
        };
        let Some(address) = address_text(&to.expr)
            .filter(|t| crate::addr::ResourceAddr::parse(t).is_ok() && !is_module_address(t))
        else {
            diags.push(
                Diagnostic::error("`to` must be a resource address")
                    .at(Some(to.expr.span), "")
                    .help("for example `google_project.this` or `module.app.google_project.this`"),
            );
            return;
        };
        if self.imports.iter().any(|i| i.to == address) {
            diags.push(
                Diagnostic::error(format!("{address} is imported twice")).at(Some(block.span), ""),
            );
            return;
        }
        self.imports.push(Import {
            to: address,
            id: id.expr.clone(),
            span: block.span,
        });
    }

    fn add_output(&mut self, block: Block, diags: &mut Diagnostics) {
        if !block.expect_labels(&["NAME"], diags) {
            return;
        }
        let body = &block.body;
        body.check_allowed(
            "an `output` block",
            &["value", "description", "sensitive", "depends_on"],
            &[],
            diags,
        );
        let name = block.labels[0].clone();
        if let Some(first) = self.outputs.iter().find(|o| o.name == name) {
            diags.push(duplicate("output", &name, block.span, first.span));
            return;
        }
        let Some(value) = body.attribute("value") else {
            diags.push(
                Diagnostic::error(format!("output \"{name}\" has no `value`"))
                    .at(Some(block.kind_span), ""),
            );
            return;
        };
        let depends_on = body
            .attribute("depends_on")
            .map(|a| depends_on_list(a.expr.clone(), diags))
            .unwrap_or_default();
        self.outputs.push(Output {
            name,
            expr: value.expr.clone(),
            depends_on,
            sensitive: literal_bool(body.attribute("sensitive"), diags).unwrap_or(false),
            description: body
                .attribute("description")
                .and_then(|a| a.expr.as_literal_str().map(str::to_string)),
            span: block.span,
        });
    }
}

fn duplicate(what: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(format!("duplicate {what} `{name}`"))
        .at(Some(span), "declared again here")
        .related(first, "first declared here")
}

fn take_attr(body: &mut Body, name: &str) -> Option<Expr> {
    let i = body.attributes.iter().position(|a| a.name == name)?;
    Some(body.attributes.remove(i).expr)
}

fn take_block(body: &mut Body, kind: &str) -> Option<Block> {
    let i = body.blocks.iter().position(|b| b.kind == kind)?;
    Some(body.blocks.remove(i))
}

fn depends_on_list(expr: Expr, diags: &mut Diagnostics) -> Vec<Expr> {
    match expr.kind {
        ExprKind::Tuple(items) => items,
        _ => {
            diags.push(
                Diagnostic::error("`depends_on` must be a list of references")
                    .at(Some(expr.span), ""),
            );
            Vec::new()
        }
    }
}

fn literal_bool(attr: Option<&Attribute>, diags: &mut Diagnostics) -> Option<bool> {
    let attr = attr?;
    match &attr.expr.kind {
        ExprKind::Literal(crate::lang::Value::Bool(b)) => Some(*b),
        _ => {
            diags.push(
                Diagnostic::error(format!("`{}` must be `true` or `false`", attr.name))
                    .at(Some(attr.expr.span), ""),
            );
            None
        }
    }
}

fn parse_lifecycle(block: &Block, diags: &mut Diagnostics) -> Lifecycle {
    block.body.check_allowed(
        "a `lifecycle` block",
        &["prevent_destroy", "create_before_destroy", "ignore_changes"],
        &["precondition", "postcondition"],
        diags,
    );
    let mut ignore_changes = Vec::new();
    let mut ignore_all_changes = false;
    if let Some(attr) = block.body.attribute("ignore_changes") {
        match &attr.expr.kind {
            ExprKind::Var(name) if name == "all" => ignore_all_changes = true,
            ExprKind::Tuple(items) => {
                for item in items {
                    match item.as_static_traversal() {
                        Some((root, attrs)) => {
                            ignore_changes.push(std::iter::once(root).chain(attrs).collect())
                        }
                        None => diags.push(
                            Diagnostic::error("`ignore_changes` lists attribute names")
                                .at(Some(item.span), ""),
                        ),
                    }
                }
            }
            _ => diags.push(
                Diagnostic::error("`ignore_changes` must be a list of attribute names or `all`")
                    .at(Some(attr.expr.span), ""),
            ),
        }
    }
    Lifecycle {
        prevent_destroy: literal_bool(block.body.attribute("prevent_destroy"), diags),
        create_before_destroy: literal_bool(block.body.attribute("create_before_destroy"), diags)
            .unwrap_or(false),
        ignore_changes,
        ignore_all_changes,
    }
}

/// Parses a type constraint expression such as `map(object({ a = optional(string, "x") }))`.
pub fn parse_type(expr: &Expr) -> Result<Type, Diagnostic> {
    let bad = |msg: &str| {
        Diagnostic::error(format!("invalid type constraint: {msg}")).at(Some(expr.span), "")
    };
    match &expr.kind {
        ExprKind::Var(name) => match name.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            "list" => Ok(Type::List(Box::new(Type::Any))),
            "map" => Ok(Type::Map(Box::new(Type::Any))),
            "set" => Ok(Type::Set(Box::new(Type::Any))),
            other => Err(bad(&format!("unknown type `{other}`"))),
        },
        ExprKind::Call { name, args, .. } => match (name.as_str(), args.as_slice()) {
            ("list", [t]) => Ok(Type::List(Box::new(parse_type(t)?))),
            ("set", [t]) => Ok(Type::Set(Box::new(parse_type(t)?))),
            ("map", [t]) => Ok(Type::Map(Box::new(parse_type(t)?))),
            ("tuple", [t]) => match &t.kind {
                ExprKind::Tuple(items) => Ok(Type::Tuple(
                    items.iter().map(parse_type).collect::<Result<_, _>>()?,
                )),
                _ => Err(bad("`tuple` takes a list of types")),
            },
            ("object", [t]) => match &t.kind {
                ExprKind::Object(items) => {
                    let mut attrs = std::collections::BTreeMap::new();
                    for (key, value) in items {
                        let key = match key {
                            crate::lang::expr::ObjectKey::Name(n) => n.clone(),
                            crate::lang::expr::ObjectKey::Expr(e) => match e
                                .as_bare_name()
                                .or(e.as_literal_str())
                            {
                                Some(n) => n.to_string(),
                                None => return Err(bad("object attribute names must be names")),
                            },
                        };
                        attrs.insert(key, parse_object_attr(value)?);
                    }
                    Ok(Type::Object(attrs))
                }
                _ => Err(bad("`object` takes an object of attribute types")),
            },
            ("optional", _) => Err(bad(
                "`optional` is only allowed for attributes of an object type",
            )),
            (other, _) => Err(bad(&format!("unknown type constructor `{other}`"))),
        },
        _ => Err(bad("expected a type such as `string` or `list(string)`")),
    }
}

fn parse_object_attr(expr: &Expr) -> Result<ObjectAttr, Diagnostic> {
    if let ExprKind::Call { name, args, .. } = &expr.kind
        && name == "optional"
    {
        let ty = match args.first() {
            Some(t) => parse_type(t)?,
            None => {
                return Err(Diagnostic::error("`optional` needs a type").at(Some(expr.span), ""));
            }
        };
        let default = match args.get(1) {
            Some(d) => Some(
                crate::lang::eval::Evaluator::new(&crate::lang::eval::EmptyScope, Path::new("."))
                    .eval(d)
                    .map_err(|e| e.note("the default of `optional` must be a constant"))?,
            ),
            None => None,
        };
        return Ok(ObjectAttr {
            ty,
            optional: true,
            default,
        });
    }
    Ok(ObjectAttr {
        ty: parse_type(expr)?,
        optional: false,
        default: None,
    })
}

/// Returns true for Terraform identifiers: a letter or `_`, then letters, digits, `_` or `-`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Removes `.` and `..` components without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The text of an address written as an expression: `module.a.google_project.p["k"]`.
fn address_text(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Var(name) => Some(name.clone()),
        ExprKind::GetAttr(inner, attr) => Some(format!("{}.{attr}", address_text(inner)?)),
        ExprKind::Index(inner, key) => {
            let key = match &key.kind {
                ExprKind::Literal(crate::lang::Value::Number(n)) => n.to_string(),
                _ => serde_json::Value::String(key.as_literal_str()?.to_string()).to_string(),
            };
            Some(format!("{}[{key}]", address_text(inner)?))
        }
        _ => None,
    }
}

/// Returns true for `module.NAME` and `module.NAME[KEY]` (a whole module call).
pub fn is_module_address(text: &str) -> bool {
    text.strip_prefix("module.")
        .is_some_and(|rest| !rest.contains('.') && !rest.is_empty())
}
