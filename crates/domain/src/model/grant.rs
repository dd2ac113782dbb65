//! Report grants (contract §8.9): short tokens that carry a viewer's identity from the main origin to the report
//! origin, where the main session cookie must never be sent. A grant names the session (by the hash of its
//! cookie, never the cookie) or the API key, so the report origin can check on every request that it is still
//! valid and still holds `view`; it proves nothing by itself beyond who it names and until when.
//!
//! Form: `<use>.<kind>.<id>.<expiry>.<mac>` with an HMAC-SHA256 over the first four parts, all URL-safe.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::ids::ApiKeyId;
use crate::model::access::{Principal, PrincipalRef};
use crate::model::secret::hex;

/// What a grant may be used as; a link grant is not a cookie and the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantUse {
    /// The `grant` query parameter of a redirect: valid for a minute.
    Link,
    /// The `allure_hub_report` cookie of the report origin: valid for hours.
    Cookie,
}

impl GrantUse {
    fn tag(self) -> &'static str {
        match self {
            Self::Link => "g",
            Self::Cookie => "c",
        }
    }
}

/// Who a grant names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantSubject {
    /// A browser session, by the SHA-256 of its cookie.
    Session(String),
    /// An API key, by id.
    ApiKey(ApiKeyId),
}

impl GrantSubject {
    /// The subject naming this principal.
    pub fn of(principal: &Principal) -> Self {
        match (&principal.session, &principal.identity) {
            (Some(session), _) => Self::Session(session.token_hash.clone()),
            (None, PrincipalRef::ApiKey { id, .. }) => Self::ApiKey(*id),
            // A user principal always comes with its session; name nothing that could verify.
            (None, PrincipalRef::User(_)) => Self::Session(String::new()),
        }
    }
}

/// The key grants are signed with, derived from the session secret so that every node of a deployment agrees.
#[derive(Clone)]
pub struct GrantKey([u8; 32]);

impl std::fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantKey(…)")
    }
}

impl GrantKey {
    /// Derives the key; a separate label keeps it distinct from every other use of the secret.
    pub fn derive(session_secret: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"allure-hub report grant\0");
        digest.update(session_secret.as_bytes());
        Self(digest.finalize().into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
    }

    /// A token naming `subject` for `usage`, valid until `expires_at` (Unix seconds).
    pub fn sign(&self, usage: GrantUse, subject: &GrantSubject, expires_at: i64) -> String {
        let body = match subject {
            GrantSubject::Session(hash) => format!("{}.s.{hash}.{expires_at}", usage.tag()),
            GrantSubject::ApiKey(id) => format!("{}.k.{id}.{expires_at}", usage.tag()),
        };
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", hex(&mac.finalize().into_bytes()))
    }

    /// The subject of a token signed with this key for `usage` and not expired at `now` (Unix seconds).
    pub fn verify(&self, token: &str, usage: GrantUse, now: i64) -> Option<GrantSubject> {
        let (body, signature) = token.rsplit_once('.')?;
        let signature = decode_hex(signature)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let mut parts = body.split('.');
        let (tag, kind, id, expiry) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || tag != usage.tag() || expiry.parse::<i64>().ok()? <= now {
            return None;
        }
        match kind {
            "s" if !id.is_empty() => Some(GrantSubject::Session(id.to_owned())),
            "k" => ApiKeyId::parse(id).ok().map(GrantSubject::ApiKey),
            _ => None,
        }
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn session() -> GrantSubject {
        GrantSubject::Session("ab".repeat(32))
    }

    #[test]
    fn a_grant_names_its_subject_until_it_expires() {
        let key = GrantKey::derive("secret");
        let token = key.sign(GrantUse::Link, &session(), 1_060);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'), "URL-safe: {token}");
        assert_eq!(key.verify(&token, GrantUse::Link, 1_000), Some(session()));
        assert_eq!(key.verify(&token, GrantUse::Link, 1_060), None, "expired");
        let api_key = GrantSubject::ApiKey(ApiKeyId::from(ulid::Ulid::from_parts(1, 2)));
        let token = key.sign(GrantUse::Cookie, &api_key, 2_000);
        assert_eq!(key.verify(&token, GrantUse::Cookie, 1_000), Some(api_key));
    }

    #[test]
    fn forged_reused_or_foreign_grants_are_refused() {
        let key = GrantKey::derive("secret");
        let token = key.sign(GrantUse::Link, &session(), 5_000);
        assert_eq!(key.verify(&token, GrantUse::Cookie, 1_000), None, "a link grant is not a cookie");
        assert_eq!(GrantKey::derive("other").verify(&token, GrantUse::Link, 1_000), None, "another secret");
        let longer = token.replacen(".5000.", ".9999.", 1);
        assert_eq!(key.verify(&longer, GrantUse::Link, 1_000), None, "a changed expiry breaks the signature");
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(key.verify(&String::from_utf8(flipped).unwrap(), GrantUse::Link, 1_000), None);
        for junk in ["", ".", "g.s..5000.00", "not a token", "g.s.x.5000.zz"] {
            assert_eq!(key.verify(junk, GrantUse::Link, 1_000), None, "{junk}");
        }
    }
}
