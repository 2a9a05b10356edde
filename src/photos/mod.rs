//! Photos: uploaded through the API, checked and re-encoded (`image`), their files kept
//! in object storage under content-addressed keys (`photos/ab/abcd….jpg`), their metadata
//! in the database; shown by the gallery pages (`pages`) and served from `/media/`.

pub mod api;
pub mod image;
pub mod pages;

use std::collections::HashSet;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::image::{Limits, PhotoError, Processed};
use crate::App;
use crate::auth::Caller;
use crate::db::entities::photo;
use crate::db::{audit, now_ms};
use crate::storage::StorageError;

/// Where a photo's files live in storage.
const PREFIX: &str = "photos";

/// A stored file of a photo, as the `variants` column keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredVariant {
    name: String,
    key: String,
    width: u32,
    height: u32,
    mime: String,
    size: u64,
    sha256: String,
}

/// A file of a photo, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Variant {
    /// `thumb` (at most 400 px), `display` (at most 1600 px) or `original`.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `image/jpeg` or `image/png`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Its address (content-addressed, cached forever).
    pub url: String,
}

/// A photo.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Photo {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// A longer description (may be empty).
    pub caption: String,
    /// Its album (may be empty).
    pub album: String,
    /// The uploaded format: `jpeg`, `png`, `gif` or `webp`.
    pub format: String,
    /// Width in pixels, after the camera's orientation is applied.
    pub width: u32,
    /// Height in pixels, after orientation.
    pub height: u32,
    /// Its page in the gallery.
    pub url: String,
    /// Its files, smallest first.
    pub variants: Vec<Variant>,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When its text last changed.
    pub updated_at: DateTime<Utc>,
}

impl Photo {
    /// The `srcset` of its thumbnail and display sizes.
    pub fn srcset(&self) -> String {
        self.variants
            .iter()
            .filter(|v| v.name != "original")
            .map(|v| format!("{} {}w", v.url, v.width))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The text of a photo, as uploaded or changed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Its title (1 to 300 characters).
    pub title: Option<String>,
    /// A longer description (at most 5000 characters).
    pub caption: Option<String>,
    /// Its album (at most 100 characters).
    pub album: Option<String>,
}

/// Why a photo request failed. Each kind maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum PhotoFailure {
    /// The file is not an acceptable image.
    #[error(transparent)]
    Image(#[from] PhotoError),
    /// A text field breaks its rule (422).
    #[error("{0}")]
    BadField(String),
    /// No such photo (404).
    #[error("no photo has the id {0}")]
    NotFound(i64),
    /// Object storage failed (503).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The database failed (503).
    #[error("the database failed: {0}")]
    Db(#[from] DbErr),
}

fn check_text(text: &Text, creating: bool) -> Result<(), PhotoFailure> {
    let bad = |m: &str| Err(PhotoFailure::BadField(m.to_owned()));
    match &text.title {
        Some(t) if t.trim().is_empty() || t.chars().count() > 300 => {
            return bad("title: give 1 to 300 characters");
        }
        None if creating => return bad("title: a photo needs a title"),
        _ => {}
    }
    if text
        .caption
        .as_ref()
        .is_some_and(|c| c.chars().count() > 5000)
    {
        return bad("caption: at most 5000 characters");
    }
    if text.album.as_ref().is_some_and(|a| a.chars().count() > 100) {
        return bad("album: at most 100 characters");
    }
    let control = |s: &Option<String>| {
        s.as_ref().is_some_and(|s| {
            s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        })
    };
    if control(&text.title) || control(&text.caption) || control(&text.album) {
        return bad("title, caption and album may not contain control characters");
    }
    Ok(())
}

fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "jpg",
    }
}

fn key_of(sha256: &str, mime: &str) -> String {
    format!("{PREFIX}/{}/{sha256}.{}", &sha256[..2], extension(mime))
}

/// The `/media/` address of a stored file.
fn media_url(variant: &StoredVariant) -> String {
    format!("/media/{}.{}", variant.sha256, extension(&variant.mime))
}

/// The storage key a `/media/<sha256>.<ext>` file name stands for, if it is one.
pub fn media_key(file: &str) -> Option<String> {
    let (sha, ext) = file.split_once('.')?;
    let valid = sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && matches!(ext, "jpg" | "png" | "gif" | "webp");
    valid.then(|| format!("{PREFIX}/{}/{sha}.{ext}", &sha[..2]))
}

fn time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn variants_of(row: &photo::Model) -> Vec<StoredVariant> {
    serde_json::from_str(&row.variants).unwrap_or_default()
}

fn shown(row: photo::Model) -> Photo {
    let variants = variants_of(&row)
        .into_iter()
        .map(|v| Variant {
            url: media_url(&v),
            name: v.name,
            width: v.width,
            height: v.height,
            mime: v.mime,
            size: v.size,
        })
        .collect();
    Photo {
        url: format!("/photos/{}", row.id),
        id: row.id,
        title: row.title,
        caption: row.caption,
        album: row.album,
        format: row.format,
        width: u32::try_from(row.width).unwrap_or(0),
        height: u32::try_from(row.height).unwrap_or(0),
        variants,
        uploaded_by: row.uploaded_by,
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
    }
}

/// Checks, re-encodes and stores an upload. Nothing is stored when anything fails.
pub async fn upload(
    app: &App,
    caller: &Caller,
    bytes: Bytes,
    text: Text,
) -> Result<Photo, PhotoFailure> {
    check_text(&text, true)?;
    let limits = Limits {
        max_bytes: app.config.photos.max_size,
        ..Limits::default()
    };
    let keep = app.config.photos.keep_original;
    let processed: Processed =
        tokio::task::spawn_blocking(move || image::process(&bytes, &limits, keep))
            .await
            .map_err(|e| PhotoFailure::Db(DbErr::Custom(format!("processing panicked: {e}"))))??;
    let mut stored = Vec::new();
    for v in &processed.variants {
        let key = key_of(&v.sha256, v.mime);
        if let Err(e) = app
            .storage
            .put(&key, Bytes::from(v.bytes.clone()), v.mime)
            .await
        {
            forget_unreferenced(app, &stored).await;
            return Err(e.into());
        }
        stored.push(StoredVariant {
            name: v.name.to_owned(),
            key,
            width: v.width,
            height: v.height,
            mime: v.mime.to_owned(),
            size: v.bytes.len() as u64,
            sha256: v.sha256.clone(),
        });
    }
    let now = now_ms();
    let row = photo::ActiveModel {
        title: Set(text.title.unwrap_or_default().trim().to_owned()),
        caption: Set(text.caption.unwrap_or_default()),
        album: Set(text.album.unwrap_or_default().trim().to_owned()),
        format: Set(processed.format.name().to_ascii_lowercase()),
        width: Set(i32::try_from(processed.width).unwrap_or(i32::MAX)),
        height: Set(i32::try_from(processed.height).unwrap_or(i32::MAX)),
        variants: Set(serde_json::to_string(&stored).unwrap_or_default()),
        uploaded_by: Set(caller.name.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let row = match row.insert(app.db.conn()).await {
        Ok(row) => row,
        Err(e) => {
            forget_unreferenced(app, &stored).await;
            return Err(e.into());
        }
    };
    let detail = serde_json::json!({ "title": row.title });
    audit::note(
        app.db.conn(),
        &caller.name,
        "photo.upload",
        Some(&row.id.to_string()),
        Some(detail),
    )
    .await;
    Ok(shown(row))
}

/// Removes objects no photo refers to (after a failed upload, or a deletion).
async fn forget_unreferenced(app: &App, variants: &[StoredVariant]) {
    let referenced = match referenced_keys(app).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell which objects are still used; `hearth photos gc` will");
            return;
        }
    };
    for v in variants {
        if !referenced.contains(&v.key)
            && let Err(e) = app.storage.delete(&v.key).await
        {
            tracing::warn!(key = v.key, error = %e, "could not remove an object; `hearth photos gc` will");
        }
    }
}

async fn referenced_keys(app: &App) -> Result<HashSet<String>, DbErr> {
    Ok(photo::Entity::find()
        .all(app.db.conn())
        .await?
        .iter()
        .flat_map(variants_of)
        .map(|v| v.key)
        .collect())
}

/// Every photo (of one album, when given), newest first.
pub async fn list(app: &App, album: Option<&str>) -> Result<Vec<Photo>, DbErr> {
    let mut query = photo::Entity::find().order_by_desc(photo::Column::Id);
    if let Some(album) = album {
        query = query.filter(photo::Column::Album.eq(album));
    }
    Ok(query
        .all(app.db.conn())
        .await?
        .into_iter()
        .map(shown)
        .collect())
}

/// One photo.
pub async fn get(app: &App, id: i64) -> Result<Photo, PhotoFailure> {
    photo::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
        .map(shown)
        .ok_or(PhotoFailure::NotFound(id))
}

/// Changes a photo's text.
pub async fn update(
    app: &App,
    caller: &Caller,
    id: i64,
    text: Text,
) -> Result<Photo, PhotoFailure> {
    check_text(&text, false)?;
    let row = photo::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
        .ok_or(PhotoFailure::NotFound(id))?;
    let mut row: photo::ActiveModel = row.into();
    if let Some(title) = text.title {
        row.title = Set(title.trim().to_owned());
    }
    if let Some(caption) = text.caption {
        row.caption = Set(caption);
    }
    if let Some(album) = text.album {
        row.album = Set(album.trim().to_owned());
    }
    row.updated_at = Set(now_ms());
    let row = row.update(app.db.conn()).await?;
    audit::note(
        app.db.conn(),
        &caller.name,
        "photo.update",
        Some(&id.to_string()),
        None,
    )
    .await;
    Ok(shown(row))
}

/// Deletes a photo: its row, then the files no other photo uses.
pub async fn delete(app: &App, caller: &Caller, id: i64) -> Result<(), PhotoFailure> {
    let row = photo::Entity::find_by_id(id)
        .one(app.db.conn())
        .await?
        .ok_or(PhotoFailure::NotFound(id))?;
    let variants = variants_of(&row);
    photo::Entity::delete_by_id(id).exec(app.db.conn()).await?;
    forget_unreferenced(app, &variants).await;
    audit::note(
        app.db.conn(),
        &caller.name,
        "photo.delete",
        Some(&id.to_string()),
        None,
    )
    .await;
    Ok(())
}

/// What `hearth photos gc` found.
#[derive(Debug, Default)]
pub struct Garbage {
    /// Objects under `photos/` that no photo refers to.
    pub orphan_objects: Vec<(String, u64)>,
    /// Photos whose files are missing from storage.
    pub broken_photos: Vec<(i64, String)>,
}

/// Finds orphans both ways; removes them unless `dry_run`.
pub async fn gc(
    db: &crate::db::Db,
    storage: &crate::storage::Storage,
    dry_run: bool,
) -> Result<Garbage, PhotoFailure> {
    let rows = photo::Entity::find().all(db.conn()).await?;
    let objects = storage.list(PREFIX).await?;
    let present: HashSet<&str> = objects.iter().map(|m| m.key.as_str()).collect();
    let mut referenced = HashSet::new();
    let mut garbage = Garbage::default();
    for row in &rows {
        let variants = variants_of(row);
        if variants.iter().any(|v| !present.contains(v.key.as_str())) {
            // Its remaining files go with it, as orphans.
            garbage.broken_photos.push((row.id, row.title.clone()));
            continue;
        }
        referenced.extend(variants.into_iter().map(|v| v.key));
    }
    garbage.orphan_objects = objects
        .iter()
        .filter(|m| !referenced.contains(&m.key))
        .map(|m| (m.key.clone(), m.size))
        .collect();
    if !dry_run {
        for (key, _) in &garbage.orphan_objects {
            storage.delete(key).await?;
        }
        for (id, _) in &garbage.broken_photos {
            photo::Entity::delete_by_id(*id).exec(db.conn()).await?;
        }
        let detail = serde_json::json!({
            "objects": garbage.orphan_objects.len(),
            "photos": garbage.broken_photos.len(),
        });
        audit::record(db.conn(), "cli", "photos.gc", None, Some(detail)).await?;
    }
    Ok(garbage)
}
