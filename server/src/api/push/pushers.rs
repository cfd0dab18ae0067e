//! `/pushers/set` and `/pushers`: where a user's notifications are pushed.
//! Only `http` pushers are kept (this server sends no notification email);
//! each is served by [`super::delivery`].

use super::super::{internal, now_ms, Homeserver, Result};
use crate::store::Pusher;
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{GetPushersResponse, GetPushersResponsePushersItemData, PostPusherRequest};
use matrix_api_runtime::server::Credentials;
use matrix_api_runtime::MatrixError;
use serde_json::{Map, Value};

/// The path every push gateway serves (the push gateway API).
pub(crate) const NOTIFY_PATH: &str = "/_matrix/push/v1/notify";

pub(in crate::api) fn set(
    hs: &Homeserver,
    request: cs::post_pusher::Request,
    credentials: Credentials,
) -> Result<cs::post_pusher::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let body = request.body;
    if body.pushkey.len() > 512 || body.app_id.chars().count() > 64 {
        return Err(MatrixError::invalid_param(
            "pushkey is 512 bytes at most, app_id 64 characters",
        ));
    }
    match body.kind.as_deref() {
        None => {
            hs.store
                .delete_pusher(&user_id, &body.app_id, &body.pushkey)
                .map_err(internal)?;
        }
        Some("http") => {
            let append = body.append.unwrap_or(false);
            let pusher = http_pusher(body)?;
            hs.store.set_pusher(&user_id, &pusher, append).map_err(internal)?;
            hs.pushes.notify_waiters();
        }
        Some(other) => {
            return Err(MatrixError::invalid_param(format!(
                "pushers of kind {other} are not served here; http ones are"
            )))
        }
    }
    Ok(cs::post_pusher::Response::Ok(Map::new()))
}

fn http_pusher(body: PostPusherRequest) -> Result<Pusher> {
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| MatrixError::missing_param(format!("`{name}` is required for a pusher")))
    };
    let data = body.data.unwrap_or_default();
    let url = data
        .url
        .as_deref()
        .ok_or_else(|| MatrixError::missing_param("`data.url` is required for an http pusher"))?;
    check_gateway_url(url)?;
    Ok(Pusher {
        app_display_name: required(body.app_display_name, "app_display_name")?,
        device_display_name: required(body.device_display_name, "device_display_name")?,
        lang: required(body.lang, "lang")?,
        data: serde_json::to_value(&data).map_err(internal)?,
        app_id: body.app_id,
        pushkey: body.pushkey,
        kind: "http".to_owned(),
        profile_tag: body.profile_tag,
        pushkey_ts: now_ms(),
    })
}

/// The spec: "MUST be an HTTPS URL with a path of `/_matrix/push/v1/notify`".
/// Plain HTTP is taken for a gateway on this machine (`localhost`, a
/// loopback address), as deployments run one beside the homeserver.
fn check_gateway_url(url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| MatrixError::invalid_param(format!("data.url {url}: {e}")))?;
    if parsed.path() != NOTIFY_PATH {
        return Err(MatrixError::invalid_param(format!(
            "data.url must have the path {NOTIFY_PATH}"
        )));
    }
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(MatrixError::invalid_param("data.url must be an https URL")),
    }
}

pub(in crate::api) fn list(hs: &Homeserver, credentials: Credentials) -> Result<cs::get_pushers::Response> {
    let (user_id, _) = hs.user(&credentials)?;
    let pushers = hs.store.pushers(&user_id).map_err(internal)?;
    let pushers = pushers
        .into_iter()
        .map(|p| {
            let text = |key: &str| p.data.get(key).and_then(Value::as_str).map(str::to_owned);
            let data = GetPushersResponsePushersItemData {
                url: text("url"),
                format: text("format"),
            };
            let mut pusher = matrix_api::client_server::Pusher::new(
                p.pushkey,
                p.kind,
                p.app_id,
                p.app_display_name,
                p.device_display_name,
                p.lang,
                data,
            );
            pusher.profile_tag = p.profile_tag;
            pusher
        })
        .collect();
    Ok(cs::get_pushers::Response::Ok(GetPushersResponse {
        pushers: Some(pushers),
    }))
}

#[cfg(test)]
mod tests {
    use super::check_gateway_url;

    #[test]
    fn gateway_urls_are_https_with_the_notify_path() {
        assert!(check_gateway_url("https://push.example.org/_matrix/push/v1/notify").is_ok());
        assert!(check_gateway_url("http://127.0.0.1:5000/_matrix/push/v1/notify").is_ok());
        assert!(check_gateway_url("http://localhost:5000/_matrix/push/v1/notify").is_ok());
        assert!(check_gateway_url("http://push.example.org/_matrix/push/v1/notify").is_err());
        assert!(check_gateway_url("https://push.example.org/notify").is_err());
        assert!(check_gateway_url("not a url").is_err());
    }
}
