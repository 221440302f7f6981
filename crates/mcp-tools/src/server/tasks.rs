//! Long searches as tasks (the MCP tasks extension, SEP-2663). A client that declares the
//! extension gets a task for `splunk_search`, `splunk_run_saved_search` and the custom tools,
//! and polls `tasks/get` for the result: the same answer a plain call gives, from the same
//! pipeline (policy, credentials, guard, Splunk, render, audit), run after the request was
//! answered. `tasks/cancel` cancels the Splunk job, and the audit records `cancelled`.
//!
//! Tasks live in this process (rmcp's [`TaskManager`]), so a stateless server, which may be one
//! of several replicas, offers none. A task answers only the caller that started it.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CreateTaskResult, Extensions, RequestMetaObject,
};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskExit, TaskManager, TaskOptions};
use rmcp::{ErrorData, RoleServer};
use tokio_util::sync::CancellationToken;

use super::jobs::JobOwners;
use super::{SplunkTools, caller_in};
use crate::registry::ToolRegistry;

/// The built-in tools that run a search to its end, and so may take long.
const SEARCH_TOOLS: [&str; 2] = ["splunk_search", "splunk_run_saved_search"];

/// How often a client is asked to poll `tasks/get`.
const POLL_INTERVAL_MS: u64 = 500;

/// How long a task's result is kept past the longest a search may run: time to fetch it.
const RESULT_KEPT: std::time::Duration = std::time::Duration::from_secs(600);

/// The tasks of this process and who started each.
#[derive(Default)]
pub(super) struct Tasks {
    manager: TaskManager,
    owners: JobOwners,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("running", &self.manager.running_task_count())
            .finish_non_exhaustive()
    }
}

impl SplunkTools {
    /// Whether a call of `name` becomes a task: tasks are on, the tool runs a search, and the
    /// client declared the extension (at `initialize`, or in the request's `_meta`).
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

    /// Runs the call as a task and answers with it at once. The call goes through
    /// [`SplunkTools::dispatch`] as a plain one does, on a copy of the request whose
    /// cancellation is the task's (the request itself ends now) and without its progress token
    /// (no request is left to report progress on).
    pub(super) fn start_task(
        &self,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        registry: Arc<ToolRegistry>,
    ) -> CreateTaskResult {
        let owner = caller_in(&context.extensions)
            .or_else(|| self.caller.clone())
            .map(|caller| caller.subject().to_owned());
        let cancel = CancellationToken::new();
        let mut detached = context.clone();
        detached.ct = cancel.clone();
        detached.meta = RequestMetaObject::default();
        let server = self.clone();
        let keep = self.shared.config.search_timeout + RESULT_KEPT;
        let options = TaskOptions::new()
            .with_ttl_ms(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX))
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        let task = self.shared.tasks.manager.spawn(options, move |task| {
            Box::pin(async move {
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
                if task.is_cancel_requested() {
                    return Err(TaskExit::Cancelled);
                }
                match response? {
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
        CreateTaskResult::new(task)
    }

    /// The task manager, once the request's caller is known to own `task_id`; another
    /// caller's task is unknown, as one that never was.
    pub(super) fn owned_tasks(
        &self,
        task_id: &str,
        extensions: &Extensions,
    ) -> Result<&TaskManager, ErrorData> {
        let caller = caller_in(extensions).or_else(|| self.caller.clone());
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
}
