#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(table) = portico::config::compile_str("fuzz.toml", text) {
            // Loading opens access log files: not with names a fuzzer made up.
            let logs = table.apis.iter().flat_map(|a| &a.stages).any(|s| s.access_log.is_some());
            if !logs {
                let _ = portico::loaded::LoadedTable::load(table);
            }
        }
    }
});
