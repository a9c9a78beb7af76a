//! Mapping templates: Apache Velocity 1.7's template language (VTL) as Amazon API Gateway
//! runs it, compiled at config load and rendered per request.
//!
//! The pipeline here is `lex` → `parse` (a tree of [`ast`] nodes with every name resolved to
//! a slot) → `eval` (a walk over that tree). Java's object model lives in `value`, its
//! methods in `methods`, `text` and `regex`; AWS's `$input` and `$util` in `aws`, with
//! `json` and `jsonpath` under them. Behaviour is checked byte for byte against the real
//! Velocity 1.7 (tests/vtl/).
//!
//! Owns: templates. Must not: know HTTP or the gateway's tables; the caller turns a
//! request into a [`Request`] of plain values. Costs: compile once; a render allocates its
//! slot table and whatever values the template builds, and writes into the caller's buffer.

mod ast;
mod aws;
mod eval;
mod json;
mod jsonpath;
mod lex;
mod methods;
mod parse;
mod regex;
mod text;
mod usage;
mod value;

pub use parse::SyntaxError;
pub use usage::Usage;
pub use value::{ListKind, Str, Value};

/// AWS's limits, which the operator may raise.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `#foreach` iterations per loop (AWS: 1,000; the loop stops silently, as Velocity's
    /// `directive.foreach.maxloops` does).
    pub max_foreach: usize,
    /// Items a range literal may make (`[1..n]`), a guard AWS does not document.
    pub max_range: usize,
    /// Bytes a render may write, and the longest string it may build (AWS's payload limit
    /// is 10 MB): `#set($s = "$s$s")` in a loop doubles a string each time.
    pub max_output: usize,
    /// Nodes a render may execute: nested `#foreach` loops multiply.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_foreach: 1000, max_range: 100_000, max_output: 10 * 1024 * 1024, max_steps: 1_000_000 }
    }
}

/// The largest template AWS accepts, in bytes.
pub const AWS_MAX_TEMPLATE: usize = 300 * 1024;

/// A compiled template.
#[derive(Debug)]
pub struct Template {
    root: ast::Block,
    slots: usize,
    /// True when the template is text only: rendering copies it.
    plain: Option<Box<str>>,
    usage: Usage,
}

/// What a template sees of the request.
pub struct Request<'a> {
    /// `$input.body`, and the document `$input.path`/`$input.json` read.
    pub body: &'a str,
    /// `$input.params()`: a map of `path`, `querystring` and `header` maps, or a lookup.
    pub params: Params<'a>,
    pub context: Value<'a>,
    pub stage_variables: Value<'a>,
}

/// `$input.params`: the whole map, or — for a template whose every call names its parameter by
/// a literal ([`Usage::param_names`]) — a lookup by name, so a render builds no map at all.
pub enum Params<'a> {
    /// `{path: {…}, querystring: {…}, header: {…}}`.
    Map(Value<'a>),
    /// What `$input.params(name)` returns (an empty string when no family has it); the whole
    /// map (`$input.params()`) is empty then.
    Lookup(&'a dyn ParamLookup<'a>),
}

impl<'a> From<Value<'a>> for Params<'a> {
    fn from(map: Value<'a>) -> Self {
        Params::Map(map)
    }
}

/// `$input.params(name)` answered by the caller: the path, then the query string, then the
/// headers (names compared case-insensitively).
pub trait ParamLookup<'a> {
    fn param(&self, name: &str) -> Value<'a>;
}

/// A render that failed where Java would have thrown (a bad index, a null argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Byte offset in the template of the reference that failed.
    pub at: usize,
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Template {
    pub fn compile(source: &str) -> Result<Template, SyntaxError> {
        let mut names = parse::Names::new();
        let mut root = parse::Parser::new(source, &mut names, 0).template()?;
        usage::narrow(&mut root);
        let plain = match root.as_slice() {
            [] => Some("".into()),
            [ast::Node::Text(t)] => Some(t.clone()),
            _ => None,
        };
        let usage = usage::of(&root);
        Ok(Template { root, slots: names.len(), plain, usage })
    }

    /// What the template reads of `$context` and `$input.params`: the caller builds only that.
    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    /// Renders into `out` (appending). On error, `out` holds what was written before it.
    pub fn render<'a>(&'a self, req: Request<'a>, limits: &Limits, out: &mut String) -> Result<(), RenderError> {
        if let Some(text) = &self.plain {
            out.push_str(text);
            return Ok(());
        }
        eval::render(self, req, *limits, out)
    }
}

/// The 1-based line and column (in chars) of byte offset `at` in `source`.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let at = text::floor_char(source, at.min(source.len()));
    let before = &source[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
