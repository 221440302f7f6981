//! The Atom-JSON envelope every listing answers with, plus Splunk's `count`/`offset`/`search=` paging.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{AppState, Params};

/// The `generator.build` splunkd reports.
pub(crate) const BUILD: &str = "86587d4e3b27";
/// The `generator.version` splunkd reports.
pub(crate) const VERSION: &str = "10.2.0";

/// Renders a time as Splunk's envelopes do: `2026-10-08T13:11:38+00:00`.
pub(crate) fn atom_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// One entry of a feed.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// `entry[].name`.
    pub(crate) name: String,
    /// Path of the entry, e.g. `/servicesNS/nobody/search/data/indexes/main`.
    pub(crate) path: String,
    /// `author` (the owner).
    pub(crate) author: String,
    /// The `acl` object.
    pub(crate) acl: Value,
    /// The `content` object.
    pub(crate) content: Map<String, Value>,
    /// `updated`.
    pub(crate) updated: DateTime<Utc>,
    /// Extra links beside `alternate` (name → path).
    pub(crate) links: Vec<(String, String)>,
}

impl Entry {
    /// An entry with a global, admin-writable ACL in the given app.
    pub(crate) fn new(
        name: impl Into<String>,
        path: impl Into<String>,
        content: Map<String, Value>,
    ) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            author: "nobody".to_owned(),
            acl: acl("system", "nobody", "global"),
            content,
            updated: Utc::now(),
            links: Vec::new(),
        }
    }

    /// Sets the owner (author and acl owner).
    pub(crate) fn owned_by(mut self, owner: &str, app: &str, sharing: &str) -> Self {
        self.author = owner.to_owned();
        self.acl = acl(app, owner, sharing);
        self
    }

    /// Adds the usual `list`, `edit` and `remove` links.
    pub(crate) fn editable(mut self) -> Self {
        for rel in ["list", "edit", "remove"] {
            self.links.push((rel.to_owned(), self.path.clone()));
        }
        self
    }

    fn matches(&self, filter: &str) -> bool {
        let filter = filter.to_lowercase();
        if let Some((field, wanted)) = filter.split_once('=') {
            let field = field.trim();
            let value = if field == "name" {
                Some(Value::String(self.name.clone()))
            } else {
                self.content
                    .iter()
                    .find(|(k, _)| k.to_lowercase() == field)
                    .map(|(_, v)| v.clone())
            };
            return value.is_some_and(|v| value_matches(&v, wanted.trim(), true));
        }
        self.name.to_lowercase().contains(&filter)
            || self
                .content
                .values()
                .any(|v| value_matches(v, &filter, false))
    }

    fn render(&self, base_url: &str) -> Value {
        let mut links = Map::new();
        links.insert("alternate".into(), json!(self.path));
        for (rel, path) in &self.links {
            links.insert(rel.clone(), json!(path));
        }
        let mut content = self.content.clone();
        content.entry("eai:acl").or_insert(Value::Null);
        json!({
            "name": self.name,
            "id": format!("{base_url}{}", self.path),
            "updated": atom_time(self.updated),
            "links": links,
            "author": self.author,
            "acl": self.acl,
            "content": content,
        })
    }
}

fn value_matches(value: &Value, wanted: &str, exact: bool) -> bool {
    match value {
        Value::String(s) => {
            let s = s.to_lowercase();
            if exact {
                glob_match(wanted, &s)
            } else {
                s.contains(wanted)
            }
        }
        Value::Array(items) => items.iter().any(|v| value_matches(v, wanted, exact)),
        Value::Number(n) => {
            let s = n.to_string();
            if exact {
                s == wanted
            } else {
                s.contains(wanted)
            }
        }
        Value::Bool(b) => {
            let s = if *b { "1" } else { "0" };
            s == wanted || b.to_string() == wanted
        }
        _ => false,
    }
}

/// Matches `text` against a pattern where `*` stands for any run of characters.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The `acl` object of an entry.
pub(crate) fn acl(app: &str, owner: &str, sharing: &str) -> Value {
    json!({
        "app": app,
        "can_change_perms": true,
        "can_list": true,
        "can_share_app": true,
        "can_share_global": true,
        "can_share_user": sharing == "user",
        "can_write": true,
        "modifiable": true,
        "owner": owner,
        "perms": {"read": ["*"], "write": ["admin"]},
        "removable": sharing == "user",
        "sharing": sharing,
    })
}

/// Paging parameters: Splunk's `count` (default 30, `0` = all) and `offset`.
pub(crate) fn paging(
    params: &Params,
    default_count: usize,
) -> Result<(usize, usize), super::ApiError> {
    let parse = |name: &str, default: usize| -> Result<usize, super::ApiError> {
        match params.get(name) {
            None | Some("") => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as usize)
                .map_err(|_| {
                    super::ApiError::bad_request(format!(
                        "Argument \"{name}\" is not a valid integer: {v}"
                    ))
                }),
        }
    };
    Ok((parse("count", default_count)?, parse("offset", 0)?))
}

/// Builds a feed (`entry` list with paging and `search=` filtering) for a listing request.
pub(crate) fn feed(
    state: &AppState,
    origin_path: &str,
    entries: Vec<Entry>,
    params: &Params,
) -> Result<Response, super::ApiError> {
    feed_with_status(state, StatusCode::OK, origin_path, entries, params)
}

/// Like [`feed`], with a chosen status (201 for creations).
pub(crate) fn feed_with_status(
    state: &AppState,
    status: StatusCode,
    origin_path: &str,
    entries: Vec<Entry>,
    params: &Params,
) -> Result<Response, super::ApiError> {
    let (count, offset) = paging(params, 30)?;
    let filtered: Vec<Entry> = match params.get("search").filter(|s| !s.is_empty()) {
        Some(filter) => entries.into_iter().filter(|e| e.matches(filter)).collect(),
        None => entries,
    };
    let total = filtered.len();
    let page: Vec<Value> = filtered
        .iter()
        .skip(offset)
        .take(if count == 0 { usize::MAX } else { count })
        .map(|e| e.render(&state.base_url))
        .collect();
    let body = json!({
        "links": {"create": format!("{origin_path}/_new"), "_reload": format!("{origin_path}/_reload"), "_acl": format!("{origin_path}/_acl")},
        "origin": format!("{}{origin_path}", state.base_url),
        "updated": atom_time(Utc::now()),
        "generator": {"build": BUILD, "version": VERSION},
        "entry": page,
        "paging": {"total": total, "perPage": count, "offset": offset},
        "messages": [],
    });
    Ok((status, Json(body)).into_response())
}

/// A single-entry answer (a `GET` of one object, or the answer to its creation).
pub(crate) fn single(
    state: &AppState,
    status: StatusCode,
    origin_path: &str,
    entry: Entry,
) -> Response {
    let body = json!({
        "links": {"create": format!("{origin_path}/_new"), "_reload": format!("{origin_path}/_reload"), "_acl": format!("{origin_path}/_acl")},
        "origin": format!("{}{origin_path}", state.base_url),
        "updated": atom_time(Utc::now()),
        "generator": {"build": BUILD, "version": VERSION},
        "entry": [entry.render(&state.base_url)],
        "paging": {"total": 1, "perPage": 30, "offset": 0},
        "messages": [],
    });
    (status, Json(body)).into_response()
}

/// An answer carrying only messages, e.g. `{"messages":[{"type":"INFO","text":"..."}]}`.
pub(crate) fn messages(status: StatusCode, kind: &str, text: &str) -> Response {
    (
        status,
        Json(json!({"messages": [{"type": kind, "text": text}]})),
    )
        .into_response()
}
