//! No NUL character in a request's path.
//!
//! PostgreSQL cannot keep a NUL character in text (SQLite can), and the
//! path parameters (room and user IDs, event types, state keys,
//! transaction IDs) are kept as text. So a request whose path holds one
//! (`%00`) is refused, as bad input, with `M_INVALID_PARAM`, on either
//! database: a server behaves the same on both, and a SQLite database never
//! holds what `migrate-db` could not copy. NULs inside JSON content are
//! kept (escaped as `\u0000`, as the content is stored).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use matrix_api_runtime::error::MatrixError;

/// Wraps `router` so that a path holding a NUL character is refused.
pub(crate) fn refused_in_paths(router: matrix_api_runtime::server::Router) -> matrix_api_runtime::server::Router {
    router.layer(axum::middleware::from_fn(refuse))
}

async fn refuse(request: Request, next: Next) -> Response {
    if request.uri().path().contains("%00") {
        return matrix_api_runtime::server::error_response(MatrixError::invalid_param(
            "a path parameter holds a NUL character, which the server does not keep",
        ));
    }
    next.run(request).await
}
