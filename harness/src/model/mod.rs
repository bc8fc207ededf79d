//! The pure model: the oracle that predicts what a correct world does.
//!
//! A world is the virtual clock, the device, the server, the SDK and the app shell. A step is
//! a function of (state, event, now) that returns what the world shows. Its rules come from a
//! [`profile::Profile`].
//!
//! Architecture invariant: nothing in `model/` imports tokio, performs I/O, reads the system
//! clock or draws random numbers. `clippy.toml` guards the clock and the RNG.

pub mod device;
pub mod native;
pub mod profile;
pub mod server;
pub mod settings;
pub mod templates;
pub mod time;
pub mod token_cache;
pub mod vocab;
pub mod world;

pub use world::{Observation, World};
