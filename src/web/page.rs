//! A rendered response held in memory: bytes, type and a validator, so serving it is a
//! header comparison and a reference-count increment.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A page or asset, rendered once per content change.
#[derive(Debug, Clone)]
pub struct Page {
    body: Bytes,
    etag: HeaderValue,
    content_type: HeaderValue,
}

impl Page {
    /// Wraps rendered bytes; the ETag is derived from them.
    pub fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let digest = Sha256::digest(&body);
        let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        // Weak: the compression layer may re-encode the bytes, and the tag still holds
        // for the content.
        let etag = HeaderValue::try_from(format!("W/\"{hex}\""))
            .unwrap_or(HeaderValue::from_static("W/\"0\""));
        Self {
            body,
            etag,
            content_type: HeaderValue::from_static(content_type),
        }
    }

    /// The bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The page, or `304 Not Modified` when the client's `If-None-Match` matches.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        self.respond_with(StatusCode::OK, request)
    }

    /// The page with another status (a 404 page, say).
    pub fn respond_with(&self, status: StatusCode, request: &HeaderMap) -> Response {
        let fresh = status == StatusCode::OK
            && request
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| etag_matches(v, &self.etag));
        let mut response = if fresh {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(self.body.clone()));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(header::CONTENT_TYPE, self.content_type.clone());
            r
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// `If-None-Match` uses the weak comparison: `W/"x"` and `"x"` match each other.
fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default().trim_start_matches("W/");
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .any(|tag| tag.trim().trim_start_matches("W/") == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(inm: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(inm).unwrap());
        h
    }

    #[test]
    fn answers_304_only_for_a_matching_tag() {
        let page = Page::new("hello", "text/plain");
        let tag = page.etag.to_str().unwrap().to_owned();
        assert_eq!(page.respond(&HeaderMap::new()).status(), StatusCode::OK);
        assert_eq!(page.respond(&with(&tag)).status(), StatusCode::NOT_MODIFIED);
        let strong = tag.trim_start_matches("W/").to_owned();
        assert_eq!(
            page.respond(&with(&strong)).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            page.respond(&with(&format!("\"other\", {tag}"))).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(page.respond(&with("*")).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(page.respond(&with("\"other\"")).status(), StatusCode::OK);
        assert_ne!(Page::new("hello!", "text/plain").etag, page.etag);
    }
}
