//! test/driver.test.mjs: the clerk-expo driver over its stdin/stdout, as the harness drives it,
//! against the real FAPI emulator and backend (a fresh `cargo xtask serve` per test): the
//! real @clerk/expo provider loads, signs in, serves getToken and the API wrapper, refreshes
//! on AppState, restores from the harness's storage in a new process (from the resource
//! cache too, offline), and gives the same
//! bytes for the same events. Every pinned version under versions/ that is installed runs the
//! first test; the rest run on SESSION_HARNESS_CLERK_EXPO_DIR (default versions/3.2.7).
//!
//! Run: node --conditions=react-native --test adapters/clerk-expo/test/
//! Env: SESSION_HARNESS_SERVE (see ../test-support.mjs), CARGO_TARGET_DIR (passed to cargo),
//!      SESSION_HARNESS_CLERK_EXPO_DIR.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { ADAPTER_DIR, Driver, EPOCH_UNIX_MS, claims, freePort, startServer } from '../test-support.mjs';

/** Seconds of the harness epoch: a token minted at virtual ms `t` has iat EPOCH_S + ⌊t/1000⌋. */
const EPOCH_S = EPOCH_UNIX_MS / 1000;

const of = (reply, what) => reply.obs.happenings.filter((h) => h.what === what);

/** The pinned version folders whose node_modules are installed (`npm ci` in each). */
const installed = readdirSync(join(ADAPTER_DIR, 'versions'))
  .filter((v) => existsSync(join(ADAPTER_DIR, 'versions', v, 'node_modules', '@clerk', 'expo', 'package.json')))
  .sort();

/** A server and a started driver; `body(driver, server)` runs, both are stopped after. */
async function withDriver(body, env, port = 0) {
  const server = await startServer(port);
  const driver = new Driver(env);
  try {
    return await body(driver, server);
  } finally {
    driver.kill();
    await server.stop();
  }
}

/** Starts and signs in; returns the reply that shows the signed-in app. */
async function signedIn(driver, server) {
  await driver.hello();
  await driver.start(server);
  await driver.step({ event: 'sign_in' });
  const settled = await driver.step({ event: 'advance', ms: 1000 });
  assert.equal(settled.obs.view.is_signed_in, true, JSON.stringify(settled));
  return settled;
}

test('at least the seed report version and a fixed one are installed', () => {
  assert.ok(installed.includes('3.2.7') && installed.includes('3.2.8'), `installed: ${installed.join(', ')}; run npm ci in each versions/ folder`);
});

for (const version of installed) {
  test(`@clerk/expo ${version}: hello, the provider loads signed out, sign-in, a token minted at the virtual instant, the API wrapper`, async () => {
    await withDriver(
      async (driver, server) => {
        const hello = await driver.hello();
        assert.deepEqual(hello, {
          hello: 'session-harness-adapter',
          protocol: 1,
          sdk: '@clerk/expo',
          version,
          entry: 'dist/index.js',
          fidelity: 'observable',
          native_module: true,
          storage_faults: ['throw'],
          clear_storage_faults: true,
        });
        const started = await driver.start(server);
        assert.equal(started.ok, true, JSON.stringify(started));
        assert.equal(started.next_call, 2, 'the load call took call_base');
        assert.deepEqual(started.obs.view.route, { screen: 'loading' });
        // @clerk/expo's own request hook: the token cache is read, `_is_native=1` added.
        assert.deepEqual(of(started, 'storage_read').map((h) => h.key), ['__clerk_client_jwt']);
        assert.deepEqual(
          of(started, 'request_sent').map((h) => [new URL(h.url).pathname, h.call, new URL(h.url).searchParams.get('_is_native')]),
          [
            ['/__clerk/v1/environment', 1, '1'],
            ['/__clerk/v1/client', 1, '1'],
          ],
        );
        const loaded = await driver.step({ event: 'advance', ms: 100 });
        assert.deepEqual(loaded.obs.view, { route: { screen: 'sign_in', return_to: null }, is_loaded: true, is_signed_in: false, session: null });
        assert.deepEqual(of(loaded, 'call_settled').map((h) => [h.call, h.kind, h.result]), [[1, 'load', { result: 'ok' }]]);
        assert.equal(of(loaded, 'storage_written')[0].key, '__clerk_client_jwt');

        await driver.step({ event: 'sign_in' });
        const signed = await driver.step({ event: 'advance', ms: 1000 });
        assert.deepEqual(signed.obs.view, { route: { screen: 'protected', path: '/home' }, is_loaded: true, is_signed_in: true, session: { id: 'sess_1', status: 'active' } });
        const token = await driver.step({ event: 'get_token' });
        const settled = of(token, 'call_settled')[0];
        assert.equal(settled.result.result, 'token', JSON.stringify(token));
        assert.equal(claims(settled.result.jwt).sid, 'sess_1');
        // The token setActive fetched at sign-in (t ≈ 0.2 s), served from clerk-js's cache.
        assert.equal(claims(settled.result.jwt).iat, EPOCH_S);
        await driver.step({ event: 'api_call', path: '/orders' });
        const api = await driver.step({ event: 'advance', ms: 100 });
        assert.deepEqual(of(api, 'backend_hit').map((h) => h.status), [200]);
        assert.deepEqual(of(api, 'call_settled').map((h) => [h.kind, h.result]), [['api_call', { result: 'ok' }]]);
      },
      { SESSION_HARNESS_CLERK_EXPO_DIR: join(ADAPTER_DIR, 'versions', version) },
    );
  });
}

test('AppState: the background holds timers; on return the Shell listener starts the foreground refresh', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    const away = await driver.step({ event: 'app_state', state: 'background' });
    assert.deepEqual(away.obs.happenings, []);
    const waited = await driver.step({ event: 'advance', ms: 50_000 });
    assert.equal(of(waited, 'request_sent').length, 0, 'the refresh due at exp − 17 s is held');
    const back = await driver.step({ event: 'app_state', state: 'active' });
    assert.deepEqual(
      back.obs.happenings.map((x) => [x.what, x.at, x.call ?? null, x.kind ?? null]),
      [
        ['request_sent', 51_000, null, null],
        ['call_started', 51_000, 3, 'foreground_refresh'],
        ['request_sent', 51_000, 3, null],
      ],
    );
    const settled = await driver.step({ event: 'advance', ms: 1000 });
    assert.equal(claims(of(settled, 'call_settled')[0].result.jwt).iat, EPOCH_S + 51);
  });
});

test('kill and cold start: a new process given the persisted client JWT is signed in again; the memory cache is not', async () => {
  await withDriver(async (driver, server) => {
    const signed = await signedIn(driver, server);
    const writes = signed.obs.happenings.filter((h) => h.what === 'storage_written');
    const storage = { __clerk_client_jwt: writes.at(-1).value };
    const { exit } = await driver.shutdown();
    assert.deepEqual(exit, { code: 0, signal: null });

    const again = new Driver();
    try {
      await again.hello();
      again.nextCall = driver.nextCall;
      const started = await again.start(server, { now_ms: 5000, run: 2, storage });
      assert.deepEqual(of(started, 'storage_read').map((h) => h.key), ['__clerk_client_jwt']);
      const loaded = await again.step({ event: 'advance', ms: 100 });
      assert.equal(loaded.obs.view.is_signed_in, true, JSON.stringify(loaded));
      assert.equal(loaded.obs.view.session.id, signed.obs.view.session.id);
    } finally {
      again.kill();
    }

    // A keychain read that throws at the next launch (start.storage_faults): @clerk/expo's
    // token cache deletes the item and loads an anonymous client (§3, "Device events").
    const faulted = new Driver();
    try {
      await faulted.hello();
      faulted.nextCall = driver.nextCall;
      const started = await faulted.start(server, {
        now_ms: 7000,
        run: 3,
        storage,
        storage_faults: [{ op: 'read', kind: 'throw', count: 2, key: 'client_jwt' }],
      });
      const loaded = await faulted.step({ event: 'advance', ms: 100 });
      const all = [...started.obs.happenings, ...loaded.obs.happenings];
      assert.ok(all.some((h) => h.what === 'storage_deleted' && h.key === '__clerk_client_jwt'), JSON.stringify(all));
      assert.equal(loaded.obs.view.is_signed_in, false, 'the client JWT was deleted: an anonymous client');
      const hang = await faulted.step({ event: 'storage_fault', op: 'read', kind: 'hang', count: 1 });
      assert.equal(hang.ok, false);
      assert.equal(hang.error.kind, 'unsupported');
      assert.match(hang.error.message, /only `throw`/);
      // `clear_faults` reaches an adapter holding a storage fault (its hello says
      // `clear_storage_faults`): the armed read fault is dropped, so the sign-in's request
      // reads the token instead of deleting it.
      const armed = await faulted.step({ event: 'storage_fault', op: 'read', kind: 'throw', count: 1, key: 'client_jwt' });
      assert.equal(armed.ok, true, JSON.stringify(armed));
      const cleared = await faulted.step({ event: 'clear_faults' });
      assert.equal(cleared.ok, true, JSON.stringify(cleared));
      const signed = await faulted.step({ event: 'sign_in' });
      const after = [...signed.obs.happenings, ...(await faulted.step({ event: 'advance', ms: 500 })).obs.happenings];
      assert.ok(after.some((h) => h.what === 'storage_read' && h.key === '__clerk_client_jwt'), JSON.stringify(after));
      assert.ok(!after.some((h) => h.what === 'storage_deleted'), JSON.stringify(after));
    } finally {
      faulted.kill();
    }

    const memory = new Driver();
    try {
      await memory.hello();
      const started = await memory.start(server, {
        now_ms: 9000,
        run: 4,
        storage,
        settings: { token_cache: 'memory', resource_cache: false, treat_pending_as_signed_out: true, fapi_latency_ms: 50, backend_latency_ms: 50 },
      });
      assert.equal(of(started, 'storage_read').length, 0, 'no tokenCache prop: the provider uses MemoryTokenCache');
      const loaded = await memory.step({ event: 'advance', ms: 100 });
      assert.equal(loaded.obs.view.is_signed_in, false);
      assert.equal(of(loaded, 'storage_written').length, 0);
    } finally {
      memory.kill();
    }
  });
});

/** The settings of a run with `@clerk/expo/resource-cache`. */
const WITH_RESOURCE_CACHE = { token_cache: 'secure_store', resource_cache: true, treat_pending_as_signed_out: true, fapi_latency_ms: 50, backend_latency_ms: 50 };

/** Applies the storage happenings of `replies` to `storage`, as the harness does. */
function persist(storage, replies) {
  for (const reply of replies) {
    for (const h of reply.obs.happenings) {
      if (h.what === 'storage_written') storage[h.key] = h.value;
      if (h.what === 'storage_deleted') delete storage[h.key];
    }
  }
  return storage;
}

test('the resource cache: its items are stored in slots and reported whole under their harness names; a cold start offline loads signed in from them', async () => {
  await withDriver(async (driver, server) => {
    await driver.hello();
    const replies = [await driver.start(server, { settings: WITH_RESOURCE_CACHE })];
    replies.push(await driver.step({ event: 'advance', ms: 100 }));
    replies.push(await driver.step({ event: 'sign_in' }));
    replies.push(await driver.step({ event: 'advance', ms: 1000 }));
    const signed = replies.at(-1);
    assert.equal(signed.obs.view.is_signed_in, true, JSON.stringify(signed));
    const storage = persist({}, replies);
    const client = JSON.parse(storage.__clerk_cache_client);
    assert.ok(client.sessions.some((x) => x.id === signed.obs.view.session.id && x.status === 'active'), storage.__clerk_cache_client);
    assert.ok(storage.__clerk_cache_environment.length > 0);
    assert.equal(claims(storage.__clerk_cache_session_jwt).sid, signed.obs.view.session.id);
    // The package's own layout under the key `<name>_<last 5 of the publishable key>`.
    const suffix = server.publishableKey.slice(-5);
    assert.match(storage[`__clerk_cache_client_${suffix}-latest`], /^[AB]$/);
    await driver.shutdown();

    const again = new Driver();
    try {
      await again.hello();
      again.nextCall = driver.nextCall;
      const started = await again.start(server, { now_ms: 5000, run: 2, storage, network: 'offline', settings: WITH_RESOURCE_CACHE });
      const loaded = await again.step({ event: 'advance', ms: 100 });
      // clerk-js tries the load's GETs once with a resource cache, then loads from it.
      assert.equal(started.obs.view.is_signed_in, true, JSON.stringify(started));
      assert.equal(loaded.obs.view.session.id, signed.obs.view.session.id);
      assert.deepEqual(
        of(started, 'storage_read').map((h) => h.key).filter((k) => !k.includes('-')),
        ['__clerk_client_jwt', '__clerk_cache_environment', '__clerk_cache_client'],
      );
    } finally {
      again.kill();
    }
  });
});

test('protocol errors: bad requests are named, shutdown exits 0', async () => {
  await withDriver(async (driver, server) => {
    await driver.hello();
    const early = await driver.request({ cmd: 'step', event: { event: 'get_token' }, call_base: 1 });
    assert.equal(early.error.kind, 'bad_request');
    const resource = await driver.start(server, { settings: { ...WITH_RESOURCE_CACHE, resource_cache: 'yes' } });
    assert.equal(resource.error.kind, 'bad_request');
    assert.match(resource.error.message, /resource_cache/);
    await driver.start(server);
    assert.equal((await driver.step({ event: 'js_reload' })).error.kind, 'bad_request');
    const unknown = await driver.step({ event: 'teleport' });
    assert.match(unknown.error.message, /accepted: advance/);
    const { reply, exit } = await driver.shutdown();
    assert.equal(reply.ok, true);
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});

/** One fixed run, on a fresh server on `port`; returns the driver's stdout lines. */
async function transcript(port) {
  return withDriver(
    async (driver, server) => {
      await driver.hello();
      await driver.start(server);
      const events = [
        { event: 'navigate', path: '/cart' },
        { event: 'advance', ms: 100 },
        { event: 'sign_in' },
        { event: 'get_token' },
        { event: 'api_call', path: '/orders' },
        { event: 'advance', ms: 45_000 },
        { event: 'app_state', state: 'background' },
        { event: 'advance', ms: 30_000 },
        { event: 'app_state', state: 'active' },
        { event: 'network', state: 'offline' },
        { event: 'get_token', skip_cache: true },
        { event: 'advance', ms: 5_000 },
        { event: 'network', state: 'online' },
        { event: 'advance', ms: 10_000 },
        { event: 'sign_out' },
        { event: 'advance', ms: 1_000 },
      ];
      for (const event of events) await driver.step(event);
      await driver.shutdown();
      return driver.transcript;
    },
    {},
    port,
  );
}

test('determinism: the same events twice give byte-identical replies (React renders included)', async () => {
  const port = await freePort();
  const first = await transcript(port);
  const second = await transcript(port);
  assert.ok(first.length > 15);
  assert.deepEqual(second, first);
});
