//! The tower [`AuthLayer`] and the axum extractor for [`AuthContext`] (feature `tower`).
//!
//! Mount it with axum's `Router::route_layer`, not `layer`, so that requests to routes that do
//! not exist still get 404 rather than a 401 that leaks nothing useful and confuses clients.
//!
//! Tokens are read from the `Authorization` header only. A request with an `access_token` query
//! parameter is refused with 400 `invalid_request` (RFC 6750 §2.3 lets a resource server refuse
//! that method; §3.1 makes it a malformed request): URLs end up in logs, histories and Referer
//! headers, and silently ignoring the parameter would hide a client bug as a confusing 401.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};

use crate::challenge::{Challenge, ChallengeConfig};
use crate::context::AuthContext;
use crate::error::AuthError;
use crate::policy::{Decision, Policy};
use crate::verifier::TokenVerifier;

#[derive(Clone)]
struct Shared {
    verifier: Arc<dyn TokenVerifier>,
    challenge: ChallengeConfig,
    pass_exact: Vec<String>,
    pass_prefix: Vec<String>,
    policy: Option<Policy>,
}

/// A tower layer that authenticates every request with a bearer token.
#[derive(Clone)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("pass_through", &self.shared.pass_exact)
            .finish()
    }
}

impl AuthLayer {
    /// Verifies tokens with `verifier`; challenges carry `challenge`.
    pub fn new(verifier: Arc<dyn TokenVerifier>, challenge: ChallengeConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                verifier,
                challenge,
                pass_exact: Vec::new(),
                pass_prefix: Vec::new(),
                policy: None,
            }),
        }
    }

    fn shared_mut(&mut self) -> &mut Shared {
        // Copy-on-write: configuring a clone never changes layers already handed out.
        Arc::make_mut(&mut self.shared)
    }

    /// Lets requests for exactly `path` through unauthenticated (e.g. the well-known documents).
    pub fn pass_through(mut self, path: impl Into<String>) -> Self {
        self.shared_mut().pass_exact.push(path.into());
        self
    }

    /// Lets every path starting with `prefix` through unauthenticated.
    pub fn pass_through_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.shared_mut().pass_prefix.push(prefix.into());
        self
    }

    /// A policy every authenticated request must also satisfy (403 `insufficient_scope` if not).
    pub fn require(mut self, policy: Policy) -> Self {
        self.shared_mut().policy = Some(policy);
        self
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthService")
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> tower::Service<Request<B>> for AuthService<S>
where
    S: tower::Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clone is not ready; swap so the ready one serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let path = req.uri().path();
            if shared.pass_exact.iter().any(|p| p == path)
                || shared
                    .pass_prefix
                    .iter()
                    .any(|p| path.starts_with(p.as_str()))
            {
                return inner.call(req).await;
            }
            let token = match bearer_from(&req) {
                Ok(Some(token)) => token,
                Ok(None) => return Ok(challenge_response(&Challenge::NoToken, &shared.challenge)),
                Err(e) => {
                    tracing::debug!(error = %e.internal_detail(), "malformed authentication");
                    return Ok(challenge_response(
                        &Challenge::for_error(&e),
                        &shared.challenge,
                    ));
                }
            };
            let ctx = match shared.verifier.verify(&token).await {
                Ok(ctx) => ctx,
                Err(e) => {
                    if e.is_server_error() {
                        tracing::warn!(kind = ?e.kind(), error = %e.internal_detail(), "token verification unavailable");
                    } else {
                        tracing::debug!(kind = ?e.kind(), error = %e.internal_detail(), "token refused");
                    }
                    return Ok(challenge_response(
                        &Challenge::for_error(&e),
                        &shared.challenge,
                    ));
                }
            };
            drop(token);
            if let Some(policy) = &shared.policy
                && let Decision::Deny(denial) = policy.evaluate(&ctx)
            {
                tracing::debug!(subject = ctx.subject(), missing = %denial.missing_scopes, "request lacks scopes");
                return Ok(challenge_response(
                    &denial.challenge(ctx.scopes()),
                    &shared.challenge,
                ));
            }
            req.extensions_mut().insert(ctx);
            inner.call(req).await
        })
    }
}

/// The bearer token of a request: `Ok(None)` when no bearer credentials were sent.
fn bearer_from<B>(req: &Request<B>) -> Result<Option<zeroize::Zeroizing<String>>, AuthError> {
    if let Some(q) = req.uri().query()
        && q.split('&')
            .any(|kv| kv.split('=').next() == Some("access_token"))
    {
        return Err(AuthError::InvalidRequest(
            "access_token in the query string".to_owned(),
        ));
    }
    let mut values = req.headers().get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::InvalidRequest(
            "several Authorization headers".to_owned(),
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::InvalidRequest("Authorization is not ASCII".to_owned()))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, ...) is not a bearer credential: answer as for none.
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::InvalidRequest(
            "Authorization: Bearer needs exactly one token".to_owned(),
        ));
    }
    Ok(Some(zeroize::Zeroizing::new(token.to_owned())))
}

/// Builds the response for a challenge: status, `WWW-Authenticate`, JSON error body.
pub fn challenge_response(challenge: &Challenge, config: &ChallengeConfig) -> Response {
    let status = StatusCode::from_u16(challenge.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let header = challenge.header_value(config);
    let mut resp = match challenge.body() {
        Some(body) => (status, body.to_string()).into_response(),
        None => status.into_response(),
    };
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&header) {
        headers.insert(WWW_AUTHENTICATE, v);
    }
    if challenge.body().is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Rejection of the [`AuthContext`] extractor: the handler was reached without a verified
/// token, i.e. the layer is not mounted on this route. Fails closed with a bare 401.
#[derive(Debug, Clone, Copy)]
pub struct MissingAuthContext;

impl IntoResponse for MissingAuthContext {
    fn into_response(self) -> Response {
        challenge_response(&Challenge::NoToken, &ChallengeConfig::default())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = MissingAuthContext;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .ok_or(MissingAuthContext)
    }
}

/// `Option<AuthContext>`: `None` where the layer did not authenticate, as on pass-through routes
/// (it does not look at their tokens at all, so even a valid token yields `None` there).
impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AuthContext>().cloned())
    }
}
