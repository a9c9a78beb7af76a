//! Request validation: each API's models compiled once here, so a bad schema is a `check` error
//! at its model's position (the workers compile them again at load, from the table); routes'
//! model names resolved to indexes.

use super::Errors;
use crate::config::model::ApiModel;
use crate::table::validation::{Model, RouteValidation};

pub(super) fn models(errors: &mut Errors<'_>, api: &ApiModel) -> Vec<Model> {
    let models: Vec<Model> =
        api.models.iter().map(|m| Model { name: m.name.value.clone(), schema: m.schema.value.clone() }).collect();
    // One error per bad model: compile each with its siblings, reporting the first failure.
    if let Err(e) = crate::schema::compile(&models) {
        let at = api.models.iter().find(|m| m.name.value == e.model).and_then(|m| m.schema.span.clone());
        errors.at(
            at,
            format!("model `{}` is not a valid JSON Schema: {}", e.model, e.message),
            Some("models are JSON Schema draft 4 (AWS's)".into()),
        );
    }
    models
}

pub(super) fn routes(errors: &mut Errors<'_>, api: &ApiModel) -> Vec<Option<RouteValidation>> {
    api.routes
        .iter()
        .map(|route| {
            let v = route.validation.as_ref()?;
            let mut models = Vec::with_capacity(v.models.len());
            for (content_type, name) in &v.models {
                match api.models.iter().position(|m| m.name.value == name.value) {
                    Some(i) => models.push((content_type.clone(), i as u32)),
                    None => {
                        let names: Vec<&str> = api.models.iter().map(|m| m.name.value.as_str()).collect();
                        let hint = match crate::config::diagnostic::did_you_mean(&name.value, &names) {
                            Some(n) => format!("did you mean `{n}`?"),
                            None => "define it with [[api.model]]".to_owned(),
                        };
                        errors.at(name.span.clone(), format!("this API has no model `{}`", name.value), Some(hint));
                    }
                }
            }
            for (span, required) in &v.required {
                if required.family == crate::table::validation::ParamFamily::Path
                    && !route.params.contains(&required.name)
                {
                    errors.at(
                        span.clone(),
                        format!("route `{}` has no path parameter `{}`", route.key.value, required.name),
                        None,
                    );
                }
            }
            Some(RouteValidation {
                params: v.params,
                body: v.body,
                required: v.required.iter().map(|(_, r)| r.clone()).collect(),
                models,
            })
        })
        .collect()
}
