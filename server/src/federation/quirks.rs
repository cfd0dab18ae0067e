//! Requests real peers send otherwise than the spec documents, taken as
//! they mean before the generated router sees them. Each names who sends
//! it; none changes what a request as the spec documents it does.
//!
//! - `/3pid/onbind` by `POST`: the spec documents `PUT`, but Sydent (the
//!   reference identity server) posts, and Synapse serves only `POST`.
//! - `/_matrix/key/v2/server/` and `/_matrix/key/v2/server/{keyId}`: the
//!   forms of releases before v1.1 (`keyId` deprecated, then removed); Sydent
//!   asks the first when it checks a homeserver's signed unbind. Both get
//!   this server's keys, as `/_matrix/key/v2/server` does.
//!
//! (Synapse's `/exchange_third_party_invite` without a display name is an
//! erratum of the spec's YAML instead, `api-specs/errata.toml`: the spec's
//! own flow gives the exchanging server no display name to send.)

use axum::extract::Request;
use matrix_api::server_server::endpoints::{get_server_key, on_bind_third_party_identifier};
use matrix_api_runtime::server::Router;

/// The federation router, taking the quirks above.
pub(crate) fn accept(federation: Router) -> Router {
    use tower::ServiceExt;
    let put = federation.clone();
    let as_put = move |mut request: Request| async move {
        *request.method_mut() = axum::http::Method::PUT;
        put.oneshot(request).await
    };
    let keys = federation.clone();
    let without_key_id = move |mut request: Request| async move {
        let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        if let Ok(uri) = format!("{}{query}", get_server_key::METADATA.path).parse() {
            *request.uri_mut() = uri;
        }
        keys.oneshot(request).await
    };
    let methods = axum::routing::MethodFilter::POST.or(axum::routing::MethodFilter::PUT);
    let old_key_paths = [
        format!("{}/", get_server_key::METADATA.path),
        format!("{}/{{key_id}}", get_server_key::METADATA.path),
    ];
    axum::Router::new()
        .route(&old_key_paths[0], axum::routing::get(without_key_id.clone()))
        .route(&old_key_paths[1], axum::routing::get(without_key_id))
        // Both methods here: a path with a route answers other methods 405.
        .route(
            on_bind_third_party_identifier::METADATA.path,
            axum::routing::on(methods, as_put),
        )
        .fallback_service(federation)
}
