//! Instance state: the document stored per instance and the backends that
//! store it.
//!
//! Invariant: a state file that cannot be read (corrupt, truncated, a newer
//! format) is an error and is never rewritten. `state` knows nothing of providers.

pub mod gcs;
pub mod local;
pub mod postgres;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

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
    /// Creates that were started but not seen to finish: on the next apply each is
    /// read back from the cloud and either adopted or dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingCreate>,
    /// Old objects of `create_before_destroy` replacements, kept until deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<StateResource>,
}

/// A create that was journaled before its call and has no recorded outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The id the resource will have, when it is known before the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// The planned attributes, enough for the provider to find what the call created.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
}

/// One durable step of an apply, appended to the instance's journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// A create is about to be called.
    Intent(PendingCreate),
    /// A resource was created, updated, read back or adopted.
    Put(StateResource),
    /// A resource was deleted, or an unfinished create created nothing.
    Remove { address: String },
    /// A create the API refused outright: nothing was made, and a stored object at
    /// the address (the old half of a replacement) stays.
    Refused { address: String },
    /// The object at an address is about to be replaced by a new one first
    /// (`create_before_destroy`): it is kept as deposed until deleted.
    Depose(StateResource),
    /// A deposed object was deleted, or its replacement failed and it stays current.
    DeposedGone { address: String },
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
            pending: Vec::new(),
            deposed: Vec::new(),
        }
    }

    /// Applies one journal entry.
    pub fn apply_entry(&mut self, entry: JournalEntry) {
        match entry {
            JournalEntry::Intent(pending) => {
                self.pending.retain(|p| p.address != pending.address);
                self.pending.push(pending);
            }
            JournalEntry::Put(resource) => {
                self.pending.retain(|p| p.address != resource.address);
                match self
                    .resources
                    .iter_mut()
                    .find(|r| r.address == resource.address)
                {
                    Some(slot) => *slot = resource,
                    None => {
                        let at = self
                            .resources
                            .partition_point(|r| r.address < resource.address);
                        self.resources.insert(at, resource);
                    }
                }
            }
            JournalEntry::Remove { address } => {
                self.pending.retain(|p| p.address != address);
                self.resources.retain(|r| r.address != address);
            }
            JournalEntry::Refused { address } => {
                self.pending.retain(|p| p.address != address);
            }
            JournalEntry::Depose(resource) => {
                self.deposed.retain(|d| d.address != resource.address);
                self.deposed.push(resource);
            }
            JournalEntry::DeposedGone { address } => {
                self.deposed.retain(|d| d.address != address);
            }
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
    /// A network backend failed (connection, query, HTTP); the message says which.
    #[error("{0}")]
    Backend(String),
    #[error("{instance} is locked by {holder}")]
    Locked {
        instance: InstanceAddr,
        holder: String,
    },
    #[error("state {path} belongs to instance {found}, not {expected}")]
    WrongInstance {
        path: PathBuf,
        found: InstanceAddr,
        expected: InstanceAddr,
    },
    /// A lock that outlives its holder (a `gcs` lock object) is held: it is never
    /// taken over, only released by `force-unlock`.
    #[error(
        "{instance} is locked by {holder}{liveness}; if no command is working on {instance}, release the lock with `yagura force-unlock --service {} --env {}`",
        .instance.service,
        .instance.env
    )]
    LockObjectHeld {
        instance: InstanceAddr,
        holder: LockInfo,
        liveness: HolderLiveness,
    },
    /// Another writer changed the state while this one held the lock, which only a
    /// `force-unlock` allows; nothing was overwritten.
    #[error(
        "the state of {instance} was changed by another writer while this one held its lock ({detail}); nothing was overwritten"
    )]
    Conflict {
        instance: InstanceAddr,
        detail: String,
    },
}

/// What can be told about the holder of a lock that outlives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolderLiveness {
    /// It ran on this host as a process that no longer exists.
    Gone,
    /// It runs on this host, or ran on another one.
    Unknown,
}

impl std::fmt::Display for HolderLiveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HolderLiveness::Gone => f.write_str(", a process that is no longer running"),
            HolderLiveness::Unknown => Ok(()),
        }
    }
}

/// Who holds an instance's lock, as shown to whoever waits for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `user@host`.
    pub who: String,
    pub pid: u32,
    /// What the holder is doing: `apply`, `state rm`, ...
    pub operation: String,
    /// When the lock was taken, RFC 3339.
    pub since: String,
}

impl LockInfo {
    /// This process, about to do `operation`.
    pub fn current(operation: &str) -> LockInfo {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown-host".to_string());
        LockInfo {
            who: format!("{user}@{host}"),
            pid: std::process::id(),
            operation: operation.to_string(),
            since: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string()),
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}, {}) since {}",
            self.who, self.pid, self.operation, self.since
        )
    }
}

/// A boxed future, so that backends can be used as trait objects.
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + Send + 'a>>;

/// Where instance states live.
pub trait Backend: Send + Sync {
    /// Reads an instance's state, with the steps its journal recorded since it was
    /// last written; `None` when it has none yet. Takes no lock.
    fn read<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<StateDocument>>;

    /// Takes the instance's lock, waiting up to `wait` for another holder to let go.
    /// The lock is released when the returned writer is dropped, and where the
    /// backend allows, dies with the process.
    fn lock<'a>(
        &'a self,
        instance: &'a InstanceAddr,
        info: &'a LockInfo,
        wait: Duration,
    ) -> StateFuture<'a, Box<dyn StateWriter>>;

    /// Every instance that has a stored state, so that instances whose service or
    /// environment left the specs can be destroyed.
    fn list(&self) -> StateFuture<'_, Vec<InstanceAddr>>;

    /// Releases a lock that its holder left behind; returns who held it. Backends
    /// whose locks die with their holder have nothing to release.
    fn force_unlock<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<LockInfo>>;
}

/// Writes one locked instance's state.
pub trait StateWriter: Send {
    /// The state as stored, journal included.
    fn read(&mut self) -> StateFuture<'_, Option<StateDocument>>;

    /// Appends steps to the journal; they are durable when this returns. `base` is
    /// the document the journal applies to (its lineage and serial head a new journal).
    fn record<'a>(
        &'a mut self,
        base: &'a StateDocument,
        entries: &'a [JournalEntry],
    ) -> StateFuture<'a, ()>;

    /// Writes `document` with its serial increased by one, keeps the previous one as a
    /// backup, and empties the journal. Returns the serial written.
    fn commit<'a>(&'a mut self, document: &'a StateDocument) -> StateFuture<'a, u64>;

    /// Releases the lock now and reports whether that worked, instead of leaving it
    /// to the drop. Backends whose locks end with the writer need only the drop.
    fn unlock(self: Box<Self>) -> StateFuture<'static, ()> {
        drop(self);
        Box::pin(std::future::ready(Ok(())))
    }
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
