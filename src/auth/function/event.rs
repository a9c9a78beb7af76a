//! The event an authorizer function gets, as AWS builds it: `TOKEN` (the token and the method
//! ARN), and `REQUEST` — the proxy event of the request's payload format (without a body: AWS
//! sends none) with `type`, the method or route ARN and, for HTTP APIs, the identity values
//! in front.
//!
//! Cost: the proxy event is written by [`crate::function::request`]; the few fields in front are
//! spliced in after its opening brace.

use crate::context::Context;
use crate::function::request::{Caller, Sources, write_event};
use crate::http::head::RequestHead;
use crate::json::string;
use crate::table::{AuthorizerEvent, PayloadFormat, Protocol};

/// Writes the event for `shape` into `out`.
#[allow(clippy::too_many_arguments)]
pub fn write(
    out: &mut Vec<u8>,
    shape: AuthorizerEvent,
    arn: &str,
    values: &[std::borrow::Cow<'_, [u8]>],
    sources: &Sources<'_>,
    (head, ctx): (&RequestHead, &Context),
    caller: &Caller<'_>,
    request_id: &str,
) {
    let first = values.first().map_or(&b""[..], |v| &v[..]);
    if shape == AuthorizerEvent::Token {
        out.extend_from_slice(b"{\"type\":\"TOKEN\",\"authorizationToken\":");
        string(out, first);
        out.extend_from_slice(b",\"methodArn\":");
        string(out, arn.as_bytes());
        out.push(b'}');
        return;
    }
    let rest = ctx.api_stage.is_some_and(|(a, _)| sources.table.apis[a as usize].protocol == Protocol::Rest);
    let format = if shape == AuthorizerEvent::RequestV2 { PayloadFormat::V2 } else { PayloadFormat::V1 };
    let mut front = Vec::with_capacity(256);
    front.extend_from_slice(b"\"type\":\"REQUEST\",");
    match format {
        PayloadFormat::V1 => {
            front.extend_from_slice(b"\"methodArn\":");
            string(&mut front, arn.as_bytes());
            front.push(b',');
            if !rest {
                // HTTP APIs' 1.0 shape: the identity values joined, and the first as the token.
                front.extend_from_slice(b"\"identitySource\":");
                let joined: Vec<u8> = values.join(&b","[..]);
                string(&mut front, &joined);
                front.extend_from_slice(b",\"authorizationToken\":");
                string(&mut front, first);
                front.push(b',');
            }
        }
        PayloadFormat::V2 => {
            front.extend_from_slice(b"\"routeArn\":");
            string(&mut front, arn.as_bytes());
            front.extend_from_slice(b",\"identitySource\":[");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    front.push(b',');
                }
                string(&mut front, v);
            }
            front.extend_from_slice(b"],");
        }
    }
    let start = out.len();
    write_event(out, sources, (head, ctx), caller, request_id, format);
    // The proxy event starts with `{`: the fields go right after it.
    out.splice(start + 1..start + 1, front);
}
