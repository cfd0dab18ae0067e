//! The set of spec files, parsed once, and `$ref` resolution between them.

use crate::diag::{Error, Location, Result};
use crate::load::yaml;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every YAML/JSON file below the spec root's `api/`, `event-schemas/` and
/// `schemas/` folders, keyed by `/`-separated path relative to the root.
#[derive(Debug)]
pub struct DocStore {
    root: PathBuf,
    docs: BTreeMap<String, Value>,
    /// `string-formats.yaml` at the root (v1.13 and later): the string
    /// formats the spec defines, by name.
    formats: Option<Value>,
}

/// Where a `$ref` led: its target location, and the value there.
pub struct Resolved<'a> {
    pub location: Location,
    pub value: &'a Value,
}

impl DocStore {
    /// Reads and parses every spec file. The first unreadable or malformed
    /// file is the error; it is named in the message.
    pub fn load(root: &Path) -> Result<DocStore> {
        let mut files = Vec::new();
        for top in ["api", "event-schemas", "schemas"] {
            collect_files(&root.join(top), &mut files)?;
        }
        files.sort();
        let mut docs = BTreeMap::new();
        for path in files {
            let rel = relative_name(root, &path);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let value = yaml::parse(&text)
                .map_err(|e| Error::spec(&Location::new(rel.clone(), ""), format!("invalid YAML: {e}")))?;
            docs.insert(rel, value);
        }
        let formats_file = root.join("string-formats.yaml");
        let formats = if formats_file.is_file() {
            let text = std::fs::read_to_string(&formats_file).map_err(|e| Error::io(&formats_file, e))?;
            let value = yaml::parse(&text).map_err(|e| {
                Error::spec(
                    &Location::new("string-formats.yaml".to_owned(), ""),
                    format!("invalid YAML: {e}"),
                )
            })?;
            Some(value)
        } else {
            None
        };
        Ok(DocStore {
            root: root.to_owned(),
            docs,
            formats,
        })
    }

    /// Builds a store from in-memory documents (used by tests and fuzzing).
    pub fn from_docs(root: PathBuf, docs: BTreeMap<String, Value>) -> DocStore {
        DocStore {
            root,
            docs,
            formats: None,
        }
    }

    /// The spec's list of string formats (`string-formats.yaml`), if it has one.
    pub fn string_formats(&self) -> Option<&Value> {
        self.formats.as_ref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn files(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.docs.iter()
    }

    pub fn doc(&self, file: &str) -> Option<&Value> {
        self.docs.get(file)
    }

    /// The value at a location, or an error naming the location.
    pub fn get(&self, location: &Location) -> Result<&Value> {
        let doc = self
            .docs
            .get(&location.file)
            .ok_or_else(|| Error::spec(location, "file not found"))?;
        doc.pointer(&location.pointer)
            .ok_or_else(|| Error::spec(location, "JSON pointer does not exist"))
    }

    /// Resolves the `$ref` string found at `from` to the location it names.
    pub fn resolve_ref(&self, from: &Location, reference: &str) -> Result<Resolved<'_>> {
        let (file_part, pointer) = match reference.split_once('#') {
            Some((f, p)) => (f, p),
            None => (reference, ""),
        };
        let file = if file_part.is_empty() {
            from.file.clone()
        } else if let Some(rooted) = file_part.strip_prefix('/') {
            // Made root-relative by `absolutize` when a node was moved.
            rooted.to_owned()
        } else {
            join_relative(&from.file, file_part)
                .ok_or_else(|| Error::spec(from, format!("$ref `{reference}` leaves the spec root")))?
        };
        let pointer = percent_decode(pointer);
        let target = Location::new(file, pointer);
        let Some(doc) = self.docs.get(&target.file) else {
            return Err(Error::spec(
                from,
                format!("$ref `{reference}`: file `{}` does not exist", target.file),
            ));
        };
        let value = doc.pointer(&target.pointer).ok_or_else(|| {
            Error::spec(
                from,
                format!(
                    "$ref `{reference}`: no node at `{}` in `{}`",
                    target.pointer, target.file
                ),
            )
        })?;
        Ok(Resolved {
            location: target,
            value,
        })
    }

    /// Follows `$ref` chains from a node until it reaches one without `$ref`.
    /// Siblings of `$ref` are merged over the target (siblings win), as the
    /// Matrix spec relies on. Cycles are an error.
    pub fn deref(&self, location: &Location, value: &Value) -> Result<(Location, Value)> {
        let mut seen = Vec::new();
        let mut loc = location.clone();
        let mut current = value.clone();
        loop {
            let Some(reference) = current.get("$ref").and_then(Value::as_str).map(str::to_owned) else {
                return Ok((loc, current));
            };
            if seen.contains(&loc) {
                return Err(Error::spec(location, format!("$ref cycle through `{reference}`")));
            }
            seen.push(loc.clone());
            let resolved = self.resolve_ref(&loc, &reference)?;
            let mut merged = resolved.value.clone();
            // The merged node mixes two files: make every `$ref` in it
            // independent of the file it is read from.
            absolutize(&mut merged, &resolved.location.file);
            if let (Value::Object(target), Value::Object(siblings)) = (&mut merged, &current) {
                for (k, v) in siblings {
                    if k != "$ref" {
                        let mut v = v.clone();
                        absolutize(&mut v, &loc.file);
                        target.insert(k.clone(), v);
                    }
                }
            }
            loc = resolved.location;
            current = merged;
        }
    }

    /// Replaces every `$ref` in a value, recursively, by its target (siblings
    /// merged over it). Used for examples and for bundling. Cycles are an error.
    pub fn inline(&self, location: &Location, value: &Value) -> Result<Value> {
        let mut stack = Vec::new();
        self.inline_inner(location, value, &mut stack)
    }

    /// Inlines an example: `$ref`s as in [`DocStore::inline`], and objects
    /// written as `{"allOf": [..]}` (the spec composes examples that way)
    /// merged into one object, later parts winning.
    pub fn inline_example(&self, location: &Location, value: &Value) -> Result<Value> {
        let mut v = self.inline(location, value)?;
        merge_example_all_of(&mut v);
        Ok(v)
    }

    fn inline_inner(&self, location: &Location, value: &Value, stack: &mut Vec<Location>) -> Result<Value> {
        match value {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    let resolved = self.resolve_ref(location, reference)?;
                    if stack.contains(&resolved.location) {
                        return Err(Error::spec(location, format!("$ref cycle through `{reference}`")));
                    }
                    stack.push(resolved.location.clone());
                    let target = self.inline_inner(&resolved.location, resolved.value, stack)?;
                    stack.pop();
                    let mut merged = match target {
                        Value::Object(m) => m,
                        other if map.len() == 1 => return Ok(other),
                        _ => {
                            return Err(Error::spec(location, "$ref with sibling keys must point to an object"));
                        }
                    };
                    for (k, v) in map {
                        if k != "$ref" {
                            merged.insert(k.clone(), self.inline_inner(&location.child(k), v, stack)?);
                        }
                    }
                    return Ok(Value::Object(merged));
                }
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.inline_inner(&location.child(k), v, stack)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.inline_inner(&location.index(i), v, stack))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }
}

fn merge_example_all_of(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(merge_example_all_of);
            if map.len() == 1 {
                if let Some(Value::Array(parts)) = map.get("allOf") {
                    if parts.iter().all(Value::is_object) {
                        let mut merged = serde_json::Map::new();
                        for part in parts.clone() {
                            if let Value::Object(p) = part {
                                merged.extend(p);
                            }
                        }
                        *value = Value::Object(merged);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(merge_example_all_of),
        _ => {}
    }
}

/// Rewrites every `$ref` below `value`, written relative to `file`, as a
/// root-relative reference (`/api/x.yaml#/ptr`), so the value can be read
/// as if it lived anywhere.
pub fn absolutize(value: &mut Value, file: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if !reference.starts_with('/') {
                    let (file_part, pointer) = match reference.split_once('#') {
                        Some((f, p)) => (f.to_owned(), Some(p.to_owned())),
                        None => (reference.clone(), None),
                    };
                    let target = if file_part.is_empty() {
                        Some(file.to_owned())
                    } else {
                        join_relative(file, &file_part)
                    };
                    if let Some(target) = target {
                        *reference = match pointer {
                            Some(p) => format!("/{target}#{p}"),
                            None => format!("/{target}"),
                        };
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if k != "$ref" {
                    absolutize(v, file);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| absolutize(v, file)),
        _ => {}
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Joins a relative reference onto the directory of `from`, folding `.` and
/// `..`. Returns `None` when the result would leave the spec root.
fn join_relative(from: &str, reference: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for segment in reference.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(
            join_relative("api/cs/a.yaml", "definitions/b.yaml").unwrap(),
            "api/cs/definitions/b.yaml"
        );
        assert_eq!(
            join_relative("api/cs/a.yaml", "../../event-schemas/schema/m.x$y.yaml").unwrap(),
            "event-schemas/schema/m.x$y.yaml"
        );
        assert!(join_relative("a.yaml", "../x.yaml").is_none());
    }

    #[test]
    fn decodes_pointer_escapes() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("/100%"), "/100%");
    }
}
