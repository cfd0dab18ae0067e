//! Profiles: `displayname`, `avatar_url` and custom fields. A change of
//! display name or avatar is also announced in every room the user is in, as
//! a new membership event.

use super::{internal, typed, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

/// Fields that fit within the 64 KiB the spec allows a whole profile.
const MAX_PROFILE_BYTES: usize = 65536;

fn existing_profile(hs: &Homeserver, user_id: &str) -> Result<Map<String, Value>> {
    if !hs.store.user_exists(user_id).map_err(internal)? {
        return Err(MatrixError::not_found("Profile not found"));
    }
    hs.store.profile(user_id).map_err(internal)
}

pub(super) fn get_profile(
    hs: &Homeserver,
    request: cs::get_user_profile::Request,
    _: Credentials,
) -> Result<cs::get_user_profile::Response> {
    let profile = existing_profile(hs, &request.path.user_id)?;
    Ok(cs::get_user_profile::Response::Ok(typed(Value::Object(profile))?))
}

pub(super) fn get_field(
    hs: &Homeserver,
    request: cs::get_profile_field::Request,
    _: Credentials,
) -> Result<cs::get_profile_field::Response> {
    let p = request.path;
    let profile = existing_profile(hs, &p.user_id)?;
    let value = profile
        .get(&p.key_name)
        .ok_or_else(|| MatrixError::not_found("Profile field not set"))?;
    Ok(cs::get_profile_field::Response::Ok(
        [(p.key_name.clone(), value.clone())].into_iter().collect(),
    ))
}

fn require_self(hs: &Homeserver, credentials: &Credentials, user_id: &str) -> Result<()> {
    let (caller, _) = hs.user(credentials)?;
    if caller != user_id {
        return Err(MatrixError::forbidden("You cannot change another user's profile"));
    }
    Ok(())
}

pub(super) fn set_field(
    hs: &Homeserver,
    request: cs::set_profile_field::Request,
    credentials: Credentials,
) -> Result<cs::set_profile_field::Response> {
    let p = request.path;
    require_self(hs, &credentials, &p.user_id)?;
    let value = request
        .body
        .get(&p.key_name)
        .ok_or_else(|| MatrixError::missing_param(&p.key_name))?;
    if matches!(p.key_name.as_str(), "displayname" | "avatar_url") && !value.is_string() {
        return Err(MatrixError::new(
            400,
            ErrorCode::BadJson,
            format!("{} must be a string", p.key_name),
        ));
    }
    let mut profile = hs.store.profile(&p.user_id).map_err(internal)?;
    profile.insert(p.key_name.clone(), value.clone());
    if Value::Object(profile).to_string().len() > MAX_PROFILE_BYTES {
        return Err(MatrixError::new(
            400,
            ErrorCode::Other("M_PROFILE_TOO_LARGE".into()),
            "Profile too large",
        ));
    }
    hs.store
        .set_profile_field(&p.user_id, &p.key_name, Some(value))
        .map_err(internal)?;
    announce(hs, &p.user_id, &p.key_name)?;
    Ok(cs::set_profile_field::Response::Ok(Map::new()))
}

pub(super) fn delete_field(
    hs: &Homeserver,
    request: cs::delete_profile_field::Request,
    credentials: Credentials,
) -> Result<cs::delete_profile_field::Response> {
    let p = request.path;
    require_self(hs, &credentials, &p.user_id)?;
    hs.store
        .set_profile_field(&p.user_id, &p.key_name, None)
        .map_err(internal)?;
    announce(hs, &p.user_id, &p.key_name)?;
    Ok(cs::delete_profile_field::Response::Ok(Map::new()))
}

/// Re-sends the user's membership in joined rooms with the new profile.
fn announce(hs: &Homeserver, user_id: &str, key: &str) -> Result<()> {
    if !matches!(key, "displayname" | "avatar_url") {
        return Ok(());
    }
    for (room_id, membership) in hs.store.rooms_of(user_id).map_err(internal)? {
        if membership == "join" {
            hs.set_membership(&room_id, user_id, user_id, "join", None)?;
        }
    }
    Ok(())
}
