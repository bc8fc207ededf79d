// app-shell.mjs: the article's app around the real clerk-js (docs/adapter-protocol.md §7):
// adapters/shared/app-shell.mjs (the route guard, returnTo, task routing, the API wrapper, the
// user's calls, `signed_out`) with what is clerk-js's own. There is no React here: the guard
// reads the Clerk instance directly (as @clerk/expo's `useAuth()` derives it), `load()` is
// started as @clerk/expo's provider runs it on native, and an AppState move starts the
// foreground refresh itself.

import { AppShell as SharedShell } from '../shared/app-shell.mjs';

export { TEST_USER_IDENTIFIER, TEST_USER_PASSWORD, failure } from '../shared/app-shell.mjs';

export class AppShell extends SharedShell {
  /** The guard over the Clerk instance: loaded once `clerk.loaded` and the session is known. */
  authView() {
    const clerk = this.clerk;
    const s = clerk.session;
    return {
      loaded: !!clerk.loaded && s !== undefined,
      s,
      isSignedIn: (session) =>
        !!session && (session.status === 'active' || (session.status === 'pending' && !this.treatPendingAsSignedOut)),
    };
  }

  /** `load()`, as @clerk/expo's provider runs it on native. */
  load(options) {
    const call = this.startCall('load');
    this.runCall(call, async () => {
      await this.clerk.load(options);
      this.markLoaded();
      return { result: 'ok' };
    });
  }

  async sessionToken(skipCache) {
    const session = this.clerk.session;
    if (!session) return null;
    return (await session.getToken(skipCache ? { skipCache: true } : undefined)) ?? null;
  }

  /**
   * `useAuth().getToken(options)`: waits for load, null when signed out. `options` as
   * `tokenOptions` gives them (`{skipCache, template}`), passed to the real `session.getToken`.
   */
  getTokenCall(options, kind = 'get_token') {
    const call = this.startCall(kind);
    this.runCall(call, async () => {
      await this.loaded;
      const session = this.clerk.session;
      const jwt = session ? ((await session.getToken(options)) ?? null) : null;
      return jwt ? { result: 'token', jwt } : { result: 'null' };
    });
  }

  /** No React Native `AppState` here: the shell starts the foreground refresh itself. */
  appStateMoved(before, state) {
    this.foregroundRefresh(before, state);
  }
}
