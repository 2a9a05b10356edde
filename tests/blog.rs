//! The blog over HTTP: posts in TOML or YAML front matter, folders with images, pages of
//! the list, tags, drafts, scheduled posts, and the feed and sitemap checked by real
//! readers (feedparser, xmllint with the sitemaps.org schema).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, content_files, serve_content as serve};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

const SITE: &str =
    "title = \"Blogger\"\nbase_url = \"https://blog.example.org\"\nauthor = \"Bo Logger\"\n";
const RESUME: &str = r#"{"basics": {"name": "Bo Logger"}}"#;

fn post(title: &str, date: &str, extra: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndate = {date}\n{extra}\n+++\n{body}\n")
}

async fn page(server: &Server, path: &str) -> (StatusCode, String) {
    let response = server.get(path).await;
    (response.status(), response.text().await.unwrap())
}

/// A blog: two public posts (one a folder with an image, in YAML), a draft, a post
/// scheduled for much later, and `extra` more files.
fn blog(extra: &[(&str, String)]) -> tempfile::TempDir {
    let first = post(
        "First & <Best>",
        "2026-01-10",
        "tags = [\"Rust\", \"Web Dev\"]\nsummary = \"The first one.\"",
        "Hello *world*. See [the other](/blog/second).",
    );
    let second = "---\ntitle: Second\ndate: 2026-02-20T08:30:00+01:00\ntags: [rust]\n---\n\
                  A photo: ![a photo](photo.svg)\n"
        .to_owned();
    let draft = post("Secret draft", "2026-03-01", "draft = true", "Not yet.");
    let later = post(
        "Far future",
        "2026-03-02",
        "publish_at = 2999-01-01T00:00:00Z",
        "Not for a while.",
    );
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1 1\"/>".to_owned();
    let mut files: Vec<(&str, String)> = vec![
        ("site.toml", SITE.to_owned()),
        ("resume.json", RESUME.to_owned()),
        ("posts/first.md", first),
        ("posts/second/index.md", second),
        ("posts/second/photo.svg", svg),
        ("posts/secret.md", draft),
        ("posts/later.md", later),
    ];
    files.extend(extra.iter().cloned());
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    content_files(&files)
}

#[tokio::test]
async fn posts_render_with_their_images_tags_and_reading_time() {
    let dir = blog(&[]);
    let server = serve(dir.path(), &[]).await;

    let (status, list) = page(&server, "/blog").await;
    assert_eq!(status, StatusCode::OK);
    let second = list.find("href=\"/blog/second\"").unwrap();
    let first = list.find("href=\"/blog/first\"").unwrap();
    assert!(second < first, "newest first");
    assert!(list.contains("First &amp; &lt;Best&gt;"));
    assert!(list.contains("<time datetime=\"2026-01-10T00:00:00+00:00\">10 Jan 2026</time>"));

    let (status, html) = page(&server, "/blog/first").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>First &amp; &lt;Best&gt;</h1>"), "{html}");
    assert!(html.contains("<em>world</em>"));
    assert!(html.contains("1 min read"));
    assert!(html.contains("<a href=\"/tags/web-dev\">Web Dev</a>"));
    assert!(html.contains("<link rel=\"canonical\" href=\"https://blog.example.org/blog/first\">"));

    let (_, html) = page(&server, "/blog/second").await;
    assert!(
        html.contains("<img src=\"/blog/second/photo.svg\" alt=\"a photo\""),
        "{html}"
    );
    let photo = server.get("/blog/second/photo.svg").await;
    assert_eq!(photo.status(), StatusCode::OK);
    assert_eq!(photo.headers()[CONTENT_TYPE], "image/svg+xml");

    // "Rust" and "rust" are one tag.
    let (_, tags) = page(&server, "/tags").await;
    assert!(
        tags.contains("<a href=\"/tags/rust\">Rust <span class=\"count\">(2)</span></a>"),
        "{tags}"
    );
    let (status, tag) = page(&server, "/tags/web-dev").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tag.contains("href=\"/blog/first\"") && !tag.contains("href=\"/blog/second\""));

    for path in ["/", "/blog", "/blog/first", "/tags"] {
        let (_, html) = page(&server, path).await;
        assert!(
            html.contains(
                "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"/feed.xml\""
            ),
            "{path} links the feed"
        );
    }
}

#[tokio::test]
async fn drafts_and_scheduled_posts_are_never_public_but_previewable() {
    let dir = blog(&[]);
    let server = serve(dir.path(), &[]).await;
    for path in ["/blog/secret", "/blog/later"] {
        assert_eq!(page(&server, path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, list) = page(&server, "/blog").await;
    assert!(!list.contains("Secret draft") && !list.contains("Far future"));
    let (_, feed) = page(&server, "/feed.xml").await;
    assert!(!feed.contains("Secret draft") && !feed.contains("Far future"));
    let (_, map) = page(&server, "/sitemap.xml").await;
    assert!(!map.contains("/blog/secret") && !map.contains("/blog/later"));

    let preview = serve(dir.path(), &["--drafts"]).await;
    for path in ["/blog/secret", "/blog/later"] {
        let (status, html) = page(&preview, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains("<span class=\"badge\">draft</span>"));
    }
}

#[tokio::test]
async fn a_scheduled_post_appears_when_its_time_comes_without_a_restart() {
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let dir = blog(&[(
        "posts/soon.md",
        post(
            "Soon",
            "2026-03-03",
            &format!("publish_at = {soon}"),
            "Now it is out.",
        ),
    )]);
    let mut server = serve(dir.path(), &[]).await;
    assert_eq!(
        page(&server, "/blog/soon").await.0,
        StatusCode::NOT_FOUND,
        "public at start-up: starting took longer than the 5 s before publish_at"
    );
    // The re-render that the schedule makes (start-up's own is logged by cli::serve).
    server
        .wait_for_log(|l| l.contains("content rendered") && l.contains("site::watch"))
        .await;
    let (status, html) = page(&server, "/blog/soon").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Now it is out."));
}

#[tokio::test]
async fn build_schedule_re_renders_what_no_event_announced() {
    let dir = blog(&[]);
    // Every two seconds (six fields: seconds first); no --watch, so only the schedule
    // can pick up the new file.
    let mut server = common::Server::start(common::Start {
        args: vec!["--content", dir.path().to_str().unwrap()],
        env: vec![("HEARTH_BUILD_SCHEDULE", "*/2 * * * * *".to_owned())],
        ..common::Start::default()
    })
    .await;
    std::fs::write(
        dir.path().join("posts/unannounced.md"),
        post("Unannounced", "2026-04-01", "", "Found on schedule."),
    )
    .unwrap();
    let mark = server.mark();
    server
        .wait_for_log_since(mark, |l| l.contains("scheduled re-render"))
        .await;
    // Any render logged from here on started after the file was written.
    let mark = server.mark();
    server
        .wait_for_log_since(mark, |l| l.contains("content rendered"))
        .await;
    let (status, html) = page(&server, "/blog/unannounced").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Found on schedule."));
}

#[tokio::test]
async fn the_list_is_paginated() {
    let many: Vec<(String, String)> = (1..=11)
        .map(|i| {
            (
                format!("posts/p{i:02}.md"),
                post(
                    &format!("Post {i}"),
                    &format!("2025-01-{i:02}"),
                    "",
                    "Words.",
                ),
            )
        })
        .collect();
    let extra: Vec<(&str, String)> = many.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let dir = blog(&extra);
    let server = serve(dir.path(), &[]).await;
    let (_, first) = page(&server, "/blog").await;
    assert_eq!(first.matches("class=\"post-item\"").count(), 10);
    assert!(first.contains("href=\"/blog/page/2\" rel=\"next\""));
    let (status, second) = page(&server, "/blog/page/2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("class=\"post-item\"").count(), 3);
    assert!(second.contains("href=\"/blog\" rel=\"prev\""));
    assert_eq!(page(&server, "/blog/page/3").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_feed_reads_in_a_feed_reader_and_the_sitemap_validates() {
    let dir = blog(&[]);
    let server = serve(dir.path(), &[]).await;
    let scratch = tempfile::tempdir().unwrap();

    let feed = server.get("/feed.xml").await;
    assert_eq!(
        feed.headers()[CONTENT_TYPE],
        "application/atom+xml; charset=utf-8"
    );
    let feed_file = scratch.path().join("feed.xml");
    std::fs::write(&feed_file, feed.bytes().await.unwrap()).unwrap();
    let script = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": bool(d.bozo), "version": d.version, "title": d.feed.title,
    "entries": [{"title": e.title, "link": e.link, "id": e.id,
                 "content": e.content[0].value, "tags": [t.term for t in e.get("tags", [])],
                 "published": e.published} for e in d.entries]}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&feed_file)
        .output()
        .expect("python3 with feedparser (scripts/services.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["bozo"], false, "{parsed}");
    assert_eq!(parsed["version"], "atom10");
    assert_eq!(parsed["title"], "Blogger");
    let entries = parsed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{parsed}");
    assert_eq!(entries[0]["title"], "Second");
    assert_eq!(entries[0]["link"], "https://blog.example.org/blog/second");
    assert_eq!(entries[0]["published"], "2026-02-20T07:30:00Z");
    let content = entries[0]["content"].as_str().unwrap();
    assert!(
        content.contains("src=\"https://blog.example.org/blog/second/photo.svg\""),
        "absolute addresses in the full content: {content}"
    );
    assert_eq!(entries[1]["title"], "First & <Best>");
    assert_eq!(entries[1]["tags"], serde_json::json!(["Rust", "Web Dev"]));

    let map = server.get("/sitemap.xml").await;
    assert_eq!(
        map.headers()[CONTENT_TYPE],
        "application/xml; charset=utf-8"
    );
    let map = map.text().await.unwrap();
    let map_file = scratch.path().join("sitemap.xml");
    std::fs::write(&map_file, &map).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sitemap.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", schema])
        .arg(&map_file)
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(
        out.status.success(),
        "{}\n{map}",
        String::from_utf8_lossy(&out.stderr)
    );
    for path in [
        "/",
        "/pdf",
        "/blog",
        "/blog/first",
        "/blog/second",
        "/tags",
        "/tags/rust",
    ] {
        assert!(
            map.contains(&format!("<loc>https://blog.example.org{path}</loc>")),
            "{path} in {map}"
        );
    }
}

#[tokio::test]
async fn build_out_writes_the_site_at_the_addresses_serve_answers() {
    let dir = blog(&[]);
    let out = tempfile::tempdir().unwrap();
    let site = out.path().join("public");
    let build = |target: &Path| {
        let content = dir.path().to_str().unwrap().to_owned();
        let target = target.to_str().unwrap().to_owned();
        async move {
            common::run(
                Path::new("."),
                &["build", "--content", &content, "--out", &target],
                &[],
            )
            .await
        }
    };
    let done = build(&site).await;
    let (stdout, stderr) = common::text(&done);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(stdout.starts_with("wrote "), "{stdout}");
    assert!(
        !stderr.contains("writing ["),
        "no progress bar off a terminal"
    );

    let server = serve(dir.path(), &[]).await;
    for (path, file) in [
        ("/", "index.html"),
        ("/blog", "blog/index.html"),
        ("/blog/first", "blog/first/index.html"),
        ("/blog/second/photo.svg", "blog/second/photo.svg"),
        ("/tags/web-dev", "tags/web-dev/index.html"),
        ("/feed.xml", "feed.xml"),
        ("/sitemap.xml", "sitemap.xml"),
        ("/pdf", "pdf"),
        ("/robots.txt", "robots.txt"),
    ] {
        let served = server.get(path).await.bytes().await.unwrap();
        let written = std::fs::read(site.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(served, written, "{path} and {file}");
    }
    assert!(site.join("404.html").exists());
    assert!(!site.join("blog/secret").exists(), "drafts stay out");

    // A new export replaces the old one whole; a folder that is not an export is refused.
    std::fs::write(site.join("stale.txt"), "old").unwrap();
    assert_eq!(build(&site).await.status.code(), Some(0));
    assert!(!site.join("stale.txt").exists());
    let precious = out.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "mine").unwrap();
    let refused = build(&precious).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        common::text(&refused)
            .1
            .contains("is not an earlier export")
    );
    assert_eq!(
        std::fs::read_to_string(precious.join("notes.txt")).unwrap(),
        "mine"
    );
}
