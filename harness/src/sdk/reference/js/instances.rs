//! The app's SDK instances (`instances: N` in the setup) over one device and one storage.
//!
//! Each instance is a [`Runtime`] of its own (load, client, token cache, timers, calls,
//! requests in flight) while the device, its secure storage, the server and the native layer
//! exist once: the last write to storage wins, as on the platform. Instance 0 is the app's
//! UI: the rendered view, routing, the AppState listener and the native bootstrap are its
//! alone; the others are headless.
//!
//! The rules of the other rooms read and write `self.rt` only, so they run unchanged: the
//! core swaps the addressed instance into `rt` for an event, a macrotask, or a microtask of a
//! task that instance spawned (the executor tags each task, `exec.rs`), and swaps the UI's
//! back before anything renders. A macrotask finds its instance from its runtime number
//! (instance `i`'s runtimes count from `i << 24`). Mirrors `model/world/instances.rs`.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::model::time::VTime;
use crate::model::vocab::{AppPath, AppState, Event};
use crate::sdk::reference::exec::Promise;

use super::native::{NativeBoot, NativeSync};
use super::{Core, JsJob, LoadStatus, Runtime, Shell, Slot};

/// Where a runtime number keeps its instance: instance `i`'s runtimes are `i << 24` and up.
const INSTANCE_SHIFT: u32 = 24;

/// The instance a runtime number belongs to.
pub(super) fn instance_of(runtime: u32) -> usize {
    (runtime >> INSTANCE_SHIFT) as usize
}

/// The runtimes waiting outside `Core::rt`: slot 0 holds a placeholder while instance 0 runs
/// (always, between macrotasks), slot `i` instance `i`'s first runtime.
pub(super) fn parked(instances: u8) -> Vec<Runtime> {
    (0..u32::from(instances.max(1))).map(|i| Runtime::new(i << INSTANCE_SHIFT)).collect()
}

impl Runtime {
    pub(super) fn new(id: u32) -> Runtime {
        Runtime {
            id,
            status: LoadStatus::Loading,
            load_call: None,
            last_load_call: None,
            load_attempt: 0,
            load_retries: 0,
            parts: (None, None),
            environment: None,
            loaded: Promise::new(),
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
            signout_epoch: 0,
            user_signing_out: false,
            transitive_from_session: false,
            preferred: None,
            native_boot: NativeBoot::Off,
            native_sync: NativeSync::default(),
            adopts: BTreeMap::new(),
            adopt_serial: 0,
            load_done_pending: false,
            awaiting_online: false,
            heard: AppState::Active,
            refresh_stopped: false,
            shell: Shell {
                current_path: AppPath::home(),
                return_to: None,
                refreshing: None,
                resume_header: None,
                refused: 0,
            },
        }
    }
}

impl Core {
    /// How many SDK instances the app runs.
    pub(super) fn instances(&self) -> usize {
        self.parked.borrow().len()
    }

    /// Swaps instance `i`'s runtime into `rt`, parking the current one; tasks spawned from
    /// now on are `i`'s.
    pub(super) fn enter(&self, i: usize) {
        let current = self.current.get();
        if i == current || i >= self.instances() {
            return;
        }
        let mut rt = self.rt.borrow_mut();
        let mut parked = self.parked.borrow_mut();
        // `parked[current]` holds the placeholder; two swaps move it to `parked[i]`.
        std::mem::swap(&mut *rt, &mut parked[current]);
        std::mem::swap(&mut *rt, &mut parked[i]);
        self.current.set(i);
        self.exec.set_tag(i);
    }

    /// Whether the UI's instance is the one running now (only it renders and routes).
    pub(super) fn in_ui(&self) -> bool {
        self.current.get() == 0
    }

    /// An SDK-facing event addressed to instance `n`; one the app lacks, or an event no
    /// instance performs, does nothing.
    pub(super) fn on_instance(self: &Rc<Self>, n: u8, step: &Event) {
        if usize::from(n) >= self.instances() || !step.is_addressable() {
            return;
        }
        self.enter(usize::from(n));
        self.apply(step);
        self.enter(0);
    }

    /// Calls not yet settled, in every instance.
    pub(super) fn open_calls(&self) -> u32 {
        let current = self.current.get();
        let parked = self.parked.borrow();
        let others: usize = parked
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != current)
            .map(|(_, r)| r.calls.len())
            .sum();
        (self.rt.borrow().calls.len() + others) as u32
    }

    /// Every instance starts a JS runtime, in order: the UI's first.
    pub(super) fn start_all_js(self: &Rc<Self>) {
        for i in 0..self.instances() {
            self.enter(i);
            self.start_js();
        }
        self.enter(0);
    }

    /// Every instance's runtime dies, the UI's first.
    pub(super) fn end_all_js(&self) {
        for i in 0..self.instances() {
            self.enter(i);
            self.end_js();
        }
        self.enter(0);
    }

    /// Microtasks until none is ready, each in the instance that spawned it; then the UI's
    /// instance is back in `rt`.
    pub(super) fn run_microtasks(&self) {
        self.exec.run_tagged(|tag| self.enter(tag));
        self.enter(0);
    }

    /// A JS macrotask of runtime `runtime`: run in its instance if that runtime still lives
    /// and JS runs, held while JS is suspended, dropped with a dead runtime. Returns whether
    /// it ran.
    pub(super) fn run_js_macro(self: &Rc<Self>, runtime: u32, job: JsJob, due: VTime) -> bool {
        self.enter(instance_of(runtime));
        let running = self.device.borrow().running;
        let mut ran = false;
        if runtime != self.rt.borrow().id || !running {
            // The runtime that sent it is gone: the answer lands nowhere.
            if let JsJob::Deliver(req, _) = job {
                self.flights.borrow_mut().remove(&req);
            }
        } else if !self.device.borrow().js_runs() {
            // JS is suspended in the background: the job waits, and runs late.
            self.paused.borrow_mut().push((due, runtime, job));
        } else {
            self.run_js(job, due);
            ran = true;
        }
        self.enter(0);
        ran
    }

    /// A held macrotask runs late, in its instance.
    pub(super) fn run_held(self: &Rc<Self>, runtime: u32, job: JsJob, due: VTime) {
        self.enter(instance_of(runtime));
        self.run_js(job, due);
        self.enter(0);
    }

    /// `load-waits-for-online-edge`: a change to online reaches every instance's listener
    /// (if JS runs to hear it), and each waiting load goes out.
    pub(super) fn online_edge(self: &Rc<Self>) {
        for i in 0..self.instances() {
            self.enter(i);
            if self.rt.borrow().awaiting_online {
                self.rt.borrow_mut().awaiting_online = false;
                self.send_load();
            }
        }
        self.enter(0);
    }
}
