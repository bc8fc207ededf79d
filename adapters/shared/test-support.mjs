// test-support.mjs: the helpers both Node adapters' own tests (adapters/*/test/) share. Owns
// a dev server per test (the harness's FAPI emulator and backend over HTTP, `cargo xtask
// serve`, on an ephemeral port, killed at the end) and a driver process spoken to over its
// stdin/stdout exactly as the harness does, every wait bounded. Each adapter's own
// test-support.mjs names its folder (whose driver.mjs the Driver runs) and re-exports these.
//
// Node built-ins only: adapters/shared/ has no node_modules of its own.
//
// Env: SESSION_HARNESS_SERVE  command that starts the dev server (default: `cargo xtask serve`
//      from the repository root; CARGO_TARGET_DIR is passed through).

import { spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '..', '..');
/** The harness epoch in Unix ms (harness/src/model/time.rs). */
export const EPOCH_UNIX_MS = 1_767_225_600_000;
/** First build of xtask on a cold target dir may take minutes. */
const SERVE_TIMEOUT_MS = 900_000;
const REPLY_TIMEOUT_MS = 20_000;

/** Reads `stream` line by line into a queue; `next(ms)` waits for the next line. */
function lines(stream) {
  const queue = [];
  const waiters = [];
  let buffered = '';
  let ended = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffered += chunk;
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (waiters.length) waiters.shift().resolve(line);
      else queue.push(line);
    }
  });
  stream.on('end', () => {
    ended = true;
    while (waiters.length) waiters.shift().reject(new Error('stream ended'));
  });
  return {
    next(ms, what) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (ended) return Promise.reject(new Error(`stream ended before ${what}`));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
        waiters.push({
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
  };
}

/**
 * A fresh dev server: `{fapiUrl, backendUrl, adminUrl, publishableKey, stop()}`. A fixed
 * `port` is retried for a while: the previous server on it may still be letting it go.
 */
export async function startServer(port = 0) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startServerOnce(port);
    } catch (e) {
      if (port === 0 || attempt >= 30 || !/Address already in use/.test(e.message)) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function startServerOnce(port) {
  const command = process.env.SESSION_HARNESS_SERVE ?? 'cargo xtask serve';
  const child = spawn('sh', ['-c', `exec ${command} --port ${port} --clock manual --start 0s`], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: `cargo xtask serve` runs the server as cargo's child, and
    // killing cargo alone would leave the server running.
    detached: true,
  });
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr = (stderr + c).slice(-4000);
  });
  const out = lines(child.stdout);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const banner = {};
  try {
    for (;;) {
      const line = await out.next(SERVE_TIMEOUT_MS, 'dev server banner');
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) banner[m[1]] = m[2];
      if (banner.HARNESS_ADMIN_URL) break;
    }
  } catch (e) {
    kill();
    await exited;
    throw new Error(`${e.message}; dev server stderr:\n${stderr}`);
  }
  const proxy = banner.EXPO_PUBLIC_CLERK_PROXY_URL;
  return {
    fapiUrl: proxy,
    backendUrl: banner.HARNESS_API_URL.replace(/\/+$/, ''),
    adminUrl: banner.HARNESS_ADMIN_URL,
    publishableKey: banner.EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY,
    /** Kills the server and waits until it is gone (its port free again). */
    stop() {
      kill();
      return exited;
    },
  };
}

/** A loopback port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** One admin API call on the dev server: `{status, body}`. */
export async function admin(server, method, path, body) {
  const response = await fetch(`${server.adminUrl}${path}`, {
    method,
    // The admin API takes JSON only (a browser cannot send it cross-origin unasked).
    headers: method === 'GET' ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The driver of the adapter in `adapterDir` (its driver.mjs), as the harness runs it. */
export class Driver {
  constructor(adapterDir, env = {}) {
    this.child = spawn(process.execPath, ['--conditions=react-native', join(adapterDir, 'driver.mjs')], {
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.stderr = '';
    this.child.stderr.on('data', (c) => {
      this.stderr = (this.stderr + c).slice(-8000);
    });
    this.out = lines(this.child.stdout);
    /** Every stdout line, in order (the determinism test compares them). */
    this.transcript = [];
    this.nextId = 1;
    this.nextCall = 1;
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  async line(what) {
    try {
      const line = await this.out.next(REPLY_TIMEOUT_MS, what);
      this.transcript.push(line);
      return JSON.parse(line);
    } catch (e) {
      throw new Error(`${e.message}; driver stderr:\n${this.stderr}`);
    }
  }

  hello() {
    return this.line('hello');
  }

  /** Sends one request (adding `v` and `id`), returns its reply; tracks `next_call`. */
  async request(body) {
    const id = this.nextId++;
    this.child.stdin.write(`${JSON.stringify({ v: 1, id, ...body })}\n`);
    const reply = await this.line(`reply to ${body.cmd} ${JSON.stringify(body.event ?? '')}`);
    if (reply.id !== id) throw new Error(`reply id ${reply.id}, expected ${id}: ${JSON.stringify(reply)}`);
    if (reply.next_call !== undefined) this.nextCall = reply.next_call;
    return reply;
  }

  start(server, overrides = {}) {
    return this.request({
      cmd: 'start',
      now_ms: 0,
      run: 1,
      call_base: this.nextCall,
      fapi_url: server.fapiUrl,
      backend_url: server.backendUrl,
      publishable_key: server.publishableKey,
      platform: 'ios',
      settings: {
        token_cache: 'secure_store',
        resource_cache: false,
        treat_pending_as_signed_out: true,
        fapi_latency_ms: 50,
        backend_latency_ms: 50,
      },
      storage: {},
      app_state: 'active',
      network: 'online',
      ...overrides,
    });
  }

  step(event) {
    return this.request({ cmd: 'step', event, call_base: this.nextCall });
  }

  async shutdown() {
    const reply = await this.request({ cmd: 'shutdown' });
    const exit = await Promise.race([
      this.exited,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), 2000)),
    ]);
    return { reply, exit };
  }

  kill() {
    this.child.kill('SIGKILL');
  }
}

/** Decodes a JWT's payload. */
export function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}
