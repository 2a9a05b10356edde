//! Micropub (W3C Recommendation, 2017) at `/micropub`, so existing clients can post:
//! form-encoded and JSON `h=entry` create, update (replace, add, delete), delete,
//! and the `config`, `source` and `syndicate-to` queries. Tokens are hearth's API tokens,
//! sent as `Authorization: Bearer` or as the form's `access_token`.
//!
//! Properties map to a post's fields: `name` → title, `content` → body, `category` →
//! tags, `published`/`updated` → dates, `summary`, `post-status: draft`, `mp-slug`.
//! Other properties are refused by name rather than dropped.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{PostSource, PublishError, Store, Submission, git};
use crate::App;
use crate::auth::{self, Caller};
use crate::site::post::Slug;

/// The route.
pub fn router() -> Router<App> {
    Router::new().route("/micropub", get(query).post(post))
}

/// A Micropub error: the OAuth-style body the specification names.
#[derive(Debug)]
struct Error {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl Error {
    fn invalid(description: impl Into<String>) -> Self {
        Error {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            description: description.into(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hearth\""),
            );
        }
        response
    }
}

impl From<PublishError> for Error {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Git(git::GitError::Missing) => Error {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "temporarily_unavailable",
                description: e.to_string(),
            },
            PublishError::Git(_) | PublishError::Io(_) => {
                tracing::error!(error = %e, "micropub request failed");
                Error {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "server_error",
                    description: "the server could not complete this request; it has been logged"
                        .to_owned(),
                }
            }
            PublishError::NotFound(_) => Error {
                status: StatusCode::NOT_FOUND,
                code: "invalid_request",
                description: e.to_string(),
            },
            PublishError::Exists(_) => Error {
                status: StatusCode::CONFLICT,
                code: "invalid_request",
                description: e.to_string(),
            },
            other => Error::invalid(other.to_string()),
        }
    }
}

/// Authenticates a request whose token may be in the header or the form.
async fn caller(
    app: &App,
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<Caller, Response> {
    let header = auth::bearer(headers);
    if header.is_some() && form_token.is_some() {
        return Err(Error::invalid(
            "send the token in the Authorization header or as access_token, not both",
        )
        .into_response());
    }
    auth::authenticate(app, header.or(form_token))
        .await
        .map_err(|_| {
            Error {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthorized",
                description: "a valid API token is needed: send Authorization: Bearer <token>"
                    .to_owned(),
            }
            .into_response()
        })
}

/// `GET /micropub?q=…`.
async fn query(State(app): State<App>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref().unwrap_or_default().as_bytes());
    if let Err(response) = caller(&app, &headers, None).await {
        return response;
    }
    match params.one("q") {
        Some("config") => axum::Json(json!({
            "syndicate-to": [],
            "post-types": [
                { "type": "note", "name": "Note" },
                { "type": "article", "name": "Article" }
            ],
            "q": ["config", "source", "syndicate-to"],
        }))
        .into_response(),
        Some("syndicate-to") => axum::Json(json!({ "syndicate-to": [] })).into_response(),
        Some("source") => source(&app, &params)
            .await
            .unwrap_or_else(IntoResponse::into_response),
        Some(other) => Error::invalid(format!(
            "the query q={other} is not supported; try config, source or syndicate-to"
        ))
        .into_response(),
        None => Error::invalid("a Micropub query needs q (config, source or syndicate-to)")
            .into_response(),
    }
}

/// `q=source`: a post's properties, all or those asked for.
async fn source(app: &App, params: &Params) -> Result<Response, Error> {
    let url = params
        .one("url")
        .ok_or_else(|| Error::invalid("q=source needs the url of a post"))?;
    let slug = slug_of(url)?;
    let found = Store::of(app)?
        .find(&slug)
        .await?
        .ok_or_else(|| PublishError::NotFound(slug.as_str().to_owned()))?;
    let mut properties = properties_of(&found.source);
    let wanted = params.all("properties");
    if wanted.is_empty() {
        return Ok(
            axum::Json(json!({ "type": ["h-entry"], "properties": properties })).into_response(),
        );
    }
    properties.retain(|name, _| wanted.iter().any(|w| w == name));
    Ok(axum::Json(json!({ "properties": properties })).into_response())
}

/// A post's fields as Micropub properties.
fn properties_of(post: &PostSource) -> BTreeMap<&'static str, Value> {
    let mut p = BTreeMap::new();
    p.insert("name", json!([post.title]));
    p.insert("content", json!([post.body]));
    if !post.tags.is_empty() {
        p.insert("category", json!(post.tags));
    }
    if let Some(date) = post.date {
        p.insert("published", json!([date.to_rfc3339()]));
    }
    if let Some(updated) = post.updated {
        p.insert("updated", json!([updated.to_rfc3339()]));
    }
    if let Some(summary) = &post.summary {
        p.insert("summary", json!([summary]));
    }
    p.insert(
        "post-status",
        json!([if post.draft { "draft" } else { "published" }]),
    );
    if let Some(slug) = &post.slug {
        p.insert("mp-slug", json!([slug]));
    }
    p
}

/// `POST /micropub`: create, update or delete.
async fn post(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let media = crate::web::media_type(&headers);
    let request = match media.as_str() {
        "application/json" => match serde_json::from_slice::<Value>(&body) {
            Ok(value) => Request::Json(value),
            Err(e) => {
                return Error::invalid(format!("the JSON body does not parse: {e}"))
                    .into_response();
            }
        },
        "application/x-www-form-urlencoded" => Request::Form(Params::parse(&body)),
        "multipart/form-data" => {
            return Error {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "invalid_request",
                description: "file uploads are not supported here; send form-encoded or JSON"
                    .to_owned(),
            }
            .into_response();
        }
        other => {
            return Error {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "invalid_request",
                description: format!(
                    "send application/x-www-form-urlencoded or application/json, not {other:?}"
                ),
            }
            .into_response();
        }
    };
    let form_token = match &request {
        Request::Form(params) => params.one("access_token").map(str::to_owned),
        Request::Json(_) => None,
    };
    let caller = match caller(&app, &headers, form_token.as_deref()).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match act(&app, &caller, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

enum Request {
    Json(Value),
    Form(Params),
}

async fn act(app: &App, caller: &Caller, request: Request) -> Result<Response, Error> {
    let (action, url) = match &request {
        Request::Json(v) => (
            v.get("action").and_then(Value::as_str).map(str::to_owned),
            v.get("url").and_then(Value::as_str).map(str::to_owned),
        ),
        Request::Form(p) => (
            p.one("action").map(str::to_owned),
            p.one("url").map(str::to_owned),
        ),
    };
    match action.as_deref() {
        None | Some("create") => create(app, caller, &request).await,
        Some("delete") => {
            let url =
                url.ok_or_else(|| Error::invalid("action=delete needs the url of the post"))?;
            super::delete(app, caller, &slug_of(&url)?).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Some("update") => {
            let Request::Json(value) = &request else {
                return Err(Error::invalid("updates are sent as JSON"));
            };
            let url =
                url.ok_or_else(|| Error::invalid("action=update needs the url of the post"))?;
            let slug = slug_of(&url)?;
            let found = Store::of(app)?
                .find(&slug)
                .await?
                .ok_or_else(|| PublishError::NotFound(slug.as_str().to_owned()))?;
            let updated = update(found.source, value)?;
            super::replace(app, caller, &slug, Submission::Fields(updated)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Some(other) => Err(Error::invalid(format!(
            "the action {other:?} is not supported; use create, update or delete"
        ))),
    }
}

async fn create(app: &App, caller: &Caller, request: &Request) -> Result<Response, Error> {
    let properties = match request {
        Request::Json(value) => {
            let kind = value.get("type").and_then(Value::as_array);
            if kind.is_none_or(|k| k.first().and_then(Value::as_str) != Some("h-entry")) {
                return Err(Error::invalid(
                    "only h-entry posts can be created: send type [\"h-entry\"]",
                ));
            }
            json_properties(value.get("properties"))?
        }
        Request::Form(params) => {
            if params.one("h").is_some_and(|h| h != "entry") {
                return Err(Error::invalid("only h=entry posts can be created"));
            }
            params.properties()
        }
    };
    let source = from_properties(&properties)?;
    let published = super::create(app, caller, Submission::Fields(source), None).await?;
    let mut response = (StatusCode::CREATED, axum::Json(&published)).into_response();
    if let Ok(location) = HeaderValue::from_str(&published.url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Micropub's property values: each property is a list.
type Properties = BTreeMap<String, Vec<Value>>;

fn json_properties(value: Option<&Value>) -> Result<Properties, Error> {
    let Some(Value::Object(map)) = value else {
        return Err(Error::invalid(
            "a JSON create needs an object of properties",
        ));
    };
    map.iter()
        .map(|(name, values)| match values {
            Value::Array(list) => Ok((name.clone(), list.clone())),
            _ => Err(Error::invalid(format!(
                "the property {name} must be a list of values"
            ))),
        })
        .collect()
}

/// What a property value means as text: a string, or `{"html": …}` / `{"value": …}`.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("html")
            .or_else(|| o.get("markdown"))
            .or_else(|| o.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

fn first_text(properties: &Properties, name: &str) -> Result<Option<String>, Error> {
    match properties.get(name).and_then(|v| v.first()) {
        None => Ok(None),
        Some(value) => text(value)
            .map(Some)
            .ok_or_else(|| Error::invalid(format!("the property {name} must be text"))),
    }
}

fn date(properties: &Properties, name: &str) -> Result<Option<DateTime<Utc>>, Error> {
    first_text(properties, name)?
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| Error::invalid(format!("{name}: {t:?} is not an RFC 3339 date")))
        })
        .transpose()
}

/// Properties a post keeps; `mp-*` commands other than `mp-slug` are accepted and ignored.
const KNOWN: &[&str] = &[
    "name",
    "content",
    "category",
    "published",
    "updated",
    "summary",
    "post-status",
    "mp-slug",
];

fn from_properties(properties: &Properties) -> Result<PostSource, Error> {
    if let Some(unknown) = properties
        .keys()
        .find(|k| !KNOWN.contains(&k.as_str()) && !k.starts_with("mp-"))
    {
        return Err(Error::invalid(format!(
            "the property {unknown} is not supported; a post takes {}",
            KNOWN.join(", ")
        )));
    }
    let body = first_text(properties, "content")?.unwrap_or_default();
    let title = match first_text(properties, "name")? {
        Some(name) if !name.trim().is_empty() => name,
        // A note has no name: its first words make the title.
        _ => note_title(&body)
            .ok_or_else(|| Error::invalid("a post needs a name or some content"))?,
    };
    let draft = match first_text(properties, "post-status")?.as_deref() {
        None | Some("published") => false,
        Some("draft") => true,
        Some(other) => {
            return Err(Error::invalid(format!(
                "post-status {other:?} is not draft or published"
            )));
        }
    };
    let tags = properties
        .get("category")
        .map(|values| {
            values
                .iter()
                .map(|v| text(v).ok_or_else(|| Error::invalid("category values must be text")))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(PostSource {
        slug: first_text(properties, "mp-slug")?,
        title,
        date: date(properties, "published")?,
        updated: date(properties, "updated")?,
        tags,
        summary: first_text(properties, "summary")?,
        draft,
        publish_at: None,
        autolink: false,
        body,
    })
}

fn note_title(body: &str) -> Option<String> {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut title = String::new();
    for word in line.split_whitespace() {
        if title.len() + word.len() > 60 {
            title.push('…');
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    Some(title)
}

/// Applies a JSON update (`replace`, `add`, `delete`) to a post.
fn update(post: PostSource, request: &Value) -> Result<PostSource, Error> {
    let mut properties: Properties = properties_of(&post)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_array().cloned().unwrap_or_default()))
        .collect();
    if let Some(replace) = request.get("replace") {
        for (name, values) in json_properties(Some(replace))? {
            properties.insert(name, values);
        }
    }
    if let Some(add) = request.get("add") {
        for (name, values) in json_properties(Some(add))? {
            properties.entry(name).or_default().extend(values);
        }
    }
    match request.get("delete") {
        None => {}
        Some(Value::Array(names)) => {
            for name in names {
                let name = name
                    .as_str()
                    .ok_or_else(|| Error::invalid("delete lists property names"))?;
                if name == "name" {
                    return Err(Error::invalid(
                        "a post's name (its title) cannot be deleted",
                    ));
                }
                properties.remove(name);
            }
        }
        Some(Value::Object(_)) => {
            for (name, values) in json_properties(request.get("delete"))? {
                if let Some(current) = properties.get_mut(&name) {
                    current.retain(|v| !values.contains(v));
                }
            }
        }
        Some(_) => {
            return Err(Error::invalid(
                "delete is a list of names or an object of values",
            ));
        }
    }
    let mut updated = from_properties(&properties)?;
    // The address does not change with an update.
    updated.slug = post.slug;
    updated.publish_at = post.publish_at;
    updated.autolink = post.autolink;
    Ok(updated)
}

/// The slug of one of this site's post addresses (`https://site/blog/slug`, or the path).
fn slug_of(url: &str) -> Result<Slug, Error> {
    let path = match url::Url::parse(url) {
        Ok(parsed) => parsed.path().to_owned(),
        Err(_) if url.starts_with('/') => {
            url.split(['?', '#']).next().unwrap_or_default().to_owned()
        }
        Err(_) => return Err(Error::invalid(format!("{url:?} is not a URL"))),
    };
    let slug = path
        .strip_prefix("/blog/")
        .map(|s| s.trim_end_matches('/'))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid(format!(
                "{url:?} is not the address of a post (/blog/<slug>)"
            ))
        })?;
    Ok(super::slug(slug)?)
}

/// Form fields and query parameters: `name` and `name[]` both collect into `name`.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Params {
        Params(
            url::form_urlencoded::parse(raw)
                .map(|(k, v)| (k.trim_end_matches("[]").to_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The post's properties: every field but the request's own.
    fn properties(&self) -> Properties {
        let mut properties = Properties::new();
        for (name, value) in &self.0 {
            if matches!(name.as_str(), "h" | "access_token" | "action" | "url") {
                continue;
            }
            properties
                .entry(name.clone())
                .or_default()
                .push(Value::String(value.clone()));
        }
        properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_become_a_post() {
        let params = Params::parse(
            b"h=entry&content=Hello+world&category[]=rust&category[]=web&mp-slug=hi&post-status=draft",
        );
        let post = from_properties(&params.properties()).unwrap();
        assert_eq!(post.title, "Hello world");
        assert_eq!(post.body, "Hello world");
        assert_eq!(post.tags, ["rust", "web"]);
        assert_eq!(post.slug.as_deref(), Some("hi"));
        assert!(post.draft);
    }

    #[test]
    fn unknown_properties_are_refused_by_name() {
        let params = Params::parse(b"h=entry&content=x&photo=https://x/y.jpg");
        let err = from_properties(&params.properties()).unwrap_err();
        assert!(err.description.contains("photo"), "{}", err.description);
    }

    #[test]
    fn updates_replace_add_and_delete() {
        let post = PostSource {
            slug: Some("a".into()),
            title: "A".into(),
            tags: vec!["x".into(), "y".into()],
            body: "old".into(),
            ..PostSource::default()
        };
        let updated = update(
            post,
            &json!({
                "replace": { "content": ["new"] },
                "add": { "category": ["z"] },
                "delete": { "category": ["x"] }
            }),
        )
        .unwrap();
        assert_eq!(updated.body, "new");
        assert_eq!(updated.tags, ["y", "z"]);
        assert_eq!(updated.slug.as_deref(), Some("a"));
    }

    #[test]
    fn post_urls_give_their_slug() {
        assert_eq!(
            slug_of("https://me.example/blog/hello/").unwrap().as_str(),
            "hello"
        );
        assert_eq!(slug_of("/blog/hello").unwrap().as_str(), "hello");
        assert!(slug_of("https://me.example/about").is_err());
        assert!(slug_of("https://me.example/blog/../x").is_err());
        assert!(slug_of("nonsense").is_err());
    }
}
