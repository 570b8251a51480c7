//! Request plumbing shared by every API: JSON bodies, `:verb` suffixes, field checks,
//! and the key a request is counted under.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;

/// Parses a JSON request body; an empty body reads as `{}`, as Google accepts.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|error| {
        ApiError::invalid_argument(format!("Invalid JSON payload received. {error}"))
    })
}

/// Splits `name:verb` (Google's custom methods) into the name and the verb.
pub fn split_verb(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once(':') {
        Some((name, verb)) => (name, Some(verb)),
        None => (segment, None),
    }
}

/// Splits a comma-separated field mask into trimmed, non-empty paths.
pub fn mask_paths(mask: &str) -> Vec<&str> {
    mask.split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
        .collect()
}

/// Reads `pageSize`; absent or zero means `max`, and larger values are cut to `max`.
pub fn page_size(query: &HashMap<String, String>, max: usize) -> Result<usize, ApiError> {
    match query.get("pageSize") {
        None => Ok(max),
        Some(text) => match text.parse::<usize>() {
            Ok(0) => Ok(max),
            Ok(size) => Ok(size.min(max)),
            Err(_) => Err(ApiError::invalid_field(
                "pageSize",
                format!("'{text}' is not a number"),
            )),
        },
    }
}

/// Reads `pageToken`, which this fake makes the offset of the page's first item.
pub fn page_offset(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    match query.get("pageToken").map(String::as_str) {
        None | Some("") => Ok(0),
        Some(token) => token.parse().map_err(|_| {
            ApiError::invalid_field("pageToken", format!("'{token}' is not a page token"))
        }),
    }
}

/// Cuts one page out of `items`, as `{<field>: […], nextPageToken}`.
pub fn page(items: Vec<Value>, field: &str, offset: usize, page_size: usize) -> Value {
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(page_size).collect();
    let mut json = json!({});
    let end = offset + items.len();
    if !items.is_empty() {
        json[field] = Value::Array(items);
    }
    if end < total {
        json["nextPageToken"] = Value::from(end.to_string());
    }
    json
}

/// Checks labels against Google's rules: ≤64 entries, keys 1–63 and values ≤63
/// characters of lowercase letters, digits, `_` and `-`, keys starting with a letter.
pub fn validate_labels(field: &str, labels: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if labels.len() > 64 {
        return Err(ApiError::invalid_field(
            field,
            "at most 64 labels are allowed",
        ));
    }
    let label_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    for (key, value) in labels {
        let key_ok = (1..=63).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key.chars().all(label_char);
        if !key_ok {
            return Err(ApiError::invalid_field(
                field,
                format!(
                    "label key '{key}' must be 1 to 63 lowercase letters, digits, underscores or hyphens, starting with a letter"
                ),
            ));
        }
        if value.len() > 63 || !value.chars().all(label_char) {
            return Err(ApiError::invalid_field(
                field,
                format!(
                    "label value '{value}' must be at most 63 lowercase letters, digits, underscores or hyphens"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an IAM-style identifier: `min..=max` characters, `[a-z]([-a-z0-9]*[a-z0-9])`.
pub fn is_resource_id(id: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Returns the etag of revision `revision` of the resource `key`: eight bytes in
/// base64, the shape of Google's policy etags (`BwXhqDqI6Gk=`).
pub fn etag(key: &str, revision: u64) -> String {
    let digest = Sha256::digest(format!("{key}#{revision}"));
    BASE64.encode(&digest[..8])
}

/// Formats a time as RFC 3339 in UTC with milliseconds, as Google's JSON does.
pub fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, secs_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Returns a request path with its resource ids replaced by placeholders: the
/// key under which `stats` counts the request.
///
/// Google's REST paths are a version (`v1`, `dns/v1`) and then collections, each
/// followed by the id of one of its members, the last segment possibly ending in
/// a `:verb`. An id becomes `{<collection>Id}`, as the `flatPath` of most of
/// Google's discovery documents names it; a verb stays. DNS names a record set by
/// two segments, `rrsets/{rrsetsId}/{type}`. A path without a version segment
/// (oauth2's `/token`) is kept as it is. The leading `/` is dropped. The key does
/// not depend on `--discovery`.
pub fn path_template(path: &str) -> String {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let Some(version) = segments.iter().position(|segment| is_version(segment)) else {
        return path.to_owned();
    };
    let mut template: Vec<String> = segments
        .iter()
        .take(version + 1)
        .map(|segment| (*segment).to_owned())
        .collect();
    let mut collection: Option<&str> = None;
    let mut record_set_type = false;
    for segment in segments.iter().skip(version + 1) {
        let placeholder = if record_set_type {
            record_set_type = false;
            Some("{type}".to_owned())
        } else {
            collection.take().map(|name| {
                record_set_type = name == "rrsets";
                format!("{{{name}Id}}")
            })
        };
        match placeholder {
            Some(placeholder) => template.push(match custom_verb(segment) {
                Some(verb) => format!("{placeholder}:{verb}"),
                None => placeholder,
            }),
            None => {
                collection = Some(segment);
                template.push((*segment).to_owned());
            }
        }
    }
    template.join("/")
}

/// Reports whether a path segment is an API version: `v1`, `v3`, `v1beta1`.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let tail = rest.get(digits..).unwrap_or_default();
    digits > 0
        && (tail.is_empty()
            || ["alpha", "beta"].iter().any(|stage| {
                tail.strip_prefix(stage)
                    .is_some_and(|number| number.chars().all(|c| c.is_ascii_digit()))
            }))
}

/// Returns the custom verb an id segment ends in: `setIamPolicy` of `p:setIamPolicy`.
fn custom_verb(segment: &str) -> Option<&str> {
    let (_, verb) = segment.rsplit_once(':')?;
    (!verb.is_empty() && verb.chars().all(|c| c.is_ascii_alphanumeric())).then_some(verb)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn check_time(secs: u64, expected: &str) {
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_millis(secs)), expected);
    }

    #[test]
    fn epoch() {
        check_time(0, "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn leap_day() {
        check_time(1_709_210_096_789, "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn empty_body_reads_as_empty_object() {
        let value: serde_json::Value = parse_json(&Bytes::from_static(b"")).unwrap();
        assert_eq!(value, serde_json::json!({}));
    }

    #[test]
    fn verb_is_split_off() {
        assert_eq!(split_verb("p1:undelete"), ("p1", Some("undelete")));
        assert_eq!(split_verb("p1"), ("p1", None));
    }

    #[test]
    fn resource_ids() {
        assert!(is_resource_id("acme-dev-1", 6, 30));
        assert!(!is_resource_id("acme-", 6, 30));
        assert!(!is_resource_id("Acme-dev", 6, 30));
        assert!(!is_resource_id("1acme-dev", 6, 30));
        assert!(!is_resource_id("short", 6, 30));
    }

    #[test]
    fn labels_are_checked() {
        let labels = BTreeMap::from([("Env".to_owned(), "dev".to_owned())]);
        assert!(validate_labels("labels", &labels).is_err());
        let labels = BTreeMap::from([("env".to_owned(), "dev_1".to_owned())]);
        assert!(validate_labels("labels", &labels).is_ok());
    }

    fn check_template(path: &str, expected: &str) {
        assert_eq!(path_template(path), expected, "{path}");
    }

    #[test]
    fn ids_become_placeholders_and_verbs_stay() {
        check_template(
            "/v3/projects/acme-dev:setIamPolicy",
            "v3/projects/{projectsId}:setIamPolicy",
        );
        check_template("/v3/projects/acme-dev", "v3/projects/{projectsId}");
        check_template("/v3/projects", "v3/projects");
        check_template(
            "/v1/projects/acme-dev/services/compute.googleapis.com:enable",
            "v1/projects/{projectsId}/services/{servicesId}:enable",
        );
        check_template("/v1/operations/acf.p2-1-2", "v1/operations/{operationsId}");
    }

    #[test]
    fn verbs_on_collections_stay() {
        check_template(
            "/v1/projects/acme-dev/services:batchEnable",
            "v1/projects/{projectsId}/services:batchEnable",
        );
    }

    #[test]
    fn emails_and_names_with_dots_are_ids() {
        check_template(
            "/v1/projects/-/serviceAccounts/app@acme-dev.iam.gserviceaccount.com:getIamPolicy",
            "v1/projects/{projectsId}/serviceAccounts/{serviceAccountsId}:getIamPolicy",
        );
    }

    #[test]
    fn prefixes_before_the_version_stay() {
        check_template(
            "/dns/v1/projects/p/managedZones/z/changes/7",
            "dns/v1/projects/{projectsId}/managedZones/{managedZonesId}/changes/{changesId}",
        );
    }

    #[test]
    fn record_sets_take_a_name_and_a_type() {
        check_template(
            "/dns/v1/projects/p/managedZones/z/rrsets/www.example.com./CNAME",
            "dns/v1/projects/{projectsId}/managedZones/{managedZonesId}/rrsets/{rrsetsId}/{type}",
        );
    }

    #[test]
    fn sub_resources_after_an_id_stay() {
        check_template(
            "/v1/projects/p/instances/i/databases/d/ddl",
            "v1/projects/{projectsId}/instances/{instancesId}/databases/{databasesId}/ddl",
        );
    }

    #[test]
    fn paths_without_a_version_stay() {
        check_template("/token", "token");
        check_template("/v1beta1/things/x", "v1beta1/things/{thingsId}");
        check_template("/very/x", "very/x");
    }
}
