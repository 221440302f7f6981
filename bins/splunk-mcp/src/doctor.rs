//! `splunk-mcp doctor`: checks an operator runs before going live, each with a clear verdict.
//!
//! It is the seed's "Phase 0 spike" as a command: can the IdP be discovered and its keys
//! fetched, does Splunk answer and which version is it, and does Splunk accept the bearer
//! token a user would send (passthrough) on `current-context`. In proxy mode also the IdP's
//! endpoints as the proxy uses them, the store, and what passthrough needs from the IdP.

use std::process::ExitCode;

use auth_core::{
    AuthContext, BearerToken, Decision, DiscoveryDocument, JwksCache, JwksCacheConfig,
    TokenVerifier,
};
use mcp_tools::ToolRegistry;
use splunk_client::{Client, Credentials};

use secrecy::ExposeSecret as _;

use crate::app::{inbound, outbound, proxy};
use crate::config::{AuthMode, CredentialsMode, Settings};

/// The verdicts so far.
#[derive(Default)]
struct Report {
    failed: usize,
}

impl Report {
    fn ok(&mut self, check: &str, detail: impl AsRef<str>) {
        println!("[ ok ] {check}: {}", detail.as_ref());
    }

    fn info(&mut self, check: &str, detail: impl AsRef<str>) {
        println!("[info] {check}: {}", detail.as_ref());
    }

    fn fail(&mut self, check: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed += 1;
        println!("[FAIL] {check}: {}", detail.as_ref());
        println!("       fix: {}", fix.as_ref());
    }
}

/// Runs every check that applies to `settings`; `token` is tried against Splunk as passthrough
/// would send it. Exit status 0 when every check passed, 1 otherwise.
pub async fn run(settings: &Settings, token: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    report.info(
        "configuration",
        format!(
            "auth mode {}, Splunk credentials {}, Splunk at {}",
            format!("{:?}", settings.auth.mode).to_lowercase(),
            format!("{:?}", settings.splunk.credentials).to_lowercase(),
            settings.splunk.base_url()
        ),
    );
    check_idp(settings, &mut report).await;
    if settings.auth.mode == AuthMode::Proxy {
        check_upstream(settings, &mut report).await;
        check_store(settings, &mut report).await;
    }
    check_splunk(settings, &mut report).await;
    check_passthrough_rule(settings, &mut report);
    if settings.splunk.credentials == CredentialsMode::Mirror {
        check_mirror_admin(settings, &mut report).await;
    }
    if let Some(token) = token {
        check_token(settings, token, &mut report).await;
    } else if settings.splunk.credentials == CredentialsMode::Passthrough {
        report.info(
            "token",
            "pass --token <access token> to check that Splunk accepts a user's token",
        );
    }
    if report.failed == 0 {
        println!("\nverdict: ready");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nverdict: {} check(s) failed", report.failed);
        Ok(ExitCode::FAILURE)
    }
}

/// Discovery document and key set of the IdP (jwt and introspect modes; the discovery
/// document in proxy mode).
async fn check_idp(settings: &Settings, report: &mut Report) {
    let auth = &settings.auth;
    if !matches!(
        auth.mode,
        AuthMode::Jwt | AuthMode::Introspect | AuthMode::Proxy
    ) || (auth.mode == AuthMode::Proxy && auth.oidc_config_url.is_none())
    {
        return;
    }
    let http = match inbound::idp_http_client() {
        Ok(http) => http,
        Err(e) => return report.fail("idp", format!("{e:#}"), "report this as a bug"),
    };
    let mut jwks_uri = auth.jwks_uri.clone();
    if let Some(url) = &auth.oidc_config_url {
        match DiscoveryDocument::fetch(&http, url, auth.issuer_url.as_deref()).await {
            Ok(doc) => {
                report.ok(
                    "idp discovery",
                    format!("{url} names issuer {}", doc.issuer),
                );
                jwks_uri = doc.jwks_uri.or(jwks_uri);
                if auth.mode == AuthMode::Introspect && auth.introspection_url.is_none() {
                    match doc.introspection_endpoint {
                        Some(ep) => report.ok("idp introspection", ep),
                        None => report.fail(
                            "idp introspection",
                            "the discovery document has no introspection_endpoint",
                            "set IDP_INTROSPECTION_URL",
                        ),
                    }
                }
            }
            Err(e) => report.fail(
                "idp discovery",
                format!("{url}: {e}"),
                "check IDP_OIDC_CONFIG_URL and that the IdP is reachable from this host",
            ),
        }
    }
    if auth.mode != AuthMode::Jwt {
        return;
    }
    let Some(uri) = jwks_uri else {
        return report.fail(
            "idp keys",
            "no JWKS URL known",
            "set IDP_OIDC_CONFIG_URL, or IDP_JWKS_URI",
        );
    };
    let cache = match JwksCache::new(&uri, std::sync::Arc::new(http), JwksCacheConfig::default()) {
        Ok(cache) => cache,
        Err(e) => return report.fail("idp keys", format!("{uri}: {e}"), "check IDP_JWKS_URI"),
    };
    match cache.refresh().await {
        Ok(()) => report.ok("idp keys", format!("{uri} serves usable signing keys")),
        Err(e) => report.fail(
            "idp keys",
            format!("{uri}: {e}"),
            "the key set must be reachable and hold RSA, EC or OKP signing keys",
        ),
    }
}

/// Proxy mode: the IdP's endpoints as the proxy will use them, and what to register there.
async fn check_upstream(settings: &Settings, report: &mut Report) {
    match proxy::upstream_client(settings).await {
        Ok(upstream) => {
            report.ok(
                "idp endpoints",
                format!(
                    "authorization and token endpoints usable{}",
                    if upstream.supports_revocation() {
                        ", revocation endpoint known (revoking here revokes at the IdP)"
                    } else {
                        "; no revocation endpoint (IdP tokens stay valid until they expire)"
                    }
                ),
            );
        }
        Err(e) => report.fail(
            "idp endpoints",
            format!("{e:#}"),
            "check IDP_OIDC_CONFIG_URL (or IDP_AUTHORIZE_URL and IDP_TOKEN_URL) and that the \
             IdP is reachable from this host",
        ),
    }
    report.info(
        "idp client",
        format!(
            "register {} as a redirect URI of client {} at the IdP",
            proxy::callback_url(settings),
            settings
                .auth
                .client_id
                .as_deref()
                .unwrap_or("(MCP_OAUTH_CLIENT_ID)")
        ),
    );
}

/// Proxy mode: the store opens, answers, and its signing keys open with the configured key.
async fn check_store(settings: &Settings, report: &mut Report) {
    let proxy_settings = &settings.auth.proxy;
    let shown = proxy_settings.store.redacted();
    let cipher = match proxy_settings
        .encryption_key
        .as_ref()
        .map(|key| oidc_proxy::EncryptionKey::from_base64(1, key.expose_secret()))
    {
        Some(Ok(key)) => oidc_proxy::Cipher::new(key),
        Some(Err(e)) => {
            return report.fail(
                "store",
                format!("MCP_PROXY_ENCRYPTION_KEY: {e}"),
                "generate a key with `openssl rand -base64 32`",
            );
        }
        None => {
            return report.fail(
                "store",
                "MCP_PROXY_ENCRYPTION_KEY is not set",
                "generate a key with `openssl rand -base64 32`",
            );
        }
    };
    let store = match proxy::open_store(&proxy_settings.store, cipher).await {
        Ok(store) => store,
        Err(e) => {
            let text = format!("{e:#}");
            if text.contains("already open") {
                return report.info(
                    "store",
                    format!("{shown} is open in another process, presumably the running server"),
                );
            }
            return report.fail(
                "store",
                text,
                "check MCP_PROXY_STORE: a writable file path, or a reachable redis:// URL",
            );
        }
    };
    match store.list_signing_keys().await {
        Ok(keys) => report.ok(
            "store",
            format!(
                "{shown} answers; {} signing key(s) readable with MCP_PROXY_ENCRYPTION_KEY",
                keys.len()
            ),
        ),
        Err(oidc_proxy::StoreError::Crypto(e)) => report.fail(
            "store",
            format!("{shown}: its signing keys do not open with MCP_PROXY_ENCRYPTION_KEY: {e}"),
            "use the key the store was written with (the same on every replica), or start \
             with an empty store (every client registers again, every user signs in again)",
        ),
        Err(e) => report.fail("store", format!("{shown}: {e}"), "check MCP_PROXY_STORE"),
    }
}

/// Splunk answers, and with the configured credential (service, mirror admin) its version.
async fn check_splunk(settings: &Settings, report: &mut Report) {
    let splunk = &settings.splunk;
    let config = match outbound::client_config(splunk) {
        Ok(config) => config,
        Err(e) => return report.fail("splunk", format!("{e:#}"), "fix the Splunk settings"),
    };
    let per_caller = splunk.credentials.needs_idp_token();
    let credentials = if per_caller {
        Credentials::bearer(String::new())
    } else {
        match outbound::configured_credentials(splunk) {
            Ok(c) => c,
            Err(e) => return report.fail("splunk", format!("{e:#}"), "set the credential"),
        }
    };
    let client = match Client::new(&config, credentials) {
        Ok(client) => client,
        Err(e) => return report.fail("splunk", e.to_string(), "fix the Splunk settings"),
    };
    match client.server_info().await {
        Ok(info) => {
            report.ok(
                "splunk",
                format!(
                    "{} answers: Splunk {} on {}",
                    splunk.base_url(),
                    info.version,
                    info.host
                ),
            );
            if settings.splunk.credentials == CredentialsMode::Passthrough
                && !version_at_least(&info.version, 10, 2)
            {
                report.fail(
                    "splunk version",
                    format!("Splunk {} cannot validate IdP tokens", info.version),
                    "passthrough needs Splunk 10.2 or later; use SPLUNK_CREDENTIALS=mirror",
                );
            }
        }
        Err(splunk_client::Error::Unauthorized { .. }) if per_caller => {
            report.ok(
                "splunk",
                format!(
                    "{} answers (version unknown without a credential; pass --token)",
                    splunk.base_url()
                ),
            );
        }
        Err(splunk_client::Error::Unauthorized { .. }) => report.fail(
            "splunk",
            "Splunk refuses the configured credential",
            "check SPLUNK_TOKEN, or SPLUNK_USERNAME and SPLUNK_PASSWORD",
        ),
        Err(e) => report.fail(
            "splunk",
            format!("{}: {e}", splunk.base_url()),
            "check SPLUNK_HOST, SPLUNK_PORT, SPLUNK_SCHEME and, for TLS, SPLUNK_CA_BUNDLE",
        ),
    }
}

/// Explains the MCP token-passthrough rule and how this configuration meets it.
fn check_passthrough_rule(settings: &Settings, report: &mut Report) {
    if settings.splunk.credentials != CredentialsMode::Passthrough {
        return;
    }
    let auth = &settings.auth;
    if auth.mode == AuthMode::Proxy {
        let params = if auth.extra_authorize_params.is_empty() && auth.extra_token_params.is_empty()
        {
            "none set".to_owned()
        } else {
            let names = |pairs: &[(String, String)]| {
                pairs
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "authorize: {}; token: {}",
                names(&auth.extra_authorize_params),
                names(&auth.extra_token_params)
            )
        };
        report.info(
            "passthrough audience",
            format!(
                "proxy mode sends Splunk the IdP's access token held for each grant (never the \
                 proxy's own token), so the IdP must issue access tokens that Splunk accepts \
                 (issuer, audience, username and groups claims as configured in Splunk); with \
                 most IdPs that takes IDP_EXTRA_AUTHORIZE_PARAMS / IDP_EXTRA_TOKEN_PARAMS such \
                 as `audience=...` or `resource=...` (now: {params}); check one with \
                 `splunk-mcp doctor --token <the IdP's access token>`"
            ),
        );
        return;
    }
    if auth.passthrough_audience_ack {
        report.info(
            "passthrough audience",
            format!(
                "MCP_PASSTHROUGH_AUDIENCE_ACK=true: tokens for {:?} are forwarded to Splunk \
                 without checking that they name Splunk; the MCP spec forbids passing on a \
                 token not issued for the API it is sent to, so Splunk must be configured to \
                 accept this audience",
                auth.audience
            ),
        );
    } else {
        report.ok(
            "passthrough audience",
            format!(
                "tokens are accepted only when their aud names both this server ({:?}) and \
                 Splunk ({:?}), so every token forwarded was issued for Splunk too (MCP \
                 token-passthrough rule); configure the IdP to issue both audiences, or use \
                 SPLUNK_CREDENTIALS=mirror",
                auth.audience, auth.splunk_audience
            ),
        );
    }
}

/// The mirror admin credential's capabilities.
async fn check_mirror_admin(settings: &Settings, report: &mut Report) {
    let wanted = crate::app::readiness_capabilities();
    let client = match outbound::client_config(&settings.splunk)
        .and_then(|config| outbound::configured_client(&config, &settings.splunk))
    {
        Ok(client) => client,
        Err(e) => return report.fail("mirror admin", format!("{e:#}"), "set the admin credential"),
    };
    match client.missing_capabilities(wanted).await {
        Ok(missing) if missing.is_empty() => {
            report.ok("mirror admin", format!("has {}", wanted.join(" and ")));
        }
        Ok(missing) => report.fail(
            "mirror admin",
            format!("the admin credential lacks {}", missing.join(", ")),
            "give its role the capabilities edit_user and edit_tokens_all",
        ),
        Err(e) => report.fail(
            "mirror admin",
            e.to_string(),
            "check SPLUNK_TOKEN, or SPLUNK_USERNAME and SPLUNK_PASSWORD",
        ),
    }
}

/// What this server and Splunk make of `token`.
async fn check_token(settings: &Settings, token: &str, report: &mut Report) {
    match auth_core::parse_unverified(token) {
        Ok(parsed) => {
            let aud = parsed.claim("aud").cloned().unwrap_or_default();
            let iss = parsed.claim("iss").cloned().unwrap_or_default();
            report.info("token", format!("a JWT from {iss}, audience {aud}"));
        }
        Err(_) => report.info("token", "not a JWT (an opaque token)"),
    }
    if settings.auth.mode == AuthMode::Proxy {
        report.info(
            "token at this server",
            "proxy mode: pass the IdP's access token (what Splunk receives); this server's own \
             tokens are checked at /mcp",
        );
        check_proxy_grant(settings, token, report);
    } else {
        check_token_here(settings, token, report).await;
    }
    if settings.splunk.credentials == CredentialsMode::Exchange {
        if let Some(exchanged) = check_exchange(settings, token, report).await {
            check_token_at_splunk(settings, &exchanged, report).await;
        }
    } else {
        check_token_at_splunk(settings, token, report).await;
    }
}

/// Exchange mode: the IdP exchanges `token` for a token for Splunk; that token, if it does.
async fn check_exchange(settings: &Settings, token: &str, report: &mut Report) -> Option<String> {
    let exchange = &settings.splunk.exchange;
    let idp = match outbound::IdpExchange::new(settings).await {
        Ok(idp) => idp,
        Err(e) => {
            report.fail("token exchange", format!("{e:#}"), "fix the IdP settings");
            return None;
        }
    };
    match idp.exchange_now(token).await {
        Ok(exchanged) => {
            let lifetime = exchanged.expires_in.map_or_else(
                || "lifetime not said".to_owned(),
                |d| format!("valid {} s", d.as_secs()),
            );
            report.ok(
                "token exchange",
                format!(
                    "the IdP exchanged the token for one for audience {} ({lifetime})",
                    exchange.audience
                ),
            );
            Some(exchanged.access_token.expose().to_owned())
        }
        Err(e) => {
            let fix = match e.oauth_code() {
                Some("unauthorized_client") => {
                    "allow MCP_OAUTH_CLIENT_ID to use token exchange (on-behalf-of) at the IdP"
                }
                Some("invalid_target" | "invalid_scope") => {
                    "set SPLUNK_TOKEN_AUDIENCE (or SPLUNK_TOKEN_SCOPE) to a target the IdP \
                     issues tokens for, and allow this client to ask for it"
                }
                Some(_) => "see docs/auth-oauth.md, \"Exchange\", for the IdP's set-up",
                None => "check that the IdP is up and reachable from this host",
            };
            report.fail("token exchange", e.to_string(), fix);
            None
        }
    }
}

/// What this server's verifier makes of `token`, and which tools it may call.
async fn check_token_here(settings: &Settings, token: &str, report: &mut Report) {
    let policy = match crate::app::policy(settings) {
        Ok(policy) => policy,
        Err(e) => return report.fail("policy", format!("{e:#}"), "fix the policy settings"),
    };
    match inbound::build(settings, &policy).await {
        Ok(Some(inbound)) => match inbound.verifier.verify(token).await {
            Ok(ctx) => {
                let withheld = if ctx.withheld_scopes().is_empty() {
                    String::new()
                } else {
                    format!(
                        " (withheld by scope rules: {:?})",
                        ctx.withheld_scopes().iter().collect::<Vec<_>>()
                    )
                };
                report.ok(
                    "token at this server",
                    format!(
                        "accepted: subject {}, scopes {:?}{withheld}, groups {:?}",
                        ctx.subject(),
                        ctx.scopes().iter().collect::<Vec<_>>(),
                        ctx.groups()
                    ),
                );
                report_tools(&policy, &ctx, report);
            }
            Err(e) => report.fail(
                "token at this server",
                format!("refused: {e}"),
                "request the token for MCP_OAUTH_AUDIENCE (resource indicator) from the configured IdP",
            ),
        },
        Ok(None) => report.info("token at this server", "auth mode none: not checked"),
        Err(e) => report.fail("token at this server", format!("{e:#}"), "fix the auth settings"),
    }
}

/// In proxy mode: what a user with the groups of this IdP token would be granted, and which
/// tools that grant may call.
fn check_proxy_grant(settings: &Settings, token: &str, report: &mut Report) {
    let policy = match crate::app::policy(settings) {
        Ok(policy) => policy,
        Err(e) => return report.fail("policy", format!("{e:#}"), "fix the policy settings"),
    };
    let claims = auth_core::ClaimsConfig::with_groups_claim(settings.auth.groups_claim.clone());
    let Some(mut claims) = auth_core::parse_unverified(token)
        .ok()
        .and_then(|parsed| parsed.claims(&claims).ok())
    else {
        return report.info(
            "tools",
            "not a JWT: the groups, and so the scopes this server would grant, are not known here",
        );
    };
    claims.scopes = policy.offered_scopes().clone();
    let Ok(user) = AuthContext::new(claims, BearerToken::new(String::new())) else {
        return report.info("tools", "the token has no subject");
    };
    let user = user.restricted_by(policy.scope_rules());
    report.info(
        "proxy grant",
        format!(
            "a user with groups {:?} may be granted {:?}",
            user.groups(),
            user.scopes().iter().collect::<Vec<_>>()
        ),
    );
    report_tools(&policy, &user, report);
}

/// Which tools `caller` may call and, for each refused one, why.
fn report_tools(policy: &ToolRegistry, caller: &AuthContext, report: &mut Report) {
    let allowed: Vec<&str> = policy.allowed_tools(caller).collect();
    report.ok(
        "tools",
        format!(
            "may call {} of {}: {}",
            allowed.len(),
            policy.tool_names().count(),
            allowed.join(", ")
        ),
    );
    for name in policy.tool_names() {
        if let Decision::Deny(denial) = policy.evaluate(name, caller) {
            report.info(
                "tools",
                format!("refused {name}: {}", policy.refusal_reason(&denial)),
            );
        }
    }
}

/// What Splunk makes of `token` on current-context.
async fn check_token_at_splunk(settings: &Settings, token: &str, report: &mut Report) {
    let client = match outbound::client_config(&settings.splunk)
        .and_then(|config| Client::new(&config, Credentials::bearer(token)).map_err(Into::into))
    {
        Ok(client) => client,
        Err(e) => {
            return report.fail(
                "token at Splunk",
                format!("{e:#}"),
                "fix the Splunk settings",
            );
        }
    };
    match client.current_context().await {
        Ok(ctx) => report.ok(
            "token at Splunk",
            format!(
                "Splunk accepts it as {} with roles {}",
                ctx.username,
                ctx.roles.join(", ")
            ),
        ),
        Err(splunk_client::Error::Unauthorized { .. }) => report.fail(
            "token at Splunk",
            "Splunk refuses the token on /services/authentication/current-context",
            "configure Splunk 10.2+ to trust the IdP (issuer, JWKS, audience, username claim, \
             group-to-role mapping); see docs/auth-oauth.md",
        ),
        Err(e) => report.fail(
            "token at Splunk",
            e.to_string(),
            "check that Splunk is reachable",
        ),
    }
}

/// Whether a Splunk version string is at least `major.minor`.
fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::version_at_least;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("10.2.0", 10, 2));
        assert!(version_at_least("10.10", 10, 2));
        assert!(!version_at_least("9.4.1", 10, 2));
        assert!(!version_at_least("garbage", 10, 2));
    }
}
