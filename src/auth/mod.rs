//! Who is calling: API tokens, and the extractor that turns an `Authorization: Bearer`
//! header into a [`Caller`] or a 401.

pub mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::App;
use crate::web::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: who did it, in the audit log and in git history.
    pub name: String,
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
            "this endpoint needs an API token: send Authorization: Bearer <token>",
        )
        .into_response());
    };
    match token::authenticate(&app.db, secret).await {
        Ok(Some(name)) => Ok(Caller { name }),
        Ok(None) => {
            Err(Unauthorized("the API token is unknown or has been revoked").into_response())
        }
        Err(e) => {
            Err(ApiError::unavailable(format!("cannot check the token: {e}")).into_response())
        }
    }
}

/// The bearer token of a request's `Authorization` header, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<App> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        authenticate(app, bearer(parts)).await
    }
}
