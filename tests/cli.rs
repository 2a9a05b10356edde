//! The command line: help, version, configuration errors and `hearth config`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{run, text};

#[tokio::test]
async fn help_lists_the_roles_and_version_names_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--help"], &[]).await;
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    for role in ["serve", "migrate", "config"] {
        assert!(
            stdout.contains(&format!("\n  {role} ")),
            "{role} missing from:\n{stdout}"
        );
    }

    let out = run(dir.path(), &["--version"], &[]).await;
    let (stdout, _) = text(&out);
    let expected = format!("hearth {} (", env!("CARGO_PKG_VERSION"));
    assert!(stdout.starts_with(&expected), "{stdout}");
    let revision = stdout
        .trim()
        .rsplit_once('(')
        .unwrap()
        .1
        .trim_end_matches(')');
    assert!(!revision.is_empty());
}

#[tokio::test]
async fn an_invalid_setting_stops_with_exit_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["serve"],
            vec![("HEARTH_LISTEN", "abc")],
            "error: HEARTH_LISTEN: \"abc\" is not a socket address (like 127.0.0.1:8080)",
        ),
        (
            vec!["serve", "--listen", "nowhere"],
            vec![],
            "error: --listen: \"nowhere\" is not a socket address (like 127.0.0.1:8080)",
        ),
        (
            vec!["migrate", "status"],
            vec![("DATABASE_URL", "oracle://scott:tiger@db/x")],
            "error: DATABASE_URL: the value is not a database URL (expected sqlite://, postgres:// or mysql://)",
        ),
        (
            vec!["config"],
            vec![("HEARTH_SERVER_BODY_LIMIT", "huge")],
            "error: HEARTH_SERVER_BODY_LIMIT: \"huge\" is not a size (like 512KiB, 2MiB or 1GB)",
        ),
    ];
    for (args, env, expected) in cases {
        let out = run(dir.path(), &args, &env).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr, format!("{expected}\n"));
        assert!(stdout.is_empty());
        assert!(!stderr.contains("tiger"));
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created when the config is invalid"
    );
}

#[tokio::test]
async fn a_bad_config_file_names_file_and_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hearth.toml"),
        "[server]\nshutdown_grace = \"forever\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["config"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out).1,
        "error: hearth.toml: server.shutdown_grace: \"forever\" is not a duration (like 500ms, 30s, 5m, 1h or 14d)\n"
    );

    let out = run(dir.path(), &["--config", "missing.toml", "config"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .starts_with("error: missing.toml: cannot read the configuration file")
    );
}

#[tokio::test]
async fn config_shows_layers_redacts_secrets_and_warns_about_unknown_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hearth.toml"),
        "listen = \"127.0.0.1:9000\"\n[server]\nbody_limit = \"1MiB\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["--data", "/srv/hearth", "config"],
        &[
            (
                "DATABASE_URL",
                "postgres://app:pa55word@db.internal:5432/hearth",
            ),
            ("HEARTH_LISTEN", "0.0.0.0:8080"),
            ("HEARTH_DATABSE_URL", "typo"),
        ],
    )
    .await;
    assert!(out.status.success());
    let (stdout, stderr) = text(&out);
    assert!(!stdout.contains("pa55word") && !stderr.contains("pa55word"));
    assert!(
        stdout.contains("listen = \"0.0.0.0:8080\"  # HEARTH_LISTEN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("data = \"/srv/hearth\"  # --data"),
        "{stdout}"
    );
    assert!(
        stdout.contains("body_limit = \"1MiB\"  # hearth.toml"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("url = \"postgres://app:********@db.internal:5432/hearth\"  # DATABASE_URL")
    );
    assert!(stdout.contains("shutdown_grace = \"25s\"  # default"));
    assert!(
        stderr.contains("unknown environment variable HEARTH_DATABSE_URL ignored; did you mean HEARTH_DATABASE_URL?"),
        "{stderr}"
    );
}
