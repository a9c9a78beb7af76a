//! Non-proxy integrations (AWS's `HTTP` and `AWS` types), as plain data: the backend (an HTTP
//! endpoint, a function, an AWS service), the request templates by content type and what happens
//! to a content type none matches, and the integration responses that map the backend's answer
//! (chosen by a regular expression on its status or a function's error message) to the client's.
//!
//! Templates and selection patterns are kept as text in [`super::Table::templates`] and
//! [`super::Table::patterns`], referred to here by index; the loaded table compiles each once.

use serde::{Deserialize, Serialize};

use super::UriPart;
use super::mapping::ParamMapping;

/// A non-proxy integration: the request mapped by templates to one of three backends, the
/// backend's answer mapped back by the integration responses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mapped {
    pub backend: Backend,
    pub timeout_ms: u64,
    pub request: RequestTemplates,
    /// In config order; the first whose pattern matches the backend's selector (the status of
    /// an HTTP or AWS service answer, a function's `errorMessage`), else the one without a
    /// pattern.
    pub responses: Vec<IntegrationResponse>,
    /// The method responses' statuses: a response with another status (a template's
    /// `responseOverride.status`) is AWS's 500. Empty: any status.
    pub method_responses: Vec<u16>,
    /// Iterations a `#foreach` of these templates may make (AWS: 1,000).
    pub max_foreach: u32,
}

/// What a non-proxy integration calls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Backend {
    /// AWS's `HTTP`: an HTTP endpoint.
    Http(HttpBackend),
    /// AWS's `AWS` with a Lambda URI: the rendered request is the function's event.
    Function { function: u32, qualifier_query: Option<String> },
    /// AWS's `AWS`: an AWS service API (or a compatible one), the request SigV4-signed.
    Aws(AwsBackend),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HttpBackend {
    /// The URI after stage-variable substitution, for humans.
    pub uri: String,
    /// Index into [`super::Table::upstreams`].
    pub upstream: u32,
    pub path: Vec<UriPart>,
    /// A query string fixed in the URI (the client's is not forwarded: AWS's non-proxy
    /// integrations send only what is mapped).
    pub query: Option<String>,
    /// The method the backend gets; `None` sends the client's.
    pub method: Option<String>,
    /// `integration.request.header|querystring.X` from the method request.
    pub request_mappings: Vec<ParamMapping>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AwsBackend {
    /// The HTTP side: the service endpoint's upstream, the path (`path/…` of the ARN, or `/`
    /// with `Action=…` in the query for `action/…`), the method, the mapped parameters.
    pub http: HttpBackend,
    /// The signing name (`sqs`, `s3`, `dynamodb`, `kinesis`, `states`).
    pub service: String,
    pub region: String,
    pub credentials: super::AwsCredentials,
}

/// AWS's `contentHandling`: how a payload's text or binary form changes on the way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ContentHandling {
    /// Text is base64-decoded to bytes; binary stays binary.
    ConvertToBinary,
    /// Binary is base64-encoded to text; text stays text.
    ConvertToText,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestTemplates {
    pub passthrough: Passthrough,
    pub content_handling: Option<ContentHandling>,
    /// `(content type, template index)`, content types lower-case.
    pub templates: Vec<(String, u32)>,
}

impl RequestTemplates {
    /// The template for a request of `content_type` (its media type, lower-case).
    pub fn find(&self, content_type: &str) -> Option<u32> {
        self.templates.iter().find(|(ct, _)| ct == content_type).map(|&(_, t)| t)
    }
}

/// AWS's `passthroughBehavior`: what a request whose content type has no template gets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Passthrough {
    /// Its body goes to the backend as it came.
    WhenNoMatch,
    /// As `WhenNoMatch` when the integration has no templates at all; else 415.
    WhenNoTemplates,
    /// 415 Unsupported Media Type.
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntegrationResponse {
    /// Index into [`super::Table::patterns`]: a regular expression the backend's whole status
    /// code must match; `None` for the default response.
    pub selection_pattern: Option<u32>,
    /// The status the client gets.
    pub status: u16,
    /// `method.response.header.X` from `integration.response.header.Y` or a literal.
    pub headers: Vec<ParamMapping>,
    /// `(content type, template index)`; none passes the backend's body through.
    pub templates: Vec<(String, u32)>,
    pub content_handling: Option<ContentHandling>,
}

/// A selection pattern as a regular expression over the whole selector (Java's `matches`: a
/// status code, or a function's `errorMessage`), which is how the compiler checks it and the
/// loaded table compiles it.
pub fn whole_match(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

impl IntegrationResponse {
    /// The template for a client that accepts `accept`: the first content type it names that
    /// has one, else `application/json`'s, else the first. AWS picks by the method response's
    /// content type, which the `Accept` header chooses.
    pub fn template_for(&self, accept: &[u8]) -> Option<&(String, u32)> {
        let named = accept.split(|&b| b == b',').find_map(|item| {
            let media = item.split(|&b| b == b';').next().unwrap_or_default();
            let media = media.trim_ascii();
            self.templates.iter().find(|(ct, _)| ct.as_bytes().eq_ignore_ascii_case(media))
        });
        named
            .or_else(|| self.templates.iter().find(|(ct, _)| ct == "application/json"))
            .or_else(|| self.templates.first())
    }
}
