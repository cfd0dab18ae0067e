//! Membership transitions: join (by ID or alias), invite, leave, kick, ban,
//! unban, forget. Each checks the transition is valid from the target's
//! current membership and that the sender's power level allows it.

use super::power::Action;
use super::{id, internal, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{JoinRoomByIdResponse, JoinRoomResponse, JoinRoomRoomIdOrAlias};
use matrix_api::events::{
    RoomJoinRulesEventContent, RoomJoinRulesEventContentJoinRule as JoinRule, RoomMemberEventContent,
    RoomMemberEventContentMembership as Membership,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

impl Homeserver {
    /// Sends an `m.room.member` event; joins carry the user's profile.
    pub(super) fn set_membership(
        &self,
        room_id: &str,
        sender: &str,
        target: &str,
        membership: &str,
        reason: Option<String>,
    ) -> Result<String> {
        let mut content = RoomMemberEventContent::new(Membership::from(membership));
        if membership == "join" {
            let profile = self.store.profile(target).map_err(internal)?;
            let text = |key: &str| profile.get(key).and_then(Value::as_str).map(str::to_owned);
            content.displayname = text("displayname").map(Some);
            content.avatar_url = text("avatar_url");
        }
        content.reason = reason;
        if matches!(membership, "join" | "invite") {
            self.store.unforget(target, room_id).map_err(internal)?;
        }
        self.send_state(room_id, sender, target, &content)
    }

    /// Joins if invited, already joined, or the room is public.
    fn join(&self, room_id: &str, user_id: &str, reason: Option<String>) -> Result<()> {
        self.room(room_id)?;
        let rule: Option<RoomJoinRulesEventContent> = self.state_content(room_id, "")?;
        let public = rule.is_some_and(|r| r.join_rule == JoinRule::Public);
        match self.membership(room_id, user_id)?.as_deref() {
            Some("join") => {}
            Some("ban") => return Err(MatrixError::forbidden("You are banned from this room")),
            Some("invite") => {
                self.set_membership(room_id, user_id, user_id, "join", reason)?;
            }
            _ if public => {
                self.set_membership(room_id, user_id, user_id, "join", reason)?;
            }
            _ => return Err(MatrixError::forbidden("You are not invited to this room")),
        }
        Ok(())
    }

    /// Kick and ban need the level for the action and a level above the target's.
    fn require_outranks(&self, room_id: &str, sender: &str, target: &str, action: Action) -> Result<()> {
        let level = self.require_level(room_id, sender, |l| action.level(l))?;
        let (target_level, _) = self.power_level(room_id, target)?;
        if level > target_level || sender == target && matches!(action, Action::Kick) {
            Ok(())
        } else {
            Err(MatrixError::forbidden(format!(
                "You cannot {} a user with a power level of yours or higher",
                action.name()
            )))
        }
    }
}

fn empty() -> Map<String, Value> {
    Map::new()
}

pub(super) fn join_by_id(
    hs: &Homeserver,
    request: cs::join_room_by_id::Request,
    credentials: Credentials,
) -> Result<cs::join_room_by_id::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.join(&room_id, &user_id, request.body.reason)?;
    Ok(cs::join_room_by_id::Response::Ok(JoinRoomByIdResponse::new(id(
        &room_id,
    )?)))
}

pub(super) fn join_by_id_or_alias(
    hs: &Homeserver,
    request: cs::join_room::Request,
    credentials: Credentials,
) -> Result<cs::join_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = match request.path.room_id_or_alias {
        JoinRoomRoomIdOrAlias::RoomAlias(alias) => {
            hs.store
                .alias(&alias)
                .map_err(internal)?
                .ok_or_else(|| MatrixError::not_found("Room alias not found"))?
                .0
        }
        JoinRoomRoomIdOrAlias::RoomId(room_id) => room_id.into_string(),
    };
    hs.join(&room_id, &user_id, request.body.reason)?;
    Ok(cs::join_room::Response::Ok(JoinRoomResponse::new(id(&room_id)?)))
}

pub(super) fn invite(
    hs: &Homeserver,
    request: cs::invite_user::Request,
    credentials: Credentials,
) -> Result<cs::invite_user::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    hs.require_level(&room_id, &user_id, |l| Action::Invite.level(l))?;
    let target = request.body.user_id;
    if !hs.store.user_exists(&target).map_err(internal)? {
        return Err(MatrixError::not_found("Unknown user"));
    }
    match hs.membership(&room_id, &target)?.as_deref() {
        Some("join") => return Err(MatrixError::forbidden("User is already in the room")),
        Some("ban") => return Err(MatrixError::forbidden("User is banned")),
        _ => {}
    }
    hs.set_membership(&room_id, &user_id, &target, "invite", request.body.reason)?;
    Ok(cs::invite_user::Response::Ok(empty()))
}

pub(super) fn leave(
    hs: &Homeserver,
    request: cs::leave_room::Request,
    credentials: Credentials,
) -> Result<cs::leave_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.room(&room_id)?;
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
    hs.require_outranks(&room_id, &user_id, &target, Action::Kick)?;
    hs.set_membership(&room_id, &user_id, &target, "leave", request.body.reason)?;
    Ok(cs::kick::Response::Ok(empty()))
}

pub(super) fn ban(hs: &Homeserver, request: cs::ban::Request, credentials: Credentials) -> Result<cs::ban::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let target = request.body.user_id;
    hs.require_joined(&room_id, &user_id)?;
    hs.require_outranks(&room_id, &user_id, &target, Action::Ban)?;
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
    hs.require_level(&room_id, &user_id, |l| Action::Ban.level(l))?;
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
