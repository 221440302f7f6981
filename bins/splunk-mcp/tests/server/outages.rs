//! Outages the server lives through: an IdP that is down when the server starts, as a resource
//! server (`jwt`: it serves, answers 503 rather than 401, names the IdP in `/readyz`) and as
//! the authorization server in front of it (`proxy`: sign-ins end in `temporarily_unavailable`
//! at the client), recovering without a restart once the IdP answers.

use std::time::Duration;

use e2e_tests::{Idp, IdpOptions, SignIn, World};
use reqwest::StatusCode;
use serde_json::json;

use crate::proxy_steps::{
    Authorization, CLIENT_REDIRECT, consent_page, oauth_http, redeem, register, sign_in,
};
use crate::support::{
    Server, call, connect, initialize_request, poll_status, post_mcp, proxy_env, proxy_store_path,
    service_account, splunk_env, text,
};

/// A loopback port nothing listens on: bound, then freed.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_mode_starts_while_the_idp_is_down_and_recovers_when_it_answers() {
    // The world's emulator, reached with the service account; the IdP is one of this test's.
    let world = World::start().await;
    let http = &world.http;
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut env = splunk_env(&world);
    env.extend([
        ("MCP_AUTH_MODE", "jwt".to_owned()),
        (
            "IDP_OIDC_CONFIG_URL",
            format!("{issuer}/.well-known/openid-configuration"),
        ),
    ]);
    env.extend(service_account());
    let server = Server::start(&env).await;

    // Alive, not ready, and naming the IdP; a caller gets 503, never a 401 that would send
    // its client to sign in again and again.
    let healthz = http
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(healthz.status(), StatusCode::OK);
    let readyz = format!("{}/readyz", server.base_url);
    let (status, body) = poll_status(http, &readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("idp"), "/readyz names the IdP: {body}");
    let refused = post_mcp(
        http,
        &server.mcp_url,
        Some("a.token.meanwhile"),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        server.log_text().contains("the IdP cannot be reached"),
        "the log says why: {}",
        server.log_text()
    );

    // The IdP comes up where it was expected: the server follows without a restart.
    let idp = Idp::spawn(IdpOptions {
        args: vec!["--port".to_owned(), port.to_string()],
        log: None,
    })
    .await
    .expect("the IdP on its port");
    let (status, body) = poll_status(http, &readyz, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "ready once the IdP answers: {body}");
    let token = idp
        .access_token(
            http,
            &SignIn::new("alice")
                .for_resource(&server.mcp_url)
                .with_scope("openid splunk:read"),
        )
        .await;
    // The verifier is built on the server's own retry schedule (at most 5 s apart).
    let mut answered = StatusCode::IM_A_TEAPOT;
    for _ in 0..40 {
        answered = post_mcp(
            http,
            &server.mcp_url,
            Some(&token),
            None,
            &initialize_request(),
        )
        .await
        .status();
        if answered == StatusCode::OK {
            break;
        }
        assert_eq!(answered, StatusCode::SERVICE_UNAVAILABLE, "until then, 503");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(answered, StatusCode::OK, "the IdP's token is accepted");
    let client = connect(&server.mcp_url, &token).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close");

    // The IdP goes down again: a token the server has never seen still verifies, against
    // the IdP's keys it has cached.
    let unseen = idp
        .access_token(
            http,
            &SignIn::new("bob")
                .for_resource(&server.mcp_url)
                .with_scope("openid splunk:read"),
        )
        .await;
    idp.stop().await;
    let (status, _) = poll_status(http, &readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the IdP is down");
    let client = connect(&server.mcp_url, &unseen).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("bob"), "{}", text(&whoami));
    client.cancel().await.expect("close");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_starts_while_the_idp_is_down_and_signs_in_once_it_answers() {
    let world = World::start().await;
    let http = oauth_http();
    let port = free_port();
    let store = proxy_store_path("outage-proxy");
    let mut env = proxy_env(&world, store.to_str().expect("UTF-8 path"));
    env.extend([(
        "IDP_OIDC_CONFIG_URL",
        format!("http://127.0.0.1:{port}/.well-known/openid-configuration"),
    )]);
    env.extend(service_account());
    let server = Server::start(&env).await;
    let base = server.base_url.as_str();
    let readyz = format!("{base}/readyz");
    let (status, body) = poll_status(&http, &readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("idp"), "/readyz names the IdP: {body}");

    // A client can register, and its sign-in comes back to it as temporarily unavailable,
    // after the consent page, with its state: it may try again.
    let client_id = register(&http, base).await;
    let authorization = Authorization::new(base, &client_id, "alice");
    let mut browser = e2e_tests::Browser::new(&http);
    let form = consent_page(&mut browser, &authorization).await;
    let landing = crate::proxy_steps::approve(&mut browser, &form, CLIENT_REDIRECT).await;
    assert_eq!(
        e2e_tests::query_param(&landing, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{landing}"
    );
    assert_eq!(
        e2e_tests::query_param(&landing, "state").as_deref(),
        Some(authorization.state.as_str())
    );

    // The IdP comes up: the same client signs in, with no restart.
    let _idp = Idp::spawn(IdpOptions {
        args: vec!["--port".to_owned(), port.to_string()],
        log: None,
    })
    .await
    .expect("the IdP on its port");
    let (status, body) = poll_status(&http, &readyz, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "ready once the IdP answers: {body}");
    let mut browser = e2e_tests::Browser::new(&http);
    let (authorization, code) = sign_in(&mut browser, base, &client_id, "alice").await;
    let (access, _) = redeem(&http, base, &client_id, &authorization, &code)
        .await
        .tokens();
    let client = connect(&server.mcp_url, &access).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close");
    server.stop().await;
    let _ = std::fs::remove_file(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_answers_503_while_redis_is_frozen_and_recovers() {
    let world = World::start().await;
    let http = oauth_http();
    let redis = e2e_tests::RedisServer::start();
    let mut env = proxy_env(&world, &redis.url());
    env.extend(service_account());
    let mut server = Server::start(&env).await;
    let base = server.base_url.clone();
    let client_id = register(&http, &base).await;
    let mut browser = e2e_tests::Browser::new(&http);
    let (authorization, code) = sign_in(&mut browser, &base, &client_id, "alice").await;
    let (access, refresh_token) = redeem(&http, &base, &client_id, &authorization, &code)
        .await
        .tokens();

    // Redis freezes: the endpoints that need it answer 503 (try again), not 500 or 401, and
    // nothing is lost.
    redis.pause().expect("SIGSTOP redis-server");
    let answer = crate::proxy_steps::refresh(&http, &base, &client_id, &refresh_token).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.error()
    );
    assert_eq!(answer.body["error"], "temporarily_unavailable");
    let mcp = post_mcp(
        &http,
        &server.mcp_url,
        Some(&access),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(mcp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(server.is_running(), "no panic");
    assert!(
        server.log_text().contains("the store cannot be reached"),
        "the log says why: {}",
        server.log_text()
    );

    // Redis is back: the same refresh token works, and so does the access token.
    redis.resume().expect("SIGCONT redis-server");
    let mut refreshed = None;
    for _ in 0..40 {
        let answer = crate::proxy_steps::refresh(&http, &base, &client_id, &refresh_token).await;
        if answer.status == StatusCode::OK {
            refreshed = Some(answer.tokens());
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.error()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (access_2, _) = refreshed.expect("refreshed once Redis answers");
    let client = connect(&server.mcp_url, &access_2).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close");
    server.stop().await;
}
