//! Starting fake-kube, the fake Kubernetes API server, for tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

use super::{FakeProcess, reference_dir, spawn_fake};

/// A running fake-kube, killed when dropped.
pub struct FakeKube {
    _process: FakeProcess,
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
        let (process, first_line) = spawn_fake(
            command.args(args).env_remove("FAKE_KUBE_SCHEMAS"),
            "fake-kube",
        );
        let url = first_line["url"]
            .as_str()
            .expect("the first line names the URL")
            .to_owned();
        FakeKube {
            _process: process,
            url,
        }
    }

    /// The server's base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Returns the folder of the Kubernetes JSON schemas that fake-kube checks writes
/// against: `../shared/reference/k8s-schema` beside the repository, read in place.
///
/// Without it the fake runs unchecked, with a warning; on CI (`CI=true`) its absence
/// fails the test, so that a broken checkout cannot pass unnoticed.
pub fn schemas_dir() -> Option<PathBuf> {
    static WARNING: Once = Once::new();
    reference_dir(
        "k8s-schema",
        "the Kubernetes schemas",
        "fake-kube",
        "writes",
        &WARNING,
    )
}
