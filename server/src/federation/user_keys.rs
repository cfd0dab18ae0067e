//! End-to-end encryption across servers: the devices and keys of this
//! server's users for other servers (`/user/devices`, `/user/keys/query`,
//! `/user/keys/claim`), and the same asked of other servers for this
//! server's users (`/keys/query` and `/keys/claim` of a user elsewhere).
//!
//! A server answers only for its own users; a user-signing key is never
//! given to another server. Not yet: device-list update EDUs (a client
//! here learns of a remote user's new device only when it queries again).

use super::Federation;
use crate::api::keys::{claim_local, local_keys, LocalKeys};
use crate::api::{internal, server_of};
use matrix_api::client_server::DeviceKeys;
use matrix_api::server_server::endpoints::{claim_user_encryption_keys, get_user_devices, query_user_encryption_keys};
use matrix_api::server_server::{
    ClaimUserEncryptionKeysRequest, ClaimUserEncryptionKeysResponse, GetUserDevicesResponse,
    QueryUserEncryptionKeysRequest, QueryUserEncryptionKeysResponse, UserDevice,
};
use matrix_api::UserId;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, MatrixError>;

/// One generated type as another of the same JSON shape (the client-server
/// and server-server APIs declare the same objects twice).
fn convert<T: serde::Serialize, U: serde::de::DeserializeOwned>(value: &T) -> Result<U> {
    serde_json::from_value(serde_json::to_value(value).map_err(internal)?).map_err(internal)
}

impl Federation {
    fn is_ours(&self, user_id: &str) -> bool {
        server_of(user_id) == Some(self.identity.server_name.as_str())
    }

    pub(super) async fn answer_user_keys(
        &self,
        request: query_user_encryption_keys::Request,
        _credentials: Credentials,
    ) -> Result<query_user_encryption_keys::Response> {
        let wanted = request.body.device_keys;
        let ours = wanted.iter().filter(|(user, _)| self.is_ours(user.as_str()));
        let LocalKeys {
            device_keys,
            cross_signing: [master, self_signing, _],
        } = local_keys(&self.hs, ours, None)?;
        let mut answer = QueryUserEncryptionKeysResponse::new(convert(&device_keys)?);
        answer.master_keys = Some(master);
        answer.self_signing_keys = Some(self_signing);
        Ok(query_user_encryption_keys::Response::Ok(answer))
    }

    pub(super) async fn answer_key_claim(
        &self,
        request: claim_user_encryption_keys::Request,
        _credentials: Credentials,
    ) -> Result<claim_user_encryption_keys::Response> {
        let wanted = request.body.one_time_keys;
        let claimed = claim_local(&self.hs, wanted.iter().filter(|(user, _)| self.is_ours(user.as_str())))?;
        Ok(claim_user_encryption_keys::Response::Ok(
            ClaimUserEncryptionKeysResponse::new(convert(&claimed)?),
        ))
    }

    pub(super) async fn answer_user_devices(
        &self,
        request: get_user_devices::Request,
        _credentials: Credentials,
    ) -> Result<get_user_devices::Response> {
        let user_id = request.path.user_id;
        if !self.is_ours(&user_id) || !self.hs.store.user_exists(&user_id).map_err(internal)? {
            return Err(MatrixError::not_found("No such user on this server"));
        }
        let user: UserId = user_id.parse().map_err(internal)?;
        let only = Vec::new();
        let LocalKeys {
            device_keys,
            cross_signing: [master, self_signing, _],
        } = local_keys(&self.hs, [(&user, &only)], None)?;
        let devices: Vec<UserDevice> = device_keys
            .get(&user)
            .into_iter()
            .flatten()
            .map(|(device_id, info)| {
                let mut keys: DeviceKeys = convert(info)?;
                // The display name travels beside the keys, not in them.
                keys.extra.remove("unsigned");
                let mut device = UserDevice::new(device_id.clone(), keys);
                device.device_display_name = info.unsigned.as_ref().and_then(|u| u.device_display_name.clone());
                Ok(device)
            })
            .collect::<Result<_>>()?;
        // The stream position of the device list: the side stream, which
        // moves whenever keys change.
        let stream_id = self.hs.store.max_side_stream().map_err(internal)?;
        let mut answer = GetUserDevicesResponse::new(user_id, stream_id, devices);
        answer.master_key = master.get(&user).map(convert).transpose()?;
        answer.self_signing_key = self_signing.get(&user).map(convert).transpose()?;
        Ok(get_user_devices::Response::Ok(answer))
    }

    /// `/user/keys/query` on `server` for its users.
    pub async fn query_remote_keys(
        &self,
        server: &str,
        users: BTreeMap<UserId, Vec<String>>,
    ) -> Result<QueryUserEncryptionKeysResponse> {
        let client = self.client_for(server).await;
        let request = query_user_encryption_keys::Request::new(QueryUserEncryptionKeysRequest::new(users));
        let query_user_encryption_keys::Response::Ok(answer) = client
            .query_user_encryption_keys(request)
            .await
            .map_err(|e| super::api::remote_failure("Querying keys", server, e))?;
        Ok(answer)
    }

    /// `/user/keys/claim` on `server` for its users' devices.
    pub async fn claim_remote_keys(
        &self,
        server: &str,
        users: BTreeMap<UserId, BTreeMap<String, String>>,
    ) -> Result<ClaimUserEncryptionKeysResponse> {
        let client = self.client_for(server).await;
        let request = claim_user_encryption_keys::Request::new(ClaimUserEncryptionKeysRequest::new(users));
        let claim_user_encryption_keys::Response::Ok(answer) = client
            .claim_user_encryption_keys(request)
            .await
            .map_err(|e| super::api::remote_failure("Claiming keys", server, e))?;
        Ok(answer)
    }
}
