//! The Frontend API emulator: Clerk's FAPI as the native SDK uses it, over the model's server.
//!
//! One handler ([`Fapi::handle`]) takes an HTTP-like request and the virtual time and gives an
//! HTTP-like answer or a dropped connection. Two ways in call it:
//! - [`InProcess`]: a plain async call, latency as a tokio sleep, for paused-time runs;
//! - [`wire`]: a `wiremock::MockServer` on 127.0.0.1 for real HTTP clients, the virtual time
//!   taken from the `x-harness-virtual-time` request header.
//!
//! Modules: [`http`] (request and response values), [`decode`] (routing, `_method`, forms,
//! the client token), [`encode`] (Clerk's JSON shapes), [`handler`] (the handler, faults, the
//! request log), [`transport`] (in-process), [`wire`] (wiremock), [`faults`] (faults drawn
//! from a seed).
//!
//! Architecture invariant: no lifecycle rule lives here. Statuses, lifetimes, rotation and the
//! fault queue are the model's (`crate::model::server`); this module only translates.
//! docs/fapi-emulator.md describes the surface.

pub mod decode;
pub mod encode;
pub mod faults;
pub mod handler;
pub mod http;
pub mod transport;
pub mod wire;

pub use faults::{FaultDraw, draw as draw_faults};
pub use handler::{
    DEFAULT_AUTHORIZED_PARTY, DEFAULT_FRONTEND_API, Exchange, Fapi, FapiConfig, Handled, LogEntry,
    LogPage, SharedServer, lock,
};
pub use http::{HttpRequest, HttpResponse, LATENCY_HEADER, VIRTUAL_TIME_HEADER};
pub use transport::{Delivery, InProcess, TransportError};
