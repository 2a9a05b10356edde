//! The schema, as numbered migrations. One definition runs on SQLite, PostgreSQL and
//! MySQL/MariaDB: each step is a sea-query statement rendered for the engine at hand.
//!
//! Rules (expand/contract): a migration only adds; it records in `compatible_from` the
//! oldest schema version whose binaries still run on the schema it produces. A step
//! that removes something must wait for a release that no longer uses it, and raises
//! `compatible_from` to that release's version.

use sea_orm::sea_query::{
    ColumnDef, Index, IndexCreateStatement, MysqlQueryBuilder, PostgresQueryBuilder,
    SqliteQueryBuilder, Table, TableCreateStatement,
};
use sea_orm::{DbBackend, Statement};
use sha2::{Digest, Sha256};

/// One schema change.
#[derive(Debug)]
pub struct Migration {
    /// Its number; migrations apply in order, and the last applied is the schema version.
    pub version: i64,
    /// A short name (`create_audit_log`).
    pub name: &'static str,
    /// The oldest schema version a binary may know and still run once this is applied.
    pub compatible_from: i64,
    /// What it does.
    pub steps: fn() -> Vec<Step>,
}

/// A statement of a migration.
#[derive(Debug)]
pub enum Step {
    /// `CREATE TABLE`.
    CreateTable(Box<TableCreateStatement>),
    /// `CREATE INDEX`.
    CreateIndex(Box<IndexCreateStatement>),
}

impl Step {
    /// The statement in `backend`'s dialect.
    pub fn build(&self, backend: DbBackend) -> Statement {
        match self {
            Step::CreateTable(s) => backend.build(s.as_ref()),
            Step::CreateIndex(s) => backend.build(s.as_ref()),
        }
    }

    fn sql_for_all_engines(&self) -> [String; 3] {
        match self {
            Step::CreateTable(s) => [
                s.to_string(PostgresQueryBuilder),
                s.to_string(MysqlQueryBuilder),
                s.to_string(SqliteQueryBuilder),
            ],
            Step::CreateIndex(s) => [
                s.to_string(PostgresQueryBuilder),
                s.to_string(MysqlQueryBuilder),
                s.to_string(SqliteQueryBuilder),
            ],
        }
    }
}

impl Migration {
    /// sha256 of the migration's SQL on every engine: it changes if the migration is edited.
    pub fn checksum(&self) -> String {
        let mut hash = Sha256::new();
        for step in (self.steps)() {
            for sql in step.sql_for_all_engines() {
                hash.update(sql.as_bytes());
                hash.update(b"\n");
            }
        }
        crate::web::page::hex(&hash.finalize())
    }
}

/// Every migration this binary knows, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_leases",
        compatible_from: 1,
        steps: create_leases,
    },
    Migration {
        version: 2,
        name: "create_audit_log",
        compatible_from: 1,
        steps: create_audit_log,
    },
    Migration {
        version: 3,
        name: "create_api_tokens",
        compatible_from: 1,
        steps: create_api_tokens,
    },
    Migration {
        version: 4,
        name: "create_users_and_sessions",
        compatible_from: 1,
        steps: create_users_and_sessions,
    },
    Migration {
        version: 5,
        name: "create_photos",
        compatible_from: 1,
        steps: create_photos,
    },
];

/// The schema version this binary is written for: the last migration it knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Migration 1 creates the lock that guards every later one, so it is applied before
/// the lock is taken; `IF NOT EXISTS` makes that safe to race.
fn create_leases() -> Vec<Step> {
    vec![Step::CreateTable(Box::new(
        Table::create()
            .table("leases")
            .if_not_exists()
            .col(
                ColumnDef::new("name")
                    .string_len(128)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new("holder").string_len(255).not_null())
            .col(ColumnDef::new("expires_at").big_integer().not_null())
            .to_owned(),
    ))]
}

fn create_audit_log() -> Vec<Step> {
    vec![
        Step::CreateTable(Box::new(
            Table::create()
                .table("audit_log")
                .col(row_id())
                .col(ColumnDef::new("at").timestamp_with_time_zone().not_null())
                .col(ColumnDef::new("actor").string_len(255).not_null())
                .col(ColumnDef::new("action").string_len(128).not_null())
                .col(ColumnDef::new("target").string_len(1024).null())
                .col(ColumnDef::new("detail").text().null())
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("audit_log_at_idx")
                .table("audit_log")
                .col("at")
                .to_owned(),
        )),
    ]
}

/// Bearer tokens for the publishing API: only a hash of each secret is stored.
fn create_api_tokens() -> Vec<Step> {
    vec![
        Step::CreateTable(Box::new(
            Table::create()
                .table("api_tokens")
                .col(row_id())
                .col(ColumnDef::new("name").string_len(64).not_null())
                .col(ColumnDef::new("hash").string_len(64).not_null())
                .col(ColumnDef::new("created_at").big_integer().not_null())
                .col(ColumnDef::new("last_used_at").big_integer().null())
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("api_tokens_name_idx")
                .table("api_tokens")
                .col("name")
                .unique()
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("api_tokens_hash_idx")
                .table("api_tokens")
                .col("hash")
                .unique()
                .to_owned(),
        )),
    ]
}

/// Accounts, their sessions, and the login throttle. Times are Unix milliseconds.
fn create_users_and_sessions() -> Vec<Step> {
    vec![
        Step::CreateTable(Box::new(
            Table::create()
                .table("users")
                .col(row_id())
                .col(ColumnDef::new("name").string_len(64).not_null())
                .col(ColumnDef::new("password_hash").string_len(255).not_null())
                .col(ColumnDef::new("role").string_len(16).not_null())
                .col(ColumnDef::new("created_at").big_integer().not_null())
                .col(ColumnDef::new("updated_at").big_integer().not_null())
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("users_name_idx")
                .table("users")
                .col("name")
                .unique()
                .to_owned(),
        )),
        Step::CreateTable(Box::new(
            Table::create()
                .table("sessions")
                .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                .col(ColumnDef::new("user_id").big_integer().not_null())
                .col(ColumnDef::new("created_at").big_integer().not_null())
                .col(ColumnDef::new("last_seen_at").big_integer().not_null())
                .col(ColumnDef::new("expires_at").big_integer().not_null())
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("sessions_user_idx")
                .table("sessions")
                .col("user_id")
                .to_owned(),
        )),
        Step::CreateTable(Box::new(
            Table::create()
                .table("login_throttle")
                .col(
                    ColumnDef::new("subject")
                        .string_len(160)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new("failures").integer().not_null())
                .col(ColumnDef::new("blocked_until").big_integer().not_null())
                .col(ColumnDef::new("updated_at").big_integer().not_null())
                .to_owned(),
        )),
    ]
}

/// Photos' metadata; their bytes are objects, named in `variants` (JSON).
fn create_photos() -> Vec<Step> {
    vec![
        Step::CreateTable(Box::new(
            Table::create()
                .table("photos")
                .col(row_id())
                .col(ColumnDef::new("title").string_len(300).not_null())
                .col(ColumnDef::new("caption").text().not_null())
                .col(ColumnDef::new("album").string_len(100).not_null())
                .col(ColumnDef::new("format").string_len(16).not_null())
                .col(ColumnDef::new("width").integer().not_null())
                .col(ColumnDef::new("height").integer().not_null())
                .col(ColumnDef::new("variants").text().not_null())
                .col(ColumnDef::new("uploaded_by").string_len(64).not_null())
                .col(ColumnDef::new("created_at").big_integer().not_null())
                .col(ColumnDef::new("updated_at").big_integer().not_null())
                .to_owned(),
        )),
        Step::CreateIndex(Box::new(
            Index::create()
                .name("photos_album_idx")
                .table("photos")
                .col("album")
                .to_owned(),
        )),
    ]
}

/// A table's own `BIGINT` auto-increment key, `id`.
fn row_id() -> ColumnDef {
    ColumnDef::new("id")
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// The ledger of applied migrations. It exists before any migration, so it is created
/// with `IF NOT EXISTS` and never changes shape.
pub(crate) fn ledger_table() -> TableCreateStatement {
    Table::create()
        .table("hearth_migrations")
        .if_not_exists()
        .col(
            ColumnDef::new("version")
                .big_integer()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new("name").string_len(255).not_null())
        .col(ColumnDef::new("checksum").string_len(64).not_null())
        .col(ColumnDef::new("compatible_from").big_integer().not_null())
        .col(ColumnDef::new("applied_at").big_integer().not_null())
        .col(ColumnDef::new("duration_ms").big_integer().not_null())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_compatibility_never_points_ahead() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "{} is out of order", m.name);
            assert!(m.compatible_from <= m.version, "{} points ahead", m.name);
            last = m.version;
        }
    }

    #[test]
    fn checksums_are_stable_and_distinct() {
        let sums: Vec<String> = MIGRATIONS.iter().map(Migration::checksum).collect();
        assert_eq!(
            sums,
            MIGRATIONS
                .iter()
                .map(Migration::checksum)
                .collect::<Vec<_>>()
        );
        assert_ne!(sums[0], sums[1]);
        assert_eq!(sums[0].len(), 64);
    }
}
