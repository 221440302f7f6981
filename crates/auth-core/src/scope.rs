//! `ScopeSet`: the OAuth scopes a token grants or a policy needs (RFC 6749 §3.3 scope tokens).

use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens, kept sorted so its space-separated form is stable (challenges, logs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` string. Fails on characters RFC 6749 forbids in a
    /// scope token, because such a scope could break out of a quoted challenge parameter.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            check_scope_token(token)?;
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a set from scope tokens, validating each.
    pub fn try_from_iter<I, S>(iter: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for s in iter {
            let s = s.into();
            check_scope_token(&s)?;
            set.insert(s);
        }
        Ok(Self(set))
    }

    /// Adds one scope token (validated).
    pub fn insert(&mut self, scope: impl Into<String>) -> Result<(), String> {
        let scope = scope.into();
        check_scope_token(&scope)?;
        self.0.insert(scope);
        Ok(())
    }

    /// Whether the set grants `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `other` is in this set.
    pub fn contains_all(&self, other: &ScopeSet) -> bool {
        other.0.is_subset(&self.0)
    }

    /// Whether at least one scope of `other` is in this set.
    pub fn contains_any(&self, other: &ScopeSet) -> bool {
        other.0.iter().any(|s| self.0.contains(s))
    }

    /// The scopes of `required` this set lacks.
    pub fn missing_from(&self, required: &ScopeSet) -> ScopeSet {
        Self(required.0.difference(&self.0).cloned().collect())
    }

    /// This set together with `other`.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Iterates the scopes in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ScopeSet {
    /// The space-delimited form used in `scope` parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
        }
        Ok(())
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn check_scope_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("empty scope".to_owned());
    }
    let ok = token
        .bytes()
        .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "scope {} has characters RFC 6749 forbids",
            crate::error::clip(token)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sorted() {
        let s = ScopeSet::parse("splunk:search  splunk:read").unwrap();
        assert_eq!(s.to_string(), "splunk:read splunk:search");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn rejects_quote_and_backslash() {
        assert!(ScopeSet::parse("a\"b").is_err());
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::try_from_iter(["ok", "no\u{7f}"]).is_err());
    }

    #[test]
    fn missing_and_subset() {
        let granted = ScopeSet::parse("a b").unwrap();
        let need = ScopeSet::parse("b c").unwrap();
        assert_eq!(granted.missing_from(&need).to_string(), "c");
        assert!(!granted.contains_all(&need));
        assert!(granted.contains_any(&need));
    }
}
