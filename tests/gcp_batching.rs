//! Group commit, counted by fake-gcp's `/_fake/requests`: the Google provider
//! writes the members of one IAM policy that are granted together in one
//! read-modify-write and enables a project's services with `services:batchEnable`,
//! 20 at a time; a member the policy refuses fails alone; concurrent grants land
//! despite injected faults. Each is checked on the provider with its creates
//! started at one moment, and through `yagura apply`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use support::{Fake, planned, runtime, text};
use yagura::lang::Value;
use yagura::providers::gcp::GcpProvider;
use yagura::providers::{Provider, ProviderError, RemoteObject};

const PROJECT: &str = "acme-batch-dev";

const PLATFORM: &str = r#"
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"
}

environment "development" {}
"#;

const SERVICE: &str = r#"
service "demo" {
  owner        = "team"
  environments = ["development"]
}
"#;

const GET_POLICY: &str = "POST v3/projects/{projectsId}:getIamPolicy";
const SET_POLICY: &str = "POST v3/projects/{projectsId}:setIamPolicy";
const BATCH_ENABLE: &str = "POST v1/projects/{projectsId}/services:batchEnable";
const SINGLE_ENABLE: &str = "POST v1/projects/{projectsId}/services/{servicesId}:enable";

/// A member fake-gcp refuses with 400 INVALID_ARGUMENT, an error that no retry
/// fixes: a `user:` principal that is no email address.
const REFUSED_MEMBER: &str = "user:not-an-email";
const REFUSED_REASON: &str = "does not name an email address";

/// A fake-gcp where `PROJECT` exists from the start, so an apply touches only
/// what the spec under test declares.
fn start_fake(args: &[&str]) -> Fake {
    let seed = json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "creator": "user:creator@example.com",
        "projects": [{"project_id": PROJECT, "billing_account": "01ABCD-234567-89EFGH"}],
    });
    Fake::start_seeded(&seed, args)
}

/// A repository with one service, `demo`, whose spec is `resources`.
fn repo(resources: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("yagura.hcl"), PLATFORM).expect("write yagura.hcl");
    let service = dir.path().join("services/demo");
    std::fs::create_dir_all(&service).expect("create the service directory");
    std::fs::write(service.join("main.hcl"), format!("{SERVICE}{resources}"))
        .expect("write the spec");
    dir
}

/// `for_each` over `values`, as an HCL set.
fn set_of(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| format!("{value:?}")).collect();
    format!("toset([{}])", quoted.join(", "))
}

/// One `google_project_iam_member` per member, all of `role` on `PROJECT`.
fn members_spec(role: &str, members: &[String]) -> String {
    format!(
        r#"
resource "google_project_iam_member" "granted" {{
  for_each = {}
  project  = "{PROJECT}"
  role     = "{role}"
  member   = each.value
}}
"#,
        set_of(members)
    )
}

/// `yagura -C dir apply --auto-approve` against the fake, with no terminal on stdin.
fn apply(dir: &Path, fake: &Fake) -> Output {
    yagura(dir, fake, &["apply", "--auto-approve"])
}

fn yagura(dir: &Path, fake: &Fake, args: &[&str]) -> Output {
    support::yagura_command(dir, fake, args)
        .output()
        .expect("the yagura binary runs")
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Sends one request to an API of the fake and returns its JSON answer; no retries,
/// so only for fakes without injected faults and for `/_fake/requests`.
fn send(fake: &Fake, api: &str, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
    // reqwest is built without a default TLS back-end; the binary installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}{path}", fake.url(api));
    support::runtime().block_on(async {
        let mut request = reqwest::Client::new().request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the fake answers");
        response.json().await.expect("JSON")
    })
}

/// The requests one API of the fake has received, by method and path template.
fn requests(fake: &Fake, api: &str) -> BTreeMap<String, u64> {
    serde_json::from_value(send(
        fake,
        api,
        reqwest::Method::GET,
        "_fake/requests",
        None,
    ))
    .expect("a map from request to count")
}

fn count(requests: &BTreeMap<String, u64>, key: &str) -> u64 {
    requests.get(key).copied().unwrap_or(0)
}

/// The members of `role` in `PROJECT`'s policy, sorted; read through yagura's
/// client, which retries the faults the fake may inject.
fn policy_members(fake: &Fake, role: &str) -> Vec<String> {
    let client = fake.client();
    let policy = support::runtime()
        .block_on(client.call(
            "cloudresourcemanager",
            reqwest::Method::POST,
            &format!("v3/projects/{PROJECT}:getIamPolicy"),
            Some(&json!({"options": {"requestedPolicyVersion": 3}})),
        ))
        .expect("reads the project policy");
    let mut members: Vec<String> = policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|binding| binding["role"] == role)
        .flat_map(|binding| binding["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|member| member.as_str().map(str::to_string))
        .collect();
    members.sort();
    members
}

/// The services of `PROJECT` that are enabled, sorted.
fn enabled_services(fake: &Fake) -> Vec<String> {
    let listed = send(
        fake,
        "serviceusage",
        reqwest::Method::GET,
        &format!("v1/projects/{PROJECT}/services?filter=state:ENABLED&pageSize=200"),
        None,
    );
    let mut enabled: Vec<String> = listed["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|service| service["config"]["name"].as_str().map(str::to_string))
        .collect();
    enabled.sort();
    enabled
}

/// `n` made-up services that need no billing account, sorted.
fn service_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("batch{i:02}.googleapis.com"))
        .collect()
}

/// `n` users, sorted.
fn users(prefix: &str, n: usize) -> Vec<String> {
    let mut users: Vec<String> = (0..n)
        .map(|i| format!("user:{prefix}-{i:02}@example.com"))
        .collect();
    users.sort();
    users
}

#[test]
fn the_counts_group_calls_by_method_and_reset_on_delete() {
    let fake = start_fake(&[]);
    for project in [PROJECT, "someone-elses"] {
        send(
            &fake,
            "cloudresourcemanager",
            reqwest::Method::POST,
            &format!("v3/projects/{project}:getIamPolicy"),
            Some(json!({})),
        );
    }
    let counted = requests(&fake, "cloudresourcemanager");
    assert_eq!(counted, BTreeMap::from([(GET_POLICY.to_owned(), 2)]));
    assert_eq!(
        requests(&fake, "iam"),
        BTreeMap::new(),
        "each API counts its own"
    );
    let taken = send(
        &fake,
        "cloudresourcemanager",
        reqwest::Method::DELETE,
        "_fake/requests",
        None,
    );
    assert_eq!(taken, json!({GET_POLICY: 2}));
    assert_eq!(requests(&fake, "cloudresourcemanager"), BTreeMap::new());
}

#[test]
fn the_counts_get_no_faults_and_count_faulted_calls() {
    let fake = start_fake(&["--fault-rate", "1", "--faults", "503"]);
    let answer = send(
        &fake,
        "cloudresourcemanager",
        reqwest::Method::POST,
        &format!("v3/projects/{PROJECT}:getIamPolicy"),
        Some(json!({})),
    );
    assert_eq!(answer["error"]["code"], 503, "{answer}");
    assert_eq!(
        requests(&fake, "cloudresourcemanager"),
        BTreeMap::from([(GET_POLICY.to_owned(), 1)])
    );
}

#[test]
fn apply_writes_ten_members_of_one_policy_in_few_read_modify_writes() {
    let fake = start_fake(&[]);
    let members = users("reader", 10);
    let dir = repo(&members_spec("roles/viewer", &members));
    assert_exit(&apply(dir.path(), &fake), 0);
    let counted = requests(&fake, "cloudresourcemanager");
    // The state is empty, so the refresh before the plan reads nothing, and each
    // read-modify-write reads the policy once and writes it once.
    let writes = count(&counted, SET_POLICY);
    assert_eq!(
        counted,
        BTreeMap::from([
            (GET_POLICY.to_owned(), writes),
            (SET_POLICY.to_owned(), writes)
        ]),
    );
    // The engine polls a turn's calls together, so all ten join one batch.
    assert_eq!(writes, 1, "one write for all members: {counted:#?}");
    assert_eq!(policy_members(&fake, "roles/viewer"), members);

    // Refreshing the ten members reads the policy once, not ten times.
    send(
        &fake,
        "cloudresourcemanager",
        reqwest::Method::DELETE,
        "_fake/requests",
        None,
    );
    assert_exit(
        &yagura(dir.path(), &fake, &["plan", "--detailed-exitcode"]),
        0,
    );
    let counted = requests(&fake, "cloudresourcemanager");
    assert_eq!(
        counted,
        BTreeMap::from([(GET_POLICY.to_owned(), 1)]),
        "one read for the whole refresh"
    );
}

#[test]
fn apply_enables_twenty_five_services_in_few_calls() {
    let fake = start_fake(&[]);
    let services = service_names(25);
    let dir = repo(&format!(
        r#"
resource "google_project_service" "api" {{
  for_each = {}
  project  = "{PROJECT}"
  service  = each.value
}}
"#,
        set_of(&services)
    ));
    assert_exit(&apply(dir.path(), &fake), 0);
    let counted = requests(&fake, "serviceusage");
    let enables = count(&counted, BATCH_ENABLE) + count(&counted, SINGLE_ENABLE);
    assert_eq!(
        (count(&counted, BATCH_ENABLE), enables),
        (2, 2),
        "two batchEnable calls (20 + 5) and no single enable: {counted:#?}"
    );
    assert_eq!(enabled_services(&fake), services);
}

#[test]
fn apply_fails_only_the_member_the_policy_refuses() {
    let fake = start_fake(&[]);
    let valid = users("auditor", 5);
    let mut members = valid.clone();
    members.push(REFUSED_MEMBER.to_owned());
    let dir = repo(&members_spec("roles/logging.viewer", &members));
    let output = apply(dir.path(), &fake);
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("5 created") && stdout.contains("1 failed"),
        "{stdout}"
    );
    let failed: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(" failed: "))
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(
        failed[0].contains(REFUSED_MEMBER) && failed[0].contains(REFUSED_REASON),
        "the refused member fails with the reason the fake gives: {}",
        failed[0]
    );
    assert_eq!(policy_members(&fake, "roles/logging.viewer"), valid);
}

#[test]
fn apply_lands_eight_concurrent_grants_despite_faults() {
    // Resets as well as 429 and 503: a write whose answer is lost is retried with
    // a stale etag and must find its member already there.
    let fake = start_fake(&["--fault-rate", "0.2", "--seed-rng", "11"]);
    let members = users("writer", 8);
    let dir = repo(&members_spec("roles/browser", &members));
    assert_exit(&apply(dir.path(), &fake), 0);
    assert_eq!(policy_members(&fake, "roles/browser"), members);
}

// ---------------------------------------------------------------------------
// The provider alone, its creates started at one moment

/// Creates every planned value at once through one provider, the way the apply
/// engine starts the ready steps of one turn, and returns the outcomes in order.
///
/// The runtime has one thread, so every create reaches the batcher before the
/// first batch is taken; the batching itself is what is measured.
fn create_together(
    fake: &Fake,
    type_name: &'static str,
    plans: Vec<Value>,
) -> Vec<Result<RemoteObject, ProviderError>> {
    let provider = Arc::new(GcpProvider::new(fake.client()));
    runtime().block_on(async {
        let tasks: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let provider = provider.clone();
                tokio::spawn(async move { provider.create(type_name, &plan).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("the create ran to its end"));
        }
        outcomes
    })
}

fn member_plans(role: &str, members: &[String]) -> Vec<Value> {
    members
        .iter()
        .map(|member| planned(json!({"project": PROJECT, "role": role, "member": member})))
        .collect()
}

#[test]
fn provider_writes_ten_members_of_one_policy_in_one_read_modify_write() {
    let fake = start_fake(&[]);
    let members = users("reader", 10);
    for outcome in create_together(
        &fake,
        "google_project_iam_member",
        member_plans("roles/viewer", &members),
    ) {
        outcome.expect("the member is granted");
    }
    assert_eq!(
        requests(&fake, "cloudresourcemanager"),
        BTreeMap::from([(GET_POLICY.to_owned(), 1), (SET_POLICY.to_owned(), 1)]),
    );
    assert_eq!(policy_members(&fake, "roles/viewer"), members);
}

#[test]
fn provider_enables_twenty_five_services_in_two_batch_enables() {
    let fake = start_fake(&[]);
    let services = service_names(25);
    let plans = services
        .iter()
        .map(|service| planned(json!({"project": PROJECT, "service": service})))
        .collect();
    for outcome in create_together(&fake, "google_project_service", plans) {
        outcome.expect("the service is enabled");
    }
    let counted = requests(&fake, "serviceusage");
    assert_eq!(count(&counted, BATCH_ENABLE), 2, "{counted:#?}");
    assert_eq!(count(&counted, SINGLE_ENABLE), 0, "{counted:#?}");
    assert_eq!(enabled_services(&fake), services);
}

#[test]
fn provider_fails_only_the_member_the_policy_refuses() {
    let fake = start_fake(&[]);
    let valid = users("auditor", 5);
    let mut members = valid.clone();
    members.insert(2, REFUSED_MEMBER.to_owned());
    let outcomes = create_together(
        &fake,
        "google_project_iam_member",
        member_plans("roles/logging.viewer", &members),
    );
    for (member, outcome) in members.iter().zip(&outcomes) {
        match outcome {
            Ok(_) => assert_ne!(member, REFUSED_MEMBER),
            Err(error) => {
                assert_eq!(member, REFUSED_MEMBER, "{error}");
                let message = error.to_string();
                assert!(
                    message.contains("HTTP 400") && message.contains(REFUSED_REASON),
                    "{message}"
                );
            }
        }
    }
    assert_eq!(
        outcomes.iter().filter(|outcome| outcome.is_err()).count(),
        1
    );
    let counted = requests(&fake, "cloudresourcemanager");
    // The batch of six is refused whole, then each member is written on its own.
    assert_eq!(count(&counted, GET_POLICY), 1 + 6, "{counted:#?}");
    assert_eq!(count(&counted, SET_POLICY), 1 + 6, "{counted:#?}");
    assert_eq!(policy_members(&fake, "roles/logging.viewer"), valid);
}

#[test]
fn provider_lands_eight_concurrent_grants_despite_faults() {
    // Resets as well as 429 and 503: a write whose answer is lost is retried with
    // a stale etag and must find its member already there.
    let fake = start_fake(&["--fault-rate", "0.2", "--seed-rng", "11"]);
    let members = users("writer", 8);
    for outcome in create_together(
        &fake,
        "google_project_iam_member",
        member_plans("roles/browser", &members),
    ) {
        outcome.expect("the member is granted despite the faults");
    }
    assert_eq!(policy_members(&fake, "roles/browser"), members);
}
