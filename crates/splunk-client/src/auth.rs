//! Credentials and the `Authorization` header they produce, including session-key login.
//!
//! A session key is fetched lazily, cached, and replaced at most once per failed request: the
//! first caller to see a 401 logs in again while concurrent callers wait for that login and use
//! its key (single flight), so an expired key costs one login whatever the concurrency.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::RwLock;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::transport::{ApiRequest, Params, Transport};

/// How the client proves who it is to Splunk.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A token sent as `Authorization: Bearer <token>`: a Splunk authentication token or an
    /// IdP JWT that Splunk validates. Never sent as `Splunk <token>` (splunklib's `token=`
    /// mistake).
    Bearer(SecretString),
    /// A Splunk username and password, exchanged for a session key at
    /// `POST /services/auth/login` and sent as `Authorization: Splunk <key>`.
    Session {
        /// Splunk username.
        username: String,
        /// Its password.
        password: SecretString,
    },
    /// A bearer token obtained from a [`TokenSource`] before each request, and replaced once
    /// through it when Splunk refuses it (401), e.g. a mirror user's minted token.
    Source(Arc<dyn TokenSource>),
}

/// The future a [`TokenSource`] answers with; boxed so the trait is object-safe.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<SecretString>> + Send + 'a>>;

/// Where [`Credentials::Source`] gets its bearer token from.
///
/// The client asks [`TokenSource::token`] before every request (so it must be cheap, e.g. a
/// cache hit) and, when Splunk answers 401, asks [`TokenSource::replace`] once with the refused
/// token and retries with the new one; a second 401 is returned to the caller.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// The token to send now.
    fn token(&self) -> TokenFuture<'_>;

    /// Splunk refused `refused`: a different, valid token. Implementations should let
    /// concurrent callers refused the same token share one replacement.
    fn replace<'a>(&'a self, refused: &'a SecretString) -> TokenFuture<'a>;
}

impl Credentials {
    /// Bearer credentials from a token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Self::Bearer(SecretString::from(token.into()))
    }

    /// Session credentials from a username and password.
    pub fn session(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Session {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer([redacted])"),
            Self::Session { username, .. } => f
                .debug_struct("Session")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
            Self::Source(source) => f.debug_tuple("Source").field(source).finish(),
        }
    }
}

/// The per-client authentication state.
pub(crate) enum Auth {
    Bearer(SecretString),
    Session(Session),
    Source(Arc<dyn TokenSource>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Auth::Bearer"),
            Self::Session(session) => write!(f, "Auth::Session({})", session.username),
            Self::Source(source) => write!(f, "Auth::Source({source:?})"),
        }
    }
}

/// A header value ready to send and the login generation (sessions) or the raw token (token
/// sources) it came from, which a refresh after a 401 needs.
pub(crate) struct Authorization {
    pub(crate) header: SecretString,
    pub(crate) generation: u64,
    pub(crate) token: Option<SecretString>,
}

impl Authorization {
    fn bearer(token: SecretString) -> Self {
        Self {
            header: SecretString::from(format!("Bearer {}", token.expose_secret())),
            generation: 0,
            token: Some(token),
        }
    }
}

pub(crate) struct Session {
    username: String,
    password: SecretString,
    /// The cached `Splunk <key>` header and its generation, read without waiting.
    current: RwLock<Option<(SecretString, u64)>>,
    /// Held while logging in; it guards the generation counter so only one login runs.
    login_gate: tokio::sync::Mutex<u64>,
}

impl Auth {
    pub(crate) fn new(credentials: Credentials) -> Self {
        match credentials {
            Credentials::Bearer(token) => Self::Bearer(SecretString::from(format!(
                "Bearer {}",
                token.expose_secret()
            ))),
            Credentials::Session { username, password } => Self::Session(Session {
                username,
                password,
                current: RwLock::new(None),
                login_gate: tokio::sync::Mutex::new(0),
            }),
            Credentials::Source(source) => Self::Source(source),
        }
    }

    /// Whether a 401 may be cured by logging in again or asking the source for a new token.
    pub(crate) fn can_relogin(&self) -> bool {
        matches!(self, Self::Session(_) | Self::Source(_))
    }

    /// The header to send now, logging in first if no session key is cached.
    pub(crate) async fn authorization(&self, transport: &Transport) -> Result<Authorization> {
        match self {
            Self::Bearer(header) => Ok(Authorization {
                header: header.clone(),
                generation: 0,
                token: None,
            }),
            Self::Session(session) => {
                if let Some((header, generation)) = session.current.read().clone() {
                    return Ok(Authorization {
                        header,
                        generation,
                        token: None,
                    });
                }
                session.login_once(transport, None).await
            }
            Self::Source(source) => Ok(Authorization::bearer(source.token().await?)),
        }
    }

    /// Called after a 401 with the generation that was refused: logs in again unless another
    /// caller already did since, and returns the header to retry with.
    pub(crate) async fn refresh(
        &self,
        transport: &Transport,
        refused: &Authorization,
    ) -> Result<Authorization> {
        match self {
            Self::Bearer(_) => Err(Error::Unauthorized {
                messages: Vec::new(),
            }),
            Self::Session(session) => {
                session
                    .login_once(transport, Some(refused.generation))
                    .await
            }
            Self::Source(source) => {
                let refused = refused
                    .token
                    .clone()
                    .unwrap_or_else(|| SecretString::from(""));
                Ok(Authorization::bearer(source.replace(&refused).await?))
            }
        }
    }
}

impl Session {
    /// Single-flight login: whoever holds the gate logs in; the others find a newer generation
    /// once they get the gate and use it without logging in themselves.
    async fn login_once(
        &self,
        transport: &Transport,
        refused_generation: Option<u64>,
    ) -> Result<Authorization> {
        let mut generation = self.login_gate.lock().await;
        if let Some((header, current)) = self.current.read().clone() {
            let newer = refused_generation.is_none_or(|refused| current != refused);
            if newer {
                return Ok(Authorization {
                    header,
                    generation: current,
                    token: None,
                });
            }
        }
        *self.current.write() = None;
        let key = self.login(transport).await?;
        *generation += 1;
        let header = SecretString::from(format!("Splunk {}", key.expose_secret()));
        *self.current.write() = Some((header.clone(), *generation));
        tracing::debug!(username = %self.username, generation = *generation, "logged in to Splunk");
        Ok(Authorization {
            header,
            generation: *generation,
            token: None,
        })
    }

    async fn login(&self, transport: &Transport) -> Result<SecretString> {
        #[derive(Deserialize)]
        struct LoginAnswer {
            #[serde(rename = "sessionKey")]
            session_key: String,
        }
        let mut form = Params::new();
        form.push("username", self.username.clone())
            .push_secret("password", self.password.clone());
        // Logging in twice only yields two keys, so a login may be retried on a broken connection.
        let request = ApiRequest::post(Endpoint::services("auth/login"), form).idempotent();
        let answer = transport.send(&request, None).await?;
        let status = answer.status().as_u16();
        let body = answer
            .bytes()
            .await
            .map_err(|e| Error::from_reqwest(e, transport.config().timeouts()))?;
        if !(200..300).contains(&status) {
            return Err(Error::from_status(status, &body));
        }
        let parsed: LoginAnswer = serde_json::from_slice(&body)
            .map_err(|_| Error::decode("the login answer carries no sessionKey"))?;
        if parsed.session_key.is_empty() {
            return Err(Error::decode(
                "the login answer carries an empty sessionKey",
            ));
        }
        Ok(SecretString::from(parsed.session_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let bearer = Credentials::bearer("eyJhbGciOi.secret.sig");
        let session = Credentials::session("admin", "changeme");
        let shown = format!("{bearer:?} {session:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("changeme"),
            "{shown}"
        );
        assert!(shown.contains("admin"));
        let auth = format!("{:?}", Auth::new(bearer));
        assert!(!auth.contains("eyJ"), "{auth}");
    }

    #[tokio::test]
    async fn bearer_is_always_sent_as_bearer() {
        let transport = Transport::new(crate::ClientConfig::new("http://127.0.0.1:9")).unwrap();
        let auth = Auth::new(Credentials::bearer("abc"));
        let header = auth.authorization(&transport).await.unwrap().header;
        assert_eq!(header.expose_secret(), "Bearer abc");
        assert!(!auth.can_relogin());
    }
}
