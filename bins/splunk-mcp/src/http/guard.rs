//! What `/mcp` checks after the token is verified and before rmcp sees the request: the
//! caller check, sessions bound to the subject that opened them, and the scope pre-check of
//! `tools/call`; plus the counter of refused requests around all of it.

use std::borrow::Cow;
use std::sync::Arc;

use auth_core::{AuthContext, Challenge, ChallengeConfig, Decision, Denial, ScopeSet};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;

use super::CallerCheck;
use crate::metrics::Metrics;

/// The largest body the scope pre-check reads; larger ones go to rmcp unchecked (the tool
/// checks the scopes again itself).
pub(super) const PEEK_LIMIT: usize = 1024 * 1024;

/// rmcp's session header.
const SESSION_HEADER: &str = "mcp-session-id";

/// How many session → subject bindings are kept. A session whose binding was evicted is
/// refused (404) like an unknown one, so eviction costs a re-initialize, never a hijack.
const MAX_SESSIONS: usize = 100_000;

/// Why a request was refused, for the auth-failure counter, when the response does not say it
/// in a `WWW-Authenticate` header.
#[derive(Clone, Copy, Debug)]
struct Refusal(&'static str);

/// The state of [`guard`].
pub(super) struct McpGuard {
    tools: mcp_tools::SplunkTools,
    challenge: ChallengeConfig,
    caller_check: Option<CallerCheck>,
    /// Session id → subject; `None` in stateless mode, where there are no sessions.
    sessions: Option<quick_cache::sync::Cache<String, Arc<str>>>,
}

impl McpGuard {
    pub(super) fn new(
        tools: mcp_tools::SplunkTools,
        challenge: ChallengeConfig,
        caller_check: Option<CallerCheck>,
        sessions: bool,
    ) -> Self {
        Self {
            tools,
            challenge,
            caller_check,
            sessions: sessions.then(|| quick_cache::sync::Cache::new(MAX_SESSIONS)),
        }
    }
}

/// The middleware: runs after auth-core's layer, so an [`AuthContext`] is in the extensions.
pub(super) async fn guard(
    State(guard): State<Arc<McpGuard>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(caller) = request.extensions().get::<AuthContext>().cloned() else {
        // Only mounted behind the auth layer; without a caller there is nothing to check.
        return next.run(request).await;
    };
    if let Some(check) = &guard.caller_check
        && let Err(message) = check(&caller)
    {
        tracing::info!(subject = caller.subject(), reason = %message, "caller refused");
        return access_denied(&message);
    }

    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let (Some(sessions), Some(id)) = (&guard.sessions, &session) {
        match sessions.get(id.as_str()) {
            Some(owner) if &*owner == caller.subject() => {}
            Some(owner) => {
                tracing::warn!(
                    subject = caller.subject(),
                    session_owner = &*owner,
                    "request for a session opened by another subject; answering as unknown session"
                );
                return session_not_found(Some("session_subject_mismatch"));
            }
            None => return session_not_found(None),
        }
    }

    let is_delete = request.method() == Method::DELETE;
    let request = if request.method() == Method::POST {
        match precheck(&guard, &caller, request).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    } else {
        request
    };

    let response = next.run(request).await;

    if let Some(sessions) = &guard.sessions
        && response.status().is_success()
    {
        match &session {
            Some(id) if is_delete => {
                sessions.remove(id.as_str());
            }
            Some(_) => {}
            None => {
                // A new session (initialize): bind it to whoever opened it.
                if let Some(id) = response
                    .headers()
                    .get(SESSION_HEADER)
                    .and_then(|v| v.to_str().ok())
                {
                    sessions.insert(id.to_owned(), Arc::from(caller.subject()));
                }
            }
        }
    }
    response
}

/// Reads the body (bounded) and refuses a `tools/call` the caller lacks the scopes for;
/// otherwise hands back the request with its body intact.
async fn precheck(
    guard: &McpGuard,
    caller: &AuthContext,
    request: Request,
) -> Result<Request, Response> {
    let declared_too_big = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > PEEK_LIMIT as u64);
    if declared_too_big {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    let (peeked, body) = match peek(body).await {
        Ok(read) => read,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the request body");
            return Err((StatusCode::BAD_REQUEST, "cannot read the request body").into_response());
        }
    };
    if let Some(bytes) = &peeked
        && let Some(response) = check_calls(guard, caller, bytes)
    {
        return Err(response);
    }
    Ok(Request::from_parts(parts, body))
}

/// The whole body if it fits in [`PEEK_LIMIT`], and a body to forward that yields exactly
/// what the client sent either way.
async fn peek(body: Body) -> Result<(Option<Bytes>, Body), axum::Error> {
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        buffer.extend_from_slice(&chunk);
        if buffer.len() > PEEK_LIMIT {
            let head = futures::stream::once(async move { Ok::<_, axum::Error>(buffer.freeze()) });
            return Ok((None, Body::from_stream(head.chain(stream))));
        }
    }
    let bytes = buffer.freeze();
    Ok((Some(bytes.clone()), Body::from(bytes)))
}

/// The two fields of a JSON-RPC message the pre-check reads. serde skips the rest (arguments,
/// the 2026-07-28 `_meta`) without building it: a `serde_json::Value` of the whole body cost
/// 5–7% of the instructions of a whole stateless `tools/call` (callgrind, docs/benchmarks.md).
#[derive(serde::Deserialize)]
struct Peeked<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<PeekedParams<'a>>,
}

#[derive(serde::Deserialize)]
struct PeekedParams<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

/// The 403 for the first `tools/call` in `body` that `caller` may not make, if any. Bodies
/// that are not JSON-RPC, other methods and unknown tools are left to rmcp.
fn check_calls(guard: &McpGuard, caller: &AuthContext, body: &[u8]) -> Option<Response> {
    let is_batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let messages: Vec<Peeked<'_>> = if is_batch {
        serde_json::from_slice(body).ok()?
    } else {
        vec![serde_json::from_slice(body).ok()?]
    };
    let registry = guard.tools.registry();
    messages.iter().find_map(|message| {
        if message.method.as_deref() != Some("tools/call") {
            return None;
        }
        let tool = message.params.as_ref()?.name.as_deref()?;
        if !registry.contains(tool) {
            return None;
        }
        match registry.evaluate(tool, caller) {
            Decision::Allow => None,
            Decision::Deny(denial) => {
                tracing::info!(
                    subject = caller.subject(),
                    tool,
                    missing_scopes = %denial.missing_scopes,
                    unattainable_scopes = %denial.unattainable_scopes,
                    missing_groups = ?denial.missing_groups,
                    "tool call refused before dispatch"
                );
                Some(refused(
                    tool,
                    &denial,
                    &registry.refusal_reason(&denial),
                    caller.scopes(),
                    &guard.challenge,
                ))
            }
        }
    })
}

/// The 403 for a refused call. When a scope the caller may hold is missing, an
/// `insufficient_scope` challenge asks for what the tool needs plus what the token already has
/// (so a step-up loses nothing). When only scopes the caller's groups may not hold, or groups,
/// are missing, no other token would help: `access_denied` saying why.
fn refused(
    tool: &str,
    denial: &Denial,
    reason: &str,
    granted: &ScopeSet,
    config: &ChallengeConfig,
) -> Response {
    let missing = &denial.missing_scopes;
    if missing.is_empty() || !denial.unattainable_scopes.is_empty() {
        return forbidden(json!({
            "error": "access_denied",
            "error_description": format!("calling {tool} {reason}"),
            "tool": tool,
        }));
    }
    let description = format!("calling {tool} needs the scope(s): {missing}");
    let challenge = Challenge::InsufficientScope {
        scope: missing.union(granted),
        description: Some(description.clone()),
    };
    let body = json!({
        "error": "insufficient_scope",
        "error_description": description,
        "tool": tool,
        "missing_scopes": missing.iter().collect::<Vec<_>>(),
    });
    let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&challenge.header_value(config)) {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 403 `access_denied` with `message`: the token is valid, but this caller may not use the
/// server at all, and no other scope would change that.
fn access_denied(message: &str) -> Response {
    forbidden(json!({ "error": "access_denied", "error_description": message }))
}

/// 403 with an `access_denied` JSON body, never cached.
fn forbidden(body: serde_json::Value) -> Response {
    let mut response = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(Refusal("access_denied"));
    response
}

/// 404 as rmcp answers for a session it does not know; the MCP client then re-initializes.
fn session_not_found(refusal: Option<&'static str>) -> Response {
    let mut response = (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
    if let Some(reason) = refusal {
        response.extensions_mut().insert(Refusal(reason));
    }
    response
}

/// Counts refused `/mcp` requests by reason: the challenge's `error` code, `missing_token`
/// for a 401 without one, or what the guard noted.
pub(super) async fn count_auth_failures(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(reason) = refusal_reason(&response) {
        metrics.record_auth_failure(reason);
    }
    response
}

fn refusal_reason(response: &Response) -> Option<&str> {
    if let Some(Refusal(reason)) = response.extensions().get::<Refusal>() {
        return Some(reason);
    }
    let challenge = response.headers().get(WWW_AUTHENTICATE)?.to_str().ok()?;
    let params = challenge.strip_prefix("Bearer")?;
    // Quoted values cannot hold '"' (auth-core replaces it), so `error="` starts a parameter.
    let code = params
        .split([' ', ','])
        .find_map(|p| p.strip_prefix("error=\""))
        .and_then(|rest| rest.split('"').next());
    match (code, response.status()) {
        (Some(code), _) => Some(code),
        (None, StatusCode::UNAUTHORIZED) => Some("missing_token"),
        (None, StatusCode::SERVICE_UNAVAILABLE) => Some("unavailable"),
        (None, _) => None,
    }
}
