//! A throwaway PostgreSQL cluster of a test's own, for tests that stop and
//! start the server under running services (the shared test server must
//! never go down under other tests).
//!
//! Started like `scripts/test` starts its fallback cluster: `initdb` and
//! `pg_ctl` from the newest `/usr/lib/postgresql/*/bin`, run as `postgres`
//! when the test runs as root (both refuse root), a free port, `fsync=off`.
//! Dropping it stops the server at once and removes its directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// A running (or stopped, between [`PgCluster::stop`] and
/// [`PgCluster::start`]) cluster in a temporary directory.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// The newest PostgreSQL server binaries installed, if any.
pub fn server_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `tool` with `args`, as the `postgres` user when we are root.
fn as_owner(tool: &Path, args: &[&str]) -> Command {
    let mut command = if running_as_root() {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(tool);
        runuser
    } else {
        Command::new(tool)
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Runs `command`, panicking with its stderr when it fails.
fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A TCP port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

impl PgCluster {
    /// Whether a cluster can be started here (server binaries installed).
    pub fn available() -> bool {
        server_bin_dir().is_some()
    }

    /// Initialises and starts a cluster (trust authentication, user
    /// `postgres`); blocks until it accepts connections.
    pub fn start_new() -> Self {
        let bin = server_bin_dir().expect("PostgreSQL server binaries under /usr/lib/postgresql");
        let dir = tempfile::Builder::new()
            .prefix("testkit-pg.")
            .tempdir()
            .expect("temp dir");
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.args(["postgres:postgres"]).arg(dir.path());
            run(chown, "chown of the cluster directory");
        }
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
        };
        let data = cluster.data_dir();
        run(
            as_owner(
                &cluster.bin.join("initdb"),
                &[
                    "-D",
                    &data,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        cluster.start();
        cluster
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Starts the (stopped) server again on the same port and waits until
    /// it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        run(
            as_owner(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data_dir(),
                    "-l",
                    &log,
                    "-w",
                    "-o",
                    &options,
                    "start",
                ],
            ),
            "pg_ctl start",
        );
    }

    /// Stops the server the way an operator's restart does (`-m fast`:
    /// sessions are ended, open transactions rolled back) and waits.
    pub fn stop(&self) {
        run(
            as_owner(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"],
            ),
            "pg_ctl stop",
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let mut admin = PgConnection::establish(&self.url("postgres"))
            .unwrap_or_else(|e| panic!("cannot reach the test's own cluster: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        self.url(name)
    }

    /// The server's log so far, to explain a failure.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate: nothing in it is worth a clean shutdown. A server that
        // is stopped already makes pg_ctl fail, which is fine.
        let _ = as_owner(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"],
        )
        .status();
        // The temporary directory is removed when `dir` drops.
    }
}
