//! History visibility: which of a room's events a user may see, from the
//! `m.room.history_visibility` in force when each was sent and the user's
//! membership then (client-server API, "History visibility"):
//!
//! - `world_readable`: everyone;
//! - `shared`: members, including those who joined later, while they are
//!   joined;
//! - `invited`: what was sent while the user was invited or joined;
//! - `joined`: what was sent while the user was joined.
//!
//! A user always sees their own membership events.

use crate::store::{Storage, StoredEvent};
use matrix_api::events::{
    RoomHistoryVisibilityEventContent, RoomHistoryVisibilityEventContentHistoryVisibility as HistoryVisibility,
    RoomMemberEventContent, RoomMemberEventContentMembership as Membership,
};
use matrix_api::EventContent;
use std::collections::BTreeSet;

/// The stream positions of a room's events a user may see.
pub(super) struct Visible {
    positions: BTreeSet<i64>,
}

impl Visible {
    /// Replays the room's events up to `upto` (inclusive) for `user_id`.
    pub(super) fn compute(
        store: &dyn Storage,
        room_id: &str,
        user_id: &str,
        upto: i64,
    ) -> crate::store::StoreResult<Self> {
        let events = store.events_between(room_id, i64::MIN, upto)?;
        // `shared` asks whether the user is joined now, not at `upto`.
        let now = store.membership(room_id, user_id)?.map(Membership::from);
        Ok(Self::of(&events, user_id, now))
    }

    fn of(events: &[StoredEvent], user_id: &str, now: Option<Membership>) -> Self {
        let mut membership: Option<Membership> = None;
        // Until a room says otherwise, `shared` (the spec's default).
        let mut visibility = HistoryVisibility::Shared;
        let joined_now = now == Some(Membership::Join);
        let mut positions = BTreeSet::new();
        for e in events {
            let own_member_event =
                e.event_type == RoomMemberEventContent::EVENT_TYPE && e.state_key.as_deref() == Some(user_id);
            let new_visibility = (e.event_type == RoomHistoryVisibilityEventContent::EVENT_TYPE
                && e.state_key.as_deref() == Some(""))
            .then(|| e.content_as::<RoomHistoryVisibilityEventContent>())
            .flatten()
            .map(|c| c.history_visibility);
            // A change of visibility is itself seen under the more open of
            // the two settings (as Synapse does).
            let effective = match &new_visibility {
                Some(new) if openness(new) < openness(&visibility) => new.clone(),
                _ => visibility.clone(),
            };
            let visible = own_member_event
                || match effective {
                    HistoryVisibility::WorldReadable => true,
                    HistoryVisibility::Shared => joined_now || membership == Some(Membership::Join),
                    HistoryVisibility::Invited => {
                        matches!(membership, Some(Membership::Join | Membership::Invite))
                    }
                    // `joined`, and any value this server does not know:
                    // the strictest reading.
                    _ => membership == Some(Membership::Join),
                };
            if visible {
                positions.insert(e.stream);
            }
            // The event's own effect applies to the events after it.
            if own_member_event {
                membership = e.content_as::<RoomMemberEventContent>().map(|m| m.membership);
            }
            if let Some(new) = new_visibility {
                visibility = new;
            }
        }
        Visible { positions }
    }

    pub(super) fn allows(&self, event: &StoredEvent) -> bool {
        self.positions.contains(&event.stream)
    }
}

/// 0 for the most open setting; unknown values count as the strictest.
fn openness(v: &HistoryVisibility) -> u8 {
    match v {
        HistoryVisibility::WorldReadable => 0,
        HistoryVisibility::Shared => 1,
        HistoryVisibility::Invited => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn event(stream: i64, t: &str, key: Option<&str>, content: Value) -> StoredEvent {
        StoredEvent::unstored(stream, t, key, "@a:hs", content)
    }

    fn member(stream: i64, who: &str, membership: &str) -> StoredEvent {
        event(stream, "m.room.member", Some(who), json!({ "membership": membership }))
    }

    fn message(stream: i64) -> StoredEvent {
        event(stream, "m.room.message", None, json!({ "body": "x" }))
    }

    fn visibility(stream: i64, v: &str) -> StoredEvent {
        event(
            stream,
            "m.room.history_visibility",
            Some(""),
            json!({ "history_visibility": v }),
        )
    }

    fn current_membership(events: &[StoredEvent], user_id: &str) -> Option<Membership> {
        events
            .iter()
            .rev()
            .find(|e| e.event_type == RoomMemberEventContent::EVENT_TYPE && e.state_key.as_deref() == Some(user_id))
            .and_then(|e| e.content_as::<RoomMemberEventContent>())
            .map(|m| m.membership)
    }

    fn seen(events: &[StoredEvent], user: &str) -> Vec<i64> {
        let v = Visible::of(events, user, current_membership(events, user));
        events.iter().filter(|e| v.allows(e)).map(|e| e.stream).collect()
    }

    #[test]
    fn joined_hides_what_came_before_the_join() {
        let events = [
            visibility(1, "joined"),
            message(2),
            member(3, "@b:hs", "invite"),
            message(4),
            member(5, "@b:hs", "join"),
            message(6),
        ];
        // The setting itself was sent under the room's default, `shared`.
        assert_eq!(seen(&events, "@b:hs"), [1, 3, 5, 6]);
    }

    #[test]
    fn invited_shows_from_the_invite() {
        let events = [
            visibility(1, "invited"),
            message(2),
            member(3, "@b:hs", "invite"),
            message(4),
            member(5, "@b:hs", "join"),
            message(6),
        ];
        assert_eq!(seen(&events, "@b:hs"), [1, 3, 4, 5, 6]);
    }

    #[test]
    fn shared_shows_everything_to_members_only() {
        let events = [
            visibility(1, "shared"),
            message(2),
            member(3, "@b:hs", "join"),
            message(4),
        ];
        assert_eq!(seen(&events, "@b:hs"), [1, 2, 3, 4]);
        // Someone who rejected an invite sees only their own membership.
        let rejected = [
            visibility(1, "shared"),
            message(2),
            member(3, "@c:hs", "invite"),
            message(4),
            member(5, "@c:hs", "leave"),
        ];
        assert_eq!(seen(&rejected, "@c:hs"), [3, 5]);
    }

    #[test]
    fn world_readable_shows_everything() {
        let events = [visibility(1, "world_readable"), message(2)];
        assert_eq!(seen(&events, "@z:hs"), [1, 2]);
    }
}
