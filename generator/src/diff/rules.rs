//! The named rules that classify every change: who it breaks.
//!
//! Three audiences, judged separately:
//! - **client**: a client written against the old version, talking to a
//!   server that implements the new one, breaks on the wire;
//! - **server**: a server written against the old version, receiving
//!   requests from (or owing responses to) clients of the new one, breaks;
//! - **rust**: Rust code using the generated crate of the old version no
//!   longer compiles against the new one (a new field breaks struct
//!   literals, a new enum variant breaks exhaustive matches, …).
//!
//! Schema changes depend on where the schema is used: in requests, in
//! responses (and events, which flow both ways), or both.

use serde::Serialize;

/// Where a changed thing is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Direction {
    pub request: bool,
    pub response: bool,
}

impl Direction {
    pub const REQUEST: Direction = Direction {
        request: true,
        response: false,
    };
    pub const RESPONSE: Direction = Direction {
        request: false,
        response: true,
    };
    pub const BOTH: Direction = Direction {
        request: true,
        response: true,
    };
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breaking {
    pub client: bool,
    pub server: bool,
    pub rust: bool,
}

impl Breaking {
    pub fn any(self) -> bool {
        self.client || self.server || self.rust
    }
    pub fn wire(self) -> bool {
        self.client || self.server
    }
}

/// Whose code breaks, for a change whose effect depends on direction:
/// `req` says who breaks when the thing is sent in requests, `resp` when
/// it is sent in responses.
#[derive(Clone, Copy, Debug)]
pub enum Who {
    Nobody,
    Client,
    Server,
    Both,
}

impl Who {
    fn apply(self, b: &mut Breaking) {
        match self {
            Who::Nobody => {}
            Who::Client => b.client = true,
            Who::Server => b.server = true,
            Who::Both => {
                b.client = true;
                b.server = true;
            }
        }
    }
}

pub struct Rule {
    pub id: &'static str,
    pub summary: &'static str,
    /// Who breaks on the wire when the changed thing travels in requests.
    pub request: Who,
    /// … when it travels in responses.
    pub response: Who,
    pub rust: bool,
}

impl Rule {
    pub fn classify(&self, direction: Direction) -> Breaking {
        let mut b = Breaking {
            rust: self.rust,
            ..Breaking::default()
        };
        if direction.request {
            self.request.apply(&mut b);
        }
        if direction.response {
            self.response.apply(&mut b);
        }
        b
    }
}

macro_rules! rules {
    ($($id:literal, $req:ident, $resp:ident, $rust:literal, $summary:literal;)*) => {
        pub const RULES: &[Rule] = &[
            $(Rule { id: $id, request: Who::$req, response: Who::$resp, rust: $rust, summary: $summary },)*
        ];
    };
}

rules! {
    "operation-added", Nobody, Nobody, false, "A new endpoint: nothing existing breaks; servers may add it.";
    "operation-removed", Client, Client, true, "An endpoint is gone: clients calling it fail; its request/response types and client method disappear.";
    "operation-moved", Client, Client, false, "An endpoint's path changed (its API version segment, `r0` → `v3`): old clients call the old path, which the spec no longer lists.";
    "operation-deprecated", Nobody, Nobody, false, "An endpoint is marked deprecated: still works, plan to move off it.";
    "parameter-added-required", Client, Client, true, "A new required path/query/header parameter: old clients do not send it; the request type gains a required field.";
    "parameter-added-optional", Nobody, Nobody, true, "A new optional parameter: the wire is compatible; the request type gains a field, which breaks struct literals.";
    "parameter-removed-required", Server, Server, true, "A required parameter is gone: old servers still demand it from new clients; the request field disappears.";
    "parameter-removed-optional", Nobody, Nobody, true, "An optional parameter is gone: wire-compatible; the request field disappears.";
    "parameter-renamed", Nobody, Nobody, true, "A path parameter is renamed (same position): the URL is unchanged; the Rust field name changes.";
    "parameter-became-required", Client, Client, true, "A parameter became required: old clients may omit it; `Option<T>` becomes `T`.";
    "parameter-became-optional", Server, Server, true, "A parameter became optional: old servers may still demand it; `T` becomes `Option<T>`.";
    "parameter-type-changed", Both, Both, true, "A parameter's type changed (who breaks follows from the two JSON shapes); the Rust type changes.";
    "request-body-added", Client, Client, true, "An endpoint now takes a body: old clients send none.";
    "request-body-removed", Server, Server, true, "An endpoint no longer takes a body: old servers still expect one.";
    "request-body-type-changed", Both, Both, true, "The request body is a different schema now (who breaks follows from the two JSON shapes).";
    "response-body-type-changed", Both, Both, true, "A response body is a different schema now (who breaks follows from the two JSON shapes).";
    "body-schema-added", Nobody, Nobody, true, "A body documented without a schema has one now: nothing on the wire to compare it with; the Rust type changes.";
    "body-schema-removed", Nobody, Nobody, true, "A body's schema is gone (the body is undescribed now): the Rust type changes.";
    "content-type-added", Server, Client, false, "A new content type: old servers cannot read requests in it; old clients cannot read responses in it.";
    "content-type-removed", Client, Server, false, "A content type is gone: old clients still send it; old servers still answer with it.";
    "response-status-added", Nobody, Client, true, "A new documented status: old clients do not expect it; the response type gains a case.";
    "response-status-removed", Nobody, Nobody, true, "A documented status is gone: the response type loses a case.";
    "security-changed", Both, Both, false, "An endpoint needs credentials now, or no longer needs any.";
    "credential-removed", Client, Client, false, "One way of sending a credential is no longer accepted (the `access_token` query parameter, say): old clients sending it that way fail.";
    "credential-added", Server, Server, false, "A new way of sending a credential (a bearer token beside the query parameter): old servers reject new clients that use it.";
    "schema-added", Nobody, Nobody, false, "A new named schema.";
    "schema-renamed", Nobody, Nobody, true, "A named schema has another name now (same JSON shape): only the Rust type's name changes.";
    "schema-removed", Nobody, Nobody, true, "A named schema is gone (what used it is reported where it changed): the Rust type disappears.";
    "schema-kind-changed", Both, Both, true, "A schema changed shape (object, enum, union, map, …).";
    "field-added-required", Client, Server, true, "A new required property: old clients do not send it / old servers do not return it; struct literals break.";
    "field-added-optional", Nobody, Nobody, true, "A new optional property: wire-compatible; struct literals break.";
    "field-removed-required", Server, Client, true, "A required property is gone: old servers still demand it / old clients still expect it; the field disappears.";
    "field-removed-optional", Nobody, Nobody, true, "An optional property is gone: wire-compatible; the field disappears.";
    "field-became-required", Client, Server, true, "A property became required: old clients may omit it / old servers may not send it.";
    "field-became-optional", Server, Client, true, "A property became optional: old servers demand it / old clients expect it.";
    "field-type-changed", Both, Both, true, "A property's type changed (who breaks follows from the two JSON shapes: a reader breaks when the writer may send what it cannot read).";
    "constraint-tightened", Client, Server, false, "A constraint the Rust type does not enforce was added or narrowed (`format`, `pattern`, `maxLength`, `minimum`, …): values that were valid are rejected now, which breaks whoever sends them.";
    "constraint-loosened", Server, Client, false, "A constraint was dropped or widened: new senders may send what old readers reject.";
    "constraint-changed", Both, Both, false, "A constraint changed in a way that neither only narrows nor only widens it (another `pattern`, another `format`).";
    "additional-properties-changed", Both, Both, true, "The type of extra (map) properties changed, or they were added or removed.";
    "enum-value-added", Server, Client, true, "A new enum value: old servers reject it in requests / old clients meet it in responses; exhaustive matches break.";
    "enum-value-removed", Client, Server, true, "An enum value is gone: old clients still send it / old servers still return it; its variant disappears.";
    "union-variant-added", Server, Client, true, "A `oneOf`/`anyOf` gained an alternative.";
    "union-variant-removed", Client, Server, true, "A `oneOf`/`anyOf` lost an alternative.";
    "alias-type-changed", Both, Both, true, "A named plain type (map, list, string, …) now means another type.";
    "event-added", Nobody, Nobody, false, "A new event schema.";
    "event-removed", Nobody, Nobody, true, "An event schema is gone: its Rust types disappear.";
    "event-type-changed", Both, Both, true, "An event schema's top-level type is a different schema now.";
    "rust-type-changed", Nobody, Nobody, true, "The same JSON on the wire, another generated Rust type (a schema renamed, moved, or one type with its copies now).";
    "description-changed", Nobody, Nobody, false, "Documentation only (shown with --include-docs).";
}

pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no diff rule `{id}`"))
}
