//! Wake-ups that the other processes on the same database hear too.
//!
//! Within a process a [`Signal`] is a `tokio::sync::Notify`; raising one
//! also tells the store, which passes it on to the other processes sharing
//! the database (PostgreSQL's `NOTIFY`; nothing with SQLite's one process).
//! What they tell this process arrives through [`listen`], which raises
//! the same signals here without passing them on again.

use crate::api::Homeserver;
use crate::store::{sql::EVERYTHING, Storage};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// One kind of wake-up, named as the other processes hear it.
pub struct Signal {
    local: Notify,
    name: &'static str,
    /// Whether it wakes one waiter (a sender loop, which must not miss it
    /// while busy) rather than all of them (long-polling `/sync`s).
    one: bool,
    store: Arc<dyn Storage>,
}

impl Signal {
    /// A signal that wakes every waiter.
    pub fn waking_all(name: &'static str, store: Arc<dyn Storage>) -> Signal {
        Signal {
            local: Notify::new(),
            name,
            one: false,
            store,
        }
    }

    /// A signal that wakes one waiter, or the next one to wait.
    pub fn waking_one(name: &'static str, store: Arc<dyn Storage>) -> Signal {
        Signal {
            one: true,
            ..Signal::waking_all(name, store)
        }
    }

    /// Wakes every waiter, here and in the other processes.
    pub fn notify_waiters(&self) {
        self.local.notify_waiters();
        self.store.publish(self.name);
    }

    /// Wakes one waiter (or the next to wait), here and in the other processes.
    pub fn notify_one(&self) {
        self.local.notify_one();
        self.store.publish(self.name);
    }

    pub fn notified(&self) -> Notified<'_> {
        self.local.notified()
    }

    /// Raised by another process: here only.
    fn heard(&self) {
        if self.one {
            self.local.notify_one();
        } else {
            self.local.notify_waiters();
        }
    }
}

/// Raises here what the other processes signal, for as long as the server runs.
pub async fn listen(hs: Arc<Homeserver>) {
    let Some(mut heard) = hs.store.subscribe() else {
        return;
    };
    while let Some(signal) = heard.recv().await {
        let everything = signal == EVERYTHING;
        for wake in [&hs.changes, &hs.pushes, &hs.outbound] {
            if everything || signal == wake.name {
                wake.heard();
            }
        }
        if everything {
            hs.push_cache.forget_all();
        } else if let Some(user_id) = signal.strip_prefix(RULES) {
            hs.push_cache.forget(user_id);
        } else if let Some((room_id, user_id, until)) = typing_of(&signal) {
            hs.typing.set(room_id, user_id, until);
        }
    }
}

/// The signal that a user's push rules changed: `rules <user ID>`.
pub const RULES: &str = "rules ";

/// The signal that a user types in a room for `ms` milliseconds more (or
/// stopped: 0): `typing <ms> <room ID> <user ID>` (neither ID has spaces).
const TYPING: &str = "typing ";

pub fn typing(room_id: &str, user_id: &str, until: Option<Instant>) -> String {
    let ms = until.map_or(0, |until| {
        until.saturating_duration_since(Instant::now()).as_millis().max(1)
    });
    format!("{TYPING}{ms} {room_id} {user_id}")
}

fn typing_of(signal: &str) -> Option<(&str, &str, Option<Instant>)> {
    let mut parts = signal.strip_prefix(TYPING)?.split(' ');
    let ms: u64 = parts.next()?.parse().ok()?;
    let (room_id, user_id) = (parts.next()?, parts.next()?);
    let until = (ms > 0).then(|| Instant::now() + Duration::from_millis(ms));
    Some((room_id, user_id, until))
}

/// How often a process that does not send the stored queues asks whether
/// the one that does is still alive (and one that does, whether it still does).
const CLAIM_EVERY: Duration = Duration::from_secs(5);

/// Keeps `hs.sending` true while this process is the one that sends the
/// stored queues (see `Storage::claim_senders`), waking the sender loops
/// when it becomes it.
pub async fn claim_senders(hs: Arc<Homeserver>) {
    loop {
        let sending = match hs.store.claim_senders() {
            Ok(sending) => sending,
            Err(e) => {
                tracing::warn!("claiming the sending of the stored queues: {e}");
                false
            }
        };
        if sending && !hs.sending.swap(true, Ordering::SeqCst) {
            tracing::info!("this process sends the stored queues (PDUs, pushes, application services)");
            for wake in [&hs.changes, &hs.pushes, &hs.outbound] {
                wake.heard();
            }
        } else if !sending && hs.sending.swap(false, Ordering::SeqCst) {
            tracing::warn!("this process no longer sends the stored queues");
        }
        tokio::time::sleep(CLAIM_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn typing_travels_as_one_line() {
        let until = Instant::now() + Duration::from_secs(20);
        let line = super::typing("!r:hs", "@a:hs", Some(until));
        let (room, user, heard) = super::typing_of(&line).unwrap();
        assert_eq!((room, user), ("!r:hs", "@a:hs"));
        assert!(heard.unwrap() <= until + Duration::from_millis(50));
        let stopped = super::typing("!r:hs", "@a:hs", None);
        assert_eq!(super::typing_of(&stopped).unwrap().2, None);
        assert!(super::typing_of("rules @a:hs").is_none());
    }
}
