//! Email addresses on accounts, validated by the homeserver itself: a
//! token mailed to the address (an SMTP sink on loopback here), whose link
//! leads back to the homeserver; the validated address is added with the
//! user's password (user-interactive authentication), listed, refused to
//! anyone else, and deleted.

use crate::federation::start_in_process;
use crate::peers::{register, User};
use matrix_api::client_server::endpoints as cs;
use matrix_api_runtime::client::ClientError;
use matrix_api_tests::scenario::req;
use matrix_api_tests::smtp::SmtpSink;
use serde_json::{json, Value};

fn refused<T: std::fmt::Debug>(result: Result<T, ClientError>, status: u16, errcode: &str, what: &str) {
    match result {
        Err(ClientError::Matrix(e)) => assert_eq!((e.status, e.errcode().as_str()), (status, errcode), "{what}"),
        other => panic!("{what}: expected {status} {errcode}, got {other:?}"),
    }
}

async fn request_token(user: &User, secret: &str, email: &str, attempt: i64) -> Result<(String, String), ClientError> {
    let body = json!({ "client_secret": secret, "email": email, "send_attempt": attempt });
    let cs::request_token_to3_pid_email::Response::Ok(r) = user
        .client
        .request_token_to3_pid_email(req(json!({}), json!({}), body))
        .await?;
    Ok((
        r.sid,
        r.submit_url.expect("the homeserver validates, so it names where"),
    ))
}

/// `/account/3pid/add` with the password (after the challenge) or without.
async fn add(user: &User, sid: &str, secret: &str, password: Option<&str>) -> Result<Option<Value>, ClientError> {
    let mut body = json!({ "sid": sid, "client_secret": secret });
    if let Some(password) = password {
        let cs::add3_pid::Response::Unauthorized(challenge) =
            user.client.add3_pid(req(json!({}), json!({}), body.clone())).await?
        else {
            panic!("added without authentication");
        };
        body["auth"] = json!({
            "type": "m.login.password",
            "identifier": { "type": "m.id.user", "user": user.id },
            "password": password,
            "session": challenge.session,
        });
    }
    Ok(match user.client.add3_pid(req(json!({}), json!({}), body)).await? {
        cs::add3_pid::Response::Ok(_) => None,
        cs::add3_pid::Response::Unauthorized(challenge) => Some(serde_json::to_value(challenge).unwrap()),
    })
}

async fn addresses(user: &User) -> Vec<String> {
    let cs::get_account3_pi_ds::Response::Ok(list) = user
        .client
        .get_account3_pi_ds(cs::get_account3_pi_ds::Request::new())
        .await
        .unwrap();
    list.threepids
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.address)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_validated_by_mail_and_added_with_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let (base, _) = start_in_process(dir.path(), &name, federation, |config| {
        config.smtp = Some(smtp.address.to_string());
        config.rate_limit = None;
    })
    .await;
    let bob = register(&base, "bob").await;
    let eve = register(&base, "eve").await;

    let cs::get_capabilities::Response::Ok(capabilities) = bob
        .client
        .get_capabilities(cs::get_capabilities::Request::new())
        .await
        .unwrap();
    assert_eq!(capabilities.capabilities.m_3pid_changes.map(|c| c.enabled), Some(true));

    refused(
        request_token(&bob, "no spaces", "bob@example.org", 1).await,
        400,
        "M_INVALID_PARAM",
        "a bad secret",
    );
    refused(
        request_token(&bob, "s3cret", "not-an-address", 1).await,
        400,
        "M_INVALID_PARAM",
        "a bad address",
    );

    let (sid, submit_url) = request_token(&bob, "s3cret", "Bob@Example.org", 1).await.unwrap();
    let mail = smtp.wait_for("bob@example.org", "submit_token").await;
    let link = mail
        .lines()
        .find(|line| line.starts_with("http"))
        .unwrap_or_else(|| panic!("no link in {mail}"))
        .trim()
        .to_owned();
    assert!(link.starts_with(&submit_url), "{link} is not at {submit_url}");
    // Configured without a public URL, the server names itself in links;
    // here its client API is on a port of its own.
    let at_client_port = |url: &str| url.replacen(&format!("https://{name}"), &base, 1);
    let (link, submit_url) = (at_client_port(&link), at_client_port(&submit_url));
    // The same attempt again: the same session, no second mail.
    let (again, _) = request_token(&bob, "s3cret", "bob@example.org", 1).await.unwrap();
    assert_eq!(again, sid);
    assert_eq!(smtp.mail_to("bob@example.org").len(), 1);

    // Not validated yet: nothing is added, password or not.
    refused(
        add(&bob, &sid, "s3cret", Some("pw-bob")).await,
        400,
        "M_THREEPID_AUTH_FAILED",
        "an unvalidated session",
    );
    // A wrong token does not validate it.
    let http = reqwest::Client::new();
    let wrong = http
        .post(&submit_url)
        .header("content-type", "application/json")
        .body(json!({ "sid": sid, "client_secret": "s3cret", "token": "guess" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    refused(
        add(&bob, &sid, "s3cret", Some("pw-bob")).await,
        400,
        "M_THREEPID_AUTH_FAILED",
        "a wrong token",
    );

    // The link validates it.
    let opened = http.get(&link).send().await.unwrap();
    assert_eq!(opened.status(), 200, "{}", opened.text().await.unwrap());

    // A wrong secret, or a wrong password, adds nothing.
    refused(
        add(&bob, &sid, "other", Some("pw-bob")).await,
        400,
        "M_THREEPID_AUTH_FAILED",
        "another secret",
    );
    match add(&bob, &sid, "s3cret", Some("guess")).await {
        // A new challenge, the password stage not completed (the spec's
        // schema of the challenge has no `errcode`, which the server sends
        // beside it), or the refusal alone.
        Ok(Some(challenge)) => assert_eq!(challenge["completed"], json!([]), "{challenge}"),
        Err(ClientError::Matrix(e)) => assert_eq!(e.errcode().as_str(), "M_FORBIDDEN"),
        other => panic!("a wrong password: {other:?}"),
    }
    assert!(addresses(&bob).await.is_empty());

    assert_eq!(add(&bob, &sid, "s3cret", Some("pw-bob")).await.unwrap(), None);
    assert_eq!(addresses(&bob).await, vec!["bob@example.org"]);

    // The address is Bob's: nobody else gets a token for it, nor adds it
    // with Bob's validated session.
    refused(
        request_token(&eve, "evesecret", "BOB@example.org", 1).await,
        400,
        "M_THREEPID_IN_USE",
        "Bob's address",
    );
    refused(
        add(&eve, &sid, "s3cret", Some("pw-eve")).await,
        400,
        "M_THREEPID_IN_USE",
        "Bob's session",
    );
    assert!(addresses(&eve).await.is_empty());

    // Deleted: bound nowhere, so no identity server unbinds it.
    let body = json!({ "medium": "email", "address": "bob@example.org" });
    let cs::delete3pid_from_account::Response::Ok(deleted) = bob
        .client
        .delete3pid_from_account(req(json!({}), json!({}), body))
        .await
        .unwrap();
    assert_eq!(deleted.id_server_unbind_result.as_str(), "no-support");
    assert!(addresses(&bob).await.is_empty());
}

/// Without a mail relay, the server says it cannot add email addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mail_addresses_cannot_be_added() {
    let dir = tempfile::tempdir().unwrap();
    let federation = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let name = federation.local_addr().unwrap().to_string();
    let (base, _) = start_in_process(dir.path(), &name, federation, |config| config.rate_limit = None).await;
    let bob = register(&base, "bob").await;
    refused(
        request_token(&bob, "s3cret", "bob@example.org", 1).await,
        400,
        "M_THREEPID_MEDIUM_NOT_SUPPORTED",
        "no mail relay",
    );
    let cs::get_capabilities::Response::Ok(capabilities) = bob
        .client
        .get_capabilities(cs::get_capabilities::Request::new())
        .await
        .unwrap();
    assert_eq!(capabilities.capabilities.m_3pid_changes.map(|c| c.enabled), Some(false));
}
