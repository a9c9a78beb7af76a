//! Mapped values: table [`Source`]s evaluated against one request (and, for response mappings,
//! the integration's response) — a header, a query or path parameter, the path, a `$context`
//! variable, a response header, a literal. Parameter mappings and customised gateway responses
//! read their values here.
//!
//! A value is written in the form its target takes ([`Form`]): in a header, parameters are
//! percent-decoded and a value holding CR, LF or NUL is refused (it would split the head); in a
//! path or query string, what came from the URL goes as received (already encoded and
//! normalised) and anything else is percent-encoded. Cost: lookups in the parsed heads; values go
//! into the caller's inline buffer.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use smallvec::SmallVec;

use crate::context::Context;
use crate::http::head::RequestHead;
use crate::http::query::{decode_into, find};
use crate::http::response_head::ResponseHead;
use crate::table::mapping::Source;
use crate::vars::{Escape, Fields};

/// What a mapped value may be read from.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub ctx: &'a Context,
    /// The route's path-parameter names, in capture order (none before routing).
    pub params: &'a [String],
    pub fields: &'a Fields<'a>,
    /// The integration's response head and its bytes (response mappings).
    pub response: Option<(&'a ResponseHead, &'a [u8])>,
}

/// A value, in a buffer of the caller's.
pub type Value = SmallVec<[u8; 256]>;

/// The form a value is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Header,
    /// A path or a query value.
    Url,
}

/// RFC 3986 unreserved characters stay; everything else is encoded.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Writes the concatenated `pieces` for `r` into `out` (cleared first); `false` when a piece has
/// no value, or the value cannot be carried in `form`.
pub fn value(pieces: &[Source], r: &Request<'_>, form: Form, out: &mut Value) -> bool {
    out.clear();
    pieces.iter().all(|p| piece(p, r, form, out)) && (form == Form::Url || !crate::http::breaks_header(out))
}

fn piece(source: &Source, r: &Request<'_>, form: Form, out: &mut Value) -> bool {
    // What came from the URL is already in URL form; in a header it is decoded.
    let from_url = |out: &mut Value, raw: &[u8]| match form {
        Form::Url => out.extend_from_slice(raw),
        Form::Header => decode_into(out, raw),
    };
    let text = |out: &mut Value, v: &[u8]| match form {
        Form::Header => out.extend_from_slice(v),
        Form::Url => out.extend(percent_encoding::percent_encode(v, COMPONENT).flat_map(str::bytes)),
    };
    match source {
        // Literals are checked by the config compiler for the target they go in.
        Source::Literal(l) => out.extend_from_slice(l.as_bytes()),
        Source::Header(name) => match r.head.first(name.as_bytes()) {
            Some(v) => text(out, v),
            None => return false,
        },
        Source::Query(name) => match find(r.head.query(), name.as_bytes()) {
            Some(v) => from_url(out, v),
            None => return false,
        },
        Source::Path(name) => {
            let Some(i) = r.params.iter().position(|p| p == name) else { return false };
            let Some(&(start, end)) = r.ctx.captures.get(i) else { return false };
            from_url(out, &r.ctx.routed_path(r.head)[start as usize..end as usize]);
        }
        Source::WholePath => from_url(out, r.ctx.routed_path(r.head)),
        Source::ResponseHeader(name) => {
            let found = r.response.and_then(|(rh, bytes)| {
                rh.fields(bytes).find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v)
            });
            match found {
                Some(v) => text(out, v),
                None => return false,
            }
        }
        Source::Context(part) => {
            let mut rendered = Vec::new();
            crate::vars::render_part(&mut rendered, part, Escape::Raw, b"", r.fields);
            if rendered.is_empty() {
                return false;
            }
            text(out, &rendered);
        }
    }
    true
}
