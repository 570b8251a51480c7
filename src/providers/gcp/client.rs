//! The one HTTP client every Google API call goes through: endpoints,
//! credentials, retries with jittered backoff, per-API concurrency, Google's
//! error envelope, and the long-running operations of each API.
//!
//! Invariant: no token is sent to a plain-HTTP endpoint, and plain HTTP is
//! refused except on loopback. Nothing secret is logged.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::providers::retry::{Backoff, Transient, is_loopback, retrying};
use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use tokio::sync::{OnceCell, Semaphore};

use crate::providers::priority::PrioritySemaphore;

/// The Google APIs yagura calls, by their discovery names.
pub const APIS: &[(&str, &str)] = &[
    (
        "cloudresourcemanager",
        "https://cloudresourcemanager.googleapis.com/",
    ),
    ("cloudbilling", "https://cloudbilling.googleapis.com/"),
    ("serviceusage", "https://serviceusage.googleapis.com/"),
    ("iam", "https://iam.googleapis.com/"),
    ("sqladmin", "https://sqladmin.googleapis.com/"),
    ("dns", "https://dns.googleapis.com/"),
    ("secretmanager", "https://secretmanager.googleapis.com/"),
    ("spanner", "https://spanner.googleapis.com/"),
    ("storage", "https://storage.googleapis.com/"),
];

const SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform"];

/// Base URLs of the APIs: Google's, unless overridden.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoints(BTreeMap<String, String>);

impl Default for Endpoints {
    fn default() -> Endpoints {
        Endpoints(
            APIS.iter()
                .map(|(api, url)| (api.to_string(), url.to_string()))
                .collect(),
        )
    }
}

impl Endpoints {
    /// Overrides one API's base URL (from `yagura.hcl`, `YAGURA_ENDPOINT_<API>` or a fake's map).
    pub fn set(&mut self, api: &str, url: &str) -> Result<(), String> {
        if !APIS.iter().any(|(known, _)| *known == api) {
            let names: Vec<&str> = APIS.iter().map(|(a, _)| *a).collect();
            return Err(format!(
                "unknown API {api:?}; the APIs are {}",
                names.join(", ")
            ));
        }
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| format!("invalid endpoint {url:?} for {api}: {e}"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => {
                return Err(format!(
                    "refusing plain-HTTP endpoint {url} for {api}: plain HTTP is allowed only on loopback"
                ));
            }
            other => {
                return Err(format!(
                    "endpoint {url} for {api} has unsupported scheme {other:?}"
                ));
            }
        }
        let mut url = url.to_string();
        if !url.ends_with('/') {
            url.push('/');
        }
        self.0.insert(api.to_string(), url);
        Ok(())
    }

    /// Overrides endpoints from a JSON object such as the one `fake-gcp` prints.
    pub fn set_all(&mut self, map: &Json) -> Result<(), String> {
        let map = map
            .as_object()
            .ok_or("the endpoint map is not a JSON object")?;
        for (api, url) in map {
            let url = url
                .as_str()
                .ok_or_else(|| format!("the endpoint of {api} is not a string"))?;
            self.set(api, url)?;
        }
        Ok(())
    }

    pub fn base(&self, api: &str) -> &str {
        self.0.get(api).map_or("", String::as_str)
    }
}

/// A failed Google API call, with what a user needs to act on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {path} failed{}: {message}", status.map(|s| format!(" with HTTP {s}{}", status_name.as_ref().map(|n| format!(" {n}")).unwrap_or_default())).unwrap_or_default())]
pub struct GcpError {
    pub method: String,
    /// The path below the API's base URL (no query string, so nothing secret).
    pub path: String,
    pub status: Option<u16>,
    /// Google's canonical status name (`ALREADY_EXISTS`, `ABORTED`, ...).
    pub status_name: Option<String>,
    /// The first reason of `errors[]` or `details[]` (`rateLimitExceeded`, `SERVICE_DISABLED`).
    pub reason: Option<String>,
    pub message: String,
    /// A server-given delay (Retry-After or RetryInfo).
    pub retry_after: Option<Duration>,
}

impl GcpError {
    fn transport(method: &Method, path: &str, message: String) -> GcpError {
        GcpError {
            method: method.to_string(),
            path: path.to_string(),
            status: None,
            status_name: None,
            reason: None,
            message,
            retry_after: None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }

    pub fn is_already_exists(&self) -> bool {
        self.status_name.as_deref() == Some("ALREADY_EXISTS")
            || (self.status == Some(409)
                && self
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.to_lowercase().contains("alreadyexists")))
    }

    /// Whether repeating the same call is safe and may succeed: 429, 502–504,
    /// and transport failures (reset connections, timeouts).
    pub fn is_retryable(&self) -> bool {
        matches!(self.status, None | Some(429 | 502 | 503 | 504)) || self.is_service_disabled()
    }

    /// A 403 `SERVICE_DISABLED`: the API is off in the project, or was enabled a
    /// moment ago and has not reached every front end yet. The call did nothing,
    /// so it is repeated (with the usual bounded backoff) before it fails.
    pub fn is_service_disabled(&self) -> bool {
        self.status == Some(403) && self.reason.as_deref() == Some("SERVICE_DISABLED")
    }

    /// Reads Google's error envelope (`{"error": {code, message, status, errors, details}}`).
    fn from_response(
        method: &Method,
        path: &str,
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &str,
    ) -> GcpError {
        let envelope: Json = serde_json::from_str(body).unwrap_or(Json::Null);
        // Google's front ends wrap the status in `error`; the Spanner emulator's
        // gateway returns a bare `google.rpc.Status` with a gRPC code.
        let error = envelope
            .get("error")
            .or_else(|| envelope.get("message").map(|_| &envelope));
        let message = error
            .and_then(|e| e.get("message"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                let text: String = body.chars().take(200).collect();
                if text.is_empty() {
                    status
                        .canonical_reason()
                        .unwrap_or("no message")
                        .to_string()
                } else {
                    text
                }
            });
        let status_name = error
            .and_then(|e| e.get("status"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .or_else(|| {
                let bare = envelope.get("error").is_none();
                let code = error
                    .and_then(|e| e.get("code"))
                    .and_then(Json::as_u64)
                    .filter(|_| bare)?;
                grpc_code_name(code).map(str::to_string)
            });
        let details = error
            .and_then(|e| e.get("details"))
            .and_then(Json::as_array);
        let reason = details
            .and_then(|d| {
                d.iter()
                    .find_map(|x| x.get("reason").and_then(Json::as_str))
            })
            .or_else(|| {
                error
                    .and_then(|e| e.get("errors"))
                    .and_then(Json::as_array)
                    .and_then(|errors| {
                        errors
                            .iter()
                            .find_map(|x| x.get("reason").and_then(Json::as_str))
                    })
            })
            .map(str::to_string);
        let retry_info = details.and_then(|d| {
            d.iter().find_map(|x| {
                x.get("retryDelay")
                    .and_then(Json::as_str)
                    .and_then(|s| s.strip_suffix('s'))
                    .and_then(|s| s.parse::<f64>().ok())
                    .map(Duration::from_secs_f64)
            })
        });
        GcpError {
            method: method.to_string(),
            path: path.to_string(),
            status: Some(status.as_u16()),
            status_name,
            reason,
            message,
            retry_after: retry_after.or(retry_info),
        }
    }
}

/// Where access tokens come from.
pub trait TokenSource: Send + Sync {
    fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

/// Application default credentials through gcp_auth: a service-account key
/// (`GOOGLE_APPLICATION_CREDENTIALS`), gcloud's ADC, the metadata server.
/// The provider is found once; gcp_auth caches tokens and refreshes them, and
/// concurrent callers share one fetch.
#[derive(Default)]
pub struct DefaultCredentials {
    provider: OnceCell<Arc<dyn gcp_auth::TokenProvider>>,
    /// A key file to use instead of discovering the credentials.
    key_file: Option<std::path::PathBuf>,
    /// Held around a token request, so that callers who miss the cache at the same
    /// moment wait for the first one's fetch and then find its token cached.
    fetching: tokio::sync::Mutex<()>,
}

impl DefaultCredentials {
    /// Credentials from a service-account key file rather than the environment.
    pub fn from_service_account_file(path: impl Into<std::path::PathBuf>) -> DefaultCredentials {
        DefaultCredentials {
            key_file: Some(path.into()),
            ..DefaultCredentials::default()
        }
    }
}

impl TokenSource for DefaultCredentials {
    fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let provider = self
                .provider
                .get_or_try_init(|| async {
                    match &self.key_file {
                        Some(path) => gcp_auth::CustomServiceAccount::from_file(path)
                            .map(|account| Arc::new(account) as Arc<dyn gcp_auth::TokenProvider>),
                        None => gcp_auth::provider().await,
                    }
                })
                .await
                .map_err(|e| format!("no Google credentials found: {e}"))?;
            let _fetching = self.fetching.lock().await;
            let token = provider
                .token(SCOPES)
                .await
                .map_err(|e| format!("cannot get an access token: {e}"))?;
            Ok(token.as_str().to_string())
        })
    }
}

/// Retry and concurrency settings.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Calls in flight per API, at most; halved while the API answers 429 and
    /// grown back one at a time as calls succeed.
    pub per_api_concurrency: usize,
    /// Calls in flight across every API (`apply --parallelism`).
    pub total_concurrency: usize,
    /// Attempts of one call, the first included.
    pub max_attempts: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest wait for a long-running operation.
    pub operation_timeout: Duration,
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// How long an IAM policy write naming a service account this process created
    /// waits for IAM to know it (reads of IAM are eventually consistent), and a
    /// read of that account's own policy waits for it to be found.
    pub new_account_window: Duration,
    /// How long an IAM policy write naming a service account this process did not
    /// create waits for it: long enough for one another process made a moment ago,
    /// short enough that a misspelt member fails soon.
    pub unknown_account_window: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            per_api_concurrency: 64,
            total_concurrency: 64,
            max_attempts: 6,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(30 * 60),
            poll_min: Duration::from_millis(50),
            poll_max: Duration::from_secs(30),
            new_account_window: Duration::from_secs(120),
            unknown_account_window: Duration::from_secs(30),
        }
    }
}

/// The shared Google API client.
pub struct GcpClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: Arc<dyn TokenSource>,
    limits: BTreeMap<String, ApiLimit>,
    /// Every API's calls in flight; freed places go to the calls more work waits on.
    total: PrioritySemaphore,
    pub options: ClientOptions,
}

/// The adaptive bound on one API's calls in flight: halved on a 429, grown by one
/// after as many successes as calls are allowed (additive increase,
/// multiplicative decrease, as TCP does).
struct ApiLimit {
    permits: Semaphore,
    max: usize,
    current: std::sync::atomic::AtomicUsize,
    successes: std::sync::atomic::AtomicUsize,
}

impl ApiLimit {
    fn new(max: usize) -> ApiLimit {
        ApiLimit {
            permits: Semaphore::new(max),
            max,
            current: max.into(),
            successes: 0.into(),
        }
    }

    fn throttled(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let current = self.current.load(SeqCst);
        let target = (current / 2).max(1);
        let mut removed = 0;
        while current - removed > target {
            match self.permits.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    removed += 1;
                }
                Err(_) => break,
            }
        }
        if removed > 0 {
            self.current.fetch_sub(removed, SeqCst);
            tracing::debug!(
                from = current,
                to = current - removed,
                "an API asked to slow down"
            );
        }
    }

    fn succeeded(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let current = self.current.load(SeqCst);
        if current >= self.max {
            return;
        }
        if self.successes.fetch_add(1, SeqCst) + 1 >= current {
            self.successes.store(0, SeqCst);
            self.current.fetch_add(1, SeqCst);
            self.permits.add_permits(1);
        }
    }

    /// Records how a call ended.
    fn observe(&self, status: StatusCode, reason: Option<&str>) {
        if status == StatusCode::TOO_MANY_REQUESTS || reason == Some("RESOURCE_EXHAUSTED") {
            self.throttled();
        } else if status.is_success() {
            self.succeeded();
        }
    }
}

impl GcpClient {
    pub fn new(
        endpoints: Endpoints,
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<GcpClient, String> {
        // One TLS crypto backend for the process: ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("yagura/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let limits = APIS
            .iter()
            .map(|(api, _)| {
                (
                    api.to_string(),
                    ApiLimit::new(options.per_api_concurrency.max(1)),
                )
            })
            .collect();
        Ok(GcpClient {
            http,
            endpoints,
            tokens,
            limits,
            total: PrioritySemaphore::new(options.total_concurrency.max(1)),
            options,
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Calls `method base(api)/path` with an optional JSON body; retries what is safe to retry.
    pub async fn call(
        &self,
        api: &str,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, GcpError> {
        let attempt = || self.call_once(api, method.clone(), path, body);
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

    async fn call_once(
        &self,
        api: &str,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, GcpError> {
        let path_only = path.split('?').next().unwrap_or(path);
        let url = reqwest::Url::parse(&format!("{}{path}", self.endpoints.base(api)))
            .map_err(|e| GcpError::transport(&method, path_only, format!("invalid URL: {e}")))?;
        let body = body.map(|b| {
            (
                "application/json",
                serde_json::to_vec(b).expect("JSON values serialise"),
            )
        });
        let (_, _, bytes) = self.exchange(api, &method, path_only, url, body).await?;
        let text = String::from_utf8_lossy(&bytes);
        if text.trim().is_empty() {
            return Ok(Json::Object(Default::default()));
        }
        serde_json::from_str(&text).map_err(|e| {
            GcpError::transport(&method, path_only, format!("the response is not JSON: {e}"))
        })
    }

    /// One HTTP exchange with an API within its bounds: its own and the total
    /// permits, a token for HTTPS only, and the adaptive limit told how it went.
    /// An answer other than 2xx is an error read from Google's envelope; `path`
    /// (without query) names the call in errors.
    async fn exchange(
        &self,
        api: &str,
        method: &Method,
        path: &str,
        url: reqwest::Url,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), GcpError> {
        let limit = self.limits.get(api);
        let _permit = match limit {
            Some(limit) => Some(
                limit
                    .permits
                    .acquire()
                    .await
                    .map_err(|e| GcpError::transport(method, path, e.to_string()))?,
            ),
            None => None,
        };
        let _total = self.total.acquire().await;
        let https = url.scheme() == "https";
        let mut request = self.http.request(method.clone(), url);
        // Tokens go only to HTTPS endpoints; a loopback fake or emulator gets none.
        if https {
            let token = self
                .tokens
                .token()
                .await
                .map_err(|m| GcpError::transport(method, path, m))?;
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        tracing::trace!(%method, api, path, "calling");
        let response = request
            .send()
            .await
            .map_err(|e| GcpError::transport(method, path, transport_message(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GcpError::transport(method, path, transport_message(&e)))?
            .to_vec();
        if !status.is_success() {
            let error = GcpError::from_response(
                method,
                path,
                status,
                retry_after,
                &String::from_utf8_lossy(&bytes),
            );
            if let Some(limit) = limit {
                limit.observe(status, error.status_name.as_deref());
            }
            return Err(error);
        }
        if let Some(limit) = limit {
            limit.observe(status, None);
        }
        Ok((status, headers, bytes))
    }

    /// Makes a call that returns a Google `Operation` and waits for it; `version`
    /// is the API's path prefix for operations (`v1`, `v3`).
    pub async fn call_and_wait(
        &self,
        api: &str,
        version: &str,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Json, GcpError> {
        let operation = self.call(api, method, path, body).await?;
        self.wait_operation(api, version, operation).await
    }

    /// Polls a Google `Operation` (Resource Manager, Service Usage, Spanner) until
    /// `done`, with capped backoff; returns its `response`, or its `error` as a failure.
    pub async fn wait_operation(
        &self,
        api: &str,
        version: &str,
        operation: Json,
    ) -> Result<Json, GcpError> {
        let is_done = |op: &Json| op.get("done").and_then(Json::as_bool) == Some(true);
        let operation = if is_done(&operation) {
            operation
        } else {
            let name = operation
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                return Err(GcpError::transport(
                    &Method::GET,
                    "operation",
                    "an unfinished operation has no name".to_string(),
                ));
            }
            let path = format!("{version}/{name}");
            self.poll(api, &path, operation.clone(), is_done).await?
        };
        let name = operation
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        match operation.get("error") {
            Some(error) => Err(GcpError {
                method: "operation".to_string(),
                path: name,
                // An operation's error carries a gRPC code, not an HTTP status.
                status: None,
                status_name: error
                    .get("code")
                    .and_then(Json::as_u64)
                    .and_then(grpc_code_name)
                    .map(str::to_string),
                reason: None,
                message: error
                    .get("message")
                    .and_then(Json::as_str)
                    .unwrap_or("the operation failed")
                    .to_string(),
                retry_after: None,
            }),
            None => Ok(operation.get("response").cloned().unwrap_or(Json::Null)),
        }
    }

    /// Reads `path` until `done` holds for what it returns, starting from `first`
    /// (the answer of the call that started the work): every API's long-running
    /// work (operations, Cloud SQL operations, DNS changes) is waited for here.
    /// The first look is at once, as much work is done by then and an early GET
    /// costs less than a sleep on every create; then the delay doubles from
    /// `poll_min` to `poll_max`, up to `operation_timeout`. A 404 counts as not
    /// done yet: right after the call the work may not be readable.
    pub async fn poll(
        &self,
        api: &str,
        path: &str,
        first: Json,
        done: impl Fn(&Json) -> bool,
    ) -> Result<Json, GcpError> {
        let mut current = first;
        let mut delay = self.options.poll_min;
        let mut polls = 0u32;
        let deadline = tokio::time::Instant::now() + self.options.operation_timeout;
        loop {
            if done(&current) {
                return Ok(current);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(GcpError::transport(
                    &Method::GET,
                    path,
                    "timed out waiting for the work to finish".to_string(),
                ));
            }
            if polls > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.options.poll_max);
            }
            polls += 1;
            current = match self.call(api, Method::GET, path, None).await {
                Ok(polled) => polled,
                Err(e) if e.is_not_found() => current,
                Err(e) => return Err(e),
            };
        }
    }
}

/// Whether a call may be repeated after a failure that another attempt may not meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Repeats on 429, 502–504 and transport failures, as [`GcpClient::call`] does:
    /// for reads, and for writes made idempotent by a precondition.
    Transient,
    /// One attempt: for writes that a repetition could apply twice.
    Never,
}

/// A call whose body or answer is not JSON: uploads, downloads, conditional writes.
#[derive(Clone, Debug)]
pub struct RawRequest<'a> {
    pub api: &'a str,
    pub method: Method,
    /// The path below the API's base URL, already percent-encoded, without a query.
    pub path: &'a str,
    /// Query parameters, encoded when the URL is built.
    pub query: Vec<(&'a str, String)>,
    /// The body with its content type.
    pub body: Option<RawBody>,
    pub retry: Retry,
}

/// A request body as bytes, with its `Content-Type`.
#[derive(Clone, Debug)]
pub struct RawBody {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A successful answer to a [`RawRequest`].
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON; an empty body is an empty object.
    pub fn json(&self, request: &RawRequest<'_>) -> Result<Json, GcpError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Object(Default::default()));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            GcpError::transport(
                &request.method,
                request.path,
                format!("the response is not JSON: {e}"),
            )
        })
    }
}

impl GcpClient {
    /// Makes a call with a raw body and query parameters and returns the raw answer;
    /// a status other than 2xx is a [`GcpError`] read from Google's error envelope.
    /// Retries, tokens and per-API concurrency are those of [`GcpClient::call`],
    /// except that [`Retry::Never`] makes a single attempt.
    pub async fn call_raw(&self, request: &RawRequest<'_>) -> Result<RawResponse, GcpError> {
        let attempt = || self.call_raw_once(request);
        let max_attempts = match request.retry {
            Retry::Transient => self.options.max_attempts,
            Retry::Never => 1,
        };
        retrying(
            Backoff {
                max_attempts,
                min_delay: self.options.min_backoff,
                max_delay: self.options.max_backoff,
            },
            attempt,
        )
        .await
    }

    async fn call_raw_once(&self, raw: &RawRequest<'_>) -> Result<RawResponse, GcpError> {
        let method = &raw.method;
        let path = raw.path;
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.endpoints.base(raw.api)))
            .map_err(|e| GcpError::transport(method, path, format!("invalid URL: {e}")))?;
        if !raw.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(raw.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let body = raw
            .body
            .as_ref()
            .map(|b| (b.content_type.as_str(), b.bytes.clone()));
        let (status, headers, body) = self.exchange(raw.api, method, path, url, body).await?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// The canonical name of a gRPC status code.
fn grpc_code_name(code: u64) -> Option<&'static str> {
    Some(match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => return None,
    })
}

/// Describes a transport failure without the URL (which may carry a query).
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response was cut off"
    } else {
        "the connection failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

impl Transient for GcpError {
    fn is_retryable(&self) -> bool {
        GcpError::is_retryable(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_api_that_asks_to_slow_down_gets_fewer_calls_then_more() {
        let limit = ApiLimit::new(8);
        limit.observe(StatusCode::TOO_MANY_REQUESTS, None);
        assert_eq!(limit.permits.available_permits(), 4);
        limit.observe(StatusCode::BAD_REQUEST, Some("RESOURCE_EXHAUSTED"));
        assert_eq!(limit.permits.available_permits(), 2);
        for _ in 0..5 {
            limit.observe(StatusCode::TOO_MANY_REQUESTS, None);
        }
        assert_eq!(limit.permits.available_permits(), 1, "never below one");
        // Additive increase: one more call allowed per as many successes as allowed.
        limit.observe(StatusCode::OK, None);
        assert_eq!(limit.permits.available_permits(), 2);
        limit.observe(StatusCode::OK, None);
        assert_eq!(limit.permits.available_permits(), 2);
        limit.observe(StatusCode::OK, None);
        assert_eq!(limit.permits.available_permits(), 3);
        for _ in 0..100 {
            limit.observe(StatusCode::OK, None);
        }
        assert_eq!(
            limit.permits.available_permits(),
            8,
            "never above the maximum"
        );
        limit.observe(StatusCode::NOT_FOUND, None);
        assert_eq!(
            limit.permits.available_permits(),
            8,
            "other errors change nothing"
        );
    }

    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        let mut e = Endpoints::default();
        assert!(e.set("sqladmin", "http://127.0.0.1:9000").is_ok());
        assert_eq!(e.base("sqladmin"), "http://127.0.0.1:9000/");
        assert!(e.set("dns", "http://[::1]:9000/").is_ok());
        assert!(e.set("dns", "http://localhost:9000/").is_ok());
        assert!(
            e.set("iam", "http://10.0.0.5:9000")
                .unwrap_err()
                .contains("plain HTTP is allowed only on loopback")
        );
        assert!(
            e.set("nope", "https://x/")
                .unwrap_err()
                .contains("unknown API")
        );
    }

    #[test]
    fn google_errors_are_read_from_the_envelope() {
        let body = r#"{"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}}"#;
        let e = GcpError::from_response(
            &Method::POST,
            "v3/projects",
            StatusCode::TOO_MANY_REQUESTS,
            None,
            body,
        );
        assert_eq!(e.status_name.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(e.reason.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
        assert_eq!(e.retry_after, Some(Duration::from_millis(2500)));
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "POST v3/projects failed with HTTP 429 RESOURCE_EXHAUSTED: Quota exceeded."
        );
        let e = GcpError::from_response(
            &Method::POST,
            "v3/projects",
            StatusCode::CONFLICT,
            None,
            r#"{"error": {"code": 409, "message": "Requested entity already exists", "status": "ALREADY_EXISTS"}}"#,
        );
        assert!(e.is_already_exists() && !e.is_retryable());
    }
}
