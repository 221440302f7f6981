//! Who is calling: the `Authorization` header resolved to a caller, by one of splunkd's schemes
//! (`Splunk <session key>`, `Bearer <Splunk token>`, `Bearer <IdP JWT>`, and `Basic`).

pub(crate) mod oauth2;
pub(crate) mod sessions;
pub(crate) mod tokens;

use axum::http::{HeaderMap, header};
use base64::Engine;

use crate::directory::Effective;
use crate::server::AppState;

/// An authenticated caller with their effective roles.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Splunk username.
    pub(crate) username: String,
    /// Roles held directly (for IdP users: from the group mappings).
    pub(crate) roles: Vec<String>,
    /// Roles, capabilities and indexes those add up to.
    pub(crate) effective: Effective,
    /// `SAML`, `Splunk`, or for IdP users `OAuth2` (our assumption).
    pub(crate) user_type: String,
    /// Full name.
    pub(crate) realname: String,
    /// E-mail.
    pub(crate) email: String,
    /// Default app.
    pub(crate) default_app: String,
}

impl Caller {
    /// Whether the caller holds a capability.
    pub(crate) fn can(&self, capability: &str) -> bool {
        self.effective.has(capability)
    }

    /// `Ok` when the capability is held, else splunkd's 403.
    pub(crate) fn require(&self, capability: &str) -> Result<(), crate::server::ApiError> {
        if self.can(capability) {
            Ok(())
        } else {
            Err(crate::server::ApiError::missing_capability(
                &self.username,
                capability,
            ))
        }
    }
}

/// Why credentials were refused (logged at debug level, never sent: splunkd answers one text).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthFailure {
    /// No or an unknown `Authorization` scheme.
    #[error("no credentials")]
    Missing,
    /// Unknown or expired session key.
    #[error("unknown or expired session key")]
    BadSession,
    /// A Splunk token that failed validation.
    #[error("splunk token rejected: {0}")]
    BadToken(String),
    /// An IdP JWT that failed validation.
    #[error("oauth2 token rejected: {0}")]
    BadOAuth2(String),
    /// Wrong user or password.
    #[error("bad basic credentials")]
    BadBasic,
    /// The user behind valid credentials no longer exists.
    #[error("user {0} does not exist")]
    NoSuchUser(String),
}

/// Resolves the `Authorization` header of a request.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, AuthFailure> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(AuthFailure::Missing)?;
    let (scheme, credential) = value.trim().split_once(' ').ok_or(AuthFailure::Missing)?;
    let credential = credential.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "splunk" => {
            let ttl_override = state.faults.read().session_ttl_secs;
            let user = state
                .sessions
                .validate(credential, ttl_override)
                .ok_or(AuthFailure::BadSession)?;
            local_caller(state, &user)
        }
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credential)
                .map_err(|_| AuthFailure::BadBasic)?;
            let decoded = String::from_utf8(decoded).map_err(|_| AuthFailure::BadBasic)?;
            let (user, password) = decoded.split_once(':').ok_or(AuthFailure::BadBasic)?;
            let ok = state
                .directory
                .read()
                .users
                .get(user)
                .is_some_and(|u| u.check_password(password));
            if !ok {
                return Err(AuthFailure::BadBasic);
            }
            local_caller(state, user)
        }
        "bearer" => {
            if tokens::is_splunk_token(credential) {
                let user = state
                    .tokens
                    .validate(credential)
                    .map_err(AuthFailure::BadToken)?;
                local_caller(state, &user)
            } else {
                let identity = state
                    .oauth2
                    .validate(credential)
                    .await
                    .map_err(AuthFailure::BadOAuth2)?;
                let directory = state.directory.read();
                let effective = directory.effective(&identity.roles);
                Ok(Caller {
                    username: identity.username,
                    roles: identity.roles,
                    effective,
                    user_type: "OAuth2".to_owned(),
                    realname: identity.realname,
                    email: identity.email,
                    default_app: "search".to_owned(),
                })
            }
        }
        _ => Err(AuthFailure::Missing),
    }
}

fn local_caller(state: &AppState, username: &str) -> Result<Caller, AuthFailure> {
    let directory = state.directory.read();
    let user = directory
        .users
        .get(username)
        .ok_or_else(|| AuthFailure::NoSuchUser(username.to_owned()))?;
    let effective = directory.effective(&user.roles);
    Ok(Caller {
        username: user.name.clone(),
        roles: user.roles.clone(),
        effective,
        user_type: user.user_type.label().to_owned(),
        realname: user.realname.clone(),
        email: user.email.clone(),
        default_app: user.default_app.clone(),
    })
}
