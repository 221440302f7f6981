//! Splunk's error bodies: `{"messages":[{"type":"ERROR","text":"..."}]}` with the matching status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer, rendered exactly as splunkd renders it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    text: String,
}

impl ApiError {
    /// An answer with a given status, message type and text.
    pub(crate) fn new(status: StatusCode, kind: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            text: text.into(),
        }
    }

    /// 400 with an `ERROR` message.
    pub(crate) fn bad_request(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ERROR", text)
    }

    /// 400 with a `FATAL` message, as for bad SPL.
    pub(crate) fn fatal(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "FATAL", text)
    }

    /// 404 `Not found`.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "ERROR", "Not found")
    }

    /// 404 with a specific text.
    pub(crate) fn not_found_text(text: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ERROR", text)
    }

    /// 409 for an object that already exists.
    pub(crate) fn conflict(name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ERROR",
            format!("An object with name={name} already exists"),
        )
    }

    /// 401 for a request without valid credentials.
    pub(crate) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "WARN",
            "call not properly authenticated",
        )
    }

    /// 401 for a failed `auth/login`.
    pub(crate) fn login_failed() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: "WARN",
            code: Some("incorrect_username_or_password"),
            text: "Login failed".to_owned(),
        }
    }

    /// 403 for a missing capability, with splunkd's wording.
    pub(crate) fn missing_capability(user: &str, capability: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ERROR",
            format!(
                "You (user={user}) do not have permission to perform this operation (requires capability: {capability})."
            ),
        )
    }

    /// 400 for a required form field that is absent.
    pub(crate) fn missing_argument(name: &str) -> Self {
        Self::bad_request(format!("Missing required argument: {name}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = json!({"type": self.kind, "text": self.text});
        if let Some(code) = self.code {
            message["code"] = json!(code);
        }
        (self.status, Json(json!({ "messages": [message] }))).into_response()
    }
}
