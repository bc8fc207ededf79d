//! driver.mjs: the session-harness adapter for the real @clerk/expo (docs/adapter-protocol.md,
//! protocol version 1; driver specifics in its §10). One process is one app process. Owns the
//! protocol side (the hello line, the JSON-lines loop, `start`/`step`/`shutdown`, error kinds:
//! the framing is the clerk-js driver's, copied), choosing the @clerk/expo install the
//! environment names, the module stubs' wiring (a CommonJS resolve hook), the globals React
//! Native provides, and mounting the app under React.
//!
//! Run:  node --conditions=react-native adapters/clerk-expo/driver.mjs
//! Env:  SESSION_HARNESS_CLERK_EXPO_DIR  folder whose node_modules holds the @clerk/expo to run,
//!                                       with React, react-reconciler and fake-timers
//!                                       (default: versions/3.2.7 next to this file)
//!
//! Modules: clock.mjs (virtual time, React's immediates), fetch.mjs (the device's network),
//! host.mjs (the React renderer), app-shell.mjs (the app as React components), stubs/ (what
//! React Native, expo-secure-store, the URL polyfill and the ClerkExpo native module are here).

import Module, { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Console } from 'node:console';
import { AsyncLocalStorage } from 'node:async_hooks';

import { VirtualClock, trackImmediates } from './clock.mjs';
import { Network } from './fetch.mjs';
import { AppShell, appTree } from './app-shell.mjs';
import { mount } from './host.mjs';

// A release build, as an app ships: React's production bundles (@clerk/expo's own `__DEV__`
// is compiled to false in every published dist).
process.env.NODE_ENV = 'production';
globalThis.__DEV__ = false;
// Before React is loaded: its scheduler keeps the setImmediate it finds (clock.mjs).
trackImmediates();

const PROTOCOL = 1;
/** Longest request line accepted (§2). */
const LINE_BYTES_MAX = 1024 * 1024;
/** The harness epoch (harness/src/model/time.rs EPOCH_UNIX_MS): virtual ms 0 in Unix ms. */
const EPOCH_UNIX_MS = 1_767_225_600_000;
/** Events the harness keeps to itself (§3): never sent to an adapter. */
const HARNESS_EVENTS = ['cold_start', 'kill', 'js_reload', 'reinstall', 'revoke', 'expire_now', 'abandon_now', 'replace', 'fault'];

// ---------------------------------------------------------------------- stdout is ours

// Only protocol lines go to stdout. Anything else that writes there (a library's console)
// goes to stderr, which the harness keeps as a log.
const writeProtocol = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const method of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table', 'group', 'groupEnd']) {
  if (typeof toStderr[method] === 'function') console[method] = toStderr[method].bind(toStderr);
}
const send = (object) => writeProtocol(`${JSON.stringify(object)}\n`);

// ------------------------------------------------------------------ which @clerk/expo

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.SESSION_HARNESS_CLERK_EXPO_DIR || join(here, 'versions', '3.2.7');

/** Finds the installed @clerk/expo and what it is run with. Exits if absent or unsupported. */
function locateExpo() {
  const require = createRequire(join(sdkDir, 'noop.js'));
  const manifestPath = (require.resolve.paths('@clerk/expo') ?? [])
    .map((folder) => join(folder, '@clerk', 'expo', 'package.json'))
    .find((candidate) => existsSync(candidate));
  if (!manifestPath) {
    process.stderr.write(
      `cannot find @clerk/expo under ${sdkDir}/node_modules (SESSION_HARNESS_CLERK_EXPO_DIR)\n` +
        'install it: cd adapters/clerk-expo/versions/3.2.7 && npm ci --ignore-scripts --no-audit --no-fund\n',
    );
    process.exit(1);
  }
  const version = JSON.parse(readFileSync(manifestPath, 'utf8')).version;
  const major = Number.parseInt(version, 10);
  if (major !== 3 && major !== 4) {
    process.stderr.write(`@clerk/expo ${version} is not supported: the driver runs 3.x and 4.x\n`);
    process.exit(1);
  }
  const entryPath = require.resolve('@clerk/expo');
  const packageDir = dirname(manifestPath);
  // Whether this version ships `@clerk/expo/resource-cache` (an export of its manifest).
  const exportsMap = JSON.parse(readFileSync(manifestPath, 'utf8')).exports ?? {};
  const resourceCache = Object.prototype.hasOwnProperty.call(exportsMap, './resource-cache');
  return { require, version, entryPath, entry: relative(packageDir, entryPath).split('\\').join('/'), resourceCache };
}

const located = locateExpo();

// ------------------------------------------------------------------- the module stubs

/** Bare requests the JS layer makes that are native packages, answered by stubs/. */
const STUBS = {
  'react-native': join(here, 'stubs', 'react-native.cjs'),
  'expo-secure-store': join(here, 'stubs', 'expo-secure-store.cjs'),
  'react-native-url-polyfill/auto': join(here, 'stubs', 'react-native-url-polyfill-auto.cjs'),
  'react-native-url-polyfill/auto.js': join(here, 'stubs', 'react-native-url-polyfill-auto.cjs'),
  // 4.x reaches the native module through Expo Modules.
  expo: join(here, 'stubs', 'expo.cjs'),
};
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWithStubs(request, ...rest) {
  const stub = STUBS[request];
  return stub ?? resolveFilename.call(this, request, ...rest);
};
const stubRequire = createRequire(import.meta.url);
const reactNative = stubRequire(STUBS['react-native']);
const secureStore = stubRequire(STUBS['expo-secure-store']);

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

/** Creates the app: clock, globals, @clerk/expo, stubs, shell; mounts it (the provider loads). */
async function start(request) {
  if (app) throw badRequest('`start` was already sent: one per process');
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
  const tokenCacheKind = oneOf(settings.token_cache, ['secure_store', 'memory'], 'start `settings.token_cache`');
  const fapiLatency = field(settings, 'fapi_latency_ms', 'integer', 'start `settings`');
  const backendLatency = field(settings, 'backend_latency_ms', 'integer', 'start `settings`');
  if (settings.resource_cache !== undefined && typeof settings.resource_cache !== 'boolean') {
    throw badRequest(`start \`settings.resource_cache\` must be a boolean, got ${JSON.stringify(settings.resource_cache)}`);
  }
  const withResourceCache = settings.resource_cache === true;
  if (withResourceCache && !located.resourceCache) {
    throw unsupported(`settings.resource_cache: @clerk/expo ${located.version} has no @clerk/expo/resource-cache`);
  }
  for (const [key, value] of Object.entries(storage)) {
    if (typeof value !== 'string') throw badRequest(`start \`storage.${key}\`: values are strings, got ${JSON.stringify(value)}`);
  }

  // Virtual ms since the harness epoch or, if the harness sends one, a Unix-ms instant
  // (as the clerk-js driver, §9).
  const offset = nowMs >= EPOCH_UNIX_MS ? 0 : EPOCH_UNIX_MS;
  const clock = new VirtualClock(nowMs + offset, located.require('@sinonjs/fake-timers'));
  clock.check();
  const virtual = () => clock.now() - offset;

  let happenings = [];
  const report = (what, fields) => happenings.push({ what, at: virtual(), ...fields });

  // What React Native provides and Node lacks, and the reverse (reference §5, §9).
  globalThis.window = globalThis;
  Object.defineProperty(globalThis, 'navigator', {
    value: { product: 'ReactNative', userAgent: 'session-harness-clerk-expo-driver' },
    configurable: true,
    writable: true,
  });
  delete globalThis.BroadcastChannel;
  // clerk-js draws randomness only for retry jitter and ids nothing reads here: 0 pins the
  // jitter to its lower bound, as the model's schedule has it (as the clerk-js driver).
  Math.random = () => 0;

  // The device: platform, app state, and the harness-owned secure storage.
  reactNative.__harness.setPlatform(platform);
  const persisted = { ...storage };
  secureStore.bind({ values: persisted, report });

  const als = new AsyncLocalStorage();
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
  });
  net.offline = network === 'offline';
  globalThis.fetch = net.fetch;

  // Loaded only now: the fake clock must be in place before React's scheduler and clerk-js
  // read the timer globals.
  const React = located.require('react');
  const Reconciler = located.require('react-reconciler');
  const expo = located.require('@clerk/expo');
  const tokenCache = tokenCacheKind === 'secure_store' ? located.require('@clerk/expo/token-cache').tokenCache : undefined;
  // `@clerk/expo/resource-cache`'s store factory, as an app passes it to ClerkProvider: the
  // package's own dual-slot chunked store over expo-secure-store, i.e. the harness's storage.
  const resourceCache = withResourceCache ? located.require('@clerk/expo/resource-cache').resourceCache : undefined;
  const proxyUrl = fapiUrl.replace(/\/+$/, '');

  // The module singleton ClerkProvider will render with (the same publishable key, proxy and
  // token cache give back this instance): made first so the `load` call can be numbered and
  // watched before anything renders. Apps call getClerkInstance() outside React the same way.
  // The resource cache is wired when the instance is made (createClerkInstance), so it is
  // passed here as well as to the provider.
  const instanceOptions = { publishableKey, proxyUrl };
  if (tokenCache) instanceOptions.tokenCache = tokenCache;
  if (resourceCache) instanceOptions.__experimental_resourceCache = resourceCache;
  const clerk = expo.getClerkInstance(instanceOptions);

  // `handleUnauthenticated()` (the client reload after a 401) serves no call of the app's:
  // its `GET /client` is reported without one, as the harness model does.
  if (typeof clerk.handleUnauthenticated === 'function') {
    const reload = clerk.handleUnauthenticated;
    clerk.handleUnauthenticated = (...args) => als.exit(() => reload.apply(clerk, args));
  }

  shell = new AppShell({
    clerk,
    clock,
    network: net,
    report,
    backendUrl,
    platform,
    treatPendingAsSignedOut: settings.treat_pending_as_signed_out !== false,
    als,
    setNativeAppState: reactNative.__harness.setAppState,
  });
  shell.nextCall = callBase;
  if (appState === 'background') {
    shell.appState = 'background';
    clock.hold();
  } else {
    shell.appState = appState;
  }
  reactNative.__harness.setAppState(appState);

  app = {
    clock,
    net,
    shell,
    virtual,
    offset,
    fatal: null,
    take: () => {
      const taken = happenings;
      happenings = [];
      return taken;
    },
  };

  // The loading screen is on before the provider mounts and starts `load()`.
  shell.render();
  shell.instrumentLoad();
  const element = appTree({ React, expo, AppState: reactNative.AppState, shell, publishableKey, proxyUrl, tokenCache, resourceCache });
  mount({
    React,
    Reconciler,
    element,
    onError: (kind, error) => {
      process.stderr.write(`React reported an error (${kind}): ${error?.stack ?? error}\n`);
      if (kind === 'uncaught' && !app.fatal) app.fatal = new Error(`the app crashed while rendering: ${error?.message ?? error}`);
    },
  });
  return settleAndObserve(virtual());
}

/** Runs the clock to `target` (virtual ms), renders after every job, and observes. */
async function settleAndObserve(target) {
  const { clock, shell, net, virtual, offset } = app;
  await clock.runUntil(target + offset, () => shell.render());
  shell.render();
  if (app.fatal) throw app.fatal;
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
    if (request.v !== PROTOCOL) throw badRequest(`\`v\` is ${JSON.stringify(request.v)}; this adapter speaks protocol ${PROTOCOL}`);
    if (!Number.isSafeInteger(id) || id < 1) throw badRequest(`\`id\` must be a whole number ≥ 1, got ${JSON.stringify(id)}`);
    switch (request.cmd) {
      case 'start':
        return send({ id, ok: true, ...(await start(request)) });
      case 'step':
        return send({ id, ok: true, ...(await step(request)) });
      case 'shutdown':
        writeProtocol(`${JSON.stringify({ id, ok: true })}\n`, () => process.exit(0));
        shuttingDown = true;
        return undefined;
      default:
        throw badRequest(`unknown \`cmd\` ${JSON.stringify(request.cmd)}; accepted: start, step, shutdown`);
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

// The lockstep fidelity @clerk/expo is held to (docs/adapter-protocol.md §2): `observable`,
// as for clerk-js (the engine inside it) until the model predicts requests one by one.
send({ hello: 'session-harness-adapter', protocol: PROTOCOL, sdk: '@clerk/expo', version: located.version, entry: located.entry, fidelity: 'observable' });

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
