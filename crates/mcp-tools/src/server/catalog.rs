//! Knowledge-object tools: saved searches, apps and the KV store.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use splunk_client::{DispatchOptions, KvQuery, ListOptions, Namespace};

use super::{SplunkTools, answer, cut_to_bytes, push_rows_and_notes};
use crate::error::ToolError;

/// Arguments of `splunk_list_saved_searches`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListSavedSearchesArgs {
    /// Only saved searches whose name matches this Splunk filter, e.g. `*error*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Arguments of `splunk_run_saved_search`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunSavedSearchArgs {
    /// The saved search's name, as listed by `splunk_list_saved_searches`.
    pub name: String,
    /// The app it lives in (default: any app the user can see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Start of the time range; default the saved search's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    /// End of the time range; default the saved search's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// Most rows to return (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
    /// Search mode for this run: `fast`, `smart` or `verbose` (default: the saved search's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<super::SearchModeArg>,
    /// Event sampling for this run: keep one event in this many (default: the saved search's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub sample_ratio: Option<u64>,
}

/// Arguments of `splunk_kvstore_list_collections`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct KvCollectionsArgs {
    /// The app whose collections to list (default `search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// Arguments of `splunk_kvstore_query`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KvQueryArgs {
    /// The collection's name.
    pub collection: String,
    /// The app the collection belongs to (default `search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// A MongoDB-style filter object, e.g. `{"status": "open", "score": {"$gt": 3}}`;
    /// omit to match every document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
    /// Only these fields of each document.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Most documents to return (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Documents to skip first (for paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u64>,
}

/// The namespace of an optional app: that app, or every app the user can see.
fn namespace(app: Option<&str>) -> Namespace {
    match app {
        Some(app) => Namespace::new("-", app),
        None => Namespace::wildcard(),
    }
}

#[tool_router(router = catalog_router, vis = "pub(crate)")]
impl SplunkTools {
    /// Lists saved searches.
    #[tool(
        description = "List the saved searches (reports and alerts) the user can see, with \
their SPL, description, schedule and app. Run one with splunk_run_saved_search.",
        annotations(
            title = "List saved searches",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_saved_searches(
        &self,
        params: Parameters<ListSavedSearchesArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_saved_searches", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let options = match &args.filter {
                Some(filter) => ListOptions::filtered(format!("name={filter}")),
                None => ListOptions::all(),
            };
            let page = client
                .list_saved_searches(&Namespace::wildcard(), &options)
                .await?;
            let mut text = format!("{} saved search(es):\n", page.items.len());
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|s| {
                    text.push_str(&format!("- {} (app {}): {}\n", s.name, s.acl.app, s.search));
                    json!({
                        "name": s.name,
                        "app": s.acl.app,
                        "owner": s.acl.owner,
                        "search": s.search,
                        "description": s.description,
                        "is_scheduled": s.is_scheduled,
                        "cron_schedule": s.cron_schedule,
                        "disabled": s.disabled,
                        "dispatch_earliest_time": s.dispatch_earliest_time,
                        "dispatch_latest_time": s.dispatch_latest_time,
                    })
                })
                .collect();
            Ok(answer(text, json!({ "saved_searches": items })))
        }
        .await;
        call.finish(result)
    }

    /// Runs a saved search and waits for its results.
    #[tool(
        description = "Run a saved search now and return its results, like splunk_search. \
Its SPL is checked by the same rules first: a saved search that writes or sends data (collect, \
outputlookup, sendemail, ...) is refused. The time range defaults to the saved search's own.",
        annotations(
            title = "Run a saved search",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_run_saved_search(
        &self,
        params: Parameters<RunSavedSearchArgs>,
        request: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_run_saved_search", &args, &request.extensions);
        let result = async {
            let client = self.client(&call).await?;
            let ns = namespace(args.app.as_deref());
            let saved = client.get_saved_search(&ns, &args.name).await?;
            call.spl = Some(saved.search.clone());
            // The stored SPL runs inside Splunk unseen by the guard unless checked here.
            self.shared.guard.check(&saved.search)?;
            let mut options = DispatchOptions::default();
            options.time_range = match (&args.earliest, &args.latest) {
                (None, None) => None,
                (earliest, latest) => {
                    Some(self.time_range(earliest.as_deref(), latest.as_deref())?)
                }
            };
            options.mode = args.mode.map(Into::into);
            options.sample_ratio = super::checked_sample_ratio(args.sample_ratio)?;
            let requested = args
                .max_results
                .unwrap_or(self.shared.config.default_max_results)
                .max(1);
            let sid = client
                .dispatch_saved_search(&ns, &args.name, &options)
                .await?;
            let label = format!("saved search '{}'", args.name);
            let job = splunk_client::CreatedJob::Running(sid);
            self.collect_job(&mut call, &client, job, &label, requested, &[], &request)
                .await
        }
        .await;
        call.finish(result)
    }

    /// Lists apps.
    #[tool(
        description = "List the Splunk apps installed and visible to the user, with label, \
version and whether they are enabled. Apps hold saved searches, lookups and KV store \
collections.",
        annotations(
            title = "List apps",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_apps(
        &self,
        params: Parameters<super::NoArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = self.start("splunk_list_apps", &params.0, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let page = client.list_apps(&ListOptions::all()).await?;
            let mut text = format!("{} app(s):\n", page.items.len());
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|a| {
                    text.push_str(&format!("- {} ({} {})\n", a.name, a.label, a.version));
                    json!({
                        "name": a.name,
                        "label": a.label,
                        "version": a.version,
                        "visible": a.visible,
                        "disabled": a.disabled,
                        "description": a.description,
                    })
                })
                .collect();
            Ok(answer(text, json!({ "apps": items })))
        }
        .await;
        call.finish(result)
    }

    /// Lists KV store collections.
    #[tool(
        description = "List the KV store collections of an app (default `search`) with their \
field types. Query one with splunk_kvstore_query.",
        annotations(
            title = "List KV store collections",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_kvstore_list_collections(
        &self,
        params: Parameters<KvCollectionsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_kvstore_list_collections", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let app = args.app.as_deref().unwrap_or("search");
            let collections = client.list_kv_collections(app).await?;
            let mut text = format!("{} collection(s) in app {app}:\n", collections.len());
            let items: Vec<Value> = collections
                .iter()
                .map(|c| {
                    text.push_str(&format!("- {}\n", c.name));
                    json!({
                        "name": c.name,
                        "app": c.acl.app,
                        "fields": c.fields,
                        "accelerated_fields": c.accelerated_fields,
                    })
                })
                .collect();
            Ok(answer(text, json!({ "app": app, "collections": items })))
        }
        .await;
        call.finish(result)
    }

    /// Queries a KV store collection.
    #[tool(
        description = "Read documents from a KV store collection, optionally filtered with a \
MongoDB-style query object, projected to some fields, and paged with limit/skip.",
        annotations(
            title = "Query the KV store",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_kvstore_query(
        &self,
        params: Parameters<KvQueryArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_kvstore_query", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let config = &self.shared.config;
            let app = args.app.as_deref().unwrap_or("search");
            if args.query.as_ref().is_some_and(|q| !q.is_object()) {
                return Err(ToolError::InvalidArgument {
                    what: "query",
                    reason: "must be a JSON object".to_owned(),
                });
            }
            let requested = args.limit.unwrap_or(config.default_max_results).max(1);
            let limit = requested.min(config.max_results_cap);
            let mut query = KvQuery::default();
            query.query = args.query.clone();
            query.fields = args.fields.clone();
            query.limit = Some(limit + 1);
            query.skip = args.skip;
            let mut documents = client.kv_query(app, &args.collection, &query).await?;
            let mut notes = Vec::new();
            let mut more = false;
            if documents.len() as u64 > limit {
                documents.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                more = true;
            }
            let rows = documents
                .into_iter()
                .map(|d| match d {
                    Value::Object(map) => map,
                    other => [("value".to_owned(), other)].into_iter().collect(),
                })
                .collect();
            let (rows, byte_cut) = cut_to_bytes(rows, config.max_result_bytes);
            if byte_cut.is_some() {
                more = true;
                notes.push(format!(
                    "Results truncated: only {} documents fit in the {} byte answer limit.",
                    rows.len(),
                    config.max_result_bytes
                ));
            }
            let next_skip = more.then(|| args.skip.unwrap_or(0) + rows.len() as u64);
            if let Some(next) = next_skip {
                notes.push(format!(
                    "More documents remain: ask again with skip={next}."
                ));
            }
            let mut text = format!(
                "{} document(s) from {app}/{}:\n",
                rows.len(),
                args.collection
            );
            push_rows_and_notes(&mut text, &[], &rows, &notes);
            Ok(answer(
                text,
                json!({
                    "app": app,
                    "collection": args.collection,
                    "documents": rows,
                    "returned": rows.len(),
                    "truncated": more,
                    "next_skip": next_skip,
                    "notes": notes,
                }),
            ))
        }
        .await;
        call.finish(result)
    }
}
