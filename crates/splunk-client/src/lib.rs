//! An async client for Splunk's management REST API (port 8089).
//!
//! - Credentials: [`Credentials::Bearer`] (a Splunk token or an IdP JWT, always sent as
//!   `Authorization: Bearer`) or [`Credentials::Session`] (username and password exchanged for a
//!   session key, logged in again once when the key expires) or [`Credentials::Source`] (a
//!   bearer token from a [`TokenSource`], replaced once when Splunk refuses it).
//! - Transport: rustls with verification on by default, an extra CA bundle, an explicit
//!   insecure switch, timeouts, and retries with jittered backoff for idempotent requests only;
//!   a [`RequestObserver`] set with [`ClientConfig::with_observer`] sees every request.
//! - Search: [`Client::oneshot`], jobs ([`Client::create_job`], [`Client::wait_job`],
//!   [`Client::job_results`] ...) and [`Client::export`], a constant-memory stream of rows.
//! - Catalog: indexes, metadata, saved searches, apps, KV store.
//! - Knowledge objects: fired alerts, dashboards and the searches they run
//!   ([`View::searches`]), lookup table files and definitions, data models with their datasets
//!   and fields.
//! - Administration: users, roles, tokens; and [`mirror::Provisioner`] for per-person mirror
//!   users with short-lived tokens.
//!
//! The crate knows nothing of MCP and reads no environment: configuration is a typed
//! [`ClientConfig`]. Errors are one [`Error`] enum whose `Display` text is safe to show users.
//!
//! ```no_run
//! # async fn demo() -> splunk_client::Result<()> {
//! use futures::TryStreamExt;
//! use splunk_client::{Client, ClientConfig, Credentials, SearchParams, TimeRange};
//!
//! let config = ClientConfig::new("https://splunk.example.com:8089");
//! let client = Client::new(&config, Credentials::session("admin", "changeme"))?;
//! let params = SearchParams::with_time_range(TimeRange::since("-24h")?);
//! let mut rows = client.export("index=web status>=500", &params).await?;
//! while let Some(row) = rows.try_next().await? {
//!     println!("{row:?}");
//! }
//! # Ok(())
//! # }
//! ```

mod admin;
mod auth;
mod catalog;
mod client;
mod config;
mod endpoint;
mod error;
mod export;
mod knowledge;
pub mod mirror;
mod observe;
mod search;
mod time;
mod transport;
mod wire;

pub use admin::{MintedToken, NewUser, Role, TokenInfo, TokenRequest, TokenTime, User};
pub use auth::{Credentials, TokenFuture, TokenSource};
pub use catalog::{
    App, DispatchOptions, Index, KvCollection, KvQuery, KvSort, ListOptions, MetadataEntry,
    MetadataKind, Page, SavedSearch, SavedSearchRun, row_as,
};
pub use client::{Client, CurrentContext, ServerInfo};
pub use config::{ClientConfig, RetryPolicy, TlsConfig};
pub use endpoint::Namespace;
pub use error::{Error, Message, MessageType, Result};
pub use export::{DEFAULT_MAX_LINE_BYTES, ExportDecoder, Row};
pub use knowledge::{
    Acceleration, DashboardKind, DashboardSearch, DataModel, DataModelDataset, DataModelField,
    FiredAlert, FiredAlertGroup, LookupDefinition, LookupTableFile, View,
};
pub use observe::RequestObserver;
pub use search::{
    CreatedJob, DEFAULT_PAGE_SIZE, DispatchState, JobStatus, ParsedCommand, ParsedSearch,
    SearchMode, SearchParams, SearchResults, Sid, WaitOptions,
};
pub use secrecy::{ExposeSecret, SecretString};
pub use time::{TimeModifier, TimeRange};
pub use transport::Transport;
pub use wire::{Acl, Paging};
