// driver.mjs: the session-harness adapter for the real @clerk/clerk-js (docs/adapter-protocol.md,
// protocol version 2; driver specifics in its §9). One process hosts one app process at a
// time, launch after launch: each `start` runs clerk-js in a fresh realm (a new `vm` context
// with its own built-ins, globals, fake clock and module registry), and `end` drops it, so a
// launch costs a hand-over, not a Node start. Owns what is clerk-js's own: the hello line,
// `start` and `end`, loading the clerk-js build the environment names (compiled once per
// process, evaluated afresh per launch), and wiring it as @clerk/expo does on native. The
// JSON-lines loop, `step`, `shutdown`, framing and error kinds are adapters/shared/protocol.mjs.
//
// Run:  node --conditions=react-native adapters/clerk-js/driver.mjs
// Env:  SESSION_HARNESS_CLERK_JS_DIR  folder whose node_modules holds the clerk-js to run
//                                     (default: this file's folder)
//
// Modules: clock.mjs (virtual time, over ../shared/clock.mjs), app-shell.mjs (the app, over
// ../shared/app-shell.mjs), ../shared/protocol.mjs (the protocol loop), ../shared/launch.mjs
// (what a launch builds alike: instants, happenings, the device network of
// ../shared/fetch.mjs, the shell's start state).

import { existsSync, readFileSync } from 'node:fs';
import vm from 'node:vm';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsyncLocalStorage } from 'node:async_hooks';

import { VirtualClock } from './clock.mjs';
import { AppShell } from './app-shell.mjs';
import { badRequest, checkStorage, serve, settleAndObserve, startFields, takeStdout, unsupported } from '../shared/protocol.mjs';
import { callFreeReload, epochOffset, happeningsLog, launchNetwork, openShell } from '../shared/launch.mjs';
import { entryName, locatePackage } from '../shared/locate.mjs';

const PROTOCOL = 2;
/** Request versions this driver reads: version 1 requests are a subset of version 2's. */
const VERSIONS = [1, 2];
/** @clerk/expo's key for the client JWT (packages/expo/src/constants.ts). */
const CLIENT_JWT_KEY = '__clerk_client_jwt';

// Only protocol lines go to stdout (clerk-js's console goes to stderr).
takeStdout();

// ------------------------------------------------------------------ which clerk-js build

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.SESSION_HARNESS_CLERK_JS_DIR || here;

/** Finds the installed clerk-js: version, hook names and entry file. Exits if absent. */
function locateClerk() {
  const { require, version, packageDir } = locatePackage({
    sdkDir,
    name: '@clerk/clerk-js',
    envVar: 'SESSION_HARNESS_CLERK_JS_DIR',
    installDir: 'adapters/clerk-js',
  });
  const major = Number.parseInt(version, 10);
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
  return { require, version, entryPath, entry: entryName(packageDir, entryPath), hooks };
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

// ------------------------------------------------------------------------ the launches

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

/** Creates the app: clock, globals, clerk-js, hooks, shell; starts `load()`. */
async function start(request) {
  if (app) throw badRequest('`start` was already sent: one per launch (`end` ends it)');
  const fields = startFields(request);
  const { nowMs, fapiUrl, publishableKey, settings, storage, tokenCache } = fields;
  if (settings.resource_cache === true) {
    throw unsupported("settings.resource_cache: @clerk/expo's experimental resource cache is not wired in this driver");
  }
  checkStorage(storage);

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

  // The launch's clock, on the realm's own Date and timers (see epochOffset for the instants).
  const offset = epochOffset(nowMs);
  const clock = new VirtualClock(nowMs + offset, realm);
  clock.check();
  const virtual = () => clock.now() - offset;
  const { report, take } = happeningsLog(virtual);

  retireScope();
  const als = new AsyncLocalStorage();
  scope = als;
  const network = launchNetwork({
    fields,
    clock,
    offset,
    report,
    als,
    // clerk-js tells a network failure by its type: the realm's own TypeError.
    networkError: () => new realm.TypeError('Network request failed'),
  });
  const net = network.net;
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

  callFreeReload(clerk, als);

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

  const shell = openShell({ AppShell, fields, clerk, clock, network, report, als });

  app = {
    clock,
    net,
    shell,
    virtual,
    offset,
    take,
  };

  shell.render();
  // As @clerk/expo's provider loads it on native; telemetry off (dev keys would post to
  // clerk-telemetry.com, and nothing here may leave the machine).
  shell.load({
    standardBrowser: false,
    telemetry: false,
    experimental: { runtimeEnvironment: 'headless' },
  });
  return settleAndObserve(app, virtual());
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

// The lockstep fidelity clerk-js is held to (docs/adapter-protocol.md §2): `observable` until
// the model predicts its requests one by one (issue 13); `cargo xtask gate --fidelity
// requests` compares them already.
serve({
  hello: { hello: 'session-harness-adapter', protocol: PROTOCOL, sdk: '@clerk/clerk-js', version: located.version, entry: located.entry, fidelity: 'observable' },
  versions: VERSIONS,
  start,
  end,
  app: () => app,
});
