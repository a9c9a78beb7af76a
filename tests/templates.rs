//! The VTL differential corpus: every case in `tests/vtl/corpus/` rendered by Portico must
//! be byte-identical to Apache Velocity 1.7's rendering of it (`tests/vtl/Runner.java`, with
//! AWS's `$input`, `$util` and null rendering emulated). The expected outputs are committed
//! in `tests/vtl/expected/`; when Java and Debian's `velocity` package are installed (CI
//! installs them) the test also re-renders the corpus with Velocity itself and fails if
//! the committed outputs went stale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use portico::vtl::{Limits, Request, Template, Value};

const DEFAULT_BODY: &str = concat!(
    r#"{"name":"Bob","email":"bob@example.com","age":42,"price":9.99,"#,
    r#""active":true,"tags":["a","b"],"address":{"city":"Paris","zip":"75001"},"#,
    r#""items":[{"id":1,"qty":2},{"id":2,"qty":5}],"nothing":null}"#
);

struct Case {
    name: String,
    body: String,
    template: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vtl")
}

/// The corpus format (the same parser as Runner.java's `cases`).
fn cases(text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = lines[i].strip_prefix("### ") else {
            i += 1;
            continue;
        };
        let name = name.trim().to_string();
        let mut body = DEFAULT_BODY.to_string();
        i += 1;
        while i < lines.len() && lines[i] != "---" {
            if let Some(b) = lines[i].strip_prefix("body:") {
                body = b.trim().to_string();
            }
            i += 1;
        }
        i += 1;
        let mut t = Vec::new();
        while i < lines.len() && !lines[i].starts_with("### ") {
            t.push(lines[i]);
            i += 1;
        }
        out.push(Case { name, body, template: t.join("\n") });
    }
    out
}

fn map<'a>(kv: &[(&'a str, Value<'a>)]) -> Value<'a> {
    Value::map(kv.iter().map(|(k, v)| (Value::str(k), v.clone())).collect())
}

/// The request every case renders against: Runner.java's `request()`.
fn render(case: &Case) -> String {
    let template = match Template::compile(&case.template) {
        Ok(t) => t,
        Err(_) => return "!error".to_string(),
    };
    let s = Value::str;
    let params = map(&[
        ("path", map(&[("id", s("123"))])),
        ("querystring", map(&[("q", s("search term")), ("page", s("2"))])),
        ("header", map(&[("Content-Type", s("application/json")), ("X-Trace", s("abc"))])),
    ]);
    let context = map(&[
        ("accountId", s("123456789012")),
        ("apiId", s("a1b2c3")),
        ("httpMethod", s("POST")),
        ("identity", map(&[("sourceIp", s("127.0.0.1")), ("userAgent", s("curl/8.0")), ("apiKey", s(""))])),
        ("authorizer", map(&[("principalId", s("user-1"))])),
        ("path", s("/prod/orders/123")),
        ("protocol", s("HTTP/1.1")),
        ("requestId", s("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")),
        ("requestTime", s("01/Dec/2026:12:00:00 +0000")),
        ("requestTimeEpoch", Value::Long(1_796_126_400_000)),
        ("resourcePath", s("/orders/{id}")),
        ("stage", s("prod")),
        ("requestOverride", map(&[("header", map(&[])), ("path", map(&[])), ("querystring", map(&[]))])),
        ("responseOverride", map(&[("header", map(&[]))])),
    ]);
    let stage_variables = map(&[("env", s("prod")), ("table", s("orders"))]);
    let req = Request { body: &case.body, params: params.into(), context, stage_variables };
    let limits = Limits::default();
    let mut out = String::new();
    match template.render(req, &limits, &mut out) {
        Ok(()) => out,
        Err(_) => "!error".to_string(),
    }
}

/// Parses the runner's output format: `### NAME BYTES\n` + BYTES + `\n`.
fn outputs(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < bytes.len() {
        let nl = i + bytes[i..].iter().position(|&b| b == b'\n').expect("header line");
        let header = std::str::from_utf8(&bytes[i..nl]).expect("utf-8 header");
        let rest = header.strip_prefix("### ").expect("### header");
        let (name, len) = rest.rsplit_once(' ').expect("name and length");
        let len: usize = len.parse().expect("length");
        let start = nl + 1;
        out.insert(name.to_string(), bytes[start..start + len].to_vec());
        i = start + len + 1;
    }
    out
}

fn format(outputs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, text) in outputs {
        out.extend_from_slice(format!("### {name} {}\n", text.len()).as_bytes());
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    out
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join("corpus"))
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

fn velocity_available() -> bool {
    Path::new("/usr/share/java/velocity-1.7.jar").exists()
        && Path::new("/usr/share/java/json-path.jar").exists()
        && Command::new("javac").arg("-version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn corpus_renders_as_velocity_does() {
    let files = corpus_files();
    let live = velocity_available();
    let mut total = 0;
    let mut failures = Vec::new();
    for file in &files {
        let stem = file.file_stem().expect("stem").to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).expect("corpus file");
        let cases = cases(&text);
        total += cases.len();
        let expected_path = dir().join("expected").join(format!("{stem}.out"));
        let committed = std::fs::read(&expected_path).unwrap_or_default();
        let reference = if live {
            let out = Command::new(dir().join("run-velocity.sh")).arg(file).output().expect("runs Velocity");
            assert!(out.status.success(), "Velocity runner failed: {}", String::from_utf8_lossy(&out.stderr));
            if std::env::var_os("PORTICO_VTL_BLESS").is_some() {
                std::fs::write(&expected_path, &out.stdout).expect("writes expected");
            } else {
                assert!(
                    committed == out.stdout,
                    "{} is stale: Velocity renders {stem} differently now (PORTICO_VTL_BLESS=1 rewrites it)",
                    expected_path.display()
                );
            }
            out.stdout
        } else {
            assert!(!committed.is_empty(), "no expected output for {stem} and no Velocity to make it");
            committed
        };
        let expected = outputs(&reference);
        let mut ours = Vec::new();
        for case in &cases {
            let got = render(case);
            let want = expected.get(&case.name).unwrap_or_else(|| panic!("{stem}/{}: no reference output", case.name));
            if got.as_bytes() != want.as_slice() {
                failures.push(format!(
                    "{stem}/{}:\n  template: {:?}\n  velocity: {:?}\n  portico:  {:?}",
                    case.name,
                    case.template,
                    String::from_utf8_lossy(want),
                    got
                ));
            }
            ours.push((case.name.clone(), got));
        }
        let _ = format(&ours);
    }
    assert!(failures.is_empty(), "{} of {total} cases differ from Velocity:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 200, "the corpus has {total} cases; it should have at least 200");
}
