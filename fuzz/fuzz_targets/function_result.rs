#![no_main]
//! A function's answer, any bytes, both payload formats: never a panic; a result it accepts has a
//! status a response can carry, and its body can always be asked for.
use libfuzzer_sys::fuzz_target;
use portico::function::result::{PayloadFormat, read};

fuzz_target!(|data: &[u8]| {
    for format in [PayloadFormat::V1, PayloadFormat::V2] {
        if let Ok(r) = read(format, data) {
            assert!((100..=599).contains(&r.status));
            let _ = r.body(true);
            let _ = r.body(false);
        }
    }
});
