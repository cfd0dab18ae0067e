//! What several homeserver processes on one PostgreSQL database share
//! besides its tables:
//!
//! - **signals**: a process's wake-ups ("something a `/sync` could return
//!   changed", "notifications to push", "a rule set changed") reach the
//!   others through `NOTIFY`/`LISTEN` on one channel, coalesced, each
//!   process ignoring its own;
//! - **the append lock**: checking an event against the room's state and
//!   appending it is one step across processes (two bans of each other
//!   cannot both pass), as the in-process mutex makes it within one;
//! - **the senders' claim**: one process at a time sends what the store
//!   queues for others (PDUs, pushes, application-service transactions);
//!   another takes over when it dies, because PostgreSQL frees a dead
//!   session's lock.

use super::conn::{params, Conn, DbResult};
use super::postgres::{Connector, PgConn};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel every process listens on.
const CHANNEL: &str = "matrix";
/// The advisory lock of appends (see the module's documentation).
const APPEND_LOCK: i64 = 0x6d61_7472_6961;
/// The advisory lock the sending process holds for as long as it lives.
const SENDERS_LOCK: i64 = 0x6d61_7472_6973;
/// PostgreSQL's limit on a notification's payload is 8000 bytes.
const PAYLOAD: usize = 7000;
/// Heard by the others after a listener reconnects: anything may have
/// changed meanwhile.
pub const EVERYTHING: &str = "everything";

pub(super) struct Processes {
    /// This process's mark on what it sends, so it can ignore its own.
    token: String,
    url: String,
    driver: tokio::runtime::Handle,
    publish: UnboundedSender<String>,
    /// The connection of the senders' claim, and whether it holds it.
    senders: Mutex<Option<(PgConn, bool)>>,
}

impl Processes {
    pub(super) fn start(url: &str, driver: tokio::runtime::Handle) -> Processes {
        let token = format!("{:016x}", rand::random::<u64>());
        let (publish, queued) = unbounded_channel();
        driver.spawn(publish_loop(url.to_owned(), token.clone(), queued));
        Processes {
            token,
            url: url.to_owned(),
            driver,
            publish,
            senders: Mutex::new(None),
        }
    }

    /// Tells the other processes `signal` (one line), without waiting.
    pub(super) fn publish(&self, signal: &str) {
        let _ = self.publish.send(signal.to_owned());
    }

    /// The signals of the other processes, for as long as the receiver lives.
    pub(super) fn subscribe(&self) -> UnboundedReceiver<String> {
        let (heard, signals) = unbounded_channel();
        self.driver
            .spawn(listen_loop(self.url.clone(), self.token.clone(), heard));
        signals
    }

    /// Whether this process sends the stored queues: it holds the claim, or
    /// takes it now if no live process holds it. The claim lives with one
    /// connection of its own, which also serves the next attempts.
    pub(super) fn claim_senders(&self, connector: &Connector) -> DbResult<bool> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        match senders.as_ref() {
            Some((conn, holds)) if !conn.is_closed() => {
                if *holds {
                    return Ok(true);
                }
            }
            // None yet, or a lost connection, which lost the claim with it.
            _ => *senders = Some((r2d2::ManageConnection::connect(connector)?, false)),
        }
        let Some((conn, holds)) = senders.as_mut() else {
            return Ok(false);
        };
        *holds = Conn::Postgres(conn).row("SELECT pg_try_advisory_lock(?1)", params![SENDERS_LOCK], |r| r.get(0))?;
        Ok(*holds)
    }
}

/// Holds the append lock on one pooled connection; released when dropped.
pub(super) struct AppendLock(r2d2::PooledConnection<Connector>);

impl AppendLock {
    pub(super) fn take(conn: r2d2::PooledConnection<Connector>) -> DbResult<AppendLock> {
        Conn::Postgres(&conn).run("SELECT pg_advisory_lock(?1)", params![APPEND_LOCK])?;
        Ok(AppendLock(conn))
    }
}

impl Drop for AppendLock {
    fn drop(&mut self) {
        // If this fails the connection is broken, and its end frees the lock.
        let _ = Conn::Postgres(&self.0).run("SELECT pg_advisory_unlock(?1)", params![APPEND_LOCK]);
    }
}

/// Sends what is queued, as few notifications as it fits in, on a
/// connection of its own (made again after a failure).
async fn publish_loop(url: String, token: String, mut queued: UnboundedReceiver<String>) {
    let mut client: Option<tokio_postgres::Client> = None;
    while let Some(first) = queued.recv().await {
        let mut signals = BTreeSet::from([first]);
        while let Ok(more) = queued.try_recv() {
            signals.insert(more);
        }
        for payload in payloads(&token, &signals) {
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                client = connect(&url).await;
            }
            let Some(c) = &client else {
                tracing::warn!("PostgreSQL: no connection to tell the other processes of a change");
                break;
            };
            if let Err(e) = c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload]).await {
                tracing::warn!("PostgreSQL: telling the other processes of a change: {e}");
                client = None;
            }
        }
    }
}

/// `token` and the signals, one per line, in payloads PostgreSQL takes.
fn payloads(token: &str, signals: &BTreeSet<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for signal in signals {
        match out.last_mut() {
            Some(payload) if payload.len() + 1 + signal.len() <= PAYLOAD => {
                payload.push('\n');
                payload.push_str(signal);
            }
            _ => out.push(format!("{token}\n{signal}")),
        }
    }
    out
}

async fn connect(url: &str) -> Option<tokio_postgres::Client> {
    match tokio_postgres::connect(url, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Some(client)
        }
        Err(e) => {
            tracing::warn!("PostgreSQL: connecting for signals: {e}");
            None
        }
    }
}

/// Listens on its own connection and hands on the other processes'
/// signals; after a reconnection, [`EVERYTHING`] (what was missed meanwhile
/// is unknown). Ends when the receiver is dropped.
async fn listen_loop(url: String, token: String, heard: UnboundedSender<String>) {
    let mut first = true;
    while !heard.is_closed() {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
            let (payloads, mut arrived) = unbounded_channel::<String>();
            let reading = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            if payloads.send(n.payload().to_owned()).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            });
            if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
                if !first && heard.send(EVERYTHING.to_owned()).is_err() {
                    return;
                }
                first = false;
                while let Some(payload) = arrived.recv().await {
                    let mut lines = payload.lines();
                    if lines.next() == Some(token.as_str()) {
                        continue;
                    }
                    for signal in lines {
                        if heard.send(signal.to_owned()).is_err() {
                            return;
                        }
                    }
                }
            }
            reading.abort();
        }
        tracing::warn!("PostgreSQL: listening for the other processes' changes failed; again in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals_are_packed_into_payloads_postgres_takes() {
        let signals = (0..3000).map(|n| format!("rules @user{n}:example.org")).collect();
        let payloads = super::payloads("t", &signals);
        assert!(payloads.len() > 1);
        assert!(payloads
            .iter()
            .all(|p| p.len() <= super::PAYLOAD && p.starts_with("t\n")));
        let lines: usize = payloads.iter().map(|p| p.lines().count() - 1).sum();
        assert_eq!(lines, 3000);
    }
}
