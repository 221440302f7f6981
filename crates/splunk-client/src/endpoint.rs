//! Building request paths safely: every caller-supplied name is one percent-encoded segment.
//!
//! A name such as `../admin` or `a/b` must never change which endpoint is called, so each
//! dynamic segment is encoded with everything but RFC 3986's unreserved characters escaped, and
//! the dot segments `.` and `..` (which URL parsers collapse even when percent-encoded) are
//! refused outright.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, Result};

/// Everything but `A-Z a-z 0-9 - . _ ~` is escaped inside a segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An owner/app namespace for `/servicesNS/{owner}/{app}/...` paths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// Owner (`-` for any, `nobody` for shared objects).
    pub owner: String,
    /// App (`-` for any).
    pub app: String,
}

impl Namespace {
    /// A namespace for the given owner and app.
    pub fn new(owner: impl Into<String>, app: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            app: app.into(),
        }
    }

    /// `-/-`: objects of every owner in every app the caller may see.
    pub fn wildcard() -> Self {
        Self::new("-", "-")
    }

    /// `nobody/{app}`: objects shared in an app (KV store collections live here).
    pub fn shared(app: impl Into<String>) -> Self {
        Self::new("nobody", app)
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self::wildcard()
    }
}

/// A request path, already encoded, starting with `/`.
///
/// Beside the path it keeps its template, the path with every caller-supplied segment written
/// `{}`, from which the request's bounded metrics label is derived (never from names or sids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    path: String,
    template: String,
}

impl Endpoint {
    /// A fixed path under `/services/`, written by this crate (never from input).
    pub(crate) fn services(fixed: &str) -> Self {
        let path = format!("/services/{}", fixed.trim_matches('/'));
        Self {
            template: path.clone(),
            path,
        }
    }

    /// A fixed path under `/servicesNS/{owner}/{app}/`.
    pub(crate) fn namespaced(namespace: &Namespace, fixed: &str) -> Result<Self> {
        let root = "/servicesNS".to_owned();
        let path = Self {
            template: root.clone(),
            path: root,
        };
        Ok(path
            .segment(&namespace.owner)?
            .segment(&namespace.app)?
            .fixed(fixed))
    }

    /// Appends one caller-supplied segment, encoded.
    pub(crate) fn segment(mut self, name: &str) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if name == "." || name == ".." {
            return Err(Error::invalid(
                "name",
                format!("{name:?} is not a valid name"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        self.path.push('/');
        self.path.extend(utf8_percent_encode(name, SEGMENT));
        self.template.push_str("/{}");
        Ok(self)
    }

    /// Appends a fixed segment written by this crate.
    pub(crate) fn fixed(mut self, fixed: &str) -> Self {
        for part in [&mut self.path, &mut self.template] {
            part.push('/');
            part.push_str(fixed.trim_matches('/'));
        }
        self
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.path
    }

    /// The path with caller-supplied segments written `{}`, e.g. `/services/search/jobs/{}`.
    pub(crate) fn template(&self) -> &str {
        &self.template
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_encodes_paths() {
        let cases: &[(&str, &str)] = &[
            ("main", "/services/data/indexes/main"),
            ("a b", "/services/data/indexes/a%20b"),
            ("a/b", "/services/data/indexes/a%2Fb"),
            ("a&roles=admin", "/services/data/indexes/a%26roles%3Dadmin"),
            ("x?y#z", "/services/data/indexes/x%3Fy%23z"),
            ("..x", "/services/data/indexes/..x"),
            ("%2e%2e", "/services/data/indexes/%252e%252e"),
            ("é", "/services/data/indexes/%C3%A9"),
            ("mcp.alice", "/services/data/indexes/mcp.alice"),
        ];
        for (name, expected) in cases {
            let path = Endpoint::services("data/indexes").segment(name).unwrap();
            assert_eq!(path.as_str(), *expected, "{name:?}");
        }
    }

    #[test]
    fn refuses_dot_segments_empty_and_control_characters() {
        for name in ["", ".", "..", "a\nb", "\0"] {
            let error = Endpoint::services("x").segment(name).unwrap_err();
            assert!(matches!(error, Error::InvalidArgument { .. }), "{name:?}");
        }
    }

    #[test]
    fn namespaces() {
        let path = Endpoint::namespaced(&Namespace::wildcard(), "saved/searches")
            .unwrap()
            .segment("Errors in the last hour")
            .unwrap()
            .fixed("dispatch");
        assert_eq!(
            path.as_str(),
            "/servicesNS/-/-/saved/searches/Errors%20in%20the%20last%20hour/dispatch"
        );
        let shared =
            Endpoint::namespaced(&Namespace::shared("search"), "storage/collections/config")
                .unwrap();
        assert_eq!(
            shared.as_str(),
            "/servicesNS/nobody/search/storage/collections/config"
        );
        assert_eq!(
            shared.template(),
            "/servicesNS/{}/{}/storage/collections/config"
        );
        assert!(Endpoint::namespaced(&Namespace::new("..", "search"), "x").is_err());
    }
}
