//! Provider keys: how a specialist is named in the DHT.
//!
//! A key is the sha2-256 multihash of `chorus/specialist/<id>`, the same
//! bytes a CID (raw codec) carries, so any libp2p implementation can look
//! Chorus providers up as it looks up content.

use libp2p::kad::RecordKey;
use sha2::{Digest as _, Sha256};

/// The DHT key under which providers of `specialist_id` are announced.
#[must_use]
pub fn specialist_key(specialist_id: &str) -> RecordKey {
    let digest = Sha256::digest(format!("chorus/specialist/{specialist_id}").as_bytes());
    // multihash: code 0x12 (sha2-256), length 0x20, digest.
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&[0x12, 0x20]);
    bytes.extend_from_slice(&digest);
    RecordKey::new(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sha256_multihashes_and_distinct() {
        let key = specialist_key("software.rust");
        assert_eq!(key.as_ref().len(), 34);
        assert_eq!(&key.as_ref()[..2], &[0x12, 0x20]);
        assert_ne!(key, specialist_key("software.python"));
        assert_eq!(key, specialist_key("software.rust"));
    }
}
