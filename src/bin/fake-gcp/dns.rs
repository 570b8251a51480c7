//! Cloud DNS v1: managed zones, their record sets, and the changes that edit them.
//!
//! Zones and record sets are synchronous. A change is checked and applied atomically
//! when it is posted (bad ones are refused then, as Google does) and reports `pending`
//! until `--operation-delay-ms` has passed, then `done`. Every zone holds its apex SOA
//! and NS sets from birth; they can be replaced but not removed, and a zone holding
//! anything else cannot be deleted. Names are lowercase FQDNs with the trailing dot.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Instant, SystemTime};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::crm::project_denied;
use crate::errors::ApiError;
use crate::request::{page, page_offset, page_size, parse_json, rfc3339, validate_labels};
use crate::world::{SeedManagedZone, Shared, World};

const SERVICE: &str = "dns.googleapis.com";

/// Record types Cloud DNS accepts.
const RECORD_TYPES: &[&str] = &[
    "A", "AAAA", "ALIAS", "CAA", "CNAME", "DNSKEY", "DS", "HTTPS", "IPSECKEY", "MX", "NAPTR", "NS",
    "PTR", "SOA", "SPF", "SRV", "SSHFP", "SVCB", "TLSA", "TXT",
];

/// Returns the routes of `dns.googleapis.com`.
pub fn router() -> Router<Shared> {
    let zone = "/dns/v1/projects/{project}/managedZones/{zone}";
    Router::new()
        .route(
            "/dns/v1/projects/{project}/managedZones",
            get(list_zones).post(create_zone),
        )
        .route(zone, get(get_zone).delete(delete_zone))
        .route(
            &format!("{zone}/rrsets"),
            get(list_rrsets).post(create_rrset),
        )
        .route(
            &format!("{zone}/rrsets/{{name}}/{{type}}"),
            get(get_rrset).patch(patch_rrset).delete(delete_rrset),
        )
        .route(
            &format!("{zone}/changes"),
            get(list_changes).post(create_change),
        )
        .route(&format!("{zone}/changes/{{change}}"), get(get_change))
}

/// Every managed zone of every project.
#[derive(Default)]
pub struct ManagedZones {
    zones: Vec<Zone>,
    next_id: u64,
}

struct Zone {
    project_number: u64,
    id: u64,
    name: String,
    dns_name: String,
    description: String,
    visibility: String,
    labels: BTreeMap<String, String>,
    private_visibility_config: Option<Value>,
    dnssec_config: Option<Value>,
    name_servers: Vec<String>,
    creation_time: SystemTime,
    /// Record sets by (name, type).
    rrsets: BTreeMap<(String, String), RecordSet>,
    changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RecordSet {
    name: String,
    record_type: String,
    ttl: i64,
    rrdatas: Vec<String>,
}

impl RecordSet {
    fn key(&self) -> (String, String) {
        (self.name.clone(), self.record_type.clone())
    }

    fn to_json(&self) -> Value {
        json!({
            "kind": "dns#resourceRecordSet",
            "name": self.name,
            "type": self.record_type,
            "ttl": self.ttl,
            "rrdatas": self.rrdatas,
        })
    }

    /// Describes the set as Google's messages do: `www.example.com. (A)`.
    fn label(&self) -> String {
        format!("{} ({})", self.name, self.record_type)
    }

    /// Reports whether a deletion names exactly this set; rrdata order is free.
    fn matches_exactly(&self, other: &RecordSet) -> bool {
        let sorted = |rrdatas: &[String]| {
            let mut rrdatas = rrdatas.to_vec();
            rrdatas.sort();
            rrdatas
        };
        self.ttl == other.ttl && sorted(&self.rrdatas) == sorted(&other.rrdatas)
    }
}

struct Change {
    id: u64,
    start_time: SystemTime,
    done_at: Instant,
    additions: Vec<RecordSet>,
    deletions: Vec<RecordSet>,
    client_operation_id: Option<String>,
}

impl Change {
    fn to_json(&self, now: Instant) -> Value {
        let mut json = json!({
            "kind": "dns#change",
            "id": self.id.to_string(),
            "startTime": rfc3339(self.start_time),
            "status": if now >= self.done_at { "done" } else { "pending" },
            "isServing": true,
        });
        if !self.additions.is_empty() {
            json["additions"] = self.additions.iter().map(RecordSet::to_json).collect();
        }
        if !self.deletions.is_empty() {
            json["deletions"] = self.deletions.iter().map(RecordSet::to_json).collect();
        }
        json
    }
}

impl Zone {
    fn to_json(&self) -> Value {
        let mut json = json!({
            "kind": "dns#managedZone",
            "name": self.name,
            "dnsName": self.dns_name,
            "description": self.description,
            "id": self.id.to_string(),
            "nameServers": self.name_servers,
            "creationTime": rfc3339(self.creation_time),
            "visibility": self.visibility,
            "cloudLoggingConfig": {"kind": "dns#managedZoneCloudLoggingConfig"},
        });
        if !self.labels.is_empty() {
            json["labels"] = json!(self.labels);
        }
        if let Some(config) = &self.private_visibility_config {
            json["privateVisibilityConfig"] = config.clone();
        }
        if let Some(config) = &self.dnssec_config {
            json["dnssecConfig"] = config.clone();
        }
        json
    }

    fn is_apex_record(&self, key: &(String, String)) -> bool {
        key.0 == self.dns_name && (key.1 == "SOA" || key.1 == "NS")
    }

    fn next_change_id(&self) -> u64 {
        self.changes.last().map_or(0, |change| change.id + 1)
    }
}

// Errors in Cloud DNS's words, with its `errors[].reason` names.

fn invalid_value(field: &str, value: &str) -> ApiError {
    ApiError::invalid_argument(format!("Invalid value for '{field}': '{value}'"))
        .with_reason("invalid")
}

fn required(field: &str) -> ApiError {
    ApiError::invalid_argument(format!("Required field '{field}' not specified"))
        .with_reason("required")
}

fn zone_not_found(zone: &str) -> ApiError {
    ApiError::not_found(format!(
        "The 'parameters.managedZone' resource named '{zone}' does not exist."
    ))
    .with_reason("notFound")
}

fn rrset_not_found(field: &str, label: &str) -> ApiError {
    ApiError::not_found(format!(
        "The '{field}' resource named '{label}' does not exist."
    ))
    .with_reason("notFound")
}

fn already_exists(field: &str, label: &str) -> ApiError {
    ApiError::already_exists(format!(
        "The resource '{field}' named '{label}' already exists"
    ))
    .with_reason("alreadyExists")
}

/// Returns the 412 for a deletion that does not match the live record set.
fn condition_not_met(field: &str) -> ApiError {
    ApiError::failed_precondition(format!("Precondition not met for '{field}'"))
        .with_reason("conditionNotMet")
        .with_http_status(StatusCode::PRECONDITION_FAILED)
}

fn is_zone_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a DNS name: an FQDN with the trailing dot, labels of 1–63 characters.
fn is_fqdn(name: &str) -> bool {
    let Some(body) = name.strip_suffix('.') else {
        return false;
    };
    body.is_empty()
        || (body.len() <= 253
            && body.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
            }))
}

/// Returns the apex SOA and NS sets Cloud DNS gives a new zone.
fn apex_records(dns_name: &str, name_servers: &[String]) -> Vec<RecordSet> {
    let primary = name_servers.first().cloned().unwrap_or_default();
    vec![
        RecordSet {
            name: dns_name.to_owned(),
            record_type: "NS".to_owned(),
            ttl: 21_600,
            rrdatas: name_servers.to_vec(),
        },
        RecordSet {
            name: dns_name.to_owned(),
            record_type: "SOA".to_owned(),
            ttl: 21_600,
            rrdatas: vec![format!(
                "{primary} cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"
            )],
        },
    ]
}

/// What a new zone is made of, checked.
struct NewZone {
    name: String,
    dns_name: String,
    description: String,
    visibility: String,
    labels: BTreeMap<String, String>,
    private_visibility_config: Option<Value>,
    dnssec_config: Option<Value>,
}

impl ManagedZones {
    fn find(&self, project_number: u64, zone: &str) -> Option<usize> {
        self.zones.iter().position(|candidate| {
            candidate.project_number == project_number
                && (candidate.name == zone || candidate.id.to_string() == zone)
        })
    }

    fn insert(
        &mut self,
        project_number: u64,
        new: NewZone,
        world_now: (SystemTime, Instant),
    ) -> &Zone {
        let (now, instant) = world_now;
        self.next_id += 1;
        let id = 4_100_000_000_000_000_000 + self.next_id;
        // Google spreads zones over name-server shards a to e.
        let shard = char::from(b'a' + (self.next_id % 5) as u8);
        let name_servers: Vec<String> = (1..=4)
            .map(|n| format!("ns-cloud-{shard}{n}.googledomains.com."))
            .collect();
        let apex = apex_records(&new.dns_name, &name_servers);
        let mut zone = Zone {
            project_number,
            id,
            name: new.name,
            dns_name: new.dns_name,
            description: new.description,
            visibility: new.visibility,
            labels: new.labels,
            private_visibility_config: new.private_visibility_config,
            dnssec_config: new.dnssec_config,
            name_servers,
            creation_time: now,
            rrsets: BTreeMap::new(),
            changes: Vec::new(),
        };
        for record in &apex {
            zone.rrsets.insert(record.key(), record.clone());
        }
        // The apex sets arrive as change 0, already done, as on Google.
        zone.changes.push(Change {
            id: 0,
            start_time: now,
            done_at: instant,
            additions: apex,
            deletions: Vec::new(),
            client_operation_id: None,
        });
        self.zones.push(zone);
        self.zones.last().expect("a zone was just pushed")
    }
}

/// Creates a seeded zone; its project must be seeded too.
pub fn seed_managed_zone(world: &mut World, seed: &SeedManagedZone) -> Result<(), String> {
    let project_number = world
        .projects
        .find(&seed.project)
        .map(|project| project.number)
        .ok_or_else(|| {
            format!(
                "seed managed zone {}: project {} is not among the seeded projects",
                seed.name, seed.project
            )
        })?;
    let body = ZoneBody {
        name: Some(seed.name.clone()),
        dns_name: Some(seed.dns_name.clone()),
        description: Some(seed.description.clone().unwrap_or_default()),
        ..ZoneBody::default()
    };
    let new = check_zone(body)
        .map_err(|error| format!("seed managed zone {}: {}", seed.name, error.message))?;
    if world.dns.find(project_number, &new.name).is_some() {
        return Err(format!("seed managed zone {} is listed twice", seed.name));
    }
    let now = (world.wall_now, world.now);
    world.dns.insert(project_number, new, now);
    Ok(())
}

fn dns_project(world: &World, project: &str) -> Result<u64, ApiError> {
    let found = world
        .projects
        .find_active(project)
        .ok_or_else(|| project_denied(project))?;
    world.require_service(found.number, SERVICE)?;
    Ok(found.number)
}

fn find_zone(world: &World, project: &str, zone: &str) -> Result<usize, ApiError> {
    let project_number = dns_project(world, project)?;
    world
        .dns
        .find(project_number, zone)
        .ok_or_else(|| zone_not_found(zone))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZoneBody {
    name: Option<String>,
    dns_name: Option<String>,
    description: Option<String>,
    visibility: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    private_visibility_config: Option<Value>,
    dnssec_config: Option<Value>,
}

fn check_zone(body: ZoneBody) -> Result<NewZone, ApiError> {
    let name = body.name.unwrap_or_default();
    if name.is_empty() {
        return Err(required("entity.managedZone.name"));
    }
    if !is_zone_name(&name) {
        return Err(invalid_value("entity.managedZone.name", &name));
    }
    let dns_name = body.dns_name.unwrap_or_default();
    if dns_name.is_empty() {
        return Err(required("entity.managedZone.dnsName"));
    }
    if !is_fqdn(&dns_name) || dns_name == "." {
        return Err(invalid_value("entity.managedZone.dnsName", &dns_name));
    }
    let description = body
        .description
        .ok_or_else(|| required("entity.managedZone.description"))?;
    if description.len() > 1024 {
        return Err(invalid_value(
            "entity.managedZone.description",
            &description,
        ));
    }
    let visibility = body.visibility.unwrap_or_else(|| "public".to_owned());
    if visibility != "public" && visibility != "private" {
        return Err(invalid_value("entity.managedZone.visibility", &visibility));
    }
    let labels = body.labels.unwrap_or_default();
    validate_labels("entity.managedZone.labels", &labels)?;
    let dnssec_config = match body.dnssec_config {
        None => None,
        Some(mut config) => {
            let state = config["state"].as_str().unwrap_or("off");
            if !["on", "off", "transfer"].contains(&state) {
                return Err(invalid_value(
                    "entity.managedZone.dnssecConfig.state",
                    state,
                ));
            }
            config["kind"] = Value::from("dns#managedZoneDnsSecConfig");
            Some(config)
        }
    };
    Ok(NewZone {
        name,
        dns_name: dns_name.to_ascii_lowercase(),
        description,
        visibility,
        labels,
        private_visibility_config: body.private_visibility_config,
        dnssec_config,
    })
}

async fn create_zone(
    State(server): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let new = check_zone(parse_json(&body)?)?;
    let mut world = server.world();
    let project_number = dns_project(&world, &project)?;
    if world.dns.find(project_number, &new.name).is_some() {
        return Err(already_exists("entity.managedZone", &new.name));
    }
    let now = (world.wall_now, world.now);
    let zone = world.dns.insert(project_number, new, now);
    Ok(Json(zone.to_json()))
}

async fn list_zones(
    State(server): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = max_results(&query)?;
    let offset = page_offset(&query)?;
    let world = server.world();
    let project_number = dns_project(&world, &project)?;
    let dns_name = query.get("dnsName").map(|name| name.to_ascii_lowercase());
    let zones: Vec<Value> = world
        .dns
        .zones
        .iter()
        .filter(|zone| zone.project_number == project_number)
        .filter(|zone| dns_name.as_ref().is_none_or(|name| zone.dns_name == *name))
        .map(Zone::to_json)
        .collect();
    let mut json = page(zones, "managedZones", offset, page_size);
    json["kind"] = Value::from("dns#managedZonesListResponse");
    Ok(Json(json))
}

/// Reads `maxResults`, Cloud DNS's name for the page size.
fn max_results(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    let mut renamed = HashMap::new();
    if let Some(max) = query.get("maxResults") {
        renamed.insert("pageSize".to_owned(), max.clone());
    }
    page_size(&renamed, 1000)
}

async fn get_zone(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    Ok(Json(world.dns.zones[index].to_json()))
}

async fn delete_zone(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let found = &world.dns.zones[index];
    if found.rrsets.keys().any(|key| !found.is_apex_record(key)) {
        return Err(ApiError::invalid_argument(format!(
            "The resource named '{zone}' cannot be deleted because it is not empty"
        ))
        .with_reason("containerNotEmpty"));
    }
    world.dns.zones.remove(index);
    Ok(StatusCode::NO_CONTENT.into_response())
}

// Record sets and changes.

#[derive(Debug, Default, Deserialize)]
struct RecordSetBody {
    name: Option<String>,
    #[serde(rename = "type")]
    record_type: Option<String>,
    ttl: Option<i64>,
    rrdatas: Option<Vec<String>>,
}

/// Checks a record set of a change against the zone; `field` names it in errors.
fn check_record_set(zone: &Zone, body: RecordSetBody, field: &str) -> Result<RecordSet, ApiError> {
    let name = body
        .name
        .filter(|name| !name.is_empty())
        .ok_or_else(|| required(&format!("{field}.name")))?;
    if !is_fqdn(&name) {
        return Err(invalid_value(&format!("{field}.name"), &name));
    }
    let name = name.to_ascii_lowercase();
    let in_zone = name == zone.dns_name || name.ends_with(&format!(".{}", zone.dns_name));
    if !in_zone {
        return Err(invalid_value(&format!("{field}.name"), &name));
    }
    let record_type = body
        .record_type
        .filter(|record_type| !record_type.is_empty())
        .ok_or_else(|| required(&format!("{field}.type")))?;
    if !RECORD_TYPES.contains(&record_type.as_str()) {
        return Err(invalid_value(&format!("{field}.type"), &record_type));
    }
    let ttl = body.ttl.ok_or_else(|| required(&format!("{field}.ttl")))?;
    if !(0..=i64::from(i32::MAX)).contains(&ttl) {
        return Err(invalid_value(&format!("{field}.ttl"), &ttl.to_string()));
    }
    let rrdatas = body.rrdatas.unwrap_or_default();
    if rrdatas.is_empty() {
        return Err(required(&format!("{field}.rrdatas")));
    }
    for (n, rrdata) in rrdatas.iter().enumerate() {
        let valid = match record_type.as_str() {
            "A" => rrdata.parse::<Ipv4Addr>().is_ok(),
            "AAAA" => rrdata.parse::<Ipv6Addr>().is_ok(),
            "CNAME" | "NS" | "PTR" => is_fqdn(rrdata),
            _ => !rrdata.is_empty(),
        };
        if !valid {
            return Err(invalid_value(&format!("{field}.rrdata[{n}]"), rrdata));
        }
    }
    if record_type == "CNAME" && rrdatas.len() > 1 {
        return Err(invalid_value(
            &format!("{field}.rrdata"),
            &rrdatas.join(","),
        ));
    }
    Ok(RecordSet {
        name,
        record_type,
        ttl,
        rrdatas,
    })
}

/// Applies a change to a zone atomically: every deletion must match a live set
/// exactly, every addition must be new once the deletions are done, and the apex SOA
/// and NS must survive. On error nothing changes.
fn apply_change(
    zone: &mut Zone,
    additions: &[(String, RecordSet)],
    deletions: &[(String, RecordSet)],
) -> Result<(), ApiError> {
    let mut rrsets = zone.rrsets.clone();
    for (field, deletion) in deletions {
        let live = rrsets
            .get(&deletion.key())
            .ok_or_else(|| rrset_not_found(field, &deletion.label()))?;
        if !live.matches_exactly(deletion) {
            return Err(condition_not_met(field));
        }
        rrsets.remove(&deletion.key());
    }
    for (field, addition) in additions {
        if rrsets.contains_key(&addition.key()) {
            return Err(already_exists(field, &addition.label()));
        }
        rrsets.insert(addition.key(), addition.clone());
    }
    for (field, deletion) in deletions {
        let key = deletion.key();
        if zone.is_apex_record(&key) && !rrsets.contains_key(&key) {
            return Err(ApiError::invalid_argument(format!(
                "The resource '{field}' named '{}' cannot be deleted; the apex {} set can only be replaced",
                deletion.label(),
                key.1
            ))
            .with_reason("invalid"));
        }
    }
    for (field, addition) in additions {
        let cname_clash = rrsets.keys().any(|(name, record_type)| {
            *name == addition.name
                && *record_type != addition.record_type
                && (record_type == "CNAME" || addition.record_type == "CNAME")
        });
        if cname_clash {
            return Err(ApiError::invalid_argument(format!(
                "The resource '{field}' named '{}' cannot coexist with other record sets of the same name; a CNAME must stand alone",
                addition.label()
            ))
            .with_reason("cnameResourceRecordSetConflict"));
        }
    }
    zone.rrsets = rrsets;
    Ok(())
}

/// Records an applied change and returns it rendered.
fn record_change(
    world: &mut World,
    index: usize,
    additions: Vec<RecordSet>,
    deletions: Vec<RecordSet>,
    client_operation_id: Option<String>,
) -> Value {
    let done_at = world.now + world.settings.operation_delay;
    let start_time = world.wall_now;
    let now = world.now;
    let zone = &mut world.dns.zones[index];
    let change = Change {
        id: zone.next_change_id(),
        start_time,
        done_at,
        additions,
        deletions,
        client_operation_id,
    };
    let json = change.to_json(now);
    zone.changes.push(change);
    json
}

#[derive(Debug, Default, Deserialize)]
struct ChangeBody {
    #[serde(default)]
    additions: Vec<RecordSetBody>,
    #[serde(default)]
    deletions: Vec<RecordSetBody>,
}

async fn create_change(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ChangeBody = parse_json(&body)?;
    let client_operation_id = query
        .get("clientOperationId")
        .filter(|id| !id.is_empty())
        .cloned();
    let mut world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let now = world.now;
    let found = &world.dns.zones[index];
    // A retried change carrying the same client id gets the change it already made.
    if let Some(id) = &client_operation_id
        && let Some(change) = found
            .changes
            .iter()
            .find(|change| change.client_operation_id.as_ref() == Some(id))
    {
        return Ok(Json(change.to_json(now)));
    }
    if body.additions.is_empty() && body.deletions.is_empty() {
        return Err(required("entity.change.additions"));
    }
    let additions = body
        .additions
        .into_iter()
        .enumerate()
        .map(|(n, record)| {
            let field = format!("entity.change.additions[{n}]");
            check_record_set(found, record, &field).map(|record| (field, record))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let deletions = body
        .deletions
        .into_iter()
        .enumerate()
        .map(|(n, record)| {
            let field = format!("entity.change.deletions[{n}]");
            check_record_set(found, record, &field).map(|record| (field, record))
        })
        .collect::<Result<Vec<_>, _>>()?;
    apply_change(&mut world.dns.zones[index], &additions, &deletions)?;
    let change = record_change(
        &mut world,
        index,
        additions.into_iter().map(|(_, record)| record).collect(),
        deletions.into_iter().map(|(_, record)| record).collect(),
        client_operation_id,
    );
    Ok(Json(change))
}

async fn get_change(
    State(server): State<Shared>,
    Path((project, zone, change)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    world.dns.zones[index]
        .changes
        .iter()
        .find(|candidate| candidate.id.to_string() == change)
        .map(|found| Json(found.to_json(world.now)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "The 'parameters.changeId' resource named '{change}' does not exist."
            ))
            .with_reason("notFound")
        })
}

async fn list_changes(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = max_results(&query)?;
    let offset = page_offset(&query)?;
    let descending = query
        .get("sortOrder")
        .is_some_and(|order| order == "descending");
    let world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let mut changes: Vec<Value> = world.dns.zones[index]
        .changes
        .iter()
        .map(|change| change.to_json(world.now))
        .collect();
    if descending {
        changes.reverse();
    }
    let mut json = page(changes, "changes", offset, page_size);
    json["kind"] = Value::from("dns#changesListResponse");
    Ok(Json(json))
}

async fn create_rrset(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: RecordSetBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let field = "entity.rrset".to_owned();
    let record = check_record_set(&world.dns.zones[index], body, &field)?;
    apply_change(&mut world.dns.zones[index], &[(field, record.clone())], &[])?;
    let json = record.to_json();
    record_change(&mut world, index, vec![record], Vec::new(), None);
    Ok(Json(json))
}

/// Finds a live record set named in a path, `name` being an FQDN.
fn live_rrset(zone: &Zone, name: &str, record_type: &str) -> Result<RecordSet, ApiError> {
    let key = (name.to_ascii_lowercase(), record_type.to_owned());
    zone.rrsets
        .get(&key)
        .cloned()
        .ok_or_else(|| rrset_not_found("parameters.name", &format!("{} ({})", key.0, key.1)))
}

async fn get_rrset(
    State(server): State<Shared>,
    Path((project, zone, name, record_type)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let record = live_rrset(&world.dns.zones[index], &name, &record_type)?;
    Ok(Json(record.to_json()))
}

async fn patch_rrset(
    State(server): State<Shared>,
    Path((project, zone, name, record_type)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: RecordSetBody = parse_json(&body)?;
    let mut world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let live = live_rrset(&world.dns.zones[index], &name, &record_type)?;
    let field = "entity.rrset".to_owned();
    let merged = RecordSetBody {
        name: Some(body.name.unwrap_or_else(|| live.name.clone())),
        record_type: Some(body.record_type.unwrap_or_else(|| live.record_type.clone())),
        ttl: Some(body.ttl.unwrap_or(live.ttl)),
        rrdatas: Some(body.rrdatas.unwrap_or_else(|| live.rrdatas.clone())),
    };
    let record = check_record_set(&world.dns.zones[index], merged, &field)?;
    if record.key() != live.key() {
        return Err(invalid_value(&format!("{field}.name"), &record.label()));
    }
    apply_change(
        &mut world.dns.zones[index],
        &[(field.clone(), record.clone())],
        &[(field, live.clone())],
    )?;
    let json = record.to_json();
    record_change(&mut world, index, vec![record], vec![live], None);
    Ok(Json(json))
}

async fn delete_rrset(
    State(server): State<Shared>,
    Path((project, zone, name, record_type)): Path<(String, String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let live = live_rrset(&world.dns.zones[index], &name, &record_type)?;
    apply_change(
        &mut world.dns.zones[index],
        &[],
        &[("entity.rrset".to_owned(), live.clone())],
    )?;
    record_change(&mut world, index, Vec::new(), vec![live], None);
    Ok(Json(json!({})))
}

async fn list_rrsets(
    State(server): State<Shared>,
    Path((project, zone)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page_size = max_results(&query)?;
    let offset = page_offset(&query)?;
    let name = query.get("name").map(|name| name.to_ascii_lowercase());
    let record_type = query.get("type");
    if record_type.is_some() && name.is_none() {
        return Err(ApiError::invalid_argument(
            "The 'parameters.type' parameter may only be given together with 'parameters.name'",
        )
        .with_reason("invalid"));
    }
    let world = server.world();
    let index = find_zone(&world, &project, &zone)?;
    let rrsets: Vec<Value> = world.dns.zones[index]
        .rrsets
        .values()
        .filter(|record| name.as_ref().is_none_or(|name| record.name == *name))
        .filter(|record| record_type.is_none_or(|wanted| record.record_type == *wanted))
        .map(RecordSet::to_json)
        .collect();
    let mut json = page(rrsets, "rrsets", offset, page_size);
    json["kind"] = Value::from("dns#resourceRecordSetsListResponse");
    Ok(Json(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdns_need_the_trailing_dot() {
        assert!(is_fqdn("example.com."));
        assert!(is_fqdn("*.example.com."));
        assert!(is_fqdn("_acme-challenge.example.com."));
        assert!(!is_fqdn("example.com"));
        assert!(!is_fqdn("a..b."));
    }

    #[test]
    fn zone_names() {
        assert!(is_zone_name("acme-example"));
        assert!(!is_zone_name("acme-"));
        assert!(!is_zone_name("1acme"));
        assert!(!is_zone_name("Acme"));
    }

    #[test]
    fn deletion_matches_regardless_of_rrdata_order() {
        let record = |rrdatas: &[&str], ttl| RecordSet {
            name: "www.example.com.".to_owned(),
            record_type: "A".to_owned(),
            ttl,
            rrdatas: rrdatas.iter().map(|s| (*s).to_owned()).collect(),
        };
        assert!(
            record(&["1.1.1.1", "2.2.2.2"], 300)
                .matches_exactly(&record(&["2.2.2.2", "1.1.1.1"], 300))
        );
        assert!(!record(&["1.1.1.1"], 300).matches_exactly(&record(&["1.1.1.1"], 60)));
    }
}
