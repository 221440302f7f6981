//! The bench's own identity provider: a fresh RS256 key, its JWKS served over loopback HTTP,
//! and access tokens signed with it. Both splunk-mcp and the Python peers verify against it, so
//! they check the same signatures and claims.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::json;

/// Subject of every bench token; a successful `whoami` answer names it.
pub(super) const SUBJECT: &str = "bench-user";
/// OAuth client of every bench token.
const CLIENT_ID: &str = "bench-client";
const KEY_ID: &str = "bench-rs256";

/// A running JWKS endpoint and the key behind it; the endpoint stops when this drops.
pub(super) struct BenchIdp {
    /// The issuer (`iss`) of the tokens: the JWKS server's base URL.
    pub(super) issuer: String,
    /// Where the key set is served.
    pub(super) jwks_uri: String,
    key: Jwk,
    server: tokio::task::JoinHandle<()>,
}

impl BenchIdp {
    /// Generates an RSA-2048 key and serves its public half at `http://127.0.0.1:PORT/jwks`.
    pub(super) async fn start() -> anyhow::Result<Self> {
        let mut key = Jwk::generate_rsa_key(2048).context("generating the bench's RSA key")?;
        key.set_key_id(KEY_ID);
        key.set_algorithm("RS256");
        let mut public = key
            .to_public_key()
            .context("public half of the bench key")?;
        public.set_key_id(KEY_ID);
        public.set_algorithm("RS256");
        public.set_key_use("sig");
        let jwks = json!({ "keys": [public.as_ref()] }).to_string();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = jwks.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the bench's JWKS server")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                crate::progress::say(format_args!("the bench's JWKS server stopped: {error}"));
            }
        });
        let issuer = format!("http://{addr}");
        Ok(Self {
            jwks_uri: format!("{issuer}/jwks"),
            issuer,
            key,
            server,
        })
    }

    /// An RS256 access token (`typ: at+jwt`) for `audience` with the given scopes, valid 2 hours.
    pub(super) fn token(&self, audience: &str, scope: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(KEY_ID);
        let claims = json!({
            "iss": self.issuer,
            "aud": audience,
            "sub": SUBJECT,
            "client_id": CLIENT_ID,
            "scope": scope,
            "groups": ["bench"],
            "iat": now,
            "exp": now + 7200,
        });
        let serde_json::Value::Object(claims) = claims else {
            unreachable!("a JSON object literal")
        };
        let payload = JwtPayload::from_map(claims)?;
        let signer = RS256.signer_from_jwk(&self.key)?;
        Ok(jwt::encode_with_signer(&payload, &header, &signer)?)
    }
}

impl Drop for BenchIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
