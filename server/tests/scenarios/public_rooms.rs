//! The public room directory across servers: a client of B lists and
//! searches A's directory (`/publicRooms?server=A`), which B asks A for
//! over federation, and gets what A's own clients get.

use crate::peers::{register, Ours, User};
use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{Filter, PublicRoomsResponse, QueryPublicRoomsRequest};
use matrix_api_runtime::client::ClientError;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_lists_and_searches_another_servers_directory() {
    let dir = tempfile::tempdir().unwrap();
    let a = Ours::start(dir.path(), "a");
    let b = Ours::start(dir.path(), "b");
    let alice = register(&a.client_base, "alice").await;
    let carol = register(&a.client_base, "carol").await;
    let bob = register(&b.client_base, "bob").await;
    let lobby = alice
        .create_room(
            json!({ "preset": "public_chat", "visibility": "public", "name": "Lobby", "topic": "all welcome" }),
        )
        .await;
    carol.join(&lobby, &a.name).await;
    let quiet = alice
        .create_room(json!({ "preset": "public_chat", "visibility": "public", "name": "Quiet corner" }))
        .await;
    alice
        .create_room(json!({ "preset": "public_chat", "name": "Unlisted" }))
        .await;

    // The whole list, as A's own client sees it: largest room first. (The
    // spec asks no access token of GET /publicRooms; the client sends none.)
    let here = list(&alice, None, None).await.unwrap();
    let there = list(&bob, Some(&a.name), None).await.unwrap();
    assert_eq!(there, here, "B passes on what A answers");
    assert_eq!(rooms(&there), vec![lobby.clone(), quiet.clone()]);
    assert_eq!(there.chunk[0].name.as_deref(), Some("Lobby"));
    assert_eq!(there.chunk[0].num_joined_members, 2);
    assert_eq!(there.total_room_count_estimate, Some(2));

    // Paging through A's tokens.
    let first = list(&bob, Some(&a.name), Some(1)).await.unwrap();
    assert_eq!(rooms(&first), vec![lobby.clone()]);
    let mut next = cs::get_public_rooms::Request::new();
    next.query.server = Some(a.name.parse().unwrap());
    next.query.limit = Some(1);
    next.query.since = first.next_batch.clone();
    let cs::get_public_rooms::Response::Ok(second) = bob.client.get_public_rooms(next).await.unwrap();
    assert_eq!(rooms(&second), vec![quiet.clone()]);

    // A search, sent on to A as a filter.
    let body = QueryPublicRoomsRequest {
        filter: Some(Filter {
            generic_search_term: Some("WELCOME".to_owned()),
            room_types: None,
        }),
        ..Default::default()
    };
    let mut search = cs::query_public_rooms::Request::new(body);
    search.query.server = Some(a.name.parse().unwrap());
    let cs::query_public_rooms::Response::Ok(found) = bob.client.query_public_rooms(search).await.unwrap();
    assert_eq!(rooms(&found), vec![lobby.clone()]);

    // B's own directory is empty; a server that cannot be reached is 404.
    assert!(list(&bob, None, None).await.unwrap().chunk.is_empty());
    match list(&bob, Some("127.0.0.1:1"), None).await {
        Err(ClientError::Matrix(e)) => assert_eq!((e.status, e.errcode().as_str()), (404, "M_NOT_FOUND")),
        other => panic!("expected 404 for an unreachable server, got {other:?}"),
    }
}

async fn list(user: &User, server: Option<&str>, limit: Option<i64>) -> Result<PublicRoomsResponse, ClientError> {
    let mut request = cs::get_public_rooms::Request::new();
    request.query.server = server.map(|s| s.parse().unwrap());
    request.query.limit = limit;
    let cs::get_public_rooms::Response::Ok(rooms) = user.client.get_public_rooms(request).await?;
    Ok(rooms)
}

fn rooms(list: &PublicRoomsResponse) -> Vec<String> {
    list.chunk.iter().map(|r| r.room_id.to_string()).collect()
}
