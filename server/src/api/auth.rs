//! The authorization rules of room versions 1–12, as the spec's room
//! version pages state them, applied to every event this server creates:
//! one function of (room version, current state, proposed event), not a
//! check per endpoint.
//!
//! Rule numbers below follow the rooms v8 text ("4.3.2" is rule 4, sub-rule
//! 3, step 2). The rules about `auth_events` and signatures (2, 3) are
//! checked where events arrive from other servers (`federation`); here the
//! state is the one the event is checked against. A third-party invite
//! (4.4.1) stands on the identity server's signature over `{mxid, token}`,
//! checked against the public keys of the room's `m.room.third_party_invite`
//! event with that token.

use super::content_in;
use super::power::{self, Action};
use crate::store::StoredEvent;
use matrix_api::events::{
    RoomCreateEventContent, RoomJoinRulesEventContent, RoomJoinRulesEventContentJoinRule as JoinRule,
    RoomMemberEventContent, RoomMemberEventContentMembership as Membership, RoomPowerLevelsEventContent as Levels,
};
use matrix_api::EventContent;
use serde_json::Value;
use std::collections::BTreeMap;

/// An event about to be appended.
pub(crate) struct Proposed<'a> {
    pub event_type: &'a str,
    pub state_key: Option<&'a str>,
    pub sender: &'a str,
    pub content: &'a Value,
}

/// Why the rules reject an event (becomes `403 M_FORBIDDEN`).
pub(crate) type Denied = String;

/// The room's current state, with what the rules read from it decoded once.
pub(crate) struct RoomState<'a> {
    version: u32,
    state: &'a [StoredEvent],
    has_create: bool,
    /// The create event's sender (or, before v11, its `creator`) first,
    /// then from v12 its `additional_creators`.
    creators: Vec<String>,
    levels: Option<Levels>,
}

impl<'a> RoomState<'a> {
    pub(crate) fn new(version: &str, state: &'a [StoredEvent]) -> Self {
        let version = version.parse().unwrap_or(1);
        let create = state
            .iter()
            .find(|e| e.event_type == RoomCreateEventContent::EVENT_TYPE && e.state_key.as_deref() == Some(""))
            .and_then(|e| e.content_as::<RoomCreateEventContent>().map(|c| (e, c)));
        let mut creators = Vec::new();
        if let Some((event, content)) = &create {
            creators.push(match &content.creator {
                Some(creator) if version < 11 => creator.to_string(),
                _ => event.sender.clone(),
            });
            if version >= 12 {
                creators.extend(content.additional_creators.iter().flatten().map(|u| u.to_string()));
            }
        }
        RoomState {
            version,
            state,
            has_create: create.is_some(),
            creators,
            levels: content_in(state, ""),
        }
    }

    fn membership(&self, user_id: &str) -> Option<Membership> {
        content_in::<RoomMemberEventContent>(self.state, user_id).map(|m| m.membership)
    }

    fn join_rule(&self) -> Option<JoinRule> {
        content_in::<RoomJoinRulesEventContent>(self.state, "").map(|r| r.join_rule)
    }

    fn is_creator(&self, user_id: &str) -> bool {
        self.creators.iter().any(|c| c == user_id)
    }

    /// A user's power level. From v12 creators are above every level;
    /// before it, without a power levels event, the creator has 100.
    pub(crate) fn level(&self, user_id: &str) -> i64 {
        if self.version >= 12 && self.is_creator(user_id) {
            return i64::MAX;
        }
        match &self.levels {
            Some(levels) => power::user_level(levels, user_id),
            None if self.creators.first().is_some_and(|c| c == user_id) => 100,
            None => 0,
        }
    }

    /// The room's power levels (the defaults when it has none).
    pub(super) fn levels(&self) -> Levels {
        self.levels.clone().unwrap_or_default()
    }

    fn action_level(&self, action: Action) -> i64 {
        action.level(self.levels.as_ref().unwrap_or(&Levels::default()))
    }

    /// The level needed to send an event of this type (rule 7).
    fn required_level(&self, event_type: &str, is_state: bool) -> i64 {
        match (&self.levels, is_state) {
            (Some(levels), true) => power::state_level(levels, event_type),
            (Some(levels), false) => power::message_level(levels, event_type),
            (None, _) => 0,
        }
    }
}

/// Whether the rules of the room's version allow `event` on `state`.
pub(crate) fn authorize(room: &RoomState<'_>, event: &Proposed<'_>) -> Result<(), Denied> {
    // 1. A create event starts a room: there can be only one.
    if event.event_type == RoomCreateEventContent::EVENT_TYPE {
        return match room.has_create {
            false => Ok(()),
            true => Err("the room already has a create event".into()),
        };
    }
    if !room.has_create {
        return Err("the room has no create event".into());
    }
    // 4. Membership.
    if event.event_type == RoomMemberEventContent::EVENT_TYPE {
        return membership(room, event);
    }
    // 5. Everything else needs the sender joined.
    if room.membership(event.sender) != Some(Membership::Join) {
        return Err("the sender is not joined to the room".into());
    }
    let sender_level = room.level(event.sender);
    // 6.
    if event.event_type == "m.room.third_party_invite" {
        return at_least(sender_level, room.action_level(Action::Invite), "invite");
    }
    // 7.
    let required = room.required_level(event.event_type, event.state_key.is_some());
    if required > sender_level {
        return Err(format!(
            "sending {} needs power level {required}, the sender has {sender_level}",
            event.event_type
        ));
    }
    // 8. State keyed by a user ID belongs to that user.
    if let Some(key) = event.state_key {
        if key.starts_with('@') && key != event.sender {
            return Err("a state key that is a user ID can only be set by that user".into());
        }
    }
    // 9.
    if event.event_type == Levels::EVENT_TYPE {
        return power_levels(room, event, sender_level);
    }
    // 10.
    Ok(())
}

/// Rule 4.4.1: an invite that an identity server's signed `{mxid, token}`
/// stands for, matched to the room's `m.room.third_party_invite` with that
/// token (the same rule in every room version).
fn third_party_invite(room: &RoomState<'_>, event: &Proposed<'_>, target: &str, invite: &Value) -> Result<(), Denied> {
    // 4.4.1.1
    if room.membership(target) == Some(Membership::Ban) {
        return Err("the invited user is banned from the room".into());
    }
    // 4.4.1.2
    let Some(signed) = invite.get("signed").filter(|s| s.is_object()) else {
        return Err("the third-party invite has no signed block".into());
    };
    // 4.4.1.3
    let (Some(mxid), Some(token)) = (signed["mxid"].as_str(), signed["token"].as_str()) else {
        return Err("the signed block lacks mxid or token".into());
    };
    // 4.4.1.4
    if mxid != target {
        return Err("the signed block names another user than the one invited".into());
    }
    // 4.4.1.5
    let pending = room
        .state
        .iter()
        .find(|e| e.event_type == "m.room.third_party_invite" && e.state_key.as_deref() == Some(token));
    let Some(pending) = pending else {
        return Err("no third-party invite in the room has this token".into());
    };
    // 4.4.1.6
    if pending.sender != event.sender {
        return Err("the third-party invite was sent by another user".into());
    }
    // 4.4.1.7: any signature by any of the invite's public keys.
    let content = &pending.content;
    let public_keys = std::iter::once(&content["public_key"])
        .chain(
            content["public_keys"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| &k["public_key"]),
        )
        .filter_map(Value::as_str)
        .filter_map(crate::federation::keys::verifying_key);
    let signatures = signed["signatures"].as_object().into_iter().flatten();
    let signers: Vec<(&String, &String)> = signatures
        .flat_map(|(server, keys)| {
            keys.as_object()
                .into_iter()
                .flatten()
                .map(move |(key_id, _)| (server, key_id))
        })
        .collect();
    for key in public_keys {
        let verifies = |(server, key_id): &(&String, &String)| {
            matrix_api_runtime::signing::verify_json(signed, server, key_id, &key).is_ok()
        };
        if signers.iter().any(verifies) {
            return Ok(());
        }
    }
    // 4.4.1.8
    Err("no signature of the signed block is by a public key of the third-party invite".into())
}

fn at_least(level: i64, needed: i64, what: &str) -> Result<(), Denied> {
    if level >= needed {
        Ok(())
    } else {
        Err(format!("{what} needs power level {needed}, the sender has {level}"))
    }
}

/// Rule 4: `m.room.member`.
fn membership(room: &RoomState<'_>, event: &Proposed<'_>) -> Result<(), Denied> {
    // 4.1
    let Some(target) = event.state_key else {
        return Err("a member event needs a state key".into());
    };
    // 4.4.1, read from the JSON as the rule reads it: the rule decides what
    // a third-party invite must hold, not the content's schema.
    if event.content["membership"] == "invite" {
        if let Some(invite) = event.content.get("third_party_invite") {
            return third_party_invite(room, event, target, invite);
        }
    }
    let content: RoomMemberEventContent = serde_json::from_value(event.content.clone())
        .map_err(|e| format!("the member event's content is not valid: {e}"))?;
    let sender_membership = room.membership(event.sender);
    let target_membership = room.membership(target);
    let sender_level = room.level(event.sender);
    let target_level = room.level(target);
    match content.membership {
        Membership::Join => {
            // 4.3.1: the creator's first join, right after the create event.
            let only_create = room.state.len() == 1;
            if only_create && room.creators.first().is_some_and(|c| c == target) && event.sender == target {
                return Ok(());
            }
            // 4.3.2
            if event.sender != target {
                return Err("a user can only join for themselves".into());
            }
            // 4.3.3
            if sender_membership == Some(Membership::Ban) {
                return Err("the user is banned from the room".into());
            }
            let invited_or_joined = matches!(sender_membership, Some(Membership::Invite | Membership::Join));
            match room.join_rule() {
                // 4.3.4
                Some(JoinRule::Invite) => invited_or_joined
                    .then_some(())
                    .ok_or_else(|| "the room is invite-only".into()),
                Some(JoinRule::Knock) if room.version >= 7 => invited_or_joined
                    .then_some(())
                    .ok_or_else(|| "the room is invite-only (knock to ask)".into()),
                // 4.3.5 (v8+; knock_restricted from v10)
                Some(JoinRule::Restricted) if room.version >= 8 => restricted_join(room, &content, invited_or_joined),
                Some(JoinRule::KnockRestricted) if room.version >= 10 => {
                    restricted_join(room, &content, invited_or_joined)
                }
                // 4.3.6
                Some(JoinRule::Public) => Ok(()),
                // 4.3.7
                _ => Err("the room's join rule does not allow joining".into()),
            }
        }
        Membership::Invite => {
            // 4.4.2 (4.4.1 is above)
            if sender_membership != Some(Membership::Join) {
                return Err("only a joined member can invite".into());
            }
            // 4.4.3
            if matches!(target_membership, Some(Membership::Join | Membership::Ban)) {
                return Err("the user is already joined or banned".into());
            }
            // 4.4.4
            at_least(sender_level, room.action_level(Action::Invite), "inviting")
        }
        Membership::Leave => {
            // 4.5.1
            if event.sender == target {
                let knock = room.version >= 7 && target_membership == Some(Membership::Knock);
                return (matches!(target_membership, Some(Membership::Invite | Membership::Join)) || knock)
                    .then_some(())
                    .ok_or_else(|| "there is no membership to leave".into());
            }
            // 4.5.2
            if sender_membership != Some(Membership::Join) {
                return Err("only a joined member can kick or unban".into());
            }
            // 4.5.3
            if target_membership == Some(Membership::Ban) && sender_level < room.action_level(Action::Ban) {
                return Err("unbanning needs the ban level".into());
            }
            // 4.5.4
            at_least(sender_level, room.action_level(Action::Kick), "kicking")?;
            outranks(sender_level, target_level, "kick")
        }
        Membership::Ban => {
            // 4.6.1
            if sender_membership != Some(Membership::Join) {
                return Err("only a joined member can ban".into());
            }
            // 4.6.2
            at_least(sender_level, room.action_level(Action::Ban), "banning")?;
            outranks(sender_level, target_level, "ban")
        }
        Membership::Knock if room.version >= 7 => {
            // 4.7.1
            if !matches!(room.join_rule(), Some(JoinRule::Knock | JoinRule::KnockRestricted)) {
                return Err("the room does not accept knocks".into());
            }
            // 4.7.2
            if event.sender != target {
                return Err("a user can only knock for themselves".into());
            }
            // 4.7.3
            match sender_membership {
                Some(Membership::Ban | Membership::Invite | Membership::Join) => {
                    Err("the user is banned, invited or joined already".into())
                }
                _ => Ok(()),
            }
        }
        // 4.8
        _ => Err("unknown membership".into()),
    }
}

fn outranks(sender_level: i64, target_level: i64, action: &str) -> Result<(), Denied> {
    if target_level < sender_level {
        Ok(())
    } else {
        Err(format!(
            "you cannot {action} a user whose power level is not below yours"
        ))
    }
}

/// 4.3.5: a restricted join needs an invite, or a joined user who may
/// invite vouching for it (`join_authorised_via_users_server`).
fn restricted_join(
    room: &RoomState<'_>,
    content: &RoomMemberEventContent,
    invited_or_joined: bool,
) -> Result<(), Denied> {
    if invited_or_joined {
        return Ok(());
    }
    let Some(authoriser) = &content.join_authorised_via_users_server else {
        return Err("a restricted room needs an invite or an authorising user".into());
    };
    let authoriser = authoriser.as_str();
    if room.membership(authoriser) == Some(Membership::Join)
        && room.level(authoriser) >= room.action_level(Action::Invite)
    {
        Ok(())
    } else {
        Err("the authorising user cannot invite".into())
    }
}

/// Rule 9: changes to `m.room.power_levels` stay within the sender's level.
fn power_levels(room: &RoomState<'_>, event: &Proposed<'_>, sender_level: i64) -> Result<(), Denied> {
    // 9.1 (integers only: room versions 10 and up forbid the strings that
    // earlier ones tolerated, and this server sends none).
    let new: Levels = serde_json::from_value(event.content.clone())
        .map_err(|e| format!("power levels must be integers keyed by user ID: {e}"))?;
    let new_users = new.users.clone().unwrap_or_default();
    // Room version 12: creators are above every level and not listed.
    if room.version >= 12 {
        if let Some(creator) = room.creators.iter().find(|c| new_users.contains_key(c.as_str())) {
            return Err(format!(
                "{creator} is a creator of the room and cannot be given a power level"
            ));
        }
    }
    // 9.2
    let Some(old) = &room.levels else {
        return Ok(());
    };
    let too_high = |value: i64| value > sender_level;
    // 9.3
    let fields = |l: &Levels| {
        [
            ("users_default", l.users_default),
            ("events_default", l.events_default),
            ("state_default", l.state_default),
            ("ban", l.ban),
            ("redact", l.redact),
            ("kick", l.kick),
            ("invite", l.invite),
        ]
    };
    for ((name, before), (_, after)) in fields(old).into_iter().zip(fields(&new)) {
        if before != after && (before.is_some_and(too_high) || after.is_some_and(too_high)) {
            return Err(format!("changing `{name}` needs a power level above both its values"));
        }
    }
    // 9.4, 9.5
    let empty = BTreeMap::new();
    let map_changes = |before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>, what: &str| {
        for key in before.keys().chain(after.keys()) {
            let (b, a) = (before.get(key), after.get(key));
            if b != a && (b.copied().is_some_and(too_high) || a.copied().is_some_and(too_high)) {
                return Err(format!(
                    "changing `{what}.{key}` needs a power level above both its values"
                ));
            }
        }
        Ok(())
    };
    map_changes(
        old.events.as_ref().unwrap_or(&empty),
        new.events.as_ref().unwrap_or(&empty),
        "events",
    )?;
    let notifications = |l: &Levels| {
        l.notifications
            .as_ref()
            .and_then(|n| n.room)
            .map(|r| ("room".to_owned(), r))
    };
    let (old_n, new_n): (BTreeMap<_, _>, BTreeMap<_, _>) = (
        notifications(old).into_iter().collect(),
        notifications(&new).into_iter().collect(),
    );
    map_changes(&old_n, &new_n, "notifications")?;
    // 9.6, 9.7
    let old_users = old.users.clone().unwrap_or_default();
    for user in old_users.keys().chain(new_users.keys()) {
        let (before, after) = (old_users.get(user).copied(), new_users.get(user).copied());
        if before == after {
            continue;
        }
        if user.as_str() != event.sender && before.is_some_and(|b| b >= sender_level) {
            return Err(format!(
                "{user} has a power level not below yours: you cannot change it"
            ));
        }
        if after.is_some_and(too_high) {
            return Err(format!("you cannot give {user} a power level above your own"));
        }
    }
    // 9.8
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(stream: i64, t: &str, key: &str, sender: &str, content: Value) -> StoredEvent {
        StoredEvent::unstored(stream, t, Some(key), sender, content)
    }

    /// A v11 room: @a created it (100), @m is a moderator (50), @u a user.
    fn room() -> Vec<StoredEvent> {
        vec![
            event(1, "m.room.create", "", "@a:hs", json!({ "room_version": "11" })),
            event(2, "m.room.member", "@a:hs", "@a:hs", json!({ "membership": "join" })),
            event(
                3,
                "m.room.power_levels",
                "",
                "@a:hs",
                json!({ "users": { "@a:hs": 100, "@m:hs": 50, "@b:hs": 100 }, "events": { "m.room.power_levels": 50 } }),
            ),
            event(4, "m.room.join_rules", "", "@a:hs", json!({ "join_rule": "invite" })),
            event(5, "m.room.member", "@m:hs", "@m:hs", json!({ "membership": "join" })),
            event(6, "m.room.member", "@b:hs", "@b:hs", json!({ "membership": "join" })),
        ]
    }

    fn check(
        version: &str,
        state: &[StoredEvent],
        t: &str,
        key: Option<&str>,
        sender: &str,
        content: Value,
    ) -> Result<(), Denied> {
        let room = RoomState::new(version, state);
        authorize(
            &room,
            &Proposed {
                event_type: t,
                state_key: key,
                sender,
                content: &content,
            },
        )
    }

    #[test]
    fn power_level_changes_stay_below_the_sender() {
        let state = room();
        let set_levels = |sender: &str, users: Value| {
            let levels = json!({ "users": users, "events": { "m.room.power_levels": 50 } });
            check("11", &state, "m.room.power_levels", Some(""), sender, levels)
        };
        // A moderator raises himself above his level, or lowers a higher user.
        assert!(set_levels("@m:hs", json!({ "@a:hs": 100, "@m:hs": 100, "@b:hs": 100 })).is_err());
        assert!(set_levels("@m:hs", json!({ "@a:hs": 0, "@m:hs": 50, "@b:hs": 100 })).is_err());
        // An admin demotes another admin of equal level: rule 9.6.
        assert!(set_levels("@a:hs", json!({ "@a:hs": 100, "@m:hs": 50, "@b:hs": 0 })).is_err());
        // An admin promotes a moderator to his own level; a moderator lowers himself.
        assert!(set_levels("@a:hs", json!({ "@a:hs": 100, "@m:hs": 100, "@b:hs": 100 })).is_ok());
        assert!(set_levels("@m:hs", json!({ "@a:hs": 100, "@m:hs": 10, "@b:hs": 100 })).is_ok());
        // Strings and non-integers are refused.
        assert!(set_levels("@a:hs", json!({ "@a:hs": "100" })).is_err());
    }

    #[test]
    fn joins_follow_the_join_rule_and_only_one_create() {
        let state = room();
        assert!(check(
            "11",
            &state,
            "m.room.member",
            Some("@x:hs"),
            "@x:hs",
            json!({ "membership": "join" })
        )
        .is_err());
        assert!(check(
            "11",
            &state,
            "m.room.member",
            Some("@x:hs"),
            "@a:hs",
            json!({ "membership": "join" })
        )
        .is_err());
        assert!(check(
            "11",
            &state,
            "m.room.member",
            Some("@x:hs"),
            "@a:hs",
            json!({ "membership": "invite" })
        )
        .is_ok());
        assert!(check(
            "11",
            &state,
            "m.room.create",
            Some(""),
            "@a:hs",
            json!({ "room_version": "11" })
        )
        .is_err());
        // Kicking needs a level above the target's.
        assert!(check(
            "11",
            &state,
            "m.room.member",
            Some("@a:hs"),
            "@m:hs",
            json!({ "membership": "leave" })
        )
        .is_err());
        assert!(check(
            "11",
            &state,
            "m.room.member",
            Some("@m:hs"),
            "@a:hs",
            json!({ "membership": "ban" })
        )
        .is_ok());
    }

    #[test]
    fn room_version_12_creators_outrank_everyone_and_are_not_listed() {
        let mut state = room();
        state[0].content = json!({ "room_version": "12" });
        let levels = json!({ "users": { "@a:hs": 100 } });
        assert!(check("12", &state, "m.room.power_levels", Some(""), "@a:hs", levels).is_err());
        assert!(check(
            "12",
            &state,
            "m.room.member",
            Some("@b:hs"),
            "@a:hs",
            json!({ "membership": "ban" })
        )
        .is_ok());
    }

    /// The identity server's key, and a signed block for `mxid` and `token`.
    fn identity_key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[9; 32])
    }

    fn signed(mxid: &str, token: &str, key: &ed25519_dalek::SigningKey) -> Value {
        let mut signed = json!({ "mxid": mxid, "token": token });
        matrix_api_runtime::signing::sign_json(&mut signed, "id.example", "ed25519:0", key);
        signed
    }

    fn public_key(key: &ed25519_dalek::SigningKey) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(key.verifying_key().as_bytes())
    }

    #[test]
    fn a_third_party_invite_needs_the_identity_servers_signature_on_the_token() {
        let key = identity_key();
        let mut state = room();
        state.push(event(
            7,
            "m.room.third_party_invite",
            "tok",
            "@a:hs",
            json!({ "display_name": "c...@example.org", "key_validity_url": "https://id.example/v", "public_key": public_key(&key) }),
        ));
        let invite = |sender: &str, target: &str, signed: Value| {
            let content =
                json!({ "membership": "invite", "third_party_invite": { "display_name": "c", "signed": signed } });
            check("11", &state, "m.room.member", Some(target), sender, content)
        };
        assert_eq!(invite("@a:hs", "@c:hs", signed("@c:hs", "tok", &key)), Ok(()));

        let refused = |result: Result<(), Denied>, why: &str| {
            let error = result.expect_err(why);
            assert!(error.contains(why), "{error}");
        };
        refused(invite("@a:hs", "@c:hs", json!("no object")), "no signed block");
        refused(
            invite("@a:hs", "@c:hs", json!({ "token": "tok" })),
            "lacks mxid or token",
        );
        refused(invite("@a:hs", "@d:hs", signed("@c:hs", "tok", &key)), "another user");
        refused(
            invite("@a:hs", "@c:hs", signed("@c:hs", "other", &key)),
            "has this token",
        );
        refused(
            invite("@m:hs", "@c:hs", signed("@c:hs", "tok", &key)),
            "sent by another user",
        );
        let forger = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        refused(
            invite("@a:hs", "@c:hs", signed("@c:hs", "tok", &forger)),
            "no signature",
        );
        let mut tampered = signed("@d:hs", "tok", &key);
        tampered["mxid"] = json!("@c:hs");
        refused(invite("@a:hs", "@c:hs", tampered), "no signature");

        // A banned target is refused whatever was signed.
        state.push(event(
            8,
            "m.room.member",
            "@c:hs",
            "@a:hs",
            json!({ "membership": "ban" }),
        ));
        let content = json!({ "membership": "invite", "third_party_invite": { "display_name": "c", "signed": signed("@c:hs", "tok", &key) } });
        let result = check("11", &state, "m.room.member", Some("@c:hs"), "@a:hs", content);
        assert!(result.unwrap_err().contains("banned"));
    }

    #[test]
    fn any_of_the_third_party_invites_public_keys_may_have_signed() {
        let (old, new) = (identity_key(), ed25519_dalek::SigningKey::from_bytes(&[5; 32]));
        let mut state = room();
        state.push(event(
            7,
            "m.room.third_party_invite",
            "tok",
            "@a:hs",
            json!({
                "display_name": "c", "key_validity_url": "https://id.example/v", "public_key": public_key(&old),
                "public_keys": [{ "public_key": public_key(&new), "key_validity_url": "https://id.example/e" }]
            }),
        ));
        let content = json!({ "membership": "invite", "third_party_invite": { "display_name": "c", "signed": signed("@c:hs", "tok", &new) } });
        assert_eq!(
            check("9", &state, "m.room.member", Some("@c:hs"), "@a:hs", content),
            Ok(())
        );
    }
}
