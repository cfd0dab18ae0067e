//! The server-server operations this homeserver answers, on the generated
//! `ServerServerApi` trait. Operations not implemented here keep the
//! trait's default (`404 M_UNRECOGNIZED`).

use super::identity::SigningIdentity;
use super::keys::RemoteKeys;
use crate::api::Homeserver;
use matrix_api::server_server::endpoints::{
    self as ss, backfill_room, bulk_perspectives_key_query, claim_user_encryption_keys, exchange_open_id_token,
    exchange_third_party_invite, get_event, get_event_auth, get_missing_previous_events, get_public_rooms,
    get_room_state, get_room_state_ids, get_server_key, get_user_devices, get_version, make_join, make_leave,
    on_bind_third_party_identifier, perspectives_key_query, query_profile, query_public_rooms, query_room_directory,
    query_user_encryption_keys, send_invite_v2, send_join_v2, send_leave_v2, send_transaction, ServerServerApi,
};
use matrix_api::server_server::{
    ExchangeOpenIdTokenResponse, GetVersionResponse, Keys, KeysQueryResponse, QueryProfileResponse,
    QueryRoomDirectoryResponse, Server, VerifyKey,
};
use matrix_api_runtime::client::Signer;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long other servers may cache this server's keys: a day, as Synapse
/// publishes by default; the spec asks for no less than an hour.
const KEY_VALIDITY_MS: i64 = 24 * 60 * 60 * 1000;

/// The federation side of the homeserver.
pub struct Federation {
    pub identity: Arc<SigningIdentity>,
    /// The homeserver whose rooms and users this side serves.
    pub hs: Arc<Homeserver>,
    /// Other servers' keys, for their requests and events.
    pub keys: Arc<RemoteKeys>,
    /// Where other servers are, and HTTPS to them (certificate checks as
    /// configured).
    pub discovery: Arc<super::discovery::Discovery>,
}

impl Federation {
    /// Does `attempt` through each of `servers` in turn (this one skipped)
    /// until one succeeds; else the last failure, or `not_found` when there
    /// was no server to try.
    pub(super) async fn through_first<'a, F, Fut>(
        &self,
        servers: &'a [String],
        not_found: &str,
        mut attempt: F,
    ) -> Result<(), MatrixError>
    where
        F: FnMut(&'a str) -> Fut,
        Fut: std::future::Future<Output = Result<(), MatrixError>>,
    {
        let mut last_error = None;
        for server in servers.iter().filter(|s| **s != self.identity.server_name) {
            match attempt(server).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::info!(server = %server, "asking another server failed: {}", e.body.error);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| MatrixError::not_found(not_found)))
    }

    /// A client for `destination`'s federation API, signing every request
    /// as this server.
    pub async fn client_for(&self, destination: &str) -> ss::Client {
        let base = self.discovery.base_url(destination).await;
        let signer = Signer {
            origin: self.identity.server_name.clone(),
            destination: destination.to_owned(),
            key_id: self.identity.key_id.clone(),
            key: self.identity.signing_key().clone(),
        };
        ss::Client(
            matrix_api_runtime::client::Client::new(base)
                .with_http(self.discovery.http().clone())
                .with_signer(signer),
        )
    }
}

/// What a client is told when another server did not do what was asked
/// of it: that server's own refusal, passed on as it was given; `404` when
/// it could not be reached (from the client's side, the room or user is
/// not to be found); `502` when it answered with something unusable.
pub(super) fn remote_failure(
    action: &str,
    server: &str,
    error: matrix_api_runtime::client::ClientError,
) -> MatrixError {
    use matrix_api_runtime::client::ClientError;
    match error {
        ClientError::Matrix(refusal) if refusal.status < 500 => refusal,
        ClientError::Transport(e) => {
            MatrixError::not_found(format!("{action} through {server}: it could not be reached ({e})"))
        }
        other => bad_answer(action, server, format!("an unusable answer ({other})")),
    }
}

/// Another server's answer that cannot be accepted (`why`): `502`, as the
/// fault is that server's, not the client's.
pub(super) fn bad_answer(action: &str, server: &str, why: impl std::fmt::Display) -> MatrixError {
    MatrixError::new(
        502,
        matrix_api_runtime::ErrorCode::Unknown,
        format!("{action} through {server}: {why}"),
    )
}

/// How many servers one notary query may ask about.
const MAX_NOTARY_SERVERS: usize = 50;

impl Federation {
    /// The keys of each server asked for, as it signed them and countersigned
    /// by this server (the notary); servers whose keys cannot be had are
    /// left out, as the spec asks.
    async fn notarised_keys(&self, wanted: BTreeMap<String, Option<i64>>) -> Result<KeysQueryResponse, MatrixError> {
        if wanted.len() > MAX_NOTARY_SERVERS {
            return Err(MatrixError::bad_json(format!(
                "at most {MAX_NOTARY_SERVERS} servers in one query"
            )));
        }
        let mut server_keys = Vec::new();
        for (server, minimum) in wanted {
            let answer = if server == self.identity.server_name {
                Some(
                    serde_json::to_value(signed_keys(&self.identity, crate::api::now_ms())?)
                        .map_err(crate::api::internal)?,
                )
            } else {
                self.keys.answer_of(&server, minimum.unwrap_or(0)).await
            };
            let Some(mut answer) = answer else { continue };
            self.identity.sign_json(&mut answer);
            server_keys.push(serde_json::from_value(answer).map_err(crate::api::internal)?);
        }
        Ok(KeysQueryResponse {
            server_keys: Some(server_keys),
        })
    }
}

/// `identity`'s keys, signed by itself, valid for [`KEY_VALIDITY_MS`]
/// from `now_ms`: what `/_matrix/key/v2/server` answers.
pub fn signed_keys(identity: &SigningIdentity, now_ms: i64) -> Result<Keys, MatrixError> {
    let verify_keys = BTreeMap::from([(identity.key_id.clone(), VerifyKey::new(identity.public_key_base64()))]);
    let mut keys = Keys::new(
        identity.server_name.clone(),
        verify_keys,
        BTreeMap::new(),
        now_ms + KEY_VALIDITY_MS,
    );
    keys.old_verify_keys = Some(BTreeMap::new());
    // Signing skips the (empty) `signatures`, and adds this server's there.
    let mut signed = serde_json::to_value(&keys).map_err(crate::api::internal)?;
    identity.sign_json(&mut signed);
    keys.signatures = serde_json::from_value(signed["signatures"].take()).map_err(crate::api::internal)?;
    Ok(keys)
}

impl ServerServerApi for Federation {
    async fn get_server_key(
        &self,
        _request: get_server_key::Request,
        _credentials: Credentials,
    ) -> Result<get_server_key::Response, MatrixError> {
        Ok(get_server_key::Response::Ok(signed_keys(
            &self.identity,
            crate::api::now_ms(),
        )?))
    }

    async fn query_profile(
        &self,
        request: query_profile::Request,
        _credentials: Credentials,
    ) -> Result<query_profile::Response, MatrixError> {
        let user_id = &request.query.user_id;
        let local = crate::api::server_of(user_id) == Some(self.identity.server_name.as_str());
        if !local || !self.hs.store.user_exists(user_id).map_err(crate::api::internal)? {
            return Err(MatrixError::not_found("No such user on this server"));
        }
        let profile = self.hs.store.profile(user_id).map_err(crate::api::internal)?;
        let text = |field: &str| profile.get(field).and_then(|v| v.as_str()).map(str::to_owned);
        let wanted = |field: &str| request.query.field.as_deref().is_none_or(|f| f == field);
        let mut response = QueryProfileResponse::default();
        if wanted("displayname") {
            response.displayname = text("displayname");
        }
        if wanted("avatar_url") {
            response.avatar_url = text("avatar_url");
        }
        Ok(query_profile::Response::Ok(response))
    }

    async fn perspectives_key_query(
        &self,
        request: perspectives_key_query::Request,
        _credentials: Credentials,
    ) -> Result<perspectives_key_query::Response, MatrixError> {
        let wanted = BTreeMap::from([(request.path.server_name, request.query.minimum_valid_until_ts)]);
        Ok(perspectives_key_query::Response::Ok(self.notarised_keys(wanted).await?))
    }

    async fn bulk_perspectives_key_query(
        &self,
        request: bulk_perspectives_key_query::Request,
        _credentials: Credentials,
    ) -> Result<bulk_perspectives_key_query::Response, MatrixError> {
        // Every key of a server is given, whichever key IDs were asked for;
        // the latest validity asked for any of them is the one required.
        let wanted = request
            .body
            .server_keys
            .into_iter()
            .map(|(server, criteria)| {
                let minimum = criteria.values().filter_map(|c| c.minimum_valid_until_ts).max();
                (server, minimum)
            })
            .collect();
        Ok(bulk_perspectives_key_query::Response::Ok(
            self.notarised_keys(wanted).await?,
        ))
    }

    /// This server's aliases: the room and the servers to join it through
    /// (this one first).
    async fn query_room_directory(
        &self,
        request: query_room_directory::Request,
        _credentials: Credentials,
    ) -> Result<query_room_directory::Response, MatrixError> {
        let alias = &request.query.room_alias;
        let found = match crate::api::server_of(alias) == Some(self.identity.server_name.as_str()) {
            true => self.hs.store.alias(alias).map_err(crate::api::internal)?,
            false => None,
        };
        let Some((room_id, _)) = found else {
            return Err(MatrixError::not_found("Room alias not found"));
        };
        let servers = self.servers_in_room(&room_id)?;
        Ok(query_room_directory::Response::Ok(QueryRoomDirectoryResponse::new(
            room_id, servers,
        )))
    }

    async fn make_join(
        &self,
        request: make_join::Request,
        credentials: Credentials,
    ) -> Result<make_join::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::make_join(self, request, credentials).await
    }

    async fn send_join_v2(
        &self,
        request: send_join_v2::Request,
        credentials: Credentials,
    ) -> Result<send_join_v2::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::send_join(self, request, credentials).await
    }

    async fn make_leave(
        &self,
        request: make_leave::Request,
        credentials: Credentials,
    ) -> Result<make_leave::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::make_leave(self, request, credentials).await
    }

    async fn query_user_encryption_keys(
        &self,
        request: query_user_encryption_keys::Request,
        credentials: Credentials,
    ) -> Result<query_user_encryption_keys::Response, MatrixError> {
        self.answer_user_keys(request, credentials).await
    }

    async fn claim_user_encryption_keys(
        &self,
        request: claim_user_encryption_keys::Request,
        credentials: Credentials,
    ) -> Result<claim_user_encryption_keys::Response, MatrixError> {
        self.answer_key_claim(request, credentials).await
    }

    async fn get_user_devices(
        &self,
        request: get_user_devices::Request,
        credentials: Credentials,
    ) -> Result<get_user_devices::Response, MatrixError> {
        self.answer_user_devices(request, credentials).await
    }

    async fn send_invite_v2(
        &self,
        request: send_invite_v2::Request,
        credentials: Credentials,
    ) -> Result<send_invite_v2::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::receive_invite(self, request, credentials).await
    }

    async fn send_leave_v2(
        &self,
        request: send_leave_v2::Request,
        credentials: Credentials,
    ) -> Result<send_leave_v2::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::send_leave(self, request, credentials).await
    }

    async fn send_transaction(
        &self,
        request: send_transaction::Request,
        credentials: Credentials,
    ) -> Result<send_transaction::Response, MatrixError> {
        Federation::send_transaction(self, request, credentials).await
    }

    async fn get_event(
        &self,
        request: get_event::Request,
        credentials: Credentials,
    ) -> Result<get_event::Response, MatrixError> {
        Federation::get_event(self, request, credentials).await
    }

    async fn get_room_state(
        &self,
        request: get_room_state::Request,
        credentials: Credentials,
    ) -> Result<get_room_state::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::get_room_state(self, request, credentials).await
    }

    async fn get_room_state_ids(
        &self,
        request: get_room_state_ids::Request,
        credentials: Credentials,
    ) -> Result<get_room_state_ids::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::get_room_state_ids(self, request, credentials).await
    }

    async fn get_event_auth(
        &self,
        request: get_event_auth::Request,
        credentials: Credentials,
    ) -> Result<get_event_auth::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::get_event_auth(self, request, credentials).await
    }

    async fn backfill_room(
        &self,
        request: backfill_room::Request,
        credentials: Credentials,
    ) -> Result<backfill_room::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::backfill(self, request, credentials).await
    }

    async fn get_missing_previous_events(
        &self,
        request: get_missing_previous_events::Request,
        credentials: Credentials,
    ) -> Result<get_missing_previous_events::Response, MatrixError> {
        self.check_acl_of(&request.path.room_id, &credentials)?;
        Federation::get_missing_events(self, request, credentials).await
    }

    /// Who an OpenID token of this server stands for: its user, and
    /// nothing more (another service asks, not necessarily a server).
    async fn exchange_open_id_token(
        &self,
        request: exchange_open_id_token::Request,
        _credentials: Credentials,
    ) -> Result<exchange_open_id_token::Response, MatrixError> {
        let user_id = self.hs.openid_user(&request.query.access_token)?;
        Ok(exchange_open_id_token::Response::Ok(ExchangeOpenIdTokenResponse::new(
            user_id,
        )))
    }

    async fn on_bind_third_party_identifier(
        &self,
        request: on_bind_third_party_identifier::Request,
        _credentials: Credentials,
    ) -> Result<on_bind_third_party_identifier::Response, MatrixError> {
        self.on_bind(request).await
    }

    async fn exchange_third_party_invite(
        &self,
        request: exchange_third_party_invite::Request,
        credentials: Credentials,
    ) -> Result<exchange_third_party_invite::Response, MatrixError> {
        Federation::exchange_third_party_invite(self, request, credentials).await
    }

    async fn get_public_rooms(
        &self,
        request: get_public_rooms::Request,
        _credentials: Credentials,
    ) -> Result<get_public_rooms::Response, MatrixError> {
        self.answer_public_rooms(request)
    }

    async fn query_public_rooms(
        &self,
        request: query_public_rooms::Request,
        _credentials: Credentials,
    ) -> Result<query_public_rooms::Response, MatrixError> {
        self.answer_public_rooms_search(request)
    }

    async fn get_version(
        &self,
        _request: get_version::Request,
        _credentials: Credentials,
    ) -> Result<get_version::Response, MatrixError> {
        let server = Server {
            name: Some(env!("CARGO_PKG_NAME").to_owned()),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        };
        Ok(get_version::Response::Ok(GetVersionResponse { server: Some(server) }))
    }
}
