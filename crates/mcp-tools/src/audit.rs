//! Audit events: one per tool call, emitted through `tracing` at target `audit` so the binary
//! decides where they go (a JSON log, a file) without this crate knowing.
//!
//! An event names who called what, with which search and a digest of the arguments, and how it
//! ended. It never carries a token or other credential; arguments appear only as a digest
//! because they may hold data the caller typed (KV store queries, SPL literals).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `tracing` target audit events are emitted at.
pub const AUDIT_TARGET: &str = "audit";

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tool answered.
    Ok,
    /// The caller lacked a scope or group.
    Denied,
    /// The SPL guard refused the search.
    Refused,
    /// The arguments were invalid.
    InvalidArguments,
    /// Splunk (or obtaining credentials for it) failed.
    Failed,
    /// The client cancelled the call (or went away); its search job was cancelled.
    Cancelled,
}

impl Outcome {
    /// The outcome's name as it appears in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Refused => "refused",
            Self::InvalidArguments => "invalid_arguments",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One tool call, as written to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// When the call started (RFC 3339, UTC).
    pub time: DateTime<Utc>,
    /// The caller's subject, `None` on an unauthenticated transport.
    pub subject: Option<String>,
    /// The OAuth client the caller used.
    pub client_id: Option<String>,
    /// The tool.
    pub tool: String,
    /// The SPL sent to Splunk, after the guard (searches only).
    pub spl: Option<String>,
    /// SHA-256 (hex) of the arguments in canonical JSON (keys sorted, no spaces).
    pub args_digest: String,
    /// How the call ended.
    pub outcome: Outcome,
    /// How long the call took.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// The Splunk search job id, when a job was created.
    pub sid: Option<String>,
    /// The Splunk user the call ran as, when the credential source names it (mirror mode:
    /// `mcp.<name>`).
    pub splunk_user: Option<String>,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

impl AuditEvent {
    /// Emits the event at target [`AUDIT_TARGET`], its fields as structured `tracing` fields.
    pub fn emit(&self) {
        tracing::info!(
            target: AUDIT_TARGET,
            time = %self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            subject = self.subject.as_deref().unwrap_or("-"),
            client_id = self.client_id.as_deref().unwrap_or("-"),
            tool = %self.tool,
            spl = self.spl.as_deref().unwrap_or(""),
            args_digest = %self.args_digest,
            outcome = self.outcome.as_str(),
            duration_ms = u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            sid = self.sid.as_deref().unwrap_or(""),
            splunk_user = self.splunk_user.as_deref().unwrap_or("-"),
            "tool call"
        );
    }
}

/// Told of every tool call's [`AuditEvent`] (besides the audit log), e.g. to count calls for
/// metrics. Called on the call's task once it ends, so it must be quick and never block.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// One tool call ended.
    fn on_call(&self, event: &AuditEvent);
}

/// SHA-256 (hex) of `args` serialised canonically: object keys sorted at every depth, no
/// whitespace. Two calls with the same arguments in a different key order share a digest.
pub fn args_digest(args: &serde_json::Value) -> String {
    let mut canonical = String::new();
    write_canonical(args, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digest_ignores_key_order() {
        let a = args_digest(&json!({"spl": "index=web", "max_results": 5, "x": {"b": 1, "a": 2}}));
        let b = args_digest(&json!({"x": {"a": 2, "b": 1}, "max_results": 5, "spl": "index=web"}));
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(a, args_digest(&json!({"spl": "index=web"})));
    }
}
