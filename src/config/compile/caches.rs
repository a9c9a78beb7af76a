//! How each route caches in a stage: the stage's cache settings with the route's own over them,
//! and the TTL cap.

use super::Errors;
use crate::config::model::{ApiModel, StageModel};
use crate::config::validate::cache;
use crate::table::RouteCache;

pub(super) fn for_stage(errors: &mut Errors<'_>, api: &ApiModel, stage: &StageModel) -> Vec<Option<RouteCache>> {
    for route in &api.routes {
        if let Some(ttl_s) = cache::ttl_over_cap(stage.cache.as_ref(), &route.cache) {
            errors.at(
                route.cache.ttl_span.clone(),
                format!("cache `ttl_s` = {ttl_s} is over 3600 s, the cap of stage `{}`", stage.name.value),
                Some("use at most 3600 (AWS's limit), or set ttl_uncapped = true in the stage's cache".into()),
            );
        }
    }
    api.routes.iter().map(|r| cache::resolve(stage.cache.as_ref(), &r.cache)).collect()
}
