// dev-client.mjs: the real @clerk/clerk-js React Native build (dist/clerk.native.js), run in
// Node 20 the way @clerk/expo runs it on a phone, pointed at the session-harness dev server
// (`cargo xtask serve`) with nothing but the printed publishable key and proxy URL.
//
// This is NOT the harness adapter (no fake timers, no harness-owned storage): it is what an
// app does, so a person can watch the emulator from a real SDK and the serve tests can prove
// the printed values are enough.
//
// Run:   node --conditions=react-native dev-client.mjs
// Env:   CLERK_PUBLISHABLE_KEY, CLERK_PROXY_URL   (required: the values `xtask serve` printed)
//        TEST_USER_IDENTIFIER, TEST_USER_PASSWORD (optional defaults for `sign_in`)
//        CLIENT_JWT_FILE  (optional: persist the client JWT there, like expo-secure-store)
// Input: one JSON command per line on stdin, run in order:
//        {"cmd":"sign_in"[,"identifier":…,"password":…]}   {"cmd":"get_token"[,"skip_cache":true]}
//        {"cmd":"state"}  {"cmd":"sign_out"}  {"cmd":"wait","ms":N}  {"cmd":"exit"}
//        Any command may carry an "id", echoed in its reply.
// Output: one JSON event per line on stdout: {"event":"ready"|"loaded"|"auth"|"reply"|"error", …}.
//        `auth` is emitted by clerk-js's own listener whenever its session changes.
// Exits when stdin ends and every command has run, on `exit`, or on a fatal error (code 1).

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const started = Date.now();
const emit = (event, fields = {}) =>
  process.stdout.write(JSON.stringify({ event, t_ms: Date.now() - started, ...fields }) + '\n');
const fail = (message) => {
  emit('error', { fatal: true, message });
  process.exit(1);
};

const publishableKey = process.env.CLERK_PUBLISHABLE_KEY;
const proxyUrl = process.env.CLERK_PROXY_URL;
if (!publishableKey || !proxyUrl) {
  fail('set CLERK_PUBLISHABLE_KEY and CLERK_PROXY_URL to the values `cargo xtask serve` printed');
}

// What React Native provides and Node does not, and the reverse (reference §5):
// - `window` exists on RN; clerk-js's signOut and online checks read it.
// - `navigator` without `onLine`: RN always counts as online.
// - no BroadcastChannel on RN; in Node it would also keep the process alive.
globalThis.window = globalThis;
Object.defineProperty(globalThis, 'navigator', {
  value: { product: 'ReactNative', userAgent: 'session-harness-dev-client' },
  configurable: true,
});
delete globalThis.BroadcastChannel;

const require = createRequire(import.meta.url);
const entry = require.resolve('@clerk/clerk-js');
if (!entry.endsWith('clerk.native.js')) {
  fail(`@clerk/clerk-js resolved to ${entry}; run node with --conditions=react-native`);
}
const { Clerk } = require('@clerk/clerk-js');

// The token cache, as @clerk/expo's `tokenCache` prop: expo-secure-store on a phone, a file
// (CLIENT_JWT_FILE) or memory here. Key as in @clerk/expo's constants.
const CLIENT_JWT_KEY = '__clerk_client_jwt';
const jwtFile = process.env.CLIENT_JWT_FILE;
const memory = new Map();
const tokenCache = {
  async getToken(key) {
    if (jwtFile) {
      try {
        return JSON.parse(readFileSync(jwtFile, 'utf8'))[key] ?? null;
      } catch {
        return null;
      }
    }
    return memory.get(key) ?? null;
  },
  async saveToken(key, value) {
    if (jwtFile) {
      let all = {};
      try {
        all = JSON.parse(readFileSync(jwtFile, 'utf8'));
      } catch {}
      all[key] = value;
      writeFileSync(jwtFile, JSON.stringify(all));
    } else {
      memory.set(key, value);
    }
  },
};

const clerk = new Clerk(publishableKey, { proxyUrl });

// The hooks @clerk/expo installs on native (createClerkInstance.ts, reference §3.1).
clerk.__internal_onBeforeRequest(async (requestInit) => {
  requestInit.credentials = 'omit';
  requestInit.url?.searchParams.append('_is_native', '1');
  const jwt = await tokenCache.getToken(CLIENT_JWT_KEY);
  requestInit.headers.set('authorization', jwt || '');
  requestInit.headers.set('x-mobile', '1');
});
clerk.__internal_onAfterResponse(async (_requestInit, response) => {
  const authHeader = response?.headers.get('authorization');
  if (authHeader) {
    await tokenCache.saveToken(CLIENT_JWT_KEY, authHeader);
  }
});

const claimsOf = (jwt) => {
  try {
    const { sid, exp, iat, sts } = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
    return { sid, exp, iat, sts };
  } catch {
    return null;
  }
};
const stateOf = () => ({
  loaded: clerk.loaded,
  status: clerk.status,
  signed_in: !!clerk.session,
  session_id: clerk.session?.id ?? null,
  session_status: clerk.session?.status ?? null,
});
const describe = (e) => ({
  name: e?.name ?? typeof e,
  message: String(e?.message ?? e),
  status: e?.status ?? null,
  code: e?.errors?.[0]?.code ?? e?.code ?? null,
  retry_after: e?.retryAfter ?? null,
});

process.on('unhandledRejection', (e) => emit('error', { fatal: false, unhandled: true, ...describe(e) }));

let lastSession;
clerk.addListener(({ session }) => {
  // `undefined` is clerk-js's transitive state during sign-out; report only settled changes.
  if (session === undefined) return;
  const id = session?.id ?? null;
  const key = `${id}/${session?.status ?? null}`;
  if (key === lastSession) return;
  lastSession = key;
  emit('auth', { session_id: id, session_status: session?.status ?? null, signed_in: !!session });
});

const commands = {
  async sign_in({ identifier, password }) {
    const signIn = await clerk.client.signIn.create({
      identifier: identifier ?? process.env.TEST_USER_IDENTIFIER,
      password: password ?? process.env.TEST_USER_PASSWORD,
      strategy: 'password',
    });
    await clerk.setActive({ session: signIn.createdSessionId });
    return { sign_in_status: signIn.status, ...stateOf() };
  },
  async get_token({ skip_cache }) {
    const began = Date.now();
    if (!clerk.session) return { token: null, ...stateOf() };
    const jwt = await clerk.session.getToken(skip_cache ? { skipCache: true } : undefined);
    return { token: jwt ? claimsOf(jwt) : null, took_ms: Date.now() - began, ...stateOf() };
  },
  async state() {
    return stateOf();
  },
  async sign_out() {
    await clerk.signOut();
    return stateOf();
  },
  async wait({ ms }) {
    await new Promise((resolve) => setTimeout(resolve, Number(ms) || 0));
    return stateOf();
  },
  async exit() {
    process.exit(0);
  },
};

try {
  // As @clerk/expo's provider loads it on native; telemetry off: dev keys would post to
  // clerk-telemetry.com, and nothing here may leave the machine.
  await clerk.load({
    standardBrowser: false,
    telemetry: false,
    experimental: { runtimeEnvironment: 'headless' },
  });
} catch (e) {
  fail(`clerk.load() failed: ${describe(e).message}`);
}
emit('loaded', { clerk_version: Clerk.version ?? null, entry: 'clerk.native.js', ...stateOf() });

// Commands run one at a time, in order; clerk-js's own timers keep running in between.
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let command;
  try {
    command = JSON.parse(line);
  } catch (e) {
    emit('error', { fatal: false, message: `not JSON: ${line}` });
    continue;
  }
  const run = commands[command.cmd];
  if (!run) {
    emit('error', { fatal: false, id: command.id, message: `unknown cmd \`${command.cmd}\``, accepted: Object.keys(commands) });
    continue;
  }
  try {
    emit('reply', { id: command.id, cmd: command.cmd, ok: true, ...(await run(command)) });
  } catch (e) {
    emit('reply', { id: command.id, cmd: command.cmd, ok: false, error: describe(e), ...stateOf() });
  }
}
process.exit(0);
