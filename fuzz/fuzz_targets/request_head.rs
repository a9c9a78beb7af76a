#![no_main]
use libfuzzer_sys::fuzz_target;
use portico::http::head::{self, HeadLimits};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits { max_header_bytes: 4096, max_header_count: 32, max_uri_bytes: 1024 };
    if let Ok(Some(index)) = head::parse(data, &limits) {
        let len = index.len;
        assert!(len <= data.len());
        let h = index.into_head(bytes::Bytes::copy_from_slice(&data[..len]));
        let _ = (h.path(), h.query(), h.host_name(), h.headers().count());
    }
});
