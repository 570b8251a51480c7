//! Finds and parses a platform repo: `yagura.hcl`, `services/<name>/*.hcl` and
//! the modules they call, into typed declarations with spans.
//!
//! Invariant: no evaluation happens here beyond reading literals (service
//! owners, environment lists, module sources, the state backend); expressions
//! are kept for `plan` to evaluate per instance.

pub mod body;
pub mod module;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Diagnostics, SourceMap, Span};
use crate::lang::Value;
use crate::lang::expr::ExprKind;

pub use body::{Attribute, Block, Body, DynamicBlock};
pub use module::{
    Import, Lifecycle, Local, Module, ModuleCall, Moved, Output, Resource, ResourceMode, Variable,
};

/// The name of the platform file at the repo root.
pub const PLATFORM_FILE: &str = "yagura.hcl";

/// A loaded platform repo.
#[derive(Debug, Default)]
pub struct Repo {
    pub root: PathBuf,
    pub sources: SourceMap,
    pub platform: Platform,
    pub environments: Vec<Environment>,
    pub services: Vec<Service>,
    /// Every module a service calls, directly or not, keyed by its directory relative to the root.
    pub modules: BTreeMap<PathBuf, Module>,
}

/// The `platform` block.
#[derive(Debug, Default)]
pub struct Platform {
    /// Free-form attributes, readable as `platform.<name>`.
    pub body: Body,
    pub clusters: Vec<Block>,
    pub dns_zones: Vec<Block>,
    pub state: StateConfig,
    /// API endpoint overrides by API name (`sqladmin = "http://127.0.0.1:9000"`).
    pub endpoints: BTreeMap<String, String>,
    pub span: Option<Span>,
}

/// Where instance state lives.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    pub backend: String,
    /// Backend settings as literal strings (`path` for local, `bucket` for gcs, ...).
    pub settings: BTreeMap<String, String>,
}

impl Default for StateConfig {
    fn default() -> StateConfig {
        StateConfig {
            backend: "local".to_string(),
            settings: BTreeMap::new(),
        }
    }
}

/// An `environment "NAME"` block.
#[derive(Debug)]
pub struct Environment {
    pub name: String,
    pub protected: bool,
    pub cluster: Option<String>,
    /// All attributes, readable as `env.<name>`.
    pub body: Body,
    pub span: Span,
}

/// A service: its `service` block and its directory as the root module.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub owner: String,
    pub environments: Vec<String>,
    pub module: Module,
    pub span: Span,
}

impl Repo {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn module(&self, dir: &Path) -> Option<&Module> {
        self.modules.get(dir)
    }

    /// Reads a platform repo. The result is usable even when diagnostics hold
    /// errors: everything that parsed is there, so one run reports every problem.
    pub fn load(root: &Path) -> (Repo, Diagnostics) {
        let mut loader = Loader {
            repo: Repo {
                root: root.to_path_buf(),
                ..Repo::default()
            },
            diags: Diagnostics::default(),
        };
        loader.load_platform();
        loader.load_services();
        loader.load_modules();
        (loader.repo, loader.diags)
    }
}

struct Loader {
    repo: Repo,
    diags: Diagnostics,
}

impl Loader {
    /// Parses one file into its top-level blocks; attributes at the top level are errors.
    fn parse_file(&mut self, rel: &Path) -> Option<Vec<Block>> {
        let path = self.repo.root.join(rel);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                self.diags.push(Diagnostic::error(format!(
                    "cannot read {}: {e}",
                    rel.display()
                )));
                return None;
            }
        };
        let file = self.repo.sources.add(rel.to_path_buf(), text);
        let text = &self.repo.sources.get(file).text;
        let body = match hcl::edit::parser::parse_body(text) {
            Ok(body) => body,
            Err(e) => {
                let loc = e.location();
                let source = self.repo.sources.get(file);
                let offset = loc.offset().min(source.text.len());
                let end = (offset + 1).min(source.text.len()).max(offset);
                self.diags.push(
                    Diagnostic::error(format!("syntax error: {}", e.message()))
                        .at(Some(Span::new(file, offset..end)), e.message().to_string()),
                );
                return None;
            }
        };
        let body = Body::lower(&body, file, None, &mut self.diags);
        for attr in &body.attributes {
            self.diags.push(
                Diagnostic::error(format!(
                    "unexpected attribute `{}` at the top level",
                    attr.name
                ))
                .at(Some(attr.name_span), "attributes belong inside a block"),
            );
        }
        for d in &body.dynamic_blocks {
            self.diags.push(
                Diagnostic::error("`dynamic` blocks belong inside a resource").at(Some(d.span), ""),
            );
        }
        Some(body.blocks)
    }

    fn load_platform(&mut self) {
        let rel = PathBuf::from(PLATFORM_FILE);
        if !self.repo.root.join(&rel).is_file() {
            self.diags.push(
                Diagnostic::error(format!(
                    "{} not found in {}",
                    PLATFORM_FILE,
                    self.repo.root.display()
                ))
                .help("run yagura in a platform repo, or point at one with -C DIR"),
            );
            return;
        }
        let Some(blocks) = self.parse_file(&rel) else {
            return;
        };
        let mut seen_platform: Option<Span> = None;
        for block in blocks {
            match block.kind.as_str() {
                "platform" => {
                    if let Some(first) = seen_platform {
                        self.diags.push(
                            Diagnostic::error("more than one `platform` block")
                                .at(Some(block.kind_span), "")
                                .related(first, "first here"),
                        );
                        continue;
                    }
                    seen_platform = Some(block.span);
                    block.expect_labels(&[], &mut self.diags);
                    self.platform(block);
                }
                "environment" => {
                    if !block.expect_labels(&["NAME"], &mut self.diags) {
                        continue;
                    }
                    self.environment(block);
                }
                other => self.diags.push(
                    Diagnostic::error(format!("unknown block `{other}` in {PLATFORM_FILE}"))
                        .at(Some(block.kind_span), "")
                        .help("yagura.hcl holds one `platform` block and `environment \"NAME\"` blocks"),
                ),
            }
        }
        if seen_platform.is_none() {
            self.diags.push(Diagnostic::error(format!(
                "{PLATFORM_FILE} has no `platform` block"
            )));
        }
        if self.repo.environments.is_empty() {
            self.diags.push(
                Diagnostic::error(format!("{PLATFORM_FILE} declares no environment"))
                    .help("add an `environment \"development\" { }` block"),
            );
        }
    }

    fn platform(&mut self, block: Block) {
        let mut platform = Platform {
            span: Some(block.span),
            ..Platform::default()
        };
        let org = block.body.attribute("org_id");
        let folder = block.body.attribute("folder_id");
        if let (Some(_), Some(f)) = (org, folder) {
            self.diags.push(
                Diagnostic::error("set `org_id` or `folder_id`, not both")
                    .at(Some(f.name_span), ""),
            );
        }
        for b in block.body.blocks.iter() {
            match b.kind.as_str() {
                "cluster" => {
                    if b.expect_labels(&["NAME"], &mut self.diags) {
                        b.body.check_allowed(
                            "a `cluster` block",
                            &["project", "location", "endpoint", "ca_certificate", "name"],
                            &[],
                            &mut self.diags,
                        );
                        platform.clusters.push(b.clone());
                    }
                }
                "dns_zone" => {
                    if b.expect_labels(&["NAME"], &mut self.diags) {
                        b.body.check_allowed(
                            "a `dns_zone` block",
                            &["dns_name", "project", "name"],
                            &[],
                            &mut self.diags,
                        );
                        platform.dns_zones.push(b.clone());
                    }
                }
                "state" => {
                    b.expect_labels(&[], &mut self.diags);
                    platform.state = self.state_config(b);
                }
                "endpoints" => {
                    for attr in &b.body.attributes {
                        match attr.expr.as_literal_str() {
                            Some(url) => {
                                platform
                                    .endpoints
                                    .insert(attr.name.clone(), url.to_string());
                            }
                            None => self.diags.push(
                                Diagnostic::error("endpoint overrides must be literal URLs")
                                    .at(Some(attr.expr.span), ""),
                            ),
                        }
                    }
                }
                other => self.diags.push(
                    Diagnostic::error(format!("unknown block `{other}` in the `platform` block"))
                        .at(Some(b.kind_span), "")
                        .help("supported blocks: `state`, `endpoints`, `cluster`, `dns_zone`"),
                ),
            }
        }
        platform.body = Body {
            attributes: block.body.attributes,
            span: Some(block.span),
            ..Body::default()
        };
        self.repo.platform = platform;
    }

    fn state_config(&mut self, block: &Block) -> StateConfig {
        let mut config = StateConfig::default();
        for attr in &block.body.attributes {
            let Some(value) = literal_scalar(&attr.expr.kind) else {
                self.diags.push(
                    Diagnostic::error("state settings must be literals")
                        .at(Some(attr.expr.span), ""),
                );
                continue;
            };
            if attr.name == "backend" {
                if !["local", "postgres", "gcs"].contains(&value.as_str()) {
                    self.diags.push(
                        Diagnostic::error(format!("unknown state backend {value:?}"))
                            .at(Some(attr.expr.span), "")
                            .help("supported backends: \"local\", \"postgres\", \"gcs\""),
                    );
                }
                config.backend = value;
            } else {
                config.settings.insert(attr.name.clone(), value);
            }
        }
        config
    }

    fn environment(&mut self, block: Block) {
        let name = block.labels[0].clone();
        if !is_dns_label(&name) {
            self.diags.push(
                Diagnostic::error(format!("invalid environment name {name:?}"))
                    .at(Some(block.span), "")
                    .help("environment names are DNS-1123 labels: lowercase letters, digits and '-', at most 63 characters"),
            );
        }
        if let Some(first) = self.repo.environments.iter().find(|e| e.name == name) {
            self.diags.push(
                Diagnostic::error(format!("duplicate environment `{name}`"))
                    .at(Some(block.span), "")
                    .related(first.span, "first declared here"),
            );
            return;
        }
        let protected = match block.body.attribute("protected").map(|a| &a.expr) {
            None => false,
            Some(e) => match &e.kind {
                ExprKind::Literal(Value::Bool(b)) => *b,
                _ => {
                    self.diags.push(
                        Diagnostic::error("`protected` must be `true` or `false`")
                            .at(Some(e.span), ""),
                    );
                    false
                }
            },
        };
        let cluster = block
            .body
            .attribute("cluster")
            .and_then(|a| a.expr.as_literal_str().map(str::to_string));
        for b in &block.body.blocks {
            self.diags.push(
                Diagnostic::error("an `environment` block holds only attributes")
                    .at(Some(b.kind_span), ""),
            );
        }
        self.repo.environments.push(Environment {
            name,
            protected,
            cluster,
            body: block.body,
            span: block.span,
        });
    }

    fn load_services(&mut self) {
        let services_dir = self.repo.root.join("services");
        let Ok(entries) = std::fs::read_dir(&services_dir) else {
            return;
        };
        let mut dirs: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        dirs.sort();
        for dir in dirs {
            self.load_service(&dir);
        }
        // Environment names and clusters are checked once every block is known.
        for env in &self.repo.environments {
            if let Some(cluster) = &env.cluster
                && !self
                    .repo
                    .platform
                    .clusters
                    .iter()
                    .any(|c| &c.labels[0] == cluster)
            {
                let attr = env
                    .body
                    .attribute("cluster")
                    .expect("cluster was read from this attribute");
                let names: Vec<&str> = self
                    .repo
                    .platform
                    .clusters
                    .iter()
                    .map(|c| c.labels[0].as_str())
                    .collect();
                self.diags.push(
                    Diagnostic::error(format!("environment `{}` names cluster {cluster:?}, which the platform does not declare", env.name))
                        .at(Some(attr.expr.span), "no such cluster")
                        .with_help(crate::diag::did_you_mean(cluster, names).map(|s| format!("did you mean {s:?}?"))),
                );
            }
        }
    }

    fn load_service(&mut self, dir_name: &str) {
        let rel_dir = PathBuf::from("services").join(dir_name);
        let files = hcl_files(&self.repo.root.join(&rel_dir));
        let mut module = Module {
            dir: rel_dir.clone(),
            ..Module::default()
        };
        let mut service_blocks = Vec::new();
        let mut unparsed = false;
        for file in files {
            let Some(blocks) = self.parse_file(&rel_dir.join(&file)) else {
                unparsed = true;
                continue;
            };
            for block in module.add_blocks(blocks, &mut self.diags) {
                if block.kind == "service" {
                    service_blocks.push(block);
                } else {
                    self.diags.push(
                        Diagnostic::error(format!("unknown block `{}` in a service", block.kind))
                            .at(Some(block.kind_span), "")
                            .help("a service holds one `service` block and `module`, `resource`, `data`, `locals` and `output` blocks"),
                    );
                }
            }
        }
        for v in &module.variables {
            self.diags.push(
                Diagnostic::error("a service takes no variables")
                    .at(Some(v.span), "")
                    .help("use `locals`, `env.<setting>` or `platform.<setting>` instead"),
            );
        }
        let mut blocks = service_blocks.into_iter();
        let Some(block) = blocks.next() else {
            if unparsed {
                // The block may be in the file that did not parse; its error says enough.
                return;
            }
            self.diags.push(
                Diagnostic::error(format!("services/{dir_name} has no `service \"{dir_name}\"` block"))
                    .help(format!("add `service \"{dir_name}\" {{ owner = \"TEAM\" environments = [\"development\"] }}`")),
            );
            return;
        };
        for extra in blocks {
            self.diags.push(
                Diagnostic::error(format!(
                    "services/{dir_name} has more than one `service` block"
                ))
                .at(Some(extra.kind_span), "")
                .related(block.span, "first here"),
            );
        }
        if !block.expect_labels(&["NAME"], &mut self.diags) {
            return;
        }
        let name = block.labels[0].clone();
        if name != dir_name {
            self.diags.push(
                Diagnostic::error(format!(
                    "service \"{name}\" is in directory services/{dir_name}"
                ))
                .at(Some(block.span), "the label must equal the directory name")
                .help(format!(
                    "rename the label to \"{dir_name}\" or move the files to services/{name}/"
                )),
            );
        }
        if !is_dns_label(&name) {
            self.diags.push(
                Diagnostic::error(format!("invalid service name {name:?}"))
                    .at(Some(block.span), "")
                    .help("service names are DNS-1123 labels: lowercase letters, digits and '-', starting with a letter, at most 63 characters"),
            );
        }
        block.body.check_allowed(
            "a `service` block",
            &["owner", "environments", "description"],
            &[],
            &mut self.diags,
        );
        let owner = match block.body.attribute("owner") {
            Some(attr) => match attr.expr.as_literal_str() {
                Some(owner) => owner.to_string(),
                None => {
                    self.diags.push(
                        Diagnostic::error("`owner` must be a literal team name")
                            .at(Some(attr.expr.span), ""),
                    );
                    String::new()
                }
            },
            None => {
                self.diags.push(
                    Diagnostic::error(format!("service \"{name}\" has no `owner`"))
                        .at(Some(block.kind_span), ""),
                );
                String::new()
            }
        };
        let environments = self.service_environments(&name, &block);
        self.repo.services.push(Service {
            name,
            owner,
            environments,
            module,
            span: block.span,
        });
    }

    fn service_environments(&mut self, name: &str, block: &Block) -> Vec<String> {
        let Some(attr) = block.body.attribute("environments") else {
            self.diags.push(
                Diagnostic::error(format!("service \"{name}\" has no `environments`"))
                    .at(Some(block.kind_span), ""),
            );
            return Vec::new();
        };
        let ExprKind::Tuple(items) = &attr.expr.kind else {
            self.diags.push(
                Diagnostic::error("`environments` must be a list of environment names")
                    .at(Some(attr.expr.span), ""),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(env) = item.as_literal_str() else {
                self.diags.push(
                    Diagnostic::error("environment names must be literal strings")
                        .at(Some(item.span), ""),
                );
                continue;
            };
            if self.repo.environment(env).is_none() {
                let names: Vec<&str> = self
                    .repo
                    .environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                self.diags.push(
                    Diagnostic::error(format!("unknown environment {env:?}"))
                        .at(Some(item.span), format!("not declared in {PLATFORM_FILE}"))
                        .with_help(
                            crate::diag::did_you_mean(env, names.iter().copied())
                                .map(|s| format!("did you mean {s:?}?")),
                        ),
                );
                continue;
            }
            if out.iter().any(|e| e == env) {
                self.diags.push(
                    Diagnostic::error(format!("environment {env:?} is listed twice"))
                        .at(Some(item.span), ""),
                );
                continue;
            }
            out.push(env.to_string());
        }
        out
    }

    /// Loads every module the services call, transitively.
    fn load_modules(&mut self) {
        let mut pending: Vec<(PathBuf, Span)> = Vec::new();
        for service in &self.repo.services {
            pending.extend(
                service
                    .module
                    .calls
                    .iter()
                    .map(|c| (c.dir.clone(), c.source_span)),
            );
        }
        while let Some((dir, span)) = pending.pop() {
            if self.repo.modules.contains_key(&dir) {
                continue;
            }
            let abs = self.repo.root.join(&dir);
            if !abs.is_dir() {
                self.diags.push(
                    Diagnostic::error(format!("module directory {} does not exist", dir.display()))
                        .at(Some(span), "source points here"),
                );
                self.repo.modules.insert(dir, Module::default());
                continue;
            }
            let mut module = Module {
                dir: dir.clone(),
                ..Module::default()
            };
            for file in hcl_files(&abs) {
                let Some(blocks) = self.parse_file(&dir.join(&file)) else {
                    continue;
                };
                for block in module.add_blocks(blocks, &mut self.diags) {
                    self.diags.push(
                        Diagnostic::error(format!("unknown block `{}` in a module", block.kind))
                            .at(Some(block.kind_span), "")
                            .help("modules hold `variable`, `locals`, `resource`, `data`, `module` and `output` blocks"),
                    );
                }
            }
            pending.extend(module.calls.iter().map(|c| (c.dir.clone(), c.source_span)));
            self.repo.modules.insert(dir, module);
        }
    }
}

fn literal_scalar(kind: &ExprKind) -> Option<String> {
    match kind {
        ExprKind::Literal(Value::String(s)) => Some(s.clone()),
        ExprKind::Literal(Value::Number(n)) => Some(n.to_string()),
        ExprKind::Literal(Value::Bool(b)) => Some(b.to_string()),
        ExprKind::Template(parts) => match parts.as_slice() {
            [crate::lang::expr::TemplatePart::Literal(s)] => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The `.hcl` files of a directory, sorted by name.
pub fn hcl_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| PathBuf::from(e.file_name()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    files.sort();
    files
}

/// Returns true for a DNS-1123 label: lowercase alphanumerics and '-', starting
/// with a letter, ending with an alphanumeric, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
