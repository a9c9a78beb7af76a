#![no_main]
//! Models and bodies, any bytes: never a panic. Before the first NUL, a model's schema (compiled
//! as the config compiler and the workers compile it); after it, a request body checked against
//! the seed's signup schema and, when it compiled, against the fuzzed one.
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portico::schema::{self, Schema};
use portico::table::validation::Model;

fn signup() -> &'static Schema {
    static SCHEMA: OnceLock<Vec<Schema>> = OnceLock::new();
    &SCHEMA.get_or_init(|| {
        let text = r#"{"type":"object","required":["name","email"],"properties":{"name":{"type":"string","minLength":1,"maxLength":64},"email":{"type":"string","format":"email"},"age":{"type":"integer","minimum":13,"maximum":120}}}"#;
        schema::compile(&[Model { name: "Signup".into(), schema: text.into() }]).expect("the seed")
    })[0]
}

fuzz_target!(|data: &[u8]| {
    let (model, body) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    if let Err(why) = schema::check(signup(), body) {
        assert!(why.starts_with('[') && why.ends_with(']'), "{why}");
    }
    let Ok(text) = std::str::from_utf8(model) else { return };
    if let Ok(compiled) = schema::compile(&[Model { name: "M".into(), schema: text.into() }]) {
        let _ = schema::check(&compiled[0], body);
    }
});
