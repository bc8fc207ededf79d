//! The reference SDK: an Expo app using Clerk, as real async Rust on a paused tokio runtime.
//!
//! [`ReferenceSdk`] is an [`SdkPort`]: every `step` runs inside the caller's current-thread
//! tokio runtime built with `start_paused(true)` ([`ReferenceSdk::runtime`]), so waiting an
//! hour of virtual time costs nothing and the same events always give the same interleaving.
//! It talks to its own FAPI emulator only through the in-process transport (HTTP-like
//! requests, typed answers) and to the app's backend; its device storage is the emulated
//! secure store with iOS's 2048-byte items.
//!
//! Modules: [`exec`] (promises and the microtask queue), `js` (clerk-js core, `@clerk/expo`,
//! the native layer and the app shell, with the defect switches).
//!
//! ```
//! use session_harness::model::profile::ProfileId;
//! use session_harness::model::settings::Setup;
//! use session_harness::model::vocab::{Event, Platform};
//! use session_harness::sdk::{ReferenceSdk, SdkPort};
//!
//! let mut sdk = ReferenceSdk::new(Setup::new(Platform::Ios, ProfileId::Documented), &[]);
//! let rt = ReferenceSdk::runtime();
//! let obs = rt.block_on(async {
//!     sdk.step(&Event::ColdStart).await.unwrap();
//!     sdk.step(&Event::Advance { ms: 1_000 }).await.unwrap();
//!     sdk.step(&Event::SignIn { task: None }).await.unwrap();
//!     sdk.step(&Event::Advance { ms: 1_000 }).await.unwrap()
//! });
//! assert_eq!(obs.view.is_signed_in, Some(true));
//! ```

pub mod exec;
mod js;

use std::rc::Rc;

use crate::fapi::Fapi;
use crate::model::Observation;
use crate::model::device::Device;
use crate::model::settings::Setup;
use crate::model::time::VTime;
use crate::model::vocab::{Defect, Event};
use crate::sdk::defects::Defects;
use crate::sdk::port::{PortError, SdkPort};

use js::Core;

/// One installed app running the reference SDK, with its own FAPI emulator and backend.
pub struct ReferenceSdk {
    core: Rc<Core>,
}

impl ReferenceSdk {
    /// The app installed on a fresh device, not running yet, with `defects` switched on.
    pub fn new(setup: Setup, defects: &[Defect]) -> ReferenceSdk {
        ReferenceSdk { core: Core::new(setup, Defects::of(defects)) }
    }

    /// The runtime every step must run in: current-thread, paused virtual time.
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime always builds")
    }

    pub fn setup(&self) -> &Setup {
        &self.core.setup
    }

    pub fn defects(&self) -> Defects {
        self.core.defects
    }

    /// The FAPI emulator this app talks to (its request log, its server).
    pub fn fapi(&self) -> &Fapi {
        &self.core.fapi
    }

    /// The emulated device (storage, app state, network).
    pub fn device(&self) -> std::cell::Ref<'_, Device> {
        self.core.device.borrow()
    }

    /// Applies one event; the inherent, infallible form of [`SdkPort::step`].
    pub async fn apply(&mut self, event: &Event) -> Observation {
        self.core.step(event).await
    }
}

impl Drop for ReferenceSdk {
    fn drop(&mut self) {
        // Tasks hold the core: drop them so the core goes too.
        self.core.shutdown();
    }
}

impl SdkPort for ReferenceSdk {
    fn name(&self) -> String {
        self.core.defects.sdk_name()
    }

    fn now(&self) -> VTime {
        self.core.now()
    }

    async fn step(&mut self, event: &Event) -> Result<Observation, PortError> {
        Ok(self.core.step(event).await)
    }
}
