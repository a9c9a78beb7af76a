//! A span-aware reader over the parsed TOML document that records every problem it meets instead of
//! stopping at the first: wrong types, missing keys, unknown keys (with a "did you mean").
//!
//! This is the "file form" of the config: it knows TOML and positions, not what the values mean.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::diagnostic::{Diagnostic, did_you_mean};

/// A value with the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

/// A TOML table (header table or inline table) being read, with its span and its path for messages.
#[derive(Clone, Copy)]
pub struct Obj<'d> {
    pub table: &'d dyn TableLike,
    pub span: Option<(usize, usize)>,
    pub what: &'static str,
}

impl Obj<'_> {
    pub fn span(&self) -> Option<Range<usize>> {
        self.span.map(|(s, e)| s..e)
    }
}

pub struct Reader<'s> {
    pub file: &'s str,
    pub src: &'s str,
    pub errors: Vec<Diagnostic>,
    /// Where a limit said `global = true` (checked against `[cluster]` once everything is read).
    pub global_limits: Vec<Option<Range<usize>>>,
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

impl<'s> Reader<'s> {
    pub fn new(file: &'s str, src: &'s str) -> Self {
        Reader { file, src, errors: Vec::new(), global_limits: Vec::new() }
    }

    pub fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>, hint: Option<String>) {
        self.errors.push(Diagnostic::new(self.file, self.src, span, message, hint));
    }

    pub fn obj<'d>(&mut self, item: &'d Item, what: &'static str) -> Option<Obj<'d>> {
        match item.as_table_like() {
            Some(table) => Some(Obj { table, span: item.span().map(|r| (r.start, r.end)), what }),
            None => {
                self.error(item.span(), format!("{what} must be a table, found {}", type_name(item)), None);
                None
            }
        }
    }

    /// Reports every key of `obj` not in `allowed`.
    pub fn allow_keys(&mut self, obj: Obj<'_>, allowed: &[&str]) {
        for (key, _) in obj.table.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let span = obj.table.get_key_value(key).and_then(|(k, _)| k.span()).or_else(|| obj.span());
            let hint = match did_you_mean(key, allowed) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("allowed here: {}", allowed.join(", ")),
            };
            self.error(span, format!("unknown key `{key}` in {}", obj.what), Some(hint));
        }
    }

    fn get<'d>(&mut self, obj: Obj<'d>, key: &str) -> Option<&'d Item> {
        obj.table.get(key).filter(|i| !i.is_none())
    }

    fn missing(&mut self, obj: Obj<'_>, key: &str, hint: &str) {
        let hint = (!hint.is_empty()).then(|| hint.to_owned());
        self.error(obj.span(), format!("{} has no `{key}`", obj.what), hint);
    }

    pub fn opt_str(&mut self, obj: Obj<'_>, key: &str) -> Option<Spanned<String>> {
        let item = self.get(obj, key)?;
        match item.as_str() {
            Some(s) => Some(Spanned { value: s.to_owned(), span: item.span() }),
            None => {
                self.error(
                    item.span(),
                    format!("`{key}` in {} must be a string, found {}", obj.what, type_name(item)),
                    None,
                );
                None
            }
        }
    }

    pub fn str(&mut self, obj: Obj<'_>, key: &str, hint: &str) -> Option<Spanned<String>> {
        if self.get(obj, key).is_none() {
            self.missing(obj, key, hint);
            return None;
        }
        self.opt_str(obj, key)
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub fn int(&mut self, obj: Obj<'_>, key: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(item) = self.get(obj, key) else {
            return default;
        };
        match item.as_integer() {
            Some(n) if (min..=max).contains(&n) => n,
            Some(n) => {
                self.error(
                    item.span(),
                    format!("`{key}` = {n} is out of range"),
                    Some(format!("use a value from {min} to {max}")),
                );
                default
            }
            None => {
                self.error(
                    item.span(),
                    format!("`{key}` in {} must be an integer, found {}", obj.what, type_name(item)),
                    None,
                );
                default
            }
        }
    }

    pub fn bool(&mut self, obj: Obj<'_>, key: &str, default: bool) -> bool {
        let Some(item) = self.get(obj, key) else {
            return default;
        };
        item.as_bool().unwrap_or_else(|| {
            self.error(
                item.span(),
                format!("`{key}` in {} must be true or false, found {}", obj.what, type_name(item)),
                None,
            );
            default
        })
    }

    /// The raw item, for values with several allowed types.
    pub fn item<'d>(&mut self, obj: Obj<'d>, key: &str) -> Option<&'d Item> {
        self.get(obj, key)
    }

    pub fn str_list(&mut self, obj: Obj<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some(item) = self.get(obj, key) else {
            return Vec::new();
        };
        let Some(array) = item.as_array() else {
            self.error(
                item.span(),
                format!("`{key}` in {} must be an array of strings, found {}", obj.what, type_name(item)),
                None,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push(Spanned { value: s.to_owned(), span: v.span() }),
                None => self.error(v.span(), format!("`{key}` must hold only strings"), None),
            }
        }
        out
    }

    pub fn int_list(&mut self, obj: Obj<'_>, key: &str, max: i64) -> Vec<i64> {
        let Some(item) = self.get(obj, key) else {
            return Vec::new();
        };
        let Some(array) = item.as_array() else {
            self.error(item.span(), format!("`{key}` in {} must be an array of integers", obj.what), None);
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_integer() {
                Some(n) if (0..=max).contains(&n) => out.push(n),
                _ => self.error(v.span(), format!("`{key}` must hold integers from 0 to {max}"), None),
            }
        }
        out
    }

    /// A table of string values, in file order.
    pub fn str_map(&mut self, obj: Obj<'_>, key: &str) -> Vec<(Spanned<String>, Spanned<String>)> {
        let Some(item) = self.get(obj, key) else {
            return Vec::new();
        };
        let Some(table) = item.as_table_like() else {
            self.error(
                item.span(),
                format!("`{key}` in {} must be a table of strings, found {}", obj.what, type_name(item)),
                None,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in table.iter() {
            let key_span = table.get_key_value(k).and_then(|(key, _)| key.span());
            match v.as_str() {
                Some(s) => out.push((
                    Spanned { value: k.to_owned(), span: key_span },
                    Spanned { value: s.to_owned(), span: v.span() },
                )),
                None => {
                    self.error(v.span(), format!("`{k}` in `{key}` must be a string, found {}", type_name(v)), None)
                }
            }
        }
        out
    }

    /// `[[key]]` tables or an inline array of inline tables.
    pub fn tables<'d>(&mut self, obj: Obj<'d>, key: &str, what: &'static str) -> Vec<Obj<'d>> {
        let Some(item) = self.get(obj, key) else {
            return Vec::new();
        };
        if let Some(aot) = item.as_array_of_tables() {
            return aot.iter().map(|t| Obj { table: t, span: t.span().map(|r| (r.start, r.end)), what }).collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for v in array.iter() {
                match v.as_inline_table() {
                    Some(t) => out.push(Obj { table: t, span: t.span().map(|r| (r.start, r.end)), what }),
                    None => self.error(v.span(), format!("each `{key}` entry must be a table"), None),
                }
            }
            return out;
        }
        self.error(item.span(), format!("`{key}` must be written as [[{key}]] tables"), None);
        Vec::new()
    }
}
