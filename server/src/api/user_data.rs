//! Per-user data: account data (global and per room) and stored filters.

use super::{internal, typed, Homeserver, Result};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::DefineFilterResponse;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};

/// The caller, who must be the user named in the path.
fn caller_is(hs: &Homeserver, credentials: &Credentials, user_id: &str) -> Result<String> {
    let (caller, _) = hs.user(credentials)?;
    if caller != user_id {
        return Err(MatrixError::forbidden("You cannot access another user's data"));
    }
    Ok(caller)
}

/// Types the server manages itself and clients may not set.
fn settable(data_type: &str) -> Result<()> {
    if matches!(data_type, "m.fully_read" | "m.push_rules") {
        return Err(MatrixError::new(
            405,
            ErrorCode::BadJson,
            format!("{data_type} is managed by the server"),
        ));
    }
    Ok(())
}

fn room_id_param(room_id: &str) -> Result<()> {
    if room_id.starts_with('!') {
        Ok(())
    } else {
        Err(MatrixError::invalid_param("roomId is not a room ID"))
    }
}

fn set(hs: &Homeserver, user_id: &str, room_id: &str, data_type: &str, content: Map<String, Value>) -> Result<()> {
    settable(data_type)?;
    hs.store
        .set_account_data(user_id, room_id, data_type, &Value::Object(content))
        .map_err(internal)?;
    hs.changes.notify_waiters();
    Ok(())
}

fn get(hs: &Homeserver, user_id: &str, room_id: &str, data_type: &str) -> Result<Map<String, Value>> {
    match hs.store.account_data(user_id, room_id, data_type).map_err(internal)? {
        Some(Value::Object(content)) => Ok(content),
        _ => Err(MatrixError::not_found("Account data not found")),
    }
}

pub(super) fn set_global(
    hs: &Homeserver,
    request: cs::set_account_data::Request,
    credentials: Credentials,
) -> Result<cs::set_account_data::Response> {
    let p = request.path;
    let user_id = caller_is(hs, &credentials, &p.user_id)?;
    set(hs, &user_id, "", &p.r#type, request.body)?;
    Ok(cs::set_account_data::Response::Ok(Map::new()))
}

pub(super) fn get_global(
    hs: &Homeserver,
    request: cs::get_account_data::Request,
    credentials: Credentials,
) -> Result<cs::get_account_data::Response> {
    let p = request.path;
    let user_id = caller_is(hs, &credentials, &p.user_id)?;
    Ok(cs::get_account_data::Response::Ok(get(hs, &user_id, "", &p.r#type)?))
}

pub(super) fn set_per_room(
    hs: &Homeserver,
    request: cs::set_account_data_per_room::Request,
    credentials: Credentials,
) -> Result<cs::set_account_data_per_room::Response> {
    let p = request.path;
    let user_id = caller_is(hs, &credentials, &p.user_id)?;
    room_id_param(&p.room_id)?;
    set(hs, &user_id, &p.room_id, &p.r#type, request.body)?;
    Ok(cs::set_account_data_per_room::Response::Ok(Map::new()))
}

pub(super) fn get_per_room(
    hs: &Homeserver,
    request: cs::get_account_data_per_room::Request,
    credentials: Credentials,
) -> Result<cs::get_account_data_per_room::Response> {
    let p = request.path;
    let user_id = caller_is(hs, &credentials, &p.user_id)?;
    room_id_param(&p.room_id)?;
    Ok(cs::get_account_data_per_room::Response::Ok(get(
        hs, &user_id, &p.room_id, &p.r#type,
    )?))
}

pub(super) fn define_filter(
    hs: &Homeserver,
    request: cs::define_filter::Request,
    credentials: Credentials,
) -> Result<cs::define_filter::Response> {
    let user_id = caller_is(hs, &credentials, &request.path.user_id)?;
    if let Some(format) = request.body.event_format.as_ref().filter(|f| !f.is_listed()) {
        return Err(MatrixError::new(
            400,
            ErrorCode::BadJson,
            format!("event_format must be client or federation, not {format}"),
        ));
    }
    let definition = serde_json::to_value(&request.body).map_err(internal)?;
    super::filter::validate(&definition).map_err(|e| MatrixError::new(400, ErrorCode::BadJson, e))?;
    let id = hs.store.add_filter(&user_id, &definition).map_err(internal)?;
    Ok(cs::define_filter::Response::Ok(DefineFilterResponse::new(
        id.to_string(),
    )))
}

pub(super) fn get_filter(
    hs: &Homeserver,
    request: cs::get_filter::Request,
    credentials: Credentials,
) -> Result<cs::get_filter::Response> {
    let p = request.path;
    let user_id = caller_is(hs, &credentials, &p.user_id)?;
    let definition = match p.filter_id.parse() {
        Ok(id) => hs.store.filter(&user_id, id).map_err(internal)?,
        Err(_) => None,
    }
    .ok_or_else(|| MatrixError::not_found("Filter not found"))?;
    Ok(cs::get_filter::Response::Ok(typed(definition)?))
}
