//! Asynchronous search tools: start a job, poll it, page through its results, cancel it.
//!
//! With a service credential every caller's job belongs to the same Splunk user, so Splunk
//! would let anyone who learns a sid read its results. The server therefore remembers who
//! started each job and answers for a sid only to that caller.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{ErrorData, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use splunk_client::{Row, SearchParams, Sid};

use super::{Call, SplunkTools, answer, cut_to_bytes, push_rows_and_notes};
use crate::error::ToolError;

/// How many job owners are remembered; the oldest are forgotten first. Splunk keeps a job for
/// ten minutes by default, far less than it takes to start this many.
const MAX_REMEMBERED_JOBS: usize = 10_000;

/// Who started which job, or which task (subject, `None` for an unauthenticated transport).
#[derive(Debug, Default)]
pub(super) struct Owners {
    inner: Mutex<OwnerList>,
}

#[derive(Debug, Default)]
struct OwnerList {
    by_id: HashMap<String, Option<String>>,
    order: VecDeque<String>,
}

impl Owners {
    /// Remembers that `owner` started the job (or task) `id`.
    pub(super) fn remember(&self, id: &str, owner: Option<&str>) {
        let mut owners = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if owners.by_id.len() >= MAX_REMEMBERED_JOBS
            && let Some(oldest) = owners.order.pop_front()
        {
            owners.by_id.remove(&oldest);
        }
        owners.by_id.insert(id.to_owned(), owner.map(str::to_owned));
        owners.order.push_back(id.to_owned());
    }

    /// Whether `caller` may use the job (or task): it started it through this server.
    pub(super) fn owned_by(&self, id: &str, caller: Option<&str>) -> bool {
        let owners = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        owners
            .by_id
            .get(id)
            .is_some_and(|owner| owner.as_deref() == caller)
    }
}

/// Arguments of `splunk_search_start`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchStartArgs {
    /// The SPL query, checked like `splunk_search`'s.
    pub spl: String,
    /// Start of the time range (default `-24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    /// End of the time range (default `now`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
}

/// Arguments naming a search job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SidArgs {
    /// The search job id returned by `splunk_search_start` or `splunk_run_saved_search`.
    pub sid: String,
}

/// Arguments of `splunk_search_results`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SearchResultsArgs {
    /// The search job id.
    pub sid: String,
    /// First row to return (default 0).
    #[serde(default)]
    pub offset: u64,
    /// Rows to return (default 100; the server caps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

#[tool_router(router = job_router, vis = "pub(crate)")]
impl SplunkTools {
    /// Starts a search job without waiting.
    #[tool(
        description = "Start a Splunk search (SPL) in the background and return its job id \
(sid) at once. Use for searches that may take long; then poll splunk_search_status and read \
rows with splunk_search_results. Same rules as splunk_search: default time range -24h..now, \
commands that write or delete data are refused.",
        annotations(
            title = "Start a search job",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn splunk_search_start(
        &self,
        params: Parameters<SearchStartArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_search_start", &args, &extensions);
        let result = self.search_start(&mut call, args).await;
        call.finish(result)
    }

    /// Reports a job's progress.
    #[tool(
        description = "Get the state of a search job started with splunk_search_start: \
dispatch state (QUEUED, RUNNING, DONE, FAILED), progress, event and result counts, run time.",
        annotations(
            title = "Search job status",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_search_status(
        &self,
        params: Parameters<SidArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_search_status", &args, &extensions);
        let result = async {
            let sid = self.owned_sid(&mut call, &args.sid)?;
            let client = self.client(&call).await?;
            let status = client.job_status(&sid).await?;
            let messages: Vec<String> = status.messages.iter().map(|m| m.text.clone()).collect();
            let structured = json!({
                "sid": sid.as_str(),
                "dispatch_state": format!("{:?}", status.dispatch_state).to_uppercase(),
                "is_done": status.is_done,
                "is_failed": status.is_failed,
                "done_progress": status.done_progress,
                "event_count": status.event_count,
                "result_count": status.result_count,
                "run_duration": status.run_duration,
                "messages": messages,
            });
            let text = format!(
                "Job {sid}: {} ({:.0}% done, {} results){}",
                structured["dispatch_state"].as_str().unwrap_or_default(),
                status.done_progress * 100.0,
                status.result_count,
                if messages.is_empty() {
                    String::new()
                } else {
                    format!("; {}", messages.join("; "))
                }
            );
            Ok(answer(text, structured))
        }
        .await;
        call.finish(result)
    }

    /// Reads a page of a job's results.
    #[tool(
        description = "Read rows of a finished search job (sid from splunk_search_start), \
count rows from offset (default 0 and 100). The answer says when more rows remain and which \
offset to ask for next.",
        annotations(
            title = "Search job results",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_search_results(
        &self,
        params: Parameters<SearchResultsArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_search_results", &args, &extensions);
        let result = self.search_results(&mut call, args).await;
        call.finish(result)
    }

    /// Cancels a job.
    #[tool(
        description = "Cancel a running search job started with splunk_search_start and \
discard its results. Use when a search is no longer needed or runs too long.",
        annotations(
            title = "Cancel a search job",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_search_cancel(
        &self,
        params: Parameters<SidArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let args = params.0;
        let mut call = self.start("splunk_search_cancel", &args, &extensions);
        let result = async {
            let sid = self.owned_sid(&mut call, &args.sid)?;
            let client = self.client(&call).await?;
            client.cancel_job(&sid).await?;
            Ok(answer(
                format!("Job {sid} cancelled."),
                json!({ "sid": sid.as_str(), "cancelled": true }),
            ))
        }
        .await;
        call.finish(result)
    }
}

impl SplunkTools {
    async fn search_start(
        &self,
        call: &mut Call,
        args: SearchStartArgs,
    ) -> Result<CallToolResult, ToolError> {
        call.spl = Some(args.spl.clone());
        self.authorize(call)?;
        let checked = self.shared.guard.check(&args.spl)?;
        call.spl = Some(checked.text().to_owned());
        let range = self.time_range(args.earliest.as_deref(), args.latest.as_deref())?;
        let client = self.client(call).await?;
        let sid = client
            .create_job(checked.text(), &SearchParams::with_time_range(range))
            .await?;
        call.sid = Some(sid.to_string());
        self.shared.jobs.remember(sid.as_str(), call.subject());
        Ok(answer(
            format!(
                "Started job {sid}. Poll splunk_search_status, then read rows with splunk_search_results."
            ),
            json!({ "sid": sid.as_str(), "search": checked.text() }),
        ))
    }

    async fn search_results(
        &self,
        call: &mut Call,
        args: SearchResultsArgs,
    ) -> Result<CallToolResult, ToolError> {
        let config = &self.shared.config;
        let sid = self.owned_sid(call, &args.sid)?;
        let requested = args.count.unwrap_or(config.default_max_results);
        if requested == 0 {
            return Err(ToolError::InvalidArgument {
                what: "count",
                reason: "must be at least 1".to_owned(),
            });
        }
        let count = requested.min(config.max_results_cap);
        let client = self.client(call).await?;
        let page = client
            .job_results_page(&sid, args.offset, count + 1)
            .await?;
        let mut rows: Vec<Row> = page.results;
        let mut notes = Vec::new();
        let mut more = false;
        if rows.len() as u64 > count {
            rows.truncate(usize::try_from(count).unwrap_or(usize::MAX));
            more = true;
        }
        let (rows, byte_cut) = cut_to_bytes(rows, config.max_result_bytes);
        if byte_cut.is_some() {
            more = true;
            notes.push(format!(
                "Results truncated: only {} rows fit in the {} byte answer limit.",
                rows.len(),
                config.max_result_bytes
            ));
        }
        let next_offset = more.then(|| args.offset + rows.len() as u64);
        if let Some(next) = next_offset {
            notes.push(format!(
                "More rows remain: call splunk_search_results with offset={next}."
            ));
        }
        let mut text = format!(
            "{} row(s) of job {sid} from offset {}.\n",
            rows.len(),
            args.offset
        );
        push_rows_and_notes(&mut text, &page.fields, &rows, &notes);
        let structured = json!({
            "sid": sid.as_str(),
            "offset": args.offset,
            "fields": page.fields,
            "rows": rows,
            "returned": rows.len(),
            "preview": page.preview,
            "truncated": more,
            "next_offset": next_offset,
            "notes": notes,
        });
        Ok(answer(text, structured))
    }

    /// Authorizes the call and checks the caller started job `sid` through this server.
    fn owned_sid(&self, call: &mut Call, sid: &str) -> Result<Sid, ToolError> {
        self.authorize(call)?;
        call.sid = Some(sid.to_owned());
        if !self.shared.jobs.owned_by(sid, call.subject()) {
            return Err(ToolError::InvalidArgument {
                what: "sid",
                reason: "no search job with this id was started by you through this server"
                    .to_owned(),
            });
        }
        Ok(Sid::new(sid))
    }
}
