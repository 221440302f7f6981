//! `CompositeVerifier`: JWT-shaped tokens go to the JWT verifier, opaque ones to introspection.

use std::sync::Arc;

use crate::token::looks_like_jwt;
use crate::verifier::{TokenVerifier, VerifyFuture};

/// Routes by token shape. A JWT that fails JWT verification is not retried by introspection:
/// that would turn every forged JWT into a request to the IdP.
pub struct CompositeVerifier {
    jwt: Arc<dyn TokenVerifier>,
    opaque: Arc<dyn TokenVerifier>,
}

impl std::fmt::Debug for CompositeVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompositeVerifier")
    }
}

impl CompositeVerifier {
    /// JWT-shaped tokens to `jwt`, everything else to `opaque`.
    pub fn new(jwt: Arc<dyn TokenVerifier>, opaque: Arc<dyn TokenVerifier>) -> Self {
        Self { jwt, opaque }
    }
}

impl TokenVerifier for CompositeVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        if looks_like_jwt(token) {
            self.jwt.verify(token)
        } else {
            self.opaque.verify(token)
        }
    }
}
