//! `yagura apply` end to end: the binary against fake-gcp, with local state.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value as Json;
use support::{Fake, PLATFORM, PROJECT, SPEC, succeeded, text, write_spec};
use yagura::addr::InstanceAddr;
use yagura::state::Backend;
use yagura::state::local::LocalBackend;

fn repo(spec: &str) -> tempfile::TempDir {
    support::repo_with(PLATFORM, spec)
}

fn command(dir: &Path, fake: &Fake, args: &[&str]) -> Command {
    support::yagura_command(dir, fake, args)
}

fn yagura(dir: &Path, fake: &Fake, args: &[&str]) -> Output {
    command(dir, fake, args)
        .output()
        .expect("the yagura binary runs")
}

/// reqwest is built without a default TLS back-end; the binary installs ring, and so do tests.
fn tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn policy_members(fake: &Fake, role: &str) -> Vec<String> {
    tls();
    let url = format!(
        "{}v3/projects/{PROJECT}:getIamPolicy",
        fake.url("cloudresourcemanager")
    );
    let policy: Json = support::runtime().block_on(async {
        reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({"options": {"requestedPolicyVersion": 3}}))
            .send()
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON")
    });
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["role"] == role)
        .flat_map(|b| b["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect()
}

/// The instance's state as stored; panics when it cannot be read.
fn read_state(dir: &Path) -> Option<yagura::state::StateDocument> {
    support::runtime()
        .block_on(
            LocalBackend::new(dir.join("state")).read(&InstanceAddr::new("demo", "development")),
        )
        .expect("the state is readable")
}

fn no_changes(dir: &Path, fake: &Fake) {
    let output = yagura(dir, fake, &["plan", "--detailed-exitcode"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a plan after apply shows no changes:\n{stdout}\n{}",
        text(&output.stderr)
    );
}

#[test]
fn apply_creates_converges_changes_in_place_and_destroys_removals() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(
        stdout.contains("Apply complete") && stdout.contains("7 created, 0 changed, 0 destroyed"),
        "{stdout}"
    );
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["labels"]["team"], "payments");
    let member = format!("serviceAccount:demo-app@{PROJECT}.iam.gserviceaccount.com");
    assert_eq!(
        policy_members(&fake, "roles/secretmanager.secretAccessor"),
        std::slice::from_ref(&member)
    );
    no_changes(dir.path(), &fake);

    // A label changes in place; the grant is removed from the specs.
    let without_grant = SPEC.replace("team = \"payments\"", "team = \"billing\"");
    let start = without_grant
        .find("resource \"google_project_iam_member\"")
        .expect("the grant is in the spec");
    let end = without_grant
        .find("resource \"random_id\"")
        .expect("random_id follows");
    let without_grant = format!("{}{}", &without_grant[..start], &without_grant[end..]);
    write_spec(dir.path(), &without_grant);
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(
        stdout.contains("0 created, 1 changed, 1 destroyed, 0 failed"),
        "{stdout}"
    );
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["labels"]["team"], "billing");
    assert!(policy_members(&fake, "roles/secretmanager.secretAccessor").is_empty());
    no_changes(dir.path(), &fake);

    let state = read_state(dir.path()).expect("written");
    assert_eq!(state.serial, 2, "one write per apply");
    assert_eq!(state.resources.len(), 6);
    assert!(state.pending.is_empty());
    let mode = std::fs::metadata(dir.path().join("state/demo/development.json"))
        .expect("the state file")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

#[test]
fn without_a_terminal_apply_needs_auto_approve() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    let output = yagura(dir.path(), &fake, &["apply"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("there is no terminal to ask on; pass --auto-approve"),
        "{stderr}"
    );
    assert!(!dir.path().join("state/demo/development.json").exists());
    let projects = fake.get(
        "cloudresourcemanager",
        "v3/projects?parent=organizations/123456789012",
    );
    assert!(projects.get("projects").is_none(), "{projects}");
}

#[test]
fn a_saved_plan_applies_and_a_stale_one_is_refused() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["plan", "--out", "first.plan"]));
    succeeded(&yagura(
        dir.path(),
        &fake,
        &["plan", "--out", "second.plan"],
    ));
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "first.plan"]));
    assert!(stdout.contains("7 created"), "{stdout}");

    // The state moved on since the second plan was made.
    let output = yagura(dir.path(), &fake, &["apply", "second.plan"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "the plan is stale: the state of demo/development was written since the plan was made"
        ),
        "{stderr}"
    );

    // The specs changed since the plan was made.
    write_spec(dir.path(), &SPEC.replace("payments", "billing"));
    succeeded(&yagura(dir.path(), &fake, &["plan", "--out", "third.plan"]));
    write_spec(dir.path(), &SPEC.replace("payments", "ledger"));
    let output = yagura(dir.path(), &fake, &["apply", "third.plan"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the specs changed since")
            && stderr.contains("third.plan was made; plan again"),
        "{stderr}"
    );

    // The cloud changed since the plan was made: the label was edited by hand.
    write_spec(dir.path(), &SPEC.replace("payments", "billing"));
    succeeded(&yagura(
        dir.path(),
        &fake,
        &["plan", "--out", "fourth.plan"],
    ));
    let url = format!(
        "{}v3/projects/{PROJECT}?updateMask=labels",
        fake.url("cloudresourcemanager")
    );
    tls();
    support::runtime().block_on(async {
        let response = reqwest::Client::new()
            .patch(&url)
            .json(&serde_json::json!({"labels": {"team": "by-hand"}}))
            .send()
            .await
            .expect("the fake answers");
        assert!(response.status().is_success());
        // The edit is an operation: wait until it is done, as gcloud does.
        let operation: Json = response.json().await.expect("an operation");
        let name = operation["name"].as_str().expect("a name").to_string();
        let url = format!("{}v3/{name}", fake.url("cloudresourcemanager"));
        loop {
            let polled: Json = reqwest::get(&url)
                .await
                .expect("the fake answers")
                .json()
                .await
                .expect("JSON");
            if polled["done"] == true {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
    let output = yagura(dir.path(), &fake, &["apply", "fourth.plan"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the plan is stale: the planned values of demo/development/google_project.this changed since it was made"),
        "{stderr}"
    );
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["labels"]["team"], "by-hand", "nothing was applied");
}

#[test]
fn a_failure_skips_only_what_depends_on_it() {
    let fake = Fake::start(&[]);
    let spec = format!(
        "{SPEC}\n{}",
        r#"
resource "google_project" "orphaned" {
  project_id      = "acme-demo-orphaned"
  name            = "orphaned"
  folder_id       = "999"
  billing_account = platform.billing_account
  deletion_policy = "DELETE"
}

resource "google_service_account" "orphaned" {
  project    = google_project.orphaned.project_id
  account_id = "lost-account"
}
"#
    );
    let dir = repo(&spec);
    let output = yagura(dir.path(), &fake, &["apply", "--auto-approve"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Apply failed")
            && stdout.contains("7 created, 0 changed, 0 destroyed, 1 failed, 1 skipped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("google_service_account.orphaned")
            && stdout.contains("skipped: google_project.orphaned did not finish"),
        "{stdout}"
    );
    let failure = stdout
        .lines()
        .find(|l| l.contains("google_project.orphaned") && l.contains("failed"))
        .expect("the failure is listed");
    assert!(failure.contains("folders/999"), "{failure}");

    // The refused create left no intent to read back.
    let state = read_state(dir.path()).expect("written");
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    // What finished is in the state; what did not is planned again.
    let output = yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stdout).contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn a_locked_instance_fails_fast_naming_the_holder_or_waits() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    let backend = LocalBackend::new(dir.path().join("state"));
    let instance = InstanceAddr::new("demo", "development");
    let held = support::runtime()
        .block_on(backend.lock(
            &instance,
            &yagura::state::LockInfo::current("state rm"),
            Duration::ZERO,
        ))
        .expect("the lock is free");
    let output = yagura(dir.path(), &fake, &["apply", "--auto-approve"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("demo/development is locked by")
            && stderr.contains(&format!("pid {}, state rm", std::process::id())),
        "{stderr}"
    );
    assert!(!dir.path().join("state/demo/development.json").exists());

    // With --lock-timeout the second apply waits for the holder and then runs.
    let child = command(
        dir.path(),
        &fake,
        &["apply", "--auto-approve", "--lock-timeout", "5m"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("yagura starts");
    drop(held);
    let output = child.wait_with_output().expect("yagura finishes");
    let stdout = succeeded(&output);
    assert!(stdout.contains("7 created"), "{stdout}");
}

/// Kills apply with SIGKILL at successive points (after the n-th step starts), then
/// lets a last apply finish: everything exists exactly once and the state knows it.
#[test]
fn killed_applies_converge_without_duplicates() {
    let fake = Fake::start(&["--latency-ms", "5"]);
    let dir = repo(SPEC);
    for n in 1..=8 {
        let mut child = command(dir.path(), &fake, &["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("yagura starts");
        let stderr = BufReader::new(child.stderr.take().expect("piped"));
        let mut started = 0;
        for line in stderr.lines() {
            let line = line.expect("stderr is text");
            if line.ends_with("...") {
                started += 1;
                if started == n {
                    break;
                }
            }
        }
        child.kill().expect("SIGKILL is delivered");
        child.wait().expect("the child is reaped");
    }
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(stdout.contains("Apply complete"), "{stdout}");
    no_changes(dir.path(), &fake);

    fake.assert_nothing_duplicated();
    let member = format!("serviceAccount:demo-app@{PROJECT}.iam.gserviceaccount.com");
    assert_eq!(
        policy_members(&fake, "roles/secretmanager.secretAccessor"),
        [member]
    );
    let state = read_state(dir.path()).expect("written");
    assert_eq!(state.resources.len(), 7);
    assert!(state.pending.is_empty());
}

/// What a killed apply leaves when it dies between a create's call and its record:
/// an intent in the state. The next apply reads the resource back instead of
/// creating it again, and creates what the interrupted call never made.
#[test]
fn interrupted_creates_are_read_back_not_repeated() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    let path = dir.path().join("state/demo/development.json");
    let mut state: Json =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state")).expect("JSON");
    // The secret version and the grant were created, but only their intents were recorded.
    let mut pending = Vec::new();
    let resources = state["resources"].as_array_mut().expect("resources");
    resources.retain(|r| {
        let address = r["address"].as_str().unwrap_or_default();
        let interrupted = address == "google_secret_manager_secret_version.key"
            || address == "google_project_iam_member.app";
        if interrupted {
            let mut attributes = r["attributes"].clone();
            let attrs = attributes.as_object_mut().expect("attributes");
            for computed in ["name", "id", "version", "create_time", "etag"] {
                attrs.remove(computed);
            }
            pending.push(serde_json::json!({
                "address": address,
                "type": r["type"],
                "attributes": attributes,
            }));
        }
        !interrupted
    });
    // And a create of a second account that never reached the API.
    pending.push(serde_json::json!({
        "address": "google_service_account.extra",
        "type": "google_service_account",
        "attributes": {"project": PROJECT, "account_id": "demo-extra",
                       "email": format!("demo-extra@{PROJECT}.iam.gserviceaccount.com")},
    }));
    state["pending"] = Json::Array(pending);
    std::fs::write(&path, serde_json::to_string_pretty(&state).expect("JSON")).expect("written");

    let output = yagura(dir.path(), &fake, &["apply", "--auto-approve"]);
    let stdout = succeeded(&output);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "google_secret_manager_secret_version.key: reading back an interrupted create..."
        ) && stderr.contains("google_service_account.extra: reading back an interrupted create..."),
        "{stderr}"
    );
    assert!(stdout.contains("No changes."), "{stdout}");
    let versions = fake.get(
        "secretmanager",
        &format!("v1/projects/{PROJECT}/secrets/key/versions"),
    );
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(1),
        "{versions}"
    );
    let accounts = fake.get("iam", &format!("v1/projects/{PROJECT}/serviceAccounts"));
    assert_eq!(
        accounts["accounts"].as_array().map(Vec::len),
        Some(1),
        "{accounts}"
    );
    let state = read_state(dir.path()).expect("written");
    assert!(state.pending.is_empty());
    assert_eq!(state.resources.len(), 7);
    assert!(state.resource("google_service_account.extra").is_none());
    no_changes(dir.path(), &fake);
}

/// Eight applies, each in its own process and instance, add a different member to one
/// project's policy at the same moment: every member ends up in the policy.
#[test]
fn eight_processes_granting_on_one_policy_all_land() {
    let seed = serde_json::json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": "acme-shared", "parent": "organizations/123456789012"}],
    });
    let fake = Fake::start_seeded(&seed, &[]);
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("yagura.hcl"), PLATFORM).expect("write yagura.hcl");
    for i in 0..8 {
        let service = dir.path().join(format!("services/team{i}"));
        std::fs::create_dir_all(&service).expect("create the service directory");
        std::fs::write(
            service.join("main.hcl"),
            format!(
                r#"
service "team{i}" {{
  owner        = "team{i}"
  environments = ["development"]
}}

resource "google_project_iam_member" "viewer" {{
  project = "acme-shared"
  role    = "roles/viewer"
  member  = "group:team{i}@acme.example"
}}
"#
            ),
        )
        .expect("write the spec");
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            command(
                dir.path(),
                &fake,
                &["apply", "--auto-approve", "--service", &format!("team{i}")],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("yagura starts")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("yagura finishes");
        let stdout = succeeded(&output);
        assert!(stdout.contains("1 created"), "{stdout}");
    }
    let url = format!(
        "{}v3/projects/acme-shared:getIamPolicy",
        fake.url("cloudresourcemanager")
    );
    tls();
    let policy: Json = support::runtime().block_on(async {
        reqwest::Client::new()
            .post(&url)
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON")
    });
    let mut viewers: Vec<String> = policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["role"] == "roles/viewer")
        .flat_map(|b| b["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    viewers.sort();
    let expected: Vec<String> = (0..8)
        .map(|i| format!("group:team{i}@acme.example"))
        .collect();
    assert_eq!(viewers, expected, "{policy}");
}

/// Patches the project's labels through the fake's API, as someone editing by hand
/// would, and waits until the edit's operation is done.
fn edit_labels_by_hand(fake: &Fake, team: &str) {
    let url = format!(
        "{}v3/projects/{PROJECT}?updateMask=labels",
        fake.url("cloudresourcemanager")
    );
    tls();
    support::runtime().block_on(async {
        let response = reqwest::Client::new()
            .patch(&url)
            .json(&serde_json::json!({"labels": {"team": team}}))
            .send()
            .await
            .expect("the fake answers");
        assert!(response.status().is_success());
        let operation: Json = response.json().await.expect("an operation");
        let name = operation["name"].as_str().expect("a name").to_string();
        let url = format!("{}v3/{name}", fake.url("cloudresourcemanager"));
        loop {
            let polled: Json = reqwest::get(&url)
                .await
                .expect("the fake answers")
                .json()
                .await
                .expect("JSON");
            if polled["done"] == true {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
}

#[test]
fn drift_reports_changes_made_outside_with_detailed_exit_codes() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    let stdout = succeeded(&yagura(dir.path(), &fake, &["drift"]));
    assert!(stdout.contains("No drift"), "{stdout}");

    edit_labels_by_hand(&fake, "by-hand");
    let output = yagura(dir.path(), &fake, &["drift"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("demo/development/google_project.this changed outside yagura:")
            && stdout.contains(r#"~ labels: {"team":"payments"} -> {"team":"by-hand"}"#)
            && stdout.contains("1 resource drifted"),
        "{stdout}"
    );
    let output = yagura(dir.path(), &fake, &["drift", "--format", "json"]);
    assert_eq!(output.status.code(), Some(2));
    let report: Json = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        report,
        serde_json::json!({"drift": [{
            "instance": "demo/development",
            "address": "google_project.this",
            "change": "changed",
            "attributes": {"labels": {"before": {"team": "payments"}, "after": {"team": "by-hand"}}},
        }]})
    );
    // Drift writes nothing: the stored state still has the old labels.
    let state = read_state(dir.path()).expect("written");
    assert_eq!(
        state
            .resource("google_project.this")
            .expect("stored")
            .attributes["labels"],
        serde_json::json!({"team": "payments"})
    );
}

#[test]
fn state_commands_and_import_edit_the_state_under_its_lock() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    let instance = ["--service", "demo", "--env", "development"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(instance.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        yagura(dir.path(), &fake, &args)
    };

    let listed = succeeded(&run(with(&["state", "list"])));
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "google_project.this",
            "google_project_iam_member.app",
            "google_project_service.sm",
            "google_secret_manager_secret.key",
            "google_secret_manager_secret_version.key",
            "google_service_account.app",
            "random_id.key",
        ]
    );
    let shown = succeeded(&run(with(&[
        "state",
        "show",
        "google_secret_manager_secret_version.key",
    ])));
    let shown: Json = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown["attributes"]["secret_data"], "(sensitive value)");
    assert_eq!(
        shown["attributes"]["secret"],
        format!("projects/{PROJECT}/secrets/key")
    );

    // A renamed resource keeps its object; a forgotten one is still in the cloud.
    succeeded(&run(with(&[
        "state",
        "mv",
        "random_id.key",
        "random_id.old",
    ])));
    succeeded(&run(with(&["state", "rm", "google_service_account.app"])));
    let output = run(with(&["state", "rm", "google_service_account.app"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("google_service_account.app is not in the state"));
    let accounts = fake.get("iam", &format!("v1/projects/{PROJECT}/serviceAccounts"));
    assert_eq!(accounts["accounts"].as_array().map(Vec::len), Some(1));

    // Import puts the account back; the move is undone by hand.
    let email = format!("demo-app@{PROJECT}.iam.gserviceaccount.com");
    let id = format!("projects/{PROJECT}/serviceAccounts/{email}");
    let stdout = succeeded(&run(with(&["import", "google_service_account.app", &id])));
    assert!(stdout.contains("Imported"), "{stdout}");
    let output = run(with(&["import", "google_service_account.app", &id]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("google_service_account.app is already in the state"),
        "{}",
        text(&output.stderr)
    );
    let output = run(with(&["import", "google_service_account.nothere", &id]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("declare no google_service_account.nothere"),
        "{}",
        text(&output.stderr)
    );
    succeeded(&run(with(&[
        "state",
        "mv",
        "random_id.old",
        "random_id.key",
    ])));
    no_changes(dir.path(), &fake);
}

#[test]
fn destroy_asks_deletes_everything_and_respects_protection() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    let args = ["destroy", "--service", "demo", "--env", "development"];
    let output = yagura(dir.path(), &fake, &args);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("destroy needs confirmation"),
        "{}",
        text(&output.stderr)
    );
    let mut approved = args.to_vec();
    approved.push("--auto-approve");
    let stdout = succeeded(&yagura(dir.path(), &fake, &approved));
    assert!(
        stdout.contains("Destroy complete") && stdout.contains("7 destroyed"),
        "{stdout}"
    );
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["state"], "DELETE_REQUESTED", "{project}");
    let state = read_state(dir.path()).expect("written");
    assert!(state.resources.is_empty());

    // In a protected environment a project may not be destroyed (a new fake: the
    // project id above stays taken while it is pending deletion).
    let fake = Fake::start(&[]);
    let protected = tempfile::tempdir().expect("a directory");
    std::fs::write(
        protected.path().join("yagura.hcl"),
        PLATFORM.replace(
            "environment \"development\" {}",
            "environment \"development\" {\n  protected = true\n}",
        ),
    )
    .expect("write yagura.hcl");
    write_spec(protected.path(), SPEC);
    succeeded(&yagura(
        protected.path(),
        &fake,
        &["apply", "--auto-approve"],
    ));
    let output = yagura(protected.path(), &fake, &approved);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("demo/development/google_project.this would be destroyed, but development is a protected environment"),
        "{stderr}"
    );
}

/// A project created outside yagura is adopted by an `import` block: plan shows
/// the import, apply records it without creating anything, and afterwards the
/// block has nothing left to do.
#[test]
fn import_blocks_adopt_existing_resources() {
    let seed = serde_json::json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": PROJECT, "parent": "organizations/123456789012",
                      "display_name": "demo", "billing_account": "01ABCD-234567-89EFGH"}],
    });
    let fake = Fake::start_seeded(&seed, &[]);
    let spec = r#"
service "demo" {
  owner        = "team"
  environments = ["development"]
}

import {
  to = google_project.this
  id = "acme-demo-${env.name}"
}

resource "google_project" "this" {
  project_id      = "acme-demo-${env.name}"
  name            = "demo"
  org_id          = platform.org_id
  billing_account = platform.billing_account
  deletion_policy = "DELETE"
  labels = {
    team = "payments"
  }
}
"#;
    let dir = repo(spec);
    let output = yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("# google_project.this will be updated in-place")
            && stdout.contains(r#"# (imported from id "acme-demo-development")"#)
            && stdout.contains("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."),
        "{stdout}"
    );
    let output = yagura(dir.path(), &fake, &["plan", "--format", "json"]);
    let plan: Json = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        plan["resource_changes"][0]["importing"],
        serde_json::json!({"id": "acme-demo-development"})
    );

    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(stdout.contains("0 created, 1 changed"), "{stdout}");
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["labels"]["team"], "payments");
    let projects = fake.get(
        "cloudresourcemanager",
        "v3/projects?parent=organizations/123456789012",
    );
    assert_eq!(projects["projects"].as_array().map(Vec::len), Some(1));
    no_changes(dir.path(), &fake);

    // An import to an address the specs do not declare is refused, not planned as a delete.
    write_spec(
        dir.path(),
        &spec.replace("to = google_project.this", "to = google_project.other"),
    );
    let output = yagura(dir.path(), &fake, &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr)
            .contains("imports to google_project.other, which the specs do not declare"),
        "{}",
        text(&output.stderr)
    );
}

/// `create_before_destroy`: the new object is made first and the old one is kept in
/// the state as deposed until its delete; one an earlier apply left is deleted by
/// the next.
#[test]
fn create_before_destroy_deposes_then_deletes_the_old_object() {
    let fake = Fake::start(&[]);
    let spec = SPEC.replace(
        "  secret_data = random_id.key.b64_url\n",
        "  secret_data = random_id.key.b64_url\n  lifecycle {\n    create_before_destroy = true\n  }\n",
    );
    let dir = repo(&spec);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    let first = read_state(dir.path()).expect("written");
    let old_version = first
        .resource("google_secret_manager_secret_version.key")
        .expect("stored")
        .clone();

    // A new key replaces the version: the new one first, then the old one goes.
    write_spec(
        dir.path(),
        &spec.replace(
            "byte_length = 16",
            "byte_length = 16\n  keepers = { v = \"2\" }",
        ),
    );
    // The random key it depends on is replaced new-first too, as in Terraform.
    let plan = succeeded(&yagura(dir.path(), &fake, &["plan"]));
    assert!(
        plan.contains("+/- resource \"random_id\" \"key\"")
            && plan.contains("+/- resource \"google_secret_manager_secret_version\" \"key\""),
        "{plan}"
    );
    let output = yagura(dir.path(), &fake, &["apply", "--auto-approve"]);
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("2 created, 0 changed, 2 destroyed"),
        "{stdout}"
    );
    let stderr = text(&output.stderr);
    let created = stderr
        .find("google_secret_manager_secret_version.key: created")
        .expect("created");
    let destroyed = stderr
        .find("google_secret_manager_secret_version.key: destroyed")
        .expect("destroyed");
    assert!(created < destroyed, "{stderr}");
    let old = fake.get(
        "secretmanager",
        &format!(
            "v1/{}",
            old_version.attributes["name"].as_str().expect("a name")
        ),
    );
    assert_eq!(old["state"], "DESTROYED", "{old}");
    let state = read_state(dir.path()).expect("written");
    assert!(state.deposed.is_empty());
    no_changes(dir.path(), &fake);

    // A deposed object left by a killed apply is deleted by the next one.
    let mut leftover = state
        .resource("google_secret_manager_secret_version.key")
        .expect("stored")
        .clone();
    let secret = leftover.attributes["secret"]
        .as_str()
        .expect("a secret")
        .to_string();
    tls();
    let added: Json = support::runtime().block_on(async {
        reqwest::Client::new()
            .post(format!(
                "{}v1/{secret}:addVersion",
                fake.url("secretmanager")
            ))
            .json(&serde_json::json!({"payload": {"data": "b2xk"}}))
            .send()
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON")
    });
    let name = added["name"].as_str().expect("a version name").to_string();
    leftover
        .attributes
        .insert("name".into(), name.clone().into());
    leftover.attributes.insert("id".into(), name.clone().into());
    leftover.provider_id = Some(name.clone());
    let path = dir.path().join("state/demo/development.json");
    let mut document: Json =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state")).expect("JSON");
    document["deposed"] = serde_json::json!([serde_json::to_value(&leftover).expect("JSON")]);
    std::fs::write(&path, document.to_string()).expect("written");
    let output = yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("# google_secret_manager_secret_version.key will be destroyed")
            && stdout.contains(
                "because it is the old object of a replacement that an interrupted apply left"
            )
            && stdout.contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{stdout}"
    );
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(
        stdout.contains("google_secret_manager_secret_version.key (deposed)")
            && stdout.contains("0 created, 0 changed, 1 destroyed"),
        "{stdout}"
    );
    let gone = fake.get("secretmanager", &format!("v1/{name}"));
    assert_eq!(gone["state"], "DESTROYED", "{gone}");
    assert!(read_state(dir.path()).expect("written").deposed.is_empty());
}

/// Right after an API is enabled or a service account created, Google's front ends
/// may not know it yet: the calls that follow are repeated until they do.
#[test]
fn apis_just_enabled_and_accounts_just_created_are_waited_for() {
    let fake = Fake::start(&["--consistency-lag-ms", "300"]);
    let dir = repo(SPEC);
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(stdout.contains("7 created"), "{stdout}");
    no_changes(dir.path(), &fake);
}

/// At the most verbose logging an apply and a plan print no secret: the generated
/// password, which is also a secret version's payload, is in the state only. (A
/// `random_id` is not sensitive, in Terraform as here, and plans show it.)
#[test]
fn no_secret_reaches_the_output_at_any_verbosity() {
    let fake = Fake::start(&[]);
    let spec = format!(
        "{SPEC}\n{}",
        r#"
resource "random_password" "db" {
  length = 32
}

resource "google_secret_manager_secret" "db" {
  project   = google_project.this.project_id
  secret_id = "db"
  replication {
    auto {}
  }
  depends_on = [google_project_service.sm]
}

resource "google_secret_manager_secret_version" "db" {
  secret      = google_secret_manager_secret.db.id
  secret_data = random_password.db.result
}
"#
    );
    let dir = repo(&spec);
    let apply = yagura(dir.path(), &fake, &["-vvv", "apply", "--auto-approve"]);
    succeeded(&apply);
    let plan = yagura(dir.path(), &fake, &["-vvv", "plan", "--format", "json"]);
    succeeded(&plan);
    let state = read_state(dir.path()).expect("written");
    let password = state
        .resource("random_password.db")
        .expect("stored")
        .attributes["result"]
        .as_str()
        .expect("a password")
        .to_string();
    assert_eq!(password.len(), 32);
    for output in [&apply, &plan] {
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(
            all.contains("TRACE") || all.contains("DEBUG"),
            "logs are on"
        );
        assert!(!all.contains(&password), "the password leaked");
    }
}

/// A service removed from the specs is destroyed by the next apply, as any
/// resource removed from the specs is; its state ends empty.
#[test]
fn a_removed_service_is_destroyed() {
    let fake = Fake::start(&[]);
    let dir = repo(SPEC);
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    std::fs::remove_dir_all(dir.path().join("services/demo")).expect("removed");
    let other = dir.path().join("services/other");
    std::fs::create_dir_all(&other).expect("a service directory");
    std::fs::write(
        other.join("main.hcl"),
        "service \"other\" {\n  owner        = \"team\"\n  environments = [\"development\"]\n}\n\nresource \"random_id\" \"x\" {\n  byte_length = 2\n}\n",
    )
    .expect("written");

    let output = yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("demo/development: 0 to add, 0 to change, 7 to destroy.")
            && stdout.contains("# (because google_project.this is not in configuration)")
            && stdout.contains("other/development: 1 to add"),
        "{stdout}"
    );
    let stdout = succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    assert!(
        stdout.contains("1 created, 0 changed, 7 destroyed"),
        "{stdout}"
    );
    let project = fake.get("cloudresourcemanager", &format!("v3/projects/{PROJECT}"));
    assert_eq!(project["state"], "DELETE_REQUESTED", "{project}");
    assert!(read_state(dir.path()).expect("kept").resources.is_empty());
    let output = yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    // With everything gone, the removed instance is no longer planned at all.
    assert!(
        !text(&output.stdout).contains("demo/development"),
        "{}",
        text(&output.stdout)
    );
}

/// In a protected environment, a removed service's project is not destroyed.
#[test]
fn a_removed_service_keeps_its_project_in_a_protected_environment() {
    let fake = Fake::start(&[]);
    let dir = support::repo_with(
        &PLATFORM.replace(
            "environment \"development\" {}",
            "environment \"development\" {\n  protected = true\n}",
        ),
        SPEC,
    );
    succeeded(&yagura(dir.path(), &fake, &["apply", "--auto-approve"]));
    write_spec(
        dir.path(),
        &SPEC.replace("environments = [\"development\"]", "environments = []"),
    );
    let output = yagura(dir.path(), &fake, &["plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("demo/development/google_project.this would be destroyed because demo/development left the specs, but development is a protected environment"),
        "{stderr}"
    );
}
