"""A scripted session of matrix-nio, a real Matrix client, against a homeserver.

Usage: python nio_session.py BASE_URL

Two users register and log in; alice creates a room and invites bob; bob
joins; both send messages; each must see the other's messages exactly once
and in order via sync; bob paginates history with /messages; alice uploads a
file and bob downloads identical bytes; alice sets a topic and bob sees it;
profile, typing, read markers, redaction and member lists are used on the
way; logout invalidates the token. Any error response, or any response nio
could not parse, fails the session (exit status 1). The last line printed is
a JSON summary.
"""

import asyncio
import io
import json
import sys

import nio

BASE = sys.argv[1]
steps = []


def expect(response, kind, what):
    """The response must be the success type `kind`; otherwise fail loudly."""
    if not isinstance(response, kind):
        raise SystemExit(f"FAILED at {what}: expected {kind.__name__}, got {type(response).__name__}: {response}")
    steps.append(what)
    return response


async def sync_until(client, done, what, rounds=20):
    """Incremental syncs (long-polling) until `done(client)` holds."""
    for _ in range(rounds):
        expect(await client.sync(timeout=2000), nio.SyncResponse, f"{what}: sync")
        if done(client):
            return
    raise SystemExit(f"FAILED at {what}: not seen after {rounds} syncs")


async def main():
    # Register both users, then log in with their passwords on fresh clients.
    for name in ("alice", "bob"):
        c = nio.AsyncClient(BASE, name)
        expect(await c.register(name, f"{name}-password"), nio.RegisterResponse, f"register {name}")
        await c.close()
    alice = nio.AsyncClient(BASE, "alice")
    bob = nio.AsyncClient(BASE, "bob")
    expect(await alice.login("alice-password"), nio.LoginResponse, "alice logs in")
    expect(await bob.login("bob-password"), nio.LoginResponse, "bob logs in")
    expect(await alice.whoami(), nio.WhoamiResponse, "whoami")
    expect(await alice.set_displayname("Alice A."), nio.ProfileSetDisplayNameResponse, "set display name")
    profile = expect(await bob.get_profile(alice.user_id), nio.ProfileGetResponse, "bob reads alice's profile")
    assert profile.displayname == "Alice A.", profile

    # Events each client saw, in order, via sync callbacks.
    seen = {"alice": [], "bob": []}
    for name, client in (("alice", alice), ("bob", bob)):
        client.add_event_callback(
            lambda room, event, name=name: seen[name].append((event.sender, event.body)), nio.RoomMessageText
        )
    expect(await alice.sync(timeout=0, full_state=True), nio.SyncResponse, "alice initial sync")
    expect(await bob.sync(timeout=0, full_state=True), nio.SyncResponse, "bob initial sync")

    created = expect(
        await alice.room_create(name="nio test room", topic="first topic", invite=[bob.user_id]),
        nio.RoomCreateResponse,
        "alice creates a room inviting bob",
    )
    room = created.room_id
    await sync_until(bob, lambda c: room in c.invited_rooms, "bob sees the invite")
    expect(await bob.join(room), nio.JoinResponse, "bob joins")
    await sync_until(alice, lambda c: room in c.rooms and bob.user_id in c.rooms[room].users, "alice sees bob join")

    sent, sent_ids = [], []
    for i in range(5):
        for client in (alice, bob):
            body = f"{client.user_id} says {i}"
            response = expect(
                await client.room_send(room, "m.room.message", {"msgtype": "m.text", "body": body}),
                nio.RoomSendResponse,
                f"send {i}",
            )
            sent.append((client.user_id, body))
            sent_ids.append(response.event_id)
    await sync_until(alice, lambda c: len(seen["alice"]) >= len(sent), "alice receives")
    await sync_until(bob, lambda c: len(seen["bob"]) >= len(sent), "bob receives")
    for name in ("alice", "bob"):
        if seen[name] != sent:
            raise SystemExit(f"FAILED: {name} saw {seen[name]}, expected {sent} (each once, in order)")
    steps.append("each saw every message exactly once, in order")

    # Bob pages back through the history, three at a time.
    history, token = [], bob.next_batch
    for _ in range(20):
        page = expect(
            await bob.room_messages(room, start=token, limit=3, direction=nio.MessageDirection.back),
            nio.RoomMessagesResponse,
            "bob paginates /messages",
        )
        history += [(e.sender, e.body) for e in page.chunk if isinstance(e, nio.RoomMessageText)]
        if not page.end or not page.chunk:
            break
        token = page.end
    if list(reversed(history)) != sent:
        raise SystemExit(f"FAILED: /messages gave {list(reversed(history))}, expected {sent}")
    steps.append("history via /messages matches")

    # A file: alice uploads, bob downloads the same bytes and content type.
    data = bytes(range(256)) * 64
    uploaded, _ = await alice.upload(
        io.BytesIO(data), content_type="application/x-nio-test", filename="blob.bin", filesize=len(data)
    )
    uploaded = expect(uploaded, nio.UploadResponse, "alice uploads a file")
    expect(
        await alice.room_send(
            room,
            "m.room.message",
            {"msgtype": "m.file", "body": "blob.bin", "url": uploaded.content_uri},
        ),
        nio.RoomSendResponse,
        "alice shares the file",
    )
    downloaded = expect(await bob.download(mxc=uploaded.content_uri), nio.DownloadResponse, "bob downloads")
    if downloaded.body != data or downloaded.content_type != "application/x-nio-test":
        raise SystemExit(
            f"FAILED: download gave {len(downloaded.body)} bytes of {downloaded.content_type}, "
            f"expected {len(data)} of application/x-nio-test"
        )
    steps.append("downloaded bytes identical")

    # State: alice changes the topic, bob's sync shows it.
    expect(
        await alice.room_put_state(room, "m.room.topic", {"topic": "second topic"}),
        nio.RoomPutStateResponse,
        "alice sets the topic",
    )
    await sync_until(bob, lambda c: c.rooms[room].topic == "second topic", "bob sees the new topic")
    state = expect(
        await bob.room_get_state_event(room, "m.room.topic"), nio.RoomGetStateEventResponse, "get topic"
    )
    assert state.content["topic"] == "second topic", state

    # Typing, read markers, members, redaction.
    expect(await bob.room_typing(room, True, timeout=10000), nio.RoomTypingResponse, "bob types")
    await sync_until(alice, lambda c: bob.user_id in c.rooms[room].typing_users, "alice sees bob typing")
    expect(
        await bob.room_read_markers(room, fully_read_event=sent_ids[-1], read_event=sent_ids[-1]),
        nio.RoomReadMarkersResponse,
        "bob sets read markers",
    )
    members = expect(await alice.joined_members(room), nio.JoinedMembersResponse, "joined members")
    assert sorted(m.user_id for m in members.members) == sorted([alice.user_id, bob.user_id]), members
    context = expect(
        await alice.room_context(room, sent_ids[4], limit=4), nio.RoomContextResponse, "context"
    )
    assert context.events_before or context.events_after, context
    expect(await alice.room_redact(room, sent_ids[0], reason="oops"), nio.RoomRedactResponse, "redact")

    # Logout invalidates the token.
    token = alice.access_token
    expect(await alice.logout(), nio.LogoutResponse, "alice logs out")
    stale = nio.AsyncClient(BASE, alice.user_id)
    stale.access_token = token
    stale.user_id = alice.user_id
    answer = await stale.whoami()
    if not isinstance(answer, nio.WhoamiError) or answer.status_code != "M_UNKNOWN_TOKEN":
        raise SystemExit(f"FAILED: the logged-out token still works or fails oddly: {answer}")
    steps.append("logged-out token rejected with M_UNKNOWN_TOKEN")
    for c in (alice, bob, stale):
        await c.close()
    print(json.dumps({"ok": True, "steps": len(steps), "messages": len(sent), "history": len(history)}))


if __name__ == "__main__":
    asyncio.run(main())
