//! Asking application services about users and aliases of their
//! namespaces that do not exist yet (`/users/{userId}`, `/rooms/{roomAlias}`):
//! a service that answers `200` has made them, and the caller looks again.

use super::AppService;
use crate::api::Homeserver;
use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::PingRequest;
use std::time::Duration;

/// How long a service may take to answer a query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the services whose alias namespaces hold `alias` to make it;
/// whether one did.
pub async fn alias(hs: &Homeserver, alias: &str) -> bool {
    for service in hs.appservices.all().iter().filter(|s| s.owns_alias(alias)) {
        let Some(client) = service.client() else { continue };
        let request = app::query_room_by_alias::Request::new(alias.to_owned());
        match tokio::time::timeout(QUERY_TIMEOUT, client.query_room_by_alias(request)).await {
            Ok(Ok(_)) => return true,
            Ok(Err(e)) => tracing::debug!(appservice = service.id(), alias, "alias query: {e}"),
            Err(_) => tracing::warn!(appservice = service.id(), alias, "alias query timed out"),
        }
    }
    false
}

/// Asks the services whose user namespaces hold `user_id` to make it;
/// whether one did.
pub async fn user(hs: &Homeserver, user_id: &str) -> bool {
    for service in hs.appservices.all().iter().filter(|s| s.owns_user(user_id)) {
        let Some(client) = service.client() else { continue };
        let request = app::query_user_by_id2::Request::new(user_id.to_owned());
        match tokio::time::timeout(QUERY_TIMEOUT, client.query_user_by_id2(request)).await {
            Ok(Ok(_)) => return true,
            Ok(Err(e)) => tracing::debug!(appservice = service.id(), user_id, "user query: {e}"),
            Err(_) => tracing::warn!(appservice = service.id(), user_id, "user query timed out"),
        }
    }
    false
}

/// Pings the service (`/ping`) with `transaction_id`; the error says what
/// went wrong, as the client-server `/appservice/{id}/ping` reports it.
pub async fn ping(service: &AppService, transaction_id: Option<String>) -> Result<Duration, PingFailure> {
    let client = service.client().ok_or(PingFailure::NoUrl)?;
    let request = app::ping::Request::new(PingRequest { transaction_id });
    let started = std::time::Instant::now();
    match tokio::time::timeout(QUERY_TIMEOUT, client.ping(request)).await {
        Err(_) => Err(PingFailure::Timeout),
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(matrix_api_runtime::client::ClientError::Matrix(e))) => {
            Err(PingFailure::Status(e.status, e.to_string()))
        }
        Ok(Err(e)) => Err(PingFailure::Failed(e.to_string())),
    }
}

/// Why a ping did not come back.
#[derive(Debug)]
pub enum PingFailure {
    /// The registration has no URL.
    NoUrl,
    /// The service answered with an error status (and this body).
    Status(u16, String),
    Timeout,
    /// It could not be reached.
    Failed(String),
}
