// The Chorus protocol as docs/PROTOCOL.md writes it, for a js-libp2p node:
// the DHT key of a specialist, the status exchange, task frames and the
// check of a receipt. Written from the document alone; where it had to
// guess, it says so.
import { createHash, randomBytes } from 'node:crypto'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'

export const PROTOCOL_VERSION = 2
export const KAD_PROTOCOL = '/chorus/kad/1.0.0'
export const STATUS_PROTOCOL = '/chorus/status/1'
export const TASK_PROTOCOL = '/chorus/task/1'
// "Identify: … `/chorus/id/1`" (see the document: the identify message's
// protocol version, on the standard identify stream).
export const IDENTIFY_PROTOCOL_VERSION = '/chorus/id/1'
export const MAX_REQUEST_FRAME = 65536
export const MAX_ANSWER_FRAME = 16384
export const MAX_STATUS_REPLY = 65536
export const ERROR_CODES = ['busy', 'unknown_specialist', 'bad_request', 'too_large', 'over_deadline',
  'not_serving', 'rate_limited', 'internal']
export const DEVICE_CLASSES = ['desktop', 'laptop', 'phone', 'unknown']

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function sha256Hex (bytes) {
  return createHash('sha256').update(bytes).digest('hex')
}

export function hexToBytes (hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) {
    throw new Error(`not lowercase hex: ${JSON.stringify(hex)}`)
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** A nonce "made up for this request alone": 16 random bytes, 32 hex digits. */
export function freshNonce () {
  return randomBytes(16).toString('hex')
}

/**
 * The DHT key of a specialist, `0x12 0x20 || sha256("chorus/specialist/" + id)`,
 * computed by hand and as the multihash of a CIDv1 (raw codec); both must agree.
 */
export async function specialistKey (id) {
  const name = encoder.encode(`chorus/specialist/${id}`)
  const byHand = Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(name).digest()])
  const cid = CID.createV1(raw.code, await sha256.digest(name))
  if (Buffer.compare(Buffer.from(cid.multihash.bytes), Buffer.from(byHand)) !== 0) {
    throw new Error('the CID multihash and the documented key differ')
  }
  return { cid, key: byHand }
}

// --- streams -----------------------------------------------------------------

function chunkBytes (chunk) {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

/** Reads bytes from a libp2p stream as they are asked for. */
export class Reader {
  constructor (stream) {
    this.iterator = stream[Symbol.asyncIterator]()
    this.buffered = []
    this.length = 0
    this.ended = false
  }

  /** Waits for at least `n` bytes; false if the stream ended first. */
  async fill (n) {
    while (this.length < n && !this.ended) {
      const { value, done } = await this.iterator.next()
      if (done) {
        this.ended = true
        break
      }
      const bytes = chunkBytes(value)
      this.buffered.push(bytes)
      this.length += bytes.length
    }
    return this.length >= n
  }

  take (n) {
    const all = Buffer.concat(this.buffered)
    this.buffered = [all.subarray(n)]
    this.length = all.length - n
    return Uint8Array.from(all.subarray(0, n))
  }

  /** Everything up to the end of the stream (at most `limit` bytes). */
  async readToEnd (limit) {
    while (!this.ended) {
      await this.fill(this.length + 1)
      if (this.length > limit) throw new Error(`more than ${limit} bytes`)
    }
    return this.take(this.length)
  }

  /** One frame: a 4-byte big-endian length, then that many bytes of UTF-8 JSON. */
  async readFrame (limit) {
    if (!(await this.fill(4))) {
      if (this.length === 0) return null
      throw new Error('the stream ended inside a length prefix')
    }
    const length = Buffer.from(this.take(4)).readUInt32BE(0)
    if (length > limit) throw new Error(`a frame of ${length} bytes (the limit is ${limit})`)
    if (!(await this.fill(length))) throw new Error('the stream ended inside a frame')
    return JSON.parse(decoder.decode(this.take(length)))
  }
}

export async function send (stream, bytes) {
  if (!stream.send(bytes)) await stream.onDrain()
}

/** The 4-byte big-endian length prefix of a frame. */
export function lengthPrefix (length) {
  const prefix = Buffer.alloc(4)
  prefix.writeUInt32BE(length)
  return Uint8Array.from(prefix)
}

export function frame (body) {
  return Uint8Array.from(Buffer.concat([lengthPrefix(body.length), body]))
}

/** Runs `work`, or rejects after `ms` (aborting `stream` if given). */
export async function within (ms, what, work, stream) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      stream?.abort(new Error(`timed out: ${what}`))
      reject(new Error(`no ${what} within ${ms} ms`))
    }, ms)
  })
  try {
    return await Promise.race([work(), timeout])
  } finally {
    clearTimeout(timer)
  }
}

// --- status ------------------------------------------------------------------

/** The problems of a `PeerStatus` as the document's table types it (none: []). */
export function statusProblems (status) {
  const problems = []
  const u32 = (name) => {
    const value = status[name]
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) problems.push(`${name} is not a u32: ${value}`)
  }
  for (const name of ['version', 'free_slots', 'total_slots', 'waiting', 'max_tokens']) u32(name)
  if (!Array.isArray(status.specialists) || !status.specialists.every((s) => typeof s === 'string')) {
    problems.push(`specialists is not a list of strings: ${JSON.stringify(status.specialists)}`)
  }
  if (typeof status.tokens_per_s !== 'number' || status.tokens_per_s < 0) {
    problems.push(`tokens_per_s is not a number ≥ 0: ${status.tokens_per_s}`)
  }
  if (!DEVICE_CLASSES.includes(status.device_class)) problems.push(`device_class ${status.device_class}`)
  if (typeof status.serving !== 'boolean') problems.push(`serving is not a bool: ${status.serving}`)
  if (status.free_slots > status.total_slots) problems.push('more free slots than slots')
  return problems
}

// --- receipts ----------------------------------------------------------------

/** The signed bytes: `chorus/receipt/2\n<executor>\n<requester>\n<request_hash>\n<result_hash>\n<tokens>`. */
export function signedBytes (receipt) {
  return encoder.encode(['chorus/receipt/2', receipt.executor, receipt.requester, receipt.request_hash,
    receipt.result_hash, String(receipt.tokens)].join('\n'))
}

/**
 * Checks a receipt in the document's order. Returns null when it holds, or
 * the first failure. `requestBytes`: the request frame's body as sent;
 * `text`: the token frames' text concatenated; `executor`, `requester`: the
 * peer ids (strings) of the peer talked to and of this node.
 */
export async function receiptFailure ({ receipt, summary, requestBytes, text, executor, requester }) {
  let key
  try {
    key = publicKeyFromProtobuf(hexToBytes(receipt.public_key))
  } catch (error) {
    return `public_key does not decode: ${error.message}`
  }
  if (key.type !== 'Ed25519') return `public_key is a ${key.type} key, not Ed25519`
  const keyPeer = peerIdFromPublicKey(key).toString()
  if (keyPeer !== executor) return `public_key is the key of ${keyPeer}, not of ${executor}`
  if (receipt.executor !== executor) return `executor ${receipt.executor} is not ${executor}`
  if (receipt.requester !== requester) return `requester ${receipt.requester} is not ${requester}`
  if (receipt.request_hash !== sha256Hex(requestBytes)) return 'request_hash is not the sha256 of the bytes sent'
  if (receipt.result_hash !== sha256Hex(encoder.encode(text))) return 'result_hash is not the sha256 of the text'
  if (!Number.isInteger(receipt.tokens) || receipt.tokens !== summary.tokens) {
    return `tokens ${receipt.tokens} is not summary.tokens ${summary.tokens}`
  }
  let signature
  try {
    signature = hexToBytes(receipt.signature)
  } catch (error) {
    return `signature: ${error.message}`
  }
  if (!(await key.verify(signedBytes(receipt), signature))) return 'the signature does not verify'
  return null
}
