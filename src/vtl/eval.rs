//! The renderer: walks a compiled template with Velocity 1.7's runtime semantics (what `#if`
//! counts as true, `==` across types, `#set` of a null keeping the old value, integer
//! arithmetic that widens like `MathUtils`, `#foreach`'s counters and scope) and AWS's one
//! change, a null reference printing as nothing.
//!
//! Owns: evaluation order and control flow. Must not: parse, or know HTTP (the caller hands
//! in a [`Request`] of plain values). Costs: one pass over the tree; text nodes are copied,
//! values are built only where the template asks for them.

use std::cell::Cell;
use std::rc::Rc;

use super::ast::{Block, Expr, Modifier, Node, Op, Ref, RefKind, Slot};
use super::methods;
use super::parse::{CONTEXT, FOREACH, INPUT, STAGE_VARIABLES, UTIL, VELOCITY_COUNT, VELOCITY_HAS_NEXT};
use super::value::{ListKind, Scope, Value, java_equals, same_class_family};
use super::{Limits, RenderError, Request, Template};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Break,
    Stop,
}

pub(super) struct Renderer<'a, 'o> {
    slots: Vec<Value<'a>>,
    pub(super) body: &'a str,
    pub(super) params: super::Params<'a>,
    limits: Limits,
    out: &'o mut String,
    steps: usize,
}

type R<T> = Result<T, RenderError>;

pub(super) fn render<'a>(t: &'a Template, req: Request<'a>, limits: Limits, out: &mut String) -> R<()> {
    let mut slots = vec![Value::Null; t.slots];
    slots[INPUT as usize] = Value::Input;
    slots[UTIL as usize] = Value::Util;
    slots[CONTEXT as usize] = req.context;
    slots[STAGE_VARIABLES as usize] = req.stage_variables;
    let mut r = Renderer { slots, body: req.body, params: req.params, limits, out, steps: 0 };
    r.block(&t.root)?;
    Ok(())
}

fn err<T>(at: u32, message: impl Into<String>) -> R<T> {
    Err(RenderError { at: at as usize, message: message.into() })
}

impl<'a> Renderer<'a, '_> {
    fn slot(&self, s: Slot) -> &Value<'a> {
        &self.slots[s as usize]
    }

    fn block(&mut self, block: &'a Block) -> R<Flow> {
        for node in block {
            self.steps += 1;
            if self.steps > self.limits.max_steps {
                return err(0, format!("the template ran more than {} steps", self.limits.max_steps));
            }
            if self.out.len() > self.limits.max_output {
                return err(0, format!("the template wrote more than {} bytes", self.limits.max_output));
            }
            let flow = match node {
                Node::Text(s) => {
                    self.out.push_str(s);
                    Flow::Go
                }
                Node::Ref(r) => {
                    self.render_ref(r)?;
                    Flow::Go
                }
                Node::Set { target, value, only } => {
                    self.set(target, value, only.as_deref())?;
                    Flow::Go
                }
                Node::If { branches, otherwise } => self.if_(branches, otherwise.as_ref())?,
                Node::Foreach { var, iterable, body, at } => self.foreach(*var, iterable, body, *at)?,
                Node::Break => Flow::Break,
                Node::Stop => Flow::Stop,
            };
            if flow != Flow::Go {
                return Ok(flow);
            }
        }
        Ok(Flow::Go)
    }

    fn if_(&mut self, branches: &'a [(Expr, Block)], otherwise: Option<&'a Block>) -> R<Flow> {
        for (cond, body) in branches {
            if self.truth(cond)? {
                return self.block(body);
            }
        }
        match otherwise {
            Some(b) => self.block(b),
            None => Ok(Flow::Go),
        }
    }

    /// ASTReference.render, with AWS's null-as-empty insertion handler.
    fn render_ref(&mut self, r: &'a Ref) -> R<()> {
        if r.kind == RefKind::Runt {
            self.out.push_str(&r.literal);
            return Ok(());
        }
        let value = if r.computable { self.execute(r)? } else { Value::Null };
        self.out.push_str(&r.esc_prefix);
        if r.escaped {
            if value.is_null() {
                self.out.push('\\');
            }
            self.out.push_str(&r.null_string);
            return Ok(());
        }
        self.out.push_str(&r.more_prefix);
        write_value(&value, self.out);
        Ok(())
    }

    fn execute(&mut self, r: &'a Ref) -> R<Value<'a>> {
        if r.kind == RefKind::Runt || !r.computable {
            return Ok(Value::Null);
        }
        let mut v = self.slot(r.root).clone();
        for m in &r.mods {
            if v.is_null() {
                return Ok(Value::Null);
            }
            v = self.apply(&v, m, r.at)?;
        }
        Ok(v)
    }

    fn apply(&mut self, v: &Value<'a>, m: &'a Modifier, at: u32) -> R<Value<'a>> {
        match m {
            Modifier::Property(name) => Ok(methods::property(v, name, self.body)),
            Modifier::Method(name, args) => {
                // On the stack for the few arguments methods take.
                let mut values = smallvec::SmallVec::<[Value<'a>; 3]>::new();
                for a in args {
                    values.push(self.value(a)?);
                }
                let v = methods::call(self, v, name, &values).or_else(|m| err(at, m))?;
                if let Value::Str(s) = &v {
                    self.check_len(s.as_str().len())?;
                }
                Ok(v)
            }
            Modifier::Index(e) => {
                let arg = self.value(e)?;
                methods::index(v, arg).or_else(|m| err(at, m))
            }
        }
    }

    /// ASTSetDirective.render: a null value changes nothing.
    fn set(&mut self, target: &'a Ref, value: &'a Expr, only: Option<&[Box<str>]>) -> R<()> {
        let v = match only {
            // `$input.path('$')`, as `value` would give it, with only the entries read later
            Some(keys) => {
                let v = super::aws::path_keys(self.body, keys);
                if let Value::Str(s) = &v {
                    self.check_len(s.as_str().len())?;
                }
                v
            }
            None => self.value(value)?,
        };
        if v.is_null() {
            return Ok(());
        }
        let Some((last, walk)) = target.mods.split_last() else {
            self.slots[target.root as usize] = v;
            return Ok(());
        };
        let mut obj = self.slot(target.root).clone();
        for m in walk {
            if obj.is_null() {
                return Ok(());
            }
            obj = self.apply(&obj, m, target.at)?;
        }
        match last {
            Modifier::Index(e) => {
                let arg = self.value(e)?;
                methods::set_index(&obj, arg, v).or_else(|m| err(target.at, m))
            }
            Modifier::Property(name) => {
                if let Value::Map(m) = &obj {
                    m.borrow_mut().put(Value::string(name.to_string()), v);
                }
                Ok(())
            }
            Modifier::Method(..) => Ok(()),
        }
    }

    fn foreach(&mut self, var: Slot, iterable: &'a Expr, body: &'a Block, at: u32) -> R<Flow> {
        let source = self.value(iterable)?;
        let (list, map) = match &source {
            Value::List(l) => (Some(l.clone()), None),
            Value::Map(m) => (None, Some(m.clone())),
            _ => return Ok(Flow::Go),
        };
        let len_now = || match (&list, &map) {
            (Some(l), _) => l.borrow().items.len(),
            (_, Some(m)) => m.borrow().entries.len(),
            _ => 0,
        };
        let item_at = |i: usize| match (&list, &map) {
            (Some(l), _) => l.borrow().items[i].clone(),
            (_, Some(m)) => m.borrow().entries[i].1.clone(),
            _ => Value::Null,
        };
        let start_len = len_now();
        let saved = (
            self.slot(var).clone(),
            self.slot(VELOCITY_COUNT).clone(),
            self.slot(VELOCITY_HAS_NEXT).clone(),
            self.slot(FOREACH).clone(),
        );
        let scope = Rc::new(Scope { index: Cell::new(-1), has_next: Cell::new(false), parent: saved.3.clone() });
        self.slots[FOREACH as usize] = Value::Foreach(scope.clone());
        let mut cursor = 0;
        let mut counter: i32 = 1;
        let mut result = Ok(Flow::Go);
        while cursor != len_now() {
            if len_now() != start_len {
                result = err(at, "the list changed while #foreach walked it (ConcurrentModificationException)");
                break;
            }
            self.slots[VELOCITY_COUNT as usize] = Value::Int(counter);
            let value = item_at(cursor);
            cursor += 1;
            let has_next = cursor != len_now();
            self.slots[VELOCITY_HAS_NEXT as usize] = Value::Bool(has_next);
            self.slots[var as usize] = value;
            scope.index.set(scope.index.get() + 1);
            scope.has_next.set(has_next);
            match self.block(body) {
                Ok(Flow::Go) => {}
                Ok(Flow::Break) => break,
                other => {
                    result = other;
                    break;
                }
            }
            counter += 1;
            if (counter - 1) as usize >= self.limits.max_foreach {
                break;
            }
        }
        self.slots[var as usize] = saved.0;
        self.slots[VELOCITY_COUNT as usize] = saved.1;
        self.slots[VELOCITY_HAS_NEXT as usize] = saved.2;
        self.slots[FOREACH as usize] = saved.3;
        result
    }

    /// A node's `value()`.
    pub(super) fn value(&mut self, e: &'a Expr) -> R<Value<'a>> {
        Ok(match e {
            Expr::Ref(r) => self.execute(r)?,
            Expr::Str(s) => Value::str(s),
            Expr::Interp(block, line_comment) => {
                let mut s = String::new();
                std::mem::swap(self.out, &mut s);
                let flow = self.block(block);
                std::mem::swap(self.out, &mut s);
                flow?;
                if !line_comment && !s.is_empty() {
                    s.pop();
                }
                self.check_len(s.len())?;
                Value::string(s)
            }
            Expr::Int(i) => Value::Int(*i),
            Expr::Long(l) => Value::Long(*l),
            Expr::BigInt(b) => Value::BigInt(b.as_ref().into()),
            Expr::Double(d) => Value::Double(*d),
            Expr::True => Value::Bool(true),
            Expr::False => Value::Bool(false),
            Expr::Word(_) => Value::Null,
            Expr::Range(a, b) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                match (int_value(&a), int_value(&b)) {
                    (Some(l), Some(r)) => {
                        let n = (i64::from(l) - i64::from(r)).unsigned_abs() as usize + 1;
                        if n > self.limits.max_range {
                            return err(
                                0,
                                format!("the range [{l}..{r}] has more than {} items", self.limits.max_range),
                            );
                        }
                        let step = if l >= r { -1 } else { 1 };
                        let items = (0..n as i64).map(|i| Value::Int((i64::from(l) + i * step) as i32)).collect();
                        Value::list(ListKind::ArrayList, items)
                    }
                    _ => Value::Null,
                }
            }
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.value(i)?);
                }
                Value::list(ListKind::ArrayList, out)
            }
            Expr::Map(entries) => {
                let mut m = super::value::Map::default();
                for (k, v) in entries {
                    let k = self.value(k)?;
                    let v = self.value(v)?;
                    m.put(k, v);
                }
                Value::Map(Rc::new(std::cell::RefCell::new(m)))
            }
            Expr::Binary { op, left, right, left_literal, right_literal } => match op {
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod => {
                    let (l, r) = (self.value(left)?, self.value(right)?);
                    if *op == Op::Add && (matches!(l, Value::Str(_)) || matches!(r, Value::Str(_))) {
                        let mut s = String::new();
                        match &l {
                            Value::Null => s.push_str(left_literal),
                            v => v.write_java(&mut s),
                        }
                        match &r {
                            Value::Null => s.push_str(right_literal),
                            v => v.write_java(&mut s),
                        }
                        self.check_len(s.len())?;
                        return Ok(Value::string(s));
                    }
                    arithmetic(*op, &l, &r)
                }
                _ => Value::Bool(self.truth(e)?),
            },
            Expr::Not(_) => Value::Bool(self.truth(e)?),
            Expr::Group(inner) => self.value(inner)?,
        })
    }

    /// Strings a template builds are bounded like its output.
    pub(super) fn check_len(&self, len: usize) -> R<()> {
        if len > self.limits.max_output {
            return err(0, format!("the template built a string of more than {} bytes", self.limits.max_output));
        }
        Ok(())
    }

    /// A node's `evaluate()`: what `#if` sees.
    fn truth(&mut self, e: &'a Expr) -> R<bool> {
        Ok(match e {
            Expr::Ref(r) => match self.execute(r)? {
                Value::Null => false,
                Value::Bool(b) => b,
                _ => true,
            },
            Expr::True => true,
            Expr::Group(inner) => self.truth(inner)?,
            Expr::Not(inner) => !self.truth(inner)?,
            Expr::Binary { op: Op::And, left, right, .. } => self.truth(left)? && self.truth(right)?,
            Expr::Binary { op: Op::Or, left, right, .. } => self.truth(left)? || self.truth(right)?,
            Expr::Binary { op: op @ (Op::Eq | Op::Ne), left, right, .. } => {
                let (l, r) = (self.value(left)?, self.value(right)?);
                let eq = velocity_equals(&l, &r);
                if *op == Op::Eq { eq } else { !eq }
            }
            Expr::Binary { op: op @ (Op::Lt | Op::Gt | Op::Le | Op::Ge), left, right, .. } => {
                let (l, r) = (self.value(left)?, self.value(right)?);
                match compare(&l, &r) {
                    Some(o) => match op {
                        Op::Lt => o.is_lt(),
                        Op::Gt => o.is_gt(),
                        Op::Le => o.is_le(),
                        _ => o.is_ge(),
                    },
                    None => false,
                }
            }
            _ => false,
        })
    }
}

/// How a reference's value prints: Java's `toString`; null prints nothing (AWS).
fn write_value(v: &Value, out: &mut String) {
    if !v.is_null() {
        v.write_java(out);
    }
}

fn int_value(v: &Value) -> Option<i32> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Long(l) => Some(*l as i32),
        Value::Double(d) => Some(*d as i32),
        Value::BigInt(b) => b.parse::<i128>().ok().map(|x| x as i32),
        _ => None,
    }
}

/// ASTEQNode.evaluate.
fn velocity_equals<'a>(l: &Value<'a>, r: &Value<'a>) -> bool {
    if l.is_number() && r.is_number() {
        return compare(l, r) == Some(std::cmp::Ordering::Equal);
    }
    if !l.is_null() && !r.is_null() && same_class_family(l, r) {
        return java_equals(l, r);
    }
    match (l.is_null(), r.is_null()) {
        (true, true) => true,
        (true, false) | (false, true) => false,
        _ => l.to_java_string() == r.to_java_string(),
    }
}

enum Num {
    Long(i64, bool),
    Big(i128),
    Double(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::Long(i64::from(*i), false)),
        Value::Long(l) => Some(Num::Long(*l, true)),
        Value::BigInt(b) => match b.parse::<i128>() {
            Ok(x) => Some(Num::Big(x)),
            Err(_) => b.parse().ok().map(Num::Double),
        },
        Value::Double(d) => Some(Num::Double(*d)),
        _ => None,
    }
}

/// MathUtils.compare; None when either side is not a number. Java's `<`/`>` on a NaN are
/// both false, which MathUtils reports as equal.
fn compare(l: &Value, r: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    let (a, b) = (num(l)?, num(r)?);
    let int = |n: &Num| match n {
        Num::Long(x, _) => Some(i128::from(*x)),
        Num::Big(x) => Some(*x),
        Num::Double(_) => None,
    };
    Some(match (int(&a), int(&b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (as_f64(&a), as_f64(&b));
            if x < y {
                Ordering::Less
            } else if x > y {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
    })
}

/// MathUtils' add, subtract, multiply, divide and modulo, and the division by zero that
/// ASTDivNode and ASTModNode turn into null.
fn arithmetic<'a>(op: Op, l: &Value<'a>, r: &Value<'a>) -> Value<'a> {
    let (Some(a), Some(b)) = (num(l), num(r)) else {
        return Value::Null;
    };
    let zero = match &b {
        Num::Long(x, _) => *x == 0,
        Num::Big(x) => *x == 0,
        Num::Double(x) => *x == 0.0,
    };
    if zero && matches!(op, Op::Div | Op::Mod) {
        return Value::Null;
    }
    match (a, b) {
        (Num::Long(x, xl), Num::Long(y, yl)) => {
            let wide = xl || yl;
            let result = match op {
                Op::Add => x.checked_add(y),
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div => Some(x.wrapping_div(y)),
                _ => Some(x.wrapping_rem(y)),
            };
            match result {
                Some(v) if !wide && i32::try_from(v).is_ok() => Value::Int(v as i32),
                Some(v) => Value::Long(v),
                None => {
                    let (x, y) = (i128::from(x), i128::from(y));
                    let v = match op {
                        Op::Add => x + y,
                        Op::Sub => x - y,
                        _ => x * y,
                    };
                    Value::BigInt(v.to_string().into())
                }
            }
        }
        (a, b) if matches!(a, Num::Double(_)) || matches!(b, Num::Double(_)) => {
            let (x, y) = (as_f64(&a), as_f64(&b));
            Value::Double(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => x % y,
            })
        }
        (a, b) => {
            let (x, y) = (as_i128(&a), as_i128(&b));
            let v = match op {
                Op::Add => x.checked_add(y),
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div => x.checked_div(y),
                _ => x.checked_rem_euclid(y),
            };
            match v {
                Some(v) => Value::BigInt(v.to_string().into()),
                None => Value::Null,
            }
        }
    }
}

fn as_f64(n: &Num) -> f64 {
    match n {
        Num::Long(x, _) => *x as f64,
        Num::Big(x) => *x as f64,
        Num::Double(x) => *x,
    }
}

fn as_i128(n: &Num) -> i128 {
    match n {
        Num::Long(x, _) => i128::from(*x),
        Num::Big(x) => *x,
        Num::Double(x) => *x as i128,
    }
}
