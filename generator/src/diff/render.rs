//! A diff report as text (for a terminal), Markdown (for release notes) or
//! JSON (a stable shape: see `docs/diff-json.md`).

use super::rules::Breaking;
use super::{Change, Report, Subject};
use std::collections::BTreeMap;
use std::fmt::Write;

fn marks(b: &Breaking) -> String {
    let mut m = Vec::new();
    if b.client {
        m.push("client");
    }
    if b.server {
        m.push("server");
    }
    if b.rust {
        m.push("rust");
    }
    if m.is_empty() {
        "compatible".into()
    } else {
        format!("breaks {}", m.join("+"))
    }
}

/// The changes of one subject (an operation, schema or event), by label.
type SubjectChanges<'a> = (String, Vec<&'a Change>);

/// Groups changes by section and subject, in report order.
fn grouped(report: &Report) -> Vec<(&'static str, Vec<SubjectChanges<'_>>)> {
    let mut sections: Vec<(&'static str, BTreeMap<String, Vec<&Change>>)> = vec![
        ("Operations", BTreeMap::new()),
        ("Schemas", BTreeMap::new()),
        ("Events", BTreeMap::new()),
    ];
    for c in &report.changes {
        let i = match c.subject {
            Subject::Operation { .. } => 0,
            Subject::Schema { .. } => 1,
            Subject::Event { .. } => 2,
        };
        sections[i].1.entry(c.subject.label()).or_default().push(c);
    }
    sections
        .into_iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(n, m)| (n, m.into_iter().collect()))
        .collect()
}

fn summary(report: &Report) -> String {
    let (client, server, rust) = report.counts();
    format!(
        "{} → {}: {} changes; breaking: {client} for clients, {server} for servers, {rust} for Rust code",
        report.from,
        report.to,
        report.changes.len()
    )
}

pub fn text(report: &Report, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint("1", &summary(report)));
    for (section, subjects) in grouped(report) {
        let _ = writeln!(out, "\n{}", paint("1;4", section));
        for (label, changes) in subjects {
            let _ = writeln!(out, "  {}", paint("1", &label));
            for c in &changes {
                let tag = marks(&c.breaking);
                let tag = if c.breaking.any() {
                    paint("31", &tag)
                } else {
                    paint("32", &tag)
                };
                let _ = writeln!(out, "    - {} [{}; {}]", c.detail, c.rule, tag);
            }
            if let Some(reaches) = changes.iter().find(|c| !c.reaches.is_empty()).map(|c| &c.reaches) {
                let _ = writeln!(out, "    reaches: {}", reaches.join(", "));
            }
        }
    }
    out
}

pub fn markdown(report: &Report) -> String {
    let mut out = format!("## {}\n", summary(report));
    for (section, subjects) in grouped(report) {
        let _ = writeln!(out, "\n### {section}\n");
        for (label, changes) in subjects {
            let _ = writeln!(out, "- **`{label}`**");
            for c in &changes {
                let _ = writeln!(out, "  - {} — `{}`, {}", c.detail, c.rule, marks(&c.breaking));
            }
            if let Some(reaches) = changes.iter().find(|c| !c.reaches.is_empty()).map(|c| &c.reaches) {
                let list: Vec<String> = reaches.iter().map(|r| format!("`{r}`")).collect();
                let _ = writeln!(out, "  - reaches: {}", list.join(", "));
            }
        }
    }
    out
}

pub fn json(report: &Report) -> String {
    let (client, server, rust) = report.counts();
    let value = serde_json::json!({
        "format": "matrix-codegen-diff/1",
        "from": report.from,
        "to": report.to,
        "summary": {
            "changes": report.changes.len(),
            "breaking_client": client,
            "breaking_server": server,
            "breaking_rust": rust,
        },
        "changes": report.changes,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

pub fn rules_table() -> String {
    let mut out = String::from(
        "rule                              client/server on the wire (in requests | in responses); rust\n",
    );
    for r in super::rules::RULES {
        let who = |w: super::rules::Who| match w {
            super::rules::Who::Nobody => "-",
            super::rules::Who::Client => "client",
            super::rules::Who::Server => "server",
            super::rules::Who::Both => "both",
        };
        let _ = writeln!(
            out,
            "{:<34}{:>7} | {:<7} {:<5} {}",
            r.id,
            who(r.request),
            who(r.response),
            if r.rust { "rust" } else { "-" },
            r.summary
        );
    }
    out
}
