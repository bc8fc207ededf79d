//! The invariants of the wider device (issue 14): `eventually-signed-in`, a liveness
//! property, and `one-refresh-schedule`. Like every check they read only a trace.
//!
//! `eventually-signed-in` closes the gap the other checks leave: `restore-after-cold-start`
//! judges calm online starts only and `calls-settle` needs an open call, so an SDK that gave
//! up for good on a failed start broke nothing. Here, whenever the device *could* sign the
//! user in — a stored credential the server still honours, storage that reads, the network
//! up, the app in the foreground, the user not signing out — it must, within a bound counted
//! from the last event that changed the world.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::profile::RefreshPolicy;
use crate::model::time::{SECOND_MS, VTime, format_clock};
use crate::model::vocab::{
    AppState, AuthView, CallKind, CallResult, Endpoint, Event, Happening, Network, SessionId,
    SignOutCause, StorageKey, StorageOp, TimerKind, TokenKey,
};
use crate::trace::{Trace, TraceStep};

use super::{InvariantId, Report, quiet, view_text};

/// The bound of `eventually-signed-in`: the longest `getToken`-schedule wait (50 s), a
/// load's GET retries and slow answers.
pub const EVENTUALLY_SIGNED_IN_MS: u64 = 90 * SECOND_MS;

/// Whether the app shows a signed-in user (a pending session on its task screen counts).
fn signed_in(view: &AuthView) -> bool {
    view.is_loaded && view.session.is_some()
}

/// Whether the world at the end of `step` lets the app sign the user in by itself: among
/// others, the stored client carries a live session the app has shown the user before (a
/// sign-in whose answer never arrived signed in no one the app knows of).
fn could_sign_in(step: &TraceStep, shown: &BTreeSet<SessionId>) -> bool {
    let (device, server) = (&step.obs.device, &step.obs.server);
    device.running
        && device.app_state != AppState::Background
        && device.network == Network::Online
        && device.storage_readable
        && server.persisted_credential_valid
        && server.session.is_some_and(|(id, status)| status.is_signed_in() && shown.contains(&id))
}

pub(super) fn eventually_signed_in(trace: &Trace, r: &mut Report) {
    // Since when the device could sign in while the app was not signed in.
    let mut since: Option<(VTime, u32)> = None;
    let mut reported = false;
    // The user asked to leave (a sign-out, or ending the session) and has not signed in since.
    let mut leaving = false;
    let mut shown: BTreeSet<SessionId> = BTreeSet::new();
    let mut lost = false;
    for step in &trace.steps {
        for h in &step.obs.happenings {
            match h {
                Happening::Rendered { view, .. } => {
                    if let Some(s) = view.session {
                        shown.insert(s.id);
                        lost = false;
                    }
                }
                // The SDK dropped the stored token (read as lost for good, or at a sign-out)
                // and the device refused the delete: what stays is the device's doing, until
                // the app shows a session again.
                Happening::StorageFailed {
                    op: StorageOp::Delete,
                    key: StorageKey::ClientJwt,
                    ..
                } => lost = true,
                Happening::CallStarted {
                    kind: CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove,
                    ..
                }
                | Happening::SignedOut { cause: SignOutCause::User, .. } => leaving = true,
                Happening::CallSettled {
                    kind: CallKind::SignIn, result: CallResult::Ok, ..
                } => leaving = false,
                _ => {}
            }
        }
        // A device asleep runs no JS: the window starts again when it wakes.
        let asleep = matches!(step.event, Event::DeviceSleep { .. });
        let applicable = could_sign_in(step, &shown) && !leaving && !asleep && !lost;
        // A quiet event changes nothing signing in depends on: the window goes on.
        if !applicable || !quiet(&step.event) {
            // The window restarts with this step: it ends now, or the world just changed.
            since = None;
            reported = false;
        }
        if !applicable {
            continue;
        }
        // The last moment in this step the app was not signed in, if it ends signed out.
        let last_out = if signed_in(&step.obs.view) {
            None
        } else {
            Some(
                step.obs
                    .happenings
                    .iter()
                    .rev()
                    .find_map(|h| match h {
                        Happening::Rendered { at, view } if signed_in(view) => Some(*at),
                        _ => None,
                    })
                    .unwrap_or(step.at),
            )
        };
        let Some(out_at) = last_out else {
            since = None;
            reported = false;
            continue;
        };
        let start = match since {
            Some((t, _)) => t,
            None => {
                since = Some((out_at, step.index));
                r.exercise(InvariantId::EventuallySignedIn, 1);
                out_at
            }
        };
        let waited = step.end().since(start);
        if waited > EVENTUALLY_SIGNED_IN_MS && !reported {
            reported = true;
            let started = since.map(|(_, i)| i).unwrap_or(step.index);
            r.violate(
                InvariantId::EventuallySignedIn,
                step.index,
                start.plus(EVENTUALLY_SIGNED_IN_MS),
                format!(
                    "signed in within {} of step {started} (a stored credential the server \
                     honours, readable storage, online, in the foreground)",
                    format_clock(EVENTUALLY_SIGNED_IN_MS)
                ),
                format!("{} after {}", view_text(&step.obs.view), format_clock(waited)),
            );
        }
    }
}

/// The shortest gap a single refresh schedule leaves between two background refreshes of a
/// session, or `None` when the profile refreshes nothing in the background with these tokens.
pub fn refresh_gap_min_ms(trace: &Trace) -> Option<u64> {
    let ttl = trace.setup.instance.session_token_ttl_ms;
    match trace.setup.profile.rules().refresh {
        // One timer per cached token, `lead` before it expires: refreshes come a token's
        // life minus the lead apart at the least.
        RefreshPolicy::TimerBeforeExpiry { lead_ms } => {
            (ttl > lead_ms).then(|| (ttl - lead_ms) / 2)
        }
        RefreshPolicy::Recurring { interval_ms } => Some(interval_ms / 2),
    }
}

pub(super) fn one_refresh_schedule(trace: &Trace, r: &mut Report) {
    let Some(gap) = refresh_gap_min_ms(trace) else { return };
    // The last background refresh of each session: when it was sent, and when its answer
    // came (a retry sent as that answer arrives belongs to the same schedule).
    // By token (session and template): a template's token has its own refresh timer, so its
    // refreshes are a schedule of their own beside the session token's.
    // And by SDK instance: each instance has its own timers (`instances: N`).
    let mut last: BTreeMap<(u8, TokenKey), (VTime, Option<VTime>)> = BTreeMap::new();
    let mut pending: BTreeMap<crate::model::vocab::RequestId, (u8, TokenKey)> = BTreeMap::new();
    // When a refresh timer last fired: a background refresh sent at that instant is the
    // schedule's (one sent on demand, as stale-while-revalidate does, is not).
    let mut timer_at: Option<VTime> = None;
    for step in &trace.steps {
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            // A new runtime starts its own schedule.
            last.clear();
            pending.clear();
        }
        for h in &step.obs.happenings {
            match h {
                Happening::TimerFired { at, timer: TimerKind::TokenRefresh, .. } => {
                    timer_at = Some(*at);
                }
                Happening::RequestSent {
                    at,
                    req,
                    endpoint: Endpoint::Tokens,
                    call: None,
                    sid: Some(sid),
                    template,
                    instance,
                } if timer_at == Some(*at) => {
                    r.exercise(InvariantId::OneRefreshSchedule, 1);
                    let key = TokenKey { sid: *sid, template: *template };
                    if let Some((sent, answered)) = last.get(&(*instance, key))
                        && answered.is_none_or(|a| a != *at)
                        && at.since(*sent) < gap
                    {
                        r.violate(
                            InvariantId::OneRefreshSchedule,
                            step.index,
                            *at,
                            format!(
                                "one refresh schedule for {key}: background refreshes at \
                                 least {} apart",
                                format_clock(gap)
                            ),
                            format!(
                                "a second background refresh {} after the one at {}",
                                format_clock(at.since(*sent)),
                                format_clock(sent.since(VTime::ZERO))
                            ),
                        );
                    }
                    last.insert((*instance, key), (*at, None));
                    pending.insert(*req, (*instance, key));
                }
                Happening::RequestDone { at, req, .. } => {
                    if let Some(key) = pending.remove(req)
                        && let Some(entry) = last.get_mut(&key)
                    {
                        entry.1 = Some(*at);
                    }
                }
                _ => {}
            }
        }
    }
}
