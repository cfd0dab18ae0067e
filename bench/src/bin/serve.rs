//! `serve VARIANT ADDRESS`: serves one endpoint,
//! `GET /_matrix/client/v3/profile/{userId}/{keyName}`, either through the
//! generated router and trait, or written directly in axum, with the same
//! handler work (build the answer from the path parameters), each with or
//! without the CORS layer the client-server API requires. A load generator
//! then measures them.
//!
//! One runtime thread: the load generator takes the machine's other core,
//! so what is measured is each server's work per request, not how the two
//! share cores.

use anyhow::{bail, Context, Result};
use axum::extract::Path;
use axum::Json;
use matrix_api::client_server::endpoints::{self as cs, ClientServerApi};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The work both servers do for a request.
fn answer(user_id: &str, key_name: &str) -> (String, Value) {
    (key_name.to_owned(), json!(format!("display name of {user_id}")))
}

struct Generated;

impl ClientServerApi for Generated {
    async fn get_profile_field(
        &self,
        request: cs::get_profile_field::Request,
        _: Credentials,
    ) -> Result<cs::get_profile_field::Response, MatrixError> {
        let (key, value) = answer(&request.path.user_id, &request.path.key_name);
        Ok(cs::get_profile_field::Response::Ok(BTreeMap::from([(key, value)])))
    }
}

async fn handwritten(Path((user_id, key_name)): Path<(String, String)>) -> Json<Value> {
    let (key, value) = answer(&user_id, &key_name);
    Json(json!({ key: value }))
}

fn handwritten_router() -> axum::Router {
    axum::Router::new().route(
        "/_matrix/client/v3/profile/{user_id}/{key_name}",
        axum::routing::get(handwritten),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .context("usage: serve generated|generated-no-cors|axum|axum-cors ADDRESS")?;
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let router = match which.as_str() {
        "generated" => cs::router(Generated),
        // Without the CORS headers the client-server API requires, to show their cost.
        "generated-no-cors" => cs::router_with_config(
            Generated,
            matrix_api_runtime::server::ServerConfig {
                cors: false,
                ..Default::default()
            },
        ),
        "axum" => handwritten_router(),
        "axum-cors" => handwritten_router().layer(matrix_api_runtime::server::cors_layer()),
        other => bail!("unknown server `{other}` (generated, generated-no-cors, axum or axum-cors)"),
    };
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
