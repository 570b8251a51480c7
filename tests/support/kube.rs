//! Starting fake-kube, the fake Kubernetes API server, for tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use serde_json::Value as Json;

/// A running fake-kube, killed when dropped.
pub struct FakeKube {
    child: Child,
    url: String,
}

impl FakeKube {
    /// Starts fake-kube on an ephemeral loopback port with extra flags; with the
    /// Kubernetes JSON schemas beside the repository, it checks every write
    /// against them (see `schemas_dir`).
    pub fn start(args: &[&str]) -> FakeKube {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fake-kube"));
        command.args(["--listen", "127.0.0.1:0", "--exit-on-stdin-eof"]);
        if let Some(schemas) = schemas_dir() {
            command.arg("--schemas").arg(schemas);
        }
        let mut child = command
            .args(args)
            .env_remove("FAKE_KUBE_SCHEMAS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("fake-kube starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("fake-kube prints its URL");
        let first_line: Json =
            serde_json::from_str(&line).expect("the first line is a JSON object");
        let url = first_line["url"]
            .as_str()
            .expect("the first line names the URL")
            .to_owned();
        FakeKube { child, url }
    }

    /// The server's base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the folder of the Kubernetes JSON schemas that fake-kube checks writes
/// against: `../shared/reference/k8s-schema` beside the repository, read in place.
///
/// Without it the fake runs unchecked, with a warning; on CI (`CI=true`) its absence
/// fails the test, so that a broken checkout cannot pass unnoticed.
pub fn schemas_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/k8s-schema");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "the Kubernetes schemas are missing: {} is not a folder; fake-kube must check writes on CI",
            dir.display()
        );
    }
    static WARNING: Once = Once::new();
    WARNING.call_once(|| {
        eprintln!(
            "warning: {} is missing; fake-kube runs without checking writes against the Kubernetes schemas",
            dir.display()
        );
    });
    None
}
