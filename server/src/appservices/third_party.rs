//! The client-server third-party lookups (`/thirdparty/...`), answered by
//! the application services that bridge each protocol (the `protocols` of
//! their registrations) or own the user or alias asked about. A service
//! that fails to answer adds nothing.

use super::AppService;
use crate::api::Homeserver;
use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::{Location, User};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

fn client(service: &AppService) -> Option<app::Client> {
    let url = service.registration.url.as_deref()?;
    Some(app::Client(
        matrix_api_runtime::client::Client::new(url.trim_end_matches('/'))
            .with_access_token(service.registration.hs_token.clone()),
    ))
}

fn bridging<'a>(hs: &'a Homeserver, protocol: &'a str) -> impl Iterator<Item = &'a AppService> + 'a {
    hs.appservices
        .all()
        .iter()
        .filter(move |s| s.registration.protocols.iter().flatten().any(|p| p == protocol))
}

fn request<R: serde::de::DeserializeOwned>(path: Value, query: Value) -> Option<R> {
    serde_json::from_value(json!({ "path": path, "query": query, "headers": {}, "body": {} })).ok()
}

/// A protocol's metadata as clients see it: the first bridging service's,
/// each instance named `<service>|<network>` so that lookups can name it.
pub async fn protocol(hs: &Homeserver, protocol: &str) -> Option<Value> {
    for service in bridging(hs, protocol) {
        let Some(client) = client(service) else { continue };
        let Some(request) = request(json!({ "protocol": protocol }), json!({})) else {
            continue;
        };
        let Ok(Ok(app::get_protocol_metadata::Response::Ok(metadata))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.get_protocol_metadata(request)).await
        else {
            continue;
        };
        let mut metadata = serde_json::to_value(metadata).ok()?;
        for instance in metadata["instances"].as_array_mut().into_iter().flatten() {
            let network = instance["network_id"].as_str().unwrap_or_default().to_owned();
            instance["instance_id"] = json!(format!("{}|{network}", service.id()));
        }
        return Some(metadata);
    }
    None
}

/// Every protocol some service bridges, with its metadata.
pub async fn protocols(hs: &Homeserver) -> BTreeMap<String, Value> {
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
        let Some(client) = client(service) else { continue };
        let Some(request) = request(json!({ "protocol": protocol }), json!(fields)) else {
            continue;
        };
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
        let Some(client) = client(service) else { continue };
        let Some(request) = request(json!({ "protocol": protocol }), json!(fields)) else {
            continue;
        };
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
        let Some(client) = client(service) else { continue };
        let Some(request) = request(json!({}), json!({ "userid": user_id })) else {
            continue;
        };
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
        let Some(client) = client(service) else { continue };
        let Some(request) = request(json!({}), json!({ "alias": alias })) else {
            continue;
        };
        if let Ok(Ok(app::query_location_by_alias::Response::Ok(found))) =
            tokio::time::timeout(LOOKUP_TIMEOUT, client.query_location_by_alias(request)).await
        {
            out.extend(found);
        }
    }
    out
}
