//! A throwaway PostgreSQL server for the tests of one process, from
//! Debian's packages: made with `initdb` under `target/postgres/<pid>/`,
//! listening on a loopback port, and stopped when the test process ends,
//! however it ends (a failed test, a panic, even SIGKILL): the server is
//! started with the kernel's parent-death signal, from a thread that lives
//! as long as the process. Each test takes a database of its own.
//!
//! PostgreSQL refuses to run as root; run as root (CI's containers), the
//! server runs as the `postgres` user the package made.

use crate::workspace_root;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The user the tests connect as (the cluster's superuser, trusted on loopback).
const USER: &str = "matrix";

struct Cluster {
    bin: PathBuf,
    port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DURABLE: OnceLock<Result<Cluster, String>> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The URL of a new, empty database named after `purpose` (letters,
/// digits and `_` are kept), on this process's server, which does not
/// flush to disk (`fsync=off`: nothing in it outlives the machine).
pub fn database(purpose: &str) -> String {
    new_database(&CLUSTER, false, purpose)
}

/// [`database`] on a server that flushes each commit to disk, as a
/// deployed one does: what a benchmark measures.
pub fn durable_database(purpose: &str) -> String {
    new_database(&DURABLE, true, purpose)
}

fn new_database(cluster: &OnceLock<Result<Cluster, String>>, durable: bool, purpose: &str) -> String {
    let cluster = match cluster.get_or_init(|| start(durable)) {
        Ok(cluster) => cluster,
        Err(e) => panic!("starting PostgreSQL for the tests: {e}"),
    };
    let name: String = purpose
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = format!("{name}_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
    let out = Command::new(cluster.bin.join("psql"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            USER,
            "-d",
            "postgres",
            "-q",
        ])
        .args(["-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap_or_else(|e| panic!("running psql: {e}"));
    assert!(
        out.status.success(),
        "creating database {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("postgres://{USER}@127.0.0.1:{}/{name}", cluster.port)
}

/// The newest PostgreSQL's programs (`/usr/lib/postgresql/<n>/bin`), or
/// those on the `PATH`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
        .ok_or_else(|| "no PostgreSQL found (Debian: apt-get install postgresql)".to_owned())
}

/// `(uid, gid)` of the `postgres` user, when this process is root.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"postgres") && fields.len() > 3)
        .and_then(|fields| Some(Some((fields[2].parse().ok()?, fields[3].parse().ok()?))))
        .ok_or_else(|| "running as root, and there is no postgres user to run PostgreSQL as".to_owned())
}

/// Removes the folders of earlier test processes that are gone.
fn remove_stale(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|name| name.split('-').next()?.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` runs (a zombie, exited but not reaped, does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.chars().next()? != 'Z'))
        .unwrap_or(false)
}

fn start(durable: bool) -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let user = server_user()?;
    let root = workspace_root().join("target/postgres");
    remove_stale(&root);
    let dir = root.join(match durable {
        true => format!("{}-durable", std::process::id()),
        false => std::process::id().to_string(),
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let as_server = |program: &str| {
        let mut command = Command::new(bin.join(program));
        if let Some((uid, gid)) = user {
            command.uid(uid).gid(gid);
        }
        command
    };
    let data = dir.join("data");
    let out = as_server("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        .output()
        .map_err(|e| format!("running initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = crate::process::free_port();
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| format!("creating the log: {e}"))?;
    let mut server = as_server("postgres");
    server
        .arg("-D")
        .arg(&data)
        .arg("-k")
        .arg(&dir)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        // A test server: nothing in it outlives the machine.
        .args([
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    if !durable {
        // A test server: nothing in it outlives the machine.
        server.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
    }
    // SAFETY: prctl is async-signal-safe; it only sets the child's own
    // parent-death signal (after its uid changed, which would clear it).
    unsafe {
        server.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (started, outcome) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("postgres-owner".into())
        .spawn(move || {
            let child = server.spawn();
            let failed = child.is_err();
            let _ = started.send(child.map(|c| c.id()).map_err(|e| format!("starting postgres: {e}")));
            if failed {
                return;
            }
            // The parent-death signal follows this thread, so it stays
            // until the process ends.
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("starting the owner thread: {e}"))?;
    let pid = outcome.recv().map_err(|e| format!("starting postgres: {e}"))??;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return Ok(Cluster { bin, port });
        }
        if !running(pid) || Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("postgres did not start on port {port}:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
