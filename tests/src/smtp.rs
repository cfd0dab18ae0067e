//! An SMTP sink on loopback for tests: it accepts every message (plain
//! SMTP, as a local relay would) and keeps it, so a test reads the mail a
//! server sent (an identity server's validation token, an invitation).

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message as received: the recipients and the data (headers and body,
/// the body decoded when it was sent quoted-printable, so that a test
/// reads links and tokens as the recipient would).
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: Vec<String>,
    pub data: String,
}

/// A running sink; its messages in the order they arrived.
pub struct SmtpSink {
    pub address: std::net::SocketAddr,
    pub received: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let keep = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let keep = keep.clone();
                tokio::spawn(async move {
                    let _ = session(stream, keep).await;
                });
            }
        });
        SmtpSink { address, received }
    }

    /// The messages to `address` so far.
    pub fn mail_to(&self, address: &str) -> Vec<Mail> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|m| m.to.iter().any(|t| t.contains(address)))
            .cloned()
            .collect()
    }

    /// Waits (10 s at most) until a message to `address` holds `marker`,
    /// and gives its data.
    pub async fn wait_for(&self, address: &str, marker: &str) -> String {
        for _ in 0..100 {
            if let Some(mail) = self
                .mail_to(address)
                .into_iter()
                .rev()
                .find(|m| m.data.contains(marker))
            {
                return mail.data;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "no mail to {address} with {marker:?}: {:?}",
            self.received.lock().unwrap()
        );
    }
}

async fn session(stream: tokio::net::TcpStream, keep: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut to = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250 sink\r\n"
        } else if command.starts_with("RCPT TO:") {
            to.push(line.trim_end()[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                let mut part = String::new();
                if lines.read_line(&mut part).await? == 0 {
                    return Ok(());
                }
                if part == ".\r\n" || part == ".\n" {
                    break;
                }
                data.push_str(&part);
            }
            keep.lock().unwrap().push(Mail {
                to: std::mem::take(&mut to),
                data: decoded(data),
            });
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// The message with its body decoded from quoted-printable, if the
/// headers say it is.
fn decoded(data: String) -> String {
    let Some((headers, body)) = data.split_once("\r\n\r\n") else {
        return data;
    };
    let quoted = headers
        .lines()
        .any(|h| h.eq_ignore_ascii_case("content-transfer-encoding: quoted-printable"));
    if !quoted {
        return data;
    }
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    format!("{headers}\r\n\r\n{}", String::from_utf8_lossy(&out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_printable_bodies_are_decoded() {
        let mail = "Content-Transfer-Encoding: quoted-printable\r\n\r\nhttps://x/submit_t=\r\noken?token=3Dabc&sid=3D=\r\n1\r\n";
        assert_eq!(
            super::decoded(mail.to_owned()),
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nhttps://x/submit_token?token=abc&sid=1\r\n"
        );
        let plain = "Subject: a\r\n\r\n=3D stays\r\n";
        assert_eq!(super::decoded(plain.to_owned()), plain);
    }
}
