//! The one error type of the crate, built from Splunk's status codes and `messages[]` bodies.
//!
//! Every variant's `Display` text is safe to show to the person using a tool built on this crate:
//! it carries Splunk's own `messages[].text` (which Splunk shows its users too) and never a
//! credential, a request body or a transport detail. Transport details stay in
//! [`std::error::Error::source`], for logs.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Severity of a Splunk message (`messages[].type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
#[non_exhaustive]
pub enum MessageType {
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL` (for example bad SPL).
    Fatal,
    /// Any other type Splunk may add; the text as sent.
    Other(String),
}

impl From<String> for MessageType {
    fn from(kind: String) -> Self {
        match kind.to_ascii_uppercase().as_str() {
            "DEBUG" => Self::Debug,
            "INFO" => Self::Info,
            "WARN" | "WARNING" => Self::Warn,
            "ERROR" => Self::Error,
            "FATAL" => Self::Fatal,
            _ => Self::Other(kind),
        }
    }
}

impl MessageType {
    /// Whether a message of this type means the request or search failed.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error | Self::Fatal)
    }
}

/// One entry of Splunk's `messages` list: `{"type":"ERROR","code":"...","text":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// Severity.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Machine-readable code, present on some messages (e.g. `incorrect_username_or_password`).
    #[serde(default, deserialize_with = "crate::wire::empty_as_none")]
    pub code: Option<String>,
    /// Human-readable text.
    #[serde(default)]
    pub text: String,
}

impl Message {
    /// A message with a type and text, without a code.
    pub fn new(kind: MessageType, text: impl Into<String>) -> Self {
        Self {
            kind,
            code: None,
            text: text.into(),
        }
    }
}

/// Splunk's messages joined for display, or a fallback when Splunk sent none.
struct Texts<'a>(&'a [Message]);

impl fmt::Display for Texts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut texts = self
            .0
            .iter()
            .map(|m| m.text.trim())
            .filter(|t| !t.is_empty());
        match texts.next() {
            None => f.write_str("no details given"),
            Some(first) => {
                f.write_str(first)?;
                for text in texts {
                    write!(f, "; {text}")?;
                }
                Ok(())
            }
        }
    }
}

/// Everything that can go wrong talking to Splunk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the credential was refused (wrong password, expired or revoked token).
    #[error("Splunk refused the credentials: {}", Texts(messages))]
    Unauthorized {
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// 403: the user lacks a capability or permission.
    #[error("Splunk denied the request: {}", Texts(messages))]
    Forbidden {
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// 404: the object (user, job, index, ...) does not exist or is not visible to the user.
    #[error("not found in Splunk: {}", Texts(messages))]
    NotFound {
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// 409: the object already exists.
    #[error("already exists in Splunk: {}", Texts(messages))]
    Conflict {
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// 400 and other 4xx answers: bad parameters or bad SPL.
    #[error("Splunk rejected the request ({status}): {}", Texts(messages))]
    BadRequest {
        /// The HTTP status code.
        status: u16,
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// 5xx: Splunk failed (after any retries this request was allowed).
    #[error("Splunk failed to answer ({status}): {}", Texts(messages))]
    Server {
        /// The HTTP status code.
        status: u16,
        /// Splunk's messages.
        messages: Vec<Message>,
    },
    /// A search job failed, or an export stream reported an error part way.
    #[error("the search failed: {}", Texts(messages))]
    SearchFailed {
        /// Splunk's messages (`FATAL`/`ERROR` first).
        messages: Vec<Message>,
    },
    /// A timeout elapsed: connecting, waiting for data, or waiting for a job to finish.
    #[error("Splunk at {endpoint} did not answer within {} ({what})", Seconds(*after))]
    Timeout {
        /// What timed out: `connect`, `request` or `job wait`.
        what: &'static str,
        /// `host:port` of Splunk.
        endpoint: String,
        /// The limit that ran out.
        after: Duration,
    },
    /// Splunk could not be reached or the connection broke: where, and why in plain words
    /// (refused, name not resolved, TLS, closed); the full chain stays in `source()`.
    #[error("could not reach Splunk at {endpoint}: {cause}")]
    Transport {
        /// `host:port` of Splunk.
        endpoint: String,
        /// Why, for a person.
        cause: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that does not have the shape Splunk's API documents.
    #[error("unexpected answer from Splunk: {detail}")]
    Decode {
        /// What did not match (never includes the body itself).
        detail: String,
    },
    /// A value refused before anything was sent (username, time range, name, ...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The client configuration cannot work (bad URL, unreadable CA bundle, ...).
    #[error("invalid Splunk client configuration: {0}")]
    Config(String),
}

impl Error {
    /// Splunk's messages carried by this error, if any.
    pub fn messages(&self) -> &[Message] {
        match self {
            Self::Unauthorized { messages }
            | Self::Forbidden { messages }
            | Self::NotFound { messages }
            | Self::Conflict { messages }
            | Self::BadRequest { messages, .. }
            | Self::Server { messages, .. }
            | Self::SearchFailed { messages } => messages,
            _ => &[],
        }
    }

    /// The HTTP status Splunk answered with, for errors that came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Conflict { .. } => Some(409),
            Self::BadRequest { status, .. } | Self::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds the error for a non-success status from the answer's body (which may be empty
    /// or not JSON, e.g. from a proxy in front of Splunk).
    pub(crate) fn from_status(status: u16, body: &[u8]) -> Self {
        let messages = parse_messages(body);
        match status {
            401 => Self::Unauthorized { messages },
            403 => Self::Forbidden { messages },
            404 => Self::NotFound { messages },
            409 => Self::Conflict { messages },
            500..=599 => Self::Server { status, messages },
            _ => Self::BadRequest { status, messages },
        }
    }

    /// Maps a reqwest failure: timeouts are their own variant so callers can tell them apart;
    /// both name where Splunk was expected (`host:port`).
    pub(crate) fn from_reqwest(error: reqwest::Error, timeouts: Timeouts) -> Self {
        let endpoint = error
            .url()
            .map_or_else(|| "its management port".to_owned(), host_port);
        if error.is_timeout() {
            let (what, after) = if error.is_connect() {
                ("connect", timeouts.connect)
            } else {
                ("request", timeouts.read)
            };
            Self::Timeout {
                what,
                endpoint,
                after,
            }
        } else if error.is_decode() {
            Self::Decode {
                detail: "the answer body could not be read".to_owned(),
            }
        } else {
            Self::Transport {
                endpoint,
                cause: transport_cause(&error),
                source: error,
            }
        }
    }

    pub(crate) fn decode(detail: impl Into<String>) -> Self {
        Self::Decode {
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            what,
            reason: reason.into(),
        }
    }
}

/// The limits a reqwest failure is measured against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// Connecting.
    pub(crate) connect: Duration,
    /// Waiting for data.
    pub(crate) read: Duration,
}

/// `host:port` of a URL, with the scheme's default port when none is given.
pub(crate) fn host_port(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Why a connection failed, in plain words, from the innermost errors reqwest wraps (hyper,
/// the resolver, rustls, the socket). An io::Error hides the error it wraps from `source()`,
/// so the walk goes through `get_ref` there.
fn transport_cause(error: &reqwest::Error) -> String {
    use std::io::ErrorKind;
    let mut innermost = error.to_string();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return format!("the TLS handshake failed: {tls}");
        }
        let io = current.downcast_ref::<std::io::Error>();
        match io.map(std::io::Error::kind) {
            Some(ErrorKind::ConnectionRefused) => {
                return "connection refused (nothing listens there: is Splunk running, and is \
                        this its management port?)"
                    .to_owned();
            }
            Some(
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof,
            ) => return "the connection was closed by the other side".to_owned(),
            Some(ErrorKind::TimedOut) => return "the connection timed out".to_owned(),
            Some(ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => {
                return "no route to the host".to_owned();
            }
            _ => {}
        }
        let text = current.to_string();
        // hyper-util's resolver wraps getaddrinfo's failure as "dns error: ...".
        if text.starts_with("dns error") || text.contains("failed to lookup address") {
            return "the host name could not be resolved".to_owned();
        }
        innermost = text;
        next = match io.and_then(std::io::Error::get_ref) {
            Some(wrapped) => Some(wrapped),
            None => current.source(),
        };
    }
    innermost
}

/// A duration as a person reads it: `30 s`, `1.5 s`, `300 ms`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms} ms")
        } else if ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        }
    }
}

/// Reads `{"messages":[...]}` out of an error body; anything else yields no messages, since a
/// body that is not Splunk's (an HTML page from a proxy) must not be shown to a user.
pub(crate) fn parse_messages(body: &[u8]) -> Vec<Message> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        messages: Vec<Message>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.messages)
        .unwrap_or_default()
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses_and_keeps_splunk_texts() {
        let cases: &[(u16, &str, &str)] = &[
            (
                401,
                r#"{"messages":[{"type":"WARN","code":"incorrect_username_or_password","text":"Login failed"}]}"#,
                "Splunk refused the credentials: Login failed",
            ),
            (
                403,
                r#"{"messages":[{"type":"ERROR","text":"You (user=carol) do not have permission to perform this operation (requires capability: edit_user)."}]}"#,
                "Splunk denied the request: You (user=carol) do not have permission to perform this operation (requires capability: edit_user).",
            ),
            (
                404,
                r#"{"messages":[{"type":"ERROR","text":"User \"mcp.foo\" does not exist."}]}"#,
                "not found in Splunk: User \"mcp.foo\" does not exist.",
            ),
            (
                409,
                r#"{"messages":[{"type":"ERROR","text":"An object with name=x already exists"}]}"#,
                "already exists in Splunk: An object with name=x already exists",
            ),
            (
                400,
                r#"{"messages":[{"type":"FATAL","text":"Unknown search command 'nosuchcommand'."}]}"#,
                "Splunk rejected the request (400): Unknown search command 'nosuchcommand'.",
            ),
            (
                503,
                "<html>Service Unavailable</html>",
                "Splunk failed to answer (503): no details given",
            ),
            (
                400,
                r#"{"messages":[{"type":"ERROR","text":"a"},{"type":"WARN","text":"b"}]}"#,
                "Splunk rejected the request (400): a; b",
            ),
        ];
        for (status, body, shown) in cases {
            let error = Error::from_status(*status, body.as_bytes());
            assert_eq!(error.to_string(), *shown, "status {status}");
            assert_eq!(error.status(), Some(*status));
        }
    }

    #[test]
    fn keeps_message_codes_and_types() {
        let error = Error::from_status(
            401,
            br#"{"messages":[{"type":"WARN","code":"incorrect_username_or_password","text":"Login failed"}]}"#,
        );
        let message = &error.messages()[0];
        assert_eq!(message.kind, MessageType::Warn);
        assert_eq!(
            message.code.as_deref(),
            Some("incorrect_username_or_password")
        );
        assert!(matches!(error, Error::Unauthorized { .. }));
        let fatal = Error::from_status(400, br#"{"messages":[{"type":"FATAL","text":"x"}]}"#);
        assert!(fatal.messages()[0].kind.is_error());
    }
}
