//! Request ids in the shapes AWS uses: a UUID (`x-amzn-RequestId`, REST APIs) or a 16-character
//! base64 id (`apigw-requestid`, HTTP APIs, e.g. `Vn3BchF1oAMEbNQ=`).
//!
//! Generated from a per-thread xorshift generator: no syscall, no lock, no allocation.

use crate::table::Protocol;

use crate::random::random_u64;

#[derive(Clone, Copy)]
pub struct RequestId {
    text: [u8; 36],
    len: u8,
}

impl RequestId {
    pub fn new(protocol: Protocol) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&random_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&random_u64().to_le_bytes());
        let mut text = [0u8; 36];
        match protocol {
            Protocol::Rest => {
                bytes[6] = (bytes[6] & 0x0f) | 0x40;
                bytes[8] = (bytes[8] & 0x3f) | 0x80;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut j = 0;
                for (i, b) in bytes.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        text[j] = b'-';
                        j += 1;
                    }
                    text[j] = HEX[(b >> 4) as usize];
                    text[j + 1] = HEX[(b & 15) as usize];
                    j += 2;
                }
                Self { text, len: 36 }
            }
            Protocol::Http => {
                const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                // 11 random bytes → 15 characters and one `=`, as AWS's ids look.
                let mut bits = 0u32;
                let mut nbits = 0;
                let mut j = 0;
                for &b in &bytes[..11] {
                    bits = (bits << 8) | u32::from(b);
                    nbits += 8;
                    while nbits >= 6 {
                        nbits -= 6;
                        text[j] = B64[((bits >> nbits) & 63) as usize];
                        j += 1;
                    }
                }
                text[j] = B64[((bits << (6 - nbits)) & 63) as usize];
                text[j + 1] = b'=';
                Self { text, len: 16 }
            }
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let rest = RequestId::new(Protocol::Rest);
        let s = rest.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(s.as_bytes()[14], b'4', "UUID version 4: {s}");
        assert_eq!(s.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        let http = RequestId::new(Protocol::Http);
        assert_eq!(http.as_str().len(), 16);
        assert!(http.as_str().ends_with('='));
        assert_ne!(RequestId::new(Protocol::Rest).as_str(), RequestId::new(Protocol::Rest).as_str());
    }
}
