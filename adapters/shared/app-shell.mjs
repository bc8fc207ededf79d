// app-shell.mjs: the article's app, as both Node adapters run it (docs/adapter-protocol.md §7),
// the same shell as the harness model (harness/src/model/world/shell.rs) and the reference SDK
// (harness/src/sdk/reference/js/shell.rs). Owns what the two have in common: the route guard
// and what it renders, returnTo, task routing, the foreground refresh, the protected-API
// wrapper (one shared refresh after a 401, a queue, one retry), the user's calls and their
// numbering, and `signed_out` from clerk-js's own listener.
//
// Each adapter's app-shell.mjs subclasses `AppShell` with what differs: where the guard reads
// the auth state (`authView`: the Clerk instance for clerk-js, what `<Shell>` committed from
// `useAuth()` for clerk-expo), the token (`sessionToken`, `getTokenCall`), how `load` runs,
// and what an AppState move does (`appStateMoved`). The await structure of those methods
// stays each adapter's own: it decides the order of work inside a job, which traces record.
//
// Every call body runs inside an AsyncLocalStorage scope holding its call id, so a request
// the SDK sends while serving that call (awaits included) is reported with it; timers fire
// outside any scope, so a background refresh carries no call, as in the model.

import { AsyncLocalStorage } from 'node:async_hooks';

/** Where the app lands after sign-in when there is nowhere to return to. */
const HOME = '/home';

/** The test user of the emulator (harness/src/model/server/mod.rs TEST_USER_*). */
export const TEST_USER_IDENTIFIER = 'user@example.test';
export const TEST_USER_PASSWORD = 'correct-horse-battery-staple';

/** A thrown value as a `call_settled` error result. */
export function failure(e) {
  const status = typeof e?.status === 'number' ? e.status : 0;
  let code = e?.errors?.[0]?.code ?? e?.code;
  if (typeof code !== 'string' || code === '') {
    code = status === 0 && /network/i.test(String(e?.message ?? '')) ? 'network_error' : 'unexpected_error';
  }
  if (code === 'unexpected_error') {
    process.stderr.write(`a call failed with a non-Clerk error: ${e?.stack ?? e}\n`);
  }
  return { result: 'error', status, code };
}


/**
 * The `getToken` options a `get_token` event asks for: `undefined` without any (so an SDK's
 * no-options path, such as Expo's `useAuth` wrapper with the resource cache, is taken), else
 * `{skipCache: true}` and/or `{template}`.
 */
export function tokenOptions(event) {
  const options = {};
  if (event.skip_cache) options.skipCache = true;
  if (typeof event.template === 'string') options.template = event.template;
  return Object.keys(options).length ? options : undefined;
}
export class AppShell {
  /**
   * @param {object} o
   * @param {any} o.clerk the Clerk instance (not loaded yet)
   * @param {import('./clock.mjs').VirtualClock} o.clock
   * @param {import('./fetch.mjs').Network} o.network
   * @param {(what: string, fields: object) => void} o.report
   * @param {string} o.backendUrl
   * @param {string} o.platform `ios` or `android`
   * @param {boolean} o.treatPendingAsSignedOut
   * @param {AsyncLocalStorage} o.als the call scope (shared with the network)
   */
  constructor({ clerk, clock, network, report, backendUrl, platform, treatPendingAsSignedOut, als }) {
    this.clerk = clerk;
    this.clock = clock;
    this.network = network;
    this.report = report;
    this.backendUrl = backendUrl.replace(/\/+$/, '');
    this.platform = platform;
    this.treatPendingAsSignedOut = treatPendingAsSignedOut;
    this.als = als;

    this.appState = 'active';
    this.currentPath = HOME;
    this.returnTo = null;
    /** The API wrapper's one refresh after a 401 (`isRefreshing`): its outcome promise. */
    this.refreshing = null;
    /** The last rendered view (JSON text) and its isSignedIn; the app starts closed. */
    this.shownJson = JSON.stringify({ route: { screen: 'closed' }, is_loaded: false, is_signed_in: null, session: null });
    this.shownSignedIn = null;
    /** Calls started and not settled: id → kind. */
    this.open = new Map();
    this.nextCall = 0;
    /** The user asked to leave (sign_out, session_end, session_remove) and it is not over. */
    this.userSigningOut = false;
    /** The listener's last session: undefined (loading or transitive), null, or an id. */
    this.slot = undefined;
    this.transitiveFromSession = false;
    /** Status of the last FAPI answer handed to JS (0: a network error). */
    this.lastDelivered = 200;
    /** Resolves once `load()` has succeeded (getToken and the sign-in screen wait for it). */
    this.loaded = new Promise((resolve) => {
      this.markLoaded = resolve;
    });

    clerk.addListener((resources) => this.onResources(resources));
  }

  jsRuns() {
    return this.appState !== 'background';
  }

  // ------------------------------------------------------------------------------ calls

  startCall(kind) {
    const call = this.nextCall;
    this.nextCall += 1;
    this.open.set(call, kind);
    this.report('call_started', { call, kind });
    return call;
  }

  settle(call, result) {
    const kind = this.open.get(call);
    if (kind === undefined) return;
    this.open.delete(call);
    // The user's leaving ends with the call that asked for it, whatever it found.
    if (kind === 'sign_out' || kind === 'session_end' || kind === 'session_remove') {
      this.userSigningOut = false;
    }
    this.report('call_settled', { call, kind, result });
  }

  /**
   * The user is leaving: the flag of their last leaving call, or any sign-out, end or remove
   * of theirs still open (answers that arrive together must not reorder the cause).
   */
  userLeaving() {
    if (this.userSigningOut) return true;
    for (const kind of this.open.values()) {
      if (kind === 'sign_out' || kind === 'session_end' || kind === 'session_remove') return true;
    }
    return false;
  }

  /** Runs `body` (async, returns a result) as `call`; a throw settles it as an error. */
  runCall(call, body) {
    this.als.run(call, () => {
      Promise.resolve()
        .then(body)
        .then(
          (result) => this.settle(call, result),
          (e) => this.settle(call, failure(e)),
        );
    });
  }

  // ----------------------------------------------------------------------- what renders

  /**
   * The auth state the route guard reads: `{loaded, s, isSignedIn}`, `s` the session object
   * (or null/undefined) and `isSignedIn(session)` the guard's isSignedIn once loaded, given
   * the `{id, status, task?}` view of `s`. Each adapter's own.
   */
  authView() {
    throw new Error('AppShell.authView is the adapter\'s');
  }

  view() {
    const { loaded, s, isSignedIn } = this.authView();
    const session = s ? { id: s.id, status: s.status } : null;
    const task = s?.currentTask?.key ?? s?.tasks?.[0]?.key;
    if (session && task) session.task = task;
    const signedIn = loaded ? isSignedIn(session) : null;
    let route;
    if (!loaded) route = { screen: 'loading' };
    else if (session?.status === 'pending') route = { screen: 'task', key: task ?? 'choose-organization' };
    else if (session) route = { screen: 'protected', path: this.currentPath };
    else route = { screen: 'sign_in', return_to: this.returnTo };
    return { route, is_loaded: loaded, is_signed_in: signedIn, session };
  }

  /** Recomputes what is on screen; reports `rendered` when anything changed. */
  render() {
    let view = this.view();
    let json = JSON.stringify(view);
    if (json === this.shownJson) return;
    if (view.is_signed_in === true && this.shownSignedIn !== true && this.returnTo !== null) {
      this.currentPath = this.returnTo;
      this.returnTo = null;
      view = this.view();
      json = JSON.stringify(view);
    }
    this.shownJson = json;
    this.shownSignedIn = view.is_signed_in;
    this.report('rendered', { view });
  }

  shownView() {
    return JSON.parse(this.shownJson);
  }

  // ----------------------------------------------------------------- clerk-js's listener

  onResources({ session }) {
    if (session === undefined) {
      // The transitive state of signOut/setActive.
      if (this.slot) this.transitiveFromSession = true;
      this.slot = undefined;
      return;
    }
    const wasSignedIn = !!this.slot || (this.slot === undefined && this.transitiveFromSession);
    this.transitiveFromSession = false;
    this.slot = session ? session.id : null;
    if (wasSignedIn && !session) {
      let cause = 'client_payload';
      if (this.userLeaving()) cause = 'user';
      else if (this.lastDelivered >= 400) cause = 'unauthorized';
      this.report('signed_out', { cause, server_revoke: false });
      if (cause === 'user') {
        this.returnTo = null;
        this.currentPath = HOME;
      } else {
        this.returnTo = this.currentPath;
      }
      this.userSigningOut = false;
    }
  }

  // ---------------------------------------------------------------------------- events

  /** Applies one step event (the synchronous part; the clock runs the rest). */
  async apply(event) {
    switch (event.event) {
      case 'advance':
      case 'network':
        return; // handled by the driver (time, offline switch)
      case 'app_state':
        return this.setAppState(event.state);
      case 'navigate':
        if (this.jsRuns()) this.navigate(event.path);
        return;
      case 'sign_in':
        if (this.jsRuns()) this.signIn();
        return;
      case 'complete_task':
        if (this.jsRuns()) this.completeTask();
        return;
      case 'get_token':
        if (this.jsRuns()) this.getTokenCall(tokenOptions(event));
        return;
      case 'api_call':
        if (this.jsRuns()) this.apiCall(event.path);
        return;
      case 'session_end':
      case 'session_remove':
        if (this.jsRuns()) this.endSession(event.event);
        return;
      case 'sign_out':
        if (this.jsRuns()) this.signOut();
        return;
      case 'set_active':
        if (this.jsRuns()) this.setActive();
        return;
      default:
        throw new Error(`unhandled event ${event.event}`);
    }
  }

  navigate(path) {
    switch (this.shownSignedIn) {
      case true:
        this.currentPath = path;
        break;
      case false:
        this.returnTo = path;
        break;
      default:
        // A deep link while loading: land there once loaded, or return there after sign-in.
        this.currentPath = path;
        this.returnTo = path;
    }
  }

  /** Password sign-in of the test user, then `setActive` (a touch) as the sign-in screen does. */
  signIn() {
    const call = this.startCall('sign_in');
    this.runCall(call, async () => {
      // The sign-in screen exists only once loaded (before, `clerk.client` is unset).
      await this.loaded;
      const signIn = await this.clerk.client.signIn.create({
        identifier: TEST_USER_IDENTIFIER,
        password: TEST_USER_PASSWORD,
        strategy: 'password',
      });
      if (signIn.status !== 'complete' || !signIn.createdSessionId) {
        return { result: 'error', status: 0, code: `sign_in_${signIn.status ?? 'incomplete'}` };
      }
      await this.clerk.setActive({ session: signIn.createdSessionId });
      return { result: 'ok' };
    });
  }

  /** Resolves the session's first task (the emulator's `tasks/{key}/resolve`). */
  completeTask() {
    const call = this.startCall('complete_task');
    this.runCall(call, async () => {
      const session = this.clerk.session;
      const key = session?.currentTask?.key ?? session?.tasks?.[0]?.key;
      if (!session || !key) return { result: 'ok' };
      // clerk-js has no public call for it; the resource's own POST goes through the same
      // FAPI client (hooks, piggybacked client) as every other request.
      await session._basePost({ path: `/client/sessions/${session.id}/tasks/${key}/resolve`, body: {} });
      return { result: 'ok' };
    });
  }

  /** The API wrapper's token (async; null when there is none). Each adapter's own. */
  async sessionToken(_skipCache) {
    throw new Error('AppShell.sessionToken is the adapter\'s');
  }

  /**
   * `useAuth().getToken(options)` as the call `kind`; `options` is what `getToken` is passed
   * (`undefined`, or `{skipCache, template}` as the event asks: see `tokenOptions`). Each
   * adapter's own.
   */
  getTokenCall(_options, _kind) {
    throw new Error('AppShell.getTokenCall is the adapter\'s');
  }

  /** The article's API wrapper: token, backend, and on 401 one shared refresh and one retry. */
  apiCall(path) {
    const call = this.startCall('api_call');
    const url = `${this.backendUrl}${path.startsWith('/') ? path : `/${path}`}`;
    this.runCall(call, async () => {
      const first = await this.sessionToken(false);
      let status = await this.network.backend(url, { call, attempt: 1, jwt: first });
      if (status === 401) {
        let outcome;
        if (this.refreshing) {
          outcome = await this.refreshing;
        } else {
          this.refreshing = this.sessionToken(true).then(
            (jwt) => ({ jwt }),
            (error) => ({ error }),
          );
          outcome = await this.refreshing;
          this.refreshing = null;
        }
        if (outcome.error) return failure(outcome.error);
        if (!outcome.jwt) return { result: 'error', status: 401, code: 'session expired' };
        status = await this.network.backend(url, { call, attempt: 2, jwt: outcome.jwt });
      }
      if (status >= 200 && status < 300) return { result: 'ok' };
      if (status === 0) return { result: 'error', status: 0, code: 'network_error' };
      return { result: 'error', status, code: 'api_error' };
    });
  }

  endSession(kind) {
    const call = this.startCall(kind);
    const session = this.clerk.session;
    if (!session) {
      this.settle(call, { result: 'ok' });
      return;
    }
    this.userSigningOut = true;
    this.runCall(call, async () => {
      await (kind === 'session_end' ? session.end() : session.remove());
      return { result: 'ok' };
    });
  }

  signOut() {
    const call = this.startCall('sign_out');
    this.userSigningOut = true;
    this.runCall(call, async () => {
      await this.clerk.signOut();
      return { result: 'ok' };
    });
  }

  /** `setActive` to another signed-in session of the client, else the current one. */
  setActive() {
    const call = this.startCall('set_active');
    const clerk = this.clerk;
    const current = clerk.session?.id ?? null;
    const signedIn = clerk.client?.signedInSessions ?? clerk.client?.activeSessions ?? [];
    const other = signedIn.find((s) => s.id !== current)?.id ?? null;
    const target = other ?? current;
    if (!target) {
      this.settle(call, { result: 'ok' });
      return;
    }
    this.runCall(call, async () => {
      await clerk.setActive({ session: target });
      return { result: 'ok' };
    });
  }

  /**
   * AppState changes. Leaving the background runs the held timers and answers first, one
   * at a time in the order they fell due; then `appStateMoved` tells the app (the foreground
   * refresh when signed in, directly or through React Native's `AppState` listeners).
   */
  async setAppState(state) {
    if (state === 'inactive' && this.platform !== 'ios') return; // iOS only; Android reports nothing
    const before = this.appState;
    if (before === state) return;
    this.appState = state;
    if (state === 'background') {
      this.clock.hold();
      this.appStateMoved(before, state);
      return;
    }
    if (before === 'background') {
      const held = this.clock.resume();
      for (;;) {
        await this.clock.drain();
        if (!this.clock.fireHeld(held)) break;
        await this.clock.drain();
        this.render();
      }
    }
    this.appStateMoved(before, state);
  }

  /** The app hears an AppState move (synchronously, after the held work ran). Each adapter's own. */
  appStateMoved(_before, _state) {
    throw new Error('AppShell.appStateMoved is the adapter\'s');
  }

  /** The foreground refresh on return to `active`, when the app shows a signed-in user. */
  foregroundRefresh(before, state) {
    if (state === 'active' && before !== 'active' && this.shownSignedIn === true) {
      this.getTokenCall({ skipCache: true }, 'foreground_refresh');
    }
  }
}
