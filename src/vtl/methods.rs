//! What `$x.name`, `$x.name(…)` and `$x[i]` do on each kind of value: Velocity's property
//! lookup order (a getter, `Map.get`, a boolean `isX`), the Java methods templates call
//! (String, List, Map, Map.Entry, Number, Boolean, `$foreach`), and AWS's `$input` and
//! `$util`. A method Java would not find gives null, as in Velocity; one that would throw
//! (an index out of range, a null where Java needs a value, a bad regex) is an error.
//!
//! Owns: the method table. Must not: walk templates.

use super::eval::Renderer;
use super::text;
use super::value::{ListKind, Str, Value, java_equals};

type Res<'a> = Result<Value<'a>, String>;

const VOID: &str = "";

fn class_of(v: &Value) -> String {
    format!("class {}", v.class())
}

/// `$v.name`: Velocity 1.7's UberspectImpl order.
pub(super) fn property<'a>(v: &Value<'a>, name: &str, body: &'a str) -> Value<'a> {
    if name == "class" {
        return Value::string(class_of(v));
    }
    match v {
        Value::Map(m) => m.borrow().get_str(name).cloned().unwrap_or_default(),
        Value::Entry(e) => match name {
            "key" | "Key" => e.0.clone(),
            "value" | "Value" => e.1.clone(),
            _ => Value::Null,
        },
        Value::List(l) => match name {
            "empty" | "Empty" => Value::Bool(l.borrow().items.is_empty()),
            _ => Value::Null,
        },
        Value::Str(s) => match name {
            "empty" | "Empty" => Value::Bool(s.as_str().is_empty()),
            _ => Value::Null,
        },
        Value::Foreach(f) => match name {
            "index" | "Index" => Value::Int(f.index.get()),
            "count" | "Count" => Value::Int(f.index.get() + 1),
            "hasNext" | "HasNext" => Value::Bool(f.has_next.get()),
            "first" | "First" => Value::Bool(f.index.get() == 0),
            "last" | "Last" => Value::Bool(!f.has_next.get()),
            "parent" | "Parent" => f.parent.clone(),
            "topmost" | "Topmost" => {
                let mut top = v.clone();
                while let Value::Foreach(s) = &top {
                    if s.parent.is_null() {
                        break;
                    }
                    let p = s.parent.clone();
                    top = p;
                }
                top
            }
            _ => Value::Null,
        },
        Value::Input => match name {
            "body" | "Body" => Value::str(body),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// `$v[arg]`: `get(arg)` after turning a negative integer into `size() + arg`.
pub(super) fn index<'a>(v: &Value<'a>, arg: Value<'a>) -> Res<'a> {
    match v {
        Value::List(l) if matches!(l.borrow().kind, ListKind::ArrayList | ListKind::Json | ListKind::Array) => {
            let list = l.borrow();
            let Value::Int(i) = arg else { return Ok(Value::Null) };
            let len = list.items.len();
            let i = if i < 0 { len as i64 + i64::from(i) } else { i64::from(i) };
            usize::try_from(i)
                .ok()
                .and_then(|i| list.items.get(i).cloned())
                .ok_or_else(|| format!("index {i} out of bounds for length {len}"))
        }
        Value::Map(m) => {
            let arg = match arg {
                Value::Int(i) if i < 0 => Value::Int(m.borrow().entries.len() as i32 + i),
                a => a,
            };
            Ok(m.borrow().get(&arg).cloned().unwrap_or_default())
        }
        Value::Str(_) | Value::List(_) if matches!(arg, Value::Int(i) if i < 0) => {
            Err(format!("a negative index needs a size() method, which {} lacks", v.class()))
        }
        _ => Ok(Value::Null),
    }
}

/// `#set($v[arg] = value)`: `set(int, value)` on a list, `put` on a map.
pub(super) fn set_index<'a>(v: &Value<'a>, arg: Value<'a>, value: Value<'a>) -> Result<(), String> {
    match v {
        Value::List(l) => {
            let mut list = l.borrow_mut();
            let Value::Int(i) = arg else { return Ok(()) };
            let len = list.items.len();
            let i = if i < 0 { len as i64 + i64::from(i) } else { i64::from(i) };
            match usize::try_from(i).ok().filter(|&i| i < len) {
                Some(i) => {
                    list.items[i] = value;
                    Ok(())
                }
                None => Err(format!("index {i} out of bounds for length {len}")),
            }
        }
        Value::Map(m) => {
            m.borrow_mut().put(arg, value);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A String parameter: Some(None) for a null argument (Java passes it), None when the
/// argument is not a String (Velocity finds no such method).
fn s<'b>(v: &'b Value) -> Option<Option<&'b str>> {
    match v {
        Value::Str(s) => Some(Some(s.as_str())),
        Value::Null => Some(None),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i32> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn npe<'a>(method: &str) -> Res<'a> {
    Err(format!("{method}: NullPointerException (a null argument)"))
}

/// `$v.name(args)`.
pub(super) fn call<'a>(r: &mut Renderer<'a, '_>, v: &Value<'a>, name: &str, args: &[Value<'a>]) -> Res<'a> {
    let found = match v {
        Value::Str(st) => string_method(st, name, args)?,
        Value::List(_) => list_method(v, name, args)?,
        Value::Map(_) => map_method(v, name, args)?,
        Value::Entry(e) => match (name, args.len()) {
            ("getKey", 0) => Some(e.0.clone()),
            ("getValue", 0) => Some(e.1.clone()),
            _ => None,
        },
        Value::Int(_) | Value::Long(_) | Value::Double(_) | Value::BigInt(_) => number_method(v, name, args),
        Value::Bool(b) => match (name, args.len()) {
            ("booleanValue", 0) => Some(Value::Bool(*b)),
            _ => None,
        },
        Value::Foreach(_) => match (name, args.len()) {
            (
                "getIndex" | "getCount" | "hasNext" | "getHasNext" | "isFirst" | "isLast" | "getParent" | "getTopmost",
                0,
            ) => {
                let prop = match name {
                    "getIndex" => "index",
                    "getCount" => "count",
                    "hasNext" | "getHasNext" => "hasNext",
                    "isFirst" => "first",
                    "isLast" => "last",
                    "getParent" => "parent",
                    _ => "topmost",
                };
                Some(property(v, prop, r.body))
            }
            _ => None,
        },
        Value::Input => super::aws::input_method(r, name, args)?,
        Value::Util => super::aws::util_method(name, args)?,
        Value::Null => None,
    };
    if let Some(v) = found {
        return Ok(v);
    }
    // Velocity 1.7's MethodMap counts a method without parameters applicable to any
    // arguments; Java's reflection then refuses the call
    if !args.is_empty() && has_nullary(v, name) {
        return Err(format!("{name}() takes no arguments: wrong number of arguments"));
    }
    // Object's methods, on everything
    Ok(match (name, args) {
        ("toString", []) => Value::string(v.to_java_string()),
        ("equals", [o]) => Value::Bool(java_equals(v, o)),
        ("getClass", []) => Value::string(class_of(v)),
        ("hashCode", []) if matches!(v, Value::Str(_)) => Value::Int(text::java_hash(v.as_str().unwrap_or(""))),
        _ => Value::Null,
    })
}

fn string_method<'a>(st: &Str<'a>, name: &str, args: &[Value<'a>]) -> Result<Option<Value<'a>>, String> {
    let this = st.as_str();
    let len16 = || text::utf16_len(this);
    let sub = |from: usize, to: usize| -> Result<Value<'a>, String> {
        let (Some(a), Some(b)) = (text::byte_at(this, from), text::byte_at(this, to)) else {
            return Err(format!("substring: begin {from}, end {to}, length {}", len16()));
        };
        if a > b {
            return Err(format!("substring: begin {from}, end {to}, length {}", len16()));
        }
        Ok(match st {
            Str::Borrowed(b0) => Value::str(&b0[a..b]),
            Str::Shared(_) => Value::string(this[a..b].to_string()),
        })
    };
    let r = match (name, args) {
        ("length", []) => Value::Int(len16() as i32),
        ("isEmpty", []) => Value::Bool(this.is_empty()),
        ("toString" | "intern", []) => Value::Str(st.clone()),
        ("toLowerCase", []) => Value::string(this.to_lowercase()),
        ("toUpperCase", []) => Value::string(this.to_uppercase()),
        ("trim", []) => Value::string(text::java_trim(this).to_string()),
        ("hashCode", []) => Value::Int(text::java_hash(this)),
        ("charAt", [i]) => {
            let Some(i) = int(i) else { return Ok(None) };
            let from = usize::try_from(i).map_err(|_| format!("charAt: index {i}"))?;
            if from >= len16() {
                return Err(format!("charAt: index {i}, length {}", len16()));
            }
            sub(from, from + 1)?
        }
        ("substring", [a]) => {
            let Some(a) = int(a) else { return Ok(None) };
            let a = usize::try_from(a).map_err(|_| format!("substring: begin {a}"))?;
            sub(a, len16())?
        }
        ("substring", [a, b]) => {
            let (Some(a), Some(b)) = (int(a), int(b)) else { return Ok(None) };
            let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
                return Err(format!("substring: begin {a}, end {b}"));
            };
            sub(a, b)?
        }
        ("indexOf" | "lastIndexOf", [x]) | ("indexOf" | "lastIndexOf", [x, _]) => {
            let from = match args.get(1) {
                Some(f) => match int(f) {
                    Some(f) => Some(f),
                    None => return Ok(None),
                },
                None => None,
            };
            let needle = match x {
                Value::Str(n) => n.as_str().to_string(),
                Value::Int(c) => match char::from_u32(*c as u32) {
                    Some(c) => c.to_string(),
                    None => return Ok(Some(Value::Int(-1))),
                },
                Value::Null => return Err(format!("{name}: NullPointerException (a null argument)")),
                _ => return Ok(None),
            };
            let last = name == "lastIndexOf";
            Value::Int(index_of(this, &needle, from, last))
        }
        ("contains", [x]) => match s(x) {
            Some(Some(n)) => Value::Bool(this.contains(n)),
            Some(None) => return npe("contains").map(Some),
            None => return Ok(None),
        },
        ("startsWith", [x]) | ("endsWith", [x]) => match s(x) {
            Some(Some(n)) => Value::Bool(if name == "startsWith" { this.starts_with(n) } else { this.ends_with(n) }),
            Some(None) => return npe(name).map(Some),
            None => return Ok(None),
        },
        ("startsWith", [x, off]) => match (s(x), int(off)) {
            (Some(Some(n)), Some(off)) => Value::Bool(
                usize::try_from(off)
                    .ok()
                    .and_then(|o| text::byte_at(this, o))
                    .is_some_and(|b| this[b..].starts_with(n)),
            ),
            (Some(None), Some(_)) => return npe(name).map(Some),
            _ => return Ok(None),
        },
        ("equals", [x]) => Value::Bool(matches!(x, Value::Str(o) if o.as_str() == this)),
        ("equalsIgnoreCase", [x]) => match s(x) {
            Some(Some(o)) => Value::Bool(eq_ignore_case(this, o)),
            Some(None) => Value::Bool(false),
            None => return Ok(None),
        },
        ("compareTo", [x]) => match s(x) {
            Some(Some(o)) => Value::Int(text::java_compare(this, o)),
            Some(None) => return npe(name).map(Some),
            None => return Ok(None),
        },
        ("concat", [x]) => match s(x) {
            Some(Some(o)) => Value::string(format!("{this}{o}")),
            Some(None) => return npe(name).map(Some),
            None => return Ok(None),
        },
        ("replace", [a, b]) => match (s(a), s(b)) {
            (Some(Some(a)), Some(Some(b))) => Value::string(java_replace(this, a, b)),
            (Some(_), Some(_)) => return npe(name).map(Some),
            _ => return Ok(None),
        },
        ("replaceAll" | "replaceFirst", [a, b]) => match (s(a), s(b)) {
            (Some(Some(re)), Some(Some(rep))) => {
                let re = super::regex::compile(re)?;
                Value::string(super::regex::replace(&re, this, rep, name == "replaceAll")?)
            }
            (Some(_), Some(_)) => return npe(name).map(Some),
            _ => return Ok(None),
        },
        ("matches", [a]) => match s(a) {
            Some(Some(re)) => {
                let re = super::regex::compile_anchored(re)?;
                Value::Bool(re.is_match(this))
            }
            Some(None) => return npe(name).map(Some),
            None => return Ok(None),
        },
        ("split", [a]) | ("split", [a, _]) => {
            let limit = match args.get(1) {
                Some(l) => match int(l) {
                    Some(l) => l,
                    None => return Ok(None),
                },
                None => 0,
            };
            match s(a) {
                Some(Some(re)) => {
                    let parts = super::regex::split(this, re, limit)?;
                    Value::list(ListKind::Array, parts.into_iter().map(Value::string).collect())
                }
                Some(None) => return npe(name).map(Some),
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (a.chars(), b.chars());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) => {
                if p != q && p.to_uppercase().ne(q.to_uppercase()) && p.to_lowercase().ne(q.to_lowercase()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// `String.replace(CharSequence, CharSequence)`: an empty target inserts between chars.
fn java_replace(this: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        let mut out = String::from(to);
        for c in this.chars() {
            out.push(c);
            out.push_str(to);
        }
        return out;
    }
    this.replace(from, to)
}

/// `indexOf`/`lastIndexOf` with an optional start, in UTF-16 units.
fn index_of(this: &str, needle: &str, from: Option<i32>, last: bool) -> i32 {
    let len = text::utf16_len(this) as i64;
    if last {
        let from = from.map_or(len, i64::from).min(len);
        if from < 0 {
            return -1;
        }
        let end = text::byte_at(this, from as usize).unwrap_or(this.len());
        let limit = (end + needle.len()).min(this.len());
        let hay = &this[..text::floor_char(this, limit)];
        return hay.rfind(needle).map_or(-1, |b| text::utf16_index(this, b) as i32);
    }
    let from = from.map_or(0, i64::from).max(0);
    if from > len {
        return if needle.is_empty() { len as i32 } else { -1 };
    }
    let start = text::byte_at(this, from as usize).unwrap_or(this.len());
    this[start..].find(needle).map_or(-1, |b| text::utf16_index(this, start + b) as i32)
}

fn list_method<'a>(v: &Value<'a>, name: &str, args: &[Value<'a>]) -> Result<Option<Value<'a>>, String> {
    let Value::List(l) = v else { return Ok(None) };
    let kind = l.borrow().kind;
    let is_list = matches!(kind, ListKind::ArrayList | ListKind::Json | ListKind::Array);
    let len = l.borrow().items.len();
    let bounds = |i: i32, n: usize| -> Result<usize, String> {
        usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| format!("index {i} out of bounds for length {n}"))
    };
    let r = match (name, args) {
        ("size", []) => Value::Int(len as i32),
        ("isEmpty", []) => Value::Bool(len == 0),
        ("contains", [x]) => Value::Bool(l.borrow().items.iter().any(|i| java_equals(i, x))),
        ("toJSONString", []) if kind == ListKind::Json => {
            let mut s = String::new();
            super::json::write(v, &mut s);
            Value::string(s)
        }
        ("get", [i]) if is_list => {
            let Some(i) = int(i) else { return Ok(None) };
            l.borrow().items[bounds(i, len)?].clone()
        }
        ("indexOf" | "lastIndexOf", [x]) if is_list => {
            let items = &l.borrow().items;
            let pos = if name == "indexOf" {
                items.iter().position(|i| java_equals(i, x))
            } else {
                items.iter().rposition(|i| java_equals(i, x))
            };
            Value::Int(pos.map_or(-1, |p| p as i32))
        }
        ("add", [x]) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            l.borrow_mut().items.push(x.clone());
            Value::Bool(true)
        }
        ("add", [i, x]) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            let Some(i) = int(i) else { return Ok(None) };
            let at = usize::try_from(i)
                .ok()
                .filter(|&i| i <= len)
                .ok_or_else(|| format!("index {i} out of bounds for length {len}"))?;
            l.borrow_mut().items.insert(at, x.clone());
            Value::str(VOID)
        }
        ("addAll", [Value::List(other)]) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            let items = other.borrow().items.clone();
            let changed = !items.is_empty();
            l.borrow_mut().items.extend(items);
            Value::Bool(changed)
        }
        ("set", [i, x]) if is_list => {
            let Some(i) = int(i) else { return Ok(None) };
            let at = bounds(i, len)?;
            std::mem::replace(&mut l.borrow_mut().items[at], x.clone())
        }
        ("remove", [Value::Int(i)]) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            let at = bounds(*i, len)?;
            l.borrow_mut().items.remove(at)
        }
        ("remove", [x]) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            let pos = l.borrow().items.iter().position(|i| java_equals(i, x));
            if let Some(p) = pos {
                l.borrow_mut().items.remove(p);
            }
            Value::Bool(pos.is_some())
        }
        ("clear", []) if matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            l.borrow_mut().items.clear();
            Value::str(VOID)
        }
        ("subList", [a, b]) if is_list => {
            let (Some(a), Some(b)) = (int(a), int(b)) else { return Ok(None) };
            let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
                return Err(format!("subList({a}, {b})"));
            };
            if a > b || b > len {
                return Err(format!("subList({a}, {b}) of a list of {len}"));
            }
            Value::list(ListKind::ArrayList, l.borrow().items[a..b].to_vec())
        }
        ("add" | "remove" | "clear" | "set" | "addAll", _) if !matches!(kind, ListKind::ArrayList | ListKind::Json) => {
            return Err(format!("{name} on a {}: UnsupportedOperationException", v.class()));
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
}

fn map_method<'a>(v: &Value<'a>, name: &str, args: &[Value<'a>]) -> Result<Option<Value<'a>>, String> {
    let Value::Map(m) = v else { return Ok(None) };
    let r = match (name, args) {
        ("size", []) => Value::Int(m.borrow().entries.len() as i32),
        ("isEmpty", []) => Value::Bool(m.borrow().entries.is_empty()),
        ("get", [k]) => m.borrow().get(k).cloned().unwrap_or_default(),
        ("getOrDefault", [k, d]) => m.borrow().get(k).cloned().unwrap_or_else(|| d.clone()),
        ("containsKey", [k]) => Value::Bool(m.borrow().get(k).is_some()),
        ("containsValue", [x]) => Value::Bool(m.borrow().entries.iter().any(|(_, v)| java_equals(v, x))),
        ("put", [k, x]) => m.borrow_mut().put(k.clone(), x.clone()),
        ("putAll", [Value::Map(other)]) => {
            let entries = other.borrow().entries.clone();
            let mut mm = m.borrow_mut();
            for (k, x) in entries {
                mm.put(k, x);
            }
            Value::str(VOID)
        }
        ("remove", [k]) => {
            let mut mm = m.borrow_mut();
            match mm.entries.iter().position(|(ek, _)| java_equals(ek, k)) {
                Some(p) => mm.entries.remove(p).1,
                None => Value::Null,
            }
        }
        ("clear", []) => {
            m.borrow_mut().entries.clear();
            Value::str(VOID)
        }
        ("keySet", []) => Value::list(ListKind::KeySet, m.borrow().entries.iter().map(|(k, _)| k.clone()).collect()),
        ("values", []) => Value::list(ListKind::Values, m.borrow().entries.iter().map(|(_, v)| v.clone()).collect()),
        ("entrySet", []) => Value::list(
            ListKind::EntrySet,
            m.borrow().entries.iter().map(|(k, v)| Value::Entry(std::rc::Rc::new((k.clone(), v.clone())))).collect(),
        ),
        _ => return Ok(None),
    };
    Ok(Some(r))
}

fn number_method<'a>(v: &Value<'a>, name: &str, args: &[Value<'a>]) -> Option<Value<'a>> {
    Some(match (name, args) {
        ("intValue", []) => Value::Int(match v {
            Value::Int(i) => *i,
            Value::Long(l) => *l as i32,
            Value::Double(d) => *d as i32,
            _ => v.as_f64()? as i64 as i32,
        }),
        ("longValue", []) => Value::Long(match v {
            Value::Int(i) => i64::from(*i),
            Value::Long(l) => *l,
            Value::Double(d) => *d as i64,
            _ => v.as_f64()? as i64,
        }),
        ("doubleValue", []) => Value::Double(v.as_f64()?),
        ("compareTo", [o]) if std::mem::discriminant(v) == std::mem::discriminant(o) => {
            let (a, b) = (v.as_f64()?, o.as_f64()?);
            Value::Int(if a < b {
                -1
            } else if a > b {
                1
            } else {
                0
            })
        }
        _ => return None,
    })
}

/// Whether Java's class of `v` has a method `name()` without parameters (Object's included).
fn has_nullary(v: &Value, name: &str) -> bool {
    const OBJECT: &[&str] = &["toString", "hashCode", "getClass", "notify", "notifyAll", "wait"];
    let own: &[&str] = match v {
        Value::Str(_) => &[
            "length",
            "isEmpty",
            "toLowerCase",
            "toUpperCase",
            "trim",
            "intern",
            "getBytes",
            "toCharArray",
            "chars",
            "codePoints",
            "strip",
            "stripLeading",
            "stripTrailing",
            "isBlank",
            "lines",
        ],
        Value::List(_) => &[
            "size",
            "isEmpty",
            "clear",
            "iterator",
            "listIterator",
            "toArray",
            "stream",
            "parallelStream",
            "spliterator",
            "toJSONString",
            "trimToSize",
            "clone",
        ],
        Value::Map(_) => &["size", "isEmpty", "keySet", "values", "entrySet", "clear", "clone"],
        Value::Entry(_) => &["getKey", "getValue"],
        Value::Int(_) | Value::Long(_) | Value::Double(_) | Value::BigInt(_) => {
            &["intValue", "longValue", "doubleValue", "floatValue", "shortValue", "byteValue", "isNaN", "isInfinite"]
        }
        Value::Bool(_) => &["booleanValue"],
        Value::Foreach(_) => {
            &["getIndex", "getCount", "hasNext", "getHasNext", "isFirst", "isLast", "getParent", "getTopmost", "stop"]
        }
        Value::Input => &["getBody", "params"],
        Value::Util | Value::Null => &[],
    };
    own.contains(&name) || OBJECT.contains(&name)
}
