//! The public site over HTTP: the resume, keyword links, Markdown pages, the PDF, static
//! files and their caching, user templates, `build --check`, and `serve --watch`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{Server, Start, client, content_files, serve_content as serve};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG};

const FULL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/site-full");
const FULL_RESUME: &str = include_str!("fixtures/resume-full.json");
const MINIMAL_RESUME: &str = include_str!("fixtures/resume-minimal.json");

async fn body(server: &Server, path: &str) -> String {
    let response = server.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// HTML-escapes as the templates do.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The number of `<a … class="autolink">` links to `url`.
fn autolinks_to(html: &str, url: &str) -> usize {
    html.matches(&format!("<a href=\"{url}\" class=\"autolink\">"))
        .count()
}

/// Every string a reader should see, with where it sits in the document; URLs, dates,
/// images, `meta` and unknown fields are shown differently or not at all.
fn visible_strings(value: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    const NOT_SHOWN_AS_IS: &[&str] = &[
        "url",
        "image",
        "startDate",
        "endDate",
        "date",
        "releaseDate",
        "$schema",
        "meta",
    ];
    match value {
        serde_json::Value::String(s) => out.push((path.to_owned(), s.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                visible_strings(item, &format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(fields) => {
            for (key, item) in fields {
                if !NOT_SHOWN_AS_IS.contains(&key.as_str()) && !key.starts_with("x-") {
                    visible_strings(item, &format!("{path}.{key}"), out);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn a_resume_using_every_section_renders_every_field_escaped() {
    let server = serve(Path::new(FULL), &[]).await;
    let html = body(&server, "/").await;
    let resume: serde_json::Value = serde_json::from_str(FULL_RESUME).unwrap();
    let mut strings = Vec::new();
    visible_strings(&resume, "", &mut strings);
    assert!(strings.len() > 60, "the fixture uses every field");
    for (path, text) in strings {
        assert!(
            html.contains(&escaped(&text)),
            "{path} = {text:?} is not on the page"
        );
    }
    for heading in [
        "Summary",
        "Experience",
        "Projects",
        "Volunteering",
        "Education",
        "Awards",
        "Certificates",
        "Publications",
        "Skills",
        "Languages",
        "Interests",
        "References",
    ] {
        assert!(html.contains(&format!("\">{heading}</h2>")), "{heading}");
    }
    assert!(!html.contains("Zq-UNKNOWN"), "unknown fields are not shown");
    // Nothing a field holds escapes into markup.
    assert!(!html.contains("<Officer>") && !html.contains("<zoë>"));
}

#[tokio::test]
async fn a_resume_with_only_a_name_renders_without_empty_sections() {
    let dir = content_files(&[
        ("site.toml", "title = \"Minimal\"\n"),
        ("resume.json", MINIMAL_RESUME),
    ]);
    let server = serve(dir.path(), &[]).await;
    let html = body(&server, "/").await;
    let name = serde_json::from_str::<serde_json::Value>(MINIMAL_RESUME).unwrap()["basics"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains(&format!("<h1>{}</h1>", escaped(&name))),
        "{html}"
    );
    assert!(
        !html.contains("<h2") && !html.contains("<section"),
        "{html}"
    );
    assert!(
        !html.contains("rel=\"canonical\""),
        "no base_url, no canonical"
    );
    assert_eq!(server.get("/about").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get("/pdf").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_home_page_carries_metadata_structured_data_and_its_pdf_link() {
    let server = serve(Path::new(FULL), &[]).await;
    let html = body(&server, "/").await;
    for needle in [
        "<html lang=\"en\">",
        "<link rel=\"canonical\" href=\"https://zoe.example.org/\">",
        "<meta property=\"og:type\" content=\"profile\">",
        "<meta property=\"og:url\" content=\"https://zoe.example.org/\">",
        "<meta property=\"og:title\" content=\"Zoë&#39;s &lt;Test&gt; &amp; &quot;Site&quot;\">",
        "<meta property=\"og:image\" content=\"https://img.example.org/",
        "<meta name=\"twitter:card\" content=\"summary\">",
        "<meta name=\"description\" content=\"Every JSON Resume section",
        "<a class=\"skip\" href=\"#main\">",
        "<main id=\"main\">",
        "<nav aria-label=\"Site\">",
        "<li><a href=\"/\" aria-current=\"page\">Résumé</a></li>",
        "<li><a href=\"/about\">About &lt;me&gt;</a></li>",
        "<a href=\"/pdf\" type=\"application/pdf\">",
        "alt=\"Portrait of Zoë Ŧest-Ōwner &lt;&amp;&gt;\"",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    let start = html.find("<script type=\"application/ld+json\">").unwrap();
    let rest = &html[start..];
    let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    let person: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(person["@context"], "https://schema.org");
    assert_eq!(person["@type"], "Person");
    assert_eq!(person["name"], "Zoë Ŧest-Ōwner <&>");
    assert!(person["sameAs"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn keywords_link_once_on_the_resume_and_on_pages_that_opt_in() {
    let server = Server::start(Start::default()).await;
    let home = body(&server, "/").await;
    let orchestrator = "https://docs.vmware.com/en/VMware-Aria-Automation-Orchestrator/";
    for url in [
        "https://kubernetes.io/",
        "https://www.postgresql.org/",
        "https://www.vmware.com/",
        orchestrator,
        "https://www.mulesoft.com/",
    ] {
        assert_eq!(autolinks_to(&home, url), 1, "{url}");
    }
    // The longer keyword wins where both match, and keeps the page's text.
    assert!(home.contains(&format!(
        "<a href=\"{orchestrator}\" class=\"autolink\">VMware Orchestrator</a>"
    )));
    // Never in the header, navigation or footer.
    let header = &home[..home.find("<main").unwrap()];
    assert!(!header.contains("class=\"autolink\""));

    let about = body(&server, "/about").await;
    assert!(!about.contains("class=\"autolink\""), "about never links");
    assert!(about.contains("PostgreSQL"));
    let uses = body(&server, "/uses").await;
    assert_eq!(autolinks_to(&uses, "https://kubernetes.io/"), 1);
    assert!(uses.contains("<table>"));

    let full = serve(Path::new(FULL), &[]).await;
    let notes = body(&full, "/notes").await;
    assert_eq!(autolinks_to(&notes, "https://www.rust-lang.org/"), 1);
    assert_eq!(autolinks_to(&notes, "https://typst.app/"), 1);
    assert!(notes.contains("<code>Rust</code>"));
    assert!(notes.contains("Typst in a code block is never linked."));
    let about = body(&full, "/about").await;
    assert!(!about.contains("class=\"autolink\""));
    assert!(about.contains("<title>About &lt;me&gt; &amp; &quot;mine&quot; — Zoë"));
}

#[tokio::test]
async fn assets_have_hashed_immutable_addresses_and_files_keep_theirs() {
    let server = serve(Path::new(FULL), &[]).await;
    let html = body(&server, "/").await;
    let css = html
        .split("<link rel=\"stylesheet\" href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect::<Vec<_>>();
    assert_eq!(css.len(), 2, "theme.css and site.css");
    for path in &css {
        assert!(
            path.starts_with("/assets/") && path.ends_with(".css"),
            "{path}"
        );
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(
            response.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
    }
    // The accent from site.toml, made readable on the light background.
    let theme = body(&server, &css[0]).await;
    let (light, dark) = theme
        .split_once("@media (prefers-color-scheme: dark)")
        .unwrap();
    assert!(light.contains("--accent: #"), "{theme}");
    assert!(
        !light.contains("--accent: #ffcc00;"),
        "yellow on white is unreadable"
    );
    assert!(
        dark.contains("--accent: #ffcc00;"),
        "yellow on black is fine"
    );

    let page = server.get("/").await;
    assert_eq!(page.headers()[CACHE_CONTROL], "public, no-cache");
    let etag = page.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "strong: {etag}");

    let file = server.get("/docs/hello.txt").await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(file.text().await.unwrap(), "Plain text, served as is.\n");

    let icon = server.get("/favicon.ico").await;
    assert_eq!(icon.headers()[CONTENT_TYPE], "image/x-icon");
    assert_eq!(&icon.bytes().await.unwrap()[..4], &[0, 0, 1, 0]);
    let robots = body(&server, "/robots.txt").await;
    assert!(robots.starts_with("User-agent: *\n"), "{robots}");

    let redirect = client().get(server.url("/about/")).send().await.unwrap();
    // reqwest follows redirects: it ends on the page.
    assert_eq!(redirect.status(), StatusCode::OK);
    assert_eq!(redirect.url().path(), "/about");
    let missing = server.get("/nothing/here").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let missing = missing.text().await.unwrap();
    assert!(missing.contains(">Page not found</h1>") && missing.contains("/assets/site."));
}

#[tokio::test]
async fn the_pdf_is_inline_named_and_the_same_bytes_every_time() {
    let first = serve(Path::new(FULL), &[]).await;
    let pdf = first.get("/pdf").await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()[CONTENT_TYPE], "application/pdf");
    let disposition = pdf.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("inline; filename=\"Zo_ _est-_wner <&> Resume.pdf\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Zo%C3%AB%20"),
        "{disposition}"
    );
    let etag = pdf.headers()[ETAG].clone();
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));

    let second = serve(Path::new(FULL), &[]).await;
    let again = second.get("/pdf").await;
    assert_eq!(again.headers()[ETAG], etag, "same input, same bytes");
    assert_eq!(again.bytes().await.unwrap(), bytes);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Zoë Ŧest-Ōwner <&>"), "{text}");
}

#[tokio::test]
async fn user_templates_override_the_theme_by_name() {
    let dir = content_files(&[
        ("site.toml", "title = \"Mine\"\n"),
        ("resume.json", r#"{"basics": {"name": "Grace"}}"#),
        (
            "templates/resume.html",
            "{% extends \"base.html\" %}{% block main %}<p id=\"own\">{{ resume.basics.name }} \
             wrote this</p>{% endblock %}",
        ),
        ("templates/partial.html", "unused partials are fine"),
    ]);
    let server = serve(dir.path(), &[]).await;
    let html = body(&server, "/").await;
    assert!(
        html.contains("<p id=\"own\">Grace wrote this</p>"),
        "{html}"
    );
    assert!(
        html.contains("<nav") || html.contains("<header"),
        "base.html still frames it"
    );
}

/// Runs `hearth build --check` on `files`; returns the exit code and stderr's lines with
/// the folder's path removed.
async fn check(files: &[(&str, &str)]) -> (Option<i32>, Vec<String>) {
    let dir = content_files(files);
    let out = common::run(
        dir.path(),
        &[
            "build",
            "--check",
            "--content",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let root = format!("{}/", dir.path().display());
    let lines = common::text(&out)
        .1
        .lines()
        .map(|l| l.replace(&root, ""))
        .collect();
    (out.status.code(), lines)
}

#[tokio::test]
async fn build_check_names_file_line_and_column_of_every_problem() {
    let (code, lines) = check(&[
        (
            "site.toml",
            "title = \"T\"\n[autolink]\nMulesoft = \"/wiki/Mulesoft\"\n",
        ),
        (
            "resume.json",
            "{\n  \"basics\": {\"name\": \"A\"},\n  \"skills\": [{\"keywords\": \"Rust\"}]\n}\n",
        ),
        ("about.md", "+++\ntitle = 3\n+++\nhi\n"),
    ])
    .await;
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "site.toml:3:12: autolink \"Mulesoft\": the URL \"/wiki/Mulesoft\" is not absolute"
        ),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("resume.json:3:") && lines[1].contains("expected a sequence"),
        "{lines:#?}"
    );
    assert!(lines[2].starts_with("about.md:2:9: "), "{lines:#?}");
    assert!(lines[3].ends_with("has 3 problems"), "{lines:#?}");

    let (code, lines) = check(&[
        ("site.toml", "title = \"T\"\n"),
        ("resume.json", "{ \"basics\": {\"name\": \"A\"} "),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(lines[0].starts_with("resume.json:1:"), "{lines:#?}");

    let (code, lines) = check(&[
        ("site.toml", "title = \"T\"\n"),
        ("resume.json", "{}"),
        (
            "templates/resume.html",
            "{% extends \"base.html\" %}\n{% block main %}\n  {{ resume.basics | nosuchfilter }}\n{% endblock %}\n",
        ),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(
        lines[0].starts_with("templates/resume.html:3:") && lines[0].contains("nosuchfilter"),
        "{lines:#?}"
    );

    let (code, lines) = check(&[
        ("site.toml", "title = \"T\"\n"),
        ("resume.json", "{}"),
        (
            "templates/resume.typ",
            "#let r = json(\"resume.json\")\n= #r.basics.nme\n",
        ),
    ])
    .await;
    assert_eq!(code, Some(1));
    assert!(
        lines[0].starts_with("templates/resume.typ:2:"),
        "{lines:#?}"
    );

    let (code, lines) = check(&[("site.toml", "title = \"T\"\n"), ("resume.json", "{}")]).await;
    assert_eq!(code, Some(0), "{lines:#?}");
}

#[tokio::test]
async fn watch_renders_changes_and_keeps_the_last_good_site_on_a_bad_edit() {
    let dir = content_files(&[
        ("site.toml", "title = \"Watched\"\n"),
        ("resume.json", r#"{"basics": {"name": "First Name"}}"#),
    ]);
    let mut server = serve(dir.path(), &["--watch"]).await;
    server
        .wait_for_log(|l| l.contains("watching the content folder"))
        .await;
    assert!(body(&server, "/").await.contains("First Name"));
    let rendered = |l: &str| l.contains("content rendered") && l.contains("site::watch");

    let resume = dir.path().join("resume.json");
    let mark = server.mark();
    std::fs::write(&resume, r#"{"basics": {"name": "Second Name"}}"#).unwrap();
    server.wait_for_log_since(mark, rendered).await;
    assert!(body(&server, "/").await.contains("Second Name"));

    let mark = server.mark();
    std::fs::write(&resume, "{\n  \"basics\": {\"name\": 42}\n}").unwrap();
    let logged = server
        .wait_for_log_since(mark, |l| l.contains("still serving the last good version"))
        .await;
    assert!(logged.contains("resume.json:2:"), "{logged}");
    assert!(body(&server, "/").await.contains("Second Name"));
    let health = server.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK, "degraded is still up");
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
    let content = &health["checks"]["content"];
    assert_eq!(content["status"], "degraded");
    assert!(content["revision"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        content["error"]
            .as_str()
            .unwrap()
            .contains("resume.json:2:"),
        "{content}"
    );

    let mark = server.mark();
    std::fs::write(&resume, r#"{"basics": {"name": "Third Name"}}"#).unwrap();
    server.wait_for_log_since(mark, rendered).await;
    let health: serde_json::Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["checks"]["content"].get("error").is_none());
    assert!(body(&server, "/").await.contains("Third Name"));
}

#[tokio::test]
async fn sighup_re_renders_without_watch() {
    let dir = content_files(&[
        ("site.toml", "title = \"Hup\"\n"),
        ("resume.json", r#"{"basics": {"name": "Before"}}"#),
    ]);
    let mut server = serve(dir.path(), &[]).await;
    std::fs::write(
        dir.path().join("resume.json"),
        r#"{"basics": {"name": "After"}}"#,
    )
    .unwrap();
    assert!(body(&server, "/").await.contains("Before"));
    let mark = server.mark();
    server.signal("HUP");
    server
        .wait_for_log_since(mark, |l| l.contains("content rendered"))
        .await;
    assert!(body(&server, "/").await.contains("After"));
}
