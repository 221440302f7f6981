//! The MCP tools of splunk-mcp.
//!
//! This crate will hold the tools an MCP client calls (search, catalog, administration), their
//! scopes, per-call credential resolution, result limits and audit events. Today it holds the
//! first piece those tools stand on: [`spl_guard`], which tokenizes a Splunk search and refuses
//! commands that write, delete, send or execute, in the main search, in every subsearch and in
//! the search strings of `map`.
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

pub mod spl_guard;
