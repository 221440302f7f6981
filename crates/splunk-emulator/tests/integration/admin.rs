//! Users and roles: list, get, create, update, delete, capabilities and grantable roles.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{self, Cred};
use crate::snap;

#[tokio::test]
async fn users_are_listed_and_fetched() {
    let world = helpers::start().await;
    let (status, body) = world.get("/services/authentication/users", &[]).await;
    assert_eq!(status, StatusCode::OK);
    snap!("users_list", world, body);
    let (status, body) = world.get("/services/authentication/users/bob", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["entry"][0]["content"]["type"], "SAML");
    assert_eq!(body["entry"][0]["content"]["roles"], json!(["admin"]));
    let (status, body) = world
        .get("/services/authentication/users/mcp.nobody", &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"messages":[{"type":"ERROR","text":"User \"mcp.nobody\" does not exist."}]})
    );
}

#[tokio::test]
async fn users_are_created_and_updated_with_role_checks() {
    let world = helpers::start().await;
    let create = [
        ("name", "mcp.alice"),
        ("password", "Secret-password-1"),
        ("roles", "mcp_user"),
        ("roles", "web_analyst"),
        ("realname", "Alice (MCP mirror)"),
        ("email", "alice@example.com"),
        ("defaultApp", "search"),
        ("force-change-pass", "0"),
    ];
    let (status, body) = world.post("/services/authentication/users", &create).await;
    assert_eq!(status, StatusCode::CREATED);
    snap!("user_created", world, body);
    let (status, body) = world.post("/services/authentication/users", &create).await;
    assert_eq!(status, StatusCode::CONFLICT);
    snap!("user_conflict", world, body);

    let (status, body) = world
        .post(
            "/services/authentication/users/mcp.alice",
            &[("roles", "mcp_user")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["entry"][0]["content"]["roles"],
        json!(["mcp_user"]),
        "roles are replaced"
    );
    let (status, body) = world
        .post(
            "/services/authentication/users/mcp.ghost",
            &[("roles", "mcp_user")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["messages"][0]["text"],
        "User \"mcp.ghost\" does not exist."
    );
    let (status, body) = world
        .post(
            "/services/authentication/users/mcp.alice",
            &[("roles", "no_such_role")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    snap!("user_bad_role", world, body);
    let (status, _) = world
        .post(
            "/services/authentication/users",
            &[("name", "x1"), ("password", "p-123456"), ("roles", "nope")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The new user can log in with their password and sees their roles.
    let key = helpers::login(
        &world.http,
        world.emu.url(),
        "mcp.alice",
        "Secret-password-1",
    )
    .await;
    let me = Cred::Splunk(key);
    let (_, body) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &me,
            &[],
        )
        .await;
    assert_eq!(body["entry"][0]["content"]["roles"], json!(["mcp_user"]));
    assert_eq!(body["entry"][0]["content"]["type"], "Splunk");

    // Without edit_user: 403 on others, own entry still readable.
    let (status, body) = world
        .call(
            Method::POST,
            "/services/authentication/users",
            &me,
            &[
                ("name", "evil"),
                ("password", "x-123456"),
                ("roles", "admin"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    snap!("user_create_forbidden", world, body);
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/users/admin",
            &me,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/users/mcp.alice",
            &me,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = world
        .call(Method::GET, "/services/authentication/users", &me, &[])
        .await;
    assert_eq!(body["entry"].as_array().unwrap().len(), 1);

    let (status, _) = world
        .call(
            Method::DELETE,
            "/services/authentication/users/mcp.alice",
            &world.admin(),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = world
        .call(
            Method::GET,
            "/services/authentication/current-context",
            &me,
            &[],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted user's session ends"
    );
}

#[tokio::test]
async fn grantable_roles_limit_delegated_user_admins() {
    let world = helpers::start().await;
    let (status, _) = world
        .post(
            "/services/authorization/roles",
            &[
                ("name", "mirror_admin"),
                ("capabilities", "edit_user"),
                ("capabilities", "edit_roles_grantable"),
                ("grantable_roles", "mcp_user"),
                ("grantable_roles", "web_analyst"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    world
        .post(
            "/services/authentication/users",
            &[
                ("name", "mirror"),
                ("password", "mirror-pass-1"),
                ("roles", "mirror_admin"),
            ],
        )
        .await;
    let mirror =
        Cred::Splunk(helpers::login(&world.http, world.emu.url(), "mirror", "mirror-pass-1").await);
    let (status, _) = world
        .call(
            Method::POST,
            "/services/authentication/users",
            &mirror,
            &[
                ("name", "mcp.bob"),
                ("password", "pw-1234567"),
                ("roles", "mcp_user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = world
        .call(
            Method::POST,
            "/services/authentication/users/mcp.bob",
            &mirror,
            &[("roles", "mcp_user"), ("roles", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"messages":[{"type":"ERROR","text":"Role=admin is not grantable"}]})
    );
}

#[tokio::test]
async fn roles_are_listed_created_and_updated() {
    let world = helpers::start().await;
    let (status, body) = world
        .get("/services/authorization/roles", &[("count", "0")])
        .await;
    assert_eq!(status, StatusCode::OK);
    snap!("roles_list", world, body);
    let (status, body) = world.get("/services/authorization/roles/user", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["entry"][0]["content"]["srchIndexesAllowed"],
        json!(["*"])
    );
    assert_eq!(
        body["entry"][0]["content"]["srchIndexesDefault"],
        json!(["main"])
    );
    let (status, body) = world
        .post(
            "/services/authorization/roles",
            &[
                ("name", "fw_analyst"),
                ("capabilities", "search"),
                ("srchIndexesAllowed", "firewall;main"),
                ("srchIndexesDefault", "firewall"),
                ("imported_roles", "user"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    snap!("role_created", world, body);
    let (status, _) = world
        .post("/services/authorization/roles", &[("name", "fw_analyst")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = world
        .post(
            "/services/authorization/roles/fw_analyst",
            &[("srchIndexesAllowed", "firewall")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["entry"][0]["content"]["srchIndexesAllowed"],
        json!(["firewall"])
    );
    let (status, _) = world
        .post(
            "/services/authorization/roles/ghost",
            &[("srchIndexesAllowed", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
