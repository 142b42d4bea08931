// A js-libp2p node written from docs/PROTOCOL.md, against a running
// `chorus serve` that serves general.assistant:
//
//   node interop/js/interop.mjs /ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID
//
// It connects (TCP, Noise, Yamux), checks identify, finds the node as a
// provider of the specialist's DHT key over /chorus/kad/1.0.0, asks its
// status, runs a task and verifies the receipt (and that tampered receipts
// fail), and sends broken requests that must get typed errors. Each check is
// one JSON line on stdout, {"check": NAME, "ok": BOOL, …}; the last line is
// {"summary": true, "passed": N, "failed": M}. Exit status 0 only if every
// check passed. Dials nothing but loopback addresses.
import './node20.mjs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import {
  ERROR_CODES, IDENTIFY_PROTOCOL_VERSION, KAD_PROTOCOL, MAX_ANSWER_FRAME, MAX_REQUEST_FRAME, MAX_STATUS_REPLY,
  PROTOCOL_VERSION, Reader, STATUS_PROTOCOL, TASK_PROTOCOL, frame, freshNonce, lengthPrefix, receiptFailure,
  send, specialistKey, statusProblems, within
} from './protocol.mjs'

const SPECIALIST = 'general.assistant'
const address = process.argv[2]
if (!address || !address.includes('/p2p/')) {
  console.error('usage: node interop.mjs /ip4/127.0.0.1/tcp/PORT/p2p/PEER_ID')
  process.exit(2)
}
const serverId = peerIdFromString(address.split('/p2p/').pop())
const started = Date.now()
let passed = 0
let failed = 0

function check (name, ok, detail = {}) {
  if (ok) passed++
  else failed++
  console.log(JSON.stringify({ check: name, ok: Boolean(ok), ms: Date.now() - started, ...detail }))
}

const encoder = new TextEncoder()

function request (overrides = {}) {
  return {
    version: PROTOCOL_VERSION,
    specialist: SPECIALIST,
    messages: [{ role: 'user', content: 'Name three colours of the rainbow.' }],
    sampling: { temperature: 0.2, top_k: 40, top_p: 0.9, min_p: 0.05, repeat_penalty: 1.1, max_tokens: 16, seed: 7 },
    deadline_ms: 60000,
    nonce: freshNonce(),
    ...overrides
  }
}

/**
 * Opens a task stream, writes `bytes` (already framed) and reads frames to
 * the end: every frame, the token text, the final frame.
 */
async function exchange (node, bytes) {
  const stream = await node.dialProtocol(serverId, TASK_PROTOCOL)
  return within(120000, 'end of the task', async () => {
    await send(stream, bytes)
    const reader = new Reader(stream)
    const frames = []
    let text = ''
    let tokenFrames = 0
    for (;;) {
      const got = await reader.readFrame(MAX_ANSWER_FRAME)
      if (got === null) throw new Error(`the stream ended without done or error after ${frames.length} frames`)
      frames.push(got)
      if (got.frame === 'token') {
        tokenFrames++
        text += got.text
      } else if (got.frame === 'done' || got.frame === 'error') {
        break
      } else if (got.frame !== 'waiting') {
        throw new Error(`an unknown frame: ${JSON.stringify(got)}`)
      }
    }
    // "After done or error the executor closes the stream."
    const rest = await within(10000, 'the stream closing', () => reader.readToEnd(MAX_ANSWER_FRAME))
    await stream.close().catch(() => {})
    return { frames, text, tokenFrames, last: frames[frames.length - 1], trailing: rest.length }
  }, stream)
}

/** Sends `body` (bytes) as one request frame; the outcome and the bytes sent. */
async function task (node, body) {
  const outcome = await exchange(node, frame(body))
  return { ...outcome, requestBytes: body }
}

/** A request that must be refused with `code`. */
async function refused (node, name, bytes, code) {
  try {
    const { last, frames, trailing } = await exchange(node, bytes)
    const error = last.frame === 'error' ? last.error : null
    // "A code a requester does not know is read as `unknown`."
    const got = ERROR_CODES.includes(error?.code) ? error.code : 'unknown'
    check(name, got === code && typeof error?.message === 'string' && frames.length === 1 && trailing === 0,
      { expected: code, got: error ?? last, frames: frames.length })
  } catch (error) {
    check(name, false, { expected: code, error: String(error) })
  }
}

/** Runs a valid task and checks its stream and its receipt. */
async function served (node, name, body, maxTokens) {
  const me = node.peerId.toString()
  const outcome = await task(node, body)
  const { last, text, tokenFrames, requestBytes } = outcome
  if (last.frame !== 'done') {
    check(name, false, { got: last })
    return null
  }
  const { summary, receipt } = last
  const failure = await receiptFailure({ receipt, summary, requestBytes, text, executor: serverId.toString(), requester: me })
  const credited = Math.min(receipt.tokens, tokenFrames, maxTokens)
  check(name, failure === null && summary.tokens > 0 && text.length > 0 && credited > 0 && summary.tokens <= maxTokens, {
    failure, tokens: summary.tokens, token_frames: tokenFrames, credited, request_bytes: requestBytes.length,
    text, summary
  })
  return { ...outcome, summary, receipt }
}

// Loopback only: any other dial is refused and counted (the check
// `loopback_only` fails if there was one).
const refusedDials = []
const node = await createLibp2p({
  addresses: { listen: [] },
  connectionGater: {
    denyDialMultiaddr: (addr) => {
      const loopback = /^\/(ip4\/127\.|ip6\/::1\/)/.test(addr.toString())
      if (!loopback) refusedDials.push(addr.toString())
      return !loopback
    }
  },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    // Client mode: this node asks and serves no DHT records. Loopback
    // addresses must survive (the default mapper drops private ones).
    dht: kadDHT({ protocol: KAD_PROTOCOL, clientMode: true, peerInfoMapper: passthroughMapper })
  }
})

try {
  // --- 1. connect, identify ---------------------------------------------------
  const identified = new Promise((resolve) => {
    node.addEventListener('peer:identify', (event) => {
      if (event.detail.peerId.equals(serverId)) resolve(event.detail)
    })
  })
  const connection = await within(15000, 'connection', () => node.dial(multiaddr(address)))
  check('connect', connection.remotePeer.equals(serverId), {
    remote: connection.remotePeer.toString(), encryption: connection.encryption, multiplexer: connection.multiplexer
  })
  const info = await within(15000, 'identify', () => identified)
  const wanted = [KAD_PROTOCOL, STATUS_PROTOCOL, TASK_PROTOCOL]
  check('identify', wanted.every((p) => info.protocols.includes(p)) && info.agentVersion?.startsWith('chorus/') === true &&
    info.protocolVersion === IDENTIFY_PROTOCOL_VERSION,
  { agent_version: info.agentVersion, protocol_version: info.protocolVersion, protocols: info.protocols })

  // --- 2. the DHT: the node provides the specialist's key -----------------------
  const { cid, key } = await specialistKey(SPECIALIST)
  let providers = []
  const deadline = Date.now() + 30000
  while (Date.now() < deadline) {
    providers = []
    try {
      for await (const provider of node.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(10000) })) {
        providers.push(provider)
        if (provider.id.equals(serverId)) break
      }
    } catch (error) {
      providers.push({ error: String(error) })
    }
    if (providers.some((p) => p.id?.equals(serverId))) break
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const found = providers.find((p) => p.id?.equals(serverId))
  check('providers', found !== undefined, {
    key: Buffer.from(key).toString('hex'),
    cid: cid.toString(),
    providers: providers.map((p) => p.id ? { id: p.id.toString(), addrs: p.multiaddrs.map(String) } : p)
  })

  // --- 3. status ----------------------------------------------------------------
  {
    const stream = await node.dialProtocol(serverId, STATUS_PROTOCOL)
    const status = await within(15000, 'status reply', async () => {
      await send(stream, encoder.encode(JSON.stringify({ version: PROTOCOL_VERSION })))
      await stream.close()
      return JSON.parse(new TextDecoder().decode(await new Reader(stream).readToEnd(MAX_STATUS_REPLY)))
    }, stream)
    const problems = statusProblems(status)
    if (status.version !== PROTOCOL_VERSION) problems.push(`version ${status.version}`)
    if (!status.specialists?.includes(SPECIALIST)) problems.push(`${SPECIALIST} is not listed`)
    if (status.serving !== true) problems.push('not serving')
    if (!(status.total_slots >= 1 && status.max_tokens >= 1)) problems.push('no slots or no tokens')
    check('status', problems.length === 0, { problems, status })
  }

  // --- 4. a task and its receipt --------------------------------------------------
  const body = encoder.encode(JSON.stringify(request()))
  const done = await served(node, 'task', body, 16)
  if (done) {
    const honest = { receipt: done.receipt, summary: done.summary, requestBytes: body, text: done.text,
      executor: serverId.toString(), requester: node.peerId.toString() }
    // The check must be able to fail: each tampering alone is caught.
    const tamperings = {
      tokens_plus_one: { receipt: { ...done.receipt, tokens: done.receipt.tokens + 1 } },
      tokens_plus_one_in_summary_too: {
        receipt: { ...done.receipt, tokens: done.receipt.tokens + 1 },
        summary: { ...done.summary, tokens: done.summary.tokens + 1 }
      },
      other_text: { text: done.text + ' ' },
      other_request: { requestBytes: encoder.encode(JSON.stringify(request())) },
      other_requester: { requester: serverId.toString() },
      flipped_signature: {
        receipt: { ...done.receipt, signature: (done.receipt.signature[0] === '0' ? '1' : '0') + done.receipt.signature.slice(1) }
      }
    }
    for (const [name, change] of Object.entries(tamperings)) {
      const failure = await receiptFailure({ ...honest, ...change })
      check(`tampered_${name}`, failure !== null, { failure })
    }
  }

  // --- 5. typed errors --------------------------------------------------------------
  await refused(node, 'not_json', frame(encoder.encode('garbage')), 'bad_request')
  await refused(node, 'too_large', lengthPrefix(MAX_REQUEST_FRAME + 1), 'too_large')
  await refused(node, 'bad_nonce', frame(encoder.encode(JSON.stringify(request({ nonce: 'not-hex-at-all!!' })))), 'bad_request')
  await refused(node, 'short_nonce', frame(encoder.encode(JSON.stringify(request({ nonce: 'abcdef' })))), 'bad_request')
  await refused(node, 'unknown_specialist',
    frame(encoder.encode(JSON.stringify(request({ specialist: 'nobody.serves.this' })))), 'unknown_specialist')

  // --- 6. unknown fields are ignored: a request padded with one to exactly the
  // largest frame allowed, in another key order and layout, still runs and its
  // receipt signs the hash of those very bytes.
  {
    const base = request({ sampling: { ...request().sampling, max_tokens: 8 }, future_field: { note: 'ignored' } })
    const reordered = Object.fromEntries(Object.entries(base).reverse())
    const withPadding = (padding) => encoder.encode(JSON.stringify({ ...reordered, padding }, null, 2))
    const overhead = withPadding('').length
    const padded = withPadding('x'.repeat(MAX_REQUEST_FRAME - overhead))
    if (padded.length !== MAX_REQUEST_FRAME) throw new Error(`padding made ${padded.length} bytes`)
    await served(node, 'unknown_fields', padded, 8)
  }
  check('loopback_only', refusedDials.length === 0, { refused_dials: refusedDials })

} catch (error) {
  check('run', false, { error: String(error?.stack ?? error) })
} finally {
  await within(5000, 'stop', () => node.stop()).catch(() => {})
}
console.log(JSON.stringify({ summary: true, passed, failed, ms: Date.now() - started }))
process.exit(failed === 0 ? 0 : 1)
