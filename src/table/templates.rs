//! Non-proxy integrations (AWS's `HTTP` type), as plain data: the request templates by content
//! type and what happens to a content type none matches, and the integration responses that
//! map the backend's answer (chosen by a regular expression on its status) to the client's.
//!
//! Templates and selection patterns are kept as text in [`super::Table::templates`] and
//! [`super::Table::patterns`], referred to here by index; the loaded table compiles each once.

use serde::{Deserialize, Serialize};

use super::UriPart;
use super::mapping::ParamMapping;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HttpIntegration {
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
    pub timeout_ms: u64,
    /// `integration.request.header|querystring.X` from the method request.
    pub request_mappings: Vec<ParamMapping>,
    pub request: RequestTemplates,
    /// In config order; the first whose pattern matches the backend's status, else the one
    /// without a pattern.
    pub responses: Vec<IntegrationResponse>,
    /// Iterations a `#foreach` of these templates may make (AWS: 1,000).
    pub max_foreach: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestTemplates {
    pub passthrough: Passthrough,
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
}

/// A selection pattern as a regular expression over the whole status code (Java's `matches`),
/// which is how the compiler checks it and the loaded table compiles it.
pub fn whole_status(pattern: &str) -> String {
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
