//! Room aliases and the public room directory.

use super::{internal, level_for_state, typed, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{json, Map, Value};

/// An alias of this server: `#localpart:server_name`.
fn local_alias(hs: &Homeserver, alias: &str) -> Result<()> {
    let ok = alias
        .strip_prefix('#')
        .and_then(|a| a.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && server == hs.server_name);
    if ok {
        Ok(())
    } else {
        Err(MatrixError::invalid_param(format!(
            "{alias} is not an alias of this server"
        )))
    }
}

pub(super) fn set_alias(
    hs: &Homeserver,
    request: cs::set_room_alias::Request,
    credentials: Credentials,
) -> Result<cs::set_room_alias::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let alias = request.path.room_alias;
    local_alias(hs, &alias)?;
    let room_id = request.body.room_id;
    hs.require_joined(&room_id, &user_id)?;
    if !hs.store.add_alias(&alias, &room_id, &user_id).map_err(internal)? {
        return Err(MatrixError::new(409, ErrorCode::Unknown, "Room alias already exists"));
    }
    Ok(cs::set_room_alias::Response::Ok(Map::new()))
}

pub(super) fn resolve_alias(
    hs: &Homeserver,
    request: cs::get_room_id_by_alias::Request,
) -> Result<cs::get_room_id_by_alias::Response> {
    let (room_id, _) = hs
        .store
        .alias(&request.path.room_alias)
        .map_err(internal)?
        .ok_or_else(|| MatrixError::not_found("Room alias not found"))?;
    Ok(cs::get_room_id_by_alias::Response::Ok(typed(
        json!({ "room_id": room_id, "servers": [hs.server_name] }),
    )?))
}

pub(super) fn delete_alias(
    hs: &Homeserver,
    request: cs::delete_room_alias::Request,
    credentials: Credentials,
) -> Result<cs::delete_room_alias::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let alias = request.path.room_alias;
    let (room_id, creator) = hs
        .store
        .alias(&alias)
        .map_err(internal)?
        .ok_or_else(|| MatrixError::not_found("Room alias not found"))?;
    if creator != user_id {
        hs.require_level(&room_id, &user_id, level_for_state("m.room.canonical_alias"))?;
    }
    hs.store.delete_alias(&alias).map_err(internal)?;
    Ok(cs::delete_room_alias::Response::Ok(Map::new()))
}

pub(super) fn local_aliases(
    hs: &Homeserver,
    request: cs::get_local_aliases::Request,
    credentials: Credentials,
) -> Result<cs::get_local_aliases::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    let aliases = hs.store.aliases_of(&room_id).map_err(internal)?;
    Ok(cs::get_local_aliases::Response::Ok(typed(
        json!({ "aliases": aliases }),
    )?))
}

pub(super) fn get_visibility(
    hs: &Homeserver,
    request: cs::get_room_visibility_on_directory::Request,
) -> Result<cs::get_room_visibility_on_directory::Response> {
    let room_id = request.path.room_id;
    hs.room(&room_id)?;
    let published = hs
        .store
        .published_rooms()
        .map_err(internal)?
        .iter()
        .any(|r| r == room_id.as_str());
    Ok(cs::get_room_visibility_on_directory::Response::Ok(typed(json!({
        "visibility": if published { "public" } else { "private" }
    }))?))
}

pub(super) fn set_visibility(
    hs: &Homeserver,
    request: cs::set_room_visibility_on_directory::Request,
    credentials: Credentials,
) -> Result<cs::set_room_visibility_on_directory::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let room_id = request.path.room_id;
    hs.require_joined(&room_id, &user_id)?;
    hs.require_level(&room_id, &user_id, level_for_state("m.room.canonical_alias"))?;
    let public = request.body.visibility.as_ref().is_some_and(|v| v.as_str() == "public");
    hs.store.set_published(&room_id, public).map_err(internal)?;
    Ok(cs::set_room_visibility_on_directory::Response::Ok(Map::new()))
}

/// One published room as the directory lists it.
fn chunk(hs: &Homeserver, room_id: &str) -> Result<Value> {
    let state = hs.store.current_state(room_id).map_err(internal)?;
    let content = |t: &str, key: &str| {
        state
            .iter()
            .find(|e| e.event_type == t && e.state_key.as_deref() == Some(""))
            .and_then(|e| e.content.get(key).cloned())
    };
    let joined = state
        .iter()
        .filter(|e| e.event_type == "m.room.member" && e.content["membership"] == "join")
        .count();
    let mut room = json!({
        "room_id": room_id,
        "num_joined_members": joined,
        "world_readable": content("m.room.history_visibility", "history_visibility") == Some(json!("world_readable")),
        "guest_can_join": content("m.room.guest_access", "guest_access") == Some(json!("can_join")),
    });
    for (key, t, field) in [
        ("name", "m.room.name", "name"),
        ("topic", "m.room.topic", "topic"),
        ("canonical_alias", "m.room.canonical_alias", "alias"),
        ("avatar_url", "m.room.avatar", "url"),
        ("join_rule", "m.room.join_rules", "join_rule"),
        ("room_type", "m.room.create", "type"),
    ] {
        if let Some(v) = content(t, field).filter(Value::is_string) {
            room[key] = v;
        }
    }
    Ok(room)
}

/// Published rooms matching `search`, largest first, from offset token `since`.
fn list(hs: &Homeserver, limit: Option<i64>, since: Option<&str>, search: Option<&str>) -> Result<Value> {
    let mut rooms = Vec::new();
    for room_id in hs.store.published_rooms().map_err(internal)? {
        let room = chunk(hs, &room_id)?;
        let matches = search.is_none_or(|term| {
            let term = term.to_lowercase();
            ["name", "topic", "canonical_alias", "room_id"]
                .iter()
                .any(|k| room[k].as_str().is_some_and(|v| v.to_lowercase().contains(&term)))
        });
        if matches {
            rooms.push(room);
        }
    }
    rooms.sort_by(|a, b| {
        b["num_joined_members"]
            .as_u64()
            .cmp(&a["num_joined_members"].as_u64())
            .then_with(|| a["room_id"].as_str().cmp(&b["room_id"].as_str()))
    });
    let total = rooms.len();
    let start = match since {
        Some(t) => t
            .strip_prefix('o')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| MatrixError::invalid_param("since"))?,
        None => 0,
    };
    let limit = limit.map_or(total, |l| l.max(0) as usize);
    let page: Vec<Value> = rooms.into_iter().skip(start).take(limit).collect();
    let mut response = json!({ "chunk": page, "total_room_count_estimate": total });
    if start + limit < total {
        response["next_batch"] = json!(format!("o{}", start + limit));
    }
    if start > 0 {
        response["prev_batch"] = json!(format!("o{}", start.saturating_sub(limit)));
    }
    Ok(response)
}

/// Remote directories need federation, which this server does not speak.
fn local_only(hs: &Homeserver, server: Option<&str>) -> Result<()> {
    match server {
        Some(s) if s != hs.server_name => Err(MatrixError::not_found("Only this server's directory is available")),
        _ => Ok(()),
    }
}

pub(super) fn public_rooms(
    hs: &Homeserver,
    request: cs::get_public_rooms::Request,
) -> Result<cs::get_public_rooms::Response> {
    let q = request.query;
    local_only(hs, q.server.as_deref())?;
    Ok(cs::get_public_rooms::Response::Ok(typed(list(
        hs,
        q.limit,
        q.since.as_deref(),
        None,
    )?)?))
}

pub(super) fn search_public_rooms(
    hs: &Homeserver,
    request: cs::query_public_rooms::Request,
    credentials: Credentials,
) -> Result<cs::query_public_rooms::Response> {
    hs.user(&credentials)?;
    local_only(hs, request.query.server.as_deref())?;
    let b = request.body;
    let search = b.filter.as_ref().and_then(|f| f.generic_search_term.clone());
    Ok(cs::query_public_rooms::Response::Ok(typed(list(
        hs,
        b.limit,
        b.since.as_deref(),
        search.as_deref(),
    )?)?))
}
