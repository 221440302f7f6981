//! `Algorithm`: the JWS algorithms this crate knows, and which key types each needs.

use std::fmt;
use std::str::FromStr;

use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// EdDSA (Ed25519 or Ed448).
    EdDsa,
    /// HMAC with SHA-256 (shared secret only).
    Hs256,
    /// HMAC with SHA-384 (shared secret only).
    Hs384,
    /// HMAC with SHA-512 (shared secret only).
    Hs512,
}

/// The family of keys an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec(&'static str),
    Okp,
    Oct,
}

impl Algorithm {
    /// Every asymmetric algorithm, the default allow-list for a JWKS.
    pub const ASYMMETRIC: [Algorithm; 10] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::EdDsa,
    ];

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// Whether this is an HMAC algorithm (needs a shared secret).
    pub fn is_symmetric(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                KeyFamily::Rsa
            }
            Self::Es256 => KeyFamily::Ec("P-256"),
            Self::Es384 => KeyFamily::Ec("P-384"),
            Self::Es512 => KeyFamily::Ec("P-521"),
            Self::EdDsa => KeyFamily::Okp,
            Self::Hs256 | Self::Hs384 | Self::Hs512 => KeyFamily::Oct,
        }
    }

    /// Minimum HMAC key length: the hash output size (RFC 7518 §3.2).
    pub(crate) fn min_secret_len(self) -> usize {
        match self {
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 32,
        }
    }

    /// Whether a JWK is of the type and curve this algorithm needs.
    pub(crate) fn fits(self, jwk: &Jwk) -> bool {
        match (self.family(), jwk.key_type()) {
            (KeyFamily::Rsa, "RSA") => true,
            (KeyFamily::Ec(crv), "EC") => jwk.curve() == Some(crv),
            (KeyFamily::Okp, "OKP") => matches!(jwk.curve(), Some("Ed25519" | "Ed448")),
            _ => false,
        }
    }

    /// A josekit verifier for a public JWK.
    pub(crate) fn verifier_from_jwk(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
        let r: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match self {
            Self::Rs256 => jws::RS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Rs384 => jws::RS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Rs512 => jws::RS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Ps256 => jws::PS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Ps384 => jws::PS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Ps512 => jws::PS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Es256 => jws::ES256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Es384 => jws::ES384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Es512 => jws::ES512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::EdDsa => jws::EdDSA.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
            Self::Hs256 | Self::Hs384 | Self::Hs512 => {
                return Err("HMAC keys are never taken from a JWKS".to_owned());
            }
        };
        r.map_err(|e| e.to_string())
    }

    /// A josekit verifier for a shared secret.
    pub(crate) fn verifier_from_secret(
        self,
        secret: &[u8],
    ) -> Result<Box<dyn JwsVerifier>, String> {
        let r: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match self {
            Self::Hs256 => jws::HS256
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            Self::Hs384 => jws::HS384
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            Self::Hs512 => jws::HS512
                .verifier_from_bytes(secret)
                .map(|v| Box::new(v) as _),
            other => return Err(format!("{other} needs an asymmetric key")),
        };
        r.map_err(|e| e.to_string())
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    /// Exact, case-sensitive match: `alg` values are case-sensitive (RFC 7515 §4.1.1), so
    /// `"none"`, `"None"` and `"rs256"` are all unknown.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "RS256" => Self::Rs256,
            "RS384" => Self::Rs384,
            "RS512" => Self::Rs512,
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            "EdDSA" => Self::EdDsa,
            "HS256" => Self::Hs256,
            "HS384" => Self::Hs384,
            "HS512" => Self::Hs512,
            other => return Err(format!("unknown algorithm {}", crate::error::clip(other))),
        })
    }
}
