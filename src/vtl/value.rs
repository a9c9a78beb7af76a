//! The values templates compute with: Java's objects as Velocity and AWS hand them to a
//! template (String, Integer, Long, Double, Boolean, ArrayList, json-smart's JSONArray,
//! LinkedHashMap, String[], a map's views and entries), with Java's `toString` and `equals`,
//! because a template's output is those objects printed.
//!
//! Strings borrow from the template or the request where they can (`Str::Borrowed`); lists and
//! maps are shared and mutable (`Rc<RefCell<…>>`) because Java's are: `#set($b = $a)` then
//! `$b.add(1)` changes `$a`. A render runs on one worker thread, so `Rc` is enough.
//!
//! Owns: the object model, printing, equality. Must not: know templates or requests.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

#[derive(Clone, Debug)]
pub enum Str<'a> {
    Borrowed(&'a str),
    Shared(Rc<str>),
}

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Shared(s.into())
    }
}

/// Which Java class a list is: it decides how the list prints and what it equals.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ListKind {
    /// `java.util.ArrayList`: list literals, ranges. Prints `[a, b]`.
    ArrayList,
    /// json-smart's `JSONArray` (an ArrayList): arrays from `$input.path`. Prints as JSON.
    Json,
    /// `String[]` from `split`. Velocity prints an array as Java's identity string
    /// (`[Ljava.lang.String;@1b6d3586`), which no one can match; Portico prints `[a, b]`.
    Array,
    /// A map's `keySet()`, `values()`, `entrySet()`: copies here, views in Java.
    KeySet,
    Values,
    EntrySet,
}

#[derive(Debug)]
pub struct List<'a> {
    pub kind: ListKind,
    pub items: Vec<Value<'a>>,
}

/// A `LinkedHashMap`: insertion order, any key.
#[derive(Debug, Default)]
pub struct Map<'a> {
    pub entries: Vec<(Value<'a>, Value<'a>)>,
}

impl<'a> Map<'a> {
    pub fn get(&self, key: &Value<'a>) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| java_equals(k, key)).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&Value<'a>> {
        self.entries.iter().find(|(k, _)| matches!(k, Value::Str(s) if s.as_str() == key)).map(|(_, v)| v)
    }

    /// `put`: the previous value, or null.
    pub fn put(&mut self, key: Value<'a>, value: Value<'a>) -> Value<'a> {
        for (k, v) in &mut self.entries {
            if java_equals(k, &key) {
                return std::mem::replace(v, value);
            }
        }
        self.entries.push((key, value));
        Value::Null
    }
}

/// `$foreach`: Velocity 1.7's ForeachScope.
#[derive(Debug)]
pub struct Scope<'a> {
    pub index: std::cell::Cell<i32>,
    pub has_next: std::cell::Cell<bool>,
    pub parent: Value<'a>,
}

#[derive(Clone, Debug, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    /// A `BigInteger`, kept as its digits.
    BigInt(Rc<str>),
    Double(f64),
    Str(Str<'a>),
    List(Rc<RefCell<List<'a>>>),
    Map(Rc<RefCell<Map<'a>>>),
    /// A `Map.Entry` from `entrySet()`.
    Entry(Rc<(Value<'a>, Value<'a>)>),
    Foreach(Rc<Scope<'a>>),
    /// AWS's `$input` and `$util`.
    Input,
    Util,
}

impl<'a> Value<'a> {
    pub fn str(s: &'a str) -> Self {
        Value::Str(Str::Borrowed(s))
    }

    pub fn string(s: String) -> Self {
        Value::Str(Str::Shared(s.into()))
    }

    pub fn list(kind: ListKind, items: Vec<Value<'a>>) -> Self {
        Value::List(Rc::new(RefCell::new(List { kind, items })))
    }

    pub fn map(entries: Vec<(Value<'a>, Value<'a>)>) -> Self {
        Value::Map(Rc::new(RefCell::new(Map { entries })))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Long(_) | Value::BigInt(_) | Value::Double(_))
    }

    /// The Java class name, for `$x.class` and errors.
    pub fn class(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "java.lang.Boolean",
            Value::Int(_) => "java.lang.Integer",
            Value::Long(_) => "java.lang.Long",
            Value::BigInt(_) => "java.math.BigInteger",
            Value::Double(_) => "java.lang.Double",
            Value::Str(_) => "java.lang.String",
            Value::List(l) => match l.borrow().kind {
                ListKind::ArrayList => "java.util.ArrayList",
                ListKind::Json => "net.minidev.json.JSONArray",
                ListKind::Array => "[Ljava.lang.String;",
                ListKind::KeySet => "java.util.LinkedHashMap$LinkedKeySet",
                ListKind::Values => "java.util.LinkedHashMap$LinkedValues",
                ListKind::EntrySet => "java.util.LinkedHashMap$LinkedEntrySet",
            },
            Value::Map(_) => "java.util.LinkedHashMap",
            Value::Entry(_) => "java.util.LinkedHashMap$Entry",
            Value::Foreach(_) => "org.apache.velocity.runtime.directive.ForeachScope",
            Value::Input => "Input",
            Value::Util => "Util",
        }
    }

    /// Java's `String.valueOf(this)`, appended to `out`.
    pub fn write_java(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Long(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(s) => out.push_str(s),
            Value::Double(d) => java_double(*d, out),
            Value::Str(s) => out.push_str(s.as_str()),
            Value::List(l) => {
                let list = l.borrow();
                if list.kind == ListKind::Json {
                    super::json::write(self, out);
                    return;
                }
                out.push('[');
                for (i, item) in list.items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match item {
                        Value::List(inner) if Rc::ptr_eq(inner, l) => out.push_str("(this Collection)"),
                        _ => item.write_java(out),
                    }
                }
                out.push(']');
            }
            Value::Map(m) => {
                let map = m.borrow();
                out.push('{');
                for (i, (k, v)) in map.entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    match k {
                        Value::Map(inner) if Rc::ptr_eq(inner, m) => out.push_str("(this Map)"),
                        _ => k.write_java(out),
                    }
                    out.push('=');
                    match v {
                        Value::Map(inner) if Rc::ptr_eq(inner, m) => out.push_str("(this Map)"),
                        _ => v.write_java(out),
                    }
                }
                out.push('}');
            }
            Value::Entry(e) => {
                e.0.write_java(out);
                out.push('=');
                e.1.write_java(out);
            }
            Value::Foreach(_) => out.push_str("org.apache.velocity.runtime.directive.ForeachScope"),
            Value::Input => out.push_str("$input"),
            Value::Util => out.push_str("$util"),
        }
    }

    pub fn to_java_string(&self) -> String {
        let mut s = String::new();
        self.write_java(&mut s);
        s
    }

    /// The number as a double (`Number.doubleValue()`), or None for a non-number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(f64::from(*i)),
            Value::Long(l) => Some(*l as f64),
            Value::BigInt(s) => s.parse().ok(),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// `Number.longValue()` of an integer type.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i64::from(*i)),
            Value::Long(l) => Some(*l),
            _ => None,
        }
    }
}

/// Whether two classes are assignable either way (`Class.isAssignableFrom`): what Velocity's
/// `==` asks before calling `equals`.
pub fn same_class_family<'a>(a: &Value<'a>, b: &Value<'a>) -> bool {
    use Value::*;
    match (a, b) {
        (Bool(_), Bool(_)) | (Str(_), Str(_)) | (Map(_), Map(_)) | (Entry(_), Entry(_)) => true,
        (Int(_), Int(_)) | (Long(_), Long(_)) | (BigInt(_), BigInt(_)) | (Double(_), Double(_)) => true,
        (List(x), List(y)) => {
            let (x, y) = (x.borrow().kind, y.borrow().kind);
            let arraylist = |k| matches!(k, ListKind::ArrayList | ListKind::Json);
            x == y || (arraylist(x) && arraylist(y))
        }
        (Foreach(_), Foreach(_)) | (Input, Input) | (Util, Util) => true,
        _ => false,
    }
}

/// Java's `a.equals(b)`.
pub fn java_equals<'a>(a: &Value<'a>, b: &Value<'a>) -> bool {
    use Value::*;
    match (a, b) {
        (Null, Null) => true,
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (Long(x), Long(y)) => x == y,
        (BigInt(x), BigInt(y)) => x == y,
        (Double(x), Double(y)) => x.to_bits() == y.to_bits(),
        (Str(x), Str(y)) => x.as_str() == y.as_str(),
        (List(x), List(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            let is_list = |k| matches!(k, ListKind::ArrayList | ListKind::Json);
            let is_set = |k| matches!(k, ListKind::KeySet | ListKind::EntrySet);
            if is_list(x.kind) && is_list(y.kind) {
                x.items.len() == y.items.len() && x.items.iter().zip(&y.items).all(|(a, b)| java_equals(a, b))
            } else if is_set(x.kind) && is_set(y.kind) {
                x.items.len() == y.items.len() && x.items.iter().all(|a| y.items.iter().any(|b| java_equals(a, b)))
            } else {
                false
            }
        }
        (Map(x), Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.entries.len() == y.entries.len()
                && x.entries.iter().all(|(k, v)| y.get(k).is_some_and(|w| java_equals(v, w)))
        }
        (Entry(x), Entry(y)) => java_equals(&x.0, &y.0) && java_equals(&x.1, &y.1),
        (Foreach(x), Foreach(y)) => Rc::ptr_eq(x, y),
        (Input, Input) | (Util, Util) => true,
        _ => false,
    }
}

/// Java's `Double.toString`: the shortest digits that round-trip, in plain notation for
/// 10⁻³ ≤ |d| < 10⁷ and computerized scientific notation (`1.0E7`) outside it.
pub fn java_double(d: f64, out: &mut String) {
    if d.is_nan() {
        out.push_str("NaN");
        return;
    }
    if d.is_infinite() {
        out.push_str(if d > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if d == 0.0 {
        out.push_str(if d.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if d < 0.0 {
        out.push('-');
    }
    if (-3..7).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = (exp + 1) as usize;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let _ = write!(out, "E{exp}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f64) -> String {
        let mut s = String::new();
        java_double(x, &mut s);
        s
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(d(1.5), "1.5");
        assert_eq!(d(3.0), "3.0");
        assert_eq!(d(100.0), "100.0");
        assert_eq!(d(0.001), "0.001");
        assert_eq!(d(0.0001), "1.0E-4");
        assert_eq!(d(1e7), "1.0E7");
        assert_eq!(d(1234567.0), "1234567.0");
        assert_eq!(d(-2.5e-5), "-2.5E-5");
        assert_eq!(d(9.99), "9.99");
    }
}
