//! A small Matrix homeserver on the generated client-server stubs: the
//! reference example of building on the generated crate.

pub mod api;
pub mod store;

use matrix_api_runtime::server::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the homeserver keeps its data and how it presents itself.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server name in user and room IDs.
    pub server_name: String,
    /// The SQLite database file.
    pub db: PathBuf,
    /// The folder of uploaded files (created if missing).
    pub media_dir: PathBuf,
    /// The URL clients reach the server at, for `/.well-known/matrix/client`.
    pub public_url: Option<String>,
}

impl Config {
    /// Defaults for a database file: media beside it in `<db>.media/`.
    pub fn new(server_name: &str, db: &Path) -> Config {
        let mut media = db.as_os_str().to_owned();
        media.push(".media");
        Config {
            server_name: server_name.to_owned(),
            db: db.to_owned(),
            media_dir: PathBuf::from(media),
            public_url: None,
        }
    }
}

/// The router of a homeserver named `server_name`, storing into `db`.
pub fn router(server_name: &str, db: &Path) -> Result<matrix_api_runtime::server::Router, String> {
    router_with(Config::new(server_name, db))
}

/// The router of a homeserver configured by `config`.
pub fn router_with(config: Config) -> Result<matrix_api_runtime::server::Router, String> {
    let store = store::SqliteStore::open(&config.db)?;
    std::fs::create_dir_all(&config.media_dir)
        .map_err(|e| format!("creating media folder {}: {e}", config.media_dir.display()))?;
    let server = api::Homeserver {
        server_name: config.server_name,
        public_url: config.public_url,
        store: Arc::new(store),
        media_dir: config.media_dir,
        changes: Arc::new(tokio::sync::Notify::new()),
        typing: api::Typing::default(),
        appending: std::sync::Mutex::new(()),
    };
    let server_config = ServerConfig {
        body_limit: api::MAX_UPLOAD_BYTES,
        ..ServerConfig::default()
    };
    Ok(matrix_api::client_server::endpoints::router_with_config(
        server,
        server_config,
    ))
}
