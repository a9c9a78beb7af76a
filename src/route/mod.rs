//! The router: finds the route for a method and path, with AWS's priority rules.
//!
//! Built once per API when a table is loaded: a segment trie whose nodes hold a sorted literal list,
//! at most one `{param}` child and at most one greedy `{proxy+}` route set. Lookup walks the trie
//! depth first — literal, then `{param}`, then greedy — and at each node prefers the concrete method
//! over `ANY`; `$default` is the last resort. Each trie node is visited at most once, so a lookup costs
//! O(path segments × log fan-out) with backtracking bounded by the trie size. Lookup allocates nothing:
//! captures are byte ranges into the request path, kept inline.

pub mod key;

pub use crate::context::Captures;
use crate::context::Context;
use crate::error::GatewayError;
use crate::http::Method;
use crate::http::head::RequestHead;
use crate::table::{Route, RouteKey, RouteMethod, Segment};

/// Step 2, route: the most specific route key wins, `$default` last. Leaves the route and its
/// captures in `ctx`.
pub fn step(router: &Router, head: &RequestHead, ctx: &mut Context) -> Result<u32, GatewayError> {
    let matched = router.find(head.method, ctx.routed_path(head)).ok_or(GatewayError::NO_MATCH)?;
    ctx.route = Some(matched.route);
    ctx.captures = matched.captures;
    Ok(matched.route)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub route: u32,
    pub captures: Captures,
}

#[derive(Debug, Default, Clone)]
struct Methods {
    by_method: [Option<u32>; 7],
    any: Option<u32>,
}

impl Methods {
    fn pick(&self, method: Method) -> Option<u32> {
        let slot = method.slot()?;
        self.by_method[slot].or(self.any)
    }

    fn is_empty(&self) -> bool {
        self.any.is_none() && self.by_method.iter().all(Option::is_none)
    }

    fn insert(&mut self, method: RouteMethod, route: u32) -> Result<(), u32> {
        let cell = match method_slot(method) {
            Some(slot) => &mut self.by_method[slot],
            None => &mut self.any,
        };
        match cell {
            Some(existing) => Err(*existing),
            None => {
                *cell = Some(route);
                Ok(())
            }
        }
    }
}

fn method_slot(method: RouteMethod) -> Option<usize> {
    Some(match method {
        RouteMethod::Any => return None,
        RouteMethod::Get => 0,
        RouteMethod::Head => 1,
        RouteMethod::Post => 2,
        RouteMethod::Put => 3,
        RouteMethod::Delete => 4,
        RouteMethod::Options => 5,
        RouteMethod::Patch => 6,
    })
}

#[derive(Debug, Default, Clone)]
struct Node {
    /// Sorted by segment bytes, for binary search.
    literals: Vec<(Box<[u8]>, u32)>,
    param: Option<u32>,
    greedy: Methods,
    methods: Methods,
}

#[derive(Debug, Clone)]
pub struct Router {
    nodes: Vec<Node>,
    default_route: Option<u32>,
    /// REST APIs ignore one trailing `/`.
    ignore_trailing_slash: bool,
}

/// Two routes with the same method and path shape (the compiler reports it; indexes of both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub first: u32,
    pub second: u32,
}

impl Router {
    pub fn build(routes: &[Route], ignore_trailing_slash: bool) -> Result<Router, Conflict> {
        let mut router = Router { nodes: vec![Node::default()], default_route: None, ignore_trailing_slash };
        for (index, route) in routes.iter().enumerate() {
            let index = index as u32;
            match &route.parsed {
                RouteKey::Default => match router.default_route {
                    Some(first) => {
                        return Err(Conflict { first, second: index });
                    }
                    None => router.default_route = Some(index),
                },
                RouteKey::Path { method, segments } => router.insert(*method, segments, index)?,
                // WebSocket routes are chosen by events (`crate::websocket`), not by HTTP.
                RouteKey::Message => {}
            }
        }
        for node in &mut router.nodes {
            node.literals.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(router)
    }

    fn insert(&mut self, method: RouteMethod, segments: &[Segment], route: u32) -> Result<(), Conflict> {
        let mut node = 0usize;
        for segment in segments {
            match segment {
                Segment::Literal(text) => {
                    let found = self.nodes[node].literals.iter().find(|(t, _)| **t == *text.as_bytes()).map(|l| l.1);
                    node = match found {
                        Some(child) => child as usize,
                        None => {
                            let child = self.push_node();
                            self.nodes[node].literals.push((text.as_bytes().into(), child as u32));
                            child
                        }
                    };
                }
                Segment::Param(_) => {
                    node = match self.nodes[node].param {
                        Some(child) => child as usize,
                        None => {
                            let child = self.push_node();
                            self.nodes[node].param = Some(child as u32);
                            child
                        }
                    };
                }
                Segment::Greedy(_) => {
                    return self.nodes[node]
                        .greedy
                        .insert(method, route)
                        .map_err(|first| Conflict { first, second: route });
                }
            }
        }
        self.nodes[node].methods.insert(method, route).map_err(|first| Conflict { first, second: route })
    }

    fn push_node(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// Finds the route for `method` and `path` (the path after any stage prefix, starting with `/`,
    /// without the query string).
    pub fn find(&self, method: Method, path: &[u8]) -> Option<Match> {
        let mut end = path.len();
        if self.ignore_trailing_slash && end > 1 && path[end - 1] == b'/' {
            end -= 1;
        }
        let path = &path[..end];
        let start = match path {
            [] | [b'/'] => None,
            _ => Some(1),
        };
        let mut captures = Captures::new();
        if let Some(route) = self.walk(0, path, start, method, &mut captures) {
            return Some(Match { route, captures });
        }
        self.default_route.map(|route| Match { route, captures: Captures::new() })
    }

    fn walk(&self, node: usize, path: &[u8], start: Option<usize>, method: Method, caps: &mut Captures) -> Option<u32> {
        let here = &self.nodes[node];
        let Some(start) = start else {
            return here.methods.pick(method);
        };
        let rest = &path[start..];
        let (segment, next) = match rest.iter().position(|&b| b == b'/') {
            Some(slash) => (&rest[..slash], Some(start + slash + 1)),
            None => (rest, None),
        };
        if let Ok(i) = here.literals.binary_search_by(|(text, _)| (**text).cmp(segment))
            && let Some(found) = self.walk(here.literals[i].1 as usize, path, next, method, caps)
        {
            return Some(found);
        }
        if let (Some(child), false) = (here.param, segment.is_empty()) {
            caps.push((start as u32, (start + segment.len()) as u32));
            if let Some(found) = self.walk(child as usize, path, next, method, caps) {
                return Some(found);
            }
            caps.pop();
        }
        if !here.greedy.is_empty()
            && !rest.is_empty()
            && let Some(found) = here.greedy.pick(method)
        {
            caps.push((start as u32, path.len() as u32));
            return Some(found);
        }
        None
    }
}

#[cfg(test)]
mod tests;
