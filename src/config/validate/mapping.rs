//! An HTTP proxy integration's `request_parameters`, the header part of AWS's parameter mapping:
//! what the authorizer said about the caller, handed to the upstream as headers. HTTP APIs'
//! spelling (`"overwrite:header.x-user" = "$context.authorizer.principalId"`, `append:`) and REST
//! APIs' (`"integration.request.header.x-user" = "context.authorizer.principalId"`, `'literal'`).
//! The rest of parameter mapping (query strings, paths, request values, removal) is the request
//! validation and mapping issue's.

use crate::config::reader::{Obj, Reader, Spanned};
use crate::table::{HeaderMapping, MappedValue, Protocol};

/// Headers a mapping may not set: the framing and the hop-by-hop ones the gateway owns.
const RESERVED: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer", "expect"];

pub(super) fn read(r: &mut Reader<'_>, o: Obj<'_>, protocol: Protocol) -> Vec<(Spanned<String>, HeaderMapping)> {
    let mut out = Vec::new();
    for (target, source) in r.str_map(o, "request_parameters") {
        let parsed = match protocol {
            Protocol::Http => target.value.split_once(':').and_then(|(op, rest)| {
                let append = match op {
                    "overwrite" => false,
                    "append" => true,
                    _ => return None,
                };
                rest.strip_prefix("header.").map(|h| (append, h))
            }),
            Protocol::Rest => target.value.strip_prefix("integration.request.header.").map(|h| (false, h)),
        };
        let hint = match protocol {
            Protocol::Http => {
                "like \"overwrite:header.x-user\" or \"append:header.x-user\" (header targets only, for now)"
            }
            Protocol::Rest => "like \"integration.request.header.x-user\" (header targets only, for now)",
        };
        let Some((append, header)) = parsed else {
            r.error(
                target.span.clone(),
                format!("`{}` is not a header mapping target", target.value),
                Some(hint.into()),
            );
            continue;
        };
        let header = header.to_ascii_lowercase();
        let name_ok =
            !header.is_empty() && header.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !name_ok || RESERVED.contains(&header.as_str()) {
            r.error(target.span.clone(), format!("`{header}` cannot be set by a mapping"), None);
            continue;
        }
        let Some(value) = value(&source.value, protocol) else {
            r.error(
                source.span.clone(),
                format!("`{}` is not a mapping source Portico has", source.value),
                Some("use $context.authorizer.principalId, $context.authorizer.<key>, $context.authorizer.claims.<name>, $context.identity.userArn / .caller / .accessKey, ${stageVariables.x} or a literal".into()),
            );
            continue;
        };
        if let MappedValue::Literal(l) = &value
            && l.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            r.error(source.span.clone(), "header values cannot hold CR, LF or NUL", None);
            continue;
        }
        out.push((source, HeaderMapping { header, append, value }));
    }
    out
}

fn value(source: &str, protocol: Protocol) -> Option<MappedValue> {
    let context = match protocol {
        Protocol::Http => source.strip_prefix("$context."),
        Protocol::Rest => source.strip_prefix("context."),
    };
    if let Some(name) = context {
        return Some(match name {
            "authorizer.principalId" => MappedValue::Principal,
            "identity.userArn" => MappedValue::UserArn,
            "identity.caller" | "identity.user" => MappedValue::Caller,
            "identity.accessKey" => MappedValue::AccessKey,
            _ => match name.strip_prefix("authorizer.") {
                Some(claim) if claim.starts_with("claims.") && claim.len() > 7 => {
                    MappedValue::Claim(claim[7..].to_owned())
                }
                Some(key) if !key.is_empty() => MappedValue::AuthorizerValue(key.to_owned()),
                _ => return None,
            },
        });
    }
    match protocol {
        // REST literals are quoted: `'value'`.
        Protocol::Rest => {
            source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).map(|l| MappedValue::Literal(l.to_owned()))
        }
        Protocol::Http if source.starts_with('$') && !source.starts_with("${stageVariables.") => None,
        Protocol::Http => Some(MappedValue::Literal(source.to_owned())),
    }
}
