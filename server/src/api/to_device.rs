//! `PUT /sendToDevice/{eventType}/{txnId}`: messages for devices (the
//! keys of encrypted rooms travel this way), queued per device and given
//! out by `/sync` until the device has acknowledged them. Messages for
//! users of other servers travel as one `m.direct_to_device` EDU per
//! server, queued durably with the local ones: an acknowledged message
//! reaches its server even if this process dies first.

use super::{internal, Homeserver, Result};
use crate::store::{NewToDevice, OutboundEdu};
use matrix_api::client_server::endpoints as cs;
use matrix_api::server_server as ss;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub(super) fn send(
    hs: &Homeserver,
    request: cs::send_to_device::Request,
    credentials: Credentials,
) -> Result<cs::send_to_device::Response> {
    let (sender, sender_device) = hs.user(&credentials)?;
    let mut messages = Vec::new();
    let mut remote: BTreeMap<&str, BTreeMap<_, _>> = BTreeMap::new();
    for (user, devices) in &request.body.messages {
        let server = user.as_str().split_once(':').map_or("", |(_, server)| server);
        if server != hs.server_name {
            remote.entry(server).or_default().insert(user.clone(), devices.clone());
            continue;
        }
        let user = user.as_str();
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
        || remote
            .values()
            .flatten()
            .flat_map(|(_, d)| d.values())
            .any(|content| serde_json::to_string(content).map_or(0, |s| s.len()) > super::limits::MAX_EVENT_BYTES)
    {
        return Err(MatrixError::new(
            413,
            matrix_api::ErrorCode::TooLarge,
            format!("a message is over {} bytes", super::limits::MAX_EVENT_BYTES),
        ));
    }
    // The transaction ID is unique per device, so this is per sender.
    let message_id = format!("{sender_device}/{}", request.path.txn_id);
    let edus = remote
        .into_iter()
        .map(|(server, messages)| {
            let content = ss::ToDeviceMessage::new(
                sender.clone(),
                request.path.event_type.clone(),
                message_id.clone(),
                messages,
            );
            let edu = serde_json::to_value(ss::DirectToDevice::new(content)).map_err(internal)?;
            Ok(OutboundEdu {
                destination: server.to_owned(),
                edu,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    hs.store
        .send_to_device(
            &sender,
            &sender_device,
            &request.path.txn_id,
            &request.path.event_type,
            &messages,
            &edus,
        )
        .map_err(internal)?;
    hs.changes.notify_waiters();
    if !edus.is_empty() {
        hs.outbound.notify_one();
    }
    Ok(cs::send_to_device::Response::Ok(Map::new()))
}
