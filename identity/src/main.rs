//! `cargo run -p identity-server -- --server-name id.example.org --listen 127.0.0.1:8090 --db identity.db --smtp 127.0.0.1:25`

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "A Matrix identity server built on the generated identity-service stubs")]
struct Args {
    /// The name clients and homeservers reach it by (`host[:port]`).
    #[arg(long, env = "IDENTITY_SERVER_NAME")]
    server_name: String,
    /// Address to serve HTTPS on.
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "127.0.0.1:8090")]
    listen: String,
    /// SQLite database file (created at start).
    #[arg(long, env = "IDENTITY_DB", default_value = "identity.db")]
    db: PathBuf,
    /// The SMTP relay mail goes through (`HOST:PORT`, plain).
    #[arg(long, env = "IDENTITY_SMTP", default_value = "127.0.0.1:25")]
    smtp: String,
    /// The sender of its mail [default: `noreply@<host>`].
    #[arg(long, env = "IDENTITY_MAIL_FROM")]
    mail_from: Option<String>,
    /// The TLS certificate chain and key (PEM) [default: a self-signed pair
    /// made beside the database].
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Accept homeservers' certificates unchecked (test setups only).
    #[arg(long)]
    insecure_skip_certificate_checks: bool,
    /// The DNS server (`IP:PORT`) to resolve homeservers with.
    #[arg(long, env = "IDENTITY_DNS_SERVER")]
    dns_server: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = identity_server::Config::new(&args.server_name, &args.db);
    config.smtp = args.smtp;
    if let Some(from) = args.mail_from {
        config.mail_from = from;
    }
    config.verify_certificates = !args.insecure_skip_certificate_checks;
    config.dns_server = args.dns_server;
    let beside_db = |suffix: &str| {
        let mut path = args.db.as_os_str().to_owned();
        path.push(suffix);
        PathBuf::from(path)
    };
    let tls_files = server::federation::tls::TlsFiles {
        create_if_missing: args.tls_cert.is_none(),
        certificate: args.tls_cert.unwrap_or_else(|| beside_db(".tls.crt")),
        key: args.tls_key.unwrap_or_else(|| beside_db(".tls.key")),
    };
    let tls = server::federation::tls::server_config(&tls_files, &args.server_name).map_err(anyhow::Error::msg)?;
    let router = identity_server::router(&config).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    eprintln!("identity server {} on https://{address}", args.server_name);
    matrix_api_runtime::server::serve_tls(
        listener,
        router,
        tls,
        matrix_api_runtime::server::ConnectionTimeouts::default(),
    )
    .await?;
    Ok(())
}
