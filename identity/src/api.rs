//! The identity service operations, on the generated `IdentityApi` trait.
//! Operations not here (phone numbers, `msisdn`) keep the trait's default,
//! `404 M_UNRECOGNIZED`.

use crate::store::{Invite, Session};
use crate::{now_ms, random_text, IdentityServer};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use matrix_api::identity::endpoints::{
    agree_to_terms, bind_v2, blindly_sign_stuff_v2, email_request_token_v2, email_submit_token_get_v2,
    email_submit_token_post_v2, get_account, get_hash_details, get_pub_key_v2, get_terms, get_validated3pid_v2,
    get_versions, is_ephemeral_pub_key_valid_v2, is_pub_key_valid_v2, logout, lookup_users_v2, ping_v2,
    register_account, store_invite_v2, unbind_v2, IdentityApi,
};
use matrix_api::identity::{
    BindV2Response, BlindlySignStuffV2Response, EmailSubmitTokenPostV2Response, GetAccountResponse,
    GetHashDetailsResponse, GetPubKeyV2Response, GetTermsResponse, GetValidated3pidV2Response, GetVersionsResponse,
    IsPubKeyValidV2Response, LookupUsersV2Response, PublicKey, RegisterAccountResponse, Sid, StoreInviteV2Response,
};
use matrix_api::server_server::endpoints::exchange_open_id_token;
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::{ErrorCode, MatrixError};
use serde_json::{json, Map};
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, MatrixError>;

/// The spec versions whose identity API this server speaks.
const VERSIONS: &[&str] = &[
    "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12", "v1.13",
    "v1.14", "v1.15", "v1.16", "v1.17", "v1.18", "v1.19",
];

/// How long a binding is published for, as Sydent does (about 100 years).
const BINDING_LIFETIME_MS: i64 = 100 * 365 * 24 * 60 * 60 * 1000;

fn internal(e: impl std::fmt::Display) -> MatrixError {
    MatrixError::new(500, ErrorCode::Unknown, format!("internal error: {e}"))
}

fn error(status: u16, code: &str, message: impl Into<String>) -> MatrixError {
    MatrixError::new(status, ErrorCode::from(code), message)
}

impl IdentityServer {
    /// The account a request's token belongs to (`401` otherwise).
    fn account(&self, credentials: &Credentials) -> Result<String> {
        let token = credentials
            .access_token
            .as_deref()
            .ok_or_else(|| error(401, "M_UNAUTHORIZED", "an identity server token is needed"))?;
        self.store
            .account(token)
            .map_err(internal)?
            .ok_or_else(|| error(401, "M_UNAUTHORIZED", "unknown identity server token"))
    }

    /// A session's owner proves it with the session ID and its secret.
    fn owned_session(&self, sid: &str, client_secret: &str) -> Result<Session> {
        match self.store.session(sid).map_err(internal)? {
            Some(session) if session.client_secret == client_secret => Ok(session),
            _ => Err(error(404, "M_NO_VALID_SESSION", "no session with this ID and secret")),
        }
    }

    fn validated_session(&self, sid: &str, client_secret: &str) -> Result<(Session, i64)> {
        let session = self.owned_session(sid, client_secret)?;
        match session.validated_ts {
            Some(at) => Ok((session, at)),
            None => Err(error(
                400,
                "M_SESSION_NOT_VALIDATED",
                "the address has not been validated yet",
            )),
        }
    }

    /// This server's long-term public key and where its validity is told.
    fn server_public_key(&self) -> PublicKey {
        PublicKey::new(
            self.signing.public_key_base64(),
            format!("{}/_matrix/identity/v2/pubkey/isvalid", self.base_url()),
        )
    }
}

/// The lookup hash of an address, as homeservers compute it.
pub use server::api::lookup_hash;

/// An address as shown to others before its owner joins: `b...@example.org`.
fn redacted(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}...@{domain}", local.chars().next().unwrap_or('_')),
        None => format!("{}...", address.chars().take(3).collect::<String>()),
    }
}

/// Addresses are compared in lower case (the case of an email address's
/// domain never matters, and providers ignore it in the local part).
fn normalized(medium: &str, address: &str) -> Result<String> {
    if medium != "email" {
        return Err(error(
            400,
            "M_INVALID_PARAM",
            format!("the medium {medium} is not supported here"),
        ));
    }
    server::threepid::normalized_email(address).ok_or_else(|| error(400, "M_INVALID_EMAIL", "not an email address"))
}

impl IdentityApi for IdentityServer {
    async fn get_versions(&self, _: get_versions::Request, _: Credentials) -> Result<get_versions::Response> {
        let versions = VERSIONS.iter().map(|v| v.to_string()).collect();
        Ok(get_versions::Response::Ok(GetVersionsResponse::new(versions)))
    }

    async fn ping_v2(&self, _: ping_v2::Request, _: Credentials) -> Result<ping_v2::Response> {
        Ok(ping_v2::Response::Ok(Map::new()))
    }

    /// No policies: there is nothing to accept.
    async fn get_terms(&self, _: get_terms::Request, _: Credentials) -> Result<get_terms::Response> {
        Ok(get_terms::Response::Ok(GetTermsResponse::new(BTreeMap::new())))
    }

    async fn agree_to_terms(
        &self,
        _: agree_to_terms::Request,
        credentials: Credentials,
    ) -> Result<agree_to_terms::Response> {
        self.account(&credentials)?;
        Ok(agree_to_terms::Response::Ok(Map::new()))
    }

    /// An account for whoever the OpenID token names: asked of the
    /// homeserver that issued it, which must be the user's own.
    async fn register_account(
        &self,
        request: register_account::Request,
        _: Credentials,
    ) -> Result<register_account::Response> {
        let openid = request.body;
        let homeserver = openid.matrix_server_name.clone();
        let base = self.discovery.base_url(&homeserver).await;
        let client = matrix_api::server_server::endpoints::Client(
            matrix_api_runtime::client::Client::new(base).with_http(self.discovery.http().clone()),
        );
        let answer = client
            .exchange_open_id_token(exchange_open_id_token::Request::new(openid.access_token))
            .await
            .map_err(|e| {
                error(
                    401,
                    "M_UNAUTHORIZED",
                    format!("{homeserver} did not vouch for the token: {e}"),
                )
            })?;
        let exchange_open_id_token::Response::Ok(info) = answer;
        let user_server = info.sub.split_once(':').map(|(_, server)| server);
        if user_server != Some(homeserver.as_str()) {
            return Err(error(
                401,
                "M_UNAUTHORIZED",
                format!("{homeserver} named a user of another server"),
            ));
        }
        let token = random_text(32);
        self.store.add_account(&token, &info.sub, now_ms()).map_err(internal)?;
        Ok(register_account::Response::Ok(RegisterAccountResponse::new(token)))
    }

    async fn get_account(&self, _: get_account::Request, credentials: Credentials) -> Result<get_account::Response> {
        let user_id = self.account(&credentials)?;
        Ok(get_account::Response::Ok(GetAccountResponse::new(user_id)))
    }

    async fn logout(&self, _: logout::Request, credentials: Credentials) -> Result<logout::Response> {
        self.account(&credentials)?;
        let token = credentials.access_token.unwrap_or_default();
        self.store.remove_account(&token).map_err(internal)?;
        Ok(logout::Response::Ok(Map::new()))
    }

    async fn get_pub_key_v2(
        &self,
        request: get_pub_key_v2::Request,
        _: Credentials,
    ) -> Result<get_pub_key_v2::Response> {
        if request.path.key_id != self.signing.key_id {
            return Err(error(404, "M_NOT_FOUND", "no such key"));
        }
        Ok(get_pub_key_v2::Response::Ok(GetPubKeyV2Response::new(
            self.signing.public_key_base64(),
        )))
    }

    async fn is_pub_key_valid_v2(
        &self,
        request: is_pub_key_valid_v2::Request,
        _: Credentials,
    ) -> Result<is_pub_key_valid_v2::Response> {
        let valid = request.query.public_key == self.signing.public_key_base64();
        Ok(is_pub_key_valid_v2::Response::Ok(IsPubKeyValidV2Response::new(valid)))
    }

    async fn is_ephemeral_pub_key_valid_v2(
        &self,
        request: is_ephemeral_pub_key_valid_v2::Request,
        _: Credentials,
    ) -> Result<is_ephemeral_pub_key_valid_v2::Response> {
        let valid = self
            .store
            .ephemeral_key_exists(&request.query.public_key)
            .map_err(internal)?;
        Ok(is_ephemeral_pub_key_valid_v2::Response::Ok(
            IsPubKeyValidV2Response::new(valid),
        ))
    }

    async fn get_hash_details(
        &self,
        _: get_hash_details::Request,
        credentials: Credentials,
    ) -> Result<get_hash_details::Response> {
        self.account(&credentials)?;
        let algorithms = vec!["none".to_owned(), "sha256".to_owned()];
        Ok(get_hash_details::Response::Ok(GetHashDetailsResponse::new(
            self.pepper.clone(),
            algorithms,
        )))
    }

    async fn lookup_users_v2(
        &self,
        request: lookup_users_v2::Request,
        credentials: Credentials,
    ) -> Result<lookup_users_v2::Response> {
        self.account(&credentials)?;
        let body = request.body;
        if body.pepper != self.pepper {
            return Err(
                MatrixError::new(400, ErrorCode::from("M_INVALID_PEPPER"), "wrong pepper")
                    .with("algorithm", json!("sha256"))
                    .with("lookup_pepper", json!(self.pepper)),
            );
        }
        let hashed = match body.algorithm.as_str() {
            "sha256" => true,
            "none" => false,
            other => return Err(error(400, "M_INVALID_PARAM", format!("unknown algorithm {other}"))),
        };
        let key_of = |address: &str, medium: &str| match hashed {
            true => lookup_hash(address, medium, &self.pepper),
            false => format!("{address} {medium}"),
        };
        let wanted: std::collections::BTreeSet<&String> = body.addresses.iter().collect();
        let mut mappings = BTreeMap::new();
        for (medium, address, mxid) in self.store.bindings().map_err(internal)? {
            let key = key_of(&address, &medium);
            if wanted.contains(&key) {
                mappings.insert(key, mxid);
            }
        }
        Ok(lookup_users_v2::Response::Ok(LookupUsersV2Response::new(mappings)))
    }

    /// A session for the address; the token goes there by email (again
    /// only when `send_attempt` grows).
    async fn email_request_token_v2(
        &self,
        request: email_request_token_v2::Request,
        credentials: Credentials,
    ) -> Result<email_request_token_v2::Response> {
        self.account(&credentials)?;
        let body = request.body;
        let address = normalized("email", &body.email)?;
        let wanted = Session {
            sid: random_text(24),
            client_secret: body.client_secret,
            medium: "email".to_owned(),
            address: address.clone(),
            token: random_text(32),
            send_attempt: body.send_attempt,
            validated_ts: None,
        };
        let (session, send) = self.store.session_for(wanted, now_ms()).map_err(internal)?;
        if send {
            let text = format!(
                "Your validation token for {}: {}\n\nSession ID: {}\n",
                self.name, session.token, session.sid
            );
            self.mail
                .send(&address, "Validate your email address", text)
                .await
                .map_err(|e| error(500, "M_EMAIL_SEND_ERROR", e))?;
        }
        Ok(email_request_token_v2::Response::Ok(Sid::new(session.sid)))
    }

    async fn email_submit_token_post_v2(
        &self,
        request: email_submit_token_post_v2::Request,
        credentials: Credentials,
    ) -> Result<email_submit_token_post_v2::Response> {
        self.account(&credentials)?;
        let body = request.body;
        self.submit_token(&body.sid, &body.client_secret, &body.token)?;
        Ok(email_submit_token_post_v2::Response::Ok(
            EmailSubmitTokenPostV2Response::new(true),
        ))
    }

    async fn email_submit_token_get_v2(
        &self,
        request: email_submit_token_get_v2::Request,
        credentials: Credentials,
    ) -> Result<email_submit_token_get_v2::Response> {
        self.account(&credentials)?;
        let q = request.query;
        self.submit_token(&q.sid, &q.client_secret, &q.token)?;
        Ok(email_submit_token_get_v2::Response::Ok(matrix_api_runtime::Empty {}))
    }

    async fn get_validated3pid_v2(
        &self,
        request: get_validated3pid_v2::Request,
        credentials: Credentials,
    ) -> Result<get_validated3pid_v2::Response> {
        self.account(&credentials)?;
        let (session, at) = self.validated_session(&request.query.sid, &request.query.client_secret)?;
        Ok(get_validated3pid_v2::Response::Ok(GetValidated3pidV2Response::new(
            session.medium,
            session.address,
            at,
        )))
    }

    /// Publishes the binding of a validated address to `mxid`, signed; the
    /// invites stored for the address go to the user's homeserver.
    async fn bind_v2(&self, request: bind_v2::Request, credentials: Credentials) -> Result<bind_v2::Response> {
        let account = self.account(&credentials)?;
        let body = request.body;
        if body.mxid != account {
            return Err(error(
                403,
                "M_FORBIDDEN",
                "an account binds addresses to its own user only",
            ));
        }
        let (session, _) = self.validated_session(&body.sid, &body.client_secret)?;
        let now = now_ms();
        self.store
            .bind(&session.medium, &session.address, &body.mxid, now)
            .map_err(internal)?;
        self.deliver.notify_one();
        let mut association = json!({
            "address": session.address, "medium": session.medium, "mxid": body.mxid,
            "not_before": now, "not_after": now + BINDING_LIFETIME_MS, "ts": now,
        });
        self.signing.sign_json(&mut association);
        let response: BindV2Response = serde_json::from_value(association).map_err(internal)?;
        Ok(bind_v2::Response::Ok(response))
    }

    /// Removes a binding whose owner proves the address (the session that
    /// validated it) and names the user it is bound to.
    /// Unbinds an address, on one of the two proofs the spec allows: the
    /// session that validated it (with the account of its user), or a
    /// request signed by the user's homeserver (checked by the router).
    async fn unbind_v2(&self, request: unbind_v2::Request, credentials: Credentials) -> Result<unbind_v2::Response> {
        let body = request.body;
        let medium = &body.threepid.medium;
        let address = normalized(medium, &body.threepid.address)?;
        if let Some(signed) = &credentials.x_matrix {
            let users_server = body.mxid.split_once(':').map(|(_, server)| server);
            if users_server != Some(signed.origin.as_str()) {
                return Err(error(
                    403,
                    "M_FORBIDDEN",
                    "a homeserver unbinds its own users' addresses only",
                ));
            }
        } else {
            let account = self.account(&credentials)?;
            if body.mxid != account {
                return Err(error(
                    403,
                    "M_FORBIDDEN",
                    "an account unbinds its own user's addresses only",
                ));
            }
            let (Some(sid), Some(secret)) = (body.sid.as_deref(), body.client_secret.as_deref()) else {
                return Err(error(
                    403,
                    "M_FORBIDDEN",
                    "unbinding needs the session that validated the address",
                ));
            };
            let (session, _) = self.validated_session(sid, secret)?;
            if session.address != address || &session.medium != medium {
                return Err(error(403, "M_FORBIDDEN", "the session validated another address"));
            }
        }
        if !self.store.unbind(medium, &address, &body.mxid).map_err(internal)? {
            return Err(error(404, "M_NOT_FOUND", "the address is not bound to this user"));
        }
        Ok(unbind_v2::Response::Ok(Map::new()))
    }

    /// Keeps an invite for an address nobody has bound, tells the address
    /// by email, and answers with the token and the keys that will sign it.
    async fn store_invite_v2(
        &self,
        request: store_invite_v2::Request,
        credentials: Credentials,
    ) -> Result<store_invite_v2::Response> {
        self.account(&credentials)?;
        let body = request.body;
        let address = normalized(&body.medium, &body.address)?;
        if self.store.binding(&body.medium, &address).map_err(internal)?.is_some() {
            return Err(error(400, "M_THREEPID_IN_USE", "the address is bound: invite its user"));
        }
        let ephemeral = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let ephemeral_public = STANDARD_NO_PAD.encode(ephemeral.verifying_key().as_bytes());
        let ephemeral_private = STANDARD_NO_PAD.encode(ephemeral.to_bytes());
        let invite = Invite {
            token: random_text(32),
            medium: body.medium.clone(),
            address: address.clone(),
            room_id: body.room_id.to_string(),
            sender: body.sender.to_string(),
        };
        self.store
            .add_invite(&invite, (&ephemeral_public, &ephemeral_private), now_ms())
            .map_err(internal)?;
        let room = body.room_name.clone().unwrap_or_else(|| invite.room_id.clone());
        let inviter = body
            .sender_display_name
            .clone()
            .unwrap_or_else(|| invite.sender.clone());
        let text = format!(
            "{inviter} invited you to {room} on Matrix.\n\nBind this address to your Matrix account at {} to join.\n\nInvite token: {}\nKey: {}\n",
            self.name, invite.token, ephemeral_private
        );
        self.mail
            .send(&address, &format!("{inviter} invited you to {room}"), text)
            .await
            .map_err(|e| error(500, "M_EMAIL_SEND_ERROR", e))?;
        let keys = vec![
            self.server_public_key(),
            PublicKey::new(
                ephemeral_public,
                format!("{}/_matrix/identity/v2/pubkey/ephemeral/isvalid", self.base_url()),
            ),
        ];
        Ok(store_invite_v2::Response::Ok(StoreInviteV2Response::new(
            invite.token,
            keys,
            redacted(&address),
        )))
    }

    /// Signs `{mxid, sender, token}` of a stored invite with the ephemeral
    /// private key the invitee was mailed.
    async fn blindly_sign_stuff_v2(
        &self,
        request: blindly_sign_stuff_v2::Request,
        credentials: Credentials,
    ) -> Result<blindly_sign_stuff_v2::Response> {
        self.account(&credentials)?;
        let body = request.body;
        let sender = self.store.invite_sender(&body.token).map_err(internal)?;
        let sender = sender.ok_or_else(|| error(404, "M_UNRECOGNIZED", "no invite with this token"))?;
        let seed: [u8; 32] = matrix_api_runtime::signing::decode_base64(&body.private_key)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| error(400, "M_INVALID_PARAM", "private_key is not an ed25519 key"))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let mut signed = json!({ "mxid": body.mxid, "sender": sender, "token": body.token });
        matrix_api_runtime::signing::sign_json(&mut signed, &self.name, "ed25519:0", &key);
        let response: BlindlySignStuffV2Response = serde_json::from_value(signed).map_err(internal)?;
        Ok(blindly_sign_stuff_v2::Response::Ok(response))
    }
}

impl IdentityServer {
    fn submit_token(&self, sid: &str, client_secret: &str, token: &str) -> Result<()> {
        let session = self.owned_session(sid, client_secret)?;
        if session.token != token {
            return Err(error(400, "M_INVALID_PARAM", "wrong token"));
        }
        self.store.validate_session(sid, now_ms()).map_err(internal)?;
        Ok(())
    }
}
