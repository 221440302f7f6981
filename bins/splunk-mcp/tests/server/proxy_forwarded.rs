//! Proxy mode behind a load balancer: with `MCP_TRUSTED_PROXIES` naming the peer (here the test
//! itself, on 127.0.0.1, playing the balancer), each `X-Forwarded-For` client has its own
//! registration and `/token` allowance and the logs name it; without the setting the header is
//! ignored and every request counts against the peer.

use e2e_tests::World;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::proxy_steps::{CLIENT_REDIRECT, oauth_http};
use crate::support::{Server, proxy_store_path, start_proxy_server};

/// Registrations allowed per client address (per hour) in these servers.
const REGISTRATIONS: usize = 2;
/// `/token` requests allowed per client address (per minute) in these servers.
const TOKEN_REQUESTS: usize = 3;

/// A proxy-mode server with small limits (the per-client `/token` limit off, so that only
/// addresses count), trusting `trusted` proxies when given.
async fn server(world: &World, what: &str, trusted: Option<&str>) -> Server {
    let store = proxy_store_path(what);
    let mut extra = vec![
        ("MCP_PROXY_REGISTER_RATE_LIMIT", REGISTRATIONS.to_string()),
        ("MCP_PROXY_TOKEN_RATE_LIMIT", TOKEN_REQUESTS.to_string()),
        ("MCP_PROXY_TOKEN_CLIENT_RATE_LIMIT", "0".to_owned()),
    ];
    if let Some(trusted) = trusted {
        extra.push(("MCP_TRUSTED_PROXIES", trusted.to_owned()));
    }
    start_proxy_server(world, store.to_str().expect("UTF-8 path"), &extra).await
}

/// `POST /register` of a public client, saying it comes from `client`: the status and body.
async fn register_as(http: &reqwest::Client, base: &str, client: &str) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/register"))
        .header("x-forwarded-for", client)
        .json(&json!({
            "redirect_uris": [CLIENT_REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .expect("POST /register");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A refresh with a token never issued, saying it comes from `client`: the status, the
/// `Retry-After` header and the body.
async fn refresh_as(
    http: &reqwest::Client,
    base: &str,
    client: &str,
    client_id: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = http
        .post(format!("{base}/token"))
        .header("x-forwarded-for", client)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "no-such-family.no-such-token"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("POST /token");
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The JSON log lines whose message contains `words`, with their fields lifted to the top.
fn log_lines(server: &Server, words: &str) -> Vec<Value> {
    server
        .log_text()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line.get("fields").cloned())
        .filter(|fields| {
            fields["message"]
                .as_str()
                .is_some_and(|m| m.contains(words))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits() {
    let world = World::start().await;
    let http = oauth_http();
    let (alpha, beta) = ("198.51.100.1", "2001:db8:77::1");

    // The test is the balancer: its peer address, 127.0.0.1, is trusted.
    let behind = server(&world, "forwarded-trusted", Some("127.0.0.1/32")).await;
    let base = &behind.base_url;
    let mut client_id = String::new();
    for _ in 0..REGISTRATIONS {
        let (status, body) = register_as(&http, base, alpha).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        client_id = body["client_id"].as_str().expect("client_id").to_owned();
    }
    let (status, body) = register_as(&http, base, alpha).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, body) = register_as(&http, base, beta).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another client address: {body}"
    );

    for _ in 0..TOKEN_REQUESTS {
        let (status, _, body) = refresh_as(&http, base, alpha, &client_id).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant");
    }
    let (status, retry_after, body) = refresh_as(&http, base, alpha, &client_id).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let retry: u64 = retry_after
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // A spoofed entry left of the balancer's own changes nothing: the balancer's is believed.
    let (status, _, _) =
        refresh_as(&http, base, &format!("203.0.113.50, {alpha}"), &client_id).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, body) = refresh_as(&http, base, beta, &client_id).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "another client address: {body}"
    );

    // The log says who was refused.
    let refused = log_lines(&behind, "over the limit");
    assert!(
        refused.iter().any(|f| f["client_addr"] == alpha),
        "a 429 log line names {alpha}: {refused:?}"
    );
    assert!(
        refused.iter().all(|f| f["client_addr"] != beta),
        "{beta} was never refused: {refused:?}"
    );
    behind.stop().await;

    // Without MCP_TRUSTED_PROXIES the header is ignored: every request is 127.0.0.1's.
    let direct = server(&world, "forwarded-ignored", None).await;
    let base = &direct.base_url;
    for client in [alpha, beta].into_iter().cycle().take(REGISTRATIONS) {
        let (status, body) = register_as(&http, base, client).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = register_as(&http, base, "192.0.2.200").await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a made-up X-Forwarded-For gets no fresh allowance: {body}"
    );
    let refused = log_lines(&direct, "over the limit");
    assert!(
        refused.iter().any(|f| f["client_addr"] == "127.0.0.1"),
        "the 429 log line names the peer: {refused:?}"
    );
    direct.stop().await;
}
