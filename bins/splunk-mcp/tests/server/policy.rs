//! One authorization policy (issue 14), end to end: who may hold a scope
//! (`MCP_AUTH_SCOPE_GROUPS`) in `jwt` mode and in `proxy` mode with service and passthrough
//! credentials, a group removed at the IdP lost at the next refresh, what a tool needs from
//! `[auth.tools.*]` and `[auth.tags.*]`, the three 403s of the `/mcp` pre-check (step-up, a scope
//! the caller's groups may not hold, a missing group), `tools/list` showing exactly the tools
//! that may be called, and the policy as `config check` and `doctor --token` print it.
//!
//! The users are the IdP's: alice (`analysts`), bob (`admins`), carol (no group).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use e2e_tests::{Browser, MCP_RESOURCE, SignIn, World, jwt_claims, query_param};
use mcp_tools::registry::TOOL_SPECS;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::proxy_steps::{
    Authorization, CLIENT_REDIRECT, TokenAnswer, approve, consent_page, redeem, refresh,
    register_with_scope,
};
use crate::support::{
    call, challenge_of, connect, initialize_request, log_path, passthrough_env, passthrough_server,
    post_mcp, proxy_store_path, run_to_end, service_account, start_proxy_server, step_up_scopes,
    text, token_for,
};

/// The scope rules of these tests, in the format other tooling writes (`;` between rules, `,`
/// between groups): only admins may hold `splunk:admin`, analysts and admins `splunk:search`.
const SCOPE_GROUPS: &str = "splunk:admin=admins;splunk:search=analysts,admins";

/// Every scope the server offers, as an MCP client asking the proxy for everything sends it.
const EVERY_SCOPE: &str = "splunk:read splunk:search splunk:admin";

/// Every scope, asked of the IdP for a `jwt`-mode token.
const EVERY_IDP_SCOPE: &str = "openid splunk:read splunk:search splunk:admin";

/// Read and search, asked of the IdP.
const READ_SEARCH: &str = "openid splunk:read splunk:search";

/// The tools that need `splunk:admin`.
const ADMIN_TOOLS: [&str; 2] = ["splunk_list_users", "splunk_list_roles"];

/// What Splunk is asked when users are listed.
const USERS_PATH: &str = "/authentication/users";

/// Why an analyst (or anyone outside `admins`) may not call an admin tool.
fn admins_only(tool: &str) -> String {
    format!("calling {tool} needs the scope splunk:admin, which only members of admins may hold")
}

/// Whether `tool` is among `names`.
fn has(names: &[String], tool: &str) -> bool {
    names.iter().any(|name| name == tool)
}

/// The built-in tools with `tag`.
fn tagged(tag: &str) -> Vec<&'static str> {
    TOOL_SPECS
        .iter()
        .filter(|spec| spec.tags.contains(&tag))
        .map(|spec| spec.name)
        .collect()
}

/// A TOML file holding `text` under the test target's temp directory; its path as a string.
fn toml_file(what: &str, text: &str) -> String {
    let path: PathBuf = log_path(what).with_extension("toml");
    std::fs::write(&path, text).expect("write the TOML file");
    path.to_str().expect("UTF-8 path").to_owned()
}

/// A `tools/call` answer as an HTTP client sees it.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// The `WWW-Authenticate` challenge, if any.
    pub(crate) challenge: Option<String>,
    /// The body when it is JSON (a refusal), else `Null` (the result's event stream).
    pub(crate) body: Value,
}

impl Answer {
    /// The step-up 403: an `insufficient_scope` challenge asking for `missing`, and a body
    /// naming it, unchanged from before the policy.
    pub(crate) fn assert_step_up(&self, tool: &str, missing: &str) {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{tool}: {}", self.body);
        let challenge = self
            .challenge
            .as_deref()
            .unwrap_or_else(|| panic!("{tool}: a step-up challenge with the 403"));
        assert!(step_up_scopes(challenge).contains(&missing), "{challenge}");
        assert_eq!(self.body["error"], "insufficient_scope", "{}", self.body);
        assert_eq!(
            self.body["error_description"],
            format!("calling {tool} needs the scope(s): {missing}"),
            "{}",
            self.body
        );
        assert_eq!(self.body["tool"], tool, "{}", self.body);
        assert_eq!(
            self.body["missing_scopes"],
            json!([missing]),
            "{}",
            self.body
        );
    }

    /// A 403 `access_denied` without a step-up challenge (no scope the client could ask for
    /// would help); returns its description.
    pub(crate) fn access_denied(&self, tool: &str) -> String {
        assert_eq!(self.status, StatusCode::FORBIDDEN, "{tool}: {}", self.body);
        assert!(
            self.challenge
                .as_deref()
                .is_none_or(|c| !c.contains("insufficient_scope")),
            "{tool}: a step-up challenge where none can help: {:?}",
            self.challenge
        );
        assert_eq!(self.body["error"], "access_denied", "{tool}: {}", self.body);
        self.body["error_description"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool}: no error_description in {}", self.body))
            .to_owned()
    }
}

/// An MCP session opened over plain HTTP as any client opens one, to read the pre-check's
/// answers (status, challenge, JSON body), which the rmcp client turns into transport errors.
pub(crate) struct RawSession<'a> {
    http: &'a reqwest::Client,
    mcp_url: &'a str,
    token: &'a str,
    id: Option<String>,
    next_request: AtomicU64,
}

impl<'a> RawSession<'a> {
    /// `initialize`, then `notifications/initialized`.
    pub(crate) async fn open(http: &'a reqwest::Client, mcp_url: &'a str, token: &'a str) -> Self {
        let response = post_mcp(http, mcp_url, Some(token), None, &initialize_request()).await;
        assert_eq!(response.status(), StatusCode::OK, "initialize");
        let id = response
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().expect("ASCII session id").to_owned());
        let _ = response.text().await;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = post_mcp(http, mcp_url, Some(token), id.as_deref(), &initialized).await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "notifications/initialized"
        );
        Self {
            http,
            mcp_url,
            token,
            id,
            next_request: AtomicU64::new(2),
        }
    }

    /// `tools/call` of `tool` without arguments: the pre-check refuses before arguments
    /// matter, and a tool it lets through answers 200 (with a result or an argument error).
    pub(crate) async fn call(&self, tool: &str) -> Answer {
        let request = json!({
            "jsonrpc": "2.0",
            "id": self.next_request.fetch_add(1, Ordering::Relaxed),
            "method": "tools/call",
            "params": {"name": tool, "arguments": {}}
        });
        let response = post_mcp(
            self.http,
            self.mcp_url,
            Some(self.token),
            self.id.as_deref(),
            &request,
        )
        .await;
        let status = response.status();
        let challenge = response
            .headers()
            .contains_key(reqwest::header::WWW_AUTHENTICATE)
            .then(|| challenge_of(&response));
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            challenge,
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        }
    }
}

/// The tool names `tools/list` gives the bearer of `token` (the rmcp client, every page).
pub(crate) async fn listed_tools(mcp_url: &str, token: &str) -> Vec<String> {
    let client = connect(mcp_url, token).await;
    let names = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    client.cancel().await.expect("close the session");
    names
}

/// Asserts that `tools/list` shows `who` exactly the tools they may call: each built-in tool is
/// listed if and only if its `tools/call` is not refused with 403. Returns the listed names.
async fn assert_list_matches_calls(
    http: &reqwest::Client,
    mcp_url: &str,
    token: &str,
    who: &str,
) -> Vec<String> {
    let listed = listed_tools(mcp_url, token).await;
    let session = RawSession::open(http, mcp_url, token).await;
    for spec in TOOL_SPECS {
        let answer = session.call(spec.name).await;
        let is_listed = has(&listed, spec.name);
        assert_ne!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{who}: {}",
            spec.name
        );
        assert_eq!(
            answer.status == StatusCode::FORBIDDEN,
            !is_listed,
            "{who}: {} is {} but tools/call answered {} {}",
            spec.name,
            if is_listed { "listed" } else { "not listed" },
            answer.status,
            answer.body
        );
    }
    listed
}

/// `token` is an analyst's: splunk_list_users is refused as admins-only (no step-up), and
/// `tools/list` matches the calls allowed, with search but no admin tool.
async fn assert_analyst_only(http: &reqwest::Client, mcp: &str, token: &str, who: &str) {
    let refused = RawSession::open(http, mcp, token)
        .await
        .call("splunk_list_users")
        .await;
    assert_eq!(
        refused.access_denied("splunk_list_users"),
        admins_only("splunk_list_users"),
        "{who}"
    );
    let listed = assert_list_matches_calls(http, mcp, token, who).await;
    for tool in ADMIN_TOOLS {
        assert!(!has(&listed, tool), "{who}: {tool} listed: {listed:?}");
    }
    assert!(has(&listed, "splunk_search"), "{who}: {listed:?}");
}

/// `user` signs in at the proxy `base` through `client_id` asking for `scope`, in a fresh
/// browser (so the consent page is shown, and approved); returns the request and where the
/// browser landed at the client's redirect URI.
async fn proxy_sign_in(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    user: &str,
    scope: &str,
) -> (Authorization, Url) {
    let authorization = Authorization::new(base, client_id, user).with_scope(scope);
    let mut browser = Browser::new(http);
    let form = consent_page(&mut browser, &authorization).await;
    let landing = approve(&mut browser, &form, CLIENT_REDIRECT).await;
    (authorization, landing)
}

/// [`proxy_sign_in`], then the code redeemed: the `/token` answer.
pub(crate) async fn proxy_tokens(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    user: &str,
    scope: &str,
) -> TokenAnswer {
    let (authorization, landing) = proxy_sign_in(http, base, client_id, user, scope).await;
    let code = authorization.code_from(&landing);
    redeem(http, base, client_id, &authorization, &code).await
}

/// The scopes a successful token response says it granted (RFC 6749 §5.1), sorted.
fn granted(answer: &TokenAnswer) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.error());
    let mut scopes: Vec<String> = answer.body["scope"]
        .as_str()
        .unwrap_or_else(|| panic!("no scope in the token response"))
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_mode_only_members_of_a_scopes_groups_hold_it_whatever_the_token_claims() {
    let (world, server) =
        passthrough_server(&[("MCP_AUTH_SCOPE_GROUPS", SCOPE_GROUPS.to_owned())]).await;
    let http = &world.http;
    let mcp = server.mcp_url.as_str();

    // The IdP has no scope policy: alice's token does claim splunk:admin.
    let alice = token_for(&world, &server, "alice", EVERY_IDP_SCOPE).await;
    let claimed = jwt_claims(&alice)["scope"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        claimed.split(' ').any(|s| s == "splunk:admin"),
        "the IdP granted {claimed}"
    );
    let session = RawSession::open(http, mcp, &alice).await;
    for tool in ADMIN_TOOLS {
        let refused = session.call(tool).await;
        assert_eq!(refused.access_denied(tool), admins_only(tool));
        assert_eq!(refused.body["tool"], tool, "{}", refused.body);
    }
    let listed = assert_list_matches_calls(http, mcp, &alice, "alice").await;
    for tool in ADMIN_TOOLS {
        assert!(!has(&listed, tool), "{tool} listed for alice: {listed:?}");
    }
    for tool in ["splunk_search", "splunk_list_indexes", "splunk_whoami"] {
        assert!(
            has(&listed, tool),
            "{tool} not listed for alice: {listed:?}"
        );
    }
    assert!(
        world
            .splunk
            .request_log()
            .iter()
            .all(|r| !r.path.contains(USERS_PATH)),
        "Splunk was asked for its users on alice's behalf"
    );

    // carol, in no group, holds neither admin nor search, whatever her token claims.
    let carol = token_for(&world, &server, "carol", EVERY_IDP_SCOPE).await;
    let refused = RawSession::open(http, mcp, &carol)
        .await
        .call("splunk_search")
        .await;
    let why = refused.access_denied("splunk_search");
    assert!(
        why.starts_with(
            "calling splunk_search needs the scope splunk:search, which only members of "
        ) && why.contains("analysts")
            && why.contains("admins"),
        "{why}"
    );
    let listed = assert_list_matches_calls(http, mcp, &carol, "carol").await;
    for tool in tagged("search").into_iter().chain(ADMIN_TOOLS) {
        assert!(!has(&listed, tool), "{tool} listed for carol: {listed:?}");
    }
    assert!(has(&listed, "splunk_list_indexes"), "{listed:?}");

    // bob, an admin, with the same scopes: everything, and Splunk lists its users for him.
    let bob = token_for(&world, &server, "bob", EVERY_IDP_SCOPE).await;
    let listed = assert_list_matches_calls(http, mcp, &bob, "bob").await;
    assert_eq!(
        listed.len(),
        TOOL_SPECS.len(),
        "bob may call every tool: {listed:?}"
    );
    let client = connect(mcp, &bob).await;
    let users = call(&client, "splunk_list_users", json!({})).await;
    assert_eq!(users.is_error, Some(false), "{}", text(&users));
    client.cancel().await.expect("close the session");
    assert!(
        world
            .splunk
            .request_log()
            .iter()
            .any(|r| r.path.contains(USERS_PATH) && r.user.as_deref() == Some("bob")),
        "Splunk listed its users for bob"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_grants_only_the_scopes_the_signed_in_user_may_hold() {
    let world = World::start().await;
    let http = &world.http;
    let service = service_account();
    // Credentials, their variables, and who Splunk sees listing users for bob. With the
    // service account, granting alice splunk:admin would let her list users as Splunk's admin.
    type Env<'a> = &'a [(&'static str, String)];
    let cases: [(&str, Env<'_>, &str); 2] =
        [("service", &service, "admin"), ("passthrough", &[], "bob")];
    for (credentials, extra, splunk_user) in cases {
        let mut env = vec![("MCP_AUTH_SCOPE_GROUPS", SCOPE_GROUPS.to_owned())];
        env.extend(extra.iter().cloned());
        let store = proxy_store_path(&format!("policy-proxy-{credentials}"));
        let server = start_proxy_server(&world, store.to_str().expect("UTF-8 path"), &env).await;
        let base = server.base_url.as_str();
        let mcp = server.mcp_url.as_str();
        let client_id = register_with_scope(http, base, EVERY_SCOPE).await;
        world.splunk.clear_request_log();

        // alice asks for everything and is granted what an analyst may hold.
        let answer = proxy_tokens(http, base, &client_id, "alice", EVERY_SCOPE).await;
        assert_eq!(
            granted(&answer),
            ["splunk:read", "splunk:search"],
            "{credentials}: alice's grant"
        );
        let (alice, _) = answer.tokens();
        assert_analyst_only(http, mcp, &alice, &format!("alice ({credentials})")).await;
        assert!(
            world
                .splunk
                .request_log()
                .iter()
                .all(|r| !r.path.contains(USERS_PATH)),
            "alice ({credentials}): Splunk was asked for its users"
        );

        // bob asks for the same and is granted admin too.
        let answer = proxy_tokens(http, base, &client_id, "bob", EVERY_SCOPE).await;
        assert_eq!(
            granted(&answer),
            ["splunk:admin", "splunk:read", "splunk:search"],
            "{credentials}: bob's grant"
        );
        let (bob, _) = answer.tokens();
        let client = connect(mcp, &bob).await;
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(
            tools.iter().any(|t| t.name == "splunk_list_users"),
            "{credentials}: bob sees splunk_list_users"
        );
        let users = call(&client, "splunk_list_users", json!({})).await;
        assert_eq!(
            users.is_error,
            Some(false),
            "{credentials}: {}",
            text(&users)
        );
        client.cancel().await.expect("close the session");
        let askers: Vec<Option<String>> = world
            .splunk
            .request_log()
            .into_iter()
            .filter(|r| r.path.contains(USERS_PATH))
            .map(|r| r.user)
            .collect();
        assert!(
            !askers.is_empty() && askers.iter().all(|u| u.as_deref() == Some(splunk_user)),
            "{credentials}: users listed as {splunk_user}: {askers:?}"
        );

        // alice asking only for what she may not hold: invalid_scope at her redirect URI,
        // after the IdP said who she is.
        let (authorization, landing) =
            proxy_sign_in(http, base, &client_id, "alice", "splunk:admin").await;
        assert!(
            landing.as_str().starts_with(CLIENT_REDIRECT),
            "{credentials}: landed at {}",
            landing.origin().ascii_serialization()
        );
        assert_eq!(
            query_param(&landing, "state").as_deref(),
            Some(authorization.state.as_str()),
            "state echoed"
        );
        assert!(
            query_param(&landing, "code").is_none(),
            "{credentials}: a code for a scope alice may not hold"
        );
        assert_eq!(
            query_param(&landing, "error").as_deref(),
            Some("invalid_scope"),
            "{credentials}: {:?}",
            query_param(&landing, "error_description")
        );
        let description = query_param(&landing, "error_description").unwrap_or_default();
        assert!(
            description.contains("splunk:admin") && description.contains("admins"),
            "{credentials}: the description names the scope and who may hold it: {description}"
        );

        server.stop().await;
        let _ = std::fs::remove_file(&store);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_a_group_removed_at_the_idp_is_lost_at_the_next_refresh() {
    let world = World::start().await;
    let http = &world.http;
    let store = proxy_store_path("policy-refresh");
    let server = start_proxy_server(
        &world,
        store.to_str().expect("UTF-8 path"),
        &[("MCP_AUTH_SCOPE_GROUPS", SCOPE_GROUPS.to_owned())],
    )
    .await;
    let base = server.base_url.as_str();
    let mcp = server.mcp_url.as_str();
    let client_id = register_with_scope(http, base, EVERY_SCOPE).await;

    let answer = proxy_tokens(http, base, &client_id, "bob", EVERY_SCOPE).await;
    assert_eq!(
        granted(&answer),
        ["splunk:admin", "splunk:read", "splunk:search"],
        "bob's grant as an admin"
    );
    let (access, refresh_token) = answer.tokens();
    let listed = listed_tools(mcp, &access).await;
    assert!(has(&listed, "splunk_list_users"), "{listed:?}");

    // bob leaves admins (he stays an analyst) at the IdP; his next refresh knows it.
    world.idp.set_groups(http, "bob", &["analysts"]).await;
    let answer = refresh(http, base, &client_id, &refresh_token).await;
    assert_eq!(
        granted(&answer),
        ["splunk:read", "splunk:search"],
        "bob's grant after leaving admins"
    );
    let (access, _) = answer.tokens();
    assert_analyst_only(http, mcp, &access, "bob after the refresh").await;

    server.stop().await;
    let _ = std::fs::remove_file(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_and_tool_rules_from_the_file_refuse_and_allow_as_configured() {
    let rules = toml_file(
        "policy-rules",
        r#"
[auth.tags.catalog]
groups = ["analysts"]

[auth.tools.splunk_search]
scopes = ["splunk:search", "splunk:power"]

[auth.tools.splunk_whoami]
groups = ["analysts", "admins"]
"#,
    );
    let (world, server) = passthrough_server(&[("MCP_CONFIG_FILE", rules)]).await;
    let http = &world.http;
    let mcp = server.mcp_url.as_str();
    world.splunk.clear_request_log();

    // carol is in no group: the catalog (tag rule) and whoami (tool rule) are refused, naming
    // the groups; what no group rule covers is hers.
    let carol = token_for(&world, &server, "carol", READ_SEARCH).await;
    let session = RawSession::open(http, mcp, &carol).await;
    let refused = session.call("splunk_list_indexes").await;
    assert_eq!(
        refused.access_denied("splunk_list_indexes"),
        "calling splunk_list_indexes needs membership of one of: analysts"
    );
    let refused = session.call("splunk_whoami").await;
    let why = refused.access_denied("splunk_whoami");
    assert!(
        why.starts_with("calling splunk_whoami needs membership of one of: ")
            && why.contains("analysts")
            && why.contains("admins"),
        "{why}"
    );
    let listed = assert_list_matches_calls(http, mcp, &carol, "carol").await;
    for tool in tagged("catalog")
        .into_iter()
        .chain(["splunk_whoami", "splunk_search"])
    {
        assert!(!has(&listed, tool), "{tool} listed for carol: {listed:?}");
    }
    for tool in ["splunk_server_info", "splunk_search_start"] {
        assert!(
            has(&listed, tool),
            "{tool} not listed for carol: {listed:?}"
        );
    }
    assert!(
        world
            .splunk
            .request_log()
            .iter()
            .all(|r| !r.path.contains("/data/indexes")),
        "Splunk was asked for indexes on carol's behalf"
    );

    // alice, an analyst, uses the catalog and whoami; splunk_search now also needs
    // splunk:power, which no rule keeps from her: a step-up.
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(mcp, &alice).await;
    let indexes = call(&client, "splunk_list_indexes", json!({})).await;
    assert_eq!(indexes.is_error, Some(false), "{}", text(&indexes));
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close the session");
    RawSession::open(http, mcp, &alice)
        .await
        .call("splunk_search")
        .await
        .assert_step_up("splunk_search", "splunk:power");
    assert!(
        world
            .splunk
            .request_log()
            .iter()
            .all(|r| !r.path.contains("search/jobs")),
        "Splunk was asked to search"
    );
    let listed = assert_list_matches_calls(http, mcp, &alice, "alice").await;
    assert!(!has(&listed, "splunk_search"), "{listed:?}");
    for tool in tagged("catalog")
        .into_iter()
        .chain(["splunk_whoami", "splunk_search_start"])
    {
        assert!(
            has(&listed, tool),
            "{tool} not listed for alice: {listed:?}"
        );
    }
}

/// `jwt` mode over HTTP with passthrough, in front of an IdP that `config check` never
/// contacts.
fn check_env() -> Vec<(&'static str, String)> {
    vec![
        ("MCP_TRANSPORT", "http".to_owned()),
        ("MCP_AUTH_MODE", "jwt".to_owned()),
        (
            "IDP_OIDC_CONFIG_URL",
            "https://idp.example.com/.well-known/openid-configuration".to_owned(),
        ),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
        ("SPLUNK_HOST", "splunk.example.com".to_owned()),
    ]
}

/// The policy table's line for `tool`: the last line starting with its name (after `#` or
/// spaces), as the table follows the effective configuration.
fn table_line<'a>(out: &'a str, tool: &str) -> &'a str {
    out.lines()
        .rev()
        .find(|line| {
            line.trim_start_matches(|c: char| c == '#' || c.is_whitespace())
                .strip_prefix(tool)
                .is_some_and(|rest| !rest.starts_with(|c: char| c == '_' || c.is_alphanumeric()))
        })
        .unwrap_or_else(|| panic!("no policy line for {tool} in:\n{out}"))
}

#[tokio::test]
async fn config_check_prints_the_tool_policy_and_refuses_bad_rules() {
    let rules = toml_file(
        "policy-table",
        r#"
[auth.scope_groups]
"splunk:admin" = ["admins"]

[auth.tags.catalog]
groups = ["analysts"]

[auth.tags.jobs]
scopes = ["splunk:read"]

[auth.tools.splunk_search]
scopes = ["splunk:search", "splunk:power"]

[auth.tools.splunk_whoami]
groups = ["admins"]
"#,
    );
    let mut env = check_env();
    env.push(("MCP_AUTH_REQUIRED_SCOPES", "mcp:use".to_owned()));
    let (code, out, err) = run_to_end(&env, &["config", "check", "--config", &rules]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    // Tool, what its line shows (each part with its source), what it must not show.
    let rows: [(&str, &[&str], &[&str]); 5] = [
        (
            "splunk_search",
            &[
                "splunk:search (tool)",
                "splunk:power (tool)",
                "mcp:use (required)",
            ],
            &["splunk:search (default)", "(tag"],
        ),
        (
            "splunk_search_start",
            &[
                "splunk:search (default)",
                "splunk:read (tag jobs)",
                "mcp:use (required)",
            ],
            &["(tool)"],
        ),
        (
            "splunk_list_indexes",
            &["splunk:read (default)", "analysts (tag catalog)"],
            &["(tool)"],
        ),
        (
            "splunk_whoami",
            &["admins (tool)", "mcp:use (required)"],
            &["(tag"],
        ),
        (
            "splunk_list_users",
            &["splunk:admin (default)"],
            &["(tool)", "(tag"],
        ),
    ];
    for (tool, shown, absent) in rows {
        let line = table_line(&out, tool);
        for part in shown {
            assert!(line.contains(part), "{tool}: {part:?} in {line:?}");
        }
        for part in absent {
            assert!(!line.contains(part), "{tool}: no {part:?} in {line:?}");
        }
    }
    // The scope rules: who may hold splunk:admin, and that anyone may hold splunk:read.
    assert!(
        out.lines()
            .any(|l| l.contains("splunk:admin") && l.contains("admins") && !l.contains("= [")),
        "a scope rule line for splunk:admin in:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("splunk:read") && l.contains("anyone")),
        "splunk:read may be held by anyone, in:\n{out}"
    );

    // Bad rules: exit 2 naming the setting. (what, MCP_AUTH_SCOPE_GROUPS, TOML, names)
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [&'a str]);
    let cases: [Case<'_>; 5] = [
        (
            "a rule without groups",
            Some("splunk:admin"),
            None,
            &["MCP_AUTH_SCOPE_GROUPS"],
        ),
        (
            "a scope this server does not offer",
            Some("splunk:admn=admins"),
            None,
            &["MCP_AUTH_SCOPE_GROUPS", "splunk:admn"],
        ),
        (
            "a scope this server does not offer, in the file",
            None,
            Some("[auth.scope_groups]\n\"splunk:admn\" = [\"admins\"]\n"),
            &["auth.scope_groups", "splunk:admn"],
        ),
        (
            "an unknown tool",
            None,
            Some("[auth.tools.splunk_serch]\nscopes = [\"splunk:search\"]\n"),
            &["auth.tools.splunk_serch"],
        ),
        (
            "an unknown tag",
            None,
            Some("[auth.tags.nope]\ngroups = [\"admins\"]\n"),
            &["auth.tags.nope"],
        ),
    ];
    for (what, scope_groups, file, names) in cases {
        let mut env = check_env();
        if let Some(value) = scope_groups {
            env.push(("MCP_AUTH_SCOPE_GROUPS", value.to_owned()));
        }
        let path = file.map(|text| toml_file("policy-bad", text));
        let mut args = vec!["config", "check"];
        if let Some(path) = &path {
            args.extend(["--config", path.as_str()]);
        }
        let (code, out, err) = run_to_end(&env, &args).await;
        assert_eq!(code, Some(2), "{what}: {out}{err}");
        for name in names {
            assert!(err.contains(name), "{what}: {name} in {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_which_tools_a_token_may_call_and_why_not_the_others() {
    let world = World::start().await;
    let rules = toml_file(
        "policy-doctor",
        "[auth.tools.splunk_server_info]\ngroups = [\"admins\"]\n",
    );
    let mut env = passthrough_env(&world);
    env.extend([
        (
            "MCP_BASE_URL",
            MCP_RESOURCE.trim_end_matches("/mcp").to_owned(),
        ),
        ("MCP_AUTH_SCOPE_GROUPS", SCOPE_GROUPS.to_owned()),
        ("MCP_CONFIG_FILE", rules),
    ]);
    // alice's token claims read and admin, not search.
    let alice = world
        .idp
        .access_token(
            &world.http,
            &SignIn::new("alice")
                .for_resource(MCP_RESOURCE)
                .with_scope("openid splunk:read splunk:admin"),
        )
        .await;
    let (code, out, err) = run_to_end(&env, &["doctor", "--token", &alice]).await;
    assert!(!out.contains(&alice), "doctor printed the token");
    assert!(
        out.contains("token at this server: accepted"),
        "exit {code:?}:\n{out}{err}"
    );
    for line in [
        "refused splunk_list_users: needs the scope splunk:admin, which only members of admins may hold",
        "refused splunk_search: needs the scope(s) splunk:search, which the token lacks",
        "refused splunk_server_info: needs membership of one of: admins",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    for allowed in ["splunk_list_indexes", "splunk_whoami"] {
        assert!(out.contains(allowed), "{allowed} in:\n{out}");
        assert!(
            !out.contains(&format!("refused {allowed}")),
            "{allowed} refused in:\n{out}"
        );
    }
}
