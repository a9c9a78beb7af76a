#![no_main]
//! Mapping expressions (values with `${...}` pieces, request and response targets) and
//! gateway-response templates, any text: never a panic. A literal that
//! parses never holds CR, LF or NUL (it would split a header); a template without `$` compiles to
//! itself.
use libfuzzer_sys::fuzz_target;
use portico::config::log_format;
use portico::config::mapping_expr::{Dialect, Expr, parse, parse_request_target, parse_response_target, parse_value};
use portico::table::log_format::Part;
use portico::table::mapping::Source;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::Rest, Dialect::Http, Dialect::WebSocket] {
        if let Ok(Expr::Source(Source::Literal(l))) = parse(text, dialect) {
            assert!(!l.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0), "{l:?}");
        }
        for piece in parse_value(text, dialect).into_iter().flatten() {
            if let Expr::Source(Source::Literal(l)) = piece {
                assert!(!l.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0), "{l:?}");
            }
        }
        let _ = parse_request_target(text, dialect);
        let _ = parse_response_target(text, dialect);
    }
    if let Ok(parts) = log_format::compile(text, |_| Some(String::new())) {
        if !text.contains('$') {
            let joined: String =
                parts.iter().map(|p| if let Part::Literal(l) = p { l.as_str() } else { "" }).collect();
            assert_eq!(joined, text);
        }
    }
});
