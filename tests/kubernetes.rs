//! Kubernetes resources end to end: the `yagura` binary against fake-kube, with
//! local state and only Kubernetes resources, so no Google API is called.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{Value as Json, json};
use support::kube::FakeKube;
use support::{succeeded, text, write_spec, yagura_in};

/// A platform with one cluster, whose endpoint the tests override: a name with a
/// `-` shows how it maps to the variable's name.
const PLATFORM: &str = r#"
platform {
  cluster "dev-east" {
    project  = "acme-gke-dev"
    location = "europe-west1"
    endpoint = "https://10.0.0.2"
  }
}

environment "development" {
  cluster = "dev-east"
}
"#;

/// A namespace and five objects in it.
const SPEC: &str = r#"
service "demo" {
  owner        = "payments"
  environments = ["development"]
}

resource "kubernetes_namespace_v1" "ns" {
  metadata {
    name = "payments"
    labels = {
      team = "payments"
    }
  }
}

resource "kubernetes_service_account_v1" "app" {
  metadata {
    name      = "app"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
    annotations = {
      "iam.gke.io/gcp-service-account" = "app@acme-demo.iam.gserviceaccount.com"
    }
  }
}

resource "kubernetes_role_v1" "team" {
  metadata {
    name      = "team"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  rule {
    api_groups = [""]
    resources  = ["pods", "services"]
    verbs      = ["get", "list", "watch"]
  }

  rule {
    api_groups = ["apps"]
    resources  = ["deployments"]
    verbs      = ["get", "list"]
  }
}

resource "kubernetes_role_binding_v1" "team" {
  metadata {
    name      = "team"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  role_ref {
    kind = "Role"
    name = kubernetes_role_v1.team.metadata[0].name
  }

  subject {
    kind      = "Group"
    name      = "payments@acme.example"
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_resource_quota_v1" "quota" {
  metadata {
    name      = "quota"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  spec {
    hard = {
      "requests.cpu" = "1000m"
      pods           = "10"
    }
  }
}

resource "kubernetes_limit_range_v1" "limits" {
  metadata {
    name      = "limits"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  spec {
    limit {
      type            = "Container"
      default         = { cpu = "500m", memory = "512Mi" }
      default_request = { cpu = "100m", memory = "128Mi" }
      max             = { cpu = "2", memory = "1024Mi" }
    }
  }
}
"#;

/// The API paths of `SPEC`'s objects, namespace first.
const PATHS: &[&str] = &[
    "/api/v1/namespaces/payments",
    "/api/v1/namespaces/payments/serviceaccounts/app",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/roles/team",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/payments/rolebindings/team",
    "/api/v1/namespaces/payments/resourcequotas/quota",
    "/api/v1/namespaces/payments/limitranges/limits",
];

const NO_RESOURCES: &str = r#"
service "demo" {
  owner        = "payments"
  environments = ["development"]
}
"#;

fn repo(spec: &str) -> tempfile::TempDir {
    support::repo_with(PLATFORM, spec)
}

/// `yagura -C dir ARGS` with the cluster's endpoint pointed at the fake and no
/// Google endpoint at all: nothing here may call Google.
fn yagura(dir: &Path, kube: &FakeKube, args: &[&str]) -> Output {
    yagura_in(dir, args)
        .env("YAGURA_CLUSTER_ENDPOINT_DEV_EAST", kube.url())
        .output()
        .expect("the yagura binary runs")
}

/// Applies and checks that the summary line reports `summary`.
fn apply(dir: &Path, kube: &FakeKube, summary: &str) {
    let stdout = succeeded(&yagura(dir, kube, &["apply", "--auto-approve"]));
    assert!(stdout.contains(summary), "{stdout}");
}

/// Checks that an apply failed with `summary`, and returns its stdout and the
/// line that reports the failure of `address`.
fn failed(output: &Output, summary: &str, address: &str) -> (String, String) {
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(summary), "{stdout}");
    let failure = stdout
        .lines()
        .find(|l| l.contains(address) && l.contains("failed"))
        .expect("the failure is listed")
        .to_owned();
    (stdout, failure)
}

/// Checks that a plan shows no changes: `--detailed-exitcode` exits 0.
fn no_changes(dir: &Path, kube: &FakeKube) {
    succeeded(&yagura(dir, kube, &["plan", "--detailed-exitcode"]));
}

/// reqwest is built without a default TLS back-end; the binary installs ring, and so do tests.
fn tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn url(kube: &FakeKube, path: &str) -> String {
    format!("{}{path}", kube.url().trim_end_matches('/'))
}

/// GETs an object from the fake; `None` on 404.
fn get(kube: &FakeKube, path: &str) -> Option<Json> {
    tls();
    support::runtime().block_on(async {
        let response = reqwest::get(url(kube, path))
            .await
            .expect("the fake answers");
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        Some(response.json().await.expect("JSON"))
    })
}

/// PATCHes an object as another field manager: a merge patch, as `kubectl edit`
/// makes, or a server-side apply, as `kubectl apply --server-side` does.
fn patch_as(kube: &FakeKube, manager: &str, path: &str, content_type: &str, body: Json) {
    tls();
    support::runtime().block_on(async {
        let response = reqwest::Client::new()
            .patch(format!("{}?fieldManager={manager}", url(kube, path)))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("the fake answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "PATCH {path}: {status}: {body}");
    });
}

fn merge_patch(kube: &FakeKube, manager: &str, path: &str, body: Json) {
    patch_as(kube, manager, path, "application/merge-patch+json", body);
}

fn apply_as(kube: &FakeKube, manager: &str, path: &str, body: Json) {
    patch_as(kube, manager, path, "application/apply-patch+yaml", body);
}

/// Makes `SPEC`'s namespace by hand, as `kubectl apply --server-side` does, with
/// `team` as its label; returns its uid.
fn namespace_by_kubectl(kube: &FakeKube, team: &str) -> Json {
    apply_as(
        kube,
        "kubectl",
        PATHS[0],
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "payments", "labels": {"team": team}}}),
    );
    get(kube, PATHS[0]).expect("made by hand")["metadata"]["uid"].clone()
}

fn labels(object: &Json) -> &Json {
    &object["metadata"]["labels"]
}

/// Reads the state that an apply wrote.
fn read_state(dir: &Path) -> yagura::state::StateDocument {
    support::read_state(dir).expect("the state is written")
}

#[test]
fn apply_creates_converges_updates_reverts_drift_and_destroys_the_namespace_last() {
    let kube = FakeKube::start(&[]);
    let dir = repo(SPEC);
    apply(dir.path(), &kube, "6 created, 0 changed, 0 destroyed");
    for path in PATHS {
        assert!(get(&kube, path).is_some(), "{path} exists after apply");
    }
    let namespace = get(&kube, PATHS[0]).expect("created");
    assert_eq!(labels(&namespace)["team"], "payments");
    let account = get(&kube, PATHS[1]).expect("created");
    assert_eq!(
        account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"],
        "app@acme-demo.iam.gserviceaccount.com"
    );
    let role = get(&kube, PATHS[2]).expect("created");
    assert_eq!(role["rules"].as_array().map(Vec::len), Some(2));
    assert_eq!(role["rules"][1]["apiGroups"], json!(["apps"]));
    let binding = get(&kube, PATHS[3]).expect("created");
    assert_eq!(binding["roleRef"]["name"], "team");
    assert_eq!(binding["subjects"][0]["name"], "payments@acme.example");
    let quota = get(&kube, PATHS[4]).expect("created");
    assert_eq!(quota["spec"]["hard"]["pods"], "10");
    let limits = get(&kube, PATHS[5]).expect("created");
    assert_eq!(limits["spec"]["limits"][0]["type"], "Container");
    for managed in [&namespace, &account, &role, &binding, &quota, &limits] {
        let managers: Vec<&str> = managed["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert!(managers.contains(&"yagura"), "{managed}");
    }
    // The server spells `1000m` as `1`, and `1024Mi` as `1Gi`: no drift for that.
    no_changes(dir.path(), &kube);
    let stored = read_state(dir.path());
    let quota_attrs = &stored
        .resource("kubernetes_resource_quota_v1.quota")
        .expect("stored")
        .attributes;
    assert_eq!(quota_attrs["spec"][0]["hard"]["requests.cpu"], "1000m");
    assert_eq!(quota_attrs["id"], "payments/quota");
    let namespace_attrs = &stored
        .resource("kubernetes_namespace_v1.ns")
        .expect("stored")
        .attributes;
    assert_eq!(
        namespace_attrs["metadata"][0]["uid"],
        namespace["metadata"]["uid"]
    );
    assert!(
        namespace_attrs["metadata"][0]["labels"]
            .get("kubernetes.io/metadata.name")
            .is_none(),
        "labels the server adds are not reported: {namespace_attrs:?}"
    );

    // A label edited in the spec is applied in place.
    write_spec(
        dir.path(),
        &SPEC.replace("team = \"payments\"", "team = \"billing\""),
    );
    apply(dir.path(), &kube, "0 created, 1 changed, 0 destroyed");
    let namespace = get(&kube, PATHS[0]).expect("still there");
    assert_eq!(labels(&namespace)["team"], "billing");
    no_changes(dir.path(), &kube);
    let stdout = succeeded(&yagura(dir.path(), &kube, &["drift"]));
    assert!(stdout.contains("No drift"), "{stdout}");

    // Another manager adds a label of its own: not yagura's, so no drift.
    merge_patch(
        &kube,
        "other-controller",
        PATHS[0],
        json!({"metadata": {"labels": {"istio-injection": "enabled"}}}),
    );
    let stdout = succeeded(&yagura(dir.path(), &kube, &["drift"]));
    assert!(stdout.contains("No drift"), "{stdout}");
    no_changes(dir.path(), &kube);

    // Another manager changes yagura's label: drift, which apply reverts by force.
    merge_patch(
        &kube,
        "kubectl-edit",
        PATHS[0],
        json!({"metadata": {"labels": {"team": "hacked"}}}),
    );
    let output = yagura(dir.path(), &kube, &["drift"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("demo/development/kubernetes_namespace_v1.ns changed outside yagura:")
            && stdout.contains("hacked")
            && stdout.contains("1 resource drifted"),
        "{stdout}"
    );
    apply(dir.path(), &kube, "0 created, 1 changed, 0 destroyed");
    let namespace = get(&kube, PATHS[0]).expect("still there");
    assert_eq!(labels(&namespace)["team"], "billing");
    assert_eq!(
        labels(&namespace)["istio-injection"],
        "enabled",
        "another manager's label is left alone"
    );
    no_changes(dir.path(), &kube);

    // Everything leaves the spec: the objects in the namespace go first, and the
    // namespace is gone, not terminating, once apply returns.
    write_spec(dir.path(), NO_RESOURCES);
    let output = yagura(dir.path(), &kube, &["apply", "--auto-approve"]);
    let stdout = succeeded(&output);
    assert!(
        stdout.contains("0 created, 0 changed, 6 destroyed"),
        "{stdout}"
    );
    for path in PATHS {
        assert!(get(&kube, path).is_none(), "{path} is gone after apply");
    }
    // Progress lines go to stderr, one per step, in the order things happen.
    let progress = text(&output.stderr);
    let position = |needle: &str| {
        progress
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} is reported:\n{progress}"))
    };
    let namespace_starts = position("kubernetes_namespace_v1.ns: destroying");
    for address in [
        "kubernetes_service_account_v1.app",
        "kubernetes_role_v1.team",
        "kubernetes_role_binding_v1.team",
        "kubernetes_resource_quota_v1.quota",
        "kubernetes_limit_range_v1.limits",
    ] {
        assert!(
            position(&format!("{address}: destroyed")) < namespace_starts,
            "{address} is destroyed before the namespace:\n{progress}"
        );
    }
    // The same objects can be made again at once.
    write_spec(dir.path(), SPEC);
    apply(dir.path(), &kube, "6 created");
}

#[test]
fn import_adopts_an_existing_namespace_and_checks_the_id() {
    let kube = FakeKube::start(&[]);
    let dir = repo(SPEC);
    let uid = namespace_by_kubectl(&kube, "payments");
    let instance = ["--service", "demo", "--env", "development"];
    let mut args = vec!["import", "kubernetes_namespace_v1.ns", "payments"];
    args.extend(instance);
    let stdout = succeeded(&yagura(dir.path(), &kube, &args));
    assert!(stdout.contains("Imported"), "{stdout}");
    let stored = read_state(dir.path());
    let imported = stored
        .resource("kubernetes_namespace_v1.ns")
        .expect("imported");
    assert_eq!(imported.provider_id.as_deref(), Some("payments"));
    assert_eq!(imported.attributes["metadata"][0]["uid"], uid);

    // An id without a namespace names the form it needs.
    let mut args = vec!["import", "kubernetes_role_v1.team", "team"];
    args.extend(instance);
    let output = yagura(dir.path(), &kube, &args);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("\"NAMESPACE/NAME\""), "{stderr}");

    // The rest is created; the namespace is the one that was there.
    apply(dir.path(), &kube, "5 created");
    assert_eq!(get(&kube, PATHS[0]).expect("kept")["metadata"]["uid"], uid);
    no_changes(dir.path(), &kube);
}

#[test]
fn a_create_adopts_an_object_shaped_alike_and_refuses_one_shaped_differently() {
    let kube = FakeKube::start(&[]);
    // The namespace exists with the same label: the create adopts it.
    let uid = namespace_by_kubectl(&kube, "payments");
    let dir = repo(SPEC);
    apply(dir.path(), &kube, "6 created");
    assert_eq!(get(&kube, PATHS[0]).expect("kept")["metadata"]["uid"], uid);
    no_changes(dir.path(), &kube);

    // Another namespace whose label another manager set to another value: a
    // conflict that names the manager; what lives in the namespace is skipped.
    let kube = FakeKube::start(&[]);
    namespace_by_kubectl(&kube, "someone-else");
    let dir = repo(SPEC);
    let (_, failure) = failed(
        &yagura(dir.path(), &kube, &["apply", "--auto-approve"]),
        "0 created, 0 changed, 0 destroyed, 1 failed, 5 skipped",
        "kubernetes_namespace_v1.ns",
    );
    assert!(
        failure.contains("kubectl") && failure.contains("409"),
        "{failure}"
    );
    assert_eq!(
        labels(&get(&kube, PATHS[0]).expect("kept"))["team"],
        "someone-else",
        "a refused create changes nothing"
    );
}

#[test]
fn an_api_error_is_reported_and_skips_what_depends_on_it() {
    let kube = FakeKube::start(&[]);
    let spec = format!(
        "{SPEC}\n{}",
        r#"
resource "kubernetes_resource_quota_v1" "broken" {
  metadata {
    name      = "broken"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  spec {
    hard = {
      pods = "ten"
    }
  }
}

resource "kubernetes_service_account_v1" "after_broken" {
  metadata {
    name      = "after-broken"
    namespace = kubernetes_namespace_v1.ns.metadata[0].name
  }

  depends_on = [kubernetes_resource_quota_v1.broken]
}
"#
    );
    let dir = repo(&spec);
    let (stdout, failure) = failed(
        &yagura(dir.path(), &kube, &["apply", "--auto-approve"]),
        "6 created, 0 changed, 0 destroyed, 1 failed, 1 skipped",
        "kubernetes_resource_quota_v1.broken",
    );
    assert!(
        failure.contains("422") && failure.contains("Invalid"),
        "{failure}"
    );
    assert!(
        stdout.contains("skipped: kubernetes_resource_quota_v1.broken did not finish"),
        "{stdout}"
    );
    assert!(
        get(
            &kube,
            "/api/v1/namespaces/payments/serviceaccounts/after-broken"
        )
        .is_none()
    );
    // A refused create leaves nothing to read back.
    assert!(read_state(dir.path()).pending.is_empty());
}

#[test]
fn faults_and_throttling_are_retried_until_the_cluster_converges() {
    // With this seed the fault dice give the first call a reset after the server
    // applied it, and two of the five calls that follow a 429 and a 503.
    let kube = FakeKube::start(&[
        "--fault-rate",
        "0.2",
        "--faults",
        "429,503,reset",
        "--seed-rng",
        "1458",
    ]);
    let dir = repo(SPEC);
    apply(dir.path(), &kube, "6 created");
    let requests = requests(&kube);
    assert_eq!(
        requests["PATCH api/v1/namespaces/{namespace}"], 2,
        "the namespace's create is repeated after the reset, and adopts what it made: {requests}"
    );
    let patches: u64 = requests
        .as_object()
        .expect("counts by request")
        .iter()
        .filter(|(call, _)| call.starts_with("PATCH "))
        .filter_map(|(_, count)| count.as_u64())
        .sum();
    assert!(patches >= 9, "the throttled calls are repeated: {requests}");
    for path in PATHS {
        assert!(get_through_faults(&kube, path).is_some(), "{path} exists");
    }
    no_changes(dir.path(), &kube);
    write_spec(dir.path(), NO_RESOURCES);
    apply(dir.path(), &kube, "6 destroyed");
    assert!(get_through_faults(&kube, PATHS[0]).is_none());
}

/// The fake's count of the requests it received, by method and path pattern.
fn requests(kube: &FakeKube) -> Json {
    tls();
    support::runtime().block_on(async {
        reqwest::get(url(kube, "/_fake/requests"))
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON")
    })
}

/// GETs through injected faults, repeating a failed answer as a client would.
fn get_through_faults(kube: &FakeKube, path: &str) -> Option<Json> {
    tls();
    support::runtime().block_on(async {
        loop {
            let Ok(response) = reqwest::get(url(kube, path)).await else {
                continue;
            };
            match response.status() {
                reqwest::StatusCode::NOT_FOUND => return None,
                status if status.is_success() => {
                    if let Ok(object) = response.json().await {
                        return Some(object);
                    }
                }
                _ => {}
            }
        }
    })
}

/// `yagura -C dir ARGS` with the cluster endpoint of `yagura.hcl` or the given
/// override, and Google credentials that do not exist.
fn yagura_without_credentials(dir: &Path, endpoint: Option<&str>, args: &[&str]) -> Output {
    let mut command = yagura_in(dir, args);
    command.env_remove("YAGURA_CLUSTER_ENDPOINT_DEV_EAST").env(
        "GOOGLE_APPLICATION_CREDENTIALS",
        dir.join("no-such-key.json"),
    );
    if let Some(endpoint) = endpoint {
        command.env("YAGURA_CLUSTER_ENDPOINT_DEV_EAST", endpoint);
    }
    command.output().expect("the yagura binary runs")
}

#[test]
fn endpoints_are_checked_and_credentials_are_needed_only_by_calls() {
    let dir = repo(SPEC);
    // Planning without reading the cluster needs no credentials.
    let output = yagura_without_credentials(
        dir.path(),
        None,
        &["plan", "--no-refresh", "--detailed-exitcode"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("6 to add"));

    // Plain HTTP goes only to loopback.
    let output = yagura_without_credentials(dir.path(), Some("http://10.0.0.5:8080"), &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("YAGURA_CLUSTER_ENDPOINT_DEV_EAST")
            && stderr.contains("plain HTTP is allowed only on loopback"),
        "{stderr}"
    );

    // An HTTPS cluster needs a token; without credentials nothing is sent, and
    // the create is refused before any call.
    let (_, failure) = failed(
        &yagura_without_credentials(dir.path(), None, &["apply", "--auto-approve"]),
        "1 failed",
        "kubernetes_namespace_v1.ns",
    );
    assert!(failure.contains("no Google credentials found"), "{failure}");
    assert!(
        read_state(dir.path()).pending.is_empty(),
        "nothing was sent, so nothing is left to read back"
    );
}
