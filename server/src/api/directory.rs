//! Room aliases and the public room directory.

use super::{content_in, id, internal, level_for_state, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    GetLocalAliasesResponse, GetRoomIdByAliasResponse, GetRoomVisibilityOnDirectoryResponse,
    GetRoomVisibilityOnDirectoryResponseVisibility as Visibility, PublicRoomsChunk, PublicRoomsResponse,
};
use matrix_api::events::{
    RoomAvatarEventContent, RoomCanonicalAliasEventContent, RoomCreateEventContent, RoomGuestAccessEventContent,
    RoomGuestAccessEventContentGuestAccess as GuestAccess, RoomHistoryVisibilityEventContent,
    RoomHistoryVisibilityEventContentHistoryVisibility as HistoryVisibility, RoomJoinRulesEventContent,
    RoomMemberEventContent, RoomMemberEventContentMembership as Membership, RoomNameEventContent,
    RoomTopicEventContent,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::Map;

/// An alias of this server: `#localpart:server_name`.
fn local_alias(hs: &Homeserver, alias: &str) -> Result<()> {
    let ok = alias
        .strip_prefix('#')
        .and_then(|a| a.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && server == hs.server_name);
    if ok {
        alias_text(alias)
    } else {
        Err(MatrixError::invalid_param(format!(
            "{alias} is not an alias of this server"
        )))
    }
}

/// An alias is at most 255 bytes, sigil and server name included (the
/// spec's size limits), and holds no control characters (a NUL or a line
/// break in an alias only ever serves to confuse what displays or logs it).
pub(super) fn alias_text(alias: &str) -> Result<()> {
    if alias.len() > super::limits::MAX_KEY_BYTES {
        return Err(MatrixError::invalid_param(format!(
            "the alias is {} bytes; the limit is 255",
            alias.len()
        )));
    }
    if alias.chars().any(char::is_control) {
        return Err(MatrixError::invalid_param("the alias holds a control character"));
    }
    Ok(())
}

pub(super) fn set_alias(
    hs: &Homeserver,
    request: cs::set_room_alias::Request,
    credentials: Credentials,
) -> Result<cs::set_room_alias::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let alias = request.path.room_alias;
    local_alias(hs, &alias)?;
    hs.may_claim_alias(&user_id, &alias)?;
    let room_id = request.body.room_id;
    hs.require_joined(&room_id, &user_id)?;
    if !hs.store.add_alias(&alias, &room_id, &user_id).map_err(internal)? {
        return Err(MatrixError::new(409, ErrorCode::Unknown, "Room alias already exists"));
    }
    Ok(cs::set_room_alias::Response::Ok(Map::new()))
}

pub(super) async fn resolve_alias(
    hs: &Homeserver,
    request: cs::get_room_id_by_alias::Request,
) -> Result<cs::get_room_id_by_alias::Response> {
    let (room_id, servers) = hs.room_of_alias(&request.path.room_alias).await?;
    Ok(cs::get_room_id_by_alias::Response::Ok(GetRoomIdByAliasResponse {
        room_id: Some(id(&room_id)?),
        servers: Some(servers.iter().map(|s| id(s)).collect::<Result<_>>()?),
    }))
}

impl Homeserver {
    /// Refuses (`M_EXCLUSIVE`) an alias an application service claims
    /// exclusively to anyone but that service's users.
    pub(super) fn may_claim_alias(&self, user_id: &str, alias: &str) -> Result<()> {
        match self.appservices.exclusive_alias_owner(alias) {
            Some(owner) if !owner.owns_user(user_id) => Err(MatrixError::new(
                400,
                ErrorCode::Exclusive,
                "This alias is reserved by an application service",
            )),
            _ => Ok(()),
        }
    }

    /// The room an alias names and the servers to join it through: from
    /// the store for this server's aliases, else from the alias's server
    /// (`/query/directory`).
    pub(super) async fn room_of_alias(&self, alias: &str) -> Result<(String, Vec<String>)> {
        let is_local = super::server_of(alias) == Some(self.server_name.as_str());
        if !is_local {
            if let Some(federation) = self.federation() {
                return federation.resolve_remote_alias(alias).await;
            }
        }
        let mut found = self.store.alias(alias).map_err(internal)?;
        // An alias of an application service's namespace that does not
        // exist yet: the service may make it.
        if found.is_none() && crate::appservices::queries::alias(self, alias).await {
            found = self.store.alias(alias).map_err(internal)?;
        }
        let (room_id, _) = found.ok_or_else(|| MatrixError::not_found("Room alias not found"))?;
        Ok((room_id, vec![self.server_name.clone()]))
    }
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
    let aliases = aliases.iter().map(|a| id(a)).collect::<Result<_>>()?;
    Ok(cs::get_local_aliases::Response::Ok(GetLocalAliasesResponse::new(
        aliases,
    )))
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
    let visibility = if published {
        Visibility::Public
    } else {
        Visibility::Private
    };
    Ok(cs::get_room_visibility_on_directory::Response::Ok(
        GetRoomVisibilityOnDirectoryResponse {
            visibility: Some(visibility),
        },
    ))
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
fn chunk(hs: &Homeserver, room_id: &str) -> Result<PublicRoomsChunk> {
    let state = hs.store.current_state(room_id).map_err(internal)?;
    let joined = state
        .iter()
        .filter(|e| e.event_type == "m.room.member")
        .filter_map(|e| e.content_as::<RoomMemberEventContent>())
        .filter(|m| m.membership == Membership::Join)
        .count();
    let world_readable = content_in::<RoomHistoryVisibilityEventContent>(&state, "")
        .is_some_and(|c| c.history_visibility == HistoryVisibility::WorldReadable);
    let guest_can_join =
        content_in::<RoomGuestAccessEventContent>(&state, "").is_some_and(|c| c.guest_access == GuestAccess::CanJoin);
    let mut room = PublicRoomsChunk::new(joined as i64, id(room_id)?, world_readable, guest_can_join);
    room.name = content_in::<RoomNameEventContent>(&state, "").map(|c| c.name);
    room.topic = content_in::<RoomTopicEventContent>(&state, "").map(|c| c.topic);
    room.canonical_alias = content_in::<RoomCanonicalAliasEventContent>(&state, "").and_then(|c| c.alias);
    room.avatar_url = content_in::<RoomAvatarEventContent>(&state, "")
        .and_then(|c| c.url)
        .map(|u| u.to_string());
    room.join_rule = content_in::<RoomJoinRulesEventContent>(&state, "").map(|c| c.join_rule.to_string());
    room.room_type = content_in::<RoomCreateEventContent>(&state, "").and_then(|c| c.r#type);
    Ok(room)
}

/// What a directory search asks for beyond paging: a term found in the
/// name, topic, canonical alias or room ID (case-insensitive), and the
/// room types wanted (`None` in the list for rooms without a type).
#[derive(Debug, Default)]
pub(crate) struct RoomSearch {
    pub(crate) term: Option<String>,
    pub(crate) room_types: Option<Vec<Option<String>>>,
}

impl RoomSearch {
    fn matches(&self, room: &PublicRoomsChunk) -> bool {
        let term_found = self.term.as_deref().is_none_or(|term| {
            let term = term.to_lowercase();
            let alias = room.canonical_alias.as_ref().map(|a| a.as_str());
            [
                room.name.as_deref(),
                room.topic.as_deref(),
                alias,
                Some(room.room_id.as_str()),
            ]
            .into_iter()
            .flatten()
            .any(|v| v.to_lowercase().contains(&term))
        });
        let type_wanted = self
            .room_types
            .as_ref()
            .is_none_or(|types| types.contains(&room.room_type));
        term_found && type_wanted
    }
}

/// This server's published rooms matching `search`, largest first, from
/// offset token `since`: what clients and other servers are given.
pub(crate) fn list(
    hs: &Homeserver,
    limit: Option<i64>,
    since: Option<&str>,
    search: &RoomSearch,
) -> Result<PublicRoomsResponse> {
    let mut rooms = Vec::new();
    for room_id in hs.store.published_rooms().map_err(internal)? {
        let room = chunk(hs, &room_id)?;
        if search.matches(&room) {
            rooms.push(room);
        }
    }
    rooms.sort_by(|a, b| {
        b.num_joined_members
            .cmp(&a.num_joined_members)
            .then_with(|| a.room_id.as_str().cmp(b.room_id.as_str()))
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
    let mut response = PublicRoomsResponse::new(rooms.into_iter().skip(start).take(limit).collect());
    response.total_room_count_estimate = Some(total as i64);
    if start + limit < total {
        response.next_batch = Some(format!("o{}", start + limit));
    }
    if start > 0 {
        response.prev_batch = Some(format!("o{}", start.saturating_sub(limit)));
    }
    Ok(response)
}

/// The server whose directory a client asks for, when it is not this one.
fn elsewhere<'a>(hs: &Homeserver, server: Option<&'a str>) -> Option<&'a str> {
    server.filter(|s| *s != hs.server_name)
}

/// Another server's directory, asked over federation.
async fn remote_list(
    hs: &Homeserver,
    server: &str,
    limit: Option<i64>,
    since: Option<String>,
    search: RoomSearch,
) -> Result<PublicRoomsResponse> {
    match hs.federation() {
        Some(federation) => federation.public_rooms_of(server, limit, since, search).await,
        None => Err(MatrixError::not_found("This server does not federate")),
    }
}

/// This server's directory or another's, for anyone: the spec asks no
/// access token of this endpoint (its `POST` form needs one).
pub(super) async fn public_rooms(
    hs: &Homeserver,
    request: cs::get_public_rooms::Request,
) -> Result<cs::get_public_rooms::Response> {
    let q = request.query;
    let list = match elsewhere(hs, q.server.as_deref()) {
        Some(server) => remote_list(hs, server, q.limit, q.since, RoomSearch::default()).await?,
        None => list(hs, q.limit, q.since.as_deref(), &RoomSearch::default())?,
    };
    Ok(cs::get_public_rooms::Response::Ok(list))
}

pub(super) async fn search_public_rooms(
    hs: &Homeserver,
    request: cs::query_public_rooms::Request,
    credentials: Credentials,
) -> Result<cs::query_public_rooms::Response> {
    hs.user(&credentials)?;
    let b = request.body;
    let search = RoomSearch {
        term: b.filter.as_ref().and_then(|f| f.generic_search_term.clone()),
        room_types: b.filter.and_then(|f| f.room_types),
    };
    let list = match elsewhere(hs, request.query.server.as_deref()) {
        Some(server) => remote_list(hs, server, b.limit, b.since, search).await?,
        None => list(hs, b.limit, b.since.as_deref(), &search)?,
    };
    Ok(cs::query_public_rooms::Response::Ok(list))
}
