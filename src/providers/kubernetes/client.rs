//! The client of one cluster's API server: its endpoint (plain HTTP only on
//! loopback), its CA, Google access tokens for HTTPS, a bound on the calls in
//! flight, retries with jittered backoff, and the API server's `Status` errors.
//!
//! Invariant: no token is sent over plain HTTP; no token appears in an error, a
//! log line or a `Debug` output. Credentials are looked up at the first call,
//! never when the client is made.

use std::sync::Arc;
use std::time::Duration;

use crate::providers::priority::PrioritySemaphore;
use crate::providers::retry::{Backoff, Transient, is_loopback, retrying};
use base64::Engine as _;
use kube::api::{DeleteParams, GetParams, Patch, PatchParams};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value as Json;
use tokio::sync::OnceCell;

use crate::providers::gcp::TokenSource;

/// The field manager of every write yagura makes.
pub const FIELD_MANAGER: &str = "yagura";

/// A platform `cluster` block, as the provider needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cluster {
    /// The block's label.
    pub name: String,
    /// The API server's base URL (`https://…`, or `http://` on loopback); `None`
    /// when neither `yagura.hcl` nor the environment gives one.
    pub endpoint: Option<String>,
    /// The cluster's CA certificate: PEM, base64-encoded as GKE reports it
    /// (`masterAuth.clusterCaCertificate`); the system's roots when `None`.
    pub ca_certificate: Option<String>,
}

/// Retry, concurrency and waiting settings of one cluster's client.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Calls in flight to the cluster, at most (`apply --parallelism`).
    pub concurrency: usize,
    /// Attempts of one call, the first included.
    pub max_attempts: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest wait for a deleted namespace to be gone.
    pub deletion_timeout: Duration,
    pub poll_min: Duration,
    pub poll_max: Duration,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            concurrency: 64,
            max_attempts: 6,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            deletion_timeout: Duration::from_secs(10 * 60),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(5),
        }
    }
}

/// A failed call to the API server.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{method} {path} failed{}: {}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(), self.describe())]
pub struct KubeError {
    pub method: String,
    /// The request path, without the query.
    pub path: String,
    pub status: Option<u16>,
    /// The `reason` of the API server's `Status` (`Conflict`, `Invalid`, `NotFound`, ...).
    pub reason: Option<String>,
    pub message: String,
    /// A server-given delay (`Retry-After` or `details.retryAfterSeconds`).
    pub retry_after: Option<Duration>,
    /// Whether the request may never have reached the server (a reset or refused
    /// connection, a timeout), so that repeating it may succeed.
    transport: bool,
}

impl KubeError {
    /// A failure before any answer: nothing says the call took effect or not.
    fn transport(method: &str, path: &str, message: String) -> KubeError {
        KubeError {
            method: method.to_string(),
            path: path.to_string(),
            status: None,
            reason: None,
            message,
            retry_after: None,
            transport: true,
        }
    }

    /// A failure of the client itself (configuration, credentials): no call was made.
    fn setup(method: &str, path: &str, message: String) -> KubeError {
        KubeError {
            transport: false,
            ..KubeError::transport(method, path, message)
        }
    }

    /// Reads the API server's `Status` body; a body that is not one is quoted.
    fn from_response(
        method: &str,
        path: &str,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> KubeError {
        let parsed: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
        let text = |name: &str| {
            parsed
                .get(name)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let message = text("message").unwrap_or_else(|| {
            let quoted: String = String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(200)
                .collect();
            if quoted.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("no message")
                    .to_string()
            } else {
                quoted
            }
        });
        let retry_after_seconds = parsed
            .pointer("/details/retryAfterSeconds")
            .and_then(Json::as_u64)
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
        KubeError {
            method: method.to_string(),
            path: path.to_string(),
            status: Some(status),
            reason: text("reason"),
            message,
            retry_after: retry_after.or(retry_after_seconds),
            transport: false,
        }
    }

    /// The reason and message, as a user reads them: `Conflict: Apply failed with 1 conflict: ...`.
    pub fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{reason}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// Whether the call was never made (no endpoint, no credentials).
    pub fn is_setup(&self) -> bool {
        self.status.is_none() && !self.transport
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    /// Whether repeating the call is safe and may succeed: every call this client
    /// makes is idempotent (GET, server-side apply, DELETE), so 429, any 5xx and
    /// transport failures are repeated.
    pub fn is_retryable(&self) -> bool {
        self.transport || matches!(self.status, Some(429 | 500..=599))
    }
}

/// Where the API server is and how to trust it, checked when the client is made.
#[derive(Clone)]
struct Target {
    config: kube::Config,
    /// Whether the endpoint is HTTPS, so that calls carry a token.
    https: bool,
}

/// The API server of one cluster.
pub struct ClusterClient {
    name: String,
    /// `Err` holds why the cluster cannot be reached (no endpoint), said at the first call.
    target: Result<Target, String>,
    tokens: Arc<dyn TokenSource>,
    /// Built at the first call: building needs the runtime.
    client: OnceCell<kube::Client>,
    /// Calls in flight; freed places go to the calls more work waits on.
    permits: PrioritySemaphore,
    pub options: ClusterOptions,
}

/// Hides nothing secret (the client holds no token), but keeps the output short.
impl std::fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterClient")
            .field("name", &self.name)
            .field(
                "endpoint",
                &self
                    .target
                    .as_ref()
                    .map(|t| t.config.cluster_url.to_string()),
            )
            .finish()
    }
}

/// Reads a CA certificate given as base64 of PEM (or as PEM) into DER certificates.
fn parse_ca(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let text = text.trim();
    let pem = if text.starts_with("-----BEGIN") {
        text.as_bytes().to_vec()
    } else {
        let compact: String = text.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| format!("`ca_certificate` is not base64: {e}"))?
    };
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("`ca_certificate` is not a PEM certificate: {e}"))?;
    if certificates.is_empty() {
        return Err("`ca_certificate` holds no PEM certificate".to_string());
    }
    Ok(certificates)
}

impl ClusterClient {
    /// Checks the cluster's endpoint and CA; looks up no credentials and makes no call.
    pub fn new(
        cluster: &Cluster,
        tokens: Arc<dyn TokenSource>,
        options: ClusterOptions,
    ) -> Result<ClusterClient, String> {
        let name = &cluster.name;
        let target = match &cluster.endpoint {
            None => Err(format!(
                "cluster {name:?} has no endpoint: set `endpoint` in its `cluster` block"
            )),
            Some(endpoint) => Ok(Self::target(cluster, endpoint)?),
        };
        Ok(ClusterClient {
            name: name.clone(),
            target,
            tokens,
            client: OnceCell::new(),
            permits: PrioritySemaphore::new(options.concurrency.max(1)),
            options,
        })
    }

    fn target(cluster: &Cluster, endpoint: &str) -> Result<Target, String> {
        let name = &cluster.name;
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| format!("invalid endpoint {endpoint:?} for cluster {name:?}: {e}"))?;
        let https = match url.scheme() {
            "https" => true,
            "http" if is_loopback(&url) => false,
            "http" => {
                return Err(format!(
                    "refusing plain-HTTP endpoint {endpoint} for cluster {name:?}: plain HTTP is allowed only on loopback"
                ));
            }
            other => {
                return Err(format!(
                    "endpoint {endpoint} for cluster {name:?} has unsupported scheme {other:?}"
                ));
            }
        };
        let base = endpoint.trim_end_matches('/');
        let uri = base
            .parse()
            .map_err(|e| format!("invalid endpoint {endpoint:?} for cluster {name:?}: {e}"))?;
        let mut config = kube::Config::new(uri);
        // Retries are ours (bounded, honouring Retry-After, counting resets).
        config.default_retry = false;
        config.read_timeout = Some(Duration::from_secs(120));
        if let Some(ca) = &cluster.ca_certificate {
            config.root_cert = Some(parse_ca(ca).map_err(|e| format!("cluster {name:?}: {e}"))?);
        }
        Ok(Target { config, https })
    }

    async fn client(&self, target: &Target) -> Result<&kube::Client, String> {
        self.client
            .get_or_try_init(|| async {
                // One TLS crypto backend for the process: ring. Installing twice is harmless.
                let _ = rustls::crypto::ring::default_provider().install_default();
                kube::Client::try_from(target.config.clone())
                    .map_err(|e| format!("cannot make a client for cluster {:?}: {e}", self.name))
            })
            .await
    }

    /// Reads an object; `None` when it does not exist.
    pub async fn get(&self, collection: &str, name: &str) -> Result<Option<Json>, KubeError> {
        match self.call(collection, name, &Verb::Get).await {
            Ok(object) => Ok(Some(object)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Applies `object` server-side as the field manager `yagura`; returns the
    /// object as the server now has it.
    pub async fn apply(
        &self,
        collection: &str,
        name: &str,
        object: &Json,
        conflicts: Conflicts,
    ) -> Result<Json, KubeError> {
        let params = match conflicts {
            Conflicts::Refuse => PatchParams::apply(FIELD_MANAGER),
            Conflicts::Force => PatchParams::apply(FIELD_MANAGER).force(),
        };
        self.call(collection, name, &Verb::Apply(object, params))
            .await
    }

    /// Deletes an object; one that does not exist counts as deleted.
    pub async fn delete(&self, collection: &str, name: &str) -> Result<(), KubeError> {
        match self.call(collection, name, &Verb::Delete).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes a call, repeating what is safe to repeat with jittered exponential
    /// backoff, waiting at least as long as the server asks.
    async fn call(&self, collection: &str, name: &str, verb: &Verb<'_>) -> Result<Json, KubeError> {
        let attempt = || self.call_once(collection, name, verb);
        retrying(
            Backoff {
                max_attempts: self.options.max_attempts,
                min_delay: self.options.min_backoff,
                max_delay: self.options.max_backoff,
            },
            attempt,
        )
        .await
    }

    /// One exchange with the API server, holding one of the cluster's permits.
    async fn call_once(
        &self,
        collection: &str,
        name: &str,
        verb: &Verb<'_>,
    ) -> Result<Json, KubeError> {
        let method = verb.method();
        let path = format!("{collection}/{name}");
        let path = path.as_str();
        let target = self
            .target
            .as_ref()
            .map_err(|m| KubeError::setup(method, path, m.clone()))?;
        let client = self
            .client(target)
            .await
            .map_err(|m| KubeError::setup(method, path, m))?;
        let builder = kube::core::Request::new(collection);
        let request = match verb {
            Verb::Get => builder.get(name, &GetParams::default()),
            Verb::Apply(object, params) => builder.patch(name, params, &Patch::Apply(object)),
            Verb::Delete => builder.delete(name, &DeleteParams::default()),
        };
        let mut request =
            request.map_err(|e| KubeError::setup(method, path, format!("invalid request: {e}")))?;
        // Tokens go only to HTTPS endpoints; a loopback fake gets none.
        if target.https {
            let token = self
                .tokens
                .token()
                .await
                .map_err(|m| KubeError::setup(method, path, m))?;
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                KubeError::setup(
                    method,
                    path,
                    "the access token is not a valid header value".to_string(),
                )
            })?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        let _permit = self.permits.acquire().await;
        tracing::trace!(method, path, cluster = %self.name, "calling");
        let response = client
            .send(request.map(kube::client::Body::from))
            .await
            .map_err(|e| KubeError::transport(method, path, transport_message(&e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(|e| KubeError::transport(method, path, transport_message(&e)))?;
        if !status.is_success() {
            return Err(KubeError::from_response(
                method,
                path,
                status.as_u16(),
                retry_after,
                &body,
            ));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Object(Default::default()));
        }
        serde_json::from_slice(&body).map_err(|e| {
            KubeError::transport(method, path, format!("the response is not JSON: {e}"))
        })
    }
}

/// The calls this client makes, all idempotent.
enum Verb<'a> {
    Get,
    Apply(&'a Json, PatchParams),
    Delete,
}

impl Verb<'_> {
    fn method(&self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Apply(..) => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
}

/// What a server-side apply does about fields another manager owns with other values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflicts {
    /// Fails with the conflicts (409), changing nothing: for creates, so that
    /// yagura adopts an existing object only when no one shaped it differently.
    Refuse,
    /// Takes the fields over: for updates the user approved in a plan.
    Force,
}

/// Describes a transport failure by its innermost cause, without the URL.
fn transport_message(e: &kube::Error) -> String {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    format!("the connection failed: {detail}")
}

impl Transient for KubeError {
    fn is_retryable(&self) -> bool {
        KubeError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bodies_give_reason_message_and_delay() {
        let body =
            br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests",
            "message":"too many requests","details":{"retryAfterSeconds":2},"code":429}"#;
        let e = KubeError::from_response("GET", "/api/v1/namespaces/a", 429, None, body);
        assert_eq!(e.reason.as_deref(), Some("TooManyRequests"));
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "GET /api/v1/namespaces/a failed with HTTP 429: TooManyRequests: too many requests"
        );
        let e = KubeError::from_response(
            "PATCH",
            "/api/v1/namespaces/a",
            409,
            Some(Duration::from_secs(1)),
            br#"{"kind":"Status","reason":"Conflict","message":"Apply failed with 1 conflict: conflict with \"kubectl\" using v1: .metadata.labels.x","code":409}"#,
        );
        assert!(!e.is_retryable());
        assert!(e.describe().contains("conflict with \"kubectl\""));
        let e = KubeError::from_response("GET", "/x", 503, None, b"upstream down");
        assert_eq!(e.message, "upstream down");
        assert!(e.is_retryable());
        let e = KubeError::from_response("GET", "/x", 500, None, b"");
        assert_eq!(e.message, "Internal Server Error");
    }

    fn cluster(endpoint: &str) -> Cluster {
        Cluster {
            name: "dev".to_string(),
            endpoint: Some(endpoint.to_string()),
            ca_certificate: None,
        }
    }

    fn make(cluster: &Cluster) -> Result<ClusterClient, String> {
        ClusterClient::new(
            cluster,
            Arc::new(crate::providers::gcp::DefaultCredentials::default()),
            ClusterOptions::default(),
        )
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(make(&cluster("http://127.0.0.1:8001")).is_ok());
        assert!(make(&cluster("http://localhost:8001/")).is_ok());
        assert!(make(&cluster("https://10.0.0.2")).is_ok());
        let refused = make(&cluster("http://10.0.0.2")).unwrap_err();
        assert!(
            refused.contains("plain HTTP is allowed only on loopback"),
            "{refused}"
        );
        assert!(
            make(&cluster("ftp://10.0.0.2"))
                .unwrap_err()
                .contains("unsupported scheme")
        );
    }

    #[test]
    fn a_cluster_without_endpoint_fails_at_the_first_call() {
        let client = make(&Cluster {
            name: "dev".to_string(),
            ..Cluster::default()
        })
        .expect("no endpoint is no error until a call");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let error = runtime
            .block_on(client.get("/api/v1/namespaces", "a"))
            .unwrap_err();
        assert!(!error.is_retryable());
        assert!(error.message.contains("has no endpoint"), "{error}");
    }

    #[test]
    fn ca_certificates_are_base64_pem() {
        let garbage = make(&Cluster {
            ca_certificate: Some("not base64!".to_string()),
            ..cluster("https://10.0.0.2")
        })
        .unwrap_err();
        assert!(garbage.contains("not base64"), "{garbage}");
        let not_pem = base64::engine::general_purpose::STANDARD.encode("hello");
        let error = make(&Cluster {
            ca_certificate: Some(not_pem),
            ..cluster("https://10.0.0.2")
        })
        .unwrap_err();
        assert!(error.contains("no PEM certificate"), "{error}");
    }
}
