#![no_main]
use libfuzzer_sys::fuzz_target;
use portico::http::response_head;

fuzz_target!(|data: &[u8]| {
    let _ = response_head::parse(data, data.first().is_some_and(|b| b & 1 == 1), 8192);
});
