//! End-to-end encryption keys: `/keys/upload`, `/keys/query`,
//! `/keys/claim`, `/keys/changes`, cross-signing keys and signatures, and
//! which users' device lists changed for a sync. Keys of users on other
//! servers are asked of those servers (`federation::user_keys`).
//!
//! The server never reads what the keys encrypt; it keeps them as uploaded
//! (the generated types of signed objects keep every key, so nothing a
//! signature covers is lost) and hands them to the users who ask.

use super::uia::Reauthentication;
use super::{internal, json_of, typed, Homeserver, Result};
use crate::store::{KeyConflict, StoredEvent};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{
    ClaimKeysResponse, CrossSigningKey, DeviceInformation, GetKeysChangesResponse, OneTimeKeys, QueryKeysResponse,
    UnsignedDeviceInfo, UploadCrossSigningSignaturesResponse, UploadKeysResponse,
};
use matrix_api::server_server as ss;
use matrix_api::UserId;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The cross-signing key types, as `/keys/query` names their maps.
/// The cross-signing key types, in the order of `/keys/query`'s fields.
const CROSS_SIGNING: [&str; 3] = ["master", "self_signing", "user_signing"];

impl Homeserver {
    fn is_local(&self, user_id: &str) -> bool {
        super::server_of(user_id) == Some(self.server_name.as_str())
    }
}

pub(super) fn upload(
    hs: &Homeserver,
    request: cs::upload_keys::Request,
    credentials: Credentials,
) -> Result<cs::upload_keys::Response> {
    let (user_id, device_id) = hs.user(&credentials)?;
    let body = request.body;
    let device_keys = match &body.device_keys {
        Some(keys) if keys.user_id != user_id || keys.device_id != device_id => {
            return Err(MatrixError::invalid_param(
                "device_keys must be for the device of the access token",
            ))
        }
        Some(keys) => Some(json_of(keys)?),
        None => None,
    };
    let listed = |keys: &Option<matrix_api::client_server::OneTimeKeys>| -> Result<Vec<(String, Value)>> {
        keys.iter()
            .flatten()
            .map(|(id, key)| Ok((id.clone(), json_of(key)?)))
            .collect()
    };
    let one_time = listed(&body.one_time_keys)?;
    let fallback = listed(&body.fallback_keys)?;
    if let Some(bad) = one_time.iter().chain(&fallback).find(|(id, _)| !id.contains(':')) {
        return Err(MatrixError::invalid_param(format!(
            "key ID {} is not <algorithm>:<key_id>",
            bad.0
        )));
    }
    let device_keys_changed = match hs
        .store
        .upload_keys(&user_id, &device_id, device_keys.as_ref(), &one_time, &fallback)
        .map_err(internal)?
    {
        Ok(changed) => changed,
        Err(KeyConflict::OneTimeKeyChanged(id)) => {
            return Err(MatrixError::invalid_param(format!(
                "one-time key {id} already exists with other content"
            )))
        }
    };
    hs.changes.notify_waiters();
    if let Some(keys) = body.device_keys.filter(|_| device_keys_changed) {
        let mut update = ss::DeviceListUpdateContent::new(user_id.clone(), device_id.clone(), next_stream_id());
        update.keys = Some(keys);
        hs.share_device_list_update(&user_id, update)?;
    }
    let counts = hs.store.one_time_key_counts(&user_id, &device_id).map_err(internal)?;
    Ok(cs::upload_keys::Response::Ok(UploadKeysResponse::new(counts)))
}

/// A local user's device keys, with each device's display name in
/// `unsigned` as the spec describes (not signed, so it may be added).
pub(crate) fn devices_of(
    hs: &Homeserver,
    user_id: &str,
    only: &[String],
) -> Result<BTreeMap<String, DeviceInformation>> {
    let names: BTreeMap<String, Option<String>> = hs
        .store
        .devices(user_id)
        .map_err(internal)?
        .into_iter()
        .map(|d| (d.device_id, d.display_name))
        .collect();
    let mut out = BTreeMap::new();
    for (device, keys) in hs.store.device_keys(user_id).map_err(internal)? {
        if !only.is_empty() && !only.contains(&device) {
            continue;
        }
        let mut info: DeviceInformation = typed(keys)?;
        if let Some(Some(name)) = names.get(&device) {
            info.unsigned = Some(UnsignedDeviceInfo {
                device_display_name: Some(name.clone()),
            });
        }
        out.insert(device, info);
    }
    Ok(out)
}

/// A server's failure in `/keys/query` or `/keys/claim`: the error it gave,
/// or why it could not be asked.
fn failure(error: &MatrixError) -> Result<Map<String, Value>> {
    Ok(super::object(&json_of(&error.body)?))
}

fn server_of(user: &str) -> &str {
    super::server_of(user).unwrap_or(user)
}

/// The keys of this server's users: each one's devices (only those listed,
/// or all), and their cross-signing keys; a user-signing key only for its
/// owner (`caller`; another server never sees one).
pub(crate) struct LocalKeys {
    pub device_keys: BTreeMap<UserId, BTreeMap<String, DeviceInformation>>,
    pub cross_signing: [BTreeMap<UserId, CrossSigningKey>; 3],
}

pub(crate) fn local_keys<'a>(
    hs: &Homeserver,
    users: impl IntoIterator<Item = (&'a UserId, &'a Vec<String>)>,
    caller: Option<&str>,
) -> Result<LocalKeys> {
    let mut keys = LocalKeys {
        device_keys: BTreeMap::new(),
        cross_signing: Default::default(),
    };
    for (user, devices) in users {
        keys.device_keys
            .insert(user.clone(), devices_of(hs, user.as_str(), devices)?);
        let mut stored = hs.store.cross_signing_keys(user.as_str()).map_err(internal)?;
        for (slot, key_type) in keys.cross_signing.iter_mut().zip(CROSS_SIGNING) {
            if key_type == "user_signing" && Some(user.as_str()) != caller {
                continue;
            }
            if let Some(key) = stored.remove(key_type) {
                slot.insert(user.clone(), typed(key)?);
            }
        }
    }
    Ok(keys)
}

/// Claims one one-time key per device listed, of the algorithm given.
pub(crate) fn claim_local<'a>(
    hs: &Homeserver,
    users: impl IntoIterator<Item = (&'a UserId, &'a BTreeMap<String, String>)>,
) -> Result<BTreeMap<UserId, BTreeMap<String, OneTimeKeys>>> {
    let mut claimed: BTreeMap<UserId, BTreeMap<String, OneTimeKeys>> = BTreeMap::new();
    for (user, devices) in users {
        for (device, algorithm) in devices {
            if let Some((key_id, key)) = hs.store.claim_key(user.as_str(), device, algorithm).map_err(internal)? {
                claimed
                    .entry(user.clone())
                    .or_default()
                    .insert(device.clone(), OneTimeKeys::from([(key_id, typed(key)?)]));
            }
        }
    }
    Ok(claimed)
}

/// A request's users by server (each with what is asked of them).
type ByServer<T> = BTreeMap<String, BTreeMap<UserId, T>>;

/// Groups a request's users by server: this one's, and each other's.
fn by_server<'a, T: Clone>(hs: &Homeserver, users: &'a BTreeMap<UserId, T>) -> (Vec<(&'a UserId, &'a T)>, ByServer<T>) {
    let mut local = Vec::new();
    let mut remote: ByServer<T> = BTreeMap::new();
    for (user, wanted) in users {
        if hs.is_local(user.as_str()) {
            local.push((user, wanted));
        } else {
            remote
                .entry(server_of(user.as_str()).to_owned())
                .or_default()
                .insert(user.clone(), wanted.clone());
        }
    }
    (local, remote)
}

pub(super) async fn query(
    hs: &Homeserver,
    request: cs::query_keys::Request,
    credentials: Credentials,
) -> Result<cs::query_keys::Response> {
    let (caller, _) = hs.user(&credentials)?;
    let (local, remote) = by_server(hs, &request.body.device_keys);
    let LocalKeys {
        mut device_keys,
        cross_signing,
    } = local_keys(hs, local, Some(&caller))?;
    let [mut master_keys, mut self_signing_keys, user_signing_keys] = cross_signing;
    let mut failures = BTreeMap::new();
    let federation = hs.federation();
    for (server, users) in remote {
        let Some(federation) = &federation else {
            failures.insert(
                server,
                failure(&MatrixError::not_found("This server does not federate"))?,
            );
            continue;
        };
        match federation.query_remote_keys(&server, users).await {
            Ok(answer) => {
                // Only what the server may speak for: its own users.
                let own = |user: &UserId| server_of(user.as_str()) == server;
                device_keys.extend(
                    typed::<BTreeMap<UserId, BTreeMap<String, DeviceInformation>>>(json_of(&answer.device_keys)?)?
                        .into_iter()
                        .filter(|(u, _)| own(u)),
                );
                let cross = |keys: &Option<BTreeMap<UserId, matrix_api::client_server::CrossSigningKey>>| {
                    keys.iter()
                        .flatten()
                        .filter(|(u, _)| own(u))
                        .map(|(u, k)| (u.clone(), k.clone()))
                        .collect::<Vec<_>>()
                };
                master_keys.extend(cross(&answer.master_keys));
                self_signing_keys.extend(cross(&answer.self_signing_keys));
            }
            Err(error) => {
                failures.insert(server, failure(&error)?);
            }
        }
    }
    Ok(cs::query_keys::Response::Ok(QueryKeysResponse {
        failures: Some(failures),
        device_keys: Some(device_keys),
        master_keys: Some(master_keys),
        self_signing_keys: Some(self_signing_keys),
        user_signing_keys: Some(user_signing_keys),
    }))
}

pub(super) async fn claim(
    hs: &Homeserver,
    request: cs::claim_keys::Request,
    credentials: Credentials,
) -> Result<cs::claim_keys::Response> {
    hs.user(&credentials)?;
    let (local, remote) = by_server(hs, &request.body.one_time_keys);
    let mut one_time_keys = claim_local(hs, local)?;
    let mut failures = BTreeMap::new();
    let federation = hs.federation();
    for (server, users) in remote {
        let Some(federation) = &federation else {
            failures.insert(
                server,
                failure(&MatrixError::not_found("This server does not federate"))?,
            );
            continue;
        };
        match federation.claim_remote_keys(&server, users).await {
            Ok(answer) => {
                let claimed: BTreeMap<UserId, BTreeMap<String, OneTimeKeys>> = typed(json_of(&answer.one_time_keys)?)?;
                one_time_keys.extend(claimed.into_iter().filter(|(u, _)| server_of(u.as_str()) == server));
            }
            Err(error) => {
                failures.insert(server, failure(&error)?);
            }
        }
    }
    Ok(cs::claim_keys::Response::Ok(ClaimKeysResponse {
        failures: Some(failures),
        one_time_keys,
    }))
}

/// The users whose device lists a user must refetch between two positions
/// (events, side), and those they no longer share a room with.
pub(super) fn device_list_delta(
    hs: &Homeserver,
    user_id: &str,
    from: (i64, i64),
    to: (i64, i64),
) -> Result<(Vec<String>, Vec<String>)> {
    let mut sharing = BTreeSet::new();
    let mut changed = BTreeSet::new();
    let mut departed = BTreeSet::new();
    for (room_id, membership) in hs.store.rooms_of(user_id).map_err(internal)? {
        let window = hs.store.events_between(&room_id, from.0, to.0).map_err(internal)?;
        let member_changes = window.iter().filter(|e| e.event_type == "m.room.member");
        let joined_now = |e: &&StoredEvent| e.content["membership"] == "join";
        if membership == "join" {
            let state = hs.store.current_state(&room_id).map_err(internal)?;
            let members = state
                .iter()
                .filter(|e| e.event_type == "m.room.member" && e.content["membership"] == "join")
                .filter_map(|e| e.state_key.clone());
            let i_joined = member_changes
                .clone()
                .any(|e| e.state_key.as_deref() == Some(user_id) && joined_now(&e));
            for member in members {
                if i_joined {
                    changed.insert(member.clone());
                }
                sharing.insert(member);
            }
        }
        for e in member_changes {
            let Some(member) = e.state_key.clone() else { continue };
            if joined_now(&e) {
                changed.insert(member);
            } else {
                departed.insert(member);
            }
        }
    }
    sharing.insert(user_id.to_owned());
    for user in hs.store.device_list_changes_since(from.1).map_err(internal)? {
        changed.insert(user);
    }
    let changed: Vec<String> = changed.into_iter().filter(|u| sharing.contains(u)).collect();
    let left = departed.into_iter().filter(|u| !sharing.contains(u)).collect();
    Ok((changed, left))
}

pub(super) fn changes(
    hs: &Homeserver,
    request: cs::get_keys_changes::Request,
    credentials: Credentials,
) -> Result<cs::get_keys_changes::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let position = |token: &str, name: &str| {
        super::sync::positions(token).ok_or_else(|| MatrixError::invalid_param(format!("{name} is not a sync token")))
    };
    let from = position(&request.query.from, "from")?;
    let to = position(&request.query.to, "to")?;
    let (changed, left) = device_list_delta(hs, &user_id, from, to)?;
    Ok(cs::get_keys_changes::Response::Ok(GetKeysChangesResponse {
        changed: Some(changed),
        left: Some(left),
    }))
}

/// Cross-signing keys. The first upload needs only the access token (there
/// is nothing to take over yet); replacing keys needs the password again.
pub(super) async fn upload_cross_signing(
    hs: &Homeserver,
    request: cs::upload_cross_signing_keys::Request,
    credentials: Credentials,
) -> Result<cs::upload_cross_signing_keys::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    let existing = hs.store.cross_signing_keys(&user_id).map_err(internal)?;
    if existing.contains_key("master") {
        if let Reauthentication::Required(challenge) = hs
            .reauthenticate(&user_id, "upload_cross_signing_keys", body.auth.as_ref())
            .await?
        {
            // The spec documents no 401 for this operation (its description
            // says it uses user-interactive auth), so the challenge goes out
            // as an error with the flows beside the errcode.
            return Err(super::uia::challenge_error(challenge));
        }
    }
    let given: [(&str, &Option<CrossSigningKey>); 3] = [
        ("master", &body.master_key),
        ("self_signing", &body.self_signing_key),
        ("user_signing", &body.user_signing_key),
    ];
    let mut keys = Vec::new();
    for (key_type, key) in given {
        let Some(key) = key else { continue };
        if key.user_id != user_id {
            return Err(MatrixError::invalid_param(format!(
                "the {key_type} key is not the caller's"
            )));
        }
        keys.push((key_type, json_of(key)?));
    }
    if keys.iter().all(|(t, _)| *t != "master") && !existing.contains_key("master") {
        return Err(MatrixError::invalid_param("the first upload must include a master key"));
    }
    hs.store.set_cross_signing_keys(&user_id, &keys).map_err(internal)?;
    hs.changes.notify_waiters();
    hs.share_signing_key_update(&user_id)?;
    Ok(cs::upload_cross_signing_keys::Response::Ok(Map::new()))
}

/// Merges the caller's signatures on their own devices and cross-signing
/// keys into the stored keys. Signatures on other users' keys are refused
/// (reported per key): this server does not keep them.
pub(super) fn upload_signatures(
    hs: &Homeserver,
    request: cs::upload_cross_signing_signatures::Request,
    credentials: Credentials,
) -> Result<cs::upload_cross_signing_signatures::Response> {
    let (caller, _) = hs.user(&credentials)?;
    let mut failures: BTreeMap<UserId, BTreeMap<String, Map<String, Value>>> = BTreeMap::new();
    for (user, signed) in request.body {
        for (key_id, object) in signed {
            let fail = |why: &str| {
                let error = MatrixError::invalid_param(why);
                json_of(&error.body).map(|body| super::object(&body))
            };
            if user.as_str() != caller {
                failures
                    .entry(user.clone())
                    .or_default()
                    .insert(key_id, fail("signatures of other users' keys are not kept")?);
                continue;
            }
            let signatures = object.get("signatures").and_then(|s| s.get(&caller)).cloned();
            let Some(Value::Object(signatures)) = signatures else {
                failures
                    .entry(user.clone())
                    .or_default()
                    .insert(key_id, fail("no signatures by the caller")?);
                continue;
            };
            if !merge_signatures(hs, &caller, &key_id, &signatures)? {
                failures
                    .entry(user.clone())
                    .or_default()
                    .insert(key_id, fail("no such device or cross-signing key")?);
            }
        }
    }
    hs.changes.notify_waiters();
    Ok(cs::upload_cross_signing_signatures::Response::Ok(
        UploadCrossSigningSignaturesResponse {
            failures: Some(failures),
        },
    ))
}

/// Adds signatures to the device `key_id` or the cross-signing key whose
/// public key is `key_id`; false when there is neither.
fn merge_signatures(hs: &Homeserver, user_id: &str, key_id: &str, signatures: &Map<String, Value>) -> Result<bool> {
    let add = |keys: &mut Value| {
        let mine = &mut keys["signatures"][user_id];
        if !mine.is_object() {
            *mine = Value::Object(Map::new());
        }
        for (k, v) in signatures {
            mine[k] = v.clone();
        }
    };
    if let Some(mut keys) = hs.store.device_keys(user_id).map_err(internal)?.remove(key_id) {
        add(&mut keys);
        hs.store.set_device_keys(user_id, key_id, &keys).map_err(internal)?;
        return Ok(true);
    }
    let cross_signing = hs.store.cross_signing_keys(user_id).map_err(internal)?;
    for (key_type, mut key) in cross_signing {
        let holds = key["keys"]
            .as_object()
            .is_some_and(|k| k.values().any(|public| public == key_id));
        if holds {
            add(&mut key);
            hs.store
                .set_cross_signing_keys(user_id, &[(key_type.as_str(), key)])
                .map_err(internal)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `stream_id` of this server's device list updates: rising across the
/// process and across restarts (milliseconds, at least one more than the
/// last), so that receivers order a user's updates.
fn next_stream_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = super::now_ms();
    let next = |last: i64| last.saturating_add(1).max(now);
    let last = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(next(last)))
        .unwrap_or_else(|last| last);
    next(last)
}

impl Homeserver {
    /// Tells the servers of the users sharing a room with `user_id` that
    /// one of the user's devices changed or went (`m.device_list_update`),
    /// so that their users query its keys again.
    pub(super) fn share_device_list_update(&self, user_id: &str, update: ss::DeviceListUpdateContent) -> Result<()> {
        let servers = self.companion_servers(user_id)?;
        super::ephemeral::queue_edu(self, servers, &ss::DeviceListUpdate::new(update))
    }

    /// The same for devices deleted.
    pub(super) fn share_devices_deleted(&self, user_id: &str, device_ids: &[String]) -> Result<()> {
        for device_id in device_ids {
            let mut update = ss::DeviceListUpdateContent::new(user_id.to_owned(), device_id.clone(), next_stream_id());
            update.deleted = Some(true);
            self.share_device_list_update(user_id, update)?;
        }
        Ok(())
    }

    /// The same for new cross-signing keys (`m.signing_key_update`).
    fn share_signing_key_update(&self, user_id: &str) -> Result<()> {
        let keys = self.store.cross_signing_keys(user_id).map_err(internal)?;
        let mut update = ss::SigningKeyUpdateContent::new(user_id.to_owned());
        update.master_key = keys.get("master").cloned().map(typed).transpose()?;
        update.self_signing_key = keys.get("self_signing").cloned().map(typed).transpose()?;
        let servers = self.companion_servers(user_id)?;
        super::ephemeral::queue_edu(self, servers, &ss::SigningKeyUpdate::new(update))
    }
}
