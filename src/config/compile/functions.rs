//! `[[function]]`s compiled: each URL target parsed into an upstream (shared with HTTP proxy
//! integrations, link-local and metadata hosts refused unless allowed); function integrations
//! resolved to a function by name, after stage variables are substituted.

use std::ops::Range;

use super::Errors;
use crate::config::model::{Config, FunctionTargetModel, StageModel};
use crate::config::reader::Spanned;
use crate::config::uri::{self, ParsedUri};
use crate::table::{Function, FunctionIntegration, FunctionTarget, PayloadFormat, Upstream, UriPart};

pub(super) fn compile(errors: &mut Errors<'_>, config: &Config, upstreams: &mut Vec<Upstream>) -> Vec<Function> {
    let mut functions = Vec::new();
    for f in &config.functions {
        let target = match &f.target {
            FunctionTargetModel::Url(url) => {
                let Ok(parsed) = uri::parse(&url.value, &[]).map_err(|e| errors.at(url.span.clone(), e, None)) else {
                    continue;
                };
                let mut path = String::new();
                for part in &parsed.path {
                    match part {
                        UriPart::Literal(text) => path.push_str(text),
                        UriPart::Param(_) => {}
                    }
                }
                if path.is_empty() {
                    path.push('/');
                }
                if let Some(q) = &parsed.query {
                    path.push('?');
                    path.push_str(q);
                }
                let Some(upstream) = upstream(errors, config, parsed, url.span.clone(), upstreams) else { continue };
                FunctionTarget::Url { url: url.value.clone(), upstream, path }
            }
            FunctionTargetModel::Lambda { function_name, region, endpoint, credentials } => {
                let Ok(parsed) =
                    uri::parse(&endpoint.value, &[]).map_err(|e| errors.at(endpoint.span.clone(), e, None))
                else {
                    continue;
                };
                let Some(upstream) = upstream(errors, config, parsed, endpoint.span.clone(), upstreams) else {
                    continue;
                };
                FunctionTarget::Lambda {
                    function_name: function_name.clone(),
                    region: region.clone(),
                    endpoint: endpoint.value.clone(),
                    upstream,
                    credentials: credentials.clone(),
                }
            }
            FunctionTargetModel::Local { command, env, working_dir, timeout_ms, memory_mb, region } => {
                FunctionTarget::Local {
                    command: command.clone(),
                    env: env.clone(),
                    working_dir: working_dir.clone(),
                    timeout_ms: *timeout_ms,
                    memory_mb: *memory_mb,
                    region: region.clone(),
                }
            }
        };
        functions.push(Function {
            name: f.name.value.clone(),
            target,
            concurrency: f.concurrency,
            queue_timeout_ms: f.queue_timeout_ms,
        });
    }
    functions
}

/// The upstream of a parsed URI, added to the table's list unless it is there already; `None`
/// (reported) for a link-local or metadata host that the config does not allow.
pub(super) fn upstream(
    errors: &mut Errors<'_>,
    config: &Config,
    parsed: ParsedUri,
    span: Option<Range<usize>>,
    upstreams: &mut Vec<Upstream>,
) -> Option<u32> {
    let host_ip = parsed.host.trim_start_matches('[').trim_end_matches(']').parse();
    if !config.upstream.allow_link_local && host_ip.is_ok_and(crate::table::is_link_local_or_metadata) {
        errors.at(
            span,
            format!("`{}` is a link-local or cloud metadata address", parsed.host),
            Some("an integration there could fetch the node's credentials; set [upstream] allow_link_local = true if you mean it".into()),
        );
        return None;
    }
    let upstream = Upstream { host: parsed.host, port: parsed.port, tls: parsed.tls };
    let index = match upstreams.iter().position(|u| *u == upstream) {
        Some(i) => i,
        None => {
            upstreams.push(upstream);
            upstreams.len() - 1
        }
    };
    Some(index as u32)
}

/// A route's function integration in one stage: the target with the stage's variables in it
/// names a function.
pub(super) fn integration(
    errors: &mut Errors<'_>,
    config: &Config,
    stage: &StageModel,
    (target, format, timeout_ms): (&Spanned<String>, PayloadFormat, u64),
) -> Option<FunctionIntegration> {
    let name = match uri::substitute(&target.value, &stage.variables) {
        Ok(name) => name,
        Err(missing) => {
            for variable in missing {
                errors.at(
                    target.span.clone(),
                    format!("stage `{}` has no variable `{variable}`", stage.name.value),
                    Some(super::integrations::missing_variable_hint(&variable, &stage.variables)),
                );
            }
            return None;
        }
    };
    let exact = config.functions.iter().position(|f| f.name.value == name);
    // `orders:live` for a Lambda function `orders`: the alias goes to Lambda as the qualifier.
    let qualified = name.rsplit_once(':').and_then(|(base, qualifier)| {
        let f = config
            .functions
            .iter()
            .position(|f| f.name.value == base && matches!(f.target, FunctionTargetModel::Lambda { .. }))?;
        Some((f, qualifier.to_owned()))
    });
    match (exact, qualified) {
        (Some(function), _) => {
            Some(FunctionIntegration { function: function as u32, format, timeout_ms, qualifier_query: None })
        }
        (None, Some((function, qualifier))) => {
            let encoded = percent_encoding::utf8_percent_encode(&qualifier, percent_encoding::NON_ALPHANUMERIC);
            let qualifier_query = Some(format!("Qualifier={encoded}"));
            Some(FunctionIntegration { function: function as u32, format, timeout_ms, qualifier_query })
        }
        (None, None) => {
            let names: Vec<&str> = config.functions.iter().map(|f| f.name.value.as_str()).collect();
            let in_stage =
                (name != target.value).then(|| format!(" (in stage `{}` it reads `{name}`)", stage.name.value));
            let hint = match crate::config::diagnostic::did_you_mean(&name, &names) {
                Some(close) => format!("did you mean `{close}`?{}", in_stage.unwrap_or_default()),
                None => {
                    format!("define it: [[function]] name = \"{name}\" with a `url`{}", in_stage.unwrap_or_default())
                }
            };
            errors.at(target.span.clone(), format!("no function is named `{name}`"), Some(hint));
            None
        }
    }
}
