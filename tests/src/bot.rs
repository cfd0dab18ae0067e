//! A bot written as a user of the generated crate would write it: it logs
//! in, creates a room, sends, syncs, reads `m.room.message`, `m.room.member`
//! and `m.room.name` from the timeline and replies to `!ping` with a notice.
//! No JSON digging and no string matching on event types: events arrive as
//! typed enums, identifiers as identifier types, requests from constructors.

use matrix_api::client_server::endpoints as cs;
use matrix_api::client_server::{AuthData, CreateRoomRequest, LoginRequest, RegisterRequest, UserIdentifier};
use matrix_api::events::{
    AnyRoomMessageEventContent, AnySyncTimelineEvent, RoomMemberEventContentMembership, RoomMessageNoticeEventContent,
    RoomMessageTextEventContent,
};
use matrix_api::{ClientError, RoomId, UserId};

/// What the bot read from its rooms' timelines.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// (sender, body) of text messages and notices.
    pub messages: Vec<(UserId, String)>,
    /// (user, membership) of member events.
    pub members: Vec<(String, RoomMemberEventContentMembership)>,
    pub room_names: Vec<String>,
    /// Events of types the spec does not define.
    pub unknown: usize,
}

pub struct Bot {
    client: cs::Client,
    pub user_id: UserId,
    since: Option<String>,
    transactions: u64,
}

/// Registers `name` with user-interactive auth (the dummy stage).
pub async fn register(base: &str, name: &str, password: &str) -> Result<UserId, ClientError> {
    let client = cs::Client::new(base);
    let mut body = RegisterRequest {
        username: Some(name.into()),
        password: Some(password.into()),
        ..RegisterRequest::default()
    };
    let session = match client.register(cs::register::Request::new(body.clone())).await? {
        cs::register::Response::Unauthorized(auth) => auth.session,
        cs::register::Response::Ok(done) => return Ok(done.user_id),
    };
    body.auth = Some(AuthData {
        r#type: Some("m.login.dummy".into()),
        session,
        ..AuthData::default()
    });
    match client.register(cs::register::Request::new(body)).await? {
        cs::register::Response::Ok(done) => Ok(done.user_id),
        cs::register::Response::Unauthorized(auth) => Err(ClientError::Request(format!(
            "registration wants more stages: {:?}",
            auth.flows
        ))),
    }
}

impl Bot {
    pub async fn login(base: &str, user: &str, password: &str) -> Result<Bot, ClientError> {
        let client = cs::Client::new(base);
        let mut identifier = UserIdentifier::new("m.id.user".into());
        identifier.additional_properties.insert("user".into(), user.into());
        let mut login = LoginRequest::new("m.login.password".into());
        login.identifier = Some(identifier);
        login.password = Some(password.into());
        let cs::login::Response::Ok(session) = client.login(cs::login::Request::new(login)).await?;
        Ok(Bot {
            client: cs::Client(client.0.with_access_token(session.access_token)),
            user_id: session.user_id,
            since: None,
            transactions: 0,
        })
    }

    pub async fn create_room(&self, name: &str, invite: &UserId) -> Result<RoomId, ClientError> {
        let request = CreateRoomRequest {
            name: Some(name.into()),
            invite: Some(vec![invite.clone()]),
            ..CreateRoomRequest::default()
        };
        let cs::create_room::Response::Ok(created) =
            self.client.create_room(cs::create_room::Request::new(request)).await?;
        Ok(created.room_id)
    }

    pub async fn join(&self, room: &RoomId) -> Result<(), ClientError> {
        let request = cs::join_room_by_id::Request::new(room.clone(), Default::default());
        self.client.join_room_by_id(request).await.map(|_| ())
    }

    pub async fn say(&mut self, room: &RoomId, text: &str) -> Result<(), ClientError> {
        let content = AnyRoomMessageEventContent::Text(RoomMessageTextEventContent::new(text.into()));
        self.send(room, &content).await
    }

    async fn send(&mut self, room: &RoomId, content: &AnyRoomMessageEventContent) -> Result<(), ClientError> {
        self.transactions += 1;
        let txn = format!("bot-{}", self.transactions);
        let request = cs::send_message::Request::with_content(room.clone(), txn, content)
            .map_err(|e| ClientError::Request(e.to_string()))?;
        self.client.send_message(request).await.map(|_| ())
    }

    /// One sync: reads the timelines of joined rooms, answers `!ping`.
    pub async fn sync_once(&mut self, seen: &mut Seen) -> Result<(), ClientError> {
        let mut request = cs::sync::Request::new();
        request.query.since = self.since.clone();
        request.query.timeout = Some(if self.since.is_some() { 1000 } else { 0 });
        let cs::sync::Response::Ok(sync) = self.client.sync(request).await?;
        self.since = Some(sync.next_batch);
        let mut replies = Vec::new();
        for (room_id, room) in sync.rooms.into_iter().flat_map(|r| r.join.into_iter().flatten()) {
            for raw in room.timeline.into_iter().flat_map(|t| t.events) {
                let Ok(event) = raw.deserialize() else { continue };
                match event {
                    AnySyncTimelineEvent::RoomMessage(message) => {
                        let body = match &message.content {
                            AnyRoomMessageEventContent::Text(text) => text.body.clone(),
                            AnyRoomMessageEventContent::Notice(notice) => notice.body.clone(),
                            _ => continue,
                        };
                        if body == "!ping" && message.sender != self.user_id {
                            replies.push(room_id.clone());
                        }
                        seen.messages.push((message.sender, body));
                    }
                    AnySyncTimelineEvent::RoomMember(member) => {
                        seen.members.push((member.state_key, member.content.membership));
                    }
                    AnySyncTimelineEvent::RoomName(name) => seen.room_names.push(name.content.name),
                    AnySyncTimelineEvent::Custom(_) => seen.unknown += 1,
                    _ => {}
                }
            }
        }
        for room in replies {
            let pong = AnyRoomMessageEventContent::Notice(RoomMessageNoticeEventContent::new("pong".into()));
            self.send(&room, &pong).await?;
        }
        Ok(())
    }
}
