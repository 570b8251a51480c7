//! `random_id` and `random_password`: values generated locally, at apply.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value as Json};

use super::{Provider, ProviderError, ProviderFuture, RemoteObject};
use crate::lang::Value;

/// The special characters `random_password` draws from, as Terraform's random provider.
const SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

#[derive(Default)]
pub struct RandomProvider;

fn fill_random(bytes: &mut [u8]) -> Result<(), ProviderError> {
    getrandom::fill(bytes).map_err(|e| ProviderError::Invalid {
        type_name: "random".to_string(),
        message: format!("the operating system gave no random bytes: {e}"),
    })
}

fn invalid(type_name: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::Invalid {
        type_name: type_name.to_string(),
        message: message.into(),
    }
}

/// The attributes of a `random_id` made of `bytes`, as Terraform's random provider computes them.
pub fn random_id_attributes(bytes: &[u8], prefix: &str, keepers: Json) -> Map<String, Json> {
    let b64_url = URL_SAFE_NO_PAD.encode(bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut attrs = Map::new();
    attrs.insert("byte_length".into(), Json::from(bytes.len()));
    attrs.insert(
        "prefix".into(),
        if prefix.is_empty() {
            Json::Null
        } else {
            Json::String(prefix.to_string())
        },
    );
    attrs.insert("keepers".into(), keepers);
    attrs.insert("id".into(), Json::String(b64_url.clone()));
    attrs.insert("b64_url".into(), Json::String(format!("{prefix}{b64_url}")));
    attrs.insert(
        "b64_std".into(),
        Json::String(format!("{prefix}{}", STANDARD.encode(bytes))),
    );
    attrs.insert("hex".into(), Json::String(format!("{prefix}{hex}")));
    attrs.insert(
        "dec".into(),
        Json::String(format!("{prefix}{}", decimal(bytes))),
    );
    attrs
}

/// The big-endian unsigned integer of `bytes` in decimal.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base-10 digits
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

/// The character set of a `random_password` configuration.
pub fn password_alphabet(upper: bool, lower: bool, numeric: bool, special: bool) -> Vec<char> {
    let mut chars = Vec::new();
    if upper {
        chars.extend('A'..='Z');
    }
    if lower {
        chars.extend('a'..='z');
    }
    if numeric {
        chars.extend('0'..='9');
    }
    if special {
        chars.extend(SPECIAL.chars());
    }
    chars
}

/// Draws `length` characters uniformly from `alphabet`, rejecting biased bytes.
fn draw(alphabet: &[char], length: usize) -> Result<String, ProviderError> {
    let n = alphabet.len();
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.chars().count() < length {
        fill_random(&mut buf)?;
        for &b in &buf {
            if (b as usize) < limit && out.chars().count() < length {
                out.push(alphabet[b as usize % n]);
            }
        }
    }
    Ok(out)
}

fn attr<'v>(planned: &'v Value, name: &str) -> Option<&'v Value> {
    planned.get_attr(name).filter(|v| !v.is_null())
}

fn flag(planned: &Value, name: &str) -> bool {
    attr(planned, name).and_then(Value::as_bool).unwrap_or(true)
}

impl RandomProvider {
    fn generate(&self, type_name: &str, planned: &Value) -> Result<RemoteObject, ProviderError> {
        let keepers = attr(planned, "keepers").map_or(Json::Null, Value::to_json);
        match type_name {
            "random_id" => {
                let length = attr(planned, "byte_length")
                    .and_then(Value::as_number)
                    .and_then(|n| n.as_i64())
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            type_name,
                            "`byte_length` must be a whole number from 1 to 1024",
                        )
                    })?;
                let mut bytes = vec![0u8; length as usize];
                fill_random(&mut bytes)?;
                let prefix = attr(planned, "prefix")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let attributes = random_id_attributes(&bytes, prefix, keepers);
                let id = attributes
                    .get("id")
                    .and_then(Json::as_str)
                    .map(str::to_string);
                Ok(RemoteObject {
                    provider_id: id,
                    attributes,
                })
            }
            "random_password" => {
                let length = attr(planned, "length")
                    .and_then(Value::as_number)
                    .and_then(|n| n.as_i64())
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| {
                        invalid(type_name, "`length` must be a whole number from 1 to 4096")
                    })?;
                let (upper, lower, numeric, special) = (
                    flag(planned, "upper"),
                    flag(planned, "lower"),
                    flag(planned, "numeric"),
                    flag(planned, "special"),
                );
                let alphabet = password_alphabet(upper, lower, numeric, special);
                if alphabet.is_empty() {
                    return Err(invalid(type_name, "every character class is turned off"));
                }
                let mut attributes = Map::new();
                attributes.insert("length".into(), Json::from(length));
                for (name, on) in [
                    ("upper", upper),
                    ("lower", lower),
                    ("numeric", numeric),
                    ("special", special),
                ] {
                    attributes.insert(name.into(), Json::Bool(on));
                }
                attributes.insert("keepers".into(), keepers);
                attributes.insert(
                    "result".into(),
                    Json::String(draw(&alphabet, length as usize)?),
                );
                attributes.insert("id".into(), Json::String("none".into()));
                Ok(RemoteObject {
                    provider_id: Some("none".into()),
                    attributes,
                })
            }
            other => Err(ProviderError::Unsupported {
                type_name: other.to_string(),
                operation: "create",
            }),
        }
    }
}

impl Provider for RandomProvider {
    fn read<'a>(
        &'a self,
        _type_name: &'a str,
        stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, Option<RemoteObject>> {
        // Generated values exist only in state: what is stored is the truth.
        Box::pin(async move { Ok(Some(stored.clone())) })
    }

    fn create<'a>(
        &'a self,
        type_name: &'a str,
        planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move { self.generate(type_name, planned) })
    }

    fn update<'a>(
        &'a self,
        type_name: &'a str,
        _stored: &'a RemoteObject,
        _planned: &'a Value,
    ) -> ProviderFuture<'a, RemoteObject> {
        // Every argument of the random types forces replacement, so a plan never updates one.
        Box::pin(async move {
            Err(ProviderError::Unsupported {
                type_name: type_name.to_string(),
                operation: "update",
            })
        })
    }

    fn delete<'a>(
        &'a self,
        _type_name: &'a str,
        _stored: &'a RemoteObject,
    ) -> ProviderFuture<'a, ()> {
        Box::pin(async move { Ok(()) })
    }

    fn import<'a>(&'a self, type_name: &'a str, id: &'a str) -> ProviderFuture<'a, RemoteObject> {
        Box::pin(async move {
            match type_name {
                "random_id" => {
                    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| {
                        invalid(
                            type_name,
                            format!("{id:?} is not an unpadded URL-safe base64 id"),
                        )
                    })?;
                    if bytes.is_empty() {
                        return Err(invalid(type_name, "the id is empty"));
                    }
                    let attributes = random_id_attributes(&bytes, "", Json::Null);
                    Ok(RemoteObject {
                        provider_id: Some(id.to_string()),
                        attributes,
                    })
                }
                other => Err(ProviderError::Unsupported {
                    type_name: other.to_string(),
                    operation: "import",
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn planned(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn block_on<T>(f: ProviderFuture<'_, T>) -> Result<T, ProviderError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    #[test]
    fn random_id_encodings_match_terraform() {
        // Terraform's random_id with the bytes 0x01 0xff: hex "01ff", dec "511", b64_url "Af8".
        let attrs = random_id_attributes(&[0x01, 0xff], "", Json::Null);
        assert_eq!(attrs["hex"], "01ff");
        assert_eq!(attrs["dec"], "511");
        assert_eq!(attrs["b64_url"], "Af8");
        assert_eq!(attrs["b64_std"], "Af8=");
        assert_eq!(attrs["id"], "Af8");
        let prefixed = random_id_attributes(&[0xab], "x-", Json::Null);
        assert_eq!(prefixed["hex"], "x-ab");
        assert_eq!(prefixed["id"], "qw");
    }

    #[test]
    fn decimal_handles_long_ids() {
        assert_eq!(
            decimal(&[0xff; 16]),
            "340282366920938463463374607431768211455"
        );
        assert_eq!(decimal(&[0, 0]), "0");
    }

    #[test]
    fn passwords_use_only_the_enabled_classes() {
        let provider = RandomProvider;
        let p = planned(&[
            ("length", Value::int(40)),
            ("special", Value::Bool(false)),
            ("upper", Value::Bool(false)),
        ]);
        let object = block_on(provider.create("random_password", &p)).expect("generates");
        let result = object.attributes["result"].as_str().expect("a string");
        assert_eq!(result.chars().count(), 40);
        assert!(
            result
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{result}"
        );
    }

    #[test]
    fn bad_configurations_are_errors() {
        let provider = RandomProvider;
        let none = planned(&[
            ("length", Value::int(8)),
            ("special", Value::Bool(false)),
            ("upper", Value::Bool(false)),
            ("lower", Value::Bool(false)),
            ("numeric", Value::Bool(false)),
        ]);
        assert!(block_on(provider.create("random_password", &none)).is_err());
        assert!(
            block_on(provider.create("random_id", &planned(&[("byte_length", Value::int(0))])))
                .is_err()
        );
    }

    #[test]
    fn import_recomputes_a_random_id() {
        let object = block_on(RandomProvider.import("random_id", "Af8")).expect("imports");
        assert_eq!(object.attributes["dec"], "511");
        assert!(block_on(RandomProvider.import("random_id", "!!")).is_err());
    }
}
