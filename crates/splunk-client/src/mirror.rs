//! Mirror users: per-person native Splunk accounts `mcp.<name>` kept in step with the person's
//! real (SAML/LDAP) account, and short-lived Splunk tokens minted for them.
//!
//! The flow (seed 001): read the real user `<name>` and the mirror `mcp.<name>`; desired roles =
//! baseline ∪ the real user's roles, minus a deny list (so `admin` is never inherited); create
//! the mirror with a random password when absent, replace its roles when they drifted, write
//! nothing when they match; mint a token for the mirror. Tokens are cached per user until
//! shortly before expiry, and concurrent requests for one user share one provisioning.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::seq::{IndexedRandom, SliceRandom};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use crate::admin::{NewUser, TokenRequest, User};
use crate::auth::{Credentials, TokenFuture, TokenSource};
use crate::catalog::ListOptions;
use crate::client::Client;
use crate::error::{Error, Result};

/// Longest accepted IdP username (Splunk documents no limit; this keeps `mcp.<name>` sane).
pub const MAX_USERNAME_LEN: usize = 100;

/// How mirror users are named, which roles they get and what tokens they receive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorConfig {
    /// Prefix of mirror usernames (default `mcp.`).
    pub prefix: String,
    /// Roles every mirror user gets (default `user`).
    pub baseline_roles: Vec<String>,
    /// Roles never given to a mirror user, even when the real user has them
    /// (default `admin`, `sc_admin`).
    pub denied_roles: Vec<String>,
    /// Audience of minted tokens (default `mcp`).
    pub token_audience: String,
    /// Lifetime of minted tokens (default 1 h).
    pub token_ttl: Duration,
    /// A cached token is replaced when it has less than this left (default 5 min).
    pub refresh_margin: Duration,
    /// Length of the random password mirror users are created with (at least 32; default 40).
    pub password_length: usize,
}

impl Default for MirrorConfig {
    fn default() -> Self {
        Self {
            prefix: "mcp.".to_owned(),
            baseline_roles: vec!["user".to_owned()],
            denied_roles: vec!["admin".to_owned(), "sc_admin".to_owned()],
            token_audience: "mcp".to_owned(),
            token_ttl: Duration::from_secs(3600),
            refresh_margin: Duration::from_secs(300),
            password_length: 40,
        }
    }
}

impl MirrorConfig {
    /// The defaults with the given baseline roles.
    pub fn with_baseline_roles<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            baseline_roles: roles.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<()> {
        let config = |reason: String| Err(Error::Config(format!("mirror: {reason}")));
        if self.prefix.is_empty() || !self.prefix.bytes().all(is_username_byte) {
            return config(format!(
                "prefix {:?} is not a valid username prefix",
                self.prefix
            ));
        }
        if let Some(role) = self
            .baseline_roles
            .iter()
            .find(|r| self.denied_roles.contains(r))
        {
            return config(format!("baseline role {role:?} is also denied"));
        }
        if self.token_audience.trim().is_empty() {
            return config("the token audience is empty".to_owned());
        }
        if self.token_ttl <= self.refresh_margin {
            return config("the token TTL must be longer than the refresh margin".to_owned());
        }
        if self.password_length < 32 {
            return config("mirror passwords must be at least 32 characters".to_owned());
        }
        Ok(())
    }
}

/// What reconciliation did to the mirror user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MirrorChange {
    /// The mirror user did not exist and was created.
    Created,
    /// Its roles had drifted and were replaced.
    Updated {
        /// Roles added.
        added: Vec<String>,
        /// Roles removed.
        removed: Vec<String>,
    },
    /// Its roles already matched; nothing was written.
    Unchanged,
}

/// The outcome of reconciling one person's mirror user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciled {
    /// The mirror username (`mcp.<name>`).
    pub mirror_user: String,
    /// Whether a real user of that name exists (and so contributed roles).
    pub real_user_found: bool,
    /// The mirror's roles now, sorted.
    pub roles: Vec<String>,
    /// What was written.
    pub change: MirrorChange,
}

/// A token for a mirror user. `Debug` does not show the token.
#[derive(Clone)]
#[non_exhaustive]
pub struct MirrorToken {
    /// The mirror username the token is for.
    pub mirror_user: String,
    /// The token, to send as `Authorization: Bearer`.
    pub token: SecretString,
    /// Its id (for deletion).
    pub token_id: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The reconciliation done when the token was minted.
    pub reconciled: Reconciled,
}

impl MirrorToken {
    /// Bearer credentials from this token.
    pub fn credentials(&self) -> Credentials {
        Credentials::Bearer(self.token.clone())
    }

    fn is_fresh(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::TimeDelta::MAX);
        now + margin < self.expires_at
    }
}

impl fmt::Debug for MirrorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorToken")
            .field("mirror_user", &self.mirror_user)
            .field("token", &"[redacted]")
            .field("token_id", &self.token_id)
            .field("expires_at", &self.expires_at)
            .field("reconciled", &self.reconciled)
            .finish()
    }
}

/// What [`Provisioner::cleanup`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CleanupReport {
    /// Tokens of mirror users looked at.
    pub examined: usize,
    /// Expired tokens deleted.
    pub deleted: usize,
    /// Expired tokens whose deletion failed (they are retried on the next run).
    pub failed: usize,
}

type Slot = Arc<tokio::sync::Mutex<Option<MirrorToken>>>;

/// The [`TokenSource`] of one person's mirror user, backed by the provisioner's cache.
#[derive(Debug)]
struct MirrorSource {
    provisioner: Arc<Provisioner>,
    username: String,
}

impl TokenSource for MirrorSource {
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(async move { Ok(self.provisioner.token_for(&self.username).await?.token) })
    }

    fn replace<'a>(&'a self, refused: &'a SecretString) -> TokenFuture<'a> {
        Box::pin(async move {
            Ok(self
                .provisioner
                .replace_token(&self.username, refused)
                .await?
                .token)
        })
    }
}

/// Creates and maintains mirror users and mints their tokens, with an admin credential
/// (needs `edit_user` and `edit_tokens_all`).
pub struct Provisioner {
    admin: Client,
    config: MirrorConfig,
    /// One slot per person: its lock makes provisioning single-flight per user, and it holds
    /// the cached token.
    slots: Mutex<HashMap<String, Slot>>,
}

impl fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provisioner")
            .field("admin", &self.admin)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    /// A provisioner acting through `admin`.
    pub fn new(admin: Client, config: MirrorConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            admin,
            config,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MirrorConfig {
        &self.config
    }

    /// The mirror username for an IdP username, after validation.
    pub fn mirror_username(&self, username: &str) -> Result<String> {
        let name = validate_username(username, &self.config.prefix)?;
        Ok(format!("{}{name}", self.config.prefix))
    }

    /// A valid token for the person's mirror user: the cached one while it has more than the
    /// refresh margin left, else a new one after reconciling the mirror user. Concurrent calls
    /// for one person wait for a single provisioning.
    pub async fn token_for(&self, username: &str) -> Result<MirrorToken> {
        let name = validate_username(username, &self.config.prefix)?;
        let slot = self.slot(&name);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.is_fresh(Utc::now(), self.config.refresh_margin)
        {
            return Ok(token.clone());
        }
        self.mint(&name, &mut cached).await
    }

    /// After Splunk refused `refused` (revoked, disabled, or its mirror user deleted): a new
    /// token, minted after reconciling the mirror user again. Concurrent callers refused the
    /// same token share one new token; a caller whose refused token was already replaced gets
    /// the replacement without minting.
    pub async fn replace_token(
        &self,
        username: &str,
        refused: &SecretString,
    ) -> Result<MirrorToken> {
        let name = validate_username(username, &self.config.prefix)?;
        let slot = self.slot(&name);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.token.expose_secret() != refused.expose_secret()
            && token.is_fresh(Utc::now(), self.config.refresh_margin)
        {
            return Ok(token.clone());
        }
        tracing::info!(username = %name, "Splunk refused a mirror-user token; minting a new one");
        self.mint(&name, &mut cached).await
    }

    /// Credentials for the person's mirror user that take the token from this provisioner
    /// before each request and, when Splunk refuses it, mint a new one once and retry.
    pub fn credentials_for(self: &Arc<Self>, username: &str) -> Result<Credentials> {
        let name = validate_username(username, &self.config.prefix)?;
        Ok(Credentials::Source(Arc::new(MirrorSource {
            provisioner: Arc::clone(self),
            username: name,
        })))
    }

    /// Reconciles the mirror user and mints a token, with the person's slot held (`cached`).
    async fn mint(&self, name: &str, cached: &mut Option<MirrorToken>) -> Result<MirrorToken> {
        *cached = None;
        let reconciled = self.reconcile_valid(name).await?;
        let minted = self
            .admin
            .create_token(&TokenRequest::new(
                reconciled.mirror_user.clone(),
                self.config.token_audience.clone(),
                self.config.token_ttl,
            ))
            .await?;
        tracing::info!(
            mirror_user = %reconciled.mirror_user,
            token_id = %minted.id,
            expires_at = %minted.expires_at,
            "minted a mirror-user token"
        );
        let token = MirrorToken {
            mirror_user: reconciled.mirror_user.clone(),
            token: minted.token,
            token_id: minted.id,
            expires_at: minted.expires_at,
            reconciled,
        };
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Forgets the cached token of a person (e.g. after Splunk refused it), so the next
    /// [`Provisioner::token_for`] mints a new one.
    pub async fn invalidate(&self, username: &str) -> Result<()> {
        let name = validate_username(username, &self.config.prefix)?;
        let slot = self.slots.lock().get(&name).cloned();
        if let Some(slot) = slot {
            *slot.lock().await = None;
        }
        Ok(())
    }

    /// Creates or updates the person's mirror user without minting a token.
    pub async fn reconcile(&self, username: &str) -> Result<Reconciled> {
        let name = validate_username(username, &self.config.prefix)?;
        let slot = self.slot(&name);
        let _single_flight = slot.lock().await;
        self.reconcile_valid(&name).await
    }

    /// The roles a mirror should have given its real user: baseline ∪ real roles − denied,
    /// sorted and without duplicates.
    pub fn desired_roles(&self, real_user: Option<&User>) -> Vec<String> {
        let real = real_user.map(|u| u.roles.as_slice()).unwrap_or_default();
        let roles: BTreeSet<&String> = self
            .config
            .baseline_roles
            .iter()
            .chain(real)
            .filter(|role| !self.config.denied_roles.contains(role))
            .collect();
        roles.into_iter().cloned().collect()
    }

    /// Deletes the expired tokens of all mirror users.
    pub async fn cleanup(&self) -> Result<CleanupReport> {
        let tokens = self.admin.list_tokens(None, &ListOptions::all()).await?;
        let now = Utc::now();
        let mut report = CleanupReport::default();
        for token in tokens
            .items
            .iter()
            .filter(|t| t.user.starts_with(&self.config.prefix))
        {
            report.examined += 1;
            if !token.is_expired(now) {
                continue;
            }
            match self.admin.delete_token(&token.user, &token.id).await {
                Ok(()) | Err(Error::NotFound { .. }) => report.deleted += 1,
                Err(error) => {
                    tracing::warn!(user = %token.user, token_id = %token.id, %error, "could not delete an expired mirror token");
                    report.failed += 1;
                }
            }
        }
        tracing::info!(
            examined = report.examined,
            deleted = report.deleted,
            failed = report.failed,
            "mirror token cleanup"
        );
        Ok(report)
    }

    fn slot(&self, name: &str) -> Slot {
        self.slots
            .lock()
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    async fn reconcile_valid(&self, name: &str) -> Result<Reconciled> {
        let mirror_user = format!("{}{name}", self.config.prefix);
        let (real, mirror) = futures::try_join!(
            self.admin.find_user(name),
            self.admin.find_user(&mirror_user)
        )?;
        let desired = self.desired_roles(real.as_ref());
        if desired.is_empty() {
            return Err(Error::Config(
                "mirror: no role left to give the mirror user (empty baseline?)".to_owned(),
            ));
        }
        let change = match mirror {
            None => self.create_mirror(&mirror_user, &desired).await?,
            Some(existing) => self.update_if_drifted(&existing, &desired).await?,
        };
        tracing::debug!(%mirror_user, real_user_found = real.is_some(), ?change, "mirror user reconciled");
        Ok(Reconciled {
            mirror_user,
            real_user_found: real.is_some(),
            roles: desired,
            change,
        })
    }

    async fn create_mirror(&self, mirror_user: &str, desired: &[String]) -> Result<MirrorChange> {
        let mut user = NewUser::new(
            mirror_user,
            random_password(self.config.password_length),
            desired.to_vec(),
        );
        user.realname = Some(format!(
            "MCP mirror of {}",
            &mirror_user[self.config.prefix.len()..]
        ));
        match self.admin.create_user(&user).await {
            Ok(_) => {
                tracing::info!(%mirror_user, roles = ?desired, "created mirror user");
                Ok(MirrorChange::Created)
            }
            // Another replica created it in the meantime: converge on its roles instead.
            Err(Error::Conflict { .. }) => {
                let existing = self.admin.get_user(mirror_user).await?;
                self.update_if_drifted(&existing, desired).await
            }
            Err(error) => Err(error),
        }
    }

    async fn update_if_drifted(&self, existing: &User, desired: &[String]) -> Result<MirrorChange> {
        let current: BTreeSet<&String> = existing.roles.iter().collect();
        let wanted: BTreeSet<&String> = desired.iter().collect();
        if current == wanted {
            return Ok(MirrorChange::Unchanged);
        }
        let added: Vec<String> = wanted.difference(&current).map(|r| (*r).clone()).collect();
        let removed: Vec<String> = current.difference(&wanted).map(|r| (*r).clone()).collect();
        self.admin
            .update_user_roles(&existing.name, desired)
            .await?;
        tracing::info!(mirror_user = %existing.name, ?added, ?removed, "updated mirror user roles");
        Ok(MirrorChange::Updated { added, removed })
    }
}

fn is_username_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@')
}

/// Checks an IdP username against Splunk's username rules, tightened so it can never alter a
/// path, a form or a search: ASCII letters, digits and `. _ - @` only, starting with a letter
/// or digit, at most [`MAX_USERNAME_LEN`] characters, and not itself a mirror name. Splunk
/// usernames are case-insensitive, so the result is lowercased.
pub fn validate_username(username: &str, mirror_prefix: &str) -> Result<String> {
    let refuse = |reason: &str| Err(Error::invalid("username", reason));
    if username.is_empty() {
        return refuse("it is empty");
    }
    if username.len() > MAX_USERNAME_LEN {
        return refuse("it is longer than 100 characters");
    }
    if !username.is_ascii() {
        return refuse("only ASCII letters, digits, '.', '_', '-' and '@' are allowed");
    }
    if !username.bytes().all(is_username_byte) {
        return refuse("only letters, digits, '.', '_', '-' and '@' are allowed");
    }
    if !username.as_bytes()[0].is_ascii_alphanumeric() {
        return refuse("it must start with a letter or a digit");
    }
    let name = username.to_ascii_lowercase();
    if name.starts_with(&mirror_prefix.to_ascii_lowercase()) {
        return refuse("it is already a mirror username");
    }
    Ok(name)
}

/// A random password of `length` characters with lower and upper case letters, digits and
/// symbols (so common password policies accept it), drawn from the thread's CSPRNG.
fn random_password(length: usize) -> SecretString {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    const SYMBOLS: &[u8] = b"!#%+-.=_~";
    let mut rng = rand::rng();
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut bytes: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS]
        .iter()
        .filter_map(|class| class.choose(&mut rng).copied())
        .collect();
    while bytes.len() < length {
        if let Some(b) = all.choose(&mut rng) {
            bytes.push(*b);
        }
    }
    bytes.shuffle(&mut rng);
    let password = String::from_utf8_lossy(&bytes).into_owned();
    bytes.zeroize();
    SecretString::from(password)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn hostile_usernames_are_refused() {
        let long = "a".repeat(300);
        for hostile in [
            "../admin",
            "a&roles=admin",
            "",
            long.as_str(),
            "jos\u{e9}",
            "\u{430}dmin",
            "a b",
            "a/b",
            "a:b",
            "a%2fb",
            "a\nb",
            "-x",
            ".x",
            "..",
            "a?x=1",
            "a#b",
            "mcp.alice",
            "MCP.x",
            "a\u{0}",
            "x;y",
            "a+b",
            "a\\b",
        ] {
            let result = validate_username(hostile, "mcp.");
            assert!(
                matches!(
                    result,
                    Err(Error::InvalidArgument {
                        what: "username",
                        ..
                    })
                ),
                "{hostile:?} was accepted"
            );
        }
    }

    #[test]
    fn ordinary_usernames_are_accepted_and_lowercased() {
        for (input, name) in [
            ("alice", "alice"),
            ("Bob", "bob"),
            ("carol.smith", "carol.smith"),
            ("d_e-f", "d_e-f"),
            ("u@example.com", "u@example.com"),
            ("7up", "7up"),
        ] {
            assert_eq!(validate_username(input, "mcp.").unwrap(), name);
        }
        assert!(validate_username(&"a".repeat(100), "mcp.").is_ok());
    }

    #[test]
    fn passwords_are_long_random_and_mixed() {
        let a = random_password(40);
        let b = random_password(40);
        let text = a.expose_secret();
        assert_eq!(text.len(), 40);
        assert_ne!(text, b.expose_secret());
        assert!(text.bytes().any(|c| c.is_ascii_lowercase()));
        assert!(text.bytes().any(|c| c.is_ascii_uppercase()));
        assert!(text.bytes().any(|c| c.is_ascii_digit()));
        assert!(text.bytes().any(|c| !c.is_ascii_alphanumeric()));
    }

    fn provisioner(config: MirrorConfig) -> Result<Provisioner> {
        let client = Client::new(
            &crate::ClientConfig::new("http://127.0.0.1:9"),
            crate::Credentials::bearer("x"),
        )?;
        Provisioner::new(client, config)
    }

    #[test]
    fn desired_roles_are_the_union_minus_denied() {
        let provisioner =
            provisioner(MirrorConfig::with_baseline_roles(["mcp_user", "user"])).unwrap();
        let real = User {
            roles: vec![
                "power".into(),
                "admin".into(),
                "user".into(),
                "sc_admin".into(),
            ],
            ..User::default()
        };
        assert_eq!(
            provisioner.desired_roles(Some(&real)),
            ["mcp_user", "power", "user"]
        );
        assert_eq!(provisioner.desired_roles(None), ["mcp_user", "user"]);
    }

    #[test]
    fn config_is_validated() {
        let cases = [
            MirrorConfig {
                baseline_roles: vec!["admin".into()],
                ..MirrorConfig::default()
            },
            MirrorConfig {
                password_length: 16,
                ..MirrorConfig::default()
            },
            MirrorConfig {
                prefix: "mcp/".into(),
                ..MirrorConfig::default()
            },
            MirrorConfig {
                token_ttl: Duration::from_secs(60),
                ..MirrorConfig::default()
            },
            MirrorConfig {
                token_audience: " ".into(),
                ..MirrorConfig::default()
            },
        ];
        for config in cases {
            assert!(
                matches!(provisioner(config.clone()), Err(Error::Config(_))),
                "{config:?}"
            );
        }
        assert!(provisioner(MirrorConfig::default()).is_ok());
    }

    #[tokio::test]
    async fn hostile_usernames_never_reach_splunk() {
        // The base URL is unreachable: a request would fail with Transport, not InvalidArgument.
        let provisioner = provisioner(MirrorConfig::default()).unwrap();
        for hostile in ["../admin", "a&roles=admin", "", "ünïcode"] {
            assert!(matches!(
                provisioner.token_for(hostile).await,
                Err(Error::InvalidArgument { .. })
            ));
            assert!(matches!(
                provisioner.reconcile(hostile).await,
                Err(Error::InvalidArgument { .. })
            ));
        }
    }
}
