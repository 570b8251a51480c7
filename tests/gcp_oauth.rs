//! The OAuth flow of a service-account key, against `fake-gcp`'s `oauth2` API:
//! yagura's `DefaultCredentials` finds the key file through
//! `GOOGLE_APPLICATION_CREDENTIALS`, and gcp_auth signs a JWT with the key and
//! posts it to the file's `token_uri`; the fake checks the signature against the
//! public key it was seeded with and issues a token, which `tokeninfo` describes.
//!
//! Keys are made fresh for each test with the `openssl` command-line tool. The
//! credentials run in a child process of this test binary, since the environment
//! variable cannot be set safely in a process whose other tests run meanwhile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gcp_auth::CustomServiceAccount;
use serde_json::{Value as Json, json};
use yagura::providers::gcp::{DefaultCredentials, TokenSource};

mod support;
use support::{Fake, runtime};

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const CLIENT_EMAIL: &str = "deployer@acme-ops.iam.gserviceaccount.com";

/// Set in the child process to the fake's `tokeninfo` URL.
const CHILD_TOKENINFO: &str = "YAGURA_TEST_OAUTH_TOKENINFO";
/// What precedes the child's report on its stdout.
const CHILD_REPORT: &str = "child report: ";

/// A freshly made RSA key pair.
struct KeyPair {
    /// The private key's PEM file (PKCS #8), as a key file embeds it.
    private_path: PathBuf,
    /// The public key in PEM (`PUBLIC KEY`), as the fake is seeded with it.
    public_key_pem: String,
}

/// The folder of one test's keys.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    /// Returns `None` when `openssl` is missing (outside CI, where it must exist).
    fn new() -> Option<Keys> {
        let found = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("the `openssl` command is missing; the OAuth tests need it to make keys");
            }
            eprintln!("warning: the `openssl` command is missing; skipping the OAuth test");
            return None;
        }
        Some(Keys {
            dir: tempfile::tempdir().expect("a temporary folder"),
        })
    }

    /// Makes a 2048-bit RSA key pair.
    fn generate(&self, name: &str) -> KeyPair {
        let private_path = self.dir.path().join(format!("{name}.pem"));
        run_openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            path_str(&private_path),
        ]);
        let public_key_pem = run_openssl(&["pkey", "-pubout", "-in", path_str(&private_path)]);
        KeyPair {
            private_path,
            public_key_pem,
        }
    }

    /// Writes the service-account key file of `pair`, as Google's console hands
    /// it out, with `token_uri` pointing at the fake's token endpoint.
    fn key_file(&self, pair: &KeyPair, client_email: &str, fake: &Fake) -> PathBuf {
        let private_key =
            std::fs::read_to_string(&pair.private_path).expect("the private key is readable");
        let key_file = json!({
            "type": "service_account",
            "project_id": "acme-ops",
            "private_key_id": uuid::Uuid::new_v4().simple().to_string(),
            "private_key": private_key,
            "client_email": client_email,
            "client_id": "104892873598427349012",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}token", fake.url("oauth2")),
        });
        let path = pair.private_path.with_extension("json");
        std::fs::write(&path, key_file.to_string()).expect("the key file is written");
        path
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Runs openssl and returns its stdout; its stderr is shown only on failure.
fn run_openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("openssl prints text")
}

/// Starts a fake that trusts one key of `CLIENT_EMAIL`.
fn start_fake(trusted: &KeyPair) -> Fake {
    let seed = json!({"service_account_keys": [
        {"client_email": CLIENT_EMAIL, "public_key_pem": trusted.public_key_pem},
    ]});
    Fake::start_seeded(&seed, &[])
}

/// Runs the test named `test` again in a child process of this test binary, with
/// `GOOGLE_APPLICATION_CREDENTIALS` naming `key_file`; returns the child's report.
fn in_child(test: &str, key_file: &Path, fake: &Fake) -> Json {
    let out = Command::new(std::env::current_exe().expect("the test binary is known"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("GOOGLE_APPLICATION_CREDENTIALS", key_file)
        .env(CHILD_TOKENINFO, format!("{}tokeninfo", fake.url("oauth2")))
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.split_once(CHILD_REPORT))
        .map(|(_, report)| report)
        .and_then(|report| serde_json::from_str(report).ok())
        .unwrap_or_else(|| panic!("the child reported nothing:\n{stdout}"))
}

/// In the child process, runs `work` with the `tokeninfo` URL and prints its
/// report; tells whether this is the child.
fn as_child(work: impl FnOnce(&str) -> Json) -> bool {
    let Ok(tokeninfo) = std::env::var(CHILD_TOKENINFO) else {
        return false;
    };
    let report = work(&tokeninfo);
    println!("{CHILD_REPORT}{report}");
    true
}

/// Asks `tokeninfo` about a token: the status and the JSON answer.
async fn token_info(tokeninfo: &str, access_token: &str) -> (u16, Json) {
    let response = http()
        .get(format!("{tokeninfo}?access_token={access_token}"))
        .send()
        .await
        // The URL holds the token.
        .map_err(reqwest::Error::without_url)
        .expect("the fake answers");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("tokeninfo answers JSON"),
    )
}

/// Posts a JWT-bearer grant with `assertion` to the fake's token endpoint.
async fn post_assertion(fake: &Fake, assertion: &str) -> (u16, Json) {
    let response = http()
        .post(format!("{}token", fake.url("oauth2")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        ))
        .send()
        .await
        .expect("the fake answers");
    let status = response.status().as_u16();
    (
        status,
        response
            .json()
            .await
            .expect("the token endpoint answers JSON"),
    )
}

fn http() -> reqwest::Client {
    // reqwest is built without a default TLS provider and wants one even for plain
    // HTTP. Installing twice fails harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Signs `claims` as an RS256 JWT with the key of `account`, the way gcp_auth does.
fn sign_jwt(account: &CustomServiceAccount, claims: &Json) -> String {
    let mut jwt = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = account
        .signer()
        .sign(jwt.as_bytes())
        .expect("the key signs");
    jwt.push('.');
    jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
    jwt
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// What the child reports of one `DefaultCredentials::token` call: what the fake
/// says of the token, or yagura's error.
fn one_token_report(tokeninfo: &str) -> Json {
    let rt = runtime();
    let credentials = DefaultCredentials::default();
    match rt.block_on(credentials.token()) {
        Ok(token) => {
            let (status, info) = rt.block_on(token_info(tokeninfo, &token));
            json!({"status": status, "token_info": info})
        }
        Err(message) => json!({"error": message}),
    }
}

#[test]
fn a_seeded_key_gets_the_token_the_fake_issued() {
    if as_child(one_token_report) {
        return;
    }
    let Some(keys) = Keys::new() else { return };
    let pair = keys.generate("deployer");
    let fake = start_fake(&pair);
    let key_file = keys.key_file(&pair, CLIENT_EMAIL, &fake);

    let report = in_child(
        "a_seeded_key_gets_the_token_the_fake_issued",
        &key_file,
        &fake,
    );
    assert_eq!(report["status"], 200, "{report}");
    let info = &report["token_info"];
    assert_eq!(info["email"], CLIENT_EMAIL);
    assert_eq!(info["scope"], SCOPE);
    assert_eq!(info["fake_gcp_tokens_issued"], 1);
    let expires_in: u64 = info["expires_in"]
        .as_str()
        .and_then(|secs| secs.parse().ok())
        .expect("expires_in is a number of seconds");
    assert!((3500..=3599).contains(&expires_in), "{info}");

    // A token the fake never issued is no token.
    let rt = runtime();
    let tokeninfo = format!("{}tokeninfo", fake.url("oauth2"));
    assert_eq!(
        rt.block_on(token_info(&tokeninfo, "ya29.not-issued")),
        (
            400,
            json!({"error": "invalid_token", "error_description": "Invalid Value"})
        )
    );
}

#[test]
fn a_key_the_fake_cannot_verify_is_refused_without_showing_it() {
    if as_child(one_token_report) {
        return;
    }
    let Some(keys) = Keys::new() else { return };
    let trusted = keys.generate("trusted");
    // The same service account, but a key the fake was never told about.
    let stranger = keys.generate("stranger");
    let fake = start_fake(&trusted);
    let stranger_file = keys.key_file(&stranger, CLIENT_EMAIL, &fake);

    let report = in_child(
        "a_key_the_fake_cannot_verify_is_refused_without_showing_it",
        &stranger_file,
        &fake,
    );
    // gcp_auth keeps the endpoint's answer to itself, so yagura can only say that
    // the token request failed.
    assert_eq!(
        report,
        json!({"error": "cannot get an access token: token request failed"})
    );

    // What the fake answers, asked directly with JWTs signed as gcp_auth signs them.
    let rt = runtime();
    let claims = |iss: &str, aud: &str| json!({"iss": iss, "aud": aud, "scope": SCOPE, "iat": now(), "exp": now() + 3600});
    let audience = format!("{}token", fake.url("oauth2"));
    let signed_by = |pair: &KeyPair, claims: &Json| {
        let account = CustomServiceAccount::from_file(keys.key_file(pair, CLIENT_EMAIL, &fake))
            .expect("the key file loads");
        sign_jwt(&account, claims)
    };
    assert_eq!(
        rt.block_on(post_assertion(
            &fake,
            &signed_by(&stranger, &claims(CLIENT_EMAIL, &audience))
        )),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        )
    );
    let (status, answer) = rt.block_on(post_assertion(
        &fake,
        &signed_by(&trusted, &claims(CLIENT_EMAIL, &audience)),
    ));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3599);
    let someone_else = claims("someone-else@acme-ops.iam.gserviceaccount.com", &audience);
    assert_eq!(
        rt.block_on(post_assertion(&fake, &signed_by(&trusted, &someone_else))),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid grant: account not found"})
        )
    );
    let elsewhere = claims(CLIENT_EMAIL, "https://example.com/token");
    assert_eq!(
        rt.block_on(post_assertion(&fake, &signed_by(&trusted, &elsewhere))),
        (
            400,
            json!({"error": "invalid_grant",
                   "error_description": format!("Invalid JWT: Failed audience check. The right audience is {audience}")})
        )
    );
}

/// What the child reports of eight concurrent `DefaultCredentials::token` calls:
/// how many different tokens they got, and what the fake says of one.
fn concurrent_tokens_report(tokeninfo: &str) -> Json {
    // On several threads, so that callers really miss the cache at the same moment
    // (gcp_auth alone would then fetch once per caller).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let credentials = Arc::new(DefaultCredentials::default());
    let tokens = rt.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let credentials = credentials.clone();
            calls.spawn(async move { credentials.token().await });
        }
        let mut tokens = Vec::new();
        while let Some(joined) = calls.join_next().await {
            tokens.push(joined.expect("the call ran"));
        }
        tokens
    });
    let tokens: Vec<String> = match tokens.into_iter().collect() {
        Ok(tokens) => tokens,
        Err(message) => return json!({"error": message}),
    };
    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    let (status, info) = rt.block_on(token_info(tokeninfo, &tokens[0]));
    json!({"calls": tokens.len(), "distinct_tokens": distinct.len(), "status": status, "token_info": info})
}

#[test]
fn concurrent_calls_through_one_credentials_fetch_one_token() {
    if as_child(concurrent_tokens_report) {
        return;
    }
    let Some(keys) = Keys::new() else { return };
    let pair = keys.generate("deployer");
    let fake = start_fake(&pair);
    let key_file = keys.key_file(&pair, CLIENT_EMAIL, &fake);

    let report = in_child(
        "concurrent_calls_through_one_credentials_fetch_one_token",
        &key_file,
        &fake,
    );
    assert_eq!(report["calls"], 8, "{report}");
    assert_eq!(report["distinct_tokens"], 1, "{report}");
    assert_eq!(report["status"], 200, "{report}");
    assert_eq!(
        report["token_info"]["fake_gcp_tokens_issued"], 1,
        "{report}"
    );
}
