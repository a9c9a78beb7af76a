//! Request validation as the table holds it (AWS's models and request validators, REST APIs):
//! each model's JSON Schema as text, and per route what is checked. Plain data; the schemas are
//! compiled once per load by [`crate::schema`].

use serde::{Deserialize, Serialize};

/// `[[api.model]]`: a named JSON Schema (draft 4, as AWS).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    pub name: String,
    /// The schema document, as JSON text.
    pub schema: String,
}

/// What one route's requests must satisfy before the integration is called.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RouteValidation {
    /// Required parameters must be present and non-blank (AWS's `validateRequestParameters`).
    pub params: bool,
    /// The body must match the model for its content type (`validateRequestBody`).
    pub body: bool,
    /// Parameters the route requires, as AWS names them in its message (in config order).
    pub required: Vec<Required>,
    /// Content type (lower-case, or `$default`) → index into the API's models.
    pub models: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Required {
    pub family: ParamFamily,
    /// Headers lower-case; query and path names as written.
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ParamFamily {
    Header,
    Query,
    Path,
}
