//! A small Matrix homeserver on the generated client-server stubs: the
//! reference example of building on the generated crate.

pub mod api;
pub mod store;

use std::path::Path;
use std::sync::Arc;

/// The router of a homeserver named `server_name`, storing into `db`.
pub fn router(server_name: &str, db: &Path) -> Result<matrix_api_runtime::server::Router, String> {
    let store = store::SqliteStore::open(db)?;
    let server = api::Homeserver {
        server_name: server_name.to_owned(),
        store: Arc::new(store),
        new_events: Arc::new(tokio::sync::Notify::new()),
    };
    Ok(matrix_api::client_server::endpoints::router(server))
}
