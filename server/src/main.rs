//! `cargo run -p server -- --server-name localhost --listen 127.0.0.1:8008 --db homeserver.db`

use anyhow::{anyhow, Context};
use clap::Parser;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "A small Matrix homeserver built on the generated stubs")]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The server name in user and room IDs.
    #[arg(long, env = "MATRIX_SERVER_NAME", default_value = "localhost")]
    server_name: String,
    /// Address to listen on.
    #[arg(long, env = "MATRIX_LISTEN", default_value = "127.0.0.1:8008")]
    listen: String,
    /// Address to serve the server-server API on (`/_matrix/federation`,
    /// `/_matrix/key`); without it the server does not federate.
    #[arg(long, env = "MATRIX_FEDERATION_LISTEN")]
    federation_listen: Option<String>,
    /// The federation listener's TLS certificate chain (PEM) [default: a
    /// self-signed one made beside the database].
    #[arg(long, env = "MATRIX_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "MATRIX_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Accept other servers' certificates unchecked (test setups with
    /// self-signed certificates only).
    #[arg(long)]
    insecure_skip_certificate_checks: bool,
    /// The DNS server (`IP:PORT`) to ask for other servers' SRV and address
    /// records [default: the system's].
    #[arg(long, env = "MATRIX_DNS_SERVER")]
    dns_server: Option<std::net::SocketAddr>,
    /// The database, migrated at start: a SQLite file (created if
    /// missing), or a PostgreSQL URL (`postgres://user@host:port/name`).
    #[arg(long, env = "MATRIX_DB", default_value = "homeserver.db")]
    db: PathBuf,
    /// With PostgreSQL, the folder of the server's files (media, signing
    /// key, TLS pair), which every process on the same database must share
    /// [default: the current folder]. With SQLite they are beside the file.
    #[arg(long, env = "MATRIX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Folder for uploaded media [default: `<db>.media` beside the database].
    #[arg(long, env = "MATRIX_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// URL clients reach this server at, served by `/.well-known/matrix/client`
    /// [default: `http://<listen address>`].
    #[arg(long, env = "MATRIX_PUBLIC_URL")]
    public_url: Option<String>,
    /// Limit on each rate-limited operation, as `BURST/PER_SECOND` (per
    /// access token, or address before login), or `off`.
    #[arg(long, env = "MATRIX_RATE_LIMIT", default_value = "30/1")]
    rate_limit: String,
    /// A TURN server URI for calls (repeatable); needs --turn-secret.
    #[arg(long = "turn-uri")]
    turn_uris: Vec<String>,
    /// The secret shared with the TURN server (coturn's `static-auth-secret`).
    #[arg(long, env = "MATRIX_TURN_SECRET")]
    turn_secret: Option<String>,
    /// The SMTP relay (`HOST:PORT`, plain) for this server's email: the
    /// validation of addresses users add to their accounts [default: none,
    /// and email addresses cannot be added].
    #[arg(long, env = "MATRIX_SMTP")]
    smtp: Option<String>,
    /// The sender of this server's email [default: `Matrix <noreply@<server name>>`].
    #[arg(long, env = "MATRIX_MAIL_FROM")]
    mail_from: Option<String>,
    /// The registration file (YAML) of an application service this server
    /// hosts (repeatable).
    #[arg(long = "appservice")]
    appservices: Vec<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Copies a SQLite database (also one a server is running on) into an
    /// empty PostgreSQL database, checks every table's row count and
    /// checksum on both, and commits only if they agree.
    MigrateDb {
        /// The SQLite database file.
        #[arg(long)]
        from: PathBuf,
        /// The PostgreSQL database (`postgres://user@host:port/name`), which must hold no rows.
        #[arg(long)]
        to: String,
        /// Where the server on PostgreSQL will keep its files (its
        /// `--data-dir`): the media, signing key and TLS pair beside the
        /// SQLite file are copied there.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

/// `migrate-db`: the database (in one transaction), then the server's
/// files, once it is known that none would be overwritten.
fn migrate_db(from: &Path, to: &str, data_dir: &Path) -> anyhow::Result<()> {
    // The server name does not place any file.
    let (old, new) = (
        server::Config::new("-", from),
        server::Config::postgres("-", to, data_dir),
    );
    let files = [
        (&old.media_dir, &new.media_dir),
        (&old.signing_key, &new.signing_key),
        (&old.tls.certificate, &new.tls.certificate),
        (&old.tls.key, &new.tls.key),
    ];
    for (_, target) in files.iter().filter(|(source, _)| source.exists()) {
        if target.exists() {
            return Err(anyhow!("{} exists already: nothing was copied", target.display()));
        }
    }
    let copied = server::store::sql::migrate::sqlite_to_postgres(from, to).map_err(|e| {
        anyhow!(
            "copying {} to {}: {e}",
            from.display(),
            server::store::sql::shown(Path::new(to))
        )
    })?;
    for (table, sum) in &copied.tables {
        println!("{table:<28} {:>9} rows  checksum {:016x}", sum.rows, sum.checksum);
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    for (source, target) in files.iter().filter(|(source, _)| source.exists()) {
        copy_all(source, target).with_context(|| format!("copying {} to {}", source.display(), target.display()))?;
        println!("copied {} to {}", source.display(), target.display());
    }
    let rows: u64 = copied.tables.values().map(|t| t.rows).sum();
    println!(
        "copied {rows} rows in {} tables; counts and checksums agree",
        copied.tables.len()
    );
    Ok(())
}

/// Copies a file, or a folder with everything in it.
fn copy_all(from: &Path, to: &Path) -> std::io::Result<()> {
    if !from.is_dir() {
        return std::fs::copy(from, to).map(drop);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        copy_all(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

fn rate_limit(text: &str) -> anyhow::Result<Option<matrix_api_runtime::server::RateLimit>> {
    if text == "off" {
        return Ok(None);
    }
    let (burst, per_second) = text
        .split_once('/')
        .ok_or_else(|| anyhow!("--rate-limit: expected BURST/PER_SECOND or off, got {text}"))?;
    Ok(Some(matrix_api_runtime::server::RateLimit {
        burst: burst.parse().context("--rate-limit burst")?,
        per_second: per_second.parse().context("--rate-limit per second")?,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::MigrateDb { from, to, data_dir }) = &args.command {
        return migrate_db(from, to, data_dir);
    }
    // What the server noticed but could not answer for (a dropped EDU, a
    // failed delivery), on stderr; `RUST_LOG` chooses how much (`info` by default).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let mut config = match args.db.to_str().filter(|db| server::store::is_postgres_url(db)) {
        Some(url) => server::Config::postgres(
            &args.server_name,
            url,
            args.data_dir.as_deref().unwrap_or(Path::new(".")),
        ),
        None if args.data_dir.is_some() => {
            return Err(anyhow!(
                "--data-dir is for PostgreSQL; with SQLite the files are beside the database"
            ))
        }
        None => server::Config::new(&args.server_name, &args.db),
    };
    if let Some(dir) = args.media_dir {
        config.media_dir = dir;
    }
    config.public_url = Some(args.public_url.unwrap_or_else(|| format!("http://{address}")));
    config.rate_limit = rate_limit(&args.rate_limit)?;
    if let (Some(certificate), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = server::federation::tls::TlsFiles {
            certificate,
            key,
            create_if_missing: false,
        };
    }
    config.verify_remote_certificates = !args.insecure_skip_certificate_checks;
    config.dns_server = args.dns_server;
    config.smtp = args.smtp;
    config.appservices = args.appservices;
    if let Some(from) = args.mail_from {
        config.mail_from = from;
    }
    let tls = match args.federation_listen {
        Some(_) => Some(server::federation_tls(&config).map_err(|e| anyhow!(e))?),
        None => None,
    };
    config.turn = match (args.turn_uris.is_empty(), args.turn_secret) {
        (true, None) => None,
        (false, Some(secret)) => Some(server::api::TurnConfig {
            uris: args.turn_uris,
            secret,
            ttl: std::time::Duration::from_secs(24 * 3600),
        }),
        _ => return Err(anyhow!("--turn-uri and --turn-secret go together")),
    };
    let routers =
        server::routers(config).map_err(|e| anyhow!("opening {}: {e}", server::store::sql::shown(&args.db)))?;
    eprintln!("serving {} on http://{address}", args.server_name);
    let (Some(federation_address), Some(tls)) = (args.federation_listen, tls) else {
        matrix_api_runtime::server::serve(listener, routers.client).await?;
        return Ok(());
    };
    let federation_listener = tokio::net::TcpListener::bind(&federation_address)
        .await
        .with_context(|| format!("binding {federation_address}"))?;
    eprintln!(
        "federation for {} on https://{}",
        args.server_name,
        federation_listener.local_addr()?
    );
    tokio::try_join!(
        matrix_api_runtime::server::serve(listener, routers.client),
        matrix_api_runtime::server::serve_tls(
            federation_listener,
            routers.federation,
            tls,
            matrix_api_runtime::server::ConnectionTimeouts::default()
        ),
    )?;
    Ok(())
}
