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

/// Checks what the spec's filter schemas constrain beyond their shape:
/// room lists hold room IDs (`^!`), sender lists user IDs (`^@`), at any
/// depth. Returns the offending path.
pub(super) fn validate(filter: &Value) -> Result<(), String> {
    fn walk(v: &Value, path: &str) -> Result<(), String> {
        let Value::Object(map) = v else { return Ok(()) };
        for (key, value) in map {
            let here = format!("{path}.{key}");
            let prefix = match key.as_str() {
                "rooms" | "not_rooms" => Some('!'),
                "senders" | "not_senders" => Some('@'),
                _ => None,
            };
            match (prefix, value) {
                (Some(p), Value::Array(items)) => {
                    if let Some(bad) = items.iter().find(|i| !i.as_str().is_some_and(|s| s.starts_with(p))) {
                        return Err(format!("{here}: {bad} does not start with {p}"));
                    }
                }
                _ => walk(value, &here)?,
            }
        }
        Ok(())
    }
    walk(filter, "filter")
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
    fn ids_in_lists_are_checked_at_any_depth() {
        assert!(validate(&json!({ "room": { "not_rooms": ["!a:hs"], "timeline": { "senders": ["@a:hs"] } } })).is_ok());
        assert!(validate(&json!({ "room": { "not_rooms": [""] } })).is_err());
        assert!(validate(&json!({ "presence": { "senders": ["alice"] } })).is_err());
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
