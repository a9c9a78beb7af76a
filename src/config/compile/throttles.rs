//! Rate limits: a stage's per-route limits (by route key, as written), and usage plans.

use super::Errors;
use crate::config::model::{ApiModel, Config, StageModel};
use crate::table::{ThrottleSetting, UsagePlan};

/// One per route of the API, same index: the route's own limit in this stage.
pub(super) fn for_stage(errors: &mut Errors<'_>, api: &ApiModel, stage: &StageModel) -> Vec<Option<ThrottleSetting>> {
    let mut route_throttles = vec![None; api.routes.len()];
    for (key, setting) in &stage.route_throttle {
        match api.routes.iter().position(|r| r.key.value == key.value) {
            Some(i) => route_throttles[i] = Some(setting.clone()),
            None => {
                let keys: Vec<&str> = api.routes.iter().map(|r| r.key.value.as_str()).collect();
                let hint = match crate::config::diagnostic::did_you_mean(&key.value, &keys) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => "use a route key of this API exactly as written".to_owned(),
                };
                errors.at(
                    key.span.clone(),
                    format!("`route_throttle` names `{}`, which is not a route of API `{}`", key.value, api.name.value),
                    Some(hint),
                );
            }
        }
    }
    route_throttles
}

pub(super) fn usage_plans(config: &Config) -> Vec<UsagePlan> {
    config
        .usage_plans
        .iter()
        .map(|p| UsagePlan {
            name: p.name.value.clone(),
            throttle: p.throttle.clone(),
            stages: p.stages.iter().map(|&(a, s)| (a as u32, s as u32)).collect(),
            route_throttles: p
                .route_throttles
                .iter()
                .map(|(a, s, r, t)| (*a as u32, *s as u32, *r as u32, t.clone()))
                .collect(),
            keys: p.keys.iter().map(|&k| k as u32).collect(),
            quota: p.quota.clone(),
            on_redis_failure: p.on_redis_failure,
        })
        .collect()
}
