//! driver.mjs: the session-harness adapter for the real @clerk/expo (docs/adapter-protocol.md,
//! protocol version 1; driver specifics in its §10). One process is one app process. Owns what
//! is clerk-expo's own: the hello line, `start`, choosing the @clerk/expo install the
//! environment names, the module stubs' wiring (a CommonJS resolve hook), the globals React
//! Native provides, and mounting the app under React. The JSON-lines loop, `step`,
//! `shutdown`, framing and error kinds are adapters/shared/protocol.mjs (shared with the
//! clerk-js driver).
//!
//! Run:  node --conditions=react-native adapters/clerk-expo/driver.mjs
//! Env:  SESSION_HARNESS_CLERK_EXPO_DIR  folder whose node_modules holds the @clerk/expo to run,
//!                                       with React, react-reconciler and fake-timers
//!                                       (default: versions/3.2.7 next to this file)
//!
//! Modules: clock.mjs (virtual time, React's immediates; over ../shared/clock.mjs), host.mjs
//! (the React renderer), app-shell.mjs (the app as React components, over
//! ../shared/app-shell.mjs), ../shared/protocol.mjs (the protocol loop),
//! ../shared/launch.mjs (what a launch builds alike: instants, happenings, the device
//! network of ../shared/fetch.mjs, the shell's start state), stubs/ (what React Native, expo-secure-store, the URL polyfill and the
//! ClerkExpo native module are here). npm packages (React, @clerk/expo, fake-timers) are
//! resolved from the version folder only, never from adapters/shared/.

import Module, { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsyncLocalStorage } from 'node:async_hooks';

import { VirtualClock, trackImmediates } from './clock.mjs';
import { AppShell, appTree } from './app-shell.mjs';
import { mount } from './host.mjs';
import { badRequest, checkStorage, nativeCall, serve, settleAndObserve, startFields, takeStdout, unsupported } from '../shared/protocol.mjs';
import { callFreeReload, epochOffset, happeningsLog, launchNetwork, openShell } from '../shared/launch.mjs';
import { entryName, locatePackage } from '../shared/locate.mjs';

// A release build, as an app ships: React's production bundles (@clerk/expo's own `__DEV__`
// is compiled to false in every published dist).
process.env.NODE_ENV = 'production';
globalThis.__DEV__ = false;
// Before React is loaded: its scheduler keeps the setImmediate it finds (clock.mjs).
trackImmediates();

const PROTOCOL = 1;

// Only protocol lines go to stdout (a library's console goes to stderr).
takeStdout();

// ------------------------------------------------------------------ which @clerk/expo

const here = dirname(fileURLToPath(import.meta.url));
const sdkDir = process.env.SESSION_HARNESS_CLERK_EXPO_DIR || join(here, 'versions', '3.2.7');

/** Finds the installed @clerk/expo and what it is run with. Exits if absent or unsupported. */
function locateExpo() {
  const { require, manifest, version, packageDir } = locatePackage({
    sdkDir,
    name: '@clerk/expo',
    envVar: 'SESSION_HARNESS_CLERK_EXPO_DIR',
    installDir: 'adapters/clerk-expo/versions/3.2.7',
  });
  const major = Number.parseInt(version, 10);
  if (major !== 3 && major !== 4) {
    process.stderr.write(`@clerk/expo ${version} is not supported: the driver runs 3.x and 4.x\n`);
    process.exit(1);
  }
  const entryPath = require.resolve('@clerk/expo');
  // Whether this version ships `@clerk/expo/resource-cache` (an export of its manifest).
  const exportsMap = manifest.exports ?? {};
  const resourceCache = Object.prototype.hasOwnProperty.call(exportsMap, './resource-cache');
  return { require, version, entryPath, entry: entryName(packageDir, entryPath), resourceCache };
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
const nativeModule = stubRequire(join(here, 'stubs', 'clerk-expo-native-module.cjs'));
const secureStore = stubRequire(STUBS['expo-secure-store']);

// ------------------------------------------------------------------------ the launch

/** The running app: null until `start`. */
let app = null;

/** Creates the app: clock, globals, @clerk/expo, stubs, shell; mounts it (the provider loads). */
async function start(request) {
  if (app) throw badRequest('`start` was already sent: one per process');
  const fields = startFields(request);
  const { nowMs, fapiUrl, publishableKey, platform, settings, storage, appState, tokenCache: tokenCacheKind } = fields;
  if (settings.resource_cache !== undefined && typeof settings.resource_cache !== 'boolean') {
    throw badRequest(`start \`settings.resource_cache\` must be a boolean, got ${JSON.stringify(settings.resource_cache)}`);
  }
  const withResourceCache = settings.resource_cache === true;
  if (withResourceCache && !located.resourceCache) {
    throw unsupported(`settings.resource_cache: @clerk/expo ${located.version} has no @clerk/expo/resource-cache`);
  }
  checkStorage(storage);
  if (settings.native !== undefined && typeof settings.native !== 'boolean') {
    throw badRequest(`start \`settings.native\` must be a boolean, got ${JSON.stringify(settings.native)}`);
  }
  const withNative = settings.native === true;
  if (withNative && Number.parseInt(located.version, 10) !== 3) {
    throw unsupported(`settings.native: the ${located.version} native module (4.x's Expo module: configure, getClientToken, syncClientStateFromJs, clerkNativeClientChanged) is not wired; the driver forwards 3.x's TurboModule only`);
  }

  // The clock, on the main realm, with the version folder's fake-timers (see epochOffset for
  // the instants).
  const offset = epochOffset(nowMs);
  const clock = new VirtualClock(nowMs + offset, located.require('@sinonjs/fake-timers'));
  clock.check();
  const virtual = () => clock.now() - offset;
  const { report, take } = happeningsLog(virtual);

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
  // Faults armed while no process ran (§3): each must be one the store simulates.
  const armed = request.storage_faults ?? [];
  if (!Array.isArray(armed)) throw badRequest(`start \`storage_faults\` must be an array, got ${JSON.stringify(armed)}`);
  for (const event of armed) {
    const refused = secureStore.armFault(event ?? {}, { resourceCache: withResourceCache });
    if (refused) throw unsupported(`start \`storage_faults\`: ${refused}`);
  }

  const als = new AsyncLocalStorage();
  const network = launchNetwork({
    fields,
    clock,
    offset,
    report,
    als,
    // React Native's fetch error for an unreachable network; @clerk/expo runs in this realm.
    networkError: () => new TypeError('Network request failed'),
  });
  const net = network.net;
  globalThis.fetch = net.fetch;

  // The native module (§11), bound before @clerk/expo is loaded (it looks the module up
  // when its files load): every call goes to the harness's native layer and counts as I/O
  // in flight until its answer is in.
  if (withNative) {
    nativeModule.bind({
      forward: (call, token) => {
        // After the I/O JS started before it: the harness's server applies requests and
        // native calls in the order JS made them, whatever the pipes' timing.
        const answer = Promise.allSettled([...clock.io]).then(() => nativeCall(call, token, virtual()));
        clock.nativeIo.add(answer);
        answer.finally(() => clock.nativeIo.delete(answer)).catch(() => {});
        return clock.trackIo(answer);
      },
    });
  }

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

  callFreeReload(clerk, als);


  const shell = openShell({
    AppShell,
    fields,
    clerk,
    clock,
    network,
    report,
    als,
    options: { setNativeAppState: reactNative.__harness.setAppState },
  });
  reactNative.__harness.setAppState(appState);

  app = {
    clock,
    net,
    shell,
    virtual,
    offset,
    fatal: null,
    take,
    emitNative: withNative ? reactNative.__harness.emitNative : null,
    armStorageFault: (event) => secureStore.armFault(event, { resourceCache: withResourceCache }),
    clearStorageFaults: () => secureStore.clearFaults(),
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
  return settleAndObserve(app, virtual());
}

// The lockstep fidelity @clerk/expo is held to (docs/adapter-protocol.md §2): `observable`,
// as for clerk-js (the engine inside it) until the model predicts requests one by one.
serve({
  hello: { hello: 'session-harness-adapter', protocol: PROTOCOL, sdk: '@clerk/expo', version: located.version, entry: located.entry, fidelity: 'observable', native_module: true, storage_faults: ['throw'], clear_storage_faults: true },
  versions: [PROTOCOL],
  start,
  end: undefined,
  app: () => app,
});
