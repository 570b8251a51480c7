//! `yagura graph`.

use std::path::Path;

use clap::Args;

use crate::plan::instance_graph;

use super::{EXIT_ERROR, EXIT_OK, load, print_diagnostics};

#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The service whose graph to print [default: every service]
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// The environment; the graph's shape is the same in every environment of a service
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

pub fn run(root: &Path, args: GraphArgs) -> i32 {
    let Some(repo) = load(root) else {
        return EXIT_ERROR;
    };
    let services: Vec<String> = args.service.clone().into_iter().collect();
    let envs: Vec<String> = args.env.clone().into_iter().collect();
    let instances = match super::plan::select_instances(&repo, &services, &envs) {
        Ok(i) => i,
        Err(d) => {
            print_diagnostics(&d, &repo.sources);
            return EXIT_ERROR;
        }
    };
    let mut names: Vec<&str> = instances.iter().map(|i| i.service.as_str()).collect();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let service = repo.service(name).expect("selected services exist");
        let (graph, diags) = instance_graph(&repo, service);
        print_diagnostics(&diags, &repo.sources);
        let Some(graph) = graph else {
            return EXIT_ERROR;
        };
        out.push_str(&graph.to_dot(name));
    }
    print!("{out}");
    EXIT_OK
}
