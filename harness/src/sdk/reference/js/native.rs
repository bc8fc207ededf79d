//! The native layer (clerk-ios / clerk-android inside `@clerk/expo`) as the reference SDK
//! sees it: configured from JS, it lives with the process and survives a JS reload; the
//! 3.2.7 iOS bootstrap that polls the native session (`ios-native-cache-wipe`) and the sync
//! on return to the foreground. Mirrors `model/world/native.rs`.

use std::rc::Rc;

use crate::model::device::Payload;
use crate::model::server::ClientToken;
use crate::model::settings::TokenCacheKind;
use crate::model::time::VTime;
use crate::model::vocab::{CallResult, SignOutCause, StorageKey, TimerKind};

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

/// The native SDK layer (clerk-ios / clerk-android): lives with the process, survives a JS
/// reload.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Native {
    pub(super) configured: bool,
    pub(super) device_token: Option<ClientToken>,
}

impl Core {
    /// `ios-native-cache-wipe`: `@clerk/expo` 3.2.7's cold-start bootstrap on iOS. It reads
    /// the JS client token and configures the native layer with it, in parallel with the JS
    /// load. `syncTokenState` writes `clerkDeviceToken`; the value differs from the native
    /// one, so `clearCachedClerkData()` wipes the native cached client. `configure()` resolves
    /// at once — before the native session has loaded — and the JS side starts polling.
    pub(super) fn native_bootstrap(self: &Rc<Self>) {
        let token = match self.read_storage(StorageKey::ClientJwt) {
            Some(Payload::ClientToken(t)) => Some(t),
            _ => None,
        };
        let mut wiped = false;
        if let Some(token) = token {
            let changed = self.device.borrow().read(StorageKey::NativeDeviceToken).map(|r| r.1)
                != Some(Payload::ClientToken(token).digest());
            self.write_storage(StorageKey::NativeDeviceToken, Payload::ClientToken(token));
            if changed {
                self.delete_storage(StorageKey::NativeCachedClient);
                wiped = true;
            }
        }
        self.native.set(Native { configured: true, device_token: token });
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
        let pending = {
            let mut rt = self.rt.borrow_mut();
            rt.native_boot = NativeBoot::GaveUp;
            std::mem::take(&mut rt.load_done_pending)
        };
        if pending {
            self.set_slot(Slot::Null, SignOutCause::LocalWipe);
            self.finish_load(LoadStatus::Ready, CallResult::Ok);
        }
    }

    /// `empty-client-clobber`: on return to the foreground the native layer pushes the device
    /// token it was configured with into `__clerk_client_jwt` (bypassing JS's own token
    /// logic) and JS reloads the client with it.
    pub(super) fn native_foreground_sync(self: &Rc<Self>) {
        let native = self.native.get();
        let Some(token) = native.device_token.filter(|_| native.configured) else {
            return;
        };
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
        self.send(Req::GetClient, Purpose::NativeSync, None);
    }
}
