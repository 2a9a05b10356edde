//! Keyword auto-linking: the first occurrence of each configured keyword in a page's visible
//! text becomes `<a href="URL" class="autolink">…</a>`.
//!
//! The page goes through [`lol_html`], so only text content is ever looked at; tags, attributes,
//! comments and every byte not part of an added link come out unchanged. Per text node:
//!
//! 1. *Skipping.* Text is left alone when it is not ordinary character data (`<script>`,
//!    `<style>`, `<title>`, `<textarea>`, … are raw text for the parser) or when it lies inside an
//!    element matched by [`SKIP_SELECTOR`] (`<a>`, `<code>`, `<pre>`, `data-autolink="off"`, …).
//!    Nesting is lol_html's own stack of open elements, so void elements and `<pre><code>` work.
//! 2. *Buffering.* lol_html hands text over in arbitrary chunks; they are collected (and removed)
//!    until the chunk marked `last_in_text_node`, which is replaced by the whole node.
//! 3. *Folding.* The node's raw source (entities still encoded) is folded into a search text:
//!    character references are decoded (`&amp;` → `&`, `&#75;` → `K`), non-ASCII characters are
//!    lower-cased and whitespace runs (including `&nbsp;`) become one space. `origin` remembers
//!    for each folded byte where its source unit starts, so a match maps back to raw offsets that
//!    never cut an entity in half. Plain text (ASCII, no `&`, single spaces) is searched as is.
//! 4. *Matching.* One Aho-Corasick automaton over the folded keywords, ignoring ASCII case,
//!    reports all (overlapping) occurrences; those glued to a letter, digit or `_` where the
//!    keyword itself starts/ends with one are dropped (so `C++` and `.NET` work, and "Java" is
//!    not found in "JavaScript"). Longer occurrences claim their text first, so "VMware" is never
//!    linked inside "VMware Orchestrator", even if that one was linked earlier and stays as is.
//! 5. *Linking.* Claimed occurrences, in document order, are linked if their keyword has not
//!    been linked yet; the link wraps the page's own text (casing and entities) verbatim.
//!
//! Limitations: a keyword split by markup (`Kuber<b>netes</b>`, or a comment) is not found, and
//! the edge of a text node counts as a word boundary (`Java<b>Script</b>` links "Java"). Only
//! common named entities are decoded; any other (`&eacute;`) counts as a letter. Case folding
//! is per-character lower-casing (`É` = `é`, but `ß` ≠ `SS`). Skipping follows lol_html's stack,
//! which matches a browser's tree for well-formed HTML; for mis-nested formatting elements
//! (`<p><code>x</p>y`) a browser re-opens `<code>` around `y`, lol_html does not.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use lol_html::html_content::{ContentType, DocumentEnd, TextChunk, TextType};
use lol_html::{DocumentContentHandlers, ElementContentHandlers, HtmlRewriter, Selector, Settings};

/// Elements whose text is never auto-linked (besides raw-text elements, which lol_html reports
/// as non-`Data` text anyway).
const SKIP_SELECTOR: &str = "a, script, style, code, pre, head, title, textarea, svg, math, kbd, \
     samp, button, select, option, template, noscript, [data-autolink=\"off\"]";

/// Stands for a named character reference this module does not decode; counts as a letter.
const UNKNOWN_ENTITY: char = '\u{FFFF}';

/// Links the first occurrence of each keyword in a page's visible text.
pub struct Autolinker {
    keywords: Vec<Keyword>,
    /// Pattern `i` is `keywords[i]`, folded.
    matcher: AhoCorasick,
    skip: Selector,
}

struct Keyword {
    /// As configured, for messages.
    name: String,
    /// `<a href="…" class="autolink">`, the URL attribute-escaped.
    open_tag: String,
    /// Whether the keyword starts with a word character, so a match must not follow one.
    bounded_start: bool,
    /// Whether the keyword ends with a word character, so a match must not precede one.
    bounded_end: bool,
}

/// Why a keyword set cannot be built or a page cannot be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum AutolinkError {
    /// A keyword is empty or only whitespace.
    #[error("the keyword for {url:?} in [autolink] is blank")]
    BlankKeyword {
        /// The URL the blank keyword was to link to.
        url: String,
    },
    /// Two keywords are the same up to case and whitespace.
    #[error(
        "keyword {second:?} appears twice in [autolink]{}",
        if first == second { String::new() } else { format!(" (also as {first:?})") }
    )]
    DuplicateKeyword {
        /// The earlier spelling.
        first: String,
        /// The later spelling.
        second: String,
    },
    /// The keyword automaton exceeds aho-corasick's limits.
    #[error("cannot build the [autolink] keyword matcher: {0}")]
    Matcher(#[from] aho_corasick::BuildError),
    /// The built-in selector of skipped elements does not parse (a bug).
    #[error("the built-in auto-link skip selector is invalid: {0}")]
    Selector(#[from] lol_html::errors::SelectorError),
    /// lol_html gave up on the page (e.g. markup whose parsing is ambiguous without a DOM).
    #[error("cannot auto-link the page: {}", first_line(.0))]
    Rewrite(#[from] lol_html::errors::RewritingError),
}

/// Some lol_html messages go on with paragraphs of explanation.
fn first_line(error: &impl fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl Autolinker {
    /// `links` are (keyword, absolute URL) pairs, already validated as URLs by the caller.
    /// A keyword is plain text, not HTML; whitespace in it matches any whitespace on the page.
    ///
    /// Errors: an empty/blank keyword, or the same keyword twice (case-insensitively).
    pub fn new<K: AsRef<str>, U: AsRef<str>>(
        links: impl IntoIterator<Item = (K, U)>,
    ) -> Result<Self, AutolinkError> {
        let mut keywords = Vec::new();
        let mut patterns = Vec::new();
        // Folded keyword → its first spelling.
        let mut seen: HashMap<String, String> = HashMap::new();
        for (keyword, url) in links {
            let (name, url) = (keyword.as_ref(), url.as_ref());
            let folded = fold_keyword(name);
            let (Some(first), Some(last)) = (folded.chars().next(), folded.chars().next_back())
            else {
                return Err(AutolinkError::BlankKeyword {
                    url: url.to_owned(),
                });
            };
            if let Some(first) = seen.get(&folded) {
                return Err(AutolinkError::DuplicateKeyword {
                    first: first.clone(),
                    second: name.to_owned(),
                });
            }
            seen.insert(folded.clone(), name.to_owned());
            keywords.push(Keyword {
                name: name.to_owned(),
                open_tag: format!(r#"<a href="{}" class="autolink">"#, escape_attribute(url)),
                bounded_start: is_word(first),
                bounded_end: is_word(last),
            });
            patterns.push(folded);
        }
        // Patterns are lower-case; ASCII case-insensitivity lets unfolded plain text be searched.
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&patterns)?;
        Ok(Autolinker {
            keywords,
            matcher,
            skip: SKIP_SELECTOR.parse()?,
        })
    }

    /// Whether there are no keywords, so [`apply`](Self::apply) returns pages unchanged.
    pub fn is_empty(&self) -> bool {
        self.keywords.is_empty()
    }

    /// Rewrites a whole HTML document or fragment.
    pub fn apply(&self, html: &str) -> Result<String, AutolinkError> {
        self.rewrite(html, html.len())
    }

    /// [`apply`](Self::apply), feeding lol_html `piece_len` bytes at a time (tests use small
    /// pieces to split text nodes into many chunks).
    fn rewrite(&self, html: &str, piece_len: usize) -> Result<String, AutolinkError> {
        if self.is_empty() {
            return Ok(html.to_owned());
        }
        // Element handlers run before document handlers for the same chunk (lol_html calls
        // text handlers in registration order, selector-bound ones first), so the document
        // handler learns whether the chunk lies inside a skipped element.
        let skipped = Cell::new(false);
        let pass = RefCell::new(Pass::new(self));
        let settings = Settings::new()
            .append_element_content_handler((
                Cow::Borrowed(&self.skip),
                ElementContentHandlers::default().text(|_: &mut TextChunk<'_>| {
                    skipped.set(true);
                    Ok(())
                }),
            ))
            .append_document_content_handler(
                DocumentContentHandlers::default()
                    .text(|chunk: &mut TextChunk<'_>| {
                        pass.try_borrow_mut()?.text(chunk, skipped.replace(false));
                        Ok(())
                    })
                    .end(|end: &mut DocumentEnd<'_>| {
                        // lol_html ends every text node with a last chunk; this only guards
                        // against ever dropping buffered text.
                        let mut pass = pass.try_borrow_mut()?;
                        end.append(&pass.pending, ContentType::Html);
                        pass.pending.clear();
                        Ok(())
                    }),
            );
        let mut output = Vec::with_capacity(html.len() + html.len() / 8);
        let mut rewriter = HtmlRewriter::new(settings, |bytes: &[u8]| {
            output.extend_from_slice(bytes);
        });
        for piece in html.as_bytes().chunks(piece_len.max(1)) {
            rewriter.write(piece)?;
        }
        rewriter.end()?;
        // UTF-8 in, only UTF-8 inserted: the lossy branch cannot be taken.
        Ok(String::from_utf8(output)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

impl fmt::Debug for Autolinker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Autolinker")
            .field(
                "keywords",
                &self.keywords.iter().map(|k| &k.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The state of one [`Autolinker::apply`] run; buffers are reused from text node to text node.
struct Pass<'a> {
    linker: &'a Autolinker,
    /// Per keyword: already linked in this document.
    linked: Vec<bool>,
    unlinked: usize,
    /// Raw text of the current text node's earlier chunks (which were removed).
    pending: String,
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    folded: String,
    /// `origin[i]`: raw offset of the source unit (character, reference or whitespace run) that
    /// produced `folded` byte `i`.
    origin: Vec<usize>,
    candidates: Vec<Occurrence>,
    /// Occurrences that won their text, ordered by start.
    claimed: Vec<Occurrence>,
    /// The rewritten text node.
    out: String,
}

/// A keyword occurrence, as a byte range of the searched (folded) text.
#[derive(Clone, Copy)]
struct Occurrence {
    start: usize,
    end: usize,
    keyword: usize,
}

impl<'a> Pass<'a> {
    fn new(linker: &'a Autolinker) -> Self {
        Pass {
            linker,
            linked: vec![false; linker.keywords.len()],
            unlinked: linker.keywords.len(),
            pending: String::new(),
            scratch: Scratch::default(),
        }
    }

    fn text(&mut self, chunk: &mut TextChunk<'_>, skipped: bool) {
        if skipped || chunk.text_type() != TextType::Data || self.unlinked == 0 {
            // Cannot happen mid-node, as a node has one context; never lose text regardless.
            if !self.pending.is_empty() {
                chunk.before(&self.pending, ContentType::Html);
                self.pending.clear();
            }
            return;
        }
        if !chunk.last_in_text_node() {
            self.pending.push_str(chunk.as_str());
            chunk.remove();
            return;
        }
        if self.pending.is_empty() {
            if self.link(chunk.as_str()) {
                chunk.replace(&self.scratch.out, ContentType::Html);
            }
            return;
        }
        self.pending.push_str(chunk.as_str());
        let raw = std::mem::take(&mut self.pending);
        let text = if self.link(&raw) {
            &self.scratch.out
        } else {
            &raw
        };
        chunk.replace(text, ContentType::Html);
        // Keep the allocation for the next node.
        self.pending = raw;
        self.pending.clear();
    }

    /// Writes `raw` with links added to `scratch.out`; false (and `out` undefined) if none.
    fn link(&mut self, raw: &str) -> bool {
        let Scratch {
            folded,
            origin,
            candidates,
            claimed,
            out,
        } = &mut self.scratch;
        // Most text needs no folding beyond ASCII case, which the automaton ignores anyway;
        // then folded and raw offsets are the same.
        let plain = is_plain(raw);
        let text = if plain {
            raw
        } else {
            fold_html_text(raw, folded, origin);
            folded.as_str()
        };
        let matcher = &self.linker.matcher;
        if !matcher.is_match(text) {
            return false;
        }
        let keywords = &self.linker.keywords;
        let unit_edge = |at: usize| {
            plain || at == 0 || at == text.len() || origin.get(at - 1) != origin.get(at)
        };

        candidates.clear();
        for m in matcher.find_overlapping_iter(text) {
            let (start, end, keyword) = (m.start(), m.end(), m.pattern().as_usize());
            let Some(kw) = keywords.get(keyword) else {
                continue;
            };
            // A match must not begin or end inside what one character reference (or a
            // multi-character lower-case mapping) produced.
            let whole_units = unit_edge(start) && unit_edge(end);
            let free_start =
                !kw.bounded_start || !text[..start].chars().next_back().is_some_and(is_word);
            let free_end = !kw.bounded_end || !text[end..].chars().next().is_some_and(is_word);
            if whole_units && free_start && free_end {
                candidates.push(Occurrence {
                    start,
                    end,
                    keyword,
                });
            }
        }
        if candidates.is_empty() {
            return false;
        }

        // Longest first (then leftmost) claims its text.
        candidates.sort_unstable_by_key(|o| (std::cmp::Reverse(o.end - o.start), o.start));
        claimed.clear();
        for &occurrence in candidates.iter() {
            let at = claimed.partition_point(|c| c.start < occurrence.start);
            let clear_before = at == 0
                || claimed
                    .get(at - 1)
                    .is_some_and(|c| c.end <= occurrence.start);
            let clear_after = claimed.get(at).is_none_or(|c| c.start >= occurrence.end);
            if clear_before && clear_after {
                claimed.insert(at, occurrence);
            }
        }

        let raw_offset = |at: usize| match plain {
            true => at,
            false => origin.get(at).copied().unwrap_or(raw.len()),
        };
        out.clear();
        let mut copied = 0;
        for occurrence in claimed.iter() {
            let (Some(linked), Some(kw)) = (
                self.linked.get_mut(occurrence.keyword),
                keywords.get(occurrence.keyword),
            ) else {
                continue;
            };
            if *linked {
                continue;
            }
            let (raw_start, raw_end) = (raw_offset(occurrence.start), raw_offset(occurrence.end));
            *linked = true;
            self.unlinked -= 1;
            out.push_str(&raw[copied..raw_start]);
            out.push_str(&kw.open_tag);
            out.push_str(&raw[raw_start..raw_end]);
            out.push_str("</a>");
            copied = raw_end;
        }
        if copied == 0 {
            return false;
        }
        out.push_str(&raw[copied..]);
        true
    }
}

/// Whether `raw` folds to itself: no references, no non-ASCII, no whitespace but single spaces.
fn is_plain(raw: &str) -> bool {
    let mut after_space = false;
    raw.bytes().all(|b| {
        let plain = match b {
            b' ' => !after_space,
            b'&' => false,
            _ => b.is_ascii() && !char::from(b).is_whitespace(),
        };
        after_space = b == b' ';
        plain
    })
}

/// Folds raw HTML text (entities encoded) for matching: see the module documentation.
fn fold_html_text(raw: &str, folded: &mut String, origin: &mut Vec<usize>) {
    folded.clear();
    origin.clear();
    folded.reserve(raw.len());
    origin.reserve(raw.len());
    let mut in_space = false;
    let mut unit = 0;
    while let Some(&byte) = raw.as_bytes().get(unit) {
        let (c, len) = match byte {
            b'&' => decode_reference(&raw[unit..]).unwrap_or(('&', 1)),
            _ if byte.is_ascii() => (char::from(byte), 1),
            _ => match raw[unit..].chars().next() {
                Some(c) => (c, c.len_utf8()),
                None => break,
            },
        };
        if c.is_whitespace() {
            if !in_space {
                folded.push(' ');
                origin.push(unit);
            }
            in_space = true;
        } else if c.is_ascii() {
            // ASCII case is left to the automaton.
            in_space = false;
            folded.push(c);
            origin.push(unit);
        } else {
            in_space = false;
            for lower in c.to_lowercase() {
                push_folded(folded, origin, lower, unit);
            }
        }
        unit += len;
    }
}

fn push_folded(folded: &mut String, origin: &mut Vec<usize>, c: char, unit: usize) {
    folded.push(c);
    origin.extend(std::iter::repeat_n(unit, c.len_utf8()));
}

/// Folds a keyword (plain text) the way [`fold_html_text`] folds page text.
fn fold_keyword(keyword: &str) -> String {
    let mut folded = String::with_capacity(keyword.len());
    for word in keyword.split_whitespace() {
        if !folded.is_empty() {
            folded.push(' ');
        }
        folded.extend(word.chars().flat_map(char::to_lowercase));
    }
    folded
}

/// Decodes the character reference `s` starts with (`&name;`, `&#n;`, `&#xh;`): the character
/// and the reference's length. `None` if `s` does not start with one (the `&` is literal text).
fn decode_reference(s: &str) -> Option<(char, usize)> {
    let body = s.strip_prefix('&')?;
    let name = &body[..body.bytes().take(32).position(|b| b == b';')?];
    let len = name.len() + 2;
    if let Some(number) = name.strip_prefix('#') {
        let (digits, radix) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (number, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        let c = u32::from_str_radix(digits, radix)
            .ok()
            .and_then(char::from_u32)
            .filter(|&c| c != '\0')
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        return Some((c, len));
    }
    let mut bytes = name.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !bytes.all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    Some((named_reference(name).unwrap_or(UNKNOWN_ENTITY), len))
}

/// The named references worth decoding: markup escapes, spaces and punctuation that commonly
/// sit next to a keyword. Everything else (mostly letters) is [`UNKNOWN_ENTITY`].
fn named_reference(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "deg" => '°',
        "times" => '×',
        "rarr" => '→',
        "larr" => '←',
        _ => return None,
    })
}

/// Whether `c` glues to a keyword's word character (so there is no word boundary between).
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == UNKNOWN_ENTITY
}

/// Escapes `value` for a double-quoted attribute.
fn escape_attribute(value: &str) -> Cow<'_, str> {
    if !value.contains(['&', '"', '<', '>']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBERNETES: &str = r#"<a href="https://kubernetes.io/" class="autolink">"#;
    const VMWARE: &str = r#"<a href="https://vmware.example/" class="autolink">"#;
    const ORCHESTRATOR: &str = r#"<a href="https://vmware.example/vro" class="autolink">"#;

    fn linker() -> Autolinker {
        Autolinker::new([
            ("Kubernetes", "https://kubernetes.io/"),
            ("VMware", "https://vmware.example/"),
            ("VMware Orchestrator", "https://vmware.example/vro"),
            ("Java", "https://java.example/"),
            ("JavaScript", "https://js.example/"),
            ("C++", "https://cpp.example/"),
            (".NET", "https://dotnet.example/"),
            ("AT&T", "https://att.example/"),
            ("R&D", "https://rd.example/"),
            ("Élan", "https://elan.example/"),
        ])
        .unwrap()
    }

    fn apply(html: &str) -> String {
        linker().apply(html).unwrap()
    }

    fn link(open_tag: &str, text: &str) -> String {
        format!("{open_tag}{text}</a>")
    }

    fn tag(url: &str) -> String {
        format!(r#"<a href="{url}" class="autolink">"#)
    }

    #[test]
    fn links_each_keyword_once_at_its_first_occurrence() {
        let html = "<p>Kubernetes, kubernetes</p>\n<p>Kubernetes again</p>";
        let expected = format!(
            "<p>{}, kubernetes</p>\n<p>Kubernetes again</p>",
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn the_longest_keyword_wins_an_overlap() {
        let html = "<p>VMware Orchestrator runs on VMware.</p>";
        let expected = format!(
            "<p>{} runs on {}.</p>",
            link(ORCHESTRATOR, "VMware Orchestrator"),
            link(VMWARE, "VMware")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn a_long_keyword_keeps_its_text_even_when_already_linked() {
        let html = "<p>VMware Orchestrator</p><p>VMware Orchestrator, then VMware</p>";
        let expected = format!(
            "<p>{}</p><p>VMware Orchestrator, then {}</p>",
            link(ORCHESTRATOR, "VMware Orchestrator"),
            link(VMWARE, "VMware")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn a_shorter_keyword_links_where_the_longer_one_is_not_a_whole_word() {
        let html = "<p>VMware Orchestrators</p>";
        let expected = format!("<p>{} Orchestrators</p>", link(VMWARE, "VMware"));
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn longest_beats_leftmost() {
        let linker = Autolinker::new([
            ("Google Cloud", "https://g.example/"),
            ("Cloud Run Jobs", "https://run.example/"),
        ])
        .unwrap();
        assert_eq!(
            linker.apply("Google Cloud Run Jobs").unwrap(),
            format!(
                "Google {}",
                link(&tag("https://run.example/"), "Cloud Run Jobs")
            )
        );
    }

    #[test]
    fn attributes_and_tags_are_never_touched() {
        let html = concat!(
            r#"<img alt="Kubernetes" src="kubernetes.png">"#,
            r#"<p title='Kubernetes' class=Kubernetes>x</p><kubernetes>"#,
        );
        assert_eq!(apply(html), html);
        let html = r#"<img alt="Kubernetes"><P  CLASS=x id='y'>Kubernetes</P >"#;
        let expected = format!(
            r#"<img alt="Kubernetes"><P  CLASS=x id='y'>{}</P >"#,
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn comments_are_not_text() {
        let html = "<!-- Kubernetes --><p>Kubernetes</p>";
        let expected = format!(
            "<!-- Kubernetes --><p>{}</p>",
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn existing_links_are_skipped() {
        let html = r#"<p><a href="/k8s">all about <b>Kubernetes</b></a> and Kubernetes</p>"#;
        let expected = format!(
            r#"<p><a href="/k8s">all about <b>Kubernetes</b></a> and {}</p>"#,
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn script_style_code_and_pre_are_skipped_with_nesting() {
        let html = "<script>let Kubernetes = 1;</script><style>/* Kubernetes */</style>\
            <pre><code>Kubernetes</code> Kubernetes <b>Kubernetes</b></pre>\
            <p><code>Kubernetes<br>Kubernetes</code><span>Kubernetes</span></p>";
        let expected = format!(
            "<script>let Kubernetes = 1;</script><style>/* Kubernetes */</style>\
            <pre><code>Kubernetes</code> Kubernetes <b>Kubernetes</b></pre>\
            <p><code>Kubernetes<br>Kubernetes</code><span>{}</span></p>",
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn every_skipped_element_is_skipped() {
        for name in [
            "a", "script", "style", "code", "pre", "title", "textarea", "svg", "math", "kbd",
            "samp", "button", "select", "option", "template", "noscript", "head",
        ] {
            let html = format!("<{name}>Kubernetes</{name}>");
            assert_eq!(apply(&html), html, "inside <{name}>");
        }
        let html = "<svg><text>Kubernetes</text></svg><select><option>Kubernetes</select>";
        assert_eq!(apply(html), html);
    }

    #[test]
    fn every_raw_text_element_is_skipped() {
        // Not in the skip selector: recognised by their text type.
        for html in [
            "<xmp>Kubernetes</xmp>",
            "<iframe>Kubernetes</iframe>",
            "<noembed>Kubernetes</noembed>",
            "<noframes>Kubernetes</noframes>",
            "<plaintext>Kubernetes</p>",
        ] {
            assert_eq!(apply(html), html);
        }
    }

    #[test]
    fn a_full_document_links_only_in_the_body() {
        let html = "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\
            <title>Kubernetes</title><meta name=description content=\"Kubernetes\"></head>\n\
            <body><h1>Kubernetes</h1></body></html>\n";
        let expected = html.replace("<h1>Kubernetes", &format!("<h1>{KUBERNETES}Kubernetes</a>"));
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn data_autolink_off_excludes_a_subtree() {
        let nav = r#"<nav data-autolink="off"><ul><li><span>Kubernetes</span></li></ul></nav>"#;
        let html = format!(r#"{nav}<main data-autolink="on">Kubernetes</main>"#);
        let expected = format!(
            r#"{nav}<main data-autolink="on">{}</main>"#,
            link(KUBERNETES, "Kubernetes")
        );
        assert_eq!(apply(&html), expected);
    }

    #[test]
    fn void_elements_and_unclosed_skips_are_tracked() {
        let html = r#"<p>a<br>b<img src="x"><hr/> Kubernetes</p>"#;
        assert_eq!(
            apply(html),
            format!(
                r#"<p>a<br>b<img src="x"><hr/> {}</p>"#,
                link(KUBERNETES, "Kubernetes")
            )
        );
        // A skip element left open runs to the end of the fragment.
        for html in [
            "<code>x<p>Kubernetes",
            "<a href=/>Kubernetes",
            "<pre>x</b>Kubernetes",
        ] {
            assert_eq!(apply(html), html);
        }
        // An end tag closes what lol_html's stack has open inside it, as in a browser.
        let html = "<div><pre>x</div><p>Kubernetes</p>";
        assert_eq!(
            apply(html),
            format!("<div><pre>x</div><p>{}</p>", link(KUBERNETES, "Kubernetes"))
        );
    }

    #[test]
    fn matches_only_whole_words() {
        let html = "JavaScripts Javanese Kubernetesé éKubernetes Kubernetes_1 Kubernetes2 \
                    xVMware VMware";
        let expected = format!(
            "JavaScripts Javanese Kubernetesé éKubernetes Kubernetes_1 Kubernetes2 xVMware {}",
            link(VMWARE, "VMware")
        );
        assert_eq!(apply(html), expected);
        let html = "JavaScript, Java.";
        let expected = format!(
            "{}, {}.",
            link(&tag("https://js.example/"), "JavaScript"),
            link(&tag("https://java.example/"), "Java")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn keywords_with_punctuation_edges() {
        let html = "<p>C++ and .NET, not xC++.</p>";
        let expected = format!(
            "<p>{} and {}, not xC++.</p>",
            link(&tag("https://cpp.example/"), "C++"),
            link(&tag("https://dotnet.example/"), ".NET")
        );
        assert_eq!(apply(html), expected);
    }

    #[test]
    fn keywords_at_the_edges_of_text_and_in_brackets() {
        assert_eq!(apply("Kubernetes"), link(KUBERNETES, "Kubernetes"));
        assert_eq!(
            apply("<i>(Kubernetes)</i>"),
            format!("<i>({})</i>", link(KUBERNETES, "Kubernetes"))
        );
    }

    #[test]
    fn matching_ignores_case_and_keeps_the_page_casing() {
        assert_eq!(
            apply("<p>KUBERNETES kubernetes</p>"),
            format!("<p>{} kubernetes</p>", link(KUBERNETES, "KUBERNETES"))
        );
        assert_eq!(
            apply("<p>ÉLAN</p>"),
            format!("<p>{}</p>", link(&tag("https://elan.example/"), "ÉLAN"))
        );
    }

    #[test]
    fn entities_are_matched_decoded_and_kept_encoded() {
        let att = tag("https://att.example/");
        let rd = tag("https://rd.example/");
        assert_eq!(
            apply("<p>AT&amp;T and R&amp;D</p>"),
            format!(
                "<p>{} and {}</p>",
                link(&att, "AT&amp;T"),
                link(&rd, "R&amp;D")
            )
        );
        assert_eq!(apply("at&#38;t"), link(&att, "at&#38;t"));
        assert_eq!(apply("x AT&T y"), format!("x {} y", link(&att, "AT&T")));
        assert_eq!(
            apply("<p>&lt;Kubernetes&gt;</p>"),
            format!("<p>&lt;{}&gt;</p>", link(KUBERNETES, "Kubernetes"))
        );
        assert_eq!(
            apply("&#75;ubernetes&rsquo;s"),
            format!("{}&rsquo;s", link(KUBERNETES, "&#75;ubernetes"))
        );
        // An entity this module does not know counts as a letter.
        assert_eq!(apply("Kubernetes&eacute;"), "Kubernetes&eacute;");
        assert_eq!(
            apply("Kubernetes&bogus x"),
            "Kubernetes&bogus x".replace("Kubernetes", &link(KUBERNETES, "Kubernetes"))
        );
    }

    #[test]
    fn whitespace_between_words_is_any_whitespace() {
        assert_eq!(
            apply("<p>VMware&nbsp;Orchestrator</p>"),
            format!("<p>{}</p>", link(ORCHESTRATOR, "VMware&nbsp;Orchestrator"))
        );
        for spaced in [
            "VMware  Orchestrator",
            "VMware\nOrchestrator",
            "VMware\tOrchestrator",
        ] {
            assert_eq!(apply(spaced), link(ORCHESTRATOR, spaced));
        }
        assert_eq!(
            apply("<p>the VMware\n   Orchestrator  </p>"),
            format!(
                "<p>the {}  </p>",
                link(ORCHESTRATOR, "VMware\n   Orchestrator")
            )
        );
    }

    #[test]
    fn a_keyword_split_by_markup_is_not_found() {
        // Documented limitation: only one text node is searched at a time.
        for html in ["<p>Kuber<b>netes</b></p>", "<p>Kuber<!---->netes</p>"] {
            assert_eq!(apply(html), html);
        }
    }

    #[test]
    fn text_split_into_many_chunks_is_buffered_per_node() {
        let linker = linker();
        let mut html = String::from("<html><body>\n");
        for i in 0..400 {
            html.push_str(&format!(
                "<p class=\"p{i}\">Filler text number {i}, with AT&amp;T inside &lt;tags&gt;.</p>\n"
            ));
        }
        html.push_str("<p>A long node: ");
        html.push_str(&"lorem ipsum ".repeat(500));
        html.push_str("then Kubernetes and VMware\nOrchestrator, then Java.</p></body></html>");
        let whole = linker.apply(&html).unwrap();
        assert_eq!(whole.matches("class=\"autolink\"").count(), 4);
        assert!(whole.contains(&link(ORCHESTRATOR, "VMware\nOrchestrator")));
        for piece_len in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(
                linker.rewrite(&html, piece_len).unwrap(),
                whole,
                "pieces of {piece_len}"
            );
        }
    }

    #[test]
    fn urls_are_attribute_escaped() {
        let linker =
            Autolinker::new([("Kubernetes", r#"https://x.example/?a=1&b="2"<>"#)]).unwrap();
        assert_eq!(
            linker.apply("Kubernetes").unwrap(),
            r#"<a href="https://x.example/?a=1&amp;b=&quot;2&quot;&lt;&gt;" class="autolink">Kubernetes</a>"#
        );
    }

    #[test]
    fn blank_and_duplicate_keywords_are_rejected() {
        let err = Autolinker::new([(" \t", "https://x.example/")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"the keyword for "https://x.example/" in [autolink] is blank"#
        );
        let err =
            Autolinker::new([("VMware", "https://a/"), ("VMware", "https://b/")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"keyword "VMware" appears twice in [autolink]"#
        );
        let err = Autolinker::new([
            ("VMware  Orchestrator", "https://a/"),
            ("vmware orchestrator", "https://b/"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"keyword "vmware orchestrator" appears twice in [autolink] (also as "VMware  Orchestrator")"#
        );
    }

    #[test]
    fn markup_lol_html_cannot_parse_safely_is_an_error() {
        let html = "<select><xmp><script>Kubernetes</script></select>";
        let err = linker().apply(html).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("cannot auto-link the page: "),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn an_empty_linker_changes_nothing() {
        let linker = Autolinker::new(Vec::<(String, String)>::new()).unwrap();
        assert!(linker.is_empty());
        assert!(!self::linker().is_empty());
        assert_eq!(
            linker.apply("<p>Kubernetes</p>").unwrap(),
            "<p>Kubernetes</p>"
        );
    }

    #[test]
    fn is_shareable_and_debuggable() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let linker = linker();
        shareable(&linker);
        assert!(
            format!("{linker:?}").starts_with(r#"Autolinker { keywords: ["Kubernetes", "VMware""#)
        );
    }

    mod properties {
        use super::super::Autolinker;
        use proptest::prelude::*;
        use proptest::sample::select;

        /// The keyword set and, written out by hand, the start tag each one's link must have.
        const LINKS: [(&str, &str, &str); 8] = [
            (
                "Kubernetes",
                "https://kw.example/k8s",
                r#"<a href="https://kw.example/k8s" class="autolink">"#,
            ),
            (
                "VMware",
                "https://kw.example/vmw",
                r#"<a href="https://kw.example/vmw" class="autolink">"#,
            ),
            (
                "VMware Orchestrator",
                "https://kw.example/vro",
                r#"<a href="https://kw.example/vro" class="autolink">"#,
            ),
            (
                "Java",
                "https://kw.example/java",
                r#"<a href="https://kw.example/java" class="autolink">"#,
            ),
            (
                "JavaScript",
                "https://kw.example/js",
                r#"<a href="https://kw.example/js" class="autolink">"#,
            ),
            (
                "C++",
                "https://kw.example/c++",
                r#"<a href="https://kw.example/c++" class="autolink">"#,
            ),
            (
                ".NET",
                "https://kw.example/.net",
                r#"<a href="https://kw.example/.net" class="autolink">"#,
            ),
            (
                "AT&T",
                r#"https://kw.example/?q="at&t""#,
                r#"<a href="https://kw.example/?q=&quot;at&amp;t&quot;" class="autolink">"#,
            ),
        ];

        const SKIPPED: [&str; 5] = ["a", "code", "pre", "script", "style"];

        fn linker() -> Autolinker {
            Autolinker::new(LINKS.iter().map(|&(k, u, _)| (k, u))).unwrap()
        }

        /// An added link, found in the output.
        #[derive(Debug)]
        struct Link {
            keyword: usize,
            /// Where the linked text starts in the input.
            at: usize,
            text: String,
        }

        /// Removes the added links from `output`: the input it came from, and the links.
        fn strip_links(output: &str) -> (String, Vec<Link>) {
            let (mut input, mut links, mut rest) = (String::new(), Vec::new(), output);
            loop {
                let next = LINKS
                    .iter()
                    .enumerate()
                    .filter_map(|(keyword, (_, _, tag))| {
                        rest.find(tag).map(|at| (at, keyword, tag.len()))
                    })
                    .min();
                let Some((at, keyword, tag_len)) = next else {
                    input.push_str(rest);
                    return (input, links);
                };
                input.push_str(&rest[..at]);
                rest = &rest[at + tag_len..];
                let close = rest.find("</a>").expect("an added link is closed");
                let text = &rest[..close];
                assert!(!text.contains('<'), "markup inside a link: {text:?}");
                links.push(Link {
                    keyword,
                    at: input.len(),
                    text: text.to_owned(),
                });
                input.push_str(text);
                rest = &rest[close + "</a>".len()..];
            }
        }

        /// For each byte of `html` (as produced by [`document`]): whether it is text outside any
        /// skipped element. A tiny tokenizer that knows exactly the generated markup.
        fn linkable_bytes(html: &str) -> Vec<bool> {
            let mut linkable = vec![false; html.len()];
            let mut stack: Vec<(String, bool)> = Vec::new();
            let mut i = 0;
            while i < html.len() {
                let rest = &html[i..];
                let raw_text = stack
                    .last()
                    .is_some_and(|(n, _)| n == "script" || n == "style");
                if let Some(after) = rest.strip_prefix("</") {
                    let end = after.find('>').unwrap();
                    let name = &after[..end];
                    let open = stack.iter().rposition(|(n, _)| n == name).unwrap();
                    stack.truncate(open);
                    i += 2 + end + 1;
                } else if rest.starts_with('<') && !raw_text {
                    let end = tag_end(rest);
                    let tag = &rest[1..end];
                    let name: String = tag
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    let off = tag.contains(r#"data-autolink="off""#);
                    if name != "br" && name != "img" {
                        stack.push((name.clone(), SKIPPED.contains(&name.as_str()) || off));
                    }
                    i += end + 1;
                } else {
                    let len = if raw_text {
                        rest.find("</").unwrap()
                    } else {
                        rest.find('<').unwrap_or(rest.len())
                    };
                    let ok = stack.iter().all(|&(_, skipped)| !skipped);
                    linkable[i..i + len].fill(ok);
                    i += len;
                }
            }
            assert!(stack.is_empty(), "generated HTML is balanced");
            linkable
        }

        /// The index of the `>` ending the start tag `tag` begins with (quotes respected).
        fn tag_end(tag: &str) -> usize {
            let mut quote = None;
            for (i, c) in tag.char_indices() {
                match (quote, c) {
                    (None, '"' | '\'') => quote = Some(c),
                    (Some(q), c) if c == q => quote = None,
                    (None, '>') => return i,
                    _ => {}
                }
            }
            panic!("unterminated tag {tag:?}")
        }

        /// Whether `rest`, following "VMware", completes "VMware Orchestrator" as a whole word.
        fn continues_as_orchestrator(mut rest: &str) -> bool {
            let mut spaced = false;
            loop {
                if let Some(after) = rest.strip_prefix("&nbsp;") {
                    rest = after;
                } else if let Some(after) = rest.strip_prefix(char::is_whitespace) {
                    rest = after;
                } else {
                    break;
                }
                spaced = true;
            }
            let word = rest
                .get(..12)
                .is_some_and(|w| w.eq_ignore_ascii_case("orchestrator"));
            // `&`: an entity may be a letter; the checker does not decode it.
            let glued = rest.get(12..).is_some_and(|r| {
                r.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '&')
            });
            spaced && word && !glued
        }

        fn checked_apply(html: &str) -> (String, Vec<Link>) {
            let output = linker().apply(html).unwrap();
            let (input, links) = strip_links(&output);
            assert_eq!(input, html, "only links were added");
            let mut seen = [false; LINKS.len()];
            for link in &links {
                assert!(
                    !seen[link.keyword],
                    "{} linked twice in {output}",
                    LINKS[link.keyword].0
                );
                seen[link.keyword] = true;
                let folded = link
                    .text
                    .replace("&amp;", "&")
                    .replace("&nbsp;", " ")
                    .to_lowercase();
                let folded = folded.split_whitespace().collect::<Vec<_>>().join(" ");
                assert_eq!(
                    folded,
                    LINKS[link.keyword].0.to_lowercase(),
                    "linked text of {link:?}"
                );
            }
            (output, links)
        }

        /// Keywords, near misses, entities, punctuation; letters in random case (not inside
        /// entities, whose names are case-sensitive).
        fn words() -> impl Strategy<Value = String> {
            let keyword = select(vec![
                "Kubernetes",
                "VMware",
                "VMware Orchestrator",
                "VMware&nbsp;Orchestrator",
                "Java",
                "JavaScript",
                "C++",
                ".NET",
                "AT&amp;T",
                "AT&T",
            ]);
            let other = select(vec![
                "Javanese",
                "ASP.NET",
                "R&amp;D",
                "Kuber",
                "netes",
                "Orchestrator",
                "&lt;",
                "&gt;",
                "&amp;",
                "&nbsp;",
                "&eacute;",
                "é",
                "_",
                "42",
                "x",
                "\n",
                ",",
                ".",
                "(",
                ")",
                "!",
                ":",
                "'",
            ]);
            let word = prop_oneof![2 => keyword, 3 => other];
            (word, any::<u32>()).prop_map(|(word, case)| {
                let mut in_entity = false;
                let scramble = |(i, c): (usize, char)| {
                    in_entity = (in_entity || c == '&') && c != ';';
                    match case >> (i % 32) & 1 {
                        _ if in_entity => c,
                        1 => c.to_ascii_uppercase(),
                        _ => c.to_ascii_lowercase(),
                    }
                };
                word.chars().enumerate().map(scramble).collect::<String>()
            })
        }

        fn text() -> impl Strategy<Value = String> {
            let separator = select(vec!["", " ", " ", " ", ", ", ". ", "\n"]);
            prop::collection::vec((words(), separator), 0..8).prop_map(|words| {
                words
                    .into_iter()
                    .flat_map(|(w, s)| [w, s.to_owned()])
                    .collect()
            })
        }

        fn attributes() -> impl Strategy<Value = String> {
            let name = select(vec!["class", "title", "alt", "data-x", "data-autolink"]);
            let value = prop_oneof![
                Just("off".to_owned()),
                Just("on".to_owned()),
                text().prop_map(|t| t.replace('"', "&quot;"))
            ];
            let attributes = prop_oneof![Just(0), 0..3usize].prop_flat_map(move |n| {
                prop::collection::btree_map(name.clone(), value.clone(), n)
            });
            attributes.prop_map(|attributes| {
                attributes
                    .into_iter()
                    .map(|(name, value)| format!(" {name}=\"{value}\""))
                    .collect()
            })
        }

        fn element(name: &'static str, attributes: String, children: Vec<String>) -> String {
            format!("<{name}{attributes}>{}</{name}>", children.concat())
        }

        /// Text, `<br>` and `<img>`.
        fn leaf() -> BoxedStrategy<String> {
            prop_oneof![
                6 => text(),
                1 => attributes().prop_map(|a| format!("<br{a}>")),
                1 => attributes().prop_map(|a| format!("<img{a}>")),
            ]
            .boxed()
        }

        /// Phrasing content; never an `<a>` inside an `<a>`, so a browser builds the same tree.
        fn phrasing(depth: u32) -> BoxedStrategy<String> {
            if depth == 0 {
                return leaf();
            }
            let inner = prop::collection::vec(phrasing(depth - 1), 1..4);
            let span = (select(vec!["span", "b"]), attributes(), inner.clone())
                .prop_map(|(name, a, children)| element(name, a, children));
            let link = (attributes(), prop::collection::vec(leaf(), 1..3))
                .prop_map(|(a, children)| element("a", format!(" href=\"/local\"{a}"), children));
            prop_oneof![
                3 => leaf(),
                1 => span,
                1 => link,
                1 => (attributes(), inner).prop_map(|(a, children)| element("code", a, children)),
                1 => text().prop_map(|t| format!("<script>{t}</script>")),
            ]
            .boxed()
        }

        /// Flow content: blocks holding phrasing or more blocks.
        fn flow(depth: u32) -> BoxedStrategy<String> {
            if depth == 0 {
                return phrasing(1);
            }
            let phrasings = prop::collection::vec(phrasing(depth), 1..4);
            let flows = prop::collection::vec(flow(depth - 1), 1..4);
            let list = (
                attributes(),
                prop::collection::vec((attributes(), flows.clone()), 0..3),
            )
                .prop_map(|(a, items)| {
                    let items = items
                        .into_iter()
                        .map(|(a, children)| element("li", a, children));
                    element("ul", a, items.collect())
                });
            prop_oneof![
                2 => phrasing(depth),
                2 => (attributes(), phrasings.clone()).prop_map(|(a, c)| element("p", a, c)),
                1 => (attributes(), phrasings).prop_map(|(a, c)| element("pre", a, c)),
                2 => (attributes(), flows).prop_map(|(a, c)| element("div", a, c)),
                1 => list,
                1 => text().prop_map(|t| format!("<style>{t}</style>")),
            ]
            .boxed()
        }

        fn document() -> impl Strategy<Value = String> {
            prop::collection::vec(flow(3), 1..6).prop_map(|blocks| blocks.join("\n"))
        }

        /// Tag soup: unbalanced, unclosed and broken markup.
        fn soup() -> impl Strategy<Value = String> {
            let token = prop_oneof![
                2 => words(),
                1 => select(vec![
                    "<p>", "</p>", "<a href=\"/x\">", "</a>", "<code>", "</code>", "<pre>",
                    "</pre>", "<script>", "</script>", "<style>", "</style>", "<b>", "</b>",
                    "<br>", "<img alt=\"Kubernetes\">", "<div data-autolink=\"off\">", "</div>",
                    "<!--", "-->", "<", ">", "&", "\"", "<![CDATA[", "]]>", "<svg>", "</svg>",
                    "<textarea>", "</textarea>", "<title>", "</title>", "<li>", "<ul>",
                ]).prop_map(str::to_owned),
            ];
            prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
        }

        fn config() -> ProptestConfig {
            // No regression files next to the source; a failure prints its minimal input.
            ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn only_links_are_added_and_only_where_allowed(html in document()) {
                let (output, links) = checked_apply(&html);
                let linkable = linkable_bytes(&html);
                for link in &links {
                    let span = link.at..link.at + link.text.len();
                    let allowed = linkable[span.clone()].iter().all(|&ok| ok);
                    prop_assert!(allowed, "{link:?} in a skipped place: {output}");
                    let (keyword, _, _) = LINKS[link.keyword];
                    let before = html[..span.start].chars().next_back();
                    let after = html[span.end..].chars().next();
                    if keyword.starts_with(char::is_alphanumeric) {
                        let glued = before.is_some_and(char::is_alphanumeric);
                        prop_assert!(!glued, "{link:?} glued on the left: {output}");
                    }
                    if keyword.ends_with(char::is_alphanumeric) {
                        let glued = after.is_some_and(char::is_alphanumeric);
                        prop_assert!(!glued, "{link:?} glued on the right: {output}");
                    }
                    if keyword == "VMware" {
                        let inside = continues_as_orchestrator(&html[span.end..]);
                        prop_assert!(!inside, "{link:?} inside VMware Orchestrator: {output}");
                    }
                }
            }

            #[test]
            fn tag_soup_keeps_every_byte(html in soup(), piece_len in 1usize..64) {
                let (output, _) = checked_apply(&html);
                prop_assert_eq!(linker().rewrite(&html, piece_len).unwrap(), output);
            }
        }
    }
}
