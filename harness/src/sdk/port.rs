//! The SDK port: the one trait through which a runner drives a system under test.
//!
//! A runner hands the port one [`Event`] at a time and gets back the
//! [`Observation`] after it: the rendered auth state (route, `isLoaded`, `isSignedIn`, the
//! session and its status), the device and server truth, how many requests and calls are
//! open, and everything that happened during the step, timestamped — call starts and results,
//! every FAPI request sent and answered with its timing, backend hits, retries, storage
//! operations, sign-outs and timers. Invariants and the lockstep comparison read nothing
//! else, so any SDK that can report these fits.
//!
//! The port is async and fallible on purpose. The reference SDK runs its step inside the
//! caller's paused tokio runtime; an external adapter (a child process speaking JSON lines,
//! e.g. the real `@clerk/clerk-js` under Node) awaits its pipe instead, and can crash, hang
//! or print garbage — which is a [`PortError`], never a harness panic. A *behaviour* the
//! invariants dislike is not an error: it is data in the observation.

use std::future::Future;

use crate::model::Observation;
use crate::model::time::VTime;
use crate::model::vocab::Event;

/// Why a system under test could not take a step. Broken plumbing, not a failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("sdk `{sdk}` crashed at step {step}: {detail}")]
    Crashed { sdk: String, step: u32, detail: String },
    #[error("sdk `{sdk}` did not answer step {step} (`{event}`) within {timeout_ms} ms")]
    Hung { sdk: String, step: u32, event: String, timeout_ms: u64 },
    #[error("sdk `{sdk}` sent garbled output at step {step}: {detail}")]
    Garbled { sdk: String, step: u32, detail: String },
    #[error("sdk `{sdk}` does not support `{event}`")]
    Unsupported { sdk: String, event: String },
}

/// A system under test, driven one event at a time.
///
/// Contract, for every implementation:
/// - `step` applies the event at the current virtual instant, then lets virtual time run to
///   the end of the event (`advance` moves the clock; every other event takes no time) with
///   every timer and response that falls due, and returns the observation at the end;
/// - happenings are stamped with the virtual instant they happened at, in the order they
///   happened within the step;
/// - the same events on a fresh port give the same observations (determinism is tested).
pub trait SdkPort {
    /// The name traces record: `reference`, `reference+no-single-flight`, `clerk-js@6.40.0`.
    fn name(&self) -> String;

    /// The virtual instant now (the start of the next step).
    fn now(&self) -> VTime;

    /// Applies one event and returns what the system showed after it.
    fn step(&mut self, event: &Event) -> impl Future<Output = Result<Observation, PortError>>;
}
