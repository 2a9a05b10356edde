//! Records the git revision in the binary (`HEARTH_GIT_REVISION` overrides it, for
//! builds from a source tarball or inside a container without `.git`), and prepares the
//! Swagger UI files the API's docs page needs, gzip-compressed once here.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

/// The files of Swagger UI's `dist` folder that `/api/v1/docs` serves; the rest of the
/// distribution (other bundles, source maps) is not needed and stays out of the binary.
const SWAGGER_FILES: [&str; 2] = ["swagger-ui-bundle.js", "swagger-ui.css"];

fn main() {
    swagger_ui();
    println!("cargo:rerun-if-env-changed=HEARTH_GIT_REVISION");
    let revision = std::env::var("HEARTH_GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HEARTH_REVISION={revision}");

    // Rebuild when HEAD moves; only existing paths, or cargo would rebuild every time.
    let head = Path::new(".git/HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Ok(text) = std::fs::read_to_string(head)
            && let Some(reference) = text.trim().strip_prefix("ref: ")
        {
            let path = Path::new(".git").join(reference);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        if Path::new(".git/packed-refs").exists() {
            println!("cargo:rerun-if-changed=.git/packed-refs");
        }
    }
}

fn git_revision() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    let rev = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !rev.is_empty()).then_some(rev)
}

/// Writes `$OUT_DIR/<file>.gz` for each of [`SWAGGER_FILES`], from the Swagger UI release
/// the `utoipa-swagger-ui-vendored` crate carries (nothing is downloaded).
fn swagger_ui() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let zip = std::io::Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED);
    let mut archive = zip::ZipArchive::new(zip).expect("the vendored Swagger UI is a zip file");
    for file in SWAGGER_FILES {
        let suffix = format!("/dist/{file}");
        let name = archive
            .file_names()
            .filter_map(Result::ok)
            .find(|name| name.ends_with(&suffix) && name.matches('/').count() == 2)
            .map(|name| name.into_owned())
            .unwrap_or_else(|| panic!("the vendored Swagger UI has no dist/{file}"));
        let mut bytes = Vec::new();
        archive
            .by_name(&name)
            .and_then(|mut entry| Ok(entry.read_to_end(&mut bytes)?))
            .unwrap_or_else(|e| panic!("reading {name} from the vendored Swagger UI: {e}"));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("compressing in memory");
        let gz = encoder.finish().expect("compressing in memory");
        std::fs::write(Path::new(&out).join(format!("{file}.gz")), gz)
            .unwrap_or_else(|e| panic!("writing {file}.gz to OUT_DIR: {e}"));
    }
}
