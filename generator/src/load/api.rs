//! Reads the API description files of each family and normalizes Swagger 2.0
//! (v1.1–v1.7) and OpenAPI 3.1 (v1.8+) into one shape: [`RawOperation`].
//!
//! Schemas are not interpreted here; they are carried as [`SchemaSource`]
//! (value plus location) for the IR builder.

use crate::diag::{Error, Location, Result};
use crate::family::Family;
use crate::load::docs::DocStore;
use serde_json::{Map, Value};

pub const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Swagger2,
    OpenApi3,
}

/// A schema as written, with where it was written.
#[derive(Clone, Debug)]
pub struct SchemaSource {
    pub location: Location,
    pub value: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamIn {
    Path,
    Query,
    Header,
}

#[derive(Clone, Debug)]
pub struct RawParam {
    pub name: String,
    pub place: ParamIn,
    pub required: bool,
    pub description: String,
    pub deprecated: bool,
    pub schema: SchemaSource,
    pub example: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct RawExample {
    pub location: Location,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct RawMedia {
    pub content_type: String,
    pub schema: Option<SchemaSource>,
    pub examples: Vec<RawExample>,
}

#[derive(Clone, Debug)]
pub struct RawBody {
    pub description: String,
    pub required: bool,
    pub content: Vec<RawMedia>,
}

#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: String,
    pub description: String,
    pub content: Vec<RawMedia>,
    pub headers: Vec<RawParam>,
}

/// One security scheme as the spec names it, normalized.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SecurityScheme {
    /// `Authorization: <scheme> ...` (`bearer`, or a custom scheme like `X-Matrix`).
    Http { scheme: String, description: String },
    /// A key in the query string or a header.
    ApiKey {
        name: String,
        place: String,
        description: String,
    },
    /// Anything else, kept with its raw type name.
    Other { kind: String, description: String },
}

#[derive(Clone, Debug)]
pub struct RawOperation {
    pub family: Family,
    pub file: String,
    pub location: Location,
    pub method: String,
    /// The full path (base path + path key, trailing whitespace trimmed).
    pub path: String,
    /// The path key exactly as written (the spec uses trailing spaces to
    /// document two operations on the same method and path).
    pub path_key: String,
    pub operation_id: String,
    pub summary: String,
    pub description: String,
    pub deprecated: bool,
    pub tags: Vec<String>,
    pub parameters: Vec<RawParam>,
    pub request_body: Option<RawBody>,
    pub responses: Vec<RawResponse>,
    /// Alternatives; each alternative is a set of scheme names (all required).
    pub security: Vec<Vec<(String, SecurityScheme)>>,
    pub added_in: Option<String>,
    pub changed_in: Vec<(String, String)>,
}

/// One API description file (a top-level `.yaml` under `api/<family>/`).
pub struct ApiFile<'a> {
    pub family: Family,
    pub file: &'a str,
    pub doc: &'a Value,
    pub format: Format,
}

/// The top-level API files of a family, in file-name order: the files
/// directly in `api/<family>/`, and those of versioned folders in it, as
/// the 2015 layout has them (`api/client-server/v1/`, `v2_alpha/`).
pub fn api_files(store: &DocStore) -> Vec<ApiFile<'_>> {
    let mut out = Vec::new();
    for (file, doc) in store.files() {
        let parts: Vec<&str> = file.split('/').collect();
        let (dir, name) = match parts.as_slice() {
            ["api", dir, name] => (*dir, *name),
            ["api", dir, folder, name] if is_version_folder(folder) => (*dir, *name),
            _ => continue,
        };
        let Some(family) = Family::from_dir(dir) else { continue };
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) || doc.get("paths").is_none() {
            continue;
        }
        let format = if doc.get("swagger").is_some() {
            Format::Swagger2
        } else {
            Format::OpenApi3
        };
        out.push(ApiFile {
            family,
            file,
            doc,
            format,
        });
    }
    out
}

/// `v1`, `v2`, `v2_alpha`: a folder of one API version's files.
fn is_version_folder(name: &str) -> bool {
    name.strip_prefix('v').is_some_and(|rest| {
        let digits = rest.split('_').next().unwrap_or(rest);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    })
}

/// All operations of all families, in (family, file, path, method) order.
pub fn operations(store: &DocStore) -> Result<Operations> {
    let mut files = api_files(store);
    files.sort_by(|a, b| (a.family, a.file).cmp(&(b.family, b.file)));
    let readers = files
        .iter()
        .map(|api| FileReader::new(store, api))
        .collect::<Result<Vec<_>>>()?;
    // Every scheme any file defines, for files that use a scheme they do not
    // define themselves (v1.19's room_summary.yaml uses `signedRequest`).
    let mut all_schemes: Vec<(String, SecurityScheme)> = Vec::new();
    for reader in &readers {
        for (name, scheme) in &reader.schemes {
            if !all_schemes.iter().any(|(n, _)| n == name) {
                all_schemes.push((name.clone(), scheme.clone()));
            }
        }
    }
    let mut out = Operations::default();
    for reader in &readers {
        reader.read(&all_schemes, &mut out)?;
        out.warnings.append(&mut reader.warnings.borrow_mut());
    }
    Ok(out)
}

/// The operations of a spec, and what was odd but not fatal about them.
#[derive(Default)]
pub struct Operations {
    pub operations: Vec<RawOperation>,
    pub warnings: Vec<(Location, String)>,
}

/// Where an operation sits in its file.
#[derive(Clone, Copy)]
struct OpSite<'a> {
    path_key: &'a str,
    method: &'a str,
    loc: &'a Location,
    /// `parameters` of the path item, shared by its operations.
    shared_params: Option<&'a Value>,
    item_loc: &'a Location,
}

struct FileReader<'a> {
    store: &'a DocStore,
    api: &'a ApiFile<'a>,
    root: Location,
    base_path: String,
    schemes: Vec<(String, SecurityScheme)>,
    default_security: Option<Value>,
    /// Spellings read leniently while reading this file.
    warnings: std::cell::RefCell<Vec<(Location, String)>>,
    /// Operations without an `operationId` (every one before r0.3.0): the
    /// names given to them, in spec order.
    unnamed: std::cell::RefCell<Vec<String>>,
    /// JSON examples written as a string of JSON text (before r0.3.0).
    text_examples: std::cell::Cell<usize>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl<'a> FileReader<'a> {
    fn new(store: &'a DocStore, api: &'a ApiFile<'a>) -> Result<Self> {
        let root = Location::new(api.file, "");
        let base_path = match api.format {
            Format::Swagger2 => text(api.doc, "basePath"),
            Format::OpenApi3 => openapi_base_path(api.doc),
        };
        let (base_path, placeholder_note) = fill_placeholders(&base_path)?;
        let mut reader = FileReader {
            store,
            api,
            root: root.clone(),
            base_path: base_path.trim_end_matches('/').to_owned(),
            schemes: Vec::new(),
            default_security: api.doc.get("security").cloned(),
            warnings: Default::default(),
            unnamed: Default::default(),
            text_examples: Default::default(),
        };
        if let Some(note) = placeholder_note {
            reader.warnings.get_mut().push((root.clone(), note));
        }
        let (defs_loc, defs) = match api.format {
            Format::Swagger2 => (root.child("securityDefinitions"), api.doc.get("securityDefinitions")),
            Format::OpenApi3 => (
                root.child("components").child("securitySchemes"),
                api.doc.get("components").and_then(|c| c.get("securitySchemes")),
            ),
        };
        if let Some(defs) = defs {
            let (defs_loc, defs) = store.deref(&defs_loc, defs)?;
            let Some(map) = defs.as_object() else {
                return Err(Error::spec(&defs_loc, "security schemes must be a mapping"));
            };
            for (name, scheme) in map {
                let (loc, scheme) = store.deref(&defs_loc.child(name), scheme)?;
                reader.schemes.push((name.clone(), security_scheme(&loc, &scheme)?));
            }
        }
        Ok(reader)
    }

    fn read(&self, all_schemes: &[(String, SecurityScheme)], out: &mut Operations) -> Result<()> {
        let paths_loc = self.root.child("paths");
        let Some(paths) = self.api.doc.get("paths").and_then(Value::as_object) else {
            return Err(Error::spec(&paths_loc, "`paths` must be a mapping"));
        };
        for (path_key, item) in paths {
            let item_loc = paths_loc.child(path_key);
            let (item_loc, item) = self.store.deref(&item_loc, item)?;
            let Some(item_map) = item.as_object() else {
                return Err(Error::spec(&item_loc, "path item must be a mapping"));
            };
            let shared_params = item_map.get("parameters");
            for (method, op) in item_map {
                if !METHODS.contains(&method.as_str()) {
                    continue;
                }
                let op_loc = item_loc.child(method);
                let site = OpSite {
                    path_key,
                    method,
                    loc: &op_loc,
                    shared_params,
                    item_loc: &item_loc,
                };
                let op = self.operation(&site, op, all_schemes, &mut out.warnings)?;
                out.operations.push(op);
            }
        }
        let unnamed = self.unnamed.borrow();
        if let Some(first) = unnamed.first() {
            out.warnings.push((
                paths_loc.clone(),
                format!(
                    "{} operation(s) have no operationId; each is named after its method and path (`{first}`)",
                    unnamed.len()
                ),
            ));
        }
        let text_examples = self.text_examples.get();
        if text_examples > 0 {
            out.warnings.push((
                paths_loc,
                format!(
                    "{text_examples} JSON example(s) are written as a string of JSON text; read as the JSON it holds"
                ),
            ));
        }
        Ok(())
    }

    fn operation(
        &self,
        site: &OpSite<'_>,
        op: &Value,
        all_schemes: &[(String, SecurityScheme)],
        warnings: &mut Vec<(Location, String)>,
    ) -> Result<RawOperation> {
        let OpSite {
            path_key,
            method,
            loc,
            shared_params,
            item_loc,
        } = *site;
        if !op.is_object() {
            return Err(Error::spec(loc, "operation must be a mapping"));
        }
        let operation_id = match op.get("operationId") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Value::String(_)) | None => {
                let id = synthesized_operation_id(method, path_key);
                self.unnamed.borrow_mut().push(id.clone());
                id
            }
            Some(_) => return Err(Error::spec(&loc.child("operationId"), "operationId must be a string")),
        };
        let mut parameters = Vec::new();
        let mut request_body = None;
        let mut param_nodes = Vec::new();
        if let Some(Value::Array(shared)) = shared_params {
            param_nodes.extend(
                shared
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (item_loc.child("parameters").index(i), p)),
            );
        }
        if let Some(list) = op.get("parameters") {
            let Some(list) = list.as_array() else {
                return Err(Error::spec(&loc.child("parameters"), "parameters must be a list"));
            };
            param_nodes.extend(
                list.iter()
                    .enumerate()
                    .map(|(i, p)| (loc.child("parameters").index(i), p)),
            );
        }
        for (ploc, p) in param_nodes {
            let (ploc, p) = self.store.deref(&ploc, p)?;
            let place = text(&p, "in");
            match place.as_str() {
                "body" => request_body = Some(self.swagger_body(op, &ploc, &p)?),
                "formData" => return Err(Error::spec(&ploc, "formData parameters are not supported")),
                _ => {
                    let param = self.parameter(&ploc, &p)?;
                    parameters.retain(|q: &RawParam| !(q.name == param.name && q.place == param.place));
                    parameters.push(param);
                }
            }
        }
        if let Some(body) = op.get("requestBody") {
            request_body = Some(self.openapi_body(&loc.child("requestBody"), body)?);
        }
        let mut responses = Vec::new();
        if let Some(map) = op.get("responses") {
            let rloc = loc.child("responses");
            let Some(map) = map.as_object() else {
                return Err(Error::spec(&rloc, "responses must be a mapping"));
            };
            for (status, resp) in map {
                responses.push(self.response(op, &rloc.child(status), status, resp)?);
            }
        }
        let security_value = op.get("security").or(self.default_security.as_ref());
        let security = self.security(loc, security_value, all_schemes, warnings)?;
        let changed_in = changed_in(op.get("x-changedInMatrixVersion"));
        Ok(RawOperation {
            family: self.api.family,
            file: self.api.file.to_owned(),
            location: loc.clone(),
            method: method.to_owned(),
            path: format!("{}{}", self.base_path, path_key.trim()),
            path_key: path_key.to_owned(),
            operation_id,
            summary: text(op, "summary"),
            description: text(op, "description"),
            deprecated: op.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
            tags: strings(op.get("tags")),
            parameters,
            request_body,
            responses,
            security,
            added_in: version_text(op.get("x-addedInMatrixVersion")),
            changed_in,
        })
    }

    fn parameter(&self, loc: &Location, p: &Value) -> Result<RawParam> {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::spec(loc, "parameter has no name"))?
            .to_owned();
        let place = match p.get("in").and_then(Value::as_str) {
            Some("path") => ParamIn::Path,
            Some("query") => ParamIn::Query,
            Some("header") => ParamIn::Header,
            other => return Err(Error::spec(loc, format!("unsupported parameter location {other:?}"))),
        };
        // Swagger 2.0 cannot describe a query parameter that is an object of
        // arbitrary keys; v1.1–v1.7 wrote it as `name: fields...`, v1.8+ as
        // `fields` with an object schema. Read the former as the latter.
        if let Some(stem) = name.strip_suffix("...").filter(|_| p.get("schema").is_none()) {
            let mut value_schema = p.clone();
            if let Value::Object(m) = &mut value_schema {
                m.insert("name".into(), Value::String(stem.to_owned()));
            }
            let mut param = self.parameter(loc, &value_schema)?;
            param.schema.value = serde_json::json!({ "type": "object", "additionalProperties": param.schema.value });
            self.warnings.borrow_mut().push((
                loc.child("name"),
                format!("parameter `{name}` read as `{stem}`, an object of arbitrary keys (how OpenAPI 3 writes it)"),
            ));
            return Ok(param);
        }
        let schema = match p.get("schema") {
            Some(s) => SchemaSource {
                location: loc.child("schema"),
                value: s.clone(),
            },
            // Swagger 2.0: the parameter itself carries the schema keywords.
            None => {
                let mut s = Map::new();
                for (k, v) in p.as_object().into_iter().flatten() {
                    if !matches!(
                        k.as_str(),
                        "name" | "in" | "required" | "description" | "x-example" | "example" | "deprecated"
                    ) {
                        s.insert(k.clone(), v.clone());
                    }
                }
                SchemaSource {
                    location: loc.clone(),
                    value: Value::Object(s),
                }
            }
        };
        let example = p.get("example").or_else(|| p.get("x-example")).cloned().or_else(|| {
            p.get("examples")
                .and_then(Value::as_object)
                .and_then(|m| m.values().next())
                .and_then(|e| e.get("value"))
                .cloned()
        });
        Ok(RawParam {
            name,
            place,
            required: p
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(place == ParamIn::Path),
            description: text(p, "description"),
            deprecated: p.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
            schema,
            example,
        })
    }

    fn swagger_mime(&self, op: &Value, key: &str) -> Vec<String> {
        let mut list = strings(op.get(key));
        if list.is_empty() {
            list = strings(self.api.doc.get(key));
        }
        if list.is_empty() {
            list.push("application/json".to_owned());
        }
        list
    }

    fn swagger_body(&self, op: &Value, loc: &Location, p: &Value) -> Result<RawBody> {
        let schema = p
            .get("schema")
            .ok_or_else(|| Error::spec(loc, "body parameter has no schema"))?;
        let source = SchemaSource {
            location: loc.child("schema"),
            value: schema.clone(),
        };
        let is_json = is_json_schema(self.store, &source)?;
        let content = self
            .swagger_mime(op, "consumes")
            .into_iter()
            .filter(|m| (m == "application/json") == is_json)
            .map(|content_type| RawMedia {
                content_type,
                schema: Some(source.clone()),
                examples: Vec::new(),
            })
            .collect();
        Ok(RawBody {
            description: text(p, "description"),
            required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            content,
        })
    }

    fn openapi_body(&self, loc: &Location, body: &Value) -> Result<RawBody> {
        let (loc, body) = self.store.deref(loc, body)?;
        Ok(RawBody {
            description: text(&body, "description"),
            required: body.get("required").and_then(Value::as_bool).unwrap_or(false),
            content: self.openapi_content(&loc, &body)?,
        })
    }

    fn openapi_content(&self, loc: &Location, node: &Value) -> Result<Vec<RawMedia>> {
        let mut out = Vec::new();
        let Some(content) = node.get("content") else {
            return Ok(out);
        };
        let cloc = loc.child("content");
        let Some(content) = content.as_object() else {
            return Err(Error::spec(&cloc, "content must be a mapping"));
        };
        for (content_type, media) in content {
            let mloc = cloc.child(content_type);
            let schema = media.get("schema").map(|s| SchemaSource {
                location: mloc.child("schema"),
                value: s.clone(),
            });
            let mut examples = Vec::new();
            if let Some(example) = media.get("example") {
                examples.push(RawExample {
                    location: mloc.child("example"),
                    value: example.clone(),
                });
            }
            if let Some(map) = media.get("examples").and_then(Value::as_object) {
                for (name, ex) in map {
                    let (eloc, ex) = self.store.deref(&mloc.child("examples").child(name), ex)?;
                    if let Some(value) = ex.get("value") {
                        examples.push(RawExample {
                            location: eloc.child("value"),
                            value: value.clone(),
                        });
                    }
                }
            }
            out.push(RawMedia {
                content_type: content_type.clone(),
                schema,
                examples,
            });
        }
        Ok(out)
    }

    fn response(&self, op: &Value, loc: &Location, status: &str, resp: &Value) -> Result<RawResponse> {
        let (loc, resp) = self.store.deref(loc, resp)?;
        let mut headers = Vec::new();
        if let Some(map) = resp.get("headers").and_then(Value::as_object) {
            for (name, h) in map {
                let (hloc, h) = self.store.deref(&loc.child("headers").child(name), h)?;
                let mut h = h.clone();
                if let Value::Object(m) = &mut h {
                    m.insert("name".into(), Value::String(name.clone()));
                    m.insert("in".into(), Value::String("header".into()));
                }
                headers.push(self.parameter(&hloc, &h)?);
            }
        }
        let content = match self.api.format {
            Format::OpenApi3 => self.openapi_content(&loc, &resp)?,
            Format::Swagger2 => {
                let examples: Vec<(String, RawExample)> = resp
                    .get("examples")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(mime, v)| {
                                (
                                    mime.clone(),
                                    RawExample {
                                        location: loc.child("examples").child(mime),
                                        value: self.example_value(mime, v),
                                    },
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                match resp.get("schema") {
                    None => examples
                        .into_iter()
                        .map(|(content_type, ex)| RawMedia {
                            content_type,
                            schema: None,
                            examples: vec![ex],
                        })
                        .collect(),
                    Some(schema) => {
                        let source = SchemaSource {
                            location: loc.child("schema"),
                            value: schema.clone(),
                        };
                        let is_json = is_json_schema(self.store, &source)?;
                        let mimes: Vec<String> = self
                            .swagger_mime(op, "produces")
                            .into_iter()
                            .filter(|m| (m == "application/json") == is_json)
                            .collect();
                        let mimes = if mimes.is_empty() && is_json {
                            vec!["application/json".to_owned()]
                        } else {
                            mimes
                        };
                        mimes
                            .into_iter()
                            .map(|content_type| RawMedia {
                                examples: examples
                                    .iter()
                                    .filter(|(m, _)| *m == content_type)
                                    .map(|(_, e)| e.clone())
                                    .collect(),
                                content_type,
                                schema: Some(source.clone()),
                            })
                            .collect()
                    }
                }
            }
        };
        Ok(RawResponse {
            status: status.to_owned(),
            description: text(&resp, "description"),
            content,
            headers,
        })
    }

    /// A Swagger 2.0 response example. Releases before r0.3.0 write JSON
    /// examples as a block of JSON text (`application/json: |- {...}`):
    /// such a string is read as the JSON it holds.
    fn example_value(&self, mime: &str, value: &Value) -> Value {
        if let Value::String(text) = value {
            let is_json = mime == "application/json" || mime.ends_with("+json");
            if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(text) {
                if is_json {
                    self.text_examples.set(self.text_examples.get() + 1);
                    return parsed;
                }
            }
        }
        value.clone()
    }

    fn security(
        &self,
        loc: &Location,
        value: Option<&Value>,
        all_schemes: &[(String, SecurityScheme)],
        warnings: &mut Vec<(Location, String)>,
    ) -> Result<Vec<Vec<(String, SecurityScheme)>>> {
        let Some(value) = value else { return Ok(Vec::new()) };
        let Some(list) = value.as_array() else {
            return Err(Error::spec(&loc.child("security"), "security must be a list"));
        };
        let mut out = Vec::new();
        for (i, alt) in list.iter().enumerate() {
            let mut names = Vec::new();
            for name in alt.as_object().into_iter().flat_map(|m| m.keys()) {
                let here = loc.child("security").index(i);
                let scheme = match self.schemes.iter().find(|(n, _)| n == name) {
                    Some((_, s)) => s.clone(),
                    None => match all_schemes.iter().find(|(n, _)| n == name) {
                        Some((_, s)) => {
                            warnings.push((
                                    here.clone(),
                                    format!("security scheme `{name}` is not defined in this file; used the one another file defines"),
                                ));
                            s.clone()
                        }
                        None => {
                            warnings.push((
                                here.clone(),
                                format!("security scheme `{name}` is defined nowhere in the spec"),
                            ));
                            SecurityScheme::Other {
                                kind: "undefined".into(),
                                description: String::new(),
                            }
                        }
                    },
                };
                names.push((name.clone(), scheme));
            }
            out.push(names);
        }
        Ok(out)
    }
}

/// `api-specs/placeholders.toml`: build-time template variables of the
/// archived releases and the value a published release used.
const PLACEHOLDERS_FILE: &str = include_str!("../../../api-specs/placeholders.toml");

#[derive(serde::Deserialize)]
struct Placeholders {
    placeholders: std::collections::BTreeMap<String, String>,
}

/// Replaces `%NAME%` placeholders in a base path with their published
/// value; the note says what was replaced (or left, when unknown).
fn fill_placeholders(base_path: &str) -> Result<(String, Option<String>)> {
    if !base_path.contains('%') {
        return Ok((base_path.to_owned(), None));
    }
    let data: Placeholders =
        toml::from_str(PLACEHOLDERS_FILE).map_err(|e| Error::Other(format!("api-specs/placeholders.toml: {e}")))?;
    let mut filled = base_path.to_owned();
    let mut replaced = Vec::new();
    for (name, value) in &data.placeholders {
        let placeholder = format!("%{name}%");
        if filled.contains(&placeholder) {
            filled = filled.replace(&placeholder, value);
            replaced.push(format!("`{placeholder}` → `{value}`"));
        }
    }
    let note = if filled.contains('%') {
        format!(
            "base path `{base_path}` holds a placeholder api-specs/placeholders.toml does not list; left as written"
        )
    } else if replaced.is_empty() {
        return Ok((filled, None));
    } else {
        format!(
            "base path `{base_path}` holds the release build's placeholder; read as `{filled}` ({}, api-specs/placeholders.toml)",
            replaced.join(", ")
        )
    };
    Ok((filled, Some(note)))
}

/// The name of an operation the spec leaves unnamed (releases before r0.3.0
/// have no `operationId`s): the method, then every word of the path key
/// (literal segments and parameter names alike, base path left out), in
/// camel case like the spec's own ids. `POST /rooms/{roomId}/join` →
/// `postRoomsRoomIdJoin`, `PUT /user/{userId}/account_data/{type}` →
/// `putUserUserIdAccountDataType`. Two operations that get the same name
/// (the two documented forms of one endpoint) are told apart by the IR's
/// numeric suffix, in spec order.
pub fn synthesized_operation_id(method: &str, path_key: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for word in path_key
        .trim()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// Whether a schema describes JSON (anything but a raw file/byte stream).
fn is_json_schema(store: &DocStore, source: &SchemaSource) -> Result<bool> {
    let (_, schema) = store.deref(&source.location, &source.value)?;
    let ty = schema.get("type").and_then(Value::as_str);
    let format = schema.get("format").and_then(Value::as_str);
    Ok(!(ty == Some("file") || (ty == Some("string") && matches!(format, Some("binary" | "byte")))))
}

/// `x-changedInMatrixVersion`: release → what changed, in spec order.
pub fn changed_in(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn version_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn security_scheme(loc: &Location, v: &Value) -> Result<SecurityScheme> {
    let description = text(v, "description");
    Ok(match v.get("type").and_then(Value::as_str) {
        Some("http") => SecurityScheme::Http {
            scheme: text(v, "scheme"),
            description,
        },
        Some("apiKey") => SecurityScheme::ApiKey {
            name: text(v, "name"),
            place: text(v, "in"),
            description,
        },
        Some(kind) => SecurityScheme::Other {
            kind: kind.to_owned(),
            description,
        },
        None => return Err(Error::spec(loc, "security scheme has no type")),
    })
}

/// OpenAPI 3: the path prefix from `servers[0]`, with its variables'
/// defaults substituted and scheme and host removed.
fn openapi_base_path(doc: &Value) -> String {
    let Some(server) = doc.get("servers").and_then(|s| s.get(0)) else {
        return String::new();
    };
    let mut url = text(server, "url");
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (name, var) in vars {
            if name == "protocol" || name == "hostname" {
                continue;
            }
            url = url.replace(&format!("{{{name}}}"), &text(var, "default"));
        }
    }
    if let Some(i) = url.find("{hostname}") {
        return url[i + "{hostname}".len()..].to_owned();
    }
    if let Some(i) = url.find("://") {
        let rest = &url[i + 3..];
        return rest.find('/').map(|j| rest[j..].to_owned()).unwrap_or_default();
    }
    url
}

#[cfg(test)]
mod tests {
    use super::synthesized_operation_id as id;

    #[test]
    fn unnamed_operations_are_named_by_method_and_path() {
        assert_eq!(id("post", "/rooms/{roomId}/join"), "postRoomsRoomIdJoin");
        assert_eq!(
            id("put", "/user/{userId}/account_data/{type}"),
            "putUserUserIdAccountDataType"
        );
        // The trailing-space key documents a second form of the same endpoint.
        assert_eq!(
            id("post", "/rooms/{roomId}/invite "),
            id("post", "/rooms/{roomId}/invite")
        );
        assert_eq!(id("get", "/"), "get");
    }
}
