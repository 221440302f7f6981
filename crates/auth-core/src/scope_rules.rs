//! Who may hold which scope: [`ScopeRules`] map a scope to the groups allowed to hold it, and
//! [`ScopeRulesVerifier`] narrows every verified caller to the scopes its groups allow.
//!
//! A token's `scope` says what a client asked for and an IdP let through; many IdPs grant any
//! scope a client names. These rules are the resource server's own word on it, applied to
//! every token whatever its issuer.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::scope::ScopeSet;
use crate::verifier::{TokenVerifier, VerifyFuture};

/// Scope → the groups one of which a caller needs to hold it. A scope without a rule may be
/// held by anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeRules {
    rules: BTreeMap<String, Vec<String>>,
}

/// A scope rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeRuleError {
    /// A rule is not `scope=group,group`.
    #[error("`{rule}` is not a rule of the form scope=group[,group...]")]
    Malformed {
        /// The rule as written.
        rule: String,
    },
    /// The scope is not a valid scope token.
    #[error("invalid scope in `{rule}`: {reason}")]
    InvalidScope {
        /// The rule as written.
        rule: String,
        /// Why the scope is invalid.
        reason: String,
    },
    /// The rule names no group, so nobody could hold the scope.
    #[error("the rule for {scope} names no group")]
    NoGroups {
        /// The scope.
        scope: String,
    },
    /// Two rules for one scope.
    #[error("{scope} has two rules")]
    Duplicate {
        /// The scope.
        scope: String,
    },
}

impl ScopeRules {
    /// No rules: every scope may be held by anyone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `splunk:admin=admins;splunk:search=analysts,admins` (rules separated by `;`,
    /// groups by `,`, blanks around names ignored).
    pub fn parse(text: &str) -> Result<Self, ScopeRuleError> {
        let mut rules = Self::new();
        for rule in text.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some((scope, groups)) = rule.split_once('=') else {
                return Err(ScopeRuleError::Malformed {
                    rule: rule.to_owned(),
                });
            };
            let scope = scope.trim();
            if scope.is_empty() {
                return Err(ScopeRuleError::Malformed {
                    rule: rule.to_owned(),
                });
            }
            rules = rules.with_rule(scope, groups.split(','))?;
        }
        Ok(rules)
    }

    /// Adds the rule that only members of one of `groups` may hold `scope`.
    pub fn with_rule<I, S>(mut self, scope: &str, groups: I) -> Result<Self, ScopeRuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ScopeSet::parse(scope).map_err(|reason| ScopeRuleError::InvalidScope {
            rule: scope.to_owned(),
            reason,
        })?;
        if scope.contains(' ') {
            return Err(ScopeRuleError::Malformed {
                rule: scope.to_owned(),
            });
        }
        let mut list: Vec<String> = Vec::new();
        for group in groups {
            let group = group.as_ref().trim();
            if !group.is_empty() && !list.iter().any(|g| g == group) {
                list.push(group.to_owned());
            }
        }
        if list.is_empty() {
            return Err(ScopeRuleError::NoGroups {
                scope: scope.to_owned(),
            });
        }
        if self.rules.insert(scope.to_owned(), list).is_some() {
            return Err(ScopeRuleError::Duplicate {
                scope: scope.to_owned(),
            });
        }
        Ok(self)
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule, by scope.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.rules.iter().map(|(s, g)| (s.as_str(), g.as_slice()))
    }

    /// The groups allowed to hold `scope`, `None` when anyone may.
    pub fn groups_for(&self, scope: &str) -> Option<&[String]> {
        self.rules.get(scope).map(Vec::as_slice)
    }

    /// Whether a member of `groups` may hold `scope`.
    pub fn may_hold(&self, scope: &str, groups: &[String]) -> bool {
        self.rules
            .get(scope)
            .is_none_or(|allowed| allowed.iter().any(|g| groups.contains(g)))
    }

    /// `scopes` split into those a member of `groups` may hold and those withheld.
    pub fn split(&self, scopes: &ScopeSet, groups: &[String]) -> (ScopeSet, ScopeSet) {
        let mut kept = ScopeSet::new();
        let mut withheld = ScopeSet::new();
        for scope in scopes.iter() {
            let side = if self.may_hold(scope, groups) {
                &mut kept
            } else {
                &mut withheld
            };
            // Already validated as part of `scopes`.
            let _ = side.insert(scope);
        }
        (kept, withheld)
    }

    /// The scopes of `scopes` a member of `groups` may hold.
    pub fn allowed(&self, scopes: &ScopeSet, groups: &[String]) -> ScopeSet {
        self.split(scopes, groups).0
    }

    /// Why `scope` may not be held, for messages: `only members of admins may hold it`.
    pub fn explain(&self, scope: &str) -> String {
        match self.groups_for(scope) {
            None => format!("anyone may hold {scope}"),
            Some(groups) => format!("only members of {} may hold {scope}", groups.join(" or ")),
        }
    }
}

impl fmt::Display for ScopeRules {
    /// The `MCP_AUTH_SCOPE_GROUPS` form, which [`ScopeRules::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (scope, groups)) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{scope}={}", groups.join(","))?;
        }
        Ok(())
    }
}

/// Narrows what another verifier accepts to the scopes [`ScopeRules`] allow each caller
/// (see [`crate::AuthContext::restricted_by`]). Put it inside a [`crate::CachingVerifier`] so a cached
/// token costs nothing more.
pub struct ScopeRulesVerifier {
    inner: Arc<dyn TokenVerifier>,
    rules: Arc<ScopeRules>,
    groups_claim: String,
    warned_missing_groups: AtomicBool,
}

impl fmt::Debug for ScopeRulesVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeRulesVerifier")
            .field("rules", &self.rules.to_string())
            .field("groups_claim", &self.groups_claim)
            .finish_non_exhaustive()
    }
}

impl ScopeRulesVerifier {
    /// Applies `rules` to what `inner` verifies; `groups_claim` names the claim groups come
    /// from, for the warning when tokens lack it.
    pub fn new(
        inner: Arc<dyn TokenVerifier>,
        rules: Arc<ScopeRules>,
        groups_claim: impl Into<String>,
    ) -> Self {
        Self {
            inner,
            rules,
            groups_claim: groups_claim.into(),
            warned_missing_groups: AtomicBool::new(false),
        }
    }
}

impl TokenVerifier for ScopeRulesVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            let ctx = self.inner.verify(token).await?;
            if self.rules.is_empty() {
                return Ok(ctx);
            }
            if !ctx.claims().groups_claim_present
                && !self.warned_missing_groups.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    groups_claim = %self.groups_claim,
                    subject = ctx.subject(),
                    "a token has no groups claim, so its holder keeps only the scopes no rule \
                     restricts; have the IdP send it, or set MCP_AUTH_GROUPS_CLAIM (logged once)"
                );
            }
            Ok(ctx.restricted_by(&self.rules))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|g| (*g).to_owned()).collect()
    }

    #[test]
    fn parses_and_prints_back() {
        let rules =
            ScopeRules::parse(" splunk:admin = admins ; splunk:search=analysts, admins;").unwrap();
        assert_eq!(
            rules.to_string(),
            "splunk:admin=admins;splunk:search=analysts,admins"
        );
        assert_eq!(ScopeRules::parse(&rules.to_string()).unwrap(), rules);
        assert_eq!(
            rules.groups_for("splunk:search"),
            Some(&groups(&["analysts", "admins"])[..])
        );
        assert!(rules.groups_for("splunk:read").is_none());
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let cases = [
            ("splunk:admin", "is not a rule"),
            ("=admins", "is not a rule"),
            ("splunk:admin=", "names no group"),
            ("splunk:admin= , ", "names no group"),
            ("a\"b=admins", "invalid scope"),
            ("a b=admins", "is not a rule"),
            ("x=a;x=b", "two rules"),
        ];
        for (text, expected) in cases {
            let error = ScopeRules::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn splits_by_group() {
        let rules = ScopeRules::parse("splunk:admin=admins;splunk:search=analysts,admins").unwrap();
        let asked = ScopeSet::parse("splunk:read splunk:search splunk:admin").unwrap();
        let (kept, withheld) = rules.split(&asked, &groups(&["analysts"]));
        assert_eq!(kept.to_string(), "splunk:read splunk:search");
        assert_eq!(withheld.to_string(), "splunk:admin");
        assert_eq!(
            rules.allowed(&asked, &groups(&["admins"])).to_string(),
            "splunk:admin splunk:read splunk:search"
        );
        assert_eq!(rules.allowed(&asked, &[]).to_string(), "splunk:read");
        assert!(ScopeRules::new().may_hold("anything", &[]));
        assert_eq!(
            rules.explain("splunk:search"),
            "only members of analysts or admins may hold splunk:search"
        );
    }
}
