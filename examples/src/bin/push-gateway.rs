//! `cargo run -p matrix-examples --bin push-gateway -- --listen 127.0.0.1:5000 --device org.example.app:PUSHKEY`
//!
//! A push gateway that logs each notification it delivers and rejects
//! pushkeys it was not told of.

use anyhow::Context;
use clap::Parser;
use matrix_examples::push_gateway::PushGateway;

#[derive(Parser)]
struct Args {
    /// Where to listen (loopback by default; put TLS in front of it).
    #[arg(long, default_value = "127.0.0.1:5000")]
    listen: String,
    /// A device it delivers to, as `APP_ID:PUSHKEY` (repeatable).
    #[arg(long = "device")]
    devices: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let gateway = PushGateway::default();
    for device in &args.devices {
        let (app_id, pushkey) = device
            .split_once(':')
            .with_context(|| format!("--device {device}: expected APP_ID:PUSHKEY"))?;
        gateway.learn(app_id, pushkey);
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!(
        "push gateway on http://{}/_matrix/push/v1/notify",
        listener.local_addr()?
    );
    matrix_api_runtime::server::serve(listener, gateway.router()).await?;
    Ok(())
}
