//! Push rule evaluation, as the spec's Push Notifications module defines
//! it: the first enabled rule that matches, in the order override, content,
//! room, sender, underride, gives the event's actions for one user.
//!
//! Pure: everything about the room the conditions need is in [`Context`].

use crate::glob::glob_matches;
use matrix_api::client_server::{PushCondition, PushConditionValue, PushRule, PushRuleActionsItem, PushRuleset};
use regex::Regex;
use serde_json::Value;

/// What the conditions read beyond the event itself.
pub struct Context<'a> {
    /// The owner's display name in the room, for `contains_display_name`.
    pub display_name: Option<&'a str>,
    /// Joined members, for `room_member_count`.
    pub member_count: u64,
    /// The sender's power level, for `sender_notification_permission`.
    pub sender_level: i64,
    /// The level a notification key (`room`) needs; the spec's default is 50.
    pub notification_level: &'a dyn Fn(&str) -> i64,
}

/// What the rules decided for one user.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// The matching rule's actions, without the historical ones.
    pub actions: Vec<PushRuleActionsItem>,
    pub notify: bool,
    pub highlight: bool,
}

/// The decision of the first matching rule, or `None` when none matches.
/// `event` is the event in its client form (`type`, `content`, `sender`,
/// `room_id`, `state_key`).
pub fn evaluate(rules: &PushRuleset, event: &Value, context: &Context<'_>) -> Option<Decision> {
    let kinds: [(&Option<Vec<PushRule>>, Kind); 5] = [
        (&rules.r#override, Kind::Conditions),
        (&rules.content, Kind::Content),
        (&rules.room, Kind::Room),
        (&rules.sender, Kind::Sender),
        (&rules.underride, Kind::Conditions),
    ];
    let rule = kinds.iter().find_map(|(rules, kind)| {
        rules
            .iter()
            .flatten()
            .find(|rule| rule.enabled && matches(rule, *kind, event, context))
    })?;
    Some(decision(&rule.actions))
}

#[derive(Clone, Copy)]
enum Kind {
    Conditions,
    Content,
    Room,
    Sender,
}

fn matches(rule: &PushRule, kind: Kind, event: &Value, context: &Context<'_>) -> bool {
    match kind {
        Kind::Conditions => rule
            .conditions
            .iter()
            .flatten()
            .all(|c| condition_holds(c, event, context)),
        Kind::Content => rule.pattern.as_deref().is_some_and(|p| {
            property(event, "content.body")
                .and_then(Value::as_str)
                .is_some_and(|b| body_matches(p, b))
        }),
        Kind::Room => event["room_id"].as_str() == Some(rule.rule_id.as_str()),
        Kind::Sender => event["sender"].as_str() == Some(rule.rule_id.as_str()),
    }
}

fn condition_holds(condition: &PushCondition, event: &Value, context: &Context<'_>) -> bool {
    let key = condition.key.as_deref();
    match condition.kind.as_str() {
        "event_match" => {
            let (Some(key), Some(pattern)) = (key, condition.pattern.as_deref()) else {
                return false;
            };
            match property(event, key).and_then(Value::as_str) {
                Some(value) if key == "content.body" => body_matches(pattern, value),
                Some(value) => glob_matches(pattern, value),
                None => false,
            }
        }
        "event_property_is" => {
            let (Some(key), Some(expected)) = (key, condition.value.as_ref()) else {
                return false;
            };
            property(event, key).is_some_and(|v| scalar_equals(v, expected.as_ref()))
        }
        "event_property_contains" => {
            let (Some(key), Some(expected)) = (key, condition.value.as_ref()) else {
                return false;
            };
            property(event, key)
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|v| scalar_equals(v, expected.as_ref())))
        }
        "contains_display_name" => match (context.display_name, property(event, "content.body")) {
            (Some(name), Some(Value::String(body))) if !name.is_empty() => {
                Regex::new(&format!("(?i)(?:^|{NOT_WORD}){}(?:{NOT_WORD}|$)", regex::escape(name)))
                    .is_ok_and(|re| re.is_match(body))
            }
            _ => false,
        },
        "room_member_count" => condition
            .is
            .as_deref()
            .and_then(member_count_test)
            .is_some_and(|test| test(context.member_count)),
        "sender_notification_permission" => {
            key.is_some_and(|key| context.sender_level >= (context.notification_level)(key))
        }
        // Unrecognised conditions never match.
        _ => false,
    }
}

/// The value at a dot-separated property path (`content.m\.relates_to.rel_type`):
/// `.` separates, `\.` is a literal dot and `\\` a literal backslash.
fn property<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    let mut segments = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('.' | '\\')) => segments.last_mut()?.push(escaped),
                Some(other) => {
                    let last = segments.last_mut()?;
                    last.push('\\');
                    last.push(other);
                }
                None => segments.last_mut()?.push('\\'),
            },
            '.' => segments.push(String::new()),
            c => segments.last_mut()?.push(c),
        }
    }
    segments
        .iter()
        .try_fold(event, |v, segment| v.as_object()?.get(segment))
}

/// Exact equality of non-compound values; `None` is JSON `null`.
fn scalar_equals(value: &Value, expected: Option<&PushConditionValue>) -> bool {
    match (value, expected) {
        (Value::Null, None) => true,
        (Value::String(a), Some(PushConditionValue::String(b))) => a == b,
        (Value::Bool(a), Some(PushConditionValue::Boolean(b))) => a == b,
        (Value::Number(a), Some(PushConditionValue::Integer(b))) => a.as_i64() == Some(*b),
        _ => false,
    }
}

/// Characters that are not in a word: `[A-Za-z0-9_]` is, nothing else.
const NOT_WORD: &str = "[^A-Za-z0-9_]";

/// `content.body` matching: the glob over any part of the body that starts
/// and ends at a word boundary, as a case-insensitive regex.
fn body_matches(pattern: &str, body: &str) -> bool {
    let mut glob = String::new();
    for c in pattern.chars() {
        match c {
            '*' => glob.push_str(".*?"),
            '?' => glob.push('.'),
            c => glob.push_str(&regex::escape(&c.to_string())),
        }
    }
    Regex::new(&format!("(?is)(?:^|{NOT_WORD}){glob}(?:{NOT_WORD}|$)")).is_ok_and(|re| re.is_match(body))
}

/// `room_member_count`'s `is`: `==`, `<`, `>`, `>=`, `<=` or nothing
/// (meaning `==`) before a decimal integer.
fn member_count_test(is: &str) -> Option<Box<dyn Fn(u64) -> bool>> {
    let (op, number) = ["==", ">=", "<=", "<", ">"]
        .iter()
        .find_map(|op| is.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("==", is));
    let n: u64 = number.parse().ok()?;
    Some(match op {
        "==" => Box::new(move |c| c == n),
        ">=" => Box::new(move |c| c >= n),
        "<=" => Box::new(move |c| c <= n),
        "<" => Box::new(move |c| c < n),
        _ => Box::new(move |c| c > n),
    })
}

/// Actions without `dont_notify` and `coalesce` (which the spec says to
/// ignore), and what they mean: `notify`, and the `highlight` tweak (true
/// when given without a value).
fn decision(actions: &[PushRuleActionsItem]) -> Decision {
    let actions: Vec<PushRuleActionsItem> = actions
        .iter()
        .filter(|a| !matches!(a, PushRuleActionsItem::String(s) if s == "dont_notify" || s == "coalesce"))
        .cloned()
        .collect();
    let notify = actions
        .iter()
        .any(|a| matches!(a, PushRuleActionsItem::String(s) if s == "notify"));
    let highlight = actions.iter().any(|a| match a {
        PushRuleActionsItem::Object(tweak) => {
            tweak.get("set_tweak").and_then(Value::as_str) == Some("highlight")
                && tweak.get("value").is_none_or(|v| v == &Value::Bool(true))
        }
        PushRuleActionsItem::String(_) => false,
    });
    Decision {
        actions,
        notify,
        highlight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context<'a>(levels: &'a dyn Fn(&str) -> i64) -> Context<'a> {
        Context {
            display_name: Some("Me Myself"),
            member_count: 5,
            sender_level: 0,
            notification_level: levels,
        }
    }

    fn condition(v: Value) -> PushCondition {
        serde_json::from_value(v).unwrap()
    }

    fn holds(c: Value, event: Value) -> bool {
        condition_holds(&condition(c), &event, &context(&|_| 50))
    }

    #[test]
    fn property_paths_unescape_dots_and_backslashes() {
        let event = json!({ "content": { "m.relates_to": { "rel_type": "m.replace" }, "a\\b": 1 } });
        assert_eq!(
            property(&event, "content.m\\.relates_to.rel_type"),
            Some(&json!("m.replace"))
        );
        assert_eq!(property(&event, "content.a\\\\b"), Some(&json!(1)));
        assert_eq!(property(&event, "content.m.relates_to"), None);
    }

    #[test]
    fn event_match_is_a_whole_value_glob_except_on_the_body() {
        let topic = |t: &str| json!({ "content": { "topic": t } });
        let lunch = json!({ "kind": "event_match", "key": "content.topic", "pattern": "lunc?*" });
        assert!(holds(lunch.clone(), topic("Lunch plans")));
        assert!(holds(lunch.clone(), topic("LUNCH")));
        assert!(!holds(lunch.clone(), topic(" lunch")));
        assert!(!holds(lunch.clone(), topic("lunc")));
        assert!(!holds(lunch, json!({ "content": { "topic": null } })));
        let body = |b: &str| json!({ "content": { "body": b } });
        let example = json!({ "kind": "event_match", "key": "content.body", "pattern": "ex*ple" });
        assert!(holds(example.clone(), body("An example event.")));
        assert!(holds(example.clone(), body("exple")));
        assert!(holds(example.clone(), body("An exciting triple-whammy")));
        assert!(!holds(example, body("examples")));
    }

    #[test]
    fn property_is_and_contains_compare_exactly() {
        let create = json!({ "content": { "m.federate": true, "alt_aliases": ["#a:hs", "#b:hs"] } });
        let is = |v: Value| json!({ "kind": "event_property_is", "key": "content.m\\.federate", "value": v });
        assert!(holds(is(json!(true)), create.clone()));
        assert!(!holds(is(json!("true")), create.clone()));
        assert!(!holds(is(json!(1)), create.clone()));
        let contains = |v: &str| json!({ "kind": "event_property_contains", "key": "content.alt_aliases", "value": v });
        assert!(holds(contains("#b:hs"), create.clone()));
        assert!(!holds(contains(":hs"), create));
    }

    #[test]
    fn member_counts_names_and_permissions() {
        let count = |is: &str| json!({ "kind": "room_member_count", "is": is });
        assert!(holds(count("5"), json!({})) && holds(count("==5"), json!({})));
        assert!(holds(count(">4"), json!({})) && holds(count("<=5"), json!({})));
        assert!(!holds(count("<5"), json!({})) && !holds(count("x"), json!({})));
        let name = json!({ "kind": "contains_display_name" });
        assert!(holds(name.clone(), json!({ "content": { "body": "hi me myself!" } })));
        assert!(!holds(name, json!({ "content": { "body": "hi me myselfish" } })));
        let permission = json!({ "kind": "sender_notification_permission", "key": "room" });
        assert!(!holds(permission.clone(), json!({})));
        assert!(condition_holds(
            &condition(permission),
            &json!({}),
            &Context {
                sender_level: 50,
                ..context(&|_| 50)
            }
        ));
        assert!(!holds(json!({ "kind": "something_new" }), json!({})));
    }

    #[test]
    fn the_first_enabled_matching_rule_decides() {
        let rules: PushRuleset = serde_json::from_value(json!({
            "override": [
                { "rule_id": ".m.rule.master", "default": true, "enabled": false, "conditions": [], "actions": [] },
                { "rule_id": ".m.rule.suppress_notices", "default": true, "enabled": true,
                  "conditions": [{ "kind": "event_match", "key": "content.msgtype", "pattern": "m.notice" }],
                  "actions": ["dont_notify"] }
            ],
            "content": [{ "rule_id": "tea", "default": false, "enabled": true, "pattern": "tea",
                          "actions": ["notify", { "set_tweak": "highlight" }] }],
            "underride": [{ "rule_id": ".m.rule.message", "default": true, "enabled": true,
                            "conditions": [{ "kind": "event_match", "key": "type", "pattern": "m.room.message" }],
                            "actions": ["notify", { "set_tweak": "highlight", "value": false }] }]
        }))
        .unwrap();
        let message = |msgtype: &str, body: &str| {
            json!({ "type": "m.room.message", "room_id": "!r:hs", "sender": "@you:hs",
                    "content": { "msgtype": msgtype, "body": body } })
        };
        let ctx = context(&|_| 50);
        let notice = evaluate(&rules, &message("m.notice", "tea"), &ctx).unwrap();
        assert!(!notice.notify && notice.actions.is_empty(), "dont_notify is stripped");
        let tea = evaluate(&rules, &message("m.text", "Time for TEA?"), &ctx).unwrap();
        assert!(tea.notify && tea.highlight);
        let plain = evaluate(&rules, &message("m.text", "teapot"), &ctx).unwrap();
        assert!(plain.notify && !plain.highlight);
        assert_eq!(
            evaluate(&rules, &json!({ "type": "m.reaction", "content": {} }), &ctx),
            None
        );
    }
}
