//! Mapped values: a table [`Source`] evaluated against one request — a header, a query or path
//! parameter (percent-decoded), a `$context` variable, a literal. Customised gateway responses
//! read their header values here; parameter mapping will too.
//!
//! A value holding CR, LF or NUL is refused (absent): it would split the header it is sent in.
//! Cost: a lookup in the parsed head; decoded values go into the caller's inline buffer.

use smallvec::SmallVec;

use crate::context::Context;
use crate::http::head::RequestHead;
use crate::table::mapping::Source;
use crate::vars::Fields;

/// What a mapped value may be read from.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub ctx: &'a Context,
    /// The route's path-parameter names, in capture order (none before routing).
    pub params: &'a [String],
    pub fields: &'a Fields<'a>,
}

/// A value, in a buffer of the caller's.
pub type Value = SmallVec<[u8; 256]>;

/// Writes `source`'s value for `r` into `out` (cleared first); `false` when the request has none
/// or it cannot be sent in a header.
pub fn value(source: &Source, r: &Request<'_>, out: &mut Value) -> bool {
    out.clear();
    match source {
        Source::Literal(l) => out.extend_from_slice(l.as_bytes()),
        Source::Header(name) => match r.head.first(name.as_bytes()) {
            Some(v) => out.extend_from_slice(v),
            None => return false,
        },
        Source::Query(name) => {
            let mut pairs = crate::http::query::pairs(r.head.query());
            let mut decoded_name = Value::new();
            let found = pairs.find(|(n, _)| {
                decoded_name.clear();
                crate::http::query::decode_into(&mut decoded_name, n);
                decoded_name.as_slice() == name.as_bytes()
            });
            match found {
                Some((_, v)) => crate::http::query::decode_into(out, v),
                None => return false,
            }
        }
        Source::Path(name) => {
            let Some(i) = r.params.iter().position(|p| p == name) else { return false };
            let Some(&(start, end)) = r.ctx.captures.get(i) else { return false };
            let path = r.ctx.routed_path(r.head);
            crate::http::query::decode_into(out, &path[start as usize..end as usize]);
        }
        Source::Context(part) => {
            let mut text = Vec::new();
            crate::vars::render_part(&mut text, part, false, b"", r.fields);
            out.extend_from_slice(&text);
        }
    }
    !out.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}
