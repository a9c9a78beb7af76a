//! A compiled template: the tree the parser builds and the renderer walks. Plain data,
//! `Send + Sync`, built once at config load; every variable name is resolved to a slot so a
//! render looks nothing up by name.
//!
//! Owns: node shapes. Must not: evaluate anything.

/// A variable's index in the render's slot table.
pub(super) type Slot = u16;

pub(super) type Block = Vec<Node>;

#[derive(Debug)]
pub(super) enum Node {
    /// Text rendered as is (schmoo, comments' leftovers, escapes).
    Text(Box<str>),
    Ref(Box<Ref>),
    Set {
        target: Box<Ref>,
        value: Expr,
        /// Set by `usage::narrow` when the value is `$input.path('$')` and the variable is read
        /// only through these first-level properties: the document's other top-level entries
        /// need not be built.
        only: Option<Box<[Box<str>]>>,
    },
    If {
        branches: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    Foreach {
        var: Slot,
        iterable: Expr,
        body: Block,
        at: u32,
    },
    /// `#break`: leaves the innermost `#foreach`, or the template.
    Break,
    /// `#stop`: ends the render; what was written stays.
    Stop,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum RefKind {
    Normal,
    Quiet,
    Formal,
    /// A name without `$` inside a method's arguments (`$a.b(c)`): prints as written, is null.
    Runt,
}

#[derive(Debug)]
pub(super) struct Ref {
    pub root: Slot,
    pub kind: RefKind,
    /// An odd number of backslashes before the `$`.
    pub escaped: bool,
    /// Half the backslashes before the `$`.
    pub esc_prefix: Box<str>,
    /// What stood between the backslashes and the last `$` (`$$a` → `$`).
    pub more_prefix: Box<str>,
    /// What an escaped or null reference prints as (its literal; empty for `$!a`).
    pub null_string: Box<str>,
    /// False for Velocity's `$\!a` oddity, which is never evaluated.
    pub computable: bool,
    pub mods: Vec<Modifier>,
    /// The reference as written, for `"a" + $nope` and errors.
    pub literal: Box<str>,
    /// Byte offset in the template, for errors.
    pub at: u32,
}

#[derive(Debug)]
pub(super) enum Modifier {
    Property(Box<str>),
    Method(Box<str>, Vec<Expr>),
    Index(Expr),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug)]
pub(super) enum Expr {
    Ref(Box<Ref>),
    /// A single-quoted literal, or a double-quoted one with nothing to interpolate.
    Str(Box<str>),
    /// A double-quoted literal with `$` or `#` in it: a template of its own. The flag says
    /// it had a `##` (Velocity then keeps the space it appends before parsing).
    Interp(Block, bool),
    Int(i32),
    Long(i64),
    /// Too large for a long: kept as written.
    BigInt(Box<str>),
    Double(f64),
    True,
    False,
    /// A bare word: only `in` in `#foreach`.
    Word(Box<str>),
    Range(Box<Expr>, Box<Expr>),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Binary {
        op: Op,
        left: Box<Expr>,
        right: Box<Expr>,
        left_literal: Box<str>,
        right_literal: Box<str>,
    },
    Not(Box<Expr>),
    /// `( … )`, and the whole condition of `#if`: Velocity's ASTExpression.
    Group(Box<Expr>),
}
