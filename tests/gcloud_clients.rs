//! Google's own client, gcloud, works against fake-gcp unchanged: only its
//! endpoint overrides point it at the fake (it calls Resource Manager v1, which
//! the fake does not serve, so projects are made through the fake's v3 API).

mod support;

use std::path::Path;
use std::process::Command;

use support::Fake;

const GCLOUD: &str = "/usr/bin/gcloud";

/// gcloud with a throwaway configuration, a dummy token and the fake's endpoints.
fn gcloud(config: &Path, fake: &Fake, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(GCLOUD);
    command
        .args(args)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_AUTH_ACCESS_TOKEN", "not-a-real-token")
        .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "1");
    for api in ["secretmanager", "iam", "serviceusage"] {
        command.env(
            format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{}", api.to_uppercase()),
            fake.url(api),
        );
    }
    let output = command.output().expect("gcloud runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn gcloud_present() -> bool {
    if Path::new(GCLOUD).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{GCLOUD} is missing; CI must run the gcloud compatibility test"
    );
    eprintln!("note: {GCLOUD} is missing; the gcloud compatibility test is skipped");
    false
}

#[test]
fn gcloud_manages_secrets_accounts_and_services_on_the_fake() {
    if !gcloud_present() {
        return;
    }
    let seed = serde_json::json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": "acme-gc", "parent": "organizations/123456789012",
                      "services": ["secretmanager.googleapis.com", "iam.googleapis.com"]}],
    });
    let fake = Fake::start_seeded(&seed, &[]);
    let config = tempfile::tempdir().expect("a configuration directory");
    let run = |args: &[&str]| {
        let (ok, text) = gcloud(config.path(), &fake, args);
        assert!(ok, "gcloud {args:?} failed:\n{text}");
        text
    };
    run(&[
        "secrets",
        "create",
        "db-pass",
        "--project",
        "acme-gc",
        "--replication-policy",
        "automatic",
    ]);
    let payload = tempfile::NamedTempFile::new().expect("a payload file");
    std::fs::write(payload.path(), "correct horse").expect("written");
    let data_file = format!("--data-file={}", payload.path().display());
    let added = run(&[
        "secrets",
        "versions",
        "add",
        "db-pass",
        "--project",
        "acme-gc",
        &data_file,
    ]);
    assert!(added.contains("Created version [1]"), "{added}");
    let read = run(&[
        "secrets",
        "versions",
        "access",
        "latest",
        "--secret",
        "db-pass",
        "--project",
        "acme-gc",
    ]);
    assert_eq!(read, "correct horse");

    run(&[
        "iam",
        "service-accounts",
        "create",
        "app-runtime",
        "--project",
        "acme-gc",
    ]);
    let listed = run(&[
        "iam",
        "service-accounts",
        "list",
        "--project",
        "acme-gc",
        "--format=value(email)",
    ]);
    assert_eq!(listed.trim(), "app-runtime@acme-gc.iam.gserviceaccount.com");

    let enabled = run(&[
        "services",
        "list",
        "--enabled",
        "--project",
        "acme-gc",
        "--format=value(config.name)",
    ]);
    let mut names: Vec<&str> = enabled.lines().collect();
    names.sort();
    assert_eq!(
        names,
        ["iam.googleapis.com", "secretmanager.googleapis.com"]
    );

    // An error keeps Google's shape all the way to gcloud's message.
    let (ok, text) = gcloud(
        config.path(),
        &fake,
        &["secrets", "describe", "missing", "--project", "acme-gc"],
    );
    assert!(!ok);
    assert!(text.contains("NOT_FOUND"), "{text}");
}
