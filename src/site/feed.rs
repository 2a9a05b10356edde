//! `/feed.xml` (Atom 1.0, full content) and `/sitemap.xml` (sitemaps.org 0.9).

use chrono::{DateTime, SecondsFormat, Utc};

use super::post::{Post, absolutize};

/// How many posts the feed carries, newest first.
const FEED_ENTRIES: usize = 20;

/// The Atom feed of `posts` (newest first). `origin` is the site's address without a
/// trailing slash; without one, addresses stay root-relative.
pub fn atom(title: &str, author: Option<&str>, origin: &str, posts: &[&Post]) -> String {
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let changed = |p: &Post| p.updated.unwrap_or(p.date);
    let updated = posts
        .iter()
        .map(|p| changed(p))
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut xml = String::with_capacity(4096);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut xml, 1, "title", title);
    element(&mut xml, 1, "id", &format!("{origin}/"));
    element(&mut xml, 1, "updated", &rfc3339(updated));
    xml.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
        escape(&format!("{origin}/feed.xml")),
        escape(&format!("{origin}/blog"))
    ));
    xml.push_str("  <author>\n");
    element(&mut xml, 2, "name", author.unwrap_or(title));
    xml.push_str("  </author>\n");
    xml.push_str("  <generator uri=\"https://hearth.invalid/\">hearth</generator>\n");
    for post in posts.iter().take(FEED_ENTRIES) {
        let url = format!("{origin}/blog/{}", post.slug.as_str());
        xml.push_str("  <entry>\n");
        element(&mut xml, 2, "title", &post.title);
        element(&mut xml, 2, "id", &url);
        xml.push_str(&format!(
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            escape(&url)
        ));
        element(&mut xml, 2, "published", &rfc3339(post.date));
        element(&mut xml, 2, "updated", &rfc3339(changed(post)));
        for tag in &post.tags {
            xml.push_str(&format!("    <category term=\"{}\"/>\n", escape(tag)));
        }
        if let Some(summary) = &post.summary {
            element(&mut xml, 2, "summary", summary);
        }
        xml.push_str("    <content type=\"html\">");
        xml.push_str(&escape(&absolutize(&post.html, origin)));
        xml.push_str("</content>\n  </entry>\n");
    }
    xml.push_str("</feed>\n");
    xml
}

/// The sitemap of `pages`: (absolute address, last change if known).
pub fn sitemap(pages: &[(String, Option<DateTime<Utc>>)]) -> String {
    let mut xml = String::with_capacity(256 + pages.len() * 96);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for (url, lastmod) in pages {
        xml.push_str("  <url>\n");
        element(&mut xml, 2, "loc", url);
        if let Some(t) = lastmod {
            element(
                &mut xml,
                2,
                "lastmod",
                &t.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        xml.push_str("  </url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

fn element(xml: &mut String, depth: usize, name: &str, text: &str) {
    for _ in 0..depth {
        xml.push_str("  ");
    }
    xml.push_str(&format!("<{name}>{}</{name}>\n", escape(text)));
}

/// Escapes text for XML, and drops the control characters XML 1.0 cannot hold.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_control_characters_dropped() {
        assert_eq!(escape("a<b>&\"'\u{1}\n"), "a&lt;b&gt;&amp;&quot;&apos;\n");
        let map = sitemap(&[("https://x.example/a?b=1&c=2".to_owned(), None)]);
        assert!(
            map.contains("<loc>https://x.example/a?b=1&amp;c=2</loc>"),
            "{map}"
        );
    }
}
