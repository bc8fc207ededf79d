//! test/stubs.test.mjs: the module stubs and the idleness rule, without a server: what
//! `react-native` answers (the ClerkExpo native module, null unless bound, AppState), what the
//! expo-secure-store stub reports (the real `@clerk/expo/resource-cache` store over it
//! included), and that `drain()` waits for chains of `setImmediate`
//! hops (React's scheduler) before the world counts as idle.
//!
//! Run: node --conditions=react-native --test adapters/clerk-expo/test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';

import { VirtualClock, trackImmediates } from '../clock.mjs';
import { ADAPTER_DIR } from '../test-support.mjs';

const require = createRequire(import.meta.url);
const reactNative = require('../stubs/react-native.cjs');
const secureStore = require('../stubs/expo-secure-store.cjs');

test('react-native: no ClerkExpo native module unless bound, AppState tells its listeners', () => {
  assert.equal(reactNative.TurboModuleRegistry.get('ClerkExpo'), null);
  assert.throws(() => reactNative.TurboModuleRegistry.getEnforcing('ClerkExpo'), /'ClerkExpo' could not be found/);
  reactNative.__harness.setPlatform('android');
  assert.equal(reactNative.Platform.OS, 'android');
  assert.equal(reactNative.Platform.select({ ios: 1, android: 2 }), 2);
  reactNative.__harness.setPlatform('ios');
  const seen = [];
  const sub = reactNative.AppState.addEventListener('change', (s) => seen.push(s));
  reactNative.__harness.setAppState('background');
  reactNative.__harness.setAppState('background'); // no change, no event
  reactNative.__harness.setAppState('active');
  sub.remove();
  reactNative.__harness.setAppState('inactive');
  assert.deepEqual(seen, ['background', 'active']);
  assert.equal(reactNative.AppState.currentState, 'inactive');
  reactNative.__harness.setAppState('active');
});

test('ClerkExpo bound: each call forwarded with its token, answers resolved or rejected with the code, events reach the emitters over the module', async () => {
  // Its own copies: the module binding is process state (one launch per process).
  const stubs = join(ADAPTER_DIR, 'stubs');
  delete require.cache[require.resolve(join(stubs, 'clerk-expo-native-module.cjs'))];
  delete require.cache[require.resolve(join(stubs, 'react-native.cjs'))];
  const nativeModule = require(join(stubs, 'clerk-expo-native-module.cjs'));
  const rn = require(join(stubs, 'react-native.cjs'));
  const sent = [];
  const answers = {
    configure: { ok: true, value: null },
    get_session: { ok: true, value: { sessionId: 'sess_1' } },
    get_client_token: { ok: true, value: 'eyJ.client' },
    sign_out: { ok: false, code: 'E_SIGN_OUT_FAILED' },
  };
  nativeModule.bind({ forward: async (call, token) => { sent.push([call, token]); return answers[call]; } });
  const ClerkExpo = rn.TurboModuleRegistry.get('ClerkExpo');
  assert.notEqual(ClerkExpo, null);
  assert.equal(await ClerkExpo.configure('pk_test_x', 'eyJ.js'), null);
  assert.deepEqual(await ClerkExpo.getSession(), { sessionId: 'sess_1' });
  assert.equal(await ClerkExpo.getClientToken(), 'eyJ.client');
  await assert.rejects(ClerkExpo.signOut(), (e) => e.code === 'E_SIGN_OUT_FAILED');
  assert.deepEqual(sent, [['configure', 'eyJ.js'], ['get_session', null], ['get_client_token', null], ['sign_out', null]]);
  const heard = [];
  const emitter = new rn.NativeEventEmitter(ClerkExpo);
  const other = new rn.NativeEventEmitter({});
  other.addListener('onAuthStateChange', () => heard.push('wrong emitter'));
  const sub = emitter.addListener('onAuthStateChange', (e) => heard.push(e));
  rn.__harness.emitNative('onAuthStateChange', { type: 'signedIn', sessionId: 'sess_1' });
  sub.remove();
  rn.__harness.emitNative('onAuthStateChange', { type: 'signedOut', sessionId: 'sess_1' });
  assert.deepEqual(heard, [{ type: 'signedIn', sessionId: 'sess_1' }]);
});

test('expo-secure-store: the harness storage, every change reported, the first read of a key reported once', async () => {
  const values = { __clerk_client_jwt: 'a' };
  const reports = [];
  secureStore.bind({ values, report: (what, fields) => reports.push({ what, ...fields }) });
  assert.equal(await secureStore.getItemAsync('__clerk_client_jwt'), 'a');
  assert.equal(await secureStore.getItemAsync('__clerk_client_jwt'), 'a');
  await secureStore.setItemAsync('__clerk_client_jwt', 'a'); // same bytes: nothing changes
  await secureStore.setItemAsync('__clerk_client_jwt', 'b');
  await secureStore.deleteItemAsync('__clerk_client_jwt');
  await secureStore.deleteItemAsync('__clerk_client_jwt'); // absent: nothing to report
  assert.equal(await secureStore.getItemAsync('missing'), null);
  await assert.rejects(secureStore.setItemAsync('bad key!', 'x'), /Invalid key/);
  assert.deepEqual(reports, [
    { what: 'storage_read', key: '__clerk_client_jwt' },
    { what: 'storage_written', key: '__clerk_client_jwt', value: 'b' },
    { what: 'storage_deleted', key: '__clerk_client_jwt' },
    { what: 'storage_read', key: 'missing' },
  ]);
  assert.deepEqual(values, {});
});

test('expo-secure-store faults: armed throws reject the next operations of their op and key, change nothing, and what cannot be simulated is named', async () => {
  const values = { __clerk_client_jwt: 'a', other: 'o' };
  const reports = [];
  secureStore.bind({ values, report: (what, fields) => reports.push({ what, ...fields }) });
  assert.equal(secureStore.armFault({ op: 'read', kind: 'throw', count: 2, key: 'client_jwt' }, { resourceCache: false }), null);
  assert.equal(await secureStore.getItemAsync('other'), 'o', 'another key is not faulted');
  await assert.rejects(secureStore.getItemAsync('__clerk_client_jwt'), /getValueWithKeyAsync.*\n.*User interaction is not allowed/);
  await assert.rejects(secureStore.getItemAsync('__clerk_client_jwt'), /has failed/);
  assert.equal(await secureStore.getItemAsync('__clerk_client_jwt'), 'a', 'the third read succeeds');
  assert.equal(secureStore.armFault({ op: 'write', kind: 'throw', count: 1 }, { resourceCache: false }), null);
  await assert.rejects(secureStore.setItemAsync('__clerk_client_jwt', 'b'), /setValueWithKeyAsync/);
  assert.equal(values.__clerk_client_jwt, 'a', 'a failed write changes nothing');
  assert.ok(!reports.some((r) => r.what === 'storage_written'), 'and reports nothing');
  assert.match(secureStore.armFault({ op: 'read', kind: 'hang', count: 1 }, { resourceCache: false }), /only `throw`/);
  assert.match(secureStore.armFault({ op: 'read', kind: 'throw', count: 1, key: 'cached_client' }, { resourceCache: false }), /only client_jwt/);
  assert.match(secureStore.armFault({ op: 'read', kind: 'throw', count: 1 }, { resourceCache: true }), /resource cache/);
  assert.match(secureStore.armFault({ op: 'move', kind: 'throw', count: 1 }, { resourceCache: false }), /accepted: read, write, delete/);
  secureStore.bind({ values: { __clerk_client_jwt: 'a' }, report: () => {} });
  assert.equal(await secureStore.getItemAsync('__clerk_client_jwt'), 'a', 'a new process starts with no armed fault');
});

test('expo-secure-store under @clerk/expo/resource-cache: physical slots stored, the item reported whole under its harness name once it is the latest, read back in the next process', async () => {
  const versionDir = process.env.SESSION_HARNESS_CLERK_EXPO_DIR || join(ADAPTER_DIR, 'versions', '3.2.7');
  const stub = require.resolve('../stubs/expo-secure-store.cjs');
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function resolveWithStub(request, ...rest) {
    return request === 'expo-secure-store' ? stub : resolveFilename.call(this, request, ...rest);
  };
  try {
    const { resourceCache } = createRequire(join(versionDir, 'noop.js'))('@clerk/expo/resource-cache');
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    const item = '__clerk_cache_client_VzdCQ';
    // Over two chunks of 1024 code points, with a character outside the BMP.
    const big = `{"sessions":[{"status":"active"}],"pad":"${'x'.repeat(1500)}😀${'y'.repeat(700)}"}`;

    const values = {};
    const reports = [];
    secureStore.bind({ values, report: (what, fields) => reports.push({ what, ...fields }) });
    const cache = resourceCache();
    await cache.set(item, big);
    await settle();
    const named = reports.filter((r) => r.key.startsWith('__clerk_cache_client') && !r.key.startsWith(item));
    assert.deepEqual(named, [{ what: 'storage_written', key: '__clerk_cache_client', value: big }]);
    assert.equal(values[`${item}-latest`], 'B');
    assert.equal(values[`${item}-B-complete`], 'true');
    assert.equal(JSON.parse(values[`${item}-B-metadata`]).totalChunks, 3);
    assert.equal('__clerk_cache_client' in values, false, 'the harness name is no SecureStore item');
    // The same value again (a new slot, the same item): nothing new for the harness name.
    reports.length = 0;
    await cache.set(item, big);
    await settle();
    assert.equal(values[`${item}-latest`], 'A');
    assert.deepEqual(reports.filter((r) => r.key === '__clerk_cache_client'), []);
    // A shorter value: the stale third chunk of its slot is deleted, the item reported.
    reports.length = 0;
    await cache.set(item, 'short');
    await settle();
    assert.deepEqual(reports.filter((r) => r.key === '__clerk_cache_client'), [{ what: 'storage_written', key: '__clerk_cache_client', value: 'short' }]);
    assert.ok(reports.some((r) => r.what === 'storage_deleted' && r.key === `${item}-B-chunk-2`));

    // The next process: the harness hands back its storage, the name included.
    const next = { ...values, __clerk_cache_client: 'short' };
    const nextReports = [];
    secureStore.bind({ values: next, report: (what, fields) => nextReports.push({ what, ...fields }) });
    assert.equal('__clerk_cache_client' in next, false);
    assert.equal(await resourceCache().get(item), 'short');
    assert.deepEqual(nextReports.filter((r) => r.key === '__clerk_cache_client'), [{ what: 'storage_read', key: '__clerk_cache_client' }]);
    // Writing what the harness already holds under the name is no change.
    const again = resourceCache();
    await again.set(item, 'short');
    await settle();
    assert.deepEqual(nextReports.filter((r) => r.what === 'storage_written' && r.key === '__clerk_cache_client'), []);
  } finally {
    Module._resolveFilename = resolveFilename;
  }
});

test('drain() counts pending setImmediate work as in flight, as React hops render → commit → effects', async () => {
  trackImmediates();
  const versionDir = process.env.SESSION_HARNESS_CLERK_EXPO_DIR || join(ADAPTER_DIR, 'versions', '3.2.7');
  const FakeTimers = createRequire(join(versionDir, 'noop.js'))('@sinonjs/fake-timers');
  const clock = new VirtualClock(1_000, FakeTimers);
  try {
    const order = [];
    // A chain of 50 hops, each scheduling the next: far more than the quiet turns alone cover.
    let hops = 0;
    const hop = () => {
      hops += 1;
      if (hops < 50) setImmediate(hop);
      else order.push('effects');
    };
    setImmediate(hop);
    setTimeout(() => order.push('timer'), 0);
    await clock.runUntil(1_000 + 10);
    assert.equal(hops, 50);
    assert.deepEqual(order, ['effects', 'timer'], 'the timer fired only after the immediates settled');
  } finally {
    clock.uninstall();
  }
});
