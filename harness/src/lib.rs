//! # session-harness
//!
//! A deterministic property and scenario test harness for mobile auth session lifecycles:
//! an Expo / React Native app signed in with Clerk, its long-lived client token and
//! 60-second session JWT, foreground and background, online and offline, cold starts and JS
//! reloads, and the eight session statuses.
//!
//! The crate is organised around a small vocabulary (DESIGN.md §2):
//! - [`model`]: the pure world model and its two profiles, the oracle;
//! - [`invariants`]: the named properties every trace must satisfy;
//! - [`trace`]: what a run recorded;
//! - [`generate`]: state-aware random traces for proptest;
//! - [`runner`]: runs traces, checks invariants, counts coverage;
//! - [`gate`]: one verdict on one SDK build (scenarios, fuzz, findings, snapshots, JUnit);
//! - [`sim`]: the seeded RNG forked by name.
//!
//! See ARCHITECTURE.md for the map and README.md for the commands.

pub mod backend;
pub mod fapi;
pub mod gate;
pub mod generate;
pub mod invariants;
pub mod jwt;
pub mod model;
pub mod runner;
pub mod scenario;
pub mod sdk;
pub mod serve;
pub mod sim;
pub mod trace;
