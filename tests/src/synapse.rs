//! Synapse, the reference homeserver (PyPI `matrix-synapse`), started on a
//! free loopback port with a throwaway SQLite database, open registration
//! and rate limits raised for tests. Stopped when the handle is dropped.

use crate::process::{free_port, wait_for_http, Guard};
use crate::python;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Synapse {
    pub base_url: String,
    _process: Guard,
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

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    let mut yaml = format!(
        "server_name: localhost
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
database:
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
federation_domain_whitelist: []
presence:
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
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
";

impl Synapse {
    /// The Synapse process, for measuring what it spends.
    pub fn pid(&self) -> u32 {
        self._process.id()
    }

    /// Installs (first time only) and starts Synapse; waits until it answers.
    pub fn start() -> Synapse {
        let venv = python::venv("synapse");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = free_port();
        let config_path = dir.path().join("homeserver.yaml");
        std::fs::write(&config_path, config(dir.path(), port)).unwrap();
        let log = dir.path().join("homeserver.log");
        std::fs::write(
            dir.path().join("log.yaml"),
            LOG_CONFIG.replace("LOGFILE", &log.display().to_string()),
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
        let mut process = Guard::spawn(
            "Synapse",
            Command::new(&python)
                .args(["-m", "synapse.app.homeserver", "-c"])
                .arg(&config_path)
                .stdout(Stdio::null()),
        );
        let base_url = format!("http://127.0.0.1:{port}");
        wait_for_http(
            &mut process,
            &format!("{base_url}/_matrix/client/versions"),
            Duration::from_secs(120),
        );
        Synapse {
            base_url,
            _process: process,
            _dir: dir,
        }
    }
}
