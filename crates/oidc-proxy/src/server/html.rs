//! The consent page: server-rendered HTML without script, so the strict CSP of
//! [`page`](super::responses::page) applies and nothing on it can be driven by another site.
//!
//! It shows what the user needs to decide (MCP security best practices, confused deputy): which
//! application asks, where the browser will be sent back to, and what it may do. The form
//! carries the consent id and a CSRF token; the browser-binding cookie travels with it.

use axum::http::StatusCode;
use axum::response::Response;
use url::Url;

use super::responses::{escape, page};
use crate::records::{ClientRecord, ClientSource};

/// What the consent page shows and posts back.
pub(crate) struct ConsentPage<'a> {
    /// The requesting client.
    pub(crate) client: &'a ClientRecord,
    /// The redirect URI the answer will go to (already validated).
    pub(crate) redirect_uri: &'a str,
    /// The scopes requested, space-separated.
    pub(crate) scope: &'a str,
    /// Where the form posts (absolute URL of `/consent`).
    pub(crate) action: &'a str,
    /// The transaction's key.
    pub(crate) consent_id: &'a str,
    /// The CSRF token (its hash is in the transaction).
    pub(crate) csrf: &'a str,
}

impl ConsentPage<'_> {
    /// The page as a response (200, no framing, never cached).
    pub(crate) fn render(&self) -> Response {
        let client_id = &self.client.client_id;
        let name = self
            .client
            .client_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(client_id);
        // A DCR name is whatever the registrant typed; a metadata document's id is its URL.
        let provenance = match self.client.source {
            ClientSource::MetadataDocument => {
                "The application is identified by the address of its metadata document."
            }
            _ => {
                "The application chose this name itself when it registered: \
                 continue only if you started this sign-in."
            }
        };
        let scopes: String = self
            .scope
            .split_whitespace()
            .map(|s| {
                format!(
                    "<li><code>{}</code> — {}</li>",
                    escape(s),
                    escape(scope_description(s))
                )
            })
            .collect();
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>Allow {name}?</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em\">\
<h1>Allow <strong>{name}</strong> to use Splunk as you?</h1>\
<p>Application: <strong>{name}</strong><br>Client ID: <code>{client_id}</code><br>\
<small>{provenance}</small></p>\
<p>After you answer, you will be sent back to <strong>{host}</strong>.</p>\
<p>It asks for:</p><ul>{scopes}</ul>\
<p>If you allow it, you will sign in at your identity provider next, and the application \
will act with your Splunk permissions.</p>\
<form method=\"post\" action=\"{action}\">\
<input type=\"hidden\" name=\"consent_id\" value=\"{consent_id}\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button> \
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
</form></body></html>\n",
            name = escape(name),
            client_id = escape(client_id),
            provenance = escape(provenance),
            host = escape(&redirect_host(self.redirect_uri)),
            action = escape(self.action),
            consent_id = escape(self.consent_id),
            csrf = escape(self.csrf),
        );
        page(StatusCode::OK, html)
    }
}

/// A plain-language line for a scope.
fn scope_description(scope: &str) -> &'static str {
    match scope {
        "splunk:read" => "see indexes, saved searches and other Splunk objects you can see",
        "splunk:search" => "run searches in Splunk with your permissions",
        "splunk:admin" => "use administrative Splunk tools your role allows",
        _ => "a permission defined by this server",
    }
}

/// Where the answer goes, as the user would recognise it: the host, marked when it is this
/// computer, or the scheme of an app link.
fn redirect_host(redirect_uri: &str) -> String {
    let Ok(url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    match url.host_str() {
        Some(host @ ("127.0.0.1" | "[::1]" | "localhost")) => {
            format!("{host} (an application on this computer)")
        }
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => format!("{}: (an application on this computer)", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_hosts() {
        assert_eq!(
            redirect_host("https://claude.ai/api/mcp/auth_callback"),
            "claude.ai"
        );
        assert_eq!(
            redirect_host("http://127.0.0.1:33418/"),
            "127.0.0.1 (an application on this computer)"
        );
        assert_eq!(
            redirect_host("cursor://anysphere.cursor-mcp/oauth/callback"),
            "anysphere.cursor-mcp"
        );
        assert_eq!(
            redirect_host("myapp:/cb"),
            "myapp: (an application on this computer)"
        );
    }
}
