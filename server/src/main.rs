//! `cargo run -p server -- --server-name localhost --listen 127.0.0.1:8008 --db homeserver.db`

use anyhow::{anyhow, Context};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "A small Matrix homeserver built on the generated stubs")]
struct Args {
    /// The server name in user and room IDs.
    #[arg(long, env = "MATRIX_SERVER_NAME", default_value = "localhost")]
    server_name: String,
    /// Address to listen on.
    #[arg(long, env = "MATRIX_LISTEN", default_value = "127.0.0.1:8008")]
    listen: String,
    /// SQLite database file (created, migrated at start).
    #[arg(long, env = "MATRIX_DB", default_value = "homeserver.db")]
    db: PathBuf,
    /// Folder for uploaded media [default: `<db>.media` beside the database].
    #[arg(long, env = "MATRIX_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// URL clients reach this server at, served by `/.well-known/matrix/client`
    /// [default: `http://<listen address>`].
    #[arg(long, env = "MATRIX_PUBLIC_URL")]
    public_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let mut config = server::Config::new(&args.server_name, &args.db);
    if let Some(dir) = args.media_dir {
        config.media_dir = dir;
    }
    config.public_url = Some(args.public_url.unwrap_or_else(|| format!("http://{address}")));
    let router = server::router_with(config).map_err(|e| anyhow!("opening {}: {e}", args.db.display()))?;
    eprintln!("serving {} on http://{address}", args.server_name);
    matrix_api_runtime::server::serve(listener, router).await?;
    Ok(())
}
