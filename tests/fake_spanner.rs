//! The Spanner providers against `fake-gcp`, for what the Spanner emulator cannot
//! show (tests/spanner_emulator.rs covers the rest): instance updates, changes made
//! outside yagura, Google's 404s, drop protection, and failed operations. A few
//! checks talk REST directly to pin the fake's shapes where the emulator differs.

use reqwest::Method;
use serde_json::{Value as Json, json};
use yagura::lang::Value;

mod support;
use support::{Fake, planned, runtime};
use yagura::providers::gcp::{GcpClient, GcpError, GcpProvider};
use yagura::providers::{Provider, RemoteObject};

const PROJECT: &str = "acme-pay-dev";
const INSTANCE: &str = "v1/projects/acme-pay-dev/instances/main";
const DATABASE: &str = "v1/projects/acme-pay-dev/instances/main/databases/payments";

const TABLE: &str = "CREATE TABLE Payments (Id STRING(36) NOT NULL, Amount INT64) PRIMARY KEY (Id)";
const INDEX: &str = "CREATE INDEX PaymentsByAmount ON Payments (Amount)";
const AUDIT: &str = "CREATE TABLE Audit (Id INT64 NOT NULL) PRIMARY KEY (Id)";

/// Starts fake-gcp with the project the tests use.
fn start(args: &[&str]) -> Fake {
    let seed = json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": PROJECT, "billing_account": "01ABCD-234567-89EFGH",
                      "services": ["spanner.googleapis.com"]}],
    });
    Fake::start_seeded(&seed, args)
}

fn instance_plan(
    display_name: &str,
    num_nodes: Json,
    processing_units: Json,
    labels: Json,
) -> Value {
    planned(json!({
        "project": PROJECT, "name": "main", "config": "regional-us-central1",
        "display_name": display_name, "num_nodes": num_nodes, "processing_units": processing_units,
        "labels": labels, "force_destroy": false,
    }))
}

fn database_plan(ddl: &[&str], deletion_protection: bool, retention: Json) -> Value {
    planned(json!({
        "project": PROJECT, "instance": "main", "name": "payments", "ddl": ddl,
        "database_dialect": null, "version_retention_period": retention,
        "deletion_protection": deletion_protection,
    }))
}

/// Calls the fake's REST API directly, as someone working outside yagura would.
fn call(
    rt: &tokio::runtime::Runtime,
    client: &GcpClient,
    method: Method,
    path: &str,
    body: Option<Json>,
) -> Result<Json, Box<GcpError>> {
    rt.block_on(client.call("spanner", method, path, body.as_ref()))
        .map_err(Box::new)
}

/// Makes a change through REST and waits for its operation.
fn change_outside(
    rt: &tokio::runtime::Runtime,
    client: &GcpClient,
    method: Method,
    path: &str,
    body: Json,
) -> Json {
    let operation = call(rt, client, method, path, Some(body)).expect("the fake takes the change");
    rt.block_on(client.wait_operation("spanner", "v1", operation))
        .expect("the change completes")
}

fn live_ddl(rt: &tokio::runtime::Runtime, client: &GcpClient) -> Json {
    call(rt, client, Method::GET, &format!("{DATABASE}/ddl"), None).expect("reads the DDL")["statements"]
        .clone()
}

fn read(
    rt: &tokio::runtime::Runtime,
    provider: &GcpProvider,
    type_name: &str,
    stored: &RemoteObject,
) -> Option<RemoteObject> {
    rt.block_on(provider.read(type_name, stored))
        .expect("reads")
}

#[test]
fn instance_update_drift_import_and_delete() {
    let fake = start(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let spanner_instance = "google_spanner_instance";

    let created = rt
        .block_on(provider.create(
            spanner_instance,
            &instance_plan(
                "payment main",
                Json::Null,
                json!(100),
                json!({"team": "payments"}),
            ),
        ))
        .expect("creates the instance");
    assert_eq!(created.attributes["state"], "READY");
    assert_eq!(created.attributes["config"], "regional-us-central1");
    assert_eq!(created.attributes["processing_units"], 100);
    assert_eq!(created.attributes["num_nodes"], Json::Null);
    assert_eq!(created.attributes["labels"], json!({"team": "payments"}));
    assert_eq!(
        read(&rt, &provider, spanner_instance, &created),
        Some(created.clone()),
        "a fresh instance shows no drift"
    );

    // Capacity, display name and labels change in place.
    let updated = rt
        .block_on(provider.update(
            spanner_instance,
            &created,
            &instance_plan(
                "payments primary",
                Json::Null,
                json!(300),
                json!({"team": "payments", "tier": "1"}),
            ),
        ))
        .expect("updates in place");
    assert_eq!(updated.attributes["processing_units"], 300);
    assert_eq!(updated.attributes["display_name"], "payments primary");
    assert_eq!(
        updated.attributes["labels"],
        json!({"team": "payments", "tier": "1"})
    );
    assert_eq!(updated.provider_id, created.provider_id);
    assert_eq!(
        read(&rt, &provider, spanner_instance, &updated),
        Some(updated.clone())
    );

    // Someone scales the instance and relabels it by hand; the next read sees it.
    change_outside(
        &rt,
        &client,
        Method::PATCH,
        INSTANCE,
        json!({"instance": {"name": "projects/acme-pay-dev/instances/main", "processingUnits": 2000,
                            "labels": {"team": "hijacked"}},
               "fieldMask": "processingUnits,labels"}),
    );
    let drifted = read(&rt, &provider, spanner_instance, &updated).expect("exists");
    assert_eq!(drifted.attributes["processing_units"], 2000);
    assert_eq!(drifted.attributes["labels"], json!({"team": "hijacked"}));
    assert_eq!(drifted.attributes["display_name"], "payments primary");

    // Import states whole nodes as nodes.
    let imported = rt
        .block_on(provider.import(spanner_instance, "acme-pay-dev/main"))
        .expect("imports");
    assert_eq!(imported.attributes["num_nodes"], 2);
    assert_eq!(imported.attributes["processing_units"], Json::Null);
    assert_eq!(imported.attributes["display_name"], "payments primary");

    // Switching the configuration from processing units to nodes reports nodes.
    let in_nodes = rt
        .block_on(provider.update(
            spanner_instance,
            &drifted,
            &instance_plan(
                "payments primary",
                json!(1),
                Json::Null,
                json!({"team": "payments"}),
            ),
        ))
        .expect("scales to one node");
    assert_eq!(in_nodes.attributes["num_nodes"], 1);
    assert_eq!(in_nodes.attributes["processing_units"], Json::Null);
    assert_eq!(
        read(&rt, &provider, spanner_instance, &in_nodes),
        Some(in_nodes.clone())
    );

    rt.block_on(provider.delete(spanner_instance, &in_nodes))
        .expect("deletes");
    assert_eq!(read(&rt, &provider, spanner_instance, &in_nodes), None);
    rt.block_on(provider.delete(spanner_instance, &in_nodes))
        .expect("deleting what is gone is not an error");
}

#[test]
fn instance_create_refuses_unknown_configs_and_adopts_only_its_own() {
    let fake = start(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let mut plan = json!({
        "project": PROJECT, "name": "main", "config": "regional-mars1", "display_name": "payment main",
        "num_nodes": 1, "processing_units": null, "labels": null, "force_destroy": false,
    });
    let refused = rt
        .block_on(provider.create("google_spanner_instance", &planned(plan.clone())))
        .expect_err("no such config");
    let message = refused.to_string();
    assert!(
        message.contains("HTTP 400") && message.contains("INVALID_ARGUMENT"),
        "{message}"
    );

    plan["config"] = json!("nam3");
    let first = rt
        .block_on(provider.create("google_spanner_instance", &planned(plan.clone())))
        .expect("creates");
    assert_eq!(first.attributes["num_nodes"], 1);
    // The same create again, as after a lost response: the instance is ours.
    let again = rt
        .block_on(provider.create("google_spanner_instance", &planned(plan.clone())))
        .expect("adopts");
    assert_eq!(again, first);
    // A different request for the same name is not ours.
    plan["display_name"] = json!("someone else");
    let other = rt
        .block_on(provider.create("google_spanner_instance", &planned(plan)))
        .expect_err("not adopted");
    assert!(
        other.to_string().contains("not the one requested"),
        "{other}"
    );
}

#[test]
fn database_ddl_drift_and_drop_protection() {
    let fake = start(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let spanner_database = "google_spanner_database";
    let instance = rt
        .block_on(provider.create(
            "google_spanner_instance",
            &instance_plan("payment main", Json::Null, json!(100), Json::Null),
        ))
        .expect("creates the instance");

    let database = rt
        .block_on(provider.create(spanner_database, &database_plan(&[TABLE], true, Json::Null)))
        .expect("creates the database");
    assert_eq!(database.attributes["state"], "READY");
    assert_eq!(database.attributes["ddl"], json!([TABLE]));
    assert_eq!(
        read(&rt, &provider, spanner_database, &database),
        Some(database.clone()),
        "the applied DDL and Spanner's default retention are not drift"
    );

    // An appended statement is applied with updateDdl, once even when replayed.
    let appended = rt
        .block_on(provider.update(
            spanner_database,
            &database,
            &database_plan(&[TABLE, INDEX], true, Json::Null),
        ))
        .expect("appends DDL");
    assert_eq!(appended.attributes["ddl"], json!([TABLE, INDEX]));
    assert_eq!(live_ddl(&rt, &client), json!([TABLE, INDEX]));
    assert_eq!(
        read(&rt, &provider, spanner_database, &appended),
        Some(appended.clone())
    );
    rt.block_on(provider.update(
        spanner_database,
        &database,
        &database_plan(&[TABLE, INDEX], true, Json::Null),
    ))
    .expect("a replayed update is recognised by its operation id");
    assert_eq!(live_ddl(&rt, &client), json!([TABLE, INDEX]));

    // A retention period is DDL too; the ALTER DATABASE it adds is not drift.
    let retained = rt
        .block_on(provider.update(
            spanner_database,
            &appended,
            &database_plan(&[TABLE, INDEX], true, json!("3d")),
        ))
        .expect("sets the retention period");
    let live = call(&rt, &client, Method::GET, DATABASE, None).expect("reads the database");
    assert_eq!(live["versionRetentionPeriod"], "3d");
    assert_eq!(
        read(&rt, &provider, spanner_database, &retained),
        Some(retained.clone())
    );

    // A table created outside yagura shows on read, and so does an index dropped outside.
    change_outside(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}/ddl"),
        json!({"statements": [AUDIT], "operationId": "audit_table"}),
    );
    let drifted = read(&rt, &provider, spanner_database, &retained).expect("exists");
    assert_eq!(drifted.attributes["ddl"], json!([TABLE, INDEX, AUDIT]));
    change_outside(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}/ddl"),
        json!({"statements": ["DROP INDEX PaymentsByAmount"]}),
    );
    let drifted = read(&rt, &provider, spanner_database, &retained).expect("exists");
    assert_eq!(drifted.attributes["ddl"], json!([TABLE, AUDIT]));

    // Drop protection set outside yagura: Spanner refuses to drop the database or
    // its instance, and the provider passes Google's reason on.
    change_outside(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}?updateMask=enableDropProtection"),
        json!({"enableDropProtection": true}),
    );
    let unprotected = rt
        .block_on(provider.update(
            spanner_database,
            &retained,
            &database_plan(&[TABLE, INDEX], false, json!("3d")),
        ))
        .expect("turns yagura's deletion protection off");
    let refused = rt
        .block_on(provider.delete(spanner_database, &unprotected))
        .expect_err("drop protection refuses");
    let message = refused.to_string();
    assert!(
        message.contains("HTTP 400")
            && message.contains("FAILED_PRECONDITION")
            && message.contains("`enable_drop_protection` setting is currently enabled"),
        "{message}"
    );
    let refused = rt
        .block_on(provider.delete("google_spanner_instance", &instance))
        .expect_err("the instance holds a protected database");
    assert!(
        refused
            .to_string()
            .contains("databases with drop protection enabled"),
        "{refused}"
    );

    change_outside(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}?updateMask=enableDropProtection"),
        json!({"enableDropProtection": false}),
    );
    rt.block_on(provider.delete(spanner_database, &unprotected))
        .expect("drops the database");
    assert_eq!(read(&rt, &provider, spanner_database, &unprotected), None);
    rt.block_on(provider.delete("google_spanner_instance", &instance))
        .expect("deletes the instance");
}

#[test]
fn a_failed_ddl_operation_reports_spanner_s_message_and_keeps_earlier_statements() {
    let fake = start(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    rt.block_on(provider.create(
        "google_spanner_instance",
        &instance_plan("payment main", Json::Null, json!(100), Json::Null),
    ))
    .expect("creates the instance");
    let database = rt
        .block_on(provider.create(
            "google_spanner_database",
            &database_plan(&[TABLE], false, Json::Null),
        ))
        .expect("creates the database");
    let duplicate = "CREATE TABLE payments (Id INT64 NOT NULL) PRIMARY KEY (Id)";
    let failed = rt
        .block_on(provider.update(
            "google_spanner_database",
            &database,
            &database_plan(&[TABLE, INDEX, duplicate], false, Json::Null),
        ))
        .expect_err("the duplicate table fails the operation");
    assert!(
        failed
            .to_string()
            .contains("Duplicate name in schema: payments."),
        "{failed}"
    );
    // Statements before the failing one stay applied, as on Spanner.
    assert_eq!(live_ddl(&rt, &client), json!([TABLE, INDEX]));
}

#[test]
fn a_failed_create_surfaces_google_s_message_and_leaves_nothing() {
    let fake = start(&["--failing-operations", "1"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let failed = rt
        .block_on(provider.create(
            "google_spanner_instance",
            &instance_plan("payment main", json!(1), Json::Null, Json::Null),
        ))
        .expect_err("the operation fails");
    assert!(
        failed.to_string().contains("Internal error encountered."),
        "{failed}"
    );
    let gone = call(&rt, &client, Method::GET, INSTANCE, None).expect_err("nothing was created");
    assert_eq!(gone.status, Some(404), "{gone}");
    let imported = rt
        .block_on(provider.import("google_spanner_instance", "acme-pay-dev/main"))
        .expect_err("nothing to import");
    assert!(
        imported.to_string().contains("does not exist"),
        "{imported}"
    );
}

#[test]
fn google_shapes_where_the_emulator_differs() {
    let fake = start(&[]);
    let client = fake.client();
    let rt = runtime();

    // A missing instance is a 404 in Google's envelope, for reads and deletes alike.
    for method in [Method::GET, Method::DELETE] {
        let missing = call(
            &rt,
            &client,
            method,
            "v1/projects/acme-pay-dev/instances/nope",
            None,
        )
        .expect_err("no such instance");
        assert_eq!(missing.status, Some(404));
        assert_eq!(missing.status_name.as_deref(), Some("NOT_FOUND"));
        assert_eq!(
            missing.message,
            "Instance not found: projects/acme-pay-dev/instances/nope"
        );
    }

    // A fixed list of configurations; others do not exist.
    let configs = call(
        &rt,
        &client,
        Method::GET,
        "v1/projects/acme-pay-dev/instanceConfigs",
        None,
    )
    .expect("lists configs");
    let names: Vec<&str> = configs["instanceConfigs"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|config| config["name"].as_str())
        .collect();
    for config in ["regional-us-central1", "regional-europe-west1", "nam3"] {
        assert!(
            names.contains(&format!("projects/acme-pay-dev/instanceConfigs/{config}").as_str()),
            "{names:?}"
        );
    }
    let unknown = call(
        &rt,
        &client,
        Method::GET,
        "v1/projects/acme-pay-dev/instanceConfigs/regional-mars1",
        None,
    )
    .expect_err("unknown config");
    assert_eq!(unknown.status, Some(404));

    // Operations start pending and end with a typed response.
    let both = call(
        &rt,
        &client,
        Method::POST,
        "v1/projects/acme-pay-dev/instances",
        Some(json!({"instanceId": "main", "instance": {
            "config": "projects/acme-pay-dev/instanceConfigs/nam3", "displayName": "payment main",
            "nodeCount": 1, "processingUnits": 1000}})),
    )
    .expect_err("nodes or processing units, not both");
    assert_eq!(both.status_name.as_deref(), Some("INVALID_ARGUMENT"));
    let operation = call(
        &rt,
        &client,
        Method::POST,
        "v1/projects/acme-pay-dev/instances",
        Some(json!({"instanceId": "main", "instance": {
            "config": "projects/acme-pay-dev/instanceConfigs/nam3", "displayName": "payment main",
            "nodeCount": "2"}})),
    )
    .expect("creates");
    assert_eq!(operation["done"], Json::Null, "{operation}");
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.spanner.admin.instance.v1.CreateInstanceMetadata"
    );
    assert_eq!(operation["metadata"]["instance"]["state"], "CREATING");
    let name = operation["name"].as_str().expect("a name").to_string();
    assert!(
        name.starts_with("projects/acme-pay-dev/instances/main/operations/"),
        "{name}"
    );
    let instance = rt
        .block_on(client.wait_operation("spanner", "v1", operation))
        .expect("the create completes");
    assert_eq!(
        instance["@type"],
        "type.googleapis.com/google.spanner.admin.instance.v1.Instance"
    );
    assert_eq!(instance["state"], "READY");
    assert_eq!(
        (
            instance["nodeCount"].clone(),
            instance["processingUnits"].clone()
        ),
        (json!(2), json!(2000))
    );
    let polled = call(&rt, &client, Method::GET, &format!("v1/{name}"), None)
        .expect("the operation stays readable");
    assert_eq!(polled["done"], true);

    let operation = call(
        &rt,
        &client,
        Method::POST,
        &format!("{INSTANCE}/databases"),
        Some(json!({"createStatement": "CREATE DATABASE `payments`", "extraStatements": [TABLE]})),
    )
    .expect("creates a database");
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.spanner.admin.database.v1.CreateDatabaseMetadata"
    );
    let database = rt
        .block_on(client.wait_operation("spanner", "v1", operation))
        .expect("the create completes");
    assert_eq!(
        database["@type"],
        "type.googleapis.com/google.spanner.admin.database.v1.Database"
    );
    assert_eq!(database["databaseDialect"], "GOOGLE_STANDARD_SQL");
    assert_eq!(database["versionRetentionPeriod"], "1h");
    assert_eq!(live_ddl(&rt, &client), json!([TABLE]));

    // A DDL operation is named after its id, and an id is used once.
    let ddl = json!({"statements": [INDEX], "operationId": "add_index"});
    let operation = call(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}/ddl"),
        Some(ddl.clone()),
    )
    .expect("updates the DDL");
    assert_eq!(
        operation["name"],
        "projects/acme-pay-dev/instances/main/databases/payments/operations/add_index"
    );
    assert_eq!(
        operation["metadata"]["@type"],
        "type.googleapis.com/google.spanner.admin.database.v1.UpdateDatabaseDdlMetadata"
    );
    let response = rt
        .block_on(client.wait_operation("spanner", "v1", operation))
        .expect("the update completes");
    assert_eq!(
        response["@type"],
        "type.googleapis.com/google.protobuf.Empty"
    );
    let again = call(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}/ddl"),
        Some(ddl),
    )
    .expect_err("the id is taken");
    assert_eq!(again.status, Some(409));
    assert!(again.is_already_exists(), "{again}");

    // Unknown fields are refused, as Google's front end does.
    let bogus = call(
        &rt,
        &client,
        Method::PATCH,
        &format!("{DATABASE}/ddl"),
        Some(json!({"statements": [AUDIT], "bogus": 1})),
    )
    .expect_err("unknown field");
    assert_eq!(bogus.status, Some(400));

    let missing = call(
        &rt,
        &client,
        Method::DELETE,
        "v1/projects/acme-pay-dev/instances/main/databases/nope",
        None,
    )
    .expect_err("no such database");
    assert_eq!(missing.status, Some(404));
    assert_eq!(
        missing.message,
        "Database not found: projects/acme-pay-dev/instances/main/databases/nope"
    );
}
