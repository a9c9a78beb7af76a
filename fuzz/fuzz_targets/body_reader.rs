#![no_main]
//! The one body reader over any framing, limit and read boundaries: whatever the split, it finds
//! the same data, the same end and the same error as when the bytes come in one piece, and its
//! ranges stay inside what it was given.
use libfuzzer_sys::fuzz_target;
use portico::http::body_reader::{BodyFraming, BodyReader};

/// Decodes `pieces` one after another (what is left of one piece is given again with the next,
/// as a read buffer would hold it); returns the data, whether the body ended, and the error.
fn decode(framing: BodyFraming, max: u64, pieces: &[&[u8]]) -> (Vec<u8>, bool, Option<String>) {
    let mut reader = BodyReader::new(framing, max);
    let mut buf: Vec<u8> = Vec::new();
    let mut data = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match reader.step(&buf) {
                Ok(p) => {
                    assert!(p.consumed <= buf.len());
                    if let Some((s, e)) = p.data {
                        assert!(s <= e && e <= p.consumed);
                        data.extend_from_slice(&buf[s..e]);
                    }
                    assert!(data.len() as u64 <= max);
                    buf.drain(..p.consumed);
                    if p.done {
                        return (data, true, None);
                    }
                    if p.consumed == 0 {
                        break;
                    }
                }
                Err(e) => return (data, false, Some(e.to_string())),
            }
        }
    }
    (data, false, None)
}

fuzz_target!(|input: &[u8]| {
    let [kind, max, split, body @ ..] = input else { return };
    let framing = match kind % 4 {
        0 => BodyFraming::None,
        1 => BodyFraming::Length(u64::from(*max) * 3),
        2 => BodyFraming::Chunked,
        _ => BodyFraming::UntilClose,
    };
    let max = u64::from(*max) * 2;
    let at = *split as usize % (body.len() + 1);
    let whole = decode(framing, max, &[body]);
    let split = decode(framing, max, &[&body[..at], &body[at..]]);
    // An error may be found on fewer bytes in the split run only if the whole run found it too.
    assert_eq!(whole.2.is_some(), split.2.is_some(), "{framing:?} split at {at}");
    if whole.2.is_none() {
        assert_eq!((&whole.0, whole.1), (&split.0, split.1), "{framing:?} split at {at}");
    }
});
