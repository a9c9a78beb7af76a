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
        let target = match url {
            Some(url) => FunctionTargetModel::Url(url),
            None => {
                r.error(
                    f.span(),
                    format!("function `{}` has no target", name.value),
                    Some("give url = \"http://127.0.0.1:9000/invoke\": the event is POSTed there".into()),
                );
                continue;
            }
        };
        let concurrency = r.int(f, "concurrency", 0, 0, 100_000) as u32;
        let queue_timeout_ms = r.int(f, "queue_timeout_ms", 0, 0, MAX_FUNCTION_MS) as u64;
        functions.push(FunctionModel { name, target, concurrency, queue_timeout_ms });
    }
    functions
}
