#![no_main]
//! What arrives on a node's Redis channel in fleet mode (another node, or anything else that can
//! publish there, wrote it) through the decoder: never a panic, and whatever decodes encodes back
//! to the same bytes and the same message.
use libfuzzer_sys::fuzz_target;
use portico::connections::wire::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Some(message) = decode(data) {
        let again = encode(&message);
        assert_eq!(decode(&again).as_ref(), Some(&message));
        assert_eq!(again, data, "one encoding per message");
    }
});
