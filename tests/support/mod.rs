//! What the tests that run the fakes share: starting `fake-gcp` and a client for
//! it, reading a fake's answers, running `yagura`, a runtime.

// Each test crate includes this module and uses a part of it.
#![allow(dead_code)]

pub mod kube;

use std::io::{BufRead, BufReader, Write};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Once};
use std::time::Duration;

use serde_json::Value as Json;
use yagura::addr::InstanceAddr;
use yagura::lang::Value;
use yagura::providers::gcp::{ClientOptions, DefaultCredentials, Endpoints, GcpClient};
use yagura::state::local::LocalBackend;
use yagura::state::{Backend, StateDocument};

/// A running fake-gcp, killed when dropped.
pub struct Fake {
    _process: FakeProcess,
    pub endpoints: Json,
    _seed: Option<tempfile::NamedTempFile>,
}

impl Fake {
    /// Starts fake-gcp with its default seed and extra flags.
    pub fn start(args: &[&str]) -> Fake {
        Fake::spawn(None, args)
    }

    /// Starts fake-gcp with a seed document (see `fake-gcp --help`).
    pub fn start_seeded(seed: &Json, args: &[&str]) -> Fake {
        let mut file = tempfile::NamedTempFile::new().expect("a seed file");
        write!(file, "{seed}").expect("the seed is written");
        Fake::spawn(Some(file), args)
    }

    fn spawn(seed: Option<tempfile::NamedTempFile>, args: &[&str]) -> Fake {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fake-gcp"));
        command.args([
            "--listen",
            "127.0.0.1:0",
            "--exit-on-stdin-eof",
            "--operation-delay-ms",
            "20",
        ]);
        if let Some(seed) = &seed {
            command.arg("--seed").arg(seed.path());
        }
        if let Some(discovery) = discovery_dir() {
            command.arg("--discovery").arg(discovery);
        }
        let (process, endpoints) = spawn_fake(command.args(args), "fake-gcp");
        Fake {
            _process: process,
            endpoints,
            _seed: seed,
        }
    }

    /// A client for the fake, with short backoffs so that retries keep tests quick.
    pub fn client(&self) -> Arc<GcpClient> {
        self.client_with(|_| {})
    }

    /// A client for the fake with the test options, then `adjust`ed.
    pub fn client_with(&self, adjust: impl FnOnce(&mut ClientOptions)) -> Arc<GcpClient> {
        // The OAuth token endpoint is no API that yagura calls through its client.
        let mut apis = self.endpoints.clone();
        if let Some(apis) = apis.as_object_mut() {
            apis.remove("oauth2");
        }
        let mut endpoints = Endpoints::default();
        endpoints
            .set_all(&apis)
            .expect("loopback endpoints are accepted");
        let options = ClientOptions {
            min_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            max_attempts: 10,
            poll_min: Duration::from_millis(5),
            poll_max: Duration::from_millis(50),
            ..ClientOptions::default()
        };
        let mut options = options;
        adjust(&mut options);
        Arc::new(
            GcpClient::new(endpoints, Arc::new(DefaultCredentials::default()), options)
                .expect("a client"),
        )
    }

    /// The base URL of one API.
    pub fn url(&self, api: &str) -> String {
        self.endpoints[api]
            .as_str()
            .expect("the API is served")
            .to_string()
    }

    /// One GET on an API of the fake, without retries; its JSON answer.
    pub fn get(&self, api: &str, path: &str) -> Json {
        // reqwest is built without a default TLS back-end; the binary installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("{}{path}", self.url(api));
        runtime().block_on(async {
            let response = reqwest::get(&url).await.expect("the fake answers");
            response.json().await.expect("JSON")
        })
    }

    /// Checks that what `SPEC` creates exists exactly once: one project under the
    /// organization, one service account, one version of the secret `key`.
    pub fn assert_nothing_duplicated(&self) {
        let projects = self.get(
            "cloudresourcemanager",
            "v3/projects?parent=organizations/123456789012",
        );
        let ids: Vec<&str> = projects["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .filter_map(|p| p["projectId"].as_str())
            .collect();
        assert_eq!(ids, [PROJECT]);
        let accounts = self.get("iam", &format!("v1/projects/{PROJECT}/serviceAccounts"));
        assert_eq!(
            accounts["accounts"].as_array().map(Vec::len),
            Some(1),
            "{accounts}"
        );
        let versions = self.get(
            "secretmanager",
            &format!("v1/projects/{PROJECT}/secrets/key/versions"),
        );
        assert_eq!(
            versions["versions"].as_array().map(Vec::len),
            Some(1),
            "{versions}"
        );
    }
}

/// Returns the folder of Google's discovery documents that the fake checks requests
/// against: `../shared/reference/gcp-discovery` beside the repository, read in place.
///
/// Without it the fake runs unchecked, with a warning; on CI (`CI=true`) its absence
/// fails the test, so that a broken checkout cannot pass unnoticed.
pub fn discovery_dir() -> Option<PathBuf> {
    static WARNING: Once = Once::new();
    reference_dir(
        "gcp-discovery",
        "Google's discovery documents",
        "fake-gcp",
        "requests",
        &WARNING,
    )
}

/// Returns `../shared/reference/<folder>` beside the repository, which holds the
/// `documents` that `fake` checks `checked` against, read in place.
///
/// Without it the fake runs unchecked, with a warning printed once through
/// `warning`; on CI (`CI=true`) its absence fails the test, so that a broken
/// checkout cannot pass unnoticed.
pub fn reference_dir(
    folder: &str,
    documents: &str,
    fake: &str,
    checked: &str,
    warning: &Once,
) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(folder);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{documents} are missing: {} is not a folder; {fake} must check {checked} on CI",
            dir.display()
        );
    }
    warning.call_once(|| {
        eprintln!(
            "warning: {} is missing; {fake} runs without checking {checked} against {documents}",
            dir.display()
        );
    });
    None
}

/// A fake's process, killed when dropped so that no test leaves it behind.
pub struct FakeProcess(Child);

impl Deref for FakeProcess {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for FakeProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a fake with stdin piped, so that it exits with the test (given
/// `--exit-on-stdin-eof`), and returns it with the JSON object it prints first.
pub fn spawn_fake(command: &mut Command, fake: &str) -> (FakeProcess, Json) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("{fake} does not start: {error}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|error| panic!("{fake} prints no first line: {error}"));
    let first_line = serde_json::from_str(&line).expect("the first line is a JSON object");
    (FakeProcess(child), first_line)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

pub fn planned(json: Json) -> Value {
    Value::from_json(&json)
}

/// The platform of the apply tests' repos: the fake's default organization and
/// billing account, one unprotected environment.
pub const PLATFORM: &str = r#"
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"
}

environment "development" {}
"#;

/// A repo with `platform` and one service, `demo`, whose spec is `spec`.
pub fn repo_with(platform: &str, spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("yagura.hcl"), platform).expect("write yagura.hcl");
    write_spec(dir.path(), spec);
    dir
}

/// Reads the local state of `demo` in `development` from a repo, `None` before
/// the first apply.
pub fn read_state(dir: &std::path::Path) -> Option<StateDocument> {
    runtime()
        .block_on(
            LocalBackend::new(dir.join("state")).read(&InstanceAddr::new("demo", "development")),
        )
        .expect("the state is readable")
}

/// Replaces the spec of service `demo`.
pub fn write_spec(dir: &std::path::Path, spec: &str) {
    let service = dir.join("services/demo");
    std::fs::create_dir_all(&service).expect("create the service directory");
    std::fs::write(service.join("main.hcl"), spec).expect("write the spec");
}

/// `yagura -C dir ARGS` with no colour, no `RUST_LOG` and no terminal on stdin.
pub fn yagura_in(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yagura"));
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    command
}

/// `yagura -C dir ARGS` against the fake, with no terminal on stdin.
pub fn yagura_command(dir: &std::path::Path, fake: &Fake, args: &[&str]) -> Command {
    let mut command = yagura_in(dir, args);
    command.env_remove("SPANNER_EMULATOR_HOST");
    for (api, url) in fake.endpoints.as_object().expect("an endpoint map") {
        command.env(
            format!("YAGURA_ENDPOINT_{}", api.to_uppercase()),
            url.as_str().expect("a URL"),
        );
    }
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks that a run of yagura exited 0 and returns its stdout.
pub fn succeeded(output: &Output) -> String {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// An HTTP answer: status, `Retry-After` header, JSON body (`null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<String>,
    pub body: Json,
}

impl Answer {
    /// Reads a response to its end.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Json::Null);
        Answer {
            status,
            retry_after,
            body,
        }
    }
}

/// A project with an API, a service account granted a role, and a secret whose
/// value is a random key: seven resources in four levels of dependency.
pub const SPEC: &str = r#"
service "demo" {
  owner        = "team"
  environments = ["development"]
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

resource "google_project_service" "sm" {
  project = google_project.this.project_id
  service = "secretmanager.googleapis.com"
}

resource "google_service_account" "app" {
  project    = google_project.this.project_id
  account_id = "demo-app"
}

resource "google_project_iam_member" "app" {
  project = google_project.this.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = google_service_account.app.member
}

resource "random_id" "key" {
  byte_length = 16
}

resource "google_secret_manager_secret" "key" {
  project   = google_project.this.project_id
  secret_id = "key"
  replication {
    auto {}
  }
  depends_on = [google_project_service.sm]
}

resource "google_secret_manager_secret_version" "key" {
  secret      = google_secret_manager_secret.key.id
  secret_data = random_id.key.b64_url
}
"#;

/// The project of `SPEC` in the development environment.
pub const PROJECT: &str = "acme-demo-development";

/// A service of random resources only: it applies with no cloud at all, so
/// backend tests need nothing but their state store.
pub const RANDOM_SPEC: &str = r#"
service "demo" {
  owner        = "team"
  environments = ["development"]
}

resource "random_id" "key" {
  byte_length = 16
}

resource "random_id" "salt" {
  byte_length = 8
  keepers = {
    key = random_id.key.hex
  }
}
"#;
