//! The compiled routing table: the flat, validated form of a config that workers load.
//!
//! The config compiler ([`crate::config::compile`]) produces a [`Table`]; `portico compile` writes it
//! to a file ([`file`](mod@file)) so a fleet can ship one artifact; workers turn it into a [`crate::loaded::LoadedTable`]
//! (routers built, upstream addresses resolved) and swap it atomically on reload. Everything here is
//! plain data: no sockets, no clocks. Stage variables are already substituted into integrations, one
//! integration per (stage, route), so the hot path never looks a variable up.

pub mod auth;
pub mod cors;
pub mod file;
pub mod log_format;
pub mod mapping;
pub mod templates;
pub mod validation;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::{Authorizer, AuthorizerEvent, AuthorizerKind, IdentitySource, RouteAuth};
use log_format::Part;

use serde::{Deserialize, Serialize};

/// Bumped whenever the serialized layout changes; `serve --table` refuses other versions.
pub const FORMAT_VERSION: u32 = 11;
/// The `format` field of every table file.
pub const FORMAT_NAME: &str = "portico-table";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Table {
    pub format: String,
    pub version: u32,
    /// The config file the table was compiled from (for humans and reloads).
    pub source: String,
    pub settings: Settings,
    pub listeners: Vec<Listener>,
    pub apis: Vec<Api>,
    pub domains: Vec<Domain>,
    pub upstreams: Vec<Upstream>,
    /// TLS termination; `None` = no TLS listener.
    pub tls: Option<TlsSettings>,
    pub api_keys: Vec<ApiKey>,
    pub usage_plans: Vec<UsagePlan>,
    /// Where quota counts are saved (absolute path); set when a plan has a quota.
    pub quota_state_file: Option<String>,
    /// `[[function]]`: what function integrations invoke.
    pub functions: Vec<Function>,
    /// `[[iam_credential]]`: who may sign requests to `AWS_IAM` routes.
    pub iam_credentials: Vec<auth::IamCredential>,
    /// Mapping templates' text, which non-proxy integrations refer to by index; the loaded
    /// table compiles each once.
    pub templates: Vec<String>,
    /// Integration responses' selection patterns (regular expressions), by index.
    pub patterns: Vec<String>,
}

/// A function (`[[function]]`): where its invocations go and how many may run at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Function {
    /// As integrations name it (`orders`, `orders:live`).
    pub name: String,
    pub target: FunctionTarget,
    /// Most invocations in flight at once, across workers (AWS's reserved concurrency); 0 = no
    /// limit.
    pub concurrency: u32,
    /// How long an invocation waits for a free slot before AWS's throttled answer.
    pub queue_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum FunctionTarget {
    /// An HTTP endpoint: the event is POSTed to it, the result is the response body.
    Url {
        url: String,
        /// Index into [`Table::upstreams`].
        upstream: u32,
        /// Path and query of the URL.
        path: String,
    },
    /// The Lambda Invoke API (AWS Lambda, or anything that speaks it), SigV4-signed.
    Lambda {
        /// The name or ARN, as the Invoke API's path carries it (not yet encoded).
        function_name: String,
        region: String,
        /// The endpoint URL, for humans.
        endpoint: String,
        /// Index into [`Table::upstreams`].
        upstream: u32,
        credentials: AwsCredentials,
    },
    /// Local handler processes of `command`, served the Lambda Runtime API (`concurrency` of
    /// them, kept warm).
    Local {
        command: Vec<String>,
        env: Vec<(String, String)>,
        /// Absolute.
        working_dir: String,
        /// The function's own timeout (Lambda's): a process running past it is killed.
        timeout_ms: u64,
        memory_mb: u32,
        /// `AWS_REGION` of the processes.
        region: String,
    },
}

/// AWS credentials for signing (read from the environment when the config is compiled).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// A route's function integration (AWS's Lambda proxy) in one stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionIntegration {
    /// Index into [`Table::functions`].
    pub function: u32,
    pub format: PayloadFormat,
    /// The integration timeout: no answer by then is 504 (REST) or 503 (HTTP API).
    pub timeout_ms: u64,
    /// A Lambda alias or version (`orders:live` for a Lambda function named `orders`), as the
    /// Invoke API's query carries it: `Qualifier=live`, encoded.
    pub qualifier_query: Option<String>,
}

/// The payload format of a function integration (AWS's `payloadFormatVersion`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum PayloadFormat {
    V1,
    V2,
}

/// An API key (AWS's): its name is its id in logs and usage; the value is what clients send in
/// `x-api-key`. `/config` redacts values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKey {
    pub name: String,
    pub value: String,
    pub enabled: bool,
}

/// A usage plan: which API stages it covers, which keys are in it, each key's throttle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsagePlan {
    pub name: String,
    /// Per key, across every stage of the plan (AWS).
    pub throttle: Option<ThrottleSetting>,
    /// (api, stage) indexes.
    pub stages: Vec<(u32, u32)>,
    /// Per-route overrides of the per-key throttle: (api, stage, route, setting).
    pub route_throttles: Vec<(u32, u32, u32, ThrottleSetting)>,
    /// Indexes into [`Table::api_keys`].
    pub keys: Vec<u32>,
    /// Requests per key per period, across the plan's stages.
    pub quota: Option<Quota>,
    /// Fleet mode: what the quota does while Redis is unreachable.
    pub on_redis_failure: FailureMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriod,
    /// Requests subtracted from the limit in the first period (AWS's API reference).
    pub offset: u64,
}

/// UTC calendar periods; weeks start on Monday.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TlsSettings {
    pub handshake_timeout_ms: u64,
    pub session_cache_entries: usize,
    /// For clients without SNI, or naming no custom domain with a certificate.
    pub default_certificate: Option<CertFiles>,
    /// By custom domain name (lower-case).
    pub certificates: Vec<(String, CertFiles)>,
    /// Mutual TLS, by custom domain name (lower-case).
    pub mtls: Vec<(String, Mtls)>,
}

/// Mutual TLS on a custom domain (AWS's truststore), and what reaches the upstream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mtls {
    /// PEM bundle of CA certificates client certificates must chain to.
    pub truststore: String,
    /// PEM certificate revocation lists, optional.
    pub crl: Option<String>,
    /// Headers sent upstream (lower-case name) with a field of the verified client certificate.
    pub headers: Vec<(String, ClientCertField)>,
}

/// AWS's `$context.identity.clientCert.*` fields.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ClientCertField {
    ClientCertPem,
    SubjectDn,
    IssuerDn,
    SerialNumber,
    NotBefore,
    NotAfter,
}

impl ClientCertField {
    pub fn parse(name: &str) -> Option<ClientCertField> {
        Some(match name {
            "clientCertPem" => ClientCertField::ClientCertPem,
            "subjectDN" => ClientCertField::SubjectDn,
            "issuerDN" => ClientCertField::IssuerDn,
            "serialNumber" => ClientCertField::SerialNumber,
            "validity.notBefore" => ClientCertField::NotBefore,
            "validity.notAfter" => ClientCertField::NotAfter,
            _ => return None,
        })
    }
}

/// PEM files, as absolute paths (relative ones are resolved against the config's directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CertFiles {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub workers: WorkerSettings,
    pub limits: Limits,
    pub upstream: UpstreamSettings,
    /// How long SIGTERM waits for in-flight requests before exiting anyway.
    pub drain_timeout_ms: u64,
    /// Listen backlog of every listening socket.
    pub backlog: i32,
    /// The admin listener; `None` = no admin listener and no metrics are counted.
    pub admin: Option<Admin>,
    pub access_log: AccessLogSettings,
    /// The gateway-wide ("account") limit; `None` = off.
    pub throttle: Option<ThrottleSetting>,
    /// `[cluster]`: the Redis that makes quotas fleet-wide; `None` = this node counts alone.
    pub cluster: Option<Cluster>,
    /// `[paths]`: path normalisation until an API is selected.
    pub paths: crate::http::path::PathRules,
    /// Peers (load balancers in front of Portico) whose forwarding headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Fleet mode: quotas counted in one Redis shared by every node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cluster {
    /// `redis://[user:password@]host:port[/db]`; `/config` redacts the password.
    pub redis: String,
    /// Prefix of every key Portico writes, so several fleets can share one Redis.
    pub prefix: String,
    /// Connect, read and write timeout of each Redis call.
    pub timeout_ms: u64,
}

impl Cluster {
    /// The Redis URL without its password, for logs.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.redis)
    }
}

/// A `redis://` URL without its password, for logs and `/config`.
pub fn redact_url(url: &str) -> String {
    let Some(rest) = url.strip_prefix("redis://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("redis://{user}:<redacted>@{host}")
        }
        _ => url.to_owned(),
    }
}

/// What a node does with a plan's quota while Redis is unreachable.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum FailureMode {
    /// Admit, counting on this node alone (up to the plan's limit), and report the count to Redis
    /// when it is back.
    Open,
    /// Spend only quota already leased from Redis, then answer 503.
    Closed,
}

/// A token bucket: `rate` tokens per second, `burst` tokens at most.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThrottleSetting {
    pub rate: f64,
    pub burst: u32,
    /// Fleet mode: one bucket for every node, kept in Redis (`global = true`).
    #[serde(default)]
    pub global: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Admin {
    pub addr: SocketAddr,
    /// Bearer token every endpoint but `/healthz` and `/readyz` requires (`None`: none, loopback
    /// only). `/config` redacts it; a reload may change it.
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessLogSettings {
    /// Per worker and destination: lines beyond this while the writer is behind are dropped.
    pub buffer_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerSettings {
    /// `None` = one worker per core (`"auto"`).
    pub count: Option<usize>,
    /// CPUs to pin workers to, in order; empty = CPU N for worker N.
    pub cpus: Vec<usize>,
    pub pin: bool,
    pub ring_entries: u32,
    pub max_connections: usize,
    pub read_buffer_bytes: usize,
    pub upstream_buffer_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_header_count: usize,
    pub max_uri_bytes: usize,
    pub max_body_bytes: u64,
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub body_timeout_ms: u64,
    /// The whole request body must arrive within this long after its head (408 otherwise).
    pub body_deadline_ms: u64,
    /// Request bodies up to this size are received whole, framing checked, before an integration
    /// is called (0: every body streams).
    pub buffer_body_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpstreamSettings {
    /// PEM CA certificates for `https://` upstreams; `None` = the system's roots.
    pub ca_bundle: Option<String>,
    /// Skip certificate verification of `https://` upstreams (explicit, and logged at load).
    pub insecure_skip_verify: bool,
    pub connect_timeout_ms: u64,
    pub pool_idle_max_per_upstream: usize,
    pub pool_idle_timeout_ms: u64,
    /// Integrations may target link-local and cloud metadata addresses (off: a config or a DNS
    /// name that points there is refused, so the gateway cannot be made to fetch credentials).
    pub allow_link_local: bool,
}

/// Link-local and cloud instance-metadata addresses: 169.254.0.0/16 (AWS, GCP and Azure metadata
/// at 169.254.169.254), fe80::/10, AWS's IPv6 metadata `fd00:ec2::254`, and their IPv4-mapped forms.
pub fn is_link_local_or_metadata(ip: std::net::IpAddr) -> bool {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.is_link_local(),
        std::net::IpAddr::V6(v6) => {
            v6.segments()[0] & 0xffc0 == 0xfe80 || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

/// One listening address and what it serves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Listener {
    pub addr: SocketAddr,
    /// Connections are TLS.
    pub tls: bool,
    /// Indexes into [`Table::apis`], in config order.
    pub apis: Vec<u32>,
    /// Indexes into [`Table::domains`].
    pub domains: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Protocol {
    /// AWS HTTP API.
    Http,
    /// AWS REST API.
    Rest,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Api {
    pub name: String,
    pub protocol: Protocol,
    /// Lower-case host names this API answers for; empty = any host.
    pub hosts: Vec<String>,
    pub routes: Vec<Route>,
    pub stages: Vec<Stage>,
    /// One per route, same index: the route needs an API key (`api_key_required`, REST APIs).
    pub api_key_required: Vec<bool>,
    /// How this API's request paths are normalised before routing.
    pub paths: crate::http::path::PathRules,
    /// REST APIs: content types whose bodies functions get base64-encoded (AWS's
    /// `binaryMediaTypes`; `*/*`, `image/*` allowed), lower-case.
    pub binary_media_types: Vec<String>,
    /// `[[api.authorizer]]`.
    pub authorizers: Vec<Authorizer>,
    /// One per route, same index: its authorizer, scopes, and whether it needs SigV4.
    pub route_auth: Vec<RouteAuth>,
    /// REST APIs: the resource policy every request is checked against first.
    pub resource_policy: Option<auth::ResourcePolicy>,
    /// AWS's `apiKeySource = AUTHORIZER`: the API key is the authorizer's `usageIdentifierKey`,
    /// not the `x-api-key` header.
    pub api_key_from_authorizer: bool,
    /// `cors = { ... }`: the gateway answers preflights and adds CORS headers to every response.
    pub cors: Option<cors::Cors>,
    /// `[[api.model]]` (REST): JSON Schemas request bodies are validated against.
    pub models: Vec<validation::Model>,
    /// One per route, same index: what its requests are validated for (`None`: nothing).
    pub route_validation: Vec<Option<validation::RouteValidation>>,
    /// `protocol = "websocket"`: its routes are message routes, and its stages accept upgrades.
    pub websocket: Option<Box<websocket::WebSocket>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Route {
    /// The route key as written (`GET /pets/{id}`).
    pub key: String,
    pub parsed: RouteKey,
    /// Path-parameter names in capture order (greedy `{proxy+}` is named `proxy`).
    pub params: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum RouteKey {
    /// `$default`: anything no other route matched (HTTP APIs).
    Default,
    Path {
        method: RouteMethod,
        segments: Vec<Segment>,
    },
    /// A WebSocket API's route (`$connect`, `$disconnect`, `$default` or a custom key): chosen
    /// by the connection's events, never by the HTTP router.
    Message,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum RouteMethod {
    Any,
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stage {
    /// `$default` is served at the root; any other name is the first path segment.
    pub name: String,
    pub variables: Vec<(String, String)>,
    /// One per route of the API, same index, with stage variables already substituted.
    pub integrations: Vec<Integration>,
    pub access_log: Option<StageLog>,
    /// The stage's response cache; `None` = no caching in this stage.
    pub cache: Option<StageCache>,
    /// One per route, same index: how that route caches in this stage (`None` = not cached).
    pub route_caches: Vec<Option<RouteCache>>,
    /// The stage's default throttle, for routes without their own.
    pub throttle: Option<ThrottleSetting>,
    /// One per route, same index: the route's own throttle in this stage.
    pub route_throttles: Vec<Option<ThrottleSetting>>,
    /// One per route, same index: which optional steps the route runs in this stage.
    pub steps: Vec<RouteSteps>,
    /// A rejected request says why (`x-portico-auth-reason`, `$context.authorizer.error`).
    pub auth_debug: bool,
    /// The API's customised gateway responses (REST), with this stage's variables substituted.
    pub gateway_responses: Vec<mapping::GatewayResponse>,
}

/// Which optional steps a route's requests go through in a stage, decided by the compiler, so
/// that a route pays only for the steps it uses.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteSteps {
    /// Run the route's authorizer (or SigV4 check).
    pub auth: bool,
    /// Check the API key (REST routes with `api_key_required`).
    pub api_key: bool,
    /// A rate limit or a usage plan's quota may apply.
    pub throttle: bool,
    /// The stage caches; the cache step decides per request (method, route settings).
    pub cache: bool,
    /// A body up to this many bytes is received whole before the integration runs (0: none).
    pub buffer_body_bytes: u64,
    /// Validate the request (required parameters, the body against its model).
    pub validate: bool,
}

/// A stage's cache settings (AWS's stage cache and its invalidation policy).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageCache {
    /// For the whole stage, split evenly between workers.
    pub capacity_bytes: u64,
    pub max_entry_bytes: u64,
    /// Send RFC 9211 `Cache-Status`.
    pub status_header: bool,
    /// `false` = any client may invalidate with `Cache-Control: max-age=0` (AWS's behaviour without
    /// an InvalidateCache policy).
    pub require_authorization: bool,
    pub unauthorized: Unauthorized,
    /// `x-api-key` values allowed to invalidate (compared in constant time).
    pub invalidate_api_keys: Vec<String>,
    /// A header (lower-case name) and the secret it must carry to invalidate.
    pub invalidate_header: Option<(String, String)>,
    pub ttl_uncapped: bool,
}

/// AWS's `unauthorizedCacheControlHeaderStrategy`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Unauthorized {
    FailWith403,
    SucceedWithResponseHeader,
    SucceedWithoutResponseHeader,
}

/// How one route caches in one stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouteCache {
    pub ttl_ms: u64,
    /// Query parameters in the key, as written (not decoded).
    pub key_query: Vec<String>,
    /// Headers in the key, lower-case.
    pub key_headers: Vec<String>,
    pub methods: Vec<RouteMethod>,
    /// Statuses stored; empty = any 2xx.
    pub statuses: Vec<u16>,
    pub max_entry_bytes: u64,
    /// Bodies are stored encrypted.
    pub encrypt: bool,
}
/// A stage's access log: where, and the compiled format.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageLog {
    /// A file path, or `stdout`.
    pub destination: Arc<str>,
    pub format: Vec<Part>,
    /// Values are JSON-escaped (the format is a JSON object).
    pub json: bool,
}

impl Stage {
    pub fn is_default(&self) -> bool {
        self.name == "$default"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Integration {
    Mock(Mock),
    HttpProxy(HttpProxy),
    Function(FunctionIntegration),
    /// A non-proxy integration (AWS's `HTTP` and `AWS`): templates in and out.
    Mapped(Box<templates::Mapped>),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mock {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HttpProxy {
    /// The URI after stage-variable substitution, for humans.
    pub uri: String,
    /// Index into [`Table::upstreams`].
    pub upstream: u32,
    pub path: Vec<UriPart>,
    /// A query string fixed in the URI; the client's query is appended after it.
    pub query: Option<String>,
    pub timeout_ms: u64,
    /// AWS's parameter mapping of the upstream request (headers, query, path), in config order.
    pub request_mappings: Vec<mapping::ParamMapping>,
    /// AWS's response parameter mapping (headers, status), by integration status.
    pub response_mappings: Vec<mapping::ResponseMapping>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum UriPart {
    Literal(String),
    /// The n-th captured path parameter of the route, substituted as received (still encoded).
    Param(u16),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    /// `https://`: TLS, with the host as SNI and the name the certificate must carry.
    pub tls: bool,
}

impl Upstream {
    /// The `Host` header value sent upstream.
    pub fn authority(&self) -> String {
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }
}

/// A custom domain: requests whose `Host` is `name` are routed by base-path mappings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Domain {
    pub name: String,
    pub mappings: Vec<Mapping>,
    /// Requests for this domain need a TLS connection whose client certificate was verified for it.
    pub mtls: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mapping {
    /// Path segments without slashes; empty = the `(none)` mapping, which matches every path.
    pub base_path: Vec<String>,
    pub api: u32,
    pub stage: u32,
}
