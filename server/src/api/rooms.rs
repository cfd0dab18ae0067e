//! Rooms: creation, state, sending and redacting events, history
//! (`/messages`, `/context`, single events) and member lists.

use super::auth;
use super::events::{client_event, room_event};
use super::filter::EventFilter;
use super::power::Action;
use super::sync::stream_position;
use super::visibility::Visible;
use super::{id, internal, json_of, object, Homeserver, Result, DEFAULT_ROOM_VERSION, ROOM_VERSIONS};
use crate::federation::build::Draft;
use crate::store::StoredEvent;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    CreateRoomRequestPreset, CreateRoomRequestVisibility, CreateRoomResponse, GetEventContextResponse,
    GetJoinedMembersByRoomResponse, GetJoinedRoomsResponse, GetMembersByRoomResponse, GetRoomEventsResponse,
    GetRoomStateWithKeyResponse, RedactEventResponse, RoomMember, SendMessageResponse, SetRoomStateWithKeyResponse,
};
use matrix_api::events::{
    RoomCanonicalAliasEventContent, RoomCreateEventContent, RoomHistoryVisibilityEventContent,
    RoomHistoryVisibilityEventContentHistoryVisibility as HistoryVisibility, RoomJoinRulesEventContent,
    RoomJoinRulesEventContentJoinRule as JoinRule, RoomMemberEventContent, RoomNameEventContent,
    RoomPowerLevelsEventContent, RoomRedactionEventContent, RoomTopicEventContent, StateEvent, SyncRoomEventUnsigned,
};
use matrix_api::{EventContent, RoomAlias, UserId};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A `filter` query parameter: JSON, or absent.
fn query_filter(filter: Option<&str>) -> Result<Value> {
    match filter {
        None => Ok(Value::Null),
        Some(f) => {
            let filter = serde_json::from_str(f).map_err(|e| MatrixError::invalid_param(format!("filter: {e}")))?;
            super::filter::validate(&filter).map_err(MatrixError::invalid_param)?;
            Ok(filter)
        }
    }
}

pub(super) async fn create_room(
    hs: &Homeserver,
    request: cs::create_room::Request,
    credentials: Credentials,
) -> Result<cs::create_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    // Everything that can be wrong is checked before anything is stored.
    let version = body
        .room_version
        .clone()
        .unwrap_or_else(|| DEFAULT_ROOM_VERSION.to_owned());
    if !ROOM_VERSIONS.contains(&version.as_str()) {
        return Err(MatrixError::new(
            400,
            ErrorCode::UnsupportedRoomVersion,
            format!("Room version {version} is not supported"),
        ));
    }
    let invitees: Vec<UserId> = body.invite.clone().unwrap_or_default();
    let alias = match body.room_alias_name.as_deref() {
        Some(name) if name.is_empty() || name.contains([':', '#']) => {
            return Err(MatrixError::new(
                400,
                ErrorCode::InvalidParam,
                "Invalid room_alias_name",
            ));
        }
        Some(name) => {
            let alias: RoomAlias = format!("#{name}:{}", hs.server_name)
                .parse()
                .map_err(|e| MatrixError::invalid_param(format!("room_alias_name: {e}")))?;
            super::directory::alias_text(alias.as_str())?;
            hs.may_claim_alias(&user_id, alias.as_str())?;
            if hs.store.alias(alias.as_str()).map_err(internal)?.is_some() {
                return Err(MatrixError::new(400, ErrorCode::RoomInUse, "Room alias already taken"));
            }
            Some(alias)
        }
        None => None,
    };
    let preset = body.preset.clone().unwrap_or(match body.visibility {
        Some(CreateRoomRequestVisibility::Public) => CreateRoomRequestPreset::PublicChat,
        _ => CreateRoomRequestPreset::PrivateChat,
    });
    let levels = initial_power_levels(
        &user_id,
        &version,
        &preset,
        &invitees,
        body.power_level_content_override,
    )?;
    // `creation_content` is free-form in the spec: what it does not type is
    // kept as sent.
    let mut create: RoomCreateEventContent =
        serde_json::from_value(Value::Object(body.creation_content.unwrap_or_default()))
            .map_err(|e| MatrixError::new(400, ErrorCode::BadJson, format!("creation_content: {e}")))?;
    create.room_version = Some(version.clone());
    if version.parse::<u32>().is_ok_and(|v| v < 11) {
        create.creator = Some(id(&user_id)?);
    }
    let create = json_of(&create)?;

    // Every event of the new room, in order: checked against the room rules
    // as a whole before any is stored, so a refused request leaves nothing.
    let mut plan: Vec<(&str, String, Value)> = vec![
        (RoomCreateEventContent::EVENT_TYPE, String::new(), create.clone()),
        (
            RoomMemberEventContent::EVENT_TYPE,
            user_id.clone(),
            json_of(&hs.member_content(&user_id, "join", None)?)?,
        ),
        (
            RoomPowerLevelsEventContent::EVENT_TYPE,
            String::new(),
            json_of(&levels)?,
        ),
    ];
    if let Some(alias) = &alias {
        let content = RoomCanonicalAliasEventContent {
            alias: Some(alias.clone()),
            ..RoomCanonicalAliasEventContent::default()
        };
        plan.push((
            RoomCanonicalAliasEventContent::EVENT_TYPE,
            String::new(),
            json_of(&content)?,
        ));
    }
    let join_rule = match preset {
        CreateRoomRequestPreset::PublicChat => JoinRule::Public,
        _ => JoinRule::Invite,
    };
    let join_rule = json_of(&RoomJoinRulesEventContent::new(join_rule))?;
    plan.push((RoomJoinRulesEventContent::EVENT_TYPE, String::new(), join_rule));
    let visibility = json_of(&RoomHistoryVisibilityEventContent::new(HistoryVisibility::Shared))?;
    plan.push((RoomHistoryVisibilityEventContent::EVENT_TYPE, String::new(), visibility));
    let initial_state = body.initial_state.unwrap_or_default();
    // Free-form in the spec: any state event, its content as sent (the
    // rules below refuse a second create event or someone else's join).
    for event in &initial_state {
        let key = event.state_key.clone().unwrap_or_default();
        plan.push((event.r#type.as_str(), key, Value::Object(event.content.clone())));
    }
    if let Some(name) = body.name {
        plan.push((
            RoomNameEventContent::EVENT_TYPE,
            String::new(),
            json_of(&RoomNameEventContent::new(name))?,
        ));
    }
    if let Some(topic) = body.topic {
        let topic = json_of(&RoomTopicEventContent::new(topic))?;
        plan.push((RoomTopicEventContent::EVENT_TYPE, String::new(), topic));
    }
    // Users of other servers are invited once the room exists: their
    // server signs the invite first (`federation::invite_remote`).
    let (invitees, remote_invitees): (Vec<&UserId>, Vec<&UserId>) = invitees
        .iter()
        .partition(|u| super::server_of(u.as_str()).is_none_or(|server| server == hs.server_name));
    for invitee in &invitees {
        // A user of an application service's namespace that does not
        // exist yet: the service may make it before it is invited.
        if !hs.store.user_exists(invitee.as_str()).map_err(internal)? {
            crate::appservices::queries::user(hs, invitee.as_str()).await;
        }
        let content = json_of(&hs.member_content(invitee.as_str(), "invite", None)?)?;
        plan.push((RoomMemberEventContent::EVENT_TYPE, invitee.to_string(), content));
    }
    // From v12 the room ID is the create event's reference hash: that
    // event is built (and signed) before the room exists.
    let (room_id, mut create_event) = if super::events::room_id_is_create_hash(&version) {
        let draft = Draft {
            room_id: None,
            sender: &user_id,
            event_type: RoomCreateEventContent::EVENT_TYPE,
            state_key: Some(""),
            content: &create,
            origin_server_ts: super::now_ms(),
        };
        let built =
            crate::federation::build::build(&version, &hs.identity, &draft, &[], &[], |_| None).map_err(internal)?;
        (format!("!{}", &built.event_id[1..]), Some(built))
    } else {
        (format!("!{}:{}", super::random_id(18), hs.server_name), None)
    };
    dry_run(&version, &room_id, &user_id, &plan)?;

    hs.store.create_room(&room_id, &user_id, &version).map_err(internal)?;
    for (event_type, key, content) in plan {
        let prebuilt = create_event.take();
        hs.append_event(prebuilt, &room_id, &user_id, event_type, Some(&key), content, None)?;
    }
    for invitee in &invitees {
        hs.store.unforget(invitee.as_str(), &room_id).map_err(internal)?;
    }
    if let Some(alias) = &alias {
        hs.store
            .add_alias(alias.as_str(), &room_id, &user_id)
            .map_err(internal)?;
    }
    if body.visibility == Some(CreateRoomRequestVisibility::Public) {
        hs.store.set_published(&room_id, true).map_err(internal)?;
    }
    let federation = hs.federation();
    for invitee in remote_invitees {
        let Some(federation) = &federation else { break };
        let content = json_of(&hs.member_content(invitee.as_str(), "invite", None)?)?;
        // The room exists now: an invite another server refuses does not
        // undo it (the creator can invite again).
        if let Err(e) = federation
            .invite_remote(&room_id, &user_id, invitee.as_str(), content)
            .await
        {
            tracing::info!(%room_id, invitee = %invitee, "createRoom's invite failed: {}", e.body.error);
        }
    }
    Ok(cs::create_room::Response::Ok(CreateRoomResponse::new(id(&room_id)?)))
}

/// Checks the events of a new room against the room rules, each on the
/// state the ones before it make, storing nothing.
fn dry_run(version: &str, room_id: &str, creator: &str, plan: &[(&str, String, Value)]) -> Result<()> {
    let mut state: Vec<StoredEvent> = Vec::new();
    for (stream, (event_type, key, content)) in plan.iter().enumerate() {
        // The size limits too, with an event ID as long as the room version
        // makes them (44 bytes: `$` and 43 characters of unpadded base64).
        super::limits::check(&super::limits::Parts {
            room_version: version,
            event_id: &format!("${}", "A".repeat(43)),
            room_id,
            sender: creator,
            event_type,
            state_key: Some(key),
            content,
            origin_server_ts: super::now_ms(),
        })?;
        let proposed = auth::Proposed {
            event_type,
            state_key: Some(key),
            sender: creator,
            content,
        };
        auth::authorize(&auth::RoomState::new(version, &state), &proposed)
            .map_err(|why| MatrixError::forbidden(format!("{event_type} ({key:?}): {why}")))?;
        state.retain(|e| !(e.event_type == *event_type && e.state_key.as_deref() == Some(key)));
        state.push(StoredEvent::unstored(
            stream as i64,
            event_type,
            Some(key),
            creator,
            content.clone(),
        ));
    }
    Ok(())
}

/// The power levels of a new room: the creator at 100 (before room version
/// 12, where creators outrank every level), trusted invitees too, the
/// spec's defaults for the rest, then the request's overrides.
fn initial_power_levels(
    creator: &str,
    version: &str,
    preset: &CreateRoomRequestPreset,
    invitees: &[UserId],
    overrides: Option<Map<String, Value>>,
) -> Result<RoomPowerLevelsEventContent> {
    let mut users = BTreeMap::new();
    if !super::events::creators_are_privileged(version) {
        users.insert(id(creator)?, 100);
    }
    if *preset == CreateRoomRequestPreset::TrustedPrivateChat {
        for invitee in invitees {
            users.insert(invitee.clone(), 100);
        }
    }
    let events = [
        ("m.room.name", 50),
        ("m.room.power_levels", 100),
        ("m.room.history_visibility", 100),
        ("m.room.canonical_alias", 50),
        ("m.room.avatar", 50),
        ("m.room.tombstone", 100),
        ("m.room.server_acl", 100),
        ("m.room.encryption", 100),
    ];
    let levels = RoomPowerLevelsEventContent {
        users: Some(users),
        users_default: Some(0),
        events_default: Some(0),
        state_default: Some(50),
        ban: Some(50),
        kick: Some(50),
        redact: Some(50),
        invite: Some(0),
        events: Some(events.iter().map(|(t, l)| ((*t).to_owned(), *l)).collect()),
        ..RoomPowerLevelsEventContent::default()
    };
    let Some(overrides) = overrides else {
        return Ok(levels);
    };
    // The override replaces whole top-level keys, and must still be power levels.
    let Value::Object(mut merged) = json_of(&levels)? else {
        return Err(internal("power levels are not an object"));
    };
    merged.extend(overrides);
    serde_json::from_value(Value::Object(merged))
        .map_err(|e| MatrixError::new(400, ErrorCode::BadJson, format!("power_level_content_override: {e}")))
}

pub(super) fn send_message(
    hs: &Homeserver,
    request: cs::send_message::Request,
    credentials: Credentials,
) -> Result<cs::send_message::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let p = request.path;
    // Transaction IDs are scoped to the device and the endpoint.
    let txn_key = format!("send\u{1f}{user_id}\u{1f}{device_id}\u{1f}{}", p.txn_id);
    if p.event_type == RoomRedactionEventContent::EVENT_TYPE {
        // A redaction sent as a plain event is still a redaction: checked and applied.
        let content = Value::Object(request.body);
        let redacts = <RoomRedactionEventContent as serde::Deserialize>::deserialize(&content)
            .ok()
            .and_then(|c| c.redacts)
            .ok_or_else(|| MatrixError::new(400, ErrorCode::BadJson, "a redaction needs `redacts`: an event ID"))?;
        let event_id = send_redaction(hs, &p.room_id, &user_id, redacts.as_str(), content, &txn_key)?;
        return Ok(cs::send_message::Response::Ok(SendMessageResponse::new(id(&event_id)?)));
    }
    let event_id = hs.send_event(
        &p.room_id,
        &user_id,
        &p.event_type,
        None,
        Value::Object(request.body),
        Some(&txn_key),
    )?;
    Ok(cs::send_message::Response::Ok(SendMessageResponse::new(id(&event_id)?)))
}

pub(super) fn set_state(
    hs: &Homeserver,
    request: cs::set_room_state_with_key::Request,
    credentials: Credentials,
) -> Result<cs::set_room_state_with_key::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    hs.require_joined(&p.room_id, &user_id)?;
    if p.event_type == "m.room.member" || p.event_type == "m.room.create" {
        return Err(MatrixError::forbidden(format!(
            "{} is changed through its own endpoints",
            p.event_type
        )));
    }
    let event_id = hs.send_event(
        &p.room_id,
        &user_id,
        &p.event_type,
        Some(&p.state_key),
        Value::Object(request.body),
        None,
    )?;
    Ok(cs::set_room_state_with_key::Response::Ok(
        SetRoomStateWithKeyResponse::new(id(&event_id)?),
    ))
}

/// The room state a user may read: the current state while joined (or
/// when the room is `world_readable`), the state as it was when they left
/// for a former member (the spec's rule for `/state` and `/members`), and
/// nothing for anyone else (`403`).
fn readable_state(hs: &Homeserver, room_id: &str, user_id: &str) -> Result<Vec<StoredEvent>> {
    hs.room(room_id)?;
    let current = hs.store.current_state(room_id).map_err(internal)?;
    let own = current
        .iter()
        .find(|e| e.event_type == "m.room.member" && e.state_key.as_deref() == Some(user_id));
    let membership = own.and_then(|e| e.content["membership"].as_str());
    let world_readable = current
        .iter()
        .any(|e| e.event_type == "m.room.history_visibility" && e.content["history_visibility"] == "world_readable");
    if membership == Some("join") || world_readable {
        return Ok(current);
    }
    if let (Some(left), Some("leave" | "ban")) = (own, membership) {
        let before = hs
            .store
            .events_between(room_id, i64::MIN, left.stream)
            .map_err(internal)?;
        let was_member = before.iter().any(|e| {
            e.event_type == "m.room.member"
                && e.state_key.as_deref() == Some(user_id)
                && e.content["membership"] == "join"
        });
        if was_member {
            return Ok(state_of(before));
        }
    }
    Err(MatrixError::forbidden(
        "You are not a member of this room and never were",
    ))
}

/// The state an event history ends in: the last event of each state key.
fn state_of(events: Vec<StoredEvent>) -> Vec<StoredEvent> {
    let mut state: BTreeMap<(String, String), StoredEvent> = BTreeMap::new();
    for e in events {
        if let Some(key) = e.state_key.clone() {
            state.insert((e.event_type.clone(), key), e);
        }
    }
    let mut state: Vec<StoredEvent> = state.into_values().collect();
    state.sort_by_key(|e| e.stream);
    state
}

pub(super) fn get_state_event(
    hs: &Homeserver,
    request: cs::get_room_state_with_key::Request,
    credentials: Credentials,
) -> Result<cs::get_room_state_with_key::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    let event = readable_state(hs, &p.room_id, &user_id)?
        .into_iter()
        .find(|e| e.event_type == p.event_type && e.state_key.as_deref() == Some(p.state_key.as_str()))
        .ok_or_else(|| MatrixError::not_found("Event not found"))?;
    let response = if request.query.format.as_ref().is_some_and(|f| f.as_str() == "event") {
        let e = client_event(&event)?;
        let mut state = StateEvent::new(
            e.content,
            e.r#type,
            e.event_id,
            e.sender,
            e.origin_server_ts,
            e.room_id,
            e.state_key.unwrap_or_default(),
        );
        state.unsigned = e
            .unsigned
            .and_then(|u| u.redacted_because)
            .map(|because| SyncRoomEventUnsigned {
                redacted_because: Some(because),
                ..SyncRoomEventUnsigned::default()
            });
        GetRoomStateWithKeyResponse::StateEvent(state)
    } else {
        GetRoomStateWithKeyResponse::Object(object(&event.content))
    };
    Ok(cs::get_room_state_with_key::Response::Ok(response))
}

pub(super) fn get_state(
    hs: &Homeserver,
    request: cs::get_room_state::Request,
    credentials: Credentials,
) -> Result<cs::get_room_state::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let state = readable_state(hs, &room_id, &user_id)?
        .iter()
        .map(client_event)
        .collect::<Result<_>>()?;
    Ok(cs::get_room_state::Response::Ok(state))
}

/// An event of a room the caller is joined to.
/// An event of a room the caller is joined to, if its history visibility
/// lets the caller see it (otherwise it does not exist for them).
fn joined_room_event(hs: &Homeserver, room_id: &str, event_id: &str, user_id: &str) -> Result<StoredEvent> {
    hs.require_joined(room_id, user_id)?;
    let event = hs
        .store
        .event(event_id)
        .map_err(internal)?
        .filter(|e| e.room_id == room_id)
        .ok_or_else(|| MatrixError::not_found("Event not found"))?;
    let visible = Visible::compute(hs.store.as_ref(), room_id, user_id, event.stream).map_err(internal)?;
    if visible.allows(&event) {
        Ok(event)
    } else {
        Err(MatrixError::not_found("Event not found"))
    }
}

/// What the caller may see of a room's history up to now.
fn visible_now(hs: &Homeserver, room_id: &str, user_id: &str) -> Result<Visible> {
    let now = hs.store.max_stream().map_err(internal)?;
    Visible::compute(hs.store.as_ref(), room_id, user_id, now).map_err(internal)
}

pub(super) fn get_event(
    hs: &Homeserver,
    request: cs::get_one_room_event::Request,
    credentials: Credentials,
) -> Result<cs::get_one_room_event::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    let event = joined_room_event(hs, &p.room_id, &p.event_id, &user_id)?;
    Ok(cs::get_one_room_event::Response::Ok(client_event(&event)?))
}

pub(super) fn redact(
    hs: &Homeserver,
    request: cs::redact_event::Request,
    credentials: Credentials,
) -> Result<cs::redact_event::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let p = request.path;
    let content = RoomRedactionEventContent {
        redacts: Some(id(&p.event_id)?),
        reason: request.body.reason,
        ..RoomRedactionEventContent::default()
    };
    let txn_key = format!("redact\u{1f}{user_id}\u{1f}{device_id}\u{1f}{}", p.txn_id);
    let event_id = send_redaction(hs, &p.room_id, &user_id, &p.event_id, json_of(&content)?, &txn_key)?;
    Ok(cs::redact_event::Response::Ok(RedactEventResponse {
        event_id: Some(id(&event_id)?),
    }))
}

/// Sends a redaction of `target_id` and applies it, whichever endpoint was
/// used: one's own events need only the level to send `m.room.redaction`
/// (the room rules check that), other people's the `redact` level too.
fn send_redaction(
    hs: &Homeserver,
    room_id: &str,
    user_id: &str,
    target_id: &str,
    content: Value,
    txn_key: &str,
) -> Result<String> {
    let target = joined_room_event(hs, room_id, target_id, user_id)?;
    if target.sender != user_id {
        hs.require_level(room_id, user_id, |l| Action::Redact.level(l))?;
    }
    let event_id = hs.send_event(
        room_id,
        user_id,
        RoomRedactionEventContent::EVENT_TYPE,
        None,
        content,
        Some(txn_key),
    )?;
    let redaction = hs
        .store
        .event(&event_id)
        .map_err(internal)?
        .ok_or_else(|| internal("redaction event vanished"))?;
    // A reused transaction ID gives back the earlier redaction: apply what
    // it names, never the event this request names.
    let redacts = redaction
        .content_as::<RoomRedactionEventContent>()
        .and_then(|c| c.redacts);
    if redacts.as_ref().map(|r| r.as_str()) != Some(target_id) {
        return Ok(event_id);
    }
    let rules = crate::federation::pdu::VersionRules::of(&hs.room(&target.room_id)?.version)
        .ok_or_else(|| internal("a stored room of an unknown version"))?;
    let redacted_pdu = hs
        .store
        .pdu(&target.event_id)
        .map_err(internal)?
        .map(|pdu| rules.redact(&pdu));
    hs.store
        .redact(
            &target.event_id,
            &rules.redacted_content(&target.event_type, &target.content),
            redacted_pdu.as_ref(),
            &json_of(&client_event(&redaction)?)?,
        )
        .map_err(internal)?;
    Ok(event_id)
}

/// A page of a room's timeline from position `from` (a stream position:
/// "after every event up to and including it"), in either direction, up to
/// `to`. Returns the events and the position to continue from, if any.
/// Which events a page holds: those the filter selects and the caller may see.
#[derive(Clone, Copy)]
struct Shown<'a> {
    filter: EventFilter<'a>,
    visible: &'a Visible,
}

impl Shown<'_> {
    fn shows(&self, e: &StoredEvent) -> bool {
        self.filter.allows(&e.event_type, &e.sender) && self.visible.allows(e)
    }
}

fn paginate(
    hs: &Homeserver,
    room_id: &str,
    from: i64,
    to: Option<i64>,
    backwards: bool,
    limit: usize,
    shown: Shown<'_>,
) -> Result<(Vec<StoredEvent>, Option<i64>)> {
    let mut out = Vec::new();
    let mut cursor = from;
    loop {
        let batch = if backwards {
            hs.store.events_before(room_id, cursor + 1, 100).map_err(internal)?
        } else {
            let mut b = hs.store.events_between(room_id, cursor, i64::MAX).map_err(internal)?;
            b.truncate(100);
            b
        };
        if batch.is_empty() {
            return Ok((out, None));
        }
        for e in batch {
            let beyond = to.is_some_and(|t| if backwards { e.stream <= t } else { e.stream > t });
            if beyond {
                return Ok((out, None));
            }
            cursor = if backwards { e.stream - 1 } else { e.stream };
            if shown.shows(&e) {
                out.push(e);
                if out.len() == limit {
                    return Ok((out, Some(cursor)));
                }
            }
        }
    }
}

pub(super) fn messages(
    hs: &Homeserver,
    request: cs::get_room_events::Request,
    credentials: Credentials,
) -> Result<cs::get_room_events::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let q = request.query;
    let filter = query_filter(q.filter.as_deref())?;
    let filter = EventFilter(&filter);
    let limit = q.limit.unwrap_or(10).clamp(1, 1000) as usize;
    let backwards = match &q.dir {
        matrix_api::client_server::Dir::B => true,
        matrix_api::client_server::Dir::F => false,
        matrix_api::client_server::Dir::Other(dir) => {
            return Err(MatrixError::invalid_param(format!(
                "dir must be `b` or `f`, not `{dir}`"
            )));
        }
    };
    let token = |t: &str, name: &str| stream_position(t).ok_or_else(|| MatrixError::invalid_param(name));
    let from = match q.from.as_deref() {
        Some(t) => token(t, "from")?,
        None if backwards => hs.store.max_stream().map_err(internal)?,
        None => 0,
    };
    let to = q.to.as_deref().map(|t| token(t, "to")).transpose()?;
    let visible = visible_now(hs, &room_id, &user_id)?;
    let shown = Shown {
        filter,
        visible: &visible,
    };
    let (events, next) = paginate(hs, &room_id, from, to, backwards, limit, shown)?;
    let chunk = events.iter().map(room_event).collect::<Result<_>>()?;
    let mut response = GetRoomEventsResponse::new(format!("s{from}"), chunk);
    response.end = next.map(|next| format!("s{next}"));
    Ok(cs::get_room_events::Response::Ok(response))
}

pub(super) fn context(
    hs: &Homeserver,
    request: cs::get_event_context::Request,
    credentials: Credentials,
) -> Result<cs::get_event_context::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    let event = joined_room_event(hs, &p.room_id, &p.event_id, &user_id)?;
    let filter = query_filter(request.query.filter.as_deref())?;
    let filter = EventFilter(&filter);
    let limit = request.query.limit.unwrap_or(10).clamp(0, 1000) as usize;
    let visible = visible_now(hs, &p.room_id, &user_id)?;
    let shown = Shown {
        filter,
        visible: &visible,
    };
    let before_count = limit / 2;
    let after_count = limit - before_count;
    let (before, start) = if before_count == 0 {
        (Vec::new(), Some(event.stream - 1))
    } else {
        paginate(hs, &p.room_id, event.stream - 1, None, true, before_count, shown)?
    };
    let (after, end) = if after_count == 0 {
        (Vec::new(), Some(event.stream))
    } else {
        paginate(hs, &p.room_id, event.stream, None, false, after_count, shown)?
    };
    let start = start.unwrap_or(0);
    let end = end.unwrap_or_else(|| after.last().map_or(event.stream, |e| e.stream));
    let state = hs.store.current_state(&p.room_id).map_err(internal)?;
    Ok(cs::get_event_context::Response::Ok(GetEventContextResponse {
        event: Some(client_event(&event)?),
        events_before: Some(before.iter().map(room_event).collect::<Result<_>>()?),
        events_after: Some(after.iter().map(room_event).collect::<Result<_>>()?),
        start: Some(format!("s{start}")),
        end: Some(format!("s{end}")),
        state: Some(state.iter().map(room_event).collect::<Result<_>>()?),
    }))
}

pub(super) fn members(
    hs: &Homeserver,
    request: cs::get_members_by_room::Request,
    credentials: Credentials,
) -> Result<cs::get_members_by_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    let q = request.query;
    let mut state = readable_state(hs, &room_id, &user_id)?;
    // `at`: the members as of a pagination token, never later than what
    // the caller may read.
    if let Some(at) = q.at.as_deref() {
        let position = stream_position(at).ok_or_else(|| MatrixError::invalid_param("at is not a token"))?;
        let readable_upto = state.iter().map(|e| e.stream).max().unwrap_or(0);
        let events = hs
            .store
            .events_between(&room_id, i64::MIN, position.min(readable_upto))
            .map_err(internal)?;
        state = state_of(events);
    }
    let wanted = q.membership.as_ref().map(|m| m.as_str().to_owned());
    let unwanted = q.not_membership.as_ref().map(|m| m.as_str().to_owned());
    let chunk = state
        .iter()
        .filter(|e| e.event_type == "m.room.member")
        .filter(|e| {
            let m = e.content["membership"].as_str().unwrap_or_default();
            wanted.as_deref().is_none_or(|w| w == m) && unwanted.as_deref() != Some(m)
        })
        .map(room_event)
        .collect::<Result<_>>()?;
    Ok(cs::get_members_by_room::Response::Ok(GetMembersByRoomResponse {
        chunk: Some(chunk),
    }))
}

pub(super) fn joined_members(
    hs: &Homeserver,
    request: cs::get_joined_members_by_room::Request,
    credentials: Credentials,
) -> Result<cs::get_joined_members_by_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let mut joined = BTreeMap::new();
    for e in hs.store.current_state(&room_id).map_err(internal)? {
        if e.event_type == "m.room.member" && e.content["membership"] == "join" {
            let text = |key: &str| e.content.get(key).and_then(Value::as_str).map(str::to_owned);
            let member = RoomMember {
                display_name: text("displayname"),
                avatar_url: text("avatar_url"),
            };
            joined.insert(id(e.state_key.as_deref().unwrap_or_default())?, member);
        }
    }
    Ok(cs::get_joined_members_by_room::Response::Ok(
        GetJoinedMembersByRoomResponse { joined: Some(joined) },
    ))
}

pub(super) fn joined_rooms(
    hs: &Homeserver,
    _: cs::get_joined_rooms::Request,
    credentials: Credentials,
) -> Result<cs::get_joined_rooms::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let rooms = hs
        .store
        .rooms_of(&user_id)
        .map_err(internal)?
        .into_iter()
        .filter(|(_, m)| m == "join")
        .map(|(r, _)| id(&r))
        .collect::<Result<Vec<_>>>()?;
    Ok(cs::get_joined_rooms::Response::Ok(GetJoinedRoomsResponse::new(rooms)))
}
