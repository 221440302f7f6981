//! Shared test helpers: keys, token signing, and real local HTTP servers for JWKS, discovery and
//! introspection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auth_core::{HttpClient, HttpClientConfig, JwksCache, JwksCacheConfig, JwtVerifier};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsSigner};
use serde_json::{Value, json};

pub(crate) const ISSUER: &str = "https://idp.example/realms/splunk";
pub(crate) const AUDIENCE: &str = "https://mcp.example/mcp";
pub(crate) const HMAC_SECRET: &[u8] =
    b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Private test keys, generated once per test binary (RSA generation is slow).
pub(crate) struct Keys {
    pub(crate) rsa: Jwk,
    pub(crate) rsa2: Jwk,
    pub(crate) rsa_other: Jwk,
    pub(crate) ec256: Jwk,
    pub(crate) ec384: Jwk,
    pub(crate) ec521: Jwk,
    pub(crate) ed: Jwk,
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let with_kid = |mut k: Jwk, kid: &str| {
            k.set_key_id(kid);
            k
        };
        Keys {
            rsa: with_kid(Jwk::generate_rsa_key(2048).unwrap(), "rsa-1"),
            rsa2: with_kid(Jwk::generate_rsa_key(2048).unwrap(), "rsa-2"),
            rsa_other: with_kid(Jwk::generate_rsa_key(2048).unwrap(), "rsa-1"),
            ec256: with_kid(
                Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap(),
                "ec-256",
            ),
            ec384: with_kid(
                Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P384).unwrap(),
                "ec-384",
            ),
            ec521: with_kid(
                Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P521).unwrap(),
                "ec-521",
            ),
            ed: with_kid(
                Jwk::generate_ed_key(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap(),
                "ed-1",
            ),
        }
    })
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signer(alg: &str, key: &Jwk) -> Box<dyn JwsSigner> {
    match alg {
        "RS256" => Box::new(jws::RS256.signer_from_jwk(key).unwrap()),
        "RS384" => Box::new(jws::RS384.signer_from_jwk(key).unwrap()),
        "RS512" => Box::new(jws::RS512.signer_from_jwk(key).unwrap()),
        "PS256" => Box::new(jws::PS256.signer_from_jwk(key).unwrap()),
        "PS384" => Box::new(jws::PS384.signer_from_jwk(key).unwrap()),
        "PS512" => Box::new(jws::PS512.signer_from_jwk(key).unwrap()),
        "ES256" => Box::new(jws::ES256.signer_from_jwk(key).unwrap()),
        "ES384" => Box::new(jws::ES384.signer_from_jwk(key).unwrap()),
        "ES512" => Box::new(jws::ES512.signer_from_jwk(key).unwrap()),
        "EdDSA" => Box::new(jws::EdDSA.signer_from_jwk(key).unwrap()),
        other => panic!("no signer for {other}"),
    }
}

/// Signs `header`.`claims` with `key` using `alg` (the header is taken as given, so tests can
/// lie in it).
pub(crate) fn sign(alg: &str, key: &Jwk, header: &Value, claims: &Value) -> String {
    sign_text(alg, key, &header.to_string(), &claims.to_string())
}

/// Signs header and claims given as JSON text, for what `json!` cannot write (repeated names).
pub(crate) fn sign_text(alg: &str, key: &Jwk, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = signer(alg, key).sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(sig))
}

/// Signs with an HMAC secret.
pub(crate) fn sign_hmac(alg: &str, secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = match alg {
        "HS256" => jws::HS256
            .signer_from_bytes(secret)
            .unwrap()
            .sign(input.as_bytes())
            .unwrap(),
        "HS384" => jws::HS384
            .signer_from_bytes(secret)
            .unwrap()
            .sign(input.as_bytes())
            .unwrap(),
        other => panic!("no hmac {other}"),
    };
    format!("{input}.{}", b64(sig))
}

pub(crate) fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "typ": "at+jwt", "kid": kid})
}

pub(crate) fn good_claims() -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "client-1",
        "exp": now + 300, "iat": now - 5, "nbf": now - 5, "jti": "j-1",
        "scope": "splunk:read splunk:search", "groups": ["splunk-users"]
    })
}

/// A good RS256 token from `rsa-1`.
pub(crate) fn good_token() -> String {
    sign(
        "RS256",
        &keys().rsa,
        &header("RS256", "rsa-1"),
        &good_claims(),
    )
}

pub(crate) fn public(k: &Jwk) -> Value {
    let mut p = k.to_public_key().unwrap();
    // josekit's to_public_key drops `kid`.
    p.set_key_id(k.key_id().unwrap());
    Value::Object(p.as_ref().clone())
}

pub(crate) fn jwks_of(keys: &[&Jwk]) -> Value {
    json!({"keys": keys.iter().map(|k| public(k)).collect::<Vec<_>>()})
}

/// What the JWKS server answers; tests change it while the server runs.
pub(crate) struct JwksState {
    pub(crate) jwks: Value,
    pub(crate) status: u16,
    pub(crate) cache_control: Option<String>,
    pub(crate) discovery_issuer: Option<String>,
}

/// A real JWKS + discovery server on 127.0.0.1, counting JWKS fetches.
pub(crate) struct JwksServer {
    pub(crate) addr: SocketAddr,
    pub(crate) fetches: Arc<AtomicUsize>,
    pub(crate) state: Arc<Mutex<JwksState>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub(crate) async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(Mutex::new(JwksState {
            jwks,
            status: 200,
            cache_control: None,
            discovery_issuer: None,
        }));
        let (f, s) = (fetches.clone(), state.clone());
        let s2 = state.clone();
        let app = Router::new()
            .route(
                "/jwks",
                get(move || {
                    let (f, s) = (f.clone(), s.clone());
                    async move {
                        f.fetch_add(1, Ordering::SeqCst);
                        let st = s.lock().unwrap();
                        let mut headers = HeaderMap::new();
                        if let Some(cc) = &st.cache_control {
                            headers.insert("cache-control", cc.parse().unwrap());
                        }
                        let status = StatusCode::from_u16(st.status).unwrap();
                        (status, headers, st.jwks.to_string()).into_response()
                    }
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let s = s2.clone();
                    async move {
                        let issuer = s
                            .lock()
                            .unwrap()
                            .discovery_issuer
                            .clone()
                            .unwrap_or_else(|| format!("http://{addr}"));
                        axum::Json(
                            json!({"issuer": issuer, "jwks_uri": format!("http://{addr}/jwks")}),
                        )
                    }
                }),
            );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            fetches,
            state,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    pub(crate) fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub(crate) fn set<F: FnOnce(&mut JwksState)>(&self, f: F) {
        f(&mut self.state.lock().unwrap());
    }

    /// Stops answering altogether (connection refused from now on).
    pub(crate) fn shutdown(&self) {
        self.task.abort();
    }
}

pub(crate) fn http() -> HttpClient {
    HttpClient::new(HttpClientConfig {
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    })
    .unwrap()
}

pub(crate) fn jwks_cache(server: &JwksServer, config: JwksCacheConfig) -> Arc<JwksCache> {
    Arc::new(JwksCache::new(server.url(), Arc::new(http()), config).unwrap())
}

pub(crate) fn verifier_with(cache: Arc<JwksCache>) -> JwtVerifier {
    JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_access_token_type(true)
        .jwks(cache)
        .build()
        .unwrap()
}
