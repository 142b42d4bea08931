//! Receipts: proof that a peer did a task.
//!
//! The executor signs (requester, request hash, result hash, token count)
//! with its identity key; the requester checks the signature against the
//! peer id it talked to and the hashes against what it sent and received.
//! Only then does the contribution ledger count the work. The request hash
//! is over the request frame's bytes exactly as they crossed the wire (any
//! implementation can compute it, whatever its JSON encoder), and those
//! bytes hold the requester's nonce: no two receipts sign the same thing.

use libp2p::PeerId;
use libp2p::identity::{Keypair, PublicKey};
use sha2::{Digest as _, Sha256};

use crate::wire::Receipt;

/// Why a receipt was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The key does not belong to the peer that answered.
    #[error("receipt key does not belong to peer {0}")]
    WrongPeer(String),
    /// The receipt is for another request, result, requester or count.
    #[error("receipt does not match the task: {0}")]
    Mismatch(&'static str),
    /// The signature does not verify.
    #[error("receipt signature is invalid")]
    BadSignature,
    /// A field is not valid hex or key bytes.
    #[error("receipt is malformed: {0}")]
    Malformed(&'static str),
}

/// Hex sha256 of a request frame's body (the JSON bytes after the length
/// prefix), as both sides compute it.
#[must_use]
pub fn request_hash(request_bytes: &[u8]) -> String {
    hex(&Sha256::digest(request_bytes))
}

/// Hex sha256 of a result text.
#[must_use]
pub fn result_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

impl Receipt {
    /// Signs a receipt as `keypair` (the executor).
    #[must_use]
    pub fn sign(keypair: &Keypair, requester: &PeerId, request_bytes: &[u8], result: &str, tokens: u32) -> Self {
        let mut receipt = Self {
            executor: keypair.public().to_peer_id().to_string(),
            requester: requester.to_string(),
            request_hash: request_hash(request_bytes),
            result_hash: result_hash(result),
            tokens,
            public_key: hex(&keypair.public().encode_protobuf()),
            signature: String::new(),
        };
        receipt.signature = keypair.sign(&receipt.signed_bytes()).map(|signature| hex(&signature)).unwrap_or_default();
        receipt
    }

    /// The bytes the signature covers.
    #[must_use]
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "chorus/receipt/2\n{}\n{}\n{}\n{}\n{}",
            self.executor, self.requester, self.request_hash, self.result_hash, self.tokens
        )
        .into_bytes()
    }

    /// Checks the receipt of a task this node (`requester`) asked `executor`
    /// to do with the request frame `request_bytes`, which returned `result`
    /// in `tokens` tokens.
    ///
    /// # Errors
    /// [`ReceiptError`] naming what does not hold.
    pub fn verify(
        &self,
        executor: &PeerId,
        requester: &PeerId,
        request_bytes: &[u8],
        result: &str,
        tokens: u32,
    ) -> Result<(), ReceiptError> {
        let key_bytes = unhex(&self.public_key).ok_or(ReceiptError::Malformed("public_key"))?;
        let key = PublicKey::try_decode_protobuf(&key_bytes).map_err(|_| ReceiptError::Malformed("public_key"))?;
        if key.to_peer_id() != *executor || self.executor != executor.to_string() {
            return Err(ReceiptError::WrongPeer(executor.to_string()));
        }
        if self.requester != requester.to_string() {
            return Err(ReceiptError::Mismatch("requester"));
        }
        if self.request_hash != request_hash(request_bytes) {
            return Err(ReceiptError::Mismatch("request"));
        }
        if self.result_hash != result_hash(result) {
            return Err(ReceiptError::Mismatch("result"));
        }
        if self.tokens != tokens {
            return Err(ReceiptError::Mismatch("tokens"));
        }
        let signature = unhex(&self.signature).ok_or(ReceiptError::Malformed("signature"))?;
        if key.verify(&self.signed_bytes(), &signature) { Ok(()) } else { Err(ReceiptError::BadSignature) }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 1024 {
        return None;
    }
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A request frame's body as some implementation wrote it (spacing and
    /// number formats of its own: the hash is over these bytes).
    fn request(prompt: &str, nonce: &str) -> Vec<u8> {
        format!(
            "{{ \"version\": 2, \"specialist\": \"general.assistant\", \"nonce\": \"{nonce}\", \"messages\": \
             [{{\"role\": \"user\", \"content\": \"{prompt}\"}}], \"sampling\": {{\"temperature\": 0.7, \"top_k\": 40, \
             \"top_p\": 0.9, \"min_p\": 0.05, \"repeat_penalty\": 1.1, \"max_tokens\": 64, \"seed\": 3}}, \"deadline_ms\": 5e3 }}"
        )
        .into_bytes()
    }

    #[test]
    fn a_receipt_verifies_only_for_its_task() {
        let executor = Keypair::generate_ed25519();
        let requester = Keypair::generate_ed25519().public().to_peer_id();
        let stranger = Keypair::generate_ed25519().public().to_peer_id();
        let executor_id = executor.public().to_peer_id();
        let task = request("hello", "00112233445566778899aabbccddeeff");
        let receipt = Receipt::sign(&executor, &requester, &task, "world", 2);
        assert_eq!(receipt.verify(&executor_id, &requester, &task, "world", 2), Ok(()));
        // The receipt survives the wire.
        let back: Receipt = serde_json::from_str(&serde_json::to_string(&receipt).unwrap()).unwrap();
        assert_eq!(back.verify(&executor_id, &requester, &task, "world", 2), Ok(()));

        assert!(matches!(receipt.verify(&stranger, &requester, &task, "world", 2), Err(ReceiptError::WrongPeer(_))));
        assert_eq!(
            receipt.verify(&executor_id, &stranger, &task, "world", 2),
            Err(ReceiptError::Mismatch("requester"))
        );
        let other = request("other", "00112233445566778899aabbccddeeff");
        assert_eq!(
            receipt.verify(&executor_id, &requester, &other, "world", 2),
            Err(ReceiptError::Mismatch("request"))
        );
        // The same question with another nonce is another request: a receipt
        // is never good for two of them.
        let again = request("hello", "ffeeddccbbaa99887766554433221100");
        assert_eq!(
            receipt.verify(&executor_id, &requester, &again, "world", 2),
            Err(ReceiptError::Mismatch("request"))
        );
        assert_eq!(receipt.verify(&executor_id, &requester, &task, "w0rld", 2), Err(ReceiptError::Mismatch("result")));
        assert_eq!(receipt.verify(&executor_id, &requester, &task, "world", 3), Err(ReceiptError::Mismatch("tokens")));
        let mut forged = receipt.clone();
        forged.tokens = 200;
        assert_eq!(forged.verify(&executor_id, &requester, &task, "world", 200), Err(ReceiptError::BadSignature));
        let mut garbled = receipt;
        garbled.signature = "zz".to_owned();
        assert_eq!(
            garbled.verify(&executor_id, &requester, &task, "world", 2),
            Err(ReceiptError::Malformed("signature"))
        );
    }

    #[test]
    fn the_signed_bytes_are_the_documented_ones() {
        // docs/PROTOCOL.md gives this layout to other implementations.
        let receipt = Receipt {
            executor: "E".to_owned(),
            requester: "R".to_owned(),
            request_hash: request_hash(b"{}"),
            result_hash: result_hash("hi"),
            tokens: 7,
            public_key: String::new(),
            signature: String::new(),
        };
        let expected = format!("chorus/receipt/2\nE\nR\n{}\n{}\n7", request_hash(b"{}"), result_hash("hi"));
        assert_eq!(receipt.signed_bytes(), expected.into_bytes());
        assert_eq!(request_hash(b"{}"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }
}
