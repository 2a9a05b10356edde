//! The gallery: `/photos` (with `?album=`), `/photos/{id}`, rendered per request from the
//! database with the site's templates (`gallery.html`, `photo.html`), revalidated by a
//! tag of the rendered bytes and compressed on the fly; and the files at
//! `/media/<sha256>.<ext>`, from object storage, cached forever (the name is the content).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::App;
use crate::web::page::{self, Page};

/// The routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/photos", get(gallery).layer(crate::web::compression()))
        .route("/photos/{id}", get(photo).layer(crate::web::compression()))
        .route("/media/{file}", get(media))
}

#[derive(Deserialize)]
struct AlbumQuery {
    album: Option<String>,
}

/// A page rendered for this request, or `304 Not Modified` when the client holds the same
/// bytes. The tag is weak: the compression layer may send the page gzip or brotli
/// encoded, which is the same page but not the same bytes.
fn html(request: &HeaderMap, body: String) -> Response {
    let tag = Page::tag_of(body.as_bytes());
    let weak = HeaderValue::from_str(&format!("W/{}", tag.to_str().unwrap_or_default()));
    let mut response = if page::holds(request, &tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(weak) = weak {
        headers.insert(header::ETAG, weak);
    }
    response
}

fn unavailable(what: &str) -> Response {
    tracing::warn!(error = %what, "the gallery cannot be shown");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The gallery cannot be shown right now; try again in a moment.\n",
    )
        .into_response()
}

async fn gallery(
    State(app): State<App>,
    Query(query): Query<AlbumQuery>,
    headers: HeaderMap,
) -> Response {
    let album = query.album.filter(|a| !a.is_empty());
    let photos = match super::list(&app, album.as_deref()).await {
        Ok(photos) => photos,
        Err(e) => return unavailable(&e.to_string()),
    };
    let title = album
        .clone()
        .map_or_else(|| "Photos".to_owned(), |a| format!("Photos: {a}"));
    let items: Vec<_> = photos
        .iter()
        .map(|p| serde_json::json!({ "photo": p, "srcset": p.srcset() }))
        .collect();
    let context = serde_json::json!({ "photos": items, "album": album });
    match app
        .site()
        .render_dynamic("gallery.html", "/photos", &title, context)
    {
        Ok(body) => html(&headers, body),
        Err(e) => {
            tracing::error!(error = %e, "gallery.html does not render");
            crate::site::not_found(&app, &headers)
        }
    }
}

async fn photo(State(app): State<App>, Path(raw): Path<String>, headers: HeaderMap) -> Response {
    let Some(id) = raw.parse::<i64>().ok().filter(|id| *id > 0) else {
        return crate::site::not_found(&app, &headers);
    };
    let photo = match super::get(&app, id).await {
        Ok(photo) => photo,
        Err(super::PhotoFailure::NotFound(_)) => return crate::site::not_found(&app, &headers),
        Err(e) => return unavailable(&e.to_string()),
    };
    let display = photo
        .variants
        .iter()
        .find(|v| v.name == "display")
        .or(photo.variants.first());
    let context =
        serde_json::json!({ "photo": &photo, "display": display, "srcset": photo.srcset() });
    match app
        .site()
        .render_dynamic("photo.html", &photo.url, &photo.title, context)
    {
        Ok(body) => html(&headers, body),
        Err(e) => {
            tracing::error!(error = %e, "photo.html does not render");
            crate::site::not_found(&app, &headers)
        }
    }
}

async fn media(State(app): State<App>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(key) = super::media_key(&file) else {
        return crate::site::not_found(&app, &headers);
    };
    let sha = file.split('.').next().unwrap_or_default();
    let etag = HeaderValue::from_str(&format!("\"{sha}\"")).ok();
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if etag
        .as_ref()
        .is_some_and(|etag| page::holds(&headers, etag))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, cache);
        if let Some(etag) = etag {
            response.headers_mut().insert(header::ETAG, etag);
        }
        return response;
    }
    if app.config.storage.presign {
        match app
            .storage
            .presigned_get(&key, Duration::from_secs(3600))
            .await
        {
            Ok(Some(url)) => {
                let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
                if let Ok(location) = HeaderValue::from_str(url.as_str()) {
                    response.headers_mut().insert(header::LOCATION, location);
                }
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=3000"),
                );
                return response;
            }
            Ok(None) => {}
            Err(e) => return unavailable(&e.to_string()),
        }
    }
    match app.storage.get(&key).await {
        Ok(Some(object)) => {
            let mime = match file.rsplit('.').next() {
                Some("png") => "image/png",
                Some("gif") => "image/gif",
                Some("webp") => "image/webp",
                _ => "image/jpeg",
            };
            let mut response = object.bytes.into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            h.insert(header::CACHE_CONTROL, cache);
            if let Some(etag) = etag {
                h.insert(header::ETAG, etag);
            }
            response
        }
        Ok(None) => crate::site::not_found(&app, &headers),
        Err(e) => unavailable(&e.to_string()),
    }
}
