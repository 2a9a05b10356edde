//! What schema a database is at, and whether this binary can run on it.

use std::fmt;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryOrder, Statement};

use super::Db;
use super::entities::migration;
use super::migrations::SCHEMA_VERSION;

/// A database's schema, judged against this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// At exactly the version this binary is written for.
    Current {
        /// The schema version.
        version: i64,
    },
    /// Ahead of this binary, by migrations that keep it working.
    NewerCompatible {
        /// The schema version.
        version: i64,
    },
    /// Behind: `hearth migrate` must run first.
    Behind {
        /// The schema version (0: never migrated).
        version: i64,
    },
    /// Ahead by a migration that dropped something this binary still uses.
    NewerIncompatible {
        /// The schema version.
        version: i64,
        /// The oldest schema version a binary must know to run on it.
        needs: i64,
    },
}

impl SchemaState {
    /// Judges a ledger (applied migrations in any order) against this binary.
    pub fn assess(applied: &[migration::Model]) -> SchemaState {
        Self::assess_for(applied, SCHEMA_VERSION)
    }

    fn assess_for(applied: &[migration::Model], binary: i64) -> SchemaState {
        let version = applied.iter().map(|m| m.version).max().unwrap_or(0);
        if version < binary {
            return SchemaState::Behind { version };
        }
        if version == binary {
            return SchemaState::Current { version };
        }
        let needs = applied
            .iter()
            .filter(|m| m.version > binary)
            .map(|m| m.compatible_from)
            .max()
            .unwrap_or(0);
        if needs <= binary {
            SchemaState::NewerCompatible { version }
        } else {
            SchemaState::NewerIncompatible { version, needs }
        }
    }

    /// Whether this binary can serve on this schema.
    pub fn is_runnable(self) -> bool {
        matches!(
            self,
            SchemaState::Current { .. } | SchemaState::NewerCompatible { .. }
        )
    }

    /// The database's schema version.
    pub fn version(self) -> i64 {
        match self {
            SchemaState::Current { version }
            | SchemaState::NewerCompatible { version }
            | SchemaState::Behind { version }
            | SchemaState::NewerIncompatible { version, .. } => version,
        }
    }

    /// Reads the ledger and judges it.
    pub async fn check(db: &Db) -> Result<SchemaState, DbErr> {
        Ok(Self::assess(&applied(db).await?))
    }
}

impl fmt::Display for SchemaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SchemaState::Current { version } => write!(f, "schema version {version} (current)"),
            SchemaState::NewerCompatible { version } => write!(
                f,
                "schema version {version}, newer than this hearth's {SCHEMA_VERSION} and compatible with it"
            ),
            SchemaState::Behind { version: 0 } => write!(
                f,
                "the database has no schema yet; this hearth needs version {SCHEMA_VERSION}: run `hearth migrate`"
            ),
            SchemaState::Behind { version } => write!(
                f,
                "schema version {version} is older than the {SCHEMA_VERSION} this hearth needs: run `hearth migrate`"
            ),
            SchemaState::NewerIncompatible { version, needs } => write!(
                f,
                "schema version {version} needs a hearth that knows at least version {needs}; this one knows {SCHEMA_VERSION}: upgrade hearth"
            ),
        }
    }
}

/// The applied migrations, oldest first; empty when the database was never migrated.
pub async fn applied(db: &Db) -> Result<Vec<migration::Model>, DbErr> {
    if !ledger_exists(db).await? {
        return Ok(Vec::new());
    }
    migration::Entity::find()
        .order_by_asc(migration::Column::Version)
        .all(db.conn())
        .await
}

async fn ledger_exists(db: &Db) -> Result<bool, DbErr> {
    let backend = db.backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'hearth_migrations'"
        }
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'hearth_migrations'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'hearth_migrations'"
        }
    };
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i64>("", "n")? > 0,
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, compatible_from: i64) -> migration::Model {
        migration::Model {
            version,
            name: format!("m{version}"),
            checksum: String::new(),
            compatible_from,
            applied_at: 0,
            duration_ms: 0,
        }
    }

    #[test]
    fn judges_the_schema_against_the_binary() {
        assert_eq!(
            SchemaState::assess_for(&[], 2),
            SchemaState::Behind { version: 0 }
        );
        assert_eq!(
            SchemaState::assess_for(&[row(1, 1)], 2),
            SchemaState::Behind { version: 1 }
        );
        assert_eq!(
            SchemaState::assess_for(&[row(1, 1), row(2, 1)], 2),
            SchemaState::Current { version: 2 }
        );
        assert_eq!(
            SchemaState::assess_for(&[row(1, 1), row(2, 1), row(3, 2)], 2),
            SchemaState::NewerCompatible { version: 3 }
        );
        // Migration 4 removed something binaries before 3 used; a later, milder
        // migration does not undo that.
        assert_eq!(
            SchemaState::assess_for(&[row(2, 1), row(3, 2), row(4, 3), row(5, 2)], 2),
            SchemaState::NewerIncompatible {
                version: 5,
                needs: 3
            }
        );
    }

    #[test]
    fn only_current_and_compatible_schemas_run() {
        assert!(SchemaState::Current { version: 2 }.is_runnable());
        assert!(SchemaState::NewerCompatible { version: 3 }.is_runnable());
        assert!(!SchemaState::Behind { version: 1 }.is_runnable());
        assert!(
            !SchemaState::NewerIncompatible {
                version: 5,
                needs: 3
            }
            .is_runnable()
        );
        assert!(
            SchemaState::Behind { version: 0 }
                .to_string()
                .contains("hearth migrate")
        );
    }
}
