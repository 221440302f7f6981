//! The error a tool call ends with, and its mapping to an MCP tool error.
//!
//! Every variant's `Display` text is safe to send to the caller: Splunk's own messages (which
//! [`splunk_client::Error`] keeps free of internals), the guard's refusal, the missing scopes.
//! Transport details stay in the error's `source()` for logs.

use rmcp::model::{CallToolResult, ContentBlock};

use crate::audit::Outcome;
use crate::credentials::CredentialError;
use crate::spl_guard::GuardError;

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The authorization policy refuses the call; the reason says what is missing (a scope
    /// the token lacks, a scope the caller's groups may not hold, or a group).
    #[error("this tool {0}")]
    Denied(String),
    /// The SPL guard refused the search.
    #[error("search refused: {0}")]
    Guard(#[from] GuardError),
    /// The arguments do not fit the tool's input schema: which, and what was expected.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// What the caller asked for does not exist in Splunk, or is not visible to them.
    #[error("{0}")]
    NotFound(String),
    /// An argument is invalid.
    #[error("invalid argument '{what}': {reason}")]
    InvalidArgument {
        /// The argument's name.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// No Splunk credentials could be had for the caller.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// Splunk answered with an error or could not be reached.
    #[error("{0}")]
    Splunk(#[from] splunk_client::Error),
    /// The search ran past the configured timeout; its job was cancelled.
    #[error(
        "the search did not finish within {:.1} s and was cancelled; narrow the time range or the search",
        timeout.as_secs_f64()
    )]
    SearchTimeout {
        /// The configured timeout.
        timeout: std::time::Duration,
    },
    /// The client cancelled the call, or closed its connection, while the search ran; the
    /// Splunk job was cancelled.
    #[error("the search was cancelled by the client; its Splunk job was stopped")]
    Cancelled,
}

impl ToolError {
    /// The audit outcome this error stands for.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Denied(_) => Outcome::Denied,
            Self::Guard(_) => Outcome::Refused,
            Self::InvalidArgument { .. } | Self::Arguments(_) => Outcome::InvalidArguments,
            Self::Credentials(_)
            | Self::Splunk(_)
            | Self::NotFound(_)
            | Self::SearchTimeout { .. } => Outcome::Failed,
            Self::Cancelled => Outcome::Cancelled,
        }
    }

    /// `error` as [`ToolError::NotFound`] saying `what` when Splunk answered 404, else as is.
    pub(crate) fn not_found(error: splunk_client::Error, what: impl FnOnce() -> String) -> Self {
        match error {
            splunk_client::Error::NotFound { .. } => Self::NotFound(what()),
            other => Self::Splunk(other),
        }
    }

    /// Whether Splunk could not be reached or did not answer in time: the operator's
    /// problem as much as the caller's, so the server logs it too.
    pub fn is_splunk_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Splunk(
                splunk_client::Error::Transport { .. } | splunk_client::Error::Timeout { .. }
            )
        )
    }

    /// The MCP tool result (`isError: true`) the caller sees.
    pub fn to_tool_result(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(self.to_string())])
    }
}
