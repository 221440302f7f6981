//! Turning a parsed pipeline into a lazy row stream over the dataset: index visibility, time
//! ranges, subsearches, generating commands, and the chain of row commands.

use std::collections::HashMap;
use std::iter::Peekable;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ast::{
    Aggregation, Command, CompareOp, InputLookup, MetadataKind, Pipeline, SearchExpr,
};
use super::commands::{Rows, charting, ordering, stats, streaming, top};
use super::eval::EvalContext;
use super::matching::{glob_match, matches};
use super::parser::{parse_pipeline, parse_search_expression};
use super::row::{event_to_row, render_row_time, values};
use super::time::parse_time;
use super::{Row, SearchOutput, SplError, Value};
use crate::data::{Dataset, Event};

/// Splunk stops reading a subsearch's results here (`maxout`).
const SUBSEARCH_MAX_RESULTS: usize = 10_000;
/// Nesting deeper than this is almost certainly a mistake, and would otherwise recurse freely.
const SUBSEARCH_MAX_DEPTH: usize = 8;

/// What every command of one search shares.
#[derive(Clone)]
pub(crate) struct SearchContext {
    pub(crate) dataset: Arc<Dataset>,
    pub(crate) now: DateTime<Utc>,
    /// The request's time range in epoch seconds: `earliest <= _time < latest`.
    pub(crate) earliest: Option<i64>,
    pub(crate) latest: Option<i64>,
    pub(crate) allowed_indexes: Vec<String>,
    pub(crate) default_indexes: Vec<String>,
    pub(crate) depth: usize,
    /// One event in this many is kept by the main search's retrieval (`sample_ratio`).
    pub(crate) sample_ratio: u64,
}

impl SearchContext {
    /// Length of the request's time range in seconds, when it has a start.
    fn range(&self) -> Option<i64> {
        let earliest = self.earliest?;
        Some(self.latest.unwrap_or_else(|| self.now.timestamp()) - earliest)
    }

    fn eval_context(&self) -> EvalContext {
        EvalContext { now: self.now }
    }
}

/// Plans `pipeline`; parse-level and planning errors surface here, rows are produced on demand.
pub(crate) fn execute(
    context: &SearchContext,
    pipeline: Pipeline,
) -> Result<SearchOutput, SplError> {
    let transforming = pipeline.commands.iter().any(Command::is_transforming);
    let mut commands = pipeline.commands.into_iter();
    let mut rows: Rows = match commands.next() {
        None => Box::new(std::iter::empty()),
        Some(Command::Search(expression)) => base_search(context, expression)?,
        Some(Command::MakeResults { count }) => make_results(context, count),
        Some(Command::Metadata { kind, indexes }) => metadata(context, kind, &indexes),
        Some(Command::Tstats {
            aggregations,
            filter,
            by,
        }) => tstats(context, aggregations, filter, by)?,
        Some(Command::EventCount { indexes, summarize }) => {
            event_count(context, &indexes, summarize)
        }
        Some(Command::InputLookup(lookup)) => input_lookup(context, lookup)?,
        Some(other) => {
            return Err(SplError::Syntax(format!(
                "Error in '{}' command: This command must be used after a search command, not as the first command.",
                other.name()
            )));
        }
    };
    for command in commands {
        rows = apply(context, command, rows)?;
    }
    Ok(SearchOutput {
        rows: Box::new(rows.map(render_row_time)),
        transforming,
    })
}

/// Runs `compute` only when the first row is asked for, so `run` returns before blocking work.
fn deferred(compute: impl FnOnce() -> Vec<Row> + Send + 'static) -> Rows {
    let mut compute = Some(compute);
    Box::new(
        std::iter::once(())
            .flat_map(move |()| compute.take().map(|compute| compute()).unwrap_or_default()),
    )
}

fn apply(context: &SearchContext, command: Command, rows: Rows) -> Result<Rows, SplError> {
    Ok(match command {
        Command::Search(expression) => {
            let expression = expand_subsearches(context, expression)?;
            streaming::search(rows, time_terms_as_filters(expression, context.now)?)
        }
        Command::Head(count) => streaming::head(rows, count),
        Command::Tail(count) => deferred(move || ordering::tail(rows, count).collect()),
        Command::Fields { remove, patterns } => streaming::fields(rows, remove, patterns),
        Command::Table(patterns) => streaming::table(rows, patterns),
        Command::Rename(pairs) => streaming::rename(rows, pairs),
        Command::Sort { limit, keys } => {
            deferred(move || ordering::sort(rows, limit, keys).collect())
        }
        Command::Dedup {
            keep,
            fields,
            keep_empty,
        } => streaming::dedup(rows, keep, fields, keep_empty),
        Command::Where(condition) => {
            streaming::where_command(rows, condition, context.eval_context())
        }
        Command::Eval(assignments) => streaming::eval(rows, assignments, context.eval_context()),
        Command::Stats { aggregations, by } => {
            deferred(move || stats::stats(rows, &aggregations, &by))
        }
        Command::Top(options) => deferred(move || top::top(rows, &options)),
        Command::FillNull { value, fields } if fields.is_empty() => deferred(move || {
            let mut all: Vec<Row> = rows.collect();
            let mut names: Vec<String> = Vec::new();
            for row in &all {
                for (name, _) in row {
                    if !name.starts_with('_') && !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            }
            for row in &mut all {
                streaming::fill_row(row, &value, &names);
            }
            all
        }),
        Command::FillNull { value, fields } => streaming::fill_null(rows, value, fields),
        Command::Bin { field, span, alias } => match span {
            Some(span) => charting::bin(rows, field, span, alias),
            None if field == "_time" => {
                charting::bin(rows, field, charting::auto_span(context.range()), alias)
            }
            // Without a span, numeric fields would need Splunk's adaptive bins; leave them as they are.
            None => rows,
        },
        Command::Timechart {
            span,
            limit,
            aggregations,
            by,
        } => {
            let span = span.unwrap_or_else(|| charting::auto_span(context.range()));
            let window = charting::ChartWindow {
                earliest: context.earliest,
                latest: context.latest,
            };
            deferred(move || {
                charting::timechart(rows, span, limit, &aggregations, by.as_deref(), window)
            })
        }
        Command::Rex { field, extraction } => streaming::rex(rows, field, extraction),
        Command::Chart {
            limit,
            aggregations,
            row_field,
            series_field,
        } => deferred(move || match row_field {
            Some(row_field) => charting::chart(
                rows,
                limit,
                &aggregations,
                &row_field,
                series_field.as_deref(),
            ),
            None => stats::stats(rows, &aggregations, &[]),
        }),
        Command::EventStats { aggregations, by } => {
            deferred(move || stats::event_stats(rows, &aggregations, &by))
        }
        Command::InputLookup(lookup) if lookup.append => {
            Box::new(rows.chain(input_lookup(context, lookup)?))
        }
        generating @ (Command::MakeResults { .. }
        | Command::Metadata { .. }
        | Command::EventCount { .. }
        | Command::Tstats { .. }
        | Command::InputLookup(_)) => {
            return Err(SplError::Syntax(format!(
                "Error in '{}' command: This command must be the first command of a search.",
                generating.name()
            )));
        }
    })
}

/// Whether an index name matches a pattern of `index=` or of a role: `*` never reaches internal
/// (`_`-prefixed) indexes, which only patterns starting with `_` (or their exact names) select.
fn index_pattern_matches(pattern: &str, index: &str) -> bool {
    if index.starts_with('_') && !pattern.starts_with('_') {
        return false;
    }
    glob_match(pattern, index, true)
}

/// The indexes a search reads: those named (or the defaults), restricted to what the roles allow.
fn visible_indexes(context: &SearchContext, named: &[String]) -> Vec<String> {
    let wanted = if named.is_empty() {
        &context.default_indexes
    } else {
        named
    };
    context
        .dataset
        .index_names()
        .into_iter()
        .filter(|index| {
            wanted
                .iter()
                .any(|pattern| index_pattern_matches(pattern, index))
        })
        .filter(|index| {
            context
                .allowed_indexes
                .iter()
                .any(|pattern| index_pattern_matches(pattern, index))
        })
        .collect()
}

/// Values of positive `index=` terms (those not under NOT).
fn named_indexes(expression: &SearchExpr, found: &mut Vec<String>) {
    match expression {
        SearchExpr::And(parts) | SearchExpr::Or(parts) => {
            parts.iter().for_each(|part| named_indexes(part, found))
        }
        SearchExpr::Compare {
            field,
            op: CompareOp::Equal,
            value,
        } if field.eq_ignore_ascii_case("index") => {
            found.push(value.clone());
        }
        _ => {}
    }
}

fn parse_time_term(field: &str, value: &str, now: DateTime<Utc>) -> Result<i64, SplError> {
    parse_time(value, now)
        .map(|instant| instant.timestamp())
        .map_err(|_| {
            if field.eq_ignore_ascii_case("latest") {
                SplError::BadLatestTime(value.to_string())
            } else {
                SplError::BadTime(value.to_string())
            }
        })
}

fn is_time_term(expression: &SearchExpr) -> Option<(&str, &str)> {
    match expression {
        SearchExpr::Compare {
            field,
            op: CompareOp::Equal,
            value,
        } if field.eq_ignore_ascii_case("earliest") || field.eq_ignore_ascii_case("latest") => {
            Some((field, value))
        }
        _ => None,
    }
}

/// Takes `earliest=`/`latest=` out of the top-level conjunction of a base search; they override
/// the request's time range.
fn extract_time_terms(
    expression: SearchExpr,
    now: DateTime<Utc>,
) -> Result<(SearchExpr, Option<i64>, Option<i64>), SplError> {
    let parts = match expression {
        SearchExpr::And(parts) => parts,
        single => vec![single],
    };
    let (mut earliest, mut latest) = (None, None);
    let mut kept = Vec::with_capacity(parts.len());
    for part in parts {
        match is_time_term(&part) {
            Some((field, value)) => {
                let seconds = parse_time_term(field, value, now)?;
                if field.eq_ignore_ascii_case("earliest") {
                    earliest = Some(seconds);
                } else {
                    latest = Some(seconds);
                }
            }
            None => kept.push(part),
        }
    }
    let expression = if kept.len() == 1 {
        kept.remove(0)
    } else {
        SearchExpr::And(kept)
    };
    Ok((expression, earliest, latest))
}

/// In a mid-pipeline `search`, `earliest=`/`latest=` filter on `_time`.
fn time_terms_as_filters(
    expression: SearchExpr,
    now: DateTime<Utc>,
) -> Result<SearchExpr, SplError> {
    if let Some((field, value)) = is_time_term(&expression) {
        let seconds = parse_time_term(field, value, now)?;
        let op = if field.eq_ignore_ascii_case("earliest") {
            CompareOp::GreaterOrEqual
        } else {
            CompareOp::Less
        };
        return Ok(SearchExpr::Compare {
            field: "_time".to_string(),
            op,
            value: seconds.to_string(),
        });
    }
    let convert_all = |parts: Vec<SearchExpr>| -> Result<Vec<SearchExpr>, SplError> {
        parts
            .into_iter()
            .map(|part| time_terms_as_filters(part, now))
            .collect()
    };
    Ok(match expression {
        SearchExpr::And(parts) => SearchExpr::And(convert_all(parts)?),
        SearchExpr::Or(parts) => SearchExpr::Or(convert_all(parts)?),
        SearchExpr::Not(inner) => SearchExpr::Not(Box::new(time_terms_as_filters(*inner, now)?)),
        other => other,
    })
}

/// Runs every `[subsearch]` and splices in `(f1="v1" f2="v2") OR (...)` built from its results.
fn expand_subsearches(
    context: &SearchContext,
    expression: SearchExpr,
) -> Result<SearchExpr, SplError> {
    let expand_all = |parts: Vec<SearchExpr>| -> Result<Vec<SearchExpr>, SplError> {
        parts
            .into_iter()
            .map(|part| expand_subsearches(context, part))
            .collect()
    };
    Ok(match expression {
        SearchExpr::Subsearch(text) => run_subsearch(context, &text)?,
        SearchExpr::And(parts) => SearchExpr::And(expand_all(parts)?),
        SearchExpr::Or(parts) => SearchExpr::Or(expand_all(parts)?),
        SearchExpr::Not(inner) => SearchExpr::Not(Box::new(expand_subsearches(context, *inner)?)),
        other => other,
    })
}

fn run_subsearch(context: &SearchContext, text: &str) -> Result<SearchExpr, SplError> {
    if context.depth >= SUBSEARCH_MAX_DEPTH {
        return Err(SplError::Syntax(
            "Error in 'SearchParser': Subsearches are nested too deeply.".to_string(),
        ));
    }
    let child = SearchContext {
        depth: context.depth + 1,
        ..context.clone()
    };
    let output = execute(&child, parse_pipeline(text)?)?;
    let mut alternatives = Vec::new();
    for result in output.rows.take(SUBSEARCH_MAX_RESULTS) {
        let mut conditions = Vec::new();
        for (field, value) in result {
            if field.starts_with('_') {
                continue;
            }
            // A field named `search` or `query` is spliced in as search text, as Splunk's `format` does.
            if field == "search" || field == "query" {
                for text in values(&value) {
                    conditions.push(parse_search_expression(text)?);
                }
                continue;
            }
            let equal = |value: &String| SearchExpr::Compare {
                field: field.clone(),
                op: CompareOp::Equal,
                value: value.clone(),
            };
            conditions.push(match &value {
                Value::Single(value) => equal(value),
                Value::Multi(items) => SearchExpr::Or(items.iter().map(equal).collect()),
            });
        }
        alternatives.push(SearchExpr::And(conditions));
    }
    // No results become an expression matching nothing, like Splunk's `NOT ()`.
    Ok(SearchExpr::Or(alternatives))
}

/// Events of several indexes merged newest first, the order Splunk returns them in.
struct NewestFirst {
    sources: Vec<Peekable<Box<dyn Iterator<Item = Event> + Send>>>,
}

impl Iterator for NewestFirst {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let mut newest: Option<(usize, (i64, u16))> = None;
        for (position, source) in self.sources.iter_mut().enumerate() {
            if let Some(event) = source.peek() {
                let key = (event.time, event.time_ms);
                if newest.is_none_or(|(_, best)| key > best) {
                    newest = Some((position, key));
                }
            }
        }
        newest.and_then(|(position, _)| self.sources[position].next())
    }
}

fn base_search(context: &SearchContext, expression: SearchExpr) -> Result<Rows, SplError> {
    let expression = expand_subsearches(context, expression)?;
    let (expression, earliest, latest) = extract_time_terms(expression, context.now)?;
    let earliest = earliest.or(context.earliest);
    let latest = latest.or(context.latest);
    let mut named = Vec::new();
    named_indexes(&expression, &mut named);
    let mut sources: Vec<Box<dyn Iterator<Item = Event> + Send>> = visible_indexes(context, &named)
        .iter()
        .map(|index| context.dataset.scan_shared(index, earliest, latest))
        .collect();
    let events: Box<dyn Iterator<Item = Event> + Send> = if sources.len() == 1 {
        sources.remove(0)
    } else {
        Box::new(NewestFirst {
            sources: sources.into_iter().map(Iterator::peekable).collect(),
        })
    };
    // Splunk samples the events the main search retrieves, before any command sees them.
    let ratio = if context.depth == 0 {
        context.sample_ratio.max(1)
    } else {
        1
    };
    let rows = events
        .enumerate()
        .filter(move |(serial, _)| (*serial as u64).is_multiple_of(ratio))
        .map(|(serial, event)| event_to_row(event, serial as u64));
    // `search index=bench` is answered entirely by choosing what to scan; skipping the per-row
    // check keeps a large export at the speed of event generation.
    Ok(if only_index_terms(&expression) {
        Box::new(rows)
    } else {
        Box::new(rows.filter(move |row| matches(&expression, row)))
    })
}

/// True for a conjunction or disjunction of nothing but `index=` terms (or nothing at all).
fn only_index_terms(expression: &SearchExpr) -> bool {
    match expression {
        // Two `index=` terms in one conjunction contradict each other; let the filter decide.
        SearchExpr::And(parts) => parts.len() <= 1 && parts.iter().all(only_index_terms),
        // A disjunction mixing in other terms widens what matches beyond the scanned indexes.
        SearchExpr::Or(parts) => !parts.is_empty() && parts.iter().all(only_index_terms),
        SearchExpr::Compare {
            field,
            op: CompareOp::Equal,
            ..
        } => field.eq_ignore_ascii_case("index"),
        _ => false,
    }
}

/// `inputlookup`: the rows of a lookup table file, found by its name or its definition's, from
/// `start` on, at most `max` of them, those matching `WHERE`. Missing tables fail the search
/// with Splunk's words for each way of naming one.
fn input_lookup(context: &SearchContext, lookup: InputLookup) -> Result<Rows, SplError> {
    let Some(table) = context.dataset.knowledge().lookup(&lookup.table) else {
        let reason = if lookup.table.to_ascii_lowercase().ends_with(".csv") {
            "does not exist or is not available"
        } else {
            "requires a .csv or KV store lookup definition"
        };
        return Err(SplError::Syntax(format!(
            "Error in 'inputlookup' command: The lookup table '{}' {reason}.",
            lookup.table
        )));
    };
    let filter = lookup
        .filter
        .map(|filter| expand_subsearches(context, filter))
        .transpose()?;
    let rows: Vec<Row> = table
        .records()
        .into_iter()
        .skip(lookup.start)
        .take(lookup.max.unwrap_or(usize::MAX))
        .map(|record| {
            record
                .into_iter()
                .map(|(field, value)| (field.to_string(), Value::Single(value.to_string())))
                .collect::<Row>()
        })
        .filter(|row| filter.as_ref().is_none_or(|filter| matches(filter, row)))
        .collect();
    Ok(Box::new(rows.into_iter()))
}

fn make_results(context: &SearchContext, count: u64) -> Rows {
    let now = context.now.timestamp().to_string();
    Box::new((0..count).map(move |_| vec![("_time".to_string(), Value::Single(now.clone()))]))
}

/// `eventcount`: index sizes, regardless of the time range (Splunk reads them from the index).
fn event_count(context: &SearchContext, named: &[String], summarize: bool) -> Rows {
    let counts: Vec<(String, u64)> = visible_indexes(context, named)
        .into_iter()
        .filter_map(|index| {
            let summary = context.dataset.index_summary(&index)?;
            Some((index, summary.total_event_count))
        })
        .collect();
    let single = |text: String| Value::Single(text);
    let rows: Vec<Row> = if summarize {
        let total: u64 = counts.iter().map(|(_, count)| count).sum();
        vec![vec![("count".to_string(), single(total.to_string()))]]
    } else {
        counts
            .into_iter()
            .map(|(index, count)| {
                vec![
                    ("count".to_string(), single(count.to_string())),
                    ("index".to_string(), single(index)),
                    (
                        "server".to_string(),
                        single(super::row::SERVER_NAME.to_string()),
                    ),
                ]
            })
            .collect()
    };
    Box::new(rows.into_iter())
}

fn metadata(context: &SearchContext, kind: MetadataKind, named: &[String]) -> Rows {
    let indexes = visible_indexes(context, named);
    let context = context.clone();
    deferred(move || {
        let (type_name, field) = kind.names();
        // name → (first time, last time, count)
        let mut seen: HashMap<Arc<str>, (i64, i64, u64)> = HashMap::new();
        for index in &indexes {
            for event in context
                .dataset
                .scan_indexed(index, context.earliest, context.latest)
            {
                let name = match kind {
                    MetadataKind::Hosts => event.host,
                    MetadataKind::Sources => event.source,
                    MetadataKind::Sourcetypes => event.sourcetype,
                };
                let entry = seen.entry(name).or_insert((event.time, event.time, 0));
                entry.0 = entry.0.min(event.time);
                entry.1 = entry.1.max(event.time);
                entry.2 += 1;
            }
        }
        let mut names: Vec<(Arc<str>, (i64, i64, u64))> = seen.into_iter().collect();
        names.sort_by(|a, b| a.0.cmp(&b.0));
        names
            .into_iter()
            .map(|(name, (first, last, count))| {
                let text = |value: String| Value::Single(value);
                vec![
                    ("firstTime".to_string(), text(first.to_string())),
                    (field.to_string(), text(name.to_string())),
                    ("lastTime".to_string(), text(last.to_string())),
                    // Indexing lags a little behind the event time.
                    ("recentTime".to_string(), text((last + 1).to_string())),
                    ("totalCount".to_string(), text(count.to_string())),
                    ("type".to_string(), text(type_name.to_string())),
                ]
            })
            .collect()
    })
}

fn tstats(
    context: &SearchContext,
    aggregations: Vec<Aggregation>,
    filter: SearchExpr,
    by: Vec<String>,
) -> Result<Rows, SplError> {
    let (filter, earliest, latest) = extract_time_terms(filter, context.now)?;
    let earliest = earliest.or(context.earliest);
    let latest = latest.or(context.latest);
    let mut named = Vec::new();
    named_indexes(&filter, &mut named);
    let indexes = visible_indexes(context, &named);
    let dataset = Arc::clone(&context.dataset);
    Ok(deferred(move || {
        // Only indexed fields exist for tstats; anything else simply never matches.
        let rows = indexes
            .iter()
            .flat_map(|index| dataset.scan_indexed(index, earliest, latest))
            .map(|event| {
                vec![
                    ("_time".to_string(), Value::Single(event.time.to_string())),
                    ("host".to_string(), Value::Single(event.host.to_string())),
                    ("index".to_string(), Value::Single(event.index.to_string())),
                    (
                        "source".to_string(),
                        Value::Single(event.source.to_string()),
                    ),
                    (
                        "sourcetype".to_string(),
                        Value::Single(event.sourcetype.to_string()),
                    ),
                ]
            })
            .filter(|row| matches(&filter, row));
        stats::stats(rows, &aggregations, &by)
    }))
}
