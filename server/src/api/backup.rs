//! Server-side key backup (`/room_keys`): versions of a user's backup,
//! and the session keys in them, encrypted by the client (the server never
//! sees the keys). Keys go only into the current version; of two backups of
//! one session the better one stays, as the spec orders them: verified
//! first, then the lower first message index, then fewer forwards.

use super::{id, internal, json_of, typed, Homeserver, Result};
use crate::store::{BackedUpKey, BackupVersion};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    GetRoomKeysVersionResponse, KeyBackupData, PostRoomKeysVersionResponse, RoomKeyBackup, RoomKeysUpdateResponse,
};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn version_number(version: &str) -> Result<i64> {
    version
        .parse()
        .map_err(|_| MatrixError::not_found(format!("No backup version {version}")))
}

fn version_of(hs: &Homeserver, user_id: &str, version: Option<&str>) -> Result<BackupVersion> {
    let number = version.map(version_number).transpose()?;
    hs.store
        .backup_version(user_id, number)
        .map_err(internal)?
        .ok_or_else(|| MatrixError::not_found("No backup version found"))
}

/// Keys may be added to the current version only: `403
/// M_WRONG_ROOM_KEYS_VERSION` names it otherwise.
fn current_for_writing(hs: &Homeserver, user_id: &str, version: &str) -> Result<i64> {
    let current = version_of(hs, user_id, None)?;
    if version_number(version).ok() != Some(current.version) {
        return Err(MatrixError::new(
            403,
            ErrorCode::Other("M_WRONG_ROOM_KEYS_VERSION".into()),
            "Keys go into the current backup version",
        )
        .with("current_version", current.version.to_string()));
    }
    Ok(current.version)
}

/// The spec's order of backups of one session: is `new` better than `old`?
fn replaces(old: &Value, new: &Value) -> bool {
    let rank = |v: &Value| {
        (
            !v["is_verified"].as_bool().unwrap_or(false),
            v["first_message_index"].as_i64().unwrap_or(i64::MAX),
            v["forwarded_count"].as_i64().unwrap_or(i64::MAX),
        )
    };
    rank(new) < rank(old)
}

fn updated((etag, count): (i64, i64)) -> RoomKeysUpdateResponse {
    RoomKeysUpdateResponse::new(etag.to_string(), count)
}

fn info(version: BackupVersion) -> Result<GetRoomKeysVersionResponse> {
    Ok(GetRoomKeysVersionResponse {
        algorithm: typed(Value::String(version.algorithm))?,
        auth_data: super::object(&version.auth_data),
        count: version.count,
        etag: version.etag.to_string(),
        version: version.version.to_string(),
    })
}

pub(super) fn create_version(
    hs: &Homeserver,
    r: cs::post_room_keys_version::Request,
    credentials: Credentials,
) -> Result<cs::post_room_keys_version::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let algorithm = json_of(&r.body.algorithm)?;
    let auth_data = Value::Object(r.body.auth_data);
    let version = hs
        .store
        .create_backup(&user_id, algorithm.as_str().unwrap_or_default(), &auth_data)
        .map_err(internal)?;
    Ok(cs::post_room_keys_version::Response::Ok(
        PostRoomKeysVersionResponse::new(version.to_string()),
    ))
}

pub(super) fn current_version(
    hs: &Homeserver,
    _: cs::get_room_keys_version_current::Request,
    credentials: Credentials,
) -> Result<cs::get_room_keys_version_current::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    Ok(cs::get_room_keys_version_current::Response::Ok(info(version_of(
        hs, &user_id, None,
    )?)?))
}

pub(super) fn get_version(
    hs: &Homeserver,
    r: cs::get_room_keys_version::Request,
    credentials: Credentials,
) -> Result<cs::get_room_keys_version::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    Ok(cs::get_room_keys_version::Response::Ok(info(version_of(
        hs,
        &user_id,
        Some(&r.path.version),
    )?)?))
}

/// Only `auth_data` changes; the algorithm and version must be the ones
/// the version has.
pub(super) fn update_version(
    hs: &Homeserver,
    r: cs::put_room_keys_version::Request,
    credentials: Credentials,
) -> Result<cs::put_room_keys_version::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let existing = version_of(hs, &user_id, Some(&r.path.version))?;
    if r.body.version.as_deref().is_some_and(|v| v != r.path.version) {
        return Err(MatrixError::invalid_param("the body's version is not the path's"));
    }
    if json_of(&r.body.algorithm)?.as_str() != Some(existing.algorithm.as_str()) {
        return Err(MatrixError::invalid_param("a backup version keeps its algorithm"));
    }
    hs.store
        .update_backup(&user_id, existing.version, &Value::Object(r.body.auth_data))
        .map_err(internal)?;
    Ok(cs::put_room_keys_version::Response::Ok(Map::new()))
}

pub(super) fn delete_version(
    hs: &Homeserver,
    r: cs::delete_room_keys_version::Request,
    credentials: Credentials,
) -> Result<cs::delete_room_keys_version::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let existing = version_of(hs, &user_id, Some(&r.path.version))?;
    hs.store.delete_backup(&user_id, existing.version).map_err(internal)?;
    Ok(cs::delete_room_keys_version::Response::Ok(Map::new()))
}

fn put(
    hs: &Homeserver,
    credentials: &Credentials,
    version: &str,
    keys: Vec<BackedUpKey>,
) -> Result<RoomKeysUpdateResponse> {
    let (user_id, _) = hs.user(credentials)?;
    let version = current_for_writing(hs, &user_id, version)?;
    let answer = hs
        .store
        .put_backup_keys(&user_id, version, &keys, &replaces)
        .map_err(internal)?;
    Ok(updated(answer))
}

fn sessions_of(room_id: &str, backup: RoomKeyBackup) -> Result<Vec<BackedUpKey>> {
    backup
        .sessions
        .into_iter()
        .map(|(session, data)| Ok((room_id.to_owned(), session, json_of(&data)?)))
        .collect()
}

pub(super) fn put_all(
    hs: &Homeserver,
    r: cs::put_room_keys::Request,
    credentials: Credentials,
) -> Result<cs::put_room_keys::Response> {
    let mut keys = Vec::new();
    for (room_id, backup) in r.body.rooms {
        keys.extend(sessions_of(&room_id, backup)?);
    }
    Ok(cs::put_room_keys::Response::Ok(put(
        hs,
        &credentials,
        &r.query.version,
        keys,
    )?))
}

pub(super) fn put_room(
    hs: &Homeserver,
    r: cs::put_room_keys_by_room_id::Request,
    credentials: Credentials,
) -> Result<cs::put_room_keys_by_room_id::Response> {
    let keys = sessions_of(&r.path.room_id, r.body)?;
    Ok(cs::put_room_keys_by_room_id::Response::Ok(put(
        hs,
        &credentials,
        &r.query.version,
        keys,
    )?))
}

pub(super) fn put_session(
    hs: &Homeserver,
    r: cs::put_room_key_by_session_id::Request,
    credentials: Credentials,
) -> Result<cs::put_room_key_by_session_id::Response> {
    let keys = vec![(r.path.room_id, r.path.session_id, json_of(&r.body)?)];
    Ok(cs::put_room_key_by_session_id::Response::Ok(put(
        hs,
        &credentials,
        &r.query.version,
        keys,
    )?))
}

/// The keys of a version, grouped by room then session.
fn read(
    hs: &Homeserver,
    credentials: &Credentials,
    version: &str,
    room_id: Option<&str>,
    session_id: Option<&str>,
) -> Result<BTreeMap<String, BTreeMap<String, KeyBackupData>>> {
    let (user_id, _) = hs.user(credentials)?;
    let version = version_of(hs, &user_id, Some(version))?.version;
    let mut rooms: BTreeMap<String, BTreeMap<String, KeyBackupData>> = BTreeMap::new();
    for (room, session, data) in hs
        .store
        .backup_keys(&user_id, version, room_id, session_id)
        .map_err(internal)?
    {
        rooms.entry(room).or_default().insert(session, typed(data)?);
    }
    Ok(rooms)
}

pub(super) fn get_all(
    hs: &Homeserver,
    r: cs::get_room_keys::Request,
    credentials: Credentials,
) -> Result<cs::get_room_keys::Response> {
    let rooms = read(hs, &credentials, &r.query.version, None, None)?;
    let rooms = rooms
        .into_iter()
        .map(|(room, sessions)| Ok((id(&room)?, RoomKeyBackup::new(sessions))))
        .collect::<Result<_>>()?;
    Ok(cs::get_room_keys::Response::Ok(
        matrix_api::client_server::PutRoomKeysRequest::new(rooms),
    ))
}

pub(super) fn get_room(
    hs: &Homeserver,
    r: cs::get_room_keys_by_room_id::Request,
    credentials: Credentials,
) -> Result<cs::get_room_keys_by_room_id::Response> {
    let mut rooms = read(hs, &credentials, &r.query.version, Some(&r.path.room_id), None)?;
    let sessions = rooms.remove(&r.path.room_id).unwrap_or_default();
    Ok(cs::get_room_keys_by_room_id::Response::Ok(RoomKeyBackup::new(sessions)))
}

pub(super) fn get_session(
    hs: &Homeserver,
    r: cs::get_room_key_by_session_id::Request,
    credentials: Credentials,
) -> Result<cs::get_room_key_by_session_id::Response> {
    let p = r.path;
    let mut rooms = read(
        hs,
        &credentials,
        &r.query.version,
        Some(&p.room_id),
        Some(&p.session_id),
    )?;
    let data = rooms
        .remove(&p.room_id)
        .and_then(|mut s| s.remove(&p.session_id))
        .ok_or_else(|| MatrixError::not_found("No such session in the backup"))?;
    Ok(cs::get_room_key_by_session_id::Response::Ok(data))
}

fn delete(
    hs: &Homeserver,
    credentials: &Credentials,
    version: &str,
    room_id: Option<&str>,
    session_id: Option<&str>,
) -> Result<RoomKeysUpdateResponse> {
    let (user_id, _) = hs.user(credentials)?;
    let version = version_of(hs, &user_id, Some(version))?.version;
    let answer = hs
        .store
        .delete_backup_keys(&user_id, version, room_id, session_id)
        .map_err(internal)?;
    Ok(updated(answer))
}

pub(super) fn delete_all(
    hs: &Homeserver,
    r: cs::delete_room_keys::Request,
    credentials: Credentials,
) -> Result<cs::delete_room_keys::Response> {
    Ok(cs::delete_room_keys::Response::Ok(delete(
        hs,
        &credentials,
        &r.query.version,
        None,
        None,
    )?))
}

pub(super) fn delete_room(
    hs: &Homeserver,
    r: cs::delete_room_keys_by_room_id::Request,
    credentials: Credentials,
) -> Result<cs::delete_room_keys_by_room_id::Response> {
    let answer = delete(hs, &credentials, &r.query.version, Some(&r.path.room_id), None)?;
    Ok(cs::delete_room_keys_by_room_id::Response::Ok(answer))
}

pub(super) fn delete_session(
    hs: &Homeserver,
    r: cs::delete_room_key_by_session_id::Request,
    credentials: Credentials,
) -> Result<cs::delete_room_key_by_session_id::Response> {
    let p = r.path;
    let answer = delete(
        hs,
        &credentials,
        &r.query.version,
        Some(&p.room_id),
        Some(&p.session_id),
    )?;
    Ok(cs::delete_room_key_by_session_id::Response::Ok(answer))
}
