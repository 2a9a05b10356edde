//! Renders parsed content into every response the site serves: pages through MiniJinja
//! templates (the user's `templates/` over the built-in theme), keyword links, the PDF,
//! and assets under content-hashed names.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use minijinja::{Environment, ErrorKind, Value, context};
use serde::Serialize;

use super::Build;
use super::autolink::Autolinker;
use super::content::{Content, ContentError, Problems, line_column, on_all_cores};
use super::feed;
use super::post::{Post, tag_slug};
use super::theme;
use crate::web::page::{Page, hex};

/// The built-in theme's templates: (name, source).
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("resume.html", include_str!("templates/resume.html")),
    ("page.html", include_str!("templates/page.html")),
    ("not_found.html", include_str!("templates/not_found.html")),
    ("blog.html", include_str!("templates/blog.html")),
    ("post.html", include_str!("templates/post.html")),
    ("tags.html", include_str!("templates/tags.html")),
    ("tag.html", include_str!("templates/tag.html")),
    ("post_item.html", include_str!("templates/post_item.html")),
    ("login.html", include_str!("templates/login.html")),
    ("gallery.html", include_str!("templates/gallery.html")),
    ("photo.html", include_str!("templates/photo.html")),
];

/// The built-in theme's assets: (file name, bytes). `static/` files of the same name win.
const ASSETS: &[(&str, &[u8])] = &[
    ("site.css", include_bytes!("assets/site.css")),
    ("favicon.svg", include_bytes!("assets/favicon.svg")),
    ("favicon.ico", include_bytes!("assets/favicon.ico")),
];

const ROBOTS: &str = "User-agent: *\nDisallow: /api/\n";

/// Every response of a site, by path, and the 404 page.
#[derive(Debug)]
pub struct Rendered {
    /// Pages, files and assets by request path.
    pub routes: HashMap<Box<str>, Page>,
    /// The page for paths with nothing behind them.
    pub not_found: Page,
    /// When the next scheduled post becomes public, if one is waiting.
    pub next_publish_at: Option<DateTime<Utc>>,
    /// The sign-in page, with marks where the handler puts its message and `next`.
    pub login: String,
    /// The templates, for pages rendered per request (the gallery).
    pub templates: std::sync::Arc<Environment<'static>>,
}

/// How many posts one page of `/blog` lists.
const POSTS_PER_PAGE: usize = 10;

/// What base.html knows about the page it frames.
#[derive(Debug, Serialize)]
struct PageInfo<'a> {
    /// The path, `/` for the resume.
    path: &'a str,
    /// The `<title>`; the site title when none.
    title: Option<&'a str>,
    description: Option<&'a str>,
    /// The absolute address, when `base_url` is set.
    url: Option<String>,
    /// `resume`, `page` or `not_found`.
    kind: &'a str,
}

/// How long each part of rendering took.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Pages, assets and files.
    pub pages: Duration,
    /// The PDF, rendered at the same time on another thread.
    pub pdf: Duration,
}

/// Renders `content`, the PDF beside the pages on another thread; every problem found is
/// reported.
pub fn render(
    content: &Content,
    build: &Build,
    previous: Option<&HashMap<Box<str>, Page>>,
) -> Result<(Rendered, Timings), Problems> {
    let timed = |f: &dyn Fn() -> Result<Option<Page>, ContentError>| {
        let started = Instant::now();
        (f(), started.elapsed())
    };
    let ((pdf, pdf_took), (pages, pages_took)) = std::thread::scope(|scope| {
        let pdf = scope.spawn(|| timed(&|| pdf_page(content)));
        let started = Instant::now();
        let pages = pages(content, build, previous);
        let pages_took = started.elapsed();
        let pdf = pdf.join().unwrap_or_else(|_| {
            let why = ContentError::at("resume.typ", None, "the PDF renderer panicked");
            (Err(why), Duration::ZERO)
        });
        (pdf, (pages, pages_took))
    });
    let timings = Timings {
        pages: pages_took,
        pdf: pdf_took,
    };
    match (pages, pdf) {
        (Ok(mut rendered), Ok(pdf)) => {
            if let Some(pdf) = pdf {
                rendered.routes.insert("/pdf".into(), pdf);
            }
            Ok((rendered, timings))
        }
        (Ok(_), Err(problem)) => Err(Problems(vec![problem])),
        (Err(problems), Ok(_)) => Err(problems),
        (Err(mut problems), Err(problem)) => {
            problems.0.push(problem);
            Err(problems)
        }
    }
}

/// Renders everything but the PDF.
fn pages(
    content: &Content,
    build: &Build,
    previous: Option<&HashMap<Box<str>, Page>>,
) -> Result<Rendered, Problems> {
    let drafts = build.drafts;
    // What the last render made, by bytes: unchanged pages are not compressed again.
    let cache: HashMap<(&HeaderValue, &str), &Page> = previous
        .iter()
        .flat_map(|routes| routes.values())
        .map(|p| ((p.tag(), p.content_type()), p))
        .collect();
    let make = |body: Vec<u8>, kind: &'static str| {
        if !build.precompress {
            return Page::uncompressed(body, kind);
        }
        match cache.get(&(&Page::tag_of(&body), kind)) {
            Some(page) => page.reuse(),
            None => Page::new(body, kind),
        }
    };
    let site_file = content.file_name("site.toml");
    let linker = Autolinker::new(
        content
            .site
            .autolink
            .iter()
            .map(|(k, v)| (k.as_str(), v.get_ref().as_str())),
    )
    .map_err(|e| ContentError::at(&site_file, None, e.to_string()))?;

    let mut routes: HashMap<Box<str>, Page> = HashMap::new();
    let mut asset_urls: HashMap<String, String> = HashMap::new();
    let theme_css = theme::css(&content.site.theme);
    let builtin = ASSETS
        .iter()
        .map(|(name, bytes)| (*name, *bytes))
        .chain([("theme.css", theme_css.as_bytes())])
        .filter(|(name, _)| !content.statics.iter().any(|(p, _)| p == name))
        .map(|(name, bytes)| (name, bytes, true));
    let statics = content
        .statics
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice(), false));
    for (name, bytes, builtin) in builtin.chain(statics) {
        let page = make(bytes.to_vec(), content_type(name));
        let hashed = hashed_path(name, bytes);
        routes.insert(hashed.clone().into(), page.clone().immutable());
        // The user's files keep their own address too; the theme's only have the hashed
        // one, but for the icon browsers ask for by name.
        if !builtin || name == "favicon.ico" {
            routes.insert(format!("/{}", encode_path(name)).into(), page);
        }
        asset_urls.insert(name.to_owned(), hashed);
    }
    routes
        .entry("/robots.txt".into())
        .or_insert_with(|| make(ROBOTS.into(), "text/plain; charset=utf-8"));

    let env = environment(content, asset_urls)?;
    let base_url = content.site.base_url();
    let absolute = |path: &str| base_url.map(|b| format!("{b}{path}"));
    let mut problems = Vec::new();
    let render_one = |template: &str, page: &PageInfo, extra: Value, autolink: bool| {
        let ctx = context! { page => page, ..extra };
        let html = env
            .get_template(template)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| template_problem(content, &e))?;
        let html = if autolink && !linker.is_empty() {
            linker
                .apply(&html)
                .map_err(|e| ContentError::at(&content.file_name(template), None, e.to_string()))?
        } else {
            html
        };
        Ok::<_, ContentError>(make(html.into_bytes(), "text/html; charset=utf-8"))
    };
    let mut html = |template: &str, page: PageInfo, extra: Value, autolink: bool| {
        render_one(template, &page, extra, autolink)
            .map_err(|p| problems.push(p))
            .ok()
    };

    let resume = &content.resume;
    let home = PageInfo {
        path: "/",
        title: None,
        description: content.site.description.as_deref(),
        url: absolute("/"),
        kind: "resume",
    };
    let json_ld = resume.json_ld(home.url.as_deref());
    if let Some(page) = html(
        "resume.html",
        home,
        context! { json_ld => Value::from_safe_string(json_ld) },
        true,
    ) {
        routes.insert("/".into(), page);
    }
    let markdown = content.about.iter().map(|about| ("about", about)).chain(
        content
            .pages
            .iter()
            .map(|(slug, page)| (slug.as_str(), page)),
    );
    for (slug, md) in markdown {
        let path = format!("/{slug}");
        let info = PageInfo {
            path: &path,
            title: Some(md.front.title.as_deref().unwrap_or(slug)),
            description: md.front.description.as_deref(),
            url: absolute(&path),
            kind: "page",
        };
        let extra = context! { content => Value::from_safe_string(md.html.clone()) };
        if let Some(page) = html("page.html", info, extra, md.front.autolink) {
            routes.insert(path.into(), page);
        }
    }

    // The blog: posts, their list in pages, tags, the feed and the sitemap.
    let now = Utc::now();
    let posts: Vec<&Post> = content
        .posts
        .iter()
        .filter(|p| drafts || p.is_public(now))
        .collect();
    let next_publish_at = content
        .posts
        .iter()
        .filter(|p| !p.draft && !drafts)
        .filter_map(|p| p.publish_at)
        .filter(|t| *t > now)
        .min();
    let mut sitemap: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    let post_ctx = |p: &Post| {
        context! {
            slug => p.slug.as_str(),
            url => format!("/blog/{}", p.slug.as_str()),
            title => &p.title,
            date => p.date.to_rfc3339(),
            updated => p.updated.map(|t| t.to_rfc3339()),
            tags => p.tags.iter().map(|t| context! { name => t, slug => tag_slug(t) }).collect::<Vec<_>>(),
            summary => &p.summary,
            draft => p.draft || !p.is_public(now),
            reading_minutes => p.reading_minutes,
            html => Value::from_safe_string(p.html.clone()),
        }
    };
    // The posts are most of a big blog: rendered on every core.
    let indices: Vec<usize> = (0..posts.len()).collect();
    let rendered = on_all_cores(&indices, |&i| {
        let post = posts[i];
        let path = format!("/blog/{}", post.slug.as_str());
        let info = PageInfo {
            path: &path,
            title: Some(&post.title),
            description: post.summary.as_deref(),
            url: absolute(&path),
            kind: "post",
        };
        let extra = context! {
            post => post_ctx(post),
            newer => i.checked_sub(1).and_then(|n| posts.get(n)).map(|p| post_ctx(p)),
            older => posts.get(i + 1).map(|p| post_ctx(p)),
        };
        render_one("post.html", &info, extra, post.autolink).map(|page| (path, page))
    });
    let mut post_problems = Vec::new();
    for (post, rendered) in posts.iter().zip(rendered) {
        match rendered {
            Ok((path, page)) => {
                routes.insert(path.clone().into(), page);
                sitemap.push((path, Some(post.updated.unwrap_or(post.date))));
            }
            Err(problem) => post_problems.push(problem),
        }
    }
    for (slug, file, bytes) in &content.post_files {
        if posts.iter().any(|p| &p.slug == slug) {
            let path = format!("/blog/{}/{}", slug.as_str(), encode_path(file));
            routes.insert(path.into(), make(bytes.clone(), content_type(file)));
        }
    }
    let page_count = posts.len().div_ceil(POSTS_PER_PAGE).max(1);
    let list_path = |n: usize| match n {
        1 => "/blog".to_owned(),
        n => format!("/blog/page/{n}"),
    };
    for n in 1..=page_count {
        let path = list_path(n);
        let chunk = posts
            .iter()
            .skip((n - 1) * POSTS_PER_PAGE)
            .take(POSTS_PER_PAGE)
            .map(|p| post_ctx(p))
            .collect::<Vec<_>>();
        let title = if n == 1 {
            "Blog".to_owned()
        } else {
            format!("Blog, page {n}")
        };
        let info = PageInfo {
            path: &path,
            title: Some(&title),
            description: None,
            url: absolute(&path),
            kind: "blog",
        };
        let extra = context! {
            posts => chunk,
            page_number => n,
            page_count => page_count,
            newer_url => (n > 1).then(|| list_path(n - 1)),
            older_url => (n < page_count).then(|| list_path(n + 1)),
        };
        if let Some(page) = html("blog.html", info, extra, false) {
            routes.insert(path.clone().into(), page);
        }
        sitemap.push((path, None));
    }
    let mut tags: BTreeMap<String, (String, Vec<&Post>)> = BTreeMap::new();
    // Oldest first, so a tag is shown as it was first spelled; each list ends newest first.
    for post in posts.iter().rev() {
        for tag in &post.tags {
            let entry = tags
                .entry(tag_slug(tag))
                .or_insert_with(|| (tag.clone(), Vec::new()));
            entry.1.push(post);
        }
    }
    tags.retain(|slug, _| !slug.is_empty());
    for (_, tagged) in tags.values_mut() {
        tagged.reverse();
    }
    let tag_list = tags
        .iter()
        .map(|(slug, (name, posts))| context! { name => name, slug => slug, count => posts.len() })
        .collect::<Vec<_>>();
    let info = PageInfo {
        path: "/tags",
        title: Some("Tags"),
        description: None,
        url: absolute("/tags"),
        kind: "tags",
    };
    if let Some(page) = html("tags.html", info, context! { tags => tag_list }, false) {
        routes.insert("/tags".into(), page);
    }
    sitemap.push(("/tags".to_owned(), None));
    for (slug, (name, tagged)) in &tags {
        let path = format!("/tags/{}", encode_path(slug));
        let title = format!("Tagged “{name}”");
        let info = PageInfo {
            path: &path,
            title: Some(&title),
            description: None,
            url: absolute(&path),
            kind: "tag",
        };
        let extra = context! {
            tag => context! { name => name, slug => slug },
            posts => tagged.iter().map(|p| post_ctx(p)).collect::<Vec<_>>(),
        };
        if let Some(page) = html("tag.html", info, extra, false) {
            routes.insert(path.clone().into(), page);
        }
        sitemap.push((path, None));
    }
    let origin = base_url.unwrap_or("");
    let author = content.site.author.as_deref().or(content.resume.name());
    routes.insert(
        "/feed.xml".into(),
        make(
            feed::atom(&content.site.title, author, origin, &posts).into_bytes(),
            "application/atom+xml; charset=utf-8",
        ),
    );
    let mut map = vec![("/".to_owned(), None)];
    if cfg!(feature = "pdf") {
        map.push(("/pdf".to_owned(), None));
    }
    if content.about.is_some() {
        map.push(("/about".to_owned(), None));
    }
    map.extend(
        content
            .pages
            .iter()
            .map(|(slug, _)| (format!("/{slug}"), None)),
    );
    map.extend(sitemap);
    let map: Vec<_> = map
        .into_iter()
        .map(|(path, t)| (format!("{origin}{path}"), t))
        .collect();
    routes.insert(
        "/sitemap.xml".into(),
        make(
            feed::sitemap(&map).into_bytes(),
            "application/xml; charset=utf-8",
        ),
    );

    let missing = PageInfo {
        path: "",
        title: Some("Not found"),
        description: None,
        url: None,
        kind: "not_found",
    };
    let not_found = html("not_found.html", missing, context! {}, false);
    let login_info = PageInfo {
        path: "/login",
        title: Some("Sign in"),
        description: None,
        url: absolute("/login"),
        kind: "login",
    };
    let login = env
        .get_template("login.html")
        .and_then(|t| t.render(context! { page => login_info }))
        .map_err(|e| problems.push(template_problem(content, &e)))
        .ok();
    problems.append(&mut post_problems);
    match (not_found, login) {
        (Some(not_found), Some(login)) if problems.is_empty() => Ok(Rendered {
            routes,
            not_found,
            next_publish_at,
            login,
            templates: std::sync::Arc::new(env),
        }),
        _ => Err(Problems(problems)),
    }
}

/// Renders a page whose data comes per request (the gallery) with the site's templates.
pub fn dynamic(
    env: &Environment<'static>,
    base_url: Option<&str>,
    template: &str,
    path: &str,
    title: &str,
    extra: serde_json::Value,
) -> Result<String, minijinja::Error> {
    let page = PageInfo {
        path,
        title: Some(title),
        description: None,
        url: base_url.map(|b| format!("{b}{path}")),
        kind: "dynamic",
    };
    let extra = Value::from_serialize(&extra);
    env.get_template(template)?
        .render(context! { page => page, ..extra })
}

/// The template environment: built-in templates, the user's over them, and the helpers
/// templates call.
fn environment(
    content: &Content,
    asset_urls: HashMap<String, String>,
) -> Result<Environment<'static>, Problems> {
    let mut env = Environment::new();
    env.set_formatter(html_formatter);
    let mut problems = Vec::new();
    let user = content
        .templates
        .iter()
        .filter(|(name, _)| name.ends_with(".html") || name.ends_with(".xml"));
    for (name, source) in TEMPLATES
        .iter()
        .filter(|(name, _)| !content.templates.iter().any(|(n, _)| n == name))
        .map(|(n, s)| (*n, *s))
        .chain(user.map(|(n, s)| (n.as_str(), s.as_str())))
    {
        if let Err(e) = env.add_template_owned(name.to_owned(), source.to_owned()) {
            problems.push(template_problem(content, &e));
        }
    }
    env.add_function("asset_url", move |name: &str| {
        asset_urls.get(name).cloned().ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("asset_url: there is no static/{name} nor a built-in asset of that name"),
            )
        })
    });
    env.add_filter("month", month);
    env.add_filter("day", day);
    env.add_test("date", is_date);
    env.add_filter("mailto", mailto);
    env.add_global("site", Value::from_serialize(&content.site));
    env.add_global("resume", Value::from_serialize(&content.resume.document));
    env.add_global("version", crate::telemetry::VERSION);
    // Whether this hearth typesets `/pdf` (the cargo feature `pdf`).
    env.add_global("pdf", cfg!(feature = "pdf"));
    env.add_global(
        "pdf_name",
        Value::from(pdf_file_name(content.resume.name())),
    );
    if problems.is_empty() {
        Ok(env)
    } else {
        Err(Problems(problems))
    }
}

/// Escapes as HTML needs and no more (MiniJinja's default also escapes `/`, which makes
/// every URL in the page unreadable), and prints `none` (a JSON `null`) as nothing.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if state.auto_escape() != minijinja::AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    if value.is_none() || value.is_undefined() {
        return Ok(());
    }
    let owned;
    let text = match value.as_str() {
        Some(text) => text,
        None => {
            owned = value.to_string();
            &owned
        }
    };
    let mut rest = text;
    let write = |out: &mut minijinja::Output, s: &str| {
        out.write_str(s)
            .map_err(|_| minijinja::Error::from(ErrorKind::WriteFailure))
    };
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        write(out, &rest[..i])?;
        write(
            out,
            match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            },
        )?;
        rest = &rest[i + 1..];
    }
    write(out, rest)
}

/// A template error as `templates/<name>:line:column: what`, pointing at the user's file
/// when the template is theirs.
fn template_problem(content: &Content, e: &minijinja::Error) -> ContentError {
    let name = e.name().unwrap_or("template");
    let user = content.templates.iter().find(|(n, _)| n == name);
    let location = match (e.line(), e.range(), user) {
        (_, Some(range), Some((_, source))) => Some(line_column(source, range.start)),
        (_, Some(range), None) => TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, source)| line_column(source, range.start)),
        (Some(line), _, _) => Some((line, 1)),
        _ => None,
    };
    let file = match user {
        Some(_) => content.file_name(&format!("templates/{name}")),
        None => format!("(built-in)/templates/{name}"),
    };
    let detail = e
        .detail()
        .map(str::to_owned)
        .unwrap_or_else(|| e.kind().to_string());
    ContentError::at(&file, location, detail)
}

/// Without the PDF engine (the cargo feature `pdf`) there is no `/pdf`.
#[cfg(not(feature = "pdf"))]
fn pdf_page(_: &Content) -> Result<Option<Page>, ContentError> {
    Ok(None)
}

/// The PDF resume, from the user's `templates/resume.typ` or the built-in one.
#[cfg(feature = "pdf")]
fn pdf_page(content: &Content) -> Result<Option<Page>, ContentError> {
    use super::pdf::{self, PdfOptions};
    use axum::http::header;
    let user = content.templates.iter().find(|(n, _)| n == "resume.typ");
    let template = user.map_or(pdf::BUILTIN_TEMPLATE, |(_, s)| s.as_str());
    let web_url = content.site.base_url().map(|b| format!("{b}/"));
    let accent = theme::print_accent(&content.site.theme);
    let options = PdfOptions {
        paper: content.site.pdf.paper,
        web_url: web_url.as_deref(),
        title: &content.site.title,
        author: content.resume.name().or(content.site.author.as_deref()),
        accent: Some(&accent),
    };
    let bytes = pdf::render(template, &content.resume.document, &options).map_err(|e| {
        let file = match user {
            Some(_) => content.file_name("templates/resume.typ"),
            None => "(built-in)/resume.typ".to_owned(),
        };
        match e {
            pdf::PdfError::Template {
                line,
                column,
                message,
            } => ContentError::at(&file, Some((line, column)), message),
            other => ContentError::at(&file, None, other.to_string()),
        }
    })?;
    let name = pdf_file_name(content.resume.name());
    Ok(Some(Page::new(bytes, "application/pdf").with_header(
        header::CONTENT_DISPOSITION,
        content_disposition(&name),
    )))
}

/// `<Name> Resume.pdf`.
fn pdf_file_name(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} Resume.pdf"),
        None => "Resume.pdf".to_owned(),
    }
}

/// `inline` with the file name, in ASCII for old clients and UTF-8 (RFC 6266) for the rest.
#[cfg(feature = "pdf")]
fn content_disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::try_from(format!(
        "inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("inline"))
}

/// `/assets/<stem>.<hash>.<ext>`: the content decides the name, so it can be cached forever.
fn hashed_path(name: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hash = hex(&Sha256::digest(bytes)[..5]);
    let encoded = encode_path(name);
    match encoded.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !stem.ends_with('/') => {
            format!("/assets/{stem}.{hash}.{ext}")
        }
        _ => format!("/assets/{encoded}.{hash}"),
    }
}

/// Percent-encodes what may not appear as is in a URL path.
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The media type for a file name.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("ico") => "image/x-icon",
        Some("pdf") => "application/pdf",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("otf") => "font/otf",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mp3") => "audio/mpeg",
        Some("wasm") => "application/wasm",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// A `mailto:` address for an e-mail: characters a URL may not hold as they are (a `#`
/// would start a fragment) are percent-encoded.
fn mailto(address: &str) -> String {
    let mut url = String::from("mailto:");
    for b in address.bytes() {
        if b.is_ascii_alphanumeric() || b"@._+-~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// An RFC 3339 time as a day: `22 Nov 2026`.
fn day(rfc3339: &str) -> String {
    DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%-d %b %Y").to_string())
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// Whether `text` is a date as JSON Resume writes them: `2021`, `2021-03` or `2021-03-01`.
fn is_date(text: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = text.split('-');
    let year = parts.next().is_some_and(|y| digits(y, 4));
    let rest: Vec<&str> = parts.collect();
    year && rest.len() <= 2
        && rest.iter().all(|p| digits(p, 2))
        && rest.first().is_none_or(|m| ("01"..="12").contains(m))
        && rest.get(1).is_none_or(|d| ("01"..="31").contains(d))
}

/// `2021-03-01` or `2021-03` → `Mar 2021`; a year, or anything else, stays as written.
fn month(date: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = date.split('-');
    let (Some(year), Some(month)) = (parts.next(), parts.next()) else {
        return date.to_owned();
    };
    match month.parse::<usize>() {
        Ok(m @ 1..=12) if year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()) => {
            format!("{} {year}", MONTHS[m - 1])
        }
        _ => date.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_names() {
        assert_eq!(month("2021-03-01"), "Mar 2021");
        assert_eq!(month("2021-12"), "Dec 2021");
        assert_eq!(month("2021"), "2021");
        assert_eq!(month("2021-13"), "2021-13");
        assert_eq!(month("soon"), "soon");
        assert_eq!(
            mailto("zoe_o'test+cv#1$*&`@example.org"),
            "mailto:zoe_o%27test+cv%231%24%2A%26%60@example.org"
        );
        assert!(is_date("2021") && is_date("2021-03") && is_date("2021-03-31"));
        assert!(
            !is_date("2021-13") && !is_date("21-03") && !is_date("2021-03-01-01") && !is_date("x")
        );
        assert_eq!(
            hashed_path("img/me.jpg", b"x").len(),
            "/assets/img/me.0123456789.jpg".len()
        );
        assert!(hashed_path("LICENSE", b"x").starts_with("/assets/LICENSE."));
        assert_eq!(encode_path("a b/é.txt"), "a%20b/%C3%A9.txt");
        let mut env = Environment::new();
        env.set_formatter(html_formatter);
        env.add_template("t.html", "{{ a }}|{{ b }}|{{ c }}|{{ d | safe }}")
            .unwrap();
        let out = env
            .get_template("t.html")
            .unwrap()
            .render(
                context! { a => "https://x.example/?a=1&b='<\">'", b => (), c => 3, d => "<b>" },
            )
            .unwrap();
        assert_eq!(
            out,
            "https://x.example/?a=1&amp;b=&#39;&lt;&quot;&gt;&#39;||3|<b>"
        );
        #[cfg(feature = "pdf")]
        assert_eq!(
            content_disposition("Zoë \"Z\" Resume.pdf"),
            "inline; filename=\"Zo_ _Z_ Resume.pdf\"; filename*=UTF-8''Zo%C3%AB%20%22Z%22%20Resume.pdf"
        );
    }
}
