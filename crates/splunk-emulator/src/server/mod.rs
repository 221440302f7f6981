//! The HTTP server: accept loop (plain or TLS), the per-request pipeline (faults, namespace
//! rewriting, parameters, authentication, request log) and the shared state behind the routes.

pub(crate) mod envelope;
pub(crate) mod error;
pub(crate) mod faults;
pub(crate) mod tls;
pub(crate) mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

pub(crate) use error::ApiError;

use crate::api;
use crate::auth::{self, Caller};
use crate::data::Dataset;
use crate::directory::Directory;
use crate::{EmulatorConfig, FaultConfig};

/// Errors starting an emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The certificate or TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The HTTP client used to fetch IdP keys could not be built.
    #[error("HTTP client setup failed: {0}")]
    HttpClient(String),
}

/// One request as the emulator saw it, for tests asserting what a client did.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestLogEntry {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// The path as requested (before `/servicesNS/{owner}/{app}` rewriting), e.g. `/services/search/jobs`.
    pub path: String,
    /// Query and form parameters in order; secrets (`password`, `token`, ...) read `[redacted]`.
    pub params: Vec<(String, String)>,
    /// The authenticated user, if the request carried valid credentials.
    pub user: Option<String>,
    /// The scheme of the `Authorization` header (`Splunk`, `Bearer`, `Basic`), if any.
    pub auth_scheme: Option<String>,
    /// The answer's status code (0 when the connection was dropped by fault injection).
    pub status: u16,
}

/// Parameter names whose values never reach the request log.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "oldpassword",
    "token",
    "sessionkey",
    "secret",
    "client_secret",
];

/// Query-string and form parameters of a request, in order, with repeated names kept; plus the raw
/// body for endpoints that take JSON (the KV store).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
    /// The request body as sent.
    pub(crate) body: Bytes,
}

impl Params {
    /// The last value given for `name` (splunkd lets a later value win).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values given for a repeated `name` (e.g. `roles`).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` was given at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// Every pair, for echoing a job's `request`.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The app of a `/servicesNS/{owner}/{app}` request path (`None` under plain `/services`). The
/// owner part is accepted and ignored: objects here are shared globally or per caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Namespace {
    /// `app`; `-` is the wildcard.
    pub(crate) app: Option<String>,
}

impl Namespace {
    /// The app to create objects in (`search` when none or the wildcard was given).
    pub(crate) fn app_or_search(&self) -> &str {
        match self.app.as_deref() {
            Some(app) if app != "-" => app,
            _ => "search",
        }
    }
}

/// What every handler gets: parameters, namespace and the authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Query and form parameters.
    pub(crate) params: Params,
    /// The namespace of the path.
    pub(crate) ns: Namespace,
    /// The caller; `None` only on `auth/login`.
    pub(crate) caller: Option<Arc<Caller>>,
}

impl Ctx {
    /// The authenticated caller (the pipeline guarantees one on every route but `auth/login`).
    pub(crate) fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_deref().ok_or_else(ApiError::unauthenticated)
    }
}

/// State shared by all routes of one emulator instance.
pub(crate) struct AppState {
    /// The configuration it was started with.
    pub(crate) config: EmulatorConfig,
    /// `http(s)://127.0.0.1:PORT`, used in `id` and `origin`.
    pub(crate) base_url: String,
    /// The seeded events.
    pub(crate) dataset: Arc<Dataset>,
    /// Users and roles.
    pub(crate) directory: RwLock<Directory>,
    /// Session keys.
    pub(crate) sessions: auth::sessions::SessionStore,
    /// Splunk authentication tokens.
    pub(crate) tokens: auth::tokens::TokenStore,
    /// External OAuth 2.0 providers and group mappings.
    pub(crate) oauth2: auth::oauth2::OAuth2Registry,
    /// Search jobs.
    pub(crate) jobs: api::jobs::JobStore,
    /// Saved searches and apps.
    pub(crate) catalog: api::catalog::Catalog,
    /// KV store collections.
    pub(crate) kv: api::kvstore::KvStore,
    /// Faults in force.
    pub(crate) faults: RwLock<FaultConfig>,
    /// The request log.
    pub(crate) log: Mutex<Vec<RequestLogEntry>>,
    /// `server/info` guid.
    pub(crate) guid: String,
    /// When the instance started.
    pub(crate) started: DateTime<Utc>,
}

/// Entry point: builds and starts emulator instances.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Seeds the data, binds the listener and starts serving in the background (needs a Tokio runtime).
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.bind,
                source,
            })?;
        let tls = if config.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let now = Utc::now();
        let bench = config.bench_events;
        let dataset = tokio::task::spawn_blocking(move || Arc::new(Dataset::seeded(now, bench)))
            .await
            .map_err(|e| EmulatorError::Tls(format!("seeding failed: {e}")))?;
        let http = build_http_client(config.idp_ca_pem.as_deref())?;
        let state = Arc::new(AppState {
            directory: RwLock::new(Directory::seeded(&config.admin_password)),
            sessions: auth::sessions::SessionStore::default(),
            tokens: auth::tokens::TokenStore::new(&config.server_name),
            oauth2: auth::oauth2::OAuth2Registry::new(http),
            jobs: api::jobs::JobStore::default(),
            catalog: api::catalog::Catalog::seeded(now),
            kv: api::kvstore::KvStore::seeded(),
            faults: RwLock::new(config.faults.clone()),
            log: Mutex::new(Vec::new()),
            guid: random_guid(),
            started: now,
            base_url: base_url.clone(),
            dataset,
            config,
        });
        let router = api::router(state.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            state.clone(),
            router,
            stop_rx,
        ));
        tokio::spawn(api::jobs::reap_expired(Arc::downgrade(&state)));
        tracing::info!(url = %base_url, "splunk emulator listening");
        Ok(RunningEmulator {
            url: base_url,
            addr,
            ca_pem: tls.map(|t| t.ca_pem),
            state,
            stop: stop_tx,
            task: Some(task),
        })
    }
}

/// A running emulator instance. Dropping it stops the server.
#[derive(Debug)]
pub struct RunningEmulator {
    url: String,
    addr: SocketAddr,
    ca_pem: Option<String>,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The base URL, e.g. `https://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the server certificate (`None` when serving plain HTTP).
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Replaces the faults in force.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.state.faults.write() = faults;
    }

    /// The faults in force.
    pub fn faults(&self) -> FaultConfig {
        self.state.faults.read().clone()
    }

    /// Makes every session key issued so far expire now (clients must log in again).
    pub fn expire_sessions(&self) {
        self.state.sessions.expire_all();
    }

    /// Every request seen since start or the last [`clear_request_log`](Self::clear_request_log).
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.state.log.lock().clone()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.state.log.lock().clear();
    }

    /// Stops accepting connections and closes the open ones.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn random_guid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn build_http_client(extra_ca: Option<&str>) -> Result<reqwest::Client, EmulatorError> {
    let tls = tls::client_config(extra_ca)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| EmulatorError::HttpClient(e.to_string()))
}

// The server runs its own accept loop on hyper-util instead of `axum::serve` because it must
// (a) terminate TLS with tokio-rustls on the same code path as plain HTTP, and (b) drop a
// connection without answering when fault injection asks for it, which `axum::serve` cannot do.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let router = router.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(state.clone(), router.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
                    Err(error) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
    connections.shutdown().await;
}

/// The per-request pipeline, in splunkd's order: faults, parameters, authentication, routing.
async fn handle(
    state: Arc<AppState>,
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, std::io::Error> {
    let faults = state.faults.read().clone();
    let (latency, fault) = faults::draw(&faults);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (mut parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let original_path = parts.uri.path().to_owned();
    let scheme = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_owned);
    let mut entry = RequestLogEntry {
        method,
        path: original_path.clone(),
        params: Vec::new(),
        user: None,
        auth_scheme: scheme,
        status: 0,
    };
    if fault == faults::Fault::Drop {
        state.log.lock().push(entry);
        return Err(std::io::Error::other(
            "connection dropped by fault injection",
        ));
    }
    let body = match axum::body::to_bytes(Body::new(body), 64 * 1024 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Ok(finish(
                &state,
                entry,
                ApiError::bad_request("Request body too large").into_response(),
            ));
        }
    };
    let params = parse_params(
        parts.uri.query(),
        parts.headers.get(header::CONTENT_TYPE),
        body,
    );
    entry.params = params
        .pairs
        .iter()
        .map(|(k, v)| {
            let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
            (
                k.clone(),
                if secret {
                    "[redacted]".to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let (path, ns) = rewrite_namespace(&original_path);
    // splunkd answers XML unless asked for JSON; the emulator does so where splunklib needs it.
    let xml = xml::shape_for(parts.method.as_str(), &path, &params);
    if fault == faults::Fault::Error {
        let response = envelope::messages(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR",
            "Service Unavailable",
        );
        return Ok(finish(&state, entry, as_xml(xml, response).await));
    }
    let is_login = path == "/services/auth/login";
    let caller = if is_login {
        None
    } else {
        match auth::authenticate(&state, &parts.headers).await {
            Ok(caller) => Some(Arc::new(caller)),
            Err(reason) => {
                tracing::debug!(path = %original_path, %reason, "rejected credentials");
                let response = ApiError::unauthenticated().into_response();
                return Ok(finish(&state, entry, as_xml(xml, response).await));
            }
        }
    };
    entry.user = caller.as_ref().map(|c| c.username.clone());
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    parts.uri = Uri::builder()
        .path_and_query(path_and_query)
        .build()
        .unwrap_or_else(|_| Uri::from_static("/"));
    parts.extensions.insert(Ctx {
        params: params.clone(),
        ns,
        caller,
    });
    let request = Request::from_parts(parts, Body::from(params.body.clone()));
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    Ok(finish(&state, entry, as_xml(xml, response).await))
}

/// The handler's JSON answer in splunkd's XML when `shape` says so (small bodies only: logins,
/// sids, messages, single entries).
async fn as_xml(shape: Option<xml::Shape>, response: Response<Body>) -> Response<Body> {
    let Some(shape) = shape else {
        return response;
    };
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(bytes) => xml::rewrite(shape, Response::from_parts(parts, Body::empty()), &bytes),
        Err(error) => {
            tracing::warn!(%error, "could not read an answer to render it as XML");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ERROR",
                "answer could not be rendered",
            )
            .into_response()
        }
    }
}

fn finish(
    state: &AppState,
    mut entry: RequestLogEntry,
    mut response: Response<Body>,
) -> Response<Body> {
    entry.status = response.status().as_u16();
    tracing::debug!(method = %entry.method, path = %entry.path, status = entry.status, user = ?entry.user, "request");
    state.log.lock().push(entry);
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("Splunkd"));
    response
}

fn parse_params(query: Option<&str>, content_type: Option<&HeaderValue>, body: Bytes) -> Params {
    let mut pairs: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default();
    let is_form = content_type
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form
        && !body.is_empty()
        && let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
    {
        pairs.extend(form);
    }
    Params { pairs, body }
}

/// Maps `/servicesNS/{owner}/{app}/rest` onto `/services/rest`, keeping owner and app aside, so
/// every route is declared once.
fn rewrite_namespace(path: &str) -> (String, Namespace) {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    if let Some(rest) = trimmed.strip_prefix("/servicesNS/") {
        let mut parts = rest.splitn(3, '/');
        let _owner = parts.next();
        let app = parts.next().unwrap_or_default().to_owned();
        let tail = parts.next().unwrap_or_default();
        let ns = Namespace { app: Some(app) };
        return (format!("/services/{tail}"), ns);
    }
    (trimmed.to_owned(), Namespace::default())
}

/// What handlers return.
pub(crate) type HandlerResult = Result<axum::response::Response, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_paths_map_onto_services() {
        let (path, ns) = rewrite_namespace("/servicesNS/nobody/search/saved/searches/x/");
        assert_eq!(path, "/services/saved/searches/x");
        assert_eq!(ns.app.as_deref(), Some("search"));
        let (path, ns) = rewrite_namespace("/services/search/jobs");
        assert_eq!(path, "/services/search/jobs");
        assert!(ns.app.is_none());
        assert_eq!(ns.app_or_search(), "search");
    }

    #[test]
    fn params_keep_repeats_and_later_values_win() {
        let body = Bytes::from_static(b"roles=a&roles=b&name=x");
        let params = parse_params(Some("name=y&output_mode=json"), None, body);
        assert_eq!(params.all("roles"), vec!["a", "b"]);
        assert_eq!(params.get("name"), Some("x"));
        assert!(params.has("output_mode"));
    }
}
