//! `hearth backup`, black-box: the retention policy as a command; runs, lists, verifies,
//! restores and prunes on every engine, a folder and S3; encryption; faults (a corrupt
//! part, a killed run, the database down during a scheduled run).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;

use common::{hearth, text};
use tokio::io::AsyncWriteExt;

async fn retention(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = hearth(dir.path())
        .args(["backup", "retention"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(common::PATIENCE, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

#[tokio::test]
async fn retention_prints_a_verdict_per_line_in_order() {
    let input = "2026-11-22T11:00:00Z\n2026-10-01T23:00:00Z\n\n2026-10-01T01:00:00Z\n2025-06-15T10:00:00+02:00\n2025-06-02T10:00:00Z\n2024-01-01T00:00:00Z\n";
    let (code, stdout, stderr) = retention(&["--now", "2026-11-22T12:00:00Z"], input).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "keep 2026-11-22T11:00:00Z recent\n\
         drop 2026-10-01T23:00:00Z\n\
         keep 2026-10-01T01:00:00Z daily\n\
         drop 2025-06-15T10:00:00+02:00\n\
         keep 2025-06-02T10:00:00Z monthly\n\
         keep 2024-01-01T00:00:00Z monthly\n"
    );
}

#[tokio::test]
async fn thresholds_come_from_flags_or_settings() {
    let input = "2026-11-20T08:00:00Z\n2026-11-20T09:00:00Z\n2026-11-22T11:00:00Z\n";
    // Keep everything for a day only: the older day keeps its first backup.
    let (_, stdout, _) = retention(
        &["--now", "2026-11-22T12:00:00Z", "--keep-all-for", "1d"],
        input,
    )
    .await;
    assert_eq!(
        stdout,
        "keep 2026-11-20T08:00:00Z daily\ndrop 2026-11-20T09:00:00Z\nkeep 2026-11-22T11:00:00Z recent\n"
    );
    // The default keeps all three.
    let (_, stdout, _) = retention(&["--now", "2026-11-22T12:00:00Z"], input).await;
    assert_eq!(stdout.matches("recent").count(), 3, "{stdout}");
    // Only one backup, very old: the newest is never dropped.
    let (_, stdout, _) =
        retention(&["--now", "2026-11-22T12:00:00Z"], "2020-02-02T02:02:02Z\n").await;
    assert_eq!(stdout, "keep 2020-02-02T02:02:02Z monthly\n");
}

#[tokio::test]
async fn bad_input_is_refused_with_its_line() {
    let (code, stdout, stderr) = retention(
        &["--now", "2026-11-22T12:00:00Z"],
        "2026-11-20T08:00:00Z\nyesterday\n",
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: line 2: \"yesterday\" is not an RFC 3339 timestamp (like 2026-11-22T15:00:00Z)\n"
    );
    let (code, _, stderr) = retention(&["--now", "soon"], "").await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("\"soon\" is not an RFC 3339 timestamp"),
        "{stderr}"
    );
    let (code, _, stderr) = retention(&["--keep-all-for", "400d"], "").await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("must not be longer"), "{stderr}");
}

use common::{Engine, TestDb, run};
use serde_json::Value;

/// Runs `hearth …` with `env`, returning (success, stdout, stderr).
async fn cli(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, String)],
) -> (bool, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir, args, &env).await;
    let (stdout, stderr) = text(&out);
    (out.status.success(), stdout, stderr)
}

/// Every row of every table of backup `id`, as JSON, from a local-folder store.
fn rows(objects: &std::path::Path, id: &str, second_precision: bool) -> Vec<(String, Vec<Value>)> {
    let day = format!("{}/{}/{}", &id[0..4], &id[4..6], &id[6..8]);
    let dir = objects.join("backups").join(day).join(id).join("db");
    let mut tables = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let raw = zstd::stream::decode_all(&std::fs::read(&path).unwrap()[..]).unwrap();
        let mut values: Vec<Value> = String::from_utf8(raw)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if second_precision {
            // MariaDB's TIMESTAMP keeps whole seconds: compare audit times to the second.
            for v in &mut values {
                if let Some(Value::String(at)) = v.get_mut("at") {
                    at.truncate(19);
                }
            }
        }
        tables.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            values,
        ));
    }
    tables
}

async fn fill(dir: &std::path::Path, env: &[(&str, String)], db: &TestDb) {
    assert!(cli(dir, &["migrate"], env).await.0);
    let mut child = hearth(dir)
        .args(["user", "add", "zoe", "--admin", "--password-stdin"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    assert!(
        cli(dir, &["token", "create", "--name", "laptop"], env)
            .await
            .0
    );
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES \
         ('2026-01-02 03:04:05', 'zoë', 'note', 'ünïcødé ✓ \"quoted\" \\\\ back', '{\"k\": [1, 2]}')",
    )
    .await;
}

/// A backup taken on one engine restores on another with every row equal; a restore
/// refuses a target that is not empty unless forced.
async fn round_trip(from: Engine, to: Engine) {
    let work = tempfile::tempdir().unwrap();
    let source = TestDb::new(from).await;
    let target = TestDb::new(to).await;
    let objects = work.path().join("objects");
    let store = (
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    );
    let mut env = source.env();
    env.push(store.clone());
    fill(work.path(), &env, &source).await;
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
    assert!(ok, "{stderr}");
    let id = stdout.trim().lines().last().unwrap().to_owned();

    let (ok, stdout, stderr) = cli(
        work.path(),
        &["backup", "restore", &id, "--to", &target.url],
        &env,
    )
    .await;
    assert!(ok, "{from:?} → {to:?}: {stderr}");
    assert!(stdout.starts_with("restored "), "{stdout}");
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "restore", &id, "--to", &target.url],
        &env,
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("is not empty"), "{stderr}");
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "restore", &id, "--to", &target.url, "--force"],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");

    // Back up the target too, and compare every row.
    let mut env_target = target.env();
    env_target.push(store);
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env_target).await;
    assert!(ok, "{stderr}");
    let again = stdout.trim().lines().last().unwrap().to_owned();
    let coarse = from == Engine::MySql || to == Engine::MySql;
    let before = rows(&objects, &id, coarse);
    let after = rows(&objects, &again, coarse);
    assert_eq!(before, after, "{from:?} → {to:?}");
    let users = &before
        .iter()
        .find(|(n, _)| n == "users.jsonl.zst")
        .unwrap()
        .1;
    assert_eq!(users[0]["name"], "zoe");
}

#[tokio::test]
async fn sqlite_to_postgres() {
    round_trip(Engine::Sqlite, Engine::Postgres).await;
}

#[tokio::test]
async fn postgres_to_mariadb() {
    round_trip(Engine::Postgres, Engine::MySql).await;
}

#[tokio::test]
async fn mariadb_to_sqlite() {
    round_trip(Engine::MySql, Engine::Sqlite).await;
}

#[tokio::test]
async fn verify_checks_every_part_and_leftovers_are_never_listed() {
    let work = tempfile::tempdir().unwrap();
    let content = common::content_files(&[
        ("site.toml", "title = \"B\"\n"),
        (
            "posts/a.md",
            "+++\ntitle = \"A\"\ndate = 2026-01-01\n+++\nHi\n",
        ),
    ]);
    let db = TestDb::new(Engine::Sqlite).await;
    let objects = work.path().join("objects");
    let mut env = db.env();
    env.push((
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    ));
    env.push(("HEARTH_CONTENT", content.path().display().to_string()));
    fill(work.path(), &env, &db).await;

    // An interrupted run's leftovers: parts without a manifest.
    let leftover = objects.join("backups/2026/11/01/20261101T000000Z-deadbeef/db");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("users.jsonl.zst"), b"partial").unwrap();
    let (ok, stdout, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert!(ok);
    assert_eq!(stdout, "", "an interrupted backup is listed");
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("removed 1 object(s) left by 1 interrupted backup(s)"),
        "{stderr}"
    );
    assert!(!leftover.join("users.jsonl.zst").exists());
    let id = stdout.trim().to_owned();

    // Verify: every checksum, a restore into scratch SQLite, the content archive.
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("users: 1 rows, as the manifest says"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("backup {id} is good")), "{stdout}");
    let (_, stdout, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert!(
        stdout.starts_with(&id) && stdout.trim_end().ends_with("recent verified"),
        "{stdout}"
    );

    // The content folder comes back whole.
    let restored = work.path().join("restored-content");
    let target = TestDb::new(Engine::Sqlite).await;
    let (ok, stdout, stderr) = cli(
        work.path(),
        &[
            "backup",
            "restore",
            &id,
            "--to",
            &target.url,
            "--content",
            restored.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("entries into"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(restored.join("posts/a.md")).unwrap(),
        std::fs::read_to_string(content.path().join("posts/a.md")).unwrap()
    );

    // One flipped byte in a stored part: verify fails and names it.
    let day = format!("{}/{}/{}", &id[0..4], &id[4..6], &id[6..8]);
    let part = objects
        .join("backups")
        .join(day)
        .join(&id)
        .join("db/api_tokens.jsonl.zst");
    let flip = |path: &std::path::Path| {
        let mut bytes = std::fs::read(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    };
    flip(&part);
    let (ok, _, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(!ok);
    assert!(
        stderr.contains("error: db/api_tokens.jsonl.zst: sha256 is"),
        "{stderr}"
    );
    // Flipped back, and one in the content archive instead: that one is named.
    flip(&part);
    let (ok, _, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(ok, "{stderr}");
    flip(
        &part
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("content.tar.zst"),
    );
    let (ok, _, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(!ok);
    assert!(
        stderr.contains("error: content.tar.zst: sha256 is"),
        "{stderr}"
    );
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "verify", "20200101T000000Z-00000000"],
        &env,
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("no backup has the id"), "{stderr}");
}

#[tokio::test]
async fn prune_follows_the_policy_and_needs_a_verified_backup() {
    let work = tempfile::tempdir().unwrap();
    let db = TestDb::new(Engine::Sqlite).await;
    let objects = work.path().join("objects");
    let mut env = db.env();
    env.push((
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    ));
    // Thresholds of milliseconds: every backup is past both by the time prune runs.
    env.push(("HEARTH_BACKUP_KEEP_ALL_FOR", "1ms".to_owned()));
    env.push(("HEARTH_BACKUP_KEEP_DAILY_FOR", "2ms".to_owned()));
    assert!(cli(work.path(), &["migrate"], &env).await.0);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
        assert!(ok, "{stderr}");
        ids.push(stdout.trim().to_owned());
    }
    // The first of the month and the newest stay; the middle one goes, but only once a
    // backup that stays has been verified.
    let (ok, _, stderr) = cli(work.path(), &["backup", "prune", "--dry-run"], &env).await;
    assert!(!ok);
    assert!(stderr.contains("has been verified"), "{stderr}");
    assert!(
        cli(work.path(), &["backup", "verify", &ids[2]], &env)
            .await
            .0
    );
    let (ok, stdout, _) = cli(work.path(), &["backup", "prune", "--dry-run"], &env).await;
    assert!(ok);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("would delete {}", ids[1])),
        "{stdout}"
    );
    let (ok, stdout, _) = cli(work.path(), &["backup", "prune"], &env).await;
    assert!(ok);
    assert!(
        stdout.starts_with(&format!("deleted {}", ids[1])),
        "{stdout}"
    );
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    let listed: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(listed, [ids[0].as_str(), ids[2].as_str()]);

    // `run --verify --prune`, as a timer or CronJob runs it: the new backup is verified,
    // the one it makes redundant goes, and the new id is still the last line.
    let (ok, stdout, stderr) =
        cli(work.path(), &["backup", "run", "--verify", "--prune"], &env).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("verified: every checksum matches"),
        "{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!("deleted {}", ids[2])),
        "{stdout}"
    );
    let newest = lines[1];
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    let rows: Vec<&str> = listed.lines().collect();
    assert_eq!(rows.len(), 2, "{listed}");
    assert!(rows[0].starts_with(&ids[0]), "{listed}");
    assert!(
        rows[1].starts_with(newest) && rows[1].ends_with("verified"),
        "{listed}"
    );
}

/// The same on S3 (moto): run, list, verify, restore.
#[tokio::test]
async fn backups_in_s3() {
    let moto = common::moto::Moto::start("hearth-backups").await;
    let work = tempfile::tempdir().unwrap();
    let source = TestDb::new(Engine::Postgres).await;
    let target = TestDb::new(Engine::Sqlite).await;
    let mut env = source.env();
    env.extend(moto.env("hearth-backups", "prod"));
    fill(work.path(), &env, &source).await;
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
    assert!(ok, "{stderr}");
    let id = stdout.trim().to_owned();
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert!(listed.starts_with(&id), "{listed}");
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("api_tokens: 1 rows"), "{stdout}");
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "restore", &id, "--to", &target.url],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        target
            .query_i64("SELECT COUNT(*) FROM users WHERE name = 'zoe'")
            .await,
        1
    );
    assert_eq!(
        target
            .query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'note'")
            .await,
        1
    );
}

/// `serve` backs up on `backup.schedule`: two replicas on one database take each slot
/// once between them, verify it, and say so in metrics and `/health`.
#[tokio::test]
async fn replicas_take_each_scheduled_backup_once() {
    let work = tempfile::tempdir().unwrap();
    let db = TestDb::new(Engine::Postgres).await;
    let objects = work.path().join("objects");
    let mut env = db.env();
    env.push((
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    ));
    assert!(cli(work.path(), &["migrate"], &env).await.0);
    env.push(("HEARTH_BACKUP_SCHEDULE", "*/2 * * * * *".to_owned()));
    let start = || {
        common::Server::start(common::Start {
            env: env.clone(),
            ..common::Start::default()
        })
    };
    let (mut a, mut b) = (start().await, start().await);
    let taken = |s: &common::Server| {
        s.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("scheduled backup taken and verified"))
            .count()
    };
    // Wait until three slots were taken, by either replica.
    while taken(&a) + taken(&b) < 3 {
        tokio::select! {
            _ = a.wait_for_log_since(a.mark(), |l| l.contains("scheduled backup taken")) => {}
            _ = b.wait_for_log_since(b.mark(), |l| l.contains("scheduled backup taken")) => {}
        }
    }
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    let seconds: Vec<&str> = listed
        .lines()
        .map(|l| l.split('-').next().unwrap())
        .collect();
    let mut distinct = seconds.clone();
    distinct.dedup();
    assert_eq!(seconds, distinct, "a slot was backed up twice:\n{listed}");
    assert!(listed.lines().all(|l| l.ends_with("verified")), "{listed}");
    let winner = if taken(&a) > 0 { &a } else { &b };
    let metrics = winner.get("/metrics").await.text().await.unwrap();
    for name in [
        "hearth_backup_last_success_timestamp_seconds ",
        "hearth_backup_last_attempt_timestamp_seconds ",
        "hearth_backup_duration_seconds ",
        "hearth_backup_size_bytes ",
        "hearth_backup_failures_total 0",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
    let health: Value = winner.get("/health").await.json().await.unwrap();
    assert_eq!(health["checks"]["backups"]["status"], "ok", "{health}");
}

/// A scheduled backup that finds the database down fails cleanly: a log line, the failure
/// counter, `/health` degraded, and nothing half-written in the store.
#[tokio::test]
async fn a_scheduled_backup_with_the_database_down_leaves_nothing() {
    use common::proxy::{Mode, Proxy};
    let work = tempfile::tempdir().unwrap();
    let db = TestDb::new(Engine::Postgres).await;
    let objects = work.path().join("objects");
    let mut env = db.env();
    env.push((
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    ));
    assert!(cli(work.path(), &["migrate"], &env).await.0);
    let proxy = Proxy::start(db.server_addr()).await;
    let served = vec![
        ("HEARTH_DATABASE_URL", db.url_via(proxy.addr)),
        ("HEARTH_DATABASE_TIMEOUT", "1s".to_owned()),
        (
            "HEARTH_STORAGE_URL",
            format!("file://{}", objects.display()),
        ),
        ("HEARTH_BACKUP_SCHEDULE", "*/2 * * * * *".to_owned()),
    ];
    let mut server = common::Server::start(common::Start {
        env: served,
        ..common::Start::default()
    })
    .await;
    proxy.set(Mode::Cut);
    let mark = server.mark();
    server
        .wait_for_log_since(mark, |l| l.contains("scheduled backup failed"))
        .await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let failures = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hearth_backup_failures_total "))
        .unwrap();
    assert!(failures.parse::<f64>().unwrap() >= 1.0, "{metrics}");
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(
        health["checks"]["backups"]["status"], "degraded",
        "{health}"
    );
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert_eq!(listed, "");
    let leftovers = std::fs::read_dir(&objects).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "the failed backup left objects behind");
}

/// `kill -9` while a backup uploads its parts: nothing is listed, and the next run takes
/// over the dead run's lease, removes its leftovers and succeeds.
#[tokio::test]
async fn a_killed_backup_is_never_listed_and_the_next_run_cleans_up() {
    use common::proxy::Proxy;
    let moto = common::moto::Moto::start("hearth-killed").await;
    let work = tempfile::tempdir().unwrap();
    let content = common::content_files(&[("site.toml", "title = \"K\"\n")]);
    let db = TestDb::new(Engine::Sqlite).await;
    let mut env = db.env();
    env.extend(moto.env("hearth-killed", "site"));
    env.push(("HEARTH_CONTENT", content.path().display().to_string()));
    fill(work.path(), &env, &db).await;

    // The store through a proxy that holds the upload of the content part: every table's
    // part is stored by then, the manifest is not.
    let upstream = moto.endpoint.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    proxy.hold_at(b"/content.tar.zst HTTP/1.1");
    let mut held_env: Vec<(&str, String)> = env
        .iter()
        .filter(|(k, _)| *k != "HEARTH_STORAGE_ENDPOINT")
        .cloned()
        .collect();
    held_env.push(("HEARTH_STORAGE_ENDPOINT", format!("http://{}", proxy.addr)));
    let mut child = hearth(work.path())
        .args(["backup", "run"])
        .envs(held_env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::timeout(common::PATIENCE, proxy.held.notified())
        .await
        .expect("the run never reached the content part");
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    let (ok, stdout, stderr) = cli(work.path(), &["backup", "list"], &env).await;
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "", "a killed run is listed");

    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
    assert!(ok, "the run after a killed one failed: {stderr}");
    let tables = 6;
    assert!(
        stderr.contains(&format!(
            "removed {tables} object(s) left by 1 interrupted backup(s)"
        )),
        "{stderr}"
    );
    let id = stdout.trim().to_owned();
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.starts_with(&id), "{listed}");
    let (ok, _, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(ok, "{stderr}");
}

/// With `backup.age_recipients` every part is sealed with age: the store holds nothing
/// readable, and only the identity verifies or restores it.
#[tokio::test]
async fn encrypted_backups_open_only_with_the_identity() {
    let work = tempfile::tempdir().unwrap();
    let content = common::content_files(&[
        ("site.toml", "title = \"Sealed\"\n"),
        ("about.md", "A secret about page\n"),
    ]);
    let db = TestDb::new(Engine::Postgres).await;
    let objects = work.path().join("objects");
    let mut env = db.env();
    env.push((
        "HEARTH_STORAGE_URL",
        format!("file://{}", objects.display()),
    ));
    env.push(("HEARTH_CONTENT", content.path().display().to_string()));
    fill(work.path(), &env, &db).await;

    let identity = work.path().join("backup.key");
    let other = work.path().join("other.key");
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "keygen", "-o", identity.to_str().unwrap()],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    let recipient = stderr
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap()
        .to_owned();
    assert!(recipient.starts_with("age1"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&identity).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (ok, _, stderr) = cli(
        work.path(),
        &["backup", "keygen", "-o", identity.to_str().unwrap()],
        &env,
    )
    .await;
    assert!(!ok, "an identity file was overwritten");
    assert!(stderr.contains("backup.key"), "{stderr}");
    assert!(
        cli(
            work.path(),
            &["backup", "keygen", "-o", other.to_str().unwrap()],
            &env
        )
        .await
        .0
    );

    env.push(("HEARTH_BACKUP_AGE_RECIPIENTS", recipient));
    let (ok, stdout, stderr) = cli(work.path(), &["backup", "run"], &env).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("encrypted with age to 1 recipient(s)"),
        "{stderr}"
    );
    let id = stdout.trim().to_owned();

    // Every stored part is an age file; no plain text of the site or the rows is there.
    let day = format!("{}/{}/{}", &id[0..4], &id[4..6], &id[6..8]);
    let dir = objects.join("backups").join(day).join(&id);
    let mut parts = vec![dir.join("content.tar.zst.age")];
    parts.extend(
        std::fs::read_dir(dir.join("db"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    assert_eq!(parts.len(), 7, "{parts:?}");
    for part in &parts {
        assert!(part.to_string_lossy().ends_with(".age"), "{part:?}");
        let bytes = std::fs::read(part).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{part:?}");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["encryption"], "age");
    assert_eq!(manifest["format_version"], 2);
    let (_, listed, _) = cli(work.path(), &["backup", "list"], &env).await;
    assert!(listed.trim_end().ends_with("encrypted"), "{listed}");

    // Without the identity, or with another one: a clear refusal.
    let (ok, _, stderr) = cli(work.path(), &["backup", "verify", &id], &env).await;
    assert!(!ok);
    assert!(
        stderr.contains(
            "is encrypted with age: give the identity that opens it with --identity FILE"
        ),
        "{stderr}"
    );
    let (ok, _, stderr) = cli(
        work.path(),
        &[
            "backup",
            "verify",
            &id,
            "--identity",
            other.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("no identity in"), "{stderr}");

    // With it (the flag, or the setting): verified, and restored with every row.
    let (ok, stdout, stderr) = cli(
        work.path(),
        &[
            "backup",
            "verify",
            &id,
            "--identity",
            identity.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("users: 1 rows, as the manifest says"),
        "{stdout}"
    );
    let target = TestDb::new(Engine::Sqlite).await;
    let restored = work.path().join("restored");
    let mut with_identity = env.clone();
    with_identity.push(("HEARTH_BACKUP_AGE_IDENTITY", identity.display().to_string()));
    let (ok, _, stderr) = cli(
        work.path(),
        &[
            "backup",
            "restore",
            &id,
            "--to",
            &target.url,
            "--content",
            restored.to_str().unwrap(),
        ],
        &with_identity,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(restored.join("about.md")).unwrap(),
        "A secret about page\n"
    );
    for table in ["users", "api_tokens", "audit_log"] {
        assert_eq!(
            target
                .query_i64(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
            db.query_i64(&format!("SELECT COUNT(*) FROM {table}")).await,
            "{table}"
        );
    }

    // serve verifies what it takes, so it refuses recipients without the identity.
    let (ok, _, stderr) = cli(work.path(), &["serve", "--listen", "127.0.0.1:0"], &env).await;
    assert!(!ok);
    assert!(
        stderr.contains("backup.age_recipients is set but backup.age_identity is not"),
        "{stderr}"
    );
    // A recipient that is not one is a configuration error naming the setting.
    let mut bad = env.clone();
    bad.push(("HEARTH_BACKUP_AGE_RECIPIENTS", "age1nope".to_owned()));
    let (ok, _, stderr) = cli(work.path(), &["backup", "list"], &bad).await;
    assert!(!ok);
    assert!(stderr.contains("HEARTH_BACKUP_AGE_RECIPIENTS"), "{stderr}");
}
