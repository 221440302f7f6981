//! What the proxy-mode tests share: the binary as a process that can be SIGKILLed, a private
//! `redis-server`, a loopback TCP balancer that puts several replicas behind one public URL,
//! and the OAuth steps an MCP client takes against splunk-mcp's authorization server (DCR,
//! `/authorize` with `login_hint`, the consent form, the IdP round trip, `/token`, `/revoke`),
//! driven over plain HTTP with [`e2e_tests::Browser`].
//!
//! Tokens are secrets even in tests: nothing here prints one, and failure messages show OAuth
//! error codes, never token responses.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_tests::{Browser, ConsentForm, Pkce, REDIRECT_URI, Visit, query_param};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{challenge_of, initialize_request, post_mcp};

/// What the test clients ask for: every tool scope but admin.
pub(crate) const SCOPE: &str = "splunk:read splunk:search";

/// Where registered test clients are sent back (nothing listens; the browser stops there).
pub(crate) const CLIENT_REDIRECT: &str = REDIRECT_URI;

/// A client for OAuth steps: no redirects followed, and no connection reuse, so each request
/// opens its own connection and a [`Balancer`] routes it to the replica the test chose.
pub(crate) fn oauth_http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// A replica is the binary as every server test starts it; [`Server::kill9`] ends it like
/// `kill -9`.
pub(crate) use crate::support::Server as Replica;

pub(crate) use e2e_tests::RedisServer;

/// Which backend new connections go to, and how many each got.
#[derive(Default)]
struct Routes {
    backends: Vec<SocketAddr>,
    current: usize,
    connections: Vec<usize>,
}

/// A loopback TCP balancer: one public URL in front of several replicas, as a load balancer
/// gives a real deployment. Each new connection goes to the backend chosen by
/// [`Balancer::route_to`]; with [`oauth_http`] every request is a new connection, so a test
/// decides which replica answers each step.
pub(crate) struct Balancer {
    /// `http://127.0.0.1:PORT`: every replica's `MCP_BASE_URL`.
    pub(crate) url: String,
    routes: Arc<Mutex<Routes>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free loopback port; add backends before sending traffic.
    pub(crate) async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = routes.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let backend = {
                    let mut routes = shared.lock().expect("routes");
                    let current = routes.current;
                    routes.connections[current] += 1;
                    routes.backends[current]
                };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { url, routes, task }
    }

    /// Adds a backend; returns its index for [`Balancer::route_to`].
    pub(crate) fn add(&self, replica: &Replica) -> usize {
        let mut routes = self.routes.lock().expect("routes");
        routes.backends.push(replica.addr());
        routes.connections.push(0);
        routes.backends.len() - 1
    }

    /// Puts `replica` in place of backend `index` (a restarted process on a new port).
    pub(crate) fn replace(&self, index: usize, replica: &Replica) {
        self.routes.lock().expect("routes").backends[index] = replica.addr();
    }

    /// Sends new connections to backend `index`.
    pub(crate) fn route_to(&self, index: usize) {
        self.routes.lock().expect("routes").current = index;
    }

    /// How many connections each backend got so far.
    pub(crate) fn connections(&self) -> Vec<usize> {
        self.routes.lock().expect("routes").connections.clone()
    }

    /// `<url>/mcp`, the protected resource and audience of every token.
    pub(crate) fn mcp_url(&self) -> String {
        format!("{}/mcp", self.url)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Registers a public native client (PKCE only) redirecting to [`CLIENT_REDIRECT`], by RFC 7591
/// dynamic registration at `base`, for [`SCOPE`]; returns its `client_id`.
pub(crate) async fn register(http: &reqwest::Client, base: &str) -> String {
    register_with_scope(http, base, SCOPE).await
}

/// [`register`] for the space-separated `scope`.
pub(crate) async fn register_with_scope(http: &reqwest::Client, base: &str, scope: &str) -> String {
    let grants = ["authorization_code", "refresh_token"];
    let body = registered(http, base, scope, &grants, "none").await;
    body["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no client_id in {body}"))
        .to_owned()
}

/// The authorization server metadata (RFC 8414) of the proxy at `base`.
pub(crate) async fn metadata(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata JSON")
}

/// A confidential client (`client_secret_basic`) for `scope` and `grant_types`: its id and
/// secret.
pub(crate) async fn register_confidential(
    http: &reqwest::Client,
    base: &str,
    scope: &str,
    grant_types: &[&str],
) -> (String, String) {
    let body = registered(http, base, scope, grant_types, "client_secret_basic").await;
    let field = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .to_owned()
    };
    (field("client_id"), field("client_secret"))
}

/// The registration answer of a native client with `auth_method` at the token endpoint.
async fn registered(
    http: &reqwest::Client,
    base: &str,
    scope: &str,
    grant_types: &[&str],
    auth_method: &str,
) -> Value {
    let response = http
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "proxy test client",
            "redirect_uris": [CLIENT_REDIRECT],
            "grant_types": grant_types,
            "response_types": ["code"],
            "token_endpoint_auth_method": auth_method,
            "application_type": "native",
            "scope": scope,
        }))
        .send()
        .await
        .expect("POST /register");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "registration: {body}");
    body
}

/// One authorization request of a client: its URL, and the PKCE verifier and state to check
/// the answer with.
pub(crate) struct Authorization {
    /// `<base>/authorize?...`.
    pub(crate) url: Url,
    /// The PKCE pair (S256).
    pub(crate) pkce: Pkce,
    /// The client's `state`.
    pub(crate) state: String,
    /// The server's base URL (issuer).
    pub(crate) base: String,
}

impl Authorization {
    /// `client_id` asks `base` to sign `user` in (the test IdP logs in the `login_hint` user
    /// with no human) for `<base>/mcp` with [`SCOPE`].
    pub(crate) fn new(base: &str, client_id: &str, user: &str) -> Self {
        let pkce = Pkce::new();
        // Another random PKCE verifier makes a fine unguessable state.
        let state = Pkce::new().verifier;
        let url = Url::parse_with_params(
            &format!("{base}/authorize"),
            [
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", CLIENT_REDIRECT),
                ("scope", SCOPE),
                ("state", &state),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("resource", &format!("{base}/mcp")),
                ("login_hint", user),
            ],
        )
        .expect("authorization URL");
        Self {
            url,
            pkce,
            state,
            base: base.to_owned(),
        }
    }

    /// The same request asking for the space-separated `scope` instead of [`SCOPE`].
    pub(crate) fn with_scope(mut self, scope: &str) -> Self {
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "scope" {
                    scope.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        self.url.query_pairs_mut().clear().extend_pairs(pairs);
        self
    }

    /// The code of the client's landing URL, after checking `state` (and RFC 9207 `iss` when
    /// the server sends it).
    pub(crate) fn code_from(&self, landing: &Url) -> String {
        assert!(
            landing.as_str().starts_with(CLIENT_REDIRECT),
            "landed at {} instead of the client's redirect URI",
            landing.origin().ascii_serialization()
        );
        assert_eq!(
            query_param(landing, "state").as_deref(),
            Some(self.state.as_str()),
            "state echoed"
        );
        if let Some(iss) = query_param(landing, "iss") {
            assert_eq!(iss, self.base, "RFC 9207 iss");
        }
        query_param(landing, "code").unwrap_or_else(|| {
            panic!(
                "no code: error={:?} {:?}",
                query_param(landing, "error"),
                query_param(landing, "error_description")
            )
        })
    }
}

/// The consent form of the page at `url`; panics when the page has none.
fn consent_form(url: &Url, body: &str) -> ConsentForm {
    ConsentForm::parse(url, body)
        .unwrap_or_else(|| panic!("no consent form with an approve button: {body}"))
}

/// Opens the authorization URL in `browser` (which keeps the cookies it sets) and expects the
/// consent page; returns its form.
pub(crate) async fn consent_page(
    browser: &mut Browser,
    authorization: &Authorization,
) -> ConsentForm {
    match browser
        .visit(authorization.url.clone(), CLIENT_REDIRECT)
        .await
    {
        Visit::Page { url, status, body } => {
            assert_eq!(status, StatusCode::OK, "consent page: {body}");
            consent_form(&url, &body)
        }
        Visit::Redirected(landing) => panic!(
            "/authorize redirected to the client without a consent page (error={:?})",
            query_param(&landing, "error")
        ),
    }
}

/// Approves the consent form; the browser follows the IdP's automated login until a redirect
/// starts with `stop_prefix`, which is returned.
pub(crate) async fn approve(browser: &mut Browser, form: &ConsentForm, stop_prefix: &str) -> Url {
    let fields = form.with_decision("approve");
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match browser
        .post_form(form.action.clone(), &fields, stop_prefix)
        .await
    {
        Visit::Redirected(url) => url,
        Visit::Page { url, status, body } => {
            panic!("after consent the sign-in stopped at {url} with {status}: {body}")
        }
    }
}

/// A whole sign-in in `browser`: `/authorize`, the consent page when shown (a browser that
/// approved this client before may skip it), the IdP, `/auth/callback`, back to the client.
/// Returns the authorization and the code.
pub(crate) async fn sign_in(
    browser: &mut Browser,
    base: &str,
    client_id: &str,
    user: &str,
) -> (Authorization, String) {
    let authorization = Authorization::new(base, client_id, user);
    let landing = match browser
        .visit(authorization.url.clone(), CLIENT_REDIRECT)
        .await
    {
        Visit::Redirected(landing) => landing,
        Visit::Page { url, status, body } => {
            assert_eq!(status, StatusCode::OK, "consent page: {body}");
            let form = consent_form(&url, &body);
            approve(browser, &form, CLIENT_REDIRECT).await
        }
    };
    let code = authorization.code_from(&landing);
    (authorization, code)
}

/// A `/token` answer: status, `Cache-Control`, and the JSON body.
pub(crate) struct TokenAnswer {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The `Cache-Control` header.
    pub(crate) cache_control: Option<String>,
    /// The JSON body (`Null` when it is not JSON).
    pub(crate) body: Value,
}

impl TokenAnswer {
    /// The OAuth `error` code, for messages that must not show tokens.
    pub(crate) fn error(&self) -> String {
        format!(
            "HTTP {} error={} ({})",
            self.status, self.body["error"], self.body["error_description"]
        )
    }

    /// The successful answer's tokens: `(access_token, refresh_token)`.
    pub(crate) fn tokens(&self) -> (String, String) {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "token request: {}",
            self.error()
        );
        let field = |name: &str| {
            self.body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in the token response"))
                .to_owned()
        };
        (field("access_token"), field("refresh_token"))
    }
}

/// `POST <base>/token` with `form` (a public client: `client_id` in the form).
pub(crate) async fn token(
    http: &reqwest::Client,
    base: &str,
    form: &[(&str, &str)],
) -> TokenAnswer {
    let response = http
        .post(format!("{base}/token"))
        .form(form)
        .send()
        .await
        .expect("POST /token");
    let status = response.status();
    let cache_control = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    TokenAnswer {
        status,
        cache_control,
        body,
    }
}

/// Redeems the code of `authorization` for `client_id` at `base` (which may be another replica
/// than the one that issued it).
pub(crate) async fn redeem(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    authorization: &Authorization,
    code: &str,
) -> TokenAnswer {
    let resource = format!("{}/mcp", authorization.base);
    token(
        http,
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &authorization.pkce.verifier),
            ("client_id", client_id),
            ("resource", &resource),
        ],
    )
    .await
}

/// A refresh-token grant for `client_id` at `base`.
pub(crate) async fn refresh(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    refresh_token: &str,
) -> TokenAnswer {
    token(
        http,
        base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

/// RFC 7009 revocation of `token` by public client `client_id` at `base`: the status.
pub(crate) async fn revoke(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    token: &str,
) -> StatusCode {
    http.post(format!("{base}/revoke"))
        .form(&[("token", token), ("client_id", client_id)])
        .send()
        .await
        .expect("POST /revoke")
        .status()
}

/// An MCP `initialize` POST to `mcp_url` with `token`: the status and the
/// `WWW-Authenticate` challenge, if any.
pub(crate) async fn mcp_initialize(
    http: &reqwest::Client,
    mcp_url: &str,
    token: &str,
) -> (StatusCode, Option<String>) {
    let response = post_mcp(http, mcp_url, Some(token), None, &initialize_request()).await;
    let status = response.status();
    let challenge = response
        .headers()
        .contains_key(reqwest::header::WWW_AUTHENTICATE)
        .then(|| challenge_of(&response));
    (status, challenge)
}

/// Asserts that `/mcp` refuses `token` with 401 `invalid_token` (RFC 6750), saying `why`.
pub(crate) async fn assert_invalid_token(
    http: &reqwest::Client,
    mcp_url: &str,
    token: &str,
    why: &str,
) {
    let (status, challenge) = mcp_initialize(http, mcp_url, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {challenge:?}");
    let challenge = challenge.unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{why}: challenge {challenge:?}"
    );
}

/// Asserts that `/mcp` accepts `token` (an `initialize` answered 200).
pub(crate) async fn assert_accepted(http: &reqwest::Client, mcp_url: &str, token: &str, why: &str) {
    let (status, challenge) = mcp_initialize(http, mcp_url, token).await;
    assert_eq!(status, StatusCode::OK, "{why}: {challenge:?}");
}

/// The JWKS (`/jwks.json`), as its key ids, sorted.
pub(crate) async fn jwks(http: &reqwest::Client, base: &str) -> Vec<String> {
    let response = http
        .get(format!("{base}/jwks.json"))
        .send()
        .await
        .expect("GET /jwks.json");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JWKS JSON");
    let mut kids: Vec<String> = body["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("keys in {body}"))
        .iter()
        .map(|k| k["kid"].as_str().unwrap_or_default().to_owned())
        .collect();
    kids.sort();
    assert!(!kids.is_empty(), "a signing key is published");
    kids
}
