//! Google's error envelope: `ApiError` values and how they become HTTP responses.
//!
//! Every handler returns `Result<_, ApiError>`; this module alone decides the JSON
//! shape (`{"error": {code, message, status, errors[], details[]}}`), the HTTP
//! status code for each `google.rpc.Code` name, and the `Retry-After` header.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::serving;

/// The canonical `google.rpc.Code` values the fake emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    FailedPrecondition,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    Aborted,
    ResourceExhausted,
    Internal,
    Unavailable,
}

impl Code {
    /// Returns the canonical name, as Google puts it in `error.status`.
    pub fn name(self) -> &'static str {
        match self {
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::Aborted => "ABORTED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
        }
    }

    /// Returns the numeric `google.rpc.Code`, used in an operation's `error`.
    pub fn number(self) -> u16 {
        match self {
            Code::InvalidArgument => 3,
            Code::FailedPrecondition => 9,
            Code::PermissionDenied => 7,
            Code::NotFound => 5,
            Code::AlreadyExists => 6,
            Code::Aborted => 10,
            Code::ResourceExhausted => 8,
            Code::Internal => 13,
            Code::Unavailable => 14,
        }
    }

    /// Returns the HTTP status Google maps the code to.
    pub fn http_status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Returns the legacy `errors[].reason` Google pairs with the code.
    fn legacy_reason(self) -> &'static str {
        match self {
            Code::InvalidArgument => "badRequest",
            Code::FailedPrecondition => "failedPrecondition",
            Code::PermissionDenied => "forbidden",
            Code::NotFound => "notFound",
            Code::AlreadyExists => "alreadyExists",
            Code::Aborted => "aborted",
            Code::ResourceExhausted => "rateLimitExceeded",
            Code::Internal => "backendError",
            Code::Unavailable => "backendError",
        }
    }
}

/// An error answered in Google's envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// The legacy `errors[].reason`; defaults to the one matching `code`.
    pub reason: Option<&'static str>,
    /// The legacy `errors[].domain`; defaults to `global`.
    pub domain: Option<&'static str>,
    /// `google.rpc` detail messages, each with its `@type`.
    pub details: Vec<Value>,
    /// Seconds for a `Retry-After` header.
    pub retry_after_secs: Option<u64>,
    /// The HTTP status when it is not the one `code` maps to, as DNS answers 412.
    pub http_status: Option<StatusCode>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            reason: None,
            domain: None,
            details: Vec::new(),
            retry_after_secs: None,
            http_status: None,
        }
    }

    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InvalidArgument, message)
    }

    /// Returns a 400 naming the offending field, with a `BadRequest` detail.
    pub fn invalid_field(field: &str, description: impl Into<String>) -> ApiError {
        let description = description.into();
        ApiError::invalid_argument(format!("Invalid value for field '{field}': {description}"))
            .with_detail(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": description}],
            }))
    }

    /// Returns a 400 for a required field that is missing or empty.
    pub fn missing_field(field: &str) -> ApiError {
        ApiError::invalid_field(field, "this field is required")
    }

    pub fn failed_precondition(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::FailedPrecondition, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::PermissionDenied, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::AlreadyExists, message)
    }

    /// Returns the 409 Google answers to a policy write with a stale etag.
    pub fn concurrent_policy_change() -> ApiError {
        ApiError::new(
            Code::Aborted,
            "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
        )
    }

    pub fn with_reason(mut self, reason: &'static str) -> ApiError {
        self.reason = Some(reason);
        self
    }

    pub fn with_domain(mut self, domain: &'static str) -> ApiError {
        self.domain = Some(domain);
        self
    }

    pub fn with_detail(mut self, detail: Value) -> ApiError {
        self.details.push(detail);
        self
    }

    /// Overrides the HTTP status; Cloud DNS answers a stale change with 412.
    pub fn with_http_status(mut self, status: StatusCode) -> ApiError {
        self.http_status = Some(status);
        self
    }

    /// Returns the HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.http_status.unwrap_or(self.code.http_status())
    }

    pub fn with_retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Returns the `google.rpc.Status` form used in a failed operation's `error`.
    pub fn to_status(&self) -> Value {
        let mut status = json!({"code": self.code.number(), "message": self.message});
        if !self.details.is_empty() {
            status["details"] = Value::Array(self.details.clone());
        }
        status
    }

    /// Returns the `{"error": …}` envelope.
    pub fn to_envelope(&self) -> Value {
        let mut error = json!({
            "code": self.status().as_u16(),
            "message": self.message,
            "status": self.code.name(),
            "errors": [{
                "domain": self.domain.unwrap_or("global"),
                "reason": self.reason.unwrap_or(self.code.legacy_reason()),
                "message": self.message,
            }],
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        json!({"error": error})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        serving::error_response(self.status(), self.to_envelope(), self.retry_after_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_google_shape() {
        let error = ApiError::already_exists("Requested entity already exists");
        assert_eq!(
            error.to_envelope(),
            json!({"error": {
                "code": 409,
                "message": "Requested entity already exists",
                "status": "ALREADY_EXISTS",
                "errors": [{"domain": "global", "reason": "alreadyExists",
                            "message": "Requested entity already exists"}],
            }})
        );
    }

    #[test]
    fn operation_status_uses_rpc_code() {
        let error = ApiError::new(Code::Internal, "boom");
        assert_eq!(error.to_status(), json!({"code": 13, "message": "boom"}));
    }
}
