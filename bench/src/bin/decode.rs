//! `decode SPEC_DIR ITERATIONS`: times decoding (bytes → typed response) and
//! encoding (typed → bytes) of one large `/sync` response: the generated
//! types, `serde_json::Value` as the baseline, and Ruma's sync response
//! (with the `ruma` feature). Prints one JSON object of medians in seconds.

use anyhow::{Context, Result};
use matrix_api::client_server::endpoints::sync;
use matrix_api_runtime::{Encoded, EndpointResponse, HttpResponse};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median time of `iterations` runs of `f`, after one warm-up run (so a
/// closure that consumes prepared inputs needs `iterations + 1` of them).
fn time(iterations: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up
    let mut runs = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        f()?;
        runs.push(t.elapsed().as_secs_f64());
    }
    Ok(median(runs))
}

fn http(bytes: &bytes::Bytes) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Encoded {
            content_type: Some("application/json".into()),
            bytes: bytes.clone(),
        },
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let spec = args.next().context("usage: decode SPEC_DIR ITERATIONS")?;
    let iterations: usize = args.next().unwrap_or_else(|| "10".into()).parse()?;
    let body = bytes::Bytes::from(matrix_bench::fixture::sync_response(spec.as_ref(), 200, 50)?);

    let ours_decode = time(iterations, || {
        black_box(sync::Response::from_http(http(&body)).map_err(anyhow::Error::msg)?);
        Ok(())
    })?;
    // Every timeline and state event then decoded into its kind's enum (what
    // a client reading them pays; compare with Ruma's deep figure).
    let ours_decode_deep = time(iterations, || {
        let sync::Response::Ok(response) = sync::Response::from_http(http(&body)).map_err(anyhow::Error::msg)?;
        let joined = response
            .rooms
            .iter()
            .flat_map(|r| r.join.iter().flatten())
            .map(|(_, room)| room);
        for room in joined {
            for event in room.timeline.iter().flat_map(|t| &t.events) {
                let _ = black_box(event.deserialize());
            }
            for event in room.state.iter().flat_map(|s| s.events.iter().flatten()) {
                let _ = black_box(event.deserialize());
            }
        }
        Ok(())
    })?;
    let decoded = sync::Response::from_http(http(&body)).map_err(anyhow::Error::msg)?;
    let mut copies = vec![decoded; iterations + 1];
    let ours_encode = time(iterations, || {
        let one = copies.pop().context("out of copies")?;
        black_box(one.into_http().map_err(anyhow::Error::msg)?);
        Ok(())
    })?;
    let value_decode = time(iterations, || {
        black_box(serde_json::from_slice::<serde_json::Value>(&body)?);
        Ok(())
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body)?;
    let value_encode = time(iterations, || {
        black_box(serde_json::to_vec(&value)?);
        Ok(())
    })?;
    #[cfg_attr(not(feature = "ruma"), allow(unused_mut))]
    let mut result = json!({
        "bytes": body.len(),
        "ours_decode": ours_decode, "ours_decode_deep": ours_decode_deep, "ours_encode": ours_encode,
        "value_decode": value_decode, "value_encode": value_encode,
    });
    #[cfg(feature = "ruma")]
    {
        use ruma::api::{IncomingResponseExt, OutgoingResponseExt};
        type RumaSync = ruma::api::client::sync::sync_events::v3::Response;
        let request = || {
            http::Response::builder()
                .status(200)
                .body(&body[..])
                .expect("a response")
        };
        result["ruma_decode"] = json!(time(iterations, || {
            black_box(RumaSync::try_from_http_response(request()).map_err(|e| anyhow::anyhow!("{e}"))?);
            Ok(())
        })?);
        // Ruma keeps events as raw JSON until asked; a client reading them
        // pays for this too.
        result["ruma_decode_deep"] = json!(time(iterations, || {
            let response = RumaSync::try_from_http_response(request()).map_err(|e| anyhow::anyhow!("{e}"))?;
            for room in response.rooms.join.values() {
                for event in &room.timeline.events {
                    let _ = black_box(event.deserialize());
                }
                if let ruma::api::client::sync::sync_events::v3::State::Before(state) = &room.state {
                    for event in &state.events {
                        let _ = black_box(event.deserialize());
                    }
                }
            }
            Ok(())
        })?);
        let decoded = RumaSync::try_from_http_response(request()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut copies = vec![decoded; iterations + 1];
        result["ruma_encode"] = json!(time(iterations, || {
            black_box(
                copies
                    .pop()
                    .context("out of copies")?
                    .try_into_http_response::<Vec<u8>>()
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            Ok(())
        })?);
    }
    println!("{result}");
    Ok(())
}
