//! `[[function]]`: what function integrations invoke — a name, a target, and how many
//! invocations may run at once.

use super::*;
use crate::config::reader::{Obj, Reader, Spanned};

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
        let lambda = r.item(f, "lambda");
        let target = match (url, command.is_empty()) {
            (None, true) if lambda.is_some() => {
                refuse(r, f, &local_only, "a Lambda function runs in AWS, with its own settings");
                let Some(target) = lambda.and_then(|item| read_lambda(r, item)) else { continue };
                target
            }
            (Some(url), true) => {
                refuse(r, f, &local_only, "a `url` function runs wherever that endpoint does");
                FunctionTargetModel::Url(url)
            }
            (None, false) => {
                let env = r.str_map(f, "env").into_iter().map(|(k, v)| (k.value, v.value)).collect();
                let dir = r.opt_str(f, "working_dir").map_or_else(|| ".".to_owned(), |d| d.value);
                let working_dir = super::resolve_path(r.file, dir);
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
                    Some("give url = \"http://127.0.0.1:9000/invoke\" (the event is POSTed there), command = [\"python3\", \"-m\", \"awslambdaric\", \"app.handler\"], or lambda = { function_name = \"orders\", region = \"us-east-1\" }".into()),
                );
                continue;
            }
        };
        // Local functions keep this many processes warm: at least one, and one by default.
        let least = if matches!(target, FunctionTargetModel::Local { .. }) { 1 } else { 0 };
        let concurrency = r.int(f, "concurrency", least, least, 100_000) as u32;
        let queue_timeout_ms = r.int(f, "queue_timeout_ms", 0, 0, MAX_FUNCTION_MS) as u64;
        functions.push(FunctionModel { name, target, concurrency, queue_timeout_ms });
    }
    functions
}

/// Reports each of `keys` that `f` has: settings of local functions on another kind.
fn refuse(r: &mut Reader<'_>, f: Obj<'_>, keys: &[&str], hint: &str) {
    for key in keys {
        if let Some(span) = r.item(f, key).map(|item| item.span()) {
            r.error(span, format!("`{key}` is for functions with a `command`"), Some(hint.into()));
        }
    }
}

/// `lambda = { function_name, region, endpoint, access_key_id_env, secret_access_key_env,
/// session_token_env }`: the credentials are read from the environment now, so a missing one is
/// a config error rather than a failing request.
fn read_lambda(r: &mut Reader<'_>, item: &toml_edit::Item) -> Option<FunctionTargetModel> {
    let o = r.obj(item, "`lambda`")?;
    r.allow_keys(o, LAMBDA_KEYS);
    let function_name = r.str(o, "function_name", "the Lambda function's name or ARN, like function_name = \"orders\"");
    let region = r.str(o, "region", "like region = \"us-east-1\"");
    let endpoint = r.opt_str(o, "endpoint");
    let credentials = read_credentials(r, o, "Lambda invocations");
    let (function_name, region) = (function_name?, region?);
    let valid_region = !region.value.is_empty()
        && region.value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_region {
        r.error(
            region.span.clone(),
            format!("`{}` is not an AWS region", region.value),
            Some("like \"us-east-1\"".into()),
        );
    }
    let endpoint = endpoint.unwrap_or_else(|| Spanned {
        value: format!("https://lambda.{}.amazonaws.com", region.value),
        span: region.span.clone(),
    });
    let credentials = credentials?;
    Some(FunctionTargetModel::Lambda {
        function_name: function_name.value,
        region: region.value,
        endpoint,
        credentials,
    })
}

/// `access_key_id_env`, `secret_access_key_env`, `session_token_env` (default `AWS_ACCESS_KEY_ID`,
/// …): the credentials `what` is signed with, read from the environment when the config is
/// checked.
pub(super) fn read_credentials(r: &mut Reader<'_>, o: Obj<'_>, what: &str) -> Option<crate::table::AwsCredentials> {
    let mut env = |key: &str, default: &str, required: bool| -> Option<String> {
        let name = r.opt_str(o, key);
        let variable = name.as_ref().map_or(default.to_owned(), |n| n.value.clone());
        match std::env::var(&variable) {
            Ok(v) if !v.is_empty() => Some(v),
            _ if !required => None,
            _ => {
                let span = name.map_or_else(|| o.span(), |n| n.span);
                r.error(
                    span,
                    format!("environment variable `{variable}` is not set"),
                    Some(format!("{what} are signed with the credentials in the environment")),
                );
                None
            }
        }
    };
    let access_key_id = env("access_key_id_env", "AWS_ACCESS_KEY_ID", true);
    let secret_access_key = env("secret_access_key_env", "AWS_SECRET_ACCESS_KEY", true);
    let session_token = env("session_token_env", "AWS_SESSION_TOKEN", false);
    Some(crate::table::AwsCredentials {
        access_key_id: access_key_id?,
        secret_access_key: secret_access_key?,
        session_token,
    })
}
