//! `cargo run -p matrix-examples --bin echo-bridge -- --homeserver http://127.0.0.1:8008 --server-name localhost --registration echo.yaml`
//!
//! The echo bridge: writes its registration file (new tokens the first
//! time; give the file to the homeserver) and serves the homeserver's
//! requests.

use anyhow::Context;
use clap::Parser;
use matrix_api::application_service::Registration;
use matrix_examples::bridge::{Bridge, BridgeConfig};

#[derive(Parser)]
struct Args {
    /// The homeserver's client-server base URL.
    #[arg(long)]
    homeserver: String,
    /// The homeserver's name.
    #[arg(long)]
    server_name: String,
    /// Where the bridge listens (the URL in its registration).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: String,
    /// The registration file: read if it exists, else written.
    #[arg(long, default_value = "echo-registration.yaml")]
    registration: std::path::PathBuf,
}

/// A new random token.
fn token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let (as_token, hs_token) = match std::fs::read_to_string(&args.registration) {
        Ok(text) => {
            let existing: Registration =
                serde_norway::from_str(&text).with_context(|| format!("reading {}", args.registration.display()))?;
            (existing.as_token, existing.hs_token)
        }
        Err(_) => (token(), token()),
    };
    let config = BridgeConfig {
        homeserver: args.homeserver,
        server_name: args.server_name,
        as_token,
        hs_token,
        sender_localpart: "echobot".to_owned(),
    };
    let url = format!("http://{}", args.listen);
    let yaml = serde_norway::to_string(&config.registration(&url))?;
    std::fs::write(&args.registration, yaml).with_context(|| format!("writing {}", args.registration.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!("echo bridge on {url}; registration in {}", args.registration.display());
    let bridge = Bridge::start(config);
    matrix_api_runtime::server::serve(listener, bridge.router()).await?;
    Ok(())
}
