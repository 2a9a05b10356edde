//! `POST /hooks/github`: GitHub's push webhook. A delivery is verified
//! (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with `webhook.secret`, compared
//! in constant time) before anything else is looked at. A push to `publish.branch`
//! answers 202 at once; the content folder is then fetched and fast-forwarded in the
//! background and the site re-rendered. Deliveries arriving during a pull are coalesced
//! into one more pull after it; a delivery id seen before is ignored. A push that cannot
//! fast-forward leaves the folder as it was and turns `/health` degraded until a later
//! pull succeeds.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::App;
use crate::site::Source;
use crate::site::gitsync::{self, Synced};
use crate::web::ApiError;

/// How many delivery ids are remembered to recognise a redelivery.
const REMEMBERED: usize = 256;

/// The route.
pub fn router() -> Router<App> {
    Router::new().route("/hooks/github", post(github))
}

/// The webhook's state: recent deliveries, the pull in progress, the last pull's problem.
#[derive(Debug, Default)]
pub struct Hook {
    state: Mutex<HookState>,
}

#[derive(Debug, Default)]
struct HookState {
    seen: VecDeque<String>,
    running: bool,
    again: bool,
    problem: Option<String>,
}

impl Hook {
    fn state(&self) -> std::sync::MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the content folder could not follow its remote, until a pull succeeds.
    pub fn problem(&self) -> Option<String> {
        self.state().problem.clone()
    }

    /// Records a delivery id; false when it was seen before.
    fn first_delivery(&self, id: &str) -> bool {
        let mut state = self.state();
        if state.seen.iter().any(|seen| seen == id) {
            return false;
        }
        if state.seen.len() == REMEMBERED {
            state.seen.pop_front();
        }
        state.seen.push_back(id.to_owned());
        true
    }

    /// Whether the caller should start a pull: false when one is running, which will
    /// then run once more.
    fn start(&self) -> bool {
        let mut state = self.state();
        if state.running {
            state.again = true;
            false
        } else {
            state.running = true;
            true
        }
    }

    /// Whether another pull was asked for while one ran; if not, the pull is over.
    fn finish(&self) -> bool {
        let mut state = self.state();
        if state.again {
            state.again = false;
            true
        } else {
            state.running = false;
            false
        }
    }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = unhex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

async fn github(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &app.config.webhook_secret else {
        return ApiError::not_found(
            "the GitHub webhook is not configured: set webhook.secret (HEARTH_WEBHOOK_SECRET)",
        )
        .into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(signature) = header("x-hub-signature-256") else {
        return unauthorized("the delivery has no X-Hub-Signature-256 header");
    };
    if !verify(secret.expose().as_bytes(), &body, signature) {
        tracing::warn!("a webhook delivery with a wrong signature was refused");
        return unauthorized("the delivery's signature does not match the secret");
    }
    let event = header("x-github-event").unwrap_or_default();
    if let Some(id) = header("x-github-delivery")
        && !app.webhook.first_delivery(id)
    {
        tracing::info!(delivery = id, "a repeated webhook delivery was ignored");
        return Json(json!({ "status": "duplicate delivery ignored" })).into_response();
    }
    match event {
        "ping" => Json(json!({ "status": "pong" })).into_response(),
        "push" => push(&app, &body),
        other => {
            Json(json!({ "status": format!("the event {other:?} is ignored") })).into_response()
        }
    }
}

fn push(app: &App, body: &[u8]) -> Response {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-payload",
            "the push payload is not JSON",
        )
        .into_response();
    };
    let branch = &app.config.publish.branch;
    let pushed = payload
        .get("ref")
        .and_then(|r| r.as_str())
        .unwrap_or_default();
    if pushed.strip_prefix("refs/heads/") != Some(branch.as_str()) {
        return Json(json!({
            "status": format!("a push to {pushed:?} is ignored; this site follows {branch:?}")
        }))
        .into_response();
    }
    if !matches!(app.build.source, Source::Dir(_)) {
        return ApiError::new(
            StatusCode::CONFLICT,
            "no-content-folder",
            "this server shows the built-in demo site; set `content` to a git clone to follow pushes",
        )
        .into_response();
    }
    if app.webhook.start() {
        tokio::spawn(pull(app.clone()));
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({ "status": "accepted: the content will be pulled and rendered" })),
    )
        .into_response()
}

/// Pulls until no delivery arrived during the last pull.
async fn pull(app: App) {
    loop {
        let Source::Dir(dir) = app.build.source.clone() else {
            return;
        };
        let lock = app.content_lock.lock().await;
        let publish = app.config.publish.clone();
        let result = tokio::task::spawn_blocking(move || {
            gitsync::sync(&dir, &publish.remote, &publish.branch)
        })
        .await;
        drop(lock);
        let outcome = match result {
            Ok(Ok(synced)) => Ok(synced),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the pull panicked: {e}")),
        };
        match outcome {
            Ok(Synced::UpToDate { head }) => {
                app.webhook.state().problem = None;
                tracing::info!(head, "webhook: the content is up to date");
            }
            Ok(Synced::FastForwarded { from, to }) => {
                app.webhook.state().problem = None;
                tracing::info!(from, to, "webhook: the content was fast-forwarded");
                app.rerender().await;
            }
            Err(why) => {
                tracing::error!(error = %why, "webhook: the content was not updated");
                app.webhook.state().problem = Some(why);
            }
        }
        if !app.webhook.finish() {
            return;
        }
    }
}

fn unauthorized(detail: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad-signature", detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's published example ("Validating webhook deliveries"): the secret
    /// "It's a Secret to Everybody" and the payload "Hello, World!".
    #[test]
    fn githubs_test_vector_verifies() {
        let secret = b"It's a Secret to Everybody";
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify(secret, b"Hello, World!", signature));
        assert!(!verify(secret, b"Hello, World?", signature));
        assert!(!verify(b"another secret", b"Hello, World!", signature));
        assert!(!verify(
            secret,
            b"Hello, World!",
            &signature.replace("sha256=", "sha1=")
        ));
        assert!(!verify(secret, b"Hello, World!", "sha256=zz"));
        assert!(!verify(secret, b"Hello, World!", ""));
    }

    #[test]
    fn deliveries_are_remembered_and_pulls_coalesce() {
        let hook = Hook::default();
        assert!(hook.first_delivery("a"));
        assert!(!hook.first_delivery("a"));
        for i in 0..REMEMBERED {
            assert!(hook.first_delivery(&i.to_string()));
        }
        // The oldest ids are forgotten once more than REMEMBERED arrived.
        assert!(hook.first_delivery("a"));

        assert!(hook.start());
        assert!(!hook.start());
        assert!(!hook.start());
        // Two deliveries during the pull make one more pull, not two.
        assert!(hook.finish());
        assert!(!hook.finish());
        assert!(hook.start());
    }
}
