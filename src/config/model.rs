//! The validated model: what a config means, with the positions the compiler still needs for its
//! own errors. Produced by [`super::validate`], consumed by [`super::compile`].

use std::net::SocketAddr;

use super::reader::Spanned;
use crate::table::{Limits, Protocol, RouteKey, UpstreamSettings, WorkerSettings};

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<SocketAddr>,
    pub workers: WorkerSettings,
    pub limits: Limits,
    pub upstream: UpstreamSettings,
    pub drain_timeout_ms: u64,
    pub backlog: i32,
    pub admin: Option<crate::table::Admin>,
    /// `[server] listen_tls`: served like `listen`, over TLS.
    pub listen_tls: Vec<SocketAddr>,
    /// `[tls]`: handshake timeout, session cache entries, default certificate.
    pub tls: (u64, usize, Option<crate::table::CertFiles>),
    /// The gateway-wide limit (`None` = off).
    pub throttle: Option<crate::table::ThrottleSetting>,
    pub cluster: Option<crate::table::Cluster>,
    pub access_log: crate::table::AccessLogSettings,
    pub apis: Vec<ApiModel>,
    pub domains: Vec<DomainModel>,
    pub api_keys: Vec<crate::table::ApiKey>,
    pub usage_plans: Vec<super::validate::keys::PlanModel>,
    pub quota_state_file: String,
    /// `[paths]`: the gateway's path normalisation, used until an API is selected.
    pub paths: crate::http::path::PathRules,
    /// `[server] trusted_proxies`: peers whose `X-Forwarded-*` and `Forwarded` headers are kept.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub functions: Vec<FunctionModel>,
    /// `[[iam_credential]]`.
    pub iam_credentials: Vec<crate::table::auth::IamCredential>,
}

/// `[[function]]`.
#[derive(Debug, Clone)]
pub struct FunctionModel {
    pub name: Spanned<String>,
    pub target: FunctionTargetModel,
    pub concurrency: u32,
    pub queue_timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub enum FunctionTargetModel {
    Url(Spanned<String>),
    Lambda {
        function_name: String,
        region: String,
        /// The endpoint URL (AWS's regional one unless given).
        endpoint: Spanned<String>,
        credentials: crate::table::AwsCredentials,
    },
    Local {
        command: Vec<String>,
        env: Vec<(String, String)>,
        /// Resolved against the config file's directory.
        working_dir: String,
        timeout_ms: u64,
        memory_mb: u32,
        region: String,
    },
}

#[derive(Debug, Clone)]
pub struct ApiModel {
    pub name: Spanned<String>,
    pub protocol: Protocol,
    pub hosts: Vec<String>,
    /// Own listeners; empty (with `listen_tls` empty too) = the `[server]` ones.
    pub listen: Vec<SocketAddr>,
    pub listen_tls: Vec<SocketAddr>,
    pub stages: Vec<StageModel>,
    pub routes: Vec<RouteModel>,
    /// Its own `paths`, or the gateway's.
    pub paths: crate::http::path::PathRules,
    /// `binary_media_types` (REST), lower-case.
    pub binary_media_types: Vec<String>,
    pub authorizers: Vec<AuthorizerModel>,
    /// `api_key_source = "AUTHORIZER"`.
    pub api_key_from_authorizer: bool,
    pub resource_policy: Option<crate::table::auth::ResourcePolicy>,
    /// `[[api.gateway_response]]` (REST).
    pub gateway_responses: Vec<GatewayResponseModel>,
    /// `[[api.model]]` (REST).
    pub models: Vec<ModelModel>,
    pub cors: Option<crate::table::cors::Cors>,
    /// `protocol = "websocket"`: selection and limits (its route indices are the compiler's).
    pub websocket: Option<Box<crate::table::websocket::WebSocket>>,
}

/// `[[api.model]]`: the schema as written (compiled, and checked, by the compiler).
#[derive(Debug, Clone)]
pub struct ModelModel {
    pub name: Spanned<String>,
    pub schema: Spanned<String>,
}

/// A route's request validation, model names as written.
#[derive(Debug, Clone)]
pub struct RouteValidationModel {
    pub params: bool,
    pub body: bool,
    pub required: Vec<(Option<std::ops::Range<usize>>, crate::table::validation::Required)>,
    /// (lower-case content type or `$default`, model name).
    pub models: Vec<(String, Spanned<String>)>,
}

/// `[[api.gateway_response]]`: templates as written, compiled per stage.
#[derive(Debug, Clone)]
pub struct GatewayResponseModel {
    pub response_type: String,
    pub status: Option<u16>,
    pub headers: Vec<(String, super::mapping_expr::Expr)>,
    /// (lower-case content type, template).
    pub templates: Vec<(String, String)>,
}

/// `[[api.authorizer]]`.
#[derive(Debug, Clone)]
pub struct AuthorizerModel {
    pub name: Spanned<String>,
    pub identity_sources: Vec<crate::table::IdentitySource>,
    pub kind: AuthorizerKindModel,
}

#[derive(Debug, Clone)]
pub enum AuthorizerKindModel {
    Jwt(crate::table::auth::JwtAuthorizer),
    /// The function's name as written; `function` in the table is resolved by the compiler.
    Function(Spanned<String>, crate::table::auth::FunctionAuthorizer),
}

#[derive(Debug, Clone)]
pub struct StageModel {
    pub name: Spanned<String>,
    pub variables: Vec<(String, String)>,
    pub access_log: Option<AccessLogModel>,
    /// The stage cache and its default TTL in seconds.
    pub cache: Option<(crate::table::StageCache, u64)>,
    pub throttle: Option<crate::table::ThrottleSetting>,
    /// Per route key, as written.
    pub route_throttle: Vec<(Spanned<String>, crate::table::ThrottleSetting)>,
    pub auth_debug: bool,
}

#[derive(Debug, Clone)]
pub struct AccessLogModel {
    pub destination: String,
    /// A preset name (`clf`, `json`) or a template of `$context` variables.
    pub format: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct RouteModel {
    pub key: Spanned<String>,
    pub parsed: RouteKey,
    pub params: Vec<String>,
    pub integration: IntegrationModel,
    pub cache: super::validate::cache::RouteCacheModel,
    pub api_key_required: bool,
    /// `authorizer = "name"`, as written.
    pub authorizer: Option<Spanned<String>>,
    pub authorization_scopes: Vec<String>,
    /// `authorization = "AWS_IAM"`.
    pub iam: bool,
    pub validation: Option<RouteValidationModel>,
    /// `route_response = true` (WebSocket routes): the integration's answer goes to the client.
    pub two_way: bool,
}

#[derive(Debug, Clone)]
pub enum IntegrationModel {
    Mock {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    HttpProxy {
        uri: Spanned<String>,
        timeout_ms: u64,
        /// `request_parameters` (stage variables not yet substituted).
        request_mappings: Vec<ParamMappingModel>,
        /// `response_parameters`.
        response_mappings: Vec<ResponseMappingModel>,
    },
    /// A non-proxy integration (AWS's `HTTP` and `AWS`): templates already compiled once.
    Mapped(Box<MappedModel>),
    /// `target` as written (stage variables not yet substituted).
    Function {
        target: Spanned<String>,
        format: crate::table::PayloadFormat,
        timeout_ms: u64,
    },
}

/// One parameter mapping as written, its value's pieces parsed.
#[derive(Debug, Clone)]
pub struct ParamMappingModel {
    pub target: crate::table::mapping::Target,
    pub op: crate::table::mapping::Op,
    pub value: Vec<super::mapping_expr::Expr>,
    pub span: Option<std::ops::Range<usize>>,
}

/// A non-proxy integration as written.
#[derive(Debug, Clone)]
pub struct MappedModel {
    pub backend: MappedBackendModel,
    pub timeout_ms: u64,
    pub passthrough: crate::table::templates::Passthrough,
    pub content_handling: Option<crate::table::templates::ContentHandling>,
    /// `(content type, template text)`.
    pub request_templates: Vec<(String, String)>,
    pub responses: Vec<IntegrationResponseModel>,
    pub method_responses: Vec<u16>,
    /// `#foreach` iterations per loop (AWS: 1,000).
    pub max_foreach: u32,
}

/// What a non-proxy integration calls, as written (stage variables not yet substituted).
#[derive(Debug, Clone)]
pub enum MappedBackendModel {
    Http {
        uri: Spanned<String>,
        method: Option<String>,
        request_mappings: Vec<ParamMappingModel>,
    },
    Function {
        target: Spanned<String>,
    },
    Aws {
        service: String,
        region: String,
        /// The path (`/123456789012/orders`), or `/?Action=SendMessage` for an action.
        path: String,
        /// The service endpoint, `https://{service}.{region}.amazonaws.com` unless given.
        endpoint: Spanned<String>,
        method: String,
        credentials: crate::table::AwsCredentials,
        request_mappings: Vec<ParamMappingModel>,
    },
}

/// One integration response of a non-proxy integration.
#[derive(Debug, Clone)]
pub struct IntegrationResponseModel {
    pub selection_pattern: Option<String>,
    pub status: u16,
    pub headers: Vec<ParamMappingModel>,
    pub templates: Vec<(String, String)>,
    pub content_handling: Option<crate::table::templates::ContentHandling>,
}

#[derive(Debug, Clone)]
pub struct ResponseMappingModel {
    pub status: Option<u16>,
    pub status_code: Option<u16>,
    pub headers: Vec<ParamMappingModel>,
}

#[derive(Debug, Clone)]
pub struct DomainModel {
    pub name: Spanned<String>,
    pub listen: Vec<SocketAddr>,
    pub listen_tls: Vec<SocketAddr>,
    pub mappings: Vec<MappingModel>,
    pub certificate: Option<crate::table::CertFiles>,
    pub mtls: Option<crate::table::Mtls>,
}

#[derive(Debug, Clone)]
pub struct MappingModel {
    pub base_path: Vec<String>,
    pub api: usize,
    pub stage: usize,
}
