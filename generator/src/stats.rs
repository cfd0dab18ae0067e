//! Coverage figures: what the generator read, per family, and what it could
//! not express (`unhandled`), so nothing is dropped silently.

use crate::family::{Family, Module};
use crate::ir::{Api, KindSource};
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
    /// Events whose kind their schema states (`state_event.yaml`, `room_event.yaml`).
    pub kind_from_schema: usize,
    /// Events whose kind comes from `api-specs/events.toml`.
    pub kind_from_data_file: usize,
    /// Content variants (`m.room.message$m.text`), which have no kind of their own.
    pub content_variants: usize,
    /// Event schemas whose kind comes from nowhere: they are left out of the
    /// kind enums (and decode as their enum's custom variant).
    pub without_kind: Vec<String>,
    /// Entries of `api-specs/events.toml` that name no event of this spec.
    pub unused_kind_entries: Vec<String>,
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
            kind_from_schema: count_source(api, KindSource::Schema),
            kind_from_data_file: count_source(api, KindSource::DataFile),
            content_variants: api.events.iter().filter(|e| e.variant_of.is_some()).count(),
            without_kind: api
                .events
                .iter()
                .filter(|e| e.variant_of.is_none() && e.kind_source == KindSource::Unknown)
                .map(|e| e.schema_name.clone())
                .collect(),
            unused_kind_entries: api.unused_kind_entries.clone(),
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

fn count_source(api: &Api, source: KindSource) -> usize {
    api.events
        .iter()
        .filter(|e| e.variant_of.is_none() && e.kind_source == source)
        .count()
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
        let e = &self.events;
        out.push_str(&format!(
            "event kinds: {} from the schema, {} from api-specs/events.toml, {} content variants, {} from nowhere\n",
            e.kind_from_schema,
            e.kind_from_data_file,
            e.content_variants,
            e.without_kind.len()
        ));
        for name in &e.without_kind {
            out.push_str(&format!("  no kind: {name} (left out of the kind enums)\n"));
        }
        for name in &e.unused_kind_entries {
            out.push_str(&format!(
                "  events.toml names an event this spec does not define: {name}\n"
            ));
        }
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
