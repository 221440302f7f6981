//! One simulated MCP client of the soak, as a real one behaves: it registers (RFC 7591), signs
//! its user in through `/authorize`, the consent page and the IdP's automated login, redeems
//! the code, then in bursts calls `splunk_whoami` over `/mcp`, refreshes (sometimes from two or
//! three processes at once with the same refresh token) and calls again with the new token.
//!
//! What a real client retries, it retries: a request that got no answer or a 5xx is sent again
//! unchanged, a 429 after its `Retry-After`, a sign-in that failed is started over. What a real
//! client cannot get past is a lost session, and that is what the soak counts: a refresh
//! refused (`invalid_grant`), concurrent refreshes on one token answered with different tokens
//! (two chains), or a refresh still failing when the retry budget is spent. Tokens never reach
//! the output: errors show OAuth error codes and descriptions only.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::{Browser, BrowserError, ConsentForm, Pkce, REDIRECT_URI, Visit, query_param};
use futures::future::join_all;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use super::tally::{Answer, Endpoint, Tally};

/// The scopes every client asks for: what `splunk_whoami` needs, and search.
const SCOPE: &str = "splunk:read splunk:search";
/// Where clients are sent back with their code (nothing listens; the browser stops there).
const CLIENT_REDIRECT: &str = REDIRECT_URI;
/// A request without an answer by then is given up as a transport failure. Longer than the
/// server's wait for a concurrent refresh (20 s), so its 503 arrives rather than a timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(25);
/// How long a refresh is retried after no answer or a 5xx: long enough to outlast the claim
/// (30 s) that a replica killed in the middle of a refresh leaves on its token.
const REFRESH_RETRY_BUDGET: Duration = Duration::from_secs(45);
/// How long an MCP call or a registration is retried.
const CALL_RETRY_BUDGET: Duration = Duration::from_secs(20);
/// How long a client keeps trying to sign in (the IdP outage lasts a few seconds).
const SIGN_IN_BUDGET: Duration = Duration::from_secs(60);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Every how many bursts a client signs in again (a new session replacing the old).
const SIGN_IN_AGAIN_EVERY: u64 = 6;

/// The endpoints a client talks to.
pub(super) struct Target {
    /// The balancer's URL: issuer and every endpoint of splunk-mcp.
    pub(super) base: String,
    /// Set when the load is over: no burst starts after it.
    pub(super) stop: AtomicBool,
}

/// A client's current tokens.
#[derive(Clone, PartialEq, Eq)]
struct Session {
    access: String,
    refresh: String,
}

/// Where a sign-in's browser visit stopped without an error.
enum VisitEnd {
    /// Redirected back to the client, with a code or an error.
    Landed(Url),
    /// A 200 page of splunk-mcp (the consent page): its URL and HTML.
    Page(Url, String),
}

/// How a refresh request (with its retries) ended.
enum Refreshed {
    Tokens(Session),
    /// A definite refusal: the session is over.
    Refused(String),
    /// Still no answer, or 5xx, when the budget was spent.
    GaveUp(String),
}

/// How an MCP call (with its retries) ended.
enum Called {
    Done,
    /// The token was refused (401): the caller refreshes, as MCP clients do.
    Unauthorized(String),
    /// A tool error or no success within the budget; counted, the session goes on.
    Failed,
}

pub(super) struct Client<'a> {
    index: usize,
    user: &'static str,
    http: reqwest::Client,
    target: &'a Target,
    tally: &'a Tally,
}

impl<'a> Client<'a> {
    /// Client `index` (0–253), signing in as alice or bob in turn, from its own loopback
    /// address 127.0.1.(index + 1).
    pub(super) fn new(index: usize, target: &'a Target, tally: &'a Tally) -> anyhow::Result<Self> {
        let host = u8::try_from(index + 1)
            .ok()
            .filter(|host| *host < 255)
            .ok_or_else(|| anyhow::anyhow!("at most 254 soak clients"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A new connection per request, so the balancer spreads every request.
            .pool_max_idle_per_host(0)
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, host)))
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self {
            index,
            user: if index.is_multiple_of(2) {
                "alice"
            } else {
                "bob"
            },
            http,
            target,
            tally,
        })
    }

    /// The client's whole life: register, sign in, bursts until the load stops, then one last
    /// refresh and call to show its session is alive.
    pub(super) async fn run(self, start_after: Duration) {
        tokio::time::sleep(start_after).await;
        let Some(client_id) = self.register().await else {
            return;
        };
        let Some(mut session) = self.sign_in(&client_id).await else {
            return;
        };
        let mut burst = 0u64;
        loop {
            tokio::time::sleep(self.pause(burst)).await;
            if self.target.stop.load(Ordering::Relaxed) {
                break;
            }
            burst += 1;
            if burst % SIGN_IN_AGAIN_EVERY == (self.index as u64) % SIGN_IN_AGAIN_EVERY {
                match self.sign_in(&client_id).await {
                    Some(fresh) => session = fresh,
                    None => return,
                }
            }
            let width = self.width(burst);
            session = match self.burst(&client_id, session, width).await {
                Some(next) => next,
                // Lost: a real client signs in again.
                None => match self.sign_in(&client_id).await {
                    Some(fresh) => fresh,
                    None => return,
                },
            };
        }
        if self.burst(&client_id, session, 1).await.is_some() {
            self.tally.checked_alive();
        }
    }

    /// Between bursts: 2 to 4 s, different for every client and burst.
    fn pause(&self, burst: u64) -> Duration {
        Duration::from_millis(2000 + mix(self.index as u64, burst) % 2000)
    }

    /// How many processes of the client refresh at once: one in two bursts a single refresh,
    /// then two or three with the same token.
    fn width(&self, burst: u64) -> usize {
        match mix(burst, self.index as u64) % 10 {
            0..=4 => 1,
            5..=7 => 2,
            _ => 3,
        }
    }

    /// A call, a refresh of `width` concurrent requests, a call with the new token: the new
    /// session, or `None` when the session was lost (counted).
    async fn burst(&self, client_id: &str, session: Session, width: usize) -> Option<Session> {
        let session = match self.call_tool(&session).await {
            Called::Done | Called::Failed => session,
            Called::Unauthorized(why) => {
                return self.after_unauthorized(client_id, &session, why).await;
            }
        };
        let next = self.refresh(client_id, &session, width).await?;
        match self.call_tool(&next).await {
            Called::Done | Called::Failed => Some(next),
            Called::Unauthorized(why) => self.after_unauthorized(client_id, &next, why).await,
        }
    }

    /// What an MCP client does on a 401: refresh and go on. A grant that was alive means the
    /// 401 was wrong; one that was not is a lost session (the refresh counts it).
    async fn after_unauthorized(
        &self,
        client_id: &str,
        session: &Session,
        why: String,
    ) -> Option<Session> {
        let start = self.tally.now();
        let next = self.refresh(client_id, session, 1).await?;
        self.tally.refused_live_token(self.index, start, why);
        Some(next)
    }

    /// Registers a public native client; `None` when registration never succeeded (counted).
    async fn register(&self) -> Option<String> {
        let first = Instant::now();
        let started = self.tally.now();
        let body = json!({
            "client_name": format!("soak client {}", self.index),
            "redirect_uris": [CLIENT_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "scope": SCOPE,
        });
        loop {
            let start = self.tally.now();
            let sent = self
                .http
                .post(format!("{}/register", self.target.base))
                .json(&body)
                .send()
                .await;
            let last = match sent {
                Err(e) => self.transport(Endpoint::Register, start, &e),
                Ok(response) => {
                    let (status, body) = read(response).await;
                    self.record(Endpoint::Register, start, status, &body);
                    if status == StatusCode::CREATED
                        && let Some(id) = body["client_id"].as_str()
                    {
                        return Some(id.to_owned());
                    }
                    if !retryable(status) {
                        self.tally.sign_in_failed(
                            self.index,
                            started,
                            format!("registration refused: {}", oauth_error(status, &body)),
                        );
                        return None;
                    }
                    oauth_error(status, &body)
                }
            };
            if first.elapsed() > CALL_RETRY_BUDGET {
                self.tally.sign_in_failed(
                    self.index,
                    started,
                    format!("registration gave up: {last}"),
                );
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Signs the user in, starting over after each failure (counted) until it works or the
    /// budget is spent.
    async fn sign_in(&self, client_id: &str) -> Option<Session> {
        let first = Instant::now();
        loop {
            let start = self.tally.now();
            match self.sign_in_once(client_id).await {
                Ok(session) => {
                    self.tally.signed_in();
                    return Some(session);
                }
                Err(why) => self.tally.sign_in_failed(self.index, start, why),
            }
            if first.elapsed() > SIGN_IN_BUDGET {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// One sign-in: `/authorize`, the consent form approved, the IdP's login, the callback,
    /// and the code redeemed at `/token`.
    async fn sign_in_once(&self, client_id: &str) -> Result<Session, String> {
        let base = &self.target.base;
        let pkce = Pkce::new();
        let state = Pkce::new().verifier;
        let resource = format!("{base}/mcp");
        let authorize = Url::parse_with_params(
            &format!("{base}/authorize"),
            [
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", CLIENT_REDIRECT),
                ("scope", SCOPE),
                ("state", &state),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("resource", &resource),
                ("login_hint", self.user),
            ],
        )
        .map_err(|e| format!("authorization URL: {e}"))?;
        let mut browser = Browser::new(&self.http);
        let start = self.tally.now();
        let visit = browser.try_visit(authorize, CLIENT_REDIRECT).await;
        let landing = match self.visit_ended(start, visit)? {
            VisitEnd::Landed(landing) => landing,
            VisitEnd::Page(url, body) => {
                let form = ConsentForm::parse(&url, &body)
                    .ok_or_else(|| "/authorize showed no consent form".to_owned())?;
                let fields = form.with_decision("approve");
                let fields: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let start = self.tally.now();
                let visit = browser
                    .try_post_form(form.action.clone(), &fields, CLIENT_REDIRECT)
                    .await;
                match self.visit_ended(start, visit)? {
                    VisitEnd::Landed(landing) => landing,
                    VisitEnd::Page(url, _) => {
                        return Err(format!("the sign-in stopped at {}", path_of(&url)));
                    }
                }
            }
        };
        if query_param(&landing, "state").as_deref() != Some(state.as_str()) {
            return Err("the client's state did not come back".to_owned());
        }
        let Some(code) = query_param(&landing, "code") else {
            return Err(format!(
                "no code: error={:?} ({:?})",
                query_param(&landing, "error"),
                query_param(&landing, "error_description")
            ));
        };
        let start = self.tally.now();
        let sent = self
            .http
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CLIENT_REDIRECT),
                ("code_verifier", pkce.verifier.as_str()),
                ("client_id", client_id),
                ("resource", resource.as_str()),
            ])
            .send()
            .await;
        let (status, body) = match sent {
            Err(e) => {
                return Err(format!(
                    "code redemption: {}",
                    self.transport(Endpoint::Code, start, &e)
                ));
            }
            Ok(response) => read(response).await,
        };
        self.record(Endpoint::Code, start, status, &body);
        session_from(status, &body)
            .ok_or_else(|| format!("code redemption: {}", oauth_error(status, &body)))
    }

    /// Where a browser visit ended: back at the client, or on a 200 page of splunk-mcp (the
    /// consent page); anything else is an error, and splunk-mcp's own 5xx and lost
    /// connections are recorded as its requests.
    fn visit_ended(
        &self,
        start: Duration,
        visit: Result<Visit, BrowserError>,
    ) -> Result<VisitEnd, String> {
        let ours = |url: &str| url.starts_with(&self.target.base);
        match visit {
            Ok(Visit::Redirected(landing)) => Ok(VisitEnd::Landed(landing)),
            Ok(Visit::Page { url, status, body })
                if status == StatusCode::OK && ours(url.as_str()) =>
            {
                Ok(VisitEnd::Page(url, body))
            }
            Ok(Visit::Page { url, status, body }) => {
                if ours(url.as_str()) {
                    let said = shorten(&body);
                    self.tally.request(
                        self.index,
                        Endpoint::SignIn,
                        start,
                        Answer::Status(status.as_u16(), said),
                    );
                }
                Err(format!(
                    "{} answered {status}: {}",
                    path_of(&url),
                    shorten(&body)
                ))
            }
            Err(BrowserError::Request { at, source }) => {
                let why = describe(&source);
                if ours(&at) {
                    self.tally.request(
                        self.index,
                        Endpoint::SignIn,
                        start,
                        Answer::Transport(why.clone()),
                    );
                }
                Err(format!("{at}: {why}"))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// `width` refreshes at once with the session's refresh token, each retried on its own:
    /// the one new session they all got, or `None` (counted as lost).
    async fn refresh(&self, client_id: &str, session: &Session, width: usize) -> Option<Session> {
        let start = self.tally.now();
        let answers =
            join_all((0..width).map(|_| self.refresh_once(client_id, &session.refresh))).await;
        let mut tokens: Vec<Session> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        for answer in answers {
            match answer {
                Refreshed::Tokens(session) => tokens.push(session),
                Refreshed::Refused(why) => failures.push(format!("refused: {why}")),
                Refreshed::GaveUp(why) => failures.push(format!(
                    "still failing after {} s: {why}",
                    REFRESH_RETRY_BUDGET.as_secs()
                )),
            }
        }
        if !failures.is_empty() {
            // Every answer is kept: a concurrent refresh may be refused for what another did.
            let why = if width == 1 {
                format!("refresh {}", failures.join("; "))
            } else {
                format!(
                    "{} of {width} concurrent refreshes with one token got tokens; the others \
                     were {}",
                    tokens.len(),
                    failures.join("; ")
                )
            };
            self.tally.lost(self.index, start, why);
            return None;
        }
        let first = tokens.first()?.clone();
        if tokens.iter().any(|other| *other != first) {
            self.tally.lost(
                self.index,
                start,
                format!("{width} concurrent refreshes with one token got different tokens"),
            );
            return None;
        }
        self.tally.refreshed(width);
        Some(first)
    }

    /// One refresh request, sent again after no answer, a 5xx or a 429.
    async fn refresh_once(&self, client_id: &str, refresh_token: &str) -> Refreshed {
        let first = Instant::now();
        let mut backoff = Duration::from_millis(250);
        loop {
            let start = self.tally.now();
            let sent = self
                .http
                .post(format!("{}/token", self.target.base))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token),
                    ("client_id", client_id),
                ])
                .send()
                .await;
            let last = match sent {
                Err(e) => self.transport(Endpoint::Refresh, start, &e),
                Ok(response) => {
                    let retry_after = retry_after(&response);
                    let (status, body) = read(response).await;
                    self.record(Endpoint::Refresh, start, status, &body);
                    if let Some(session) = session_from(status, &body) {
                        return Refreshed::Tokens(session);
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        tokio::time::sleep(retry_after).await;
                        continue;
                    }
                    if !retryable(status) {
                        return Refreshed::Refused(oauth_error(status, &body));
                    }
                    oauth_error(status, &body)
                }
            };
            if first.elapsed() > REFRESH_RETRY_BUDGET {
                return Refreshed::GaveUp(last);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// `tools/call splunk_whoami` over plain HTTP with the bearer, sent again after no answer,
    /// a 5xx or a 429. Done when the tool answered and named the user.
    async fn call_tool(&self, session: &Session) -> Called {
        let first = Instant::now();
        let started = self.tally.now();
        let message = json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "splunk_whoami", "arguments": {}},
        });
        loop {
            let start = self.tally.now();
            let sent = self
                .http
                .post(format!("{}/mcp", self.target.base))
                .bearer_auth(&session.access)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .json(&message)
                .send()
                .await;
            let last = match sent {
                Err(e) => self.transport(Endpoint::Mcp, start, &e),
                Ok(response) => {
                    let retry_after = retry_after(&response);
                    let challenge = response
                        .headers()
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    let said = if status.is_success() {
                        String::new()
                    } else {
                        shorten(&text)
                    };
                    self.tally.request(
                        self.index,
                        Endpoint::Mcp,
                        start,
                        Answer::Status(status.as_u16(), said.clone()),
                    );
                    match status {
                        StatusCode::OK => return self.tool_answer(started, &text),
                        StatusCode::UNAUTHORIZED => {
                            return Called::Unauthorized(
                                challenge_error(challenge.as_deref()).unwrap_or(said),
                            );
                        }
                        StatusCode::TOO_MANY_REQUESTS => {
                            tokio::time::sleep(retry_after).await;
                            continue;
                        }
                        status if retryable(status) => format!("HTTP {status}: {said}"),
                        status => {
                            self.tally.tool_error(
                                self.index,
                                started,
                                format!("/mcp answered {status}: {said}"),
                            );
                            return Called::Failed;
                        }
                    }
                }
            };
            if first.elapsed() > CALL_RETRY_BUDGET {
                self.tally.tool_error(
                    self.index,
                    started,
                    format!("/mcp still failing after {CALL_RETRY_BUDGET:?}: {last}"),
                );
                return Called::Failed;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Judges a 200 from `/mcp`: a JSON-RPC result, not a tool error, naming the user.
    fn tool_answer(&self, started: Duration, text: &str) -> Called {
        // Stateless replicas answer JSON; one SSE event would carry the same.
        let json = text
            .lines()
            .find_map(|line| line.strip_prefix("data:"))
            .unwrap_or(text);
        let answer: Value = serde_json::from_str(json.trim()).unwrap_or(Value::Null);
        let result = &answer["result"];
        if result.is_object() && result["isError"] != json!(true) && text.contains(self.user) {
            self.tally.mcp_call();
            return Called::Done;
        }
        self.tally.tool_error(
            self.index,
            started,
            format!(
                "splunk_whoami did not name {}: {}",
                self.user,
                shorten(text)
            ),
        );
        Called::Failed
    }

    /// Records a request that got no answer; returns why.
    fn transport(&self, endpoint: Endpoint, start: Duration, error: &reqwest::Error) -> String {
        let why = describe(error);
        self.tally
            .request(self.index, endpoint, start, Answer::Transport(why.clone()));
        why
    }

    /// Records an answered request, with the OAuth error of a failed one.
    fn record(&self, endpoint: Endpoint, start: Duration, status: StatusCode, body: &Value) {
        let said = if status.is_success() {
            String::new()
        } else {
            oauth_error(status, body)
        };
        self.tally.request(
            self.index,
            endpoint,
            start,
            Answer::Status(status.as_u16(), said),
        );
    }
}

/// Whether a client sends a request again after this status: server errors (502, 503, 504
/// and 500 alike; each is counted) and rate limiting.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// The status and JSON body of an answer (`Null` when it is not JSON).
async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(shorten(&text)));
    (status, body)
}

/// The tokens of a successful token response.
fn session_from(status: StatusCode, body: &Value) -> Option<Session> {
    if status != StatusCode::OK {
        return None;
    }
    Some(Session {
        access: body["access_token"].as_str()?.to_owned(),
        refresh: body["refresh_token"].as_str()?.to_owned(),
    })
}

/// `HTTP 400 invalid_grant: description` (or the start of a body that is not OAuth JSON).
fn oauth_error(status: StatusCode, body: &Value) -> String {
    match (body["error"].as_str(), body["error_description"].as_str()) {
        (Some(error), Some(description)) => {
            format!("HTTP {} {error}: {description}", status.as_u16())
        }
        (Some(error), None) => format!("HTTP {} {error}", status.as_u16()),
        _ => match body {
            Value::String(text) => format!("HTTP {} {text}", status.as_u16()),
            _ => format!("HTTP {}", status.as_u16()),
        },
    }
}

/// The `error="..."` of an RFC 6750 challenge.
fn challenge_error(challenge: Option<&str>) -> Option<String> {
    let challenge = challenge?;
    let start = challenge.find("error=\"")? + "error=\"".len();
    let end = challenge[start..].find('"')? + start;
    Some(format!("WWW-Authenticate error={}", &challenge[start..end]))
}

/// A 429's `Retry-After` in seconds, at most [`MAX_RETRY_AFTER`]; one second when absent.
fn retry_after(response: &reqwest::Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs)
        .min(MAX_RETRY_AFTER)
}

/// Why a request got no answer, without its URL.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection lost"
    };
    let mut innermost: &dyn std::error::Error = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    format!("{kind}: {innermost}")
}

/// Scheme, host, port and path of a URL: its query may carry a code.
fn path_of(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

/// The first 160 characters of a body, on one line.
fn shorten(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(160)
        .collect()
}

/// A well-spread number from two (splitmix64), so pauses and burst widths differ from client
/// to client and burst to burst without a random-number crate, and every run is the same.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_errors_read_without_tokens() {
        let cases = [
            (
                json!({"error": "invalid_grant", "error_description": "the refresh token was revoked"}),
                "HTTP 400 invalid_grant: the refresh token was revoked",
            ),
            (json!({"error": "invalid_grant"}), "HTTP 400 invalid_grant"),
            (json!("Bad Request"), "HTTP 400 Bad Request"),
            (json!({"access_token": "secret"}), "HTTP 400"),
        ];
        for (body, expected) in cases {
            assert_eq!(oauth_error(StatusCode::BAD_REQUEST, &body), expected);
        }
        assert_eq!(
            challenge_error(Some(
                "Bearer resource_metadata=\"http://x\", error=\"invalid_token\", error_description=\"expired\""
            ))
            .as_deref(),
            Some("WWW-Authenticate error=invalid_token")
        );
        assert_eq!(challenge_error(Some("Bearer realm=\"mcp\"")), None);
    }

    #[test]
    fn burst_widths_mix_single_and_concurrent_refreshes() {
        // `main` installs it for the real run.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let target = Target {
            base: "http://127.0.0.1:9".to_owned(),
            stop: AtomicBool::new(false),
        };
        let tally = Tally::new();
        let mut widths = [0usize; 4];
        for index in 0..60 {
            let client = Client::new(index, &target, &tally).unwrap();
            for burst in 1..=15 {
                widths[client.width(burst)] += 1;
                let pause = client.pause(burst);
                assert!(pause >= Duration::from_secs(2) && pause < Duration::from_secs(4));
            }
        }
        assert_eq!(widths[0], 0);
        for width in 1..=3 {
            assert!(widths[width] > 100, "{widths:?}");
        }
    }
}
