//! A policy written for Terraform plans, run unchanged on yagura's JSON plans
//! with OPA's Rego (regopy, installed by tests/policy/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with regopy; the test fails loudly when it cannot be made.
fn python() -> PathBuf {
    let out = Command::new("bash")
        .arg(manifest().join("tests/policy/setup.sh"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "tests/policy/setup.sh could not install regopy:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn json_plan(repo: &Path, dir: &Path) -> PathBuf {
    let out = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("-C")
        .arg(repo)
        .args(["plan", "--format", "json"])
        .output()
        .expect("yagura runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("plan.json");
    std::fs::write(&path, &out.stdout).expect("write the plan");
    path
}

fn query(python: &Path, plan: &Path, query: &str) -> serde_json::Value {
    let out = Command::new(python)
        .arg(manifest().join("tests/policy/eval.py"))
        .arg(manifest().join("tests/policy/gcp.rego"))
        .arg(plan)
        .arg(query)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the query result is JSON")
}

#[test]
fn terraform_plan_policies_evaluate_yagura_plans() {
    let python = python();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plan = json_plan(&manifest().join("examples/fleet"), dir.path());
    assert_eq!(
        query(&python, &plan, "data.terraform.gcp.deny"),
        serde_json::json!([
            "ledger/development module.db.google_sql_database_instance.main: Cloud SQL must not have a public IP",
            "ledger/production module.db.google_sql_database_instance.main: Cloud SQL must not have a public IP",
        ])
    );
    // One new project per instance, each with its number known only after apply.
    assert_eq!(
        query(&python, &plan, "data.terraform.gcp.unknown_project_numbers"),
        serde_json::json!(11)
    );

    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("services/svc")).expect("create the service");
    std::fs::write(
        repo.join("yagura.hcl"),
        "platform {\n  org_id = \"1\"\n}\n\nenvironment \"development\" {}\n",
    )
    .expect("write yagura.hcl");
    std::fs::write(
        repo.join("services/svc/main.hcl"),
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "google_project" "p" {
  project_id = "acme-svc-dev"
  name       = "svc dev"
  org_id     = "1"
  labels     = { owner = "team" }
}

resource "google_project_iam_member" "alice" {
  project = google_project.p.project_id
  role    = "roles/editor"
  member  = "user:alice@acme.example"
}
"#,
    )
    .expect("write the spec");
    let plan = json_plan(&repo, dir.path());
    assert_eq!(
        query(&python, &plan, "data.terraform.gcp.deny"),
        serde_json::json!([
            "svc/development google_project.p: projects need a team label",
            "svc/development google_project_iam_member.alice: no basic roles for individual users",
        ])
    );
}
