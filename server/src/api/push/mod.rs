//! Push rules and notifications: the rule set endpoints
//! (`/pushrules/...`), the evaluation of every new event against each
//! member's rules (stored with the event, see [`Homeserver::notifications_for`]),
//! and what it feeds: `unread_notifications` in `/sync` and `/notifications`.

pub(crate) mod delivery;
mod evaluate;
pub(super) mod pushers;
pub(super) mod rules;

use super::auth::RoomState;
use super::{events, internal, json_of, Homeserver, Result};
use crate::store::{NewNotification, StoredEvent};
use evaluate::{evaluate, Context};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    BooleanCapability, GetNotificationsResponse, GetPushRuleKind, GetPushRulesResponse, PushRule, PushRuleset,
    SetPushRuleActionsRequest, UnreadNotificationCounts,
};
use matrix_api::events::RoomMemberEventContent;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use rules::{EditError, NewRule};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

impl From<EditError> for MatrixError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::NotFound(why) => MatrixError::not_found(why),
            EditError::Invalid(why) => MatrixError::invalid_param(why),
        }
    }
}

/// Rule sets read since start, by user: every event is evaluated against
/// every member's rules, which should not mean a read and a parse each.
#[derive(Default)]
pub struct RuleCache(Mutex<HashMap<String, Arc<PushRuleset>>>);

impl RuleCache {
    fn get(&self, user_id: &str) -> Option<Arc<PushRuleset>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(user_id).cloned()
    }

    fn put(&self, user_id: &str, rules: Arc<PushRuleset>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user_id.to_owned(), rules);
    }

    /// Forgets a user's rules, changed by another process.
    pub fn forget(&self, user_id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(user_id);
    }

    pub fn forget_all(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Homeserver {
    /// The user's rule set: as stored, or the server defaults.
    fn shared_push_rules(&self, user_id: &str) -> Result<Arc<PushRuleset>> {
        if let Some(rules) = self.push_cache.get(user_id) {
            return Ok(rules);
        }
        let stored = self
            .store
            .account_data(user_id, "", rules::ACCOUNT_DATA_TYPE)
            .map_err(internal)?;
        let rules = Arc::new(
            stored
                .and_then(|content| serde_json::from_value(content.get("global")?.clone()).ok())
                .unwrap_or_else(|| rules::defaults(user_id)),
        );
        self.push_cache.put(user_id, rules.clone());
        Ok(rules)
    }

    /// A copy of the user's rule set, to answer with or edit.
    pub(super) fn push_rules(&self, user_id: &str) -> Result<PushRuleset> {
        Ok(self.shared_push_rules(user_id)?.as_ref().clone())
    }

    /// Stores the rule set (as account data, which `/sync` then delivers).
    pub(super) fn set_push_rules(&self, user_id: &str, rules: &PushRuleset) -> Result<()> {
        let content = json!({ "global": json_of(rules)? });
        self.store
            .set_account_data(user_id, "", rules::ACCOUNT_DATA_TYPE, &content)
            .map_err(internal)?;
        self.push_cache.put(user_id, Arc::new(rules.clone()));
        self.store.publish(&format!("{}{user_id}", crate::signals::RULES));
        self.changes.notify_waiters();
        Ok(())
    }

    /// Reads, edits and stores the caller's rule set in one step.
    fn edit_push_rules<T>(&self, user_id: &str, edit: impl FnOnce(&mut PushRuleset) -> Result<T>) -> Result<T> {
        let _one_at_a_time = self.lock_appends()?;
        let mut rules = self.push_rules(user_id)?;
        let out = edit(&mut rules)?;
        self.set_push_rules(user_id, &rules)?;
        Ok(out)
    }

    /// What each member's push rules make of an event about to be appended
    /// to a room in `state` (the state before it). Members are the joined
    /// users, and the invitee of an invite; never the sender.
    pub(super) fn notifications_for(
        &self,
        room: &RoomState<'_>,
        state: &[StoredEvent],
        event: &Value,
    ) -> Result<Vec<NewNotification>> {
        let sender = event["sender"].as_str().unwrap_or_default();
        let members: Vec<(&str, RoomMemberEventContent)> = state
            .iter()
            .filter(|e| e.event_type == "m.room.member")
            .filter_map(|e| Some((e.state_key.as_deref()?, e.content_as::<RoomMemberEventContent>()?)))
            .collect();
        let joined = members.iter().filter(|(_, m)| m.membership.as_str() == "join").count() as u64;
        let invitee = (event["type"] == "m.room.member" && event["content"]["membership"] == "invite")
            .then(|| event["state_key"].as_str())
            .flatten();
        let levels = room.levels();
        let notification_level = |key: &str| {
            let n = levels.notifications.as_ref();
            match key {
                "room" => n.and_then(|n| n.room).unwrap_or(50),
                other => n
                    .and_then(|n| n.additional_properties.get(other).copied())
                    .unwrap_or(50),
            }
        };
        let mut out = Vec::new();
        let recipients = members
            .iter()
            .filter(|(_, m)| m.membership.as_str() == "join")
            .map(|(user, _)| *user)
            .chain(invitee)
            .filter(|user| *user != sender && user.ends_with(&format!(":{}", self.server_name)));
        for user_id in recipients {
            let display_name = members
                .iter()
                .find(|(u, _)| *u == user_id)
                .and_then(|(_, m)| m.displayname.clone().flatten());
            let context = Context {
                display_name: display_name.as_deref(),
                member_count: joined,
                sender_level: room.level(sender),
                notification_level: &notification_level,
            };
            let rules = self.shared_push_rules(user_id)?;
            let Some(decision) = evaluate(&rules, event, &context) else {
                continue;
            };
            if decision.notify {
                out.push(NewNotification {
                    user_id: user_id.to_owned(),
                    actions: json_of(&decision.actions)?,
                    highlight: decision.highlight,
                });
            }
        }
        Ok(out)
    }

    /// The stream position up to which the user has read the room: their
    /// latest unthreaded (or main-thread) public or private read receipt.
    fn read_up_to(&self, room_id: &str, user_id: &str) -> Result<i64> {
        let mut upto = 0;
        for r in self.store.receipts_since(room_id, 0).map_err(internal)? {
            let counts = r.user_id == user_id
                && matches!(r.receipt_type.as_str(), "m.read" | "m.read.private")
                && matches!(r.thread_id.as_str(), "" | "main");
            if counts {
                if let Some(e) = self.store.event(&r.event_id).map_err(internal)? {
                    upto = upto.max(e.stream);
                }
            }
        }
        Ok(upto)
    }

    /// `unread_notifications` of a joined room in `/sync`.
    pub(super) fn unread_counts(&self, room_id: &str, user_id: &str) -> Result<UnreadNotificationCounts> {
        let read = self.read_up_to(room_id, user_id)?;
        let (notifications, highlights) = self
            .store
            .notification_counts(user_id, room_id, read)
            .map_err(internal)?;
        Ok(UnreadNotificationCounts {
            notification_count: Some(notifications),
            highlight_count: Some(highlights),
        })
    }
}

pub(super) fn get_all(
    hs: &Homeserver,
    _: cs::get_push_rules::Request,
    credentials: Credentials,
) -> Result<cs::get_push_rules::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    Ok(cs::get_push_rules::Response::Ok(GetPushRulesResponse::new(
        hs.push_rules(&user_id)?,
    )))
}

pub(super) fn get_global(
    hs: &Homeserver,
    _: cs::get_push_rules_global::Request,
    credentials: Credentials,
) -> Result<cs::get_push_rules_global::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    Ok(cs::get_push_rules_global::Response::Ok(hs.push_rules(&user_id)?))
}

/// One rule, looked up for reading.
fn read_rule(hs: &Homeserver, credentials: &Credentials, kind: &GetPushRuleKind, rule_id: &str) -> Result<PushRule> {
    let (user_id, _) = hs.user(credentials)?;
    let mut rules = hs.push_rules(&user_id)?;
    Ok(rules::find(&mut rules, kind, rule_id)?.clone())
}

pub(super) fn get_rule(
    hs: &Homeserver,
    r: cs::get_push_rule::Request,
    credentials: Credentials,
) -> Result<cs::get_push_rule::Response> {
    let rule = read_rule(hs, &credentials, &r.path.kind, &r.path.rule_id)?;
    Ok(cs::get_push_rule::Response::Ok(rule))
}

pub(super) fn set_rule(
    hs: &Homeserver,
    r: cs::set_push_rule::Request,
    credentials: Credentials,
) -> Result<cs::set_push_rule::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let new = NewRule {
        rule_id: r.path.rule_id,
        actions: r.body.actions,
        conditions: r.body.conditions,
        pattern: r.body.pattern,
        before: r.query.before,
        after: r.query.after,
    };
    hs.edit_push_rules(&user_id, |rules| Ok(rules::put(rules, &r.path.kind, new)?))?;
    Ok(cs::set_push_rule::Response::Ok(Map::new()))
}

pub(super) fn delete_rule(
    hs: &Homeserver,
    r: cs::delete_push_rule::Request,
    credentials: Credentials,
) -> Result<cs::delete_push_rule::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    hs.edit_push_rules(&user_id, |rules| {
        Ok(rules::delete(rules, &r.path.kind, &r.path.rule_id)?)
    })?;
    Ok(cs::delete_push_rule::Response::Ok(Map::new()))
}

pub(super) fn is_enabled(
    hs: &Homeserver,
    r: cs::is_push_rule_enabled::Request,
    credentials: Credentials,
) -> Result<cs::is_push_rule_enabled::Response> {
    let rule = read_rule(hs, &credentials, &r.path.kind, &r.path.rule_id)?;
    Ok(cs::is_push_rule_enabled::Response::Ok(BooleanCapability::new(
        rule.enabled,
    )))
}

pub(super) fn set_enabled(
    hs: &Homeserver,
    r: cs::set_push_rule_enabled::Request,
    credentials: Credentials,
) -> Result<cs::set_push_rule_enabled::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    hs.edit_push_rules(&user_id, |rules| {
        rules::find(rules, &r.path.kind, &r.path.rule_id)?.enabled = r.body.enabled;
        Ok(())
    })?;
    Ok(cs::set_push_rule_enabled::Response::Ok(Map::new()))
}

pub(super) fn get_actions(
    hs: &Homeserver,
    r: cs::get_push_rule_actions::Request,
    credentials: Credentials,
) -> Result<cs::get_push_rule_actions::Response> {
    let rule = read_rule(hs, &credentials, &r.path.kind, &r.path.rule_id)?;
    Ok(cs::get_push_rule_actions::Response::Ok(SetPushRuleActionsRequest::new(
        rule.actions,
    )))
}

pub(super) fn set_actions(
    hs: &Homeserver,
    r: cs::set_push_rule_actions::Request,
    credentials: Credentials,
) -> Result<cs::set_push_rule_actions::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    hs.edit_push_rules(&user_id, |rules| {
        rules::find(rules, &r.path.kind, &r.path.rule_id)?.actions = r.body.actions;
        Ok(())
    })?;
    Ok(cs::set_push_rule_actions::Response::Ok(Map::new()))
}

const DEFAULT_NOTIFICATIONS_LIMIT: i64 = 20;
const MAX_NOTIFICATIONS_LIMIT: i64 = 100;

/// `/notifications`: newest first, `from` a token of an earlier page
/// (`n{stream}`), `only=highlight` for highlights.
pub(super) fn list(
    hs: &Homeserver,
    r: cs::get_notifications::Request,
    credentials: Credentials,
) -> Result<cs::get_notifications::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let before = match r.query.from.as_deref() {
        Some(token) => Some(
            token
                .strip_prefix('n')
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| MatrixError::invalid_param("from is not a token of /notifications"))?,
        ),
        None => None,
    };
    let limit = r
        .query
        .limit
        .unwrap_or(DEFAULT_NOTIFICATIONS_LIMIT)
        .clamp(1, MAX_NOTIFICATIONS_LIMIT);
    let highlights_only = r.query.only.as_deref() == Some("highlight");
    let found = hs
        .store
        .notifications(&user_id, before, limit, highlights_only)
        .map_err(internal)?;
    let mut read_in = std::collections::HashMap::new();
    let mut notifications = Vec::with_capacity(found.len());
    for n in &found {
        let Some(event) = hs.store.event(&n.event_id).map_err(internal)? else {
            continue;
        };
        let read = match read_in.get(&n.room_id) {
            Some(upto) => *upto,
            None => *read_in
                .entry(n.room_id.clone())
                .or_insert(hs.read_up_to(&n.room_id, &user_id)?),
        };
        let actions = serde_json::from_value(n.actions.clone()).map_err(internal)?;
        notifications.push(matrix_api::client_server::Notification::new(
            actions,
            events::sync_event(&event)?,
            n.stream <= read,
            n.room_id.clone(),
            n.ts,
        ));
    }
    let next_token = (found.len() as i64 == limit)
        .then(|| found.last().map(|n| format!("n{}", n.stream)))
        .flatten();
    let mut response = GetNotificationsResponse::new(notifications);
    response.next_token = next_token;
    Ok(cs::get_notifications::Response::Ok(response))
}
