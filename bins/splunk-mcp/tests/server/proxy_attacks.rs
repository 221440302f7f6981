//! Attacks on proxy mode that need the whole server (the endpoint-level ones are in
//! oidc-proxy's own tests): at `/mcp`, tokens for another resource, the IdP's own tokens,
//! expired and revoked ones are refused with 401 `invalid_token`; through the binary, the
//! consent page cannot be framed, token answers are never cached, and no hostile
//! `redirect_uri` ever gets a `Location`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e_tests::{Browser, SignIn, World, jwt_claims};
use oidc_proxy::{AccessTokenRequest, Cipher, EncryptionKey, RedisStore, Store, TokenIssuer};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::proxy_steps::{
    Authorization, CLIENT_REDIRECT, RedisServer, Replica, assert_accepted, assert_invalid_token,
    jwks, oauth_http, redeem, refresh, register, revoke, sign_in, token,
};
use crate::support::{PROXY_ENCRYPTION_KEY, proxy_env, proxy_store_path};

/// Access-token lifetime of the short-lived server, seconds.
const SHORT_TTL: u64 = 4;

/// `http://ADDR`: a replica started without `MCP_BASE_URL` is its own public URL.
fn base_of(replica: &Replica) -> String {
    format!("http://{}", replica.addr())
}

/// Signs alice in at `base` with a fresh browser and a fresh client; returns the client id and
/// the token answer's `(access_token, refresh_token)`.
async fn tokens_at(http: &reqwest::Client, base: &str) -> (String, (String, String)) {
    let client_id = register(http, base).await;
    let mut browser = Browser::new(http);
    let (authorization, code) = sign_in(&mut browser, base, &client_id, "alice").await;
    let answer = redeem(http, base, &client_id, &authorization, &code).await;
    assert_eq!(
        answer.cache_control.as_deref(),
        Some("no-store"),
        "a token answer is never cached"
    );
    (client_id, answer.tokens())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_attacks_foreign_idp_expired_and_revoked_tokens_get_401_at_mcp() {
    let world = World::start().await;
    // Two servers with their own public URLs but one store: the same signing keys, so only the
    // issuer and audience tell their tokens apart.
    let redis = RedisServer::start();
    let env = proxy_env(&world, &redis.url());
    let mut short_env = env.clone();
    short_env.push(("MCP_PROXY_ACCESS_TOKEN_TTL", format!("{SHORT_TTL}s")));
    // One after the other: the second finds the first's signing key in the store (started
    // together, each could create its own, which the design tolerates but this test avoids).
    let ours = Replica::start(&env).await;
    let other = Replica::start(&short_env).await;
    let (base, other_base) = (base_of(&ours), base_of(&other));
    let (mcp, other_mcp) = (format!("{base}/mcp"), format!("{other_base}/mcp"));
    let http = oauth_http();

    // A token the other server minted for its own resource: good there, refused here.
    assert_eq!(
        jwks(&http, &base).await,
        jwks(&http, &other_base).await,
        "both servers sign with the same keys"
    );
    let (_, (foreign, _)) = tokens_at(&http, &other_base).await;
    assert_accepted(&http, &other_mcp, &foreign, "at the server that minted it").await;
    assert_invalid_token(&http, &mcp, &foreign, "a token for another resource").await;
    let claims = jwt_claims(&foreign);
    // NumericDate may be fractional (RFC 7519 §2): josekit writes `iat` as a float.
    let lifetime =
        claims["exp"].as_f64().unwrap_or_default() - claims["iat"].as_f64().unwrap_or_default();
    assert_eq!(
        lifetime.round(),
        SHORT_TTL as f64,
        "MCP_PROXY_ACCESS_TOKEN_TTL sets exp"
    );

    // The IdP's own access token, even one whose audience names our resource: not ours.
    let idp_token = world
        .idp
        .access_token(
            &world.http,
            &SignIn::new("alice")
                .for_resource(&mcp)
                .with_scope("openid splunk:read splunk:search"),
        )
        .await;
    assert_invalid_token(&http, &mcp, &idp_token, "the IdP's own token in proxy mode").await;

    // Revoking the grant (by its refresh token) refuses its access token at once.
    let (client_id, (access, refresh_token)) = tokens_at(&http, &base).await;
    assert_accepted(&http, &mcp, &access, "before revocation").await;
    assert_eq!(
        revoke(&http, &base, &client_id, &refresh_token).await,
        StatusCode::OK,
        "RFC 7009 revocation"
    );
    assert_invalid_token(&http, &mcp, &access, "the access token of a revoked grant").await;
    let after = refresh(&http, &base, &client_id, &refresh_token).await;
    assert_eq!(after.body["error"], "invalid_grant", "{}", after.error());
    assert_eq!(
        after.cache_control.as_deref(),
        Some("no-store"),
        "{}",
        after.error()
    );

    // An expired token of ours: 401 invalid_token (never 400). The verifier allows clock
    // skew, so rather than sleep past it the test signs, with the server's own key (read from
    // the shared store), the same claims as if issued an hour ago; the same claims issued now
    // are accepted, so only the expiry differs.
    let expired = mint_like(&redis, &other_base, &claims, -3600).await;
    let fresh = mint_like(&redis, &other_base, &claims, 0).await;
    assert_accepted(&http, &other_mcp, &fresh, "the same claims, issued now").await;
    assert_invalid_token(
        &http,
        &other_mcp,
        &expired,
        "a token expired 50 minutes ago",
    )
    .await;
}

/// A token with the claims of `like` (same grant, client, subject), signed with the key the
/// server at `issuer` keeps in `redis`, issued `offset` seconds from now and living 10 min.
async fn mint_like(redis: &RedisServer, issuer: &str, like: &Value, offset: i64) -> String {
    let cipher = Cipher::new(
        EncryptionKey::from_base64(1, PROXY_ENCRYPTION_KEY).expect("the test encryption key"),
    );
    // The binary's Redis key prefix.
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&redis.url(), "splunk-mcp:", cipher)
            .await
            .expect("the servers' Redis"),
    );
    let issuer_keys = TokenIssuer::load(store, issuer, Duration::from_secs(600))
        .await
        .expect("the servers' signing keys");
    let text = |name: &str| like[name].as_str().map(str::to_owned);
    let request = AccessTokenRequest {
        subject: text("sub").expect("sub"),
        client_id: text("client_id").expect("client_id"),
        audience: format!("{issuer}/mcp"),
        scope: text("scope").unwrap_or_default(),
        groups: serde_json::from_value(like["groups"].clone()).unwrap_or_default(),
        grant_id: text("sid").expect("sid"),
        username: text("preferred_username"),
        email: text("email"),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .saturating_add_signed(offset);
    issuer_keys
        .mint_at(&request, now)
        .await
        .expect("mint")
        .token
        .expose()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_attacks_consent_page_unframeable_tokens_uncached_no_hostile_redirects() {
    let world = World::start().await;
    let store = proxy_store_path("proxy-attacks");
    let server = Replica::start(&proxy_env(&world, &store.display().to_string())).await;
    let base = base_of(&server);
    let http = oauth_http();
    let client_id = register(&http, &base).await;

    // The consent page as the binary serves it: no framing, no caching, no scripts.
    let response = http
        .get(Authorization::new(&base, &client_id, "alice").url)
        .send()
        .await
        .expect("GET /authorize");
    assert_eq!(response.status(), StatusCode::OK, "the consent page");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "CSP: {csp:?}");
    assert!(!csp.contains("script-src"), "no script allowed: {csp:?}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert!(
        header("cache-control").contains("no-store"),
        "{}",
        header("cache-control")
    );

    // /token answers are never cached: success and errors alike.
    let bad_code = token(
        &http,
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code"),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", "x".repeat(43).as_str()),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(
        bad_code.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_code.error()
    );
    assert_eq!(
        bad_code.body["error"],
        "invalid_grant",
        "{}",
        bad_code.error()
    );
    assert_eq!(bad_code.cache_control.as_deref(), Some("no-store"));
    let bad_client = token(
        &http,
        &base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "nope.nope"),
            ("client_id", "no-such-client"),
        ],
    )
    .await;
    assert!(
        bad_client.status.is_client_error(),
        "{}",
        bad_client.error()
    );
    assert_eq!(bad_client.cache_control.as_deref(), Some("no-store"));
    let mut browser = Browser::new(&http);
    let (authorization, code) = sign_in(&mut browser, &base, &client_id, "alice").await;
    let good = redeem(&http, &base, &client_id, &authorization, &code).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.error());
    assert_eq!(good.cache_control.as_deref(), Some("no-store"));

    // Hostile redirect URIs: an error page, never a Location (to the hostile host or anywhere).
    let authorize = |client: &str, redirect: &str, pkce: bool| {
        let auth = Authorization::new(&base, client, "alice");
        let mut url = auth.url.clone();
        let pairs: Vec<(String, String)> = auth
            .url
            .query_pairs()
            .filter(|(k, _)| pkce || !k.starts_with("code_challenge"))
            .map(|(k, v)| {
                let v = if k == "redirect_uri" {
                    redirect.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    };
    let hostile = [
        "https://evil.example/callback",
        "http://evil.example/callback",
        "http://127.0.0.1:9@evil.example/callback",
        "http://127.0.0.1.evil.example:9/callback",
        "http://127.0.0.1:9/callback/../../evil",
        "http://127.0.0.1:9/callback/evil",
        "http://127.0.0.1:9/callback#@evil.example",
        "//evil.example/callback",
        "javascript:alert(1)//127.0.0.1:9/callback",
        "data:text/html,<script>alert(1)</script>",
    ];
    let mut cases: Vec<(String, Url)> = Vec::new();
    for redirect in hostile {
        cases.push((
            format!("{redirect} (registered client)"),
            authorize(&client_id, redirect, true),
        ));
        cases.push((
            format!("{redirect} (registered client, no PKCE)"),
            authorize(&client_id, redirect, false),
        ));
    }
    cases.push((
        "an unknown client with a hostile redirect".to_owned(),
        authorize("no-such-client", "https://evil.example/callback", false),
    ));
    for (what, url) in &cases {
        let response = http.get(url.clone()).send().await.expect("GET /authorize");
        let status = response.status();
        assert!(
            !response.headers().contains_key("location"),
            "{what}: a Location header ({status})"
        );
        assert!(
            status.is_client_error(),
            "{what}: expected an error page, got {status}"
        );
        let body = response.text().await.unwrap_or_default();
        assert!(
            !body.contains("evil.example/callback\""),
            "{what}: a link to the hostile URI"
        );
    }

    // A second, hostile redirect_uri next to the registered one never wins either.
    let mut doubled = authorize(&client_id, CLIENT_REDIRECT, true);
    doubled
        .query_pairs_mut()
        .append_pair("redirect_uri", "https://evil.example/callback");
    let response = http.get(doubled).send().await.expect("GET /authorize");
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    assert!(
        !location.contains("evil.example"),
        "a duplicated redirect_uri sent the browser to the hostile host"
    );

    // The contrast: with the registered URI, a request error does go back to the client.
    let response = http
        .get(authorize(&client_id, CLIENT_REDIRECT, false))
        .send()
        .await
        .expect("GET /authorize");
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        response.status().is_redirection() && location.starts_with(CLIENT_REDIRECT),
        "missing PKCE with the registered redirect URI: {} to {location:?}",
        response.status()
    );
    assert!(location.contains("error=invalid_request"), "{location}");
    let _ = std::fs::remove_file(&store);
}
