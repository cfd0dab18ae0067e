//! Device management: a user's logins, listed, renamed and deleted.
//! Deleting needs the password again (user-interactive authentication),
//! and takes the device's access tokens with it.

use super::uia::Reauthentication;
use super::{internal, Homeserver, Result};
use crate::store::Device;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{ClientDevice, GetDevicesResponse};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::Map;

/// Device display names are at most this long (Synapse's limit too).
const MAX_DISPLAY_NAME_CHARS: usize = 100;

fn client_device(d: Device) -> ClientDevice {
    let mut device = ClientDevice::new(d.device_id);
    device.display_name = d.display_name;
    device.last_seen_ts = d.last_seen_ts;
    device
}

fn find(hs: &Homeserver, user_id: &str, device_id: &str) -> Result<Device> {
    hs.store
        .devices(user_id)
        .map_err(internal)?
        .into_iter()
        .find(|d| d.device_id == device_id)
        .ok_or_else(|| MatrixError::not_found("No such device"))
}

pub(super) fn list(
    hs: &Homeserver,
    _: cs::get_devices::Request,
    credentials: Credentials,
) -> Result<cs::get_devices::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let devices = hs.store.devices(&user_id).map_err(internal)?;
    Ok(cs::get_devices::Response::Ok(GetDevicesResponse {
        devices: Some(devices.into_iter().map(client_device).collect()),
    }))
}

pub(super) fn get(
    hs: &Homeserver,
    request: cs::get_device::Request,
    credentials: Credentials,
) -> Result<cs::get_device::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let device = find(hs, &user_id, &request.path.device_id)?;
    Ok(cs::get_device::Response::Ok(client_device(device)))
}

pub(super) fn rename(
    hs: &Homeserver,
    request: cs::update_device::Request,
    credentials: Credentials,
) -> Result<cs::update_device::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let name = request.body.display_name.as_deref();
    if name.is_some_and(|n| n.chars().count() > MAX_DISPLAY_NAME_CHARS) {
        return Err(MatrixError::invalid_param(format!(
            "display_name is longer than {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    if !hs
        .store
        .set_device_name(&user_id, &request.path.device_id, name)
        .map_err(internal)?
    {
        return Err(MatrixError::not_found("No such device"));
    }
    Ok(cs::update_device::Response::Ok(Map::new()))
}

pub(super) async fn delete(
    hs: &Homeserver,
    request: cs::delete_device::Request,
    credentials: Credentials,
) -> Result<cs::delete_device::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let device = find(hs, &user_id, &request.path.device_id)?;
    if let Reauthentication::Required(challenge) = hs
        .reauthenticate(&user_id, "delete_device", request.body.auth.as_ref())
        .await?
    {
        return Ok(cs::delete_device::Response::Unauthorized(challenge));
    }
    let deleted = [device.device_id];
    hs.store.delete_devices(&user_id, &deleted).map_err(internal)?;
    hs.share_devices_deleted(&user_id, &deleted)?;
    Ok(cs::delete_device::Response::Ok(Map::new()))
}

/// Several devices at once; IDs the user does not have are ignored, as the
/// spec allows.
pub(super) async fn delete_many(
    hs: &Homeserver,
    request: cs::delete_devices::Request,
    credentials: Credentials,
) -> Result<cs::delete_devices::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    if let Reauthentication::Required(challenge) = hs
        .reauthenticate(&user_id, "delete_devices", request.body.auth.as_ref())
        .await?
    {
        return Ok(cs::delete_devices::Response::Unauthorized(challenge));
    }
    let owned: Vec<String> = super::account::device_ids(hs, &user_id, |d| request.body.devices.iter().any(|x| x == d))?;
    hs.store.delete_devices(&user_id, &owned).map_err(internal)?;
    hs.share_devices_deleted(&user_id, &owned)?;
    Ok(cs::delete_devices::Response::Ok(Map::new()))
}
