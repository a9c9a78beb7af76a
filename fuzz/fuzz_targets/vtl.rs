#![no_main]
//! Mapping templates, any text: compiling never panics, and neither does rendering what
//! compiled (against a small request whose body is the input's tail after a NUL). A template
//! with none of `$`, `#` and `\` renders to itself.
use libfuzzer_sys::fuzz_target;
use portico::vtl::{Limits, Request, Template, Value};

fn map<'a>(kv: Vec<(&'a str, Value<'a>)>) -> Value<'a> {
    Value::map(kv.into_iter().map(|(k, v)| (Value::str(k), v)).collect())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, body) = text.split_once('\0').unwrap_or((text, r#"{"a":[1,{"b":"c"}],"n":"x"}"#));
    let Ok(t) = Template::compile(template) else { return };
    let s = Value::str;
    let params = map(vec![("path", map(vec![("id", s("1"))])), ("querystring", map(vec![])), ("header", map(vec![("Accept", s("*/*"))]))]);
    let context = map(vec![("requestId", s("r-1")), ("identity", map(vec![("sourceIp", s("127.0.0.1"))]))]);
    let req = Request { body, params: params.into(), context, stage_variables: map(vec![("env", s("test"))]) };
    let limits = Limits { max_foreach: 50, max_range: 1000, max_output: 1 << 20, max_steps: 20_000 };
    let mut out = String::new();
    let rendered = t.render(req, &limits, &mut out);
    if !template.contains(['$', '#', '\\']) {
        assert!(rendered.is_ok());
        assert_eq!(out, template);
    }
});
