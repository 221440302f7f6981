//! IdP tokens at the Splunk emulator: who the bearer is (and that their Splunk user record
//! agrees), which indexes their role reaches, and which tokens are refused (no mapped group,
//! wrong audience).

use reqwest::StatusCode;
use serde_json::{Value, json};

use e2e_tests::{CONFIDENTIAL, Idp, MCP_RESOURCE, SignIn, World, jwt_claims};

#[tokio::test]
async fn alice_and_bob_search_as_themselves_with_their_roles() {
    let world = World::start().await;

    let alice = world.idp.sign_in(&world.http, &SignIn::new("alice")).await;
    let token = alice["access_token"].as_str().expect("access token");
    let claims = jwt_claims(token);
    assert_eq!(claims["iss"], world.idp.issuer.as_str());
    assert_eq!(claims["aud"], json!([MCP_RESOURCE, "splunk"]));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["groups"], json!(["analysts"]));
    assert_eq!(claims["scope"], "splunk:read splunk:search");
    let id_token = jwt_claims(alice["id_token"].as_str().expect("ID token"));
    assert_eq!(id_token["groups"], json!(["analysts"]));
    assert_eq!(id_token["email"], "alice@example.com");

    let (status, body) = world.current_context(token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let context = &body["entry"][0]["content"];
    assert_eq!(context["username"], "alice");
    assert_eq!(context["roles"], json!(["web_analyst"]));
    assert_eq!(context["email"], "alice@example.com");
    assert_eq!(record_roles(&world, "alice").await, context["roles"]);
    assert_eq!(world.indexes_seen(token).await, ["main", "web"]);

    // bob signs in through the confidential client, as the proxy would.
    let bob = world
        .idp
        .sign_in(
            &world.http,
            &SignIn {
                client: CONFIDENTIAL,
                ..SignIn::new("bob")
            },
        )
        .await;
    let token = bob["access_token"].as_str().expect("access token");
    let (status, body) = world.current_context(token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entry"][0]["content"]["username"], "bob");
    assert_eq!(body["entry"][0]["content"]["roles"], json!(["admin"]));
    assert_eq!(
        record_roles(&world, "bob").await,
        body["entry"][0]["content"]["roles"],
        "bob's Splunk record agrees with his IdP groups"
    );
    let indexes = world.indexes_seen(token).await;
    for index in ["firewall", "main", "security", "web"] {
        assert!(
            indexes.iter().any(|i| i == index),
            "bob sees {index}: {indexes:?}"
        );
    }
}

/// The roles of `user`'s record at `/services/authentication/users`, read as the admin.
async fn record_roles(world: &World, user: &str) -> Value {
    let response = world
        .http
        .get(format!(
            "{}/services/authentication/users/{user}",
            world.splunk.url()
        ))
        .query(&[("output_mode", "json")])
        .basic_auth("admin", Some("changeme"))
        .send()
        .await
        .expect("users request");
    assert_eq!(response.status(), StatusCode::OK, "{user}'s record");
    let body: Value = response.json().await.expect("emulator JSON");
    body["entry"][0]["content"]["roles"].clone()
}

#[tokio::test]
async fn a_user_without_mapped_groups_is_refused() {
    let world = World::start().await;
    let carol = world.idp.sign_in(&world.http, &SignIn::new("carol")).await;
    let token = carol["access_token"].as_str().expect("access token");
    assert_eq!(jwt_claims(token)["groups"], json!([]));
    let (status, body) = world.current_context(token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_token_without_the_splunk_audience_is_refused() {
    let world = World::start().await;
    // A second IdP, trusted too, whose tokens carry only the MCP server's audience.
    let other = Idp::start(&[]).await;
    world.trust_idp("mcp-only", &other).await;
    let alice = other.sign_in(&world.http, &SignIn::new("alice")).await;
    let token = alice["access_token"].as_str().expect("access token");
    let claims = jwt_claims(token);
    assert_eq!(claims["aud"], MCP_RESOURCE);
    assert_eq!(claims["groups"], json!(["analysts"]));
    let (status, body) = world.current_context(token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // The same IdP's token for the Splunk resource indicator is accepted.
    let splunk_only = other
        .sign_in(
            &world.http,
            &SignIn {
                resource: "urn:splunk",
                ..SignIn::new("alice")
            },
        )
        .await;
    let token = splunk_only["access_token"].as_str().expect("access token");
    assert_eq!(jwt_claims(token)["aud"], "splunk");
    let (status, body) = world.current_context(token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
