//! `splunk-mcp config check` output: the effective settings as TOML in the file's own layout,
//! so it can be saved and fed back with `--config`, with every secret shown as `<redacted>`.

use std::fmt::Write as _;

use super::{
    AuthMode, CredentialsMode, ExchangeStyle, IdpClientAuth, LogFormat, Settings, Transport,
};

/// What a secret that is set is shown as.
pub(super) const REDACTED: &str = "<redacted>";

/// TOML text being built, one `key = value` line at a time.
#[derive(Default)]
struct Toml(String);

impl Toml {
    fn table(&mut self, name: &str) {
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        let _ = writeln!(self.0, "[{name}]");
    }

    fn raw(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.0, "{} = {value}", key_text(key));
    }

    fn str(&mut self, key: &str, value: &str) {
        self.raw(key, &quote(value));
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    fn secret<T>(&mut self, key: &str, value: Option<&T>) {
        if value.is_some() {
            self.str(key, REDACTED);
        }
    }

    fn list(&mut self, key: &str, items: &[String]) {
        self.raw(key, &array(items.iter().map(String::as_str)));
    }

    fn display(&mut self, key: &str, value: impl std::fmt::Display) {
        self.raw(key, &value.to_string());
    }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A bare key when TOML allows one, else a quoted key.
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_owned() } else { quote(key) }
}

fn array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(quote).collect();
    format!("[{}]", items.join(", "))
}

/// Pairs as `k=v&k2=v2`, form-encoded.
fn form_encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A JSON value (from a `Serialize` config struct) as a TOML value; `None` for null.
fn json_value(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(quote(s)),
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().filter_map(json_value).collect();
            Some(format!("[{}]", items.join(", ")))
        }
        serde_json::Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .filter_map(|(k, v)| json_value(v).map(|v| format!("{} = {v}", key_text(k))))
                .collect();
            Some(format!("{{ {} }}", fields.join(", ")))
        }
    }
}

/// The effective configuration as TOML, secrets redacted.
pub(super) fn render(settings: &Settings) -> String {
    let mut out = Toml::default();
    let _ = writeln!(
        out.0,
        "# Effective configuration of splunk-mcp {}. Secrets are shown as \"{REDACTED}\".",
        env!("CARGO_PKG_VERSION")
    );
    let server = &settings.server;
    out.table("server");
    out.str(
        "transport",
        match server.transport {
            Transport::Stdio => "stdio",
            Transport::Http => "http",
        },
    );
    out.str("bind", &server.bind.to_string());
    out.str("base_url", &server.base_url);
    out.display("stateless", server.stateless);
    out.list("allowed_hosts", &server.allowed_hosts);
    out.display("allow_unauthenticated", server.allow_unauthenticated);
    let trusted: Vec<String> = server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    out.list("trusted_proxies", &trusted);
    out.display("filter_tools_list", server.filter_tools_list);
    if let Some(file) = &settings.tools_file {
        out.str("tools_file", &file.path.display().to_string());
    }
    out.str(
        "log_format",
        match server.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        },
    );
    out.str("log_level", &server.log_level);

    let auth = &settings.auth;
    out.table("auth");
    out.str(
        "mode",
        match auth.mode {
            AuthMode::None => "none",
            AuthMode::Jwt => "jwt",
            AuthMode::Introspect => "introspect",
            AuthMode::Proxy => "proxy",
            AuthMode::Static => "static",
        },
    );
    out.opt("oidc_config_url", auth.oidc_config_url.as_deref());
    out.opt("issuer_url", auth.issuer_url.as_deref());
    out.opt("jwks_uri", auth.jwks_uri.as_deref());
    out.opt("authorize_url", auth.authorize_url.as_deref());
    out.opt("token_url", auth.token_url.as_deref());
    out.opt("introspection_url", auth.introspection_url.as_deref());
    out.str("audience", &auth.audience);
    out.opt("client_id", auth.client_id.as_deref());
    out.secret("client_secret", auth.client_secret.as_ref());
    out.secret("client_key", auth.client_key.as_ref());
    out.opt("client_key_id", auth.client_key_id.as_deref());
    out.list("required_scopes", &auth.required_scopes);
    out.list("required_groups", &auth.required_groups);
    out.str("groups_claim", &auth.groups_claim);
    if let Some(path) = &auth.static_tokens_file {
        out.str("static_tokens_file", &path.display().to_string());
    }
    out.display("passthrough_audience_ack", auth.passthrough_audience_ack);
    out.str("splunk_audience", &auth.splunk_audience);
    out.opt("revocation_url", auth.revocation_url.as_deref());
    out.opt("userinfo_url", auth.userinfo_url.as_deref());
    out.list("idp_scopes", &auth.idp_scopes);
    if !auth.extra_authorize_params.is_empty() {
        out.str(
            "extra_authorize_params",
            &form_encode(&auth.extra_authorize_params),
        );
    }
    if !auth.extra_token_params.is_empty() {
        out.str("extra_token_params", &form_encode(&auth.extra_token_params));
    }
    out.str(
        "client_auth_method",
        match auth.client_auth_method {
            IdpClientAuth::ClientSecretBasic => "client_secret_basic",
            IdpClientAuth::ClientSecretPost => "client_secret_post",
            IdpClientAuth::PrivateKeyJwt => "private_key_jwt",
        },
    );
    if !auth.scope_groups.is_empty() {
        out.table("auth.scope_groups");
        for (scope, groups) in auth.scope_groups.iter() {
            out.list(scope, groups);
        }
    }
    for (kind, rules) in [("auth.tools", &auth.tools), ("auth.tags", &auth.tags)] {
        for (name, rule) in rules {
            out.table(&format!("{kind}.{}", key_text(name)));
            if let Some(scopes) = &rule.scopes {
                out.list("scopes", scopes);
            }
            if !rule.groups.is_empty() {
                out.list("groups", &rule.groups);
            }
        }
    }
    let proxy = &auth.proxy;
    out.table("auth.proxy");
    out.str("store", &proxy.store.redacted());
    out.secret("encryption_key", proxy.encryption_key.as_ref());
    out.display("access_token_ttl", proxy.access_token_ttl.as_secs());
    out.display("refresh_token_ttl", proxy.refresh_token_ttl.as_secs());
    out.display("consent_remember", proxy.consent_remember.as_secs());
    out.display("refresh_reuse_grace", proxy.refresh_reuse_grace.as_secs());
    out.display("allow_cimd", proxy.allow_cimd);
    out.display("cimd_allow_loopback", proxy.cimd_allow_loopback);
    out.list("redirect_allowlist", &proxy.redirect_allowlist);
    out.list("idjag_issuers", &proxy.idjag_issuers);
    out.display("register_rate_limit", proxy.register_rate_limit);
    out.display("token_rate_limit", proxy.token_rate_limit);
    out.display("token_client_rate_limit", proxy.token_client_rate_limit);
    out.display("revoke_rate_limit", proxy.revoke_rate_limit);
    out.display("revoke_client_rate_limit", proxy.revoke_client_rate_limit);
    out.display("rate_limit_window", proxy.rate_limit_window.as_secs());

    let splunk = &settings.splunk;
    out.table("splunk");
    out.str(
        "credentials",
        match splunk.credentials {
            CredentialsMode::Passthrough => "passthrough",
            CredentialsMode::Mirror => "mirror",
            CredentialsMode::Service => "service",
            CredentialsMode::Exchange => "exchange",
        },
    );
    out.str("host", &splunk.host);
    out.display("port", splunk.port);
    out.str("scheme", &splunk.scheme);
    out.display("verify_ssl", splunk.verify_ssl);
    if let Some(path) = &splunk.ca_bundle {
        out.str("ca_bundle", &path.display().to_string());
    }
    out.secret("token", splunk.token.as_ref());
    out.opt("username", splunk.username.as_deref());
    out.secret("password", splunk.password.as_ref());
    out.display("timeout", splunk.timeout.as_secs());

    let exchange = &splunk.exchange;
    out.table("splunk.exchange");
    out.str(
        "style",
        match exchange.style {
            ExchangeStyle::Rfc8693 => "rfc8693",
            ExchangeStyle::EntraObo => "entra-obo",
        },
    );
    out.str("audience", &exchange.audience);
    out.opt("resource", exchange.resource.as_deref());
    out.opt("scope", exchange.scope.as_deref());

    let mirror = &splunk.mirror;
    out.table("splunk.mirror");
    out.str("prefix", &mirror.prefix);
    out.list("baseline_roles", &mirror.baseline_roles);
    out.list("denied_roles", &mirror.denied_roles);
    out.str("username_claim", &mirror.username_claim);
    out.display("token_ttl", mirror.token_ttl.as_secs());
    out.str("token_audience", &mirror.token_audience);
    out.display(
        "cleanup_interval",
        mirror.cleanup_interval.map_or(0, |d| d.as_secs()),
    );

    let tools = &settings.tools;
    out.table("tools");
    out.display("default_max_results", tools.default_max_results);
    out.display("max_results_cap", tools.max_results_cap);
    out.display("max_result_bytes", tools.max_result_bytes);
    out.str("default_earliest", &tools.default_earliest);
    out.str("default_latest", &tools.default_latest);
    out.display("search_timeout", tools.search_timeout.as_secs());
    out.table("tools.guard");
    // The guard's config is Serialize, so new guard settings show up without a change here.
    if let Ok(serde_json::Value::Object(guard)) = serde_json::to_value(&tools.guard) {
        for (key, value) in &guard {
            if let Some(value) = json_value(value) {
                out.raw(key, &value);
            }
        }
    }
    let mut text = out.0;
    if !tools.custom.is_empty() {
        text.push('\n');
        text.push_str(&custom_tools_toml(&tools.custom));
    }
    text
}

/// `[[tools.custom]]` tables holding `tools`.
fn custom_tools_toml(tools: &[mcp_tools::CustomToolConfig]) -> String {
    #[derive(serde::Serialize)]
    struct File<'a> {
        tools: Tables<'a>,
    }
    #[derive(serde::Serialize)]
    struct Tables<'a> {
        custom: &'a [mcp_tools::CustomToolConfig],
    }
    toml::to_string(&File {
        tools: Tables { custom: tools },
    })
    .unwrap_or_else(|e| format!("# the custom tools could not be written as TOML: {e}\n"))
}

/// The policy the settings give, as TOML comments: who may hold each scope, then what each
/// tool needs and where each part came from (`default`, `tag <tag>`, `tool`, `required`).
pub(super) fn policy_table(policy: &mcp_tools::ToolRegistry) -> String {
    let mut out = String::new();
    let rules = policy.scope_rules();
    out.push_str("# Authorization policy (derived from the settings above)\n");
    out.push_str("# Who may hold each scope (MCP_AUTH_SCOPE_GROUPS):\n");
    for scope in policy.offered_scopes().iter() {
        let holders = rules.groups_for(scope).map_or_else(
            || "anyone".to_owned(),
            |groups| format!("members of {}", groups.join(" or ")),
        );
        let _ = writeln!(out, "#   {scope:<32} {holders}");
    }
    out.push_str("# What each tool needs (every scope; one group of each list):\n");
    for name in policy.tool_names() {
        let Some(need) = policy.requirement(name) else {
            continue;
        };
        let scopes: Vec<String> = need
            .scopes
            .iter()
            .map(|(scope, sources)| format!("{scope} ({})", join(sources)))
            .collect();
        let groups: Vec<String> = need
            .groups
            .iter()
            .map(|(groups, source)| format!("{} ({source})", groups.join(" or ")))
            .collect();
        let _ = writeln!(
            out,
            "#   {:<32} scopes: {}; groups: {}",
            if policy.custom_tool(name).is_some() {
                format!("{name} (custom)")
            } else {
                name.to_owned()
            },
            if scopes.is_empty() {
                "none".to_owned()
            } else {
                scopes.join(", ")
            },
            if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            },
        );
    }
    out
}

fn join(sources: &[mcp_tools::registry::Source]) -> String {
    sources
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
