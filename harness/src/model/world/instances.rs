//! The app's SDK instances (`instances: N` in the setup) over one device and one storage.
//!
//! Apps create more than one Clerk instance: two providers, a share extension, a headless
//! background task. Each instance is a JS state of its own
//! ([`Js`]: load, client, token cache, timers, calls, requests in flight) while the device,
//! its secure storage, the server and the native layer exist once, so the last write to
//! storage wins, as on the platform. Instance 0 is the app's UI: the rendered view, routing,
//! the AppState listener and the native bootstrap are its alone; the others are headless,
//! and their calls, requests and storage writes reach the trace like the UI's.
//!
//! The rules of the other rooms read and write `self.js` only, so they run unchanged: the
//! world swaps the addressed instance into `self.js` for the length of an event or an agenda
//! job ([`World::enter`]) and swaps the UI's back before anything renders. A job finds its
//! instance from its runtime number (instance `i`'s runtimes count from `i << 24`), so jobs
//! and flights record their instance without a field of their own. The reference SDK's
//! `sdk/reference/js/instances.rs` holds the same rules.

use std::collections::BTreeMap;

use crate::model::time::VTime;
use crate::model::vocab::{AppPath, AppState, Event};

use super::native::NativeSync;
use super::{Js, JsJob, LoadStatus, Shell, Slot, World};

/// Where a runtime number keeps its instance: instance `i`'s runtimes are `i << 24` and up.
const INSTANCE_SHIFT: u32 = 24;

/// The instance a runtime number belongs to.
pub(super) fn instance_of(runtime: u32) -> usize {
    (runtime >> INSTANCE_SHIFT) as usize
}

/// The JS states waiting outside `World::js`: slot 0 holds a placeholder while instance 0
/// runs (always, between jobs), slot `i` instance `i`'s first runtime.
pub(super) fn parked(instances: u8) -> Vec<Js> {
    (0..u32::from(instances.max(1))).map(|i| Js::new(i << INSTANCE_SHIFT)).collect()
}

impl Js {
    pub(super) fn new(runtime: u32) -> Js {
        Js {
            runtime,
            native: NativeSync::default(),
            status: LoadStatus::Loading,
            heard: AppState::Active,
            load_call: None,
            last_load_call: None,
            load_attempt: 0,
            load_retries: 0,
            load_parts: (None, None),
            env: None,
            slot: Slot::Undefined,
            client: None,
            memory_token: None,
            cache: BTreeMap::new(),
            cache_gen: 0,
            recurring_gen: 0,
            fetch: BTreeMap::new(),
            bg: BTreeMap::new(),
            unauth: None,
            held: BTreeMap::new(),
            last_token: BTreeMap::new(),
            calls: BTreeMap::new(),
            load_waiters: Vec::new(),
            signout_epoch: 0,
            user_signing_out: false,
            transitive_from_session: false,
            preferred: None,
            adopts: BTreeMap::new(),
            adopt_serial: 0,
            shell: Shell {
                current_path: AppPath::home(),
                return_to: None,
                refreshing: None,
                queue: Vec::new(),
                refused: 0,
                refetched: false,
            },
        }
    }
}

impl World {
    /// How many SDK instances the app runs.
    pub(super) fn instances(&self) -> usize {
        self.parked.len()
    }

    /// Swaps instance `i`'s JS state into `self.js`, parking the current one.
    pub(super) fn enter(&mut self, i: usize) {
        if i == self.current || i >= self.parked.len() {
            return;
        }
        // `parked[current]` holds the placeholder; two swaps move it to `parked[i]`.
        std::mem::swap(&mut self.js, &mut self.parked[self.current]);
        std::mem::swap(&mut self.js, &mut self.parked[i]);
        self.current = i;
    }

    /// Whether the UI's instance is the one running now (only it renders and routes).
    pub(super) fn in_ui(&self) -> bool {
        self.current == 0
    }

    /// An SDK-facing event addressed to instance `n`; one the app lacks, or an event no
    /// instance performs, does nothing (the trace still records it).
    pub(super) fn on_instance(&mut self, n: u8, step: &Event) {
        if usize::from(n) >= self.instances() || !step.is_addressable() {
            return;
        }
        self.enter(usize::from(n));
        self.apply(step);
        self.enter(0);
    }

    /// Calls not yet settled, in every instance.
    pub(super) fn open_calls(&self) -> u32 {
        let parked: usize = (0..self.parked.len())
            .filter(|i| *i != self.current)
            .map(|i| self.parked[i].calls.len())
            .sum();
        (self.js.calls.len() + parked) as u32
    }

    /// Every instance starts a JS runtime (cold start, JS reload, a background launch), in
    /// order: the UI's first, with the native bootstrap; the headless ones load alone.
    pub(super) fn start_all_js(&mut self) {
        for i in 0..self.instances() {
            self.enter(i);
            self.start_js();
        }
        self.enter(0);
    }

    /// Every instance's runtime dies (kill, JS reload), the UI's first.
    pub(super) fn end_all_js(&mut self) {
        for i in 0..self.instances() {
            self.enter(i);
            self.end_js();
        }
        self.enter(0);
    }

    /// An agenda job of runtime `js`: run in its instance if that runtime still lives and JS
    /// runs, held while JS is suspended, dropped with a dead runtime. Returns whether it ran.
    pub(super) fn run_js_job(&mut self, js: u32, job: JsJob, at: VTime) -> bool {
        self.enter(instance_of(js));
        let ran = if js != self.js.runtime || !self.device.running {
            // The runtime that sent it is gone: its answer lands nowhere, and the request is
            // no longer in flight (it used to stay counted forever).
            if let JsJob::Deliver(req, _) = job {
                self.flights.remove(&req);
            }
            false
        } else if !self.device.js_runs() {
            self.paused.push((at, js, job));
            false
        } else {
            self.run_js(job, at);
            true
        };
        self.enter(0);
        ran
    }

    /// A held job runs late, in its instance.
    pub(super) fn run_held(&mut self, js: u32, job: JsJob, due: VTime) {
        self.enter(instance_of(js));
        self.run_js(job, due);
        self.enter(0);
    }
}
