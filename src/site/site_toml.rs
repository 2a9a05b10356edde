//! `site.toml`: the site's title, address, navigation, theme, PDF paper and keyword links.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::content::{ContentError, line_column};
use super::pdf::Paper;

/// `site.toml`, parsed. Unknown keys are errors, so a typo does not pass silently.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteToml {
    /// The site's title.
    pub title: String,
    /// Its public address, for absolute links (canonical, Open Graph, the PDF's link back).
    #[serde(default)]
    pub base_url: Option<Spanned<String>>,
    /// Whose site it is.
    #[serde(default)]
    pub author: Option<String>,
    /// One sentence about it, for search engines and link previews.
    #[serde(default)]
    pub description: Option<String>,
    /// The language of the pages (`lang` attribute), `en` by default.
    #[serde(default = "english")]
    pub language: String,
    /// Links shown in the header, in order.
    #[serde(default)]
    pub nav: Vec<NavItem>,
    /// The built-in theme's options.
    #[serde(default)]
    pub theme: Theme,
    /// The PDF resume's options.
    #[serde(default)]
    pub pdf: PdfSettings,
    /// Keywords linked at their first occurrence in visible text, and where they link.
    #[serde(default)]
    pub autolink: BTreeMap<String, Spanned<String>>,
}

/// One header link.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NavItem {
    /// The link's text.
    pub title: String,
    /// Where it goes: a path on this site or an absolute URL.
    pub url: String,
}

/// The built-in theme's options.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// The accent colour, `#rgb` or `#rrggbb`.
    #[serde(default = "default_accent")]
    pub accent: Spanned<String>,
    /// `auto` follows the visitor's system; `light` or `dark` forces one.
    #[serde(default)]
    pub color_scheme: ColorScheme,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            accent: default_accent(),
            color_scheme: ColorScheme::default(),
        }
    }
}

/// Which colour schemes the theme offers.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    /// Light or dark, as the visitor's system prefers.
    #[default]
    Auto,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// `[pdf]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PdfSettings {
    /// `a4` (the default) or `letter`.
    #[serde(default)]
    pub paper: Paper,
}

fn english() -> String {
    "en".to_owned()
}

fn default_accent() -> Spanned<String> {
    Spanned::new(0..0, "#0b6e4f".to_owned())
}

impl SiteToml {
    /// Parses `site.toml`'s text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<SiteToml, Vec<ContentError>> {
        let site: SiteToml = toml::from_str(text).map_err(|e| {
            vec![ContentError::at(
                file,
                e.span().map(|s| line_column(text, s.start)),
                e.message().trim_end(),
            )]
        })?;
        let mut problems = Vec::new();
        let mut wrong = |span: std::ops::Range<usize>, message: String| {
            problems.push(ContentError::at(
                file,
                Some(line_column(text, span.start)),
                message,
            ));
        };
        if let Some(base) = &site.base_url
            && let Err(why) = absolute_url(base.get_ref())
        {
            wrong(base.span(), format!("base_url {why}"));
        }
        if !is_color(site.theme.accent.get_ref()) {
            wrong(
                site.theme.accent.span(),
                format!(
                    "theme.accent {:?} is not a colour like \"#0b6e4f\"",
                    site.theme.accent.get_ref()
                ),
            );
        }
        for (keyword, url) in &site.autolink {
            if let Err(why) = absolute_url(url.get_ref()) {
                wrong(url.span(), format!("autolink {keyword:?}: the URL {why}"));
            }
        }
        if problems.is_empty() {
            Ok(site)
        } else {
            Err(problems)
        }
    }

    /// The public address without a trailing slash, when there is one.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url
            .as_ref()
            .map(|b| b.get_ref().trim_end_matches('/'))
    }
}

/// Accepts an absolute `http`, `https` or `mailto` URL; says what is wrong otherwise.
fn absolute_url(text: &str) -> Result<(), String> {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        Ok(url) if url.scheme() == "mailto" => Ok(()),
        Ok(url) => Err(format!(
            "{text:?} must be http, https or mailto, not {}",
            url.scheme()
        )),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            Err(format!("{text:?} is not absolute (write it with https://)"))
        }
        Err(e) => Err(format!("{text:?} is not a URL: {e}")),
    }
}

fn is_color(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        SiteToml::parse("site.toml", text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_full_file_parses() {
        let site = SiteToml::parse(
            "site.toml",
            r##"
title = "T"
base_url = "https://example.org/"
language = "pt"
[[nav]]
title = "About"
url = "/about"
[theme]
accent = "#a0c"
color_scheme = "dark"
[pdf]
paper = "letter"
[autolink]
"Kubernetes" = "https://kubernetes.io/"
"##,
        )
        .unwrap();
        assert_eq!(site.base_url(), Some("https://example.org"));
        assert_eq!(site.pdf.paper, Paper::Letter);
        assert_eq!(site.theme.color_scheme, ColorScheme::Dark);
        assert_eq!(site.nav[0].url, "/about");
        assert_eq!(
            site.autolink["Kubernetes"].get_ref(),
            "https://kubernetes.io/"
        );
    }

    #[test]
    fn a_relative_autolink_url_is_named_with_its_line_and_column() {
        let errs = errors(
            "title = \"T\"\n[autolink]\nMulesoft = \"/mulesoft\"\nOk = \"https://ok.example\"\n",
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(
                "site.toml:3:12: autolink \"Mulesoft\": the URL \"/mulesoft\" is not absolute"
            ),
            "{errs:?}"
        );
        let errs = errors("title = \"T\"\n[autolink]\nX = \"javascript:alert(1)\"\n");
        assert!(
            errs[0].contains("must be http, https or mailto"),
            "{errs:?}"
        );
    }

    #[test]
    fn typos_wrong_types_and_bad_values_are_errors() {
        assert!(errors("title = \"T\"\n[autolinks]\n")[0].starts_with("site.toml:2:"));
        assert!(errors("title = \"T\"\n[pdf]\npaper = \"a5\"\n")[0].starts_with("site.toml:3:9:"));
        let errs = errors("title = \"T\"\nbase_url = \"example.org\"\n[theme]\naccent = \"red\"\n");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("site.toml:2:12: base_url"), "{errs:?}");
        assert!(
            errs[1].starts_with("site.toml:4:10: theme.accent"),
            "{errs:?}"
        );
    }
}
