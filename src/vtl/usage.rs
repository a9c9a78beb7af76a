//! What a compiled template reads of AWS's variables, found once at compile time, so a render
//! builds only that: the `$context` keys it names (`$context.requestId` → `requestId`; any other
//! use of `$context` needs all of it), whether it calls `$input.params`, and with which literal
//! names.
//!
//! Owns: the walk over the tree. Must not: evaluate.

use super::ast::{Block, Expr, Modifier, Node, Ref};
use super::parse::{CONTEXT, INPUT, STAGE_VARIABLES};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// `$context` is used other than through `$context.<key>` (passed, printed, `get`).
    pub whole_context: bool,
    /// The first-level `$context` keys named.
    pub context_keys: Vec<Box<str>>,
    /// `$input.params(…)` is called.
    pub params: bool,
    /// Every `$input.params` call names a parameter by a plain string literal: these names
    /// (`None`: some call takes the whole map, or a computed name).
    pub param_names: Option<Vec<Box<str>>>,
    /// `$stageVariables` is read.
    pub stage_variables: bool,
}

impl Usage {
    /// Whether a render needs `$context.<key>` (first level, like `requestId` or `identity`).
    pub fn needs_context(&self, key: &str) -> bool {
        self.whole_context || self.context_keys.iter().any(|k| &**k == key)
    }

    pub fn uses_context(&self) -> bool {
        self.whole_context || !self.context_keys.is_empty()
    }
}

pub(super) fn of(block: &Block) -> Usage {
    let mut u = Usage::default();
    walk_block(block, &mut u);
    u
}

fn walk_block(block: &Block, u: &mut Usage) {
    for node in block {
        match node {
            Node::Text(_) | Node::Break | Node::Stop => {}
            Node::Ref(r) => walk_ref(r, u),
            Node::Set { target, value } => {
                walk_ref(target, u);
                walk_expr(value, u);
            }
            Node::If { branches, otherwise } => {
                for (c, b) in branches {
                    walk_expr(c, u);
                    walk_block(b, u);
                }
                if let Some(b) = otherwise {
                    walk_block(b, u);
                }
            }
            Node::Foreach { iterable, body, .. } => {
                walk_expr(iterable, u);
                walk_block(body, u);
            }
        }
    }
}

fn walk_ref(r: &Ref, u: &mut Usage) {
    u.stage_variables |= r.root == STAGE_VARIABLES;
    if r.root == CONTEXT {
        match r.mods.first() {
            Some(Modifier::Property(key)) => {
                if !u.context_keys.contains(key) {
                    u.context_keys.push(key.clone());
                }
            }
            _ => u.whole_context = true,
        }
    }
    if let (true, Some(Modifier::Method(name, args))) = (r.root == INPUT, r.mods.first())
        && &**name == "params"
    {
        // The first call decides whether names are known; any call without one makes them not.
        let names = if u.params { u.param_names.take() } else { Some(Vec::new()) };
        u.params = true;
        u.param_names = match (names, &args[..]) {
            (Some(mut names), [Expr::Str(n)]) => {
                if !names.contains(n) {
                    names.push(n.clone());
                }
                Some(names)
            }
            _ => None,
        };
    }
    for m in &r.mods {
        match m {
            Modifier::Property(_) => {}
            Modifier::Method(_, args) => args.iter().for_each(|a| walk_expr(a, u)),
            Modifier::Index(e) => walk_expr(e, u),
        }
    }
}

fn walk_expr(e: &Expr, u: &mut Usage) {
    match e {
        Expr::Ref(r) => walk_ref(r, u),
        Expr::Interp(b, _) => walk_block(b, u),
        Expr::Range(a, b) => {
            walk_expr(a, u);
            walk_expr(b, u);
        }
        Expr::List(items) => items.iter().for_each(|i| walk_expr(i, u)),
        Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
            walk_expr(k, u);
            walk_expr(v, u);
        }),
        Expr::Binary { left, right, .. } => {
            walk_expr(left, u);
            walk_expr(right, u);
        }
        Expr::Not(e) | Expr::Group(e) => walk_expr(e, u),
        Expr::Str(_)
        | Expr::Int(_)
        | Expr::Long(_)
        | Expr::BigInt(_)
        | Expr::Double(_)
        | Expr::True
        | Expr::False
        | Expr::Word(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::Template;

    #[test]
    fn finds_what_a_template_reads() {
        let t = Template::compile("$context.requestId $context.identity.sourceIp $input.path('$')").expect("ok");
        let u = t.usage();
        assert!(!u.whole_context && !u.params);
        assert!(u.needs_context("requestId") && u.needs_context("identity") && !u.needs_context("stage"));
        let t = Template::compile("#set($c = $context)$c.stage $input.params('id')").expect("ok");
        assert!(t.usage().whole_context && t.usage().params);
        let t = Template::compile("plain text").expect("ok");
        assert!(!t.usage().uses_context() && !t.usage().stage_variables);
        assert!(Template::compile("#if($stageVariables.a)x#end").expect("ok").usage().stage_variables);
        // Literal names are known; a whole-map or computed call needs everything.
        let t = Template::compile("$input.params('id') $input.params('X-Trace') $input.params('id')").expect("ok");
        assert_eq!(t.usage().param_names, Some(vec!["id".into(), "X-Trace".into()]));
        for all in ["$input.params('id') $input.params()", "$input.params($name)", "$input.params().path"] {
            let t = Template::compile(all).expect("ok");
            assert!(t.usage().params && t.usage().param_names.is_none(), "{all}");
        }
    }
}
