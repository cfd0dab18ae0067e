//! A Matrix identity server on the generated identity-service stubs
//! (`matrix_api::identity::endpoints::IdentityApi`), backed by SQLite: the
//! counterpart a homeserver's third-party invites need.
//!
//! - `store`: accounts, validation sessions, bindings, invites, keys;
//! - `api`: the operations, each on the generated trait;
//! - `delivery`: stored invites handed to the homeserver of whoever binds
//!   the address (`/3pid/onbind`), retried until that server answers.
//!
//! Its users register with an OpenID token of their homeserver, which it
//! checks there (`/openid/userinfo`); it reaches homeservers as they reach
//! each other (the homeserver crate's server discovery).

pub mod api;
pub mod delivery;
pub mod store;

use server::federation::discovery::Discovery;
use server::federation::SigningIdentity;
use std::path::PathBuf;
use std::sync::Arc;

/// How the identity server presents itself and where it keeps its data.
#[derive(Clone, Debug)]
pub struct Config {
    /// The name it signs with and is reached at (`host[:port]`), as
    /// clients give it to homeservers (`id_server`).
    pub server_name: String,
    /// The SQLite database file.
    pub db: PathBuf,
    /// Its ed25519 signing key (created beside the database if missing).
    pub signing_key: PathBuf,
    /// The SMTP relay (`HOST:PORT`) and the sender address of its mail.
    pub smtp: String,
    pub mail_from: String,
    /// Whether homeservers' certificates are checked (off only in tests
    /// with self-signed certificates).
    pub verify_certificates: bool,
    /// The DNS server to resolve homeservers with, instead of the system's.
    pub dns_server: Option<std::net::SocketAddr>,
}

impl Config {
    pub fn new(server_name: &str, db: &std::path::Path) -> Config {
        let mut key = db.as_os_str().to_owned();
        key.push(".signing.key");
        Config {
            server_name: server_name.to_owned(),
            db: db.to_owned(),
            signing_key: PathBuf::from(key),
            smtp: "127.0.0.1:25".to_owned(),
            mail_from: format!("Identity server <noreply@{}>", host_of(server_name)),
            verify_certificates: true,
            dns_server: None,
        }
    }
}

fn host_of(server_name: &str) -> &str {
    server::federation::tls::host_of(server_name)
}

/// The identity server's state, shared by its operations.
pub struct IdentityServer {
    pub name: String,
    pub signing: SigningIdentity,
    pub store: store::Store,
    pub mail: server::mail::Mailer,
    pub discovery: Arc<Discovery>,
    /// The pepper of hashed lookups (made once, kept in the database).
    pub pepper: String,
    /// Wakes the delivery of stored invites (a new binding).
    pub deliver: tokio::sync::Notify,
}

impl IdentityServer {
    pub fn open(config: &Config) -> Result<Arc<IdentityServer>, String> {
        let store = store::Store::open(&config.db)?;
        let pepper = store.setting("lookup_pepper", || random_text(24))?;
        Ok(Arc::new(IdentityServer {
            name: config.server_name.clone(),
            signing: SigningIdentity::load_or_create(&config.signing_key, &config.server_name)?,
            store,
            mail: server::mail::Mailer::new(&config.smtp, &config.mail_from)?,
            discovery: Arc::new(Discovery::new(config.dns_server, config.verify_certificates)?),
            pepper,
            deliver: tokio::sync::Notify::new(),
        }))
    }

    /// The base URL it is reached at (key validity URLs, links in mail).
    pub fn base_url(&self) -> String {
        format!("https://{}", self.name)
    }
}

/// The router of an identity server, with its invite delivery started on
/// the current runtime.
pub fn router(config: &Config) -> Result<matrix_api_runtime::server::Router, String> {
    let server = IdentityServer::open(config)?;
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(delivery::run(server.clone()));
    }
    // Homeservers sign their unbind requests to this server's name.
    let settings = matrix_api_runtime::server::ServerConfig {
        server_name: Some(server.name.clone()),
        keys: Some(Arc::new(server::federation::keys::FetchedKeyCache::new(
            server.discovery.clone(),
        ))),
        ..Default::default()
    };
    let router = matrix_api::identity::endpoints::router_shared(server, settings);
    Ok(router.layer(axum::middleware::from_fn(store_invite_without_empty_fields)))
}

/// The optional fields of `/store-invite` that Synapse sends as `""` when
/// the room or inviter has none (an alias, an avatar): read as absent, as
/// they mean, rather than refused as malformed identifiers.
const STORE_INVITE_OPTIONAL: &[&str] = &[
    "room_alias",
    "room_avatar_url",
    "room_join_rules",
    "room_name",
    "room_type",
    "sender_display_name",
    "sender_avatar_url",
];

async fn store_invite_without_empty_fields(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.uri().path() != matrix_api::identity::endpoints::store_invite_v2::METADATA.path {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // The router limits bodies itself; this bound only keeps the copy small.
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        let error =
            matrix_api_runtime::MatrixError::new(413, matrix_api_runtime::ErrorCode::TooLarge, "body too large");
        return matrix_api_runtime::server::error_response(error);
    };
    let bytes = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.retain(|key, value| !(STORE_INVITE_OPTIONAL.contains(&key.as_str()) && value == ""));
            serde_json::to_vec(&fields).map(Into::into).unwrap_or(bytes)
        }
        _ => bytes,
    };
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

pub use server::api::{now_ms, random_id as random_text};
