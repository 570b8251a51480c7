//! The `gcs` backend: instance states as objects in a Cloud Storage bucket,
//! written with generation preconditions.
//!
//! For an instance `svc/dev` under `prefix`, the bucket holds:
//!
//! - `prefix/svc/dev.json`, the document, written only with `ifGenerationMatch`
//!   set to the generation this writer read (0 when there was none), so a writer
//!   that lost its lock cannot overwrite another's state;
//! - `prefix/svc/dev.backup.json`, the document before the last write;
//! - `prefix/svc/dev.journal/<serial>-<seq>.json`, one object per recorded batch of
//!   steps, created with `ifGenerationMatch=0`, headed by the lineage and serial of the
//!   document it applies to, and deleted once a commit folded it in;
//! - `prefix/svc/dev.lock`, the lock: created with `ifGenerationMatch=0`, holding
//!   the holder's `LockInfo`, and deleted with `ifGenerationMatch` set to its own
//!   generation, so a holder never deletes a lock that is no longer its own.
//!
//! Every write is a multipart upload: real Cloud Storage honours preconditions on
//! every upload type, but the fake-gcs-server the tests run only on multipart ones.
//!
//! Invariant: a lock object is never taken over. It outlives a killed holder, so a
//! held lock is reported with its holder and released only by `force_unlock`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{
    Backend, HolderLiveness, JournalEntry, LockInfo, StateDocument, StateError, StateFuture,
    StateWriter,
};
use crate::addr::InstanceAddr;
use crate::providers::gcp::GcpClient;
use crate::providers::gcp::GcpError;
use crate::providers::gcp::client::{RawBody, RawRequest, Retry};

/// The longest pause between two attempts to take a held lock.
const MAX_LOCK_POLL: Duration = Duration::from_secs(2);

/// How often a read starts over because a commit removed journal objects under it.
const READ_ATTEMPTS: usize = 5;

/// States stored as objects `<prefix>/<service>/<env>.json` in `bucket`.
pub struct GcsBackend {
    client: Arc<GcpClient>,
    bucket: String,
    prefix: String,
}

impl GcsBackend {
    /// A backend over the Storage JSON API through `client` (its `storage` endpoint).
    pub fn new(client: Arc<GcpClient>, bucket: String, prefix: String) -> GcsBackend {
        GcsBackend {
            client,
            bucket,
            prefix,
        }
    }

    fn bucket(&self) -> Bucket {
        Bucket {
            client: self.client.clone(),
            name: self.bucket.clone(),
        }
    }

    fn objects(&self, instance: &InstanceAddr) -> Objects {
        let prefix = self.prefix.trim_matches('/');
        let stem = if prefix.is_empty() {
            format!("{}/{}", instance.service, instance.env)
        } else {
            format!("{prefix}/{}/{}", instance.service, instance.env)
        };
        Objects {
            document: format!("{stem}.json"),
            backup: format!("{stem}.backup.json"),
            lock: format!("{stem}.lock"),
            journal: format!("{stem}.journal/"),
        }
    }
}

/// The names of one instance's objects.
#[derive(Clone, Debug)]
struct Objects {
    document: String,
    backup: String,
    lock: String,
    /// The prefix of the journal's objects, ending in `/`.
    journal: String,
}

/// The contents of a lock object: who holds it, and an id that tells a holder its
/// own lock from another's after a retried create.
#[derive(Debug, Serialize, Deserialize)]
struct LockObject {
    id: String,
    #[serde(flatten)]
    info: LockInfo,
}

/// The contents of a journal object: steps recorded in one call, and the document
/// they apply to.
#[derive(Debug, Serialize, Deserialize)]
struct JournalObject {
    lineage: String,
    serial: u64,
    /// The lock id of the writer that recorded the steps.
    writer: String,
    entries: Vec<JournalEntry>,
}

/// An object's contents at one generation.
#[derive(Clone, Debug)]
struct Stored {
    bytes: Vec<u8>,
    generation: i64,
}

/// The document as a writer last saw it in the bucket.
#[derive(Clone, Debug, Default)]
struct StoredDocument {
    /// 0 when there is no document.
    generation: i64,
    bytes: Option<Vec<u8>>,
    serial: u64,
}

/// One consistent reading of an instance: the document, its journal replayed.
struct Snapshot {
    document: Option<StateDocument>,
    stored: StoredDocument,
    /// Every journal object, folded or not, with its generation.
    journal: Vec<(String, i64)>,
}

/// A bucket reached through the Storage JSON API.
#[derive(Clone)]
struct Bucket {
    client: Arc<GcpClient>,
    name: String,
}

/// Percent-encodes an object or bucket name as one path segment (`/` → `%2F`).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reads an int64 that Google serialises as a string.
fn int64(value: Option<&Json>) -> Option<i64> {
    match value? {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn is_precondition_failed(e: &GcpError) -> bool {
    e.status == Some(412)
}

impl Bucket {
    fn url(&self, object: &str) -> String {
        format!("gs://{}/{object}", self.name)
    }

    fn object_path(&self, object: &str) -> String {
        format!("storage/v1/b/{}/o/{}", encode(&self.name), encode(object))
    }

    fn failed(&self, what: &str, object: &str, e: GcpError) -> StateError {
        StateError::Backend(format!("cannot {what} {}: {e}", self.url(object)))
    }

    /// The object's contents and generation; `None` when it does not exist.
    async fn download(&self, object: &str) -> Result<Option<Stored>, GcpError> {
        let path = self.object_path(object);
        let request = RawRequest {
            api: "storage",
            method: Method::GET,
            path: &path,
            query: vec![("alt", "media".to_string())],
            body: None,
            retry: Retry::Transient,
        };
        let response = match self.client.call_raw(&request).await {
            Ok(response) => response,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let generation = response
            .headers
            .get("x-goog-generation")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(generation) = generation {
            return Ok(Some(Stored {
                bytes: response.body,
                generation,
            }));
        }
        // Without the header, the metadata names the generation and the download is
        // repeated pinned to it, so that contents and generation match.
        let metadata = RawRequest {
            query: Vec::new(),
            ..request.clone()
        };
        let generation = match self.client.call_raw(&metadata).await {
            Ok(response) => int64(response.json(&metadata)?.get("generation")),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        }
        .ok_or_else(|| missing_generation(&metadata))?;
        let pinned = RawRequest {
            query: vec![
                ("alt", "media".to_string()),
                ("generation", generation.to_string()),
            ],
            ..request
        };
        match self.client.call_raw(&pinned).await {
            Ok(response) => Ok(Some(Stored {
                bytes: response.body,
                generation,
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes an object with a multipart upload. With `if_generation`, the write
    /// happens only while the object has that generation (0: does not exist).
    /// Returns the new generation.
    async fn upload(
        &self,
        object: &str,
        bytes: &[u8],
        if_generation: Option<i64>,
    ) -> Result<i64, GcpError> {
        let boundary = format!("yagura-{}", uuid::Uuid::new_v4().simple());
        let metadata = serde_json::json!({
            "name": object,
            "contentType": "application/json",
        });
        let mut body = Vec::with_capacity(bytes.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = format!("upload/storage/v1/b/{}/o", encode(&self.name));
        let mut query = vec![("uploadType", "multipart".to_string())];
        if let Some(generation) = if_generation {
            query.push(("ifGenerationMatch", generation.to_string()));
        }
        let request = RawRequest {
            api: "storage",
            method: Method::POST,
            path: &path,
            query,
            body: Some(RawBody {
                content_type: format!("multipart/related; boundary={boundary}"),
                bytes: body,
            }),
            // A repeated upload cannot overwrite anything its precondition protects
            // (a lost success comes back as 412, which the callers check), and one
            // without a precondition writes the same bytes again.
            retry: Retry::Transient,
        };
        let response = self.client.call_raw(&request).await?;
        int64(response.json(&request)?.get("generation"))
            .ok_or_else(|| missing_generation(&request))
    }

    /// Creates or overwrites `object` under a precondition; a 412 is success when
    /// the object already holds exactly `bytes` (a retried upload whose first
    /// attempt landed). `Ok(None)` when another write won.
    async fn write_checked(
        &self,
        object: &str,
        bytes: &[u8],
        if_generation: i64,
    ) -> Result<Option<i64>, GcpError> {
        match self.upload(object, bytes, Some(if_generation)).await {
            Ok(generation) => Ok(Some(generation)),
            Err(e) if is_precondition_failed(&e) => match self.download(object).await? {
                Some(found) if found.bytes == bytes => Ok(Some(found.generation)),
                _ => Ok(None),
            },
            Err(e) => Err(e),
        }
    }

    /// Deletes `object` if it still has `generation`.
    async fn delete(&self, object: &str, generation: i64) -> Result<Deletion, GcpError> {
        let path = self.object_path(object);
        let request = RawRequest {
            api: "storage",
            method: Method::DELETE,
            path: &path,
            query: vec![("ifGenerationMatch", generation.to_string())],
            body: None,
            retry: Retry::Transient,
        };
        match self.client.call_raw(&request).await {
            Ok(_) => Ok(Deletion::Done),
            Err(e) if e.is_not_found() => Ok(Deletion::Absent),
            Err(e) if is_precondition_failed(&e) => Ok(Deletion::Changed),
            Err(e) => Err(e),
        }
    }

    /// The objects whose names start with `prefix`, with their generations.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, i64)>, GcpError> {
        let path = format!("storage/v1/b/{}/o", encode(&self.name));
        let mut out = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("prefix", prefix.to_string()),
                ("fields", "items(name,generation),nextPageToken".to_string()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let request = RawRequest {
                api: "storage",
                method: Method::GET,
                path: &path,
                query,
                body: None,
                retry: Retry::Transient,
            };
            let page = self.client.call_raw(&request).await?.json(&request)?;
            for item in page
                .get("items")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let name = item.get("name").and_then(Json::as_str);
                let generation = int64(item.get("generation"));
                if let (Some(name), Some(generation)) = (name, generation) {
                    out.push((name.to_string(), generation));
                }
            }
            page_token = page
                .get("nextPageToken")
                .and_then(Json::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if page_token.is_none() {
                return Ok(out);
            }
        }
    }
}

fn missing_generation(request: &RawRequest<'_>) -> GcpError {
    GcpError {
        method: request.method.to_string(),
        path: request.path.to_string(),
        status: None,
        status_name: None,
        reason: None,
        message: "the answer names no object generation".to_string(),
        retry_after: None,
    }
}

/// What a conditional delete did.
#[derive(Debug, PartialEq, Eq)]
enum Deletion {
    Done,
    /// There was nothing to delete.
    Absent,
    /// The object has another generation now, and was left alone.
    Changed,
}

/// The serial and sequence number in a journal object's name, `<serial>-<seq>.json`.
fn journal_position(prefix: &str, name: &str) -> Option<(u64, u64)> {
    let (serial, seq) = name
        .strip_prefix(prefix)?
        .strip_suffix(".json")?
        .split_once('-')?;
    Some((serial.parse().ok()?, seq.parse().ok()?))
}

/// Reads the document and replays its journal, starting over when a commit
/// removes journal objects under the reading.
async fn read_snapshot(
    bucket: &Bucket,
    objects: &Objects,
    instance: &InstanceAddr,
) -> Result<Snapshot, StateError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match read_snapshot_once(bucket, objects, instance).await? {
            Some(snapshot) => return Ok(snapshot),
            None if attempts < READ_ATTEMPTS => continue,
            None => {
                return Err(StateError::Backend(format!(
                    "cannot read the state of {instance}: its journal changed under {READ_ATTEMPTS} readings in a row"
                )));
            }
        }
    }
}

/// One attempt of [`read_snapshot`]; `None` when a journal object vanished.
async fn read_snapshot_once(
    bucket: &Bucket,
    objects: &Objects,
    instance: &InstanceAddr,
) -> Result<Option<Snapshot>, StateError> {
    let unreadable = |object: &str, reason: String| StateError::Unreadable {
        path: PathBuf::from(bucket.url(object)),
        reason,
    };
    let stored = bucket
        .download(&objects.document)
        .await
        .map_err(|e| bucket.failed("read", &objects.document, e))?;
    let (mut document, stored) = match stored {
        None => (None, StoredDocument::default()),
        Some(stored) => {
            let text = String::from_utf8_lossy(&stored.bytes);
            let document = StateDocument::from_json(&text)
                .map_err(|reason| unreadable(&objects.document, reason))?;
            if &document.instance != instance {
                return Err(StateError::WrongInstance {
                    path: PathBuf::from(bucket.url(&objects.document)),
                    found: document.instance,
                    expected: instance.clone(),
                });
            }
            let serial = document.serial;
            (
                Some(document),
                StoredDocument {
                    generation: stored.generation,
                    bytes: Some(stored.bytes),
                    serial,
                },
            )
        }
    };
    let listed = bucket
        .list(&objects.journal)
        .await
        .map_err(|e| bucket.failed("list", &objects.journal, e))?;
    let mut journal = Vec::new();
    for (name, generation) in listed {
        let position = journal_position(&objects.journal, &name).ok_or_else(|| {
            unreadable(
                &name,
                format!("it is in the journal of {instance} but is not named <serial>-<seq>.json"),
            )
        })?;
        journal.push((position, name, generation));
    }
    journal.sort();
    for (_, name, _) in &journal {
        let Some(found) = bucket
            .download(name)
            .await
            .map_err(|e| bucket.failed("read", name, e))?
        else {
            // A commit folded the journal in and is removing it: read again.
            return Ok(None);
        };
        let step: JournalObject = serde_json::from_slice(&found.bytes)
            .map_err(|e| unreadable(name, format!("it is not a valid journal object ({e})")))?;
        let (lineage, serial) = document
            .as_ref()
            .map(|d| (d.lineage.as_str(), d.serial))
            .unwrap_or((step.lineage.as_str(), 0));
        if lineage != step.lineage {
            return Err(unreadable(
                name,
                format!(
                    "it belongs to lineage {}, but the state has lineage {lineage}",
                    step.lineage
                ),
            ));
        }
        if step.serial < serial {
            // Written before the document it was folded into: already applied.
            continue;
        }
        let state = document
            .get_or_insert_with(|| StateDocument::new(instance.clone(), step.lineage.clone()));
        for entry in step.entries {
            state.apply_entry(entry);
        }
    }
    Ok(Some(Snapshot {
        document,
        stored,
        journal: journal
            .into_iter()
            .map(|(_, name, generation)| (name, generation))
            .collect(),
    }))
}

/// Whether the holder of a lock is known to be gone: it ran on this host under a
/// process id that no longer exists.
fn liveness(holder: &LockInfo) -> HolderLiveness {
    let host = |who: &str| who.rsplit_once('@').map(|(_, host)| host.to_string());
    let here = LockInfo::current("");
    let proc = std::path::Path::new("/proc");
    if holder.pid != 0
        && host(&holder.who).is_some()
        && host(&holder.who) == host(&here.who)
        && proc.join("self").exists()
        && !proc.join(holder.pid.to_string()).exists()
    {
        HolderLiveness::Gone
    } else {
        HolderLiveness::Unknown
    }
}

/// The holder a lock object names, or a stand-in when it cannot be read.
fn holder_of(stored: &Stored) -> (Option<String>, LockInfo) {
    match serde_json::from_slice::<LockObject>(&stored.bytes) {
        Ok(lock) => (Some(lock.id), lock.info),
        Err(_) => (
            None,
            LockInfo {
                who: "an unreadable lock object".to_string(),
                pid: 0,
                operation: "unknown".to_string(),
                since: format!("generation {}", stored.generation),
            },
        ),
    }
}

impl Backend for GcsBackend {
    fn read<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<StateDocument>> {
        Box::pin(async move {
            let snapshot = read_snapshot(&self.bucket(), &self.objects(instance), instance).await?;
            Ok(snapshot.document)
        })
    }

    fn lock<'a>(
        &'a self,
        instance: &'a InstanceAddr,
        info: &'a LockInfo,
        wait: Duration,
    ) -> StateFuture<'a, Box<dyn StateWriter>> {
        Box::pin(async move {
            let writer = self.lock_now(instance, info, wait).await?;
            Ok(Box::new(writer) as Box<dyn StateWriter>)
        })
    }

    fn list(&self) -> StateFuture<'_, Vec<InstanceAddr>> {
        Box::pin(async move {
            let bucket = self.bucket();
            let prefix = match self.prefix.trim_matches('/') {
                "" => String::new(),
                p => format!("{p}/"),
            };
            let listed = bucket
                .list(&prefix)
                .await
                .map_err(|e| bucket.failed("list", &prefix, e))?;
            let mut out: Vec<InstanceAddr> = listed
                .iter()
                .filter_map(|(name, _)| {
                    let rest = name.strip_prefix(&prefix)?;
                    let (service, file) = rest.split_once('/')?;
                    // A document, or the journal of an instance not yet committed.
                    let env = match file.split_once(".journal/") {
                        Some((env, _)) => env,
                        None => file.strip_suffix(".json")?,
                    };
                    (!env.contains('/') && !env.ends_with(".backup"))
                        .then(|| InstanceAddr::new(service, env))
                })
                .collect();
            out.sort();
            out.dedup();
            Ok(out)
        })
    }

    fn force_unlock<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<LockInfo>> {
        Box::pin(async move {
            let bucket = self.bucket();
            let lock = self.objects(instance).lock;
            let Some(found) = bucket
                .download(&lock)
                .await
                .map_err(|e| bucket.failed("read", &lock, e))?
            else {
                return Ok(None);
            };
            let (_, holder) = holder_of(&found);
            match bucket
                .delete(&lock, found.generation)
                .await
                .map_err(|e| bucket.failed("delete", &lock, e))?
            {
                Deletion::Done | Deletion::Absent => Ok(Some(holder)),
                Deletion::Changed => Err(StateError::Backend(format!(
                    "the lock of {instance} changed while it was being released (it was {holder}); run force-unlock again to see who holds it now"
                ))),
            }
        })
    }
}

impl GcsBackend {
    async fn lock_now(
        &self,
        instance: &InstanceAddr,
        info: &LockInfo,
        wait: Duration,
    ) -> Result<GcsWriter, StateError> {
        let bucket = self.bucket();
        let objects = self.objects(instance);
        let id = uuid::Uuid::new_v4().to_string();
        let lock = LockObject {
            id: id.clone(),
            info: info.clone(),
        };
        let bytes = serde_json::to_vec(&lock).expect("lock objects serialise");
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(200);
        let mut vanished = 0;
        let generation = loop {
            let err = match bucket.upload(&objects.lock, &bytes, Some(0)).await {
                Ok(generation) => break generation,
                Err(e) => e,
            };
            if !is_precondition_failed(&err) {
                return Err(bucket.failed("create the lock", &objects.lock, err));
            }
            let Some(found) = bucket
                .download(&objects.lock)
                .await
                .map_err(|e| bucket.failed("read the lock", &objects.lock, e))?
            else {
                // Released between the create and the read: try again at once, a
                // few times, before waiting like for a held lock.
                vanished += 1;
                if vanished <= 3 {
                    continue;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(StateError::Backend(format!(
                        "cannot take the lock of {instance}: {} keeps appearing and vanishing",
                        bucket.url(&objects.lock)
                    )));
                }
                tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
                continue;
            };
            let (held_id, holder) = holder_of(&found);
            if held_id.as_deref() == Some(id.as_str()) {
                // A retried create whose first attempt landed: the lock is this one.
                break found.generation;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                let liveness = liveness(&holder);
                return Err(StateError::LockObjectHeld {
                    instance: instance.clone(),
                    holder,
                    liveness,
                });
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(MAX_LOCK_POLL);
        };
        let mut writer = GcsWriter {
            bucket,
            objects,
            instance: instance.clone(),
            id,
            lock: Some(generation),
            stored: StoredDocument::default(),
            next_seq: 0,
            runtime: Handle::try_current().ok(),
        };
        if let Err(e) = writer.fold_leftover_journal().await {
            if let Err(unlock) = writer.release().await {
                tracing::warn!(error = %unlock, "cannot release the lock");
            }
            return Err(e);
        }
        Ok(writer)
    }
}

/// A locked instance in a bucket.
struct GcsWriter {
    bucket: Bucket,
    objects: Objects,
    instance: InstanceAddr,
    /// The id in this writer's lock object.
    id: String,
    /// The generation of this writer's lock object; `None` once released.
    lock: Option<i64>,
    stored: StoredDocument,
    /// The number of the next journal object.
    next_seq: u64,
    /// The runtime the lock was taken on, to release it from a drop outside it.
    runtime: Option<Handle>,
}

impl GcsWriter {
    /// Reads the state under the lock, checking that nobody wrote the document
    /// since this writer last read or wrote it.
    async fn snapshot(&mut self) -> Result<Snapshot, StateError> {
        let snapshot = read_snapshot(&self.bucket, &self.objects, &self.instance).await?;
        if snapshot.stored.generation != self.stored.generation {
            return Err(StateError::Conflict {
                instance: self.instance.clone(),
                detail: format!(
                    "{} has generation {}, not {}",
                    self.bucket.url(&self.objects.document),
                    snapshot.stored.generation,
                    self.stored.generation
                ),
            });
        }
        Ok(snapshot)
    }

    /// Folds steps a killed apply journaled into the document, right after locking.
    async fn fold_leftover_journal(&mut self) -> Result<(), StateError> {
        let snapshot = read_snapshot(&self.bucket, &self.objects, &self.instance).await?;
        self.stored = snapshot.stored.clone();
        if snapshot.journal.is_empty() {
            return Ok(());
        }
        match &snapshot.document {
            Some(document) => {
                self.commit_now(document).await?;
            }
            None => self.remove_journal(&snapshot.journal).await,
        }
        Ok(())
    }

    async fn record_now(
        &mut self,
        base: &StateDocument,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let step = JournalObject {
            lineage: base.lineage.clone(),
            serial: self.stored.serial,
            writer: self.id.clone(),
            entries: entries.to_vec(),
        };
        let bytes = serde_json::to_vec(&step).expect("journal objects serialise");
        let name = format!(
            "{}{:020}-{:020}.json",
            self.objects.journal, self.stored.serial, self.next_seq
        );
        self.next_seq += 1;
        match self.bucket.write_checked(&name, &bytes, 0).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(StateError::Conflict {
                instance: self.instance.clone(),
                detail: format!("{} was written by another writer", self.bucket.url(&name)),
            }),
            Err(e) => Err(self.bucket.failed("write", &name, e)),
        }
    }

    async fn commit_now(&mut self, document: &StateDocument) -> Result<u64, StateError> {
        let mut next = document.clone();
        next.serial = self.stored.serial.max(document.serial) + 1;
        let text = serde_json::to_string_pretty(&next).expect("state documents serialise") + "\n";
        let bytes = text.into_bytes();
        if let Some(previous) = &self.stored.bytes {
            self.bucket
                .upload(&self.objects.backup, previous, None)
                .await
                .map_err(|e| self.bucket.failed("write", &self.objects.backup, e))?;
        }
        let document_name = &self.objects.document;
        let generation = match self
            .bucket
            .write_checked(document_name, &bytes, self.stored.generation)
            .await
        {
            Ok(Some(generation)) => generation,
            Ok(None) => {
                return Err(StateError::Conflict {
                    instance: self.instance.clone(),
                    detail: format!(
                        "{} no longer has generation {}; the steps of this apply stay in {}",
                        self.bucket.url(document_name),
                        self.stored.generation,
                        self.bucket.url(&self.objects.journal)
                    ),
                });
            }
            Err(e) => return Err(self.bucket.failed("write", document_name, e)),
        };
        self.stored = StoredDocument {
            generation,
            bytes: Some(bytes),
            serial: next.serial,
        };
        // The journal's steps are in the document now; the serial in each journal
        // object marks it stale should a removal not happen.
        match self.bucket.list(&self.objects.journal).await {
            Ok(journal) => self.remove_journal(&journal).await,
            Err(e) => tracing::warn!(
                error = %e,
                "cannot list the folded journal of {}; the next lock removes it",
                self.instance
            ),
        }
        Ok(next.serial)
    }

    /// Deletes journal objects, all at once; a failure leaves a stale object that
    /// reads skip and the next lock removes.
    async fn remove_journal(&self, journal: &[(String, i64)]) {
        let mut deletes = tokio::task::JoinSet::new();
        for (name, generation) in journal {
            let bucket = self.bucket.clone();
            let name = name.clone();
            let generation = *generation;
            deletes.spawn(async move {
                let result = bucket.delete(&name, generation).await;
                (name, result)
            });
        }
        while let Some(joined) = deletes.join_next().await {
            match joined {
                Ok((_, Ok(_))) => {}
                Ok((name, Err(e))) => {
                    tracing::warn!(error = %e, object = %self.bucket.url(&name), "cannot remove a folded journal object");
                }
                Err(e) => tracing::warn!(error = %e, "a journal removal did not finish"),
            }
        }
    }

    /// Deletes the lock object if it is still this writer's.
    async fn release(&mut self) -> Result<(), StateError> {
        match self.lock.take() {
            None => Ok(()),
            Some(generation) => {
                release_lock(
                    self.bucket.clone(),
                    self.objects.lock.clone(),
                    generation,
                    self.instance.clone(),
                )
                .await
            }
        }
    }
}

/// Deletes a lock object if it still has `generation`. One that changed belongs
/// to another holder since a `force-unlock`, and is left alone.
async fn release_lock(
    bucket: Bucket,
    lock: String,
    generation: i64,
    instance: InstanceAddr,
) -> Result<(), StateError> {
    match bucket
        .delete(&lock, generation)
        .await
        .map_err(|e| bucket.failed("delete the lock", &lock, e))?
    {
        Deletion::Done => Ok(()),
        Deletion::Absent => {
            tracing::warn!("the lock of {instance} was released by someone else (force-unlock)");
            Ok(())
        }
        Deletion::Changed => Err(StateError::Backend(format!(
            "the lock of {instance} was force-unlocked and taken by another holder while this one held it; it was left alone"
        ))),
    }
}

impl StateWriter for GcsWriter {
    fn read(&mut self) -> StateFuture<'_, Option<StateDocument>> {
        Box::pin(async move { Ok(self.snapshot().await?.document) })
    }

    fn record<'a>(
        &'a mut self,
        base: &'a StateDocument,
        entries: &'a [JournalEntry],
    ) -> StateFuture<'a, ()> {
        Box::pin(async move { self.record_now(base, entries).await })
    }

    fn commit<'a>(&'a mut self, document: &'a StateDocument) -> StateFuture<'a, u64> {
        Box::pin(async move { self.commit_now(document).await })
    }

    fn unlock(mut self: Box<Self>) -> StateFuture<'static, ()> {
        Box::pin(async move { self.release().await })
    }
}

impl Drop for GcsWriter {
    /// Releases the lock when `unlock` was not called. A drop cannot wait on a
    /// future, so the delete runs on a runtime: blocking this thread where the
    /// runtime allows it, spawned on a single-threaded runtime that is running.
    fn drop(&mut self) {
        let Some(generation) = self.lock.take() else {
            return;
        };
        let release = release_lock(
            self.bucket.clone(),
            self.objects.lock.clone(),
            generation,
            self.instance.clone(),
        );
        let report = |result: Result<(), StateError>| {
            if let Err(e) = result {
                tracing::warn!(error = %e, "cannot release the lock");
            }
        };
        match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
                // This thread runs the runtime: blocking it would stop the delete too.
                handle.spawn(async move { report(release.await) });
            }
            Ok(handle) => report(tokio::task::block_in_place(|| handle.block_on(release))),
            Err(_) => match &self.runtime {
                Some(handle) if handle.runtime_flavor() != RuntimeFlavor::CurrentThread => {
                    report(handle.block_on(release));
                }
                _ => tracing::warn!(
                    "the lock of {} is left in {}: no runtime can release it; run `yagura force-unlock --service {} --env {}`",
                    self.instance,
                    self.bucket.url(&self.objects.lock),
                    self.instance.service,
                    self.instance.env
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_encoded_as_one_segment() {
        assert_eq!(encode("yagura/svc/dev.json"), "yagura%2Fsvc%2Fdev.json");
        assert_eq!(encode("a b~c_d"), "a%20b~c_d");
    }

    #[test]
    fn journal_object_names_give_serial_and_sequence() {
        let prefix = "p/svc/dev.journal/";
        let name = |serial: u64, seq: u64| format!("{prefix}{serial:020}-{seq:020}.json");
        assert_eq!(journal_position(prefix, &name(3, 12)), Some((3, 12)));
        assert_eq!(journal_position(prefix, "p/svc/dev.journal/x.json"), None);
        assert_eq!(journal_position(prefix, "p/svc/other/1-2.json"), None);
    }

    #[test]
    fn a_holder_on_this_host_whose_process_is_gone_is_reported_gone() {
        let mut holder = LockInfo::current("apply");
        assert_eq!(liveness(&holder), HolderLiveness::Unknown);
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` runs");
        holder.pid = child.id();
        child.wait().expect("`true` exits");
        assert_eq!(liveness(&holder), HolderLiveness::Gone);
        holder.who = "someone@another-host".to_string();
        assert_eq!(liveness(&holder), HolderLiveness::Unknown);
    }
}
