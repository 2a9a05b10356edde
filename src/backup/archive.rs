//! Backups in object storage: `backups/YYYY/MM/DD/<id>/` holds each database table as
//! zstd-compressed JSON lines (`db/<table>.jsonl.zst`), the content folder as
//! `content.tar.zst`, and `manifest.json`, written last: a backup without a manifest was
//! interrupted, is never listed, and is removed by the next run. With age recipients
//! configured each part is also sealed (`….age`, see `crypt`).

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypt::Keys;
use super::dump::{self, DumpError, TABLES};
use crate::db::Db;
use crate::db::migrations::SCHEMA_VERSION;
use crate::storage::{Storage, StorageError};
use crate::web::page::hex;

/// Where backups live in the store.
pub const PREFIX: &str = "backups";
/// The manifest's file name.
const MANIFEST: &str = "manifest.json";
/// The newest manifest format this hearth reads; it writes 1, or 2 for sealed parts.
pub const FORMAT_VERSION: u32 = 2;
/// The content folder's part.
const CONTENT: &str = "content.tar.zst";
/// zstd's level: fast, and most of the gain.
const LEVEL: i32 = 3;

/// One stored file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Part {
    /// Its name inside the backup (`db/users.jsonl.zst`).
    pub name: String,
    /// Its size in bytes, as stored.
    pub size: u64,
    /// sha256 of the stored bytes.
    pub sha256: String,
    /// Rows, for a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// What a backup is, written last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest's format.
    pub format_version: u32,
    /// The backup's id: `<UTC time>-<random>`.
    pub id: String,
    /// When the snapshot was taken.
    pub created_at: DateTime<Utc>,
    /// The hearth that made it.
    pub hearth_version: String,
    /// The schema version of the database it was taken from.
    pub schema_version: i64,
    /// The engine it was taken from (`postgres`, …): informative only.
    pub engine: String,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Its files.
    pub parts: Vec<Part>,
    /// `age` when the parts are sealed with age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

impl Manifest {
    /// The total stored size.
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    fn prefix(&self) -> String {
        prefix_of(&self.id, self.created_at)
    }

    /// The content folder's part, if the backup has one.
    fn content(&self) -> Option<&Part> {
        self.parts
            .iter()
            .find(|p| p.name.strip_suffix(".age").unwrap_or(&p.name) == CONTENT)
    }
}

/// Why a backup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Dumping or restoring the database failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// No such backup.
    #[error("no backup has the id {0:?} (see `hearth backup list`)")]
    Unknown(String),
    /// A stored part is not what the manifest says.
    #[error("{part}: {what}")]
    Corrupt {
        /// The part.
        part: String,
        /// What is wrong.
        what: String,
    },
    /// The target of a restore is not empty.
    #[error(
        "{0} is not empty; restore into an empty one, or pass --force to replace what it holds"
    )]
    NotEmpty(String),
    /// Anything else, said in one line.
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError::Other(e.to_string())
    }
}

fn prefix_of(id: &str, at: DateTime<Utc>) -> String {
    format!("{PREFIX}/{}/{id}", at.format("%Y/%m/%d"))
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, BackupError> {
    zstd::stream::encode_all(raw, LEVEL).map_err(BackupError::from)
}

/// A new backup id: the time to the second and 8 random hex digits.
fn new_id(at: DateTime<Utc>) -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!("{}-{}", at.format("%Y%m%dT%H%M%SZ"), hex(&random))
}

/// The time in an id, which also places it in the store.
fn id_time(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.split('-').next()?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// What `run` reports as it goes: (what, done, total).
pub type Progress<'a> = &'a mut (dyn FnMut(&str, usize, usize) + Send);

/// Takes a backup: every table from one snapshot, and the content folder if there is one.
pub async fn run(
    db: &Db,
    storage: &Storage,
    content: Option<&Path>,
    keys: &Keys,
    progress: Progress<'_>,
) -> Result<Manifest, BackupError> {
    let created_at = Utc::now();
    let id = new_id(created_at);
    let prefix = prefix_of(&id, created_at);
    // The content folder is listed first, so that progress can count its files.
    let files = match content {
        Some(dir) => {
            let dir = dir.to_owned();
            Some(
                tokio::task::spawn_blocking(move || walk(&dir).map(|files| (dir, files)))
                    .await
                    .map_err(|e| {
                        BackupError::Other(format!("listing the content folder: {e}"))
                    })??,
            )
        }
        None => None,
    };
    let content_steps = files.as_ref().map_or(0, |(_, f)| f.len().max(1));
    let total = TABLES.len() + content_steps + 1;
    let mut parts = Vec::new();
    let mut tables = BTreeMap::new();
    let snapshot = dump::snapshot(db).await?;
    for (i, table) in TABLES.iter().enumerate() {
        progress(table, i, total);
        let mut raw = Vec::new();
        let rows = dump::dump(&snapshot, table, &mut raw).await?;
        let stored = compress(&raw)?;
        let part = store_part(
            storage,
            &prefix,
            keys,
            format!("db/{table}.jsonl.zst"),
            stored,
            Some(rows),
        )
        .await?;
        parts.push(part);
        tables.insert((*table).to_owned(), rows);
    }
    drop(snapshot);
    if let Some((dir, files)) = files {
        progress("content", TABLES.len(), total);
        let (sender, mut packed) = tokio::sync::mpsc::unbounded_channel();
        let packing = tokio::task::spawn_blocking(move || {
            pack(&dir, &files, |n| {
                let _ = sender.send(n);
            })
        });
        while let Some(n) = packed.recv().await {
            progress("content", TABLES.len() + n, total);
        }
        let stored = packing
            .await
            .map_err(|e| BackupError::Other(format!("packing the content folder: {e}")))??;
        let part = store_part(storage, &prefix, keys, CONTENT.to_owned(), stored, None).await?;
        parts.push(part);
    }
    progress("manifest", total - 1, total);
    let manifest = Manifest {
        format_version: if keys.seals() { 2 } else { 1 },
        id,
        created_at,
        hearth_version: crate::telemetry::VERSION.to_owned(),
        schema_version: SCHEMA_VERSION,
        engine: db.engine().name().to_owned(),
        tables,
        parts,
        encryption: keys.seals().then(|| "age".to_owned()),
    };
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Other(e.to_string()))?;
    storage
        .put(
            &format!("{prefix}/{MANIFEST}"),
            Bytes::from(json),
            "application/json",
        )
        .await?;
    progress("done", total, total);
    Ok(manifest)
}

/// Seals `stored` if there are recipients, puts it under `prefix`, and describes it.
async fn store_part(
    storage: &Storage,
    prefix: &str,
    keys: &Keys,
    mut name: String,
    mut stored: Vec<u8>,
    rows: Option<u64>,
) -> Result<Part, BackupError> {
    let mut media_type = "application/zstd";
    if keys.seals() {
        stored = keys.seal(&stored)?;
        name.push_str(".age");
        media_type = "application/octet-stream";
    }
    let part = Part {
        name,
        size: stored.len() as u64,
        sha256: sha256(&stored),
        rows,
    };
    storage
        .put(
            &format!("{prefix}/{}", part.name),
            Bytes::from(stored),
            media_type,
        )
        .await?;
    Ok(part)
}

/// The content folder's entries, relative, folders before what they hold, without `.git`.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let relative = path
                .strip_prefix(dir)
                .map_err(|e| BackupError::Other(e.to_string()))?
                .to_owned();
            if relative == Path::new(".git") {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(path);
            }
            out.push(relative);
        }
    }
    Ok(out)
}

/// The listed entries of `dir` as a zstd-compressed tar, calling `packed` with the count
/// after each. An entry removed since it was listed is left out.
fn pack(
    dir: &Path,
    entries: &[PathBuf],
    mut packed: impl FnMut(usize),
) -> Result<Vec<u8>, BackupError> {
    let encoder = zstd::stream::Encoder::new(Vec::new(), LEVEL)?;
    let mut tar = tar::Builder::new(encoder);
    tar.follow_symlinks(false);
    for (n, relative) in entries.iter().enumerate() {
        let path = dir.join(relative);
        let added = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => tar.append_dir(relative, &path),
            Ok(_) => tar.append_path_with_name(&path, relative),
            Err(e) => Err(e),
        };
        match added {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
        packed(n + 1);
    }
    Ok(tar.into_inner()?.finish()?)
}

/// Every complete backup (those with a manifest), oldest first, and the prefixes of
/// interrupted ones.
pub async fn list(storage: &Storage) -> Result<(Vec<Manifest>, Vec<String>), BackupError> {
    let objects = storage.list(PREFIX).await?;
    let mut prefixes: BTreeMap<String, bool> = BTreeMap::new();
    for object in &objects {
        let (prefix, file) = match object.key.rsplit_once("/db/") {
            Some((prefix, _)) => (prefix.to_owned(), ""),
            None => match object.key.rsplit_once('/') {
                Some((prefix, file)) => (prefix.to_owned(), file),
                None => continue,
            },
        };
        let complete = prefixes.entry(prefix).or_default();
        *complete |= file == MANIFEST;
    }
    let mut manifests = Vec::new();
    let mut interrupted = Vec::new();
    for (prefix, complete) in prefixes {
        if !complete {
            interrupted.push(prefix);
            continue;
        }
        let object = storage
            .get(&format!("{prefix}/{MANIFEST}"))
            .await?
            .ok_or_else(|| {
                BackupError::Other(format!("{prefix}/{MANIFEST} vanished while listing"))
            })?;
        let manifest: Manifest =
            serde_json::from_slice(&object.bytes).map_err(|e| BackupError::Corrupt {
                part: format!("{prefix}/{MANIFEST}"),
                what: format!("not a manifest: {e}"),
            })?;
        manifests.push(manifest);
    }
    manifests.sort_by_key(|m| m.created_at);
    Ok((manifests, interrupted))
}

/// Removes what interrupted runs left; returns how many objects went.
pub async fn clean_up(storage: &Storage, interrupted: &[String]) -> Result<usize, BackupError> {
    let mut removed = 0;
    for prefix in interrupted {
        for object in storage.list(prefix).await? {
            storage.delete(&object.key).await?;
            removed += 1;
        }
        tracing::info!(prefix, "removed the leftovers of an interrupted backup");
    }
    Ok(removed)
}

/// The manifest of backup `id`.
pub async fn manifest(storage: &Storage, id: &str) -> Result<Manifest, BackupError> {
    let at = id_time(id).ok_or_else(|| BackupError::Unknown(id.to_owned()))?;
    let key = format!("{}/{MANIFEST}", prefix_of(id, at));
    if id.contains(['/', '.']) || id.len() > 64 {
        return Err(BackupError::Unknown(id.to_owned()));
    }
    let object = storage
        .get(&key)
        .await?
        .ok_or_else(|| BackupError::Unknown(id.to_owned()))?;
    let manifest: Manifest =
        serde_json::from_slice(&object.bytes).map_err(|e| BackupError::Corrupt {
            part: MANIFEST.to_owned(),
            what: format!("not a manifest: {e}"),
        })?;
    if manifest.format_version > FORMAT_VERSION {
        return Err(BackupError::Other(format!(
            "the manifest's format {} is newer than this hearth reads ({FORMAT_VERSION})",
            manifest.format_version
        )));
    }
    Ok(manifest)
}

/// Downloads a part and checks its size and checksum.
async fn fetch(storage: &Storage, manifest: &Manifest, part: &Part) -> Result<Bytes, BackupError> {
    let key = format!("{}/{}", manifest.prefix(), part.name);
    let object = storage
        .get(&key)
        .await?
        .ok_or_else(|| BackupError::Corrupt {
            part: part.name.clone(),
            what: "missing from the store".to_owned(),
        })?;
    if object.bytes.len() as u64 != part.size {
        return Err(BackupError::Corrupt {
            part: part.name.clone(),
            what: format!(
                "{} bytes stored, the manifest says {}",
                object.bytes.len(),
                part.size
            ),
        });
    }
    let actual = sha256(&object.bytes);
    if actual != part.sha256 {
        return Err(BackupError::Corrupt {
            part: part.name.clone(),
            what: format!("sha256 is {actual}, the manifest says {}", part.sha256),
        });
    }
    Ok(object.bytes)
}

/// Downloads a part, checks it, and opens it if it is sealed: the zstd bytes.
async fn fetch_open(
    storage: &Storage,
    manifest: &Manifest,
    part: &Part,
    keys: &Keys,
) -> Result<Bytes, BackupError> {
    let bytes = fetch(storage, manifest, part).await?;
    if part.name.ends_with(".age") {
        Ok(Bytes::from(keys.open(&part.name, &bytes)?))
    } else {
        Ok(bytes)
    }
}

/// Restores backup `manifest` into `db`, all tables in one transaction: on failure the
/// target is as it was. The target is first migrated to the backup's schema version.
pub async fn restore_database(
    storage: &Storage,
    manifest: &Manifest,
    db: &Db,
    keys: &Keys,
    force: bool,
    progress: Progress<'_>,
) -> Result<BTreeMap<String, u64>, BackupError> {
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(BackupError::Other(format!(
            "the backup is at schema version {}, newer than this hearth's {SCHEMA_VERSION}: restore it with a newer hearth",
            manifest.schema_version
        )));
    }
    // Judged before migrating: migrating writes its own audit rows.
    if !force {
        for table in TABLES {
            // A table the target does not have yet is empty.
            if dump::count(db.conn(), table).await.unwrap_or(0) > 0 {
                return Err(BackupError::NotEmpty(format!(
                    "the database ({table} has rows)"
                )));
            }
        }
    }
    crate::db::migrate::migrate(
        db,
        Some(manifest.schema_version.max(1)),
        std::time::Duration::from_secs(60),
        |_| {},
    )
    .await
    .map_err(|e| BackupError::Other(format!("migrating the target: {e}")))?;
    let total = manifest.parts.len();
    let mut blobs = Vec::new();
    for (i, part) in manifest
        .parts
        .iter()
        .filter(|p| p.name.starts_with("db/"))
        .enumerate()
    {
        progress(&part.name, i, total);
        let table = part
            .name
            .strip_prefix("db/")
            .map(|n| n.strip_suffix(".age").unwrap_or(n))
            .and_then(|n| n.strip_suffix(".jsonl.zst"))
            .unwrap_or_default()
            .to_owned();
        let bytes = fetch_open(storage, manifest, part, keys).await?;
        let raw = zstd::stream::decode_all(&bytes[..]).map_err(|e| BackupError::Corrupt {
            part: part.name.clone(),
            what: format!("does not decompress: {e}"),
        })?;
        blobs.push((table, raw));
    }
    let txn = sea_orm::TransactionTrait::begin(db.conn())
        .await
        .map_err(DumpError::from)?;
    let result = async {
        // Empty, or to be replaced: either way only the backup's rows remain.
        dump::clear(&txn).await?;
        let mut restored = BTreeMap::new();
        for (table, raw) in &blobs {
            let rows = dump::restore(&txn, table, &mut BufReader::new(&raw[..])).await?;
            restored.insert(table.clone(), rows);
        }
        dump::fix_sequences(&txn).await?;
        Ok(restored)
    }
    .await;
    match result {
        Ok(restored) => {
            txn.commit().await.map_err(DumpError::from)?;
            progress("done", total, total);
            Ok(restored)
        }
        Err(e) => {
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// Restores the content folder into `dir`: unpacked beside it, then moved into place.
pub async fn restore_content(
    storage: &Storage,
    manifest: &Manifest,
    dir: &Path,
    keys: &Keys,
    force: bool,
) -> Result<usize, BackupError> {
    let part = manifest
        .content()
        .ok_or_else(|| BackupError::Other("this backup has no content folder".to_owned()))?;
    let bytes = fetch_open(storage, manifest, part, keys).await?;
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || unpack(&bytes, &dir, force))
        .await
        .map_err(|e| BackupError::Other(format!("unpacking: {e}")))?
}

fn unpack(bytes: &[u8], dir: &Path, force: bool) -> Result<usize, BackupError> {
    let occupied = std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if occupied && !force {
        return Err(BackupError::NotEmpty(dir.display().to_string()));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".hearth-restore-")
        .tempdir_in(parent)?;
    let mut archive = tar::Archive::new(zstd::stream::Decoder::new(bytes)?);
    let mut files = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        // `unpack_in` refuses paths that would leave the folder.
        if entry.unpack_in(staging.path())? {
            files += 1;
        }
    }
    let staged: PathBuf = staging.keep();
    if occupied {
        let old = parent.join(format!(".hearth-replaced-{}", std::process::id()));
        std::fs::rename(dir, &old)?;
        std::fs::rename(&staged, dir)?;
        std::fs::remove_dir_all(&old)?;
    } else {
        let _ = std::fs::remove_dir(dir);
        std::fs::rename(&staged, dir)?;
    }
    Ok(files)
}

/// What `verify` found.
#[derive(Debug)]
pub struct Verified {
    /// Rows per table after restoring into a scratch SQLite database.
    pub tables: BTreeMap<String, u64>,
    /// Files in the content folder's archive.
    pub content_files: Option<usize>,
}

/// Downloads every part, checks every checksum, restores the database into a scratch
/// SQLite file and compares its row counts with the manifest.
pub async fn verify(
    storage: &Storage,
    id: &str,
    keys: &Keys,
    progress: Progress<'_>,
) -> Result<Verified, BackupError> {
    let manifest = manifest(storage, id).await?;
    // The restore below downloads and checks the tables' parts, and the content step its
    // archive: any other part is checked here, so that each is downloaded once.
    let content = manifest.content().map(|p| p.name.as_str());
    for part in manifest
        .parts
        .iter()
        .filter(|p| !p.name.starts_with("db/") && Some(p.name.as_str()) != content)
    {
        fetch(storage, &manifest, part).await?;
    }
    let scratch = tempfile::tempdir()?;
    let config = crate::config::DatabaseConfig {
        url: crate::config::DatabaseUrl::sqlite_file(&scratch.path().join("verify.db")),
        max_connections: 1,
        timeout: std::time::Duration::from_secs(30),
        migrate_on_start: crate::config::MigrateOnStart::Never,
    };
    let db = Db::connect(&config).await.map_err(DumpError::from)?;
    let tables = restore_database(storage, &manifest, &db, keys, false, progress).await;
    db.close().await;
    let tables = tables?;
    for (table, expected) in &manifest.tables {
        let restored = tables.get(table).copied().unwrap_or(0);
        if restored != *expected {
            return Err(BackupError::Corrupt {
                part: format!(
                    "db/{table}.jsonl.zst{}",
                    if manifest.encryption.is_some() {
                        ".age"
                    } else {
                        ""
                    }
                ),
                what: format!("{restored} rows restored, the manifest says {expected}"),
            });
        }
    }
    let content_files = match manifest.content() {
        Some(part) => {
            let bytes = fetch_open(storage, &manifest, part, keys).await?;
            let count = tokio::task::spawn_blocking(move || -> Result<usize, std::io::Error> {
                let mut archive = tar::Archive::new(zstd::stream::Decoder::new(&bytes[..])?);
                let mut n = 0;
                for entry in archive.entries()? {
                    let mut entry = entry?;
                    std::io::copy(&mut entry, &mut std::io::sink())?;
                    n += 1;
                }
                Ok(n)
            })
            .await
            .map_err(|e| BackupError::Other(e.to_string()))?
            .map_err(|e| BackupError::Corrupt {
                part: part.name.clone(),
                what: format!("does not unpack: {e}"),
            })?;
            Some(count)
        }
        None => None,
    };
    Ok(Verified {
        tables,
        content_files,
    })
}

/// Records that a backup was verified (a `verified.json` beside its manifest).
pub async fn mark_verified(storage: &Storage, manifest: &Manifest) -> Result<(), BackupError> {
    let json = serde_json::json!({ "verified_at": Utc::now(), "by": crate::telemetry::VERSION });
    storage
        .put(
            &format!("{}/verified.json", manifest.prefix()),
            Bytes::from(json.to_string()),
            "application/json",
        )
        .await?;
    Ok(())
}

/// Whether a backup was ever verified.
pub async fn is_verified(storage: &Storage, manifest: &Manifest) -> Result<bool, BackupError> {
    Ok(storage
        .head(&format!("{}/verified.json", manifest.prefix()))
        .await?
        .is_some())
}

/// Deletes a backup: the manifest first, so it stops being listed at once.
pub async fn delete(storage: &Storage, manifest: &Manifest) -> Result<(), BackupError> {
    let prefix = manifest.prefix();
    storage.delete(&format!("{prefix}/{MANIFEST}")).await?;
    for object in storage.list(&prefix).await? {
        storage.delete(&object.key).await?;
    }
    Ok(())
}

impl Manifest {
    /// The created-at time as `backup list` prints it.
    pub fn when(&self) -> String {
        self.created_at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}
