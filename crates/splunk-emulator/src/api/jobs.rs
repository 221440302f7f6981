//! Search jobs: dispatch (`normal` with a real QUEUED→RUNNING→DONE progression, `blocking`,
//! `oneshot`), status, results/events paging, control actions, deletion and TTL expiry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value, json};

use super::search::{self, Prepared, int_param};
use crate::auth::Caller;
use crate::server::envelope::{self, Entry};
use crate::server::{ApiError, AppState, Ctx, HandlerResult};
use crate::spl::{Row, SearchOutput};

/// Rows kept per job (Splunk's `maxresultrows`); `max_count` lowers it.
const DEFAULT_MAX_COUNT: usize = 50_000;

/// `dispatchState` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DispatchState {
    Queued,
    Running,
    Paused,
    Done,
    Failed,
}

impl DispatchState {
    fn label(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::Paused => "PAUSE",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug)]
struct JobProgress {
    state: DispatchState,
    progress: f64,
    rows: Arc<Vec<Row>>,
    event_count: u64,
    result_count: u64,
    scan_count: u64,
    run_duration: f64,
    ttl: u64,
    expires: Option<Instant>,
    finalized: bool,
    transforming: bool,
    messages: Vec<(String, String)>,
}

/// One search job.
#[derive(Debug)]
pub(crate) struct Job {
    /// Search id.
    pub(crate) sid: String,
    /// The user who dispatched it.
    pub(crate) owner: String,
    /// The app it ran in.
    pub(crate) app: String,
    /// The SPL.
    pub(crate) search: String,
    /// The saved search it came from, if any.
    pub(crate) label: Option<String>,
    request: Vec<(String, String)>,
    created: DateTime<Utc>,
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
    cancel: AtomicBool,
    finalize: AtomicBool,
    paused: AtomicBool,
    progress: Mutex<JobProgress>,
}

/// All jobs of the instance.
#[derive(Debug, Default)]
pub(crate) struct JobStore {
    jobs: RwLock<HashMap<String, Arc<Job>>>,
    counter: AtomicU64,
}

impl JobStore {
    fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A job the caller may see (own jobs; every job with `admin_all_objects`).
    pub(crate) fn visible(&self, caller: &Caller, sid: &str) -> Option<Arc<Job>> {
        let job = self.jobs.read().get(sid).cloned()?;
        (job.owner == caller.username || caller.can("admin_all_objects")).then_some(job)
    }

    /// Jobs dispatched from a saved search.
    pub(crate) fn with_label(&self, label: &str) -> Vec<Arc<Job>> {
        let mut jobs: Vec<_> = self
            .jobs
            .read()
            .values()
            .filter(|j| j.label.as_deref() == Some(label))
            .cloned()
            .collect();
        jobs.sort_by(|a, b| a.sid.cmp(&b.sid));
        jobs
    }

    fn remove(&self, sid: &str) -> Option<Arc<Job>> {
        let job = self.jobs.write().remove(sid)?;
        job.cancel.store(true, Ordering::Relaxed);
        Some(job)
    }
}

/// Removes jobs whose TTL has run out, until the emulator stops.
pub(crate) async fn reap_expired(state: Weak<AppState>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(state) = state.upgrade() else { return };
        let now = Instant::now();
        state
            .jobs
            .jobs
            .write()
            .retain(|_, job| job.progress.lock().expires.is_none_or(|at| at > now));
    }
}

/// How a dispatch should wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Answer at once; the job runs in the background.
    Normal,
    /// Answer when the job is done.
    Blocking,
}

/// Where and how a job is dispatched.
#[derive(Debug)]
pub(crate) struct Dispatch {
    /// The search id to use.
    pub(crate) sid: String,
    /// The app the job runs in.
    pub(crate) app: String,
    /// The saved search it comes from.
    pub(crate) label: Option<String>,
    /// The dispatch parameters, echoed as `request`.
    pub(crate) request: Vec<(String, String)>,
    /// Rows kept.
    pub(crate) max_count: usize,
    /// Whether to wait for the end.
    pub(crate) mode: Mode,
}

/// Creates a job for a prepared search and starts it.
pub(crate) async fn dispatch(
    state: &Arc<AppState>,
    caller: &Caller,
    prepared: Prepared,
    spec: Dispatch,
) -> Result<String, ApiError> {
    let Dispatch {
        sid,
        app,
        label,
        request,
        max_count,
        mode,
    } = spec;
    let Prepared {
        spl,
        output,
        earliest,
        latest,
    } = prepared;
    let job = Arc::new(Job {
        sid: sid.clone(),
        owner: caller.username.clone(),
        app,
        search: spl,
        label,
        request,
        created: Utc::now(),
        earliest,
        latest,
        cancel: AtomicBool::new(false),
        finalize: AtomicBool::new(false),
        paused: AtomicBool::new(false),
        progress: Mutex::new(JobProgress {
            state: DispatchState::Queued,
            progress: 0.0,
            rows: Arc::new(Vec::new()),
            event_count: 0,
            result_count: 0,
            scan_count: 0,
            run_duration: 0.0,
            ttl: state.config.job_ttl_secs,
            expires: None,
            finalized: false,
            transforming: output.transforming,
            messages: Vec::new(),
        }),
    });
    {
        let mut jobs = state.jobs.jobs.write();
        if jobs.contains_key(&sid) {
            return Err(ApiError::conflict(&sid));
        }
        jobs.insert(sid.clone(), job.clone());
    }
    let min_run = Duration::from_millis(state.config.job_min_run_ms);
    let watched = job.clone();
    let run = move || execute(&job, output, max_count, min_run);
    // Every job waits in the dispatch queue first, blocking ones too (splunkd dispatches both
    // the same way); a blocking request just answers once the job is done.
    // The job runs on its own, so that it goes on when a blocking request's client stops
    // waiting (splunkd's jobs are independent of the request that dispatched them).
    let delay = Duration::from_millis(state.config.job_queue_delay_ms);
    let (ended, on_end) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if tokio::task::spawn_blocking(run).await.is_err() {
            fail(&watched);
        }
        let _ = ended.send(());
    });
    if mode == Mode::Blocking {
        let _ = on_end.await;
    }
    Ok(sid)
}

/// Marks a job whose engine thread died as `FAILED`, as splunkd does when a search process crashes.
fn fail(job: &Job) {
    tracing::error!(sid = %job.sid, "search engine panicked");
    let mut progress = job.progress.lock();
    progress.state = DispatchState::Failed;
    progress.messages.push((
        "FATAL".to_owned(),
        "Search process terminated unexpectedly.".to_owned(),
    ));
    progress.expires = Some(Instant::now() + Duration::from_secs(progress.ttl));
}

/// Runs a job to completion on a blocking thread, publishing progress as it goes.
fn execute(job: &Job, output: SearchOutput, max_count: usize, min_run: Duration) {
    let started = Instant::now();
    let transforming = output.transforming;
    job.progress.lock().state = DispatchState::Running;
    let mut rows: Vec<Row> = Vec::new();
    let mut seen: u64 = 0;
    let wait_if_paused = || {
        while job.paused.load(Ordering::Relaxed)
            && !job.cancel.load(Ordering::Relaxed)
            && !job.finalize.load(Ordering::Relaxed)
        {
            job.progress.lock().state = DispatchState::Paused;
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut progress = job.progress.lock();
        if progress.state == DispatchState::Paused {
            progress.state = DispatchState::Running;
        }
    };
    let ramp = |elapsed: Duration| {
        if min_run.is_zero() {
            0.5
        } else {
            (elapsed.as_secs_f64() / min_run.as_secs_f64()).min(1.0) * 0.95
        }
    };
    for row in output.rows {
        if job.cancel.load(Ordering::Relaxed) {
            return;
        }
        wait_if_paused();
        if job.finalize.load(Ordering::Relaxed) {
            break;
        }
        seen += 1;
        if rows.len() < max_count {
            rows.push(row);
        }
        if seen.is_multiple_of(1000) {
            let mut progress = job.progress.lock();
            progress.scan_count = seen;
            progress.event_count = if transforming { 0 } else { seen };
            progress.progress = ramp(started.elapsed());
            progress.run_duration = started.elapsed().as_secs_f64();
        }
    }
    while started.elapsed() < min_run && !job.finalize.load(Ordering::Relaxed) {
        if job.cancel.load(Ordering::Relaxed) {
            return;
        }
        wait_if_paused();
        {
            let mut progress = job.progress.lock();
            progress.progress = ramp(started.elapsed());
            progress.scan_count = seen;
            progress.event_count = if transforming { 0 } else { seen };
            progress.run_duration = started.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut progress = job.progress.lock();
    progress.finalized = job.finalize.load(Ordering::Relaxed);
    progress.state = DispatchState::Done;
    progress.progress = 1.0;
    progress.result_count = rows.len() as u64;
    progress.scan_count = seen;
    progress.event_count = if transforming { 0 } else { seen };
    progress.run_duration = started.elapsed().as_secs_f64();
    progress.rows = Arc::new(rows);
    progress.expires = Some(Instant::now() + Duration::from_secs(progress.ttl));
}

fn splunk_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, false)
}

fn new_sid(state: &AppState) -> String {
    format!("{}.{}", Utc::now().timestamp(), state.jobs.next_number())
}

/// The sid Splunk gives a saved search dispatch.
pub(crate) fn saved_search_sid(state: &AppState, owner: &str, app: &str) -> String {
    let tag = hex::encode(rand::random::<[u8; 8]>());
    format!(
        "{owner}__{owner}__{app}__RMD5{tag}_at_{}_{}",
        Utc::now().timestamp(),
        state.jobs.next_number()
    )
}

/// `POST /services/search/jobs`.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let params = &ctx.params;
    let exec_mode = params.get("exec_mode").unwrap_or("normal");
    if !matches!(exec_mode, "normal" | "blocking" | "oneshot") {
        return Err(ApiError::bad_request(format!(
            "Invalid exec_mode: {exec_mode}"
        )));
    }
    let sample_ratio = search::mode_and_sample_ratio(params, "")?;
    let prepared = search::prepare(
        &state,
        caller,
        params.get("search").unwrap_or_default(),
        params.get("earliest_time"),
        params.get("latest_time"),
        sample_ratio,
    )?;
    let max_count = match int_param(params, "max_count", DEFAULT_MAX_COUNT)? {
        0 => DEFAULT_MAX_COUNT,
        n => n,
    };
    if exec_mode == "oneshot" {
        let count = int_param(params, "count", 100)?;
        let offset = int_param(params, "offset", 0)?;
        let rows = tokio::task::spawn_blocking(move || {
            let take = if count == 0 {
                max_count
            } else {
                count.min(max_count)
            };
            prepared
                .output
                .rows
                .skip(offset)
                .take(take)
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ERROR", "search failed"))?;
        return Ok(Json(search::results_body(&rows, offset, false, json!([]))).into_response());
    }
    let sid = match params.get("id").filter(|s| !s.is_empty()) {
        Some(id) => id.to_owned(),
        None => new_sid(&state),
    };
    let mode = if exec_mode == "blocking" {
        Mode::Blocking
    } else {
        Mode::Normal
    };
    let app = ctx.ns.app_or_search().to_owned();
    let request = params.pairs().to_vec();
    let spec = Dispatch {
        sid,
        app,
        label: None,
        request,
        max_count,
        mode,
    };
    let sid = dispatch(&state, caller, prepared, spec).await?;
    Ok((StatusCode::CREATED, Json(json!({ "sid": sid }))).into_response())
}

fn job_path(job: &Job) -> String {
    format!("/services/search/jobs/{}", job.sid)
}

/// The status entry of a job.
pub(crate) fn job_entry(job: &Job) -> Entry {
    let progress = job.progress.lock();
    let done = progress.state == DispatchState::Done;
    let failed = progress.state == DispatchState::Failed;
    let request: Map<String, Value> = job
        .request
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let ttl_left = match progress.expires {
        Some(at) => at.saturating_duration_since(Instant::now()).as_secs(),
        None => progress.ttl,
    };
    let mut content = Map::new();
    let mut put = |k: &str, v: Value| {
        content.insert(k.to_owned(), v);
    };
    put("sid", json!(job.sid));
    put("search", json!(job.search));
    put(
        "label",
        job.label.as_ref().map_or(Value::Null, |l| json!(l)),
    );
    put("dispatchState", json!(progress.state.label()));
    put("doneProgress", json!(progress.progress));
    put("isDone", json!(done));
    put("isFailed", json!(failed));
    put("isFinalized", json!(progress.finalized));
    put("isPaused", json!(progress.state == DispatchState::Paused));
    put("isPreviewEnabled", json!(false));
    put("isRealTimeSearch", json!(false));
    put("isRemoteTimeline", json!(false));
    put("isSaved", json!(false));
    put("isSavedSearch", json!(job.label.is_some()));
    put("isTimeCursored", json!(true));
    put("isZombie", json!(false));
    put("eventCount", json!(progress.event_count));
    put(
        "eventAvailableCount",
        json!(if progress.transforming {
            0
        } else {
            progress.rows.len()
        }),
    );
    put("eventIsStreaming", json!(!progress.transforming));
    put("eventIsTruncated", json!(false));
    put("resultCount", json!(progress.result_count));
    put("resultIsStreaming", json!(!progress.transforming));
    put("resultPreviewCount", json!(progress.result_count));
    put("scanCount", json!(progress.scan_count));
    put("dropCount", json!(0));
    put("runDuration", json!(progress.run_duration));
    put("ttl", json!(ttl_left));
    put("defaultTTL", json!(progress.ttl.to_string()));
    put("defaultSaveTTL", json!("604800"));
    put("priority", json!(5));
    put("statusBuckets", json!(0));
    put("sampleRatio", json!("1"));
    put("provenance", json!("rest"));
    put("delegate", json!(""));
    put("keywords", json!(""));
    put(
        "earliestTime",
        json!(job.earliest.map(splunk_time).unwrap_or_default()),
    );
    put(
        "latestTime",
        json!(job.latest.map(splunk_time).unwrap_or_default()),
    );
    put("createTime", json!(splunk_time(job.created)));
    put(
        "cursorTime",
        json!(splunk_time(job.earliest.unwrap_or(DateTime::UNIX_EPOCH))),
    );
    put(
        "reportSearch",
        json!(if progress.transforming {
            job.search.clone()
        } else {
            String::new()
        }),
    );
    put(
        "eai:acl",
        json!({"app": job.app, "owner": job.owner, "sharing": "global", "perms": {"read": [job.owner], "write": [job.owner]}, "ttl": ttl_left.to_string()}),
    );
    put(
        "messages",
        Value::Array(
            progress
                .messages
                .iter()
                .map(|(t, m)| json!({"type": t, "text": m}))
                .collect(),
        ),
    );
    put("request", Value::Object(request));
    put("performance", json!({}));
    put("searchProviders", json!([]));
    drop(progress);
    let path = job_path(job);
    let mut entry = Entry::new(job.search.clone(), path.clone(), content)
        .owned_by(&job.owner, &job.app, "global");
    entry.updated = job.created;
    for rel in [
        "search.log",
        "events",
        "results",
        "results_preview",
        "timeline",
        "summary",
        "control",
    ] {
        entry.links.push((rel.to_owned(), format!("{path}/{rel}")));
    }
    entry
}

fn unknown_sid() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "FATAL", "Unknown sid.")
}

/// `GET /services/search/jobs`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let mut jobs: Vec<Arc<Job>> = state
        .jobs
        .jobs
        .read()
        .values()
        .filter(|j| j.owner == caller.username || caller.can("admin_all_objects"))
        .cloned()
        .collect();
    jobs.sort_by(|a, b| b.created.cmp(&a.created).then(b.sid.cmp(&a.sid)));
    let entries = jobs.iter().map(|j| job_entry(j)).collect();
    envelope::feed(&state, "/services/search/jobs", entries, &ctx.params)
}

/// `GET /services/search/jobs/{sid}`.
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    let job = state
        .jobs
        .visible(ctx.caller()?, &sid)
        .ok_or_else(unknown_sid)?;
    Ok(envelope::single(
        &state,
        StatusCode::OK,
        "/services/search/jobs",
        job_entry(&job),
    ))
}

/// `DELETE /services/search/jobs/{sid}`.
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    state
        .jobs
        .visible(ctx.caller()?, &sid)
        .ok_or_else(unknown_sid)?;
    state.jobs.remove(&sid);
    Ok(envelope::messages(
        StatusCode::OK,
        "INFO",
        "Search job cancelled.",
    ))
}

#[derive(Clone, Copy, PartialEq)]
enum View {
    Results,
    Preview,
    Events,
}

async fn page(state: Arc<AppState>, ctx: Ctx, sid: String, view: View) -> HandlerResult {
    let job = state
        .jobs
        .visible(ctx.caller()?, &sid)
        .ok_or_else(unknown_sid)?;
    let count = int_param(&ctx.params, "count", 100)?;
    let offset = int_param(&ctx.params, "offset", 0)?;
    let (rows, done, transforming, messages) = {
        let progress = job.progress.lock();
        let messages: Vec<Value> = progress
            .messages
            .iter()
            .map(|(t, m)| json!({"type": t, "text": m}))
            .collect();
        (
            progress.rows.clone(),
            matches!(progress.state, DispatchState::Done | DispatchState::Failed),
            progress.transforming,
            messages,
        )
    };
    if !done && view != View::Preview {
        // splunkd answers 204 No Content until the results exist.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let source: &[Row] = if view == View::Events && transforming {
        &[]
    } else {
        &rows
    };
    let take = if count == 0 { usize::MAX } else { count };
    let slice: Vec<Row> = source.iter().skip(offset).take(take).cloned().collect();
    Ok(Json(search::results_body(
        &slice,
        offset,
        !done,
        Value::Array(messages),
    ))
    .into_response())
}

/// `GET /services/search/jobs/{sid}/results`.
pub(crate) async fn results(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    page(state, ctx, sid, View::Results).await
}

/// `GET /services/search/jobs/{sid}/results_preview`.
pub(crate) async fn results_preview(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    page(state, ctx, sid, View::Preview).await
}

/// `GET /services/search/jobs/{sid}/events`.
pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    page(state, ctx, sid, View::Events).await
}

/// `POST /services/search/jobs/{sid}/control`.
pub(crate) async fn control(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    Path(sid): Path<String>,
) -> HandlerResult {
    let job = state
        .jobs
        .visible(ctx.caller()?, &sid)
        .ok_or_else(unknown_sid)?;
    let action = ctx
        .params
        .get("action")
        .ok_or_else(|| ApiError::missing_argument("action"))?;
    let text = match action {
        "cancel" => {
            state.jobs.remove(&sid);
            "Search job cancelled.".to_owned()
        }
        "finalize" => {
            job.finalize.store(true, Ordering::Relaxed);
            "Search job finalized.".to_owned()
        }
        "pause" => {
            job.paused.store(true, Ordering::Relaxed);
            "Search job paused.".to_owned()
        }
        "unpause" => {
            job.paused.store(false, Ordering::Relaxed);
            "Search job unpaused.".to_owned()
        }
        "touch" => {
            let mut progress = job.progress.lock();
            if progress.expires.is_some() {
                progress.expires = Some(Instant::now() + Duration::from_secs(progress.ttl));
            }
            "Search job touched.".to_owned()
        }
        "setttl" => {
            let ttl = int_param(&ctx.params, "ttl", 0)?;
            if !ctx.params.has("ttl") {
                return Err(ApiError::missing_argument("ttl"));
            }
            let mut progress = job.progress.lock();
            progress.ttl = ttl as u64;
            if progress.expires.is_some() {
                progress.expires = Some(Instant::now() + Duration::from_secs(ttl as u64));
            }
            format!("The ttl of the search job was changed to {ttl}.")
        }
        other => return Err(ApiError::bad_request(format!("Unknown action: {other}"))),
    };
    Ok(envelope::messages(StatusCode::OK, "INFO", &text))
}
