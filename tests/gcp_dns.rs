//! `google_dns_record_set` against `fake-gcp`: create, read back with no drift,
//! update in place through one atomic change, delete, import, drift made outside
//! yagura, names outside the zone, a missing zone, adoption of a lost create, and
//! faults that leave exactly the requested record sets.

use reqwest::Method;
use serde_json::{Value as Json, json};
use yagura::lang::Value;

mod support;
use support::{Fake, planned, runtime};
use yagura::providers::gcp::{GcpClient, GcpProvider};
use yagura::providers::{Provider, RemoteObject};

const T: &str = "google_dns_record_set";
const PROJECT: &str = "acme-dns";
const ZONE: &str = "acme-example";
const DOMAIN: &str = "acme.example.";

/// A fake-gcp seeded with `PROJECT` and its zone `ZONE` for `DOMAIN`.
fn start_fake(args: &[&str]) -> Fake {
    let seed = json!({
        "organizations": ["123456789012"],
        "billing_accounts": ["01ABCD-234567-89EFGH"],
        "projects": [{"project_id": PROJECT, "services": ["dns.googleapis.com"]}],
        "managed_zones": [{"project": PROJECT, "name": ZONE, "dns_name": DOMAIN,
                           "description": "acme's public zone"}],
    });
    Fake::start_seeded(&seed, args)
}

fn record_plan(name: &str, record_type: &str, ttl: i64, rrdatas: &[&str]) -> Value {
    planned(json!({
        "project": PROJECT, "managed_zone": ZONE, "name": name, "type": record_type,
        "ttl": ttl, "rrdatas": rrdatas,
    }))
}

fn id(name: &str, record_type: &str) -> String {
    format!("projects/{PROJECT}/managedZones/{ZONE}/rrsets/{name}/{record_type}")
}

/// The attributes yagura stores for a record set.
fn attributes(name: &str, record_type: &str, ttl: i64, rrdatas: &[&str]) -> Json {
    json!({
        "project": PROJECT, "managed_zone": ZONE, "name": name, "type": record_type,
        "ttl": ttl, "rrdatas": rrdatas, "id": id(name, record_type),
    })
}

fn zone_path() -> String {
    format!("dns/v1/projects/{PROJECT}/managedZones/{ZONE}")
}

/// Every record set of the zone as `(name, type, ttl, rrdatas)`, straight from the API.
async fn zone_rrsets(client: &GcpClient) -> Vec<(String, String, i64, Json)> {
    let list = client
        .call("dns", Method::GET, &format!("{}/rrsets", zone_path()), None)
        .await
        .expect("lists the zone's record sets");
    assert!(
        list.get("nextPageToken").is_none(),
        "one page holds them all"
    );
    let mut rrsets: Vec<(String, String, i64, Json)> = list["rrsets"]
        .as_array()
        .expect("the zone has record sets")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["type"].as_str().unwrap_or_default().to_string(),
                r["ttl"].as_i64().unwrap_or_default(),
                r["rrdatas"].clone(),
            )
        })
        .collect();
    rrsets.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rrsets
}

/// The zone's changes, oldest first.
async fn zone_changes(client: &GcpClient) -> Vec<Json> {
    let list = client
        .call(
            "dns",
            Method::GET,
            &format!("{}/changes", zone_path()),
            None,
        )
        .await
        .expect("lists the zone's changes");
    list["changes"].as_array().cloned().unwrap_or_default()
}

/// Changes a record set with Cloud DNS's one-at-a-time API, as a person might.
async fn patch_outside_yagura(client: &GcpClient, name: &str, ttl: i64, rrdatas: &[&str]) {
    client
        .call(
            "dns",
            Method::PATCH,
            &format!("{}/rrsets/{name}/A", zone_path()),
            Some(&json!({"ttl": ttl, "rrdatas": rrdatas})),
        )
        .await
        .expect("the fake takes the patch");
}

fn read(
    provider: &GcpProvider,
    rt: &tokio::runtime::Runtime,
    stored: &RemoteObject,
) -> RemoteObject {
    rt.block_on(provider.read(T, stored))
        .expect("reads")
        .expect("exists")
}

#[test]
fn record_set_lifecycle() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let name = "payment.acme.example.";

    let created = rt
        .block_on(provider.create(
            T,
            &record_plan(name, "A", 300, &["203.0.113.10", "203.0.113.11"]),
        ))
        .expect("creates the record set");
    assert_eq!(
        Json::Object(created.attributes.clone()),
        attributes(name, "A", 300, &["203.0.113.10", "203.0.113.11"])
    );
    assert_eq!(created.provider_id.as_deref(), Some(id(name, "A").as_str()));
    assert_eq!(
        read(&provider, &rt, &created),
        created,
        "no drift after create"
    );

    let updated = rt
        .block_on(provider.update(T, &created, &record_plan(name, "A", 60, &["203.0.113.12"])))
        .expect("updates in place");
    assert_eq!(
        Json::Object(updated.attributes.clone()),
        attributes(name, "A", 60, &["203.0.113.12"])
    );
    assert_eq!(
        read(&provider, &rt, &updated),
        updated,
        "no drift after update"
    );
    // The update is one change that takes the old set out and puts the new one in.
    let changes = rt.block_on(zone_changes(&client));
    let last = changes.last().expect("the zone has changes");
    assert_eq!(
        last["deletions"],
        json!([{"kind": "dns#resourceRecordSet", "name": name, "type": "A", "ttl": 300,
                "rrdatas": ["203.0.113.10", "203.0.113.11"]}])
    );
    assert_eq!(
        last["additions"],
        json!([{"kind": "dns#resourceRecordSet", "name": name, "type": "A", "ttl": 60,
                "rrdatas": ["203.0.113.12"]}])
    );
    // Applying the same plan again changes nothing.
    let n_changes = changes.len();
    rt.block_on(provider.update(T, &updated, &record_plan(name, "A", 60, &["203.0.113.12"])))
        .expect("a no-op update");
    assert_eq!(rt.block_on(zone_changes(&client)).len(), n_changes);

    rt.block_on(provider.delete(T, &updated)).expect("deletes");
    assert_eq!(
        rt.block_on(provider.read(T, &updated)).expect("reads"),
        None
    );
    rt.block_on(provider.delete(T, &updated))
        .expect("deleting what is gone is not an error");
    let left: Vec<(String, String)> = rt
        .block_on(zone_rrsets(&client))
        .into_iter()
        .map(|(name, record_type, _, _)| (name, record_type))
        .collect();
    assert_eq!(
        left,
        [
            (DOMAIN.to_string(), "NS".to_string()),
            (DOMAIN.to_string(), "SOA".to_string())
        ]
    );
}

#[test]
fn import_by_id_gives_what_read_gives() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let name = "pay.acme.example.";
    let created = rt
        .block_on(provider.create(
            T,
            &record_plan(name, "CNAME", 3600, &["payment.acme.example."]),
        ))
        .expect("creates");
    let refreshed = read(&provider, &rt, &created);
    for import_id in [id(name, "CNAME"), format!("{PROJECT}/{ZONE}/{name}/CNAME")] {
        let imported = rt
            .block_on(provider.import(T, &import_id))
            .unwrap_or_else(|e| panic!("imports {import_id}: {e}"));
        assert_eq!(imported, refreshed, "{import_id}");
    }
    let err = rt
        .block_on(provider.import(T, &format!("{ZONE}/{name}/CNAME")))
        .expect_err("no project in the id");
    assert!(err.to_string().contains("no default project"), "{err}");
    let err = rt
        .block_on(provider.import(T, &id("nope.acme.example.", "CNAME")))
        .expect_err("no such record set");
    let message = err.to_string();
    assert!(
        message.contains(
            "GET dns/v1/projects/acme-dns/managedZones/acme-example/rrsets/nope.acme.example./CNAME"
        ) && message.contains("HTTP 404")
            && message.contains("does not exist"),
        "{message}"
    );
}

#[test]
fn drift_is_reported_and_an_update_replaces_the_live_set() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let name = "api.acme.example.";
    let created = rt
        .block_on(provider.create(
            T,
            &record_plan(name, "A", 300, &["198.51.100.1", "198.51.100.2"]),
        ))
        .expect("creates");

    // The same records in another order are the same record set.
    rt.block_on(patch_outside_yagura(
        &client,
        name,
        300,
        &["198.51.100.2", "198.51.100.1"],
    ));
    assert_eq!(read(&provider, &rt, &created), created);

    // A new TTL and new data made outside yagura show up on refresh.
    rt.block_on(patch_outside_yagura(&client, name, 3600, &["198.51.100.9"]));
    let drifted = read(&provider, &rt, &created);
    assert_eq!(
        Json::Object(drifted.attributes.clone()),
        attributes(name, "A", 3600, &["198.51.100.9"])
    );

    // An update from the stale stored value still works: its deletion names the
    // live set, which is what Cloud DNS insists on.
    let restored = rt
        .block_on(provider.update(
            T,
            &created,
            &record_plan(name, "A", 300, &["198.51.100.1", "198.51.100.2"]),
        ))
        .expect("puts the records back");
    assert_eq!(restored, created);
    assert_eq!(read(&provider, &rt, &restored), created);
}

#[test]
fn names_outside_the_zone_are_refused() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let before = rt.block_on(zone_changes(&client)).len();
    let err = rt
        .block_on(provider.create(
            T,
            &record_plan("www.other.example.", "A", 300, &["192.0.2.1"]),
        ))
        .expect_err("outside the zone");
    let message = err.to_string();
    assert!(
        message.contains(
            "\"www.other.example.\" is outside managed zone acme-example (acme.example.)"
        ),
        "{message}"
    );
    // A name that only ends like the zone's is outside it too.
    let err = rt
        .block_on(provider.create(
            T,
            &record_plan("www.notacme.example.", "A", 300, &["192.0.2.1"]),
        ))
        .expect_err("outside the zone");
    assert!(err.to_string().contains("is outside managed zone"), "{err}");
    let err = rt
        .block_on(provider.create(
            T,
            &record_plan("www.acme.example", "A", 300, &["192.0.2.1"]),
        ))
        .expect_err("not fully qualified");
    assert!(err.to_string().contains("ends with a dot"), "{err}");
    assert_eq!(
        rt.block_on(zone_changes(&client)).len(),
        before,
        "nothing was sent"
    );
}

#[test]
fn a_missing_zone_is_an_api_error() {
    let fake = start_fake(&[]);
    let provider = GcpProvider::new(fake.client());
    let rt = runtime();
    let plan = planned(json!({
        "project": PROJECT, "managed_zone": "nope", "name": "www.acme.example.", "type": "A",
        "ttl": 300, "rrdatas": ["192.0.2.1"],
    }));
    let err = rt.block_on(provider.create(T, &plan)).expect_err("no zone");
    assert_eq!(
        err.to_string(),
        "google_dns_record_set: GET dns/v1/projects/acme-dns/managedZones/nope failed with HTTP 404: \
         NOT_FOUND: The 'parameters.managedZone' resource named 'nope' does not exist."
    );
}

#[test]
fn a_lost_create_is_adopted_only_when_it_is_the_one_requested() {
    let fake = start_fake(&[]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let name = "ledger.acme.example.";
    let plan = record_plan(name, "A", 300, &["203.0.113.20", "203.0.113.21"]);
    let first = rt.block_on(provider.create(T, &plan)).expect("creates");
    // The same create again, as after a lost response: the record set is ours,
    // whatever the order of its data.
    let again = record_plan(name, "A", 300, &["203.0.113.21", "203.0.113.20"]);
    let second = rt.block_on(provider.create(T, &again)).expect("adopts");
    assert_eq!(second.attributes["ttl"], first.attributes["ttl"]);
    // Another TTL or other data is someone else's record set.
    for other in [
        record_plan(name, "A", 60, &["203.0.113.20", "203.0.113.21"]),
        record_plan(name, "A", 300, &["203.0.113.20"]),
    ] {
        let err = rt
            .block_on(provider.create(T, &other))
            .expect_err("not adopted");
        let message = err.to_string();
        assert!(
            message.contains("POST dns/v1/projects/acme-dns/managedZones/acme-example/changes failed with HTTP 409")
                && message.contains("already exists")
                && message.contains("is not adopted"),
            "{message}"
        );
        assert!(!message.contains("clientOperationId"), "{message}");
    }
    assert_eq!(
        read(&provider, &rt, &first),
        first,
        "the record set is untouched"
    );
}

#[test]
fn faults_leave_exactly_the_requested_record_sets() {
    // 503s are refused before anything changes; resets lose the response of a
    // change that was made. (429s are left out: their Retry-After of a second
    // would only slow the test down.)
    let fake = start_fake(&[
        "--fault-rate",
        "0.2",
        "--faults",
        "503,reset",
        "--seed-rng",
        "11",
    ]);
    let client = fake.client();
    let provider = GcpProvider::new(client.clone());
    let rt = runtime();
    let mut objects = Vec::new();
    let mut expected = Vec::new();
    for i in 0..8 {
        let name = format!("host-{i}.acme.example.");
        let address = format!("192.0.2.{}", i + 1);
        let object = rt
            .block_on(provider.create(T, &record_plan(&name, "A", 300, &[address.as_str()])))
            .unwrap_or_else(|e| panic!("creating {name} despite faults: {e}"));
        objects.push(object);
        expected.push((name, "A".to_string(), 300, json!([address])));
    }
    let mut with_apex = expected.clone();
    with_apex.push((DOMAIN.to_string(), "NS".to_string(), 21_600, Json::Null));
    with_apex.push((DOMAIN.to_string(), "SOA".to_string(), 21_600, Json::Null));
    with_apex.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let live: Vec<(String, String, i64, Json)> = rt
        .block_on(zone_rrsets(&client))
        .into_iter()
        .map(|(name, record_type, ttl, rrdatas)| {
            let rrdatas = if record_type == "A" {
                rrdatas
            } else {
                Json::Null
            };
            (name, record_type, ttl, rrdatas)
        })
        .collect();
    assert_eq!(
        live, with_apex,
        "exactly the requested record sets, once each"
    );

    // Updates under the same faults end with the new data, each set still once.
    let mut updated = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let name = format!("host-{i}.acme.example.");
        let address = format!("198.51.100.{}", i + 1);
        let plan = record_plan(&name, "A", 60, &[address.as_str()]);
        updated.push(
            rt.block_on(provider.update(T, object, &plan))
                .unwrap_or_else(|e| panic!("updating {name} despite faults: {e}")),
        );
        expected[i] = (name, "A".to_string(), 60, json!([address]));
    }
    let live: Vec<(String, String, i64, Json)> = rt
        .block_on(zone_rrsets(&client))
        .into_iter()
        .filter(|(_, record_type, _, _)| record_type == "A")
        .collect();
    assert_eq!(live, expected);

    for object in &updated {
        rt.block_on(provider.delete(T, object))
            .unwrap_or_else(|e| panic!("deleting despite faults: {e}"));
    }
    let left: Vec<String> = rt
        .block_on(zone_rrsets(&client))
        .into_iter()
        .map(|(_, record_type, _, _)| record_type)
        .collect();
    assert_eq!(left, ["NS", "SOA"]);
}
