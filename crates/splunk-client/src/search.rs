//! Running SPL: oneshot searches, search jobs (create, status, wait, results, cancel, delete)
//! and streamed exports.

use std::fmt;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::{Deserialize, Deserializer};

use crate::client::Client;
use crate::endpoint::Endpoint;
use crate::error::{Error, Message, Result};
use crate::export::{ExportDecoder, Row};
use crate::time::TimeRange;
use crate::transport::{ApiRequest, Params};
use crate::wire;

/// Options shared by every way of running a search.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SearchParams {
    /// Time window (`earliest_time`, `latest_time`).
    pub time_range: TimeRange,
    /// `max_count`: most events a job keeps.
    pub max_count: Option<u64>,
    /// `max_time`: most seconds a search may run before it is finalized.
    pub max_time: Option<u64>,
    /// For oneshot: rows to return (`count`; `Some(0)` = all, Splunk's default is 100).
    pub count: Option<u64>,
    /// For oneshot: first row to return (`offset`).
    pub offset: Option<u64>,
    /// For oneshot: only these fields (`f`, repeated).
    pub fields: Vec<String>,
    /// `adhoc_search_level`: fast, smart (Splunk's default) or verbose.
    pub mode: Option<SearchMode>,
    /// `sample_ratio`: keep one event in this many (event sampling; 1 or none: all).
    pub sample_ratio: Option<u64>,
}

/// A search as Splunk's parser reads it ([`Client::parse_search`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ParsedSearch {
    /// The commands of the main pipeline, in order.
    #[serde(default)]
    pub commands: Vec<ParsedCommand>,
}

/// One command of a [`ParsedSearch`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ParsedCommand {
    /// The command's name, e.g. `search` or `stats`.
    pub command: String,
    /// Its arguments as written.
    #[serde(default)]
    pub rawargs: String,
}

/// How much a search extracts (`adhoc_search_level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchMode {
    /// Only the fields the search needs: quickest.
    Fast,
    /// Fields as needed by the search, all of them for event searches (Splunk's default).
    Smart,
    /// Every field of every event.
    Verbose,
}

impl SearchMode {
    /// The value Splunk takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Smart => "smart",
            Self::Verbose => "verbose",
        }
    }
}

impl SearchParams {
    /// Parameters with a time range and nothing else.
    pub fn with_time_range(time_range: TimeRange) -> Self {
        Self {
            time_range,
            ..Self::default()
        }
    }

    fn form(&self, query: &str) -> Result<Params> {
        let mut form = Params::new();
        form.push("search", normalize_query(query)?);
        form.push_opt(
            "earliest_time",
            self.time_range.earliest.as_ref().map(|t| t.to_param()),
        )
        .push_opt(
            "latest_time",
            self.time_range.latest.as_ref().map(|t| t.to_param()),
        )
        .push_opt("max_count", self.max_count.map(|n| n.to_string()))
        .push_opt("max_time", self.max_time.map(|n| n.to_string()))
        .push_opt(
            "adhoc_search_level",
            self.mode.map(|m| m.as_str().to_owned()),
        )
        .push_opt("sample_ratio", self.sample_ratio.map(|n| n.to_string()));
        Ok(form)
    }
}

/// Splunk's REST API runs a query only if it starts with a generating command (`search ...`
/// or `| ...`); like Splunk Web, a bare query gets `search ` put in front.
pub(crate) fn normalize_query(query: &str) -> Result<String> {
    let query = query.trim();
    if query.is_empty() {
        return Err(Error::invalid("search", "the query is empty"));
    }
    let starts_with_search = query
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("search"))
        && query[6..].chars().next().is_none_or(char::is_whitespace);
    if query.starts_with('|') || starts_with_search {
        Ok(query.to_owned())
    } else {
        Ok(format!("search {query}"))
    }
}

/// A search job id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sid(String);

impl Sid {
    /// Wraps a job id received elsewhere (e.g. from a saved search dispatch).
    pub fn new(sid: impl Into<String>) -> Self {
        Self(sid.into())
    }

    /// A new id for a job this client names itself (the `id` of a create): unique, and valid
    /// as the name of Splunk's dispatch directory.
    pub fn generate() -> Self {
        Self(format!("mcp_{:032x}", rand::random::<u128>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a job created by [`Client::create_job_within`] stands when the call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CreatedJob {
    /// Splunk answered the blocking create: the job has ended (done, or failed).
    Ended(Sid),
    /// The wait passed first: the job runs on, to be polled.
    Running(Sid),
}

impl CreatedJob {
    /// The job's id.
    pub fn sid(&self) -> &Sid {
        match self {
            Self::Ended(sid) | Self::Running(sid) => sid,
        }
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
pub(crate) struct SidAnswer {
    sid: String,
}

impl SidAnswer {
    pub(crate) fn into_sid(self) -> Result<Sid> {
        if self.sid.is_empty() {
            return Err(Error::decode("Splunk returned an empty sid"));
        }
        Ok(Sid(self.sid))
    }
}

/// Rows of a oneshot search or of one page of a job's results or events.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SearchResults {
    /// Whether these are preview (partial) results.
    #[serde(default, deserialize_with = "wire::flex_bool")]
    pub preview: bool,
    /// Offset of the first row.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub init_offset: u64,
    /// Field names in Splunk's order.
    #[serde(default, deserialize_with = "field_names")]
    pub fields: Vec<String>,
    /// The rows.
    #[serde(default)]
    pub results: Vec<Row>,
    /// Messages about the search (e.g. warnings).
    #[serde(default, deserialize_with = "lenient_messages")]
    pub messages: Vec<Message>,
}

impl SearchResults {
    fn from_body(body: &[u8]) -> Result<Self> {
        // Splunk answers a results request with an empty body when there is nothing to return.
        if body.trim_ascii().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_slice(body)
            .map_err(|e| Error::decode(format!("search results do not match: {e}")))
    }
}

/// `fields` is `[{"name":"x"}]` in `output_mode=json` and `["x"]` in older modes.
fn field_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field {
        Named { name: String },
        Bare(String),
    }
    Ok(Option::<Vec<Field>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|f| match f {
            Field::Named { name } | Field::Bare(name) => name,
        })
        .collect())
}

/// A list of `{type,text}`; any other shape (Splunk has used objects keyed by type) is read as
/// best it can be rather than failing the whole answer.
fn lenient_messages<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Message>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?.unwrap_or_default();
    Ok(match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        serde_json::Value::Object(by_type) => by_type
            .into_iter()
            .flat_map(|(kind, texts)| {
                let texts = match texts {
                    serde_json::Value::Array(items) => items,
                    other => vec![other],
                };
                texts.into_iter().map(move |text| {
                    Message::new(
                        kind.clone().into(),
                        text.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| text.to_string()),
                    )
                })
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// A job's `dispatchState`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
#[non_exhaustive]
pub enum DispatchState {
    /// Waiting to run.
    Queued,
    /// Parsing the query.
    Parsing,
    /// Running.
    Running,
    /// Finishing up.
    Finalizing,
    /// Finished.
    Done,
    /// Failed; see the job's messages.
    Failed,
    /// Paused.
    Paused,
    /// A state this crate does not know.
    Other(String),
}

impl From<String> for DispatchState {
    fn from(state: String) -> Self {
        match state.to_ascii_uppercase().as_str() {
            "QUEUED" => Self::Queued,
            "PARSING" => Self::Parsing,
            "RUNNING" => Self::Running,
            "FINALIZING" => Self::Finalizing,
            "DONE" => Self::Done,
            "FAILED" => Self::Failed,
            "PAUSE" | "PAUSED" => Self::Paused,
            _ => Self::Other(state),
        }
    }
}

impl Default for DispatchState {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

/// A job's status (`GET search/jobs/{sid}`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct JobStatus {
    /// The job id.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub sid: String,
    /// The search string.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub search: String,
    /// `dispatchState`.
    #[serde(default, rename = "dispatchState")]
    pub dispatch_state: DispatchState,
    /// `doneProgress`, 0 to 1.
    #[serde(default, rename = "doneProgress", deserialize_with = "wire::flex_f64")]
    pub done_progress: f64,
    /// `isDone`.
    #[serde(default, rename = "isDone", deserialize_with = "wire::flex_bool")]
    pub is_done: bool,
    /// `isFailed`.
    #[serde(default, rename = "isFailed", deserialize_with = "wire::flex_bool")]
    pub is_failed: bool,
    /// `isFinalized`.
    #[serde(default, rename = "isFinalized", deserialize_with = "wire::flex_bool")]
    pub is_finalized: bool,
    /// `isPaused`.
    #[serde(default, rename = "isPaused", deserialize_with = "wire::flex_bool")]
    pub is_paused: bool,
    /// `eventCount`.
    #[serde(default, rename = "eventCount", deserialize_with = "wire::flex_u64")]
    pub event_count: u64,
    /// `resultCount`.
    #[serde(default, rename = "resultCount", deserialize_with = "wire::flex_u64")]
    pub result_count: u64,
    /// `scanCount`.
    #[serde(default, rename = "scanCount", deserialize_with = "wire::flex_u64")]
    pub scan_count: u64,
    /// `runDuration` in seconds.
    #[serde(default, rename = "runDuration", deserialize_with = "wire::flex_f64")]
    pub run_duration: f64,
    /// Seconds the job is kept after it finishes.
    #[serde(default, deserialize_with = "wire::flex_u64")]
    pub ttl: u64,
    /// `earliestTime`.
    #[serde(
        default,
        rename = "earliestTime",
        deserialize_with = "wire::flex_string"
    )]
    pub earliest_time: String,
    /// Messages, including the reason of a failure.
    #[serde(default, deserialize_with = "lenient_messages")]
    pub messages: Vec<Message>,
}

impl JobStatus {
    /// Whether the job has ended: done, or failed ([`JobStatus::checked`] tells which).
    pub fn has_ended(&self) -> bool {
        self.is_done
            || self.is_failed
            || matches!(
                self.dispatch_state,
                DispatchState::Done | DispatchState::Failed
            )
    }

    /// The status, or [`Error::SearchFailed`] with its messages when the job failed.
    pub fn checked(self) -> Result<Self> {
        if self.is_failed || self.dispatch_state == DispatchState::Failed {
            Err(self.failure())
        } else {
            Ok(self)
        }
    }

    /// How long to wait before asking again: until the job should be done, judging by its
    /// progress so far (`runDuration` over `doneProgress`), within the bounds of `options`; or
    /// `grown` while the job reports no progress yet.
    fn next_poll(&self, grown: Duration, options: &WaitOptions) -> Duration {
        let done = self.done_progress;
        if done > 0.0 && done < 1.0 && self.run_duration > 0.0 {
            let remaining = self.run_duration * (1.0 - done) / done;
            // Not `clamp`, which panics when the bounds (public fields) are the wrong way round.
            Duration::try_from_secs_f64(remaining)
                .unwrap_or(options.max_interval)
                .max(options.first_interval)
                .min(options.max_interval)
        } else {
            grown
        }
    }

    /// The error a failed job stands for.
    fn failure(&self) -> Error {
        let mut messages: Vec<Message> = self
            .messages
            .iter()
            .filter(|m| m.kind.is_error())
            .cloned()
            .collect();
        if messages.is_empty() {
            messages = self.messages.clone();
        }
        Error::SearchFailed { messages }
    }
}

/// How [`Client::wait_job`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up (with [`Error::Timeout`]) after this long; the job keeps running.
    pub deadline: Duration,
    /// First pause between two status requests.
    pub first_interval: Duration,
    /// Longest pause between two status requests (the pause grows by half each time).
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(300),
            first_interval: Duration::from_millis(50),
            max_interval: Duration::from_secs(2),
        }
    }
}

impl WaitOptions {
    /// Default polling with the given deadline.
    pub fn with_deadline(deadline: Duration) -> Self {
        Self {
            deadline,
            ..Self::default()
        }
    }
}

/// Default page size when streaming a job's results.
pub const DEFAULT_PAGE_SIZE: u64 = 1000;

/// The create of a job Splunk answers once it has ended (`exec_mode=blocking`).
fn blocking_create(mut form: Params) -> ApiRequest {
    form.push("exec_mode", "blocking");
    ApiRequest::post(Endpoint::services("search/jobs"), form).operation("search.create_blocking")
}

fn job_endpoint(sid: &Sid) -> Result<Endpoint> {
    Endpoint::services("search/jobs").segment(sid.as_str())
}

impl Client {
    /// Runs a search to completion and returns its rows in the answer (`exec_mode=oneshot`).
    /// Meant for small results: use [`Client::export`] for large ones.
    pub async fn oneshot(&self, query: &str, params: &SearchParams) -> Result<SearchResults> {
        let mut form = params.form(query)?;
        form.push("exec_mode", "oneshot")
            .push_opt("count", params.count.map(|n| n.to_string()))
            .push_opt("offset", params.offset.map(|n| n.to_string()));
        for field in &params.fields {
            form.push("f", field.clone());
        }
        let body = self
            .body(
                &ApiRequest::post(Endpoint::services("search/jobs"), form)
                    .operation("search.oneshot"),
            )
            .await?;
        SearchResults::from_body(&body)
    }

    /// Creates a search job (`exec_mode=normal`) and returns its id at once.
    pub async fn create_job(&self, query: &str, params: &SearchParams) -> Result<Sid> {
        let form = params.form(query)?;
        let answer: SidAnswer = self
            .json(&ApiRequest::post(Endpoint::services("search/jobs"), form))
            .await?;
        answer.into_sid()
    }

    /// Creates a search job with `exec_mode=blocking`: Splunk answers once it is done.
    pub async fn create_blocking_job(&self, query: &str, params: &SearchParams) -> Result<Sid> {
        let answer: SidAnswer = self.json(&blocking_create(params.form(query)?)).await?;
        answer.into_sid()
    }

    /// What Splunk's parser makes of `query`, without running it (`search/parser`,
    /// `parse_only=t`): its commands. SPL that does not parse is [`Error::BadRequest`] with the
    /// parser's message.
    pub async fn parse_search(&self, query: &str) -> Result<ParsedSearch> {
        let mut params = Params::new();
        params
            .push("q", normalize_query(query)?)
            .push("parse_only", "t");
        self.json(&ApiRequest::get(Endpoint::services("search/parser")).with_query(params))
            .await
    }

    /// A job's status.
    pub async fn job_status(&self, sid: &Sid) -> Result<JobStatus> {
        let entry = self
            .single_entry(&ApiRequest::get(job_endpoint(sid)?))
            .await?;
        let mut status: JobStatus = entry.content_as()?;
        if status.sid.is_empty() {
            status.sid = sid.to_string();
        }
        Ok(status)
    }

    /// Polls a job until it is done, with growing pauses, up to `options.deadline`.
    /// A failed job is [`Error::SearchFailed`] with its messages.
    pub async fn wait_job(&self, sid: &Sid, options: WaitOptions) -> Result<JobStatus> {
        self.wait_job_watching(sid, options, |_| {}).await
    }

    /// [`Client::wait_job`], handing `watch` every status read on the way (for progress).
    pub async fn wait_job_watching(
        &self,
        sid: &Sid,
        options: WaitOptions,
        mut watch: impl FnMut(&JobStatus),
    ) -> Result<JobStatus> {
        let deadline = tokio::time::Instant::now() + options.deadline;
        let mut grown = options.first_interval;
        loop {
            let status = self.job_status(sid).await?;
            watch(&status);
            if status.has_ended() {
                return status.checked();
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: "job wait",
                    endpoint: self.transport().endpoint(),
                    after: options.deadline,
                });
            }
            let pause = status.next_poll(grown, &options);
            tokio::time::sleep(pause.min(deadline - now)).await;
            grown = (grown + grown / 2).min(options.max_interval);
        }
    }

    /// Creates a job named `sid` ([`Sid::generate`]) that Splunk answers once it has ended
    /// (`exec_mode=blocking`), waiting at most `wait` for that answer: a short search ends with
    /// one request, where polling would see it done up to one pause late. Past `wait` the job
    /// runs on as any other ([`CreatedJob::Running`]); if the create had not reached Splunk by
    /// then, it is sent again as a normal job of the same name.
    pub async fn create_job_within(
        &self,
        query: &str,
        params: &SearchParams,
        sid: &Sid,
        wait: Duration,
    ) -> Result<CreatedJob> {
        let mut form = params.form(query)?;
        form.push("id", sid.as_str());
        let create = blocking_create(form.clone());
        if let Ok(answer) = tokio::time::timeout(wait, self.json::<SidAnswer>(&create)).await {
            return Ok(CreatedJob::Ended(answer?.into_sid()?));
        }
        match self.job_status(sid).await {
            Ok(_) => return Ok(CreatedJob::Running(sid.clone())),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let create = ApiRequest::post(Endpoint::services("search/jobs"), form);
        match self.json::<SidAnswer>(&create).await {
            // 409: the blocking create got there meanwhile.
            Ok(_) | Err(Error::Conflict { .. }) => Ok(CreatedJob::Running(sid.clone())),
            Err(e) => Err(e),
        }
    }

    /// One page of a finished job's results.
    pub async fn job_results_page(
        &self,
        sid: &Sid,
        offset: u64,
        count: u64,
    ) -> Result<SearchResults> {
        self.job_page(sid, "results", offset, count).await
    }

    /// One page of a job's events.
    pub async fn job_events_page(
        &self,
        sid: &Sid,
        offset: u64,
        count: u64,
    ) -> Result<SearchResults> {
        self.job_page(sid, "events", offset, count).await
    }

    async fn job_page(
        &self,
        sid: &Sid,
        kind: &str,
        offset: u64,
        count: u64,
    ) -> Result<SearchResults> {
        let mut query = Params::new();
        query
            .push("offset", offset.to_string())
            .push("count", count.to_string());
        let request = ApiRequest::get(job_endpoint(sid)?.fixed(kind)).with_query(query);
        SearchResults::from_body(&self.body(&request).await?)
    }

    /// All results of a finished job as a stream, fetched `page_size` rows at a time
    /// ([`DEFAULT_PAGE_SIZE`] when 0).
    pub fn job_results(&self, sid: &Sid, page_size: u64) -> BoxStream<'static, Result<Row>> {
        self.paged(sid.clone(), "results", page_size)
    }

    /// All events of a job as a stream, fetched `page_size` at a time.
    pub fn job_events(&self, sid: &Sid, page_size: u64) -> BoxStream<'static, Result<Row>> {
        self.paged(sid.clone(), "events", page_size)
    }

    fn paged(
        &self,
        sid: Sid,
        kind: &'static str,
        page_size: u64,
    ) -> BoxStream<'static, Result<Row>> {
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        let client = self.clone();
        stream::try_unfold(Some(0u64), move |next| {
            let (client, sid) = (client.clone(), sid.clone());
            async move {
                let Some(offset) = next else {
                    return Ok(None);
                };
                let page = client.job_page(&sid, kind, offset, page_size).await?;
                let got = page.results.len() as u64;
                let next = (got == page_size).then_some(offset + got);
                Ok(Some((stream::iter(page.results.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
        .boxed()
    }

    /// Cancels a job. A job that no longer exists (404) counts as cancelled.
    pub async fn cancel_job(&self, sid: &Sid) -> Result<()> {
        self.control_job(sid, "cancel").await
    }

    /// Stops a job early, keeping the results it has (`finalize`).
    pub async fn finalize_job(&self, sid: &Sid) -> Result<()> {
        self.control_job(sid, "finalize").await
    }

    async fn control_job(&self, sid: &Sid, action: &str) -> Result<()> {
        let mut form = Params::new();
        form.push("action", action);
        // Repeating a control action leaves the job in the same state.
        let request = ApiRequest::post(job_endpoint(sid)?.fixed("control"), form).idempotent();
        match self.body(&request).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Deletes a job and its results. A job that no longer exists (404) counts as deleted.
    pub async fn delete_job(&self, sid: &Sid) -> Result<()> {
        match self.body(&ApiRequest::delete(job_endpoint(sid)?)).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Runs a search with `search/jobs/export` and streams its final rows as they arrive,
    /// parsed incrementally: memory stays constant whatever the number of rows. Errors in the
    /// query are returned before the stream starts; errors Splunk reports part way end the
    /// stream with [`Error::SearchFailed`].
    pub async fn export(
        &self,
        query: &str,
        params: &SearchParams,
    ) -> Result<BoxStream<'static, Result<Row>>> {
        let form = params.form(query)?;
        let request = ApiRequest::post(Endpoint::services("search/jobs/export"), form).streaming();
        let answer = self.send(&request).await?;
        let body = answer.bytes_stream().boxed();
        let timeouts = self.transport().config().timeouts();
        let rows = stream::try_unfold(
            (body, ExportDecoder::new(), false),
            move |(mut body, mut decoder, mut ended)| async move {
                loop {
                    if let Some(row) = decoder.next_row()? {
                        return Ok(Some((row, (body, decoder, ended))));
                    }
                    if ended {
                        return Ok(None);
                    }
                    match body.next().await {
                        Some(chunk) => {
                            decoder.push(&chunk.map_err(|e| Error::from_reqwest(e, timeouts))?);
                        }
                        None => {
                            ended = true;
                            if let Some(row) = decoder.finish()? {
                                return Ok(Some((row, (body, decoder, ended))));
                            }
                        }
                    }
                }
            },
        );
        Ok(rows.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_timed_from_the_jobs_progress() {
        let status = |done: f64, run: f64| -> JobStatus {
            serde_json::from_value(serde_json::json!({"doneProgress": done, "runDuration": run}))
                .unwrap()
        };
        let options = WaitOptions::default();
        let grown = Duration::from_millis(75);
        // A quarter done after 0.3 s: 0.9 s to go.
        assert_eq!(
            status(0.25, 0.3).next_poll(grown, &options),
            Duration::from_millis(900)
        );
        // Nearly done: ask again soon, but not sooner than the first pause.
        assert_eq!(
            status(0.99, 0.5).next_poll(grown, &options),
            options.first_interval
        );
        // Far from done: no longer than the longest pause.
        assert_eq!(
            status(0.01, 10.0).next_poll(grown, &options),
            options.max_interval
        );
        // No progress yet (queued), or none reported: the growing pause.
        assert_eq!(status(0.0, 0.0).next_poll(grown, &options), grown);
        assert_eq!(status(0.5, 0.0).next_poll(grown, &options), grown);
    }

    #[test]
    fn queries_get_a_generating_command() {
        let cases = [
            ("index=web", "search index=web"),
            ("  search index=web ", "search index=web"),
            ("SEARCH index=web", "SEARCH index=web"),
            ("| makeresults count=3", "| makeresults count=3"),
            ("searchterm", "search searchterm"),
            ("search", "search"),
            ("é", "search é"),
        ];
        for (query, sent) in cases {
            assert_eq!(normalize_query(query).unwrap(), sent);
        }
        assert!(normalize_query("  ").is_err());
    }

    #[test]
    fn search_form_carries_the_time_range() {
        let params = SearchParams {
            time_range: TimeRange::parse("-24h@h", "now").unwrap(),
            max_count: Some(10),
            ..SearchParams::default()
        };
        assert_eq!(
            params.form("index=web").unwrap().encode(),
            "search=search+index%3Dweb&earliest_time=-24h%40h&latest_time=now&max_count=10"
        );
        let sampled = SearchParams {
            mode: Some(SearchMode::Fast),
            sample_ratio: Some(10),
            ..SearchParams::default()
        };
        assert_eq!(
            sampled.form("| makeresults").unwrap().encode(),
            "search=%7C+makeresults&adhoc_search_level=fast&sample_ratio=10"
        );
    }

    #[test]
    fn decodes_results_and_job_status() {
        let body = br#"{"preview":false,"init_offset":0,"post_process_count":3,"messages":[],"fields":[{"name":"_time"},{"name":"x","type":"str"}],"results":[{"_time":"t","mv":["a","b"],"x":"2123633747"}],"highlighted":{}}"#;
        let results = SearchResults::from_body(body).unwrap();
        assert_eq!(results.fields, ["_time", "x"]);
        assert_eq!(results.results[0]["x"], "2123633747");
        assert_eq!(
            SearchResults::from_body(b"").unwrap(),
            SearchResults::default()
        );

        let status: JobStatus = serde_json::from_str(
            r#"{"dispatchState":"FAILED","isFailed":true,"isDone":"1","doneProgress":"1.0","resultCount":"7",
                "messages":[{"type":"INFO","text":"i"},{"type":"FATAL","text":"Unknown search command 'x'."}]}"#,
        )
        .unwrap();
        assert_eq!(status.dispatch_state, DispatchState::Failed);
        assert!(status.is_failed && status.is_done);
        assert_eq!(status.result_count, 7);
        match status.failure() {
            Error::SearchFailed { messages } => assert_eq!(messages.len(), 1),
            other => panic!("{other:?}"),
        }
        let keyed: JobStatus = serde_json::from_str(r#"{"messages":{"fatal":["boom"]}}"#).unwrap();
        assert_eq!(keyed.messages[0].text, "boom");
        assert!(keyed.messages[0].kind.is_error());
    }
}
