//! A rendered response held in memory: bytes, type, a validator, and its gzip and brotli
//! forms compressed once at render time, so serving it is a header comparison and a
//! reference-count increment, whatever the client accepts.

use std::io::{Read, Write};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// A page or asset, rendered once per content change.
#[derive(Debug, Clone)]
pub struct Page {
    body: Bytes,
    gzip: Option<Bytes>,
    br: Option<Bytes>,
    /// Strong validators, one per representation: `"<hash>"`, `"<hash>-gz"`, `"<hash>-br"`.
    etags: [HeaderValue; 3],
    content_type: HeaderValue,
    cache_control: HeaderValue,
    /// Headers of this page alone (`Content-Disposition`, say).
    extra: Option<Box<(HeaderName, HeaderValue)>>,
}

const GZIP: HeaderValue = HeaderValue::from_static("gzip");
const BR: HeaderValue = HeaderValue::from_static("br");
const REVALIDATE: HeaderValue = HeaderValue::from_static("public, no-cache");
const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

impl Page {
    /// Wraps rendered bytes; the ETag is derived from them, and text is compressed.
    pub fn new(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let body = body.into();
        let etags = etags(&body);
        let compressible = is_compressible(content_type) && body.len() > 256;
        let worth = |c: Vec<u8>| (c.len() * 10 < body.len() * 9).then(|| Bytes::from(c));
        Self {
            gzip: compressible.then(|| gzip(&body)).flatten().and_then(worth),
            br: compressible
                .then(|| brotli(&body))
                .flatten()
                .and_then(worth),
            body,
            etags,
            content_type: HeaderValue::from_static(content_type),
            cache_control: REVALIDATE,
            extra: None,
        }
    }

    /// Wraps a file gzip-compressed at build time: that form is served as it is, and the
    /// plain bytes, for a client without gzip, are inflated from it here.
    pub fn from_gzip(gzip: &'static [u8], content_type: &'static str) -> std::io::Result<Self> {
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(gzip).read_to_end(&mut body)?;
        let body = Bytes::from(body);
        Ok(Self {
            etags: etags(&body),
            gzip: Some(Bytes::from_static(gzip)),
            br: None,
            body,
            content_type: HeaderValue::from_static(content_type),
            cache_control: REVALIDATE,
            extra: None,
        })
    }

    /// Wraps bytes that will not be served over HTTP (a static export): no compressed
    /// forms are made.
    pub fn uncompressed(body: impl Into<Bytes>, content_type: &'static str) -> Self {
        let mut page = Self::new(Bytes::new(), content_type);
        let body = body.into();
        page.etags = etags(&body);
        page.body = body;
        page
    }

    /// This page again, for another address: the same bytes and compressed forms,
    /// revalidated, without its own extra header. Re-rendering reuses pages whose bytes
    /// did not change instead of compressing them again.
    pub fn reuse(&self) -> Self {
        let mut page = self.clone();
        page.cache_control = REVALIDATE;
        page.extra = None;
        page
    }

    /// The strong validator of the uncompressed bytes: equal tags, equal bytes.
    pub fn tag(&self) -> &HeaderValue {
        &self.etags[0]
    }

    /// The tag a page of `body` would have.
    pub fn tag_of(body: &[u8]) -> HeaderValue {
        let [tag, _, _] = etags(body);
        tag
    }

    /// Marks the page as never changing at its address (the address carries its hash).
    pub fn immutable(mut self) -> Self {
        self.cache_control = IMMUTABLE;
        self
    }

    /// Adds a header every response of this page carries.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extra = Some(Box::new((name, value)));
        self
    }

    /// The uncompressed bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The media type.
    pub fn content_type(&self) -> &str {
        self.content_type.to_str().unwrap_or_default()
    }

    /// The page, or `304 Not Modified` when the client's `If-None-Match` matches.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        self.respond_with(StatusCode::OK, request)
    }

    /// The page with another status (a 404 page, say).
    pub fn respond_with(&self, status: StatusCode, request: &HeaderMap) -> Response {
        let accepted = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map_or(Accepted::default(), Accepted::parse);
        let (body, encoding, etag) = match (&self.br, &self.gzip) {
            (Some(br), _) if accepted.br => (br, Some(BR), &self.etags[2]),
            (_, Some(gzip)) if accepted.gzip => (gzip, Some(GZIP), &self.etags[1]),
            _ => (&self.body, None, &self.etags[0]),
        };
        let fresh = status == StatusCode::OK && holds(request, &self.etags[0]);
        let mut response = if fresh {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(Body::from(body.clone()));
            *r.status_mut() = status;
            let headers = r.headers_mut();
            headers.insert(header::CONTENT_TYPE, self.content_type.clone());
            if let Some(encoding) = encoding {
                headers.insert(header::CONTENT_ENCODING, encoding);
            }
            if let Some(extra) = &self.extra {
                headers.insert(extra.0.clone(), extra.1.clone());
            }
            r
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag.clone());
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        if self.gzip.is_some() || self.br.is_some() {
            headers.insert(header::VARY, ACCEPT_ENCODING);
        }
        response
    }
}

/// Strong validators, so each encoding has its own: they are different bytes.
fn etags(body: &[u8]) -> [HeaderValue; 3] {
    let hex = hex(&Sha256::digest(body)[..10]);
    ["", "-gz", "-br"].map(|suffix| {
        HeaderValue::try_from(format!("\"{hex}{suffix}\""))
            .unwrap_or(HeaderValue::from_static("\"0\""))
    })
}

/// Lower-case hexadecimal, for validators and revisions made from digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || ["json", "xml", "javascript", "svg"]
            .iter()
            .any(|kind| content_type.contains(kind))
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(body).ok()?;
    }
    Some(out)
}

/// Which encodings an `Accept-Encoding` header allows (a `q=0` refuses one).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Accepted {
    gzip: bool,
    br: bool,
}

impl Accepted {
    fn parse(header: &str) -> Self {
        let mut accepted = Accepted::default();
        for item in header.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            let allowed = !refused;
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                accepted.gzip = allowed;
            } else if coding.eq_ignore_ascii_case("br") {
                accepted.br = allowed;
            } else if coding == "*" {
                accepted.gzip |= allowed;
                accepted.br |= allowed;
            }
        }
        accepted
    }
}

/// Whether the request's `If-None-Match` names `etag`: the client holds that content, and
/// `304 Not Modified` answers it.
pub fn holds(request: &HeaderMap, etag: &HeaderValue) -> bool {
    request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, etag))
}

/// `If-None-Match` uses the weak comparison (`W/"x"` and `"x"` match), and any encoding's
/// tag of the same content matches: a client that got the brotli form may revalidate it.
fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or_default().trim_matches('"');
    if_none_match.trim() == "*"
        || if_none_match.split(',').any(|tag| {
            let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
            let tag = tag
                .strip_suffix("-gz")
                .or_else(|| tag.strip_suffix("-br"))
                .unwrap_or(tag);
            tag == ours
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn answers_304_only_for_a_matching_tag() {
        let page = Page::new("hello", "text/plain");
        let tag = page.etags[0].to_str().unwrap().to_owned();
        let inm = |v: &str| with(header::IF_NONE_MATCH, v);
        assert_eq!(page.respond(&HeaderMap::new()).status(), StatusCode::OK);
        assert_eq!(page.respond(&inm(&tag)).status(), StatusCode::NOT_MODIFIED);
        let weak = format!("W/{tag}");
        assert_eq!(page.respond(&inm(&weak)).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            page.respond(&inm(&format!("\"other\", {tag}"))).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(page.respond(&inm("*")).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(page.respond(&inm("\"other\"")).status(), StatusCode::OK);
        assert_ne!(Page::new("hello!", "text/plain").etags, page.etags);
    }

    #[test]
    fn picks_the_encoding_the_client_accepts() {
        let page = Page::new(
            "<p>hello, world</p>\n".repeat(100),
            "text/html; charset=utf-8",
        );
        let encoding = |accept: &str| {
            page.respond(&with(header::ACCEPT_ENCODING, accept))
                .headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(encoding("gzip, deflate, br"), Some("br".into()));
        assert_eq!(encoding("gzip"), Some("gzip".into()));
        assert_eq!(encoding("br;q=0, gzip;q=0.5"), Some("gzip".into()));
        assert_eq!(encoding("identity"), None);
        assert_eq!(encoding("*"), Some("br".into()));
        assert_eq!(encoding("gzip;q=0"), None);
        let plain = page.respond(&HeaderMap::new());
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    }

    #[test]
    fn a_reused_page_keeps_its_compressed_forms_but_not_its_caching() {
        let body = "<p>hello, world</p>\n".repeat(100);
        let page = Page::new(body.clone(), "text/html; charset=utf-8")
            .immutable()
            .with_header(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            );
        assert_eq!(Page::tag_of(body.as_bytes()), page.tag());
        let again = page.reuse();
        assert_eq!(
            again.br.as_ref().map(|b| b.as_ptr()),
            page.br.as_ref().map(|b| b.as_ptr())
        );
        assert_eq!(again.cache_control, REVALIDATE);
        assert!(again.extra.is_none());
        assert_eq!(again.etags, page.etags);
    }

    #[test]
    fn small_or_binary_bodies_stay_as_they_are() {
        let tiny = Page::new("hi", "text/plain");
        assert!(tiny.gzip.is_none() && tiny.br.is_none());
        let binary = Page::new(vec![0u8; 10_000], "image/png");
        assert!(binary.gzip.is_none() && binary.br.is_none());
    }
}
