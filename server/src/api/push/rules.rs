//! A user's push rule set: the server-default rules of
//! `api-specs/push-rules.json` to begin with, then the user's own rules and
//! changes, kept whole as the `m.push_rules` account data (which is also how
//! clients receive it in `/sync`).
//!
//! The editing functions work on the rule set alone and say what was wrong
//! in the spec's terms; the endpoints turn that into Matrix errors.

use matrix_api::client_server::{GetPushRuleKind, PushCondition, PushRule, PushRuleActionsItem, PushRuleset};
use serde_json::Value;

/// The spec's server-default rules, with the placeholder it writes for the
/// rule set's owner.
const DEFAULT_RULES: &str = include_str!("../../../../api-specs/push-rules.json");
const OWNER_PLACEHOLDER: &str = "[the user's Matrix ID]";

/// The account data type the rule set is kept (and synced) as.
pub const ACCOUNT_DATA_TYPE: &str = "m.push_rules";

/// The server-default rule set of `user_id`.
pub fn defaults(user_id: &str) -> PushRuleset {
    let mut rules: Value = serde_json::from_str(DEFAULT_RULES).expect("api-specs/push-rules.json is JSON");
    fill_owner(&mut rules, user_id);
    serde_json::from_value(rules).expect("api-specs/push-rules.json holds a push rule set")
}

fn fill_owner(value: &mut Value, user_id: &str) {
    match value {
        Value::String(s) if s == OWNER_PLACEHOLDER => *s = user_id.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|v| fill_owner(v, user_id)),
        Value::Object(map) => map.values_mut().for_each(|v| fill_owner(v, user_id)),
        _ => {}
    }
}

/// Why an edit was refused.
#[derive(Debug, PartialEq)]
pub enum EditError {
    /// No rule of that kind and ID (`404 M_NOT_FOUND`).
    NotFound(String),
    /// Not a valid rule or place for it (`400 M_INVALID_PARAM`).
    Invalid(String),
}

/// The rules of one kind, created empty when missing.
pub fn of_kind<'a>(rules: &'a mut PushRuleset, kind: &GetPushRuleKind) -> Result<&'a mut Vec<PushRule>, EditError> {
    let list = match kind {
        GetPushRuleKind::Override => &mut rules.r#override,
        GetPushRuleKind::Underride => &mut rules.underride,
        GetPushRuleKind::Sender => &mut rules.sender,
        GetPushRuleKind::Room => &mut rules.room,
        GetPushRuleKind::Content => &mut rules.content,
        GetPushRuleKind::Other(kind) => return Err(EditError::Invalid(format!("unknown rule kind {kind}"))),
    };
    Ok(list.get_or_insert_default())
}

pub fn find<'a>(
    rules: &'a mut PushRuleset,
    kind: &GetPushRuleKind,
    rule_id: &str,
) -> Result<&'a mut PushRule, EditError> {
    of_kind(rules, kind)?
        .iter_mut()
        .find(|r| r.rule_id == rule_id)
        .ok_or_else(|| EditError::NotFound(format!("no {kind} rule {rule_id}")))
}

/// A new or changed user-defined rule.
pub struct NewRule {
    pub rule_id: String,
    pub actions: Vec<PushRuleActionsItem>,
    pub conditions: Option<Vec<PushCondition>>,
    pub pattern: Option<String>,
    /// Placed just before or after this user-defined rule of the same kind.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Adds a user-defined rule, or replaces one of the same ID. A new rule
/// without `before`/`after` gets the highest priority a user rule can have
/// (after `.m.rule.master` among override rules); a replaced one keeps its
/// place unless told otherwise. Server-default rules (IDs starting with
/// `.`) cannot be added or replaced, only enabled and given actions.
pub fn put(rules: &mut PushRuleset, kind: &GetPushRuleKind, new: NewRule) -> Result<(), EditError> {
    if new.rule_id.starts_with('.') {
        return Err(EditError::Invalid("rule IDs starting with '.' are the server's".into()));
    }
    match kind {
        GetPushRuleKind::Content if new.pattern.is_none() => {
            return Err(EditError::Invalid("content rules need a pattern".into()))
        }
        GetPushRuleKind::Room if !new.rule_id.starts_with('!') => {
            return Err(EditError::Invalid("the ID of a room rule is the room's ID".into()))
        }
        GetPushRuleKind::Sender if !new.rule_id.starts_with('@') => {
            return Err(EditError::Invalid(
                "the ID of a sender rule is the sender's user ID".into(),
            ))
        }
        _ => {}
    }
    let list = of_kind(rules, kind)?;
    let anchor = match (&new.before, &new.after) {
        (Some(_), Some(_)) => return Err(EditError::Invalid("give before or after, not both".into())),
        (Some(id), None) | (None, Some(id)) => {
            if id.starts_with('.') {
                return Err(EditError::Invalid(
                    "rules are placed relative to user-defined rules only".into(),
                ));
            }
            if !list.iter().any(|r| &r.rule_id == id) {
                return Err(EditError::NotFound(format!(
                    "no {kind} rule {id} to place the rule beside"
                )));
            }
            Some(id.clone())
        }
        (None, None) => None,
    };
    let existing = list.iter().position(|r| r.rule_id == new.rule_id);
    let mut rule = PushRule::new(new.actions, false, true, new.rule_id);
    rule.conditions = match kind {
        GetPushRuleKind::Override | GetPushRuleKind::Underride => Some(new.conditions.unwrap_or_default()),
        _ => None,
    };
    rule.pattern = new.pattern.filter(|_| matches!(kind, GetPushRuleKind::Content));
    if let (Some(at), None) = (existing, &anchor) {
        // An update keeps the rule's place and whether it was enabled.
        rule.enabled = list[at].enabled;
        list[at] = rule;
        return Ok(());
    }
    if let Some(at) = existing {
        list.remove(at);
    }
    let at = match anchor {
        Some(id) => {
            let i = list.iter().position(|r| r.rule_id == id).unwrap_or(0);
            if new.after.is_some() {
                i + 1
            } else {
                i
            }
        }
        None => list.iter().take_while(|r| r.rule_id == ".m.rule.master").count(),
    };
    list.insert(at, rule);
    Ok(())
}

/// Removes a user-defined rule.
pub fn delete(rules: &mut PushRuleset, kind: &GetPushRuleKind, rule_id: &str) -> Result<(), EditError> {
    find(rules, kind, rule_id)?;
    if rule_id.starts_with('.') {
        return Err(EditError::Invalid("server-default rules cannot be deleted".into()));
    }
    of_kind(rules, kind)?.retain(|r| r.rule_id != rule_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> NewRule {
        NewRule {
            rule_id: id.into(),
            actions: vec![PushRuleActionsItem::String("notify".into())],
            conditions: None,
            pattern: None,
            before: None,
            after: None,
        }
    }

    fn ids(rules: &PushRuleset) -> Vec<&str> {
        rules.r#override.iter().flatten().map(|r| r.rule_id.as_str()).collect()
    }

    #[test]
    fn defaults_are_the_spec_rules_for_their_owner() {
        let rules = defaults("@me:hs");
        let invite = rules
            .r#override
            .as_ref()
            .unwrap()
            .iter()
            .find(|r| r.rule_id == ".m.rule.invite_for_me");
        let owner = invite.unwrap().conditions.as_ref().unwrap()[2].pattern.as_deref();
        assert_eq!(owner, Some("@me:hs"));
        assert_eq!(ids(&rules)[0], ".m.rule.master");
        assert!(rules.underride.as_ref().unwrap().iter().all(|r| r.default && r.enabled));
    }

    #[test]
    fn user_rules_go_first_after_master_and_keep_their_place_when_changed() {
        let mut rules = defaults("@me:hs");
        put(&mut rules, &GetPushRuleKind::Override, rule("a")).unwrap();
        put(&mut rules, &GetPushRuleKind::Override, rule("b")).unwrap();
        assert_eq!(ids(&rules)[..3], [".m.rule.master", "b", "a"]);
        let after_a = NewRule {
            after: Some("a".into()),
            ..rule("c")
        };
        put(&mut rules, &GetPushRuleKind::Override, after_a).unwrap();
        assert_eq!(ids(&rules)[..4], [".m.rule.master", "b", "a", "c"]);
        find(&mut rules, &GetPushRuleKind::Override, "b").unwrap().enabled = false;
        put(&mut rules, &GetPushRuleKind::Override, rule("b")).unwrap();
        assert_eq!(ids(&rules)[1], "b");
        assert!(!find(&mut rules, &GetPushRuleKind::Override, "b").unwrap().enabled);
    }

    #[test]
    fn server_rules_and_bad_places_are_refused() {
        let mut rules = defaults("@me:hs");
        let o = GetPushRuleKind::Override;
        assert!(matches!(put(&mut rules, &o, rule(".mine")), Err(EditError::Invalid(_))));
        let near_default = NewRule {
            before: Some(".m.rule.message".into()),
            ..rule("x")
        };
        assert!(matches!(put(&mut rules, &o, near_default), Err(EditError::Invalid(_))));
        let nowhere = NewRule {
            before: Some("nope".into()),
            ..rule("x")
        };
        assert!(matches!(put(&mut rules, &o, nowhere), Err(EditError::NotFound(_))));
        assert!(matches!(
            put(&mut rules, &GetPushRuleKind::Content, rule("x")),
            Err(EditError::Invalid(_))
        ));
        assert!(matches!(
            put(&mut rules, &GetPushRuleKind::Room, rule("x")),
            Err(EditError::Invalid(_))
        ));
        assert!(matches!(
            delete(&mut rules, &o, ".m.rule.master"),
            Err(EditError::Invalid(_))
        ));
        assert!(matches!(delete(&mut rules, &o, "nope"), Err(EditError::NotFound(_))));
    }
}
