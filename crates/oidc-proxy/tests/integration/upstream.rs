//! The upstream client against the real IdP (oidc-provider under tests/idp): discovery, the
//! browser step through the automated login, code exchange with ID-token and nonce checks,
//! refresh, revocation seen by the IdP, and OAuth error codes kept as the IdP sent them.

use e2e_tests::{Browser, CONFIDENTIAL, Idp, IdpOptions, Visit, jwt_claims, query_param};
use oidc_proxy::upstream::{Pkce, random_token};
use oidc_proxy::{
    ClientAuthMethod, ExplicitEndpoints, TokenTypeHint, UpstreamClient, UpstreamConfig,
    UpstreamEndpoints, UpstreamError, UpstreamLogin,
};
use secrecy::SecretString;

/// Our callback as registered for `splunk-mcp` (loopback: any port matches).
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";

fn config(idp: &Idp, user: &str) -> UpstreamConfig {
    let mut config = crate::server_support::upstream_config(idp, CALLBACK);
    config.scopes.retain(|s| s != "splunk:search");
    // login_hint drives the test IdP's automated login.
    config
        .extra_authorize_params
        .push(("login_hint".to_owned(), user.to_owned()));
    config
}

/// The browser step: from our authorization URL to the callback, checking `state`; the code.
async fn authorize(client: &UpstreamClient, state: &str, nonce: &str, pkce: &Pkce) -> String {
    let url = client
        .authorization_url(state, nonce, &pkce.challenge)
        .await
        .expect("the IdP is up");
    let http = e2e_tests::http_client();
    let landing = match Browser::new(&http).visit(url, CALLBACK).await {
        Visit::Redirected(landing) => landing,
        Visit::Page { url, status, body } => panic!("sign-in stopped at {url} ({status}): {body}"),
    };
    assert_eq!(query_param(&landing, "state").as_deref(), Some(state));
    query_param(&landing, "code").unwrap_or_else(|| panic!("no code in {landing}"))
}

async fn sign_in(client: &UpstreamClient) -> UpstreamLogin {
    let (state, nonce, pkce) = (random_token(), random_token(), Pkce::generate());
    let code = authorize(client, &state, &nonce, &pkce).await;
    client
        .exchange_code(&code, pkce.verifier.expose(), &nonce)
        .await
        .expect("code exchange")
}

#[tokio::test]
async fn upstream_code_exchange_refresh_and_revocation() {
    let idp = Idp::start(&[]).await;
    let client = UpstreamClient::new(config(&idp, "alice"))
        .await
        .expect("discovery");
    assert!(client.supports_revocation());

    let url = client
        .authorization_url("s1", "n1", "challenge")
        .await
        .expect("the IdP is up");
    assert_eq!(
        query_param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_param(&url, "nonce").as_deref(), Some("n1"));
    assert_eq!(query_param(&url, "redirect_uri").as_deref(), Some(CALLBACK));
    assert_eq!(query_param(&url, "login_hint").as_deref(), Some("alice"));

    let login = sign_in(&client).await;
    assert_eq!(login.identity.subject, "alice");
    assert_eq!(login.identity.preferred_username.as_deref(), Some("alice"));
    assert_eq!(login.identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(login.identity.groups, vec!["analysts".to_owned()]);
    let tokens = &login.tokens;
    assert!(tokens.id_token.is_some());
    // oidc-provider's default access-token lifetime is 600 s; records keep milliseconds.
    let left = tokens.expires_at.expect("expires_at") - oidc_proxy::records::now_millis();
    assert!((590_000..=600_000).contains(&left), "{left}");
    assert!(tokens.scope.is_some());
    // The extra token parameter reached the IdP: the access token is for Splunk.
    let claims = jwt_claims(tokens.access_token.expose());
    assert!(claims["aud"].to_string().contains("splunk"), "{claims}");
    let refresh_token = tokens.refresh_token.clone().expect("refresh token");

    let refreshed = client
        .refresh(refresh_token.expose())
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token.expose(),
        tokens.access_token.expose()
    );
    let claims = jwt_claims(refreshed.access_token.expose());
    assert!(claims["aud"].to_string().contains("splunk"), "{claims}");
    let current_refresh = refreshed
        .refresh_token
        .clone()
        .expect("a refresh token kept");

    // Revocation reaches the IdP: introspection says inactive, and a refresh is refused.
    let http = e2e_tests::http_client();
    let before = idp
        .introspect(&http, CONFIDENTIAL, current_refresh.expose())
        .await;
    assert_eq!(before["active"], true, "{before}");
    assert!(
        client
            .revoke(current_refresh.expose(), TokenTypeHint::RefreshToken)
            .await
            .expect("revocation")
    );
    let after = idp
        .introspect(&http, CONFIDENTIAL, current_refresh.expose())
        .await;
    assert_eq!(after["active"], false, "{after}");
    let err = client.refresh(current_refresh.expose()).await.unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_grant"), "{err}");
}

#[tokio::test]
async fn upstream_id_token_nonce_must_match() {
    let idp = Idp::start(&[]).await;
    let client = UpstreamClient::new(config(&idp, "bob"))
        .await
        .expect("discovery");
    let (state, pkce) = (random_token(), Pkce::generate());
    let code = authorize(&client, &state, "the-nonce-we-sent", &pkce).await;
    let err = client
        .exchange_code(&code, pkce.verifier.expose(), "another-nonce")
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::IdToken(_)), "{err}");
    assert!(err.to_string().contains("nonce"), "{err}");

    // The same flow with the right nonce validates (bob's identity from the ID token).
    let login = sign_in(&client).await;
    assert_eq!(login.identity.subject, "bob");
    assert_eq!(login.identity.groups, vec!["admins".to_owned()]);
}

#[tokio::test]
async fn upstream_errors_keep_the_oauth_code() {
    let idp = Idp::start(&[]).await;
    let client = UpstreamClient::new(config(&idp, "carol"))
        .await
        .expect("discovery");

    let err = client
        .exchange_code(
            "not-a-code",
            "verifier-verifier-verifier-verifier-1234",
            "n",
        )
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_grant"), "{err}");
    assert!(!err.is_transport());

    // A wrong PKCE verifier is refused by the IdP too.
    let (state, nonce, pkce) = (random_token(), random_token(), Pkce::generate());
    let code = authorize(&client, &state, &nonce, &pkce).await;
    let other = Pkce::generate();
    let err = client
        .exchange_code(&code, other.verifier.expose(), &nonce)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_grant"), "{err}");

    // Extra token parameters are sent: an unknown resource is the IdP's invalid_target.
    let mut bad_target = config(&idp, "carol");
    bad_target.extra_token_params = vec![(
        "resource".to_owned(),
        "https://elsewhere.example/".to_owned(),
    )];
    let bad_target = UpstreamClient::new(bad_target).await.expect("discovery");
    let (state, nonce, pkce) = (random_token(), random_token(), Pkce::generate());
    let code = authorize(&bad_target, &state, &nonce, &pkce).await;
    let err = bad_target
        .exchange_code(&code, pkce.verifier.expose(), &nonce)
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_target"), "{err}");

    // client_secret_post: the credentials in the body authenticate us (oidc-provider takes
    // either method from a client with a secret); a wrong one there is invalid_client too.
    let mut post = config(&idp, "carol");
    post.auth_method = ClientAuthMethod::ClientSecretPost;
    let post_client = UpstreamClient::new(post.clone()).await.expect("discovery");
    assert_eq!(sign_in(&post_client).await.identity.subject, "carol");
    post.client_secret = SecretString::from("wrong-secret-in-body");
    let post_wrong = UpstreamClient::new(post).await.expect("discovery");
    let err = post_wrong.refresh("whatever").await.unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_client"), "{err}");

    // A wrong secret with the default method: invalid_client, and the secret is not echoed.
    let mut wrong = config(&idp, "carol");
    wrong.client_secret = SecretString::from("wrong-secret-4c1d");
    let wrong = UpstreamClient::new(wrong).await.expect("discovery");
    let err = wrong.refresh("whatever").await.unwrap_err();
    assert_eq!(err.oauth_code(), Some("invalid_client"), "{err}");
    assert!(!format!("{err} {err:?}").contains("wrong-secret-4c1d"));
}

#[tokio::test]
async fn upstream_configuration_is_checked() {
    let idp = Idp::start(&[]).await;

    // The discovery document must name the issuer we expect.
    let mut impostor = config(&idp, "alice");
    impostor.endpoints = UpstreamEndpoints::Discovery {
        config_url: idp.discovery_url(),
        expected_issuer: Some("https://idp.example".to_owned()),
    };
    let err = UpstreamClient::new(impostor).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Config(_)), "{err}");
    assert!(err.to_string().contains("issuer"), "{err}");

    // Extra parameters may not override what the client sets itself.
    let mut reserved = config(&idp, "alice");
    reserved.extra_token_params = vec![("grant_type".to_owned(), "password".to_owned())];
    assert!(matches!(
        UpstreamClient::new(reserved).await.unwrap_err(),
        UpstreamError::Config(_)
    ));

    // Explicit endpoints with neither a JWKS nor userinfo cannot tell who signed in: refused.
    let issuer = &idp.issuer;
    let mut explicit = config(&idp, "alice");
    explicit.endpoints = UpstreamEndpoints::Explicit(ExplicitEndpoints::new(
        format!("{issuer}/auth"),
        format!("{issuer}/token"),
    ));
    assert!(matches!(
        UpstreamClient::new(explicit).await.unwrap_err(),
        UpstreamError::Config(_)
    ));

    // Explicit endpoints without a JWKS: the unverifiable ID token is ignored and the identity
    // comes from userinfo.
    let mut plain = config(&idp, "alice");
    let mut endpoints = ExplicitEndpoints::new(format!("{issuer}/auth"), format!("{issuer}/token"));
    endpoints.userinfo_endpoint = Some(format!("{issuer}/me"));
    plain.endpoints = UpstreamEndpoints::Explicit(endpoints);
    plain.scopes = ["openid", "profile", "email"].map(str::to_owned).to_vec();
    // oidc-provider's userinfo answers only tokens for itself, so no resource here.
    plain
        .extra_authorize_params
        .retain(|(k, _)| k != "resource");
    plain.extra_token_params.clear();
    let plain = UpstreamClient::new(plain)
        .await
        .expect("explicit endpoints");
    assert!(!plain.supports_revocation());
    assert!(
        !plain
            .revoke("anything", TokenTypeHint::AccessToken)
            .await
            .expect("nothing to do")
    );
    let login = sign_in(&plain).await;
    assert_eq!(login.identity.subject, "alice");

    // An IdP that cannot be reached does not stop the client from being built; every use
    // is a transport error (not an OAuth refusal) until the IdP answers, and then it works.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        listener.local_addr().expect("address").port()
    };
    let mut down = config(&idp, "alice");
    down.endpoints = UpstreamEndpoints::Discovery {
        config_url: format!("http://127.0.0.1:{port}/.well-known/openid-configuration"),
        expected_issuer: None,
    };
    let client = UpstreamClient::new(down)
        .await
        .expect("built while the IdP is down");
    assert!(!client.supports_revocation(), "nothing known yet");
    let err = client.authorization_url("s", "n", "c").await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    let err = client.refresh("a-refresh-token").await.unwrap_err();
    assert!(err.is_transport(), "{err}");
    let late = Idp::spawn(IdpOptions {
        args: vec!["--port".to_owned(), port.to_string()],
        log: None,
    })
    .await
    .expect("the IdP on its port");
    let url = client
        .authorization_url("s", "n", "c")
        .await
        .expect("discovered once the IdP answers");
    assert!(url.as_str().starts_with(&late.issuer), "{url}");
    assert!(client.supports_revocation());
}
