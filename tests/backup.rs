//! `hearth backup`, black-box. So far: `backup retention`, the policy as a command.

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
