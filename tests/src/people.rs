//! What the suites that drive a homeserver (ours or Synapse) through the
//! generated client share: registering a user, saying something, waiting
//! for something to happen, and a peer that fails on demand.

use crate::scenario::req;
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::Client;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A registered user: its ID and a client holding its access token.
pub struct Person {
    pub id: String,
    pub token: String,
    pub client: cs::Client,
}

/// Registers `name` (password `pw-<name>`) with the dummy stage.
pub async fn register(base: &str, name: &str) -> Person {
    let body = json!({ "username": name, "password": format!("pw-{name}"), "auth": { "type": "m.login.dummy" } });
    let cs::register::Response::Ok(r) = cs::Client::new(base)
        .register(req(json!({}), json!({}), body))
        .await
        .unwrap_or_else(|e| panic!("registering {name} at {base}: {e}"))
    else {
        panic!("registering {name} at {base}: more stages asked");
    };
    let token = r
        .access_token
        .unwrap_or_else(|| panic!("registering {name}: no access token"));
    Person {
        id: r.user_id.to_string(),
        client: cs::Client(Client::new(base).with_access_token(token.clone())),
        token,
    }
}

impl Person {
    /// Sends `text` as an `m.text` message (the text is its transaction
    /// ID); returns the event's ID.
    pub async fn say(&self, room: &str, text: &str) -> String {
        let path = json!({ "roomId": room, "eventType": "m.room.message", "txnId": text });
        let body = json!({ "msgtype": "m.text", "body": text });
        let cs::send_message::Response::Ok(sent) = self
            .client
            .send_message(req(path, json!({}), body))
            .await
            .unwrap_or_else(|e| panic!("{} saying {text:?}: {e}", self.id));
        sent.event_id.to_string()
    }
}

/// Polls `check` every 200 ms until it gives a value, for 30 s at most.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..150 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: not within 30 s");
}

/// A peer (a bridge, a push gateway) served behind a switch: while it is
/// on, every request whose path starts with `prefix` gets `500` and its
/// path's rest is noted in `refused`; the others reach the peer.
pub struct Failing {
    pub router: axum::Router,
    pub switch: Arc<AtomicBool>,
    pub refused: Arc<Mutex<Vec<String>>>,
}

impl Failing {
    pub fn new(inner: axum::Router, prefix: &'static str) -> Failing {
        let switch = Arc::new(AtomicBool::new(false));
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let (on, log) = (switch.clone(), refused.clone());
        let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (inner, on, log) = (inner.clone(), on.clone(), log.clone());
            async move {
                use axum::response::IntoResponse;
                use tower::ServiceExt;
                if let Some(rest) = request.uri().path().strip_prefix(prefix) {
                    if on.load(Ordering::SeqCst) {
                        log.lock().unwrap_or_else(|p| p.into_inner()).push(rest.to_owned());
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
                    }
                }
                inner.oneshot(request).await.into_response()
            }
        });
        Failing {
            router,
            switch,
            refused,
        }
    }

    pub fn fail(&self, on: bool) {
        self.switch.store(on, Ordering::SeqCst);
    }

    /// What was refused so far, in order.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
