//! Enterprise-managed authorization (issue 19): a client gets an identity assertion (ID-JAG)
//! for this server from the company IdP (the real test IdP, by token exchange) and trades it
//! at the proxy's `/token` for an access token, with no consent screen and no sign-in here;
//! then calls a tool. Replayed, expired, wrongly typed assertions, and assertions for another
//! audience, another client or from an untrusted issuer are each refused with the right OAuth
//! error. Passthrough with ID-JAG is a start-up error.

use e2e_tests::{JWT_BEARER_GRANT, PUBLIC, SignIn, World};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::proxy_steps::{metadata, register_confidential};
use crate::support::{
    Server, call, connect, proxy_env, proxy_store_path, run_to_end, service_account, text,
};

/// What a client asks the proxy for.
const SCOPE: &str = "splunk:read splunk:search";

/// A proxy-mode server trusting the world's IdP for ID-JAGs, calling Splunk as its service
/// account (an ID-JAG grant has no IdP token to pass on).
async fn server(world: &World) -> Server {
    let store = proxy_store_path("id-jag");
    let mut env = proxy_env(world, store.to_str().expect("UTF-8 path"));
    env.extend(service_account());
    env.extend([
        ("SPLUNK_CREDENTIALS", "service".to_owned()),
        ("MCP_PROXY_IDJAG_ISSUERS", world.idp.issuer.clone()),
    ]);
    Server::start(&env).await
}

/// A confidential client registered at the proxy with `grant_types`: its id and secret.
async fn register(http: &reqwest::Client, base: &str, grant_types: &[&str]) -> (String, String) {
    register_confidential(http, base, SCOPE, grant_types).await
}

/// Presents `assertion` at the proxy's `/token`, authenticated as `client` (id, secret).
async fn present(
    http: &reqwest::Client,
    base: &str,
    client: &(String, String),
    assertion: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[
            ("grant_type", JWT_BEARER_GRANT),
            ("assertion", assertion),
            ("scope", SCOPE),
        ])
        .send()
        .await
        .expect("POST /token");
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

/// alice's ID-JAG for the authorization server `audience` and its MCP endpoint `mcp_url`, naming
/// `client_id` as the client, from the IdP.
async fn id_jag_for(world: &World, mcp_url: &str, client_id: &str, audience: &str) -> String {
    world
        .idp
        .set_idjag_client(&world.http, PUBLIC.id, client_id)
        .await;
    let signed_in = world
        .idp
        .sign_in(
            &world.http,
            &SignIn::new("alice").with_scope("openid profile email"),
        )
        .await;
    let id_token = signed_in["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token in {signed_in}"));
    let (status, body) = world
        .idp
        .id_jag(
            &world.http,
            PUBLIC,
            id_token,
            audience,
            mcp_url,
            Some(SCOPE),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "ID-JAG from the IdP: {body}");
    body["access_token"].as_str().expect("an ID-JAG").to_owned()
}

/// Asserts `answer` is the OAuth error `error` whose description contains `says`.
fn assert_refused(answer: &(StatusCode, Value), error: &str, says: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(says), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_jag_from_the_company_idp_gives_an_access_token_and_a_tool_call() {
    let world = World::start().await;
    let server = server(&world).await;
    let http = &world.http;
    let base = server.base_url.as_str();

    let metadata = metadata(http, base).await;
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .is_some_and(|g| g.contains(&json!(JWT_BEARER_GRANT))),
        "{metadata}"
    );

    let client = register(http, base, &["authorization_code", JWT_BEARER_GRANT]).await;
    let client_id = client.0.clone();
    let assertion = id_jag_for(&world, &server.mcp_url, &client_id, base).await;
    let answer = present(http, base, &client, &assertion).await;
    let (status, body) = &answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let token = body["access_token"].as_str().expect("an access token");

    let session = connect(&server.mcp_url, token).await;
    let whoami = call(&session, "splunk_whoami", json!({"skip_splunk": true})).await;
    let mcp = &whoami.structured_content.as_ref().expect("structured")["mcp"];
    assert_eq!(mcp["subject"], "alice", "{}", text(&whoami));
    assert_eq!(mcp["client_id"], client_id.as_str(), "{}", text(&whoami));
    let indexes = call(&session, "splunk_list_indexes", json!({})).await;
    assert_ne!(indexes.is_error, Some(true), "{}", text(&indexes));
    session.cancel().await.expect("close the session");

    // Single use, whichever replica sees it again.
    assert_refused(
        &present(http, base, &client, &assertion).await,
        "invalid_grant",
        "already used",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_assertions_are_refused_with_the_right_error() {
    let world = World::start().await;
    let server = server(&world).await;
    let http = &world.http;
    let base = server.base_url.as_str();
    let mcp = server.mcp_url.as_str();
    let client = register(http, base, &["authorization_code", JWT_BEARER_GRANT]).await;
    let client_id = client.0.clone();
    let other_client = register(http, base, &["authorization_code", JWT_BEARER_GRANT]).await;

    // For another authorization server.
    let elsewhere = id_jag_for(&world, mcp, &client_id, "https://other-as.example").await;
    assert_refused(
        &present(http, base, &client, &elsewhere).await,
        "invalid_grant",
        "another audience",
    );
    // For another client than the one presenting it.
    let alices = id_jag_for(&world, mcp, &client_id, base).await;
    assert_refused(
        &present(http, base, &other_client, &alices).await,
        "invalid_grant",
        "another client",
    );
    // Forged at the IdP (its own key) to be expired, of the wrong type, from an issuer this
    // server does not trust, or for another resource.
    let spec = |extra: Value| {
        let mut spec = json!({
            "user": "alice", "client_id": client_id, "audience": base, "resource": mcp,
            "scope": SCOPE,
        });
        spec.as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        spec
    };
    for (extra, error, says) in [
        (
            json!({"exp_offset_seconds": -300}),
            "invalid_grant",
            "expired",
        ),
        (
            json!({"typ": "JWT"}),
            "invalid_grant",
            "not an identity assertion",
        ),
        (
            json!({"iss": "https://untrusted-idp.example"}),
            "invalid_grant",
            "issuer is not trusted",
        ),
        (
            json!({"resource": "http://127.0.0.1:9/other-mcp"}),
            "invalid_target",
            "another resource",
        ),
    ] {
        let forged = world.idp.forge_id_jag(http, &spec(extra.clone())).await;
        assert_refused(&present(http, base, &client, &forged).await, error, says);
    }
    // A client that did not register the grant may not use it.
    let code_only = register(http, base, &["authorization_code"]).await;
    let fresh = world
        .idp
        .forge_id_jag(http, &spec(json!({"client_id": code_only.0})))
        .await;
    assert_refused(
        &present(http, base, &code_only, &fresh).await,
        "unauthorized_client",
        "identity assertion grant",
    );
    // A public client may not even register the grant: its id alone proves nothing.
    let public = http
        .post(format!("{base}/register"))
        .json(&json!({
            "redirect_uris": [crate::proxy_steps::CLIENT_REDIRECT],
            "grant_types": ["authorization_code", JWT_BEARER_GRANT],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(public.status(), StatusCode::BAD_REQUEST);
    let refusal: Value = public.json().await.unwrap_or_default();
    assert_eq!(refusal["error"], "invalid_client_metadata", "{refusal}");
    assert!(
        refusal["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("needs a confidential client")),
        "{refusal}"
    );
    // Nothing above spent the good assertion's single use.
    let fine = world.idp.forge_id_jag(http, &spec(json!({}))).await;
    assert_eq!(present(http, base, &client, &fine).await.0, StatusCode::OK);
}

#[tokio::test]
async fn passthrough_with_id_jag_is_refused_at_start() {
    let env = [
        ("SPLUNK_HOST", "splunk.example".to_owned()),
        ("MCP_TRANSPORT", "http".to_owned()),
        ("MCP_AUTH_MODE", "proxy".to_owned()),
        (
            "IDP_OIDC_CONFIG_URL",
            "https://idp.example/.well-known/openid-configuration".to_owned(),
        ),
        ("MCP_OAUTH_CLIENT_ID", "splunk-mcp".to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", "s".to_owned()),
        (
            "MCP_PROXY_ENCRYPTION_KEY",
            crate::support::PROXY_ENCRYPTION_KEY.to_owned(),
        ),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
        (
            "MCP_PROXY_IDJAG_ISSUERS",
            "https://company.okta.example".to_owned(),
        ),
    ];
    let (code, stdout, stderr) = run_to_end(&env, &["config", "check"]).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("MCP_PROXY_IDJAG_ISSUERS")
            && stderr
                .contains("has no IdP access token, and SPLUNK_CREDENTIALS=passthrough needs one"),
        "{stderr}"
    );
}
