//! Mirror-user provisioning against the emulator, asserting on its request log: which users
//! were read, created or updated, and which tokens were minted.

use std::sync::Arc;
use std::time::Duration;

use splunk_client::mirror::{MirrorChange, MirrorConfig, Provisioner};
use splunk_client::{Error, ListOptions, NewUser, SecretString};

use crate::over_http_and_https;
use crate::support::{World, param, params};

over_http_and_https!(
    saml_user_present_gives_the_union,
    saml_user_absent_gives_the_baseline,
    drift_is_updated_and_equal_roles_write_nothing,
    denied_roles_are_never_copied,
    hostile_usernames_are_refused_before_any_request,
    concurrent_first_calls_create_and_mint_once,
    cleanup_deletes_expired_mirror_tokens,
    a_refused_mirror_token_is_replaced_once,
    missing_capabilities_are_reported,
);

fn provisioner(world: &World, config: MirrorConfig) -> Provisioner {
    Provisioner::new(world.admin(), config).unwrap()
}

fn baseline() -> MirrorConfig {
    MirrorConfig::with_baseline_roles(["mcp_user"])
}

/// Admin writes to users (creations and updates) seen so far.
fn user_writes(world: &World) -> Vec<splunk_emulator::RequestLogEntry> {
    world.requests("POST", "/services/authentication/users")
}

async fn saml_user_present_gives_the_union(world: World) {
    let provisioner = provisioner(&world, baseline());
    let token = provisioner.token_for("alice").await.unwrap();
    assert_eq!(token.mirror_user, "mcp.alice");
    assert!(token.reconciled.real_user_found);
    assert_eq!(token.reconciled.change, MirrorChange::Created);
    assert_eq!(token.reconciled.roles, ["mcp_user", "web_analyst"]);
    assert!(!format!("{token:?}").contains("eyJ"));

    // The whole conversation with Splunk, as a reviewable golden file (sorted: the two user
    // reads run concurrently, so their order varies).
    let mut conversation: Vec<String> = world
        .emulator
        .request_log()
        .iter()
        .map(|r| {
            let params: Vec<String> = r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{} {} -> {} as {}: {}",
                r.method,
                r.path,
                r.status,
                r.user.as_deref().unwrap_or("-"),
                params.join("&")
            )
        })
        .collect();
    conversation.sort();
    insta::assert_snapshot!("mirror_first_call", conversation.join("\n"));

    let writes = user_writes(&world);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].path, "/services/authentication/users");
    assert_eq!(param(&writes[0], "name"), Some("mcp.alice"));
    assert_eq!(params(&writes[0], "roles"), ["mcp_user", "web_analyst"]);
    assert_eq!(param(&writes[0], "password"), Some("[redacted]"));
    let mints = world.requests("POST", "/services/authorization/tokens");
    assert_eq!(mints.len(), 1);
    assert_eq!(param(&mints[0], "name"), Some("mcp.alice"));
    assert_eq!(param(&mints[0], "audience"), Some("mcp"));
    assert_eq!(param(&mints[0], "expires_on"), Some("+1h"));
    assert_eq!(mints[0].user.as_deref(), Some("admin"));

    // The token is for the mirror, which sees what alice's roles allow.
    let as_alice = world.client(token.credentials());
    let context = as_alice.current_context().await.unwrap();
    assert_eq!(context.username, "mcp.alice");
    assert_eq!(context.roles, ["mcp_user", "web_analyst"]);
    let indexes: Vec<String> = as_alice
        .list_indexes(&ListOptions::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert!(indexes.contains(&"web".to_owned()) && !indexes.contains(&"security".to_owned()));
    let mirror = world.admin().get_user("mcp.alice").await.unwrap();
    assert_eq!(mirror.user_type, "Splunk");

    // A second call is served from the cache: not a single request.
    world.emulator.clear_request_log();
    let again = provisioner.token_for("Alice").await.unwrap();
    assert_eq!(again.token_id, token.token_id);
    assert!(world.emulator.request_log().is_empty());
}

async fn saml_user_absent_gives_the_baseline(world: World) {
    let provisioner = provisioner(&world, baseline());
    let token = provisioner.token_for("zed").await.unwrap();
    assert!(!token.reconciled.real_user_found);
    assert_eq!(token.reconciled.roles, ["mcp_user"]);
    let writes = user_writes(&world);
    assert_eq!(params(&writes[0], "roles"), ["mcp_user"]);
    let reads: Vec<String> = world
        .requests("GET", "/services/authentication/users/")
        .into_iter()
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert!(
        reads.contains(&"/services/authentication/users/zed 404".to_owned()),
        "{reads:?}"
    );
    assert!(
        reads.contains(&"/services/authentication/users/mcp.zed 404".to_owned()),
        "{reads:?}"
    );
}

async fn drift_is_updated_and_equal_roles_write_nothing(world: World) {
    // alice, whose web_analyst is copied (bob is an admin, a denied role: his mirror would be
    // the baseline alone, with no role to drift).
    let provisioner = provisioner(&world, baseline());
    provisioner.reconcile("alice").await.unwrap();
    // Nothing changed: the next reconciliation only reads.
    world.emulator.clear_request_log();
    let same = provisioner.reconcile("alice").await.unwrap();
    assert_eq!(same.change, MirrorChange::Unchanged);
    assert!(user_writes(&world).is_empty(), "no write when roles match");
    assert_eq!(
        world
            .requests("GET", "/services/authentication/users/")
            .len(),
        2
    );

    // Someone trimmed the mirror's roles: drift, repaired with one update.
    world
        .admin()
        .update_user_roles("mcp.alice", &["mcp_user".to_owned()])
        .await
        .unwrap();
    world.emulator.clear_request_log();
    let repaired = provisioner.reconcile("alice").await.unwrap();
    assert_eq!(
        repaired.change,
        MirrorChange::Updated {
            added: vec!["web_analyst".into()],
            removed: vec![],
        }
    );
    let writes = user_writes(&world);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].path, "/services/authentication/users/mcp.alice");
    assert_eq!(params(&writes[0], "roles"), ["mcp_user", "web_analyst"]);

    // The real user's roles changed: the next mint (after the cache is dropped) follows them.
    world
        .admin()
        .update_user_roles("alice", &["security_analyst".to_owned()])
        .await
        .unwrap();
    provisioner.invalidate("alice").await.unwrap();
    let token = provisioner.token_for("alice").await.unwrap();
    assert_eq!(
        token.reconciled.change,
        MirrorChange::Updated {
            added: vec!["security_analyst".into()],
            removed: vec!["web_analyst".into()],
        }
    );
    let mirror = world.admin().get_user("mcp.alice").await.unwrap();
    assert_eq!(mirror.roles, ["mcp_user", "security_analyst"]);
}

async fn denied_roles_are_never_copied(world: World) {
    let admin = world.admin();
    admin
        .create_user(&NewUser::new(
            "root_like",
            SecretString::from("root-like-password-123"),
            vec!["admin".into(), "user".into()],
        ))
        .await
        .unwrap();
    let mut config = baseline();
    config.denied_roles = vec!["admin".into(), "sc_admin".into(), "power".into()];
    let provisioner = provisioner(&world, config);
    let root = provisioner.reconcile("root_like").await.unwrap();
    assert_eq!(root.roles, ["mcp_user", "user"]);
    // bob is a Splunk admin (his IdP group admins maps to admin): his mirror is the baseline.
    let bob = provisioner.reconcile("bob").await.unwrap();
    assert!(bob.real_user_found);
    assert_eq!(bob.roles, ["mcp_user"]);
    for write in user_writes(&world)
        .iter()
        .filter(|w| param(w, "name").is_some_and(|n| n.starts_with("mcp.")))
    {
        let roles = params(write, "roles");
        assert!(
            !roles.contains(&"admin") && !roles.contains(&"power"),
            "{roles:?}"
        );
    }
    // A mirror that somehow got a denied role loses it.
    admin
        .update_user_roles("mcp.bob", &["mcp_user".into(), "admin".into()])
        .await
        .unwrap();
    let fixed = provisioner.reconcile("bob").await.unwrap();
    assert_eq!(
        fixed.change,
        MirrorChange::Updated {
            added: vec![],
            removed: vec!["admin".into()],
        }
    );
}

async fn hostile_usernames_are_refused_before_any_request(world: World) {
    let provisioner = provisioner(&world, baseline());
    let long = "a".repeat(300);
    for hostile in [
        "../admin",
        "a&roles=admin",
        "",
        long.as_str(),
        "ålice",
        "al\u{0131}ce",
        "mcp.alice",
        "a/b",
        "a b",
    ] {
        assert!(
            matches!(
                provisioner.token_for(hostile).await,
                Err(Error::InvalidArgument {
                    what: "username",
                    ..
                })
            ),
            "{hostile:?}"
        );
    }
    assert!(world.emulator.request_log().is_empty());
    assert!(
        world
            .admin()
            .find_user("mcp.admin")
            .await
            .unwrap()
            .is_none()
    );
}

async fn concurrent_first_calls_create_and_mint_once(world: World) {
    let provisioner = Arc::new(provisioner(&world, baseline()));
    let calls = (0..50).map(|_| {
        let provisioner = provisioner.clone();
        tokio::spawn(async move { provisioner.token_for("alice").await })
    });
    let tokens: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|t| t.unwrap().unwrap())
        .collect();
    assert!(tokens.iter().all(|t| t.token_id == tokens[0].token_id));
    assert_eq!(user_writes(&world).len(), 1, "one create");
    assert_eq!(
        world
            .requests("POST", "/services/authorization/tokens")
            .len(),
        1,
        "one mint"
    );
    // A different person is provisioned independently.
    provisioner.token_for("carol").await.unwrap();
    assert_eq!(
        world
            .requests("POST", "/services/authorization/tokens")
            .len(),
        2
    );
}

async fn cleanup_deletes_expired_mirror_tokens(world: World) {
    let mut config = baseline();
    config.token_ttl = Duration::from_secs(2);
    config.refresh_margin = Duration::from_secs(1);
    let short = provisioner(&world, config);
    let expiring = short.token_for("alice").await.unwrap();
    assert_eq!(
        param(
            &world.requests("POST", "/services/authorization/tokens")[0],
            "expires_on"
        ),
        Some("+2s")
    );
    let lasting = provisioner(&world, baseline())
        .token_for("carol")
        .await
        .unwrap();
    // A non-mirror user's expired token is not ours to delete.
    let admin = world.admin();
    let foreign = admin
        .create_token(&splunk_client::TokenRequest::new(
            "bob",
            "other",
            Duration::from_secs(1),
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await;

    world.emulator.clear_request_log();
    let report = short.cleanup().await.unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(report.failed, 0);
    let deletes = world.requests("DELETE", "/services/authorization/tokens/");
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].path, "/services/authorization/tokens/mcp.alice");
    assert_eq!(param(&deletes[0], "id"), Some(expiring.token_id.as_str()));
    let left: Vec<String> = admin
        .list_tokens(None, &ListOptions::all())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(!left.contains(&expiring.token_id));
    assert!(left.contains(&lasting.token_id));
    assert!(left.contains(&foreign.id));

    // Past the refresh margin the cache is bypassed and a new token minted.
    let renewed = short.token_for("alice").await.unwrap();
    assert_ne!(renewed.token_id, expiring.token_id);
}

async fn a_refused_mirror_token_is_replaced_once(world: World) {
    let mirror = Arc::new(provisioner(&world, baseline()));
    let provisioner = &mirror;
    let first = provisioner.token_for("alice").await.unwrap();
    let alice = world.client(provisioner.credentials_for("alice").unwrap());
    assert_eq!(alice.current_context().await.unwrap().username, "mcp.alice");

    // The token is revoked behind our back: the next requests (concurrent) see 401, and one
    // new token is minted for all of them.
    world
        .admin()
        .delete_token("mcp.alice", &first.token_id)
        .await
        .unwrap();
    world.emulator.clear_request_log();
    let calls = (0..5).map(|_| alice.current_context());
    for context in futures::future::join_all(calls).await {
        assert_eq!(context.unwrap().username, "mcp.alice");
    }
    assert_eq!(
        world
            .requests("POST", "/services/authorization/tokens")
            .len(),
        1
    );
    assert!(user_writes(&world).is_empty(), "the mirror user was fine");
    // Calls that started after the replacement use the new token directly.
    let refused = world.requests("GET", "/services/authentication/current-context");
    let refusals = refused.iter().filter(|r| r.status == 401).count();
    assert!((1..=5).contains(&refusals), "{refusals} refusals");
    assert_eq!(refused.len(), 5 + refusals, "each refusal is retried once");
    let second = provisioner.token_for("alice").await.unwrap();
    assert_ne!(second.token_id, first.token_id);

    // Mirror user deleted: re-minting recreates it.
    world.admin().delete_user("mcp.alice").await.unwrap();
    world.emulator.clear_request_log();
    assert_eq!(alice.current_context().await.unwrap().username, "mcp.alice");
    assert_eq!(user_writes(&world).len(), 1);
    assert_eq!(
        world
            .requests("POST", "/services/authorization/tokens")
            .len(),
        1
    );
}

async fn missing_capabilities_are_reported(world: World) {
    let wanted = ["edit_user", "edit_tokens_all"];
    assert!(
        world
            .admin()
            .missing_capabilities(&wanted)
            .await
            .unwrap()
            .is_empty()
    );
    let limited = world.admin();
    limited
        .create_user(&NewUser::new(
            "helpdesk",
            SecretString::from("helpdesk-password-123"),
            vec!["user".into()],
        ))
        .await
        .unwrap();
    let helpdesk = world.client(splunk_client::Credentials::session(
        "helpdesk",
        "helpdesk-password-123",
    ));
    assert_eq!(
        helpdesk.missing_capabilities(&wanted).await.unwrap(),
        ["edit_user", "edit_tokens_all"]
    );
}
