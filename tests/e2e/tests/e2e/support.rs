//! The test world of one test: the real IdP (a `node` child process) and an in-process Splunk
//! emulator, plus the HTTP steps a client takes against them. Both are used as black boxes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};
use splunk_emulator::{Emulator, EmulatorConfig, RunningEmulator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The confidential client registered at the IdP.
pub(crate) const CONFIDENTIAL: OAuthClient = OAuthClient {
    id: "splunk-mcp",
    secret: Some("splunk-mcp-secret"),
};
/// The public (PKCE-only) client registered at the IdP.
pub(crate) const PUBLIC: OAuthClient = OAuthClient {
    id: "test-public",
    secret: None,
};
/// Where the IdP sends the browser back; nothing listens there, the test reads the redirect.
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// The MCP server's resource URL that tokens are requested for (nothing needs to listen there).
pub(crate) const MCP_RESOURCE: &str = "http://127.0.0.1:8000/mcp";

/// An OAuth client of the IdP: an id, and a secret for confidential clients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OAuthClient {
    pub(crate) id: &'static str,
    pub(crate) secret: Option<&'static str>,
}

impl OAuthClient {
    /// Adds this client's authentication to a token, introspection or revocation request.
    fn authenticate(
        self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&str, String)>,
    ) -> reqwest::RequestBuilder {
        match self.secret {
            Some(secret) => request.basic_auth(self.id, Some(secret)),
            None => {
                form.push(("client_id", self.id.to_owned()));
                request
            }
        }
    }
}

/// The workspace root (this crate lives at `tests/e2e`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/e2e sits two levels below the workspace root")
        .to_path_buf()
}

/// An HTTP client that follows no redirects (the sign-in steps are checked one by one).
pub(crate) fn http_client() -> reqwest::Client {
    // reqwest is built without a bundled crypto provider; the tree shares ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The real IdP: `node tests/idp/idp.mjs`, killed when dropped.
pub(crate) struct Idp {
    _child: Child,
    /// The issuer, e.g. `http://127.0.0.1:40123`.
    pub(crate) issuer: String,
    /// Where the IdP's stderr goes.
    pub(crate) log: PathBuf,
}

impl Idp {
    /// Starts an IdP on a free port with the given extra arguments (e.g. `--extra-audience`).
    pub(crate) async fn start(extra_args: &[&str]) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let idp_dir = workspace_root().join("tests").join("idp");
        assert!(
            idp_dir.join("node_modules").join("oidc-provider").is_dir(),
            "{} is missing: `cargo xtask test` installs the IdP's npm packages \
             (or run `npm ci` in tests/idp)",
            idp_dir.join("node_modules").display()
        );
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "idp-{}-{}.log",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).expect("IdP log file");
        let mut child = Command::new("node")
            .arg(idp_dir.join("idp.mjs"))
            .args(["--port", "0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `node` for the IdP ({e}); is Node.js 20+ installed?")
            });
        let stdout = child.stdout.take().expect("IdP stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first_url = async {
            while let Some(line) = lines.next_line().await.expect("IdP stdout") {
                if let Some(start) = line.find("http") {
                    return Some(line[start..].trim().to_owned());
                }
            }
            None
        };
        let issuer = tokio::time::timeout(Duration::from_secs(30), first_url)
            .await
            .unwrap_or_else(|_| panic!("IdP not ready within 30 s; see {}", log.display()))
            .unwrap_or_else(|| panic!("IdP exited before it was ready; see {}", log.display()));
        Self {
            _child: child,
            issuer,
            log,
        }
    }

    /// The IdP's JWKS URL (from its discovery document).
    pub(crate) async fn jwks_uri(&self, http: &reqwest::Client) -> String {
        let discovery = self.discovery(http).await;
        discovery["jwks_uri"]
            .as_str()
            .expect("jwks_uri in discovery")
            .to_owned()
    }

    /// The OpenID discovery document.
    pub(crate) async fn discovery(&self, http: &reqwest::Client) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = http.get(url).send().await.expect("discovery request");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("discovery JSON")
    }

    /// Runs the authorization-code flow with PKCE S256 through the automated login: a plain GET
    /// sequence with a cookie jar, from `/auth` to the redirect URI. Returns the code.
    pub(crate) async fn authorize(
        &self,
        http: &reqwest::Client,
        request: &SignIn<'_>,
        pkce: &Pkce,
    ) -> Result<String, Url> {
        let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let start = Url::parse_with_params(
            &format!("{}/auth", self.issuer),
            &[
                ("client_id", request.client.id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", request.scope),
                ("resource", request.resource),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("state", &state),
                ("login_hint", request.user),
                // offline_access is honoured only with prompt=consent (OpenID Connect Core §11).
                ("prompt", "consent"),
            ],
        )
        .expect("authorization URL");
        let landing = match Browser::new(http).visit(start, REDIRECT_URI).await {
            Visit::Redirected(landing) => landing,
            Visit::Page { url, status, body } => panic!(
                "sign-in stopped at {url} with {status}: {body} (IdP log: {})",
                self.log.display()
            ),
        };
        self.code_from(&landing, Some(&state)).ok_or(landing)
    }

    /// The code of an authorization response, after checking `iss` (RFC 9207) and `state`.
    pub(crate) fn code_from(&self, landing: &Url, state: Option<&str>) -> Option<String> {
        assert_eq!(
            query_param(landing, "state").as_deref(),
            state,
            "state echoed"
        );
        assert_eq!(
            query_param(landing, "iss").as_deref(),
            Some(self.issuer.as_str()),
            "RFC 9207 iss"
        );
        query_param(landing, "code")
    }

    /// Signs `request.user` in and exchanges the code: the token endpoint's JSON.
    pub(crate) async fn sign_in(&self, http: &reqwest::Client, request: &SignIn<'_>) -> Value {
        let pkce = Pkce::new();
        let code = self
            .authorize(http, request, &pkce)
            .await
            .unwrap_or_else(|landing| panic!("no code for {}: {landing}", request.user));
        let (status, body) = self
            .token(
                http,
                request.client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", &pkce.verifier),
                    ("resource", request.resource),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "code exchange: {body}");
        body
    }

    /// A token endpoint request as `client`.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.client_post(http, client, "/token", params).await
    }

    /// RFC 7662 introspection as `client`.
    pub(crate) async fn introspect(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        token: &str,
    ) -> Value {
        let (status, body) = self
            .client_post(http, client, "/token/introspection", &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "introspection: {body}");
        body
    }

    /// RFC 7009 revocation as `client`.
    pub(crate) async fn revoke(&self, http: &reqwest::Client, client: OAuthClient, token: &str) {
        let (status, body) = self
            .client_post(http, client, "/token/revocation", &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "revocation: {body}");
    }

    async fn client_post(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        path: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut form: Vec<(&str, String)> =
            params.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        let request = client.authenticate(http.post(format!("{}{path}", self.issuer)), &mut form);
        let response = request.form(&form).send().await.expect("IdP request");
        let status = response.status();
        let text = response.text().await.expect("IdP body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

/// What a sign-in asks for.
pub(crate) struct SignIn<'a> {
    pub(crate) client: OAuthClient,
    /// The test user (`login_hint`).
    pub(crate) user: &'a str,
    pub(crate) scope: &'a str,
    /// The resource indicator (RFC 8707) the access token is for.
    pub(crate) resource: &'a str,
}

impl<'a> SignIn<'a> {
    /// `user` signs in with the public client for the MCP resource, with every scope.
    pub(crate) fn new(user: &'a str) -> Self {
        Self {
            client: PUBLIC,
            user,
            scope: "openid profile email offline_access splunk:read splunk:search",
            resource: MCP_RESOURCE,
        }
    }
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    /// A fresh random verifier.
    pub(crate) fn new() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// A cookie jar for one host, enough for the IdP's login cookies (name, value, path).
#[derive(Default)]
struct CookieJar {
    cookies: Vec<(String, String, String)>,
}

impl CookieJar {
    fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let mut path = "/".to_owned();
        let mut expired = value.is_empty();
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" => path = val.to_owned(),
                "max-age" => expired |= val.trim() == "0",
                "expires" => expired |= val.contains("1970"),
                _ => {}
            }
        }
        self.cookies.retain(|(n, _, p)| !(n == name && *p == path));
        if !expired {
            self.cookies.push((name.to_owned(), value.to_owned(), path));
        }
    }

    fn header_for(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, _, path)| url.path().starts_with(path.as_str()))
            .map(|(name, value, _)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// Where a [`Browser`] visit ended.
#[derive(Debug)]
pub(crate) enum Visit {
    /// A redirect to the awaited URL (not requested).
    Redirected(Url),
    /// A page that is not a redirect.
    Page {
        url: Url,
        status: StatusCode,
        body: String,
    },
}

/// What a user agent does during sign-in: GETs, following redirects, keeping cookies.
pub(crate) struct Browser {
    http: reqwest::Client,
    jar: CookieJar,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub(crate) fn new(http: &reqwest::Client) -> Self {
        Self {
            http: http.clone(),
            jar: CookieJar::default(),
        }
    }

    /// GETs `url` and follows redirects until one points at `stop_prefix` (returned without
    /// being requested) or an answer is not a redirect. Panics after 20 hops.
    pub(crate) async fn visit(&mut self, url: Url, stop_prefix: &str) -> Visit {
        let mut url = url;
        for _ in 0..20 {
            let mut request = self.http.get(url.clone());
            if let Some(cookie) = self.jar.header_for(&url) {
                request = request.header(reqwest::header::COOKIE, cookie);
            }
            let response = request.send().await.expect("sign-in step");
            for set_cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
                self.jar.store(set_cookie.to_str().expect("ASCII cookie"));
            }
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| l.to_str().expect("ASCII Location").to_owned());
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                let body = response.text().await.unwrap_or_default();
                return Visit::Page { url, status, body };
            };
            let next = url.join(&location).expect("Location is a URL");
            if next.as_str().starts_with(stop_prefix) {
                return Visit::Redirected(next);
            }
            url = next;
        }
        panic!("more than 20 redirects during sign-in");
    }
}

/// The first value of a query parameter.
pub(crate) fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The claims of a JWT, unverified (the emulator does the verifying).
pub(crate) fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

/// One test's world: an IdP, an emulator that trusts it, and an HTTP client.
pub(crate) struct World {
    pub(crate) idp: Idp,
    pub(crate) splunk: RunningEmulator,
    pub(crate) http: reqwest::Client,
}

impl World {
    /// Starts an IdP whose access tokens also carry audience `splunk`, and an emulator that
    /// trusts it and maps `analysts` → `web_analyst`, `admins` → `admin`.
    pub(crate) async fn start() -> Self {
        let http = http_client();
        let idp = Idp::start(&["--extra-audience", "splunk"]).await;
        // A small `bench` index keeps bob's `index=*` quick in debug builds.
        let splunk = Emulator::start(EmulatorConfig {
            bench_events: 1_000,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let world = Self { idp, splunk, http };
        world.trust_idp("test-idp", &world.idp).await;
        world.map_group("analysts", "web_analyst").await;
        world.map_group("admins", "admin").await;
        world
    }

    /// Configures `idp` in the emulator as an OAuth 2.0 provider named `name` over REST.
    pub(crate) async fn trust_idp(&self, name: &str, idp: &Idp) {
        let jwks_uri = idp.jwks_uri(&self.http).await;
        let (status, body) = self
            .admin_post(
                "/services/authentication/providers/oauth2",
                &[
                    ("name", name),
                    ("issuer", &idp.issuer),
                    ("jwks_uri", &jwks_uri),
                    ("audience", "splunk"),
                    ("groupsClaim", "groups"),
                    ("usernameClaim", "preferred_username"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "provider {name}: {body}");
    }

    /// Maps an IdP group to a Splunk role (for every provider).
    async fn map_group(&self, group: &str, role: &str) {
        let (status, body) = self
            .admin_post(
                "/services/admin/oauth2-groups",
                &[("name", group), ("roles", role)],
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "group {group}: {body}");
    }

    async fn admin_post(&self, path: &str, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form = params.to_vec();
        form.push(("output_mode", "json"));
        let response = self
            .http
            .post(format!("{}{path}", self.splunk.url()))
            .basic_auth("admin", Some("changeme"))
            .form(&form)
            .send()
            .await
            .expect("emulator admin request");
        let status = response.status();
        (status, response.json().await.expect("emulator JSON"))
    }

    /// `GET /services/authentication/current-context` with `Authorization: Bearer <token>`.
    pub(crate) async fn current_context(&self, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!(
                "{}/services/authentication/current-context",
                self.splunk.url()
            ))
            .query(&[("output_mode", "json")])
            .bearer_auth(token)
            .send()
            .await
            .expect("current-context request");
        let status = response.status();
        (status, response.json().await.expect("emulator JSON"))
    }

    /// The indexes a streamed export of `search index=* | stats count by index` returns for
    /// the bearer of `token`, sorted.
    pub(crate) async fn indexes_seen(&self, token: &str) -> Vec<String> {
        let response = self
            .http
            .post(format!("{}/services/search/jobs/export", self.splunk.url()))
            .bearer_auth(token)
            .form(&[
                ("search", "search index=* | stats count by index"),
                ("earliest_time", "0"),
                ("output_mode", "json"),
            ])
            .send()
            .await
            .expect("export request");
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.expect("export body");
        let mut indexes: Vec<String> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("NDJSON line"))
            .filter_map(|line| line["result"]["index"].as_str().map(str::to_owned))
            .collect();
        indexes.sort();
        indexes
    }
}
