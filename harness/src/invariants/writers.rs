//! The invariants of many writers (issue 15): `superseded-token-never-presented`,
//! `one-writer-per-credential` and `layers-agree`. Like every check they read only a trace:
//! the client tokens JS requests presented and received (`ClientTokenPresented`,
//! `ClientTokenReceived`), the stored credentials (`ServerView::persisted_credential_valid`,
//! `DeviceView::native`) and what the app rendered.
//!
//! Where a statement is narrower than "JS and native always agree", the narrowing is a
//! documented behaviour of `@clerk/expo` 3.x (shared/reference/clerk-expo-behaviour.md), named
//! at the line that applies it.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::settings::ReuseGrace;
use crate::model::time::{VTime, format_clock};
use crate::model::vocab::{AppState, Network};
use crate::model::vocab::{
    CallKind, ClientId, ClientTokenTag, Event, Happening, NativeCallName, RequestId, Route,
    SessionId, SignOutCause, StorageKey,
};
use crate::trace::{Trace, TraceStep};

use super::{InvariantId, Report, is_user_terminal, quiet, view_text};

/// A client token JS received, and when the server minted it (the instant its request was
/// sent: the server applies a request as it arrives).
#[derive(Clone, Copy, Debug)]
struct Receipt {
    token: ClientTokenTag,
    minted: VTime,
}

fn newer(a: ClientTokenTag, b: ClientTokenTag) -> bool {
    (a.epoch, a.version) > (b.epoch, b.version)
}

/// Whether the instance still honours `presented` at `at`, judged from what the SDK itself
/// received: its newest receipt of the client. A token of an older epoch is never honoured;
/// within an epoch the grace is the instance's (`token_reuse.grace`): that many rotations,
/// or that long after its successor was minted (the successor the SDK holds was minted no
/// earlier than the immediate one, so this never calls an honoured token refused).
fn outside_grace(trace: &Trace, presented: ClientTokenTag, newest: Receipt, at: VTime) -> bool {
    if newest.token.epoch != presented.epoch {
        return newest.token.epoch > presented.epoch;
    }
    match trace.setup.instance.token_reuse.grace {
        ReuseGrace::Versions(n) => newest.token.version - presented.version > n,
        ReuseGrace::WindowMs(window) => at.since(newest.minted) > window,
    }
}

/// `superseded-token-never-presented`. A successor counts once JS has taken it as its
/// credential: received in an answer and written to secure storage right after (Expo's
/// after-response hook). One JS never stored (a failed write, an answer it ignored as stale,
/// a memory token cache) is not the SDK's to present; storage replaced by the device (a
/// reinstall, a backup restore) starts again; and adopting the native layer's token
/// (`getClientToken`, then a write of the client token) reconciles JS with the other writer:
/// its receipts of that client start again.
pub(super) fn superseded_token_never_presented(trace: &Trace, r: &mut Report) {
    let mut sent: BTreeMap<RequestId, VTime> = BTreeMap::new();
    let mut stored: BTreeMap<ClientId, Receipt> = BTreeMap::new();
    // The receipt whose write is awaited, and a native token JS is adopting.
    let mut unwritten: Option<Receipt> = None;
    let mut adopting: Option<ClientId> = None;
    for step in &trace.steps {
        if matches!(step.event, Event::Reinstall | Event::RestoreBackup) {
            stored.clear();
        }
        for h in &step.obs.happenings {
            match h {
                Happening::RequestSent { at, req, .. } => {
                    sent.insert(*req, *at);
                    unwritten = None;
                }
                Happening::ClientTokenReceived { at, req, token } => {
                    let minted = sent.get(req).copied().unwrap_or(*at);
                    unwritten = Some(Receipt { token: *token, minted });
                }
                Happening::NativeCalled {
                    call: NativeCallName::GetClientToken, answer, ..
                } => {
                    adopting = answer
                        .split_whitespace()
                        .next()
                        .and_then(ClientId::parse)
                        .filter(|_| answer.contains(" v"));
                }
                Happening::StorageWritten { key: StorageKey::ClientJwt, .. } => {
                    if let Some(client) = adopting.take() {
                        stored.remove(&client);
                    }
                    if let Some(receipt) = unwritten.take() {
                        let client = receipt.token.client;
                        if stored.get(&client).is_none_or(|n| newer(receipt.token, n.token)) {
                            stored.insert(client, receipt);
                        }
                    }
                }
                Happening::StorageFailed { key: StorageKey::ClientJwt, .. }
                | Happening::RequestDone { .. } => unwritten = None,
                Happening::ClientTokenPresented { at, req, token } => {
                    let Some(n) = stored.get(&token.client).copied() else { continue };
                    r.exercise(InvariantId::SupersededTokenNeverPresented, 1);
                    if newer(n.token, *token) && outside_grace(trace, *token, n, *at) {
                        r.violate(
                            InvariantId::SupersededTokenNeverPresented,
                            step.index,
                            *at,
                            format!(
                                "{req} presents {} (stored by JS, minted at {}) or a token the \
                                 instance still honours",
                                n.token,
                                format_clock(n.minted.ms())
                            ),
                            format!(
                                "it presented {token}, superseded and outside the grace ({})",
                                grace_text(trace)
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

fn grace_text(trace: &Trace) -> String {
    match trace.setup.instance.token_reuse.grace {
        ReuseGrace::Versions(n) => format!("{n} rotations"),
        ReuseGrace::WindowMs(ms) => format!("{} after its successor", format_clock(ms)),
    }
}

/// The user's own doing in a step: a sign-in or sign-out (or session end) asked for now or
/// still open from before, a sign-out, or a native sign-in.
struct UserActs {
    open: BTreeSet<crate::model::vocab::CallId>,
}

impl UserActs {
    fn step(&mut self, step: &TraceStep) -> bool {
        let mut user = !self.open.is_empty()
            || matches!(
                step.event,
                Event::SignIn { .. }
                    | Event::SignOut
                    | Event::SessionEnd
                    | Event::SessionRemove
                    | Event::NativeSignIn
            );
        for h in &step.obs.happenings {
            match h {
                Happening::CallStarted { call, kind, .. }
                    if *kind == CallKind::SignIn || is_user_terminal(*kind) =>
                {
                    self.open.insert(*call);
                    user = true;
                }
                Happening::CallSettled { call, .. } => {
                    self.open.remove(call);
                }
                Happening::SignedOut { cause: SignOutCause::User, .. }
                | Happening::NativeSignedIn { session: Some(_), .. } => user = true,
                _ => {}
            }
        }
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            self.open.clear();
        }
        user
    }
}

/// `one-writer-per-credential`, judged per step on the two stored client identities: JS's
/// `__clerk_client_jwt` and the native layer's `clerkDeviceToken`.
pub(super) fn one_writer_per_credential(trace: &Trace, r: &mut Report) {
    let mut acts = UserActs { open: BTreeSet::new() };
    // Sessions JS has shown: a native session JS never showed is not the app's credential.
    let mut shown: BTreeSet<SessionId> = BTreeSet::new();
    let mut prev: Option<&TraceStep> = None;
    let mut tainted: BTreeSet<StorageKey> = BTreeSet::new();
    for step in &trace.steps {
        let user = acts.step(step);
        for h in &step.obs.happenings {
            if let Happening::Rendered { view, .. } = h
                && let Some(s) = view.session
            {
                shown.insert(s.id);
            }
        }
        let Some(before) = prev.replace(step) else { continue };
        let device_doing = matches!(step.event, Event::Reinstall | Event::RestoreBackup);
        let (server, was) = (&step.obs.server, &before.obs.server);
        // JS's item: it restored the client's latest session at the start of the step.
        let js = was
            .session
            .filter(|(_, st)| was.persisted_credential_valid && st.is_signed_in())
            .map(|(s, _)| (StorageKey::ClientJwt, s, !server.persisted_credential_valid));
        // The native item: it restored a session JS has shown (an Android native sign-in
        // reaches JS only through `<AuthView>`'s view event, which the app here does not
        // render: clerk-expo-behaviour.md §4, "Android never emits it") and that ClerkKit's
        // own client holds. On iOS `configure(pk, token)` writes JS's token to the keychain
        // and then refreshes ClerkKit's in-memory client, whose rotated token replaces it
        // (§6.2; §3: after a JS-only sign-in "ClerkKit usually has no session"): until the
        // native SDK holds the session, the item is JS's passing copy, not a credential.
        let native = before
            .obs
            .device
            .native
            .filter(|n| n.session.is_some() && n.session == n.credential)
            .and_then(|n| n.credential)
            .filter(|s| shown.contains(s))
            .map(|s| {
                let now = step.obs.device.native.and_then(|n| n.credential);
                (StorageKey::NativeDeviceToken, s, now.is_none())
            });
        // An item the device failed (a read or write that threw, hung or returned garbage,
        // or a write it mangled) is the device's doing until a credential is stored in it
        // again: judged on the items failed before this step or during it.
        let failed_before = tainted.clone();
        let mut failed_now: BTreeSet<StorageKey> = BTreeSet::new();
        for h in &step.obs.happenings {
            match h {
                Happening::StorageFailed { key, .. } => {
                    tainted.insert(*key);
                    failed_now.insert(*key);
                }
                Happening::StorageWritten { key, digest, stored_digest, .. }
                    if digest != stored_digest =>
                {
                    tainted.insert(*key);
                    failed_now.insert(*key);
                }
                Happening::StorageWritten { key, credential: true, .. } => {
                    tainted.remove(key);
                }
                _ => {}
            }
        }
        for (key, sid, carries_none) in js.into_iter().chain(native) {
            let written = step
                .obs
                .happenings
                .iter()
                .any(|h| matches!(h, Happening::StorageWritten { key: k, .. } if *k == key));
            let faulted = failed_before.contains(&key) || failed_now.contains(&key);
            if !written {
                continue;
            }
            r.exercise(InvariantId::OneWriterPerCredential, 1);
            let ended = server.status_of(sid).is_none_or(|s| !s.is_signed_in())
                || server.orphaned.contains(&sid);
            if carries_none && !user && !ended && !faulted && !device_doing {
                r.violate(
                    InvariantId::OneWriterPerCredential,
                    step.index,
                    step.end(),
                    format!(
                        "{} keeps restoring {sid} (active on the server) unless the user signs \
                         in or out",
                        key.as_str()
                    ),
                    "it was written over by a client token that restores no session".into(),
                );
            }
        }
    }
}

/// Whether JS and the native layer are at rest at the end of `step`: the app running in the
/// foreground, online and awake, loaded, with no call or request open.
fn settled(step: &TraceStep) -> bool {
    let (obs, device) = (&step.obs, &step.obs.device);
    device.running
        && device.app_state != AppState::Background
        && device.network == Network::Online
        && !matches!(step.event, Event::DeviceSleep { .. })
        && obs.view.is_loaded
        && obs.in_flight == 0
        && obs.open_calls == 0
}

/// Route changes between sign-in and a signed-in screen tolerated between two events that
/// change the world: two round trips (after one event, a load, a native adoption and a 401's
/// client reload may each land and move the route once); a loop goes on past any bound.
pub const ROUTE_FLIPS_MAX: u32 = 4;

/// Calls the user makes that move the route when they land.
fn user_call(kind: CallKind) -> bool {
    matches!(
        kind,
        CallKind::SignIn
            | CallKind::SignOut
            | CallKind::SessionEnd
            | CallKind::SessionRemove
            | CallKind::SetActive
            | CallKind::CompleteTask
    )
}

/// `layers-agree`, for setups with the native module.
pub(super) fn layers_agree(trace: &Trace, r: &mut Report) {
    if !trace.setup.sdk.native {
        return;
    }
    // Native sessions JS is not told of: one JS has never shown (an Android native sign-in
    // sends JS no event, §4; an iOS adoption that failed is swallowed, §2.1, §4), and a
    // session iOS keeps after its `signOut()` rejected (`E_SIGN_OUT_FAILED`: the removal
    // failed and the in-memory client stays, §6.1; JS swallows the error, §3).
    let mut untold: BTreeSet<SessionId> = BTreeSet::new();
    let mut ever_shown: BTreeSet<SessionId> = BTreeSet::new();
    // The native layer's last known session (its sign-in, or what `getSession` would answer
    // at a step's end): an unconfigured iOS layer keeps it in memory unseen.
    let mut native_known: Option<SessionId> = None;
    // Route class (true: a signed-in screen) and flips since the last event that changed
    // the world.
    let mut class: Option<bool> = None;
    let mut flips = 0u32;
    let mut reported = false;
    // The user's calls in flight (sign-in, sign-out, session end or removal, setActive,
    // completing a task): while one is open, or as it lands, the route may move for it.
    let mut user_calls: BTreeSet<crate::model::vocab::CallId> = BTreeSet::new();
    let mut js_sign_ins: BTreeSet<crate::model::vocab::CallId> = BTreeSet::new();
    // The session JS showed last, and whether JS moved from one session to another without
    // signing out: `NativeSessionSync` pushes a session to the native layer once per
    // signed-in period (`hasSyncedRef`, §3), so after such a move the native layer may hold
    // the earlier one (a second sign-in, a native sign-in racing a JS one, multi-session).
    let mut shown: Option<SessionId> = None;
    let mut switched = false;
    for step in &trace.steps {
        // A route loop is counted across quiet events.
        if !quiet(&step.event) {
            flips = 0;
            reported = false;
        }
        if step.event.ends_process() || matches!(step.event, Event::JsReload) {
            user_calls.clear();
            js_sign_ins.clear();
        }
        let mut rejected_sign_out = false;
        for h in &step.obs.happenings {
            match h {
                // Whatever it answered: iOS keeps the in-memory session when the removal
                // fails (`E_SIGN_OUT_FAILED`, §6.1) and when ClerkKit is not configured (the
                // call only resets a flag, §3).
                Happening::NativeCalled { call: NativeCallName::SignOut, .. } => {
                    rejected_sign_out = true;
                    untold.extend(native_known);
                }
                Happening::CallStarted { call, kind, .. } if user_call(*kind) => {
                    user_calls.insert(*call);
                    if *kind == CallKind::SignIn {
                        js_sign_ins.insert(*call);
                    }
                }
                // A native sign-in while a JS sign-in is in flight: the user signed in twice,
                // and whichever lands last is what JS shows; `NativeSessionSync` does not move
                // the native layer to it (a second `Clerk.configure` loads no client, §3, §6.2).
                Happening::NativeSignedIn { session: Some(s), .. } => {
                    native_known = Some(*s);
                    if !js_sign_ins.is_empty() {
                        untold.insert(*s);
                    }
                }
                Happening::CallSettled { call, .. } => {
                    js_sign_ins.remove(call);
                    if user_calls.remove(call) {
                        flips = 0;
                    }
                }
                Happening::Rendered { at, view } => {
                    // JS left a session while the user's JS sign-in was in flight: that
                    // sign-in replaced it, the user's own doing (a native sign-in adopted,
                    // then a JS one landing over it).
                    if let Some(prev) = shown
                        && view.session.is_none_or(|s| s.id != prev)
                        && !js_sign_ins.is_empty()
                    {
                        untold.insert(prev);
                    }
                    match (shown, view.session) {
                        (Some(a), Some(b)) if a != b.id => switched = true,
                        (_, None) => switched = false,
                        _ => {}
                    }
                    shown = view.session.map(|s| s.id);
                    ever_shown.extend(shown);
                    let now = match view.route {
                        Route::SignIn { .. } => Some(false),
                        Route::Protected { .. } | Route::Task { .. } => Some(true),
                        _ => None,
                    };
                    let Some(now) = now else { continue };
                    if class.is_some_and(|c| c != now) && user_calls.is_empty() {
                        flips += 1;
                        r.exercise(InvariantId::LayersAgree, 1);
                        if flips > ROUTE_FLIPS_MAX && !reported {
                            reported = true;
                            r.violate(
                                InvariantId::LayersAgree,
                                step.index,
                                *at,
                                format!(
                                    "the route settles: at most {ROUTE_FLIPS_MAX} moves between \
                                     sign-in and a signed-in screen without a new event"
                                ),
                                format!("move {flips}: {}", view_text(view)),
                            );
                        }
                    }
                    class = Some(now);
                }
                _ => {}
            }
        }
        let Some(native) = step.obs.device.native else { continue };
        if rejected_sign_out && let Some(s) = native.session {
            untold.insert(s);
        }
        native_known = native.session.or(native_known);
        if !settled(step) {
            continue;
        }
        let server = &step.obs.server;
        let Some(sid) = native
            .session
            .filter(|s| server.status_of(*s).is_some_and(|st| st.is_signed_in()))
            .filter(|s| !untold.contains(s) && ever_shown.contains(s))
        else {
            continue;
        };
        r.exercise(InvariantId::LayersAgree, 1);
        let view = &step.obs.view;
        // In multi-session mode each layer's session is its client's last active one as of
        // its own last reload of the client (ClerkKit's refreshes, §6.2–§6.3, are not JS's),
        // so JS need only be signed in.
        let agrees = match view.session {
            Some(s) => s.id == sid || switched || trace.setup.instance.multi_session,
            None => false,
        };
        if !agrees {
            r.violate(
                InvariantId::LayersAgree,
                step.index,
                step.end(),
                format!("JS shows {sid}, the live session the native layer holds"),
                view_text(view),
            );
        }
    }
}
