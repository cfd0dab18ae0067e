//! Registration, login, logout, whoami and password change.

use super::uia::Reauthentication;
use super::{id, internal, now_ms, random_id, Homeserver, Result};
use crate::store::Device;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    AuthResponse, FlowInformation, GetLoginFlowsResponse, GetTokenOwnerResponse, LoginFlow, LoginResponse,
    RegisterResponse,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

fn valid_localpart(localpart: &str) -> bool {
    !localpart.is_empty()
        && localpart.len() <= 255
        && localpart
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/+".contains(c))
}

impl Homeserver {
    /// A new access token for a device: the given one (created if new) or
    /// a fresh one.
    fn issue_token(
        &self,
        user_id: &str,
        device_id: Option<String>,
        display_name: Option<String>,
    ) -> Result<(String, String)> {
        let token = format!("syt_{}", random_id(32));
        let device = Device {
            device_id: device_id.unwrap_or_else(|| random_id(10).to_uppercase()),
            display_name,
            last_seen_ts: Some(now_ms()),
        };
        self.store.add_token(&token, user_id, &device).map_err(internal)?;
        Ok((token, device.device_id))
    }
}

pub(super) fn login_flows(_: &Homeserver, _: cs::get_login_flows::Request) -> Result<cs::get_login_flows::Response> {
    let password = LoginFlow::new("m.login.password".into());
    Ok(cs::get_login_flows::Response::Ok(GetLoginFlowsResponse {
        flows: Some(vec![password]),
    }))
}

pub(super) async fn register(
    hs: &Homeserver,
    request: cs::register::Request,
    credentials: Credentials,
) -> Result<cs::register::Response> {
    let body = request.body;
    if request.query.kind.as_ref().is_some_and(|k| k.as_str() == "guest") {
        return Err(MatrixError::forbidden("Guest access is not enabled"));
    }
    // An application service registers its users with its token and no
    // flows; nobody else registers in an exclusive namespace.
    let by_service = body.r#type.is_some();
    let service = match (by_service, credentials.access_token.as_deref()) {
        (false, _) => None,
        (true, Some(token)) => Some(
            hs.appservices
                .by_token(token)
                .ok_or_else(|| MatrixError::new(401, ErrorCode::UnknownToken, "not an application service's token"))?,
        ),
        (true, None) => return Err(MatrixError::missing_token()),
    };
    let localpart = body.username.clone().unwrap_or_else(|| random_id(12).to_lowercase());
    if !valid_localpart(&localpart) {
        return Err(MatrixError::new(400, ErrorCode::InvalidUsername, "Invalid username"));
    }
    let user_id = hs.user_id(&localpart);
    // The whole user ID, sigil and server name included, is at most 255 bytes.
    if user_id.len() > super::limits::MAX_KEY_BYTES {
        return Err(MatrixError::new(
            400,
            ErrorCode::InvalidUsername,
            format!("{} bytes make a user ID longer than 255 bytes", localpart.len()),
        ));
    }
    let exclusive = || {
        MatrixError::new(
            400,
            ErrorCode::Exclusive,
            "This user ID is reserved by an application service",
        )
    };
    match service {
        Some(service) if !service.owns_user(&user_id) => return Err(exclusive()),
        None if hs.appservices.exclusive_user_owner(&user_id).is_some() => return Err(exclusive()),
        _ => {}
    }
    // User-interactive auth: one dummy stage.
    let auth_type = body.auth.as_ref().and_then(|a| a.r#type.as_deref());
    if service.is_none() && auth_type != Some("m.login.dummy") {
        let mut auth = AuthResponse::new(vec![FlowInformation::new(vec!["m.login.dummy".into()])]);
        auth.params = Some(Default::default());
        auth.session = Some(random_id(16));
        return Ok(cs::register::Response::Unauthorized(auth));
    }
    let hash = match &body.password {
        Some(p) => hash_password(p.clone()).await?,
        None => String::new(),
    };
    if !hs.store.create_user(&user_id, &hash).map_err(internal)? {
        return Err(MatrixError::new(400, ErrorCode::UserInUse, "User ID already taken"));
    }
    hs.store
        .set_profile_field(&user_id, "displayname", Some(&Value::String(localpart.to_owned())))
        .map_err(internal)?;
    hs.set_push_rules(&user_id, &hs.push_rules(&user_id)?)?;
    let mut response = RegisterResponse::new(id(&user_id)?);
    if !body.inhibit_login.unwrap_or(false) {
        let (token, device) = hs.issue_token(
            &user_id,
            body.device_id.clone(),
            body.initial_device_display_name.clone(),
        )?;
        response.access_token = Some(token);
        response.device_id = Some(device);
    }
    Ok(cs::register::Response::Ok(response))
}

pub(super) async fn login(hs: &Homeserver, request: cs::login::Request) -> Result<cs::login::Response> {
    let body = request.body;
    if body.r#type != "m.login.password" {
        return Err(MatrixError::new(400, ErrorCode::Unknown, "Unsupported login type"));
    }
    // `m.id.user` identifiers carry `user`, which the spec leaves to `additionalProperties`.
    let user = body
        .identifier
        .as_ref()
        .and_then(|i| i.additional_properties.get("user"))
        .and_then(|u| u.as_str().map(str::to_owned))
        .or(body.user.clone())
        .ok_or_else(|| MatrixError::missing_param("identifier.user"))?;
    let user_id = hs.user_id(&user);
    let hash = hs.store.password_hash(&user_id).map_err(internal)?;
    let ok = match (hash, &body.password) {
        (Some(hash), Some(password)) if !hash.is_empty() => password_matches(hash, password.clone()).await,
        _ => false,
    };
    if !ok {
        return Err(MatrixError::forbidden("Invalid username or password"));
    }
    let (token, device) = hs.issue_token(
        &user_id,
        body.device_id.clone(),
        body.initial_device_display_name.clone(),
    )?;
    let mut session = LoginResponse::new(id(&user_id)?, token, device);
    session.home_server = Some(id(&hs.server_name)?);
    Ok(cs::login::Response::Ok(session))
}

/// Ends the caller's session: the spec deletes the token's device with it.
pub(super) fn logout(
    hs: &Homeserver,
    _: cs::logout::Request,
    credentials: Credentials,
) -> Result<cs::logout::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let deleted = [device_id];
    hs.store.delete_devices(&user_id, &deleted).map_err(internal)?;
    hs.share_devices_deleted(&user_id, &deleted)?;
    Ok(cs::logout::Response::Ok(Map::new()))
}

/// Every token and device of the caller, this one included.
pub(super) fn logout_all(
    hs: &Homeserver,
    _: cs::logout_all::Request,
    credentials: Credentials,
) -> Result<cs::logout_all::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let devices = device_ids(hs, &user_id, |_| true)?;
    hs.store.delete_devices(&user_id, &devices).map_err(internal)?;
    hs.share_devices_deleted(&user_id, &devices)?;
    Ok(cs::logout_all::Response::Ok(Map::new()))
}

/// The IDs of the user's devices that `keep` selects.
pub(super) fn device_ids(hs: &Homeserver, user_id: &str, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    Ok(hs
        .store
        .devices(user_id)
        .map_err(internal)?
        .into_iter()
        .map(|d| d.device_id)
        .filter(|d| keep(d))
        .collect())
}

pub(super) fn whoami(
    hs: &Homeserver,
    _: cs::get_token_owner::Request,
    credentials: Credentials,
) -> Result<cs::get_token_owner::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let mut owner = GetTokenOwnerResponse::new(id(&user_id)?);
    owner.device_id = Some(device_id);
    Ok(cs::get_token_owner::Response::Ok(owner))
}

/// A new password, once the caller has given the current one again. With
/// `logout_devices` (the default) every *other* device is logged out.
pub(super) async fn change_password(
    hs: &Homeserver,
    request: cs::change_password::Request,
    credentials: Credentials,
) -> Result<cs::change_password::Response> {
    let (user_id, own_device) = hs.user(&credentials)?;
    let body = request.body;
    if let Reauthentication::Required(challenge) = hs
        .reauthenticate(&user_id, "change_password", body.auth.as_ref())
        .await?
    {
        return Ok(cs::change_password::Response::Unauthorized(challenge));
    }
    hs.store
        .set_password_hash(&user_id, &hash_password(body.new_password).await?)
        .map_err(internal)?;
    if body.logout_devices.unwrap_or(true) {
        let others = device_ids(hs, &user_id, |d| d != own_device)?;
        hs.store.delete_devices(&user_id, &others).map_err(internal)?;
        hs.share_devices_deleted(&user_id, &others)?;
    }
    Ok(cs::change_password::Response::Ok(Map::new()))
}

/// Argon2 costs tens of milliseconds of CPU by design; it runs on tokio's
/// blocking pool so that a burst of logins does not stall every other
/// request waiting for the async workers.
async fn hash_password(password: String) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(internal)?;
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

/// Whether `password` matches the stored Argon2 `hash`, checked on the
/// blocking pool (see [`hash_password`]).
pub(super) async fn password_matches(hash: String, password: String) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}
