//! User-interactive authentication for the operations that must make sure
//! the person holding an access token is the account's owner (changing the
//! password, deleting devices): one flow, one `m.login.password` stage.
//!
//! The first request without `auth` gets `401` with the flow and a new
//! session; the client repeats it with `auth` carrying the session and the
//! password. A wrong password is `401 M_FORBIDDEN` with the flow again. A
//! session serves one operation of one user and expires after ten minutes.
//! Sessions are stored, so that with several processes on one database the
//! next step may go to any of them.

use super::{internal, now_ms, random_id, Homeserver, Result};
use matrix_api::client_server::{AuthData, AuthResponse, FlowInformation};
use matrix_api_runtime::{ErrorCode, MatrixError};

const PASSWORD_STAGE: &str = "m.login.password";
/// How long a session may be used (ms).
const SESSION_LIFETIME_MS: i64 = 600_000;

/// What the caller must do before the operation runs.
pub(super) enum Reauthentication {
    /// The caller proved who they are: go on.
    Done,
    /// The caller has not authenticated yet: answer `401` with this.
    Required(AuthResponse),
}

impl Homeserver {
    /// A new session for `user_id`'s `operation` (the expired ones go).
    fn issue_uia(&self, user_id: &str, operation: &'static str) -> Result<String> {
        let session = random_id(24);
        let now = now_ms();
        self.store
            .add_uia_session(&session, user_id, operation, now, now - SESSION_LIFETIME_MS)
            .map_err(internal)?;
        Ok(session)
    }

    /// Whether `session` was issued to this user for this operation (and is
    /// still fresh); it is used up either way.
    fn take_uia(&self, session: &str, user_id: &str, operation: &'static str) -> Result<bool> {
        let taken = self.store.take_uia_session(session).map_err(internal)?;
        Ok(taken.is_some_and(|(user, op, issued)| {
            user == user_id && op == operation && now_ms() - issued < SESSION_LIFETIME_MS
        }))
    }
}

fn challenge(session: String) -> AuthResponse {
    let mut response = AuthResponse::new(vec![FlowInformation::new(vec![PASSWORD_STAGE.into()])]);
    response.params = Some(Default::default());
    response.session = Some(session);
    response.completed = Some(Vec::new());
    response
}

/// A challenge for an operation whose documented responses have no `401`:
/// `401 M_UNAUTHORIZED` carrying the flows and session.
pub(super) fn challenge_error(challenge: AuthResponse) -> MatrixError {
    with_challenge(
        MatrixError::new(401, ErrorCode::Unauthorized, "Authenticate again to do this"),
        challenge,
    )
}

/// An error with what the client needs to authenticate beside it.
fn with_challenge(error: MatrixError, mut challenge: AuthResponse) -> MatrixError {
    challenge.params.get_or_insert_with(Default::default);
    challenge.completed.get_or_insert_with(Vec::new);
    challenge.session.get_or_insert_with(String::new);
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&challenge) else {
        return error;
    };
    fields
        .into_iter()
        .fold(error, |error, (key, value)| error.with(&key, value))
}

impl Homeserver {
    /// Checks the `auth` of a request by `user_id` for `operation` (a
    /// stable name such as `"change_password"`).
    pub(super) async fn reauthenticate(
        &self,
        user_id: &str,
        operation: &'static str,
        auth: Option<&AuthData>,
    ) -> Result<Reauthentication> {
        let Some(auth) = auth else {
            return Ok(Reauthentication::Required(challenge(
                self.issue_uia(user_id, operation)?,
            )));
        };
        // A session this server did not issue for this (or one that ran
        // out): start over, as if no `auth` had been sent.
        let session_ok = match auth.session.as_deref() {
            Some(session) => self.take_uia(session, user_id, operation)?,
            None => false,
        };
        if !session_ok {
            return Ok(Reauthentication::Required(challenge(
                self.issue_uia(user_id, operation)?,
            )));
        }
        if auth.r#type.as_deref() != Some(PASSWORD_STAGE) {
            return Err(self.failed(user_id, operation, "Only m.login.password is offered"));
        }
        let claimed = auth
            .additional_properties
            .get("identifier")
            .and_then(|i| i.get("user"))
            .or_else(|| auth.additional_properties.get("user"))
            .and_then(|u| u.as_str())
            .map(|u| self.user_id(u));
        let password = auth.additional_properties.get("password").and_then(|p| p.as_str());
        let hash = self.store.password_hash(user_id).map_err(internal)?;
        let proven = claimed.as_deref() == Some(user_id)
            && match (hash, password) {
                (Some(hash), Some(password)) if !hash.is_empty() => {
                    super::account::password_matches(hash, password.to_owned()).await
                }
                _ => false,
            };
        if !proven {
            return Err(self.failed(user_id, operation, "Invalid username or password"));
        }
        Ok(Reauthentication::Done)
    }

    /// `401 M_FORBIDDEN` with the flow and a fresh session to try again.
    fn failed(&self, user_id: &str, operation: &'static str, why: &str) -> MatrixError {
        let retry = match self.issue_uia(user_id, operation) {
            Ok(session) => challenge(session),
            Err(e) => return e,
        };
        with_challenge(MatrixError::new(401, ErrorCode::Forbidden, why), retry)
    }
}
