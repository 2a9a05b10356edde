//! Configuration: built-in defaults, then `hearth.toml`, then `HEARTH_*` environment
//! variables, then command-line flags. Every value is parsed into its type here, so an
//! invalid setting stops start-up with one line naming the setting and what is wrong.

mod sources;
pub mod types;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use sources::{ConfigError, LoadOptions, Origin, SETTINGS, Setting};
pub use types::{DatabaseUrl, Engine, IpNet, SecretString};

use sources::RawValues;
use types::{format_duration, format_size, parse_duration, parse_size};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, text when it is.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// Whether `serve` applies pending migrations before it starts answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateOnStart {
    /// Yes for SQLite (nobody else can), no for a server database (a Job does it).
    Auto,
    /// Always migrate on start.
    Always,
    /// Never migrate on start.
    Never,
}

/// The effective configuration of one hearth process.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address `serve` listens on.
    pub listen: SocketAddr,
    /// The content folder; `None` serves the demo site built into the binary.
    pub content: Option<PathBuf>,
    /// Where the SQLite file and local objects live.
    pub data: PathBuf,
    /// The log filter (`info`, `hearth=debug,sqlx=warn`, …).
    pub log: String,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The database connection.
    pub database: DatabaseConfig,
    /// The HTTP server's limits.
    pub server: ServerConfig,
    /// When to re-render besides content changes.
    pub build_schedule: Option<crate::schedule::Schedule>,
    /// Publishing into the content folder.
    pub publish: PublishConfig,
    /// The secret GitHub signs webhook deliveries with.
    pub webhook_secret: Option<SecretString>,
    /// How long sessions last.
    pub sessions: crate::auth::session::Policy,
    /// Where objects (photos, backups) are kept.
    pub storage: StorageConfig,
    /// Photo uploads.
    pub photos: PhotosConfig,
    /// Backups.
    pub backup: BackupConfig,
}

/// Backup settings.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// When `serve` takes a backup; `None` when off.
    pub schedule: Option<crate::schedule::Schedule>,
    /// Every backup younger than this is kept.
    pub keep_all: chrono::Duration,
    /// Younger than this, the first of each day; older, the first of each month.
    pub keep_daily: chrono::Duration,
    /// age recipients new backups are sealed to (validated `age1…` strings); none: plain.
    pub recipients: Vec<String>,
    /// The age identity file that opens sealed backups.
    pub identity: Option<std::path::PathBuf>,
}

/// Object storage settings.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// The store.
    pub url: crate::storage::StorageUrl,
    /// S3 settings (credentials come from the standard AWS variables).
    pub s3: crate::storage::S3Options,
    /// Redirect photo requests to presigned URLs.
    pub presign: bool,
}

/// Photo settings.
#[derive(Debug, Clone, Copy)]
pub struct PhotosConfig {
    /// The largest upload, in bytes.
    pub max_size: u64,
    /// Keep an original-size copy.
    pub keep_original: bool,
}

/// Publishing settings.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Whether commits made by publishing are pushed.
    pub push: bool,
    /// The remote pushed to and fetched from.
    pub remote: String,
    /// The branch pushed to and followed.
    pub branch: String,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Where the database is; defaults to `<data>/hearth.db`.
    pub url: DatabaseUrl,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub timeout: Duration,
    /// Whether `serve` migrates before it starts.
    pub migrate_on_start: MigrateOnStart,
}

/// HTTP server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long in-flight requests may run after SIGTERM before the process exits.
    pub shutdown_grace: Duration,
    /// The largest request body accepted, in bytes.
    pub body_limit: u64,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// A loaded configuration, with where each value came from and what deserves a warning.
#[derive(Debug)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Config,
    /// Where each setting's value came from, by key.
    pub origins: BTreeMap<&'static str, Origin>,
    /// Things worth a warning once logging is up (unknown `HEARTH_*` variables).
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the configuration from every layer in `options`.
    pub fn load(options: LoadOptions) -> Result<Loaded, ConfigError> {
        let (raw, warnings) = RawValues::collect(options)?;
        let config = Config::from_raw(&raw)?;
        Ok(Loaded {
            config,
            origins: raw.origins(),
            warnings,
        })
    }

    fn from_raw(raw: &RawValues) -> Result<Config, ConfigError> {
        let data = PathBuf::from(raw.require("data", non_empty)?);
        let objects = crate::storage::StorageUrl::local(&data.join("objects"));
        let url = match raw.get("database.url") {
            Some(_) => raw.require("database.url", DatabaseUrl::parse)?,
            None => DatabaseUrl::sqlite_file(&data.join("hearth.db")),
        };
        Ok(Config {
            listen: raw.require("listen", |v| {
                v.parse::<SocketAddr>()
                    .map_err(|_| "a socket address (like 127.0.0.1:8080)")
            })?,
            content: raw
                .get("content")
                .map(|_| raw.require("content", non_empty).map(PathBuf::from))
                .transpose()?,
            data,
            log: raw.require("log", |v| {
                tracing_subscriber::EnvFilter::try_new(v)
                    .map(|_| v.to_owned())
                    .map_err(|_| "a log filter (like info or hearth=debug,warn)")
            })?,
            log_format: raw.require("log_format", |v| match v {
                "auto" => Ok(LogFormat::Auto),
                "json" => Ok(LogFormat::Json),
                "text" => Ok(LogFormat::Text),
                _ => Err("one of auto, json, text"),
            })?,
            database: DatabaseConfig {
                url,
                max_connections: raw.require("database.max_connections", |v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or("a number of connections between 1 and 1000")
                })?,
                timeout: raw.require("database.timeout", parse_duration)?,
                migrate_on_start: raw.require("database.migrate_on_start", |v| match v {
                    "auto" => Ok(MigrateOnStart::Auto),
                    "true" | "always" => Ok(MigrateOnStart::Always),
                    "false" | "never" => Ok(MigrateOnStart::Never),
                    _ => Err("one of auto, true, false"),
                })?,
            },
            server: ServerConfig {
                request_timeout: raw.require("server.request_timeout", positive_duration)?,
                shutdown_grace: raw.require("server.shutdown_grace", parse_duration)?,
                body_limit: raw.require("server.body_limit", parse_size)?,
                trusted_proxies: raw.require("server.trusted_proxies", |v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(IpNet::parse)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| "a comma-separated list of addresses or ranges (like 10.0.0.0/8, 127.0.0.1)")
                })?,
            },
            storage: StorageConfig {
                url: match raw.get("storage.url") {
                    Some(_) => raw.require("storage.url", crate::storage::StorageUrl::parse)?,
                    None => objects,
                },
                s3: crate::storage::S3Options {
                    endpoint: raw
                        .get("storage.endpoint")
                        .map(|_| raw.require("storage.endpoint", http_url).map(str::to_owned))
                        .transpose()?,
                    region: raw.get("storage.region").map(str::to_owned),
                    path_style: raw.require("storage.path_style", boolean)?,
                    credentials: None,
                },
                presign: raw.require("storage.presign", boolean)?,
            },
            photos: PhotosConfig {
                max_size: raw.require("photos.max_size", parse_size)?,
                keep_original: raw.require("photos.keep_original", boolean)?,
            },
            backup: {
                let chrono = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
                let keep_all = chrono(raw.require("backup.keep_all_for", positive_duration)?);
                let keep_daily = chrono(raw.require("backup.keep_daily_for", positive_duration)?);
                if keep_all > keep_daily {
                    return Err(ConfigError(
                        "backup.keep_all_for must not be longer than backup.keep_daily_for".to_owned(),
                    ));
                }
                let schedule = match raw.get("backup.schedule") {
                    Some("off") => None,
                    _ => Some(raw.require("backup.schedule", crate::schedule::Schedule::parse)?),
                };
                let recipients = raw
                    .get("backup.age_recipients")
                    .map(|_| raw.require("backup.age_recipients", age_recipients))
                    .transpose()?
                    .unwrap_or_default();
                BackupConfig {
                    schedule,
                    keep_all,
                    keep_daily,
                    recipients,
                    identity: raw
                        .get("backup.age_identity")
                        .map(|_| raw.require("backup.age_identity", non_empty).map(std::path::PathBuf::from))
                        .transpose()?,
                }
            },
            sessions: crate::auth::session::Policy {
                idle: raw.require("auth.session_idle", positive_duration)?,
                lifetime: raw.require("auth.session_lifetime", positive_duration)?,
            },
            build_schedule: raw
                .get("build.schedule")
                .map(|_| raw.require("build.schedule", crate::schedule::Schedule::parse))
                .transpose()?,
            publish: PublishConfig {
                push: raw.require("publish.push", boolean)?,
                remote: raw.require("publish.remote", git_name)?.to_owned(),
                branch: raw.require("publish.branch", git_name)?.to_owned(),
            },
            webhook_secret: raw
                .get("webhook.secret")
                .map(|_| {
                    raw.require("webhook.secret", non_empty)
                        .map(SecretString::new)
                })
                .transpose()?,
        })
    }

    /// Whether `serve` should migrate before starting, given the engine.
    pub fn migrates_on_start(&self) -> bool {
        match self.database.migrate_on_start {
            MigrateOnStart::Always => true,
            MigrateOnStart::Never => false,
            MigrateOnStart::Auto => self.database.url.engine() == Engine::Sqlite,
        }
    }

    /// Each setting's effective value as a TOML literal, secrets redacted.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let path = |p: &Path| quoted(&p.display().to_string());
        vec![
            ("listen", quoted(&self.listen.to_string())),
            (
                "content",
                self.content
                    .as_deref()
                    .map_or_else(|| quoted("(built-in demo site)"), path),
            ),
            ("data", path(&self.data)),
            ("log", quoted(&self.log)),
            (
                "log_format",
                quoted(match self.log_format {
                    LogFormat::Auto => "auto",
                    LogFormat::Json => "json",
                    LogFormat::Text => "text",
                }),
            ),
            ("database.url", quoted(&self.database.url.redacted())),
            (
                "database.max_connections",
                self.database.max_connections.to_string(),
            ),
            (
                "database.timeout",
                quoted(&format_duration(self.database.timeout)),
            ),
            (
                "database.migrate_on_start",
                quoted(match self.database.migrate_on_start {
                    MigrateOnStart::Auto => "auto",
                    MigrateOnStart::Always => "true",
                    MigrateOnStart::Never => "false",
                }),
            ),
            (
                "server.request_timeout",
                quoted(&format_duration(self.server.request_timeout)),
            ),
            (
                "server.shutdown_grace",
                quoted(&format_duration(self.server.shutdown_grace)),
            ),
            (
                "server.body_limit",
                quoted(&format_size(self.server.body_limit)),
            ),
            (
                "server.trusted_proxies",
                quoted(
                    &self
                        .server
                        .trusted_proxies
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ),
            (
                "auth.session_idle",
                quoted(&format_duration(self.sessions.idle)),
            ),
            (
                "auth.session_lifetime",
                quoted(&format_duration(self.sessions.lifetime)),
            ),
            ("storage.url", quoted(&self.storage.url.to_string())),
            (
                "storage.endpoint",
                quoted(self.storage.s3.endpoint.as_deref().unwrap_or("(AWS)")),
            ),
            (
                "storage.region",
                quoted(
                    self.storage
                        .s3
                        .region
                        .as_deref()
                        .unwrap_or("(from AWS_REGION)"),
                ),
            ),
            ("storage.path_style", self.storage.s3.path_style.to_string()),
            ("storage.presign", self.storage.presign.to_string()),
            (
                "photos.max_size",
                quoted(&format_size(self.photos.max_size)),
            ),
            (
                "photos.keep_original",
                self.photos.keep_original.to_string(),
            ),
            (
                "backup.schedule",
                quoted(self.backup.schedule.as_ref().map_or("off", |s| s.as_str())),
            ),
            (
                "backup.keep_all_for",
                quoted(&format_duration(
                    self.backup.keep_all.to_std().unwrap_or_default(),
                )),
            ),
            (
                "backup.keep_daily_for",
                quoted(&format_duration(
                    self.backup.keep_daily.to_std().unwrap_or_default(),
                )),
            ),
            (
                "backup.age_recipients",
                quoted(&if self.backup.recipients.is_empty() {
                    "(none: backups are not encrypted)".to_owned()
                } else {
                    self.backup.recipients.join(", ")
                }),
            ),
            (
                "backup.age_identity",
                quoted(
                    &self
                        .backup
                        .identity
                        .as_ref()
                        .map_or_else(|| "(none)".to_owned(), |p| p.display().to_string()),
                ),
            ),
            (
                "build.schedule",
                self.build_schedule
                    .as_ref()
                    .map_or_else(|| quoted("(none)"), |s| quoted(s.as_str())),
            ),
            ("publish.push", self.publish.push.to_string()),
            ("publish.remote", quoted(&self.publish.remote)),
            ("publish.branch", quoted(&self.publish.branch)),
            (
                "webhook.secret",
                quoted(if self.webhook_secret.is_some() {
                    "********"
                } else {
                    "(none)"
                }),
            ),
        ]
    }
}

impl Loaded {
    /// The effective configuration as a TOML document, each value annotated with where
    /// it came from. Secrets are redacted.
    pub fn render(&self) -> String {
        let mut out = String::from("# effective configuration; secrets are redacted\n");
        let mut section = "";
        for (key, value) in self.config.entries() {
            let (table, name) = key.rsplit_once('.').unwrap_or(("", key));
            if table != section {
                out.push_str(&format!("\n[{table}]\n"));
                section = table;
            }
            let origin = self
                .origins
                .get(key)
                .map_or_else(|| "default".to_owned(), Origin::to_string);
            out.push_str(&format!("{name} = {value}  # {origin}\n"));
        }
        out
    }
}

fn non_empty(v: &str) -> Result<&str, &'static str> {
    if v.trim().is_empty() {
        Err("a path (it is empty)")
    } else {
        Ok(v)
    }
}

/// age recipients, comma-separated.
fn age_recipients(v: &str) -> Result<Vec<String>, &'static str> {
    let list: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if list.is_empty()
        || list
            .iter()
            .any(|r| crate::backup::crypt::parse_recipient(r).is_err())
    {
        Err("a comma-separated list of age X25519 recipients (age1…)")
    } else {
        Ok(list)
    }
}

fn http_url(v: &str) -> Result<&str, &'static str> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(v),
        _ => Err("an http:// or https:// address"),
    }
}

fn boolean(v: &str) -> Result<bool, &'static str> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("true or false"),
    }
}

/// A git remote or branch name: plain enough to pass to git as one argument.
fn git_name(v: &str) -> Result<&str, &'static str> {
    let ok = !v.is_empty()
        && !v.starts_with(['-', '/', '.'])
        && !v.contains("..")
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    if ok {
        Ok(v)
    } else {
        Err("a git remote or branch name (letters, digits, - _ . /)")
    }
}

fn positive_duration(v: &str) -> Result<Duration, &'static str> {
    parse_duration(v).and_then(|d| {
        if d.is_zero() {
            Err("a duration above zero")
        } else {
            Ok(d)
        }
    })
}

#[cfg(test)]
mod tests;
