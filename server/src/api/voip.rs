//! `/voip/turnServer`: credentials for the TURN server calls relay
//! through, in the time-limited form TURN servers such as coturn check with
//! a shared secret (`use-auth-secret`): the username is
//! `<expiry>:<user ID>` and the password the base64 HMAC-SHA1 of it.
//! Without a TURN server configured, the list of URIs is empty (clients
//! then call without a relay).

use super::{now_ms, Homeserver, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::GetTurnServerResponse;
use matrix_api_runtime::server::Credentials;
use std::time::Duration;

/// A TURN server this homeserver hands out credentials for.
#[derive(Clone, Debug)]
pub struct TurnConfig {
    /// `turn:` / `turns:` URIs, as clients should use them.
    pub uris: Vec<String>,
    /// The secret shared with the TURN server.
    pub secret: String,
    /// How long credentials are valid.
    pub ttl: Duration,
}

/// The time-limited username and password for `user_id`, valid until
/// `expires` (seconds since the epoch).
fn credentials(secret: &str, user_id: &str, expires: u64) -> (String, String) {
    let username = format!("{expires}:{user_id}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    let password = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, password)
}

pub(super) fn turn_server(
    hs: &Homeserver,
    _: cs::get_turn_server::Request,
    credentials_of_caller: Credentials,
) -> Result<cs::get_turn_server::Response> {
    let (user_id, _) = hs.user(&credentials_of_caller)?;
    let Some(turn) = &hs.turn else {
        return Ok(cs::get_turn_server::Response::Ok(GetTurnServerResponse::new(
            String::new(),
            String::new(),
            Vec::new(),
            0,
        )));
    };
    let expires = (now_ms() / 1000) as u64 + turn.ttl.as_secs();
    let (username, password) = credentials(&turn.secret, &user_id, expires);
    Ok(cs::get_turn_server::Response::Ok(GetTurnServerResponse::new(
        username,
        password,
        turn.uris.clone(),
        turn.ttl.as_secs() as i64,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_the_hmac_of_the_username() {
        // The expected password computed independently, by Python's hmac:
        // base64(HMAC-SHA1(b"north", b"1700000000:@alice:hs")).
        let (username, password) = credentials("north", "@alice:hs", 1_700_000_000);
        assert_eq!(username, "1700000000:@alice:hs");
        assert_eq!(password, "lV+Km5gUS6NbmeDKsQ6L/G/ovlk=");
    }
}
