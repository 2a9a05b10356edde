//! `hearth migrate` and schema compatibility on SQLite, PostgreSQL and MariaDB, each
//! test in a database of its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::{Engine, Server, Start, TestDb, hearth, run, text};
use hearth::db::migrations::SCHEMA_VERSION as LATEST;
use tokio::io::{AsyncBufReadExt, BufReader};

/// One test per engine for each check written once: `sqlite::check`, `postgres::check`,
/// `mariadb::check`.
macro_rules! on_every_engine {
    ($($check:ident),+ $(,)?) => {
        on_every_engine!(@engine sqlite, Sqlite, $($check),+);
        on_every_engine!(@engine postgres, Postgres, $($check),+);
        on_every_engine!(@engine mariadb, MySql, $($check),+);
    };
    (@engine $module:ident, $engine:ident, $($check:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::Engine::$engine).await;
                }
            )+
        }
    };
}

on_every_engine!(
    applies_reports_and_is_idempotent,
    two_runners_at_once,
    serve_refuses_an_old_schema,
);

async fn migrate(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    let out = run(dir.path(), &all, &[("HEARTH_DATABASE_URL", &db.url)]).await;
    let (stdout, stderr) = text(&out);
    (out.status.success(), stdout, stderr)
}

async fn applies_reports_and_is_idempotent(engine: Engine) {
    let db = TestDb::new(engine).await;
    let (ok, stdout, stderr) = migrate(&db, &["status"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("pending"), "{stdout}");
    assert!(stdout.contains("no schema yet"), "{stdout}");

    let (ok, stdout, stderr) = migrate(&db, &["--to", "1"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("schema is at version 1")
            || stdout.contains("nothing to apply: schema is at version 1"),
        "{stdout}"
    );

    let (ok, stdout, stderr) = migrate(&db, &[]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("applied    2 create_audit_log"), "{stdout}");
    assert!(
        stdout.contains(&format!("schema is at version {LATEST}")),
        "{stdout}"
    );

    let (ok, stdout, _) = migrate(&db, &[]).await;
    assert!(ok);
    assert_eq!(
        stdout.trim(),
        format!("nothing to apply: schema is at version {LATEST}")
    );

    let (_, stdout, _) = migrate(&db, &["status"]).await;
    assert_eq!(
        stdout.matches(" applied ").count() as i64,
        LATEST,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("schema version {LATEST} (current)")),
        "{stdout}"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM hearth_migrations").await,
        LATEST
    );
    // The run is in the audit log, once.
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'schema.migrate'")
            .await,
        1
    );

    // A migration edited after it was applied is flagged.
    db.execute("UPDATE hearth_migrations SET checksum = 'edited' WHERE version = 2")
        .await;
    let (_, stdout, _) = migrate(&db, &["status"]).await;
    assert!(
        stdout.contains("MODIFIED") && stdout.contains("checksum differs"),
        "{stdout}"
    );
    let (ok, _, stderr) = migrate(&db, &[]).await;
    assert!(ok);
    assert!(
        stderr.contains("migration 2 was changed after it was applied"),
        "{stderr}"
    );

    let (ok, _, stderr) = migrate(&db, &["--to", "7"]).await;
    assert!(!ok);
    assert!(stderr.contains("there is no migration 7"), "{stderr}");
}

/// Two runners started together: one applies, the other waits and finds nothing to do.
async fn two_runners_at_once(engine: Engine) {
    let db = TestDb::new(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("HEARTH_DATABASE_URL", db.url.as_str())];
    let (a, b) = tokio::join!(
        run(dir.path(), &["migrate"], &env),
        run(dir.path(), &["migrate"], &env)
    );
    let (a_out, a_err) = text(&a);
    let (b_out, b_err) = text(&b);
    assert!(a.status.success(), "first runner failed: {a_err}");
    assert!(b.status.success(), "second runner failed: {b_err}");
    let applied = [&a_out, &b_out]
        .iter()
        .filter(|o| o.contains("applied    2"))
        .count();
    assert_eq!(
        applied, 1,
        "exactly one runner applies:\n{a_out}\n---\n{b_out}"
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM hearth_migrations").await,
        LATEST
    );
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM leases").await,
        0,
        "the lock is released"
    );
}

#[tokio::test]
async fn a_runner_waits_for_a_lock_someone_else_holds() {
    let db = TestDb::new(Engine::Postgres).await;
    migrate(&db, &["--to", "1"]).await;
    let far_future = chrono::Utc::now().timestamp_millis() + 3_600_000;
    db.execute(&format!(
        "INSERT INTO leases (name, holder, expires_at) VALUES ('schema-migration', 'other-host:42:abcd', {far_future})"
    ))
    .await;
    let (ok, _, stderr) = migrate(&db, &["--lock-timeout", "300ms"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("waiting for the migration lock held by other-host:42:abcd"),
        "{stderr}"
    );
    assert!(stderr.contains("timed out after"), "{stderr}");
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM hearth_migrations").await,
        1,
        "nothing applied without the lock"
    );

    // An expired lease is taken over.
    db.execute("UPDATE leases SET expires_at = 0").await;
    let (ok, stdout, stderr) = migrate(&db, &[]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("applied    2"));
}

#[tokio::test]
async fn wait_times_out_then_succeeds_once_migrated() {
    let db = TestDb::new(Engine::Postgres).await;
    let (ok, stdout, stderr) = migrate(&db, &["wait", "--timeout", "1s"]).await;
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("error: timed out after 1s: the database has no schema yet"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut waiter = hearth(dir.path())
        .args(["migrate", "wait", "--timeout", "120s"])
        .env("HEARTH_DATABASE_URL", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it says it is waiting, migrate; it must then exit 0 by itself.
    let mut errors = BufReader::new(waiter.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(common::PATIENCE, errors.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        first.contains("waiting: the database has no schema yet"),
        "{first}"
    );
    let (ok, _, stderr) = migrate(&db, &[]).await;
    assert!(ok, "{stderr}");
    let out = tokio::time::timeout(common::PATIENCE, waiter.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("ready: schema version {LATEST} (current)"))
    );
}

async fn serve_refuses_an_old_schema(engine: Engine) {
    let db = TestDb::new(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("HEARTH_DATABASE_URL", db.url.as_str())];
    let serve = ["serve", "--listen", "127.0.0.1:0", "--no-migrate"];

    let out = run(dir.path(), &serve, &env).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains(&format!(
        "the database has no schema yet; this hearth needs version {LATEST}: run `hearth migrate`"
    )));

    migrate(&db, &["--to", "1"]).await;
    let out = run(dir.path(), &serve, &env).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out).1;
    assert!(
        stderr.contains(&format!(
            "error: schema version 1 is older than the {LATEST} this hearth needs: run `hearth migrate`"
        )),
        "{stderr}"
    );
}

/// A newer release's migration that keeps this binary working (expand) is fine; one that
/// removed something it uses (contract) is not.
#[tokio::test]
async fn serve_runs_on_a_newer_compatible_schema_only() {
    let db = TestDb::new(Engine::Postgres).await;
    migrate(&db, &[]).await;
    db.execute(&format!(
        "INSERT INTO hearth_migrations (version, name, checksum, compatible_from, applied_at, duration_ms) \
         VALUES ({}, 'add_column_from_the_future', 'x', {LATEST}, 0, 0)",
        LATEST + 1
    ))
    .await;
    let server = Server::start(Start {
        env: db.env(),
        ..Start::default()
    })
    .await;
    let ready: serde_json::Value = server.get("/ready").await.json().await.unwrap();
    assert_eq!(ready["schema_version"], LATEST + 1);
    drop(server);

    db.execute(&format!(
        "INSERT INTO hearth_migrations (version, name, checksum, compatible_from, applied_at, duration_ms) \
         VALUES ({}, 'drop_column_from_the_past', 'x', {}, 0, 0)",
        LATEST + 2,
        LATEST + 1
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0"],
        &[("HEARTH_DATABASE_URL", &db.url)],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains(&format!(
        "schema version {} needs a hearth that knows at least version {}",
        LATEST + 2,
        LATEST + 1
    )));
    let (_, stdout, _) = migrate(&db, &["status"]).await;
    assert!(stdout.contains("applied by a newer hearth"), "{stdout}");
}

#[tokio::test]
async fn serve_with_migrate_migrates_a_server_database() {
    let db = TestDb::new(Engine::MySql).await;
    let mut server = Server::start(Start {
        args: vec!["--migrate"],
        env: db.env(),
        ..Start::default()
    })
    .await;
    server
        .wait_for_log(|l| l.contains("database migrated"))
        .await;
    assert_eq!(server.get("/ready").await.status(), reqwest::StatusCode::OK);
}
