//! `yagura new-service`: scaffolds `services/NAME/` with the shipped modules,
//! adds the owner to CODEOWNERS and validates the result as `validate` does.

use std::path::Path;

use clap::{Args, ValueEnum};

use crate::addr::InstanceAddr;
use crate::config::{Repo, is_dns_label};
use crate::diag::Diagnostics;
use crate::plan::plan_instance;

use super::{EXIT_ERROR, EXIT_OK, error_line, print_diagnostics};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Component {
    Spanner,
    Cloudsql,
    Dns,
}

#[derive(Args, Debug)]
pub struct NewServiceArgs {
    /// The service name: a DNS-1123 label (lowercase letters, digits, '-')
    name: String,
    /// The owning team
    #[arg(long, value_name = "TEAM")]
    owner: String,
    /// Environments the service runs in, comma-separated [default: every environment]
    #[arg(long = "env", value_name = "ENV", value_delimiter = ',')]
    envs: Vec<String>,
    /// Add components, comma-separated
    #[arg(long = "with", value_name = "COMPONENT", value_delimiter = ',')]
    with: Vec<Component>,
    /// Print what would be written without writing it
    #[arg(long)]
    dry_run: bool,
}

/// The spec of a new service, in canonical style.
fn service_spec(name: &str, owner: &str, envs: &[String], with: &[Component]) -> String {
    let env_list = envs
        .iter()
        .map(|e| format!("{e:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut extra_apis = Vec::new();
    if with.contains(&Component::Spanner) {
        extra_apis.push("\"spanner.googleapis.com\"");
    }
    if with.contains(&Component::Cloudsql) {
        extra_apis.push("\"sqladmin.googleapis.com\"");
        extra_apis.push("\"secretmanager.googleapis.com\"");
    }
    let mut out = format!(
        r#"service "{name}" {{
  owner        = "{owner}"
  environments = [{env_list}]
}}

module "app" {{
  source = "../../modules/microservice"

  name            = service.name
  owner           = service.owner
  environment     = env.name
  project_prefix  = platform.project_prefix
  org_id          = platform.org_id
  billing_account = platform.billing_account
  group_domain    = platform.group_domain
  cluster_project = platform.clusters[env.cluster].project

  deletion_policy = env.protected ? "PREVENT" : "DELETE"
  extra_apis      = [{apis}]
}}
"#,
        apis = extra_apis.join(", ")
    );
    if with.contains(&Component::Spanner) {
        out.push_str(
            r#"
module "spanner" {
  source = "../../modules/spanner"

  project             = module.app.project_id
  name                = service.name
  region              = platform.default_region
  member              = module.app.service_account_member
  deletion_protection = env.protected

  # Append statements to change the schema; editing one replaces the database.
  ddl = []
}
"#,
        );
    }
    if with.contains(&Component::Cloudsql) {
        out.push_str(
            r#"
module "db" {
  source = "../../modules/cloudsql"

  project             = module.app.project_id
  name                = service.name
  region              = platform.default_region
  member              = module.app.service_account_member
  deletion_protection = env.protected
}
"#,
        );
    }
    if with.contains(&Component::Dns) {
        out.push_str(&format!(
            r#"
module "dns" {{
  source = "../../modules/dns"

  project      = platform.dns_zones[env.dns_zone].project
  managed_zone = env.dns_zone
  domain       = platform.dns_zones[env.dns_zone].dns_name

  records = {{
    {name} = {{
      type    = "A"
      rrdatas = [env.ingress_ip]
    }}
  }}
}}
"#
        ));
    }
    out
}

/// The CODEOWNERS line for the service, following the file's `@org/` convention.
fn codeowners_line(existing: &str, name: &str, owner: &str) -> String {
    let org = existing.split_whitespace().find_map(|w| {
        w.strip_prefix('@')
            .and_then(|w| w.split_once('/'))
            .map(|(org, _)| org.to_string())
    });
    let handle = match org {
        Some(org) => format!("@{org}/{owner}"),
        None => format!("@{owner}"),
    };
    format!("{:<24} {handle}\n", format!("/services/{name}/"))
}

pub fn run(root: &Path, args: NewServiceArgs) -> i32 {
    let name = args.name.as_str();
    if !is_dns_label(name) {
        error_line(format!(
            "invalid service name {name:?}: use a DNS-1123 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters)"
        ));
        return EXIT_ERROR;
    }
    if !is_dns_label(&args.owner) {
        error_line(format!(
            "invalid team name {:?}: use lowercase letters, digits and '-'",
            args.owner
        ));
        return EXIT_ERROR;
    }
    let Some(repo) = super::load(root) else {
        return EXIT_ERROR;
    };
    let dir = root.join("services").join(name);
    if dir.exists() || repo.service(name).is_some() {
        error_line(format!(
            "services/{name} already exists; new-service never overwrites a service"
        ));
        return EXIT_ERROR;
    }
    let envs: Vec<String> = if args.envs.is_empty() {
        repo.environments.iter().map(|e| e.name.clone()).collect()
    } else {
        args.envs.clone()
    };
    for env in &envs {
        if repo.environment(env).is_none() {
            error_line(format!(
                "unknown environment {env:?}; {} declares: {}",
                crate::config::PLATFORM_FILE,
                repo.environments
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return EXIT_ERROR;
        }
    }
    let spec = service_spec(name, &args.owner, &envs, &args.with);
    let codeowners_path = root.join("CODEOWNERS");
    let codeowners = std::fs::read_to_string(&codeowners_path).unwrap_or_default();
    let line = codeowners_line(&codeowners, name, &args.owner);

    // Validate in a scratch copy of the specs, so nothing is written unless it is valid.
    let diags = match validate_in_scratch(root, name, &spec) {
        Ok(d) => d,
        Err(e) => {
            error_line(format!("cannot validate the new service: {e}"));
            return EXIT_ERROR;
        }
    };
    if diags.1.has_errors() {
        print_diagnostics(&diags.1, &diags.0.sources);
        error_line(format!(
            "the scaffold for {name:?} does not validate; nothing was written"
        ));
        return EXIT_ERROR;
    }
    if args.dry_run {
        println!("Would write services/{name}/main.hcl:\n\n{spec}");
        println!("Would add to CODEOWNERS:\n{line}");
        return EXIT_OK;
    }
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("main.hcl"), &spec))
    {
        error_line(format!("cannot write services/{name}/main.hcl: {e}"));
        return EXIT_ERROR;
    }
    let mut new_codeowners = codeowners;
    if !new_codeowners.is_empty() && !new_codeowners.ends_with('\n') {
        new_codeowners.push('\n');
    }
    new_codeowners.push_str(&line);
    if let Err(e) = std::fs::write(&codeowners_path, new_codeowners) {
        error_line(format!("cannot update CODEOWNERS: {e}"));
        return EXIT_ERROR;
    }
    println!(
        "Created services/{name}/main.hcl and added {} to CODEOWNERS.",
        line.split_whitespace().last().unwrap_or("")
    );
    println!();
    println!("Next steps:");
    println!("  1. Review services/{name}/main.hcl and adjust the module inputs.");
    println!("  2. Run `yagura plan --service {name}` to see what will be created.");
    println!("  3. Open a pull request; after merge, CI applies the reviewed plan.");
    EXIT_OK
}

/// Copies the repo's specs to a temporary directory with the new service added,
/// loads it and plans every new instance with empty state.
fn validate_in_scratch(
    root: &Path,
    name: &str,
    spec: &str,
) -> std::io::Result<(Repo, Diagnostics)> {
    let scratch = tempfile::tempdir()?;
    copy_specs(root, scratch.path())?;
    let service_dir = scratch.path().join("services").join(name);
    std::fs::create_dir_all(&service_dir)?;
    std::fs::write(service_dir.join("main.hcl"), spec)?;
    let (repo, mut diags) = Repo::load(scratch.path());
    if !diags.has_errors()
        && let Some(service) = repo.service(name)
    {
        for env in &service.environments {
            let (_, d) = plan_instance(&repo, &InstanceAddr::new(name, env), None);
            diags.extend(d);
        }
    }
    Ok((repo, diags))
}

/// Copies `yagura.hcl`, `services/` and `modules/` (following symlinks), skipping state.
fn copy_specs(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::copy(
        from.join(crate::config::PLATFORM_FILE),
        to.join(crate::config::PLATFORM_FILE),
    )?;
    for dir in ["services", "modules"] {
        let src = from.join(dir);
        if src.is_dir() {
            copy_dir(&src, &to.join(dir))?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codeowners_follows_the_org_convention() {
        assert_eq!(
            codeowners_line("* @acme/platform\n", "pay", "payments"),
            format!("{:<24} @acme/payments\n", "/services/pay/")
        );
        assert_eq!(
            codeowners_line("", "pay", "payments"),
            format!("{:<24} @payments\n", "/services/pay/")
        );
    }

    #[test]
    fn the_scaffold_is_in_canonical_style() {
        let spec = service_spec(
            "pay",
            "payments",
            &["development".to_string()],
            &[Component::Spanner, Component::Cloudsql, Component::Dns],
        );
        assert_eq!(
            crate::fmt::format_source(&spec).ok().as_deref(),
            Some(spec.as_str())
        );
    }
}
