//! `jwt` + `mirror`: the binary provisions a native Splunk user `mcp.<name>` per caller with
//! the admin credential, mints it a token and searches with it. Driven through the real IdP
//! and the rmcp client; every Splunk-side effect is read back from the emulator's request log
//! and its admin REST API.

use std::process::Stdio;
use std::time::Duration;

use e2e_tests::World;
use reqwest::StatusCode;
use serde_json::{Value, json};
use splunk_emulator::RequestLogEntry;

use crate::support::{
    Server, call, command, connect, count_by_index, indexes_in, splunk_env, text, token_for,
    wait_for_audit,
};

const SCOPES: &str = "openid splunk:read splunk:search";
const USERS: &str = "/services/authentication/users";
const TOKENS: &str = "/services/authorization/tokens";

/// The environment of a server in `jwt` + `mirror` mode against the world's emulator, acting
/// as `admin`/`changeme`, with baseline role `mcp_user` (index `main` only) and `extra` on top.
fn mirror_env(world: &World, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = splunk_env(world);
    env.extend([
        ("MCP_AUTH_MODE", "jwt".to_owned()),
        ("IDP_OIDC_CONFIG_URL", world.idp.discovery_url()),
        ("SPLUNK_CREDENTIALS", "mirror".to_owned()),
        ("SPLUNK_USERNAME", "admin".to_owned()),
        ("SPLUNK_PASSWORD", "changeme".to_owned()),
        ("SPLUNK_MIRROR_BASELINE_ROLES", "mcp_user".to_owned()),
    ]);
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push((key, value.clone()));
    }
    env
}

/// A world and a mirror-mode server in front of it.
async fn mirror_server(extra: &[(&'static str, String)]) -> (World, Server) {
    let world = World::start().await;
    let server = Server::start(&mirror_env(&world, extra)).await;
    (world, server)
}

/// The emulator's requests with `method` whose path starts with `path`.
fn requests(world: &World, method: &str, path: &str) -> Vec<RequestLogEntry> {
    world
        .splunk
        .request_log()
        .into_iter()
        .filter(|r| r.method == method && r.path.starts_with(path))
        .collect()
}

/// Values of the repeated form parameter `name`.
fn param_values<'a>(entry: &'a RequestLogEntry, name: &str) -> Vec<&'a str> {
    entry
        .params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `(user creations, role updates, token mints)` in the request log.
fn admin_writes(world: &World) -> (usize, usize, usize) {
    let log = world.splunk.request_log();
    let posts = |pred: &dyn Fn(&str) -> bool| {
        log.iter()
            .filter(|r| r.method == "POST" && pred(&r.path))
            .count()
    };
    (
        posts(&|p| p == USERS),
        posts(&|p| p.starts_with(&format!("{USERS}/"))),
        posts(&|p| p.starts_with(TOKENS)),
    )
}

/// An admin REST call at the emulator as `admin`; panics unless it answers `want`.
async fn admin(
    world: &World,
    method: reqwest::Method,
    path: &str,
    form: &[(&str, &str)],
    want: StatusCode,
) -> Value {
    let url = format!("{}{path}", world.splunk.url());
    let mut request = world
        .http
        .request(method.clone(), &url)
        .basic_auth("admin", Some("changeme"));
    let mut params = form.to_vec();
    params.push(("output_mode", "json"));
    request = if method == reqwest::Method::POST {
        request.form(&params)
    } else {
        request.query(&params)
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, want, "{method} {url}: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// The roles of a Splunk user, sorted.
async fn roles_of(world: &World, user: &str) -> Vec<String> {
    let body = admin(
        world,
        reqwest::Method::GET,
        &format!("{USERS}/{user}"),
        &[],
        StatusCode::OK,
    )
    .await;
    let mut roles: Vec<String> = body["entry"][0]["content"]["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("roles of {user} in {body}"))
        .iter()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    roles.sort();
    roles
}

/// Replaces a user's roles (as the SAML directory would after a group change).
async fn set_roles(world: &World, user: &str, roles: &[&str]) {
    let form: Vec<(&str, &str)> = roles.iter().map(|r| ("roles", *r)).collect();
    admin(
        world,
        reqwest::Method::POST,
        &format!("{USERS}/{user}"),
        &form,
        StatusCode::OK,
    )
    .await;
}

/// `(id, expires at)` of every token of `user`.
async fn tokens_of(world: &World, user: &str) -> Vec<(String, i64)> {
    let body = admin(
        world,
        reqwest::Method::GET,
        TOKENS,
        &[("username", user), ("count", "0")],
        StatusCode::OK,
    )
    .await;
    body["entry"]
        .as_array()
        .unwrap_or_else(|| panic!("token entries in {body}"))
        .iter()
        .map(|e| {
            let id = e["name"].as_str().expect("token id").to_owned();
            let exp = e["content"]["claims"]["exp"].as_i64().unwrap_or_default();
            (id, exp)
        })
        .collect()
}

/// Deletes every token of `user`, so the server's cached token is refused next time.
async fn revoke_tokens(world: &World, user: &str) {
    let tokens = tokens_of(world, user).await;
    assert!(!tokens.is_empty(), "{user} has a token to revoke");
    for (id, _) in tokens {
        admin(
            world,
            reqwest::Method::DELETE,
            &format!("{TOKENS}/{user}"),
            &[("id", &id)],
            StatusCode::OK,
        )
        .await;
    }
}

/// Mints a token for `user` that expired an hour ago.
async fn mint_expired(world: &World, user: &str) -> String {
    let expired = (epoch_now() - 3600).to_string();
    let body = admin(
        world,
        reqwest::Method::POST,
        TOKENS,
        &[
            ("name", user),
            ("audience", "mcp"),
            ("expires_on", &expired),
        ],
        StatusCode::CREATED,
    )
    .await;
    body["entry"][0]["content"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("token id in {body}"))
        .to_owned()
}

/// Seconds since the epoch.
fn epoch_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(now.as_secs()).expect("epoch seconds fit i64")
}

/// The indexes `splunk_search ... | stats count by index` sees, after asserting it succeeded.
async fn search_indexes(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> Vec<String> {
    let result = call(client, "splunk_search", count_by_index()).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    indexes_in(result.structured_content.as_ref().expect("structured"))
}

/// Polls `/readyz` (up to 20 s) until it answers `want`; returns the status and the body.
async fn readyz(world: &World, server: &Server, want: StatusCode) -> (StatusCode, Value) {
    let url = format!("{}/readyz", server.base_url);
    let mut last = (StatusCode::IM_A_TEAPOT, Value::Null);
    for _ in 0..80 {
        if let Ok(response) = world.http.get(&url).send().await {
            let status = response.status();
            last = (status, response.json().await.unwrap_or(Value::Null));
            if status == want {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

/// Runs the binary with `args` and `env` to completion: `(success, stdout, stderr)`.
async fn run(env: &[(&str, String)], args: &[&str]) -> (bool, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command(env).args(args).stdin(Stdio::null()).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("splunk-mcp {args:?} finishes within 60 s"))
    .expect("run splunk-mcp");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_gets_baseline_and_her_saml_roles_and_the_mirror_follows_her_roles() {
    let (world, server) = mirror_server(&[]).await;
    let (status, body) = readyz(&world, &server, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["mirror_admin"], "ok", "{body}");

    let alice = token_for(&world, &server, "alice", SCOPES).await;
    let client = connect(&server.mcp_url, &alice).await;
    world.splunk.clear_request_log();

    // First call: mcp.alice is created with baseline ∪ SAML roles, minted one token.
    assert_eq!(search_indexes(&client).await, ["main", "web"]);
    let creates = requests(&world, "POST", USERS)
        .into_iter()
        .filter(|r| r.path == USERS)
        .collect::<Vec<_>>();
    assert_eq!(creates.len(), 1, "one user creation");
    assert_eq!(param_values(&creates[0], "name"), ["mcp.alice"]);
    assert_eq!(
        param_values(&creates[0], "roles"),
        ["mcp_user", "web_analyst"]
    );
    assert_eq!(creates[0].user.as_deref(), Some("admin"));
    assert_eq!(admin_writes(&world), (1, 0, 1));
    let mint = &requests(&world, "POST", TOKENS)[0];
    assert_eq!(param_values(mint, "name"), ["mcp.alice"]);
    let searches = requests(&world, "POST", "/services/search/jobs");
    assert!(!searches.is_empty());
    for search in &searches {
        assert_eq!(search.user.as_deref(), Some("mcp.alice"), "{search:?}");
        assert_eq!(search.auth_scheme.as_deref(), Some("Bearer"), "{search:?}");
    }
    assert_eq!(
        roles_of(&world, "mcp.alice").await,
        ["mcp_user", "web_analyst"]
    );

    // Second call: the cached token, no admin request at all.
    world.splunk.clear_request_log();
    assert_eq!(search_indexes(&client).await, ["main", "web"]);
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("mcp.alice"), "{}", text(&whoami));
    assert_eq!(
        admin_writes(&world),
        (0, 0, 0),
        "no admin write on later calls"
    );
    let log = world.splunk.request_log();
    assert!(
        log.iter().all(|r| r.user.as_deref() == Some("mcp.alice")),
        "later calls only talk to Splunk as the mirror user: {log:?}"
    );

    // Her SAML roles change; her token is revoked, so the next call meets a 401 and mints
    // again, reconciling the mirror first.
    set_roles(&world, "alice", &["web_analyst", "security_analyst"]).await;
    revoke_tokens(&world, "mcp.alice").await;
    world.splunk.clear_request_log();
    assert_eq!(
        search_indexes(&client).await,
        ["firewall", "main", "security", "web"]
    );
    assert_eq!(admin_writes(&world), (0, 1, 1), "one role update, one mint");
    let update = &requests(&world, "POST", &format!("{USERS}/mcp.alice"))[0];
    assert_eq!(
        param_values(update, "roles"),
        ["mcp_user", "security_analyst", "web_analyst"]
    );
    let refused: Vec<u16> = world
        .splunk
        .request_log()
        .iter()
        .filter(|r| r.auth_scheme.as_deref() == Some("Bearer"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        refused.iter().filter(|s| **s == 401).count(),
        1,
        "one refusal, then the new token: {refused:?}"
    );
    assert_eq!(
        roles_of(&world, "mcp.alice").await,
        ["mcp_user", "security_analyst", "web_analyst"]
    );
    client.cancel().await.expect("close alice's session");

    // Every call is audited with the mirror user it ran as; no token in the log.
    let events = wait_for_audit(&server.log, 4, |e| e["subject"] == "alice").await;
    assert_eq!(events.len(), 4, "{events:?}");
    for event in &events {
        assert_eq!(event["splunk_user"], "mcp.alice", "{event}");
        assert_eq!(event["outcome"], "ok", "{event}");
    }
    let log = server.log_text();
    assert!(
        !log.contains(alice.as_str()),
        "the IdP token leaked into the log"
    );
    let signature = alice.rsplit('.').next().expect("JWT signature");
    assert!(!log.contains(signature), "the IdP token's signature leaked");
    // Splunk tokens are JWTs too: no JSON-object base64 (`eyJ`) appears anywhere.
    assert!(!log.contains("eyJ"), "a JWT leaked into the log:\n{log}");
    assert!(!log.contains("changeme"), "the admin password leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_saml_account_only_the_baseline_and_denied_roles_never_appear() {
    let (world, server) = mirror_server(&[(
        "SPLUNK_MIRROR_DENIED_ROLES",
        "admin,sc_admin,power".to_owned(),
    )])
    .await;
    admin(
        &world,
        reqwest::Method::DELETE,
        &format!("{USERS}/carol"),
        &[],
        StatusCode::OK,
    )
    .await;

    // carol signs in at the IdP but has no Splunk account to mirror: baseline only.
    let carol = token_for(&world, &server, "carol", SCOPES).await;
    let client = connect(&server.mcp_url, &carol).await;
    assert_eq!(search_indexes(&client).await, ["main"]);
    client.cancel().await.expect("close carol's session");
    assert_eq!(roles_of(&world, "mcp.carol").await, ["mcp_user"]);

    // bob's Splunk account is an admin (his IdP group admins maps to admin); admin is denied
    // (it would open every index), so his mirror holds the baseline alone.
    assert_eq!(roles_of(&world, "bob").await, ["admin"]);
    let bob = token_for(&world, &server, "bob", SCOPES).await;
    let client = connect(&server.mcp_url, &bob).await;
    assert_eq!(search_indexes(&client).await, ["main"]);
    client.cancel().await.expect("close bob's session");
    assert_eq!(roles_of(&world, "mcp.bob").await, ["mcp_user"]);
    for create in requests(&world, "POST", USERS) {
        let roles = param_values(&create, "roles");
        assert!(
            !roles
                .iter()
                .any(|r| ["admin", "sc_admin", "power"].contains(r)),
            "a denied role was written: {create:?}"
        );
    }

    let events = wait_for_audit(&server.log, 2, |_| true).await;
    let users: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or_default(),
                e["splunk_user"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(users, [("carol", "mcp.carol"), ("bob", "mcp.bob")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_first_calls_create_and_mint_once() {
    let (world, server) = mirror_server(&[]).await;
    let bob = token_for(&world, &server, "bob", SCOPES).await;
    let client = connect(&server.mcp_url, &bob).await;
    world.splunk.clear_request_log();

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let peer = client.peer().clone();
        calls.spawn(async move {
            peer.call_tool(rmcp::model::CallToolRequestParams::new(
                "splunk_server_info",
            ))
            .await
            .expect("tools/call")
        });
    }
    while let Some(result) = calls.join_next().await {
        let result = result.expect("call task");
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
    }
    assert_eq!(admin_writes(&world), (1, 0, 1), "one create, one mint");
    let infos = requests(&world, "GET", "/services/server/info");
    assert_eq!(infos.len(), 50);
    assert!(
        infos
            .iter()
            .all(|r| r.user.as_deref() == Some("mcp.bob") && r.status == 200),
        "{infos:?}"
    );
    client.cancel().await.expect("close bob's session");

    let events = wait_for_audit(&server.log, 50, |e| e["tool"] == "splunk_server_info").await;
    assert_eq!(events.len(), 50);
    assert!(
        events
            .iter()
            .all(|e| e["splunk_user"] == "mcp.bob" && e["subject"] == "bob"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_username_claim_is_refused_naming_the_claim() {
    let (world, server) =
        mirror_server(&[("SPLUNK_MIRROR_USERNAME_CLAIM", "short_id".to_owned())]).await;
    let alice = token_for(&world, &server, "alice", SCOPES).await;
    world.splunk.clear_request_log();
    let response = world
        .http
        .post(&server.mcp_url)
        .bearer_auth(&alice)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mirror-test", "version": "0"}
            }
        }))
        .send()
        .await
        .expect("POST /mcp");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"], "access_denied", "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains("short_id"), "{body}");
    assert_eq!(admin_writes(&world), (0, 0, 0), "nothing provisioned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_admin_credential_is_a_misconfiguration_and_not_ready() {
    let (world, server) =
        mirror_server(&[("SPLUNK_PASSWORD", "not-the-password".to_owned())]).await;
    let (status, body) = readyz(&world, &server, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let check = body["checks"]["mirror_admin"].as_str().unwrap_or_default();
    assert!(
        check.contains("refuses the mirror admin credential"),
        "{body}"
    );
    assert!(!check.contains("not-the-password"), "{body}");
    assert_eq!(body["checks"]["splunk"], "ok", "{body}");

    let alice = token_for(&world, &server, "alice", SCOPES).await;
    let client = connect(&server.mcp_url, &alice).await;
    let result = call(&client, "splunk_search", count_by_index()).await;
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("misconfigured") && message.contains("contact the operator"),
        "{message}"
    );
    for detail in ["Login failed", "password", "admin", "401"] {
        assert!(!message.contains(detail), "{detail:?} leaked: {message}");
    }
    client.cancel().await.expect("close the session");
    assert!(
        requests(&world, "POST", "/services/search/jobs").is_empty(),
        "no search ran"
    );
    let events = wait_for_audit(&server.log, 1, |e| e["tool"] == "splunk_search").await;
    assert_ne!(events[0]["outcome"], "ok", "{}", events[0]);
    assert!(!server.log_text().contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_cleanup_deletes_expired_mirror_tokens_and_doctor_checks_the_admin() {
    let (world, server) = mirror_server(&[]).await;
    let alice = token_for(&world, &server, "alice", SCOPES).await;
    let client = connect(&server.mcp_url, &alice).await;
    let info = call(&client, "splunk_server_info", json!({})).await;
    assert_eq!(info.is_error, Some(false), "{}", text(&info));
    client.cancel().await.expect("close alice's session");
    let live: Vec<String> = tokens_of(&world, "mcp.alice")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(live.len(), 1);
    let expired = mint_expired(&world, "mcp.alice").await;
    // Not a mirror user: cleanup leaves its tokens alone, expired or not.
    let foreign = mint_expired(&world, "alice").await;

    // The server's environment as an operator's cron job has it (no transport settings).
    let env = mirror_env(&world, &[]);
    let (ok, stdout, stderr) = run(&env, &["mirror", "cleanup"]).await;
    assert!(ok, "mirror cleanup failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 tokens examined, 1 expired deleted, 0 deletions failed"),
        "{stdout}"
    );
    let left: Vec<String> = tokens_of(&world, "mcp.alice")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        left, live,
        "the expired token {expired} is gone, the live one kept"
    );
    let alices: Vec<String> = tokens_of(&world, "alice")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(alices, [foreign]);

    // doctor with the admin credential: the mirror admin check passes.
    let (ok, stdout, stderr) = run(&env, &["doctor"]).await;
    assert!(
        stdout.contains("[ ok ] mirror admin: has edit_user and edit_tokens_all"),
        "{stdout}\n{stderr}"
    );
    assert!(ok, "doctor failed:\n{stdout}\n{stderr}");

    // doctor with a native user holding only `user`: FAIL naming both capabilities.
    admin(
        &world,
        reqwest::Method::POST,
        USERS,
        &[
            ("name", "ops"),
            ("password", "Ops-password-123456"),
            ("roles", "user"),
        ],
        StatusCode::CREATED,
    )
    .await;
    let env = mirror_env(
        &world,
        &[
            ("SPLUNK_USERNAME", "ops".to_owned()),
            ("SPLUNK_PASSWORD", "Ops-password-123456".to_owned()),
        ],
    );
    let (ok, stdout, stderr) = run(&env, &["doctor"]).await;
    assert!(
        !ok,
        "doctor passed with a credential short of rights:\n{stdout}"
    );
    assert!(
        stdout
            .contains("[FAIL] mirror admin: the admin credential lacks edit_user, edit_tokens_all"),
        "{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("Ops-password"), "{stdout}");
}
