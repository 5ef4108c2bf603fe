//! Webhook signatures of the common kind: the base64 (standard alphabet) HMAC-SHA256 of the raw
//! request body keyed with a shared secret. Platforms whose webhooks are signed this way call
//! [`verify`] from their [`crate::WebhookIntake`]; [`sign`] is what their simulators send.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::webhook::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// The signature header value for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is a valid signature of `body` under ANY of `secrets`. Each comparison is
/// constant-time (`Mac::verify_slice`); every secret is tried, so the time taken does not
/// depend on which one matched. A header that is not base64 of 32 bytes never verifies.
pub fn verify(secrets: &[WebhookSecret], body: &[u8], header: &str) -> bool {
    let Ok(expected) = STANDARD.decode(header.trim().as_bytes()) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let mut ok = false;
    for secret in secrets {
        let mut mac =
            HmacSha256::new_from_slice(secret.expose()).expect("HMAC accepts keys of any length");
        mac.update(body);
        ok |= mac.verify_slice(&expected).is_ok();
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe"), base64 of the published hex digest.
    #[test]
    fn matches_rfc4231_vector() {
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(sig, STANDARD.encode(bytes));
    }

    #[test]
    fn verifies_against_any_accepted_secret() {
        let secrets = vec![WebhookSecret::new("new"), WebhookSecret::new("old")];
        let body = br#"{"id":1}"#;
        assert!(verify(&secrets, body, &sign(b"new", body)));
        assert!(verify(&secrets, body, &sign(b"old", body)));
        assert!(!verify(&secrets, body, &sign(b"other", body)));
        assert!(!verify(&secrets, b"{\"id\":2}", &sign(b"new", body)));
        assert!(!verify(&secrets, body, "not base64!"));
        assert!(!verify(&secrets, body, &STANDARD.encode([0u8; 16])));
        assert!(!verify(&[], body, &sign(b"new", body)));
    }
}
