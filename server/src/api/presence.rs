//! Presence: `online`, `unavailable` or `offline`, with a status message,
//! set by `PUT /presence/{userId}/status` or by syncing (`set_presence`,
//! online unless told otherwise), read by the user and by those who share a
//! room with them, and delivered as `m.presence` in their `/sync`; other
//! servers with users in those rooms are sent it as an `m.presence` EDU.

use super::filter::EventFilter;
use super::{internal, now_ms, raw, Homeserver, Result};
use crate::store::Presence;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::GetPresenceResponse;
use matrix_api::events::{Event, PresenceEvent, PresenceEventContent};
use matrix_api::server_server as ss;
use matrix_api::Raw;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

const STATES: [&str; 3] = ["online", "unavailable", "offline"];

impl Homeserver {
    /// The users in the rooms `user_id` is joined to, `user_id` included:
    /// those whose presence and devices concern them.
    pub(super) fn companions(&self, user_id: &str) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::from([user_id.to_owned()]);
        for (room_id, membership) in self.store.rooms_of(user_id).map_err(internal)? {
            if membership != "join" {
                continue;
            }
            for e in self.store.current_state(&room_id).map_err(internal)? {
                if e.event_type == "m.room.member" && e.content["membership"] == "join" {
                    out.extend(e.state_key);
                }
            }
        }
        Ok(out)
    }

    /// Sets the user's presence state (keeping the status message) unless
    /// it is already that: what each `/sync` does.
    pub(super) fn mark_presence(&self, user_id: &str, state: &str) -> Result<()> {
        let current = self.store.presence(user_id).map_err(internal)?;
        if current.as_ref().is_some_and(|p| p.state == state) {
            return Ok(());
        }
        let presence = Presence {
            state: state.to_owned(),
            status_msg: current.and_then(|p| p.status_msg),
            last_active_ts: now_ms(),
        };
        self.store.set_presence(user_id, &presence).map_err(internal)?;
        self.changes.notify_waiters();
        self.share_presence(user_id, &presence)
    }

    /// The servers of the users who share a room with `user_id` (this one
    /// included; queueing leaves it out).
    pub(super) fn companion_servers(&self, user_id: &str) -> Result<BTreeSet<String>> {
        Ok(self
            .companions(user_id)?
            .iter()
            .filter_map(|user| super::server_of(user))
            .map(str::to_owned)
            .collect())
    }

    /// Sends a local user's new presence to the servers of the users who
    /// share a room with them.
    fn share_presence(&self, user_id: &str, presence: &Presence) -> Result<()> {
        let servers = self.companion_servers(user_id)?;
        let state = ss::PresenceContentPushItemPresence::from(presence.state.as_str());
        let mut update =
            ss::UserPresenceUpdate::new(user_id.to_owned(), state, (now_ms() - presence.last_active_ts).max(0));
        update.status_msg = presence.status_msg.clone();
        update.currently_active = Some(presence.state == "online");
        let edu = ss::Presence::new(ss::PresenceUpdate::new(vec![update]));
        super::ephemeral::queue_edu(self, servers, &edu)
    }
}

pub(crate) fn content(presence: &Presence) -> Result<PresenceEventContent> {
    let state = serde_json::from_value(Value::String(presence.state.clone())).map_err(internal)?;
    let mut content = PresenceEventContent::new(state);
    content.last_active_ago = Some((now_ms() - presence.last_active_ts).max(0) as f64);
    content.currently_active = Some(presence.state == "online");
    content.status_msg = presence.status_msg.clone();
    Ok(content)
}

/// The `m.presence` events of `/sync`: presence set after side position
/// `after` by the user's companions.
pub(super) fn sync_events(
    hs: &Homeserver,
    user_id: &str,
    after: i64,
    filter: EventFilter<'_>,
) -> Result<Vec<Raw<Event>>> {
    let changed = hs.store.presence_since(after).map_err(internal)?;
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let companions = hs.companions(user_id)?;
    changed
        .iter()
        .filter(|(user, _)| companions.contains(user) && filter.allows("m.presence", user))
        .map(|(user, presence)| raw(&PresenceEvent::new(content(presence)?, user.clone())))
        .collect()
}

pub(super) fn set(
    hs: &Homeserver,
    request: cs::set_presence::Request,
    credentials: Credentials,
) -> Result<cs::set_presence::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    if request.path.user_id != user_id {
        return Err(MatrixError::forbidden("You cannot set another user's presence"));
    }
    let body = request.body;
    if !body.presence.is_listed() {
        return Err(MatrixError::invalid_param(format!(
            "presence must be one of {}",
            STATES.join(", ")
        )));
    }
    let presence = Presence {
        state: body.presence.as_str().to_owned(),
        status_msg: body.status_msg,
        last_active_ts: now_ms(),
    };
    hs.store.set_presence(&user_id, &presence).map_err(internal)?;
    hs.changes.notify_waiters();
    hs.share_presence(&user_id, &presence)?;
    Ok(cs::set_presence::Response::Ok(Map::new()))
}

pub(super) fn get(
    hs: &Homeserver,
    request: cs::get_presence::Request,
    credentials: Credentials,
) -> Result<cs::get_presence::Response> {
    let (caller, _) = hs.user(&credentials)?;
    let user_id = request.path.user_id;
    if !hs.companions(&caller)?.contains(&user_id) {
        return Err(MatrixError::forbidden("You share no room with this user"));
    }
    let presence = hs.store.presence(&user_id).map_err(internal)?.unwrap_or(Presence {
        state: "offline".into(),
        status_msg: None,
        last_active_ts: 0,
    });
    let mut response = GetPresenceResponse::new(presence.state.as_str().into());
    if presence.last_active_ts > 0 {
        response.last_active_ago = Some((now_ms() - presence.last_active_ts).max(0));
    }
    response.currently_active = Some(presence.state == "online");
    response.status_msg = Some(presence.status_msg);
    Ok(cs::get_presence::Response::Ok(response))
}
