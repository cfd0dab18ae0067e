//! Sydent, the reference identity server (PyPI `matrix-sydent`), started on
//! a free loopback port with a throwaway SQLite database, mailing through
//! the SMTP server it is given, and allowed to reach homeservers on
//! loopback without checking their certificates. Stopped when dropped.
//!
//! Sydent serves plain HTTP and expects a TLS-terminating proxy in front,
//! as its deployments have; homeservers reach identity servers over HTTPS
//! only, so a TLS front on another loopback port (a self-signed
//! certificate) forwards to it, and Sydent is named after that port.
//!
//! Its mail comes from two templates written here (Sydent's own are not in
//! the PyPI package): they say `Your validation token: <token>` and
//! `Invite token: <token>` / `Key: <ephemeral private key>`.

use crate::process::{free_port, wait_for_http, Guard};
use crate::python;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub struct Sydent {
    /// `127.0.0.1:<TLS port>`: its name, as clients give it to homeservers.
    pub name: String,
    pub log: std::path::PathBuf,
    _process: Guard,
    _dir: tempfile::TempDir,
}

const VALIDATION_TEMPLATE: &str = "Date: %(date)s\r
From: %(from)s\r
To: %(to)s\r
Message-ID: %(messageid)s\r
Subject: Validate your email address\r
Content-Type: text/plain; charset=UTF-8\r
\r
Your validation token: %(token)s\r
";

const INVITE_TEMPLATE: &str = "Date: %(date)s\r
From: %(from)s\r
To: %(to)s\r
Message-ID: %(messageid)s\r
Subject: %(subject_header_value)s\r
Content-Type: text/plain; charset=UTF-8\r
\r
%(sender_display_name)s invited you to a room on Matrix.\r
Invite token: %(token)s\r
Key: %(ephemeral_private_key)s\r
";

impl Sydent {
    pub async fn start(smtp: SocketAddr) -> Sydent {
        let venv = python::venv("sydent");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let front = tls_front(([127, 0, 0, 1], port).into()).await;
        let name = front.to_string();
        let path = |file: &str| dir.path().join(file).display().to_string();
        std::fs::create_dir_all(dir.path().join("templates/matrix-org")).unwrap();
        std::fs::write(dir.path().join("validation.eml"), VALIDATION_TEMPLATE).unwrap();
        std::fs::write(dir.path().join("invite.eml"), INVITE_TEMPLATE).unwrap();
        let config = format!(
            "[general]\nserver.name = {name}\npidfile.path = {pid}\ntemplates.path = {templates}\nip.whitelist = 127.0.0.0/8\n\n\
             [db]\ndb.file = {db}\n\n\
             [http]\nclientapi.http.bind_address = 127.0.0.1\nclientapi.http.port = {port}\nfederation.verifycerts = False\n\
             replication.https.bind_address = 127.0.0.1\ninternalapi.http.bind_address = 127.0.0.1\n\n\
             [email]\nemail.template = {validation}\nemail.invite_template = {invite}\nemail.smtphost = 127.0.0.1\n\
             email.smtpport = {smtp_port}\nemail.hostname = localhost\nemail.tlsmode = 0\nemail.from = Sydent <noreply@localhost>\n",
            pid = path("sydent.pid"),
            templates = path("templates"),
            db = path("sydent.db"),
            validation = path("validation.eml"),
            invite = path("invite.eml"),
            smtp_port = smtp.port(),
        );
        std::fs::write(dir.path().join("sydent.conf"), config).unwrap();
        let log = dir.path().join("sydent.log");
        let output = std::fs::File::create(&log).unwrap();
        let mut process = Guard::spawn(
            "Sydent",
            Command::new(venv.join("bin/python"))
                .args(["-m", "sydent.sydent"])
                .env("SYDENT_CONF", dir.path().join("sydent.conf"))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output),
        );
        let url = format!("http://127.0.0.1:{port}/_matrix/identity/v2");
        let waiting = std::thread::spawn(move || {
            wait_for_http(&mut process, &url, Duration::from_secs(90));
            process
        });
        let process = tokio::task::spawn_blocking(move || waiting.join())
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("Sydent did not start; its log: {}", log_text(&dir)));
        Sydent {
            name,
            log: dir.path().join("sydent.log"),
            _process: process,
            _dir: dir,
        }
    }

    /// What Sydent logged so far (for a failing test to show).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn log_text(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("sydent.log")).unwrap_or_default()
}

/// A TLS front on a free loopback port (a self-signed certificate for
/// 127.0.0.1) that forwards each connection to `upstream` as it is.
pub async fn tls_front(upstream: SocketAddr) -> SocketAddr {
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let certificate = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut secure) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut secure, &mut plain).await;
            });
        }
    });
    address
}
