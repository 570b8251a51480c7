//! `fake-gcp` end to end: start the binary, talk to it over plain HTTP the way a
//! Google client would, and check Google's shapes, errors, faults and lags.

use std::process::Command;
use std::time::Duration;

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Answer, FakeProcess};

const ORG: &str = "organizations/123456789012";
const BILLING_ACCOUNT: &str = "billingAccounts/01ABCD-234567-89EFGH";

/// A running `fake-gcp`, killed when dropped so no test leaves it behind.
struct FakeGcp {
    child: FakeProcess,
    base_urls: Value,
    client: reqwest::Client,
}

impl Answer {
    fn error_status(&self) -> &str {
        self.body["error"]["status"].as_str().unwrap_or_default()
    }
}

impl FakeGcp {
    fn start(extra_args: &[&str]) -> FakeGcp {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fake-gcp"));
        command.args(["--listen", "127.0.0.1:0", "--exit-on-stdin-eof"]);
        if let Some(discovery) = support::discovery_dir() {
            command.arg("--discovery").arg(discovery);
        }
        let (child, base_urls) = support::spawn_fake(command.args(extra_args), "fake-gcp");
        // reqwest is built without a default TLS provider; it wants one even for the
        // plain HTTP used here. Installing twice fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        FakeGcp {
            child,
            base_urls,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, api: &str, path: &str) -> String {
        let base = self.base_urls[api].as_str().expect("the API is served");
        format!("{base}{path}")
    }

    async fn call(&self, method: Method, api: &str, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.url(api, path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::read(request.send().await.expect("the fake answers")).await
    }

    async fn get(&self, api: &str, path: &str) -> Answer {
        self.call(Method::GET, api, path, None).await
    }

    async fn post(&self, api: &str, path: &str, body: Value) -> Answer {
        self.call(Method::POST, api, path, Some(body)).await
    }

    /// Polls an operation until it is done; `version` is `v3` for CRM, `v1` otherwise.
    async fn wait(&self, api: &str, version: &str, operation: Value) -> Value {
        let mut operation = operation;
        for _ in 0..500 {
            if operation["done"] == true {
                return operation;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let name = operation["name"].as_str().expect("an operation has a name");
            let answer = self.get(api, &format!("{version}/{name}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            operation = answer.body;
        }
        panic!("operation never finished: {operation}");
    }

    /// Creates a project under the seeded organization and waits until it exists.
    async fn create_project(&self, project_id: &str) -> Value {
        let answer = self
            .post(
                "cloudresourcemanager",
                "v3/projects",
                json!({"projectId": project_id, "displayName": "Test project", "parent": ORG}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let operation = self.wait("cloudresourcemanager", "v3", answer.body).await;
        operation["response"].clone()
    }

    /// Creates a project linked to the seeded billing account with `service` enabled.
    async fn create_project_with_service(&self, project_id: &str, service: &str) -> String {
        let project = self.create_project(project_id).await;
        let linked = self
            .call(
                Method::PUT,
                "cloudbilling",
                &format!("v1/projects/{project_id}/billingInfo"),
                Some(json!({"billingAccountName": BILLING_ACCOUNT})),
            )
            .await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
        let enable = self
            .post(
                "serviceusage",
                &format!("v1/projects/{project_id}/services/{service}:enable"),
                json!({}),
            )
            .await;
        assert_eq!(enable.status, StatusCode::OK, "{}", enable.body);
        self.wait("serviceusage", "v1", enable.body).await;
        project["name"]
            .as_str()
            .and_then(|name| name.strip_prefix("projects/"))
            .expect("a project is named projects/NUMBER")
            .to_owned()
    }

    /// Polls a Cloud SQL `sql#operation` until its status is `DONE`.
    async fn wait_sql(&self, project: &str, operation: Value) -> Value {
        let mut operation = operation;
        for _ in 0..500 {
            if operation["status"] == "DONE" {
                return operation;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let name = operation["name"].as_str().expect("an operation has a name");
            let answer = self
                .get(
                    "sqladmin",
                    &format!("v1/projects/{project}/operations/{name}"),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            operation = answer.body;
        }
        panic!("operation never finished: {operation}");
    }

    /// Sends a Cloud SQL mutation, expects an operation and waits until it succeeds.
    async fn sql_done(&self, method: Method, project: &str, path: &str, body: Option<Value>) {
        let answer = self.call(method, "sqladmin", path, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["kind"], "sql#operation");
        let done = self.wait_sql(project, answer.body).await;
        assert_eq!(done["error"], Value::Null, "{done}");
    }
}

/// Writes a `--seed` file, deleted when the returned handle drops.
fn seed_file(seed: Value) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::io::Write::write_all(&mut file, seed.to_string().as_bytes()).expect("the seed is written");
    file
}

#[tokio::test]
async fn project_lifecycle() {
    let fake = FakeGcp::start(&["--folder", "4242"]);
    let created = fake
        .post(
            "cloudresourcemanager",
            "v3/projects",
            json!({"projectId": "acme-pay-dev", "displayName": "Payments dev",
                   "parent": ORG, "labels": {"team": "payments"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let operation = &created.body;
    assert!(
        operation["name"]
            .as_str()
            .unwrap()
            .starts_with("operations/cp.")
    );
    assert_eq!(
        operation["done"],
        Value::Null,
        "proto3 JSON omits done=false"
    );
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.cloud.resourcemanager.v3.CreateProjectMetadata"
    );

    let done = fake.wait("cloudresourcemanager", "v3", created.body).await;
    let project = &done["response"];
    assert_eq!(
        project["@type"],
        "type.googleapis.com/google.cloud.resourcemanager.v3.Project"
    );
    assert_eq!(project["projectId"], "acme-pay-dev");
    assert_eq!(project["state"], "ACTIVE");
    assert_eq!(project["parent"], ORG);
    let number = project["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap();
    assert!(number.len() == 12 && number.chars().all(|c| c.is_ascii_digit()));

    let by_number = fake
        .get("cloudresourcemanager", &format!("v3/projects/{number}"))
        .await;
    assert_eq!(by_number.body["projectId"], "acme-pay-dev");

    let patch = fake
        .call(
            Method::PATCH,
            "cloudresourcemanager",
            "v3/projects/acme-pay-dev?updateMask=labels",
            Some(json!({"labels": {"team": "payments", "tier": "1"}, "displayName": "ignored"})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.body);
    fake.wait("cloudresourcemanager", "v3", patch.body).await;
    let patched = fake
        .get("cloudresourcemanager", "v3/projects/acme-pay-dev")
        .await;
    assert_eq!(
        patched.body["labels"],
        json!({"team": "payments", "tier": "1"})
    );
    assert_eq!(
        patched.body["displayName"], "Payments dev",
        "not in the mask"
    );
    assert_ne!(patched.body["etag"], project["etag"]);

    let unknown_folder = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-pay-dev:move",
            json!({"destinationParent": "folders/999"}),
        )
        .await;
    assert_eq!(unknown_folder.status, StatusCode::FORBIDDEN);
    let moved = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-pay-dev:move",
            json!({"destinationParent": "folders/4242"}),
        )
        .await;
    let moved = fake.wait("cloudresourcemanager", "v3", moved.body).await;
    assert_eq!(moved["response"]["parent"], "folders/4242");

    for _ in 0..2 {
        // Deleting a project pending deletion is a no-op.
        let delete = fake
            .call(
                Method::DELETE,
                "cloudresourcemanager",
                "v3/projects/acme-pay-dev",
                None,
            )
            .await;
        assert_eq!(delete.status, StatusCode::OK, "{}", delete.body);
        fake.wait("cloudresourcemanager", "v3", delete.body).await;
        let deleted = fake
            .get("cloudresourcemanager", "v3/projects/acme-pay-dev")
            .await;
        assert_eq!(deleted.body["state"], "DELETE_REQUESTED");
    }

    let again = fake
        .post(
            "cloudresourcemanager",
            "v3/projects",
            json!({"projectId": "acme-pay-dev", "parent": ORG}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_status(), "ALREADY_EXISTS");
    assert_eq!(again.body["error"]["errors"][0]["reason"], "alreadyExists");

    let undelete = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-pay-dev:undelete",
            json!({}),
        )
        .await;
    let undeleted = fake.wait("cloudresourcemanager", "v3", undelete.body).await;
    assert_eq!(undeleted["response"]["state"], "ACTIVE");
}

#[tokio::test]
async fn missing_project_is_403_and_bad_ids_are_400() {
    let fake = FakeGcp::start(&[]);
    let missing = fake
        .get("cloudresourcemanager", "v3/projects/acme-nowhere")
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.error_status(), "PERMISSION_DENIED");

    let bad = fake
        .post(
            "cloudresourcemanager",
            "v3/projects",
            json!({"projectId": "Bad_Id", "parent": ORG}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_status(), "INVALID_ARGUMENT");
    let message = bad.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("projectId"), "{message}");
}

#[tokio::test]
async fn project_iam_policy_etags() {
    let fake = FakeGcp::start(&[]);
    fake.create_project("acme-iam-dev").await;
    let read = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-iam-dev:getIamPolicy",
            json!({"options": {"requestedPolicyVersion": 3}}),
        )
        .await;
    let policy = read.body;
    assert_eq!(
        policy["bindings"],
        json!([{"role": "roles/owner", "members": ["user:creator@example.com"]}]),
        "the creator owns the project"
    );
    let stale_etag = policy["etag"].clone();

    let mut bindings = policy["bindings"].as_array().unwrap().clone();
    bindings.push(json!({
        "role": "roles/viewer",
        "members": ["group:team@acme.example"],
        "condition": {"title": "until-2030", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"},
    }));
    let write = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-iam-dev:setIamPolicy",
            json!({"policy": {"version": 3, "etag": stale_etag, "bindings": bindings},
                   "updateMask": "bindings,etag,auditConfigs"}),
        )
        .await;
    assert_eq!(write.status, StatusCode::OK, "{}", write.body);
    assert_eq!(write.body["version"], 3);
    assert_ne!(write.body["etag"], stale_etag);

    let conflict = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-iam-dev:setIamPolicy",
            json!({"policy": {"version": 3, "etag": stale_etag, "bindings": []}}),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.error_status(), "ABORTED");
    assert_eq!(
        conflict.body["error"]["message"],
        "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
    );
}

#[tokio::test]
async fn billing_link_and_unlink() {
    let fake = FakeGcp::start(&[]);
    fake.create_project("acme-bill-dev").await;
    let path = "v1/projects/acme-bill-dev/billingInfo";
    let unlinked = fake.get("cloudbilling", path).await;
    assert_eq!(
        unlinked.body,
        json!({"name": "projects/acme-bill-dev/billingInfo", "projectId": "acme-bill-dev"})
    );

    let linked = fake
        .call(
            Method::PUT,
            "cloudbilling",
            path,
            Some(json!({"billingAccountName": BILLING_ACCOUNT})),
        )
        .await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.body);
    assert_eq!(linked.body["billingAccountName"], BILLING_ACCOUNT);
    assert_eq!(linked.body["billingEnabled"], true);

    let unknown = fake
        .call(
            Method::PUT,
            "cloudbilling",
            path,
            Some(json!({"billingAccountName": "billingAccounts/000000-000000-000000"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);

    let cleared = fake
        .call(
            Method::PUT,
            "cloudbilling",
            path,
            Some(json!({"billingAccountName": ""})),
        )
        .await;
    assert_eq!(cleared.body["billingEnabled"], Value::Null);
    assert_eq!(
        fake.get("cloudbilling", path).await.body["billingAccountName"],
        Value::Null
    );
}

#[tokio::test]
async fn service_enable_get_and_list() {
    let fake = FakeGcp::start(&[]);
    let project = fake.create_project("acme-svc-dev").await;
    let number = project["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap()
        .to_owned();
    let enable = fake
        .post(
            "serviceusage",
            "v1/projects/acme-svc-dev/services/iam.googleapis.com:enable",
            json!({}),
        )
        .await;
    assert_eq!(enable.status, StatusCode::OK, "{}", enable.body);
    assert!(
        enable.body["name"]
            .as_str()
            .unwrap()
            .starts_with("operations/")
    );
    let done = fake.wait("serviceusage", "v1", enable.body).await;
    assert_eq!(
        done["response"]["service"]["name"],
        format!("projects/{number}/services/iam.googleapis.com")
    );
    assert_eq!(done["response"]["service"]["state"], "ENABLED");

    let service = fake
        .get(
            "serviceusage",
            "v1/projects/acme-svc-dev/services/iam.googleapis.com",
        )
        .await;
    assert_eq!(service.body["state"], "ENABLED");
    let other = fake
        .get(
            "serviceusage",
            "v1/projects/acme-svc-dev/services/dns.googleapis.com",
        )
        .await;
    assert_eq!(other.body["state"], "DISABLED");

    let listed = fake
        .get(
            "serviceusage",
            "v1/projects/acme-svc-dev/services?filter=state:ENABLED",
        )
        .await;
    assert_eq!(
        listed.body["services"].as_array().map(Vec::len),
        Some(1),
        "{}",
        listed.body
    );

    let again = fake
        .post(
            "serviceusage",
            "v1/projects/acme-svc-dev/services/iam.googleapis.com:enable",
            json!({}),
        )
        .await;
    assert_eq!(again.body["name"], "operations/noop.DONE_OPERATION");
    assert_eq!(again.body["done"], true);

    let too_many: Vec<String> = (0..21).map(|i| format!("api{i}.googleapis.com")).collect();
    let batch = fake
        .post(
            "serviceusage",
            "v1/projects/acme-svc-dev/services:batchEnable",
            json!({"serviceIds": too_many}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn service_account_lifecycle() {
    let fake = FakeGcp::start(&[]);
    fake.create_project("acme-sa-dev").await;
    let created = fake
        .post(
            "iam",
            "v1/projects/acme-sa-dev/serviceAccounts",
            json!({"accountId": "payments-api", "serviceAccount": {"displayName": "Payments API"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let email = "payments-api@acme-sa-dev.iam.gserviceaccount.com";
    assert_eq!(created.body["email"], email);
    assert_eq!(
        created.body["name"],
        format!("projects/acme-sa-dev/serviceAccounts/{email}")
    );
    let unique_id = created.body["uniqueId"].as_str().unwrap().to_owned();
    let path = format!("v1/projects/acme-sa-dev/serviceAccounts/{email}");

    let duplicate = fake
        .post(
            "iam",
            "v1/projects/acme-sa-dev/serviceAccounts",
            json!({"accountId": "payments-api"}),
        )
        .await;
    assert_eq!(duplicate.error_status(), "ALREADY_EXISTS");

    let got = fake.get("iam", &path).await;
    assert_eq!(got.body["displayName"], "Payments API");

    let patched = fake
        .call(
            Method::PATCH,
            "iam",
            &path,
            Some(json!({"serviceAccount": {"description": "Serves payments"}, "updateMask": "description"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let reread = fake.get("iam", &path).await;
    assert_eq!(reread.body["description"], "Serves payments");
    assert_eq!(reread.body["displayName"], "Payments API");

    let deleted = fake.call(Method::DELETE, "iam", &path, None).await;
    assert_eq!(deleted.body, json!({}));
    let gone = fake.get("iam", &path).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let recreated = fake
        .post(
            "iam",
            "v1/projects/acme-sa-dev/serviceAccounts",
            json!({"accountId": "payments-api"}),
        )
        .await;
    assert_eq!(recreated.status, StatusCode::OK, "{}", recreated.body);
    assert_ne!(
        recreated.body["uniqueId"],
        unique_id.as_str(),
        "a new identity"
    );
}

#[tokio::test]
async fn injected_503() {
    let fake = FakeGcp::start(&["--fault-rate", "1.0", "--faults", "503"]);
    let answer = fake
        .get("cloudresourcemanager", "v3/projects/acme-any")
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.error_status(), "UNAVAILABLE");
}

#[tokio::test]
async fn injected_429_has_retry_after() {
    let fake = FakeGcp::start(&["--fault-rate", "1", "--faults", "429"]);
    let answer = fake
        .post(
            "cloudresourcemanager",
            "v3/projects",
            json!({"projectId": "acme-quota-1"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert_eq!(answer.error_status(), "RESOURCE_EXHAUSTED");
    let details = answer.body["error"]["details"].as_array().unwrap();
    assert!(details.iter().any(|detail| {
        detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
            && detail["retryDelay"] == "1s"
    }));
}

#[tokio::test]
async fn injected_reset_loses_the_response() {
    let fake = FakeGcp::start(&["--fault-rate", "1", "--faults", "reset"]);
    let result = fake
        .client
        .get(fake.url("cloudresourcemanager", "v3/projects/acme-any"))
        .send()
        .await;
    assert!(result.is_err(), "no response expected");
}

#[tokio::test]
async fn failing_operation_ends_in_error_and_frees_the_id() {
    let fake = FakeGcp::start(&["--failing-operations", "1"]);
    let created = fake
        .post(
            "cloudresourcemanager",
            "v3/projects",
            json!({"projectId": "acme-fail-1", "parent": ORG}),
        )
        .await;
    let done = fake.wait("cloudresourcemanager", "v3", created.body).await;
    assert_eq!(done["error"]["code"], 13, "{done}");
    assert_eq!(done["response"], Value::Null);
    let missing = fake
        .get("cloudresourcemanager", "v3/projects/acme-fail-1")
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn new_service_account_is_invisible_during_the_lag() {
    let fake = FakeGcp::start(&["--consistency-lag-ms", "1500"]);
    fake.create_project("acme-lag-dev").await;
    let created = fake
        .post(
            "iam",
            "v1/projects/acme-lag-dev/serviceAccounts",
            json!({"accountId": "lagging-sa"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let email = created.body["email"].as_str().unwrap().to_owned();
    let path = format!("v1/projects/acme-lag-dev/serviceAccounts/{email}");

    let early = fake.get("iam", &path).await;
    assert_eq!(early.status, StatusCode::NOT_FOUND);
    let grant = fake
        .post(
            "cloudresourcemanager",
            "v3/projects/acme-lag-dev:setIamPolicy",
            json!({"policy": {"bindings": [{"role": "roles/viewer", "members": [format!("serviceAccount:{email}")]}]}}),
        )
        .await;
    assert_eq!(grant.status, StatusCode::BAD_REQUEST, "{}", grant.body);

    let mut status = early.status;
    for _ in 0..400 {
        status = fake.get("iam", &path).await.status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, StatusCode::OK, "visible once the lag has passed");
}

#[tokio::test]
async fn just_enabled_service_answers_service_disabled_during_the_lag() {
    let fake = FakeGcp::start(&["--consistency-lag-ms", "1500"]);
    fake.create_project("acme-api-dev").await;
    let enable = fake
        .post(
            "serviceusage",
            "v1/projects/acme-api-dev/services/iam.googleapis.com:enable",
            json!({}),
        )
        .await;
    fake.wait("serviceusage", "v1", enable.body).await;
    let refused = fake
        .get("iam", "v1/projects/acme-api-dev/serviceAccounts")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["error"]["details"][0]["reason"],
        "SERVICE_DISABLED"
    );

    let mut status = refused.status;
    for _ in 0..400 {
        status = fake
            .get("iam", "v1/projects/acme-api-dev/serviceAccounts")
            .await
            .status;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, StatusCode::OK, "usable once the lag has passed");
}

#[tokio::test]
async fn sql_instance_lifecycle() {
    let fake = FakeGcp::start(&["--operation-delay-ms", "200"]);
    fake.create_project_with_service("acme-sql-dev", "sqladmin.googleapis.com")
        .await;
    let instances = "v1/projects/acme-sql-dev/instances";
    let instance = "v1/projects/acme-sql-dev/instances/payments-pg";
    let created = fake
        .post(
            "sqladmin",
            instances,
            json!({"name": "payments-pg", "region": "europe-west1", "databaseVersion": "POSTGRES_16",
                   "rootPassword": "hunter2",
                   "settings": {"tier": "db-custom-1-3840", "dataDiskSizeGb": 20,
                                "deletionProtectionEnabled": true,
                                "userLabels": {"team": "payments"},
                                "databaseFlags": [{"name": "max_connections", "value": "100"}]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let operation = &created.body;
    assert_eq!(operation["status"], "PENDING");
    assert_eq!(operation["operationType"], "CREATE");
    assert_eq!(operation["targetId"], "payments-pg");
    assert_eq!(
        operation["targetLink"],
        "https://sqladmin.googleapis.com/v1/projects/acme-sql-dev/instances/payments-pg"
    );
    let pending = fake.get("sqladmin", instance).await;
    assert_eq!(pending.body["state"], "PENDING_CREATE");

    let done = fake.wait_sql("acme-sql-dev", created.body).await;
    assert_eq!(done["error"], Value::Null, "{done}");
    assert!(done["endTime"].is_string());
    let running = fake.get("sqladmin", instance).await.body;
    assert_eq!(running["kind"], "sql#instance");
    assert_eq!(running["state"], "RUNNABLE");
    assert_eq!(
        running["connectionName"],
        "acme-sql-dev:europe-west1:payments-pg"
    );
    assert_eq!(running["ipAddresses"][0]["type"], "PRIMARY");
    assert_eq!(
        running["settings"]["dataDiskSizeGb"], "20",
        "an int64 as a string"
    );
    assert_eq!(running["settings"]["settingsVersion"], "1");
    assert_eq!(running["settings"]["availabilityType"], "ZONAL");
    assert_eq!(running["rootPassword"], Value::Null);

    let taken = fake
        .post(
            "sqladmin",
            instances,
            json!({"name": "payments-pg", "settings": {"tier": "db-f1-micro"}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(
        taken.body["error"]["errors"][0]["reason"],
        "instanceAlreadyExists"
    );

    fake.sql_done(
        Method::PATCH,
        "acme-sql-dev",
        instance,
        Some(json!({"settings": {"tier": "db-custom-2-7680"}})),
    )
    .await;
    let patched = fake.get("sqladmin", instance).await.body;
    assert_eq!(patched["settings"]["tier"], "db-custom-2-7680");
    assert_eq!(
        patched["settings"]["userLabels"],
        json!({"team": "payments"}),
        "PATCH keeps what it does not send"
    );
    assert_eq!(patched["settings"]["settingsVersion"], "2");

    let shrink = fake
        .call(
            Method::PATCH,
            "sqladmin",
            instance,
            Some(json!({"settings": {"dataDiskSizeGb": "10"}})),
        )
        .await;
    assert_eq!(shrink.status, StatusCode::BAD_REQUEST, "{}", shrink.body);

    let protected = fake.call(Method::DELETE, "sqladmin", instance, None).await;
    assert_eq!(
        protected.status,
        StatusCode::BAD_REQUEST,
        "{}",
        protected.body
    );
    assert!(
        protected.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("deletion protection")
    );
    fake.sql_done(
        Method::PATCH,
        "acme-sql-dev",
        instance,
        Some(json!({"settings": {"deletionProtectionEnabled": false}})),
    )
    .await;
    fake.sql_done(Method::DELETE, "acme-sql-dev", instance, None)
        .await;
    let gone = fake.get("sqladmin", instance).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["error"]["errors"][0]["reason"],
        "instanceDoesNotExist"
    );
}

#[tokio::test]
async fn sql_second_mutation_during_an_operation_is_refused() {
    let fake = FakeGcp::start(&["--operation-delay-ms", "1000"]);
    fake.create_project_with_service("acme-sqlop-dev", "sqladmin.googleapis.com")
        .await;
    let created = fake
        .post(
            "sqladmin",
            "v1/projects/acme-sqlop-dev/instances",
            json!({"name": "busy", "databaseVersion": "MYSQL_8_0", "settings": {"tier": "db-f1-micro"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let patch = fake
        .call(
            Method::PATCH,
            "sqladmin",
            "v1/projects/acme-sqlop-dev/instances/busy",
            Some(json!({"settings": {"tier": "db-g1-small"}})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::CONFLICT, "{}", patch.body);
    assert_eq!(
        patch.body["error"]["errors"][0]["reason"],
        "operationInProgress"
    );
    assert_eq!(
        patch.body["error"]["message"],
        "Operation failed because another operation was already in progress."
    );
    fake.wait_sql("acme-sqlop-dev", created.body).await;
    fake.sql_done(
        Method::PATCH,
        "acme-sqlop-dev",
        "v1/projects/acme-sqlop-dev/instances/busy",
        Some(json!({"settings": {"tier": "db-g1-small"}})),
    )
    .await;
}

#[tokio::test]
async fn sql_databases_and_users() {
    let fake = FakeGcp::start(&[]);
    fake.create_project_with_service("acme-sqldb-dev", "sqladmin.googleapis.com")
        .await;
    let project = "acme-sqldb-dev";
    fake.sql_done(
        Method::POST,
        project,
        "v1/projects/acme-sqldb-dev/instances",
        Some(json!({"name": "main", "databaseVersion": "MYSQL_8_0", "settings": {"tier": "db-f1-micro"}})),
    )
    .await;
    let instance = "v1/projects/acme-sqldb-dev/instances/main";

    fake.sql_done(
        Method::POST,
        project,
        &format!("{instance}/databases"),
        Some(json!({"name": "payments", "charset": "utf8mb4"})),
    )
    .await;
    let listed = fake.get("sqladmin", &format!("{instance}/databases")).await;
    let names: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|database| database["name"].as_str())
        .collect();
    assert!(names.contains(&"payments"), "{names:?}");
    let database = fake
        .get("sqladmin", &format!("{instance}/databases/payments"))
        .await;
    assert_eq!(database.body["kind"], "sql#database");
    assert_eq!(database.body["instance"], "main");

    fake.sql_done(
        Method::POST,
        project,
        &format!("{instance}/users"),
        Some(json!({"name": "app", "host": "%", "password": "s3cret"})),
    )
    .await;
    let users = fake.get("sqladmin", &format!("{instance}/users")).await;
    assert_eq!(users.body["kind"], "sql#usersList");
    assert!(
        !users.body.to_string().contains("s3cret"),
        "passwords are never returned"
    );
    let app = fake
        .get("sqladmin", &format!("{instance}/users/app?host=%25"))
        .await;
    assert_eq!(app.status, StatusCode::OK, "{}", app.body);
    assert_eq!(app.body["host"], "%");
    fake.sql_done(
        Method::PUT,
        project,
        &format!("{instance}/users?name=app&host=%25"),
        Some(json!({"password": "n3w"})),
    )
    .await;
    fake.sql_done(
        Method::DELETE,
        project,
        &format!("{instance}/users?name=app&host=%25"),
        None,
    )
    .await;
    let missing = fake
        .get("sqladmin", &format!("{instance}/users/app?host=%25"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    fake.sql_done(
        Method::DELETE,
        project,
        &format!("{instance}/databases/payments"),
        None,
    )
    .await;
    let deleted = fake
        .get("sqladmin", &format!("{instance}/databases/payments"))
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sql_needs_the_api_enabled() {
    let fake = FakeGcp::start(&[]);
    let project = fake.create_project("acme-nosql-dev").await;
    let number = project["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap()
        .to_owned();
    let refused = fake
        .post(
            "sqladmin",
            "v1/projects/acme-nosql-dev/instances",
            json!({"name": "main", "settings": {"tier": "db-f1-micro"}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.error_status(), "PERMISSION_DENIED");
    let detail = &refused.body["error"]["details"][0];
    assert_eq!(detail["reason"], "SERVICE_DISABLED");
    assert_eq!(detail["metadata"]["service"], "sqladmin.googleapis.com");
    assert_eq!(detail["metadata"]["consumer"], format!("projects/{number}"));

    let missing_project = fake
        .get("sqladmin", "v1/projects/acme-nowhere/instances")
        .await;
    assert_eq!(missing_project.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sql_names_stay_reserved_and_failed_creates_report_sql_errors() {
    let fake = FakeGcp::start(&["--sql-name-reuse-ms", "60000"]);
    fake.create_project_with_service("acme-sqlname-dev", "sqladmin.googleapis.com")
        .await;
    let instances = "v1/projects/acme-sqlname-dev/instances";
    let body = json!({"name": "short-lived", "settings": {"tier": "db-f1-micro"}});
    fake.sql_done(
        Method::POST,
        "acme-sqlname-dev",
        instances,
        Some(body.clone()),
    )
    .await;
    fake.sql_done(
        Method::DELETE,
        "acme-sqlname-dev",
        &format!("{instances}/short-lived"),
        None,
    )
    .await;
    let reused = fake.post("sqladmin", instances, body).await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "{}", reused.body);
    assert_eq!(
        reused.body["error"]["errors"][0]["reason"],
        "instanceAlreadyExists"
    );

    // Every operation fails, project creation included, so the project is seeded.
    let seed = seed_file(json!({
        "organizations": ["123456789012"],
        "projects": [{"project_id": "acme-sqlfail-dev", "services": ["sqladmin.googleapis.com"]}],
    }));
    let failing = FakeGcp::start(&[
        "--failing-operations",
        "1",
        "--seed",
        seed.path().to_str().unwrap(),
    ]);
    let created = failing
        .post(
            "sqladmin",
            "v1/projects/acme-sqlfail-dev/instances",
            json!({"name": "doomed", "settings": {"tier": "db-f1-micro"}}),
        )
        .await;
    let done = failing.wait_sql("acme-sqlfail-dev", created.body).await;
    assert_eq!(
        done["error"]["errors"][0]["code"], "INTERNAL_ERROR",
        "{done}"
    );
}

/// The names and types of a zone's record sets.
async fn record_sets(fake: &FakeGcp, zone: &str) -> Vec<(String, String)> {
    let listed = fake.get("dns", &format!("{zone}/rrsets")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    listed.body["rrsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|record| {
            (
                record["name"].as_str().unwrap_or_default().to_owned(),
                record["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn dns_zone_and_changes() {
    let fake = FakeGcp::start(&["--operation-delay-ms", "300"]);
    fake.create_project("acme-dns-dev").await;
    let zones = "dns/v1/projects/acme-dns-dev/managedZones";
    let no_dot = fake
        .post(
            "dns",
            zones,
            json!({"name": "acme-dev", "dnsName": "dev.acme.example", "description": "dev"}),
        )
        .await;
    assert_eq!(no_dot.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_dot.body["error"]["errors"][0]["reason"], "invalid");

    let created = fake
        .post(
            "dns",
            zones,
            json!({"name": "acme-dev", "dnsName": "dev.acme.example.", "description": "dev"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["kind"], "dns#managedZone");
    assert_eq!(
        created.body["nameServers"].as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(created.body["visibility"], "public");
    let zone = "dns/v1/projects/acme-dns-dev/managedZones/acme-dev";
    assert_eq!(
        record_sets(&fake, zone).await,
        [
            ("dev.acme.example.".to_owned(), "NS".to_owned()),
            ("dev.acme.example.".to_owned(), "SOA".to_owned()),
        ]
    );

    let www =
        json!({"name": "www.dev.acme.example.", "type": "A", "ttl": 300, "rrdatas": ["10.0.0.1"]});
    let added = fake
        .post(
            "dns",
            &format!("{zone}/changes?clientOperationId=add-www"),
            json!({"additions": [www]}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.body["kind"], "dns#change");
    assert_eq!(added.body["status"], "pending");
    let change_id = added.body["id"].as_str().unwrap().to_owned();
    let retried = fake
        .post(
            "dns",
            &format!("{zone}/changes?clientOperationId=add-www"),
            json!({"additions": [www]}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(
        retried.body["id"],
        change_id.as_str(),
        "a retry is the same change"
    );

    let mut status = added.body["status"].clone();
    for _ in 0..400 {
        status = fake
            .get("dns", &format!("{zone}/changes/{change_id}"))
            .await
            .body["status"]
            .clone();
        if status == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, "done");

    let www_v2 =
        json!({"name": "www.dev.acme.example.", "type": "A", "ttl": 60, "rrdatas": ["10.0.0.2"]});
    let replaced = fake
        .post(
            "dns",
            &format!("{zone}/changes"),
            json!({"deletions": [www], "additions": [www_v2]}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    let live = fake
        .get("dns", &format!("{zone}/rrsets/www.dev.acme.example./A"))
        .await;
    assert_eq!(live.body["rrdatas"], json!(["10.0.0.2"]));
    assert_eq!(live.body["ttl"], 60);

    let stale = fake
        .post(
            "dns",
            &format!("{zone}/changes"),
            json!({"deletions": [www]}),
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    assert_eq!(
        stale.body["error"]["errors"][0]["reason"],
        "conditionNotMet"
    );
    assert_eq!(
        stale.body["error"]["message"],
        "Precondition not met for 'entity.change.deletions[0]'"
    );

    let apex_ns = fake
        .get("dns", &format!("{zone}/rrsets/dev.acme.example./NS"))
        .await
        .body;
    let no_apex = fake
        .post(
            "dns",
            &format!("{zone}/changes"),
            json!({"deletions": [apex_ns]}),
        )
        .await;
    assert_eq!(no_apex.status, StatusCode::BAD_REQUEST, "{}", no_apex.body);

    let not_empty = fake.call(Method::DELETE, "dns", zone, None).await;
    assert_eq!(not_empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        not_empty.body["error"]["errors"][0]["reason"],
        "containerNotEmpty"
    );
    let removed = fake
        .post(
            "dns",
            &format!("{zone}/changes"),
            json!({"deletions": [www_v2]}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(record_sets(&fake, zone).await.len(), 2, "only SOA and NS");
    let deleted = fake.call(Method::DELETE, "dns", zone, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(fake.get("dns", zone).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dns_record_sets_one_at_a_time() {
    let fake = FakeGcp::start(&[]);
    fake.create_project("acme-rrset-dev").await;
    let zone = "dns/v1/projects/acme-rrset-dev/managedZones/rr";
    let created = fake
        .post(
            "dns",
            "dns/v1/projects/acme-rrset-dev/managedZones",
            json!({"name": "rr", "dnsName": "rr.acme.example.", "description": ""}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let txt = json!({"name": "rr.acme.example.", "type": "TXT", "ttl": 300, "rrdatas": ["\"v=spf1 -all\""]});
    let added = fake
        .post("dns", &format!("{zone}/rrsets"), txt.clone())
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let again = fake.post("dns", &format!("{zone}/rrsets"), txt).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let outside = fake
        .post(
            "dns",
            &format!("{zone}/rrsets"),
            json!({"name": "www.other.example.", "type": "A", "ttl": 300, "rrdatas": ["10.0.0.1"]}),
        )
        .await;
    assert_eq!(outside.status, StatusCode::BAD_REQUEST);
    let patched = fake
        .call(
            Method::PATCH,
            "dns",
            &format!("{zone}/rrsets/rr.acme.example./TXT"),
            Some(json!({"ttl": 60})),
        )
        .await;
    assert_eq!(patched.body["ttl"], 60, "{}", patched.body);
    let filtered = fake
        .get(
            "dns",
            &format!("{zone}/rrsets?name=rr.acme.example.&type=TXT"),
        )
        .await;
    assert_eq!(filtered.body["rrsets"].as_array().map(Vec::len), Some(1));
    let deleted = fake
        .call(
            Method::DELETE,
            "dns",
            &format!("{zone}/rrsets/rr.acme.example./TXT"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
}

#[tokio::test]
async fn dns_zone_from_the_seed() {
    let seed = seed_file(json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": "acme-shared-dns", "services": ["dns.googleapis.com"]}],
        "managed_zones": [{"project": "acme-shared-dns", "name": "acme-root", "dns_name": "acme.example."}],
    }));
    let fake = FakeGcp::start(&["--seed", seed.path().to_str().unwrap()]);
    let zone = fake
        .get(
            "dns",
            "dns/v1/projects/acme-shared-dns/managedZones/acme-root",
        )
        .await;
    assert_eq!(zone.status, StatusCode::OK, "{}", zone.body);
    assert_eq!(zone.body["dnsName"], "acme.example.");
}

#[tokio::test]
async fn secret_lifecycle() {
    let fake = FakeGcp::start(&[]);
    let project = fake.create_project("acme-sec-dev").await;
    let number = project["name"]
        .as_str()
        .unwrap()
        .strip_prefix("projects/")
        .unwrap()
        .to_owned();
    let created = fake
        .post(
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets?secretId=db-password",
            json!({"replication": {"automatic": {}}, "labels": {"team": "payments"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let secret_name = format!("projects/{number}/secrets/db-password");
    assert_eq!(
        created.body["name"],
        secret_name.as_str(),
        "named by number"
    );
    assert_eq!(created.body["replication"], json!({"automatic": {}}));
    let duplicate = fake
        .post(
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets?secretId=db-password",
            json!({"replication": {"automatic": {}}}),
        )
        .await;
    assert_eq!(duplicate.error_status(), "ALREADY_EXISTS");

    let added = fake
        .post(
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets/db-password:addVersion",
            json!({"payload": {"data": "aHVudGVyMg=="}}),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.body["name"], format!("{secret_name}/versions/1"));
    assert_eq!(added.body["state"], "ENABLED");
    assert!(added.body["createTime"].is_string());

    let version = format!("v1/projects/{number}/secrets/db-password/versions/1");
    let accessed = fake
        .get("secretmanager", &format!("{version}:access"))
        .await;
    assert_eq!(accessed.status, StatusCode::OK, "{}", accessed.body);
    assert_eq!(accessed.body["payload"]["data"], "aHVudGVyMg==");
    assert!(accessed.body["payload"]["dataCrc32c"].is_string());
    let latest = fake
        .get(
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets/db-password/versions/latest:access",
        )
        .await;
    assert_eq!(latest.body["name"], format!("{secret_name}/versions/1"));

    let disabled = fake
        .post("secretmanager", &format!("{version}:disable"), json!({}))
        .await;
    assert_eq!(disabled.body["state"], "DISABLED", "{}", disabled.body);
    let refused = fake
        .get("secretmanager", &format!("{version}:access"))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error_status(), "FAILED_PRECONDITION");
    let enabled = fake
        .post("secretmanager", &format!("{version}:enable"), json!({}))
        .await;
    assert_eq!(enabled.body["state"], "ENABLED");
    let destroyed = fake
        .post("secretmanager", &format!("{version}:destroy"), json!({}))
        .await;
    assert_eq!(destroyed.body["state"], "DESTROYED");
    assert!(destroyed.body["destroyTime"].is_string());
    let gone = fake
        .get("secretmanager", &format!("{version}:access"))
        .await;
    assert_eq!(gone.error_status(), "FAILED_PRECONDITION");

    let patched = fake
        .call(
            Method::PATCH,
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets/db-password?updateMask=labels",
            Some(json!({"labels": {"team": "billing"}})),
        )
        .await;
    assert_eq!(
        patched.body["labels"],
        json!({"team": "billing"}),
        "{}",
        patched.body
    );

    let deleted = fake
        .call(
            Method::DELETE,
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets/db-password",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let missing = fake
        .get(
            "secretmanager",
            "v1/projects/acme-sec-dev/secrets/db-password",
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_status(), "NOT_FOUND");
}

#[test]
fn exits_when_stdin_closes() {
    let mut fake = FakeGcp::start(&[]);
    drop(fake.child.stdin.take());
    for _ in 0..500 {
        if fake
            .child
            .try_wait()
            .expect("the child can be waited for")
            .is_some()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("fake-gcp kept running after stdin closed");
}
