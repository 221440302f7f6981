//! `SPLUNK_CREDENTIALS=exchange` (issue 19), end to end: the caller's token, issued for this
//! server only, is exchanged at the real IdP (RFC 8693 and Entra's on-behalf-of) for a token for
//! Splunk, which the emulator accepts as the user with the user's roles; in `jwt` and `proxy`
//! modes; a refused exchange is a tool error naming the IdP's error; exchanged tokens are reused
//! until shortly before they expire; `doctor --token` proves the whole chain.

use std::time::Duration;

use e2e_tests::{World, jwt_claims};
use serde_json::{Value, json};

use crate::policy::proxy_tokens;
use crate::proxy_steps::register_with_scope;
use crate::support::{
    Server, call, connect, count_by_index, indexes_in, log_path, passthrough_env, proxy_env,
    proxy_store_path, run_to_end, text, token_for,
};

/// Read and search, asked of the IdP.
const READ_SEARCH: &str = "openid splunk:read splunk:search";

/// The server's IdP client, allowed to exchange at the test IdP.
const EXCHANGING_CLIENT: (&str, &str) = ("splunk-mcp", "splunk-mcp-secret");

/// A world whose IdP issues access tokens for the resource asked for only (no `splunk` in
/// their audience), so passing them on to Splunk would fail.
async fn world() -> World {
    World::start_with_idp(&[]).await
}

/// World and IdP arguments for exchanged tokens that live `ttl` seconds.
async fn world_with_ttl(ttl: u64) -> World {
    World::start_with_idp(&["--access-token-ttl", &ttl.to_string()]).await
}

/// The environment of a `jwt`-mode server exchanging callers' tokens, with `extra` on top.
fn exchange_env(world: &World, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = passthrough_env(world);
    env.extend([
        ("SPLUNK_CREDENTIALS", "exchange".to_owned()),
        ("MCP_OAUTH_CLIENT_ID", EXCHANGING_CLIENT.0.to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", EXCHANGING_CLIENT.1.to_owned()),
    ]);
    env.extend(extra.iter().cloned());
    env
}

/// Who Splunk says the caller is, through `splunk_whoami`.
async fn splunk_user(mcp_url: &str, token: &str) -> Value {
    let client = connect(mcp_url, token).await;
    let answer = call(&client, "splunk_whoami", json!({})).await;
    client.cancel().await.expect("close the session");
    assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    answer.structured_content.expect("structured whoami")["splunk"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_this_server_only_is_exchanged_for_one_splunk_accepts() {
    let world = world().await;
    let server = Server::start(&exchange_env(&world, &[])).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;

    // The inbound token names this server only: Splunk itself refuses it.
    assert_eq!(jwt_claims(&alice)["aud"], json!(server.mcp_url), "{alice}");
    let (status, _) = world.current_context(&alice).await;
    assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);

    // Through the server, Splunk sees alice with her roles.
    let before = world.idp.exchange_count(&world.http).await;
    let seen = splunk_user(&server.mcp_url, &alice).await;
    assert_eq!(seen["username"], "alice", "{seen}");
    assert!(
        seen["roles"]
            .as_array()
            .is_some_and(|roles| roles.contains(&json!("web_analyst"))),
        "{seen}"
    );
    let client = connect(&server.mcp_url, &alice).await;
    let answer = call(&client, "splunk_search", count_by_index()).await;
    let indexes = indexes_in(answer.structured_content.as_ref().expect("rows"));
    assert!(!indexes.contains(&"security".to_owned()), "{indexes:?}");
    assert!(indexes.contains(&"web".to_owned()), "{indexes:?}");
    client.cancel().await.expect("close the session");
    // Three calls to Splunk, one exchange: the exchanged token is reused.
    assert_eq!(world.idp.exchange_count(&world.http).await - before, 1);

    // Another caller gets their own exchange and their own identity, once however many of
    // their calls arrive together.
    let bob = token_for(&world, &server, "bob", READ_SEARCH).await;
    let together = (0..6).map(|_| splunk_user(&server.mcp_url, &bob));
    for seen in futures::future::join_all(together).await {
        assert_eq!(seen["username"], "bob", "{seen}");
    }
    assert_eq!(world.idp.exchange_count(&world.http).await - before, 2);

    // The server never logs a token.
    let log = server.log_text();
    assert!(
        !log.contains(&alice) && !log.contains(&bob),
        "a token in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_behalf_of_style_gets_the_same_answer() {
    let world = world().await;
    let server = Server::start(&exchange_env(
        &world,
        &[("IDP_EXCHANGE_STYLE", "entra-obo".to_owned())],
    ))
    .await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    assert_eq!(
        splunk_user(&server.mcp_url, &alice).await["username"],
        "alice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_exchange_is_a_tool_error_naming_the_idp_error() {
    let world = world().await;
    for (extra, error) in [
        (
            vec![("SPLUNK_TOKEN_AUDIENCE", "payroll".to_owned())],
            "invalid_target",
        ),
        (
            vec![
                ("MCP_OAUTH_CLIENT_ID", "no-exchange".to_owned()),
                ("MCP_OAUTH_CLIENT_SECRET", "no-exchange-secret".to_owned()),
            ],
            "unauthorized_client",
        ),
    ] {
        let server = Server::start(&exchange_env(&world, &extra)).await;
        let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
        let client = connect(&server.mcp_url, &alice).await;
        let answer = call(&client, "splunk_whoami", json!({})).await;
        client.cancel().await.expect("close the session");
        assert_eq!(answer.is_error, Some(true), "{}", text(&answer));
        let said = text(&answer);
        assert!(
            said.starts_with(
                "the identity provider refused to exchange your token for one for Splunk: "
            ) && said.contains(error),
            "{said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanged_tokens_are_used_until_shortly_before_they_expire() {
    // Tokens live 20 s: an exchanged one is used for 15 s (a quarter before its end).
    let world = world_with_ttl(20).await;
    let server = Server::start(&exchange_env(&world, &[])).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let before = world.idp.exchange_count(&world.http).await;
    let client = connect(&server.mcp_url, &alice).await;
    for _ in 0..3 {
        let answer = call(&client, "splunk_whoami", json!({})).await;
        assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    }
    assert_eq!(world.idp.exchange_count(&world.http).await - before, 1);
    tokio::time::sleep(Duration::from_secs(16)).await;
    let answer = call(&client, "splunk_whoami", json!({})).await;
    assert_ne!(answer.is_error, Some(true), "{}", text(&answer));
    assert_eq!(
        world.idp.exchange_count(&world.http).await - before,
        2,
        "a token near its end is exchanged again"
    );
    client.cancel().await.expect("close the session");
}

/// A proxy-mode server exchanging the grant's IdP token, with `extra` variables on top (and
/// without those named in `without`); alice signs in through it and asks Splunk who she is.
async fn proxy_sign_in_and_whoami(
    world: &World,
    extra: &[(&'static str, String)],
    without: &[&str],
) -> Value {
    let store = proxy_store_path("exchange");
    let mut env = proxy_env(world, store.to_str().expect("UTF-8 path"));
    // The IdP's tokens are for an API of this server's own (a loopback URL, which the test
    // IdP accepts as a resource), not for Splunk.
    let own_api = "http://127.0.0.1:9/splunk-mcp-api";
    env.extend([
        ("SPLUNK_CREDENTIALS", "exchange".to_owned()),
        (
            "IDP_EXTRA_AUTHORIZE_PARAMS",
            format!("prompt=consent&resource={own_api}"),
        ),
        ("IDP_EXTRA_TOKEN_PARAMS", format!("resource={own_api}")),
    ]);
    env.extend(extra.iter().cloned());
    env.retain(|(name, _)| !without.contains(name));
    let server = Server::start(&env).await;
    let client_id =
        register_with_scope(&world.http, &server.base_url, "splunk:read splunk:search").await;
    let tokens = proxy_tokens(
        &world.http,
        &server.base_url,
        &client_id,
        "alice",
        "splunk:read splunk:search",
    )
    .await;
    let ours = tokens.body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {}", tokens.body));
    splunk_user(&server.mcp_url, ours).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_exchanges_the_idp_token_of_the_grant() {
    let world = world().await;
    let before = world.idp.exchange_count(&world.http).await;
    let seen = proxy_sign_in_and_whoami(&world, &[], &[]).await;
    assert_eq!(seen["username"], "alice", "{seen}");
    assert_eq!(world.idp.exchange_count(&world.http).await - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_signs_in_and_exchanges_without_a_secret() {
    use josekit::jwk::KeyPair as _;
    use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};

    // The server's key pair; the IdP knows its public half for `splunk-mcp-key`.
    let pair = EcKeyPair::generate(EcCurve::P256).expect("an EC key pair");
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("splunk-mcp-test-key");
    let jwks = log_path("client-jwks").with_extension("json");
    std::fs::write(&jwks, json!({"keys": [public]}).to_string()).expect("write the JWKS");
    let key = log_path("client-key").with_extension("pem");
    std::fs::write(&key, pair.to_pem_private_key()).expect("write the private key");

    let world = World::start_with_idp(&["--key-client-jwks", jwks.to_str().expect("UTF-8")]).await;
    let before = world.idp.exchange_count(&world.http).await;
    let seen = proxy_sign_in_and_whoami(
        &world,
        &[
            ("MCP_OAUTH_CLIENT_ID", "splunk-mcp-key".to_owned()),
            ("IDP_CLIENT_AUTH_METHOD", "private_key_jwt".to_owned()),
            ("MCP_OAUTH_CLIENT_KEY_FILE", key.display().to_string()),
            ("MCP_OAUTH_CLIENT_KEY_ID", "splunk-mcp-test-key".to_owned()),
        ],
        &["MCP_OAUTH_CLIENT_SECRET"],
    )
    .await;
    assert_eq!(seen["username"], "alice", "{seen}");
    assert_eq!(world.idp.exchange_count(&world.http).await - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_proves_the_exchange_and_splunks_acceptance() {
    let world = world().await;
    let env = exchange_env(&world, &[]);
    let server = Server::start(&env).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let mut doctor_env = env.clone();
    doctor_env.push(("MCP_OAUTH_AUDIENCE", server.mcp_url.clone()));
    let (code, stdout, stderr) = run_to_end(&doctor_env, &["doctor", "--token", &alice]).await;
    let exchanged = stdout
        .lines()
        .find(|line| line.contains("token exchange"))
        .unwrap_or_else(|| panic!("no exchange line:\n{stdout}{stderr}"));
    assert!(
        exchanged.contains("the IdP exchanged the token for one for audience splunk"),
        "{exchanged}"
    );
    assert!(stdout.contains("alice"), "{stdout}");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stdout.contains(&alice), "the token in doctor's output");

    let mut refused_env = doctor_env;
    refused_env.push(("SPLUNK_TOKEN_AUDIENCE", "payroll".to_owned()));
    let (code, stdout, _) = run_to_end(&refused_env, &["doctor", "--token", &alice]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("invalid_target"), "{stdout}");
}

#[tokio::test]
async fn exchange_needs_an_idp_token_and_the_servers_idp_client() {
    let splunk = [
        ("SPLUNK_HOST", "splunk.example".to_owned()),
        ("SPLUNK_CREDENTIALS", "exchange".to_owned()),
        ("MCP_TRANSPORT", "http".to_owned()),
    ];
    let idp = (
        "IDP_OIDC_CONFIG_URL",
        "https://idp.example/.well-known/openid-configuration".to_owned(),
    );
    // (variables, the setting named, the problem said)
    let cases = [
        (
            vec![("MCP_AUTH_MODE", "none".to_owned())],
            "SPLUNK_CREDENTIALS",
            "with auth mode `none` callers bring no IdP token",
        ),
        (
            vec![("MCP_AUTH_MODE", "jwt".to_owned()), idp.clone()],
            "SPLUNK_CREDENTIALS",
            "authenticate at the IdP's token endpoint as this server's own IdP client",
        ),
        (
            vec![
                ("MCP_AUTH_MODE", "jwt".to_owned()),
                idp.clone(),
                ("MCP_OAUTH_CLIENT_ID", "splunk-mcp".to_owned()),
                ("IDP_CLIENT_AUTH_METHOD", "private_key_jwt".to_owned()),
                ("MCP_OAUTH_CLIENT_KEY", "not a key".to_owned()),
            ],
            "MCP_OAUTH_CLIENT_KEY",
            "neither a P-256 EC nor an RSA private key in PEM",
        ),
    ];
    for (extra, setting, problem) in cases {
        let mut env = splunk.to_vec();
        env.extend(extra);
        env.push(("MCP_LOG_LEVEL", "off".to_owned()));
        let (code, stdout, stderr) = run_to_end(&env, &["config", "check"]).await;
        assert_eq!(code, Some(2), "{stdout}{stderr}");
        assert!(
            stderr.contains(setting) && stderr.contains(problem),
            "{stderr}"
        );
    }
}
