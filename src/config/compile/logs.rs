//! A stage's access log: its format (a preset or a template) compiled with the stage's variables.

use super::Errors;
use crate::config::log_format as format;
use crate::config::model::{ApiModel, StageModel};
use crate::table::{Protocol, StageLog};

pub(super) fn for_stage(errors: &mut Errors<'_>, api: &ApiModel, stage: &StageModel) -> Option<StageLog> {
    let log = stage.access_log.as_ref()?;
    let rest = api.protocol == Protocol::Rest;
    let template = format::preset(&log.format.value, rest).unwrap_or(&log.format.value);
    let lookup = |name: &str| stage.variables.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match format::compile(template, lookup) {
        Ok(parts) => Some(StageLog {
            destination: log.destination.as_str().into(),
            json: format::is_json(&parts),
            format: parts,
        }),
        Err(unknown) => {
            let hint = match unknown.suggestion {
                Some(s) => format!("did you mean `$context.{s}`?"),
                None if unknown.name.starts_with("$stageVariables.") => {
                    format!("stage `{}` has no such variable", stage.name.value)
                }
                None => "see docs/observability.md for the variables".to_owned(),
            };
            errors.at(log.format.span.clone(), format!("unknown access log variable `{}`", unknown.name), Some(hint));
            None
        }
    }
}
