#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Request targets reach the normaliser starting with `/`, printable ASCII only.
    let mut path = vec![b'/'];
    path.extend(data.iter().copied().filter(|b| (0x21..0x7f).contains(b) && *b != b'#' && *b != b'?'));
    portico::http::path::assert_normal_form(&path);
});
