//! The database in an engine-neutral form: each table as JSON lines of its typed rows
//! (through the sea-orm entities, so a timestamp is a timestamp on every engine), in
//! primary-key order. A dump taken from PostgreSQL restores into SQLite or MariaDB and
//! back. The migration ledger and the leases are not data: a restore migrates the target
//! to the dump's schema version itself.

use std::io::{BufRead, Write};

use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable,
    PaginatorTrait, PrimaryKeyToColumn, QueryOrder, Statement, StreamTrait, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::Db;
use crate::db::entities::{api_token, audit_log, login_throttle, photo, session, user};

/// The data tables, in an order that restores cleanly.
pub const TABLES: &[&str] = &[
    "users",
    "sessions",
    "api_tokens",
    "login_throttle",
    "photos",
    "audit_log",
];

/// Tables whose `id` is an auto-increment counter that PostgreSQL keeps in a sequence.
const SEQUENCED: &[&str] = &["users", "api_tokens", "photos", "audit_log"];

/// Bound parameters per insert statement: under SQLite's limit (32,766), PostgreSQL's and
/// MySQL's (65,535), and large enough that round trips do not dominate.
const PARAMETERS: usize = 30_000;

/// Why a dump or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The database failed.
    #[error("the database failed: {0}")]
    Db(#[from] DbErr),
    /// Reading or writing the stream failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A line is not a row of its table.
    #[error("{table}, line {line}: not a row of this table: {message}")]
    BadRow {
        /// The table.
        table: String,
        /// The line, from 1.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// An unknown table name.
    #[error("{0:?} is not a table hearth backs up")]
    UnknownTable(String),
}

async fn dump_entity<E, C>(db: &C, out: &mut (dyn Write + Send)) -> Result<u64, DumpError>
where
    E: EntityTrait,
    E::Model: Serialize + Sync,
    C: ConnectionTrait + StreamTrait,
{
    let mut query = E::find();
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    let mut rows = query.stream(db).await?;
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        serde_json::to_writer(&mut *out, &row).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    Ok(n)
}

/// Writes `table` as JSON lines; returns the number of rows. Dump every table from one
/// read transaction ([`snapshot`]) for a consistent backup.
pub async fn dump<C: ConnectionTrait + StreamTrait>(
    db: &C,
    table: &str,
    out: &mut (dyn Write + Send),
) -> Result<u64, DumpError> {
    match table {
        "users" => dump_entity::<user::Entity, C>(db, out).await,
        "sessions" => dump_entity::<session::Entity, C>(db, out).await,
        "api_tokens" => dump_entity::<api_token::Entity, C>(db, out).await,
        "login_throttle" => dump_entity::<login_throttle::Entity, C>(db, out).await,
        "photos" => dump_entity::<photo::Entity, C>(db, out).await,
        "audit_log" => dump_entity::<audit_log::Entity, C>(db, out).await,
        other => Err(DumpError::UnknownTable(other.to_owned())),
    }
}

/// How many rows `table` has.
pub async fn count(db: &impl ConnectionTrait, table: &str) -> Result<u64, DumpError> {
    Ok(match table {
        "users" => user::Entity::find().count(db).await?,
        "sessions" => session::Entity::find().count(db).await?,
        "api_tokens" => api_token::Entity::find().count(db).await?,
        "login_throttle" => login_throttle::Entity::find().count(db).await?,
        "photos" => photo::Entity::find().count(db).await?,
        "audit_log" => audit_log::Entity::find().count(db).await?,
        other => return Err(DumpError::UnknownTable(other.to_owned())),
    })
}

async fn restore_entity<E>(
    conn: &impl ConnectionTrait,
    table: &str,
    lines: &mut (dyn BufRead + Send),
) -> Result<u64, DumpError>
where
    E: EntityTrait,
    E::Model: DeserializeOwned + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    let per_statement = (PARAMETERS / E::Column::iter().count().max(1)).max(1);
    let mut batch: Vec<E::ActiveModel> = Vec::with_capacity(per_statement);
    let mut n = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        n += 1;
        let row: E::Model = serde_json::from_str(&line).map_err(|e| DumpError::BadRow {
            table: table.to_owned(),
            line: n,
            message: e.to_string(),
        })?;
        batch.push(row.into_active_model().reset_all());
        if batch.len() == per_statement {
            E::insert_many(std::mem::take(&mut batch))
                .exec(conn)
                .await?;
        }
    }
    if !batch.is_empty() {
        E::insert_many(batch).exec(conn).await?;
    }
    Ok(n)
}

/// Inserts the rows of `table` from JSON lines; returns how many.
pub async fn restore(
    conn: &impl ConnectionTrait,
    table: &str,
    lines: &mut (dyn BufRead + Send),
) -> Result<u64, DumpError> {
    match table {
        "users" => restore_entity::<user::Entity>(conn, table, lines).await,
        "sessions" => restore_entity::<session::Entity>(conn, table, lines).await,
        "api_tokens" => restore_entity::<api_token::Entity>(conn, table, lines).await,
        "login_throttle" => restore_entity::<login_throttle::Entity>(conn, table, lines).await,
        "photos" => restore_entity::<photo::Entity>(conn, table, lines).await,
        "audit_log" => restore_entity::<audit_log::Entity>(conn, table, lines).await,
        other => Err(DumpError::UnknownTable(other.to_owned())),
    }
}

/// Empties every data table (for `restore --force`).
pub async fn clear(conn: &impl ConnectionTrait) -> Result<(), DumpError> {
    for table in TABLES.iter().rev() {
        let sql = match table {
            &"users" => user::Entity::delete_many().exec(conn).await,
            &"sessions" => session::Entity::delete_many().exec(conn).await,
            &"api_tokens" => api_token::Entity::delete_many().exec(conn).await,
            &"login_throttle" => login_throttle::Entity::delete_many().exec(conn).await,
            &"photos" => photo::Entity::delete_many().exec(conn).await,
            &"audit_log" => audit_log::Entity::delete_many().exec(conn).await,
            other => return Err(DumpError::UnknownTable((*other).to_owned())),
        };
        sql?;
    }
    Ok(())
}

/// After rows were inserted with their own ids, PostgreSQL's sequences must move past
/// them (SQLite and MySQL move their counters by themselves).
pub async fn fix_sequences(conn: &impl ConnectionTrait) -> Result<(), DumpError> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in SEQUENCED {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM \"{table}\""
        );
        conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
    }
    Ok(())
}

/// A read transaction that sees one moment of the database, for dumping every table
/// consistently: `REPEATABLE READ, READ ONLY` on PostgreSQL and MySQL (a consistent
/// snapshot), a deferred transaction on SQLite (WAL keeps its snapshot).
pub async fn snapshot(db: &Db) -> Result<sea_orm::DatabaseTransaction, DumpError> {
    use sea_orm::{AccessMode, IsolationLevel};
    Ok(match db.backend() {
        DbBackend::Sqlite => db.conn().begin().await?,
        _ => {
            db.conn()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
    })
}
