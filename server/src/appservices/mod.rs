//! Application services this homeserver hosts: their registrations (the
//! spec's registration file, read with the generated `Registration`), and
//! what follows from them. An application service acts with its
//! `as_token`, as its sender or (`user_id`, the identity assertion) as a
//! user of its namespaces; exclusive namespaces are its alone; it is sent
//! the events it is interested in (`delivery`), and asked about users and
//! aliases of its namespaces nobody has made yet (`queries`).

pub mod delivery;
pub mod queries;
pub mod third_party;

use matrix_api::application_service::endpoints as app;
use matrix_api::application_service::{NamespaceList, Registration};
use regex::Regex;
use std::path::Path;

/// One namespace: its pattern (matching whole IDs) and whether it is
/// exclusive.
#[derive(Clone, Debug)]
struct Namespace {
    pattern: Regex,
    exclusive: bool,
}

/// A registered application service.
#[derive(Clone, Debug)]
pub struct AppService {
    pub registration: Registration,
    /// Its sender, `@<sender_localpart>:<server>`.
    pub sender: String,
    users: Vec<Namespace>,
    aliases: Vec<Namespace>,
    rooms: Vec<Namespace>,
    /// How to reach it (with its `hs_token`); none without a `url`.
    client: Option<app::Client>,
}

fn namespaces(list: &Option<NamespaceList>, id: &str, kind: &str) -> Result<Vec<Namespace>, String> {
    list.iter()
        .flatten()
        .map(|n| {
            // The regex matches the whole ID, as servers read it.
            let pattern = Regex::new(&format!("^(?:{})$", n.regex))
                .map_err(|e| format!("application service {id}: {kind} namespace {}: {e}", n.regex))?;
            Ok(Namespace {
                pattern,
                exclusive: n.exclusive,
            })
        })
        .collect()
}

impl AppService {
    pub fn new(registration: Registration, server_name: &str) -> Result<AppService, String> {
        let id = registration.id.clone();
        let spaces = &registration.namespaces;
        let client = registration.url.as_deref().map(|url| {
            app::Client(
                matrix_api_runtime::client::Client::new(url.trim_end_matches('/'))
                    .with_access_token(registration.hs_token.clone()),
            )
        });
        Ok(AppService {
            client,
            sender: format!("@{}:{server_name}", registration.sender_localpart),
            users: namespaces(&spaces.users, &id, "users")?,
            aliases: namespaces(&spaces.aliases, &id, "aliases")?,
            rooms: namespaces(&spaces.rooms, &id, "rooms")?,
            registration,
        })
    }

    pub fn id(&self) -> &str {
        &self.registration.id
    }

    /// The application service API of the service, authenticated as this
    /// homeserver; `None` for a service without a `url` (it is sent nothing).
    pub fn client(&self) -> Option<&app::Client> {
        self.client.as_ref()
    }

    /// Whether it asked for ephemeral data (`receive_ephemeral`).
    pub fn receives_ephemeral(&self) -> bool {
        self.registration.receive_ephemeral.unwrap_or(false)
    }

    /// Whether `user_id` is its sender or in its user namespaces.
    pub fn owns_user(&self, user_id: &str) -> bool {
        user_id == self.sender || self.users.iter().any(|n| n.pattern.is_match(user_id))
    }

    pub fn owns_alias(&self, alias: &str) -> bool {
        self.aliases.iter().any(|n| n.pattern.is_match(alias))
    }

    pub fn owns_room(&self, room_id: &str) -> bool {
        self.rooms.iter().any(|n| n.pattern.is_match(room_id))
    }

    fn claims_user_exclusively(&self, user_id: &str) -> bool {
        user_id == self.sender || self.users.iter().any(|n| n.exclusive && n.pattern.is_match(user_id))
    }

    fn claims_alias_exclusively(&self, alias: &str) -> bool {
        self.aliases.iter().any(|n| n.exclusive && n.pattern.is_match(alias))
    }

    /// Whether requests acting as its users are rate-limited (they are
    /// unless its registration says `rate_limited: false`).
    pub fn rate_limited(&self) -> bool {
        self.registration.rate_limited.unwrap_or(true)
    }
}

/// Every application service of this server.
#[derive(Clone, Debug, Default)]
pub struct AppServices(Vec<AppService>);

impl AppServices {
    /// Reads registration files (YAML), each refused with the reason when
    /// it is not one, or when two share an ID or a token.
    pub fn load(files: &[std::path::PathBuf], server_name: &str) -> Result<AppServices, String> {
        let mut all: Vec<AppService> = Vec::new();
        for file in files {
            let service = read(file, server_name)?;
            let clash = all.iter().find(|other| {
                other.id() == service.id()
                    || other.registration.as_token == service.registration.as_token
                    || other.registration.hs_token == service.registration.hs_token
            });
            if let Some(other) = clash {
                return Err(format!(
                    "{}: the ID or a token of application service {} is taken by {}",
                    file.display(),
                    service.id(),
                    other.id()
                ));
            }
            all.push(service);
        }
        Ok(AppServices(all))
    }

    pub fn all(&self) -> &[AppService] {
        &self.0
    }

    /// The application service whose `as_token` this is.
    pub fn by_token(&self, token: &str) -> Option<&AppService> {
        self.0.iter().find(|s| s.registration.as_token == token)
    }

    pub fn by_id(&self, id: &str) -> Option<&AppService> {
        self.0.iter().find(|s| s.id() == id)
    }

    /// The application service that claims `user_id` exclusively, if any.
    pub fn exclusive_user_owner(&self, user_id: &str) -> Option<&AppService> {
        self.0.iter().find(|s| s.claims_user_exclusively(user_id))
    }

    /// The application service that claims `alias` exclusively, if any.
    pub fn exclusive_alias_owner(&self, alias: &str) -> Option<&AppService> {
        self.0.iter().find(|s| s.claims_alias_exclusively(alias))
    }
}

fn read(file: &Path, server_name: &str) -> Result<AppService, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let registration: Registration =
        serde_norway::from_str(&text).map_err(|e| format!("{}: not a registration: {e}", file.display()))?;
    AppService::new(registration, server_name).map_err(|e| format!("{}: {e}", file.display()))
}

/// The client-server `/appservice/{appserviceId}/ping`: an application
/// service asks this server to ping it, to check that the two reach each
/// other.
pub async fn ping_from_client(
    hs: &crate::api::Homeserver,
    request: matrix_api::client_server::endpoints::ping_appservice::Request,
    credentials: matrix_api_runtime::server::Credentials,
) -> Result<matrix_api::client_server::endpoints::ping_appservice::Response, matrix_api_runtime::MatrixError> {
    use matrix_api::client_server::endpoints::ping_appservice::Response;
    use matrix_api::client_server::PingAppserviceResponse;
    use matrix_api_runtime::{ErrorCode, MatrixError};
    let service = credentials
        .access_token
        .as_deref()
        .and_then(|token| hs.appservices.by_token(token))
        .filter(|service| service.id() == request.path.appservice_id)
        .ok_or_else(|| MatrixError::forbidden("only the application service itself can ask for its ping"))?;
    let error = |status: u16, code: &str, text: String| MatrixError::new(status, ErrorCode::from(code), text);
    match queries::ping(service, request.body.transaction_id).await {
        Ok(took) => Ok(Response::Ok(PingAppserviceResponse::new(took.as_millis() as i64))),
        Err(queries::PingFailure::NoUrl) => Err(error(400, "M_URL_NOT_SET", "the registration has no URL".into())),
        Err(queries::PingFailure::Status(status, body)) => Err(error(
            502,
            "M_BAD_STATUS",
            format!("the application service answered {status}"),
        )
        .with("status", status)
        .with("body", body)),
        Err(queries::PingFailure::Timeout) => Err(error(
            504,
            "M_CONNECTION_TIMEOUT",
            "the application service did not answer".into(),
        )),
        Err(queries::PingFailure::Failed(why)) => Err(error(502, "M_CONNECTION_FAILED", why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> AppService {
        let registration: Registration = serde_norway::from_str(
            "id: echo\nurl: http://127.0.0.1:9\nas_token: a\nhs_token: h\nsender_localpart: echobot\n\
             namespaces:\n  users: [{exclusive: true, regex: '@echo_.*:hs\\.example'}]\n  \
             aliases: [{exclusive: false, regex: '#echo_.*:hs\\.example'}]\n",
        )
        .unwrap();
        AppService::new(registration, "hs.example").unwrap()
    }

    #[test]
    fn namespaces_match_whole_ids() {
        let s = service();
        assert!(s.owns_user("@echo_bob:hs.example"));
        assert!(s.owns_user("@echobot:hs.example"));
        assert!(!s.owns_user("@echo_bob:hs.example.evil"));
        assert!(!s.owns_user("@bob:hs.example"));
        assert!(s.owns_alias("#echo_lobby:hs.example"));
        let all = AppServices(vec![s]);
        assert!(all.exclusive_user_owner("@echo_x:hs.example").is_some());
        // A shared alias namespace is nobody's alone.
        assert!(all.exclusive_alias_owner("#echo_lobby:hs.example").is_none());
        assert_eq!(all.by_token("a").map(AppService::id), Some("echo"));
    }
}
