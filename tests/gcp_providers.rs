//! The Google providers against `fake-gcp`: create, read back with no drift,
//! update in place, move, delete, import, adoption of a lost create, and
//! faults. Refresh through `yagura plan` sees changes made outside yagura.

use std::process::Command;

use serde_json::{Value as Json, json};
use yagura::lang::Value;

mod support;
use support::{Fake, planned, runtime};
use yagura::providers::Provider;
use yagura::providers::gcp::GcpProvider;

fn project_plan(id: &str, name: &str, labels: Json) -> Value {
    planned(json!({
        "project_id": id, "name": name, "org_id": "123456789012", "folder_id": null,
        "billing_account": "01ABCD-234567-89EFGH", "labels": labels, "deletion_policy": "DELETE",
    }))
}

#[test]
fn google_project_lifecycle() {
    let fake = Fake::start(&["--folder", "4242"]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let created = rt
        .block_on(provider.create(
            "google_project",
            &project_plan("acme-pay-dev", "pay dev", json!({"team": "payments"})),
        ))
        .expect("creates the project");
    assert_eq!(
        created.attributes["billing_account"],
        "01ABCD-234567-89EFGH"
    );
    assert!(
        created.attributes["number"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );

    // Refresh shows no change.
    let read = rt
        .block_on(provider.read("google_project", &created))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, created);

    // Update in place: name and labels, then a move to a folder, then billing off.
    let mut plan = project_plan(
        "acme-pay-dev",
        "payments dev",
        json!({"team": "payments", "tier": "1"}),
    );
    let updated = rt
        .block_on(provider.update("google_project", &created, &plan))
        .expect("updates");
    assert_eq!(updated.attributes["name"], "payments dev");
    assert_eq!(
        updated.attributes["labels"],
        json!({"team": "payments", "tier": "1"})
    );
    assert_eq!(
        updated.attributes["number"], created.attributes["number"],
        "an update never replaces"
    );
    if let Value::Object(map) = &mut plan {
        map.insert("org_id".into(), Value::Null);
        map.insert("folder_id".into(), Value::string("4242"));
        map.insert("billing_account".into(), Value::Null);
    }
    let moved = rt
        .block_on(provider.update("google_project", &updated, &plan))
        .expect("moves");
    assert_eq!(moved.attributes["folder_id"], "4242");
    assert_eq!(moved.attributes["org_id"], Json::Null);
    assert_eq!(moved.attributes["billing_account"], Json::Null);

    // Import finds it by id.
    let imported = rt
        .block_on(provider.import("google_project", "acme-pay-dev"))
        .expect("imports");
    assert_eq!(imported.attributes["number"], created.attributes["number"]);

    // PREVENT refuses; DELETE deletes; a deleted project reads as gone.
    let mut prevent = moved.clone();
    prevent
        .attributes
        .insert("deletion_policy".into(), json!("PREVENT"));
    let refused = rt
        .block_on(provider.delete("google_project", &prevent))
        .expect_err("PREVENT refuses");
    assert!(
        refused.to_string().contains("deletion_policy PREVENT"),
        "{refused}"
    );
    rt.block_on(provider.delete("google_project", &moved))
        .expect("deletes");
    assert_eq!(
        rt.block_on(provider.read("google_project", &moved))
            .expect("reads"),
        None
    );

    // Project ids are never reused.
    let again = rt
        .block_on(provider.create(
            "google_project",
            &project_plan("acme-pay-dev", "pay dev", json!({})),
        ))
        .expect_err("the id is taken");
    assert!(again.to_string().contains("is taken"), "{again}");
}

#[test]
fn a_lost_create_is_adopted_only_when_it_is_provably_ours() {
    let fake = Fake::start(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let plan = project_plan("acme-led-dev", "ledger dev", json!({"team": "payments"}));
    let first = rt
        .block_on(provider.create("google_project", &plan))
        .expect("creates");
    // The same create again, as after a lost response: the project is ours.
    let second = rt
        .block_on(provider.create("google_project", &plan))
        .expect("adopts");
    assert_eq!(second.attributes["number"], first.attributes["number"]);
    // A different request for the same id is not ours.
    let other = project_plan("acme-led-dev", "someone else", json!({}));
    let err = rt
        .block_on(provider.create("google_project", &other))
        .expect_err("not adopted");
    assert!(err.to_string().contains("is taken"), "{err}");
}

#[test]
fn project_services_enable_and_disable() {
    let fake = Fake::start(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    rt.block_on(provider.create(
        "google_project",
        &project_plan("acme-cat-dev", "catalog dev", json!({})),
    ))
    .expect("creates the project");
    let plan = planned(
        json!({"project": "acme-cat-dev", "service": "spanner.googleapis.com",
                              "disable_on_destroy": true, "disable_dependent_services": false}),
    );
    let enabled = rt
        .block_on(provider.create("google_project_service", &plan))
        .expect("enables");
    assert_eq!(
        enabled.attributes["id"],
        "acme-cat-dev/spanner.googleapis.com"
    );
    assert!(
        rt.block_on(provider.read("google_project_service", &enabled))
            .expect("reads")
            .is_some()
    );
    let imported = rt
        .block_on(provider.import(
            "google_project_service",
            "acme-cat-dev/spanner.googleapis.com",
        ))
        .expect("imports");
    assert_eq!(imported.attributes["service"], "spanner.googleapis.com");
    rt.block_on(provider.delete("google_project_service", &enabled))
        .expect("disables");
    assert!(
        rt.block_on(provider.read("google_project_service", &enabled))
            .expect("reads")
            .is_none()
    );
    // Disabling what is already disabled is not an error.
    rt.block_on(provider.delete("google_project_service", &enabled))
        .expect("already disabled");
}

#[test]
fn faults_are_retried_without_duplicates() {
    let fake = Fake::start(&[
        "--fault-rate",
        "0.2",
        "--faults",
        "429,503",
        "--seed-rng",
        "7",
    ]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let mut numbers = Vec::new();
    for i in 0..10 {
        let id = format!("acme-fault-{i:02}");
        let object = rt
            .block_on(provider.create(
                "google_project",
                &project_plan(&id, "fault test", json!({})),
            ))
            .unwrap_or_else(|e| panic!("creating {id} despite faults: {e}"));
        numbers.push(object.attributes["number"].clone());
    }
    numbers.sort_by_key(|n| n.to_string());
    numbers.dedup();
    assert_eq!(numbers.len(), 10, "every project was created exactly once");
}

#[test]
fn plan_refresh_reports_changes_made_outside_yagura() {
    let fake = Fake::start(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let created = rt
        .block_on(provider.create(
            "google_project",
            &project_plan("acme-svc-dev", "svc dev", json!({"team": "t"})),
        ))
        .expect("creates");
    let repo = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        repo.path().join("yagura.hcl"),
        "platform {\n  org_id = \"123456789012\"\n}\n\nenvironment \"development\" {}\n",
    )
    .expect("yagura.hcl");
    std::fs::create_dir_all(repo.path().join("services/svc")).expect("service dir");
    std::fs::write(
        repo.path().join("services/svc/main.hcl"),
        r#"
service "svc" {
  owner        = "team"
  environments = ["development"]
}

resource "google_project" "p" {
  project_id      = "acme-svc-dev"
  name            = "svc dev"
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"
  labels          = { team = "t" }
  deletion_policy = "DELETE"
}
"#,
    )
    .expect("spec");
    let state = json!({"format_version": 1, "serial": 1, "lineage": "l", "instance": {"service": "svc", "env": "development"},
        "resources": [{"address": "google_project.p", "type": "google_project", "provider_id": created.provider_id,
                       "attributes": Json::Object(created.attributes.clone())}]});
    std::fs::create_dir_all(repo.path().join("state/svc")).expect("state dir");
    std::fs::write(
        repo.path().join("state/svc/development.json"),
        state.to_string(),
    )
    .expect("state");

    let yagura = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_yagura"));
        command
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .env("NO_COLOR", "1");
        for api in [
            "cloudresourcemanager",
            "cloudbilling",
            "serviceusage",
            "iam",
        ] {
            command.env(
                format!("YAGURA_ENDPOINT_{}", api.to_uppercase()),
                fake.url(api),
            );
        }
        command.output().expect("yagura runs")
    };
    let out = yagura(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Someone relabels the project by hand; the next plan sees it and puts the label back.
    let client = fake.client();
    let operation = rt
        .block_on(client.call(
            "cloudresourcemanager",
            reqwest::Method::PATCH,
            "v3/projects/acme-svc-dev?updateMask=labels",
            Some(&json!({"labels": {"team": "hijacked"}})),
        ))
        .expect("the fake takes the patch");
    rt.block_on(client.wait_operation("cloudresourcemanager", "v3", operation))
        .expect("the patch completes");
    let out = yagura(&["plan", "--detailed-exitcode"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("svc/development/google_project.p changed outside yagura"),
        "{stderr}"
    );
    assert!(
        stdout.contains("~ \"team\" = \"hijacked\" -> \"t\""),
        "{stdout}"
    );
}

#[test]
fn secret_and_version_lifecycle() {
    let fake = Fake::start(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    rt.block_on(provider.create(
        "google_project",
        &project_plan("acme-led-prd", "ledger prd", json!({})),
    ))
    .expect("creates the project");
    let secret_plan = |labels: Json| {
        planned(
            json!({"project": "acme-led-prd", "secret_id": "db-password", "labels": labels,
                       "replication": [{"auto": [{}], "user_managed": []}]}),
        )
    };
    let secret = rt
        .block_on(provider.create(
            "google_secret_manager_secret",
            &secret_plan(json!({"team": "payments"})),
        ))
        .expect("creates the secret");
    assert_eq!(
        secret.attributes["id"],
        "projects/acme-led-prd/secrets/db-password"
    );
    let read = rt
        .block_on(provider.read("google_secret_manager_secret", &secret))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, secret);
    let relabelled = rt
        .block_on(provider.update(
            "google_secret_manager_secret",
            &secret,
            &secret_plan(json!({"team": "ledger"})),
        ))
        .expect("relabels in place");
    assert_eq!(relabelled.attributes["labels"], json!({"team": "ledger"}));

    let version_plan = |enabled: bool| {
        planned(
            json!({"secret": "projects/acme-led-prd/secrets/db-password", "secret_data": "s3cr3t-value", "enabled": enabled}),
        )
    };
    let version = rt
        .block_on(provider.create("google_secret_manager_secret_version", &version_plan(true)))
        .expect("adds a version");
    assert_eq!(version.attributes["version"], "1");
    let read = rt
        .block_on(provider.read("google_secret_manager_secret_version", &version))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, version);
    let imported = rt
        .block_on(provider.import(
            "google_secret_manager_secret_version",
            version.attributes["name"].as_str().expect("a name"),
        ))
        .expect("imports");
    assert_eq!(imported.attributes["secret_data"], "s3cr3t-value");
    let disabled = rt
        .block_on(provider.update(
            "google_secret_manager_secret_version",
            &version,
            &version_plan(false),
        ))
        .expect("disables");
    assert_eq!(disabled.attributes["enabled"], false);
    rt.block_on(provider.delete("google_secret_manager_secret_version", &disabled))
        .expect("destroys");
    assert_eq!(
        rt.block_on(provider.read("google_secret_manager_secret_version", &disabled))
            .expect("reads"),
        None
    );
    rt.block_on(provider.delete("google_secret_manager_secret", &relabelled))
        .expect("deletes the secret");
    assert_eq!(
        rt.block_on(provider.read("google_secret_manager_secret", &relabelled))
            .expect("reads"),
        None
    );
}
