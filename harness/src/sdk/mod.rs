//! Systems under test: the SDK port every runner drives, the environment around an SDK, the
//! reference SDK and its defect catalogue (DESIGN.md §6).
//!
//! - [`port`]: the [`SdkPort`] trait — events in, [`Observation`](crate::model::Observation)s
//!   out, async and fallible so an SDK in another process fits behind it too;
//! - [`env`]: what surrounds any SDK and is not under test — the server's truth, server-side
//!   events, the device's storage as the harness sees it;
//! - [`reference`]: the reference SDK, real async Rust on a paused tokio runtime, talking to
//!   the FAPI emulator through the in-process transport;
//! - [`defects`]: the named bugs the reference SDK can be switched into;
//! - [`external`]: any SDK outside Rust, driven as a child process over the adapter protocol
//!   (docs/adapter-protocol.md), the real `@clerk/clerk-js` first.
//!
//! Architecture invariant: nothing here calls the model's step function or reads its SDK
//! rules. The reference SDK shares the vocabulary (events, observations, settings, profile
//! constants, the emulated device) and nothing else, so a lockstep run compares two
//! independent implementations.

pub mod defects;
pub mod env;
pub mod external;
pub mod hunt;
pub mod port;
pub mod reference;

pub use defects::Defects;
pub use external::{AdapterCommand, ExternalSdk};
pub use port::{PortError, SdkPort};
pub use reference::ReferenceSdk;
