//! `serve VARIANT ADDRESS`: serves one endpoint,
//! `GET /_matrix/client/v3/profile/{userId}/{keyName}`, either through the
//! generated router and trait, or written directly in axum, with the same
//! handler work (build the answer from the path parameters), each with or
//! without the CORS layer the client-server API requires. A load generator
//! then measures them.
//!
//! `serve in-process N`: the same two routers called in this process, `N`
//! requests each, alternating rounds, with no network: the routers' own
//! cost per request, which wrk's figures hide behind the kernel's.
//!
//! One runtime thread: the load generator takes the machine's other core,
//! so what is measured is each server's work per request, not how the two
//! share cores.

use anyhow::{bail, Context, Result};
use axum::extract::Path;
use axum::Json;
use matrix_api::client_server::endpoints::{self as cs, ClientServerApi};
use matrix_api::UserId;
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

/// The same typed values as the generated router's: a user ID checked as
/// one (the generated `Path` holds a `UserId`), and the key.
async fn handwritten(Path((user_id, key_name)): Path<(UserId, String)>) -> Json<Value> {
    let (key, value) = answer(&user_id, &key_name);
    Json(json!({ key: value }))
}

fn handwritten_router() -> axum::Router {
    axum::Router::new().route(
        "/_matrix/client/v3/profile/{user_id}/{key_name}",
        axum::routing::get(handwritten),
    )
}

fn router(which: &str) -> Result<axum::Router> {
    Ok(match which {
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
    })
}

const PATH: &str = "/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname";

/// Nanoseconds per request of `router` over `n` requests, called in
/// process: the request as wrk sends it, the answer's body read whole.
async fn per_request(router: &axum::Router, n: u32) -> Result<f64> {
    use tower::ServiceExt;
    let started = std::time::Instant::now();
    for _ in 0..n {
        let request = axum::http::Request::get(PATH)
            .header("host", "127.0.0.1")
            .body(axum::body::Body::empty())?;
        let response = router.clone().oneshot(request).await?;
        anyhow::ensure!(response.status() == 200, "status {}", response.status());
        std::hint::black_box(axum::body::to_bytes(response.into_body(), 1 << 16).await?);
    }
    Ok(started.elapsed().as_nanos() as f64 / f64::from(n))
}

/// Prints `VARIANT NS` per variant: the median of alternating rounds.
async fn in_process(n: u32) -> Result<()> {
    let variants = ["generated", "axum", "generated-no-cors", "axum-cors"];
    // Routes turned into services once, as `axum::serve` does before the
    // first request (an unconverted router does it on every request).
    let routers = variants.map(|v| router(v).expect("a known variant").with_state(()));
    let mut figures: [Vec<f64>; 4] = Default::default();
    for router in &routers {
        per_request(router, n / 10 + 1).await?; // warm-up
    }
    for _ in 0..5 {
        for (router, figures) in routers.iter().zip(&mut figures) {
            figures.push(per_request(router, n).await?);
        }
    }
    for (variant, mut figures) in variants.into_iter().zip(figures) {
        figures.sort_by(f64::total_cmp);
        println!("{variant} {:.1}", figures[figures.len() / 2]);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let which = args
        .next()
        .context("usage: serve generated|generated-no-cors|axum|axum-cors ADDRESS, or serve in-process N")?;
    if which == "in-process" {
        let n = args.next().map_or(Ok(100_000), |n| n.parse()).context("N: a number")?;
        return in_process(n).await;
    }
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let router = router(&which)?;
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}
