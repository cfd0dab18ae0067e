//! Helpers shared by the homeserver's tests.

use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::Client;
use serde_json::{json, Value};

/// A generated request from its parts as JSON.
pub fn req<R: serde::de::DeserializeOwned>(path: Value, query: Value, body: Value) -> R {
    serde_json::from_value(json!({ "path": path, "query": query, "headers": {}, "body": body })).unwrap()
}

/// Registers `user` (password `pw`) and returns a client holding its token.
pub async fn register(base: &str, user: &str) -> cs::Client {
    let cs::register::Response::Ok(r) = cs::Client::new(base)
        .register(req(
            json!({}),
            json!({}),
            json!({ "username": user, "password": "pw", "auth": { "type": "m.login.dummy" } }),
        ))
        .await
        .unwrap()
    else {
        panic!("registering {user}: the dummy stage did not complete");
    };
    cs::Client(Client::new(base).with_access_token(r.access_token.unwrap()))
}
