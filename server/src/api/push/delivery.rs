//! Pushing notifications to push gateways. Every notification the push
//! rules store for a user goes to each of the user's `http` pushers, in
//! stream order, through the push gateway API's `notify`. Each pusher keeps
//! the stream position of the last notification its gateway acknowledged
//! (in the store), so that a restart neither loses nor repeats one; a
//! gateway that fails is retried with a doubling delay (from 1 s to 10
//! min), and a gateway that rejects the pushkey ends the pusher, as the
//! spec asks.

use super::super::{content_in, Homeserver};
use crate::retry::{Backoff, IDLE};
use crate::store::{Notification, Pusher};
use matrix_api::events::{RoomCanonicalAliasEventContent, RoomMemberEventContent, RoomNameEventContent};
use matrix_api::push_gateway::endpoints as push;
use matrix_api::push_gateway::{Counts, Device, NotifyRequest, NotifyRequestNotificationPrio, PusherData};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long one gateway may take to answer.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(10);
/// Notifications read from the store at once, per pusher.
const BATCH: i64 = 20;

type PusherId = (String, String, String);

/// Runs for as long as the server: pushes what each pusher has not yet
/// delivered whenever notifications are stored or a pusher is set, and
/// when a failed gateway's delay is over.
pub async fn run(hs: Arc<Homeserver>) {
    let mut backoff: Backoff<PusherId> = Backoff::default();
    loop {
        let changed = hs.pushes.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if !hs.is_sending() {
            // Another process on the database pushes; this one waits to
            // be woken when it takes over.
            changed.await;
            continue;
        }
        let pushers = match hs.store.all_pushers() {
            Ok(pushers) => pushers,
            Err(e) => {
                tracing::warn!("reading pushers: {e}");
                Vec::new()
            }
        };
        for (user_id, pusher, delivered) in pushers {
            let id = (user_id.clone(), pusher.app_id.clone(), pusher.pushkey.clone());
            if pusher.kind != "http" || backoff.wait(&id).is_some() {
                continue;
            }
            match push_pending(&hs, &user_id, &pusher, delivered).await {
                Ok(()) => backoff.succeeded(&id),
                Err(e) => {
                    let delay = backoff.failed(id);
                    tracing::warn!(user_id, app_id = pusher.app_id, "push gateway: {e}; again in {delay:?}");
                }
            }
        }
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(backoff.soonest().unwrap_or(IDLE)) => {}
        }
    }
}

/// Sends the user's notifications after `delivered` to the pusher's
/// gateway, noting each one it acknowledged.
async fn push_pending(hs: &Homeserver, user_id: &str, pusher: &Pusher, mut delivered: i64) -> Result<(), String> {
    let url = pusher.data.get("url").and_then(Value::as_str).unwrap_or_default();
    let base = url.strip_suffix(super::pushers::NOTIFY_PATH).unwrap_or(url);
    let http = match hs.federation() {
        Some(federation) => federation.discovery.http().clone(),
        None => return Err("no HTTP client yet".to_owned()),
    };
    let gateway = push::Client(matrix_api_runtime::client::Client::new(base).with_http(http));
    loop {
        let pending = hs
            .store
            .notifications_after(user_id, delivered, BATCH)
            .map_err(|e| e.to_string())?;
        if pending.is_empty() {
            return Ok(());
        }
        for notification in pending {
            let Some(body) = notify_request(hs, user_id, pusher, &notification)? else {
                // The event is gone (purged): nothing to tell.
                hs.store
                    .pusher_delivered(user_id, &pusher.app_id, &pusher.pushkey, notification.stream)
                    .map_err(|e| e.to_string())?;
                continue;
            };
            let sent = tokio::time::timeout(GATEWAY_TIMEOUT, gateway.notify(push::notify::Request::new(body)))
                .await
                .map_err(|_| format!("{url} did not answer within {GATEWAY_TIMEOUT:?}"))?;
            let push::notify::Response::Ok(answer) = sent.map_err(|e| format!("{url}: {e}"))?;
            if answer.rejected.contains(&pusher.pushkey) {
                tracing::info!(
                    user_id,
                    app_id = pusher.app_id,
                    "the push gateway rejected the pushkey: pusher removed"
                );
                hs.store
                    .delete_pusher(user_id, &pusher.app_id, &pusher.pushkey)
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
            hs.store
                .pusher_delivered(user_id, &pusher.app_id, &pusher.pushkey, notification.stream)
                .map_err(|e| e.to_string())?;
            delivered = notification.stream;
        }
    }
}

/// What the push gateway is told of one notification: all of it, or with
/// `format: event_id_only` only the event and room IDs and the counts.
fn notify_request(
    hs: &Homeserver,
    user_id: &str,
    pusher: &Pusher,
    notification: &Notification,
) -> Result<Option<NotifyRequest>, String> {
    let Some(event) = hs.store.event(&notification.event_id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let mut device = Device::new(pusher.app_id.clone(), pusher.pushkey.clone());
    device.pushkey_ts = Some(pusher.pushkey_ts / 1000);
    let format = pusher.data.get("format").and_then(Value::as_str).map(str::to_owned);
    device.data = Some(PusherData { format: format.clone() });
    let tweaks = tweaks_of(&notification.actions);
    let high = event.event_type == "m.room.encrypted" || tweaks.contains_key("sound") || notification.highlight;
    device.tweaks = Some(tweaks);
    let mut body = matrix_api::push_gateway::Notification::new(vec![device]);
    body.event_id = Some(event.event_id.clone());
    body.room_id = Some(event.room_id.clone());
    body.counts = Some(Counts {
        unread: Some(unread_total(hs, user_id)?),
        missed_calls: None,
    });
    if format.as_deref() != Some("event_id_only") {
        let state = hs.store.current_state(&event.room_id).map_err(|e| e.to_string())?;
        body.r#type = Some(event.event_type.clone());
        body.sender = Some(event.sender.clone());
        body.sender_display_name =
            content_in::<RoomMemberEventContent>(&state, &event.sender).and_then(|m| m.displayname.flatten());
        body.room_name = content_in::<RoomNameEventContent>(&state, "").map(|c| c.name);
        body.room_alias = content_in::<RoomCanonicalAliasEventContent>(&state, "")
            .and_then(|c| c.alias)
            .map(|alias| alias.to_string());
        body.user_is_target = event.state_key.as_ref().map(|key| key == user_id);
        body.prio = Some(if high {
            NotifyRequestNotificationPrio::High
        } else {
            NotifyRequestNotificationPrio::Low
        });
        body.content = event.content.as_object().cloned();
    }
    Ok(Some(NotifyRequest::new(body)))
}

/// The `set_tweak` actions of a rule, as the gateway's `tweaks`
/// (`highlight` without a value is `true`).
fn tweaks_of(actions: &Value) -> Map<String, Value> {
    let mut tweaks = Map::new();
    for action in actions.as_array().into_iter().flatten() {
        if let Some(name) = action.get("set_tweak").and_then(Value::as_str) {
            let value = action.get("value").cloned().unwrap_or(Value::Bool(true));
            tweaks.insert(name.to_owned(), value);
        }
    }
    tweaks
}

/// The user's unread notifications across the rooms they are in.
fn unread_total(hs: &Homeserver, user_id: &str) -> Result<i64, String> {
    let mut total = 0;
    for (room_id, membership) in hs.store.rooms_of(user_id).map_err(|e| e.to_string())? {
        if membership == "join" {
            let counts = hs.unread_counts(&room_id, user_id).map_err(|e| e.to_string())?;
            total += counts.notification_count.unwrap_or(0);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::tweaks_of;
    use serde_json::json;

    #[test]
    fn tweaks_come_from_set_tweak_actions() {
        let actions = json!(["notify", { "set_tweak": "sound", "value": "default" }, { "set_tweak": "highlight" }]);
        assert_eq!(
            serde_json::Value::Object(tweaks_of(&actions)),
            json!({ "sound": "default", "highlight": true })
        );
    }
}
