//! Filters (`POST /user/{userId}/filter`, `?filter=` on `/sync`,
//! `/messages` and `/context`): which rooms and events a client wants.
//! Supported: `rooms`/`not_rooms`, `types`/`not_types` (with `*`
//! wildcards), `senders`/`not_senders`, `limit`, `include_leave`.

use serde_json::Value;

/// An event filter (`EventFilter` / `RoomEventFilter` JSON); `Null` allows all.
#[derive(Clone, Copy)]
pub(super) struct EventFilter<'a>(pub &'a Value);

impl EventFilter<'_> {
    pub fn allows(&self, event_type: &str, sender: &str) -> bool {
        let f = self.0;
        let any = |key: &str, value: &str, is_type: bool| {
            f[key].as_array().map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .any(|p| if is_type { type_matches(p, value) } else { p == value })
            })
        };
        any("types", event_type, true).unwrap_or(true)
            && !any("not_types", event_type, true).unwrap_or(false)
            && any("senders", sender, false).unwrap_or(true)
            && !any("not_senders", sender, false).unwrap_or(false)
    }

    pub fn allows_room(&self, room_id: &str) -> bool {
        let f = self.0;
        let listed = |key: &str| f[key].as_array().map(|l| l.iter().any(|r| r == room_id));
        listed("rooms").unwrap_or(true) && !listed("not_rooms").unwrap_or(false)
    }

    pub fn limit(&self) -> Option<usize> {
        self.0["limit"].as_u64().map(|l| l as usize)
    }
}

/// A type pattern: exact, or a prefix ending in `*`.
fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_senders_and_wildcards() {
        let f = json!({ "types": ["m.room.*"], "not_senders": ["@spam:hs"] });
        let f = EventFilter(&f);
        assert!(f.allows("m.room.message", "@a:hs"));
        assert!(!f.allows("m.reaction", "@a:hs"));
        assert!(!f.allows("m.room.message", "@spam:hs"));
        assert!(EventFilter(&Value::Null).allows("anything", "@a:hs"));
    }

    #[test]
    fn rooms_and_not_rooms() {
        let f = json!({ "rooms": ["!a:hs", "!b:hs"], "not_rooms": ["!b:hs"] });
        let f = EventFilter(&f);
        assert!(f.allows_room("!a:hs"));
        assert!(!f.allows_room("!b:hs"));
        assert!(!f.allows_room("!c:hs"));
    }
}
