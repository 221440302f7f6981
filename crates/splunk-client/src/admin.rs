//! Administration: users, roles and Splunk authentication tokens.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use crate::catalog::{FromEntry, ListOptions, Page, named_entry};
use crate::client::Client;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::transport::{ApiRequest, Params};
use crate::wire::{self, Acl, RawEntry};

/// A Splunk user (`authentication/users` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Username.
    #[serde(skip)]
    pub name: String,
    /// ACL.
    #[serde(skip)]
    pub acl: Acl,
    /// Roles assigned directly.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub roles: Vec<String>,
    /// Capabilities, inherited ones included.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub capabilities: Vec<String>,
    /// `Splunk` (native), `SAML`, `LDAP`, ...
    #[serde(default, rename = "type", deserialize_with = "wire::flex_string")]
    pub user_type: String,
    /// Full name.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub realname: String,
    /// E-mail.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub email: String,
    /// `defaultApp`.
    #[serde(default, rename = "defaultApp", deserialize_with = "wire::flex_string")]
    pub default_app: String,
    /// Time zone.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub tz: String,
    /// `locked-out`.
    #[serde(default, rename = "locked-out", deserialize_with = "wire::flex_bool")]
    pub locked_out: bool,
}
named_entry!(User);

/// A user to create.
#[derive(Clone)]
#[non_exhaustive]
pub struct NewUser {
    /// Username.
    pub name: String,
    /// Initial password.
    pub password: SecretString,
    /// Roles (at least one).
    pub roles: Vec<String>,
    /// Full name.
    pub realname: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Default app.
    pub default_app: Option<String>,
    /// Require a password change at first login.
    pub force_change_pass: bool,
}

impl NewUser {
    /// A user with a name, password and roles.
    pub fn new(name: impl Into<String>, password: SecretString, roles: Vec<String>) -> Self {
        Self {
            name: name.into(),
            password,
            roles,
            realname: None,
            email: None,
            default_app: None,
            force_change_pass: false,
        }
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("password", &"[redacted]")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A role (`authorization/roles` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// Role name.
    #[serde(skip)]
    pub name: String,
    /// ACL.
    #[serde(skip)]
    pub acl: Acl,
    /// Capabilities granted directly.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub capabilities: Vec<String>,
    /// Capabilities inherited from imported roles.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub imported_capabilities: Vec<String>,
    /// Roles this one inherits from.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub imported_roles: Vec<String>,
    /// `srchIndexesAllowed`.
    #[serde(
        default,
        rename = "srchIndexesAllowed",
        deserialize_with = "wire::string_list"
    )]
    pub srch_indexes_allowed: Vec<String>,
    /// `srchIndexesDefault`.
    #[serde(
        default,
        rename = "srchIndexesDefault",
        deserialize_with = "wire::string_list"
    )]
    pub srch_indexes_default: Vec<String>,
    /// `imported_srchIndexesAllowed`.
    #[serde(
        default,
        rename = "imported_srchIndexesAllowed",
        deserialize_with = "wire::string_list"
    )]
    pub imported_srch_indexes_allowed: Vec<String>,
}
named_entry!(Role);

/// When a token stops (or starts) being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTime {
    /// This long after minting (sent as a relative time such as `+1h`).
    In(Duration),
    /// At this instant (sent as epoch seconds).
    At(DateTime<Utc>),
}

impl TokenTime {
    fn to_param(self) -> String {
        match self {
            Self::In(duration) => relative(duration),
            Self::At(instant) => instant.timestamp().to_string(),
        }
    }

    fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::In(duration) => {
                now + chrono::Duration::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
            }
            Self::At(instant) => instant,
        }
    }
}

/// `+N<unit>` with the largest unit that divides the duration, so `1h` is sent as `+1h`.
fn relative(duration: Duration) -> String {
    let seconds = duration.as_secs().max(1);
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds.is_multiple_of(size) {
            return format!("+{}{unit}", seconds / size);
        }
    }
    format!("+{seconds}s")
}

/// What to mint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequest {
    /// The user the token is for (minting for another user needs `edit_tokens_all`).
    pub user: String,
    /// The token's audience (`aud`).
    pub audience: String,
    /// Expiry (`expires_on`).
    pub expires: TokenTime,
    /// Not valid before (`not_before`).
    pub not_before: Option<TokenTime>,
}

impl TokenRequest {
    /// A token for `user` with `audience`, valid for `ttl` from now.
    pub fn new(user: impl Into<String>, audience: impl Into<String>, ttl: Duration) -> Self {
        Self {
            user: user.into(),
            audience: audience.into(),
            expires: TokenTime::In(ttl),
            not_before: None,
        }
    }
}

/// A freshly minted token. The token itself is secret: `Debug` does not show it.
#[derive(Clone)]
pub struct MintedToken {
    /// Token id (for listing and deletion).
    pub id: String,
    /// The JWT, to send as `Authorization: Bearer`.
    pub token: SecretString,
    /// The user it was minted for.
    pub user: String,
    /// When it expires: the JWT's `exp` when readable, else the requested expiry.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A token as listed by `GET authorization/tokens` (the token text itself is never listed).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// Token id.
    pub id: String,
    /// The user it belongs to (`claims.sub`).
    pub user: String,
    /// `claims.aud`.
    pub audience: String,
    /// `claims.exp` (`None` for tokens that never expire).
    pub expires_at: Option<DateTime<Utc>>,
    /// `claims.iat`.
    pub issued_at: Option<DateTime<Utc>>,
    /// `claims.roles`.
    pub roles: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: String,
}

impl TokenInfo {
    /// Whether the token's expiry is at or before `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|exp| exp <= now)
    }
}

impl FromEntry for TokenInfo {
    fn from_entry(entry: &RawEntry) -> Result<Self> {
        #[derive(Deserialize, Default)]
        struct Claims {
            #[serde(default, deserialize_with = "wire::flex_string")]
            sub: String,
            #[serde(default, deserialize_with = "wire::flex_string")]
            aud: String,
            #[serde(default, deserialize_with = "wire::flex_u64")]
            exp: u64,
            #[serde(default, deserialize_with = "wire::flex_u64")]
            iat: u64,
            #[serde(default, deserialize_with = "wire::string_list")]
            roles: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Content {
            #[serde(default)]
            claims: Option<Claims>,
            #[serde(default, deserialize_with = "wire::flex_string")]
            status: String,
        }
        let content: Content = entry.content_as()?;
        let claims = content.claims.unwrap_or_default();
        let instant = |secs: u64| {
            (secs > 0)
                .then(|| DateTime::from_timestamp(i64::try_from(secs).ok()?, 0))
                .flatten()
        };
        Ok(Self {
            id: entry.name.clone(),
            user: if claims.sub.is_empty() {
                entry.author.clone()
            } else {
                claims.sub
            },
            audience: claims.aud,
            expires_at: instant(claims.exp),
            issued_at: instant(claims.iat),
            roles: claims.roles,
            status: content.status,
        })
    }
}

/// Reads `exp` from a JWT's payload without verifying it: only to know when to mint again.
fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.get("exp")?.as_i64()?, 0)
}

fn users() -> Endpoint {
    Endpoint::services("authentication/users")
}

fn roles_form(form: &mut Params, roles: &[String]) -> Result<()> {
    if roles.is_empty() {
        return Err(Error::invalid("roles", "a user needs at least one role"));
    }
    for role in roles {
        form.push("roles", role.clone());
    }
    Ok(())
}

impl Client {
    /// A user by name; [`Error::NotFound`] when absent.
    pub async fn get_user(&self, name: &str) -> Result<User> {
        self.get_one(users().segment(name)?).await
    }

    /// A user by name, or `None` when absent.
    pub async fn find_user(&self, name: &str) -> Result<Option<User>> {
        match self.get_user(name).await {
            Ok(user) => Ok(Some(user)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Users (all of them needs `edit_user`; others see themselves).
    pub async fn list_users(&self, options: &ListOptions) -> Result<Page<User>> {
        self.list(users(), options, &[]).await
    }

    /// Creates a native Splunk user.
    pub async fn create_user(&self, user: &NewUser) -> Result<User> {
        let mut form = Params::new();
        form.push("name", user.name.clone())
            .push_secret("password", user.password.clone());
        roles_form(&mut form, &user.roles)?;
        form.push_opt("realname", user.realname.clone())
            .push_opt("email", user.email.clone())
            .push_opt("defaultApp", user.default_app.clone())
            .push(
                "force-change-pass",
                if user.force_change_pass { "1" } else { "0" },
            );
        let entry = self.single_entry(&ApiRequest::post(users(), form)).await?;
        User::from_entry(&entry)
    }

    /// Replaces a user's roles.
    pub async fn update_user_roles(&self, name: &str, roles: &[String]) -> Result<User> {
        let mut form = Params::new();
        roles_form(&mut form, roles)?;
        let entry = self
            .single_entry(&ApiRequest::post(users().segment(name)?, form))
            .await?;
        User::from_entry(&entry)
    }

    /// Deletes a user.
    pub async fn delete_user(&self, name: &str) -> Result<()> {
        self.body(&ApiRequest::delete(users().segment(name)?))
            .await
            .map(drop)
    }

    /// Roles (`GET /services/authorization/roles`).
    pub async fn list_roles(&self, options: &ListOptions) -> Result<Page<Role>> {
        self.list(Endpoint::services("authorization/roles"), options, &[])
            .await
    }

    /// Mints a Splunk authentication token (`POST /services/authorization/tokens`).
    pub async fn create_token(&self, request: &TokenRequest) -> Result<MintedToken> {
        #[derive(Deserialize)]
        struct Minted {
            #[serde(default, deserialize_with = "wire::flex_string")]
            id: String,
            #[serde(default)]
            token: String,
        }
        if request.audience.trim().is_empty() {
            return Err(Error::invalid("token audience", "must not be empty"));
        }
        let requested_at = Utc::now();
        let mut form = Params::new();
        form.push("name", request.user.clone())
            .push("audience", request.audience.clone())
            .push("expires_on", request.expires.to_param())
            .push_opt("not_before", request.not_before.map(TokenTime::to_param));
        let entry = self
            .single_entry(&ApiRequest::post(
                Endpoint::services("authorization/tokens"),
                form,
            ))
            .await?;
        let minted: Minted = entry.content_as()?;
        if minted.token.is_empty() {
            return Err(Error::decode("the mint answer carries no token"));
        }
        let expires_at = jwt_expiry(&minted.token).unwrap_or(request.expires.resolve(requested_at));
        Ok(MintedToken {
            id: minted.id,
            token: SecretString::from(minted.token),
            user: request.user.clone(),
            expires_at,
        })
    }

    /// Tokens, optionally of one user only (`username=`).
    pub async fn list_tokens(
        &self,
        user: Option<&str>,
        options: &ListOptions,
    ) -> Result<Page<TokenInfo>> {
        let extra: Vec<(&str, &str)> = user.map(|u| ("username", u)).into_iter().collect();
        self.list(Endpoint::services("authorization/tokens"), options, &extra)
            .await
    }

    /// Deletes one token of `user` by id.
    pub async fn delete_token(&self, user: &str, id: &str) -> Result<()> {
        let mut query = Params::new();
        query.push("id", id);
        let request = ApiRequest::delete(Endpoint::services("authorization/tokens").segment(user)?)
            .with_query(query);
        self.body(&request).await.map(drop)
    }

    /// Enables or disables one token of `user` by id; Splunk refuses a disabled token (401).
    pub async fn set_token_enabled(&self, user: &str, id: &str, enabled: bool) -> Result<()> {
        let mut form = Params::new();
        form.push("id", id)
            .push("status", if enabled { "enabled" } else { "disabled" });
        let request = ApiRequest::post(
            Endpoint::services("authorization/tokens").segment(user)?,
            form,
        )
        .idempotent();
        self.body(&request).await.map(drop)
    }
}

/// Exposes a minted token's text, for building a client that uses it.
impl MintedToken {
    /// Bearer credentials from this token.
    pub fn credentials(&self) -> crate::Credentials {
        crate::Credentials::Bearer(self.token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_times() {
        let cases = [
            (3600, "+1h"),
            (86_400, "+1d"),
            (90, "+90s"),
            (120, "+2m"),
            (5400, "+90m"),
            (0, "+1s"),
        ];
        for (secs, sent) in cases {
            assert_eq!(TokenTime::In(Duration::from_secs(secs)).to_param(), sent);
        }
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(TokenTime::At(at).to_param(), "1800000000");
    }

    #[test]
    fn reads_jwt_expiry_without_verifying() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"mcp.alice","exp":1800000000}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(jwt_expiry(&token).unwrap().timestamp(), 1_800_000_000);
        assert_eq!(jwt_expiry("not-a-jwt"), None);
    }

    #[test]
    fn token_listing_entry() {
        let entry: RawEntry = serde_json::from_value(serde_json::json!({
            "name": "ab12", "author": "mcp.alice",
            "content": {"claims": {"sub": "mcp.alice", "aud": "mcp", "exp": 1800000000, "iat": 1799996400,
                                    "roles": ["mcp_user"]}, "status": "enabled"}
        }))
        .unwrap();
        let info = TokenInfo::from_entry(&entry).unwrap();
        assert_eq!(
            (info.id.as_str(), info.user.as_str(), info.audience.as_str()),
            ("ab12", "mcp.alice", "mcp")
        );
        assert!(info.is_expired(DateTime::from_timestamp(1_800_000_000, 0).unwrap()));
        assert!(!info.is_expired(DateTime::from_timestamp(1_799_999_999, 0).unwrap()));
    }

    #[test]
    fn new_user_debug_hides_the_password() {
        let user = NewUser::new("mcp.a", SecretString::from("hunter2"), vec!["user".into()]);
        assert!(!format!("{user:?}").contains("hunter2"));
    }
}
