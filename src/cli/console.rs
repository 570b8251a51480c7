//! `yagura console`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use clap::Args;

use crate::addr::InstanceAddr;
use crate::lang::display::console_format;
use crate::plan::eval_in_instance;

use super::{EXIT_ERROR, EXIT_OK, error_line, load, print_diagnostics};

#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// Evaluate in this service's root module (with --env)
    #[arg(long, value_name = "NAME", requires = "env")]
    service: Option<String>,
    /// The environment of the instance
    #[arg(long, value_name = "NAME", requires = "service")]
    env: Option<String>,
}

pub fn run(root: &Path, args: ConsoleArgs) -> i32 {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let repo = match &args.service {
        Some(_) => match load(root) {
            Some(r) => Some(r),
            None => return EXIT_ERROR,
        },
        None => None,
    };
    let instance = match (&repo, &args.service, &args.env) {
        (Some(repo), Some(s), Some(e)) => {
            match super::plan::select_instances(
                repo,
                std::slice::from_ref(s),
                std::slice::from_ref(e),
            ) {
                Ok(list) if list.len() == 1 => Some(list[0].clone()),
                Ok(_) => {
                    error_line(format!("service {s:?} does not run in environment {e:?}"));
                    return EXIT_ERROR;
                }
                Err(d) => {
                    print_diagnostics(&d, &repo.sources);
                    return EXIT_ERROR;
                }
            }
        }
        _ => None,
    };
    let prior = match (&repo, &instance) {
        (Some(repo), Some(instance)) => {
            let backend = match super::plan::backend(repo, root) {
                Ok(b) => b,
                Err(m) => {
                    error_line(m);
                    return EXIT_ERROR;
                }
            };
            let Some(runtime) = super::runtime() else {
                return EXIT_ERROR;
            };
            match runtime.block_on(backend.read(instance)) {
                Ok(p) => p,
                Err(e) => {
                    error_line(e);
                    return EXIT_ERROR;
                }
            }
        }
        _ => None,
    };
    let mut status = EXIT_OK;
    let mut line = String::new();
    let mut input = stdin.lock();
    loop {
        if interactive {
            print!("> ");
            let _ = std::io::stdout().flush();
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                error_line(format!("cannot read input: {e}"));
                return EXIT_ERROR;
            }
        }
        let source = line.trim();
        if source.is_empty() {
            continue;
        }
        if interactive && (source == "exit" || source == "quit") {
            break;
        }
        let result = evaluate(
            repo.as_ref(),
            instance.as_ref(),
            prior.as_ref(),
            source,
            root,
        );
        match result {
            Ok(text) => println!("{text}"),
            Err(message) => {
                error_line(message);
                status = EXIT_ERROR;
            }
        }
    }
    status
}

fn evaluate(
    repo: Option<&crate::config::Repo>,
    instance: Option<&InstanceAddr>,
    prior: Option<&crate::state::StateDocument>,
    source: &str,
    root: &Path,
) -> Result<String, String> {
    match (repo, instance) {
        (Some(repo), Some(instance)) => {
            let (mut results, diags) =
                eval_in_instance(repo, instance, prior, &[source.to_string()]);
            if diags.has_errors() && results.is_empty() {
                print_diagnostics(&diags, &repo.sources);
                return Err(format!(
                    "cannot evaluate in {instance}: its specs have errors"
                ));
            }
            results
                .pop()
                .unwrap_or_else(|| Err("no result".to_string()))
                .map(|v| console_format(&v))
        }
        _ => crate::lang::eval::eval_console(source, root).map(|v| console_format(&v)),
    }
}
