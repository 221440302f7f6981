//! Typed errors: what went wrong with a token (`AuthError`) and with a configuration (`ConfigError`).
//!
//! Every `AuthError` has two faces: [`AuthError::external_message`], a fixed sentence safe to send
//! in an OAuth `error_description`, and [`AuthError::internal_detail`], for logs. Neither ever
//! contains the token itself.

/// The category of an [`AuthError`], cheap to compare (tests and metrics use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The token is not a well-formed compact JWS or its parts do not decode.
    Malformed,
    /// The token is longer than the accepted maximum.
    TooLarge,
    /// The token is a JWE (encrypted); only signed tokens are accepted.
    Encrypted,
    /// The JOSE header carries a parameter we refuse (`jwk`, `jku`, `x5u`, `x5c`, `crit`, ...).
    ForbiddenHeader,
    /// The `alg` is `none`, unknown, or not in the allow-list.
    AlgorithmNotAllowed,
    /// The `kid` is not a plausible key identifier.
    InvalidKeyId,
    /// No key with the token's `kid` is known, even after a refresh.
    UnknownKey,
    /// The signature does not verify.
    InvalidSignature,
    /// The `typ` header is not `at+jwt` although that is required.
    InvalidType,
    /// The issuer is not one of the accepted issuers.
    InvalidIssuer,
    /// The audience does not name this resource.
    InvalidAudience,
    /// The token has expired (beyond the leeway).
    Expired,
    /// The token is not valid yet (`nbf` in the future beyond the leeway).
    NotYetValid,
    /// The token claims to be issued in the future (beyond the leeway).
    IssuedInFuture,
    /// A required claim is missing.
    MissingClaim,
    /// A claim has the wrong type or an invalid value.
    InvalidClaim,
    /// The introspection endpoint says the token is not active.
    Inactive,
    /// A static token that is not configured.
    UnknownToken,
    /// The request itself is malformed (e.g. a token in the query string).
    InvalidRequest,
    /// Signing keys could not be obtained from the identity provider.
    KeysUnavailable,
    /// The introspection endpoint failed or answered nonsense.
    Upstream,
}

/// Why a token was refused. Variants carry internal detail for logs only.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is not a well-formed compact JWS.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token exceeds the size limit.
    #[error("token of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Length of the presented token in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token is encrypted (JWE).
    #[error("encrypted tokens (JWE) are not accepted")]
    Encrypted,
    /// A refused JOSE header parameter is present.
    #[error("JOSE header parameter `{0}` is not accepted")]
    ForbiddenHeader(String),
    /// The algorithm is not allowed.
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(String),
    /// The `kid` header is not a plausible identifier.
    #[error("invalid key id: {0}")]
    InvalidKeyId(String),
    /// No key matches the token's `kid`.
    #[error("no signing key for kid {0:?}")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("signature invalid: {0}")]
    InvalidSignature(String),
    /// The `typ` header is wrong.
    #[error("token type {0:?} is not at+jwt")]
    InvalidType(Option<String>),
    /// The issuer is not accepted.
    #[error("issuer {0:?} is not accepted")]
    InvalidIssuer(Option<String>),
    /// The audience is not accepted.
    #[error("audience not accepted: {0}")]
    InvalidAudience(String),
    /// The token has expired.
    #[error("token expired at {exp} (now {now}, leeway {leeway} s)")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The verifier's clock.
        now: i64,
        /// The configured leeway in seconds.
        leeway: i64,
    },
    /// The token is not valid yet.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// The token was issued in the future.
    #[error("token issued at {iat}, in the future (now {now})")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// A required claim is missing.
    #[error("claim `{0}` is required")]
    MissingClaim(&'static str),
    /// A claim is invalid.
    #[error("claim `{claim}` is invalid: {detail}")]
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The token is not active (introspection).
    #[error("token is not active")]
    Inactive,
    /// The token is not a configured static token.
    #[error("token is not a configured static token")]
    UnknownToken,
    /// The request is malformed.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Signing keys are unavailable.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    /// The introspection endpoint failed.
    #[error("token introspection failed: {0}")]
    Upstream(String),
}

impl AuthError {
    /// The error's category.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Malformed(_) => ErrorKind::Malformed,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::Encrypted => ErrorKind::Encrypted,
            Self::ForbiddenHeader(_) => ErrorKind::ForbiddenHeader,
            Self::AlgorithmNotAllowed(_) => ErrorKind::AlgorithmNotAllowed,
            Self::InvalidKeyId(_) => ErrorKind::InvalidKeyId,
            Self::UnknownKey(_) => ErrorKind::UnknownKey,
            Self::InvalidSignature(_) => ErrorKind::InvalidSignature,
            Self::InvalidType(_) => ErrorKind::InvalidType,
            Self::InvalidIssuer(_) => ErrorKind::InvalidIssuer,
            Self::InvalidAudience(_) => ErrorKind::InvalidAudience,
            Self::Expired { .. } => ErrorKind::Expired,
            Self::NotYetValid { .. } => ErrorKind::NotYetValid,
            Self::IssuedInFuture { .. } => ErrorKind::IssuedInFuture,
            Self::MissingClaim(_) => ErrorKind::MissingClaim,
            Self::InvalidClaim { .. } => ErrorKind::InvalidClaim,
            Self::Inactive => ErrorKind::Inactive,
            Self::UnknownToken => ErrorKind::UnknownToken,
            Self::InvalidRequest(_) => ErrorKind::InvalidRequest,
            Self::KeysUnavailable(_) => ErrorKind::KeysUnavailable,
            Self::Upstream(_) => ErrorKind::Upstream,
        }
    }

    /// A fixed sentence safe for an OAuth `error_description`: it names the failed check and
    /// nothing the caller did not already know.
    pub fn external_message(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "The access token is malformed",
            Self::TooLarge { .. } => "The access token is too large",
            Self::Encrypted => "Encrypted access tokens are not accepted",
            Self::ForbiddenHeader(_) => "The access token header is not accepted",
            Self::AlgorithmNotAllowed(_) => "The access token signing algorithm is not accepted",
            Self::InvalidKeyId(_) | Self::UnknownKey(_) => {
                "The access token signing key is unknown"
            }
            Self::InvalidSignature(_) => "The access token signature is invalid",
            Self::InvalidType(_) => "The access token type is not accepted",
            Self::InvalidIssuer(_) => "The access token issuer is not accepted",
            Self::InvalidAudience(_) => "The access token was not issued for this resource",
            Self::Expired { .. } => "The access token expired",
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => {
                "The access token is not valid yet"
            }
            Self::MissingClaim(_) | Self::InvalidClaim { .. } => {
                "The access token claims are invalid"
            }
            Self::Inactive | Self::UnknownToken => "The access token is not active",
            Self::InvalidRequest(_) => "The request is malformed",
            Self::KeysUnavailable(_) | Self::Upstream(_) => {
                "The access token cannot be verified right now"
            }
        }
    }

    /// Detail for logs. Built from claims and headers, never from the token string itself.
    pub fn internal_detail(&self) -> String {
        self.to_string()
    }

    /// The OAuth error code (RFC 6750 §3.1) a resource server answers with.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::KeysUnavailable(_) | Self::Upstream(_) => "temporarily_unavailable",
            _ => "invalid_token",
        }
    }

    /// Whether the failure lies on the server's side (the token may be fine): callers answer
    /// 503 rather than 401 so clients retry instead of throwing the token away.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Self::KeysUnavailable(_) | Self::Upstream(_))
    }
}

/// Why a verifier could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key source (JWKS or shared secret) was configured.
    #[error("no key source: configure a JWKS or a shared secret")]
    MissingKeySource,
    /// Both a JWKS and a shared secret were configured; HMAC keys never mix with a JWKS.
    #[error("a shared secret and a JWKS cannot be combined")]
    MixedKeySources,
    /// The algorithm allow-list does not fit the key source.
    #[error("algorithm allow-list invalid: {0}")]
    Algorithms(String),
    /// Cache bounds contradict each other.
    #[error("cache bounds invalid: {0}")]
    CacheBounds(String),
    /// The shared secret is too short for the algorithm.
    #[error("shared secret too short: {len} bytes, at least {min} needed")]
    WeakSecret {
        /// Length given.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// No accepted issuer was configured.
    #[error("at least one accepted issuer is required")]
    MissingIssuer,
    /// No accepted audience was configured.
    #[error("at least one accepted audience is required")]
    MissingAudience,
    /// A static verifier was requested without `allow_insecure_static`.
    #[error("static tokens are for development only: set allow_insecure_static to use them")]
    InsecureStaticNotAllowed,
    /// A static token's claims are invalid.
    #[error("static token claims invalid: {0}")]
    StaticClaims(String),
    /// A URL is not acceptable.
    #[error("invalid URL {url:?}: {detail}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// Fetching or parsing the discovery document failed.
    #[error("OIDC discovery failed: {0}")]
    Discovery(String),
    /// The discovery document names another issuer than the one it was fetched for.
    #[error("discovery document issuer {found:?} differs from the expected {expected:?}")]
    IssuerMismatch {
        /// Issuer expected from the configuration URL.
        expected: String,
        /// Issuer in the document.
        found: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Shortens attacker-controlled text before it enters a log line.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 96;
    if s.len() <= MAX {
        return s.escape_debug().to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", s[..end].escape_debug())
}
