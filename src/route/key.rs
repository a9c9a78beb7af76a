//! Parsing AWS route keys: `GET /pets/{id}`, `ANY /{proxy+}`, `$default`.
//!
//! Used by the config compiler only; the hot path sees the parsed [`RouteKey`].

use crate::table::{RouteKey, RouteMethod, Segment};

/// Why a route key is not valid, with a hint for the config diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub message: String,
    pub hint: &'static str,
}

fn err(message: impl Into<String>, hint: &'static str) -> KeyError {
    KeyError { message: message.into(), hint }
}

const KEY_HINT: &str =
    "a route key is `METHOD /path` (METHOD one of ANY GET HEAD POST PUT DELETE OPTIONS PATCH), or `$default`";

pub fn parse_method(word: &str) -> Option<RouteMethod> {
    Some(match word {
        "ANY" => RouteMethod::Any,
        "GET" => RouteMethod::Get,
        "HEAD" => RouteMethod::Head,
        "POST" => RouteMethod::Post,
        "PUT" => RouteMethod::Put,
        "DELETE" => RouteMethod::Delete,
        "OPTIONS" => RouteMethod::Options,
        "PATCH" => RouteMethod::Patch,
        _ => return None,
    })
}

/// Parses a route key; returns the key and its path-parameter names in capture order.
pub fn parse(key: &str) -> Result<(RouteKey, Vec<String>), KeyError> {
    if key == "$default" {
        return Ok((RouteKey::Default, Vec::new()));
    }
    let Some((method_word, path)) = key.split_once(' ') else {
        return Err(err(format!("route key `{key}` has no method"), KEY_HINT));
    };
    let Some(method) = parse_method(method_word) else {
        return Err(err(format!("`{method_word}` is not a route method"), KEY_HINT));
    };
    if !path.starts_with('/') {
        return Err(err(format!("route path `{path}` does not start with `/`"), KEY_HINT));
    }
    let mut segments = Vec::new();
    let mut params: Vec<String> = Vec::new();
    if path != "/" {
        let parts: Vec<&str> = path[1..].split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let segment = parse_segment(part)?;
            match &segment {
                Segment::Param(name) | Segment::Greedy(name) => {
                    if params.iter().any(|p| p == name) {
                        return Err(err(
                            format!("path parameter `{name}` appears twice in `{path}`"),
                            "give each path parameter its own name",
                        ));
                    }
                    if matches!(segment, Segment::Greedy(_)) && i + 1 != parts.len() {
                        return Err(err(
                            format!("greedy parameter `{{{name}+}}` must be the last segment of `{path}`"),
                            "AWS allows `{proxy+}` only at the end of a path",
                        ));
                    }
                    params.push(name.clone());
                }
                Segment::Literal(_) => {}
            }
            segments.push(segment);
        }
    }
    Ok((RouteKey::Path { method, segments }, params))
}

fn parse_segment(part: &str) -> Result<Segment, KeyError> {
    if part.is_empty() {
        return Err(err("route path has an empty segment (`//` or a trailing `/`)", "remove the extra `/`"));
    }
    if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
            return Err(err(
                format!("`{part}` is not a valid path parameter"),
                "parameter names use letters, digits, `_`, `-` and `.`, as in `{id}` or `{proxy+}`",
            ));
        }
        return Ok(if greedy { Segment::Greedy(name.to_owned()) } else { Segment::Param(name.to_owned()) });
    }
    // Characters, not bytes: `é` is shown as `é`, not as the first byte of its UTF-8.
    if let Some(bad) = part.chars().find(|&c| !c.is_ascii() || !is_path_char(c as u8)) {
        return Err(err(
            format!("route path segment `{part}` has the character `{bad}`"),
            "a literal segment may hold letters, digits and `-._~!$&'()*+,;=:@%`; a parameter is written `{name}`",
        ));
    }
    Ok(Segment::Literal(part.to_owned()))
}

/// RFC 3986 `pchar` (percent signs allowed as-is: literals are compared to the raw request path).
pub fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literal_param_and_greedy() {
        let (key, params) = parse("GET /pets/{id}/toys/{rest+}").unwrap();
        assert_eq!(params, ["id", "rest"]);
        let RouteKey::Path { method, segments } = key else { panic!("not a path key") };
        assert_eq!(method, RouteMethod::Get);
        assert_eq!(
            segments,
            [
                Segment::Literal("pets".into()),
                Segment::Param("id".into()),
                Segment::Literal("toys".into()),
                Segment::Greedy("rest".into())
            ]
        );
    }

    #[test]
    fn root_and_default() {
        assert_eq!(parse("ANY /").unwrap().0, RouteKey::Path { method: RouteMethod::Any, segments: vec![] });
        assert_eq!(parse("$default").unwrap().0, RouteKey::Default);
    }

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            "GET",
            "get /x",
            "FETCH /x",
            "GET x",
            "GET /a//b",
            "GET /a/",
            "GET /{proxy+}/x",
            "GET /{a}/{a}",
            "GET /{}",
            "GET /a b",
            "GET /{x y}",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
