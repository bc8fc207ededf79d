//! app-shell.mjs: the article's app around the real @clerk/expo, as React components over
//! `useAuth()` (docs/adapter-protocol.md §7, §10): adapters/shared/app-shell.mjs (the route
//! guard, returnTo, task routing, the API wrapper, the user's calls, `signed_out`, shared with
//! the clerk-js adapter) with what is React's here: the guard reads what `<Shell>` committed,
//! the `load` call wraps the provider's own `load()`, the token is the committed
//! `useAuth().getToken`, and the foreground refresh starts from an `AppState` listener.
//!
//! What is React and what is not. `App` renders `<ClerkProvider>` (the real one, with the
//! token cache from `@clerk/expo/token-cache`) around `<Shell>`. `Shell` calls the Expo
//! `useAuth()` (and `useSession()` for the session's status and task) and, at every commit,
//! hands what it rendered to the `AppShell` object: the route is computed from committed
//! state only, as a phone shows it. Its `AppState` listener starts the foreground refresh.
//! The user's actions (sign-in, getToken, API calls, sign-out) are methods the driver calls,
//! as a button press would: `getToken` is the committed `useAuth().getToken`; sign-in,
//! sign-out, setActive and a task's resolve are calls on the Clerk instance (`useClerk()`
//! on a phone), exactly as the clerk-js adapter makes them (the shared shell's methods), so
//! both adapters stay in lockstep with one model.

import { AppShell as SharedShell, failure } from '../shared/app-shell.mjs';

export { TEST_USER_IDENTIFIER, TEST_USER_PASSWORD, failure } from '../shared/app-shell.mjs';

export class AppShell extends SharedShell {
  /**
   * @param {object} o the shared shell's options (its `clerk` is the instance @clerk/expo's
   *   `getClerkInstance` made, not loaded yet), and:
   * @param {(state: string) => void} o.setNativeAppState React Native's AppState moves (stub)
   */
  constructor(o) {
    super(o);
    this.setNativeAppState = o.setNativeAppState;
    /** What `<Shell>` last committed: `useAuth()` and the session, or null before the first commit. */
    this.committed = null;
    this.firstCommit = new Promise((resolve) => {
      this.markCommitted = resolve;
    });
  }

  /** The route guard over what `<Shell>` committed (nothing committed yet: loading). */
  authView() {
    const c = this.committed;
    const loaded = !!c?.isLoaded;
    return {
      loaded,
      s: loaded ? c.session : null,
      // `useAuth({treatPendingAsSignedOut})` decides isSignedIn, as the article's guard reads it.
      isSignedIn: () => !!c.isSignedIn,
    };
  }

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

  /**
   * `useAuth().getToken(options)` as committed: waits for load, null when signed out.
   * `options` as `tokenOptions` gives them (`{skipCache, template}`).
   */
  getTokenCall(options, kind = 'get_token') {
    const call = this.startCall(kind);
    this.runCall(call, async () => {
      await this.firstCommit;
      const jwt = await this.committed.getToken(options);
      return jwt ? { result: 'token', jwt } : { result: 'null' };
    });
  }

  /** React Native's `AppState` moves and tells its listeners (`<Shell>`'s: `onAppState`). */
  appStateMoved(_before, state) {
    this.setNativeAppState(state);
  }

  /** `<Shell>`'s AppState listener: the foreground refresh on return to `active`. */
  onAppState(before, state) {
    this.foregroundRefresh(before, state);
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
