//! `decode SPEC_DIR ITERATIONS`: times decoding (bytes → typed response) and
//! encoding (typed → bytes) of one large `/sync` response: the generated
//! types, `serde_json::Value` as the baseline, and Ruma's sync response
//! (with the `ruma` feature). Prints one JSON object of medians in seconds.

use anyhow::{Context, Result};
use matrix_api::client_server::endpoints::sync;
use matrix_api_runtime::{ClientResponse, Encoded, EndpointResponse, HttpResponse};
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Measurements taken in turns: one run of each per round, so that all
/// see the same machine (on a shared VM the speed drifts within seconds,
/// and measuring ours then Ruma's would compare two different machines).
#[derive(Default)]
struct Rounds<'a> {
    measurements: Vec<(&'static str, Measurement<'a>)>,
}

/// One run of one measurement.
type Measurement<'a> = Box<dyn FnMut() -> Result<()> + 'a>;

impl<'a> Rounds<'a> {
    fn add(&mut self, name: &'static str, f: impl FnMut() -> Result<()> + 'a) {
        self.measurements.push((name, Box::new(f)));
    }

    /// Median seconds per measurement over `iterations` rounds, after one
    /// warm-up round (so a closure that consumes prepared inputs needs
    /// `iterations + 1` of them).
    fn run(mut self, iterations: usize) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut samples = vec![Vec::with_capacity(iterations); self.measurements.len()];
        for round in 0..=iterations {
            for (i, (_, f)) in self.measurements.iter_mut().enumerate() {
                let t = Instant::now();
                f()?;
                if round > 0 {
                    samples[i].push(t.elapsed().as_secs_f64());
                }
            }
        }
        Ok(self
            .measurements
            .iter()
            .zip(samples)
            .map(|((name, _), runs)| ((*name).to_owned(), json!(median(runs))))
            .collect())
    }
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

    let value: serde_json::Value = serde_json::from_slice(&body)?;
    let mut rounds = Rounds::default();
    rounds.add("ours_decode", || {
        black_box(sync::Response::from_http(http(&body)).map_err(anyhow::Error::msg)?);
        Ok(())
    });
    // Every timeline and state event then decoded into its kind's enum (what
    // a client reading them pays; compare with Ruma's deep figure).
    rounds.add("ours_decode_deep", || {
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
    });
    let decoded = sync::Response::from_http(http(&body)).map_err(anyhow::Error::msg)?;
    let mut copies = vec![decoded; iterations + 1];
    rounds.add("ours_encode", move || {
        let one = copies.pop().context("out of copies")?;
        black_box(one.into_http().map_err(anyhow::Error::msg)?);
        Ok(())
    });
    rounds.add("value_decode", || {
        black_box(serde_json::from_slice::<serde_json::Value>(&body)?);
        Ok(())
    });
    rounds.add("value_encode", || {
        black_box(serde_json::to_vec(&value)?);
        Ok(())
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
        rounds.add("ruma_decode", move || {
            black_box(RumaSync::try_from_http_response(request()).map_err(|e| anyhow::anyhow!("{e}"))?);
            Ok(())
        });
        // Ruma keeps events as raw JSON until asked; a client reading them
        // pays for this too.
        rounds.add("ruma_decode_deep", move || {
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
        });
        let decoded = RumaSync::try_from_http_response(request()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut copies = vec![decoded; iterations + 1];
        rounds.add("ruma_encode", move || {
            black_box(
                copies
                    .pop()
                    .context("out of copies")?
                    .try_into_http_response::<Vec<u8>>()
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            );
            Ok(())
        });
    }
    let mut result = rounds.run(iterations)?;
    result.insert("bytes".to_owned(), json!(body.len()));
    println!("{}", serde_json::Value::Object(result));
    Ok(())
}
