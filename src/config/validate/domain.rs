//! `[[domain]]`: custom domains and their base-path mappings.

use super::server::addrs;
use super::*;
use crate::config::reader::{Obj, Reader, Spanned};
use crate::route::key;

pub(super) fn read_domain(r: &mut Reader<'_>, d: Obj<'_>, apis: &[ApiModel]) -> Option<DomainModel> {
    r.allow_keys(d, DOMAIN_KEYS);
    let name = r.str(d, "name", "the host name clients use, like name = \"api.example.com\"");
    let listen = addrs(r, d);
    let listen_tls = super::server::tls_addrs(r, d);
    let certificate = super::tls::read_cert(r, d, "certificate");
    let mtls = super::tls::read_mtls(r, d);
    if mtls.is_some() && r.item(d, "listen").is_some() {
        let span = r.item(d, "listen").and_then(|i| i.span());
        r.error(
            span,
            "a domain with `mtls` is served on TLS listeners only",
            Some("use `listen_tls` instead of `listen`".into()),
        );
    }
    let mut mappings = Vec::new();
    for m in r.tables(d, "mapping", "[[domain.mapping]]") {
        r.allow_keys(m, MAPPING_KEYS);
        let base = r.opt_str(m, "base_path").map(|b| b.value).unwrap_or_default();
        let base_path: Vec<String> = if base.is_empty() || base == "(none)" {
            Vec::new()
        } else {
            base.trim_matches('/').split('/').map(str::to_owned).collect()
        };
        if base_path.iter().any(|s| s.is_empty() || !s.bytes().all(key::is_path_char)) {
            let span = r.item(m, "base_path").and_then(|i| i.span());
            r.error(
                span,
                format!("`{base}` is not a valid base path"),
                Some("like \"v1\" or \"orders/v2\"; empty or \"(none)\" maps the whole domain".into()),
            );
        }
        let api_name = r.str(m, "api", "the name of the [[api]] this base path maps to");
        let stage_name = r.str(m, "stage", "the stage of that API");
        let (Some(api_name), Some(stage_name)) = (api_name, stage_name) else {
            continue;
        };
        let Some(api) = apis.iter().position(|a| a.name.value == api_name.value) else {
            r.error(api_name.span, format!("no API is named `{}`", api_name.value), None);
            continue;
        };
        let Some(stage) = apis[api].stages.iter().position(|s| s.name.value == stage_name.value) else {
            r.error(stage_name.span, format!("API `{}` has no stage `{}`", api_name.value, stage_name.value), None);
            continue;
        };
        if mappings.iter().any(|x: &MappingModel| x.base_path == base_path) {
            r.error(d.span(), format!("base path `{base}` is mapped twice"), None);
        }
        mappings.push(MappingModel { base_path, api, stage });
    }
    if let Some(n) = &name {
        if n.value.is_empty() || n.value.contains(['/', ' ', ':']) {
            r.error(n.span.clone(), format!("`{}` is not a host name", n.value), None);
        }
        if mappings.is_empty() {
            r.error(
                n.span.clone(),
                format!("domain `{}` has no mapping", n.value),
                Some("add [[domain.mapping]] with api and stage".into()),
            );
        }
    }
    let mut name = name?;
    name.value = name.value.to_ascii_lowercase();
    Some(DomainModel {
        name: Spanned { value: name.value, span: name.span },
        listen,
        listen_tls,
        mappings,
        certificate,
        mtls,
    })
}
