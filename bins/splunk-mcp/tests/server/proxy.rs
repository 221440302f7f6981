//! `proxy` mode wiring: the binary serves its own authorization server (RFC 8414 metadata,
//! dynamic registration, JWKS) next to `/mcp`, names itself in the protected resource
//! metadata, keeps its state in the configured store, says clearly why it cannot start, and
//! never prints its secrets. The OAuth flows themselves are in the `proxy_*` modules.

use std::process::Stdio;
use std::time::Duration;

use e2e_tests::World;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    PROXY_ENCRYPTION_KEY, challenge_of, command, initialize_request, post_mcp, proxy_store_path,
    start_proxy_server,
};

/// Runs the binary with `env` and `args` to its end: exit code, stdout, stderr.
async fn run(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let output = command(env).args(args).stdin(Stdio::null()).output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the binary exits within 60 s")
        .expect("run splunk-mcp");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Proxy mode in front of an IdP at `discovery`, with nothing else running: enough for the
/// binary to get as far as its start-up checks.
fn standalone_env(discovery: &str, store: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MCP_AUTH_MODE", "proxy".to_owned()),
        ("IDP_OIDC_CONFIG_URL", discovery.to_owned()),
        ("MCP_OAUTH_CLIENT_ID", "splunk-mcp".to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", "splunk-mcp-secret".to_owned()),
        ("MCP_PROXY_ENCRYPTION_KEY", PROXY_ENCRYPTION_KEY.to_owned()),
        ("MCP_PROXY_STORE", store.to_owned()),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
        ("SPLUNK_HOST", "127.0.0.1".to_owned()),
        ("SPLUNK_PORT", closed_port().to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_its_own_authorization_server() {
    let world = World::start().await;
    let store = proxy_store_path("proxy-wiring");
    let server = start_proxy_server(&world, &store.display().to_string(), &[]).await;
    let base = &server.base_url;
    let http = &world.http;

    // RFC 8414 metadata: this server is the issuer; PKCE S256 only; URL client ids accepted.
    let response = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("GET authorization server metadata");
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.expect("metadata JSON");
    assert_eq!(metadata["issuer"], json!(base), "{metadata}");
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"]),
        "{metadata}"
    );
    assert_eq!(
        metadata["client_id_metadata_document_supported"],
        json!(true),
        "{metadata}"
    );
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("registration_endpoint", "/register"),
        ("revocation_endpoint", "/revoke"),
        ("jwks_uri", "/jwks.json"),
    ] {
        assert_eq!(metadata[field], json!(format!("{base}{path}")), "{field}");
    }
    let offered = metadata["scopes_supported"].as_array().expect("scopes");
    for scope in ["splunk:read", "splunk:search", "splunk:admin"] {
        assert!(offered.contains(&json!(scope)), "{scope} in {offered:?}");
    }

    // RFC 9728: the protected resource names this server, not the IdP.
    let prm: Value = get_json(
        http,
        &format!("{base}/.well-known/oauth-protected-resource/mcp"),
    )
    .await;
    assert_eq!(prm["resource"], json!(server.mcp_url), "{prm}");
    assert_eq!(prm["authorization_servers"], json!([base]), "{prm}");
    assert_ne!(prm["authorization_servers"], json!([world.idp.issuer]));

    // /mcp without a token: 401 pointing at that metadata.
    let response = post_mcp(http, &server.mcp_url, None, None, &initialize_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&response);
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    // A token of the IdP's own is not one of ours.
    let idp_token = world
        .idp
        .access_token(
            http,
            &e2e_tests::SignIn::new("alice").for_resource(&server.mcp_url),
        )
        .await;
    let response = post_mcp(
        http,
        &server.mcp_url,
        Some(&idp_token),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge_of(&response).contains("invalid_token"),
        "{}",
        challenge_of(&response)
    );

    // Our signing keys: ES256.
    let jwks: Value = get_json(http, &format!("{base}/jwks.json")).await;
    let keys = jwks["keys"].as_array().expect("keys");
    assert!(!keys.is_empty(), "{jwks}");
    assert!(keys.iter().all(|k| k["alg"] == "ES256"), "{jwks}");

    // Dynamic client registration works, with the peer address seen by the rate limiter.
    let response = http
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "wiring test",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        }))
        .send()
        .await
        .expect("POST /register");
    let status = response.status();
    let registered: Value = response.json().await.expect("registration JSON");
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert!(
        registered["client_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{registered}"
    );
    assert_eq!(
        registered["redirect_uris"],
        json!(["http://127.0.0.1:33418/callback"])
    );

    // Ready: the store answers, and the IdP.
    let ready: Value = get_json(http, &format!("{base}/readyz")).await;
    assert_eq!(ready["checks"]["store"], "ok", "{ready}");
    assert_eq!(ready["checks"]["idp"], "ok", "{ready}");

    // The store file is where it was configured, and the log names no secret.
    assert!(store.is_file(), "{} was created", store.display());
    let log = server.log_text();
    for secret in [PROXY_ENCRYPTION_KEY, "splunk-mcp-secret"] {
        assert!(!log.contains(secret), "the log shows a secret:\n{log}");
    }
    assert!(
        log.contains(&format!("{base}/auth/callback")),
        "the log names the redirect URI to register at the IdP:\n{log}"
    );
}

#[tokio::test]
async fn config_check_shows_proxy_settings_without_secrets() {
    let password = "redis-pw-4d1e-never-print";
    let secret = "client-secret-9b2c-never-print";
    let env = [
        ("MCP_TRANSPORT", "http".to_owned()),
        ("MCP_AUTH_MODE", "proxy".to_owned()),
        (
            "IDP_OIDC_CONFIG_URL",
            "https://idp.example.com/.well-known/openid-configuration".to_owned(),
        ),
        ("MCP_OAUTH_CLIENT_ID", "splunk-mcp".to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", secret.to_owned()),
        ("MCP_PROXY_ENCRYPTION_KEY", PROXY_ENCRYPTION_KEY.to_owned()),
        (
            "MCP_PROXY_STORE",
            format!("redis://:{password}@redis.internal:6379/0"),
        ),
        ("IDP_EXTRA_TOKEN_PARAMS", "resource=urn:splunk".to_owned()),
        ("MCP_PROXY_ACCESS_TOKEN_TTL", "10m".to_owned()),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
    ];
    let (code, stdout, stderr) = run(&env, &["config", "check"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for shown in [
        "mode = \"proxy\"",
        "[auth.proxy]",
        "store = \"redis://:<redacted>@redis.internal:6379/0\"",
        "encryption_key = \"<redacted>\"",
        "client_secret = \"<redacted>\"",
        "access_token_ttl = 600",
        "extra_token_params = \"resource=urn%3Asplunk\"",
    ] {
        assert!(stdout.contains(shown), "missing {shown:?} in:\n{stdout}");
    }
    for hidden in [password, secret, PROXY_ENCRYPTION_KEY] {
        assert!(!stdout.contains(hidden), "{hidden} shown:\n{stdout}");
        assert!(!stderr.contains(hidden), "{hidden} in stderr:\n{stderr}");
    }

    // Without the key: exit 2, and the fix says how to make one.
    let without: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "MCP_PROXY_ENCRYPTION_KEY")
        .cloned()
        .collect();
    let (code, _, stderr) = run(&without, &["config", "check"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("MCP_PROXY_ENCRYPTION_KEY"), "{stderr}");
    assert!(stderr.contains("openssl rand -base64 32"), "{stderr}");
}

#[tokio::test]
async fn start_up_says_why_it_cannot_serve() {
    let serve = ["serve", "--transport", "http", "--bind", "127.0.0.1:0"];
    let idp_down = format!(
        "http://127.0.0.1:{}/.well-known/openid-configuration",
        closed_port()
    );

    // (An IdP that does not answer is not a reason to stop: see outages.rs. What follows
    // fails before the IdP is asked anything.)

    // The store file's directory does not exist.
    let missing = std::env::temp_dir()
        .join("splunk-mcp-no-such-dir")
        .join("proxy.redb");
    let (code, _, stderr) = run(
        &standalone_env(&idp_down, &missing.display().to_string()),
        &serve,
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("MCP_PROXY_STORE"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");

    // Redis does not answer; its password is not shown.
    let redis = format!("redis://:sekrit-pw@127.0.0.1:{}/0", closed_port());
    let (code, _, stderr) = run(&standalone_env(&idp_down, &redis), &serve).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("MCP_PROXY_STORE"), "{stderr}");
    assert!(stderr.contains("Redis"), "{stderr}");
    assert!(!stderr.contains("sekrit-pw"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_upstream_the_store_and_the_passthrough_rule() {
    let world = World::start().await;
    let store = proxy_store_path("proxy-doctor").display().to_string();
    let mut env = crate::support::proxy_env(&world, &store);
    env.push(("MCP_BASE_URL", "http://127.0.0.1:8000".to_owned()));
    let (code, out, _) = run(&env, &["doctor"]).await;
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "[ ok ] idp discovery",
        "[ ok ] idp endpoints: authorization and token endpoints usable, revocation endpoint known",
        "[info] idp client: register http://127.0.0.1:8000/auth/callback as a redirect URI of client splunk-mcp",
        "[ ok ] store:",
        "[info] passthrough audience: proxy mode sends Splunk the IdP's access token",
        "IDP_EXTRA_AUTHORIZE_PARAMS",
        "verdict: ready",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains(PROXY_ENCRYPTION_KEY), "{out}");

    // A server creates its signing key in the store; under another key the store cannot be
    // read, and doctor says so.
    start_proxy_server(&world, &store, &[]).await.stop().await;
    let other_key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    env.push(("MCP_PROXY_ENCRYPTION_KEY", other_key.to_owned()));
    let (code, out, _) = run(&env, &["doctor"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("[FAIL] store:") && out.contains("do not open with MCP_PROXY_ENCRYPTION_KEY"),
        "{out}"
    );
}

/// GETs `url` and parses the answer as JSON, whatever its status.
async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url} is not JSON: {e}"))
}
