//! Query strings: `name=value` pairs as received, and percent-decoding (`+` is a space), shared
//! by function events, cache keys, authorizer identities and mapped values. No allocation.

use smallvec::SmallVec;

/// The query's `name=value` pairs, as received (empty pieces skipped; a piece without `=` has an
/// empty value).
pub fn pairs(query: Option<&[u8]>) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    query.unwrap_or_default().split(|&b| b == b'&').filter(|p| !p.is_empty()).map(|p| {
        match p.iter().position(|&b| b == b'=') {
            Some(eq) => (&p[..eq], &p[eq + 1..]),
            None => (p, &p[p.len()..]),
        }
    })
}

/// The value (as received) of the first parameter whose decoded name is `name`.
pub fn find<'q>(query: Option<&'q [u8]>, name: &[u8]) -> Option<&'q [u8]> {
    pairs(query).find(|(n, _)| decoded_is(n, name)).map(|(_, v)| v)
}

/// Whether `raw`, percent-decoded, is `text`.
pub fn decoded_is(raw: &[u8], text: &[u8]) -> bool {
    let mut decoded = SmallVec::<[u8; 256]>::new();
    decode_into(&mut decoded, raw);
    decoded.as_slice() == text
}

/// Percent-decodes `text` (`+` is a space) onto `out`; a broken escape stays as written. Function
/// events, authorizer identities and mapped values all decode with it, so a cached authorizer
/// answer is keyed by exactly what the event showed.
pub fn decode_into(out: &mut SmallVec<[u8; 256]>, text: &[u8]) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}
