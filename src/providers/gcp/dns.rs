//! `google_dns_record_set` (Cloud DNS v1). Every write is one atomic change
//! (`POST …/changes` with `additions` and `deletions`), polled until `done`.
//!
//! Invariant: a deletion names the record set as it was just read from Cloud DNS,
//! never the stored one, because Cloud DNS refuses (412) a deletion that does not
//! match the live set exactly. A create that finds its record set already there
//! adopts it only when its TTL and data are the ones requested.

use std::net::Ipv6Addr;

use reqwest::Method;
use serde_json::{Map, Value as Json, json};

use super::{GcpClient, GcpError, api_error, invalid, planned_str, stored_str};
use crate::lang::Value;
use crate::providers::{ProviderError, RemoteObject};

/// The types this module implements.
pub const TYPES: &[&str] = &["google_dns_record_set"];

const DNS: &str = "dns";

/// Where a record set lives: its project, managed zone, name and type.
#[derive(Clone, Debug, PartialEq)]
struct RecordSetAddr {
    project: String,
    managed_zone: String,
    name: String,
    record_type: String,
}

impl RecordSetAddr {
    /// Checks the parts that go into request paths.
    fn new(
        project: &str,
        managed_zone: &str,
        name: &str,
        record_type: &str,
    ) -> Result<RecordSetAddr, String> {
        if !is_path_segment(project) {
            return Err(format!("{project:?} is not a project id"));
        }
        if !is_path_segment(managed_zone) {
            return Err(format!("{managed_zone:?} is not a managed zone name"));
        }
        check_name(name)?;
        if record_type.is_empty() || !record_type.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("{record_type:?} is not a record type"));
        }
        Ok(RecordSetAddr {
            project: project.to_string(),
            managed_zone: managed_zone.to_string(),
            name: name.to_string(),
            record_type: record_type.to_string(),
        })
    }

    fn zone_path(&self) -> String {
        format!(
            "dns/v1/projects/{}/managedZones/{}",
            self.project, self.managed_zone
        )
    }

    fn rrset_path(&self) -> String {
        format!(
            "{}/rrsets/{}/{}",
            self.zone_path(),
            self.name,
            self.record_type
        )
    }

    /// The id Terraform gives a record set.
    fn id(&self) -> String {
        format!(
            "projects/{}/managedZones/{}/rrsets/{}/{}",
            self.project, self.managed_zone, self.name, self.record_type
        )
    }

    /// Names the record set as Cloud DNS's messages do: `www.acme.example. (A)`.
    fn label(&self) -> String {
        format!("{} ({})", self.name, self.record_type)
    }
}

/// Reports whether a project id or zone name can stand in a request path as it is.
fn is_path_segment(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Checks a record set name: fully qualified with the trailing dot, made of
/// labels of letters, digits, `-`, `_` and the wildcard `*`.
fn check_name(name: &str) -> Result<(), String> {
    let Some(body) = name.strip_suffix('.') else {
        return Err(format!(
            "{name:?} is not fully qualified: a record set's name ends with a dot, as in \"www.acme.example.\""
        ));
    };
    let labels_ok = !body.is_empty()
        && body.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'))
        });
    if labels_ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid DNS name"))
    }
}

/// Reports whether `name` is the zone's apex or below it, ignoring case as DNS does.
fn is_in_zone(name: &str, dns_name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let dns_name = dns_name.to_ascii_lowercase();
    name == dns_name || name.ends_with(&format!(".{dns_name}"))
}

/// The part of a record set that an update changes.
#[derive(Clone, Debug, PartialEq)]
struct RecordData {
    ttl: Option<i64>,
    rrdatas: Vec<String>,
}

fn planned_data(type_name: &str, planned: &Value) -> Result<RecordData, ProviderError> {
    let ttl = match planned.get_attr("ttl") {
        None => None,
        Some(v) if v.is_null() => None,
        Some(v) => Some(
            v.as_number()
                .and_then(|n| n.as_i64())
                .filter(|ttl| *ttl >= 0)
                .ok_or_else(|| {
                    invalid(type_name, "`ttl` must be a known whole number of seconds")
                })?,
        ),
    };
    // Cloud DNS refuses a record set without a TTL, and the schema gives it no default.
    let Some(ttl) = ttl else {
        return Err(invalid(
            type_name,
            "`ttl` is not set; Cloud DNS needs a time-to-live in seconds for every record set (the dns module defaults it to 300)",
        ));
    };
    let items = planned
        .get_attr("rrdatas")
        .and_then(Value::as_sequence)
        .ok_or_else(|| invalid(type_name, "`rrdatas` must be a known list of strings"))?;
    let rrdatas = items
        .iter()
        .map(|item| item.as_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| invalid(type_name, "`rrdatas` must be a known list of strings"))?;
    if rrdatas.is_empty() {
        return Err(invalid(
            type_name,
            "`rrdatas` must hold at least one record",
        ));
    }
    Ok(RecordData {
        ttl: Some(ttl),
        rrdatas,
    })
}

fn live_data(rrset: &Json) -> RecordData {
    let ttl = rrset.get("ttl").and_then(|t| {
        t.as_i64()
            .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
    });
    let rrdatas = rrset
        .get("rrdatas")
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    RecordData { ttl, rrdatas }
}

/// Returns rrdatas in a form in which equivalent spellings compare equal: sorted
/// (a record set is a set, and Cloud DNS need not keep the order it was given),
/// IPv6 addresses canonical, host names lowercase, and one quoted TXT string
/// without its quotes.
fn canonical_rrdatas(record_type: &str, rrdatas: &[String]) -> Vec<String> {
    let mut canonical: Vec<String> = rrdatas
        .iter()
        .map(|rrdata| match record_type {
            "AAAA" => rrdata
                .parse::<Ipv6Addr>()
                .map_or_else(|_| rrdata.clone(), |ip| ip.to_string()),
            "CNAME" | "NS" | "PTR" | "MX" | "SRV" => rrdata.to_ascii_lowercase(),
            "TXT" | "SPF" => match rrdata.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                Some(inner) if !inner.contains('"') => inner.to_string(),
                _ => rrdata.clone(),
            },
            _ => rrdata.clone(),
        })
        .collect();
    canonical.sort();
    canonical
}

fn same_rrdatas(record_type: &str, a: &[String], b: &[String]) -> bool {
    canonical_rrdatas(record_type, a) == canonical_rrdatas(record_type, b)
}

fn same_data(record_type: &str, a: &RecordData, b: &RecordData) -> bool {
    a.ttl == b.ttl && same_rrdatas(record_type, &a.rrdatas, &b.rrdatas)
}

fn record_object(addr: &RecordSetAddr, data: &RecordData) -> RemoteObject {
    let id = addr.id();
    let mut attrs = Map::new();
    attrs.insert("project".into(), json!(addr.project));
    attrs.insert("managed_zone".into(), json!(addr.managed_zone));
    attrs.insert("name".into(), json!(addr.name));
    attrs.insert("type".into(), json!(addr.record_type));
    attrs.insert("ttl".into(), json!(data.ttl));
    attrs.insert("rrdatas".into(), json!(data.rrdatas));
    attrs.insert("id".into(), json!(id.clone()));
    RemoteObject {
        provider_id: Some(id),
        attributes: attrs,
    }
}

/// The `ResourceRecordSet` of an addition.
fn rrset_body(addr: &RecordSetAddr, data: &RecordData) -> Json {
    json!({
        "name": addr.name,
        "type": addr.record_type,
        "ttl": data.ttl,
        "rrdatas": data.rrdatas,
    })
}

fn planned_addr(type_name: &str, planned: &Value) -> Result<RecordSetAddr, ProviderError> {
    let (Some(project), Some(zone), Some(name), Some(record_type)) = (
        planned_str(planned, "project"),
        planned_str(planned, "managed_zone"),
        planned_str(planned, "name"),
        planned_str(planned, "type"),
    ) else {
        return Err(invalid(
            type_name,
            "`project`, `managed_zone`, `name` and `type` must be known",
        ));
    };
    RecordSetAddr::new(project, zone, name, record_type).map_err(|m| invalid(type_name, m))
}

fn stored_addr(type_name: &str, stored: &RemoteObject) -> Result<RecordSetAddr, ProviderError> {
    let (Some(project), Some(zone), Some(name), Some(record_type)) = (
        stored_str(stored, "project"),
        stored_str(stored, "managed_zone"),
        stored_str(stored, "name"),
        stored_str(stored, "type"),
    ) else {
        return Err(invalid(
            type_name,
            "the stored record set has no project, managed_zone, name or type",
        ));
    };
    RecordSetAddr::new(project, zone, name, record_type).map_err(|m| invalid(type_name, m))
}

/// Reads a record set; `None` when it (or its zone) does not exist.
async fn get_rrset(client: &GcpClient, addr: &RecordSetAddr) -> Result<Option<Json>, GcpError> {
    match client
        .call(DNS, Method::GET, &addr.rrset_path(), None)
        .await
    {
        Ok(rrset) => Ok(Some(rrset)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Posts a change. A fresh `clientOperationId` per change lets Cloud DNS
/// recognise the client's own retries of it after a lost response.
async fn submit_change(
    client: &GcpClient,
    addr: &RecordSetAddr,
    change: &Json,
) -> Result<Json, GcpError> {
    let path = format!(
        "{}/changes?clientOperationId={}",
        addr.zone_path(),
        uuid::Uuid::new_v4()
    );
    client.call(DNS, Method::POST, &path, Some(change)).await
}

/// Polls a change until its status is `done`, with the client's poll backoff.
async fn wait_change(
    client: &GcpClient,
    addr: &RecordSetAddr,
    change: Json,
) -> Result<(), GcpError> {
    let is_done = |c: &Json| c.get("status").and_then(Json::as_str) == Some("done");
    if is_done(&change) {
        return Ok(());
    }
    let changes = format!("{}/changes", addr.zone_path());
    let Some(id) = change.get("id").and_then(Json::as_str).map(str::to_string) else {
        return Err(poll_failure(changes, "an unfinished change has no id"));
    };
    client
        .poll(DNS, &format!("{changes}/{id}"), change, is_done)
        .await
        .map(|_| ())
}

fn poll_failure(path: String, message: &str) -> GcpError {
    GcpError {
        method: Method::GET.to_string(),
        path,
        status: None,
        status_name: None,
        reason: None,
        message: message.to_string(),
        retry_after: None,
    }
}

/// Describes a record set's data for an error message.
fn describe(data: &RecordData) -> String {
    let ttl = data
        .ttl
        .map_or_else(|| "no ttl".to_string(), |t| format!("ttl {t}"));
    format!("{ttl} and rrdatas {:?}", data.rrdatas)
}

/// Reads the live record set; `None` when it or its zone is gone. The stored
/// rrdatas keep their order and spelling while they mean the same records.
pub async fn read(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<Option<RemoteObject>, ProviderError> {
    let addr = stored_addr(type_name, stored)?;
    let Some(rrset) = get_rrset(client, &addr)
        .await
        .map_err(|e| api_error(type_name, e))?
    else {
        return Ok(None);
    };
    let mut data = live_data(&rrset);
    // The stored spelling and order stand while they mean the same records.
    let stored_rrdatas: Option<Vec<String>> = stored
        .attributes
        .get("rrdatas")
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    if let Some(stored_rrdatas) = stored_rrdatas
        && same_rrdatas(&addr.record_type, &stored_rrdatas, &data.rrdatas)
    {
        data.rrdatas = stored_rrdatas;
    }
    Ok(Some(record_object(&addr, &data)))
}

/// Creates a record set with a change of one addition, after checking that its
/// name lies in the zone.
pub async fn create(
    client: &GcpClient,
    type_name: &str,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let addr = planned_addr(type_name, planned)?;
    let data = planned_data(type_name, planned)?;
    let zone = client
        .call(DNS, Method::GET, &addr.zone_path(), None)
        .await
        .map_err(|e| api_error(type_name, e))?;
    let dns_name = zone
        .get("dnsName")
        .and_then(Json::as_str)
        .unwrap_or_default();
    if !is_in_zone(&addr.name, dns_name) {
        return Err(invalid(
            type_name,
            format!(
                "{:?} is outside managed zone {} ({dns_name}) of {}: a record set's name must be {dns_name} or end with .{dns_name}",
                addr.name, addr.managed_zone, addr.project
            ),
        ));
    }
    let change = json!({ "additions": [rrset_body(&addr, &data)] });
    match submit_change(client, &addr, &change).await {
        Ok(posted) => wait_change(client, &addr, posted)
            .await
            .map_err(|e| api_error(type_name, e))?,
        Err(e) if e.is_already_exists() => {
            // A lost create replayed, or someone else's record set: adopt only
            // a set with exactly the requested TTL and data.
            let existing = get_rrset(client, &addr)
                .await
                .map_err(|e| api_error(type_name, e))?;
            match existing.map(|rrset| live_data(&rrset)) {
                Some(live) if same_data(&addr.record_type, &live, &data) => {}
                Some(live) => {
                    let mut e = e;
                    e.message = format!(
                        "{}; the existing record set {} in zone {} has {}, not the requested {}, so it is not adopted: import it or remove it",
                        e.message,
                        addr.label(),
                        addr.managed_zone,
                        describe(&live),
                        describe(&data)
                    );
                    return Err(api_error(type_name, e));
                }
                None => return Err(api_error(type_name, e)),
            }
        }
        Err(e) => return Err(api_error(type_name, e)),
    }
    Ok(record_object(&addr, &data))
}

/// Replaces the live record set with the planned one in one atomic change.
pub async fn update(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
    planned: &Value,
) -> Result<RemoteObject, ProviderError> {
    let addr = stored_addr(type_name, stored)?;
    let data = planned_data(type_name, planned)?;
    let live = get_rrset(client, &addr)
        .await
        .map_err(|e| api_error(type_name, e))?;
    let addition = rrset_body(&addr, &data);
    let change = match live {
        Some(live) if same_data(&addr.record_type, &live_data(&live), &data) => {
            return Ok(record_object(&addr, &data));
        }
        // The live set, exactly as read, goes out and the new one comes in, in
        // one atomic change, so that the name never stops resolving.
        Some(live) => json!({ "deletions": [live], "additions": [addition] }),
        // Deleted outside yagura since the last refresh: the change recreates it.
        None => json!({ "additions": [addition] }),
    };
    match submit_change(client, &addr, &change).await {
        Ok(posted) => wait_change(client, &addr, posted)
            .await
            .map_err(|e| api_error(type_name, e))?,
        // A replayed change whose first attempt was applied finds its deletion
        // gone (404, 412) or its addition present (409): it succeeded if the
        // live set is now the requested one.
        Err(e) if matches!(e.status, Some(404 | 409 | 412)) => {
            let now = get_rrset(client, &addr)
                .await
                .map_err(|e| api_error(type_name, e))?;
            if !now.is_some_and(|rrset| same_data(&addr.record_type, &live_data(&rrset), &data)) {
                return Err(api_error(type_name, e));
            }
        }
        Err(e) => return Err(api_error(type_name, e)),
    }
    Ok(record_object(&addr, &data))
}

/// Deletes the live record set with a change of one deletion.
pub async fn delete(
    client: &GcpClient,
    type_name: &str,
    stored: &RemoteObject,
) -> Result<(), ProviderError> {
    let addr = stored_addr(type_name, stored)?;
    let Some(live) = get_rrset(client, &addr)
        .await
        .map_err(|e| api_error(type_name, e))?
    else {
        return Ok(());
    };
    if matches!(addr.record_type.as_str(), "NS" | "SOA") {
        let zone = client
            .call(DNS, Method::GET, &addr.zone_path(), None)
            .await
            .map_err(|e| api_error(type_name, e))?;
        let dns_name = zone
            .get("dnsName")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if addr.name.eq_ignore_ascii_case(dns_name) {
            // A zone's apex NS and SOA live as long as the zone and cannot be
            // deleted; as Terraform does, they are left in place.
            tracing::info!(
                record_set = %addr.label(),
                "leaving the apex record set in place: Cloud DNS does not delete it"
            );
            return Ok(());
        }
    }
    let change = json!({ "deletions": [live] });
    match submit_change(client, &addr, &change).await {
        Ok(posted) => wait_change(client, &addr, posted)
            .await
            .map_err(|e| api_error(type_name, e)),
        // Gone already (a replayed deletion, or someone else's): done. A set
        // changed between the read and the deletion (412) is an error.
        Err(e) if matches!(e.status, Some(404 | 412)) => {
            match get_rrset(client, &addr)
                .await
                .map_err(|e| api_error(type_name, e))?
            {
                None => Ok(()),
                Some(_) => Err(api_error(type_name, e)),
            }
        }
        Err(e) => Err(api_error(type_name, e)),
    }
}

/// Reads Terraform's import ids: `projects/P/managedZones/Z/rrsets/NAME/TYPE` and
/// `P/Z/NAME/TYPE`. Terraform's `Z/NAME/TYPE` relies on a provider-wide default
/// project, which yagura does not have.
fn parse_import_id(type_name: &str, id: &str) -> Result<RecordSetAddr, ProviderError> {
    let parts: Vec<&str> = id.split('/').collect();
    let (project, zone, name, record_type) = match parts.as_slice() {
        [
            "projects",
            project,
            "managedZones",
            zone,
            "rrsets",
            name,
            record_type,
        ] => (*project, *zone, *name, *record_type),
        [project, zone, name, record_type] => (*project, *zone, *name, *record_type),
        [_, _, _] => {
            return Err(invalid(
                type_name,
                format!(
                    "{id:?} names no project; yagura has no default project, so use projects/PROJECT/managedZones/ZONE/rrsets/NAME/TYPE or PROJECT/ZONE/NAME/TYPE"
                ),
            ));
        }
        _ => {
            return Err(invalid(
                type_name,
                format!(
                    "{id:?} is not projects/PROJECT/managedZones/ZONE/rrsets/NAME/TYPE or PROJECT/ZONE/NAME/TYPE"
                ),
            ));
        }
    };
    RecordSetAddr::new(project, zone, name, record_type).map_err(|m| invalid(type_name, m))
}

/// Reads an existing record set by one of Terraform's import ids.
pub async fn import(
    client: &GcpClient,
    type_name: &str,
    id: &str,
) -> Result<RemoteObject, ProviderError> {
    let addr = parse_import_id(type_name, id)?;
    let rrset = client
        .call(DNS, Method::GET, &addr.rrset_path(), None)
        .await
        .map_err(|e| api_error(type_name, e))?;
    Ok(record_object(&addr, &live_data(&rrset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn check_same(record_type: &str, a: &[&str], b: &[&str], expected: bool) {
        assert_eq!(
            same_rrdatas(record_type, &strings(a), &strings(b)),
            expected,
            "{record_type} {a:?} vs {b:?}"
        );
    }

    #[test]
    fn order_is_not_data() {
        check_same(
            "A",
            &["10.0.0.1", "10.0.0.2"],
            &["10.0.0.2", "10.0.0.1"],
            true,
        );
        check_same("A", &["10.0.0.1"], &["10.0.0.1", "10.0.0.1"], false);
        check_same("A", &["10.0.0.1"], &["10.0.0.2"], false);
    }

    #[test]
    fn equivalent_spellings_are_the_same_records() {
        check_same("AAAA", &["2001:db8::1"], &["2001:0db8:0:0:0:0:0:1"], true);
        check_same(
            "CNAME",
            &["Pay.Acme.Example."],
            &["pay.acme.example."],
            true,
        );
        check_same("TXT", &["\"v=spf1 -all\""], &["v=spf1 -all"], true);
        check_same("TXT", &["Token"], &["token"], false);
        check_same("TXT", &["\"a\" \"b\""], &["a\" \"b"], false);
    }

    #[test]
    fn names_are_fully_qualified() {
        assert!(check_name("www.acme.example.").is_ok());
        assert!(check_name("*.acme.example.").is_ok());
        assert!(check_name("_acme-challenge.acme.example.").is_ok());
        assert!(
            check_name("www.acme.example")
                .unwrap_err()
                .contains("ends with a dot")
        );
        assert!(check_name("a..b.").is_err());
        assert!(check_name("www/x.acme.example.").is_err());
        assert!(check_name("www?x.acme.example.").is_err());
    }

    #[test]
    fn zone_membership_ignores_case() {
        assert!(is_in_zone("www.acme.example.", "acme.example."));
        assert!(is_in_zone("ACME.example.", "acme.example."));
        assert!(!is_in_zone("www.notacme.example.", "acme.example."));
        assert!(!is_in_zone("www.other.example.", "acme.example."));
    }

    #[test]
    fn import_ids() {
        let addr = RecordSetAddr::new("acme-dns", "acme-example", "www.acme.example.", "A")
            .expect("a valid address");
        for id in [
            "projects/acme-dns/managedZones/acme-example/rrsets/www.acme.example./A",
            "acme-dns/acme-example/www.acme.example./A",
        ] {
            assert_eq!(
                parse_import_id("google_dns_record_set", id).expect("parses"),
                addr
            );
        }
        let err = parse_import_id("google_dns_record_set", "acme-example/www.acme.example./A")
            .expect_err("no project");
        assert!(err.to_string().contains("no default project"), "{err}");
        assert!(parse_import_id("google_dns_record_set", "www.acme.example.").is_err());
        assert!(
            parse_import_id("google_dns_record_set", "acme-dns/acme-example/www/A")
                .expect_err("not fully qualified")
                .to_string()
                .contains("ends with a dot")
        );
    }
}
