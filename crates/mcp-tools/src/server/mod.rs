//! The MCP server: the Splunk tools on rmcp, each call checked against the caller's scopes,
//! run with the caller's Splunk credentials and written to the audit log.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use auth_core::{AuthContext, Decision};
use chrono::Utc;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ContentBlock, Extensions, GetTaskParams, GetTaskResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion, ServerCapabilities,
    ServerConfig, SubscriptionFilter, Tool, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use splunk_client::{
    Client, CreatedJob, ListOptions, MetadataKind, Row, SearchParams, Sid, TimeRange, WaitOptions,
};

use crate::audit::{AuditEvent, CallObserver, Outcome, args_digest};
use crate::config::ToolsConfig;
use crate::credentials::CredentialSource;
use crate::custom::CustomTool;
use crate::error::ToolError;
use crate::registry::ToolRegistry;
use crate::spl_guard::SplGuard;

mod admin;
mod catalog;
mod jobs;
mod knowledge;
mod tasks;

pub use catalog::{KvCollectionsArgs, KvQueryArgs, ListSavedSearchesArgs, RunSavedSearchArgs};
pub use jobs::{SearchResultsArgs, SearchStartArgs, SidArgs};
pub use knowledge::{
    GetDashboardArgs, ListDashboardsArgs, ListDataModelsArgs, ListFiredAlertsArgs, ListLookupsArgs,
    LookupQueryArgs,
};

/// What the server tells a client about itself at `initialize`.
const INSTRUCTIONS: &str = "Tools to explore and search Splunk as the signed-in user. Start with \
splunk_list_indexes and splunk_get_metadata to learn which indexes, hosts, sources and \
sourcetypes exist, then run SPL with splunk_search (time range defaults to the last 24 hours). \
Splunk's role-based access control decides what each user sees.";

/// The Splunk MCP server. Cheap to clone: one per connection or session, sharing everything
/// but the caller bound to it.
#[derive(Debug, Clone)]
pub struct SplunkTools {
    shared: Arc<Shared>,
    caller: Option<AuthContext>,
    /// Builder settings, kept outside `shared` so that they can be set after `new`.
    observer: Option<Arc<dyn CallObserver>>,
    filter_tools_list: bool,
    announce_tool_changes: bool,
    offer_tasks: bool,
}

#[derive(Debug)]
struct Shared {
    config: ToolsConfig,
    guard: SplGuard,
    credentials: Arc<dyn CredentialSource>,
    /// The policy and the custom tools; replaced whole when the tools file is reloaded, while
    /// calls in flight finish with the one they started with.
    registry: ArcSwap<ToolRegistry>,
    jobs: jobs::Owners,
    /// The sessions' clients, told when the tools change; closed ones are dropped as new ones
    /// come.
    peers: Mutex<Vec<Peer<RoleServer>>>,
    /// Bumped when the tools change, for the `subscriptions/listen` streams of protocol
    /// 2026-07-28, which have no session to be told through.
    tool_changes: tokio::sync::watch::Sender<u64>,
    tasks: tasks::Tasks,
}

impl SplunkTools {
    /// A server with the given limits, credential source and scope registry, bound to no
    /// caller (stdio, or unauthenticated HTTP).
    pub fn new(
        config: ToolsConfig,
        credentials: Arc<dyn CredentialSource>,
        registry: ToolRegistry,
    ) -> Self {
        let guard = SplGuard::new(config.guard.clone());
        Self {
            shared: Arc::new(Shared {
                config,
                guard,
                credentials,
                registry: ArcSwap::from_pointee(registry),
                jobs: jobs::Owners::default(),
                peers: Mutex::new(Vec::new()),
                tool_changes: tokio::sync::watch::Sender::new(0),
                tasks: tasks::Tasks::default(),
            }),
            caller: None,
            observer: None,
            filter_tools_list: true,
            announce_tool_changes: true,
            offer_tasks: true,
        }
    }

    /// Also hands every tool call's [`AuditEvent`] to `observer` (e.g. for metrics). A
    /// builder step: call it right after [`SplunkTools::new`]; servers made from this one with
    /// [`SplunkTools::with_caller`] keep it.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same server bound to `caller`, e.g. for an HTTP session opened with that token.
    /// An [`AuthContext`] found in a request's extensions takes precedence over this one.
    pub fn with_caller(&self, caller: Option<AuthContext>) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            caller,
            observer: self.observer.clone(),
            filter_tools_list: self.filter_tools_list,
            announce_tool_changes: self.announce_tool_changes,
            offer_tasks: self.offer_tasks,
        }
    }

    /// Whether `tools/list` shows an authenticated caller only the tools its scopes and groups
    /// allow (`true`, the default) or every tool (`false`; calls are checked either way). A
    /// request without a caller (stdio) always lists every tool. A builder step, like
    /// [`SplunkTools::with_observer`].
    pub fn with_tools_list_filter(mut self, on: bool) -> Self {
        self.filter_tools_list = on;
        self
    }

    /// Whether the server declares `tools.listChanged` and tells sessions when a reload changed
    /// the tools (`true`, the default). Stateless servers keep no session to tell. A builder
    /// step, like [`SplunkTools::with_observer`].
    pub fn with_tool_list_changes(mut self, on: bool) -> Self {
        self.announce_tool_changes = on;
        self
    }

    /// Whether the server offers the tasks extension: searches as tasks, for clients that
    /// declare it (`true`, the default). Tasks live in this process, so a stateless server,
    /// which may be one of several replicas, offers none. A builder step, like
    /// [`SplunkTools::with_observer`].
    pub fn with_tasks(mut self, on: bool) -> Self {
        self.offer_tasks = on;
        self
    }

    /// The tools to list for a request with these extensions: all of them, or with the filter
    /// on and a caller known, those the registry allows the caller.
    fn listed_tools(&self, extensions: &Extensions) -> (Vec<Tool>, bool) {
        let registry = self.registry();
        let mut all = Self::tools();
        all.extend(
            registry
                .custom_tools()
                .map(|tool| tool.definition().clone()),
        );
        if !self.filter_tools_list {
            return (all, false);
        }
        let Some(caller) = self.caller(extensions) else {
            return (all, false);
        };
        let allowed = all
            .into_iter()
            .filter(|tool| registry.evaluate(&tool.name, &caller).is_allowed())
            .collect();
        (allowed, true)
    }

    /// The policy the tools check calls against, with the custom tools (the one in force now:
    /// [`SplunkTools::replace_registry`] may change it).
    pub fn registry(&self) -> Arc<ToolRegistry> {
        self.shared.registry.load_full()
    }

    /// Serves `registry` from the next call on, in every session: how a reloaded tools file
    /// takes effect without dropping anyone. Every open session, and every
    /// `subscriptions/listen` stream that asked for it, is sent
    /// `notifications/tools/list_changed`, so clients list the tools again.
    pub async fn replace_registry(&self, registry: ToolRegistry) {
        self.shared.registry.store(Arc::new(registry));
        self.shared
            .tool_changes
            .send_modify(|changes| *changes += 1);
        let peers: Vec<Peer<RoleServer>> = self.open_peers().clone();
        // One task per session, each with a bound: a client that reads nothing must not hold
        // up the others, nor the next reload.
        for peer in peers {
            tokio::spawn(async move {
                let told = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    peer.notify_tool_list_changed(),
                )
                .await;
                if !matches!(told, Ok(Ok(()))) {
                    tracing::debug!("a session could not be told that the tools changed");
                }
            });
        }
    }

    /// The clients of the sessions still open (closed ones are dropped on the way).
    fn open_peers(&self) -> std::sync::MutexGuard<'_, Vec<Peer<RoleServer>>> {
        let mut peers = self
            .shared
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        peers.retain(|peer| !peer.is_transport_closed());
        peers
    }

    /// Every built-in tool's MCP definition (name, description, schemas, annotations).
    pub fn tools() -> Vec<Tool> {
        Self::router().list_all()
    }

    /// The MCP definition of the tool `name` in `registry`, built-in or custom.
    fn definition(name: &str, registry: &ToolRegistry) -> Option<Tool> {
        Self::router().get(name).cloned().or_else(|| {
            registry
                .custom_tool(name)
                .map(|tool| tool.definition().clone())
        })
    }

    /// Every tool's route, from the tool groups' routers; built once, as every request to
    /// every connection dispatches through it.
    fn router() -> &'static ToolRouter<Self> {
        static ROUTER: OnceLock<ToolRouter<SplunkTools>> = OnceLock::new();
        ROUTER.get_or_init(|| {
            Self::tool_router()
                + Self::job_router()
                + Self::catalog_router()
                + Self::admin_router()
                + Self::knowledge_router()
        })
    }

    /// The caller of a request with these extensions: the one it carries, else the one this
    /// server is bound to.
    fn caller(&self, extensions: &Extensions) -> Option<AuthContext> {
        caller_in(extensions).or_else(|| self.caller.clone())
    }

    /// Starts the record of one call: caller, time, argument digest, and the policy in force
    /// now, which every check of the call then uses (a reload meanwhile changes nothing for it).
    fn start(
        &self,
        tool: impl Into<Cow<'static, str>>,
        args: &impl Serialize,
        extensions: &Extensions,
    ) -> Call {
        let caller = self.caller(extensions);
        let args = serde_json::to_value(args).unwrap_or(Value::Null);
        Call {
            tool: tool.into(),
            caller,
            started: Instant::now(),
            time: Utc::now(),
            digest: args_digest(&args),
            spl: None,
            sid: None,
            splunk_user: OnceLock::new(),
            observer: self.observer.clone(),
            registry: self.registry(),
        }
    }

    /// Refuses the call unless the caller passes the tool's policy. Without a caller (an
    /// unauthenticated transport) there is nothing to check: such transports are local only.
    fn authorize(&self, call: &Call) -> Result<(), ToolError> {
        check_policy(&call.registry, &call.tool, call.caller.as_ref())
    }

    /// Authorizes the call and resolves the Splunk client for its caller.
    async fn client(&self, call: &Call) -> Result<Client, ToolError> {
        self.authorize(call)?;
        let resolved = self
            .shared
            .credentials
            .resolve(call.caller.as_ref())
            .await?;
        if let Some(user) = resolved.splunk_user {
            let _ = call.splunk_user.set(user);
        }
        Ok(resolved.client)
    }

    /// A call refused before its tool runs: by the policy, or because its arguments do not
    /// fit the tool's schema (told in plain words). Audited like any other call; `None` lets
    /// the call through.
    fn refuse_before_dispatch(
        &self,
        request: &CallToolRequestParams,
        extensions: &Extensions,
        registry: &ToolRegistry,
    ) -> Option<CallToolResult> {
        let tool = Self::definition(&request.name, registry)?;
        let caller = self.caller(extensions);
        let empty = serde_json::Map::new();
        let args = request.arguments.as_ref().unwrap_or(&empty);
        let refusal = match check_policy(registry, &tool.name, caller.as_ref()) {
            Err(denied) => denied,
            Ok(()) => match crate::arguments::check(&tool.input_schema, args) {
                Err(problems) => ToolError::Arguments(format!("{}: {problems}", tool.name)),
                Ok(()) => return None,
            },
        };
        let call = self.start(tool.name, args, extensions);
        call.finish(Err(refusal)).ok()
    }

    /// A call of a custom tool: its search rendered from the arguments (and the caller's
    /// claims), then run as `splunk_search` runs one, under the custom tool's name.
    async fn call_custom(
        &self,
        tool: Arc<CustomTool>,
        registry: Arc<ToolRegistry>,
        params: &CallToolRequestParams,
        request: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let empty = serde_json::Map::new();
        let args = params.arguments.as_ref().unwrap_or(&empty);
        let mut call = self.start(tool.name().to_owned(), args, &request.extensions);
        // The policy the tool was found in, not one a reload put in place since.
        call.registry = registry;
        let result = async {
            self.authorize(&call)?;
            let search = tool.render(args, call.caller.as_ref())?;
            let args = SearchArgs {
                spl: search.spl,
                earliest: search.earliest,
                latest: search.latest,
                max_results: search.max_results,
                mode: None,
                sample_ratio: None,
            };
            self.search(&mut call, args, request).await
        }
        .await;
        call.finish(result)
    }

    /// Runs a call that passed the pre-check: a custom tool's, or a built-in tool's through
    /// the router. Plain calls and tasks both come here.
    async fn dispatch(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
        registry: Arc<ToolRegistry>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(custom) = registry.custom_tool(&request.name).cloned() {
            return self
                .call_custom(custom, registry, &request, &context)
                .await
                .map(Into::into);
        }
        let call = ToolCallContext::new(self, request, context);
        Self::router().call(call).await
    }

    fn time_range(
        &self,
        earliest: Option<&str>,
        latest: Option<&str>,
    ) -> Result<TimeRange, ToolError> {
        let config = &self.shared.config;
        TimeRange::parse(
            earliest.unwrap_or(&config.default_earliest),
            latest.unwrap_or(&config.default_latest),
        )
        .map_err(|e| ToolError::InvalidArgument {
            what: "earliest/latest",
            reason: e.to_string(),
        })
    }
}

/// The caller of a request: an [`AuthContext`] put in the request's extensions directly, or
/// in the extensions of the HTTP request it came in (rmcp's streamable HTTP server stores the
/// request's [`http::request::Parts`], where auth-core's tower layer put the context).
fn caller_in(extensions: &Extensions) -> Option<AuthContext> {
    extensions.get::<AuthContext>().cloned().or_else(|| {
        extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<AuthContext>().cloned())
    })
}

/// Whether `caller` may call `tool` under `registry` (anyone may on an unauthenticated
/// transport).
fn check_policy(
    registry: &ToolRegistry,
    tool: &str,
    caller: Option<&AuthContext>,
) -> Result<(), ToolError> {
    let Some(caller) = caller else {
        return Ok(());
    };
    match registry.evaluate(tool, caller) {
        Decision::Allow => Ok(()),
        Decision::Deny(denial) => Err(ToolError::Denied(registry.refusal_reason(&denial))),
    }
}

/// One tool call in progress: what the audit event will say.
struct Call {
    tool: Cow<'static, str>,
    caller: Option<AuthContext>,
    started: Instant,
    time: chrono::DateTime<Utc>,
    digest: String,
    spl: Option<String>,
    sid: Option<String>,
    /// Set by the first credential resolution (interior, as tools hold `&Call` meanwhile).
    splunk_user: OnceLock<String>,
    observer: Option<Arc<dyn CallObserver>>,
    /// The policy (and custom tools) the call is checked against, from its start.
    registry: Arc<ToolRegistry>,
}

impl Call {
    /// The caller's subject, `None` on an unauthenticated transport.
    fn subject(&self) -> Option<&str> {
        self.caller.as_ref().map(AuthContext::subject)
    }

    /// Emits the audit event and turns the result into what the MCP client sees.
    fn finish(
        self,
        result: Result<CallToolResult, ToolError>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(e) => e.outcome(),
        };
        if let Err(e) = &result {
            if e.is_splunk_unavailable() {
                tracing::warn!(tool = %self.tool, error = %e, "Splunk is unavailable");
            } else {
                tracing::debug!(tool = %self.tool, error = ?e, "tool call failed");
            }
        }
        let event = AuditEvent {
            time: self.time,
            subject: self.caller.as_ref().map(|c| c.subject().to_owned()),
            client_id: self
                .caller
                .as_ref()
                .and_then(|c| c.client_id().map(str::to_owned)),
            tool: self.tool.into_owned(),
            spl: self.spl,
            args_digest: self.digest,
            outcome,
            duration: self.started.elapsed(),
            sid: self.sid,
            splunk_user: self.splunk_user.into_inner(),
        };
        event.emit();
        if let Some(observer) = &self.observer {
            observer.on_call(&event);
        }
        Ok(result.unwrap_or_else(|e| e.to_tool_result()))
    }
}

/// A JSON value as the structured content of a result, with readable text beside it.
fn answer(text: String, structured: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// Arguments of `splunk_search`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// The SPL query, e.g. `index=web status>=500 | stats count by host`. A leading `search`
    /// is added when needed. Commands that write or delete data are refused.
    pub spl: String,
    /// Start of the time range: relative (`-24h`, `-7d@d`), `now`, or epoch seconds.
    /// Default `-24h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    /// End of the time range, same forms as `earliest`. Default `now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// Most rows to return (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
    /// Search mode: `fast` (only the fields the search uses; quickest), `smart` (Splunk's
    /// default) or `verbose` (every field of every event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SearchModeArg>,
    /// Event sampling: keep one event in this many (e.g. 100 for a quick estimate over a large
    /// index; counts then stand for about 1/100 of the events). Default: no sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sample_ratio: Option<u64>,
}

/// A search mode (Splunk's `adhoc_search_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchModeArg {
    /// Only the fields the search uses.
    Fast,
    /// Splunk's default.
    Smart,
    /// Every field of every event.
    Verbose,
}

impl From<SearchModeArg> for splunk_client::SearchMode {
    fn from(mode: SearchModeArg) -> Self {
        match mode {
            SearchModeArg::Fast => Self::Fast,
            SearchModeArg::Smart => Self::Smart,
            SearchModeArg::Verbose => Self::Verbose,
        }
    }
}

/// Arguments of `splunk_validate_spl`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ValidateSplArgs {
    /// The SPL to check, as `splunk_search` would take it.
    pub spl: String,
}

/// Arguments of `splunk_list_indexes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListIndexesArgs {
    /// Only indexes whose name matches this Splunk filter, e.g. `web*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Include internal indexes (names starting with `_`). Default false.
    #[serde(default)]
    pub include_internal: bool,
}

/// Arguments of `splunk_get_index`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetIndexArgs {
    /// The index name, e.g. `web`.
    pub name: String,
}

/// What `splunk_get_metadata` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetadataType {
    /// Hosts that sent events.
    Hosts,
    /// Sources (files, streams) of events.
    Sources,
    /// Sourcetypes (data formats) of events.
    Sourcetypes,
}

/// Arguments of `splunk_get_metadata`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetMetadataArgs {
    /// The index to describe, e.g. `web`.
    pub index: String,
    /// Which values to list: `hosts`, `sources` or `sourcetypes`.
    #[serde(rename = "type")]
    pub kind: MetadataType,
    /// Start of the time range (default `-24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    /// End of the time range (default `now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
}

/// Arguments of `splunk_whoami`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct WhoamiArgs {
    /// Only report the MCP identity; do not ask Splunk who the call runs as. Default false.
    #[serde(default)]
    pub skip_splunk: bool,
}

/// Arguments of tools that take none.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct NoArgs {}

#[tool_router(vis = "pub(crate)")]
impl SplunkTools {
    /// Runs SPL and waits for the results.
    #[tool(
        description = "Run a Splunk search (SPL) and return its results. Use for questions about \
the data in Splunk's indexes: counts, top values, errors, trends. Always name an index \
(`index=web ...`) and prefer aggregating commands (stats, timechart, top) over raw events. The \
time range defaults to the last 24 hours (earliest=-24h, latest=now). At most max_results rows \
are returned (default 100); an answer that was cut says so. Commands that write, delete or send \
data (delete, collect, outputlookup, sendemail, ...) are refused, in subsearches too.",
        annotations(
            title = "Search Splunk",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_search(
        &self,
        params: Parameters<SearchArgs>,
        request: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_search", &args, &request.extensions);
        let result = self.search(&mut call, args, &request).await;
        call.finish(result)
    }

    /// Checks SPL without running it.
    #[tool(
        description = "Check a Splunk search (SPL) without running it: whether this server would \
run it (commands that write, delete or send data are refused, in subsearches too), which commands \
and indexes it names, and whether Splunk's own parser accepts it (with Splunk's error if not). \
Use before splunk_search to fix a query cheaply.",
        annotations(
            title = "Validate SPL",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_validate_spl(
        &self,
        params: Parameters<ValidateSplArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_validate_spl", &args, &extensions);
        call.spl = Some(args.spl.clone());
        let result = async {
            let client = self.client(&call).await?;
            let (guard, mut text) = match self.shared.guard.check(&args.spl) {
                Ok(checked) => (
                    json!({
                        "allowed": true,
                        "search": checked.text(),
                        "commands": checked.commands(),
                        "indexes": checked.indexes(),
                        "macros": checked.macros(),
                    }),
                    format!(
                        "Allowed here: runs as `{}` (commands: {}; indexes: {}).\n",
                        checked.text(),
                        checked.commands().join(", "),
                        if checked.indexes().is_empty() {
                            "none named".to_owned()
                        } else {
                            checked.indexes().join(", ")
                        }
                    ),
                ),
                Err(refusal) => (
                    json!({"allowed": false, "reason": refusal.to_string()}),
                    format!("Refused here: {refusal}.\n"),
                ),
            };
            let splunk = match client.parse_search(&args.spl).await {
                Ok(parsed) => {
                    text.push_str("Splunk's parser accepts it.\n");
                    let commands: Vec<Value> = parsed
                        .commands
                        .iter()
                        .map(|c| json!({"command": c.command, "args": c.rawargs}))
                        .collect();
                    json!({"parses": true, "commands": commands})
                }
                // Splunk's parser refuses the SPL: that is the answer, not a failure of the call.
                Err(refused @ splunk_client::Error::BadRequest { .. }) => {
                    let error = refused.to_string();
                    text.push_str(&format!("Splunk's parser refuses it: {error}\n"));
                    json!({"parses": false, "error": error})
                }
                Err(e) => return Err(e.into()),
            };
            Ok(answer(text, json!({"guard": guard, "splunk": splunk})))
        }
        .await;
        call.finish(result)
    }

    /// Lists indexes.
    #[tool(
        description = "List the Splunk indexes the user may see, with event counts, sizes and \
the time span of their data. Use first to learn where data lives before searching.",
        annotations(
            title = "List indexes",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_indexes(
        &self,
        params: Parameters<ListIndexesArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_indexes", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let options = match &args.filter {
                Some(filter) => ListOptions::filtered(format!("name={filter}")),
                None => ListOptions::all(),
            };
            let page = client.list_indexes(&options).await?;
            let indexes: Vec<Value> = page
                .items
                .iter()
                .filter(|index| args.include_internal || !index.name.starts_with('_'))
                .map(index_json)
                .collect();
            let mut text = format!("{} index(es):\n", indexes.len());
            for index in &page.items {
                if args.include_internal || !index.name.starts_with('_') {
                    text.push_str(&format!(
                        "- {} ({} events, {:.1} MB{})\n",
                        index.name,
                        index.total_event_count,
                        index.current_db_size_mb,
                        if index.disabled { ", disabled" } else { "" }
                    ));
                }
            }
            Ok(answer(text, json!({ "indexes": indexes })))
        }
        .await;
        call.finish(result)
    }

    /// Describes one index.
    #[tool(
        description = "Get the details of one Splunk index: event count, size, size limit, \
earliest and latest event time, data type, retention.",
        annotations(
            title = "Get index",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_get_index(
        &self,
        params: Parameters<GetIndexArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_get_index", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let index = client.get_index(&args.name).await.map_err(|e| {
                ToolError::not_found(e, || {
                    format!(
                        "no index named `{}` is visible to you (it does not exist, or your Splunk \
                         roles do not allow it); splunk_list_indexes lists those you can see",
                        args.name
                    )
                })
            })?;
            let structured = index_json(&index);
            let text = serde_json::to_string_pretty(&structured).unwrap_or_default();
            Ok(answer(text, structured))
        }
        .await;
        call.finish(result)
    }

    /// Lists hosts, sources or sourcetypes of an index.
    #[tool(
        description = "List the hosts, sources or sourcetypes that sent events to an index, with \
event counts and first/last times. Use to learn the shape of an index before writing SPL.",
        annotations(
            title = "Get index metadata",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_get_metadata(
        &self,
        params: Parameters<GetMetadataArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_get_metadata", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let range = self.time_range(args.earliest.as_deref(), args.latest.as_deref())?;
            let kind = match args.kind {
                MetadataType::Hosts => MetadataKind::Hosts,
                MetadataType::Sources => MetadataKind::Sources,
                MetadataType::Sourcetypes => MetadataKind::Sourcetypes,
            };
            let entries = client.metadata(kind, &args.index, &range).await?;
            let mut text = format!("{} value(s) in index {}:\n", entries.len(), args.index);
            let values: Vec<Value> = entries
                .iter()
                .map(|e| {
                    text.push_str(&format!("- {} ({} events)\n", e.value, e.total_count));
                    json!({
                        "value": e.value,
                        "total_count": e.total_count,
                        "first_time": e.first_time,
                        "last_time": e.last_time,
                        "recent_time": e.recent_time,
                    })
                })
                .collect();
            Ok(answer(
                text,
                json!({ "index": args.index, "values": values }),
            ))
        }
        .await;
        call.finish(result)
    }

    /// Splunk's version and health.
    #[tool(
        description = "Get the Splunk server's version, host name, license kind, KV store \
status and health.",
        annotations(
            title = "Server info",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_server_info(
        &self,
        params: Parameters<NoArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = self.start("splunk_server_info", &params.0, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let info = client.server_info().await?;
            let structured = json!({
                "version": info.version,
                "build": info.build,
                "server_name": info.server_name,
                "host": info.host,
                "is_free": info.is_free,
                "is_trial": info.is_trial,
                "kv_store_status": info.kv_store_status,
                "health_info": info.health_info,
                "os_name": info.os_name,
                "cpu_arch": info.cpu_arch,
            });
            let text = format!(
                "Splunk {} on {} (health: {}, KV store: {})",
                info.version, info.server_name, info.health_info, info.kv_store_status
            );
            Ok(answer(text, structured))
        }
        .await;
        call.finish(result)
    }

    /// Who the caller is, to MCP and to Splunk.
    #[tool(
        description = "Show who you are: the MCP identity (subject, OAuth client, scopes, \
groups) and, unless skip_splunk is set, the Splunk user the calls run as with its roles and \
capabilities. Use to understand why a search sees or misses data.",
        annotations(
            title = "Who am I",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_whoami(
        &self,
        params: Parameters<WhoamiArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_whoami", &args, &extensions);
        let result = async {
            self.authorize(&call)?;
            let mcp = match &call.caller {
                Some(ctx) => json!({
                    "authenticated": true,
                    "subject": ctx.subject(),
                    "client_id": ctx.client_id(),
                    "scopes": ctx.scopes().iter().collect::<Vec<_>>(),
                    "groups": ctx.groups(),
                }),
                None => json!({ "authenticated": false }),
            };
            let mut text = match &call.caller {
                Some(ctx) => format!(
                    "MCP identity: {} (client {}, scopes: {})\n",
                    ctx.subject(),
                    ctx.client_id().unwrap_or("-"),
                    ctx.scopes()
                ),
                None => "MCP identity: none (unauthenticated transport)\n".to_owned(),
            };
            let mut structured = json!({
                "mcp": mcp,
                "credentials": self.shared.credentials.mode(),
            });
            if !args.skip_splunk {
                let client = self.client(&call).await?;
                let ctx = client.current_context().await?;
                text.push_str(&format!(
                    "Splunk user: {} (roles: {})\n",
                    ctx.username,
                    ctx.roles.join(", ")
                ));
                structured["splunk"] = json!({
                    "username": ctx.username,
                    "realname": ctx.realname,
                    "roles": ctx.roles,
                    "capabilities": ctx.capabilities,
                    "default_app": ctx.default_app,
                    "type": ctx.user_type,
                });
            }
            Ok(answer(text, structured))
        }
        .await;
        call.finish(result)
    }
}

impl SplunkTools {
    /// The body of `splunk_search`: guard, job, wait (cancelling on timeout), one page of
    /// results cut to the row and byte limits.
    async fn search(
        &self,
        call: &mut Call,
        args: SearchArgs,
        request: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let config = &self.shared.config;
        call.spl = Some(args.spl.clone());
        self.authorize(call)?;
        let checked = self.shared.guard.check(&args.spl)?;
        call.spl = Some(checked.text().to_owned());
        let range = self.time_range(args.earliest.as_deref(), args.latest.as_deref())?;
        let requested = args.max_results.unwrap_or(config.default_max_results);
        if requested == 0 {
            return Err(ToolError::InvalidArgument {
                what: "max_results",
                reason: "must be at least 1".to_owned(),
            });
        }
        let mut params = SearchParams::with_time_range(range);
        params.mode = args.mode.map(Into::into);
        params.sample_ratio = checked_sample_ratio(args.sample_ratio)?;
        let client = self.client(call).await?;
        let sid = Sid::generate();
        call.sid = Some(sid.to_string());
        let job = match create_watched(&client, checked.text(), &params, &sid, request).await {
            Ok(job) => job,
            Err(WaitEnd::Splunk(e)) => {
                // Without a clear answer from Splunk the job may exist: it must not run on.
                if e.status().is_none_or(|status| status >= 500) {
                    cancel_quietly(&client, &sid).await;
                }
                return Err(e.into());
            }
            Err(cancelled) => return Err(cancelled.into()),
        };
        self.collect_job(
            call,
            &client,
            job,
            checked.text(),
            requested,
            checked.indexes(),
            request,
        )
        .await
    }

    /// Waits for job `sid` as [`wait_watched`] does; past the search timeout the job is
    /// cancelled and the call answers so.
    async fn wait_for(
        &self,
        client: &Client,
        sid: &Sid,
        request: &RequestContext<RoleServer>,
    ) -> Result<splunk_client::JobStatus, ToolError> {
        let timeout = self.shared.config.search_timeout;
        match wait_watched(client, sid, timeout, request).await {
            Err(WaitEnd::Splunk(splunk_client::Error::Timeout { .. })) => {
                cancel_quietly(client, sid).await;
                Err(ToolError::SearchTimeout { timeout })
            }
            other => Ok(other?),
        }
    }

    /// Waits for `job` unless it has ended (cancelling it past the timeout, or when `request`
    /// is cancelled, and reporting its progress when `request` asked for it) and answers with
    /// its first rows, cut to the row and byte limits with a note saying so. `label` names the
    /// search in the answer; `requested` is the caller's row limit before the server's cap.
    /// When nothing is found, a note names those of `named_indexes` the caller cannot see.
    #[allow(clippy::too_many_arguments)] // each is one fact of the search being collected
    async fn collect_job(
        &self,
        call: &mut Call,
        client: &Client,
        job: CreatedJob,
        label: &str,
        requested: u64,
        named_indexes: &[String],
        request: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let config = &self.shared.config;
        let limit = requested.min(config.max_results_cap);
        let sid = job.sid().clone();
        call.sid = Some(sid.to_string());
        self.shared.jobs.remember(sid.as_str(), call.subject());
        // One row more than the limit tells whether there were more, even when the job's
        // result count is unknown.
        let first_rows = || client.job_results_page(&sid, 0, limit + 1);
        let mut ended = None;
        if let CreatedJob::Ended(_) = &job {
            // Its status (failed? how many rows?) and its rows at once.
            let (status, page) = tokio::join!(client.job_status(&sid), first_rows());
            let status = status?.checked()?;
            if status.has_ended() {
                ended = Some((status, page?));
            }
        }
        let (status, page) = match ended {
            Some(ended) => ended,
            None => {
                let status = self.wait_for(client, &sid, request).await?;
                (status, first_rows().await?)
            }
        };
        let total = status.result_count.max(page.results.len() as u64);

        let mut notes = Vec::new();
        let mut rows: Vec<Row> = page.results;
        if rows.len() as u64 > limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            notes.push(format!(
                "Results truncated: returned the first {limit} of {} rows (max_results={limit}{}). \
Aggregate (stats, top, timechart) or narrow the search to see the rest.",
                if total > limit {
                    total.to_string()
                } else {
                    "more".to_owned()
                },
                if requested > limit {
                    ", lowered from the request by the server's cap"
                } else {
                    ""
                }
            ));
        }
        let (rows, byte_cut) = cut_to_bytes(rows, config.max_result_bytes);
        if let Some(kept) = byte_cut {
            notes.push(format!(
                "Results truncated: only the first {kept} rows fit in the {} byte answer limit. \
Select fewer fields (| table a b c) or aggregate.",
                config.max_result_bytes
            ));
        }
        let truncated = !notes.is_empty();
        if total == 0
            && let Some(note) = invisible_indexes_note(client, named_indexes).await
        {
            notes.push(note);
        }
        let mut text = format!("{} row(s) from {label} (sid {sid}).\n", rows.len());
        push_rows_and_notes(&mut text, &page.fields, &rows, &notes);
        let structured = json!({
            "sid": sid.as_str(),
            "search": label,
            "fields": page.fields,
            "rows": rows,
            "returned": rows.len(),
            "total": total,
            "truncated": truncated,
            "notes": notes,
        });
        Ok(answer(text, structured))
    }
}

/// A `sample_ratio` argument, refused when 0 (Splunk's own message would not name the tool's
/// argument).
fn checked_sample_ratio(ratio: Option<u64>) -> Result<Option<u64>, ToolError> {
    if ratio == Some(0) {
        return Err(ToolError::InvalidArgument {
            what: "sample_ratio",
            reason: "must be at least 1".to_owned(),
        });
    }
    Ok(ratio)
}

/// For a search that found nothing: which of the indexes it names the caller cannot see
/// (Splunk searches only the indexes a user's roles allow, silently). `None` when all are
/// visible, or when the list of visible indexes cannot be had.
async fn invisible_indexes_note(client: &Client, named: &[String]) -> Option<String> {
    if named.is_empty() {
        return None;
    }
    let visible = match client.list_indexes(&ListOptions::all()).await {
        Ok(page) => page.items,
        Err(e) => {
            tracing::debug!(error = %e, "could not list the caller's indexes for an empty search");
            return None;
        }
    };
    let hidden: Vec<&str> = named
        .iter()
        .filter(|name| {
            !visible
                .iter()
                .any(|index| index.name.eq_ignore_ascii_case(name))
        })
        .map(String::as_str)
        .collect();
    match hidden.as_slice() {
        [] => None,
        [one] => Some(format!(
            "No results, and index `{one}` is not visible to you: it does not exist, or your \
             Splunk roles do not allow searching it. splunk_list_indexes lists the indexes you \
             can search."
        )),
        many => Some(format!(
            "No results, and these indexes are not visible to you: {}. They do not exist, or \
             your Splunk roles do not allow searching them. splunk_list_indexes lists the \
             indexes you can search.",
            many.iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Waits for job `sid` as [`Client::wait_job`] does, [`watched`].
async fn wait_watched(
    client: &Client,
    sid: &Sid,
    timeout: std::time::Duration,
    request: &RequestContext<RoleServer>,
) -> Result<splunk_client::JobStatus, WaitEnd> {
    let (progress, statuses) = progress_channel(request);
    let wait = client.wait_job_watching(sid, WaitOptions::with_deadline(timeout), move |status| {
        if let Some(progress) = &progress {
            let _ = progress.send((status.done_progress, status.scan_count));
        }
    });
    watched(client, sid, request, wait, statuses, false).await
}

/// Creates job `sid` with [`Client::create_job_within`] ([`BLOCKING_WAIT`]), [`watched`]: when
/// progress is asked for, the job's status is read every [`PROGRESS_EVERY`] meanwhile.
async fn create_watched(
    client: &Client,
    query: &str,
    params: &SearchParams,
    sid: &Sid,
    request: &RequestContext<RoleServer>,
) -> Result<CreatedJob, WaitEnd> {
    let (progress, statuses) = progress_channel(request);
    let create = client.create_job_within(query, params, sid, BLOCKING_WAIT);
    let work = async {
        tokio::pin!(create);
        let Some(progress) = progress else {
            return create.await;
        };
        let poll = async {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                // Not found yet is no progress to report.
                if let Ok(status) = client.job_status(sid).await
                    && progress
                        .send((status.done_progress, status.scan_count))
                        .is_err()
                {
                    break;
                }
            }
        };
        tokio::select! {
            created = &mut create => created,
            () = poll => create.await,
        }
    };
    // A create still on its way to Splunk when the call is cancelled would start the job after
    // its cancel: it is let to settle, then cancelled again.
    watched(client, sid, request, work, statuses, true).await
}

/// A job's `doneProgress` (0 to 1) and scanned events, as read from its status.
type JobProgress = (f64, u64);
/// Where [`JobProgress`] is sent to be reported.
type StatusSender = tokio::sync::mpsc::UnboundedSender<JobProgress>;

/// Where job statuses go to be reported as progress: a sender when `request` carries a
/// progress token, and the receiver [`watched`] reads.
fn progress_channel(
    request: &RequestContext<RoleServer>,
) -> (
    Option<StatusSender>,
    tokio::sync::mpsc::UnboundedReceiver<JobProgress>,
) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let watching = request.meta.get_progress_token().is_some();
    (watching.then_some(sender), receiver)
}

/// Runs `work` (creating or waiting for job `sid`), and meanwhile:
/// - when `request` carries a progress token, sends `notifications/progress` from the job's
///   `doneProgress` (0 to 100) and scanned events arriving on `statuses`, at most every
///   [`PROGRESS_EVERY`] and only when it moved;
/// - when `request` is cancelled (`notifications/cancelled`, or the client's connection closed),
///   cancels the job and answers [`WaitEnd::Cancelled`]; with `settle`, `work` is then awaited
///   (at most [`BLOCKING_WAIT`]) and the job cancelled once more.
async fn watched<T>(
    client: &Client,
    sid: &Sid,
    request: &RequestContext<RoleServer>,
    work: impl std::future::Future<Output = Result<T, splunk_client::Error>>,
    mut statuses: tokio::sync::mpsc::UnboundedReceiver<JobProgress>,
    settle: bool,
) -> Result<T, WaitEnd> {
    let progress_token = request.meta.get_progress_token();
    tokio::pin!(work);
    let mut last: Option<(Instant, f64)> = None;
    loop {
        tokio::select! {
            result = &mut work => return result.map_err(WaitEnd::Splunk),
            () = request.ct.cancelled() => {
                cancel_quietly(client, sid).await;
                if settle && tokio::time::timeout(BLOCKING_WAIT, &mut work).await.is_ok() {
                    cancel_quietly(client, sid).await;
                }
                return Err(WaitEnd::Cancelled);
            }
            Some((done, scanned)) = statuses.recv() => {
                let Some(token) = &progress_token else { continue };
                let percent = (done * 100.0).clamp(0.0, 100.0);
                let due = last.is_none_or(|(at, sent)| {
                    percent > sent && at.elapsed() >= PROGRESS_EVERY
                });
                if !due {
                    continue;
                }
                last = Some((Instant::now(), percent));
                let mut note = ProgressNotificationParam::new(token.clone(), percent);
                note.total = Some(100.0);
                note.message = Some(format!("{scanned} events scanned"));
                if let Err(e) = request.peer.notify_progress(note).await {
                    tracing::debug!(error = %e, "a progress notification could not be sent");
                }
            }
        }
    }
}

/// How often at most a search reports progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// How long a search may take to be answered by one blocking create before it is polled as a
/// job: most interactive searches end well within it.
const BLOCKING_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why [`watched`] work stopped short.
enum WaitEnd {
    /// Splunk failed, or the wait timed out.
    Splunk(splunk_client::Error),
    /// The request was cancelled (and the job with it).
    Cancelled,
}

impl From<WaitEnd> for ToolError {
    fn from(end: WaitEnd) -> Self {
        match end {
            WaitEnd::Splunk(e) => e.into(),
            WaitEnd::Cancelled => ToolError::Cancelled,
        }
    }
}

/// Cancels a job whose result nobody will read; a failure only leaves it to expire.
async fn cancel_quietly(client: &Client, sid: &Sid) {
    if let Err(e) = client.cancel_job(sid).await {
        tracing::warn!(sid = %sid, error = %e, "could not cancel a search job whose result nobody will read");
    }
}

/// Appends `rows` as a table, then each note on its own line: the readable text of every tool
/// that returns rows. The table is CSV (RFC 4180): a header of the columns, then one line per
/// row, a value that is not a string (a multivalue field, a KV store document's object) as
/// compact JSON, a missing one empty. It takes about half the bytes (and tokens) of a JSON
/// object per row, as the field names are written once. Columns follow `fields` (Splunk's
/// order), then those only rows name; Splunk's internal fields ([`INTERNAL_FIELDS`]) are left
/// out of the text, not of the structured content.
fn push_rows_and_notes(text: &mut String, fields: &[String], rows: &[Row], notes: &[String]) {
    if !rows.is_empty() {
        let mut columns: Vec<&str> = fields
            .iter()
            .map(String::as_str)
            .filter(|field| rows.iter().any(|row| row.contains_key(*field)))
            .collect();
        let mut others: Vec<&str> = rows
            .iter()
            .flat_map(|row| row.keys().map(String::as_str))
            .filter(|key| !columns.contains(key))
            .collect();
        others.sort_unstable();
        others.dedup();
        columns.extend(others);
        columns.retain(|column| !INTERNAL_FIELDS.contains(column));
        match rows_as_csv(&columns, rows) {
            Ok(table) => text.push_str(&table),
            // Writing to memory fails only on a bug; the rows are in the structured content.
            Err(e) => tracing::warn!(error = %e, "rows could not be written as CSV"),
        }
    }
    for note in notes {
        text.push_str(note);
        text.push('\n');
    }
}

/// Fields Splunk adds to events for its own use (bucket, index and serial numbers, the index
/// time): noise to a reader.
const INTERNAL_FIELDS: [&str; 8] = [
    "_bkt",
    "_cd",
    "_si",
    "_serial",
    "_indextime",
    "_sourcetype",
    "_kv",
    "_eventtype_color",
];

/// `rows` as CSV with a header of `columns`.
fn rows_as_csv(columns: &[&str], rows: &[Row]) -> Result<String, csv::Error> {
    let mut table = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    table.write_record(columns)?;
    for row in rows {
        table.write_record(columns.iter().map(|column| match row.get(*column) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }))?;
    }
    let bytes = table
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Keeps the leading rows whose JSON fits in `max_bytes`; `Some(kept)` when rows were cut.
fn cut_to_bytes(mut rows: Vec<Row>, max_bytes: usize) -> (Vec<Row>, Option<usize>) {
    let mut used = 0usize;
    for (i, row) in rows.iter().enumerate() {
        used += serde_json::to_string(row).map(|s| s.len()).unwrap_or(0) + 1;
        if used > max_bytes {
            rows.truncate(i);
            return (rows, Some(i));
        }
    }
    (rows, None)
}

fn index_json(index: &splunk_client::Index) -> Value {
    json!({
        "name": index.name,
        "app": index.acl.app,
        "total_event_count": index.total_event_count,
        "current_db_size_mb": index.current_db_size_mb,
        "max_total_data_size_mb": index.max_total_data_size_mb,
        "min_time": index.min_time,
        "max_time": index.max_time,
        "disabled": index.disabled,
        "datatype": index.datatype,
        "is_internal": index.is_internal,
        "frozen_time_period_in_secs": index.frozen_time_period_in_secs,
    })
}

// `list_tools` is written here because the list depends on the caller and on the custom tools,
// `get_tool` because of the custom tools, `call_tool` because a call is checked before its tool
// runs, and `on_initialized` to know whom to tell when the tools change.
#[tool_handler(router = Self::router())]
impl ServerHandler for SplunkTools {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let registry = self.registry();
        if let Some(refused) = self.refuse_before_dispatch(&request, &context.extensions, &registry)
        {
            return Ok(refused.into());
        }
        if self.runs_as_task(&request.name, &registry, &context)
            && let Some(task) = self.start_task(&request, &context, &registry)
        {
            return Ok(CallToolResponse::Task(task));
        }
        self.dispatch(request, context, registry).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let tasks = self.owned_tasks(&request.task_id, &context.extensions)?;
        Ok(GetTaskResult::new(tasks.get_task(&request.task_id)?))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.owned_tasks(&request.task_id, &context.extensions)?
            .update_task(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.owned_tasks(&request.task_id, &context.extensions)?
            .cancel_task(&request.task_id)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        Self::definition(name, &self.registry())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let (tools, per_caller) = self.listed_tools(&context.extensions);
        // Cache hints exist from protocol 2026-07-28 on; a list cut to the caller may only be
        // cached by that caller's client.
        let hints = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        let mut result = ListToolsResult::with_all_items(tools);
        result.ttl_ms = hints.then_some(0);
        result.cache_scope = hints.then_some(if per_caller {
            CacheScope::Private
        } else {
            CacheScope::Public
        });
        Ok(result)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        tracing::info!("client initialized");
        if !self.announce_tool_changes {
            return;
        }
        self.open_peers().push(context.peer);
    }

    /// `subscriptions/listen` (protocol 2026-07-28) serves the one notification declared:
    /// tools/list_changed, when it is (not on a stateless server).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.announce_tool_changes
            .then(|| requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, subscription: SubscriptionContext) -> Result<(), ErrorData> {
        if subscription.accepted().tools_list_changed != Some(true) {
            // Nothing this stream asked for is ever sent: it stays open until closed.
            subscription.cancelled().await;
            return Ok(());
        }
        let mut changes = self.shared.tool_changes.subscribe();
        loop {
            tokio::select! {
                () = subscription.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if let Err(e) = subscription.sink().notify_tool_list_changed().await {
                        tracing::debug!(error = %e, "a subscription could not be told that the tools changed");
                        return Ok(());
                    }
                }
            }
        }
    }

    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder().enable_tools();
        if self.announce_tool_changes {
            capabilities = capabilities.enable_tool_list_changed();
        }
        if self.offer_tasks {
            capabilities = capabilities.enable_tasks();
        }
        let capabilities = capabilities.build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("splunk-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

#[cfg(test)]
mod tests {
    use auth_core::{BearerToken, Claims};

    use super::*;

    fn context(subject: &str) -> AuthContext {
        AuthContext::new(Claims::for_subject(subject), BearerToken::new("t")).unwrap()
    }

    #[test]
    fn rows_are_text_as_csv_in_splunks_field_order() {
        let rows: Vec<Row> = [
            json!({"host": "web-1", "_time": "2026-12-02T10:00:00.000+00:00", "_cd": "1:2",
                   "msg": "a \"quoted\", text\nover two lines", "mv": ["a", "b"]}),
            json!({"host": "web-2", "_time": "2026-12-02T10:01:00.000+00:00", "extra": 7}),
        ]
        .into_iter()
        .map(|row| match row {
            Value::Object(row) => row,
            _ => unreachable!("objects"),
        })
        .collect();
        let fields: Vec<String> = ["_time", "host", "_cd", "msg", "mv", "absent"]
            .map(str::to_owned)
            .to_vec();
        let mut text = String::new();
        push_rows_and_notes(
            &mut text,
            &fields,
            &rows,
            &["Results truncated.".to_owned()],
        );
        assert_eq!(
            text,
            "_time,host,msg,mv,extra\n\
             2026-12-02T10:00:00.000+00:00,web-1,\"a \"\"quoted\"\", text\nover two lines\",\"[\"\"a\"\",\"\"b\"\"]\",\n\
             2026-12-02T10:01:00.000+00:00,web-2,,,7\n\
             Results truncated.\n"
        );
        // The table reads back as the rows, less the internal field.
        let table = text.trim_end_matches("Results truncated.\n");
        let mut reader = csv::Reader::from_reader(table.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        let read: Vec<Vec<String>> = reader
            .records()
            .map(|record| record.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(read.len(), rows.len());
        for (row, record) in rows.iter().zip(&read) {
            for (column, cell) in header.iter().zip(record) {
                let expected = match row.get(column) {
                    None => String::new(),
                    Some(Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                };
                assert_eq!(cell, &expected, "{column}");
            }
        }
        let mut empty = String::new();
        push_rows_and_notes(&mut empty, &fields, &[], &[]);
        assert_eq!(empty, "");
    }

    #[test]
    fn the_caller_comes_from_the_request_or_its_http_parts() {
        assert!(caller_in(&Extensions::new()).is_none());

        let mut direct = Extensions::new();
        direct.insert(context("direct"));
        assert_eq!(caller_in(&direct).unwrap().subject(), "direct");

        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.extensions.insert(context("over-http"));
        let mut via_http = Extensions::new();
        via_http.insert(parts);
        assert_eq!(caller_in(&via_http).unwrap().subject(), "over-http");
    }

    /// A server whose Splunk is never reached.
    fn unconnected_server() -> SplunkTools {
        let source = Arc::new(crate::ServiceCredentials::new(
            Client::new(
                &splunk_client::ClientConfig::new("http://127.0.0.1:9"),
                splunk_client::Credentials::bearer("unused"),
            )
            .unwrap(),
        ));
        SplunkTools::new(ToolsConfig::default(), source, ToolRegistry::default())
    }

    #[test]
    fn a_stateless_server_declares_neither_tasks_nor_tool_list_changes() {
        let server = unconnected_server();
        let declared = server.get_info().capabilities;
        assert!(declared.supports_tasks());
        assert_eq!(declared.tools.unwrap().list_changed, Some(true));
        let stateless = server.with_tool_list_changes(false).with_tasks(false);
        let declared = stateless.get_info().capabilities;
        assert!(!declared.supports_tasks());
        assert_eq!(declared.tools.unwrap().list_changed, None);
        let wanted = SubscriptionFilter::builder().tools_list_changed().build();
        assert_eq!(stateless.accepted_subscription_filter(&wanted), None);
    }

    #[test]
    fn tools_list_follows_the_caller_in_the_request() {
        let server = unconnected_server();
        let all = SplunkTools::tools().len();
        assert_eq!(
            server.listed_tools(&Extensions::new()),
            (SplunkTools::tools(), false)
        );

        // `context` carries no scope: only scope-free tools remain.
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.extensions.insert(context("nobody"));
        let mut via_http = Extensions::new();
        via_http.insert(parts);
        let (tools, per_caller) = server.listed_tools(&via_http);
        assert!(per_caller);
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["splunk_whoami"]);
        let (tools, per_caller) = server.with_tools_list_filter(false).listed_tools(&via_http);
        assert_eq!((tools.len(), per_caller), (all, false));
    }

    #[test]
    fn rows_are_cut_to_the_byte_limit() {
        let rows: Vec<Row> = (0..10)
            .map(|i| serde_json::from_value(json!({"n": i, "pad": "x".repeat(10)})).unwrap())
            .collect();
        let one = serde_json::to_string(&rows[0]).unwrap().len() + 1;
        let (kept, cut) = cut_to_bytes(rows.clone(), one * 3);
        assert_eq!((kept.len(), cut), (3, Some(3)));
        let (kept, cut) = cut_to_bytes(rows, usize::MAX);
        assert_eq!((kept.len(), cut), (10, None));
    }

    #[test]
    fn config_reads_from_toml() {
        let config: ToolsConfig =
            toml::from_str("max_results_cap = 500\nsearch_timeout = 30\n[guard]\nmax_pipes = 5\n")
                .unwrap();
        assert_eq!(config.max_results_cap, 500);
        assert_eq!(config.search_timeout, std::time::Duration::from_secs(30));
        assert_eq!(config.default_max_results, 100);
        assert_eq!(config.guard.max_pipes, 5);
    }
}
