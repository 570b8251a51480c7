//! The local backend: one JSON file per instance under the repo's `state/`.
//!
//! Beside `<env>.json` live `<env>.journal` (the steps of an apply not yet folded
//! into the document, one JSON line each, headed by the document's lineage and
//! serial), `<env>.json.backup` (the document before the last write) and
//! `<env>.lock`, whose `flock` is the lock: its contents only say who holds it, so
//! a killed process leaves no lock behind.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Backend, JournalEntry, LockInfo, StateDocument, StateError, StateFuture, StateWriter};
use crate::addr::InstanceAddr;

/// States stored as `<dir>/<service>/<env>.json`.
pub struct LocalBackend {
    pub dir: PathBuf,
}

/// The first line of a journal: which document its steps apply to.
#[derive(Debug, Serialize, Deserialize)]
struct JournalHeader {
    lineage: String,
    serial: u64,
}

impl LocalBackend {
    pub fn new(dir: PathBuf) -> LocalBackend {
        LocalBackend { dir }
    }

    pub fn path(&self, instance: &InstanceAddr) -> PathBuf {
        self.dir
            .join(&instance.service)
            .join(format!("{}.json", instance.env))
    }

    fn sibling(&self, instance: &InstanceAddr, extension: &str) -> PathBuf {
        self.path(instance).with_extension(extension)
    }
}

/// Runs file I/O that may wait on the disk (fsync) without stalling the other
/// tasks of a multi-threaded runtime.
fn blocking<T>(io: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(io)
        }
        _ => io(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether the journal holds steps not yet in the document: its header names the
/// document's serial and at least one step after it is complete. A journal that a
/// commit folded in names an older serial and is left in place, to be reused.
fn has_live_steps(backend: &LocalBackend, instance: &InstanceAddr) -> bool {
    let Ok(text) = std::fs::read_to_string(backend.sibling(instance, "journal")) else {
        return false;
    };
    let mut lines = text.split_inclusive('\n');
    let Some(header) = lines
        .next()
        .and_then(|l| serde_json::from_str::<JournalHeader>(l).ok())
    else {
        return false;
    };
    let stored = std::fs::read_to_string(backend.path(instance))
        .ok()
        .and_then(|t| StateDocument::from_json(&t).ok())
        .map_or(0, |d| d.serial);
    header.serial >= stored && lines.any(|l| l.ends_with('\n'))
}

/// Reads the document and replays its journal.
fn read_state(
    backend: &LocalBackend,
    instance: &InstanceAddr,
) -> Result<Option<StateDocument>, StateError> {
    let path = backend.path(instance);
    let mut document = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let document =
                StateDocument::from_json(&text).map_err(|reason| StateError::Unreadable {
                    path: path.clone(),
                    reason,
                })?;
            if &document.instance != instance {
                return Err(StateError::WrongInstance {
                    path,
                    found: document.instance,
                    expected: instance.clone(),
                });
            }
            Some(document)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(source) => return Err(StateError::Io { path, source }),
    };
    let journal_path = backend.sibling(instance, "journal");
    let text = match std::fs::read_to_string(&journal_path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(document),
        Err(source) => {
            return Err(StateError::Io {
                path: journal_path,
                source,
            });
        }
    };
    let unreadable = |reason: String| StateError::Unreadable {
        path: journal_path.clone(),
        reason,
    };
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next().filter(|l| l.ends_with('\n')) else {
        // A journal cut short before its header was complete holds no step.
        return Ok(document);
    };
    let header: JournalHeader = serde_json::from_str(first)
        .map_err(|e| unreadable(format!("its header is not valid ({e})")))?;
    let current = document
        .as_ref()
        .map(|d| (d.lineage.as_str(), d.serial))
        .unwrap_or((header.lineage.as_str(), 0));
    if current.0 != header.lineage {
        return Err(unreadable(format!(
            "it belongs to lineage {}, but the state has lineage {}",
            header.lineage, current.0
        )));
    }
    if header.serial < current.1 {
        // Written before the document it was folded into: already applied.
        return Ok(document);
    }
    let mut document = document
        .take()
        .unwrap_or_else(|| StateDocument::new(instance.clone(), header.lineage.clone()));
    for (n, line) in lines.enumerate() {
        if !line.ends_with('\n') {
            // The process died while appending this step: it never became durable.
            break;
        }
        let entry: JournalEntry = serde_json::from_str(line)
            .map_err(|e| unreadable(format!("step {} is not valid ({e})", n + 1)))?;
        document.apply_entry(entry);
    }
    Ok(Some(document))
}

impl Backend for LocalBackend {
    fn read<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<StateDocument>> {
        Box::pin(async move { blocking(|| read_state(self, instance)) })
    }

    fn lock<'a>(
        &'a self,
        instance: &'a InstanceAddr,
        info: &'a LockInfo,
        wait: Duration,
    ) -> StateFuture<'a, Box<dyn StateWriter>> {
        Box::pin(async move { blocking(|| self.lock_now(instance, info, wait)) })
    }

    fn list(&self) -> StateFuture<'_, Vec<InstanceAddr>> {
        Box::pin(async move {
            blocking(|| {
                let mut out = Vec::new();
                let services = match std::fs::read_dir(&self.dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(out),
                    Err(source) => {
                        return Err(StateError::Io {
                            path: self.dir.clone(),
                            source,
                        });
                    }
                };
                for service in services.flatten() {
                    let Ok(envs) = std::fs::read_dir(service.path()) else {
                        continue;
                    };
                    for env in envs.flatten() {
                        let name = env.file_name().to_string_lossy().into_owned();
                        // A document, or the journal of an instance not yet committed.
                        let env = name
                            .strip_suffix(".json")
                            .or_else(|| name.strip_suffix(".journal"));
                        if let Some(env) = env {
                            out.push(InstanceAddr::new(
                                service.file_name().to_string_lossy(),
                                env,
                            ));
                        }
                    }
                }
                out.sort();
                out.dedup();
                Ok(out)
            })
        })
    }

    fn force_unlock<'a>(
        &'a self,
        _instance: &'a InstanceAddr,
    ) -> StateFuture<'a, Option<LockInfo>> {
        // The lock is a `flock`, released by the kernel when its holder exits.
        Box::pin(async { Ok(None) })
    }
}

impl LocalBackend {
    fn lock_now(
        &self,
        instance: &InstanceAddr,
        info: &LockInfo,
        wait: Duration,
    ) -> Result<Box<dyn StateWriter>, StateError> {
        let path = self.sibling(instance, "lock");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = serde_json::from_str::<LockInfo>(&holder)
                            .map_or_else(|_| "another process".to_string(), |i| i.to_string());
                        return Err(StateError::Locked {
                            instance: instance.clone(),
                            holder,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(StateError::Io { path, source });
                }
            }
        }
        let text = serde_json::to_string(info).expect("lock info serialises");
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .map_err(io_error(&path))?;
        let mut writer = LocalWriter {
            backend: LocalBackend::new(self.dir.clone()),
            instance: instance.clone(),
            _lock: file,
            journal: None,
            serial: std::cell::Cell::new(None),
        };
        // Steps a killed apply left in the journal are folded into the document first.
        if has_live_steps(self, instance)
            && let Some(document) = read_state(self, instance)?
        {
            writer.commit_now(&document)?;
        }
        Ok(Box::new(writer))
    }
}

/// A locked local state.
struct LocalWriter {
    backend: LocalBackend,
    instance: InstanceAddr,
    /// Holding the file holds the `flock`.
    _lock: File,
    journal: Option<File>,
    /// The serial on disk, once read: nobody else writes while the lock is held.
    serial: std::cell::Cell<Option<u64>>,
}

impl LocalWriter {
    /// Starts the journal on the first step: the lock folded any earlier one into
    /// the document, so a new journal starts empty. Returns the file and the header
    /// line to write before the first steps, and whether the file is new (its
    /// directory entry then needs syncing too).
    fn open_journal(
        &mut self,
        base: &StateDocument,
    ) -> Result<(&mut File, Option<String>, bool), StateError> {
        let mut header = None;
        let mut created = false;
        if self.journal.is_none() {
            let path = self.backend.sibling(&self.instance, "journal");
            created = !path.exists();
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_error(&path))?;
            let line = JournalHeader {
                lineage: base.lineage.clone(),
                serial: self.stored_serial(),
            };
            header = Some(serde_json::to_string(&line).expect("headers serialise") + "\n");
            self.journal = Some(file);
        }
        Ok((
            self.journal.as_mut().expect("opened above"),
            header,
            created,
        ))
    }

    /// The serial of the document on disk, 0 when there is none.
    fn stored_serial(&self) -> u64 {
        if let Some(serial) = self.serial.get() {
            return serial;
        }
        let serial = std::fs::read_to_string(self.backend.path(&self.instance))
            .ok()
            .and_then(|t| StateDocument::from_json(&t).ok())
            .map_or(0, |d| d.serial);
        self.serial.set(Some(serial));
        serial
    }
}

/// Makes a rename or a new file in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

impl StateWriter for LocalWriter {
    fn read(&mut self) -> StateFuture<'_, Option<StateDocument>> {
        Box::pin(async move { blocking(|| read_state(&self.backend, &self.instance)) })
    }

    fn record<'a>(
        &'a mut self,
        base: &'a StateDocument,
        entries: &'a [JournalEntry],
    ) -> StateFuture<'a, ()> {
        Box::pin(async move { blocking(|| self.record_now(base, entries)) })
    }

    fn commit<'a>(&'a mut self, document: &'a StateDocument) -> StateFuture<'a, u64> {
        Box::pin(async move { blocking(|| self.commit_now(document)) })
    }
}

impl LocalWriter {
    fn record_now(
        &mut self,
        base: &StateDocument,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for entry in entries {
            text.push_str(&serde_json::to_string(entry).expect("journal entries serialise"));
            text.push('\n');
        }
        let path = self.backend.sibling(&self.instance, "journal");
        let (journal, header, created) = self.open_journal(base)?;
        if let Some(header) = header {
            text.insert_str(0, &header);
        }
        journal
            .write_all(text.as_bytes())
            .and_then(|()| journal.sync_data())
            .map_err(io_error(&path))?;
        if created {
            sync_dir(&path)?;
        }
        Ok(())
    }

    fn commit_now(&mut self, document: &StateDocument) -> Result<u64, StateError> {
        let path = self.backend.path(&self.instance);
        let dir = path.parent().expect("state paths have a directory");
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut next = document.clone();
        next.serial = self.stored_serial().max(document.serial) + 1;
        let text = serde_json::to_string_pretty(&next).expect("state documents serialise") + "\n";
        let backup = self.backend.sibling(&self.instance, "json.backup");
        match std::fs::copy(&path, &backup) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError::Io {
                    path: backup,
                    source,
                });
            }
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_error(dir))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io_error(&path))?;
        tmp.persist(&path).map_err(|e| StateError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        sync_dir(&path)?;
        // The journal's steps are in the document now; its header names the old
        // serial, so it reads as folded in, and the next apply truncates and reuses it.
        self.journal = None;
        self.serial.set(Some(next.serial));
        Ok(next.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateResource;

    fn resource(address: &str, value: &str) -> StateResource {
        let mut attributes = serde_json::Map::new();
        attributes.insert("value".into(), value.into());
        StateResource {
            address: address.into(),
            type_name: "random_id".into(),
            provider_id: None,
            attributes,
            sensitive_attributes: Vec::new(),
            dependencies: Vec::new(),
        }
    }

    fn block<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    fn block_record(
        writer: &mut Box<dyn StateWriter>,
        base: &StateDocument,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        block(writer.record(base, entries))
    }

    fn info() -> LockInfo {
        LockInfo::current("test")
    }

    #[test]
    fn journal_steps_are_read_back_and_folded_in_by_commit() {
        let dir = tempfile::tempdir().expect("a directory");
        let backend = LocalBackend::new(dir.path().to_path_buf());
        let instance = InstanceAddr::new("svc", "dev");
        let mut writer = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        let base = StateDocument::new(instance.clone(), "lin".into());
        block_record(
            &mut writer,
            &base,
            &[
                JournalEntry::Put(resource("random_id.a", "1")),
                JournalEntry::Put(resource("random_id.b", "2")),
            ],
        )
        .expect("records");
        block_record(
            &mut writer,
            &base,
            &[JournalEntry::Remove {
                address: "random_id.a".into(),
            }],
        )
        .expect("records");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.lineage, "lin");
        assert_eq!(read.serial, 0);
        let addresses: Vec<&str> = read.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(addresses, ["random_id.b"]);

        assert_eq!(block(writer.commit(&read)).expect("commits"), 1);
        // The folded journal stays for reuse, and neither replays nor is folded again.
        assert!(!has_live_steps(&backend, &instance));
        let committed = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(committed.serial, 1);
        assert_eq!(committed.resources, read.resources);
        let mode = std::fs::metadata(backend.path(&instance))
            .expect("written")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        // A second apply journals against serial 1 and keeps serial 1 as the backup.
        block_record(
            &mut writer,
            &committed,
            &[JournalEntry::Put(resource("random_id.c", "3"))],
        )
        .expect("records");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.resources.len(), 2);
        assert_eq!(block(writer.commit(&read)).expect("commits"), 2);
        let backup =
            std::fs::read_to_string(backend.sibling(&instance, "json.backup")).expect("a backup");
        assert_eq!(StateDocument::from_json(&backup).expect("valid").serial, 1);
    }

    #[test]
    fn a_torn_last_step_is_ignored_and_a_stale_journal_is_skipped() {
        let dir = tempfile::tempdir().expect("a directory");
        let backend = LocalBackend::new(dir.path().to_path_buf());
        let instance = InstanceAddr::new("svc", "dev");
        let mut writer = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        let base = StateDocument::new(instance.clone(), "lin".into());
        block_record(
            &mut writer,
            &base,
            &[JournalEntry::Put(resource("random_id.a", "1"))],
        )
        .expect("records");
        let journal = backend.sibling(&instance, "journal");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("opens");
        file.write_all(b"{\"op\":\"put\",\"addr").expect("writes");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.resources.len(), 1);

        // Folded in by a commit whose journal removal did not happen: not applied twice.
        let text = std::fs::read_to_string(&journal).expect("reads");
        block(writer.commit(&read)).expect("commits");
        std::fs::write(&journal, text).expect("restores the old journal");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.serial, 1);
        assert_eq!(read.resources.len(), 1);
    }

    #[test]
    fn a_new_lock_folds_in_what_a_killed_apply_journaled() {
        let dir = tempfile::tempdir().expect("a directory");
        let backend = LocalBackend::new(dir.path().to_path_buf());
        let instance = InstanceAddr::new("svc", "dev");
        let base = StateDocument::new(instance.clone(), "lin".into());
        let mut writer = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        block_record(
            &mut writer,
            &base,
            &[JournalEntry::Put(resource("random_id.a", "1"))],
        )
        .expect("records");
        // The process dies here, in the middle of its next step.
        let journal = backend.sibling(&instance, "journal");
        OpenOptions::new()
            .append(true)
            .open(&journal)
            .and_then(|mut f| f.write_all(b"{\"op\":\"put\""))
            .expect("writes");
        drop(writer);

        let mut writer = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        assert!(!has_live_steps(&backend, &instance));
        let folded = block(writer.read()).expect("reads").expect("exists");
        assert_eq!(folded.serial, 1);
        assert_eq!(folded.resources.len(), 1);
        block_record(
            &mut writer,
            &folded,
            &[JournalEntry::Put(resource("random_id.b", "2"))],
        )
        .expect("records");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.resources.len(), 2);
    }

    #[test]
    fn list_names_every_instance_with_a_document_or_a_journal() {
        let dir = tempfile::tempdir().expect("a directory");
        let backend = LocalBackend::new(dir.path().to_path_buf());
        assert!(block(backend.list()).expect("lists").is_empty());
        let (a, b) = (
            InstanceAddr::new("a", "dev"),
            InstanceAddr::new("b", "prod"),
        );
        let mut writer = block(backend.lock(&a, &info(), Duration::ZERO)).expect("locks");
        let base = StateDocument::new(a.clone(), "lin".into());
        block_record(
            &mut writer,
            &base,
            &[JournalEntry::Put(resource("random_id.x", "1"))],
        )
        .expect("records");
        let mut other = block(backend.lock(&b, &info(), Duration::ZERO)).expect("locks");
        block(other.commit(&StateDocument::new(b.clone(), "lin2".into()))).expect("commits");
        block(other.commit(&StateDocument::new(b.clone(), "lin2".into()))).expect("commits");
        assert_eq!(block(backend.list()).expect("lists"), [a, b]);
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("a directory");
        let backend = LocalBackend::new(dir.path().to_path_buf());
        let instance = InstanceAddr::new("svc", "dev");
        let held = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        let err = match block(backend.lock(&instance, &info(), Duration::ZERO)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("the instance is locked"),
        };
        assert!(err.contains("svc/dev is locked by"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("test"), "{err}");
        drop(held);
        block(backend.lock(&instance, &info(), Duration::ZERO)).expect("free again once released");
    }
}
