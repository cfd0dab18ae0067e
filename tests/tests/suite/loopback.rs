//! Every operation of every family, end to end on 127.0.0.1: the generated
//! client sends a request built from the spec (its request example, or a
//! value built from the schema), the generated router hands the server
//! exactly that request, the server answers with the spec's response
//! example (or a value built from the schema), and the client decodes
//! exactly that response.

use matrix_api::{application_service, client_server, identity, push_gateway, server_server};
use matrix_api_runtime::client::Client;
use matrix_api_runtime::server::{AnyHandler, Credentials, Dynamic};
use matrix_api_runtime::{
    ClientEndpoint, ClientResponse, Encoded, HttpResponse, MatrixError, RawBody, RoundTripVisitor, ServerEndpoint,
};
use matrix_api_tests::release_dir;
use matrix_codegen::emit::endpoints::variant_name;
use matrix_codegen::family::Family;
use matrix_codegen::ir::{Api, Content, ExampleKind, Operation, Response, Ty, TypeKind};
use matrix_codegen::load::api::ParamIn;
use serde_json::{json, Map, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A typed request and the typed response to answer it with.
type Expected = (Box<dyn Any + Send>, Box<dyn Any + Send>);

/// What the server should receive and answer, per operationId.
#[derive(Default)]
struct Expectations {
    current: Mutex<BTreeMap<String, Expected>>,
    /// Requests that arrived different from what was sent.
    mismatches: Mutex<Vec<String>>,
}

struct Canned(Arc<Expectations>);

impl AnyHandler for Canned {
    fn handle<E: ServerEndpoint>(
        &self,
        request: E,
        _: Credentials,
    ) -> impl Future<Output = Result<E::Response, MatrixError>> + Send {
        let id = E::METADATA.operation_id;
        let current = self.0.current.lock().unwrap();
        let answer = match current.get(id) {
            None => Err(MatrixError::not_found(format!("no expectation for {id}"))),
            Some((expected, response)) => {
                match (expected.downcast_ref::<E>(), response.downcast_ref::<E::Response>()) {
                    (Some(expected), Some(response)) => {
                        if *expected != request {
                            self.0
                                .mismatches
                                .lock()
                                .unwrap()
                                .push(format!("{id}: server got {request:?}, client sent {expected:?}"));
                        }
                        Ok(response.clone())
                    }
                    _ => Err(MatrixError::not_found(format!(
                        "the expectation for {id} is of other types"
                    ))),
                }
            }
        };
        drop(current);
        async move { answer }
    }
}

/// A value of type `ty`, built from the schema: required fields only.
fn synth(api: &Api, ty: &Ty, depth: usize) -> Value {
    if depth > 8 {
        return json!({});
    }
    match ty {
        Ty::String => json!("text"),
        Ty::Integer => json!(7),
        Ty::Number => json!(1.5),
        Ty::Boolean => json!(true),
        Ty::Bytes => json!(""),
        Ty::Any | Ty::Object => json!({ "key": "value" }),
        Ty::Array(inner) => json!([synth(api, inner, depth + 1)]),
        Ty::Tuple(items) => Value::Array(items.iter().map(|t| synth(api, t, depth + 1)).collect()),
        Ty::Map(inner) => json!({ "key": synth(api, inner, depth + 1) }),
        Ty::Identifier(id) => json!(identifier_sample(&api.identifiers[*id].format)),
        Ty::Const(value) => json!(value),
        Ty::IdMap(key, inner) => {
            json!({ identifier_sample(&api.identifiers[*key].format): synth(api, inner, depth + 1) })
        }
        Ty::Nullable(inner) => synth(api, inner, depth),
        Ty::Named(id) => match &api.types[*id].kind {
            TypeKind::Struct { fields, .. } => Value::Object(
                fields
                    .iter()
                    .filter(|f| f.required)
                    .map(|f| (f.wire_name.clone(), synth(api, &f.ty, depth + 1)))
                    .collect(),
            ),
            TypeKind::StringEnum { values } => json!(values[0].wire),
            TypeKind::Union { variants } => synth(api, &variants[0].ty, depth + 1),
            TypeKind::Alias(inner) => synth(api, inner, depth + 1),
        },
    }
}

/// A valid value of an identifier format.
fn identifier_sample(format: &str) -> &'static str {
    match format {
        "mx-user-id" => "@user:example.org",
        "mx-room-id" => "!room:example.org",
        "mx-event-id" => "$event:example.org",
        "mx-room-alias" => "#alias:example.org",
        "mx-server-name" => "example.org:8448",
        "mx-mxc-uri" => "mxc://example.org/media_1",
        _ => "YWJj",
    }
}

/// Values for parameters: real Matrix identifiers where the name says what it is.
fn param_value(api: &Api, name: &str, ty: &Ty) -> Value {
    match (name, ty.strip_nullable()) {
        ("roomId" | "roomIdOrAlias", _) => json!("!room:example.org"),
        ("eventId", _) => json!("$event/with+chars"),
        ("userId", _) => json!("@user:host:8448"),
        ("stateKey", _) => json!(""),
        ("serverName", _) => json!("example.org"),
        (_, Ty::Integer) => json!(5),
        (_, Ty::Number) => json!(2.5),
        (_, Ty::Boolean) => json!(true),
        (_, Ty::Array(_)) => json!(["a", "b"]),
        (_, Ty::Map(_) | Ty::Object) => json!({ "custom": "field" }),
        (_, Ty::Identifier(id)) => json!(identifier_sample(&api.identifiers[*id].format)),
        _ => json!(format!("value of {name}")),
    }
}

fn is_json(ct: &str) -> bool {
    ct == "application/json" || ct.ends_with("+json")
}

/// A body that travels as raw bytes: the generated code's rule (any
/// content type that is not JSON).
fn is_raw(content: &[Content]) -> bool {
    !content.is_empty() && !content.iter().all(|c| is_json(&c.content_type))
}

/// The response the test plans: the first documented success.
fn success(op: &Operation) -> Option<&Response> {
    op.responses
        .iter()
        .find(|r| r.status.parse::<u16>().is_ok_and(|s| s < 400))
}

/// The example for a body (request or one status's response), if the spec
/// has one: a media-type example, or an `example` on the body schema itself.
fn example_for(spec: &matrix_codegen::Spec, op: &Operation, kind: ExampleKind, status: Option<&str>) -> Option<Value> {
    let prefix = match kind {
        ExampleKind::Request => format!("{}/requestBody/", op.location.pointer),
        _ => format!("{}/responses/{}/", op.location.pointer, status.unwrap_or("200")),
    };
    let mut candidates: Vec<_> = spec
        .api
        .examples
        .iter()
        .filter(|e| e.location.file == op.location.file && e.location.pointer.starts_with(&prefix))
        .filter(|e| {
            let rest = &e.location.pointer[prefix.len()..];
            !rest.contains("/properties/") && !rest.contains("/items") && !rest.contains("Properties")
        })
        .collect();
    candidates.sort_by_key(|e| e.kind != kind);
    candidates
        .first()
        .and_then(|e| spec.store.inline_example(&e.location, &e.value).ok())
}

/// Request and response JSON (in the shape of the generated types) for `op`.
/// Request and response JSON, and whether each body came from a spec example.
fn plan(spec: &matrix_codegen::Spec, op: &Operation) -> (Value, Value, (bool, bool)) {
    let api = &spec.api;
    let mut parts: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for place in ["path", "query", "headers"] {
        parts.insert(place, Map::new());
    }
    let raw_request = op.request.as_ref().is_some_and(|b| is_raw(&b.content));
    for p in &op.params {
        let (place, key) = match p.place {
            ParamIn::Path => ("path", p.name.clone()),
            ParamIn::Query => ("query", p.name.clone()),
            ParamIn::Header if raw_request && p.name.eq_ignore_ascii_case("content-type") => continue,
            ParamIn::Header => ("headers", p.name.to_ascii_lowercase()),
        };
        let value = param_value(api, &p.name, &p.ty);
        if matches!(p.ty, Ty::Map(_) | Ty::Object) && place == "query" {
            parts.get_mut(place).unwrap().extend(value.as_object().unwrap().clone());
        } else {
            parts.get_mut(place).unwrap().insert(key, value);
        }
    }
    let mut used_example = false;
    let body = match &op.request {
        None => json!({}),
        Some(b) if b.content.is_empty() => json!({}),
        Some(_) if raw_request => json!({ "content_type": "application/octet-stream", "data": [0, 1, 2, 255] }),
        Some(b) => {
            let ty = b.content[0].ty.clone().unwrap_or(Ty::Any);
            match example_for(spec, op, ExampleKind::Request, None) {
                Some(ex) => {
                    used_example = true;
                    ex
                }
                None => synth(api, &ty, 0),
            }
        }
    };
    let request = json!({ "path": parts["path"], "query": parts["query"], "headers": parts["headers"], "body": body });

    let mut response_example = false;
    let response = match success(op) {
        None => Value::Null,
        Some(r) => {
            let raw = is_raw(&r.content);
            let body = if r.content.is_empty() {
                json!({})
            } else if raw {
                json!({ "content_type": "image/png", "content_disposition": "inline; filename=\"a.png\"", "data": [137, 80, 78, 71] })
            } else {
                let ty = r.content[0].ty.clone().unwrap_or(Ty::Any);
                match example_for(spec, op, ExampleKind::Response, Some(&r.status)) {
                    Some(ex) => {
                        response_example = true;
                        ex
                    }
                    None => synth(api, &ty, 0),
                }
            };
            let headers: Map<String, Value> = r
                .headers
                .iter()
                .filter(|h| {
                    !(raw
                        && (h.name.eq_ignore_ascii_case("content-type")
                            || h.name.eq_ignore_ascii_case("content-disposition")))
                })
                .map(|h| (h.name.to_ascii_lowercase(), param_value(api, &h.name, &h.ty)))
                .collect();
            let variant = variant_name(&r.status);
            if headers.is_empty() {
                json!({ variant: body })
            } else {
                json!({ variant: { "headers": headers, "body": body } })
            }
        }
    };
    (request, response, (used_example, response_example))
}

type Check = Box<dyn Fn(Arc<Ctx>) -> Pin<Box<dyn Future<Output = Result<(bool, bool), String>> + Send>> + Send + Sync>;

struct Ctx {
    spec: matrix_codegen::Spec,
    family: Family,
    client: Client,
    expectations: Arc<Expectations>,
}

struct Collect(Vec<(String, Check)>);

impl RoundTripVisitor for Collect {
    fn visit<E: ClientEndpoint + ServerEndpoint>(&mut self) {
        self.0.push((
            E::METADATA.operation_id.to_owned(),
            Box::new(|ctx| Box::pin(check::<E>(ctx))),
        ));
    }
}

/// The request `request_json` describes (its path, query, headers and body
/// as JSON), each part decoded as the server would decode it.
fn request_from_json<E: ServerEndpoint>(op: &Operation, request_json: &Value) -> Result<E, String> {
    fn part<T: serde::de::DeserializeOwned>(request_json: &Value, name: &str) -> Result<T, String> {
        serde_json::from_value(request_json[name].clone()).map_err(|e| format!("{name}: {e}"))
    }
    let body = &request_json["body"];
    let content = op.request.as_ref().map_or(&[][..], |b| &b.content);
    let body = if content.is_empty() {
        E::decode_body(None, Default::default())
    } else if is_raw(content) {
        let raw: RawBody = serde_json::from_value(body.clone()).map_err(|e| format!("raw body: {e}"))?;
        E::decode_body(raw.content_type.as_deref(), raw.data.into())
    } else {
        E::decode_body(Some("application/json"), serde_json::to_vec(body).unwrap().into())
    }
    .map_err(|e| format!("body: {e:?}"))?;
    Ok(E::from_parts(
        part(request_json, "path")?,
        part(request_json, "query")?,
        part(request_json, "headers")?,
        body,
    ))
}

/// The response `response_json` describes (`{ Variant: body }` or
/// `{ Variant: { headers, body } }`), read as the client reads it.
fn response_from_json<R: ClientResponse>(op: &Operation, response_json: &Value) -> Result<R, String> {
    let r = success(op).ok_or("no success status")?;
    let value = &response_json[variant_name(&r.status)];
    let (header_values, body) = match value.get("headers") {
        Some(headers) => (headers.as_object().cloned().unwrap_or_default(), &value["body"]),
        None => (Map::new(), value),
    };
    let mut headers: Vec<(String, String)> = header_values
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    let body = if r.content.is_empty() {
        Encoded::default()
    } else if is_raw(&r.content) {
        let raw: RawBody = serde_json::from_value(body.clone()).map_err(|e| format!("raw body: {e}"))?;
        headers.extend(raw.content_disposition.map(|d| ("content-disposition".to_owned(), d)));
        Encoded {
            content_type: raw.content_type.map(Into::into),
            bytes: raw.data.into(),
        }
    } else {
        Encoded {
            content_type: Some("application/json".into()),
            bytes: serde_json::to_vec(body).unwrap().into(),
        }
    };
    R::from_http(HttpResponse {
        status: r.status.parse().unwrap(),
        headers,
        body,
    })
}

/// One operation end to end; says which bodies came from spec examples.
async fn check<E: ClientEndpoint + ServerEndpoint>(ctx: Arc<Ctx>) -> Result<(bool, bool), String> {
    let id = E::METADATA.operation_id;
    let op = ctx
        .spec
        .api
        .operations
        .iter()
        .find(|o| o.family == ctx.family && o.operation_id == id)
        .ok_or_else(|| format!("{id}: not in the IR"))?;
    let (mut request_json, mut response_json, (mut from_example, mut response_from_example)) = plan(&ctx.spec, op);
    // An example that does not fit its own schema (see tests/examples.rs) gives way to a built value.
    let request: E = match request_from_json(op, &request_json) {
        Ok(r) => r,
        Err(_) => {
            request_json["body"] = synth(
                &ctx.spec.api,
                &op.request.as_ref().unwrap().content[0].ty.clone().unwrap_or(Ty::Any),
                0,
            );
            from_example = false;
            request_from_json(op, &request_json).map_err(|e| format!("{id}: request {request_json}: {e}"))?
        }
    };
    let expected_response: E::Response = match response_from_json(op, &response_json) {
        Ok(r) => r,
        Err(_) => {
            response_from_example = false;
            let r = success(op).unwrap();
            let body = synth(&ctx.spec.api, &r.content[0].ty.clone().unwrap_or(Ty::Any), 0);
            let variant = variant_name(&r.status);
            match response_json[&variant].get("headers") {
                Some(h) => response_json[&variant] = json!({ "headers": h, "body": body }),
                None => response_json[&variant] = body,
            }
            response_from_json(op, &response_json).map_err(|e| format!("{id}: response {response_json}: {e}"))?
        }
    };
    // What the server must receive: the same request, built again.
    let sent: E = request_from_json(op, &request_json)?;
    ctx.expectations
        .current
        .lock()
        .unwrap()
        .insert(id.to_owned(), (Box::new(sent), Box::new(expected_response.clone())));
    let got = ctx.client.send(request).await.map_err(|e| format!("{id}: {e}"))?;
    if got != expected_response {
        return Err(format!(
            "{id}: client decoded {got:?}, server sent {expected_response:?}"
        ));
    }
    Ok((from_example, response_from_example))
}

fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42; 32])
}

/// The origin's published key, as a real server would fetch it.
struct Keys;

impl matrix_api_runtime::server::KeyLookup for Keys {
    fn key(&self, origin: &str, key_id: &str) -> Option<ed25519_dalek::VerifyingKey> {
        (origin == "origin.example" && key_id == "ed25519:1").then(|| signing_key().verifying_key())
    }
}

async fn serve(router: matrix_api_runtime::server::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(matrix_api_tests::serve(listener, router));
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips_over_loopback() {
    let expectations = Arc::new(Expectations::default());
    let canned = || Dynamic(Canned(expectations.clone()));
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for family in Family::ALL {
        let mut collect = Collect(Vec::new());
        let base = match family {
            Family::ClientServer => {
                client_server::endpoints::visit_round_trips(&mut collect);
                serve(client_server::endpoints::router(canned())).await
            }
            Family::ServerServer => {
                server_server::endpoints::visit_round_trips(&mut collect);
                // Every federation request is signed by the client and verified by the router.
                let config = matrix_api_runtime::server::ServerConfig {
                    server_name: Some("dest.example".into()),
                    keys: Some(Arc::new(Keys)),
                    cors: false,
                    ..Default::default()
                };
                serve(server_server::endpoints::router_with_config(canned(), config)).await
            }
            Family::Identity => {
                identity::endpoints::visit_round_trips(&mut collect);
                serve(identity::endpoints::router(canned())).await
            }
            Family::ApplicationService => {
                application_service::endpoints::visit_round_trips(&mut collect);
                serve(application_service::endpoints::router(canned())).await
            }
            Family::PushGateway => {
                push_gateway::endpoints::visit_round_trips(&mut collect);
                serve(push_gateway::endpoints::router(canned())).await
            }
        };
        let client = Client::new(base).with_access_token("syt_test_token");
        let client = if family == Family::ServerServer {
            client.with_signer(matrix_api_runtime::client::Signer {
                origin: "origin.example".into(),
                destination: "dest.example".into(),
                key_id: "ed25519:1".into(),
                key: signing_key(),
            })
        } else {
            client
        };
        let ctx = Arc::new(Ctx {
            spec: matrix_codegen::load_spec(&release_dir("v1.19")).unwrap(),
            family,
            client,
            expectations: expectations.clone(),
        });
        let total = collect.0.len();
        let (mut passed, mut from_examples, mut responses_from_examples) = (0, 0, 0);
        for (id, check) in &collect.0 {
            match check(ctx.clone()).await {
                Ok((request_example, response_example)) => {
                    passed += 1;
                    from_examples += usize::from(request_example);
                    responses_from_examples += usize::from(response_example);
                }
                Err(e) => failures.push(format!("{}/{id}: {e}", family.dir())),
            }
        }
        let ir_count = ctx.spec.api.operations.iter().filter(|o| o.family == family).count();
        assert_eq!(total, ir_count, "{}: visit_all misses operations", family.dir());
        report.push(format!(
            "{:<20} {passed}/{total} round-trip (request body from a spec example: {from_examples}, response body: {responses_from_examples})",
            family.dir()
        ));
    }
    println!("{}", report.join("\n"));
    let mismatches = expectations.mismatches.lock().unwrap().clone();
    assert!(
        failures.is_empty() && mismatches.is_empty(),
        "requests changed on the way:\n{}\nfailures:\n{}",
        mismatches.join("\n"),
        failures.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} operations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
