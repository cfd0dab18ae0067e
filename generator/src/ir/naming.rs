//! The one place where wire names become Rust names.
//!
//! Type names are proposed from where a schema lives (file or component
//! name, operation and property path) and from its `title`; collisions inside
//! a module are settled here once, deterministically: a title wanted by
//! several different schemas is dropped in favour of their location names,
//! and only what still collides gets a numeric suffix, ordered by location.

use super::schema::Draft;
use super::{Api, Ty, TypeKind};
use crate::diag::Location;
use crate::load::docs::DocStore;
use heck::{ToPascalCase, ToSnakeCase};
use std::collections::{BTreeMap, HashMap};

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// `PascalCase` for a type or variant name. Characters that cannot appear in
/// an identifier separate words; a leading digit gets a prefix.
pub fn pascal(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut name = cleaned.to_pascal_case();
    if name.is_empty() {
        name = "Value".to_owned();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'N');
    }
    if name == "Self" {
        name.push('_');
    }
    name
}

/// `snake_case` for a field or function name; keywords become raw
/// identifiers (`r#type`), or get a trailing `_` where Rust forbids that.
pub fn snake(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut name = cleaned.to_snake_case();
    if name.is_empty() {
        name = "value".to_owned();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        if matches!(name.as_str(), "self" | "crate" | "super") {
            name.push('_');
        } else {
            name.insert_str(0, "r#");
        }
    }
    name
}

/// Event schema files (`m.room.message$m.text`) are named after the event:
/// `RoomMessageTextEvent`.
fn event_name(stem: &str) -> String {
    let words: Vec<String> = stem
        .split('$')
        .map(|part| pascal(part.strip_prefix("m.").unwrap_or(part)))
        .collect();
    format!("{}Event", words.concat())
}

/// Proposes a name for a schema from where it lives.
#[derive(Default)]
pub struct LocationNamer {
    cache: HashMap<Location, String>,
}

impl LocationNamer {
    pub fn name(&mut self, store: &DocStore, loc: &Location) -> String {
        if let Some(name) = self.cache.get(loc) {
            return name.clone();
        }
        let name = compute(store, loc);
        self.cache.insert(loc.clone(), name.clone());
        name
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn file_stem(file: &str) -> &str {
    crate::load::docs::doc_stem(file)
}

fn compute(store: &DocStore, loc: &Location) -> String {
    let segments: Vec<String> = loc.pointer.split('/').skip(1).map(unescape).collect();
    let stem = file_stem(&loc.file);
    let is_event_file = loc.file.starts_with("event-schemas/schema/") && loc.file.matches('/').count() == 2;
    let mut name;
    let mut rest: &[String] = &segments;
    if segments.first().map(String::as_str) == Some("paths") && segments.len() >= 3 {
        // An operation: named after its operationId.
        let op_pointer = format!(
            "/paths/{}/{}",
            segments[1].replace('~', "~0").replace('/', "~1"),
            segments[2]
        );
        let op_id = store
            .get(&Location::new(loc.file.clone(), format!("{op_pointer}/operationId")))
            .ok()
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| crate::load::api::synthesized_operation_id(&segments[2], &segments[1]));
        name = pascal(&op_id);
        rest = &segments[3..];
        match rest.first().map(String::as_str) {
            Some("requestBody") => {
                name.push_str("Request");
                rest = skip_media(&rest[1..]);
            }
            Some("parameters") => {
                // Swagger 2.0 body parameter or a parameter schema.
                let param = store
                    .get(&Location::new(
                        loc.file.clone(),
                        format!(
                            "{op_pointer}/parameters/{}",
                            rest.get(1).map(String::as_str).unwrap_or("0")
                        ),
                    ))
                    .ok();
                let place = param.and_then(|p| p.get("in")).and_then(|v| v.as_str());
                if place == Some("body") {
                    name.push_str("Request");
                } else {
                    let pname = param
                        .and_then(|p| p.get("name"))
                        .and_then(|v| v.as_str())
                        .unwrap_or("param");
                    name.push_str(&pascal(pname));
                }
                rest = rest.get(2..).unwrap_or(&[]);
                if rest.first().map(String::as_str) == Some("schema") {
                    rest = &rest[1..];
                }
            }
            Some("responses") => {
                name.push_str("Response");
                if let Some(status) = rest.get(1) {
                    if status != "200" {
                        name.push_str(&pascal(status));
                    }
                }
                rest = rest.get(2..).unwrap_or(&[]);
                if rest.first().map(String::as_str) == Some("schema") {
                    rest = &rest[1..];
                } else if rest.first().map(String::as_str) == Some("headers") && rest.len() >= 2 {
                    name.push_str(&pascal(&rest[1]));
                    rest = &rest[2..];
                } else {
                    rest = skip_media(rest);
                }
            }
            _ => {}
        }
    } else if matches!(segments.first().map(String::as_str), Some("components" | "definitions")) {
        let skip = if segments[0] == "components" { 3 } else { 2 };
        let component = segments.get(skip - 1).cloned().unwrap_or_default();
        name = pascal(&component);
        rest = segments.get(skip..).unwrap_or(&[]);
        if segments.get(1).map(String::as_str) == Some("responses") {
            name.push_str("Response");
            rest = skip_media(rest);
        }
    } else if is_event_file {
        name = event_name(stem);
    } else {
        name = pascal(stem.strip_prefix("m.").unwrap_or(stem));
    }
    let mut i = 0;
    while i < rest.len() {
        match rest[i].as_str() {
            "properties" => {
                if let Some(p) = rest.get(i + 1) {
                    name.push_str(&pascal(p));
                }
                i += 2;
                continue;
            }
            "items" => name.push_str("Item"),
            "additionalProperties" => name.push_str("Value"),
            "patternProperties" => {
                name.push_str("Value");
                i += 2;
                continue;
            }
            "allOf" => {
                i += 2;
                continue;
            }
            "oneOf" | "anyOf" => {
                if let Some(n) = rest.get(i + 1) {
                    name.push_str(&format!("Option{n}"));
                }
                i += 2;
                continue;
            }
            "schema" | "content" => {}
            other => name.push_str(&pascal(other)),
        }
        i += 1;
    }
    name
}

/// Skips `content/<media type>/schema` (OpenAPI 3).
fn skip_media(rest: &[String]) -> &[String] {
    if rest.first().map(String::as_str) == Some("content") && rest.len() >= 3 && rest[2] == "schema" {
        &rest[3..]
    } else {
        rest
    }
}

/// Decides every type name, field name, enum value name and union variant
/// name, and moves the drafts into `api.types`.
pub(super) fn assign(drafts: Vec<Draft>, api: &mut Api) {
    let mut chosen: Vec<usize> = vec![0; drafts.len()];
    // Drop candidates that several different types want, while a further
    // candidate exists. Repeat until nothing changes.
    loop {
        let mut wanted: BTreeMap<(super::Module, &str), Vec<usize>> = BTreeMap::new();
        for (i, d) in drafts.iter().enumerate() {
            wanted
                .entry((d.def.module, d.candidates[chosen[i]].as_str()))
                .or_default()
                .push(i);
        }
        let mut changed = false;
        for ids in wanted.values().filter(|ids| ids.len() > 1) {
            for &i in ids {
                if chosen[i] + 1 < drafts[i].candidates.len() {
                    chosen[i] += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Whatever still collides: suffix by origin order.
    let mut groups: BTreeMap<(super::Module, String), Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        groups
            .entry((d.def.module, d.candidates[chosen[i]].clone()))
            .or_default()
            .push(i);
    }
    let mut names = vec![String::new(); drafts.len()];
    let taken: std::collections::BTreeSet<(super::Module, String)> = groups.keys().cloned().collect();
    for ((module, name), mut ids) in groups {
        ids.sort_by(|a, b| drafts[*a].def.origin.cmp(&drafts[*b].def.origin));
        let mut n = 1;
        for (k, i) in ids.into_iter().enumerate() {
            if k == 0 {
                names[i] = name.clone();
                continue;
            }
            loop {
                n += 1;
                let candidate = format!("{name}{n}");
                if !taken.contains(&(module, candidate.clone())) {
                    names[i] = candidate;
                    break;
                }
            }
        }
    }
    api.types = drafts
        .into_iter()
        .zip(names)
        .map(|(d, name)| {
            let mut def = d.def;
            def.name = name;
            def
        })
        .collect();
    let type_names: Vec<String> = api.types.iter().map(|t| t.name.clone()).collect();
    let id_names: Vec<String> = api.identifiers.iter().map(|i| i.name.clone()).collect();
    for def in &mut api.types {
        match &mut def.kind {
            TypeKind::Struct { fields, additional } => {
                let mut used = Vec::new();
                if additional.is_some() {
                    used.push("additional_properties".to_owned());
                }
                // Where unknown fields are kept (event contents).
                used.push("extra".to_owned());
                for field in fields {
                    field.rust_name = unique(snake(&field.wire_name), &mut used, "_");
                }
            }
            TypeKind::StringEnum { values } => {
                let mut used = Vec::new();
                for value in values {
                    let base = pascal(value.wire.strip_prefix("m.").unwrap_or(&value.wire));
                    // `Other` holds unknown values.
                    let base = if base == "Other" { "OtherValue".to_owned() } else { base };
                    value.rust_name = unique(base, &mut used, "");
                }
            }
            TypeKind::Union { variants } => {
                let mut used = Vec::new();
                for variant in variants {
                    variant.rust_name = unique(variant_name(&variant.ty, &type_names, &id_names), &mut used, "");
                }
            }
            TypeKind::Alias(_) => {}
        }
    }
}

/// Names for the constant types: `m.room.message` → `MRoomMessage`, made
/// unique in the order of the values (so names are stable).
pub fn constants(api: &Api) -> std::collections::BTreeMap<String, String> {
    let mut values = Vec::new();
    for ty in api.all_tys() {
        super::ty_consts(ty, &mut values);
    }
    values.sort_unstable();
    values.dedup();
    let mut used = Vec::new();
    values
        .into_iter()
        .map(|v| (v.to_owned(), unique(pascal(v), &mut used, "_")))
        .collect()
}

fn unique(base: String, used: &mut Vec<String>, sep: &str) -> String {
    let mut name = base.clone();
    let mut n = 1;
    while used.contains(&name) {
        n += 1;
        name = format!("{base}{sep}{n}");
    }
    used.push(name.clone());
    name
}

fn variant_name(ty: &Ty, type_names: &[String], id_names: &[String]) -> String {
    match ty {
        Ty::String => "String".into(),
        Ty::Integer => "Integer".into(),
        Ty::Number => "Number".into(),
        Ty::Boolean => "Boolean".into(),
        Ty::Bytes => "Bytes".into(),
        Ty::Any => "Any".into(),
        Ty::Object => "Object".into(),
        Ty::Array(inner) => format!("{}List", variant_name(inner, type_names, id_names)),
        Ty::Map(inner) | Ty::IdMap(_, inner) => format!("{}Map", variant_name(inner, type_names, id_names)),
        Ty::Identifier(id) => id_names[*id].clone(),
        Ty::Const(value) => pascal(value),
        Ty::Nullable(inner) => variant_name(inner, type_names, id_names),
        Ty::Tuple(_) => "Tuple".into(),
        Ty::Named(id) => type_names[*id].clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_cursed_inputs() {
        assert_eq!(snake("type"), "r#type");
        assert_eq!(snake("self"), "self_");
        assert_eq!(snake("m.relates_to"), "m_relates_to");
        assert_eq!(snake("og:image"), "og_image");
        assert_eq!(snake("1.10"), "_1_10");
        assert_eq!(pascal("m.room.message"), "MRoomMessage");
        assert_eq!(pascal("404"), "N404");
        assert_eq!(event_name("m.room.message$m.text"), "RoomMessageTextEvent");
    }
}
