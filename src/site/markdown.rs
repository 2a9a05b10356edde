//! Markdown pages (`about.md`, `pages/*.md`): TOML front matter between `+++` lines,
//! then CommonMark with GitHub's extensions, rendered to HTML.

use serde::{Deserialize, Serialize};

use super::content::{ContentError, line_column};

/// A Markdown file's front matter.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// The page's title; the file name when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// One sentence about it, for search engines and link previews.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether the site's `[autolink]` keywords are linked in it (off by default).
    #[serde(default)]
    pub autolink: bool,
}

/// A Markdown page, rendered.
#[derive(Debug, Clone, Serialize)]
pub struct MarkdownPage {
    /// Its front matter.
    #[serde(flatten)]
    pub front: FrontMatter,
    /// The body as HTML.
    pub html: String,
}

impl MarkdownPage {
    /// Parses and renders a Markdown file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<MarkdownPage, ContentError> {
        let (front, body) = split_front_matter(file, text)?;
        let front: FrontMatter = match front {
            None => FrontMatter::default(),
            Some(toml_text) => toml::from_str(toml_text).map_err(|e| {
                // The front matter starts on the file's second line, after `+++`.
                let location = e.span().map(|s| {
                    let (line, column) = line_column(toml_text, s.start);
                    (line + 1, column)
                });
                ContentError::at(file, location, e.message().trim_end())
            })?,
        };
        Ok(MarkdownPage {
            front,
            html: render(body),
        })
    }
}

/// Splits `+++`-delimited TOML front matter from the body.
fn split_front_matter<'t>(
    file: &str,
    text: &'t str,
) -> Result<(Option<&'t str>, &'t str), ContentError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
    else {
        return Ok((None, text));
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            return Ok((Some(&rest[..offset]), &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(ContentError::at(
        file,
        Some((1, 1)),
        "the front matter opened with +++ is never closed by a +++ line",
    ))
}

/// CommonMark with tables, strikethrough, autolinks, task lists, footnotes and heading
/// anchors. Raw HTML passes through: the content folder belongs to the site's owner.
pub fn render(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.header_id_prefix = Some(String::new());
    options.render.r#unsafe = true;
    comrak::markdown_to_html(markdown, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_gfm() {
        let page = MarkdownPage::parse(
            "about.md",
            "+++\ntitle = \"About me\"\nautolink = true\n+++\n# Hi\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ https://example.org\n",
        )
        .unwrap();
        assert_eq!(page.front.title.as_deref(), Some("About me"));
        assert!(page.front.autolink);
        assert!(page.html.contains("<table>"), "{}", page.html);
        assert!(page.html.contains("<del>old</del>"), "{}", page.html);
        assert!(
            page.html.contains("<a href=\"https://example.org\">"),
            "{}",
            page.html
        );
        assert!(page.html.contains("id=\"hi\""), "{}", page.html);
    }

    #[test]
    fn no_front_matter_is_fine_and_errors_point_into_the_file() {
        let page = MarkdownPage::parse("a.md", "Just *text*.").unwrap();
        assert!(page.front.title.is_none() && !page.front.autolink);
        let err = MarkdownPage::parse("a.md", "+++\ntitle = \"x\"\nautolink = \"yes\"\n+++\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.md:3:12: "), "{err}");
        let err = MarkdownPage::parse("a.md", "+++\ntitle = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("never closed"), "{err}");
    }
}
