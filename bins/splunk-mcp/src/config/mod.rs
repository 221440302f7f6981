//! The server's configuration: defaults, then a TOML file, then the environment, then flags
//! (each later source wins), resolved into one validated [`Settings`].
//!
//! Every setting has a TOML key, an environment variable and, for the ones people change per
//! run, a flag; docs/configuration.md lists them all. The seed project's variable names
//! (`SPLUNK_AUTH_MODE`, `MCP_AUTH_DISABLED`, ...) are accepted and mapped to the new ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_tools::{CustomToolConfig, ToolsConfig};
use secrecy::SecretString;

mod render;
mod resolve;
mod source;
#[cfg(test)]
mod tests;
mod validate;

/// The whole validated configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Transport, listener and logging.
    pub server: ServerSettings,
    /// Boundary 1: how MCP clients authenticate.
    pub auth: AuthSettings,
    /// Boundary 2: where Splunk is and which credential it sees.
    pub splunk: SplunkSettings,
    /// Limits of the tools, the SPL guard, and the custom tools of the main file.
    pub tools: ToolsConfig,
    /// `MCP_TOOLS_FILE`, `--tools-file`: custom tools kept apart, re-read on SIGHUP.
    pub tools_file: Option<ToolsFile>,
}

/// A file of custom tools (`[[tools.custom]]` tables and nothing else).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ToolsFile {
    /// Where it is.
    pub path: PathBuf,
    /// How it was named (`MCP_TOOLS_FILE`, `--tools-file`, `server.tools_file in FILE`).
    pub setting: String,
    /// The tools it held when last read.
    pub tools: Vec<CustomToolConfig>,
}

/// What a tools file may hold.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFileContent {
    #[serde(default)]
    tools: ToolsFileTables,
}

#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolsFileTables {
    #[serde(default)]
    custom: Vec<CustomToolConfig>,
}

/// Reads the custom tools of the tools file at `path`, named `setting` in errors.
pub fn read_tools_file(path: &Path, setting: &str) -> Result<Vec<CustomToolConfig>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            setting,
            format!("cannot read {}: {e}", path.display()),
            "point it at a readable TOML file of [[tools.custom]] tables",
        )
    })?;
    let content: ToolsFileContent = toml::from_str(&text).map_err(|e| {
        ConfigError::new(
            format!("{setting} ({})", path.display()),
            e.message().trim().to_owned(),
            "the file holds only [[tools.custom]] tables; see docs/custom-tools.md",
        )
    })?;
    Ok(content.tools.custom)
}

/// How MCP clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// JSON-RPC over the process's stdin and stdout (one local client, no auth).
    Stdio,
    /// Streamable HTTP at `/mcp`.
    Http,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Transport, listener and logging.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerSettings {
    /// `MCP_TRANSPORT`, `--transport` (default stdio).
    pub transport: Transport,
    /// `MCP_BIND`, `--bind` (default 127.0.0.1:8000).
    pub bind: SocketAddr,
    /// `MCP_BASE_URL`, `--base-url`: the public URL of this server, without `/mcp` or a
    /// trailing slash (default `http://<bind>`, with `localhost` for an all-interfaces bind).
    pub base_url: String,
    /// `MCP_STATELESS`, `--stateless`: no MCP sessions, for load-balanced replicas.
    pub stateless: bool,
    /// `MCP_ALLOWED_HOSTS`: `Host` header values accepted at `/mcp` (DNS-rebinding guard);
    /// defaults to loopback names plus the host of `base_url`.
    pub allowed_hosts: Vec<String>,
    /// `MCP_ALLOW_UNAUTHENTICATED`, `--allow-unauthenticated`: permits auth mode `none` on a
    /// non-loopback bind.
    pub allow_unauthenticated: bool,
    /// `MCP_TRUSTED_PROXIES` (default none): CIDR ranges of the load balancers in front of
    /// this server; only from a peer in one of them are `X-Forwarded-For` and `Forwarded`
    /// believed about who the client is (rate limits, logs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `MCP_TOOLS_LIST_FILTER` (default true): `tools/list` shows only the tools the caller may call.
    pub filter_tools_list: bool,
    /// `MCP_LOG_FORMAT`, `--log-format` (default text).
    pub log_format: LogFormat,
    /// `MCP_LOG_LEVEL` or `RUST_LOG` (default `info`): a tracing filter directive.
    pub log_level: String,
}

/// Inbound authentication mode (`MCP_AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication: stdio, or HTTP on loopback.
    None,
    /// Resource server for IdP-issued JWTs.
    Jwt,
    /// Resource server for opaque tokens (RFC 7662 introspection).
    Introspect,
    /// Own authorization server in front of the IdP.
    Proxy,
    /// Development only: fixed tokens from a file.
    Static,
}

/// Boundary 1: how MCP clients authenticate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthSettings {
    /// `MCP_AUTH_MODE`.
    pub mode: AuthMode,
    /// `IDP_OIDC_CONFIG_URL`: the IdP's discovery document.
    pub oidc_config_url: Option<String>,
    /// `IDP_ISSUER_URL`: the issuer, when not discovered.
    pub issuer_url: Option<String>,
    /// `IDP_JWKS_URI`: the key set, when not discovered.
    pub jwks_uri: Option<String>,
    /// `IDP_AUTHORIZE_URL` (proxy, non-OIDC IdP).
    pub authorize_url: Option<String>,
    /// `IDP_TOKEN_URL` (proxy, non-OIDC IdP).
    pub token_url: Option<String>,
    /// `IDP_REVOCATION_URL` (proxy with explicit endpoints; discovery supplies it otherwise):
    /// where the IdP's tokens are revoked.
    pub revocation_url: Option<String>,
    /// `IDP_USERINFO_URL` (proxy with explicit endpoints; discovery supplies it otherwise): who
    /// signed in, for IdPs whose ID tokens cannot be validated.
    pub userinfo_url: Option<String>,
    /// `IDP_SCOPES` (proxy; default `openid profile email offline_access`): scopes the proxy
    /// asks the IdP for.
    pub idp_scopes: Vec<String>,
    /// `IDP_EXTRA_AUTHORIZE_PARAMS` (proxy): `k=v&k2=v2` added to the IdP's authorization request.
    pub extra_authorize_params: Vec<(String, String)>,
    /// `IDP_EXTRA_TOKEN_PARAMS` (proxy): `k=v&k2=v2` added to every token request to the IdP.
    pub extra_token_params: Vec<(String, String)>,
    /// `IDP_CLIENT_AUTH_METHOD` (default `client_secret_basic`): how this server authenticates
    /// at the IdP's token and revocation endpoints (proxy mode, token exchange).
    pub client_auth_method: IdpClientAuth,
    /// `IDP_INTROSPECTION_URL` (introspect; else from discovery).
    pub introspection_url: Option<String>,
    /// `MCP_OAUTH_AUDIENCE`: audience the IdP's tokens must carry (default `<base_url>/mcp`).
    pub audience: String,
    /// `MCP_OAUTH_CLIENT_ID`: the proxy's or the introspection client's id.
    pub client_id: Option<String>,
    /// `MCP_OAUTH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// `MCP_OAUTH_CLIENT_KEY_FILE` (or `MCP_OAUTH_CLIENT_KEY`): the PEM private key of
    /// `IDP_CLIENT_AUTH_METHOD=private_key_jwt` (P-256 EC or RSA).
    pub client_key: Option<SecretString>,
    /// `MCP_OAUTH_CLIENT_KEY_ID`: the `kid` the IdP knows that key by, if it needs one.
    pub client_key_id: Option<String>,
    /// `MCP_AUTH_REQUIRED_SCOPES`: scopes every call needs.
    pub required_scopes: Vec<String>,
    /// `MCP_AUTH_REQUIRED_GROUPS`: groups every caller must be in (any of them).
    pub required_groups: Vec<String>,
    /// `MCP_AUTH_GROUPS_CLAIM` (default `groups`): claim (dotted path) holding the groups.
    pub groups_claim: String,
    /// `MCP_STATIC_TOKENS_FILE`: TOML of token → claims (static mode).
    pub static_tokens_file: Option<PathBuf>,
    /// `MCP_AUTH_SCOPE_GROUPS` / `[auth.scope_groups]`: who may hold which scope.
    pub scope_groups: auth_core::ScopeRules,
    /// `[auth.tools.<tool>]` (and the older `[auth.tool_scopes]`): per-tool scopes and groups.
    pub tools: BTreeMap<String, mcp_tools::Rule>,
    /// `[auth.tags.<tag>]`: scopes and groups for every tool with the tag.
    pub tags: BTreeMap<String, mcp_tools::Rule>,
    /// `MCP_PASSTHROUGH_AUDIENCE_ACK`: forward tokens to Splunk although their configured
    /// audience does not name Splunk (the operator vouches that Splunk accepts them).
    pub passthrough_audience_ack: bool,
    /// `MCP_SPLUNK_AUDIENCE` (default `splunk`): the audience value that names Splunk in a
    /// passthrough token.
    pub splunk_audience: String,
    /// Proxy mode (`[auth.proxy]`).
    pub proxy: ProxySettings,
}

/// How the proxy authenticates at the IdP (`IDP_CLIENT_AUTH_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpClientAuth {
    /// HTTP Basic, which every IdP supports.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with this server's private key (`MCP_OAUTH_CLIENT_KEY_FILE`), RFC 7523.
    PrivateKeyJwt,
}

/// Where proxy mode keeps its state (`MCP_PROXY_STORE`).
#[derive(Clone)]
pub enum ProxyStore {
    /// An embedded redb file (one replica).
    File(PathBuf),
    /// A Redis server shared by every replica; the URL may carry a password.
    Redis(SecretString),
}

impl ProxyStore {
    /// The store as it may be shown: a Redis URL's password replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Redis(url) => {
                use secrecy::ExposeSecret as _;
                let url = url.expose_secret();
                match reqwest::Url::parse(url) {
                    Ok(mut parsed) if parsed.password().is_some() => {
                        let _ = parsed.set_password(Some(render::REDACTED));
                        // The URL encoder escapes `<` and `>`; show the marker as written.
                        parsed
                            .to_string()
                            .replace("%3Credacted%3E", render::REDACTED)
                    }
                    Ok(_) => url.to_owned(),
                    Err(_) => "redis://<unparsable URL redacted>".to_owned(),
                }
            }
        }
    }
}

impl std::fmt::Debug for ProxyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Redis(_) => f.debug_tuple("Redis").field(&self.redacted()).finish(),
        }
    }
}

/// Proxy mode: splunk-mcp as its own authorization server (`[auth.proxy]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProxySettings {
    /// `MCP_PROXY_STORE` (default `splunk-mcp-proxy.redb`): a redb file path or `redis://...`.
    pub store: ProxyStore,
    /// `MCP_PROXY_ENCRYPTION_KEY` or `MCP_PROXY_ENCRYPTION_KEY_FILE`: base64 of 32 random bytes;
    /// encrypts the IdP's tokens and our signing keys at rest, and the cookie key derives from it.
    pub encryption_key: Option<SecretString>,
    /// `MCP_PROXY_ACCESS_TOKEN_TTL` (default 1h): lifetime of our access tokens.
    pub access_token_ttl: Duration,
    /// `MCP_PROXY_REFRESH_TOKEN_TTL` (default 30d): lifetime of a grant and its refresh tokens.
    pub refresh_token_ttl: Duration,
    /// `MCP_PROXY_CONSENT_REMEMBER` (default 30d; 0 asks every time): how long a browser's
    /// consent to a client is remembered.
    pub consent_remember: Duration,
    /// `MCP_PROXY_REFRESH_REUSE_GRACE` (default 30 s; 0 turns it off): how long a rotated
    /// refresh token presented again gets the same successor tokens instead of revoking the
    /// grant as reused.
    pub refresh_reuse_grace: Duration,
    /// `MCP_PROXY_ALLOW_CIMD` (default true): accept https URL client ids (client ID metadata
    /// documents).
    pub allow_cimd: bool,
    /// `MCP_PROXY_CIMD_ALLOW_LOOPBACK` (default false; development and tests only): accept
    /// `http://` and loopback client id URLs.
    pub cimd_allow_loopback: bool,
    /// `MCP_PROXY_REDIRECT_ALLOWLIST`: patterns (`*` wildcard) every client redirect URI must
    /// match; empty: the built-in rules only.
    pub redirect_allowlist: Vec<String>,
    /// `MCP_PROXY_REGISTER_RATE_LIMIT` (default 20; 0 off): client registrations per client
    /// address per hour.
    pub register_rate_limit: u64,
    /// `MCP_PROXY_TOKEN_RATE_LIMIT` (default 120; 0 off): `/token` requests per client address
    /// per [`ProxySettings::rate_limit_window`].
    pub token_rate_limit: u64,
    /// `MCP_PROXY_TOKEN_CLIENT_RATE_LIMIT` (default 60; 0 off): `/token` requests per client
    /// per window.
    pub token_client_rate_limit: u64,
    /// `MCP_PROXY_REVOKE_RATE_LIMIT` (default 60; 0 off): `/revoke` requests per client
    /// address per window.
    pub revoke_rate_limit: u64,
    /// `MCP_PROXY_REVOKE_CLIENT_RATE_LIMIT` (default 30; 0 off): `/revoke` requests per client
    /// per window.
    pub revoke_client_rate_limit: u64,
    /// `MCP_PROXY_RATE_LIMIT_WINDOW` (default 1m): the fixed window of the `/token` and
    /// `/revoke` limits.
    pub rate_limit_window: Duration,
    /// `MCP_PROXY_IDJAG_ISSUERS`: issuers (company IdPs) whose identity assertions (ID-JAG)
    /// `/token` accepts; empty turns enterprise-managed authorization off.
    pub idjag_issuers: Vec<String>,
}

/// The default `MCP_PROXY_STORE`.
pub const DEFAULT_PROXY_STORE: &str = "splunk-mcp-proxy.redb";

/// Boundary 2 mode (`SPLUNK_CREDENTIALS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsMode {
    /// The caller's IdP token as a Bearer token.
    Passthrough,
    /// A short-lived token of the mirror user `mcp.<name>`.
    Mirror,
    /// One service account for everyone.
    Service,
    /// The caller's token exchanged at the IdP for one whose audience is Splunk.
    Exchange,
}

/// Boundary 2: where Splunk is and which credential it sees.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SplunkSettings {
    /// `SPLUNK_CREDENTIALS` (default service; passthrough when the seed's `SPLUNK_AUTH_MODE=oauth`).
    pub credentials: CredentialsMode,
    /// `SPLUNK_HOST` (default localhost).
    pub host: String,
    /// `SPLUNK_PORT` (default 8089).
    pub port: u16,
    /// `SPLUNK_SCHEME` (default https).
    pub scheme: String,
    /// `SPLUNK_VERIFY_SSL` (default true).
    pub verify_ssl: bool,
    /// `SPLUNK_CA_BUNDLE`: PEM file trusted in addition to the system roots.
    pub ca_bundle: Option<PathBuf>,
    /// `SPLUNK_TOKEN`: the service (or mirror admin) token.
    pub token: Option<SecretString>,
    /// `SPLUNK_USERNAME`.
    pub username: Option<String>,
    /// `SPLUNK_PASSWORD`.
    pub password: Option<SecretString>,
    /// `SPLUNK_TIMEOUT` seconds (default 30, below the 60 s MCP clients wait for an answer):
    /// longest silence while waiting for Splunk.
    pub timeout: Duration,
    /// Mirror mode.
    pub mirror: MirrorSettings,
    /// Exchange mode.
    pub exchange: ExchangeSettings,
}

/// How the IdP exchanges a caller's token for one for Splunk (`SPLUNK_CREDENTIALS=exchange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeStyle {
    /// RFC 8693 token exchange (Okta, Keycloak, Auth0 custom token exchange).
    Rfc8693,
    /// Microsoft Entra ID on-behalf-of.
    EntraObo,
}

impl CredentialsMode {
    /// Whether Splunk is reached with (a token from) the caller's IdP token, so a caller
    /// without one cannot be served: `passthrough` and `exchange`.
    pub fn needs_idp_token(self) -> bool {
        matches!(self, Self::Passthrough | Self::Exchange)
    }
}

/// Exchange mode settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExchangeSettings {
    /// `IDP_EXCHANGE_STYLE`: `rfc8693` (default) or `entra-obo`.
    pub style: ExchangeStyle,
    /// `SPLUNK_TOKEN_AUDIENCE`: the audience asked for (default `MCP_SPLUNK_AUDIENCE`, `splunk`);
    /// for Entra, Splunk's application ID URI.
    pub audience: String,
    /// `SPLUNK_TOKEN_RESOURCE`: an RFC 8707 resource indicator asked for, if any.
    pub resource: Option<String>,
    /// `SPLUNK_TOKEN_SCOPE`: scopes asked for, if any (Entra: default `<audience>/.default`).
    pub scope: Option<String>,
}

impl SplunkSettings {
    /// `scheme://host:port`.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Mirror mode settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MirrorSettings {
    /// `SPLUNK_MIRROR_PREFIX` (default `mcp.`).
    pub prefix: String,
    /// `SPLUNK_MIRROR_BASELINE_ROLES` (default `user`).
    pub baseline_roles: Vec<String>,
    /// `SPLUNK_MIRROR_DENIED_ROLES` (default `admin,sc_admin`).
    pub denied_roles: Vec<String>,
    /// `SPLUNK_MIRROR_USERNAME_CLAIM` (default `preferred_username`): `short_id`,
    /// `preferred_username`, `email` (its local part) or `sub`, or any other claim name.
    pub username_claim: String,
    /// `SPLUNK_MIRROR_TOKEN_TTL` seconds (default 3600).
    pub token_ttl: Duration,
    /// `SPLUNK_MIRROR_TOKEN_AUDIENCE` (default `mcp`).
    pub token_audience: String,
    /// `SPLUNK_MIRROR_CLEANUP_INTERVAL` seconds (default 0, off): how often `serve` deletes
    /// expired tokens of mirror users, as `splunk-mcp mirror cleanup` does.
    pub cleanup_interval: Option<Duration>,
}

/// An invalid configuration: which setting, what is wrong, and how to fix it. `main` prints it
/// and exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {problem}\n  fix: {fix}")]
pub struct ConfigError {
    /// The setting, named as the user set it (`SPLUNK_PORT`, `--bind`, `splunk.port in FILE`).
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

impl ConfigError {
    /// An error about `setting` (named as the user set it), saying what is wrong and what to do.
    pub fn new(
        setting: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Resolves the configuration from defaults, the TOML file (`--config` or `MCP_CONFIG_FILE`),
/// the process environment and the flags in `cli`.
pub fn load(cli: &crate::cli::Cli) -> Result<Settings, ConfigError> {
    load_from(cli, &|name| std::env::var(name).ok())
}

/// [`load`] with the environment given as a function from a variable name to its value, so
/// tests and embedders need not touch the process environment.
pub fn load_from(
    cli: &crate::cli::Cli,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    use crate::cli::{Command, ConfigCommand};
    let serving = matches!(
        cli.command,
        None | Some(Command::Serve) | Some(Command::Config(ConfigCommand::Check))
    );
    let (settings, names) = resolve::resolve(cli, env)?;
    validate::validate(&settings, &names, serving)?;
    Ok(settings)
}

/// The effective configuration as TOML, with every secret replaced by `"<redacted>"`, then
/// the authorization policy it gives (what each tool needs, who may hold each scope) as TOML
/// comments, so the output still loads with `--config`.
pub fn render_redacted(settings: &Settings) -> String {
    let mut text = render::render(settings);
    if let Ok(policy) = settings.policy() {
        text.push('\n');
        text.push_str(&render::policy_table(&policy));
    }
    text
}

impl Settings {
    /// The authorization policy and custom tools these settings describe; [`load`] has checked
    /// that it builds.
    pub fn policy(&self) -> Result<mcp_tools::ToolRegistry, mcp_tools::RegistryError> {
        let from_file = self.tools_file.as_ref().map(|file| file.tools.as_slice());
        self.policy_with(from_file.unwrap_or_default())
    }

    /// [`Settings::policy`] with `from_file` as the tools file's tools (a reload).
    pub fn policy_with(
        &self,
        from_file: &[CustomToolConfig],
    ) -> Result<mcp_tools::ToolRegistry, mcp_tools::RegistryError> {
        let custom: Vec<CustomToolConfig> =
            self.tools.custom.iter().chain(from_file).cloned().collect();
        mcp_tools::ToolRegistry::build(&self.auth.policy_config(), &custom, &self.tools.guard)
    }

    /// Where the custom tool `name` is defined, as a setting name for messages.
    pub fn custom_tool_origin(&self, name: &str) -> String {
        match &self.tools_file {
            Some(file) if file.tools.iter().any(|tool| tool.name == name) => {
                format!("{} ({})", file.setting, file.path.display())
            }
            _ => "tools.custom".to_owned(),
        }
    }

    /// Refuses custom tools that read a token claim when no caller has a token (stdio, or
    /// auth mode `none`): they could never run.
    pub fn check_claims_have_tokens(
        &self,
        policy: &mcp_tools::ToolRegistry,
    ) -> Result<(), ConfigError> {
        let tokens = self.server.transport == Transport::Http && self.auth.mode != AuthMode::None;
        if tokens {
            return Ok(());
        }
        let Some((tool, claim)) = policy
            .custom_tools()
            .find_map(|tool| tool.claims().next().map(|claim| (tool.name(), claim)))
        else {
            return Ok(());
        };
        Err(ConfigError::new(
            self.custom_tool_origin(tool),
            format!(
                "custom tool `{tool}` takes a value from the token claim `{claim}`, and \
                 {} no caller has a token",
                if self.server.transport == Transport::Stdio {
                    "over stdio"
                } else {
                    "with auth mode `none`"
                }
            ),
            "serve over HTTP with an auth mode that verifies tokens (jwt, introspect, proxy or \
             static), or let the client give that parameter (remove `from_claim`)",
        ))
    }
}

impl AuthSettings {
    /// The policy's part of these settings.
    pub fn policy_config(&self) -> mcp_tools::PolicyConfig {
        mcp_tools::PolicyConfig {
            scope_rules: self.scope_groups.clone(),
            required_scopes: self.required_scopes.clone(),
            required_groups: self.required_groups.clone(),
            tools: self.tools.clone(),
            tags: self.tags.clone(),
        }
    }
}
