//! CLI tests: run the built binary on fixture repos and the example fleet.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLATFORM: &str = r#"
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"
  default_region  = "europe-west1"

  cluster "dev" {
    project  = "acme-gke-dev"
    location = "europe-west1"
    endpoint = "https://10.0.0.2"
  }
}

environment "development" {
  cluster = "dev"
}

environment "production" {
  protected = true
  cluster   = "dev"
}
"#;

fn yagura(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the yagura binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A repo with the fixture platform and one service `svc` whose spec is `spec`.
fn fixture(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("yagura.hcl"), PLATFORM).expect("write yagura.hcl");
    let service = dir.path().join("services/svc");
    std::fs::create_dir_all(&service).expect("create the service directory");
    std::fs::write(service.join("main.hcl"), spec).expect("write the spec");
    dir
}

fn example_fleet() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet")
}

#[test]
fn bad_inputs_get_clear_errors() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("the corpus exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let spec = std::fs::read_to_string(&case).expect("read the case");
        let expected: Vec<&str> = spec
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} names no expected message",
            case.display()
        );
        let repo = fixture(&spec);
        let out = yagura(repo.path(), &["validate"]);
        let stderr = text(&out.stderr);
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{name}: exit {:?}, expected 1\n{stderr}",
                out.status.code()
            ));
        }
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked\n{stderr}"));
        }
        for e in expected {
            if !stderr.contains(e) {
                failures.push(format!("{name}: stderr lacks {e:?}\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

const ONE_API: &str = r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "google_project_service" "api" {
  project = "acme-svc-dev"
  service = "spanner.googleapis.com"
}
"#;

fn write_state(repo: &Path, env: &str, resources: serde_json::Value) -> PathBuf {
    let path = repo.join("state/svc").join(format!("{env}.json"));
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create state dir");
    let doc = serde_json::json!({
        "format_version": 1, "serial": 3, "lineage": "4a2f", "instance": {"service": "svc", "env": env},
        "resources": resources,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).expect("write state");
    path
}

fn api_state(service: &str, disable_on_destroy: bool) -> serde_json::Value {
    serde_json::json!([{
        "address": "google_project_service.api", "type": "google_project_service",
        "attributes": {"project": "acme-svc-dev", "service": service, "disable_on_destroy": disable_on_destroy,
                       "disable_dependent_services": false, "id": format!("acme-svc-dev/{service}")}
    }])
}

#[test]
fn detailed_exit_codes_follow_the_plan() {
    let repo = fixture(ONE_API);
    let out = yagura(
        repo.path(),
        &["plan", "--no-refresh", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 to add"),
        "{}",
        text(&out.stdout)
    );

    write_state(
        repo.path(),
        "development",
        api_state("spanner.googleapis.com", true),
    );
    let out = yagura(
        repo.path(),
        &["plan", "--no-refresh", "--detailed-exitcode"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    write_state(
        repo.path(),
        "development",
        api_state("spanner.googleapis.com", false),
    );
    let out = yagura(
        repo.path(),
        &[
            "plan",
            "--no-refresh",
            "--detailed-exitcode",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    let change = &json["resource_changes"][0];
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]));

    write_state(
        repo.path(),
        "development",
        api_state("sqladmin.googleapis.com", true),
    );
    let out = yagura(repo.path(), &["plan", "--no-refresh", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(
        json["resource_changes"][0]["change"]["actions"],
        serde_json::json!(["delete", "create"])
    );
}

#[test]
fn resources_removed_from_the_specs_are_destroyed_except_when_protected() {
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development", "production"]
}
"#,
    );
    write_state(
        repo.path(),
        "development",
        api_state("spanner.googleapis.com", true),
    );
    let out = yagura(
        repo.path(),
        &[
            "plan",
            "--no-refresh",
            "--env",
            "development",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(
        json["resource_changes"][0]["change"]["actions"],
        serde_json::json!(["delete"])
    );

    let project = serde_json::json!([{
        "address": "google_project.p", "type": "google_project",
        "attributes": {"project_id": "acme-svc-prd", "name": "svc", "org_id": "1", "deletion_policy": "PREVENT"}
    }]);
    write_state(repo.path(), "production", project);
    let out = yagura(
        repo.path(),
        &["plan", "--no-refresh", "--env", "production"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("svc/production/google_project.p would be destroyed, but production is a protected environment"), "{}", text(&out.stderr));
}

#[test]
fn unreadable_state_is_an_error_and_is_left_untouched() {
    let repo = fixture(ONE_API);
    for (content, expected) in [
        ("{\"format_version\": 1, \"serial\": 3, \"lin", "truncated"),
        ("garbage", "not valid JSON"),
        (
            "{\"format_version\": 7, \"serial\": 1}",
            "newer than format 1",
        ),
    ] {
        let path = write_state(repo.path(), "development", serde_json::json!([]));
        std::fs::write(&path, content).expect("write state");
        let out = yagura(repo.path(), &["plan"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("state still there"),
            content
        );
    }
}

#[test]
fn the_example_fleet_plans_every_instance() {
    let out = yagura(
        &example_fleet(),
        &["plan", "--no-refresh", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    let changes = json["resource_changes"]
        .as_array()
        .expect("resource_changes");
    let mut instances: Vec<&str> = changes
        .iter()
        .filter_map(|c| c["instance"].as_str())
        .collect();
    instances.dedup();
    assert_eq!(instances.len(), 11, "{instances:?}");
    // Every supported type appears somewhere in the example.
    let mut types: Vec<&str> = changes.iter().filter_map(|c| c["type"].as_str()).collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 21, "{types:?}");
    // Secrets never reach the output.
    assert!(
        !text(&out.stdout).contains("\"result\": \""),
        "a generated password leaked"
    );
}

#[test]
fn plan_formats_of_one_instance() {
    let fleet = example_fleet();
    let out = yagura(
        &fleet,
        &["plan", "--service", "ledger", "--env", "development"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!("ledger_development_human", text(&out.stdout));
    let out = yagura(
        &fleet,
        &["plan", "--service", "notifications", "--format", "markdown"],
    );
    insta::assert_snapshot!("notifications_markdown", text(&out.stdout));
    let out = yagura(
        &fleet,
        &[
            "plan",
            "--service",
            "payment",
            "--env",
            "production",
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    insta::assert_json_snapshot!("payment_production_json", json, { ".terraform_version" => "[version]" });
}

#[test]
fn console_evaluates_in_an_instance() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_yagura"))
        .args(["-C"])
        .arg(example_fleet())
        .args(["console", "--service", "payment", "--env", "production"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the yagura binary runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(b"module.app.project_id\nupper(env.name)\nmodule.app.nope\n")
        .expect("write to console");
    let out = child.wait_with_output().expect("console exits");
    assert_eq!(text(&out.stdout), "\"acme-payment-prd\"\n\"PRODUCTION\"\n");
    assert!(
        text(&out.stderr).contains("no attribute named `nope`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn new_service_scaffolds_validates_and_refuses_to_overwrite() {
    let repo = tempfile::tempdir().expect("a temporary directory");
    copy_dir(&example_fleet(), repo.path());
    let out = yagura(
        repo.path(),
        &[
            "new-service",
            "search",
            "--owner",
            "discovery",
            "--with",
            "spanner,dns",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(repo.path().join("services/search/main.hcl").is_file());
    let codeowners = std::fs::read_to_string(repo.path().join("CODEOWNERS")).expect("CODEOWNERS");
    assert!(
        codeowners.contains("/services/search/") && codeowners.contains("@acme/discovery"),
        "{codeowners}"
    );
    let out = yagura(repo.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = yagura(
        repo.path(),
        &["new-service", "search", "--owner", "discovery"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already exists"));

    // The derived project id would be too long: nothing is written.
    let out = yagura(
        repo.path(),
        &[
            "new-service",
            "a-very-long-service-name-x",
            "--owner",
            "discovery",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !repo
            .path()
            .join("services/a-very-long-service-name-x")
            .exists()
    );
    let out = yagura(
        repo.path(),
        &["new-service", "Bad_Name", "--owner", "discovery"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("DNS-1123"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_name() == "state" {
            continue;
        }
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy file");
        }
    }
}

#[test]
fn refresh_reads_local_resources_and_names_what_it_cannot_read() {
    // Without a cluster, development's namespaces cannot be read.
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "random_id" "suffix" {
  byte_length = 2
}

resource "kubernetes_namespace_v1" "ns" {
  metadata {
    name = "svc-${random_id.suffix.hex}"
  }
}
"#,
    );
    let resources = serde_json::json!([
        {"address": "random_id.suffix", "type": "random_id", "provider_id": "Af8",
         "attributes": {"byte_length": 2, "prefix": null, "keepers": null, "id": "Af8", "b64_url": "Af8",
                        "b64_std": "Af8=", "hex": "01ff", "dec": "511"}},
        {"address": "kubernetes_namespace_v1.ns", "type": "kubernetes_namespace_v1",
         "attributes": {"id": "svc-01ff",
                        "metadata": [{"name": "svc-01ff", "labels": null, "annotations": null,
                                      "uid": "u-1", "resource_version": "1", "generation": 0}]}}
    ]);
    write_state(repo.path(), "development", resources);
    let platform = PLATFORM.replace(
        "environment \"development\" {\n  cluster = \"dev\"\n}",
        "environment \"development\" {}",
    );
    assert_ne!(platform, PLATFORM);
    std::fs::write(repo.path().join("yagura.hcl"), platform).expect("write yagura.hcl");
    let out = yagura(repo.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains(
            "environment `development` names no cluster, so kubernetes_namespace_v1 cannot be read"
        ),
        "{}",
        text(&out.stderr)
    );
    let out = yagura(
        repo.path(),
        &["plan", "--detailed-exitcode", "--no-refresh"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn saved_plans_record_what_apply_checks_and_no_secret() {
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "google_sql_user" "app" {
  project  = "acme-svc-dev"
  instance = "main"
  name     = "app"
  password = "hunter2-literal-secret"
}
"#,
    );
    write_state(repo.path(), "development", serde_json::json!([]));
    let out = yagura(repo.path(), &["plan", "--out", "plan.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("hunter2"),
        "the password was printed"
    );
    let saved = std::fs::read_to_string(repo.path().join("plan.json")).expect("the plan was saved");
    assert!(
        !saved.contains("hunter2"),
        "the password reached the saved plan"
    );
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("JSON");
    assert_eq!(saved["spec_digest"].as_str().map(str::len), Some(64));
    assert_eq!(saved["instances"][0]["prior_lineage"], "4a2f");
    assert_eq!(saved["instances"][0]["prior_serial"], 3);

    // Any edit of a spec changes the digest.
    let spec = repo.path().join("services/svc/main.hcl");
    let edited = std::fs::read_to_string(&spec)
        .expect("spec")
        .replace("\"app\"\n", "\"app2\"\n");
    std::fs::write(&spec, edited).expect("edit spec");
    yagura(repo.path(), &["plan", "--out", "plan2.json"]);
    let second: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join("plan2.json")).expect("saved"),
    )
    .expect("JSON");
    assert_ne!(second["spec_digest"], saved["spec_digest"]);
}

#[test]
fn markdown_plans_are_well_formed() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let out = yagura(&example_fleet(), &["plan", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let markdown = text(&out.stdout);
    assert!(
        markdown.len() <= 65_536,
        "a PR comment is at most 65,536 characters: {}",
        markdown.len()
    );
    let mut tables = 0;
    let mut rows = 0;
    let mut html = String::new();
    for event in Parser::new_ext(&markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::TableRow) => rows += 1,
            Event::Html(h) | Event::InlineHtml(h) => html.push_str(&h),
            _ => {}
        }
    }
    assert_eq!(tables, 1, "one summary table");
    assert_eq!(rows, 11, "a row per changed instance");
    assert_eq!(
        html.matches("<details>").count(),
        html.matches("</details>").count()
    );
    assert!(html.matches("<details>").count() >= 1);
}

#[test]
fn help_and_graph_output() {
    let out = yagura(Path::new("."), &["--help"]);
    insta::assert_snapshot!("help", text(&out.stdout));
    let out = yagura(Path::new("."), &["plan", "--help"]);
    insta::assert_snapshot!("plan_help", text(&out.stdout));
    let out = yagura(&example_fleet(), &["graph", "--service", "notifications"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    insta::assert_snapshot!("notifications_graph", text(&out.stdout));
}

#[test]
fn fmt_matches_the_shipped_style_and_rewrites_messy_files() {
    let out = yagura(&example_fleet(), &["fmt", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "unformatted: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let repo =
        fixture("service \"svc\" {\nowner = \"team\"\n    environments = [\"development\"]\n}\n");
    let out = yagura(repo.path(), &["fmt", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).trim(), "services/svc/main.hcl");
    let out = yagura(repo.path(), &["fmt"]);
    assert_eq!(out.status.code(), Some(0));
    let formatted =
        std::fs::read_to_string(repo.path().join("services/svc/main.hcl")).expect("spec");
    assert_eq!(
        formatted,
        "service \"svc\" {\n  owner        = \"team\"\n  environments = [\"development\"]\n}\n"
    );
    let out = yagura(repo.path(), &["fmt", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn moved_blocks_carry_state_to_the_new_address() {
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

module "apis" {
  source = "../../modules/apis"
}

moved {
  from = google_project_service.api
  to   = module.apis.google_project_service.spanner
}
"#,
    );
    let module = repo.path().join("modules/apis");
    std::fs::create_dir_all(&module).expect("create the module");
    std::fs::write(
        module.join("main.hcl"),
        "resource \"google_project_service\" \"spanner\" {\n  project = \"acme-svc-dev\"\n  service = \"spanner.googleapis.com\"\n}\n",
    )
    .expect("write the module");
    write_state(
        repo.path(),
        "development",
        api_state("spanner.googleapis.com", true),
    );
    let out = yagura(
        repo.path(),
        &["plan", "--no-refresh", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "# google_project_service.api has moved to module.apis.google_project_service.spanner"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move."),
        "{stdout}"
    );
    let out = yagura(repo.path(), &["plan", "--no-refresh", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    let change = &json["resource_changes"][0];
    assert_eq!(
        change["address"],
        "module.apis.google_project_service.spanner"
    );
    assert_eq!(change["previous_address"], "google_project_service.api");
    assert_eq!(change["change"]["actions"], serde_json::json!(["no-op"]));
}

#[test]
fn the_benchmark_fleet_generator_makes_a_valid_fleet() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fleet = dir.path().join("fleet");
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/gen_fleet.py"))
        .arg("3")
        .arg(&fleet)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = yagura(&fleet, &["plan", "--no-refresh", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    // 3 services x 2 environments x 16 resources, as bench/README.md says.
    assert_eq!(json["resource_changes"].as_array().map(Vec::len), Some(96));
}

#[test]
fn variable_validations_may_read_other_variables() {
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

module "range" {
  source = "../../modules/range"
  min    = 5
  max    = 3
}
"#,
    );
    let module = repo.path().join("modules/range");
    std::fs::create_dir_all(&module).expect("create the module");
    std::fs::write(
        module.join("variables.hcl"),
        r#"
variable "min" {
  type = number
}

variable "max" {
  type = number

  validation {
    condition     = var.max >= var.min
    error_message = "max (${var.max}) must not be below min (${var.min})."
  }
}
"#,
    )
    .expect("write the module");
    let out = yagura(repo.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("invalid value for variable `max`: max (3) must not be below min (5)."),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn prevent_destroy_guards_keys_that_go_away() {
    let repo = fixture(
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "random_id" "x" {
  count       = 1
  byte_length = 2

  lifecycle {
    prevent_destroy = true
  }
}
"#,
    );
    let stored = |i: usize| {
        serde_json::json!({"address": format!("random_id.x[{i}]"), "type": "random_id",
            "attributes": {"byte_length": 2, "prefix": null, "keepers": null, "id": "Af8", "b64_url": "Af8",
                           "b64_std": "Af8=", "hex": "01ff", "dec": "511"}})
    };
    write_state(
        repo.path(),
        "development",
        serde_json::json!([stored(0), stored(1)]),
    );
    let out = yagura(repo.path(), &["plan"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("svc/development/random_id.x[1] would be destroyed, but its `lifecycle { prevent_destroy = true }` forbids destroying it"),
        "{}",
        text(&out.stderr)
    );
}
