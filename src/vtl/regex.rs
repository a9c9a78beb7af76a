//! Java's regular-expression methods (`replaceAll`, `replaceFirst`, `matches`, `split`) on
//! the `regex` crate: the syntax templates use is common to both; what only Java has
//! (look-around, back-references, possessive quantifiers) is a render error rather than a
//! silent difference. Replacement strings follow Java's (`$1`, `${name}`, `\$`).
//!
//! Compiled patterns are cached per worker thread (templates call these in loops).
//! Owns: pattern compilation, replacement and split semantics.

use std::cell::RefCell;
use std::rc::Rc;

use regex::Regex;

const CACHE: usize = 64;

thread_local! {
    static COMPILED: RefCell<Vec<(Box<str>, Rc<Regex>)>> = const { RefCell::new(Vec::new()) };
}

fn cached(key: &str, build: impl FnOnce() -> Result<Regex, String>) -> Result<Rc<Regex>, String> {
    if let Some(re) = COMPILED.with(|c| c.borrow().iter().find(|(k, _)| &**k == key).map(|(_, r)| r.clone())) {
        return Ok(re);
    }
    let re = Rc::new(build()?);
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE {
            c.remove(0);
        }
        c.push((key.into(), re.clone()));
    });
    Ok(re)
}

pub fn compile(pattern: &str) -> Result<Rc<Regex>, String> {
    cached(pattern, || Regex::new(pattern).map_err(|e| format!("bad regular expression {pattern:?}: {e}")))
}

/// For `matches`: the whole string must match.
pub fn compile_anchored(pattern: &str) -> Result<Rc<Regex>, String> {
    let key = format!("\u{0}^{pattern}");
    cached(&key, || {
        Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("bad regular expression {pattern:?}: {e}"))
    })
}

/// `Matcher.replaceAll`/`replaceFirst` with Java's replacement syntax.
pub fn replace(re: &Regex, input: &str, replacement: &str, all: bool) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let m = caps.get(0).expect("group 0");
        out.push_str(&input[last..m.start()]);
        expand(&caps, replacement, &mut out)?;
        last = m.end();
        if !all {
            break;
        }
    }
    out.push_str(&input[last..]);
    Ok(out)
}

fn expand(caps: &regex::Captures, rep: &str, out: &mut String) -> Result<(), String> {
    let b = rep.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let c = rep[i + 1..].chars().next().ok_or("character to be escaped is missing")?;
                out.push(c);
                i += 1 + c.len_utf8();
            }
            b'$' => {
                i += 1;
                if b.get(i) == Some(&b'{') {
                    let end = rep[i..].find('}').ok_or("named capturing group is missing trailing '}'")?;
                    let name = &rep[i + 1..i + end];
                    let g = caps.name(name).ok_or_else(|| format!("no group with name {{{name}}}"))?;
                    out.push_str(g.as_str());
                    i += end + 1;
                    continue;
                }
                let start = i;
                // Java reads digits while the group number stays valid
                let mut n: usize = match b.get(i) {
                    Some(d) if d.is_ascii_digit() => usize::from(d - b'0'),
                    _ => return Err("illegal group reference".into()),
                };
                i += 1;
                while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                    let next = n * 10 + usize::from(d - b'0');
                    if next >= caps.len() {
                        break;
                    }
                    n = next;
                    i += 1;
                }
                if n >= caps.len() {
                    return Err(format!("no group {}", &rep[start..i]));
                }
                if let Some(g) = caps.get(n) {
                    out.push_str(g.as_str());
                }
            }
            _ => {
                let c = rep[i..].chars().next().expect("in bounds");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Ok(())
}

/// `String.split(regex, limit)`, Java 8's: no leading empty string for a zero-width match
/// at the start, trailing empty strings dropped when `limit` is 0.
pub fn split(input: &str, pattern: &str, limit: i32) -> Result<Vec<String>, String> {
    let re = compile(pattern)?;
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    let limited = limit > 0;
    for m in re.find_iter(input) {
        if !limited || parts.len() < (limit - 1) as usize {
            if index == 0 && m.start() == 0 && m.start() == m.end() {
                continue;
            }
            parts.push(input[index..m.start()].to_string());
            index = m.end();
        } else {
            break;
        }
    }
    if index == 0 {
        return Ok(vec![input.to_string()]);
    }
    parts.push(input[index..].to_string());
    if limit == 0 {
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_java() {
        assert_eq!(split("a,b,,c,,", ",", 0).expect("ok"), ["a", "b", "", "c"]);
        assert_eq!(split("a,b,c", ",", 2).expect("ok"), ["a", "b,c"]);
        assert_eq!(split("abc", "", 0).expect("ok"), ["a", "b", "c"]);
        assert_eq!(split("", ",", 0).expect("ok"), [""]);
        assert_eq!(split(",a", ",", 0).expect("ok"), ["", "a"]);
    }

    #[test]
    fn replacement_groups() {
        let re = compile("(\\w)(\\d)").expect("ok");
        assert_eq!(replace(&re, "a1 b2", "$2$1\\$", true).expect("ok"), "1a$ 2b$");
        assert!(replace(&re, "a1", "$3", true).is_err());
    }
}
