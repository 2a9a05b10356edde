use super::*;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::load(LoadOptions {
        env: env(pairs),
        file: Some(empty_file()),
        ..LoadOptions::default()
    })
}

fn empty_file() -> PathBuf {
    let file = tempfile::NamedTempFile::new().unwrap();
    file.into_temp_path().keep().unwrap()
}

#[test]
fn defaults_need_nothing() {
    let loaded = load(&[]).unwrap();
    let c = loaded.config;
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database.url.engine(), Engine::Sqlite);
    assert!(c.database.url.expose().contains("data/hearth.db"));
    assert!(c.migrates_on_start());
    assert_eq!(c.server.shutdown_grace, Duration::from_secs(25));
    assert!(loaded.warnings.is_empty());
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "listen = \"127.0.0.1:1000\"\n[server]\nbody_limit = \"1MiB\""
    )
    .unwrap();
    let loaded = Config::load(LoadOptions {
        file: Some(file.path().to_owned()),
        env: env(&[("HEARTH_LISTEN", "127.0.0.1:2000")]),
        flags: vec![("data", "--data", "/srv/hearth".into())],
    })
    .unwrap();
    assert_eq!(loaded.config.listen.port(), 2000);
    assert_eq!(loaded.config.server.body_limit, 1 << 20);
    assert_eq!(loaded.config.data, PathBuf::from("/srv/hearth"));
    assert_eq!(loaded.origins["data"], Origin::Flag("--data"));
    assert_eq!(
        loaded.origins["listen"],
        Origin::Env("HEARTH_LISTEN".into())
    );

    let loaded = Config::load(LoadOptions {
        file: Some(file.path().to_owned()),
        env: env(&[("HEARTH_LISTEN", "127.0.0.1:2000")]),
        flags: vec![("listen", "--listen", "127.0.0.1:3000".into())],
    })
    .unwrap();
    assert_eq!(loaded.config.listen.port(), 3000);
}

#[test]
fn invalid_values_name_the_setting() {
    let err = load(&[("HEARTH_LISTEN", "abc")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "HEARTH_LISTEN: \"abc\" is not a socket address (like 127.0.0.1:8080)"
    );
    let err = load(&[("HEARTH_SERVER_SHUTDOWN_GRACE", "soon")]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("HEARTH_SERVER_SHUTDOWN_GRACE: \"soon\" is not a duration")
    );
}

#[test]
fn invalid_secrets_are_not_echoed() {
    let err = load(&[("DATABASE_URL", "oracle://u:topsecret@h/db")]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("DATABASE_URL: the value is not a database URL")
    );
    assert!(!err.to_string().contains("topsecret"));
}

#[test]
fn hearth_database_url_wins_over_database_url() {
    let loaded = load(&[
        ("DATABASE_URL", "postgres://a@h/one"),
        ("HEARTH_DATABASE_URL", "postgres://a@h/two"),
    ])
    .unwrap();
    assert!(loaded.config.database.url.expose().ends_with("/two"));
    assert!(!loaded.config.migrates_on_start());
}

#[test]
fn unknown_variables_warn_with_the_nearest_name() {
    let loaded = load(&[("HEARTH_LISTN", "x"), ("HEARTH_CONFIG", "elsewhere.toml")]).unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("HEARTH_LISTN"));
    assert!(loaded.warnings[0].contains("did you mean HEARTH_LISTEN?"));
}

#[test]
fn unknown_file_keys_are_errors_with_the_nearest_key() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "[database]\nulr = \"x\"").unwrap();
    let err = Config::load(LoadOptions {
        file: Some(file.path().to_owned()),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("unknown setting `database.ulr`; did you mean `database.url`?")
    );
}

#[test]
fn malformed_toml_names_the_line() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "listen = \"127.0.0.1:1\"\ndata = ").unwrap();
    let err = Config::load(LoadOptions {
        file: Some(file.path().to_owned()),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains(":2: not valid TOML"), "{err}");
}

#[test]
fn render_redacts_the_password_and_shows_origins() {
    let loaded = load(&[("DATABASE_URL", "postgres://app:pw123@db/hearth")]).unwrap();
    let text = loaded.render();
    assert!(!text.contains("pw123"));
    assert!(text.contains("url = \"postgres://app:********@db/hearth\"  # DATABASE_URL"));
    assert!(text.contains("[server]"));
    // The rendering is itself valid TOML.
    text.parse::<toml::Table>().unwrap();
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = include_str!("../../README.md");
    for s in SETTINGS {
        assert!(
            readme.contains(&format!("| `{}` |", s.key)),
            "README lacks {}",
            s.key
        );
        assert!(
            readme.contains(&s.env_name()),
            "README lacks {}",
            s.env_name()
        );
    }
}
