//! Unit tests of configuration loading: precedence, seed aliases, validation, redaction.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser as _;
use secrecy::ExposeSecret as _;

use super::*;
use crate::cli::Cli;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("splunk-mcp").chain(args.iter().copied()))
        .expect("test command line parses")
}

fn load_with(args: &[&str], env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_from(&cli(args), &|name| env.get(name).cloned())
}

fn load_ok(args: &[&str], env: &[(&str, &str)]) -> Settings {
    load_with(args, env).unwrap_or_else(|e| panic!("expected a valid configuration: {e}"))
}

fn load_err(args: &[&str], env: &[(&str, &str)]) -> ConfigError {
    match load_with(args, env) {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(e) => e,
    }
}

/// A file in the temp directory holding `contents`, unique per call.
fn temp_file(contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "splunk-mcp-config-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, contents).expect("temp file written");
    path
}

const TOKEN: (&str, &str) = ("SPLUNK_TOKEN", "service-token-value");
const HTTP: (&str, &str) = ("MCP_TRANSPORT", "http");
const OIDC: (&str, &str) = (
    "IDP_OIDC_CONFIG_URL",
    "https://idp.example.com/.well-known/openid-configuration",
);
/// base64 of 32 bytes.
const KEY_VALUE: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const PROXY_KEY: (&str, &str) = ("MCP_PROXY_ENCRYPTION_KEY", KEY_VALUE);
/// Everything proxy mode needs, over HTTP with passthrough.
const PROXY: &[(&str, &str)] = &[
    HTTP,
    OIDC,
    ("MCP_AUTH_MODE", "proxy"),
    ("MCP_OAUTH_CLIENT_ID", "splunk-mcp"),
    ("MCP_OAUTH_CLIENT_SECRET", "client-secret-value"),
    PROXY_KEY,
    ("SPLUNK_CREDENTIALS", "passthrough"),
];

/// [`PROXY`] with `extra` on top (a later variable replaces an earlier one).
fn proxy_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = PROXY
        .iter()
        .filter(|(name, _)| !extra.iter().any(|(other, _)| other == name))
        .copied()
        .collect();
    env.extend_from_slice(extra);
    env
}

#[test]
fn defaults_match_the_documented_ones() {
    let s = load_ok(&[], &[TOKEN]);
    assert_eq!(s.server.transport, Transport::Stdio);
    assert_eq!(s.server.bind.to_string(), "127.0.0.1:8000");
    assert_eq!(s.server.base_url, "http://127.0.0.1:8000");
    assert!(!s.server.stateless);
    assert!(!s.server.allow_unauthenticated);
    assert!(s.server.trusted_proxies.is_empty());
    assert!(s.server.filter_tools_list);
    assert_eq!(s.server.log_format, LogFormat::Text);
    assert_eq!(s.server.log_level, "info");
    assert_eq!(
        s.server.allowed_hosts,
        ["localhost", "127.0.0.1", "::1", "[::1]", "127.0.0.1:8000"]
    );
    assert_eq!(s.auth.mode, AuthMode::None);
    assert_eq!(s.auth.audience, "http://127.0.0.1:8000/mcp");
    assert_eq!(s.auth.groups_claim, "groups");
    assert_eq!(s.auth.splunk_audience, "splunk");
    assert!(!s.auth.passthrough_audience_ack);
    assert!(s.auth.required_scopes.is_empty());
    assert_eq!(s.splunk.credentials, CredentialsMode::Service);
    assert_eq!(s.splunk.base_url(), "https://localhost:8089");
    assert!(s.splunk.verify_ssl);
    assert_eq!(s.splunk.timeout, Duration::from_secs(30));
    assert_eq!(s.splunk.mirror.prefix, "mcp.");
    assert_eq!(s.splunk.mirror.baseline_roles, ["user"]);
    assert_eq!(s.splunk.mirror.denied_roles, ["admin", "sc_admin"]);
    assert_eq!(s.splunk.mirror.username_claim, "preferred_username");
    assert_eq!(s.splunk.mirror.token_ttl, Duration::from_secs(3600));
    assert_eq!(s.splunk.mirror.token_audience, "mcp");
    assert_eq!(s.tools, ToolsConfig::default());
    assert_eq!(
        s.splunk
            .token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("service-token-value".to_owned())
    );
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let file = temp_file(
        "[server]\ntransport = \"http\"\nbind = \"127.0.0.1:1001\"\nlog_level = \"warn\"\n\
         [splunk]\nport = 9001\nhost = \"file-host\"\ntoken = \"file-token\"\n",
    );
    let config = file.to_str().unwrap();
    let all = load_ok(
        &["--config", config, "--bind", "127.0.0.1:3003"],
        &[("MCP_BIND", "127.0.0.1:2002"), ("SPLUNK_PORT", "9002")],
    );
    assert_eq!(all.server.bind.port(), 3003);
    assert_eq!(all.splunk.port, 9002);
    assert_eq!(all.splunk.host, "file-host");
    assert_eq!(all.server.transport, Transport::Http);
    assert_eq!(all.server.log_level, "warn");

    let no_flag = load_ok(&["--config", config], &[("MCP_BIND", "127.0.0.1:2002")]);
    assert_eq!(no_flag.server.bind.port(), 2002);
    assert_eq!(no_flag.splunk.port, 9001);

    let file_only = load_ok(&["--config", config], &[]);
    assert_eq!(file_only.server.bind.port(), 1001);
    assert_eq!(file_only.server.base_url, "http://127.0.0.1:1001");

    // The file can also come from MCP_CONFIG_FILE; --config wins over it.
    let from_env = load_ok(&[], &[("MCP_CONFIG_FILE", config)]);
    assert_eq!(from_env.server.bind.port(), 1001);
    let other = temp_file("[splunk]\ntoken = \"t\"\nport = 7\n");
    let flag_file = load_ok(
        &["--config", other.to_str().unwrap()],
        &[("MCP_CONFIG_FILE", config)],
    );
    assert_eq!(flag_file.splunk.port, 7);

    assert_eq!(load_ok(&[], &[TOKEN]).splunk.port, 8089);
}

#[test]
fn flags_work_with_and_without_serve() {
    for args in [
        &["--transport", "http", "--bind", "127.0.0.1:9"][..],
        &["serve", "--transport", "http", "--bind", "127.0.0.1:9"],
        &["--transport", "http", "serve", "--bind", "127.0.0.1:9"],
    ] {
        let s = load_ok(args, &[TOKEN]);
        assert_eq!(s.server.transport, Transport::Http, "{args:?}");
        assert_eq!(s.server.bind.port(), 9, "{args:?}");
    }
    let s = load_ok(
        &[
            "--stateless",
            "--log-format",
            "json",
            "--log-level",
            "debug",
            "serve",
        ],
        &[TOKEN, ("MCP_STATELESS", "false"), ("MCP_LOG_LEVEL", "warn")],
    );
    assert!(s.server.stateless);
    assert_eq!(s.server.log_format, LogFormat::Json);
    assert_eq!(s.server.log_level, "debug");
    // A switch not given leaves the environment in charge.
    assert!(
        load_ok(&[], &[TOKEN, ("MCP_STATELESS", "yes")])
            .server
            .stateless
    );
}

#[test]
fn environment_names_reach_their_settings() {
    let ca = temp_file("-----BEGIN CERTIFICATE-----\n");
    let s = load_ok(
        &[],
        &[
            HTTP,
            OIDC,
            ("MCP_AUTH_MODE", "jwt"),
            ("SPLUNK_CREDENTIALS", "passthrough"),
            ("MCP_BASE_URL", "https://mcp.example.com/"),
            ("MCP_ALLOWED_HOSTS", "a.example.com, b.example.com:8443"),
            ("MCP_TRUSTED_PROXIES", "10.1.2.3/8, 127.0.0.1 ::1/128"),
            ("MCP_TOOLS_LIST_FILTER", "false"),
            ("MCP_AUTH_REQUIRED_SCOPES", "splunk:read, extra"),
            ("MCP_AUTH_REQUIRED_GROUPS", "Splunk Users,ops"),
            ("MCP_AUTH_GROUPS_CLAIM", "realm_access.roles"),
            ("MCP_PASSTHROUGH_AUDIENCE_ACK", "true"),
            ("MCP_SPLUNK_AUDIENCE", "splunk-prod"),
            ("RUST_LOG", "debug"),
            ("SPLUNK_HOST", "splunk.example.com"),
            ("SPLUNK_SCHEME", "http"),
            ("SPLUNK_VERIFY_SSL", "0"),
            ("SPLUNK_CA_BUNDLE", ca.to_str().unwrap()),
            ("SPLUNK_TIMEOUT", "5"),
            ("SPLUNK_MIRROR_PREFIX", "x-"),
            ("SPLUNK_MIRROR_BASELINE_ROLES", "user,power"),
            ("SPLUNK_MIRROR_DENIED_ROLES", "admin"),
            ("SPLUNK_MIRROR_USERNAME_CLAIM", "email"),
            ("SPLUNK_MIRROR_TOKEN_TTL", "600"),
            ("SPLUNK_MIRROR_TOKEN_AUDIENCE", "mcp-mirror"),
        ],
    );
    assert_eq!(s.server.base_url, "https://mcp.example.com");
    assert_eq!(s.auth.audience, "https://mcp.example.com/mcp");
    assert_eq!(
        s.server.allowed_hosts,
        ["a.example.com", "b.example.com:8443"]
    );
    assert!(!s.server.filter_tools_list);
    let trusted: Vec<String> = s
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(trusted, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
    assert_eq!(s.server.log_level, "debug");
    assert_eq!(s.auth.required_scopes, ["splunk:read", "extra"]);
    assert_eq!(s.auth.required_groups, ["Splunk Users", "ops"]);
    assert_eq!(s.auth.groups_claim, "realm_access.roles");
    assert!(s.auth.passthrough_audience_ack);
    assert_eq!(s.auth.splunk_audience, "splunk-prod");
    assert_eq!(s.splunk.base_url(), "http://splunk.example.com:8089");
    assert!(!s.splunk.verify_ssl);
    assert_eq!(s.splunk.ca_bundle.as_deref(), Some(ca.as_path()));
    assert_eq!(s.splunk.timeout, Duration::from_secs(5));
    assert_eq!(s.splunk.mirror.prefix, "x-");
    assert_eq!(s.splunk.mirror.baseline_roles, ["user", "power"]);
    assert_eq!(s.splunk.mirror.denied_roles, ["admin"]);
    assert_eq!(s.splunk.mirror.username_claim, "email");
    assert_eq!(s.splunk.mirror.token_ttl, Duration::from_secs(600));
    assert_eq!(s.splunk.mirror.token_audience, "mcp-mirror");
    // MCP_LOG_LEVEL wins over RUST_LOG.
    let s = load_ok(
        &[],
        &[TOKEN, ("RUST_LOG", "debug"), ("MCP_LOG_LEVEL", "error")],
    );
    assert_eq!(s.server.log_level, "error");
}

#[test]
fn default_allowed_hosts_and_base_url_follow_bind_and_base_url() {
    let s = load_ok(
        &[
            "--transport",
            "http",
            "--base-url",
            "https://mcp.example.com",
        ],
        &[TOKEN],
    );
    assert!(
        s.server
            .allowed_hosts
            .contains(&"mcp.example.com".to_owned())
    );
    assert!(
        s.server
            .allowed_hosts
            .contains(&"mcp.example.com:443".to_owned())
    );
    assert!(s.server.allowed_hosts.contains(&"localhost".to_owned()));
    let s = load_ok(
        &[
            "--transport",
            "http",
            "--bind",
            "0.0.0.0:8123",
            "--allow-unauthenticated",
        ],
        &[TOKEN],
    );
    assert_eq!(s.server.base_url, "http://localhost:8123");
}

#[test]
fn seed_aliases_map_to_the_new_settings() {
    let legacy = load_ok(&[], &[TOKEN, ("SPLUNK_AUTH_MODE", "legacy")]);
    assert_eq!(
        (legacy.auth.mode, legacy.splunk.credentials),
        (AuthMode::None, CredentialsMode::Service)
    );

    let oauth = load_ok(&[], &[HTTP, OIDC, ("SPLUNK_AUTH_MODE", "oauth")]);
    assert_eq!(
        (oauth.auth.mode, oauth.splunk.credentials),
        (AuthMode::Jwt, CredentialsMode::Passthrough)
    );

    let proxy = load_ok(
        &[],
        &[
            HTTP,
            OIDC,
            ("SPLUNK_AUTH_MODE", "OAuth"),
            ("MCP_OAUTH_CLIENT_ID", "mcp"),
            ("MCP_OAUTH_CLIENT_SECRET", "mcp-secret"),
            PROXY_KEY,
        ],
    );
    assert_eq!(
        (proxy.auth.mode, proxy.splunk.credentials),
        (AuthMode::Proxy, CredentialsMode::Passthrough)
    );

    let disabled = load_ok(
        &[],
        &[
            TOKEN,
            ("MCP_AUTH_DISABLED", "true"),
            ("SPLUNK_CREDENTIALS", "service"),
        ],
    );
    assert_eq!(disabled.auth.mode, AuthMode::None);
    let file = temp_file("[auth]\nmode = \"jwt\"\n");
    let disabled_over_file = load_ok(
        &["--config", file.to_str().unwrap()],
        &[TOKEN, OIDC, ("MCP_AUTH_DISABLED", "1")],
    );
    assert_eq!(disabled_over_file.auth.mode, AuthMode::None);

    // Explicit new names win over the aliases.
    let explicit = load_ok(
        &[],
        &[
            HTTP,
            OIDC,
            TOKEN,
            ("SPLUNK_AUTH_MODE", "oauth"),
            ("MCP_AUTH_MODE", "jwt"),
            ("SPLUNK_CREDENTIALS", "service"),
        ],
    );
    assert_eq!(
        (explicit.auth.mode, explicit.splunk.credentials),
        (AuthMode::Jwt, CredentialsMode::Service)
    );
    let explicit = load_ok(
        &[],
        &[
            TOKEN,
            ("SPLUNK_AUTH_MODE", "oauth"),
            ("MCP_AUTH_MODE", "none"),
            ("SPLUNK_CREDENTIALS", "service"),
        ],
    );
    assert_eq!(explicit.auth.mode, AuthMode::None);

    let e = load_err(&[], &[TOKEN, ("MCP_AUTH_PROVIDER", "my_module.Provider")]);
    assert_eq!(e.setting, "MCP_AUTH_PROVIDER");
    assert!(e.fix.contains("MCP_AUTH_MODE"), "{e}");

    let e = load_err(&[], &[TOKEN, ("SPLUNK_AUTH_MODE", "saml")]);
    assert_eq!(e.setting, "SPLUNK_AUTH_MODE");
    assert!(e.problem.contains("legacy or oauth"), "{e}");
}

/// (environment, flags, setting named, words in the problem, words in the fix)
type RuleCase<'a> = (
    &'a [(&'a str, &'a str)],
    &'a [&'a str],
    &'a str,
    &'a str,
    &'a str,
);

#[test]
fn each_rule_names_the_setting_and_a_fix() {
    let static_file = temp_file("");
    let static_path = static_file.to_str().unwrap();
    // (environment, flags, setting named, words in the problem, words in the fix)
    let cases: &[RuleCase<'_>] = &[
        (
            &[TOKEN, ("MCP_TRANSPORT", "sse")],
            &[],
            "MCP_TRANSPORT",
            "not one of stdio, http",
            "stdio, http",
        ),
        (
            &[TOKEN],
            &["--transport", "tcp"],
            "--transport",
            "not one of",
            "stdio, http",
        ),
        (
            &[TOKEN, ("MCP_LOG_FORMAT", "xml")],
            &[],
            "MCP_LOG_FORMAT",
            "not one of text, json",
            "text, json",
        ),
        (
            &[TOKEN, ("MCP_AUTH_MODE", "oauth")],
            &[],
            "MCP_AUTH_MODE",
            "not one of none, jwt, introspect, proxy, static",
            "use one of",
        ),
        (
            &[TOKEN, ("SPLUNK_CREDENTIALS", "legacy")],
            &[],
            "SPLUNK_CREDENTIALS",
            "passthrough, mirror, service",
            "use one of",
        ),
        (
            &[TOKEN, ("SPLUNK_SCHEME", "ftp")],
            &[],
            "SPLUNK_SCHEME",
            "not one of https, http",
            "https",
        ),
        (
            &[TOKEN, ("SPLUNK_PORT", "80a")],
            &[],
            "SPLUNK_PORT",
            "whole number from 1 to 65535",
            "65535",
        ),
        (
            &[TOKEN, ("SPLUNK_PORT", "70000")],
            &[],
            "SPLUNK_PORT",
            "whole number",
            "65535",
        ),
        (
            &[TOKEN, ("SPLUNK_TIMEOUT", "0")],
            &[],
            "SPLUNK_TIMEOUT",
            "whole number from 1",
            "set it",
        ),
        (
            &[TOKEN, ("SPLUNK_VERIFY_SSL", "maybe")],
            &[],
            "SPLUNK_VERIFY_SSL",
            "expected a boolean",
            "true",
        ),
        (
            &[TOKEN, ("SPLUNK_HOST", "https://splunk:8089")],
            &[],
            "SPLUNK_HOST",
            "not a host name",
            "SPLUNK_SCHEME",
        ),
        (
            &[TOKEN, ("SPLUNK_CA_BUNDLE", "/nonexistent/ca.pem")],
            &[],
            "SPLUNK_CA_BUNDLE",
            "not a readable file",
            "PEM",
        ),
        (
            &[TOKEN],
            &["--bind", "localhost:80"],
            "--bind",
            "not an IP address and port",
            "127.0.0.1:8000",
        ),
        (
            &[TOKEN, ("MCP_BASE_URL", "ftp://x")],
            &[],
            "MCP_BASE_URL",
            "not an http(s) URL",
            "without /mcp",
        ),
        (
            &[TOKEN, ("MCP_BASE_URL", "https://x/?a=1")],
            &[],
            "MCP_BASE_URL",
            "query or fragment",
            "remove",
        ),
        (
            &[TOKEN, ("MCP_BASE_URL", "not a url")],
            &[],
            "MCP_BASE_URL",
            "not a valid URL",
            "without /mcp",
        ),
        (
            &[
                TOKEN,
                HTTP,
                ("MCP_AUTH_MODE", "jwt"),
                ("IDP_JWKS_URI", "file:///jwks"),
            ],
            &[],
            "IDP_JWKS_URI",
            "not http(s)",
            "https://",
        ),
        (
            &[TOKEN, ("MCP_LOG_LEVEL", "info,[[")],
            &[],
            "MCP_LOG_LEVEL",
            "not a valid log filter",
            "splunk_mcp=debug",
        ),
        (
            &[TOKEN, HTTP, ("MCP_AUTH_MODE", "jwt")],
            &[],
            "MCP_AUTH_MODE",
            "`jwt` needs",
            "IDP_OIDC_CONFIG_URL",
        ),
        (
            &[
                TOKEN,
                HTTP,
                ("MCP_AUTH_MODE", "jwt"),
                ("IDP_ISSUER_URL", "https://idp"),
            ],
            &[],
            "MCP_AUTH_MODE",
            "issuer and key set",
            "IDP_JWKS_URI",
        ),
        (
            &[TOKEN, HTTP, ("MCP_AUTH_MODE", "introspect")],
            &[],
            "MCP_AUTH_MODE",
            "introspection endpoint",
            "IDP_INTROSPECTION_URL",
        ),
        (
            &[
                TOKEN,
                HTTP,
                OIDC,
                ("MCP_AUTH_MODE", "introspect"),
                ("MCP_OAUTH_CLIENT_ID", "c"),
            ],
            &[],
            "MCP_AUTH_MODE",
            "client id and secret",
            "MCP_OAUTH_CLIENT_SECRET",
        ),
        (
            &[
                TOKEN,
                HTTP,
                ("MCP_AUTH_MODE", "proxy"),
                ("MCP_OAUTH_CLIENT_ID", "c"),
            ],
            &[],
            "MCP_AUTH_MODE",
            "upstream IdP",
            "IDP_AUTHORIZE_URL",
        ),
        (
            &[TOKEN, HTTP, OIDC, ("MCP_AUTH_MODE", "proxy")],
            &[],
            "MCP_AUTH_MODE",
            "client",
            "MCP_OAUTH_CLIENT_ID",
        ),
        (
            &[TOKEN, HTTP, ("MCP_AUTH_MODE", "static")],
            &[],
            "MCP_AUTH_MODE",
            "file of tokens",
            "MCP_STATIC_TOKENS_FILE",
        ),
        (
            &[
                TOKEN,
                HTTP,
                ("MCP_AUTH_MODE", "static"),
                ("MCP_STATIC_TOKENS_FILE", "/nonexistent.toml"),
            ],
            &[],
            "MCP_STATIC_TOKENS_FILE",
            "not a readable file",
            "static tokens",
        ),
        (
            &[],
            &[],
            "SPLUNK_CREDENTIALS",
            "no Splunk credential for the service account",
            "SPLUNK_TOKEN",
        ),
        (
            &[TOKEN, ("SPLUNK_USERNAME", "u"), ("SPLUNK_PASSWORD", "p")],
            &[],
            "SPLUNK_TOKEN",
            "both a token and a username/password",
            "not both",
        ),
        (
            &[("SPLUNK_USERNAME", "u")],
            &[],
            "SPLUNK_USERNAME",
            "without a password",
            "SPLUNK_PASSWORD",
        ),
        (
            &[("SPLUNK_PASSWORD", "p")],
            &[],
            "SPLUNK_PASSWORD",
            "without a username",
            "SPLUNK_USERNAME",
        ),
        (
            &[TOKEN, ("SPLUNK_CREDENTIALS", "mirror")],
            &[],
            "SPLUNK_CREDENTIALS",
            "no caller identity",
            "MCP_AUTH_MODE",
        ),
        (
            &[
                HTTP,
                OIDC,
                ("MCP_AUTH_MODE", "jwt"),
                ("SPLUNK_CREDENTIALS", "mirror"),
            ],
            &[],
            "SPLUNK_CREDENTIALS",
            "admin credential that manages mirror users",
            "SPLUNK_TOKEN",
        ),
        (
            &[
                TOKEN,
                HTTP,
                OIDC,
                ("MCP_AUTH_MODE", "jwt"),
                ("SPLUNK_CREDENTIALS", "mirror"),
                ("SPLUNK_MIRROR_BASELINE_ROLES", "user,admin"),
            ],
            &[],
            "SPLUNK_MIRROR_BASELINE_ROLES",
            "`admin` is also a denied role",
            "SPLUNK_MIRROR_DENIED_ROLES",
        ),
        (
            &[("SPLUNK_CREDENTIALS", "passthrough")],
            &[],
            "SPLUNK_CREDENTIALS",
            "callers send no token",
            "MCP_AUTH_MODE=jwt",
        ),
        (
            &[TOKEN, OIDC, ("MCP_AUTH_MODE", "jwt")],
            &[],
            "MCP_AUTH_MODE",
            "over stdio the client sends no token",
            "MCP_TRANSPORT=http",
        ),
        (
            &[TOKEN, OIDC, ("SPLUNK_AUTH_MODE", "oauth")],
            &[],
            "SPLUNK_AUTH_MODE=oauth",
            "over stdio",
            "MCP_TRANSPORT=http",
        ),
        (
            &[TOKEN, HTTP, ("MCP_BIND", "0.0.0.0:8000")],
            &[],
            "MCP_BIND",
            "not a loopback address",
            "--allow-unauthenticated",
        ),
        (
            &[TOKEN, HTTP],
            &["--bind", "10.1.2.3:80"],
            "--bind",
            "anyone who can reach it",
            "--allow-unauthenticated",
        ),
        (
            &[TOKEN, ("MCP_AUTH_PROVIDER", "x")],
            &[],
            "MCP_AUTH_PROVIDER",
            "not supported",
            "MCP_AUTH_MODE",
        ),
        (
            &[("SPLUNK_TOKEN_FILE", "/nonexistent/token")],
            &[],
            "SPLUNK_TOKEN_FILE",
            "cannot read the secret file",
            "readable file",
        ),
        (
            &[TOKEN, ("SPLUNK_TOKEN_FILE", static_path)],
            &[],
            "SPLUNK_TOKEN_FILE",
            "both SPLUNK_TOKEN and SPLUNK_TOKEN_FILE",
            "one way only",
        ),
        (
            &[("SPLUNK_TOKEN_FILE", static_path)],
            &[],
            "SPLUNK_TOKEN_FILE",
            "is empty",
            "write the secret",
        ),
        (
            &[TOKEN, ("MCP_CONFIG_FILE", "/nonexistent/splunk-mcp.toml")],
            &[],
            "MCP_CONFIG_FILE",
            "cannot read the configuration file",
            "TOML",
        ),
    ];
    for (env, args, setting, problem, fix) in cases {
        let e = load_err(args, env);
        assert_eq!(e.setting, *setting, "{env:?} {args:?}: {e}");
        assert!(
            e.problem.contains(problem),
            "{env:?} {args:?}: problem {:?}",
            e.problem
        );
        assert!(e.fix.contains(fix), "{env:?} {args:?}: fix {:?}", e.fix);
    }
}

#[test]
fn unauthenticated_http_is_allowed_on_loopback_or_when_forced() {
    assert!(load_with(&["--transport", "http"], &[TOKEN]).is_ok());
    assert!(load_with(&["--transport", "http", "--bind", "[::1]:8000"], &[TOKEN]).is_ok());
    let forced = load_ok(
        &["--transport", "http", "--bind", "0.0.0.0:8000"],
        &[TOKEN, ("MCP_ALLOW_UNAUTHENTICATED", "true")],
    );
    assert!(forced.server.allow_unauthenticated);
}

#[test]
fn file_errors_name_the_key_and_the_file() {
    let bad_type = temp_file("[splunk]\nport = \"eighty\"\n");
    let e = load_err(&["--config", bad_type.to_str().unwrap()], &[TOKEN]);
    assert_eq!(e.setting, format!("splunk.port in {}", bad_type.display()));
    assert!(e.problem.contains("whole number"), "{e}");

    let bad_range = temp_file("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/99\"]\n");
    let e = load_err(&["--config", bad_range.to_str().unwrap()], &[TOKEN]);
    assert_eq!(
        e.setting,
        format!("server.trusted_proxies in {}", bad_range.display())
    );
    assert!(e.problem.contains("`10.0.0.0/99`"), "{e}");

    let unknown = temp_file("[splunk]\nhost = \"h\"\nprot = 1\n");
    let e = load_err(&["--config", unknown.to_str().unwrap()], &[TOKEN]);
    assert_eq!(e.setting, format!("splunk.prot in {}", unknown.display()));
    assert!(e.problem.contains("unknown key `prot`"), "{e}");
    assert!(e.fix.contains("port"), "{e}");

    let unknown_mirror = temp_file("[splunk.mirror]\nttl = 5\n");
    let e = load_err(&["--config", unknown_mirror.to_str().unwrap()], &[TOKEN]);
    assert_eq!(
        e.setting,
        format!("splunk.mirror.ttl in {}", unknown_mirror.display())
    );
    assert!(e.fix.contains("token_ttl"), "{e}");

    let unknown_table = temp_file("[splunkk]\nhost = \"h\"\n");
    let e = load_err(&["--config", unknown_table.to_str().unwrap()], &[TOKEN]);
    assert_eq!(e.setting, format!("splunkk in {}", unknown_table.display()));

    let unknown_tool_key = temp_file("[tools]\nmax_rows = 5\n");
    let e = load_err(&["--config", unknown_tool_key.to_str().unwrap()], &[TOKEN]);
    assert_eq!(
        e.setting,
        format!("tools in {}", unknown_tool_key.display())
    );
    assert!(e.problem.contains("max_rows"), "{e}");

    let unknown_tool = temp_file("[auth.tool_scopes]\nsplunk_serch = \"x\"\n");
    let e = load_err(&["--config", unknown_tool.to_str().unwrap()], &[TOKEN]);
    assert_eq!(
        e.setting,
        format!(
            "auth.tool_scopes.splunk_serch in {}",
            unknown_tool.display()
        )
    );
    assert!(e.fix.contains("splunk_search"), "{e}");

    let not_toml = temp_file("[server\n");
    let e = load_err(&["--config", not_toml.to_str().unwrap()], &[TOKEN]);
    assert_eq!(e.setting, not_toml.display().to_string());
    assert!(e.problem.contains("not valid TOML (line 1)"), "{e}");

    let not_table = temp_file("server = 5\n");
    let e = load_err(&["--config", not_table.to_str().unwrap()], &[TOKEN]);
    assert!(e.problem.contains("expected a table"), "{e}");
}

#[test]
fn file_sets_tools_tool_scopes_and_typed_values() {
    let file = temp_file(
        "[server]\nallowed_hosts = [\"a\", \"b:1\"]\nstateless = true\n\
         [auth.tool_scopes]\nsplunk_search = \"splunk:search  extra\"\nsplunk_list_indexes = [\"a\", \"b\"]\n\
         [splunk]\ntoken = \"t\"\nverify_ssl = false\ntimeout = 9\n\
         [splunk.mirror]\nbaseline_roles = [\"user\", \"power\"]\n\
         [tools]\nmax_results_cap = 5\nsearch_timeout = 7\n[tools.guard]\nmax_pipes = 3\n",
    );
    let s = load_ok(&["--config", file.to_str().unwrap()], &[]);
    assert_eq!(s.server.allowed_hosts, ["a", "b:1"]);
    assert!(s.server.stateless);
    let scopes = |tool: &str| s.auth.tools[tool].scopes.clone().unwrap_or_default();
    assert_eq!(scopes("splunk_search"), ["splunk:search", "extra"]);
    assert_eq!(scopes("splunk_list_indexes"), ["a", "b"]);
    assert!(!s.splunk.verify_ssl);
    assert_eq!(s.splunk.timeout, Duration::from_secs(9));
    assert_eq!(s.splunk.mirror.baseline_roles, ["user", "power"]);
    assert_eq!(s.tools.max_results_cap, 5);
    assert_eq!(s.tools.search_timeout, Duration::from_secs(7));
    assert_eq!(s.tools.guard.max_pipes, 3);
}

#[test]
fn secrets_come_from_files_without_the_trailing_newline() {
    let token = temp_file("file-token-value\n");
    let s = load_ok(&[], &[("SPLUNK_TOKEN_FILE", token.to_str().unwrap())]);
    assert_eq!(s.splunk.token.unwrap().expose_secret(), "file-token-value");

    let password = temp_file("pass word\r\n");
    let secret = temp_file("client-secret\n");
    let s = load_ok(
        &[],
        &[
            HTTP,
            OIDC,
            ("MCP_AUTH_MODE", "introspect"),
            ("MCP_OAUTH_CLIENT_ID", "c"),
            ("MCP_OAUTH_CLIENT_SECRET_FILE", secret.to_str().unwrap()),
            ("SPLUNK_USERNAME", "admin"),
            ("SPLUNK_PASSWORD_FILE", password.to_str().unwrap()),
        ],
    );
    assert_eq!(s.splunk.password.unwrap().expose_secret(), "pass word");
    assert_eq!(
        s.auth.client_secret.unwrap().expose_secret(),
        "client-secret"
    );

    // A higher layer wins: the variable's file over the file's inline token.
    let config = temp_file("[splunk]\ntoken = \"inline\"\n");
    let s = load_ok(
        &["--config", config.to_str().unwrap()],
        &[("SPLUNK_TOKEN_FILE", token.to_str().unwrap())],
    );
    assert_eq!(s.splunk.token.unwrap().expose_secret(), "file-token-value");
}

#[test]
fn rendering_redacts_every_secret() {
    let s = load_ok(
        &[],
        &[
            HTTP,
            OIDC,
            ("MCP_AUTH_MODE", "introspect"),
            ("MCP_OAUTH_CLIENT_ID", "client-id"),
            ("MCP_OAUTH_CLIENT_SECRET", "client-secret-value"),
            ("SPLUNK_CREDENTIALS", "mirror"),
            ("SPLUNK_USERNAME", "admin"),
            ("SPLUNK_PASSWORD", "password-value"),
        ],
    );
    let text = render_redacted(&s);
    for secret in ["client-secret-value", "password-value"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("client_secret = \"<redacted>\""), "{text}");
    assert!(text.contains("password = \"<redacted>\""), "{text}");
    assert!(
        !text.contains("token ="),
        "an absent secret is omitted:\n{text}"
    );
    assert!(text.contains("client_id = \"client-id\""), "{text}");

    let s = load_ok(&[], &[("SPLUNK_TOKEN", "token-value")]);
    let text = render_redacted(&s);
    assert!(!text.contains("token-value"), "{text}");
    assert!(text.contains("token = \"<redacted>\""), "{text}");
}

#[test]
fn rendered_config_loads_back_to_the_same_settings() {
    let file = temp_file(
        "[auth.tool_scopes]\nsplunk_search = \"splunk:search x\"\n\
         [auth.tags.admin]\ngroups = [\"Splunk Admins\"]\n\
         [tools.guard]\nallowed_macros = [\"m\\\"q\"]\n",
    );
    let s = load_ok(
        &["--config", file.to_str().unwrap()],
        &[
            HTTP,
            OIDC,
            ("MCP_AUTH_MODE", "jwt"),
            ("SPLUNK_CREDENTIALS", "passthrough"),
            ("MCP_BASE_URL", "https://mcp.example.com"),
            ("MCP_AUTH_REQUIRED_GROUPS", "a b,c"),
            (
                "MCP_AUTH_SCOPE_GROUPS",
                "splunk:admin=Splunk Admins;x=a b,c",
            ),
            ("SPLUNK_MIRROR_PREFIX", "we\"ird\\"),
        ],
    );
    let text = render_redacted(&s);
    assert!(text.contains("[auth.tools.splunk_search]"), "{text}");
    assert!(
        text.contains("\"splunk:admin\" = [\"Splunk Admins\"]"),
        "{text}"
    );
    let again = temp_file(&text);
    let reloaded = load_ok(&["--config", again.to_str().unwrap()], &[]);
    assert_eq!(render_redacted(&reloaded), text);
    assert_eq!(reloaded.tools, s.tools);
    assert_eq!(reloaded.auth.required_groups, ["a b", "c"]);
    assert_eq!(reloaded.auth.scope_groups, s.auth.scope_groups);
    assert_eq!(reloaded.auth.tools, s.auth.tools);
    assert_eq!(reloaded.auth.tags, s.auth.tags);
    assert_eq!(reloaded.splunk.mirror.prefix, "we\"ird\\");
}

#[test]
fn the_examples_in_the_docs_load() {
    let docs = include_str!("../../../../docs/configuration.md");
    let blocks: Vec<&str> = docs
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert_eq!(
        blocks.len(),
        3,
        "the three TOML examples of docs/configuration.md"
    );
    for block in blocks {
        let file = temp_file(block);
        load_ok(&["--config", file.to_str().unwrap()], &[TOKEN]);
    }
    let e = load_err(&[], &[TOKEN, ("SPLUNK_PORT", "80a")]);
    let shown = e.to_string();
    assert!(
        docs.contains(&shown),
        "docs/configuration.md shows the error as printed:\n{shown}"
    );
}

#[test]
fn proxy_mode_defaults_match_the_documented_ones() {
    let s = load_ok(&[], PROXY);
    assert_eq!(s.auth.mode, AuthMode::Proxy);
    let proxy = &s.auth.proxy;
    assert!(
        matches!(&proxy.store, ProxyStore::File(path) if path == &PathBuf::from("splunk-mcp-proxy.redb")),
        "{:?}",
        proxy.store
    );
    assert_eq!(proxy.access_token_ttl, Duration::from_secs(3600));
    assert_eq!(proxy.refresh_token_ttl, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(proxy.consent_remember, Duration::from_secs(30 * 24 * 3600));
    assert!(proxy.allow_cimd);
    assert!(!proxy.cimd_allow_loopback);
    assert!(proxy.redirect_allowlist.is_empty());
    assert_eq!(proxy.register_rate_limit, 20);
    assert_eq!(proxy.token_rate_limit, 120);
    assert_eq!(proxy.token_client_rate_limit, 60);
    assert_eq!(proxy.revoke_rate_limit, 60);
    assert_eq!(proxy.revoke_client_rate_limit, 30);
    assert_eq!(proxy.rate_limit_window, Duration::from_secs(60));
    assert_eq!(
        proxy
            .encryption_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        Some(KEY_VALUE.to_owned())
    );
    assert_eq!(
        s.auth.idp_scopes,
        ["openid", "profile", "email", "offline_access"]
    );
    assert!(s.auth.extra_authorize_params.is_empty());
    assert!(s.auth.extra_token_params.is_empty());
    assert_eq!(s.auth.client_auth_method, IdpClientAuth::ClientSecretBasic);
}

#[test]
fn proxy_environment_names_reach_their_settings() {
    let key_file = temp_file(&format!("{KEY_VALUE}\n"));
    let key_path = key_file.to_str().unwrap();
    let s = load_ok(
        &[],
        &[
            HTTP,
            ("MCP_AUTH_MODE", "proxy"),
            ("IDP_AUTHORIZE_URL", "https://idp.example.com/authorize"),
            ("IDP_TOKEN_URL", "https://idp.example.com/token"),
            ("IDP_REVOCATION_URL", "https://idp.example.com/revoke"),
            ("IDP_USERINFO_URL", "https://idp.example.com/userinfo"),
            ("IDP_SCOPES", "openid, email offline_access"),
            (
                "IDP_EXTRA_AUTHORIZE_PARAMS",
                "audience=https%3A%2F%2Fsplunk&prompt=consent",
            ),
            ("IDP_EXTRA_TOKEN_PARAMS", "audience=https://splunk"),
            ("IDP_CLIENT_AUTH_METHOD", "client_secret_post"),
            ("MCP_OAUTH_CLIENT_ID", "splunk-mcp"),
            ("MCP_OAUTH_CLIENT_SECRET", "s"),
            ("MCP_PROXY_ENCRYPTION_KEY_FILE", key_path),
            ("MCP_PROXY_STORE", "redis://:pw@redis.internal:6379/2"),
            ("MCP_PROXY_ACCESS_TOKEN_TTL", "15m"),
            ("MCP_PROXY_REFRESH_TOKEN_TTL", "7d"),
            ("MCP_PROXY_CONSENT_REMEMBER", "0"),
            ("MCP_PROXY_ALLOW_CIMD", "false"),
            ("MCP_PROXY_CIMD_ALLOW_LOOPBACK", "true"),
            (
                "MCP_PROXY_REDIRECT_ALLOWLIST",
                "https://*.example.com/cb, http://127.0.0.1:*/callback",
            ),
            ("MCP_PROXY_REGISTER_RATE_LIMIT", "5"),
            ("MCP_PROXY_TOKEN_RATE_LIMIT", "0"),
            ("MCP_PROXY_TOKEN_CLIENT_RATE_LIMIT", "7"),
            ("MCP_PROXY_REVOKE_RATE_LIMIT", "8"),
            ("MCP_PROXY_REVOKE_CLIENT_RATE_LIMIT", "9"),
            ("MCP_PROXY_RATE_LIMIT_WINDOW", "10s"),
            ("SPLUNK_CREDENTIALS", "passthrough"),
        ],
    );
    let auth = &s.auth;
    assert_eq!(
        auth.revocation_url.as_deref(),
        Some("https://idp.example.com/revoke")
    );
    assert_eq!(
        auth.userinfo_url.as_deref(),
        Some("https://idp.example.com/userinfo")
    );
    assert_eq!(auth.idp_scopes, ["openid", "email", "offline_access"]);
    assert_eq!(
        auth.extra_authorize_params,
        [
            ("audience".to_owned(), "https://splunk".to_owned()),
            ("prompt".to_owned(), "consent".to_owned())
        ]
    );
    assert_eq!(
        auth.extra_token_params,
        [("audience".to_owned(), "https://splunk".to_owned())]
    );
    assert_eq!(auth.client_auth_method, IdpClientAuth::ClientSecretPost);
    let proxy = &auth.proxy;
    assert_eq!(
        proxy
            .encryption_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned()),
        Some(KEY_VALUE.to_owned()),
        "read from the file without its newline"
    );
    assert!(
        matches!(&proxy.store, ProxyStore::Redis(url) if url.expose_secret() == "redis://:pw@redis.internal:6379/2")
    );
    assert_eq!(proxy.access_token_ttl, Duration::from_secs(900));
    assert_eq!(proxy.refresh_token_ttl, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(proxy.consent_remember, Duration::ZERO);
    assert!(!proxy.allow_cimd);
    assert!(proxy.cimd_allow_loopback);
    assert_eq!(
        proxy.redirect_allowlist,
        ["https://*.example.com/cb", "http://127.0.0.1:*/callback"]
    );
    assert_eq!(
        (
            proxy.register_rate_limit,
            proxy.token_rate_limit,
            proxy.token_client_rate_limit,
            proxy.revoke_rate_limit,
            proxy.revoke_client_rate_limit,
            proxy.rate_limit_window,
        ),
        (5, 0, 7, 8, 9, Duration::from_secs(10))
    );

    let file = temp_file(
        "[auth]\nmode = \"proxy\"\nextra_token_params = \"resource=urn:splunk\"\n\
         [auth.proxy]\nstore = \"/var/lib/splunk-mcp/proxy.redb\"\naccess_token_ttl = 600\n\
         consent_remember = \"1h\"\nredirect_allowlist = [\"https://app.example.com/cb\"]\n\
         token_rate_limit = 300\nrate_limit_window = \"5m\"\n",
    );
    let s = load_ok(
        &["--config", file.to_str().unwrap()],
        &proxy_env(&[("MCP_AUTH_MODE", "")]),
    );
    assert_eq!(s.auth.mode, AuthMode::Proxy);
    assert!(
        matches!(&s.auth.proxy.store, ProxyStore::File(path) if path == &PathBuf::from("/var/lib/splunk-mcp/proxy.redb"))
    );
    assert_eq!(s.auth.proxy.access_token_ttl, Duration::from_secs(600));
    assert_eq!(s.auth.proxy.consent_remember, Duration::from_secs(3600));
    assert_eq!(
        s.auth.extra_token_params,
        [("resource".to_owned(), "urn:splunk".to_owned())]
    );
    assert_eq!(
        s.auth.proxy.redirect_allowlist,
        ["https://app.example.com/cb"]
    );
    assert_eq!(s.auth.proxy.token_rate_limit, 300);
    assert_eq!(s.auth.proxy.rate_limit_window, Duration::from_secs(300));
}

#[test]
fn proxy_rules_name_the_setting_and_a_fix() {
    let short_key = "c2hvcnQ="; // "short"
    // (environment, setting named, words in the problem, words in the fix)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            proxy_env(&[("MCP_PROXY_ENCRYPTION_KEY", "")]),
            "MCP_PROXY_ENCRYPTION_KEY",
            "needs a key to encrypt",
            "openssl rand -base64 32",
        ),
        (
            proxy_env(&[("MCP_PROXY_ENCRYPTION_KEY", short_key)]),
            "MCP_PROXY_ENCRYPTION_KEY",
            "got 5 bytes, need 32",
            "exactly 32 random bytes",
        ),
        (
            proxy_env(&[("MCP_PROXY_ENCRYPTION_KEY", "not base64 at all!")]),
            "MCP_PROXY_ENCRYPTION_KEY",
            "not valid base64",
            "openssl rand -base64 32",
        ),
        (
            proxy_env(&[("MCP_TRANSPORT", "stdio")]),
            "MCP_AUTH_MODE",
            "auth mode `proxy` needs the HTTP transport",
            "MCP_TRANSPORT=http",
        ),
        (
            proxy_env(&[("IDP_OIDC_CONFIG_URL", "")]),
            "MCP_AUTH_MODE",
            "upstream IdP's endpoints",
            "IDP_AUTHORIZE_URL and IDP_TOKEN_URL",
        ),
        (
            proxy_env(&[
                ("IDP_OIDC_CONFIG_URL", ""),
                ("IDP_AUTHORIZE_URL", "https://idp.example.com/authorize"),
            ]),
            "MCP_AUTH_MODE",
            "upstream IdP's endpoints",
            "IDP_OIDC_CONFIG_URL",
        ),
        (
            proxy_env(&[
                ("IDP_OIDC_CONFIG_URL", ""),
                ("IDP_AUTHORIZE_URL", "https://idp.example.com/authorize"),
                ("IDP_TOKEN_URL", "https://idp.example.com/token"),
            ]),
            "MCP_AUTH_MODE",
            "no way to learn who signed in",
            "IDP_USERINFO_URL",
        ),
        (
            proxy_env(&[("MCP_OAUTH_CLIENT_ID", "")]),
            "MCP_AUTH_MODE",
            "registered as at the IdP",
            "MCP_OAUTH_CLIENT_ID",
        ),
        (
            proxy_env(&[("MCP_OAUTH_CLIENT_SECRET", "")]),
            "MCP_AUTH_MODE",
            "/auth/callback",
            "MCP_OAUTH_CLIENT_SECRET",
        ),
        (
            proxy_env(&[("IDP_EXTRA_AUTHORIZE_PARAMS", "audience")]),
            "IDP_EXTRA_AUTHORIZE_PARAMS",
            "`audience` has no `=`",
            "name=value pairs joined by &",
        ),
        (
            proxy_env(&[("IDP_EXTRA_TOKEN_PARAMS", "=x")]),
            "IDP_EXTRA_TOKEN_PARAMS",
            "no parameter name",
            "name=value",
        ),
        (
            proxy_env(&[(
                "IDP_EXTRA_AUTHORIZE_PARAMS",
                "a=b&redirect_uri=https://evil",
            )]),
            "IDP_EXTRA_AUTHORIZE_PARAMS",
            "`redirect_uri` is set by splunk-mcp itself",
            "remove `redirect_uri`",
        ),
        (
            proxy_env(&[("IDP_EXTRA_TOKEN_PARAMS", "client_secret=x")]),
            "IDP_EXTRA_TOKEN_PARAMS",
            "`client_secret` is set by splunk-mcp itself",
            "remove",
        ),
        (
            proxy_env(&[("MCP_PROXY_STORE", "postgres://db/mcp")]),
            "MCP_PROXY_STORE",
            "neither a file path nor a redis:// URL",
            "redis://",
        ),
        (
            proxy_env(&[("MCP_PROXY_STORE", "rediss://:pw@redis:6380")]),
            "MCP_PROXY_STORE",
            "TLS to Redis",
            "redis://",
        ),
        (
            proxy_env(&[("MCP_PROXY_STORE", "redis://")]),
            "MCP_PROXY_STORE",
            "not a valid redis:// URL",
            "file path",
        ),
        (
            proxy_env(&[("MCP_PROXY_ACCESS_TOKEN_TTL", "2d")]),
            "MCP_PROXY_ACCESS_TOKEN_TTL",
            "a duration from 1s to 1d",
            "s, m, h or d",
        ),
        (
            proxy_env(&[("MCP_PROXY_REFRESH_TOKEN_TTL", "10 years")]),
            "MCP_PROXY_REFRESH_TOKEN_TTL",
            "a duration from 1m to 365d",
            "seconds",
        ),
        (
            proxy_env(&[("MCP_PROXY_TOKEN_RATE_LIMIT", "lots")]),
            "MCP_PROXY_TOKEN_RATE_LIMIT",
            "a whole number from 0 to 1000000",
            "0 to 1000000",
        ),
        (
            proxy_env(&[("MCP_PROXY_RATE_LIMIT_WINDOW", "0")]),
            "MCP_PROXY_RATE_LIMIT_WINDOW",
            "a duration from 1s to 1d",
            "s, m, h or d",
        ),
        (
            proxy_env(&[("MCP_TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/33")]),
            "MCP_TRUSTED_PROXIES",
            "`10.0.0.0/33` is not a CIDR range or an IP address",
            "10.0.0.0/8, 127.0.0.1/32, ::1/128",
        ),
        (
            proxy_env(&[("MCP_TRUSTED_PROXIES", "lb.internal")]),
            "MCP_TRUSTED_PROXIES",
            "`lb.internal` is not a CIDR range",
            "CIDR",
        ),
        (
            proxy_env(&[("MCP_PROXY_ALLOW_CIMD", "sometimes")]),
            "MCP_PROXY_ALLOW_CIMD",
            "expected a boolean",
            "true",
        ),
        (
            proxy_env(&[("IDP_CLIENT_AUTH_METHOD", "client_secret_jwt")]),
            "IDP_CLIENT_AUTH_METHOD",
            "not one of client_secret_basic, client_secret_post, private_key_jwt",
            "use one of",
        ),
        (
            proxy_env(&[("IDP_CLIENT_AUTH_METHOD", "private_key_jwt")]),
            "MCP_OAUTH_CLIENT_KEY_FILE",
            "IDP_CLIENT_AUTH_METHOD=private_key_jwt signs with its key",
            "MCP_OAUTH_CLIENT_KEY_FILE",
        ),
        (
            proxy_env(&[("MCP_BASE_URL", "http://mcp.example.com")]),
            "MCP_BASE_URL",
            "plain http only on loopback",
            "https://",
        ),
    ];
    for (env, setting, problem, fix) in cases {
        let e = load_err(&[], env);
        assert_eq!(e.setting, *setting, "{env:?}: {e}");
        assert!(
            e.problem.contains(problem),
            "{env:?}: problem {:?}",
            e.problem
        );
        assert!(e.fix.contains(fix), "{env:?}: fix {:?}", e.fix);
    }

    // The key from a file is named by its file variable.
    let bad_key = temp_file(short_key);
    let e = load_err(
        &[],
        &proxy_env(&[
            ("MCP_PROXY_ENCRYPTION_KEY", ""),
            ("MCP_PROXY_ENCRYPTION_KEY_FILE", bad_key.to_str().unwrap()),
        ]),
    );
    assert_eq!(e.setting, "MCP_PROXY_ENCRYPTION_KEY_FILE", "{e}");
    // Loopback http base URLs are fine (local development, the tests).
    load_ok(
        &[],
        &proxy_env(&[("MCP_BASE_URL", "http://localhost:8000")]),
    );
    // Proxy settings are not checked in other modes, where they are unused.
    load_ok(&[], &[TOKEN, ("MCP_PROXY_ENCRYPTION_KEY", short_key)]);
}

#[test]
fn rendering_redacts_proxy_secrets() {
    let s = load_ok(
        &[],
        &proxy_env(&[(
            "MCP_PROXY_STORE",
            "redis://mcp:redis-password-value@redis.internal:6379/0",
        )]),
    );
    let text = render_redacted(&s);
    for secret in [KEY_VALUE, "client-secret-value", "redis-password-value"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(text.contains("encryption_key = \"<redacted>\""), "{text}");
    assert!(text.contains("client_secret = \"<redacted>\""), "{text}");
    assert!(
        text.contains("store = \"redis://mcp:<redacted>@redis.internal:6379/0\""),
        "{text}"
    );
    let shown = format!("{s:?}");
    for secret in [KEY_VALUE, "client-secret-value", "redis-password-value"] {
        assert!(!shown.contains(secret), "{secret} leaked in Debug: {shown}");
    }

    // A Redis URL without a password and a file path are shown as they are.
    let s = load_ok(
        &[],
        &proxy_env(&[("MCP_PROXY_STORE", "redis://127.0.0.1:6379")]),
    );
    assert!(
        render_redacted(&s).contains("store = \"redis://127.0.0.1:6379\""),
        "{}",
        render_redacted(&s)
    );
}

#[test]
fn rendered_proxy_config_loads_back_to_the_same_settings() {
    let s = load_ok(
        &[],
        &proxy_env(&[
            (
                "IDP_EXTRA_AUTHORIZE_PARAMS",
                "resource=urn:splunk&prompt=consent",
            ),
            ("IDP_EXTRA_TOKEN_PARAMS", "audience=https://splunk a"),
            ("MCP_PROXY_CONSENT_REMEMBER", "0"),
            ("MCP_PROXY_REDIRECT_ALLOWLIST", "https://*.example.com/*"),
            ("IDP_SCOPES", "openid groups"),
            ("MCP_TRUSTED_PROXIES", "10.0.0.0/8,2001:db8::/32"),
            ("MCP_PROXY_TOKEN_CLIENT_RATE_LIMIT", "0"),
            ("MCP_PROXY_RATE_LIMIT_WINDOW", "1h"),
        ]),
    );
    let text = render_redacted(&s);
    assert!(text.contains("[auth.proxy]"), "{text}");
    assert!(
        text.contains("trusted_proxies = [\"10.0.0.0/8\", \"2001:db8::/32\"]"),
        "{text}"
    );
    assert!(text.contains("token_client_rate_limit = 0"), "{text}");
    let again = temp_file(&text);
    // The file holds `<redacted>` in place of each secret: give the real ones again.
    let reloaded = load_ok(
        &["--config", again.to_str().unwrap()],
        &[
            PROXY_KEY,
            ("MCP_OAUTH_CLIENT_SECRET", "client-secret-value"),
        ],
    );
    assert_eq!(render_redacted(&reloaded), text);
    assert_eq!(reloaded.auth.extra_token_params, s.auth.extra_token_params);
    assert_eq!(reloaded.auth.proxy.consent_remember, Duration::ZERO);
    assert_eq!(reloaded.server.trusted_proxies, s.server.trusted_proxies);
    assert_eq!(
        reloaded.auth.proxy.rate_limit_window,
        Duration::from_secs(3600)
    );
}

#[test]
fn scope_groups_and_tool_and_tag_rules_are_read() {
    let env = load_ok(
        &[],
        &[
            (
                "MCP_AUTH_SCOPE_GROUPS",
                "splunk:admin=admins;splunk:search=analysts, admins",
            ),
            TOKEN,
        ],
    );
    assert_eq!(
        env.auth.scope_groups.to_string(),
        "splunk:admin=admins;splunk:search=analysts,admins"
    );

    let file = temp_file(
        "[auth.scope_groups]\n\"splunk:admin\" = [\"admins\"]\n\"splunk:read\" = \"analysts,admins\"\n\
         [auth.tools.splunk_search]\nscopes = [\"splunk:search\", \"splunk:power\"]\ngroups = [\"analysts\"]\n\
         [auth.tags.admin]\ngroups = [\"admins\"]\n",
    );
    let s = load_ok(&["--config", file.to_str().unwrap()], &[TOKEN]);
    assert_eq!(
        s.auth.scope_groups.groups_for("splunk:read"),
        Some(&["analysts".to_owned(), "admins".to_owned()][..])
    );
    let search = &s.auth.tools["splunk_search"];
    assert_eq!(
        search.scopes.as_deref(),
        Some(&["splunk:search".to_owned(), "splunk:power".to_owned()][..])
    );
    assert_eq!(search.groups, ["analysts"]);
    assert_eq!(s.auth.tags["admin"].groups, ["admins"]);
    assert!(s.auth.tags["admin"].scopes.is_none());

    let table = render_redacted(&s);
    assert!(
        table.contains("#   splunk_search                    scopes: splunk:power (tool), splunk:search (tool); groups: analysts (tool)"),
        "{table}"
    );
    assert!(
        table.contains("#   splunk_list_users                scopes: splunk:admin (default); groups: admins (tag admin)"),
        "{table}"
    );
    assert!(
        table.contains("#   splunk:admin                     members of admins"),
        "{table}"
    );
    assert!(
        table.contains("#   splunk:search                    anyone"),
        "{table}"
    );
}

#[test]
fn bad_policy_settings_name_the_setting() {
    let cases: &[(&str, &str)] = &[
        ("splunk:admin", "is not a rule"),
        ("splunk:admin=", "names no group"),
        ("splunk:admn=admins", "does not offer"),
    ];
    for (value, problem) in cases {
        let e = load_err(&[], &[("MCP_AUTH_SCOPE_GROUPS", value)]);
        assert_eq!(e.setting, "MCP_AUTH_SCOPE_GROUPS", "{value}: {e}");
        assert!(e.problem.contains(problem), "{value}: {e}");
    }
    let e = load_err(&[], &[("MCP_AUTH_SCOPE_GROUPS", "splunk:admn=admins")]);
    assert!(e.fix.contains("splunk:admin"), "{e}");

    let files: &[(&str, &str, &str)] = &[
        (
            "[auth.tools.splunk_serch]\ngroups = [\"a\"]\n",
            "auth.tools.splunk_serch",
            "splunk_search",
        ),
        (
            "[auth.tags.nope]\ngroups = [\"a\"]\n",
            "auth.tags.nope",
            "admin",
        ),
        (
            "[auth.tools.splunk_search]\ngruops = [\"a\"]\n",
            "auth.tools.splunk_search.gruops",
            "groups",
        ),
        (
            "[auth.tools.splunk_search]\ngroups = []\n",
            "auth.tools.splunk_search.groups",
            "at least one group",
        ),
        (
            "[auth.tools.splunk_search]\nscopes = [\"a\\\"b\"]\n",
            "auth.tools.splunk_search.scopes",
            "scopes",
        ),
        (
            "[auth.tool_scopes]\nsplunk_search = \"x\"\n[auth.tools.splunk_search]\nscopes = [\"y\"]\n",
            "auth.tool_scopes.splunk_search",
            "[auth.tools.splunk_search]",
        ),
        (
            "[auth.scope_groups]\n\"splunk:admin\" = 5\n",
            "auth.scope_groups.splunk:admin",
            "admins",
        ),
    ];
    for (text, setting, fix) in files {
        let file = temp_file(text);
        let e = load_err(&["--config", file.to_str().unwrap()], &[]);
        assert_eq!(
            e.setting,
            format!("{setting} in {}", file.display()),
            "{text}: {e}"
        );
        assert!(e.fix.contains(fix), "{text}: {e}");
    }
}
