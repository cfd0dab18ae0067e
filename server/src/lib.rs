//! A small Matrix homeserver on the generated client-server stubs: the
//! reference example of building on the generated crate.

pub mod api;
pub mod appservices;
mod durable;
pub mod federation;
mod glob;
pub mod mail;
mod nul;
mod retry;
pub mod server_name;
pub mod signals;
pub mod store;
pub mod threepid;

use matrix_api_runtime::server::{AppServiceLimits, RateLimit, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the homeserver keeps its data and how it presents itself.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server name in user and room IDs.
    pub server_name: String,
    /// The database: a SQLite file, or a PostgreSQL URL (`postgres://...`).
    pub db: PathBuf,
    /// The folder of uploaded files (created if missing).
    pub media_dir: PathBuf,
    /// The URL clients reach the server at, for `/.well-known/matrix/client`.
    pub public_url: Option<String>,
    /// The limit on each operation the spec documents as rate-limited, per
    /// access token (or address, before login); `None` turns limits off.
    pub rate_limit: Option<RateLimit>,
    /// How long a request body may take to arrive (`408` after).
    pub body_read_timeout: std::time::Duration,
    /// The TURN server for calls, if any.
    pub turn: Option<api::TurnConfig>,
    /// The file of this server's ed25519 signing key (created if missing).
    pub signing_key: PathBuf,
    /// The federation listener's certificate and key (by default a
    /// self-signed pair beside the database, made when missing).
    pub tls: federation::tls::TlsFiles,
    /// Whether other servers' certificates are checked: off only in test
    /// setups whose servers present self-signed ones.
    pub verify_remote_certificates: bool,
    /// The DNS server asked for other servers' SRV and address records,
    /// instead of the system's.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The SMTP relay (`HOST:PORT`) this server sends email through, and
    /// the sender of its mail; without a relay, no email is sent and
    /// email addresses cannot be added to accounts.
    pub smtp: Option<String>,
    pub mail_from: String,
    /// Registration files of the application services this server hosts.
    pub appservices: Vec<PathBuf>,
}

/// The default limit: a burst of 30 requests to one operation, then one a
/// second (a client that logs in, registers devices and joins rooms at
/// start-up stays within it; guessing passwords does not).
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    burst: 30,
    per_second: 1.0,
};

impl Config {
    /// Defaults for a SQLite database file: the server's files beside it
    /// (media in `<db>.media/`, the signing key in `<db>.signing.key`, ...).
    pub fn new(server_name: &str, db: &Path) -> Config {
        Config::with_files(server_name, db, db)
    }

    /// Defaults for a PostgreSQL database (`url`): the server's files in
    /// `folder` (`homeserver.media/`, `homeserver.signing.key`, ...). Every
    /// process serving the same database must be given the same folder
    /// (one signing key, one media store).
    pub fn postgres(server_name: &str, url: &str, folder: &Path) -> Config {
        Config::with_files(server_name, Path::new(url), &folder.join("homeserver"))
    }

    /// The database `db`, with the server's files named `<files>.media`, ...
    fn with_files(server_name: &str, db: &Path, files: &Path) -> Config {
        let beside_db = |suffix: &str| {
            let mut path = files.as_os_str().to_owned();
            path.push(suffix);
            PathBuf::from(path)
        };
        Config {
            server_name: server_name.to_owned(),
            db: db.to_owned(),
            media_dir: beside_db(".media"),
            public_url: None,
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            body_read_timeout: ServerConfig::default().body_read_timeout,
            turn: None,
            signing_key: beside_db(".signing.key"),
            tls: federation::tls::TlsFiles {
                certificate: beside_db(".tls.crt"),
                key: beside_db(".tls.key"),
                create_if_missing: true,
            },
            verify_remote_certificates: true,
            dns_server: None,
            smtp: None,
            appservices: Vec::new(),
            mail_from: format!("Matrix <noreply@{}>", federation::tls::host_of(server_name)),
        }
    }
}

/// The router of a homeserver named `server_name`, storing into `db`.
pub fn router(server_name: &str, db: &Path) -> Result<matrix_api_runtime::server::Router, String> {
    router_with(Config::new(server_name, db))
}

/// The client-server router of a homeserver configured by `config`.
pub fn router_with(config: Config) -> Result<matrix_api_runtime::server::Router, String> {
    routers(config).map(|routers| routers.client)
}

/// The TLS configuration of the federation listener (see [`Config::tls`]).
pub fn federation_tls(config: &Config) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, String> {
    federation::tls::server_config(&config.tls, &config.server_name)
}

/// What a homeserver serves, one router per listener.
pub struct Routers {
    /// The client-server API (and `/.well-known/matrix/client`).
    pub client: matrix_api_runtime::server::Router,
    /// The server-server API and `/_matrix/key`.
    pub federation: matrix_api_runtime::server::Router,
}

/// The routers of a homeserver configured by `config`.
pub fn routers(config: Config) -> Result<Routers, String> {
    let identity = Arc::new(federation::SigningIdentity::load_or_create(
        &config.signing_key,
        &config.server_name,
    )?);
    let store: Arc<dyn store::Storage> = Arc::new(store::SqlStore::open(&config.db)?);
    let discovery = Arc::new(federation::discovery::Discovery::new(
        config.dns_server,
        config.verify_remote_certificates,
    )?);
    let keys = Arc::new(federation::keys::RemoteKeys::new(
        identity.clone(),
        discovery.clone(),
        store.clone(),
    ));
    std::fs::create_dir_all(&config.media_dir)
        .map_err(|e| format!("creating media folder {}: {e}", config.media_dir.display()))?;
    let appservices = appservices::AppServices::load(&config.appservices, &config.server_name)?;
    for service in appservices.all() {
        // Its sender exists from the start, as the spec has it.
        store.create_user(&service.sender, "")?;
    }
    let outbound = Arc::new(signals::Signal::waking_one("outbound", store.clone()));
    // Known before any request: with one process (SQLite) at once.
    let sending = store.claim_senders()?;
    let server = Arc::new(api::Homeserver {
        server_name: config.server_name.clone(),
        public_url: config.public_url,
        store: store.clone(),
        media_dir: config.media_dir,
        changes: Arc::new(signals::Signal::waking_all("changes", store.clone())),
        pushes: signals::Signal::waking_all("pushes", store.clone()),
        sending: sending.into(),
        typing: api::Typing::default(),
        appending: std::sync::Mutex::new(()),
        push_cache: api::RuleCache::default(),
        turn: config.turn,
        identity: identity.clone(),
        outbound: outbound.clone(),
        outbound_edus: federation::send::EduQueue::new(),
        federation: std::sync::OnceLock::new(),
        appservices,
        mail: match &config.smtp {
            Some(relay) => Some(mail::Mailer::new(relay, &config.mail_from)?),
            None => None,
        },
    });
    let federation = Arc::new(federation::Federation {
        identity,
        hs: server.clone(),
        keys: keys.clone(),
        discovery,
    });
    let _ = server.federation.set(Arc::downgrade(&federation));
    // PDUs queued for other servers (also those left by an earlier run) are
    // delivered from here on; without a runtime (a router built outside
    // one) nothing is sent until one starts the server.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(federation::send::deliver(federation.clone(), outbound));
        runtime.spawn(api::push_delivery(server.clone()));
        runtime.spawn(appservices::delivery::run(server.clone()));
        runtime.spawn(signals::listen(server.clone()));
        runtime.spawn(signals::claim_senders(server.clone()));
    }
    let federation = matrix_api::server_server::endpoints::router_shared(
        federation,
        ServerConfig {
            server_name: Some(config.server_name.clone()),
            keys: Some(keys),
            ..ServerConfig::default()
        },
    );
    let server_config = ServerConfig {
        body_limit: api::MAX_UPLOAD_BYTES,
        rate_limit: config.rate_limit,
        appservice_limits: server
            .appservices
            .all()
            .iter()
            .map(|service| AppServiceLimits {
                access_token: service.registration.as_token.clone(),
                sender: service.sender.clone(),
                rate_limited: service.rate_limited(),
            })
            .collect(),
        body_read_timeout: config.body_read_timeout,
        ..ServerConfig::default()
    };
    let client = matrix_api::client_server::endpoints::router_shared(server.clone(), server_config);
    // The link of a validation email leads to a route the spec leaves to
    // the homeserver.
    let client = api::account_threepids::submit_token_routes(server).fallback_service(client);
    Ok(Routers {
        client: nul::refused_in_paths(durable::answers_after_sync(client, store.clone())),
        federation: nul::refused_in_paths(federation::quirks::accept(durable::answers_after_sync(
            federation, store,
        ))),
    })
}
