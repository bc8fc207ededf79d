//! Traces: what a run recorded, step by step, and their byte-stable serialised form.
//!
//! A [`Trace`] is the setup, the system under test, the seed (if generated), and one
//! [`TraceStep`] per event: the instant it was applied, the event, and the [`Observation`]
//! after it. Serialisation is plain serde with ordered containers only, so the same seed gives
//! the same bytes (checked by the determinism test and `cargo xtask determinism`).

use serde::{Deserialize, Serialize};

use crate::model::settings::Setup;
use crate::model::time::VTime;
use crate::model::vocab::Event;
use crate::model::{Observation, World};

/// One event and what followed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceStep {
    pub index: u32,
    /// The instant the event was applied (for `advance`, its start).
    pub at: VTime,
    pub event: Event,
    pub obs: Observation,
}

impl TraceStep {
    /// The instant the step ended.
    pub fn end(&self) -> VTime {
        match self.event {
            Event::Advance { ms } => self.at.plus(ms),
            _ => self.at,
        }
    }
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trace {
    pub setup: Setup,
    /// The system under test: `model`, `reference`, `reference+DEFECT`, `clerk-js@6.40.0`, …
    pub sdk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub steps: Vec<TraceStep>,
}

impl Trace {
    /// The events alone, as a trace replays them.
    pub fn events(&self) -> Vec<Event> {
        self.steps.iter().map(|s| s.event.clone()).collect()
    }

    /// Byte-stable JSON (one line per step), the form the determinism checks compare.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&(&self.setup, &self.sdk, &self.seed))
            .expect("trace headers always serialise");
        for step in &self.steps {
            out.push(b'\n');
            serde_json::to_writer(&mut out, step).expect("trace steps always serialise");
        }
        out
    }

    pub fn end(&self) -> VTime {
        self.steps.last().map(|s| s.end()).unwrap_or(VTime::ZERO)
    }
}

/// Longest trace a run accepts: a limit on everything (generated traces are far shorter).
pub const STEPS_MAX: usize = 100_000;

/// Runs `events` through the model world.
pub fn run_model(setup: Setup, events: &[Event], seed: Option<u64>) -> Trace {
    let mut world = World::new(setup);
    let mut steps = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate().take(STEPS_MAX) {
        let at = world.now();
        let obs = world.step(event);
        steps.push(TraceStep {
            index: index as u32,
            at,
            event: event.clone(),
            obs,
        });
    }
    Trace {
        setup,
        sdk: "model".to_string(),
        seed,
        steps,
    }
}
