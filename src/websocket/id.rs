//! Connection ids in AWS's shape: 16 characters of base64 (11 bytes, like `L0SM9cOFvHcCIhw=`), in
//! the URL-safe alphabet (`-` and `_`, never `/` or `+`, so an id is one path segment as it is).
//! The first byte names the worker that holds the connection, so a push finds its owner without
//! a shared map; the rest is random.

use base64::Engine;

/// A new id for a connection on `worker`.
pub fn new(worker: usize) -> String {
    let mut bytes = [0u8; 11];
    bytes[0] = worker as u8;
    bytes[1..9].copy_from_slice(&crate::random::random_u64().to_le_bytes());
    bytes[9..11].copy_from_slice(&(crate::random::random_u64() as u16).to_le_bytes());
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn decode(id: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE.decode(id).ok()
}

/// The worker that holds connection `id` (its first byte); a malformed id names none.
pub fn worker_of(id: &str) -> usize {
    decode(id).and_then(|b| b.first().copied()).map_or(usize::MAX, usize::from)
}

/// Whether `id` is well-formed (16 base64 characters of 11 bytes).
pub fn is_well_formed(id: &str) -> bool {
    id.len() == 16 && decode(id).is_some_and(|b| b.len() == 11)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_look_like_aws() {
        let a = super::new(3);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(super::is_well_formed(&a) && super::is_well_formed("L0SM9cOFvHcCIhw="));
        assert!(!super::is_well_formed("short") && !super::is_well_formed("L0SM9cOFvHcCIhw!"));
        assert!((0..200).map(|_| super::new(1)).all(|id| !id.contains(['/', '+']) && super::worker_of(&id) == 1));
        assert_ne!(a, super::new(3));
    }
}
