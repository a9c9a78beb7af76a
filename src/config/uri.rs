//! Integration URI templates: `http://${stageVariables.backend}/pets/{id}?src=gw`.
//!
//! Stage variables are substituted at compile time (once per stage); path parameters stay as slots
//! the data plane fills with the captured, still percent-encoded, request segments.

use crate::table::UriPart;

/// Names of the `{param}` / `{param+}` path-parameter slots in a template (not `${...}`).
pub fn path_params(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{'
            && (i == 0 || bytes[i - 1] != b'$')
            && let Some(end) = template[i..].find('}')
        {
            out.push(template[i + 1..i + end].trim_end_matches('+').to_owned());
            i += end;
        }
        i += 1;
    }
    out
}

/// Replaces every `${stageVariables.NAME}`; returns the names that `vars` lacks.
pub fn substitute(template: &str, vars: &[(String, String)]) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(template.len());
    let mut missing = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let expr = &after[..end];
        match expr.strip_prefix("stageVariables.") {
            Some(name) => match vars.iter().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => missing.push(name.to_owned()),
            },
            None => missing.push(expr.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() { Ok(out) } else { Err(missing) }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUri {
    pub host: String,
    pub port: u16,
    /// `https://`: TLS to the upstream.
    pub tls: bool,
    pub path: Vec<UriPart>,
    pub query: Option<String>,
}

/// Parses a substituted `http[s]://host[:port]/path[?query]`; `params` are the route's parameter
/// names.
pub fn parse(uri: &str, params: &[String]) -> Result<ParsedUri, String> {
    let (rest, tls) = if let Some(rest) = uri.strip_prefix("http://") {
        (rest, false)
    } else if let Some(rest) = uri.strip_prefix("https://") {
        (rest, true)
    } else {
        return Err(format!("`{uri}` is not an http:// or https:// URI"));
    };
    let (authority, path_and_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
    };
    if authority.contains('@') {
        return Err("user information in integration URIs is not supported".into());
    }
    let (host, port) = split_host_port(authority, if tls { 443 } else { 80 })?;
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned()).filter(|q| !q.is_empty())),
        None => (path_and_query, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    if let Some(bad) = path.chars().find(|&c| !('!'..='~').contains(&c) || c == '#') {
        return Err(format!("the URI path has the character {bad:?}"));
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        literal.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            return Err("unclosed `{` in the URI path".into());
        };
        let name = rest[open + 1..open + close].trim_end_matches('+');
        let index = params
            .iter()
            .position(|p| p == name)
            .ok_or_else(|| format!("the URI uses `{{{name}}}`, which the route key does not capture"))?;
        if !literal.is_empty() {
            parts.push(UriPart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(UriPart::Param(index as u16));
        rest = &rest[open + close + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(UriPart::Literal(literal));
    }
    Ok(ParsedUri { host, port, tls, path: parts, query })
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    if authority.is_empty() {
        return Err("the URI has no host".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or("unclosed `[` in the URI host")?;
        let host = &authority[..end + 2];
        let port = v6[end + 1..].strip_prefix(':');
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.bytes().any(|b| !(b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))) {
        return Err(format!("`{host}` is not a valid host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| format!("`{p}` is not a valid port"))?,
    };
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_variables() {
        assert_eq!(path_params("http://${stageVariables.b}/pets/{id}/{proxy+}"), ["id", "proxy"]);
        let vars = vec![("backend".to_owned(), "127.0.0.1:9000".to_owned())];
        assert_eq!(substitute("http://${stageVariables.backend}/x", &vars).unwrap(), "http://127.0.0.1:9000/x");
        assert_eq!(substitute("http://${stageVariables.nope}/${context.x}", &vars).unwrap_err(), ["nope", "context.x"]);
    }

    #[test]
    fn parses_uris() {
        let p = parse("http://127.0.0.1:9000/pets/{id}?src=gw", &["id".into()]).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 9000));
        assert_eq!(p.path, [UriPart::Literal("/pets/".into()), UriPart::Param(0)]);
        assert_eq!(p.query.as_deref(), Some("src=gw"));
        let p = parse("http://Example.com", &[]).unwrap();
        assert_eq!((p.host.as_str(), p.port, p.path.clone()), ("example.com", 80, vec![UriPart::Literal("/".into())]));
        let p = parse("http://[::1]:81/{proxy+}", &["proxy".into()]).unwrap();
        assert_eq!((p.host.as_str(), p.port), ("[::1]", 81));
        for bad in ["ftp://x", "http://:80/", "http://x:0/", "http://x:99999/", "http://x/{nope}", "http://x/a b"] {
            assert!(parse(bad, &[]).is_err(), "{bad}");
        }
    }
}
