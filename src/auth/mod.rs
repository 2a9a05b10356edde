//! Who is calling, through one layer: an API token (`Authorization: Bearer`) or a session
//! cookie. Every endpoint that needs a caller takes [`Caller`] and says the least
//! [`Role`] it needs. A request authenticated by cookie that changes something must come
//! from this site (CSRF): browsers say where a request comes from in `Sec-Fetch-Site`
//! and `Origin`; a bearer token is never sent by a browser on its own, so it is exempt.

pub mod password;
pub mod session;
pub mod throttle;
pub mod token;
pub mod user;
pub mod web;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use user::Role;

use crate::App;
use crate::config::IpNet;
use crate::web::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Caller {
    /// The token's or the account's name: who did it, in the audit log and git history.
    pub name: String,
    /// What it may do. A token publishes: it is an editor.
    pub role: Role,
    /// How it authenticated.
    pub via: Via,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// An API token.
    Token,
    /// A session cookie.
    Session,
}

impl Caller {
    /// 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {role} role; {} is {}", self.name, self.role),
            ))
        }
    }
}

/// Why a request is not authenticated; answers 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug)]
pub struct Unauthorized(&'static str);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", self.0).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hearth\""),
        );
        response
    }
}

/// Authenticates a bearer token, wherever it came from.
pub async fn authenticate(app: &App, secret: Option<&str>) -> Result<Caller, Response> {
    let Some(secret) = secret else {
        return Err(Unauthorized(
            "this endpoint needs an API token (Authorization: Bearer <token>) or a signed-in session",
        )
        .into_response());
    };
    match token::authenticate(&app.db, secret).await {
        Ok(Some(name)) => Ok(Caller {
            name,
            role: Role::Editor,
            via: Via::Token,
        }),
        Ok(None) => {
            Err(Unauthorized("the API token is unknown or has been revoked").into_response())
        }
        Err(e) => {
            Err(ApiError::unavailable(format!("cannot check the token: {e}")).into_response())
        }
    }
}

/// The caller a session cookie signs in, if it is live.
pub async fn from_session(app: &App, headers: &HeaderMap) -> Result<Option<Caller>, Response> {
    let Some(secret) = session::from_headers(headers) else {
        return Ok(None);
    };
    match session::lookup(&app.db, secret, app.config.sessions).await {
        Ok(found) => Ok(found.map(|u| Caller {
            role: Role::from_stored(&u.role),
            name: u.name,
            via: Via::Session,
        })),
        Err(e) => {
            Err(ApiError::unavailable(format!("cannot check the session: {e}")).into_response())
        }
    }
}

/// The bearer token of a request's `Authorization` header, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether a browser request comes from this site. `Sec-Fetch-Site` says so directly;
/// otherwise `Origin` must name the host the request was sent to. A request with
/// neither did not come from a modern browser page, and is refused too: scripts use
/// tokens.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => url::Url::parse(origin).is_ok_and(|o| {
            let authority = match o.port() {
                Some(port) => format!("{}:{port}", o.host_str().unwrap_or_default()),
                None => o.host_str().unwrap_or_default().to_owned(),
            };
            authority.eq_ignore_ascii_case(host)
        }),
        _ => false,
    }
}

/// The 403 for a cross-site request.
pub fn cross_site() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross-site",
        "a request signed in by a session cookie must come from this site's own pages; scripts use an API token",
    )
}

impl FromRequestParts<App> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(secret) = bearer(&parts.headers) {
            return authenticate(app, Some(secret)).await;
        }
        match from_session(app, &parts.headers).await? {
            Some(caller) => {
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe && !same_origin(&parts.headers) {
                    return Err(cross_site().into_response());
                }
                Ok(caller)
            }
            None => authenticate(app, None).await,
        }
    }
}

/// Where a request really comes from, and whether it reached the site over HTTPS: the
/// forwarding headers are believed only from a trusted proxy.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    /// The client's address.
    pub addr: IpAddr,
    /// Whether the site was reached over HTTPS.
    pub https: bool,
}

impl Client {
    /// Reads the peer from the connection and, behind trusted proxies, the headers.
    pub fn of(parts: &Parts, trusted: &[IpNet]) -> Client {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(peer) {
            return Client {
                addr: peer,
                https: false,
            };
        }
        // The nearest address that is not one of ours is the client.
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let addr = forwarded
            .iter()
            .rev()
            .copied()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer);
        let https = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        Client { addr, https }
    }
}

impl FromRequestParts<App> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(Client::of(parts, &app.config.server.trusted_proxies))
    }
}
