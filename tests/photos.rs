//! Photos, black-box, on SQLite with the local folder and on PostgreSQL with a real S3
//! server (moto): upload with the camera's orientation applied and every bit of metadata
//! gone, the gallery (revalidated, compressed), the media files and their caching, bad files refused with nothing
//! stored, changing and deleting, presigned redirects, and `hearth photos gc`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Cursor, Read};

use common::moto::Moto;
use common::{Engine, Server, Start, TestDb, client, run, text};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

const BUCKET: &str = "hearth-photos";

/// A `width`×`height` JPEG whose EXIF says "rotate 90° clockwise" and carries a GPS tag.
fn rotated_jpeg(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .unwrap();
    // TIFF, little-endian: IFD0 with Orientation = 6 and a GPSInfo pointer to an IFD
    // holding GPSLatitudeRef = "N".
    let mut tiff: Vec<u8> = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    tiff.extend([2, 0]);
    tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend([0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend([1, 0]);
    tiff.extend([0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(&tiff);
    let length = u16::try_from(app1.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(length.to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn form(bytes: Vec<u8>, file_name: &str, title: &str) -> Form {
    Form::new()
        .part("file", Part::bytes(bytes).file_name(file_name.to_owned()))
        .text("title", title.to_owned())
        .text("album", "Holidays".to_owned())
        .text("caption", "By the sea".to_owned())
}

async fn upload(server: &Server, token: &str, form: Form) -> reqwest::Response {
    client()
        .post(server.url("/api/v1/photos"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// GET `path` with `If-None-Match: tag`.
async fn revalidate(server: &Server, path: &str, tag: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .header(IF_NONE_MATCH, tag)
        .send()
        .await
        .unwrap()
}

async fn token(server: &Server, env: &[(&str, &str)]) -> String {
    let out = run(&server.dir, &["token", "create", "--name", "camera"], env).await;
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out).0.trim().to_owned()
}

async fn gc(server: &Server, env: &[(&str, &str)], dry_run: bool) -> String {
    let mut args = vec!["photos", "gc"];
    if dry_run {
        args.push("--dry-run");
    }
    let out = run(&server.dir, &args, env).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    stdout
}

async fn photos(engine: Engine, s3: Option<&Moto>) {
    let db = TestDb::new(engine).await;
    let mut env = db.env();
    if let Some(moto) = s3 {
        env.extend(moto.env(BUCKET, "site"));
    }
    let cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let scratch = tempfile::tempdir().unwrap();
    assert!(
        run(scratch.path(), &["migrate"], &cli_env)
            .await
            .status
            .success()
    );
    let server = Server::start(Start {
        env: env.clone(),
        ..Start::default()
    })
    .await;
    let token = token(&server, &cli_env).await;
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(health["checks"]["storage"]["status"], "ok", "{health}");

    // A 300×200 photo taken with the camera turned: stored 200×300.
    let response = upload(
        &server,
        &token,
        form(rotated_jpeg(300, 200), "IMG_0001.JPG", "Sunset"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let photo: Value = response.json().await.unwrap();
    assert_eq!(location, photo["url"].as_str().unwrap());
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(200), Some(300))
    );
    let names: Vec<&str> = photo["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["thumb", "display"],
        "no original unless photos.keep_original"
    );

    // The files: no metadata, the orientation applied, cached forever by their hash.
    for variant in photo["variants"].as_array().unwrap() {
        let url = variant["url"].as_str().unwrap();
        let response = server.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(response.headers()[CONTENT_TYPE], "image/jpeg");
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
        let bytes = response.bytes().await.unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{url} keeps EXIF");
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert!(
            decoded.height() > decoded.width(),
            "{url} is not turned upright"
        );
        let again = client()
            .get(server.url(url))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }

    // The gallery pages, with responsive images, revalidated by a tag of their bytes and
    // compressed on the fly.
    let response = server.get("/photos").await;
    let gallery_tag = response.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(gallery_tag.starts_with("W/\""), "{gallery_tag}");
    let gallery = response.text().await.unwrap();
    assert!(gallery.contains("alt=\"Sunset\""), "{gallery}");
    assert!(gallery.contains(" 200w"), "{gallery}");
    let again = revalidate(&server, "/photos", &gallery_tag).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], gallery_tag.as_str());
    let gzip = client()
        .get(server.url("/photos"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(gzip.headers()[ETAG], gallery_tag.as_str());
    let mut inflated = String::new();
    flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..])
        .read_to_string(&mut inflated)
        .unwrap();
    assert_eq!(inflated, gallery);
    let page = server.get(&location).await;
    assert_eq!(page.status(), StatusCode::OK, "{}", server.log_text());
    let page_tag = page.headers()[ETAG].to_str().unwrap().to_owned();
    assert_eq!(
        revalidate(&server, &location, &page_tag).await.status(),
        StatusCode::NOT_MODIFIED
    );
    let page = page.text().await.unwrap();
    assert!(
        page.contains("By the sea") && page.contains("srcset="),
        "{page}"
    );
    assert_eq!(
        server.get("/photos/999999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/photos?album=Holidays").await.status(),
        StatusCode::OK
    );

    // Bad files: judged by their bytes, refused, and nothing is stored.
    let before = gc(&server, &cli_env, true).await;
    let response = upload(
        &server,
        &token,
        form(b"just some text, not a picture".to_vec(), "cat.jpg", "Text"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let jpeg = rotated_jpeg(300, 200);
    let response = upload(
        &server,
        &token,
        form(jpeg[..jpeg.len() / 2].to_vec(), "half.jpg", "Half"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = upload(&server, &token, Form::new().text("title", "No file")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = upload(&server, &token, form(rotated_jpeg(30, 20), "x.jpg", "")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = client()
        .post(server.url("/api/v1/photos"))
        .multipart(form(rotated_jpeg(30, 20), "x.jpg", "Anon"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        gc(&server, &cli_env, true).await,
        before,
        "a refused upload left something behind"
    );
    let list: Value = client()
        .get(server.url("/api/v1/photos"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["photos"].as_array().unwrap().len(), 1);

    // Change the text; delete; the files go with it.
    let id = photo["id"].as_i64().unwrap();
    let changed: Value = client()
        .patch(server.url(&format!("/api/v1/photos/{id}")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "Sunset, again"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["title"], "Sunset, again");
    assert_eq!(changed["album"], "Holidays");
    // The photo's page changed: its old tag no longer matches.
    let response = revalidate(&server, &location, &page_tag).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(response.headers()[ETAG], page_tag.as_str());
    assert!(response.text().await.unwrap().contains("Sunset, again"));
    let response = client()
        .patch(server.url(&format!("/api/v1/photos/{id}")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let display = photo["variants"][1]["url"].as_str().unwrap().to_owned();
    let response = client()
        .delete(server.url(&format!("/api/v1/photos/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.get(&display).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        gc(&server, &cli_env, true).await,
        "",
        "deleting left files behind"
    );

    // gc: files whose row is gone, and a photo whose files are gone.
    let orphaned: Value = upload(
        &server,
        &token,
        form(rotated_jpeg(640, 480), "a.jpg", "Orphaned"),
    )
    .await
    .json()
    .await
    .unwrap();
    db.execute(&format!("DELETE FROM photos WHERE id = {}", orphaned["id"]))
        .await;
    let broken: Value = upload(
        &server,
        &token,
        form(rotated_jpeg(480, 640), "b.jpg", "Broken"),
    )
    .await
    .json()
    .await
    .unwrap();
    let thumb = broken["variants"][0]["url"].as_str().unwrap();
    let sha = thumb.trim_start_matches("/media/").trim_end_matches(".jpg");
    let key = format!("photos/{}/{sha}.jpg", &sha[..2]);
    match s3 {
        Some(moto) => moto.delete(BUCKET, &format!("site/{key}")).await,
        None => std::fs::remove_file(server.dir.join("data/objects").join(&key)).unwrap(),
    }
    let report = gc(&server, &cli_env, true).await;
    assert_eq!(report.matches("would remove object").count(), 3, "{report}");
    assert_eq!(report.matches("would remove photo").count(), 1, "{report}");
    assert!(report.contains("\"Broken\""), "{report}");
    let report = gc(&server, &cli_env, false).await;
    assert_eq!(report.matches("removed").count(), 4, "{report}");
    assert_eq!(gc(&server, &cli_env, true).await, "");
    let list: Value = client()
        .get(server.url("/api/v1/photos"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["photos"], serde_json::json!([]));
}

#[tokio::test]
async fn photos_on_sqlite_and_a_local_folder() {
    photos(Engine::Sqlite, None).await;
}

#[tokio::test]
async fn photos_on_postgres_and_s3() {
    let moto = Moto::start(BUCKET).await;
    photos(Engine::Postgres, Some(&moto)).await;
}

#[tokio::test]
async fn limits_originals_and_presigned_redirects() {
    let moto = Moto::start(BUCKET).await;
    let mut env = moto.env(BUCKET, "presigned");
    env.push(("HEARTH_PHOTOS_MAX_SIZE", "64KiB".to_owned()));
    env.push(("HEARTH_PHOTOS_KEEP_ORIGINAL", "true".to_owned()));
    env.push(("HEARTH_STORAGE_PRESIGN", "true".to_owned()));
    let server = Server::start(Start {
        env: env.clone(),
        ..Start::default()
    })
    .await;
    let cli_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let token = token(&server, &cli_env).await;

    // Over photos.max_size: 413, as a problem document.
    let noise = image::RgbImage::from_fn(400, 400, |x, y| {
        image::Rgb([(x * 7 + y * 13) as u8, (x * y) as u8, (x ^ y) as u8])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(noise)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert!(png.len() > 64 * 1024);
    let response = upload(&server, &token, form(png, "big.png", "Too big")).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");

    // keep_original adds an original, still without metadata; presign redirects to S3.
    let photo: Value = upload(
        &server,
        &token,
        form(rotated_jpeg(120, 80), "o.jpg", "Original"),
    )
    .await
    .json()
    .await
    .unwrap();
    let original = photo["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "original")
        .unwrap();
    assert_eq!(
        (original["width"].as_u64(), original["height"].as_u64()),
        (Some(80), Some(120))
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(server.url(original["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    let presigned = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(presigned.starts_with(&moto.endpoint), "{presigned}");
    let bytes = reqwest::get(&presigned)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!bytes.windows(4).any(|w| w == b"Exif"));
    assert_eq!(image::load_from_memory(&bytes).unwrap().height(), 120);
}
