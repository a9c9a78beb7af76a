//! The VTL lexer: a port of Velocity 1.7's JavaCC token manager (`Parser.jjt`), state for
//! state, because Velocity's whitespace and escaping rules live in its lexical states rather
//! than its grammar (a directive's `)` eats the rest of its line, `#set` eats the indentation
//! before it only when a token ends there, `$a-b` is one name). Each call to [`Lexer::next`]
//! finds the longest match among the current state's tokens, ties going to the one declared
//! first, exactly as JavaCC does; MORE tokens (`$`, `#`) prefix the next token's image and
//! special tokens contribute only their `#`, `$` and escaping backslashes.
//!
//! Owns: tokens and their byte spans. Must not: know the grammar (the parser drives the two
//! state changes Velocity's parser makes, through [`Lexer::switch_to`] and
//! [`Lexer::pop_state`]). Costs: runs once per template, at config load.

/// A lexical state of Velocity's token manager.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum State {
    Default,
    PreDirective,
    Directive,
    Reference,
    RefModifier,
    RefMod2,
    RefIndex,
    SingleLineComment,
    MultiLineComment,
    FormalComment,
    TextBlock,
}

/// Token kinds, named as in `Parser.jjt`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Eof,
    IndexLBracket,
    IndexRBracket,
    LBracket,
    RBracket,
    Comma,
    DoubleDot,
    Colon,
    LeftCurley,
    RightCurley,
    LParen,
    RParen,
    RefMod2RParen,
    EscapeDirective,
    SetDirective,
    SingleLineCommentStart,
    DoubleEscape,
    Escape,
    Text,
    SingleLineComment,
    FormalComment,
    MultiLineComment,
    TextBlock,
    Whitespace,
    StringLiteral,
    True,
    False,
    Newline,
    Minus,
    Plus,
    Multiply,
    Divide,
    Modulus,
    And,
    Or,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Not,
    Equals,
    End,
    If,
    ElseIf,
    Else,
    IntegerLiteral,
    FloatLiteral,
    Word,
    BracketedWord,
    Identifier,
    Dot,
    LCurly,
    RCurly,
    EmptyIndex,
}

/// What a matched regular expression is to the token manager.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Token(Kind),
    /// `$`, `$!`, `#`, `#[[`, `#*`, `#**`, and any char inside a text block.
    More(MoreKind),
    Skip,
    /// REFERENCE_TERMINATOR and DIRECTIVE_TERMINATOR.
    Special,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MoreKind {
    Dollar,
    TextBlockStart,
    FormalCommentStart,
    CommentStart,
    Hash,
    TextBlockChar,
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub kind: Kind,
    /// Byte span of the image in the source (MORE prefixes included).
    pub start: usize,
    pub end: usize,
    /// The rendered contribution of the special tokens before this one (their `#`, `$`
    /// and `\…$` runs: `NodeUtils.getSpecialText`).
    pub special: String,
}

/// A lexical error: a char no token of the current state matches.
#[derive(Debug)]
pub(super) struct LexError {
    pub at: usize,
}

#[derive(Clone, Copy)]
struct Frame {
    state: State,
    lparen: i32,
    rparen: i32,
}

pub(super) struct Lexer<'s> {
    src: &'s [u8],
    pos: usize,
    state: State,
    stack: Vec<Frame>,
    lparen: i32,
    rparen: i32,
    in_comment: bool,
    pub in_set: bool,
}

impl<'s> Lexer<'s> {
    pub fn new(src: &'s str) -> Self {
        Lexer {
            src: src.as_bytes(),
            pos: 0,
            state: State::Default,
            stack: Vec::new(),
            lparen: 0,
            rparen: 0,
            in_comment: false,
            in_set: false,
        }
    }

    pub fn switch_to(&mut self, state: State) {
        self.state = state;
    }

    fn push(&mut self) {
        self.stack.push(Frame { state: self.state, lparen: self.lparen, rparen: self.rparen });
        self.lparen = 0;
    }

    /// `stateStackPop`: false when the stack was empty (the state drops to DEFAULT).
    pub fn pop_state(&mut self) -> bool {
        match self.stack.pop() {
            Some(f) => {
                self.lparen = f.lparen;
                self.rparen = f.rparen;
                self.state = f.state;
                true
            }
            None => {
                self.lparen = 0;
                self.state = State::Default;
                false
            }
        }
    }

    fn rparen_handler(&mut self) {
        if self.in_comment {
            return;
        }
        loop {
            if self.lparen > 0 {
                if self.lparen == self.rparen + 1 {
                    self.pop_state();
                } else {
                    self.rparen += 1;
                }
                return;
            }
            if !self.pop_state() {
                return;
            }
        }
    }

    /// Whether only whitespace stands between here and a `(` (`isLeftParenthesis`).
    pub fn left_parenthesis_follows(&self) -> bool {
        for &c in &self.src[self.pos..] {
            match c {
                b'(' => return true,
                b' ' | b'\n' | b'\r' | b'\t' => {}
                _ => return false,
            }
        }
        false
    }

    pub fn next(&mut self) -> Result<Token, LexError> {
        let mut special = String::new();
        'token: loop {
            if self.pos >= self.src.len() {
                return Ok(Token { kind: Kind::Eof, start: self.pos, end: self.pos, special });
            }
            let start = self.pos;
            loop {
                let Some((class, len)) = self.longest(self.pos) else {
                    return Err(LexError { at: self.pos });
                };
                let matched_end = self.pos + len;
                self.pos = matched_end;
                match class {
                    Class::More(m) => {
                        self.more_action(m);
                        if self.pos >= self.src.len() {
                            // JavaCC reports EOF inside a MORE sequence as a lexical error.
                            return Err(LexError { at: self.pos });
                        }
                    }
                    Class::Skip => continue 'token,
                    Class::Special => {
                        self.pos -= len_of_last_char(&self.src[..matched_end]);
                        // REFERENCE_TERMINATOR and DIRECTIVE_TERMINATOR both drop a state
                        self.pop_state();
                        special_text(&self.src[start..matched_end], &mut special);
                        continue 'token;
                    }
                    Class::Token(kind) => {
                        self.token_action(kind);
                        return Ok(Token { kind, start, end: self.pos, special });
                    }
                }
            }
        }
    }

    fn more_action(&mut self, m: MoreKind) {
        if self.in_comment {
            return;
        }
        match m {
            MoreKind::Dollar => {
                if self.state == State::Reference {
                    self.pop_state();
                }
                self.push();
                self.state = State::Reference;
            }
            MoreKind::TextBlockStart => {
                self.in_comment = true;
                self.push();
                self.state = State::TextBlock;
            }
            MoreKind::FormalCommentStart => {
                self.pos -= len_of_last_char(&self.src[..self.pos]);
                self.in_comment = true;
                self.push();
                self.state = State::FormalComment;
            }
            MoreKind::CommentStart => {
                self.in_comment = true;
                self.push();
                self.state = State::MultiLineComment;
            }
            MoreKind::Hash => {
                if matches!(self.state, State::Reference | State::RefModifier) {
                    self.pop_state();
                }
                self.push();
                self.state = State::PreDirective;
            }
            MoreKind::TextBlockChar => {}
        }
    }

    fn token_action(&mut self, kind: Kind) {
        use Kind::*;
        match kind {
            IndexLBracket => {
                self.push();
                self.state = State::RefIndex;
            }
            IndexRBracket => {
                self.pop_state();
            }
            LParen => {
                if !self.in_comment {
                    self.lparen += 1;
                }
                if self.state == State::RefModifier {
                    self.state = State::RefMod2;
                }
            }
            RParen => self.rparen_handler(),
            RefMod2RParen => self.state = State::Reference,
            SetDirective if !self.in_comment => {
                self.push();
                self.in_set = true;
                self.state = State::Directive;
                self.lparen += 1;
            }
            SingleLineCommentStart if !self.in_comment => {
                if self.state == State::Reference {
                    self.pop_state();
                }
                self.in_comment = true;
                self.push();
                self.state = State::SingleLineComment;
            }
            SingleLineComment | FormalComment | MultiLineComment | TextBlock => {
                self.in_comment = false;
                self.pop_state();
            }
            StringLiteral if self.state == State::Directive && !self.in_set && self.lparen == 0 => {
                self.pop_state();
            }
            Newline => {
                self.pop_state();
                self.in_set = false;
            }
            End | Else => {
                self.pop_state();
            }
            If | ElseIf => self.state = State::Directive,
            IntegerLiteral => {
                if self.src[..self.pos].ends_with(b"..") {
                    self.pos -= 2;
                }
                if self.lparen == 0 && !self.in_set && self.state != State::RefMod2 && self.state != State::RefIndex {
                    self.pop_state();
                }
            }
            FloatLiteral if self.lparen == 0 && !self.in_set && self.state != State::RefMod2 => {
                self.pop_state();
            }
            Dot => {
                self.pos -= 1;
                self.state = State::RefModifier;
            }
            RCurly => {
                self.pop_state();
            }
            _ => {}
        }
    }

    /// The longest match at `p` among the current state's regular expressions, the first
    /// declared winning a tie (JavaCC's rule). The order below is `Parser.jjt`'s.
    fn longest(&self, p: usize) -> Option<(Class, usize)> {
        use Kind::*;
        use State as S;
        let s = &self.src[p..];
        let st = self.state;
        let mut best: Option<(Class, usize)> = None;
        let mut offer = |class: Class, len: Option<usize>| {
            if let Some(len) = len
                && len > 0
                && best.is_none_or(|(_, l)| len > l)
            {
                best = Some((class, len));
            }
        };
        let tok = |k: Kind| Class::Token(k);
        let in_ = |states: &[State]| states.contains(&st);

        if in_(&[S::Reference, S::RefModifier]) {
            offer(tok(IndexLBracket), lit(s, b"["));
        }
        if st == S::RefIndex {
            offer(tok(IndexRBracket), lit(s, b"]"));
        }
        if in_(&[S::Directive, S::RefMod2]) {
            offer(tok(LBracket), lit(s, b"["));
            offer(tok(RBracket), lit(s, b"]"));
            offer(tok(Comma), lit(s, b","));
            offer(tok(DoubleDot), lit(s, b".."));
            offer(tok(Colon), lit(s, b":"));
            offer(tok(LeftCurley), lit(s, b"{"));
            offer(tok(RightCurley), lit(s, b"}"));
        }
        if in_(&[S::Directive, S::RefModifier]) {
            offer(tok(LParen), lit(s, b"("));
        }
        if st == S::Directive {
            offer(tok(RParen), lit(s, b")").map(|n| n + eol_after_blanks(&s[1..])));
        }
        if st == S::RefMod2 {
            offer(tok(RefMod2RParen), lit(s, b")"));
        }
        if st == S::Default {
            offer(tok(EscapeDirective), escape_directive(s));
        }
        if in_(&[S::Default, S::Reference, S::RefModifier, S::RefMod2]) {
            offer(tok(SetDirective), set_directive(s));
        }
        // <*> MORE
        offer(Class::More(MoreKind::Dollar), dollar(s));
        offer(Class::More(MoreKind::Dollar), dollar_bang(s));
        offer(Class::More(MoreKind::TextBlockStart), lit(s, b"#[["));
        if s.len() >= 4 && s.starts_with(b"#**") && s[3] != b'#' {
            offer(Class::More(MoreKind::FormalCommentStart), Some(3 + char_len(s[3])));
        }
        offer(Class::More(MoreKind::CommentStart), lit(s, b"#*"));
        offer(Class::More(MoreKind::Hash), lit(s, b"#"));
        if in_(&[S::Default, S::PreDirective, S::Directive, S::Reference]) {
            offer(tok(SingleLineCommentStart), lit(s, b"##"));
        }
        if st == S::Default {
            offer(tok(DoubleEscape), lit(s, b"\\\\"));
            offer(tok(Escape), lit(s, b"\\"));
            let n = s.iter().take_while(|&&c| c != b'$' && c != b'#' && c != b'\\').count();
            offer(tok(Text), Some(n));
        }
        match st {
            S::SingleLineComment => offer(tok(SingleLineComment), newline(s)),
            S::FormalComment => offer(tok(FormalComment), lit(s, b"*#")),
            S::MultiLineComment => offer(tok(MultiLineComment), lit(s, b"*#")),
            S::TextBlock => offer(tok(TextBlock), lit(s, b"]]#")),
            _ => {}
        }
        if in_(&[S::SingleLineComment, S::FormalComment, S::MultiLineComment]) {
            offer(Class::Skip, Some(char_len(s[0])));
        }
        if st == S::TextBlock {
            offer(Class::More(MoreKind::TextBlockChar), Some(char_len(s[0])));
        }
        if in_(&[S::Directive, S::RefMod2, S::RefIndex]) {
            let n = s.iter().take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')).count();
            offer(tok(Whitespace), Some(n));
            offer(tok(StringLiteral), string_literal(s));
        }
        if in_(&[S::Reference, S::Directive, S::RefModifier, S::RefMod2, S::RefIndex]) {
            offer(tok(True), lit(s, b"true"));
            offer(tok(False), lit(s, b"false"));
        }
        if st == S::Directive {
            offer(tok(Newline), newline(s));
            offer(tok(Minus), lit(s, b"-"));
            offer(tok(Plus), lit(s, b"+"));
            offer(tok(Multiply), lit(s, b"*"));
            offer(tok(Divide), lit(s, b"/"));
            offer(tok(Modulus), lit(s, b"%"));
            offer(tok(And), lit(s, b"&&").or(lit(s, b"and")));
            offer(tok(Or), lit(s, b"||").or(lit(s, b"or")));
            offer(tok(Lt), lit(s, b"<").or(lit(s, b"lt")));
            offer(tok(Le), lit(s, b"<=").or(lit(s, b"le")));
            offer(tok(Gt), lit(s, b">").or(lit(s, b"gt")));
            offer(tok(Ge), lit(s, b">=").or(lit(s, b"ge")));
            offer(tok(Eq), lit(s, b"==").or(lit(s, b"eq")));
            offer(tok(Ne), lit(s, b"!=").or(lit(s, b"ne")));
            offer(tok(Not), lit(s, b"!").or(lit(s, b"not")));
            offer(tok(Equals), lit(s, b"="));
        }
        if st == S::PreDirective {
            let end = lit(s, b"end").or(lit(s, b"{end}"));
            offer(tok(End), end.map(|n| n + eol_after_blanks(&s[n..])));
            offer(tok(If), lit(s, b"if").or(lit(s, b"{if}")));
            offer(tok(ElseIf), lit(s, b"elseif").or(lit(s, b"{elseif}")));
            let els = lit(s, b"else").or(lit(s, b"{else}"));
            offer(tok(Else), els.map(|n| n + eol_after_blanks(&s[n..])));
        }
        if in_(&[S::PreDirective, S::Directive, S::RefMod2, S::RefIndex]) {
            offer(tok(IntegerLiteral), integer_literal(s));
            offer(tok(FloatLiteral), float_literal(s));
        }
        if in_(&[S::PreDirective, S::Directive]) {
            offer(tok(Word), word(s));
            offer(tok(BracketedWord), bracketed_word(s));
        }
        if in_(&[S::Reference, S::RefModifier, S::RefMod2]) {
            offer(tok(Identifier), identifier(s));
            if s.len() >= 2 && s[0] == b'.' && s[1].is_ascii_alphabetic() {
                offer(tok(Dot), Some(2));
            }
        }
        if in_(&[S::Reference, S::RefModifier]) {
            offer(tok(LCurly), lit(s, b"{"));
            offer(tok(RCurly), lit(s, b"}"));
            offer(Class::Special, Some(char_len(s[0])));
        }
        if st == S::PreDirective {
            offer(Class::Special, Some(char_len(s[0])));
        }
        if in_(&[S::Default, S::Reference]) {
            let e = lit(s, b"$[").or(lit(s, b"$![")).or(lit(s, b"$\\![")).or(lit(s, b"$."));
            offer(tok(EmptyIndex), e);
        }
        best
    }
}

fn lit(s: &[u8], l: &[u8]) -> Option<usize> {
    s.starts_with(l).then_some(l.len())
}

fn char_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn len_of_last_char(s: &[u8]) -> usize {
    let mut n = 1;
    while n < s.len() && (s[s.len() - n] & 0xc0) == 0x80 {
        n += 1;
    }
    n
}

fn newline(s: &[u8]) -> Option<usize> {
    if s.starts_with(b"\r\n") {
        Some(2)
    } else if s.first().is_some_and(|&c| c == b'\n' || c == b'\r') {
        Some(1)
    } else {
        None
    }
}

/// `( ( " " | "\t" )* ( "\n" | "\r" | "\r\n" ) )?`: the length, 0 when absent.
fn eol_after_blanks(s: &[u8]) -> usize {
    let blanks = s.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    newline(&s[blanks..]).map_or(0, |n| blanks + n)
}

fn dollar(s: &[u8]) -> Option<usize> {
    let b = s.iter().take_while(|&&c| c == b'\\').count();
    (s.get(b) == Some(&b'$')).then_some(b + 1)
}

fn dollar_bang(s: &[u8]) -> Option<usize> {
    let d = dollar(s)?;
    let b = s[d..].iter().take_while(|&&c| c == b'\\').count();
    (s.get(d + b) == Some(&b'!')).then_some(d + b + 1)
}

fn is_letter(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_directive_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

fn word(s: &[u8]) -> Option<usize> {
    let first = *s.first()?;
    if !(is_letter(first) || first == b'_' || first == b'@') {
        return None;
    }
    Some(1 + s[1..].iter().take_while(|&&c| is_directive_char(c)).count())
}

fn bracketed_word(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'{') {
        return None;
    }
    let first = *s.get(1)?;
    if !(is_letter(first) || first == b'_') {
        return None;
    }
    let n = 2 + s[2..].iter().take_while(|&&c| is_directive_char(c)).count();
    (s.get(n) == Some(&b'}')).then_some(n + 1)
}

fn escape_directive(s: &[u8]) -> Option<usize> {
    let b = s.iter().take_while(|&&c| c == b'\\').count();
    if b % 2 == 0 || s.get(b) != Some(&b'#') {
        return None;
    }
    let rest = &s[b + 1..];
    let w = word(rest).or_else(|| bracketed_word(rest))?;
    Some(b + 1 + w)
}

fn set_directive(s: &[u8]) -> Option<usize> {
    let mut n = s.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    n += lit(&s[n..], b"#set").or_else(|| lit(&s[n..], b"#{set}"))?;
    n += s[n..].iter().take_while(|&&c| c == b' ').count();
    (s.get(n) == Some(&b'(')).then_some(n + 1)
}

/// `"` ( [^"] | `""` )* `"`, or the same with `'`: the longest accepted prefix.
fn string_literal(s: &[u8]) -> Option<usize> {
    let q = *s.first()?;
    if q != b'"' && q != b'\'' {
        return None;
    }
    let mut best = None;
    let mut i = 1;
    while i < s.len() {
        if s[i] == q {
            best = Some(i + 1);
            if s.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    best
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|c| c.is_ascii_digit()).count()
}

fn integer_literal(s: &[u8]) -> Option<usize> {
    let sign = usize::from(s.first() == Some(&b'-'));
    let d = digits(&s[sign..]);
    if d == 0 {
        return None;
    }
    let n = sign + d;
    Some(if s[n..].starts_with(b"..") { n + 2 } else { n })
}

fn exponent(s: &[u8]) -> usize {
    if !matches!(s.first(), Some(b'e' | b'E')) {
        return 0;
    }
    let sign = usize::from(matches!(s.get(1), Some(b'+' | b'-')));
    let d = digits(&s[1 + sign..]);
    if d == 0 { 0 } else { 1 + sign + d }
}

fn float_literal(s: &[u8]) -> Option<usize> {
    let sign = usize::from(s.first() == Some(&b'-'));
    let d = digits(&s[sign..]);
    let mut best = None;
    if d > 0 && s.get(sign + d) == Some(&b'.') {
        let n = sign + d + 1;
        let n = n + digits(&s[n..]);
        best = Some(n + exponent(&s[n..]));
    }
    if d == 0 && s.get(sign) == Some(&b'.') {
        let f = digits(&s[sign + 1..]);
        if f > 0 {
            let n = sign + 1 + f;
            best = best.max(Some(n + exponent(&s[n..])));
        }
    }
    if d > 0 {
        let e = exponent(&s[sign + d..]);
        if e > 0 {
            best = best.max(Some(sign + d + e));
        }
    }
    best
}

fn identifier(s: &[u8]) -> Option<usize> {
    let first = *s.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    Some(1 + s[1..].iter().take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_').count())
}

/// `NodeUtils.getSpecialText` for one special token's image: its `#` and `$` chars, and a
/// run of backslashes ending in `$`.
fn special_text(image: &[u8], out: &mut String) {
    let mut i = 0;
    while i < image.len() {
        let c = image[i];
        if c == b'#' || c == b'$' {
            out.push(c as char);
        }
        if c == b'\\' {
            let mut j = i;
            let mut term = false;
            while j < image.len() {
                let cc = image[j];
                j += 1;
                if cc == b'\\' {
                    continue;
                }
                term = cc == b'$';
                break;
            }
            if term {
                // the backslashes and their `$`; Velocity's loop then skips one more char
                for _ in i..j - 1 {
                    out.push('\\');
                }
                out.push('$');
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = l.next().expect("lexes");
            if t.kind == Kind::Eof {
                return out;
            }
            out.push((t.kind, src[t.start..t.end].to_string()));
        }
    }

    #[test]
    fn directive_close_eats_the_line_end() {
        let k = kinds("#if(true)  \nx#end\n");
        assert_eq!(k[0], (Kind::If, "#if".into()));
        assert_eq!(k[3], (Kind::RParen, ")  \n".into()));
        assert_eq!(k[4], (Kind::Text, "x".into()));
        assert_eq!(k[5], (Kind::End, "#end\n".into()));
    }

    #[test]
    fn set_eats_indentation_only_at_a_token_start() {
        let k = kinds("  #set($a = 1)\n");
        assert_eq!(k[0], (Kind::SetDirective, "  #set(".into()));
        let k = kinds("x  #set($a = 1)\n");
        assert_eq!(k[0], (Kind::Text, "x  ".into()));
    }

    #[test]
    fn hyphens_belong_to_names() {
        let k = kinds("$a-b.c-d ");
        assert_eq!(k[0], (Kind::Identifier, "$a-b".into()));
        assert_eq!(k[1], (Kind::Dot, ".".into()));
        assert_eq!(k[2], (Kind::Identifier, "c-d".into()));
    }

    #[test]
    fn a_dangling_dollar_is_special_text() {
        let mut l = Lexer::new("$ x");
        let t = l.next().expect("lexes");
        assert_eq!((t.kind, t.special.as_str()), (Kind::Text, "$"));
        assert!(Lexer::new("a$").next().is_ok());
    }
}
