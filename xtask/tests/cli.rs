//! The `cargo xtask` binary, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn codegen_is_deterministic_and_check_catches_a_one_byte_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for out in [&a, &b] {
        let o = xtask(&["codegen", "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (ta, tb) = (read_tree(&a), read_tree(&b));
    assert!(ta.len() > 100);
    assert_eq!(ta, tb, "two runs differ");

    let check = xtask(&["codegen", "--out", a.to_str().unwrap(), "--check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // One byte changed in one file.
    let victim = a.join("src/client_server/login.rs");
    let mut bytes = std::fs::read(&victim).unwrap();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    std::fs::write(&victim, bytes).unwrap();
    let check = xtask(&["codegen", "--out", a.to_str().unwrap(), "--check"]);
    assert!(!check.status.success());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(stderr.contains("changed: src/client_server/login.rs"), "{stderr}");
    assert!(stderr.contains("cargo xtask codegen"), "{stderr}");

    // A stray file is stale too.
    std::fs::copy(b.join("src/client_server/login.rs"), &victim).unwrap();
    std::fs::write(a.join("src/stray.rs"), "").unwrap();
    let check = xtask(&["codegen", "--out", a.to_str().unwrap(), "--check"]);
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("not generated: src/stray.rs"));
}

#[test]
fn committed_generated_crate_is_fresh() {
    let o = xtask(&["codegen", "--check"]);
    assert!(
        o.status.success(),
        "generated/ is stale:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bad_specs_fail_cleanly_and_leave_the_output_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("generated");
    std::fs::create_dir_all(out.join("src")).unwrap();
    std::fs::write(out.join("src/lib.rs"), "// what was there before\n").unwrap();
    let before = read_tree(&out);
    for (fixture, expect) in [
        (
            "missing-ref",
            "api/client-server/thing.yaml#/paths/~1thing/get/responses/200/content/application~1json/schema",
        ),
        ("yaml-syntax", "api/client-server/thing.yaml#: invalid YAML"),
        ("ref-cycle", "cycle"),
        ("unknown-type", "unknown type `bigint`"),
    ] {
        let spec = workspace().join("tests/fixtures/bad").join(fixture);
        let o = xtask(&[
            "codegen",
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!o.status.success(), "{fixture}: exit status was success");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{fixture}: not one line: {stderr}"
        );
        assert!(stderr.starts_with("error: "), "{fixture}: {stderr}");
        assert!(stderr.contains(expect), "{fixture}: {stderr}");
        assert!(!stderr.contains("panicked"), "{fixture}: {stderr}");
        assert_eq!(read_tree(&out), before, "{fixture}: output changed");
    }
    // No staging folders left behind.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["generated"]);
}

#[test]
fn an_unknown_release_says_where_it_looked() {
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["codegen", "--spec", "v9.99", "--check"])
        .env("MATRIX_SPEC_ROOT", "/nonexistent/spec-root")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("/nonexistent/spec-root/v9.99/api"), "{stderr}");
    assert!(stderr.contains("MATRIX_SPEC_ROOT"), "{stderr}");
}

#[test]
fn stats_json_reports_every_family_and_nothing_unhandled_for_v1_19() {
    let o = xtask(&["stats", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["spec"], "v1.19");
    let fams = stats["families"].as_object().unwrap();
    let ops: u64 = fams.values().map(|f| f["operations"].as_u64().unwrap()).sum();
    assert_eq!(ops, 235);
    assert_eq!(fams["client-server"]["operations"], 166);
    assert_eq!(fams["push-gateway"]["operations"], 1);
    assert!(stats["events"]["event_schemas"].as_u64().unwrap() > 70);
    assert_eq!(
        stats["unhandled"].as_array().unwrap().len(),
        0,
        "{}",
        stats["unhandled"]
    );
    // The example checker ran against the committed crate.
    assert!(fams["client-server"]["examples_passed"].as_u64().unwrap() > 600);
}

#[test]
fn diff_cli_formats_rules_and_exit_status() {
    let rules = xtask(&["diff", "--rules"]);
    assert!(rules.status.success());
    let text = String::from_utf8_lossy(&rules.stdout);
    assert!(
        text.contains("field-added-required") && text.contains("parameter-renamed"),
        "{text}"
    );

    let json = xtask(&["diff", "v1.17", "v1.18", "--format", "json"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["format"], "matrix-codegen-diff/1");
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("v1.17"), Some("v1.18")));
    let change = &v["changes"][0];
    for key in ["rule", "subject", "detail", "breaking"] {
        assert!(!change[key].is_null(), "change lacks `{key}`: {change}");
    }
    assert_eq!(
        v["summary"]["changes"].as_u64().unwrap() as usize,
        v["changes"].as_array().unwrap().len()
    );

    // --fail-on: v1.17 → v1.18 removes endpoints, which breaks clients.
    let fail = xtask(&[
        "diff",
        "v1.17",
        "v1.18",
        "--breaking-only",
        "--format",
        "markdown",
        "--fail-on",
        "breaking",
    ]);
    assert_eq!(fail.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&fail.stdout).starts_with("## v1.17 → v1.18"));
    let same = xtask(&["diff", "v1.18", "v1.18", "--fail-on", "breaking"]);
    assert!(same.status.success());
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 changes"));
}

#[test]
fn history_reports_first_release_changes_and_disagreements() {
    let o = xtask(&["history", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"].as_str().unwrap().contains(name))
            .unwrap()
            .clone()
    };
    let sign = find("(askPolicyServerToSign)");
    assert_eq!(sign["first_release"], "v1.18");
    let typing = entries
        .iter()
        .find(|e| e["kind"] == "event" && e["name"] == "m.typing")
        .unwrap();
    // The archived releases are on the timeline: m.typing is in the first, of 2015.
    assert_eq!(typing["first_release"], "r0.0.0");
    assert!(typing["changed_in"].as_array().unwrap().contains(&"v1.3".into()));
    assert!(entries
        .iter()
        .any(|e| !e["disagreements"].as_array().unwrap().is_empty()));
    assert!(entries.len() > 300);
}

/// `bench --quick` runs every benchmark's harness end to end (debug builds,
/// small inputs; compile is skipped in quick mode) and writes the report
/// and chart, so the harness cannot rot unnoticed. Its figures are not
/// checked: benchmarks never gate the tests.
#[test]
fn bench_quick_writes_a_report_and_a_chart() {
    let out = xtask(&["bench", "all", "--quick"]);
    assert!(
        out.status.success(),
        "bench --quick failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(workspace().join("target/bench/report.md")).unwrap();
    for benchmark in [
        "| codegen |",
        "| decode |",
        "| server |",
        "| send |",
        "| federate |",
        "| diff |",
    ] {
        assert!(report.contains(benchmark), "no {benchmark} row in:\n{report}");
    }
    assert!(report.contains("openapi-generator"), "{report}");
    let chart = std::fs::read_to_string(workspace().join("target/bench/ratios.svg")).unwrap();
    assert!(
        chart.starts_with("<svg") && chart.matches("<rect").count() >= 6,
        "{chart}"
    );
}
