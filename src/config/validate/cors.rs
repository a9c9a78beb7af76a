//! `cors = { allow_origins, allow_methods, allow_headers, expose_headers, max_age_s,
//! allow_credentials }` on an API (AWS's `corsConfiguration`; on REST APIs a shorthand for the
//! OPTIONS mock methods and headers AWS's "Enable CORS" writes).

use super::CORS_KEYS;
use crate::config::reader::{Obj, Reader};
use crate::table::cors::{Cors, Origin};

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

pub(super) fn read(r: &mut Reader<'_>, api: Obj<'_>) -> Option<Cors> {
    let item = r.item(api, "cors")?;
    let o = r.obj(item, "`cors`")?;
    r.allow_keys(o, CORS_KEYS);
    let mut cors = Cors::default();
    for origin in r.str_list(o, "allow_origins") {
        match parse_origin(&origin.value) {
            Ok(parsed) => cors.allow_origins.push(parsed),
            Err(why) => r.error(
                origin.span.clone(),
                format!("`{}` is not an origin: {why}", origin.value),
                Some(
                    "like \"https://app.example.com\", \"https://*.example.com\", \"http://localhost:3000\" or \"*\""
                        .into(),
                ),
            ),
        }
    }
    for m in r.str_list(o, "allow_methods") {
        let upper = m.value.to_ascii_uppercase();
        if upper != "*" && !METHODS.contains(&upper.as_str()) {
            r.error(
                m.span.clone(),
                format!("`{}` is not a method", m.value),
                Some(format!("use {} or \"*\"", METHODS.join(", "))),
            );
            continue;
        }
        cors.allow_methods.push(upper);
    }
    for (key, list) in [("allow_headers", &mut cors.allow_headers), ("expose_headers", &mut cors.expose_headers)] {
        for h in r.str_list(o, key) {
            let token = h.value == "*" || crate::http::is_token(h.value.as_bytes());
            if !token {
                r.error(h.span.clone(), format!("`{}` is not a header name", h.value), None);
                continue;
            }
            list.push(h.value.to_ascii_lowercase());
        }
    }
    cors.max_age_s = r.item(o, "max_age_s").map(|_| r.int(o, "max_age_s", 0, 0, 86_400) as u32);
    cors.allow_credentials = r.bool(o, "allow_credentials", false);
    if cors.allow_credentials && cors.allow_origins.contains(&Origin::Any) {
        let span = r.item(o, "allow_credentials").and_then(|i| i.span());
        r.error(
            span,
            "`allow_credentials` cannot go with `allow_origins = [\"*\"]`",
            Some("browsers refuse credentialed responses for any origin: list the origins".into()),
        );
    }
    Some(cors)
}

fn parse_origin(text: &str) -> Result<Origin, &'static str> {
    if text == "*" {
        return Ok(Origin::Any);
    }
    let lower = text.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").ok_or("no scheme")?;
    if scheme != "http" && scheme != "https" {
        return Err("the scheme is http or https");
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("an origin is scheme://host[:port], without a path");
    }
    let (host, port) = rest.rsplit_once(':').map_or((rest, None), |(h, p)| (h, Some(p)));
    if port.is_some_and(|p| p.is_empty() || p.parse::<u16>().is_err()) {
        return Err("the port is a number");
    }
    match host.strip_prefix("*.") {
        Some(domain) if domain.contains('.') && !domain.contains('*') => {
            let suffix = lower[scheme.len() + 3 + 1..].to_owned();
            Ok(Origin::Subdomains { scheme: format!("{scheme}://"), suffix })
        }
        Some(_) => Err("a wildcard names subdomains of a domain, like https://*.example.com"),
        None if host.is_empty() || host.contains('*') => {
            Err("a wildcard only opens a host name: https://*.example.com")
        }
        None => Ok(Origin::Exact(lower)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(parse_origin("*"), Ok(Origin::Any));
        assert_eq!(parse_origin("HTTPS://App.Example.com"), Ok(Origin::Exact("https://app.example.com".into())));
        assert_eq!(parse_origin("http://localhost:3000"), Ok(Origin::Exact("http://localhost:3000".into())));
        assert_eq!(
            parse_origin("https://*.example.com:8443"),
            Ok(Origin::Subdomains { scheme: "https://".into(), suffix: ".example.com:8443".into() })
        );
        for bad in [
            "example.com",
            "ftp://x",
            "https://x/path",
            "https://*",
            "https://*.com",
            "https://a*.b.com",
            "https://x:port",
            "https://",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
