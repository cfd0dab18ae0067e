//! server: requests per second and p99 latency of one endpoint served
//! through the generated router and trait, against the same handler written
//! directly in axum, under wrk (Debian's package) on loopback, time-bounded;
//! and the same two routers called in process, without the network, whose
//! time per request is the routers' own work alone.

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

fn serve(exe: &std::path::Path, which: &str) -> Result<(Served, String, u32)> {
    let mut child = Command::new(exe)
        .args([which, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the {which} server"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let pid = child.id();
    let served = Served(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .context("the server did not say where it listens")?;
    Ok((served, format!("http://{address}"), pid))
}

/// One measured load: what wrk saw, and the CPU the server spent.
#[derive(Clone, Copy, Debug)]
struct Measured {
    rps: f64,
    p99_ms: f64,
    /// Server CPU time (user + system) per request, in microseconds.
    cpu_us: f64,
}

/// CPU time (user + system) a process has used, in clock ticks, from
/// `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc/PID/stat")?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = &stat[stat.rfind(')').context("odd /proc/PID/stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> { Ok(fields.get(i).context("short /proc/PID/stat")?.parse::<f64>()?) };
    Ok(ticks(11)? + ticks(12)?)
}

/// Clock ticks per second (`getconf CLK_TCK`), the unit of `cpu_ticks`.
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Total requests from wrk's `N requests in …` line.
fn parse_requests(text: &str) -> Result<f64> {
    text.lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse::<f64>().ok())
        .context("no request count in wrk's output")
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

fn load(url: &str, seconds: u32, server: u32) -> Result<Measured> {
    let before = cpu_ticks(server)?;
    let output = tools::run(
        Command::new("wrk").args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency", url]),
        "wrk (install Debian's `wrk` package)",
    )?;
    let cpu = (cpu_ticks(server)? - before) / ticks_per_second();
    let text = String::from_utf8_lossy(&output.stdout);
    let (rps, p99_ms) = parse_wrk(&text)?;
    let requests = parse_requests(&text)?;
    Ok(Measured {
        rps,
        p99_ms,
        cpu_us: cpu * 1e6 / requests.max(1.0),
    })
}

/// The median of a few figures.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Two servers measured in alternating rounds (A B A B …) so that a slow
/// phase of the machine hits both alike; medians of the rounds.
fn compare(exe: &std::path::Path, pair: [&str; 2], rounds: usize, seconds: u32) -> Result<[Measured; 2]> {
    let path = "/_matrix/client/v3/profile/%40alice%3Aexample.org/displayname";
    let mut figures: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (i, which) in pair.iter().enumerate() {
            let (_served, base, pid) = serve(exe, which)?;
            load(&format!("{base}{path}"), 1, pid)?; // warm-up
            figures[i].push(load(&format!("{base}{path}"), seconds, pid)?);
        }
    }
    Ok(figures.map(|f| Measured {
        rps: median(f.iter().map(|x| x.rps).collect()),
        p99_ms: median(f.iter().map(|x| x.p99_ms).collect()),
        cpu_us: median(f.iter().map(|x| x.cpu_us).collect()),
    }))
}

/// Nanoseconds per request of each variant called in process, as `serve
/// in-process N` prints them (`VARIANT NS` lines).
fn in_process(exe: &std::path::Path, requests: u32) -> Result<std::collections::BTreeMap<String, f64>> {
    let output = tools::run(
        Command::new(exe).args(["in-process", &requests.to_string()]),
        "serve in-process",
    )?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (variant, ns) = line.split_once(' ').context("odd `serve in-process` line")?;
            Ok((variant.to_owned(), ns.trim().parse::<f64>()?))
        })
        .collect()
}

pub fn run(cx: &Context) -> Result<Vec<Row>> {
    let exe = tools::bench_binary(cx, "serve", &[])?;
    let (rounds, seconds) = if cx.quick { (1, 2) } else { (5, 4) };
    let method = format!("wrk, 32 connections, median of {rounds} × {seconds} s");
    let mut rows = Vec::new();
    let requests = if cx.quick { 2_000 } else { 200_000 };
    let ns = in_process(&exe, requests)?;
    for (ours, theirs, what) in [
        ("generated", "axum-cors", "with CORS"),
        ("generated-no-cors", "axum", "without CORS"),
    ] {
        rows.push(Row {
            benchmark: "server",
            measurement: format!(
                "GET profile field, {what}: time per request in process, no network (median of 5 × {requests})"
            ),
            ours: ns[ours],
            baseline_name: format!("the same handler written directly in axum, {what}"),
            baseline: ns[theirs],
            unit: "ns",
            higher_is_better: false,
            goal: Some(1.02),
            note: "both decode the same typed values (a checked UserId); the routers' own work, which wrk's \
                   figures share with the kernel's"
                .into(),
        });
    }
    // With CORS on both sides is what a Matrix server really runs; without,
    // the router's own cost shows alone.
    for (ours, theirs, what) in [
        (
            "generated",
            "axum-cors",
            "with the CORS layer the client-server API requires",
        ),
        ("generated-no-cors", "axum", "without CORS"),
    ] {
        let [mine, baseline] = compare(&exe, [ours, theirs], rounds, seconds)?;
        let name = format!("the same handler written directly in axum, {what}");
        rows.push(Row {
            benchmark: "server",
            measurement: format!("GET profile field, {what}: requests/s ({method})"),
            ours: mine.rps,
            baseline_name: name.clone(),
            baseline: baseline.rps,
            unit: "req/s",
            higher_is_better: true,
            goal: Some(0.95),
            note: "generated router: typed path decoding, credentials, typed response".into(),
        });
        rows.push(Row {
            benchmark: "server",
            measurement: format!("GET profile field, {what}: server CPU per request (user + system)"),
            ours: mine.cpu_us,
            baseline_name: name.clone(),
            baseline: baseline.cpu_us,
            unit: "µs",
            higher_is_better: false,
            goal: None,
            note: "from /proc: steadier than requests/s, which the load generator's core also bounds".into(),
        });
        rows.push(Row {
            benchmark: "server",
            measurement: format!("GET profile field, {what}: p99 latency"),
            ours: mine.p99_ms,
            baseline_name: name,
            baseline: baseline.p99_ms,
            unit: "ms",
            higher_is_better: false,
            goal: None,
            note: String::new(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_own_cpu_time() {
        assert!(super::cpu_ticks(std::process::id()).unwrap() >= 0.0);
        assert!(super::ticks_per_second() > 0.0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn reads_wrk_output() {
        let text = "  Latency Distribution\n     50%  1.00ms\n     99%  850.00us\n  206172 requests in 5.00s, 30.0MB read\nRequests/sec:  41234.56\n";
        let (rps, p99) = super::parse_wrk(text).unwrap();
        assert_eq!(super::parse_requests(text).unwrap(), 206172.0);
        assert!((rps - 41234.56).abs() < 1e-6);
        assert!((p99 - 0.85).abs() < 1e-9);
    }
}
