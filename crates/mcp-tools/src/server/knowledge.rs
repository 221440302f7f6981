//! Knowledge-object tools: fired alerts, dashboards and the searches they run, lookups and
//! their rows, data models with their datasets and fields.

use chrono::{DateTime, SecondsFormat};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Extensions};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use splunk_client::{
    DashboardSearch, DataModel, FiredAlert, ListOptions, LookupDefinition, Namespace, View,
};

use super::{SearchArgs, SplunkTools, answer};
use crate::error::ToolError;

/// Arguments of `splunk_list_fired_alerts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListFiredAlertsArgs {
    /// Only the alerts of this saved search (its exact name, as `splunk_list_saved_searches`
    /// lists it). Default: those of every saved search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_search: Option<String>,
    /// Most alerts to return, newest first (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
}

/// Arguments of `splunk_list_dashboards`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListDashboardsArgs {
    /// Only the dashboards of this app (default: every app the user can see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only dashboards whose name matches this Splunk filter, e.g. `*web*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Arguments of `splunk_get_dashboard`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GetDashboardArgs {
    /// The dashboard's name (its id, as `splunk_list_dashboards` lists it), e.g. `web_overview`.
    pub name: String,
    /// The app it lives in (default: any app the user can see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Also return the dashboard's source (Simple XML, or Dashboard Studio's definition inside
    /// its XML). Default false: the searches are listed either way, and sources are long.
    #[serde(default)]
    pub include_source: bool,
}

/// Arguments of `splunk_list_lookups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListLookupsArgs {
    /// Only the lookups of this app (default: every app the user can see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only lookups whose name matches this Splunk filter, e.g. `*status*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Arguments of `splunk_lookup_query`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LookupQueryArgs {
    /// The lookup: a lookup table file (`http_status.csv`) or a lookup definition
    /// (`http_status`), as `splunk_list_lookups` lists them. Letters, digits, `_`, `.` and `-`.
    pub lookup: String,
    /// Search terms that keep only some rows, in the `search` command's syntax, e.g.
    /// `status_type="Server Error"` or `status>=500`. Checked like any search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Most rows to return (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
}

/// Arguments of `splunk_list_data_models`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ListDataModelsArgs {
    /// Only the data models of this app (default: every app the user can see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only data models whose name matches this Splunk filter, e.g. `Web*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// List every dataset's fields (default true). Set false for a quick overview of many
    /// models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_fields: Option<bool>,
}

/// The namespace of an optional app: that app, or every app the user can see.
fn namespace(app: Option<&str>) -> Namespace {
    match app {
        Some(app) => Namespace::new("-", app),
        None => Namespace::wildcard(),
    }
}

/// Every entry, or those whose name matches a Splunk filter.
fn name_filter(filter: Option<&str>) -> ListOptions {
    match filter {
        Some(filter) => ListOptions::filtered(format!("name={filter}")),
        None => ListOptions::all(),
    }
}

/// The row limit a caller asked for (or the default), under the server's cap.
fn row_limit(tools: &SplunkTools, requested: Option<u64>) -> Result<u64, ToolError> {
    let config = &tools.shared.config;
    match requested.unwrap_or(config.default_max_results) {
        0 => Err(ToolError::InvalidArgument {
            what: "max_results",
            reason: "must be at least 1".to_owned(),
        }),
        n => Ok(n.min(config.max_results_cap)),
    }
}

/// A lookup's name goes into SPL as it is, so it may hold only what lookup names hold:
/// letters, digits, `_`, `.` and `-`; and it may not start with `-` or `.`.
fn validate_lookup_name(name: &str) -> Result<(), ToolError> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !name.starts_with(['-', '.']);
    if valid {
        Ok(())
    } else {
        Err(ToolError::InvalidArgument {
            what: "lookup",
            reason: format!(
                "{name:?} is not a lookup name (letters, digits, `_`, `.` and `-` only, not \
                 starting with `-` or `.`); splunk_list_lookups lists the lookups"
            ),
        })
    }
}

/// An epoch time as ISO 8601 (UTC).
fn iso_time(epoch: u64) -> Option<String> {
    let seconds = i64::try_from(epoch).ok()?;
    DateTime::from_timestamp(seconds, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn fired_alert_json(alert: &FiredAlert) -> Value {
    json!({
        "saved_search": alert.saved_search,
        "trigger_time": iso_time(alert.trigger_time)
            .unwrap_or_else(|| alert.trigger_time_rendered.clone()),
        "severity": alert.severity,
        "severity_label": alert.severity_label(),
        "sid": alert.sid,
        "app": alert.acl.app,
        "owner": alert.acl.owner,
        "actions": alert.actions,
        "triggered_alerts": alert.triggered_alerts,
        "digest_mode": alert.digest_mode,
        "alert_type": alert.alert_type,
        "expires": alert.expiration_time_rendered,
        "id": alert.name,
    })
}

fn view_json(view: &View) -> Value {
    json!({
        "name": view.name,
        "title": view.title(),
        "app": view.acl.app,
        "owner": view.acl.owner,
        "sharing": view.acl.sharing,
        "kind": view.kind().as_str(),
        "description": view.description,
        "updated": view.updated,
    })
}

/// A dashboard search, with only the facts it has.
fn search_json(search: &DashboardSearch) -> Value {
    let mut object = Map::new();
    let facts = [
        ("id", &search.id),
        ("title", &search.title),
        ("query", &search.query),
        ("base", &search.base),
        ("saved_search", &search.saved_search),
        ("earliest", &search.earliest),
        ("latest", &search.latest),
    ];
    for (key, value) in facts {
        if let Some(value) = value {
            object.insert(key.to_owned(), json!(value));
        }
    }
    Value::Object(object)
}

/// One line of text for a dashboard search.
fn search_line(search: &DashboardSearch) -> String {
    let mut line = String::from("- ");
    if let Some(title) = &search.title {
        line.push_str(&format!("[{title}] "));
    }
    match (&search.query, &search.saved_search) {
        (Some(query), _) => line.push_str(query),
        (None, Some(saved)) => line.push_str(&format!("saved search '{saved}'")),
        (None, None) => line.push_str("(no query)"),
    }
    if let Some(base) = &search.base {
        line.push_str(&format!(" (post-processes `{base}`)"));
    }
    if search.earliest.is_some() || search.latest.is_some() {
        line.push_str(&format!(
            " (earliest {}, latest {})",
            search.earliest.as_deref().unwrap_or("-"),
            search.latest.as_deref().unwrap_or("-")
        ));
    }
    line.push('\n');
    line
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
fn cut_text(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn lookup_definition_json(definition: &LookupDefinition) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(definition.name));
    object.insert("app".into(), json!(definition.acl.app));
    object.insert("owner".into(), json!(definition.acl.owner));
    object.insert("type".into(), json!(definition.kind));
    for (key, value) in [
        ("filename", &definition.filename),
        ("collection", &definition.collection),
        ("external_type", &definition.external_type),
    ] {
        if !value.is_empty() {
            object.insert(key.into(), json!(value));
        }
    }
    object.insert("fields".into(), json!(definition.fields));
    Value::Object(object)
}

/// A data model as the tool shows it, with each dataset's fields or only their number.
fn data_model_json(model: &DataModel, with_fields: bool) -> Value {
    let datasets: Vec<Value> = model
        .datasets
        .iter()
        .map(|dataset| {
            let mut object = Map::new();
            object.insert("name".into(), json!(dataset.name));
            object.insert("display_name".into(), json!(dataset.display_name));
            object.insert("lineage".into(), json!(dataset.lineage));
            object.insert("parent".into(), json!(dataset.parent));
            object.insert("constraints".into(), json!(dataset.constraints));
            if with_fields {
                let fields: Vec<Value> = dataset
                    .fields
                    .iter()
                    .map(|field| {
                        let mut object = Map::new();
                        object.insert("name".into(), json!(field.name));
                        object.insert("type".into(), json!(field.kind));
                        object.insert("defined_in".into(), json!(field.owner));
                        for (flag, set) in [
                            ("calculated", field.calculated),
                            ("required", field.required),
                            ("multivalue", field.multivalue),
                            ("hidden", field.hidden),
                        ] {
                            if set {
                                object.insert(flag.into(), json!(true));
                            }
                        }
                        Value::Object(object)
                    })
                    .collect();
                object.insert("fields".into(), json!(fields));
            } else {
                object.insert("field_count".into(), json!(dataset.fields.len()));
            }
            Value::Object(object)
        })
        .collect();
    json!({
        "name": model.name,
        "display_name": model.display_name,
        "app": model.acl.app,
        "owner": model.acl.owner,
        "description": model.description,
        "accelerated": model.acceleration.enabled,
        "acceleration": {
            "enabled": model.acceleration.enabled,
            "earliest_time": model.acceleration.earliest_time,
            "cron_schedule": model.acceleration.cron_schedule,
        },
        "datasets": datasets,
    })
}

/// Adds a note to a result of `splunk_search`'s path: to its text and its structured `notes`.
fn add_note(result: &mut CallToolResult, note: &str) {
    if let Some(Value::Object(structured)) = &mut result.structured_content {
        match structured.get_mut("notes") {
            Some(Value::Array(notes)) => notes.push(json!(note)),
            _ => {
                structured.insert("notes".into(), json!([note]));
            }
        }
    }
    result.content.push(ContentBlock::text(note.to_owned()));
}

#[tool_router(router = knowledge_router, vis = "pub(crate)")]
impl SplunkTools {
    /// Lists fired alerts.
    #[tool(
        description = "List the alerts Splunk fired (triggered alerts of scheduled saved \
searches), newest first: trigger time, severity, saved search, the sid of the job whose \
results fired it, app and owner. Optionally only those of one saved search. Splunk keeps fired \
alerts for a limited time (each alert's expiry).",
        annotations(
            title = "List fired alerts",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_fired_alerts(
        &self,
        params: Parameters<ListFiredAlertsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_fired_alerts", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let limit = row_limit(self, args.max_results)?;
            // The summary names the saved searches that fired and their namespaces; each one's
            // alerts are asked for in its own namespace, as splunklib does.
            let groups: Vec<(Namespace, String)> = client
                .list_fired_alert_groups(&Namespace::wildcard(), &ListOptions::all())
                .await?
                .items
                .into_iter()
                .filter(|group| !group.is_all() && group.triggered_alert_count > 0)
                .filter(|group| {
                    args.saved_search
                        .as_ref()
                        .is_none_or(|wanted| &group.name == wanted)
                })
                .map(|group| (group.namespace(), group.name))
                .collect();
            let mut alerts: Vec<FiredAlert> = Vec::new();
            for (ns, name) in &groups {
                match client.list_fired_alerts(ns, name, &ListOptions::all()).await {
                    Ok(page) => alerts.extend(page.items),
                    // Expired, or its saved search deleted, since the summary was made.
                    Err(splunk_client::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            alerts.sort_by_key(|alert| std::cmp::Reverse(alert.trigger_time));
            let total = alerts.len();
            let shown = usize::try_from(limit).unwrap_or(usize::MAX).min(total);
            let mut notes = Vec::new();
            if shown < total {
                notes.push(format!(
                    "Only the newest {shown} of {total} fired alerts are listed (max_results={limit})."
                ));
            }
            let mut text = match (total, &args.saved_search) {
                (0, Some(name)) => format!("No fired alerts of saved search '{name}'.\n"),
                (0, None) => "No fired alerts are visible to you.\n".to_owned(),
                _ => format!("{shown} fired alert(s), newest first:\n"),
            };
            let items: Vec<Value> = alerts[..shown]
                .iter()
                .map(|alert| {
                    let item = fired_alert_json(alert);
                    text.push_str(&format!(
                        "- {} {} (severity {}, app {}, owner {}, sid {})\n",
                        item["trigger_time"].as_str().unwrap_or_default(),
                        alert.saved_search,
                        alert.severity_label(),
                        alert.acl.app,
                        alert.acl.owner,
                        alert.sid
                    ));
                    item
                })
                .collect();
            for note in &notes {
                text.push_str(note);
                text.push('\n');
            }
            Ok(answer(
                text,
                json!({
                    "fired_alerts": items,
                    "returned": shown,
                    "total": total,
                    "truncated": shown < total,
                    "notes": notes,
                }),
            ))
        }
        .await;
        call.finish(result)
    }

    /// Lists dashboards.
    #[tool(
        description = "List the dashboards the user can see (Simple XML and Dashboard Studio), \
with name, title, app, owner and last update. splunk_get_dashboard shows the searches one runs.",
        annotations(
            title = "List dashboards",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_dashboards(
        &self,
        params: Parameters<ListDashboardsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_dashboards", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let page = client
                .list_views(
                    &namespace(args.app.as_deref()),
                    &name_filter(args.filter.as_deref()),
                )
                .await?;
            let dashboards: Vec<&View> = page.items.iter().filter(|v| v.is_dashboard).collect();
            let mut text = format!("{} dashboard(s):\n", dashboards.len());
            let items: Vec<Value> = dashboards
                .iter()
                .map(|view| {
                    let kind = match view.kind() {
                        splunk_client::DashboardKind::Studio => "Dashboard Studio",
                        _ => "Simple XML",
                    };
                    text.push_str(&format!(
                        "- {}: {} (app {}, owner {}, {kind})\n",
                        view.name,
                        view.title(),
                        view.acl.app,
                        view.acl.owner
                    ));
                    view_json(view)
                })
                .collect();
            Ok(answer(text, json!({ "dashboards": items })))
        }
        .await;
        call.finish(result)
    }

    /// Describes one dashboard and the searches it runs.
    #[tool(
        description = "Get one dashboard: title, app, owner, and the searches it runs (SPL, time \
range, panel title, saved searches it uses, post-process chains), read from its Simple XML or \
Dashboard Studio definition. Tokens such as $host$ are the dashboard's inputs: replace them \
before running a search. The raw source only with include_source=true.",
        annotations(
            title = "Get dashboard",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_get_dashboard(
        &self,
        params: Parameters<GetDashboardArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_get_dashboard", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let view = client
                .get_view(&namespace(args.app.as_deref()), &args.name)
                .await
                .map_err(|e| {
                    ToolError::not_found(e, || {
                        format!(
                            "no dashboard named `{}` is visible to you (it does not exist, or you \
                             may not read it); splunk_list_dashboards lists those you can see",
                            args.name
                        )
                    })
                })?;
            let searches = view.searches();
            let mut structured = view_json(&view);
            structured["searches"] = searches.iter().map(search_json).collect();
            let mut text = format!(
                "Dashboard {}: {} ({}, app {}, owner {}), {} search(es):\n",
                view.name,
                view.title(),
                view.kind().as_str(),
                view.acl.app,
                view.acl.owner,
                searches.len()
            );
            for search in &searches {
                text.push_str(&search_line(search));
            }
            let mut notes = Vec::new();
            if !view.is_dashboard {
                notes.push(format!(
                    "`{}` is a page of its app, not a dashboard.",
                    view.name
                ));
            }
            let tokens = searches
                .iter()
                .filter_map(|s| s.query.as_deref())
                .any(|query| query.contains('$'));
            if tokens {
                notes.push(
                    "Words between `$` are the dashboard's tokens, set by its inputs: replace \
                     them with values before running a search with splunk_search."
                        .to_owned(),
                );
            }
            if args.include_source {
                let limit = self.shared.config.max_result_bytes;
                let source = cut_text(&view.source, limit);
                if source.len() < view.source.len() {
                    notes.push(format!(
                        "The source is cut to its first {} of {} bytes (the answer limit).",
                        source.len(),
                        view.source.len()
                    ));
                }
                structured["source"] = json!(source);
                text.push_str("Source:\n");
                text.push_str(source);
                text.push('\n');
            }
            for note in &notes {
                text.push_str(note);
                text.push('\n');
            }
            structured["notes"] = json!(notes);
            Ok(answer(text, structured))
        }
        .await;
        call.finish(result)
    }

    /// Lists lookup table files and definitions.
    #[tool(
        description = "List lookups: lookup table files (CSV) and lookup definitions (file, KV \
store, external), with app, owner, file and fields. Read a lookup's rows with \
splunk_lookup_query.",
        annotations(
            title = "List lookups",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_lookups(
        &self,
        params: Parameters<ListLookupsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_lookups", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let ns = namespace(args.app.as_deref());
            let options = name_filter(args.filter.as_deref());
            let files = client.list_lookup_table_files(&ns, &options).await?;
            let definitions = client.list_lookup_definitions(&ns, &options).await?;
            let mut text = format!("{} lookup table file(s):\n", files.items.len());
            let file_items: Vec<Value> = files
                .items
                .iter()
                .map(|file| {
                    // Splunk before 10 sends no header; a definition of the file knows it.
                    let fields = if file.fields.is_empty() {
                        definitions
                            .items
                            .iter()
                            .find(|d| d.filename == file.name && !d.fields.is_empty())
                            .map(|d| d.fields.clone())
                            .unwrap_or_default()
                    } else {
                        file.fields.clone()
                    };
                    text.push_str(&format!(
                        "- {} (app {}): {}\n",
                        file.name,
                        file.acl.app,
                        if fields.is_empty() {
                            "fields unknown".to_owned()
                        } else {
                            fields.join(", ")
                        }
                    ));
                    json!({
                        "name": file.name,
                        "filename": file.name,
                        "app": file.acl.app,
                        "owner": file.acl.owner,
                        "fields": fields,
                        "size": file.size,
                        "updated": iso_time(file.last_modified_time),
                    })
                })
                .collect();
            text.push_str(&format!(
                "{} lookup definition(s):\n",
                definitions.items.len()
            ));
            let definition_items: Vec<Value> = definitions
                .items
                .iter()
                .map(|definition| {
                    let source = match definition.kind.as_str() {
                        "kvstore" => format!("KV store collection {}", definition.collection),
                        "file" | "" => format!("file {}", definition.filename),
                        other => format!("{other} lookup"),
                    };
                    text.push_str(&format!(
                        "- {} ({source}, app {}): {}\n",
                        definition.name,
                        definition.acl.app,
                        definition.fields.join(", ")
                    ));
                    lookup_definition_json(definition)
                })
                .collect();
            text.push_str("Read the rows of one with splunk_lookup_query.\n");
            Ok(answer(
                text,
                json!({
                    "lookup_files": file_items,
                    "lookup_definitions": definition_items,
                }),
            ))
        }
        .await;
        call.finish(result)
    }

    /// Reads rows of a lookup.
    #[tool(
        description = "Read the rows of a lookup (a lookup table file such as `http_status.csv` \
or a lookup definition such as `http_status`), optionally only those matching search terms, at \
most max_results rows. Runs `| inputlookup` as a search under the same rules as splunk_search.",
        annotations(
            title = "Query a lookup",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_lookup_query(
        &self,
        params: Parameters<LookupQueryArgs>,
        request: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_lookup_query", &args, &request.extensions);
        let result = async {
            validate_lookup_name(&args.lookup)?;
            let limit = row_limit(self, args.max_results)?;
            let mut spl = format!("| inputlookup {}", args.lookup);
            if let Some(filter) = args.filter.as_deref().map(str::trim)
                && !filter.is_empty()
            {
                spl.push_str(" | search ");
                spl.push_str(filter);
            }
            spl.push_str(&format!(" | head {limit}"));
            let search = SearchArgs {
                spl,
                earliest: None,
                latest: None,
                max_results: Some(limit),
                mode: None,
                sample_ratio: None,
            };
            let mut result = self.search(&mut call, search, &request).await?;
            if let Some(Value::Object(structured)) = &mut result.structured_content {
                structured.insert("lookup".into(), json!(args.lookup));
            }
            let returned = result
                .structured_content
                .as_ref()
                .and_then(|s| s["returned"].as_u64())
                .unwrap_or_default();
            if returned >= limit {
                let cap = self.shared.config.max_results_cap;
                add_note(
                    &mut result,
                    &if limit < cap {
                        format!(
                            "Stopped at max_results={limit} rows: the lookup may hold more. Ask \
                             with a larger max_results (up to {cap}) or a narrower filter."
                        )
                    } else {
                        format!(
                            "Stopped at {limit} rows, the server's cap: the lookup may hold \
                             more. Narrow the filter."
                        )
                    },
                );
            }
            Ok(result)
        }
        .await;
        call.finish(result)
    }

    /// Lists data models.
    #[tool(
        description = "List data models: acceleration, datasets with their constraints, and \
each dataset's fields (inherited ones included, each with where it is defined). Use to write \
`| tstats ... from datamodel=<model>.<dataset>` or `| datamodel <model> <dataset> search`.",
        annotations(
            title = "List data models",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_data_models(
        &self,
        params: Parameters<ListDataModelsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let call = self.start("splunk_list_data_models", &args, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let page = client
                .list_data_models(
                    &namespace(args.app.as_deref()),
                    &name_filter(args.filter.as_deref()),
                )
                .await?;
            let mut notes = Vec::new();
            let mut with_fields = args.include_fields.unwrap_or(true);
            let render = |with_fields: bool| -> Vec<Value> {
                page.items
                    .iter()
                    .map(|model| data_model_json(model, with_fields))
                    .collect()
            };
            let mut models = render(with_fields);
            let limit = self.shared.config.max_result_bytes;
            if with_fields && json!(models).to_string().len() > limit {
                with_fields = false;
                models = render(false);
                notes.push(format!(
                    "Fields are left out: with them the answer exceeds {limit} bytes. Ask for one \
                     model with filter=<name>."
                ));
            }
            let mut text = format!("{} data model(s):\n", page.items.len());
            for model in &page.items {
                let acceleration = if model.acceleration.enabled {
                    format!(
                        "accelerated{}",
                        model
                            .acceleration
                            .earliest_time
                            .as_deref()
                            .map(|t| format!(" from {t}"))
                            .unwrap_or_default()
                    )
                } else {
                    "not accelerated".to_owned()
                };
                text.push_str(&format!(
                    "- {} (app {}, {acceleration}):\n",
                    model.name, model.acl.app
                ));
                for dataset in &model.datasets {
                    text.push_str(&format!("  - {}", dataset.lineage));
                    if with_fields {
                        let names: Vec<&str> =
                            dataset.fields.iter().map(|f| f.name.as_str()).collect();
                        text.push_str(&format!(": {}\n", names.join(", ")));
                    } else {
                        text.push_str(&format!(" ({} fields)\n", dataset.fields.len()));
                    }
                }
            }
            for note in &notes {
                text.push_str(note);
                text.push('\n');
            }
            Ok(answer(
                text,
                json!({ "data_models": models, "notes": notes }),
            ))
        }
        .await;
        call.finish(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_names_cannot_inject_spl() {
        for good in ["http_status", "http_status.csv", "geo-ip.csv.gz", "A1"] {
            assert!(validate_lookup_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a b",
            "a|b",
            "x | delete",
            "a\"b",
            "a=b",
            "[x]",
            "-max",
            ".hidden",
            "a`m`",
            "é.csv",
            "a\nb",
        ] {
            assert!(validate_lookup_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_lookup_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn text_is_cut_on_character_boundaries() {
        assert_eq!(cut_text("abc", 10), "abc");
        assert_eq!(cut_text("abc", 2), "ab");
        assert_eq!(cut_text("aé", 2), "a");
    }

    #[test]
    fn dashboard_searches_read_as_lines() {
        let mut search = DashboardSearch::default();
        search.title = Some("T".into());
        search.query = Some("index=web".into());
        search.earliest = Some("-1h".into());
        assert_eq!(
            search_line(&search),
            "- [T] index=web (earliest -1h, latest -)\n"
        );
        assert_eq!(
            search_json(&search),
            json!({"title": "T", "query": "index=web", "earliest": "-1h"})
        );
        let mut saved = DashboardSearch::default();
        saved.saved_search = Some("S".into());
        assert_eq!(search_line(&saved), "- saved search 'S'\n");
    }
}
