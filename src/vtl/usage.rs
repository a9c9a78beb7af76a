//! What a compiled template reads of AWS's variables, found once at compile time, so a render
//! builds only that: the `$context` keys it names (`$context.requestId` → `requestId`; any other
//! use of `$context` needs all of it), whether it calls `$input.params`, and with which literal
//! names.
//!
//! Owns: the walk over the tree. Must not: evaluate.

use super::ast::{Block, Expr, Modifier, Node, Ref, RefKind, Slot};
use super::parse::{CONTEXT, FIRST_USER_SLOT, INPUT, STAGE_VARIABLES};

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

/// What a walk over the tree reports, in source order: every reference read (with its
/// modifiers' arguments walked after it), every `#set` (its target's modifiers and its value
/// walked after it), every `#foreach` variable.
trait Visit {
    fn read(&mut self, r: &Ref);
    fn set(&mut self, target: &Ref, value: &Expr);
    fn loop_var(&mut self, _var: Slot) {}
}

impl Visit for Usage {
    fn read(&mut self, r: &Ref) {
        self.stage_variables |= r.root == STAGE_VARIABLES;
        if r.root == CONTEXT {
            match r.mods.first() {
                Some(Modifier::Property(key)) => {
                    if !self.context_keys.contains(key) {
                        self.context_keys.push(key.clone());
                    }
                }
                _ => self.whole_context = true,
            }
        }
        if let (true, Some(Modifier::Method(name, args))) = (r.root == INPUT, r.mods.first())
            && &**name == "params"
        {
            // The first call decides whether names are known; any call without one makes them not.
            let names = if self.params { self.param_names.take() } else { Some(Vec::new()) };
            self.params = true;
            self.param_names = match (names, &args[..]) {
                (Some(mut names), [Expr::Str(n)]) => {
                    if !names.contains(n) {
                        names.push(n.clone());
                    }
                    Some(names)
                }
                _ => None,
            };
        }
    }

    /// A `#set` target counts as read (`#set($context.requestOverride.header.X = …)` needs
    /// `requestOverride`).
    fn set(&mut self, target: &Ref, _value: &Expr) {
        self.read(target);
    }
}

fn walk_block(block: &Block, v: &mut impl Visit) {
    for node in block {
        match node {
            Node::Text(_) | Node::Break | Node::Stop => {}
            Node::Ref(r) => walk_ref(r, v),
            Node::Set { target, value, .. } => {
                v.set(target, value);
                walk_modifiers(target, v);
                walk_expr(value, v);
            }
            Node::If { branches, otherwise } => {
                for (c, b) in branches {
                    walk_expr(c, v);
                    walk_block(b, v);
                }
                if let Some(b) = otherwise {
                    walk_block(b, v);
                }
            }
            Node::Foreach { var, iterable, body, .. } => {
                v.loop_var(*var);
                walk_expr(iterable, v);
                walk_block(body, v);
            }
        }
    }
}

fn walk_ref(r: &Ref, v: &mut impl Visit) {
    v.read(r);
    walk_modifiers(r, v);
}

fn walk_modifiers(r: &Ref, v: &mut impl Visit) {
    for m in &r.mods {
        match m {
            Modifier::Property(_) => {}
            Modifier::Method(_, args) => args.iter().for_each(|a| walk_expr(a, v)),
            Modifier::Index(e) => walk_expr(e, v),
        }
    }
}

fn walk_expr(e: &Expr, v: &mut impl Visit) {
    match e {
        Expr::Ref(r) => walk_ref(r, v),
        Expr::Interp(b, _) => walk_block(b, v),
        Expr::Range(a, b) => {
            walk_expr(a, v);
            walk_expr(b, v);
        }
        Expr::List(items) => items.iter().for_each(|i| walk_expr(i, v)),
        Expr::Map(entries) => entries.iter().for_each(|(k, x)| {
            walk_expr(k, v);
            walk_expr(x, v);
        }),
        Expr::Binary { left, right, .. } => {
            walk_expr(left, v);
            walk_expr(right, v);
        }
        Expr::Not(e) | Expr::Group(e) => walk_expr(e, v),
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

/// Marks each `#set($x = $input.path('$'))` whose variable is read only as `$x.<name>…`
/// (never whole, never through a method or an index, assigned nothing else, no `#foreach`
/// variable): a map's property is only its `get(name)` (`methods::property`), so the entries
/// no `<name>` reads cannot change the output.
pub(super) fn narrow(root: &mut Block) {
    let mut refs = Refs::default();
    walk_block(root, &mut refs);
    if refs.reserved_assigned {
        return;
    }
    mark(root, &refs);
}

/// What [`narrow`] learns of each slot.
#[derive(Default)]
struct Refs {
    /// Slots assigned `$input.path('$')` whole.
    path_sets: Vec<Slot>,
    /// Slots assigned anything else, or read other than through a property, or looped over.
    spoiled: Vec<Slot>,
    /// The first-level properties read, per slot.
    props: Vec<(Slot, Box<str>)>,
    /// `$input` or another built-in is assigned or looped over: nothing is narrowed.
    reserved_assigned: bool,
}

impl Visit for Refs {
    fn read(&mut self, r: &Ref) {
        match r.mods.first() {
            Some(Modifier::Property(name)) => self.props.push((r.root, name.clone())),
            _ => self.spoiled.push(r.root),
        }
    }

    fn set(&mut self, target: &Ref, value: &Expr) {
        self.reserved_assigned |= target.root < FIRST_USER_SLOT;
        if target.mods.is_empty() && is_whole_path(value) {
            self.path_sets.push(target.root);
        } else {
            // `#set($x = …)` of anything else, and `#set($x.a = …)`, which changes it
            self.spoiled.push(target.root);
        }
    }

    fn loop_var(&mut self, var: Slot) {
        self.reserved_assigned |= var < FIRST_USER_SLOT;
        self.spoiled.push(var);
    }
}

fn is_whole_path(e: &Expr) -> bool {
    let Expr::Ref(r) = e else { return false };
    r.root == INPUT
        && r.computable
        && !r.escaped
        && r.kind != RefKind::Runt
        && matches!(&r.mods[..], [Modifier::Method(m, args)] if &**m == "path" && matches!(&args[..], [Expr::Str(p)] if &**p == "$"))
}

fn mark(block: &mut Block, refs: &Refs) {
    for node in block {
        match node {
            Node::Set { target, only, .. } => {
                let slot = target.root;
                if target.mods.is_empty() && refs.path_sets.contains(&slot) && !refs.spoiled.contains(&slot) {
                    let mut keys: Vec<Box<str>> = Vec::new();
                    for (_, name) in refs.props.iter().filter(|(s, _)| *s == slot) {
                        if !keys.contains(name) {
                            keys.push(name.clone());
                        }
                    }
                    *only = Some(keys.into());
                }
            }
            Node::If { branches, otherwise } => {
                for (_, b) in branches {
                    mark(b, refs);
                }
                if let Some(b) = otherwise {
                    mark(b, refs);
                }
            }
            Node::Foreach { body, .. } => mark(body, refs),
            Node::Text(_) | Node::Ref(_) | Node::Break | Node::Stop => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Template;
    use super::super::ast::Node;

    /// The `only` keys of each top-level `#set`, in order.
    fn narrowed(source: &str) -> Vec<Option<Vec<String>>> {
        let t = Template::compile(source).expect("compiles");
        t.root
            .iter()
            .filter_map(|n| match n {
                Node::Set { only, .. } => Some(only.as_ref().map(|k| k.iter().map(|k| k.to_string()).collect())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn narrows_a_document_read_only_through_properties() {
        let keys = |k: &[&str]| Some(k.iter().map(|k| k.to_string()).collect::<Vec<_>>());
        let seed = "#set($r = $input.path('$'))\n{\"n\": \"$r.name\", \"e\": \"$!{r.email}\", \"l\": $r.name.length()}";
        assert_eq!(narrowed(seed), vec![keys(&["name", "email"])]);
        assert_eq!(narrowed("#set($r = $input.path('$'))#if($r.a)$r.b.c#end"), vec![keys(&["a", "b"])]);
        assert_eq!(narrowed("#set($r = $input.path('$'))x"), vec![keys(&[])]);
        // Read whole, through a method or an index, changed, reassigned, looped over, or a
        // path other than `$`: the document is built whole.
        for whole in [
            "#set($r = $input.path('$'))$r",
            "#set($r = $input.path('$'))\"$r\"",
            "#set($r = $input.path('$'))#if($r)x#end",
            "#set($r = $input.path('$'))$r.get('a')",
            "#set($r = $input.path('$'))$r.size()",
            "#set($r = $input.path('$'))$r['a']",
            "#set($r = $input.path('$'))#set($s = $r)$s.a",
            "#set($r = $input.path('$'))#foreach($k in $r.keySet())$k#end",
            "#set($r = $input.path('$.a'))$r.b",
            "#set($r = $input.json('$'))$r.b",
        ] {
            assert!(narrowed(whole).iter().all(Option::is_none), "{whole}");
        }
        assert_eq!(narrowed("#set($r = $input.path('$'))#set($r.x = 1)$r.x"), vec![None, None]);
        assert_eq!(narrowed("#set($r = $input.path('$'))#set($r = 1)$r.a"), vec![None, None]);
        assert_eq!(narrowed("#set($r = $input.path('$'))#foreach($r in [1])#end$r.a"), vec![None]);
        assert_eq!(narrowed("#set($input = 1)#set($r = $input.path('$'))$r.a"), vec![None, None]);
        // A narrowed document renders as the whole one does.
        let body = r#"{"name":"Ada","tags":["a","b"],"skip":{"deep":[1,2,3]},"email":"a@b.c"}"#;
        for source in [seed, "#set($r = $input.path('$'))$r.tags $r.skip.deep $r.nope|$r.class"] {
            let t = Template::compile(source).expect("compiles");
            let mut narrowed_out = String::new();
            let req = || super::super::Request {
                body,
                params: super::super::Value::map(vec![]).into(),
                context: super::super::Value::map(vec![]),
                stage_variables: super::super::Value::map(vec![]),
            };
            t.render(req(), &Default::default(), &mut narrowed_out).expect("renders");
            let mut whole = Template::compile(source).expect("compiles");
            clear(&mut whole.root);
            let mut whole_out = String::new();
            whole.render(req(), &Default::default(), &mut whole_out).expect("renders");
            assert_eq!(narrowed_out, whole_out, "{source}");
        }
    }

    fn clear(block: &mut super::super::ast::Block) {
        for node in block {
            if let Node::Set { only, .. } = node {
                *only = None;
            }
        }
    }

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
