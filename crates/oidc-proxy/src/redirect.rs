//! Redirect URI rules: which URIs a client may register (dynamic registration) and whether a
//! URI presented at `/authorize` matches a registered one.
//!
//! Registration: https anywhere; plain http only to a loopback host (`127.0.0.1`, `[::1]`,
//! `localhost`); custom schemes (`vscode://…`) only for `native` clients; never `javascript:`,
//! `data:`, `file:` and the like, never a fragment or userinfo. `web` clients need https to a
//! non-loopback host. An optional allow-list of patterns narrows this further.
//!
//! Matching: exact string comparison, except that a loopback http redirect may use any port
//! (RFC 8252 §7.3: native apps get an ephemeral port from the OS at each start).

use std::net::IpAddr;

use url::{Host, Url};

/// Longest redirect URI accepted.
pub const MAX_REDIRECT_URI_LEN: usize = 2000;

/// Schemes never accepted: they run code in, or read from, the user agent.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "filesystem",
];

/// The OIDC `application_type` of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    /// A web application: https redirects to a non-loopback host only.
    Web,
    /// A native application: may also use loopback http and custom schemes.
    Native,
}

impl ApplicationType {
    /// Parses `web` or `native`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "web" => Some(Self::Web),
            "native" => Some(Self::Native),
            _ => None,
        }
    }

    /// The registration value (`web` or `native`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// Why a redirect URI was refused. Messages quote the URI so the client developer sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// Not an absolute URI, or too long.
    #[error("redirect URI {0:?} is not a valid absolute URI of at most 2000 characters")]
    Malformed(String),
    /// A scheme that runs code or reads local data.
    #[error("redirect URI {0:?} uses a forbidden scheme")]
    ForbiddenScheme(String),
    /// Contains a `#fragment` (RFC 6749 §3.1.2).
    #[error("redirect URI {0:?} must not contain a fragment")]
    Fragment(String),
    /// Contains `user:password@`.
    #[error("redirect URI {0:?} must not contain user information")]
    UserInfo(String),
    /// Plain http to a host that is not loopback.
    #[error("redirect URI {0:?} uses http to a non-loopback host; use https")]
    InsecureHttp(String),
    /// A `web` client asked for a loopback or custom-scheme redirect.
    #[error(
        "redirect URI {0:?} is not allowed for a web client (https to a non-loopback host \
         required); register with application_type \"native\" for loopback or custom schemes"
    )]
    NotForWeb(String),
    /// https without a host.
    #[error("redirect URI {0:?} has no host")]
    MissingHost(String),
    /// Not matched by any pattern of the configured allow-list.
    #[error("redirect URI {0:?} is not in this server's allow-list")]
    NotAllowed(String),
}

/// A redirect URI allow-list pattern: the whole URI must match, `*` matches any run of
/// characters (including none). `https://*.example.com/cb` allows every subdomain's `/cb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPattern(String);

impl RedirectPattern {
    /// A pattern; `*` is the only wildcard.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self(pattern.into())
    }

    /// Whether `uri` matches the whole pattern.
    pub fn matches(&self, uri: &str) -> bool {
        glob_match(self.0.as_bytes(), uri.as_bytes())
    }
}

/// Iterative glob match with `*` only (linear backtracking on the last star).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Server-wide redirect policy: the built-in rules plus an optional allow-list.
#[derive(Debug, Clone, Default)]
pub struct RedirectPolicy {
    allow_list: Vec<RedirectPattern>,
}

impl RedirectPolicy {
    /// The built-in rules only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also requires every redirect URI to match one of `patterns` (empty: no allow-list).
    pub fn with_allow_list(mut self, patterns: impl IntoIterator<Item = RedirectPattern>) -> Self {
        self.allow_list = patterns.into_iter().collect();
        self
    }

    /// Checks a redirect URI a client wants to register.
    pub fn validate(&self, uri: &str, app: ApplicationType) -> Result<(), RedirectError> {
        let kind = classify(uri)?;
        match (kind, app) {
            (Kind::Https, _) | (Kind::Loopback | Kind::Custom, ApplicationType::Native) => {}
            (Kind::Loopback | Kind::Custom | Kind::HttpsLoopback, ApplicationType::Web) => {
                return Err(RedirectError::NotForWeb(uri.to_owned()));
            }
            (Kind::HttpsLoopback, ApplicationType::Native) => {}
        }
        if !self.allow_list.is_empty() && !self.allow_list.iter().any(|p| p.matches(uri)) {
            return Err(RedirectError::NotAllowed(uri.to_owned()));
        }
        Ok(())
    }
}

/// What kind of redirect a syntactically acceptable URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// https to a non-loopback host.
    Https,
    /// https to a loopback host (a native app's local TLS listener).
    HttpsLoopback,
    /// http to a loopback host.
    Loopback,
    /// A private-use scheme such as `vscode:`.
    Custom,
}

fn classify(uri: &str) -> Result<Kind, RedirectError> {
    let bad = || uri.to_owned();
    if uri.len() > MAX_REDIRECT_URI_LEN || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(RedirectError::Malformed(bad()));
    }
    let url = Url::parse(uri).map_err(|_| RedirectError::Malformed(bad()))?;
    if FORBIDDEN_SCHEMES.contains(&url.scheme()) {
        return Err(RedirectError::ForbiddenScheme(bad()));
    }
    // `Url` drops an empty fragment marker from `fragment()` only when absent, so test the text.
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectError::Fragment(bad()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectError::UserInfo(bad()));
    }
    match url.scheme() {
        "https" => match url.host() {
            None => Err(RedirectError::MissingHost(bad())),
            Some(h) if is_loopback(&h) => Ok(Kind::HttpsLoopback),
            Some(_) => Ok(Kind::Https),
        },
        "http" => match url.host() {
            Some(h) if is_loopback(&h) => Ok(Kind::Loopback),
            _ => Err(RedirectError::InsecureHttp(bad())),
        },
        // Other web-ish schemes would reach the network unprotected.
        "ws" | "wss" | "ftp" => Err(RedirectError::ForbiddenScheme(bad())),
        _ => Ok(Kind::Custom),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Whether the redirect URI presented at `/authorize` matches one of the `registered` ones:
/// exactly, or (http to a loopback host) with only the port differing, as RFC 8252 §7.3 allows.
pub fn redirect_uri_matches(registered: &[String], presented: &str) -> bool {
    if registered.iter().any(|r| r == presented) {
        return true;
    }
    let Some(presented) = loopback_without_port(presented) else {
        return false;
    };
    registered
        .iter()
        .filter_map(|r| loopback_without_port(r))
        .any(|r| r == presented)
}

/// An http loopback URI with its port removed; `None` for anything else.
fn loopback_without_port(uri: &str) -> Option<Url> {
    let mut url = Url::parse(uri).ok()?;
    if url.scheme() != "http" || !url.host().is_some_and(|h| is_loopback(&h)) {
        return None;
    }
    if uri.contains('#') || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.set_port(None).ok()?;
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    use ApplicationType::{Native, Web};

    #[test]
    fn registration_rules() {
        type Expect = Result<(), fn(String) -> RedirectError>;
        let ok: Expect = Ok(());
        let cases: &[(&str, ApplicationType, Expect)] = &[
            // Real clients.
            ("https://claude.ai/api/mcp/auth_callback", Web, ok),
            ("https://claude.ai/api/mcp/auth_callback", Native, ok),
            (
                "https://chatgpt.com/connector_platform_oauth_redirect",
                Web,
                ok,
            ),
            ("http://127.0.0.1:33418", Native, ok),
            ("http://127.0.0.1:33418/", Native, ok),
            (
                "vscode://vscode.github-authentication/did-authenticate",
                Native,
                ok,
            ),
            ("http://localhost:6274/oauth/callback", Native, ok),
            ("http://[::1]:8080/cb", Native, ok),
            ("https://localhost:8443/cb", Native, ok),
            // Loopback and custom schemes are for native clients only.
            ("http://127.0.0.1:33418", Web, Err(RedirectError::NotForWeb)),
            (
                "http://localhost:6274/oauth/callback",
                Web,
                Err(RedirectError::NotForWeb),
            ),
            (
                "vscode://vscode.github-authentication/cb",
                Web,
                Err(RedirectError::NotForWeb),
            ),
            ("https://localhost/cb", Web, Err(RedirectError::NotForWeb)),
            // Plain http elsewhere.
            (
                "http://example.com/cb",
                Native,
                Err(RedirectError::InsecureHttp),
            ),
            (
                "http://127.0.0.1.evil.com/cb",
                Native,
                Err(RedirectError::InsecureHttp),
            ),
            (
                "http://10.0.0.1/cb",
                Native,
                Err(RedirectError::InsecureHttp),
            ),
            // Dangerous schemes, fragments, userinfo.
            (
                "javascript:alert(1)",
                Native,
                Err(RedirectError::ForbiddenScheme),
            ),
            (
                "JavaScript:alert(1)",
                Native,
                Err(RedirectError::ForbiddenScheme),
            ),
            (
                "data:text/html,hi",
                Native,
                Err(RedirectError::ForbiddenScheme),
            ),
            (
                "file:///etc/passwd",
                Native,
                Err(RedirectError::ForbiddenScheme),
            ),
            ("https://claude.ai/cb#x", Web, Err(RedirectError::Fragment)),
            ("https://claude.ai/cb#", Web, Err(RedirectError::Fragment)),
            (
                "https://user:pw@claude.ai/cb",
                Web,
                Err(RedirectError::UserInfo),
            ),
            (
                "https://user@claude.ai/cb",
                Web,
                Err(RedirectError::UserInfo),
            ),
            // Not URIs at all.
            ("/relative/cb", Web, Err(RedirectError::Malformed)),
            ("", Web, Err(RedirectError::Malformed)),
            ("https://claude.ai/a b", Web, Err(RedirectError::Malformed)),
        ];
        let policy = RedirectPolicy::new();
        for (uri, app, expected) in cases {
            let got = policy.validate(uri, *app);
            let want = expected
                .as_ref()
                .map(|_| ())
                .map_err(|f| f(uri.to_string()));
            assert_eq!(got, want, "{uri} as {app:?}");
        }
    }

    #[test]
    fn allow_list_narrows_the_rules() {
        let policy = RedirectPolicy::new().with_allow_list([
            RedirectPattern::new("https://claude.ai/api/mcp/auth_callback"),
            RedirectPattern::new("http://127.0.0.1:*"),
        ]);
        assert_eq!(
            policy.validate("https://claude.ai/api/mcp/auth_callback", Web),
            Ok(())
        );
        assert_eq!(policy.validate("http://127.0.0.1:33418/cb", Native), Ok(()));
        assert_eq!(
            policy.validate("https://chatgpt.com/connector_platform_oauth_redirect", Web),
            Err(RedirectError::NotAllowed(
                "https://chatgpt.com/connector_platform_oauth_redirect".into()
            ))
        );
        // The allow-list never loosens the built-in rules.
        let loose = RedirectPolicy::new().with_allow_list([RedirectPattern::new("*")]);
        assert!(loose.validate("javascript:alert(1)", Native).is_err());
    }

    #[test]
    fn glob_patterns() {
        let p = RedirectPattern::new("https://*.example.com/cb");
        assert!(p.matches("https://a.example.com/cb"));
        assert!(p.matches("https://a.b.example.com/cb"));
        assert!(!p.matches("https://example.com/cb"));
        assert!(!p.matches("https://a.example.com/cb/extra"));
        assert!(RedirectPattern::new("a*b*c").matches("aXXbYYc"));
        assert!(!RedirectPattern::new("a*b*c").matches("aXXcYYb"));
    }

    #[test]
    fn matching_at_authorize() {
        let registered = vec![
            "https://claude.ai/api/mcp/auth_callback".to_owned(),
            "http://127.0.0.1:33418/callback".to_owned(),
            "http://localhost:6274/oauth/callback".to_owned(),
            "vscode://vscode.github-authentication/did-authenticate".to_owned(),
        ];
        let cases = [
            ("https://claude.ai/api/mcp/auth_callback", true),
            ("https://claude.ai/api/mcp/auth_callback/", false),
            ("https://claude.ai/api/mcp/auth_callback?x=1", false),
            ("https://claude.ai:444/api/mcp/auth_callback", false),
            ("HTTPS://claude.ai/api/mcp/auth_callback", false),
            // Loopback: any port, same path and query.
            ("http://127.0.0.1:51234/callback", true),
            ("http://127.0.0.1/callback", true),
            ("http://127.0.0.1:51234/other", false),
            ("http://127.0.0.1:51234/callback?x=1", false),
            ("http://localhost:1234/oauth/callback", true),
            ("http://[::1]:33418/callback", false),
            ("https://127.0.0.1:33418/callback", false),
            (
                "vscode://vscode.github-authentication/did-authenticate",
                true,
            ),
            ("vscode://vscode.github-authentication/other", false),
        ];
        for (presented, want) in cases {
            assert_eq!(
                redirect_uri_matches(&registered, presented),
                want,
                "{presented}"
            );
        }
    }
}
