//! Kubernetes' protobuf encoding of request bodies, read into JSON.
//!
//! kubectl 1.32 and later send the objects of its `create <kind>` commands
//! (`kubectl create namespace x`) as `application/vnd.kubernetes.protobuf` and do
//! not fall back to JSON when refused. The body is the magic `k8s\0` and then a
//! `runtime.Unknown` message whose `raw` field holds the object's message. This
//! module decodes the messages of the served kinds, with the field numbers of
//! `k8s.io/api/{core,rbac}/v1/generated.proto` and apimachinery's
//! `meta/v1/generated.proto`, into the object's JSON form. Go writes every
//! non-pointer field, so empty strings and zero times, which its JSON encoding
//! omits, are dropped here too. Responses are always JSON, which every client that
//! asks for protobuf also accepts.

use serde_json::{Map, Value};

/// What a field holds.
#[derive(Clone, Copy)]
enum Type {
    String,
    /// An `int64` that Go omits from JSON when zero.
    Int64OmitZero,
    Int64,
    Bool,
    Message(&'static [Field]),
    StringMap,
    QuantityMap,
    Time,
    FieldsV1,
}

/// One field of a message.
#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    field_type: Type,
    repeated: bool,
}

const fn field(number: u64, name: &'static str, field_type: Type) -> Field {
    Field {
        number,
        name,
        field_type,
        repeated: false,
    }
}

const fn repeated(number: u64, name: &'static str, field_type: Type) -> Field {
    Field {
        number,
        name,
        field_type,
        repeated: true,
    }
}

const OWNER_REFERENCE: &[Field] = &[
    field(5, "apiVersion", Type::String),
    field(1, "kind", Type::String),
    field(3, "name", Type::String),
    field(4, "uid", Type::String),
    field(6, "controller", Type::Bool),
    field(7, "blockOwnerDeletion", Type::Bool),
];

const MANAGED_FIELDS_ENTRY: &[Field] = &[
    field(1, "manager", Type::String),
    field(2, "operation", Type::String),
    field(3, "apiVersion", Type::String),
    field(4, "time", Type::Time),
    field(6, "fieldsType", Type::String),
    field(7, "fieldsV1", Type::FieldsV1),
    field(8, "subresource", Type::String),
];

const OBJECT_META: &[Field] = &[
    field(1, "name", Type::String),
    field(2, "generateName", Type::String),
    field(3, "namespace", Type::String),
    field(4, "selfLink", Type::String),
    field(5, "uid", Type::String),
    field(6, "resourceVersion", Type::String),
    field(7, "generation", Type::Int64OmitZero),
    field(8, "creationTimestamp", Type::Time),
    field(9, "deletionTimestamp", Type::Time),
    field(10, "deletionGracePeriodSeconds", Type::Int64),
    field(11, "labels", Type::StringMap),
    field(12, "annotations", Type::StringMap),
    repeated(13, "ownerReferences", Type::Message(OWNER_REFERENCE)),
    repeated(14, "finalizers", Type::String),
    repeated(17, "managedFields", Type::Message(MANAGED_FIELDS_ENTRY)),
];

const NAMESPACE_CONDITION: &[Field] = &[
    field(1, "type", Type::String),
    field(2, "status", Type::String),
    field(4, "lastTransitionTime", Type::Time),
    field(5, "reason", Type::String),
    field(6, "message", Type::String),
];

const NAMESPACE: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    field(
        2,
        "spec",
        Type::Message(&[repeated(1, "finalizers", Type::String)]),
    ),
    field(
        3,
        "status",
        Type::Message(&[
            field(1, "phase", Type::String),
            repeated(2, "conditions", Type::Message(NAMESPACE_CONDITION)),
        ]),
    ),
];

const OBJECT_REFERENCE: &[Field] = &[
    field(1, "kind", Type::String),
    field(2, "namespace", Type::String),
    field(3, "name", Type::String),
    field(4, "uid", Type::String),
    field(5, "apiVersion", Type::String),
    field(6, "resourceVersion", Type::String),
    field(7, "fieldPath", Type::String),
];

const SERVICE_ACCOUNT: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    repeated(2, "secrets", Type::Message(OBJECT_REFERENCE)),
    repeated(
        3,
        "imagePullSecrets",
        Type::Message(&[field(1, "name", Type::String)]),
    ),
    field(4, "automountServiceAccountToken", Type::Bool),
];

const SCOPED_RESOURCE_SELECTOR_REQUIREMENT: &[Field] = &[
    field(1, "scopeName", Type::String),
    field(2, "operator", Type::String),
    repeated(3, "values", Type::String),
];

const RESOURCE_QUOTA: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    field(
        2,
        "spec",
        Type::Message(&[
            field(1, "hard", Type::QuantityMap),
            repeated(2, "scopes", Type::String),
            field(
                3,
                "scopeSelector",
                Type::Message(&[repeated(
                    1,
                    "matchExpressions",
                    Type::Message(SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
                )]),
            ),
        ]),
    ),
    field(
        3,
        "status",
        Type::Message(&[
            field(1, "hard", Type::QuantityMap),
            field(2, "used", Type::QuantityMap),
        ]),
    ),
];

const LIMIT_RANGE_ITEM: &[Field] = &[
    field(1, "type", Type::String),
    field(2, "max", Type::QuantityMap),
    field(3, "min", Type::QuantityMap),
    field(4, "default", Type::QuantityMap),
    field(5, "defaultRequest", Type::QuantityMap),
    field(6, "maxLimitRequestRatio", Type::QuantityMap),
];

const LIMIT_RANGE: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    field(
        2,
        "spec",
        Type::Message(&[repeated(1, "limits", Type::Message(LIMIT_RANGE_ITEM))]),
    ),
];

const POLICY_RULE: &[Field] = &[
    repeated(1, "verbs", Type::String),
    repeated(2, "apiGroups", Type::String),
    repeated(3, "resources", Type::String),
    repeated(4, "resourceNames", Type::String),
    repeated(5, "nonResourceURLs", Type::String),
];

const LABEL_SELECTOR: &[Field] = &[
    field(1, "matchLabels", Type::StringMap),
    repeated(
        2,
        "matchExpressions",
        Type::Message(&[
            field(1, "key", Type::String),
            field(2, "operator", Type::String),
            repeated(3, "values", Type::String),
        ]),
    ),
];

const ROLE: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    repeated(2, "rules", Type::Message(POLICY_RULE)),
];

const CLUSTER_ROLE: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    repeated(2, "rules", Type::Message(POLICY_RULE)),
    field(
        3,
        "aggregationRule",
        Type::Message(&[repeated(
            1,
            "clusterRoleSelectors",
            Type::Message(LABEL_SELECTOR),
        )]),
    ),
];

const SUBJECT: &[Field] = &[
    field(1, "kind", Type::String),
    field(2, "apiGroup", Type::String),
    field(3, "name", Type::String),
    field(4, "namespace", Type::String),
];

const ROLE_REF: &[Field] = &[
    field(1, "apiGroup", Type::String),
    field(2, "kind", Type::String),
    field(3, "name", Type::String),
];

const ROLE_BINDING: &[Field] = &[
    field(1, "metadata", Type::Message(OBJECT_META)),
    repeated(2, "subjects", Type::Message(SUBJECT)),
    field(3, "roleRef", Type::Message(ROLE_REF)),
];

/// Returns the message of a served kind.
fn message_of(kind: &str) -> Option<&'static [Field]> {
    Some(match kind {
        "Namespace" => NAMESPACE,
        "ServiceAccount" => SERVICE_ACCOUNT,
        "ResourceQuota" => RESOURCE_QUOTA,
        "LimitRange" => LIMIT_RANGE,
        "Role" => ROLE,
        "ClusterRole" => CLUSTER_ROLE,
        "RoleBinding" | "ClusterRoleBinding" => ROLE_BINDING,
        _ => return None,
    })
}

/// Decodes a protobuf request body into the object's JSON.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or("the body does not start with the protobuf magic number")?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (number, wire) in fields(unknown)? {
        match (number, wire) {
            (1, Wire::Bytes(type_meta)) => {
                for (number, wire) in fields(type_meta)? {
                    match (number, wire) {
                        (1, Wire::Bytes(text)) => api_version = utf8(text)?,
                        (2, Wire::Bytes(text)) => kind = utf8(text)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(bytes)) => raw = bytes,
            (3, Wire::Bytes(encoding)) if !encoding.is_empty() => {
                return Err(format!(
                    "content encoding {:?} is not supported",
                    String::from_utf8_lossy(encoding)
                ));
            }
            _ => {}
        }
    }
    let message =
        message_of(&kind).ok_or_else(|| format!("no protobuf message for kind {kind:?}"))?;
    let mut object = decode_message(raw, message)?;
    if let Some(object) = object.as_object_mut() {
        object.insert("apiVersion".to_owned(), api_version.into());
        object.insert("kind".to_owned(), kind.into());
    }
    Ok(object)
}

/// A field's value on the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string field is not UTF-8".to_owned())
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 64 bits".to_owned())
}

/// Splits a message into its fields, in order.
fn fields(bytes: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let key = varint(bytes, &mut pos)?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(bytes, &mut pos)?),
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                pos += width;
                if pos > bytes.len() {
                    return Err("truncated fixed-width field".to_owned());
                }
                Wire::Fixed
            }
            2 => {
                let length = usize::try_from(varint(bytes, &mut pos)?)
                    .map_err(|_| "field length out of range")?;
                let end = pos.checked_add(length).ok_or("field length out of range")?;
                let value = bytes
                    .get(pos..end)
                    .ok_or("truncated length-delimited field")?;
                pos = end;
                Wire::Bytes(value)
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        fields.push((key >> 3, wire));
    }
    Ok(fields)
}

fn decode_message(bytes: &[u8], message: &[Field]) -> Result<Value, String> {
    let mut object = Map::new();
    for (number, wire) in fields(bytes)? {
        let Some(field) = message.iter().find(|field| field.number == number) else {
            continue;
        };
        let Some(value) = decode_value(field.field_type, wire, &mut object, field.name)? else {
            continue;
        };
        if field.repeated {
            object
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()))
                .as_array_mut()
                .ok_or("a repeated field is also a single one")?
                .push(value);
        } else {
            object.insert(field.name.to_owned(), value);
        }
    }
    // Go omits empty strings and zero values of singular fields from JSON; a
    // repeated string keeps its empty items (`apiGroups: [""]`).
    object.retain(|name, value| {
        let repeated = message
            .iter()
            .any(|field| field.name == name && field.repeated);
        repeated || !matches!(value, Value::String(text) if text.is_empty())
    });
    Ok(Value::Object(object))
}

/// Decodes one value; `None` for a value Go's JSON would omit. Map entries are
/// added to `object` directly.
fn decode_value(
    field_type: Type,
    wire: Wire<'_>,
    object: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<Value>, String> {
    Ok(match (field_type, wire) {
        (Type::String, Wire::Bytes(bytes)) => Some(utf8(bytes)?.into()),
        (Type::Int64OmitZero, Wire::Varint(0)) => None,
        (Type::Int64 | Type::Int64OmitZero, Wire::Varint(value)) => Some((value as i64).into()),
        (Type::Bool, Wire::Varint(value)) => Some((value != 0).into()),
        (Type::Message(message), Wire::Bytes(bytes)) => Some(decode_message(bytes, message)?),
        (Type::Time, Wire::Bytes(bytes)) => time(bytes)?,
        (Type::FieldsV1, Wire::Bytes(bytes)) => {
            let mut raw = Value::Null;
            for (number, wire) in fields(bytes)? {
                if let (1, Wire::Bytes(json)) = (number, wire) {
                    raw = serde_json::from_slice(json).map_err(|error| error.to_string())?;
                }
            }
            Some(raw)
        }
        (Type::StringMap | Type::QuantityMap, Wire::Bytes(bytes)) => {
            let mut key = String::new();
            let mut value = String::new();
            for (number, wire) in fields(bytes)? {
                match (number, wire) {
                    (1, Wire::Bytes(text)) => key = utf8(text)?,
                    (2, Wire::Bytes(text)) if matches!(field_type, Type::StringMap) => {
                        value = utf8(text)?;
                    }
                    (2, Wire::Bytes(quantity)) => {
                        for (number, wire) in fields(quantity)? {
                            if let (1, Wire::Bytes(text)) = (number, wire) {
                                value = utf8(text)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            object
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or("a map field is also another field")?
                .insert(key, value.into());
            None
        }
        _ => return Err(format!("field {name} has an unexpected wire type")),
    })
}

/// Decodes a `metav1.Time`; the zero time is omitted, as Go writes it as `null`.
fn time(bytes: &[u8]) -> Result<Option<Value>, String> {
    let mut seconds = 0i64;
    for (number, wire) in fields(bytes)? {
        if let (1, Wire::Varint(value)) = (number, wire) {
            seconds = value as i64;
        }
    }
    if seconds == 0 {
        return Ok(None);
    }
    let timestamp = jiff::Timestamp::from_second(seconds).map_err(|error| error.to_string())?;
    Ok(Some(
        timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The body kubectl 1.33 sends for `kubectl create namespace x`.
    const CREATE_NAMESPACE: &[u8] = b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x19\n\x11\n\x01x\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00\"\x00";

    #[test]
    fn kubectl_create_namespace_decodes() {
        assert_eq!(
            decode(CREATE_NAMESPACE).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"},
                   "spec": {}, "status": {}})
        );
    }

    fn length_delimited(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn quantity_maps_and_repeated_empty_strings_survive() {
        let quantity = length_delimited(1, b"3");
        let entry = [length_delimited(1, b"pods"), length_delimited(2, &quantity)].concat();
        let spec = length_delimited(1, &entry);
        let quota = decode_message(&length_delimited(2, &spec), RESOURCE_QUOTA).unwrap();
        assert_eq!(quota, json!({"spec": {"hard": {"pods": "3"}}}));
        let rule = [length_delimited(1, b"get"), length_delimited(2, b"")].concat();
        let role = decode_message(&length_delimited(2, &rule), ROLE).unwrap();
        assert_eq!(
            role,
            json!({"rules": [{"verbs": ["get"], "apiGroups": [""]}]})
        );
    }
}
