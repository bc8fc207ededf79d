//! Shared by the `mutants_*` test binaries of the reference SDK: what a step or a run of
//! steps shows (the requests sent, the refresh timers fired, the sign-outs, the sessions
//! touched, whether the app shows a session).

#![allow(dead_code)]

use session_harness::model::vocab::{Endpoint, Happening, SessionId, SignOutCause, TimerKind};
use session_harness::trace::TraceStep;

/// The FAPI requests a step sent, by endpoint.
pub fn sent(step: &TraceStep) -> Vec<Endpoint> {
    step.obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint, .. } => Some(*endpoint),
            _ => None,
        })
        .collect()
}

/// The instants (ms) of the refresh timers that fired in `steps`.
pub fn refreshes(steps: &[TraceStep]) -> Vec<u64> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::TimerFired { at, timer: TimerKind::TokenRefresh, .. } => Some(at.ms()),
            _ => None,
        })
        .collect()
}

/// The sign-outs the app shell recorded in `steps`.
pub fn sign_outs(steps: &[TraceStep]) -> Vec<SignOutCause> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::SignedOut { cause, .. } => Some(*cause),
            _ => None,
        })
        .collect()
}

/// The sessions the touch requests of `steps` were for.
pub fn touched(steps: &[TraceStep]) -> Vec<Option<SessionId>> {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::RequestSent { endpoint: Endpoint::Touch, sid, .. } => Some(*sid),
            _ => None,
        })
        .collect()
}

/// Whether the app was shown signed in at some point of `steps`.
pub fn shown_signed_in(steps: &[TraceStep]) -> bool {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .any(|h| matches!(h, Happening::Rendered { view, .. } if view.is_signed_in == Some(true)))
}
