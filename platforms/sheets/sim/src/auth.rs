//! Service accounts and OAuth 2.0: the JSON key file the simulator issues, the JWT-bearer
//! exchange at `POST /token` (RS256 signature checked with the account's public key, `aud`,
//! `iat`/`exp`, `scope`), and the bearer tokens it hands out, which expire.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use crate::error::TokenError;

/// The scope that reads and writes spreadsheets.
pub const SCOPE_SPREADSHEETS: &str = "https://www.googleapis.com/auth/spreadsheets";
/// The scope that only reads them.
pub const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/spreadsheets.readonly";

const READ_SCOPES: [&str; 5] = [
    SCOPE_SPREADSHEETS,
    SCOPE_READONLY,
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.file",
];
const WRITE_SCOPES: [&str; 3] = [
    SCOPE_SPREADSHEETS,
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
];

/// The audiences Google's token endpoint accepts besides the simulator's own token URL.
pub const GOOGLE_AUDIENCES: [&str; 3] = [
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
];

/// The simulator's built-in keys (2048-bit RSA, PKCS#8), generated for it: sandbox keys,
/// valid nowhere but here.
pub const BUILTIN_KEYS: [&str; 2] = [
    include_str!("keys/sim-1.pem"),
    include_str!("keys/sim-2.pem"),
];

/// A service account and its key.
pub struct ServiceAccount {
    /// `client_email` (the JWT's `iss`).
    pub client_email: String,
    /// `client_id`.
    pub client_id: String,
    /// `project_id`.
    pub project_id: String,
    /// The project number (in quota errors).
    pub project_number: u64,
    /// `private_key_id` (the JWT header's `kid`).
    pub private_key_id: String,
    /// `private_key` (PKCS#8 PEM).
    pub private_key_pem: String,
    public_key: Vec<u8>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// The DER bytes of a PEM block.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).ok()
}

impl ServiceAccount {
    /// An account with a PKCS#8 RSA key; `None` when the key does not parse.
    pub fn new(
        client_email: &str,
        project_id: &str,
        project_number: u64,
        client_id: &str,
        private_key_id: &str,
        private_key_pem: &str,
    ) -> Option<Self> {
        let der = pem_der(private_key_pem)?;
        let pair = RsaKeyPair::from_pkcs8(&der).ok()?;
        Some(ServiceAccount {
            client_email: client_email.into(),
            client_id: client_id.into(),
            project_id: project_id.into(),
            project_number,
            private_key_id: private_key_id.into(),
            private_key_pem: private_key_pem.into(),
            public_key: pair.public_key().as_ref().to_vec(),
        })
    }

    /// The key file Google's console downloads, with `token_uri` pointing at `token_url`.
    pub fn key_json(&self, token_url: &str) -> Value {
        let cert = format!(
            "https://www.googleapis.com/robot/v1/metadata/x509/{}",
            self.client_email.replace('@', "%40")
        );
        json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_url,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": cert,
            "universe_domain": "googleapis.com"
        })
    }
}

/// An access token handed out by the token endpoint.
#[derive(Debug, Clone)]
pub struct Token {
    /// The account it was issued to.
    pub client_email: String,
    /// Its project.
    pub project_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When it stops working (simulator clock).
    pub expires_at: Duration,
}

impl Token {
    /// Whether its scopes allow reading (or writing) spreadsheets.
    pub fn allows(&self, write: bool) -> bool {
        let ok: &[&str] = if write { &WRITE_SCOPES } else { &READ_SCOPES };
        self.scopes.iter().any(|s| ok.contains(&s.as_str()))
    }
}

/// Issued tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    map: HashMap<String, Token>,
    issued: u64,
}

impl Tokens {
    /// Records a token.
    pub fn insert(&mut self, access_token: String, token: Token) {
        self.issued += 1;
        self.map.insert(access_token, token);
    }
    /// The live token, if known and not expired at `now`.
    pub fn live(&self, access_token: &str, now: Duration) -> Option<&Token> {
        self.map.get(access_token).filter(|t| t.expires_at > now)
    }
    /// Tokens issued so far.
    pub fn issued(&self) -> u64 {
        self.issued
    }
    /// Forgets every token (revocation).
    pub fn revoke_all(&mut self) {
        self.map.clear();
    }
}

/// What a valid assertion grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The account (`iss`).
    pub client_email: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// How far a JWT's `iat` may be ahead of the server's clock.
pub const IAT_SKEW_SECS: i64 = 300;

/// Checks a JWT-bearer assertion against the issued accounts (time checks use the real clock,
/// as the client signs with its own).
pub fn verify_assertion(
    assertion: &str,
    accounts: &[ServiceAccount],
    token_url: &str,
) -> Result<Grant, TokenError> {
    verify_assertion_at(assertion, accounts, token_url, unix_now())
}

/// The account that signed `jwt` and its claims, once the signature is checked against that
/// account's key (`kid`, when given, must be the key's id).
fn signed_claims<'a>(
    jwt: &str,
    accounts: &'a [ServiceAccount],
) -> Result<(&'a ServiceAccount, Value), TokenError> {
    let malformed = || TokenError::grant("Invalid JWT: not a valid JWT.");
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return Err(malformed());
    };
    let dec = |p: &str| URL_SAFE_NO_PAD.decode(p.trim_end_matches('='));
    let header: Value = dec(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let claims: Value = dec(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let sig = dec(s).map_err(|_| malformed())?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let account = accounts
        .iter()
        .find(|a| a.client_email == iss)
        .ok_or_else(|| TokenError::grant("Invalid grant: account not found"))?;
    let bad_sig = || TokenError::grant("Invalid JWT Signature.");
    if header["alg"] != "RS256" {
        return Err(bad_sig());
    }
    if let Some(kid) = header["kid"].as_str()
        && kid != account.private_key_id
    {
        return Err(bad_sig());
    }
    let signed = format!("{h}.{c}");
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &account.public_key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| bad_sig())?;
    Ok((account, claims))
}

fn timely(claims: &Value, now: i64) -> bool {
    match (claims["iat"].as_i64(), claims["exp"].as_i64()) {
        (Some(iat), Some(exp)) => {
            exp > iat && exp - iat <= 3600 && iat <= now + IAT_SKEW_SECS && exp > now
        }
        _ => false,
    }
}

/// A self-signed JWT used directly as the bearer token ("service account authorization
/// without OAuth", what Google's client libraries send with JWT access enabled): signed by an
/// issued account, current and at most an hour long, and either for the API (`aud` one of
/// `audiences`, or a URL under one) or carrying a `scope`. Grants the `scope`'s scopes, or full access to the API.
pub fn self_signed(jwt: &str, accounts: &[ServiceAccount], audiences: &[String]) -> Option<Grant> {
    let now = unix_now();
    let (account, claims) = signed_claims(jwt, accounts).ok()?;
    if !timely(&claims, now) {
        return None;
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let aud = claims["aud"].as_str().unwrap_or_default();
    // The service's root, or a URL under it (clients sign for the URL they call).
    let for_api = audiences.iter().any(|a| {
        aud.trim_end_matches('/') == a.trim_end_matches('/') || aud.starts_with(a.as_str())
    });
    if scopes.is_empty() && !for_api {
        return None;
    }
    Some(Grant {
        client_email: account.client_email.clone(),
        scopes: if scopes.is_empty() {
            vec![SCOPE_SPREADSHEETS.to_owned()]
        } else {
            scopes
        },
    })
}

/// [`verify_assertion`] at a given Unix time.
pub fn verify_assertion_at(
    assertion: &str,
    accounts: &[ServiceAccount],
    token_url: &str,
    now: i64,
) -> Result<Grant, TokenError> {
    let (account, claims) = signed_claims(assertion, accounts)?;
    let iss = account.client_email.as_str();
    let aud = claims["aud"].as_str().unwrap_or_default();
    if aud != token_url && !GOOGLE_AUDIENCES.contains(&aud) {
        return Err(TokenError::grant(format!(
            "Invalid JWT: Failed audience check. The right audience is {token_url}"
        )));
    }
    if !timely(&claims, now) {
        return Err(TokenError::grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    if claims.get("sub").is_some_and(|s| s.as_str() != Some(iss)) {
        return Err(TokenError {
            status: 401,
            error: "unauthorized_client",
            description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.".into(),
        });
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let known = |s: &str| {
        s.starts_with("https://www.googleapis.com/auth/") || s == "openid" || s == "email"
    };
    if scopes.is_empty() || !scopes.iter().all(|s| known(s)) {
        return Err(TokenError {
            status: 400,
            error: "invalid_scope",
            description: "Invalid OAuth scope or ID token audience provided.".into(),
        });
    }
    Ok(Grant {
        client_email: account.client_email.clone(),
        scopes,
    })
}

/// Signs claims as an RS256 JWT with a PKCS#8 PEM key (what a client does; the tests use it).
pub fn sign_jwt(private_key_pem: &str, kid: &str, claims: &Value) -> Option<String> {
    let pair = RsaKeyPair::from_pkcs8(&pem_der(private_key_pem)?).ok()?;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut sig,
    )
    .ok()?;
    Some(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Vec<ServiceAccount> {
        vec![
            ServiceAccount::new(
                "a@p.iam.gserviceaccount.com",
                "p",
                1,
                "1",
                "k1",
                BUILTIN_KEYS[0],
            )
            .unwrap(),
        ]
    }

    fn claims(now: i64) -> Value {
        json!({"iss": "a@p.iam.gserviceaccount.com", "scope": SCOPE_SPREADSHEETS,
               "aud": "http://sim/token", "iat": now, "exp": now + 3600})
    }

    #[test]
    fn a_signed_assertion_is_granted() {
        let now = 1_700_000_000;
        let jwt = sign_jwt(BUILTIN_KEYS[0], "k1", &claims(now)).unwrap();
        let g = verify_assertion_at(&jwt, &accounts(), "http://sim/token", now).unwrap();
        assert_eq!(g.scopes, vec![SCOPE_SPREADSHEETS.to_string()]);
    }

    #[test]
    fn refusals() {
        let now = 1_700_000_000;
        let accts = accounts();
        let check = |jwt: &str| {
            verify_assertion_at(jwt, &accts, "http://sim/token", now)
                .unwrap_err()
                .description
        };
        // Signed with another key.
        let other = sign_jwt(BUILTIN_KEYS[1], "k1", &claims(now)).unwrap();
        assert_eq!(check(&other), "Invalid JWT Signature.");
        // Tampered claims.
        let good = sign_jwt(BUILTIN_KEYS[0], "k1", &claims(now)).unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut c = claims(now);
        c["scope"] = json!("https://www.googleapis.com/auth/drive");
        parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
        assert_eq!(check(&parts.join(".")), "Invalid JWT Signature.");
        let mut c = claims(now);
        c["aud"] = json!("https://elsewhere/token");
        assert!(check(&sign_jwt(BUILTIN_KEYS[0], "k1", &c).unwrap()).contains("audience"));
        let mut c = claims(now);
        c["exp"] = json!(now + 7200);
        assert!(check(&sign_jwt(BUILTIN_KEYS[0], "k1", &c).unwrap()).contains("short-lived"));
        let c = claims(now - 4000);
        assert!(check(&sign_jwt(BUILTIN_KEYS[0], "k1", &c).unwrap()).contains("short-lived"));
        let mut c = claims(now);
        c["scope"] = json!("");
        assert!(check(&sign_jwt(BUILTIN_KEYS[0], "k1", &c).unwrap()).contains("scope"));
        let mut c = claims(now);
        c["iss"] = json!("nobody@p.iam.gserviceaccount.com");
        assert!(check(&sign_jwt(BUILTIN_KEYS[0], "k1", &c).unwrap()).contains("not found"));
        assert!(check("a.b").contains("not a valid JWT"));
    }
}
