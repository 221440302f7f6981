//! The KV store: collection definitions (`storage/collections/config`) and documents
//! (`storage/collections/data`) with the query subset clients use (`$and`, `$or`, comparisons,
//! `$in`, `$regex`), `fields`, `sort`, `limit` and `skip`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde_json::{Map, Value, json};

use super::search::int_param;
use crate::server::envelope::{self, Entry};
use crate::server::{ApiError, AppState, Ctx, HandlerResult};

/// One collection: its definition and documents in insertion order.
#[derive(Debug, Clone)]
struct Collection {
    name: String,
    app: String,
    fields: BTreeMap<String, String>,
    accelerated: BTreeMap<String, String>,
    enforce_types: bool,
    replicate: bool,
    documents: Vec<Map<String, Value>>,
    updated: DateTime<Utc>,
}

impl Collection {
    fn new(name: &str, app: &str) -> Self {
        Self {
            name: name.to_owned(),
            app: app.to_owned(),
            fields: BTreeMap::new(),
            accelerated: BTreeMap::new(),
            enforce_types: false,
            replicate: false,
            documents: Vec::new(),
            updated: Utc::now(),
        }
    }
}

/// All collections, by name.
#[derive(Debug)]
pub(crate) struct KvStore {
    collections: RwLock<BTreeMap<String, Collection>>,
}

fn new_key() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

impl KvStore {
    /// Two seeded collections in the `search` app: `assets` and `threat_intel`.
    pub(crate) fn seeded() -> Self {
        let mut assets = Collection::new("assets", "search");
        for (f, t) in [
            ("hostname", "string"),
            ("ip", "string"),
            ("owner", "string"),
            ("criticality", "string"),
            ("priority", "number"),
        ] {
            assets.fields.insert(f.to_owned(), t.to_owned());
        }
        assets
            .accelerated
            .insert("by_host".to_owned(), r#"{"hostname": 1}"#.to_owned());
        assets.enforce_types = true;
        for (i, (host, ip, owner, crit, prio)) in [
            ("web-01", "10.0.1.11", "alice", "high", 2),
            ("web-02", "10.0.1.12", "alice", "high", 2),
            ("db-01", "10.0.2.21", "bob", "critical", 1),
            ("fw-edge", "10.0.0.1", "bob", "critical", 1),
            ("build-07", "10.0.3.37", "carol", "low", 4),
            ("jump-01", "10.0.0.10", "bob", "medium", 3),
        ]
        .into_iter()
        .enumerate()
        {
            assets.documents.push(
                json_obj(json!({"hostname": host, "ip": ip, "owner": owner, "criticality": crit, "priority": prio, "_key": format!("asset{:02}", i + 1), "_user": "nobody"})),
            );
        }
        let mut intel = Collection::new("threat_intel", "search");
        for f in ["indicator", "type", "severity", "source"] {
            intel.fields.insert(f.to_owned(), "string".to_owned());
        }
        for (i, (indicator, kind, severity, source)) in [
            ("203.0.113.45", "ip", "high", "abuse-feed"),
            ("198.51.100.23", "ip", "medium", "abuse-feed"),
            ("evil.example.net", "domain", "high", "internal"),
            (
                "44d88612fea8a8f36de82e1278abb02f",
                "md5",
                "critical",
                "av-vendor",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            intel.documents.push(json_obj(
                json!({"indicator": indicator, "type": kind, "severity": severity, "source": source, "_key": format!("ioc{:02}", i + 1), "_user": "nobody"}),
            ));
        }
        let collections = [assets, intel]
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        Self {
            collections: RwLock::new(collections),
        }
    }
}

fn json_obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn collection_entry(collection: &Collection) -> Entry {
    let mut content = Map::new();
    for (f, t) in &collection.fields {
        content.insert(format!("field.{f}"), json!(t));
    }
    for (n, spec) in &collection.accelerated {
        content.insert(format!("accelerated_fields.{n}"), json!(spec));
    }
    content.insert("enforceTypes".into(), json!(collection.enforce_types));
    content.insert("replicate".into(), json!(collection.replicate));
    content.insert("disabled".into(), json!(false));
    let path = format!(
        "/servicesNS/nobody/{}/storage/collections/config/{}",
        collection.app, collection.name
    );
    let mut entry = Entry::new(collection.name.clone(), path, content)
        .owned_by("nobody", &collection.app, "app")
        .editable();
    entry.updated = collection.updated;
    entry
}

fn in_namespace(ctx: &Ctx, collection: &Collection) -> bool {
    match ctx.ns.app.as_deref() {
        None | Some("-") => true,
        Some(app) => app == collection.app,
    }
}

fn config_origin(ctx: &Ctx) -> String {
    format!(
        "/servicesNS/nobody/{}/storage/collections/config",
        ctx.ns.app_or_search()
    )
}

/// `GET .../storage/collections/config`.
pub(crate) async fn list_collections(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?;
    let entries = state
        .kv
        .collections
        .read()
        .values()
        .filter(|c| in_namespace(&ctx, c))
        .map(collection_entry)
        .collect();
    envelope::feed(&state, &config_origin(&ctx), entries, &ctx.params)
}

/// `POST .../storage/collections/config` (`name`, `field.<f>`, `accelerated_fields.<n>`, `enforceTypes`, `replicate`).
pub(crate) async fn create_collection(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    ctx.caller()?.require("admin_all_objects")?;
    let name = ctx
        .params
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing_argument("name"))?;
    let mut collections = state.kv.collections.write();
    if collections.contains_key(name) {
        return Err(ApiError::conflict(name));
    }
    let mut collection = Collection::new(name, ctx.ns.app_or_search());
    for (key, value) in ctx.params.pairs() {
        if let Some(field) = key.strip_prefix("field.") {
            collection.fields.insert(field.to_owned(), value.clone());
        } else if let Some(accel) = key.strip_prefix("accelerated_fields.") {
            collection
                .accelerated
                .insert(accel.to_owned(), value.clone());
        } else if key == "enforceTypes" {
            collection.enforce_types = matches!(value.as_str(), "1" | "true");
        } else if key == "replicate" {
            collection.replicate = matches!(value.as_str(), "1" | "true");
        }
    }
    let entry = collection_entry(&collection);
    collections.insert(name.to_owned(), collection);
    Ok(envelope::single(
        &state,
        StatusCode::CREATED,
        &config_origin(&ctx),
        entry,
    ))
}

/// `GET .../storage/collections/config/{name}`.
pub(crate) async fn get_collection(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let collections = state.kv.collections.read();
    let collection = collections
        .get(&name)
        .filter(|c| in_namespace(&ctx, c))
        .ok_or_else(ApiError::not_found)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        &config_origin(&ctx),
        collection_entry(collection),
    ))
}

/// `DELETE .../storage/collections/config/{name}`.
pub(crate) async fn delete_collection(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?.require("admin_all_objects")?;
    let mut collections = state.kv.collections.write();
    if !collections
        .get(&name)
        .is_some_and(|c| in_namespace(&ctx, c))
    {
        return Err(ApiError::not_found());
    }
    collections.remove(&name);
    let entries = collections
        .values()
        .filter(|c| in_namespace(&ctx, c))
        .map(collection_entry)
        .collect();
    envelope::feed(&state, &config_origin(&ctx), entries, &ctx.params)
}

// ----- documents -----

fn with_collection<T>(
    state: &AppState,
    ctx: &Ctx,
    name: &str,
    f: impl FnOnce(&mut Collection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut collections = state.kv.collections.write();
    let collection = collections
        .get_mut(name)
        .filter(|c| in_namespace(ctx, c))
        .ok_or_else(ApiError::not_found)?;
    f(collection)
}

fn parse_query(ctx: &Ctx) -> Result<Value, ApiError> {
    match ctx.params.get("query").filter(|q| !q.trim().is_empty()) {
        None => Ok(json!({})),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err(ApiError::bad_request(
                "Invalid query: query must be a JSON object",
            )),
        },
    }
}

fn document_body(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(&ctx.params.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request("Request body must be a JSON object")),
    }
}

/// `GET .../storage/collections/data/{collection}?query=&fields=&sort=&limit=&skip=` → a bare JSON array.
pub(crate) async fn query(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let query = parse_query(&ctx)?;
    let limit = int_param(&ctx.params, "limit", 0)?;
    let skip = int_param(&ctx.params, "skip", 0)?;
    let mut docs = with_collection(&state, &ctx, &name, |c| {
        Ok(c.documents
            .iter()
            .filter(|d| matches(d, &query))
            .cloned()
            .collect::<Vec<_>>())
    })?;
    if let Some(sort) = ctx.params.get("sort").filter(|s| !s.is_empty()) {
        let keys: Vec<(String, bool)> = sort
            .split(',')
            .map(|k| match k.trim().split_once(':') {
                Some((f, dir)) => (f.to_owned(), dir.trim() != "-1"),
                None => (k.trim().to_owned(), true),
            })
            .collect();
        docs.sort_by(|a, b| {
            for (field, ascending) in &keys {
                let ord = compare(a.get(field), b.get(field));
                let ord = if *ascending { ord } else { ord.reverse() };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
    let take = if limit == 0 { usize::MAX } else { limit };
    let fields = ctx.params.get("fields").filter(|f| !f.is_empty());
    let out: Vec<Value> = docs
        .into_iter()
        .skip(skip)
        .take(take)
        .map(|d| Value::Object(project(d, fields)))
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

/// `POST .../storage/collections/data/{collection}` with a JSON document → `{"_key":...}` (201).
pub(crate) async fn insert(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let mut doc = document_body(&ctx)?;
    let key = with_collection(&state, &ctx, &name, |c| {
        let key = match doc.get("_key").and_then(Value::as_str) {
            Some(k) => k.to_owned(),
            None => new_key(),
        };
        if c.documents
            .iter()
            .any(|d| d.get("_key").and_then(Value::as_str) == Some(&key))
        {
            return Err(ApiError::conflict(&key));
        }
        doc.insert("_key".into(), json!(key));
        doc.insert("_user".into(), json!("nobody"));
        c.documents.push(doc);
        Ok(key)
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "_key": key }))).into_response())
}

/// `DELETE .../storage/collections/data/{collection}[?query=]`: deletes every matching document.
pub(crate) async fn delete_matching(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> HandlerResult {
    ctx.caller()?;
    let query = parse_query(&ctx)?;
    with_collection(&state, &ctx, &name, |c| {
        c.documents.retain(|d| !matches(d, &query));
        Ok(())
    })?;
    Ok(StatusCode::OK.into_response())
}

fn position(c: &Collection, key: &str) -> Result<usize, ApiError> {
    c.documents
        .iter()
        .position(|d| d.get("_key").and_then(Value::as_str) == Some(key))
        .ok_or_else(ApiError::not_found)
}

/// `GET .../storage/collections/data/{collection}/{key}`.
pub(crate) async fn get_document(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path((name, key)): Path<(String, String)>,
) -> HandlerResult {
    ctx.caller()?;
    let doc = with_collection(&state, &ctx, &name, |c| {
        Ok(c.documents[position(c, &key)?].clone())
    })?;
    Ok(Json(Value::Object(doc)).into_response())
}

/// `POST .../storage/collections/data/{collection}/{key}`: replaces the document.
pub(crate) async fn update_document(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path((name, key)): Path<(String, String)>,
) -> HandlerResult {
    ctx.caller()?;
    let mut doc = document_body(&ctx)?;
    with_collection(&state, &ctx, &name, |c| {
        let at = position(c, &key)?;
        doc.insert("_key".into(), json!(key));
        doc.insert("_user".into(), json!("nobody"));
        c.documents[at] = doc;
        Ok(())
    })?;
    Ok(Json(json!({ "_key": key })).into_response())
}

/// `DELETE .../storage/collections/data/{collection}/{key}`.
pub(crate) async fn delete_document(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path((name, key)): Path<(String, String)>,
) -> HandlerResult {
    ctx.caller()?;
    with_collection(&state, &ctx, &name, |c| {
        let at = position(c, &key)?;
        c.documents.remove(at);
        Ok(())
    })?;
    Ok(StatusCode::OK.into_response())
}

// ----- query evaluation -----

/// Applies `fields` (`a,b` to include, `a:0` to exclude; `_key` kept unless excluded).
fn project(doc: Map<String, Value>, fields: Option<&str>) -> Map<String, Value> {
    let Some(fields) = fields else { return doc };
    let mut include: Vec<&str> = Vec::new();
    let mut exclude: Vec<&str> = Vec::new();
    for spec in fields.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match spec.split_once(':') {
            Some((f, "0")) => exclude.push(f),
            Some((f, _)) => include.push(f),
            None => include.push(spec),
        }
    }
    doc.into_iter()
        .filter(|(k, _)| {
            if exclude.contains(&k.as_str()) {
                return false;
            }
            include.is_empty() || include.contains(&k.as_str()) || k == "_key"
        })
        .collect()
}

/// Whether a document satisfies a query object.
fn matches(doc: &Map<String, Value>, query: &Value) -> bool {
    let Value::Object(query) = query else {
        return true;
    };
    query.iter().all(|(key, cond)| match key.as_str() {
        "$and" => cond
            .as_array()
            .is_some_and(|qs| qs.iter().all(|q| matches(doc, q))),
        "$or" => cond
            .as_array()
            .is_some_and(|qs| qs.iter().any(|q| matches(doc, q))),
        "$nor" => cond
            .as_array()
            .is_some_and(|qs| !qs.iter().any(|q| matches(doc, q))),
        field => field_matches(doc.get(field), cond),
    })
}

fn field_matches(value: Option<&Value>, cond: &Value) -> bool {
    match cond {
        Value::Object(ops) if ops.keys().all(|k| k.starts_with('$')) && !ops.is_empty() => {
            ops.iter().all(|(op, arg)| match op.as_str() {
                "$gt" => value.is_some_and(|v| compare(Some(v), Some(arg)) == Ordering::Greater),
                "$gte" => value.is_some_and(|v| compare(Some(v), Some(arg)) != Ordering::Less),
                "$lt" => value.is_some_and(|v| compare(Some(v), Some(arg)) == Ordering::Less),
                "$lte" => value.is_some_and(|v| compare(Some(v), Some(arg)) != Ordering::Greater),
                "$ne" => !value.is_some_and(|v| equals(v, arg)),
                "$in" => arg
                    .as_array()
                    .is_some_and(|items| value.is_some_and(|v| items.iter().any(|i| equals(v, i)))),
                "$nin" => arg.as_array().is_some_and(|items| {
                    !value.is_some_and(|v| items.iter().any(|i| equals(v, i)))
                }),
                "$exists" => value.is_some() == arg.as_bool().unwrap_or(true),
                "$regex" => match (value, arg.as_str()) {
                    (Some(v), Some(pattern)) => regex_match(pattern, &text_of(v)),
                    _ => false,
                },
                "$options" => true,
                _ => false,
            })
        }
        _ => value.is_some_and(|v| equals(v, cond)),
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn equals(value: &Value, wanted: &Value) -> bool {
    match value {
        Value::Array(items) if !wanted.is_array() => items.iter().any(|i| equals(i, wanted)),
        _ => {
            value == wanted
                || (value.is_number() && wanted.is_number() && value.as_f64() == wanted.as_f64())
        }
    }
}

/// Orders two values: missing < numbers < strings, numbers numerically.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => text_of(a).cmp(&text_of(b)),
        },
    }
}

/// A small regular-expression matcher for `$regex`: literals, `.`, `*`, `+`, `?`, `^`, `$` and
/// backslash escapes; unanchored patterns match anywhere.
fn regex_match(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy)]
    enum Atom {
        Any,
        Char(char),
    }
    let mut atoms: Vec<(Atom, char)> = Vec::new();
    let mut chars = pattern.chars().peekable();
    let anchored_start = chars.peek() == Some(&'^');
    if anchored_start {
        chars.next();
    }
    let mut anchored_end = false;
    while let Some(c) = chars.next() {
        let atom = match c {
            '$' if chars.peek().is_none() => {
                anchored_end = true;
                continue;
            }
            '.' => Atom::Any,
            '\\' => Atom::Char(chars.next().unwrap_or('\\')),
            other => Atom::Char(other),
        };
        let quantifier = match chars.peek() {
            Some(&q @ ('*' | '+' | '?')) => {
                chars.next();
                q
            }
            _ => ' ',
        };
        atoms.push((atom, quantifier));
    }
    fn one(atom: Atom, c: char) -> bool {
        match atom {
            Atom::Any => true,
            Atom::Char(x) => x == c,
        }
    }
    fn go(atoms: &[(Atom, char)], text: &[char], anchored_end: bool) -> bool {
        let Some(&(atom, q)) = atoms.first() else {
            return !anchored_end || text.is_empty();
        };
        match q {
            '*' | '+' => {
                let min = usize::from(q == '+');
                let mut n = 0;
                while n < text.len() && one(atom, text[n]) {
                    n += 1;
                }
                (min..=n)
                    .rev()
                    .any(|k| go(&atoms[1..], &text[k..], anchored_end))
            }
            '?' => {
                (!text.is_empty()
                    && one(atom, text[0])
                    && go(&atoms[1..], &text[1..], anchored_end))
                    || go(&atoms[1..], text, anchored_end)
            }
            _ => {
                !text.is_empty() && one(atom, text[0]) && go(&atoms[1..], &text[1..], anchored_end)
            }
        }
    }
    let text: Vec<char> = text.chars().collect();
    if anchored_start {
        go(&atoms, &text, anchored_end)
    } else {
        (0..=text.len()).any(|start| go(&atoms, &text[start..], anchored_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_follow_mongo_semantics() {
        let doc = json_obj(json!({"host": "web-01", "prio": 2, "tags": ["a", "b"]}));
        let cases = [
            (json!({"host": "web-01"}), true),
            (json!({"host": "web-02"}), false),
            (json!({"prio": {"$gte": 2, "$lt": 3}}), true),
            (json!({"prio": {"$gt": 2}}), false),
            (json!({"$or": [{"host": "x"}, {"prio": 2}]}), true),
            (
                json!({"$and": [{"host": "web-01"}, {"prio": {"$ne": 2}}]}),
                false,
            ),
            (json!({"host": {"$in": ["db-01", "web-01"]}}), true),
            (json!({"host": {"$regex": "^web-0.?"}}), true),
            (json!({"host": {"$regex": "^db"}}), false),
            (json!({"tags": "b"}), true),
        ];
        for (query, expected) in cases {
            assert_eq!(matches(&doc, &query), expected, "{query}");
        }
    }

    #[test]
    fn regex_subset() {
        assert!(regex_match("web", "my-web-01"));
        assert!(regex_match("^w.b-0+1$", "web-001"));
        assert!(!regex_match("^web$", "web-01"));
        assert!(regex_match("a\\.b", "xa.b"));
        assert!(!regex_match("a\\.b", "xaxb"));
    }
}
