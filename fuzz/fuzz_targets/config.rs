#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(table) = portico::config::compile_str("fuzz.toml", text) {
            let _ = portico::table::loaded::LoadedTable::load(table);
        }
    }
});
