// The processes and traces of the end-to-end test's privacy checks
// (tests/e2e/app.e2e.mjs, checks 5 and 6): a real `chorus serve` peer,
// launchers that start the app with extra environment or under strace, and
// what a trace says about internet sockets.

import { spawn } from 'node:child_process';
import { chmodSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}

// ------------------------------------------------------ a serving peer

/**
 * A real `chorus serve` (the binary `cli`) on loopback, offering
 * `specialist` with `model`, logging what it receives
 * (`chorus::served=debug`) to its stderr file, `<work>/peer.stderr`.
 * Resolves once its `listening` event gives its address.
 */
export async function startPeer(work, { cli, model, specialist }) {
  const log = join(work, 'peer.stderr');
  const args = ['--data-dir', join(work, 'peer'), '--model', model, '--threads', '1'];
  args.push('serve', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--specialists', specialist, '--json');
  const { CHORUS_BOOTSTRAP: _b, CHORUS_DATA_DIR: _d, CHORUS_MODELS_DIR: _m, ...inherited } = process.env;
  const peer = spawn(cli, args, {
    cwd: work,
    env: { ...inherited, RUST_LOG: 'warn,chorus::served=debug' },
    stdio: ['ignore', 'pipe', openSync(log, 'w')],
  });
  const lines = createInterface({ input: peer.stdout });
  const listening = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the peer did not listen within 60 s:\n${readFileSync(log, 'utf8').slice(-2000)}`)), 60_000);
    peer.on('exit', (code) => fail(new Error(`the peer exited with ${code}:\n${readFileSync(log, 'utf8').slice(-2000)}`)));
    lines.on('line', (line) => {
      const event = JSON.parse(line);
      if (event.event === 'listening') {
        clearTimeout(timer);
        done(event);
      }
    });
  });
  peer.removeAllListeners('exit');
  assert(JSON.stringify(listening.specialists) === JSON.stringify([specialist]), `the peer serves ${listening.specialists}`);
  const address = listening.addresses.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'));
  assert(address && address.endsWith(`/p2p/${listening.peer_id}`), `a loopback address in ${JSON.stringify(listening)}`);
  console.log(`[e2e] peer ${listening.peer_id} serves ${specialist} at ${address}`);
  return { process: peer, peerId: listening.peer_id, address, port: Number(address.split('/')[4]), log };
}

/** `text` without ANSI colour sequences, as the peer's log writes them. */
export function plain(text) {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** Digits and letters only, lowercase: "+44 7911 123456" and "447911123456" are one value. */
export function squeezed(text) {
  return text.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
}

// ------------------------------------------------------------ launchers

/**
 * A shell script WebKitWebDriver starts instead of the app binary `app`: it
 * sets `env`, notes its own pid and the environment WebDriver automation
 * gave it (the WEBKIT_* variables), and, with `trace`, runs the app under
 * `strace -f` (the binary `strace`) recording every socket, bind, connect
 * and listen of the app, its threads and the WebKit processes it starts
 * (and execve, so that whoever reads a trace a failed run kept can tell
 * those processes apart). `-D` keeps the app itself the process
 * WebKitWebDriver started (strace runs as a detached grandchild):
 * WebKitWebDriver kills that process when its session ends, and killing
 * strace instead would leave the app running, untraced, with its journal
 * open.
 */
export function launcher(work, name, { app, strace: straceBinary, env = {}, trace = false }) {
  const path = join(work, `${name}.sh`);
  const files = { trace: join(work, `${name}.strace`), pid: join(work, `${name}.pid`), env: join(work, `${name}.env`) };
  const quote = (text) => `'${String(text).replace(/'/g, `'\\''`)}'`;
  const exports = Object.entries(env).map(([key, value]) => `export ${key}=${quote(value)}\n`).join('');
  const strace = trace
    ? `${quote(straceBinary)} -D -f -q --seccomp-bpf -e trace=socket,bind,connect,listen,execve -o ${quote(files.trace)} `
    : '';
  writeFileSync(
    path,
    `#!/bin/sh\n${exports}echo $$ > ${quote(files.pid)}\nenv | grep '^WEBKIT' > ${quote(files.env)}\nexec ${strace}${quote(app)} "$@"\n`,
  );
  chmodSync(path, 0o755);
  return { path, ...files };
}

/**
 * The socket calls of a launcher's strace output, each `{ pid, call, args,
 * ret, line }` (`pid` is the thread's id; a call another thread
 * interrupted, `… <unfinished ...>` then `<... call resumed> …`, is joined).
 * strace pads the pid to a width of five, so a shorter pid is followed by
 * more than one space.
 */
function tracedCalls(file) {
  const calls = [];
  const pending = new Map();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    let match = /^(\d+) +(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (match) {
      pending.set(match[1], { pid: match[1], call: match[2], args: match[3], line });
      continue;
    }
    match = /^(\d+) +<\.\.\. (\w+) resumed>(.*)\) += (.*)$/.exec(line);
    if (match && pending.has(match[1])) {
      const start = pending.get(match[1]);
      pending.delete(match[1]);
      calls.push({ ...start, args: start.args + match[3], ret: match[4], line: `${start.line} … ${line}` });
      continue;
    }
    match = /^(\d+) +(\w+)\((.*)\) += (.*)$/.exec(line);
    if (match) calls.push({ pid: match[1], call: match[2], args: match[3], ret: match[4], line });
  }
  return calls.filter((call) => ['socket', 'bind', 'connect', 'listen'].includes(call.call));
}

/**
 * The internet sockets of a trace (AF_INET, AF_INET6), split into those of
 * WebDriver automation and the others.
 *
 * Under WebDriver, WebKitGTK runs its remote inspector: WebKitWebDriver
 * starts the app with WEBKIT_INSPECTOR_SERVER=127.0.0.1:<port>, the app's
 * main (UI) thread listens there, and the app and its WebKitWebProcess
 * connect to it; WebKitWebDriver drives the page through it. A socket
 * counts as automation's only when the same thread's next bind or connect
 * on it is to exactly that address. Every other AF_INET/AF_INET6 socket,
 * and every bind or connect to any other internet address, is "other": the
 * node's, or anything else the app or WebKit opened. Unix sockets (X11,
 * D-Bus, nscd) and netlink (the network process watching routes) stay on
 * the machine and are not counted. What runs outside the traced tree (the
 * X server, WebKitWebDriver, tauri-driver) is not in the trace.
 */
export function inetSockets(launch) {
  const server = /^WEBKIT_INSPECTOR_SERVER=(.*)$/m.exec(readFileSync(launch.env, 'utf8'))?.[1];
  assert(server, `WebDriver gave the app no WEBKIT_INSPECTOR_SERVER (${launch.env}), so automation's socket cannot be told apart`);
  const [host, port] = [server.slice(0, server.lastIndexOf(':')), server.slice(server.lastIndexOf(':') + 1)];
  const inet = /sa_family=AF_INET6?\b/;
  const isAutomation = (args) => args.includes(`sin_port=htons(${port})`) && args.includes(`inet_addr("${host}")`);
  const calls = tracedCalls(launch.trace);
  const automation = [];
  const other = [];
  const paired = new Set();
  calls.forEach((call, i) => {
    if (call.call === 'socket' && /^AF_INET6?,/.test(call.args)) {
      const fd = call.ret.split(' ')[0];
      const use = calls.slice(i + 1).find((next) => next.pid === call.pid && ['bind', 'connect'].includes(next.call) && next.args.startsWith(`${fd},`));
      if (use) paired.add(use);
      (use && isAutomation(use.args) ? automation : other).push(use ? `${call.line}\n    ${use.line}` : call.line);
    } else if (['bind', 'connect'].includes(call.call) && inet.test(call.args) && !isAutomation(call.args) && !paired.has(call)) {
      other.push(call.line);
    }
  });
  return { server, automation, other, calls: calls.length };
}

/** Whether process `pid` has ended (gone, or a zombie not reaped yet). */
function gone(pid) {
  try {
    // "pid (comm) S …": the state follows the command's closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return ['Z', 'X'].includes(stat.charAt(stat.lastIndexOf(')') + 2));
  } catch {
    return true;
  }
}

/** The live processes whose command line mentions `text`. */
function processesWith(text) {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && !gone(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}

/**
 * Waits until the app a launcher started has ended (WebKitWebDriver kills
 * it when its session is deleted) and, when traced, until strace has
 * followed the last of its processes and ended: the trace is then whole.
 */
export async function ended(launch, timeoutMs = 60_000) {
  const pid = readFileSync(launch.pid, 'utf8').trim();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone(pid) && processesWith(launch.trace).length === 0) return;
    await sleep(200);
  }
  throw new Error(`the app (pid ${pid}) or its strace did not end within ${timeoutMs} ms of its session`);
}
