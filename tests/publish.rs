//! Publishing from anywhere, black-box: API tokens made with the CLI, the posts API with
//! its bad inputs, commits and pushes in a git content folder (real git, a bare remote),
//! Micropub, `hearth publish` with its offline queue, and the GitHub webhook.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Engine, Server, Start, TestDb, content_files, run, text};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

const SITE: &str = "title = \"Pub\"\nbase_url = \"https://pub.example.org\"\nauthor = \"Pat\"\n";
const RESUME: &str = r#"{"basics": {"name": "Pat"}}"#;

fn site() -> tempfile::TempDir {
    content_files(&[("site.toml", SITE), ("resume.json", RESUME)])
}

async fn start(content: &Path, env: &[(&'static str, String)]) -> Server {
    Server::start(Start {
        args: vec!["--content", content.to_str().unwrap()],
        env: env.to_vec(),
        ..Start::default()
    })
    .await
}

/// `hearth token create --name NAME` against the server's data folder.
async fn token(server: &Server, name: &str) -> String {
    let out = run(&server.dir, &["token", "create", "--name", name], &[]).await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let token = stdout.trim().to_owned();
    assert!(token.starts_with("hearth_"), "{stdout}");
    token
}

fn client() -> reqwest::Client {
    common::client()
}

fn markdown(title: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndate = 2026-11-20\ntags = [\"news\"]\n+++\n{body}\n")
}

async fn post_markdown(server: &Server, token: &str, path: &str, text: &str) -> reqwest::Response {
    client()
        .post(server.url(path))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "text/markdown")
        .body(text.to_owned())
        .send()
        .await
        .unwrap()
}

async fn detail(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["detail"].as_str().unwrap_or_default().to_owned()
}

fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == ".git" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn tokens_guard_the_posts_api_and_bad_input_changes_nothing() {
    let content = site();
    let server = start(content.path(), &[]).await;
    let token = token(&server, "laptop").await;

    // No token, a wrong one: 401 with the Bearer challenge.
    let response = client()
        .get(server.url("/api/v1/posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let response = post_markdown(&server, "hearth_wrong", "/api/v1/posts", "x").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A Markdown file: created at the slug its title gives, rendered before the answer.
    let response = post_markdown(
        &server,
        &token,
        "/api/v1/posts",
        &markdown("Hello There", "First *post*."),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[LOCATION],
        "https://pub.example.org/blog/hello-there"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["path"], "posts/hello-there.md");
    assert_eq!(body["public"], true);
    let page = server.get("/blog/hello-there").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("First <em>post</em>."));

    // The same slug again: 409.
    let response = post_markdown(
        &server,
        &token,
        "/api/v1/posts",
        &markdown("Hello There", "Again"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // JSON fields: written as a Markdown file with TOML front matter.
    let response = client()
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .json(
            &json!({"title": "From JSON", "slug": "json-post", "date": "2026-11-21T10:00:00Z",
                      "tags": ["api"], "body": "Made of *fields*."}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = std::fs::read_to_string(content.path().join("posts/json-post.md")).unwrap();
    assert!(
        stored.starts_with("+++\ntitle = \"From JSON\"\n"),
        "{stored}"
    );
    assert!(server.get("/tags/api").await.status().is_success());

    // Bad input, each with its status and a message naming what is wrong.
    let before = files(content.path());
    let response = client()
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .json(&json!({"title": "Bad date", "date": "yesterday"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(response).await.starts_with("date"));
    let response = post_markdown(
        &server,
        &token,
        "/api/v1/posts",
        "+++\ndate = 2026-01-01\n+++\nNo title\n",
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(response).await.contains("title"));
    let response = post_markdown(
        &server,
        &token,
        "/api/v1/posts",
        "+++\ntitle = \"x\"\ndate = 2026-01-01\ncolour = \"red\"\n+++\n",
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(response).await.contains("colour"));
    for evil in ["..%2F..%2Fetc", "a%2Fb", "x%01y", ".."] {
        let response = post_markdown(
            &server,
            &token,
            &format!("/api/v1/posts?slug={evil}"),
            &markdown("Evil", "x"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}");
        if evil == ".." {
            // A client resolves a bare `..` segment before sending; the server never sees it.
            continue;
        }
        let response = client()
            .put(server.url(&format!("/api/v1/posts/{evil}")))
            .bearer_auth(&token)
            .header(CONTENT_TYPE, "text/markdown")
            .body(markdown("Evil", "x"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{evil}");
    }
    let response = client()
        .post(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/html")
        .body("<p>hi</p>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        files(content.path()),
        before,
        "a refused request changed the folder"
    );

    // Update, read, list, delete.
    let response = client()
        .put(server.url("/api/v1/posts/hello-there"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/markdown")
        .body(markdown("Hello There", "Edited."))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        server
            .get("/blog/hello-there")
            .await
            .text()
            .await
            .unwrap()
            .contains("Edited.")
    );
    let response = client()
        .put(server.url("/api/v1/posts/nobody"))
        .bearer_auth(&token)
        .header(CONTENT_TYPE, "text/markdown")
        .body(markdown("Nobody", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let one: Value = client()
        .get(server.url("/api/v1/posts/hello-there"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["post"]["title"], "Hello There");
    assert_eq!(one["post"]["body"], "Edited.\n");
    assert_eq!(one["url"], "https://pub.example.org/blog/hello-there");
    let list: Value = client()
        .get(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = list["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["json-post", "hello-there"]);
    let response = client()
        .delete(server.url("/api/v1/posts/hello-there"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/blog/hello-there").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(!content.path().join("posts/hello-there.md").exists());

    // Listing shows when a token was used; a revoked token is refused at once.
    let out = run(&server.dir, &["token", "list"], &[]).await;
    let (stdout, _) = text(&out);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("laptop") && !l.ends_with("never")),
        "{stdout}"
    );
    let out = run(&server.dir, &["token", "create", "--name", "laptop"], &[]).await;
    assert!(!out.status.success());
    assert!(text(&out).1.contains("exists already"));
    let out = run(&server.dir, &["token", "revoke", "laptop"], &[]).await;
    assert!(out.status.success());
    let response = client()
        .get(server.url("/api/v1/posts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(detail(response).await.contains("revoked"));
}

/// The token commands on the server databases (SQLite is covered above): the unique
/// name, the listing, revoking twice, and a name that is not plain.
#[tokio::test]
async fn tokens_are_managed_on_postgres_and_mariadb() {
    for engine in [Engine::Postgres, Engine::MySql] {
        let db = TestDb::new(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = vec![("HEARTH_DATABASE_URL", db.url.as_str())];
        let out = run(dir.path(), &["token", "list"], &env).await;
        assert!(
            !out.status.success(),
            "{engine:?}: listing before migrating"
        );
        assert!(
            text(&out).1.contains("run `hearth migrate`"),
            "{}",
            text(&out).1
        );
        assert!(run(dir.path(), &["migrate"], &env).await.status.success());

        let out = run(
            dir.path(),
            &["token", "create", "--name", "ci-runner"],
            &env,
        )
        .await;
        assert!(out.status.success(), "{engine:?}: {}", text(&out).1);
        let secret = text(&out).0.trim().to_owned();
        assert_eq!(secret.len(), "hearth_".len() + 64);
        let hash = db
            .query_i64("SELECT COUNT(*) FROM api_tokens WHERE name = 'ci-runner' AND hash <> ''")
            .await;
        assert_eq!(hash, 1);
        let out = run(
            dir.path(),
            &["token", "create", "--name", "ci-runner"],
            &env,
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{engine:?}");
        assert!(text(&out).1.contains("exists already"));
        let out = run(dir.path(), &["token", "create", "--name", "bad name"], &env).await;
        assert!(text(&out).1.contains("is not a token name"));
        let (stdout, _) = text(&run(dir.path(), &["token", "list"], &env).await);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ci-runner") && l.ends_with("never")),
            "{stdout}"
        );
        assert!(
            run(dir.path(), &["token", "revoke", "ci-runner"], &env)
                .await
                .status
                .success()
        );
        let out = run(dir.path(), &["token", "revoke", "ci-runner"], &env).await;
        assert!(
            text(&out).1.contains("no token is named \"ci-runner\""),
            "{}",
            text(&out).1
        );
        assert_eq!(
            db.query_i64("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'token.%'")
                .await,
            2
        );
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Tester",
            "-c",
            "user.email=t@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare remote holding a site, and a clone of it as the content folder.
fn repository() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let remote = root.path().join("remote.git");
    let content = root.path().join("content");
    git(root.path(), &["init", "--quiet", "--bare", "remote.git"]);
    git(root.path(), &["clone", "--quiet", "remote.git", "content"]);
    std::fs::write(content.join("site.toml"), SITE).unwrap();
    std::fs::write(content.join("resume.json"), RESUME).unwrap();
    git(&content, &["add", "."]);
    git(&content, &["commit", "--quiet", "-m", "Start"]);
    git(&content, &["push", "--quiet", "origin", "HEAD:main"]);
    (root, remote, content)
}

#[tokio::test]
async fn publishing_into_a_git_folder_commits_as_the_token_and_pushes() {
    let (_root, remote, content) = repository();
    let server = start(&content, &[("HEARTH_PUBLISH_PUSH", "true".to_owned())]).await;
    let token = token(&server, "phone").await;
    let response = post_markdown(
        &server,
        &token,
        "/api/v1/posts",
        &markdown("Committed", "In git."),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["pushed"], true);
    let commit = body["commit"].as_str().unwrap();
    assert_eq!(
        git(&content, &["log", "-1", "--format=%H %an %s"]),
        format!("{commit} phone Publish \"Committed\"")
    );
    assert_eq!(
        git(&remote, &["rev-parse", "main"]),
        commit,
        "the commit was not pushed"
    );
    assert_eq!(git(&content, &["status", "--porcelain"]), "");

    let response = client()
        .delete(server.url("/api/v1/posts/committed"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        git(&remote, &["log", "-1", "--format=%an %s", "main"]),
        "phone Delete \"Committed\""
    );
}

#[tokio::test]
async fn micropub_creates_queries_updates_and_deletes() {
    let content = site();
    let server = start(content.path(), &[]).await;
    let token = token(&server, "quill").await;
    let micropub = server.url("/micropub");

    // Form-encoded, with the token in the form: a note, titled by its first words.
    let response = client()
        .post(&micropub)
        .form(&[
            ("h", "entry"),
            ("content", "Just a quick note from my phone"),
            ("category[]", "notes"),
            ("category[]", "phone"),
            ("mp-slug", "quick"),
            ("access_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[LOCATION],
        "https://pub.example.org/blog/quick"
    );
    let page = server.get("/blog/quick").await.text().await.unwrap();
    assert!(page.contains("Just a quick note from my phone"));

    // JSON, with HTML content and a draft status.
    let response = client()
        .post(&micropub)
        .bearer_auth(&token)
        .json(&json!({"type": ["h-entry"], "properties": {
            "name": ["A Longer Article"], "content": [{"html": "<p>Some <b>HTML</b></p>"}],
            "published": ["2026-11-01T12:00:00Z"], "post-status": ["draft"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let url = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(url, "https://pub.example.org/blog/a-longer-article");
    assert_eq!(
        server.get("/blog/a-longer-article").await.status(),
        StatusCode::NOT_FOUND,
        "a draft is public"
    );

    // Queries.
    let config: Value = client()
        .get(format!("{micropub}?q=config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["syndicate-to"], json!([]));
    let source: Value = client()
        .get(format!("{micropub}?q=source&url={url}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(source["type"], json!(["h-entry"]));
    assert_eq!(source["properties"]["name"], json!(["A Longer Article"]));
    assert_eq!(source["properties"]["post-status"], json!(["draft"]));
    let only: Value = client()
        .get(format!("{micropub}?q=source&url={url}&properties[]=name"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(only, json!({"properties": {"name": ["A Longer Article"]}}));

    // Update: publish it and add a category.
    let response = client()
        .post(&micropub)
        .bearer_auth(&token)
        .json(
            &json!({"action": "update", "url": url, "replace": {"post-status": ["published"]},
                      "add": {"category": ["long"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/blog/a-longer-article").await.status(),
        StatusCode::OK
    );
    assert_eq!(server.get("/tags/long").await.status(), StatusCode::OK);

    // Delete, form-encoded.
    let response = client()
        .post(&micropub)
        .bearer_auth(&token)
        .form(&[
            ("action", "delete"),
            ("url", "https://pub.example.org/blog/quick"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/blog/quick").await.status(),
        StatusCode::NOT_FOUND
    );

    // Errors in Micropub's own shape.
    let response = client()
        .post(&micropub)
        .form(&[("h", "entry"), ("content", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unauthorized"
    );
    let response = client()
        .post(&micropub)
        .bearer_auth(&token)
        .form(&[("h", "entry"), ("content", "x"), ("access_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = client()
        .post(&micropub)
        .bearer_auth(&token)
        .form(&[
            ("h", "entry"),
            ("content", "x"),
            ("photo", "https://x.example/p.jpg"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_request");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("photo")
    );
}

#[tokio::test]
async fn hearth_publish_queues_while_offline_and_flushes_later() {
    let content = site();
    let server = start(content.path(), &[]).await;
    let token = token(&server, "laptop").await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("offline-post.md");
    std::fs::write(&file, markdown("Written on a train", "No signal here.")).unwrap();
    let queue = work.path().join("queue");
    let (file, queue) = (file.to_str().unwrap(), queue.to_str().unwrap());
    let env = [("HEARTH_TOKEN", token.as_str())];

    // Nobody listens on this port: the post is queued, and that is a success.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let offline = format!("http://{}", nobody.local_addr().unwrap());
    drop(nobody);
    let out = run(
        work.path(),
        &["publish", file, "--to", &offline, "--queue", queue],
        &env,
    )
    .await;
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with("queued:"), "{stderr}");
    assert_eq!(std::fs::read_dir(queue).unwrap().count(), 1);

    // Flushing sends it to the server given now, and empties the queue.
    let out = run(
        work.path(),
        &[
            "publish",
            "--flush",
            "--to",
            &server.url(""),
            "--queue",
            queue,
        ],
        &env,
    )
    .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "https://pub.example.org/blog/offline-post");
    assert!(std::fs::read_dir(queue).unwrap().next().is_none());
    assert_eq!(
        server.get("/blog/offline-post").await.status(),
        StatusCode::OK
    );

    // Online: published at once; a refusal is an error and is not queued.
    let out = run(
        work.path(),
        &[
            "publish",
            file,
            "--to",
            &server.url(""),
            "--queue",
            queue,
            "--update",
        ],
        &env,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out).1);
    let out = run(
        work.path(),
        &["publish", file, "--to", &server.url(""), "--queue", queue],
        &env,
    )
    .await;
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("409"), "{stderr}");
    assert!(std::fs::read_dir(queue).unwrap().next().is_none());

    // A file with a mistake is caught before anything is sent.
    std::fs::write(work.path().join("broken.md"), "+++\ntitle = \"x\"\n+++\n").unwrap();
    let broken = work.path().join("broken.md");
    let out = run(
        work.path(),
        &[
            "publish",
            broken.to_str().unwrap(),
            "--to",
            &offline,
            "--queue",
            queue,
        ],
        &env,
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).1.contains("date"), "{}", text(&out).1);

    // No token at all.
    let out = run(
        work.path(),
        &["publish", file, "--to", &offline, "--queue", queue],
        &[],
    )
    .await;
    assert!(!out.status.success());
    assert!(text(&out).1.contains("HEARTH_TOKEN"));
}

fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn deliver(
    server: &Server,
    event: &str,
    id: &str,
    body: &[u8],
    signature: Option<String>,
) -> reqwest::Response {
    let mut request = client()
        .post(server.url("/hooks/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_github_webhook_pulls_verified_pushes_only() {
    const SECRET: &str = "s3cret hook";
    let (root, _remote, content) = repository();
    let mut server = start(&content, &[("HEARTH_WEBHOOK_SECRET", SECRET.to_owned())]).await;
    // A second clone stands for the author's laptop.
    git(root.path(), &["clone", "--quiet", "remote.git", "laptop"]);
    let laptop = root.path().join("laptop");
    std::fs::create_dir_all(laptop.join("posts")).unwrap();
    std::fs::write(
        laptop.join("posts/pushed.md"),
        markdown("Pushed from a laptop", "Via git."),
    )
    .unwrap();
    git(&laptop, &["add", "."]);
    git(&laptop, &["commit", "--quiet", "-m", "A post"]);
    git(&laptop, &["push", "--quiet", "origin", "HEAD:main"]);
    let pushed = git(&laptop, &["rev-parse", "HEAD"]);

    let body = json!({"ref": "refs/heads/main", "after": pushed}).to_string();
    let body = body.as_bytes();
    // Unsigned, or signed with another secret: 401, and nothing runs.
    assert_eq!(
        deliver(&server, "push", "d0", body, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        deliver(&server, "push", "d0", body, Some(sign("wrong", body)))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/blog/pushed").await.status(),
        StatusCode::NOT_FOUND
    );
    // A ping.
    let ping = br#"{"zen": "Keep it logically awesome."}"#;
    assert_eq!(
        deliver(&server, "ping", "d1", ping, Some(sign(SECRET, ping)))
            .await
            .status(),
        StatusCode::OK
    );

    // A signed push: 202 at once, then the pull, the render, and the post is served.
    let mark = server.mark();
    let response = deliver(&server, "push", "d2", body, Some(sign(SECRET, body))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server
        .wait_for_log_since(mark, |l| l.contains("the content was fast-forwarded"))
        .await;
    server
        .wait_for_log_since(mark, |l| l.contains("content rendered"))
        .await;
    assert_eq!(server.get("/blog/pushed").await.status(), StatusCode::OK);
    assert_eq!(git(&content, &["rev-parse", "HEAD"]), pushed);
    assert_eq!(git(&content, &["status", "--porcelain"]), "");

    // The same delivery again is ignored.
    let response = deliver(&server, "push", "d2", body, Some(sign(SECRET, body))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("duplicate"));

    // A push that cannot fast-forward: the folder stays, /health turns degraded.
    std::fs::write(content.join("local.txt"), "a local change").unwrap();
    git(&content, &["add", "local.txt"]);
    git(&content, &["commit", "--quiet", "-m", "Local"]);
    let local = git(&content, &["rev-parse", "HEAD"]);
    std::fs::write(
        laptop.join("posts/second.md"),
        markdown("Second", "Diverges."),
    )
    .unwrap();
    git(&laptop, &["add", "."]);
    git(&laptop, &["commit", "--quiet", "-m", "Another"]);
    git(&laptop, &["push", "--quiet", "origin", "HEAD:main"]);
    let mark = server.mark();
    let response = deliver(&server, "push", "d3", body, Some(sign(SECRET, body))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    server
        .wait_for_log_since(mark, |l| l.contains("the content was not updated"))
        .await;
    assert_eq!(git(&content, &["rev-parse", "HEAD"]), local);
    assert!(!content.join("posts/second.md").exists());
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["checks"]["content"]["status"], "degraded");
}
