//! What the soak saw: every request to splunk-mcp with its time span and answer, every sign-in,
//! refresh and lost session, and the windows in which faults were injected; then the figures
//! and the verdict. Events are classified only at the end, against all the windows.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How splunk-mcp words a refresh refused as reuse of a rotated-out token (RFC 9700 §4.14.2).
const REUSE_VERDICT: &str = "already used";

/// The faults the soak injects, one after the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// A replica killed with SIGKILL, until its successor serves.
    ReplicaKilled,
    /// Redis frozen with SIGSTOP, until SIGCONT.
    RedisPaused,
    /// The IdP stopped, until it is started again on its port.
    IdpStopped,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::ReplicaKilled => "replica killed",
            Self::RedisPaused => "Redis paused",
            Self::IdpStopped => "IdP stopped",
        }
    }
}

/// When a fault was in force, in time since the soak started.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Window {
    pub(super) fault: Fault,
    pub(super) start: Duration,
    pub(super) end: Duration,
}

/// A span of time since the soak started: a request, a sign-in, a refresh with its retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: Duration,
    pub(super) end: Duration,
}

impl Span {
    /// The first window this span overlaps, if any: a request that was under way at any moment
    /// of a fault counts as the fault's.
    fn fault_in(self, windows: &[Window]) -> Option<Fault> {
        windows
            .iter()
            .find(|w| self.start <= w.end && w.start <= self.end)
            .map(|w| w.fault)
    }
}

/// Which endpoint of splunk-mcp a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Register,
    /// The browser part of a sign-in: `/authorize`, the consent, the IdP, `/auth/callback`.
    SignIn,
    /// `/token` with an authorization code.
    Code,
    /// `/token` with a refresh token.
    Refresh,
    Mcp,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Self::Register => "/register",
            Self::SignIn => "sign-in",
            Self::Code => "/token (code)",
            Self::Refresh => "/token (refresh)",
            Self::Mcp => "/mcp",
        }
    }
}

/// How a request to splunk-mcp ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// An HTTP status, with what the body said when it was an error (an OAuth `error` and
    /// description, or the start of the text; never a token).
    Status(u16, String),
    /// No HTTP answer: refused, reset, or timed out.
    Transport(String),
}

/// One request to splunk-mcp.
#[derive(Clone, Debug)]
struct Request {
    client: usize,
    endpoint: Endpoint,
    span: Span,
    answer: Answer,
}

/// Something a client could not do, with why; classified by its span at the end.
#[derive(Clone, Debug)]
struct Failure {
    client: usize,
    span: Span,
    why: String,
}

#[derive(Default)]
struct Events {
    requests: Vec<Request>,
    windows: Vec<Window>,
    sign_ins: u64,
    sign_in_failures: Vec<Failure>,
    /// Refresh bursts by how many requests presented the same token at once (1, 2, 3).
    bursts: [u64; 3],
    /// Successful refreshes (a burst of three on one token is one).
    refreshes: u64,
    refresh_latencies: Vec<Duration>,
    mcp_calls: u64,
    tool_errors: Vec<Failure>,
    lost: Vec<Failure>,
    /// 401s at `/mcp` for the access token of a grant that a refresh then showed alive.
    refused_live: Vec<Failure>,
    /// Sessions checked alive after the load stopped.
    final_checks: u64,
}

/// The soak's record, shared by every client and the fault injector.
pub(super) struct Tally {
    started: Instant,
    /// `started` as Unix time (seconds, with milliseconds), for the request log.
    epoch: String,
    events: Mutex<Events>,
}

impl Tally {
    pub(super) fn new() -> Self {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            started: Instant::now(),
            epoch: format!("{:.3}", epoch.as_secs_f64()),
            events: Mutex::new(Events::default()),
        }
    }

    /// Time since the soak started.
    pub(super) fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn events(&self) -> std::sync::MutexGuard<'_, Events> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn request(
        &self,
        client: usize,
        endpoint: Endpoint,
        start: Duration,
        answer: Answer,
    ) {
        let span = Span {
            start,
            end: self.now(),
        };
        let mut events = self.events();
        if endpoint == Endpoint::Refresh && matches!(answer, Answer::Status(200, _)) {
            events.refresh_latencies.push(span.end - span.start);
        }
        events.requests.push(Request {
            client,
            endpoint,
            span,
            answer,
        });
    }

    pub(super) fn window(&self, window: Window) {
        self.events().windows.push(window);
    }

    pub(super) fn signed_in(&self) {
        self.events().sign_ins += 1;
    }

    pub(super) fn sign_in_failed(&self, client: usize, start: Duration, why: String) {
        let span = Span {
            start,
            end: self.now(),
        };
        self.events()
            .sign_in_failures
            .push(Failure { client, span, why });
    }

    /// A refresh burst of `width` requests on one token that ended in one new token pair.
    pub(super) fn refreshed(&self, width: usize) {
        let mut events = self.events();
        events.refreshes += 1;
        events.bursts[width.clamp(1, 3) - 1] += 1;
    }

    pub(super) fn mcp_call(&self) {
        self.events().mcp_calls += 1;
    }

    pub(super) fn tool_error(&self, client: usize, start: Duration, why: String) {
        let span = Span {
            start,
            end: self.now(),
        };
        self.events()
            .tool_errors
            .push(Failure { client, span, why });
    }

    /// A session that can no longer be used: refused, two token chains, or given up on.
    pub(super) fn lost(&self, client: usize, start: Duration, why: String) {
        let span = Span {
            start,
            end: self.now(),
        };
        self.events().lost.push(Failure { client, span, why });
    }

    /// `/mcp` answered 401 for a session whose refresh token then still worked: a client
    /// that refreshes on 401 goes on, but the 401 was wrong.
    pub(super) fn refused_live_token(&self, client: usize, start: Duration, why: String) {
        let span = Span {
            start,
            end: self.now(),
        };
        self.events()
            .refused_live
            .push(Failure { client, span, why });
    }

    pub(super) fn checked_alive(&self) {
        self.events().final_checks += 1;
    }

    /// Every request, sign-in failure and lost session, one line each in time order, for
    /// reading a failure against the replicas' logs (whose timestamps are wall-clock: the
    /// first line says when the soak's clock started).
    pub(super) fn write_log(&self, path: &std::path::Path) -> std::io::Result<()> {
        let events = self.events();
        let mut lines: Vec<(Duration, String)> = Vec::new();
        for r in &events.requests {
            lines.push((
                r.span.start,
                format!(
                    "{} client {:>2} {} {}",
                    precise_span(r.span),
                    r.client,
                    r.endpoint.name(),
                    answer_text(&r.answer)
                ),
            ));
        }
        for (what, failures) in [
            ("sign-in failed", &events.sign_in_failures),
            ("LOST", &events.lost),
            ("tool error", &events.tool_errors),
            ("401 for a live session", &events.refused_live),
        ] {
            for f in failures {
                lines.push((
                    f.span.start,
                    format!(
                        "{} client {:>2} {what}: {}",
                        precise_span(f.span),
                        f.client,
                        f.why
                    ),
                ));
            }
        }
        for w in &events.windows {
            lines.push((
                w.start,
                format!(
                    "{} FAULT {}",
                    precise_span(Span {
                        start: w.start,
                        end: w.end
                    }),
                    w.fault.name()
                ),
            ));
        }
        lines.sort_by_key(|(start, _)| *start);
        let mut text = format!(
            "soak clock started at {} s after the Unix epoch\n",
            self.epoch
        );
        for (_, line) in lines {
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(path, text)
    }

    /// A line of running figures for the progress output.
    pub(super) fn progress(&self) -> String {
        let events = self.events();
        format!(
            "{} sign-ins, {} refreshes, {} MCP calls, {} sessions lost",
            events.sign_ins,
            events.refreshes,
            events.mcp_calls,
            events.lost.len()
        )
    }

    /// The figures and the verdict.
    pub(super) fn report(&self, clients: usize) -> Report {
        let events = self.events();
        let windows = events.windows.clone();
        let in_window = |span: Span| span.fault_in(&windows);
        let mut report = Report {
            clients,
            windows: windows.clone(),
            sign_ins: events.sign_ins,
            bursts: events.bursts,
            refreshes: events.refreshes,
            mcp_calls: events.mcp_calls,
            final_checks: events.final_checks,
            ..Report::default()
        };
        let mut latencies = events.refresh_latencies.clone();
        latencies.sort();
        report.refresh_requests = latencies.len();
        report.p50 = percentile(&latencies, 50);
        report.p99 = percentile(&latencies, 99);
        report.max = latencies.last().copied().unwrap_or_default();

        for request in &events.requests {
            let failed = match &request.answer {
                Answer::Status(status, _) => *status >= 500,
                Answer::Transport(_) => true,
            };
            if !failed {
                continue;
            }
            match in_window(request.span) {
                Some(fault) => report.count_in(fault, &request.answer),
                None => {
                    report.failed_outside += 1;
                    report.violations.push(format!(
                        "{} at {}: {} outside every fault window",
                        request.endpoint.name(),
                        span_text(request.span),
                        answer_text(&request.answer)
                    ));
                }
            }
        }
        for failure in &events.sign_in_failures {
            match in_window(failure.span) {
                Some(fault) => *report.sign_in_failures_in(fault) += 1,
                None => report.violations.push(format!(
                    "client {} could not sign in at {}: {}",
                    failure.client,
                    span_text(failure.span),
                    failure.why
                )),
            }
        }
        for failure in &events.tool_errors {
            match in_window(failure.span) {
                Some(_) => report.tool_errors_in_windows += 1,
                None => report.violations.push(format!(
                    "client {}: a tool error at {}: {}",
                    failure.client,
                    span_text(failure.span),
                    failure.why
                )),
            }
        }
        for failure in &events.refused_live {
            match in_window(failure.span) {
                Some(_) => report.refused_live_in_windows += 1,
                None => report.violations.push(format!(
                    "client {}: /mcp refused a live session's token at {}: {}",
                    failure.client,
                    span_text(failure.span),
                    failure.why
                )),
            }
        }
        for loss in &events.lost {
            // A soak client only ever presents its newest refresh token, so being told it
            // reused one is the server's fault whenever it happens, IdP outage or not.
            let reuse = loss.why.contains(REUSE_VERDICT);
            match in_window(loss.span) {
                Some(Fault::IdpStopped) if !reuse => {
                    report.lost_in_idp_outage += 1;
                    report.tolerated.push(format!(
                        "client {} lost its session at {} (IdP stopped): {}",
                        loss.client,
                        span_text(loss.span),
                        loss.why
                    ));
                }
                fault => {
                    report.lost_elsewhere += 1;
                    let during = fault.map_or(String::new(), |f| format!(" ({})", f.name()));
                    report.violations.push(format!(
                        "client {} lost its session at {}{during}: {}",
                        loss.client,
                        span_text(loss.span),
                        loss.why
                    ));
                }
            }
        }
        report.check_coverage();
        report
    }
}

/// The nearest-rank percentile `p` of sorted `values`.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `12.345–12.501 s`, for the request log.
fn precise_span(span: Span) -> String {
    format!(
        "{:.3}–{:.3} s",
        span.start.as_secs_f64(),
        span.end.as_secs_f64()
    )
}

/// `12.3–12.5 s`, for the report.
fn span_text(span: Span) -> String {
    format!(
        "{:.1}–{:.1} s",
        span.start.as_secs_f64(),
        span.end.as_secs_f64()
    )
}

fn answer_text(answer: &Answer) -> String {
    match answer {
        Answer::Status(status, said) if said.is_empty() => format!("HTTP {status}"),
        Answer::Status(status, said) => format!("HTTP {status} ({said})"),
        Answer::Transport(why) => format!("no answer ({why})"),
    }
}

/// Failed requests (5xx, or no answer) during one fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WindowErrors {
    pub(super) server_errors: u64,
    pub(super) transport: u64,
    pub(super) sign_ins_failed: u64,
}

/// The soak's figures and what broke its invariants.
#[derive(Debug, Default)]
pub(super) struct Report {
    clients: usize,
    windows: Vec<Window>,
    sign_ins: u64,
    bursts: [u64; 3],
    refreshes: u64,
    refresh_requests: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    mcp_calls: u64,
    final_checks: u64,
    replica_killed: WindowErrors,
    redis_paused: WindowErrors,
    idp_stopped: WindowErrors,
    tool_errors_in_windows: u64,
    /// 401s for live sessions' tokens during faults (recovered by a refresh).
    refused_live_in_windows: u64,
    /// Requests answered 5xx, or not at all, outside every fault window.
    failed_outside: u64,
    lost_in_idp_outage: u64,
    lost_elsewhere: u64,
    /// Each broken invariant, with its evidence.
    pub(super) violations: Vec<String>,
    /// Sessions lost during the IdP outage, which the soak allows, with why.
    pub(super) tolerated: Vec<String>,
}

impl Report {
    fn errors_in(&mut self, fault: Fault) -> &mut WindowErrors {
        match fault {
            Fault::ReplicaKilled => &mut self.replica_killed,
            Fault::RedisPaused => &mut self.redis_paused,
            Fault::IdpStopped => &mut self.idp_stopped,
        }
    }

    fn count_in(&mut self, fault: Fault, answer: &Answer) {
        let errors = self.errors_in(fault);
        match answer {
            Answer::Status(..) => errors.server_errors += 1,
            Answer::Transport(_) => errors.transport += 1,
        }
    }

    fn sign_in_failures_in(&mut self, fault: Fault) -> &mut u64 {
        &mut self.errors_in(fault).sign_ins_failed
    }

    /// A soak that exercised too little proves nothing: every client signed in, some
    /// refreshes were concurrent on one token, every fault was injected, every session was
    /// checked at the end.
    fn check_coverage(&mut self) {
        let clients = self.clients as u64;
        if self.sign_ins < clients {
            self.violations.push(format!(
                "only {} sign-ins for {clients} clients",
                self.sign_ins
            ));
        }
        if self.bursts[1] + self.bursts[2] == 0 {
            self.violations
                .push("no refresh was sent concurrently with the same token".to_owned());
        }
        for fault in [Fault::ReplicaKilled, Fault::RedisPaused, Fault::IdpStopped] {
            if !self.windows.iter().any(|w| w.fault == fault) {
                self.violations
                    .push(format!("the fault `{}` was never injected", fault.name()));
            }
        }
        if self.final_checks < clients {
            self.violations.push(format!(
                "only {} of {clients} sessions were alive when the load stopped",
                self.final_checks
            ));
        }
    }

    /// The figures, one line each.
    pub(super) fn lines(&self) -> Vec<String> {
        let mut faults = String::new();
        for window in &self.windows {
            let _ = write!(
                faults,
                "{}{} {}",
                if faults.is_empty() { "" } else { ", " },
                window.fault.name(),
                span_text(Span {
                    start: window.start,
                    end: window.end
                })
            );
        }
        let window = |errors: &WindowErrors| {
            format!(
                "{} 5xx, {} without answer, {} sign-ins failed",
                errors.server_errors, errors.transport, errors.sign_ins_failed
            )
        };
        vec![
            format!("{} clients; faults: {faults}", self.clients),
            format!(
                "sign-ins {}, refreshes {} (bursts on one token: {} single, {} of 2, {} of 3), \
                 MCP calls {}",
                self.sign_ins,
                self.refreshes,
                self.bursts[0],
                self.bursts[1],
                self.bursts[2],
                self.mcp_calls
            ),
            format!(
                "refresh latency over {} answered requests: p50 {} ms, p99 {} ms, max {} ms",
                self.refresh_requests,
                self.p50.as_millis(),
                self.p99.as_millis(),
                self.max.as_millis()
            ),
            format!(
                "sessions lost: {} (not counting the IdP outage), {} during the IdP outage; {} \
                 sessions alive at the end",
                self.lost_elsewhere, self.lost_in_idp_outage, self.final_checks
            ),
            format!(
                "5xx or no answer outside the fault windows: {}",
                self.failed_outside
            ),
            format!(
                "while a replica was killed: {}",
                window(&self.replica_killed)
            ),
            format!("while Redis was paused: {}", window(&self.redis_paused)),
            format!("while the IdP was stopped: {}", window(&self.idp_stopped)),
            format!(
                "in fault windows: {} tool errors, {} 401s for live sessions (refreshed and went on)",
                self.tool_errors_in_windows, self.refused_live_in_windows
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&values, 50), ms(50));
        assert_eq!(percentile(&values, 99), ms(99));
        assert_eq!(percentile(&values[..1], 99), ms(1));
        assert_eq!(percentile(&[ms(1), ms(9)], 50), ms(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    #[test]
    fn a_span_belongs_to_a_fault_it_overlaps_at_any_moment() {
        let windows = [Window {
            fault: Fault::RedisPaused,
            start: ms(1000),
            end: ms(2000),
        }];
        let span = |start, end| Span {
            start: ms(start),
            end: ms(end),
        };
        let cases = [
            (span(0, 999), None),
            (span(0, 1000), Some(Fault::RedisPaused)),
            (span(1500, 1600), Some(Fault::RedisPaused)),
            (span(1900, 9000), Some(Fault::RedisPaused)),
            (span(2001, 2100), None),
        ];
        for (span, expected) in cases {
            assert_eq!(span.fault_in(&windows), expected, "{span:?}");
        }
    }

    #[test]
    fn only_failures_outside_the_windows_and_losses_outside_the_idp_outage_break_the_soak() {
        let tally = Tally::new();
        let at = |s: u64| Duration::from_secs(s);
        tally.window(Window {
            fault: Fault::IdpStopped,
            start: at(10),
            end: at(20),
        });
        tally.window(Window {
            fault: Fault::RedisPaused,
            start: at(30),
            end: at(40),
        });
        tally.window(Window {
            fault: Fault::ReplicaKilled,
            start: at(50),
            end: at(60),
        });
        {
            let mut events = tally.events();
            let request = |start, end, answer| Request {
                client: 7,
                endpoint: Endpoint::Refresh,
                span: Span {
                    start: at(start),
                    end: at(end),
                },
                answer,
            };
            events.requests.extend([
                request(31, 32, Answer::Status(503, String::new())),
                request(51, 51, Answer::Transport("reset".into())),
                request(70, 71, Answer::Status(200, String::new())),
                request(70, 71, Answer::Status(500, "server_error".into())),
            ]);
            let failure = |start, end| Failure {
                client: 7,
                span: Span {
                    start: at(start),
                    end: at(end),
                },
                why: "invalid_grant".into(),
            };
            events.lost.extend([failure(12, 13), failure(33, 34)]);
            events.lost.push(Failure {
                why: "refresh refused: HTTP 400 invalid_grant: the refresh token was already \
                      used; the grant is revoked"
                    .into(),
                ..failure(14, 15)
            });
            events.sign_in_failures.push(failure(15, 16));
            events.sign_ins = 1;
            events.bursts = [3, 1, 0];
            events.final_checks = 1;
        }
        let report = tally.report(1);
        assert_eq!(report.redis_paused.server_errors, 1);
        assert_eq!(report.replica_killed.transport, 1);
        assert_eq!(report.idp_stopped.sign_ins_failed, 1);
        assert_eq!(report.lost_in_idp_outage, 1);
        assert_eq!(report.tolerated.len(), 1);
        assert_eq!(
            report.lost_elsewhere, 2,
            "a reuse verdict counts even in the IdP outage"
        );
        assert_eq!(report.failed_outside, 1);
        assert_eq!(report.violations.len(), 3, "{:#?}", report.violations);
        assert!(report.violations[0].contains("HTTP 500 (server_error) outside"));
        assert!(report.violations[1].contains("lost its session at 33.0–34.0 s (Redis paused)"));
        assert!(report.violations[2].contains("at 14.0–15.0 s (IdP stopped): refresh refused"));
    }
}
