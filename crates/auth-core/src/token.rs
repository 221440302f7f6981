//! Structural parsing of a compact JWS before any cryptography, so that hostile headers are
//! refused by our rules rather than by whatever a JOSE library happens to accept.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{
    self, Deserialize, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor,
};
use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::claims::{ClaimValues, Claims, ClaimsConfig, Name};
use crate::error::{AuthError, clip};

/// Tokens longer than this are refused before any decoding (16 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Header parameters that would let the token choose its own key or demand extensions we do not
/// implement. `b64` only has meaning with `crit`, and is refused with it.
const FORBIDDEN_HEADERS: [&str; 7] = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "enc"];

/// A compact JWS split and decoded, but NOT verified.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    /// The algorithm named by the header.
    pub algorithm: Algorithm,
    /// The `kid` header, if any (already checked for odd characters).
    pub key_id: Option<String>,
    /// The `typ` header, if any.
    pub token_type: Option<String>,
    /// The payload's claims, read but not yet type-checked.
    claims: ClaimValues,
    /// `BASE64URL(header) "." BASE64URL(payload)`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl UnverifiedToken<'_> {
    /// The payload claim `name`, as it is in the token.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// The payload's claims, type-checked (a claim of the wrong type is refused).
    pub fn claims(self, config: &ClaimsConfig) -> Result<Claims, AuthError> {
        self.claims.into_claims(config)
    }
}

/// Whether a string looks like a JWT (three or five dot-separated parts, the first a
/// base64url JSON object) rather than an opaque token; cheap, no verification.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts = token.split('.').count();
    if parts != 3 && parts != 5 {
        return false;
    }
    let first = token.split('.').next().unwrap_or_default();
    matches!(URL_SAFE_NO_PAD.decode(first), Ok(bytes) if bytes.first() == Some(&b'{'))
}

/// Splits, decodes and checks a compact JWS's structure and header. Does not verify anything
/// cryptographic, and does not look at claims beyond decoding the payload to a JSON object.
pub fn parse_unverified(token: &str) -> Result<UnverifiedToken<'_>, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::TooLarge {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        });
    }
    let dots = token.bytes().filter(|b| *b == b'.').count();
    match dots {
        2 => {}
        4 => return Err(AuthError::Encrypted),
        n => {
            return Err(AuthError::Malformed(format!(
                "{} parts, a JWS has 3",
                n + 1
            )));
        }
    }
    let mut parts = token.splitn(3, '.');
    let (h64, p64, s64) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => return Err(AuthError::Malformed("missing part".to_owned())),
    };
    let header: Header = decode_json(h64, "header")?;
    header.check_forbidden()?;
    let algorithm = header_algorithm(header.alg)?;
    let key_id = match header.kid {
        None => None,
        Some(Value::String(kid)) => {
            check_kid(&kid)?;
            Some(kid)
        }
        Some(_) => return Err(AuthError::InvalidKeyId("kid is not a string".to_owned())),
    };
    let token_type = match header.typ {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(_) => return Err(AuthError::Malformed("typ is not a string".to_owned())),
    };
    let claims: ClaimValues = decode_json(p64, "payload")?;
    if s64.is_empty() {
        return Err(AuthError::InvalidSignature("empty signature".to_owned()));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|e| AuthError::Malformed(format!("signature is not base64url: {e}")))?;
    let signing_input = &token[..h64.len() + 1 + p64.len()];
    Ok(UnverifiedToken {
        algorithm,
        key_id,
        token_type,
        claims,
        signing_input,
        signature,
    })
}

fn decode_json<T: DeserializeOwned>(part: &str, what: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| AuthError::Malformed(format!("{what} is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        AuthError::Malformed(match e.classify() {
            serde_json::error::Category::Data => format!("{what} is refused: {e}"),
            _ => format!("{what} is not JSON: {e}"),
        })
    })
}

/// The JOSE header parameters that matter here, read straight from the JSON (no map): the
/// three this crate uses, and whether any forbidden one is present. Others are skipped.
#[derive(Default)]
struct Header {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    /// Bit i set: `FORBIDDEN_HEADERS[i]` is present.
    forbidden: u8,
}

impl Header {
    fn check_forbidden(&self) -> Result<(), AuthError> {
        let present = |name: &str| {
            FORBIDDEN_HEADERS
                .iter()
                .position(|f| *f == name)
                .is_some_and(|i| self.forbidden & (1 << i) != 0)
        };
        if present("enc") {
            return Err(AuthError::Encrypted);
        }
        match FORBIDDEN_HEADERS.iter().find(|name| present(name)) {
            Some(name) => Err(AuthError::ForbiddenHeader((*name).to_owned())),
            None => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Header;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut header = Header::default();
                while let Some(Name(name)) = map.next_key()? {
                    let slot = match name.as_ref() {
                        "alg" => &mut header.alg,
                        "kid" => &mut header.kid,
                        "typ" => &mut header.typ,
                        other => {
                            if let Some(i) = FORBIDDEN_HEADERS.iter().position(|f| *f == other) {
                                header.forbidden |= 1 << i;
                            }
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    // One token, one algorithm: a second `alg` (or `kid`, `typ`) is refused
                    // rather than letting one parser read the first and another the last.
                    if slot.replace(map.next_value()?).is_some() {
                        return Err(de::Error::custom(format_args!("{name:?} appears twice")));
                    }
                }
                Ok(header)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

fn header_algorithm(alg: Option<Value>) -> Result<Algorithm, AuthError> {
    match alg {
        Some(Value::String(alg)) => alg
            .parse()
            .map_err(|_| AuthError::AlgorithmNotAllowed(clip(&alg))),
        Some(_) => Err(AuthError::Malformed("alg is not a string".to_owned())),
        None => Err(AuthError::Malformed("alg is missing".to_owned())),
    }
}

/// A `kid` is an opaque name, but it ends up in logs, cache keys and perhaps someone's file
/// path; refuse what no IdP uses: path separators, `..`, whitespace, controls, non-ASCII.
fn check_kid(kid: &str) -> Result<(), AuthError> {
    if kid.is_empty() || kid.len() > 256 {
        return Err(AuthError::InvalidKeyId(format!("length {}", kid.len())));
    }
    let ok_chars = kid.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b':' | b'@' | b'#')
    });
    if !ok_chars || kid.contains("..") {
        return Err(AuthError::InvalidKeyId(clip(kid)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn structure_errors() {
        let h = b64(r#"{"alg":"RS256"}"#);
        let p = b64("{}");
        assert_eq!(
            parse_unverified(&format!("{h}.{p}")).unwrap_err().kind(),
            ErrorKind::Malformed
        );
        assert_eq!(
            parse_unverified(&format!("{h}.{p}.c.d.e"))
                .unwrap_err()
                .kind(),
            ErrorKind::Encrypted
        );
        assert_eq!(
            parse_unverified(&"a".repeat(MAX_TOKEN_LEN + 1))
                .unwrap_err()
                .kind(),
            ErrorKind::TooLarge
        );
        assert!(parse_unverified(&format!("{h}.{p}.AAAA")).is_ok());
    }

    #[test]
    fn kid_rules() {
        assert!(check_kid("abc-DEF_1.2=").is_ok());
        for bad in ["../etc/passwd", "a/b", "a b", "a\\b", "", "é"] {
            assert!(check_kid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt(&format!("{}.{}.sig", b64("{}"), b64("{}"))));
        assert!(!looks_like_jwt("opaque-token"));
        assert!(!looks_like_jwt("a.b.c"));
    }
}
