//! The life of a grant (a refresh-token family) beyond our own tokens: the IdP's tokens held
//! for it, refreshed when a call needs a fresh access token, and revoked at the IdP together
//! with the grant.
//!
//! A grant whose IdP tokens are gone, or whose refresh the IdP refuses (`invalid_grant`), can
//! never give access again: it is revoked here, so our tokens pointing at it stop working too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::error::StoreError;
use crate::records::{RefreshGrant, Secret, UpstreamTokenSet, now_millis};
use crate::store::millis;
use crate::upstream::{TokenTypeHint, UpstreamError};

use super::AuthorizationServer;

/// The IdP access token held for a grant, fresh enough to use.
pub(crate) struct UpstreamAccess {
    /// The IdP's access token (what passthrough sends to Splunk). Never log it.
    pub(crate) token: Secret,
    /// When it expires (Unix ms), if the IdP said.
    pub(crate) expires_at: Option<u64>,
}

/// Why no IdP access token can be had for a grant.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GrantError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The grant can no longer give access (IdP tokens gone, expired with no refresh token, or
    /// the IdP refused to refresh them); it has been revoked.
    #[error("the grant is no longer usable: {0}")]
    Dead(&'static str),
    /// The IdP could not refresh the tokens now (unreachable, or an error other than
    /// `invalid_grant`); the grant stays, a later try may work.
    #[error(transparent)]
    Unavailable(UpstreamError),
}

/// One upstream refresh at a time per grant within this process: concurrent requests near
/// the expiry would otherwise each spend the IdP refresh token, and IdPs with refresh-token
/// rotation take the second use for theft and end the grant.
#[derive(Default)]
pub(crate) struct RefreshLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl RefreshLocks {
    /// The lock for `upstream_id`, shared with every request holding it now.
    fn lock_for(&self, upstream_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Entries live only while a request holds them; the map stays as small as the
        // number of refreshes in flight.
        locks.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = locks.get(upstream_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(upstream_id.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

impl AuthorizationServer {
    /// Revokes a grant: marks its refresh family revoked (so every refresh token and access
    /// token of it stops working), then revokes its IdP tokens at the IdP (best effort) and
    /// deletes them. `false` when there was no such grant.
    pub(crate) async fn revoke_grant(&self, family_id: &str) -> Result<bool, StoreError> {
        let Some(family) = self.store.revoke_refresh_family(family_id).await? else {
            return Ok(false);
        };
        self.discard_upstream_tokens(&family.grant.upstream_id)
            .await?;
        tracing::info!(
            grant = family_id,
            client_id = %family.grant.client_id,
            "revoked a grant"
        );
        Ok(true)
    }

    /// Deletes the IdP tokens stored under `upstream_id` and revokes them at the IdP (best
    /// effort: failures are logged, the tokens are gone from here either way).
    pub(crate) async fn discard_upstream_tokens(
        &self,
        upstream_id: &str,
    ) -> Result<(), StoreError> {
        let tokens = self.store.get_upstream_tokens(upstream_id).await?;
        // Deleted first, so nothing here uses them while the IdP is being told.
        self.store.delete_upstream_tokens(upstream_id).await?;
        let Some(tokens) = tokens else {
            return Ok(());
        };
        if let Some(refresh) = &tokens.refresh_token {
            self.revoke_upstream(refresh, TokenTypeHint::RefreshToken)
                .await;
        }
        self.revoke_upstream(&tokens.access_token, TokenTypeHint::AccessToken)
            .await;
        Ok(())
    }

    async fn revoke_upstream(&self, token: &Secret, hint: TokenTypeHint) {
        match self.upstream.revoke(token.expose(), hint).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!(
                ?hint,
                "the identity provider has no revocation endpoint; its token is only deleted here"
            ),
            Err(e) => tracing::warn!(
                ?hint,
                error = %e,
                "revoking a token at the identity provider failed; it stays valid there until it expires"
            ),
        }
    }

    /// The IdP access token of `grant`, refreshed first (and the new set stored) when it
    /// expires within `config.upstream_refresh_margin`.
    ///
    /// A grant that cannot give access any more is revoked and answered [`GrantError::Dead`].
    /// When the IdP cannot be reached but the current token has not expired yet, that token
    /// is returned.
    pub(crate) async fn upstream_access_token(
        &self,
        grant: &RefreshGrant,
    ) -> Result<UpstreamAccess, GrantError> {
        self.upstream_tokens(grant, false).await.map(access)
    }

    /// The user's groups now, for re-evaluating scope rules at a refresh of ours: the grant's
    /// IdP tokens are refreshed at once, and the new ID token (or userinfo) says. When the IdP
    /// gave no refresh token, or cannot be reached while its token is still valid, the groups
    /// its current tokens last said are used; when no IdP answer ever named groups, those of
    /// the sign-in.
    pub(crate) async fn current_groups(
        &self,
        grant: &RefreshGrant,
    ) -> Result<Vec<String>, GrantError> {
        let tokens = self.upstream_tokens(grant, true).await?;
        Ok(tokens.groups.unwrap_or_else(|| grant.groups.clone()))
    }

    /// The IdP tokens of `grant`, refreshed at the IdP when `force`, or when the access token
    /// expires within `config.upstream_refresh_margin`.
    async fn upstream_tokens(
        &self,
        grant: &RefreshGrant,
        force: bool,
    ) -> Result<UpstreamTokenSet, GrantError> {
        let margin = millis(self.config.upstream_refresh_margin);
        let tokens = self.current_upstream_tokens(grant).await?;
        if !force && !expires_within(&tokens, now_millis(), margin) {
            return Ok(tokens);
        }

        let lock = self.upstream_refreshes.lock_for(&grant.upstream_id);
        let _refreshing = lock.lock().await;
        // Another request may have refreshed while this one waited.
        let tokens = self.current_upstream_tokens(grant).await?;
        if !force && !expires_within(&tokens, now_millis(), margin) {
            return Ok(tokens);
        }
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            if expires_within(&tokens, now_millis(), 0) {
                self.revoke_grant(&grant.family_id).await?;
                return Err(GrantError::Dead(
                    "the identity provider's access token expired and there is no refresh token",
                ));
            }
            // Still valid for a little while, and nothing better can be had.
            return Ok(tokens);
        };
        match self.upstream.refresh(refresh_token.expose()).await {
            Ok(mut fresh) => {
                let other_user = fresh.subject.as_ref().is_some_and(|s| *s != grant.subject);
                if fresh.groups.is_none() {
                    // This answer did not say; what the last one said still stands.
                    fresh.groups.clone_from(&tokens.groups);
                    fresh.subject.clone_from(&tokens.subject);
                }
                // Stored in every case: if the grant ends below, revoking it revokes these
                // tokens at the IdP too.
                self.store
                    .put_upstream_tokens(
                        &grant.upstream_id,
                        &fresh,
                        Some(self.grant_remaining(grant)),
                    )
                    .await?;
                if other_user {
                    // OIDC Core §12.2: a refreshed ID token names the same subject.
                    tracing::warn!(
                        grant = %grant.family_id,
                        "the identity provider's refreshed tokens name another subject: revoking the grant"
                    );
                    self.revoke_grant(&grant.family_id).await?;
                    return Err(GrantError::Dead(
                        "the identity provider's refreshed tokens name another user",
                    ));
                }
                // A revocation that ran meanwhile must not find the tokens back in place.
                let alive = self
                    .store
                    .get_refresh_family(&grant.family_id)
                    .await?
                    .is_some_and(|f| !f.revoked);
                if !alive {
                    self.discard_upstream_tokens(&grant.upstream_id).await?;
                    return Err(GrantError::Dead("the grant was revoked"));
                }
                tracing::debug!(
                    grant = %grant.family_id,
                    "refreshed the identity provider's access token"
                );
                Ok(fresh)
            }
            Err(e) if e.oauth_code() == Some("invalid_grant") => {
                tracing::info!(
                    grant = %grant.family_id,
                    error = %e,
                    "the identity provider refused to refresh its tokens: revoking the grant"
                );
                self.revoke_grant(&grant.family_id).await?;
                Err(GrantError::Dead(
                    "the identity provider refused to refresh its tokens",
                ))
            }
            Err(e) => {
                if !expires_within(&tokens, now_millis(), 0) {
                    tracing::warn!(
                        grant = %grant.family_id,
                        error = %e,
                        "refreshing the identity provider's token failed; using the current one until it expires"
                    );
                    return Ok(tokens);
                }
                tracing::warn!(
                    grant = %grant.family_id,
                    error = %e,
                    "refreshing the identity provider's token failed"
                );
                Err(GrantError::Unavailable(e))
            }
        }
    }

    /// The stored IdP tokens of a grant; their absence ends the grant.
    async fn current_upstream_tokens(
        &self,
        grant: &RefreshGrant,
    ) -> Result<UpstreamTokenSet, GrantError> {
        match self.store.get_upstream_tokens(&grant.upstream_id).await? {
            Some(tokens) => Ok(tokens),
            None => {
                self.revoke_grant(&grant.family_id).await?;
                Err(GrantError::Dead(
                    "the identity provider's tokens for the grant are gone",
                ))
            }
        }
    }

    /// How long the grant lives on: the IdP tokens are kept that long, no longer.
    fn grant_remaining(&self, grant: &RefreshGrant) -> Duration {
        let end = grant
            .created_at
            .saturating_add(millis(self.config.refresh_token_ttl));
        Duration::from_millis(end.saturating_sub(now_millis()).max(1000))
    }
}

/// Whether the token expires within `margin` ms of `now` (never, when the IdP gave no expiry).
fn expires_within(tokens: &UpstreamTokenSet, now: u64, margin: u64) -> bool {
    tokens
        .expires_at
        .is_some_and(|expires_at| expires_at <= now.saturating_add(margin))
}

fn access(tokens: UpstreamTokenSet) -> UpstreamAccess {
    UpstreamAccess {
        token: tokens.access_token.clone(),
        expires_at: tokens.expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(expires_at: Option<u64>) -> UpstreamTokenSet {
        UpstreamTokenSet {
            access_token: Secret::new("at"),
            refresh_token: None,
            id_token: None,
            expires_at,
            scope: None,
            subject: None,
            groups: None,
        }
    }

    #[test]
    fn expiry_margin() {
        assert!(!expires_within(&set(None), 1_000, u64::MAX));
        assert!(expires_within(&set(Some(1_500)), 1_000, 500));
        assert!(!expires_within(&set(Some(1_501)), 1_000, 500));
        assert!(expires_within(&set(Some(999)), 1_000, 0));
    }

    #[tokio::test]
    async fn refresh_locks_are_shared_while_held() {
        let locks = RefreshLocks::default();
        {
            let a = locks.lock_for("u1");
            let b = locks.lock_for("u1");
            assert!(Arc::ptr_eq(&a, &b));
            let _held = a.lock().await;
            assert!(b.try_lock().is_err());
            assert!(locks.lock_for("u2").try_lock().is_ok());
        }
        let map_len = locks.0.lock().unwrap().len();
        let _ = locks.lock_for("u3");
        assert!(locks.0.lock().unwrap().len() <= map_len);
    }
}
