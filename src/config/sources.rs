//! Where setting values come from, in order: defaults, the TOML file, the environment,
//! flags. Values stay text here; `Config::from_raw` gives them their types.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A known setting.
#[derive(Debug)]
pub struct Setting {
    /// Its dotted key in `hearth.toml` (`database.url`).
    pub key: &'static str,
    /// Its built-in default, as text; `None` when it has none.
    pub default: Option<&'static str>,
    /// Another environment variable honoured for it, below its `HEARTH_*` name.
    pub alias: Option<&'static str>,
    /// Whether the value is a secret (never printed back in an error).
    pub secret: bool,
    /// What it does, for `hearth config --list` and the README.
    pub help: &'static str,
}

const fn setting(key: &'static str, default: Option<&'static str>, help: &'static str) -> Setting {
    Setting {
        key,
        default,
        alias: None,
        secret: false,
        help,
    }
}

/// Every setting hearth knows.
pub const SETTINGS: &[Setting] = &[
    setting(
        "listen",
        Some("127.0.0.1:8080"),
        "address `serve` listens on",
    ),
    setting(
        "content",
        None,
        "content folder (default: the demo site built into the binary)",
    ),
    setting(
        "data",
        Some("./data"),
        "folder for the SQLite file and local objects",
    ),
    Setting {
        alias: Some("RUST_LOG"),
        ..setting(
            "log",
            Some("info"),
            "log filter, e.g. `info` or `hearth=debug,warn`",
        )
    },
    setting(
        "log_format",
        Some("auto"),
        "`auto` (JSON unless a terminal), `json` or `text`",
    ),
    Setting {
        alias: Some("DATABASE_URL"),
        secret: true,
        ..setting(
            "database.url",
            None,
            "`sqlite://…`, `postgres://…` or `mysql://…` (default: SQLite in the data folder)",
        )
    },
    setting(
        "database.max_connections",
        Some("10"),
        "connection pool size",
    ),
    setting(
        "database.timeout",
        Some("5s"),
        "how long to wait for a connection",
    ),
    setting(
        "database.migrate_on_start",
        Some("auto"),
        "`serve` migrates first: `auto` (SQLite only), `true` or `false`",
    ),
    setting(
        "server.request_timeout",
        Some("30s"),
        "longest a request may run",
    ),
    setting(
        "server.shutdown_grace",
        Some("25s"),
        "how long in-flight requests may finish after SIGTERM",
    ),
    setting(
        "server.body_limit",
        Some("2MiB"),
        "largest request body accepted",
    ),
    setting(
        "server.trusted_proxies",
        Some(""),
        "addresses or ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed",
    ),
    setting(
        "auth.session_idle",
        Some("1d"),
        "a session unused this long ends",
    ),
    setting(
        "auth.session_lifetime",
        Some("14d"),
        "a session ends this long after sign-in, used or not",
    ),
    setting(
        "storage.url",
        None,
        "where photos and backups go: `file:///path` or `s3://bucket/prefix` (default: the data folder's `objects`)",
    ),
    setting(
        "storage.endpoint",
        None,
        "an S3-compatible endpoint (`http://minio:9000`); default AWS",
    ),
    setting(
        "storage.region",
        None,
        "the S3 region (default: AWS_REGION, else us-east-1)",
    ),
    setting(
        "storage.path_style",
        Some("false"),
        "path-style S3 requests (`endpoint/bucket/key`), as most self-hosted stores need",
    ),
    setting(
        "storage.presign",
        Some("false"),
        "answer photo requests with a redirect to a presigned S3 URL instead of the bytes",
    ),
    setting(
        "photos.max_size",
        Some("20MiB"),
        "the largest photo upload accepted",
    ),
    setting(
        "photos.keep_original",
        Some("false"),
        "keep an original-size copy (metadata stripped) besides the thumbnail and display sizes",
    ),
    setting(
        "backup.schedule",
        Some("0 * * * *"),
        "when `serve` takes a backup (cron, UTC), or `off` (a CronJob runs `hearth backup run`)",
    ),
    setting(
        "backup.keep_all_for",
        Some("30d"),
        "every backup younger than this is kept",
    ),
    setting(
        "backup.keep_daily_for",
        Some("365d"),
        "younger than this, the first backup of each day is kept; older, the first of each month",
    ),
    setting(
        "backup.age_recipients",
        None,
        "encrypt backups with age to these recipients (`age1…`, comma-separated); default: not encrypted",
    ),
    setting(
        "backup.age_identity",
        None,
        "an age identity file that opens encrypted backups, for verify and restore (`serve` needs it to verify what it takes)",
    ),
    setting(
        "build.schedule",
        None,
        "re-render on this cron schedule too, e.g. `0 * * * *` (default: only on changes)",
    ),
    setting(
        "publish.push",
        Some("false"),
        "push the commits that publishing makes in a git content folder",
    ),
    setting(
        "publish.remote",
        Some("origin"),
        "the git remote that publishing pushes to and the webhook fetches from",
    ),
    setting(
        "publish.branch",
        Some("main"),
        "the branch that publishing pushes to and the webhook follows",
    ),
    Setting {
        secret: true,
        ..setting(
            "webhook.secret",
            None,
            "the GitHub webhook's secret; `/hooks/github` answers only when it is set",
        )
    },
];

/// `HEARTH_*` variables that are not settings but are read elsewhere.
const OTHER_VARIABLES: &[&str] = &[
    "HEARTH_CONFIG",
    "HEARTH_TOKEN",
    "HEARTH_GIT_REVISION",
    "HEARTH_BIN",
];

impl Setting {
    /// Its environment variable: `database.url` → `HEARTH_DATABASE_URL`.
    pub fn env_name(&self) -> String {
        format!("HEARTH_{}", self.key.replace('.', "_").to_ascii_uppercase())
    }

    fn find(key: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.key == key)
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A key in a TOML file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => f.write_str(name),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// One line that says which setting is wrong and how. Start-up stops with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// What `Config::load` reads.
#[derive(Debug, Default)]
pub struct LoadOptions {
    /// `--config PATH`: must exist. Without it, `HEARTH_CONFIG`, then `./hearth.toml` if present.
    pub file: Option<PathBuf>,
    /// The environment, as (name, value) pairs.
    pub env: Vec<(String, String)>,
    /// Flag values: (setting key, flag name, value).
    pub flags: Vec<(&'static str, &'static str, String)>,
}

impl LoadOptions {
    /// Reads the process environment.
    pub fn from_process_env() -> Self {
        Self {
            env: std::env::vars().collect(),
            ..Self::default()
        }
    }
}

/// Setting values as text, each with its origin.
#[derive(Debug)]
pub(super) struct RawValues {
    values: BTreeMap<&'static str, (String, Origin)>,
}

impl RawValues {
    pub(super) fn collect(options: LoadOptions) -> Result<(Self, Vec<String>), ConfigError> {
        let mut values = BTreeMap::new();
        for s in SETTINGS {
            if let Some(default) = s.default {
                values.insert(s.key, (default.to_owned(), Origin::Default));
            }
        }
        let env: BTreeMap<&str, &str> = options
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();

        let file = match options.file {
            Some(path) => Some((path, true)),
            None => match env.get("HEARTH_CONFIG") {
                Some(path) => Some((PathBuf::from(path), true)),
                None => Some((PathBuf::from("hearth.toml"), false)),
            },
        };
        if let Some((path, required)) = file {
            read_file(&path, required, &mut values)?;
        }

        for s in SETTINGS {
            if let Some(alias) = s.alias
                && let Some(value) = env.get(alias)
            {
                values.insert(s.key, ((*value).to_owned(), Origin::Env(alias.to_owned())));
            }
            let name = s.env_name();
            if let Some(value) = env.get(name.as_str()) {
                values.insert(s.key, ((*value).to_owned(), Origin::Env(name)));
            }
        }

        let mut warnings = Vec::new();
        let known: Vec<String> = SETTINGS.iter().map(Setting::env_name).collect();
        for name in env.keys().filter(|k| k.starts_with("HEARTH_")) {
            if !known.iter().any(|k| k == name) && !OTHER_VARIABLES.contains(name) {
                let nearest = nearest(name, known.iter().map(String::as_str));
                warnings.push(format!(
                    "unknown environment variable {name} ignored; did you mean {nearest}?"
                ));
            }
        }

        for (key, flag, value) in options.flags {
            values.insert(key, (value, Origin::Flag(flag)));
        }
        Ok((Self { values }, warnings))
    }

    /// The raw value of `key`, if any layer set it.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// Parses `key` with `parse`, whose error completes "… is not <error>".
    pub(super) fn require<'a, T>(
        &'a self,
        key: &'static str,
        parse: impl FnOnce(&'a str) -> Result<T, &'static str>,
    ) -> Result<T, ConfigError> {
        let Some((value, origin)) = self.values.get(key) else {
            return Err(ConfigError(format!("{key}: is required")));
        };
        parse(value).map_err(|what| {
            let name = match origin {
                Origin::File(path) => format!("{}: {key}", path.display()),
                other => other.to_string(),
            };
            let secret = Setting::find(key).is_some_and(|s| s.secret);
            if secret {
                ConfigError(format!("{name}: the value is not {what}"))
            } else {
                ConfigError(format!("{name}: {value:?} is not {what}"))
            }
        })
    }

    pub(super) fn origins(&self) -> BTreeMap<&'static str, Origin> {
        self.values
            .iter()
            .map(|(k, (_, origin))| (*k, origin.clone()))
            .collect()
    }
}

fn read_file(
    path: &PathBuf,
    required: bool,
    values: &mut BTreeMap<&'static str, (String, Origin)>,
) -> Result<(), ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ConfigError(format!(
                "{}: cannot read the configuration file: {e}",
                path.display()
            )));
        }
    };
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start].matches('\n').count() + 1;
                format!(":{line}")
            })
            .unwrap_or_default();
        ConfigError(format!(
            "{}{at}: not valid TOML: {}",
            path.display(),
            e.message()
        ))
    })?;
    let mut flat = Vec::new();
    flatten("", &table, &mut flat);
    for (key, value) in flat {
        let Some(setting) = Setting::find(&key) else {
            let nearest = nearest(&key, SETTINGS.iter().map(|s| s.key));
            return Err(ConfigError(format!(
                "{}: unknown setting `{key}`; did you mean `{nearest}`?",
                path.display()
            )));
        };
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ConfigError(format!(
                    "{}: {key}: expected a single value, found {}",
                    path.display(),
                    value.type_str()
                )));
            }
        };
        values.insert(setting.key, (text, Origin::File(path.clone())));
    }
    Ok(())
}

fn flatten<'a>(prefix: &str, table: &'a toml::Table, out: &mut Vec<(String, &'a toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            other => out.push((key, other)),
        }
    }
}

/// The candidate closest to `name` by edit distance.
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> &'a str {
    candidates
        .min_by_key(|c| strsim::levenshtein(name, c))
        .unwrap_or_default()
}
