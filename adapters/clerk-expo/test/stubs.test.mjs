//! test/stubs.test.mjs: the module stubs and the idleness rule, without a server: what
//! `react-native` answers (no ClerkExpo native module yet, AppState), what the
//! expo-secure-store stub reports, and that `drain()` waits for chains of `setImmediate`
//! hops (React's scheduler) before the world counts as idle.
//!
//! Run: node --conditions=react-native --test adapters/clerk-expo/test/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { VirtualClock, trackImmediates } from '../clock.mjs';
import { ADAPTER_DIR } from '../test-support.mjs';

const require = createRequire(import.meta.url);
const reactNative = require('../stubs/react-native.cjs');
const secureStore = require('../stubs/expo-secure-store.cjs');

test('react-native: no ClerkExpo native module (issue 15 forwards it), AppState tells its listeners', () => {
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
