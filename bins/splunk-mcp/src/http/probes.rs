//! The unauthenticated routes: `/healthz`, `/readyz`, `/metrics` and the RFC 9728 protected
//! resource metadata at both well-known paths.

use std::sync::Arc;
use std::time::Duration;

use auth_core::ProtectedResourceMetadata;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE,
};
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::{PRM_MCP_PATH, PRM_ROOT_PATH, ReadyCheck};
use crate::metrics::{self, Metrics};

/// How long one readiness check may take before it counts as failed.
pub(super) const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct ProbeState {
    metrics: Metrics,
    readiness: Arc<[Arc<dyn ReadyCheck>]>,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub(super) fn routes(metrics: Metrics, readiness: Vec<Arc<dyn ReadyCheck>>) -> Router {
    let state = ProbeState {
        metrics,
        readiness: readiness.into(),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<ProbeState>) -> Response {
    let results = futures::future::join_all(state.readiness.iter().map(|check| async move {
        let outcome = match tokio::time::timeout(READY_CHECK_TIMEOUT, check.check()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer within {} s",
                READY_CHECK_TIMEOUT.as_secs()
            )),
        };
        (check.name(), outcome)
    }))
    .await;
    let mut ready = true;
    let mut checks = Map::new();
    for (name, outcome) in results {
        let shown = match outcome {
            Ok(()) => "ok".to_owned(),
            Err(message) => {
                ready = false;
                tracing::warn!(check = name, error = %message, "readiness check failed");
                message
            }
        };
        checks.insert(name.to_owned(), Value::String(shown));
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    let mut response = (
        status,
        axum::Json(json!({ "status": word, "checks": checks })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn render_metrics(State(state): State<ProbeState>) -> Response {
    let mut response = state.metrics.render().into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The metadata document at [`PRM_ROOT_PATH`] and [`PRM_MCP_PATH`], readable cross-origin so
/// browser-based clients (MCP Inspector) can discover the authorization server.
pub(super) fn metadata_routes(metadata: ProtectedResourceMetadata) -> Router {
    let body: Arc<str> = match serde_json::to_string(&metadata) {
        Ok(body) => body.into(),
        // A struct of strings always serializes; keep the route answering if it ever does not.
        Err(_) => "{}".into(),
    };
    let document = get(metadata_document).options(preflight);
    Router::new()
        .route(PRM_ROOT_PATH, document.clone())
        .route(PRM_MCP_PATH, document)
        .with_state(body)
}

async fn metadata_document(State(body): State<Arc<str>>) -> Response {
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Short enough that a configuration change reaches clients within the hour.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// CORS preflight: browser clients add headers such as `MCP-Protocol-Version` to the fetch.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}
