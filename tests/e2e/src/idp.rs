//! The real IdP (`node tests/idp/idp.mjs`) and the OAuth 2.1 steps a client takes against it.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::browser::{Browser, Visit, query_param};
use crate::{WorldError, workspace_root};

/// The confidential client registered at the IdP (`client_secret_basic`).
pub const CONFIDENTIAL: OAuthClient = OAuthClient {
    id: "splunk-mcp",
    secret: Some("splunk-mcp-secret"),
};
/// A confidential client registered at the IdP that may not exchange tokens: its RFC 8693 and
/// on-behalf-of requests are refused with `unauthorized_client` (it may ask for ID-JAGs).
pub const NO_EXCHANGE: OAuthClient = OAuthClient {
    id: "no-exchange",
    secret: Some("no-exchange-secret"),
};
/// The public (PKCE-only) client registered at the IdP.
pub const PUBLIC: OAuthClient = OAuthClient {
    id: "test-public",
    secret: None,
};
/// Where the IdP sends the browser back; nothing listens there, the sign-in reads the redirect.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// A default MCP resource URL that tokens are requested for (nothing needs to listen there).
pub const MCP_RESOURCE: &str = "http://127.0.0.1:8000/mcp";
/// RFC 8693 `subject_token_type` / `issued_token_type` of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 token type of a JWT (an access or ID token of the IdP, as a subject token).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// RFC 8693 token type of an ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The token type of an Identity Assertion JWT Authorization Grant (ID-JAG).
pub const ID_JAG_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// The RFC 8693 token-exchange grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The RFC 7523 JWT bearer grant type (Entra's on-behalf-of flow at the IdP, ID-JAGs at an
/// authorization server).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An OAuth client of the IdP: an id, and a secret for confidential clients.
#[derive(Clone, Copy, Debug)]
pub struct OAuthClient {
    /// The `client_id`.
    pub id: &'static str,
    /// The secret of a confidential client; `None` for a public one.
    pub secret: Option<&'static str>,
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

/// How to start an [`Idp`].
#[derive(Clone, Debug, Default)]
pub struct IdpOptions {
    /// Extra `idp.mjs` arguments, e.g. `--extra-audience splunk`, `--port 9000` (the last
    /// `--port` wins; the default is `0`, a free port) or `--state-file FILE` (its keys,
    /// clients, grants and tokens kept across [`Idp::shut_down`] and a new start).
    pub args: Vec<String>,
    /// Where the IdP's stderr goes; default: a fresh file under the system temp directory.
    pub log: Option<PathBuf>,
}

/// The real IdP: `node tests/idp/idp.mjs`, killed when dropped.
#[derive(Debug)]
pub struct Idp {
    child: Child,
    /// The arguments it was started with, for [`Idp::restart_options`].
    args: Vec<String>,
    /// The issuer, e.g. `http://127.0.0.1:40123`.
    pub issuer: String,
    /// Where the IdP's stderr goes.
    pub log: PathBuf,
}

impl Idp {
    /// Starts an IdP on a free port with the given extra arguments (e.g. `--extra-audience`).
    ///
    /// # Panics
    /// When it cannot start; the message says why (npm packages missing, no `node`, ...).
    pub async fn start(extra_args: &[&str]) -> Self {
        let options = IdpOptions {
            args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            log: None,
        };
        Self::spawn(options)
            .await
            .unwrap_or_else(|e| panic!("IdP: {e}"))
    }

    /// Starts an IdP and waits (up to 30 s) for its issuer on stdout.
    pub async fn spawn(options: IdpOptions) -> Result<Self, WorldError> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let idp_dir = workspace_root().join("tests").join("idp");
        if !idp_dir.join("node_modules").join("oidc-provider").is_dir() {
            return Err(WorldError::IdpNotInstalled(idp_dir.join("node_modules")));
        }
        let log = options.log.unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "splunk-mcp-idp-{}-{}.log",
                std::process::id(),
                STARTED.fetch_add(1, Ordering::Relaxed)
            ))
        });
        let log_file = std::fs::File::create(&log).map_err(|source| WorldError::LogFile {
            path: log.clone(),
            source,
        })?;
        let mut child = Command::new("node")
            .arg(idp_dir.join("idp.mjs"))
            .args(["--port", "0"])
            .args(&options.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(WorldError::NodeMissing)?;
        let stdout = child.stdout.take().expect("IdP stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first_url = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(start) = line.find("http") {
                    return Some(line[start..].trim().to_owned());
                }
            }
            None
        };
        let issuer = match tokio::time::timeout(Duration::from_secs(30), first_url).await {
            Ok(Some(issuer)) => issuer,
            Ok(None) => {
                return Err(WorldError::IdpNotReady {
                    reason: "it exited first",
                    log,
                });
            }
            Err(_) => {
                return Err(WorldError::IdpNotReady {
                    reason: "no issuer within 30 s",
                    log,
                });
            }
        };
        Ok(Self {
            child,
            args: options.args,
            issuer,
            log,
        })
    }

    /// The port it listens on (the issuer's).
    pub fn port(&self) -> u16 {
        Url::parse(&self.issuer)
            .ok()
            .and_then(|url| url.port())
            .expect("the issuer is http://127.0.0.1:PORT")
    }

    /// What starts this IdP again with the same issuer: its arguments with `--port` fixed to
    /// the port it listens on now, its stderr to `log`. With `--state-file` among them, an IdP
    /// started so after [`Idp::shut_down`] carries on where this one stopped.
    pub fn restart_options(&self, log: Option<PathBuf>) -> IdpOptions {
        let mut args = self.args.clone();
        args.extend(["--port".to_owned(), self.port().to_string()]);
        IdpOptions { args, log }
    }

    /// Stops the IdP as an operator stops a service (SIGTERM) and waits (up to 10 s) until it
    /// has exited, so its port is free. With `--state-file` it writes its state there first.
    pub async fn shut_down(mut self) -> Result<(), WorldError> {
        const GRACE: Duration = Duration::from_secs(10);
        if let Some(pid) = self.child.id() {
            crate::send_signal("the IdP", pid, "TERM")?;
        }
        match tokio::time::timeout(GRACE, self.child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(WorldError::NotStopped {
                    service: "the IdP",
                    seconds: GRACE.as_secs(),
                })
            }
        }
    }

    /// The IdP's discovery URL, `ISSUER/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Stops the IdP (SIGKILL) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// The IdP's JWKS URL (from its discovery document).
    pub async fn jwks_uri(&self, http: &reqwest::Client) -> String {
        let discovery = self.discovery(http).await;
        discovery["jwks_uri"]
            .as_str()
            .expect("jwks_uri in discovery")
            .to_owned()
    }

    /// The OpenID discovery document.
    pub async fn discovery(&self, http: &reqwest::Client) -> Value {
        let response = http
            .get(self.discovery_url())
            .send()
            .await
            .expect("discovery request");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("discovery JSON")
    }

    /// Runs the authorization-code flow with PKCE S256 through the automated login: a plain GET
    /// sequence with a cookie jar, from `/auth` to the redirect URI. Returns the code, or the
    /// URL the IdP redirected to without one (an error response).
    pub async fn authorize(
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
    pub fn code_from(&self, landing: &Url, state: Option<&str>) -> Option<String> {
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

    /// Signs `request.user` in and exchanges the code: the token endpoint's JSON
    /// (`access_token`, `refresh_token` when `offline_access` was asked for, `id_token`, ...).
    pub async fn sign_in(&self, http: &reqwest::Client, request: &SignIn<'_>) -> Value {
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

    /// [`Idp::sign_in`], returning only the access token.
    pub async fn access_token(&self, http: &reqwest::Client, request: &SignIn<'_>) -> String {
        let body = self.sign_in(http, request).await;
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token: {body}"))
            .to_owned()
    }

    /// A client-credentials grant for the confidential client: the token endpoint's JSON.
    pub async fn client_credentials(
        &self,
        http: &reqwest::Client,
        scope: &str,
        resource: &str,
    ) -> Value {
        let (status, body) = self
            .token(
                http,
                CONFIDENTIAL,
                &[
                    ("grant_type", "client_credentials"),
                    ("scope", scope),
                    ("resource", resource),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "client credentials: {body}");
        body
    }

    /// A refresh-token grant as `client`: the status and the token endpoint's JSON.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        refresh_token: &str,
        resource: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(resource) = resource {
            params.push(("resource", resource));
        }
        self.token(http, client, &params).await
    }

    /// A token endpoint request as `client`: the status and the JSON body (or the text as a
    /// JSON string when it is not JSON).
    pub async fn token(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        self.client_post(http, client, "/token", params).await
    }

    /// RFC 7662 introspection as `client`.
    pub async fn introspect(
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

    /// Replaces `user`'s groups at the running IdP (its test-only
    /// `PUT /test/users/{user}/groups`). Every ID token, access token and userinfo answer issued
    /// afterwards, by a refresh too, carries `groups`; tokens issued before keep the old ones.
    /// The change lasts until this IdP stops, and no other IdP sees it.
    ///
    /// # Panics
    /// When the IdP cannot be reached or refuses (an unknown user); the message has its answer.
    pub async fn set_groups(&self, http: &reqwest::Client, user: &str, groups: &[&str]) {
        let response = http
            .put(self.test_url(&["users", user, "groups"]))
            .json(groups)
            .send()
            .await
            .unwrap_or_else(|e| panic!("setting {user}'s groups at the IdP: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "setting {user}'s groups to {groups:?} at the IdP: {body} (IdP log: {})",
            self.log.display()
        );
    }

    /// RFC 8693 token exchange as `client`: `subject_token` (of `subject_token_type`, e.g.
    /// [`ACCESS_TOKEN_TYPE`]) for an access token whose audience is `audience` (`splunk`, or an
    /// `--exchange-audience`). Only [`CONFIDENTIAL`] may; the answer of a success has
    /// `access_token`, `issued_token_type`, `token_type`, `expires_in` and `scope`.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        subject_token: &str,
        subject_token_type: &str,
        audience: &str,
    ) -> (StatusCode, Value) {
        self.token(
            http,
            client,
            &[
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", subject_token),
                ("subject_token_type", subject_token_type),
                ("audience", audience),
            ],
        )
        .await
    }

    /// Entra's on-behalf-of flow as `client`: the jwt-bearer grant with
    /// `requested_token_use=on_behalf_of`, `assertion` (a user's access token) and `scope`
    /// (`AUDIENCE/.default`, e.g. `splunk/.default`). The same token as [`Idp::exchange`], in
    /// Entra's answer (no `issued_token_type`).
    pub async fn on_behalf_of(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        assertion: &str,
        scope: &str,
    ) -> (StatusCode, Value) {
        self.token(
            http,
            client,
            &[
                ("grant_type", JWT_BEARER_GRANT),
                ("requested_token_use", "on_behalf_of"),
                ("assertion", assertion),
                ("scope", scope),
            ],
        )
        .await
    }

    /// An ID-JAG for the user of `id_token` (an ID token issued to `client`) by RFC 8693
    /// token exchange as `client`, for the authorization server whose issuer is `audience`
    /// and its MCP server `resource`. A success has the ID-JAG as `access_token`,
    /// `issued_token_type` [`ID_JAG_TYPE`], `token_type` `N_A`, `expires_in` 300.
    pub async fn id_jag(
        &self,
        http: &reqwest::Client,
        client: OAuthClient,
        id_token: &str,
        audience: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut params = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT),
            ("requested_token_type", ID_JAG_TYPE),
            ("subject_token", id_token),
            ("subject_token_type", ID_TOKEN_TYPE),
            ("audience", audience),
            ("resource", resource),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        self.token(http, client, &params).await
    }

    /// How many access tokens the IdP has issued by exchange (RFC 8693 and on-behalf-of) since
    /// it started (its test-only `GET /test/exchanges`), to prove that exchanges are cached.
    ///
    /// # Panics
    /// When the IdP cannot be reached or answers something else than a count.
    pub async fn exchange_count(&self, http: &reqwest::Client) -> u64 {
        let response = http
            .get(self.test_url(&["exchanges"]))
            .send()
            .await
            .unwrap_or_else(|e| panic!("reading the IdP's exchange count: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(status, StatusCode::OK, "the IdP's exchange count: {body}");
        body["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("no count in the IdP's answer: {body}"))
    }

    /// Makes the ID-JAGs the IdP issues from now on to its client `idp_client_id` name
    /// `client_id_at_audience` as `client_id` (the id that client was registered with at the
    /// authorization server the ID-JAG is for), through its test-only
    /// `PUT /test/idjag-clients/{idp_client_id}`. Without it they name `idp_client_id`.
    ///
    /// # Panics
    /// When the IdP cannot be reached or refuses (an unknown client); the message has its answer.
    pub async fn set_idjag_client(
        &self,
        http: &reqwest::Client,
        idp_client_id: &str,
        client_id_at_audience: &str,
    ) {
        let response = http
            .put(self.test_url(&["idjag-clients", idp_client_id]))
            .json(client_id_at_audience)
            .send()
            .await
            .unwrap_or_else(|e| panic!("setting {idp_client_id}'s ID-JAG client id: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "setting {idp_client_id}'s ID-JAG client id to {client_id_at_audience}: {body} (IdP log: {})",
            self.log.display()
        );
    }

    /// An ID-JAG signed with the IdP's key exactly as `spec` says, valid or not (its test-only
    /// `POST /test/id-jag`): `{"user", "client_id", "audience", "resource"?, "scope"?,
    /// "exp_offset_seconds"? (300; negative: expired), "typ"? ("oauth-id-jag+jwt"; null: none),
    /// "iss"?, "jti"?}`.
    ///
    /// # Panics
    /// When the IdP cannot be reached or refuses the spec; the message has its answer.
    pub async fn forge_id_jag(&self, http: &reqwest::Client, spec: &Value) -> String {
        let response = http
            .post(self.test_url(&["id-jag"]))
            .json(spec)
            .send()
            .await
            .unwrap_or_else(|e| panic!("forging an ID-JAG at the IdP: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::OK,
            "forging an ID-JAG {spec}: {body} (IdP log: {})",
            self.log.display()
        );
        body["id_jag"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_jag in the IdP's answer: {body}"))
            .to_owned()
    }

    /// The URL of a test-only endpoint, `ISSUER/test/{segments}` (each segment escaped).
    fn test_url(&self, segments: &[&str]) -> Url {
        let mut url = Url::parse(&self.issuer).expect("the issuer is a URL");
        url.path_segments_mut()
            .expect("the issuer is an http URL")
            .pop_if_empty()
            .push("test")
            .extend(segments);
        url
    }

    /// RFC 7009 revocation as `client`.
    pub async fn revoke(&self, http: &reqwest::Client, client: OAuthClient, token: &str) {
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
#[derive(Clone, Copy, Debug)]
pub struct SignIn<'a> {
    /// The OAuth client signing in.
    pub client: OAuthClient,
    /// The test user (`login_hint`): `alice`, `bob` or `carol`.
    pub user: &'a str,
    /// The space-separated scopes asked for.
    pub scope: &'a str,
    /// The resource indicator (RFC 8707) the access token is for.
    pub resource: &'a str,
}

impl<'a> SignIn<'a> {
    /// Every scope a test user may ask for, but `splunk:admin`.
    pub const ALL_SCOPES: &'static str =
        "openid profile email offline_access splunk:read splunk:search";

    /// `user` signs in with the public client for [`MCP_RESOURCE`], with [`Self::ALL_SCOPES`].
    pub fn new(user: &'a str) -> Self {
        Self {
            client: PUBLIC,
            user,
            scope: Self::ALL_SCOPES,
            resource: MCP_RESOURCE,
        }
    }

    /// The same sign-in for another resource (e.g. a running server's `http://.../mcp`).
    pub fn for_resource(self, resource: &'a str) -> Self {
        Self { resource, ..self }
    }

    /// The same sign-in asking for other scopes.
    pub fn with_scope(self, scope: &'a str) -> Self {
        Self { scope, ..self }
    }

    /// The same sign-in through another client.
    pub fn with_client(self, client: OAuthClient) -> Self {
        Self { client, ..self }
    }
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
#[derive(Clone, Debug)]
pub struct Pkce {
    /// The code verifier, sent at the token request.
    pub verifier: String,
    /// Its S256 challenge, sent at the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier.
    #[allow(clippy::new_without_default)] // Random each time: `Default` would mislead.
    pub fn new() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The claims of a JWT, unverified (the services under test do the verifying).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}
