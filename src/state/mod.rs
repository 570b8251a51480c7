//! Instance state: the document stored per instance and the backends that
//! store it.
//!
//! Invariant: a state file that cannot be read (corrupt, truncated, a newer
//! format) is an error and is never rewritten. `state` knows nothing of providers.

pub mod local;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::addr::InstanceAddr;

/// The state format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The stored state of one instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateDocument {
    pub format_version: u32,
    /// Grows by one on every write.
    pub serial: u64,
    /// Identifies this state's history; set once, when the state is first written.
    pub lineage: String,
    pub instance: InstanceAddr,
    #[serde(default)]
    pub resources: Vec<StateResource>,
}

/// One resource instance as last applied or refreshed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateResource {
    /// `module.platform.google_project.this`.
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The id the provider knows the resource by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// Attribute values as JSON; nested blocks are lists of objects.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Paths of attributes whose values are sensitive (`[["password"]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<Vec<String>>,
    /// Addresses of the resources this one depends on, for destroy order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

impl StateDocument {
    pub fn new(instance: InstanceAddr, lineage: String) -> StateDocument {
        StateDocument {
            format_version: FORMAT_VERSION,
            serial: 0,
            lineage,
            instance,
            resources: Vec::new(),
        }
    }

    pub fn resource(&self, address: &str) -> Option<&StateResource> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Parses a state document, refusing other formats with a clear reason.
    pub fn from_json(text: &str) -> Result<StateDocument, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                format!("the file is truncated ({e})")
            } else {
                format!("the file is not valid JSON ({e})")
            }
        })?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        match version {
            None => {
                return Err(
                    "the file has no `format_version`; it is not a yagura state".to_string()
                );
            }
            Some(v) if v > u64::from(FORMAT_VERSION) => {
                return Err(format!(
                    "the file has state format {v}, newer than format {FORMAT_VERSION} that this yagura reads; upgrade yagura"
                ));
            }
            Some(_) => {}
        }
        serde_json::from_value(value)
            .map_err(|e| format!("the file is not a valid state document ({e})"))
    }
}

/// Why a state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state {path}: {reason} (the file was left untouched)")]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot access state {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state {path} belongs to instance {found}, not {expected}")]
    WrongInstance {
        path: PathBuf,
        found: InstanceAddr,
        expected: InstanceAddr,
    },
}

/// Where instance states live.
pub trait Backend: Send + Sync {
    /// Reads an instance's state; `None` when it has none yet.
    fn read(&self, instance: &InstanceAddr) -> Result<Option<StateDocument>, StateError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_error(text: &str, expected: &str) {
        let err = StateDocument::from_json(text).expect_err("the input is invalid");
        assert!(
            err.contains(expected),
            "{err:?} should mention {expected:?}"
        );
    }

    #[test]
    fn bad_state_files_are_explained() {
        check_error("{\"format_version\": 1, \"serial\": 2", "truncated");
        check_error("not json", "not valid JSON");
        check_error(
            "{\"format_version\": 9, \"serial\": 1}",
            "newer than format 1",
        );
        check_error("{\"serial\": 1}", "no `format_version`");
        check_error("{\"format_version\": 1}", "not a valid state document");
    }
}
