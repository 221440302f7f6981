//! Who the client of a request is, decided once for the whole router by [`resolve`]: the TCP
//! peer, unless the peer is a trusted proxy (`MCP_TRUSTED_PROXIES`), in which case the
//! forwarding headers say who sent the request to it. The answer goes into the request
//! extensions as an [`oidc_proxy::ClientAddr`] (proxy mode's rate limits count by it) and into
//! a `request` span with a `client_addr` field, so every log line of the request names it.
//!
//! Forwarding headers are lists each proxy appends its peer to, so only their right end, the
//! part written by proxies we trust, is worth believing: the chain is walked from the right,
//! over trusted proxies, to the first address that is not one. Both `X-Forwarded-For` and RFC
//! 7239 `Forwarded` (`for=`) are read; a proxy that sets one passes the other on as the client
//! sent it, so when both are present and disagree neither is believed (one of them is forged,
//! and nothing here tells which) and the peer is the client address: a forger then shares its
//! proxy's allowance instead of choosing its own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;
use ipnet::IpNet;
use oidc_proxy::ClientAddr;
use tracing::Instrument as _;

/// The proxies whose forwarding headers are believed: CIDR ranges. Empty believes none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts peers in `ranges`.
    pub fn new(ranges: impl IntoIterator<Item = IpNet>) -> Self {
        Self(ranges.into_iter().collect())
    }

    /// Whether `ip` is in one of the ranges.
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(&ip))
    }

    /// The client address of a request that came from `peer` with `headers`.
    pub fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A dual-stack listener shows IPv4 peers as IPv4-mapped IPv6 addresses.
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let forwarded = header_list(headers, "forwarded").map(|list| forwarded_hops(&list));
        let x_forwarded_for =
            header_list(headers, "x-forwarded-for").map(|list| x_forwarded_for_hops(&list));
        let from_forwarded = forwarded.map(|hops| self.walk(peer, &hops));
        let from_x_forwarded_for = x_forwarded_for.map(|hops| self.walk(peer, &hops));
        match (from_forwarded, from_x_forwarded_for) {
            (None, None) => peer,
            (Some(client), None) | (None, Some(client)) => client,
            (Some(a), Some(b)) if a == b => a,
            (Some(a), Some(b)) => {
                tracing::debug!(
                    peer = %peer,
                    forwarded = %a,
                    x_forwarded_for = %b,
                    "Forwarded and X-Forwarded-For disagree; the client address is the peer's"
                );
                peer
            }
        }
    }

    /// The client of a forwarding chain (nearest hop last) received from the trusted `peer`:
    /// the rightmost hop that is not a trusted proxy. A hop a trusted proxy could not name
    /// (`unknown`, an obfuscated name, garbage) ends the walk at the nearest address known;
    /// a chain of trusted proxies only ends at its leftmost.
    fn walk(&self, peer: IpAddr, hops: &[Option<IpAddr>]) -> IpAddr {
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            match *hop {
                Some(ip) if self.contains(ip) => nearest = ip,
                Some(ip) => return ip,
                None => return nearest,
            }
        }
        nearest
    }
}

/// The values of every `name` header, joined with commas as RFC 9110 §5.3 allows; `None`
/// without one. A value that is not visible ASCII becomes an unreadable hop.
fn header_list(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap_or("unknown"))
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// `X-Forwarded-For: client, proxy1, proxy2`: addresses, some proxies add a port.
fn x_forwarded_for_hops(list: &str) -> Vec<Option<IpAddr>> {
    list.split(',').map(node_address).collect()
}

/// RFC 7239 `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"`: each element's
/// `for` node (an element without one is an unknown hop).
fn forwarded_hops(list: &str) -> Vec<Option<IpAddr>> {
    split_outside_quotes(list, ',')
        .into_iter()
        .map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| node_address(&unquote(value.trim())))
        })
        .collect()
}

/// `text` split at `separator`s that are not inside a quoted string (where `\` escapes).
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A quoted string's content (RFC 9110 §5.6.4), or a token as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// The address of a node: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`; `None` for `unknown`, obfuscated names (`_hidden`) and anything else.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let ip = node
        .parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            node.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

/// The middleware: puts the [`ClientAddr`] of each request into its extensions and runs the
/// rest in a `request` span naming it. Needs `ConnectInfo<SocketAddr>` (see
/// [`super::serve`]); without it the request passes untouched.
pub(super) async fn resolve(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        return next.run(request).await;
    };
    let client = ClientAddr(trusted.client_addr(peer.ip(), request.headers()));
    request.extensions_mut().insert(client);
    let span = tracing::info_span!("request", client_addr = %client);
    next.run(request).instrument(span).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::routing::get;
    use http::HeaderValue;

    use super::*;

    fn trusted(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse::<IpNet>().expect("a range")))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    #[test]
    fn only_trusted_peers_are_believed_and_only_the_right_end_of_their_chains() {
        let lb = &["10.0.0.0/8", "127.0.0.1/32", "::1/128"];
        // (trusted ranges, peer, headers, client address, why)
        type Case<'a> = (
            &'a [&'a str],
            &'a str,
            &'a [(&'static str, &'a str)],
            &'a str,
            &'a str,
        );
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            (&[], "198.51.100.7", &[], "198.51.100.7", "no proxies trusted, no header"),
            (&[], "198.51.100.7", &[("x-forwarded-for", "1.2.3.4")], "198.51.100.7", "no proxies trusted: headers ignored"),
            (lb, "198.51.100.7", &[("x-forwarded-for", "1.2.3.4")], "198.51.100.7", "an untrusted peer's spoofed header is ignored"),
            (lb, "198.51.100.7", &[("forwarded", "for=1.2.3.4")], "198.51.100.7", "an untrusted peer's spoofed Forwarded is ignored"),
            (lb, "10.0.0.5", &[], "10.0.0.5", "a trusted peer without a header is the client"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "203.0.113.9")], "203.0.113.9", "a trusted peer's header names the client"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "1.2.3.4, 203.0.113.9")], "203.0.113.9", "the client's own (spoofed) entries are left of the proxy's"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1, 10.2.2.2")], "203.0.113.9", "trusted hops are walked over"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")], "10.9.9.9", "all trusted: the leftmost"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.9")], "203.0.113.9", "repeated headers are one list"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "203.0.113.9:51234")], "203.0.113.9", "an IPv4 address with a port"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "2001:db8::7")], "2001:db8::7", "a bare IPv6 address"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "[2001:db8::7]:443")], "2001:db8::7", "a bracketed IPv6 address with a port"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "::ffff:203.0.113.9")], "203.0.113.9", "an IPv4-mapped address is IPv4"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "1.2.3.4, garbage, 10.1.1.1")], "10.1.1.1", "an unreadable hop stops at the nearest known proxy"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "1.2.3.4, garbage")], "10.0.0.5", "an unreadable last hop: the peer"),
            (lb, "10.0.0.5", &[("x-forwarded-for", "")], "10.0.0.5", "an empty header: the peer"),
            (lb, "10.0.0.5", &[("forwarded", "for=203.0.113.9")], "203.0.113.9", "Forwarded, a token"),
            (lb, "10.0.0.5", &[("forwarded", "For=\"203.0.113.9:4711\";proto=https;by=10.0.0.5")], "203.0.113.9", "Forwarded, quoted with a port and other parameters"),
            (lb, "10.0.0.5", &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\"")], "2001:db8:cafe::17", "Forwarded, quoted IPv6 with a port"),
            (lb, "10.0.0.5", &[("forwarded", "for=\"[2001:db8:cafe::17]\"")], "2001:db8:cafe::17", "Forwarded, quoted IPv6"),
            (lb, "10.0.0.5", &[("forwarded", "for=1.2.3.4, for=203.0.113.9;proto=http, for=10.1.1.1")], "203.0.113.9", "Forwarded, several elements"),
            (lb, "10.0.0.5", &[("forwarded", "for=\"a,b\";by=x, for=203.0.113.9")], "203.0.113.9", "Forwarded, a comma inside quotes"),
            (lb, "10.0.0.5", &[("forwarded", "for=1.2.3.4, for=unknown")], "10.0.0.5", "Forwarded, an unknown client: the peer"),
            (lb, "10.0.0.5", &[("forwarded", "for=1.2.3.4, for=_hidden, for=10.1.1.1")], "10.1.1.1", "Forwarded, an obfuscated hop stops at the nearest known proxy"),
            (lb, "10.0.0.5", &[("forwarded", "proto=https")], "10.0.0.5", "Forwarded without for: the peer"),
            (lb, "10.0.0.5", &[("forwarded", "for=203.0.113.9"), ("x-forwarded-for", "203.0.113.9")], "203.0.113.9", "both headers agreeing"),
            (lb, "10.0.0.5", &[("forwarded", "for=1.2.3.4"), ("x-forwarded-for", "203.0.113.9")], "10.0.0.5", "both headers disagreeing: neither is believed"),
            (lb, "::ffff:10.0.0.5", &[("x-forwarded-for", "203.0.113.9")], "203.0.113.9", "an IPv4-mapped peer is trusted as IPv4"),
            (lb, "::1", &[("x-forwarded-for", "2001:db8::1, ::1")], "2001:db8::1", "a trusted IPv6 peer"),
            (&["127.0.0.1/32"], "127.0.0.2", &[("x-forwarded-for", "203.0.113.9")], "127.0.0.2", "a /32 trusts one address only"),
        ];
        for (ranges, peer, pairs, expected, why) in cases {
            let got = trusted(ranges).client_addr(peer.parse().expect("a peer"), &headers(pairs));
            assert_eq!(
                got,
                expected.parse::<IpAddr>().expect("an address"),
                "{why}"
            );
        }
    }

    #[test]
    fn quoted_strings_are_unescaped_and_split_only_outside_quotes() {
        assert_eq!(unquote(r#""[::1]:80""#), "[::1]:80");
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(unquote("token"), "token");
        assert_eq!(
            split_outside_quotes(r#"a="x,\",y",b"#, ','),
            [r#"a="x,\",y""#, "b"]
        );
    }

    /// The middleware in a router served over real HTTP: the handler sees the client address
    /// the middleware decided.
    #[tokio::test]
    async fn the_middleware_puts_the_client_address_into_the_request() {
        async fn echo(client: Option<ClientAddr>) -> String {
            client.map_or_else(|| "none".to_owned(), |c| c.to_string())
        }
        let mut bases = Vec::new();
        for ranges in [&["127.0.0.1/32"][..], &[][..]] {
            let app =
                Router::new()
                    .route("/", get(echo))
                    .layer(axum::middleware::from_fn_with_state(
                        Arc::new(trusted(ranges)),
                        resolve,
                    ));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            bases.push(format!(
                "http://{}",
                listener.local_addr().expect("address")
            ));
            tokio::spawn(super::super::serve(listener, app, std::future::pending()));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let ask = |base: &str, forwarded_for: Option<&str>| {
            let mut request = http.get(format!("{base}/"));
            if let Some(value) = forwarded_for {
                request = request.header("x-forwarded-for", value);
            }
            async move {
                request
                    .send()
                    .await
                    .expect("request")
                    .text()
                    .await
                    .expect("body")
            }
        };
        let (trusting, untrusting) = (&bases[0], &bases[1]);
        assert_eq!(ask(trusting, Some("198.51.100.1")).await, "198.51.100.1");
        assert_eq!(ask(trusting, None).await, "127.0.0.1");
        assert_eq!(ask(untrusting, Some("198.51.100.1")).await, "127.0.0.1");
    }
}
