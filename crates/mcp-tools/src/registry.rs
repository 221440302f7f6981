//! The authorization policy of the tools, in one place: who may hold which scope (scope
//! rules), and what each tool needs (scopes and groups, from its defaults, its tags' rules,
//! its own rule and what every call needs). The HTTP layer pre-checks `tools/call` and filters
//! `tools/list` with it, the tools check themselves with it, proxy mode grants scopes by its
//! scope rules, and `config check` and `doctor` print what it decides. Custom tools
//! ([`crate::custom`]) are entries of the same table, under the same rules.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use auth_core::{AuthContext, Decision, Denial, Policy, ScopeRules, ScopeSet};

use crate::custom::{CustomTool, CustomToolConfig, CustomToolError};
use crate::spl_guard::GuardConfig;

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
    /// Tags for grouping and tag rules (`search`, `catalog`, `admin`, ...).
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
    tool("splunk_validate_spl", &[SCOPE_SEARCH], &["search"]),
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
    tool("splunk_list_fired_alerts", &[SCOPE_READ], &["knowledge", "alerts"]),
    tool("splunk_list_dashboards", &[SCOPE_READ], &["knowledge", "dashboards"]),
    tool("splunk_get_dashboard", &[SCOPE_READ], &["knowledge", "dashboards"]),
    tool("splunk_list_lookups", &[SCOPE_READ], &["knowledge", "lookups"]),
    tool("splunk_lookup_query", &[SCOPE_SEARCH], &["search", "knowledge", "lookups"]),
    tool("splunk_list_data_models", &[SCOPE_READ], &["knowledge", "datamodels"]),
    tool("splunk_server_info", &[SCOPE_READ], &["server"]),
    tool("splunk_whoami", &[], &["identity"]),
    tool("splunk_list_users", &[SCOPE_ADMIN], &["admin"]),
    tool("splunk_list_roles", &[SCOPE_ADMIN], &["admin"]),
];

/// The spec of the tool called `name`.
pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    TOOL_SPECS.iter().find(|spec| spec.name == name)
}

/// Every tag of the built-in tools, sorted.
pub fn known_tags() -> Vec<&'static str> {
    let mut tags: Vec<&'static str> = TOOL_SPECS.iter().flat_map(|s| s.tags).copied().collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// A rule for a tool or a tag, as configured: scopes needed (all of them) and groups (one of
/// them). For a tool rule, `scopes` replaces the tool's default scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// Scopes a caller needs, all of them; `None` keeps a tool's defaults.
    pub scopes: Option<Vec<String>>,
    /// Groups of which a caller needs one; empty means no group rule.
    pub groups: Vec<String>,
}

/// The configuration of the policy, as the binary reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// Who may hold which scope (`MCP_AUTH_SCOPE_GROUPS`).
    pub scope_rules: ScopeRules,
    /// Scopes every request needs (`MCP_AUTH_REQUIRED_SCOPES`).
    pub required_scopes: Vec<String>,
    /// Groups one of which every request needs (`MCP_AUTH_REQUIRED_GROUPS`).
    pub required_groups: Vec<String>,
    /// Rules by tool name (`[auth.tools.<tool>]`).
    pub tools: BTreeMap<String, Rule>,
    /// Rules by tag (`[auth.tags.<tag>]`).
    pub tags: BTreeMap<String, Rule>,
}

/// A policy configuration that cannot be used; each variant names the setting to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A rule names no known tool.
    #[error("there is no tool named `{0}`")]
    UnknownTool(String),
    /// A rule names a tag no tool has.
    #[error("no tool has the tag `{0}`")]
    UnknownTag(String),
    /// A scope of a rule is not a valid scope token.
    #[error("invalid scope in {setting}: {reason}")]
    InvalidScopes {
        /// Where: `tool splunk_search`, `tag admin`, `required scopes`.
        setting: String,
        /// Why.
        reason: String,
    },
    /// A custom tool cannot be served as configured.
    #[error(transparent)]
    CustomTool(#[from] CustomToolError),
    /// A custom tool takes the name of another tool.
    #[error("a custom tool is named `{0}`, like {1}; give it another name")]
    DuplicateTool(String, &'static str),
    /// A scope rule names a scope no tool needs and no client can be granted.
    #[error(
        "the scope rule names {scope}, which this server does not offer (it offers: {offered})"
    )]
    UnofferedScope {
        /// The scope.
        scope: String,
        /// The scopes offered.
        offered: String,
    },
}

/// Where a tool's requirement came from, for `config check` and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The tool's built-in default.
    Default,
    /// A tag rule (`[auth.tags.<tag>]`).
    Tag(String),
    /// The tool's own rule (`[auth.tools.<tool>]`).
    Tool,
    /// What every request needs (`MCP_AUTH_REQUIRED_SCOPES`, `MCP_AUTH_REQUIRED_GROUPS`).
    Required,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Tag(tag) => write!(f, "tag {tag}"),
            Self::Tool => f.write_str("tool"),
            Self::Required => f.write_str("required"),
        }
    }
}

/// What one tool needs, with where each part came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// Scopes needed (all), each with its sources.
    pub scopes: BTreeMap<String, Vec<Source>>,
    /// Group rules (one group of each rule), each with its source.
    pub groups: Vec<(Vec<String>, Source)>,
}

impl Requirement {
    fn add_scopes<'a>(
        &mut self,
        scopes: impl IntoIterator<Item = &'a str>,
        source: &Source,
        setting: &dyn Fn() -> String,
    ) -> Result<(), RegistryError> {
        for scope in scopes {
            ScopeSet::parse(scope)
                .ok()
                .filter(|set| set.len() == 1)
                .ok_or_else(|| RegistryError::InvalidScopes {
                    setting: setting(),
                    reason: format!("`{scope}` is not one scope token"),
                })?;
            let sources = self.scopes.entry(scope.to_owned()).or_default();
            if !sources.contains(source) {
                sources.push(source.clone());
            }
        }
        Ok(())
    }

    fn add_groups(&mut self, groups: &[String], source: Source) {
        if !groups.is_empty() {
            self.groups.push((groups.to_vec(), source));
        }
    }

    /// The decision procedure: every scope, and one group of each group rule.
    fn policy(&self) -> Policy {
        let scopes =
            ScopeSet::try_from_iter(self.scopes.keys().map(String::as_str)).unwrap_or_default();
        let mut parts = Vec::new();
        if !scopes.is_empty() {
            parts.push(Policy::RequireScopes(scopes));
        }
        parts.extend(
            self.groups
                .iter()
                .map(|(groups, _)| Policy::AnyGroup(groups.clone())),
        );
        match parts.len() {
            0 => Policy::Allow,
            1 => parts.remove(0),
            _ => Policy::And(parts),
        }
    }
}

/// The policy: scope rules and every tool's requirement, with each tool's decision procedure
/// built once, and the custom tools it serves.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    scope_rules: Arc<ScopeRules>,
    tools: BTreeMap<String, Entry>,
    /// Tool names in listing order: built-in ones as in [`TOOL_SPECS`], then custom ones.
    order: Vec<String>,
    server: Requirement,
    server_policy: Policy,
    offered: ScopeSet,
}

/// One tool of the registry.
#[derive(Debug, Clone)]
struct Entry {
    need: Requirement,
    policy: Policy,
    tags: Vec<String>,
    custom: Option<Arc<CustomTool>>,
}

impl Default for ToolRegistry {
    /// The built-in defaults: no scope rules, each tool its default scopes.
    fn default() -> Self {
        Self::new(&PolicyConfig::default())
            .unwrap_or_else(|e| unreachable!("the built-in tool table is a valid policy: {e}"))
    }
}

impl ToolRegistry {
    /// Builds the policy from `config`, refusing unknown tools and tags, invalid scopes and
    /// scope rules for scopes no tool needs.
    pub fn new(config: &PolicyConfig) -> Result<Self, RegistryError> {
        Self::with_custom_tools(config, Vec::new())
    }

    /// Checks the custom tools of `custom` (under `guard`, the SPL guard's policy) and builds
    /// the policy with them: the whole configuration of the tools, in one step.
    pub fn build(
        config: &PolicyConfig,
        custom: &[CustomToolConfig],
        guard: &GuardConfig,
    ) -> Result<Self, RegistryError> {
        let tools = custom
            .iter()
            .map(|tool| CustomTool::compile(tool, guard))
            .collect::<Result<Vec<_>, _>>()?;
        Self::with_custom_tools(config, tools)
    }

    /// [`ToolRegistry::new`] with `custom` tools served beside the built-in ones: their
    /// scopes and groups are their defaults, and the rules of `config` apply to them too.
    pub fn with_custom_tools(
        config: &PolicyConfig,
        custom: Vec<CustomTool>,
    ) -> Result<Self, RegistryError> {
        struct Definition {
            name: String,
            scopes: Vec<String>,
            groups: Vec<String>,
            tags: Vec<String>,
            custom: Option<Arc<CustomTool>>,
        }
        let mut definitions: Vec<Definition> = TOOL_SPECS
            .iter()
            .map(|spec| Definition {
                name: spec.name.to_owned(),
                scopes: spec.scopes.iter().map(|s| (*s).to_owned()).collect(),
                groups: Vec::new(),
                tags: spec.tags.iter().map(|t| (*t).to_owned()).collect(),
                custom: None,
            })
            .collect();
        for tool in custom {
            if let Some(taken) = definitions.iter().find(|d| d.name == tool.name()) {
                let like = if taken.custom.is_some() {
                    "another custom tool"
                } else {
                    "a built-in tool"
                };
                return Err(RegistryError::DuplicateTool(tool.name().to_owned(), like));
            }
            definitions.push(Definition {
                name: tool.name().to_owned(),
                scopes: tool.scopes(),
                groups: tool.config().groups.clone(),
                tags: tool.tags().to_vec(),
                custom: Some(Arc::new(tool)),
            });
        }

        for name in config.tools.keys() {
            if !definitions.iter().any(|d| &d.name == name) {
                return Err(RegistryError::UnknownTool(name.clone()));
            }
        }
        for tag in config.tags.keys() {
            if !definitions.iter().any(|d| d.tags.contains(tag)) {
                return Err(RegistryError::UnknownTag(tag.clone()));
            }
        }

        let mut server = Requirement::default();
        server.add_scopes(
            config.required_scopes.iter().map(String::as_str),
            &Source::Required,
            &|| "required scopes".to_owned(),
        )?;
        server.add_groups(&config.required_groups, Source::Required);

        let mut tools = BTreeMap::new();
        let mut order = Vec::with_capacity(definitions.len());
        for definition in definitions {
            let name = definition.name.as_str();
            let mut need = Requirement::default();
            let own = config.tools.get(name);
            match own.and_then(|rule| rule.scopes.as_ref()) {
                Some(scopes) => {
                    need.add_scopes(scopes.iter().map(String::as_str), &Source::Tool, &|| {
                        format!("tool {name}")
                    })?
                }
                None => need.add_scopes(
                    definition.scopes.iter().map(String::as_str),
                    &Source::Default,
                    &|| match definition.custom {
                        Some(_) => format!("custom tool {name}"),
                        None => format!("tool {name}"),
                    },
                )?,
            }
            need.add_groups(&definition.groups, Source::Default);
            for tag in &definition.tags {
                if let Some(rule) = config.tags.get(tag) {
                    let scopes = rule.scopes.iter().flatten().map(String::as_str);
                    need.add_scopes(scopes, &Source::Tag(tag.clone()), &|| format!("tag {tag}"))?;
                    need.add_groups(&rule.groups, Source::Tag(tag.clone()));
                }
            }
            if let Some(rule) = own {
                need.add_groups(&rule.groups, Source::Tool);
            }
            for (scope, sources) in &server.scopes {
                need.scopes
                    .entry(scope.clone())
                    .or_default()
                    .extend(sources.iter().cloned());
            }
            need.groups.extend(server.groups.iter().cloned());
            let policy = need.policy();
            order.push(definition.name.clone());
            tools.insert(
                definition.name,
                Entry {
                    need,
                    policy,
                    tags: definition.tags,
                    custom: definition.custom,
                },
            );
        }

        let mut offered = ScopeSet::new();
        for entry in tools.values() {
            for scope in entry.need.scopes.keys() {
                let _ = offered.insert(scope.as_str());
            }
        }
        for scope in [SCOPE_READ, SCOPE_SEARCH, SCOPE_ADMIN] {
            let _ = offered.insert(scope);
        }
        for (scope, _) in config.scope_rules.iter() {
            if !offered.contains(scope) {
                return Err(RegistryError::UnofferedScope {
                    scope: scope.to_owned(),
                    offered: offered.to_string(),
                });
            }
        }
        let server_policy = server.policy();
        Ok(Self {
            scope_rules: Arc::new(config.scope_rules.clone()),
            tools,
            order,
            server,
            server_policy,
            offered,
        })
    }

    /// Who may hold which scope; the verifiers and proxy mode's grant apply these.
    pub fn scope_rules(&self) -> &Arc<ScopeRules> {
        &self.scope_rules
    }

    /// Every scope a tool needs or a client may be granted (advertised in metadata).
    pub fn offered_scopes(&self) -> &ScopeSet {
        &self.offered
    }

    /// What every request needs, if anything (checked for every `/mcp` request).
    pub fn server_policy(&self) -> Option<&Policy> {
        match &self.server_policy {
            Policy::Allow => None,
            policy => Some(policy),
        }
    }

    /// What every request needs, with sources.
    pub fn server_requirement(&self) -> &Requirement {
        &self.server
    }

    /// Every tool's name, built-in ones first, in listing order.
    pub fn tool_names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Whether a tool called `name` is served.
    pub fn contains(&self, name: &str) -> bool {
        self.tools.contains_key(name)
    }

    /// The tags of `tool`, `None` for an unknown tool.
    pub fn tags(&self, tool: &str) -> Option<&[String]> {
        self.tools.get(tool).map(|entry| entry.tags.as_slice())
    }

    /// The custom tool called `name`, if it is one.
    pub fn custom_tool(&self, name: &str) -> Option<&Arc<CustomTool>> {
        self.tools.get(name).and_then(|entry| entry.custom.as_ref())
    }

    /// The custom tools, in listing order.
    pub fn custom_tools(&self) -> impl Iterator<Item = &Arc<CustomTool>> {
        self.order.iter().filter_map(|name| self.custom_tool(name))
    }

    /// What a call of `tool` needs, `None` for an unknown tool.
    pub fn requirement(&self, tool: &str) -> Option<&Requirement> {
        self.tools.get(tool).map(|entry| &entry.need)
    }

    /// Whether `caller` may call `tool`. A denial separates the scopes a step-up could bring
    /// (`missing_scopes`) from those the caller's groups may not hold (`unattainable_scopes`).
    /// An unknown tool needs what every request needs.
    pub fn evaluate(&self, tool: &str, caller: &AuthContext) -> Decision {
        let policy = self
            .tools
            .get(tool)
            .map_or(&self.server_policy, |entry| &entry.policy);
        match policy.evaluate(caller) {
            Decision::Allow => Decision::Allow,
            Decision::Deny(denial) => Decision::Deny(self.classify(denial, caller.groups())),
        }
    }

    /// Moves the missing scopes that `groups` may not hold to `unattainable_scopes`.
    fn classify(&self, mut denial: Denial, groups: &[String]) -> Denial {
        if self.scope_rules.is_empty() {
            return denial;
        }
        let (attainable, unattainable) = self.scope_rules.split(&denial.missing_scopes, groups);
        denial.missing_scopes = attainable;
        denial.unattainable_scopes = unattainable;
        denial
    }

    /// The names of the tools `caller` may call, in listing order.
    pub fn allowed_tools<'a>(&'a self, caller: &'a AuthContext) -> impl Iterator<Item = &'a str> {
        self.tool_names()
            .filter(move |name| self.evaluate(name, caller).is_allowed())
    }

    /// Why a denial refuses, in words for the caller, after "calling <tool>" or "this tool":
    /// the scopes their groups may not hold first (no step-up helps), then the scopes the
    /// token lacks, then the groups.
    pub fn refusal_reason(&self, denial: &Denial) -> String {
        if !denial.unattainable_scopes.is_empty() {
            let scopes: Vec<&str> = denial.unattainable_scopes.iter().collect();
            let holders: Vec<String> = scopes
                .iter()
                .map(|scope| {
                    self.scope_rules
                        .groups_for(scope)
                        .map(|groups| groups.join(" or "))
                        .unwrap_or_default()
                })
                .collect();
            return if scopes.len() == 1 {
                format!(
                    "needs the scope {}, which only members of {} may hold",
                    scopes[0], holders[0]
                )
            } else {
                let each: Vec<String> = scopes
                    .iter()
                    .zip(&holders)
                    .map(|(scope, groups)| format!("{scope} only by members of {groups}"))
                    .collect();
                format!(
                    "needs the scopes {}, which may be held {}",
                    scopes.join(", "),
                    each.join(", ")
                )
            };
        }
        if !denial.missing_scopes.is_empty() {
            return format!(
                "needs the scope(s) {}, which the token lacks",
                denial.missing_scopes
            );
        }
        format!(
            "needs membership of one of: {}",
            denial.missing_groups.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use auth_core::{BearerToken, Claims};

    use super::*;

    fn caller(scopes: &str, groups: &[&str]) -> AuthContext {
        let mut claims = Claims::for_subject("someone");
        claims.scopes = ScopeSet::parse(scopes).unwrap();
        claims.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        AuthContext::new(claims, BearerToken::new("t")).unwrap()
    }

    fn scopes_of(registry: &ToolRegistry, tool: &str) -> String {
        let need = registry.requirement(tool).unwrap();
        need.scopes.keys().cloned().collect::<Vec<_>>().join(" ")
    }

    fn rule(scopes: Option<&[&str]>, groups: &[&str]) -> Rule {
        Rule {
            scopes: scopes.map(|s| s.iter().map(|x| (*x).to_owned()).collect()),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
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
            assert_eq!(scopes_of(&registry, tool), scopes, "{tool}");
        }
        assert!(registry.requirement("nope").is_none());
        assert!(registry.server_policy().is_none());
        let names: Vec<_> = TOOL_SPECS.iter().map(|s| s.name).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "tool names are unique");
    }

    #[test]
    fn tool_tag_and_required_rules_combine() {
        let config = PolicyConfig {
            required_scopes: vec!["mcp:use".to_owned()],
            tools: BTreeMap::from([(
                "splunk_search".to_owned(),
                rule(
                    Some(&["splunk:search", "splunk:power"]),
                    &["analysts", "admins"],
                ),
            )]),
            tags: BTreeMap::from([
                ("admin".to_owned(), rule(None, &["admins"])),
                ("catalog".to_owned(), rule(Some(&["splunk:catalog"]), &[])),
            ]),
            ..PolicyConfig::default()
        };
        let registry = ToolRegistry::new(&config).unwrap();
        assert_eq!(
            scopes_of(&registry, "splunk_search"),
            "mcp:use splunk:power splunk:search"
        );
        assert_eq!(scopes_of(&registry, "splunk_whoami"), "mcp:use");
        assert_eq!(
            scopes_of(&registry, "splunk_list_indexes"),
            "mcp:use splunk:catalog splunk:read"
        );
        let users = registry.requirement("splunk_list_users").unwrap();
        assert_eq!(
            users.groups,
            vec![(vec!["admins".to_owned()], Source::Tag("admin".to_owned()))]
        );
        assert_eq!(
            users.scopes["splunk:admin"],
            vec![Source::Default],
            "a tag rule without scopes keeps the defaults"
        );

        let analyst = caller("mcp:use splunk:search splunk:power", &["analysts"]);
        assert!(registry.evaluate("splunk_search", &analyst).is_allowed());
        let Decision::Deny(denial) = registry.evaluate("splunk_list_users", &analyst) else {
            panic!("an analyst passed the admin tag's group rule")
        };
        assert_eq!(denial.missing_groups, vec!["admins"]);
        assert_eq!(
            registry.refusal_reason(&denial),
            "needs the scope(s) splunk:admin, which the token lacks"
        );
        let outsider = caller("mcp:use splunk:search splunk:power", &[]);
        let Decision::Deny(denial) = registry.evaluate("splunk_search", &outsider) else {
            panic!("the tool's group rule was ignored")
        };
        assert_eq!(
            registry.refusal_reason(&denial),
            "needs membership of one of: analysts, admins"
        );
        assert!(
            ScopeSet::parse("mcp:use splunk:catalog splunk:power")
                .unwrap()
                .iter()
                .all(|s| registry.offered_scopes().contains(s))
        );
    }

    #[test]
    fn unattainable_scopes_are_told_apart() {
        let config = PolicyConfig {
            scope_rules: ScopeRules::parse("splunk:admin=admins").unwrap(),
            ..PolicyConfig::default()
        };
        let registry = ToolRegistry::new(&config).unwrap();
        // An analyst: no step-up can bring splunk:admin.
        let analyst = caller("splunk:read", &["analysts"]);
        let Decision::Deny(denial) = registry.evaluate("splunk_list_users", &analyst) else {
            panic!("allowed without splunk:admin")
        };
        assert!(denial.missing_scopes.is_empty());
        assert_eq!(denial.unattainable_scopes.to_string(), "splunk:admin");
        assert_eq!(
            registry.refusal_reason(&denial),
            "needs the scope splunk:admin, which only members of admins may hold"
        );
        // An admin without the scope in the token: a step-up can.
        let admin = caller("splunk:read", &["admins"]);
        let Decision::Deny(denial) = registry.evaluate("splunk_list_users", &admin) else {
            panic!("allowed without splunk:admin")
        };
        assert_eq!(denial.missing_scopes.to_string(), "splunk:admin");
        assert!(denial.unattainable_scopes.is_empty());
    }

    #[test]
    fn bad_configuration_is_refused() {
        let unknown_tool = PolicyConfig {
            tools: BTreeMap::from([("splunk_serch".to_owned(), rule(None, &["x"]))]),
            ..PolicyConfig::default()
        };
        assert_eq!(
            ToolRegistry::new(&unknown_tool).unwrap_err(),
            RegistryError::UnknownTool("splunk_serch".to_owned())
        );
        let unknown_tag = PolicyConfig {
            tags: BTreeMap::from([("nope".to_owned(), rule(None, &["x"]))]),
            ..PolicyConfig::default()
        };
        assert_eq!(
            ToolRegistry::new(&unknown_tag).unwrap_err(),
            RegistryError::UnknownTag("nope".to_owned())
        );
        let unoffered = PolicyConfig {
            scope_rules: ScopeRules::parse("splunk:admn=admins").unwrap(),
            ..PolicyConfig::default()
        };
        assert!(matches!(
            ToolRegistry::new(&unoffered).unwrap_err(),
            RegistryError::UnofferedScope { scope, .. } if scope == "splunk:admn"
        ));
        let bad_scope = PolicyConfig {
            tools: BTreeMap::from([("splunk_search".to_owned(), rule(Some(&["a b"]), &[]))]),
            ..PolicyConfig::default()
        };
        assert!(matches!(
            ToolRegistry::new(&bad_scope).unwrap_err(),
            RegistryError::InvalidScopes { .. }
        ));
    }

    #[test]
    fn custom_tools_are_entries_under_the_same_rules() {
        let custom: crate::custom::CustomToolConfig = toml::from_str(
            "name = \"web_hosts\"\ndescription = \"d\"\nspl = \"search index=web\"\n\
             groups = [\"soc\"]\ntags = [\"web\"]",
        )
        .unwrap();
        let config = PolicyConfig {
            tools: BTreeMap::from([("web_hosts".to_owned(), rule(Some(&["splunk:web"]), &[]))]),
            tags: BTreeMap::from([("custom".to_owned(), rule(None, &["analysts"]))]),
            ..PolicyConfig::default()
        };
        let guard = GuardConfig::default();
        let registry = ToolRegistry::build(&config, std::slice::from_ref(&custom), &guard).unwrap();
        assert_eq!(registry.tool_names().last(), Some("web_hosts"));
        assert_eq!(registry.tags("web_hosts").unwrap(), ["custom", "web"]);
        let need = registry.requirement("web_hosts").unwrap();
        assert_eq!(need.scopes["splunk:web"], vec![Source::Tool]);
        assert_eq!(
            need.groups,
            vec![
                (vec!["soc".to_owned()], Source::Default),
                (
                    vec!["analysts".to_owned()],
                    Source::Tag("custom".to_owned())
                )
            ]
        );
        assert!(registry.offered_scopes().contains("splunk:web"));
        let both = caller("splunk:web", &["soc", "analysts"]);
        assert!(registry.evaluate("web_hosts", &both).is_allowed());
        assert!(
            !registry
                .evaluate("web_hosts", &caller("splunk:web", &["soc"]))
                .is_allowed()
        );
        assert!(registry.custom_tool("web_hosts").is_some());
        assert!(registry.custom_tool("splunk_search").is_none());

        let mut twin = custom.clone();
        twin.name = "splunk_search".to_owned();
        assert_eq!(
            ToolRegistry::build(&PolicyConfig::default(), &[twin], &guard).unwrap_err(),
            RegistryError::DuplicateTool("splunk_search".to_owned(), "a built-in tool")
        );
        assert_eq!(
            ToolRegistry::build(&PolicyConfig::default(), &[custom.clone(), custom], &guard)
                .unwrap_err(),
            RegistryError::DuplicateTool("web_hosts".to_owned(), "another custom tool")
        );
        // Without custom tools, the `custom` tag names nothing.
        let unknown = ToolRegistry::new(&config).unwrap_err();
        assert_eq!(unknown, RegistryError::UnknownTool("web_hosts".to_owned()));
    }

    #[test]
    fn allowed_tools_follow_the_policy() {
        let registry = ToolRegistry::default();
        let reader = caller("splunk:read", &[]);
        let allowed: Vec<_> = registry.allowed_tools(&reader).collect();
        assert!(allowed.contains(&"splunk_list_indexes"));
        assert!(allowed.contains(&"splunk_whoami"));
        assert!(!allowed.contains(&"splunk_search"));
        assert!(!allowed.contains(&"splunk_list_users"));
    }
}
