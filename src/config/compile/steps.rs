//! Which optional steps each route runs in a stage, decided once here so that a request pays
//! only for the steps its route uses: a plain proxy route with no key, limit or cache runs stage,
//! route and integration, and nothing else.

use crate::config::model::{ApiModel, Config, StageModel};
use crate::table::{Integration, RouteSteps, ThrottleSetting};

pub(super) fn for_stage(
    config: &Config,
    api: &ApiModel,
    stage: &StageModel,
    integrations: &[Integration],
    route_throttles: &[Option<ThrottleSetting>],
) -> Vec<RouteSteps> {
    api.routes
        .iter()
        .enumerate()
        .map(|(r, route)| {
            let proxy = matches!(integrations.get(r), Some(Integration::HttpProxy(_)));
            RouteSteps {
                auth: route.authorizer.is_some() || route.iam || api.resource_policy.is_some(),
                api_key: route.api_key_required,
                // A key's usage plan may carry limits and a quota of its own.
                throttle: config.throttle.is_some()
                    || stage.throttle.is_some()
                    || route_throttles.get(r).is_some_and(Option::is_some)
                    || route.api_key_required,
                cache: proxy && stage.cache.is_some(),
                // Mocks read no body; an upstream gets a small one only once it is whole; a
                // function's event carries the whole body.
                validate: route.validation.as_ref().is_some_and(|v| v.params || v.body),
                buffer_body_bytes: match integrations.get(r) {
                    // SigV4 covers the body's hash, and a validated body is checked whole: both
                    // are received before the step.
                    _ if route.iam || route.validation.as_ref().is_some_and(|v| v.body) => config.limits.max_body_bytes,
                    Some(Integration::HttpProxy(_)) => config.limits.buffer_body_bytes,
                    Some(Integration::Function(_) | Integration::Mapped(_)) => config.limits.max_body_bytes,
                    _ => 0,
                },
            }
        })
        .collect()
}
