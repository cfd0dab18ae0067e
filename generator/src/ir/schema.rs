//! JSON Schema (as the Matrix spec writes it) → [`Ty`] and named [`TypeDef`]s.
//!
//! A type's identity is the location of the schema that defines it, so a
//! schema reached through many `$ref`s becomes one Rust type. Names are only
//! proposed here (as candidates) and decided later in `naming`.

use super::{
    Doc, EnumValue, Example, ExampleKind, Field, Identifier, IdentifierId, Ty, TypeDef, TypeId, TypeKind, Variant,
};
use crate::diag::{Error, Location, Result, Unhandled};
use crate::family::Module;
use crate::load::docs::DocStore;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Keywords that only document a schema: a `$ref` whose siblings are all of
/// these still names the referenced type.
const DOC_ONLY: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "$schema",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// Keywords the converter understands besides [`NOTED`]. Anything else is reported.
const KNOWN: &[&str] = &[
    "$ref",
    "$schema",
    "type",
    "description",
    "title",
    "properties",
    "required",
    "items",
    "enum",
    "allOf",
    "oneOf",
    "anyOf",
    "additionalProperties",
    "patternProperties",
    "example",
    "examples",
    "default",
    "propertyNames",
    "deprecated",
    "readOnly",
    "writeOnly",
    "nullable",
    "prefixItems",
    "components",
    "definitions",
    "$defs",
];

/// Keywords that constrain values without changing the Rust type; they are
/// rendered into the documentation.
const NOTED: &[&str] = &[
    "format",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "uniqueItems",
    "collectionFormat",
];

use crate::load::quirks::TYPES;

/// A type being built, with the names proposed for it (best first).
pub(super) struct Draft {
    pub def: TypeDef,
    pub candidates: Vec<String>,
}

pub(super) struct Converter<'a> {
    pub store: &'a DocStore,
    pub drafts: Vec<Draft>,
    pub examples: Vec<Example>,
    pub unhandled: Vec<Unhandled>,
    pub warnings: Vec<(Location, String)>,
    /// The family (or folder) reported with unhandled constructs.
    pub family: String,
    by_location: HashMap<Location, TypeId>,
    /// Locations being converted right now, to detect cycles that do not
    /// pass through a named type.
    stack: Vec<Location>,
    /// Names proposed for locations (see `naming::location_name`).
    pub namer: super::naming::LocationNamer,
    /// Identifier formats: those `string-formats.yaml` lists, then any
    /// other `mx-*` format a schema uses.
    pub identifiers: Vec<Identifier>,
}

fn is_named_location(loc: &Location) -> bool {
    let p = loc.pointer.as_str();
    p.is_empty() || is_component(p)
}

/// The schema of a request or response body written in an operation: named
/// after the operation (`LoginRequest`), whatever its title says.
fn is_operation_body(loc: &Location) -> bool {
    let segments: Vec<&str> = loc.pointer.split('/').skip(1).collect();
    segments.first() == Some(&"paths") && segments.last() == Some(&"schema") && segments.len() <= 8
}

/// The `content` of an event schema: named after its event
/// (`RoomMemberEventContent`), whatever its title says (m.room.member's is
/// `EventContent`).
fn is_event_content(loc: &Location) -> bool {
    loc.file.starts_with("event-schemas/schema/") && loc.pointer == "/properties/content"
}

fn is_component(p: &str) -> bool {
    let rest = p
        .strip_prefix("/components/schemas/")
        .or_else(|| p.strip_prefix("/definitions/"));
    rest.is_some_and(|r| !r.contains('/'))
}

impl<'a> Converter<'a> {
    pub fn new(store: &'a DocStore) -> Self {
        Converter {
            store,
            drafts: Vec::new(),
            examples: Vec::new(),
            unhandled: Vec::new(),
            warnings: Vec::new(),
            family: String::new(),
            by_location: HashMap::new(),
            stack: Vec::new(),
            namer: super::naming::LocationNamer::default(),
            identifiers: listed_identifiers(store),
        }
    }

    /// The identifier type for a string `format`, if it is a Matrix
    /// identifier format (`mx-*`). A format the spec uses without listing
    /// it in `string-formats.yaml` still gets a type, with a warning.
    fn identifier(&mut self, loc: &Location, format: &str) -> Option<IdentifierId> {
        if let Some(i) = self.identifiers.iter().position(|d| d.format == format) {
            return Some(i);
        }
        if !format.starts_with("mx-") {
            return None;
        }
        self.warnings.push((
            loc.clone(),
            format!("string format `{format}` is used but not listed in string-formats.yaml"),
        ));
        self.identifiers.push(Identifier {
            format: format.to_owned(),
            name: identifier_name(format),
            title: None,
            url: None,
            listed: false,
        });
        Some(self.identifiers.len() - 1)
    }

    /// The key type of a `patternProperties` map: the `x-pattern-format` of
    /// its value schema (where the spec writes it), if an identifier format.
    fn pattern_key(&mut self, loc: &Location, schema: &Value) -> Result<Option<IdentifierId>> {
        let mut format = schema
            .get("x-pattern-format")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if format.is_none() && schema.get("$ref").is_some() {
            let (_, target) = self.store.deref(loc, schema)?;
            format = target
                .get("x-pattern-format")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        Ok(format.and_then(|f| self.identifier(loc, &f)))
    }

    /// The type of the schema `value` found at `loc`.
    pub fn ty(&mut self, loc: &Location, value: &Value) -> Result<Ty> {
        if let Some(&id) = self.by_location.get(loc) {
            return Ok(Ty::Named(id));
        }
        let obj = match value {
            Value::Object(obj) => obj,
            Value::Bool(true) => return Ok(Ty::Any),
            _ => return Err(Error::spec(loc, "a schema must be a mapping")),
        };
        if self.stack.contains(loc) {
            return Err(Error::spec(
                loc,
                "schema refers to itself without passing through an object (a $ref cycle)",
            ));
        }
        // Merged `allOf` properties get new locations at every level, so a
        // cycle through them never repeats a location: bound the depth
        // instead. The deepest real schema (v1.1) nests 12 levels.
        if self.stack.len() >= MAX_SCHEMA_DEPTH {
            // Name where it starts: the first schema that exists in no file,
            // having been made by merging.
            let start = self.stack.iter().find(|l| self.store.get(l).is_err()).unwrap_or(loc);
            return Err(Error::spec(
                start,
                format!("schemas nest deeper than {MAX_SCHEMA_DEPTH} levels from here: a $ref cycle through merged allOf properties"),
            ));
        }
        self.stack.push(loc.clone());
        let result = self.ty_of_object(loc, obj);
        self.stack.pop();
        let ty = result?;
        self.record_examples(loc, obj, &ty, ExampleKind::Schema);
        Ok(ty)
    }

    fn ty_of_object(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        if let Some(reference) = obj.get("$ref") {
            let reference = reference
                .as_str()
                .ok_or_else(|| Error::spec(&loc.child("$ref"), "$ref must be a string"))?;
            let resolved = self.store.resolve_ref(loc, reference)?;
            let (target_loc, target) = (resolved.location, resolved.value);
            // Siblings that only document the schema, or that repeat what
            // the target says (`type: object` beside a `$ref` to an object
            // schema), leave it the referenced type: one type per schema.
            let shape_neutral = obj.iter().all(|(k, v)| {
                k == "$ref"
                    || DOC_ONLY.contains(&k.as_str())
                    || k.starts_with("x-")
                    || target.get(k) == Some(v)
                    || (k == "type" && v == "object" && is_object_schema(target))
            });
            if shape_neutral {
                return self.ty(&target_loc, target);
            }
            // Siblings that change the shape: the merged schema is a new type here.
            let (_, merged) = self.store.deref(loc, &Value::Object(obj.clone()))?;
            let Value::Object(merged) = merged else {
                return Err(Error::spec(loc, "$ref with sibling keys must point to a mapping"));
            };
            return self.shape(loc, &merged);
        }
        self.shape(loc, obj)
    }

    fn report_unknown_keywords(&mut self, loc: &Location, obj: &Map<String, Value>) {
        for key in obj.keys() {
            if !KNOWN.contains(&key.as_str()) && !NOTED.contains(&key.as_str()) && !key.starts_with("x-") {
                self.unhandled.push(Unhandled {
                    file: loc.file.clone(),
                    pointer: loc.pointer.clone(),
                    keyword: key.clone(),
                    family: self.family.clone(),
                });
            }
        }
    }

    fn unhandled(&mut self, loc: &Location, keyword: &str) {
        self.unhandled.push(Unhandled {
            file: loc.file.clone(),
            pointer: loc.pointer.clone(),
            keyword: keyword.to_owned(),
            family: self.family.clone(),
        });
    }

    fn shape(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        self.report_unknown_keywords(loc, obj);
        if let Some((fixed, what)) = crate::load::quirks::fix(obj) {
            self.warnings.push((loc.clone(), what));
            return self.shape(loc, &fixed);
        }
        if obj.get("properties").is_some_and(|p| !p.is_object()) {
            return Err(Error::spec(&loc.child("properties"), "properties must be a mapping"));
        }
        let types: Vec<&str> = match obj.get("type") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list
                .iter()
                .map(|t| {
                    t.as_str()
                        .ok_or_else(|| Error::spec(&loc.child("type"), "type list entries must be strings"))
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(Error::spec(&loc.child("type"), "`type` must be a string or a list")),
        };
        if let Some(bad) = types.iter().find(|t| !TYPES.contains(t)) {
            return Err(Error::spec(&loc.child("type"), format!("unknown type `{bad}`")));
        }
        let nullable = types.contains(&"null") || obj.get("nullable") == Some(&Value::Bool(true));
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();

        let ty = if obj.contains_key("allOf") {
            self.all_of(loc, obj)?
        } else if obj.contains_key("oneOf") || obj.contains_key("anyOf") {
            if obj.contains_key("properties") {
                self.unhandled(loc, "oneOf/anyOf beside properties");
            }
            self.union(loc, obj)?
        } else if non_null.len() > 1 {
            self.type_list_union(loc, obj, &non_null)?
        } else {
            let inferred = match non_null.first() {
                Some(t) => Some(*t),
                None if obj.contains_key("properties")
                    || obj.contains_key("additionalProperties")
                    || obj.contains_key("patternProperties") =>
                {
                    Some("object")
                }
                None if obj.contains_key("items") => Some("array"),
                None if obj
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().all(Value::is_string)) =>
                {
                    Some("string")
                }
                None if nullable => None,
                None => None,
            };
            match inferred {
                Some("object") => self.object(loc, obj)?,
                Some("array") => self.array(loc, obj)?,
                Some("string") => self.string(loc, obj)?,
                Some("integer") => Ty::Integer,
                Some("number") => Ty::Number,
                Some("boolean") => Ty::Boolean,
                Some("file") => Ty::Bytes,
                _ => Ty::Any,
            }
        };
        let ty = if nullable && !matches!(ty, Ty::Nullable(_) | Ty::Any) {
            Ty::Nullable(Box::new(ty))
        } else {
            ty
        };
        Ok(self.alias_if_named(loc, obj, ty))
    }

    /// Gives a whole-file or component schema a name even when it is a
    /// plain type expression (`pub type OneTimeKeys = BTreeMap<..>`).
    fn alias_if_named(&mut self, loc: &Location, obj: &Map<String, Value>, ty: Ty) -> Ty {
        if !is_named_location(loc) || matches!(ty, Ty::Named(_)) {
            return ty;
        }
        let id = self.new_type(loc, obj, TypeKind::Alias(ty), false);
        Ty::Named(id)
    }

    fn array(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        let tuple = match (obj.get("prefixItems"), obj.get("items")) {
            (Some(Value::Array(list)), _) => Some(("prefixItems", list)),
            (_, Some(Value::Array(list))) => Some(("items", list)),
            _ => None,
        };
        if let Some((key, list)) = tuple {
            let items = list
                .iter()
                .enumerate()
                .map(|(i, s)| self.ty(&loc.child(key).index(i), s))
                .collect::<Result<Vec<_>>>()?;
            return Ok(Ty::Tuple(items));
        }
        Ok(match obj.get("items") {
            Some(items) => Ty::Array(Box::new(self.ty(&loc.child("items"), items)?)),
            None => Ty::Array(Box::new(Ty::Any)),
        })
    }

    fn string(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        let Some(values) = obj.get("enum") else {
            let format = obj.get("format").and_then(Value::as_str);
            return Ok(match format.and_then(|f| self.identifier(loc, f)) {
                Some(id) => Ty::Identifier(id),
                None => Ty::String,
            });
        };
        let values: Vec<&str> = values
            .as_array()
            .ok_or_else(|| Error::spec(&loc.child("enum"), "enum must be a list"))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // A single allowed value is a fixed tag (an event `type`, a
        // `msgtype`): a constant.
        if let [value] = values.as_slice() {
            return Ok(Ty::Const((*value).to_owned()));
        }
        if values.is_empty() {
            return Ok(Ty::String);
        }
        let values = values
            .into_iter()
            .map(|wire| EnumValue {
                wire: wire.to_owned(),
                rust_name: String::new(),
            })
            .collect();
        let id = self.new_type(loc, obj, TypeKind::StringEnum { values }, true);
        Ok(Ty::Named(id))
    }

    fn object(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        let has_props = obj
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty());
        if !has_props {
            let key = self.map_key(loc, obj)?;
            if let Some(ty) = self.additional(loc, obj)? {
                return Ok(match key {
                    Some(key) => Ty::IdMap(key, Box::new(ty)),
                    None => Ty::Map(Box::new(ty)),
                });
            }
            return Ok(Ty::Object);
        }
        let mut gathered = Gathered::default();
        gathered.add(loc, obj, self.store)?;
        self.build_struct(loc, obj, gathered)
    }

    fn all_of(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        let parts = obj
            .get("allOf")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::spec(&loc.child("allOf"), "allOf must be a list"))?;
        let own_shape = ["properties", "additionalProperties", "patternProperties"]
            .iter()
            .any(|k| obj.contains_key(*k));
        if parts.len() == 1 && !own_shape {
            return self.ty(&loc.child("allOf").index(0), &parts[0]);
        }
        // `allOf: [{$ref: list.yaml}, {description: …}]`: the other parts
        // only say something about the one that has a shape (the spec
        // documents a property this way), so its type is that part's.
        let shaped: Vec<usize> = (0..parts.len()).filter(|i| !annotation_only(&parts[*i])).collect();
        if let ([only], false) = (shaped.as_slice(), own_shape) {
            return self.ty(&loc.child("allOf").index(*only), &parts[*only]);
        }
        let mut gathered = Gathered::default();
        gathered.add(loc, obj, self.store)?;
        for kw in &gathered.unmerged {
            self.unhandled(&kw.0, &kw.1);
        }
        if gathered.properties.is_empty() {
            if let Some(ty) = self.additional(loc, obj)? {
                return Ok(Ty::Map(Box::new(ty)));
            }
            return Ok(Ty::Object);
        }
        self.build_struct(loc, obj, gathered)
    }

    fn build_struct(&mut self, loc: &Location, obj: &Map<String, Value>, gathered: Gathered) -> Result<Ty> {
        let id = self.new_type(
            loc,
            obj,
            TypeKind::Struct {
                fields: Vec::new(),
                additional: None,
            },
            true,
        );
        let mut fields = Vec::new();
        for (name, ploc, pvalue) in &gathered.properties {
            let ty = self.ty(ploc, pvalue)?;
            let (_, merged) = self.store.deref(ploc, pvalue)?;
            let doc = doc_of(&merged);
            fields.push(Field {
                wire_name: name.clone(),
                rust_name: String::new(),
                ty,
                required: gathered.required.contains(name),
                doc,
            });
        }
        let additional = match &gathered.additional {
            Some((aloc, aobj)) => self.additional(aloc, aobj)?,
            None => None,
        };
        if let TypeKind::Struct {
            fields: f,
            additional: a,
        } = &mut self.drafts[id].def.kind
        {
            *f = fields;
            *a = additional;
        }
        Ok(Ty::Named(id))
    }

    /// The identifier type of a map's keys: every `patternProperties` entry
    /// (and no `additionalProperties`) names the same identifier format.
    fn map_key(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Option<IdentifierId>> {
        let Some(Value::Object(patterns)) = obj.get("patternProperties") else {
            return Ok(None);
        };
        if matches!(obj.get("additionalProperties"), Some(v) if v != &Value::Bool(false)) {
            return Ok(None);
        }
        let ploc = loc.child("patternProperties");
        let mut keys = Vec::new();
        for (pattern, schema) in patterns {
            keys.push(self.pattern_key(&ploc.child(pattern), schema)?);
        }
        keys.dedup();
        Ok(match keys.as_slice() {
            [Some(key)] => Some(*key),
            _ => None,
        })
    }

    /// The value type of `additionalProperties`/`patternProperties`, if any.
    fn additional(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Option<Ty>> {
        let mut value_tys = Vec::new();
        if let Some(patterns) = obj.get("patternProperties") {
            let ploc = loc.child("patternProperties");
            let patterns = patterns
                .as_object()
                .ok_or_else(|| Error::spec(&ploc, "patternProperties must be a mapping"))?;
            for (pattern, schema) in patterns {
                value_tys.push(self.ty(&ploc.child(pattern), schema)?);
            }
        }
        match obj.get("additionalProperties") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => value_tys.push(Ty::Any),
            Some(schema) => value_tys.push(self.ty(&loc.child("additionalProperties"), schema)?),
        }
        value_tys.dedup();
        Ok(match value_tys.len() {
            0 => None,
            1 => value_tys.pop(),
            _ => {
                self.unhandled(loc, "patternProperties with differing value types");
                Some(Ty::Any)
            }
        })
    }

    fn union(&mut self, loc: &Location, obj: &Map<String, Value>) -> Result<Ty> {
        let key = if obj.contains_key("oneOf") { "oneOf" } else { "anyOf" };
        if obj.contains_key("oneOf") && obj.contains_key("anyOf") {
            self.unhandled(loc, "oneOf beside anyOf");
        }
        let list = obj
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| Error::spec(&loc.child(key), format!("{key} must be a list")))?;
        let mut nullable = false;
        let mut tys = Vec::new();
        for (i, schema) in list.iter().enumerate() {
            let vloc = loc.child(key).index(i);
            let ty = self.ty(&vloc, schema)?;
            let is_null = schema.get("type").and_then(Value::as_str) == Some("null");
            if is_null {
                nullable = true;
            } else if let Ty::Nullable(inner) = ty {
                nullable = true;
                tys.push(*inner);
            } else {
                tys.push(ty);
            }
        }
        tys.dedup();
        let ty = match tys.len() {
            0 => Ty::Any,
            1 => tys.pop().unwrap_or(Ty::Any),
            _ => {
                let variants = tys
                    .into_iter()
                    .map(|ty| Variant {
                        rust_name: String::new(),
                        ty,
                    })
                    .collect();
                Ty::Named(self.new_type(loc, obj, TypeKind::Union { variants }, true))
            }
        };
        Ok(if nullable { Ty::Nullable(Box::new(ty)) } else { ty })
    }

    fn type_list_union(&mut self, loc: &Location, obj: &Map<String, Value>, types: &[&str]) -> Result<Ty> {
        let mut variants = Vec::new();
        for t in types {
            let mut single = obj.clone();
            single.insert("type".into(), Value::String((*t).to_owned()));
            let ty = match *t {
                "object" => self.object(loc, &single)?,
                "array" => self.array(loc, obj)?,
                "string" => Ty::String,
                "integer" => Ty::Integer,
                "number" => Ty::Number,
                "boolean" => Ty::Boolean,
                _ => Ty::Any,
            };
            variants.push(Variant {
                rust_name: String::new(),
                ty,
            });
        }
        Ok(Ty::Named(self.new_type(loc, obj, TypeKind::Union { variants }, true)))
    }

    fn new_type(&mut self, loc: &Location, obj: &Map<String, Value>, kind: TypeKind, title_first: bool) -> TypeId {
        let id = self.drafts.len();
        let mut candidates = Vec::new();
        let located = self.namer.name(self.store, loc);
        if title_first && !is_named_location(loc) && !is_operation_body(loc) && !is_event_content(loc) {
            if let Some(title) = obj.get("title").and_then(Value::as_str) {
                candidates.push(super::naming::pascal(title));
            }
        }
        candidates.push(located);
        self.drafts.push(Draft {
            def: TypeDef {
                name: String::new(),
                module: Module::of_file(&loc.file).unwrap_or(Module::Common),
                origin: loc.clone(),
                doc: doc_of_map(obj),
                kind,
                keeps_unknown: false,
            },
            candidates,
        });
        self.by_location.insert(loc.clone(), id);
        id
    }

    /// Records `example`/`examples` written on a schema.
    fn record_examples(&mut self, loc: &Location, obj: &Map<String, Value>, ty: &Ty, kind: ExampleKind) {
        if let Some(example) = obj.get("example") {
            self.examples.push(Example {
                location: loc.child("example"),
                value: example.clone(),
                ty: ty.clone(),
                kind,
            });
        }
        if let Some(Value::Array(list)) = obj.get("examples") {
            for (i, example) in list.iter().enumerate() {
                self.examples.push(Example {
                    location: loc.child("examples").index(i),
                    value: example.clone(),
                    ty: ty.clone(),
                    kind,
                });
            }
        }
    }
}

/// How deep schemas may nest before the converter calls it a cycle.
const MAX_SCHEMA_DEPTH: usize = 40;

/// The identifier formats `string-formats.yaml` lists (`mx-*` ones only:
/// `uri` and `email` stay strings).
fn listed_identifiers(store: &DocStore) -> Vec<Identifier> {
    let Some(Value::Object(formats)) = store.string_formats() else {
        return Vec::new();
    };
    formats
        .iter()
        .filter(|(name, _)| name.starts_with("mx-"))
        .map(|(name, entry)| Identifier {
            format: name.clone(),
            name: identifier_name(name),
            title: entry.get("title").and_then(Value::as_str).map(str::to_owned),
            url: entry.get("url").and_then(Value::as_str).map(str::to_owned),
            listed: true,
        })
        .collect()
}

/// `mx-user-id` → `UserId`.
fn identifier_name(format: &str) -> String {
    super::naming::pascal(format.strip_prefix("mx-").unwrap_or(format))
}

/// Properties, required names and map keywords collected from a schema and
/// its `allOf` parents (later ones override earlier ones, required is a union).
#[derive(Default)]
struct Gathered {
    properties: Vec<(String, Location, Value)>,
    required: std::collections::BTreeSet<String>,
    additional: Option<(Location, Map<String, Value>)>,
    /// Shape keywords inside `allOf` parts that a struct cannot merge.
    unmerged: Vec<(Location, String)>,
}

impl Gathered {
    fn add(&mut self, loc: &Location, obj: &Map<String, Value>, store: &DocStore) -> crate::diag::Result<()> {
        self.add_inner(loc, obj, store, 0)
    }

    fn add_inner(&mut self, loc: &Location, obj: &Map<String, Value>, store: &DocStore, depth: usize) -> Result<()> {
        if depth > 64 {
            return Err(Error::spec(loc, "allOf nesting too deep (a cycle?)"));
        }
        if let Some(parts) = obj.get("allOf") {
            let parts = parts
                .as_array()
                .ok_or_else(|| Error::spec(&loc.child("allOf"), "allOf must be a list"))?;
            for (i, part) in parts.iter().enumerate() {
                let (ploc, part) = store.deref(&loc.child("allOf").index(i), part)?;
                let Value::Object(part) = part else {
                    return Err(Error::spec(&ploc, "allOf entries must be mappings"));
                };
                for kw in ["oneOf", "anyOf"] {
                    if part.contains_key(kw) {
                        self.unmerged.push((ploc.clone(), format!("{kw} inside allOf")));
                    }
                }
                self.add_inner(&ploc, &part, store, depth + 1)?;
            }
        }
        if let Some(props) = obj.get("properties") {
            let ploc = loc.child("properties");
            let props = props
                .as_object()
                .ok_or_else(|| Error::spec(&ploc, "properties must be a mapping"))?;
            for (name, schema) in props {
                match self.properties.iter_mut().find(|(n, _, _)| n == name) {
                    // Declared by a parent too: both apply, so the schemas
                    // merge (the child's keywords win where they clash).
                    Some(existing) => {
                        let (_, parent) = store.deref(&existing.1, &existing.2)?;
                        let (_, child) = store.deref(&ploc.child(name), schema)?;
                        *existing = (name.clone(), ploc.child(name), merge_schemas(parent, child));
                    }
                    None => self.properties.push((name.clone(), ploc.child(name), schema.clone())),
                }
            }
        }
        if let Some(required) = obj.get("required") {
            let list = required
                .as_array()
                .ok_or_else(|| Error::spec(&loc.child("required"), "required must be a list"))?;
            self.required
                .extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if obj.contains_key("additionalProperties") || obj.contains_key("patternProperties") {
            let mut map = Map::new();
            for k in ["additionalProperties", "patternProperties"] {
                if let Some(v) = obj.get(k) {
                    map.insert(k.to_owned(), v.clone());
                }
            }
            self.additional = Some((loc.clone(), map));
        }
        Ok(())
    }
}

/// Merges two schemas that both apply to one property (from `allOf`
/// parents): `properties` merge recursively, `required` is a union, any
/// other keyword of `child` replaces the parent's.
fn merge_schemas(parent: Value, child: Value) -> Value {
    match (parent, child) {
        (Value::Object(mut p), Value::Object(c)) => {
            for (k, v) in c {
                let merged = match (k.as_str(), p.remove(&k), v) {
                    ("properties", Some(Value::Object(mut pp)), Value::Object(cp)) => {
                        for (name, schema) in cp {
                            let m = match pp.remove(&name) {
                                Some(existing) => merge_schemas(existing, schema),
                                None => schema,
                            };
                            pp.insert(name, m);
                        }
                        Value::Object(pp)
                    }
                    ("required", Some(Value::Array(mut pr)), Value::Array(cr)) => {
                        for r in cr {
                            if !pr.contains(&r) {
                                pr.push(r);
                            }
                        }
                        Value::Array(pr)
                    }
                    (_, _, v) => v,
                };
                p.insert(k, merged);
            }
            Value::Object(p)
        }
        (_, child) => child,
    }
}

/// Whether a schema describes a JSON object (says so, or has what only an
/// object has).
fn is_object_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
        || ["properties", "additionalProperties", "patternProperties"]
            .iter()
            .any(|k| schema.get(k).is_some())
        || schema
            .get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|parts| parts.iter().any(|p| p.get("$ref").is_some() || is_object_schema(p)))
}

fn doc_of(value: &Value) -> Doc {
    let mut doc: Doc = value.as_object().map(doc_of_map).unwrap_or_default();
    // A description given in an annotation-only part of `allOf`.
    if doc.description.is_empty() {
        let parts = value.get("allOf").and_then(Value::as_array).into_iter().flatten();
        let described = parts
            .filter(|part| annotation_only(part))
            .find_map(|part| part.get("description").and_then(Value::as_str));
        if let Some(description) = described {
            doc.description = description.to_owned();
        }
    }
    doc
}

/// A schema that only annotates (a description, a title, examples,
/// version notes) and says nothing of the value's shape.
fn annotation_only(part: &Value) -> bool {
    part.as_object().is_some_and(|obj| {
        obj.keys().all(|key| {
            matches!(
                key.as_str(),
                "description" | "title" | "example" | "examples" | "deprecated"
            ) || key.starts_with("x-")
        })
    })
}

/// The documentation of a schema node: description, constraints, versions.
pub(super) fn doc_of_map(obj: &Map<String, Value>) -> Doc {
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut notes = Vec::new();
    for key in NOTED {
        if let Some(v) = obj.get(*key) {
            notes.push(format!("{key}: `{}`", compact(v)));
        }
    }
    if let Some(v) = obj.get("propertyNames") {
        notes.push(format!("property names: `{}`", compact(v)));
    }
    if let Some(Value::Array(values)) = obj.get("enum") {
        let list: Vec<String> = values.iter().map(|v| format!("`{}`", compact(v))).collect();
        let is_open_enum = values.len() > 1 && values.iter().all(Value::is_string);
        if !is_open_enum {
            notes.push(format!("one of: {}", list.join(", ")));
        }
    }
    if let Some(v) = obj.get("default") {
        notes.push(format!("default: `{}`", compact(v)));
    }
    for key in ["x-pattern-format", "x-pattern"] {
        if let Some(v) = obj.get(key) {
            notes.push(format!("{}: `{}`", key.trim_start_matches("x-"), compact(v)));
        }
    }
    Doc {
        title: text("title"),
        description: text("description").unwrap_or_default(),
        notes,
        added_in: obj.get("x-addedInMatrixVersion").map(compact),
        changed_in: crate::load::api::changed_in(obj.get("x-changedInMatrixVersion")),
        deprecated: obj.get("deprecated") == Some(&Value::Bool(true)),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
