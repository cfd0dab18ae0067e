//! Coverage figures: what the generator read, per family, and what it could
//! not express (`unhandled`), so nothing is dropped silently.

use crate::family::{Family, Module};
use crate::ir::Api;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct Stats {
    pub spec: String,
    pub families: BTreeMap<String, FamilyStats>,
    pub events: EventStats,
    /// Schema-folder types (`schemas/`) shared by all families.
    pub common_types: usize,
    pub examples: ExampleStats,
    pub unhandled: Vec<crate::diag::Unhandled>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Serialize)]
pub struct FamilyStats {
    pub operations: usize,
    pub named_types: usize,
    pub examples: usize,
    /// Filled in by the example checker when the generated crate matches this spec.
    pub examples_passed: Option<usize>,
    pub unhandled: usize,
}

#[derive(Debug, Serialize)]
pub struct EventStats {
    pub event_schemas: usize,
    pub named_types: usize,
    pub examples: usize,
    pub examples_passed: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct ExampleStats {
    pub total: usize,
    pub by_kind: BTreeMap<String, usize>,
    /// Examples that are not checked, with the reason (non-JSON bodies,
    /// example files without a matching event schema).
    pub not_checked: Vec<Warning>,
}

#[derive(Debug, Serialize)]
pub struct Warning {
    pub location: String,
    pub message: String,
}

pub fn stats(api: &Api, spec: &str) -> Stats {
    let mut families = BTreeMap::new();
    for family in Family::ALL {
        let module = Module::Family(family);
        families.insert(
            family.dir().to_owned(),
            FamilyStats {
                operations: api.operations.iter().filter(|o| o.family == family).count(),
                named_types: api.types.iter().filter(|t| t.module == module).count(),
                examples: api
                    .examples
                    .iter()
                    .filter(|e| Module::of_file(&e.location.file) == Some(module))
                    .count(),
                examples_passed: None,
                unhandled: api
                    .unhandled
                    .iter()
                    .filter(|u| u.family == family.dir() || u.file.starts_with(&format!("api/{}/", family.dir())))
                    .count(),
            },
        );
    }
    let mut by_kind = BTreeMap::new();
    for e in &api.examples {
        let key = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *by_kind.entry(key).or_insert(0) += 1;
    }
    Stats {
        spec: spec.to_owned(),
        families,
        events: EventStats {
            event_schemas: api.events.len(),
            named_types: api.types.iter().filter(|t| t.module == Module::Events).count(),
            examples: api
                .examples
                .iter()
                .filter(|e| Module::of_file(&e.location.file) == Some(Module::Events))
                .count(),
            examples_passed: None,
        },
        common_types: api.types.iter().filter(|t| t.module == Module::Common).count(),
        examples: ExampleStats {
            total: api.examples.len(),
            by_kind,
            not_checked: api
                .skipped_examples
                .iter()
                .map(|(l, m)| Warning {
                    location: l.to_string(),
                    message: m.clone(),
                })
                .collect(),
        },
        unhandled: api.unhandled.clone(),
        warnings: api
            .warnings
            .iter()
            .map(|(l, m)| Warning {
                location: l.to_string(),
                message: m.clone(),
            })
            .collect(),
    }
}

impl Stats {
    /// A short human-readable table.
    pub fn to_text(&self) -> String {
        let mut out = format!("Matrix spec {}\n", self.spec);
        out.push_str(&format!(
            "{:<22}{:>11}{:>13}{:>10}{:>9}{:>11}\n",
            "family", "operations", "named types", "examples", "passed", "unhandled"
        ));
        for (name, f) in &self.families {
            out.push_str(&format!(
                "{:<22}{:>11}{:>13}{:>10}{:>9}{:>11}\n",
                name,
                f.operations,
                f.named_types,
                f.examples,
                f.examples_passed.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                f.unhandled
            ));
        }
        out.push_str(&format!(
            "{:<22}{:>11}{:>13}{:>10}{:>9}\n",
            "events",
            format!("{} schemas", self.events.event_schemas),
            self.events.named_types,
            self.events.examples,
            self.events
                .examples_passed
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into())
        ));
        out.push_str(&format!("{:<22}{:>11}{:>13}\n", "common", "", self.common_types));
        out.push_str(&format!(
            "examples: {} ({} not checked)\n",
            self.examples.total,
            self.examples.not_checked.len()
        ));
        for w in &self.examples.not_checked {
            out.push_str(&format!("  not checked: {}: {}\n", w.location, w.message));
        }
        out.push_str(&format!("unhandled constructs: {}\n", self.unhandled.len()));
        for u in &self.unhandled {
            out.push_str(&format!("  {}#{}: {}\n", u.file, u.pointer, u.keyword));
        }
        out.push_str(&format!("warnings: {}\n", self.warnings.len()));
        for w in &self.warnings {
            out.push_str(&format!("  {}: {}\n", w.location, w.message));
        }
        out
    }
}
