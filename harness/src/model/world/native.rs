//! `@clerk/expo` 3.x's JS side of the native module, as the model runs it (with
//! `native: true` in the setup): the provider's bootstrap configures the native layer at
//! every JS start, `NativeSessionSync` keeps it in step with what JS shows, and a native
//! sign-in heard on iOS (`onAuthStateChange`) is adopted. The native layer itself — its
//! keychain, its client, what each call does — is `model/native.rs`, shared with the
//! reference SDK and external adapters. Mirrors `sdk/reference/js/native.rs`.
//!
//! The bootstrap is 3.1.0–3.3.1's (shared reference §2.1): `configure(pk, bearer)`, then
//! `getSession()` every 100 ms, at most 30 times (3 s), until the native layer shows a
//! session; then, once JS has loaded, the client is reloaded if it lacks that session and the
//! session is made current.
//!
//! `setActive` to the native session sends its touch and makes the session current when
//! that answers; what the model leaves out, because it changes nothing the model shows, is
//! its token fetch after the touch.

use crate::model::device::Payload;
use crate::model::native::{self, NativeAnswer, NativeCall, NativeEnv, NativeLayer};
use crate::model::server::{ClientToken, FapiRequest};
use crate::model::settings::TokenCacheKind;
use crate::model::vocab::{SessionId, StorageKey, TokenInfo, TokenKey};

use super::{JsJob, Purpose, Slot, World};

/// The 3.x bootstrap polls the native session this often …
pub(super) const NATIVE_POLL_INTERVAL_MS: u64 = 100;

/// … at most this many times (`elapsed < 3000`).
pub(super) const NATIVE_POLLS_MAX: u32 = 30;

/// What `NativeSessionSync`'s effect last ran with (`isLoaded`, `isSignedIn`), and whether
/// it has synced the current signed-in period (`hasSyncedRef`): per JS runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct NativeSync {
    deps: Option<(bool, bool)>,
    synced: bool,
    /// The session the bootstrap's poll found while JS was still loading, and how many
    /// calls were already waiting for `load()` when its `addOnLoaded` began to wait.
    boot_waiter: Option<(SessionId, usize)>,
    /// The effect waits for the end of the turn (`defer_native_sync`).
    deferred: bool,
    /// The effect is running: its native calls come before the turn's requests leave.
    in_effect: bool,
}

/// One `__internal_reloadInitialResources()`: `Promise.all` of its two GETs. Either failing
/// rejects it (the caller swallows the error: no `setActive`); the client is applied once
/// both have answered.
#[derive(Clone, Debug, Default)]
pub(super) struct Adopt {
    environment: bool,
    /// The client answer, with the sign-out epoch its GET was sent under.
    client: Option<(crate::model::server::ClientView, u32)>,
}

impl World {
    /// One call on the `ClerkExpo` module.
    pub(super) fn native_call(&mut self, call: NativeCall) -> NativeAnswer {
        self.on_native(|layer, env| layer.call(env, call))
    }

    /// The native SDK's own refresh on leaving the background.
    pub(super) fn native_foreground(&mut self) {
        self.on_native(|layer, env| layer.foreground(env));
    }

    /// Runs `f` on the native layer with this world's device, server, instant and trace.
    /// Requests JS sent before it leave first, unless `NativeSessionSync`'s effect makes the
    /// call (`depart`).
    fn on_native<R>(&mut self, f: impl FnOnce(&mut NativeLayer, &mut NativeEnv<'_>) -> R) -> R {
        if !self.js.native.in_effect {
            self.depart();
        }
        let mut env = NativeEnv {
            device: &mut self.device,
            server: &mut self.server,
            now: self.now,
            latency_ms: self.setup.net.fapi_latency_ms,
            variant: self.setup.sdk.native_variant,
            log: &mut self.log,
        };
        f(&mut self.native, &mut env)
    }

    /// `(tokenCache ?? defaultTokenCache).getToken('__clerk_client_jwt')`: the secure store
    /// whatever the app passed; a throw reads as none.
    fn native_bearer(&mut self) -> Option<ClientToken> {
        match self.read_storage(StorageKey::ClientJwt) {
            Some(Payload::ClientToken(t)) => Some(t),
            _ => None,
        }
    }

    /// The provider's native bootstrap at each JS start (3.x): `configure(pk, bearer)`, then
    /// the first `getSession()` poll.
    pub(super) fn native_bootstrap(&mut self) {
        if !self.setup.sdk.native {
            return;
        }
        let token = self.native_bearer();
        self.native_call(NativeCall::Configure { token });
        self.native_poll(1);
    }

    /// Poll `n` of the bootstrap: a session found waits for JS to load (or is adopted now);
    /// none found polls again 100 ms later, up to the 30th.
    pub(super) fn native_poll(&mut self, n: u32) {
        match self.native_call(NativeCall::GetSession) {
            NativeAnswer::Session { session: Some(sid) } => {
                if self.view.is_loaded {
                    self.native_boot_adopt(sid);
                } else if !self.rules.boot_waits_for_load {
                    // The wait for load resolves at once (the profile rule): adopted now.
                    self.adopt_native_session(sid);
                } else {
                    self.js.native.boot_waiter = Some((sid, self.js.load_waiters.len()));
                }
            }
            _ if n < NATIVE_POLLS_MAX => {
                let at = self.now.plus(NATIVE_POLL_INTERVAL_MS);
                self.schedule_js(at, JsJob::NativePoll(n + 1));
            }
            _ => {}
        }
    }

    /// The bootstrap's `addOnLoaded` waiter, if any, for `finish_load` to run in its turn.
    pub(super) fn take_native_boot_waiter(&mut self) -> Option<(SessionId, usize)> {
        self.js.native.boot_waiter.take()
    }

    /// The bootstrap found `sid` and JS has loaded: reload the client if it lacks the session
    /// (any status), then `setActive` to it, even when JS shows it already (3.x calls it
    /// unconditionally, and its touch may be answered 401: fuzz case seed 0x4d5cf00898c8804c
    /// on the real 3.2.8).
    pub(super) fn native_boot_adopt(&mut self, sid: SessionId) {
        if !self.view.is_loaded {
            return;
        }
        self.adopt_native_session(sid);
    }

    /// `NativeSessionSync`'s effect, run after a render whose `isLoaded` or `isSignedIn`
    /// changed (pending counted as signed out as the profile says,
    /// [`crate::model::profile::Profile::sync_signed_in`]).
    pub(super) fn native_session_sync(&mut self) {
        if !self.setup.sdk.native || !self.device.running || self.js.native.deferred {
            return;
        }
        self.js.native.in_effect = true;
        self.native_session_effect();
        self.js.native.in_effect = false;
    }

    /// The effect's next run waits for the end of the turn (`end_turn`).
    pub(super) fn defer_native_sync(&mut self) {
        self.js.native.deferred = self.in_ui();
    }

    /// The deferred effect runs, after the turn's requests left.
    pub(super) fn run_deferred_native_sync(&mut self) {
        if std::mem::take(&mut self.js.native.deferred) {
            self.native_session_sync();
        }
    }

    fn native_session_effect(&mut self) {
        let loaded = self.view.is_loaded;
        let status = self.js.slot.session().map(|v| v.status);
        let signed_in = self.rules.sync_signed_in(loaded, status);
        if self.js.native.deps == Some((loaded, signed_in)) {
            return;
        }
        self.js.native.deps = Some((loaded, signed_in));
        if !signed_in {
            self.js.native.synced = false;
            // 3.2.8+ (PR #8469): only once JS has loaded (the model has no defects; the
            // reference SDK's `signout-while-loading` is 3.2.7's call while loading).
            if loaded {
                self.native_call(NativeCall::SignOut);
            }
            return;
        }
        if self.js.native.synced {
            return;
        }
        if let NativeAnswer::Session { session: Some(_) } = self.native_call(NativeCall::GetSession)
        {
            self.js.native.synced = true;
            return;
        }
        if let Some(token) = self.native_bearer() {
            self.native_call(NativeCall::Configure { token: Some(token) });
            self.js.native.synced = true;
        }
    }

    /// The native sign-in UI completes. On iOS JS hears `onAuthStateChange` and adopts the
    /// native client: `getClientToken()`, saved to the token cache; the client reloaded if
    /// it lacks the session; `setActive` to it.
    pub(super) fn native_sign_in(&mut self) {
        if !self.setup.sdk.native || !self.device.running {
            return;
        }
        let Some(sid) = self.on_native(|layer, env| layer.sign_in(env)) else {
            return;
        };
        if !native::emits_auth_events(self.device.platform) || !self.device.js_runs() {
            return;
        }
        if let NativeAnswer::ClientToken { token: Some(t) } =
            self.native_call(NativeCall::GetClientToken)
        {
            let memory = self.setup.sdk.token_cache == TokenCacheKind::Memory;
            if memory && self.rules.native_adopts_into_own_cache {
                // The cache JS reads is its memory.
                self.js.memory_token = Some(t);
            } else {
                // `(tokenCache ?? defaultTokenCache).saveToken`: the secure store.
                if !memory {
                    self.js.memory_token = Some(t);
                }
                let credential = self.token_restores(Some(t));
                self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(t), credential);
            }
        }
        self.adopt_native_session(sid);
    }

    /// `setActive({ session })` to the native layer's session, after
    /// `__internal_reloadInitialResources()` when the client JS holds lacks it.
    fn adopt_native_session(&mut self, sid: SessionId) {
        let known = self.js.client.as_ref().is_some_and(|c| c.sessions.iter().any(|s| s.id == sid));
        if known {
            self.native_set_active(sid);
        } else {
            // `Promise.all([environment.fetch, client.fetch])`, environment first.
            let group = self.js.adopt_serial;
            self.js.adopt_serial += 1;
            self.js.adopts.insert(group, Adopt::default());
            self.send(FapiRequest::Environment, Purpose::NativeAdopt { sid, group, client: false });
            self.send(FapiRequest::GetClient, Purpose::NativeAdopt { sid, group, client: true });
        }
    }

    /// One of the reload's two GETs answered (`view`: `None` when it failed, else the
    /// client the answer carried, if any). A failure rejects the `Promise.all`, which the
    /// caller swallows: the other answer is then ignored and `setActive` never runs.
    pub(super) fn native_adopt_answer(
        &mut self,
        sid: SessionId,
        group: u32,
        client: bool,
        view: Option<Option<crate::model::server::ClientView>>,
        signout_epoch: u32,
    ) {
        let Some(adopt) = self.js.adopts.get_mut(&group) else {
            return;
        };
        let Some(view) = view else {
            self.js.adopts.remove(&group);
            return;
        };
        if client {
            // A 2xx client GET always carries its client.
            let Some(view) = view else {
                self.js.adopts.remove(&group);
                return;
            };
            adopt.client = Some((view, signout_epoch));
        } else {
            adopt.environment = true;
        }
        if adopt.environment
            && adopt.client.is_some()
            && let Some(Adopt { client: Some((view, epoch)), .. }) = self.js.adopts.remove(&group)
        {
            self.native_adopted(sid, Some(&view), epoch);
        }
    }

    /// `setActive({ session: sid })`: its touch, if the client JS holds has the session
    /// signed in. The session becomes current when the touch answers (`native_activated`).
    /// A session the client does not list at all is `null` to clerk-js, which signs JS out
    /// locally where the profile says so
    /// ([`crate::model::profile::Profile::set_active_unknown_signs_out`]).
    fn native_set_active(&mut self, sid: SessionId) {
        // Without a client setActive throws before it looks (JS has not loaded).
        let listed = self
            .js
            .client
            .as_ref()
            .map(|c| c.sessions.iter().find(|s| s.id == sid).map(|s| s.status.is_signed_in()));
        match listed {
            Some(Some(true)) => {
                self.send(FapiRequest::Touch { sid }, Purpose::NativeActivate { sid });
            }
            Some(None) if self.rules.set_active_unknown_signs_out => {
                self.js.preferred = None;
                self.set_slot(Slot::Null, self.leaving_cause());
            }
            _ => {}
        }
    }

    /// `__internal_reloadInitialResources()` answered: the client is applied, then
    /// `setActive` to the native session.
    pub(super) fn native_adopted(
        &mut self,
        sid: SessionId,
        view: Option<&crate::model::server::ClientView>,
        signout_epoch: u32,
    ) {
        if let Some(view) = view {
            self.apply_client(view, signout_epoch);
            self.native_set_active(sid);
        }
        self.render();
    }

    /// The touch of the native session's `setActive` answered (its client already applied):
    /// on success, or a 401 (after `handleUnauthenticated`, which a profile that awaits it
    /// has run by now), the session is made current if the client JS holds still has it
    /// signed in (measured on the real 3.2.8: fuzz case seeds 0x60eef7ffb20fa64f, session
    /// kept, and 0x4d5cf00898c8804c, reloaded away). Another failure leaves JS as it was.
    ///
    /// Where `setActive` awaits its token (clerk-js 6), the session is current only once
    /// `getToken` has one: a cache hit at once, else a token request whose failure (a 401
    /// for a session the server removed meanwhile) rejects `setActive`, which the caller
    /// swallows (measured on the real 3.2.8: fresh-seed gate campaign 0xb8c59be6, case seed
    /// 0x4c518c1d21f520e6, `req_8 → tokens sess_1` answered 401 and sess_1 never shown).
    pub(super) fn native_activated(&mut self, sid: SessionId, ok: bool, signout_epoch: u32) {
        let stale = self.rules.ignores_stale_payloads && signout_epoch != self.js.signout_epoch;
        if !ok || stale {
            return self.render();
        }
        let key = TokenKey::session(sid);
        let clock = self.expiry_clock();
        let hit = self
            .js
            .cache
            .get(&key)
            .is_some_and(|e| e.0.remaining_at(clock) > self.rules.hit_min_remaining_ms as i64);
        if !self.rules.set_active_awaits_token || hit || !self.js_client_signs_in(sid) {
            self.activate(sid);
            return self.render();
        }
        let request = self.token_request(key, false);
        self.send(request, Purpose::NativeActivateToken { sid });
    }

    /// Whether the client JS holds has `sid` signed in (else `activate` sets nothing and
    /// `setActive` fetches no token).
    fn js_client_signs_in(&self, sid: SessionId) -> bool {
        self.js
            .client
            .as_ref()
            .is_some_and(|c| c.sessions.iter().any(|s| s.id == sid && s.status.is_signed_in()))
    }

    /// The native `setActive`'s token request answered: with a token the session becomes
    /// current (the token into the cache first); without, JS stays as it was.
    pub(super) fn native_activation_token(
        &mut self,
        sid: SessionId,
        token: Option<TokenInfo>,
        signout_epoch: u32,
    ) {
        let stale = self.rules.ignores_stale_payloads && signout_epoch != self.js.signout_epoch;
        if let Some(token) = token
            && !stale
        {
            self.token_resolved(token, true);
            self.activate(sid);
        }
        self.render();
    }

    /// The device as the environment sees it, the native layer in it with the native module
    /// (the server brought to now first, as `server_view` does).
    pub(super) fn device_view(&mut self) -> crate::model::vocab::DeviceView {
        self.server.tick(self.now);
        self.native.device_view(&self.device, &self.server, self.setup.sdk.native)
    }

    /// The process ends: the native layer's memory with it.
    pub(super) fn native_process_ended(&mut self) {
        self.native.process_ended();
    }
}
