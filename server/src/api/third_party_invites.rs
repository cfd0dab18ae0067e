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

use super::identity_server::IdentityServer;
use super::{Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::events::{PublicKeys, RoomThirdPartyInviteEventContent};
use matrix_api::EventContent;
use matrix_api_runtime::server::Credentials;
use serde_json::{Map, Value};

pub(super) async fn invite(
    hs: &Homeserver,
    request: cs::invite_by3_pid::Request,
    credentials: Credentials,
) -> Result<cs::invite_by3_pid::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let body = request.body;
    let identity = IdentityServer::new(hs, &body.id_server, &body.id_access_token)?;
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
