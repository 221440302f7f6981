//! An SPL subset: parser and evaluator over the emulator's [`crate::data::Dataset`].
//!
//! Text goes through the lexer (`lexer.rs`) into the parser (`parser.rs`), which builds an AST
//! pipeline (`ast.rs`); the executor turns it into a lazy row stream. Streaming commands
//! (`search`, `head`, `eval`...) pull one row at a time from the scan; blocking ones (`sort`,
//! `stats`, `tail`...) gather their input only when their first row is asked for.

mod ast;
mod commands;
mod eval;
mod executor;
mod lexer;
mod matching;
mod parser;
mod row;
#[cfg(test)]
mod tests;
mod time;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::data::Dataset;

pub use time::parse_time;

/// A field value in a result row: Splunk renders every value as a string, multivalue as an array.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single value.
    Single(String),
    /// A multivalue field.
    Multi(Vec<String>),
}

/// One result row: field name → value, in the order fields first appeared.
pub type Row = Vec<(String, Value)>;

/// What the HTTP layer asks the search engine for.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    /// The SPL text as posted (`search ...` or `| command ...`).
    pub spl: &'a str,
    /// `earliest_time` from the form, if any (Splunk time syntax).
    pub earliest: Option<&'a str>,
    /// `latest_time` from the form, if any.
    pub latest: Option<&'a str>,
    /// The instant relative times are resolved against.
    pub now: DateTime<Utc>,
    /// Index patterns the caller's roles may search (`srchIndexesAllowed`, e.g. `*`, `_*`, `main`).
    pub allowed_indexes: &'a [String],
    /// Index patterns searched when the SPL names no index (`srchIndexesDefault`).
    pub default_indexes: &'a [String],
    /// `sample_ratio`: the main search keeps one event in this many (1: all of them).
    pub sample_ratio: u64,
}

/// Kinds of failure, each rendering to the message text Splunk would send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SplError {
    /// A command that does not exist: `Unknown search command 'x'.`
    #[error("Unknown search command '{0}'.")]
    UnknownCommand(String),
    /// Syntax or argument errors, with Splunk-like wording.
    #[error("{0}")]
    Syntax(String),
    /// A time modifier that cannot be parsed.
    #[error("Invalid value \"{0}\" for time term 'earliest'")]
    BadTime(String),
    /// A `latest` time modifier that cannot be parsed.
    #[error("Invalid value \"{0}\" for time term 'latest'")]
    BadLatestTime(String),
}

/// The result of a search: rows produced lazily, so an export of a million rows streams.
pub struct SearchOutput {
    /// The rows, in Splunk's order (events newest first unless a command reorders them).
    pub rows: Box<dyn Iterator<Item = Row> + Send>,
    /// True when a transforming command shaped the output (`stats`, `top`, `rare`, `timechart`,
    /// `table`, `tstats`, `metadata`, `eventcount`, `inputlookup`; Splunk counts `table` among
    /// them, not `makeresults`): jobs then report results, not events.
    pub transforming: bool,
}

/// Parses `text` as `search/parser` does, without running it: the commands of its main
/// pipeline (name, raw arguments), or the error Splunk's parser would give.
pub(crate) fn parse_commands(text: &str) -> Result<Vec<(String, String)>, SplError> {
    parser::parse_pipeline(text)?;
    let text = text.trim();
    let mut segments = lexer::split_pipeline(text)?;
    if text.starts_with('|') {
        segments.remove(0);
    }
    Ok(segments
        .into_iter()
        .enumerate()
        .map(|(position, segment)| {
            let segment = segment.trim();
            let (name, arguments) = segment
                .split_once(char::is_whitespace)
                .unwrap_or((segment, ""));
            let name = name.to_ascii_lowercase();
            if position == 0 && !text.starts_with('|') && name != "search" {
                ("search".to_owned(), segment.to_owned())
            } else {
                (name, arguments.trim().to_owned())
            }
        })
        .collect())
}

/// Parses and plans a search, returning its rows as a lazy stream.
///
/// Syntax errors, unknown commands, bad time modifiers and failing subsearches are reported here,
/// before any row is produced, so the HTTP layer can answer 400 without creating a job. Streaming
/// pipelines (`search index=bench | eval ... | head ...`) run in constant memory; blocking
/// commands gather their input on the first call to `next`.
pub fn run(dataset: Arc<Dataset>, request: &SearchRequest<'_>) -> Result<SearchOutput, SplError> {
    let pipeline = parser::parse_pipeline(request.spl)?;
    let resolve = |text: Option<&str>| -> Result<Option<i64>, SplError> {
        match text.map(str::trim).filter(|text| !text.is_empty()) {
            Some(text) => parse_time(text, request.now).map(|instant| Some(instant.timestamp())),
            None => Ok(None),
        }
    };
    let earliest = resolve(request.earliest)?;
    let latest = resolve(request.latest).map_err(|error| match error {
        SplError::BadTime(text) => SplError::BadLatestTime(text),
        other => other,
    })?;
    let context = executor::SearchContext {
        dataset,
        now: request.now,
        earliest,
        latest,
        allowed_indexes: request.allowed_indexes.to_vec(),
        default_indexes: request.default_indexes.to_vec(),
        depth: 0,
        sample_ratio: request.sample_ratio.max(1),
    };
    executor::execute(&context, pipeline)
}
