//! Membership transitions: join (by ID or alias), invite, leave, kick, ban,
//! unban, forget. Each checks the transition is valid from the target's
//! current membership and that the sender's power level allows it.

use super::{id, internal, server_of, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{JoinRoomByIdResponse, JoinRoomResponse, JoinRoomRoomIdOrAlias};
use matrix_api::events::{RoomMemberEventContent, RoomMemberEventContentMembership as Membership};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

impl Homeserver {
    /// The content of an `m.room.member` event; joins carry the user's profile.
    pub(crate) fn member_content(
        &self,
        target: &str,
        membership: &str,
        reason: Option<String>,
    ) -> Result<RoomMemberEventContent> {
        let mut content = RoomMemberEventContent::new(Membership::from(membership));
        if membership == "join" {
            let profile = self.store.profile(target).map_err(internal)?;
            let text = |key: &str| profile.get(key).and_then(Value::as_str).map(str::to_owned);
            content.displayname = text("displayname").map(Some);
            content.avatar_url = text("avatar_url");
        }
        content.reason = reason;
        Ok(content)
    }

    /// Sends an `m.room.member` event.
    pub(super) fn set_membership(
        &self,
        room_id: &str,
        sender: &str,
        target: &str,
        membership: &str,
        reason: Option<String>,
    ) -> Result<String> {
        let content = self.member_content(target, membership, reason)?;
        if matches!(membership, "join" | "invite") {
            self.store.unforget(target, room_id).map_err(internal)?;
        }
        self.send_state(room_id, sender, target, &content)
    }

    /// The server of whoever invited the user to a room this server is
    /// not in (the invite was recorded outside the room).
    fn inviting_server(&self, room_id: &str, user_id: &str) -> Result<Option<String>> {
        let invite = self
            .store
            .state_event(room_id, "m.room.member", user_id)
            .map_err(internal)?
            .filter(|e| e.content["membership"] == "invite");
        Ok(invite.and_then(|e| server_of(&e.sender).map(str::to_owned)))
    }

    /// Joins (a no-op when joined already); whether the user may is the
    /// room rules' call (`auth`). A room not known here is joined through
    /// the servers named (`via`) and the one in its ID.
    async fn join(&self, room_id: &str, user_id: &str, reason: Option<String>, via: &[String]) -> Result<()> {
        if self.store.room_info(room_id).map_err(internal)?.is_none() {
            let mut servers = via.to_vec();
            servers.extend(self.inviting_server(room_id, user_id)?);
            servers.extend(server_of(room_id).map(str::to_owned));
            let federation = self.federation();
            let Some(federation) = federation else {
                return Err(MatrixError::not_found("Unknown room"));
            };
            let content = super::json_of(&self.member_content(user_id, "join", reason.clone())?)?;
            match federation.join_remote(room_id, user_id, content, &servers).await {
                // Another user here joined it meanwhile: the room is local now.
                Err(_) if self.store.room_info(room_id).map_err(internal)?.is_some() => {}
                outcome => return outcome,
            }
        }
        if self.membership(room_id, user_id)?.as_deref() != Some("join") {
            self.set_membership(room_id, user_id, user_id, "join", reason)?;
        }
        Ok(())
    }
}

fn empty() -> Map<String, Value> {
    Map::new()
}

pub(super) async fn join_by_id(
    hs: &Homeserver,
    request: cs::join_room_by_id::Request,
    credentials: Credentials,
) -> Result<cs::join_room_by_id::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.join(&room_id, &user_id, request.body.reason, &[]).await?;
    Ok(cs::join_room_by_id::Response::Ok(JoinRoomByIdResponse::new(id(
        &room_id,
    )?)))
}

pub(super) async fn join_by_id_or_alias(
    hs: &Homeserver,
    request: cs::join_room::Request,
    credentials: Credentials,
) -> Result<cs::join_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let mut via: Vec<String> = request.query.via.iter().flatten().map(|s| s.to_string()).collect();
    let room_id = match request.path.room_id_or_alias {
        JoinRoomRoomIdOrAlias::RoomAlias(alias) => {
            let (room_id, servers) = hs.room_of_alias(&alias).await?;
            via.extend(servers);
            room_id
        }
        JoinRoomRoomIdOrAlias::RoomId(room_id) => room_id.into_string(),
    };
    hs.join(&room_id, &user_id, request.body.reason, &via).await?;
    Ok(cs::join_room::Response::Ok(JoinRoomResponse::new(id(&room_id)?)))
}

pub(super) async fn invite(
    hs: &Homeserver,
    request: cs::invite_user::Request,
    credentials: Credentials,
) -> Result<cs::invite_user::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.room(&room_id)?;
    hs.invite_user(&room_id, &user_id, &request.body.user_id, request.body.reason)
        .await?;
    Ok(cs::invite_user::Response::Ok(empty()))
}

impl Homeserver {
    /// `sender` invites `target` to `room_id`: a user of another server
    /// through that server, which signs the invite first.
    pub(super) async fn invite_user(
        &self,
        room_id: &str,
        sender: &str,
        target: &str,
        reason: Option<String>,
    ) -> Result<()> {
        if server_of(target).is_some_and(|server| server != self.server_name) {
            let federation = self.federation();
            let federation = federation.ok_or_else(|| MatrixError::not_found("Unknown user"))?;
            let content = super::json_of(&self.member_content(target, "invite", reason)?)?;
            return federation.invite_remote(room_id, sender, target, content).await;
        }
        // A user of an application service's namespace that does not
        // exist yet: the service may make it.
        let mut exists = self.store.user_exists(target).map_err(internal)?;
        if !exists && crate::appservices::queries::user(self, target).await {
            exists = self.store.user_exists(target).map_err(internal)?;
        }
        if !exists {
            return Err(MatrixError::not_found("Unknown user"));
        }
        self.set_membership(room_id, sender, target, "invite", reason)?;
        Ok(())
    }
}

pub(super) async fn leave(
    hs: &Homeserver,
    request: cs::leave_room::Request,
    credentials: Credentials,
) -> Result<cs::leave_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    if hs.store.room_info(&room_id).map_err(internal)?.is_none() {
        // An invite to a room elsewhere is rejected there.
        let inviting = hs.inviting_server(&room_id, &user_id)?;
        let federation = hs.federation();
        let (Some(inviting), Some(federation)) = (inviting, federation) else {
            return Err(MatrixError::not_found("Unknown room"));
        };
        let mut servers = vec![inviting];
        servers.extend(server_of(&room_id).map(str::to_owned));
        federation.reject_remote_invite(&room_id, &user_id, &servers).await?;
        return Ok(cs::leave_room::Response::Ok(empty()));
    }
    match hs.membership(&room_id, &user_id)?.as_deref() {
        Some("join" | "invite" | "knock") => {
            hs.set_membership(&room_id, &user_id, &user_id, "leave", request.body.reason)?;
        }
        _ => return Err(MatrixError::forbidden("You are not in this room")),
    }
    Ok(cs::leave_room::Response::Ok(empty()))
}

pub(super) fn kick(
    hs: &Homeserver,
    request: cs::kick::Request,
    credentials: Credentials,
) -> Result<cs::kick::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let target = request.body.user_id;
    hs.require_joined(&room_id, &user_id)?;
    if !matches!(
        hs.membership(&room_id, &target)?.as_deref(),
        Some("join" | "invite" | "knock")
    ) {
        return Err(MatrixError::forbidden("The user is not in this room"));
    }
    hs.set_membership(&room_id, &user_id, &target, "leave", request.body.reason)?;
    Ok(cs::kick::Response::Ok(empty()))
}

pub(super) fn ban(hs: &Homeserver, request: cs::ban::Request, credentials: Credentials) -> Result<cs::ban::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let target = request.body.user_id;
    hs.room(&room_id)?;
    hs.set_membership(&room_id, &user_id, &target, "ban", request.body.reason)?;
    Ok(cs::ban::Response::Ok(empty()))
}

pub(super) fn unban(
    hs: &Homeserver,
    request: cs::unban::Request,
    credentials: Credentials,
) -> Result<cs::unban::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let target = request.body.user_id;
    hs.require_joined(&room_id, &user_id)?;
    if hs.membership(&room_id, &target)?.as_deref() != Some("ban") {
        return Err(MatrixError::forbidden("The user is not banned"));
    }
    hs.set_membership(&room_id, &user_id, &target, "leave", request.body.reason)?;
    Ok(cs::unban::Response::Ok(empty()))
}

pub(super) fn forget(
    hs: &Homeserver,
    request: cs::forget_room::Request,
    credentials: Credentials,
) -> Result<cs::forget_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.room(&room_id)?;
    match hs.membership(&room_id, &user_id)?.as_deref() {
        Some("join" | "invite" | "knock") => {
            return Err(MatrixError::new(
                400,
                ErrorCode::Unknown,
                "Leave the room before forgetting it",
            ));
        }
        Some(_) => hs.store.forget(&user_id, &room_id).map_err(internal)?,
        None => return Err(MatrixError::not_found("You were never in this room")),
    }
    Ok(cs::forget_room::Response::Ok(empty()))
}
