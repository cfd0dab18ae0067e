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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let router =
        server::router(&args.server_name, &args.db).map_err(|e| anyhow!("opening {}: {e}", args.db.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!("serving {} on http://{}", args.server_name, listener.local_addr()?);
    matrix_api_runtime::server::serve(listener, router).await?;
    Ok(())
}
