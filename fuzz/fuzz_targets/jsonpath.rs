#![no_main]
//! `$input.path` and `$input.json` on any body and any path (the input's head before a NUL is
//! the path): never a panic, and `$input.json` of a body that is strict JSON prints JSON.
//!
//! A head `keys:a,b,…` checks the narrowed parse instead: a template that reads `$input.path('$')`
//! only through those properties (which parses only those top-level entries) prints what the
//! same template prints when it also reads the whole document (parsed whole), and fails alike.
use libfuzzer_sys::fuzz_target;
use portico::vtl::{Limits, Request, Template, Value};

/// What `source` renders over `body` (the templates read `$input` only); `None` when it does
/// not compile.
fn render(source: &str, body: &str) -> Option<Result<String, ()>> {
    let t = Template::compile(source).ok()?;
    let req = Request { body, params: Value::map(vec![]).into(), context: Value::Null, stage_variables: Value::Null };
    let mut out = String::new();
    Some(t.render(req, &Limits::default(), &mut out).map(|()| out).map_err(|_| ()))
}

fn narrowed_reads_as_whole(keys: &str, body: &str) {
    let keys: Vec<&str> = keys.split(',').collect();
    let identifier = |k: &&str| {
        k.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) && k.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    if keys.len() > 4 || !keys.iter().all(identifier) {
        return;
    }
    let reads: String = keys.iter().map(|k| format!("$r.{k}|")).collect();
    let narrowed = format!("#set($r = $input.path('$')){reads}");
    let whole = format!("{narrowed}$r");
    let (Some(n), Some(w)) = (render(&narrowed, body), render(&whole, body)) else { return };
    match (n, w) {
        (Ok(n), Ok(w)) => assert!(w.starts_with(&n), "narrowed {n:?}, whole {w:?}, keys {keys:?}, body {body:?}"),
        (Err(()), Err(())) => {}
        (n, w) => panic!("narrowed {n:?}, whole {w:?}, keys {keys:?}, body {body:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((path, body)) = text.split_once('\0') else { return };
    if let Some(keys) = path.strip_prefix("keys:") {
        return narrowed_reads_as_whole(keys, body);
    }
    if path.contains(['\'', '\n', '\r', '#', '$']) && !path.starts_with('$') {
        return;
    }
    let quoted = path.replace('\'', "''");
    let Some(Ok(out)) = render(&format!("$input.path('{quoted}')\n$input.json('{quoted}')"), body) else { return };
    if serde_json::from_str::<serde_json::Value>(body).is_ok() {
        let json = out.rsplit('\n').next().unwrap_or("");
        assert!(serde_json::from_str::<serde_json::Value>(json).is_ok(), "{json:?} from {body:?}");
    }
});
