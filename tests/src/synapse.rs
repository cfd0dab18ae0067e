//! Synapse, the reference homeserver (PyPI `matrix-synapse`), started on a
//! free loopback port with a throwaway SQLite database, open registration
//! and rate limits raised for tests. Stopped when the handle is dropped.
//!
//! Alone it does not federate. [`Synapse::start_federating`] gives it a
//! federation listener over TLS on a second loopback port, named after
//! that port (`127.0.0.1:<port>`, a server name other servers reach
//! directly), accepting other servers' self-signed certificates and
//! allowed to reach loopback addresses, which it refuses by default.

use crate::process::{free_port, wait_for_http, Guard};
use crate::python;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Synapse {
    pub base_url: String,
    /// `localhost`, or `127.0.0.1:<federation port>` when federating.
    pub server_name: String,
    /// `None` only between [`Synapse::kill`] and [`Synapse::restart`].
    process: Option<Guard>,
    python: std::path::PathBuf,
    config_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Rate limits far above what a test does, for every limiter Synapse has.
const RATE_LIMITS: &[&str] = &[
    "rc_message",
    "rc_registration",
    "rc_joins",
    "rc_joins_per_room",
    "rc_invites",
    "rc_3pid_validation",
    "rc_admin_redaction",
    "rc_media_create",
    "rc_presence",
    "rc_delayed_event_mgmt",
    "rc_reports",
    "rc_room_creation",
];

/// The federation listener: its port and its certificate (PEM files).
struct FederationTls {
    port: u16,
    certificate: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl FederationTls {
    /// A free port and a self-signed certificate for it, in `dir`.
    fn self_signed(dir: &Path) -> FederationTls {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a self-signed certificate");
        let tls = FederationTls {
            port: free_port(),
            certificate: dir.join("federation.tls.crt"),
            key: dir.join("federation.tls.key"),
        };
        std::fs::write(&tls.certificate, made.cert.pem()).unwrap();
        std::fs::write(&tls.key, made.key_pair.serialize_pem()).unwrap();
        tls
    }
}

fn config(dir: &Path, port: u16, federation: Option<&FederationTls>) -> String {
    let d = dir.display();
    let server_name = match federation {
        Some(f) => format!("'127.0.0.1:{}'", f.port),
        None => "localhost".to_owned(),
    };
    let (federation_listener, federation_settings) = match federation {
        Some(f) => (
            format!(
                "  - port: {}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: true
    resources:
      - names: [federation]
",
                f.port
            ),
            format!(
                "tls_certificate_path: {}
tls_private_key_path: {}
federation_verify_certificates: false
# An empty list leaves only 0.0.0.0 and :: blocked: the default blocks
# loopback, and an allow-list does not apply to IP-literal server names.
federation_ip_range_blacklist: []
# Identity servers of the tests present self-signed certificates too, and
# live on loopback (their key validity URLs are asked with the client that
# `ip_range_blacklist` guards).
use_insecure_ssl_client_just_for_testing_do_not_use: true
ip_range_whitelist: ['127.0.0.0/8']
",
                f.certificate.display(),
                f.key.display()
            ),
        ),
        // No other server, whatever a test does.
        None => (String::new(), "federation_domain_whitelist: []\n".to_owned()),
    };
    let mut yaml = format!(
        "server_name: {server_name}
public_baseurl: http://127.0.0.1:{port}/
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
{federation_listener}database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
log_config: {d}/log.yaml
media_store_path: {d}/media
signing_key_path: {d}/signing.key
report_stats: false
enable_registration: true
enable_registration_without_verification: true
macaroon_secret_key: test-macaroon-secret
form_secret: test-form-secret
registration_shared_secret: test-registration-secret
trusted_key_servers: []
suppress_key_server_warning: true
{federation_settings}presence:
  enabled: false
url_preview_enabled: false
# The spec documents GET /publicRooms without authentication.
allow_public_rooms_without_auth: true
# Synapse denies publication by default; the spec publishes rooms created `visibility: public`.
room_list_publication_rules:
  - action: allow
enable_authenticated_media: true
rc_login:
  address: {{per_second: 1000, burst_count: 1000}}
  account: {{per_second: 1000, burst_count: 1000}}
  failed_attempts: {{per_second: 1000, burst_count: 1000}}
"
    );
    for limiter in RATE_LIMITS {
        yaml.push_str(&format!("{limiter}:\n  per_second: 1000\n  burst_count: 1000\n"));
    }
    yaml
}

const LOG_CONFIG: &str = "version: 1
formatters:
  plain:
    format: '%(asctime)s %(levelname)s %(name)s %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: plain
    filename: LOGFILE
root:
  level: LEVEL
  handlers: [file]
disable_existing_loggers: false
";

/// A test that fails with Synapse running shows the end of Synapse's log.
impl Drop for Synapse {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self._dir.path().join("homeserver.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("--- the last lines of Synapse's log ---");
            for line in &lines[lines.len().saturating_sub(80)..] {
                eprintln!("{line}");
            }
        }
    }
}

impl Synapse {
    /// The Synapse process, for measuring what it spends.
    pub fn pid(&self) -> u32 {
        self.process.as_ref().expect("Synapse is running").id()
    }

    /// Installs (first time only) and starts Synapse; waits until it answers.
    pub fn start() -> Synapse {
        Synapse::start_with(false)
    }

    /// Synapse with a federation listener (see the module documentation).
    pub fn start_federating() -> Synapse {
        Synapse::start_with(true)
    }

    /// Synapse (not federating) hosting the application service whose
    /// registration file is `registration` (YAML).
    pub fn start_with_appservice(registration: &str) -> Synapse {
        Synapse::start_configured(false, Some(registration))
    }

    fn start_with(federating: bool) -> Synapse {
        Synapse::start_configured(federating, None)
    }

    fn start_configured(federating: bool, appservice: Option<&str>) -> Synapse {
        let venv = python::venv("synapse");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let tls = federating.then(|| FederationTls::self_signed(dir.path()));
        let federation = tls.as_ref();
        let port = free_port();
        let config_path = dir.path().join("homeserver.yaml");
        let mut yaml = config(dir.path(), port, federation);
        if let Some(registration) = appservice {
            let file = dir.path().join("appservice.yaml");
            std::fs::write(&file, registration).unwrap();
            yaml.push_str(&format!("app_service_config_files: ['{}']\n", file.display()));
        }
        std::fs::write(&config_path, yaml).unwrap();
        let log = dir.path().join("homeserver.log");
        // A federating Synapse logs every transaction: what a failing test shows.
        let level = if federation.is_some() { "INFO" } else { "WARNING" };
        std::fs::write(
            dir.path().join("log.yaml"),
            LOG_CONFIG
                .replace("LOGFILE", &log.display().to_string())
                .replace("LEVEL", level),
        )
        .unwrap();
        let python = venv.join("bin/python");
        let generated = Command::new(&python)
            .args(["-m", "synapse.app.homeserver", "--generate-keys", "-c"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(generated, "Synapse could not generate its signing key");
        let base_url = format!("http://127.0.0.1:{port}");
        let process = spawn(&python, &config_path, &base_url);
        Synapse {
            base_url,
            server_name: match federation {
                Some(f) => format!("127.0.0.1:{}", f.port),
                None => "localhost".to_owned(),
            },
            process: Some(process),
            python,
            config_path,
            _dir: dir,
        }
    }

    /// Kills Synapse (SIGKILL), keeping its database and configuration:
    /// it is unreachable until [`Synapse::restart`].
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts the killed Synapse again on the same ports and database;
    /// waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "Synapse is running");
        self.process = Some(spawn(&self.python, &self.config_path, &self.base_url));
    }
}

/// Starts Synapse on its configuration and waits until it answers.
fn spawn(python: &Path, config_path: &Path, base_url: &str) -> Guard {
    let mut process = Guard::spawn(
        "Synapse",
        Command::new(python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(config_path)
            .stdout(Stdio::null()),
    );
    wait_for_http(
        &mut process,
        &format!("{base_url}/_matrix/client/versions"),
        Duration::from_secs(120),
    );
    process
}
