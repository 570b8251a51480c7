//! What the tests that run `fake-gcp` share: starting it, a client for it, a runtime.

// Each test crate includes this module and uses a part of it.
#![allow(dead_code)]

pub mod kube;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::Duration;

use serde_json::Value as Json;
use yagura::lang::Value;
use yagura::providers::gcp::{ClientOptions, DefaultCredentials, Endpoints, GcpClient};

/// A running fake-gcp, killed when dropped.
pub struct Fake {
    child: Child,
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
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("fake-gcp starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("fake-gcp prints its endpoints");
        let endpoints: Json = serde_json::from_str(&line).expect("the first line is a JSON object");
        Fake {
            child,
            endpoints,
            _seed: seed,
        }
    }

    /// A client for the fake, with short backoffs so that retries keep tests quick.
    pub fn client(&self) -> Arc<GcpClient> {
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
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the folder of Google's discovery documents that the fake checks requests
/// against: `../shared/reference/gcp-discovery` beside the repository, read in place.
///
/// Without it the fake runs unchecked, with a warning; on CI (`CI=true`) its absence
/// fails the test, so that a broken checkout cannot pass unnoticed.
pub fn discovery_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/gcp-discovery");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the discovery documents are missing: {} is not a folder; fake-gcp must check requests on CI",
            dir.display()
        );
    }
    static WARNING: Once = Once::new();
    WARNING.call_once(|| {
        eprintln!(
            "warning: {} is missing; fake-gcp runs without checking requests against Google's discovery documents",
            dir.display()
        );
    });
    None
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

/// Replaces the spec of service `demo`.
pub fn write_spec(dir: &std::path::Path, spec: &str) {
    let service = dir.join("services/demo");
    std::fs::create_dir_all(&service).expect("create the service directory");
    std::fs::write(service.join("main.hcl"), spec).expect("write the spec");
}

/// `yagura -C dir ARGS` against the fake, with no terminal on stdin.
pub fn yagura_command(dir: &std::path::Path, fake: &Fake, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_yagura"));
    command
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("SPANNER_EMULATOR_HOST")
        .stdin(Stdio::null());
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
