//! Email the homeserver (validation of addresses added to accounts) and
//! the identity server (validation, invitations) send, over SMTP to the
//! relay each is configured with (`--smtp HOST:PORT`, plain: a local MTA,
//! or a test's sink on loopback).

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(relay: &str, from: &str) -> Result<Mailer, String> {
        let (host, port) = relay
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("--smtp: expected HOST:PORT, got {relay}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .build();
        let from = from.parse().map_err(|e| format!("--mail-from {from}: {e}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text message to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("the address {to}: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("composing the message: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| format!("sending mail: {e}"))
    }
}
