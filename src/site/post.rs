//! Blog posts: `posts/<slug>.md`, or `posts/<slug>/index.md` with its images beside it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::content::ContentError;
use super::markdown::{front_matter, render};

/// A post's address part: lower-case letters, digits, `-` and `_`, so it can never
/// leave its folder or need escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Slug(String);

impl Slug {
    /// Checks `text` as a slug, saying what is wrong.
    pub fn parse(text: &str) -> Result<Slug, String> {
        let ok = !text.is_empty()
            && text.len() <= 200
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && !text.starts_with('-');
        if ok {
            Ok(Slug(text.to_owned()))
        } else {
            Err(format!(
                "the slug {text:?} must be lower-case letters, digits, - and _ (it becomes the address)"
            ))
        }
    }

    /// A slug made from a title: ASCII letters and digits, lower-cased, with every run of
    /// anything else turned into one `-`; at most 80 characters. `None` when nothing is left.
    pub fn from_title(title: &str) -> Option<Slug> {
        let mut slug = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                if slug.len() >= 80 {
                    break;
                }
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        Slug::parse(slug).ok()
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date in front matter: TOML's own dates, or text (`2026-11-22`,
/// `2026-11-22T09:30:00Z`, `2026-11-22T09:30:00+01:00`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateValue {
    fn parse(&self, field: &str) -> Result<DateTime<Utc>, String> {
        let text = match self {
            DateValue::Toml(d) => d.to_string(),
            DateValue::Text(t) => t.trim().to_owned(),
        };
        if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
            return Ok(t.with_timezone(&Utc));
        }
        if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            && let Some(t) = d.and_hms_opt(0, 0, 0)
        {
            return Ok(t.and_utc());
        }
        Err(format!(
            "{field} {text:?} is not a date like 2026-11-22 or 2026-11-22T09:30:00Z"
        ))
    }
}

/// A post's front matter as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    title: Option<String>,
    date: Option<DateValue>,
    updated: Option<DateValue>,
    slug: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    summary: Option<String>,
    #[serde(default)]
    draft: bool,
    publish_at: Option<DateValue>,
    #[serde(default)]
    autolink: bool,
}

/// A post, parsed and rendered.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    /// Its address part: `/blog/<slug>`.
    pub slug: Slug,
    /// Its title.
    pub title: String,
    /// When it was written.
    pub date: DateTime<Utc>,
    /// When it last changed, if it did.
    pub updated: Option<DateTime<Utc>>,
    /// Its tags, as written.
    pub tags: Vec<String>,
    /// A sentence or two for lists and feeds; the first paragraph when not given.
    pub summary: Option<String>,
    /// A draft is never public (`serve --drafts` shows it).
    pub draft: bool,
    /// Not public before this time.
    pub publish_at: Option<DateTime<Utc>>,
    /// Whether the site's keywords are linked in it.
    pub autolink: bool,
    /// The body as HTML, with relative links and images pointing into the post's folder.
    pub html: String,
    /// Minutes to read, at 200 words a minute.
    pub reading_minutes: usize,
}

/// A post's front matter, checked and typed, without its body rendered.
#[derive(Debug, Clone, Serialize)]
pub struct Fields {
    /// Its address part: `/blog/<slug>`.
    pub slug: Slug,
    /// Its title.
    pub title: String,
    /// When it was written.
    pub date: DateTime<Utc>,
    /// When it last changed, if it did.
    pub updated: Option<DateTime<Utc>>,
    /// Its tags, as written.
    pub tags: Vec<String>,
    /// A sentence or two for lists and feeds.
    pub summary: Option<String>,
    /// A draft is never public.
    pub draft: bool,
    /// Not public before this time.
    pub publish_at: Option<DateTime<Utc>>,
    /// Whether the site's keywords are linked in it.
    pub autolink: bool,
}

impl Fields {
    /// Reads a post's front matter; `file` names it in errors, `name` is the file or
    /// folder name the slug defaults to. Returns the fields and the Markdown body.
    pub fn parse<'t>(
        file: &str,
        name: &str,
        text: &'t str,
    ) -> Result<(Fields, &'t str), ContentError> {
        let (front, body): (Front, &str) = front_matter(file, text)?;
        let wrong = |message: String| ContentError::at(file, None, message);
        let slug = Slug::parse(front.slug.as_deref().unwrap_or(name)).map_err(wrong)?;
        let title = front
            .title
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| wrong("title: a post needs a title in its front matter".to_owned()))?;
        let date = front
            .date
            .ok_or_else(|| wrong("date: a post needs a date in its front matter".to_owned()))?
            .parse("date")
            .map_err(wrong)?;
        let updated = front
            .updated
            .map(|d| d.parse("updated"))
            .transpose()
            .map_err(wrong)?;
        let publish_at = front
            .publish_at
            .map(|d| d.parse("publish_at"))
            .transpose()
            .map_err(wrong)?;
        let fields = Fields {
            slug,
            title,
            date,
            updated,
            tags: front.tags,
            summary: front.summary,
            draft: front.draft,
            publish_at,
            autolink: front.autolink,
        };
        Ok((fields, body))
    }

    /// Whether the post is public at `now`.
    pub fn is_public(&self, now: DateTime<Utc>) -> bool {
        !self.draft && self.publish_at.is_none_or(|t| t <= now)
    }
}

impl Post {
    /// Parses a post; `file` names it in errors, `name` is the file or folder name the
    /// slug defaults to.
    pub fn parse(file: &str, name: &str, text: &str) -> Result<Post, ContentError> {
        let (fields, body) = Fields::parse(file, name, text)?;
        let words = body.split_whitespace().count();
        let html = render(body);
        Ok(Post {
            html: rebase(&html, &format!("/blog/{}/", fields.slug.as_str())),
            slug: fields.slug,
            title: fields.title,
            date: fields.date,
            updated: fields.updated,
            tags: fields.tags,
            summary: fields.summary,
            draft: fields.draft,
            publish_at: fields.publish_at,
            autolink: fields.autolink,
            reading_minutes: words.div_ceil(200).max(1),
        })
    }

    /// Whether the post is public at `now`.
    pub fn is_public(&self, now: DateTime<Utc>) -> bool {
        !self.draft && self.publish_at.is_none_or(|t| t <= now)
    }
}

/// Makes relative `src` and `href` addresses point into the post's folder: the post is
/// served at `/blog/<slug>`, where a browser would resolve `photo.jpg` to `/blog/photo.jpg`.
fn rebase(html: &str, base: &str) -> String {
    rewrite_urls(html, |url| {
        // A scheme (`https:`, `mailto:`) comes before any `/` or `.`.
        let has_scheme = url
            .split_once(':')
            .is_some_and(|(scheme, _)| !scheme.contains(['/', '.']));
        let relative = !url.starts_with(['/', '#', '?']) && !has_scheme;
        relative.then(|| format!("{base}{}", url.strip_prefix("./").unwrap_or(url)))
    })
}

/// Makes root-relative addresses (`/blog/x/photo.jpg`) absolute, for feeds read
/// elsewhere.
pub fn absolutize(html: &str, origin: &str) -> String {
    rewrite_urls(html, |url| {
        (url.starts_with('/') && !url.starts_with("//")).then(|| format!("{origin}{url}"))
    })
}

/// Rewrites every `img[src]` and `a[href]` for which `change` gives a new address.
fn rewrite_urls(html: &str, change: impl Fn(&str) -> Option<String>) -> String {
    use lol_html::{RewriteStrSettings, element, rewrite_str};
    let change = &change;
    let fix = |attr: &'static str| {
        move |el: &mut lol_html::html_content::Element| {
            if let Some(url) = el.get_attribute(attr)
                && !url.is_empty()
                && let Some(new) = change(&url)
            {
                el.set_attribute(attr, &new)?;
            }
            Ok(())
        }
    };
    let settings = RewriteStrSettings::new()
        .append_element_content_handler(element!("img[src]", fix("src")))
        .append_element_content_handler(element!("a[href]", fix("href")));
    rewrite_str(html, settings).unwrap_or_else(|_| html.to_owned())
}

/// A tag's address part: lower case, runs of anything but letters and digits as one `-`.
pub fn tag_slug(tag: &str) -> String {
    let mut slug = String::new();
    for c in tag.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_yaml_posts_parse_alike() {
        let toml = Post::parse(
            "a.md",
            "hello-world",
            "+++\ntitle = \"Hi\"\ndate = 2026-11-22\ntags = [\"Rust\", \"Web Dev\"]\n+++\nSome words. ![x](photo.jpg) [y](other.pdf) [z](https://e.example) [w](/abs)\n",
        )
        .unwrap();
        let yaml = Post::parse(
            "a.md",
            "hello-world",
            "---\ntitle: Hi\ndate: 2026-11-22\ntags: [Rust, Web Dev]\n---\nSome words. ![x](photo.jpg) [y](other.pdf) [z](https://e.example) [w](/abs)\n",
        )
        .unwrap();
        for post in [&toml, &yaml] {
            assert_eq!(post.slug.as_str(), "hello-world");
            assert_eq!(post.date.to_rfc3339(), "2026-11-22T00:00:00+00:00");
            assert_eq!(post.tags, ["Rust", "Web Dev"]);
            assert_eq!(post.reading_minutes, 1);
            assert!(
                post.html.contains("src=\"/blog/hello-world/photo.jpg\""),
                "{}",
                post.html
            );
            assert!(post.html.contains("href=\"/blog/hello-world/other.pdf\""));
            assert!(post.html.contains("href=\"https://e.example\""));
            assert!(post.html.contains("href=\"/abs\""));
        }
    }

    #[test]
    fn bad_front_matter_is_named() {
        let err = |text: &str| Post::parse("p.md", "p", text).unwrap_err().to_string();
        assert!(err("+++\ndate = 2026-01-01\n+++\n").contains("needs a title"));
        assert_eq!(
            Slug::from_title("Hello, World: Rust 2024!").map(|s| s.0),
            Some("hello-world-rust-2024".to_owned())
        );
        assert_eq!(Slug::from_title("¿Qué?"), Some(Slug("qu".to_owned())));
        assert_eq!(Slug::from_title("日本"), None);
        assert!(err("+++\ntitle = \"x\"\n+++\n").contains("needs a date"));
        assert!(
            err("+++\ntitle = \"x\"\ndate = \"soon\"\n+++\n")
                .contains("date \"soon\" is not a date")
        );
        assert!(
            err("+++\ntitle = \"x\"\ndate = 2026-01-01\nslug = \"../x\"\n+++\n")
                .contains("the slug \"../x\"")
        );
        assert!(
            err("+++\ntitle = \"x\"\ndate = 2026-01-01\ntitel = 1\n+++\n").starts_with("p.md:4:")
        );
    }

    #[test]
    fn drafts_and_scheduled_posts_are_not_public() {
        let post = |extra: &str| {
            Post::parse(
                "p.md",
                "p",
                &format!("+++\ntitle = \"x\"\ndate = 2026-01-01\n{extra}\n+++\n"),
            )
            .unwrap()
        };
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert!(post("").is_public(now));
        assert!(!post("draft = true").is_public(now));
        assert!(!post("publish_at = 2026-06-01T00:00:01Z").is_public(now));
        assert!(post("publish_at = \"2026-06-01T00:00:00Z\"").is_public(now));
    }

    #[test]
    fn slugs_and_tag_slugs() {
        assert!(Slug::parse("a-b_1").is_ok());
        for bad in ["", "A", "a/b", "..", "a b", "-a", "a\u{0}"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(tag_slug(" Web Dev! "), "web-dev");
        assert_eq!(tag_slug("C++"), "c");
        assert_eq!(tag_slug("Ünïcode Tag"), "ünïcode-tag");
    }
}
