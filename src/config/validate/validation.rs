//! Request validation (REST APIs): `[[api.model]]` (a name and a draft-4 JSON Schema, inline or
//! from a file) and, per route, `request_validator`, `request_model` / `request_models` and
//! `required_parameters`. Schemas are compiled by the compiler (which reports a bad one with its
//! model's position); names are resolved there too.

use super::{MODEL_KEYS, text_or_file};
use crate::config::mapping_expr::{self, Dialect, Expr};
use crate::config::model::{ModelModel, RouteValidationModel};
use crate::config::reader::{Obj, Reader, Spanned};
use crate::table::Protocol;
use crate::table::mapping::Source;
use crate::table::validation::{ParamFamily, Required};

pub(super) fn read_models(r: &mut Reader<'_>, api: Obj<'_>, protocol: Protocol) -> Vec<ModelModel> {
    let mut out: Vec<ModelModel> = Vec::new();
    for o in r.tables(api, "model", "[[api.model]]") {
        r.allow_keys(o, MODEL_KEYS);
        if protocol == Protocol::Http {
            r.error(o.span(), "HTTP APIs have no models or request validation (as in AWS)", None);
            continue;
        }
        let Some(name) = r.str(o, "name", "every model needs a `name`, like name = \"Signup\"") else { continue };
        if name.value.is_empty() || !name.value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            r.error(
                name.span.clone(),
                format!("`{}` is not a model name", name.value),
                Some("model names are alphanumeric (AWS's rule)".into()),
            );
            continue;
        }
        if out.iter().any(|m| m.name.value == name.value) {
            r.error(name.span.clone(), format!("model `{}` is defined twice", name.value), None);
            continue;
        }
        let Some(schema) = text_or_file(r, o, "schema", "schema_file") else {
            r.error(
                o.span(),
                format!("model `{}` has no schema", name.value),
                Some("give schema = '''{ ... }''' or schema_file = \"models/x.json\"".into()),
            );
            continue;
        };
        out.push(ModelModel { name, schema });
    }
    out
}

pub(super) fn read_route(r: &mut Reader<'_>, route: Obj<'_>, protocol: Protocol) -> Option<RouteValidationModel> {
    let validator = r.opt_str(route, "request_validator");
    let mut models: Vec<(String, Spanned<String>)> = Vec::new();
    if let Some(m) = r.opt_str(route, "request_model") {
        // The route's one model: whatever the body's content type (safer than AWS's pass for
        // an unlisted type; `request_models` keeps AWS's per-type choice).
        models.push(("$default".to_owned(), m));
    }
    for (ct, m) in r.str_map(route, "request_models") {
        let ct_lower = ct.value.to_ascii_lowercase();
        let media = ct_lower == "$default"
            || ct_lower.split_once('/').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains(';'));
        if !media {
            r.error(
                ct.span.clone(),
                format!("`{}` is not a content type", ct.value),
                Some("like \"application/json\" or \"$default\"".into()),
            );
            continue;
        }
        if models.iter().any(|(c, _)| *c == ct_lower) {
            r.error(ct.span.clone(), format!("content type `{}` has two models", ct.value), None);
            continue;
        }
        models.push((ct_lower, m));
    }
    let mut required = Vec::new();
    for p in r.str_list(route, "required_parameters") {
        let parsed = mapping_expr::parse(&p.value, Dialect::Rest);
        let (family, name) = match parsed {
            Ok(Expr::Source(Source::Header(n))) => (ParamFamily::Header, n),
            Ok(Expr::Source(Source::Query(n))) => (ParamFamily::Query, n),
            Ok(Expr::Source(Source::Path(n))) => (ParamFamily::Path, n),
            _ => {
                r.error(
                    p.span.clone(),
                    format!("`{}` is not a request parameter", p.value),
                    Some("like \"method.request.header.x-client\", \"method.request.querystring.q\" or \"method.request.path.id\"".into()),
                );
                continue;
            }
        };
        required.push((p.span.clone(), Required { family, name }));
    }
    if validator.is_none() && models.is_empty() && required.is_empty() {
        return None;
    }
    if protocol == Protocol::Http {
        let span = validator.as_ref().and_then(|v| v.span.clone()).or(route.span());
        r.error(span, "HTTP APIs have no request validation (as in AWS)", Some("use protocol = \"rest\"".into()));
        return None;
    }
    // Naming a model or a required parameter validates it; `request_validator` narrows or turns
    // it off (AWS needs a validator for anything to be checked).
    let (params, body) = match validator.as_ref().map(|v| v.value.as_str()) {
        None | Some("all") => (true, true),
        Some("params") => (true, false),
        Some("body") => (false, true),
        Some("none") => (false, false),
        Some(other) => {
            let span = validator.as_ref().and_then(|v| v.span.clone());
            r.error(
                span,
                format!("unknown request_validator `{other}`"),
                Some("use \"body\", \"params\", \"all\" or \"none\"".into()),
            );
            return None;
        }
    };
    if body && models.is_empty() && validator.as_ref().is_some_and(|v| v.value == "body") {
        let span = validator.as_ref().and_then(|v| v.span.clone());
        r.error(
            span,
            "this route validates its body and has no model",
            Some("add request_model = \"<a model of this API>\"".into()),
        );
    }
    Some(RouteValidationModel { params, body, required, models })
}
