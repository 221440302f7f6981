//! What every search endpoint shares: validating the form, running SPL with the caller's index
//! restrictions, and rendering rows as Splunk's results body.

use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::server::{ApiError, AppState, Params};
use crate::spl::{self, Row, SearchOutput, SearchRequest, SplError};

/// A search ready to run: its rows (lazy) and the resolved time range.
pub(crate) struct Prepared {
    /// The SPL as posted.
    pub(crate) spl: String,
    /// The engine's output.
    pub(crate) output: SearchOutput,
    /// Resolved `earliest_time`.
    pub(crate) earliest: Option<DateTime<Utc>>,
    /// Resolved `latest_time`.
    pub(crate) latest: Option<DateTime<Utc>>,
}

/// Validates the form and starts the engine; SPL and time errors come back as splunkd's 400.
pub(crate) fn prepare(
    state: &AppState,
    caller: &Caller,
    spl_text: &str,
    earliest: Option<&str>,
    latest: Option<&str>,
    sample_ratio: u64,
) -> Result<Prepared, ApiError> {
    caller.require("search")?;
    if spl_text.trim().is_empty() {
        return Err(ApiError::fatal("Empty search."));
    }
    let now = Utc::now();
    let earliest = earliest.filter(|t| !t.is_empty());
    let latest = latest.filter(|t| !t.is_empty());
    let to_api = |e: SplError| ApiError::fatal(e.to_string());
    let earliest_at = earliest
        .map(|t| spl::parse_time(t, now))
        .transpose()
        .map_err(to_api)?;
    // parse_time names the `earliest` term in its error; a bad `latest_time` must name `latest`.
    let latest_at = latest
        .map(|t| {
            spl::parse_time(t, now).map_err(|e| match e {
                SplError::BadTime(value) => SplError::BadLatestTime(value),
                other => other,
            })
        })
        .transpose()
        .map_err(to_api)?;
    let request = SearchRequest {
        spl: spl_text,
        earliest,
        latest,
        now,
        allowed_indexes: &caller.effective.allowed_indexes,
        default_indexes: &caller.effective.default_indexes,
        sample_ratio,
    };
    let output = spl::run(state.dataset.clone(), &request).map_err(to_api)?;
    Ok(Prepared {
        spl: spl_text.to_owned(),
        output,
        earliest: earliest_at,
        latest: latest_at,
    })
}

/// `GET|POST /services/search/parser?q=...`: the search parsed, not run: its commands, or
/// splunkd's 400 with the parser's message.
pub(crate) async fn parse(
    axum::extract::Extension(ctx): axum::extract::Extension<crate::server::Ctx>,
) -> crate::server::HandlerResult {
    ctx.caller()?;
    let query = ctx
        .params
        .get("q")
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::missing_argument("q"))?;
    let commands = spl::parse_commands(query).map_err(|e| ApiError::fatal(e.to_string()))?;
    let commands: Vec<Value> = commands
        .into_iter()
        .map(|(command, rawargs)| json!({"command": command, "rawargs": rawargs}))
        .collect();
    Ok(axum::Json(json!({"remoteSearch": query.trim(), "commands": commands})).into_response())
}

/// One row as a JSON object: single values as strings, multivalues as arrays.
pub(crate) fn row_json(row: &Row) -> Map<String, Value> {
    row.iter()
        .map(|(name, value)| {
            let value = match value {
                spl::Value::Single(s) => Value::String(s.clone()),
                spl::Value::Multi(items) => {
                    Value::Array(items.iter().cloned().map(Value::String).collect())
                }
            };
            (name.clone(), value)
        })
        .collect()
}

/// Splunk's results body (`/results`, `/events`, oneshot) for a page of rows.
pub(crate) fn results_body(
    rows: &[Row],
    init_offset: usize,
    preview: bool,
    messages: Value,
) -> Value {
    let mut fields: Vec<&str> = Vec::new();
    for row in rows {
        for (name, _) in row {
            if !fields.contains(&name.as_str()) {
                fields.push(name);
            }
        }
    }
    json!({
        "preview": preview,
        "init_offset": init_offset,
        "messages": messages,
        "fields": fields.iter().map(|f| json!({"name": f})).collect::<Vec<_>>(),
        "results": rows.iter().map(|r| Value::Object(row_json(r))).collect::<Vec<_>>(),
        "highlighted": {},
    })
}

/// Checks the search mode (`{prefix}adhoc_search_level`) and returns the event sampling ratio
/// (`{prefix}sample_ratio`, 1 when absent), as splunkd refuses bad values: `prefix` is empty
/// for a new job and `dispatch.` for a saved search's dispatch.
pub(crate) fn mode_and_sample_ratio(params: &Params, prefix: &str) -> Result<u64, ApiError> {
    let level_name = format!("{prefix}adhoc_search_level");
    if let Some(level) = params.get(&level_name)
        && !matches!(level, "fast" | "smart" | "verbose")
    {
        return Err(ApiError::bad_request(format!(
            "Invalid value '{level}' for argument '{level_name}'; use fast, smart or verbose"
        )));
    }
    let ratio_name = format!("{prefix}sample_ratio");
    match int_param(params, &ratio_name, 1)? {
        0 => Err(ApiError::bad_request(format!(
            "Invalid value '0' for argument '{ratio_name}'; it must be at least 1"
        ))),
        ratio => Ok(ratio as u64),
    }
}

/// A non-negative integer parameter with a default.
pub(crate) fn int_param(params: &Params, name: &str, default: usize) -> Result<usize, ApiError> {
    match params.get(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(|n| n.max(0) as usize)
            .map_err(|_| {
                ApiError::bad_request(format!("Argument \"{name}\" is not a valid integer: {v}"))
            }),
    }
}
