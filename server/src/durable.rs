//! Every answer waits until what was written before it is on disk.
//!
//! The store commits without waiting for the disk and flushes its log once
//! for all the answers waiting at that moment (group commit: SQLite's
//! `store::sql::sqlite_durable`, PostgreSQL's `PgDb::wait_durable`). This layer is where the waiting happens: after
//! the handler, before the response leaves, off the async workers. Reads
//! wait too, so that nothing a client has been shown (another client's
//! message in `/sync`, say) can be lost after it was shown.

use crate::store::Storage;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use matrix_api_runtime::error::{ErrorCode, MatrixError};
use std::sync::Arc;

/// Wraps `router` so that each of its answers waits for [`Storage::wait_durable`].
pub(crate) fn answers_after_sync(
    router: matrix_api_runtime::server::Router,
    store: Arc<dyn Storage>,
) -> matrix_api_runtime::server::Router {
    router.layer(axum::middleware::from_fn_with_state(store, wait_then_answer))
}

async fn wait_then_answer(State(store): State<Arc<dyn Storage>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    match tokio::task::spawn_blocking(move || store.wait_durable()).await {
        Ok(Ok(())) => response,
        Ok(Err(e)) => unsynced(e),
        Err(e) => unsynced(e.to_string()),
    }
}

/// What a client gets when the disk refused the write: the handler's
/// answer is withheld, since what it reports may not survive.
fn unsynced(error: String) -> Response {
    tracing::error!(%error, "an answer's writes could not be synced to disk");
    matrix_api_runtime::server::error_response(MatrixError::new(
        500,
        ErrorCode::Unknown,
        "The server could not store this durably",
    ))
}
