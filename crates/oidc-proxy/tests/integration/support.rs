//! Test helpers: records, a cipher, temp dirs and a private `redis-server` per test.

use std::path::{Path, PathBuf};

use oidc_proxy::{
    AuthorizationCode, AuthorizationTransaction, Cipher, ClientRecord, ClientSource, EncryptionKey,
    RefreshGrant, Secret, TokenHash, UpstreamRequest, UpstreamTokenSet,
};

pub(crate) const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub(crate) const UPSTREAM_ACCESS: &str = "upstream-access-token-5f0c9e1d-do-not-leak";
pub(crate) const UPSTREAM_REFRESH: &str = "upstream-refresh-token-77a1b3-do-not-leak";
pub(crate) const PRIVATE_D: &str = "private-d-parameter-9b8a7c-do-not-leak";

pub(crate) fn cipher() -> Cipher {
    Cipher::new(EncryptionKey::from_base64(1, KEY).expect("test key"))
}

/// A unique temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("oidc-proxy-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) use e2e_tests::RedisServer;

pub(crate) fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.to_owned(),
        source: ClientSource::Dynamic,
        secret_hash: Some(TokenHash::of("client-secret")),
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        client_name: Some("Test client".into()),
        token_endpoint_auth_method: "client_secret_basic".into(),
        application_type: "native".into(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("mcp:tools".into()),
        metadata: serde_json::json!({"client_name": "Test client"}),
        created_at: 1,
    }
}

pub(crate) fn transaction() -> AuthorizationTransaction {
    AuthorizationTransaction {
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        client_state: Some("xyz".into()),
        scope: "mcp:tools".into(),
        resource: Some("https://mcp.example/mcp".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        browser_binding: Some(TokenHash::of("browser")),
        csrf_hash: Some(TokenHash::of("csrf")),
        login_hint: None,
        upstream: Some(UpstreamRequest {
            pkce_verifier: Secret::new("verifier"),
            nonce: "n-0S6_WzA2Mj".into(),
        }),
        created_at: 1,
    }
}

pub(crate) fn code(grant_id: &str) -> AuthorizationCode {
    AuthorizationCode {
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        scope: "mcp:tools".into(),
        resource: Some("https://mcp.example/mcp".into()),
        subject: "alice".into(),
        groups: vec!["splunk-users".into()],
        username: Some("alice".into()),
        email: None,
        upstream_id: "up-1".into(),
        issued_at: 1,
    }
}

pub(crate) fn grant(family_id: &str) -> RefreshGrant {
    RefreshGrant {
        family_id: family_id.into(),
        client_id: "c1".into(),
        subject: "alice".into(),
        groups: vec!["splunk-users".into()],
        username: Some("alice".into()),
        email: Some("alice@example.com".into()),
        scope: "mcp:tools".into(),
        resource: Some("https://mcp.example/mcp".into()),
        upstream_id: "up-1".into(),
        created_at: 1,
    }
}

pub(crate) fn upstream_tokens() -> UpstreamTokenSet {
    UpstreamTokenSet {
        access_token: Secret::new(UPSTREAM_ACCESS),
        refresh_token: Some(Secret::new(UPSTREAM_REFRESH)),
        id_token: None,
        expires_at: Some(4_000_000_000_000),
        scope: Some("openid profile".into()),
        subject: None,
        groups: None,
    }
}
