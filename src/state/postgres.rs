//! The `postgres` backend: instance states in a PostgreSQL database, for teams
//! and concurrent CI.
//!
//! Three tables, created on first use in the connection's default schema:
//! `yagura_states` (one row per instance: the document, the one before it as a
//! backup, and its serial), `yagura_journal` (the steps of an apply not yet folded
//! into the document, replayed in `seq` order) and `yagura_locks` (who took each
//! instance's lock, for display only). The lock itself is a session-level advisory
//! lock held by the writer's own connection: it ends with that connection, so a
//! killed process leaves no lock behind.
//!
//! Connections are made without TLS, and the state holds secrets, so only servers on
//! this machine are accepted (loopback addresses, `localhost`, Unix sockets); a remote
//! server is reached through a local proxy that encrypts, such as the Cloud SQL Auth
//! Proxy. Connection strings may hold passwords: they are never shown, and errors
//! name the server by host, port and database only.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;
use tokio_postgres::{Client, Config, NoTls};

use super::{Backend, JournalEntry, LockInfo, StateDocument, StateError, StateFuture, StateWriter};
use crate::addr::InstanceAddr;

/// The tables, created together so that a database has all of them or none.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS yagura_states (
    service text NOT NULL,
    env text NOT NULL,
    lineage text NOT NULL,
    serial bigint NOT NULL,
    document jsonb NOT NULL,
    backup jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, env)
);
CREATE TABLE IF NOT EXISTS yagura_journal (
    seq bigserial PRIMARY KEY,
    service text NOT NULL,
    env text NOT NULL,
    lineage text NOT NULL,
    base_serial bigint NOT NULL,
    entry jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS yagura_journal_instance ON yagura_journal (service, env, seq);
CREATE TABLE IF NOT EXISTS yagura_locks (
    service text NOT NULL,
    env text NOT NULL,
    session_pid integer NOT NULL,
    info jsonb NOT NULL,
    PRIMARY KEY (service, env)
);
";

/// Whether the tables exist, without needing the right to create them.
const SCHEMA_EXISTS: &str = "SELECT to_regclass('yagura_states') IS NOT NULL
    AND to_regclass('yagura_journal') IS NOT NULL
    AND to_regclass('yagura_locks') IS NOT NULL";

/// Settings of a session that holds a lock. The server probes an idle client every
/// 10 s after 30 s of silence, so the lock of a client whose machine died (no FIN
/// ever comes) ends within about a minute; server-wide idle and statement timeouts
/// must not end the session during a long apply. Settings the server lacks are skipped.
const LOCK_SESSION_SETTINGS: &str = "SELECT set_config(s.name, v.value, false)
    FROM (VALUES
        ('tcp_keepalives_idle', '30'),
        ('tcp_keepalives_interval', '10'),
        ('tcp_keepalives_count', '3'),
        ('statement_timeout', '0'),
        ('idle_session_timeout', '0'),
        ('idle_in_transaction_session_timeout', '0')
    ) AS v(name, value)
    JOIN pg_settings s ON s.name = v.name";

/// The session holding an instance's advisory lock. A bigint key shows in `pg_locks`
/// as its high half in `classid`, its low half in `objid`, and `objsubid` 1.
const LOCK_HOLDER: &str = "SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::int8 = ($1::int8 >> 32) & 4294967295
      AND l.objid::int8 = $1::int8 & 4294967295";

/// The stored document and the journal, read in one statement so that both come
/// from the same snapshot.
const LOAD: &str = "SELECT
    (SELECT document::text FROM yagura_states WHERE service = $1 AND env = $2),
    (SELECT coalesce(json_agg(json_build_object(
                'lineage', lineage, 'base_serial', base_serial, 'entry', entry)
            ORDER BY seq), '[]')::text
        FROM yagura_journal WHERE service = $1 AND env = $2)";

/// Appends steps in one statement, in the order given.
const RECORD: &str = "INSERT INTO yagura_journal (service, env, lineage, base_serial, entry)
    SELECT $1, $2, $3, $4, step.entry
    FROM unnest($5::jsonb[]) WITH ORDINALITY AS step(entry, n)
    ORDER BY step.n";

/// How long a connection attempt may take unless the connection string says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `force_unlock` waits for the session it ended to let go of the lock.
const TERMINATE_WAIT: Duration = Duration::from_secs(10);

/// States stored in the database named by a connection string.
pub struct PostgresBackend {
    /// The parsed connection string, or why it cannot be used.
    config: Result<Config, String>,
    /// The connection that reads share, opened on first use.
    shared: tokio::sync::Mutex<Option<Arc<Client>>>,
    /// Set once the tables are known to exist.
    schema_ready: AtomicBool,
}

impl PostgresBackend {
    /// A backend for `url` (`postgres://user@host:port/db` or `host=... dbname=...`);
    /// connects on first use, where a string that cannot be used is reported.
    pub fn new(url: String) -> PostgresBackend {
        PostgresBackend {
            config: parse_config(&url),
            shared: tokio::sync::Mutex::new(None),
            schema_ready: AtomicBool::new(false),
        }
    }

    /// Opens a new session; its connection runs on the current runtime until the
    /// client is dropped or the server goes away.
    async fn connect(&self) -> Result<Client, StateError> {
        let config = self
            .config
            .as_ref()
            .map_err(|reason| StateError::Backend(reason.clone()))?;
        let (client, connection) = config.connect(NoTls).await.map_err(|e| {
            StateError::Backend(format!(
                "cannot connect to the postgres state backend at {}: {}",
                server_label(config),
                describe(&e)
            ))
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres state connection ended: {}", describe(&e));
            }
        });
        Ok(client)
    }

    async fn shared_client(&self) -> Result<Arc<Client>, StateError> {
        let mut slot = self.shared.lock().await;
        // A connection whose runtime or server went away is closed; open another.
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.connect().await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Creates the tables unless they exist. Two first uses at once would collide in
    /// `CREATE TABLE IF NOT EXISTS` (a unique violation in the catalog), so creation
    /// runs under a transaction-level advisory lock of its own.
    async fn ensure_schema(&self, client: &mut Client) -> Result<(), StateError> {
        if self.schema_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let exists: bool = client
            .query_one(SCHEMA_EXISTS, &[])
            .await
            .map_err(query_error("look for the state tables"))?
            .get(0);
        if !exists {
            let create = query_error("create the state tables");
            let transaction = client.transaction().await.map_err(&create)?;
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&schema_lock_key()])
                .await
                .map_err(&create)?;
            transaction.batch_execute(SCHEMA).await.map_err(&create)?;
            transaction.commit().await.map_err(&create)?;
        }
        self.schema_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn read_now(&self, instance: &InstanceAddr) -> Result<Option<StateDocument>, StateError> {
        let client = self.shared_client().await?;
        Ok(load(&client, instance).await?.state)
    }

    async fn lock_now(
        &self,
        instance: &InstanceAddr,
        info: &LockInfo,
        wait: Duration,
    ) -> Result<PostgresWriter, StateError> {
        let mut client = self.connect().await?;
        client
            .batch_execute(LOCK_SESSION_SETTINGS)
            .await
            .map_err(query_error("prepare the lock's session"))?;
        self.ensure_schema(&mut client).await?;
        let key = lock_key(instance);
        if !take_lock(&client, key, wait).await? {
            let holder = match lock_holder(&client, instance, key).await? {
                Some(holder) => holder.to_string(),
                // It let go between the attempt and the question.
                None => "another process, which has just released it".to_string(),
            };
            return Err(StateError::Locked {
                instance: instance.clone(),
                holder,
            });
        }
        client
            .execute(
                "INSERT INTO yagura_locks (service, env, session_pid, info)
                 VALUES ($1, $2, pg_backend_pid(), $3)
                 ON CONFLICT (service, env)
                 DO UPDATE SET session_pid = EXCLUDED.session_pid, info = EXCLUDED.info",
                &[&instance.service, &instance.env, &Json(info)],
            )
            .await
            .map_err(query_error("record who holds the lock"))?;
        let stored = load(&client, instance).await?;
        let mut writer = PostgresWriter {
            instance: instance.clone(),
            client,
            stored_serial: stored.document.as_ref().map(|d| d.serial),
        };
        // Steps a killed apply left in the journal are folded into the document first.
        if stored.steps > 0
            && let Some(state) = stored.state
        {
            writer.commit_now(&state).await?;
        }
        Ok(writer)
    }

    async fn force_unlock_now(
        &self,
        instance: &InstanceAddr,
    ) -> Result<Option<LockInfo>, StateError> {
        let client = self.shared_client().await?;
        let key = lock_key(instance);
        let Some(holder) = lock_holder(&client, instance, key).await? else {
            return Ok(None);
        };
        // The lock belongs to the holder's session: the only way to release it from
        // here is to end that session, which also stops whatever it still writes.
        client
            .query_one("SELECT pg_terminate_backend($1)", &[&holder.session_pid])
            .await
            .map_err(|e| {
                StateError::Backend(format!(
                    "cannot end PostgreSQL session {} that holds the lock of {instance}: {}",
                    holder.session_pid,
                    describe(&e)
                ))
            })?;
        let deadline = Instant::now() + TERMINATE_WAIT;
        loop {
            match lock_holder(&client, instance, key).await? {
                Some(now) if now.session_pid == holder.session_pid => {}
                _ => break,
            }
            if Instant::now() >= deadline {
                return Err(StateError::Backend(format!(
                    "PostgreSQL session {} was asked to end but still holds the lock of {instance}",
                    holder.session_pid
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Some(holder.info.unwrap_or_else(|| LockInfo {
            who: "an unnamed session of the PostgreSQL server".to_string(),
            pid: u32::try_from(holder.session_pid).unwrap_or(0),
            operation: "unknown operation".to_string(),
            since: "an unknown time".to_string(),
        })))
    }
}

impl Backend for PostgresBackend {
    fn read<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<StateDocument>> {
        Box::pin(self.read_now(instance))
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
            let client = self.shared_client().await?;
            let rows = match client
                .query(
                    "SELECT service, env FROM yagura_states WHERE document IS NOT NULL \
                     UNION SELECT service, env FROM yagura_journal ORDER BY 1, 2",
                    &[],
                )
                .await
            {
                Ok(rows) => rows,
                Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
                Err(e) => return Err(query_error("list the states")(e)),
            };
            Ok(rows
                .iter()
                .map(|row| InstanceAddr::new(row.get::<_, String>(0), row.get::<_, String>(1)))
                .collect())
        })
    }

    /// Ends the session that holds the instance's lock, if any: a lock dies with its
    /// session, so this is only needed for a holder that hangs without exiting.
    fn force_unlock<'a>(&'a self, instance: &'a InstanceAddr) -> StateFuture<'a, Option<LockInfo>> {
        Box::pin(self.force_unlock_now(instance))
    }
}

/// Parses a connection string and refuses what this backend must not connect to.
///
/// The string itself never appears in a message: it may hold a password.
fn parse_config(url: &str) -> Result<Config, String> {
    let mut config: Config = url.parse().map_err(|_| {
        "the postgres connection string is not valid; expected `postgres://user:password@host:port/database` or `host=... port=... dbname=...` (the string is not shown, as it may hold a password)".to_string()
    })?;
    if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
        return Err(
            "the postgres connection string requires TLS, which the postgres backend does not offer yet; connect to a server on this machine, or through a local proxy that encrypts (such as the Cloud SQL Auth Proxy), without `sslmode=require`"
                .to_string(),
        );
    }
    let hosts = config.get_hosts();
    let addresses = config.get_hostaddrs();
    if hosts.is_empty() && addresses.is_empty() {
        return Err("the postgres connection string names no host".to_string());
    }
    // With `hostaddr`, that is where the connection goes; `host` only names it.
    let local = if addresses.is_empty() {
        hosts.iter().all(|host| match host {
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip.to_canonical().is_loopback())
            }
            Host::Unix(_) => true,
        })
    } else {
        addresses.iter().all(|ip| ip.to_canonical().is_loopback())
    };
    if !local {
        return Err(format!(
            "the postgres backend connects without TLS, so it only connects to a server on this machine (localhost, a loopback address or a Unix socket), not to {}; reach a remote server through a local proxy that encrypts, such as the Cloud SQL Auth Proxy",
            server_label(&config)
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("yagura");
    }
    Ok(config)
}

/// Names the server for messages: hosts, port and database, never the user's password.
fn server_label(config: &Config) -> String {
    let mut hosts: Vec<String> = if config.get_hostaddrs().is_empty() {
        config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    } else {
        config
            .get_hostaddrs()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let ports = config.get_ports();
    for (n, host) in hosts.iter_mut().enumerate() {
        let port = ports.get(n).or(ports.first()).copied().unwrap_or(5432);
        host.push_str(&format!(":{port}"));
    }
    let mut label = hosts.join(",");
    if let Some(dbname) = config.get_dbname() {
        label.push_str(&format!(", database {dbname}"));
    }
    label
}

/// Describes a PostgreSQL error: the server's message and SQLSTATE, or what failed
/// on the way. The server's detail line is left out, as it can quote stored values.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

fn query_error(action: &str) -> impl Fn(tokio_postgres::Error) -> StateError + '_ {
    move |e| {
        StateError::Backend(format!(
            "cannot {action} in the postgres state backend: {}",
            describe(&e)
        ))
    }
}

/// The advisory lock key of an instance: 64 bits of a hash of its address, the same
/// in every build, so that all yaguras sharing a database agree on it.
fn lock_key(instance: &InstanceAddr) -> i64 {
    key_of(&format!(
        "yagura state lock\0{}\0{}",
        instance.service, instance.env
    ))
}

/// The advisory lock key that serialises creating the tables.
fn schema_lock_key() -> i64 {
    key_of("yagura state schema")
}

fn key_of(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Takes the advisory lock `key` on the session of `client`, waiting up to `wait`;
/// false when another session kept it.
async fn take_lock(client: &Client, key: i64, wait: Duration) -> Result<bool, StateError> {
    let failed = query_error("take the lock");
    let millis = wait.as_millis().min(i32::MAX as u128);
    if millis == 0 {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(&failed)?;
        return Ok(row.get(0));
    }
    // The server wakes a waiter as soon as the holder lets go; `lock_timeout` bounds
    // the wait (0 would mean no bound, hence the minimum of 1 ms above).
    client
        .batch_execute(&format!("SET lock_timeout = {millis}"))
        .await
        .map_err(&failed)?;
    let result = client.execute("SELECT pg_advisory_lock($1)", &[&key]).await;
    client
        .batch_execute("RESET lock_timeout")
        .await
        .map_err(&failed)?;
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Ok(false),
        Err(e) => Err(failed(e)),
    }
}

/// The session that holds an instance's lock, and what it said about itself.
struct Holder {
    session_pid: i32,
    info: Option<LockInfo>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.info {
            Some(info) => info.fmt(f),
            // Between taking the lock and recording who took it.
            None => write!(
                f,
                "another process (PostgreSQL session {})",
                self.session_pid
            ),
        }
    }
}

async fn lock_holder(
    client: &Client,
    instance: &InstanceAddr,
    key: i64,
) -> Result<Option<Holder>, StateError> {
    let row = client
        .query_opt(LOCK_HOLDER, &[&key])
        .await
        .map_err(query_error("find who holds the lock"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session_pid: i32 = row.get(0);
    // The row outlives its lock; only the one written by the holding session counts.
    let info = match client
        .query_opt(
            "SELECT info::text FROM yagura_locks WHERE service = $1 AND env = $2 AND session_pid = $3",
            &[&instance.service, &instance.env, &session_pid],
        )
        .await
    {
        Ok(row) => row.and_then(|row| serde_json::from_str::<LockInfo>(row.get(0)).ok()),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(query_error("find who holds the lock")(e)),
    };
    Ok(Some(Holder { session_pid, info }))
}

/// An instance's state as stored.
#[derive(Default)]
struct Stored {
    /// The document, without the journal.
    document: Option<StateDocument>,
    /// How many journal rows there are.
    steps: usize,
    /// The document with the journal's steps applied.
    state: Option<StateDocument>,
}

/// One journal row as `LOAD` returns it.
#[derive(Deserialize)]
struct JournalRow {
    lineage: String,
    base_serial: u64,
    entry: serde_json::Value,
}

/// Reads the document and replays its journal. A database without the tables holds
/// no state; nothing unreadable is ever rewritten, since every writer reads first.
async fn load(client: &Client, instance: &InstanceAddr) -> Result<Stored, StateError> {
    let row = match client
        .query_one(LOAD, &[&instance.service, &instance.env])
        .await
    {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
            let exists: bool = client
                .query_one("SELECT to_regclass('yagura_states') IS NOT NULL", &[])
                .await
                .map_err(query_error("read the state"))?
                .get(0);
            if exists {
                return Err(query_error("read the state")(e));
            }
            return Ok(Stored::default());
        }
        Err(e) => return Err(query_error("read the state")(e)),
    };
    let unreadable = |reason: String| {
        StateError::Backend(format!(
            "cannot read the state of {instance} in the postgres state backend: {reason} (it was left untouched)"
        ))
    };
    let document = match row.get::<_, Option<String>>(0) {
        Some(text) => {
            let document = StateDocument::from_json(&text).map_err(unreadable)?;
            if &document.instance != instance {
                return Err(unreadable(format!(
                    "its document belongs to instance {}",
                    document.instance
                )));
            }
            Some(document)
        }
        None => None,
    };
    let journal_text: String = row.get(1);
    let rows: Vec<JournalRow> = serde_json::from_str(&journal_text)
        .map_err(|e| unreadable(format!("its journal is not valid ({e})")))?;
    let steps = rows.len();
    let mut state = document.clone();
    for (n, row) in rows.into_iter().enumerate() {
        let (lineage, serial) = state.as_ref().map_or((row.lineage.as_str(), 0), |d| {
            (d.lineage.as_str(), d.serial)
        });
        if lineage != row.lineage {
            return Err(unreadable(format!(
                "journal step {} belongs to lineage {}, but the state has lineage {lineage}",
                n + 1,
                row.lineage
            )));
        }
        if row.base_serial < serial {
            // Written before the document it was folded into: already applied.
            continue;
        }
        let entry: JournalEntry = serde_json::from_value(row.entry)
            .map_err(|e| unreadable(format!("journal step {} is not valid ({e})", n + 1)))?;
        state
            .get_or_insert_with(|| StateDocument::new(instance.clone(), row.lineage))
            .apply_entry(entry);
    }
    Ok(Stored {
        document,
        steps,
        state,
    })
}

fn to_column(serial: u64) -> Result<i64, StateError> {
    i64::try_from(serial)
        .map_err(|_| StateError::Backend(format!("serial {serial} does not fit in PostgreSQL")))
}

/// A locked instance: the lock lives as long as `client`'s session.
struct PostgresWriter {
    instance: InstanceAddr,
    client: Client,
    /// The serial of the stored document when this writer last read or wrote it;
    /// `None` while there is none. A commit refuses to write over any other.
    stored_serial: Option<u64>,
}

impl StateWriter for PostgresWriter {
    fn read(&mut self) -> StateFuture<'_, Option<StateDocument>> {
        Box::pin(async move { Ok(load(&self.client, &self.instance).await?.state) })
    }

    fn record<'a>(
        &'a mut self,
        base: &'a StateDocument,
        entries: &'a [JournalEntry],
    ) -> StateFuture<'a, ()> {
        Box::pin(self.record_now(base, entries))
    }

    fn commit<'a>(&'a mut self, document: &'a StateDocument) -> StateFuture<'a, u64> {
        Box::pin(self.commit_now(document))
    }
}

impl PostgresWriter {
    async fn record_now(
        &mut self,
        base: &StateDocument,
        entries: &[JournalEntry],
    ) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let base_serial = to_column(self.stored_serial.unwrap_or(0))?;
        let entries: Vec<Json<&JournalEntry>> = entries.iter().map(Json).collect();
        // One statement is one transaction, committed (and durable) when it returns.
        self.client
            .execute(
                RECORD,
                &[
                    &self.instance.service,
                    &self.instance.env,
                    &base.lineage,
                    &base_serial,
                    &entries,
                ],
            )
            .await
            .map_err(query_error("record the journal"))?;
        Ok(())
    }

    async fn commit_now(&mut self, document: &StateDocument) -> Result<u64, StateError> {
        let failed = query_error("write the state");
        let (service, env) = (&self.instance.service, &self.instance.env);
        let transaction = self.client.transaction().await.map_err(&failed)?;
        let stored: Option<i64> = transaction
            .query_opt(
                "SELECT serial FROM yagura_states WHERE service = $1 AND env = $2 FOR UPDATE",
                &[service, env],
            )
            .await
            .map_err(&failed)?
            .map(|row| row.get(0));
        let expected = self.stored_serial.map(to_column).transpose()?;
        if stored != expected {
            // Only a writer that ignored the lock, or one whose lock was ended by
            // force-unlock, can get here.
            let describe_serial = |serial: Option<i64>| {
                serial.map_or("no state".to_string(), |s| format!("serial {s}"))
            };
            return Err(StateError::Backend(format!(
                "the state of {} was changed by another writer while this one held its lock (found {}, expected {}); nothing was overwritten",
                self.instance,
                describe_serial(stored),
                describe_serial(expected)
            )));
        }
        let mut next = document.clone();
        next.serial = self.stored_serial.unwrap_or(0).max(document.serial) + 1;
        let serial = to_column(next.serial)?;
        if stored.is_some() {
            // `backup = document` reads the row as it was before this update.
            transaction
                .execute(
                    "UPDATE yagura_states
                     SET lineage = $3, serial = $4, backup = document, document = $5, updated_at = now()
                     WHERE service = $1 AND env = $2",
                    &[service, env, &next.lineage, &serial, &Json(&next)],
                )
                .await
                .map_err(&failed)?;
        } else {
            transaction
                .execute(
                    "INSERT INTO yagura_states (service, env, lineage, serial, document)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[service, env, &next.lineage, &serial, &Json(&next)],
                )
                .await
                .map_err(&failed)?;
        }
        transaction
            .execute(
                "DELETE FROM yagura_journal WHERE service = $1 AND env = $2",
                &[service, env],
            )
            .await
            .map_err(&failed)?;
        transaction.commit().await.map_err(&failed)?;
        self.stored_serial = Some(next.serial);
        Ok(next.serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_refused(url: &str, expected: &str) {
        let err = match parse_config(url) {
            Err(e) => e,
            Ok(_) => panic!("{url} should be refused"),
        };
        assert!(
            err.contains(expected),
            "{err:?} should mention {expected:?}"
        );
        assert!(!err.contains("hunter2"), "{err:?} shows the password");
    }

    fn check_accepted(url: &str) {
        if let Err(e) = parse_config(url) {
            panic!("{url} should be accepted: {e}");
        }
    }

    #[test]
    fn only_servers_on_this_machine_are_accepted() {
        check_accepted("postgres://app:hunter2@127.0.0.1:5432/yagura");
        check_accepted("postgresql://app:hunter2@localhost/yagura");
        check_accepted("postgres://app:hunter2@[::1]:6432/yagura");
        check_accepted("host=/var/run/postgresql dbname=yagura user=app");
        check_accepted("host=db.internal hostaddr=127.0.0.1 dbname=yagura password=hunter2");
        check_refused(
            "postgres://app:hunter2@db.example.com/yagura",
            "not to db.example.com:5432, database yagura",
        );
        check_refused(
            "host=10.0.0.5 port=6543 password=hunter2",
            "only connects to a server on this machine",
        );
        check_refused(
            "postgres://app:hunter2@localhost,db.example.com/yagura",
            "db.example.com",
        );
        check_refused(
            "postgres://app:hunter2@localhost/yagura?sslmode=require",
            "requires TLS",
        );
    }

    #[test]
    fn a_broken_connection_string_is_not_shown() {
        check_refused("postgres://app:hunter2@localhost:notaport/db", "not valid");
        check_refused("host=localhost password=hunter2 bogus", "not valid");
        check_refused("dbname=yagura password=hunter2", "names no host");
    }

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        let a = lock_key(&InstanceAddr::new("payment", "production"));
        assert_eq!(a, lock_key(&InstanceAddr::new("payment", "production")));
        assert_ne!(a, lock_key(&InstanceAddr::new("payment", "staging")));
        assert_ne!(a, lock_key(&InstanceAddr::new("paymentp", "roduction")));
        assert_ne!(a, schema_lock_key());
    }
}
