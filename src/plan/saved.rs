//! The saved plan (`plan --out FILE`): what `apply` executes later, with what
//! it needs to refuse a stale plan.
//!
//! Invariant: a saved plan holds no secret; sensitive values are recorded as
//! null and re-derived from the specs, whose digest must still match, at apply.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::addr::InstanceAddr;
use crate::diag::SourceMap;

/// The saved-plan format this build writes.
pub const SAVED_PLAN_VERSION: u32 = 1;

/// A saved plan file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub yagura_version: String,
    /// SHA-256 over every spec file the plan read, by path.
    pub spec_digest: String,
    pub instances: Vec<SavedInstance>,
    /// The plan in Terraform's JSON representation.
    pub plan: serde_json::Value,
}

/// The prior state an instance's plan was made against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedInstance {
    pub instance: InstanceAddr,
    pub prior_lineage: Option<String>,
    pub prior_serial: Option<u64>,
}

/// Digests the spec files: their paths and contents, in path order.
pub fn spec_digest(sources: &SourceMap) -> String {
    let mut files: Vec<(&std::path::Path, &str)> = sources
        .iter()
        .map(|f| (f.path.as_path(), f.text.as_str()))
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for (path, text) in files {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
