//! Prometheus metrics: tool calls by tool and outcome, tool latency, auth failures by reason,
//! Splunk request latency and JWKS refreshes, rendered at `/metrics` in the OpenMetrics text
//! format.
//!
//! Label values come from fixed sets (the names of the tools served, built-in or configured,
//! outcomes, RFC 6750 error codes, status classes) so that no caller input can grow the number
//! of series: a tool call is recorded from its audit event, and only served tools have one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: 5 ms to about 82 s, doubling; Splunk searches can take a while.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 15)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolOutcome {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SplunkRequest {
    operation: &'static str,
    status: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// The server's metrics. Cheap to clone: every clone records into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    tool_calls: Family<ToolOutcome, Counter>,
    tool_latency: HistogramFamily<ToolLabel>,
    auth_failures: Family<Reason, Counter>,
    splunk_latency: HistogramFamily<SplunkRequest>,
    jwks: Arc<JwksCollector>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics, every family registered under the `splunk_mcp_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("splunk_mcp");
        let tool_calls = Family::<ToolOutcome, Counter>::default();
        registry.register(
            "tool_calls",
            "MCP tool calls by tool and outcome",
            tool_calls.clone(),
        );
        let tool_latency: HistogramFamily<ToolLabel> = Family::new_with_constructor(new_histogram);
        registry.register_with_unit(
            "tool_call_duration",
            "Duration of MCP tool calls by tool",
            Unit::Seconds,
            tool_latency.clone(),
        );
        let auth_failures = Family::<Reason, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests to /mcp refused by authentication or authorization, by reason",
            auth_failures.clone(),
        );
        let splunk_latency: HistogramFamily<SplunkRequest> =
            Family::new_with_constructor(new_histogram);
        registry.register_with_unit(
            "splunk_request_duration",
            "Duration of requests to Splunk by operation and status class",
            Unit::Seconds,
            splunk_latency.clone(),
        );
        let jwks = Arc::new(JwksCollector::default());
        registry.register_collector(Box::new(Arc::clone(&jwks)));
        Self {
            registry: Arc::new(registry),
            tool_calls,
            tool_latency,
            auth_failures,
            splunk_latency,
            jwks,
        }
    }

    /// Records one finished tool call of a served tool; a name no tool could have counts as
    /// `other`.
    pub fn record_tool_call(&self, tool: &str, outcome: &'static str, duration: Duration) {
        let tool = tool_label(tool);
        self.tool_calls
            .get_or_create(&ToolOutcome {
                tool: tool.clone(),
                outcome,
            })
            .inc();
        self.tool_latency
            .get_or_create(&ToolLabel { tool })
            .observe(duration.as_secs_f64());
    }

    /// Records a tool call from its audit event.
    pub fn record_audit_event(&self, event: &mcp_tools::audit::AuditEvent) {
        self.record_tool_call(&event.tool, event.outcome.as_str(), event.duration);
    }

    /// Records a refused request to `/mcp`. `reason` is an RFC 6750 error code,
    /// `missing_token`, `access_denied`, `unavailable` or `session_subject_mismatch`; anything
    /// else counts as `other`.
    pub fn record_auth_failure(&self, reason: &str) {
        let reason = match reason {
            "missing_token" => "missing_token",
            "invalid_token" => "invalid_token",
            "invalid_request" => "invalid_request",
            "insufficient_scope" => "insufficient_scope",
            "access_denied" => "access_denied",
            "unavailable" => "unavailable",
            "session_subject_mismatch" => "session_subject_mismatch",
            _ => "other",
        };
        self.auth_failures.get_or_create(&Reason { reason }).inc();
    }

    /// Records one request to Splunk: `status` is the HTTP status, `None` when no answer came.
    pub fn record_splunk_request(
        &self,
        operation: &'static str,
        status: Option<u16>,
        elapsed: Duration,
    ) {
        let status = match status {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            Some(_) => "other",
            None => "error",
        };
        self.splunk_latency
            .get_or_create(&SplunkRequest { operation, status })
            .observe(elapsed.as_secs_f64());
    }

    /// Exports the refresh count of `cache` (read at each scrape) as
    /// `splunk_mcp_jwks_refreshes_total`, summed over every watched cache.
    pub fn watch_jwks(&self, cache: Arc<auth_core::JwksCache>) {
        self.jwks
            .caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(cache);
    }

    /// The current values in the OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label value.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

impl mcp_tools::audit::CallObserver for Metrics {
    fn on_call(&self, event: &mcp_tools::audit::AuditEvent) {
        self.record_audit_event(event);
    }
}

impl splunk_client::RequestObserver for Metrics {
    fn on_request(&self, operation: &'static str, status: Option<u16>, elapsed: Duration) {
        self.record_splunk_request(operation, status, elapsed);
    }
}

/// `tool` as a label, `other` for a name no served tool could have.
fn tool_label(tool: &str) -> String {
    if mcp_tools::custom::is_tool_name(tool) {
        tool
    } else {
        "other"
    }
    .to_owned()
}

/// Reads the JWKS caches' fetch counters at scrape time.
#[derive(Default)]
struct JwksCollector {
    caches: Mutex<Vec<Arc<auth_core::JwksCache>>>,
}

impl std::fmt::Debug for JwksCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwksCollector")
    }
}

impl Collector for JwksCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let total: u64 = self
            .caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|cache| cache.fetch_count())
            .sum();
        let counter = ConstCounter::new(total);
        let metric = encoder.encode_descriptor(
            "jwks_refreshes",
            "Fetches of the identity provider's JWKS",
            None,
            counter.metric_type(),
        )?;
        counter.encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_with_bounded_labels() {
        let metrics = Metrics::new();
        metrics.record_tool_call("splunk_search", "ok", Duration::from_millis(30));
        metrics.record_tool_call("web status hosts\n", "failed", Duration::from_millis(1));
        metrics.record_auth_failure("missing_token");
        metrics.record_auth_failure("weird\"code");
        metrics.record_splunk_request("search.create", Some(201), Duration::from_millis(4));
        metrics.record_splunk_request("search.create", None, Duration::from_millis(4));
        let text = metrics.render();
        for line in [
            r#"splunk_mcp_tool_calls_total{tool="splunk_search",outcome="ok"} 1"#,
            r#"splunk_mcp_tool_calls_total{tool="other",outcome="failed"} 1"#,
            r#"splunk_mcp_tool_call_duration_seconds_count{tool="splunk_search"} 1"#,
            r#"splunk_mcp_auth_failures_total{reason="missing_token"} 1"#,
            r#"splunk_mcp_auth_failures_total{reason="other"} 1"#,
            r#"splunk_mcp_splunk_request_duration_seconds_count{operation="search.create",status="2xx"} 1"#,
            r#"splunk_mcp_splunk_request_duration_seconds_count{operation="search.create",status="error"} 1"#,
            "splunk_mcp_jwks_refreshes_total 0",
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
