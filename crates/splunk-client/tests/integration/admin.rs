//! Administration: users, roles, tokens, and what a user without capabilities is refused.

use std::time::Duration;

use chrono::Utc;
use splunk_client::{
    Credentials, Error, ListOptions, NewUser, SecretString, TokenRequest, TokenTime,
};

use crate::over_http_and_https;
use crate::support::{World, params};

over_http_and_https!(
    users_get_list_create_update,
    roles_are_listed,
    tokens_create_list_delete,
    missing_capabilities_are_forbidden,
);

async fn users_get_list_create_update(world: World) {
    let admin = world.admin();
    let alice = admin.get_user("alice").await.unwrap();
    assert_eq!(alice.user_type, "SAML");
    assert_eq!(alice.roles, ["web_analyst"]);
    assert!(admin.find_user("nobody_here").await.unwrap().is_none());
    match admin.get_user("nobody_here").await {
        Err(Error::NotFound { messages }) => {
            assert_eq!(messages[0].text, "User \"nobody_here\" does not exist.");
        }
        other => panic!("{other:?}"),
    }

    let created = admin
        .create_user(&NewUser::new(
            "dave",
            SecretString::from("a-long-enough-password-1"),
            vec!["user".into(), "mcp_user".into()],
        ))
        .await
        .unwrap();
    assert_eq!(created.name, "dave");
    assert_eq!(created.user_type, "Splunk");
    let create = &world.requests("POST", "/services/authentication/users")[0];
    assert_eq!(params(create, "roles"), ["user", "mcp_user"]);
    assert!(matches!(
        admin
            .create_user(&NewUser::new(
                "dave",
                SecretString::from("another-password-22"),
                vec!["user".into()]
            ))
            .await,
        Err(Error::Conflict { .. })
    ));

    let updated = admin
        .update_user_roles("dave", &["power".to_owned()])
        .await
        .unwrap();
    assert_eq!(updated.roles, ["power"]);
    let users = admin.list_users(&ListOptions::all()).await.unwrap();
    let names: Vec<&str> = users.items.iter().map(|u| u.name.as_str()).collect();
    for expected in ["admin", "alice", "bob", "carol", "dave"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    // The new user can log in with the password it was created with.
    let dave = world.client(Credentials::session("dave", "a-long-enough-password-1"));
    assert_eq!(dave.current_context().await.unwrap().roles, ["power"]);
    assert!(matches!(
        admin.update_user_roles("dave", &[]).await,
        Err(Error::InvalidArgument { .. })
    ));
    admin.delete_user("dave").await.unwrap();
    assert!(admin.find_user("dave").await.unwrap().is_none());
}

async fn roles_are_listed(world: World) {
    let admin = world.admin();
    let roles = admin.list_roles(&ListOptions::all()).await.unwrap();
    let mcp = roles
        .items
        .iter()
        .find(|r| r.name == "mcp_user")
        .expect("mcp_user role");
    assert!(mcp.capabilities.iter().any(|c| c == "search"));
    assert_eq!(mcp.srch_indexes_allowed, ["main"]);
    let admin_role = roles.items.iter().find(|r| r.name == "admin").unwrap();
    assert!(admin_role.imported_roles.contains(&"power".to_owned()));
}

async fn tokens_create_list_delete(world: World) {
    let admin = world.admin();
    let before = Utc::now();
    let mut request = TokenRequest::new("bob", "mcp", Duration::from_secs(3600));
    request.not_before = Some(TokenTime::At(before - chrono::Duration::seconds(5)));
    let minted = admin.create_token(&request).await.unwrap();
    assert_eq!(minted.id.len(), 64);
    let lifetime = minted.expires_at - before;
    assert!(
        (3590..=3610).contains(&lifetime.num_seconds()),
        "{lifetime}"
    );
    let mint = &world.requests("POST", "/services/authorization/tokens")[0];
    assert_eq!(crate::support::param(mint, "expires_on"), Some("+1h"));
    assert_eq!(crate::support::param(mint, "audience"), Some("mcp"));

    // bob is a SAML user without a password, yet his token works.
    let bob = world.client(minted.credentials());
    assert_eq!(bob.current_context().await.unwrap().username, "bob");

    let listed = admin
        .list_tokens(Some("bob"), &ListOptions::all())
        .await
        .unwrap();
    let info = listed
        .items
        .iter()
        .find(|t| t.id == minted.id)
        .expect("minted token listed");
    assert_eq!(info.user, "bob");
    assert_eq!(info.audience, "mcp");
    assert_eq!(info.status, "enabled");
    assert!(!info.is_expired(Utc::now()));
    assert!(listed.items.iter().all(|t| t.user == "bob"));

    admin.delete_token("bob", &minted.id).await.unwrap();
    let after = admin
        .list_tokens(Some("bob"), &ListOptions::all())
        .await
        .unwrap();
    assert!(after.items.iter().all(|t| t.id != minted.id));
    assert!(matches!(
        bob.current_context().await,
        Err(Error::Unauthorized { .. })
    ));
    assert!(matches!(
        admin.delete_token("bob", &minted.id).await,
        Err(Error::NotFound { .. })
    ));
    let deleted = world.requests("DELETE", "/services/authorization/tokens/bob");
    assert_eq!(
        crate::support::param(&deleted[0], "id"),
        Some(minted.id.as_str())
    );
}

async fn missing_capabilities_are_forbidden(world: World) {
    let admin = world.admin();
    admin
        .create_user(&NewUser::new(
            "erin",
            SecretString::from("erin-password-123456"),
            vec!["mcp_user".into()],
        ))
        .await
        .unwrap();
    let erin = world.client(Credentials::session("erin", "erin-password-123456"));
    let error = erin
        .create_user(&NewUser::new(
            "mallory",
            SecretString::from("x-password-1234567"),
            vec!["admin".into()],
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
    assert!(error.to_string().contains("edit_user"), "{error}");
    assert!(matches!(
        erin.create_token(&TokenRequest::new("admin", "mcp", Duration::from_secs(60)))
            .await,
        Err(Error::Forbidden { .. })
    ));
    // Only indexes erin's role may search are listed (mcp_user: main).
    let indexes = erin.list_indexes(&ListOptions::all()).await.unwrap();
    let names: Vec<&str> = indexes.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["main"]);
}
