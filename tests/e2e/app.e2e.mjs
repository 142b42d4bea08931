// End-to-end test of the real desktop app in its real webview.
//
// `scripts/e2e.sh` builds the UI, the app and the `chorus` command and runs
// this file with Node under Xvfb. It starts a model server on loopback, a
// real `chorus serve` peer on loopback, and tauri-driver (which drives
// WebKitWebDriver, which starts the app), with the app's data, settings and
// catalog in a new temporary folder, and speaks plain W3C WebDriver over
// HTTP: no client library.
//
// The checks of ui/COMMANDS.md ("The end-to-end checks"):
//   1. ask a question with the network off: the answer streams in and the
//      plan card says done, on this device; the question was routed by
//      meaning (the plan's reason names the semantic score), with the
//      sentence model the app bundles and specialist vectors it computed
//      on its first start, into a cache folder of its own;
//   4. a follow-up ("Make it shorter.") asked in the same thread continues
//      the conversation: the thread shows both turns, the second read as a
//      follow-up with the first carried; after a restart the conversation
//      lists two turns and opening it shows both answers; deleted, it is
//      still gone after another restart, and the data folder is private
//      (0700);
//   5. on-device only, the app opened no internet socket: its first run
//      (start, onboarding, check 1's question, check 4's deletion) runs
//      under strace, and no AF_INET/AF_INET6 socket appears in the trace
//      but the one WebDriver automation itself needs (see `inetSockets` in
//      processes.mjs);
//      check 6's network run, traced the same way, must show some, or this
//      check proves nothing;
//   2. privacy switched to on-device only survives a restart of the app;
//   3. a specialist installed from a local HTTP server: the progress bar
//      reaches done, verified;
//   6. a network question with planted personal data runs on the peer: the
//      app holds no specialist itself (CHORUS_LOCAL_SPECIALISTS=none), the
//      peer's address is typed into Settings, privacy is "network allowed";
//      the plan card says the part ran on that peer, counts at least the
//      planted values as redacted, and shows the text the peer received,
//      with placeholders and without the values; the peer's own log of
//      what it received (`chorus::served`) has none of the values either;
//   7. Settings → "Local API for other apps" (tests/e2e/local_api.mjs):
//      switched on, it shows a loopback URL and, revealed, a key; without
//      the key the API answers 401, with it the models list has `chorus`;
//      switched off, the address stops answering.
// Every screen is also audited for accessibility at desktop and phone sizes
// with axe-core (ui/'s dev dependency) injected into the real webview: the
// WCAG 2.0/2.1 A and AA rules (labels, names, roles, contrast, …); any
// violation fails the test. With E2E_SCREENSHOTS=DIR it also saves each
// screen at both sizes (docs/screenshots).
//
// Environment:
//   CHORUS_APP             the app binary (required)
//   CHORUS_CLI             the `chorus` binary, run as the serving peer (required)
//   TAURI_DRIVER           tauri-driver (default: tauri-driver on PATH)
//   WEBDRIVER_PORT         tauri-driver's port (default 4444)
//   WEBDRIVER_NATIVE_PORT  WebKitWebDriver's port behind it (default 4445);
//                          two runs on one machine need different ports
//   STRACE                 strace (default /usr/bin/strace)
//   E2E_TIMEOUT_S          longest wait for an answer, seconds (default 300)
//   E2E_SEMANTIC_TIMEOUT_S longest wait for the app's first computation of
//                          the specialist vectors, seconds (default 300)
//   E2E_SCREENSHOTS        a folder to save the screens in (default: none)
//   E2E_DEBUG              log every WebDriver call

import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ended, inetSockets, launcher, plain, squeezed, startPeer } from './processes.mjs';
import { localApi } from './local_api.mjs';

// This file is tests/e2e/app.e2e.mjs: the repository is two folders up.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PORT = Number(process.env.WEBDRIVER_PORT ?? 4444);
const NATIVE_PORT = Number(process.env.WEBDRIVER_NATIVE_PORT ?? 4445);
const DRIVER = `http://127.0.0.1:${PORT}`;
const APP = process.env.CHORUS_APP;
const CLI = process.env.CHORUS_CLI;
const STRACE = process.env.STRACE ?? '/usr/bin/strace';
const MODEL = join(ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const ANSWER_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_S ?? 300) * 1000;
const SEMANTIC_TIMEOUT_MS = Number(process.env.E2E_SEMANTIC_TIMEOUT_S ?? 300) * 1000;
const SHOTS = process.env.E2E_SCREENSHOTS ? resolve(process.env.E2E_SCREENSHOTS) : null;
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const INSTALL_ID = 'loopback-e2e';
const AXE = join(ROOT, 'ui', 'node_modules', 'axe-core', 'axe.min.js');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const SIZES = [
  ['desktop', 1280, 800],
  ['phone', 390, 844],
];
/** Accessibility violations found so far, reported together at the end. */
const violations = [];

/** The specialist the peer serves: where a question no keyword routes goes. */
const PEER_SPECIALIST = 'general.assistant';
/** Personal data planted in the network question, as typed. */
const PLANTED = [
  ['email', 'sam.lee@example.com'],
  ['phone', '+44 7911 123456'],
];
/**
 * Check 1's question: a pastry question that semantic routing sends to a
 * specialist by meaning (its reason reads "food.pastry: semantic 0.52 + …").
 */
const SEMANTIC_QUESTION = 'How do I temper chocolate so that it sets glossy and snaps?';
// Check 4's follow-up: it changes the last answer without naming it.
const FOLLOW_UP = 'Make it shorter.';

/** A short question with no specialist's keywords: general.assistant answers it. */
const NETWORK_QUESTION = `Write a one-line thank-you note to ${PLANTED[0][1]}, phone ${PLANTED[1][1]}.`;
/** The placeholders the peer must see instead. */
const PLACEHOLDERS = ['[EMAIL_1]', '[PHONE_1]'];

if (!APP || !CLI) {
  console.error('CHORUS_APP must name the app binary, CHORUS_CLI the chorus binary');
  process.exit(2);
}
if (!existsSync(STRACE)) {
  console.error(`no strace at ${STRACE} (scripts/setup.sh installs it; STRACE names another)`);
  process.exit(2);
}

// ---------------------------------------------------------------- WebDriver

async function wd(method, path, body) {
  if (process.env.E2E_DEBUG) console.log(`[wd] ${method} ${path} ${body === undefined ? '' : JSON.stringify(body).slice(0, 200)}`);
  const response = await fetch(`${DRIVER}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    // No WebDriver call takes a minute (waits are polling loops): a hung one fails.
    signal: AbortSignal.timeout(60_000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (!response.ok || (json.value && json.value.error)) {
    const error = json.value ?? {};
    const failure = new Error(`${method} ${path}: ${error.error ?? response.status}: ${error.message ?? text.slice(0, 300)}`);
    failure.code = error.error;
    throw failure;
  }
  return json.value;
}

class Session {
  /** Starts the app: `APP`, or a launcher of it (see `launcher` in processes.mjs). */
  static async start(application = APP) {
    const value = await wd('POST', '/session', {
      capabilities: { alwaysMatch: { 'tauri:options': { application } } },
    });
    const session = new Session(value.sessionId);
    return session;
  }

  constructor(id) {
    this.id = id;
  }

  path(rest) {
    return `/session/${this.id}${rest}`;
  }

  async find(testid) {
    const value = await wd('POST', this.path('/element'), {
      using: 'css selector',
      value: `[data-testid="${testid}"]`,
    });
    return value[ELEMENT];
  }

  async maybe(testid) {
    const value = await wd('POST', this.path('/elements'), {
      using: 'css selector',
      value: `[data-testid="${testid}"]`,
    });
    return value.length > 0 ? value[0][ELEMENT] : null;
  }

  async click(testid) {
    const element = await this.waitFor(testid);
    await wd('POST', this.path(`/element/${element}/click`), {});
  }

  async type(testid, text) {
    const element = await this.waitFor(testid);
    await wd('POST', this.path(`/element/${element}/value`), { text });
  }

  async attribute(testid, name) {
    const element = await this.find(testid);
    return wd('GET', this.path(`/element/${element}/attribute/${name}`));
  }

  async property(testid, name) {
    const element = await this.find(testid);
    return wd('GET', this.path(`/element/${element}/property/${name}`));
  }

  async text(testid) {
    const element = await this.find(testid);
    return wd('GET', this.path(`/element/${element}/text`));
  }

  async script(source, ...args) {
    return wd('POST', this.path('/execute/sync'), { script: source, args });
  }

  /** Waits until the element exists and, if given, `check(element)` holds. */
  async waitFor(testid, check, timeoutMs = 30_000, what = testid) {
    const deadline = Date.now() + timeoutMs;
    let last = 'not found';
    while (Date.now() < deadline) {
      try {
        const element = await this.maybe(testid);
        if (element) {
          if (!check) return element;
          const ok = await check(element);
          if (ok) return element;
          last = 'present, condition not met';
        }
      } catch (error) {
        last = String(error.message ?? error);
      }
      await sleep(250);
    }
    const page = await this.script('return document.body.innerText').catch(() => '?');
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last}); the page reads:\n${page.slice(0, 2000)}`);
  }

  /** Waits until `check()` holds (polling, like `waitFor`). */
  async until(check, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    let last = 'not yet';
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (error) {
        last = String(error.message ?? error);
      }
      await sleep(250);
    }
    const page = await this.script('return document.body.innerText').catch(() => '?');
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last}); the page reads:\n${page.slice(0, 2000)}`);
  }

  async attributeIs(testid, name, expected, timeoutMs) {
    return this.waitFor(
      testid,
      async (element) => (await wd('GET', this.path(`/element/${element}/attribute/${name}`))) === expected,
      timeoutMs,
      `${testid}[${name}="${expected}"]`,
    );
  }

  async go(screen) {
    await this.click(`nav-${screen}`);
    await this.attributeIs(`nav-${screen}`, 'aria-current', 'page');
  }

  /**
   * Saves the window at desktop and phone sizes. WebDriver resizes it; the
   * X server takes the picture (`import` from ImageMagick): WebKitWebDriver's
   * own screenshot waits for a frame that a window larger than a phone
   * under Xvfb never delivers.
   */
  async screenshot(name, { save = true } = {}) {
    for (const [size, width, height] of SIZES) {
      await wd('POST', this.path('/window/rect'), { x: 0, y: 0, width, height });
      await sleep(800);
      await this.audit(`${name} (${size})`);
      if (SHOTS && save) grab(join(SHOTS, `${name}-${size}.png`), width, height);
    }
    await wd('POST', this.path('/window/rect'), { x: 0, y: 0, width: 1280, height: 800 });
  }

  /** Runs axe-core on the page as it is; records what it finds. */
  async audit(what) {
    if (!(await this.script('return typeof window.axe')).startsWith('object')) {
      await this.script(`${readFileSync(AXE, 'utf8')}\n;return typeof window.axe`);
    }
    const result = await wd('POST', this.path('/execute/async'), {
      script: `const done = arguments[arguments.length - 1];
        window.axe
          .run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
          .then((r) => done(JSON.stringify({ passes: r.passes.length, violations: r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' — ' + n.failureSummary.replace(/\s+/g, ' ')),
          })) })))
          .catch((e) => done(JSON.stringify({ error: String(e) })));`,
      args: [AXE_TAGS],
    });
    const report = JSON.parse(result);
    assert(!report.error, `axe-core failed on ${what}: ${report.error}`);
    assert(report.passes > 0, `axe-core checked nothing on ${what}`);
    for (const v of report.violations) violations.push({ where: what, ...v });
    console.log(`[e2e] accessibility of ${what}: ${report.violations.length} violation(s), ${report.passes} rules passed`);
  }

  async stop() {
    await wd('DELETE', this.path('')).catch(() => {});
  }
}

/** The top-left `width`×`height` of the X screen, as PNG. */
function grab(path, width, height) {
  execFileSync('import', ['-window', 'root', '-crop', `${width}x${height}+0+0`, '+repage', path], { stdio: 'ignore' });
}

function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

// ------------------------------------------------- a model server on loopback

/** Serves the GGUF at /model.gguf with ranges, slowly enough that progress shows. */
function serveModel(body) {
  const server = createServer((request, response) => {
    if (request.url !== '/model.gguf') {
      response.writeHead(404).end();
      return;
    }
    const range = /bytes=(\d+)-/.exec(request.headers.range ?? '');
    const start = range ? Math.min(Number(range[1]), body.length) : 0;
    const headers = { 'content-length': body.length - start, 'accept-ranges': 'bytes' };
    if (start > 0) headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    response.writeHead(start > 0 ? 206 : 200, headers);
    // 8 MiB every 100 ms: about a second for the 94 MiB model.
    let offset = start;
    const chunk = 8 * 1024 * 1024;
    const pump = () => {
      if (offset >= body.length) {
        response.end();
        return;
      }
      const end = Math.min(offset + chunk, body.length);
      response.write(body.subarray(offset, end));
      offset = end;
      setTimeout(pump, 100);
    };
    pump();
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

/** The bundled catalog plus one base model served from 127.0.0.1. */
function loopbackCatalog(dir, port, body) {
  const catalog = JSON.parse(readFileSync(join(ROOT, 'models', 'catalog.json'), 'utf8'));
  const template = catalog.base_models.find((base) => base.embedded);
  catalog.base_models.push({
    ...template,
    id: INSTALL_ID,
    name: 'Loopback test model',
    file_name: `${INSTALL_ID}.gguf`,
    sha256: createHash('sha256').update(body).digest('hex'),
    size_bytes: body.length,
    embedded: false,
    source: { kind: 'url', url: `http://127.0.0.1:${port}/model.gguf` },
  });
  const path = join(dir, 'catalog.json');
  writeFileSync(path, JSON.stringify(catalog, null, 2));
  return path;
}

// -------------------------------------------------------------- tauri-driver

/** Starts tauri-driver with the app's environment and waits until it answers. */
async function startDriver(env, cwd) {
  const { CHORUS_MODELS_DIR: _unused, ...inherited } = process.env;
  const args = ['--port', String(PORT), '--native-port', String(NATIVE_PORT)];
  const driver = spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', args, {
    // In the work folder, so no ./models is found either.
    cwd,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = null;
  driver.on('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`tauri-driver exited with ${exited}`);
    try {
      const response = await fetch(`${DRIVER}/status`);
      if (response.ok) return driver;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  driver.kill();
  throw new Error('tauri-driver did not answer within 30 s');
}

// -------------------------------------------------------------------- checks

async function skipOnboarding(session) {
  // First start: onboarding. Its screenshot, then skip it.
  await session.waitFor('onboarding-skip');
  await session.screenshot('onboarding');
  await session.click('onboarding-skip');
  await session.waitFor('privacy-indicator');
}

async function setPrivacy(session, privacy) {
  await session.go('settings');
  if (await session.property(`settings-privacy-${privacy}`, 'checked')) {
    await session.attributeIs('privacy-indicator', 'data-privacy', privacy);
    return;
  }
  await session.click(`settings-privacy-${privacy}`);
  await session.waitFor('settings-status', async () => (await session.text('settings-status')).includes('Saved.'), 30_000, 'settings-status "Saved."');
  await session.attributeIs('privacy-indicator', 'data-privacy', privacy);
}

/**
 * Waits (bounded) until the app has computed and cached its specialist
 * vectors in `cache` (`$CHORUS_CACHE/semantic/<key>.f32`): on a fresh cache
 * that takes tens of seconds of the first start, more than `ask`'s own wait
 * may cover on a busy machine.
 */
async function semanticReady(cache) {
  const folder = join(cache, 'semantic');
  const started = Date.now();
  while (Date.now() - started < SEMANTIC_TIMEOUT_MS) {
    if (existsSync(folder) && readdirSync(folder).some((name) => name.endsWith('.f32'))) {
      console.log(`[e2e] specialist vectors cached after ${Math.round((Date.now() - started) / 1000)} s more`);
      return;
    }
    await sleep(500);
  }
  throw new Error(`the app cached no specialist vectors in ${folder} within ${SEMANTIC_TIMEOUT_MS / 1000} s`);
}

async function askOnDevice(session, cache) {
  await semanticReady(cache);
  const answer = await ask(session, SEMANTIC_QUESTION, true);
  assert((await session.attribute('plan-card-0', 'data-state')) === 'done', 'plan card 0 is done');
  assert((await session.attribute('plan-card-0', 'data-executor')) === 'local', 'plan card 0 ran on this device');
  const reason = await session.text('plan-kind');
  assert(/semantic \d\.\d\d/.test(reason), `the question was routed by meaning: the plan reads "${reason}"`);
  const tokens = await session.text('plan-card-tokens-0');
  console.log(`[e2e] plan: ${reason}`);
  console.log(`[e2e] answer (${answer.length} chars): ${answer.slice(0, 120).replace(/\n/g, ' ')}; card 0 tokens: ${tokens}`);
  await session.screenshot('chat');
}

/** Types the peer's address into Settings → Bootstrap peers and waits until it is saved. */
async function addBootstrapPeer(session, address) {
  await session.go('settings');
  await session.type('settings-bootstrap', address);
  // The textarea saves on change, which fires when it loses the focus.
  await session.script('document.querySelector(\'[data-testid="settings-bootstrap"]\').blur()');
  await session.waitFor('settings-status', async () => (await session.text('settings-status')).includes('Saved.'), 30_000, 'settings-status "Saved."');
  assert(!(await session.maybe('settings-bootstrap-error')), `the address was refused: ${address}`);
}

/** Asks `question` with the chat's own switch as `onDeviceOnly`; waits for the end; returns the answer. */
async function ask(session, question, onDeviceOnly) {
  await session.go('chat');
  if ((await session.property('chat-privacy-toggle', 'checked')) !== onDeviceOnly) await session.click('chat-privacy-toggle');
  assert((await session.property('chat-privacy-toggle', 'checked')) === onDeviceOnly, `the chat's on-device switch is ${onDeviceOnly ? 'on' : 'off'}`);
  await session.type('question-input', question);
  await session.click('send-button');
  await session.attributeIs('chat-status', 'data-status', 'running', 30_000).catch(() => {});
  await session.waitFor(
    'chat-status',
    async () => ['done', 'error'].includes(await session.attribute('chat-status', 'data-status')),
    ANSWER_TIMEOUT_MS,
    'the query to end',
  );
  const status = await session.attribute('chat-status', 'data-status');
  if (status !== 'done') {
    const error = await session.text('chat-error').catch(() => '?');
    throw new Error(`the query ended with an error: ${error}`);
  }
  const answer = (await session.text('answer')).trim();
  assert(answer.length > 0, 'the answer has text');
  await openLatestPlan(session);
  return answer;
}

/** Opens the plan of the thread's latest turn (a finished turn's plan is collapsed). */
async function openLatestPlan(session) {
  const toggle = await session.script(
    'const all = [...document.querySelectorAll(\'[data-testid^="turn-plan-toggle-q"]\')]; return all.length ? all[all.length - 1].getAttribute("data-testid") : null',
  );
  assert(toggle, 'the latest turn has a plan toggle');
  if ((await session.attribute(toggle, 'aria-expanded')) === 'false') await session.click(toggle);
  await session.attributeIs(toggle, 'aria-expanded', 'true', 10_000);
}

/**
 * Check 6, the requester's side: the network question's part ran on the
 * peer, and its plan card says so, counts the redactions and shows the text
 * the peer received, with placeholders and without the planted values.
 */
async function askThroughPeer(session, peer) {
  await addBootstrapPeer(session, peer.address);
  await setPrivacy(session, 'network');
  await session.go('network');
  await session.attributeIs('network-running', 'data-running', 'true', 30_000);
  // A new conversation: a question read as a follow-up stays on this device.
  await session.go('chat');
  await session.click('new-conversation');
  const answer = await ask(session, NETWORK_QUESTION, false);
  assert((await session.attribute('plan-card-0', 'data-state')) === 'done', 'plan card 0 is done');
  assert(!(await session.maybe('plan-card-1')), 'the question has one part');
  const executor = await session.attribute('plan-card-0', 'data-executor');
  assert(executor === peer.peerId, `plan card 0 ran on the peer ${peer.peerId}, not on ${executor}`);
  assert((await session.attribute('plan-card-where-0', 'data-where')) === 'peer', 'plan card 0 says the part left the device');
  const where = await session.text('plan-card-where-0');
  // It names the peer as the UI shortens its id: "Ran on peer 12D3KooWNM…g3SN2".
  const named = await session.text('plan-card-executor-0');
  assert(
    named.startsWith('peer ') && named.includes(peer.peerId.slice(0, 10)) && named.includes(peer.peerId.slice(-5)),
    `plan card 0 names the peer ${peer.peerId}: ${where}`,
  );
  const redacted = Number(await session.attribute('plan-card-redacted-0', 'data-redacted'));
  assert(redacted >= PLANTED.length, `the card counts ${redacted} redactions for ${PLANTED.length} planted values: ${where}`);
  // The exact text the peer received is hidden until asked for.
  assert((await session.attribute('plan-card-sent-0', 'hidden')) !== null, 'what the peer saw starts hidden');
  await session.click('plan-card-sent-toggle-0');
  await session.attributeIs('plan-card-sent-toggle-0', 'aria-expanded', 'true', 10_000);
  const sent = await session.text('plan-card-sent-prompt-0-1');
  const system = await session.text('plan-card-sent-system-0-1');
  for (const placeholder of PLACEHOLDERS) assert(sent.includes(placeholder), `the sent text shows ${placeholder}: ${sent}`);
  for (const [kind, value] of PLANTED) {
    for (const text of [sent, system]) {
      assert(!text.includes(value) && !squeezed(text).includes(squeezed(value)), `the ${kind} ${value} is in the text shown as sent: ${text}`);
    }
  }
  // Where the peer wrote a placeholder back, the person reads the value.
  for (const placeholder of PLACEHOLDERS) assert(!answer.includes(placeholder), `${placeholder} reached the answer: ${answer}`);
  console.log(`[e2e] plan card 0: "${where.replace(/\s+/g, ' ')}"; the peer saw: ${sent}`);
  await session.screenshot('chat, a part sent to a peer', { save: false });
}

/**
 * Check 6, the receiving side: the peer's own log of every task it
 * received has this question's, with placeholders and none of the values.
 */
function peerReceived(peer) {
  // `… task received requester=… specialist=… texts=["system", "prompt"]`
  const received = plain(readFileSync(peer.log, 'utf8'))
    .split('\n')
    .filter((line) => line.includes('task received') && line.includes('texts='))
    .map((line) => line.slice(line.indexOf('texts=')));
  assert(received.length >= 1, `the peer logged no task received:\n${readFileSync(peer.log, 'utf8').slice(-2000)}`);
  const all = received.join('\n');
  for (const [kind, value] of PLANTED) {
    assert(!all.includes(value) && !squeezed(all).includes(squeezed(value)), `the peer received the ${kind} ${value}:\n${all}`);
  }
  for (const placeholder of PLACEHOLDERS) assert(all.includes(placeholder), `the peer's log lacks ${placeholder}, so it does not show what was sent:\n${all}`);
  console.log(`[e2e] the peer logged ${received.length} task(s) received, with ${PLACEHOLDERS.join(' and ')} and none of the planted values`);
}

/** The id (`q1`) of the conversation on screen in the chat, once it has one. */
async function currentConversation(session) {
  await session.go('chat');
  await session.until(async () => Boolean(await session.maybe('thread')), 30_000, 'the thread');
  const id = await session.attribute('thread', 'data-conversation');
  assert(id && /^q\d+$/.test(id), `the thread names its conversation: ${id}`);
  return id;
}

/**
 * Check 4, the conversation: a follow-up asked in the thread of `first`
 * continues it, read as a follow-up; the thread shows both turns.
 * Returns the follow-up's id.
 */
async function followUp(session, first) {
  const answer = await ask(session, FOLLOW_UP, true);
  const turns = await session.script(
    'return [...document.querySelectorAll(\'[data-testid^="turn-q"]\')].map((e) => e.getAttribute("data-testid")).filter((t) => /^turn-q\\d+$/.test(t))',
  );
  assert(turns.length === 2 && turns[0] === `turn-${first}`, `the thread shows two turns, ${first} first: ${turns}`);
  const second = turns[1].slice('turn-'.length);
  assert((await session.attribute(`turn-context-${second}`, 'data-follow-up')) === 'true', `${second} was read as a follow-up`);
  assert((await session.attribute(`turn-context-${second}`, 'data-carried')) === '1', `${second} was answered with the last turn`);
  console.log(`[e2e] ${second} continued ${first}: "${(await session.text(`turn-context-${second}`)).replace(/\s+/g, ' ')}"; answer: ${answer.slice(0, 80)}`);
  return second;
}

/** After a restart: the conversation `id` lists two turns, and opening it shows both with their answers. */
async function conversationKept(session, id, second) {
  await session.go('chat');
  await session.attributeIs(`conversation-item-${id}`, 'data-turns', '2', 30_000);
  await session.click(`conversation-item-${id}`);
  for (const turn of [id, second]) {
    await session.waitFor(`turn-answer-${turn}`, async () => (await session.text(`turn-answer-${turn}`)).trim().length > 0, 30_000, `the answer of ${turn}`);
  }
  assert((await session.text(`turn-question-${second}`)).includes(FOLLOW_UP), `${second} shows its question`);
  await session.audit('chat, a conversation of two turns');
  console.log(`[e2e] after a restart, conversation ${id} shows ${id} and ${second} with their answers`);
}

/** Deletes conversation `id` from the chat's list, confirming, and waits until it is gone. */
async function deleteConversation(session, id) {
  await session.go('chat');
  await session.attributeIs(`conversation-item-${id}`, 'data-status', 'done', 30_000);
  await session.click(`conversation-delete-${id}`);
  await session.waitFor(`conversation-delete-confirm-${id}`);
  await session.audit('chat, confirming a deletion');
  await session.click(`conversation-delete-confirm-${id}`);
  await session
    .until(async () => !(await session.maybe(`conversation-item-${id}`)), 30_000, `conversation-item-${id} to be gone`)
    .catch(async (error) => {
      const failure = await session.maybe('conversation-error');
      throw failure ? new Error(`the deletion failed: ${await session.text('conversation-error')}`) : error;
    });
  console.log(`[e2e] conversation ${id} deleted`);
}

/** After a restart: the conversations have loaded and `id` is not among them; `dataDir` is private. */
async function stillDeleted(session, id, dataDir) {
  await session.go('chat');
  await session.until(
    async () => Boolean((await session.maybe('conversation-list')) || (await session.maybe('conversations-empty'))),
    30_000,
    'the conversations to load',
  );
  // The list loads once; give a late answer a moment to show up.
  await sleep(1000);
  assert(!(await session.maybe(`conversation-item-${id}`)), `${id} came back after a restart`);
  const mode = statSync(dataDir).mode & 0o777;
  assert(mode === 0o700, `the data folder is private (mode ${mode.toString(8)}, expected 700)`);
  // Without CHORUS_CONFIG_DIR the settings live in the data folder; they
  // hold the private names, so the file is the owner's alone.
  const settings = join(dataDir, 'settings.json');
  const settingsMode = statSync(settings).mode & 0o777;
  assert(settingsMode === 0o600, `settings.json is private (mode ${settingsMode.toString(8)}, expected 600)`);
  console.log(`[e2e] ${id} is still gone after a restart; the data folder is 0700, settings.json 0600`);
}

/**
 * The keyboard alone reaches the navigation and the question box (Tab),
 * and Enter on a navigation item opens its screen.
 */
async function keyboardOnly(session) {
  const TAB = '\uE004';
  const ENTER = '\uE007';
  const press = (key) =>
    wd('POST', session.path('/actions'), {
      actions: [{ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value: key }, { type: 'keyUp', value: key }] }],
    });
  const focused = () =>
    session.script('const e = document.activeElement; return e ? e.getAttribute("data-testid") || e.id || e.tagName : ""');
  await session.go('chat');
  await session.script('document.activeElement && document.activeElement.blur()');
  const seen = [];
  for (let i = 0; i < 40 && !seen.includes('question-input'); i++) {
    await press(TAB);
    seen.push(await focused());
  }
  for (const needed of ['nav-chat', 'nav-models', 'nav-network', 'nav-settings', 'question-input']) {
    assert(seen.includes(needed), `Tab never reached ${needed}; it went ${seen.join(' → ')}`);
  }
  await session.script('document.activeElement && document.activeElement.blur()');
  for (let i = 0; i < 40 && (await focused()) !== 'nav-models'; i++) await press(TAB);
  assert((await focused()) === 'nav-models', 'Tab reaches nav-models again');
  await press(ENTER);
  await session.attributeIs('nav-models', 'aria-current', 'page', 10_000);
  console.log(`[e2e] keyboard only: Tab went ${seen.join(' → ')}; Enter opened models`);
}

async function install(session) {
  await session.go('models');
  await session.waitFor(`model-install-${INSTALL_ID}`);
  assert((await session.attribute(`model-row-${INSTALL_ID}`, 'data-installed')) === 'false', 'not installed yet');
  await session.click(`model-install-${INSTALL_ID}`);
  const bar = `download-progress-${INSTALL_ID}`;
  await session.waitFor(bar, undefined, 30_000);
  await session.attributeIs(bar, 'data-state', 'done', 120_000);
  const value = await session.property(bar, 'value');
  assert(Number(value) === 100, `the bar is full (value ${value})`);
  await session.attributeIs(`download-verified-${INSTALL_ID}`, 'data-verified', 'true', 10_000);
  await session.attributeIs(`model-row-${INSTALL_ID}`, 'data-installed', 'true', 30_000);
  await session.screenshot('models');
}

// ---------------------------------------------------------------------- main

/** Check 5: the on-device run's trace has no internet socket but automation's; the network run's has. */
function noSocketOnDevice(onDevice, network, peer) {
  const quiet = inetSockets(onDevice);
  const loud = inetSockets(network);
  console.log(
    `[e2e] internet sockets, on-device only: ${quiet.automation.length} of WebDriver automation (${quiet.server}), ${quiet.other.length} other; ` +
      `network allowed: ${loud.automation.length} of automation, ${loud.other.length} other`,
  );
  // The control first: without it, an empty trace would pass.
  assert(quiet.automation.length > 0, `the on-device trace (${onDevice.trace}) shows not even automation's socket: is strace tracing the app?`);
  assert(
    loud.other.some((line) => line.includes(`sin_port=htons(${peer.port})`)),
    `the network run's trace (${network.trace}) shows no connection to the peer's port ${peer.port}, so the on-device check proves nothing:\n${loud.other.join('\n')}`,
  );
  assert(quiet.other.length === 0, `on-device only, the app opened internet sockets:\n${quiet.other.join('\n')}`);
}

const STARTED = Date.now();
/** Logs the start of a step with the seconds since the test began. */
function step(what) {
  console.log(`[e2e] ${what} (at ${Math.round((Date.now() - STARTED) / 1000)} s)`);
}

const CHECKS = [
  '1. ask with the network off',
  '4. a follow-up continues the conversation, kept across a restart; a deleted conversation stays deleted',
  '2. privacy persists across a restart',
  '3. install a specialist from a local HTTP server',
  '6. a network question runs on the peer, redacted (plan card and peer log)',
  '5. on-device only opens no internet socket',
  '7. the local API for other apps: on, used with its key, off',
];

async function main() {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  const body = readFileSync(MODEL);
  const server = await serveModel(body);
  const work = mkdtempSync(join(tmpdir(), 'chorus-e2e-'));
  const catalog = loopbackCatalog(work, server.address().port, body);
  // What the app keeps goes under `work`: the journal, models and settings.
  const env = {
    CHORUS_CATALOG: catalog,
    CHORUS_DATA_DIR: join(work, 'data'),
    // No models folder is pointed at: the app answers with the model it
    // bundles as a resource (src-tauri/src/bundled.rs), as an installed app does.
    XDG_DATA_HOME: join(work, 'xdg'),
    // The specialist vectors of semantic routing: computed by the app's
    // first start with the sentence model it bundles, not taken from an
    // earlier run's cache.
    CHORUS_CACHE: join(work, 'cache'),
    // The network, when the test turns it on, stays on loopback.
    CHORUS_LISTEN: '/ip4/127.0.0.1/tcp/0',
    CHORUS_NO_MDNS: '1',
  };
  console.log(`[e2e] app ${APP}; work folder ${work}`);
  // The app's first run, on-device only from its first start, under strace (check 5).
  const onDevice = launcher(work, 'on-device', { app: APP, strace: STRACE, trace: true });
  // The network run: no specialist of its own, so the peer runs the part (check 6); traced too.
  const networked = launcher(work, 'network', { app: APP, strace: STRACE, trace: true, env: { CHORUS_LOCAL_SPECIALISTS: 'none' } });
  let peer;
  let driver;
  let session;
  let failed = false;
  const passed = [];
  try {
    peer = await startPeer(work, { cli: CLI, model: MODEL, specialist: PEER_SPECIALIST });
    driver = await startDriver(env, work);
    session = await Session.start(onDevice.path);
    await skipOnboarding(session);

    step(`${CHECKS[0]}`);
    await setPrivacy(session, 'on_device');
    await askOnDevice(session, env.CHORUS_CACHE);
    passed.push(CHECKS[0]);

    step(`${CHECKS[1]}`);
    const asked = await currentConversation(session);
    const second = await followUp(session, asked);
    await session.stop();
    await ended(onDevice);
    session = await Session.start();
    await conversationKept(session, asked, second);
    await deleteConversation(session, asked);
    await session.stop();
    session = await Session.start();
    await stillDeleted(session, asked, env.CHORUS_DATA_DIR);
    passed.push(CHECKS[1]);

    step(`${CHECKS[2]}`);
    // On-device only is the default, so a lost setting would look the same:
    // "network allowed" must survive a restart first, then on-device only.
    await setPrivacy(session, 'network');
    await session.stop();
    session = await Session.start();
    await session.attributeIs('privacy-indicator', 'data-privacy', 'network');
    await session.go('network');
    await session.attributeIs('network-running', 'data-running', 'true', 30_000);
    await session.screenshot('network');
    await session.go('settings');
    await session.screenshot('settings');
    await setPrivacy(session, 'on_device');
    await session.stop();
    session = await Session.start();
    await session.attributeIs('privacy-indicator', 'data-privacy', 'on_device');
    await session.go('settings');
    assert(await session.property('settings-privacy-on_device', 'checked'), 'on-device only is still checked');
    assert(!(await session.property('settings-privacy-network', 'checked')), 'network is not checked');
    passed.push(CHECKS[2]);

    await keyboardOnly(session);

    step(`${CHECKS[3]}`);
    await install(session);
    passed.push(CHECKS[3]);

    step(`${CHECKS[4]}`);
    await session.stop();
    session = await Session.start(networked.path);
    await askThroughPeer(session, peer);
    // Check 7 runs here, where the app may open internet sockets (check 5
    // reads the first run's trace only).
    step(`${CHECKS[6]}`);
    await localApi(session, assert);
    passed.push(CHECKS[6]);
    await session.stop();
    session = null;
    await ended(networked);
    peerReceived(peer);
    passed.push(CHECKS[4]);

    step(`${CHECKS[5]}`);
    noSocketOnDevice(onDevice, networked, peer);
    passed.push(CHECKS[5]);

    console.log(`[e2e] all ${passed.length} of ${CHECKS.length} checks passed`);
    if (violations.length) {
      throw new Error(
        `accessibility violations (axe-core, ${AXE_TAGS.join(', ')}):\n` +
          violations
            .map((v) => `- ${v.where}: ${v.id} (${v.impact}) ${v.help}\n    ${v.nodes.join('\n    ')}`)
            .join('\n'),
      );
    }
    console.log('[e2e] every screen passed the accessibility audit at both sizes');
  } catch (error) {
    failed = true;
    console.error(`[e2e] FAILED: ${error.stack ?? error}`);
    console.error(`[e2e] ${passed.length} of ${CHECKS.length} checks passed before the failure${passed.length ? `: ${passed.join('; ')}` : ''}`);
    try {
      const path = join(work, 'failure.png');
      grab(path, 1280, 900);
      console.error(`[e2e] screenshot of the failure: ${path}`);
    } catch {
      // no picture
    }
  } finally {
    if (session) await session.stop();
    if (driver) driver.kill();
    if (peer) peer.process.kill();
    server.close();
    if (!failed) rmSync(work, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

await main();
