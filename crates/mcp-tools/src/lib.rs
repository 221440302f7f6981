//! The MCP tools of splunk-mcp, on rmcp.
//!
//! - [`SplunkTools`]: the MCP server (an rmcp [`rmcp::ServerHandler`]) with the Splunk tools.
//!   Each call is checked against the caller's scopes ([`registry`]), runs with Splunk
//!   credentials resolved per call ([`credentials`]), and is written to the audit log ([`audit`]).
//! - [`custom`]: custom SPL tools from configuration, served and checked like the built-in ones.
//! - [`spl_guard`]: tokenizes a Splunk search and refuses commands that write, delete, send or
//!   execute, in the main search, in every subsearch and in the search strings of `map`.
//!
//! ```
//! use mcp_tools::spl_guard::{GuardConfig, SplGuard};
//!
//! let guard = SplGuard::new(GuardConfig::default());
//! let checked = guard.check("index=web status>=500 | stats count by host").unwrap();
//! assert_eq!(checked.text(), "search index=web status>=500 | stats count by host");
//!
//! let refused = guard.check("index=web [search index=x | outputlookup hosts.csv]").unwrap_err();
//! assert_eq!(
//!     refused.to_string(),
//!     "the SPL command 'outputlookup' is not allowed (found in a subsearch)"
//! );
//! ```

mod arguments;
pub mod audit;
pub mod config;
pub mod credentials;
pub mod custom;
pub mod error;
pub mod exchange;
pub mod registry;
mod server;
pub mod spl_guard;

pub use audit::{AuditEvent, CallObserver, Outcome};
pub use config::ToolsConfig;
pub use credentials::{
    ClientFuture, CredentialError, CredentialSource, MirrorCredentials, PassthroughCredentials,
    ResolvedClient, ResolvedFuture, ServiceCredentials, UsernameClaim,
};
pub use custom::{CustomTool, CustomToolConfig, CustomToolError, ParamType, ParameterConfig};
pub use error::ToolError;
pub use exchange::{
    ExchangeCredentials, ExchangeError, ExchangeFuture, ExchangedToken, TokenExchange,
};
pub use registry::{PolicyConfig, RegistryError, Rule, ToolRegistry, ToolSpec};
pub use server::{
    GetDashboardArgs, GetIndexArgs, GetMetadataArgs, KvCollectionsArgs, KvQueryArgs,
    ListDashboardsArgs, ListDataModelsArgs, ListFiredAlertsArgs, ListIndexesArgs, ListLookupsArgs,
    ListSavedSearchesArgs, LookupQueryArgs, MetadataType, NoArgs, RunSavedSearchArgs, SearchArgs,
    SearchModeArg, SearchResultsArgs, SearchStartArgs, SidArgs, SplunkTools, ValidateSplArgs,
    WhoamiArgs,
};
