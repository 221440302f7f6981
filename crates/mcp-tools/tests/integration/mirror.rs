//! Mirror credentials end to end: an rmcp client calls the tools, which provision `mcp.<name>`
//! in the emulator and search with its minted token; assertions read the emulator's request log.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use auth_core::{AuthContext, BearerToken, Claims, ScopeSet};
use mcp_tools::{
    AuditEvent, CallObserver, CredentialError, MirrorCredentials, SplunkTools, ToolRegistry,
    ToolsConfig, UsernameClaim,
};
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use splunk_client::mirror::{MirrorConfig, Provisioner};
use splunk_client::{Client, Credentials, ListOptions};
use splunk_emulator::RequestLogEntry;

use crate::support::{World, call, connect, text};

/// Remembers the Splunk user of every call.
#[derive(Debug, Default)]
struct SplunkUsers(Mutex<Vec<Option<String>>>);

impl CallObserver for SplunkUsers {
    fn on_call(&self, event: &AuditEvent) {
        self.0.lock().unwrap().push(event.splunk_user.clone());
    }
}

fn mirror_credentials(world: &World, admin: Client) -> MirrorCredentials {
    let provisioner =
        Provisioner::new(admin, MirrorConfig::with_baseline_roles(["mcp_user"])).unwrap();
    let base = Client::new(&world.config, Credentials::bearer("unused")).unwrap();
    MirrorCredentials::new(base, provisioner, UsernameClaim::PreferredUsername)
}

fn mirror_server(world: &World, observer: Arc<SplunkUsers>) -> SplunkTools {
    SplunkTools::new(
        ToolsConfig::default(),
        Arc::new(mirror_credentials(world, world.admin())),
        ToolRegistry::default(),
    )
    .with_observer(observer)
}

/// A caller whose `preferred_username` is `username` (none when `None`).
fn person(subject: &str, username: Option<&str>) -> AuthContext {
    let mut claims = Claims::for_subject(subject);
    claims.scopes = ScopeSet::parse("splunk:search splunk:read").unwrap();
    claims.preferred_username = username.map(str::to_owned);
    AuthContext::new(claims, BearerToken::new("idp-token")).unwrap()
}

fn requests(world: &World, method: &str, path: &str) -> Vec<RequestLogEntry> {
    world
        .emulator
        .request_log()
        .into_iter()
        .filter(|r| r.method == method && r.path.starts_with(path))
        .collect()
}

fn user_writes(world: &World) -> usize {
    requests(world, "POST", "/services/authentication/users").len()
}

fn mints(world: &World) -> usize {
    requests(world, "POST", "/services/authorization/tokens").len()
}

/// The indexes a search over all time sees.
async fn visible_indexes(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ()>,
) -> BTreeSet<String> {
    let result = call(
        client,
        "splunk_search",
        json!({"spl": "index=* | stats count by index", "earliest": "0"}),
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let rows = result.structured_content.unwrap()["rows"].clone();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_call_creates_the_mirror_and_later_calls_write_nothing() {
    let world = World::start().await;
    let users = Arc::new(SplunkUsers::default());
    let server =
        mirror_server(&world, users.clone()).with_caller(Some(person("s-alice", Some("alice"))));
    let client = connect(server).await;

    let indexes = visible_indexes(&client).await;
    let writes = requests(&world, "POST", "/services/authentication/users");
    assert_eq!(writes.len(), 1);
    let roles: Vec<&str> = writes[0]
        .params
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(roles, ["mcp_user", "web_analyst"]);
    assert_eq!(mints(&world), 1);
    // mcp_user allows main, web_analyst web and main: nothing else.
    assert_eq!(
        indexes,
        BTreeSet::from(["main".to_owned(), "web".to_owned()])
    );
    let searches = requests(&world, "POST", "/services/search/jobs");
    assert!(
        searches
            .iter()
            .all(|r| r.user.as_deref() == Some("mcp.alice"))
    );
    assert_eq!(
        users.0.lock().unwrap().as_slice(),
        [Some("mcp.alice".to_owned())]
    );

    world.emulator.clear_request_log();
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("mcp.alice"), "{}", text(&whoami));
    assert_eq!(user_writes(&world), 0, "no admin write on a later call");
    assert_eq!(mints(&world), 0);
    assert!(
        world
            .emulator
            .request_log()
            .iter()
            .all(|r| r.user.as_deref() == Some("mcp.alice")),
        "a later call only talks to Splunk as the mirror user"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_minted_again_once() {
    let world = World::start().await;
    let server =
        mirror_server(&world, Arc::default()).with_caller(Some(person("s-alice", Some("alice"))));
    let client = connect(server).await;
    call(&client, "splunk_server_info", json!({})).await;

    // Revoke every token of the mirror user: the next call meets a 401.
    let admin = world.admin();
    let tokens = admin
        .list_tokens(Some("mcp.alice"), &ListOptions::all())
        .await
        .unwrap();
    assert_eq!(tokens.items.len(), 1);
    for token in &tokens.items {
        admin.delete_token("mcp.alice", &token.id).await.unwrap();
    }
    world.emulator.clear_request_log();
    let info = call(&client, "splunk_server_info", json!({})).await;
    assert_ne!(info.is_error, Some(true), "{}", text(&info));
    let refused = requests(&world, "GET", "/services/server/info");
    assert_eq!(
        refused.iter().map(|r| r.status).collect::<Vec<_>>(),
        [401, 200],
        "one refusal, one retry"
    );
    assert_eq!(mints(&world), 1);

    // The new token disabled: refused once more, replaced once more.
    let tokens = admin
        .list_tokens(Some("mcp.alice"), &ListOptions::all())
        .await
        .unwrap();
    assert_eq!(tokens.items.len(), 1);
    admin
        .set_token_enabled("mcp.alice", &tokens.items[0].id, false)
        .await
        .unwrap();
    world.emulator.clear_request_log();
    let info = call(&client, "splunk_server_info", json!({})).await;
    assert_ne!(info.is_error, Some(true), "{}", text(&info));
    assert_eq!(mints(&world), 1);
    assert_eq!(user_writes(&world), 0);

    // The mirror user deleted: recreated, one new token.
    admin.delete_user("mcp.alice").await.unwrap();
    world.emulator.clear_request_log();
    let info = call(&client, "splunk_server_info", json!({})).await;
    assert_ne!(info.is_error, Some(true), "{}", text(&info));
    assert_eq!((user_writes(&world), mints(&world)), (1, 1));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_claim_is_a_clear_error() {
    let world = World::start().await;
    let server = mirror_server(&world, Arc::default()).with_caller(Some(person("s-nobody", None)));
    let client = connect(server).await;
    let result = call(&client, "splunk_server_info", json!({})).await;
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(message.contains("'preferred_username' claim"), "{message}");
    assert!(
        world.emulator.request_log().is_empty(),
        "nothing sent to Splunk"
    );

    let source = mirror_credentials(&world, world.admin());
    let error = source.username_for(&person("s-nobody", None)).unwrap_err();
    assert!(
        matches!(error, CredentialError::MissingClaim { ref claim } if claim == "preferred_username")
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_admin_credential_is_reported_as_misconfiguration() {
    let world = World::start().await;
    let wrong_admin = Client::new(
        &world.config,
        Credentials::session("admin", "wrong-password"),
    )
    .unwrap();
    let server = SplunkTools::new(
        ToolsConfig::default(),
        Arc::new(mirror_credentials(&world, wrong_admin)),
        ToolRegistry::default(),
    )
    .with_caller(Some(person("s-alice", Some("alice"))));
    let client = connect(server).await;
    let result = call(&client, "splunk_server_info", json!({})).await;
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.contains("misconfigured") && message.contains("contact the operator"),
        "{message}"
    );
    assert!(
        !message.contains("Login failed") && !message.contains("wrong"),
        "{message}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_create_and_mint_once() {
    let world = World::start().await;
    let users = Arc::new(SplunkUsers::default());
    let server =
        mirror_server(&world, users.clone()).with_caller(Some(person("s-bob", Some("bob"))));
    let client = connect(server).await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let peer = client.peer().clone();
        calls.spawn(async move {
            peer.call_tool(CallToolRequestParams::new("splunk_server_info"))
                .await
                .unwrap()
        });
    }
    while let Some(result) = calls.join_next().await {
        let result = result.unwrap();
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
    }
    assert_eq!(user_writes(&world), 1);
    assert_eq!(mints(&world), 1);
    let seen = users.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|u| u.as_deref() == Some("mcp.bob")));
    client.cancel().await.unwrap();
}
