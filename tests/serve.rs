//! `hearth serve` on SQLite: the operational endpoints, the page defaults, shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, Start, client};
use hearth::db::migrations::SCHEMA_VERSION;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

#[tokio::test]
async fn ping_ready_and_health_answer() {
    let server = Server::start(Start::default()).await;

    let ping = server.get("/ping").await;
    assert_eq!(ping.status(), StatusCode::OK);
    assert_eq!(ping.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(ping.text().await.unwrap(), "pong");

    let ready = server.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["schema_version"], SCHEMA_VERSION);

    let health = server.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for check in ["database", "content"] {
        let c = &body["checks"][check];
        assert_eq!(c["status"], "ok", "{check}: {c}");
        assert!(c["latency_ms"].is_u64());
        assert!(c["detail"].is_string());
    }
    assert!(
        body["checks"]["database"]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("sqlite, schema version {SCHEMA_VERSION}"))
    );
    assert!(
        body["checks"]["content"]["detail"]
            .as_str()
            .unwrap()
            .contains("revision builtin-")
    );
    // The SQLite file was created in the data folder, in WAL mode.
    assert!(server.dir.join("data/hearth.db").exists());
    assert!(server.dir.join("data/hearth.db-wal").exists());
}

#[tokio::test]
async fn metrics_use_route_templates_and_cover_the_process() {
    let server = Server::start(Start::default()).await;
    for path in [
        "/",
        "/favicon.ico",
        "/assets/missing.css",
        "/no/such/page",
        "/ping",
    ] {
        server.get(path).await;
    }
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text().await.unwrap();
    for needle in [
        r#"http_requests_total{method="GET",route="/",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/favicon.ico",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="/assets/{*file}",status="404"} 1"#,
        r#"http_requests_total{method="GET",route="/{*path}",status="404"} 1"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/ping",le="0.005"}"#,
        "# TYPE http_request_duration_seconds histogram",
        &format!(
            r#"hearth_build_info{{version="{}",revision="#,
            env!("CARGO_PKG_VERSION")
        ),
        &format!("hearth_schema_version {SCHEMA_VERSION}"),
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    assert!(
        !text.contains("missing.css") && !text.contains("/no/such/page"),
        "raw paths leaked into labels"
    );
}

#[tokio::test]
async fn requests_carry_ids_and_are_logged_once_each() {
    let mut server = Server::start(Start::default()).await;
    let response = client()
        .get(server.url("/ping"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let generated = server.get("/").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);

    let hostile = client()
        .get(server.url("/ping"))
        .header("x-request-id", "a b\"{}")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b\"{}");

    let line = server.wait_for_log(|l| l.contains(&id)).await;
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["message"], "request");
    assert_eq!(entry["http.method"], "GET");
    assert_eq!(entry["http.route"], "/");
    assert_eq!(entry["http.status"], 200);
    assert!(entry["duration_ms"].is_f64());
    server
        .wait_for_log(|l| l.contains("\"request.id\":\"abc-123\""))
        .await;
}

#[tokio::test]
async fn pages_are_secure_cacheable_and_compressed() {
    let server = Server::start(Start::default()).await;
    let home = server.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let headers = home.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(
        headers["referrer-policy"],
        "strict-origin-when-cross-origin"
    );
    let etag = headers[ETAG].clone();
    let body = home.text().await.unwrap();
    assert!(body.contains("<h1>Ada Example</h1>"), "{body}");
    assert!(body.contains("Senior Site Reliability Engineer"));

    let again = client()
        .get(server.url("/"))
        .header(IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = client()
        .get(server.url("/"))
        .header(IF_NONE_MATCH, "W/\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    for encoding in ["gzip", "br"] {
        let raw = client()
            .get(server.url("/"))
            .header(ACCEPT_ENCODING, encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.headers()[CONTENT_ENCODING], encoding);
        assert!(raw.bytes().await.unwrap().len() < body.len());
        hearth::install_tls_provider();
        let decoding = reqwest::Client::builder()
            .gzip(encoding == "gzip")
            .brotli(encoding == "br")
            .build()
            .unwrap();
        let decoded = decoding
            .get(server.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(decoded, body, "{encoding} round trip");
    }
}

#[tokio::test]
async fn errors_are_html_for_pages_and_problem_json_for_the_api() {
    let server = Server::start(Start::default()).await;
    let page = server.get("/no/such/page").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(page.text().await.unwrap().contains(">Page not found</h1>"));

    let api = server.get("/api/v1/nothing").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: serde_json::Value = api.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["detail"], "no API endpoint at /api/v1/nothing");
    assert!(problem["type"].as_str().unwrap().ends_with("/not-found"));

    // A body over the limit is refused from its declared length, before it is read: the
    // client sends the headers only, so no race with the server closing the connection.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3145728\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(common::PATIENCE, tcp.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
}

#[tokio::test]
async fn serves_a_content_folder() {
    let content = common::content_dir(
        "title = \"Grace's site\"\n",
        r#"{"basics": {"name": "Grace <Hopper>", "label": "Rear Admiral"}, "work": []}"#,
    );
    let server = Server::start(Start {
        args: vec!["--content", content.path().to_str().unwrap()],
        ..Start::default()
    })
    .await;
    let body = server.get("/").await.text().await.unwrap();
    assert!(body.contains("<h1>Grace &lt;Hopper&gt;</h1>"), "{body}");
    assert!(!body.contains("Experience"), "an empty section is omitted");
    let health: serde_json::Value = server.get("/health").await.json().await.unwrap();
    assert!(
        health["checks"]["content"]["detail"]
            .as_str()
            .unwrap()
            .contains("revision sha256:")
    );
}

#[tokio::test]
async fn broken_content_stops_start_up_naming_the_file() {
    let content = common::content_dir("title = \"x\"\n", "{\n  \"basics\": [1,,]\n}");
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--content",
            content.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = common::text(&out).1;
    assert!(stderr.contains("resume.json:2:16: "), "{stderr}");
}

#[tokio::test]
async fn sigint_and_sigterm_stop_the_server_cleanly() {
    for signal in ["INT", "TERM"] {
        let mut server = Server::start(Start::default()).await;
        assert_eq!(server.get("/ping").await.status(), StatusCode::OK);
        server.signal(signal);
        let status = server.exit().await;
        assert_eq!(
            status.code(),
            Some(0),
            "after SIG{signal}:\n{}",
            server.log_text()
        );
        server
            .wait_for_log(|l| l.contains("all requests finished"))
            .await;
    }
}

#[tokio::test]
async fn the_metrics_exposition_passes_promtool() {
    let server = Server::start(Start::default()).await;
    for path in ["/", "/ping", "/nowhere"] {
        server.get(path).await;
    }
    let text = server.get("/metrics").await.text().await.unwrap();
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is needed; scripts/services.sh installs it");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = promtool.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
    }
    let out = promtool.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `hearth probe`: 0 for an answer in 200–399, 1 with one line for anything else, 2 for an
/// address that is not one.
#[tokio::test]
async fn probe_judges_an_address_as_kubernetes_does() {
    let server = Server::start(Start::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(dir.path(), &["probe", &server.url("/ping")], &[]).await;
    let (stdout, stderr) = common::text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("200 OK "), "{stdout}");

    let out = common::run(dir.path(), &["probe", &server.url("/no-such-page")], &[]).await;
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("answered 404 Not Found"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://127.0.0.1:{port}/ping");
    let out = common::run(dir.path(), &["probe", &url], &[]).await;
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("cannot connect"), "{stderr}");

    // A server that accepts and never answers: the timeout ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping", silent.local_addr().unwrap());
    let out = common::run(dir.path(), &["probe", &url, "--timeout", "1s"], &[]).await;
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no answer within 1s"), "{stderr}");
    drop(silent);

    let out = common::run(dir.path(), &["probe", "ftp://example/"], &[]).await;
    let (_, stderr) = common::text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("is not an http:// or https:// address"),
        "{stderr}"
    );
}
