//! AWS's template variables: `$input` (the request body through JSONPath, the request's
//! parameters) and `$util` (the escapes and codecs), as AWS documents them. `$context` and
//! `$stageVariables` are plain maps the caller builds ([`super::Request`]).
//!
//! Owns: those two objects' methods. Must not: know HTTP; the caller hands in the body and
//! the parameter maps.

use base64::Engine as _;

use super::Params;
use super::eval::Renderer;
use super::value::Value;
use super::{json, jsonpath, text};

type Found<'a> = Result<Option<Value<'a>>, String>;

/// `$input.path(p)`: the body (`{}` when empty) through JSONPath; null when the body is not
/// JSON or the path finds nothing (AWS renders nothing there).
fn path<'a>(body: &'a str, p: &str) -> Value<'a> {
    let Some(root) = json::parse(document(body)) else { return Value::Null };
    // The common `$input.path('$')`: the document itself, without compiling a path.
    if p == "$" {
        return root;
    }
    jsonpath::parse(p).and_then(|path| path.eval(&root)).unwrap_or_default()
}

/// `$input.path('$')` for a template that reads the document only through `keys` (its
/// top-level properties): a top-level object holds only those entries.
pub(super) fn path_keys<'a>(body: &'a str, keys: &[Box<str>]) -> Value<'a> {
    json::parse_keys(document(body), keys).unwrap_or_default()
}

/// The document `$input.path` reads: the body, `{}` when it is empty.
fn document(body: &str) -> &str {
    if body.is_empty() { "{}" } else { body }
}

pub(super) fn input_method<'a>(r: &mut Renderer<'a, '_>, name: &str, args: &[Value<'a>]) -> Found<'a> {
    Ok(Some(match (name, args) {
        ("getBody" | "body", []) => Value::str(r.body),
        ("path", [p]) => match p {
            Value::Str(p) => path(r.body, p.as_str()),
            _ => Value::Null,
        },
        ("json", [p]) => {
            let v = match p {
                Value::Str(p) => path(r.body, p.as_str()),
                _ => Value::Null,
            };
            let mut s = String::new();
            json::write(&v, &mut s);
            Value::string(s)
        }
        ("params", []) => match &r.params {
            Params::Map(all) => all.clone(),
            Params::Lookup(_) => Value::map(Vec::new()),
        },
        ("params", [Value::Str(n)]) => match &r.params {
            Params::Map(all) => param(all, n.as_str()),
            Params::Lookup(l) => l.param(n.as_str()),
        },
        ("params", [Value::Null]) => Value::str(""),
        _ => return Ok(None),
    }))
}

/// `$input.params(name)`: the path, then the query string, then the headers (whose names
/// compare case-insensitively); an empty string when none has it.
fn param<'a>(params: &Value<'a>, name: &str) -> Value<'a> {
    let Value::Map(m) = params else { return Value::str("") };
    for family in ["path", "querystring", "header"] {
        let Some(Value::Map(f)) = m.borrow().get_str(family).cloned() else { continue };
        let f = f.borrow();
        for (k, v) in &f.entries {
            let Some(k) = k.as_str() else { continue };
            let same = if family == "header" { k.eq_ignore_ascii_case(name) } else { k == name };
            if same {
                return v.clone();
            }
        }
    }
    Value::str("")
}

pub(super) fn util_method<'a>(name: &str, args: &[Value<'a>]) -> Found<'a> {
    let [arg] = args else { return Ok(None) };
    let s = match arg {
        Value::Str(s) => Some(s.as_str()),
        Value::Null => None,
        _ => return Ok(None),
    };
    let null = || Err(format!("$util.{name}: NullPointerException (a null argument)"));
    Ok(Some(match name {
        "escapeJavaScript" => match s {
            Some(s) => {
                let mut out = String::with_capacity(s.len());
                text::escape_javascript(s, &mut out);
                Value::string(out)
            }
            None => Value::Null,
        },
        "urlEncode" => {
            let Some(s) = s else { return null() };
            let mut out = String::with_capacity(s.len());
            text::url_encode(s, &mut out);
            Value::string(out)
        }
        "urlDecode" => {
            let Some(s) = s else { return null() };
            Value::string(text::url_decode(s).map_err(|e| format!("$util.urlDecode: {e}"))?)
        }
        "base64Encode" => {
            let Some(s) = s else { return null() };
            Value::string(base64::engine::general_purpose::STANDARD.encode(s))
        }
        "base64Decode" => {
            let Some(s) = s else { return null() };
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("$util.base64Decode: {e}"))?;
            Value::string(String::from_utf8_lossy(&bytes).into_owned())
        }
        "parseJson" => {
            let Some(s) = s else { return null() };
            // the parsed value borrows nothing: the argument may be a temporary string
            let owned: std::rc::Rc<str> = s.into();
            match json::parse(&owned) {
                Some(v) => detach(&v),
                None => return Err("$util.parseJson: not JSON".into()),
            }
        }
        _ => return Ok(None),
    }))
}

/// A deep copy that owns its strings, for values parsed from a string the render frees.
fn detach<'a>(v: &Value<'_>) -> Value<'a> {
    use super::value::Str;
    match v {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Int(*i),
        Value::Long(l) => Value::Long(*l),
        Value::BigInt(b) => Value::BigInt(b.clone()),
        Value::Double(d) => Value::Double(*d),
        Value::Str(s) => Value::Str(Str::Shared(s.as_str().into())),
        Value::List(l) => {
            let l = l.borrow();
            Value::list(l.kind, l.items.iter().map(detach).collect())
        }
        Value::Map(m) => Value::map(m.borrow().entries.iter().map(|(k, v)| (detach(k), detach(v))).collect()),
        Value::Entry(e) => Value::Entry(std::rc::Rc::new((detach(&e.0), detach(&e.1)))),
        Value::Foreach(_) | Value::Input | Value::Util => Value::Null,
    }
}
