//! The Spanner providers against the Cloud Spanner emulator that ships with
//! google-cloud-cli. In CI a missing emulator fails the test; elsewhere it is
//! reported and the test returns.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{Value as Json, json};
use yagura::lang::Value;
use yagura::providers::Provider;
use yagura::providers::gcp::{
    ClientOptions, DefaultCredentials, Endpoints, GcpClient, GcpProvider,
};

/// The emulator's gateway and its gRPC child, stopped together when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The gateway starts emulator_main as a child: stop the whole process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn emulator_dir() -> PathBuf {
    std::env::var_os("YAGURA_SPANNER_EMULATOR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator"))
}

fn start(rt: &tokio::runtime::Runtime) -> Option<Emulator> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gateway = emulator_dir().join("gateway_main");
    if !gateway.is_file() {
        assert!(
            std::env::var("CI").is_err(),
            "the Cloud Spanner emulator is missing at {} (install google-cloud-cli's cloud-spanner-emulator component, or set YAGURA_SPANNER_EMULATOR_DIR)",
            gateway.display()
        );
        eprintln!(
            "skipping: no Cloud Spanner emulator at {}",
            gateway.display()
        );
        return None;
    }
    let (grpc, http) = (free_port(), free_port());
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(&gateway)
            .args([
                "--hostname",
                "127.0.0.1",
                "--grpc_port",
                &grpc.to_string(),
                "--http_port",
                &http.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("the emulator starts")
    };
    let emulator = Emulator {
        child,
        url: format!("http://127.0.0.1:{http}/"),
    };
    // Ready when a real API call answers (which also proves the gRPC backend is up).
    let probe = format!("{}v1/projects/p/instanceConfigs", emulator.url);
    let ready = rt.block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(r) = http.get(&probe).send().await
                && r.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    });
    assert!(ready, "the Spanner emulator did not become ready");
    Some(emulator)
}

fn provider(url: &str) -> GcpProvider {
    let mut endpoints = Endpoints::default();
    endpoints.set("spanner", url).expect("a loopback endpoint");
    let client = GcpClient::new(
        endpoints,
        Arc::new(DefaultCredentials::default()),
        ClientOptions::default(),
    )
    .expect("a client");
    GcpProvider::new(Arc::new(client))
}

#[test]
fn spanner_instance_and_database_lifecycle() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let Some(emulator) = start(&rt) else { return };
    let provider = provider(&emulator.url);

    let instance_plan = Value::from_json(&json!({
        "project": "acme-pay-dev", "name": "main", "config": "emulator-config", "display_name": "payment main",
        "num_nodes": null, "processing_units": 100, "labels": {"team": "payments"}, "force_destroy": false,
    }));
    let instance = rt
        .block_on(provider.create("google_spanner_instance", &instance_plan))
        .expect("creates the instance");
    assert_eq!(instance.attributes["processing_units"], 100);
    assert_eq!(instance.attributes["num_nodes"], Json::Null);
    assert_eq!(instance.attributes["config"], "emulator-config");
    let read = rt
        .block_on(provider.read("google_spanner_instance", &instance))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, instance, "a fresh instance shows no drift");
    let imported = rt
        .block_on(provider.import("google_spanner_instance", "acme-pay-dev/main"))
        .expect("imports");
    assert_eq!(imported.attributes["display_name"], "payment main");

    let ddl = ["CREATE TABLE Payments (Id STRING(36) NOT NULL, Amount INT64) PRIMARY KEY (Id)"];
    let db_plan = |ddl: &[&str], protected: bool| {
        Value::from_json(&json!({
            "project": "acme-pay-dev", "instance": "main", "name": "payments", "ddl": ddl,
            "database_dialect": null, "version_retention_period": null, "deletion_protection": protected,
        }))
    };
    let database = rt
        .block_on(provider.create("google_spanner_database", &db_plan(&ddl, true)))
        .expect("creates the database");
    assert_eq!(database.attributes["state"], "READY");
    let read = rt
        .block_on(provider.read("google_spanner_database", &database))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, database, "the applied DDL is not drift");

    // Appending a statement applies it with updateDdl.
    let appended = [ddl[0], "CREATE INDEX PaymentsByAmount ON Payments (Amount)"];
    let updated = rt
        .block_on(provider.update(
            "google_spanner_database",
            &database,
            &db_plan(&appended, true),
        ))
        .expect("appends DDL");
    let live = rt
        .block_on(async {
            reqwest::get(format!(
                "{}v1/projects/acme-pay-dev/instances/main/databases/payments/ddl",
                emulator.url
            ))
            .await?
            .json::<Json>()
            .await
        })
        .expect("reads the DDL");
    assert_eq!(
        live["statements"].as_array().map(Vec::len),
        Some(2),
        "{live}"
    );
    // Applying the same update again is recognised by its operation id, not applied twice.
    rt.block_on(provider.update(
        "google_spanner_database",
        &database,
        &db_plan(&appended, true),
    ))
    .expect("a replayed update is harmless");
    // Editing an applied statement is refused.
    let edited = ["CREATE TABLE Payments (Id STRING(64) NOT NULL) PRIMARY KEY (Id)"];
    assert!(
        rt.block_on(provider.update("google_spanner_database", &updated, &db_plan(&edited, true)))
            .is_err()
    );

    // Deletion protection refuses; without it the database goes.
    let refused = rt
        .block_on(provider.delete("google_spanner_database", &updated))
        .expect_err("protected");
    assert!(
        refused.to_string().contains("deletion_protection"),
        "{refused}"
    );
    let unprotected = rt
        .block_on(provider.update(
            "google_spanner_database",
            &updated,
            &db_plan(&appended, false),
        ))
        .expect("turns protection off");
    rt.block_on(provider.delete("google_spanner_database", &unprotected))
        .expect("drops the database");
    rt.block_on(provider.delete("google_spanner_instance", &instance))
        .expect("deletes the instance");
}
