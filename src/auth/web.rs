//! Signing in and out: `GET`/`POST /login` and `POST /logout` as server-rendered pages
//! that work without JavaScript, and `/api/v1/session` for the admin console.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::routing::post;
use serde::Deserialize;

use super::{Caller, Client, Role, Via, session, throttle, user};
use crate::App;
use crate::db::audit;
use crate::web::ApiError;
use crate::web::error::Problem;

/// The routes.
pub fn router() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(login_form))
        .route("/logout", post(logout_form))
}

/// Where the login page's message and the `next` field go in the rendered template.
pub const STATUS_MARK: &str = "<!--hearth:status-->";
/// Where the `next` value goes.
pub const NEXT_MARK: &str = "hearth:next";

/// How an attempt to sign in went.
enum Outcome {
    /// Signed in: the cookie to set, and who.
    In(String, Caller),
    /// Wrong name or password (the same answer for both).
    Wrong,
    /// Too many failures; wait this many seconds.
    Throttled(u64),
}

async fn attempt(
    app: &App,
    client: Client,
    name: &str,
    password: &str,
) -> Result<Outcome, ApiError> {
    let keys = throttle::keys(name, client.addr);
    let unavailable = |e: sea_orm::DbErr| ApiError::unavailable(format!("cannot sign in now: {e}"));
    if let Some(wait) = throttle::blocked(&app.db, &keys)
        .await
        .map_err(unavailable)?
    {
        return Ok(Outcome::Throttled(wait.as_secs().max(1)));
    }
    let found = user::find(&app.db, name).await.map_err(unavailable)?;
    // The hash is checked on the blocking pool: it is deliberately slow.
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let given = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || super::password::verify(&given, stored.as_deref()))
            .await
            .map_err(ApiError::internal)?;
    let detail = serde_json::json!({ "addr": client.addr.to_string() });
    match found.filter(|_| matches) {
        Some(account) => {
            throttle::succeeded(&app.db, &keys)
                .await
                .map_err(unavailable)?;
            let secret = session::start(&app.db, account.id, app.config.sessions)
                .await
                .map_err(unavailable)?;
            record(app, &account.name, "user.login", Some(detail)).await;
            let cookie = session::cookie(&secret, app.config.sessions, client.https);
            let caller = Caller {
                role: Role::from_stored(&account.role),
                name: account.name,
                via: Via::Session,
            };
            Ok(Outcome::In(cookie, caller))
        }
        None => {
            throttle::failed(&app.db, &keys)
                .await
                .map_err(unavailable)?;
            record(app, name, "user.login_failed", Some(detail)).await;
            Ok(Outcome::Wrong)
        }
    }
}

async fn record(app: &App, actor: &str, action: &str, detail: Option<serde_json::Value>) {
    audit::note(app.db.conn(), actor, action, None, detail).await;
}

/// A local path to go to after signing in; anything else goes home.
fn next_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/') && !p.starts_with("//") && !p.contains(['\\', '\r', '\n']) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The login page with a message (already HTML) and the `next` path filled in.
fn page(app: &App, status: StatusCode, message: &str, next: &str) -> Response {
    let html = app
        .site()
        .login
        .replace(STATUS_MARK, message)
        .replace(NEXT_MARK, &escape(next));
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(app): State<App>,
    Query(query): Query<NextQuery>,
    headers: HeaderMap,
) -> Response {
    let next = next_path(query.next.as_deref());
    let message = match super::from_session(&app, &headers).await {
        Ok(Some(caller)) => format!(
            "<p class=\"signed-in\">Signed in as <strong>{}</strong> ({}).</p>\
             <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>",
            escape(&caller.name),
            caller.role
        ),
        _ => String::new(),
    };
    page(&app, StatusCode::OK, &message, &next)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn alert(text: &str) -> String {
    format!("<p class=\"alert\" role=\"alert\">{}</p>", escape(text))
}

async fn login_form(State(app): State<App>, parts: Parts, body: Bytes) -> Response {
    let client = Client::of(&parts, &app.config.server.trusted_proxies);
    if !super::same_origin(&parts.headers) {
        return page(
            &app,
            StatusCode::FORBIDDEN,
            &alert("This form must be sent from this site's own sign-in page."),
            "/",
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
        return page(
            &app,
            StatusCode::BAD_REQUEST,
            &alert("The form could not be read; send it again."),
            "/",
        );
    };
    let next = next_path(form.next.as_deref());
    match attempt(&app, client, form.name.trim(), &form.password).await {
        Ok(Outcome::In(cookie, _)) => {
            forget_previous(&app, &parts.headers).await;
            see_other(&next, &cookie)
        }
        Ok(Outcome::Wrong) => page(
            &app,
            StatusCode::UNAUTHORIZED,
            &alert("The name or the password is wrong."),
            &next,
        ),
        Ok(Outcome::Throttled(seconds)) => {
            let mut response = page(
                &app,
                StatusCode::TOO_MANY_REQUESTS,
                &alert(&format!(
                    "Too many failed attempts; try again in {seconds} seconds."
                )),
                &next,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Signing in always starts a new session; one the browser brought along ends.
async fn forget_previous(app: &App, headers: &HeaderMap) {
    if let Some(secret) = session::from_headers(headers)
        && let Err(e) = session::end(&app.db, secret).await
    {
        tracing::warn!(error = %e, "could not end the session replaced at sign-in");
    }
}

fn see_other(location: &str, cookie: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(cookie) = HeaderValue::from_str(cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Ends the request's session, if it has one; the answer removes the cookie either way.
async fn end_session(app: &App, parts: &Parts) -> Result<String, ApiError> {
    let client = Client::of(parts, &app.config.server.trusted_proxies);
    if let Some(secret) = session::from_headers(&parts.headers) {
        if let Ok(Some(caller)) = super::from_session(app, &parts.headers).await {
            record(app, &caller.name, "user.logout", None).await;
        }
        session::end(&app.db, secret)
            .await
            .map_err(|e| ApiError::unavailable(format!("cannot sign out now: {e}")))?;
    }
    Ok(session::removal(client.https))
}

async fn logout_form(State(app): State<App>, parts: Parts) -> Response {
    if !super::same_origin(&parts.headers) {
        return super::cross_site().into_response();
    }
    match end_session(&app, &parts).await {
        Ok(cookie) => see_other("/", &cookie),
        Err(e) => e.into_response(),
    }
}

/// Who is calling: the token's or the signed-in account's name and role.
#[utoipa::path(
    get, path = "/session", tag = "session",
    security(("token" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = Caller),
        (status = 401, description = "No token or session, or a revoked or expired one", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn whoami(caller: Caller) -> Json<Caller> {
    Json(caller)
}

/// The JSON body of `POST /api/v1/session`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The account's name.
    name: String,
    /// Its password.
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Sign in: sets the session cookie.
#[utoipa::path(
    post, path = "/session", tag = "session",
    request_body = Credentials,
    security(()),
    responses(
        (status = 200, description = "Signed in; `Set-Cookie` carries the session", body = Caller,
            headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 401, description = "The name or the password is wrong (the same answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site's page", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `server.body_limit`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not `{name, password}` as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn login_api(
    State(app): State<App>,
    parts: Parts,
    body: Bytes,
) -> Result<Response, ApiError> {
    let client = Client::of(&parts, &app.config.server.trusted_proxies);
    if parts.headers.contains_key("origin") && !super::same_origin(&parts.headers) {
        return Err(super::cross_site());
    }
    let credentials: Credentials = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-credentials",
            format!("send {{\"name\": …, \"password\": …}} as JSON: {e}"),
        )
    })?;
    match attempt(&app, client, credentials.name.trim(), &credentials.password).await? {
        Outcome::In(cookie, caller) => {
            forget_previous(&app, &parts.headers).await;
            let mut response = Json(caller).into_response();
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Outcome::Wrong => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong-credentials",
            "the name or the password is wrong",
        )),
        Outcome::Throttled(seconds) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("too many failed attempts; try again in {seconds} seconds"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            Ok(response)
        }
    }
}

/// Sign out: ends the session and removes the cookie.
#[utoipa::path(
    delete, path = "/session", tag = "session",
    security(()),
    responses(
        (status = 204, description = "Signed out (also when there was no session)",
            headers(("Set-Cookie" = String, description = "Removes the session cookie"))),
        (status = 403, description = "Sent from another site's page", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn logout_api(State(app): State<App>, parts: Parts) -> Result<Response, ApiError> {
    if session::from_headers(&parts.headers).is_some() && !super::same_origin(&parts.headers) {
        return Err(super::cross_site());
    }
    let cookie = end_session(&app, &parts).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(next_path(Some("/blog")), "/blog");
        assert_eq!(next_path(Some("//evil.example/")), "/");
        assert_eq!(next_path(Some("https://evil.example/")), "/");
        assert_eq!(next_path(Some("/\\evil.example")), "/");
        assert_eq!(next_path(None), "/");
    }
}

/// An account, as the admin console lists it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Account {
    /// Its name.
    name: String,
    /// Its role.
    role: Role,
    /// When it was made.
    created_at: chrono::DateTime<chrono::Utc>,
    /// How many sessions it has open.
    sessions: u64,
}

/// Every account.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccountList {
    /// By name.
    users: Vec<Account>,
}

/// List accounts (admins only).
#[utoipa::path(
    get, path = "/users", tag = "session",
    security(("session" = [])),
    responses(
        (status = 200, description = "Every account", body = AccountList),
        (status = 401, description = "No token or session, or a revoked or expired one", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database cannot be reached", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn users(State(app): State<App>, caller: Caller) -> Result<Json<AccountList>, ApiError> {
    caller.require(Role::Admin)?;
    let users = user::list(&app.db)
        .await
        .map_err(|e| ApiError::unavailable(format!("the database failed: {e}")))?
        .into_iter()
        .map(|u| Account {
            name: u.name,
            role: u.role,
            created_at: chrono::TimeZone::timestamp_millis_opt(&chrono::Utc, u.created_at)
                .single()
                .unwrap_or_default(),
            sessions: u.sessions,
        })
        .collect();
    Ok(Json(AccountList { users }))
}
