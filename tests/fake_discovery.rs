//! `fake-gcp --discovery`: requests checked against Google's discovery documents.
//! Bodies Google's JSON parser refuses (unknown fields, wrong types, values outside
//! an enum) get Google's 400 for several APIs, valid ones reach the handlers,
//! methods Google lacks get 404, and a bad folder stops the fake at start-up.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value as Json, json};

mod support;
use support::{Fake, discovery_dir, runtime};

/// Starts a fake that checks requests; `None` (after a warning) without the
/// discovery documents, which `support::discovery_dir` allows only outside CI.
fn checking_fake() -> Option<Fake> {
    discovery_dir()?;
    Some(Fake::start(&[]))
}

/// Sends `body` and returns the status and the JSON answer.
fn call(fake: &Fake, method: Method, api: &str, path: &str, body: Option<Json>) -> (u16, Json) {
    // reqwest is built without a default TLS provider and wants one even for plain
    // HTTP. Installing twice fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("{}{path}", fake.url(api));
    runtime().block_on(async {
        let mut request = client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Json::Null))
    })
}

/// Asserts that the answer is Google's 400 for a body, with these messages
/// (one per problem) and the fields they name.
fn assert_refused(answer: (u16, Json), expected: &[(Option<&str>, &str)]) {
    let (status, body) = answer;
    assert_eq!(status, 400, "{body}");
    let error = &body["error"];
    assert_eq!(error["status"], "INVALID_ARGUMENT", "{body}");
    let messages: Vec<&str> = expected.iter().map(|(_, message)| *message).collect();
    assert_eq!(error["message"], messages.join("\n"), "{body}");
    let violations: Vec<Json> = expected
        .iter()
        .map(|(field, description)| match field {
            Some(field) => json!({"field": field, "description": description}),
            None => json!({"description": description}),
        })
        .collect();
    assert_eq!(
        error["details"],
        json!([{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]),
        "{body}"
    );
}

#[test]
fn unknown_fields_are_refused() {
    let Some(fake) = checking_fake() else { return };
    // Resource Manager v1 had `projectNumber` in the body; v3 does not.
    assert_refused(
        call(
            &fake,
            Method::POST,
            "cloudresourcemanager",
            "v3/projects",
            Some(
                json!({"projectId": "acme-x-dev", "parent": "organizations/123456789012", "projectNumber": "1"}),
            ),
        ),
        &[(
            Some("project"),
            r#"Invalid JSON payload received. Unknown name "projectNumber" at 'project': Cannot find field."#,
        )],
    );
    assert_refused(
        call(
            &fake,
            Method::POST,
            "secretmanager",
            "v1/projects/acme-x-dev/secrets?secretId=db",
            Some(json!({"replication": {"automatc": {}}})),
        ),
        &[(
            Some("secret.replication"),
            r#"Invalid JSON payload received. Unknown name "automatc" at 'secret.replication': Cannot find field."#,
        )],
    );
    // A request message bound whole to the body has no prefix.
    assert_refused(
        call(
            &fake,
            Method::POST,
            "serviceusage",
            "v1/projects/acme-x-dev/services:batchEnable",
            Some(json!({"serviceIds": ["dns.googleapis.com"], "force": true})),
        ),
        &[(
            None,
            r#"Invalid JSON payload received. Unknown name "force": Cannot find field."#,
        )],
    );
}

#[test]
fn wrong_types_are_refused() {
    let Some(fake) = checking_fake() else { return };
    assert_refused(
        call(
            &fake,
            Method::POST,
            "iam",
            "v1/projects/acme-x-dev/serviceAccounts",
            Some(json!({"accountId": "pay-api", "serviceAccount": {"disabled": "yes"}})),
        ),
        &[(
            Some("service_account.disabled"),
            r#"Invalid value at 'service_account.disabled' (TYPE_BOOL), "yes""#,
        )],
    );
    assert_refused(
        call(
            &fake,
            Method::POST,
            "sqladmin",
            "v1/projects/acme-x-dev/instances",
            Some(
                json!({"name": "db", "settings": {"tier": "db-f1-micro", "dataDiskSizeGb": "ten"}}),
            ),
        ),
        &[(
            Some("database_instance.settings.data_disk_size_gb"),
            r#"Invalid value at 'database_instance.settings.data_disk_size_gb' (TYPE_INT64), "ten""#,
        )],
    );
    // Spanner's router is checked through its document like every other API.
    assert_refused(
        call(
            &fake,
            Method::POST,
            "spanner",
            "v1/projects/acme-x-dev/instances",
            Some(json!({"instanceId": "main", "instance": {"nodeCount": "two"}})),
        ),
        &[(
            Some("instance.node_count"),
            r#"Invalid value at 'instance.node_count' (TYPE_INT32), "two""#,
        )],
    );
    assert_refused(
        call(
            &fake,
            Method::POST,
            "dns",
            "dns/v1/projects/acme-x-dev/managedZones/acme/changes",
            Some(
                json!({"additions": [{"name": "a.acme.example.", "type": "A", "ttl": 300, "rrdatas": "10.0.0.1"}]}),
            ),
        ),
        &[(
            Some("change.additions[0].rrdatas"),
            r#"Invalid value at 'change.additions[0].rrdatas' (TYPE_STRING), "10.0.0.1""#,
        )],
    );
    assert_refused(
        call(
            &fake,
            Method::PATCH,
            "cloudresourcemanager",
            "v3/projects/acme-x-dev?updateMask=displayName",
            Some(json!({"displayName": ["Acme"]})),
        ),
        &[(
            Some("project"),
            r#"Invalid JSON payload received. Unknown name "displayName" at 'project': Proto field is not repeating, cannot start list."#,
        )],
    );
}

#[test]
fn values_outside_an_enum_are_refused() {
    let Some(fake) = checking_fake() else { return };
    assert_refused(
        call(
            &fake,
            Method::POST,
            "serviceusage",
            "v1/projects/acme-x-dev/services/dns.googleapis.com:disable",
            Some(json!({"disableDependentServices": true, "checkIfServiceHasUsage": "MAYBE"})),
        ),
        &[(
            Some("check_if_service_has_usage"),
            r#"Invalid value at 'check_if_service_has_usage' (TYPE_ENUM), "MAYBE""#,
        )],
    );
    assert_refused(
        call(
            &fake,
            Method::POST,
            "sqladmin",
            "v1/projects/acme-x-dev/instances",
            Some(
                json!({"name": "db", "databaseVersion": "POSTGRES_99", "settings": {"tier": "db-f1-micro"}}),
            ),
        ),
        &[(
            Some("database_instance.database_version"),
            r#"Invalid value at 'database_instance.database_version' (TYPE_ENUM), "POSTGRES_99""#,
        )],
    );
}

#[test]
fn several_problems_are_reported_together() {
    let Some(fake) = checking_fake() else { return };
    assert_refused(
        call(
            &fake,
            Method::POST,
            "cloudresourcemanager",
            "v3/projects",
            Some(json!({"projectId": "acme-x-dev", "labels": {"team": 7}, "owner": "me"})),
        ),
        &[
            (
                Some("project.labels[team]"),
                "Invalid value at 'project.labels[team]' (TYPE_STRING), 7",
            ),
            (
                Some("project"),
                r#"Invalid JSON payload received. Unknown name "owner" at 'project': Cannot find field."#,
            ),
        ],
    );
}

#[test]
fn valid_bodies_reach_the_handlers() {
    let Some(fake) = checking_fake() else { return };
    // int64 values may come as numbers or strings, and null means unset.
    let (status, operation) = call(
        &fake,
        Method::POST,
        "cloudresourcemanager",
        "v3/projects",
        Some(json!({
            "projectId": "acme-x-dev", "parent": "organizations/123456789012",
            "displayName": "Acme X", "labels": {"team": "x"}, "etag": null,
        })),
    );
    assert_eq!(status, 200, "{operation}");
    assert!(
        operation["name"]
            .as_str()
            .is_some_and(|name| name.starts_with("operations/"))
    );

    // A valid body for a project the fake does not know: the handler answers.
    let (status, answer) = call(
        &fake,
        Method::POST,
        "sqladmin",
        "v1/projects/acme-nowhere/instances",
        Some(json!({"name": "db", "databaseVersion": "POSTGRES_16",
                    "settings": {"tier": "db-f1-micro", "dataDiskSizeGb": 10}})),
    );
    assert_ne!(answer["error"]["status"], "INVALID_ARGUMENT", "{answer}");
    assert_ne!(status, 400, "{answer}");
}

#[test]
fn methods_google_lacks_are_not_found() {
    let Some(fake) = checking_fake() else { return };
    let (status, answer) = call(
        &fake,
        Method::PUT,
        "cloudresourcemanager",
        "v3/projects/acme-x-dev",
        Some(json!({})),
    );
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "Method not found. PUT /v3/projects/acme-x-dev is not a method of cloudresourcemanager.v3 (by its discovery document)."
    );
    let (status, answer) = call(
        &fake,
        Method::POST,
        "iam",
        "v1/projects/acme-x-dev/serviceAccounts/a@acme-x-dev.iam.gserviceaccount.com:rename",
        Some(json!({})),
    );
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["status"], "NOT_FOUND");
}

/// Runs fake-gcp with `--discovery dir`; returns its exit status and stderr.
fn start_with_discovery(dir: &std::path::Path) -> (std::process::ExitStatus, String) {
    // With stdin closed, a fake that did start would exit too, with success.
    let out = Command::new(env!("CARGO_BIN_EXE_fake-gcp"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--exit-on-stdin-eof",
            "--discovery",
        ])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("fake-gcp runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_discovery_folder_stops_the_fake() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let missing = dir.path().join("missing");
    let (status, stderr) = start_with_discovery(&missing);
    assert!(!status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "fake-gcp: cannot read discovery document {}/cloudresourcemanager.v3.json: No such file or directory (os error 2)",
            missing.display()
        )
    );

    let broken = dir.path().join("cloudresourcemanager.v3.json");
    std::fs::write(&broken, "{\"schemas\": ").expect("the file is written");
    let (status, stderr) = start_with_discovery(dir.path());
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "fake-gcp: discovery document {} is not JSON: ",
            broken.display()
        )),
        "{stderr}"
    );

    std::fs::write(&broken, "{\"schemas\": {}}").expect("the file is written");
    let (status, stderr) = start_with_discovery(dir.path());
    assert!(!status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "fake-gcp: discovery document {}: it declares no methods",
            broken.display()
        )
    );
}
