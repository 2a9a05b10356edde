//! The database going away and coming back, a hung database, and shutdown with requests
//! in flight. A proxy the test controls sits between hearth and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::proxy::{Mode, Proxy};
use common::{Engine, PATIENCE, Server, Start, TestDb, client, run};
use reqwest::StatusCode;

/// A migrated PostgreSQL database and a hearth that reaches it through a proxy.
async fn served_through_proxy(extra_env: Vec<(&'static str, String)>) -> (TestDb, Proxy, Server) {
    let db = TestDb::new(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[("HEARTH_DATABASE_URL", &db.url)],
    )
    .await;
    assert!(out.status.success());
    let proxy = Proxy::start(db.server_addr()).await;
    let mut env = vec![("HEARTH_DATABASE_URL", db.url_via(proxy.addr))];
    env.extend(extra_env);
    let server = Server::start(Start {
        env,
        ..Start::default()
    })
    .await;
    (db, proxy, server)
}

/// GETs a probe and reads its JSON body (`null` if there is none). The client's
/// patience bounds the answer: a probe must answer well within it.
async fn probe(server: &Server, path: &str) -> (StatusCode, serde_json::Value) {
    hearth::install_tls_provider();
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()
        .unwrap()
        .get(server.url(path))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn ready_follows_the_database_without_a_restart() {
    let (_db, proxy, server) = served_through_proxy(vec![]).await;
    assert_eq!(server.get("/ready").await.status(), StatusCode::OK);

    proxy.set(Mode::Cut);
    let (status, body) = probe(&server, "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "not ready");
    assert!(
        body["reason"].as_str().unwrap().starts_with("postgres"),
        "{body}"
    );

    let (status, body) = probe(&server, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["database"]["status"], "fail");
    assert_eq!(body["checks"]["content"]["status"], "ok");

    // Liveness does not depend on the database.
    assert_eq!(server.get("/ping").await.status(), StatusCode::OK);
    assert_eq!(server.get("/").await.status(), StatusCode::OK);

    proxy.set(Mode::Pass);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if probe(&server, "/ready").await.0 == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready never recovered:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_hung_database_gives_a_prompt_503_not_a_hung_probe() {
    let (_db, proxy, server) = served_through_proxy(vec![]).await;
    assert_eq!(server.get("/health").await.status(), StatusCode::OK);
    proxy.set(Mode::Hang);
    let (status, body) = probe(&server, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["checks"]["database"]["detail"],
        "postgres did not answer within 1000 ms"
    );
    assert_eq!(
        probe(&server, "/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let (_db, proxy, mut server) = served_through_proxy(vec![]).await;
    assert_eq!(server.get("/health").await.status(), StatusCode::OK);
    proxy.set(Mode::Hang);
    // /health now waits on the database for up to its bound: a slow request.
    let request = tokio::spawn(client().get(server.url("/health")).send());
    proxy.swallowed.notified().await; // the request is inside the handler
    server.signal("TERM");
    let response = request
        .await
        .unwrap()
        .expect("the in-flight request was cut off");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["database"]["status"], "fail");
    assert_eq!(server.exit().await.code(), Some(0), "{}", server.log_text());
    // Once draining started, no new connection is accepted.
    assert!(client().get(server.url("/ping")).send().await.is_err());
}

#[tokio::test]
async fn the_grace_period_bounds_shutdown() {
    let (_db, proxy, mut server) =
        served_through_proxy(vec![("HEARTH_SERVER_SHUTDOWN_GRACE", "0s".to_owned())]).await;
    proxy.set(Mode::Hang);
    let request = tokio::spawn(client().get(server.url("/health")).send());
    proxy.swallowed.notified().await;
    server.signal("TERM");
    assert_eq!(server.exit().await.code(), Some(0));
    assert!(
        request.await.unwrap().is_err(),
        "the request outlived a zero grace period"
    );
    server
        .wait_for_log(|l| l.contains("grace period over"))
        .await;
}

#[tokio::test]
async fn a_request_over_the_time_limit_gets_503() {
    let (_db, proxy, server) =
        served_through_proxy(vec![("HEARTH_SERVER_REQUEST_TIMEOUT", "200ms".to_owned())]).await;
    proxy.set(Mode::Hang);
    // /health would answer after its 1 s bound, with a JSON body; the request limit
    // answers first, with an empty one.
    let (status, body) = probe(&server, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.is_null(), "the handler's body arrived: {body}");
    assert_eq!(server.get("/ping").await.status(), StatusCode::OK);
}
