//! Which scopes and tags each tool has, so the HTTP layer can pre-check `tools/call` and filter
//! `tools/list` with the same rules the tools apply to themselves.

use std::collections::BTreeMap;

use auth_core::{AuthContext, Decision, Policy, ScopeSet};

/// Scope of the catalog and metadata tools.
pub const SCOPE_READ: &str = "splunk:read";
/// Scope of the tools that run SPL.
pub const SCOPE_SEARCH: &str = "splunk:search";
/// Scope of the user and role tools.
pub const SCOPE_ADMIN: &str = "splunk:admin";

/// A tool's static description: name, default scopes and tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSpec {
    /// The MCP tool name.
    pub name: &'static str,
    /// Scopes a caller needs by default (all of them).
    pub scopes: &'static [&'static str],
    /// Tags for grouping and tag-based policies (`search`, `catalog`, `admin`, ...).
    pub tags: &'static [&'static str],
}

/// A spec; a `const fn` so the table below stays one line per tool.
const fn tool(
    name: &'static str,
    scopes: &'static [&'static str],
    tags: &'static [&'static str],
) -> ToolSpec {
    ToolSpec { name, scopes, tags }
}

/// Every tool this crate serves.
#[rustfmt::skip]
pub const TOOL_SPECS: &[ToolSpec] = &[
    tool("splunk_search", &[SCOPE_SEARCH], &["search"]),
    tool("splunk_search_start", &[SCOPE_SEARCH], &["search", "jobs"]),
    tool("splunk_search_status", &[SCOPE_SEARCH], &["search", "jobs"]),
    tool("splunk_search_results", &[SCOPE_SEARCH], &["search", "jobs"]),
    tool("splunk_search_cancel", &[SCOPE_SEARCH], &["search", "jobs"]),
    tool("splunk_list_indexes", &[SCOPE_READ], &["catalog"]),
    tool("splunk_get_index", &[SCOPE_READ], &["catalog"]),
    tool("splunk_get_metadata", &[SCOPE_READ], &["catalog", "metadata"]),
    tool("splunk_list_saved_searches", &[SCOPE_READ], &["catalog", "saved_searches"]),
    tool("splunk_run_saved_search", &[SCOPE_SEARCH], &["search", "saved_searches"]),
    tool("splunk_list_apps", &[SCOPE_READ], &["catalog", "apps"]),
    tool("splunk_kvstore_list_collections", &[SCOPE_READ], &["catalog", "kvstore"]),
    tool("splunk_kvstore_query", &[SCOPE_READ], &["kvstore"]),
    tool("splunk_server_info", &[SCOPE_READ], &["server"]),
    tool("splunk_whoami", &[], &["identity"]),
    tool("splunk_list_users", &[SCOPE_ADMIN], &["admin"]),
    tool("splunk_list_roles", &[SCOPE_ADMIN], &["admin"]),
];

/// The scopes of every tool, defaults overridden by configuration.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    scopes: BTreeMap<&'static str, ScopeSet>,
    required_for_all: ScopeSet,
}

impl Default for ToolRegistry {
    fn default() -> Self {
        Self::new(&BTreeMap::new(), ScopeSet::new())
    }
}

/// A scope override naming a tool that does not exist, or an invalid scope string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The override names no known tool.
    #[error("scope override for unknown tool '{0}'")]
    UnknownTool(String),
    /// The scope string is not a valid space-separated scope list.
    #[error("invalid scopes for tool '{tool}': {reason}")]
    InvalidScopes {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
}

impl ToolRegistry {
    /// Default scopes with `overrides` (tool name → scope set) applied, plus
    /// `required_for_all` (`MCP_AUTH_REQUIRED_SCOPES`) added to every tool.
    pub fn new(overrides: &BTreeMap<&'static str, ScopeSet>, required_for_all: ScopeSet) -> Self {
        let scopes = TOOL_SPECS
            .iter()
            .map(|spec| {
                let set = overrides.get(spec.name).cloned().unwrap_or_else(|| {
                    ScopeSet::try_from_iter(spec.scopes.iter().copied()).unwrap_or_default()
                });
                (spec.name, set)
            })
            .collect();
        Self {
            scopes,
            required_for_all,
        }
    }

    /// Like [`ToolRegistry::new`] from configuration text: tool name → space-separated scopes.
    pub fn from_config(
        overrides: &BTreeMap<String, String>,
        required_for_all: ScopeSet,
    ) -> Result<Self, RegistryError> {
        let mut parsed = BTreeMap::new();
        for (tool, scopes) in overrides {
            let spec = spec(tool).ok_or_else(|| RegistryError::UnknownTool(tool.clone()))?;
            let set = ScopeSet::parse(scopes).map_err(|reason| RegistryError::InvalidScopes {
                tool: tool.clone(),
                reason,
            })?;
            parsed.insert(spec.name, set);
        }
        Ok(Self::new(&parsed, required_for_all))
    }

    /// Every tool's spec.
    pub fn specs(&self) -> &'static [ToolSpec] {
        TOOL_SPECS
    }

    /// The scopes a call of `tool` needs (configured ones plus those every call needs), or
    /// `None` for an unknown tool.
    pub fn scopes_for(&self, tool: &str) -> Option<ScopeSet> {
        self.scopes
            .get(tool)
            .map(|set| set.union(&self.required_for_all))
    }

    /// The policy a call of `tool` must pass; an unknown tool needs what every call needs.
    pub fn policy_for(&self, tool: &str) -> Policy {
        Policy::RequireScopes(
            self.scopes_for(tool)
                .unwrap_or_else(|| self.required_for_all.clone()),
        )
    }
}

impl ToolRegistry {
    /// Whether `caller` may call `tool`: what the HTTP layer asks before a `tools/call` (to
    /// answer 403 with a step-up challenge) and per tool when filtering `tools/list`.
    pub fn evaluate(&self, tool: &str, caller: &AuthContext) -> Decision {
        self.policy_for(tool).evaluate(caller)
    }

    /// The names of the tools `caller` may call, in [`TOOL_SPECS`] order.
    pub fn allowed_tools<'a>(
        &'a self,
        caller: &'a AuthContext,
    ) -> impl Iterator<Item = &'static str> + 'a {
        TOOL_SPECS
            .iter()
            .map(|spec| spec.name)
            .filter(move |name| self.evaluate(name, caller).is_allowed())
    }
}

/// The spec of the tool called `name`.
pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    TOOL_SPECS.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use auth_core::{BearerToken, Claims};

    use super::*;

    fn caller(scopes: &str) -> AuthContext {
        let mut claims = Claims::for_subject("someone");
        claims.scopes = ScopeSet::parse(scopes).unwrap();
        AuthContext::new(claims, BearerToken::new("t")).unwrap()
    }

    #[test]
    fn default_scopes_per_tool() {
        let registry = ToolRegistry::default();
        let cases = [
            ("splunk_search", "splunk:search"),
            ("splunk_search_results", "splunk:search"),
            ("splunk_list_indexes", "splunk:read"),
            ("splunk_kvstore_query", "splunk:read"),
            ("splunk_list_roles", "splunk:admin"),
            ("splunk_whoami", ""),
        ];
        for (tool, scopes) in cases {
            assert_eq!(
                registry.scopes_for(tool).unwrap().to_string(),
                scopes,
                "{tool}"
            );
        }
        assert!(registry.scopes_for("nope").is_none());
        let names: Vec<_> = TOOL_SPECS.iter().map(|s| s.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "tool names are unique");
    }

    #[test]
    fn overrides_and_required_scopes() {
        let overrides = BTreeMap::from([(
            "splunk_search".to_owned(),
            "splunk:search splunk:power".to_owned(),
        )]);
        let registry =
            ToolRegistry::from_config(&overrides, ScopeSet::parse("mcp:use").unwrap()).unwrap();
        assert_eq!(
            registry.scopes_for("splunk_search").unwrap().to_string(),
            "mcp:use splunk:power splunk:search"
        );
        assert_eq!(
            registry.scopes_for("splunk_whoami").unwrap().to_string(),
            "mcp:use"
        );
        let unknown = BTreeMap::from([("splunk_nope".to_owned(), "x".to_owned())]);
        assert_eq!(
            ToolRegistry::from_config(&unknown, ScopeSet::new()).unwrap_err(),
            RegistryError::UnknownTool("splunk_nope".to_owned())
        );
    }

    #[test]
    fn allowed_tools_follow_the_scopes() {
        let registry = ToolRegistry::default();
        let reader = caller("splunk:read");
        let allowed: Vec<_> = registry.allowed_tools(&reader).collect();
        assert!(allowed.contains(&"splunk_list_indexes"));
        assert!(allowed.contains(&"splunk_whoami"));
        assert!(!allowed.contains(&"splunk_search"));
        assert!(!allowed.contains(&"splunk_list_users"));
        match registry.evaluate("splunk_search", &reader) {
            Decision::Deny(denial) => {
                assert_eq!(denial.missing_scopes.to_string(), "splunk:search")
            }
            Decision::Allow => panic!("search allowed without splunk:search"),
        }
    }
}
