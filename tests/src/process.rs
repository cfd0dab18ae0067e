//! Child processes that tests start: killed and reaped when dropped, so a
//! failing test (a panic unwinds through the guard) leaves nothing running.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Guard {
    child: Child,
    what: String,
}

impl Guard {
    pub fn spawn(what: &str, command: &mut Command) -> Guard {
        let child = command.spawn().unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Guard {
            child,
            what: what.to_owned(),
        }
    }

    /// Panics if the process has exited (with its status), for waits.
    pub fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early: {status}", self.what);
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a loopback port")
}

/// Waits until `url` answers an HTTP GET with any status (or panics after
/// `limit`, or when the process exits first).
pub fn wait_for_http(guard: &mut Guard, url: &str, limit: Duration) {
    let start = Instant::now();
    let (host, path) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/').map(|(h, p)| (h.to_owned(), format!("/{p}"))))
        .expect("an http:// URL with a path");
    loop {
        guard.check_running();
        if let Ok(mut stream) = std::net::TcpStream::connect(&host) {
            use std::io::{Read, Write};
            let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1")
            {
                return;
            }
        }
        assert!(
            start.elapsed() < limit,
            "{} did not answer at {url} within {limit:?}",
            guard.what
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
