//! The invariant catalogue (DESIGN.md §8): twenty named properties every trace must satisfy.
//!
//! Each invariant is a check over a [`Trace`]: it reads the steps' events, observations and
//! happenings, and reports [`Violation`]s as data — the invariant, the step, the virtual time,
//! what was expected and what was observed. A check also counts how often it was *exercised*
//! (had a chance to fail), because a property that never had a chance proves nothing.
//!
//! `revoked-like-expired` is metamorphic: it compares a trace with its twin in which every
//! `revoke` became `expire_now` ([`check_revoked_like_expired`]); the runner builds the twin.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::profile::RefreshPolicy;
use crate::model::time::{SECOND_MS, VTime, format_clock};
use crate::model::vocab::{
    AppPath, AppState, AuthView, CallId, CallKind, CallResult, Endpoint, Event, Happening, Network,
    Platform, RequestId, RequestOutcome, Route, SessionId, SessionStatus, SignOutCause, StorageKey,
    StorageOp, TokenKey,
};
use crate::trace::Trace;

mod liveness;
mod writers;

pub use liveness::{EVENTUALLY_SIGNED_IN_MS, refresh_gap_min_ms};
pub use writers::ROUTE_FLIPS_MAX;

/// Deadline for `restore-after-cold-start`: the seed report's JS bootstrap gives up after 3 s.
pub const RESTORE_DEADLINE_MS: u64 = 3 * SECOND_MS;

pub use crate::trace::verdict::{InvariantId, Report, Violation};

/// Checks every invariant that reads one trace (all but `revoked-like-expired`).
pub fn check(trace: &Trace) -> Report {
    let mut r = Report::default();
    for id in InvariantId::ALL {
        r.exercised.insert(*id, 0);
    }
    loaded_before_protected(trace, &mut r);
    pending_routes_to_task(trace, &mut r);
    restore_after_cold_start(trace, &mut r);
    nothing_destructive_while_loading(trace, &mut r);
    single_flight_refresh(trace, &mut r);
    fresh_token_only(trace, &mut r);
    transient_never_signs_out(trace, &mut r);
    terminal_is_final(trace, &mut r);
    calls_settle(trace, &mut r);
    retry_discipline(trace, &mut r);
    signout_is_final(trace, &mut r);
    storage_round_trips(trace, &mut r);
    return_to_preserved(trace, &mut r);
    signout_settles(trace, &mut r);
    liveness::eventually_signed_in(trace, &mut r);
    liveness::one_refresh_schedule(trace, &mut r);
    writers::superseded_token_never_presented(trace, &mut r);
    writers::one_writer_per_credential(trace, &mut r);
    writers::layers_agree(trace, &mut r);
    r.violations.sort_by_key(|v| (v.step, v.at, v.invariant));
    r
}

fn view_text(v: &AuthView) -> String {
    let signed_in = match v.is_signed_in {
        Some(b) => b.to_string(),
        None => "undefined".into(),
    };
    let session = match v.session {
        Some(s) => format!("{} ({})", s.id, s.status),
        None => "none".into(),
    };
    format!(
        "route={}, isLoaded={}, isSignedIn={signed_in}, session={session}",
        v.route, v.is_loaded
    )
}

/// Every happening with the step it belongs to.
fn happenings(trace: &Trace) -> impl Iterator<Item = (u32, &Happening)> {
    trace.steps.iter().flat_map(|s| s.obs.happenings.iter().map(move |h| (s.index, h)))
}

// ------------------------------------------------------------------------------ checks

fn loaded_before_protected(trace: &Trace, r: &mut Report) {
    for (step, h) in happenings(trace) {
        if let Happening::Rendered { at, view } = h
            && let Route::Protected { .. } = view.route
        {
            r.exercise(InvariantId::LoadedBeforeProtected, 1);
            if !view.is_loaded {
                r.violate(
                    InvariantId::LoadedBeforeProtected,
                    step,
                    *at,
                    "isLoaded=true before a protected screen renders".into(),
                    view_text(view),
                );
            }
        }
    }
}

fn pending_routes_to_task(trace: &Trace, r: &mut Report) {
    for (step, h) in happenings(trace) {
        if let Happening::Rendered { at, view } = h
            && view.is_loaded
            && view.session.is_some_and(|s| s.status == SessionStatus::Pending)
        {
            r.exercise(InvariantId::PendingRoutesToTask, 1);
            if !matches!(view.route, Route::Task { .. }) {
                r.violate(
                    InvariantId::PendingRoutesToTask,
                    step,
                    *at,
                    "route=task(<current task>) for a pending session".into(),
                    view_text(view),
                );
            }
        }
    }
}

fn restore_after_cold_start(trace: &Trace, r: &mut Report) {
    for (i, step) in trace.steps.iter().enumerate() {
        if !matches!(step.event, Event::ColdStart | Event::JsReload) {
            continue;
        }
        let t0 = step.at;
        let deadline = t0.plus(RESTORE_DEADLINE_MS);
        let obs = &step.obs;
        let Some((sid, status)) = obs.server.session else {
            continue;
        };
        // Only a start that launched a load counts (a cold start of a running app is a no-op).
        let launched = obs
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::CallStarted { kind: CallKind::Load, .. }));
        let applicable = launched
            && obs.server.persisted_credential_valid
            && status.is_signed_in()
            && obs.device.running
            && obs.device.network == Network::Online
            && obs.device.app_state != AppState::Background;
        if !applicable {
            continue;
        }
        // The window must be calm: no interfering event, every request answered well.
        let mut restored_at = None;
        let mut calm = true;
        let mut reached_deadline = false;
        let mut sent: Vec<RequestId> = Vec::new();
        for later in &trace.steps[i..] {
            if later.at > deadline {
                reached_deadline = true;
                break;
            }
            if later.index as usize > i
                && !matches!(
                    later.event,
                    Event::Advance { .. }
                        | Event::Navigate { .. }
                        | Event::GetToken { .. }
                        | Event::ApiCall { .. }
                )
            {
                calm = false;
            }
            for h in &later.obs.happenings {
                if h.at() > deadline {
                    break;
                }
                match h {
                    // Any signed-in session counts: in multi-session mode the client's last
                    // active session may be a newer one.
                    Happening::Rendered { at, view }
                        if restored_at.is_none() && view.is_loaded && view.session.is_some() =>
                    {
                        restored_at = Some(*at);
                    }
                    Happening::RequestSent { req, .. } => sent.push(*req),
                    // Storage that fails is no calm start (eventually-signed-in judges it).
                    Happening::StorageFailed { .. } => calm = false,
                    Happening::RequestDone { req, outcome, fault, .. } => {
                        sent.retain(|s| s != req);
                        let bad = fault.is_some()
                            || !matches!(outcome, RequestOutcome::Answered { status, .. } if *status < 400);
                        if bad {
                            calm = false;
                        }
                    }
                    _ => {}
                }
            }
            if later.obs.server.status_of(sid).is_none_or(|s| !s.is_signed_in()) {
                calm = false;
            }
            if later.end() >= deadline {
                reached_deadline = true;
                break;
            }
        }
        if !calm || !reached_deadline || !sent.is_empty() && restored_at.is_none() {
            continue;
        }
        r.exercise(InvariantId::RestoreAfterColdStart, 1);
        if restored_at.is_none() {
            let last = trace.steps.iter().take_while(|s| s.at <= deadline).last().unwrap_or(step);
            r.violate(
                InvariantId::RestoreAfterColdStart,
                step.index,
                t0,
                format!(
                    "session {sid} restored (signed in) within {} of {}",
                    format_clock(RESTORE_DEADLINE_MS),
                    step.event.name()
                ),
                view_text(&last.obs.view),
            );
        }
    }
}

/// Events that only wait or read (time passes, a token is asked for, the API is called, the
/// user moves between screens): they change nothing in the world the session, the route or
/// signing in depends on. The liveness window and the route-loop count both run across them.
fn quiet(event: &Event) -> bool {
    matches!(
        event,
        Event::Advance { .. }
            | Event::GetToken { .. }
            | Event::ApiCall { .. }
            | Event::Navigate { .. }
    )
}

fn is_user_terminal(kind: CallKind) -> bool {
    matches!(kind, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove)
}

fn nothing_destructive_while_loading(trace: &Trace, r: &mut Report) {
    // Keys whose last failure was permanent (undecryptable, garbage): dropping them destroys
    // nothing that could still be read.
    let mut lost: BTreeSet<StorageKey> = BTreeSet::new();
    let mut resolved = true;
    let mut running = false;
    let mut user_calls: BTreeMap<CallId, ()> = BTreeMap::new();
    let mut sdk_session: Option<SessionId> = None;
    for step in &trace.steps {
        for h in &step.obs.happenings {
            let destructive = match h {
                Happening::Rendered { view, .. } => {
                    if let Some(s) = view.session {
                        sdk_session = Some(s.id);
                    }
                    running = view.route != Route::Closed;
                    resolved = view.is_loaded && view.is_signed_in.is_some();
                    if running && !resolved {
                        r.exercise(InvariantId::NothingDestructiveWhileLoading, 1);
                    }
                    None
                }
                Happening::CallStarted { call, kind, .. } if is_user_terminal(*kind) => {
                    user_calls.insert(*call, ());
                    None
                }
                Happening::CallSettled { call, .. } => {
                    user_calls.remove(call);
                    None
                }
                // A sign-out only destroys something if the server still had the session.
                Happening::SignedOut { cause, server_revoke, .. } => {
                    let live = sdk_session
                        .and_then(|id| step.obs.server.status_of(id))
                        .is_some_and(|st| st.is_signed_in());
                    ((*cause != SignOutCause::User && live) || *server_revoke)
                        .then(|| "a sign-out".to_string())
                }
                Happening::StorageFailed { key, error, .. } => {
                    if error.is_transient() {
                        lost.remove(key);
                    } else {
                        lost.insert(*key);
                    }
                    None
                }
                Happening::StorageDeleted { key, .. } if lost.remove(key) => None,
                // The native layer's cached client is a cache of what its device token names:
                // clerk-ios drops it whenever `configure` brings another token (§6.2).
                Happening::StorageDeleted { key: StorageKey::NativeCachedClient, .. } => None,
                Happening::StorageDeleted { key, .. } => {
                    Some(format!("deletion of {}", key.as_str()))
                }
                Happening::RequestSent { endpoint, call, .. }
                    if matches!(
                        endpoint,
                        Endpoint::RemoveSessions | Endpoint::End | Endpoint::Remove
                    ) && call.is_none_or(|c| !user_calls.contains_key(&c)) =>
                {
                    Some(format!("a `{}` request", endpoint.as_str()))
                }
                // The native SDK's own session removal (native `signOut()`), which no user
                // call of JS's asked for.
                Happening::NativeRequest { endpoint, .. }
                    if matches!(
                        endpoint,
                        Endpoint::RemoveSessions | Endpoint::End | Endpoint::Remove
                    ) =>
                {
                    Some(format!("a native `{}` request", endpoint.as_str()))
                }
                _ => None,
            };
            if let Some(what) = destructive
                && running
                && !resolved
                && user_calls.is_empty()
            {
                r.violate(
                    InvariantId::NothingDestructiveWhileLoading,
                    step.index,
                    h.at(),
                    "nothing destructive until isLoaded and isSignedIn are known".into(),
                    format!("{what} while auth state was unresolved"),
                );
            }
        }
        if step.event.ends_process() {
            running = false;
        }
    }
}

fn single_flight_refresh(trace: &Trace, r: &mut Report) {
    // By token (session and template): clerk-js keys its fetches by `tokenId`, so a template's
    // token request beside the session token's is two tokens, not a race.
    // And by SDK instance: each instance has its own cache and fetches (`instances: N`).
    let mut in_flight: BTreeMap<RequestId, (u8, TokenKey)> = BTreeMap::new();
    for step in &trace.steps {
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            // A dead runtime's requests cannot be shared with the next one.
            in_flight.clear();
        }
        for h in &step.obs.happenings {
            match h {
                Happening::RequestSent {
                    req,
                    endpoint: Endpoint::Tokens,
                    sid: Some(sid),
                    template,
                    at,
                    instance,
                    ..
                } => {
                    r.exercise(InvariantId::SingleFlightRefresh, 1);
                    let key = TokenKey { sid: *sid, template: *template };
                    let others = in_flight.values().filter(|k| **k == (*instance, key)).count();
                    if others > 0 {
                        r.violate(
                            InvariantId::SingleFlightRefresh,
                            step.index,
                            *at,
                            format!("one token request for {key} in flight"),
                            format!("{} in flight", others + 1),
                        );
                    }
                    in_flight.insert(*req, (*instance, key));
                }
                Happening::RequestDone { req, .. } => {
                    in_flight.remove(req);
                }
                _ => {}
            }
        }
    }
}

fn fresh_token_only(trace: &Trace, r: &mut Report) {
    for (step, h) in happenings(trace) {
        match h {
            Happening::CallSettled { at, result: CallResult::Token { token }, kind, .. } => {
                r.exercise(InvariantId::FreshTokenOnly, 1);
                if token.is_expired_at(*at) {
                    r.violate(
                        InvariantId::FreshTokenOnly,
                        step,
                        *at,
                        format!("{} returns a token valid now", kind_name(*kind)),
                        format!(
                            "a token that expired {} ago",
                            format_clock(
                                at.unix_ms().saturating_sub(token.exp.saturating_mul(1000))
                            )
                        ),
                    );
                }
            }
            Happening::BackendHit { sent_at, token: Some(token), .. } => {
                r.exercise(InvariantId::FreshTokenOnly, 1);
                if token.is_expired_at(*sent_at) {
                    r.violate(
                        InvariantId::FreshTokenOnly,
                        step,
                        *sent_at,
                        "the backend receives a token valid when sent".into(),
                        format!(
                            "a token that expired {} before it was sent",
                            format_clock(
                                sent_at.unix_ms().saturating_sub(token.exp.saturating_mul(1000))
                            )
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

fn kind_name(kind: CallKind) -> &'static str {
    match kind {
        CallKind::GetToken => "getToken",
        CallKind::ForegroundRefresh => "the foreground refresh",
        CallKind::ApiCall => "the API call",
        _ => "the call",
    }
}

/// A session in `ServerView::orphaned` went because the instance's token-reuse policy no
/// longer honours the client token the device holds — one whose successor it never received,
/// or received and could not (or did not yet) store, or whose grace in time ran out while the
/// device was away: the server's doing, which no SDK can prevent, so it is no transient loss.
fn transient_never_signs_out(trace: &Trace, r: &mut Report) {
    let mut sdk_session: Option<SessionId> = None;
    // The stored client token became unreadable for good (undecryptable, garbage): losing
    // the session that rode on it is the device's doing, until a credential is written again.
    let mut credential_lost = false;
    // Sessions the user signed out of while the device refused to drop a stored copy, and
    // the user's sign-out calls still open.
    let mut left: BTreeSet<SessionId> = BTreeSet::new();
    let mut signing_out: BTreeSet<CallId> = BTreeSet::new();
    // The session shown when the user's last sign-out began (the screen goes blank at once).
    let mut signing_out_of: Option<SessionId> = None;
    // At the end of the previous step: the stored client token restored a signed-in session,
    // the device client's latest.
    let mut credential_stored = false;
    let mut credential_session: Option<SessionId> = None;
    // The last write of the client token failed: the session it carries lives in memory only,
    // and a runtime that ends loses it — the device's doing, like an unreadable item.
    let mut unpersisted = false;
    // A native sign-in's adoption by JS is under way (it replaces the stored credential).
    let mut adopting = false;
    for step in &trace.steps {
        let server = &step.obs.server;
        if unpersisted && (step.event.ends_process() || step.event == Event::JsReload) {
            credential_lost = true;
        }
        // The user asked to leave during this step: a sign-out (or session end) still open
        // from before, started now, or signed out now.
        let mut user = !signing_out.is_empty()
            || adopting
            || matches!(
                step.event.addressed(),
                Event::SignOut | Event::SessionEnd | Event::SessionRemove
            );
        for h in &step.obs.happenings {
            if let Happening::StorageFailed {
                key: StorageKey::ClientJwt,
                op: StorageOp::Write,
                ..
            } = h
            {
                unpersisted = true;
            }
            match h {
                Happening::Rendered { view, .. } => {
                    if let Some(s) = view.session {
                        sdk_session = Some(s.id);
                    }
                }
                Happening::StorageFailed { key: StorageKey::ClientJwt, error, .. }
                    if !error.is_transient() =>
                {
                    credential_lost = true;
                }
                Happening::StorageWritten {
                    key: StorageKey::ClientJwt, credential: true, ..
                } => {
                    credential_lost = false;
                    unpersisted = false;
                }
                Happening::CallStarted { call, kind, .. } if is_user_terminal(*kind) => {
                    signing_out.insert(*call);
                    user = true;
                }
                Happening::CallSettled { call, .. } => {
                    signing_out.remove(call);
                }
                // The device refused to delete (or overwrite) a stored copy while the user
                // signed out: what that copy brings back, and loses again, is no transient loss.
                Happening::StorageFailed { op: StorageOp::Delete | StorageOp::Write, .. }
                    if !signing_out.is_empty() =>
                {
                    left.extend(sdk_session);
                    // (fuzz case seed 0x600ec27055774c06: the resource cache's copy, whose
                    // delete failed seconds after the screen went blank)
                    left.extend(signing_out_of);
                }
                Happening::SignedOut { cause: SignOutCause::User, .. } => user = true,
                // The user signed in through the native UI: JS adopting that client replaces
                // the stored credential by the user's own doing, until the adoption settles.
                Happening::NativeSignedIn { session: Some(_), .. } => {
                    adopting = true;
                    user = true;
                }
                Happening::SignedOut { at, cause, .. } if !credential_lost => {
                    r.exercise(InvariantId::TransientNeverSignsOut, 1);
                    // A session the user signed out of, brought back by a stored copy the
                    // device refused to delete, is no transient loss when it goes again.
                    if let Some(sid) = sdk_session
                        && !left.contains(&sid)
                        && !server.orphaned.contains(&sid)
                        && server.status_of(sid).is_some_and(|s| s.is_signed_in())
                    {
                        r.violate(
                            InvariantId::TransientNeverSignsOut,
                            step.index,
                            *at,
                            format!("{sid} stays signed in: the server still has it active"),
                            format!("signed out ({})", crate::trace::words::word(cause)),
                        );
                    }
                }
                Happening::StorageDeleted { at, key: StorageKey::ClientJwt }
                    if !credential_lost =>
                {
                    r.exercise(InvariantId::TransientNeverSignsOut, 1);
                    let user = step.obs.happenings.iter().any(|h| {
                        matches!(h, Happening::SignedOut { cause: SignOutCause::User, .. })
                    }) || matches!(
                        step.event.addressed(),
                        Event::SignOut | Event::SessionEnd | Event::SessionRemove
                    );
                    if !user
                        && let Some(sid) = sdk_session
                        && !server.orphaned.contains(&sid)
                        && server.status_of(sid).is_some_and(|s| s.is_signed_in())
                    {
                        r.violate(
                            InvariantId::TransientNeverSignsOut,
                            step.index,
                            *at,
                            format!("the client token of active {sid} is kept"),
                            "the client token was deleted".into(),
                        );
                    }
                }
                _ => {}
            }
        }
        if step.obs.view.session.is_none() && matches!(step.event, Event::SignOut) {
            signing_out_of = sdk_session.or(signing_out_of);
            sdk_session = None;
        }
        // The stored credential stopped restoring the session while the server keeps it
        // active: replaced by a client without it (an anonymous client minted for a request
        // sent without a token), with no sign-out asked for and no storage lost for good.
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            signing_out.clear();
        }
        if step.event.ends_process() || (step.obs.in_flight == 0 && step.obs.open_calls == 0) {
            adopting = false;
        }
        // (Unless this step already reported how the credential went.)
        let reported = r
            .violations
            .iter()
            .any(|v| v.step == step.index && v.invariant == InvariantId::TransientNeverSignsOut);
        // Nor when the device refused to store the rotated tokens since: the stored copy fell
        // out of the server's grace because the keychain would not take its successors (fuzz
        // case seed 0xe20a46c24187dcf7: an hour of refreshes on a locked device).
        if credential_stored
            && !reported
            && !server.persisted_credential_valid
            && !credential_lost
            && !unpersisted
            && !user
            && !matches!(step.event, Event::Reinstall | Event::RestoreBackup)
            && let Some(sid) = credential_session
            && !server.orphaned.contains(&sid)
            && server.status_of(sid).is_some_and(|s| s.is_signed_in())
        {
            r.exercise(InvariantId::TransientNeverSignsOut, 1);
            r.violate(
                InvariantId::TransientNeverSignsOut,
                step.index,
                step.end(),
                format!("the stored client token of active {sid} still restores it"),
                "it was replaced by a client token without the session".into(),
            );
        }
        // What the next step starts from: whether the stored token restores a session, and
        // which (the device client's latest).
        credential_stored = server.persisted_credential_valid;
        credential_session = server.session.map(|(id, _)| id);
    }
    // Exercise: transient conditions that could have signed out.
    let transient = happenings(trace)
        .filter(|(_, h)| match h {
            Happening::RequestDone { outcome, fault, .. } => {
                fault.is_some() || matches!(outcome, RequestOutcome::NetworkError { .. })
            }
            Happening::TimerFired { at, due, .. } => at.since(*due) > 10 * SECOND_MS,
            Happening::StorageFailed { error, .. } => error.is_transient(),
            _ => false,
        })
        .count();
    r.exercise(InvariantId::TransientNeverSignsOut, transient as u64);
}

/// One refresh cycle: the longest a foreground, online app may take to notice a terminal
/// session (a token lifetime or the recurring interval, whichever is longer, plus slack for
/// two round trips).
pub fn refresh_cycle_ms(trace: &Trace) -> u64 {
    let ttl = trace.setup.instance.session_token_ttl_ms;
    let interval = match trace.setup.profile.rules().refresh {
        RefreshPolicy::Recurring { interval_ms } => interval_ms,
        RefreshPolicy::TimerBeforeExpiry { .. } => 0,
    };
    ttl.max(interval) + 5 * SECOND_MS + 2 * trace.setup.net.fapi_latency_ms
}

fn terminal_is_final(trace: &Trace, r: &mut Report) {
    let cycle = refresh_cycle_ms(trace);
    let mut terminal: BTreeMap<SessionId, SessionStatus> = BTreeMap::new();
    // The SDK's session that went terminal, and the foreground time since.
    let mut watch: Option<(SessionId, u64, bool)> = None;
    let mut prev_end = VTime::ZERO;
    // When each request left, so an answer slowed past the network's latency (a latency
    // fault: a slow proxy) counts as the network's delay, not the SDK's.
    let mut sent: BTreeMap<RequestId, VTime> = BTreeMap::new();
    let slow_after = 2 * trace.setup.net.fapi_latency_ms;
    for step in &trace.steps {
        for (sid, status) in &step.obs.server.sessions {
            match terminal.get(sid) {
                Some(was) if status.is_signed_in() => r.violate(
                    InvariantId::TerminalIsFinal,
                    step.index,
                    step.end(),
                    format!("{sid} stays {was}"),
                    format!("{sid} is {status} again"),
                ),
                None if status.is_terminal() => {
                    terminal.insert(*sid, *status);
                }
                _ => {}
            }
        }
        let obs = &step.obs;
        let mut transient_failure = false;
        for h in &obs.happenings {
            match h {
                Happening::RequestSent { at, req, .. } => {
                    sent.insert(*req, *at);
                }
                Happening::RequestDone { at, req, outcome, fault, .. } => {
                    let slow = sent.remove(req).is_some_and(|t| at.since(t) > slow_after);
                    transient_failure |= slow
                        || fault.is_some()
                        || matches!(outcome, RequestOutcome::NetworkError { .. });
                }
                _ => {}
            }
        }
        if let Some((sid, elapsed, reported)) = &mut watch {
            // A device asleep runs no JS: its time is no foreground time. iOS's `inactive`
            // app is on screen with JS running (Control Center, a call banner): foreground,
            // as `calls-settle` and `eventually-signed-in` count it.
            let foreground = obs.device.running
                && obs.device.app_state != AppState::Background
                && obs.device.network == Network::Online
                && !matches!(step.event, Event::DeviceSleep { .. });
            if transient_failure || !obs.device.running {
                *elapsed = 0;
            } else if foreground {
                *elapsed += step.end().since(prev_end.max(step.at));
            }
            let still = obs.view.session.is_some_and(|s| s.id == *sid);
            if !still {
                watch = None;
            } else if *elapsed > cycle && !*reported {
                *reported = true;
                r.violate(
                    InvariantId::TerminalIsFinal,
                    step.index,
                    step.end(),
                    format!(
                        "sign-in within one refresh cycle ({}) in the foreground after {sid} became {}",
                        format_clock(cycle),
                        obs.server.status_of(*sid).map(|s| s.as_str()).unwrap_or("terminal")
                    ),
                    view_text(&obs.view),
                );
            }
        } else if let Some(view) = obs.view.session
            && obs.server.status_of(view.id).is_some_and(|s| s.is_terminal())
        {
            r.exercise(InvariantId::TerminalIsFinal, 1);
            watch = Some((view.id, 0, false));
        }
        prev_end = step.end();
    }
}

/// The longest a call may stay open in foreground time: two full retry schedules (a load's
/// and then a token's), generous slack, and room for the slowest injected latency.
pub fn call_budget_ms(trace: &Trace) -> u64 {
    let rules = trace.setup.profile.rules();
    let latency_max = trace
        .steps
        .iter()
        .filter_map(|s| match s.event {
            Event::Fault(spec) => match spec.kind {
                crate::model::vocab::FaultKind::Latency { ms } => Some(ms),
                crate::model::vocab::FaultKind::RateLimited { retry_after_ms } => {
                    Some(retry_after_ms)
                }
                _ => None,
            },
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .max(trace.setup.net.fapi_latency_ms)
        .max(trace.setup.net.backend_latency_ms);
    // On a network that hangs every request of a call may wait out the request timeout: each
    // try of each GET of each load attempt (a call that never times out never settles).
    let hangs = trace.steps.iter().any(|s| s.event == Event::Network { state: Network::Hanging });
    let hang_ms = if hangs {
        crate::model::device::request_timeout_ms(trace.setup.platform, rules.request_timeout_ms)
            .unwrap_or(0)
    } else {
        0
    };
    let tries = (rules.retries_max as u64 + 1) * rules.get_tries_max as u64;
    2 * rules.retry_budget_ms() + 60 * SECOND_MS + 8 * latency_max + tries * hang_ms
}

fn calls_settle(trace: &Trace, r: &mut Report) {
    let budget = call_budget_ms(trace);
    // Open calls with the foreground time they have waited.
    let mut open: BTreeMap<CallId, (CallKind, u32, VTime, u64, bool)> = BTreeMap::new();
    for step in &trace.steps {
        let foreground = step.obs.device.running
            && step.obs.device.app_state != AppState::Background
            && !matches!(step.event, Event::DeviceSleep { .. });
        for h in &step.obs.happenings {
            match h {
                Happening::CallStarted { call, kind, at, .. } => {
                    r.exercise(InvariantId::CallsSettle, 1);
                    open.insert(*call, (*kind, step.index, *at, 0, false));
                }
                Happening::CallSettled { call, .. } => {
                    open.remove(call);
                }
                _ => {}
            }
        }
        for (call, (kind, started_step, started, waited, reported)) in open.iter_mut() {
            if foreground {
                *waited += step.end().since((*started).max(step.at));
            }
            if *waited > budget && !*reported {
                *reported = true;
                r.violate(
                    InvariantId::CallsSettle,
                    step.index,
                    step.end(),
                    format!(
                        "{} {call} (started at step {started_step}) settles within {}",
                        crate::trace::words::word(kind),
                        format_clock(budget)
                    ),
                    format!("still open after {} in the foreground", format_clock(*waited)),
                );
            }
        }
    }
}

fn retry_discipline(trace: &Trace, r: &mut Report) {
    // The last FAPI answer each call saw, to judge its retries.
    let mut req_call: BTreeMap<RequestId, CallId> = BTreeMap::new();
    let mut last_status: BTreeMap<CallId, (u16, Option<u64>, VTime)> = BTreeMap::new();
    // Backend attempts per call: (attempt, status, token serial).
    let mut attempts: BTreeMap<CallId, Vec<(u8, u16, Option<u64>)>> = BTreeMap::new();
    // A call's 429 with Retry-After on a token request whose wait no `RetryScheduled`
    // declared: an SDK that retries getToken inside its own code (the real clerk-js behind an
    // adapter) is judged by when it sends the next token request instead. Only token requests:
    // a load's retries are its own schedule, which this check has never judged.
    let mut undeclared_429: BTreeMap<CallId, (u64, VTime)> = BTreeMap::new();
    for (step, h) in happenings(trace) {
        match h {
            Happening::RequestSent { req, call: Some(call), at, endpoint, .. } => {
                req_call.insert(*req, *call);
                if *endpoint != Endpoint::Tokens {
                    continue;
                }
                if let Some((after, answered)) = undeclared_429.remove(call) {
                    r.exercise(InvariantId::RetryDiscipline, 1);
                    let waited = at.ms().saturating_sub(answered.ms());
                    if waited < after {
                        r.violate(
                            InvariantId::RetryDiscipline,
                            step,
                            *at,
                            format!(
                                "{call} waits at least Retry-After ({}) after a 429",
                                format_clock(after)
                            ),
                            format!("it sent the retry after {}", format_clock(waited)),
                        );
                    }
                }
            }
            Happening::RequestDone { req, outcome, at, endpoint, .. }
                if !req_call.contains_key(req) && *endpoint == Endpoint::GetClient =>
            {
                // A client reload no call sent: `handleUnauthenticated`, which a caller that got
                // a 401 may await (clerk-js `_baseFetch`). If it fails, that failure is
                // rethrown to the caller in place of its 401, so its retry is judged by it.
                // 403 and 500 end in `setActive(null)`: the caller then sees its own 401.
                let status = match outcome {
                    RequestOutcome::Answered { status, .. } => *status,
                    RequestOutcome::NetworkError { .. } => 0,
                };
                if status == 0 || (status >= 400 && status != 403 && status != 500) {
                    for seen in last_status.values_mut().filter(|(s, _, _)| *s == 401) {
                        *seen = (status, None, *at);
                    }
                }
            }
            Happening::RequestDone { req, outcome, at, endpoint, .. } => {
                if let Some(call) = req_call.get(req) {
                    let (status, after) = match outcome {
                        RequestOutcome::Answered { status, retry_after_ms } => {
                            (*status, *retry_after_ms)
                        }
                        RequestOutcome::NetworkError { .. } => (0, None),
                    };
                    last_status.insert(*call, (status, after, *at));
                    match (status, after) {
                        (429, Some(after)) if *endpoint == Endpoint::Tokens => {
                            undeclared_429.insert(*call, (after, *at));
                        }
                        _ => {
                            undeclared_429.remove(call);
                        }
                    }
                }
            }
            Happening::RetryScheduled { at, call, delay_ms, retry_after_ms } => {
                undeclared_429.remove(call);
                r.exercise(InvariantId::RetryDiscipline, 1);
                if let Some((status, _, _)) = last_status.get(call)
                    && (400..500).contains(status)
                    && *status != 429
                {
                    r.violate(
                        InvariantId::RetryDiscipline,
                        step,
                        *at,
                        format!("no retry of {call} after HTTP {status}"),
                        format!("a retry in {}", format_clock(*delay_ms)),
                    );
                }
                if let Some(after) = retry_after_ms
                    && delay_ms < after
                {
                    r.violate(
                        InvariantId::RetryDiscipline,
                        step,
                        *at,
                        format!(
                            "{call} waits at least Retry-After ({}) after a 429",
                            format_clock(*after)
                        ),
                        format!("it retried after {}", format_clock(*delay_ms)),
                    );
                }
            }
            Happening::BackendHit { at, call, attempt, token, status, .. } => {
                let seen = attempts.entry(*call).or_default();
                if *attempt > 1 {
                    r.exercise(InvariantId::RetryDiscipline, 1);
                }
                let broken = match seen.last() {
                    None => *attempt != 1,
                    Some((_, prev_status, prev_serial)) => {
                        let fresher = match (prev_serial, token) {
                            (Some(p), Some(t)) => t.serial > *p,
                            (None, Some(_)) => true,
                            _ => false,
                        };
                        seen.len() >= 2 || *prev_status != 401 || !fresher
                    }
                };
                if broken {
                    r.violate(
                        InvariantId::RetryDiscipline,
                        step,
                        *at,
                        "at most one retry of an API call, after a 401, with a fresh token".into(),
                        format!(
                            "attempt {} of {call} after {}",
                            seen.len() + 1,
                            seen.iter()
                                .map(|(_, s, _)| s.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
                seen.push((*attempt, *status, token.map(|t| t.serial)));
            }
            _ => {}
        }
    }
}

/// Judged at the instant a sign-out call settles, on the last view rendered at that instant
/// (an SDK may render its final state just before or just after it settles the call).
fn signout_settles(trace: &Trace, r: &mut Report) {
    let mut view = AuthView::closed();
    // The device refused to delete (or overwrite) the stored client token during the sign-out.
    let mut refused = false;
    // Sign-ins not yet settled: one that lands after a sign-out is the user's own doing.
    let mut open_sign_ins: BTreeSet<CallId> = BTreeSet::new();
    // Sign-outs started on a loaded app.
    let mut judged: BTreeSet<CallId> = BTreeSet::new();
    for step in &trace.steps {
        // (settled at, call) waiting for the end of its instant.
        let mut pending: Option<(VTime, CallId)> = None;
        let judge = |r: &mut Report, view: &AuthView, call: CallId, at: VTime, refused: bool| {
            r.exercise(InvariantId::SignoutSettles, 1);
            // Signed out with nothing stored that restores the session, or still signed in
            // with the session alive on the server; never loading with a credential, nor
            // signed out on screen with one still stored (unless the device refused to
            // delete it), nor "signed in" to a session the server ended.
            let server = &step.obs.server;
            let credential = server.persisted_credential_valid && !refused;
            let ok = !step.obs.device.running
                || match view.is_signed_in {
                    Some(false) | None => !credential,
                    Some(true) => view
                        .session
                        .is_none_or(|s| server.status_of(s.id).is_none_or(|st| st.is_signed_in())),
                };
            if !ok {
                r.violate(
                    InvariantId::SignoutSettles,
                    step.index,
                    at,
                    format!(
                        "{call} sign_out ends locally: signed out with no credential that \
                         restores the session, or signed in to a live session"
                    ),
                    if view.is_signed_in == Some(true) {
                        format!("{}, which the server ended", view_text(view))
                    } else {
                        format!(
                            "{} with a stored credential that restores the session",
                            view_text(view)
                        )
                    },
                );
            }
        };
        for h in &step.obs.happenings {
            if let Some((at, call)) = pending
                && h.at() > at
            {
                judge(r, &view, call, at, refused);
                pending = None;
            }
            match h {
                Happening::Rendered { view: v, .. } => view = v.clone(),
                // A sign-out asked for before the app had loaded leaves it loading because the
                // load has not finished: that is the load's to settle (calls-settle,
                // restore-after-cold-start), not the sign-out's.
                // A headless instance's sign-out is judged by what the UI's instance shows
                // later (its next read), not at once: only the UI's sign-outs settle here.
                Happening::CallStarted { call, kind: CallKind::SignOut, instance: 0, .. }
                    if view.is_loaded =>
                {
                    judged.insert(*call);
                    refused = false;
                }
                // The user signs in again: the sign-outs in flight are no longer the last word.
                Happening::CallStarted { call, kind: CallKind::SignIn, .. } => {
                    judged.clear();
                    open_sign_ins.insert(*call);
                }
                // Likewise through the native UI.
                Happening::NativeSignedIn { session: Some(_), .. } => judged.clear(),
                Happening::CallSettled { call, kind: CallKind::SignIn, .. } => {
                    open_sign_ins.remove(call);
                }
                // So does one that refused to write it: the sign-out's answer carries the
                // signed-out client's token, and a failed write leaves the older one stored
                // (fuzz case seed 0xdb1086ce7800e9b5: a token of the client JS left for the
                // native one, whose own session was still alive).
                Happening::StorageFailed {
                    op: StorageOp::Delete | StorageOp::Write,
                    key: StorageKey::ClientJwt,
                    ..
                } if !judged.is_empty() => refused = true,
                // A sign-out cut short by a kill or JS reload settled nothing.
                Happening::CallSettled { at, call, kind: CallKind::SignOut, result }
                    if *result != CallResult::Killed
                        && judged.remove(call)
                        && open_sign_ins.is_empty() =>
                {
                    pending = Some((*at, *call));
                }
                _ => {}
            }
        }
        if let Some((at, call)) = pending {
            judge(r, &view, call, at, refused);
        }
        view = step.obs.view.clone();
    }
}

fn signout_is_final(trace: &Trace, r: &mut Report) {
    let mut signed_out = false;
    // A sign-in already in flight when the sign-out lands legitimately signs in after it.
    let mut open_sign_ins: BTreeMap<CallId, ()> = BTreeMap::new();
    // User sign-out calls in flight, and whether the user started a sign-in meanwhile: a
    // credential from that sign-in (even one that failed half-way) is the user's own doing.
    let mut open_sign_outs: BTreeMap<CallId, CallKind> = BTreeMap::new();
    let mut signed_in_meanwhile = false;
    // The device refused to delete a stored credential during a sign-out: what it kept (and
    // what that restores later) is the device's doing, until the next sign-in.
    let mut refused = false;
    for step in &trace.steps {
        let mut check_credential = false;
        for h in &step.obs.happenings {
            match h {
                Happening::StorageFailed { op: StorageOp::Delete | StorageOp::Write, .. }
                    if signed_out || !open_sign_outs.is_empty() =>
                {
                    refused = true;
                }
                Happening::SignedOut { cause: SignOutCause::User, .. } => {
                    r.exercise(InvariantId::SignoutIsFinal, 1);
                    // Ending one session (`end`/`remove`) of a multi-session client that keeps
                    // another signed in is no sign-out of the app: the other session may be
                    // restored and shown (a terminal session shown again is terminal-is-final's).
                    let one_session = !open_sign_outs.is_empty()
                        && open_sign_outs.values().all(|k| *k != CallKind::SignOut);
                    let others_kept = one_session
                        && step.obs.server.sessions.iter().any(|(_, s)| s.is_signed_in());
                    signed_out = open_sign_ins.is_empty() && !signed_in_meanwhile && !others_kept;
                    check_credential = signed_out;
                }
                Happening::CallStarted { call, kind: CallKind::SignIn, .. } => {
                    open_sign_ins.insert(*call, ());
                    signed_in_meanwhile |= !open_sign_outs.is_empty();
                    signed_out = false;
                    refused = false;
                }
                // The user signed in again, through the native UI: what JS adopts from it is
                // the user's own doing.
                Happening::NativeSignedIn { session: Some(_), .. } => {
                    signed_in_meanwhile |= !open_sign_outs.is_empty();
                    signed_out = false;
                    refused = false;
                }
                Happening::CallStarted { call, kind, .. } if is_user_terminal(*kind) => {
                    open_sign_outs.insert(*call, *kind);
                }
                Happening::CallSettled { call, .. } => {
                    open_sign_ins.remove(call);
                    if open_sign_outs.remove(call).is_some() && open_sign_outs.is_empty() {
                        signed_in_meanwhile = false;
                    }
                }
                Happening::StorageWritten { at, key, credential: true, .. }
                    if signed_out && !refused =>
                {
                    r.violate(
                        InvariantId::SignoutIsFinal,
                        step.index,
                        *at,
                        "no credential written after sign-out".into(),
                        format!("{} written with a usable credential", key.as_str()),
                    );
                }
                Happening::Rendered { at, view }
                    if signed_out && !refused && view.session.is_some() =>
                {
                    r.violate(
                        InvariantId::SignoutIsFinal,
                        step.index,
                        *at,
                        "signed out until the next sign-in".into(),
                        view_text(view),
                    );
                    signed_out = false;
                }
                _ => {}
            }
        }
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            open_sign_ins.clear();
            open_sign_outs.clear();
            signed_in_meanwhile = false;
        }
        if check_credential && signed_out && !refused && step.obs.server.persisted_credential_valid
        {
            r.violate(
                InvariantId::SignoutIsFinal,
                step.index,
                step.end(),
                "no persisted credential after sign-out".into(),
                "the persisted client token still restores a signed-in session".into(),
            );
        }
    }
}

fn storage_round_trips(trace: &Trace, r: &mut Report) {
    let mut written: BTreeMap<StorageKey, u64> = BTreeMap::new();
    // Values the SDK wrote over the platform's item limit (the write refused, or the value
    // stored unreadable): a value an SDK persists must fit, so they count as not read back.
    let mut too_large: BTreeMap<StorageKey, VTime> = BTreeMap::new();
    for step in &trace.steps {
        if matches!(step.event, Event::Reinstall) && trace.setup.platform == Platform::Android {
            written.clear();
            too_large.clear();
        }
        for h in &step.obs.happenings {
            match h {
                Happening::StorageWritten { key, digest, .. } => {
                    written.insert(*key, *digest);
                    too_large.remove(key);
                }
                Happening::StorageFailed {
                    at,
                    key,
                    error: crate::model::vocab::StorageError::TooLarge,
                    op,
                } => {
                    written.remove(key);
                    if *op == StorageOp::Read {
                        too_large.remove(key);
                        r.exercise(InvariantId::StorageRoundTrips, 1);
                        r.violate(
                            InvariantId::StorageRoundTrips,
                            step.index,
                            *at,
                            format!("{} reads back as written", key.as_str()),
                            "the read failed: the stored value is over the platform's item limit"
                                .to_string(),
                        );
                    } else {
                        too_large.insert(*key, *at);
                    }
                }
                // A failed operation leaves the item as the device left it: the device's
                // doing, not the SDK's, so nothing is expected of it until written again.
                Happening::StorageDeleted { key, .. } | Happening::StorageFailed { key, .. } => {
                    written.remove(key);
                    too_large.remove(key);
                }
                Happening::StorageRead { at, key, .. } if too_large.contains_key(key) => {
                    r.exercise(InvariantId::StorageRoundTrips, 1);
                    r.violate(
                        InvariantId::StorageRoundTrips,
                        step.index,
                        *at,
                        format!("{} reads back as written", key.as_str()),
                        format!(
                            "an older value: the write at {} was refused, over the platform's \
                             item limit",
                            format_clock(too_large[key].ms())
                        ),
                    );
                    too_large.remove(key);
                }
                Happening::StorageRead { at, key, digest } => {
                    if let Some(expected) = written.get(key) {
                        r.exercise(InvariantId::StorageRoundTrips, 1);
                        if *digest != Some(*expected) {
                            r.violate(
                                InvariantId::StorageRoundTrips,
                                step.index,
                                *at,
                                format!(
                                    "{} reads back as written (digest {expected:016x})",
                                    key.as_str()
                                ),
                                match digest {
                                    Some(d) => format!("digest {d:016x}"),
                                    None => "nothing".into(),
                                },
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn return_to_preserved(trace: &Trace, r: &mut Report) {
    let mut last_protected: Option<AppPath> = None;
    let mut expected: Option<AppPath> = None;
    let mut signed_in = false;
    for step in &trace.steps {
        match &step.event {
            e if e.ends_process() || matches!(e, Event::JsReload) => {
                expected = None;
                last_protected = None;
            }
            // Navigating while signed out moves the return target; navigating once back in
            // (a pending task screen included) is the user moving on.
            // (A navigation while the app is closed or suspended never reaches the app.)
            Event::Navigate { path }
                if expected.is_some()
                    && step.obs.device.running
                    && step.obs.device.app_state != AppState::Background =>
            {
                expected = if signed_in { None } else { Some(path.clone()) };
            }
            _ => {}
        }
        for h in &step.obs.happenings {
            match h {
                Happening::Rendered { at, view } => {
                    signed_in = view.session.is_some();
                    match &view.route {
                        Route::Protected { path } => {
                            if let Some(want) = expected.take() {
                                r.exercise(InvariantId::ReturnToPreserved, 1);
                                if *path != want {
                                    r.violate(
                                        InvariantId::ReturnToPreserved,
                                        step.index,
                                        *at,
                                        format!("back at {want} after re-authentication"),
                                        format!("landed on {path}"),
                                    );
                                }
                            }
                            last_protected = Some(path.clone());
                        }
                        Route::SignIn { return_to } => {
                            if let Some(want) = &expected
                                && return_to.as_ref() != Some(want)
                            {
                                r.exercise(InvariantId::ReturnToPreserved, 1);
                                r.violate(
                                    InvariantId::ReturnToPreserved,
                                    step.index,
                                    *at,
                                    format!("sign-in with return_to={want}"),
                                    format!(
                                        "return_to={}",
                                        return_to.as_ref().map(|p| p.as_str()).unwrap_or("none")
                                    ),
                                );
                                expected = None;
                            }
                        }
                        // On a task screen the user is not on a protected path.
                        Route::Task { .. } => last_protected = None,
                        _ => {}
                    }
                }
                // The user's own sign-out leaves nowhere to return to, also for a later
                // sign-out of a session never shown since (fuzz case seed 0x2f059291f563c5c9:
                // a sign-in's session dropped by an older payload before it rendered).
                Happening::SignedOut { cause: SignOutCause::User, .. } => {
                    expected = None;
                    last_protected = None;
                }
                // Re-authentication is owed for a session the screen showed: a sign-out while
                // it shows none (a headless instance's, `instances: 2`) moves nothing (fuzz
                // seed 0xc3985f1e, case seed 0xa8f1f8c14a2a0afb).
                Happening::SignedOut { .. } if signed_in => expected = last_protected.clone(),
                // The user asked to leave: there is nowhere to return to.
                Happening::CallStarted { kind, .. } if is_user_terminal(*kind) => {
                    expected = None;
                    last_protected = None;
                }
                _ => {}
            }
        }
    }
}

/// `revoked-like-expired`: the trace with `revoke` and its twin with `expire_now` in its place
/// must look the same to the app: route, isLoaded, isSignedIn, session and call results.
pub fn check_revoked_like_expired(revoked: &Trace, expired: &Trace) -> Report {
    let mut r = Report::default();
    if !revoked.steps.iter().any(|s| matches!(s.event, Event::Revoke)) {
        return r;
    }
    r.exercise(InvariantId::RevokedLikeExpired, 1);
    let app_sees = |s: &crate::trace::TraceStep| {
        let results: Vec<(CallKind, CallResult)> = s
            .obs
            .happenings
            .iter()
            .filter_map(|h| match h {
                Happening::CallSettled { kind, result, .. } => Some((*kind, result.clone())),
                _ => None,
            })
            .collect();
        (s.obs.view.clone(), results)
    };
    for (a, b) in revoked.steps.iter().zip(&expired.steps) {
        let (va, ra) = app_sees(a);
        let (vb, rb) = app_sees(b);
        if va != vb || ra != rb {
            r.violate(
                InvariantId::RevokedLikeExpired,
                a.index,
                a.end(),
                format!("what the app sees when the session expired: {}", view_text(&vb)),
                format!("after revoke: {}", view_text(&va)),
            );
            break;
        }
    }
    r
}

/// The twin of a trace for `revoked-like-expired`: every `revoke` becomes `expire_now`.
pub fn expired_twin(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .map(|e| if matches!(e, Event::Revoke) { Event::ExpireNow } else { e.clone() })
        .collect()
}
