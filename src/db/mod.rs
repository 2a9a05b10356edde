//! The database: one pool over SQLite, PostgreSQL or MySQL/MariaDB, the migrations that
//! shape it, and the named queries the rest of hearth uses.

pub mod audit;
pub mod entities;
pub mod lease;
pub mod migrate;
pub mod migrations;
pub mod schema;

use std::path::PathBuf;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::{DatabaseConfig, Engine};

/// A connection pool and the engine behind it.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    engine: Engine,
}

impl Db {
    /// Opens a pool. Server databases connect lazily, so a database that is down does
    /// not stop start-up; SQLite's file (and its folder) is created on first use.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbErr> {
        let engine = config.url.engine();
        let mut url = config.url.expose().to_owned();
        if engine == Engine::Sqlite {
            prepare_sqlite_file(&mut url)?;
        }
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(config.max_connections)
            .min_connections(0)
            .connect_timeout(config.timeout)
            .acquire_timeout(config.timeout)
            .sqlx_logging(false)
            .connect_lazy(engine != Engine::Sqlite);
        let conn = Database::connect(options).await?;
        if engine == Engine::Sqlite {
            // WAL lets readers and the writer work at once; the mode is stored in the file.
            conn.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Ok(Self { conn, engine })
    }

    /// The pool, for queries.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The SQL dialect.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Closes every connection, waiting at most a moment: a connection stuck on a hung
    /// server must not hold the process up.
    pub async fn close(self) {
        match tokio::time::timeout(std::time::Duration::from_secs(2), self.conn.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "closing the database pool"),
            Err(_) => tracing::warn!("the database pool did not close within 2 s; leaving it"),
        }
    }
}

/// Creates the folder of a SQLite file and asks sqlx to create the file itself.
fn prepare_sqlite_file(url: &mut String) -> Result<(), DbErr> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path.starts_with(":memory:") {
        return Ok(());
    }
    if let Some(dir) = PathBuf::from(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            DbErr::Custom(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
    }
    if !query.split('&').any(|p| p.starts_with("mode=")) {
        url.push_str(if query.is_empty() {
            "?mode=rwc"
        } else {
            "&mode=rwc"
        });
    }
    Ok(())
}

/// Unix time in milliseconds, the form timestamps take in columns compared across engines.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
