//! The config compiler's front: TOML file → validated model → compiled [`Table`].
//!
//! Three forms, kept apart: the file as read ([`reader`], spans and TOML types), the validated model
//! ([`model`], built by [`validate`] with every error collected in one pass), and the flat table
//! ([`compile`]). Errors are [`Diagnostic`]s with file, line, column and a hint.

pub mod compile;
pub mod diagnostic;
pub mod log_format;
pub mod mapping_expr;
pub mod model;
pub mod reader;
pub mod uri;
pub mod validate;

use std::path::Path;

pub use diagnostic::Diagnostic;

use crate::table::Table;

/// Compiles the config text `src` read from `file`; on failure, every error found, in file order.
pub fn compile_str(file: &str, src: &str) -> Result<Table, Vec<Diagnostic>> {
    let (model, mut errors) = validate::validate(file, src)?;
    // The compiler runs on what validated, so its errors come in the same pass.
    match compile::compile(file, src, &model) {
        Ok(table) if errors.is_empty() => return Ok(table),
        Ok(_) => {}
        Err(more) => errors.extend(more),
    }
    errors.sort_by_key(|e| (e.line, e.column));
    errors.dedup_by(|a, b| a.line == b.line && a.column == b.column && a.message == b.message);
    Err(errors)
}

/// Reads and compiles a config file.
pub fn compile_file(path: &Path) -> Result<Table, Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(src) => compile_str(&file, &src),
        Err(e) => Err(vec![Diagnostic::whole_file(&file, format!("cannot read the config: {e}"))]),
    }
}

#[cfg(test)]
mod tests;
