//! A REST API's customised gateway responses as one stage has them: stage variables substituted
//! into header values and body templates (a variable the stage lacks is empty, as AWS renders it).

use crate::config::log_format;
use crate::config::mapping_expr::Expr;
use crate::config::model::{ApiModel, StageModel};
use crate::table::mapping::{GatewayResponse, Source};

pub(super) fn for_stage(api: &ApiModel, stage: &StageModel) -> Vec<GatewayResponse> {
    let variable = |name: &str| stage.variables.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    api.gateway_responses
        .iter()
        .map(|g| GatewayResponse {
            response_type: g.response_type.clone(),
            status: g.status,
            headers: g.headers.iter().map(|(name, expr)| (name.clone(), in_stage(expr, &variable))).collect(),
            templates: g
                .templates
                .iter()
                // Validation compiled each template already; only stage variables differ here.
                .filter_map(|(ct, t)| {
                    let parts = log_format::compile(t, |n| Some(variable(n).unwrap_or_default())).ok()?;
                    Some((ct.clone(), parts))
                })
                .collect(),
        })
        .collect()
}

/// The expression's value in the stage.
pub(super) fn in_stage(expr: &Expr, variable: &impl Fn(&str) -> Option<String>) -> Source {
    match expr {
        Expr::Source(s) => s.clone(),
        Expr::StageVariable(name) => Source::Literal(variable(name).unwrap_or_default()),
    }
}
