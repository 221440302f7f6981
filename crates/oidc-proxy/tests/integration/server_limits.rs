//! The rate limits of `/token` and `/revoke` over real HTTP: per client address and per
//! client, the 429 answer (`temporarily_unavailable`, `Retry-After`, never cached, readable by
//! page scripts), and a new window letting requests through again.
//!
//! The router is served with `ConnectInfo` and no middleware, so the client address is the TCP
//! peer; requests come from different loopback addresses (127.0.0.2, 127.0.0.3, ...) to be
//! different clients.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use oidc_proxy::{EndpointLimits, RateLimit};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::server_authorize::{REDIRECT_URI, register_client};
use crate::server_support::{Answer, ProxyWorld};

/// A window no test outlives (windows are aligned to multiples of their length since the
/// epoch, so an hour-long one could end in the middle of a test started just before the hour).
const LONG: Duration = Duration::from_secs(24 * 3600);

/// A client whose requests leave from `127.0.0.<last>`.
fn from(last: u8) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

impl Answer {
    /// Asserts the 429 of a rate limit whose description mentions `what`; its `Retry-After`.
    #[track_caller]
    fn assert_limited(&self, what: &str, window_secs: u64) -> u64 {
        assert_eq!(self.status, StatusCode::TOO_MANY_REQUESTS, "{}", self.body);
        assert_eq!(
            self.body["error"], "temporarily_unavailable",
            "{}",
            self.body
        );
        let description = self.body["error_description"].as_str().unwrap_or("");
        assert!(description.contains(what), "{description}");
        assert_eq!(self.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            self.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "retry-after"
        );
        let retry: u64 = self.headers[header::RETRY_AFTER]
            .to_str()
            .expect("Retry-After is text")
            .parse()
            .expect("Retry-After is whole seconds");
        assert!((1..=window_secs).contains(&retry), "Retry-After {retry}");
        retry
    }

    /// Asserts an answer that got past the limits: `status`, with `error` when it is one.
    #[track_caller]
    fn assert_passed(&self, status: StatusCode, error: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        if let Some(error) = error {
            assert_eq!(self.body["error"], error, "{}", self.body);
        }
        assert!(self.headers.get(header::RETRY_AFTER).is_none());
    }
}

async fn post(
    world: &ProxyWorld,
    http: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> Answer {
    let response = http
        .post(world.url(path))
        .form(form)
        .send()
        .await
        .expect("request");
    Answer::read(response).await
}

/// A refresh with a token that was never issued: `invalid_grant` once past the limits, with
/// no IdP involved.
async fn bogus_refresh(world: &ProxyWorld, http: &reqwest::Client, client_id: &str) -> Answer {
    post(
        world,
        http,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "no-such-family.no-such-token"),
            ("client_id", client_id),
        ],
    )
    .await
}

fn limits(per_address: u64, per_client: u64, window: Duration) -> EndpointLimits {
    EndpointLimits {
        per_address: RateLimit {
            max: per_address,
            window,
        },
        per_client: RateLimit {
            max: per_client,
            window,
        },
    }
}

#[tokio::test]
async fn token_requests_are_limited_per_address_and_per_client() {
    let world = ProxyWorld::start_with(|config| {
        config.token_limits = limits(4, 2, LONG);
    })
    .await;
    let a = register_client(&world, "A", &[REDIRECT_URI]).await;
    let b = register_client(&world, "B", &[REDIRECT_URI]).await;
    let (first, second) = (from(2), from(3));
    let bad = StatusCode::BAD_REQUEST;

    // Client A from the first address: two requests, then its own allowance is spent.
    for _ in 0..2 {
        bogus_refresh(&world, &first, &a)
            .await
            .assert_passed(bad, Some("invalid_grant"));
    }
    bogus_refresh(&world, &first, &a)
        .await
        .assert_limited("for this client", LONG.as_secs());
    // Client B from the same address: its own allowance, until the address's (4) is spent.
    bogus_refresh(&world, &first, &b)
        .await
        .assert_passed(bad, Some("invalid_grant"));
    bogus_refresh(&world, &first, &b)
        .await
        .assert_limited("from this address", LONG.as_secs());
    // Malformed requests count against the address too: they are refused before being read.
    post(&world, &first, "/token", &[])
        .await
        .assert_limited("from this address", LONG.as_secs());

    // Another address is not limited; client B's allowance (one left) still is.
    bogus_refresh(&world, &second, &b)
        .await
        .assert_passed(bad, Some("invalid_grant"));
    bogus_refresh(&world, &second, &b)
        .await
        .assert_limited("for this client", LONG.as_secs());
    // Client A stays limited from any address.
    bogus_refresh(&world, &second, &a)
        .await
        .assert_limited("for this client", LONG.as_secs());
    // An unregistered client is refused as before, counted against its address only.
    bogus_refresh(&world, &second, "nobody")
        .await
        .assert_passed(StatusCode::UNAUTHORIZED, Some("invalid_client"));
}

#[tokio::test]
async fn a_confidential_clients_allowance_is_spent_only_with_its_secret() {
    let world = ProxyWorld::start_with(|config| {
        config.token_limits = limits(0, 1, LONG);
    })
    .await;
    let registered: Value = world
        .http
        .post(world.url("/register"))
        .json(&json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration JSON");
    let id = registered["client_id"].as_str().expect("client_id");
    let secret = registered["client_secret"].as_str().expect("secret");
    let http = from(4);
    // Wrong secrets (the per-address limit is off here): refused, allowance untouched.
    for _ in 0..3 {
        confidential_refresh(&world, &http, id, "wrong-secret")
            .await
            .assert_passed(StatusCode::UNAUTHORIZED, Some("invalid_client"));
    }
    confidential_refresh(&world, &http, id, secret)
        .await
        .assert_passed(StatusCode::BAD_REQUEST, Some("invalid_grant"));
    confidential_refresh(&world, &http, id, secret)
        .await
        .assert_limited("for this client", LONG.as_secs());
}

/// [`bogus_refresh`] by a client authenticating with `client_secret_post`.
async fn confidential_refresh(
    world: &ProxyWorld,
    http: &reqwest::Client,
    client_id: &str,
    secret: &str,
) -> Answer {
    post(
        world,
        http,
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "no-such-family.no-such-token"),
            ("client_id", client_id),
            ("client_secret", secret),
        ],
    )
    .await
}

/// Revokes a token that was never issued: 200 once past the limits (RFC 7009 §2.2).
async fn revoke(world: &ProxyWorld, http: &reqwest::Client, client_id: &str) -> Answer {
    post(
        world,
        http,
        "/revoke",
        &[("token", "no-such-token"), ("client_id", client_id)],
    )
    .await
}

#[tokio::test]
async fn revocations_are_limited_per_address_and_per_client() {
    let world = ProxyWorld::start_with(|config| {
        config.revoke_limits = limits(2, 1, LONG);
    })
    .await;
    let a = register_client(&world, "A", &[REDIRECT_URI]).await;
    let b = register_client(&world, "B", &[REDIRECT_URI]).await;
    let (first, second) = (from(5), from(6));
    let ok = StatusCode::OK;
    revoke(&world, &first, &a).await.assert_passed(ok, None);
    revoke(&world, &first, &a)
        .await
        .assert_limited("for this client", LONG.as_secs());
    revoke(&world, &first, &b)
        .await
        .assert_limited("from this address", LONG.as_secs());
    revoke(&world, &second, &b).await.assert_passed(ok, None);
    revoke(&world, &second, &a)
        .await
        .assert_limited("for this client", LONG.as_secs());
}

#[tokio::test]
async fn a_new_window_lets_requests_through_again() {
    let window = Duration::from_secs(2);
    let world = ProxyWorld::start_with(|config| {
        config.token_limits = limits(1, 0, window);
        config.revoke_limits = limits(1, 0, window);
    })
    .await;
    let client = register_client(&world, "A", &[REDIRECT_URI]).await;
    let http = from(7);
    let bad = StatusCode::BAD_REQUEST;
    // Start just after a window begins, so the first two requests share it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let into_window = u64::try_from(now % window.as_millis()).expect("small");
    tokio::time::sleep(window - Duration::from_millis(into_window) + Duration::from_millis(20))
        .await;
    bogus_refresh(&world, &http, &client)
        .await
        .assert_passed(bad, Some("invalid_grant"));
    let retry = bogus_refresh(&world, &http, &client)
        .await
        .assert_limited("from this address", 2);
    // `/revoke` counts apart from `/token`.
    revoke(&world, &http, &client)
        .await
        .assert_passed(StatusCode::OK, None);
    // Retry-After is the rest of the window, rounded up: after it, a fresh allowance.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(50)).await;
    bogus_refresh(&world, &http, &client)
        .await
        .assert_passed(bad, Some("invalid_grant"));
}
