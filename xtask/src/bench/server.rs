//! server: requests per second and p99 latency of one endpoint served
//! through the generated router and trait, against the same handler written
//! directly in axum, under wrk (Debian's package) on loopback, time-bounded.

use super::{tools, Context, Row};
use anyhow::{bail, Context as _, Result};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A served benchmark program, stopped when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(exe: &std::path::Path, which: &str) -> Result<(Served, String)> {
    let mut child = Command::new(exe)
        .args([which, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the {which} server"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let served = Served(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .context("the server did not say where it listens")?;
    Ok((served, format!("http://{address}")))
}

/// `(requests per second, p99 latency in ms)` from wrk's `--latency` output.
fn parse_wrk(text: &str) -> Result<(f64, f64)> {
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .context("no Requests/sec in wrk's output")?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .context("no 99% latency in wrk's output")?;
    let ms = if let Some(v) = p99.strip_suffix("us") {
        v.parse::<f64>()? / 1000.0
    } else if let Some(v) = p99.strip_suffix("ms") {
        v.parse::<f64>()?
    } else if let Some(v) = p99.strip_suffix('s') {
        v.parse::<f64>()? * 1000.0
    } else {
        bail!("unexpected latency `{p99}`")
    };
    Ok((rps, ms))
}

fn load(url: &str, seconds: u32) -> Result<(f64, f64)> {
    let output = tools::run(
        Command::new("wrk").args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency", url]),
        "wrk (install Debian's `wrk` package)",
    )?;
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let exe = tools::bench_binary(cx, "serve", &[])?;
    let seconds = if cx.quick { 2 } else { 10 };
    let path = "/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname";
    let mut results = Vec::new();
    for which in ["generated", "axum"] {
        let (_served, base) = serve(&exe, which)?;
        load(&format!("{base}{path}"), 1)?; // warm-up
        results.push(load(&format!("{base}{path}"), seconds)?);
    }
    let ((ours_rps, ours_p99), (axum_rps, axum_p99)) = (results[0], results[1]);
    let name = "the same handler written directly in axum".to_owned();
    Ok(vec![
        Row {
            benchmark: "server",
            measurement: format!("GET profile field: requests/s (wrk, 32 connections, {seconds} s)"),
            ours: ours_rps,
            baseline_name: name.clone(),
            baseline: axum_rps,
            unit: "req/s",
            higher_is_better: true,
            goal: Some(0.95),
            note: "generated router: path decoding, auth check, CORS, typed response".into(),
        },
        Row {
            benchmark: "server",
            measurement: "GET profile field: p99 latency".into(),
            ours: ours_p99,
            baseline_name: name,
            baseline: axum_p99,
            unit: "ms",
            higher_is_better: false,
            goal: None,
            note: String::new(),
        },
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrk_output() {
        let text = "  Latency Distribution\n     50%  1.00ms\n     99%  850.00us\nRequests/sec:  41234.56\n";
        let (rps, p99) = super::parse_wrk(text).unwrap();
        assert!((rps - 41234.56).abs() < 1e-6);
        assert!((p99 - 0.85).abs() < 1e-9);
    }
}
