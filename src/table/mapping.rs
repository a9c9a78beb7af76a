//! What a mapping reads from a request, and the customised gateway responses built from such
//! values: plain data, compiled by [`crate::config::mapping_expr`] (which parses AWS's spellings,
//! `method.request.header.x`, `$request.querystring.y`, `context.requestId`, `'literal'`) and
//! evaluated by the request path. Stage variables are already substituted.

use serde::{Deserialize, Serialize};

use super::log_format::Part;

/// Where a mapped value comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Source {
    /// A literal (stage variables already substituted).
    Literal(String),
    /// The request's first header of this (lower-case) name.
    Header(String),
    /// The request's first query parameter of this name, as received (still encoded).
    Query(String),
    /// The route's path parameter of this name, as received (still encoded).
    Path(String),
    /// A `$context` variable.
    Context(Part),
    /// `$request.path`: the routed path, as received (normalised).
    WholePath,
    /// The integration's response header of this (lower-case) name (response mappings).
    ResponseHeader(String),
}

/// One parameter mapping of an integration's request or response: what it sets, how, from what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ParamMapping {
    pub target: Target,
    pub op: Op,
    /// Pieces concatenated (empty for `Remove`).
    pub value: Vec<Source>,
}

impl ParamMapping {
    /// Whether this mapping replaces (overwrites or removes) the header `name` of what it maps.
    pub fn replaces_header(&self, name: &[u8]) -> bool {
        self.op != Op::Append && matches!(&self.target, Target::Header(h) if h.as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whether it replaces the query parameter named `decoded_name`.
    pub fn replaces_query(&self, decoded_name: &[u8]) -> bool {
        self.op != Op::Append && matches!(&self.target, Target::Query(q) if q.as_bytes() == decoded_name)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Target {
    /// A header (lower-case name).
    Header(String),
    /// A query parameter (name as written).
    Query(String),
    /// The whole upstream path (`overwrite:path`).
    Path,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Op {
    /// Add a value next to the client's (AWS's `append`).
    Append,
    /// Replace the client's values (AWS's `overwrite`, and every REST mapping).
    Overwrite,
    /// Drop the client's values.
    Remove,
}

/// Response mappings for the integration's responses of one status (`None`: every status).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResponseMapping {
    pub status: Option<u16>,
    /// `overwrite:statuscode`.
    pub status_code: Option<u16>,
    /// Header targets only.
    pub headers: Vec<ParamMapping>,
}

impl ResponseMapping {
    /// The mappings for a response of `status`: its own, else the ones for every status.
    pub fn find(all: &[ResponseMapping], status: u16) -> Option<&ResponseMapping> {
        all.iter().find(|m| m.status == Some(status)).or_else(|| all.iter().find(|m| m.status.is_none()))
    }
}

/// A gateway response customised for an API (AWS's `GatewayResponse`), as one stage has it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GatewayResponse {
    /// AWS's type name (`DEFAULT_4XX`, `THROTTLED`, ...).
    pub response_type: String,
    /// Replaces the type's status; `None` keeps it.
    pub status: Option<u16>,
    /// Headers added to the response (name as written); one whose value is absent is left out.
    pub headers: Vec<(String, Source)>,
    /// Body templates by content type (lower-case), in config order; none = AWS's default body.
    pub templates: Vec<(String, Vec<Part>)>,
}

/// Every gateway response type AWS has (`GetGatewayResponse`), which a config may customise.
pub const RESPONSE_TYPES: &[&str] = &[
    "ACCESS_DENIED",
    "API_CONFIGURATION_ERROR",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "AUTHORIZER_FAILURE",
    "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY",
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "EXPIRED_TOKEN",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "INVALID_API_KEY",
    "INVALID_SIGNATURE",
    "MISSING_AUTHENTICATION_TOKEN",
    "QUOTA_EXCEEDED",
    "REQUEST_TOO_LARGE",
    "RESOURCE_NOT_FOUND",
    "THROTTLED",
    "UNAUTHORIZED",
    "UNSUPPORTED_MEDIA_TYPE",
    "WAF_FILTERED",
];

/// The customisation that applies to a response of `response_type` whose default status is
/// `status`: the type's own, else `DEFAULT_4XX` / `DEFAULT_5XX` by the status's family (AWS's
/// lookup). Errors below 400 never occur; they fall in the 4xx family.
pub fn find<'t>(responses: &'t [GatewayResponse], response_type: &str, status: u16) -> Option<&'t GatewayResponse> {
    if responses.is_empty() {
        return None;
    }
    let family = if status >= 500 { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
    responses
        .iter()
        .find(|g| g.response_type == response_type)
        .or_else(|| responses.iter().find(|g| g.response_type == family))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(t: &str) -> GatewayResponse {
        GatewayResponse { response_type: t.into(), status: None, headers: vec![], templates: vec![] }
    }

    #[test]
    fn the_specific_type_first_then_the_family() {
        let all = [g("DEFAULT_4XX"), g("THROTTLED"), g("DEFAULT_5XX")];
        assert_eq!(find(&all, "THROTTLED", 429).unwrap().response_type, "THROTTLED");
        assert_eq!(find(&all, "UNAUTHORIZED", 401).unwrap().response_type, "DEFAULT_4XX");
        assert_eq!(find(&all, "INTEGRATION_TIMEOUT", 504).unwrap().response_type, "DEFAULT_5XX");
        assert!(find(&all[1..2], "UNAUTHORIZED", 401).is_none());
        assert!(find(&[], "THROTTLED", 429).is_none());
    }
}
