//! Addresses on accounts (`/account/3pid/…`): this homeserver validates an
//! email address itself, as the spec asks (a token mailed to it, whose link
//! leads back here); a validated address is added with user-interactive
//! authentication, listed, and removed. Bindings at identity servers made
//! through `/account/3pid/bind` are remembered, so that `/unbind` and
//! `/delete` unbind them with a request this server signs (they take no
//! identity-server token).

use super::identity_server::IdentityServer;
use super::uia::Reauthentication;
use super::{internal, now_ms, random_id, Homeserver, Result};
use crate::store::{Threepid, ValidationSession};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    Delete3pidFromAccountRequest, Delete3pidFromAccountResponse, Delete3pidFromAccountResponseIdServerUnbindResult,
    GetAccount3PiDsResponse, GetAccount3PiDsResponseThreepidsItemMedium, RequestTokenResponse, ThirdPartyIdentifier,
};
use matrix_api::identity::{EmailSubmitTokenPostV2Request, EmailSubmitTokenPostV2Response};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::Map;
use std::sync::Arc;

/// Where the link of a validation email leads, and where a client submits
/// the token (`submit_url`): not in the spec, which leaves validation to
/// the homeserver; the path is Synapse's, which clients have seen.
pub const SUBMIT_TOKEN_PATH: &str = "/_matrix/client/unstable/add_threepid/email/submit_token";

/// The operation name user-interactive authentication sessions are tied to.
const ADD_OPERATION: &str = "add_3pid";

/// `client_secret` as the spec defines it: `[0-9a-zA-Z.=_-]`, 1 to 255.
fn valid_client_secret(secret: &str) -> bool {
    (1..=255).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'=' | b'_' | b'-'))
}

pub(super) async fn request_token_email(
    hs: &Homeserver,
    request: cs::request_token_to3_pid_email::Request,
) -> Result<cs::request_token_to3_pid_email::Response> {
    let Some(mailer) = &hs.mail else {
        return Err(MatrixError::new(
            400,
            ErrorCode::ThreepidMediumNotSupported,
            "this homeserver sends no email",
        ));
    };
    let body = request.body;
    if !valid_client_secret(&body.client_secret) {
        return Err(MatrixError::invalid_param(
            "client_secret must be 1 to 255 of [0-9a-zA-Z.=_-]",
        ));
    }
    let address = crate::threepid::normalized_email(&body.email)
        .ok_or_else(|| MatrixError::invalid_param("not an email address"))?;
    if hs.store.threepid_owner("email", &address).map_err(internal)?.is_some() {
        return Err(MatrixError::new(
            400,
            ErrorCode::ThreepidInUse,
            "the address is on an account of this server",
        ));
    }
    let wanted = ValidationSession {
        sid: random_id(24),
        client_secret: body.client_secret,
        medium: "email".to_owned(),
        address: address.clone(),
        token: random_id(32),
        send_attempt: body.send_attempt,
        validated_ts: None,
    };
    let (session, send) = hs.store.validation_session_for(wanted, now_ms()).map_err(internal)?;
    let submit_url = format!("{}{SUBMIT_TOKEN_PATH}", public_base_url(hs));
    if send {
        let link = reqwest::Url::parse_with_params(
            &submit_url,
            [
                ("token", session.token.as_str()),
                ("client_secret", session.client_secret.as_str()),
                ("sid", session.sid.as_str()),
            ],
        )
        .map_err(internal)?;
        let text = format!(
            "To add this address to your account on {}, open\n\n{link}\n\nor enter this token: {}\n",
            hs.server_name, session.token
        );
        mailer
            .send(&address, "Validate your email address", text)
            .await
            .map_err(|e| MatrixError::new(500, ErrorCode::from("M_EMAIL_SEND_ERROR"), e))?;
    }
    let mut response = RequestTokenResponse::new(session.sid);
    response.submit_url = Some(submit_url);
    Ok(cs::request_token_to3_pid_email::Response::Ok(response))
}

/// Where clients reach this server: its configured public URL, else its
/// name over HTTPS.
fn public_base_url(hs: &Homeserver) -> String {
    match &hs.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("https://{}", hs.server_name),
    }
}

/// The token of a session, from the mailed link (`GET`) or a client
/// (`POST`, with the identity service's `submitToken` body).
fn submit_token(hs: &Homeserver, submitted: &EmailSubmitTokenPostV2Request) -> Result<()> {
    let session = hs.store.validation_session(&submitted.sid).map_err(internal)?;
    match session {
        Some(session) if session.client_secret == submitted.client_secret && session.token == submitted.token => {
            hs.store.validate_session(&session.sid, now_ms()).map_err(internal)?;
            Ok(())
        }
        _ => Err(MatrixError::new(
            400,
            ErrorCode::ThreepidAuthFailed,
            "no session with this ID, secret and token",
        )),
    }
}

/// The routes of [`SUBMIT_TOKEN_PATH`], outside the spec's router.
pub fn submit_token_routes(hs: Arc<Homeserver>) -> axum::Router {
    use axum::extract::{RawQuery, State};
    use axum::http::header::CONTENT_TYPE;
    use axum::response::{IntoResponse, Response};
    use matrix_api_runtime::server::error_response;
    fn answer(hs: &Homeserver, submitted: Result<EmailSubmitTokenPostV2Request>, page: bool) -> Response {
        match submitted.and_then(|submitted| submit_token(hs, &submitted)) {
            Ok(()) if page => "Your email address is validated: you may go back to your Matrix client.".into_response(),
            Ok(()) => {
                let body = serde_json::to_vec(&EmailSubmitTokenPostV2Response::new(true)).unwrap_or_default();
                ([(CONTENT_TYPE, "application/json")], body).into_response()
            }
            Err(e) => error_response(e),
        }
    }
    async fn by_link(State(hs): State<Arc<Homeserver>>, RawQuery(query): RawQuery) -> Response {
        let query = query.unwrap_or_default();
        let submitted = reqwest::Url::parse(&format!("http://link/?{query}"))
            .map_err(MatrixError::invalid_param)
            .and_then(|url| {
                let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
                let field = |name: &str| {
                    pairs
                        .get(name)
                        .cloned()
                        .ok_or_else(|| MatrixError::missing_param(format!("`{name}` is missing")))
                };
                Ok(EmailSubmitTokenPostV2Request::new(
                    field("sid")?,
                    field("client_secret")?,
                    field("token")?,
                ))
            });
        answer(&hs, submitted, true)
    }
    async fn by_client(State(hs): State<Arc<Homeserver>>, body: axum::body::Bytes) -> Response {
        let submitted =
            serde_json::from_slice(&body).map_err(|e| MatrixError::new(400, ErrorCode::BadJson, e.to_string()));
        answer(&hs, submitted, false)
    }
    axum::Router::new()
        .route(SUBMIT_TOKEN_PATH, axum::routing::get(by_link).post(by_client))
        .with_state(hs)
}

pub(super) async fn add(
    hs: &Homeserver,
    request: cs::add3_pid::Request,
    credentials: Credentials,
) -> Result<cs::add3_pid::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    if let Reauthentication::Required(challenge) =
        hs.reauthenticate(&user_id, ADD_OPERATION, body.auth.as_ref()).await?
    {
        return Ok(cs::add3_pid::Response::Unauthorized(challenge));
    }
    let session = hs.store.validation_session(&body.sid).map_err(internal)?;
    let (session, validated_at) = match session {
        Some(session) if session.client_secret == body.client_secret => match session.validated_ts {
            Some(at) => (session, at),
            None => {
                return Err(MatrixError::new(
                    400,
                    ErrorCode::ThreepidAuthFailed,
                    "the address has not been validated yet",
                ))
            }
        },
        _ => {
            return Err(MatrixError::new(
                400,
                ErrorCode::ThreepidAuthFailed,
                "no session with this ID and secret",
            ))
        }
    };
    let threepid = Threepid {
        medium: session.medium,
        address: session.address,
        validated_at,
        added_at: now_ms(),
    };
    if !hs.store.add_threepid(&user_id, &threepid).map_err(internal)? {
        return Err(MatrixError::new(
            400,
            ErrorCode::ThreepidInUse,
            "the address is on another account",
        ));
    }
    Ok(cs::add3_pid::Response::Ok(Map::new()))
}

pub(super) fn list(hs: &Homeserver, credentials: Credentials) -> Result<cs::get_account3_pi_ds::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let threepids = hs.store.threepids(&user_id).map_err(internal)?;
    let threepids = threepids
        .into_iter()
        .map(|t| {
            let medium = GetAccount3PiDsResponseThreepidsItemMedium::from(t.medium.as_str());
            ThirdPartyIdentifier::new(medium, t.address, t.validated_at, t.added_at)
        })
        .collect();
    Ok(cs::get_account3_pi_ds::Response::Ok(GetAccount3PiDsResponse {
        threepids: Some(threepids),
    }))
}

/// Notes where the user bound an address (`/account/3pid/bind`).
pub(super) fn remember_binding(
    hs: &Homeserver,
    user_id: &str,
    bound: &(String, String),
    id_server: &str,
) -> Result<()> {
    let (medium, address) = bound;
    hs.store
        .add_threepid_binding(user_id, medium, address, id_server)
        .map_err(internal)
}

pub(super) async fn unbind(
    hs: &Homeserver,
    request: cs::unbind3pid_from_account::Request,
    credentials: Credentials,
) -> Result<cs::unbind3pid_from_account::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let result = unbind_everywhere(hs, &user_id, &request.body).await?;
    Ok(cs::unbind3pid_from_account::Response::Ok(
        Delete3pidFromAccountResponse::new(result),
    ))
}

pub(super) async fn delete(
    hs: &Homeserver,
    request: cs::delete3pid_from_account::Request,
    credentials: Credentials,
) -> Result<cs::delete3pid_from_account::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    // Unbound first: should that fail, the address is still here to retry.
    let result = unbind_everywhere(hs, &user_id, &body).await?;
    let address = stored_form(&body)?;
    hs.store
        .remove_threepid(&user_id, body.medium.as_str(), &address)
        .map_err(internal)?;
    Ok(cs::delete3pid_from_account::Response::Ok(
        Delete3pidFromAccountResponse::new(result),
    ))
}

/// The address as this server keeps it.
fn stored_form(body: &Delete3pidFromAccountRequest) -> Result<String> {
    match body.medium.as_str() {
        "email" => crate::threepid::normalized_email(&body.address)
            .ok_or_else(|| MatrixError::invalid_param("not an email address")),
        _ => Ok(body.address.clone()),
    }
}

/// Unbinds the address from the user at the identity server the client
/// names, else at each the user bound it at through this server:
/// `success` when one did, `no-support` when none is known or none
/// supports it.
async fn unbind_everywhere(
    hs: &Homeserver,
    user_id: &str,
    body: &Delete3pidFromAccountRequest,
) -> Result<Delete3pidFromAccountResponseIdServerUnbindResult> {
    let medium = body.medium.as_str();
    let address = stored_form(body)?;
    let servers = match &body.id_server {
        Some(server) => vec![server.clone()],
        None => hs
            .store
            .threepid_bindings(user_id, medium, &address)
            .map_err(internal)?,
    };
    let mut unbound = false;
    for server in servers {
        let identity = IdentityServer::signed_by(hs, &server)?;
        unbound |= identity.unbind(user_id, medium, &address).await?;
        hs.store
            .remove_threepid_binding(user_id, medium, &address, &server)
            .map_err(internal)?;
    }
    Ok(if unbound {
        Delete3pidFromAccountResponseIdServerUnbindResult::Success
    } else {
        Delete3pidFromAccountResponseIdServerUnbindResult::NoSupport
    })
}
