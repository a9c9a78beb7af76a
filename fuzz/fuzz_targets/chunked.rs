#![no_main]
use libfuzzer_sys::fuzz_target;
use portico::http::body::ChunkedDecoder;

fuzz_target!(|data: &[u8]| {
    // Feed in two pieces split at a data-derived point: framing must not depend on read boundaries.
    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let mut d = ChunkedDecoder::new();
    for mut piece in [&data[..split], &data[split..]] {
        while !piece.is_empty() {
            match d.step(piece) {
                Ok(step) => {
                    assert!(step.consumed <= piece.len());
                    if let Some((s, e)) = step.data {
                        assert!(s <= e && e <= step.consumed);
                    }
                    if step.done || step.consumed == 0 {
                        return;
                    }
                    piece = &piece[step.consumed..];
                }
                Err(_) => return,
            }
        }
    }
});
