//! The identity server a client names (`id_server`, with its token there,
//! `id_access_token`), asked on the client's behalf: lookups and stored
//! invites for third-party invites, bindings for `/account/3pid/bind`. Its
//! refusals are passed on to the client, as the spec asks; an answer that
//! cannot be used is `502`.

use super::{content_in, id, internal, Homeserver, Result};
use matrix_api::client_server::Invite3pid;
use matrix_api::events::{
    RoomAvatarEventContent, RoomCanonicalAliasEventContent, RoomCreateEventContent, RoomJoinRulesEventContent,
    RoomNameEventContent,
};
use matrix_api::identity::endpoints::{
    self as is, bind_v2, get_hash_details, lookup_users_v2, store_invite_v2, unbind_v2,
};
use matrix_api::identity::{BindV2Request, LookupUsersV2Request, N3pid, StoreInviteV2Request, UnbindV2Request};
use matrix_api_runtime::client::ClientError;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The identity server a client named, with the client's token there.
pub(super) struct IdentityServer {
    name: String,
    client: is::Client,
}

impl IdentityServer {
    /// The identity server `id_server`, asked with the client's token there.
    pub(super) fn new(hs: &Homeserver, id_server: &str, id_access_token: &str) -> Result<IdentityServer> {
        let server = Self::unauthenticated(hs, id_server)?;
        let client = server.client.0.with_access_token(id_access_token.to_owned());
        Ok(IdentityServer {
            client: is::Client(client),
            ..server
        })
    }

    /// The identity server `id_server`, asked by this homeserver itself
    /// with requests it signs (unbinding its users' addresses).
    pub(super) fn signed_by(hs: &Homeserver, id_server: &str) -> Result<IdentityServer> {
        let server = Self::unauthenticated(hs, id_server)?;
        let signer = matrix_api_runtime::client::Signer {
            origin: hs.server_name.clone(),
            destination: server.name.clone(),
            key_id: hs.identity.key_id.clone(),
            key: hs.identity.signing_key().clone(),
        };
        let client = server.client.0.with_signer(signer);
        Ok(IdentityServer {
            client: is::Client(client),
            ..server
        })
    }

    fn unauthenticated(hs: &Homeserver, id_server: &str) -> Result<IdentityServer> {
        let name = id_server.to_owned();
        if name.is_empty() || name.contains(['/', '?', '#', '@']) {
            return Err(MatrixError::invalid_param(
                "id_server must be a host name, with a port if needed",
            ));
        }
        let federation = hs
            .federation()
            .ok_or_else(|| MatrixError::new(503, ErrorCode::Unknown, "no HTTP client for identity servers"))?;
        let client = matrix_api_runtime::client::Client::new(format!("https://{name}"))
            .with_http(federation.discovery.http().clone());
        Ok(IdentityServer {
            name,
            client: is::Client(client),
        })
    }

    /// The Matrix ID bound to `address`, by the hashed lookup (`sha256`,
    /// or `none` where the server offers only that).
    pub(super) async fn lookup(&self, medium: &str, address: &str) -> Result<Option<String>> {
        let get_hash_details::Response::Ok(details) = self
            .client
            .get_hash_details(get_hash_details::Request::new())
            .await
            .map_err(|e| self.failed(e))?;
        let pepper = details.lookup_pepper;
        let (algorithm, key) = if details.algorithms.iter().any(|a| a == "sha256") {
            ("sha256", lookup_hash(address, medium, &pepper))
        } else if details.algorithms.iter().any(|a| a == "none") {
            ("none", format!("{address} {medium}"))
        } else {
            return Err(self.unusable("it offers neither the sha256 nor the none lookup"));
        };
        let body = LookupUsersV2Request::new(algorithm.to_owned(), pepper, vec![key.clone()]);
        let lookup_users_v2::Response::Ok(found) = self
            .client
            .lookup_users_v2(lookup_users_v2::Request::new(body))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(found.mappings.get(&key).map(|user| user.to_string()))
    }

    /// Asks the identity server to keep an invite for `address`, with what
    /// it may tell the invitee of the room and the inviter.
    pub(super) async fn store_invite(
        &self,
        hs: &Homeserver,
        room_id: &str,
        sender: &str,
        body: &Invite3pid,
    ) -> Result<matrix_api::identity::StoreInviteV2Response> {
        let state = hs.store.current_state(room_id).map_err(internal)?;
        let mut request =
            StoreInviteV2Request::new(body.medium.clone(), body.address.clone(), id(room_id)?, id(sender)?);
        request.room_name = content_in::<RoomNameEventContent>(&state, "").map(|c| c.name);
        request.room_alias = content_in::<RoomCanonicalAliasEventContent>(&state, "").and_then(|c| c.alias);
        request.room_avatar_url = content_in::<RoomAvatarEventContent>(&state, "").and_then(|c| c.url);
        request.room_join_rules = content_in::<RoomJoinRulesEventContent>(&state, "").map(|c| c.join_rule.to_string());
        request.room_type = content_in::<RoomCreateEventContent>(&state, "").and_then(|c| c.r#type);
        let profile = hs.store.profile(sender).map_err(internal)?;
        request.sender_display_name = profile.get("displayname").and_then(Value::as_str).map(str::to_owned);
        let store_invite_v2::Response::Ok(stored) = self
            .client
            .store_invite_v2(store_invite_v2::Request::new(request))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(stored)
    }

    /// Binds the address of a session the identity server validated to
    /// `mxid` (the client's own user, whose token this is); the medium and
    /// address it bound.
    pub(super) async fn bind(&self, sid: &str, client_secret: &str, mxid: &str) -> Result<(String, String)> {
        let body = BindV2Request::new(sid.to_owned(), client_secret.to_owned(), mxid.to_owned());
        let bind_v2::Response::Ok(bound) = self
            .client
            .bind_v2(bind_v2::Request::new(body))
            .await
            .map_err(|e| self.failed(e))?;
        Ok((bound.medium, bound.address))
    }

    /// Asks the identity server to unbind the address from `mxid`, a user
    /// of this server: whether it did (`false`: it does not support this).
    /// Its other refusals are passed on, as the spec asks.
    pub(super) async fn unbind(&self, mxid: &str, medium: &str, address: &str) -> Result<bool> {
        let threepid = N3pid::new(medium.to_owned(), address.to_owned());
        let request = unbind_v2::Request::new(UnbindV2Request::new(mxid.to_owned(), threepid));
        match self.client.unbind_v2(request).await {
            Ok(_) => Ok(true),
            Err(ClientError::Matrix(refusal))
                if refusal.status == 501 || *refusal.errcode() == ErrorCode::Unrecognized =>
            {
                Ok(false)
            }
            Err(other) => Err(self.failed(other)),
        }
    }

    /// The identity server's refusal passed on (its `4xx` is about the
    /// client's request or token); anything else is `502`.
    fn failed(&self, error: ClientError) -> MatrixError {
        match error {
            ClientError::Matrix(refusal) if refusal.status < 500 => refusal,
            other => self.unusable(other),
        }
    }

    pub(super) fn unusable(&self, why: impl std::fmt::Display) -> MatrixError {
        MatrixError::new(502, ErrorCode::Unknown, format!("identity server {}: {why}", self.name))
    }
}

/// URL-safe unpadded base64, as the hashed lookup sends hashes.
/// The `sha256` lookup hash of an address (the identity service API's
/// "Client behaviour" of lookups): `sha256("<address> <medium> <pepper>")`
/// in URL-safe unpadded base64. The identity server of `identity/` hashes
/// its bindings with this too.
pub fn lookup_hash(address: &str, medium: &str, pepper: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(format!("{address} {medium} {pepper}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_hashes_are_the_specs() {
        // The identity service API's example: "alice@example.com email
        // matrixrocks" hashes to this.
        assert_eq!(
            lookup_hash("alice@example.com", "email", "matrixrocks"),
            "4kenr7N9drpCJ4AfalmlGQVsOn3o2RHjkADUpXJWZUc"
        );
    }
}
