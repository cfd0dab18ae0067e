//! Password change and devices over raw HTTP: both need the password again
//! (user-interactive authentication), and a token alone changes nothing.
//! The password case failed before: the access token was enough, and the
//! caller's own token was revoked with the others.

use crate::raw::{code, http, register, serve};
use serde_json::{json, Value};

fn body(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn login(addr: &str, password: &str, device: &str) -> (u16, Value) {
    http(
        addr,
        "POST",
        "/_matrix/client/v3/login",
        None,
        &body(json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": "alice" },
            "password": password,
            "device_id": device,
            "initial_device_display_name": format!("{device} phone"),
        })),
        "",
    )
}

fn token_of(answer: (u16, Value)) -> String {
    assert_eq!(answer.0, 200, "{}", answer.1);
    answer.1["access_token"].as_str().unwrap().to_owned()
}

fn whoami(addr: &str, token: &str) -> u16 {
    http(addr, "GET", "/_matrix/client/v3/account/whoami", Some(token), b"", "").0
}

fn password_auth(session: &Value, password: &str) -> Value {
    json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": "alice" },
        "password": password,
        "session": session,
    })
}

#[test]
fn password_change_needs_the_password_and_keeps_the_callers_session() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    register(a, "alice");
    let laptop = token_of(login(a, "pw", "LAPTOP"));
    let phone = token_of(login(a, "pw", "PHONE"));
    let change = |auth: Option<Value>, logout_devices: Option<bool>| {
        let mut request = json!({ "new_password": "new" });
        if let Some(auth) = auth {
            request["auth"] = auth;
        }
        if let Some(l) = logout_devices {
            request["logout_devices"] = json!(l);
        }
        http(
            a,
            "POST",
            "/_matrix/client/v3/account/password",
            Some(&laptop),
            &body(request),
            "",
        )
    };

    // The token alone gets the flow to follow, and changes nothing.
    let (status, challenge) = change(None, None);
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(challenge["flows"], json!([{ "stages": ["m.login.password"] }]));
    assert!(challenge["session"].is_string());
    assert_eq!(
        login(a, "new", "X").0,
        403,
        "the password changed without re-authentication"
    );

    // A wrong password is refused, with a fresh session to try again.
    let wrong = change(Some(password_auth(&challenge["session"], "guess")), None);
    assert_eq!(code(&wrong), (401, "M_FORBIDDEN"));
    assert!(wrong.1["flows"].is_array() && wrong.1["session"].is_string());
    // A session is used once: the first one is gone.
    let replayed = change(Some(password_auth(&challenge["session"], "pw")), None);
    assert_eq!(replayed.0, 401);
    assert!(
        replayed.1["errcode"].is_null(),
        "an unknown session starts over: {}",
        replayed.1
    );

    // The right password changes it and logs out the other devices only.
    let done = change(Some(password_auth(&replayed.1["session"], "pw")), None);
    assert_eq!(done.0, 200, "{}", done.1);
    assert_eq!(whoami(a, &laptop), 200, "the caller's own token stays");
    assert_eq!(whoami(a, &phone), 401, "other devices are logged out");
    assert_eq!(login(a, "pw", "Y").0, 403);
    let tablet = token_of(login(a, "new", "TABLET"));

    // logout_devices: false keeps them.
    let (_, challenge) = change(None, Some(false));
    let mut auth = password_auth(&challenge["session"], "new");
    auth["identifier"]["user"] = json!("@alice:test.local");
    assert_eq!(change(Some(auth), Some(false)).0, 200);
    assert_eq!(whoami(a, &tablet), 200);
}

#[test]
fn devices_are_listed_renamed_and_deleted_behind_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, addr) = serve(dir.path());
    let a = addr.as_str();
    register(a, "alice");
    let eve = register(a, "eve");
    let laptop = token_of(login(a, "pw", "LAPTOP"));
    let phone = token_of(login(a, "pw", "PHONE"));
    let get = |path: &str, token: &str| http(a, "GET", &format!("/_matrix/client/v3/{path}"), Some(token), b"", "");

    let (status, list) = get("devices", &laptop);
    assert_eq!(status, 200, "{list}");
    let names: Vec<(&str, &str)> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| Some((d["device_id"].as_str()?, d["display_name"].as_str()?)))
        .collect();
    assert!(
        names.contains(&("LAPTOP", "LAPTOP phone")) && names.contains(&("PHONE", "PHONE phone")),
        "{list}"
    );
    assert!(list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["last_seen_ts"].is_i64()));

    let rename = http(
        a,
        "PUT",
        "/_matrix/client/v3/devices/PHONE",
        Some(&laptop),
        &body(json!({ "display_name": "Old phone" })),
        "",
    );
    assert_eq!(rename.0, 200, "{}", rename.1);
    assert_eq!(get("devices/PHONE", &laptop).1["display_name"], "Old phone");
    assert_eq!(code(&get("devices/NOPE", &laptop)), (404, "M_NOT_FOUND"));
    // Another user's devices are not there for eve.
    assert_eq!(code(&get("devices/PHONE", &eve)), (404, "M_NOT_FOUND"));

    let delete = |auth: Option<Value>| {
        let request = auth.map_or(json!({}), |auth| json!({ "auth": auth }));
        http(
            a,
            "DELETE",
            "/_matrix/client/v3/devices/PHONE",
            Some(&laptop),
            &body(request),
            "",
        )
    };
    let (status, challenge) = delete(None);
    assert_eq!(status, 401, "{challenge}");
    assert_eq!(whoami(a, &phone), 200, "nothing deleted without the password");
    assert_eq!(
        code(&delete(Some(password_auth(&challenge["session"], "guess")))),
        (401, "M_FORBIDDEN")
    );
    let (_, challenge) = delete(None);
    assert_eq!(delete(Some(password_auth(&challenge["session"], "pw"))).0, 200);
    assert_eq!(whoami(a, &phone), 401, "a deleted device's token is gone");
    assert_eq!(code(&get("devices/PHONE", &laptop)), (404, "M_NOT_FOUND"));

    // Several at once, and logout deletes the caller's device.
    let desk = token_of(login(a, "pw", "DESK"));
    let many = |auth: Option<Value>| {
        let mut request = json!({ "devices": ["DESK", "NOT-MINE"] });
        if let Some(auth) = auth {
            request["auth"] = auth;
        }
        http(
            a,
            "POST",
            "/_matrix/client/v3/delete_devices",
            Some(&laptop),
            &body(request),
            "",
        )
    };
    let (_, challenge) = many(None);
    assert_eq!(many(Some(password_auth(&challenge["session"], "pw"))).0, 200);
    assert_eq!(whoami(a, &desk), 401);
    assert_eq!(
        http(a, "POST", "/_matrix/client/v3/logout", Some(&laptop), b"{}", "").0,
        200
    );
    let fresh = token_of(login(a, "pw", "FRESH"));
    let (_, list) = get("devices", &fresh);
    let ids: Vec<&str> = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["device_id"].as_str())
        .collect();
    assert!(!ids.contains(&"LAPTOP") && ids.contains(&"FRESH"), "{list}");
}
