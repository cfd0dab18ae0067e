//! The client-server API on the generated trait: each method takes the
//! typed request, checks the caller and the room rules, and uses the store.
//! Everything not implemented here answers `404 M_UNRECOGNIZED` through the
//! generated default.

use crate::store::{NewEvent, Storage, StoredEvent};
use matrix_api::client_server::endpoints::{self as cs, ClientServerApi};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

pub struct Homeserver {
    pub server_name: String,
    pub store: Arc<dyn Storage>,
    /// Woken on every new event, for long-polling `/sync`.
    pub new_events: Arc<Notify>,
}

type Result<T> = std::result::Result<T, MatrixError>;

fn internal(e: impl std::fmt::Display) -> MatrixError {
    MatrixError::new(500, ErrorCode::Unknown, format!("internal error: {e}"))
}

/// Builds a generated response type from JSON the server assembled.
fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(internal)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn random_id(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

fn parse_token(token: Option<&str>) -> Option<i64> {
    token.and_then(|t| t.strip_prefix('s')).and_then(|n| n.parse().ok())
}

fn valid_localpart(localpart: &str) -> bool {
    !localpart.is_empty()
        && localpart.len() <= 255
        && localpart
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/+".contains(c))
}

/// The event as clients see it (`ClientEvent`).
fn client_event(e: &StoredEvent, with_room_id: bool) -> Value {
    let mut v = json!({
        "event_id": e.event_id,
        "type": e.event_type,
        "sender": e.sender,
        "origin_server_ts": e.origin_server_ts,
        "content": e.content,
    });
    if let Some(k) = &e.state_key {
        v["state_key"] = json!(k);
    }
    if with_room_id {
        v["room_id"] = json!(e.room_id);
    }
    v
}

fn stripped(e: &StoredEvent) -> Value {
    json!({ "type": e.event_type, "state_key": e.state_key.clone().unwrap_or_default(), "sender": e.sender, "content": e.content })
}

impl Homeserver {
    fn user(&self, credentials: &Credentials) -> Result<(String, String)> {
        let token = credentials
            .access_token
            .as_deref()
            .ok_or_else(MatrixError::missing_token)?;
        self.store.token_owner(token).map_err(internal)?.ok_or_else(|| {
            MatrixError::new(401, ErrorCode::UnknownToken, "Unrecognised access token").with("soft_logout", false)
        })
    }

    fn user_id(&self, localpart_or_id: &str) -> String {
        if localpart_or_id.starts_with('@') {
            localpart_or_id.to_owned()
        } else {
            format!("@{}:{}", localpart_or_id, self.server_name)
        }
    }

    fn issue_token(&self, user_id: &str, device_id: Option<String>) -> Result<(String, String)> {
        let token = format!("syt_{}", random_id(32));
        let device = device_id.unwrap_or_else(|| random_id(10).to_uppercase());
        self.store.add_token(&token, user_id, &device).map_err(internal)?;
        Ok((token, device))
    }

    fn send_event(
        &self,
        room_id: &str,
        sender: &str,
        event_type: &str,
        state_key: Option<&str>,
        content: Value,
        txn_key: Option<&str>,
    ) -> Result<String> {
        let event_id = format!("${}", random_id(43));
        let (id, _) = self
            .store
            .append(NewEvent {
                event_id: &event_id,
                room_id,
                sender,
                event_type,
                state_key,
                content: &content,
                origin_server_ts: now_ms(),
                txn_key,
            })
            .map_err(internal)?;
        self.new_events.notify_waiters();
        Ok(id)
    }

    fn require_room(&self, room_id: &str) -> Result<()> {
        if self.store.room_exists(room_id).map_err(internal)? {
            Ok(())
        } else {
            Err(MatrixError::not_found("Unknown room"))
        }
    }

    fn require_joined(&self, room_id: &str, user_id: &str) -> Result<()> {
        self.require_room(room_id)?;
        match self.store.membership(room_id, user_id).map_err(internal)?.as_deref() {
            Some("join") => Ok(()),
            _ => Err(MatrixError::forbidden("You are not joined to this room")),
        }
    }

    fn power_level(&self, room_id: &str, user_id: &str) -> Result<(i64, Value)> {
        let levels = self
            .store
            .state_event(room_id, "m.room.power_levels", "")
            .map_err(internal)?
            .map(|e| e.content)
            .unwrap_or_else(|| json!({}));
        let level = levels["users"][user_id]
            .as_i64()
            .or(levels["users_default"].as_i64())
            .unwrap_or(0);
        Ok((level, levels))
    }

    /// Power levels for state events, kick, ban, redact.
    fn require_level(&self, room_id: &str, user_id: &str, needed: impl Fn(&Value) -> i64) -> Result<()> {
        let (level, levels) = self.power_level(room_id, user_id)?;
        if level >= needed(&levels) {
            Ok(())
        } else {
            Err(MatrixError::forbidden("Insufficient power level"))
        }
    }

    fn set_membership(
        &self,
        room_id: &str,
        sender: &str,
        target: &str,
        membership: &str,
        reason: Option<String>,
    ) -> Result<String> {
        let mut content = json!({ "membership": membership });
        if let Some(r) = reason {
            content["reason"] = json!(r);
        }
        self.send_event(room_id, sender, "m.room.member", Some(target), content, None)
    }
}

fn level_for_state(event_type: &str) -> impl Fn(&Value) -> i64 + '_ {
    move |levels: &Value| {
        levels["events"][event_type]
            .as_i64()
            .or(levels["state_default"].as_i64())
            .unwrap_or(50)
    }
}

impl ClientServerApi for Homeserver {
    async fn get_versions(&self, _: cs::get_versions::Request, _: Credentials) -> Result<cs::get_versions::Response> {
        Ok(cs::get_versions::Response::Ok(typed(
            json!({ "versions": ["v1.11", "v1.12", "v1.13", "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19"] }),
        )?))
    }

    async fn get_login_flows(
        &self,
        _: cs::get_login_flows::Request,
        _: Credentials,
    ) -> Result<cs::get_login_flows::Response> {
        Ok(cs::get_login_flows::Response::Ok(typed(
            json!({ "flows": [{ "type": "m.login.password" }] }),
        )?))
    }

    async fn register(&self, request: cs::register::Request, _: Credentials) -> Result<cs::register::Response> {
        let body = request.body;
        if request.query.kind.as_ref().is_some_and(|k| k.as_str() == "guest") {
            return Err(MatrixError::forbidden("Guest access is not enabled"));
        }
        let localpart = body.username.clone().unwrap_or_else(|| random_id(12).to_lowercase());
        if !valid_localpart(&localpart) {
            return Err(MatrixError::new(400, ErrorCode::InvalidUsername, "Invalid username"));
        }
        let user_id = self.user_id(&localpart);
        // User-interactive auth: one dummy stage.
        let auth_type = body
            .auth
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok())
            .and_then(|v| v["type"].as_str().map(str::to_owned));
        if auth_type.as_deref() != Some("m.login.dummy") {
            return Err(MatrixError::new(401, ErrorCode::Other(String::new()), "")
                .with("flows", json!([{ "stages": ["m.login.dummy"] }]))
                .with("params", json!({}))
                .with("session", random_id(16)));
        }
        let hash = match &body.password {
            Some(p) => hash_password(p)?,
            None => String::new(),
        };
        if !self.store.create_user(&user_id, &hash).map_err(internal)? {
            return Err(MatrixError::new(400, ErrorCode::UserInUse, "User ID already taken"));
        }
        let mut response = json!({ "user_id": user_id });
        if !body.inhibit_login.unwrap_or(false) {
            let (token, device) = self.issue_token(&user_id, body.device_id.clone())?;
            response["access_token"] = json!(token);
            response["device_id"] = json!(device);
        }
        Ok(cs::register::Response::Ok(typed(response)?))
    }

    async fn login(&self, request: cs::login::Request, _: Credentials) -> Result<cs::login::Response> {
        let body = request.body;
        if body.r#type != "m.login.password" {
            return Err(MatrixError::new(400, ErrorCode::Unknown, "Unsupported login type"));
        }
        let identifier = body.identifier.as_ref().and_then(|i| serde_json::to_value(i).ok());
        let user = identifier
            .as_ref()
            .and_then(|i| i["user"].as_str().map(str::to_owned))
            .or(body.user.clone())
            .ok_or_else(|| MatrixError::missing_param("identifier.user"))?;
        let user_id = self.user_id(&user);
        let hash = self.store.password_hash(&user_id).map_err(internal)?;
        let ok = match (hash, &body.password) {
            (Some(hash), Some(password)) if !hash.is_empty() => verify_password(&hash, password),
            _ => false,
        };
        if !ok {
            return Err(MatrixError::forbidden("Invalid username or password"));
        }
        let (token, device) = self.issue_token(&user_id, body.device_id.clone())?;
        Ok(cs::login::Response::Ok(typed(
            json!({ "user_id": user_id, "access_token": token, "device_id": device }),
        )?))
    }

    async fn logout(&self, _: cs::logout::Request, credentials: Credentials) -> Result<cs::logout::Response> {
        self.user(&credentials)?;
        self.store
            .delete_token(credentials.access_token.as_deref().unwrap_or_default())
            .map_err(internal)?;
        Ok(cs::logout::Response::Ok(Map::new()))
    }

    async fn logout_all(
        &self,
        _: cs::logout_all::Request,
        credentials: Credentials,
    ) -> Result<cs::logout_all::Response> {
        let (user_id, _) = self.user(&credentials)?;
        self.store.delete_tokens_of(&user_id).map_err(internal)?;
        Ok(cs::logout_all::Response::Ok(Map::new()))
    }

    async fn get_token_owner(
        &self,
        _: cs::get_token_owner::Request,
        credentials: Credentials,
    ) -> Result<cs::get_token_owner::Response> {
        let (user_id, device_id) = self.user(&credentials)?;
        Ok(cs::get_token_owner::Response::Ok(typed(
            json!({ "user_id": user_id, "device_id": device_id }),
        )?))
    }

    async fn change_password(
        &self,
        request: cs::change_password::Request,
        credentials: Credentials,
    ) -> Result<cs::change_password::Response> {
        let (user_id, _) = self.user(&credentials)?;
        self.store
            .set_password_hash(&user_id, &hash_password(&request.body.new_password)?)
            .map_err(internal)?;
        if request.body.logout_devices.unwrap_or(true) {
            self.store.delete_tokens_of(&user_id).map_err(internal)?;
        }
        Ok(cs::change_password::Response::Ok(Map::new()))
    }

    async fn create_room(
        &self,
        request: cs::create_room::Request,
        credentials: Credentials,
    ) -> Result<cs::create_room::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let body = serde_json::to_value(&request.body).map_err(internal)?;
        let version = body["room_version"].as_str().unwrap_or("11").to_owned();
        let room_id = format!("!{}:{}", random_id(18), self.server_name);
        self.store.create_room(&room_id, &user_id, &version).map_err(internal)?;
        let mut create = body["creation_content"].as_object().cloned().unwrap_or_default();
        create.insert("room_version".into(), json!(version));
        self.send_event(
            &room_id,
            &user_id,
            "m.room.create",
            Some(""),
            Value::Object(create),
            None,
        )?;
        self.set_membership(&room_id, &user_id, &user_id, "join", None)?;
        let mut levels = json!({
            "users": { &user_id: 100 }, "users_default": 0, "events_default": 0, "state_default": 50,
            "ban": 50, "kick": 50, "redact": 50, "invite": 0,
        });
        if let Some(overrides) = body["power_level_content_override"].as_object() {
            for (k, v) in overrides {
                levels[k] = v.clone();
            }
        }
        self.send_event(&room_id, &user_id, "m.room.power_levels", Some(""), levels, None)?;
        let public = body["preset"].as_str() == Some("public_chat")
            || (body["preset"].is_null() && body["visibility"].as_str() == Some("public"));
        self.send_event(
            &room_id,
            &user_id,
            "m.room.join_rules",
            Some(""),
            json!({ "join_rule": if public { "public" } else { "invite" } }),
            None,
        )?;
        self.send_event(
            &room_id,
            &user_id,
            "m.room.history_visibility",
            Some(""),
            json!({ "history_visibility": "shared" }),
            None,
        )?;
        for e in body["initial_state"].as_array().into_iter().flatten() {
            let (Some(t), content) = (e["type"].as_str(), e["content"].clone()) else {
                continue;
            };
            self.send_event(
                &room_id,
                &user_id,
                t,
                Some(e["state_key"].as_str().unwrap_or("")),
                content,
                None,
            )?;
        }
        if let Some(name) = body["name"].as_str() {
            self.send_event(
                &room_id,
                &user_id,
                "m.room.name",
                Some(""),
                json!({ "name": name }),
                None,
            )?;
        }
        if let Some(topic) = body["topic"].as_str() {
            self.send_event(
                &room_id,
                &user_id,
                "m.room.topic",
                Some(""),
                json!({ "topic": topic }),
                None,
            )?;
        }
        for invitee in body["invite"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            self.set_membership(&room_id, &user_id, invitee, "invite", None)?;
        }
        Ok(cs::create_room::Response::Ok(typed(json!({ "room_id": room_id }))?))
    }

    async fn join_room_by_id(
        &self,
        request: cs::join_room_by_id::Request,
        credentials: Credentials,
    ) -> Result<cs::join_room_by_id::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let room_id = request.path.room_id;
        self.require_room(&room_id)?;
        let membership = self.store.membership(&room_id, &user_id).map_err(internal)?;
        let rule = self
            .store
            .state_event(&room_id, "m.room.join_rules", "")
            .map_err(internal)?;
        let public = rule.is_some_and(|r| r.content["join_rule"] == "public");
        match membership.as_deref() {
            Some("join") => {}
            Some("ban") => return Err(MatrixError::forbidden("You are banned from this room")),
            Some("invite") => {
                self.set_membership(&room_id, &user_id, &user_id, "join", None)?;
            }
            _ if public => {
                self.set_membership(&room_id, &user_id, &user_id, "join", None)?;
            }
            _ => return Err(MatrixError::forbidden("You are not invited to this room")),
        }
        Ok(cs::join_room_by_id::Response::Ok(typed(json!({ "room_id": room_id }))?))
    }

    async fn invite_user(
        &self,
        request: cs::invite_user::Request,
        credentials: Credentials,
    ) -> Result<cs::invite_user::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let room_id = request.path.room_id;
        self.require_joined(&room_id, &user_id)?;
        self.require_level(&room_id, &user_id, |l| l["invite"].as_i64().unwrap_or(0))?;
        let target = request.body.user_id;
        match self.store.membership(&room_id, &target).map_err(internal)?.as_deref() {
            Some("join") => return Err(MatrixError::forbidden("User is already in the room")),
            Some("ban") => return Err(MatrixError::forbidden("User is banned")),
            _ => {}
        }
        self.set_membership(&room_id, &user_id, &target, "invite", request.body.reason)?;
        Ok(cs::invite_user::Response::Ok(Map::new()))
    }

    async fn leave_room(
        &self,
        request: cs::leave_room::Request,
        credentials: Credentials,
    ) -> Result<cs::leave_room::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let room_id = request.path.room_id;
        self.require_room(&room_id)?;
        match self.store.membership(&room_id, &user_id).map_err(internal)?.as_deref() {
            Some("join" | "invite" | "knock") => {
                self.set_membership(&room_id, &user_id, &user_id, "leave", request.body.reason)?;
            }
            _ => return Err(MatrixError::forbidden("You are not in this room")),
        }
        Ok(cs::leave_room::Response::Ok(Map::new()))
    }

    async fn send_message(
        &self,
        request: cs::send_message::Request,
        credentials: Credentials,
    ) -> Result<cs::send_message::Response> {
        let (user_id, device_id) = self.user(&credentials)?;
        let p = request.path;
        self.require_joined(&p.room_id, &user_id)?;
        self.require_level(&p.room_id, &user_id, |l| {
            l["events"][&p.event_type]
                .as_i64()
                .or(l["events_default"].as_i64())
                .unwrap_or(0)
        })?;
        let txn_key = format!("{user_id}\u{1f}{device_id}\u{1f}{}", p.txn_id);
        let event_id = self.send_event(
            &p.room_id,
            &user_id,
            &p.event_type,
            None,
            Value::Object(request.body),
            Some(&txn_key),
        )?;
        Ok(cs::send_message::Response::Ok(typed(json!({ "event_id": event_id }))?))
    }

    async fn set_room_state_with_key(
        &self,
        request: cs::set_room_state_with_key::Request,
        credentials: Credentials,
    ) -> Result<cs::set_room_state_with_key::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let p = request.path;
        self.require_joined(&p.room_id, &user_id)?;
        self.require_level(&p.room_id, &user_id, level_for_state(&p.event_type))?;
        let event_id = self.send_event(
            &p.room_id,
            &user_id,
            &p.event_type,
            Some(&p.state_key),
            Value::Object(request.body),
            None,
        )?;
        Ok(cs::set_room_state_with_key::Response::Ok(typed(
            json!({ "event_id": event_id }),
        )?))
    }

    async fn get_room_state_with_key(
        &self,
        request: cs::get_room_state_with_key::Request,
        credentials: Credentials,
    ) -> Result<cs::get_room_state_with_key::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let p = request.path;
        self.require_joined(&p.room_id, &user_id)?;
        let event = self
            .store
            .state_event(&p.room_id, &p.event_type, &p.state_key)
            .map_err(internal)?
            .ok_or_else(|| MatrixError::not_found("Event not found"))?;
        let value = if request.query.format.as_ref().is_some_and(|f| f.as_str() == "event") {
            client_event(&event, true)
        } else {
            event.content
        };
        Ok(cs::get_room_state_with_key::Response::Ok(typed(value)?))
    }

    async fn get_joined_rooms(
        &self,
        _: cs::get_joined_rooms::Request,
        credentials: Credentials,
    ) -> Result<cs::get_joined_rooms::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let rooms: Vec<String> = self
            .store
            .rooms_of(&user_id)
            .map_err(internal)?
            .into_iter()
            .filter(|(_, m)| m == "join")
            .map(|(r, _)| r)
            .collect();
        Ok(cs::get_joined_rooms::Response::Ok(typed(
            json!({ "joined_rooms": rooms }),
        )?))
    }

    async fn get_room_events(
        &self,
        request: cs::get_room_events::Request,
        credentials: Credentials,
    ) -> Result<cs::get_room_events::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let room_id = request.path.room_id;
        self.require_joined(&room_id, &user_id)?;
        let q = request.query;
        let limit = q.limit.unwrap_or(10).clamp(1, 1000);
        let backwards = q.dir.as_str() == "b";
        let max = self.store.max_stream().map_err(internal)?;
        let from = match q.from.as_deref() {
            Some(t) => parse_token(Some(t)).ok_or_else(|| MatrixError::invalid_param("from"))?,
            None if backwards => max + 1,
            None => 0,
        };
        let events = if backwards {
            self.store.events_before(&room_id, from, limit).map_err(internal)?
        } else {
            let mut e = self.store.events_between(&room_id, from, max).map_err(internal)?;
            e.truncate(limit as usize);
            e
        };
        let mut response = json!({
            "chunk": events.iter().map(|e| client_event(e, true)).collect::<Vec<_>>(),
            "start": format!("s{from}"),
        });
        if events.len() as i64 == limit {
            if let Some(last) = events.last() {
                // Backwards tokens are exclusive upper bounds, forwards ones exclusive lower bounds.
                response["end"] = json!(format!("s{}", last.stream));
            }
        }
        Ok(cs::get_room_events::Response::Ok(typed(response)?))
    }

    async fn sync(&self, request: cs::sync::Request, credentials: Credentials) -> Result<cs::sync::Response> {
        let (user_id, _) = self.user(&credentials)?;
        let since = match request.query.since.as_deref() {
            Some(t) => Some(parse_token(Some(t)).ok_or_else(|| MatrixError::invalid_param("since"))?),
            None => None,
        };
        let timeout = Duration::from_millis(request.query.timeout.unwrap_or(0).clamp(0, 60_000) as u64);
        // Long-poll: wait for something new (or the timeout) on incremental syncs.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.new_events.notified();
            let max = self.store.max_stream().map_err(internal)?;
            if since.is_none() || max > since.unwrap_or(0) || tokio::time::Instant::now() >= deadline {
                break;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
        let upto = self.store.max_stream().map_err(internal)?;
        let after = since.unwrap_or(0);
        let timeline_limit = 20usize;
        let (mut join, mut invite, mut leave) = (Map::new(), Map::new(), Map::new());
        for (room_id, membership) in self.store.rooms_of(&user_id).map_err(internal)? {
            let events = self.store.events_between(&room_id, after, upto).map_err(internal)?;
            if since.is_some() && events.is_empty() {
                continue;
            }
            match membership.as_str() {
                "join" => {
                    let limited = events.len() > timeline_limit;
                    let timeline = &events[events.len().saturating_sub(timeline_limit)..];
                    let first = timeline.first().map(|e| e.stream).unwrap_or(upto + 1);
                    // State up to the start of the timeline (all of it on an initial sync).
                    let state: Vec<Value> = if since.is_none() || limited {
                        self.store
                            .current_state(&room_id)
                            .map_err(internal)?
                            .iter()
                            .filter(|e| e.stream < first)
                            .map(|e| client_event(e, false))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    join.insert(
                        room_id,
                        json!({
                            "timeline": {
                                "events": timeline.iter().map(|e| client_event(e, false)).collect::<Vec<_>>(),
                                "limited": limited,
                                "prev_batch": format!("s{first}"),
                            },
                            "state": { "events": state },
                        }),
                    );
                }
                "invite" => {
                    let state: Vec<Value> = self
                        .store
                        .current_state(&room_id)
                        .map_err(internal)?
                        .iter()
                        .filter(|e| {
                            matches!(
                                e.event_type.as_str(),
                                "m.room.create" | "m.room.name" | "m.room.join_rules" | "m.room.topic"
                            ) || (e.event_type == "m.room.member" && e.state_key.as_deref() == Some(user_id.as_str()))
                        })
                        .map(stripped)
                        .collect();
                    invite.insert(room_id, json!({ "invite_state": { "events": state } }));
                }
                "leave" | "ban" => {
                    let timeline: Vec<Value> = events.iter().map(|e| client_event(e, false)).collect();
                    leave.insert(room_id, json!({ "timeline": { "events": timeline, "limited": false } }));
                }
                _ => {}
            }
        }
        Ok(cs::sync::Response::Ok(typed(json!({
            "next_batch": format!("s{upto}"),
            "rooms": { "join": join, "invite": invite, "leave": leave },
        }))?))
    }
}

fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(internal)?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(internal)
}

fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}
