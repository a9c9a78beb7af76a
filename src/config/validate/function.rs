//! `[[function]]`: what function integrations invoke — a name, a target, and how many
//! invocations may run at once.

use super::*;
use crate::config::reader::{Obj, Reader};

/// Longest a function may run, and an invocation may queue: Lambda's own 15 minutes.
pub(super) const MAX_FUNCTION_MS: i64 = 15 * 60 * 1000;

pub(super) fn read_functions(r: &mut Reader<'_>, root: Obj<'_>) -> Vec<FunctionModel> {
    let mut functions: Vec<FunctionModel> = Vec::new();
    for f in r.tables(root, "function", "[[function]]") {
        r.allow_keys(f, FUNCTION_KEYS);
        let Some(name) = r.str(f, "name", "every function needs a `name`, like name = \"orders\"") else { continue };
        let valid = !name.value.is_empty()
            && name.value.len() <= 140
            && name.value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
        if !valid {
            r.error(
                name.span.clone(),
                format!("`{}` is not a valid function name", name.value),
                Some("names use letters, digits, `-`, `_` and `.`, with `:` before an alias (`orders:live`)".into()),
            );
        }
        if functions.iter().any(|g| g.name.value == name.value) {
            r.error(name.span.clone(), format!("two functions are named `{}`", name.value), None);
        }
        let url = r.opt_str(f, "url");
        let command: Vec<String> = r.str_list(f, "command").into_iter().map(|c| c.value).collect();
        let local_only = ["env", "working_dir", "timeout_ms", "memory_mb", "region"];
        let target = match (url, command.is_empty()) {
            (Some(url), true) => {
                for key in local_only {
                    if let Some(item) = r.item(f, key) {
                        let span = item.span();
                        r.error(
                            span,
                            format!("`{key}` is for functions with a `command`"),
                            Some("a `url` function runs wherever that endpoint does".into()),
                        );
                    }
                }
                FunctionTargetModel::Url(url)
            }
            (None, false) => {
                let env = r.str_map(f, "env").into_iter().map(|(k, v)| (k.value, v.value)).collect();
                let working_dir = match r.opt_str(f, "working_dir") {
                    Some(d) => super::resolve_path(r.file, d.value),
                    None => super::resolve_path(r.file, ".".into()),
                };
                FunctionTargetModel::Local {
                    command,
                    env,
                    working_dir,
                    // Lambda's defaults: 3 s and 128 MB.
                    timeout_ms: r.int(f, "timeout_ms", 3000, 1, MAX_FUNCTION_MS) as u64,
                    memory_mb: r.int(f, "memory_mb", 128, 128, 10_240) as u32,
                    region: r.opt_str(f, "region").map_or_else(|| "us-east-1".to_owned(), |r| r.value),
                }
            }
            (Some(url), false) => {
                r.error(
                    url.span,
                    format!("function `{}` has both a `url` and a `command`", name.value),
                    Some("give one target".into()),
                );
                continue;
            }
            (None, true) => {
                r.error(
                    f.span(),
                    format!("function `{}` has no target", name.value),
                    Some("give url = \"http://127.0.0.1:9000/invoke\" (the event is POSTed there) or command = [\"python3\", \"-m\", \"awslambdaric\", \"app.handler\"]".into()),
                );
                continue;
            }
        };
        // Local functions keep this many processes warm (at least one).
        let default_concurrency = if matches!(target, FunctionTargetModel::Local { .. }) { 1 } else { 0 };
        let min_concurrency = default_concurrency;
        let concurrency = r.int(f, "concurrency", default_concurrency, min_concurrency, 100_000) as u32;
        let queue_timeout_ms = r.int(f, "queue_timeout_ms", 0, 0, MAX_FUNCTION_MS) as u64;
        functions.push(FunctionModel { name, target, concurrency, queue_timeout_ms });
    }
    functions
}
