//! Rendering access log lines: a stage's compiled format ([`Part`]s) rendered per request into a
//! worker's log buffer, by the one `$context` renderer ([`crate::vars`]). A variable without a
//! value is `-`, as AWS writes it. Allocates nothing.

pub use crate::vars::{Fields, Part, Var};

/// Appends one line (with its `\n`) to `out`.
pub fn render(out: &mut Vec<u8>, parts: &[Part], json: bool, f: &Fields<'_>) {
    let how = if json { crate::vars::Escape::Json } else { crate::vars::Escape::Log };
    crate::vars::render(out, parts, how, b"-", f);
    out.push(b'\n');
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
