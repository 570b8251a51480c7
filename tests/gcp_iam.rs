//! The IAM providers against `fake-gcp`: service accounts (lifecycle, import,
//! adoption, consistency lag), project IAM members (other members and the
//! creator's owner binding untouched, conditions kept apart), concurrent writers
//! to one policy with and without faults, and service account IAM members.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value as Json, json};
use yagura::lang::Value;

mod support;
use support::{Fake, planned, runtime};
use yagura::providers::gcp::{GcpClient, GcpProvider};
use yagura::providers::{Provider, RemoteObject};

const PROJECT: &str = "acme-iam-dev";
const CREATOR: &str = "user:creator@example.com";

/// A fake-gcp seeded with `PROJECT` (IAM enabled).
fn start_fake(args: &[&str]) -> Fake {
    let seed = json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "creator": CREATOR,
        "projects": [{"project_id": PROJECT, "services": ["iam.googleapis.com"]}],
    });
    Fake::start_seeded(&seed, args)
}

fn account_plan(account_id: &str, display_name: &str, disabled: bool) -> Value {
    planned(json!({
        "project": PROJECT, "account_id": account_id, "display_name": display_name,
        "description": "runs the pay API", "disabled": disabled,
    }))
}

fn email(account_id: &str) -> String {
    format!("{account_id}@{PROJECT}.iam.gserviceaccount.com")
}

fn account_name(account_id: &str) -> String {
    format!("projects/{PROJECT}/serviceAccounts/{}", email(account_id))
}

/// The planned value of a project IAM member; a condition is `(title, expression)`.
fn project_member(role: &str, member: &str, condition: Option<(&str, &str)>) -> Value {
    let conditions: Vec<Json> = condition
        .map(|(title, expression)| {
            json!({"title": title, "description": null, "expression": expression})
        })
        .into_iter()
        .collect();
    let mut plan = planned(json!({"project": PROJECT, "role": role, "member": member}));
    // A nested block is a list, as the planner builds it (JSON arrays read as tuples).
    if let Value::Object(map) = &mut plan {
        map.insert(
            "condition".into(),
            Value::List(conditions.iter().map(Value::from_json).collect()),
        );
    }
    plan
}

/// Attributes without the policy's etag, which every later write moves.
fn without_etag(object: &RemoteObject) -> Map<String, Json> {
    let mut attributes = object.attributes.clone();
    attributes.remove("etag");
    attributes
}

/// Reads a project's policy (version 3) straight through the client.
async fn project_policy(client: &GcpClient) -> Json {
    client
        .call(
            "cloudresourcemanager",
            Method::POST,
            &format!("v3/projects/{PROJECT}:getIamPolicy"),
            Some(&json!({"options": {"requestedPolicyVersion": 3}})),
        )
        .await
        .expect("reads the project policy")
}

/// The members of the bindings of `role` without a condition.
fn members_of(policy: &Json, role: &str) -> Vec<String> {
    policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["role"] == role && b.get("condition").is_none())
        .flat_map(|b| b["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect()
}

/// Creates an account with a raw call, without waiting for it to become visible.
async fn create_account_raw(client: &GcpClient, account_id: &str, display_name: &str) -> Json {
    client
        .call(
            "iam",
            Method::POST,
            &format!("v1/projects/{PROJECT}/serviceAccounts"),
            Some(&json!({"accountId": account_id,
                "serviceAccount": {"displayName": display_name, "description": "runs the pay API"}})),
        )
        .await
        .expect("creates the account")
}

#[test]
fn service_account_lifecycle() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let created = rt
        .block_on(provider.create(
            "google_service_account",
            &account_plan("pay-api", "Pay API", false),
        ))
        .expect("creates the account");
    assert_eq!(created.attributes["email"], email("pay-api"));
    assert_eq!(created.attributes["name"], account_name("pay-api"));
    assert_eq!(created.attributes["id"], account_name("pay-api"));
    assert_eq!(
        created.attributes["member"],
        format!("serviceAccount:{}", email("pay-api"))
    );
    assert_eq!(created.attributes["project"], PROJECT);
    assert_eq!(created.attributes["account_id"], "pay-api");
    assert_eq!(created.attributes["display_name"], "Pay API");
    assert_eq!(created.attributes["description"], "runs the pay API");
    assert_eq!(created.attributes["disabled"], false);
    assert!(
        created.attributes["unique_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let read = rt
        .block_on(provider.read("google_service_account", &created))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, created);

    // The display name changes in place: the same account, a new name.
    let renamed = rt
        .block_on(provider.update(
            "google_service_account",
            &created,
            &account_plan("pay-api", "Payments API", false),
        ))
        .expect("updates");
    assert_eq!(renamed.attributes["display_name"], "Payments API");
    assert_eq!(renamed.attributes["description"], "runs the pay API");
    assert_eq!(
        renamed.attributes["unique_id"],
        created.attributes["unique_id"]
    );

    let disabled = rt
        .block_on(provider.update(
            "google_service_account",
            &renamed,
            &account_plan("pay-api", "Payments API", true),
        ))
        .expect("disables");
    assert_eq!(disabled.attributes["disabled"], true);
    let read = rt
        .block_on(provider.read("google_service_account", &disabled))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, disabled);

    rt.block_on(provider.delete("google_service_account", &disabled))
        .expect("deletes");
    assert_eq!(
        rt.block_on(provider.read("google_service_account", &disabled))
            .expect("reads"),
        None
    );
    // Deleting what is gone is not an error.
    rt.block_on(provider.delete("google_service_account", &disabled))
        .expect("already deleted");
}

#[test]
fn service_account_import_by_name_or_email() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let created = rt
        .block_on(provider.create(
            "google_service_account",
            &account_plan("ledger", "Ledger", true),
        ))
        .expect("creates a disabled account");
    assert_eq!(created.attributes["disabled"], true);
    for id in [account_name("ledger"), email("ledger")] {
        let imported = rt
            .block_on(provider.import("google_service_account", &id))
            .unwrap_or_else(|e| panic!("imports {id}: {e}"));
        assert_eq!(imported, created);
    }
    let missing = rt
        .block_on(provider.import("google_service_account", &email("nobody-here")))
        .expect_err("no such account");
    assert!(missing.to_string().contains("does not exist"), "{missing}");
}

#[test]
fn service_account_adopted_only_when_it_matches() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let existing = rt.block_on(create_account_raw(&client, "pay-api", "Pay API"));
    let adopted = rt
        .block_on(provider.create(
            "google_service_account",
            &account_plan("pay-api", "Pay API", false),
        ))
        .expect("adopts the matching account");
    assert_eq!(adopted.attributes["unique_id"], existing["uniqueId"]);

    rt.block_on(create_account_raw(&client, "billing", "Someone else's"));
    let refused = rt
        .block_on(provider.create(
            "google_service_account",
            &account_plan("billing", "Billing", false),
        ))
        .expect_err("a different account is not adopted");
    assert!(refused.to_string().contains("already exists"), "{refused}");
}

#[test]
fn service_account_readable_when_create_returns_despite_lag() {
    let fake = start_fake(&["--consistency-lag-ms", "300"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    // The lag is real: a raw create is not readable at once.
    rt.block_on(create_account_raw(&client, "lagging", "Lagging"));
    let early = rt.block_on(client.call(
        "iam",
        Method::GET,
        &format!("v1/{}", account_name("lagging")),
        None,
    ));
    assert_eq!(early.expect_err("not visible yet").status, Some(404));

    let created = rt
        .block_on(provider.create(
            "google_service_account",
            &account_plan("pay-api", "Pay API", false),
        ))
        .expect("creates despite the lag");
    let read = rt
        .block_on(provider.read("google_service_account", &created))
        .expect("reads")
        .expect("readable as soon as create returns");
    assert_eq!(read, created);
}

#[test]
fn project_iam_members_change_only_their_own_member() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    const T: &str = "google_project_iam_member";
    let create = |role: &str, member: &str, condition: Option<(&str, &str)>| {
        rt.block_on(provider.create(T, &project_member(role, member, condition)))
            .unwrap_or_else(|e| panic!("grants {role} to {member}: {e}"))
    };
    let alice = create("roles/viewer", "user:alice@example.com", None);
    let bob = create("roles/viewer", "user:bob@example.com", None);
    let carol = create("roles/editor", "user:carol@example.com", None);
    assert_eq!(
        alice.attributes["id"],
        format!("{PROJECT}/roles/viewer/user:alice@example.com")
    );
    assert_eq!(alice.attributes["condition"], json!([]));
    assert!(
        alice.attributes["etag"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );

    for object in [&alice, &bob, &carol] {
        let read = rt
            .block_on(provider.read(T, object))
            .expect("reads")
            .expect("the member is there");
        assert_eq!(without_etag(&read), without_etag(object));
    }
    let policy = rt.block_on(project_policy(&client));
    assert_eq!(members_of(&policy, "roles/owner"), vec![CREATOR]);
    assert_eq!(
        members_of(&policy, "roles/viewer"),
        vec!["user:alice@example.com", "user:bob@example.com"]
    );

    // Granting again changes nothing; so does a differently cased email.
    let again = create("roles/viewer", "user:Alice@Example.com", None);
    let policy_after = rt.block_on(project_policy(&client));
    assert_eq!(policy_after["etag"], policy["etag"], "no write was needed");
    assert_eq!(again.attributes["member"], "user:Alice@Example.com");

    // A conditional grant of the same role is a binding of its own.
    let until_2030 = (
        "until-2030",
        "request.time < timestamp(\"2030-01-01T00:00:00Z\")",
    );
    let alice_until = create("roles/viewer", "user:alice@example.com", Some(until_2030));
    assert_eq!(
        alice_until.attributes["id"],
        format!("{PROJECT}/roles/viewer/user:alice@example.com/until-2030")
    );
    assert_eq!(
        alice_until.attributes["condition"],
        json!([{"title": "until-2030", "description": null, "expression": until_2030.1}])
    );

    // Removing one member leaves the others, the conditional binding and the owner.
    rt.block_on(provider.delete(T, &alice)).expect("revokes");
    assert_eq!(rt.block_on(provider.read(T, &alice)).expect("reads"), None);
    for object in [&bob, &carol, &alice_until] {
        assert!(
            rt.block_on(provider.read(T, object))
                .expect("reads")
                .is_some(),
            "{} is still granted",
            object.attributes["id"]
        );
    }
    let policy = rt.block_on(project_policy(&client));
    assert_eq!(members_of(&policy, "roles/owner"), vec![CREATOR]);
    assert_eq!(
        members_of(&policy, "roles/viewer"),
        vec!["user:bob@example.com"]
    );
    // Revoking what is not granted is not an error.
    rt.block_on(provider.delete(T, &alice))
        .expect("already revoked");

    // Removing the last member drops the binding.
    rt.block_on(provider.delete(T, &carol)).expect("revokes");
    let policy = rt.block_on(project_policy(&client));
    assert!(
        !policy["bindings"]
            .as_array()
            .expect("bindings")
            .iter()
            .any(|b| b["role"] == "roles/editor"),
        "{policy}"
    );

    // Import by id, with and without a condition title.
    let imported = rt
        .block_on(provider.import(
            T,
            &format!("{PROJECT}/roles/viewer/user:alice@example.com/until-2030"),
        ))
        .expect("imports the conditional grant");
    assert_eq!(without_etag(&imported), without_etag(&alice_until));
    let imported = rt
        .block_on(provider.import(T, &format!("{PROJECT}/roles/viewer/user:bob@example.com")))
        .expect("imports");
    assert_eq!(without_etag(&imported), without_etag(&bob));
    let missing = rt
        .block_on(provider.import(T, &format!("{PROJECT}/roles/viewer/user:alice@example.com")))
        .expect_err("alice's unconditional grant is gone");
    assert!(missing.to_string().contains("has no member"), "{missing}");
}

/// Eight providers, each with its own client (so the in-process lock does not
/// serialise them), grant eight members of one role at the same moment.
fn eight_concurrent_writers(fake: &Fake) {
    let rt = runtime();
    let members: Vec<String> = (0..8)
        .map(|i| format!("user:writer-{i}@example.com"))
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(members.len()));
    rt.block_on(async {
        let tasks: Vec<_> = members
            .iter()
            .map(|member| {
                let provider = GcpProvider::new(fake.client());
                let plan = project_member("roles/viewer", member, None);
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    provider.create("google_project_iam_member", &plan).await
                })
            })
            .collect();
        for task in tasks {
            task.await
                .expect("the task ran")
                .expect("the grant landed despite the other writers");
        }
    });
    let policy = rt.block_on(project_policy(&fake.client()));
    let mut viewers = members_of(&policy, "roles/viewer");
    viewers.sort();
    assert_eq!(viewers, members);
    assert_eq!(members_of(&policy, "roles/owner"), vec![CREATOR]);
}

#[test]
fn concurrent_writers_to_one_policy_all_land() {
    eight_concurrent_writers(&start_fake(&[]));
}

#[test]
fn concurrent_writers_to_one_policy_all_land_despite_faults() {
    eight_concurrent_writers(&start_fake(&["--fault-rate", "0.2", "--faults", "429,503"]));
}

#[test]
fn one_provider_serialises_its_own_writers() {
    let fake = start_fake(&[]);
    let provider = Arc::new(GcpProvider::new(fake.client()));
    let rt = runtime();
    let members: Vec<String> = (0..8)
        .map(|i| format!("user:same-{i}@example.com"))
        .collect();
    rt.block_on(async {
        let tasks: Vec<_> = members
            .iter()
            .map(|member| {
                let provider = provider.clone();
                let plan = project_member("roles/browser", member, None);
                tokio::spawn(
                    async move { provider.create("google_project_iam_member", &plan).await },
                )
            })
            .collect();
        for task in tasks {
            task.await.expect("the task ran").expect("the grant landed");
        }
    });
    let mut browsers = members_of(
        &rt.block_on(project_policy(&fake.client())),
        "roles/browser",
    );
    browsers.sort();
    assert_eq!(browsers, members);
}

#[test]
fn a_grant_waits_until_a_new_service_account_is_visible() {
    let fake = start_fake(&["--consistency-lag-ms", "300"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    // Created without waiting, so the policy write first meets
    // "Service account … does not exist".
    rt.block_on(create_account_raw(&client, "fresh-one", "Fresh"));
    let member = format!("serviceAccount:{}", email("fresh-one"));
    let granted = rt
        .block_on(provider.create(
            "google_project_iam_member",
            &project_member("roles/logging.logWriter", &member, None),
        ))
        .expect("the grant waits for the account");
    assert!(
        rt.block_on(provider.read("google_project_iam_member", &granted))
            .expect("reads")
            .is_some()
    );
}

/// IAM may find a new account on a read and still not know it in policies: the
/// provider confirms a new account with one read and then lets every policy write
/// naming it, and every read of its own policy, wait for it.
#[test]
fn grants_wait_for_the_policies_to_know_an_account_this_process_created() {
    let fake = start_fake(&["--policy-lag-ms", "400"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let create_account = |id: &str| {
        rt.block_on(provider.create("google_service_account", &account_plan(id, id, false)))
            .unwrap_or_else(|e| panic!("creates {id}: {e}"))
    };
    // The status of a read of an account's own policy.
    let policy_status = |id: &str| {
        rt.block_on(client.call(
            "iam",
            Method::POST,
            &format!("v1/{}:getIamPolicy", account_name(id)),
            None,
        ))
        .map_or_else(|e| e.status, |_| Some(200))
    };

    // A grant on the account's own policy, which is not found at first.
    create_account("fresh-app");
    assert_eq!(policy_status("fresh-app"), Some(404), "unknown to policies");
    let account_grant = rt
        .block_on(provider.create(
            "google_service_account_iam_member",
            &account_member(
                "fresh-app",
                "roles/iam.serviceAccountUser",
                "user:dev@example.com",
            ),
        ))
        .expect("the grant on the account's own policy waits for it");

    // A grant naming the account, which a policy write refuses at first.
    create_account("fresh-job");
    assert_eq!(policy_status("fresh-job"), Some(404), "unknown to policies");
    let member = format!("serviceAccount:{}", email("fresh-job"));
    let project_grant = rt
        .block_on(provider.create(
            "google_project_iam_member",
            &project_member("roles/logging.logWriter", &member, None),
        ))
        .expect("the project grant waits for the account");

    for (type_name, granted) in [
        ("google_project_iam_member", &project_grant),
        ("google_service_account_iam_member", &account_grant),
    ] {
        assert!(
            rt.block_on(provider.read(type_name, granted))
                .expect("reads")
                .is_some(),
            "{type_name}"
        );
    }
    let requests = rt
        .block_on(client.call("iam", Method::GET, "_fake/requests", None))
        .expect("the fake counts requests");
    assert_eq!(
        requests["GET v1/projects/{projectsId}/serviceAccounts/{serviceAccountsId}"], 2,
        "one read confirms each create: {requests}"
    );
}

/// A policy write naming an account this process created waits for IAM to know it;
/// one naming an account it did not create waits only `unknown_account_window`,
/// so that a misspelt member fails soon.
#[test]
fn only_accounts_this_process_created_get_the_long_wait() {
    let fake = start_fake(&["--policy-lag-ms", "400"]);
    let client = fake.client_with(|options| {
        options.new_account_window = std::time::Duration::from_secs(60);
        options.unknown_account_window = std::time::Duration::ZERO;
    });
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let grant = |account_id: &str| {
        let member = format!("serviceAccount:{}", email(account_id));
        rt.block_on(provider.create(
            "google_project_iam_member",
            &project_member("roles/logging.logWriter", &member, None),
        ))
    };

    // Made by someone else a moment ago: not waited for.
    rt.block_on(create_account_raw(&client, "made-elsewhere", "Elsewhere"));
    let refused = grant("made-elsewhere").expect_err("not waited for");
    assert!(refused.to_string().contains("does not exist"), "{refused}");

    // Made by this process: waited for.
    rt.block_on(provider.create(
        "google_service_account",
        &account_plan("made-here", "Here", false),
    ))
    .expect("creates the account");
    grant("made-here").expect("waits for IAM to know the account");
}

/// The planned value of a service account IAM member without a condition.
fn account_member(account_id: &str, role: &str, member: &str) -> Value {
    let mut plan = planned(json!({
        "service_account_id": account_name(account_id), "role": role, "member": member,
    }));
    if let Value::Object(map) = &mut plan {
        map.insert("condition".into(), Value::List(Vec::new()));
    }
    plan
}

#[test]
fn service_account_iam_member_lifecycle() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    const T: &str = "google_service_account_iam_member";
    rt.block_on(provider.create(
        "google_service_account",
        &account_plan("pay-api", "Pay API", false),
    ))
    .expect("creates the account");
    rt.block_on(provider.create(
        "google_service_account",
        &account_plan("deployer", "Deployer", false),
    ))
    .expect("creates the deployer");

    let deployer = format!("serviceAccount:{}", email("deployer"));
    let plan = account_member("pay-api", "roles/iam.serviceAccountUser", &deployer);
    let granted = rt
        .block_on(provider.create(T, &plan))
        .expect("grants on the account");
    assert_eq!(
        granted.attributes["id"],
        format!(
            "{}/roles/iam.serviceAccountUser/{deployer}",
            account_name("pay-api")
        )
    );
    let read = rt
        .block_on(provider.read(T, &granted))
        .expect("reads")
        .expect("granted");
    assert_eq!(read, granted);
    let imported = rt
        .block_on(provider.import(T, granted.attributes["id"].as_str().expect("an id")))
        .expect("imports");
    assert_eq!(imported, granted);

    rt.block_on(provider.delete(T, &granted)).expect("revokes");
    assert_eq!(
        rt.block_on(provider.read(T, &granted)).expect("reads"),
        None
    );
    let policy = rt
        .block_on(client.call(
            "iam",
            Method::POST,
            &format!(
                "v1/{}:getIamPolicy?options.requestedPolicyVersion=3",
                account_name("pay-api")
            ),
            None,
        ))
        .expect("reads the account's policy");
    assert!(policy.get("bindings").is_none(), "{policy}");

    // The account gone, its members read as gone and revoke as done.
    rt.block_on(provider.create(T, &plan))
        .expect("grants again");
    let account = rt
        .block_on(provider.import("google_service_account", &email("pay-api")))
        .expect("imports the account");
    rt.block_on(provider.delete("google_service_account", &account))
        .expect("deletes the account");
    assert_eq!(
        rt.block_on(provider.read(T, &granted)).expect("reads"),
        None
    );
    rt.block_on(provider.delete(T, &granted))
        .expect("nothing left to revoke");
}

#[test]
fn workload_identity_user_on_a_service_account() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    const T: &str = "google_service_account_iam_member";
    rt.block_on(provider.create(
        "google_service_account",
        &account_plan("pay-api", "Pay API", false),
    ))
    .expect("creates the account");
    let ksa = format!("serviceAccount:{PROJECT}.svc.id.goog[pay/pay-api]");
    let plan = account_member("pay-api", "roles/iam.workloadIdentityUser", &ksa);
    let granted = rt
        .block_on(provider.create(T, &plan))
        .expect("grants Workload Identity");
    let read = rt
        .block_on(provider.read(T, &granted))
        .expect("reads")
        .expect("present");
    assert_eq!(read, granted);
    let imported = rt
        .block_on(provider.import(T, granted.attributes["id"].as_str().expect("an id")))
        .expect("imports an id whose member holds a slash");
    assert_eq!(imported.attributes["member"], granted.attributes["member"]);
    rt.block_on(provider.delete(T, &granted)).expect("revokes");
    assert_eq!(
        rt.block_on(provider.read(T, &granted)).expect("reads"),
        None
    );
}
