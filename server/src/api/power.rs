//! Power levels read from the typed `m.room.power_levels` content, with the
//! defaults the spec gives for each absent key.

use matrix_api::events::RoomPowerLevelsEventContent as Levels;

/// The level an action needs (`ban`, `kick`, `redact`, `invite`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Action {
    Ban,
    Kick,
    Redact,
    Invite,
}

impl Action {
    /// The level the action needs: `invite` defaults to 0, the others to 50.
    pub(super) fn level(self, levels: &Levels) -> i64 {
        let (value, default) = match self {
            Action::Ban => (levels.ban, 50),
            Action::Kick => (levels.kick, 50),
            Action::Redact => (levels.redact, 50),
            Action::Invite => (levels.invite, 0),
        };
        value.unwrap_or(default)
    }
}

/// A user's level: their entry in `users`, else `users_default` (0).
pub(super) fn user_level(levels: &Levels, user_id: &str) -> i64 {
    levels
        .users
        .as_ref()
        .and_then(|users| users.get(user_id).copied())
        .or(levels.users_default)
        .unwrap_or(0)
}

/// The level needed to send a state event of this type: its entry in
/// `events`, else `state_default` (50).
pub(super) fn state_level(levels: &Levels, event_type: &str) -> i64 {
    event_entry(levels, event_type).or(levels.state_default).unwrap_or(50)
}

/// The level needed to send a message event of this type: its entry in
/// `events`, else `events_default` (0).
pub(super) fn message_level(levels: &Levels, event_type: &str) -> i64 {
    event_entry(levels, event_type).or(levels.events_default).unwrap_or(0)
}

fn event_entry(levels: &Levels, event_type: &str) -> Option<i64> {
    levels
        .events
        .as_ref()
        .and_then(|events| events.get(event_type).copied())
}
