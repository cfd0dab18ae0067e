//! Each database's schema, as migrations run in order (a database records
//! how many it ran). The two lists are kept side by side: a change to the
//! schema is a new entry at the end of both, and the store's statements
//! read and write both schemas alike.
//!
//! PostgreSQL's first entry is the whole schema that SQLite's first
//! migrations built up, with PostgreSQL's types: `BIGINT` for every integer
//! (SQLite's are 64-bit), `BOOLEAN` for flags, identity columns for
//! SQLite's `AUTOINCREMENT`.

/// SQLite's migrations, run by `PRAGMA user_version`.
pub(super) const SQLITE: &[&str] = &[
    "CREATE TABLE users (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
     CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL);
     CREATE TABLE rooms (room_id TEXT PRIMARY KEY, creator TEXT NOT NULL, version TEXT NOT NULL);
     CREATE TABLE events (
         stream INTEGER PRIMARY KEY AUTOINCREMENT,
         event_id TEXT NOT NULL UNIQUE,
         room_id TEXT NOT NULL,
         sender TEXT NOT NULL,
         type TEXT NOT NULL,
         state_key TEXT,
         content TEXT NOT NULL,
         origin_server_ts INTEGER NOT NULL,
         txn_key TEXT UNIQUE
     );
     CREATE INDEX events_room ON events (room_id, stream);
     CREATE TABLE room_state (
         room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, stream INTEGER NOT NULL,
         PRIMARY KEY (room_id, type, state_key)
     );",
    "ALTER TABLE events ADD COLUMN redacted_because TEXT;
     CREATE INDEX room_state_by_key ON room_state (type, state_key);
     CREATE TABLE profile (user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user_id, key));
     CREATE TABLE forgotten (user_id TEXT NOT NULL, room_id TEXT NOT NULL, PRIMARY KEY (user_id, room_id));
     CREATE TABLE side_stream (pos INTEGER PRIMARY KEY AUTOINCREMENT);
     CREATE TABLE account_data (
         user_id TEXT NOT NULL, room_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL, pos INTEGER NOT NULL,
         PRIMARY KEY (user_id, room_id, type)
     );
     CREATE TABLE receipts (
         room_id TEXT NOT NULL, user_id TEXT NOT NULL, type TEXT NOT NULL, thread_id TEXT NOT NULL,
         event_id TEXT NOT NULL, ts INTEGER NOT NULL, pos INTEGER NOT NULL,
         PRIMARY KEY (room_id, user_id, type, thread_id)
     );
     CREATE TABLE filters (filter_id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, definition TEXT NOT NULL);
     CREATE TABLE aliases (alias TEXT PRIMARY KEY, room_id TEXT NOT NULL, creator TEXT NOT NULL);
     CREATE TABLE published (room_id TEXT PRIMARY KEY);
     CREATE TABLE media (
         media_id TEXT PRIMARY KEY, uploader TEXT NOT NULL, content_type TEXT, filename TEXT, size INTEGER NOT NULL
     );",
    "CREATE TABLE devices (
         user_id TEXT NOT NULL, device_id TEXT NOT NULL, display_name TEXT, last_seen_ts INTEGER,
         PRIMARY KEY (user_id, device_id)
     );
     INSERT INTO devices (user_id, device_id) SELECT DISTINCT user_id, device_id FROM tokens;
     CREATE INDEX tokens_by_device ON tokens (user_id, device_id);
     CREATE TABLE notifications (
         user_id TEXT NOT NULL, stream INTEGER NOT NULL, room_id TEXT NOT NULL, event_id TEXT NOT NULL,
         actions TEXT NOT NULL, highlight INTEGER NOT NULL, ts INTEGER NOT NULL,
         PRIMARY KEY (user_id, stream)
     );
     CREATE INDEX notifications_by_room ON notifications (user_id, room_id, stream);",
    super::keys::MIGRATION,
    "CREATE TABLE presence (
         user_id TEXT PRIMARY KEY, state TEXT NOT NULL, status_msg TEXT, last_active_ts INTEGER NOT NULL,
         pos INTEGER NOT NULL
     );
     CREATE INDEX presence_by_pos ON presence (pos);",
    // Events as PDUs: depth, the signed PDU, and each room's forward
    // extremities. Events stored before have no PDU; their depth is their
    // place in the room, and each room's last event is its extremity.
    "ALTER TABLE events ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE events ADD COLUMN pdu TEXT;
     UPDATE events SET depth = placed.n FROM
         (SELECT stream, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY stream) AS n FROM events) AS placed
         WHERE placed.stream = events.stream;
     CREATE TABLE forward_extremities (
         room_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (room_id, event_id)
     );
     INSERT INTO forward_extremities (room_id, event_id)
         SELECT room_id, event_id FROM events WHERE stream IN (SELECT MAX(stream) FROM events GROUP BY room_id);",
    // PDUs waiting for other servers, queued with the event itself.
    "CREATE TABLE outbound_pdus (
         id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT NOT NULL, pdu TEXT NOT NULL
     );
     CREATE INDEX outbound_by_destination ON outbound_pdus (destination, id);",
    // Other servers' verify keys, so that a restart need not fetch them again.
    "CREATE TABLE server_keys (
         server_name TEXT NOT NULL, key_id TEXT NOT NULL, key TEXT NOT NULL, valid_until_ts INTEGER NOT NULL,
         PRIMARY KEY (server_name, key_id)
     );",
    // Other servers' key answers as they signed them, for notary queries.
    "CREATE TABLE server_key_answers (
         server_name TEXT PRIMARY KEY, answer TEXT NOT NULL, valid_until_ts INTEGER NOT NULL
     );",
    // The state after each event, and events kept out of the timeline.
    super::state::MIGRATION,
    // EDUs that must not be lost (to-device messages) wait in the same
    // queue as PDUs, in order with them.
    "ALTER TABLE outbound_pdus ADD COLUMN edu INTEGER NOT NULL DEFAULT 0;",
    // OpenID tokens: a user's proof of identity for identity servers and
    // other services, which they check with `/openid/userinfo`.
    "CREATE TABLE openid_tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_ts INTEGER NOT NULL);",
    // Addresses on accounts, the sessions that validate them, and the
    // identity servers they were bound at.
    super::threepids::SESSIONS_TABLE,
    super::threepids::MIGRATION,
    // Pushers, and how far each delivered its user's notifications.
    super::pushers::MIGRATION,
    // How far each application service has been sent, and its transaction in flight.
    super::appservices::MIGRATION,
    // Ephemeral data (receipts, presence) for the services that ask for it.
    super::appservices::EPHEMERAL_MIGRATION,
    // User-interactive authentication sessions, stored (not in one process's memory).
    UIA_SESSIONS,
];

/// Both databases' table of user-interactive authentication sessions.
const UIA_SESSIONS: &str = "CREATE TABLE uia_sessions (
    session TEXT PRIMARY KEY, user_id TEXT NOT NULL, operation TEXT NOT NULL, issued_ts BIGINT NOT NULL
);";

/// PostgreSQL's migrations, run by the `schema_version` table.
pub(super) const POSTGRES: &[&str] = &["
    CREATE TABLE users (user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
    CREATE TABLE tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL);
    CREATE INDEX tokens_by_device ON tokens (user_id, device_id);
    CREATE TABLE devices (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, display_name TEXT, last_seen_ts BIGINT,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE openid_tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_ts BIGINT NOT NULL);
    CREATE TABLE profile (user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user_id, key));

    CREATE TABLE rooms (room_id TEXT PRIMARY KEY, creator TEXT NOT NULL, version TEXT NOT NULL, state_group BIGINT);
    CREATE TABLE events (
        stream BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        room_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        type TEXT NOT NULL,
        state_key TEXT,
        content TEXT NOT NULL,
        origin_server_ts BIGINT NOT NULL,
        txn_key TEXT UNIQUE,
        redacted_because TEXT,
        depth BIGINT NOT NULL DEFAULT 0,
        pdu TEXT,
        state_group BIGINT,
        soft_failed BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX events_room ON events (room_id, stream);
    CREATE TABLE room_state (
        room_id TEXT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, stream BIGINT NOT NULL,
        PRIMARY KEY (room_id, type, state_key)
    );
    CREATE INDEX room_state_by_key ON room_state (type, state_key);
    CREATE TABLE forward_extremities (room_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (room_id, event_id));
    CREATE TABLE state_groups (
        group_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, prev_group BIGINT, hops BIGINT NOT NULL
    );
    CREATE TABLE state_group_entries (
        group_id BIGINT NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, event_id TEXT NOT NULL,
        PRIMARY KEY (group_id, type, state_key)
    );
    CREATE TABLE forgotten (user_id TEXT NOT NULL, room_id TEXT NOT NULL, PRIMARY KEY (user_id, room_id));
    CREATE TABLE notifications (
        user_id TEXT NOT NULL, stream BIGINT NOT NULL, room_id TEXT NOT NULL, event_id TEXT NOT NULL,
        actions TEXT NOT NULL, highlight BOOLEAN NOT NULL, ts BIGINT NOT NULL,
        PRIMARY KEY (user_id, stream)
    );
    CREATE INDEX notifications_by_room ON notifications (user_id, room_id, stream);
    CREATE TABLE outbound_pdus (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, destination TEXT NOT NULL, pdu TEXT NOT NULL,
        edu BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX outbound_by_destination ON outbound_pdus (destination, id);

    CREATE TABLE side_stream (pos BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);
    CREATE TABLE account_data (
        user_id TEXT NOT NULL, room_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL, pos BIGINT NOT NULL,
        PRIMARY KEY (user_id, room_id, type)
    );
    CREATE TABLE receipts (
        room_id TEXT NOT NULL, user_id TEXT NOT NULL, type TEXT NOT NULL, thread_id TEXT NOT NULL,
        event_id TEXT NOT NULL, ts BIGINT NOT NULL, pos BIGINT NOT NULL,
        PRIMARY KEY (room_id, user_id, type, thread_id)
    );
    CREATE TABLE presence (
        user_id TEXT PRIMARY KEY, state TEXT NOT NULL, status_msg TEXT, last_active_ts BIGINT NOT NULL,
        pos BIGINT NOT NULL
    );
    CREATE INDEX presence_by_pos ON presence (pos);

    CREATE TABLE filters (
        filter_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL, definition TEXT NOT NULL
    );
    CREATE TABLE aliases (alias TEXT PRIMARY KEY, room_id TEXT NOT NULL, creator TEXT NOT NULL);
    CREATE TABLE published (room_id TEXT PRIMARY KEY);
    CREATE TABLE media (
        media_id TEXT PRIMARY KEY, uploader TEXT NOT NULL, content_type TEXT, filename TEXT, size BIGINT NOT NULL
    );

    CREATE TABLE server_keys (
        server_name TEXT NOT NULL, key_id TEXT NOT NULL, key TEXT NOT NULL, valid_until_ts BIGINT NOT NULL,
        PRIMARY KEY (server_name, key_id)
    );
    CREATE TABLE server_key_answers (server_name TEXT PRIMARY KEY, answer TEXT NOT NULL, valid_until_ts BIGINT NOT NULL);

    CREATE TABLE device_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, keys TEXT NOT NULL, PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE one_time_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, key_id TEXT NOT NULL, algorithm TEXT NOT NULL,
        key TEXT NOT NULL, PRIMARY KEY (user_id, device_id, key_id)
    );
    CREATE TABLE fallback_keys (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL,
        key TEXT NOT NULL, used BOOLEAN NOT NULL, PRIMARY KEY (user_id, device_id, algorithm)
    );
    CREATE TABLE cross_signing_keys (
        user_id TEXT NOT NULL, key_type TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (user_id, key_type)
    );
    CREATE TABLE device_list_changes (user_id TEXT PRIMARY KEY, pos BIGINT NOT NULL);
    CREATE INDEX device_list_changes_by_pos ON device_list_changes (pos);
    CREATE TABLE to_device (
        pos BIGINT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, sender TEXT NOT NULL,
        type TEXT NOT NULL, content TEXT NOT NULL
    );
    CREATE INDEX to_device_by_device ON to_device (user_id, device_id, pos);
    CREATE TABLE to_device_txns (
        sender TEXT NOT NULL, sender_device TEXT NOT NULL, txn_id TEXT NOT NULL,
        PRIMARY KEY (sender, sender_device, txn_id)
    );
    CREATE TABLE backup_versions (
        version BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL, algorithm TEXT NOT NULL,
        auth_data TEXT NOT NULL, etag BIGINT NOT NULL, deleted BOOLEAN NOT NULL
    );
    CREATE TABLE backup_keys (
        version BIGINT NOT NULL, room_id TEXT NOT NULL, session_id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (version, room_id, session_id)
    );

    CREATE TABLE threepid_sessions (
        sid TEXT PRIMARY KEY, client_secret TEXT NOT NULL, medium TEXT NOT NULL, address TEXT NOT NULL,
        token TEXT NOT NULL, send_attempt BIGINT NOT NULL, created_ts BIGINT NOT NULL, validated_ts BIGINT,
        UNIQUE (client_secret, medium, address)
    );
    CREATE TABLE user_threepids (
        medium TEXT NOT NULL, address TEXT NOT NULL, user_id TEXT NOT NULL, validated_at BIGINT NOT NULL,
        added_at BIGINT NOT NULL, PRIMARY KEY (medium, address)
    );
    CREATE INDEX user_threepids_by_user ON user_threepids (user_id);
    CREATE TABLE user_threepid_bindings (
        user_id TEXT NOT NULL, medium TEXT NOT NULL, address TEXT NOT NULL, id_server TEXT NOT NULL,
        PRIMARY KEY (user_id, medium, address, id_server)
    );

    CREATE TABLE pushers (
        user_id TEXT NOT NULL, app_id TEXT NOT NULL, pushkey TEXT NOT NULL, kind TEXT NOT NULL,
        app_display_name TEXT NOT NULL, device_display_name TEXT NOT NULL, profile_tag TEXT, lang TEXT NOT NULL,
        data TEXT NOT NULL, pushkey_ts BIGINT NOT NULL, delivered_stream BIGINT NOT NULL,
        PRIMARY KEY (user_id, app_id, pushkey)
    );
    CREATE INDEX pushers_by_key ON pushers (app_id, pushkey);
    CREATE TABLE appservice_state (
        id TEXT PRIMARY KEY, sent_stream BIGINT NOT NULL, transactions BIGINT NOT NULL,
        pending_txn TEXT, pending_upto BIGINT, pending_events TEXT,
        sent_side BIGINT NOT NULL DEFAULT 0, pending_side BIGINT, pending_ephemeral TEXT
    );
",
    // PostgreSQL only: the row a flush writes (see `PgDb::wait_durable`).
    "CREATE TABLE flushes (n BIGINT NOT NULL); INSERT INTO flushes (n) VALUES (0);",
    UIA_SESSIONS,
];
