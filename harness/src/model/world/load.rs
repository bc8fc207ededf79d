//! `Clerk.load()`: the environment and client requests, their retries, the outcome per
//! profile (ready, degraded with the resource cache, or an error), and the resource cache's
//! recovery reload. Mirrors `sdk/reference/js/load.rs`.

use crate::model::device::Payload;
use crate::model::profile::LoadFailurePolicy;
use crate::model::server::{ClientView, FapiReply, FapiRequest, ReplyBody};
use crate::model::settings::TokenCacheKind;
use crate::model::vocab::{CallKind, CallResult, StorageKey};

use super::{Failure, JsJob, LoadStatus, Purpose, Reply, Slot, World};

impl World {
    pub(super) fn start_load(&mut self) {
        let call = self.start_call(CallKind::Load);
        self.js.load_call = Some(call);
        self.js.last_load_call = Some(call);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.peek_storage(StorageKey::ClientJwt);
        }
        self.send_load();
    }

    pub(super) fn send_load(&mut self) {
        self.js.load_attempt += 1;
        self.js.load_parts = (None, None);
        let attempt = self.js.load_attempt;
        self.send(FapiRequest::Environment, Purpose::Load { client: false, attempt, tries: 1 });
        self.send(FapiRequest::GetClient, Purpose::Load { client: true, attempt, tries: 1 });
    }

    /// Records one half of `Promise.all([environment, client])`; once both are in, keeps the
    /// environment and returns the client to apply.
    /// Takes one half of a load's (or reload's) answer, sent under `epoch`; once both halves
    /// are in, sets the environment and returns the client with its own GET's epoch.
    pub(super) fn take_load_part(
        &mut self,
        client: bool,
        answer: FapiReply,
        epoch: u32,
    ) -> Option<(ClientView, u32)> {
        if client {
            if self.rules.per_session_cache
                && let Some(view) = &answer.client
            {
                // The client half is parsed as it arrives: its sessions hydrate the cache now.
                self.hydrate(view);
            }
            self.js.load_parts.1 = answer.client.map(|view| (view, epoch));
        } else if let ReplyBody::Environment(env) = answer.body {
            self.js.load_parts.0 = Some(env);
        }
        let (Some(env), Some(part)) = self.js.load_parts.clone() else { return None };
        self.js.env = Some(env);
        Some(part)
    }

    pub(super) fn load_answer(
        &mut self,
        (client, attempt, tries): (bool, u32, u32),
        reply: Reply,
        signout_epoch: u32,
    ) {
        if attempt != self.js.load_attempt || self.js.status != LoadStatus::Loading {
            if self.rules.load_get_outlives_load
                && matches!(reply, Reply::NetworkError)
                && tries < self.load_tries_max()
            {
                // A GET of a load that already failed keeps retrying; nobody reads it.
                let at = self.now.plus(self.rules.get_retry_delay_ms(tries - 1));
                self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
            }
            return;
        }
        match reply {
            Reply::Answer(a) if a.is_ok() => {
                if let Some((view, client_epoch)) = self.take_load_part(client, *a, signout_epoch) {
                    if self.rules.ignores_stale_payloads && client_epoch != self.js.signout_epoch {
                        // The user signed out while the load was in flight: its client is
                        // from before the sign-out, so the app loads signed out.
                        self.js.slot = Slot::Null;
                    } else {
                        let seed = !self.rules.per_session_cache;
                        self.apply_client_with(&view, self.js.signout_epoch, seed);
                    }
                    self.finish_load(LoadStatus::Ready, CallResult::Ok);
                }
            }
            Reply::NetworkError if tries < self.load_tries_max() => {
                // clerk-js retries GETs (only) when fetch throws.
                let at = self.now.plus(self.rules.get_retry_delay_ms(tries - 1));
                self.schedule_js(at, JsJob::GetRetry { client, attempt, tries: tries + 1 });
            }
            other => self.load_failed(other),
        }
    }

    /// How many times a load's GET is tried when `fetch` throws: clerk-js's transport retry,
    /// but once only with Expo's resource cache wired (`#loadInNonStandardBrowser` passes
    /// `fetchMaxTries: 1` when `__internal_getCachedResources` is set, and falls back to the
    /// cached snapshots at the first network error; fresh-seed gate campaign 0x7a76007d on
    /// @clerk/expo 3.2.8, case seed 0xbf16c9c39569a0f9).
    fn load_tries_max(&self) -> u32 {
        if self.setup.sdk.resource_cache { 1 } else { self.rules.get_tries_max }
    }

    pub(super) fn load_failed(&mut self, reply: Reply) {
        let failure = match &reply {
            Reply::Answer(a) => Failure::from_reply(a),
            Reply::NetworkError => Failure::network(),
        };
        // Promise.all rejects at the first failure; the other GET's answer is ignored.
        self.js.load_attempt += 1;
        if self.setup.sdk.resource_cache {
            let cached = match self.read_storage(StorageKey::CachedClient) {
                Some(Payload::Client(view)) => Some(view),
                _ => None,
            };
            // The cached environment, if one was stored (the instance's settings do not change
            // during a run, so what was stored is the server's environment); none otherwise.
            let stored = matches!(
                self.read_storage(StorageKey::CachedEnvironment),
                Some(Payload::Environment)
            );
            self.js.env = stored.then(|| self.server.environment());
            match cached {
                Some(view) => self.apply_client(&view, self.js.signout_epoch),
                None => self.js.slot = Slot::Null,
            }
            self.finish_load(LoadStatus::Degraded, CallResult::Ok);
            let at = self.now.plus(self.rules.resource_retry_first_ms);
            self.schedule_js(at, JsJob::ResourceReload { n: 0 });
            return;
        }
        match self.rules.load_failure {
            LoadFailurePolicy::StuckUnloaded => {
                self.js.status = LoadStatus::Error { loaded: false };
                let result = CallResult::Error { status: failure.status, code: failure.code };
                if let Some(call) = self.js.load_call.take() {
                    self.settle(call, result);
                }
            }
            LoadFailurePolicy::RetryThenSignedOut => {
                if self.js.load_retries < self.rules.retries_max && !failure.is_final() {
                    let at = self.now.plus(self.rules.retry_delay_ms(self.js.load_retries));
                    self.js.load_retries += 1;
                    let attempt = self.js.load_attempt;
                    self.schedule_js(at, JsJob::LoadRetry { attempt });
                } else {
                    self.js.slot = Slot::Null;
                    let result = CallResult::Error { status: failure.status, code: failure.code };
                    self.finish_load(LoadStatus::Error { loaded: true }, result);
                    // Signed out for now, but not for good: the recovery reload keeps trying
                    // (even after a refusal: the server's answer may change), so the
                    // credential signs the user in once the network or the server is back.
                    let at = self.now.plus(self.rules.resource_retry_first_ms);
                    self.schedule_js(at, JsJob::ResourceReload { n: 0 });
                }
            }
        }
    }

    pub(super) fn finish_load(&mut self, status: LoadStatus, result: CallResult) {
        self.js.status = status;
        if self.js.slot == Slot::Undefined {
            self.js.slot = Slot::Null;
        }
        if let Some(call) = self.js.load_call.take() {
            self.settle(call, result);
        }
        // The render that shows the load is @clerk/react's provider state (a default-lane
        // update): its effects run in a later macrotask, after this turn's requests left.
        self.defer_native_sync();
        self.render();
        // The resource cache's listener hears, once the app has rendered, the loaded client: the load's own payload came
        // while loading, and a cache left at an older client would restore an older session
        // at the next offline start (fuzz case seed 0x135ef5233b0b7c60).
        if status == LoadStatus::Ready {
            self.persist_resources();
        }
        // Whoever waited for `load()` goes on in the order they began waiting: the calls, and
        // the native bootstrap's `addOnLoaded` at its place among them.
        let waiters = std::mem::take(&mut self.js.load_waiters);
        let mut boot = self.take_native_boot_waiter();
        for (i, call) in waiters.into_iter().enumerate() {
            if let Some((sid, _)) = boot.filter(|b| b.1 <= i) {
                boot = None;
                self.native_boot_adopt(sid);
            }
            match self.js.calls.get(&call).map(|c| c.kind) {
                Some(CallKind::SignIn) => self.send_sign_in(call),
                Some(_) => self.token_begin(call),
                None => {}
            }
        }
        if let Some((sid, _)) = boot {
            self.native_boot_adopt(sid);
        }
    }

    /// The resource cache's recovery reload answered. Its client speaks only if it was sent
    /// under the current sign-out epoch (documented: a reload sent before a sign-in or
    /// sign-out is stale).
    pub(super) fn reload_answer(
        &mut self,
        (client, attempt): (bool, u32),
        reply: Reply,
        signout_epoch: u32,
    ) {
        if attempt != self.js.load_attempt || !self.js.status.recovers() {
            return;
        }
        match reply {
            Reply::Answer(a) if a.is_ok() => {
                if let Some((view, client_epoch)) = self.take_load_part(client, *a, signout_epoch) {
                    let seed = !self.rules.per_session_cache;
                    self.apply_client_with(&view, client_epoch, seed);
                    self.js.status = LoadStatus::Ready;
                }
            }
            other => {
                self.js.load_attempt += 1;
                let (network, final_4xx) = match &other {
                    Reply::NetworkError => (true, false),
                    Reply::Answer(a) => (false, Failure::from_reply(a).is_final()),
                };
                if !final_4xx || self.rules.recovery_outlasts_refusals {
                    let n = self.js.load_retries;
                    let at = self.now.plus(self.rules.resource_retry_delay_ms(n, network));
                    self.schedule_js(at, JsJob::ResourceReload { n: n + 1 });
                }
            }
        }
    }

    pub(super) fn is_loaded(&self) -> bool {
        matches!(
            self.js.status,
            LoadStatus::Ready | LoadStatus::Degraded | LoadStatus::Error { loaded: true }
        )
    }
}
