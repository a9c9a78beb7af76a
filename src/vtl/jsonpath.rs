//! JSONPath as AWS evaluates it for `$input.path` and `$input.json`: a port of Jayway
//! JsonPath 2.0.0 (`PathCompiler`, the path tokens, `Filter` and `Criteria`), the version
//! Debian ships and the differential corpus runs, quirks included: a path without `$` gets
//! `$.` in front, a negative index finds nothing, `['a','b']` makes one merged object, a
//! definite path that finds nothing is an error (which AWS renders as nothing), filter
//! literals are strings unless quoted with `'`, and `&&`/`||` group from the right.
//!
//! Owns: the path grammar and its evaluation over [`Value`]s. Must not: parse JSON.
//! Costs: a path compiles on each call (they are short); evaluation walks what it names.

use super::value::{ListKind, Value};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Root,
    Scan,
    Wildcard,
    Property(Vec<String>),
    Array(ArrayOp, Vec<i64>),
    Predicate(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ArrayOp {
    Single,
    Sequence,
    SliceFrom,
    SliceTo,
    SliceBetween,
    ContextSize,
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Path, bool),
    Compare(Operand, Cmp, Operand),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Path),
    /// A literal: always a string in Jayway 2.0.0 (`'…'` unquoted, anything else as written).
    Text(String),
    Pattern(String),
}

/// Why a path gives nothing: Jayway's PathNotFoundException, or any other exception
/// (InvalidPathException, a number that does not parse), which no wildcard swallows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    NotFound,
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    tokens: Vec<Token>,
    from_root: bool,
}

/// `PathCompiler.compile`.
pub fn parse(path: &str) -> Result<Path, Miss> {
    let mut p = path.trim().to_string();
    if p.is_empty() || p.ends_with("..") {
        return Err(Miss::Invalid);
    }
    if !p.starts_with('$') && !p.starts_with('@') {
        p = format!("$.{p}");
    }
    let from_root = p.starts_with('$');
    if !from_root {
        p = format!("${}", &p[1..]);
    }
    let c: Vec<char> = p.chars().collect();
    if c.len() > 1 && c[1] != '.' && c[1] != '[' {
        return Err(Miss::Invalid);
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let fragment: String = match c[i] {
            ' ' => return Err(Miss::Invalid),
            '$' => {
                i += 1;
                "$".into()
            }
            '[' => {
                let n = until_closed(&c, i);
                let f = c[i..i + n].iter().collect();
                i += n;
                f
            }
            '.' => {
                i += 1;
                match c.get(i) {
                    None => return Err(Miss::Invalid),
                    Some('.') => {
                        i += 1;
                        "..".into()
                    }
                    Some(_) => {
                        let n = forward(&c, i);
                        if n == 0 {
                            continue;
                        }
                        let f = if n == 1 && c[i] == '*' {
                            "[*]".to_string()
                        } else {
                            format!("['{}']", c[i..i + n].iter().collect::<String>())
                        };
                        i += n;
                        f
                    }
                }
            }
            '*' => {
                i += 1;
                "[*]".into()
            }
            _ => {
                let n = forward(&c, i);
                let f = format!("['{}']", c[i..i + n].iter().collect::<String>());
                i += n;
                f
            }
        };
        tokens.push(analyze(&fragment)?);
    }
    if tokens.first() != Some(&Token::Root) {
        return Err(Miss::Invalid);
    }
    Ok(Path { tokens, from_root })
}

fn forward(c: &[char], mut i: usize) -> usize {
    let start = i;
    while i < c.len() && !matches!(c[i], '.' | '[' | ' ') {
        i += 1;
    }
    i - start
}

fn until_closed(c: &[char], start: usize) -> usize {
    let mut i = start + 1;
    let mut nested = 0i32;
    while i < c.len() {
        let cur = c[i];
        i += 1;
        if cur == ']' && nested == 0 {
            break;
        }
        if cur == '[' {
            nested += 1;
        }
        if cur == ']' {
            nested -= 1;
        }
    }
    i - start
}

/// `PathComponentAnalyzer.analyze`.
fn analyze(f: &str) -> Result<Token, Miss> {
    match f {
        "$" => return Ok(Token::Root),
        ".." => return Ok(Token::Scan),
        "[*]" | ".*" => return Ok(Token::Wildcard),
        _ => {}
    }
    let c: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            // `[?]` placeholders need filters passed in code; templates have none
            '?' => {
                let inner: String = c.iter().filter(|c| !c.is_whitespace()).collect();
                if inner.chars().all(|x| matches!(x, '[' | ']' | '?' | ',')) {
                    return Err(Miss::Invalid);
                }
                let start = c[..=i].iter().rposition(|&x| x == '[').ok_or(Miss::Invalid)?;
                let end = filter_end(&c, start)?;
                let text: String = c[start..end].iter().collect();
                return Ok(Token::Predicate(Box::new(parse_filter(&text)?)));
            }
            '\'' => return Ok(Token::Property(properties(&c, i)?)),
            d if d.is_ascii_digit() || d == ':' || d == '-' || d == '@' => return array(&c, i),
            _ => i += 1,
        }
    }
    Err(Miss::Invalid)
}

fn properties(c: &[char], mut i: usize) -> Result<Vec<String>, Miss> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut open = false;
    while c[i] != ']' {
        if c[i] == '\'' {
            if open {
                out.push(std::mem::take(&mut buf));
                open = false;
            } else {
                open = true;
            }
        } else if open {
            buf.push(c[i]);
        }
        i += 1;
        if i >= c.len() {
            return Err(Miss::Invalid);
        }
    }
    Ok(out)
}

fn int(s: &str) -> Result<i64, Miss> {
    s.parse::<i32>().map(i64::from).map_err(|_| Miss::Invalid)
}

/// `analyzeArraySequence`.
fn array(c: &[char], mut i: usize) -> Result<Token, Miss> {
    let at = |i: usize| c.get(i).copied().ok_or(Miss::Invalid);
    let mut buf = String::new();
    let mut numbers = Vec::new();
    let mut cur = c[i];
    let context_size = cur == '@';
    let (mut slice_to, mut slice_from, mut slice_between, mut sequence) = (false, false, false, false);
    if context_size {
        i += 2;
        cur = at(i)?;
        while cur != '-' {
            if !matches!(cur, ' ' | '(' | ')') {
                buf.push(cur);
            }
            i += 1;
            cur = at(i)?;
        }
        let function = std::mem::take(&mut buf);
        if function != "size" && function != "length" {
            return Err(Miss::Invalid);
        }
        while cur != ')' {
            if cur != ' ' {
                buf.push(cur);
            }
            i += 1;
            cur = at(i)?;
        }
    } else {
        while cur.is_ascii_digit() || matches!(cur, ',' | ' ' | ':' | '-') {
            match cur {
                ' ' => {}
                ':' => {
                    let had = !buf.is_empty();
                    if had {
                        numbers.push(int(&buf)?);
                        buf.clear();
                    }
                    i += 1;
                    cur = at(i)?;
                    while cur.is_ascii_digit() || cur == ' ' || cur == '-' {
                        if cur != ' ' {
                            buf.push(cur);
                        }
                        i += 1;
                        cur = at(i)?;
                    }
                    if !had {
                        slice_to = true;
                        numbers.push(int(&buf)?);
                        buf.clear();
                    } else if buf.is_empty() {
                        slice_from = true;
                    } else {
                        slice_between = true;
                        numbers.push(int(&buf)?);
                        buf.clear();
                    }
                }
                ',' => {
                    numbers.push(int(&buf)?);
                    buf.clear();
                    sequence = true;
                }
                d => buf.push(d),
            }
            if cur == ']' {
                break;
            }
            i += 1;
            cur = at(i)?;
        }
    }
    if !buf.is_empty() {
        numbers.push(int(&buf)?);
    }
    let single = numbers.len() == 1 && !slice_to && !slice_from && !context_size;
    let op = if single {
        ArrayOp::Single
    } else if sequence {
        ArrayOp::Sequence
    } else if slice_from {
        ArrayOp::SliceFrom
    } else if slice_to {
        ArrayOp::SliceTo
    } else if slice_between {
        ArrayOp::SliceBetween
    } else if context_size {
        ArrayOp::ContextSize
    } else {
        return Err(Miss::Invalid);
    };
    if numbers.is_empty() {
        return Err(Miss::Invalid);
    }
    Ok(Token::Array(op, numbers))
}

/// `findFilterBounds`: from the `[` to its `]`, outside `'…'`.
fn filter_end(c: &[char], start: usize) -> Result<usize, Miss> {
    let (mut parens, mut squares, mut in_prop, mut mem) = (0i32, 0i32, false, ' ');
    let mut cur = start;
    loop {
        let ch = *c.get(cur).ok_or(Miss::Invalid)?;
        match ch {
            '(' if !in_prop => parens += 1,
            ')' if !in_prop => parens -= 1,
            '[' if !in_prop => squares += 1,
            ']' if !in_prop => {
                squares -= 1;
                if parens == 0 {
                    if squares != 0 {
                        return Err(Miss::Invalid);
                    }
                    return Ok(cur + 1);
                }
            }
            '\'' if mem != '\\' => in_prop = !in_prop,
            _ => {}
        }
        mem = ch;
        cur += 1;
    }
}

/// `Filter.parse`.
fn parse_filter(text: &str) -> Result<Filter, Miss> {
    let f = text.trim();
    let f = f.strip_prefix('[').and_then(|f| f.strip_suffix(']')).ok_or(Miss::Invalid)?.trim();
    let f = f.strip_prefix('?').ok_or(Miss::Invalid)?.trim();
    let f = f.strip_prefix('(').and_then(|f| f.strip_suffix(')')).ok_or(Miss::Invalid)?.trim();
    let mut operators = Vec::new();
    let mut criteria = Vec::new();
    let mut rest = f;
    loop {
        let next = [rest.find("&&"), rest.find("||")].into_iter().flatten().min();
        let (exp, op) = match next {
            Some(at) => (&rest[..at], Some(&rest[at..at + 2])),
            None => (rest, None),
        };
        if !exp.trim().is_empty() {
            criteria.push(criterion(clean(exp.trim()))?);
        }
        match op {
            Some(op) => {
                operators.push(op);
                rest = &rest[exp.len() + 2..];
            }
            None => break,
        }
    }
    let mut root = criteria.pop().ok_or(Miss::Invalid)?;
    while let Some(op) = operators.pop() {
        let c = criteria.pop().ok_or(Miss::Invalid)?;
        root =
            if op == "&&" { Filter::And(Box::new(root), Box::new(c)) } else { Filter::Or(Box::new(root), Box::new(c)) };
    }
    if !criteria.is_empty() {
        return Err(Miss::Invalid);
    }
    Ok(root)
}

fn clean(s: &str) -> &str {
    s.trim_start_matches(['[', '?', '(', ' ']).trim_end_matches([')', ' '])
}

/// `Criteria.parse` and `Criteria.create`.
fn criterion(text: &str) -> Result<Filter, Miss> {
    const OPS: [(&str, Cmp); 7] = [
        ("==", Cmp::Eq),
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        ("!=", Cmp::Ne),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
        ("=~", Cmp::Regex),
    ];
    let found = OPS.iter().find_map(|&(op, cmp)| text.find(op).map(|at| (at, op, cmp)));
    let (left, op) = match found {
        Some((at, op, cmp)) => (text[..at].trim(), Some((cmp, text[at + op.len()..].trim()))),
        None => (text.trim(), None),
    };
    let is_path = |s: &str| s.starts_with('$') || s.starts_with('@') || s.starts_with("!@");
    let operand = |s: &str| -> Result<Operand, Miss> {
        if is_path(s) {
            if s.starts_with('!') {
                return Err(Miss::Invalid);
            }
            let p = parse(s)?;
            if !p.definite() {
                return Err(Miss::Invalid);
            }
            Ok(Operand::Path(p))
        } else if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
            Ok(Operand::Text(s[1..s.len() - 1].to_string()))
        } else if s.len() >= 2 && s.starts_with('/') && (s.ends_with('/') || s.ends_with("/i")) {
            Ok(Operand::Pattern(s.to_string()))
        } else {
            Ok(Operand::Text(s.to_string()))
        }
    };
    match op {
        None if is_path(left) => {
            let (exists, p) = match left.strip_prefix('!') {
                Some(p) => (false, p),
                None => (true, left),
            };
            let path = parse(p)?;
            if !path.definite() {
                return Err(Miss::Invalid);
            }
            Ok(Filter::Exists(path, exists))
        }
        None => Err(Miss::Invalid),
        Some((cmp, right)) => Ok(Filter::Compare(operand(left)?, cmp, operand(right)?)),
    }
}

fn token_definite(t: &Token) -> bool {
    match t {
        Token::Root | Token::Property(_) => true,
        Token::Array(op, _) => matches!(op, ArrayOp::Single | ArrayOp::ContextSize),
        _ => false,
    }
}

struct Ctx<'r, 'a> {
    root: &'r Value<'a>,
    results: Vec<Value<'a>>,
    /// Option.REQUIRE_PROPERTIES, which existence checks in filters set.
    require: bool,
}

impl Path {
    pub fn definite(&self) -> bool {
        self.tokens.iter().all(token_definite)
    }

    fn definite_from(&self, i: usize) -> bool {
        self.tokens[i..].iter().all(token_definite)
    }

    fn upstream_definite(&self, i: usize) -> bool {
        token_definite(&self.tokens[i]) && (i == 0 || self.definite_from(i - 1))
    }

    /// The path on `root`: the value of a definite path, a JSON array of an indefinite
    /// one's matches, or why it found nothing.
    pub fn eval<'a>(&self, root: &Value<'a>) -> Result<Value<'a>, Miss> {
        self.eval_on(root, root, false)
    }

    fn eval_on<'a>(&self, doc: &Value<'a>, root: &Value<'a>, require: bool) -> Result<Value<'a>, Miss> {
        let mut ctx = Ctx { root, results: Vec::new(), require };
        self.token(0, doc, &mut ctx)?;
        if self.definite() {
            return ctx.results.into_iter().next().ok_or(Miss::NotFound);
        }
        Ok(Value::list(ListKind::Json, ctx.results))
    }

    fn leaf(&self, i: usize) -> bool {
        i + 1 == self.tokens.len()
    }

    fn emit<'a>(&self, i: usize, v: Value<'a>, ctx: &mut Ctx<'_, 'a>) -> Result<(), Miss> {
        if self.leaf(i) {
            ctx.results.push(v);
            Ok(())
        } else {
            self.token(i + 1, &v, ctx)
        }
    }

    fn token<'a>(&self, i: usize, model: &Value<'a>, ctx: &mut Ctx<'_, 'a>) -> Result<(), Miss> {
        match &self.tokens[i] {
            Token::Root => self.emit(i, model.clone(), ctx),
            Token::Property(props) => {
                if !matches!(model, Value::Map(_)) {
                    return Err(Miss::NotFound);
                }
                self.property(i, model, props, ctx)
            }
            Token::Array(op, n) => self.array(i, *op, n, model, ctx),
            Token::Wildcard => match model {
                Value::Map(m) => {
                    let keys: Vec<String> = m.borrow().entries.iter().map(|(k, _)| k.to_java_string()).collect();
                    for k in keys {
                        self.property(i, model, std::slice::from_ref(&k), ctx)?;
                    }
                    Ok(())
                }
                Value::List(l) => {
                    let n = l.borrow().items.len();
                    for idx in 0..n {
                        match self.index(i, idx as i64, model, ctx) {
                            Err(Miss::NotFound) if !ctx.require => {}
                            other => other?,
                        }
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
            Token::Scan => self.walk(i + 1, model, ctx),
            Token::Predicate(f) => match model {
                Value::Map(_) => {
                    if self.accept(f, model, ctx)? {
                        self.emit(i, model.clone(), ctx)?;
                    }
                    Ok(())
                }
                Value::List(l) => {
                    let items = l.borrow().items.clone();
                    for (idx, item) in items.iter().enumerate() {
                        if self.accept(f, item, ctx)? {
                            self.index(i, idx as i64, model, ctx)?;
                        }
                    }
                    Ok(())
                }
                _ => Err(Miss::Invalid),
            },
        }
    }

    /// `handleObjectProperty`.
    fn property<'a>(&self, i: usize, model: &Value<'a>, props: &[String], ctx: &mut Ctx<'_, 'a>) -> Result<(), Miss> {
        let Value::Map(m) = model else { return Err(Miss::NotFound) };
        if let [prop] = props {
            let found = m.borrow().get_str(prop).cloned();
            return match found {
                Some(v) => self.emit(i, v, ctx),
                None if self.leaf(i) => Err(Miss::NotFound),
                None if !self.upstream_definite(i) && !ctx.require => Ok(()),
                None => Err(Miss::NotFound),
            };
        }
        if !self.leaf(i) {
            return Err(Miss::Invalid);
        }
        let mut merged = Vec::new();
        for prop in props {
            if let Some(v) = m.borrow().get_str(prop) {
                merged.push((Value::string(prop.clone()), v.clone()));
            } else if ctx.require {
                return Err(Miss::NotFound);
            }
        }
        ctx.results.push(Value::map(merged));
        Ok(())
    }

    /// `handleArrayIndex`: a negative or too large index is not found.
    fn index<'a>(&self, i: usize, idx: i64, model: &Value<'a>, ctx: &mut Ctx<'_, 'a>) -> Result<(), Miss> {
        let Value::List(l) = model else { return Err(Miss::Invalid) };
        let v = usize::try_from(idx).ok().and_then(|x| l.borrow().items.get(x).cloned()).ok_or(Miss::NotFound)?;
        self.emit(i, v, ctx)
    }

    fn array<'a>(
        &self,
        i: usize,
        op: ArrayOp,
        n: &[i64],
        model: &Value<'a>,
        ctx: &mut Ctx<'_, 'a>,
    ) -> Result<(), Miss> {
        let len = match model {
            Value::Null => return Err(Miss::NotFound),
            Value::List(l) => l.borrow().items.len() as i64,
            _ => return Err(Miss::Invalid),
        };
        match op {
            ArrayOp::Single => self.index(i, n[0], model, ctx),
            ArrayOp::Sequence => n.iter().try_for_each(|&x| self.index(i, x, model, ctx)),
            ArrayOp::ContextSize => self.index(i, len + n[0], model, ctx),
            ArrayOp::SliceFrom => {
                let from = if n[0] < 0 { len + n[0] } else { n[0] }.max(0);
                (from..len).try_for_each(|x| self.index(i, x, model, ctx))
            }
            ArrayOp::SliceTo => {
                let to = if n[0] < 0 { len + n[0] } else { n[0] }.min(len);
                (0..to).try_for_each(|x| self.index(i, x, model, ctx))
            }
            ArrayOp::SliceBetween => {
                let (from, to) = (n[0], n[1].min(len));
                if from >= to || len == 0 {
                    return Ok(());
                }
                (from..to).try_for_each(|x| self.index(i, x, model, ctx))
            }
        }
    }

    /// ScanPathToken.walk for the token at `pt`.
    fn walk<'a>(&self, pt: usize, model: &Value<'a>, ctx: &mut Ctx<'_, 'a>) -> Result<(), Miss> {
        let Some(target) = self.tokens.get(pt) else { return Err(Miss::Invalid) };
        let matches = |s: &Self, m: &Value<'a>, ctx: &mut Ctx<'_, 'a>| -> Result<bool, Miss> {
            Ok(match (target, m) {
                (Token::Property(props), Value::Map(map)) => {
                    let map = map.borrow();
                    props.iter().all(|p| map.get_str(p).is_some())
                }
                (Token::Array(..), Value::List(_)) => true,
                (Token::Wildcard, _) => true,
                (Token::Predicate(f), _) => s.accept(f, m, ctx)?,
                _ => false,
            })
        };
        match model {
            Value::Map(m) => {
                if matches(self, model, ctx)? {
                    self.token(pt, model, ctx)?;
                }
                let children: Vec<Value> = m.borrow().entries.iter().map(|(_, v)| v.clone()).collect();
                for c in &children {
                    self.walk(pt, c, ctx)?;
                }
                Ok(())
            }
            Value::List(l) => {
                let children = l.borrow().items.clone();
                if matches(self, model, ctx)? {
                    if self.leaf(pt) {
                        self.token(pt, model, ctx)?;
                    } else {
                        for c in &children {
                            self.token(pt + 1, c, ctx)?;
                        }
                    }
                }
                for c in &children {
                    self.walk(pt, c, ctx)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn accept<'a>(&self, f: &Filter, item: &Value<'a>, ctx: &mut Ctx<'_, 'a>) -> Result<bool, Miss> {
        match f {
            Filter::And(a, b) => Ok(self.accept(a, item, ctx)? && self.accept(b, item, ctx)?),
            Filter::Or(a, b) => Ok(self.accept(a, item, ctx)? || self.accept(b, item, ctx)?),
            Filter::Exists(p, expect) => {
                let doc = if p.from_root { ctx.root } else { item };
                Ok(match p.eval_on(doc, ctx.root, true) {
                    Ok(v) => v.is_null() != *expect,
                    Err(_) => !expect,
                })
            }
            Filter::Compare(l, cmp, r) => {
                let value = |o: &Operand| -> Result<Option<Value<'a>>, Miss> {
                    match o {
                        Operand::Path(p) => {
                            let doc = if p.from_root { ctx.root } else { item };
                            match p.eval_on(doc, ctx.root, false) {
                                Ok(v) => Ok(Some(v)),
                                Err(Miss::NotFound) => Ok(None),
                                Err(e) => Err(e),
                            }
                        }
                        Operand::Text(t) => Ok(Some(Value::string(t.clone()))),
                        Operand::Pattern(p) => Ok(Some(Value::string(p.clone()))),
                    }
                };
                let (Some(left), Some(right)) = (value(l)?, value(r)?) else { return Ok(false) };
                if *cmp == Cmp::Regex {
                    let (pat, target) = match (l, r) {
                        (Operand::Pattern(p), _) => (p, right),
                        (_, Operand::Pattern(p)) => (p, left),
                        _ => return Ok(false),
                    };
                    return Ok(regex_match(pat, &target));
                }
                // Criteria evaluates `type.eval(expected = right, model = left)`
                if matches!(cmp, Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge) && (right.is_null() != left.is_null()) {
                    return Ok(false);
                }
                let c = match safe_compare(&right, &left)? {
                    Some(c) => c,
                    None => return Ok(false),
                };
                Ok(match cmp {
                    Cmp::Eq => c == 0,
                    Cmp::Ne => c != 0,
                    Cmp::Gt => c < 0,
                    Cmp::Ge => c <= 0,
                    Cmp::Lt => c > 0,
                    Cmp::Le => c >= 0,
                    Cmp::Regex => false,
                })
            }
        }
    }
}

fn regex_match(pattern: &str, target: &Value) -> bool {
    let Some(t) = target.as_str() else { return false };
    let (body, ci) = match pattern.strip_suffix("/i") {
        Some(b) => (&b[1..], true),
        None => (&pattern[1..pattern.len() - 1], false),
    };
    let full = format!("{}^(?:{body})$", if ci { "(?i)" } else { "" });
    regex::Regex::new(&full).is_ok_and(|re| re.is_match(t))
}

fn nullish(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("null")
}

/// A `BigDecimal` of a number's or string's text; Err when Java's constructor would throw.
fn decimal(v: &Value) -> Result<f64, Miss> {
    let s = v.to_java_string();
    let ok = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if !ok {
        return Err(Miss::Invalid);
    }
    s.parse::<f64>().map_err(|_| Miss::Invalid)
}

/// `Criteria.safeCompare`: None for ValueCompareException (the criterion is false).
fn safe_compare(left: &Value, right: &Value) -> Result<Option<i32>, Miss> {
    let (ln, rn) = (nullish(left), nullish(right));
    if ln || rn {
        return Ok(Some(match (ln, rn) {
            (true, false) => -1,
            (false, true) => 1,
            _ => 0,
        }));
    }
    let ord = |a: f64, b: f64| {
        if a < b {
            -1
        } else if a > b {
            1
        } else {
            0
        }
    };
    Ok(Some(match (left, right) {
        (Value::Str(a), Value::Str(b)) => {
            let a = a.as_str().replace("\\'", "'");
            super::text::java_compare(&a, b.as_str())
        }
        (a, b) if a.is_number() && b.is_number() => ord(decimal(a)?, decimal(b)?),
        (Value::Str(_), b) if b.is_number() => ord(decimal(left)?, decimal(b)?),
        (Value::Str(a), Value::Bool(b)) => i32::from(a.as_str() == "true") - i32::from(*b),
        (Value::Bool(a), Value::Bool(b)) => i32::from(*a) - i32::from(*b),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(path: &str, doc: &str) -> String {
        let root = super::super::json::parse(doc).expect("json");
        match parse(path).and_then(|p| p.eval(&root)) {
            Ok(v) => v.to_java_string(),
            Err(_) => "<none>".into(),
        }
    }

    #[test]
    fn paths_as_jayway_2_0_evaluates_them() {
        let doc = r#"{"a":{"b":[1,2,3]},"items":[{"id":1,"q":2},{"id":2,"q":5}],"n":"x"}"#;
        assert_eq!(eval("$.a.b[0]", doc), "1");
        assert_eq!(eval("$['a']['b'][2]", doc), "3");
        assert_eq!(eval("$.a.b[-1]", doc), "<none>");
        assert_eq!(eval("$.missing", doc), "<none>");
        assert_eq!(eval("n", doc), "x");
        assert_eq!(eval("$.items[*].id", doc), "[1,2]");
        assert_eq!(eval("$..id", doc), "[1,2]");
        assert_eq!(eval("$.items[?(@.q > 2)].id", doc), "[2]");
        assert_eq!(eval("$.a.b[0:2]", doc), "[1,2]");
        assert_eq!(eval("$['n','a']", doc), "{n=x, a={b=[1,2,3]}}");
    }

    #[test]
    fn refuses_what_is_not_a_path() {
        for bad in ["", "$..", "$ .a", "$[", "$.a[?(@.x", "$[foo]"] {
            assert!(parse(bad).is_err() || eval(bad, "{}") == "<none>", "{bad:?}");
        }
    }
}
