//! Authorization policies over an [`AuthContext`]: scopes, groups and their combinations. A
//! denial says what is missing so the caller can ask for a step-up.

use crate::challenge::Challenge;
use crate::context::AuthContext;
use crate::scope::ScopeSet;

/// A rule deciding whether a caller may do something.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Policy {
    /// Always allows.
    Allow,
    /// Needs every scope of the set.
    RequireScopes(ScopeSet),
    /// Needs at least one scope of the set.
    AnyScope(ScopeSet),
    /// Needs membership of the group.
    RequireGroup(String),
    /// Needs membership of at least one of the groups.
    AnyGroup(Vec<String>),
    /// Needs every sub-policy.
    And(Vec<Policy>),
    /// Needs at least one sub-policy.
    Or(Vec<Policy>),
}

/// Why a policy said no.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Denial {
    /// Scopes the caller lacks (for [`Policy::AnyScope`], any one of them would do).
    pub missing_scopes: ScopeSet,
    /// Groups the caller is not in (for [`Policy::AnyGroup`], any one of them would do).
    pub missing_groups: Vec<String>,
    /// Needed scopes the caller may not hold at all (see [`crate::ScopeRules`]), so asking
    /// for them again cannot help; filled in by whoever knows the rules, and not repeated in
    /// `missing_scopes`.
    pub unattainable_scopes: ScopeSet,
}

impl Denial {
    /// The `insufficient_scope` challenge asking for the missing scopes plus those already
    /// granted, as mcp-auth recommends, so a client's step-up does not lose scopes. When only
    /// groups are missing, its description names them, since no scope would help.
    pub fn challenge(&self, granted: &ScopeSet) -> Challenge {
        let description = if self.missing_scopes.is_empty() && !self.missing_groups.is_empty() {
            format!(
                "Membership of one of these groups is required: {}",
                self.missing_groups.join(", ")
            )
        } else {
            "The access token lacks a required scope".to_owned()
        };
        Challenge::InsufficientScope {
            scope: self.missing_scopes.union(granted),
            description: Some(description),
        }
    }
}

/// The outcome of a policy evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, with what is missing.
    Deny(Denial),
}

impl Decision {
    /// Whether the decision allows.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

impl Policy {
    /// Needs every scope in the space-delimited `scopes`; invalid scope tokens are a configuration error.
    pub fn require_scopes(scopes: &str) -> Result<Self, String> {
        ScopeSet::parse(scopes).map(Self::RequireScopes)
    }

    /// Needs at least one scope in the space-delimited `scopes`.
    pub fn any_scope(scopes: &str) -> Result<Self, String> {
        ScopeSet::parse(scopes).map(Self::AnyScope)
    }

    /// Needs membership of `group`.
    pub fn require_group(group: impl Into<String>) -> Self {
        Self::RequireGroup(group.into())
    }

    /// Both this and `other`.
    pub fn and(self, other: Policy) -> Self {
        match self {
            Self::And(mut v) => {
                v.push(other);
                Self::And(v)
            }
            first => Self::And(vec![first, other]),
        }
    }

    /// This or `other`.
    pub fn or(self, other: Policy) -> Self {
        match self {
            Self::Or(mut v) => {
                v.push(other);
                Self::Or(v)
            }
            first => Self::Or(vec![first, other]),
        }
    }

    /// Evaluates against a verified caller.
    pub fn evaluate(&self, ctx: &AuthContext) -> Decision {
        self.evaluate_parts(ctx.scopes(), ctx.groups())
    }

    /// Evaluates against granted scopes and groups.
    pub fn evaluate_parts(&self, scopes: &ScopeSet, groups: &[String]) -> Decision {
        match self {
            Self::Allow => Decision::Allow,
            Self::RequireScopes(need) => {
                if scopes.contains_all(need) {
                    Decision::Allow
                } else {
                    Decision::Deny(Denial {
                        missing_scopes: scopes.missing_from(need),
                        ..Denial::default()
                    })
                }
            }
            Self::AnyScope(need) => {
                if need.is_empty() || scopes.contains_any(need) {
                    Decision::Allow
                } else {
                    Decision::Deny(Denial {
                        missing_scopes: need.clone(),
                        ..Denial::default()
                    })
                }
            }
            Self::RequireGroup(g) => {
                if groups.iter().any(|have| have == g) {
                    Decision::Allow
                } else {
                    Decision::Deny(Denial {
                        missing_groups: vec![g.clone()],
                        ..Denial::default()
                    })
                }
            }
            Self::AnyGroup(any) => {
                if any.is_empty() || any.iter().any(|g| groups.contains(g)) {
                    Decision::Allow
                } else {
                    Decision::Deny(Denial {
                        missing_groups: any.clone(),
                        ..Denial::default()
                    })
                }
            }
            Self::And(all) => {
                let mut denial: Option<Denial> = None;
                for p in all {
                    if let Decision::Deny(d) = p.evaluate_parts(scopes, groups) {
                        let acc = denial.get_or_insert_with(Denial::default);
                        acc.missing_scopes = acc.missing_scopes.union(&d.missing_scopes);
                        for g in d.missing_groups {
                            if !acc.missing_groups.contains(&g) {
                                acc.missing_groups.push(g);
                            }
                        }
                    }
                }
                denial.map_or(Decision::Allow, Decision::Deny)
            }
            Self::Or(any) => {
                // Report the cheapest alternative: the one needing the fewest extra grants.
                let mut best: Option<Denial> = None;
                for p in any {
                    match p.evaluate_parts(scopes, groups) {
                        Decision::Allow => return Decision::Allow,
                        Decision::Deny(d) => {
                            let cost = d.missing_scopes.len() + d.missing_groups.len();
                            if best.as_ref().is_none_or(|b| {
                                cost < b.missing_scopes.len() + b.missing_groups.len()
                            }) {
                                best = Some(d);
                            }
                        }
                    }
                }
                best.map_or(Decision::Allow, Decision::Deny)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn require_scopes_names_missing() {
        let p = Policy::require_scopes("splunk:read splunk:search").unwrap();
        let d = p.evaluate_parts(&scopes("splunk:read"), &[]);
        let Decision::Deny(denial) = d else {
            panic!("expected deny")
        };
        assert_eq!(denial.missing_scopes.to_string(), "splunk:search");
    }

    #[test]
    fn and_or_group_tags() {
        let admin = Policy::require_scopes("splunk:admin")
            .unwrap()
            .and(Policy::require_group("splunk-admins"));
        let d = admin.evaluate_parts(&scopes("splunk:read"), &["users".to_owned()]);
        let Decision::Deny(denial) = d else {
            panic!("expected deny")
        };
        assert_eq!(denial.missing_scopes.to_string(), "splunk:admin");
        assert_eq!(denial.missing_groups, vec!["splunk-admins"]);
        assert!(
            admin
                .evaluate_parts(&scopes("splunk:admin"), &["splunk-admins".to_owned()])
                .is_allowed()
        );

        let either = Policy::require_scopes("a b c")
            .unwrap()
            .or(Policy::require_scopes("d").unwrap());
        let Decision::Deny(denial) = either.evaluate_parts(&scopes(""), &[]) else {
            panic!("expected deny")
        };
        assert_eq!(denial.missing_scopes.to_string(), "d");
        assert!(
            Policy::any_scope("x y")
                .unwrap()
                .evaluate_parts(&scopes("y"), &[])
                .is_allowed()
        );

        let either_group = Policy::AnyGroup(vec!["a".to_owned(), "b".to_owned()]);
        assert!(
            either_group
                .evaluate_parts(&scopes(""), &["b".to_owned()])
                .is_allowed()
        );
        let Decision::Deny(denial) = either_group.evaluate_parts(&scopes(""), &[]) else {
            panic!("expected deny")
        };
        assert_eq!(denial.missing_groups, vec!["a", "b"]);
        let Challenge::InsufficientScope { description, .. } = denial.challenge(&scopes("x"))
        else {
            panic!("an insufficient_scope challenge")
        };
        assert_eq!(
            description.as_deref(),
            Some("Membership of one of these groups is required: a, b")
        );
    }
}
