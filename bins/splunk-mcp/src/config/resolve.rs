//! Turns the layers into [`Settings`]: one lookup per setting, the seed project's aliases,
//! secrets read from files, and the defaults that depend on other settings.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use auth_core::ScopeRules;
use mcp_tools::{Rule, ToolsConfig};
use oidc_proxy::upstream::{RESERVED_AUTHORIZE_PARAMS, RESERVED_TOKEN_PARAMS};
use secrecy::SecretString;

use super::source::{Found, Origin, Raw, Sources};
use super::{
    AuthMode, AuthSettings, ConfigError, CredentialsMode, ExchangeSettings, ExchangeStyle,
    IdpClientAuth, LogFormat, MirrorSettings, ProxySettings, ProxyStore, ServerSettings, Settings,
    SplunkSettings, ToolsFile, Transport,
};

/// Where each resolved setting came from, by TOML key, for validation messages.
#[derive(Debug, Default)]
pub(super) struct Names {
    by_key: BTreeMap<&'static str, String>,
}

impl Names {
    /// How the user set `key`, or `fallback` (the variable to set) when it is a default.
    pub(super) fn get(&self, key: &str, fallback: &str) -> String {
        self.by_key
            .get(key)
            .cloned()
            .unwrap_or_else(|| fallback.to_owned())
    }
}

/// Lookups that remember where each value came from.
struct Resolver<'a> {
    sources: Sources<'a>,
    names: Names,
}

impl Resolver<'_> {
    fn find(
        &mut self,
        key: &'static str,
        env: &[&'static str],
        flag: Option<(&'static str, Option<&str>)>,
    ) -> Option<Found> {
        let found = self.sources.find(key, env, flag)?;
        self.names.by_key.insert(key, found.origin.name());
        Some(found)
    }

    fn text(
        &mut self,
        key: &'static str,
        env: &'static str,
    ) -> Result<Option<String>, ConfigError> {
        self.find(key, &[env], None)
            .map(|found| found.text().map(|text| text.trim().to_owned()))
            .transpose()
    }

    fn text_or(
        &mut self,
        key: &'static str,
        env: &'static str,
        default: &str,
    ) -> Result<String, ConfigError> {
        let value = self.find(key, &[env], None);
        match value {
            None => Ok(default.to_owned()),
            Some(found) => {
                let text = found.text()?.trim().to_owned();
                if text.is_empty() {
                    return Err(found.error(
                        "must not be empty",
                        format!("set it, or unset it for the default `{default}`"),
                    ));
                }
                Ok(text)
            }
        }
    }

    fn url(&mut self, key: &'static str, env: &'static str) -> Result<Option<String>, ConfigError> {
        match self.find(key, &[env], None) {
            None => Ok(None),
            Some(found) => http_url(&found).map(Some),
        }
    }

    fn boolean(
        &mut self,
        key: &'static str,
        env: &'static str,
        flag: Option<(&'static str, bool)>,
        default: bool,
    ) -> Result<bool, ConfigError> {
        let flag = flag.map(|(name, on)| (name, on.then_some("true")));
        self.find(key, &[env], flag)
            .map_or(Ok(default), |found| found.boolean())
    }

    fn seconds(
        &mut self,
        key: &'static str,
        env: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.find(key, &[env], None)
            .map_or(Ok(default), |found| found.number(1, 7 * 24 * 3600))
            .map(Duration::from_secs)
    }

    /// Like [`Self::seconds`], but 0 is allowed and means "off" (`None`).
    fn seconds_or_off(
        &mut self,
        key: &'static str,
        env: &'static str,
    ) -> Result<Option<Duration>, ConfigError> {
        self.find(key, &[env], None)
            .map_or(Ok(0), |found| found.number(0, 7 * 24 * 3600))
            .map(|secs| (secs > 0).then(|| Duration::from_secs(secs)))
    }

    /// A duration (`MCP_PROXY_ACCESS_TOKEN_TTL=1h`) between `min` and `max` seconds.
    fn duration(
        &mut self,
        key: &'static str,
        env: &'static str,
        (min, max): (u64, u64),
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.find(key, &[env], None)
            .map_or(Ok(default), |found| found.duration(min, max))
            .map(Duration::from_secs)
    }

    /// A count from 0 (which turns what it limits off) to a million.
    fn count(
        &mut self,
        key: &'static str,
        env: &'static str,
        default: u64,
    ) -> Result<u64, ConfigError> {
        self.find(key, &[env], None)
            .map_or(Ok(default), |found| found.number(0, 1_000_000))
    }

    fn list(
        &mut self,
        key: &'static str,
        env: &'static str,
        separators: &[char],
        default: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        match self.find(key, &[env], None) {
            None => Ok(default.iter().map(|item| (*item).to_owned()).collect()),
            Some(found) => found.list(separators),
        }
    }

    /// A secret given either inline (`key`, `env`) or as a file holding it (`key_file`,
    /// `env_file`); the higher layer wins, and both in one layer is an error.
    fn secret(
        &mut self,
        (key, env): (&'static str, &'static str),
        (key_file, env_file): (&'static str, &'static str),
    ) -> Result<Option<SecretString>, ConfigError> {
        let inline = self.find(key, &[env], None);
        let file = self.find(key_file, &[env_file], None);
        match (inline, file) {
            (None, None) => Ok(None),
            (Some(inline), Some(file)) if inline.origin.rank() == file.origin.rank() => Err(file
                .error(
                    format!(
                        "both {} and {} are set",
                        inline.origin.name(),
                        file.origin.name()
                    ),
                    "set the secret one way only: the value or the file holding it",
                )),
            (Some(inline), Some(file)) if inline.origin.rank() < file.origin.rank() => {
                read_secret_file(&file).map(Some)
            }
            (None, Some(file)) => read_secret_file(&file).map(Some),
            (Some(inline), _) => Ok(Some(SecretString::from(inline.text()?))),
        }
    }
}

/// Reads a secret from the file named by `found`, without its trailing newline.
fn read_secret_file(found: &Found) -> Result<SecretString, ConfigError> {
    let path = found.text()?;
    let text = std::fs::read_to_string(path.trim()).map_err(|e| {
        found.error(
            format!("cannot read the secret file `{}`: {e}", path.trim()),
            "give the path of a readable file that holds only the secret",
        )
    })?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.trim().is_empty() {
        return Err(found.error(
            format!("the secret file `{}` is empty", path.trim()),
            "write the secret into the file",
        ));
    }
    Ok(SecretString::from(secret.to_owned()))
}

/// An absolute http(s) URL.
fn http_url(found: &Found) -> Result<String, ConfigError> {
    let text = found.text()?.trim().to_owned();
    match reqwest::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(text),
        Ok(url) => Err(found.error(
            format!("`{text}` is a `{}` URL, not http(s)", url.scheme()),
            "use an absolute URL starting with https:// (or http:// for local testing)",
        )),
        Err(e) => Err(found.error(
            format!("`{text}` is not a valid URL: {e}"),
            "use an absolute URL such as https://idp.example.com/...",
        )),
    }
}

/// The whole resolution; `names` tells validation how each setting was set.
pub(super) fn resolve(
    cli: &crate::cli::Cli,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Settings, Names), ConfigError> {
    let file = match &cli.config {
        Some(path) => Some((path.clone(), "--config".to_owned())),
        None => env("MCP_CONFIG_FILE")
            .filter(|path| !path.trim().is_empty())
            .map(|path| (PathBuf::from(path.trim()), "MCP_CONFIG_FILE".to_owned())),
    };
    let mut r = Resolver {
        sources: Sources::new(env, file)?,
        names: Names::default(),
    };
    let flags = &cli.serve;

    if let Some(found) = r.sources.env("MCP_AUTH_PROVIDER") {
        return Err(found.error(
            "loading an auth provider by name is not supported",
            "use MCP_AUTH_MODE (none, jwt, introspect, proxy or static); see docs/configuration.md",
        ));
    }

    let server = resolve_server(&mut r, flags)?;
    let (tools, tools_file) = resolve_tools(&mut r, flags)?;
    let auth = resolve_auth(&mut r, &server.base_url, &Catalog::new(&tools, &tools_file))?;
    let splunk = resolve_splunk(&mut r, &auth.splunk_audience)?;
    let (mode, credentials) = resolve_modes(&mut r, auth.client_id.is_some())?;
    let auth = AuthSettings { mode, ..auth };
    let splunk = SplunkSettings {
        credentials,
        ..splunk
    };

    r.sources.reject_unknown()?;
    Ok((
        Settings {
            server,
            auth,
            splunk,
            tools,
            tools_file,
        },
        r.names,
    ))
}

/// The `[tools]` table (limits, guard, custom tools) and the tools file.
fn resolve_tools(
    r: &mut Resolver<'_>,
    flags: &crate::cli::ServeArgs,
) -> Result<(ToolsConfig, Option<ToolsFile>), ConfigError> {
    let tools = match r.find("tools", &[], None) {
        None => ToolsConfig::default(),
        Some(found) => match found.raw.clone() {
            super::source::Raw::Toml(value) => value.try_into::<ToolsConfig>().map_err(|e| {
                found.error(
                    e.message().trim().to_owned(),
                    "correct the [tools] table (see docs/configuration.md and \
                     docs/custom-tools.md for its keys)",
                )
            })?,
            super::source::Raw::Text(_) => ToolsConfig::default(),
        },
    };
    let file = match r.find(
        "server.tools_file",
        &["MCP_TOOLS_FILE"],
        Some(("--tools-file", flags.tools_file.as_deref())),
    ) {
        None => None,
        Some(found) => {
            let path = PathBuf::from(found.text()?.trim());
            let setting = found.origin.name();
            let tools = super::read_tools_file(&path, &setting)?;
            Some(ToolsFile {
                path,
                setting,
                tools,
            })
        }
    };
    Ok((tools, file))
}

/// The names and tags of every tool, built-in and custom, that rules may name.
struct Catalog {
    tools: Vec<String>,
    tags: Vec<String>,
}

impl Catalog {
    fn new(tools: &ToolsConfig, file: &Option<ToolsFile>) -> Self {
        let custom: Vec<&mcp_tools::CustomToolConfig> = tools
            .custom
            .iter()
            .chain(file.iter().flat_map(|file| &file.tools))
            .collect();
        let names = mcp_tools::registry::TOOL_SPECS
            .iter()
            .map(|spec| spec.name.to_owned())
            .chain(custom.iter().map(|tool| tool.name.clone()))
            .collect();
        let mut tags: Vec<String> = mcp_tools::registry::known_tags()
            .into_iter()
            .map(str::to_owned)
            .chain(custom.iter().flat_map(|tool| tool.tags.iter().cloned()))
            .collect();
        if !custom.is_empty() {
            tags.push(mcp_tools::custom::CUSTOM_TAG.to_owned());
        }
        tags.sort();
        tags.dedup();
        Self { tools: names, tags }
    }

    fn tools(&self) -> Vec<&str> {
        self.tools.iter().map(String::as_str).collect()
    }

    fn tags(&self) -> Vec<&str> {
        self.tags.iter().map(String::as_str).collect()
    }
}

fn resolve_server(
    r: &mut Resolver<'_>,
    flags: &crate::cli::ServeArgs,
) -> Result<ServerSettings, ConfigError> {
    let transport = match r.find(
        "server.transport",
        &["MCP_TRANSPORT"],
        Some(("--transport", flags.transport.as_deref())),
    ) {
        None => Transport::Stdio,
        Some(found) => [Transport::Stdio, Transport::Http][found.choice(&["stdio", "http"])?],
    };
    let bind = match r.find(
        "server.bind",
        &["MCP_BIND"],
        Some(("--bind", flags.bind.as_deref())),
    ) {
        None => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8000),
        Some(found) => {
            let text = found.text()?;
            text.trim().parse::<SocketAddr>().map_err(|_| {
                found.error(
                    format!("`{text}` is not an IP address and port"),
                    "use an address such as 127.0.0.1:8000 (local only) or 0.0.0.0:8000 (all interfaces)",
                )
            })?
        }
    };
    let base_url = match r.find(
        "server.base_url",
        &["MCP_BASE_URL"],
        Some(("--base-url", flags.base_url.as_deref())),
    ) {
        None => default_base_url(bind),
        Some(found) => base_url(&found)?,
    };
    let stateless = r.boolean(
        "server.stateless",
        "MCP_STATELESS",
        Some(("--stateless", flags.stateless)),
        false,
    )?;
    let allowed_hosts = match r.find("server.allowed_hosts", &["MCP_ALLOWED_HOSTS"], None) {
        None => default_allowed_hosts(&base_url),
        Some(found) => found.list(&[',', ' '])?,
    };
    let allow_unauthenticated = r.boolean(
        "server.allow_unauthenticated",
        "MCP_ALLOW_UNAUTHENTICATED",
        Some(("--allow-unauthenticated", flags.allow_unauthenticated)),
        false,
    )?;
    let trusted_proxies = match r.find("server.trusted_proxies", &["MCP_TRUSTED_PROXIES"], None) {
        None => Vec::new(),
        Some(found) => trusted_proxies(&found)?,
    };
    let filter_tools_list = r.boolean(
        "server.filter_tools_list",
        "MCP_TOOLS_LIST_FILTER",
        None,
        true,
    )?;
    let log_format = match r.find(
        "server.log_format",
        &["MCP_LOG_FORMAT"],
        Some(("--log-format", flags.log_format.as_deref())),
    ) {
        None => LogFormat::Text,
        Some(found) => [LogFormat::Text, LogFormat::Json][found.choice(&["text", "json"])?],
    };
    let log_level = match r.find(
        "server.log_level",
        &["MCP_LOG_LEVEL", "RUST_LOG"],
        Some(("--log-level", flags.log_level.as_deref())),
    ) {
        None => "info".to_owned(),
        Some(found) => {
            let text = found.text()?.trim().to_owned();
            if let Err(e) = tracing_subscriber::EnvFilter::try_new(&text) {
                return Err(found.error(
                    format!("`{text}` is not a valid log filter: {e}"),
                    "use a level (error, warn, info, debug, trace) or directives such as `splunk_mcp=debug,info`",
                ));
            }
            text
        }
    };
    Ok(ServerSettings {
        transport,
        bind,
        base_url,
        stateless,
        allowed_hosts,
        allow_unauthenticated,
        trusted_proxies,
        filter_tools_list,
        log_format,
        log_level,
    })
}

/// `MCP_TRUSTED_PROXIES`: CIDR ranges (`10.0.0.0/8`) or single addresses, comma- or
/// space-separated; host bits are dropped (`10.1.2.3/8` is `10.0.0.0/8`).
fn trusted_proxies(found: &Found) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    found
        .list(&[',', ' '])?
        .into_iter()
        .map(|item| {
            let range = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(ipnet::IpNet::from));
            range.map(|range| range.trunc()).map_err(|_| {
                found.error(
                    format!("`{item}` is not a CIDR range or an IP address"),
                    "list the addresses of the load balancers in front of this server as CIDR \
                     ranges separated by commas, e.g. `10.0.0.0/8, 127.0.0.1/32, ::1/128`",
                )
            })
        })
        .collect()
}

/// `http://<bind>`, with an all-interfaces address shown as `localhost` (what a local client dials).
fn default_base_url(bind: SocketAddr) -> String {
    if bind.ip().is_unspecified() {
        format!("http://localhost:{}", bind.port())
    } else {
        format!("http://{bind}")
    }
}

/// The public URL: http(s), no query or fragment, no trailing slash.
fn base_url(found: &Found) -> Result<String, ConfigError> {
    let text = found.text()?.trim().to_owned();
    let fix =
        "use the URL clients reach this server at, without /mcp, e.g. https://mcp.example.com";
    let url = reqwest::Url::parse(&text)
        .map_err(|e| found.error(format!("`{text}` is not a valid URL: {e}"), fix))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(found.error(format!("`{text}` is not an http(s) URL"), fix));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(found.error(
            format!("`{text}` has a query or fragment"),
            "remove everything from `?` or `#` on",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(found.error(format!("`{text}` carries user credentials"), fix));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Loopback names plus the host of `base_url`, with and without its port.
fn default_allowed_hosts(base_url: &str) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .iter()
        .map(|host| (*host).to_owned())
        .collect();
    if let Ok(url) = reqwest::Url::parse(base_url)
        && let Some(host) = url.host_str()
    {
        let host = host.to_ascii_lowercase();
        let mut extra = vec![host.clone()];
        if let Some(port) = url.port_or_known_default() {
            extra.push(format!("{host}:{port}"));
        }
        for item in extra {
            if !hosts.contains(&item) {
                hosts.push(item);
            }
        }
    }
    hosts
}

/// Boundary 1 without its mode, which depends on the seed aliases (see [`resolve_modes`]).
fn resolve_auth(
    r: &mut Resolver<'_>,
    base_url: &str,
    catalog: &Catalog,
) -> Result<AuthSettings, ConfigError> {
    let oidc_config_url = r.url("auth.oidc_config_url", "IDP_OIDC_CONFIG_URL")?;
    let issuer_url = r.url("auth.issuer_url", "IDP_ISSUER_URL")?;
    let jwks_uri = r.url("auth.jwks_uri", "IDP_JWKS_URI")?;
    let authorize_url = r.url("auth.authorize_url", "IDP_AUTHORIZE_URL")?;
    let token_url = r.url("auth.token_url", "IDP_TOKEN_URL")?;
    let introspection_url = r.url("auth.introspection_url", "IDP_INTROSPECTION_URL")?;
    let audience = r.text_or(
        "auth.audience",
        "MCP_OAUTH_AUDIENCE",
        &format!("{base_url}/mcp"),
    )?;
    let client_id = r.text("auth.client_id", "MCP_OAUTH_CLIENT_ID")?;
    let client_secret = r.secret(
        ("auth.client_secret", "MCP_OAUTH_CLIENT_SECRET"),
        ("auth.client_secret_file", "MCP_OAUTH_CLIENT_SECRET_FILE"),
    )?;
    let client_key = r.secret(
        ("auth.client_key", "MCP_OAUTH_CLIENT_KEY"),
        ("auth.client_key_file", "MCP_OAUTH_CLIENT_KEY_FILE"),
    )?;
    let client_key_id = r.text("auth.client_key_id", "MCP_OAUTH_CLIENT_KEY_ID")?;
    let required_scopes = r.list(
        "auth.required_scopes",
        "MCP_AUTH_REQUIRED_SCOPES",
        &[',', ' '],
        &[],
    )?;
    let required_groups = r.list(
        "auth.required_groups",
        "MCP_AUTH_REQUIRED_GROUPS",
        &[','],
        &[],
    )?;
    let groups_claim = r.text_or("auth.groups_claim", "MCP_AUTH_GROUPS_CLAIM", "groups")?;
    let static_tokens_file = r
        .text("auth.static_tokens_file", "MCP_STATIC_TOKENS_FILE")?
        .map(PathBuf::from);
    let scope_groups = match r.find("auth.scope_groups", &["MCP_AUTH_SCOPE_GROUPS"], None) {
        None => ScopeRules::new(),
        Some(found) => scope_groups(&found)?,
    };
    let known_tools = catalog.tools();
    let mut tools = match r.find("auth.tools", &[], None) {
        None => BTreeMap::new(),
        Some(found) => rules(&found, "tool", &known_tools)?,
    };
    if let Some(found) = r.find("auth.tool_scopes", &[], None) {
        merge_tool_scopes(&found, &known_tools, &mut tools)?;
    }
    let tags = match r.find("auth.tags", &[], None) {
        None => BTreeMap::new(),
        Some(found) => rules(&found, "tag", &catalog.tags())?,
    };
    let passthrough_audience_ack = r.boolean(
        "auth.passthrough_audience_ack",
        "MCP_PASSTHROUGH_AUDIENCE_ACK",
        None,
        false,
    )?;
    let splunk_audience = r.text_or("auth.splunk_audience", "MCP_SPLUNK_AUDIENCE", "splunk")?;
    let revocation_url = r.url("auth.revocation_url", "IDP_REVOCATION_URL")?;
    let userinfo_url = r.url("auth.userinfo_url", "IDP_USERINFO_URL")?;
    let idp_scopes = r.list(
        "auth.idp_scopes",
        "IDP_SCOPES",
        &[',', ' '],
        &["openid", "profile", "email", "offline_access"],
    )?;
    let extra_authorize_params = match r.find(
        "auth.extra_authorize_params",
        &["IDP_EXTRA_AUTHORIZE_PARAMS"],
        None,
    ) {
        None => Vec::new(),
        Some(found) => extra_params(&found, RESERVED_AUTHORIZE_PARAMS)?,
    };
    let extra_token_params =
        match r.find("auth.extra_token_params", &["IDP_EXTRA_TOKEN_PARAMS"], None) {
            None => Vec::new(),
            Some(found) => extra_params(&found, RESERVED_TOKEN_PARAMS)?,
        };
    let client_auth_method =
        match r.find("auth.client_auth_method", &["IDP_CLIENT_AUTH_METHOD"], None) {
            None => IdpClientAuth::ClientSecretBasic,
            Some(found) => [
                IdpClientAuth::ClientSecretBasic,
                IdpClientAuth::ClientSecretPost,
                IdpClientAuth::PrivateKeyJwt,
            ][found.choice(&[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ])?],
        };
    let proxy = resolve_proxy(r)?;
    Ok(AuthSettings {
        mode: AuthMode::None,
        oidc_config_url,
        issuer_url,
        jwks_uri,
        authorize_url,
        token_url,
        introspection_url,
        audience,
        client_id,
        client_secret,
        client_key,
        client_key_id,
        required_scopes,
        required_groups,
        groups_claim,
        static_tokens_file,
        scope_groups,
        tools,
        tags,
        passthrough_audience_ack,
        splunk_audience,
        revocation_url,
        userinfo_url,
        idp_scopes,
        extra_authorize_params,
        extra_token_params,
        client_auth_method,
        proxy,
    })
}

/// `k=v&k2=v2` (form-encoded) as pairs; none may be a parameter the proxy sets itself.
fn extra_params(found: &Found, reserved: &[&str]) -> Result<Vec<(String, String)>, ConfigError> {
    let text = found.text()?;
    let fix =
        "write it as name=value pairs joined by &, e.g. `audience=https://splunk&prompt=consent`";
    let mut pairs = Vec::new();
    for piece in text.trim().split('&').filter(|piece| !piece.is_empty()) {
        let Some((name, _)) = piece.split_once('=') else {
            return Err(found.error(format!("`{piece}` has no `=`"), fix));
        };
        if name.trim().is_empty() {
            return Err(found.error(format!("`{piece}` has no parameter name"), fix));
        }
        let Some((name, value)) = url::form_urlencoded::parse(piece.as_bytes()).next() else {
            return Err(found.error(format!("`{piece}` is not a parameter"), fix));
        };
        if reserved.contains(&name.as_ref()) {
            return Err(found.error(
                format!("`{name}` is set by splunk-mcp itself and cannot be overridden"),
                format!("remove `{name}` from it"),
            ));
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// `[auth.proxy]`.
fn resolve_proxy(r: &mut Resolver<'_>) -> Result<ProxySettings, ConfigError> {
    const DAY: u64 = 24 * 3600;
    let store = match r.find("auth.proxy.store", &["MCP_PROXY_STORE"], None) {
        None => ProxyStore::File(PathBuf::from(super::DEFAULT_PROXY_STORE)),
        Some(found) => proxy_store(&found)?,
    };
    let encryption_key = r.secret(
        ("auth.proxy.encryption_key", "MCP_PROXY_ENCRYPTION_KEY"),
        (
            "auth.proxy.encryption_key_file",
            "MCP_PROXY_ENCRYPTION_KEY_FILE",
        ),
    )?;
    let access_token_ttl = r.duration(
        "auth.proxy.access_token_ttl",
        "MCP_PROXY_ACCESS_TOKEN_TTL",
        (1, DAY),
        3600,
    )?;
    let refresh_token_ttl = r.duration(
        "auth.proxy.refresh_token_ttl",
        "MCP_PROXY_REFRESH_TOKEN_TTL",
        (60, 365 * DAY),
        30 * DAY,
    )?;
    let consent_remember = r.duration(
        "auth.proxy.consent_remember",
        "MCP_PROXY_CONSENT_REMEMBER",
        (0, 365 * DAY),
        30 * DAY,
    )?;
    let refresh_reuse_grace = r.duration(
        "auth.proxy.refresh_reuse_grace",
        "MCP_PROXY_REFRESH_REUSE_GRACE",
        (0, 3600),
        30,
    )?;
    let allow_cimd = r.boolean("auth.proxy.allow_cimd", "MCP_PROXY_ALLOW_CIMD", None, true)?;
    let cimd_allow_loopback = r.boolean(
        "auth.proxy.cimd_allow_loopback",
        "MCP_PROXY_CIMD_ALLOW_LOOPBACK",
        None,
        false,
    )?;
    let redirect_allowlist = r.list(
        "auth.proxy.redirect_allowlist",
        "MCP_PROXY_REDIRECT_ALLOWLIST",
        &[','],
        &[],
    )?;
    let register_rate_limit = r.count(
        "auth.proxy.register_rate_limit",
        "MCP_PROXY_REGISTER_RATE_LIMIT",
        20,
    )?;
    let token_rate_limit = r.count(
        "auth.proxy.token_rate_limit",
        "MCP_PROXY_TOKEN_RATE_LIMIT",
        120,
    )?;
    let token_client_rate_limit = r.count(
        "auth.proxy.token_client_rate_limit",
        "MCP_PROXY_TOKEN_CLIENT_RATE_LIMIT",
        60,
    )?;
    let revoke_rate_limit = r.count(
        "auth.proxy.revoke_rate_limit",
        "MCP_PROXY_REVOKE_RATE_LIMIT",
        60,
    )?;
    let revoke_client_rate_limit = r.count(
        "auth.proxy.revoke_client_rate_limit",
        "MCP_PROXY_REVOKE_CLIENT_RATE_LIMIT",
        30,
    )?;
    let rate_limit_window = r.duration(
        "auth.proxy.rate_limit_window",
        "MCP_PROXY_RATE_LIMIT_WINDOW",
        (1, DAY),
        60,
    )?;
    let idjag_issuers = r.list(
        "auth.proxy.idjag_issuers",
        "MCP_PROXY_IDJAG_ISSUERS",
        &[',', ' '],
        &[],
    )?;
    Ok(ProxySettings {
        store,
        encryption_key,
        access_token_ttl,
        refresh_token_ttl,
        consent_remember,
        refresh_reuse_grace,
        allow_cimd,
        cimd_allow_loopback,
        redirect_allowlist,
        register_rate_limit,
        token_rate_limit,
        token_client_rate_limit,
        revoke_rate_limit,
        revoke_client_rate_limit,
        rate_limit_window,
        idjag_issuers,
    })
}

/// `MCP_PROXY_STORE`: a `redis://` URL, or else a file path (anything else with `://` is a
/// mistake).
fn proxy_store(found: &Found) -> Result<ProxyStore, ConfigError> {
    let text = found.text()?.trim().to_owned();
    let fix = "give a file path for the embedded store (e.g. /var/lib/splunk-mcp/proxy.redb), \
               or redis://[:password@]host:6379/0 for a Redis shared by several replicas";
    let Some((scheme, _)) = text.split_once("://") else {
        return Ok(ProxyStore::File(PathBuf::from(text)));
    };
    // The problem text never repeats the value: a Redis URL may hold a password.
    match scheme.to_ascii_lowercase().as_str() {
        "redis" => match reqwest::Url::parse(&text) {
            Ok(url) if url.host().is_some() => Ok(ProxyStore::Redis(SecretString::from(text))),
            _ => Err(found.error("not a valid redis:// URL (no host)", fix)),
        },
        "rediss" => Err(found.error(
            "TLS to Redis (rediss://) is not built in",
            "use redis:// on a private network, or a local TLS tunnel to the Redis server",
        )),
        other => Err(found.error(
            format!("a `{other}://` URL is neither a file path nor a redis:// URL"),
            fix,
        )),
    }
}

/// `MCP_AUTH_SCOPE_GROUPS` (`splunk:admin=admins;splunk:search=analysts,admins`) or the
/// `[auth.scope_groups]` table (`"splunk:admin" = ["admins"]`).
fn scope_groups(found: &Found) -> Result<ScopeRules, ConfigError> {
    let fix = "write rules as scope=group[,group...] joined by `;`, e.g. \
               `splunk:admin=admins;splunk:search=analysts,admins`, or in TOML an \
               [auth.scope_groups] section with lines like `\"splunk:admin\" = [\"admins\"]`";
    let table = match &found.raw {
        Raw::Text(text) | Raw::Toml(toml::Value::String(text)) => {
            return ScopeRules::parse(text).map_err(|e| found.error(e.to_string(), fix));
        }
        Raw::Toml(toml::Value::Table(table)) => table,
        Raw::Toml(_) => return Err(found.error("expected a table", fix)),
    };
    let mut rules = ScopeRules::new();
    for (scope, groups) in table {
        let setting = entry_name(found, scope);
        let groups = string_list(groups, ',').ok_or_else(|| {
            ConfigError::new(
                &setting,
                "expected an array of group names",
                format!(r#"write it like `"{scope}" = ["admins"]`"#),
            )
        })?;
        rules = rules
            .with_rule(scope, &groups)
            .map_err(|e| ConfigError::new(&setting, e.to_string(), fix))?;
    }
    Ok(rules)
}

/// `[auth.tools.<tool>]` or `[auth.tags.<tag>]` tables, each with `scopes` and `groups`;
/// `known` lists the names a rule may have, each a `what` (tool, tag).
fn rules(found: &Found, what: &str, known: &[&str]) -> Result<BTreeMap<String, Rule>, ConfigError> {
    let Raw::Toml(toml::Value::Table(table)) = &found.raw else {
        return Err(found.error(
            "expected a table of tables",
            "write each rule as its own section, e.g. [auth.tools.splunk_search] with \
             scopes = [...] and groups = [...]",
        ));
    };
    let mut rules = BTreeMap::new();
    for (name, value) in table {
        let setting = entry_name(found, name);
        if !known.contains(&name.as_str()) {
            return Err(ConfigError::new(
                setting,
                format!("there is no {what} named `{name}`"),
                format!("use one of: {}", known.join(", ")),
            ));
        }
        let fix =
            "give it `scopes = [\"...\"]` (all needed) and/or `groups = [\"...\"]` (one needed)";
        let toml::Value::Table(fields) = value else {
            return Err(ConfigError::new(setting, "expected a table", fix));
        };
        let mut rule = Rule::default();
        for (key, value) in fields {
            let list = match key.as_str() {
                "scopes" => string_list(value, ' '),
                "groups" => string_list(value, ','),
                other => {
                    return Err(ConfigError::new(
                        entry_name(found, &format!("{name}.{other}")),
                        format!("unknown key `{other}`"),
                        fix,
                    ));
                }
            };
            let list = list.ok_or_else(|| {
                ConfigError::new(
                    entry_name(found, &format!("{name}.{key}")),
                    "expected an array of strings",
                    fix,
                )
            })?;
            if key == "scopes" {
                check_scopes(&list).map_err(|reason| {
                    ConfigError::new(entry_name(found, &format!("{name}.scopes")), reason, fix)
                })?;
                rule.scopes = Some(list);
            } else if list.is_empty() {
                return Err(ConfigError::new(
                    entry_name(found, &format!("{name}.groups")),
                    "an empty group list would let nobody call the tool",
                    "name at least one group, or remove `groups`",
                ));
            } else {
                rule.groups = list;
            }
        }
        rules.insert(name.clone(), rule);
    }
    Ok(rules)
}

/// The older `[auth.tool_scopes]` (tool = "scopes"), read into the tools' rules. A tool whose
/// scopes are set both ways is refused rather than one silently winning.
fn merge_tool_scopes(
    found: &Found,
    known: &[&str],
    tools: &mut BTreeMap<String, Rule>,
) -> Result<(), ConfigError> {
    let Raw::Toml(toml::Value::Table(table)) = &found.raw else {
        return Err(found.error(
            "expected a table",
            "write it as [auth.tools.<tool>] sections with `scopes = [...]`",
        ));
    };
    for (tool, value) in table {
        let setting = entry_name(found, tool);
        if !known.contains(&tool.as_str()) {
            return Err(ConfigError::new(
                setting,
                format!("there is no tool named `{tool}`"),
                format!("use one of: {}", known.join(", ")),
            ));
        }
        let scopes = string_list(value, ' ').ok_or_else(|| {
            ConfigError::new(
                &setting,
                "expected a string of space-separated scopes",
                r#"write it like `splunk_search = "splunk:search"`"#,
            )
        })?;
        check_scopes(&scopes).map_err(|reason| {
            ConfigError::new(
                &setting,
                reason,
                "use valid scope names such as splunk:search",
            )
        })?;
        let rule = tools.entry(tool.clone()).or_default();
        if rule.scopes.is_some() {
            return Err(ConfigError::new(
                setting,
                format!("the scopes of `{tool}` are also set in [auth.tools.{tool}]"),
                format!(
                    "keep `scopes` in [auth.tools.{tool}] and remove `{tool}` from \
                     [auth.tool_scopes], which is its older spelling"
                ),
            ));
        }
        rule.scopes = Some(scopes);
    }
    Ok(())
}

/// How an entry of a table found at `found` is named in messages: `auth.tools.x in /etc/f.toml`.
fn entry_name(found: &Found, name: &str) -> String {
    match &found.origin {
        Origin::File { key, path } => format!("{key}.{name} in {}", path.display()),
        other => other.name(),
    }
}

/// A TOML array of strings, or one string split at `separator`; blanks dropped, `None` for
/// other types.
fn string_list(value: &toml::Value, separator: char) -> Option<Vec<String>> {
    let items: Vec<String> = match value {
        toml::Value::String(text) => text.split(separator).map(str::to_owned).collect(),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    Some(
        items
            .into_iter()
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect(),
    )
}

/// Every item is one valid scope token.
fn check_scopes(scopes: &[String]) -> Result<(), String> {
    for scope in scopes {
        match auth_core::ScopeSet::parse(scope) {
            Ok(set) if set.len() == 1 => {}
            Ok(_) => return Err(format!("`{scope}` is not one scope")),
            Err(reason) => return Err(reason),
        }
    }
    Ok(())
}

/// `[splunk]`; `splunk_audience` (`MCP_SPLUNK_AUDIENCE`) is exchange mode's default audience.
fn resolve_splunk(
    r: &mut Resolver<'_>,
    splunk_audience: &str,
) -> Result<SplunkSettings, ConfigError> {
    let host = match r.find("splunk.host", &["SPLUNK_HOST"], None) {
        None => "localhost".to_owned(),
        Some(found) => {
            let text = found.text()?.trim().to_owned();
            if text.contains("://") || text.contains('/') || text.is_empty() {
                return Err(found.error(
                    format!("`{text}` is not a host name"),
                    "give only the host (splunk.example.com); the scheme and port are SPLUNK_SCHEME and SPLUNK_PORT",
                ));
            }
            text
        }
    };
    let port = match r.find("splunk.port", &["SPLUNK_PORT"], None) {
        None => 8089,
        Some(found) => u16::try_from(found.number(1, u64::from(u16::MAX))?).unwrap_or(8089),
    };
    let scheme = match r.find("splunk.scheme", &["SPLUNK_SCHEME"], None) {
        None => "https".to_owned(),
        Some(found) => ["https", "http"][found.choice(&["https", "http"])?].to_owned(),
    };
    let verify_ssl = r.boolean("splunk.verify_ssl", "SPLUNK_VERIFY_SSL", None, true)?;
    let ca_bundle = match r.find("splunk.ca_bundle", &["SPLUNK_CA_BUNDLE"], None) {
        None => None,
        Some(found) => {
            let path = PathBuf::from(found.text()?.trim());
            if !path.is_file() {
                return Err(found.error(
                    format!("`{}` is not a readable file", path.display()),
                    "give the path of a PEM file with the CA certificates Splunk's certificate chains to",
                ));
            }
            Some(path)
        }
    };
    let token = r.secret(
        ("splunk.token", "SPLUNK_TOKEN"),
        ("splunk.token_file", "SPLUNK_TOKEN_FILE"),
    )?;
    let username = r.text("splunk.username", "SPLUNK_USERNAME")?;
    let password = r.secret(
        ("splunk.password", "SPLUNK_PASSWORD"),
        ("splunk.password_file", "SPLUNK_PASSWORD_FILE"),
    )?;
    let timeout = r.seconds("splunk.timeout", "SPLUNK_TIMEOUT", 30)?;
    let mirror = MirrorSettings {
        prefix: r.text_or("splunk.mirror.prefix", "SPLUNK_MIRROR_PREFIX", "mcp.")?,
        baseline_roles: r.list(
            "splunk.mirror.baseline_roles",
            "SPLUNK_MIRROR_BASELINE_ROLES",
            &[','],
            &["user"],
        )?,
        denied_roles: r.list(
            "splunk.mirror.denied_roles",
            "SPLUNK_MIRROR_DENIED_ROLES",
            &[','],
            &["admin", "sc_admin"],
        )?,
        username_claim: r.text_or(
            "splunk.mirror.username_claim",
            "SPLUNK_MIRROR_USERNAME_CLAIM",
            "preferred_username",
        )?,
        token_ttl: r.seconds("splunk.mirror.token_ttl", "SPLUNK_MIRROR_TOKEN_TTL", 3600)?,
        token_audience: r.text_or(
            "splunk.mirror.token_audience",
            "SPLUNK_MIRROR_TOKEN_AUDIENCE",
            "mcp",
        )?,
        cleanup_interval: r.seconds_or_off(
            "splunk.mirror.cleanup_interval",
            "SPLUNK_MIRROR_CLEANUP_INTERVAL",
        )?,
    };
    let exchange = ExchangeSettings {
        style: match r.find("splunk.exchange.style", &["IDP_EXCHANGE_STYLE"], None) {
            None => ExchangeStyle::Rfc8693,
            Some(found) => [ExchangeStyle::Rfc8693, ExchangeStyle::EntraObo]
                [found.choice(&["rfc8693", "entra-obo"])?],
        },
        audience: r.text_or(
            "splunk.exchange.audience",
            "SPLUNK_TOKEN_AUDIENCE",
            splunk_audience,
        )?,
        resource: r.text("splunk.exchange.resource", "SPLUNK_TOKEN_RESOURCE")?,
        scope: r.text("splunk.exchange.scope", "SPLUNK_TOKEN_SCOPE")?,
    };
    Ok(SplunkSettings {
        credentials: CredentialsMode::Service,
        host,
        port,
        scheme,
        verify_ssl,
        ca_bundle,
        token,
        username,
        password,
        timeout,
        mirror,
        exchange,
    })
}

/// The two modes, from their own names or the seed's aliases. A new name set as a flag or in
/// the environment wins over an alias; an alias (an environment variable) wins over the file.
fn resolve_modes(
    r: &mut Resolver<'_>,
    has_client_id: bool,
) -> Result<(AuthMode, CredentialsMode), ConfigError> {
    const AUTH: [AuthMode; 5] = [
        AuthMode::None,
        AuthMode::Jwt,
        AuthMode::Introspect,
        AuthMode::Proxy,
        AuthMode::Static,
    ];
    const CREDENTIALS: [CredentialsMode; 4] = [
        CredentialsMode::Passthrough,
        CredentialsMode::Mirror,
        CredentialsMode::Service,
        CredentialsMode::Exchange,
    ];
    let explicit_mode = r.sources.find("auth.mode", &["MCP_AUTH_MODE"], None);
    let explicit_credentials = r
        .sources
        .find("splunk.credentials", &["SPLUNK_CREDENTIALS"], None);

    // SPLUNK_AUTH_MODE: legacy | oauth.
    let seed = match r.sources.env("SPLUNK_AUTH_MODE") {
        None => None,
        Some(found) => {
            let oauth = found.choice(&["legacy", "oauth"]).map_err(|_| {
                found.error(
                    format!("`{}` is not legacy or oauth", found.text().unwrap_or_default()),
                    "set SPLUNK_AUTH_MODE to legacy or oauth, or better use MCP_AUTH_MODE and SPLUNK_CREDENTIALS",
                )
            })? == 1;
            let text = format!(
                "SPLUNK_AUTH_MODE={}",
                if oauth { "oauth" } else { "legacy" }
            );
            let mode = match (oauth, has_client_id) {
                (false, _) => AuthMode::None,
                (true, true) => AuthMode::Proxy,
                (true, false) => AuthMode::Jwt,
            };
            let credentials = if oauth {
                CredentialsMode::Passthrough
            } else {
                CredentialsMode::Service
            };
            Some((text, mode, credentials))
        }
    };
    let disabled = match r.sources.env("MCP_AUTH_DISABLED") {
        Some(found) if found.boolean()? => Some("MCP_AUTH_DISABLED=true".to_owned()),
        _ => None,
    };

    let mode = match explicit_mode {
        Some(found) if found.origin.rank() >= 2 || (disabled.is_none() && seed.is_none()) => {
            r.names.by_key.insert("auth.mode", found.origin.name());
            AUTH[found.choice(&["none", "jwt", "introspect", "proxy", "static"])?]
        }
        _ => {
            if let Some(name) = disabled {
                r.names.by_key.insert("auth.mode", name);
                AuthMode::None
            } else if let Some((name, mode, _)) = &seed {
                r.names.by_key.insert("auth.mode", name.clone());
                *mode
            } else {
                AuthMode::None
            }
        }
    };
    let credentials = match explicit_credentials {
        Some(found) if found.origin.rank() >= 2 || seed.is_none() => {
            r.names
                .by_key
                .insert("splunk.credentials", found.origin.name());
            CREDENTIALS[found.choice(&["passthrough", "mirror", "service", "exchange"])?]
        }
        _ => match seed {
            Some((name, _, credentials)) => {
                r.names.by_key.insert("splunk.credentials", name);
                credentials
            }
            None => CredentialsMode::Service,
        },
    };
    Ok((mode, credentials))
}
