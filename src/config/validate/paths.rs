//! `[paths]` and an API's `paths`: how request paths are normalised before routing
//! ([`crate::http::path`]). An API's own table starts from the gateway's settings.

use super::*;
use crate::config::reader::{Obj, Reader};
use crate::http::path::{EscapedSlashes, PathRules};

/// Reads `obj`'s `paths` table (named `what` in errors) as path rules, starting from `base`;
/// `None` when it is absent.
pub(super) fn read_rules(r: &mut Reader<'_>, obj: Obj<'_>, what: &'static str, base: PathRules) -> Option<PathRules> {
    let item = r.item(obj, "paths")?;
    let o = r.obj(item, what)?;
    r.allow_keys(o, PATHS_KEYS);
    let mut rules = base;
    rules.merge_slashes = r.bool(o, "merge_slashes", base.merge_slashes);
    rules.allow_semicolons = r.bool(o, "allow_semicolons", base.allow_semicolons);
    if let Some(v) = r.opt_str(o, "escaped_slashes") {
        rules.escaped_slashes = match v.value.as_str() {
            "reject" => EscapedSlashes::Reject,
            "keep" => EscapedSlashes::Keep,
            "decode" => EscapedSlashes::Decode,
            other => {
                r.error(
                    v.span,
                    format!("unknown `escaped_slashes` value `{other}`"),
                    Some("use \"reject\" (400, the default), \"keep\" (stay encoded) or \"decode\" (become /)".into()),
                );
                base.escaped_slashes
            }
        };
    }
    Some(rules)
}
