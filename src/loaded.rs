//! A table made ready for workers: one router per API, upstream addresses resolved.
//!
//! Built once per (re)load on the control thread and shared read-only by every worker through an
//! `Arc`; workers never mutate it.

use std::net::ToSocketAddrs;

use crate::route::Router;
use crate::table::{Protocol, Table};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("api `{api}`: routes `{first}` and `{second}` have the same method and path")]
    RouteConflict { api: String, first: String, second: String },
    #[error("upstream `{host}:{port}` does not resolve: {reason}")]
    Resolve { host: String, port: u16, reason: String },
    #[error("access log `{destination}` cannot be opened for appending: {reason}")]
    AccessLog { destination: String, reason: String },
    #[error(transparent)]
    Tls(#[from] crate::tls::server::TlsLoadError),
    #[error(transparent)]
    UpstreamTls(#[from] crate::tls::client::ClientTlsError),
    #[error("upstream `{0}` is not a name a TLS certificate can carry")]
    UpstreamName(String),
    #[error("api `{api}`: model `{}` is not a valid JSON Schema: {}", .error.model, .error.message)]
    Model { api: String, error: crate::schema::SchemaError },
    #[error("mapping template {index} does not compile: {message}")]
    Template { index: usize, message: String },
    #[error("selection pattern `{pattern}` is not a regular expression: {message}")]
    Pattern { pattern: String, message: String },
}

pub use crate::outbound::client::Target as UpstreamTarget;

/// Where a function's invocations are sent.
#[derive(Debug, Clone)]
pub struct FunctionEndpoint {
    pub target: UpstreamTarget,
    /// The `Host` header.
    pub authority: String,
    /// Path and query.
    pub path: String,
}

#[derive(Debug)]
pub struct LoadedTable {
    pub table: Table,
    /// One per API, same index.
    pub routers: Vec<Router>,
    /// Where each upstream's requests go, same index: its address and, for `https://` ones, the
    /// client TLS configuration with the server name. Built once here, so a request borrows it.
    pub upstream_targets: Vec<UpstreamTarget>,
    /// `Host` header value per upstream, same index.
    pub upstream_authorities: Vec<String>,
    /// Metric series ids per API: `stages × (routes + 1)`, row-major by stage, the last of each row
    /// for requests that matched no route. Empty until the runtime assigns them
    /// ([`crate::metrics::Metrics::assign`]); then also a sign that metrics are counted.
    pub series: Vec<Vec<u32>>,
    /// The TLS configuration of this table's certificates, when it has TLS listeners. A reload
    /// builds a new one: new connections get the new certificates, open ones keep theirs.
    pub tls: Option<std::sync::Arc<crate::tls::server::TlsConfigs>>,
    /// Header names that carry client-certificate fields on some mutual-TLS domain: a client's own
    /// headers of these names are never forwarded, whatever the route.
    pub mtls_header_names: Vec<String>,
    /// The table's rate limits, shared by every worker.
    pub throttles: crate::throttle::ThrottleIndex,
    pub api_keys: crate::auth::api_key::KeyIndex,
    /// One per function, same index: its concurrency slots, shared by every worker (a reload
    /// keeps those of a function whose limit did not change).
    pub function_slots: Vec<std::sync::Arc<crate::function::limit::Slots>>,
    /// One per function, same index: where its invocations go — built here for URL targets,
    /// attached by the runtime for local ones ([`LoadedTable::attach_hosts`]); `None` for a local
    /// function whose host could not start.
    pub function_endpoints: Vec<Option<FunctionEndpoint>>,
    /// One per function, same index: its metric series id (empty until the runtime assigns them,
    /// with the route series).
    pub function_series: Vec<u32>,
    /// One per function: its local host, if it has one.
    pub function_hosts: Vec<Option<std::sync::Arc<crate::function::host::Host>>>,
    /// Quota cells by (usage plan, API key); assigned by the runtime from the process-wide store
    /// so counts survive reloads ([`crate::throttle::quota_store`]).
    pub quota_cells: std::collections::HashMap<(u32, u32), std::sync::Arc<crate::throttle::quota::QuotaCell>>,
    /// Per API, per authorizer: a JWT authorizer's keys, shared by every worker (started by the
    /// runtime, [`LoadedTable::start_keyrings`]; a reload keeps those fetched the same way).
    pub keyrings: Vec<Vec<Option<std::sync::Arc<crate::auth::jwt::keyring::Keyring>>>>,
    /// Per API, per authorizer: the JWT algorithms it accepts, parsed.
    pub jwt_algorithms: Vec<Vec<Vec<crate::auth::jwt::keys::Alg>>>,
    /// Per API, per authorizer: a TOKEN authorizer's `identity_validation_expression`, compiled.
    pub authorizer_validations: Vec<Vec<Option<regex::Regex>>>,
    /// Per API, per model: its JSON Schema, compiled (request validation).
    pub schemas: Vec<Vec<crate::schema::Schema>>,
    /// [`Table::templates`], compiled, same index (non-proxy integrations).
    pub templates: Vec<crate::vtl::Template>,
    /// [`Table::patterns`], compiled to match a whole status code, same index.
    pub patterns: Vec<regex::Regex>,
    /// Function authorizers' answers, node-wide (a reload starts it empty).
    pub authorizer_answers: std::sync::Arc<crate::auth::function::cache::Shared>,
}

impl LoadedTable {
    pub fn load(table: Table) -> Result<LoadedTable, LoadError> {
        let mut routers = Vec::with_capacity(table.apis.len());
        for api in &table.apis {
            let router =
                Router::build(&api.routes, api.protocol == Protocol::Rest).map_err(|c| LoadError::RouteConflict {
                    api: api.name.clone(),
                    first: api.routes[c.first as usize].key.clone(),
                    second: api.routes[c.second as usize].key.clone(),
                })?;
            routers.push(router);
        }
        let mut upstream_addrs = Vec::with_capacity(table.upstreams.len());
        for up in &table.upstreams {
            let resolve_err = |reason: String| LoadError::Resolve { host: up.host.clone(), port: up.port, reason };
            let host = up.host.trim_start_matches('[').trim_end_matches(']');
            let addr = (host, up.port)
                .to_socket_addrs()
                .map_err(|e| resolve_err(e.to_string()))?
                .next()
                .ok_or_else(|| resolve_err("no address".into()))?;
            // A name that resolves to a metadata address is refused like the address itself.
            if !table.settings.upstream.allow_link_local && crate::table::is_link_local_or_metadata(addr.ip()) {
                return Err(resolve_err(format!(
                    "it resolves to {}, a link-local or cloud metadata address ([upstream] allow_link_local = true allows it)",
                    addr.ip()
                )));
            }
            upstream_addrs.push(addr);
        }
        let upstream_authorities: Vec<String> = table.upstreams.iter().map(|u| u.authority()).collect();
        for api in &table.apis {
            for stage in &api.stages {
                if let Some(log) = &stage.access_log {
                    check_destination(&log.destination)?;
                }
            }
        }
        let tls = match &table.tls {
            Some(settings) => Some(std::sync::Arc::new(crate::tls::server::server_configs(settings)?)),
            None => None,
        };
        let mut mtls_header_names: Vec<String> = table
            .tls
            .iter()
            .flat_map(|t| &t.mtls)
            .flat_map(|(_, m)| m.headers.iter().map(|(name, _)| name.clone()))
            .collect();
        mtls_header_names.sort();
        mtls_header_names.dedup();
        let upstream_tls = match table.upstreams.iter().any(|u| u.tls) {
            true => Some(crate::tls::client::client_config(&table.settings.upstream)?),
            false => None,
        };
        let mut upstream_targets = Vec::with_capacity(table.upstreams.len());
        for (up, &addr) in table.upstreams.iter().zip(&upstream_addrs) {
            let tls = match (up.tls, &upstream_tls) {
                (true, Some(config)) => Some((
                    config.clone(),
                    crate::tls::client::server_name(&up.host)
                        .ok_or_else(|| LoadError::UpstreamName(up.host.clone()))?,
                )),
                _ => None,
            };
            upstream_targets.push(UpstreamTarget { addr, tls });
        }
        let workers =
            table.settings.workers.count.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let throttles = crate::throttle::ThrottleIndex::build(&table, workers);
        let api_keys = crate::auth::api_key::KeyIndex::build(&table);
        let function_slots = table
            .functions
            .iter()
            .map(|f| std::sync::Arc::new(crate::function::limit::Slots::new(f.concurrency)))
            .collect();
        // URL and Lambda targets are upstreams; local ones get their endpoint from their host.
        let endpoint = |upstream: u32, path: String| FunctionEndpoint {
            target: upstream_targets[upstream as usize].clone(),
            authority: upstream_authorities[upstream as usize].clone(),
            path,
        };
        let function_endpoints = table
            .functions
            .iter()
            .map(|f| match &f.target {
                crate::table::FunctionTarget::Url { upstream, path, .. } => Some(endpoint(*upstream, path.clone())),
                crate::table::FunctionTarget::Lambda { function_name, upstream, .. } => {
                    const SEGMENT: &percent_encoding::AsciiSet =
                        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
                    let name = percent_encoding::utf8_percent_encode(function_name, SEGMENT);
                    Some(endpoint(*upstream, format!("/2015-03-31/functions/{name}/invocations")))
                }
                crate::table::FunctionTarget::Local { .. } => None,
            })
            .collect();
        let function_hosts = table.functions.iter().map(|_| None).collect();
        let (keyrings, jwt_algorithms) = keyrings(&table)?;
        let authorizer_validations = table
            .apis
            .iter()
            .map(|api| {
                api.authorizers
                    .iter()
                    .map(|a| match &a.kind {
                        // Checked by the compiler; a table file edited by hand gets no check rather than a panic.
                        crate::table::AuthorizerKind::Function(f) => {
                            f.validation.as_deref().and_then(|v| regex::Regex::new(v).ok())
                        }
                        crate::table::AuthorizerKind::Jwt(_) => None,
                    })
                    .collect()
            })
            .collect();
        let schemas = table
            .apis
            .iter()
            .map(|api| {
                crate::schema::compile(&api.models).map_err(|error| LoadError::Model { api: api.name.clone(), error })
            })
            .collect::<Result<_, _>>()?;
        let templates = table
            .templates
            .iter()
            .enumerate()
            .map(|(index, t)| {
                crate::vtl::Template::compile(t).map_err(|e| LoadError::Template { index, message: e.message })
            })
            .collect::<Result<_, _>>()?;
        let patterns = table
            .patterns
            .iter()
            .map(|p| {
                regex::Regex::new(&crate::table::templates::whole_match(p))
                    .map_err(|e| LoadError::Pattern { pattern: p.clone(), message: e.to_string() })
            })
            .collect::<Result<_, _>>()?;
        Ok(LoadedTable {
            schemas,
            templates,
            patterns,
            keyrings,
            jwt_algorithms,
            authorizer_validations,
            authorizer_answers: std::sync::Arc::new(crate::auth::function::cache::Shared::new(AUTHORIZER_ANSWERS)),
            function_series: Vec::new(),
            function_endpoints,
            function_hosts,
            function_slots,
            quota_cells: Default::default(),
            api_keys,
            throttles,
            upstream_targets,
            table,
            routers,
            upstream_authorities,
            series: Vec::new(),
            tls,
            mtls_header_names,
        })
    }

    /// The metric series of a request: `route` is `None` when no route matched. `None` when metrics
    /// are off.
    #[inline]
    pub fn series_of(&self, api: u32, stage: u32, route: Option<u32>) -> Option<u32> {
        let ids = self.series.get(api as usize)?;
        let width = self.table.apis[api as usize].routes.len() + 1;
        let column = route.map_or(width - 1, |r| r as usize);
        ids.get(stage as usize * width + column).copied()
    }

    /// Attaches the hosts of the local functions (same index as the functions): their invoke
    /// listeners become the functions' endpoints.
    pub fn attach_hosts(&mut self, hosts: Vec<Option<std::sync::Arc<crate::function::host::Host>>>) {
        for (i, host) in hosts.iter().enumerate() {
            if let Some(host) = host {
                let addr = host.invoke_addr();
                self.function_endpoints[i] = Some(FunctionEndpoint {
                    target: UpstreamTarget { addr, tls: None },
                    authority: addr.to_string(),
                    path: format!("/2015-03-31/functions/{}/invocations", host.definition().name),
                });
            }
        }
        self.function_hosts = hosts;
    }

    /// Takes the concurrency slots of `old`'s functions that this table has too, by name and
    /// limit, so invocations in flight across a reload still count.
    pub fn adopt_function_slots(&mut self, old: &LoadedTable) {
        for (i, f) in self.table.functions.iter().enumerate() {
            let same = old.table.functions.iter().position(|o| o.name == f.name && o.concurrency == f.concurrency);
            if let Some(j) = same {
                self.function_slots[i] = old.function_slots[j].clone();
            }
        }
    }

    /// Where invocations of function `index` go (`qualifier`: the Invoke API's query), or `None`
    /// for a local function whose host could not start.
    pub fn function_target<'t>(
        &'t self,
        index: u32,
        qualifier: Option<&'t str>,
    ) -> Option<crate::function::invoke::Target<'t>> {
        let function = &self.table.functions[index as usize];
        let endpoint = self.function_endpoints[index as usize].as_ref()?;
        let signing = match &function.target {
            crate::table::FunctionTarget::Lambda { region, credentials, .. } => {
                Some(crate::function::invoke::Signing { region, credentials })
            }
            _ => None,
        };
        Some(crate::function::invoke::Target {
            upstream: &endpoint.target,
            authority: &endpoint.authority,
            path: &endpoint.path,
            query: qualifier,
            signing,
            slots: &self.function_slots[index as usize],
            queue: std::time::Duration::from_millis(function.queue_timeout_ms),
        })
    }

    /// Takes `old`'s keyrings that fetch the same keys the same way, so a reload neither
    /// refetches nor loses keys.
    pub fn adopt_keyrings(&mut self, old: &LoadedTable) {
        for ring in self.keyrings.iter_mut().flatten() {
            let Some(mine) = ring else { continue };
            let same = old.keyrings.iter().flatten().flatten().find(|o| o.same_as(mine));
            if let Some(same) = same {
                *ring = Some(same.clone());
            }
        }
    }

    /// Starts the key fetchers of this table's JWT authorizers (those adopted run already).
    pub fn start_keyrings(&self) {
        for (api, rings) in self.table.apis.iter().zip(&self.keyrings) {
            for (authorizer, ring) in api.authorizers.iter().zip(rings) {
                if let Some(ring) = ring {
                    ring.start(&authorizer.name);
                }
            }
        }
    }

    pub fn route_count(&self) -> usize {
        self.table.apis.iter().map(|a| a.routes.len()).sum()
    }
}

/// Function authorizer answers a node keeps at most.
const AUTHORIZER_ANSWERS: usize = 64 * 1024;

type Keyrings = Vec<Vec<Option<std::sync::Arc<crate::auth::jwt::keyring::Keyring>>>>;
type Algorithms = Vec<Vec<Vec<crate::auth::jwt::keys::Alg>>>;

/// The keyrings of the table's JWT authorizers (not started), and their algorithms.
fn keyrings(table: &Table) -> Result<(Keyrings, Algorithms), LoadError> {
    use crate::auth::jwt::{keyring, keys::Alg};
    use crate::table::AuthorizerKind;
    let any = table.apis.iter().flat_map(|a| &a.authorizers).any(|a| matches!(a.kind, AuthorizerKind::Jwt(_)));
    let tls = match any {
        true => Some(crate::tls::client::client_config(&table.settings.upstream)?),
        false => None,
    };
    let limits = crate::outbound::fetch::Limits {
        timeout: std::time::Duration::from_millis(keyring::FETCH_TIMEOUT_MS),
        max_body: keyring::MAX_JWKS_BYTES,
        tls,
        allow_link_local: table.settings.upstream.allow_link_local,
    };
    let mut rings = Vec::new();
    let mut algorithms = Vec::new();
    for api in &table.apis {
        let mut api_rings = Vec::new();
        let mut api_algs = Vec::new();
        for a in &api.authorizers {
            match &a.kind {
                AuthorizerKind::Jwt(jwt) => {
                    let algs: Vec<Alg> = jwt.algorithms.iter().filter_map(|n| Alg::parse(n)).collect();
                    let refresh = std::time::Duration::from_secs(jwt.refresh_s.max(1));
                    let ring = keyring::Keyring::new(jwt.jwks.clone(), algs.clone(), refresh, limits.clone());
                    api_rings.push(Some(std::sync::Arc::new(ring)));
                    api_algs.push(algs);
                }
                AuthorizerKind::Function(_) => {
                    api_rings.push(None);
                    api_algs.push(Vec::new());
                }
            }
        }
        rings.push(api_rings);
        algorithms.push(api_algs);
    }
    Ok((rings, algorithms))
}

/// A destination that cannot be opened is a load error, so `serve` and a reload say so at once
/// instead of losing every line. Pipes and devices are not opened here: opening a pipe blocks until
/// it has a reader, which is the writer thread's business.
fn check_destination(destination: &str) -> Result<(), LoadError> {
    use std::os::unix::fs::FileTypeExt;
    if destination == "stdout" {
        return Ok(());
    }
    if let Ok(meta) = std::fs::metadata(destination) {
        let kind = meta.file_type();
        if kind.is_fifo() || kind.is_char_device() || kind.is_socket() {
            return Ok(());
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(destination)
        .map(drop)
        .map_err(|e| LoadError::AccessLog { destination: destination.to_owned(), reason: e.to_string() })
}
