//! Checks of request bodies against the Kubernetes JSON schemas (`--schemas`).
//!
//! The folder holds one draft 2020-12 schema per kind (`<kind>-v1.json`,
//! `<kind>-rbac-v1.json`) whose `$ref`s point into `/api/_definitions.json`
//! beside them. `_definitions.json` is registered under its own `$id`, so every
//! reference resolves locally; nothing is fetched. A body that fails its kind's
//! schema gets a 422 `Invalid` naming each failing field.

use std::collections::HashMap;
use std::path::Path;

use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, Registry, ValidationError, Validator};
use serde_json::Value;

use crate::errors::FieldError;
use crate::kinds::{self, Kind};

/// The base of the schemas' `$id`s, against which their `$ref`s resolve.
const BASE_URI: &str = "https://kubernetes.io/api/";

/// One compiled validator per served kind.
pub struct Schemas {
    validators: HashMap<&'static str, Validator>,
}

impl Schemas {
    /// Reads and compiles the schemas of every served kind from `dir`.
    pub fn load(dir: &Path) -> Result<Schemas, String> {
        let definitions = read_json(&dir.join("_definitions.json"))?;
        let definitions_uri = definitions
            .get("$id")
            .and_then(Value::as_str)
            .unwrap_or("https://kubernetes.io/api/_definitions.json")
            .to_owned();
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(&definitions_uri, definitions)
            .and_then(|builder| builder.prepare())
            .map_err(|error| format!("cannot register {definitions_uri}: {error}"))?;
        let mut validators = HashMap::new();
        for kind in kinds::KINDS {
            let path = dir.join(format!("{}.json", kind.schema_file));
            let schema = read_json(&path)?;
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&registry)
                .with_base_uri(BASE_URI)
                .build(&schema)
                .map_err(|error| format!("schema {} does not compile: {error}", path.display()))?;
            validators.insert(kind.resource, validator);
        }
        Ok(Schemas { validators })
    }

    /// Returns the schema violations of an object of a kind, as field errors.
    pub fn check(&self, kind: &Kind, object: &Value) -> Vec<FieldError> {
        let Some(validator) = self.validators.get(kind.resource) else {
            return Vec::new();
        };
        validator
            .iter_errors(object)
            .map(|error| field_error(&error))
            .collect()
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read schema {}: {error}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("schema {} is not JSON: {error}", path.display()))
}

/// Words one schema violation as a field error: `spec.hard: Invalid value: …`.
fn field_error(error: &ValidationError<'_>) -> FieldError {
    let mut field = String::new();
    for segment in error.instance_path().segments() {
        match segment {
            LocationSegment::Property(name) => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(&name);
            }
            LocationSegment::Index(index) => field.push_str(&format!("[{index}]")),
        }
    }
    let mut value = error.instance().to_string();
    if value.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|index| value.is_char_boundary(*index))
            .unwrap_or(0);
        value.truncate(cut);
        value.push('…');
    }
    FieldError::invalid(field, &value, error.to_string())
}
