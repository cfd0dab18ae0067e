//! Stored invites handed to the homeserver of whoever binds the address
//! (`PUT /_matrix/federation/v1/3pid/onbind`), each `signed` block being
//! this server's signature over the user's ID and the invite's token,
//! which the room's rules check against the keys `/store-invite` gave.
//!
//! An invite is marked delivered only once the homeserver has answered
//! (a refusal included: sending it again would be refused again); while
//! the homeserver cannot be reached it stays, and is tried again every
//! [`RETRY`] and whenever a new binding is made. A restart loses nothing.

use crate::store::Invite;
use crate::{now_ms, IdentityServer};
use matrix_api::server_server::endpoints::{on_bind_third_party_identifier, Client};
use matrix_api::server_server::{OnBindThirdPartyIdentifierRequest, OnBindThirdPartyIdentifierRequestInvitesItem};
use matrix_api_runtime::client::ClientError;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often undelivered invites are tried again.
const RETRY: Duration = Duration::from_secs(10);

pub async fn run(server: Arc<IdentityServer>) {
    loop {
        if let Err(why) = deliver_all(&server).await {
            tracing::warn!("delivering invites: {why}");
        }
        let _ = tokio::time::timeout(RETRY, server.deliver.notified()).await;
    }
}

/// One pass: the deliverable invites, one `onbind` per bound address.
pub async fn deliver_all(server: &IdentityServer) -> Result<(), String> {
    let mut by_binding: BTreeMap<(String, String, String), Vec<Invite>> = BTreeMap::new();
    for (invite, mxid) in server.store.deliverable_invites()? {
        let key = (invite.medium.clone(), invite.address.clone(), mxid);
        by_binding.entry(key).or_default().push(invite);
    }
    for ((medium, address, mxid), invites) in by_binding {
        let tokens: Vec<String> = invites.iter().map(|i| i.token.clone()).collect();
        let body = match on_bind_body(server, &medium, &address, &mxid, invites) {
            Ok(body) => body,
            Err(why) => {
                // Data that never becomes valid: dropping it is the only way on.
                tracing::warn!(mxid, "invites that cannot be sent: {why}");
                server.store.mark_delivered(&tokens, now_ms())?;
                continue;
            }
        };
        match send(server, &mxid, body).await {
            Ok(()) => server.store.mark_delivered(&tokens, now_ms())?,
            Err(ClientError::Matrix(refusal)) if refusal.status < 500 => {
                tracing::warn!(mxid, "the homeserver refused the invites: {}", refusal.body.error);
                server.store.mark_delivered(&tokens, now_ms())?;
            }
            Err(e) => tracing::info!(mxid, "the homeserver could not take the invites yet: {e}"),
        }
    }
    Ok(())
}

/// The `onbind` body for `mxid`'s invites, each signed by this server.
fn on_bind_body(
    server: &IdentityServer,
    medium: &str,
    address: &str,
    mxid: &str,
    invites: Vec<Invite>,
) -> Result<OnBindThirdPartyIdentifierRequest, String> {
    let text = |e: matrix_api::IdError| e.to_string();
    let user: matrix_api::identifiers::UserId = mxid.parse().map_err(text)?;
    let mut items = Vec::new();
    for invite in invites {
        let mut signed = json!({ "mxid": mxid, "token": invite.token });
        server.signing.sign_json(&mut signed);
        items.push(OnBindThirdPartyIdentifierRequestInvitesItem::new(
            medium.to_owned(),
            address.to_owned(),
            user.clone(),
            invite.room_id.parse().map_err(text)?,
            invite.sender.parse().map_err(text)?,
            serde_json::from_value(signed).map_err(|e| e.to_string())?,
        ));
    }
    Ok(OnBindThirdPartyIdentifierRequest::new(
        medium.to_owned(),
        address.to_owned(),
        user,
        items,
    ))
}

/// `PUT`, as the spec documents it; a homeserver that does not know that
/// method here (Synapse serves only `POST`, which Sydent sends) gets the
/// same body by `POST`.
async fn send(server: &IdentityServer, mxid: &str, body: OnBindThirdPartyIdentifierRequest) -> Result<(), ClientError> {
    let homeserver = mxid.split_once(':').map(|(_, s)| s).unwrap_or_default();
    let base = server.discovery.base_url(homeserver).await;
    let client = Client(matrix_api_runtime::client::Client::new(&base).with_http(server.discovery.http().clone()));
    let answer = client
        .on_bind_third_party_identifier(on_bind_third_party_identifier::Request::new(body.clone()))
        .await;
    match answer {
        Err(ClientError::Matrix(e)) if matches!(e.status, 404 | 405) => {
            let url = format!("{base}{}", on_bind_third_party_identifier::METADATA.path);
            let json = serde_json::to_vec(&body).map_err(|e| ClientError::Request(e.to_string()))?;
            let response = server
                .discovery
                .http()
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json)
                .send()
                .await
                .map_err(ClientError::Transport)?;
            match response.status().as_u16() {
                200..=299 => Ok(()),
                status => Err(ClientError::Matrix(matrix_api_runtime::MatrixError::new(
                    status,
                    matrix_api_runtime::ErrorCode::Unknown,
                    format!("onbind by POST answered {status}"),
                ))),
            }
        }
        other => other.map(drop),
    }
}
