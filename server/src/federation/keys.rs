//! Other servers' signing keys: fetched from the server itself
//! (`/_matrix/key/v2/server`), checked to be signed by themselves and
//! named for that server, and cached until they expire. The federation
//! router awaits them before a signed request's handler runs.
//!
//! Kept in memory and in the store, so that a restarted server checks
//! requests and PDUs with the keys it had (a server whose key is gone by
//! then, or unreachable, still verifies until its key expires). The answers
//! are kept as their servers signed them, so that this server can act as a
//! notary (`/_matrix/key/v2/query`); other notaries are not asked yet.

use super::discovery::Discovery;
use super::identity::SigningIdentity;
use crate::store::{ServerKey, Storage};
use ed25519_dalek::VerifyingKey;
use matrix_api::server_server::endpoints as ss;
use matrix_api_runtime::server::{KeyFuture, KeyLookup};
use matrix_api_runtime::signing::{decode_base64, verify_json};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a fetched key is trusted at most, whatever it claims: the
/// spec's limit for room versions 5 on.
const MAX_VALIDITY_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A cached key and until when it may be used.
#[derive(Clone, Copy)]
struct Cached {
    key: VerifyingKey,
    valid_until_ts: i64,
}

/// This server's key and the keys of the servers it has heard from.
pub struct RemoteKeys {
    own: Arc<SigningIdentity>,
    discovery: Arc<Discovery>,
    store: Arc<dyn Storage>,
    cache: Mutex<HashMap<(String, String), Cached>>,
}

impl RemoteKeys {
    pub fn new(own: Arc<SigningIdentity>, discovery: Arc<Discovery>, store: Arc<dyn Storage>) -> RemoteKeys {
        RemoteKeys {
            own,
            discovery,
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A key still valid at `now`: from memory, else from the store (and
    /// then remembered).
    fn cached(&self, origin: &str, key_id: &str, now: i64) -> Option<VerifyingKey> {
        let id = (origin.to_owned(), key_id.to_owned());
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cached = match cache.get(&id) {
            Some(cached) => *cached,
            None => {
                // A store that fails to answer is a key not known: the
                // caller fetches it again.
                let stored = self.store.server_key(origin, key_id).ok()??;
                let cached = Cached {
                    key: verifying_key(&stored.key)?,
                    valid_until_ts: stored.valid_until_ts,
                };
                cache.insert(id, cached);
                cached
            }
        };
        (cached.valid_until_ts > now).then_some(cached.key)
    }

    /// Asks `origin` for its keys and caches those that are signed by
    /// themselves. Errors say why nothing was cached.
    pub async fn refresh(&self, origin: &str) -> Result<(), String> {
        let fetched = fetch_keys(&self.discovery, origin).await?;
        self.store
            .set_server_key_answer(origin, &fetched.answer, fetched.published_until_ts)?;
        for (key_id, text, key) in fetched.keys {
            let stored = ServerKey {
                key: text,
                valid_until_ts: fetched.valid_until_ts,
            };
            self.store.set_server_key(origin, &key_id, &stored)?;
            let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let cached = Cached {
                key,
                valid_until_ts: fetched.valid_until_ts,
            };
            cache.insert((origin.to_owned(), key_id), cached);
        }
        Ok(())
    }
}

/// What a server published about its keys, checked.
pub struct FetchedKeys {
    /// The answer as the server signed it.
    pub answer: Value,
    /// Its `valid_until_ts`.
    pub published_until_ts: i64,
    /// Until when its keys are used here: that, but a week from now at most.
    pub valid_until_ts: i64,
    /// `(key_id, base64, key)` of each key that signed the answer.
    pub keys: Vec<(String, String, VerifyingKey)>,
}

/// Asks `origin` for its keys (`/_matrix/key/v2/server`) and keeps those
/// that signed the answer that publishes them; an error says why none.
pub async fn fetch_keys(discovery: &Discovery, origin: &str) -> Result<FetchedKeys, String> {
    let base = discovery.base_url(origin).await;
    let client = ss::Client(matrix_api_runtime::client::Client::new(base).with_http(discovery.http().clone()));
    let ss::get_server_key::Response::Ok(keys) = client
        .get_server_key(ss::get_server_key::Request::new())
        .await
        .map_err(|e| format!("fetching the keys of {origin}: {e}"))?;
    if keys.server_name != origin {
        return Err(format!("{origin} answered with the keys of {}", keys.server_name));
    }
    let signed = serde_json::to_value(&keys).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    for (key_id, published) in &keys.verify_keys {
        let Some(key) = verifying_key(&published.key) else {
            continue;
        };
        // Each key must have signed the answer that publishes it.
        if verify_json(&signed, origin, key_id, &key).is_ok() {
            found.push((key_id.clone(), published.key.clone(), key));
        }
    }
    if found.is_empty() {
        return Err(format!("{origin} published no key signed by itself"));
    }
    Ok(FetchedKeys {
        answer: signed,
        published_until_ts: keys.valid_until_ts,
        valid_until_ts: keys.valid_until_ts.min(crate::api::now_ms() + MAX_VALIDITY_MS),
        keys: found,
    })
}

/// Homeservers' keys for a server that keeps no store of them (the
/// identity server checking a homeserver's signed unbind): fetched when
/// first needed and remembered in memory until they expire.
pub struct FetchedKeyCache {
    discovery: Arc<Discovery>,
    cache: Mutex<HashMap<(String, String), Cached>>,
}

impl FetchedKeyCache {
    pub fn new(discovery: Arc<Discovery>) -> FetchedKeyCache {
        FetchedKeyCache {
            discovery,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl KeyLookup for FetchedKeyCache {
    fn key(&self, origin: &str, key_id: &str) -> Option<VerifyingKey> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cached = cache.get(&(origin.to_owned(), key_id.to_owned()))?;
        (cached.valid_until_ts > crate::api::now_ms()).then_some(cached.key)
    }

    fn fetch<'a>(&'a self, origin: &'a str, key_id: &'a str) -> KeyFuture<'a> {
        Box::pin(async move {
            if let Some(key) = self.key(origin, key_id) {
                return Some(key);
            }
            let fetched = fetch_keys(&self.discovery, origin).await.ok()?;
            let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (id, _, key) in fetched.keys {
                let cached = Cached {
                    key,
                    valid_until_ts: fetched.valid_until_ts,
                };
                cache.insert((origin.to_owned(), id), cached);
            }
            let cached = cache.get(&(origin.to_owned(), key_id.to_owned()))?;
            Some(cached.key)
        })
    }
}

impl RemoteKeys {
    /// `server`'s key answer as it signed it, valid until at least
    /// `minimum_valid_until_ts` (and now): the stored one, else fetched
    /// again. `None` when the server cannot give one.
    pub async fn answer_of(&self, server: &str, minimum_valid_until_ts: i64) -> Option<Value> {
        let wanted = minimum_valid_until_ts.max(crate::api::now_ms());
        let fresh =
            |stored: Option<(Value, i64)>| stored.filter(|(_, until)| *until >= wanted).map(|(answer, _)| answer);
        if let Some(answer) = fresh(self.store.server_key_answer(server).ok()?) {
            return Some(answer);
        }
        self.refresh(server).await.ok()?;
        fresh(self.store.server_key_answer(server).ok()?)
    }
}

/// An ed25519 public key from its base64 form (padded or not, as servers
/// and identity servers write it).
pub(crate) fn verifying_key(text: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(decode_base64(text)?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

impl KeyLookup for RemoteKeys {
    fn key(&self, origin: &str, key_id: &str) -> Option<VerifyingKey> {
        if origin == self.own.server_name {
            return (key_id == self.own.key_id).then(|| self.own.verifying_key());
        }
        self.cached(origin, key_id, crate::api::now_ms())
    }

    fn fetch<'a>(&'a self, origin: &'a str, key_id: &'a str) -> KeyFuture<'a> {
        Box::pin(async move {
            if let Some(key) = self.key(origin, key_id) {
                return Some(key);
            }
            if origin == self.own.server_name {
                return None;
            }
            // A server that cannot be reached or answers badly signed no
            // request we can check: the caller refuses it.
            self.refresh(origin).await.ok()?;
            self.key(origin, key_id)
        })
    }
}
