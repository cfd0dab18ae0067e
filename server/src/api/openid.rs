//! OpenID tokens (`POST /user/{userId}/openid/request_token`): a user's
//! short-lived proof of who they are, for services that are not this
//! server (an identity server registering the user, an integration). The
//! service checks it with this server over federation
//! (`/openid/userinfo`, `federation::api`), which names the user and
//! nothing else.

use super::{internal, now_ms, random_id, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::OpenidToken;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;

/// How long a token holds: an hour, as Synapse issues them.
const VALIDITY_SECONDS: i64 = 3600;

pub(super) fn request_token(
    hs: &Homeserver,
    request: cs::request_open_id_token::Request,
    credentials: Credentials,
) -> Result<cs::request_open_id_token::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    if request.path.user_id != user_id {
        return Err(MatrixError::forbidden("a token can only be requested for oneself"));
    }
    let token = random_id(32);
    let expires_ts = now_ms() + VALIDITY_SECONDS * 1000;
    hs.store
        .add_openid_token(&token, &user_id, expires_ts)
        .map_err(internal)?;
    Ok(cs::request_open_id_token::Response::Ok(OpenidToken::new(
        token,
        "Bearer".to_owned(),
        hs.server_name.clone(),
        VALIDITY_SECONDS,
    )))
}

impl Homeserver {
    /// The user an OpenID token stands for, while it holds.
    pub(crate) fn openid_user(&self, token: &str) -> Result<String> {
        self.store
            .openid_token_owner(token, now_ms())
            .map_err(internal)?
            .ok_or_else(|| {
                MatrixError::new(
                    401,
                    matrix_api_runtime::ErrorCode::UnknownToken,
                    "Unknown or expired OpenID token",
                )
            })
    }
}
