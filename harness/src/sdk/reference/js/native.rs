//! The native layer (clerk-ios / clerk-android inside `@clerk/expo`) as the reference SDK
//! sees it: configured from JS, it lives with the process and survives a JS reload; the
//! 3.2.7 iOS bootstrap that polls the native session (`ios-native-cache-wipe`) and the sync
//! on return to the foreground. Mirrors `model/world/native.rs`.

use std::rc::Rc;

use crate::fapi::lock;
use crate::model::device::Payload;
pub(super) use crate::model::native::NativeLayer;
use crate::model::native::{self, NativeAnswer, NativeCall, NativeEnv, NativeVariant};
use crate::model::server::{ClientToken, ClientView};
use crate::model::settings::TokenCacheKind;
use crate::model::time::VTime;
use crate::model::vocab::{
    CallResult, SessionId, SignOutCause, StorageKey, TimerKind, TokenInfo, TokenKey,
};
use crate::model::vocab::{Defect, Platform};

use super::transport::Req;
use super::{Core, JsJob, LoadStatus, Purpose, Slot};

/// The iOS bootstrap of `@clerk/expo` 3.2.7 polls the native session this often …
pub(super) const NATIVE_POLL_INTERVAL_MS: u64 = 100;

/// … this many times (3 s) before giving up (the seed report).
pub(super) const NATIVE_POLLS_MAX: u32 = 30;

/// The 3.2.7 iOS bootstrap (`ios-native-cache-wipe` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NativeBoot {
    Off,
    Polling,
    GaveUp,
}

impl Core {
    /// `ios-native-cache-wipe`: `@clerk/expo` 3.2.7's cold-start bootstrap on iOS. It reads
    /// the JS client token and configures the native layer with it, in parallel with the JS
    /// load. `syncTokenState` writes `clerkDeviceToken`; the value differs from the native
    /// one, so `clearCachedClerkData()` wipes the native cached client. `configure()` resolves
    /// at once — before the native session has loaded — and the JS side starts polling.
    pub(super) fn native_bootstrap(self: &Rc<Self>) {
        let token = self.native_bearer();
        let wiped = self.configure_wipes(token);
        self.native_call(NativeCall::Configure { token });
        // Without a wipe (a first launch has no JS token to mismatch) the native session
        // loads from its cache and the bootstrap finds it: the bug needs the wipe.
        if !wiped {
            return;
        }
        self.rt.borrow_mut().native_boot = NativeBoot::Polling;
        let at = self.now().plus(NATIVE_POLL_INTERVAL_MS);
        self.schedule_js(at, JsJob::NativePoll(1));
    }

    /// One `getSession()` poll. With its cached client wiped, the native layer depends on a
    /// round trip that does not land within the poll window, so the answer stays `undefined`;
    /// after 3 s the bootstrap gives up and the user lands on sign-in.
    pub(super) fn native_poll(self: &Rc<Self>, n: u32, due: VTime) {
        self.timer_fired(TimerKind::NativePoll, due);
        if n < NATIVE_POLLS_MAX {
            let at = self.now().plus(NATIVE_POLL_INTERVAL_MS);
            self.schedule_js(at, JsJob::NativePoll(n + 1));
            return;
        }
        self.native_poll_over(false);
    }

    /// Whether `configure(token)` will wipe the native cached client: `syncTokenState` does
    /// when the token differs from the keychain's (the native layer's rule, read here only to
    /// know whether it will).
    fn configure_wipes(&self, token: Option<ClientToken>) -> bool {
        token.is_some_and(|t| {
            self.device.borrow().digest(StorageKey::NativeDeviceToken)
                != Some(Payload::ClientToken(t).digest())
        })
    }

    /// The `getSession()` poll is over: a load `ios-native-cache-wipe` held ends now, signed
    /// out if the poll found nothing (the report's "NO SESSION after 30 polls").
    fn native_poll_over(self: &Rc<Self>, found: bool) {
        let pending = {
            let mut rt = self.rt.borrow_mut();
            if rt.native_boot != NativeBoot::Polling {
                return;
            }
            rt.native_boot = if found { NativeBoot::Off } else { NativeBoot::GaveUp };
            std::mem::take(&mut rt.load_done_pending)
        };
        if pending {
            if !found {
                self.set_slot(Slot::Null, SignOutCause::LocalWipe);
            }
            self.finish_load(LoadStatus::Ready, CallResult::Ok);
        }
    }

    /// `empty-client-clobber`: on return to the foreground the native layer pushes its device
    /// token into `__clerk_client_jwt` (bypassing JS's own token logic) and JS reloads the
    /// client with it. The native layer, configured once after the first load, has not
    /// rotated that token since.
    pub(super) fn native_foreground_sync(self: &Rc<Self>) {
        if !self.native.get().configured {
            return;
        }
        let NativeAnswer::ClientToken { token: Some(token) } =
            self.native_call(NativeCall::GetClientToken)
        else {
            return;
        };
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
        self.send(Req::GetClient, Purpose::NativeSync, None);
    }
}

/// What `NativeSessionSync`'s effect last ran with (`isLoaded`, `isSignedIn`), and whether
/// it has synced the current signed-in period (`hasSyncedRef`): per JS runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct NativeSync {
    deps: Option<(bool, bool)>,
    synced: bool,
    /// The effect waits for the end of the turn (`defer_native_sync`).
    deferred: bool,
    /// The effect is running: its native calls come before the turn's requests leave.
    in_effect: bool,
}

/// One `__internal_reloadInitialResources()`: `Promise.all` of its two GETs. Either failing
/// rejects it (no `setActive`); the client is applied once both have answered.
#[derive(Clone, Debug, Default)]
pub(super) struct Adopt {
    environment: bool,
    /// The client answer, with the sign-out epoch its GET was sent under.
    client: Option<(ClientView, u32)>,
}

/// `@clerk/expo` 3.x's JS side of the native module with `native: true`: the bootstrap's
/// `configure`, `NativeSessionSync`, and a native sign-in heard on iOS. The native layer is
/// `model/native.rs`, shared with the model. Mirrors `model/world/native.rs`, which says what
/// both leave out.
impl Core {
    /// One call on the `ClerkExpo` module.
    pub(super) fn native_call(&self, call: NativeCall) -> NativeAnswer {
        self.on_native(|layer, env| layer.call(env, call))
    }

    /// The native SDK's own refresh on leaving the background.
    pub(super) fn native_foreground(&self) {
        self.on_native(|layer, env| layer.foreground(env));
    }

    /// The device as the environment sees it, the native layer in it with the native module.
    pub(super) fn device_view(&self) -> crate::model::vocab::DeviceView {
        let server = lock(self.fapi.server());
        self.native.get().device_view(&self.device.borrow(), &server, self.setup.sdk.native)
    }

    /// The native build this app runs: `ios-native-cache-wipe` brings the seed report's
    /// (`NativeVariant::WipedClientNeverLoads`); `native-token-overwrites-js` and
    /// `unauthenticated-adopts-native` (3.4.5–4.0.2) their era's refresh with a stale token
    /// (`NativeVariant::StaleTokenRefresh`); otherwise the setup's `native_variant`.
    fn native_variant(&self) -> NativeVariant {
        if self.has(Defect::IosNativeCacheWipe) {
            NativeVariant::WipedClientNeverLoads
        } else if self.has(Defect::NativeTokenOverwritesJs)
            || self.has(Defect::UnauthenticatedAdoptsNative)
        {
            NativeVariant::StaleTokenRefresh
        } else {
            self.setup.sdk.native_variant
        }
    }

    /// Runs `f` on this process's native layer with the app's device, the emulator's server,
    /// the instant and the trace.
    /// Requests JS sent before it leave first, unless `NativeSessionSync`'s effect calls.
    fn on_native<R>(&self, f: impl FnOnce(&mut NativeLayer, &mut NativeEnv<'_>) -> R) -> R {
        if !self.rt.borrow().native_sync.in_effect {
            self.depart();
        }
        let now = self.now();
        let mut server = lock(self.fapi.server());
        let mut device = self.device.borrow_mut();
        let mut log = self.log.borrow_mut();
        let mut env = NativeEnv {
            device: &mut device,
            server: &mut server,
            now,
            latency_ms: self.setup.net.fapi_latency_ms,
            variant: self.native_variant(),
            log: &mut log,
        };
        let mut layer = self.native.get();
        let out = f(&mut layer, &mut env);
        self.native.set(layer);
        out
    }

    /// `(tokenCache ?? defaultTokenCache).getToken('__clerk_client_jwt')`.
    fn native_bearer(&self) -> Option<ClientToken> {
        match self.read_storage(StorageKey::ClientJwt) {
            Some(Payload::ClientToken(t)) => Some(t),
            _ => None,
        }
    }

    /// The provider's native bootstrap at each JS start (3.1.0–3.3.1): `configure(pk,
    /// bearer)`, then the first `getSession()` poll.
    pub(super) fn native_configure_at_start(self: &Rc<Self>) {
        if !self.setup.sdk.native {
            return;
        }
        let token = self.native_bearer();
        // `ios-native-cache-wipe` with the module: the report's JS half. After a wipe the
        // load's end waits for the poll, which gives up signed out.
        if self.has(Defect::IosNativeCacheWipe)
            && self.setup.platform == Platform::Ios
            && self.configure_wipes(token)
        {
            self.rt.borrow_mut().native_boot = NativeBoot::Polling;
        }
        self.native_call(NativeCall::Configure { token });
        self.native_session_poll(1);
    }

    /// Poll `n` of the bootstrap (`for (elapsed = 0; elapsed < 3000; elapsed += 100)`): a
    /// session found waits for `addOnLoaded` (or is adopted now); none polls again after
    /// `sleep(100)`, up to the 30th.
    pub(super) fn native_session_poll(self: &Rc<Self>, n: u32) {
        let found = match self.native_call(NativeCall::GetSession) {
            NativeAnswer::Session { session: Some(sid) } => Some(sid),
            _ if n < NATIVE_POLLS_MAX => {
                let at = self.now().plus(NATIVE_POLL_INTERVAL_MS);
                self.schedule_js(at, JsJob::NativePoll(n + 1));
                return;
            }
            _ => None,
        };
        self.native_poll_over(found.is_some());
        let Some(sid) = found else {
            return;
        };
        if self.view.borrow().is_loaded {
            self.native_boot_adopt(sid);
        } else if !self.rules.boot_waits_for_load {
            // The wait for load resolves at once (`boot_waits_for_load`): adopted now.
            self.adopt_native_session(sid);
        } else {
            let loaded = self.rt.borrow().loaded.clone();
            let core = self.clone();
            self.exec.spawn(async move {
                loaded.wait().await;
                core.native_boot_adopt(sid);
            });
        }
    }

    /// Once loaded: `if (!client.sessions.some(s => s.id === sid))
    /// await __internal_reloadInitialResources()`, then `setActive({ session: sid })`, also
    /// for a session JS already shows (its touch may be answered 401).
    fn native_boot_adopt(self: &Rc<Self>, sid: SessionId) {
        if !self.view.borrow().is_loaded {
            return;
        }
        self.adopt_native_session(sid);
    }

    /// `NativeSessionSync`'s effect, after a render whose `isLoaded` or `isSignedIn` changed.
    pub(super) fn native_session_sync(&self) {
        if !self.setup.sdk.native
            || !self.device.borrow().running
            || self.rt.borrow().native_sync.deferred
        {
            return;
        }
        self.rt.borrow_mut().native_sync.in_effect = true;
        self.native_session_effect();
        self.rt.borrow_mut().native_sync.in_effect = false;
    }

    /// The effect's next run waits for the end of the turn (`checkpoint`). Not with
    /// `native-token-overwrites-js`: that era (3.4.5–3.7.7) has no `NativeSessionSync`, and
    /// the defect's scenario keeps the effect's native sign-out before its sync.
    pub(super) fn defer_native_sync(&self) {
        let era = self.has(Defect::NativeTokenOverwritesJs);
        self.rt.borrow_mut().native_sync.deferred = self.in_ui() && !era;
    }

    /// The deferred effect runs, after the turn's requests left.
    pub(super) fn run_deferred_native_sync(&self) {
        let deferred = std::mem::take(&mut self.rt.borrow_mut().native_sync.deferred);
        if deferred {
            self.native_session_sync();
        }
    }

    fn native_session_effect(&self) {
        let loaded = self.view.borrow().is_loaded;
        let status = self.rt.borrow().session().map(|v| v.status);
        let signed_in = self.rules.sync_signed_in(loaded, status);
        if self.rt.borrow().native_sync.deps == Some((loaded, signed_in)) {
            return;
        }
        self.rt.borrow_mut().native_sync.deps = Some((loaded, signed_in));
        if !signed_in {
            self.rt.borrow_mut().native_sync.synced = false;
            // 3.2.8+ (PR #8469): only once JS has loaded; 3.2.7 (`signout-while-loading`)
            // also while `isSignedIn` is still undefined.
            if loaded || self.has(Defect::SignoutWhileLoading) {
                self.native_call(NativeCall::SignOut);
            }
            return;
        }
        if self.rt.borrow().native_sync.synced {
            return;
        }
        if let NativeAnswer::Session { session: Some(_) } = self.native_call(NativeCall::GetSession)
        {
            self.rt.borrow_mut().native_sync.synced = true;
            return;
        }
        if let Some(token) = self.native_bearer() {
            self.native_call(NativeCall::Configure { token: Some(token) });
            self.rt.borrow_mut().native_sync.synced = true;
        }
    }

    /// The native sign-in UI completes; on iOS JS adopts the native client.
    pub(super) fn native_sign_in(self: &Rc<Self>) {
        if !self.setup.sdk.native || !self.device.borrow().running {
            return;
        }
        let session = self.on_native(|layer, env| layer.sign_in(env));
        let Some(sid) = session else {
            return;
        };
        if !native::emits_auth_events(self.setup.platform) || !self.device.borrow().js_runs() {
            return;
        }
        if let NativeAnswer::ClientToken { token: Some(t) } =
            self.native_call(NativeCall::GetClientToken)
        {
            let memory = self.setup.sdk.token_cache == TokenCacheKind::Memory;
            if memory && self.rules.native_adopts_into_own_cache {
                self.rt.borrow_mut().memory_token = Some(t);
            } else {
                if !memory {
                    self.rt.borrow_mut().memory_token = Some(t);
                }
                self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(t));
            }
        }
        self.adopt_native_session(sid);
    }

    /// `setActive({ session })` to the native layer's session, after
    /// `__internal_reloadInitialResources()` when the client JS holds lacks it.
    fn adopt_native_session(self: &Rc<Self>, sid: SessionId) {
        let known = self
            .rt
            .borrow()
            .client
            .as_ref()
            .is_some_and(|c| c.sessions.iter().any(|s| s.id == sid));
        if known {
            self.native_set_active(sid);
        } else {
            // `Promise.all([environment.fetch, client.fetch])`, environment first.
            let group = {
                let mut rt = self.rt.borrow_mut();
                let group = rt.adopt_serial;
                rt.adopt_serial += 1;
                rt.adopts.insert(group, Adopt::default());
                group
            };
            self.send(Req::Environment, Purpose::NativeAdopt { sid, group, client: false }, None);
            self.send(Req::GetClient, Purpose::NativeAdopt { sid, group, client: true }, None);
        }
    }

    /// One of the reload's two GETs answered (`view`: `None` when it failed, else the
    /// client the answer carried, if any). A failure rejects the `Promise.all`, which the
    /// caller swallows: the other answer is then ignored and `setActive` never runs.
    pub(super) fn native_adopt_answer(
        self: &Rc<Self>,
        sid: SessionId,
        group: u32,
        client: bool,
        view: Option<Option<ClientView>>,
        signout_epoch: u32,
    ) {
        let ready = {
            let mut rt = self.rt.borrow_mut();
            let Some(adopt) = rt.adopts.get_mut(&group) else {
                return;
            };
            match (view, client) {
                (Some(Some(view)), true) => adopt.client = Some((view, signout_epoch)),
                (Some(_), false) => adopt.environment = true,
                // A failure, or a 2xx client GET without its client.
                _ => {
                    rt.adopts.remove(&group);
                    return;
                }
            }
            if adopt.environment && adopt.client.is_some() {
                rt.adopts.remove(&group).and_then(|a| a.client)
            } else {
                None
            }
        };
        if let Some((view, epoch)) = ready {
            self.native_adopted(sid, Some(&view), epoch);
        }
    }

    /// `setActive({ session: sid })`: its touch, if the client JS holds has the session
    /// signed in; the session becomes current when the touch answers.
    /// A session the client does not list at all is `null` to clerk-js, which signs JS out
    /// locally where the profile says so (`set_active_unknown_signs_out`).
    fn native_set_active(self: &Rc<Self>, sid: SessionId) {
        let listed = self
            .rt
            .borrow()
            .client
            .as_ref()
            .map(|c| c.sessions.iter().find(|s| s.id == sid).map(|s| s.status.is_signed_in()));
        match listed {
            Some(Some(true)) => {
                self.send(Req::Touch { sid }, Purpose::NativeActivate { sid }, None);
            }
            Some(None) if self.rules.set_active_unknown_signs_out => {
                self.set_slot(Slot::Null, self.leaving_cause());
            }
            _ => {}
        }
    }

    /// `__internal_reloadInitialResources()` answered: the client applied, then `setActive`
    /// to the native session.
    pub(super) fn native_adopted(
        self: &Rc<Self>,
        sid: SessionId,
        view: Option<&ClientView>,
        signout_epoch: u32,
    ) {
        if let Some(view) = view {
            self.apply_client(view, signout_epoch);
            self.native_set_active(sid);
        }
        self.render();
    }

    /// The native session's `setActive` touch answered (its client already applied): on
    /// success the session is made current; a failure is swallowed.
    ///
    /// Where `setActive` awaits its token (clerk-js 6) the session is current only once
    /// `getToken` has one: a cache hit at once, else a token request whose failure rejects
    /// `setActive` (swallowed by the caller). Mirrors the model's `native_activated`.
    pub(super) fn native_activated(self: &Rc<Self>, sid: SessionId, ok: bool, signout_epoch: u32) {
        let stale =
            self.rules.ignores_stale_payloads && signout_epoch != self.rt.borrow().signout_epoch;
        if !ok || stale {
            return self.render();
        }
        let key = TokenKey::session(sid);
        let clock = self.expiry_clock();
        let (hit, signs_in) =
            {
                let rt = self.rt.borrow();
                let hit = rt.cache.get(&key).is_some_and(|e| {
                    e.0.remaining_at(clock) > self.rules.hit_min_remaining_ms as i64
                });
                let signs_in = rt.client.as_ref().is_some_and(|c| {
                    c.sessions.iter().any(|s| s.id == sid && s.status.is_signed_in())
                });
                (hit, signs_in)
            };
        if !self.rules.set_active_awaits_token || hit || !signs_in {
            self.activate(sid);
            return self.render();
        }
        let request = self.token_request(key, false, false);
        self.send(request, Purpose::NativeActivateToken { sid }, None);
    }

    /// The native `setActive`'s token request answered: with a token the session becomes
    /// current (the token into the cache first); without, JS stays as it was.
    pub(super) fn native_activation_token(
        self: &Rc<Self>,
        sid: SessionId,
        token: Option<TokenInfo>,
        signout_epoch: u32,
    ) {
        let stale =
            self.rules.ignores_stale_payloads && signout_epoch != self.rt.borrow().signout_epoch;
        if let Some(token) = token
            && !stale
        {
            self.token_resolved(token, true);
            self.activate(sid);
        }
        self.render();
    }

    /// `native-token-overwrites-js`: the unguarded native → JS sync of @clerk/expo
    /// 3.4.5–3.7.7, once JS has loaded: the native device token replaces the JS one, and the
    /// client is refetched with it.
    pub(super) fn native_to_js_sync(self: &Rc<Self>) {
        if !self.setup.sdk.native || !self.has(Defect::NativeTokenOverwritesJs) {
            return;
        }
        if self.adopt_native_token() {
            self.send(Req::GetClient, Purpose::NativeSync, None);
        }
    }

    /// `unauthenticated-adopts-native`: @clerk/expo 3.4.5–4.0.2's patched
    /// `handleUnauthenticated` first refreshes JS from the native state — the native device
    /// token into the JS token cache, unguarded (no check that the native client is the one
    /// JS is signed in on) — so the reload that follows carries the native token.
    pub(super) fn unauthenticated_adopts_native(&self) {
        if self.setup.sdk.native && self.has(Defect::UnauthenticatedAdoptsNative) {
            self.adopt_native_token();
        }
    }

    /// `refreshJsClientFromNativeState`'s first step, without the guards of PR #9222: the
    /// native device token, when it differs from the JS one, replaces it in the JS token
    /// cache. Whether it did.
    fn adopt_native_token(&self) -> bool {
        let NativeAnswer::ClientToken { token: Some(token) } =
            self.native_call(NativeCall::GetClientToken)
        else {
            return false;
        };
        if Some(token) == self.held_client_token() {
            return false;
        }
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
        true
    }
}
