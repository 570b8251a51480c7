//! Google's OAuth 2.0 token endpoint for service accounts, as the API `oauth2`.
//!
//! `POST /token` takes the JWT-bearer grant a service-account key file leads to
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`):
//! the JWT must be signed RS256 by a key the seed names for its `iss`, be meant for
//! this endpoint (`aud`), be short-lived and current (`iat`, `exp`), and ask for a
//! `scope`. The answer is an opaque access token, or Google's OAuth error JSON.
//! `GET /tokeninfo?access_token=…` describes a token this endpoint issued, as
//! Google's does, plus `fake_gcp_tokens_issued`: how many tokens the token's
//! service account has been issued, so that tests can count fetches.
//!
//! Invariant: assertions, tokens and keys are never logged or echoed in an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::world::{SeedServiceAccountKey, Shared};

/// The grant a service-account key's JWT is exchanged with.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The audience Google's own token endpoint answers to, besides this one's URL.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// How long an access token lives, in seconds, as Google's do.
const TOKEN_LIFETIME_SECS: u64 = 3599;

/// The longest a JWT may live (`exp - iat`), in seconds.
const MAX_ASSERTION_LIFETIME_SECS: u64 = 3600;

/// How far a client's clock may run ahead of ours, in seconds.
const CLOCK_SKEW_SECS: u64 = 300;

/// A key the endpoint accepts signatures from.
struct PublicKey {
    client_email: String,
    key_id: Option<String>,
    /// The DER `RSAPublicKey` (PKCS #1), as ring takes it.
    rsa_der: Vec<u8>,
}

/// A token handed out.
struct IssuedToken {
    client_email: String,
    scope: String,
    expires_at: SystemTime,
}

/// The endpoint's state: the keys it trusts and the tokens it issued.
pub struct TokenIssuer {
    keys: Vec<PublicKey>,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    /// Tokens issued so far, by service account.
    issued: Mutex<HashMap<String, u64>>,
}

/// Builds the routes, trusting the seed's service-account keys.
pub fn router(keys: &[SeedServiceAccountKey]) -> Result<Router<Shared>, String> {
    let keys = keys
        .iter()
        .map(|key| {
            let rsa_der = rsa_public_key_der(&key.public_key_pem).map_err(|error| {
                format!("seed service account key of {}: {error}", key.client_email)
            })?;
            Ok(PublicKey {
                client_email: key.client_email.clone(),
                key_id: key.private_key_id.clone(),
                rsa_der,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let issuer = Arc::new(TokenIssuer {
        keys,
        tokens: Mutex::new(HashMap::new()),
        issued: Mutex::new(HashMap::new()),
    });
    Ok(Router::new()
        .route("/token", post(token))
        .route("/tokeninfo", get(token_info))
        .with_state(issuer))
}

/// An OAuth error, answered as `{"error", "error_description"}` with status 400.
#[derive(Debug)]
pub struct OAuthError {
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", description)
    }

    fn invalid_jwt(problem: &str) -> OAuthError {
        OAuthError::invalid_grant(format!("Invalid JWT: {problem}"))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// The claims of a service account's JWT that the endpoint checks.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    #[serde(default)]
    aud: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    exp: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Header {
    #[serde(default)]
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// `POST /token`: exchanges a signed JWT for an access token.
async fn token(
    State(issuer): State<Arc<TokenIssuer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, OAuthError> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    if grant_type.is_empty() {
        return Err(OAuthError::new(
            "invalid_request",
            "Missing required parameter: grant_type",
        ));
    }
    if grant_type != JWT_BEARER {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("Invalid grant_type: {grant_type}"),
        ));
    }
    let assertion = form.get("assertion").map(String::as_str).unwrap_or("");
    if assertion.is_empty() {
        return Err(OAuthError::new(
            "invalid_request",
            "Missing required parameter: assertion",
        ));
    }
    let (signed, header, claims, signature) = parse_jwt(assertion)?;
    if header.alg != "RS256" {
        return Err(OAuthError::invalid_jwt(
            "the signing algorithm must be RS256.",
        ));
    }
    let candidates: Vec<&PublicKey> = issuer
        .keys
        .iter()
        .filter(|key| key.client_email == claims.iss)
        .filter(|key| match (&header.kid, &key.key_id) {
            (Some(kid), Some(key_id)) => kid == key_id,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(OAuthError::invalid_grant(
            "Invalid grant: account not found",
        ));
    }
    let verified = candidates.iter().any(|key| {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.rsa_der)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    });
    if !verified {
        return Err(OAuthError::invalid_grant("Invalid JWT Signature."));
    }
    let own_uri = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| format!("http://{host}/token"));
    let scope = check_claims(&claims, own_uri.as_deref(), unix_now())?;

    let access_token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    let expires_at = SystemTime::now() + Duration::from_secs(TOKEN_LIFETIME_SECS);
    lock(&issuer.tokens).insert(
        access_token.clone(),
        IssuedToken {
            client_email: claims.iss.clone(),
            scope,
            expires_at,
        },
    );
    *lock(&issuer.issued).entry(claims.iss).or_default() += 1;
    Ok(Json(json!({
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME_SECS,
        "token_type": "Bearer",
    })))
}

/// Checks audience, lifetime and scope; returns the scope.
fn check_claims(claims: &Claims, own_uri: Option<&str>, now: u64) -> Result<String, OAuthError> {
    if claims.aud != GOOGLE_TOKEN_URI && Some(claims.aud.as_str()) != own_uri {
        return Err(OAuthError::invalid_jwt(&format!(
            "Failed audience check. The right audience is {}",
            own_uri.unwrap_or(GOOGLE_TOKEN_URI)
        )));
    }
    let timely = match (claims.iat, claims.exp) {
        (Some(iat), Some(exp)) => {
            iat < exp
                && exp - iat <= MAX_ASSERTION_LIFETIME_SECS
                && iat <= now + CLOCK_SKEW_SECS
                && exp > now
        }
        _ => false,
    };
    if !timely {
        return Err(OAuthError::invalid_jwt(
            "Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    match claims.scope.as_deref().map(str::trim) {
        Some(scope) if !scope.is_empty() => Ok(scope.to_owned()),
        _ => Err(OAuthError::new(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        )),
    }
}

/// Splits a compact JWT into the signed text, header, claims and signature.
fn parse_jwt(assertion: &str) -> Result<(&str, Header, Claims, Vec<u8>), OAuthError> {
    let malformed = || OAuthError::invalid_jwt("the assertion is not a signed JWT.");
    let (signed, signature) = assertion.rsplit_once('.').ok_or_else(malformed)?;
    let (header, claims) = signed.split_once('.').ok_or_else(malformed)?;
    let header: Header = serde_json::from_slice(&base64url(header).ok_or_else(malformed)?)
        .map_err(|_| malformed())?;
    let claims: Claims = serde_json::from_slice(&base64url(claims).ok_or_else(malformed)?)
        .map_err(|_| malformed())?;
    let signature = base64url(signature).ok_or_else(malformed)?;
    Ok((signed, header, claims, signature))
}

/// Decodes base64url with or without padding; gcp_auth pads, others do not.
fn base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[derive(Debug, Deserialize)]
struct TokenInfoQuery {
    access_token: Option<String>,
}

/// `GET /tokeninfo?access_token=…`: what an issued, unexpired token is for.
async fn token_info(
    State(issuer): State<Arc<TokenIssuer>>,
    Query(query): Query<TokenInfoQuery>,
) -> Result<Json<Value>, OAuthError> {
    let invalid = || OAuthError::new("invalid_token", "Invalid Value");
    let access_token = query.access_token.ok_or_else(invalid)?;
    let tokens = lock(&issuer.tokens);
    let token = tokens.get(&access_token).ok_or_else(invalid)?;
    let expires_in = token
        .expires_at
        .duration_since(SystemTime::now())
        .map_err(|_| invalid())?
        .as_secs();
    let exp = token
        .expires_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let issued = lock(&issuer.issued)
        .get(&token.client_email)
        .copied()
        .unwrap_or_default();
    Ok(Json(json!({
        "scope": token.scope,
        "exp": exp.to_string(),
        "expires_in": expires_in.to_string(),
        "email": token.client_email,
        "email_verified": "true",
        "access_type": "online",
        "fake_gcp_tokens_issued": issued,
    })))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Locks one of the issuer's maps; a panicked handler leaves them consistent,
/// since each change is a single insert.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads a PEM public key into the DER `RSAPublicKey` that ring verifies with.
fn rsa_public_key_der(pem: &str) -> Result<Vec<u8>, String> {
    let (label, der) = pem_block(pem)?;
    match label.as_str() {
        "RSA PUBLIC KEY" => Ok(der),
        "PUBLIC KEY" => spki_rsa_key(&der).map(<[u8]>::to_vec),
        other => Err(format!(
            "expected a PEM `PUBLIC KEY` or `RSA PUBLIC KEY`, found `{other}`"
        )),
    }
}

/// Returns the label and decoded contents of the first PEM block.
fn pem_block(pem: &str) -> Result<(String, Vec<u8>), String> {
    let begin = pem.find("-----BEGIN ").ok_or("no PEM `-----BEGIN` line")?;
    let after_begin = pem.get(begin + "-----BEGIN ".len()..).unwrap_or_default();
    let label_end = after_begin
        .find("-----")
        .ok_or("an unfinished PEM `BEGIN` line")?;
    let label = after_begin.get(..label_end).unwrap_or_default().to_owned();
    let body_start = label_end + "-----".len();
    let end_line = format!("-----END {label}-----");
    let body_end = after_begin
        .find(&end_line)
        .ok_or_else(|| format!("no PEM `{end_line}` line"))?;
    let body: String = after_begin
        .get(body_start..body_end)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|error| format!("the PEM body is not base64: {error}"))?;
    Ok((label, der))
}

/// The DER of the OID rsaEncryption, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

/// Takes the `RSAPublicKey` out of an X.509 `SubjectPublicKeyInfo`.
fn spki_rsa_key(der: &[u8]) -> Result<&[u8], String> {
    let (spki, _) = der_element(der, 0x30)?;
    let (algorithm, rest) = der_element(spki, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    if oid != RSA_ENCRYPTION {
        return Err("the public key is not an RSA key".to_owned());
    }
    let (bits, _) = der_element(rest, 0x03)?;
    match bits.split_first() {
        Some((0, key)) => Ok(key),
        _ => Err("the public key's bit string is malformed".to_owned()),
    }
}

/// Reads one DER element with the given tag; returns its contents and what follows.
fn der_element(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let malformed = || "the public key's DER is malformed".to_owned();
    let (&found, rest) = input.split_first().ok_or_else(malformed)?;
    if found != tag {
        return Err(malformed());
    }
    let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n_bytes = usize::from(first & 0x7F);
        if n_bytes == 0 || n_bytes > 4 {
            return Err(malformed());
        }
        let bytes = rest.get(..n_bytes).ok_or_else(malformed)?;
        let length = bytes
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, rest.get(n_bytes..).ok_or_else(malformed)?)
    };
    let contents = rest.get(..length).ok_or_else(malformed)?;
    Ok((contents, rest.get(length..).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN_URI: &str = "http://127.0.0.1:4000/token";
    const NOW: u64 = 1_800_000_000;

    fn claims(aud: &str, iat: u64, exp: u64, scope: Option<&str>) -> Claims {
        Claims {
            iss: "deployer@acme.iam.gserviceaccount.com".to_owned(),
            aud: aud.to_owned(),
            scope: scope.map(str::to_owned),
            iat: Some(iat),
            exp: Some(exp),
        }
    }

    /// Returns the OAuth error code of the claims, or `ok`.
    fn check(claims: Claims) -> String {
        match check_claims(&claims, Some(OWN_URI), NOW) {
            Ok(_) => "ok".to_owned(),
            Err(error) => format!("{}: {}", error.error, error.description),
        }
    }

    const SCOPE: Option<&str> = Some("https://www.googleapis.com/auth/cloud-platform");

    #[test]
    fn fresh_claims_for_this_endpoint_pass() {
        assert_eq!(check(claims(OWN_URI, NOW, NOW + 3595, SCOPE)), "ok");
        assert_eq!(
            check(claims(GOOGLE_TOKEN_URI, NOW, NOW + 3600, SCOPE)),
            "ok"
        );
    }

    #[test]
    fn other_audience_is_refused() {
        assert_eq!(
            check(claims("https://example.com/token", NOW, NOW + 60, SCOPE)),
            "invalid_grant: Invalid JWT: Failed audience check. The right audience is http://127.0.0.1:4000/token"
        );
    }

    #[test]
    fn long_lived_expired_or_future_claims_are_refused() {
        for (iat, exp) in [
            (NOW, NOW + 3601),
            (NOW - 3600, NOW - 1),
            (NOW + 600, NOW + 1200),
            (NOW, NOW),
        ] {
            assert!(
                check(claims(OWN_URI, iat, exp, SCOPE))
                    .starts_with("invalid_grant: Invalid JWT: Token must be a short-lived token"),
                "iat {iat} exp {exp}"
            );
        }
    }

    #[test]
    fn missing_scope_is_refused() {
        assert_eq!(
            check(claims(OWN_URI, NOW, NOW + 60, None)),
            "invalid_scope: Invalid OAuth scope or ID token audience provided."
        );
        assert!(check(claims(OWN_URI, NOW, NOW + 60, Some(" "))).starts_with("invalid_scope"));
    }

    #[test]
    fn padded_and_unpadded_base64url() {
        assert_eq!(base64url("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64url("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64url("Y+Q"), None);
    }

    #[test]
    fn malformed_assertion_is_refused() {
        for assertion in ["", "abc", "a.b", "a.b.c"] {
            assert_eq!(
                parse_jwt(assertion).err().map(|error| error.description),
                Some("Invalid JWT: the assertion is not a signed JWT.".to_owned()),
                "{assertion}"
            );
        }
    }

    /// An X.509 SubjectPublicKeyInfo with a made-up two-byte RSA key inside.
    #[test]
    fn spki_unwraps_to_the_rsa_key() {
        let rsa_key = [0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03];
        let mut algorithm = vec![0x30, 0x0D, 0x06, 0x09];
        algorithm.extend_from_slice(RSA_ENCRYPTION);
        algorithm.extend_from_slice(&[0x05, 0x00]);
        let mut bits = vec![0x03, (rsa_key.len() + 1) as u8, 0x00];
        bits.extend_from_slice(&rsa_key);
        let mut spki = vec![0x30, (algorithm.len() + bits.len()) as u8];
        spki.extend_from_slice(&algorithm);
        spki.extend_from_slice(&bits);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(&spki)
        );
        assert_eq!(rsa_public_key_der(&pem).unwrap(), rsa_key);
    }

    #[test]
    fn other_pem_blocks_are_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(rsa_public_key_der(pem).unwrap_err().contains("CERTIFICATE"));
        assert!(rsa_public_key_der("not a key").is_err());
    }
}
