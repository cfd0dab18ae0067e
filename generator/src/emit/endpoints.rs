//! Operations → one module per operation (metadata, typed request and
//! response, the `Endpoint` impls), and per family the server trait, the
//! router, the client and `visit_all`. The HTTP work itself lives in the
//! hand-written runtime; this is data and glue.

use super::doc::{doc_attrs, inner_doc_attrs, render, DocContext};
use super::types::{ident, rust_type};
use crate::family::Family;
use crate::ir::naming_snake as snake;
use crate::ir::{Api, Content, Doc, Operation, Param, Ty};
use crate::load::api::{ParamIn, SecurityScheme};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The module name of an operation within its family's `endpoints`.
pub fn module_name(op: &Operation) -> String {
    snake(&op.type_name).trim_start_matches("r#").to_owned()
}

fn is_json(content_type: &str) -> bool {
    content_type == "application/json" || content_type.ends_with("+json")
}

/// How a body travels.
enum BodyKind {
    Empty,
    Json(Ty),
    Raw,
}

fn body_kind(content: &[Content]) -> BodyKind {
    if content.is_empty() {
        return BodyKind::Empty;
    }
    if let Some(c) = content.iter().find(|c| is_json(&c.content_type)) {
        if content.iter().all(|c| is_json(&c.content_type)) {
            return BodyKind::Json(c.ty.clone().unwrap_or(Ty::Any));
        }
    }
    BodyKind::Raw
}

fn body_type(api: &Api, kind: &BodyKind) -> TokenStream {
    match kind {
        BodyKind::Empty => quote! { ::matrix_api_runtime::Empty },
        BodyKind::Json(ty) => rust_type(api, ty),
        BodyKind::Raw => quote! { ::matrix_api_runtime::RawBody },
    }
}

fn auth_scheme(op: &Operation) -> TokenStream {
    // X-Matrix signatures exist only in federation; elsewhere a reference to
    // `signedRequest` is a spec slip (reported by `cargo xtask stats`).
    let federation = op.family == Family::ServerServer;
    let alternatives = &op.security;
    if alternatives.is_empty() {
        return quote! { ::matrix_api_runtime::AuthScheme::None };
    }
    let is_signature = |name: &str, s: &SecurityScheme| {
        matches!(s, SecurityScheme::Http { scheme, .. } if scheme.eq_ignore_ascii_case("x-matrix"))
            || name == "signedRequest"
    };
    let signed = alternatives.iter().flatten().any(|(name, s)| is_signature(name, s));
    if signed && federation {
        return quote! { ::matrix_api_runtime::AuthScheme::ServerSignature };
    }
    let optional = alternatives.iter().any(|alt| alt.is_empty());
    let token = alternatives.iter().flatten().any(|(name, s)| !is_signature(name, s));
    if signed && token && !optional {
        // A homeserver may sign in place of its user's token.
        return quote! { ::matrix_api_runtime::AuthScheme::AccessTokenOrServerSignature };
    }
    if signed {
        return quote! { ::matrix_api_runtime::AuthScheme::AccessTokenOptional };
    }
    if optional {
        return quote! { ::matrix_api_runtime::AuthScheme::AccessTokenOptional };
    }
    quote! { ::matrix_api_runtime::AuthScheme::AccessToken }
}

fn path_param_names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        out.push(rest[start + 1..start + end].to_owned());
        rest = &rest[start + end + 1..];
    }
    out
}

/// The Rust field names of a parameter struct, in order (`snake`, made unique).
fn param_field_names(params: &[&Param]) -> Vec<String> {
    let mut used: Vec<String> = Vec::new();
    params
        .iter()
        .map(|p| {
            let mut fname = snake(&p.name);
            while used.contains(&fname) {
                fname.push('_');
            }
            used.push(fname.clone());
            fname
        })
        .collect()
}

/// Whether a parameter is exploded into the query string (an object of arbitrary keys).
fn is_map_param(p: &Param) -> bool {
    matches!(p.ty, Ty::Map(_) | Ty::Object)
}

/// A struct of parameters (path, query or headers), fields named by `snake`.
///
/// It is always encodable (`Serialize`); `Deserialize` is derived only with
/// the feature of the side that reads it (`decoded_by`: `server` for a
/// request's parameters, `client` for a response's headers), so that the
/// other side does not compile a decoder it never calls.
fn param_struct(
    api: &Api,
    name: &str,
    params: &[&Param],
    ctx: &DocContext,
    header_names: bool,
    decoded_by: &str,
) -> TokenStream {
    let name = format_ident!("{}", name);
    let mut all_optional = true;
    let names = param_field_names(params);
    let fields = params.iter().zip(&names).map(|(p, fname)| {
        let f = ident(fname);
        let wire = if header_names { p.name.to_ascii_lowercase() } else { p.name.clone() };
        let ty = rust_type(api, p.ty.strip_nullable());
        let mut doc = render(&p.doc, ctx);
        if doc.is_empty() {
            doc = format!("`{}`", p.name);
        }
        let docs = doc_attrs(&doc);
        if is_map_param(p) {
            return quote! { #docs #[serde(flatten)] pub #f: #ty, };
        }
        let rename = if fname.trim_start_matches("r#") != wire { quote! { rename = #wire, } } else { quote! {} };
        if p.required {
            all_optional = false;
            let attr = if rename.is_empty() { quote! {} } else { quote! { #[serde(#rename)] } };
            quote! { #docs #attr pub #f: #ty, }
        } else {
            quote! { #docs #[serde(#rename default, skip_serializing_if = "::std::option::Option::is_none")] pub #f: ::std::option::Option<#ty>, }
        }
    });
    let fields: Vec<TokenStream> = fields.collect();
    let default = if all_optional {
        quote! { Default, }
    } else {
        quote! {}
    };
    quote! {
        #[derive(Clone, Debug, #default PartialEq, ::serde::Serialize)]
        #[cfg_attr(feature = #decoded_by, derive(::serde::Deserialize))]
        pub struct #name { #(#fields)* }
    }
}

/// Whether an error status documents a body of its own, not the standard
/// Matrix error (a struct with a required `errcode`).
fn is_typed_error(api: &Api, content: &[Content]) -> bool {
    let BodyKind::Json(Ty::Named(id)) = body_kind(content) else {
        return false;
    };
    match &api.ty(id).kind {
        crate::ir::TypeKind::Struct { fields, .. } => !fields.iter().any(|f| f.wire_name == "errcode" && f.required),
        _ => false,
    }
}

/// An argument of `Request::new`: the parameter's spec name, the argument's
/// Rust name, and `name: Type`.
struct Arg {
    param: String,
    name: String,
    tokens: TokenStream,
}

/// What `Request::new` takes for one parameter struct (its required
/// parameters) and how it builds the struct (the rest absent).
fn param_constructor(
    api: &Api,
    struct_name: &str,
    params: &[&Param],
    taken: &mut Vec<String>,
) -> (Vec<Arg>, TokenStream) {
    let struct_ident = format_ident!("{}", struct_name);
    let names = param_field_names(params);
    let mut args = Vec::new();
    let mut inits = Vec::new();
    for (p, fname) in params.iter().zip(&names) {
        let f = ident(fname);
        if p.required && !is_map_param(p) {
            let mut arg_name = fname.clone();
            while taken.contains(&arg_name) {
                arg_name.push('_');
            }
            taken.push(arg_name.clone());
            let arg = ident(&arg_name);
            let ty = rust_type(api, p.ty.strip_nullable());
            args.push(Arg {
                param: p.name.clone(),
                name: arg_name.clone(),
                tokens: quote! { #arg: #ty },
            });
            if arg_name == *fname {
                inits.push(quote! { #f, });
            } else {
                inits.push(quote! { #f: #arg, });
            }
        } else if is_map_param(p) {
            inits.push(quote! { #f: ::std::default::Default::default(), });
        } else {
            inits.push(quote! { #f: ::std::option::Option::None, });
        }
    }
    (args, quote! { #struct_ident { #(#inits)* } })
}

/// The `Response` case for a status (`200` → `Ok`, `302` → `Found`).
pub fn variant_name(status: &str) -> String {
    match status {
        "200" => "Ok".into(),
        "201" => "Created".into(),
        "202" => "Accepted".into(),
        "204" => "NoContent".into(),
        "301" => "MovedPermanently".into(),
        "302" => "Found".into(),
        "307" => "TemporaryRedirect".into(),
        "308" => "PermanentRedirect".into(),
        "400" => "BadRequest".into(),
        "401" => "Unauthorized".into(),
        "403" => "Forbidden".into(),
        "404" => "NotFound".into(),
        "429" => "TooManyRequests".into(),
        other => format!("Status{other}"),
    }
}

/// One operation's module.
pub fn operation_module(api: &Api, op: &Operation, ctx: &DocContext) -> TokenStream {
    let method = op.method.to_uppercase();
    let path = &op.path;
    let operation_id = &op.operation_id;
    let auth = auth_scheme(op);
    let rate_limited = op.responses.iter().any(|r| r.status == "429");
    let deprecated = op.deprecated;
    let added_in = match &op.added_in {
        Some(v) => quote! { ::std::option::Option::Some(#v) },
        None => quote! { ::std::option::Option::None },
    };
    let changed_in = op.changed_in.iter().map(|(v, _)| v.as_str());
    let path_params = path_param_names(path);
    let path_param_strs = path_params.iter().map(String::as_str);
    let param_names = |place: ParamIn| -> Vec<&str> {
        op.params
            .iter()
            .filter(|p| p.place == place)
            .map(|p| p.name.as_str())
            .collect()
    };
    let query_param_strs = param_names(ParamIn::Query);
    let header_param_strs = param_names(ParamIn::Header);

    let request_kind = body_kind(op.request.as_ref().map(|b| b.content.as_slice()).unwrap_or(&[]));
    let raw_request = matches!(request_kind, BodyKind::Raw);
    let by_place = |place: ParamIn| -> Vec<&Param> {
        op.params
            .iter()
            .filter(|p| p.place == place)
            .filter(|p| !(raw_request && p.name.eq_ignore_ascii_case("content-type")))
            .collect()
    };
    // Path parameters in the order of the template.
    let mut path_list: Vec<&Param> = by_place(ParamIn::Path);
    path_list.sort_by_key(|p| path_params.iter().position(|n| *n == p.name).unwrap_or(usize::MAX));
    let path_struct = param_struct(api, "Path", &path_list, ctx, false, "server");
    let query_struct = param_struct(api, "Query", &by_place(ParamIn::Query), ctx, false, "server");
    let header_struct = param_struct(api, "Headers", &by_place(ParamIn::Header), ctx, true, "server");

    let body_ty = body_type(api, &request_kind);
    let mut taken = Vec::new();
    let (path_args, path_init) = param_constructor(api, "Path", &path_list, &mut taken);
    let (query_args, query_init) = param_constructor(api, "Query", &by_place(ParamIn::Query), &mut taken);
    let (header_args, header_init) = param_constructor(api, "Headers", &by_place(ParamIn::Header), &mut taken);
    let (body_arg, body_init) = match &request_kind {
        BodyKind::Empty => (Vec::new(), quote! { body: ::matrix_api_runtime::Empty {}, }),
        _ => {
            let mut name = "body".to_owned();
            while taken.contains(&name) {
                name.push('_');
            }
            let arg = format_ident!("{}", name);
            let init = if name == "body" {
                quote! { body, }
            } else {
                quote! { body: #arg, }
            };
            let tokens = quote! { #arg: #body_ty };
            (
                vec![Arg {
                    param: String::new(),
                    name,
                    tokens,
                }],
                init,
            )
        }
    };
    let all_args: Vec<&TokenStream> = path_args
        .iter()
        .chain(&query_args)
        .chain(&header_args)
        .chain(&body_arg)
        .map(|a| &a.tokens)
        .collect();
    // Sending an event (`{eventType}` in the path, any object as the body):
    // typed content names its own event type.
    let typed_send = match &request_kind {
        BodyKind::Json(Ty::Object) if path_params.iter().any(|p| p == "eventType") => {
            let params = || path_args.iter().chain(&query_args).chain(&header_args);
            let keep = params().filter(|a| a.param != "eventType").map(|a| &a.tokens);
            let values = params().map(|a| {
                if a.param == "eventType" {
                    quote! { C::EVENT_TYPE.into() }
                } else {
                    let id = ident(&a.name);
                    quote! { #id }
                }
            });
            Some(quote! {
                /// A request that sends typed content: the event type comes from
                /// the content's type (`EventContent::EVENT_TYPE`).
                pub fn with_content<C>(#(#keep,)* content: &C) -> ::std::result::Result<Self, ::serde_json::Error>
                where
                    C: ::matrix_api_runtime::events::EventContent + ::serde::Serialize,
                {
                    let body = match ::serde_json::to_value(content)? {
                        ::serde_json::Value::Object(map) => map,
                        _ => return ::std::result::Result::Err(<::serde_json::Error as ::serde::ser::Error>::custom("event content must be a JSON object")),
                    };
                    ::std::result::Result::Ok(Self::new(#(#values,)* body))
                }
            })
        }
        _ => None,
    };
    let request_default = if all_args.is_empty() {
        quote! { Default, }
    } else {
        quote! {}
    };
    let (decode, encode) = match &request_kind {
        BodyKind::Empty => (
            quote! { let _ = (content_type, bytes); ::std::result::Result::Ok(::matrix_api_runtime::Empty {}) },
            quote! { let _ = body; ::std::result::Result::Ok(::matrix_api_runtime::Encoded::default()) },
        ),
        // A required body that is free-form data (event content, account
        // data) must be sent: empty is not `{}`. A required body of declared
        // options reads an empty body as `{}`, none of them given: real
        // clients (matrix-nio's join) send nothing there, and Synapse
        // accepts it.
        BodyKind::Json(ty) if op.request.as_ref().is_some_and(|b| b.required) && !matches!(ty, Ty::Named(_)) => (
            quote! { let _ = content_type; ::matrix_api_runtime::endpoint::body::json_required(&bytes) },
            quote! { ::matrix_api_runtime::endpoint::body::to_json(body) },
        ),
        BodyKind::Json(_) => (
            quote! { let _ = content_type; ::matrix_api_runtime::endpoint::body::json(&bytes) },
            quote! { ::matrix_api_runtime::endpoint::body::to_json(body) },
        ),
        BodyKind::Raw => (
            quote! { ::std::result::Result::Ok(::matrix_api_runtime::endpoint::body::raw(content_type, bytes)) },
            quote! { ::std::result::Result::Ok(::matrix_api_runtime::endpoint::body::from_raw(body)) },
        ),
    };

    // Responses: one case per documented status below 400.
    let mut variants = Vec::new();
    let mut header_structs = Vec::new();
    let mut into_arms = Vec::new();
    let mut from_arms = Vec::new();
    // Error statuses arrive as `MatrixError`, except those whose documented
    // body is something else (the user-interactive auth 401): those are
    // response cases of their own.
    let mut typed_errors = Vec::new();
    for r in &op.responses {
        let Ok(status) = r.status.parse::<u16>() else { continue };
        if status >= 400 {
            if !is_typed_error(api, &r.content) {
                continue;
            }
            typed_errors.push(status);
        }
        let vname = format_ident!("{}", variant_name(&r.status));
        let kind = body_kind(&r.content);
        let bty = body_type(api, &kind);
        let raw = matches!(kind, BodyKind::Raw);
        let headers: Vec<&Param> = r
            .headers
            .iter()
            .filter(|h| {
                !(raw
                    && (h.name.eq_ignore_ascii_case("content-type")
                        || h.name.eq_ignore_ascii_case("content-disposition")))
            })
            .collect();
        let vdoc = doc_attrs(&format!(
            "Status {}: {}",
            r.status,
            super::doc::sanitize(r.description.trim(), ctx)
        ));
        let (encode_body, decode_body) = match kind {
            BodyKind::Empty => (
                quote! { { let _ = body; ::matrix_api_runtime::Encoded::default() } },
                quote! { ::matrix_api_runtime::Empty {} },
            ),
            BodyKind::Json(_) => (
                quote! { ::matrix_api_runtime::endpoint::body::to_json(&body)? },
                quote! { ::matrix_api_runtime::endpoint::body::json_response(&response.body.bytes)? },
            ),
            BodyKind::Raw => (
                quote! { ::matrix_api_runtime::endpoint::body::from_raw(&body) },
                quote! { ::matrix_api_runtime::endpoint::body::raw_response(&response) },
            ),
        };
        // Download bodies carry their own headers (content disposition).
        let (let_headers, raw_headers) = if raw {
            (
                quote! { let mut http_headers },
                quote! { http_headers.extend(::matrix_api_runtime::endpoint::body::raw_headers(&body)); },
            )
        } else {
            (quote! { let http_headers }, quote! {})
        };
        if headers.is_empty() {
            variants.push(quote! { #vdoc #vname(#bty), });
            into_arms.push(quote! {
                Response::#vname(body) => {
                    #let_headers: ::std::vec::Vec<(::std::string::String, ::std::string::String)> = ::std::vec::Vec::new();
                    #raw_headers
                    ::std::result::Result::Ok(::matrix_api_runtime::HttpResponse { status: #status, headers: http_headers, body: #encode_body })
                }
            });
            from_arms.push(quote! { #status => ::std::result::Result::Ok(Response::#vname(#decode_body)), });
        } else {
            let hname = format!("{}Headers", variant_name(&r.status));
            let hident = format_ident!("{}", hname);
            header_structs.push(param_struct(api, &hname, &headers, ctx, true, "client"));
            variants.push(quote! { #vdoc #vname { headers: #hident, body: #bty }, });
            into_arms.push(quote! {
                Response::#vname { headers, body } => {
                    #let_headers = ::matrix_api_runtime::endpoint::headers::encode(&headers)?;
                    #raw_headers
                    ::std::result::Result::Ok(::matrix_api_runtime::HttpResponse { status: #status, headers: http_headers, body: #encode_body })
                }
            });
            from_arms.push(quote! {
                #status => ::std::result::Result::Ok(Response::#vname {
                    headers: ::matrix_api_runtime::endpoint::headers::decode(&response.headers)?,
                    body: #decode_body,
                }),
            });
        }
    }
    let into_body = if into_arms.is_empty() {
        quote! { match self {} }
    } else {
        quote! { match self { #(#into_arms)* } }
    };

    let mut doc = format!("`{} {}` (`{}`)", method, path, operation_id);
    if !op.summary.is_empty() {
        doc.push_str(&format!(": {}", super::doc::sanitize(op.summary.trim(), ctx)));
    }
    let description = render(
        &Doc {
            description: op.description.clone(),
            deprecated: op.deprecated,
            added_in: op.added_in.clone(),
            changed_in: op.changed_in.clone(),
            ..Doc::default()
        },
        ctx,
    );
    if !description.is_empty() {
        doc.push_str("\n\n");
        doc.push_str(&description);
    }
    let module_doc = inner_doc_attrs(&doc);
    quote! {
        #module_doc

        /// What the spec says about this operation.
        pub const METADATA: ::matrix_api_runtime::Metadata = ::matrix_api_runtime::Metadata {
            operation_id: #operation_id,
            method: #method,
            path: #path,
            auth: #auth,
            rate_limited: #rate_limited,
            deprecated: #deprecated,
            added_in: #added_in,
            changed_in: &[#(#changed_in),*],
            path_params: &[#(#path_param_strs),*],
            query_params: &[#(#query_param_strs),*],
            header_params: &[#(#header_param_strs),*],
        };

        /// Path parameters.
        #path_struct
        /// Query parameters.
        #query_struct
        /// Request headers.
        #header_struct
        #(#header_structs)*

        /// The request: parameters and body.
        #[derive(Clone, Debug, #request_default PartialEq)]
        pub struct Request {
            pub path: Path,
            pub query: Query,
            pub headers: Headers,
            pub body: #body_ty,
        }

        impl Request {
            /// A request with the required parameters (path first, in the
            /// order of the path) and the body; optional parameters are absent.
            #[allow(clippy::too_many_arguments)]
            pub fn new(#(#all_args),*) -> Self {
                Request {
                    path: #path_init,
                    query: #query_init,
                    headers: #header_init,
                    #body_init
                }
            }
            #typed_send
        }

        /// A successful response, by status, and the error statuses whose
        /// documented body is not a Matrix error. Other errors arrive as `MatrixError`.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Response {
            #(#variants)*
        }

        impl ::matrix_api_runtime::Endpoint for Request {
            const METADATA: ::matrix_api_runtime::Metadata = METADATA;
            type Path = Path;
            type Query = Query;
            type Headers = Headers;
            type Body = #body_ty;
            type Response = Response;

            fn from_parts(path: Path, query: Query, headers: Headers, body: #body_ty) -> Self {
                Request { path, query, headers, body }
            }
            fn into_parts(self) -> (Path, Query, Headers, #body_ty) {
                (self.path, self.query, self.headers, self.body)
            }
        }

        #[cfg(feature = "server")]
        impl ::matrix_api_runtime::ServerEndpoint for Request {
            fn decode_body(
                content_type: ::std::option::Option<&str>,
                bytes: ::matrix_api_runtime::__private::Bytes,
            ) -> ::std::result::Result<#body_ty, ::matrix_api_runtime::MatrixError> {
                #decode
            }
        }

        #[cfg(feature = "client")]
        impl ::matrix_api_runtime::ClientEndpoint for Request {
            fn encode_body(body: &#body_ty) -> ::std::result::Result<::matrix_api_runtime::Encoded, ::std::string::String> {
                #encode
            }
        }

        impl ::matrix_api_runtime::EndpointResponse for Response {
            const TYPED_ERRORS: &'static [u16] = &[#(#typed_errors),*];
            fn into_http(self) -> ::std::result::Result<::matrix_api_runtime::HttpResponse, ::std::string::String> {
                #into_body
            }
        }

        #[cfg(feature = "client")]
        impl ::matrix_api_runtime::ClientResponse for Response {
            fn from_http(response: ::matrix_api_runtime::HttpResponse) -> ::std::result::Result<Self, ::std::string::String> {
                match response.status {
                    #(#from_arms)*
                    other => ::std::result::Result::Err(::std::format!("undocumented status {other}")),
                }
            }
        }
    }
}

fn trait_name(family: Family) -> syn::Ident {
    format_ident!("{}Api", crate::ir::naming_pascal(family.dir()))
}

/// The family's `endpoints/mod.rs`: module list, server trait, router, client, visitor.
pub fn family_module(api: &Api, family: Family, ops: &[&Operation], ctx: &DocContext) -> TokenStream {
    let trait_ident = trait_name(family);
    let mods: Vec<syn::Ident> = ops.iter().map(|o| format_ident!("{}", module_name(o))).collect();
    let methods: Vec<syn::Ident> = mods.clone();
    let summaries: Vec<TokenStream> = ops
        .iter()
        .map(|o| {
            doc_attrs(&format!(
                "`{} {}`: {}",
                o.method.to_uppercase(),
                o.path,
                super::doc::sanitize(o.summary.trim(), ctx)
            ))
        })
        .collect();
    let cors = family == Family::ClientServer;
    let doc = inner_doc_attrs(&format!(
        "Every operation of the {}: one module each (metadata, `Request`, `Response`),\n\
         the server trait `{trait_ident}` with `router` (feature `server`), `Client` (feature `client`),\n\
         and [`visit_all`].",
        family.title()
    ));
    let _ = api;
    quote! {
        #doc

        #(pub mod #mods;)*

        /// The server side: one method per operation. Every method has a default
        /// that answers `404 M_UNRECOGNIZED`, so an implementation can fill them
        /// in one at a time.
        #[cfg(feature = "server")]
        pub trait #trait_ident: ::std::marker::Send + ::std::marker::Sync + 'static {
            #(
                #summaries
                fn #methods(
                    &self,
                    request: #mods::Request,
                    credentials: ::matrix_api_runtime::server::Credentials,
                ) -> impl ::std::future::Future<Output = ::std::result::Result<#mods::Response, ::matrix_api_runtime::MatrixError>> + ::std::marker::Send {
                    let _ = (request, credentials);
                    async { ::std::result::Result::Err(::matrix_api_runtime::MatrixError::unrecognized()) }
                }
            )*
        }

        /// The axum router serving `api`, with the default configuration.
        #[cfg(feature = "server")]
        pub fn router<A: #trait_ident>(api: A) -> ::matrix_api_runtime::server::Router {
            router_with_config(api, ::matrix_api_runtime::server::ServerConfig { cors: #cors, ..::std::default::Default::default() })
        }

        /// The axum router serving `api`.
        #[cfg(feature = "server")]
        pub fn router_with_config<A: #trait_ident>(
            api: A,
            config: ::matrix_api_runtime::server::ServerConfig,
        ) -> ::matrix_api_runtime::server::Router {
            router_shared(::std::sync::Arc::new(api), config)
        }

        /// The axum router serving an `api` shared with other code (the
        /// federation side of a server that also serves clients).
        #[cfg(feature = "server")]
        pub fn router_shared<A: #trait_ident>(
            api: ::std::sync::Arc<A>,
            config: ::matrix_api_runtime::server::ServerConfig,
        ) -> ::matrix_api_runtime::server::Router {
            let mut builder = ::matrix_api_runtime::server::RouterBuilder::shared(api, config);
            #(
                builder.add(|api: ::std::sync::Arc<A>, request: #mods::Request, credentials| async move {
                    api.#methods(request, credentials).await
                });
            )*
            builder.finish()
        }

        #[cfg(feature = "server")]
        impl<H: ::matrix_api_runtime::server::AnyHandler> #trait_ident for ::matrix_api_runtime::server::Dynamic<H> {
            #(
                fn #methods(
                    &self,
                    request: #mods::Request,
                    credentials: ::matrix_api_runtime::server::Credentials,
                ) -> impl ::std::future::Future<Output = ::std::result::Result<#mods::Response, ::matrix_api_runtime::MatrixError>> + ::std::marker::Send {
                    self.0.handle(request, credentials)
                }
            )*
        }

        /// The client side: one method per operation.
        #[cfg(feature = "client")]
        #[derive(Clone, Debug)]
        pub struct Client(pub ::matrix_api_runtime::client::Client);

        #[cfg(feature = "client")]
        impl Client {
            /// A client for the server at `base_url` (e.g. `https://matrix.example.org`).
            pub fn new(base_url: impl ::std::convert::Into<::std::string::String>) -> Self {
                Client(::matrix_api_runtime::client::Client::new(base_url))
            }
            #(
                #summaries
                pub async fn #methods(&self, request: #mods::Request) -> ::std::result::Result<#mods::Response, ::matrix_api_runtime::client::ClientError> {
                    self.0.send(request).await
                }
            )*
        }

        /// Calls `visitor.visit::<Request>()` for every operation of the family.
        pub fn visit_all<V: ::matrix_api_runtime::EndpointVisitor>(visitor: &mut V) {
            #( visitor.visit::<#mods::Request>(); )*
        }

        /// [`visit_all`] with both sides of every operation compiled.
        #[cfg(all(feature = "client", feature = "server"))]
        pub fn visit_round_trips<V: ::matrix_api_runtime::RoundTripVisitor>(visitor: &mut V) {
            #( visitor.visit::<#mods::Request>(); )*
        }
    }
}
