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
    /// Folders and files reached through a symbolic link that points inside
    /// the spec (releases before 2021 link `api/client-server/definitions/event-schemas`
    /// to `event-schemas`): link path → target path, both root-relative.
    /// Files are stored once, under their target path, and a `$ref` through
    /// the link is resolved to it.
    links: BTreeMap<String, String>,
    /// Files in the spec folders that are not spec documents (`README`,
    /// `package.json`, scripts, the Swagger UI's assets), root-relative.
    ignored: Vec<String>,
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
        let Walk {
            mut files,
            links,
            mut ignored,
            ..
        } = Walk::over(root)?;
        files.sort();
        let mut docs = BTreeMap::new();
        for (rel, path) in files {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            match (classify(&rel), yaml::parse(&text)) {
                (FileKind::Document, Ok(value)) => {
                    docs.insert(rel, value);
                }
                (FileKind::Document, Err(e)) => {
                    return Err(Error::spec(&Location::new(rel, ""), format!("invalid YAML: {e}")));
                }
                // An extensionless file is a schema or an example when it
                // holds a mapping (`event-schemas/schema/m.room.member`).
                (FileKind::MaybeDocument, Ok(value @ Value::Object(_))) => {
                    docs.insert(rel, value);
                }
                (FileKind::MaybeDocument, _) | (FileKind::NotSpec, _) => ignored.push(rel),
            }
        }
        ignored.sort();
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
            links,
            ignored,
        })
    }

    /// Builds a store from in-memory documents (used by tests and fuzzing).
    pub fn from_docs(root: PathBuf, docs: BTreeMap<String, Value>) -> DocStore {
        DocStore {
            root,
            docs,
            formats: None,
            links: BTreeMap::new(),
            ignored: Vec::new(),
        }
    }

    /// A store of documents gathered elsewhere (one loose file and what it
    /// refers to: [`crate::load::loose`]).
    pub(crate) fn from_parts(
        root: PathBuf,
        docs: BTreeMap<String, Value>,
        formats: Option<Value>,
        links: BTreeMap<String, String>,
    ) -> DocStore {
        DocStore {
            root,
            docs,
            formats,
            links,
            ignored: Vec::new(),
        }
    }

    /// Files in the spec folders that were not read as spec documents.
    pub fn ignored_files(&self) -> &[String] {
        &self.ignored
    }

    /// Symbolic links inside the spec: link path → target path.
    pub fn links(&self) -> &BTreeMap<String, String> {
        &self.links
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

    /// A document to complete from a declared fact ([`crate::ir::unsigned_data`]).
    pub fn doc_mut(&mut self, file: &str) -> Option<&mut Value> {
        self.docs.get_mut(file)
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
            Some(from.file.clone())
        } else if let Some(rooted) = file_part.strip_prefix('/') {
            // Made root-relative by `absolutize` when a node was moved.
            self.join("", rooted)
        } else {
            self.join(&from.file, file_part)
        }
        .ok_or_else(|| Error::spec(from, format!("$ref `{reference}` leaves the spec root")))?;
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
            self.absolutize(&mut merged, &resolved.location.file);
            if let (Value::Object(target), Value::Object(siblings)) = (&mut merged, &current) {
                for (k, v) in siblings {
                    if k != "$ref" {
                        let mut v = v.clone();
                        self.absolutize(&mut v, &loc.file);
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

    /// Rewrites every `$ref` below `value`, written relative to `file`, as a
    /// root-relative reference (`/api/x.yaml#/ptr`), so the value can be read
    /// as if it lived anywhere.
    pub fn absolutize(&self, value: &mut Value, file: &str) {
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
                            self.join(file, &file_part)
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
                        self.absolutize(v, file);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.absolutize(v, file)),
            _ => {}
        }
    }

    /// Joins a relative reference onto the folder of `from` (a root-relative
    /// file; `""` for the root itself), folding `.` and `..` and following
    /// symbolic links inside the spec after each step, as the file system
    /// would: `..` leaves the folder a link points to, not the link's own
    /// folder. Returns `None` when the result would leave the spec root.
    pub fn join(&self, from: &str, reference: &str) -> Option<String> {
        let mut parts: Vec<String> = from.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect();
        parts.pop();
        for segment in reference.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    parts.pop()?;
                }
                s => {
                    parts.push(s.to_owned());
                    // A chain of links is followed to its end (bounded, so a
                    // loop of links cannot hang the loader).
                    for _ in 0..MAX_LINK_HOPS {
                        let Some(target) = self.links.get(&parts.join("/")) else {
                            break;
                        };
                        parts = target.split('/').map(str::to_owned).collect();
                    }
                }
            }
        }
        Some(parts.join("/"))
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

/// A document's name without its folder and without `.yaml`, `.yml` or
/// `.json`; names without one of those are whole names
/// (`event-schemas/schema/m.room.member` → `m.room.member`, not `m.room`).
pub fn doc_stem(file: &str) -> &str {
    let name = file.rsplit('/').next().unwrap_or(file);
    [".yaml", ".yml", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name)
}

/// The folders below a spec root that hold spec documents.
const SPEC_FOLDERS: [&str; 3] = ["api", "event-schemas", "schemas"];

/// Links followed in a row before giving up (a loop of links).
const MAX_LINK_HOPS: usize = 16;

/// What a file in the spec folders is taken for, from its name.
pub(crate) enum FileKind {
    /// `.yaml`, `.yml` or `.json`: must parse.
    Document,
    /// No known extension (`m.room.member`, `m.room.message#m.text`): a
    /// document when it parses as a mapping.
    MaybeDocument,
    /// Documentation, scripts and web assets; also anything directly in
    /// `api/`, where only family folders hold the spec (`api/package.json`).
    NotSpec,
}

pub(crate) fn classify(rel: &str) -> FileKind {
    const NOT_SPEC: &[&str] = &[
        "md", "rst", "txt", "py", "js", "html", "css", "sh", "png", "svg", "gif", "ico",
    ];
    if rel.starts_with("api/") && rel.matches('/').count() == 1 {
        return FileKind::NotSpec;
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("yaml" | "yml" | "json") => FileKind::Document,
        Some(ext) if NOT_SPEC.contains(&ext) => FileKind::NotSpec,
        _ if name == "README" || name == "LICENSE" => FileKind::NotSpec,
        _ => FileKind::MaybeDocument,
    }
}

/// The links inside a spec folder (link path → target path), without
/// reading any file.
pub(crate) fn links_in(root: &Path) -> Result<BTreeMap<String, String>> {
    Ok(Walk::over(root)?.links)
}

/// The files below the spec folders, and the links between them.
struct Walk {
    root: PathBuf,
    canonical_root: PathBuf,
    /// (root-relative name, path on disk).
    files: Vec<(String, PathBuf)>,
    links: BTreeMap<String, String>,
    ignored: Vec<String>,
    /// Folders already read, as canonical paths: a link back to an ancestor
    /// outside the spec folders is read once, not forever.
    visited: std::collections::BTreeSet<PathBuf>,
}

impl Walk {
    /// Every spec folder below `root`, walked.
    fn over(root: &Path) -> Result<Walk> {
        let mut walk = Walk {
            root: root.to_owned(),
            canonical_root: root.canonicalize().map_err(|e| Error::io(root, e))?,
            files: Vec::new(),
            links: BTreeMap::new(),
            ignored: Vec::new(),
            visited: Default::default(),
        };
        for top in SPEC_FOLDERS {
            walk.folder(&root.join(top))?;
        }
        Ok(walk)
    }

    fn folder(&mut self, dir: &Path) -> Result<()> {
        if !dir.is_dir() {
            return Ok(());
        }
        let canonical = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
        if !self.visited.insert(canonical) {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let rel = relative_name(&self.root, &path);
            let is_link = entry.file_type().map_err(|e| Error::io(&path, e))?.is_symlink();
            if is_link {
                if let Some(target) = self.target_inside_spec(&path) {
                    // Read once, where it really is.
                    self.links.insert(rel, target);
                    continue;
                }
            }
            if path.is_dir() {
                self.folder(&path)?;
            } else if path.is_file() {
                self.files.push((rel, path));
            }
        }
        Ok(())
    }

    /// Where a link points, root-relative, when that is inside one of the
    /// spec folders (which are read anyway). A link elsewhere is read as if
    /// its target were a folder or file at the link's place.
    fn target_inside_spec(&self, link: &Path) -> Option<String> {
        let target = link.canonicalize().ok()?;
        let rel = target.strip_prefix(&self.canonical_root).ok()?;
        let rel = relative_name(Path::new(""), rel);
        SPEC_FOLDERS
            .iter()
            .any(|top| rel == *top || rel.starts_with(&format!("{top}/")))
            .then_some(rel)
    }
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
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
        let store = DocStore::from_docs(PathBuf::new(), BTreeMap::new());
        assert_eq!(
            store.join("api/cs/a.yaml", "definitions/b.yaml").unwrap(),
            "api/cs/definitions/b.yaml"
        );
        assert_eq!(
            store
                .join("api/cs/a.yaml", "../../event-schemas/schema/m.x$y.yaml")
                .unwrap(),
            "event-schemas/schema/m.x$y.yaml"
        );
        assert!(store.join("a.yaml", "../x.yaml").is_none());
    }

    #[test]
    fn follows_links_inside_the_spec() {
        let mut store = DocStore::from_docs(PathBuf::new(), BTreeMap::new());
        store
            .links
            .insert("api/cs/definitions/event-schemas".into(), "event-schemas".into());
        assert_eq!(
            store
                .join("api/cs/a.yaml", "definitions/event-schemas/schema/m.room.member")
                .unwrap(),
            "event-schemas/schema/m.room.member"
        );
        // `..` after a link leaves the link's target, as on disk.
        assert_eq!(
            store
                .join("api/cs/a.yaml", "definitions/event-schemas/../api/x.yaml")
                .unwrap(),
            "api/x.yaml"
        );
        // A loop of links ends.
        store.links.insert("a".into(), "b".into());
        store.links.insert("b".into(), "a".into());
        assert!(store.join("", "a/x").is_some());
    }

    #[test]
    fn decodes_pointer_escapes() {
        assert_eq!(percent_decode("/a%20b"), "/a b");
        assert_eq!(percent_decode("/100%"), "/100%");
    }
}
