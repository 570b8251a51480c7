//! The local backend: one JSON file per instance under the repo's `state/`.
//!
//! Beside `<env>.json` live `<env>.json.backup` (the document before the last
//! write) and `<env>.lock`, whose `flock` is the lock: its contents only say who
//! holds it, so a killed process leaves no lock behind.
//!
//! Steps not yet folded into their documents go to `.journals/<pid>-<id>.log`: one
//! file per process that applies, shared by every instance it holds, one JSON line
//! per step naming its instance and the lineage and serial of the document it
//! follows. The writers hand their steps to one thread, which appends whatever has
//! queued up and makes it durable with one `fdatasync` (group commit), so instances
//! applying at once share their syncs. The process holds a `flock` on its journal
//! while it runs and removes the file once every instance in it is committed; a
//! killed process's journal stays, unlocked, until the next lock of each of its
//! instances has folded their steps in, and then goes.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Backend, JournalEntry, LockInfo, StateDocument, StateError, StateFuture, StateWriter};
use crate::addr::InstanceAddr;

/// The folder of the journals, inside the state folder.
const JOURNALS: &str = ".journals";

/// States stored as `<dir>/<service>/<env>.json`. Clones share the process's
/// journal and what has been read of every journal.
#[derive(Clone)]
pub struct LocalBackend {
    pub dir: PathBuf,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    journal: Mutex<OwnJournal>,
    /// What has been read of each journal so far: they only grow while they exist.
    seen: Mutex<HashMap<PathBuf, SeenJournal>>,
}

/// This process's journal.
#[derive(Default)]
struct OwnJournal {
    /// Open from the first step until every instance in it is committed.
    file: Option<Arc<Appender>>,
    /// The instances with steps in it that no commit has folded in yet.
    uncommitted: BTreeSet<InstanceAddr>,
}

/// One line of a journal, as written.
#[derive(Serialize)]
struct RecordRef<'a> {
    instance: &'a InstanceAddr,
    lineage: &'a str,
    serial: u64,
    step: &'a JournalEntry,
}

/// One line of a journal, as read.
#[derive(Clone, Deserialize)]
struct Record {
    instance: InstanceAddr,
    lineage: String,
    serial: u64,
    step: JournalEntry,
}

/// A journal's complete lines read so far, by instance.
struct SeenJournal {
    inode: u64,
    /// Bytes read, up to the end of the last complete line.
    read: u64,
    records: HashMap<InstanceAddr, Vec<Record>>,
}

impl LocalBackend {
    pub fn new(dir: PathBuf) -> LocalBackend {
        LocalBackend {
            dir,
            shared: Arc::default(),
        }
    }

    pub fn path(&self, instance: &InstanceAddr) -> PathBuf {
        self.dir
            .join(&instance.service)
            .join(format!("{}.json", instance.env))
    }

    fn sibling(&self, instance: &InstanceAddr, extension: &str) -> PathBuf {
        self.path(instance).with_extension(extension)
    }

    fn journals(&self) -> PathBuf {
        self.dir.join(JOURNALS)
    }

    /// The journal paths, oldest name first.
    fn journal_paths(&self) -> Result<Vec<PathBuf>, StateError> {
        let dir = self.journals();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StateError::Io { path: dir, source }),
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// Reads what is new in every journal, and forgets journals that are gone.
    fn scan_journals(&self) -> Result<MutexGuard<'_, HashMap<PathBuf, SeenJournal>>, StateError> {
        let paths = self.journal_paths()?;
        let mut seen = lock(&self.shared.seen);
        seen.retain(|path, _| paths.contains(path));
        for path in paths {
            let mut file = match File::open(&path) {
                Ok(file) => file,
                // Removed since the folder was listed: its steps were all folded in.
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    seen.remove(&path);
                    continue;
                }
                Err(source) => return Err(StateError::Io { path, source }),
            };
            let inode = file.metadata().map_err(io_error(&path))?.ino();
            let journal = seen.entry(path.clone()).or_insert_with(|| SeenJournal {
                inode,
                read: 0,
                records: HashMap::new(),
            });
            if journal.inode != inode {
                *journal = SeenJournal {
                    inode,
                    read: 0,
                    records: HashMap::new(),
                };
            }
            let mut text = String::new();
            file.seek(SeekFrom::Start(journal.read))
                .and_then(|_| file.read_to_string(&mut text))
                .map_err(io_error(&path))?;
            let unreadable = |reason: String| StateError::Unreadable {
                path: path.clone(),
                reason,
            };
            // A line without its newline is a step whose append never became durable.
            for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
                let record: Record = serde_json::from_str(line)
                    .map_err(|e| unreadable(format!("a step is not valid ({e})")))?;
                journal.read += line.len() as u64;
                journal
                    .records
                    .entry(record.instance.clone())
                    .or_default()
                    .push(record);
            }
        }
        Ok(seen)
    }

    /// The journaled steps that follow an instance's document (`None`: there is
    /// none yet), in the order they were made.
    fn live_steps(
        &self,
        instance: &InstanceAddr,
        document: Option<&StateDocument>,
    ) -> Result<Vec<Record>, StateError> {
        let seen = self.scan_journals()?;
        let mut steps: Vec<Record> = Vec::new();
        for journal in seen.values() {
            let Some(records) = journal.records.get(instance) else {
                continue;
            };
            let (lineage, serial) = match (document, steps.first().or(records.first())) {
                (Some(d), _) => (d.lineage.as_str(), d.serial),
                (None, Some(first)) => (first.lineage.as_str(), 0),
                (None, None) => continue,
            };
            let lineage = lineage.to_string();
            steps.extend(
                records
                    .iter()
                    .filter(|r| r.lineage == lineage && r.serial == serial)
                    .cloned(),
            );
        }
        Ok(steps)
    }

    /// Removes the journals of dead processes that hold steps of `instance` once
    /// every instance in them has folded its steps in.
    fn remove_folded_journals(&self, instance: &InstanceAddr) -> Result<(), StateError> {
        // Each journal with the lineage and serial of its newest step per instance.
        type Newest = Vec<(InstanceAddr, String, u64)>;
        let candidates: Vec<(PathBuf, Newest)> = self
            .scan_journals()?
            .iter()
            .filter(|(_, j)| j.records.contains_key(instance))
            .map(|(path, j)| {
                let newest = j
                    .records
                    .iter()
                    .filter_map(|(i, r)| r.last().map(|r| (i.clone(), r.lineage.clone(), r.serial)))
                    .collect();
                (path.clone(), newest)
            })
            .collect();
        for (path, newest) in candidates {
            // A journal whose process runs is locked by it.
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue;
            }
            let folded = newest.iter().all(|(instance, lineage, serial)| {
                read_document(self, instance)
                    .ok()
                    .flatten()
                    .is_some_and(|d| &d.lineage != lineage || d.serial > *serial)
            });
            if folded {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                lock(&self.shared.seen).remove(&path);
            }
        }
        Ok(())
    }

    /// This process's journal, opened at the first step; `instance` counts as
    /// uncommitted in it from now on.
    fn own_journal(&self, instance: &InstanceAddr) -> Result<Arc<Appender>, StateError> {
        let mut own = lock(&self.shared.journal);
        own.uncommitted.insert(instance.clone());
        if let Some(file) = &own.file {
            return Ok(file.clone());
        }
        let appender = Arc::new(Appender::open(&self.journals())?);
        own.file = Some(appender.clone());
        Ok(appender)
    }

    /// This process's journal if it is open already; `instance` counts as
    /// uncommitted in it from now on.
    fn open_journal(&self, instance: &InstanceAddr) -> Option<Arc<Appender>> {
        let mut own = lock(&self.shared.journal);
        let file = own.file.clone()?;
        own.uncommitted.insert(instance.clone());
        Some(file)
    }

    /// Notes that an instance's steps are in its document; the journal goes once
    /// no instance in it is uncommitted.
    fn committed(&self, instance: &InstanceAddr) {
        let retired = {
            let mut own = lock(&self.shared.journal);
            own.uncommitted.remove(instance);
            if own.uncommitted.is_empty() {
                own.file.take()
            } else {
                None
            }
        };
        if let Some(appender) = retired {
            appender.retire();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Lines to append, and where to say whether they are durable.
struct Append {
    text: Vec<u8>,
    done: tokio::sync::oneshot::Sender<Result<(), (ErrorKind, String)>>,
}

/// The thread that appends to this process's journal: it takes every append that
/// has queued up, writes them in one go and syncs once.
struct Appender {
    path: PathBuf,
    queue: Mutex<Option<mpsc::Sender<Append>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Set once every step in the file has been folded into its document.
    remove: std::sync::atomic::AtomicBool,
}

impl Appender {
    fn open(dir: &Path) -> Result<Appender, StateError> {
        let new_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        if new_dir {
            sync_dir(dir)?;
        }
        let path = dir.join(format!(
            "{}-{}.log",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        file.try_lock().map_err(|e| StateError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        sync_dir(&path)?;
        let (queue, appends) = mpsc::channel::<Append>();
        let thread = std::thread::Builder::new()
            .name("yagura-journal".into())
            .spawn(move || {
                // After a failed append the journal takes nothing more: what follows
                // would land after a torn line, and a journal with a torn line in
                // the middle cannot be read. The steps it refuses were never
                // recorded, so their calls are not made or their creates are read
                // back by the next apply.
                let mut broken: Option<(ErrorKind, String)> = None;
                let mut length = 0u64;
                while let Ok(first) = appends.recv() {
                    let mut batch = vec![first];
                    batch.extend(appends.try_iter());
                    let written = match &broken {
                        Some(failure) => Err(failure.clone()),
                        None => {
                            let text: Vec<u8> =
                                batch.iter().flat_map(|a| a.text.iter().copied()).collect();
                            let written = file
                                .write_all(&text)
                                .and_then(|()| file.sync_data())
                                .map_err(|e| (e.kind(), e.to_string()));
                            match &written {
                                Ok(()) => length += text.len() as u64,
                                Err(failure) => {
                                    // Cut a torn tail, if the disk lets us.
                                    let _ = file.set_len(length).and_then(|()| file.sync_data());
                                    broken = Some(failure.clone());
                                }
                            }
                            written
                        }
                    };
                    for append in batch {
                        let _ = append.done.send(written.clone());
                    }
                }
            })
            .map_err(io_error(&path))?;
        Ok(Appender {
            path,
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
            remove: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Appends lines and returns once they are durable.
    async fn append(&self, text: Vec<u8>) -> Result<(), StateError> {
        let failed = |message: String| StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(message),
        };
        let (done, durable) = tokio::sync::oneshot::channel();
        lock(&self.queue)
            .as_ref()
            .ok_or_else(|| failed("the journal is closed".into()))?
            .send(Append { text, done })
            .map_err(|_| failed("the journal's writer stopped".into()))?;
        match durable.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((kind, message))) => Err(StateError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(kind, message),
            }),
            Err(_) => Err(failed("the journal's writer stopped".into())),
        }
    }

    /// Marks the file for removal when the last user lets go of it.
    fn retire(&self) {
        self.remove.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        lock(&self.queue).take();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        if self.remove.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = std::fs::remove_file(&self.path);
        }
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

/// Reads an instance's document alone.
fn read_document(
    backend: &LocalBackend,
    instance: &InstanceAddr,
) -> Result<Option<StateDocument>, StateError> {
    let path = backend.path(instance);
    match std::fs::read_to_string(&path) {
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
            Ok(Some(document))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { path, source }),
    }
}

/// Reads the document and replays the journaled steps that follow it.
fn read_state(
    backend: &LocalBackend,
    instance: &InstanceAddr,
) -> Result<Option<StateDocument>, StateError> {
    let document = read_document(backend, instance)?;
    let steps = backend.live_steps(instance, document.as_ref())?;
    let Some(first) = steps.first() else {
        return Ok(document);
    };
    let mut document =
        document.unwrap_or_else(|| StateDocument::new(instance.clone(), first.lineage.clone()));
    for record in steps {
        document.apply_entry(record.step);
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
                    if service.file_name() == JOURNALS {
                        continue;
                    }
                    let Ok(envs) = std::fs::read_dir(service.path()) else {
                        continue;
                    };
                    for env in envs.flatten() {
                        let name = env.file_name().to_string_lossy().into_owned();
                        if let Some(env) = name.strip_suffix(".json") {
                            out.push(InstanceAddr::new(
                                service.file_name().to_string_lossy(),
                                env,
                            ));
                        }
                    }
                }
                // Instances whose first apply is journaled but not yet committed.
                out.extend(
                    self.scan_journals()?
                        .values()
                        .flat_map(|j| j.records.keys().cloned()),
                );
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
            backend: self.clone(),
            instance: instance.clone(),
            _lock: file,
            serial: None,
        };
        // Steps a killed apply journaled are folded into the document first.
        let document = read_document(self, instance)?;
        if !self.live_steps(instance, document.as_ref())?.is_empty() {
            if let Some(document) = read_state(self, instance)? {
                writer.commit_now(&document)?;
            }
            self.remove_folded_journals(instance)?;
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
    /// The serial on disk, once read: nobody else writes while the lock is held.
    serial: Option<u64>,
}

impl LocalWriter {
    /// The serial of the document on disk, 0 when there is none.
    fn stored_serial(&mut self) -> u64 {
        if let Some(serial) = self.serial {
            return serial;
        }
        let serial = std::fs::read_to_string(self.backend.path(&self.instance))
            .ok()
            .and_then(|t| StateDocument::from_json(&t).ok())
            .map_or(0, |d| d.serial);
        self.serial = Some(serial);
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
        Box::pin(async move {
            if entries.is_empty() {
                return Ok(());
            }
            // Only the first step of a lock reads the disk.
            let serial = match self.serial {
                Some(serial) => serial,
                None => blocking(|| self.stored_serial()),
            };
            let mut text = Vec::new();
            for step in entries {
                let record = RecordRef {
                    instance: &self.instance,
                    lineage: &base.lineage,
                    serial,
                    step,
                };
                serde_json::to_writer(&mut text, &record).expect("journal entries serialise");
                text.push(b'\n');
            }
            let journal = match self.backend.open_journal(&self.instance) {
                Some(journal) => journal,
                None => blocking(|| self.backend.own_journal(&self.instance))?,
            };
            journal.append(text).await
        })
    }

    fn commit<'a>(&'a mut self, document: &'a StateDocument) -> StateFuture<'a, u64> {
        Box::pin(async move { blocking(|| self.commit_now(document)) })
    }
}

impl LocalWriter {
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
        // The journaled steps are in the document now, which their serial says.
        self.serial = Some(next.serial);
        self.backend.committed(&self.instance);
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
        // Every step of the process's journal is in a document now: it is gone.
        assert!(backend.journal_paths().expect("lists").is_empty());
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
        let [journal] = &backend.journal_paths().expect("lists")[..] else {
            panic!("one journal");
        };
        let journal = journal.clone();
        let mut file = OpenOptions::new()
            .append(true)
            .open(&journal)
            .expect("opens");
        file.write_all(b"{\"instance\":{\"service\":\"svc\",\"env\":\"dev\"},\"lin")
            .expect("writes");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.resources.len(), 1);

        // Folded in by a commit whose journal removal did not last: not applied twice.
        let text = std::fs::read_to_string(&journal).expect("reads");
        block(writer.commit(&read)).expect("commits");
        std::fs::write(&journal, text).expect("puts the old journal back");
        let read = block(backend.read(&instance))
            .expect("reads")
            .expect("exists");
        assert_eq!(read.serial, 1);
        assert_eq!(read.resources.len(), 1);
    }

    #[test]
    fn a_new_lock_folds_in_what_a_killed_apply_journaled() {
        let dir = tempfile::tempdir().expect("a directory");
        let instance = InstanceAddr::new("svc", "dev");
        let other = InstanceAddr::new("other", "dev");
        // Another process journals steps of two instances and dies in the middle of
        // its next step: its journal stays, unlocked.
        let journals = dir.path().join(JOURNALS);
        std::fs::create_dir_all(&journals).expect("a directory");
        let mut text = Vec::new();
        for (who, address) in [(&instance, "random_id.a"), (&other, "random_id.z")] {
            let step = JournalEntry::Put(resource(address, "1"));
            let record = RecordRef {
                instance: who,
                lineage: "lin",
                serial: 0,
                step: &step,
            };
            serde_json::to_writer(&mut text, &record).expect("serialises");
            text.push(b'\n');
        }
        text.extend_from_slice(b"{\"instance\":");
        let dead = journals.join("1-dead.log");
        std::fs::write(&dead, &text).expect("writes");

        let backend = LocalBackend::new(dir.path().to_path_buf());
        assert_eq!(
            block(backend.list()).expect("lists"),
            [other.clone(), instance.clone()]
        );
        let mut writer = block(backend.lock(&instance, &info(), Duration::ZERO)).expect("locks");
        assert!(
            dead.exists(),
            "kept while the other instance's step is not folded in"
        );
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

        // Once the other instance is locked too, the dead journal has served.
        let folded = block(backend.lock(&other, &info(), Duration::ZERO)).expect("locks");
        drop(folded);
        assert!(!dead.exists());
        let other_state = block(backend.read(&other)).expect("reads").expect("exists");
        assert_eq!(other_state.serial, 1);
        assert_eq!(other_state.resources.len(), 1);
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
