//! Mapping expressions: where a mapped value comes from, in AWS's two spellings, parsed once at
//! config load into a table [`Source`] (or a stage variable, which the compiler substitutes).
//!
//! - REST (`Dialect::Rest`): `method.request.header.x`, `method.request.querystring.x`,
//!   `method.request.path.x`, `context.requestId`, `stageVariables.x`, `'a literal'`.
//! - HTTP APIs (`Dialect::Http`): `$request.header.x`, `$request.querystring.x`,
//!   `$request.path.x`, `$context.requestId`, `$stageVariables.x` (or `${stageVariables.x}`), and
//!   anything else is a literal.
//! - WebSocket APIs (`Dialect::WebSocket`): REST's spelling with `route.request.header.x` and
//!   `route.request.querystring.x` (the upgrade request's) for the request's values.
//!
//! A literal cannot hold CR, LF or NUL: a mapped header could otherwise split the message. Must
//! not: touch the request path (this is plain text in, plain data out). Fuzzed (`fuzz/mapping`).

use crate::table::mapping::{Op, Source, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Rest,
    Http,
    WebSocket,
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Source(Source),
    /// `stageVariables.name`: the compiler substitutes the stage's value (empty when it has none).
    StageVariable(String),
}

/// Why an expression does not parse: a message and a hint for the diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub hint: String,
}

const MAX_LEN: usize = 4096;

pub fn parse(text: &str, dialect: Dialect) -> Result<Expr, Invalid> {
    if text.len() > MAX_LEN {
        return Err(invalid(format!("a mapping expression is at most {MAX_LEN} bytes"), dialect));
    }
    let (request, context, stage) = match dialect {
        Dialect::Rest => ("method.request.", "context.", "stageVariables."),
        Dialect::WebSocket => ("route.request.", "context.", "stageVariables."),
        Dialect::Http => ("$request.", "$context.", "$stageVariables."),
    };
    if dialect == Dialect::Http && text == "$request.path" {
        return Ok(Expr::Source(Source::WholePath));
    }
    let response = match dialect {
        Dialect::Rest | Dialect::WebSocket => "integration.response.header.",
        Dialect::Http => "$response.header.",
    };
    if let Some(name) = text.strip_prefix(response) {
        if !crate::http::is_token(name.as_bytes()) {
            return Err(invalid(format!("`{text}` does not name a response header"), dialect));
        }
        return Ok(Expr::Source(Source::ResponseHeader(name.to_ascii_lowercase())));
    }
    if let Some(rest) = text.strip_prefix(request) {
        let (family, name) = rest.split_once('.').unwrap_or((rest, ""));
        if !crate::http::is_token(name.as_bytes()) {
            return Err(invalid(format!("`{text}` does not name a request value"), dialect));
        }
        return Ok(Expr::Source(match family {
            "header" => Source::Header(name.to_ascii_lowercase()),
            "querystring" => Source::Query(name.to_owned()),
            "path" => Source::Path(name.to_owned()),
            _ => return Err(invalid(format!("`{family}` is not a request value Portico maps"), dialect)),
        }));
    }
    if let Some(name) = text.strip_prefix(context) {
        return match crate::config::log_format::context_part(name) {
            Ok(part) => Ok(Expr::Source(Source::Context(part))),
            Err(unknown) => Err(Invalid {
                message: format!("unknown context variable `{}`", unknown.name),
                hint: match unknown.suggestion {
                    Some(s) => format!("did you mean `{}{s}`?", context),
                    None => "see docs/mapping.md for the variables".to_owned(),
                },
            }),
        };
    }
    let braced = (dialect == Dialect::Http)
        .then(|| text.strip_prefix("${stageVariables.").and_then(|t| t.strip_suffix('}')))
        .flatten();
    if let Some(name) = text.strip_prefix(stage).or(braced) {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid(format!("`{name}` is not a stage variable name"), dialect));
        }
        return Ok(Expr::StageVariable(name.to_owned()));
    }
    let literal = match dialect {
        Dialect::Rest | Dialect::WebSocket => match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
            Some(l) => l,
            None => return Err(invalid(format!("`{text}` is not a mapping expression"), dialect)),
        },
        Dialect::Http if text.starts_with('$') => {
            return Err(invalid(format!("`{text}` is not a mapping expression"), dialect));
        }
        Dialect::Http => text,
    };
    if crate::http::breaks_header(literal.as_bytes()) {
        return Err(Invalid {
            message: "a mapped value cannot hold CR, LF or NUL".into(),
            hint: "they would split the header it is sent in".into(),
        });
    }
    Ok(Expr::Source(Source::Literal(literal.to_owned())))
}

/// A mapped value: one expression, or (HTTP APIs) a literal with `${request.header.x}`,
/// `${context.requestId}`, `${stageVariables.x}`, ... references inside, concatenated.
pub fn parse_value(text: &str, dialect: Dialect) -> Result<Vec<Expr>, Invalid> {
    if dialect != Dialect::Http || (text.starts_with('$') && !text.starts_with("${")) || !text.contains("${") {
        return parse(text, dialect).map(|e| vec![e]);
    }
    if text.len() > MAX_LEN {
        return Err(invalid(format!("a mapping expression is at most {MAX_LEN} bytes"), dialect));
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if at > 0 {
            pieces.push(parse(&rest[..at], dialect)?);
        }
        let Some(end) = rest[at..].find('}') else {
            return Err(invalid("a `${` without its `}`".to_owned(), dialect));
        };
        let inner = &rest[at + 2..at + end];
        pieces.push(parse(&format!("${inner}"), dialect)?);
        rest = &rest[at + end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(parse(rest, dialect)?);
    }
    Ok(pieces)
}

/// What a mapping sets: (operation, target). HTTP APIs: `append|overwrite|remove:header.x`,
/// `...:querystring.x`, `overwrite:path`; REST: `integration.request.header.x`,
/// `integration.request.querystring.x` (an overwrite).
pub fn parse_request_target(text: &str, dialect: Dialect) -> Result<(Op, Target), Invalid> {
    let hint = match dialect {
        Dialect::Http => {
            "like \"overwrite:header.x-user\", \"append:querystring.tag\", \"remove:header.cookie\" or \"overwrite:path\""
        }
        Dialect::Rest | Dialect::WebSocket => {
            "like \"integration.request.header.x-user\" or \"integration.request.querystring.tag\""
        }
    };
    let bad = || Invalid { message: format!("`{text}` is not a request mapping target"), hint: hint.to_owned() };
    let (op, rest) = match dialect {
        Dialect::Http => {
            let (op, rest) = text.split_once(':').ok_or_else(bad)?;
            (http_op(op).ok_or_else(bad)?, rest)
        }
        Dialect::Rest | Dialect::WebSocket => {
            (Op::Overwrite, text.strip_prefix("integration.request.").ok_or_else(bad)?)
        }
    };
    if rest == "path" {
        return match (dialect, op) {
            (Dialect::Http, Op::Overwrite) => Ok((op, Target::Path)),
            _ => Err(Invalid {
                message: format!("`{text}`: the path can only be overwritten (`overwrite:path`)"),
                hint: hint.to_owned(),
            }),
        };
    }
    let (family, name) = rest.split_once('.').ok_or_else(bad)?;
    if !crate::http::is_token(name.as_bytes()) {
        return Err(bad());
    }
    match family {
        "header" => Ok((op, Target::Header(name.to_ascii_lowercase()))),
        "querystring" => Ok((op, Target::Query(name.to_owned()))),
        _ => Err(bad()),
    }
}

/// What a response mapping sets: a header (`append|overwrite|remove:header.x`;
/// REST `method.response.header.x`), or `None` for HTTP APIs' `overwrite:statuscode`.
pub fn parse_response_target(text: &str, dialect: Dialect) -> Result<Option<(Op, String)>, Invalid> {
    let hint = match dialect {
        Dialect::Http => "like \"overwrite:header.x-cache\", \"remove:header.server\" or \"overwrite:statuscode\"",
        Dialect::Rest | Dialect::WebSocket => "like \"method.response.header.x-cache\"",
    };
    let bad = || Invalid { message: format!("`{text}` is not a response mapping target"), hint: hint.to_owned() };
    let (op, name) = match dialect {
        Dialect::Http if text == "overwrite:statuscode" => return Ok(None),
        Dialect::Http => {
            let (op, rest) = text.split_once(':').ok_or_else(bad)?;
            (http_op(op).ok_or_else(bad)?, rest.strip_prefix("header.").ok_or_else(bad)?)
        }
        Dialect::Rest | Dialect::WebSocket => {
            (Op::Overwrite, text.strip_prefix("method.response.header.").ok_or_else(bad)?)
        }
    };
    if !crate::http::is_token(name.as_bytes()) {
        return Err(bad());
    }
    Ok(Some((op, name.to_ascii_lowercase())))
}

fn http_op(op: &str) -> Option<Op> {
    Some(match op {
        "append" => Op::Append,
        "overwrite" => Op::Overwrite,
        "remove" => Op::Remove,
        _ => return None,
    })
}

fn invalid(message: String, dialect: Dialect) -> Invalid {
    let hint = match dialect {
        Dialect::Rest => {
            "use method.request.header.<name>, method.request.querystring.<name>, method.request.path.<name>, context.<variable>, stageVariables.<name> or a quoted 'literal'"
        }
        Dialect::Http => {
            "use $request.header.<name>, $request.querystring.<name>, $request.path.<name>, $context.<variable>, $stageVariables.<name> or a literal"
        }
        Dialect::WebSocket => {
            "use route.request.header.<name>, route.request.querystring.<name>, context.<variable>, stageVariables.<name> or a quoted 'literal'"
        }
    };
    Invalid { message, hint: hint.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::log_format::{Part, Var};

    fn ok(text: &str, d: Dialect) -> Expr {
        parse(text, d).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn rest_spellings() {
        let s = |x| Expr::Source(x);
        assert_eq!(ok("method.request.header.X-Id", Dialect::Rest), s(Source::Header("x-id".into())));
        assert_eq!(ok("method.request.querystring.q", Dialect::Rest), s(Source::Query("q".into())));
        assert_eq!(ok("method.request.path.id", Dialect::Rest), s(Source::Path("id".into())));
        assert_eq!(ok("context.requestId", Dialect::Rest), s(Source::Context(Part::Var(Var::RequestId))));
        assert_eq!(ok("stageVariables.origin", Dialect::Rest), Expr::StageVariable("origin".into()));
        assert_eq!(ok("'*'", Dialect::Rest), s(Source::Literal("*".into())));
        assert_eq!(ok("''", Dialect::Rest), s(Source::Literal(String::new())));
    }

    #[test]
    fn http_spellings() {
        let s = |x| Expr::Source(x);
        assert_eq!(ok("$request.header.x", Dialect::Http), s(Source::Header("x".into())));
        assert_eq!(ok("$context.stage", Dialect::Http), s(Source::Context(Part::Var(Var::Stage))));
        assert_eq!(ok("${stageVariables.v}", Dialect::Http), Expr::StageVariable("v".into()));
        assert_eq!(ok("plain text", Dialect::Http), s(Source::Literal("plain text".into())));
    }

    #[test]
    fn values_targets_and_interpolation() {
        let s = |x| Expr::Source(x);
        assert_eq!(
            parse_value("/v2/${request.path.proxy}?by=${context.requestId}", Dialect::Http).unwrap(),
            vec![
                s(Source::Literal("/v2/".into())),
                s(Source::Path("proxy".into())),
                s(Source::Literal("?by=".into())),
                s(Source::Context(Part::Var(Var::RequestId))),
            ]
        );
        assert_eq!(parse_value("$request.path", Dialect::Http).unwrap(), vec![s(Source::WholePath)]);
        assert_eq!(
            parse_value("$response.header.X-A", Dialect::Http).unwrap(),
            vec![s(Source::ResponseHeader("x-a".into()))]
        );
        assert_eq!(
            parse_value("integration.response.header.etag", Dialect::Rest).unwrap(),
            vec![s(Source::ResponseHeader("etag".into()))]
        );
        assert_eq!(
            parse_request_target("remove:header.Cookie", Dialect::Http).unwrap(),
            (Op::Remove, Target::Header("cookie".into()))
        );
        assert_eq!(parse_request_target("overwrite:path", Dialect::Http).unwrap(), (Op::Overwrite, Target::Path));
        assert_eq!(
            parse_request_target("integration.request.querystring.q", Dialect::Rest).unwrap(),
            (Op::Overwrite, Target::Query("q".into()))
        );
        assert_eq!(parse_response_target("overwrite:statuscode", Dialect::Http).unwrap(), None);
        assert_eq!(
            parse_response_target("method.response.header.X-Id", Dialect::Rest).unwrap(),
            Some((Op::Overwrite, "x-id".into()))
        );
    }

    #[test]
    fn refusals() {
        for (text, d) in [
            ("method.request.body.x", Dialect::Rest),
            ("method.request.header.", Dialect::Rest),
            ("method.request.header.a b", Dialect::Rest),
            ("context.nope", Dialect::Rest),
            ("unquoted", Dialect::Rest),
            ("'a\r\nInjected: 1'", Dialect::Rest),
            ("a\nb", Dialect::Http),
            ("a\0b", Dialect::Http),
            ("$nope.x", Dialect::Http),
            ("stageVariables.a-b", Dialect::Rest),
        ] {
            assert!(parse(text, d).is_err(), "{text:?} parsed");
        }
        assert!(parse(&"'".repeat(5000), Dialect::Rest).is_err());
        assert!(parse_value("a${request.header.x", Dialect::Http).is_err());
        assert!(parse_value("a${nope.x}", Dialect::Http).is_err());
        assert!(parse_request_target("overwrite:cookie.x", Dialect::Http).is_err());
        assert!(parse_request_target("append:path", Dialect::Http).is_err());
        assert!(parse_request_target("integration.request.path.id", Dialect::Rest).is_err());
        assert!(parse_response_target("overwrite:status", Dialect::Http).is_err());
        let e = parse("context.requestid", Dialect::Rest).unwrap_err();
        assert!(e.hint.contains("context.requestId"), "{e:?}");
    }
}
