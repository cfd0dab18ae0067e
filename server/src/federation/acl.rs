//! Server ACLs (`m.room.server_acl`): which servers may take part in a
//! room. The spec applies them at the network layer, not in the
//! authorization rules: a server the room's current ACL denies is answered
//! `403 M_FORBIDDEN` on the endpoints the server-server spec lists
//! (joins, leaves, invites, knocks, state, backfill, auth chains, missing
//! events), and in `/send` its PDUs for that room get an error and its
//! typing notifications and receipts for that room are ignored.
//!
//! The content is read as the event's description says, leniently: a
//! missing or non-boolean `allow_ip_literals` is `true`, a missing `allow`
//! allows no one, and entries that are not strings match nothing. An ACL
//! whose JSON does not fit the generated content type still applies, so it
//! is read from the stored JSON rather than decoded into that type.

use super::Federation;
use crate::glob::glob_matches;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::Value;

/// The state event type that holds a room's ACL.
pub(crate) const SERVER_ACL: &str = "m.room.server_acl";

/// One room's ACL, as the rules read it.
#[derive(Debug, Default)]
pub(crate) struct ServerAcl {
    allow_ip_literals: bool,
    allow: Vec<String>,
    deny: Vec<String>,
}

impl ServerAcl {
    /// The ACL an event's content states.
    pub(crate) fn from_content(content: &Value) -> ServerAcl {
        let globs = |key: &str| -> Vec<String> {
            content[key]
                .as_array()
                .map(|entries| entries.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        ServerAcl {
            allow_ip_literals: content["allow_ip_literals"].as_bool().unwrap_or(true),
            allow: globs("allow"),
            deny: globs("deny"),
        }
    }

    /// Whether `server_name` may take part, in the spec's order: an IP
    /// literal when they are not allowed is denied, then a `deny` match
    /// denies, an `allow` match allows, and anything else is denied. The
    /// port is never part of what is matched.
    pub(crate) fn allows(&self, server_name: &str) -> bool {
        let host = without_port(server_name);
        if !self.allow_ip_literals && is_ip_literal(host) {
            return false;
        }
        if self.deny.iter().any(|glob| glob_matches(glob, host)) {
            return false;
        }
        self.allow.iter().any(|glob| glob_matches(glob, host))
    }
}

/// A server name without its port: `example.org:8448` → `example.org`,
/// `[::1]:8448` → `[::1]` (an IPv6 literal keeps its brackets).
fn without_port(server_name: &str) -> &str {
    crate::server_name::split(server_name).written
}

fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

impl Federation {
    /// `Ok` when `room_id` has no ACL or its ACL allows `origin`; else the
    /// `403 M_FORBIDDEN` the spec prescribes. A room not known here has no
    /// ACL to apply: the endpoint answers for the room itself.
    pub(super) fn check_acl(&self, room_id: &str, origin: &str) -> Result<(), MatrixError> {
        let acl = self
            .hs
            .store
            .state_event(room_id, SERVER_ACL, "")
            .map_err(crate::api::internal)?;
        match acl {
            Some(event) if !ServerAcl::from_content(&event.content).allows(origin) => Err(MatrixError::forbidden(
                format!("{origin} is denied by the server ACL of {room_id}"),
            )),
            _ => Ok(()),
        }
    }

    /// [`Self::check_acl`] for the server that signed a request: what the
    /// protected endpoints do first.
    pub(super) fn check_acl_of(&self, room_id: &str, credentials: &Credentials) -> Result<(), MatrixError> {
        self.check_acl(room_id, super::membership::origin(credentials)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acl(content: Value) -> ServerAcl {
        ServerAcl::from_content(&content)
    }

    #[test]
    fn deny_comes_before_allow_and_the_rest_is_denied() {
        let rules = acl(json!({ "allow": ["*"], "deny": ["evil.com", "*.evil.com"] }));
        assert!(rules.allows("good.example"));
        assert!(!rules.allows("evil.com") && !rules.allows("sub.evil.com"));
        assert!(rules.allows("notevil.com"), "a glob matches the whole name");
        let only = acl(json!({ "allow": ["*.example.org", "matrix.org"] }));
        assert!(only.allows("chat.example.org") && only.allows("matrix.org"));
        assert!(!only.allows("example.org") && !only.allows("elsewhere.net"));
        assert!(only.allows("MATRIX.ORG"), "case-insensitive");
    }

    #[test]
    fn ports_are_not_considered() {
        let rules = acl(json!({ "allow": ["*"], "deny": ["evil.com"] }));
        for name in ["evil.com", "evil.com:8448", "evil.com:1234"] {
            assert!(!rules.allows(name), "{name}");
        }
        assert!(!acl(json!({ "allow": ["*:8448"] })).allows("good.example:8448"));
    }

    #[test]
    fn ip_literals_are_denied_only_when_the_acl_says_so() {
        let open = acl(json!({ "allow": ["*"] }));
        assert!(open.allows("127.0.0.1:8448") && open.allows("[::1]:8448"));
        let closed = acl(json!({ "allow": ["*"], "allow_ip_literals": false }));
        assert!(!closed.allows("127.0.0.1:8448") && !closed.allows("[::1]") && !closed.allows("10.0.0.1"));
        assert!(closed.allows("example.org"));
        let not_a_bool = acl(json!({ "allow": ["*"], "allow_ip_literals": "no" }));
        assert!(not_a_bool.allows("127.0.0.1"), "not a boolean: the default, true");
        assert!(acl(json!({ "allow": ["[::1]"] })).allows("[::1]:99"));
    }

    #[test]
    fn a_missing_allow_list_allows_no_one() {
        assert!(!acl(json!({})).allows("example.org"));
        assert!(!acl(json!({ "deny": [] })).allows("example.org"));
        let odd = acl(json!({ "allow": [7, null, "ok.example"], "deny": "everyone" }));
        assert!(odd.allows("ok.example") && !odd.allows("other.example"));
    }
}
