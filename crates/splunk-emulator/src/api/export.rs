//! `POST /services/search/jobs/export`: results streamed as newline-delimited JSON while the engine
//! produces them, so a million-row export runs in constant memory.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::search;
use crate::server::{AppState, Ctx, HandlerResult};

/// Bytes gathered before a chunk is handed to the connection.
const CHUNK_BYTES: usize = 32 * 1024;
/// Chunks in flight between the engine thread and the connection: the memory bound of an export.
const CHUNKS_IN_FLIGHT: usize = 8;

/// `POST /services/search/jobs/export` (also `GET`).
pub(crate) async fn export(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
) -> HandlerResult {
    let caller = ctx.caller()?;
    let params = &ctx.params;
    let prepared = search::prepare(
        &state,
        caller,
        params.get("search").unwrap_or_default(),
        params.get("earliest_time"),
        params.get("latest_time"),
        1,
    )?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    // The engine's iterator is synchronous; a blocking thread drives it and the bounded channel
    // applies backpressure from the client's socket all the way back to row generation.
    tokio::task::spawn_blocking(move || {
        let mut rows = prepared.output.rows.peekable();
        let mut buffer = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut offset: u64 = 0;
        while let Some(row) = rows.next() {
            let last = rows.peek().is_none();
            let result =
                serde_json::to_string(&search::row_json(&row)).unwrap_or_else(|_| "{}".to_owned());
            let lastrow = if last { "\"lastrow\":true," } else { "" };
            buffer.extend_from_slice(
                format!("{{\"preview\":false,\"offset\":{offset},{lastrow}\"result\":{result}}}\n")
                    .as_bytes(),
            );
            offset += 1;
            if buffer.len() >= CHUNK_BYTES
                && tx
                    .blocking_send(Bytes::from(std::mem::take(&mut buffer)))
                    .is_err()
            {
                tracing::debug!(rows = offset, "export client went away");
                return;
            }
        }
        if offset == 0 {
            buffer.extend_from_slice(b"{\"preview\":false,\"lastrow\":true}\n");
        }
        if !buffer.is_empty() {
            let _ = tx.blocking_send(Bytes::from(buffer));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut response: Response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    Ok(response)
}
