//! Dependencies point one way: the HTTP codec knows nothing above it, the table is plain data, and
//! the config compiler never reaches the runtime. Read from the source: every `crate::` path in
//! code (comments and doc links do not count) names the top-level module it depends on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules its code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        for name in named_modules(&text) {
            if name != module {
                deps.insert(name);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The modules named after `crate::` in the code of `text`, including `crate::{a, b::c}` groups.
fn named_modules(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            // `portico::crate::` does not exist; `$crate::` (macros) is the crate too.
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !name.is_empty() {
                        names.push(name);
                    }
                }
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

fn closure(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(m) = stack.pop() {
        for dep in graph.get(&m).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

fn assert_only(graph: &BTreeMap<String, BTreeSet<String>>, module: &str, allowed: &[&str]) {
    let deps = &graph[module];
    let above: Vec<&String> = deps.iter().filter(|d| !allowed.contains(&d.as_str())).collect();
    assert!(above.is_empty(), "src/{module} imports {above:?}, above it (allowed: {allowed:?})");
}

#[test]
fn the_codec_imports_nothing_above_it() {
    assert_only(&graph(), "http", &[]);
}

#[test]
fn the_websocket_codec_knows_only_the_http_head() {
    assert_only(&graph(), "ws", &["http"]);
}

#[test]
fn the_connection_registry_is_a_leaf() {
    assert_only(&graph(), "connections", &["event", "random", "table"]);
}

#[test]
fn the_table_is_plain_data() {
    assert_only(&graph(), "table", &["http"]);
}

#[test]
fn the_compiler_never_reaches_the_runtime() {
    let graph = graph();
    // `schema` and `vtl` are leaves the compiler uses to check models and templates.
    assert_only(&graph, "config", &["table", "http", "route", "schema", "vtl"]);
    let reached = closure(&graph, "config");
    let runtime_side = [
        "runtime",
        "pipeline",
        "integration",
        "cache",
        "throttle",
        "admin",
        "top",
        "conn",
        "response",
        "stage",
        "auth",
        "access_log",
        "metrics",
        "tls",
    ];
    let bad: Vec<&&str> = runtime_side.iter().filter(|m| reached.contains(**m)).collect();
    assert!(bad.is_empty(), "the compiler reaches {bad:?} (through {reached:?})");
}

/// Models compile in the config compiler and in the runtime: a leaf over the table.
#[test]
fn schemas_are_a_leaf() {
    assert_only(&graph(), "schema", &["table"]);
}

/// The template engine knows nothing of the gateway: the integration step turns a request
/// into its plain values, so the engine can be checked against Velocity on its own.
#[test]
fn templates_are_a_leaf() {
    assert_only(&graph(), "vtl", &[]);
}

#[test]
fn the_request_context_is_a_leaf() {
    assert_only(&graph(), "context", &["table", "http", "error", "trace", "random"]);
}

/// The function invoker is a piece of its own, which integrations, authorizers and WebSocket
/// routes call: it never reaches the pipeline, the client connection or the integration step.
#[test]
fn functions_stand_apart_from_the_pipeline() {
    let reached = closure(&graph(), "function");
    let above = ["runtime", "pipeline", "integration", "conn", "worker", "stage", "route", "cache"];
    let bad: Vec<&&str> = above.iter().filter(|m| reached.contains(**m)).collect();
    assert!(bad.is_empty(), "src/function reaches {bad:?} (through {reached:?})");
}

/// Authorizers are steps over concrete inputs: they never reach the worker, the loaded table,
/// the pipeline or the integrations (the pipeline hands them what they need).
#[test]
fn authorizers_take_their_inputs() {
    let reached = closure(&graph(), "auth");
    let above = ["runtime", "pipeline", "integration", "conn", "worker", "loaded", "control", "stage", "route"];
    let bad: Vec<&&str> = above.iter().filter(|m| reached.contains(**m)).collect();
    assert!(bad.is_empty(), "src/auth reaches {bad:?} (through {reached:?})");
}

/// No module depends on one that depends back on it: the modules form layers.
#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    for module in graph.keys() {
        let reached = closure(&graph, module);
        assert!(!reached.contains(module), "src/{module} reaches itself: {reached:?}");
    }
}

#[test]
fn the_reader_sees_imports() {
    let names =
        named_modules("use crate::{http::head, table::Table};\n// use crate::runtime;\nlet x = crate::cache::now();");
    assert_eq!(names, ["http", "table", "cache"]);
}
