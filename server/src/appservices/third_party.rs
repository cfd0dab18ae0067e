//! The client-server third-party lookups (`/thirdparty/...`), answered by
//! the application services that bridge each protocol (the `protocols` of
//! their registrations) or own the user or alias asked about. A service
//! that fails to answer adds nothing.

use super::AppService;
use crate::api::Homeserver;
use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::{Location, User};
use matrix_api::client_server::{Protocol, ProtocolInstancesItem};
use std::collections::BTreeMap;
use std::time::Duration;

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

fn bridging<'a>(hs: &'a Homeserver, protocol: &'a str) -> impl Iterator<Item = &'a AppService> + 'a {
    hs.appservices
        .all()
        .iter()
        .filter(move |s| s.registration.protocols.iter().flatten().any(|p| p == protocol))
}

/// A protocol's metadata as clients see it: the first bridging service's,
/// each instance named `<service>|<network>` so that lookups can name it.
pub async fn protocol(hs: &Homeserver, protocol: &str) -> Option<Protocol> {
    for service in bridging(hs, protocol) {
        let Some(client) = service.client() else { continue };
        let request = app::get_protocol_metadata::Request::new(protocol.to_owned());
        let Ok(Ok(app::get_protocol_metadata::Response::Ok(metadata))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.get_protocol_metadata(request)).await
        else {
            continue;
        };
        let instances = metadata
            .instances
            .into_iter()
            .map(|instance| ProtocolInstancesItem {
                instance_id: Some(format!("{}|{}", service.id(), instance.network_id)),
                icon: instance.icon,
                ..ProtocolInstancesItem::new(instance.desc, instance.fields, instance.network_id)
            })
            .collect();
        return Some(Protocol::new(
            metadata.user_fields,
            metadata.location_fields,
            metadata.icon,
            metadata.field_types,
            instances,
        ));
    }
    None
}

/// Every protocol some service bridges, with its metadata.
pub async fn protocols(hs: &Homeserver) -> BTreeMap<String, Protocol> {
    let mut names: Vec<&String> = hs
        .appservices
        .all()
        .iter()
        .flat_map(|s| s.registration.protocols.iter().flatten())
        .collect();
    names.sort();
    names.dedup();
    let mut out = BTreeMap::new();
    for name in names {
        if let Some(metadata) = protocol(hs, name).await {
            out.insert(name.clone(), metadata);
        }
    }
    out
}

/// Users of `protocol` matching `fields`, from every bridging service.
pub async fn users(hs: &Homeserver, protocol: &str, fields: &BTreeMap<String, String>) -> Vec<User> {
    let mut out = Vec::new();
    for service in bridging(hs, protocol) {
        let Some(client) = service.client() else { continue };
        let mut request = app::query_user_by_protocol::Request::new(protocol.to_owned());
        request.query.fields = fields.clone();
        if let Ok(Ok(app::query_user_by_protocol::Response::Ok(found))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.query_user_by_protocol(request)).await
        {
            out.extend(found);
        }
    }
    out
}

/// Locations of `protocol` matching `fields`, from every bridging service.
pub async fn locations(hs: &Homeserver, protocol: &str, fields: &BTreeMap<String, String>) -> Vec<Location> {
    let mut out = Vec::new();
    for service in bridging(hs, protocol) {
        let Some(client) = service.client() else { continue };
        let mut request = app::query_location_by_protocol::Request::new(protocol.to_owned());
        request.query.fields = fields.clone();
        if let Ok(Ok(app::query_location_by_protocol::Response::Ok(found))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.query_location_by_protocol(request)).await
        {
            out.extend(found);
        }
    }
    out
}

/// The third-party users behind a Matrix user, from the services that own it.
pub async fn users_by_id(hs: &Homeserver, user_id: &str) -> Vec<User> {
    let mut out = Vec::new();
    for service in hs.appservices.all().iter().filter(|s| s.owns_user(user_id)) {
        let Some(client) = service.client() else { continue };
        let mut request = app::query_user_by_id::Request::new();
        request.query.userid = Some(user_id.to_owned());
        if let Ok(Ok(app::query_user_by_id::Response::Ok(found))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.query_user_by_id(request)).await
        {
            out.extend(found);
        }
    }
    out
}

/// The third-party locations behind a room alias, from the services that own it.
pub async fn locations_by_alias(hs: &Homeserver, alias: &str) -> Vec<Location> {
    let mut out = Vec::new();
    for service in hs.appservices.all().iter().filter(|s| s.owns_alias(alias)) {
        let Some(client) = service.client() else { continue };
        let mut request = app::query_location_by_alias::Request::new();
        request.query.alias = Some(alias.to_owned());
        if let Ok(Ok(app::query_location_by_alias::Response::Ok(found))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.query_location_by_alias(request)).await
        {
            out.extend(found);
        }
    }
    out
}
