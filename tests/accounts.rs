//! Accounts, black-box, on SQLite and PostgreSQL: `hearth user`, signing in and out with
//! the server-rendered form and the API, the session cookie's attributes, CSRF, the same
//! answer for an unknown name and a wrong password, throttling, expiry, revocation, the
//! proxy headers believed only from trusted proxies, and the audit log.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{Engine, Server, Start, TestDb, hearth, text};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "a long enough secret";

/// `hearth user …` with `stdin` on standard input.
async fn user(
    dir: &Path,
    env: &[(&str, String)],
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    let mut cmd = hearth(dir);
    cmd.arg("user")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(common::PATIENCE, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = text(&out);
    (out.status.success(), stdout, stderr)
}

/// Migrates the database before a server starts on it, so the CLI finds the schema.
async fn migrate(env: &[(&str, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = common::run(dir.path(), &["migrate"], &env).await;
    assert!(out.status.success(), "{}", text(&out).1);
}

fn client() -> reqwest::Client {
    hearth::install_tls_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Signs in with the form, as a browser on the site's own page does; returns the response.
async fn sign_in(server: &Server, name: &str, password: &str) -> reqwest::Response {
    client()
        .post(server.url("/login"))
        .header("Origin", server.url(""))
        .form(&[("name", name), ("password", password), ("next", "/blog")])
        .send()
        .await
        .unwrap()
}

/// The `name=value` part of a response's session cookie.
fn cookie(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn whoami(server: &Server, cookie: &str) -> StatusCode {
    client()
        .get(server.url("/api/v1/session"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

async fn accounts(engine: Engine) {
    let db = TestDb::new(engine).await;
    let content = common::content_files(&[
        ("site.toml", "title = \"Acc\"\n"),
        ("resume.json", r#"{"basics": {"name": "Acc"}}"#),
    ]);
    let env = db.env();
    migrate(&env).await;
    let server = Server::start(Start {
        args: vec!["--content", content.path().to_str().unwrap()],
        env: env.clone(),
        ..Start::default()
    })
    .await;
    let dir = server.dir.clone();

    // The CLI: add (the password from stdin), refuse a duplicate and a short password.
    let (ok, stdout, stderr) = user(
        &dir,
        &env,
        &["add", "pat", "--admin", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("added (admin)"));
    let (ok, _, stderr) = user(&dir, &env, &["add", "pat", "--password-stdin"], PASSWORD).await;
    assert!(!ok);
    assert!(stderr.contains("exists already"), "{stderr}");
    let (ok, _, stderr) = user(&dir, &env, &["add", "sam", "--password-stdin"], "short\n").await;
    assert!(!ok);
    assert!(stderr.contains("too short"), "{stderr}");
    user(
        &dir,
        &env,
        &["add", "sam", "--password-stdin"],
        "another long secret\n",
    )
    .await;
    let stored = db
        .query_i64("SELECT COUNT(*) FROM users WHERE password_hash LIKE '$argon2id$%'")
        .await;
    assert_eq!(stored, 2);

    // The page works without JavaScript: a plain form.
    let page = client().get(server.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/login\">"),
        "{html}"
    );

    // Unknown name and wrong password: the same answer.
    let unknown = sign_in(&server, "nobody", PASSWORD).await;
    let wrong = sign_in(&server, "pat", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(unknown.headers().get(SET_COOKIE).is_none());
    assert_eq!(unknown.text().await.unwrap(), wrong.text().await.unwrap());

    // Signing in: a 303 to `next` and a cookie with the right attributes.
    let response = sign_in(&server, "pat", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/blog");
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.starts_with("hearth_session="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP from an untrusted peer: {set}"
    );
    let first = cookie(&response);
    let me: Value = client()
        .get(server.url("/api/v1/session"))
        .header("Cookie", &first)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"name": "pat", "role": "admin", "via": "session"})
    );
    let page = client()
        .get(server.url("/login"))
        .header("Cookie", &first)
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Signed in as <strong>pat</strong>")
    );

    // Signing in again rotates: a new id, and the one brought along ends.
    let again = client()
        .post(server.url("/login"))
        .header("Origin", server.url(""))
        .header("Cookie", &first)
        .form(&[("name", "pat"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let second = cookie(&again);
    assert_ne!(first, second);
    assert_eq!(whoami(&server, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&server, &second).await, StatusCode::OK);

    // CSRF: a cookie-authenticated change must come from the site itself.
    let post = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = client()
            .post(server.url("/api/v1/posts"))
            .header("Cookie", &second)
            .header(CONTENT_TYPE, "application/json")
            .body(json!({"title": "Via the console", "body": "x"}).to_string());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("Sec-Fetch-Site", site);
        }
        request.send()
    };
    assert_eq!(
        post(None, None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(Some("https://evil.example"), None)
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(None, Some("cross-site")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(Some(&server.url("")), None).await.unwrap().status(),
        StatusCode::CREATED
    );
    // A cross-site sign-in form is refused too.
    let forged = client()
        .post(server.url("/login"))
        .header("Origin", "https://evil.example")
        .form(&[("name", "pat"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The API sign-in, for the admin console.
    let response = client()
        .post(server.url("/api/v1/session"))
        .json(&json!({"name": "sam", "password": "another long secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sam = cookie(&response);
    assert_eq!(response.json::<Value>().await.unwrap()["role"], "editor");
    // Each endpoint names its role: listing accounts is for admins.
    let listing = |cookie: String| {
        client()
            .get(server.url("/api/v1/users"))
            .header("Cookie", cookie)
            .send()
    };
    assert_eq!(
        listing(sam.clone()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let users: Value = listing(second.clone()).await.unwrap().json().await.unwrap();
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pat", "sam"]);

    // Idle and absolute expiry, judged by the database's times.
    db.execute("UPDATE sessions SET last_seen_at = 0").await;
    assert_eq!(whoami(&server, &sam).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&server, &second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        db.query_i64("SELECT COUNT(*) FROM sessions").await,
        0,
        "expired sessions stay"
    );
    let fresh = cookie(&sign_in(&server, "pat", PASSWORD).await);
    db.execute("UPDATE sessions SET expires_at = 1").await;
    assert_eq!(whoami(&server, &fresh).await, StatusCode::UNAUTHORIZED);

    // Sign out: the cookie is removed and the session is gone.
    let session = cookie(&sign_in(&server, "pat", PASSWORD).await);
    let out = client()
        .post(server.url("/logout"))
        .header("Origin", server.url(""))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(whoami(&server, &session).await, StatusCode::UNAUTHORIZED);

    // Revoking from the CLI signs an account out everywhere.
    let session = cookie(&sign_in(&server, "pat", PASSWORD).await);
    let (ok, stdout, _) = user(&dir, &env, &["sessions", "revoke", "pat"], "").await;
    assert!(ok);
    assert!(stdout.starts_with("1 session(s)"), "{stdout}");
    assert_eq!(whoami(&server, &session).await, StatusCode::UNAUTHORIZED);
    // So does a new password.
    let session = cookie(&sign_in(&server, "pat", PASSWORD).await);
    let (ok, _, stderr) = user(
        &dir,
        &env,
        &["passwd", "pat", "--password-stdin"],
        "a brand new secret\n",
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(whoami(&server, &session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        sign_in(&server, "pat", "a brand new secret").await.status(),
        StatusCode::SEE_OTHER
    );

    // Throttling: after five failures even the right password waits, with Retry-After.
    for _ in 0..5 {
        assert_eq!(
            sign_in(&server, "sam", "wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = sign_in(&server, "sam", "another long secret").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = throttled.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // Unknown accounts are throttled alike: the answer does not tell them apart.
    for _ in 0..5 {
        sign_in(&server, "ghost", "guess").await;
    }
    assert_eq!(
        sign_in(&server, "ghost", "guess").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Every sign-in, failure, sign-out and administrative action is in the audit log.
    for (action, at_least) in [
        ("user.add", 2),
        ("user.login", 5),
        ("user.login_failed", 12),
        ("user.logout", 1),
        ("user.sessions.revoke", 1),
        ("user.passwd", 1),
    ] {
        let n = db
            .query_i64(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await;
        assert!(n >= at_least, "{action}: {n}");
    }

    // Removing an account.
    let (ok, _, _) = user(&dir, &env, &["remove", "sam"], "").await;
    assert!(ok);
    let (_, stdout, _) = user(&dir, &env, &["list"], "").await;
    assert!(
        stdout.contains("pat") && !stdout.contains("sam"),
        "{stdout}"
    );
}

#[tokio::test]
async fn accounts_on_sqlite() {
    accounts(Engine::Sqlite).await;
}

#[tokio::test]
async fn accounts_on_postgres() {
    accounts(Engine::Postgres).await;
}

#[tokio::test]
async fn secure_cookies_and_client_addresses_come_only_from_trusted_proxies() {
    let content = common::content_files(&[
        ("site.toml", "title = \"Acc\"\n"),
        ("resume.json", r#"{"basics": {"name": "Acc"}}"#),
    ]);
    for (trusted, secure) in [("127.0.0.1", true), ("10.0.0.0/8", false)] {
        let db = TestDb::new(Engine::Postgres).await;
        let mut env = db.env();
        migrate(&env).await;
        env.push(("HEARTH_SERVER_TRUSTED_PROXIES", trusted.to_owned()));
        let server = Server::start(Start {
            args: vec!["--content", content.path().to_str().unwrap()],
            env: env.clone(),
            ..Start::default()
        })
        .await;
        user(
            &server.dir,
            &env,
            &["add", "pat", "--password-stdin"],
            PASSWORD,
        )
        .await;
        let response = client()
            .post(server.url("/login"))
            .header("Origin", server.url(""))
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-For", "203.0.113.9")
            .form(&[("name", "pat"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = response.headers()[SET_COOKIE].to_str().unwrap();
        assert_eq!(
            set.contains("; Secure"),
            secure,
            "trusting {trusted}: {set}"
        );
        // The audit log names the client: the forwarded address only from a trusted proxy.
        let client_addr = if secure { "203.0.113.9" } else { "127.0.0.1" };
        let logged = db
            .query_i64(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'user.login' AND detail LIKE '%\"{client_addr}\"%'"
            ))
            .await;
        assert_eq!(logged, 1, "trusting {trusted}");
    }
}
