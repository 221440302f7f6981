//! `/token` and `/revoke` over real HTTP, with the real IdP behind the server: codes from the
//! whole browser flow (or put into the store directly, for the refusal tables), our access
//! tokens checked by `ProxyTokenVerifier`, refresh rotation and reuse, client authentication,
//! revocation reaching the IdP, and the IdP's token refreshed before it expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::{ErrorKind, TokenVerifier};
use e2e_tests::{Browser, CONFIDENTIAL, Pkce, Visit, jwt_claims, query_param};
use oidc_proxy::records::now_millis;
use oidc_proxy::upstream::{Pkce as UpstreamPkce, random_token};
use oidc_proxy::{
    AuthorizationCode, AuthorizationTransaction, CALLBACK_PATH, ClientRecord, ConsentRecord,
    KeyState, RedeemOutcome, RefreshAnswer, RefreshFamily, RefreshGrant, RotateOutcome, Secret,
    SigningKeyRecord, Store, StoreError, StoreFuture, TokenHash, UpstreamClient, UpstreamTokenSet,
};
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::server_authorize::{REDIRECT_URI, register_client, sign_in};
use crate::server_support::{Answer, ProxyWorld, upstream_config};

const SCOPE: &str = "splunk:read splunk:search";

impl Answer {
    /// Asserts an OAuth error with exactly `code`, never cached.
    #[track_caller]
    fn assert_error(&self, status: StatusCode, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        assert_eq!(self.body["error"], code, "{what}: {}", self.body);
        assert_eq!(self.headers[header::CACHE_CONTROL], "no-store", "{what}");
    }

    /// Asserts a token response and returns (access token, refresh token if any).
    #[track_caller]
    fn tokens(&self) -> (String, Option<String>) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(self.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(self.headers[header::PRAGMA], "no-cache");
        assert_eq!(self.body["token_type"], "Bearer", "{}", self.body);
        let access = self.body["access_token"].as_str().expect("access_token");
        let refresh = self.body["refresh_token"].as_str().map(str::to_owned);
        (access.to_owned(), refresh)
    }
}

/// How a request authenticates its client.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// `client_id` in the body (public client).
    Public(&'a str),
    /// HTTP Basic.
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the body.
    Post(&'a str, &'a str),
}

async fn post(world: &ProxyWorld, path: &str, auth: Auth<'_>, form: &[(&str, &str)]) -> Answer {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = world.http.post(world.url(path));
    match auth {
        Auth::Public(id) => form.push(("client_id", id)),
        Auth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        Auth::Post(id, secret) => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
        }
    }
    Answer::read(request.form(&form).send().await.expect("request")).await
}

async fn redeem(world: &ProxyWorld, auth: Auth<'_>, code: &str, verifier: &str) -> Answer {
    post(
        world,
        "/token",
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT_URI),
            ("resource", &world.resource),
        ],
    )
    .await
}

async fn refresh_with(world: &ProxyWorld, auth: Auth<'_>, token: &str) -> Answer {
    post(
        world,
        "/token",
        auth,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// Registers a confidential client with `method`; its id and secret.
async fn register_confidential(world: &ProxyWorld, method: &str) -> (String, String) {
    let response = world
        .http
        .post(world.url("/register"))
        .json(&json!({
            "client_name": format!("confidential {method}"),
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .expect("register");
    let status = response.status();
    let body: Value = response.json().await.expect("registration JSON");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["client_id"].as_str().expect("client_id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// Puts a code for `client_id` straight into the store, bound to `upstream_id` (which may hold
/// no tokens: the authorization-code grant does not use them); the code and its verifier.
async fn put_code(world: &ProxyWorld, client_id: &str, upstream_id: &str) -> (String, String) {
    let pkce = Pkce::new();
    let code = random_token();
    let record = AuthorizationCode {
        grant_id: random_token(),
        client_id: client_id.to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
        code_challenge: pkce.challenge,
        scope: SCOPE.to_owned(),
        resource: Some(world.resource.clone()),
        subject: "carol".to_owned(),
        groups: Vec::new(),
        username: Some("carol".to_owned()),
        email: None,
        upstream_id: upstream_id.to_owned(),
        issued_at: now_millis(),
    };
    world
        .server
        .store()
        .put_code(&TokenHash::of(&code), &record, Duration::from_secs(60))
        .await
        .expect("put code");
    (code, pkce.verifier)
}

/// Signs `user` in at the IdP as the proxy's client (its automated login) and stores the IdP's
/// tokens as the callback would; their id, for codes put into the store directly.
async fn idp_tokens(world: &ProxyWorld, user: &str) -> String {
    let callback = world.url(CALLBACK_PATH);
    let mut config = upstream_config(&world.idp, &callback);
    config
        .extra_authorize_params
        .push(("login_hint".to_owned(), user.to_owned()));
    let client = UpstreamClient::new(config).await.expect("upstream client");
    let (state, nonce, pkce) = (random_token(), random_token(), UpstreamPkce::generate());
    let url = client
        .authorization_url(&state, &nonce, &pkce.challenge)
        .await
        .expect("the IdP is up");
    let landing = match Browser::new(&world.http).visit(url, &callback).await {
        Visit::Redirected(landing) => landing,
        Visit::Page { url, status, body } => {
            panic!("IdP sign-in stopped at {url} ({status}): {body}")
        }
    };
    let code = query_param(&landing, "code").expect("IdP code");
    let login = client
        .exchange_code(&code, pkce.verifier.expose(), &nonce)
        .await
        .expect("IdP code exchange");
    let id = random_token();
    world
        .server
        .store()
        .put_upstream_tokens(&id, &login.tokens, None)
        .await
        .expect("store IdP tokens");
    id
}

/// A public client and tokens for `user` through the whole browser flow.
async fn signed_in(world: &ProxyWorld, user: &str) -> (String, String, String) {
    let client_id = register_client(world, "CLI", &[REDIRECT_URI]).await;
    let (code, verifier) = sign_in(world, &client_id, REDIRECT_URI, user, SCOPE).await;
    let (access, refresh) = redeem(world, Auth::Public(&client_id), &code, &verifier)
        .await
        .tokens();
    (client_id, access, refresh.expect("a refresh token"))
}

/// The refresh family (grant) a token of ours points at.
async fn family_of(world: &ProxyWorld, access_token: &str) -> RefreshFamily {
    let sid = jwt_claims(access_token)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    world
        .server
        .store()
        .get_refresh_family(&sid)
        .await
        .unwrap()
        .expect("the grant")
}

async fn upstream_of(world: &ProxyWorld, family: &RefreshFamily) -> Option<UpstreamTokenSet> {
    world
        .server
        .store()
        .get_upstream_tokens(&family.grant.upstream_id)
        .await
        .unwrap()
}

#[tokio::test]
async fn code_gives_tokens_and_the_verifier_hands_on_the_idp_token() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let (code, verifier) = sign_in(&world, &client_id, REDIRECT_URI, "alice", SCOPE).await;
    let answer = redeem(&world, Auth::Public(&client_id), &code, &verifier).await;
    let (access, refresh) = answer.tokens();
    assert_eq!(answer.body["scope"], SCOPE);
    let expires_in = answer.body["expires_in"].as_u64().expect("expires_in");
    assert!((295..=300).contains(&expires_in), "{expires_in}");
    let refresh = refresh.expect("a refresh token for a client that registered the grant");

    let claims = jwt_claims(&access);
    assert_eq!(claims["iss"], world.base_url, "{claims}");
    assert_eq!(claims["aud"], world.resource, "{claims}");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["scope"], SCOPE);
    assert_eq!(claims["groups"], json!(["analysts"]));
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    let sid = claims["sid"].as_str().expect("sid");
    assert!(
        refresh.starts_with(&format!("{sid}.")),
        "the refresh token names its family"
    );

    let verifier_at_mcp = world.server.verifier();
    let context = verifier_at_mcp
        .verify(&access)
        .await
        .expect("our token verifies");
    assert_eq!(context.subject(), "alice");
    assert_eq!(context.client_id(), Some(client_id.as_str()));
    assert_eq!(context.groups(), ["analysts"]);
    assert!(context.scopes().to_string().contains("splunk:search"));
    // Passthrough gets the IdP's token, a JWT for Splunk, never ours.
    let passed_on = context.token().secret();
    assert_ne!(passed_on, access);
    let upstream = jwt_claims(passed_on);
    assert_eq!(upstream["sub"], "alice", "{upstream}");
    assert!(upstream["aud"].to_string().contains("splunk"), "{upstream}");
    assert!(context.expires_at().unwrap() <= claims["exp"].as_i64().unwrap());

    // A replayed code is refused and revokes what the first redemption gave.
    let replay = redeem(&world, Auth::Public(&client_id), &code, &verifier).await;
    replay.assert_error(StatusCode::BAD_REQUEST, "invalid_grant", "replayed code");
    let err = verifier_at_mcp.verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    assert_eq!(err.oauth_error(), "invalid_token");
    refresh_with(&world, Auth::Public(&client_id), &refresh)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh after replay",
        );
}

#[tokio::test]
async fn code_redemption_refusals() {
    let world = ProxyWorld::start().await;
    let client_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;
    let other_client = register_client(&world, "Other", &[REDIRECT_URI]).await;
    let client = Auth::Public(&client_id);
    let no_tokens = "no-upstream-tokens";

    // Table: what is wrong, the parameter replaced in an otherwise good request, the error
    // (all 400). Each case spends a fresh code unless refused before that.
    let wrong_verifier = Pkce::new().verifier;
    let cases = [
        (
            "wrong verifier",
            "code_verifier",
            wrong_verifier.as_str(),
            "invalid_grant",
        ),
        ("short verifier", "code_verifier", "abc", "invalid_request"),
        (
            "wrong redirect_uri",
            "redirect_uri",
            "http://127.0.0.1:43123/other",
            "invalid_grant",
        ),
        (
            "other port",
            "redirect_uri",
            "http://127.0.0.1:43124/callback",
            "invalid_grant",
        ),
        (
            "wrong resource",
            "resource",
            "http://127.0.0.1:1/mcp",
            "invalid_target",
        ),
        ("unknown code", "code", "not-a-code", "invalid_grant"),
        (
            "password grant",
            "grant_type",
            "password",
            "unsupported_grant_type",
        ),
        (
            "client_credentials",
            "grant_type",
            "client_credentials",
            "unsupported_grant_type",
        ),
    ];
    for (what, name, value, error) in cases {
        let (code, verifier) = put_code(&world, &client_id, no_tokens).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("resource", world.resource.as_str()),
        ];
        form.retain(|(n, _)| *n != name);
        form.push((name, value));
        post(&world, "/token", client, &form).await.assert_error(
            StatusCode::BAD_REQUEST,
            error,
            what,
        );
    }

    // A code spent by a refused redemption: the next try is told that, not that tokens it
    // gave were revoked (it gave none).
    let (code, verifier) = put_code(&world, &client_id, no_tokens).await;
    let wrong = Pkce::new().verifier;
    for (attempt, verifier, what) in [
        (1, wrong.as_str(), "wrong verifier"),
        (2, verifier.as_str(), "a spent code"),
    ] {
        let answer = post(
            &world,
            "/token",
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier),
                ("redirect_uri", REDIRECT_URI),
            ],
        )
        .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_grant", what);
        if attempt == 2 {
            assert_eq!(
                answer.body["error_description"],
                "the authorization code was already spent by an earlier, refused attempt; \
                 start the sign-in again",
                "{}",
                answer.body
            );
        }
    }

    // Missing parameters: refused before the code is spent, which then still works.
    let (code, verifier) = put_code(&world, &client_id, no_tokens).await;
    for missing in ["code_verifier", "code", "grant_type"] {
        let form: Vec<(&str, &str)> = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ]
        .into_iter()
        .filter(|(n, _)| *n != missing)
        .collect();
        post(&world, "/token", client, &form).await.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            missing,
        );
    }
    // A repeated parameter, and a body that is not a form.
    post(
        &world,
        "/token",
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_request", "repeated code");
    let response = world
        .http
        .post(world.url("/token"))
        .json(&json!({"grant_type": "authorization_code", "code": code, "client_id": client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // The resource with a trailing slash is the same resource.
    let (slash_code, slash_verifier) = put_code(&world, &client_id, no_tokens).await;
    let slashed = format!("{}/", world.resource);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", slash_code.as_str()),
        ("code_verifier", slash_verifier.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("resource", slashed.as_str()),
    ];
    let (access, _) = post(&world, "/token", client, &form).await.tokens();
    assert_eq!(jwt_claims(&access)["aud"], world.resource);
    // Without redirect_uri: accepted, the client has only the one it used.
    let answer = post(
        &world,
        "/token",
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let (access, _) = answer.tokens();
    assert_eq!(jwt_claims(&access)["sub"], "carol");
    // Its grant has no IdP tokens: the verifier ends it rather than pass nothing on.
    let err = world.server.verifier().verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");

    // A refused code's IdP tokens are of no use to anyone: revoked at the IdP and deleted.
    let upstream_id = idp_tokens(&world, "carol").await;
    let store = world.server.store();
    let upstream = store
        .get_upstream_tokens(&upstream_id)
        .await
        .unwrap()
        .unwrap();
    let (code, _) = put_code(&world, &client_id, &upstream_id).await;
    redeem(&world, client, &code, &wrong_verifier)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", "wrong verifier");
    assert!(
        store
            .get_upstream_tokens(&upstream_id)
            .await
            .unwrap()
            .is_none()
    );
    let seen = world
        .idp
        .introspect(
            &world.http,
            CONFIDENTIAL,
            upstream
                .refresh_token
                .as_ref()
                .expect("IdP refresh token")
                .expose(),
        )
        .await;
    assert_eq!(seen["active"], false, "{seen}");

    // Another client's code: refused, and spent.
    let (code, verifier) = put_code(&world, &client_id, no_tokens).await;
    redeem(&world, Auth::Public(&other_client), &code, &verifier)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "other client's code",
        );
    redeem(&world, client, &code, &verifier).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "spent by the other client",
    );
}

#[tokio::test]
async fn within_the_reuse_grace_one_token_gives_one_answer_and_after_it_reuse_revokes() {
    let grace = Duration::from_millis(1500);
    let world = ProxyWorld::start_with(|config| config.refresh_reuse_grace = grace).await;
    let (client_id, _, refresh1) = signed_in(&world, "bob").await;
    let client = Auth::Public(&client_id);
    let verifier = world.server.verifier();

    // Five processes of one client refresh with the same token at the same moment.
    let answers =
        futures::future::join_all((0..5).map(|_| refresh_with(&world, client, &refresh1))).await;
    let first = answers[0].tokens();
    for answer in &answers {
        assert_eq!(
            answer.tokens(),
            first,
            "one rotation, one answer for every caller"
        );
    }
    let (access2, refresh2) = (first.0.clone(), first.1.clone().expect("a refresh token"));
    assert_ne!(refresh2, refresh1);
    // Presented again a moment later: the same answer, still one chain.
    assert_eq!(
        refresh_with(&world, client, &refresh1).await.tokens(),
        first
    );
    verifier
        .verify(&access2)
        .await
        .expect("the successor works");
    // Another client cannot collect it.
    let stranger = register_client(&world, "Stranger", &[REDIRECT_URI]).await;
    refresh_with(&world, Auth::Public(&stranger), &refresh1)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", "other client");

    // The chain goes on from the successor.
    let (access3, refresh3) = refresh_with(&world, client, &refresh2).await.tokens();
    let refresh3 = refresh3.expect("rotated again");
    verifier.verify(&access3).await.expect("the newest works");

    // Past the window, the first token again is reuse: the whole grant ends.
    tokio::time::sleep(grace + Duration::from_millis(300)).await;
    refresh_with(&world, client, &refresh1).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "reused after the grace",
    );
    let err = verifier.verify(&access3).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    refresh_with(&world, client, &refresh3).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "revoked chain",
    );
}

/// The redb store, except that one rotation is carried out and then reported as a timeout, as
/// a paused Redis does: it runs the rotation it was sent once it resumes, after the request
/// gave up on it.
struct RotatesThenTimesOut {
    inner: Arc<dyn Store>,
    /// Whether the next rotation is reported as a timeout.
    armed: Arc<AtomicBool>,
}

/// Methods passed to the inner store as they are.
macro_rules! delegate {
    ($lt:lifetime; $($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $(fn $name<$lt>(&$lt self, $($arg: $ty),*) -> StoreFuture<$lt, $out> {
            self.inner.$name($($arg),*)
        })*
    };
}

impl Store for RotatesThenTimesOut {
    fn rotate_refresh<'a>(
        &'a self,
        family_id: &'a str,
        presented: &'a TokenHash,
        new: &'a TokenHash,
    ) -> StoreFuture<'a, RotateOutcome> {
        Box::pin(async move {
            let outcome = self.inner.rotate_refresh(family_id, presented, new).await?;
            if self.armed.swap(false, Ordering::SeqCst) {
                let lost = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
                return Err(StoreError::Redis(redis::RedisError::from(lost)));
            }
            Ok(outcome)
        })
    }

    delegate! { 'a;
        put_client(client: &'a ClientRecord, ttl: Option<Duration>) -> ();
        get_client(client_id: &'a str) -> Option<ClientRecord>;
        delete_client(client_id: &'a str) -> bool;
        put_transaction(key: &'a str, transaction: &'a AuthorizationTransaction, ttl: Duration) -> ();
        get_transaction(key: &'a str) -> Option<AuthorizationTransaction>;
        take_transaction(key: &'a str) -> Option<AuthorizationTransaction>;
        put_code(code: &'a TokenHash, record: &'a AuthorizationCode, ttl: Duration) -> ();
        redeem_code(code: &'a TokenHash) -> RedeemOutcome;
        put_consent(consent: &'a ConsentRecord, ttl: Option<Duration>) -> ();
        get_consent(subject: &'a str, client_id: &'a str) -> Option<ConsentRecord>;
        revoke_consent(subject: &'a str, client_id: &'a str) -> bool;
        create_refresh_family(grant: &'a RefreshGrant, first: &'a TokenHash, ttl: Duration) -> bool;
        get_refresh_family(family_id: &'a str) -> Option<RefreshFamily>;
        revoke_refresh_family(family_id: &'a str) -> Option<RefreshFamily>;
        put_upstream_tokens(id: &'a str, tokens: &'a UpstreamTokenSet, ttl: Option<Duration>) -> ();
        get_upstream_tokens(id: &'a str) -> Option<UpstreamTokenSet>;
        delete_upstream_tokens(id: &'a str) -> bool;
        claim(name: &'a str, ttl: Duration) -> bool;
        release(name: &'a str) -> ();
        put_refresh_answer(presented: &'a TokenHash, answer: &'a RefreshAnswer, ttl: Duration) -> ();
        get_refresh_answer(presented: &'a TokenHash) -> Option<RefreshAnswer>;
        list_signing_keys() -> Vec<SigningKeyRecord>;
        put_signing_key(key: &'a SigningKeyRecord) -> ();
        set_signing_key_state(kid: &'a str, state: KeyState) -> bool;
        hit_rate_limit(key: &'a str, window: Duration) -> u64;
        purge_expired() -> u64;
    }
}

/// A refresh whose rotation the store carried out but reported as failed (503 to the client)
/// is answered on the client's retry with that rotation's tokens, not taken for reuse.
#[tokio::test]
async fn a_refresh_rotated_by_a_store_that_timed_out_is_answered_on_the_retry() {
    let armed = Arc::new(AtomicBool::new(false));
    let flag = armed.clone();
    let world = ProxyWorld::start_with_store(
        |config| config.refresh_reuse_grace = Duration::from_secs(30),
        move |inner| Arc::new(RotatesThenTimesOut { inner, armed: flag }),
    )
    .await;
    let (client_id, _, refresh1) = signed_in(&world, "bob").await;
    let client = Auth::Public(&client_id);

    armed.store(true, Ordering::SeqCst);
    refresh_with(&world, client, &refresh1).await.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the store timed out",
    );
    let (access2, refresh2) = refresh_with(&world, client, &refresh1).await.tokens();
    let refresh2 = refresh2.expect("the rotation's refresh token");
    world
        .server
        .verifier()
        .verify(&access2)
        .await
        .expect("the rotation's access token works");
    assert!(
        family_of(&world, &access2)
            .await
            .current_hash
            .matches(&refresh2),
        "the token given is the one the store rotated to"
    );
    let (_, refresh3) = refresh_with(&world, client, &refresh2).await.tokens();
    assert!(refresh3.is_some(), "the chain goes on");
}

/// The answer is kept before its rotation (a store that times out may still rotate, and the
/// client's retry must then get that rotation's tokens); until the rotation happens, a kept
/// answer is no answer: the token presented is rotated afresh, never answered with tokens
/// the grant does not stand for.
#[tokio::test]
async fn an_answer_kept_for_a_rotation_that_did_not_happen_is_not_given() {
    let world =
        ProxyWorld::start_with(|config| config.refresh_reuse_grace = Duration::from_secs(30)).await;
    let (client_id, access1, refresh1) = signed_in(&world, "bob").await;
    let client = Auth::Public(&client_id);
    let family = family_of(&world, &access1).await;
    let family_id = refresh1.split('.').next().expect("<family>.<random>");
    // Kept, as a request does before rotating, by a request that then lost the store.
    let unrotated = RefreshAnswer {
        family_id: family_id.to_owned(),
        access_token: Secret::new(access1.clone()),
        expires_at: now_millis() / 1000 + 300,
        refresh_token: Secret::new(format!("{family_id}.never-installed")),
        scope: family.grant.scope.clone(),
    };
    world
        .server
        .store()
        .put_refresh_answer(
            &TokenHash::of(&refresh1),
            &unrotated,
            Duration::from_secs(30),
        )
        .await
        .expect("keep an answer");

    let (access2, refresh2) = refresh_with(&world, client, &refresh1).await.tokens();
    let refresh2 = refresh2.expect("rotated");
    assert_ne!(
        refresh2,
        unrotated.refresh_token.expose(),
        "not the unrotated answer"
    );
    assert_ne!(access2, access1);
    assert!(
        family_of(&world, &access2)
            .await
            .current_hash
            .matches(&refresh2),
        "the token given is the grant's current one"
    );
    // The retry of a request whose answer was lost gets the rotation's answer, not a reuse.
    assert_eq!(
        refresh_with(&world, client, &refresh1).await.tokens(),
        (access2.clone(), Some(refresh2.clone()))
    );
    let (_, refresh3) = refresh_with(&world, client, &refresh2).await.tokens();
    assert!(refresh3.is_some(), "the chain goes on");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    // Without the reuse grace, so that the first reuse is the one that revokes.
    let world = ProxyWorld::start_with(|config| config.refresh_reuse_grace = Duration::ZERO).await;
    let (client_id, access1, refresh1) = signed_in(&world, "bob").await;
    let client = Auth::Public(&client_id);
    let verifier = world.server.verifier();

    // Reuse detection comes before any other check of the request.
    refresh_with(&world, client, &refresh1).await.tokens();
    let answer = post(
        &world,
        "/token",
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh1),
            ("scope", "splunk:read splunk:admin"),
        ],
    )
    .await;
    // refresh1 was rotated by the first call above: this is a reuse, which revokes.
    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "reused after rotation",
    );
    let err = verifier.verify(&access1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");

    // A fresh grant: down-scoping is allowed, widening is not (and does not spend the token).
    let (client_id, access1, refresh1) = signed_in(&world, "bob").await;
    let client = Auth::Public(&client_id);
    post(
        &world,
        "/token",
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh1),
            ("scope", "splunk:read splunk:admin"),
        ],
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "invalid_scope", "wider scope");
    let answer = post(
        &world,
        "/token",
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh1),
            ("scope", "splunk:read"),
        ],
    )
    .await;
    let (access2, refresh2) = answer.tokens();
    let refresh2 = refresh2.expect("a rotated refresh token");
    assert_ne!(refresh2, refresh1);
    assert_eq!(answer.body["scope"], "splunk:read");
    let claims = jwt_claims(&access2);
    assert_eq!(claims["scope"], "splunk:read");
    assert_eq!(claims["sid"], jwt_claims(&access1)["sid"], "same grant");
    assert_eq!(
        verifier.verify(&access2).await.unwrap().groups(),
        ["admins"]
    );
    // The narrowing was for that token only: the next refresh gets the grant's scope again.
    let (access3, refresh3) = refresh_with(&world, client, &refresh2).await.tokens();
    let refresh3 = refresh3.expect("rotated again");
    assert_eq!(jwt_claims(&access3)["scope"], SCOPE);
    verifier.verify(&access3).await.expect("the newest works");

    // Someone else cannot use it.
    let stranger = register_client(&world, "Stranger", &[REDIRECT_URI]).await;
    refresh_with(&world, Auth::Public(&stranger), &refresh3)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", "other client");
    // Garbage of the right shape, and of another shape: refused, nothing revoked.
    let sid = claims["sid"].as_str().unwrap();
    for garbage in [format!("{sid}.{}", random_token()), "garbage".to_owned()] {
        refresh_with(&world, client, &garbage).await.assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "garbage",
        );
    }
    verifier.verify(&access3).await.expect("still alive");

    // The old token comes back: the family is revoked, the newest token with it.
    let family = family_of(&world, &access3).await;
    let upstream = upstream_of(&world, &family).await.expect("IdP tokens");
    refresh_with(&world, client, &refresh1).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "reuse",
    );
    refresh_with(&world, client, &refresh3).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "newest after reuse",
    );
    let err = verifier.verify(&access3).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    assert!(family_of(&world, &access3).await.revoked);
    // And the IdP's refresh token for the grant is revoked at the IdP.
    assert!(upstream_of(&world, &family).await.is_none());
    let seen = world
        .idp
        .introspect(
            &world.http,
            CONFIDENTIAL,
            upstream.refresh_token.as_ref().unwrap().expose(),
        )
        .await;
    assert_eq!(seen["active"], false, "{seen}");

    // A client that did not register the refresh_token grant gets none, and may not refresh.
    let response = world
        .http
        .post(world.url("/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    let code_only: Value = response.json().await.unwrap();
    let code_only = code_only["client_id"].as_str().unwrap().to_owned();
    let (code, verifier_string) = put_code(&world, &code_only, "none").await;
    let (_, none) = redeem(&world, Auth::Public(&code_only), &code, &verifier_string)
        .await
        .tokens();
    assert_eq!(none, None);
    refresh_with(&world, Auth::Public(&code_only), &refresh3)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "no refresh grant",
        );
}

#[tokio::test]
async fn confidential_clients_authenticate_by_their_method() {
    let world = ProxyWorld::start().await;
    let (basic_id, basic_secret) = register_confidential(&world, "client_secret_basic").await;
    let (post_id, post_secret) = register_confidential(&world, "client_secret_post").await;
    let public_id = register_client(&world, "CLI", &[REDIRECT_URI]).await;

    let upstream_id = idp_tokens(&world, "carol").await;
    let (code, verifier) = put_code(&world, &basic_id, &upstream_id).await;
    let (_, refresh_token) = redeem(
        &world,
        Auth::Basic(&basic_id, &basic_secret),
        &code,
        &verifier,
    )
    .await
    .tokens();
    let refresh_token = refresh_token.unwrap();
    let (code, verifier) = put_code(&world, &post_id, "none").await;
    redeem(&world, Auth::Post(&post_id, &post_secret), &code, &verifier)
        .await
        .tokens();

    // Refusals: (what, how, whether a Basic challenge is expected).
    let unknown = random_token();
    let cases: Vec<(&str, Auth<'_>, bool)> = vec![
        ("wrong Basic secret", Auth::Basic(&basic_id, "wrong"), true),
        (
            "Basic client posting",
            Auth::Post(&basic_id, &basic_secret),
            false,
        ),
        (
            "Basic client with no secret",
            Auth::Public(&basic_id),
            false,
        ),
        ("wrong post secret", Auth::Post(&post_id, "wrong"), false),
        (
            "post client using Basic",
            Auth::Basic(&post_id, &post_secret),
            true,
        ),
        (
            "public client sending a secret",
            Auth::Post(&public_id, "x"),
            false,
        ),
        (
            "public client using Basic",
            Auth::Basic(&public_id, "x"),
            true,
        ),
        ("unknown client", Auth::Public(&unknown), false),
        ("unknown client, Basic", Auth::Basic(&unknown, "x"), true),
    ];
    for (what, auth, challenged) in cases {
        let (code, verifier) = put_code(&world, &basic_id, "none").await;
        let answer = redeem(&world, auth, &code, &verifier).await;
        answer.assert_error(StatusCode::UNAUTHORIZED, "invalid_client", what);
        let challenge = answer.headers.get(header::WWW_AUTHENTICATE);
        assert_eq!(challenge.is_some(), challenged, "{what}: {challenge:?}");
        if let Some(challenge) = challenge {
            assert!(challenge.to_str().unwrap().starts_with("Basic"), "{what}");
        }
    }
    // The refresh grant authenticates the same way.
    refresh_with(&world, Auth::Basic(&basic_id, "wrong"), &refresh_token)
        .await
        .assert_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "refresh, wrong secret",
        );
    refresh_with(
        &world,
        Auth::Basic(&basic_id, &basic_secret),
        &refresh_token,
    )
    .await
    .tokens();

    // No client at all; two methods at once.
    post(
        &world,
        "/token",
        Auth::Public(""),
        &[("grant_type", "refresh_token"), ("refresh_token", "x.y")],
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_client", "no client");
    let answer = world
        .http
        .post(world.url("/token"))
        .basic_auth(&basic_id, Some(&basic_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x.y"),
            ("client_secret", basic_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn revocation_ends_the_grant_here_and_at_the_idp() {
    let world = ProxyWorld::start().await;
    let (client_id, access, refresh_token) = signed_in(&world, "alice").await;
    let client = Auth::Public(&client_id);
    let family = family_of(&world, &access).await;
    let upstream = upstream_of(&world, &family).await.expect("IdP tokens");
    let upstream_refresh = upstream.refresh_token.clone().expect("IdP refresh token");
    let seen = world
        .idp
        .introspect(&world.http, CONFIDENTIAL, upstream_refresh.expose())
        .await;
    assert_eq!(seen["active"], true, "{seen}");

    // Not the owner, unknown tokens, no token: nothing happens.
    let stranger = register_client(&world, "Stranger", &[REDIRECT_URI]).await;
    let answer = post(
        &world,
        "/revoke",
        Auth::Public(&stranger),
        &[("token", &refresh_token)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = post(
        &world,
        "/revoke",
        Auth::Public(&stranger),
        &[("token", &access)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    for unknown in ["no-such-token", "a.b", "a.b.c"] {
        let answer = post(&world, "/revoke", client, &[("token", unknown)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{unknown}");
    }
    world
        .server
        .verifier()
        .verify(&access)
        .await
        .expect("still alive");
    post(&world, "/revoke", client, &[]).await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "no token",
    );
    post(
        &world,
        "/revoke",
        Auth::Public("unknown-client"),
        &[("token", &access)],
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");

    // The owner revokes its refresh token.
    let answer = post(
        &world,
        "/revoke",
        client,
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    let err = world.server.verifier().verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    refresh_with(&world, client, &refresh_token)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_grant", "revoked");
    assert!(upstream_of(&world, &family).await.is_none());
    // The IdP was sent its own tokens, not ours.
    let seen = world
        .idp
        .introspect(&world.http, CONFIDENTIAL, upstream_refresh.expose())
        .await;
    assert_eq!(seen["active"], false, "{seen}");
    // (oidc-provider cannot introspect its JWT access tokens: the refresh token tells.)
    // Revoking again is fine.
    let answer = post(&world, "/revoke", client, &[("token", &refresh_token)]).await;
    assert_eq!(answer.status, StatusCode::OK);

    // An access token revokes its grant too.
    let (client_id, access, refresh_token) = signed_in(&world, "carol").await;
    let answer = post(
        &world,
        "/revoke",
        Auth::Public(&client_id),
        &[("token", &access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(family_of(&world, &access).await.revoked);
    let err = world.server.verifier().verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    refresh_with(&world, Auth::Public(&client_id), &refresh_token)
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "grant revoked by its access token",
        );
}

#[tokio::test]
async fn the_idp_token_is_refreshed_before_it_expires() {
    let world = ProxyWorld::start().await;
    let (client_id, access, refresh_token) = signed_in(&world, "alice").await;
    let verifier = world.server.verifier();
    let family = family_of(&world, &access).await;
    let store = world.server.store();
    let original = upstream_of(&world, &family).await.expect("IdP tokens");

    // Fresh: passed on as it is.
    let context = verifier.verify(&access).await.unwrap();
    assert_eq!(context.token().secret(), original.access_token.expose());

    // Within the margin (30 s by default): refreshed once, however many calls come at once.
    let mut near = original.clone();
    near.expires_at = Some(now_millis() + 5_000);
    store
        .put_upstream_tokens(&family.grant.upstream_id, &near, None)
        .await
        .unwrap();
    let calls = (0..5).map(|_| verifier.verify(&access));
    let contexts = futures::future::join_all(calls).await;
    let first = contexts[0]
        .as_ref()
        .expect("verifies")
        .token()
        .secret()
        .to_owned();
    assert_ne!(first, original.access_token.expose(), "refreshed");
    for context in &contexts {
        assert_eq!(
            context.as_ref().unwrap().token().secret(),
            first,
            "one refresh"
        );
    }
    let stored = upstream_of(&world, &family).await.unwrap();
    assert_eq!(stored.access_token.expose(), first);
    let left = stored.expires_at.unwrap() - now_millis();
    assert!(left > 500_000, "the IdP's new token lives 600 s: {left}");
    let claims = jwt_claims(&first);
    assert_eq!(claims["sub"], "alice");
    assert!(claims["aud"].to_string().contains("splunk"), "{claims}");

    // The refresh grant refreshes it too before handing out our tokens.
    let mut near = stored.clone();
    near.expires_at = Some(now_millis() + 1_000);
    store
        .put_upstream_tokens(&family.grant.upstream_id, &near, None)
        .await
        .unwrap();
    let (access2, refresh2) = refresh_with(&world, Auth::Public(&client_id), &refresh_token)
        .await
        .tokens();
    let refreshed = upstream_of(&world, &family).await.unwrap();
    assert_ne!(refreshed.access_token.expose(), first);
    assert_eq!(
        verifier.verify(&access2).await.unwrap().token().secret(),
        refreshed.access_token.expose()
    );

    // The IdP ends its grant: the next refresh is refused there, so ours ends too.
    let upstream_refresh = refreshed.refresh_token.clone().unwrap();
    world
        .idp
        .revoke(&world.http, CONFIDENTIAL, upstream_refresh.expose())
        .await;
    let mut near = refreshed.clone();
    near.expires_at = Some(now_millis() + 1_000);
    store
        .put_upstream_tokens(&family.grant.upstream_id, &near, None)
        .await
        .unwrap();
    let err = verifier.verify(&access2).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inactive, "{err}");
    assert!(family_of(&world, &access2).await.revoked);
    refresh_with(&world, Auth::Public(&client_id), &refresh2.unwrap())
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "IdP ended the grant",
        );
}

#[tokio::test]
async fn a_huge_margin_refreshes_at_every_refresh_grant() {
    let world = ProxyWorld::start_with(|config| {
        config.upstream_refresh_margin = Duration::from_secs(24 * 3600);
    })
    .await;
    let (client_id, access, refresh_token) = signed_in(&world, "bob").await;
    let family = family_of(&world, &access).await;
    let before = upstream_of(&world, &family).await.unwrap();
    let (_, next) = refresh_with(&world, Auth::Public(&client_id), &refresh_token)
        .await
        .tokens();
    let after = upstream_of(&world, &family).await.unwrap();
    assert_ne!(after.access_token.expose(), before.access_token.expose());
    assert!(next.is_some());
}
