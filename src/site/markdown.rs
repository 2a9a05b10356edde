//! Markdown files: front matter (TOML between `+++` lines, or YAML between `---`
//! lines), then CommonMark with GitHub's extensions, rendered to HTML.

use std::sync::LazyLock;

use comrak::plugins::syntect::{SyntectAdapter, SyntectAdapterBuilder};
use serde::de::DeserializeOwned;
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
        let (front, body) = front_matter(file, text)?;
        Ok(MarkdownPage {
            front,
            html: render(body),
        })
    }
}

/// Reads the front matter at the top of a Markdown file — TOML between `+++` lines or
/// YAML between `---` lines, or none — into `T`, and returns it with the body.
pub fn front_matter<'t, T: DeserializeOwned + Default>(
    file: &str,
    text: &'t str,
) -> Result<(T, &'t str), ContentError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some((fence, rest)) = ["+++", "---"].iter().find_map(|fence| {
        let rest = text.strip_prefix(fence)?;
        let rest = rest
            .strip_prefix('\n')
            .or_else(|| rest.strip_prefix("\r\n"))?;
        Some((*fence, rest))
    }) else {
        return Ok((T::default(), text));
    };
    let mut offset = 0;
    let mut found = None;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == fence {
            found = Some((&rest[..offset], &rest[offset + line.len()..]));
            break;
        }
        offset += line.len();
    }
    let Some((front, body)) = found else {
        return Err(ContentError::at(
            file,
            Some((1, 1)),
            format!("the front matter opened with {fence} is never closed by a {fence} line"),
        ));
    };
    // The front matter starts on the file's second line, after the fence.
    let parsed = if fence == "+++" {
        toml::from_str(front).map_err(|e| {
            let location = e.span().map(|s| {
                let (line, column) = line_column(front, s.start);
                (line + 1, column)
            });
            ContentError::at(file, location, e.message().trim_end())
        })
    } else if front.trim().is_empty() {
        Ok(T::default())
    } else {
        serde_yaml::from_str(front).map_err(|e| {
            let location = e.location().map(|l| (l.line() + 1, l.column()));
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            ContentError::at(file, location, message)
        })
    };
    Ok((parsed?, body))
}

/// CommonMark with tables, strikethrough, autolinks, task lists, footnotes and heading
/// anchors, code highlighted on the server into CSS classes (see [`highlight_css`]). Raw
/// HTML passes through: the content folder belongs to the site's owner.
pub fn render(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.header_id_prefix = Some(String::new());
    options.render.r#unsafe = true;
    let mut plugins = comrak::options::Plugins::default();
    plugins.render.codefence_syntax_highlighter = Some(&*HIGHLIGHTER);
    comrak::markdown_to_html_with_plugins(markdown, &options, &plugins)
}

/// The syntax definitions, loaded once: loading them takes longer than rendering a site.
static HIGHLIGHTER: LazyLock<SyntectAdapter> = LazyLock::new(|| {
    SyntectAdapterBuilder::new()
        .css_with_class_prefix(CLASS_PREFIX)
        .build()
});

/// Highlighting classes are prefixed, so `.meta` or `.string` from a syntax never styles
/// the page around the code.
const CLASS_PREFIX: &str = "hl-";

/// The stylesheet for highlighted code: a light theme, a dark one, or both with the dark
/// one for dark mode (`None`).
pub fn highlight_css(dark_only: Option<bool>) -> String {
    let (light, dark) = &*HIGHLIGHT_CSS;
    match dark_only {
        Some(false) => light.clone(),
        Some(true) => dark.clone(),
        None => format!("{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"),
    }
}

/// The light and dark highlighting rules, made once: loading the themes is not cheap.
static HIGHLIGHT_CSS: LazyLock<(String, String)> = LazyLock::new(|| {
    use syntect::highlighting::ThemeSet;
    use syntect::html::{ClassStyle, css_for_theme_with_class_style};
    let themes = ThemeSet::load_defaults();
    let css = |name: &str| {
        themes
            .themes
            .get(name)
            .and_then(|t| {
                let style = ClassStyle::SpacedPrefixed {
                    prefix: CLASS_PREFIX,
                };
                css_for_theme_with_class_style(t, style).ok()
            })
            .unwrap_or_default()
    };
    (css("InspiredGitHub"), css("base16-ocean.dark"))
});

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
        let code = render("```rust\nfn main() {}\n```\n");
        assert!(
            code.contains("<span class=\"hl-storage hl-type hl-function hl-rust\">fn</span>"),
            "{code}"
        );
        let css = highlight_css(None);
        assert!(css.contains(".hl-comment") && css.contains("prefers-color-scheme: dark"));
        assert!(
            !css.contains("\n.comment"),
            "unprefixed classes would style the page"
        );
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
        let page =
            MarkdownPage::parse("a.md", "---\ntitle: Yaml\nautolink: true\n---\nBody").unwrap();
        assert_eq!(page.front.title.as_deref(), Some("Yaml"));
        assert!(page.front.autolink && page.html.contains("Body"));
        let err = MarkdownPage::parse("a.md", "---\ntitle: x\nautolink: [1\n---\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("a.md:"), "{err}");
    }
}
