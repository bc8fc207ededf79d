//! `Clerk.load()`: the environment and client requests, their retries, the outcome per
//! profile (ready, degraded with the resource cache, or an error), and the resource cache's
//! recovery reload. Mirrors `model/world/load.rs`.

use std::rc::Rc;

use crate::model::device::Payload;
use crate::model::profile::LoadFailurePolicy;
use crate::model::server::{ClientView, EnvironmentView, FapiReply, ReplyBody};
use crate::model::settings::TokenCacheKind;
use crate::model::vocab::{
    CallKind, CallResult, Defect, Network, Platform, SignOutCause, StorageKey,
};

use super::native::NativeBoot;
use super::transport::{Reply, Req};
use super::{Core, JsJob, LoadStatus, Purpose, Slot};
use crate::model::native::NativeCall;

impl Core {
    pub(super) fn start_load(self: &Rc<Self>) {
        let call = self.start_call(CallKind::Load);
        {
            let mut rt = self.rt.borrow_mut();
            rt.load_call = Some(call);
            rt.last_load_call = Some(call);
        }
        // `android-requires-native-module`: on Android without the `ClerkExpo` module the
        // package's import throws (`requireNativeModule`), so nothing of Clerk runs and the
        // app's load never ends (clerk/javascript #9197).
        if self.has(Defect::AndroidRequiresNativeModule)
            && self.setup.platform == Platform::Android
            && !self.setup.sdk.native
        {
            return;
        }
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore
            && !self.has(Defect::MemoryOnlyTokens)
        {
            self.peek_storage(StorageKey::ClientJwt);
        }
        // Without the native module the defect brings its own record of the bootstrap; with
        // it, the module's bootstrap (`native_configure_at_start`) carries the defect.
        if self.has(Defect::IosNativeCacheWipe)
            && self.setup.platform == Platform::Ios
            && !self.setup.sdk.native
            && !self.native.get().started
        {
            self.native_bootstrap();
        }
        // `load-waits-for-online-edge`: the load waits for a connectivity listener's
        // "online", which a listener that reports changes only never gives on a network that
        // is already up (clerk/javascript #8968).
        if self.has(Defect::LoadWaitsForOnlineEdge) {
            let heard = self.setup.net.connectivity_initial
                && self.device.borrow().network != Network::Offline;
            if !heard {
                self.rt.borrow_mut().awaiting_online = true;
                return;
            }
        }
        self.send_load();
    }

    pub(super) fn send_load(self: &Rc<Self>) {
        let attempt = {
            let mut rt = self.rt.borrow_mut();
            rt.load_attempt += 1;
            rt.parts = (None, None);
            rt.load_attempt
        };
        self.send_load_part(Req::Environment, Purpose::Load { client: false, attempt, tries: 1 });
        self.send_load_part(Req::GetClient, Purpose::Load { client: true, attempt, tries: 1 });
    }

    pub(super) fn send_load_part(self: &Rc<Self>, req: Req, purpose: Purpose) {
        let call = {
            let rt = self.rt.borrow();
            rt.load_call.or(rt.last_load_call)
        };
        self.send(req, purpose, call);
    }

    /// Stores one half of `Promise.all([environment, client])`; returns both once complete.
    /// Takes one half of a load's (or reload's) answer, sent under `epoch`; once both halves
    /// are in, returns the environment and the client with its own GET's epoch.
    pub(super) fn take_part(
        self: &Rc<Self>,
        client: bool,
        reply: &Reply,
        epoch: u32,
    ) -> Option<(EnvironmentView, ClientView, u32)> {
        if client
            && self.rules.per_session_cache
            && let Some(view) = reply.client()
        {
            // The client half is parsed as it arrives: its sessions hydrate the cache now.
            self.hydrate(view);
        }
        let mut rt = self.rt.borrow_mut();
        if client {
            rt.parts.1 = reply.client().cloned().map(|view| (view, epoch));
        } else if let Some(FapiReply { body: ReplyBody::Environment(e), .. }) = reply.body() {
            rt.parts.0 = Some(*e);
        }
        match &rt.parts {
            (Some(e), Some((c, client_epoch))) => Some((*e, c.clone(), *client_epoch)),
            _ => None,
        }
    }

    /// Takes one half of a load's (or reload's) answer; once both halves are in, applies the
    /// environment and the client. Returns whether it did.
    pub(super) fn apply_part(
        self: &Rc<Self>,
        client: bool,
        reply: &Reply,
        sent_epoch: u32,
    ) -> bool {
        let Some((environment, view, client_epoch)) = self.take_part(client, reply, sent_epoch)
        else {
            return false;
        };
        self.rt.borrow_mut().environment = Some(environment);
        self.write_stored_environment(environment);
        let epoch = self.rt.borrow().signout_epoch;
        if self.rules.ignores_stale_payloads && client_epoch != epoch {
            // The user signed out while the load was in flight: its client is from before
            // the sign-out, so the app loads signed out.
            self.rt.borrow_mut().slot = Slot::Null;
        } else {
            self.apply_client_with(&view, epoch, !self.rules.per_session_cache);
        }
        true
    }

    pub(super) fn load_answer(
        self: &Rc<Self>,
        (client, attempt, tries): (bool, u32, u32),
        reply: Reply,
        signout_epoch: u32,
    ) {
        let stale = {
            let rt = self.rt.borrow();
            attempt != rt.load_attempt || rt.status != LoadStatus::Loading
        };
        if stale {
            if self.rules.load_get_outlives_load
                && matches!(reply, Reply::NetworkError)
                && tries < self.load_tries_max()
            {
                // A GET of a load that already failed keeps retrying; nobody reads it.
                let at = self.now().plus(self.rules.get_retry_delay_ms(tries - 1));
                self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
            }
            return;
        }
        if reply.is_ok() {
            if self.apply_part(client, &reply, signout_epoch) {
                self.load_complete();
            }
        } else if matches!(reply, Reply::NetworkError) && tries < self.load_tries_max() {
            // clerk-js retries GETs (only) when fetch throws.
            let at = self.now().plus(self.rules.get_retry_delay_ms(tries - 1));
            self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
        } else {
            self.load_failed(reply);
        }
    }

    /// How many times a load's GET is tried when `fetch` throws: once with the resource cache
    /// (`fetchMaxTries: 1`), as the model's `load_tries_max`.
    fn load_tries_max(&self) -> u32 {
        if self.setup.sdk.resource_cache { 1 } else { self.rules.get_tries_max }
    }

    /// Both GETs answered: loaded — unless the 3.2.7 iOS bootstrap still waits on native.
    pub(super) fn load_complete(self: &Rc<Self>) {
        let boot = self.rt.borrow().native_boot;
        match boot {
            NativeBoot::Polling => self.rt.borrow_mut().load_done_pending = true,
            NativeBoot::GaveUp => {
                self.set_slot(Slot::Null, SignOutCause::LocalWipe);
                self.finish_load(LoadStatus::Ready, CallResult::Ok);
            }
            NativeBoot::Off => self.finish_load(LoadStatus::Ready, CallResult::Ok),
        }
    }

    pub(super) fn load_failed(self: &Rc<Self>, reply: Reply) {
        let failure = reply.failure();
        // Promise.all rejects at the first failure; the other GET's answer is ignored.
        self.rt.borrow_mut().load_attempt += 1;
        if self.setup.sdk.resource_cache {
            let cached = match self.read_storage(StorageKey::CachedClient) {
                Some(Payload::Client(view)) => Some(view),
                _ => None,
            };
            let environment = match self.read_storage(StorageKey::CachedEnvironment) {
                Some(Payload::Environment) => self.stored_environment.get(),
                _ => None,
            };
            self.rt.borrow_mut().environment = environment;
            match cached {
                Some(view) => {
                    let epoch = self.rt.borrow().signout_epoch;
                    self.apply_client(&view, epoch);
                }
                None => self.rt.borrow_mut().slot = Slot::Null,
            }
            self.finish_load(LoadStatus::Degraded, CallResult::Ok);
            // `offline-start-gives-up`: no recovery reload either.
            if !self.has(Defect::OfflineStartGivesUp) {
                let at = self.now().plus(self.rules.resource_retry_first_ms);
                self.schedule_js(at, JsJob::ResourceReload(0));
            }
            return;
        }
        // `offline-start-gives-up`: a failed load is final, whatever the profile says.
        let policy = if self.has(Defect::OfflineStartGivesUp) {
            LoadFailurePolicy::StuckUnloaded
        } else {
            self.rules.load_failure
        };
        match policy {
            LoadFailurePolicy::StuckUnloaded => {
                let call = {
                    let mut rt = self.rt.borrow_mut();
                    rt.status = LoadStatus::Error { loaded: false };
                    rt.load_call.take()
                };
                if let Some(call) = call {
                    self.settle(call, failure.result());
                }
            }
            LoadFailurePolicy::RetryThenSignedOut => {
                let retries = self.rt.borrow().load_retries;
                if retries < self.rules.retries_max && !failure.is_final() {
                    let at = self.now().plus(self.rules.retry_delay_ms(retries));
                    let attempt = {
                        let mut rt = self.rt.borrow_mut();
                        rt.load_retries += 1;
                        rt.load_attempt
                    };
                    self.schedule_js(at, JsJob::LoadRetry(attempt));
                } else {
                    self.rt.borrow_mut().slot = Slot::Null;
                    self.finish_load(LoadStatus::Error { loaded: true }, failure.result());
                    // Signed out for now, not for good: the recovery reload keeps trying.
                    let at = self.now().plus(self.rules.resource_retry_first_ms);
                    self.schedule_js(at, JsJob::ResourceReload(0));
                }
            }
        }
    }

    pub(super) fn finish_load(self: &Rc<Self>, status: LoadStatus, result: CallResult) {
        let (call, loaded) = {
            let mut rt = self.rt.borrow_mut();
            rt.status = status;
            if rt.slot == Slot::Undefined {
                rt.slot = Slot::Null;
            }
            (rt.load_call.take(), rt.loaded.clone())
        };
        if let Some(call) = call {
            self.settle(call, result);
        }
        // The load's render is a default-lane update: its effects wait for the turn's end.
        self.defer_native_sync();
        self.render();
        // The resource cache's listener hears the loaded client (as the model's `finish_load`).
        if status == LoadStatus::Ready {
            self.persist_resources();
        }
        self.native_to_js_sync();
        // `empty-client-clobber`: the native layer is configured from JS once JS has loaded
        // (Expo 4.x order), with the client token JS holds then.
        if self.has(Defect::EmptyClientClobber) && !self.native.get().started {
            self.native_call(NativeCall::Configure { token: self.held_client_token() });
        }
        // Calls waiting for `load()` go on, in the order they came.
        loaded.resolve(());
    }

    /// The resource cache's recovery reload answered. Its client speaks only if it was sent
    /// under the current sign-out epoch (documented: a reload sent before a sign-in or
    /// sign-out is stale).
    pub(super) fn reload_answer(
        self: &Rc<Self>,
        (client, attempt): (bool, u32),
        reply: Reply,
        signout_epoch: u32,
    ) {
        {
            let rt = self.rt.borrow();
            if attempt != rt.load_attempt || !rt.status.recovers() {
                return;
            }
        }
        if reply.is_ok() {
            if let Some((environment, view, client_epoch)) =
                self.take_part(client, &reply, signout_epoch)
            {
                self.rt.borrow_mut().environment = Some(environment);
                self.write_stored_environment(environment);
                self.apply_client_with(&view, client_epoch, !self.rules.per_session_cache);
                self.rt.borrow_mut().status = LoadStatus::Ready;
            }
        } else {
            let n = {
                let mut rt = self.rt.borrow_mut();
                rt.load_attempt += 1;
                rt.load_retries
            };
            let network = matches!(reply, Reply::NetworkError);
            let refused = !network && reply.failure().is_final();
            if !refused || self.rules.recovery_outlasts_refusals {
                let at = self.now().plus(self.rules.resource_retry_delay_ms(n, network));
                self.schedule_js(at, JsJob::ResourceReload(n + 1));
            }
        }
    }

    pub(super) fn is_loaded(&self) -> bool {
        matches!(
            self.rt.borrow().status,
            LoadStatus::Ready | LoadStatus::Degraded | LoadStatus::Error { loaded: true }
        )
    }
}
