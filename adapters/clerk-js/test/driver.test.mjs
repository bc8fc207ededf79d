// test/driver.test.mjs: the clerk-js driver over its stdin/stdout, as the harness drives it,
// against the real FAPI emulator and backend (a fresh `cargo xtask serve` per test).
//
// Run: node --conditions=react-native --test adapters/clerk-js/test/
// Env: SESSION_HARNESS_SERVE (see ../test-support.mjs), CARGO_TARGET_DIR (passed to cargo).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Driver, EPOCH_UNIX_MS, admin, claims, freePort, startServer } from '../test-support.mjs';

/** Seconds of the harness epoch: a token minted at virtual ms `t` has iat EPOCH_S + ⌊t/1000⌋. */
const EPOCH_S = EPOCH_UNIX_MS / 1000;
/** clerk-js 6.x arms its refresh (exp − now − 15 − 2) s after a token resolves (reference §1.2). */
const REFRESH_LEAD_S = 17;

const tokensPath = /\/v1\/client\/sessions\/[^/]+\/tokens(\?|$)/;
const of = (reply, what) => reply.obs.happenings.filter((h) => h.what === what);

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

/** Starts and signs in; returns the sign-in's happenings. */
async function signedIn(driver, server) {
  await driver.hello();
  await driver.start(server);
  await driver.step({ event: 'sign_in' });
  const settled = await driver.step({ event: 'advance', ms: 1000 });
  assert.equal(settled.obs.view.is_signed_in, true, JSON.stringify(settled));
  return settled;
}

test('hello, start, loaded signed out, sign-in, a token minted at the virtual instant', async () => {
  await withDriver(async (driver, server) => {
    const hello = await driver.hello();
    assert.deepEqual(hello, {
      hello: 'session-harness-adapter',
      protocol: 2,
      sdk: '@clerk/clerk-js',
      version: '6.40.0',
      entry: 'dist/clerk.native.js',
      fidelity: 'observable',
    });

    const started = await driver.start(server);
    assert.equal(started.ok, true, JSON.stringify(started));
    assert.equal(started.next_call, 2, 'the load call took call_base');
    assert.deepEqual(started.obs.view.route, { screen: 'loading' });
    const sent = of(started, 'request_sent');
    assert.deepEqual(
      sent.map((h) => [new URL(h.url).pathname, h.call, new URL(h.url).searchParams.get('_is_native')]),
      [
        ['/__clerk/v1/environment', 1, '1'],
        ['/__clerk/v1/client', 1, '1'],
      ],
    );

    const loaded = await driver.step({ event: 'advance', ms: 100 });
    assert.deepEqual(loaded.obs.view, {
      route: { screen: 'sign_in', return_to: null },
      is_loaded: true,
      is_signed_in: false,
      session: null,
    });
    // The answers reached JS after the 50 ms latency; the rotated client JWT was persisted.
    assert.deepEqual(of(loaded, 'request_done').map((h) => [h.at, h.status]), [[50, 200], [50, 200]]);
    const written = of(loaded, 'storage_written');
    assert.equal(written.length, 1, JSON.stringify(loaded));
    assert.equal(written[0].key, '__clerk_client_jwt');
    assert.deepEqual(of(loaded, 'call_settled').map((h) => [h.call, h.kind, h.result]), [[1, 'load', { result: 'ok' }]]);

    const signIn = await driver.step({ event: 'sign_in' });
    assert.deepEqual(of(signIn, 'call_started').map((h) => [h.call, h.kind]), [[2, 'sign_in']]);
    const after = await driver.step({ event: 'advance', ms: 1000 });
    assert.equal(after.obs.view.is_signed_in, true);
    assert.equal(after.obs.view.session.status, 'active');
    assert.match(after.obs.view.session.id, /^sess_/);
    assert.deepEqual(after.obs.view.route, { screen: 'protected', path: '/home' });
    assert.equal(after.obs.open_calls, 0);

    const got = await driver.step({ event: 'get_token', skip_cache: true });
    assert.equal(got.obs.now_ms, 1100);
    const fresh = await driver.step({ event: 'advance', ms: 1000 });
    const settled = of(fresh, 'call_settled');
    assert.equal(settled.length, 1, JSON.stringify(fresh));
    assert.equal(settled[0].result.result, 'token');
    const token = claims(settled[0].result.jwt);
    assert.equal(token.iat, EPOCH_S + 1, 'minted at virtual 1100 ms, sent then');
    assert.equal(token.sid, after.obs.view.session.id);
    // Every request carried the virtual instant and the run/request tag; checked on the wire
    // by the emulator's log.
    const log = await admin(server, 'GET', '/log');
    assert.equal(log.status, 200);
    const tokenEntry = log.body.entries.find((e) => tokensPath.test(e.path));
    assert.ok(tokenEntry, JSON.stringify(log.body.entries));
  });
});

test('two minutes of virtual time: the proactive refresh fires at exp − 17 s, off any call', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    const advanced = await driver.step({ event: 'advance', ms: 120_000 });
    assert.equal(advanced.obs.now_ms, 121_000);
    const refreshes = of(advanced, 'request_sent').filter((h) => tokensPath.test(h.url));
    assert.ok(refreshes.length >= 2, JSON.stringify(advanced.obs.happenings));
    for (const r of refreshes) assert.equal(r.call, undefined, 'a background refresh serves no call');
    // Each refresh is due (exp − ⌊now⌋ − 17) s after the previous token reached JS: the touch
    // at 150 ms delivered a token minted at 100 ms, each refresh's answer the next one.
    let deliveredAt = 150;
    let exp = EPOCH_S + 60;
    for (const r of refreshes) {
      const expected = deliveredAt + (exp - Math.floor((EPOCH_UNIX_MS + deliveredAt) / 1000) - REFRESH_LEAD_S) * 1000;
      assert.equal(r.at, expected, JSON.stringify(advanced.obs.happenings));
      const done = of(advanced, 'request_done').find((h) => h.req === r.req);
      assert.equal(done.status, 200);
      deliveredAt = done.at;
      exp = EPOCH_S + Math.floor(r.at / 1000) + 60;
    }
    assert.deepEqual(refreshes.map((r) => r.at), [43_150, 86_200]);
    // The cache holds the last refresh's token.
    const cached = await driver.step({ event: 'get_token' });
    const token = claims(of(cached, 'call_settled')[0].result.jwt);
    assert.equal(token.iat, EPOCH_S + 86);
    assert.equal(of(cached, 'request_sent').length, 0);
  });
});

test('the background holds the refresh timer; it runs at the return instant before the foreground refresh', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    const away = await driver.step({ event: 'app_state', state: 'background' });
    assert.deepEqual(away.obs.happenings, []);
    const waited = await driver.step({ event: 'advance', ms: 50_000 });
    assert.equal(of(waited, 'request_sent').length, 0, 'the refresh due at 43 150 ms is held');
    // A UI event in the background does nothing: a user cannot tap a backgrounded app.
    const tapped = await driver.step({ event: 'get_token' });
    assert.deepEqual(tapped.obs.happenings, []);
    assert.equal(tapped.next_call, driver.nextCall);

    const back = await driver.step({ event: 'app_state', state: 'active' });
    const h = back.obs.happenings;
    assert.deepEqual(
      h.map((x) => [x.what, x.at, x.call ?? null, x.kind ?? null]),
      [
        ['request_sent', 51_000, null, null],
        ['call_started', 51_000, 3, 'foreground_refresh'],
        ['request_sent', 51_000, 3, null],
      ],
    );
    assert.equal(back.obs.in_flight, 2);
    const settled = await driver.step({ event: 'advance', ms: 1000 });
    const refresh = of(settled, 'call_settled');
    assert.equal(refresh[0].kind, 'foreground_refresh');
    assert.equal(claims(refresh[0].result.jwt).iat, EPOCH_S + 51);
  });
});

test('a response that arrives in the background reaches JS on return, the request done when it arrived', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    await driver.step({ event: 'get_token', skip_cache: true });
    await driver.step({ event: 'app_state', state: 'background' });
    const waited = await driver.step({ event: 'advance', ms: 1000 });
    // The network runs: the answer arrived at 1 050 ms; JS did not see it.
    assert.deepEqual(waited.obs.happenings.map((h) => [h.what, h.at]), [['request_done', 1050]]);
    assert.equal(waited.obs.in_flight, 1, 'held answers are still in flight');
    assert.equal(waited.obs.open_calls, 1);
    const back = await driver.step({ event: 'app_state', state: 'active' });
    const settled = of(back, 'call_settled');
    assert.equal(settled[0].at, 2000, 'delivered at the return instant');
    assert.equal(settled[0].kind, 'get_token');
    assert.equal(claims(settled[0].result.jwt).iat, EPOCH_S + 1, 'minted when sent');
  });
});

test('offline: a request fails at once; the API wrapper settles with status 0 without reaching the backend', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    await driver.step({ event: 'network', state: 'offline' });
    const api = await driver.step({ event: 'api_call', path: '/orders' });
    assert.deepEqual(of(api, 'call_settled').map((h) => [h.kind, h.at, h.result]), [
      ['api_call', 1000, { result: 'error', status: 0, code: 'network_error' }],
    ]);
    assert.equal(of(api, 'backend_hit').length, 0);

    const token = await driver.step({ event: 'get_token', skip_cache: true });
    const sent = of(token, 'request_sent');
    const done = of(token, 'request_done');
    assert.equal(sent.length, 1);
    assert.deepEqual(done, [{ what: 'request_done', at: 1000, req: sent[0].req, network_error: true }]);
    // React Native counts as online: clerk-js retries after 3 s (reference §1.1).
    const retried = await driver.step({ event: 'advance', ms: 3000 });
    assert.deepEqual(of(retried, 'request_sent').map((h) => h.at), [4000]);
    await driver.step({ event: 'network', state: 'online' });
    const back = await driver.step({ event: 'advance', ms: 5000 });
    const settled = of(back, 'call_settled');
    assert.equal(settled[0].result.result, 'token', JSON.stringify(back.obs.happenings));
    assert.equal(settled[0].at, 4000 + 4650 + 50);
  });
});

test('a revoked session: the API wrapper shares one refresh after 401s, then the user is signed out', async () => {
  await withDriver(async (driver, server) => {
    const signed = await signedIn(driver, server);
    const sid = signed.obs.view.session.id;
    await driver.step({ event: 'navigate', path: '/cart' });
    const ok = await driver.step({ event: 'api_call', path: '/orders' });
    assert.equal(ok.obs.in_flight, 1);
    const hit = await driver.step({ event: 'advance', ms: 100 });
    assert.deepEqual(of(hit, 'backend_hit').map((h) => [h.attempt, h.sent_at, h.at, h.status]), [[1, 1000, 1050, 200]]);

    const revoked = await admin(server, 'POST', `/sessions/${sid}/revoke`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await driver.step({ event: 'api_call', path: '/orders' });
    await driver.step({ event: 'api_call', path: '/cart' });
    const out = await driver.step({ event: 'advance', ms: 1000 });
    const tokenRequests = of(out, 'request_sent').filter((h) => tokensPath.test(h.url));
    assert.equal(tokenRequests.length, 1, 'one refresh for both callers');
    assert.deepEqual(of(out, 'backend_hit').map((h) => h.status), [401, 401]);
    assert.deepEqual(of(out, 'signed_out').map((h) => h.cause), ['client_payload']);
    const settled = of(out, 'call_settled');
    assert.deepEqual(settled.map((h) => [h.kind, h.result.status]), [
      ['api_call', 401],
      ['api_call', 401],
    ]);
    assert.deepEqual(out.obs.view.route, { screen: 'sign_in', return_to: '/cart' });
    assert.equal(out.obs.open_calls, 0);
  });
});

test('getToken({template}): the real clerk-js asks /tokens/{template}; a template the instance lacks is a 404, not retried', async () => {
  await withDriver(async (driver, server) => {
    await signedIn(driver, server);
    const asked = await driver.step({ event: 'get_token', template: 'supabase' });
    const sent = of(asked, 'request_sent').map((h) => new URL(h.url).pathname);
    assert.equal(sent.length, 1, JSON.stringify(asked.obs.happenings));
    assert.match(sent[0], /\/v1\/client\/sessions\/[^/]+\/tokens\/supabase$/);
    const answered = await driver.step({ event: 'advance', ms: 30_000 });
    // One request only: a 4xx other than 429 is final for getToken's retry.
    assert.equal(of(answered, 'request_sent').filter((h) => /tokens\/supabase/.test(h.url)).length, 0);
    const settled = of(answered, 'call_settled');
    assert.equal(settled.length, 1, JSON.stringify(answered.obs.happenings));
    assert.deepEqual([settled[0].result.result, settled[0].result.status, settled[0].result.code], ['error', 404, 'resource_not_found']);
    assert.equal(answered.obs.view.is_signed_in, true, 'the session lives on');
    const bad = await driver.step({ event: 'get_token', template: 'a/b' });
    assert.equal(bad.error.kind, 'bad_request');
    assert.match(bad.error.message, /template/);
  });
});

test('a task: the pending session routes to it, and completing it lands on the remembered path', async () => {
  await withDriver(async (driver, server) => {
    await driver.hello();
    await driver.start(server);
    await driver.step({ event: 'advance', ms: 100 });
    await driver.step({ event: 'navigate', path: '/checkout' });
    // The harness arms the emulator's next sign-in with the task (§9).
    const armed = await admin(server, 'POST', '/sign-in-task', { task: 'setup-mfa' });
    assert.equal(armed.status, 200);
    await driver.step({ event: 'sign_in', task: 'setup-mfa' });
    const pending = await driver.step({ event: 'advance', ms: 1000 });
    assert.deepEqual(pending.obs.view.route, { screen: 'task', key: 'setup-mfa' });
    assert.equal(pending.obs.view.is_signed_in, false, 'treat_pending_as_signed_out');
    assert.equal(pending.obs.view.session.status, 'pending');
    await driver.step({ event: 'complete_task' });
    const done = await driver.step({ event: 'advance', ms: 1000 });
    assert.deepEqual(done.obs.view.route, { screen: 'protected', path: '/checkout' });
    assert.equal(done.obs.view.session.status, 'active');
  });
});

test('kill and cold start: a new process with the persisted client JWT is signed in again', async () => {
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

    // With the memory token cache nothing is persisted, and a new process starts signed out.
    const memory = new Driver();
    try {
      await memory.hello();
      const started = await memory.start(server, {
        now_ms: 9000,
        run: 3,
        storage,
        settings: { token_cache: 'memory', resource_cache: false, treat_pending_as_signed_out: true, fapi_latency_ms: 50, backend_latency_ms: 50 },
      });
      assert.equal(of(started, 'storage_read').length, 0);
      const loaded = await memory.step({ event: 'advance', ms: 100 });
      assert.equal(loaded.obs.view.is_signed_in, false);
      assert.equal(of(loaded, 'storage_written').length, 0);
    } finally {
      memory.kill();
    }
  });
});

test('protocol errors: bad requests are named, harness events refused, shutdown exits 0 at once', async () => {
  await withDriver(async (driver, server) => {
    await driver.hello();
    const early = await driver.request({ cmd: 'step', event: { event: 'get_token' }, call_base: 1 });
    assert.equal(early.ok, false);
    assert.equal(early.error.kind, 'bad_request');
    assert.match(early.error.message, /before `start`/);
    const resource = await driver.start(server, {
      settings: { token_cache: 'secure_store', resource_cache: true, treat_pending_as_signed_out: true, fapi_latency_ms: 50, backend_latency_ms: 50 },
    });
    assert.equal(resource.error.kind, 'unsupported');
    await driver.start(server);
    const own = await driver.step({ event: 'kill' });
    assert.equal(own.error.kind, 'bad_request');
    const unknown = await driver.step({ event: 'teleport' });
    assert.equal(unknown.error.kind, 'bad_request');
    assert.match(unknown.error.message, /accepted: advance/);
    const badField = await driver.step({ event: 'advance', ms: -1 });
    assert.equal(badField.error.kind, 'bad_request');
    const { reply, exit } = await driver.shutdown();
    assert.equal(reply.ok, true);
    assert.deepEqual(exit, { code: 0, signal: null });
  });
});

/** One fixed run, on a fresh server on `port`; returns the driver's stdout lines. */
async function transcript(port) {
  return withDriver(async (driver, server) => {
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
  }, {}, port);
}

test('determinism: the same events twice give byte-identical replies', async () => {
  // The same port for both servers: request URLs name it.
  const port = await freePort();
  const first = await transcript(port);
  const second = await transcript(port);
  assert.ok(first.length > 15);
  assert.deepEqual(second, first);
});
