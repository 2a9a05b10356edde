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

use std::ops::Range;
use std::sync::LazyLock;

use typst::diag::{Severity, SourceDiagnostic, SourceResult, Warned};
use typst::foundations::{Bytes, Dict, IntoValue, Smart};
use typst::syntax::FileId;
use typst::text::Font;
use typst::{World, WorldExt};
use typst_as_lib::{TypstAsLibError, TypstEngine};

/// The built-in template's source.
pub const BUILTIN_TEMPLATE: &str = include_str!("resume.typ");

/// Where the template lives in Typst's virtual file system.
const TEMPLATE_PATH: &str = "/resume.typ";
/// Where the résumé document lives, next to the template.
const RESUME_PATH: &str = "/resume.json";

const FONT_FILES: [&[u8]; 3] = [
    include_bytes!("fonts/LibertinusSerif-Regular.otf"),
    include_bytes!("fonts/LibertinusSerif-Bold.otf"),
    include_bytes!("fonts/LibertinusSerif-Italic.otf"),
];

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

/// Pins the document type of `typst::compile` to the one `typst_pdf::pdf`
/// takes, a type none of our direct dependencies re-exports by name.
fn paged<D>(
    _export: fn(&D, &typst_pdf::PdfOptions) -> SourceResult<Vec<u8>>,
    compiled: SourceResult<D>,
) -> SourceResult<D> {
    compiled
}

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

/// The 1-based line and column where `range` starts in the source `id`.
fn line_column(world: &dyn World, id: FileId, range: Range<usize>) -> Option<(usize, usize)> {
    let source = world.source(id).ok()?;
    let (line, column) = source.lines().byte_to_line_column(range.start)?;
    Some((line + 1, column + 1))
}

fn engine_error(err: TypstAsLibError) -> PdfError {
    PdfError::Typst(one_line(&err.to_string()))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

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
