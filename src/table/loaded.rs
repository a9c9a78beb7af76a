//! A table made ready for workers: one router per API, upstream addresses resolved.
//!
//! Built once per (re)load on the control thread and shared read-only by every worker through an
//! `Arc`; workers never mutate it.

use std::net::{SocketAddr, ToSocketAddrs};

use super::{Protocol, Table};
use crate::route::Router;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("api `{api}`: routes `{first}` and `{second}` have the same method and path")]
    RouteConflict { api: String, first: String, second: String },
    #[error("upstream `{host}:{port}` does not resolve: {reason}")]
    Resolve { host: String, port: u16, reason: String },
}

#[derive(Debug)]
pub struct LoadedTable {
    pub table: Table,
    /// One per API, same index.
    pub routers: Vec<Router>,
    /// One per upstream, same index.
    pub upstream_addrs: Vec<SocketAddr>,
    /// `Host` header value per upstream, same index.
    pub upstream_authorities: Vec<String>,
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
            upstream_addrs.push(addr);
        }
        let upstream_authorities = table.upstreams.iter().map(|u| u.authority()).collect();
        Ok(LoadedTable { table, routers, upstream_addrs, upstream_authorities })
    }

    pub fn route_count(&self) -> usize {
        self.table.apis.iter().map(|a| a.routes.len()).sum()
    }
}
