//! The tower layer and axum extractor in a tiny axum app.

use std::sync::Arc;

use auth_core::{AuthContext, AuthLayer, ChallengeConfig, Policy, ScopeSet, StaticVerifier};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use serde_json::json;
use tower::ServiceExt as _;

const PRM: &str = "https://mcp.example/.well-known/oauth-protected-resource/mcp";

async fn whoami(ctx: AuthContext) -> String {
    format!("{} {}", ctx.subject(), ctx.scopes())
}

fn app(policy: Option<Policy>) -> Router {
    let verifier = StaticVerifier::builder()
        .allow_insecure_static(true)
        .token(
            "reader-token",
            json!({"sub": "alice", "scope": "splunk:read"}),
        )
        .token(
            "searcher-token",
            json!({"sub": "bob", "scope": "splunk:read splunk:search"}),
        )
        .build()
        .unwrap();
    let mut layer = AuthLayer::new(
        Arc::new(verifier),
        ChallengeConfig::new(PRM, ScopeSet::parse("splunk:read").unwrap()),
    )
    .pass_through("/.well-known/oauth-protected-resource/mcp")
    .pass_through_prefix("/public/");
    if let Some(p) = policy {
        layer = layer.require(p);
    }
    Router::new()
        .route("/mcp", get(whoami))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(|| async { "prm" }),
        )
        .route(
            "/public/health",
            get(|ctx: Option<AuthContext>| async move {
                ctx.map_or("anonymous".to_owned(), |c| c.subject().to_owned())
            }),
        )
        .route_layer(layer)
}

async fn call(app: Router, uri: &str, auth: &[&str]) -> (StatusCode, Option<String>, String) {
    let mut req = Request::builder().uri(uri);
    for a in auth {
        req = req.header("authorization", *a);
    }
    let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn layer_answers_per_rfc_6750() {
    let (s, c, _) = call(app(None), "/mcp", &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.unwrap(),
        format!(r#"Bearer scope="splunk:read", resource_metadata="{PRM}""#)
    );

    let (s, c, body) = call(app(None), "/mcp", &["Bearer wrong"]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        c.unwrap()
            .starts_with(r#"Bearer error="invalid_token", error_description="#)
    );
    assert!(body.contains("invalid_token"));

    let (s, _, body) = call(app(None), "/mcp", &["Bearer reader-token"]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "alice splunk:read"));

    let (s, _, body) = call(app(None), "/mcp", &["bearer reader-token"]).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, "alice splunk:read"),
        "scheme is case-insensitive"
    );

    let (s, c, _) = call(app(None), "/mcp", &["Basic YTpi"]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        !c.unwrap().contains("error="),
        "another scheme counts as no token"
    );
}

#[tokio::test]
async fn layer_refuses_malformed_requests() {
    let (s, c, _) = call(app(None), "/mcp?access_token=reader-token", &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(c.unwrap().contains(r#"error="invalid_request""#));

    let (s, _, _) = call(
        app(None),
        "/mcp?x=1&access_token=reader-token",
        &["Bearer reader-token"],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a query token is refused even alongside a header"
    );

    let (s, _, _) = call(
        app(None),
        "/mcp",
        &["Bearer reader-token", "Bearer searcher-token"],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, _) = call(app(None), "/mcp", &["Bearer "]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pass_through_and_404() {
    let (s, _, body) = call(app(None), "/.well-known/oauth-protected-resource/mcp", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "prm"));
    let (s, _, body) = call(app(None), "/public/health", &[]).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, "anonymous"),
        "pass-through needs no token"
    );
    let (s, _, _) = call(app(None), "/does-not-exist", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "route_layer keeps 404s");
}

#[tokio::test]
async fn layer_policy_answers_insufficient_scope() {
    let policy = Policy::require_scopes("splunk:search").unwrap();
    let (s, c, body) = call(app(Some(policy.clone())), "/mcp", &["Bearer reader-token"]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        c.unwrap(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="The access token lacks a required scope", scope="splunk:read splunk:search", resource_metadata="{PRM}""#
        )
    );
    assert!(body.contains("insufficient_scope"));
    let (s, _, _) = call(app(Some(policy)), "/mcp", &["Bearer searcher-token"]).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn extractor_without_layer_fails_closed() {
    let app = Router::new().route("/mcp", get(whoami));
    let (s, _, _) = call(app, "/mcp", &["Bearer reader-token"]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
