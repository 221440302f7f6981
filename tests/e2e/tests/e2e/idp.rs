//! The IdP on its own: discovery, refresh, introspection, revocation, client credentials, the
//! automated login's edges, the test-only change of a user's groups, and a restart that keeps
//! its state.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use e2e_tests::{
    Browser, BrowserError, CONFIDENTIAL, Idp, IdpOptions, MCP_RESOURCE, PUBLIC, Pkce, REDIRECT_URI,
    SignIn, Visit, http_client, jwt_claims, query_param,
};

#[tokio::test]
async fn discovery_names_the_test_world_capabilities() {
    let http = http_client();
    let idp = Idp::start(&[]).await;
    let discovery = idp.discovery(&http).await;
    assert_eq!(discovery["issuer"], idp.issuer.as_str());
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(discovery["response_types_supported"], json!(["code"]));
    for scope in [
        "openid",
        "offline_access",
        "splunk:read",
        "splunk:search",
        "splunk:admin",
    ] {
        assert!(
            discovery["scopes_supported"]
                .as_array()
                .expect("scopes_supported")
                .contains(&json!(scope)),
            "{scope}: {discovery}"
        );
    }
    for endpoint in [
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
    ] {
        assert!(discovery[endpoint].is_string(), "{endpoint}: {discovery}");
    }
}

#[tokio::test]
async fn refresh_then_introspection_then_revocation() {
    let http = http_client();
    let idp = Idp::start(&["--extra-audience", "splunk"]).await;
    let tokens = idp
        .sign_in(
            &http,
            &SignIn {
                client: CONFIDENTIAL,
                ..SignIn::new("alice")
            },
        )
        .await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");

    let (status, refreshed) = idp
        .token(
            &http,
            CONFIDENTIAL,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("resource", MCP_RESOURCE),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = jwt_claims(
        refreshed["access_token"]
            .as_str()
            .expect("new access token"),
    );
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["aud"], json!([MCP_RESOURCE, "splunk"]));
    assert_eq!(access["groups"], json!(["analysts"]));
    // A confidential client's refresh token is not rotated while young; use the current one.
    let current = refreshed["refresh_token"].as_str().unwrap_or(refresh_token);

    let active = idp.introspect(&http, CONFIDENTIAL, current).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["sub"], "alice");
    assert_eq!(active["client_id"], "splunk-mcp");
    assert_eq!(active["iss"], idp.issuer.as_str());
    assert!(
        active["scope"]
            .as_str()
            .is_some_and(|s| s.contains("offline_access")),
        "{active}"
    );

    idp.revoke(&http, CONFIDENTIAL, current).await;
    let revoked = idp.introspect(&http, CONFIDENTIAL, current).await;
    assert_eq!(revoked, json!({"active": false}));
    let (status, body) = idp
        .token(
            &http,
            CONFIDENTIAL,
            &[("grant_type", "refresh_token"), ("refresh_token", current)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn client_credentials_give_a_jwt_for_the_resource() {
    let http = http_client();
    let idp = Idp::start(&[]).await;
    let (status, body) = idp
        .token(
            &http,
            CONFIDENTIAL,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "splunk:read"),
                ("resource", MCP_RESOURCE),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("access token"));
    assert_eq!(claims["sub"], "splunk-mcp");
    assert_eq!(claims["aud"], MCP_RESOURCE);
    assert_eq!(claims["scope"], "splunk:read");

    let (status, body) = idp
        .token(
            &http,
            CONFIDENTIAL,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://elsewhere.example/api"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_target");
}

/// The authorization URL for `client` without a `login_hint` (a human would pick a user).
fn authorization_url(idp: &Idp, client: &str, pkce: Option<&Pkce>) -> Url {
    let mut params = vec![
        ("client_id", client),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid splunk:read"),
        ("resource", MCP_RESOURCE),
    ];
    if let Some(pkce) = pkce {
        params.extend([
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
    }
    Url::parse_with_params(&format!("{}/auth", idp.issuer), &params).expect("URL")
}

#[tokio::test]
async fn without_a_login_hint_a_page_lists_the_users() {
    let http = http_client();
    let idp = Idp::start(&[]).await;
    let pkce = Pkce::new();
    let mut browser = Browser::new(&http);
    let start = authorization_url(&idp, PUBLIC.id, Some(&pkce));
    let Visit::Page { url, status, body } = browser.visit(start, REDIRECT_URI).await else {
        panic!("expected the user picker");
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(url.path().starts_with("/interaction/"), "{url}");
    let link = body
        .split('"')
        .find(|s| s.ends_with("/login?user=bob"))
        .unwrap_or_else(|| panic!("a link for bob: {body}"));
    let Visit::Redirected(landing) = browser
        .visit(url.join(link).expect("link"), REDIRECT_URI)
        .await
    else {
        panic!("following bob's link ends at the redirect URI");
    };
    let code = idp.code_from(&landing, None).expect("code");
    let (status, tokens) = idp
        .token(
            &http,
            PUBLIC,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &pkce.verifier),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = jwt_claims(tokens["access_token"].as_str().expect("access token"));
    assert_eq!(claims["sub"], "bob");
    assert_eq!(
        claims["aud"], MCP_RESOURCE,
        "the granted resource, without asking again"
    );
    assert_eq!(claims["groups"], json!(["admins"]));
}

#[tokio::test]
async fn unknown_users_and_missing_pkce_are_refused() {
    let http = http_client();
    let idp = Idp::start(&[]).await;

    let landing = idp
        .authorize(&http, &SignIn::new("mallory"), &Pkce::new())
        .await
        .expect_err("no code for an unknown user");
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("access_denied")
    );

    // PKCE is required of the confidential client too.
    let start = authorization_url(&idp, CONFIDENTIAL.id, None);
    let Visit::Redirected(landing) = Browser::new(&http).visit(start, REDIRECT_URI).await else {
        panic!("an authorization error goes back to the client");
    };
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        query_param(&landing, "error_description").is_some_and(|d| d.contains("PKCE")),
        "{landing}"
    );
}

#[tokio::test]
async fn a_refresh_after_a_group_change_carries_the_new_groups() {
    let http = http_client();
    let idp = Idp::start(&[]).await;
    // SignIn::new asks for `openid offline_access` (with prompt=consent): an ID token and a
    // refresh token.
    let tokens = idp.sign_in(&http, &SignIn::new("alice")).await;
    let groups_in = |body: &Value, token: &str| {
        let jwt = body[token]
            .as_str()
            .unwrap_or_else(|| panic!("no {token}: {body}"));
        jwt_claims(jwt)["groups"].clone()
    };
    assert_eq!(groups_in(&tokens, "id_token"), json!(["analysts"]));
    assert_eq!(groups_in(&tokens, "access_token"), json!(["analysts"]));
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");

    idp.set_groups(&http, "alice", &["admins"]).await;

    let (status, refreshed) = idp.refresh(&http, PUBLIC, refresh_token, None).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(groups_in(&refreshed, "id_token"), json!(["admins"]));
    assert_eq!(groups_in(&refreshed, "access_token"), json!(["admins"]));
    let access = jwt_claims(refreshed["access_token"].as_str().expect("access token"));
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["aud"], MCP_RESOURCE, "the granted resource");
}

#[tokio::test]
async fn group_changes_are_refused_for_unknown_users_and_bodies_other_than_string_arrays() {
    let http = http_client();
    let idp = Idp::start(&[]).await;
    let cases = [
        ("mallory", r#"["admins"]"#, "unknown test user mallory"),
        (
            "alice",
            r#"{"groups": ["admins"]}"#,
            "JSON array of strings",
        ),
        ("alice", r#"["admins", 1]"#, "JSON array of strings"),
        ("alice", "admins", "not JSON"),
        ("alice", "", "not JSON"),
    ];
    for (user, body, says) in cases {
        let response = http
            .put(format!("{}/test/users/{user}/groups", idp.issuer))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("IdP request");
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON error");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{user} {body}: {answer}");
        assert_eq!(answer["error"], "invalid_request", "{user} {body}");
        assert!(
            answer["error_description"]
                .as_str()
                .is_some_and(|d| d.contains(says)),
            "{user} {body}: {answer}"
        );
    }

    // Nothing changed: alice still signs in as an analyst.
    let tokens = idp.sign_in(&http, &SignIn::new("alice")).await;
    let id_token = tokens["id_token"].as_str().expect("ID token");
    assert_eq!(jwt_claims(id_token)["groups"], json!(["analysts"]));
}

/// The key ids of the IdP's JWKS.
async fn key_ids(http: &reqwest::Client, idp: &Idp) -> Vec<String> {
    let jwks: Value = http
        .get(idp.jwks_uri(http).await)
        .send()
        .await
        .expect("JWKS request")
        .json()
        .await
        .expect("JWKS JSON");
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|key| key["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn with_a_state_file_the_idp_restarts_on_its_port_with_its_keys_and_grants() {
    let http = http_client();
    let state =
        std::env::temp_dir().join(format!("splunk-mcp-idp-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let idp = Idp::spawn(IdpOptions {
        args: vec!["--state-file".to_owned(), state.display().to_string()],
        log: None,
    })
    .await
    .expect("the IdP starts");
    let tokens = idp
        .sign_in(&http, &SignIn::new("alice").with_client(CONFIDENTIAL))
        .await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");
    let (issuer, kids) = (idp.issuer.clone(), key_ids(&http, &idp).await);
    let again = idp.restart_options(None);
    let start = authorization_url(&idp, PUBLIC.id, Some(&Pkce::new()));

    idp.shut_down().await.expect("SIGTERM stops the IdP");
    // Down: a browser step fails as an error, not a panic.
    let down = Browser::new(&http).try_visit(start, REDIRECT_URI).await;
    assert!(
        matches!(down, Err(BrowserError::Request { .. })),
        "{down:?}"
    );

    let idp = Idp::spawn(again).await.expect("the IdP starts again");
    assert_eq!(idp.issuer, issuer, "the same port, so the same issuer");
    assert_eq!(key_ids(&http, &idp).await, kids, "the same signing key");
    let (status, refreshed) = idp
        .refresh(&http, CONFIDENTIAL, refresh_token, Some(MCP_RESOURCE))
        .await;
    assert_eq!(status, StatusCode::OK, "the grant survived: {refreshed}");
    let access = jwt_claims(refreshed["access_token"].as_str().expect("access token"));
    assert_eq!(access["sub"], "alice");
    idp.stop().await;
    let _ = std::fs::remove_file(&state);
}
