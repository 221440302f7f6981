//! The three authentication schemes: session keys, Splunk tokens and external IdP JWTs.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use parking_lot::Mutex;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{self, Cred, World};
use crate::snap;

#[tokio::test]
async fn login_answers_a_session_key_and_rejects_bad_passwords() {
    let world = helpers::start().await;
    let (status, body) = world
        .call(
            Method::POST,
            "/services/auth/login",
            &Cred::None,
            &[("username", "admin"), ("password", "changeme")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    snap!("login_ok", world, body);

    let (status, body) = world
        .call(
            Method::POST,
            "/services/auth/login",
            &Cred::None,
            &[("username", "admin"), ("password", "nope")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    snap!("login_bad_password", world, body);

    // A SAML user has no password here.
    let (status, _) = world
        .call(
            Method::POST,
            "/services/auth/login",
            &Cred::None,
            &[("username", "alice"), ("password", "")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = world
        .call(
            Method::POST,
            "/services/auth/login",
            &Cred::None,
            &[("username", "alice"), ("password", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_splunks_401() {
    let world = helpers::start().await;
    let cases = [
        ("no header", Cred::None),
        ("unknown session key", Cred::Splunk("not-a-key".into())),
        ("garbage bearer", Cred::Bearer("garbage".into())),
        (
            "bearer with session key",
            Cred::Bearer(world.admin_key.clone()),
        ),
    ];
    for (name, cred) in cases {
        let (status, body) = world
            .call(Method::GET, "/services/server/info", &cred, &[])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            body,
            json!({"messages":[{"type":"WARN","text":"call not properly authenticated"}]}),
            "{name}"
        );
    }
    let (_, body) = world
        .call(Method::GET, "/services/server/info", &Cred::None, &[])
        .await;
    snap!("unauthenticated", world, body);

    // Basic authentication, which splunkd also accepts.
    let response = world
        .http
        .get(format!(
            "{}/services/authentication/current-context?output_mode=json",
            world.emu.url()
        ))
        .basic_auth("admin", Some("changeme"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = world
        .http
        .get(format!(
            "{}/services/authentication/current-context?output_mode=json",
            world.emu.url()
        ))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_keys_expire() {
    let world = helpers::start_with(splunk_emulator::EmulatorConfig {
        session_ttl_secs: 1,
        ..helpers::config()
    })
    .await;
    let (status, _) = world
        .get("/services/authentication/current-context", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, _) = world
        .get("/services/authentication/current-context", &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn current_context_describes_the_caller() {
    let world = helpers::start().await;
    let (status, body) = world
        .get("/services/authentication/current-context", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["username"], "admin");
    snap!("current_context_admin", world, body);
}

#[tokio::test]
async fn splunk_tokens_are_minted_listed_used_disabled_and_deleted() {
    let world = helpers::start().await;
    let (status, body) = world
        .post(
            "/services/authorization/tokens",
            &[
                ("name", "admin"),
                ("audience", "mcp"),
                ("expires_on", "+1h"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    snap!("token_created", world, body);
    let id = body["entry"][0]["content"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = body["entry"][0]["content"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 64);

    // The JWT carries Splunk's header and claims.
    let header = jwt::decode_header(&token).unwrap();
    assert_eq!(header.claim("kid"), Some(&json!("splunk.secret")));
    assert_eq!(header.claim("alg"), Some(&json!("HS512")));
    let payload: Value = {
        use base64::Engine;
        let part = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(payload["sub"], "admin");
    assert_eq!(payload["aud"], "mcp");
    assert_eq!(payload["idp"], "Splunk");
    let exp = payload["exp"].as_i64().unwrap();
    let expected = Utc::now().timestamp() + 3600;
    assert!((exp - expected).abs() < 30, "exp {exp} vs {expected}");

    let bearer = Cred::Bearer(token.clone());
    let (status, body) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &bearer,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["username"], "admin");

    let (status, body) = world
        .get("/services/authorization/tokens", &[("username", "admin")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["name"], id.as_str());
    assert_ne!(
        body["entry"][0]["content"]["lastUsed"], 0,
        "use is recorded"
    );
    snap!("token_list", world, body);
    let (_, body) = world
        .get(
            "/services/authorization/tokens",
            &[("username", "nobody-else")],
        )
        .await;
    assert_eq!(body["entry"].as_array().unwrap().len(), 0);

    // Disabled → 401, enabled again → 200.
    let (status, _) = world
        .post(
            "/services/authorization/tokens/admin",
            &[("id", &id), ("status", "disabled")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &bearer,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    world
        .post(
            "/services/authorization/tokens/admin",
            &[("id", &id), ("status", "enabled")],
        )
        .await;
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &bearer,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Deleted → 401; deleting again → 404.
    let (status, _) = world
        .call(
            Method::DELETE,
            "/services/authorization/tokens/admin",
            &world.admin(),
            &[("id", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &bearer,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = world
        .call(
            Method::DELETE,
            "/services/authorization/tokens/admin",
            &world.admin(),
            &[("id", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    snap!("token_delete_missing", world, body);
}

#[tokio::test]
async fn token_lifetimes_are_honoured() {
    let world = helpers::start().await;
    let past = (Utc::now().timestamp() - 60).to_string();
    let (_, expired) = world.mint_token("admin", &[("expires_on", &past)]).await;
    let future = (Utc::now().timestamp() + 3600).to_string();
    let (_, early) = world.mint_token("admin", &[("not_before", &future)]).await;
    let (_, disabled) = world.mint_token("admin", &[("status", "disabled")]).await;
    let (_, fine) = world.mint_token("admin", &[("expires_on", "+5m")]).await;
    for (name, token, expected) in [
        ("expired", expired, StatusCode::UNAUTHORIZED),
        ("not yet valid", early, StatusCode::UNAUTHORIZED),
        ("disabled", disabled, StatusCode::UNAUTHORIZED),
        ("valid", fine.clone(), StatusCode::OK),
        ("tampered", format!("{fine}x"), StatusCode::UNAUTHORIZED),
    ] {
        let (status, _) = world
            .call(
                Method::GET,
                "/services/server/info",
                &Cred::Bearer(token),
                &[],
            )
            .await;
        assert_eq!(status, expected, "{name}");
    }
    let (status, body) = world
        .post(
            "/services/authorization/tokens",
            &[("name", "admin"), ("audience", "x"), ("expires_on", "soon")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = world
        .post("/services/authorization/tokens", &[("name", "admin")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "audience is required");
}

#[tokio::test]
async fn minting_for_someone_else_needs_edit_tokens_all() {
    let world = helpers::start().await;
    let (status, _) = world
        .post(
            "/services/authentication/users",
            &[
                ("name", "dave"),
                ("password", "dave-pass-1"),
                ("roles", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let dave =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "dave", "dave-pass-1").await);
    let (status, body) = world
        .call(
            Method::POST,
            "/services/authorization/tokens",
            &dave,
            &[("name", "admin"), ("audience", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    snap!("token_for_other_forbidden", world, body);
    let (status, _) = world
        .call(
            Method::POST,
            "/services/authorization/tokens",
            &dave,
            &[("name", "dave"), ("audience", "x")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "edit_tokens_own suffices for oneself"
    );
    let (_, body) = world
        .call(Method::GET, "/services/authorization/tokens", &dave, &[])
        .await;
    let owners: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["content"]["claims"]["sub"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec!["dave"], "a user lists only their own tokens");
}

// ----- external OAuth 2.0 IdP -----

/// A tiny IdP: a JWKS endpoint served from the test, and keys to sign with.
pub(crate) struct Idp {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    jwks: Arc<Mutex<Value>>,
    keys: Vec<(String, Jwk)>,
    _server: tokio::task::JoinHandle<()>,
}

impl Idp {
    pub(crate) async fn start() -> Self {
        let jwks = Arc::new(Mutex::new(json!({"keys": []})));
        let shared = jwks.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let shared = shared.clone();
                async move { axum::Json(shared.lock().clone()) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let mut idp = Self {
            issuer: format!("http://{addr}/oauth2/default"),
            jwks_uri: format!("http://{addr}/jwks"),
            jwks,
            keys: Vec::new(),
            _server: server,
        };
        idp.add_key("key-1", true);
        idp
    }

    /// Generates a key; `publish` puts its public half in the JWKS.
    pub(crate) fn add_key(&mut self, kid: &str, publish: bool) {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let mut private = pair.to_jwk_private_key();
        private.set_key_id(kid);
        if publish {
            let mut public = pair.to_jwk_public_key();
            public.set_key_id(kid);
            public.set_algorithm("RS256");
            self.jwks.lock()["keys"]
                .as_array_mut()
                .unwrap()
                .push(Value::Object(public.as_ref().clone()));
        }
        self.keys.push((kid.to_owned(), private));
    }

    /// Signs claims with the key `kid` (the header names `header_kid`).
    pub(crate) fn sign_with(&self, kid: &str, header_kid: &str, claims: Value) -> String {
        let (_, key) = self.keys.iter().find(|(k, _)| k == kid).unwrap();
        let signer = RS256.signer_from_jwk(key).unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        header.set_key_id(header_kid);
        let Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        jwt::encode_with_signer(&JwtPayload::from_map(map).unwrap(), &header, &signer).unwrap()
    }

    /// Good claims for `sub` in `groups`.
    pub(crate) fn claims(&self, sub: &str, groups: &[&str]) -> Value {
        let now = Utc::now().timestamp();
        json!({"iss": self.issuer, "sub": sub, "aud": ["splunk", "mcp"], "iat": now, "nbf": now, "exp": now + 600,
               "groups": groups, "name": format!("{sub} (IdP)"), "email": format!("{sub}@example.com"), "cid": "mcp-client"})
    }

    pub(crate) fn sign(&self, claims: Value) -> String {
        self.sign_with("key-1", "key-1", claims)
    }
}

/// Configures the IdP as provider `okta` and maps `analysts` → web_analyst.
pub(crate) async fn configure_idp(world: &World, idp: &Idp) {
    let (status, body) = world
        .post(
            "/services/authentication/providers/oauth2",
            &[
                ("name", "okta"),
                ("issuer", &idp.issuer),
                ("jwks_uri", &idp.jwks_uri),
                ("audience", "splunk"),
                ("groupsClaim", "groups"),
                ("clientIdClaim", "cid"),
                ("clientFullNameClaim", "name"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = world
        .post(
            "/services/admin/oauth2-groups",
            &[
                ("name", "analysts"),
                ("config", "okta"),
                ("roles", "web_analyst"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn idp_jwts_are_validated_against_the_configured_provider() {
    let world = helpers::start().await;
    let mut idp = Idp::start().await;
    idp.add_key("rogue", false);

    // Before any provider exists, no IdP is trusted.
    let good = idp.sign(idp.claims("erin", &["analysts"]));
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &Cred::Bearer(good.clone()),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    configure_idp(&world, &idp).await;
    let (status, body) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &Cred::Bearer(good),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let content = &body["entry"][0]["content"];
    assert_eq!(content["username"], "erin");
    assert_eq!(content["roles"], json!(["web_analyst"]));
    assert_eq!(content["realname"], "erin (IdP)");
    snap!("current_context_idp_user", world, body);

    let now = Utc::now().timestamp();
    let with = |patch: Value| {
        let mut claims = idp.claims("erin", &["analysts"]);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let bad = [
        (
            "wrong issuer",
            idp.sign(with(json!({"iss": "https://evil.example/"}))),
        ),
        (
            "wrong audience",
            idp.sign(with(json!({"aud": "other-api"}))),
        ),
        (
            "expired",
            idp.sign(with(
                json!({"exp": now - 600, "iat": now - 1200, "nbf": now - 1200}),
            )),
        ),
        ("not yet valid", idp.sign(with(json!({"nbf": now + 600})))),
        (
            "unknown kid",
            idp.sign_with("rogue", "rogue", with(json!({}))),
        ),
        (
            "bad signature",
            idp.sign_with("rogue", "key-1", with(json!({}))),
        ),
        (
            "no mapped group",
            idp.sign(with(json!({"groups": ["strangers"]}))),
        ),
        ("no exp", idp.sign(with(json!({"exp": null})))),
    ];
    for (name, token) in bad {
        let (status, body) = world
            .call(
                Method::GET,
                "/services/server/info",
                &Cred::Bearer(token),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(
            body["messages"][0]["text"], "call not properly authenticated",
            "{name}"
        );
    }

    // A disabled provider is not trusted.
    world
        .post(
            "/services/authentication/providers/oauth2/okta",
            &[("disabled", "1")],
        )
        .await;
    let token = idp.sign(idp.claims("erin", &["analysts"]));
    let (status, _) = world
        .call(
            Method::GET,
            "/services/server/info",
            &Cred::Bearer(token.clone()),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    world
        .post(
            "/services/authentication/providers/oauth2/okta",
            &[("disabled", "0")],
        )
        .await;
    let (status, _) = world
        .call(
            Method::GET,
            "/services/server/info",
            &Cred::Bearer(token),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn jwks_is_refetched_when_the_idp_rotates_keys() {
    let world = helpers::start().await;
    let mut idp = Idp::start().await;
    configure_idp(&world, &idp).await;
    let first = idp.sign(idp.claims("erin", &["analysts"]));
    let (status, _) = world
        .call(
            Method::GET,
            "/services/server/info",
            &Cred::Bearer(first),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "JWKS fetched and cached");
    idp.add_key("key-2", true);
    let rotated = idp.sign_with("key-2", "key-2", idp.claims("erin", &["analysts"]));
    let (status, _) = world
        .call(
            Method::GET,
            "/services/server/info",
            &Cred::Bearer(rotated),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "unknown kid triggers a refetch");
}

#[tokio::test]
async fn username_claim_defaults_to_sub_then_preferred_username() {
    let world = helpers::start().await;
    let idp = Idp::start().await;
    configure_idp(&world, &idp).await;
    world
        .post(
            "/services/authentication/providers/oauth2/okta",
            &[("usernameClaim", "upn")],
        )
        .await;
    let mut claims = idp.claims("00u1abcd", &["analysts"]);
    claims["preferred_username"] = json!("erin.example");
    let (status, body) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &Cred::Bearer(idp.sign(claims.clone())),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["entry"][0]["content"]["username"], "erin.example",
        "configured claim absent → preferred_username"
    );
    claims["upn"] = json!("erin@corp");
    let (_, body) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &Cred::Bearer(idp.sign(claims)),
            &[],
        )
        .await;
    assert_eq!(body["entry"][0]["content"]["username"], "erin@corp");
}

#[tokio::test]
async fn group_mapping_changes_what_an_idp_user_sees() {
    let world = helpers::start().await;
    let idp = Idp::start().await;
    configure_idp(&world, &idp).await;
    let frank = Cred::Bearer(idp.sign(idp.claims("frank", &["analysts", "secops"])));

    let index_names = |body: &Value| -> Vec<String> {
        body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, body) = world
        .call(Method::GET, "/services/data/indexes", &frank, &[])
        .await;
    assert_eq!(index_names(&body), vec!["main", "web"]);
    let before = world
        .search_rows(&frank, "search index=security | stats count")
        .await;
    assert_eq!(
        before[0]["count"], "0",
        "security is invisible to web_analyst: {before:?}"
    );

    let (status, body) = world
        .post(
            "/services/admin/oauth2-groups",
            &[
                ("name", "secops"),
                ("config", "okta"),
                ("roles", "security_analyst"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, body) = world
        .call(Method::GET, "/services/data/indexes", &frank, &[])
        .await;
    assert_eq!(
        index_names(&body),
        vec!["firewall", "main", "security", "web"]
    );
    let after = world
        .search_rows(&frank, "search index=security | stats count")
        .await;
    let count: u64 = after[0]["count"].as_str().unwrap().parse().unwrap();
    assert!(
        count > 0,
        "security visible after mapping secops → security_analyst"
    );
}

/// The test world's mapping (`e2e_tests::GROUP_ROLES`) gives each seeded IdP user the roles of
/// their Splunk record: the users endpoint and the `current-context` of their IdP token agree.
#[tokio::test]
async fn seeded_users_hold_the_roles_their_idp_groups_map_to() {
    let world = helpers::start().await;
    let idp = Idp::start().await;
    configure_idp(&world, &idp).await;
    let (status, body) = world
        .post(
            "/services/admin/oauth2-groups",
            &[("name", "admins"), ("config", "okta"), ("roles", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, users) = world.get("/services/authentication/users", &[]).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    for (user, group, roles) in [
        ("alice", "analysts", "web_analyst"),
        ("bob", "admins", "admin"),
    ] {
        let record = users["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == user)
            .unwrap_or_else(|| panic!("{user} is listed: {users}"));
        let record = &record["content"];
        let token = Cred::Bearer(idp.sign(idp.claims(user, &[group])));
        let (status, body) = world
            .call(
                Method::GET,
                "/services/authentication/current-context",
                &token,
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{user}: {body}");
        let context = &body["entry"][0]["content"];
        assert_eq!(context["username"], user);
        assert_eq!(context["roles"], json!([roles]), "{user}'s token");
        assert_eq!(record["roles"], context["roles"], "{user}'s record");
        assert_eq!(record["capabilities"], context["capabilities"], "{user}");
    }
}

#[tokio::test]
async fn oauth2_provider_and_group_endpoints() {
    let world = helpers::start().await;
    let idp = Idp::start().await;
    configure_idp(&world, &idp).await;
    let (status, body) = world
        .get("/services/authentication/providers/oauth2", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = helpers::replace(
        &body,
        &idp.jwks_uri.replace("/jwks", ""),
        "http://idp.example",
    );
    snap!("oauth2_providers", world, body);
    let (status, body) = world
        .get("/services/authentication/providers/oauth2/okta", &[])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["issuer"], idp.issuer.as_str());
    let (status, body) = world.get("/services/admin/oauth2-groups", &[]).await;
    assert_eq!(status, StatusCode::OK);
    snap!("oauth2_groups", world, body);

    let (status, _) = world
        .post(
            "/services/authentication/providers/oauth2",
            &[("name", "okta"), ("issuer", "x"), ("jwks_uri", "http://x")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = world
        .post(
            "/services/authentication/providers/oauth2",
            &[("name", "other")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "issuer is required");
    let (status, body) = world
        .post(
            "/services/admin/oauth2-groups/analysts",
            &[("roles", "no_such_role")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    snap!("oauth2_group_bad_role", world, body);
    let (status, _) = world
        .call(
            Method::DELETE,
            "/services/admin/oauth2-groups/analysts",
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .get("/services/admin/oauth2-groups/analysts", &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = world
        .call(
            Method::DELETE,
            "/services/authentication/providers/oauth2/okta",
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Without list_oauth_configs: 403.
    world
        .post(
            "/services/authentication/users",
            &[
                ("name", "gina"),
                ("password", "gina-pass-1"),
                ("roles", "user"),
            ],
        )
        .await;
    let gina =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "gina", "gina-pass-1").await);
    let (status, body) = world
        .call(
            Method::GET,
            "/services/authentication/providers/oauth2",
            &gina,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    snap!("oauth2_providers_forbidden", world, body);
}
