//! What the server tells about itself: versions, well-known, capabilities,
//! and the third-party networks it bridges (none).

use super::{Homeserver, Result, DEFAULT_ROOM_VERSION, ROOM_VERSIONS};
use crate::appservices::third_party;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    BooleanCapability, Capabilities, Full, GetCapabilitiesResponse, GetVersionsResponse,
    Homeserver as WellKnownHomeserver, ProfileFieldsCapability, RoomVersionStability, RoomVersionsCapability,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;

pub(super) fn versions(_: &Homeserver, _: cs::get_versions::Request) -> Result<cs::get_versions::Response> {
    let versions = [
        "v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19",
    ];
    Ok(cs::get_versions::Response::Ok(GetVersionsResponse::new(
        versions.iter().map(|v| (*v).to_owned()).collect(),
    )))
}

/// `/.well-known/matrix/client`: 404 unless a public URL is configured, as
/// the spec asks of servers that do not publish one.
pub(super) fn well_known(hs: &Homeserver, _: cs::get_wellknown::Request) -> Result<cs::get_wellknown::Response> {
    let url = hs
        .public_url
        .as_deref()
        .ok_or_else(|| MatrixError::not_found("No client discovery information"))?;
    Ok(cs::get_wellknown::Response::Ok(Full::new(WellKnownHomeserver::new(
        url.to_owned(),
    ))))
}

pub(super) fn capabilities(
    hs: &Homeserver,
    _: cs::get_capabilities::Request,
    credentials: Credentials,
) -> Result<cs::get_capabilities::Response> {
    hs.user(&credentials)?;
    let available = ROOM_VERSIONS
        .iter()
        .map(|v| ((*v).to_owned(), RoomVersionStability::Stable))
        .collect();
    let on = || Some(BooleanCapability::new(true));
    let off = || Some(BooleanCapability::new(false));
    let capabilities = Capabilities {
        m_change_password: on(),
        m_room_versions: Some(RoomVersionsCapability::new(DEFAULT_ROOM_VERSION.to_owned(), available)),
        m_set_displayname: on(),
        m_set_avatar_url: on(),
        m_3pid_changes: Some(BooleanCapability::new(hs.mail.is_some())),
        m_get_login_token: off(),
        m_profile_fields: Some(ProfileFieldsCapability::new(true)),
        ..Capabilities::default()
    };
    Ok(cs::get_capabilities::Response::Ok(GetCapabilitiesResponse::new(
        capabilities,
    )))
}

/// Third-party networks: those the application services hosted here
/// bridge (`crate::appservices::third_party`).
pub(super) async fn protocols(
    hs: &Homeserver,
    _: cs::get_protocols::Request,
    credentials: Credentials,
) -> Result<cs::get_protocols::Response> {
    hs.user(&credentials)?;
    Ok(cs::get_protocols::Response::Ok(third_party::protocols(hs).await))
}

fn no_protocol(protocol: &str) -> MatrixError {
    MatrixError::not_found(format!("No bridge serves the protocol {protocol}"))
}

pub(super) async fn protocol(
    hs: &Homeserver,
    r: cs::get_protocol_metadata::Request,
    credentials: Credentials,
) -> Result<cs::get_protocol_metadata::Response> {
    hs.user(&credentials)?;
    let metadata = third_party::protocol(hs, &r.path.protocol)
        .await
        .ok_or_else(|| no_protocol(&r.path.protocol))?;
    Ok(cs::get_protocol_metadata::Response::Ok(metadata))
}

/// Lookups of a protocol no service bridges are `404`.
fn bridged(hs: &Homeserver, protocol: &str) -> Result<()> {
    let known = hs
        .appservices
        .all()
        .iter()
        .any(|s| s.registration.protocols.iter().flatten().any(|p| p == protocol));
    if known {
        Ok(())
    } else {
        Err(no_protocol(protocol))
    }
}

pub(super) async fn locations_by_protocol(
    hs: &Homeserver,
    r: cs::query_location_by_protocol::Request,
    credentials: Credentials,
) -> Result<cs::query_location_by_protocol::Response> {
    hs.user(&credentials)?;
    bridged(hs, &r.path.protocol)?;
    let found = third_party::locations(hs, &r.path.protocol, &r.query.fields).await;
    Ok(cs::query_location_by_protocol::Response::Ok(found))
}

pub(super) async fn users_by_protocol(
    hs: &Homeserver,
    r: cs::query_user_by_protocol::Request,
    credentials: Credentials,
) -> Result<cs::query_user_by_protocol::Response> {
    hs.user(&credentials)?;
    bridged(hs, &r.path.protocol)?;
    let found = third_party::users(hs, &r.path.protocol, &r.query.fields).await;
    Ok(cs::query_user_by_protocol::Response::Ok(found))
}

pub(super) async fn locations_by_alias(
    hs: &Homeserver,
    r: cs::query_location_by_alias::Request,
    credentials: Credentials,
) -> Result<cs::query_location_by_alias::Response> {
    hs.user(&credentials)?;
    let found = third_party::locations_by_alias(hs, &r.query.alias).await;
    Ok(cs::query_location_by_alias::Response::Ok(found))
}

pub(super) async fn users_by_id(
    hs: &Homeserver,
    r: cs::query_user_by_id::Request,
    credentials: Credentials,
) -> Result<cs::query_user_by_id::Response> {
    hs.user(&credentials)?;
    let found = third_party::users_by_id(hs, &r.query.userid).await;
    Ok(cs::query_user_by_id::Response::Ok(found))
}
