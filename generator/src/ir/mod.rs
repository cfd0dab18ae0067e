//! The intermediate representation: what the emitters read. Built once from
//! the loaded spec by [`build`]; names are decided here (in [`naming`]), never
//! by an emitter.

mod build;
pub mod event_kinds;
mod naming;
mod schema;

pub use build::build;
pub use naming::{pascal as naming_pascal, snake as naming_snake};

use crate::diag::{Location, Unhandled};
use crate::family::{Family, Module};
use crate::load::api::{ParamIn, SecurityScheme};
use serde_json::Value;

/// Index of a named type in [`Api::types`].
pub type TypeId = usize;

/// Index of an identifier format in [`Api::identifiers`].
pub type IdentifierId = usize;

/// A string format for identifiers (`mx-user-id`), a newtype in the
/// generated crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identifier {
    /// The spec's name (`mx-user-id`).
    pub format: String,
    /// The Rust type name (`UserId`).
    pub name: String,
    /// From `string-formats.yaml`: the title and the link into the spec.
    pub title: Option<String>,
    pub url: Option<String>,
    /// Whether `string-formats.yaml` lists it (releases before v1.13 use
    /// formats without listing them).
    pub listed: bool,
}

/// A type expression.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ty {
    String,
    Integer,
    Number,
    Boolean,
    /// Raw bytes (a non-JSON body).
    Bytes,
    /// Any JSON value: the spec does not constrain it.
    Any,
    /// A JSON object whose keys and values the spec does not constrain.
    Object,
    Array(Box<Ty>),
    /// A fixed-length JSON array whose items have their own types
    /// (Swagger 2.0 list-form `items`, OpenAPI 3.1 `prefixItems`).
    Tuple(Vec<Ty>),
    /// A JSON object used as a map from string keys to values of one type.
    Map(Box<Ty>),
    /// A string of a Matrix identifier format (`format: mx-user-id`): an
    /// index into [`Api::identifiers`].
    Identifier(IdentifierId),
    /// A map whose keys are identifiers (`x-pattern-format` on the
    /// `patternProperties` of a map).
    IdMap(IdentifierId, Box<Ty>),
    /// A string with one allowed value (`enum: [m.room.message]`): a
    /// constant, written automatically and checked on decode.
    Const(String),
    /// `null` is allowed as well as the inner type.
    Nullable(Box<Ty>),
    Named(TypeId),
}

impl Ty {
    pub fn strip_nullable(&self) -> &Ty {
        match self {
            Ty::Nullable(inner) => inner,
            other => other,
        }
    }
}

/// Documentation carried over from the spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc {
    pub title: Option<String>,
    pub description: String,
    /// Constraints and annotations the Rust type does not enforce
    /// (`format`, `pattern`, `minItems`, defaults, …), rendered as a list.
    pub notes: Vec<String>,
    pub added_in: Option<String>,
    pub changed_in: Vec<(String, String)>,
    pub deprecated: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub wire_name: String,
    pub rust_name: String,
    pub ty: Ty,
    pub required: bool,
    pub doc: Doc,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumValue {
    pub wire: String,
    pub rust_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub rust_name: String,
    pub ty: Ty,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// An object with declared properties; `additional` holds the value type
    /// of `additionalProperties`/`patternProperties` kept beside them.
    Struct { fields: Vec<Field>, additional: Option<Ty> },
    /// A string enum that keeps unknown values.
    StringEnum { values: Vec<EnumValue> },
    /// `oneOf`/`anyOf` (or a `type` list): the first variant that fits.
    Union { variants: Vec<Variant> },
    /// A named schema that is a plain type expression.
    Alias(Ty),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeDef {
    pub name: String,
    pub module: Module,
    pub origin: Location,
    pub doc: Doc,
    pub kind: TypeKind,
    /// Keeps fields the spec does not declare (event contents and the
    /// `unsigned` of event forms), so that forwarding is lossless.
    pub keeps_unknown: bool,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub place: ParamIn,
    pub required: bool,
    pub ty: Ty,
    pub doc: Doc,
}

#[derive(Clone, Debug)]
pub struct Content {
    pub content_type: String,
    /// `None` when the spec gives no schema (an opaque body).
    pub ty: Option<Ty>,
}

#[derive(Clone, Debug)]
pub struct Body {
    pub required: bool,
    pub description: String,
    pub content: Vec<Content>,
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: String,
    pub description: String,
    pub content: Vec<Content>,
    pub headers: Vec<Param>,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub family: Family,
    pub operation_id: String,
    /// The Rust base name (`PascalCase`), unique within the family.
    pub type_name: String,
    pub method: String,
    pub path: String,
    pub path_key: String,
    pub location: Location,
    pub summary: String,
    pub description: String,
    pub deprecated: bool,
    pub params: Vec<Param>,
    pub request: Option<Body>,
    pub responses: Vec<Response>,
    pub security: Vec<Vec<(String, SecurityScheme)>>,
    pub added_in: Option<String>,
    pub changed_in: Vec<(String, String)>,
}

/// An event schema from `event-schemas/schema/`.
#[derive(Clone, Debug)]
pub struct Event {
    /// The event `type` (`m.room.message`), if the schema fixes one.
    pub event_type: Option<String>,
    /// The schema file name without extension (`m.room.message$m.text`).
    pub schema_name: String,
    pub file: String,
    pub ty: Ty,
    /// The type of the `content` property, when the event declares one.
    pub content: Option<Ty>,
    /// What kind of event it is (empty when nothing says; two for events
    /// sent both to devices and in rooms).
    pub kinds: Vec<EventKind>,
    pub kind_source: KindSource,
    /// For a content variant (`m.room.message$m.text`): the base event's
    /// schema name and the discriminating value (`m.text`).
    pub variant_of: Option<(String, String)>,
}

/// The kinds of events the spec distinguishes by where they travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    MessageLike,
    State,
    Ephemeral,
    GlobalAccountData,
    RoomAccountData,
    ToDevice,
    Presence,
}

/// Where an event's kind came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KindSource {
    /// The schema builds on `state_event.yaml` or `room_event.yaml`.
    Schema,
    /// `api-specs/events.toml`.
    DataFile,
    /// Nothing says: reported by `stats`.
    #[default]
    Unknown,
}

/// A JSON example from the spec and the type it must fit.
#[derive(Clone, Debug)]
pub struct Example {
    pub location: Location,
    pub value: Value,
    pub ty: Ty,
    pub kind: ExampleKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExampleKind {
    Request,
    Response,
    Schema,
    Parameter,
    Event,
}

/// Everything the emitters need, for one spec.
#[derive(Clone, Debug, Default)]
pub struct Api {
    pub operations: Vec<Operation>,
    pub types: Vec<TypeDef>,
    pub events: Vec<Event>,
    pub identifiers: Vec<Identifier>,
    /// The constant types (one per single-value string enum value used):
    /// value → Rust name.
    pub constants: std::collections::BTreeMap<String, String>,
    pub examples: Vec<Example>,
    /// Examples that are not JSON (or have a non-JSON content type), counted
    /// so that nothing is dropped silently.
    pub skipped_examples: Vec<(Location, String)>,
    pub unhandled: Vec<Unhandled>,
    /// Oddities in the spec that did not stop generation.
    pub warnings: Vec<(Location, String)>,
}

impl Api {
    pub fn ty(&self, id: TypeId) -> &TypeDef {
        &self.types[id]
    }

    /// Modules whose types are referenced from `module` (for Cargo features).
    pub fn module_dependencies(&self, module: Module) -> std::collections::BTreeSet<Module> {
        let mut deps = std::collections::BTreeSet::new();
        let visit = |ty: &Ty, deps: &mut std::collections::BTreeSet<Module>| {
            for id in ty_refs(ty) {
                let m = self.types[id].module;
                if m != module {
                    deps.insert(m);
                }
            }
        };
        for def in self.types.iter().filter(|d| d.module == module) {
            match &def.kind {
                TypeKind::Struct { fields, additional } => {
                    for f in fields {
                        visit(&f.ty, &mut deps);
                    }
                    if let Some(a) = additional {
                        visit(a, &mut deps);
                    }
                }
                TypeKind::Union { variants } => {
                    for v in variants {
                        visit(&v.ty, &mut deps);
                    }
                }
                TypeKind::Alias(ty) => visit(ty, &mut deps),
                TypeKind::StringEnum { .. } => {}
            }
        }
        // A family's operations use types of other modules too.
        if let Module::Family(family) = module {
            for op in self.operations.iter().filter(|o| o.family == family) {
                for p in op.params.iter().chain(op.responses.iter().flat_map(|r| &r.headers)) {
                    visit(&p.ty, &mut deps);
                }
                let contents = op
                    .request
                    .iter()
                    .flat_map(|b| &b.content)
                    .chain(op.responses.iter().flat_map(|r| &r.content));
                for ty in contents.filter_map(|c| c.ty.as_ref()) {
                    visit(ty, &mut deps);
                }
            }
        }
        deps
    }
}

/// The generic event forms: the core event schemas whose `content` is any
/// object, emitted generic over their content (`SyncRoomEvent<C>`).
pub const EVENT_FORMS: [&str; 6] = [
    "event",
    "room_event",
    "sync_room_event",
    "state_event",
    "sync_state_event",
    "stripped_state",
];

impl Api {
    /// The type of a core event schema (`core-event-schema/<stem>`), if it
    /// is a generic event form.
    pub fn event_form(&self, stem: &str) -> Option<TypeId> {
        (0..self.types.len()).find(|&id| self.is_event_form(id) && form_stem(&self.types[id].origin) == Some(stem))
    }

    /// Whether a type is one of the [`EVENT_FORMS`]: a whole core event
    /// schema whose `content` is an unconstrained object.
    pub fn is_event_form(&self, id: TypeId) -> bool {
        let def = &self.types[id];
        let Some(stem) = form_stem(&def.origin) else {
            return false;
        };
        EVENT_FORMS.contains(&stem)
            && matches!(&def.kind, TypeKind::Struct { fields, .. }
                if fields.iter().any(|f| f.wire_name == "content" && f.ty == Ty::Object))
    }

    /// Every type expression the API holds: fields, variants, aliases,
    /// parameters, headers and bodies.
    pub fn all_tys(&self) -> Vec<&Ty> {
        let mut out = Vec::new();
        for def in &self.types {
            match &def.kind {
                TypeKind::Struct { fields, additional } => {
                    out.extend(fields.iter().map(|f| &f.ty));
                    out.extend(additional.iter());
                }
                TypeKind::Union { variants } => out.extend(variants.iter().map(|v| &v.ty)),
                TypeKind::Alias(ty) => out.push(ty),
                TypeKind::StringEnum { .. } => {}
            }
        }
        for op in &self.operations {
            out.extend(op.params.iter().map(|p| &p.ty));
            for r in &op.responses {
                out.extend(r.headers.iter().map(|p| &p.ty));
                out.extend(r.content.iter().filter_map(|c| c.ty.as_ref()));
            }
            if let Some(b) = &op.request {
                out.extend(b.content.iter().filter_map(|c| c.ty.as_ref()));
            }
        }
        out
    }
}

/// `event-schemas/schema/core-event-schema/room_event.yaml` → `room_event`
/// (whole files only).
fn form_stem(origin: &Location) -> Option<&str> {
    if !origin.pointer.is_empty() {
        return None;
    }
    let name = origin.file.strip_prefix("event-schemas/schema/core-event-schema/")?;
    Some(name.split('.').next().unwrap_or(name))
}

/// Every constant value a type expression mentions.
pub fn ty_consts<'a>(ty: &'a Ty, out: &mut Vec<&'a str>) {
    match ty {
        Ty::Const(value) => out.push(value),
        Ty::Array(inner) | Ty::Map(inner) | Ty::IdMap(_, inner) | Ty::Nullable(inner) => ty_consts(inner, out),
        Ty::Tuple(items) => items.iter().for_each(|t| ty_consts(t, out)),
        _ => {}
    }
}

/// The named types a type expression mentions directly.
pub fn ty_refs(ty: &Ty) -> Vec<TypeId> {
    match ty {
        Ty::Named(id) => vec![*id],
        Ty::Array(inner) | Ty::Map(inner) | Ty::IdMap(_, inner) | Ty::Nullable(inner) => ty_refs(inner),
        Ty::Tuple(items) => items.iter().flat_map(ty_refs).collect(),
        _ => Vec::new(),
    }
}
