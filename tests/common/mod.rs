//! Test harness: run the real `hearth` binary in a scratch folder, against a fresh
//! database of its own on SQLite, PostgreSQL or MariaDB.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod moto;
pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// The binary under test.
pub const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// A deadline for things that should happen promptly; generous, because CI machines are
/// shared. Waiting on a condition up to it is not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A command for `hearth` run in `dir`, with no configuration leaking in from the
/// environment of the test runner.
pub fn hearth(dir: &Path) -> Command {
    let mut cmd = Command::new(HEARTH);
    cmd.current_dir(dir).kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("HEARTH_") || name == "DATABASE_URL" || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Runs `hearth args…` to completion.
pub async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = hearth(dir);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("hearth did not finish in time")
        .expect("hearth could not be started")
}

/// Text of a process's stdout and stderr.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `hearth serve --content DIR` with `extra` flags.
pub async fn serve_content(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--content", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start(Start {
        args,
        ..Start::default()
    })
    .await
}

/// A content folder holding `site.toml` and `resume.json`.
pub fn content_dir(site_toml: &str, resume_json: &str) -> tempfile::TempDir {
    content_files(&[("site.toml", site_toml), ("resume.json", resume_json)])
}

/// A content folder holding these files: (path inside it, text).
pub fn content_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Which engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

/// A database created for one test and dropped after it.
#[derive(Debug)]
pub struct TestDb {
    pub engine: Engine,
    /// The URL hearth is given.
    pub url: String,
    admin: String,
    name: String,
    /// Keeps a SQLite file's folder alive.
    _dir: Option<tempfile::TempDir>,
}

fn postgres_admin() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn mysql_admin() -> String {
    std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into())
}

fn server_root(admin: &str) -> &str {
    admin.rsplit_once('/').map_or(admin, |(root, _)| root)
}

impl TestDb {
    /// A fresh, empty database.
    pub async fn new(engine: Engine) -> TestDb {
        let name = format!(
            "hearth_t_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/hearth.db", dir.path().display());
                TestDb {
                    engine,
                    url,
                    admin: String::new(),
                    name,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres | Engine::MySql => {
                let (admin, quoted) = if engine == Engine::Postgres {
                    (postgres_admin(), format!("\"{name}\""))
                } else {
                    (mysql_admin(), format!("`{name}`"))
                };
                execute(&admin, &format!("CREATE DATABASE {quoted}")).await;
                let url = format!("{}/{name}", server_root(&admin));
                TestDb {
                    engine,
                    url,
                    admin,
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// The same database reached through `addr` (a proxy) instead of the real port.
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let user = authority
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{addr}/{path}")
    }

    /// The host and port the database server listens on.
    pub fn server_addr(&self) -> SocketAddr {
        let rest = self.url.split_once("://").unwrap().1;
        let authority = rest.split_once('/').unwrap().0;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host.parse()
            .expect("test database URLs use an IP address and port")
    }

    /// Runs a statement in this database.
    pub async fn execute(&self, sql: &str) {
        execute(&self.url, sql).await;
    }

    /// Runs a query whose first column of the first row is an integer.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        let db = Database::connect(self.url.as_str()).await.unwrap();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap();
        let value = row.try_get_by_index::<i64>(0).unwrap();
        db.close().await.unwrap();
        value
    }

    /// The environment that points hearth at this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("HEARTH_DATABASE_URL", self.url.clone())]
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = match self.engine {
            Engine::Sqlite => return,
            Engine::Postgres => format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            Engine::MySql => format!("DROP DATABASE IF EXISTS `{}`", self.name),
        };
        let admin = self.admin.clone();
        // Drop cannot await; a short-lived runtime on its own thread can.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(db) = Database::connect(admin.as_str()).await {
                    let _ = db.execute_unprepared(&sql).await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

async fn execute(url: &str, sql: &str) {
    let db = Database::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test database at {url}: {e}"));
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await.unwrap();
}

/// A running `hearth serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Every stdout line so far (JSON logs).
    pub logs: Arc<Mutex<Vec<String>>>,
    log_added: Arc<Notify>,
    /// How many of stdout and stderr are still being read.
    streams_open: Arc<AtomicUsize>,
    pub dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// Options for [`Server::start`].
#[derive(Debug, Default)]
pub struct Start<'a> {
    pub args: Vec<&'a str>,
    pub env: Vec<(&'a str, String)>,
    /// Run in this folder instead of a fresh temporary one.
    pub dir: Option<PathBuf>,
}

impl Server {
    /// Starts `hearth serve --listen 127.0.0.1:0` and waits until it logs its address.
    pub async fn start(options: Start<'_>) -> Server {
        let temp = if options.dir.is_none() {
            Some(tempfile::tempdir().unwrap())
        } else {
            None
        };
        let dir = options
            .dir
            .clone()
            .unwrap_or_else(|| temp.as_ref().unwrap().path().to_owned());
        let mut cmd = hearth(&dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(&options.args)
            .envs(options.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("hearth could not be started");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let log_added = Arc::new(Notify::new());
        let streams_open = Arc::new(AtomicUsize::new(2));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for stream in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            let logs = logs.clone();
            let log_added = log_added.clone();
            let streams_open = streams_open.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().unwrap().push(line);
                    log_added.notify_waiters();
                }
                streams_open.fetch_sub(1, Ordering::SeqCst);
                log_added.notify_waiters();
            });
        }
        let mut server = Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            logs,
            log_added,
            streams_open,
            dir,
            _dir: temp,
        };
        let line = server
            .wait_for_log(|l| l.contains("\"message\":\"listening\""))
            .await;
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        server.addr = value["addr"].as_str().unwrap().parse().unwrap();
        server
    }

    /// Waits for a log line that satisfies `pred`, failing the test (with the log) if the
    /// process exits or the deadline passes first.
    pub async fn wait_for_log(&mut self, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for_log_since(0, pred).await
    }

    /// How many lines have been logged so far: a mark for [`Server::wait_for_log_since`].
    pub fn mark(&self) -> usize {
        self.logs.lock().unwrap().len()
    }

    /// Like [`Server::wait_for_log`], for lines logged after `mark`.
    pub async fn wait_for_log_since(&mut self, mark: usize, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let find = |logs: &Mutex<Vec<String>>| {
            logs.lock()
                .unwrap()
                .iter()
                .skip(mark)
                .find(|l| pred(l))
                .cloned()
        };
        loop {
            let notified = self.log_added.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(line) = find(&self.logs) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // The pipes may still hold lines after the exit: read them to the end.
                self.drain().await;
                if let Some(line) = find(&self.logs) {
                    return line;
                }
                panic!(
                    "hearth exited ({status}) first; its output:\n{}",
                    self.log_text()
                );
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no such log line in time; the output:\n{}", self.log_text());
            }
        }
    }

    /// Waits (within the patience) until both output streams are read to their end.
    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let notified = self.log_added.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.streams_open.load(Ordering::SeqCst) == 0
                || tokio::time::timeout_at(deadline, notified).await.is_err()
            {
                return;
            }
        }
    }

    /// All output so far.
    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET `path`, with a client deadline.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.unwrap()
    }

    /// Sends a signal (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("process already reaped").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub async fn exit(&mut self) -> ExitStatus {
        tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("hearth did not exit in time")
            .unwrap()
    }
}

/// An HTTP client that never waits forever and does not decompress by itself.
pub fn client() -> reqwest::Client {
    // The same TLS crypto provider hearth itself chooses.
    hearth::install_tls_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
}
