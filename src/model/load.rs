//! Loading a scenario: read the file, parse the TOML, compile the baseline, then the strategies.
//!
//! Loading is apart from compiling so that the dependency goes one way: strategies compile edited
//! copies of the scenario, and nothing in the compiler needs to know about strategies.

use std::path::Path;

use super::compile::compile;
use super::strategies::{compile_strategies, Study};
use crate::diag::{Diagnostic, Diagnostics, SourceFile};
use crate::scenario::{self, RawScenario};

/// A loaded scenario: the baseline and every strategy compiled, plus warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub study: Study,
    pub raw: RawScenario,
    pub source: SourceFile,
    pub warnings: Vec<Diagnostic>,
}

/// Read, parse and compile a scenario file.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let src = SourceFile::new(path, String::new());
                let d = Diagnostic::error(
                    &src,
                    0..0,
                    "",
                    format!(
                        "the file is not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                )
                .with_hint("save the scenario as UTF-8");
                return Err(Diagnostics(vec![d]));
            }
        },
        Err(e) => {
            let src = SourceFile::new(path, String::new());
            let d = Diagnostic::error(&src, 0..0, "", format!("cannot read the scenario: {e}"))
                .with_hint("check the path; `supplyshock init` writes a starter scenario");
            return Err(Diagnostics(vec![d]));
        }
    };
    load_str(path, text)
}

/// Parse and compile scenario text; `path` is used in messages only.
pub fn load_str(path: impl AsRef<Path>, text: String) -> Result<Loaded, Diagnostics> {
    let source = SourceFile::new(path.as_ref(), text);
    let raw = scenario::parse(&source).map_err(Diagnostics)?;
    let (baseline, mut diags) = compile(&raw, &source, "");
    let strategies = compile_strategies(&raw, &source, baseline.as_ref(), &mut diags);
    let expects = match &baseline {
        Some(b) => super::expect::compile_expects(&raw, &source, b, &strategies, &mut diags),
        None => Vec::new(),
    };
    if diags.iter().any(Diagnostic::is_error) {
        diags.sort_by_key(|d| (d.line, d.column));
        return Err(Diagnostics(diags));
    }
    let baseline = baseline.expect("no errors means a model");
    Ok(Loaded {
        study: Study {
            baseline,
            strategies,
            expects,
        },
        raw,
        source,
        warnings: diags,
    })
}
