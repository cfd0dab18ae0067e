//! Events by kind: for every kind (timeline, state, account data, …) an
//! enum over the event types of that kind, dispatched on `type` (and on the
//! presence of `state_key` where state and message-like events meet); for
//! every event with content variants (`m.room.message$m.text`) an enum over
//! them, dispatched on the discriminating field (`msgtype`). Unknown types
//! decode into a `Custom` variant that keeps the whole JSON text.
//!
//! Every fact comes from the IR: kinds from the schemas or the declared data
//! file (`ir::event_kinds`), forms from the core event schemas, variants from
//! the `$` in schema file names.

use super::doc::doc_attrs;
use super::types::{rust_type, type_path};
use crate::ir::{naming_pascal, Api, Event, EventKind, Ty, TypeId, TypeKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeMap;

/// One kind enum: its name, the form its variants take, which kinds it
/// holds and how it is documented.
struct KindEnum {
    name: &'static str,
    doc: &'static str,
    /// `Some(stem)`: variants are the generic form `core-event-schema/<stem>`
    /// over the event's content; `None`: the event's own schema type.
    form: Option<&'static str>,
    /// The form of state events in a timeline enum (both kinds meet there).
    state_form: Option<&'static str>,
    kinds: &'static [EventKind],
}

impl KindEnum {
    /// Room events can be redacted: their enums have a `Redacted` case
    /// (stripped state carries no `unsigned`, so it never shows a redaction).
    fn redactable(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| matches!(k, EventKind::MessageLike | EventKind::State))
            && self.state_form != Some("stripped_state")
    }

    /// Whether the spec has the core event schemas this enum's variants take
    /// their form from (older releases lack some).
    fn forms_exist(&self, api: &Api) -> bool {
        [self.form, self.state_form]
            .into_iter()
            .flatten()
            .all(|stem| api.event_form(stem).is_some())
    }

    /// `AnySyncTimelineEvent` → `AnyRedactedSyncTimelineEvent`.
    fn redacted_name(&self) -> String {
        format!("AnyRedacted{}", self.name.trim_start_matches("Any"))
    }
}

const KIND_ENUMS: &[KindEnum] = &[
    KindEnum {
        name: "AnyTimelineEvent",
        doc: "Any room event with its `room_id` (`/messages`, `/context`, `/event`): message-like or state, told apart by `state_key`.",
        form: Some("room_event"),
        state_form: Some("state_event"),
        kinds: &[EventKind::MessageLike, EventKind::State],
    },
    KindEnum {
        name: "AnySyncTimelineEvent",
        doc: "Any room event as `/sync` sends it (no `room_id`): message-like or state, told apart by `state_key`.",
        form: Some("sync_room_event"),
        state_form: Some("sync_state_event"),
        kinds: &[EventKind::MessageLike, EventKind::State],
    },
    KindEnum {
        name: "AnyMessageLikeEvent",
        doc: "Any message-like room event, with its `room_id`.",
        form: Some("room_event"),
        state_form: None,
        kinds: &[EventKind::MessageLike],
    },
    KindEnum {
        name: "AnySyncMessageLikeEvent",
        doc: "Any message-like room event as `/sync` sends it (no `room_id`).",
        form: Some("sync_room_event"),
        state_form: None,
        kinds: &[EventKind::MessageLike],
    },
    KindEnum {
        name: "AnyStateEvent",
        doc: "Any state event, with its `room_id`.",
        form: None,
        state_form: Some("state_event"),
        kinds: &[EventKind::State],
    },
    KindEnum {
        name: "AnySyncStateEvent",
        doc: "Any state event as `/sync` sends it (no `room_id`).",
        form: None,
        state_form: Some("sync_state_event"),
        kinds: &[EventKind::State],
    },
    KindEnum {
        name: "AnyStrippedStateEvent",
        doc: "Any state event in its stripped form (`invite_state`, `knock_state`, invites over federation).",
        form: None,
        state_form: Some("stripped_state"),
        kinds: &[EventKind::State],
    },
    KindEnum {
        name: "AnyGlobalAccountDataEvent",
        doc: "Any event of the user's global account data (`account_data` in `/sync`).",
        form: None,
        state_form: None,
        kinds: &[EventKind::GlobalAccountData],
    },
    KindEnum {
        name: "AnyRoomAccountDataEvent",
        doc: "Any event of a room's account data (`rooms.join.*.account_data` in `/sync`).",
        form: None,
        state_form: None,
        kinds: &[EventKind::RoomAccountData],
    },
    KindEnum {
        name: "AnyEphemeralRoomEvent",
        doc: "Any ephemeral room event (`rooms.join.*.ephemeral` in `/sync`).",
        form: None,
        state_form: None,
        kinds: &[EventKind::Ephemeral],
    },
    KindEnum {
        name: "AnyToDeviceEvent",
        doc: "Any event sent to devices (`to_device` in `/sync`, `PUT /sendToDevice`).",
        form: None,
        state_form: None,
        kinds: &[EventKind::ToDevice],
    },
];

/// The content enum of an event with variants, and how it dispatches.
struct ContentEnum {
    name: syn::Ident,
    /// The event type whose content it is (`m.room.message`).
    event_type: String,
    /// The JSON field that tells the variants apart (`msgtype`).
    field: String,
    /// (Rust variant name, discriminating value, content type)
    variants: Vec<(syn::Ident, String, TypeId)>,
    /// The base content type, for the `Custom` variant.
    base: TypeId,
}

fn content_id(event: &Event) -> Option<TypeId> {
    match event.content.as_ref()? {
        Ty::Named(id) => Some(*id),
        _ => None,
    }
}

/// The variant name for an event: its type's name without `Event`.
fn variant_name(api: &Api, event: &Event) -> Option<syn::Ident> {
    let Ty::Named(id) = event.ty else { return None };
    let name = &api.ty(id).name;
    Some(format_ident!("{}", name.strip_suffix("Event").unwrap_or(name)))
}

/// The content enums, by the base event's schema name.
fn content_enums(api: &Api) -> BTreeMap<String, ContentEnum> {
    let mut out = BTreeMap::new();
    for base in api.events.iter().filter(|e| e.variant_of.is_none()) {
        let Some(base_content) = content_id(base) else { continue };
        let mut field: Option<String> = None;
        let mut variants = Vec::new();
        for v in api.events.iter() {
            let Some((of, value)) = &v.variant_of else { continue };
            if of != &base.schema_name {
                continue;
            }
            let Some(vc) = content_id(v) else { continue };
            let TypeKind::Struct { fields, .. } = &api.ty(vc).kind else {
                continue;
            };
            let Some(disc) = fields.iter().find(|f| f.ty == Ty::Const(value.clone())) else {
                continue;
            };
            if field.get_or_insert_with(|| disc.wire_name.clone()) != &disc.wire_name {
                continue;
            }
            let vname = naming_pascal(value.strip_prefix("m.").unwrap_or(value));
            variants.push((format_ident!("{}", vname), value.clone(), vc));
        }
        let Some(field) = field else { continue };
        variants.sort_by(|a, b| a.1.cmp(&b.1));
        let name = format_ident!("Any{}", api.ty(base_content).name);
        out.insert(
            base.schema_name.clone(),
            ContentEnum {
                name,
                event_type: base.type_name().to_owned(),
                field,
                variants,
                base: base_content,
            },
        );
    }
    out
}

/// The content type an event carries in the kind enums.
fn content_type(api: &Api, event: &Event, enums: &BTreeMap<String, ContentEnum>) -> Option<TokenStream> {
    if let Some(e) = enums.get(&event.schema_name) {
        let name = &e.name;
        return Some(quote! { crate::events::#name });
    }
    event.content.as_ref().map(|ty| rust_type(api, ty))
}

pub fn module(api: &Api, ctx: &super::doc::DocContext) -> TokenStream {
    let enums = content_enums(api);
    let mut items = Vec::new();
    for ce in enums.values() {
        items.push(content_enum(api, ce));
    }
    items.push(event_content_impls(api, &enums));
    let redacted = redacted_contents(api, ctx);
    items.push(redacted.items.clone());
    for ke in KIND_ENUMS {
        let redacted_enum = if ke.redactable() {
            kind_enum(api, ke, &enums, Mode::Redacted(&redacted))
        } else {
            None
        };
        let redacted_name = redacted_enum.as_ref().map(|_| format_ident!("{}", ke.redacted_name()));
        if let Some(item) = kind_enum(api, ke, &enums, Mode::Original(redacted_name)) {
            items.push(item);
        }
        items.extend(redacted_enum);
    }
    quote! {
        //! Events by kind, dispatched on `type`, and event contents by their
        //! discriminating field (`msgtype`). Types the spec does not define
        //! decode as `Custom`, which keeps the whole JSON text.
        #(#items)*
    }
}

fn content_enum(api: &Api, ce: &ContentEnum) -> TokenStream {
    let name = &ce.name;
    let field = &ce.field;
    let base = type_path(api, ce.base);
    let variants = ce.variants.iter().map(|(v, value, id)| {
        let ty = type_path(api, *id);
        let doc = doc_attrs(&format!("`{field}: {value}`"));
        quote! { #doc #v(#ty), }
    });
    let arms = ce.variants.iter().map(|(v, value, _)| {
        quote! { ::std::option::Option::Some(#value) => return ::matrix_api_runtime::events::decode(&json).map(Self::#v), }
    });
    let ser = ce
        .variants
        .iter()
        .map(|(v, _, _)| quote! { Self::#v(content) => content.serialize(serializer), });
    let event_type = &ce.event_type;
    let doc = doc_attrs(&format!(
        "The content of an `{event_type}` event, by its `{field}`. A `{field}` the spec does not define \
         decodes as `Custom`, which keeps the whole JSON text (decode it as the base content \
         with `Raw::deserialize`, or as your own type with `Raw::deserialize_as`)."
    ));
    quote! {
        #doc
        #[derive(Clone, Debug, PartialEq)]
        pub enum #name {
            #(#variants)*
            /// A value the spec does not define, kept as received.
            Custom(::matrix_api_runtime::Raw<#base>),
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                match self {
                    #(#ser)*
                    Self::Custom(raw) => raw.serialize(serializer),
                }
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let json = ::matrix_api_runtime::events::capture(deserializer)?;
                let head = ::matrix_api_runtime::events::head(&json, ::std::option::Option::Some(#field))
                    .map_err(<D::Error as ::serde::de::Error>::custom)?;
                match head.discriminator.as_deref() {
                    #(#arms)*
                    _ => {}
                }
                ::std::result::Result::Ok(Self::Custom(::matrix_api_runtime::Raw::from_raw_value(json.into_owned())))
            }
        }
    }
}

/// `impl EventContent` for every content type that belongs to exactly one
/// event type (and for the content enums).
fn event_content_impls(api: &Api, enums: &BTreeMap<String, ContentEnum>) -> TokenStream {
    let mut owners: BTreeMap<TypeId, Vec<&Event>> = BTreeMap::new();
    for e in api.events.iter().filter(|e| e.variant_of.is_none()) {
        if let Some(id) = content_id(e) {
            owners.entry(id).or_default().push(e);
        }
    }
    let mut impls = Vec::new();
    for (id, events) in owners {
        let [event] = events.as_slice() else { continue };
        let event_type = event.type_name();
        let ty = type_path(api, id);
        impls.push(quote! {
            impl ::matrix_api_runtime::events::EventContent for #ty {
                const EVENT_TYPE: &'static str = #event_type;
            }
        });
        if let Some(ce) = enums.get(&event.schema_name) {
            let name = &ce.name;
            impls.push(quote! {
                impl ::matrix_api_runtime::events::EventContent for #name {
                    const EVENT_TYPE: &'static str = #event_type;
                }
            });
        }
    }
    quote! { #(#impls)* }
}

/// Which enum of a kind is emitted: the enum itself (with a `Redacted` case
/// when the kind has a redacted enum), or the enum of its redacted events.
enum Mode<'a> {
    Original(Option<syn::Ident>),
    Redacted(&'a RedactedContents),
}

/// The redacted contents: per event type with kept keys its own type, the
/// shared `RedactedEventContent` for every other.
struct RedactedContents {
    items: TokenStream,
    by_type: BTreeMap<String, TokenStream>,
    generic: TokenStream,
}

impl RedactedContents {
    fn content(&self, event: &Event) -> TokenStream {
        self.by_type
            .get(event.type_name())
            .cloned()
            .unwrap_or_else(|| self.generic.clone())
    }
}

fn redacted_contents(api: &Api, ctx: &super::doc::DocContext) -> RedactedContents {
    let mut items = Vec::new();
    let mut by_type = BTreeMap::new();
    for (event_type, keep) in &api.redaction {
        let Some(event) = api
            .events
            .iter()
            .find(|e| e.variant_of.is_none() && e.type_name() == event_type)
        else {
            continue;
        };
        let Some(cid) = content_id(event) else { continue };
        let TypeKind::Struct { fields, .. } = &api.ty(cid).kind else {
            continue;
        };
        let name = format_ident!("Redacted{}", api.ty(cid).name);
        let original = type_path(api, cid);
        if keep.iter().any(|k| k == "*") {
            let doc = doc_attrs(&format!(
                "The content of a redacted `{event_type}` event: the redaction algorithm keeps all of it."
            ));
            items.push(quote! { #doc pub type #name = #original; });
        } else {
            let kept: Vec<crate::ir::Field> = fields.iter().filter(|f| keep.contains(&f.wire_name)).cloned().collect();
            let list: Vec<String> = keep.iter().map(|k| format!("`{k}`")).collect();
            let doc = doc_attrs(&format!(
                "The content of a redacted `{event_type}` event: what the redaction algorithm keeps ({}; \
                 sub-keys are kept as received in `extra`).",
                list.join(", ")
            ));
            items.push(super::models::struct_item(api, cid, &name, doc, &kept, None, ctx));
        }
        by_type.insert(event_type.clone(), quote! { crate::events::#name });
    }
    items.push(quote! {
        /// The content of a redacted event of a type whose content the redaction
        /// algorithm empties (and of one the spec does not define).
        #[derive(Clone, Debug, Default, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        pub struct RedactedEventContent {
            /// Whatever a server kept beyond the algorithm, as received.
            #[serde(flatten)]
            pub extra: ::std::collections::BTreeMap<::std::string::String, ::serde_json::Value>,
        }
    });
    RedactedContents {
        items: quote! { #(#items)* },
        by_type,
        generic: quote! { crate::events::RedactedEventContent },
    }
}

fn kind_enum(api: &Api, ke: &KindEnum, enums: &BTreeMap<String, ContentEnum>, mode: Mode<'_>) -> Option<TokenStream> {
    // The enum exists only where the spec has the forms it needs.
    if !ke.forms_exist(api) {
        return None;
    }
    let form = ke.form.map(|s| api.event_form(s));
    let state_form = ke.state_form.map(|s| api.event_form(s));
    let basic_form = api.event_form("event");
    let timeline = ke.form.is_some() && ke.state_form.is_some();
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut ser = Vec::new();
    let mut events: Vec<&Event> = api
        .events
        .iter()
        .filter(|e| e.variant_of.is_none())
        .filter(|e| e.kinds.iter().any(|k| ke.kinds.contains(k)))
        .collect();
    events.sort_by(|a, b| a.type_name().cmp(b.type_name()));
    let mut used = Vec::new();
    for event in events {
        let is_state = event.kinds.contains(&EventKind::State) && ke.kinds.contains(&EventKind::State);
        let is_message = event.kinds.contains(&EventKind::MessageLike) && ke.kinds.contains(&EventKind::MessageLike);
        // An event of both kinds here would need two variants; none is in the spec.
        let generic = if is_state { state_form.flatten() } else { form.flatten() };
        let ty = match generic {
            Some(form_id) => {
                let content = match &mode {
                    Mode::Redacted(redacted) => redacted.content(event),
                    Mode::Original(_) => content_type(api, event, enums)?,
                };
                let form = type_path(api, form_id);
                quote! { #form<#content> }
            }
            // Basic events (account data, ephemeral, to-device) are their own
            // schema, or the generic `event` form where their content has variants.
            None => match (enums.get(&event.schema_name), basic_form) {
                (Some(ce), Some(form_id)) => {
                    let form = type_path(api, form_id);
                    let name = &ce.name;
                    quote! { #form<crate::events::#name> }
                }
                _ => rust_type(api, &event.ty),
            },
        };
        let Some(vname) = variant_name(api, event) else {
            continue;
        };
        if used.contains(&vname.to_string()) {
            continue;
        }
        used.push(vname.to_string());
        let event_type = event.type_name();
        let doc = doc_attrs(&format!("`{event_type}`"));
        variants.push(quote! { #doc #vname(#ty), });
        let state_key = match (timeline, is_state, is_message) {
            (true, true, _) => quote! { true },
            (true, false, _) => quote! { false },
            _ => quote! { _ },
        };
        arms.push(quote! {
            (::std::option::Option::Some(#event_type), #state_key) => {
                return ::matrix_api_runtime::events::decode(&json).map(Self::#vname)
            }
        });
        ser.push(quote! { Self::#vname(event) => event.serialize(serializer), });
    }
    let custom_form = form.flatten().or(state_form.flatten());
    let custom_ty = match custom_form {
        Some(id) => type_path(api, id),
        None => match basic_form {
            Some(id) => type_path(api, id),
            None => quote! { ::serde_json::Value },
        },
    };
    let (name, doc) = match &mode {
        Mode::Original(_) => (format_ident!("{}", ke.name), ke.doc.to_owned()),
        Mode::Redacted(_) => (
            format_ident!("{}", ke.redacted_name()),
            format!(
                "{} Redacted: `unsigned.redacted_because` is present and the content holds only what \
                 the redaction algorithm keeps.",
                ke.doc
            ),
        ),
    };
    let doc = doc_attrs(&format!(
        "{doc}\n\nAn event type the spec does not define decodes as `Custom`, which keeps the whole JSON \
         text: it re-encodes unchanged, and decodes again as any type (`Raw::deserialize_as`)."
    ));
    let (redacted_variant, redacted_arm, redacted_ser) = match &mode {
        Mode::Original(Some(redacted)) => (
            quote! {
                /// A redacted event (`unsigned.redacted_because` is present).
                Redacted(crate::events::#redacted),
            },
            quote! {
                if head.redacted {
                    return ::matrix_api_runtime::events::decode(&json).map(Self::Redacted);
                }
            },
            quote! { Self::Redacted(event) => event.serialize(serializer), },
        ),
        _ => (quote! {}, quote! {}, quote! {}),
    };
    Some(quote! {
        #doc
        #[derive(Clone, Debug, PartialEq)]
        pub enum #name {
            #(#variants)*
            #redacted_variant
            /// An event type the spec does not define, kept as received.
            Custom(::matrix_api_runtime::Raw<#custom_ty>),
        }
        impl ::serde::Serialize for #name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                match self {
                    #(#ser)*
                    #redacted_ser
                    Self::Custom(raw) => raw.serialize(serializer),
                }
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                let json = ::matrix_api_runtime::events::capture(deserializer)?;
                let head = ::matrix_api_runtime::events::head(&json, ::std::option::Option::None)
                    .map_err(<D::Error as ::serde::de::Error>::custom)?;
                #redacted_arm
                match (head.event_type.as_deref(), head.has_state_key) {
                    #(#arms)*
                    _ => {}
                }
                ::std::result::Result::Ok(Self::Custom(::matrix_api_runtime::Raw::from_raw_value(json.into_owned())))
            }
        }
    })
}

/// The kind enum a list of events of the generic event schema `id` holds,
/// told by the schema's shape: `type` with an unconstrained `content`, and
/// then `event_id` with or without a required `room_id` (timeline events,
/// full or as `/sync` sends them), or a required `state_key` without
/// `event_id` (stripped state). `None` for every other schema.
pub fn list_enum(api: &Api, id: TypeId) -> Option<&'static str> {
    let TypeKind::Struct { fields, .. } = &api.ty(id).kind else {
        return None;
    };
    let field = |name: &str| fields.iter().find(|f| f.wire_name == name);
    let is_generic = field("type").is_some_and(|f| matches!(f.ty, Ty::String))
        && field("content").is_some_and(|f| f.ty == Ty::Object);
    if !is_generic {
        return None;
    }
    let required = |name: &str| field(name).is_some_and(|f| f.required);
    let name = match (required("event_id"), required("room_id"), required("state_key")) {
        (true, true, _) => "AnyTimelineEvent",
        (true, false, _) => "AnySyncTimelineEvent",
        (false, false, true) => "AnyStrippedStateEvent",
        _ => return None,
    };
    // Only where the spec has the forms the enum needs.
    KIND_ENUMS
        .iter()
        .find(|ke| ke.name == name)
        .filter(|ke| ke.forms_exist(api))
        .map(|ke| ke.name)
}

/// `Raw<Enum>` for the items of an event list (see [`list_enum`]); a list of
/// generic events whose kind the schema does not tell (`type` and `content`
/// only: account data, ephemeral events, presence) is kept raw too, as
/// `Raw<Event>`, to be decoded as whatever kind the reader knows it holds.
pub fn raw_item(api: &Api, ty: &Ty) -> Option<TokenStream> {
    let Ty::Named(id) = ty else { return None };
    if let Some(name) = list_enum(api, *id) {
        let name = format_ident!("{}", name);
        return Some(quote! { ::matrix_api_runtime::Raw<crate::events::#name> });
    }
    is_kindless_event(api, *id).then(|| {
        let item = super::types::rust_type(api, ty);
        quote! { ::matrix_api_runtime::Raw<#item> }
    })
}

/// The generic event form with only `type` and `content` required
/// (`event.yaml`), not a look-alike such as `createRoom`'s `initial_state`
/// entries, which a caller writes rather than reads.
fn is_kindless_event(api: &Api, id: TypeId) -> bool {
    if !api.is_event_form(id) {
        return false;
    }
    let TypeKind::Struct { fields, .. } = &api.ty(id).kind else {
        return false;
    };
    let field = |name: &str| fields.iter().find(|f| f.wire_name == name);
    let required = |name: &str| field(name).is_some_and(|f| f.required);
    field("type").is_some_and(|f| matches!(f.ty, Ty::String))
        && field("content").is_some_and(|f| f.ty == Ty::Object)
        && required("type")
        && required("content")
        && fields
            .iter()
            .all(|f| !f.required || matches!(f.wire_name.as_str(), "type" | "content"))
}
