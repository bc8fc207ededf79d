// protocol.mjs: the adapter protocol's side that both Node drivers share (docs/adapter-protocol.md
// §2–§3). Owns stdout (protocol lines only), the JSON-lines loop (one request at a time,
// exactly one reply each), the hello line, request framing and error kinds, the fields of
// `start` that every driver reads, `step` (its events checked, the clock run, the app
// observed) and `shutdown`.
//
// What stays each driver's (adapters/clerk-js/driver.mjs, adapters/clerk-expo/driver.mjs):
// the SDK it finds and loads, what `start` builds (realm, globals, SDK, shell; the parts
// built alike are launch.mjs), whether it answers `end` (protocol 2's warm launches,
// clerk-js only), and the running app, which it hands to `serve` as a getter. Node built-ins only: adapters/shared/ has no node_modules.

import { Console } from 'node:console';

/** Longest request line accepted (§2). */
export const LINE_BYTES_MAX = 1024 * 1024;
/** The harness epoch (harness/src/model/time.rs EPOCH_UNIX_MS): virtual ms 0 in Unix ms. */
export const EPOCH_UNIX_MS = 1_767_225_600_000;
/** Events the harness keeps to itself (§3): never sent to an adapter. */
const HARNESS_EVENTS = ['cold_start', 'kill', 'js_reload', 'reinstall', 'revoke', 'expire_now', 'abandon_now', 'replace', 'fault', 'clear_faults'];
/**
 * Device events (§3): the storage, protection state and OS wakes of the device the adapter's
 * SDK runs on. These drivers keep their storage in a plain map with no failure modes, so they
 * answer `unsupported` and the harness skips the scenario or case.
 */
const DEVICE_EVENTS = ['storage_fault', 'lock_device', 'unlock_device', 'reboot', 'background_wake', 'restore_backup', 'device_sleep', 'clock_skew', 'app_state_fault'];

// ---------------------------------------------------------------------- stdout is ours

let writeProtocol = null;
const send = (object) => writeProtocol(`${JSON.stringify(object)}\n`);

/**
 * Keeps stdout for protocol lines. Anything else that writes there (the SDK's console, a
 * stray library) goes to stderr, which the harness keeps as a log. A driver calls it before
 * it loads anything that could print.
 */
export function takeStdout() {
  writeProtocol = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const method of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table', 'group', 'groupEnd']) {
    if (typeof toStderr[method] === 'function') console[method] = toStderr[method].bind(toStderr);
  }
}

// ------------------------------------------------------------------------ the requests

export class ProtocolError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}
export const badRequest = (message) => new ProtocolError('bad_request', message);
export const unsupported = (message) => new ProtocolError('unsupported', message);

export function field(object, name, type, where) {
  const value = object[name];
  const ok = type === 'array' ? Array.isArray(value) : type === 'integer' ? Number.isSafeInteger(value) && value >= 0 : typeof value === type && value !== null;
  if (!ok) throw badRequest(`${where}: \`${name}\` must be ${type === 'integer' ? 'a whole number ≥ 0' : `a ${type}`}, got ${JSON.stringify(value)}`);
  return value;
}

export function oneOf(value, accepted, where) {
  if (!accepted.includes(value)) {
    throw badRequest(`${where}: ${JSON.stringify(value)}; accepted: ${accepted.join(', ')}`);
  }
  return value;
}

/**
 * The fields of `start` every driver reads, checked in this order (the first bad one is the
 * error). `settings.resource_cache` and the storage values are checked after, by the driver
 * then `checkStorage`, as each supports the cache or not.
 */
export function startFields(request) {
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
  return { nowMs, run, callBase, fapiUrl, backendUrl, publishableKey, platform, settings, storage, appState, network, tokenCache, fapiLatency, backendLatency };
}

/** Storage values are strings (§3). */
export function checkStorage(storage) {
  for (const [key, value] of Object.entries(storage)) {
    if (typeof value !== 'string') throw badRequest(`start \`storage.${key}\`: values are strings, got ${JSON.stringify(value)}`);
  }
}

/**
 * Runs the clock to `target` (virtual ms), renders after every job, and observes. `app` is
 * the driver's running app: `{clock, shell, net, virtual, offset, take, fatal?}` (`fatal`: an
 * error React reported, which fails the request).
 */
export async function settleAndObserve(app, target) {
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
    // `template` (protocol 2, optional): a JWT template's name, a URL path segment.
    if (e.template !== undefined && e.template !== null
        && (typeof e.template !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(e.template))) {
      throw badRequest(`get_token \`template\` must be a template name (A-Z a-z 0-9 _ -, 1 to 32), got ${JSON.stringify(e.template)}`);
    }
  },
  api_call: (e) => field(e, 'path', 'string', 'api_call'),
  navigate: (e) => field(e, 'path', 'string', 'navigate'),
  session_end: () => {},
  session_remove: () => {},
  sign_out: () => {},
  set_active: () => {},
  // §11: the harness made the native sign-in; `native_events` carries what the module sends.
  native_sign_in: () => {},
};

async function step(app, request) {
  if (!app) throw badRequest('`step` before `start`: the first request of a process is `start`');
  const event = field(request, 'event', 'object', 'step');
  const callBase = field(request, 'call_base', 'integer', 'step');
  const name = event.event;
  if (name === 'clear_faults' && app.clearStorageFaults) {
    // Sent only to an adapter whose hello says `clear_storage_faults` while it holds a
    // storage fault (§3): the server's faults stay the harness's.
    app.clearStorageFaults();
    return settleAndObserve(app, app.virtual());
  }
  if (HARNESS_EVENTS.includes(name)) {
    throw badRequest(`step: \`${name}\` is the harness's own event and is never sent to an adapter (§3)`);
  }
  if (name === 'network' && event.state === 'hanging') {
    throw unsupported('step: `network: hanging` needs requests that hang until a timeout, which this driver\'s network does not simulate');
  }
  if (name === 'storage_fault' && app.armStorageFault) {
    const refused = app.armStorageFault(event);
    if (refused) throw unsupported(`step: ${refused}`);
    return settleAndObserve(app, app.virtual());
  }
  if (name === 'instance') {
    // The harness refuses setups with several SDK instances before `start` (§3); an event
    // addressed to one is refused here too, should one arrive.
    throw unsupported('step: `instance` addresses a second SDK instance, which this driver does not run');
  }
  if (DEVICE_EVENTS.includes(name)) {
    throw unsupported(`step: \`${name}\` needs the harness's device part (storage faults, lock state, wakes, sleep, clock skew, AppState delivery), which this driver does not simulate`);
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
  if (name === 'native_sign_in') {
    if (!app.emitNative) throw unsupported('step: `native_sign_in` needs a native module, which this driver does not have (§11)');
    const events = request.native_events ?? [];
    if (!Array.isArray(events)) throw badRequest(`step \`native_events\` must be an array, got ${JSON.stringify(events)}`);
    for (const e of events) {
      if (!e || typeof e.name !== 'string') throw badRequest(`step \`native_events\`: each is {name, body}, got ${JSON.stringify(e)}`);
      app.emitNative(e.name, e.body);
    }
  } else {
    await shell.apply(event);
  }
  return settleAndObserve(app, target);
}

// ------------------------------------------------------------- the native module (§11)

/** Native calls sent and not yet answered, by `seq`. */
const nativePending = new Map();
let nativeSeq = 0;

/**
 * Sends one call of the `ClerkExpo` module to the harness's native layer and returns a
 * promise of its answer `{ok, value, code, message}` (§11). The caller counts it as I/O in
 * flight (the clock's `trackIo`), so the world is not idle until the answer is in.
 */
export function nativeCall(call, token, atMs) {
  nativeSeq += 1;
  const seq = nativeSeq;
  const answer = new Promise((resolve) => nativePending.set(seq, resolve));
  send({ native: { seq, call, token: token ?? null, at_ms: atMs } });
  return answer;
}

/** A `native_answer` line: resolves its call. Unknown `seq`s are reported on stderr. */
function nativeAnswer(line) {
  let body;
  try {
    body = JSON.parse(line).native_answer;
  } catch (e) {
    process.stderr.write(`a native_answer line that is not JSON (${e.message}): ${line.slice(0, 200)}\n`);
    return;
  }
  const resolve = nativePending.get(body?.seq);
  if (!resolve) {
    process.stderr.write(`a native_answer for no pending call: ${line.slice(0, 200)}\n`);
    return;
  }
  nativePending.delete(body.seq);
  resolve(body);
}

// --------------------------------------------------------------------------- the loop

let shuttingDown = false;

/**
 * Serves the protocol on stdin/stdout until `shutdown` or the end of stdin: sends `hello`
 * first, then answers each request line in turn.
 * @param {object} o
 * @param {object} o.hello the hello line's object
 * @param {number[]} o.versions the request versions (`v`) the driver reads
 * @param {(request: object) => Promise<object>} o.start builds the app; its reply's fields
 * @param {(() => void) | undefined} o.end ends the running launch (protocol 2), if answered
 * @param {() => object | null} o.app the running app (null until `start`)
 */
export function serve({ hello, versions, start, end, app }) {
  // Both wordings are the drivers' own, kept as they were before they shared this loop.
  const versionsText = versions.length === 1 ? `speaks protocol ${versions[0]}` : `reads protocol ${versions.join(' and ')}`;
  const commands = end ? 'start, step, end, shutdown' : 'start, step, shutdown';

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
      if (!versions.includes(request.v)) throw badRequest(`\`v\` is ${JSON.stringify(request.v)}; this adapter ${versionsText}`);
      if (!Number.isSafeInteger(id) || id < 1) throw badRequest(`\`id\` must be a whole number ≥ 1, got ${JSON.stringify(id)}`);
      switch (request.cmd) {
        case 'start':
          return send({ id, ok: true, ...(await start(request)) });
        case 'step':
          return send({ id, ok: true, ...(await step(app(), request)) });
        case 'end':
          if (!end) break;
          end();
          return send({ id, ok: true });
        case 'shutdown':
          writeProtocol(`${JSON.stringify({ id, ok: true })}\n`, () => process.exit(0));
          shuttingDown = true;
          return undefined;
        default:
          break;
      }
      throw badRequest(`unknown \`cmd\` ${JSON.stringify(request.cmd)}; accepted: ${commands}`);
    } catch (e) {
      const kind = e instanceof ProtocolError ? e.kind : 'internal';
      if (kind === 'internal') process.stderr.write(`internal error: ${e?.stack ?? e}\n`);
      // What the failed request reported is dropped with it.
      app()?.take();
      return send({ id: id ?? null, ok: false, error: { kind, message: String(e?.message ?? e) } });
    }
  }

  process.on('unhandledRejection', (e) => process.stderr.write(`unhandled rejection: ${e?.stack ?? e}\n`));

  send(hello);

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
      // A native answer belongs to the request being served: never queued behind it.
      if (line.startsWith('{"native_answer"')) {
        nativeAnswer(line);
        continue;
      }
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
}

function tooLong(line) {
  send({ id: null, ok: false, error: { kind: 'bad_request', message: `a request line over ${LINE_BYTES_MAX} bytes: ${line.slice(0, 200)}` } });
}
