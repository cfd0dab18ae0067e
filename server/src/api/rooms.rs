//! Rooms: creation, state, sending and redacting events, history
//! (`/messages`, `/context`, single events) and member lists.

use super::events::{client_event, redacted_content};
use super::filter::EventFilter;
use super::sync::stream_position;
use super::{id, internal, level_for_state, typed, Homeserver, Result, DEFAULT_ROOM_VERSION, ROOM_VERSIONS};
use crate::store::StoredEvent;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    CreateRoomResponse, GetJoinedMembersByRoomResponse, GetJoinedRoomsResponse, RedactEventResponse, RoomMember,
    SendMessageResponse, SetRoomStateWithKeyResponse,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn looks_like_user_id(id: &str) -> bool {
    id.starts_with('@') && id.contains(':')
}

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

pub(super) fn create_room(
    hs: &Homeserver,
    request: cs::create_room::Request,
    credentials: Credentials,
) -> Result<cs::create_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = serde_json::to_value(&request.body).map_err(internal)?;
    // Everything that can be wrong is checked before anything is stored.
    let version = body["room_version"].as_str().unwrap_or(DEFAULT_ROOM_VERSION).to_owned();
    if !ROOM_VERSIONS.contains(&version.as_str()) {
        return Err(MatrixError::new(
            400,
            ErrorCode::UnsupportedRoomVersion,
            format!("Room version {version} is not supported"),
        ));
    }
    let invitees: Vec<String> = body["invite"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if let Some(bad) = invitees.iter().find(|i| !looks_like_user_id(i)) {
        return Err(MatrixError::invalid_param(format!("invite: {bad} is not a user ID")));
    }
    let alias = match body["room_alias_name"].as_str() {
        Some(name) if name.is_empty() || name.contains([':', '#']) => {
            return Err(MatrixError::new(
                400,
                ErrorCode::InvalidParam,
                "Invalid room_alias_name",
            ));
        }
        Some(name) => {
            let alias = format!("#{name}:{}", hs.server_name);
            if hs.store.alias(&alias).map_err(internal)?.is_some() {
                return Err(MatrixError::new(400, ErrorCode::RoomInUse, "Room alias already taken"));
            }
            Some(alias)
        }
        None => None,
    };
    let initial_state: Vec<(String, String, Value)> = body["initial_state"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| match (e["type"].as_str(), e["content"].as_object()) {
            (Some(t), Some(c)) => Ok((t.to_owned(), e["state_key"].as_str().unwrap_or("").to_owned(), json!(c))),
            _ => Err(MatrixError::new(
                400,
                ErrorCode::BadJson,
                "initial_state entries need a type and an object content",
            )),
        })
        .collect::<Result<_>>()?;

    let mut create = body["creation_content"].as_object().cloned().unwrap_or_default();
    create.insert("room_version".into(), json!(version));
    if version.parse::<u32>().is_ok_and(|v| v < 11) {
        create.insert("creator".into(), json!(user_id));
    }
    let create = Value::Object(create);
    let (room_id, create_event_id) = super::events::room_id(&version, &hs.server_name, &create);
    hs.store.create_room(&room_id, &user_id, &version).map_err(internal)?;
    hs.append_event(
        create_event_id,
        &room_id,
        &user_id,
        "m.room.create",
        Some(""),
        create,
        None,
    )?;
    hs.set_membership(&room_id, &user_id, &user_id, "join", None)?;

    let preset = body["preset"].as_str().unwrap_or(match body["visibility"].as_str() {
        Some("public") => "public_chat",
        _ => "private_chat",
    });
    let mut users = Map::new();
    if !super::events::creators_are_privileged(&version) {
        users.insert(user_id.clone(), json!(100));
    }
    if preset == "trusted_private_chat" {
        for invitee in &invitees {
            users.insert(invitee.clone(), json!(100));
        }
    }
    let mut levels = json!({
        "users": users, "users_default": 0, "events_default": 0, "state_default": 50,
        "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        "events": { "m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100,
                    "m.room.canonical_alias": 50, "m.room.avatar": 50, "m.room.tombstone": 100,
                    "m.room.server_acl": 100, "m.room.encryption": 100 },
    });
    if let Some(overrides) = body["power_level_content_override"].as_object() {
        for (k, v) in overrides {
            levels[k] = v.clone();
        }
    }
    let send_state =
        |t: &str, key: &str, content: Value| hs.send_event(&room_id, &user_id, t, Some(key), content, None);
    send_state("m.room.power_levels", "", levels)?;
    if let Some(alias) = &alias {
        send_state("m.room.canonical_alias", "", json!({ "alias": alias }))?;
    }
    let join_rule = if preset == "public_chat" { "public" } else { "invite" };
    send_state("m.room.join_rules", "", json!({ "join_rule": join_rule }))?;
    send_state(
        "m.room.history_visibility",
        "",
        json!({ "history_visibility": "shared" }),
    )?;
    for (t, key, content) in initial_state {
        send_state(&t, &key, content)?;
    }
    if let Some(name) = body["name"].as_str() {
        send_state("m.room.name", "", json!({ "name": name }))?;
    }
    if let Some(topic) = body["topic"].as_str() {
        send_state("m.room.topic", "", json!({ "topic": topic }))?;
    }
    for invitee in &invitees {
        hs.set_membership(&room_id, &user_id, invitee, "invite", None)?;
    }
    if let Some(alias) = &alias {
        hs.store.add_alias(alias, &room_id, &user_id).map_err(internal)?;
    }
    if body["visibility"].as_str() == Some("public") {
        hs.store.set_published(&room_id, true).map_err(internal)?;
    }
    Ok(cs::create_room::Response::Ok(CreateRoomResponse::new(id(&room_id)?)))
}

pub(super) fn send_message(
    hs: &Homeserver,
    request: cs::send_message::Request,
    credentials: Credentials,
) -> Result<cs::send_message::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let p = request.path;
    hs.require_joined(&p.room_id, &user_id)?;
    hs.require_level(&p.room_id, &user_id, |l| {
        l["events"][&p.event_type]
            .as_i64()
            .or(l["events_default"].as_i64())
            .unwrap_or(0)
    })?;
    // Transaction IDs are scoped to the device and the endpoint.
    let txn_key = format!("send\u{1f}{user_id}\u{1f}{device_id}\u{1f}{}", p.txn_id);
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
    hs.require_level(&p.room_id, &user_id, level_for_state(&p.event_type))?;
    if p.state_key.starts_with('@') && p.state_key != user_id {
        // State keyed by another user's ID is theirs to set.
        hs.require_level(&p.room_id, &user_id, |l| {
            l["state_default"].as_i64().unwrap_or(50).max(100)
        })?;
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

pub(super) fn get_state_event(
    hs: &Homeserver,
    request: cs::get_room_state_with_key::Request,
    credentials: Credentials,
) -> Result<cs::get_room_state_with_key::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    hs.require_joined(&p.room_id, &user_id)?;
    let event = hs
        .store
        .state_event(&p.room_id, &p.event_type, &p.state_key)
        .map_err(internal)?
        .ok_or_else(|| MatrixError::not_found("Event not found"))?;
    let value = if request.query.format.as_ref().is_some_and(|f| f.as_str() == "event") {
        client_event(&event, true)
    } else {
        event.content
    };
    Ok(cs::get_room_state_with_key::Response::Ok(typed(value)?))
}

pub(super) fn get_state(
    hs: &Homeserver,
    request: cs::get_room_state::Request,
    credentials: Credentials,
) -> Result<cs::get_room_state::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let state: Vec<Value> = hs
        .store
        .current_state(&room_id)
        .map_err(internal)?
        .iter()
        .map(|e| client_event(e, true))
        .collect();
    Ok(cs::get_room_state::Response::Ok(typed(json!(state))?))
}

/// An event of a room the caller is joined to.
fn room_event(hs: &Homeserver, room_id: &str, event_id: &str, user_id: &str) -> Result<StoredEvent> {
    hs.require_joined(room_id, user_id)?;
    hs.store
        .event(event_id)
        .map_err(internal)?
        .filter(|e| e.room_id == room_id)
        .ok_or_else(|| MatrixError::not_found("Event not found"))
}

pub(super) fn get_event(
    hs: &Homeserver,
    request: cs::get_one_room_event::Request,
    credentials: Credentials,
) -> Result<cs::get_one_room_event::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    let event = room_event(hs, &p.room_id, &p.event_id, &user_id)?;
    Ok(cs::get_one_room_event::Response::Ok(typed(client_event(&event, true))?))
}

pub(super) fn redact(
    hs: &Homeserver,
    request: cs::redact_event::Request,
    credentials: Credentials,
) -> Result<cs::redact_event::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let p = request.path;
    let target = room_event(hs, &p.room_id, &p.event_id, &user_id)?;
    if target.sender == user_id {
        hs.require_level(&p.room_id, &user_id, |l| {
            l["events"]["m.room.redaction"]
                .as_i64()
                .or(l["events_default"].as_i64())
                .unwrap_or(0)
        })?;
    } else {
        hs.require_level(&p.room_id, &user_id, |l| l["redact"].as_i64().unwrap_or(50))?;
    }
    let mut content = json!({ "redacts": p.event_id });
    if let Some(reason) = request.body.reason {
        content["reason"] = json!(reason);
    }
    let txn_key = format!("redact\u{1f}{user_id}\u{1f}{device_id}\u{1f}{}", p.txn_id);
    let event_id = hs.send_event(&p.room_id, &user_id, "m.room.redaction", None, content, Some(&txn_key))?;
    let redaction = hs
        .store
        .event(&event_id)
        .map_err(internal)?
        .ok_or_else(|| internal("redaction event vanished"))?;
    hs.store
        .redact(
            &target.event_id,
            &redacted_content(&target.event_type, &target.content),
            &client_event(&redaction, true),
        )
        .map_err(internal)?;
    Ok(cs::redact_event::Response::Ok(RedactEventResponse {
        event_id: Some(id(&event_id)?),
    }))
}

/// A page of a room's timeline from position `from` (a stream position:
/// "after every event up to and including it"), in either direction, up to
/// `to`. Returns the events and the position to continue from, if any.
fn paginate(
    hs: &Homeserver,
    room_id: &str,
    from: i64,
    to: Option<i64>,
    backwards: bool,
    limit: usize,
    filter: EventFilter<'_>,
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
            if filter.allows(&e.event_type, &e.sender) {
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
    let backwards = q.dir.as_str() == "b";
    let token = |t: &str, name: &str| stream_position(t).ok_or_else(|| MatrixError::invalid_param(name));
    let from = match q.from.as_deref() {
        Some(t) => token(t, "from")?,
        None if backwards => hs.store.max_stream().map_err(internal)?,
        None => 0,
    };
    let to = q.to.as_deref().map(|t| token(t, "to")).transpose()?;
    let (events, next) = paginate(hs, &room_id, from, to, backwards, limit, filter)?;
    let mut response = json!({
        "chunk": events.iter().map(|e| client_event(e, true)).collect::<Vec<_>>(),
        "start": format!("s{from}"),
    });
    if let Some(next) = next {
        response["end"] = json!(format!("s{next}"));
    }
    Ok(cs::get_room_events::Response::Ok(typed(response)?))
}

pub(super) fn context(
    hs: &Homeserver,
    request: cs::get_event_context::Request,
    credentials: Credentials,
) -> Result<cs::get_event_context::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let p = request.path;
    let event = room_event(hs, &p.room_id, &p.event_id, &user_id)?;
    let filter = query_filter(request.query.filter.as_deref())?;
    let filter = EventFilter(&filter);
    let limit = request.query.limit.unwrap_or(10).clamp(0, 1000) as usize;
    let before_count = limit / 2;
    let after_count = limit - before_count;
    let (before, start) = if before_count == 0 {
        (Vec::new(), Some(event.stream - 1))
    } else {
        paginate(hs, &p.room_id, event.stream - 1, None, true, before_count, filter)?
    };
    let (after, end) = if after_count == 0 {
        (Vec::new(), Some(event.stream))
    } else {
        paginate(hs, &p.room_id, event.stream, None, false, after_count, filter)?
    };
    let start = start.unwrap_or(0);
    let end = end.unwrap_or_else(|| after.last().map_or(event.stream, |e| e.stream));
    let state: Vec<Value> = hs
        .store
        .current_state(&p.room_id)
        .map_err(internal)?
        .iter()
        .map(|e| client_event(e, true))
        .collect();
    Ok(cs::get_event_context::Response::Ok(typed(json!({
        "event": client_event(&event, true),
        "events_before": before.iter().map(|e| client_event(e, true)).collect::<Vec<_>>(),
        "events_after": after.iter().map(|e| client_event(e, true)).collect::<Vec<_>>(),
        "start": format!("s{start}"),
        "end": format!("s{end}"),
        "state": state,
    }))?))
}

pub(super) fn members(
    hs: &Homeserver,
    request: cs::get_members_by_room::Request,
    credentials: Credentials,
) -> Result<cs::get_members_by_room::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let q = request.query;
    let wanted = q.membership.as_ref().map(|m| m.as_str().to_owned());
    let unwanted = q.not_membership.as_ref().map(|m| m.as_str().to_owned());
    let chunk: Vec<Value> = hs
        .store
        .current_state(&room_id)
        .map_err(internal)?
        .iter()
        .filter(|e| e.event_type == "m.room.member")
        .filter(|e| {
            let m = e.content["membership"].as_str().unwrap_or_default();
            wanted.as_deref().is_none_or(|w| w == m) && unwanted.as_deref() != Some(m)
        })
        .map(|e| client_event(e, true))
        .collect();
    Ok(cs::get_members_by_room::Response::Ok(typed(json!({ "chunk": chunk }))?))
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
