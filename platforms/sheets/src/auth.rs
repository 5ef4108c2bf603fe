//! Service-account OAuth: the key file, the RS256 JWT assertion, and a token source that
//! exchanges it at the token endpoint and keeps the access token until shortly before it
//! expires (one exchange shared by concurrent callers).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use tokio::time::Instant;
use weft_platform::ConnectorError;

use crate::PLATFORM;

/// The scope weft asks for: read and write spreadsheets.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
/// Google's token endpoint, when the key file names none.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// A token is refreshed this long before it expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// A service-account key file.
pub struct ServiceAccountKey {
    /// `client_email`: the JWT's issuer and the quota's user.
    pub client_email: String,
    /// `private_key_id`: the JWT header's `kid`.
    pub private_key_id: String,
    /// `token_uri`.
    pub token_uri: Option<String>,
    /// `project_id`.
    pub project_id: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Why a key file was refused (never quoting the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not JSON, or a field is missing.
    #[error("the service-account key file is not valid: {0}")]
    Invalid(String),
    /// `private_key` is not a PKCS#8 RSA key.
    #[error("the service-account key file's private_key is not a PKCS#8 RSA key")]
    BadKey,
}

impl ServiceAccountKey {
    /// Reads a key file's JSON text.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| KeyError::Invalid(format!("not JSON (line {})", e.line())))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| KeyError::Invalid(format!("`{k}` is missing")))
        };
        if v.get("type").and_then(Value::as_str) != Some("service_account") {
            return Err(KeyError::Invalid("`type` is not `service_account`".into()));
        }
        let pem = field("private_key")?;
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD.decode(body).map_err(|_| KeyError::BadKey)?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError::BadKey)?;
        Ok(ServiceAccountKey {
            client_email: field("client_email")?,
            private_key_id: field("private_key_id").unwrap_or_default(),
            token_uri: v
                .get("token_uri")
                .and_then(Value::as_str)
                .map(str::to_owned),
            project_id: field("project_id").unwrap_or_default(),
            key,
        })
    }

    /// The signed assertion for `scope` and `aud`, issued at `iat` (Unix seconds), valid for
    /// an hour.
    pub fn assertion(&self, scope: &str, aud: &str, iat: u64) -> Option<String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        let claims = json!({"iss": self.client_email, "scope": scope, "aud": aud,
            "iat": iat, "exp": iat + 3600});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut sig,
            )
            .ok()?;
        Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Exchanges the key's assertions for access tokens and caches them.
pub struct TokenSource {
    key: ServiceAccountKey,
    token_url: String,
    http: reqwest::Client,
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
    exchanges: std::sync::atomic::AtomicU64,
}

fn auth_error(code: &str, message: String) -> ConnectorError {
    ConnectorError::Permanent {
        system: PLATFORM,
        status: 401,
        code: code.into(),
        message,
    }
}

impl TokenSource {
    /// A token source for `key` at `token_url` (else the key file's `token_uri`, else Google's).
    pub fn new(key: ServiceAccountKey, token_url: Option<String>, http: reqwest::Client) -> Self {
        let token_url = token_url
            .or_else(|| key.token_uri.clone())
            .unwrap_or_else(|| GOOGLE_TOKEN_URL.into());
        TokenSource {
            key,
            token_url,
            http,
            cached: tokio::sync::Mutex::new(None),
            exchanges: Default::default(),
        }
    }

    /// The account (the quota's user).
    pub fn client_email(&self) -> &str {
        &self.key.client_email
    }

    /// How many exchanges were made.
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forgets the cached token (the API refused it).
    pub async fn invalidate(&self, token: &str) {
        let mut c = self.cached.lock().await;
        if c.as_ref().is_some_and(|(t, _)| t == token) {
            *c = None;
        }
    }

    /// A live access token: the cached one, or a new one from the token endpoint.
    pub async fn token(&self) -> Result<String, ConnectorError> {
        let mut c = self.cached.lock().await;
        if let Some((t, until)) = c.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let assertion = self
            .key
            .assertion(SCOPE, &self.token_url, iat)
            .ok_or_else(|| auth_error("signing", "could not sign the JWT assertion".into()))?;
        let sent_at = Instant::now();
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        let status = resp.status().as_u16();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| ConnectorError::from_reqwest(PLATFORM, e))?;
        if status >= 500 {
            return Err(ConnectorError::Retryable {
                system: PLATFORM,
                status: Some(status),
                message: "the token endpoint failed".into(),
                retry_after: None,
            });
        }
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            return Err(auth_error(
                body.get("error").and_then(Value::as_str).unwrap_or("token"),
                format!(
                    "the token endpoint refused the service account {}: {}",
                    self.key.client_email,
                    body.get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given")
                ),
            ));
        };
        let life = Duration::from_secs(
            body.get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(3600),
        );
        let until = sent_at + life.saturating_sub(REFRESH_MARGIN);
        *c = Some((token.to_owned(), until));
        Ok(token.to_owned())
    }
}
