//! The axum side, written once for every operation: routing (with `405` for
//! a known path and wrong method, `404 M_UNRECOGNIZED` for anything else),
//! credentials, typed path/query/header parsing, body limits and decoding,
//! and turning results into HTTP responses. Bad input never reaches a
//! handler and never becomes a 500.

use crate::endpoint::{AuthScheme, EndpointResponse, HttpResponse, ServerEndpoint};
use crate::error::MatrixError;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
pub use axum::Router;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::rate_limit::Limiter;
pub use crate::rate_limit::RateLimit;

/// What the caller presented, for the handler to judge (the glue only
/// checks that required credentials are there at all).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    /// From `Authorization: Bearer …` or the legacy `access_token` query parameter.
    pub access_token: Option<String>,
    /// From `Authorization: X-Matrix …`, given to a handler only once the
    /// router checked its signature (federation, and identity-server
    /// operations a homeserver may sign).
    pub x_matrix: Option<XMatrix>,
    /// The `user_id` query parameter: the user an application service acts
    /// as (the identity assertion), for the server to check against the
    /// service's namespaces.
    pub user_id: Option<String>,
}

pub use crate::XMatrixHeader as XMatrix;

/// A key lookup in progress (see [`KeyLookup::fetch`]).
pub type KeyFuture<'a> = Pin<Box<dyn Future<Output = Option<ed25519_dalek::VerifyingKey>> + Send + 'a>>;

/// Finds the public key an origin server signed with (`key_id` like `ed25519:abc`).
pub trait KeyLookup: Send + Sync + 'static {
    /// A key known without asking anyone (configured, or cached).
    fn key(&self, origin: &str, key_id: &str) -> Option<ed25519_dalek::VerifyingKey>;

    /// A key, fetched from the origin (or a notary) when it is not known:
    /// what the router awaits before a signed request's handler runs. By
    /// default, only the known keys.
    fn fetch<'a>(&'a self, origin: &'a str, key_id: &'a str) -> KeyFuture<'a> {
        Box::pin(std::future::ready(self.key(origin, key_id)))
    }
}

/// Server settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// Larger request bodies get `413 M_TOO_LARGE`.
    pub body_limit: usize,
    /// Answer CORS preflights and add the headers the client-server API requires.
    pub cors: bool,
    /// This server's name: the `destination` federation requests must be signed for.
    pub server_name: Option<String>,
    /// With keys, every `X-Matrix` signature is verified before a handler
    /// runs (`401 M_UNAUTHORIZED` otherwise); without, only its presence.
    pub keys: Option<Arc<dyn KeyLookup>>,
    /// Limits for the operations the spec documents with a `429`; `None`
    /// serves them unlimited.
    pub rate_limit: Option<RateLimit>,
    /// The application services' access tokens, and whose requests made
    /// with them the limits spare.
    pub appservice_limits: Vec<AppServiceLimits>,
    /// A request body not received within this time gets `408`: a client
    /// that announces a body and never sends it holds nothing for long.
    pub body_read_timeout: Duration,
}

/// How rate limits treat one application service, as its registration
/// says: requests as its own user (`sender`, asserted or not) are never
/// limited, the spec's "the sender is excluded"; requests acting as its
/// other users (`user_id`, the identity assertion) are limited unless it
/// is registered with `rate_limited: false`, each user by itself.
#[derive(Clone)]
pub struct AppServiceLimits {
    pub access_token: String,
    pub sender: String,
    pub rate_limited: bool,
}

impl std::fmt::Debug for AppServiceLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret.
        f.debug_struct("AppServiceLimits")
            .field("sender", &self.sender)
            .field("rate_limited", &self.rate_limited)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("body_limit", &self.body_limit)
            .field("cors", &self.cors)
            .field("server_name", &self.server_name)
            .field("verifies_signatures", &self.keys.is_some())
            .field("rate_limit", &self.rate_limit)
            .field("appservice_limits", &self.appservice_limits.len())
            .field("body_read_timeout", &self.body_read_timeout)
            .finish()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 50 * 1024 * 1024,
            cors: true,
            server_name: None,
            keys: None,
            rate_limit: None,
            appservice_limits: Vec::new(),
            body_read_timeout: Duration::from_secs(30),
        }
    }
}

/// A request as the glue hands it to one operation.
struct Incoming {
    method: Method,
    /// Path and query, as sent (what an X-Matrix signature covers).
    uri: axum::http::Uri,
    settings: Arc<Settings>,
    /// The path's parameters, percent-decoded, in the order of the template.
    path_params: RawPathParams,
    headers: axum::http::HeaderMap,
    body: Bytes,
    credentials: Credentials,
    /// The peer, when the server was started by [`serve`].
    peer: Option<SocketAddr>,
}

impl Incoming {
    /// The `i`th parameter of the path (`""` when absent).
    fn path_value(&self, i: usize) -> &str {
        self.path_params.iter().nth(i).map_or("", |(_, value)| value)
    }

    fn query(&self) -> &str {
        self.uri.query().unwrap_or_default()
    }

    /// Who a rate limit counts this request against (the access token,
    /// and for an application service the user it acts as; else the
    /// peer's address), or `None` when no limit applies to it.
    fn limited_requester(&self) -> Option<String> {
        let Some(token) = &self.credentials.access_token else {
            return Some(match self.peer {
                Some(peer) => format!("ip:{}", peer.ip()),
                None => "unknown".to_owned(),
            });
        };
        let service = self
            .settings
            .appservice_limits
            .iter()
            .find(|s| s.access_token == *token);
        match (service, &self.credentials.user_id) {
            (None, _) => Some(format!("token:{token}")),
            (Some(service), Some(user)) if *user != service.sender => {
                service.rate_limited.then(|| format!("token:{token} as:{user}"))
            }
            // The service as its own user.
            (Some(_), _) => None,
        }
    }
}

/// What every request on one router shares: taken by reference count, so
/// that a request copies none of it.
struct Settings {
    body_limit: usize,
    body_read_timeout: Duration,
    server_name: Option<String>,
    keys: Option<Arc<dyn KeyLookup>>,
    limiter: Option<Limiter>,
    appservice_limits: Vec<AppServiceLimits>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// A handler's result; `BodyMismatch` hands the request back, so that the
/// next operation sharing the same method and path can try it (the spec
/// documents some endpoints twice).
enum Outcome {
    Done(Response),
    BodyMismatch(Response, Box<Incoming>),
}

/// What a handler does at once: decoding a request needs no waiting (unless
/// a signature's key must be fetched), so a request that does not decode is
/// answered without a future, and the future that is boxed holds the
/// operation's own work rather than the request's raw parts.
enum Step {
    Ready(Outcome),
    Pending(BoxFuture),
}

impl Step {
    /// The outcome, waiting for it if need be.
    async fn outcome(self) -> Outcome {
        match self {
            Step::Ready(outcome) => outcome,
            Step::Pending(future) => future.await,
        }
    }
}

/// One operation's handler: it owns the request (no shared copy per
/// request); only a body that does not fit gives it back.
type Handler<S> = Arc<dyn Fn(Arc<S>, Incoming) -> Step + Send + Sync>;

/// One operation on a route.
struct Entry<S> {
    handler: Handler<S>,
    query_params: &'static [&'static str],
}

impl<S> Clone for Entry<S> {
    fn clone(&self) -> Self {
        Entry {
            handler: self.handler.clone(),
            query_params: self.query_params,
        }
    }
}

/// Collects the operations of a family and builds the router.
pub struct RouterBuilder<S> {
    api: Arc<S>,
    config: ServerConfig,
    /// route → method → operations, in registration order.
    routes: BTreeMap<String, BTreeMap<String, Vec<Entry<S>>>>,
    /// Routes with an empty trailing `{stateKey}`, added where nothing else is.
    empty_key_routes: Vec<(String, String, Entry<S>)>,
}

/// The HTTP response of a Matrix error (status, JSON body, `Retry-After`),
/// as the generated routers send it; for a server's own middleware.
pub fn error_response(err: MatrixError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&err.body).unwrap_or_default();
    let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(ms) = err.retry_after_ms() {
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
    }
    response
}

const JSON: &str = "application/json";

fn http_response(r: HttpResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(r.body.bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let content_type = match r.body.content_type.as_deref() {
        // What almost every answer is: no parsing, no copy.
        Some(JSON) => Some(HeaderValue::from_static(JSON)),
        other => other.and_then(|c| HeaderValue::from_str(c).ok()),
    };
    if let Some(ct) = content_type {
        headers.insert(axum::http::header::CONTENT_TYPE, ct);
    }
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            headers.insert(k, v);
        }
    }
    response
}

/// `{roomId}` → `{p0}`: routes use positional names, so two operations that
/// name the same segment differently never conflict.
fn positional_route(template: &str) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { break };
        out.push_str(&format!("{{p{n}}}"));
        n += 1;
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    (out, n)
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    if query.is_empty() {
        return Vec::new();
    }
    serde_html_form::from_str(query).unwrap_or_default()
}

fn credentials(headers: &axum::http::HeaderMap, query: &str) -> Credentials {
    let mut c = Credentials::default();
    for value in headers.get_all(axum::http::header::AUTHORIZATION) {
        let Ok(v) = value.to_str() else { continue };
        if let Some(token) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            c.access_token = Some(token.trim().to_owned());
        } else if let Some(params) = v.strip_prefix("X-Matrix ") {
            c.x_matrix = XMatrix::parse(params);
        }
    }
    // Parsed only when it can hold something (the common request has a
    // header token and no assertion).
    if c.access_token.is_some() && !query.contains("user_id=") {
        return c;
    }
    for (k, v) in query_pairs(query) {
        match k.as_str() {
            "access_token" if c.access_token.is_none() => c.access_token = Some(v),
            "user_id" => c.user_id = Some(v),
            _ => {}
        }
    }
    c
}

/// Classifies a serde error on path/query input.
fn param_error(err: impl std::fmt::Display) -> MatrixError {
    let text = err.to_string();
    if text.starts_with("missing field") {
        MatrixError::missing_param(text)
    } else {
        MatrixError::invalid_param(text)
    }
}

/// Checks the request's X-Matrix signature, addressed to `audience`.
/// Without configured keys, federation signatures are taken as they come
/// (tests on loopback); a signature in place of an access token is refused.
async fn verify_signature(incoming: &Incoming, audience: crate::signing::Audience) -> Result<(), MatrixError> {
    let Some(x) = &incoming.credentials.x_matrix else {
        return Err(MatrixError::unauthorized("Missing or malformed X-Matrix authorization"));
    };
    let Some(keys) = &incoming.settings.keys else {
        return match audience {
            crate::signing::Audience::Homeserver => Ok(()),
            crate::signing::Audience::IdentityServer => Err(MatrixError::unauthorized(
                "This server does not check signed requests; use an access token",
            )),
        };
    };
    let key = keys
        .fetch(&x.origin, &x.key)
        .await
        .ok_or_else(|| MatrixError::unauthorized(format!("Unknown key {} of {}", x.key, x.origin)))?;
    let destination = incoming
        .settings
        .server_name
        .clone()
        .or_else(|| x.destination.clone())
        .unwrap_or_default();
    let content: Option<serde_json::Value> = if incoming.body.is_empty() {
        None
    } else {
        serde_json::from_slice(&incoming.body).ok()
    };
    let uri = incoming.uri.path_and_query().map_or("", |p| p.as_str());
    crate::signing::verify_request_to(
        audience,
        x,
        &key,
        &destination,
        incoming.method.as_str(),
        uri,
        content.as_ref(),
    )
    .map_err(|e| MatrixError::unauthorized(format!("Invalid X-Matrix signature: {e}")))
}

/// Whether `auth` asks for an X-Matrix signature on this request (checked
/// by [`authenticate`]); every other scheme is checked without waiting.
fn needs_signature(auth: AuthScheme, credentials: &Credentials) -> bool {
    match auth {
        AuthScheme::ServerSignature => true,
        AuthScheme::AccessTokenOrServerSignature => credentials.access_token.is_none(),
        _ => false,
    }
}

/// The HTTP response of a handler's answer.
fn respond<R: EndpointResponse>(answer: Result<R, MatrixError>) -> Response {
    match answer {
        Ok(response) => match response.into_http() {
            Ok(http) => http_response(http),
            Err(e) => error_response(MatrixError::new(
                500,
                crate::error::ErrorCode::Unknown,
                format!("response could not be encoded: {e}"),
            )),
        },
        Err(err) => error_response(err),
    }
}

/// Checks the X-Matrix signature `auth` asks for (when [`needs_signature`]
/// says so) before the request is decoded.
async fn authenticate(auth: AuthScheme, incoming: &Incoming) -> Result<(), MatrixError> {
    use crate::signing::Audience;
    let credentials = &incoming.credentials;
    match auth {
        AuthScheme::ServerSignature => verify_signature(incoming, Audience::Homeserver).await,
        AuthScheme::AccessTokenOrServerSignature if credentials.access_token.is_none() => {
            if credentials.x_matrix.is_none() {
                return Err(MatrixError::missing_token());
            }
            verify_signature(incoming, Audience::IdentityServer).await
        }
        _ => Ok(()),
    }
}

/// The typed request and its credentials, or the answer when it does not
/// decode: a body that does not fit hands the request back (see [`Outcome`]).
/// The answer is boxed: it is the rare case, and keeps the result small.
fn decode<E: ServerEndpoint>(incoming: Incoming) -> Result<(E, Credentials), Box<Outcome>> {
    match parse::<E>(&incoming) {
        Ok(request) => Ok((request, incoming.credentials)),
        Err((err, true)) => Err(Box::new(Outcome::BodyMismatch(error_response(err), Box::new(incoming)))),
        Err((err, false)) => Err(Box::new(Outcome::Done(error_response(err)))),
    }
}

fn parse<E: ServerEndpoint>(incoming: &Incoming) -> Result<E, (MatrixError, bool)> {
    let meta = E::METADATA;
    match meta.auth {
        AuthScheme::AccessToken if incoming.credentials.access_token.is_none() => {
            return Err((MatrixError::missing_token(), false));
        }
        _ => {}
    }
    // Path parameters straight into the typed struct, by name.
    let pairs = meta
        .path_params
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, crate::endpoint::Text(incoming.path_value(i))));
    let path = <E::Path as serde::Deserialize>::deserialize(serde::de::value::MapDeserializer::<
        _,
        serde::de::value::Error,
    >::new(pairs))
    .map_err(|e| (param_error(e), false))?;
    let query: E::Query = if meta.query_params.is_empty() {
        empty()
    } else {
        serde_html_form::from_str(incoming.query())
    }
    .map_err(|e| (param_error(e), false))?;
    let headers: E::Headers = if meta.header_params.is_empty() {
        empty()
    } else {
        decode_headers(&incoming.headers)
    }
    .map_err(|e| (param_error(e), false))?;
    let content_type = incoming
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = E::decode_body(content_type, incoming.body.clone()).map_err(|e| (e, true))?;
    Ok(E::from_parts(path, query, headers, body))
}

/// A parameters struct without fields, from nothing: what an operation
/// without query (or header) parameters gets, without the request's query
/// (or headers) being read at all.
fn empty<T: serde::de::DeserializeOwned, E: serde::de::Error>() -> Result<T, E> {
    T::deserialize(serde::de::value::MapDeserializer::new(
        std::iter::empty::<(&str, &str)>(),
    ))
}

/// A typed headers struct (lowercase field names) from a request's
/// headers, read in place: a header sent twice counts once (the last), as
/// in a map; one that is not text is left out.
fn decode_headers<T: serde::de::DeserializeOwned>(map: &axum::http::HeaderMap) -> Result<T, serde::de::value::Error> {
    let pairs = map.keys().filter_map(|name| {
        let value = map.get_all(name).iter().next_back()?.to_str().ok()?;
        Some((name.as_str(), crate::endpoint::Text(value)))
    });
    T::deserialize(serde::de::value::MapDeserializer::new(pairs))
}

impl<S: Send + Sync + 'static> RouterBuilder<S> {
    pub fn new(api: S, config: ServerConfig) -> Self {
        Self::shared(Arc::new(api), config)
    }

    /// A builder serving `api`, which other code holds too.
    pub fn shared(api: Arc<S>, config: ServerConfig) -> Self {
        RouterBuilder {
            api,
            config,
            routes: BTreeMap::new(),
            empty_key_routes: Vec::new(),
        }
    }

    /// Registers operation `E`, served by `call`.
    pub fn add<E, F, Fut>(&mut self, call: F)
    where
        E: ServerEndpoint,
        F: Fn(Arc<S>, E, Credentials) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<E::Response, MatrixError>> + Send + 'static,
    {
        let call = Arc::new(call);
        let handler: Handler<S> = Arc::new(move |api: Arc<S>, incoming: Incoming| {
            let meta = E::METADATA;
            if let (true, Some(limiter)) = (meta.rate_limited, &incoming.settings.limiter) {
                if let Some(requester) = incoming.limited_requester() {
                    if let Err(wait) = limiter.take(meta.operation_id, &requester) {
                        return Step::Ready(Outcome::Done(error_response(MatrixError::limit_exceeded(wait))));
                    }
                }
            }
            if needs_signature(meta.auth, &incoming.credentials) {
                // The signing key may have to be fetched: all in the future.
                let call = call.clone();
                return Step::Pending(Box::pin(async move {
                    if let Err(err) = authenticate(meta.auth, &incoming).await {
                        return Outcome::Done(error_response(err));
                    }
                    match decode::<E>(incoming) {
                        Ok((request, credentials)) => Outcome::Done(respond(call(api, request, credentials).await)),
                        Err(outcome) => *outcome,
                    }
                }));
            }
            // Otherwise the request is decoded here, and only the handler's
            // own future is boxed (not the request it was decoded from).
            let (request, mut credentials) = match decode::<E>(incoming) {
                Ok(decoded) => decoded,
                Err(outcome) => return Step::Ready(*outcome),
            };
            // No signature was checked: the handler must not see one.
            credentials.x_matrix = None;
            let answer = call(api, request, credentials);
            Step::Pending(Box::pin(async move { Outcome::Done(respond(answer.await)) }))
        });
        let meta = E::METADATA;
        let entry = Entry {
            handler,
            query_params: meta.query_params,
        };
        let (route, n) = positional_route(meta.path);
        self.routes
            .entry(route.clone())
            .or_default()
            .entry(meta.method.to_owned())
            .or_default()
            .push(entry.clone());
        // The spec lets a state key be empty: `/state/{type}/` and `/state/{type}`
        // then mean `stateKey = ""`. Registered last, never over a real route.
        if n > 0 && meta.path.ends_with("/{stateKey}") {
            let base = route[..route.len() - format!("{{p{}}}", n - 1).len()].to_owned();
            for r in [base.trim_end_matches('/').to_owned(), base] {
                self.empty_key_routes.push((r, meta.method.to_owned(), entry.clone()));
            }
        }
    }

    pub fn finish(mut self) -> Router {
        for (route, method, entry) in std::mem::take(&mut self.empty_key_routes) {
            self.routes
                .entry(route)
                .or_default()
                .entry(method)
                .or_insert_with(|| vec![entry]);
        }
        let mut router = Router::new();
        let settings = Arc::new(Settings {
            body_limit: self.config.body_limit,
            body_read_timeout: self.config.body_read_timeout,
            server_name: self.config.server_name.clone(),
            keys: self.config.keys.clone(),
            limiter: self.config.rate_limit.map(Limiter::new),
            appservice_limits: self.config.appservice_limits.clone(),
        });
        for (route, methods) in self.routes {
            let mut method_router: MethodRouter = MethodRouter::new();
            for (method, entries) in methods {
                let Ok(m) = Method::from_bytes(method.as_bytes()) else {
                    continue;
                };
                let Ok(filter) = MethodFilter::try_from(m) else {
                    continue;
                };
                let api = self.api.clone();
                let entries = Arc::new(entries);
                let settings = settings.clone();
                method_router = method_router.merge(on(filter, move |req: Request| {
                    dispatch(api.clone(), entries.clone(), req, settings.clone())
                }));
            }
            method_router = method_router.fallback(|| async { error_response(MatrixError::method_not_allowed()) });
            router = router.route(&route, method_router);
        }
        router = router.fallback(|| async { error_response(MatrixError::unrecognized()) });
        if self.config.cors {
            router = router.layer(cors_layer());
        }
        router
    }
}

/// The CORS answer the client-server API requires of every endpoint (any
/// origin; the methods and headers Matrix clients use), as the generated
/// router applies it: for routes a server adds beside the generated ones.
pub fn cors_layer() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{Any, CorsLayer};
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("x-requested-with"),
            axum::http::header::CONTENT_TYPE,
            axum::http::header::AUTHORIZATION,
        ])
}

async fn dispatch<S: Send + Sync + 'static>(
    api: Arc<S>,
    entries: Arc<Vec<Entry<S>>>,
    req: Request,
    settings: Arc<Settings>,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let path_params = match path_params(&mut parts) {
        Some(params) => params,
        None => return error_response(MatrixError::invalid_param("path is not valid UTF-8")),
    };
    let limit = settings.body_limit;
    // A body announced as too large is refused before it is read: the client
    // learns at once, and the server does not wait for bytes it will drop.
    let announced = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return error_response(MatrixError::too_large(limit));
    }
    // Most requests (every GET) have no body: no collecting then, and the
    // collecting future is boxed so that it does not enlarge this one.
    let bytes = if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        Bytes::new()
    } else {
        match Box::pin(read_body(body, limit, settings.body_read_timeout)).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        }
    };
    let query = parts.uri.query().unwrap_or_default();
    let credentials = credentials(&parts.headers, query);
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let incoming = Incoming {
        method: parts.method,
        uri: parts.uri,
        settings,
        path_params,
        headers: parts.headers,
        body: bytes,
        credentials,
        peer,
    };
    if let [only] = entries.as_slice() {
        // Matched here rather than through `Step::outcome`, whose future would
        // hold a whole `Step` (a response) in this one across the wait.
        let outcome = match (only.handler)(api, incoming) {
            Step::Ready(outcome) => outcome,
            Step::Pending(future) => future.await,
        };
        return match outcome {
            Outcome::Done(response) | Outcome::BodyMismatch(response, _) => response,
        };
    }
    Box::pin(dispatch_among(api, &entries, incoming)).await
}

/// The request's path parameters (`None` when one is not UTF-8). axum's
/// extractor is async but never waits: polled once here, so that the
/// request's parts are not held across an await point for it.
fn path_params(parts: &mut axum::http::request::Parts) -> Option<RawPathParams> {
    let extract = std::pin::pin!(RawPathParams::from_request_parts(parts, &()));
    match extract.poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(result) => result.ok(),
        std::task::Poll::Pending => None,
    }
}

/// A body of at most `limit` bytes, received within `timeout`. Boxed by its
/// caller: the timer it holds would otherwise enlarge every request's future,
/// which is moved a few times on its way through axum.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, Response> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(error_response(MatrixError::too_large(limit))),
        Err(_) => Err(error_response(MatrixError::body_timeout(timeout))),
    }
}

/// Operations documented twice on one method and path: those that declare
/// every query parameter present go first, then spec order; a body that
/// does not fit passes the request on to the next.
async fn dispatch_among<S>(api: Arc<S>, entries: &[Entry<S>], mut incoming: Incoming) -> Response {
    let present: Vec<String> = query_pairs(incoming.query())
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k != "access_token")
        .collect();
    let mut ordered: Vec<&Entry<S>> = entries.iter().collect();
    ordered.sort_by_key(|e| !present.iter().all(|k| e.query_params.contains(&k.as_str())));
    let mut last = None;
    for entry in ordered {
        match (entry.handler)(api.clone(), incoming).outcome().await {
            Outcome::Done(response) => return response,
            Outcome::BodyMismatch(response, back) => {
                last = Some(response);
                incoming = *back;
            }
        }
    }
    last.unwrap_or_else(|| error_response(MatrixError::unrecognized()))
}

/// An implementation of every operation at once, generically: what the
/// generated `Dynamic` adapters forward to (used for proxies and tests).
pub trait AnyHandler: Send + Sync + 'static {
    fn handle<E: ServerEndpoint>(
        &self,
        request: E,
        credentials: Credentials,
    ) -> impl Future<Output = Result<E::Response, MatrixError>> + Send;
}

/// Wraps an [`AnyHandler`] so it implements every generated family trait.
pub struct Dynamic<H>(pub H);

/// How long a connection may take to send what it owes.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionTimeouts {
    /// A request's headers must arrive within this time of the connection
    /// opening or of the previous response (slow or idle connections are
    /// closed).
    pub header_read: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        ConnectionTimeouts {
            header_read: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until the task is dropped, with the
/// default [`ConnectionTimeouts`].
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    serve_with(listener, router, ConnectionTimeouts::default()).await
}

/// Serves `router` on `listener`: HTTP/1.1, each connection on its own
/// task, the peer's address given to the router (for rate limits), and
/// connections that are slow to send headers closed.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    timeouts: ConnectionTimeouts,
) -> std::io::Result<()> {
    serve_streams(listener, router, timeouts, |stream| async move { Some(stream) }).await
}

/// [`serve_with`] over TLS (rustls): the server-server API is served only
/// this way. A handshake that fails or takes longer than the header timeout
/// closes that connection only.
#[cfg(feature = "tls")]
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    timeouts: ConnectionTimeouts,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let limit = timeouts.header_read;
    serve_streams(listener, router, timeouts, move |stream| {
        let acceptor = acceptor.clone();
        async move { tokio::time::timeout(limit, acceptor.accept(stream)).await.ok()?.ok() }
    })
    .await
}

/// Accepts connections, turns each into a byte stream with `open` (as is,
/// or after a TLS handshake) on its own task, and serves HTTP/1.1 on it.
async fn serve_streams<Open, Opening, Stream>(
    listener: tokio::net::TcpListener,
    router: Router,
    timeouts: ConnectionTimeouts,
    open: Open,
) -> std::io::Result<()>
where
    Open: Fn(tokio::net::TcpStream) -> Opening,
    Opening: Future<Output = Option<Stream>> + Send + 'static,
    Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait, then go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        let opening = open(stream);
        tokio::spawn(async move {
            let Some(stream) = opening.await else {
                return;
            };
            let service = hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(request.map(Body::new))
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(timeouts.header_read);
            // A connection that breaks off is that client's affair.
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_matrix_parses() {
        let x = XMatrix::parse(r#"origin="origin.example",destination=dest.example,key="ed25519:key1",sig="ABCDEF""#)
            .unwrap();
        assert_eq!(x.origin, "origin.example");
        assert_eq!(x.destination.as_deref(), Some("dest.example"));
        assert_eq!(x.key, "ed25519:key1");
        assert!(XMatrix::parse("origin=a").is_none());
    }

    #[test]
    fn routes_are_positional() {
        assert_eq!(
            positional_route("/rooms/{roomId}/state/{eventType}/{stateKey}"),
            ("/rooms/{p0}/state/{p1}/{p2}".into(), 3)
        );
    }
}
