//! The typed bot (`matrix_api_tests::bot`) against our homeserver: it
//! creates a room, bob joins and pings, the bot reads the timeline as typed
//! events and answers with a notice, which bob's bot sees.

use matrix_api::events::RoomMemberEventContentMembership as Membership;
use matrix_api_tests::bot::{register, Bot, Seen};
use matrix_api_tests::serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typed_bot_answers_a_ping() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = server::Config::new("localhost", &dir.path().join("hs.db"));
    let task = tokio::spawn(serve(listener, server::router_with(config).unwrap()));

    register(&base, "pingbot", "bot-pw").await.unwrap();
    let bob_id = register(&base, "bob", "bob-pw").await.unwrap();
    let mut bot = Bot::login(&base, "pingbot", "bot-pw").await.unwrap();
    let mut bob = Bot::login(&base, "bob", "bob-pw").await.unwrap();
    assert_eq!(bob.user_id, bob_id);

    let room = bot.create_room("Ping room", &bob_id).await.unwrap();
    bob.join(&room).await.unwrap();
    let mut bot_seen = Seen::default();
    bot.sync_once(&mut bot_seen).await.unwrap();
    bob.say(&room, "!ping").await.unwrap();

    // The bot reads the ping and answers; bob sees the answer (bounded tries).
    let mut bob_seen = Seen::default();
    for _ in 0..10 {
        bot.sync_once(&mut bot_seen).await.unwrap();
        bob.sync_once(&mut bob_seen).await.unwrap();
        if bob_seen
            .messages
            .iter()
            .any(|(from, body)| *from == bot.user_id && body == "pong")
        {
            break;
        }
    }
    task.abort();

    assert!(
        bot_seen.messages.contains(&(bob_id.clone(), "!ping".into())),
        "{bot_seen:?}"
    );
    assert!(
        bob_seen.messages.contains(&(bot.user_id.clone(), "pong".into())),
        "bob never saw the answer: {bob_seen:?}"
    );
    assert_eq!(bot_seen.room_names, ["Ping room"]);
    assert!(
        bot_seen.members.contains(&(bob_id.to_string(), Membership::Join)),
        "{bot_seen:?}"
    );
    assert!(
        bot_seen.members.contains(&(bot.user_id.to_string(), Membership::Join)),
        "{bot_seen:?}"
    );
    assert_eq!(
        bot_seen.unknown, 0,
        "every event of our server is a type the spec defines"
    );
}
