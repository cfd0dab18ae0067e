//! matrix-rust-sdk (crates.io `matrix-sdk`, the SDK behind Element X)
//! against the homeserver: two users log in, create an encrypted room,
//! exchange messages that each of them decrypts, see each message once and
//! in order, and one of them comes back after a restart with the keys in
//! its store. Any SDK error fails the test.

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::account::register::v3::Request as RegisterRequest;
use matrix_sdk::ruma::api::client::message::get_message_events;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoomRequest, RoomPreset};
use matrix_sdk::ruma::api::client::uiaa::{AuthData, Dummy};
use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::{OriginalSyncRoomMessageEvent, RoomMessageEventContent};
use matrix_sdk::ruma::events::{EmptyStateKey, InitialStateEvent};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::{Client, Room};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one client saw: decrypted message bodies in arrival order, and
/// events it could not decrypt.
#[derive(Clone, Default)]
struct Seen {
    messages: Arc<Mutex<Vec<(String, String)>>>,
    undecryptable: Arc<Mutex<Vec<String>>>,
}

impl Seen {
    fn bodies_from(&self, sender: &str) -> Vec<String> {
        let messages = self.messages.lock().unwrap();
        messages
            .iter()
            .filter(|(s, _)| s == sender)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// A client with its SQLite store (keys included) in `store`, watching
/// one room's messages.
async fn client(homeserver: &str, store: &Path, seen: &Seen) -> anyhow::Result<Client> {
    let client = Client::builder()
        .homeserver_url(homeserver)
        .sqlite_store(store, None)
        .build()
        .await?;
    let messages = seen.messages.clone();
    client.add_event_handler(move |event: OriginalSyncRoomMessageEvent, _: Room| {
        let messages = messages.clone();
        async move {
            messages
                .lock()
                .unwrap()
                .push((event.sender.to_string(), event.content.body().to_owned()));
        }
    });
    let undecryptable = seen.undecryptable.clone();
    client.add_event_handler(move |event: OriginalSyncRoomEncryptedEvent, _: Room| {
        let undecryptable = undecryptable.clone();
        async move {
            undecryptable.lock().unwrap().push(event.event_id.to_string());
        }
    });
    Ok(client)
}

async fn register_and_login(client: &Client, name: &str) -> anyhow::Result<()> {
    let mut register = RegisterRequest::new();
    register.username = Some(name.to_owned());
    register.password = Some("correct horse".to_owned());
    register.inhibit_login = true;
    register.auth = Some(AuthData::Dummy(Dummy::new()));
    client.matrix_auth().register(register).await?;
    client
        .matrix_auth()
        .login_username(name, "correct horse")
        .initial_device_display_name(&format!("{name}'s laptop"))
        .send()
        .await?;
    Ok(())
}

async fn sync(client: &Client) -> anyhow::Result<()> {
    client
        .sync_once(SyncSettings::default().timeout(Duration::from_millis(200)))
        .await?;
    Ok(())
}

/// Syncs both clients until `done` holds, at most 30 rounds.
async fn sync_until(clients: &[&Client], done: impl Fn() -> bool) -> anyhow::Result<()> {
    for _ in 0..30 {
        for client in clients {
            sync(client).await?;
        }
        if done() {
            return Ok(());
        }
    }
    anyhow::bail!("not done after 30 sync rounds")
}

async fn room_of(client: &Client, room_id: &OwnedRoomId) -> anyhow::Result<Room> {
    client
        .get_room(room_id)
        .ok_or_else(|| anyhow::anyhow!("{} does not know room {room_id}", client.user_id().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_talk_in_an_encrypted_room_and_one_restarts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let router = server::router("sdk.test", &dir.path().join("hs.db")).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let homeserver = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(matrix_api_runtime::server::serve(listener, router));

    let (alice_seen, bob_seen) = (Seen::default(), Seen::default());
    let alice = client(&homeserver, &dir.path().join("alice"), &alice_seen).await?;
    let bob = client(&homeserver, &dir.path().join("bob"), &bob_seen).await?;
    register_and_login(&alice, "alice").await?;
    register_and_login(&bob, "bob").await?;
    let bob_id: OwnedUserId = bob.user_id().unwrap().to_owned();
    let alice_id = alice.user_id().unwrap().to_string();
    sync(&alice).await?;
    sync(&bob).await?;

    // Alice creates an encrypted room and invites Bob, who joins.
    let mut create = CreateRoomRequest::new();
    create.preset = Some(RoomPreset::PrivateChat);
    create.invite = vec![bob_id.clone()];
    create.initial_state =
        vec![
            InitialStateEvent::new(EmptyStateKey, RoomEncryptionEventContent::with_recommended_defaults()).to_raw_any(),
        ];
    let room_id = alice.create_room(create).await?.room_id().to_owned();
    sync_until(&[&alice, &bob], || bob.get_room(&room_id).is_some()).await?;
    bob.join_room_by_id(&room_id).await?;
    sync_until(&[&alice, &bob], || {
        alice.get_room(&room_id).is_some_and(|r| r.joined_members_count() == 2)
    })
    .await?;
    assert!(room_of(&alice, &room_id)
        .await?
        .latest_encryption_state()
        .await?
        .is_encrypted());

    // Three from Alice, one answer from Bob, each decrypted by the other.
    let alice_room = room_of(&alice, &room_id).await?;
    for text in ["hello 1", "hello 2", "hello 3"] {
        alice_room.send(RoomMessageEventContent::text_plain(text)).await?;
    }
    sync_until(&[&alice, &bob], || bob_seen.bodies_from(&alice_id).len() >= 3).await?;
    room_of(&bob, &room_id)
        .await?
        .send(RoomMessageEventContent::text_plain("hi alice"))
        .await?;
    sync_until(&[&alice, &bob], || !alice_seen.bodies_from(bob_id.as_str()).is_empty()).await?;
    assert_eq!(
        bob_seen.bodies_from(&alice_id),
        ["hello 1", "hello 2", "hello 3"],
        "once each, in order"
    );
    assert_eq!(alice_seen.bodies_from(bob_id.as_str()), ["hi alice"]);
    assert!(
        bob_seen.undecryptable.lock().unwrap().is_empty(),
        "Bob could not decrypt some events"
    );
    assert!(
        alice_seen.undecryptable.lock().unwrap().is_empty(),
        "Alice could not decrypt some events"
    );
    // The server only ever had ciphertext.
    let stored = alice
        .send(get_message_events::v3::Request::backward(room_id.clone()))
        .await?;
    let types: Vec<String> = stored
        .chunk
        .iter()
        .filter_map(|e| e.get_field::<String>("type").ok().flatten())
        .filter(|t| t.starts_with("m.room.message") || t == "m.room.encrypted")
        .collect();
    assert_eq!(types, ["m.room.encrypted"; 4], "what the server stored");

    // Bob's client stops; a new one on the same store and session carries on.
    let session: MatrixSession = bob.matrix_auth().session().expect("bob is logged in");
    drop(bob);
    let bob_again_seen = Seen::default();
    let bob_again = client(&homeserver, &dir.path().join("bob"), &bob_again_seen).await?;
    bob_again.restore_session(session).await?;
    sync(&bob_again).await?;
    alice_room
        .send(RoomMessageEventContent::text_plain("after your restart"))
        .await?;
    sync_until(&[&alice, &bob_again], || {
        bob_again_seen
            .bodies_from(&alice_id)
            .contains(&"after your restart".to_owned())
    })
    .await?;
    assert!(bob_again_seen.undecryptable.lock().unwrap().is_empty());
    assert_eq!(
        bob_again_seen.bodies_from(&alice_id),
        ["after your restart"],
        "nothing seen before the restart comes again"
    );
    server.abort();
    Ok(())
}
