//! Where a system under test first departs from the model: a [`Divergence`] names the step,
//! its instant and event, the part of the observation that differs, and both sides rendered.
//! The lockstep runner finds it ([`super::lockstep`]); scenario runs carry it beside the
//! invariant report ([`super::system::SystemRun`]), so it lives apart from both.

use std::fmt;

use serde::Serialize;

use crate::model::time::{VTime, format_clock};
use crate::model::vocab::Event;

/// The first step where the model and the SDK showed different things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub step: u32,
    pub at: VTime,
    pub event: Event,
    /// Which part of the observation differs: `view`, `server`, `happenings`, …
    pub field: &'static str,
    /// What the model showed (that part, rendered).
    pub model: String,
    /// What the SDK showed.
    pub sdk: String,
}

impl Divergence {
    /// Where it happened, in a scenario report's words: `departs from the model at step 4
    /// (t=00:00:02.000, `get_token skip_cache`) in happenings`.
    pub fn departure(&self) -> String {
        format!(
            "departs from the model at step {} (t={}, `{}`) in {}",
            self.step,
            format_clock(self.at.ms()),
            self.event,
            self.field
        )
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "divergence at step {} (t={}, `{}`) in {}\n  model: {}\n  sdk:   {}",
            self.step,
            format_clock(self.at.ms()),
            self.event,
            self.field,
            self.model,
            self.sdk
        )
    }
}
