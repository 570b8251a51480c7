//! The command line: clap definitions, one file per command, exit codes.
//!
//! Invariant: only `cli` reads argv and environment variables, picks a state
//! backend and prints. Commands turn flags into requests for the layers below.

mod apply;
mod console;
mod drift;
mod fmt;
mod graph;
mod new_service;
mod plan;
mod state;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::Repo;
use crate::diag::{Diagnostic, Diagnostics, SourceMap};
use crate::render::{self, Style};

/// Exit code: success, no changes.
pub const EXIT_OK: i32 = 0;
/// Exit code: an error.
pub const EXIT_ERROR: i32 = 1;
/// Exit code with `--detailed-exitcode`: the plan has changes.
pub const EXIT_CHANGES: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "yagura",
    version,
    about = "Plan and apply the infrastructure of a fleet of microservices on Google Cloud and Kubernetes"
)]
struct Cli {
    /// Run as if started in DIR (the platform repo root)
    #[arg(short = 'C', value_name = "DIR", global = true, default_value = ".")]
    directory: PathBuf,

    /// Log more to stderr (can be repeated); RUST_LOG overrides it
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the changes apply would make
    Plan(plan::PlanArgs),
    /// Make the planned changes: a saved plan, or a new one after confirmation
    Apply(apply::ApplyArgs),
    /// Delete every resource of a service in an environment, after confirmation
    Destroy(apply::DestroyArgs),
    /// Record an existing resource at an address the specs declare
    Import(state::ImportArgs),
    /// Inspect and edit stored state
    #[command(subcommand)]
    State(state::StateCommand),
    /// Release a lock that a killed apply left behind
    ForceUnlock(state::InstanceArgs),
    /// Report what changed outside yagura (exit 2 when something did)
    Drift(drift::DriftArgs),
    /// Check every spec without planning against state
    Validate,
    /// Rewrite HCL files in the canonical style
    Fmt(fmt::FmtArgs),
    /// Print the dependency graph in DOT
    Graph(graph::GraphArgs),
    /// Evaluate expressions, as `terraform console` does
    Console(console::ConsoleArgs),
    /// Scaffold a new service
    NewService(new_service::NewServiceArgs),
}

/// Runs the command line and returns the process exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    init_logging(cli.verbose);
    let root = cli.directory.clone();
    match cli.command {
        Command::Plan(args) => plan::run(&root, args),
        Command::Apply(args) => apply::run(&root, args),
        Command::Destroy(args) => apply::destroy(&root, args),
        Command::Import(args) => state::import(&root, args),
        Command::State(command) => state::run(&root, command),
        Command::ForceUnlock(args) => state::force_unlock(&root, args),
        Command::Drift(args) => drift::run(&root, args),
        Command::Validate => validate(&root),
        Command::Fmt(args) => fmt::run(&root, args),
        Command::Graph(args) => graph::run(&root, args),
        Command::Console(args) => console::run(&root, args),
        Command::NewService(args) => new_service::run(&root, args),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("yagura={default}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(stderr_style() == Style::Styled)
        .try_init();
}

/// Colour on a terminal, never with `NO_COLOR`.
fn style_for(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> Style {
    // NO_COLOR counts when it is set to anything but the empty string (no-color.org).
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    if is_terminal && !no_color {
        Style::Styled
    } else {
        Style::Plain
    }
}

pub(crate) fn stdout_style() -> Style {
    style_for(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
    )
}

pub(crate) fn stderr_style() -> Style {
    style_for(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    )
}

/// Prints diagnostics to stderr once, without duplicates (a module's error
/// repeats in every instance that calls it).
pub(crate) fn print_diagnostics(diags: &Diagnostics, sources: &SourceMap) {
    let mut unique: Vec<Diagnostic> = Vec::new();
    for d in diags.iter() {
        if !unique
            .iter()
            .any(|u| u.message == d.message && u.span == d.span)
        {
            unique.push(d.clone());
        }
    }
    if unique.is_empty() {
        return;
    }
    let style = stderr_style();
    let mut text = render::diagnostics::render(&unique, sources, style);
    let n_errors = unique.iter().filter(|d| d.is_error()).count();
    let n_warnings = unique.len() - n_errors;
    // The count helps when errors scroll by; lone warnings speak for themselves.
    if n_errors > 0 {
        text.push_str(&render::diagnostics::summary(n_errors, n_warnings));
        text.push('\n');
    }
    eprint!("{text}");
}

/// Loads the repo; on errors prints them and returns `None`.
pub(crate) fn load(root: &Path) -> Option<Repo> {
    let (repo, diags) = Repo::load(root);
    tracing::info!(
        services = repo.services.len(),
        modules = repo.modules.len(),
        files = repo.sources.iter().count(),
        "loaded the specs of {}",
        root.display()
    );
    print_diagnostics(&diags, &repo.sources);
    (!diags.has_errors()).then_some(repo)
}

/// The async runtime a command runs its state and cloud calls on; on failure the
/// error is printed and `None` returned.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            error_line(format!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// Prints a one-line error (no source span) to stderr.
pub(crate) fn error_line(message: impl std::fmt::Display) {
    let style = stderr_style();
    let text = render::diagnostics::render(
        &[Diagnostic::error(message.to_string())],
        &SourceMap::default(),
        style,
    );
    eprint!("{text}");
}

fn validate(root: &Path) -> i32 {
    let Some(repo) = load(root) else {
        return EXIT_ERROR;
    };
    let mut diags = Diagnostics::default();
    let mut n_instances = 0;
    for service in &repo.services {
        for env in &service.environments {
            let instance = crate::addr::InstanceAddr::new(&service.name, env);
            let (_, d) = crate::plan::plan_instance(&repo, &instance, None);
            diags.extend(d);
            n_instances += 1;
        }
    }
    print_diagnostics(&diags, &repo.sources);
    if diags.has_errors() {
        return EXIT_ERROR;
    }
    println!(
        "The specs are valid: {} services, {} instances.",
        repo.services.len(),
        n_instances
    );
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert_eq!(style_for(true, None), Style::Styled);
        assert_eq!(style_for(false, None), Style::Plain);
        assert_eq!(style_for(true, Some("1".into())), Style::Plain);
        assert_eq!(style_for(true, Some("".into())), Style::Styled);
    }
}
