//! Inviting by a third-party identifier (`POST /rooms/{roomId}/invite`
//! with `id_server`, `id_access_token`, `medium`, `address`), as the
//! client-server API's third-party invites module describes it: the
//! identity server is asked whether the address is bound to a Matrix ID
//! (hashed `/lookup`); if it is, that user is invited as any other; if not,
//! the identity server stores the invite (`/store-invite`) and answers with
//! a token and its public keys, which go into the room as an
//! `m.room.third_party_invite` event keyed by the token. Whoever later
//! binds the address presents the identity server's signature over their
//! Matrix ID and that token (`federation::third_party`), and the room's
//! rules check it against those keys.

use super::{content_in, id, internal, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::Invite3pid;
use matrix_api::events::{
    PublicKeys, RoomAvatarEventContent, RoomCanonicalAliasEventContent, RoomCreateEventContent,
    RoomJoinRulesEventContent, RoomNameEventContent, RoomThirdPartyInviteEventContent,
};
use matrix_api::identity::endpoints::{self as is, get_hash_details, lookup_users_v2, store_invite_v2};
use matrix_api::identity::{LookupUsersV2Request, StoreInviteV2Request};
use matrix_api::EventContent;
use matrix_api_runtime::client::ClientError;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub(super) async fn invite(
    hs: &Homeserver,
    request: cs::invite_by3_pid::Request,
    credentials: Credentials,
) -> Result<cs::invite_by3_pid::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let body = request.body;
    let identity = IdentityServer::new(hs, &body)?;
    match identity.lookup(&body.medium, &body.address).await? {
        Some(target) => hs.invite_user(&room_id, &user_id, &target, None).await?,
        None => {
            // The rules must allow the event before the identity server
            // is asked to keep an invite that could never be used.
            let probe = Value::Object(Map::new());
            hs.check_allowed(
                &room_id,
                &user_id,
                RoomThirdPartyInviteEventContent::EVENT_TYPE,
                Some(""),
                &probe,
            )?;
            let stored = identity.store_invite(hs, &room_id, &user_id, &body).await?;
            let Some(first) = stored.public_keys.first() else {
                return Err(identity.unusable("its answer holds no public key"));
            };
            let mut content = RoomThirdPartyInviteEventContent::new(
                stored.display_name.clone(),
                first.key_validity_url.clone(),
                first.public_key.clone(),
            );
            content.public_keys = Some(
                stored
                    .public_keys
                    .iter()
                    .map(|key| PublicKeys {
                        key_validity_url: Some(key.key_validity_url.clone()),
                        public_key: key.public_key.clone(),
                    })
                    .collect(),
            );
            hs.send_state(&room_id, &user_id, &stored.token, &content)?;
        }
    }
    Ok(cs::invite_by3_pid::Response::Ok(Map::new()))
}

/// The identity server a client named, with the client's token there.
struct IdentityServer {
    name: String,
    client: is::Client,
}

impl IdentityServer {
    fn new(hs: &Homeserver, body: &Invite3pid) -> Result<IdentityServer> {
        let name = body.id_server.clone();
        if name.is_empty() || name.contains(['/', '?', '#', '@']) {
            return Err(MatrixError::invalid_param(
                "id_server must be a host name, with a port if needed",
            ));
        }
        let federation = hs
            .federation()
            .ok_or_else(|| MatrixError::new(503, ErrorCode::Unknown, "no HTTP client for identity servers"))?;
        let client = matrix_api_runtime::client::Client::new(format!("https://{name}"))
            .with_http(federation.discovery.http().clone())
            .with_access_token(body.id_access_token.clone());
        Ok(IdentityServer {
            name,
            client: is::Client(client),
        })
    }

    /// The Matrix ID bound to `address`, by the hashed lookup (`sha256`,
    /// or `none` where the server offers only that).
    async fn lookup(&self, medium: &str, address: &str) -> Result<Option<String>> {
        let get_hash_details::Response::Ok(details) = self
            .client
            .get_hash_details(get_hash_details::Request::new())
            .await
            .map_err(|e| self.failed(e))?;
        let pepper = details.lookup_pepper;
        let (algorithm, key) = if details.algorithms.iter().any(|a| a == "sha256") {
            let digest = Sha256::digest(format!("{address} {medium} {pepper}").as_bytes());
            ("sha256", base64_url(&digest))
        } else if details.algorithms.iter().any(|a| a == "none") {
            ("none", format!("{address} {medium}"))
        } else {
            return Err(self.unusable("it offers neither the sha256 nor the none lookup"));
        };
        let body = LookupUsersV2Request::new(algorithm.to_owned(), pepper, vec![key.clone()]);
        let lookup_users_v2::Response::Ok(found) = self
            .client
            .lookup_users_v2(lookup_users_v2::Request::new(body))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(found.mappings.get(&key).map(|user| user.to_string()))
    }

    /// Asks the identity server to keep an invite for `address`, with what
    /// it may tell the invitee of the room and the inviter.
    async fn store_invite(
        &self,
        hs: &Homeserver,
        room_id: &str,
        sender: &str,
        body: &Invite3pid,
    ) -> Result<matrix_api::identity::StoreInviteV2Response> {
        let state = hs.store.current_state(room_id).map_err(internal)?;
        let mut request =
            StoreInviteV2Request::new(body.medium.clone(), body.address.clone(), id(room_id)?, id(sender)?);
        request.room_name = content_in::<RoomNameEventContent>(&state, "").map(|c| c.name);
        request.room_alias = content_in::<RoomCanonicalAliasEventContent>(&state, "").and_then(|c| c.alias);
        request.room_avatar_url = content_in::<RoomAvatarEventContent>(&state, "").and_then(|c| c.url);
        request.room_join_rules = content_in::<RoomJoinRulesEventContent>(&state, "").map(|c| c.join_rule.to_string());
        request.room_type = content_in::<RoomCreateEventContent>(&state, "").and_then(|c| c.r#type);
        let profile = hs.store.profile(sender).map_err(internal)?;
        request.sender_display_name = profile.get("displayname").and_then(Value::as_str).map(str::to_owned);
        let store_invite_v2::Response::Ok(stored) = self
            .client
            .store_invite_v2(store_invite_v2::Request::new(request))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(stored)
    }

    /// The identity server's refusal passed on (its `4xx` is about the
    /// client's request or token); anything else is `502`.
    fn failed(&self, error: ClientError) -> MatrixError {
        match error {
            ClientError::Matrix(refusal) if refusal.status < 500 => refusal,
            other => self.unusable(other),
        }
    }

    fn unusable(&self, why: impl std::fmt::Display) -> MatrixError {
        MatrixError::new(502, ErrorCode::Unknown, format!("identity server {}: {why}", self.name))
    }
}

/// URL-safe unpadded base64, as the hashed lookup sends hashes.
fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_hashes_are_the_specs() {
        // The identity service API's example: "alice@example.com email
        // matrixrocks" hashes to this.
        let digest = Sha256::digest(b"alice@example.com email matrixrocks");
        assert_eq!(base64_url(&digest), "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc");
    }
}
