//! The bodies of the fuzz targets over this crate (`fuzz/` at the
//! repository's root), behind the `fuzzing` feature: each takes the
//! fuzzer's bytes and panics when an invariant breaks. The crate's
//! `tests/fuzz_corpus.rs` replays the checked-in corpus through the same
//! functions on the stable toolchain.

use futures::executor::block_on;
use futures::io::Cursor;
use libp2p::PeerId;
use libp2p::identity::Keypair;

use crate::receipt::{request_hash, result_hash};
use crate::wire::{
    FrameError, MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES, Receipt, TaskFrame, TaskRequest, read_frame_bytes,
    write_frame_bytes,
};

/// `task_request`: bytes as they arrive on a `/chorus/task/1` stream.
///
/// The frame reader never reads past its limit and gives back exactly the
/// body the prefix announced; a body that decodes as a [`TaskRequest`] goes
/// through [`TaskRequest::validate`], and a valid one survives a JSON round
/// trip unchanged and still valid. The request hash of the body is 64
/// lowercase hex digits, the same after the frame is written out and read
/// back. The same bytes read as an answer frame ([`TaskFrame`]) decode, if
/// at all, into a frame that survives a round trip.
pub fn task_request(data: &[u8]) {
    for limit in [MAX_REQUEST_BYTES, MAX_RESPONSE_FRAME_BYTES, 64] {
        check_frame(data, limit);
    }
    let Ok(body) = block_on(read_frame_bytes(&mut Cursor::new(data), MAX_REQUEST_BYTES)) else {
        return;
    };
    let hash = request_hash(&body);
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let mut written = Cursor::new(Vec::new());
    assert!(block_on(write_frame_bytes(&mut written, &body, MAX_REQUEST_BYTES)).is_ok(), "a body read is writable");
    let again = block_on(read_frame_bytes(&mut Cursor::new(written.into_inner()), MAX_REQUEST_BYTES));
    assert!(again.is_ok_and(|again| request_hash(&again) == hash), "the hash survives the wire");

    if let Ok(request) = serde_json::from_slice::<TaskRequest>(&body)
        && request.validate().is_ok()
    {
        let _ = (request.system(), request.user());
        let json = serde_json::to_vec(&request).unwrap_or_default();
        let back: TaskRequest = match serde_json::from_slice(&json) {
            Ok(back) => back,
            Err(error) => panic!("a valid request re-encodes to JSON that decodes: {error}"),
        };
        assert_eq!(back, request, "a valid request survives a JSON round trip");
        assert!(back.validate().is_ok(), "and stays valid");
    }
    if let Ok(frame) = serde_json::from_slice::<TaskFrame>(&body) {
        let json = serde_json::to_vec(&frame).unwrap_or_default();
        let back: Result<TaskFrame, _> = serde_json::from_slice(&json);
        assert!(back.is_ok_and(|back| back == frame), "an answer frame survives a JSON round trip");
    }
}

/// The frame reader on `data` under `limit`.
fn check_frame(data: &[u8], limit: usize) {
    let result = block_on(read_frame_bytes(&mut Cursor::new(data), limit));
    let announced = data.get(..4).map(|prefix| u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]));
    match (result, announced) {
        (Ok(body), Some(length)) => {
            assert!(body.len() <= limit, "a body within the limit");
            assert_eq!(body.len(), length as usize, "the body the prefix announced");
            assert_eq!(body, data[4..4 + body.len()], "the bytes after the prefix");
        }
        (Ok(_), None) => panic!("a frame read from fewer than 4 bytes"),
        (Err(FrameError::Closed), _) => assert!(data.is_empty(), "closed only before a frame begins"),
        (Err(FrameError::TooLarge { length, .. }), Some(announced)) => {
            assert!(length > limit && length == announced as usize, "too large only over the limit");
        }
        (Err(FrameError::Io(_)), Some(length)) => {
            assert!((length as usize) > data.len() - 4, "an I/O error only when the body is cut")
        }
        (Err(FrameError::Io(_)), None) => {}
        (Err(error), _) => panic!("unexpected frame error {error}"),
    }
}

/// A fixed Ed25519 key (for the executor and requester of [`receipt`]),
/// so the genuine receipt is the same for every run.
fn fixed_key(byte: u8) -> Keypair {
    match Keypair::ed25519_from_bytes([byte; 32]) {
        Ok(key) => key,
        Err(error) => panic!("a fixed Ed25519 key: {error}"),
    }
}

/// `receipt`: receipts the requester checks.
///
/// The input's first byte picks the mode: 0, the rest is a receipt's JSON
/// as a peer could send it; otherwise the genuine receipt of a fixed
/// executor for a request and result taken from the input, with one field
/// replaced by bytes of the input. In both, [`Receipt::verify`] never
/// panics and accepts a receipt only if it says exactly what the genuine
/// one says: the same executor, requester, hashes and count, and the same
/// key and signature bytes (hex digits may differ in case).
pub fn receipt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let executor = fixed_key(7);
    let executor_id = executor.public().to_peer_id();
    let requester: PeerId = fixed_key(9).public().to_peer_id();
    let split = rest.len() / 2;
    let (request, result) = rest.split_at(split);
    let result = String::from_utf8_lossy(result).into_owned();
    let tokens = u32::try_from(rest.len()).unwrap_or(u32::MAX);
    let genuine = Receipt::sign(&executor, &requester, request, &result, tokens);
    assert!(genuine.verify(&executor_id, &requester, request, &result, tokens).is_ok(), "the genuine receipt verifies");

    let candidate = if mode == 0 {
        match serde_json::from_slice::<Receipt>(rest) {
            Ok(receipt) => receipt,
            Err(_) => return,
        }
    } else {
        let mut receipt = genuine.clone();
        let text = String::from_utf8_lossy(&rest[..split.min(200)]).into_owned();
        match mode % 8 {
            1 => receipt.executor = text,
            2 => receipt.requester = text,
            3 => receipt.request_hash = text,
            4 => receipt.result_hash = text,
            5 => receipt.tokens = u32::from(mode),
            6 => receipt.public_key = text,
            _ => receipt.signature = text,
        }
        receipt
    };
    if candidate.verify(&executor_id, &requester, request, &result, tokens).is_ok() {
        let same = candidate.executor == genuine.executor
            && candidate.requester == genuine.requester
            && candidate.request_hash == genuine.request_hash
            && candidate.result_hash == genuine.result_hash
            && candidate.tokens == genuine.tokens
            && candidate.public_key.to_ascii_lowercase() == genuine.public_key
            && candidate.signature.to_ascii_lowercase() == genuine.signature;
        assert!(same, "a receipt that verifies is the genuine one: {candidate:?} vs {genuine:?}");
    }
    // The hashes the receipt carries are the ones both sides compute.
    assert_eq!(genuine.request_hash, request_hash(request));
    assert_eq!(genuine.result_hash, result_hash(&result));
}
