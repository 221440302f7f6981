//! The two cookies of the sign-in flow, signed with HMAC-SHA256 under the server's cookie key:
//!
//! - the browser binding: a random value whose hash every pending authorization stores, so a
//!   consent or a callback completes only in the browser that started it (a leaked `state`
//!   or consent link is useless elsewhere);
//! - remembered consent, one cookie per client: the client id, the scopes approved and an
//!   expiry, so a browser that approved a client is not asked again for the same scopes.
//!
//! All are `HttpOnly`, `SameSite=Lax` (the IdP's redirect to the callback is a top-level GET,
//! which Lax allows), `Path=/`. With `secure_cookies` they are also `Secure` and their names
//! carry the `__Host-` prefix (no `Domain`, so no sibling host can set or read them); on plain
//! http (loopback development) browsers refuse both, so neither is used there.
//!
//! Value format: `<payload>.<signature>`, both base64url; the signed bytes are
//! `<purpose> NUL <payload>`, so a value signed for one cookie never verifies as the other.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::records::{TokenHash, now_millis};
use crate::upstream::random_token;

use super::AuthorizationServer;

/// Base name of the browser-binding cookie.
const BINDING_NAME: &str = "smcp_browser";
/// Base name of the remembered-consent cookies; a digest of the client id follows.
const CONSENT_NAME: &str = "smcp_consent_";
const BINDING_PURPOSE: &[u8] = b"browser-binding";
const CONSENT_PURPOSE: &[u8] = b"remembered-consent";
/// Longest cookie value read; ours are far shorter, anything longer is not ours.
const MAX_VALUE_LEN: usize = 2048;

/// What a remembered-consent cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RememberedConsent {
    /// The client consented to; a cookie copied under another client's name does not verify.
    #[serde(rename = "c")]
    pub(crate) client_id: String,
    /// The scopes approved, space-separated.
    #[serde(rename = "s")]
    pub(crate) scope: String,
    /// Expiry, Unix milliseconds: enforced here, whatever the browser keeps.
    #[serde(rename = "e")]
    pub(crate) expires_at: u64,
}

impl RememberedConsent {
    /// Whether every scope of `requested` (space-separated) was approved.
    pub(crate) fn covers(&self, requested: &str) -> bool {
        requested
            .split_whitespace()
            .all(|s| self.scope.split_whitespace().any(|granted| granted == s))
    }
}

/// The browser binding of a request: the value from a valid cookie, or a fresh one to set.
#[derive(Debug)]
pub(crate) struct BrowserBinding {
    value: String,
    fresh: bool,
}

impl BrowserBinding {
    /// The hash stored in a transaction.
    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash::of(&self.value)
    }

    /// Whether this binding is the one a transaction stored.
    pub(crate) fn matches(&self, stored: Option<&TokenHash>) -> bool {
        stored.is_some_and(|hash| hash.matches(&self.value))
    }
}

impl AuthorizationServer {
    /// The browser's binding from its cookie, or a new one when it has none (or a forged one).
    pub(crate) fn browser_binding(&self, headers: &HeaderMap) -> BrowserBinding {
        match self.presented_binding(headers) {
            Some(binding) => binding,
            None => BrowserBinding {
                value: random_token(),
                fresh: true,
            },
        }
    }

    /// The browser's binding only if its cookie is present and correctly signed.
    pub(crate) fn presented_binding(&self, headers: &HeaderMap) -> Option<BrowserBinding> {
        let raw = cookie_value(headers, &self.cookie_name(BINDING_NAME))?;
        let payload = verify(&self.cookie_key, BINDING_PURPOSE, raw)?;
        let value = String::from_utf8(payload).ok()?;
        Some(BrowserBinding {
            value,
            fresh: false,
        })
    }

    /// The `Set-Cookie` for a binding, or `None` when the browser already has it. A session
    /// cookie: it only has to outlive one sign-in.
    pub(crate) fn binding_cookie(&self, binding: &BrowserBinding) -> Option<HeaderValue> {
        if !binding.fresh {
            return None;
        }
        let value = sign(&self.cookie_key, BINDING_PURPOSE, binding.value.as_bytes());
        self.set_cookie(&self.cookie_name(BINDING_NAME), &value, None)
    }

    /// What the browser's valid, unexpired remembered-consent cookie for `client_id` says.
    pub(crate) fn remembered_consent(
        &self,
        headers: &HeaderMap,
        client_id: &str,
    ) -> Option<RememberedConsent> {
        if self.config.consent_remember.is_zero() {
            return None;
        }
        let raw = cookie_value(headers, &self.consent_cookie_name(client_id))?;
        let payload = verify(&self.cookie_key, CONSENT_PURPOSE, raw)?;
        let consent: RememberedConsent = serde_json::from_slice(&payload).ok()?;
        (consent.client_id == client_id && consent.expires_at > now_millis()).then_some(consent)
    }

    /// The `Set-Cookie` remembering that this browser approved `scope` for `client_id`, for
    /// `config.consent_remember`; `None` when remembering is off.
    pub(crate) fn consent_cookie(&self, client_id: &str, scope: &str) -> Option<HeaderValue> {
        let remember = self.config.consent_remember;
        if remember.is_zero() {
            return None;
        }
        let consent = RememberedConsent {
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            expires_at: now_millis()
                .saturating_add(u64::try_from(remember.as_millis()).unwrap_or(u64::MAX)),
        };
        let payload = serde_json::to_vec(&consent).ok()?;
        let value = sign(&self.cookie_key, CONSENT_PURPOSE, &payload);
        self.set_cookie(
            &self.consent_cookie_name(client_id),
            &value,
            Some(remember.as_secs()),
        )
    }

    fn cookie_name(&self, base: &str) -> String {
        if self.config.secure_cookies {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// One cookie per client, named by a digest of its id (ids may be URLs, which are not
    /// valid cookie names).
    fn consent_cookie_name(&self, client_id: &str) -> String {
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(client_id.as_bytes()));
        self.cookie_name(&format!("{CONSENT_NAME}{}", &digest[..22]))
    }

    fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> Option<HeaderValue> {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(seconds) = max_age {
            cookie.push_str(&format!("; Max-Age={seconds}"));
        }
        if self.config.secure_cookies {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).ok()
    }
}

/// `<payload>.<tag>` for `payload`, signed for `purpose`.
fn sign(key: &hmac::Key, purpose: &[u8], payload: &[u8]) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload);
    let tag = hmac::sign(key, &signed_bytes(purpose, &encoded));
    format!("{encoded}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The payload of a value signed with `key` for `purpose`; `None` if forged or malformed.
fn verify(key: &hmac::Key, purpose: &[u8], value: &str) -> Option<Vec<u8>> {
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    let (encoded, tag) = value.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    // Constant-time comparison inside ring.
    hmac::verify(key, &signed_bytes(purpose, encoded), &tag).ok()?;
    URL_SAFE_NO_PAD.decode(encoded).ok()
}

fn signed_bytes(purpose: &[u8], encoded: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(purpose.len() + 1 + encoded.len());
    bytes.extend_from_slice(purpose);
    bytes.push(0);
    bytes.extend_from_slice(encoded.as_bytes());
    bytes
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_purpose_and_payload() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7u8; 32]);
        let value = sign(&key, BINDING_PURPOSE, b"abc");
        assert_eq!(
            verify(&key, BINDING_PURPOSE, &value).as_deref(),
            Some(&b"abc"[..])
        );
        // Signed for the other cookie, or by another key: refused.
        assert_eq!(verify(&key, CONSENT_PURPOSE, &value), None);
        let other = hmac::Key::new(hmac::HMAC_SHA256, &[8u8; 32]);
        assert_eq!(verify(&other, BINDING_PURPOSE, &value), None);
        // Payload swapped under the same tag, or tag changed: refused.
        let (_, tag) = value.split_once('.').unwrap();
        let swapped = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(b"abd"));
        assert_eq!(verify(&key, BINDING_PURPOSE, &swapped), None);
        assert_eq!(verify(&key, BINDING_PURPOSE, &format!("{value}x")), None);
        assert_eq!(verify(&key, BINDING_PURPOSE, "no-dot"), None);
    }

    #[test]
    fn cookie_header_parsing() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=\"3\""));
        assert_eq!(cookie_value(&headers, "b"), Some("2"));
        assert_eq!(cookie_value(&headers, "c"), Some("3"));
        assert_eq!(cookie_value(&headers, "d"), None);
    }

    #[test]
    fn consent_covers_only_approved_scopes() {
        let consent = RememberedConsent {
            client_id: "c".into(),
            scope: "splunk:read splunk:search".into(),
            expires_at: u64::MAX,
        };
        assert!(consent.covers("splunk:read"));
        assert!(consent.covers("splunk:search splunk:read"));
        assert!(!consent.covers("splunk:read splunk:admin"));
    }
}
