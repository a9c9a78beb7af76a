//! The VTL parser: Velocity 1.7's grammar (`Parser.jjt`'s productions), recursive descent over
//! [`lex::Lexer`], with its lookaheads and the two lexer-state changes the grammar makes. It
//! builds [`ast`] nodes, resolving variable names to slots, parsing interpolated string
//! literals as templates of their own (as Velocity does at init), and folding each node's
//! init-time work (a reference's escapes and prefixes, a text token's special text).
//!
//! Owns: the grammar and compile errors. Must not: evaluate. Costs: once per template.

use std::collections::VecDeque;

use super::ast::{Block, Expr, Modifier, Node, Op, Ref, RefKind, Slot};
use super::lex::{Kind, Lexer, State, Token};

/// A template that does not parse: what and where (a byte offset in the template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: usize,
    pub message: String,
}

/// The slot table: every name a template uses, the predefined ones first.
#[derive(Debug, Default)]
pub(super) struct Names {
    names: Vec<Box<str>>,
}

pub(super) const INPUT: Slot = 0;
pub(super) const UTIL: Slot = 1;
pub(super) const CONTEXT: Slot = 2;
pub(super) const STAGE_VARIABLES: Slot = 3;
pub(super) const FOREACH: Slot = 4;
pub(super) const VELOCITY_COUNT: Slot = 5;
pub(super) const VELOCITY_HAS_NEXT: Slot = 6;
/// The first slot a template's own variables get.
pub(super) const FIRST_USER_SLOT: Slot = 7;
const PREDEFINED: [&str; 7] =
    ["input", "util", "context", "stageVariables", "foreach", "velocityCount", "velocityHasNext"];

impl Names {
    pub fn new() -> Self {
        Names { names: PREDEFINED.iter().map(|&n| n.into()).collect() }
    }

    pub fn slot(&mut self, name: &str) -> Result<Slot, String> {
        if let Some(i) = self.names.iter().position(|n| &**n == name) {
            return Ok(i as Slot);
        }
        let i = Slot::try_from(self.names.len()).map_err(|_| "too many variables".to_string())?;
        self.names.push(name.into());
        Ok(i)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// Velocity's runtime directives (`directive.properties`): the names `#` escapes and
/// argument checks know.
const DIRECTIVES: [&str; 9] =
    ["foreach", "include", "parse", "macro", "literal", "evaluate", "break", "define", "stop"];

pub(super) struct Parser<'s, 'n> {
    src: &'s str,
    lex: Lexer<'s>,
    buf: VecDeque<Token>,
    names: &'n mut Names,
    /// Where `src` starts in the template the user wrote (non-zero inside string literals).
    base: usize,
    /// The end of the last token consumed.
    last_end: usize,
}

type R<T> = Result<T, SyntaxError>;

impl<'s, 'n> Parser<'s, 'n> {
    pub fn new(src: &'s str, names: &'n mut Names, base: usize) -> Self {
        Parser { src, lex: Lexer::new(src), buf: VecDeque::new(), names, base, last_end: 0 }
    }

    fn err<T>(&self, at: usize, message: impl Into<String>) -> R<T> {
        Err(SyntaxError { at: self.base + at, message: message.into() })
    }

    fn peek(&mut self, n: usize) -> R<&Token> {
        while self.buf.len() <= n {
            match self.lex.next() {
                Ok(t) => self.buf.push_back(t),
                Err(e) => {
                    let c = self.src[e.at.min(self.src.len())..].chars().next();
                    let what = match c {
                        Some(c) => format!("unexpected {c:?}"),
                        None => "unexpected end of template".to_string(),
                    };
                    return self.err(e.at, what);
                }
            }
        }
        Ok(&self.buf[n])
    }

    fn kind(&mut self, n: usize) -> R<Kind> {
        Ok(self.peek(n)?.kind)
    }

    fn bump(&mut self) -> R<Token> {
        self.peek(0)?;
        let t = self.buf.pop_front().expect("peeked");
        self.last_end = t.end;
        Ok(t)
    }

    fn expect(&mut self, kind: Kind, what: &str) -> R<Token> {
        let t = self.peek(0)?.clone();
        if t.kind == kind {
            return self.bump();
        }
        self.unexpected(&t, what)
    }

    fn unexpected<T>(&self, t: &Token, what: &str) -> R<T> {
        let found = if t.kind == Kind::Eof {
            "the end of the template".to_string()
        } else {
            format!("{:?}", &self.src[t.start..t.end])
        };
        self.err(t.start, format!("expected {what}, found {found}"))
    }

    fn optional(&mut self, kind: Kind) -> R<bool> {
        if self.kind(0)? == kind {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn image(&self, t: &Token) -> &'s str {
        &self.src[t.start..t.end]
    }

    /// `process()`: statements up to the end.
    pub fn template(&mut self) -> R<Block> {
        let block = self.statements()?;
        let t = self.peek(0)?.clone();
        if t.kind != Kind::Eof {
            let what = match t.kind {
                Kind::End => "text or a directive (this #end closes nothing)",
                Kind::Else | Kind::ElseIf => "text or a directive (this #else has no #if)",
                _ => "text, a reference or a directive",
            };
            return self.unexpected(&t, what);
        }
        Ok(block)
    }

    fn statements(&mut self) -> R<Block> {
        let mut out = Block::new();
        while let Some(node) = self.statement()? {
            if let Some(node) = node {
                push_node(&mut out, node);
            }
        }
        Ok(out)
    }

    /// One `Statement()`: `None` when the next token starts none; `Some(None)` for one
    /// that renders nothing.
    fn statement(&mut self) -> R<Option<Option<Node>>> {
        use Kind::*;
        let t = self.peek(0)?.clone();
        let node = match t.kind {
            If => Some(self.if_statement()?),
            Identifier => Some(Node::Ref(Box::new(self.reference()?))),
            LCurly if self.kind(1)? == Identifier => Some(Node::Ref(Box::new(self.reference()?))),
            SingleLineCommentStart => {
                self.bump()?;
                self.optional(SingleLineComment)?;
                // ASTComment prints what a MORE prefix put before the `##`
                let image = self.image(&t);
                let before = &image[..image.find("##").unwrap_or(0)];
                (!before.is_empty()).then(|| Node::Text(before.into()))
            }
            MultiLineComment | FormalComment => {
                self.bump()?;
                None
            }
            TextBlock => {
                self.bump()?;
                let image = self.image(&t);
                let inner = image.get(3..image.len().saturating_sub(3)).unwrap_or("");
                Some(Node::Text(inner.into()))
            }
            SetDirective => Some(self.set_directive()?),
            EscapeDirective => {
                self.bump()?;
                Some(Node::Text(escaped_directive(self.image(&t)).into()))
            }
            DoubleEscape => Some(self.escape()?),
            Word | BracketedWord => self.directive()?,
            Text | Dot | RParen | LParen | IntegerLiteral | FloatLiteral | StringLiteral | Escape | LCurly | RCurly
            | EmptyIndex => {
                self.bump()?;
                let mut s = t.special.clone();
                s.push_str(self.image(&t));
                Some(Node::Text(s.into()))
            }
            _ => return Ok(None),
        };
        Ok(Some(node))
    }

    fn escape(&mut self) -> R<Node> {
        let mut count = 0;
        while self.kind(0)? == Kind::DoubleEscape {
            self.bump()?;
            count += 1;
        }
        let next = self.peek(0)?.clone();
        let mut control = matches!(next.kind, Kind::If | Kind::Else | Kind::ElseIf | Kind::End);
        let tag = self.image(&next).get(1..).unwrap_or("");
        if DIRECTIVES.contains(&tag) {
            control = true;
        }
        let one = if control { "\\" } else { "\\\\" };
        Ok(Node::Text(one.repeat(count).into()))
    }

    fn if_statement(&mut self) -> R<Node> {
        self.bump()?;
        let mut branches = Vec::new();
        self.optional(Kind::Whitespace)?;
        self.expect(Kind::LParen, "( after #if")?;
        let cond = self.expression()?;
        self.expect(Kind::RParen, ") closing the #if condition")?;
        let body = self.statements()?;
        branches.push((Expr::Group(Box::new(cond)), body));
        while self.kind(0)? == Kind::ElseIf {
            self.bump()?;
            self.optional(Kind::Whitespace)?;
            self.expect(Kind::LParen, "( after #elseif")?;
            let cond = self.expression()?;
            self.expect(Kind::RParen, ") closing the #elseif condition")?;
            let body = self.statements()?;
            branches.push((Expr::Group(Box::new(cond)), body));
        }
        let otherwise = if self.kind(0)? == Kind::Else {
            self.bump()?;
            Some(self.statements()?)
        } else {
            None
        };
        self.expect(Kind::End, "#end closing the #if")?;
        Ok(Node::If { branches, otherwise })
    }

    fn set_directive(&mut self) -> R<Node> {
        self.bump()?;
        self.optional(Kind::Whitespace)?;
        let t = self.peek(0)?.clone();
        if !(t.kind == Kind::Identifier || t.kind == Kind::LCurly) {
            return self.unexpected(&t, "a reference to set");
        }
        let target = self.reference()?;
        self.optional(Kind::Whitespace)?;
        self.expect(Kind::Equals, "= in #set")?;
        let value = self.expression()?;
        self.expect(Kind::RParen, ") closing the #set")?;
        self.lex.in_set = false;
        self.optional(Kind::Newline)?;
        if target.kind == RefKind::Runt {
            return self.err(t.start, "#set needs a $reference on its left");
        }
        Ok(Node::Set { target: Box::new(target), value, only: None })
    }

    /// `Directive()`: `#foreach`, `#break`, `#stop`, or a name Velocity does not know
    /// (which prints as `#name`, its arguments dropped, as Velocity 1.7 does).
    fn directive(&mut self) -> R<Option<Node>> {
        let t = self.bump()?;
        let image = self.image(&t);
        let name = if t.kind == Kind::BracketedWord { &image[2..image.len() - 1] } else { &image[1..] };
        let known = DIRECTIVES.contains(&name);
        if name.starts_with('@') {
            return self.err(t.start, format!("block macro calls (#{name}) are not supported"));
        }
        if known && !matches!(name, "foreach" | "break" | "stop") {
            return self.err(t.start, format!("#{name} is not supported in mapping templates"));
        }
        self.lex.switch_to(State::Directive);
        let mut args = Vec::new();
        if self.lex.left_parenthesis_follows() {
            self.optional(Kind::Whitespace)?;
            self.expect(Kind::LParen, "(")?;
            while self.arg_follows()? {
                self.optional(Kind::Whitespace)?;
                if self.optional(Kind::Comma)? {
                    self.optional(Kind::Whitespace)?;
                }
                let at = self.peek(0)?.start;
                let arg = self.directive_arg()?;
                if let Expr::Word(w) = &arg
                    && known
                    && !(name == "foreach" && args.len() == 1)
                {
                    return self.err(at, format!("invalid argument {w:?} to #{name}"));
                }
                args.push((at, arg));
            }
            self.optional(Kind::Whitespace)?;
            self.expect(Kind::RParen, ")")?;
        } else {
            self.lex.pop_state();
        }
        match name {
            "foreach" => {
                if args.len() != 3 {
                    return self.err(t.start, "#foreach takes ($item in $list)");
                }
                let mut args = args.into_iter();
                let (at, var) = args.next().expect("3 args");
                let Expr::Ref(var) = var else {
                    return self.err(at, "#foreach needs a $reference to loop with");
                };
                if !var.mods.is_empty() || var.kind == RefKind::Runt {
                    return self.err(at, "#foreach loops with a plain $name");
                }
                let (at, word) = args.next().expect("3 args");
                if !matches!(&word, Expr::Word(w) if &**w == "in") {
                    return self.err(at, "#foreach takes ($item in $list)");
                }
                let (_, iterable) = args.next().expect("3 args");
                let body = self.statements()?;
                self.expect(Kind::End, "#end closing the #foreach")?;
                Ok(Some(Node::Foreach { var: var.root, iterable, body, at: t.start as u32 }))
            }
            "break" | "stop" => {
                if !args.is_empty() {
                    return self.err(t.start, format!("#{name} takes no arguments here"));
                }
                Ok(Some(if name == "break" { Node::Break } else { Node::Stop }))
            }
            // RuntimeMacro: a macro no one defined prints as written, arguments and all
            _ => Ok(Some(Node::Text(self.src[t.start..self.last_end].into()))),
        }
    }

    /// The `LOOKAHEAD(2)` before each directive argument.
    fn arg_follows(&mut self) -> R<bool> {
        let mut i = 0;
        if self.kind(i)? == Kind::Whitespace {
            i += 1;
        }
        if self.kind(i)? == Kind::Comma {
            i += 1;
            if i == 2 {
                return Ok(true);
            }
            if self.kind(i)? == Kind::Whitespace {
                i += 1;
            }
        }
        if i == 2 {
            return Ok(true);
        }
        let k = self.kind(i)?;
        Ok(matches!(
            k,
            Kind::Identifier
                | Kind::LCurly
                | Kind::Word
                | Kind::StringLiteral
                | Kind::IntegerLiteral
                | Kind::LBracket
                | Kind::FloatLiteral
                | Kind::LeftCurley
                | Kind::True
                | Kind::False
        ))
    }

    /// `DirectiveArg()`: a value, or a bare word (`in`).
    fn directive_arg(&mut self) -> R<Expr> {
        let t = self.peek(0)?.clone();
        if t.kind == Kind::Word {
            self.bump()?;
            return Ok(Expr::Word(self.image(&t).into()));
        }
        self.value("a directive argument")
    }

    /// The values `DirectiveArg()`, `Parameter()` and `PrimaryExpression()` share: a string,
    /// a number, a range, a map or list literal, a boolean, a reference.
    fn value(&mut self, what: &str) -> R<Expr> {
        let t = self.peek(0)?.clone();
        Ok(match t.kind {
            Kind::StringLiteral => self.string_literal()?,
            Kind::IntegerLiteral => self.integer_literal()?,
            Kind::LBracket if self.range_follows()? => self.integer_range()?,
            Kind::FloatLiteral => self.float_literal()?,
            Kind::LeftCurley => self.map()?,
            Kind::LBracket => self.object_array()?,
            Kind::True | Kind::False => {
                self.bump()?;
                if t.kind == Kind::True { Expr::True } else { Expr::False }
            }
            Kind::Identifier | Kind::LCurly => Expr::Ref(Box::new(self.reference()?)),
            _ => return self.unexpected(&t, what),
        })
    }

    /// `Reference()`, with ASTReference's init (`getRoot`) folded in.
    fn reference(&mut self) -> R<Ref> {
        let first = self.bump()?;
        let formal = first.kind == Kind::LCurly;
        let ident = if formal { self.expect(Kind::Identifier, "a name after ${")? } else { first.clone() };
        let mut mods = Vec::new();
        self.indexes(&mut mods)?;
        while self.kind(0)? == Kind::Dot && self.kind(1)? == Kind::Identifier {
            self.bump()?;
            let id = self.bump()?;
            let name: Box<str> = self.image(&id).into();
            if self.method_follows()? {
                self.bump()?; // (
                let mut args = Vec::new();
                if self.parameter_follows()? {
                    args.push(self.parameter()?);
                    while self.optional(Kind::Comma)? {
                        args.push(self.parameter()?);
                    }
                }
                self.expect(Kind::RefMod2RParen, ") closing the method call")?;
                mods.push(Modifier::Method(name, args));
            } else {
                mods.push(Modifier::Property(name));
            }
            self.indexes(&mut mods)?;
        }
        if formal {
            self.expect(Kind::RCurly, "} closing ${")?;
        }
        let end = self.last_end;
        self.make_ref(&first, &ident, mods, end)
    }

    fn make_ref(&mut self, first: &Token, ident: &Token, mods: Vec<Modifier>, end: usize) -> R<Ref> {
        let full = self.image(first);
        let rest = &self.src[first.end..end.max(first.end)];
        let mut image = full;
        let mut escaped = false;
        let mut esc_prefix = "";
        let mut more_prefix = "";
        let computable;
        let kind;
        let root_name: &str;
        let mut null_string: String;
        if let Some(_slashbang) = image.find("\\!") {
            // Velocity's `$\!a`: a name that is never looked up, printing as itself
            // less one backslash.
            let i = image.find('$').unwrap_or(0);
            let start = i + image[i..].find('\\').unwrap_or(0);
            let count = image[start..].bytes().take_while(|&c| c == b'\\').count();
            null_string = format!("{}{}{}", &image[..start], &image[start..start + count - 1], &image[start + count..]);
            computable = false;
            kind = RefKind::Normal;
            root_name = "";
        } else {
            computable = true;
            if image.starts_with('\\') {
                let i = image.bytes().take_while(|&c| c == b'\\').count();
                escaped = i % 2 == 1;
                esc_prefix = &image[..i / 2];
                image = &image[i..];
            }
            if let Some(loc) = image.rfind('$').filter(|&l| l > 0) {
                more_prefix = &image[..loc];
                image = &image[loc..];
            }
            null_string = format!("{image}{rest}");
            if let Some(quiet) = image.strip_prefix("$!") {
                kind = RefKind::Quiet;
                if !escaped {
                    null_string.clear();
                }
                root_name = if quiet.starts_with('{') { self.image(ident) } else { quiet };
            } else if image == "${" {
                kind = RefKind::Formal;
                root_name = self.image(ident);
            } else if let Some(name) = image.strip_prefix('$') {
                kind = RefKind::Normal;
                root_name = name;
            } else {
                kind = RefKind::Runt;
                root_name = image;
            }
        }
        let literal: Box<str> = format!("{image}{rest}").into();
        let root = self.names.slot(root_name).map_err(|m| SyntaxError { at: first.start, message: m })?;
        Ok(Ref {
            root,
            kind,
            escaped,
            esc_prefix: esc_prefix.into(),
            more_prefix: more_prefix.into(),
            null_string: null_string.into(),
            computable,
            mods,
            literal,
            at: (self.base + first.start) as u32,
        })
    }

    fn indexes(&mut self, mods: &mut Vec<Modifier>) -> R<()> {
        while self.kind(0)? == Kind::IndexLBracket {
            self.bump()?;
            self.optional(Kind::Whitespace)?;
            let t = self.peek(0)?.clone();
            let e = match t.kind {
                Kind::StringLiteral => self.string_literal()?,
                Kind::IntegerLiteral => self.integer_literal()?,
                Kind::True | Kind::False => {
                    self.bump()?;
                    if t.kind == Kind::True { Expr::True } else { Expr::False }
                }
                Kind::Identifier | Kind::LCurly => Expr::Ref(Box::new(self.reference()?)),
                _ => return self.unexpected(&t, "an index"),
            };
            self.optional(Kind::Whitespace)?;
            self.expect(Kind::IndexRBracket, "] closing the index")?;
            mods.push(Modifier::Index(e));
        }
        Ok(())
    }

    /// `LOOKAHEAD(3) Method()`: the name, `(`, and a parameter or `)`.
    fn method_follows(&mut self) -> R<bool> {
        if self.kind(0)? != Kind::LParen {
            return Ok(false);
        }
        let k = self.kind(1)?;
        Ok(k == Kind::RefMod2RParen || k == Kind::Whitespace || starts_parameter(k))
    }

    fn parameter_follows(&mut self) -> R<bool> {
        let k = self.kind(0)?;
        Ok(k == Kind::Whitespace || starts_parameter(k))
    }

    /// `Parameter()`.
    fn parameter(&mut self) -> R<Expr> {
        self.optional(Kind::Whitespace)?;
        let e = self.value("a value")?;
        self.optional(Kind::Whitespace)?;
        Ok(e)
    }

    /// The syntactic lookahead for `IntegerRange()`: `[`, a reference or integer, `..`.
    fn range_follows(&mut self) -> R<bool> {
        let mut i = 1;
        if self.kind(i)? == Kind::Whitespace {
            i += 1;
        }
        match self.kind(i)? {
            Kind::IntegerLiteral => i += 1,
            Kind::Identifier | Kind::LCurly => match self.scan_reference(i)? {
                Some(next) => i = next,
                None => return Ok(false),
            },
            _ => return Ok(false),
        }
        if self.kind(i)? == Kind::Whitespace {
            i += 1;
        }
        Ok(self.kind(i)? == Kind::DoubleDot)
    }

    /// Skips a reference's tokens from `i` without building it.
    fn scan_reference(&mut self, mut i: usize) -> R<Option<usize>> {
        let formal = self.kind(i)? == Kind::LCurly;
        if formal {
            i += 1;
        }
        if self.kind(i)? != Kind::Identifier {
            return Ok(None);
        }
        i += 1;
        let mut depth = 0usize;
        loop {
            let k = self.kind(i)?;
            match k {
                Kind::Eof => return Ok(None),
                Kind::IndexLBracket | Kind::LParen => depth += 1,
                Kind::IndexRBracket | Kind::RefMod2RParen if depth > 0 => depth -= 1,
                Kind::Dot | Kind::Identifier => {}
                _ if depth > 0 => {}
                Kind::RCurly if formal => return Ok(Some(i + 1)),
                _ => return Ok(if formal { None } else { Some(i) }),
            }
            i += 1;
        }
    }

    fn integer_range(&mut self) -> R<Expr> {
        self.bump()?; // [
        self.optional(Kind::Whitespace)?;
        let a = self.range_end()?;
        self.optional(Kind::Whitespace)?;
        self.expect(Kind::DoubleDot, "..")?;
        self.optional(Kind::Whitespace)?;
        let b = self.range_end()?;
        self.optional(Kind::Whitespace)?;
        self.expect(Kind::RBracket, "] closing the range")?;
        Ok(Expr::Range(Box::new(a), Box::new(b)))
    }

    fn range_end(&mut self) -> R<Expr> {
        let t = self.peek(0)?.clone();
        match t.kind {
            Kind::IntegerLiteral => self.integer_literal(),
            Kind::Identifier | Kind::LCurly => Ok(Expr::Ref(Box::new(self.reference()?))),
            _ => self.unexpected(&t, "an integer or a reference"),
        }
    }

    fn map(&mut self) -> R<Expr> {
        self.bump()?; // {
        let mut entries = Vec::new();
        let mut i = 0;
        if self.kind(0)? == Kind::Whitespace {
            i = 1;
        }
        if starts_parameter(self.kind(i)?) {
            loop {
                let k = self.parameter()?;
                self.expect(Kind::Colon, ": in the map")?;
                let v = self.parameter()?;
                entries.push((k, v));
                if !self.optional(Kind::Comma)? {
                    break;
                }
            }
        } else {
            self.optional(Kind::Whitespace)?;
        }
        let t = self.peek(0)?.clone();
        if t.kind == Kind::RightCurley || t.kind == Kind::RCurly {
            self.bump()?;
        } else {
            return self.unexpected(&t, "} closing the map");
        }
        Ok(Expr::Map(entries))
    }

    fn object_array(&mut self) -> R<Expr> {
        self.bump()?; // [
        let mut items = Vec::new();
        if self.parameter_follows()? {
            items.push(self.parameter()?);
            while self.optional(Kind::Comma)? {
                items.push(self.parameter()?);
            }
        }
        self.expect(Kind::RBracket, "] closing the list")?;
        Ok(Expr::List(items))
    }

    fn string_literal(&mut self) -> R<Expr> {
        let t = self.bump()?;
        let img = self.image(&t);
        let quote = img.as_bytes()[0];
        let mut content = img[1..img.len() - 1].to_string();
        if quote == b'"' {
            content = unescape_unicode(&content)
                .ok_or(())
                .or_else(|_| self.err(t.start, "a \\u escape needs four hex digits"))?;
        }
        let q = quote as char;
        let doubled: String = [q, q].iter().collect();
        if content.contains(&doubled) {
            content = content.replace(&doubled, &q.to_string());
        }
        let interpolate = quote == b'"' && (img.contains('$') || img.contains('#'));
        if !interpolate {
            return Ok(Expr::Str(content.into()));
        }
        let line_comment = content.contains("##");
        if !line_comment {
            content.push(' ');
        }
        let base = self.base + t.start + 1;
        let block = Parser::new(&content, self.names, base).template()?;
        Ok(Expr::Interp(block, line_comment))
    }

    fn integer_literal(&mut self) -> R<Expr> {
        let t = self.bump()?;
        let img = self.image(&t);
        Ok(if let Ok(i) = img.parse::<i32>() {
            Expr::Int(i)
        } else if let Ok(l) = img.parse::<i64>() {
            Expr::Long(l)
        } else {
            Expr::BigInt(img.into())
        })
    }

    fn float_literal(&mut self) -> R<Expr> {
        let t = self.bump()?;
        let img = self.image(&t);
        match img.parse::<f64>() {
            Ok(f) => Ok(Expr::Double(f)),
            Err(_) => self.err(t.start, "not a number"),
        }
    }

    pub(super) fn expression(&mut self) -> R<Expr> {
        self.or()
    }

    /// An operator node; each side keeps its literal, which `"a" + $nope` prints.
    fn binary(&self, op: Op, left: Expr, left_span: (usize, usize), right: Expr, right_span: (usize, usize)) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            left_literal: self.src[left_span.0..left_span.1].trim().into(),
            right_literal: self.src[right_span.0..right_span.1].trim().into(),
        }
    }

    fn level(&mut self, level: u8) -> R<Expr> {
        if level == 6 {
            return self.unary();
        }
        let start = self.peek(0)?.start;
        let mut left = self.level(level + 1)?;
        let mut left_end = self.last_end;
        loop {
            let op = match (level, self.kind(0)?) {
                (0, Kind::Or) => Op::Or,
                (1, Kind::And) => Op::And,
                (2, Kind::Eq) => Op::Eq,
                (2, Kind::Ne) => Op::Ne,
                (3, Kind::Lt) => Op::Lt,
                (3, Kind::Gt) => Op::Gt,
                (3, Kind::Le) => Op::Le,
                (3, Kind::Ge) => Op::Ge,
                (4, Kind::Plus) => Op::Add,
                (4, Kind::Minus) => Op::Sub,
                (5, Kind::Multiply) => Op::Mul,
                (5, Kind::Divide) => Op::Div,
                (5, Kind::Modulus) => Op::Mod,
                _ => return Ok(left),
            };
            self.bump()?;
            let right_start = self.peek(0)?.start;
            let right = self.level(level + 1)?;
            left = self.binary(op, left, (start, left_end), right, (right_start, self.last_end));
            left_end = self.last_end;
        }
    }

    fn or(&mut self) -> R<Expr> {
        self.level(0)
    }

    fn unary(&mut self) -> R<Expr> {
        let k0 = self.kind(0)?;
        if k0 == Kind::Not || (k0 == Kind::Whitespace && self.kind(1)? == Kind::Not) {
            self.optional(Kind::Whitespace)?;
            self.bump()?;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> R<Expr> {
        self.optional(Kind::Whitespace)?;
        let e = if self.kind(0)? == Kind::LParen {
            self.bump()?;
            let e = self.expression()?;
            self.expect(Kind::RParen, ")")?;
            Expr::Group(Box::new(e))
        } else {
            self.value("a value")?
        };
        self.optional(Kind::Whitespace)?;
        Ok(e)
    }
}

fn starts_parameter(k: Kind) -> bool {
    matches!(
        k,
        Kind::StringLiteral
            | Kind::IntegerLiteral
            | Kind::LBracket
            | Kind::LeftCurley
            | Kind::True
            | Kind::False
            | Kind::Identifier
            | Kind::LCurly
            | Kind::FloatLiteral
            | Kind::Whitespace
    )
}

/// Adjacent text nodes merge: the output is the same and the render walks fewer nodes.
fn push_node(out: &mut Block, node: Node) {
    if let (Some(Node::Text(prev)), Node::Text(next)) = (out.last_mut(), &node) {
        let mut s = String::with_capacity(prev.len() + next.len());
        s.push_str(prev);
        s.push_str(next);
        *prev = s.into();
        return;
    }
    out.push(node);
}

/// `Parser.escapedDirective`: `\#if` prints `#if` (a known directive swallows one escape);
/// `\#foo` prints as written.
fn escaped_directive(image: &str) -> String {
    let last = image.rfind('\\').unwrap_or(0);
    let directive = &image[last + 1..];
    let mut tag = &directive[1..];
    if tag.starts_with('{') && tag.len() >= 2 {
        tag = &tag[1..tag.len() - 1];
    }
    let recognised = DIRECTIVES.contains(&tag) || matches!(tag, "if" | "end" | "set" | "else" | "elseif");
    if recognised { format!("{}{}", &image[..last / 2], directive) } else { image.to_string() }
}

/// `ASTStringLiteral.unescape`: only `\uXXXX` is an escape in a VTL string.
fn unescape_unicode(s: &str) -> Option<String> {
    if !s.contains("\\u") {
        return Some(s.to_string());
    }
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(u) = rest.find("\\u") {
        units.extend(rest[..u].encode_utf16());
        let hex = rest.get(u + 2..u + 6)?;
        units.push(u16::from_str_radix(hex, 16).ok()?);
        rest = &rest[u + 6..];
    }
    units.extend(rest.encode_utf16());
    // a lone surrogate is what Java's UTF-8 encoder writes as `?`
    Some(char::decode_utf16(units).map(|c| c.unwrap_or('?')).collect())
}
