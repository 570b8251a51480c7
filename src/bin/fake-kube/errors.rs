//! Kubernetes' error body: `ApiError` values and how they become HTTP responses.
//!
//! Every handler returns `Result<_, ApiError>`; this module alone decides the JSON
//! shape (a `Status` object with `kind`, `apiVersion`, `metadata`, `status`,
//! `message`, `reason`, `details` and `code`), the HTTP status code of each reason,
//! and the `Retry-After` header. The constructors follow the apiserver's
//! `k8s.io/apimachinery/pkg/api/errors` (`NewNotFound`, `NewAlreadyExists`,
//! `NewConflict`, `NewInvalid`, `NewForbidden`, …), so messages read as a real
//! server's do.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::kinds::Kind;
use crate::serving;

/// The `StatusReason` values the fake emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    BadRequest,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    MethodNotAllowed,
    Expired,
    RequestEntityTooLarge,
    UnsupportedMediaType,
    TooManyRequests,
    InternalError,
    ServiceUnavailable,
}

impl Reason {
    /// Returns the name Kubernetes puts in `reason`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::BadRequest => "BadRequest",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Invalid => "Invalid",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::Expired => "Expired",
            Reason::RequestEntityTooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::InternalError => "InternalError",
            Reason::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// Returns the HTTP status the apiserver answers with.
    pub fn http_status(self) -> StatusCode {
        match self {
            Reason::BadRequest => StatusCode::BAD_REQUEST,
            Reason::Forbidden => StatusCode::FORBIDDEN,
            Reason::NotFound => StatusCode::NOT_FOUND,
            Reason::AlreadyExists | Reason::Conflict => StatusCode::CONFLICT,
            Reason::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reason::Expired => StatusCode::GONE,
            Reason::RequestEntityTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reason::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Reason::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            Reason::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// One entry of `details.causes`: a `StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The cause's `reason` (Go's `Type`), e.g. `FieldValueInvalid`.
    pub reason: String,
    pub message: String,
    /// The field path, e.g. `metadata.name`; empty when none.
    pub field: String,
}

impl Cause {
    pub fn new(
        reason: impl Into<String>,
        message: impl Into<String>,
        field: impl Into<String>,
    ) -> Cause {
        Cause {
            reason: reason.into(),
            message: message.into(),
            field: field.into(),
        }
    }

    fn to_json(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("reason".to_owned(), self.reason.clone().into());
        cause.insert("message".to_owned(), self.message.clone().into());
        if !self.field.is_empty() {
            cause.insert("field".to_owned(), self.field.clone().into());
        }
        Value::Object(cause)
    }
}

/// One field error of a 422, as `k8s.io/apimachinery/pkg/util/validation/field` forms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueForbidden`, …
    pub reason: &'static str,
    pub field: String,
    /// The text after the field, e.g. `Invalid value: "x": must be …`.
    pub body: String,
}

impl FieldError {
    /// Returns `Invalid value: <value>: <detail>`; `value` is already rendered.
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl AsRef<str>) -> FieldError {
        FieldError {
            reason: "FieldValueInvalid",
            field: field.into(),
            body: format!("Invalid value: {value}: {}", detail.as_ref()),
        }
    }

    /// Returns `Required value: <detail>` (or only `Required value`).
    pub fn required(field: impl Into<String>, detail: &str) -> FieldError {
        let body = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        FieldError {
            reason: "FieldValueRequired",
            field: field.into(),
            body,
        }
    }

    /// Returns `Unsupported value: <value>: supported values: …`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> FieldError {
        let supported: Vec<String> = supported.iter().map(|value| format!("{value:?}")).collect();
        FieldError {
            reason: "FieldValueNotSupported",
            field: field.into(),
            body: format!(
                "Unsupported value: {value}: supported values: {}",
                supported.join(", ")
            ),
        }
    }

    /// The error as Go prints it: `<field>: <body>`.
    pub fn text(&self) -> String {
        if self.field.is_empty() {
            self.body.clone()
        } else {
            format!("{}: {}", self.field, self.body)
        }
    }
}

/// An error answered as a Kubernetes `Status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    /// `details.name`.
    pub name: Option<String>,
    /// `details.group`; omitted when empty, as for the core group.
    pub group: Option<&'static str>,
    /// `details.kind`: the resource (`namespaces`) for most reasons, the kind
    /// (`Namespace`) for `Invalid`, as the apiserver fills it.
    pub kind: Option<&'static str>,
    pub causes: Vec<Cause>,
    /// Seconds for `details.retryAfterSeconds` and the `Retry-After` header.
    pub retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(reason: Reason, message: impl Into<String>) -> ApiError {
        ApiError {
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// Returns `NewBadRequest`: a 400 without details.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(Reason::BadRequest, message)
    }

    /// Returns `NewNotFound`: `<resource> "<name>" not found`.
    pub fn not_found(kind: &'static Kind, name: &str) -> ApiError {
        ApiError::new(
            Reason::NotFound,
            format!("{} {name:?} not found", kind.qualified_resource()),
        )
        .with_resource(kind, name)
    }

    /// Returns the 404 for a path that names no resource of this server.
    pub fn path_not_found() -> ApiError {
        ApiError::new(
            Reason::NotFound,
            "the server could not find the requested resource",
        )
    }

    /// Returns `NewAlreadyExists`: `<resource> "<name>" already exists`.
    pub fn already_exists(kind: &'static Kind, name: &str) -> ApiError {
        ApiError::new(
            Reason::AlreadyExists,
            format!("{} {name:?} already exists", kind.qualified_resource()),
        )
        .with_resource(kind, name)
    }

    /// Returns `NewConflict`: `Operation cannot be fulfilled on <resource> "<name>": …`.
    pub fn conflict(kind: &'static Kind, name: &str, detail: &str) -> ApiError {
        ApiError::new(
            Reason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} {name:?}: {detail}",
                kind.qualified_resource()
            ),
        )
        .with_resource(kind, name)
    }

    /// Returns the 409 of a write whose `resourceVersion` is not the stored one.
    pub fn stale_resource_version(kind: &'static Kind, name: &str) -> ApiError {
        ApiError::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// Returns `NewForbidden`: `<resource> "<name>" is forbidden: <detail>`.
    pub fn forbidden(kind: &'static Kind, name: &str, detail: &str) -> ApiError {
        ApiError::new(
            Reason::Forbidden,
            format!(
                "{} {name:?} is forbidden: {detail}",
                kind.qualified_resource()
            ),
        )
        .with_resource(kind, name)
    }

    /// Returns `NewInvalid`: `<Kind> "<name>" is invalid: <errors>`, one cause per error.
    pub fn invalid(kind: &'static Kind, name: &str, errors: &[FieldError]) -> ApiError {
        let aggregate = match errors {
            [one] => one.text(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(FieldError::text)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut error = ApiError::new(
            Reason::Invalid,
            format!("{} {name:?} is invalid: {aggregate}", kind.qualified_kind()),
        );
        error.name = Some(name.to_owned());
        error.group = (!kind.group.is_empty()).then_some(kind.group);
        error.kind = Some(kind.kind);
        error.causes = errors
            .iter()
            .map(|field_error| {
                Cause::new(field_error.reason, &field_error.body, &field_error.field)
            })
            .collect();
        error
    }

    /// Returns `NewTooManyRequests` with `details.retryAfterSeconds`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u32) -> ApiError {
        let mut error = ApiError::new(Reason::TooManyRequests, message);
        error.retry_after_secs = Some(retry_after_secs);
        error
    }

    /// Fills `details.name`, `group` and `kind` (the resource) as most constructors do.
    pub fn with_resource(mut self, kind: &'static Kind, name: &str) -> ApiError {
        self.name = Some(name.to_owned());
        self.group = (!kind.group.is_empty()).then_some(kind.group);
        self.kind = Some(kind.resource);
        self
    }

    pub fn with_cause(mut self, cause: Cause) -> ApiError {
        self.causes.push(cause);
        self
    }

    /// Returns the HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.reason.http_status()
    }

    /// Returns the `Status` object.
    pub fn to_status(&self) -> Value {
        let mut details = Map::new();
        if let Some(name) = &self.name {
            details.insert("name".to_owned(), name.clone().into());
        }
        if let Some(group) = self.group {
            details.insert("group".to_owned(), group.into());
        }
        if let Some(kind) = self.kind {
            details.insert("kind".to_owned(), kind.into());
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".to_owned(),
                self.causes.iter().map(Cause::to_json).collect(),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            details.insert("retryAfterSeconds".to_owned(), secs.into());
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.name(),
            "code": self.status().as_u16(),
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        serving::error_response(
            self.status(),
            self.to_status(),
            self.retry_after_secs.map(u64::from),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let error = ApiError::not_found(
            kinds::find("rbac.authorization.k8s.io", "roles").unwrap(),
            "r",
        );
        assert_eq!(
            error.to_status(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "roles.rbac.authorization.k8s.io \"r\" not found",
                "reason": "NotFound",
                "details": {"name": "r", "group": "rbac.authorization.k8s.io", "kind": "roles"},
                "code": 404,
            })
        );
    }

    #[test]
    fn invalid_lists_every_error() {
        let namespace = kinds::find("", "namespaces").unwrap();
        let errors = [
            FieldError::required("metadata.name", ""),
            FieldError::invalid("metadata.labels", "\"x\"", "bad"),
        ];
        let error = ApiError::invalid(namespace, "n", &errors);
        assert_eq!(
            error.message,
            "Namespace \"n\" is invalid: [metadata.name: Required value, metadata.labels: Invalid value: \"x\": bad]"
        );
        assert_eq!(error.to_status()["details"]["kind"], "Namespace");
        assert_eq!(error.to_status()["code"], 422);
    }
}
