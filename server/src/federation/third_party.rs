//! Third-party invites turned into invites once the address is bound
//! (the server-server API's third-party invites section).
//!
//! - `PUT /3pid/onbind`: an identity server says one of this server's users
//!   bound an address that had pending invites, each with the identity
//!   server's signature over `{mxid, token}`. Where the inviter is a user of
//!   this server, the invite event is made here; else the inviter's server
//!   is asked to make it (`/exchange_third_party_invite`). The request is
//!   not authenticated: what makes an invite stand is the signature, which
//!   the room's rules check against the public keys of the room's
//!   `m.room.third_party_invite` (rule 4.4.1), so an invite not signed by
//!   that identity server is refused and nothing is stored.
//! - `PUT /exchange_third_party_invite/{roomId}`: the invitee's server asks
//!   this one, the inviter's, to make that invite; it is made as any invite
//!   of a user of another server (`invite_remote`), under the same rule.
//!
//! An invite for a user already in the room (or invited) is refused: the
//! rule alone would let a replayed `onbind` turn a member back into an
//! invitee.

use super::Federation;
use crate::api::{internal, server_of};
use matrix_api::events::{
    RoomMemberEventContent, RoomMemberEventContentMembership as Membership, RoomThirdPartyInviteEventContent,
    SignedThirdPartyInvite, ThirdPartyInvite,
};
use matrix_api::server_server::endpoints::{exchange_third_party_invite, on_bind_third_party_identifier};
use matrix_api::server_server::{
    EventContent, ExchangeThirdPartyInviteRequest, ExchangeThirdPartyInviteRequestContentThirdPartyInvite,
};
use matrix_api::EventContent as _;
use matrix_api_runtime::client::ClientError;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

type Result<T> = std::result::Result<T, MatrixError>;

impl Federation {
    pub(super) async fn on_bind(
        &self,
        request: on_bind_third_party_identifier::Request,
    ) -> Result<on_bind_third_party_identifier::Response> {
        let body = request.body;
        let mxid = body.mxid.to_string();
        if server_of(&mxid) != Some(self.identity.server_name.as_str()) {
            return Err(MatrixError::invalid_param(format!(
                "{mxid} is not a user of this server"
            )));
        }
        if !self.hs.store.user_exists(&mxid).map_err(internal)? {
            return Err(MatrixError::not_found(format!("{mxid} does not exist")));
        }
        // Each invite on its own: one refused does not undo another.
        let mut refusals = Vec::new();
        for invite in body.invites {
            let room_id = invite.room_id.to_string();
            let outcome = match invite.mxid.as_str() == mxid {
                true => {
                    self.third_party_invite(&room_id, invite.sender.as_str(), &mxid, invite.signed)
                        .await
                }
                false => Err(MatrixError::invalid_param(
                    "an invite for another user than the one bound",
                )),
            };
            if let Err(refusal) = outcome {
                tracing::info!(
                    room_id,
                    mxid,
                    "a third-party invite was refused: {}",
                    refusal.body.error
                );
                refusals.push(refusal);
            }
        }
        match refusals.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(on_bind_third_party_identifier::Response::Ok(Map::new())),
        }
    }

    /// The invite of `target` (a user of this server) that `signed` stands
    /// for: made here when `sender` is ours, else by `sender`'s server.
    async fn third_party_invite(
        &self,
        room_id: &str,
        sender: &str,
        target: &str,
        signed: SignedThirdPartyInvite,
    ) -> Result<()> {
        let hs = &self.hs;
        let sender_server = server_of(sender).ok_or_else(|| MatrixError::invalid_param("a sender without a server"))?;
        if sender_server == self.identity.server_name {
            let display_name = self.invite_display_name(room_id, &signed.token)?;
            self.refuse_members(room_id, target)?;
            let content = invite_content(display_name, signed)?;
            hs.append_event(None, room_id, sender, "m.room.member", Some(target), content, None)?;
            hs.store.unforget(target, room_id).map_err(internal)?;
            hs.changes.notify_waiters();
            return Ok(());
        }
        let third_party_invite = ExchangeThirdPartyInviteRequestContentThirdPartyInvite {
            // The room's server knows it from the room's invite, and fills it in.
            display_name: None,
            signed,
        };
        let body = ExchangeThirdPartyInviteRequest::new(
            "m.room.member".to_owned(),
            room_id.to_owned(),
            parse(sender)?,
            parse(target)?,
            EventContent::new("invite".to_owned(), third_party_invite),
        );
        let client = self.client_for(sender_server).await;
        let request = exchange_third_party_invite::Request::new(parse(room_id)?, body);
        client.exchange_third_party_invite(request).await.map_err(|e| match e {
            // Unreachable for now: a 5xx, so that the identity server
            // keeps the invite and tries again (a 4xx would end it).
            ClientError::Transport(e) => MatrixError::new(
                503,
                ErrorCode::Unknown,
                format!("{sender_server} could not be reached to exchange the invite ({e}); try again later"),
            ),
            other => super::api::remote_failure("Exchanging the third-party invite", sender_server, other),
        })?;
        Ok(())
    }

    pub(super) async fn exchange_third_party_invite(
        &self,
        request: exchange_third_party_invite::Request,
        credentials: Credentials,
    ) -> Result<exchange_third_party_invite::Response> {
        let origin = super::membership::origin(&credentials)?.to_owned();
        let room_id = request.path.room_id.to_string();
        self.check_acl(&room_id, &origin)?;
        let event = request.body;
        if event.room_id != room_id || event.r#type != "m.room.member" || event.content.membership != "invite" {
            return Err(MatrixError::bad_json(
                "not an invite (m.room.member, membership invite) for this room",
            ));
        }
        let (sender, target) = (event.sender.to_string(), event.state_key.to_string());
        if server_of(&sender) != Some(self.identity.server_name.as_str()) {
            return Err(MatrixError::forbidden("the inviter is not a user of this server"));
        }
        if server_of(&target) != Some(origin.as_str()) {
            return Err(MatrixError::forbidden(
                "a server exchanges invites for its own users only",
            ));
        }
        let signed = event.content.third_party_invite.signed;
        let display_name = self.invite_display_name(&room_id, &signed.token)?;
        self.refuse_members(&room_id, &target)?;
        let content = invite_content(display_name, signed)?;
        self.invite_remote(&room_id, &sender, &target, content).await?;
        Ok(exchange_third_party_invite::Response::Ok(Map::new()))
    }

    /// The display name of the room's third-party invite with `token`
    /// (`M_FORBIDDEN` when there is none: the invite cannot stand).
    fn invite_display_name(&self, room_id: &str, token: &str) -> Result<String> {
        self.hs.room(room_id)?;
        let pending = self
            .hs
            .store
            .state_event(room_id, RoomThirdPartyInviteEventContent::EVENT_TYPE, token)
            .map_err(internal)?;
        pending
            .and_then(|e| e.content_as::<RoomThirdPartyInviteEventContent>())
            .map(|c| c.display_name)
            .ok_or_else(|| MatrixError::forbidden("the room has no third-party invite with this token"))
    }

    fn refuse_members(&self, room_id: &str, target: &str) -> Result<()> {
        match self.hs.store.membership(room_id, target).map_err(internal)?.as_deref() {
            Some(m @ ("join" | "invite" | "ban")) => {
                Err(MatrixError::forbidden(format!("{target} is already in the room ({m})")))
            }
            _ => Ok(()),
        }
    }
}

/// The content of an invite that a third-party invite stands for.
fn invite_content(display_name: String, signed: SignedThirdPartyInvite) -> Result<Value> {
    let mut content = RoomMemberEventContent::new(Membership::Invite);
    content.third_party_invite = Some(ThirdPartyInvite::new(display_name, signed));
    serde_json::to_value(content).map_err(internal)
}

fn parse<T: std::str::FromStr<Err = matrix_api::IdError>>(text: &str) -> Result<T> {
    text.parse().map_err(internal)
}
