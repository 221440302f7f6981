//! Knowledge objects, read-only: fired alerts (`alerts/fired_alerts`), views and dashboards
//! (`data/ui/views`), lookup table files (`data/lookup-table-files`), lookup definitions
//! (`data/transforms/lookups`) and data models (`datamodel/model`).
//!
//! Under `/services` and `/servicesNS/{owner}/-` every object is listed; under
//! `/servicesNS/{owner}/{app}` those of that app and those shared globally, as splunkd does.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::catalog::segment;
use crate::data::knowledge::{
    Acl, DataModel, FiredAlert, Knowledge, LookupDefinition, LookupFile, View,
};
use crate::server::envelope::{self, Entry};
use crate::server::{ApiError, AppState, Ctx, HandlerResult, Params};

/// Where the summary of fired alerts is listed.
const FIRED_ALERTS: &str = "/services/alerts/fired_alerts";
/// Where views are listed.
const VIEWS: &str = "/servicesNS/-/-/data/ui/views";
/// Where lookup table files are listed.
const LOOKUP_FILES: &str = "/servicesNS/-/-/data/lookup-table-files";
/// Where lookup definitions are listed.
const LOOKUP_DEFINITIONS: &str = "/servicesNS/-/-/data/transforms/lookups";
/// Where data models are listed.
const DATA_MODELS: &str = "/servicesNS/-/-/datamodel/model";

/// The group `-` of the fired alerts summary (every fired alert) lives in the search app.
const ALL_ALERTS: Acl = Acl {
    app: "search",
    owner: "nobody",
    sharing: "app",
};

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Whether an object placed by `acl` is seen through the request's namespace.
fn visible_in(ctx: &Ctx, acl: &Acl) -> bool {
    match ctx.ns.app.as_deref() {
        None | Some("-") => true,
        Some(app) => acl.app == app || acl.sharing == "global",
    }
}

/// A boolean query parameter (`true`, `t`, `1`, `yes`), `false` when absent.
fn flag(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "t" | "true" | "yes" | "y"
        )
    })
}

/// The entry of a configuration object at `/servicesNS/{owner}/{app}/{collection}/{name}`. Its
/// content carries `eai:appName` and `eai:userName` as splunkd adds them, in key order.
fn config_entry(
    collection: &str,
    name: &str,
    acl: &Acl,
    content: Map<String, Value>,
    updated: DateTime<Utc>,
) -> Entry {
    let path = format!(
        "/servicesNS/{}/{}/{collection}/{}",
        acl.owner,
        acl.app,
        segment(name)
    );
    let mut entry = Entry::new(name, path, content)
        .owned_by(acl.owner, acl.app, acl.sharing)
        .editable();
    entry.updated = updated;
    entry
}

/// The one entry named `name`, or splunkd's 404.
fn one(state: &AppState, origin: &str, entries: Vec<Entry>, name: &str) -> HandlerResult {
    let entry = entries
        .into_iter()
        .find(|entry| entry.name == name)
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(state, StatusCode::OK, origin, entry))
}

// ----- fired alerts -----

/// A time as fired alerts render it: `2026-10-08 13:53:26 UTC`.
fn rendered(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn fired_alert_entry(alert: &FiredAlert) -> Entry {
    let acl = alert.acl;
    let content = obj(json!({
        "actions": if alert.actions.is_empty() { Value::Null } else { json!(alert.actions) },
        "alert_type": "historical",
        "digest_mode": alert.digest_mode,
        "expiration_time_rendered": rendered(alert.expires),
        "savedsearch_name": alert.saved_search,
        "severity": alert.severity,
        "sid": alert.sid,
        "trigger_time": alert.trigger_time.timestamp(),
        "trigger_time_rendered": rendered(alert.trigger_time),
        "triggered_alerts": alert.triggered_alerts,
    }));
    let base = format!("/servicesNS/{}/{}", acl.owner, acl.app);
    let path = format!("{base}/alerts/fired_alerts/{}", alert.id());
    let mut entry =
        Entry::new(alert.id(), path.clone(), content).owned_by(acl.owner, acl.app, acl.sharing);
    entry.links = vec![
        ("job".into(), format!("{base}/search/jobs/{}", alert.sid)),
        (
            "savedsearch".into(),
            format!("{base}/saved/searches/{}", segment(alert.saved_search)),
        ),
        ("list".into(), path.clone()),
        ("remove".into(), path),
    ];
    entry.updated = alert.trigger_time;
    entry
}

/// One line of the summary: a saved search (or `-`, all of them) and how many alerts it fired.
fn alert_group_entry(name: &str, acl: Acl, alerts: &[&FiredAlert]) -> Entry {
    let content = obj(json!({
        "is_streaming_alert": false,
        "triggered_alert_count": alerts.len(),
    }));
    let path = format!(
        "/servicesNS/{}/{}/alerts/fired_alerts/{}",
        acl.owner,
        acl.app,
        segment(name)
    );
    let mut entry =
        Entry::new(name, path.clone(), content).owned_by(acl.owner, acl.app, acl.sharing);
    entry.links = vec![("list".into(), path)];
    if let Some(newest) = alerts.iter().map(|alert| alert.trigger_time).max() {
        entry.updated = newest;
    }
    entry
}

fn visible_alerts<'a>(knowledge: &'a Knowledge, ctx: &Ctx) -> Vec<&'a FiredAlert> {
    knowledge
        .fired_alerts
        .iter()
        .filter(|alert| visible_in(ctx, &alert.acl))
        .collect()
}

/// `GET /services/alerts/fired_alerts`: the saved searches that fired, each with its count,
/// after the group `-` that stands for all of them.
pub(crate) async fn list_fired_alert_groups(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let alerts = visible_alerts(state.dataset.knowledge(), &ctx);
    let mut groups: BTreeMap<&str, Vec<&FiredAlert>> = BTreeMap::new();
    for alert in &alerts {
        groups.entry(alert.saved_search).or_default().push(alert);
    }
    let mut entries = vec![alert_group_entry("-", ALL_ALERTS, &alerts)];
    entries.extend(
        groups
            .iter()
            .map(|(name, group)| alert_group_entry(name, group[0].acl, group)),
    );
    envelope::feed(&state, FIRED_ALERTS, entries, &ctx.params)
}

/// `GET /services/alerts/fired_alerts/{name}`: the alerts a saved search fired, newest first
/// (`-`: those of every saved search). A saved search that never fired lists none.
pub(crate) async fn list_fired_alerts(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let entries = visible_alerts(state.dataset.knowledge(), &ctx)
        .into_iter()
        .filter(|alert| name == "-" || alert.saved_search == name)
        .map(fired_alert_entry)
        .collect();
    let origin = format!("{FIRED_ALERTS}/{}", segment(&name));
    envelope::feed(&state, &origin, entries, &ctx.params)
}

// ----- views -----

fn view_entry(view: &View) -> Entry {
    let content = obj(json!({
        "description": view.description,
        "disabled": false,
        "eai:appName": view.acl.app,
        "eai:data": view.source,
        "eai:type": "views",
        "eai:userName": view.acl.owner,
        "isDashboard": view.is_dashboard,
        "isVisible": true,
        "label": view.label,
        "rootNode": view.root_node,
        "version": view.version,
    }));
    config_entry("data/ui/views", view.name, &view.acl, content, view.updated)
}

fn view_entries(state: &AppState, ctx: &Ctx) -> Vec<Entry> {
    state
        .dataset
        .knowledge()
        .views
        .iter()
        .filter(|view| visible_in(ctx, &view.acl))
        .map(view_entry)
        .collect()
}

/// `GET /servicesNS/{owner}/{app}/data/ui/views`: dashboards and the apps' pages.
pub(crate) async fn list_views(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    envelope::feed(&state, VIEWS, view_entries(&state, &ctx), &ctx.params)
}

/// `GET .../data/ui/views/{name}`.
pub(crate) async fn get_view(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    one(&state, VIEWS, view_entries(&state, &ctx), &name)
}

// ----- lookups -----

fn lookup_file_entry(file: &LookupFile) -> Entry {
    let content = obj(json!({
        "disabled": false,
        "eai:appName": file.acl.app,
        "eai:data": file.path(),
        "eai:userName": file.acl.owner,
        "fields_array": file.fields,
        "lastModifiedTime": file.updated.timestamp(),
        "size": file.csv().len(),
    }));
    config_entry(
        "data/lookup-table-files",
        file.name,
        &file.acl,
        content,
        file.updated,
    )
}

fn lookup_file_entries(state: &AppState, ctx: &Ctx) -> Vec<Entry> {
    state
        .dataset
        .knowledge()
        .lookup_files
        .iter()
        .filter(|file| visible_in(ctx, &file.acl))
        .map(lookup_file_entry)
        .collect()
}

/// `GET /servicesNS/{owner}/{app}/data/lookup-table-files`.
pub(crate) async fn list_lookup_files(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    envelope::feed(
        &state,
        LOOKUP_FILES,
        lookup_file_entries(&state, &ctx),
        &ctx.params,
    )
}

/// `GET .../data/lookup-table-files/{name}`.
pub(crate) async fn get_lookup_file(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    one(
        &state,
        LOOKUP_FILES,
        lookup_file_entries(&state, &ctx),
        &name,
    )
}

/// A file-based definition, with the fields of its file and transforms.conf's defaults for the
/// settings it leaves alone; `size` (of the file) only when asked with `getsize=true`.
fn lookup_definition_entry(
    knowledge: &Knowledge,
    definition: &LookupDefinition,
    with_size: bool,
) -> Entry {
    let file = knowledge
        .lookup_files
        .iter()
        .find(|file| file.name == definition.filename);
    let fields: Vec<&str> = file.map(|file| file.fields.clone()).unwrap_or_default();
    let mut content = obj(json!({
        "CAN_OPTIMIZE": true,
        "CLEAN_KEYS": true,
        "KEEP_EMPTY_VALS": false,
        "MV_ADD": false,
        "REGEX": "",
        "SOURCE_KEY": "_raw",
        "WRITE_META": "False",
        "case_sensitive_match": true,
        "collection": "",
        "default_match": "",
        "disabled": false,
        "eai:appName": definition.acl.app,
        "eai:userName": definition.acl.owner,
        "external_cmd": "",
        "external_type": "",
        "fields_array": fields,
        "fields_list": fields.join(","),
        "filename": definition.filename,
        "match_type": "",
        "max_matches": 1000,
        "min_matches": 0,
        "type": "file",
    }));
    if with_size {
        content.insert(
            "size".into(),
            json!(file.map_or(0, |file| file.csv().len())),
        );
    }
    config_entry(
        "data/transforms/lookups",
        definition.name,
        &definition.acl,
        content,
        definition.updated,
    )
}

fn lookup_definition_entries(state: &AppState, ctx: &Ctx) -> Vec<Entry> {
    let knowledge = state.dataset.knowledge();
    let with_size = flag(&ctx.params, "getsize");
    knowledge
        .lookup_definitions
        .iter()
        .filter(|definition| visible_in(ctx, &definition.acl))
        .map(|definition| lookup_definition_entry(knowledge, definition, with_size))
        .collect()
}

/// `GET /servicesNS/{owner}/{app}/data/transforms/lookups`.
pub(crate) async fn list_lookup_definitions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    envelope::feed(
        &state,
        LOOKUP_DEFINITIONS,
        lookup_definition_entries(&state, &ctx),
        &ctx.params,
    )
}

/// `GET .../data/transforms/lookups/{name}`.
pub(crate) async fn get_lookup_definition(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    one(
        &state,
        LOOKUP_DEFINITIONS,
        lookup_definition_entries(&state, &ctx),
        &name,
    )
}

// ----- data models -----

/// A data model. Its definition is JSON in a string, in `description` and `eai:data`; with
/// `concise=true`, `description` holds only the summary and `eai:data` is left out.
fn data_model_entry(model: &DataModel, concise: bool) -> Entry {
    let definition = model.definition.to_string();
    let digest = hex::encode(Sha256::digest(definition.as_bytes()));
    let description = if concise {
        model.summary().to_string()
    } else {
        definition.clone()
    };
    let content = obj(json!({
        "acceleration": model.acceleration.to_string(),
        "acceleration.allowed": true,
        "dataset.type": "datamodel",
        "description": description,
        "disabled": false,
        "displayName": model.display_name,
        "eai:appName": model.acl.app,
        "eai:data": definition,
        "eai:digest": &digest[..32],
        "eai:type": "datamodel",
        "eai:userName": model.acl.owner,
        "strict_fields": "false",
        "tags_whitelist": "",
    }));
    let content = content
        .into_iter()
        .filter(|(key, _)| !(concise && key == "eai:data"))
        .collect();
    config_entry(
        "datamodel/model",
        model.name,
        &model.acl,
        content,
        model.updated,
    )
}

fn data_model_entries(state: &AppState, ctx: &Ctx) -> Vec<Entry> {
    let concise = flag(&ctx.params, "concise");
    state
        .dataset
        .knowledge()
        .data_models
        .iter()
        .filter(|model| visible_in(ctx, &model.acl))
        .map(|model| data_model_entry(model, concise))
        .collect()
}

/// `GET /servicesNS/{owner}/{app}/datamodel/model`.
pub(crate) async fn list_data_models(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    envelope::feed(
        &state,
        DATA_MODELS,
        data_model_entries(&state, &ctx),
        &ctx.params,
    )
}

/// `GET .../datamodel/model/{name}`.
pub(crate) async fn get_data_model(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    one(&state, DATA_MODELS, data_model_entries(&state, &ctx), &name)
}
