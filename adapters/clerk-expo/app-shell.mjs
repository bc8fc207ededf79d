//! app-shell.mjs: the article's app around the real @clerk/expo, as React components over
//! `useAuth()` (docs/adapter-protocol.md §7, §10): the same shell as the harness model
//! (harness/src/model/world/shell.rs), the reference SDK (harness/src/sdk/reference/js/shell.rs)
//! and the clerk-js adapter (adapters/clerk-js/app-shell.mjs). Owns the route guard and what it
//! renders, returnTo, task routing, the foreground refresh on AppState, the protected-API
//! wrapper (one shared refresh after a 401, a queue, one retry), the user's calls and their
//! numbering, the `load` call, and `signed_out` from clerk-js's own listener.
//!
//! What is React and what is not. `App` renders `<ClerkProvider>` (the real one, with the
//! token cache from `@clerk/expo/token-cache`) around `<Shell>`. `Shell` calls the Expo
//! `useAuth()` (and `useSession()` for the session's status and task) and, at every commit,
//! hands what it rendered to the `AppShell` object: the route is computed from committed
//! state only, as a phone shows it. Its `AppState` listener starts the foreground refresh.
//! The user's actions (sign-in, getToken, API calls, sign-out) are methods the driver calls,
//! as a button press would: `getToken` is the committed `useAuth().getToken`; sign-in,
//! sign-out, setActive and a task's resolve are calls on the Clerk instance (`useClerk()`
//! on a phone), exactly as the clerk-js adapter makes them, so both adapters stay in
//! lockstep with one model.
//!
//! Every call body runs inside an AsyncLocalStorage scope holding its call id, so a request
//! sent while serving that call (awaits included) is reported with it; timers fire outside
//! any scope, so a background refresh carries no call, as in the model.
//!
//! Adapted from adapters/clerk-js/app-shell.mjs (copied, not imported: see fetch.mjs).

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

export class AppShell {
  /**
   * @param {object} o
   * @param {any} o.clerk the Clerk instance @clerk/expo's `getClerkInstance` made (not loaded yet)
   * @param {import('./clock.mjs').VirtualClock} o.clock
   * @param {import('./fetch.mjs').Network} o.network
   * @param {(what: string, fields: object) => void} o.report
   * @param {string} o.backendUrl
   * @param {string} o.platform `ios` or `android`
   * @param {boolean} o.treatPendingAsSignedOut
   * @param {AsyncLocalStorage} o.als the call scope (shared with the network)
   * @param {(state: string) => void} o.setNativeAppState React Native's AppState moves (stub)
   */
  constructor({ clerk, clock, network, report, backendUrl, platform, treatPendingAsSignedOut, als, setNativeAppState }) {
    this.setNativeAppState = setNativeAppState;
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
    /** Resolves once `load()` has succeeded (the sign-in screen waits for it). */
    this.loaded = new Promise((resolve) => {
      this.markLoaded = resolve;
    });
    /** What `<Shell>` last committed: `useAuth()` and the session, or null before the first commit. */
    this.committed = null;
    this.firstCommit = new Promise((resolve) => {
      this.markCommitted = resolve;
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

  /** The route guard over what `<Shell>` committed (nothing committed yet: loading). */
  view() {
    const c = this.committed;
    const loaded = !!c?.isLoaded;
    const s = loaded ? c.session : null;
    const session = s ? { id: s.id, status: s.status } : null;
    const task = s?.currentTask?.key ?? s?.tasks?.[0]?.key;
    if (session && task) session.task = task;
    // `useAuth({treatPendingAsSignedOut})` decides isSignedIn, as the article's guard reads it.
    const signedIn = loaded ? !!c.isSignedIn : null;
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

  /**
   * The `load` call: started at `start`, before anything renders, and run by whatever calls
   * the instance's `load()` (@clerk/react's provider, with @clerk/expo's options). Wraps
   * `clerk.load` on the instance so its requests carry the call and its outcome settles it;
   * the options and the moment it runs stay the provider's.
   */
  instrumentLoad() {
    const call = this.startCall('load');
    const original = this.clerk.load;
    let started = false;
    this.clerk.load = (...args) => {
      if (started) return original.apply(this.clerk, args);
      started = true;
      let promise;
      this.als.run(call, () => {
        promise = Promise.resolve().then(() => original.apply(this.clerk, args));
      });
      promise.then(
        () => {
          this.markLoaded();
          this.settle(call, { result: 'ok' });
        },
        (e) => this.settle(call, failure(e)),
      );
      return promise;
    };
  }

  /** `<Shell>` committed a render: what the app now shows. */
  commit(snapshot) {
    this.committed = snapshot;
    this.markCommitted();
  }

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
        if (this.jsRuns()) this.getTokenCall(!!event.skip_cache);
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

  /**
   * The API wrapper's token: the committed `useAuth().getToken` once the app shows a loaded
   * state; before that (or in a transitive state) it sends none, as the clerk-js adapter's
   * wrapper reads `clerk.session` (unset before load) — useAuth's getToken would wait.
   */
  async sessionToken(skipCache) {
    const c = this.committed;
    if (!c?.isLoaded || this.clerk.session == null) return null;
    return (await c.getToken(skipCache ? { skipCache: true } : undefined)) ?? null;
  }

  /** `useAuth().getToken({skipCache})` as committed: waits for load, null when signed out. */
  getTokenCall(skipCache, kind = 'get_token') {
    const call = this.startCall(kind);
    this.runCall(call, async () => {
      await this.firstCommit;
      const jwt = await this.committed.getToken(skipCache ? { skipCache: true } : undefined);
      return jwt ? { result: 'token', jwt } : { result: 'null' };
    });
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
   * at a time in the order they fell due; then React Native's `AppState` tells its listeners
   * (`<Shell>`'s starts the foreground refresh when signed in: `onAppState`).
   */
  async setAppState(state) {
    if (state === 'inactive' && this.platform !== 'ios') return; // iOS only; Android reports nothing
    const before = this.appState;
    if (before === state) return;
    this.appState = state;
    if (state === 'background') {
      this.clock.hold();
      this.setNativeAppState(state);
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
    this.setNativeAppState(state);
  }

  /** `<Shell>`'s AppState listener: the foreground refresh on return to `active`. */
  onAppState(before, state) {
    if (state === 'active' && before !== 'active' && this.shownSignedIn === true) {
      this.getTokenCall(true, 'foreground_refresh');
    }
  }
}

/**
 * The app's React tree over the loaded modules: `App` (ClerkProvider around Shell).
 * `expo` is `@clerk/expo`'s index, `tokenCache` is `@clerk/expo/token-cache`'s (or undefined
 * for `token_cache: memory`: the provider's MemoryTokenCache), `resourceCache`
 * `@clerk/expo/resource-cache`'s `resourceCache` with `resource_cache: true` (else undefined),
 * `AppState` the stub's.
 */
export function appTree({ React, expo, AppState, shell, publishableKey, proxyUrl, tokenCache, resourceCache }) {
  const h = React.createElement;

  function Shell() {
    const auth = expo.useAuth({ treatPendingAsSignedOut: shell.treatPendingAsSignedOut });
    // The session itself (its status and task), pending or not.
    const { session } = expo.useSession({ treatPendingAsSignedOut: false });
    React.useLayoutEffect(() => {
      shell.commit({ isLoaded: auth.isLoaded, isSignedIn: auth.isSignedIn, session, getToken: auth.getToken });
    });
    React.useEffect(() => {
      let previous = AppState.currentState;
      const subscription = AppState.addEventListener('change', (next) => {
        const before = previous;
        previous = next;
        shell.onAppState(before, next);
      });
      return () => subscription.remove();
    }, []);
    return null;
  }

  function App() {
    const props = { publishableKey, proxyUrl, telemetry: false };
    if (tokenCache) props.tokenCache = tokenCache;
    if (resourceCache) props.__experimental_resourceCache = resourceCache;
    return h(expo.ClerkProvider, props, h(Shell));
  }

  return h(App);
}
