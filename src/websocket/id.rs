//! Connection ids in AWS's shape: 16 characters of base64 (11 bytes, like `L0SM9cOFvHcCIhw=`), in
//! the URL-safe alphabet (`-` and `_`, never `/` or `+`, so an id is one path segment as it is).
//! The first byte names the worker that holds the connection and the next four its node (the
//! node's tag, `connections::Node`), so a push finds its owner without a shared map or a lookup
//! in Redis; the last six are random.

use base64::Engine;

use crate::connections::Node;

/// A new id for a connection on `worker` of node `node`.
pub fn new(node: Node, worker: usize) -> String {
    let mut bytes = [0u8; 11];
    bytes[0] = worker as u8;
    bytes[1..5].copy_from_slice(&node);
    bytes[5..11].copy_from_slice(&crate::random::random_u64().to_le_bytes()[..6]);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn decode(id: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE.decode(id).ok()
}

/// The node and worker that hold connection `id`, if it is well-formed.
pub fn owner(id: &str) -> Option<(Node, usize)> {
    let bytes = decode(id).filter(|b| b.len() == 11)?;
    Some((bytes[1..5].try_into().ok()?, usize::from(bytes[0])))
}

/// Whether `id` is well-formed (16 base64 characters of 11 bytes).
pub fn is_well_formed(id: &str) -> bool {
    id.len() == 16 && decode(id).is_some_and(|b| b.len() == 11)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_look_like_aws() {
        let node = *b"node";
        let a = super::new(node, 3);
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert!(super::is_well_formed(&a) && super::is_well_formed("L0SM9cOFvHcCIhw="));
        assert!(!super::is_well_formed("short") && !super::is_well_formed("L0SM9cOFvHcCIhw!"));
        let ids: Vec<String> = (0..200).map(|_| super::new(node, 1)).collect();
        assert!(ids.iter().all(|id| !id.contains(['/', '+']) && super::owner(id) == Some((node, 1))));
        assert_ne!(a, super::new(node, 3));
        assert_eq!(super::owner("short"), None);
    }
}
