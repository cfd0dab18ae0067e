//! The server-server operations this homeserver answers, on the generated
//! `ServerServerApi` trait. Operations not implemented here keep the
//! trait's default (`404 M_UNRECOGNIZED`).

use super::identity::SigningIdentity;
use matrix_api::server_server::endpoints::{get_server_key, get_version, ServerServerApi};
use matrix_api::server_server::{GetVersionResponse, Keys, Server, VerifyKey};
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
}

impl Federation {
    /// This server's keys, signed by itself, valid for [`KEY_VALIDITY_MS`].
    pub fn server_keys(&self, now_ms: i64) -> Result<Keys, MatrixError> {
        let identity = &self.identity;
        let verify_keys = BTreeMap::from([(identity.key_id.clone(), VerifyKey::new(identity.public_key_base64()))]);
        let mut keys = Keys::new(
            identity.server_name.clone(),
            verify_keys,
            BTreeMap::new(),
            now_ms + KEY_VALIDITY_MS,
        );
        keys.old_verify_keys = Some(BTreeMap::new());
        let mut signed = serde_json::to_value(&keys).map_err(crate::api::internal)?;
        if let Some(object) = signed.as_object_mut() {
            object.remove("signatures");
        }
        identity.sign_json(&mut signed);
        keys.signatures = serde_json::from_value(signed["signatures"].take()).map_err(crate::api::internal)?;
        Ok(keys)
    }
}

impl ServerServerApi for Federation {
    async fn get_server_key(
        &self,
        _request: get_server_key::Request,
        _credentials: Credentials,
    ) -> Result<get_server_key::Response, MatrixError> {
        Ok(get_server_key::Response::Ok(self.server_keys(crate::api::now_ms())?))
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
