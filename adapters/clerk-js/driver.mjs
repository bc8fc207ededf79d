// driver.mjs: the session-harness adapter for the real @clerk/clerk-js (docs/adapter-protocol.md,
// protocol version 2; driver specifics in its §9). One process hosts one app process at a
// time, launch after launch: each `start` runs clerk-js in a fresh realm (a new `vm` context
// with its own built-ins, globals, fake clock and module registry), and `end` drops it, so a
// launch costs a hand-over, not a Node start. Owns the protocol side: the hello line, the
// JSON-lines loop (one request at a time, exactly one reply each, nothing else on stdout),
// `start`/`step`/`end`/`shutdown`, error kinds, loading the clerk-js build the environment
// names (compiled once per process, evaluated afresh per launch), and wiring it as
// @clerk/expo does on native.
//
// Run:  node --conditions=react-native adapters/clerk-js/driver.mjs
// Env:  SESSION_HARNESS_CLERK_JS_DIR  folder whose node_modules holds the clerk-js to run
//                                     (default: this file's folder)
//
// Modules: clock.mjs (virtual time), fetch.mjs (the device's network), app-shell.mjs (the app).

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import vm from 'node:vm';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Console } from 'node:console';
import { AsyncLocalStorage } from 'node:async_hooks';

import { VirtualClock } from './clock.mjs';
import { Network } from './fetch.mjs';
import { AppShell } from './app-shell.mjs';

const PROTOCOL = 2;
/** Request versions this driver reads: version 1 requests are a subset of version 2's. */
const VERSIONS = [1, 2];
/** Longest request line accepted (§2). */
const LINE_BYTES_MAX = 1024 * 1024;
/** The harness epoch (harness/src/model/time.rs EPOCH_UNIX_MS): virtual ms 0 in Unix ms. */
const EPOCH_UNIX_MS = 1_767_225_600_000;
/** @clerk/expo's key for the client JWT (packages/expo/src/constants.ts). */
const CLIENT_JWT_KEY = '__clerk_client_jwt';
/** Events the harness keeps to itself (§3): never sent to an adapter. */
const HARNESS_EVENTS = ['cold_start', 'kill', 'js_reload', 'reinstall', 'revoke', 'expire_now', 'abandon_now', 'replace', 'fault'];

// ---------------------------------------------------------------------- stdout is ours

// Only protocol lines go to stdout. Anything else that writes there (clerk-js's console,
// a stray library) goes to stderr, which the harness keeps as a log.
const writeProtocol = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const method of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table', 'group', 'groupEnd']) {
  if (typeof toStderr[method] === 'function') console[method] = toStderr[method].bind(toStderr);
}
const send = (object) => writeProtocol(`${JSON.stringify(object)}\n`);

// ------------------------------------------------------------------ which clerk-js build

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.SESSION_HARNESS_CLERK_JS_DIR || here;

/** Finds the installed clerk-js: version, hook names and entry file. Exits if absent. */
function locateClerk() {
  const require = createRequire(join(sdkDir, 'noop.js'));
  // `package.json` is not in the package's `exports`: look along the resolution paths.
  const manifestPath = (require.resolve.paths('@clerk/clerk-js') ?? [])
    .map((folder) => join(folder, '@clerk', 'clerk-js', 'package.json'))
    .find((candidate) => existsSync(candidate));
  if (!manifestPath) {
    process.stderr.write(
      `cannot find @clerk/clerk-js under ${sdkDir}/node_modules (SESSION_HARNESS_CLERK_JS_DIR)\n` +
        'install it: cd adapters/clerk-js && npm ci --ignore-scripts --no-audit --no-fund\n',
    );
    process.exit(1);
  }
  const version = JSON.parse(readFileSync(manifestPath, 'utf8')).version;
  const major = Number.parseInt(version, 10);
  const packageDir = dirname(manifestPath);
  let entryPath;
  let hooks;
  if (major >= 6) {
    // The React Native build, through the `react-native` export condition.
    entryPath = require.resolve('@clerk/clerk-js');
    if (!entryPath.endsWith('clerk.native.js')) {
      process.stderr.write(
        `@clerk/clerk-js ${version} resolved to ${entryPath}, not dist/clerk.native.js: ` +
          'run node with --conditions=react-native\n',
      );
      process.exit(1);
    }
    hooks = { before: '__internal_onBeforeRequest', after: '__internal_onAfterResponse' };
  } else if (major === 5) {
    entryPath = require.resolve('@clerk/clerk-js/headless');
    // `headless/index.js` only re-exports the built file.
    const built = join(packageDir, 'dist', 'clerk.headless.js');
    if (existsSync(built)) entryPath = built;
    hooks = { before: '__unstable__onBeforeRequest', after: '__unstable__onAfterResponse' };
  } else {
    process.stderr.write(`@clerk/clerk-js ${version} is not supported: the driver runs 5.x (headless) and 6.x (native)\n`);
    process.exit(1);
  }
  return { require, version, entryPath, entry: relative(packageDir, entryPath).split('\\').join('/'), hooks };
}

const located = locateClerk();

// The bundle is compiled once per adapter process (V8 shares the compiled code between
// realms) and evaluated afresh in each launch's realm: every launch gets clerk-js's module
// registry, singletons and caches new, as a new app process would. Both builds are
// self-contained UMD bundles; `require` is handed in for any that is not.
const bundle = new vm.Script(readFileSync(located.entryPath, 'utf8'), { filename: located.entryPath });

/**
 * A fresh realm for one launch: a `vm` context with its own built-ins (Object, Promise, Date,
 * Math, Error …), given the host's platform globals (URL, Headers, Request, Response, Buffer,
 * TextEncoder, crypto, setImmediate, queueMicrotask, process …) that Node provides and React
 * Native's polyfills stand for. Nothing of an earlier launch is reachable from it.
 */
function freshRealm() {
  const context = vm.createContext({});
  const realm = vm.runInContext('globalThis', context);
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    // The realm's own built-ins stay its own; `BroadcastChannel` is absent on React Native
    // (and in Node it would keep the process alive); `global` is the realm itself.
    if (name in realm || name === 'BroadcastChannel' || name === 'global') continue;
    const value = globalThis[name];
    Object.defineProperty(realm, name, { value, writable: true, configurable: true, enumerable: false });
  }
  // V8 gives every context a console of its own that prints nowhere: clerk-js's goes to stderr.
  realm.console = console;
  realm.global = realm;
  return { context, realm };
}

// ------------------------------------------------------------------------ the protocol

class ProtocolError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}
const badRequest = (message) => new ProtocolError('bad_request', message);
const unsupported = (message) => new ProtocolError('unsupported', message);

/** The running app: null until `start`. */
let app = null;

/**
 * The call scope of the latest launch. Node keeps every enabled AsyncLocalStorage in one list
 * and visits each of them for every promise created, so a scope left enabled would make every
 * later launch slower (and keep its launch reachable): a launch's scope is disabled at `end`,
 * and at the next `start` if that launch never began.
 */
let scope = null;
function retireScope() {
  scope?.disable();
  scope = null;
}

function field(object, name, type, where) {
  const value = object[name];
  const ok = type === 'array' ? Array.isArray(value) : type === 'integer' ? Number.isSafeInteger(value) && value >= 0 : typeof value === type && value !== null;
  if (!ok) throw badRequest(`${where}: \`${name}\` must be ${type === 'integer' ? 'a whole number ≥ 0' : `a ${type}`}, got ${JSON.stringify(value)}`);
  return value;
}

function oneOf(value, accepted, where) {
  if (!accepted.includes(value)) {
    throw badRequest(`${where}: ${JSON.stringify(value)}; accepted: ${accepted.join(', ')}`);
  }
  return value;
}

/** Creates the app: clock, globals, clerk-js, hooks, shell; starts `load()`. */
async function start(request) {
  if (app) throw badRequest('`start` was already sent: one per launch (`end` ends it)');
  const nowMs = field(request, 'now_ms', 'integer', 'start');
  const run = field(request, 'run', 'integer', 'start');
  const callBase = field(request, 'call_base', 'integer', 'start');
  const fapiUrl = field(request, 'fapi_url', 'string', 'start');
  const backendUrl = field(request, 'backend_url', 'string', 'start');
  const publishableKey = field(request, 'publishable_key', 'string', 'start');
  const platform = oneOf(request.platform, ['ios', 'android'], 'start `platform`');
  const settings = field(request, 'settings', 'object', 'start');
  const storage = field(request, 'storage', 'object', 'start');
  const appState = oneOf(request.app_state ?? 'active', ['active', 'inactive', 'background'], 'start `app_state`');
  const network = oneOf(request.network ?? 'online', ['online', 'offline'], 'start `network`');
  const tokenCache = oneOf(settings.token_cache, ['secure_store', 'memory'], 'start `settings.token_cache`');
  const fapiLatency = field(settings, 'fapi_latency_ms', 'integer', 'start `settings`');
  const backendLatency = field(settings, 'backend_latency_ms', 'integer', 'start `settings`');
  if (settings.resource_cache === true) {
    throw unsupported("settings.resource_cache: @clerk/expo's experimental resource cache is not wired in this driver");
  }
  for (const [key, value] of Object.entries(storage)) {
    if (typeof value !== 'string') throw badRequest(`start \`storage.${key}\`: values are strings, got ${JSON.stringify(value)}`);
  }

  // A fresh realm, and what React Native provides and Node lacks, and the reverse
  // (reference §5), in it alone.
  const { context, realm } = freshRealm();
  realm.window = realm;
  Object.defineProperty(realm, 'navigator', {
    value: { product: 'ReactNative', userAgent: 'session-harness-clerk-js-driver' },
    configurable: true,
    writable: true,
  });
  // clerk-js draws randomness only for retry jitter (delay × (1 + random)) on these paths,
  // and for ids nothing reads here: 0 pins the jitter to its lower bound, as the model's
  // schedule has it, and makes runs reproducible.
  realm.Math.random = () => 0;

  // Virtual ms since the harness epoch (what the emulator's header and the happenings speak)
  // or, if the harness sends one, a Unix-ms instant: Date.now() agrees with the emulator's
  // token times either way (see §9).
  const offset = nowMs >= EPOCH_UNIX_MS ? 0 : EPOCH_UNIX_MS;
  const clock = new VirtualClock(nowMs + offset, realm);
  clock.check();
  const virtual = () => clock.now() - offset;

  let happenings = [];
  const report = (what, fields) => happenings.push({ what, at: virtual(), ...fields });

  retireScope();
  const als = new AsyncLocalStorage();
  scope = als;
  let shell = null;
  const net = new Network({
    clock,
    run,
    settings: { fapi_latency_ms: fapiLatency, backend_latency_ms: backendLatency },
    report,
    currentCall: () => als.getStore(),
    onDelivered: (status) => {
      if (shell) shell.lastDelivered = status;
    },
    headerTime: (unixMs) => unixMs - EPOCH_UNIX_MS,
    reportedTime: (unixMs) => unixMs - offset,
    // clerk-js tells a network failure by its type: the realm's own TypeError.
    networkError: () => new realm.TypeError('Network request failed'),
  });
  net.offline = network === 'offline';
  realm.fetch = net.fetch;

  // Evaluated only now, in the realm: the fake clock must be in place before clerk-js reads
  // the timer globals.
  const module = { exports: {} };
  realm.module = module;
  realm.exports = module.exports;
  realm.require = located.require;
  bundle.runInContext(context);
  delete realm.module;
  delete realm.exports;
  delete realm.require;
  const { Clerk } = module.exports;
  const clerk = new Clerk(publishableKey, { proxyUrl: fapiUrl.replace(/\/+$/, '') });

  // `handleUnauthenticated()` (the client reload after a 401) serves no call of the app's:
  // its `GET /client` is reported without one, as the harness model does.
  if (typeof clerk.handleUnauthenticated === 'function') {
    const reload = clerk.handleUnauthenticated;
    clerk.handleUnauthenticated = (...args) => als.exit(() => reload.apply(clerk, args));
  }

  // The app's token cache, as @clerk/expo's `tokenCache` prop: expo-secure-store (the
  // harness-owned storage: every change is reported) or MemoryTokenCache (lost with the
  // process; nothing persistent to report).
  const persisted = { ...storage };
  const memory = new Map();
  const reads = new Set();
  const cache = {
    async getToken(key) {
      if (tokenCache === 'memory') return memory.get(key) ?? null;
      // SecureStore is read before every request; the first read of a key is what the
      // harness models (the load's), later ones would only repeat it.
      if (!reads.has(key)) {
        reads.add(key);
        report('storage_read', { key });
      }
      return persisted[key] ?? null;
    },
    async saveToken(key, value) {
      if (tokenCache === 'memory') {
        memory.set(key, value);
        return;
      }
      if (persisted[key] === value) return;
      persisted[key] = value;
      report('storage_written', { key, value });
    },
  };

  // The emulator is the Frontend API. 6.x honours `proxyUrl` on native; 5.x reads it only in
  // a browser (it needs `window.location`), so its URLs are pointed there in place (the same
  // URL object, whether the FAPI client reads it before or after the hooks).
  const fapiBase = new URL(fapiUrl);
  const fapiPrefix = fapiBase.pathname.replace(/\/+$/, '');
  const toEmulator = (url) => {
    if (url.origin === fapiBase.origin && url.pathname.startsWith(`${fapiPrefix}/`)) return;
    const v1 = url.pathname.indexOf('/v1/');
    const tail = v1 >= 0 ? url.pathname.slice(v1) : url.pathname;
    url.protocol = fapiBase.protocol;
    url.host = fapiBase.host;
    url.pathname = `${fapiPrefix}${tail}`;
  };

  // The hooks @clerk/expo installs on native (createClerkInstance.ts, reference §3.1).
  clerk[located.hooks.before](async (requestInit) => {
    requestInit.credentials = 'omit';
    requestInit.url?.searchParams.append('_is_native', '1');
    if (requestInit.url) toEmulator(requestInit.url);
    const jwt = await cache.getToken(CLIENT_JWT_KEY);
    requestInit.headers.set('authorization', jwt || '');
    requestInit.headers.set('x-mobile', '1');
  });
  clerk[located.hooks.after](async (_requestInit, response) => {
    const authHeader = response?.headers?.get('authorization');
    if (authHeader) await cache.saveToken(CLIENT_JWT_KEY, authHeader);
  });

  shell = new AppShell({
    clerk,
    clock,
    network: net,
    report,
    backendUrl,
    platform,
    treatPendingAsSignedOut: settings.treat_pending_as_signed_out !== false,
    als,
  });
  shell.nextCall = callBase;
  if (appState === 'background') {
    shell.appState = 'background';
    clock.hold();
  } else {
    shell.appState = appState;
  }

  app = {
    clock,
    net,
    shell,
    virtual,
    offset,
    take: () => {
      const taken = happenings;
      happenings = [];
      return taken;
    },
  };

  shell.render();
  // As @clerk/expo's provider loads it on native; telemetry off (dev keys would post to
  // clerk-telemetry.com, and nothing here may leave the machine).
  shell.load({
    standardBrowser: false,
    telemetry: false,
    experimental: { runtimeEnvironment: 'headless' },
  });
  return settleAndObserve(virtual());
}

/**
 * Ends the running launch (protocol 2): its fake clock (every pending timer with it), its
 * sockets, its call scope and its realm are dropped, nothing of it is reachable any more, and the next
 * `start` begins a new app process from nothing but what the harness hands it.
 */
function end() {
  if (!app) throw badRequest('`end` before `start`: there is no launch to end');
  app.clock.uninstall();
  app.net.close();
  retireScope();
  app = null;
}

/** Runs the clock to `target` (virtual ms), renders after every job, and observes. */
async function settleAndObserve(target) {
  const { clock, shell, net, virtual, offset } = app;
  await clock.runUntil(target + offset, () => shell.render());
  shell.render();
  return {
    obs: {
      now_ms: virtual(),
      view: shell.shownView(),
      open_calls: shell.open.size,
      in_flight: net.inFlight,
      happenings: app.take(),
    },
    next_call: shell.nextCall,
  };
}

const STEP_EVENTS = {
  advance: (e) => field(e, 'ms', 'integer', 'advance'),
  app_state: (e) => oneOf(e.state, ['active', 'inactive', 'background'], 'app_state `state`'),
  network: (e) => oneOf(e.state, ['online', 'offline'], 'network `state`'),
  sign_in: (e) => {
    if (e.task !== undefined && e.task !== null) {
      oneOf(e.task, ['choose-organization', 'reset-password', 'setup-mfa'], 'sign_in `task`');
    }
  },
  complete_task: () => {},
  get_token: (e) => {
    if (e.skip_cache !== undefined && typeof e.skip_cache !== 'boolean') {
      throw badRequest(`get_token \`skip_cache\` must be a boolean, got ${JSON.stringify(e.skip_cache)}`);
    }
  },
  api_call: (e) => field(e, 'path', 'string', 'api_call'),
  navigate: (e) => field(e, 'path', 'string', 'navigate'),
  session_end: () => {},
  session_remove: () => {},
  sign_out: () => {},
  set_active: () => {},
};

async function step(request) {
  if (!app) throw badRequest('`step` before `start`: the first request of a process is `start`');
  const event = field(request, 'event', 'object', 'step');
  const callBase = field(request, 'call_base', 'integer', 'step');
  const name = event.event;
  if (HARNESS_EVENTS.includes(name)) {
    throw badRequest(`step: \`${name}\` is the harness's own event and is never sent to an adapter (§3)`);
  }
  const check = STEP_EVENTS[name];
  if (!check) {
    throw badRequest(`step: unknown event ${JSON.stringify(name)}; accepted: ${Object.keys(STEP_EVENTS).join(', ')}`);
  }
  check(event);
  const { shell, net, virtual } = app;
  shell.nextCall = callBase;
  let target = virtual();
  if (name === 'advance') target += event.ms;
  if (name === 'network') net.offline = event.state === 'offline';
  await shell.apply(event);
  return settleAndObserve(target);
}

async function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (e) {
    return send({ id: null, ok: false, error: { kind: 'bad_request', message: `not JSON (${e.message}): ${line.slice(0, 200)}` } });
  }
  const id = request && typeof request === 'object' && !Array.isArray(request) ? request.id : undefined;
  try {
    if (!request || typeof request !== 'object' || Array.isArray(request)) throw badRequest('a request is a JSON object');
    if (!VERSIONS.includes(request.v)) throw badRequest(`\`v\` is ${JSON.stringify(request.v)}; this adapter reads protocol ${VERSIONS.join(' and ')}`);
    if (!Number.isSafeInteger(id) || id < 1) throw badRequest(`\`id\` must be a whole number ≥ 1, got ${JSON.stringify(id)}`);
    switch (request.cmd) {
      case 'start':
        return send({ id, ok: true, ...(await start(request)) });
      case 'step':
        return send({ id, ok: true, ...(await step(request)) });
      case 'end':
        end();
        return send({ id, ok: true });
      case 'shutdown':
        writeProtocol(`${JSON.stringify({ id, ok: true })}\n`, () => process.exit(0));
        shuttingDown = true;
        return undefined;
      default:
        throw badRequest(`unknown \`cmd\` ${JSON.stringify(request.cmd)}; accepted: start, step, end, shutdown`);
    }
  } catch (e) {
    const kind = e instanceof ProtocolError ? e.kind : 'internal';
    if (kind === 'internal') process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
    // What the failed request reported is dropped with it.
    app?.take();
    return send({ id: id ?? null, ok: false, error: { kind, message: String(e?.message ?? e) } });
  }
}

// --------------------------------------------------------------------------- the loop

let shuttingDown = false;
process.on('unhandledRejection', (e) => process.stderr.write(`unhandled rejection: ${e?.stack ?? e}\n`));

// The lockstep fidelity clerk-js is held to (docs/adapter-protocol.md §2): `observable` until
// the model predicts its requests one by one (issue 13); `cargo xtask gate --fidelity
// requests` compares them already.
send({ hello: 'session-harness-adapter', protocol: PROTOCOL, sdk: '@clerk/clerk-js', version: located.version, entry: located.entry, fidelity: 'observable' });

// Hand-rolled line splitting: readline would be one more user of the timer globals.
let buffered = '';
let chain = Promise.resolve();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    if (line.trim() === '') continue;
    chain = chain.then(() => (shuttingDown ? undefined : line.length > LINE_BYTES_MAX ? tooLong(line) : handle(line)));
  }
  if (buffered.length > LINE_BYTES_MAX) {
    const line = buffered;
    buffered = '';
    chain = chain.then(() => tooLong(line));
  }
});
process.stdin.on('end', () => {
  chain = chain.then(() => process.exit(0));
});

function tooLong(line) {
  send({ id: null, ok: false, error: { kind: 'bad_request', message: `a request line over ${LINE_BYTES_MAX} bytes: ${line.slice(0, 200)}` } });
}
