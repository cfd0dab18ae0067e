//! One loose API description as a spec: a file copied out of a release, a
//! seed, a draft. It is placed where a release would have it
//! (`api/<family>/<name>.yaml`, the family told by its base path), and
//! every file it refers to, directly or through other files, is read too:
//! from a release folder when one is given (the release of the file's era),
//! else from beside the file as if it sat in such a folder.

use crate::diag::{Error, Location, Result};
use crate::family::Family;
use crate::load::docs::{self, DocStore, FileKind};
use crate::load::yaml;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Reads `file` and what it refers to. `refs_from` is a release folder to
/// take the referenced files from.
pub fn load_file(file: &Path, refs_from: Option<&Path>) -> Result<DocStore> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let shown = file.display().to_string();
    let doc =
        yaml::parse(&text).map_err(|e| Error::spec(&Location::new(shown.clone(), ""), format!("invalid YAML: {e}")))?;
    let family = family_of(&doc, file).ok_or_else(|| {
        Error::spec(
            &Location::new(shown.clone(), ""),
            "cannot tell which API family this file describes: its base path (`basePath`, `servers`) \
             names none of /_matrix/client, /_matrix/federation, /_matrix/key, /_matrix/identity, \
             /_matrix/app, /_matrix/push, and its folder is not named after one",
        )
    })?;
    let stem = docs::doc_stem(
        &file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
    .to_owned();
    let name = format!("api/{}/{stem}.yaml", family.dir());
    let here = file.parent().unwrap_or(Path::new(".")).to_owned();
    let (root, links) = match refs_from {
        Some(dir) => (dir.to_owned(), docs::links_in(dir)?),
        None => (here.join("../.."), BTreeMap::new()),
    };
    let source = Source {
        family_dir: format!("api/{}/", family.dir()),
        here,
        root: root.clone(),
        from_release: refs_from.is_some(),
    };
    let mut loaded = BTreeMap::new();
    loaded.insert(name.clone(), doc);
    // Joining follows the links; it needs no documents.
    let joiner = DocStore::from_parts(root.clone(), BTreeMap::new(), None, links.clone());
    let mut queue = vec![name];
    let mut tried = BTreeSet::new();
    while let Some(current) = queue.pop() {
        let mut refs = Vec::new();
        collect_refs(&loaded[&current], &mut refs);
        for reference in refs {
            let file_part = reference.split('#').next().unwrap_or_default();
            if file_part.is_empty() {
                continue;
            }
            let Some(target) = joiner.join(&current, file_part) else {
                continue;
            };
            if loaded.contains_key(&target) || !tried.insert(target.clone()) {
                continue;
            }
            // A file that is not there is reported where it is referred to,
            // with the JSON pointer, when the spec is read.
            if let Some(value) = source.read(&target)? {
                loaded.insert(target.clone(), value);
                queue.push(target);
            }
        }
    }
    let formats_file = root.join("string-formats.yaml");
    let formats = match refs_from {
        Some(_) if formats_file.is_file() => {
            let text = std::fs::read_to_string(&formats_file).map_err(|e| Error::io(&formats_file, e))?;
            Some(yaml::parse(&text).map_err(|e| {
                Error::spec(
                    &Location::new("string-formats.yaml".to_owned(), ""),
                    format!("invalid YAML: {e}"),
                )
            })?)
        }
        _ => None,
    };
    Ok(DocStore::from_parts(root, loaded, formats, links))
}

/// Where the referenced files are read from.
struct Source {
    /// `api/<family>/`: the loose file's own (virtual) folder.
    family_dir: String,
    /// The loose file's real folder.
    here: PathBuf,
    /// The release folder (or the folder two levels above the file).
    root: PathBuf,
    from_release: bool,
}

impl Source {
    /// The document at a root-relative name, if there is a file for it.
    fn read(&self, name: &str) -> Result<Option<Value>> {
        let path = match name.strip_prefix(&self.family_dir) {
            Some(rest) if !self.from_release => self.here.join(rest),
            _ => self.root.join(name),
        };
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let parsed = yaml::parse(&text);
        match (docs::classify(name), parsed) {
            (FileKind::NotSpec, _) => Ok(None),
            (_, Ok(value @ Value::Object(_))) => Ok(Some(value)),
            (FileKind::Document, Ok(value)) => Ok(Some(value)),
            (FileKind::Document, Err(e)) => Err(Error::spec(
                &Location::new(name.to_owned(), ""),
                format!("invalid YAML: {e}"),
            )),
            (FileKind::MaybeDocument, _) => Ok(None),
        }
    }
}

/// Every `$ref` string below a value.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The family a loose file belongs to: from the path prefix its base path
/// (Swagger 2.0) or first server URL (OpenAPI 3) names, else from the name
/// of its folder.
fn family_of(doc: &Value, file: &Path) -> Option<Family> {
    let base = doc
        .get("basePath")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            let server = doc.get("servers")?.get(0)?;
            let url = server.get("url")?.as_str()?.to_owned();
            // `{basePath}` and the like: substitute the variables' defaults.
            let vars = server.get("variables").and_then(Value::as_object);
            Some(vars.into_iter().flatten().fold(url, |url, (name, var)| {
                let default = var.get("default").and_then(Value::as_str).unwrap_or_default();
                url.replace(&format!("{{{name}}}"), default)
            }))
        })
        .unwrap_or_default();
    const PREFIXES: [(&str, Family); 6] = [
        ("/_matrix/client", Family::ClientServer),
        ("/_matrix/federation", Family::ServerServer),
        ("/_matrix/key", Family::ServerServer),
        ("/_matrix/identity", Family::Identity),
        ("/_matrix/app", Family::ApplicationService),
        ("/_matrix/push", Family::PushGateway),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| base.contains(prefix))
        .map(|(_, family)| *family)
        .or_else(|| {
            let folder = file.parent()?.file_name()?.to_str()?;
            Family::from_dir(folder)
        })
}
