//! The browser's part of proxy mode over real HTTP, with the real IdP: `/authorize`, the
//! consent page, `/consent`, the IdP's automated login, `/auth/callback`, and the client's
//! landing with our code; then the attacks each step must refuse.
//!
//! [`sign_in`] is the reusable happy path (the `/token` tests start from its code).

use e2e_tests::{Browser, Pkce, Visit, query_param};
use oidc_proxy::upstream::random_token;
use oidc_proxy::{CALLBACK_PATH, CONSENT_PATH, RedeemOutcome, TokenHash};
use reqwest::{StatusCode, Url, header};
use serde_json::{Value, json};

use crate::server_support::ProxyWorld;

/// The loopback redirect URI test clients register; nothing listens there (browsers stop
/// before requesting it).
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:43123/callback";

/// A web client's redirect URI, for the open-redirect cases.
const WEB_REDIRECT_URI: &str = "https://client.example/cb";

/// Registers a public client over `/register` (JSON) and returns its id.
pub(crate) async fn register_client(
    world: &ProxyWorld,
    name: &str,
    redirect_uris: &[&str],
) -> String {
    let response = world
        .http
        .post(world.url("/register"))
        .json(&json!({
            "client_name": name,
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))
        .send()
        .await
        .expect("register");
    let status = response.status();
    let body: Value = response.json().await.expect("registration JSON");
    assert_eq!(status, StatusCode::CREATED, "registration: {body}");
    body["client_id"].as_str().expect("client_id").to_owned()
}

/// The `/authorize` URL of a well-formed request: PKCE S256, our resource, `login_hint`.
pub(crate) fn authorize_url(
    world: &ProxyWorld,
    client_id: &str,
    redirect_uri: &str,
    user: &str,
    scope: &str,
    state: &str,
    challenge: &str,
) -> Url {
    Url::parse_with_params(
        &world.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("resource", world.resource.as_str()),
            ("login_hint", user),
        ],
    )
    .expect("authorize URL")
}

/// The value of the hidden input `name` of the consent form.
pub(crate) fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        + marker.len();
    let end = page[start..].find('"').expect("end of value") + start;
    page[start..end].to_owned()
}

/// Opens the consent page in `browser`: its body, after asserting it is one.
pub(crate) async fn consent_page(browser: &mut Browser, url: Url) -> String {
    match browser.visit(url, "http://never.invalid/").await {
        Visit::Page { status, body, url } => {
            assert_eq!(status, StatusCode::OK, "consent page at {url}: {body}");
            assert!(
                body.contains("name=\"csrf\""),
                "not the consent page: {body}"
            );
            body
        }
        other => panic!("expected the consent page, got {other:?}"),
    }
}

/// Answers the consent form shown in `page` with `decision`, following redirects through the
/// IdP until `stop_prefix`.
pub(crate) async fn answer_consent(
    world: &ProxyWorld,
    browser: &mut Browser,
    page: &str,
    decision: &str,
    stop_prefix: &str,
) -> Visit {
    let consent_id = hidden_field(page, "consent_id");
    let csrf = hidden_field(page, "csrf");
    browser
        .post_form(
            Url::parse(&world.url(CONSENT_PATH)).expect("consent URL"),
            &[
                ("consent_id", &consent_id),
                ("csrf", &csrf),
                ("decision", decision),
            ],
            stop_prefix,
        )
        .await
}

/// Where a visit was redirected, or a panic naming the page it stopped at.
pub(crate) fn landed(visit: Visit) -> Url {
    match visit {
        Visit::Redirected(url) => url,
        Visit::Page { url, status, body } => panic!("stopped at {url} with {status}: {body}"),
    }
}

/// Signs `user` in for `client_id` through the whole browser flow (consent approved, the IdP's
/// automated login) and returns our authorization code and the PKCE verifier it is bound to.
pub(crate) async fn sign_in(
    world: &ProxyWorld,
    client_id: &str,
    redirect_uri: &str,
    user: &str,
    scope: &str,
) -> (String, String) {
    let mut browser = Browser::new(&world.http);
    let pkce = Pkce::new();
    let state = random_token();
    let url = authorize_url(
        world,
        client_id,
        redirect_uri,
        user,
        scope,
        &state,
        &pkce.challenge,
    );
    let page = consent_page(&mut browser, url).await;
    let landing = landed(answer_consent(world, &mut browser, &page, "approve", redirect_uri).await);
    let code = code_at(world, &landing, &state);
    (code, pkce.verifier)
}

/// The code of a successful landing, after checking `state` and `iss`.
fn code_at(world: &ProxyWorld, landing: &Url, state: &str) -> String {
    assert_eq!(query_param(landing, "error"), None, "error at {landing}");
    assert_eq!(
        query_param(landing, "state").as_deref(),
        Some(state),
        "{landing}"
    );
    assert_eq!(
        query_param(landing, "iss").as_deref(),
        Some(world.server.issuer()),
        "RFC 9207 iss at {landing}"
    );
    query_param(landing, "code").unwrap_or_else(|| panic!("no code at {landing}"))
}

/// Asserts an answer is one of our error pages and not a redirect anywhere.
async fn assert_error_page(response: reqwest::Response, status: StatusCode, what: &str) -> String {
    assert_eq!(response.status(), status, "{what}");
    assert!(
        response.headers().get(header::LOCATION).is_none(),
        "{what}: redirected"
    );
    assert!(
        response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{what}"
    );
    response.text().await.expect("error page")
}

#[tokio::test]
async fn consent_then_idp_then_our_code() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "Inspector <b>& co</b>", &[REDIRECT_URI]).await;
    let pkce = Pkce::new();
    let state = random_token();
    let url = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read splunk:search",
        &state,
        &pkce.challenge,
    );

    // The page itself, as a plain request: headers and content.
    let response = world.http.get(url.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "no script allowed: {csp}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set_cookie.starts_with("smcp_browser="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "plain http test server: {set_cookie}"
    );
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Inspector &lt;b&gt;&amp; co&lt;/b&gt;"),
        "{body}"
    );
    assert!(!body.contains("<b>"), "client name not escaped: {body}");
    assert!(body.contains(&client_id), "{body}");
    assert!(body.contains("127.0.0.1"), "redirect host: {body}");
    assert!(
        body.contains("splunk:read") && body.contains("splunk:search"),
        "{body}"
    );
    assert!(!body.contains("splunk:admin"), "{body}");
    assert!(!body.contains("<script"), "{body}");
    assert!(
        body.contains("value=\"approve\"") && body.contains("value=\"deny\""),
        "{body}"
    );
    assert!(
        body.contains(&format!("action=\"{}\"", world.url(CONSENT_PATH))),
        "{body}"
    );
    assert_eq!(hidden_field(&body, "csrf").len(), 43);

    // The whole flow, as a browser.
    let mut browser = Browser::new(&world.http);
    let page = consent_page(&mut browser, url).await;
    let landing =
        landed(answer_consent(&world, &mut browser, &page, "approve", REDIRECT_URI).await);
    assert!(landing.as_str().starts_with(REDIRECT_URI), "{landing}");
    let code = code_at(&world, &landing, &state);

    let store = world.server.store();
    let RedeemOutcome::Redeemed(record) = store.redeem_code(&TokenHash::of(&code)).await.unwrap()
    else {
        panic!("the code is not in the store");
    };
    assert_eq!(record.subject, "alice");
    assert_eq!(record.groups, ["analysts"]);
    assert_eq!(record.username.as_deref(), Some("alice"));
    assert_eq!(record.email.as_deref(), Some("alice@example.com"));
    assert_eq!(record.client_id, client_id);
    assert_eq!(record.redirect_uri, REDIRECT_URI);
    assert_eq!(record.code_challenge, pkce.challenge);
    assert_eq!(record.scope, "splunk:read splunk:search");
    assert_eq!(record.resource.as_deref(), Some(world.resource.as_str()));
    let upstream = store
        .get_upstream_tokens(&record.upstream_id)
        .await
        .unwrap()
        .expect("the IdP's tokens are kept for the grant");
    let claims = e2e_tests::jwt_claims(upstream.access_token.expose());
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert!(
        upstream.refresh_token.is_some(),
        "offline_access gave an IdP refresh token"
    );
    // The code is single use.
    assert!(matches!(
        store.redeem_code(&TokenHash::of(&code)).await.unwrap(),
        RedeemOutcome::AlreadyRedeemed { .. }
    ));
}

#[tokio::test]
async fn sign_in_helper_and_loopback_port_freedom() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    // RFC 8252 §7.3: a native app's loopback port changes from run to run.
    let (code, verifier) = sign_in(
        &world,
        &client_id,
        "http://127.0.0.1:51234/callback",
        "bob",
        "",
    )
    .await;
    let RedeemOutcome::Redeemed(record) = world
        .server
        .store()
        .redeem_code(&TokenHash::of(&code))
        .await
        .unwrap()
    else {
        panic!("the code is not in the store");
    };
    assert_eq!(record.subject, "bob");
    assert_eq!(record.groups, ["admins"]);
    assert_eq!(record.redirect_uri, "http://127.0.0.1:51234/callback");
    assert_eq!(
        record.code_challenge,
        oidc_proxy::upstream::pkce_challenge(&verifier)
    );
    // No scope asked for: the defaults (all the server offers).
    assert_eq!(record.scope, "splunk:read splunk:search splunk:admin");
}

#[tokio::test]
async fn bad_redirect_uris_and_clients_get_an_error_page() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "Web", &[WEB_REDIRECT_URI, REDIRECT_URI]).await;
    let challenge = Pkce::new().challenge;
    let cases: &[(&str, Option<&str>)] = &[
        ("other host", Some("https://evil.example/cb")),
        (
            "suffix host",
            Some("https://client.example.evil.example/cb"),
        ),
        ("other path", Some("https://client.example/other")),
        ("sub path", Some("https://client.example/cb/x")),
        (
            "extra query",
            Some("https://client.example/cb?next=https://evil.example"),
        ),
        ("fragment", Some("https://client.example/cb#x")),
        ("http downgrade", Some("http://client.example/cb")),
        ("userinfo", Some("https://client.example@evil.example/cb")),
        ("javascript", Some("javascript:alert(document.cookie)")),
        ("data", Some("data:text/html,<script>alert(1)</script>")),
        ("loopback other path", Some("http://127.0.0.1:43123/other")),
        (
            "loopback other name",
            Some("http://localhost:43123/callback"),
        ),
        ("missing", None),
    ];
    for (what, redirect_uri) in cases {
        let mut url = Url::parse(&world.url("/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client_id)
                .append_pair("state", "s1")
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(r) = redirect_uri {
                q.append_pair("redirect_uri", r);
            }
        }
        let response = world.http.get(url).send().await.unwrap();
        let body = assert_error_page(response, StatusCode::BAD_REQUEST, what).await;
        assert!(
            body.to_lowercase().contains("redirect uri"),
            "{what}: {body}"
        );
        assert!(!body.contains("name=\"csrf\""), "{what}: {body}");
    }

    // Repeating redirect_uri (a registered one first) is refused too.
    let url = format!(
        "{}&redirect_uri={}",
        authorize_url(
            &world,
            &client_id,
            REDIRECT_URI,
            "alice",
            "",
            "s",
            &challenge
        ),
        "https%3A%2F%2Fevil.example%2Fcb"
    );
    let response = world.http.get(url).send().await.unwrap();
    assert_error_page(response, StatusCode::BAD_REQUEST, "repeated redirect_uri").await;

    for (what, id) in [
        ("unknown client", "not-a-client"),
        (
            "unreachable metadata document",
            "https://127.0.0.1:1/client.json",
        ),
    ] {
        let url = authorize_url(&world, id, REDIRECT_URI, "alice", "", "s", &challenge);
        let response = world.http.get(url).send().await.unwrap();
        assert_error_page(response, StatusCode::BAD_REQUEST, what).await;
    }
}

#[tokio::test]
async fn request_errors_go_back_to_the_client() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let challenge = Pkce::new().challenge;
    let good = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read",
        "st-1",
        &challenge,
    );
    let with = |changes: &[(&str, Option<&str>)]| {
        let mut pairs: Vec<(String, String)> = good
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (name, value) in changes {
            match value {
                Some(v) => match pairs.iter_mut().find(|(k, _)| k == name) {
                    Some(pair) => pair.1 = (*v).to_owned(),
                    None => pairs.push(((*name).to_owned(), (*v).to_owned())),
                },
                None => pairs.retain(|(k, _)| k != name),
            }
        }
        let mut url = good.clone();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    };
    let cases: Vec<(&str, Url, &str)> = vec![
        (
            "no PKCE",
            with(&[("code_challenge", None), ("code_challenge_method", None)]),
            "invalid_request",
        ),
        (
            "PKCE plain",
            with(&[("code_challenge_method", Some("plain"))]),
            "invalid_request",
        ),
        (
            "PKCE method missing (plain)",
            with(&[("code_challenge_method", None)]),
            "invalid_request",
        ),
        (
            "PKCE challenge malformed",
            with(&[("code_challenge", Some("too-short"))]),
            "invalid_request",
        ),
        (
            "implicit",
            with(&[("response_type", Some("token"))]),
            "unsupported_response_type",
        ),
        (
            "no response_type",
            with(&[("response_type", None)]),
            "invalid_request",
        ),
        (
            "other resource",
            with(&[("resource", Some("https://other.example/mcp"))]),
            "invalid_target",
        ),
        (
            "unknown scope",
            with(&[("scope", Some("splunk:read openid"))]),
            "invalid_scope",
        ),
        (
            "repeated scope",
            Url::parse(&format!("{good}&scope=splunk%3Aadmin")).unwrap(),
            "invalid_request",
        ),
    ];
    for (what, url, error) in cases {
        let response = world.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{what}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{what}"
        );
        let location = Url::parse(response.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        assert!(
            location.as_str().starts_with(REDIRECT_URI),
            "{what}: {location}"
        );
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(error),
            "{what}: {location}"
        );
        assert!(
            query_param(&location, "error_description").is_some(),
            "{what}"
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("st-1"),
            "{what}"
        );
        assert_eq!(
            query_param(&location, "iss").as_deref(),
            Some(world.server.issuer()),
            "{what}"
        );
        assert_eq!(query_param(&location, "code"), None, "{what}");
    }

    // The resource may be omitted (tokens are for the one resource anyway) or have a slash.
    for url in [
        with(&[("resource", None)]),
        with(&[("resource", Some(&format!("{}/", world.resource)))]),
    ] {
        let response = world.http.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
}

#[tokio::test]
async fn a_client_limited_to_its_registered_scope() {
    let world = ProxyWorld::start().await;
    let response = world
        .http
        .post(world.url("/register"))
        .json(&json!({
            "client_name": "Reader",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "scope": "splunk:read",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let client_id = body["client_id"].as_str().unwrap();
    let challenge = Pkce::new().challenge;

    let url = authorize_url(
        &world,
        client_id,
        REDIRECT_URI,
        "alice",
        "splunk:admin",
        "s",
        &challenge,
    );
    let response = world.http.get(url).send().await.unwrap();
    let location = Url::parse(response.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_scope")
    );

    // No scope asked for: the defaults, limited to what the client registered.
    let url = authorize_url(
        &world,
        client_id,
        REDIRECT_URI,
        "alice",
        "",
        "s",
        &challenge,
    );
    let body = world
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("splunk:read"), "{body}");
    assert!(
        !body.contains("splunk:search") && !body.contains("splunk:admin"),
        "{body}"
    );
}

#[tokio::test]
async fn forged_consent_answers_are_refused_and_do_not_spend_the_request() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let pkce = Pkce::new();
    let url = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read",
        "st",
        &pkce.challenge,
    );
    let mut browser = Browser::new(&world.http);
    let page = consent_page(&mut browser, url).await;
    let consent_id = hidden_field(&page, "consent_id");
    let csrf = hidden_field(&page, "csrf");
    let consent_url = Url::parse(&world.url(CONSENT_PATH)).unwrap();

    let forbidden = |visit: Visit, what: &str| match visit {
        Visit::Page { status, body, .. } => {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        }
        other => panic!("{what}: expected 403, got {other:?}"),
    };
    // The right browser without the CSRF token, or with a wrong one (a cross-site post).
    let visit = browser
        .post_form(
            consent_url.clone(),
            &[("consent_id", &consent_id), ("decision", "approve")],
            REDIRECT_URI,
        )
        .await;
    forbidden(visit, "no CSRF token");
    let wrong = random_token();
    let visit = browser
        .post_form(
            consent_url.clone(),
            &[
                ("consent_id", &consent_id),
                ("csrf", &wrong),
                ("decision", "approve"),
            ],
            REDIRECT_URI,
        )
        .await;
    forbidden(visit, "wrong CSRF token");
    // Another browser with everything the page held (a leaked consent link), but not the
    // binding cookie.
    let mut other = Browser::new(&world.http);
    let form = [
        ("consent_id", consent_id.as_str()),
        ("csrf", &csrf),
        ("decision", "approve"),
    ];
    forbidden(
        other
            .post_form(consent_url.clone(), &form, REDIRECT_URI)
            .await,
        "other browser",
    );
    // Nor can the other browser deny on the user's behalf.
    let deny = [
        ("consent_id", consent_id.as_str()),
        ("csrf", &csrf),
        ("decision", "deny"),
    ];
    forbidden(
        other
            .post_form(consent_url.clone(), &deny, REDIRECT_URI)
            .await,
        "other browser deny",
    );

    // The request is intact: the right browser completes it.
    let landing = landed(
        browser
            .post_form(consent_url.clone(), &form, REDIRECT_URI)
            .await,
    );
    assert!(query_param(&landing, "code").is_some(), "{landing}");
    // And only once.
    match browser.post_form(consent_url, &form, REDIRECT_URI).await {
        Visit::Page { status, .. } => assert_eq!(status, StatusCode::BAD_REQUEST),
        other => panic!("consent answered twice: {other:?}"),
    }
}

#[tokio::test]
async fn the_callback_state_is_single_use_and_bound_to_the_browser() {
    // Consent asked every time, so each round stops at the page.
    let world = ProxyWorld::start_with(|c| c.consent_remember = std::time::Duration::ZERO).await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let callback = world.url(CALLBACK_PATH);

    // Run until the IdP sends the browser back, without following that last redirect.
    async fn until_callback(
        world: &ProxyWorld,
        browser: &mut Browser,
        client_id: &str,
        callback: &str,
    ) -> Url {
        let pkce = Pkce::new();
        let url = authorize_url(
            world,
            client_id,
            REDIRECT_URI,
            "carol",
            "splunk:read",
            "st",
            &pkce.challenge,
        );
        let page = consent_page(browser, url).await;
        let at = landed(answer_consent(world, browser, &page, "approve", callback).await);
        assert!(
            query_param(&at, "state").is_some() && query_param(&at, "code").is_some(),
            "{at}"
        );
        at
    }
    let status_of = |visit: Visit| match visit {
        Visit::Page { status, .. } => status,
        Visit::Redirected(url) => panic!("redirected to {url}"),
    };

    let mut browser = Browser::new(&world.http);
    let at = until_callback(&world, &mut browser, &client_id, &callback).await;
    // A tampered state is unknown (and does not spend the real one).
    let mut tampered = at.clone();
    let state = query_param(&at, "state").unwrap();
    let code = query_param(&at, "code").unwrap();
    let forged = format!("{}A", &state[..state.len() - 1]);
    tampered
        .query_pairs_mut()
        .clear()
        .append_pair("state", if forged == state { "x" } else { &forged })
        .append_pair("code", &code);
    assert_eq!(
        status_of(browser.visit(tampered, REDIRECT_URI).await),
        StatusCode::BAD_REQUEST
    );
    // The real one completes once...
    let landing = landed(browser.visit(at.clone(), REDIRECT_URI).await);
    assert!(query_param(&landing, "code").is_some(), "{landing}");
    // ...and a replay is refused with a page, not a second code.
    assert_eq!(
        status_of(browser.visit(at, REDIRECT_URI).await),
        StatusCode::BAD_REQUEST
    );

    // A callback URL carried to another browser is refused, and is then dead everywhere.
    let at = until_callback(&world, &mut browser, &client_id, &callback).await;
    let mut thief = Browser::new(&world.http);
    assert_eq!(
        status_of(thief.visit(at.clone(), REDIRECT_URI).await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_of(browser.visit(at, REDIRECT_URI).await),
        StatusCode::BAD_REQUEST
    );

    // An IdP error reaches the client as access_denied, with its state.
    let at = until_callback(&world, &mut browser, &client_id, &callback).await;
    let mut refused = at.clone();
    refused
        .query_pairs_mut()
        .clear()
        .append_pair("state", &query_param(&at, "state").unwrap())
        .append_pair("error", "access_denied")
        .append_pair("error_description", "user said no");
    let landing = landed(browser.visit(refused, REDIRECT_URI).await);
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("access_denied"),
        "{landing}"
    );
    assert_eq!(query_param(&landing, "state").as_deref(), Some("st"));
    assert_eq!(query_param(&landing, "code"), None);

    // A bad IdP code: the exchange fails and the client hears server_error, no detail.
    let at = until_callback(&world, &mut browser, &client_id, &callback).await;
    let mut bad_code = at.clone();
    bad_code
        .query_pairs_mut()
        .clear()
        .append_pair("state", &query_param(&at, "state").unwrap())
        .append_pair("code", "not-the-idp-code");
    let landing = landed(browser.visit(bad_code, REDIRECT_URI).await);
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("server_error"),
        "{landing}"
    );
    assert_eq!(
        query_param(&landing, "iss").as_deref(),
        Some(world.server.issuer())
    );
}

#[tokio::test]
async fn deny_sends_access_denied_to_the_client() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let pkce = Pkce::new();
    let url = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read",
        "st-d",
        &pkce.challenge,
    );
    let mut browser = Browser::new(&world.http);
    let page = consent_page(&mut browser, url.clone()).await;
    let landing = landed(answer_consent(&world, &mut browser, &page, "deny", REDIRECT_URI).await);
    assert_eq!(
        query_param(&landing, "error").as_deref(),
        Some("access_denied"),
        "{landing}"
    );
    assert_eq!(query_param(&landing, "state").as_deref(), Some("st-d"));
    assert_eq!(
        query_param(&landing, "iss").as_deref(),
        Some(world.server.issuer())
    );
    assert_eq!(query_param(&landing, "code"), None);
    // A denial is not remembered: the next request asks again.
    consent_page(&mut browser, url).await;
}

#[tokio::test]
async fn consent_is_remembered_per_browser_client_and_scope() {
    let world = ProxyWorld::start().await;
    let first = register_client(&world, "First", &[REDIRECT_URI]).await;
    let second = register_client(&world, "Second", &[REDIRECT_URI]).await;
    let challenge = Pkce::new().challenge;
    let url = |client: &str, scope: &str| {
        authorize_url(
            &world,
            client,
            REDIRECT_URI,
            "alice",
            scope,
            "st-r",
            &challenge,
        )
    };

    let mut browser = Browser::new(&world.http);
    let page = consent_page(&mut browser, url(&first, "splunk:read splunk:search")).await;
    landed(answer_consent(&world, &mut browser, &page, "approve", REDIRECT_URI).await);

    // Same browser, client and (fewer) scopes: straight through the IdP to the client.
    let landing = landed(
        browser
            .visit(url(&first, "splunk:read"), REDIRECT_URI)
            .await,
    );
    let code = code_at(&world, &landing, "st-r");
    let RedeemOutcome::Redeemed(record) = world
        .server
        .store()
        .redeem_code(&TokenHash::of(&code))
        .await
        .unwrap()
    else {
        panic!("no code");
    };
    assert_eq!(record.scope, "splunk:read");

    // More scope, another client, another browser: asked again.
    consent_page(&mut browser, url(&first, "splunk:read splunk:admin")).await;
    consent_page(&mut browser, url(&second, "splunk:read")).await;
    consent_page(&mut Browser::new(&world.http), url(&first, "splunk:read")).await;
}

#[tokio::test]
async fn consent_is_asked_every_time_when_remembering_is_off() {
    let world = ProxyWorld::start_with(|c| c.consent_remember = std::time::Duration::ZERO).await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let challenge = Pkce::new().challenge;
    let url = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read",
        "s",
        &challenge,
    );
    let mut browser = Browser::new(&world.http);
    let page = consent_page(&mut browser, url.clone()).await;
    landed(answer_consent(&world, &mut browser, &page, "approve", REDIRECT_URI).await);
    consent_page(&mut browser, url).await;
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix() {
    let world = ProxyWorld::start_with(|c| c.secure_cookies = true).await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let challenge = Pkce::new().challenge;
    let url = authorize_url(
        &world,
        &client_id,
        REDIRECT_URI,
        "alice",
        "splunk:read",
        "s",
        &challenge,
    );
    let response = world.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.starts_with("__Host-smcp_browser="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
}
