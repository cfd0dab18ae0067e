//! A user's calls as raw JSON over HTTP (`reqwest`), for scenarios that
//! compare whole answers or drive server processes from outside.

use reqwest::Method;
use serde_json::{json, Value};

/// A user's calls, raw JSON in and out.
pub struct User {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
}

impl User {
    pub async fn register(base: &str, name: &str) -> User {
        let http = reqwest::Client::new();
        let body = json!({ "username": name, "password": "pw", "auth": { "type": "m.login.dummy" } });
        let answer = json_of(
            http.post(format!("{base}/_matrix/client/v3/register"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
        User {
            http,
            base: base.to_owned(),
            token: answer["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Calls `/_matrix/{path}`; the JSON answer, which must be a success.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        json_of(self.request(method, path, body)).await
    }

    /// [`User::call`] where the server may be gone or fail: what went wrong
    /// (`<status> <body>` for an answer that is not a success).
    // Only the PostgreSQL binary's `two_processes` kills a server mid-call.
    #[allow(dead_code)]
    pub async fn try_call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let response = self
            .request(method, path, body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        match status.is_success() {
            true => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
            false => Err(format!("{status} {}", String::from_utf8_lossy(&bytes))),
        }
    }

    fn request(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/_matrix/{path}", self.base))
            .bearer_auth(&self.token);
        match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        }
    }

    /// The same user on another server (the same token).
    pub fn on(&self, base: &str) -> User {
        User {
            http: self.http.clone(),
            base: base.to_owned(),
            token: self.token.clone(),
        }
    }
}

/// Sends a request; its JSON answer, which must be a success.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{status} {}", String::from_utf8_lossy(&bytes));
    answer
}
