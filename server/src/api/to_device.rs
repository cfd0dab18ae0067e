//! `PUT /sendToDevice/{eventType}/{txnId}`: messages for devices (the
//! keys of encrypted rooms travel this way), queued per device and given
//! out by `/sync` until the device has acknowledged them.

use super::{internal, Homeserver, Result};
use crate::store::NewToDevice;
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};

pub(super) fn send(
    hs: &Homeserver,
    request: cs::send_to_device::Request,
    credentials: Credentials,
) -> Result<cs::send_to_device::Response> {
    let (sender, sender_device) = hs.user(&credentials)?;
    let mut messages = Vec::new();
    for (user, devices) in &request.body.messages {
        let user = user.as_str();
        // Users of other servers would need federation; they get nothing.
        if !user.ends_with(&format!(":{}", hs.server_name)) {
            continue;
        }
        for (device, content) in devices {
            let targets: Vec<String> = if device == "*" {
                hs.store
                    .devices(user)
                    .map_err(internal)?
                    .into_iter()
                    .map(|d| d.device_id)
                    .collect()
            } else {
                vec![device.clone()]
            };
            for device_id in targets {
                messages.push(NewToDevice {
                    user_id: user.to_owned(),
                    device_id,
                    content: Value::Object(content.clone()),
                });
            }
        }
    }
    // Each message is held to the size of an event, which is also what a
    // to-device EDU may carry over federation.
    if messages
        .iter()
        .any(|m| m.content.to_string().len() > super::limits::MAX_EVENT_BYTES)
    {
        return Err(MatrixError::new(
            413,
            matrix_api::ErrorCode::TooLarge,
            format!("a message is over {} bytes", super::limits::MAX_EVENT_BYTES),
        ));
    }
    hs.store
        .send_to_device(
            &sender,
            &sender_device,
            &request.path.txn_id,
            &request.path.event_type,
            &messages,
        )
        .map_err(internal)?;
    hs.changes.notify_waiters();
    Ok(cs::send_to_device::Response::Ok(Map::new()))
}
