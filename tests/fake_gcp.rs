//! `fake-gcp` end to end: start the binary, talk to it over plain HTTP the way a
//! Google client would, and check Google's shapes, errors, faults and lags.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ORG: &str = "organizations/123456789012";
const BILLING_ACCOUNT: &str = "billingAccounts/01ABCD-234567-89EFGH";

/// A running `fake-gcp`, killed when dropped so no test leaves it behind.
struct FakeGcp {
    child: Child,
    base_urls: Value,
    client: reqwest::Client,
}

impl Drop for FakeGcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, `Retry-After` header, JSON body (`null` when not JSON).
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    fn error_status(&self) -> &str {
        self.body["error"]["status"].as_str().unwrap_or_default()
    }
}

impl FakeGcp {
    fn start(extra_args: &[&str]) -> FakeGcp {
        let child = Command::new(env!("CARGO_BIN_EXE_fake-gcp"))
            .args(["--listen", "127.0.0.1:0", "--exit-on-stdin-eof"])
            .args(extra_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("fake-gcp starts");
        // reqwest is built without a default TLS provider; it wants one even for the
        // plain HTTP used here. Installing twice fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut fake = FakeGcp {
            child,
            base_urls: Value::Null,
            client: reqwest::Client::new(),
        };
        let stdout = fake.child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("fake-gcp prints its base URLs");
        fake.base_urls = serde_json::from_str(&line).expect("the first line is a JSON object");
        fake
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
        let response = request.send().await.expect("the fake answers");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            retry_after,
            body,
        }
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
