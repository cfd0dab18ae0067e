//! The intermediate representation: what the emitters read. Built once from
//! the loaded spec by [`build`]; names are decided here (in [`naming`]), never
//! by an emitter.

mod build;
pub(crate) mod copies;
pub mod errata;
pub mod event_kinds;
mod naming;
mod schema;
pub mod shapes;
pub mod unsigned_data;

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

impl Event {
    /// The event `type`, or the schema's file name where the schema does not
    /// fix one (the spec names event schema files after their type).
    pub fn type_name(&self) -> &str {
        self.event_type.as_deref().unwrap_or(&self.schema_name)
    }
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
    /// From `api-specs/events.toml`: the content keys that survive redaction,
    /// by event type (`*`: all; `a.b`: only `b` inside `a`).
    pub redaction: std::collections::BTreeMap<String, Vec<String>>,
    /// Entries of `api-specs/events.toml` that name no event of this spec.
    pub unused_kind_entries: Vec<String>,
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
    /// schema whose `content` is a required, unconstrained object. (In
    /// r0.0.0–r0.2.0 the core schemas require nothing; they stay plain
    /// structs there.)
    pub fn is_event_form(&self, id: TypeId) -> bool {
        let def = &self.types[id];
        let Some(stem) = form_stem(&def.origin) else {
            return false;
        };
        EVENT_FORMS.contains(&stem)
            && matches!(&def.kind, TypeKind::Struct { fields, .. }
                if fields.iter().any(|f| f.wire_name == "content" && f.required && f.ty == Ty::Object))
    }

    /// Every type expression the API holds: fields, variants, aliases,
    /// parameters, headers and bodies.
    pub fn all_tys(&self) -> Vec<&Ty> {
        let types = self.types.iter().flat_map(TypeDef::tys);
        types.chain(self.operations.iter().flat_map(Operation::tys)).collect()
    }
}

impl TypeDef {
    /// The type expressions of its fields, variants or alias.
    pub fn tys(&self) -> Vec<&Ty> {
        match &self.kind {
            TypeKind::Struct { fields, additional } => fields.iter().map(|f| &f.ty).chain(additional).collect(),
            TypeKind::Union { variants } => variants.iter().map(|v| &v.ty).collect(),
            TypeKind::Alias(ty) => vec![ty],
            TypeKind::StringEnum { .. } => Vec::new(),
        }
    }
}

impl Operation {
    /// The type expressions of its parameters, response headers and bodies.
    pub fn tys(&self) -> Vec<&Ty> {
        let params = self.params.iter().chain(self.responses.iter().flat_map(|r| &r.headers));
        let contents = self
            .request
            .iter()
            .flat_map(|b| &b.content)
            .chain(self.responses.iter().flat_map(|r| &r.content));
        params
            .map(|p| &p.ty)
            .chain(contents.filter_map(|c| c.ty.as_ref()))
            .collect()
    }
}

/// `event-schemas/schema/core-event-schema/room_event.yaml` → `room_event`
/// (whole files only).
fn form_stem(origin: &Location) -> Option<&str> {
    if !origin.pointer.is_empty() {
        return None;
    }
    let name = origin.file.strip_prefix("event-schemas/schema/core-event-schema/")?;
    Some(crate::load::docs::doc_stem(name))
}

/// The innermost type expressions of `ty`: through arrays, maps, tuples and
/// `Nullable`, down to what names a type, a constant or a primitive.
fn ty_leaves<'a>(ty: &'a Ty, out: &mut Vec<&'a Ty>) {
    match ty {
        Ty::Array(inner) | Ty::Map(inner) | Ty::IdMap(_, inner) | Ty::Nullable(inner) => ty_leaves(inner, out),
        Ty::Tuple(items) => items.iter().for_each(|t| ty_leaves(t, out)),
        leaf => out.push(leaf),
    }
}

/// Every constant value a type expression mentions.
pub fn ty_consts<'a>(ty: &'a Ty, out: &mut Vec<&'a str>) {
    let mut leaves = Vec::new();
    ty_leaves(ty, &mut leaves);
    out.extend(leaves.into_iter().filter_map(|t| match t {
        Ty::Const(value) => Some(value.as_str()),
        _ => None,
    }));
}

/// The named types a type expression mentions directly.
pub fn ty_refs(ty: &Ty) -> Vec<TypeId> {
    let mut leaves = Vec::new();
    ty_leaves(ty, &mut leaves);
    leaves
        .into_iter()
        .filter_map(|t| match t {
            Ty::Named(id) => Some(*id),
            _ => None,
        })
        .collect()
}
