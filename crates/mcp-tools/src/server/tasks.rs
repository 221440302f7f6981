//! Long searches as tasks (the MCP tasks extension, SEP-2663). A client that declares the
//! extension gets a task for `splunk_search`, `splunk_run_saved_search` and the custom tools,
//! and polls `tasks/get` for the result: the same answer a plain call gives, from the same
//! pipeline (policy, credentials, guard, Splunk, render, audit), run after the request was
//! answered. `tasks/cancel` cancels the Splunk job, and the audit records `cancelled`.
//!
//! Tasks live in this process (rmcp's [`TaskManager`]), so a stateless server, which may be one
//! of several replicas, offers none. A task answers only the caller that started it, a caller
//! runs at most [`MAX_RUNNING_PER_CALLER`] at once (further calls are answered plainly), and a
//! server that stops cancels those still running ([`SplunkTools::finish_tasks`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CreateTaskResult, Extensions, RequestMetaObject,
};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskExit, TaskManager, TaskOptions};
use rmcp::{ErrorData, RoleServer};
use tokio_util::sync::CancellationToken;

use super::SplunkTools;
use super::jobs::Owners;
use crate::registry::ToolRegistry;

/// The built-in tools that run a search to its end, and so may take long.
const SEARCH_TOOLS: [&str; 2] = ["splunk_search", "splunk_run_saved_search"];

/// How often a client is asked to poll `tasks/get`.
const POLL_INTERVAL_MS: u64 = 500;

/// A task's lifetime past the longest a search may run: time to fetch its result. rmcp keeps an
/// ended task for one more such lifetime before forgetting it.
const RESULT_KEPT: Duration = Duration::from_secs(600);

/// Tasks one caller may have running at once: each holds a Splunk job, and a task answers at
/// once, so without a bound one client could start any number of searches.
const MAX_RUNNING_PER_CALLER: usize = 8;

/// The tasks of this process, who started each, and how many each caller has running.
#[derive(Default)]
pub(super) struct Tasks {
    manager: TaskManager,
    owners: Owners,
    running: Arc<Mutex<HashMap<Option<String>, usize>>>,
    /// Cancelled when the server stops: every running task's call is cancelled with it.
    closing: CancellationToken,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

impl Tasks {
    /// Counts a task of `caller` as running until the returned guard is dropped (the task's
    /// future ended, or was dropped); `None` when the caller has the most it may.
    fn admit(&self, caller: Option<String>) -> Option<RunningTask> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.entry(caller.clone()).or_default();
        if *count >= MAX_RUNNING_PER_CALLER {
            return None;
        }
        *count += 1;
        Some(RunningTask {
            running: Arc::clone(&self.running),
            caller,
        })
    }

    /// How many tasks are running, of all callers.
    fn running(&self) -> usize {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.values().sum()
    }
}

/// One running task, counted for its caller while it lives.
struct RunningTask {
    running: Arc<Mutex<HashMap<Option<String>, usize>>>,
    caller: Option<String>,
}

impl Drop for RunningTask {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.caller);
            }
        }
    }
}

impl SplunkTools {
    /// Whether a call of `name` may become a task: tasks are on, the tool runs a search, and
    /// the client declared the extension (at `initialize`, or in the request's `_meta`).
    pub(super) fn runs_as_task(
        &self,
        name: &str,
        registry: &ToolRegistry,
        context: &RequestContext<RoleServer>,
    ) -> bool {
        self.offer_tasks
            && (SEARCH_TOOLS.contains(&name) || registry.custom_tool(name).is_some())
            && context
                .client_capabilities()
                .is_some_and(|capabilities| capabilities.supports_tasks())
    }

    /// Runs the call as a task and answers with it at once; `None` when the caller already has
    /// [`MAX_RUNNING_PER_CALLER`] tasks running (the call is then answered plainly). The call
    /// goes through [`SplunkTools::dispatch`] as a plain one does, on a copy of the request
    /// whose cancellation is the task's (the request itself ends now) and without its progress
    /// token (no request is left to report progress on).
    pub(super) fn start_task(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        registry: &Arc<ToolRegistry>,
    ) -> Option<CreateTaskResult> {
        let owner = self
            .caller(&context.extensions)
            .map(|caller| caller.subject().to_owned());
        let running = self.shared.tasks.admit(owner.clone())?;
        let cancel = self.shared.tasks.closing.child_token();
        let mut detached = context.clone();
        detached.ct = cancel.clone();
        detached.meta = RequestMetaObject::default();
        let (server, request, registry) = (self.clone(), request.clone(), Arc::clone(registry));
        let keep = self.shared.config.search_timeout + RESULT_KEPT;
        let options = TaskOptions::new()
            .with_ttl_ms(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX))
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        let task = self.shared.tasks.manager.spawn(options, move |task| {
            Box::pin(async move {
                let _running = running;
                let run = server.dispatch(request, detached, registry);
                tokio::pin!(run);
                let response = tokio::select! {
                    response = &mut run => response,
                    () = task.cancelled() => {
                        // The tool cancels its Splunk job and answers; wait for that.
                        cancel.cancel();
                        run.await
                    }
                };
                match response? {
                    // Stopped by `tasks/cancel` or a shutdown: the tool answered `cancelled`
                    // (and audited it). A call that finished anyway keeps its result.
                    CallToolResponse::Complete(result)
                        if cancel.is_cancelled() && result.is_error == Some(true) =>
                    {
                        Err(TaskExit::Cancelled)
                    }
                    CallToolResponse::Complete(result) => Ok(result),
                    _ => Err(TaskExit::Error(ErrorData::internal_error(
                        "the tool asked for input, which a task of this server cannot give",
                        None,
                    ))),
                }
            })
        });
        self.shared
            .tasks
            .owners
            .remember(&task.task_id, owner.as_deref());
        Some(CreateTaskResult::new(task))
    }

    /// The task manager, once the request's caller is known to own `task_id`; another
    /// caller's task is unknown, as one that never was.
    pub(super) fn owned_tasks(
        &self,
        task_id: &str,
        extensions: &Extensions,
    ) -> Result<&TaskManager, ErrorData> {
        let caller = self.caller(extensions);
        let subject = caller.as_ref().map(|caller| caller.subject());
        if self.shared.tasks.owners.owned_by(task_id, subject) {
            Ok(&self.shared.tasks.manager)
        } else {
            Err(ErrorData::invalid_params(
                format!("unknown task: {task_id}"),
                None,
            ))
        }
    }

    /// For a server that stops: cancels the tasks still running (each cancels its Splunk job
    /// and is audited `cancelled`) and waits at most `grace` for them to end.
    pub async fn finish_tasks(&self, grace: Duration) {
        let tasks = &self.shared.tasks;
        tasks.closing.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        while tasks.running() > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    running = tasks.running(),
                    "search tasks still running after the shutdown grace period"
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
