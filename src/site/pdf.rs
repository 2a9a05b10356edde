//! The résumé as a PDF, typeset by Typst used as a library.
//!
//! [`render`] compiles a Typst template — the built-in [`BUILTIN_TEMPLATE`] or
//! the user's `templates/resume.typ` — against a JSON Resume document and
//! exports the result to PDF. The template reads the document as the virtual
//! file `resume.json` (`json("resume.json")`) and the options as `sys.inputs`
//! (see the header of `resume.typ` for the exact contract). Nothing else is
//! visible to it: no file system, no packages, and only the vendored
//! Libertinus Serif fonts.
//!
//! The output is deterministic: the PDF carries no creation date and its
//! identifier is derived from the web address (or the title), so the same
//! input always gives the same bytes.

#[cfg(feature = "pdf")]
use std::ops::Range;
#[cfg(feature = "pdf")]
use std::sync::LazyLock;

#[cfg(feature = "pdf")]
use typst::diag::{Severity, SourceDiagnostic, SourceResult, Warned};
#[cfg(feature = "pdf")]
use typst::foundations::{Bytes, Dict, IntoValue, Smart};
#[cfg(feature = "pdf")]
use typst::syntax::FileId;
#[cfg(feature = "pdf")]
use typst::text::Font;
#[cfg(feature = "pdf")]
use typst::{World, WorldExt};
#[cfg(feature = "pdf")]
use typst_as_lib::{TypstAsLibError, TypstEngine};

/// The built-in template's source.
pub const BUILTIN_TEMPLATE: &str = include_str!("resume.typ");

#[cfg(feature = "pdf")]
/// Where the template lives in Typst's virtual file system.
const TEMPLATE_PATH: &str = "/resume.typ";
#[cfg(feature = "pdf")]
/// Where the résumé document lives, next to the template.
const RESUME_PATH: &str = "/resume.json";

#[cfg(feature = "pdf")]
const FONT_FILES: [&[u8]; 3] = [
    include_bytes!("fonts/LibertinusSerif-Regular.otf"),
    include_bytes!("fonts/LibertinusSerif-Bold.otf"),
    include_bytes!("fonts/LibertinusSerif-Italic.otf"),
];

#[cfg(feature = "pdf")]
/// The vendored fonts, parsed once: they are immutable and `Font` clones are cheap.
static FONTS: LazyLock<Vec<Font>> = LazyLock::new(|| {
    FONT_FILES
        .into_iter()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect()
});

/// Paper sizes `site.toml` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    /// ISO A4, 210 × 297 mm.
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl Paper {
    /// The name Typst's `page(paper: ..)` knows this size by.
    pub fn typst_name(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Letter => "us-letter",
        }
    }
}

/// What [`render`] needs besides the template and the résumé.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfOptions<'a> {
    /// The paper size.
    pub paper: Paper,
    /// The address of the HTML résumé; the built-in template links back to it.
    pub web_url: Option<&'a str>,
    /// The site's title: the PDF's title, unless the template sets its own.
    pub title: &'a str,
    /// The PDF's author, unless the template sets its own; defaults to the
    /// résumé's `basics.name`.
    pub author: Option<&'a str>,
    /// The theme's accent colour (`#rrggbb`), readable on white.
    pub accent: Option<&'a str>,
}

/// Why a PDF could not be made. Each message is a single line.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The template failed to compile or to run, at a known place in the
    /// template (1-based line and column, in characters).
    #[error("{line}:{column}: {message}")]
    Template {
        /// The 1-based line in the template source.
        line: usize,
        /// The 1-based column, in characters.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// Typst failed somewhere that cannot be pinned to a place in the template.
    #[error("{0}")]
    Typst(String),
    /// The résumé document is not something a template can read.
    #[error("invalid résumé: {0}")]
    Resume(String),
}

/// Renders `resume` (a JSON Resume document) with `template` (Typst source).
///
/// Same arguments, same bytes.
#[cfg(feature = "pdf")]
pub fn render(
    template: &str,
    resume: &serde_json::Value,
    options: &PdfOptions,
) -> Result<Vec<u8>, PdfError> {
    let Some(object) = resume.as_object() else {
        return Err(PdfError::Resume(format!(
            "the document must be a JSON object, not {}",
            json_kind(resume)
        )));
    };
    let data = serde_json::to_vec(resume).map_err(|err| PdfError::Resume(err.to_string()))?;
    let author = options.author.map(str::to_owned).or_else(|| {
        object
            .get("basics")
            .and_then(|basics| basics.get("name"))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
    });

    let mut inputs = Dict::new();
    inputs.insert("paper".into(), options.paper.typst_name().into_value());
    inputs.insert("title".into(), options.title.into_value());
    if let Some(web_url) = options.web_url {
        inputs.insert("web_url".into(), web_url.into_value());
    }
    if let Some(author) = &author {
        inputs.insert("author".into(), author.as_str().into_value());
    }
    if let Some(accent) = options.accent {
        inputs.insert("accent".into(), accent.into_value());
    }

    let engine = TypstEngine::builder()
        .main_file((TEMPLATE_PATH, template))
        .fonts(FONTS.iter().cloned())
        .with_static_file_resolver([(RESUME_PATH, data)])
        .build();
    let world = engine
        .world_builder()
        .with_inputs(inputs)
        .build()
        .map_err(engine_error)?;
    let result = compile_and_export(&world, options, author.as_deref());
    // Memoised results are keyed by the template and data of this render;
    // dropping them keeps a long-running server's memory flat.
    typst::comemo::evict(0);
    result
}

#[cfg(feature = "pdf")]
fn compile_and_export(
    world: &dyn World,
    options: &PdfOptions,
    author: Option<&str>,
) -> Result<Vec<u8>, PdfError> {
    let Warned { output, .. } = typst::compile(world);
    let mut document = paged(typst_pdf::pdf, output).map_err(|d| diagnostic_error(world, &d))?;

    let info = document.info_mut();
    if info.title.is_none() {
        info.title = Some(options.title.into());
    }
    if info.author.is_empty()
        && let Some(author) = author
    {
        info.author = vec![author.into()];
    }

    let pdf_options = typst_pdf::PdfOptions {
        ident: Smart::Custom(format!(
            "hearth-resume:{}",
            options.web_url.unwrap_or(options.title)
        )),
        timestamp: None,
        ..typst_pdf::PdfOptions::default()
    };
    typst_pdf::pdf(&document, &pdf_options).map_err(|d| diagnostic_error(world, &d))
}

#[cfg(feature = "pdf")]
/// Pins the document type of `typst::compile` to the one `typst_pdf::pdf`
/// takes, a type none of our direct dependencies re-exports by name.
fn paged<D>(
    _export: fn(&D, &typst_pdf::PdfOptions) -> SourceResult<Vec<u8>>,
    compiled: SourceResult<D>,
) -> SourceResult<D> {
    compiled
}

#[cfg(feature = "pdf")]
/// Turns Typst's diagnostics into one error: the first error, placed at its
/// own position in the template or, failing that, at the template line that
/// led to it.
fn diagnostic_error(world: &dyn World, diagnostics: &[SourceDiagnostic]) -> PdfError {
    let Some(first) = diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .or(diagnostics.first())
    else {
        return PdfError::Typst("Typst failed without saying why".into());
    };
    let mut message = first.message.to_string();
    for hint in &first.hints {
        message.push_str(" (hint: ");
        message.push_str(&hint.v);
        message.push(')');
    }
    let message = one_line(&message);

    let main = world.main();
    let place = std::iter::once(first.span)
        .chain(first.trace.iter().map(|point| point.span.into()))
        .filter(|span| span.id() == Some(main))
        .find_map(|span| world.range(span))
        .and_then(|range| line_column(world, main, range));
    match place {
        Some((line, column)) => PdfError::Template {
            line,
            column,
            message,
        },
        None => PdfError::Typst(message),
    }
}

#[cfg(feature = "pdf")]
/// The 1-based line and column where `range` starts in the source `id`.
fn line_column(world: &dyn World, id: FileId, range: Range<usize>) -> Option<(usize, usize)> {
    let source = world.source(id).ok()?;
    let (line, column) = source.lines().byte_to_line_column(range.start)?;
    Some((line + 1, column + 1))
}

#[cfg(feature = "pdf")]
fn engine_error(err: TypstAsLibError) -> PdfError {
    PdfError::Typst(one_line(&err.to_string()))
}

#[cfg(feature = "pdf")]
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(feature = "pdf")]
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(all(test, feature = "pdf"))]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const FULL: &str = include_str!("../../tests/fixtures/resume-full.json");
    const MINIMAL: &str = include_str!("../../tests/fixtures/resume-minimal.json");
    const DEMO: &str = include_str!("../../examples/site/resume.json");
    const WEB_URL: &str = "https://zoe.example.org/resume/";

    const SECTION_HEADINGS: [&str; 11] = [
        "Experience",
        "Projects",
        "Volunteering",
        "Education",
        "Skills",
        "Languages",
        "Certificates",
        "Awards",
        "Publications",
        "Interests",
        "References",
    ];

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).expect("fixture is valid JSON")
    }

    fn options(paper: Paper) -> PdfOptions<'static> {
        PdfOptions {
            paper,
            web_url: Some(WEB_URL),
            title: "Zoë's <site> & \"co\"",
            author: None,
            accent: None,
        }
    }

    fn builtin(json: &str, paper: Paper) -> Vec<u8> {
        render(BUILTIN_TEMPLATE, &parse(json), &options(paper))
            .unwrap_or_else(|err| panic!("built-in template failed: {err}"))
    }

    /// A PDF written to a unique temporary file, removed on drop.
    struct PdfFile(PathBuf);

    impl PdfFile {
        fn new(bytes: &[u8]) -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "hearth-pdf-test-{}-{}.pdf",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::write(&path, bytes).expect("write the PDF to a temporary file");
            Self(path)
        }
    }

    impl Drop for PdfFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Runs a poppler tool as `program [args] file.pdf [trailing]`; fails
    /// the test, rather than skipping it, when the tool is missing.
    fn poppler(program: &str, args: &[&str], pdf: &[u8], trailing: &[&str]) -> String {
        let file = PdfFile::new(pdf);
        let output = Command::new(program)
            .args(args)
            .arg(&file.0)
            .args(trailing)
            .output()
            .unwrap_or_else(|err| {
                panic!("cannot run `{program}` (install poppler-utils to run this test): {err}")
            });
        assert!(
            output.status.success(),
            "`{program}` failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("poppler prints UTF-8")
    }

    /// The PDF's text in content order, one space between words. Typst may
    /// break a line after a hyphen, which pdftotext leaves at the line's end.
    fn text_of(pdf: &[u8]) -> String {
        let raw = poppler("pdftotext", &["-raw", "-enc", "UTF-8"], pdf, &["-"]);
        normalise(&raw.replace("-\n", "-"))
    }

    fn normalise(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn info(pdf: &[u8], key: &str) -> String {
        let out = poppler("pdfinfo", &["-enc", "UTF-8"], pdf, &[]);
        out.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("pdfinfo shows no {key}:\n{out}"))
            .trim()
            .to_owned()
    }

    fn pages(pdf: &[u8]) -> usize {
        info(pdf, "Pages").parse().expect("a page count")
    }

    /// The part of a fixture string this test can expect pdftotext to give
    /// back verbatim: up to the first character of a script the vendored
    /// fonts lack (CJK, Arabic, emoji) or that bidi reordering may move
    /// (Hebrew).
    fn latin_prefix(text: &str) -> String {
        let prefix: String = text
            .chars()
            .take_while(|&c| c < '\u{0590}' || matches!(c, '–' | '—' | '→' | '·'))
            .collect();
        normalise(prefix.trim_end_matches([' ', '—']))
    }

    /// Every string of the fixture the template displays as is; links,
    /// dates and ignored fields are checked separately.
    fn displayed_strings(value: &Value, out: &mut Vec<String>) {
        const NOT_VERBATIM: [&str; 9] = [
            "$schema",
            "meta",
            "image",
            "url",
            "startDate",
            "endDate",
            "date",
            "releaseDate",
            "countryCode",
        ];
        match value {
            Value::String(s) => out.push(latin_prefix(s)),
            Value::Array(items) => items.iter().for_each(|v| displayed_strings(v, out)),
            Value::Object(map) => {
                for (key, v) in map {
                    if !key.starts_with("x-") && !NOT_VERBATIM.contains(&key.as_str()) {
                        displayed_strings(v, out);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn full_fixture_shows_every_field_literally() {
        let text = text_of(&builtin(FULL, Paper::A4));
        let mut expected = Vec::new();
        displayed_strings(&parse(FULL), &mut expected);
        assert!(expected.len() > 60, "the walk found too few strings");
        let missing: Vec<_> = expected
            .iter()
            .filter(|s| s.chars().count() < 8 || !text.contains(s.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "missing from the PDF: {missing:#?}\n\nPDF text:\n{text}"
        );

        for needle in [
            "Zoë Ŧest-Ōwner <&>",
            "Zq-Chief Yak <Officer> & \"Shaver\" #1 $*_@\\[]`",
            "Zq-Acme <Widgets> & \"Sons\" Ltd. #1 $*_@\\[]`",
            "Zq-Systems <Engineer> & \"Wrangler\" #2 $*_@\\[]`",
            "Zq-Contoso <Hosting> & \"Co\" #2 $*_@\\[]`",
            "Zq-Junior <Intern> & \"Helper\" #3 $*_@\\[]`",
            "Zq-Initech <TPS> & \"Reports\" #3 $*_@\\[]`",
            "Mar 2021 – Present",
            "Sep 2017 – Feb 2021",
            "2015 – 2016",
            "Jan 2019 – Jun 2020",
            "Sep 2012 – Jul 2017",
            "Jan 2022 – Dec 2023",
            "Nov 2020",
            "May 2022",
            "2023",
            "zoe.example.org/~zoë_$cv*?lang=pt&v='1'#top@",
            ", PT",
            "Online version: zoe.example.org/resume",
        ]
        .into_iter()
        .chain(SECTION_HEADINGS)
        {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        for absent in ["Zq-UNKNOWN", "Zq-Version", "photo"] {
            assert!(
                !text.contains(absent),
                "{absent:?} should not be shown:\n{text}"
            );
        }
    }

    #[test]
    fn minimal_fixture_is_one_page_with_the_name_and_no_empty_sections() {
        let pdf = builtin(MINIMAL, Paper::A4);
        assert_eq!(pages(&pdf), 1);
        let text = text_of(&pdf);
        assert!(text.contains("Mina Minimal-Ñandú"), "{text}");
        for heading in SECTION_HEADINGS {
            assert!(
                !text.contains(heading),
                "empty section {heading:?} shown:\n{text}"
            );
        }
    }

    #[test]
    fn absent_empty_and_mistyped_data_is_tolerated() {
        let resume = json!({
            "basics": {
                "name": "Edge Case",
                "label": 42,
                "profiles": "not a list",
                "location": ["not", "an", "object"],
            },
            "work": [],
            "education": [{}],
            "skills": {"name": "not a list"},
            "volunteer": [{"organization": "", "highlights": ["", "  "]}],
            "projects": [{"name": "Only A Name", "highlights": "not a list"}],
            "languages": [null, 3, {"language": "Esperanto", "fluency": null}],
        });
        let pdf = render(BUILTIN_TEMPLATE, &resume, &options(Paper::A4))
            .unwrap_or_else(|err| panic!("{err}"));
        let text = text_of(&pdf);
        for shown in [
            "Edge Case",
            "42",
            "Projects",
            "Only A Name",
            "Languages",
            "Esperanto",
        ] {
            assert!(text.contains(shown), "missing {shown:?} in:\n{text}");
        }
        for hidden in [
            "Experience",
            "Education",
            "Skills",
            "Volunteering",
            "not a list",
        ] {
            assert!(
                !text.contains(hidden),
                "{hidden:?} should not be shown:\n{text}"
            );
        }
    }

    #[test]
    fn every_font_is_embedded_as_a_subset() {
        let out = poppler("pdffonts", &[], &builtin(FULL, Paper::A4), &[]);
        let rows: Vec<_> = out
            .lines()
            .skip(2)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(!rows.is_empty(), "no fonts listed:\n{out}");
        for row in rows {
            // Columns, from the right: emb sub uni object-number generation.
            let cols: Vec<_> = row.split_whitespace().collect();
            let [emb, sub, ..] = cols[cols.len() - 5..] else {
                panic!("unexpected pdffonts row: {row}");
            };
            assert_eq!(
                (emb, sub),
                ("yes", "yes"),
                "font not embedded as a subset: {row}"
            );
            assert!(row.contains("LibertinusSerif"), "unexpected font: {row}");
        }
    }

    #[test]
    fn page_size_follows_the_paper_option() {
        for (paper, expected) in [(Paper::A4, (595, 842)), (Paper::Letter, (612, 792))] {
            let size = info(&builtin(MINIMAL, paper), "Page size");
            let numbers: Vec<f64> = size
                .split_whitespace()
                .filter_map(|word| word.parse().ok())
                .collect();
            let [width, height] = numbers[..] else {
                panic!("unexpected page size: {size}");
            };
            assert_eq!(
                (width.round() as i64, height.round() as i64),
                expected,
                "{paper:?}: {size}"
            );
        }
    }

    #[test]
    fn demo_resume_fits_in_two_pages() {
        for paper in [Paper::A4, Paper::Letter] {
            let count = pages(&builtin(DEMO, paper));
            assert!((1..=2).contains(&count), "{paper:?}: {count} pages");
        }
    }

    #[test]
    fn web_version_contacts_and_profiles_are_links() {
        let out = poppler("pdfinfo", &["-url"], &builtin(FULL, Paper::A4), &[]);
        let urls: Vec<&str> = out
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(2))
            .collect();
        for url in [
            WEB_URL,
            "mailto:zoe_o'test+cv#1$*&`@example.org",
            "https://zoe.example.org/~zoë_$cv*?lang=pt&v='1'#top@",
            "https://github.example.com/zq-user_zoe?tab=repos&x='1'*$#readme@",
            "https://hachyderm.example/@zoe_test",
            "https://acme.example.com/about_us?ref=cv&x='1'*$#team@",
            "https://github.example.com/zq-user_zoe/pg-drill?x=1&y='2'*$#readme@",
        ] {
            assert!(urls.contains(&url), "no link to {url}:\n{out}");
        }

        let without = PdfOptions {
            web_url: None,
            ..options(Paper::A4)
        };
        let pdf = render(BUILTIN_TEMPLATE, &parse(MINIMAL), &without).expect("renders");
        assert!(!text_of(&pdf).contains("Online version"));
    }

    #[test]
    fn title_and_author_metadata_are_set() {
        let pdf = builtin(FULL, Paper::A4);
        assert_eq!(info(&pdf, "Title"), "Zoë's <site> & \"co\"");
        assert_eq!(info(&pdf, "Author"), "Zoë Ŧest-Ōwner <&>");

        // A template that sets no metadata still gets the options' values.
        let bare = PdfOptions {
            author: Some("Someone Else"),
            ..options(Paper::A4)
        };
        let pdf = render("Plain text.", &parse(MINIMAL), &bare).expect("renders");
        assert_eq!(info(&pdf, "Title"), "Zoë's <site> & \"co\"");
        assert_eq!(info(&pdf, "Author"), "Someone Else");
    }

    #[test]
    fn same_input_gives_the_same_bytes() {
        let first = builtin(FULL, Paper::A4);
        // Something else in between, so nothing can come from a cache.
        let other = builtin(DEMO, Paper::Letter);
        let second = builtin(FULL, Paper::A4);
        assert!(first == second, "two renders of the same input differ");
        assert!(first != other);
        let raw = String::from_utf8_lossy(&first);
        for key in ["/CreationDate", "/ModDate"] {
            assert!(!raw.contains(key), "the PDF carries {key}");
        }
    }

    #[test]
    fn template_errors_have_line_and_column() {
        let resume = parse(MINIMAL);
        let cases = [
            (
                "= Title\n\nSome text #nope here\n",
                3,
                12,
                "unknown variable: nope",
            ),
            (
                "#let x = 1\n#let y = (1, 2\nText\n",
                2,
                10,
                "unclosed delimiter",
            ),
            // Columns count characters, not bytes.
            ("Zoë ŧ #nope\n", 1, 8, "unknown variable: nope"),
            (
                "#let f(x) = x.foo\n\n#f(1)\n",
                1,
                15,
                "cannot access fields on type integer",
            ),
            // Only the résumé is readable.
            ("A\n  #read(\"/etc/passwd\")\n", 2, 9, "file not found"),
        ];
        for (template, line, column, message) in cases {
            match render(template, &resume, &options(Paper::A4)) {
                Err(err @ PdfError::Template { .. }) => {
                    let PdfError::Template {
                        line: l,
                        column: c,
                        message: m,
                    } = &err
                    else {
                        unreachable!()
                    };
                    assert_eq!((*l, *c), (line, column), "{template:?}: {err}");
                    assert!(m.starts_with(message), "{template:?}: {err}");
                    let shown = err.to_string();
                    assert!(
                        shown.starts_with(&format!("{line}:{column}: {message}")),
                        "{shown}"
                    );
                    assert!(!shown.contains('\n'), "{shown:?}");
                }
                other => panic!("{template:?}: expected a template error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_resume_that_is_not_an_object_is_a_one_line_error() {
        let err = render(BUILTIN_TEMPLATE, &json!(["a", "list"]), &options(Paper::A4))
            .expect_err("a list is not a résumé");
        assert!(matches!(err, PdfError::Resume(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid résumé: the document must be a JSON object, not an array"
        );
    }

    #[test]
    fn paper_reads_from_site_toml_spelling() {
        assert_eq!(
            serde_json::from_str::<Paper>("\"a4\"").ok(),
            Some(Paper::A4)
        );
        assert_eq!(
            serde_json::from_str::<Paper>("\"letter\"").ok(),
            Some(Paper::Letter)
        );
        assert!(serde_json::from_str::<Paper>("\"A5\"").is_err());
        assert_eq!(Paper::default(), Paper::A4);
    }
}
