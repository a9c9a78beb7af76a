#![no_main]
//! `$input.path` and `$input.json` on any body and any path (the input's head before a NUL is
//! the path): never a panic, and `$input.json` of a body that is strict JSON prints JSON.
use libfuzzer_sys::fuzz_target;
use portico::vtl::{Limits, Request, Template, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((path, body)) = text.split_once('\0') else { return };
    if path.contains(['\'', '\n', '\r', '#', '$']) && !path.starts_with('$') {
        return;
    }
    let quoted = path.replace('\'', "''");
    let Ok(t) = Template::compile(&format!("$input.path('{quoted}')\n$input.json('{quoted}')")) else { return };
    let req = Request { body, params: Value::map(vec![]).into(), context: Value::map(vec![]), stage_variables: Value::map(vec![]) };
    let mut out = String::new();
    if t.render(req, &Limits::default(), &mut out).is_err() {
        return;
    }
    if serde_json::from_str::<serde_json::Value>(body).is_ok() {
        let json = out.rsplit('\n').next().unwrap_or("");
        assert!(serde_json::from_str::<serde_json::Value>(json).is_ok(), "{json:?} from {body:?}");
    }
});
