//! The API's contract: the OpenAPI document matches the reviewed snapshot, the docs page
//! works offline, and every error under `/api/` is a problem document, even those made
//! before a handler runs.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, Start, client};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use serde_json::Value;
use std::io::Read;

const SNAPSHOT: &str = "tests/snapshots/openapi.json";

/// A change to the API is a change to `tests/snapshots/openapi.json`, reviewed with the
/// code. `UPDATE_SNAPSHOTS=1 cargo nextest run -E 'test(openapi)'` rewrites it.
#[tokio::test]
async fn the_openapi_document_matches_the_snapshot() {
    let server = Server::start(Start::default()).await;
    let response = server.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served: Value = response.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    for path in served["paths"].as_object().unwrap().keys() {
        assert!(path.starts_with("/api/v1/"), "{path}");
    }
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot)
        .unwrap_or_else(|e| panic!("{SNAPSHOT}: {e}; run with UPDATE_SNAPSHOTS=1 to write it"));
    assert!(
        expected == pretty,
        "the API changed: review the difference and run with UPDATE_SNAPSHOTS=1 to accept it\n{}",
        first_difference(&expected, &pretty)
    );
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n- {x}\n+ {y}", i + 1);
        }
    }
    format!(
        "lengths differ: {} and {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

#[tokio::test]
async fn the_docs_page_needs_nothing_from_elsewhere() {
    let server = Server::start(Start::default()).await;
    let page = server.get("/api/v1/docs/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            let url = part.split('"').next().unwrap();
            assert!(
                !url.contains("://"),
                "the docs page loads {url} from elsewhere"
            );
            assets.push(url.to_owned());
        }
    }
    assert!(assets.len() >= 2, "{html}");
    for asset in assets {
        let path = if asset.starts_with('/') {
            asset
        } else {
            format!("/api/v1/docs/{}", asset.trim_start_matches("./"))
        };
        assert_eq!(server.get(&path).await.status(), StatusCode::OK, "{path}");
    }
    // The page's configuration points at the served document.
    let config = server
        .get("/api/v1/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("/api/v1/openapi.json"), "{config}");
}

#[tokio::test]
async fn the_docs_files_are_served_compressed_and_revalidated() {
    let server = Server::start(Start::default()).await;
    // Without its slash the page's relative links would break: redirected.
    let page = server.get("/api/v1/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.url().path(), "/api/v1/docs/");

    let path = "/api/v1/docs/swagger-ui-bundle.js";
    let plain = server.get(path).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    assert!(
        plain.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = plain.headers()[ETAG].clone();
    let plain = plain.bytes().await.unwrap();
    assert!(plain.len() > 500_000, "{} bytes", plain.len());

    let gzipped = client()
        .get(server.url(path))
        .header(ACCEPT_ENCODING, "br;q=0, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(gzipped.headers()[VARY], "accept-encoding");
    let gzipped = gzipped.bytes().await.unwrap();
    assert!(gzipped.len() * 3 < plain.len(), "{} bytes", gzipped.len());
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert!(inflated == plain, "the gzip form is not the same file");

    let again = client()
        .get(server.url(path))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Only the files the page loads are there; other names are the API's 404.
    let missing = server.get("/api/v1/docs/swagger-ui-es-bundle.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()[CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn every_api_error_is_a_problem_document() {
    let server = Server::start(Start {
        env: vec![("HEARTH_SERVER_BODY_LIMIT", "1KiB".to_owned())],
        ..Start::default()
    })
    .await;
    let problem = |response: &reqwest::Response| {
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/problem+json",
            "{}",
            response.status()
        );
    };
    // No route, a method the route does not have, a body over the limit, no token.
    let response = server.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    problem(&response);
    let response = client()
        .patch(server.url("/api/v1/posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    problem(&response);
    assert!(response.headers()[ALLOW].to_str().unwrap().contains("GET"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        "https://hearth.invalid/problems/method-not-allowed"
    );
    assert_eq!(body["status"], 405);
    let response = client()
        .post(server.url("/api/v1/session"))
        .header(CONTENT_TYPE, "application/json")
        .body("x".repeat(4096))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    problem(&response);
    let response = server.get("/api/v1/posts").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    problem(&response);
}
