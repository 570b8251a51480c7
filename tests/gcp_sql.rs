//! The Cloud SQL providers against `fake-gcp`: instances, databases and users
//! created, read back with no drift, updated in place, imported and deleted;
//! changes made outside yagura; deletion protection; failed operations; lost
//! creates adopted only when they match; creates under injected faults.

use reqwest::Method;
use serde_json::{Map, Value as Json, json};
use yagura::lang::Value;

mod support;
use support::{Fake, planned, runtime};
use yagura::providers::gcp::{GcpClient, GcpProvider};
use yagura::providers::{Provider, ProviderError, RemoteObject};

const PROJECT: &str = "acme-sql-dev";
const INSTANCE: &str = "google_sql_database_instance";
const DATABASE: &str = "google_sql_database";
const USER: &str = "google_sql_user";

/// A fake-gcp seeded with `PROJECT`, the Cloud SQL Admin API enabled.
fn start_fake(args: &[&str]) -> Fake {
    let seed = json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": PROJECT, "services": ["sqladmin.googleapis.com"]}],
    });
    Fake::start_seeded(&seed, args)
}

/// What an instance's `settings` block sets.
struct Settings {
    tier: &'static str,
    disk_size: i64,
    labels: Json,
    flags: Json,
    backup_start: &'static str,
}

impl Settings {
    fn small() -> Settings {
        Settings {
            tier: "db-custom-1-3840",
            disk_size: 10,
            labels: json!({"team": "payments"}),
            flags: json!([{"name": "log_lock_waits", "value": "on"}]),
            backup_start: "03:00",
        }
    }
}

/// Converts the JSON arrays of nested blocks to lists, as the planner builds them.
fn blocks_as_lists(value: Value) -> Value {
    match value {
        Value::Tuple(items) => Value::List(items.into_iter().map(blocks_as_lists).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if k.ends_with("labels") {
                        v
                    } else {
                        blocks_as_lists(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Marks an attribute sensitive, as the planner does for passwords.
fn mark_sensitive(plan: Value, name: &str) -> Value {
    match plan {
        Value::Object(mut map) => {
            if let Some(value) = map.remove(name) {
                let value = if value.is_null() {
                    value
                } else {
                    value.sensitive()
                };
                map.insert(name.to_string(), value);
            }
            Value::Object(map)
        }
        other => other,
    }
}

fn instance_plan(
    name: &str,
    version: &str,
    settings: &Settings,
    deletion_protection: bool,
    root_password: Option<&str>,
) -> Value {
    let plan = planned(json!({
        "project": PROJECT, "name": name, "database_version": version, "region": "europe-west1",
        "deletion_protection": deletion_protection, "root_password": root_password,
        "settings": [{
            "tier": settings.tier, "edition": "ENTERPRISE", "availability_type": "ZONAL",
            "disk_size": settings.disk_size, "disk_type": "PD_SSD", "user_labels": settings.labels,
            "backup_configuration": [{"enabled": true, "start_time": settings.backup_start,
                                      "point_in_time_recovery_enabled": true}],
            "ip_configuration": [{"ipv4_enabled": true, "private_network": null,
                                  "ssl_mode": "ENCRYPTED_ONLY"}],
            "database_flags": settings.flags,
        }],
        "connection_name": null, "self_link": null, "public_ip_address": null,
        "private_ip_address": null, "id": null,
    }));
    mark_sensitive(blocks_as_lists(plan), "root_password")
}

fn database_plan(instance: &str, name: &str, deletion_policy: &str) -> Value {
    planned(json!({
        "project": PROJECT, "instance": instance, "name": name, "charset": "UTF8",
        "collation": "en_US.UTF8", "deletion_policy": deletion_policy, "id": null,
    }))
}

fn user_plan(instance: &str, name: &str, host: Option<&str>, password: &str) -> Value {
    mark_sensitive(
        planned(json!({
            "project": PROJECT, "instance": instance, "name": name, "host": host,
            "type": "BUILT_IN", "password": password, "id": null,
        })),
        "password",
    )
}

/// Sets one top-level attribute of a planned value.
fn with(plan: Value, name: &str, value: Value) -> Value {
    match plan {
        Value::Object(mut map) => {
            map.insert(name.to_string(), value);
            Value::Object(map)
        }
        other => other,
    }
}

/// Attributes without one of them (a password an import cannot know).
fn without(object: &RemoteObject, name: &str) -> Map<String, Json> {
    let mut attributes = object.attributes.clone();
    attributes.remove(name);
    attributes
}

fn settings_of(object: &RemoteObject) -> &Json {
    &object.attributes["settings"][0]
}

/// Creates an instance without deletion protection, for tests about what lives on it.
fn create_instance(
    rt: &tokio::runtime::Runtime,
    provider: &GcpProvider,
    name: &str,
    version: &str,
) {
    rt.block_on(provider.create(
        INSTANCE,
        &instance_plan(name, version, &Settings::small(), false, None),
    ))
    .unwrap_or_else(|e| panic!("creates instance {name}: {e}"));
}

/// Polls a `sql#operation` until it is done, for changes made straight through the API.
async fn wait_done(client: &GcpClient, operation: Json) -> Json {
    let name = operation["name"]
        .as_str()
        .expect("an operation name")
        .to_string();
    let mut operation = operation;
    for _ in 0..2000 {
        if operation["status"] == "DONE" {
            return operation;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        operation = client
            .call(
                "sqladmin",
                Method::GET,
                &format!("v1/projects/{PROJECT}/operations/{name}"),
                None,
            )
            .await
            .expect("reads the operation");
    }
    panic!("operation {name} never finished");
}

/// Makes a call that returns a `sql#operation` and waits for it, outside yagura.
async fn call_outside(client: &GcpClient, method: Method, path: &str, body: Option<Json>) -> Json {
    let operation = client
        .call("sqladmin", method, path, body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("the fake takes {path}: {e}"));
    wait_done(client, operation).await
}

/// The types of the operations run on an instance, oldest first.
async fn operation_types(client: &GcpClient, instance: &str) -> Vec<String> {
    let list = client
        .call(
            "sqladmin",
            Method::GET,
            &format!("v1/projects/{PROJECT}/operations?instance={instance}"),
            None,
        )
        .await
        .expect("lists operations");
    let mut types: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|op| op["operationType"].as_str().map(str::to_string))
        .collect();
    types.reverse();
    types
}

fn count(types: &[String], wanted: &str) -> usize {
    types.iter().filter(|t| *t == wanted).count()
}

#[test]
fn instance_lifecycle() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();

    let plan = instance_plan(
        "pay-db",
        "POSTGRES_15",
        &Settings::small(),
        true,
        Some("r00t-first"),
    );
    let created = rt
        .block_on(provider.create(INSTANCE, &plan))
        .expect("creates the instance");
    let attrs = &created.attributes;
    assert_eq!(attrs["id"], "pay-db");
    assert_eq!(attrs["connection_name"], "acme-sql-dev:europe-west1:pay-db");
    assert_eq!(
        attrs["self_link"],
        "https://sqladmin.googleapis.com/v1/projects/acme-sql-dev/instances/pay-db"
    );
    assert!(
        attrs["public_ip_address"].is_string(),
        "{}",
        attrs["public_ip_address"]
    );
    assert_eq!(attrs["private_ip_address"], Json::Null);
    assert_eq!(attrs["deletion_protection"], true);
    assert!(
        attrs["root_password"] == "r00t-first",
        "the root password is kept"
    );
    assert_eq!(
        settings_of(&created),
        &json!({
            "tier": "db-custom-1-3840", "edition": "ENTERPRISE", "availability_type": "ZONAL",
            "disk_size": 10, "disk_type": "PD_SSD", "user_labels": {"team": "payments"},
            "backup_configuration": [{"enabled": true, "start_time": "03:00",
                                      "point_in_time_recovery_enabled": true}],
            "ip_configuration": [{"ipv4_enabled": true, "private_network": null,
                                  "ssl_mode": "ENCRYPTED_ONLY"}],
            "database_flags": [{"name": "log_lock_waits", "value": "on"}],
        })
    );
    assert_eq!(
        created.provider_id.as_deref(),
        Some("projects/acme-sql-dev/instances/pay-db")
    );

    // Refresh shows no change.
    let read = rt
        .block_on(provider.read(INSTANCE, &created))
        .expect("reads")
        .expect("exists");
    assert_eq!(
        without(&read, "root_password"),
        without(&created, "root_password")
    );
    assert!(read.attributes["root_password"] == "r00t-first");

    // In place: a major-version upgrade, a bigger tier and disk, labels, flags,
    // the backup window and the root password, in one update.
    let bigger = Settings {
        tier: "db-custom-2-7680",
        disk_size: 20,
        labels: json!({"team": "ledger", "tier": "1"}),
        flags: json!([{"name": "log_lock_waits", "value": "off"},
                      {"name": "log_min_duration_statement", "value": "1000"}]),
        backup_start: "04:30",
    };
    let plan = instance_plan("pay-db", "POSTGRES_16", &bigger, true, Some("r00t-second"));
    let updated = rt
        .block_on(provider.update(INSTANCE, &read, &plan))
        .expect("updates in place");
    assert_eq!(updated.attributes["database_version"], "POSTGRES_16");
    assert_eq!(
        updated.attributes["public_ip_address"], created.attributes["public_ip_address"],
        "an update never replaces"
    );
    let settings = settings_of(&updated);
    assert_eq!(settings["tier"], "db-custom-2-7680");
    assert_eq!(settings["disk_size"], 20);
    assert_eq!(
        settings["user_labels"],
        json!({"team": "ledger", "tier": "1"})
    );
    assert_eq!(settings["database_flags"], bigger.flags);
    assert_eq!(settings["backup_configuration"][0]["start_time"], "04:30");
    assert!(updated.attributes["root_password"] == "r00t-second");
    let types = rt.block_on(operation_types(&client, "pay-db"));
    assert_eq!(
        types,
        ["CREATE", "MAJOR_VERSION_UPGRADE", "UPDATE", "UPDATE_USER"],
        "the upgrade goes alone, and the root password is the administrator's"
    );

    let read = rt
        .block_on(provider.read(INSTANCE, &updated))
        .expect("reads")
        .expect("exists");
    assert_eq!(
        without(&read, "root_password"),
        without(&updated, "root_password")
    );
    assert!(read.attributes["root_password"] == "r00t-second");

    // Both of Terraform's import ids give what a read gives, less the root
    // password, which Cloud SQL never returns.
    for id in [
        "projects/acme-sql-dev/instances/pay-db",
        "acme-sql-dev/pay-db",
    ] {
        let imported = rt
            .block_on(provider.import(INSTANCE, id))
            .unwrap_or_else(|e| panic!("imports {id}: {e}"));
        assert_eq!(imported.attributes["root_password"], Json::Null);
        assert_eq!(
            without(&imported, "root_password"),
            without(&read, "root_password")
        );
        assert_eq!(imported.provider_id, read.provider_id);
    }
    let bad = rt
        .block_on(provider.import(INSTANCE, "pay-db"))
        .expect_err("a bare name has no project");
    assert!(bad.to_string().contains("PROJECT/NAME"), "{bad}");

    // Cloud SQL refuses a smaller disk; the error names the call, its status and Google's words.
    let shrink = instance_plan(
        "pay-db",
        "POSTGRES_16",
        &Settings {
            disk_size: 10,
            ..bigger
        },
        true,
        Some("r00t-second"),
    );
    let refused = rt
        .block_on(provider.update(INSTANCE, &read, &shrink))
        .expect_err("a disk does not shrink");
    let message = refused.to_string();
    assert!(
        message.contains("PATCH v1/projects/acme-sql-dev/instances/pay-db"),
        "{message}"
    );
    assert!(message.contains("HTTP 400"), "{message}");
    assert!(
        message.contains("The disk size cannot be decreased"),
        "{message}"
    );

    // With protection off the instance goes; gone, it reads as None and deletes again.
    let unprotected = instance_plan(
        "pay-db",
        "POSTGRES_16",
        &Settings {
            disk_size: 20,
            ..Settings::small()
        },
        false,
        Some("r00t-second"),
    );
    let unprotected = rt
        .block_on(provider.update(INSTANCE, &read, &unprotected))
        .expect("turns protection off");
    assert_eq!(unprotected.attributes["deletion_protection"], false);
    rt.block_on(provider.delete(INSTANCE, &unprotected))
        .expect("deletes");
    assert_eq!(
        rt.block_on(provider.read(INSTANCE, &unprotected))
            .expect("reads"),
        None
    );
    rt.block_on(provider.delete(INSTANCE, &unprotected))
        .expect("deleting what is gone is not an error");
}

#[test]
fn attributes_the_configuration_leaves_unset_stay_unset() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let plan = blocks_as_lists(planned(json!({
        "project": PROJECT, "name": "min-db", "database_version": "MYSQL_8_0",
        "region": "europe-west1", "deletion_protection": false, "root_password": null,
        "settings": [{
            "tier": "db-f1-micro", "edition": null, "availability_type": null,
            "disk_size": null, "disk_type": null, "user_labels": null,
            "backup_configuration": [], "ip_configuration": [], "database_flags": [],
        }],
    })));
    let created = rt
        .block_on(provider.create(INSTANCE, &plan))
        .expect("creates");
    assert_eq!(
        settings_of(&created),
        &json!({
            "tier": "db-f1-micro", "edition": null, "availability_type": null,
            "disk_size": null, "disk_type": null, "user_labels": null,
            "backup_configuration": [], "ip_configuration": [], "database_flags": [],
        }),
        "Cloud SQL's defaults are not reported as configuration"
    );
    let read = rt
        .block_on(provider.read(INSTANCE, &created))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, created, "refresh shows no change");

    // An import has no configuration to follow and reports Cloud SQL's values.
    let imported = rt
        .block_on(provider.import(INSTANCE, "acme-sql-dev/min-db"))
        .expect("imports");
    let settings = settings_of(&imported);
    assert_eq!(settings["edition"], "ENTERPRISE");
    assert_eq!(settings["disk_size"], 10);
    assert_eq!(settings["backup_configuration"][0]["enabled"], false);
    assert_eq!(settings["ip_configuration"][0]["ipv4_enabled"], true);
}

#[test]
fn deletion_protection_refuses_to_delete() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let protected = rt
        .block_on(provider.create(
            INSTANCE,
            &instance_plan("keep-db", "MYSQL_8_0", &Settings::small(), true, None),
        ))
        .expect("creates");
    let refused = rt
        .block_on(provider.delete(INSTANCE, &protected))
        .expect_err("protected");
    assert!(
        refused.to_string().contains(
            "instance keep-db has deletion_protection on; set `deletion_protection = false`"
        ),
        "{refused}"
    );
    assert!(
        rt.block_on(provider.read(INSTANCE, &protected))
            .expect("reads")
            .is_some(),
        "the instance is still there"
    );

    // The protection is Cloud SQL's own: stored state that says otherwise does not
    // get past it, and the refusal is Google's.
    let mut stale = protected.clone();
    stale
        .attributes
        .insert("deletion_protection".into(), json!(false));
    let refused = rt
        .block_on(provider.delete(INSTANCE, &stale))
        .expect_err("Cloud SQL refuses");
    let message = refused.to_string();
    assert!(
        message.contains("DELETE v1/projects/acme-sql-dev/instances/keep-db"),
        "{message}"
    );
    assert!(message.contains("HTTP 400"), "{message}");
    assert!(message.contains("The instance is protected"), "{message}");
}

#[test]
fn database_lifecycle() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    create_instance(&rt, &provider, "ledger-db", "POSTGRES_16");

    let created = rt
        .block_on(provider.create(DATABASE, &database_plan("ledger-db", "ledger", "DELETE")))
        .expect("creates the database");
    assert_eq!(
        Json::Object(created.attributes.clone()),
        json!({
            "project": PROJECT, "instance": "ledger-db", "name": "ledger", "charset": "UTF8",
            "collation": "en_US.UTF8", "deletion_policy": "DELETE",
            "id": "projects/acme-sql-dev/instances/ledger-db/databases/ledger",
        })
    );
    let read = rt
        .block_on(provider.read(DATABASE, &created))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, created);

    for id in [
        "projects/acme-sql-dev/instances/ledger-db/databases/ledger",
        "acme-sql-dev/ledger-db/ledger",
    ] {
        let imported = rt
            .block_on(provider.import(DATABASE, id))
            .unwrap_or_else(|e| panic!("imports {id}: {e}"));
        assert_eq!(imported, read);
    }

    // `deletion_policy` changes in place; read keeps it, since it is yagura's.
    let abandon = rt
        .block_on(provider.update(
            DATABASE,
            &read,
            &database_plan("ledger-db", "ledger", "ABANDON"),
        ))
        .expect("updates in place");
    assert_eq!(abandon.attributes["deletion_policy"], "ABANDON");
    let read = rt
        .block_on(provider.read(DATABASE, &abandon))
        .expect("reads")
        .expect("exists");
    assert_eq!(read, abandon);

    // ABANDON leaves the database on the instance; DELETE drops it.
    rt.block_on(provider.delete(DATABASE, &abandon))
        .expect("abandons");
    assert!(
        rt.block_on(provider.read(DATABASE, &abandon))
            .expect("reads")
            .is_some(),
        "an abandoned database stays"
    );
    let delete = rt
        .block_on(provider.update(
            DATABASE,
            &abandon,
            &database_plan("ledger-db", "ledger", "DELETE"),
        ))
        .expect("updates in place");
    rt.block_on(provider.delete(DATABASE, &delete))
        .expect("deletes");
    assert_eq!(
        rt.block_on(provider.read(DATABASE, &delete))
            .expect("reads"),
        None
    );
    let types = rt.block_on(operation_types(&client, "ledger-db"));
    assert_eq!(count(&types, "CREATE_DATABASE"), 1);
    assert_eq!(count(&types, "UPDATE_DATABASE"), 0, "nothing to patch");
    assert_eq!(count(&types, "DELETE_DATABASE"), 1);
}

#[test]
fn user_lifecycle() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    create_instance(&rt, &provider, "orders-db", "MYSQL_8_0");

    let created = rt
        .block_on(provider.create(USER, &user_plan("orders-db", "app", Some("%"), "pw-first")))
        .expect("creates the user");
    assert_eq!(
        Json::Object(without(&created, "password")),
        json!({
            "project": PROJECT, "instance": "orders-db", "name": "app", "host": "%",
            "type": "BUILT_IN", "id": "app/%/orders-db",
        })
    );
    assert!(created.attributes["password"] == "pw-first");
    assert_eq!(
        created.provider_id.as_deref(),
        Some("acme-sql-dev/orders-db/%/app")
    );

    // Cloud SQL never returns a password: read keeps the stored one.
    let read = rt
        .block_on(provider.read(USER, &created))
        .expect("reads")
        .expect("exists");
    assert!(read == created, "refresh shows no change");

    let updated = rt
        .block_on(provider.update(
            USER,
            &read,
            &user_plan("orders-db", "app", Some("%"), "pw-second"),
        ))
        .expect("sets the password in place");
    assert!(updated.attributes["password"] == "pw-second");
    let read = rt
        .block_on(provider.read(USER, &updated))
        .expect("reads")
        .expect("exists");
    assert!(read == updated, "read shows the new password");
    let types = rt.block_on(operation_types(&client, "orders-db"));
    assert_eq!(count(&types, "UPDATE_USER"), 1, "{types:?}");

    // Terraform's MySQL import id names the host; an import cannot know the password.
    let imported = rt
        .block_on(provider.import(USER, "acme-sql-dev/orders-db/%/app"))
        .expect("imports");
    assert_eq!(imported.attributes["password"], Json::Null);
    assert_eq!(without(&imported, "password"), without(&read, "password"));

    rt.block_on(provider.delete(USER, &read)).expect("deletes");
    assert!(
        rt.block_on(provider.read(USER, &read))
            .expect("reads")
            .is_none(),
        "a deleted user reads as gone"
    );
    rt.block_on(provider.delete(USER, &read))
        .expect("deleting what is gone is not an error");
}

#[test]
fn users_without_a_host_import_by_project_instance_and_name() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    create_instance(&rt, &provider, "audit-db", "POSTGRES_16");
    let created = rt
        .block_on(provider.create(USER, &user_plan("audit-db", "auditor", None, "pw")))
        .expect("creates the user");
    assert_eq!(created.attributes["host"], Json::Null);
    assert_eq!(created.attributes["id"], "auditor//audit-db");
    let imported = rt
        .block_on(provider.import(USER, "acme-sql-dev/audit-db/auditor"))
        .expect("imports");
    assert_eq!(
        without(&imported, "password"),
        without(&created, "password")
    );
}

#[test]
fn changes_made_outside_yagura_are_read() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let instance = rt
        .block_on(provider.create(
            INSTANCE,
            &instance_plan("shop-db", "POSTGRES_16", &Settings::small(), false, None),
        ))
        .expect("creates the instance");
    let database = rt
        .block_on(provider.create(DATABASE, &database_plan("shop-db", "shop", "DELETE")))
        .expect("creates the database");
    let user = rt
        .block_on(provider.create(USER, &user_plan("shop-db", "shop", None, "pw")))
        .expect("creates the user");

    // Someone resizes, relabels and reflags the instance by hand.
    let path = format!("v1/projects/{PROJECT}/instances/shop-db");
    rt.block_on(call_outside(
        &client,
        Method::PATCH,
        &path,
        Some(json!({"settings": {
            "tier": "db-custom-4-15360",
            "userLabels": {"team": "hijacked"},
            "databaseFlags": [{"name": "log_lock_waits", "value": "on"},
                              {"name": "work_mem", "value": "64MB"}],
            "deletionProtectionEnabled": true,
        }})),
    ));
    let read = rt
        .block_on(provider.read(INSTANCE, &instance))
        .expect("reads")
        .expect("exists");
    assert_ne!(read, instance, "refresh sees the change");
    let settings = settings_of(&read);
    assert_eq!(settings["tier"], "db-custom-4-15360");
    assert_eq!(settings["user_labels"], json!({"team": "hijacked"}));
    assert_eq!(
        settings["database_flags"],
        json!([{"name": "log_lock_waits", "value": "on"}, {"name": "work_mem", "value": "64MB"}])
    );
    assert_eq!(read.attributes["deletion_protection"], true);

    // Applying the configuration again puts everything back.
    let restored = rt
        .block_on(provider.update(
            INSTANCE,
            &read,
            &instance_plan("shop-db", "POSTGRES_16", &Settings::small(), false, None),
        ))
        .expect("updates");
    assert_eq!(
        without(&restored, "root_password"),
        without(&instance, "root_password")
    );

    // A database and a user dropped by hand read as gone.
    rt.block_on(call_outside(
        &client,
        Method::DELETE,
        &format!("{path}/databases/shop"),
        None,
    ));
    assert_eq!(
        rt.block_on(provider.read(DATABASE, &database))
            .expect("reads"),
        None
    );
    rt.block_on(call_outside(
        &client,
        Method::DELETE,
        &format!("{path}/users?name=shop"),
        None,
    ));
    assert!(
        rt.block_on(provider.read(USER, &user))
            .expect("reads")
            .is_none(),
        "the user is gone"
    );
}

#[test]
fn a_failed_operation_fails_with_google_message() {
    let fake = start_fake(&["--failing-operations", "1"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let failed = rt
        .block_on(provider.create(
            INSTANCE,
            &instance_plan(
                "doomed-db",
                "POSTGRES_16",
                &Settings::small(),
                false,
                Some("r00t-secret"),
            ),
        ))
        .expect_err("the operation fails");
    let message = failed.to_string();
    assert!(
        message.starts_with(
            "google_sql_database_instance: POST v1/projects/acme-sql-dev/instances (operation "
        ),
        "{message}"
    );
    assert!(
        message.contains("INTERNAL_ERROR: Internal error encountered."),
        "{message}"
    );
    assert!(!message.contains("r00t-secret") && !format!("{failed:?}").contains("r00t-secret"));
    // A failed create leaves nothing behind.
    let gone = rt
        .block_on(client.call(
            "sqladmin",
            Method::GET,
            &format!("v1/projects/{PROJECT}/instances/doomed-db"),
            None,
        ))
        .expect_err("no instance");
    assert_eq!(gone.status, Some(404));
}

#[test]
fn passwords_never_appear_in_errors() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let password = "hunter2-do-not-print";
    let failed = rt
        .block_on(provider.create(USER, &user_plan("no-such-db", "app", None, password)))
        .expect_err("there is no instance");
    let message = failed.to_string();
    assert!(
        message.contains("POST v1/projects/acme-sql-dev/instances/no-such-db/users"),
        "{message}"
    );
    assert!(message.contains("HTTP 404"), "{message}");
    assert!(
        message.contains("The Cloud SQL instance does not exist."),
        "{message}"
    );
    assert!(!message.contains(password));
    assert!(!format!("{failed:?}").contains(password));
}

#[test]
fn lost_creates_are_adopted_only_when_they_match() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();

    // The instance exists as the first request made it, its response lost.
    rt.block_on(call_outside(
        &client,
        Method::POST,
        &format!("v1/projects/{PROJECT}/instances"),
        Some(json!({
            "name": "pay-db", "region": "europe-west1", "databaseVersion": "POSTGRES_16",
            "rootPassword": "whatever",
            "settings": {
                "tier": "db-custom-1-3840", "edition": "ENTERPRISE", "availabilityType": "ZONAL",
                "dataDiskSizeGb": "10", "dataDiskType": "PD_SSD", "userLabels": {"team": "payments"},
                "backupConfiguration": {"enabled": true, "startTime": "03:00", "pointInTimeRecoveryEnabled": true},
                "ipConfiguration": {"ipv4Enabled": true, "sslMode": "ENCRYPTED_ONLY"},
                "databaseFlags": [{"name": "log_lock_waits", "value": "on"}],
                "deletionProtectionEnabled": false,
            },
        })),
    ));
    let plan = instance_plan("pay-db", "POSTGRES_16", &Settings::small(), false, None);
    let adopted = rt
        .block_on(provider.create(INSTANCE, &plan))
        .expect("adopts the instance it asked for");
    assert_eq!(
        adopted.attributes["connection_name"],
        "acme-sql-dev:europe-west1:pay-db"
    );
    let other = instance_plan(
        "pay-db",
        "POSTGRES_16",
        &Settings {
            tier: "db-custom-2-7680",
            ..Settings::small()
        },
        false,
        None,
    );
    let refused = rt
        .block_on(provider.create(INSTANCE, &other))
        .expect_err("a different instance is not adopted");
    let message = refused.to_string();
    assert!(message.contains("HTTP 409"), "{message}");
    assert!(
        message.contains("The Cloud SQL instance already exists."),
        "{message}"
    );
    assert!(
        message.contains("differs from the requested one in settings.tier"),
        "{message}"
    );
    assert_eq!(
        count(&rt.block_on(operation_types(&client, "pay-db")), "CREATE"),
        1
    );

    // The same for a database: adopted when its charset and collation match.
    rt.block_on(call_outside(
        &client,
        Method::POST,
        &format!("v1/projects/{PROJECT}/instances/pay-db/databases"),
        Some(json!({"name": "ledger", "charset": "UTF8", "collation": "en_US.UTF8"})),
    ));
    let database = rt
        .block_on(provider.create(DATABASE, &database_plan("pay-db", "ledger", "DELETE")))
        .expect("adopts the database");
    assert_eq!(database.attributes["collation"], "en_US.UTF8");
    let other = with(
        database_plan("pay-db", "ledger", "DELETE"),
        "collation",
        Value::string("C"),
    );
    let refused = rt
        .block_on(provider.create(DATABASE, &other))
        .expect_err("a different database is not adopted");
    assert!(
        refused
            .to_string()
            .contains("differs from the requested one in collation"),
        "{refused}"
    );

    // A user's password cannot be compared, so an adopted user gets the one asked for.
    rt.block_on(call_outside(
        &client,
        Method::POST,
        &format!("v1/projects/{PROJECT}/instances/pay-db/users"),
        Some(json!({"name": "app", "type": "BUILT_IN", "password": "first-try"})),
    ));
    let user = rt
        .block_on(provider.create(USER, &user_plan("pay-db", "app", None, "second-try")))
        .expect("adopts the user");
    assert!(user.attributes["password"] == "second-try");
    let types = rt.block_on(operation_types(&client, "pay-db"));
    assert_eq!(count(&types, "CREATE_USER"), 1, "{types:?}");
    assert_eq!(
        count(&types, "UPDATE_USER"),
        1,
        "the password is set: {types:?}"
    );
    rt.block_on(call_outside(
        &client,
        Method::POST,
        &format!("v1/projects/{PROJECT}/instances/pay-db/users"),
        Some(json!({"name": "robot@acme.example", "type": "CLOUD_IAM_USER"})),
    ));
    let refused = rt
        .block_on(provider.create(
            USER,
            &user_plan("pay-db", "robot@acme.example", None, "pw-robot"),
        ))
        .expect_err("an IAM user is not the built-in user asked for");
    let message = refused.to_string();
    assert!(
        message.contains("differs from the requested one in type"),
        "{message}"
    );
    assert!(!message.contains("pw-robot"));
}

#[test]
fn a_reserved_name_is_reported_as_such() {
    let fake = start_fake(&["--sql-name-reuse-ms", "600000"]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let plan = instance_plan("short-lived", "MYSQL_8_0", &Settings::small(), false, None);
    let created = rt
        .block_on(provider.create(INSTANCE, &plan))
        .expect("creates");
    rt.block_on(provider.delete(INSTANCE, &created))
        .expect("deletes");
    let refused = rt
        .block_on(provider.create(INSTANCE, &plan))
        .expect_err("the name is reserved");
    let message = refused.to_string();
    assert!(message.contains("HTTP 409"), "{message}");
    assert!(
        message.contains("still reserves the name of a deleted instance; choose another name"),
        "{message}"
    );
}

#[test]
fn creates_under_faults_leave_exactly_the_instances_asked_for() {
    let fake = start_fake(&["--fault-rate", "0.2", "--seed-rng", "11"]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let names: Vec<String> = (0..4).map(|i| format!("fault-db-{i}")).collect();
    for name in &names {
        let created = rt
            .block_on(provider.create(
                INSTANCE,
                &instance_plan(name, "POSTGRES_16", &Settings::small(), false, None),
            ))
            .unwrap_or_else(|e: ProviderError| panic!("creating {name} despite faults: {e}"));
        assert_eq!(created.attributes["name"], name.as_str());
    }
    let list = rt
        .block_on(client.call(
            "sqladmin",
            Method::GET,
            &format!("v1/projects/{PROJECT}/instances"),
            None,
        ))
        .expect("lists instances");
    let mut listed: Vec<&str> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["name"].as_str())
        .collect();
    listed.sort();
    assert_eq!(listed, names);
    for name in &names {
        let types = rt.block_on(operation_types(&client, name));
        assert_eq!(
            count(&types, "CREATE"),
            1,
            "{name} was created once: {types:?}"
        );
    }
}
