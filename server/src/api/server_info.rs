//! What the server tells about itself: versions, well-known, capabilities.

use super::{typed, Homeserver, Result, DEFAULT_ROOM_VERSION, ROOM_VERSIONS};
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{json, Map, Value};

pub(super) fn versions(_: &Homeserver, _: cs::get_versions::Request) -> Result<cs::get_versions::Response> {
    Ok(cs::get_versions::Response::Ok(typed(
        json!({ "versions": ["v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19"] }),
    )?))
}

/// `/.well-known/matrix/client`: 404 unless a public URL is configured, as
/// the spec asks of servers that do not publish one.
pub(super) fn well_known(hs: &Homeserver, _: cs::get_wellknown::Request) -> Result<cs::get_wellknown::Response> {
    let url = hs
        .public_url
        .as_deref()
        .ok_or_else(|| MatrixError::not_found("No client discovery information"))?;
    Ok(cs::get_wellknown::Response::Ok(typed(
        json!({ "m.homeserver": { "base_url": url } }),
    )?))
}

pub(super) fn capabilities(
    hs: &Homeserver,
    _: cs::get_capabilities::Request,
    credentials: Credentials,
) -> Result<cs::get_capabilities::Response> {
    hs.user(&credentials)?;
    let available: Map<String, Value> = ROOM_VERSIONS
        .iter()
        .map(|v| ((*v).to_owned(), json!("stable")))
        .collect();
    Ok(cs::get_capabilities::Response::Ok(typed(json!({
        "capabilities": {
            "m.change_password": { "enabled": true },
            "m.room_versions": { "default": DEFAULT_ROOM_VERSION, "available": available },
            "m.set_displayname": { "enabled": true },
            "m.set_avatar_url": { "enabled": true },
            "m.3pid_changes": { "enabled": false },
            "m.get_login_token": { "enabled": false },
            "m.profile_fields": { "enabled": true },
        }
    }))?))
}
