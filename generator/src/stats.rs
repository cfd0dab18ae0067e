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
    pub types: TypeStats,
    pub examples: ExampleStats,
    pub unhandled: Vec<crate::diag::Unhandled>,
    pub warnings: Vec<Warning>,
    /// Files in the spec folders that were not read (`README`, scripts,
    /// `package.json`, the Swagger UI's assets): listed, never silently
    /// skipped. Filled in by [`Stats::with_files`].
    pub not_spec_files: Vec<String>,
    /// Symbolic links inside the spec that `$ref`s were resolved through.
    pub links: BTreeMap<String, String>,
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

/// The named types as a whole: how many, how many repeat another's shape,
/// and the longest name.
#[derive(Debug, Serialize)]
pub struct TypeStats {
    pub total: usize,
    /// Types that are copies of another (same shape, same documentation)
    /// and still two types: 0, as the generator makes copies one type
    /// (event contents, which each event keeps for itself, are not
    /// counted). A group of three counts two.
    pub copies: usize,
    /// Types with the shape of another that are defined twice: 0, as the
    /// generator makes every such type (a kick's `{user_id, reason}` beside
    /// a ban's) an alias of the first, with its own name and docs.
    pub same_shape: usize,
    /// Event contents with the shape of another event's: each event keeps
    /// its own content type (with its event type), so these stay apart.
    pub event_contents_same_shape: usize,
    /// Each group of same-shaped types, by name (event contents included).
    pub same_shape_groups: Vec<Vec<String>>,
    /// Types that are another name for a type of the same shape.
    pub shared_shape_aliases: usize,
    pub longest_name: String,
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
        types: type_stats(api),
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
        not_spec_files: Vec::new(),
        links: BTreeMap::new(),
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

fn type_stats(api: &Api) -> TypeStats {
    let groups = crate::ir::shapes::duplicate_groups(api);
    let copies = crate::ir::copies::mergeable_copies(api, &api.types);
    let kept_apart = crate::ir::copies::kept_apart(api, &api.types);
    let duplicates = |keep: &dyn Fn(&usize) -> bool| -> usize {
        groups
            .iter()
            .map(|g| g.iter().filter(|id| keep(id)).count().saturating_sub(1))
            .sum()
    };
    TypeStats {
        total: api.types.len(),
        copies: copies.iter().map(|g| g.len() - 1).sum(),
        same_shape: duplicates(&|id| !kept_apart.contains(id)),
        event_contents_same_shape: duplicates(&|id| kept_apart.contains(id)),
        shared_shape_aliases: api
            .types
            .iter()
            .filter(|t| matches!(t.kind, crate::ir::TypeKind::Alias(crate::ir::Ty::Named(_))))
            .count(),
        same_shape_groups: groups
            .iter()
            .map(|g| g.iter().map(|&id| api.types[id].name.clone()).collect())
            .collect(),
        longest_name: api
            .types
            .iter()
            .map(|t| &t.name)
            .max_by_key(|n| (n.len(), std::cmp::Reverse(n.as_str())))
            .cloned()
            .unwrap_or_default(),
    }
}

fn count_source(api: &Api, source: KindSource) -> usize {
    api.events
        .iter()
        .filter(|e| e.variant_of.is_none() && e.kind_source == source)
        .count()
}

impl Stats {
    /// Adds what the file walk found: files that are not spec documents and
    /// the links inside the spec.
    pub fn with_files(mut self, store: &crate::load::docs::DocStore) -> Stats {
        self.not_spec_files = store.ignored_files().to_vec();
        self.links = store.links().clone();
        self
    }

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
        let t = &self.types;
        out.push_str(&format!(
            "types: {} named ({} of them another name for a type of the same shape), {} copies of another, {} structural duplicates, {} event contents of one shape (kept apart), longest name {} ({} characters)\n",
            t.total,
            t.shared_shape_aliases,
            t.copies,
            t.same_shape,
            t.event_contents_same_shape,
            t.longest_name,
            t.longest_name.len()
        ));
        for group in &t.same_shape_groups {
            out.push_str(&format!("  same shape: {}\n", group.join(", ")));
        }
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
        if !self.links.is_empty() {
            out.push_str(&format!("symbolic links followed: {}\n", self.links.len()));
            for (link, target) in &self.links {
                out.push_str(&format!("  {link} → {target}\n"));
            }
        }
        out.push_str(&format!(
            "files not read as spec documents: {}\n",
            self.not_spec_files.len()
        ));
        for file in &self.not_spec_files {
            out.push_str(&format!("  {file}\n"));
        }
        out.push_str(&format!("warnings: {}\n", self.warnings.len()));
        for w in &self.warnings {
            out.push_str(&format!("  {}: {}\n", w.location, w.message));
        }
        out
    }
}
