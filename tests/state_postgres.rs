//! The `postgres` state backend against a throwaway PostgreSQL 15, and `yagura
//! apply` with it.
//!
//! The server runs from `/usr/lib/postgresql/15/bin` on 127.0.0.1 as an unprivileged
//! user (PostgreSQL refuses to run as root), one per test binary while tests use it,
//! each test in a database of its own. Without the binaries the tests are skipped
//! with a note, except on CI (`CI=true`), where they fail.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use yagura::addr::InstanceAddr;
use yagura::state::postgres::PostgresBackend;
use yagura::state::{
    Backend, JournalEntry, LockInfo, StateDocument, StateError, StateResource, StateWriter,
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Accepted by the server's `trust` authentication, and never to be printed.
const PASSWORD: &str = "pg-secret-never-printed";

/// Set in the environment of the child process that holds a lock until killed.
const HOLD_URL: &str = "YAGURA_TEST_PG_HOLD_URL";

/// What that child prints once it holds the lock.
const HOLDING: &str = "holding the lock of hold/dev";

/// A running PostgreSQL server, stopped when dropped.
struct Server {
    /// Declared first, so that the server stops before its directory is removed.
    _postmaster: Postmaster,
    port: u16,
    _dir: tempfile::TempDir,
}

/// The server's main process, which leads a process group of its own.
struct Postmaster(Child);

/// The server the tests of this binary share; started by the first test that needs
/// it and stopped when the last one running lets go of it.
fn server() -> Option<Arc<Server>> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return Some(server);
    }
    let server = Arc::new(Server::start()?);
    *shared = Arc::downgrade(&server);
    Some(server)
}

/// The user the server runs as: this one, or an unprivileged one when running as root.
struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Option<RunAs> {
    let euid = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    if euid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let entry = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3).then(|| RunAs {
                uid: fields[2].parse().expect("a numeric uid"),
                gid: fields[3].parse().expect("a numeric gid"),
            })
        })
    };
    Some(
        entry("postgres")
            .or_else(|| entry("nobody"))
            .expect("a `postgres` or `nobody` user to run PostgreSQL as"),
    )
}

impl Server {
    fn start() -> Option<Server> {
        let bin = Path::new(PG_BIN);
        if !bin.join("postgres").exists() || !bin.join("initdb").exists() {
            let why = format!("PostgreSQL 15 is not installed in {PG_BIN}");
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}; the postgres state tests must run on CI");
            }
            eprintln!("skipping the postgres state tests: {why}");
            return None;
        }
        let run_as = run_as();
        // Short, as the server's paths must be; owned by the server's user.
        let dir = tempfile::Builder::new()
            .prefix("yagura-pg")
            .tempdir_in("/tmp")
            .expect("a temporary directory");
        if let Some(user) = &run_as {
            std::os::unix::fs::chown(dir.path(), Some(user.uid), Some(user.gid))
                .expect("the directory is given to the server's user");
        }
        let data = dir.path().join("data");
        let initdb_log = dir.path().join("initdb.log");
        let status = pg_command(&run_as, dir.path(), "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C.UTF-8")
            .stdout(log_file(&initdb_log))
            .stderr(log_file(&initdb_log))
            .status()
            .expect("initdb runs");
        assert!(status.success(), "initdb failed:\n{}", read(&initdb_log));

        // The port is free when picked but may be taken before the server binds it:
        // a server that exits at once is started again on another port.
        let server_log = dir.path().join("server.log");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("an ephemeral port")
                .port();
            let child = pg_command(&run_as, dir.path(), "postgres")
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "unix_socket_directories="])
                .args(["-c", "fsync=off"])
                .args(["-c", "max_connections=200"])
                .stdout(log_file(&server_log))
                .stderr(log_file(&server_log))
                .process_group(0)
                .spawn()
                .expect("postgres starts");
            let mut postmaster = Postmaster(child);
            if postmaster.wait_ready(&admin_url(port), &server_log) {
                return Some(Server {
                    _postmaster: postmaster,
                    port,
                    _dir: dir,
                });
            }
        }
        panic!("PostgreSQL did not start:\n{}", read(&server_log));
    }

    /// A connection string for `database`, with a password that must never show.
    fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates a database of its own for one test; returns its connection string.
    fn database(&self, name: &str) -> String {
        let admin = admin_url(self.port);
        runtime().block_on(async {
            let client = connect(&admin).await;
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("the database is created");
        });
        self.url(name)
    }
}

impl Postmaster {
    /// Polls a connection until the server accepts one; false if it exited.
    fn wait_ready(&mut self, url: &str, log: &Path) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        runtime().block_on(async {
            loop {
                if self.0.try_wait().expect("the server's status").is_some() {
                    return false;
                }
                if tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .is_ok()
                {
                    return true;
                }
                assert!(
                    Instant::now() < deadline,
                    "PostgreSQL does not accept connections:\n{}",
                    read(log)
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }
}

impl Drop for Postmaster {
    /// A fast shutdown (SIGINT), then the whole process group killed if it lingers.
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.0.wait();
    }
}

fn admin_url(port: u16) -> String {
    format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres")
}

/// A PostgreSQL binary to run as `run_as`, from `dir` (which that user can read).
fn pg_command(run_as: &Option<RunAs>, dir: &Path, program: &str) -> Command {
    let program = Path::new(PG_BIN).join(program);
    let mut command = match run_as {
        Some(user) => {
            // setpriv executes the binary in its own place, so the child is the server.
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            command
        }
        None => Command::new(program),
    };
    command.current_dir(dir).stdin(Stdio::null());
    command
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("a log file")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A connection for looking at the tables directly.
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test connects");
    tokio::spawn(connection);
    client
}

async fn query_one_text(client: &tokio_postgres::Client, sql: &str) -> Option<String> {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
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

fn put(address: &str, value: &str) -> JournalEntry {
    JournalEntry::Put(resource(address, value))
}

fn values(state: &StateDocument) -> Vec<(String, String)> {
    state
        .resources
        .iter()
        .map(|r| {
            (
                r.address.clone(),
                r.attributes["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .collect()
}

fn alice() -> LockInfo {
    LockInfo {
        who: "alice@ci-runner".into(),
        pid: 4242,
        operation: "apply".into(),
        since: "2026-01-02T03:04:05Z".into(),
    }
}

async fn lock(
    backend: &PostgresBackend,
    instance: &InstanceAddr,
    info: &LockInfo,
    wait: Duration,
) -> Result<Box<dyn StateWriter>, StateError> {
    backend.lock(instance, info, wait).await
}

/// The error of a lock that must fail.
async fn lock_error(
    backend: &PostgresBackend,
    instance: &InstanceAddr,
    wait: Duration,
) -> StateError {
    match lock(backend, instance, &LockInfo::current("test"), wait).await {
        Err(e) => e,
        Ok(_) => panic!("{instance} is locked by someone else"),
    }
}

/// How long a lock that must be free soon may take: it is free once the server has
/// seen the holder's connection close, which happens asynchronously.
const SOON: Duration = Duration::from_secs(60);

#[test]
fn journal_steps_are_read_back_and_committed_with_a_backup() {
    let Some(pg) = server() else { return };
    let url = pg.database("round_trip");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("svc", "dev");
        assert_eq!(backend.read(&instance).await.expect("reads"), None);
        assert_eq!(backend.list().await.expect("lists"), []);

        let mut writer = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");
        let base = StateDocument::new(instance.clone(), "lin".into());
        // Within one call and across calls, steps apply in the order recorded.
        writer
            .record(&base, &[put("random_id.a", "1"), put("random_id.a", "2")])
            .await
            .expect("records");
        writer
            .record(&base, &[put("random_id.b", "3")])
            .await
            .expect("records");
        writer
            .record(
                &base,
                &[JournalEntry::Remove {
                    address: "random_id.b".into(),
                }],
            )
            .await
            .expect("records");
        writer
            .record(&base, &[put("random_id.c", "4")])
            .await
            .expect("records");

        // Another process sees the journal's steps without taking the lock, and
        // lists the instance before its first commit.
        let other = PostgresBackend::new(url.clone());
        assert_eq!(other.list().await.expect("lists"), std::slice::from_ref(&instance));
        let read = other.read(&instance).await.expect("reads").expect("exists");
        assert_eq!(read.lineage, "lin");
        assert_eq!(read.serial, 0);
        assert_eq!(
            values(&read),
            pairs(&[("random_id.a", "2"), ("random_id.c", "4")])
        );
        assert_eq!(writer.read().await.expect("reads"), Some(read.clone()));

        assert_eq!(writer.commit(&read).await.expect("commits"), 1);
        let sql = connect(&url).await;
        let journal = "SELECT count(*)::text FROM yagura_journal";
        assert_eq!(query_one_text(&sql, journal).await.as_deref(), Some("0"));
        assert_eq!(
            query_one_text(
                &sql,
                "SELECT serial::text || ' ' || (document->>'serial') || ' ' || coalesce(backup::text, 'no backup') FROM yagura_states"
            )
            .await
            .as_deref(),
            Some("1 1 no backup")
        );
        let committed = other.read(&instance).await.expect("reads").expect("exists");
        assert_eq!(committed.serial, 1);
        assert_eq!(committed.resources, read.resources);

        // A second round journals against serial 1 and keeps it as the backup.
        writer
            .record(&committed, &[put("random_id.d", "5")])
            .await
            .expect("records");
        let read = other.read(&instance).await.expect("reads").expect("exists");
        assert_eq!(read.resources.len(), 3);
        assert_eq!(writer.commit(&read).await.expect("commits"), 2);
        assert_eq!(
            query_one_text(
                &sql,
                "SELECT (backup->>'serial') || ' ' || (document->>'serial') || ' ' || jsonb_array_length(document->'resources') FROM yagura_states"
            )
            .await
            .as_deref(),
            Some("1 2 3")
        );
        assert_eq!(query_one_text(&sql, journal).await.as_deref(), Some("0"));
    });
}

#[test]
fn a_new_lock_folds_in_what_a_killed_apply_journaled() {
    let Some(pg) = server() else { return };
    let url = pg.database("fold");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("svc", "dev");
        let base = StateDocument::new(instance.clone(), "lin".into());
        let mut writer = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");
        writer
            .record(&base, &[put("random_id.a", "1"), put("random_id.b", "2")])
            .await
            .expect("records");
        // The apply dies here: its journal is all there is.
        drop(writer);

        let read = backend
            .read(&instance)
            .await
            .expect("reads")
            .expect("exists");
        assert_eq!(read.serial, 0);
        assert_eq!(
            values(&read),
            pairs(&[("random_id.a", "1"), ("random_id.b", "2")])
        );
        let sql = connect(&url).await;
        assert_eq!(
            query_one_text(&sql, "SELECT count(*)::text FROM yagura_states")
                .await
                .as_deref(),
            Some("0")
        );

        let mut writer = lock(&backend, &instance, &alice(), SOON)
            .await
            .expect("locks");
        assert_eq!(
            query_one_text(&sql, "SELECT count(*)::text FROM yagura_journal")
                .await
                .as_deref(),
            Some("0")
        );
        let folded = writer.read().await.expect("reads").expect("exists");
        assert_eq!(folded.serial, 1);
        assert_eq!(values(&folded), values(&read));
        assert_eq!(writer.commit(&folded).await.expect("commits"), 2);
    });
}

#[test]
fn a_second_lock_fails_at_once_naming_the_holder() {
    let Some(pg) = server() else { return };
    let url = pg.database("fail_fast");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("svc", "dev");
        let held = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");
        for other in [&backend, &PostgresBackend::new(url.clone())] {
            let err = lock_error(other, &instance, Duration::ZERO).await;
            assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "svc/dev is locked by alice@ci-runner (pid 4242, apply) since 2026-01-02T03:04:05Z"
            );
        }
        // Other instances are not held up.
        lock(
            &backend,
            &InstanceAddr::new("svc", "prod"),
            &alice(),
            Duration::ZERO,
        )
        .await
        .expect("another instance locks");
        drop(held);
        lock(&backend, &instance, &alice(), SOON)
            .await
            .expect("free again once released");
    });
}

#[test]
fn a_lock_timeout_waits_for_the_holder_to_let_go() {
    let Some(pg) = server() else { return };
    let url = pg.database("wait");
    runtime().block_on(async {
        let backend = Arc::new(PostgresBackend::new(url.clone()));
        let instance = InstanceAddr::new("svc", "dev");
        let held = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");

        let err = lock_error(&backend, &instance, Duration::from_millis(300)).await;
        assert!(
            err.to_string()
                .contains("alice@ci-runner (pid 4242, apply)"),
            "{err}"
        );

        let waiter = {
            let (backend, instance) = (backend.clone(), instance.clone());
            tokio::spawn(async move {
                let info = LockInfo::current("apply");
                lock(&backend, &instance, &info, SOON).await.map(|_| ())
            })
        };
        // Released only once the waiter is seen waiting on the server.
        let sql = connect(&url).await;
        let waiting = "SELECT count(*)::text FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        let deadline = Instant::now() + SOON;
        while query_one_text(&sql, waiting).await.as_deref() != Some("1") {
            assert!(Instant::now() < deadline, "the second lock never waited");
            assert!(!waiter.is_finished(), "the second lock did not wait");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(held);
        waiter
            .await
            .expect("the waiter does not panic")
            .expect("the waiter gets the lock");
    });
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let Some(pg) = server() else { return };
    let url = pg.database("killed");
    let instance = InstanceAddr::new("hold", "dev");
    let mut child = ChildGuard(
        Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "child_process_holding_a_lock",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HOLD_URL, &url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test binary starts again"),
    );
    let mut output = String::new();
    let mut lines = BufReader::new(child.0.stdout.take().expect("piped"));
    while !output.contains(HOLDING) {
        let mut line = String::new();
        let n = lines.read_line(&mut line).expect("the child's output");
        assert!(n > 0, "the child exited without the lock:\n{output}");
        output.push_str(&line);
    }
    let child_pid = child.0.id();
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let err = lock_error(&backend, &instance, Duration::ZERO).await;
        assert!(
            err.to_string()
                .contains(&format!("(pid {child_pid}, apply)")),
            "{err}"
        );
        child.0.kill().expect("the child is killed");
        child.0.wait().expect("the child is reaped");
        lock(&backend, &instance, &alice(), SOON)
            .await
            .expect("the killed holder's lock is gone");
    });
}

/// Kills the child when the test ends, also when it fails.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Not a test of its own: the process `a_killed_holder_leaves_no_lock_behind` starts,
/// which takes a lock and keeps it until killed (or until its stdin closes, should
/// the test die first).
#[test]
fn child_process_holding_a_lock() {
    let Ok(url) = std::env::var(HOLD_URL) else {
        return;
    };
    runtime().block_on(async {
        let backend = PostgresBackend::new(url);
        let instance = InstanceAddr::new("hold", "dev");
        let _writer = lock(
            &backend,
            &instance,
            &LockInfo::current("apply"),
            Duration::ZERO,
        )
        .await
        .expect("the child locks");
        println!("{HOLDING}");
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .expect("stdin is read");
    });
}

#[test]
fn first_uses_at_once_create_the_schema_once() {
    let Some(pg) = server() else { return };
    let url = pg.database("first_use");
    runtime().block_on(async {
        const N: usize = 6;
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..N {
            let (url, barrier) = (url.clone(), barrier.clone());
            tasks.spawn(async move {
                let backend = PostgresBackend::new(url);
                let instance = InstanceAddr::new("svc", format!("env{n}"));
                barrier.wait().await;
                let mut writer = lock(&backend, &instance, &alice(), Duration::ZERO).await?;
                let base = StateDocument::new(instance, format!("lin{n}"));
                writer.record(&base, &[put("random_id.a", "1")]).await?;
                let state = writer.read().await?.unwrap_or(base);
                writer.commit(&state).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            assert_eq!(joined.expect("no panic").expect("first use works"), 1);
        }
        let sql = connect(&url).await;
        assert_eq!(
            query_one_text(
                &sql,
                "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'yagura%'"
            )
            .await
            .as_deref(),
            Some("yagura_journal yagura_locks yagura_states")
        );
        assert_eq!(
            query_one_text(&sql, "SELECT count(*)::text FROM yagura_states")
                .await
                .as_deref(),
            Some(N.to_string().as_str())
        );
    });
}

#[test]
fn an_unreadable_state_is_refused_and_left_untouched() {
    let Some(pg) = server() else { return };
    let url = pg.database("unreadable");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("svc", "dev");
        // Creates the tables.
        drop(
            lock(&backend, &instance, &alice(), Duration::ZERO)
                .await
                .expect("locks"),
        );
        let sql = connect(&url).await;
        let document = r#"{"format_version": 9, "serial": 4, "lineage": "lin", "instance": "svc/dev"}"#;
        sql.execute(
            "INSERT INTO yagura_states (service, env, lineage, serial, document) VALUES ('svc', 'dev', 'lin', 4, $1::text::jsonb)",
            &[&document],
        )
        .await
        .expect("inserts");
        let err = backend.read(&instance).await.expect_err("unreadable");
        assert!(err.to_string().contains("newer than format 1"), "{err}");
        let err = lock_error(&backend, &instance, SOON).await;
        assert!(err.to_string().contains("newer than format 1"), "{err}");
        assert_eq!(
            query_one_text(&sql, "SELECT document->>'format_version' FROM yagura_states")
                .await
                .as_deref(),
            Some("9")
        );
    });
}

#[test]
fn force_unlock_ends_the_session_holding_the_lock() {
    let Some(pg) = server() else { return };
    let url = pg.database("force_unlock");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("svc", "dev");
        assert_eq!(backend.force_unlock(&instance).await.expect("asks"), None);

        let mut held = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");
        let released = backend.force_unlock(&instance).await.expect("releases");
        assert_eq!(released, Some(alice()));
        lock(
            &backend,
            &instance,
            &LockInfo::current("test"),
            Duration::ZERO,
        )
        .await
        .expect("free once released");
        // The old holder can no longer write.
        let base = StateDocument::new(instance.clone(), "lin".into());
        held.record(&base, &[put("random_id.a", "1")])
            .await
            .expect_err("its session is gone");
        assert_eq!(backend.read(&instance).await.expect("reads"), None);
    });
}

#[test]
fn connection_errors_name_the_server_but_not_the_password() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port();
    // Nothing listens there once the listener is gone.
    let url = format!("postgres://app:{PASSWORD}@127.0.0.1:{port}/yagura");
    runtime().block_on(async {
        let backend = PostgresBackend::new(url);
        let err = backend
            .read(&InstanceAddr::new("svc", "dev"))
            .await
            .expect_err("nothing listens");
        let text = format!("{err} {err:?}");
        assert!(
            text.contains(&format!(
                "cannot connect to the postgres state backend at 127.0.0.1:{port}, database yagura"
            )),
            "{text}"
        );
        assert!(!text.contains(PASSWORD), "{text}");
    });
}

const PLATFORM: &str = r#"
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"

  state {
    backend = "postgres"
  }
}

environment "development" {}
"#;

fn yagura(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yagura"))
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("YAGURA_PG_URL", url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the yagura binary runs")
}

fn show(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn apply_and_plan_keep_state_in_postgres() {
    let Some(pg) = server() else { return };
    let url = pg.database("cli");
    let repo = support::repo_with(PLATFORM, support::RANDOM_SPEC);

    let applied = yagura(repo.path(), &url, &["apply", "--auto-approve"]);
    assert_eq!(applied.status.code(), Some(0), "{}", show(&applied));
    let planned = yagura(repo.path(), &url, &["plan", "--detailed-exitcode"]);
    assert_eq!(planned.status.code(), Some(0), "{}", show(&planned));
    assert!(!state_dir_exists(repo.path()), "no local state is written");

    runtime().block_on(async {
        let sql = connect(&url).await;
        assert_eq!(
            query_one_text(
                &sql,
                "SELECT service || '/' || env || ' ' || serial || ' ' || (SELECT string_agg(r->>'address', ' ' ORDER BY r->>'address') FROM jsonb_array_elements(document->'resources') r) FROM yagura_states"
            )
            .await
            .as_deref(),
            Some("demo/development 1 random_id.key random_id.salt")
        );

        // While another holds the lock, apply fails at once and says who.
        let backend = PostgresBackend::new(url.clone());
        let instance = InstanceAddr::new("demo", "development");
        let held = lock(&backend, &instance, &alice(), Duration::ZERO)
            .await
            .expect("locks");
        let refused = yagura(repo.path(), &url, &["apply", "--auto-approve"]);
        assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("demo/development is locked by alice@ci-runner (pid 4242, apply)"),
            "{}",
            show(&refused)
        );
        drop(held);
    });

    // A server that cannot be reached is named, without the password.
    let closed = format!(
        "postgres://app:{PASSWORD}@127.0.0.1:{}/cli",
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("an ephemeral port")
            .port()
    );
    let failed = yagura(repo.path(), &closed, &["plan"]);
    assert_eq!(failed.status.code(), Some(1), "{}", show(&failed));
    assert!(
        String::from_utf8_lossy(&failed.stderr)
            .contains("cannot connect to the postgres state backend at 127.0.0.1:"),
        "{}",
        show(&failed)
    );
    for output in [&applied, &planned, &failed] {
        assert!(!show(output).contains(PASSWORD), "{}", show(output));
    }
}

fn state_dir_exists(repo: &Path) -> bool {
    repo.join("state").exists()
}
