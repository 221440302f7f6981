//! Dynamic client registration over real HTTP against the redb store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oidc_proxy::{
    RedbStore, RegistrationConfig, RegistrationState, Store, TokenHash, registration_router,
};
use serde_json::{Value, json};

use crate::support::{TempDir, cipher};

struct Server {
    url: String,
    store: Arc<dyn Store>,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Server {
    async fn start(config: RegistrationConfig) -> Self {
        let dir = TempDir::new("register");
        let store: Arc<dyn Store> = Arc::new(
            RedbStore::open(dir.path().join("s.redb"), cipher())
                .await
                .unwrap(),
        );
        let app = registration_router(RegistrationState {
            store: store.clone(),
            config: Arc::new(config),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap()
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            url: format!("http://{addr}/register"),
            store,
            http: reqwest::Client::builder().build().unwrap(),
            _dir: dir,
        }
    }

    async fn post(&self, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self.http.post(&self.url).json(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.unwrap())
    }
}

#[tokio::test]
async fn public_native_client_registers() {
    let server = Server::start(RegistrationConfig::default()).await;
    let (status, headers, body) = server
        .post(&json!({
            "client_name": "Visual Studio Code",
            "redirect_uris": ["http://127.0.0.1:33418", "https://vscode.dev/redirect"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let client_id = body["client_id"].as_str().unwrap();
    assert!(body["client_id_issued_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let stored = server.store.get_client(client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash, None);
    assert_eq!(
        stored.redirect_uris,
        ["http://127.0.0.1:33418", "https://vscode.dev/redirect"]
    );
    assert_eq!(stored.client_name.as_deref(), Some("Visual Studio Code"));
}

#[tokio::test]
async fn confidential_web_client_gets_a_secret_stored_only_as_hash() {
    let config = RegistrationConfig {
        scopes_supported: vec!["splunk:search".into()],
        ..Default::default()
    };
    let server = Server::start(config).await;
    let (status, _, body) = server
        .post(&json!({
            "client_name": "Claude",
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "client_secret_post",
            "scope": "openid splunk:search",
            "client_secret": "chosen-by-client",
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["application_type"], "web");
    assert_eq!(body["scope"], "splunk:search");
    assert_eq!(body["client_secret_expires_at"], 0);
    let secret = body["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43 && secret != "chosen-by-client");
    let stored = server
        .store
        .get_client(body["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret_hash, Some(TokenHash::of(secret)));
    let record = serde_json::to_string(&stored).unwrap();
    assert!(!record.contains(secret), "secret stored in clear: {record}");
    assert!(!record.contains("chosen-by-client"), "{record}");

    // No auth method given: RFC 7591's default client_secret_basic, also with a secret.
    let (status, _, body) = server
        .post(&json!({"redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"]}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert!(body["client_secret"].is_string());
}

#[tokio::test]
async fn invalid_registrations_are_refused_with_rfc7591_codes() {
    let server = Server::start(RegistrationConfig::default()).await;
    let long_name = "x".repeat(101);
    let cases = [
        (
            json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://example.com/cb"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://claude.ai/cb#frag"], "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://127.0.0.1:33418"], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["vscode://x/cb"], "application_type": "web"}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["code", "token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": long_name}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "client_name": "a\u{7}b"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://a.example/cb"], "application_type": "desktop"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (request, code) in cases {
        let (status, _, body) = server.post(&request).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert_eq!(body["error"], code, "{request} -> {body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }

    // Not JSON, wrong content type, too large.
    let resp = server
        .http
        .post(&server.url)
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = server
        .http
        .post(&server.url)
        .body("redirect_uris=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    let huge = json!({"redirect_uris": ["https://a.example/cb"], "software_statement": "x".repeat(20_000)});
    let (status, _, body) = server.post(&huge).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn registrations_are_rate_limited_per_ip() {
    let config = RegistrationConfig {
        rate_limit: 3,
        rate_window: Duration::from_secs(3600),
        ..Default::default()
    };
    let server = Server::start(config).await;
    let request = json!({"redirect_uris": ["http://localhost:6274/oauth/callback"], "token_endpoint_auth_method": "none"});
    for _ in 0..3 {
        let (status, _, body) = server.post(&request).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, headers, body) = server.post(&request).await;
    assert_eq!(status, 429, "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(body["error"], "temporarily_unavailable");
}
