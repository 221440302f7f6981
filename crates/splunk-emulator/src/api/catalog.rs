//! The catalog: `server/info`, `data/indexes`, saved searches (list, get, dispatch, history) and
//! `apps/local`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};

use super::jobs::{self, Mode};
use super::search;
use crate::directory::index_allowed;
use crate::server::envelope::{self, Entry, VERSION, atom_time};
use crate::server::{ApiError, AppState, Ctx, HandlerResult};

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Encodes a name for use as a path segment (saved search names contain spaces).
pub(crate) fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A saved search.
#[derive(Debug, Clone)]
pub(crate) struct SavedSearch {
    name: String,
    search: String,
    description: String,
    cron_schedule: String,
    is_scheduled: bool,
    earliest: String,
    latest: String,
    alert_type: String,
    actions: String,
    app: String,
}

/// An installed app.
#[derive(Debug, Clone)]
struct App {
    name: &'static str,
    label: &'static str,
    version: &'static str,
    visible: bool,
    description: &'static str,
    author: &'static str,
}

/// Saved searches and apps.
#[derive(Debug)]
pub(crate) struct Catalog {
    saved: RwLock<BTreeMap<String, SavedSearch>>,
    apps: Vec<App>,
    updated: DateTime<Utc>,
}

impl Catalog {
    /// The seeded saved searches (over the seeded indexes) and apps.
    pub(crate) fn seeded(now: DateTime<Utc>) -> Self {
        let saved = [
            (
                "Web server errors",
                "search index=web status>=500 | stats count by status, uri",
                "HTTP 5xx answers by status and URI.",
                "",
                false,
                "-24h",
                "now",
                "always",
                "",
            ),
            (
                "Failed logins by user",
                "search index=security action=failure | stats count by user | sort - count",
                "Failed SSH and sudo logins.",
                "*/15 * * * *",
                true,
                "-24h@h",
                "now",
                "number of events",
                "email",
            ),
            (
                "Blocked traffic sources",
                "search index=firewall action=blocked | top limit=10 src_ip",
                "Top sources of blocked connections.",
                "0 * * * *",
                true,
                "-4h",
                "now",
                "always",
                "",
            ),
            (
                "Top pages",
                "search index=web | top limit=20 uri",
                "Most requested URIs over a week.",
                "",
                false,
                "-7d",
                "now",
                "always",
                "",
            ),
            (
                "Splunkd errors",
                "search index=_internal log_level=ERROR | stats count by component",
                "Errors in splunkd.log.",
                "",
                false,
                "-60m",
                "now",
                "always",
                "",
            ),
        ]
        .into_iter()
        .map(
            |(name, search, description, cron, scheduled, earliest, latest, alert, actions)| {
                let saved = SavedSearch {
                    name: name.to_owned(),
                    search: search.to_owned(),
                    description: description.to_owned(),
                    cron_schedule: cron.to_owned(),
                    is_scheduled: scheduled,
                    earliest: earliest.to_owned(),
                    latest: latest.to_owned(),
                    alert_type: alert.to_owned(),
                    actions: actions.to_owned(),
                    app: "search".to_owned(),
                };
                (name.to_owned(), saved)
            },
        )
        .collect();
        let apps = vec![
            App {
                name: "launcher",
                label: "Home",
                version: VERSION,
                visible: true,
                description: "Splunk home page.",
                author: "Splunk",
            },
            App {
                name: "search",
                label: "Search & Reporting",
                version: VERSION,
                visible: true,
                description: "Search, investigate and visualize your data.",
                author: "Splunk",
            },
            App {
                name: "splunk_httpinput",
                label: "HTTP Event Collector",
                version: VERSION,
                visible: false,
                description: "Receive data over HTTP.",
                author: "Splunk",
            },
            App {
                name: "Splunk_SA_CIM",
                label: "Splunk Common Information Model",
                version: "6.2.0",
                visible: false,
                description: "Common Information Model data models.",
                author: "Splunk",
            },
        ];
        Self {
            saved: RwLock::new(saved),
            apps,
            updated: now,
        }
    }
}

// ----- server/info -----

/// `GET /services/server/info`.
pub(crate) async fn server_info(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let name = &state.config.server_name;
    let content = obj(json!({
        "activeLicenseGroup": "Enterprise",
        "build": envelope::BUILD,
        "cpu_arch": "x86_64",
        "guid": state.guid,
        "health_info": "green",
        "health_version": 1,
        "host": name,
        "host_fqdn": name,
        "isForwarding": false,
        "isFree": false,
        "isTrial": false,
        "kvStoreStatus": "ready",
        "licenseState": "OK",
        "mode": "normal",
        "numberOfCores": 2,
        "numberOfVirtualCores": 2,
        "os_build": "#1 SMP",
        "os_name": "Linux",
        "os_name_extended": "Linux",
        "os_version": "6.1.0",
        "physicalMemoryMB": 7937,
        "product_type": "enterprise",
        "serverName": name,
        "server_roles": ["indexer", "kv_store", "license_master", "search_head"],
        "startup_time": state.started.timestamp(),
        "version": VERSION,
    }));
    let entry = Entry::new("server-info", "/services/server/info/server-info", content)
        .owned_by("nobody", "system", "system");
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/services/server/info",
        entry,
    ))
}

// ----- data/indexes -----

fn index_entry(state: &AppState, name: &str) -> Option<Entry> {
    let summary = state.dataset.index_summary(name)?;
    let time = |t: Option<DateTime<Utc>>| t.map(atom_time).unwrap_or_default();
    let content = obj(json!({
        "assureUTF8": false,
        "coldPath": format!("$SPLUNK_DB/{name}/colddb"),
        "currentDBSizeMB": summary.current_db_size_mb.to_string(),
        "datatype": summary.datatype,
        "disabled": false,
        "frozenTimePeriodInSecs": 188_697_600,
        "homePath": format!("$SPLUNK_DB/{name}/db"),
        "isInternal": summary.is_internal,
        "isReady": true,
        "maxDataSize": "auto",
        "maxTime": time(summary.max_time),
        "maxTotalDataSizeMB": 500_000,
        "minTime": time(summary.min_time),
        "repFactor": "0",
        "thawedPath": format!("$SPLUNK_DB/{name}/thaweddb"),
        "totalEventCount": summary.total_event_count,
    }));
    Some(
        Entry::new(
            name,
            format!("/servicesNS/nobody/search/data/indexes/{name}"),
            content,
        )
        .owned_by("nobody", "search", "global"),
    )
}

/// `GET /services/data/indexes`: only the indexes the caller's roles may search.
pub(crate) async fn list_indexes(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let mut names = state.dataset.index_names();
    names.sort();
    let entries = names
        .iter()
        .filter(|n| index_allowed(&caller.effective.allowed_indexes, n))
        .filter_map(|n| index_entry(&state, n))
        .collect();
    envelope::feed(&state, "/services/data/indexes", entries, &ctx.params)
}

/// `GET /services/data/indexes/{name}`.
pub(crate) async fn get_index(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    if !index_allowed(&caller.effective.allowed_indexes, &name) {
        return Err(ApiError::not_found());
    }
    let entry = index_entry(&state, &name).ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/services/data/indexes",
        entry,
    ))
}

// ----- saved searches -----

fn saved_entry(catalog: &Catalog, saved: &SavedSearch) -> Entry {
    let content = obj(json!({
        "actions": saved.actions,
        "alert_type": saved.alert_type,
        "cron_schedule": saved.cron_schedule,
        "description": saved.description,
        "disabled": false,
        "dispatch.earliest_time": saved.earliest,
        "dispatch.latest_time": saved.latest,
        "is_scheduled": saved.is_scheduled,
        "is_visible": true,
        "next_scheduled_time": "",
        "qualifiedSearch": saved.search,
        "request.ui_dispatch_app": saved.app,
        "search": saved.search,
    }));
    let path = format!(
        "/servicesNS/nobody/{}/saved/searches/{}",
        saved.app,
        segment(&saved.name)
    );
    let mut entry = Entry::new(saved.name.clone(), path.clone(), content)
        .owned_by("nobody", &saved.app, "app")
        .editable();
    entry
        .links
        .push(("dispatch".into(), format!("{path}/dispatch")));
    entry
        .links
        .push(("history".into(), format!("{path}/history")));
    entry.updated = catalog.updated;
    entry
}

/// `GET /servicesNS/-/-/saved/searches`.
pub(crate) async fn list_saved(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let entries = state
        .catalog
        .saved
        .read()
        .values()
        .map(|s| saved_entry(&state.catalog, s))
        .collect();
    envelope::feed(
        &state,
        "/servicesNS/-/-/saved/searches",
        entries,
        &ctx.params,
    )
}

fn find_saved(state: &AppState, name: &str) -> Result<SavedSearch, ApiError> {
    state
        .catalog
        .saved
        .read()
        .get(name)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// `GET .../saved/searches/{name}`.
pub(crate) async fn get_saved(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let saved = find_saved(&state, &name)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/servicesNS/-/-/saved/searches",
        saved_entry(&state.catalog, &saved),
    ))
}

/// `POST .../saved/searches/{name}/dispatch` → `{"sid":...}` (201).
pub(crate) async fn dispatch_saved(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let saved = find_saved(&state, &name)?;
    let earliest = ctx
        .params
        .get("dispatch.earliest_time")
        .unwrap_or(&saved.earliest)
        .to_owned();
    let latest = ctx
        .params
        .get("dispatch.latest_time")
        .unwrap_or(&saved.latest)
        .to_owned();
    let sample_ratio = search::mode_and_sample_ratio(&ctx.params, "dispatch.")?;
    let prepared = search::prepare(
        &state,
        caller,
        &saved.search,
        Some(&earliest),
        Some(&latest),
        sample_ratio,
    )?;
    let sid = jobs::saved_search_sid(&state, &caller.username, &saved.app);
    let mut request = vec![
        ("search".to_owned(), saved.search.clone()),
        ("earliest_time".to_owned(), earliest),
        ("latest_time".to_owned(), latest),
    ];
    request.extend(ctx.params.pairs().iter().cloned());
    let spec = jobs::Dispatch {
        sid,
        app: saved.app.clone(),
        label: Some(saved.name.clone()),
        request,
        max_count: 50_000,
        mode: Mode::Normal,
    };
    let sid = jobs::dispatch(&state, caller, prepared, spec).await?;
    Ok((StatusCode::CREATED, Json(json!({ "sid": sid }))).into_response())
}

/// `GET .../saved/searches/{name}/history`: the jobs dispatched from it that still exist.
pub(crate) async fn saved_history(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let saved = find_saved(&state, &name)?;
    let entries = state
        .jobs
        .with_label(&saved.name)
        .iter()
        .filter(|j| j.owner == caller.username || caller.can("admin_all_objects"))
        .map(|job| {
            let mut entry = jobs::job_entry(job);
            entry.name = job.sid.clone();
            entry
        })
        .collect();
    let origin = format!(
        "/servicesNS/nobody/{}/saved/searches/{}/history",
        saved.app,
        segment(&saved.name)
    );
    envelope::feed(&state, &origin, entries, &ctx.params)
}

// ----- apps -----

fn app_entry(catalog: &Catalog, app: &App) -> Entry {
    let content = obj(json!({
        "author": app.author,
        "check_for_updates": true,
        "configured": true,
        "description": app.description,
        "disabled": false,
        "label": app.label,
        "show_in_nav": app.visible,
        "state_change_requires_restart": false,
        "version": app.version,
        "visible": app.visible,
    }));
    let mut entry = Entry::new(
        app.name,
        format!("/servicesNS/nobody/system/apps/local/{}", app.name),
        content,
    )
    .owned_by("nobody", "system", "app");
    entry.updated = catalog.updated;
    entry
}

/// `GET /services/apps/local`.
pub(crate) async fn list_apps(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let entries = state
        .catalog
        .apps
        .iter()
        .map(|a| app_entry(&state.catalog, a))
        .collect();
    envelope::feed(&state, "/services/apps/local", entries, &ctx.params)
}

/// `GET /services/apps/local/{name}`.
pub(crate) async fn get_app(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let app = state
        .catalog
        .apps
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/services/apps/local",
        app_entry(&state.catalog, app),
    ))
}
