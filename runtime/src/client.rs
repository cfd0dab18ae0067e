//! The reqwest side, written once for every operation: build the URL
//! (every path segment percent-encoded), query, headers and body; send;
//! separate Matrix errors from transport and decoding failures. No overall
//! timeout is set by default, so long-polling `/sync` works; set one with
//! [`Client::with_http`] if you want it.

use crate::endpoint::{AuthScheme, ClientEndpoint, ClientResponse, EndpointResponse, HttpResponse, Metadata};
use crate::error::{ErrorBody, MatrixError};
use std::fmt;

#[derive(Debug)]
pub enum ClientError {
    /// The server answered with a Matrix error (status, errcode, body).
    Matrix(MatrixError),
    /// The request could not be sent or the response not read.
    Transport(reqwest::Error),
    /// The response did not match the operation's documented shape.
    Decode { status: u16, message: String },
    /// The request could not be built (a path parameter without a value, …).
    Request(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Matrix(e) => write!(f, "Matrix error: {e}"),
            ClientError::Transport(e) => write!(f, "transport error: {e}"),
            ClientError::Decode { status, message } => write!(f, "undecodable response (status {status}): {message}"),
            ClientError::Request(m) => write!(f, "invalid request: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one server, with an optional access token.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    access_token: Option<String>,
    /// Headers sent with every request.
    extra_headers: Vec<(String, String)>,
    /// Query parameters added to every request.
    extra_query: Vec<(String, String)>,
    /// Signs federation requests (`Authorization: X-Matrix …`).
    signer: Option<std::sync::Arc<Signer>>,
    /// Sees every response as received, before decoding.
    observer: Option<Observer>,
    /// Told of the fields each decoded response dropped.
    unmodeled: Option<UnmodeledObserver>,
}

/// A callback given, for each response that decoded, the JSON paths of the
/// fields its generated type does not model (see [`crate::unmodeled`]);
/// not called when there are none.
#[derive(Clone)]
pub struct UnmodeledObserver(pub std::sync::Arc<UnmodeledFn>);

/// What an [`UnmodeledObserver`] calls: operation metadata, dropped paths.
pub type UnmodeledFn = dyn Fn(&Metadata, &[String]) + Send + Sync;

impl fmt::Debug for UnmodeledObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnmodeledObserver")
    }
}

/// A callback given each raw response (operation, status, body) before it is
/// decoded: for logging, recording, or finding fields a server sends that
/// the generated types do not model.
#[derive(Clone)]
pub struct Observer(pub std::sync::Arc<ObserverFn>);

/// What an [`Observer`] calls: operation metadata, status, raw body.
pub type ObserverFn = dyn Fn(&Metadata, u16, &[u8]) + Send + Sync;

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

/// What a federation client signs with.
pub struct Signer {
    pub origin: String,
    pub destination: String,
    /// `ed25519:<id>`.
    pub key_id: String,
    pub key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("origin", &self.origin)
            .field("destination", &self.destination)
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl Client {
    /// `base_url` without a trailing slash, e.g. `https://matrix.example.org`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Client {
            // A redirect (SSO) is a response to return, not to follow.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            access_token: None,
            extra_headers: Vec::new(),
            extra_query: Vec::new(),
            signer: None,
            observer: None,
            unmodeled: None,
        }
    }

    pub fn with_access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(token.into());
        self
    }

    /// Signs every federation request as `signer.origin` (and, without an
    /// access token, the identity-server requests that accept a signature).
    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(std::sync::Arc::new(signer));
        self
    }

    /// Calls `observer` with every raw response before it is decoded.
    pub fn with_observer(mut self, observer: impl Fn(&Metadata, u16, &[u8]) + Send + Sync + 'static) -> Self {
        self.observer = Some(Observer(std::sync::Arc::new(observer)));
        self
    }

    /// Calls `observer` with the fields each decoded response carried that
    /// its generated type does not model. Costs a second encoding of every
    /// response: for tests and diagnostics.
    pub fn with_unmodeled_observer(mut self, observer: impl Fn(&Metadata, &[String]) + Send + Sync + 'static) -> Self {
        self.unmodeled = Some(UnmodeledObserver(std::sync::Arc::new(observer)));
        self
    }

    /// Adds `name=value` to the query of every request: an application
    /// service acting as one of its users (`user_id`, the client-server
    /// API's identity assertion) or one of its devices.
    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_query.push((name.into(), value.into()));
        self
    }

    /// Sends `name: value` with every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    pub fn set_access_token(&mut self, token: Option<String>) {
        self.access_token = token;
    }

    /// Use a configured reqwest client (timeouts, TLS, proxies).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The same client (token, signer, headers) for another server address.
    pub fn with_base_url(mut self, base_url: &str) -> Self {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends one request and decodes the response.
    pub async fn send<E: ClientEndpoint>(&self, request: E) -> Result<E::Response, ClientError> {
        let meta = E::METADATA;
        let (path, query, headers, body) = request.into_parts();
        let path = serde_json::to_value(&path).map_err(|e| ClientError::Request(e.to_string()))?;
        let mut uri = crate::path::fill(meta.path, &path).map_err(ClientError::Request)?;
        let mut query = serde_html_form::to_string(&query).map_err(|e| ClientError::Request(e.to_string()))?;
        if !self.extra_query.is_empty() {
            let extra =
                serde_html_form::to_string(&self.extra_query).map_err(|e| ClientError::Request(e.to_string()))?;
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&extra);
        }
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        let url = format!("{}{}", self.base_url, uri);
        let method =
            reqwest::Method::from_bytes(meta.method.as_bytes()).map_err(|e| ClientError::Request(e.to_string()))?;
        let mut builder = self.http.request(method, url);
        for (k, v) in crate::endpoint::headers::encode(&headers).map_err(ClientError::Request)? {
            builder = builder.header(k, v);
        }
        for (k, v) in &self.extra_headers {
            builder = builder.header(k, v);
        }
        let encoded = E::encode_body(&body).map_err(ClientError::Request)?;
        if let Some(ct) = &encoded.content_type {
            builder = builder.header(reqwest::header::CONTENT_TYPE, ct.as_ref());
        }
        if encoded.content_type.is_some() || !encoded.bytes.is_empty() {
            builder = builder.body(encoded.bytes.clone());
        }
        // A signature where the operation asks for one, or offers it in
        // place of an access token this client does not have.
        let audience = match meta.auth {
            AuthScheme::ServerSignature => Some(crate::signing::Audience::Homeserver),
            AuthScheme::AccessTokenOrServerSignature if self.access_token.is_none() => {
                Some(crate::signing::Audience::IdentityServer)
            }
            _ => None,
        };
        if let (Some(audience), Some(signer)) = (audience, &self.signer) {
            let content: Option<serde_json::Value> = if encoded.content_type.as_deref() == Some("application/json") {
                serde_json::from_slice(&encoded.bytes).ok()
            } else {
                None
            };
            let header = crate::signing::sign_request_to(
                audience,
                &signer.key,
                &signer.key_id,
                &signer.origin,
                &signer.destination,
                meta.method,
                &uri,
                content.as_ref(),
            );
            builder = builder.header(reqwest::header::AUTHORIZATION, header);
        }
        if matches!(
            meta.auth,
            AuthScheme::AccessToken | AuthScheme::AccessTokenOptional | AuthScheme::AccessTokenOrServerSignature
        ) {
            if let Some(token) = &self.access_token {
                builder = builder.bearer_auth(token);
            }
        }
        let response = builder.send().await.map_err(ClientError::Transport)?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
            .collect();
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone());
        let bytes = response.bytes().await.map_err(ClientError::Transport)?;
        if let Some(observer) = &self.observer {
            (observer.0)(&meta, status, &bytes);
        }
        let http = HttpResponse {
            status,
            headers,
            body: crate::endpoint::Encoded {
                content_type: content_type.map(std::borrow::Cow::Owned),
                bytes,
            },
        };
        // A documented non-error body (a user-interactive auth 401); a
        // Matrix error on that status (`M_UNKNOWN_TOKEN`) is still one.
        if status >= 400 && E::Response::TYPED_ERRORS.contains(&status) {
            if let Ok(typed) = E::Response::from_http(http.clone()) {
                return Ok(typed);
            }
        }
        let bytes = http.body.bytes.clone();
        if status >= 400 {
            return match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(ClientError::Matrix(MatrixError {
                    status,
                    body: Box::new(body),
                })),
                Err(e) => Err(ClientError::Decode {
                    status,
                    message: format!("error body is not a Matrix error: {e}"),
                }),
            };
        }
        let decoded = E::Response::from_http(http).map_err(|message| ClientError::Decode { status, message })?;
        if let Some(observer) = &self.unmodeled {
            let dropped = dropped_by::<E::Response>(&decoded, &bytes);
            if !dropped.is_empty() {
                (observer.0)(&meta, &dropped);
            }
        }
        Ok(decoded)
    }
}

/// The fields of the JSON body `received` that `decoded` (decoded from it)
/// does not keep: a copy of `decoded` is encoded again as a server would
/// send it.
fn dropped_by<R: EndpointResponse>(decoded: &R, received: &[u8]) -> Vec<String> {
    let Ok(received) = serde_json::from_slice::<serde_json::Value>(received) else {
        return Vec::new();
    };
    let reencoded = decoded
        .clone()
        .into_http()
        .ok()
        .and_then(|http| serde_json::from_slice::<serde_json::Value>(&http.body.bytes).ok());
    match reencoded {
        Some(reencoded) => crate::unmodeled::dropped_fields(&received, &reencoded),
        None => Vec::new(),
    }
}
