//! Per-request authentication hooks, and the Engine-API JWT (HS256) provider.
//!
//! The Engine API requires a token whose `iat` claim is within about a minute of the server's
//! clock, so a token is minted for every request rather than set once as a static header.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use sha2::Sha256;

use crate::error::Error;

/// A hook run before every HTTP request; it may add or replace headers.
pub trait AuthProvider: Send + Sync + 'static {
    /// Adds authentication headers to one request.
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] (or any other error) aborts the request.
    fn apply(&self, headers: &mut HeaderMap) -> Result<(), Error>;
}

impl<F> AuthProvider for F
where
    F: Fn(&mut HeaderMap) -> Result<(), Error> + Send + Sync + 'static,
{
    fn apply(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        self(headers)
    }
}

/// Mints an HS256 JWT with a fresh `iat` for every request (`Authorization: Bearer …`), as the
/// Engine API requires.
#[derive(Clone)]
pub struct JwtAuth {
    secret: [u8; 32],
    id: Option<String>,
    clv: Option<String>,
}

impl fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("secret", &"<redacted>")
            .field("id", &self.id)
            .field("clv", &self.clv)
            .finish()
    }
}

impl JwtAuth {
    /// A provider for this 32-byte secret.
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            id: None,
            clv: None,
        }
    }

    /// Parses a secret written as 64 hex digits (optionally `0x`-prefixed, surrounding
    /// whitespace ignored), the format of the `jwt.hex` file.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecret`] when it is not 32 bytes of hex.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| Error::InvalidSecret(e.to_string()))?;
        let secret: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            Error::InvalidSecret(format!("{} bytes, expected 32", b.len()))
        })?;
        Ok(Self::new(secret))
    }

    /// Adds the optional `id` claim (client identifier).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds the optional `clv` claim (client version).
    #[must_use]
    pub fn with_clv(mut self, clv: impl Into<String>) -> Self {
        self.clv = Some(clv.into());
        self
    }

    /// The token for an `iat` of `iat` seconds since the Unix epoch.
    pub fn token_at(&self, iat: u64) -> String {
        const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
        let mut claims = format!(r#"{{"iat":{iat}"#);
        for (k, v) in [("id", &self.id), ("clv", &self.clv)] {
            if let Some(v) = v {
                // serde-free JSON string escaping for the two optional claims.
                claims.push_str(&format!(r#","{k}":{}"#, json_string(v)));
            }
        }
        claims.push('}');
        let mut token = URL_SAFE_NO_PAD.encode(HEADER);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let sig = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) {
            Ok(mut mac) => {
                mac.update(token.as_bytes());
                mac.finalize().into_bytes()
            }
            // HMAC accepts keys of any length; this arm is unreachable in practice.
            Err(_) => Default::default(),
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig));
        token
    }

    /// A token for the current time.
    pub fn token(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.token_at(now)
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl AuthProvider for JwtAuth {
    fn apply(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let value = HeaderValue::from_str(&format!("Bearer {}", self.token()))
            .map_err(|e| Error::Auth(e.to_string()))?;
        headers.insert(AUTHORIZATION, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_token() {
        // Computed independently (Python hmac/hashlib/base64) for secret 0x00..1f, iat 1700000000.
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
        let t = JwtAuth::new(secret).token_at(1_700_000_000);
        assert_eq!(t, include_str!("../tests/it/fixtures/jwt_kat.txt").trim());
    }

    #[test]
    fn secret_parsing() {
        let hex64 = "00".repeat(31) + "ff";
        assert!(JwtAuth::from_hex(&hex64).is_ok());
        assert!(JwtAuth::from_hex(&format!(" 0x{hex64}\n")).is_ok());
        assert!(matches!(
            JwtAuth::from_hex("abcd"),
            Err(Error::InvalidSecret(_))
        ));
        assert!(matches!(
            JwtAuth::from_hex(&"zz".repeat(32)),
            Err(Error::InvalidSecret(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn secret_parsing_never_panics(s in "\\PC{0,80}") {
            let _ = JwtAuth::from_hex(&s);
        }

        #[test]
        fn tokens_verify_for_any_secret_and_iat(secret in proptest::array::uniform32(0u8..), iat in 0u64..u64::MAX) {
            let t = JwtAuth::new(secret).token_at(iat);
            let mut parts = t.rsplitn(2, '.');
            let sig = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
            let signed = parts.next().unwrap();
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).unwrap();
            mac.update(signed.as_bytes());
            proptest::prop_assert!(mac.verify_slice(&sig).is_ok());
            let claims = URL_SAFE_NO_PAD.decode(signed.split('.').nth(1).unwrap()).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(claims).unwrap(), format!(r#"{{"iat":{iat}}}"#));
        }
    }

    #[test]
    fn optional_claims_are_included() {
        let t = JwtAuth::new([7; 32])
            .with_id("peer\"wire")
            .with_clv("0.1")
            .token_at(5);
        let claims = t.split('.').nth(1).unwrap();
        let claims = URL_SAFE_NO_PAD.decode(claims).unwrap();
        assert_eq!(
            String::from_utf8(claims).unwrap(),
            r#"{"iat":5,"id":"peer\"wire","clv":"0.1"}"#
        );
        assert!(format!("{:?}", JwtAuth::new([7; 32])).contains("redacted"));
    }
}
