//! Rules that span several settings: what each auth mode and credential mode needs, and the
//! combinations that would be unsafe.

use secrecy::ExposeSecret as _;

use super::resolve::Names;
use super::{AuthMode, ConfigError, CredentialsMode, IdpClientAuth, Settings, Transport};

/// The name of a mode in configuration.
fn auth_mode_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::None => "none",
        AuthMode::Jwt => "jwt",
        AuthMode::Introspect => "introspect",
        AuthMode::Proxy => "proxy",
        AuthMode::Static => "static",
    }
}

/// Checks `settings` as a whole; `names` says how each setting was set. `serving` adds the checks of the transport and listener, which the
/// one-shot commands (`doctor`, `mirror cleanup`) do not use, so an operator can run them with
/// the server's environment whatever its transport.
pub(super) fn validate(
    settings: &Settings,
    names: &Names,
    serving: bool,
) -> Result<(), ConfigError> {
    let auth = &settings.auth;
    let server = &settings.server;
    let mode_name = || names.get("auth.mode", "MCP_AUTH_MODE");
    let mode = auth_mode_name(auth.mode);
    check_policy(settings, names)?;
    if serving && let Ok(policy) = settings.policy() {
        settings.check_claims_have_tokens(&policy)?;
    }

    match auth.mode {
        AuthMode::None => {}
        AuthMode::Jwt => {
            if auth.oidc_config_url.is_none()
                && (auth.issuer_url.is_none() || auth.jwks_uri.is_none())
            {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `jwt` needs the IdP's discovery document, or its issuer and key set",
                    "set IDP_OIDC_CONFIG_URL (https://idp.example.com/.well-known/openid-configuration), \
                     or both IDP_ISSUER_URL and IDP_JWKS_URI",
                ));
            }
        }
        AuthMode::Introspect => {
            if auth.introspection_url.is_none() && auth.oidc_config_url.is_none() {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `introspect` needs the IdP's introspection endpoint",
                    "set IDP_INTROSPECTION_URL, or IDP_OIDC_CONFIG_URL if the discovery document lists it",
                ));
            }
            if auth.client_id.is_none() || auth.client_secret.is_none() {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `introspect` needs a client id and secret to call the introspection endpoint",
                    "set MCP_OAUTH_CLIENT_ID and MCP_OAUTH_CLIENT_SECRET (or MCP_OAUTH_CLIENT_SECRET_FILE)",
                ));
            }
        }
        AuthMode::Proxy => {
            if auth.oidc_config_url.is_none()
                && (auth.authorize_url.is_none() || auth.token_url.is_none())
            {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `proxy` needs the upstream IdP's endpoints",
                    "set IDP_OIDC_CONFIG_URL, or IDP_AUTHORIZE_URL and IDP_TOKEN_URL for a non-OIDC IdP",
                ));
            }
            if auth.oidc_config_url.is_none()
                && (auth.issuer_url.is_none() || auth.jwks_uri.is_none())
                && auth.userinfo_url.is_none()
            {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `proxy` without discovery has no way to learn who signed in",
                    "set IDP_ISSUER_URL and IDP_JWKS_URI (to validate the IdP's ID tokens), or \
                     IDP_USERINFO_URL",
                ));
            }
            check_idp_client(
                settings,
                names,
                mode_name(),
                "auth mode `proxy` needs the client this server is registered as at the IdP \
                 (a confidential client whose redirect URI is <MCP_BASE_URL>/auth/callback)",
            )?;
            check_proxy(settings, names)?;
        }
        AuthMode::Static => match &auth.static_tokens_file {
            None => {
                return Err(ConfigError::new(
                    mode_name(),
                    "auth mode `static` needs the file of tokens and their claims",
                    "set MCP_STATIC_TOKENS_FILE (development only; use jwt or proxy in production)",
                ));
            }
            Some(path) if !path.is_file() => {
                return Err(ConfigError::new(
                    names.get("auth.static_tokens_file", "MCP_STATIC_TOKENS_FILE"),
                    format!("`{}` is not a readable file", path.display()),
                    "give the path of the TOML file of static tokens",
                ));
            }
            Some(_) => {}
        },
    }

    if serving && server.transport == Transport::Stdio && auth.mode != AuthMode::None {
        return Err(ConfigError::new(
            mode_name(),
            format!(
                "auth mode `{mode}` needs the HTTP transport: over stdio the client sends no token"
            ),
            "set MCP_TRANSPORT=http (or --transport http), or MCP_AUTH_MODE=none for a local stdio client",
        ));
    }
    if serving
        && server.transport == Transport::Http
        && auth.mode == AuthMode::None
        && !server.bind.ip().is_loopback()
        && !server.allow_unauthenticated
    {
        return Err(ConfigError::new(
            names.get("server.bind", "MCP_BIND"),
            format!(
                "auth mode `none` on {}, which is not a loopback address, would let anyone who can \
                 reach it use Splunk through this server",
                server.bind
            ),
            "set an auth mode (MCP_AUTH_MODE=jwt, ...), bind to 127.0.0.1, or pass \
             --allow-unauthenticated (MCP_ALLOW_UNAUTHENTICATED=true) if something in front \
             authenticates callers",
        ));
    }

    let splunk = &settings.splunk;
    let credentials_name = || names.get("splunk.credentials", "SPLUNK_CREDENTIALS");
    match splunk.credentials {
        CredentialsMode::Service => {
            check_credential(
                settings,
                names,
                "the service account Splunk sees for every caller",
            )?;
        }
        CredentialsMode::Mirror => {
            if auth.mode == AuthMode::None {
                return Err(ConfigError::new(
                    credentials_name(),
                    "credentials `mirror` create a Splunk user per caller, and with auth mode \
                     `none` there is no caller identity",
                    "set MCP_AUTH_MODE (jwt, introspect, proxy or static), or use SPLUNK_CREDENTIALS=service",
                ));
            }
            check_credential(
                settings,
                names,
                "the admin credential that manages mirror users",
            )?;
            let mirror = &splunk.mirror;
            if let Some(role) = mirror
                .baseline_roles
                .iter()
                .find(|role| mirror.denied_roles.contains(role))
            {
                return Err(ConfigError::new(
                    names.get(
                        "splunk.mirror.baseline_roles",
                        "SPLUNK_MIRROR_BASELINE_ROLES",
                    ),
                    format!("the baseline role `{role}` is also a denied role"),
                    "remove it from SPLUNK_MIRROR_BASELINE_ROLES or from SPLUNK_MIRROR_DENIED_ROLES",
                ));
            }
        }
        CredentialsMode::Exchange => {
            if !matches!(
                auth.mode,
                AuthMode::Jwt | AuthMode::Introspect | AuthMode::Proxy
            ) {
                return Err(ConfigError::new(
                    credentials_name(),
                    format!(
                        "credentials `exchange` trade the caller's IdP token for one for \
                         Splunk, and with auth mode `{mode}` callers bring no IdP token"
                    ),
                    "set MCP_AUTH_MODE to jwt, introspect or proxy, or use another SPLUNK_CREDENTIALS",
                ));
            }
            check_idp_client(
                settings,
                names,
                credentials_name(),
                "credentials `exchange` authenticate at the IdP's token endpoint as this \
                 server's own IdP client",
            )?;
            // Proxy mode has its own rules for the IdP's endpoints; the others find the token
            // endpoint by discovery.
            if auth.mode != AuthMode::Proxy && auth.oidc_config_url.is_none() {
                return Err(ConfigError::new(
                    credentials_name(),
                    "credentials `exchange` need the IdP's token endpoint, found by discovery",
                    "set IDP_OIDC_CONFIG_URL to the IdP's discovery document",
                ));
            }
        }
        CredentialsMode::Passthrough => {
            if auth.mode == AuthMode::None {
                return Err(ConfigError::new(
                    credentials_name(),
                    "credentials `passthrough` send the caller's token to Splunk, and with auth \
                     mode `none` callers send no token",
                    "set MCP_AUTH_MODE=jwt (or introspect, proxy), or use SPLUNK_CREDENTIALS=service",
                ));
            }
        }
    }
    Ok(())
}

/// The client this server is at the IdP (proxy mode, token exchange): an id, and a secret or,
/// with `private_key_jwt`, a usable private key. `why` says what needs it, and a missing client
/// is reported against `setting` (the setting that asked for it).
fn check_idp_client(
    settings: &Settings,
    names: &Names,
    setting: String,
    why: &str,
) -> Result<(), ConfigError> {
    let auth = &settings.auth;
    if auth.client_auth_method == IdpClientAuth::PrivateKeyJwt {
        let key_name = || names.get("auth.client_key_file", "MCP_OAUTH_CLIENT_KEY_FILE");
        let (Some(_), Some(key)) = (&auth.client_id, &auth.client_key) else {
            return Err(ConfigError::new(
                key_name(),
                format!("{why}, and IDP_CLIENT_AUTH_METHOD=private_key_jwt signs with its key"),
                "set MCP_OAUTH_CLIENT_ID and MCP_OAUTH_CLIENT_KEY_FILE (a P-256 EC or RSA private \
                 key in PEM whose public key the IdP has for the client), and \
                 MCP_OAUTH_CLIENT_KEY_ID if the IdP needs a key id",
            ));
        };
        if let Err(e) = oidc_proxy::ClientKey::from_pem(key.expose_secret().as_bytes(), None) {
            return Err(ConfigError::new(
                key_name(),
                e.to_string(),
                "give a P-256 EC or RSA private key in PEM (PKCS#8 or the traditional form)",
            ));
        }
        return Ok(());
    }
    if auth.client_id.is_none() || auth.client_secret.is_none() {
        return Err(ConfigError::new(
            setting,
            why.to_owned(),
            "set MCP_OAUTH_CLIENT_ID and MCP_OAUTH_CLIENT_SECRET (or MCP_OAUTH_CLIENT_SECRET_FILE), \
             or IDP_CLIENT_AUTH_METHOD=private_key_jwt with MCP_OAUTH_CLIENT_KEY_FILE",
        ));
    }
    Ok(())
}

/// Proxy mode's own settings: the encryption key, and a base URL browsers may be sent to.
fn check_proxy(settings: &Settings, names: &Names) -> Result<(), ConfigError> {
    let proxy = &settings.auth.proxy;
    let key_name = || {
        let file = names.get("auth.proxy.encryption_key_file", "");
        if file.is_empty() {
            names.get("auth.proxy.encryption_key", "MCP_PROXY_ENCRYPTION_KEY")
        } else {
            file
        }
    };
    let Some(key) = &proxy.encryption_key else {
        return Err(ConfigError::new(
            "MCP_PROXY_ENCRYPTION_KEY",
            "auth mode `proxy` needs a key to encrypt the IdP's tokens and its signing keys at rest",
            "generate one with `openssl rand -base64 32` and set MCP_PROXY_ENCRYPTION_KEY (or \
             MCP_PROXY_ENCRYPTION_KEY_FILE); keep it secret, and the same on every replica",
        ));
    };
    if let Err(e) = oidc_proxy::EncryptionKey::from_base64(0, key.expose_secret()) {
        return Err(ConfigError::new(
            key_name(),
            format!("not a usable encryption key: {e}"),
            "give base64 of exactly 32 random bytes, as `openssl rand -base64 32` prints",
        ));
    }
    if !proxy.idjag_issuers.is_empty() {
        let idjag = || names.get("auth.proxy.idjag_issuers", "MCP_PROXY_IDJAG_ISSUERS");
        if let Some(bad) = proxy.idjag_issuers.iter().find(|issuer| {
            reqwest::Url::parse(issuer)
                .map_or(true, |url| !matches!(url.scheme(), "https" | "http"))
        }) {
            return Err(ConfigError::new(
                idjag(),
                format!("`{bad}` is not an issuer URL"),
                "list the issuers exactly as their ID-JAGs' `iss` says, e.g. https://company.okta.com",
            ));
        }
        let credentials = settings.splunk.credentials;
        if credentials.needs_idp_token() {
            return Err(ConfigError::new(
                idjag(),
                format!(
                    "a grant from an identity assertion (ID-JAG) has no IdP access token, and \
                     SPLUNK_CREDENTIALS={} needs one to reach Splunk",
                    if credentials == CredentialsMode::Passthrough {
                        "passthrough"
                    } else {
                        "exchange"
                    }
                ),
                "use SPLUNK_CREDENTIALS=mirror (a Splunk user per caller) or service with \
                 MCP_PROXY_IDJAG_ISSUERS, or leave MCP_PROXY_IDJAG_ISSUERS unset",
            ));
        }
    }
    let base = &settings.server.base_url;
    if let Ok(url) = reqwest::Url::parse(base)
        && url.scheme() == "http"
        && !is_loopback_host(&url)
    {
        return Err(ConfigError::new(
            names.get("server.base_url", "MCP_BASE_URL"),
            format!(
                "auth mode `proxy` makes {base} an OAuth authorization server, and OAuth 2.1 \
                 allows plain http only on loopback"
            ),
            "set MCP_BASE_URL to the https:// URL clients reach this server at (TLS may end at a \
             reverse proxy in front of it)",
        ));
    }
    Ok(())
}

/// Whether a URL's host is `localhost` or a loopback address.
fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Service and mirror modes need exactly one kind of Splunk credential.
fn check_credential(settings: &Settings, names: &Names, what: &str) -> Result<(), ConfigError> {
    let splunk = &settings.splunk;
    let credentials = names.get("splunk.credentials", "SPLUNK_CREDENTIALS");
    match (&splunk.token, &splunk.username, &splunk.password) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => Ok(()),
        (Some(_), _, _) => Err(ConfigError::new(
            names.get("splunk.token", "SPLUNK_TOKEN"),
            format!("both a token and a username/password are set for {what}"),
            "set SPLUNK_TOKEN, or SPLUNK_USERNAME and SPLUNK_PASSWORD, not both",
        )),
        (None, Some(_), None) => Err(ConfigError::new(
            names.get("splunk.username", "SPLUNK_USERNAME"),
            format!("a username without a password for {what}"),
            "set SPLUNK_PASSWORD (or SPLUNK_PASSWORD_FILE), or use SPLUNK_TOKEN instead",
        )),
        (None, None, Some(_)) => Err(ConfigError::new(
            names.get("splunk.password", "SPLUNK_PASSWORD"),
            format!("a password without a username for {what}"),
            "set SPLUNK_USERNAME too, or use SPLUNK_TOKEN instead",
        )),
        (None, None, None) => Err(ConfigError::new(
            credentials,
            format!("no Splunk credential for {what}"),
            "set SPLUNK_TOKEN (or SPLUNK_TOKEN_FILE), or SPLUNK_USERNAME and SPLUNK_PASSWORD",
        )),
    }
}

/// The authorization policy builds: tool and tag names were checked as they were read, so
/// what is left is a scope rule for a scope no tool needs, or an invalid required scope.
fn check_policy(settings: &Settings, names: &Names) -> Result<(), ConfigError> {
    use mcp_tools::RegistryError;
    let error = match settings.policy() {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    let (setting, fix) = match &error {
        RegistryError::CustomTool(custom) => {
            return Err(ConfigError::new(
                settings.custom_tool_origin(&custom.tool),
                format!("custom tool `{}`: {}", custom.tool, custom.problem),
                custom.fix.clone(),
            ));
        }
        RegistryError::DuplicateTool(name, _) => (
            settings.custom_tool_origin(name),
            "rename the custom tool; `splunk-mcp config check` lists the tools".to_owned(),
        ),
        RegistryError::UnofferedScope { offered, .. } => (
            names.get("auth.scope_groups", "MCP_AUTH_SCOPE_GROUPS"),
            format!(
                "correct the scope's spelling or remove its rule; rules may name: {}",
                offered.replace(' ', ", ")
            ),
        ),
        RegistryError::InvalidScopes { setting, .. } if setting.starts_with("custom tool ") => (
            settings.custom_tool_origin(setting.trim_start_matches("custom tool ")),
            "use valid scope names such as splunk:search".to_owned(),
        ),
        RegistryError::InvalidScopes { setting, .. } if setting.starts_with("tool ") => (
            names.get("auth.tools", "auth.tools"),
            "use valid scope names such as splunk:search".to_owned(),
        ),
        RegistryError::InvalidScopes { .. } => (
            names.get("auth.required_scopes", "MCP_AUTH_REQUIRED_SCOPES"),
            "use valid scope names such as splunk:search".to_owned(),
        ),
        RegistryError::UnknownTool(_) => (
            names.get("auth.tools", "auth.tools"),
            "use the name of a tool (see `splunk-mcp config check`)".to_owned(),
        ),
        _ => (
            names.get("auth.tags", "auth.tags"),
            "use a tag of a tool (see `splunk-mcp config check`)".to_owned(),
        ),
    };
    Err(ConfigError::new(setting, error.to_string(), fix))
}
