//! What a finding accepts, precisely: the *mechanism* that breaks its invariant, as a
//! pattern over the SDK's own trace (issue 13 item 4).
//!
//! An invariant can be broken by many bugs. A finding records one of them, so it accepts a
//! violation only when the trace shows that finding's mechanism up to the step where the
//! invariant broke (for a divergence: up to the diverging step). A different bug that breaks
//! the same invariant — even in a generated case, where the finding's scope is `fuzz` — is
//! not accepted and fails the gate.
//!
//! The patterns, in `findings.yaml` under `mechanism: { what: …, pattern: … }`:
//! - `overlapping_requests: { endpoint, purposes, cleared_by }`: two requests to `endpoint`
//!   for one token (session and template) in flight at once, at least one of them sent for
//!   one of `purposes` (empty: any; `api_call(refresh)` is an API call's token request after
//!   its backend answered 401; `get_token(template=…)` counts without its template); with
//!   `cleared_by` (call kinds), only when a call of one of those kinds started while the first
//!   was in flight (a token cache cleared under a pending fetch);
//! - `retry_before_retry_after: { endpoint }`: a 429 with `Retry-After` R, then a request to
//!   the same endpoint for the same session sent less than R later;
//! - `answer_after_sign_out: {}`: an answer to a request sent before a `sign_out` call
//!   settled arrives after it, and then a credential is stored again or the app renders
//!   signed in;
//! - `expired_token_after_suspension: { kinds }`: a call of one of `kinds` open while the app went to the
//!   background settles with a token that has expired;
//! - `waits_for_failed_load: { kind }`: a `kind` call is open when a `load` call settles
//!   with an error, or starts after it (before any load succeeds);
//! - `terminal_unheard: {}`: the session the app shows is terminal on the server, and from
//!   that step on no answer told the SDK so: no request answered 401 and no `get_client`
//!   answered 2xx (an SDK that never asks; one that hears and keeps the session is not it);
//! - `switch_drops_session: { kinds }`: the SDK drops its session for a client payload
//!   (`signed_out(client_payload)`) right after an answer to a request of an open `kinds`
//!   call (its sign-in, its touch, or the client reload that call's 401 set off; a token
//!   answer in between, which carries no client, does not count): the call that switches
//!   sessions is what signs the app out, not a refresh or a stale reload;
//! - `switch_after_sign_out: {}`: a `set_active` or `sign_in` call whose requests were all
//!   answered when the app signed out for the user (`signed_out(user)`) settles `ok` after
//!   that: its own continuation sets the session again (an answer that arrives after the
//!   sign-out is `answer_after_sign_out`, not this);
//! - `sign_out_without_request: {}`: a `sign_out` call settles `ok` without having sent a
//!   request (clerk-js returns at once when the client it holds lists no session);
//! - `sequence: [ {what, …}, … ]`: these happenings, in this order (each matches on the
//!   fields it names: `endpoint`, `status`, `network_error`, `kind`, `result`, `cause`,
//!   `key`, `credential`, `purpose`);
//! - `divergence: { model, sdk }`: the divergence's rendering (the scenario's words) contains
//!   these texts — for findings that name a `divergence` field.
//!
//! The words are the scenario format's (`tokens`, `get_client`, `get_token(skip_cache)`,
//! `background`, `unauthorized`), so a pattern reads like the trace it matches.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::vocab::{
    AppState, CallKind, CallResult, Endpoint, Event, Happening, RequestId, RequestOutcome,
    SessionId, SignOutCause, StorageKey, TemplateName,
};
use crate::runner::lockstep::{Divergence, call_purposes, purpose_of};
use crate::trace::Trace;

/// A finding's mechanism: one line for people, and the pattern that marks it in a trace.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mechanism {
    /// What happens, for the README table: "two POST /tokens for one session in flight at
    /// once, one of them a skipCache call or a refresh".
    pub what: String,
    pub pattern: Pattern,
}

/// A pattern over the SDK's trace (see the module doc).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Pattern {
    OverlappingRequests {
        endpoint: Endpoint,
        #[serde(default)]
        purposes: Vec<String>,
        #[serde(default)]
        cleared_by: Vec<CallKind>,
    },
    RetryBeforeRetryAfter {
        endpoint: Endpoint,
    },
    AnswerAfterSignOut {},
    ExpiredTokenAfterSuspension {
        kinds: Vec<CallKind>,
    },
    WaitsForFailedLoad {
        kind: CallKind,
    },
    TerminalUnheard {},
    SwitchDropsSession {
        kinds: Vec<CallKind>,
    },
    SwitchAfterSignOut {},
    SignOutWithoutRequest {},
    Sequence(Vec<HappeningPattern>),
    Divergence {
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        sdk: Option<String>,
    },
}

/// One happening a `sequence` looks for: its kind (`what`, the trace's word) and any fields
/// it must have.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HappeningPattern {
    pub what: String,
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// An HTTP status: a request's answer, a call's error, a backend answer.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub network_error: Option<bool>,
    #[serde(default)]
    pub kind: Option<CallKind>,
    /// A call's result: `token`, `null`, `ok`, `error`, `killed`.
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub cause: Option<SignOutCause>,
    #[serde(default)]
    pub key: Option<StorageKey>,
    #[serde(default)]
    pub credential: Option<bool>,
    /// A request's purpose (`request_sent` only).
    #[serde(default)]
    pub purpose: Option<String>,
}

/// The happening kinds a `sequence` can name (the trace's `what`).
pub const HAPPENING_WORDS: [&str; 12] = [
    "rendered",
    "call_started",
    "call_settled",
    "request_sent",
    "request_done",
    "backend_hit",
    "retry_scheduled",
    "storage_written",
    "storage_read",
    "storage_deleted",
    "signed_out",
    "timer_fired",
];

/// The call results a `sequence` can name.
pub const RESULT_WORDS: [&str; 5] = ["token", "null", "ok", "error", "killed"];

impl Pattern {
    /// Why the pattern cannot be used, if it cannot: an unknown word, an empty sequence.
    pub fn check(&self) -> Result<(), String> {
        if let Pattern::Sequence(items) = self {
            if items.is_empty() {
                return Err("`sequence` names no happening".into());
            }
            for p in items {
                if !HAPPENING_WORDS.contains(&p.what.as_str()) {
                    return Err(format!(
                        "unknown happening `{}`; accepted: {}",
                        p.what,
                        HAPPENING_WORDS.join(", ")
                    ));
                }
                if let Some(r) = p.result.as_deref().filter(|r| !RESULT_WORDS.contains(r)) {
                    return Err(format!(
                        "unknown call result `{r}`; accepted: {}",
                        RESULT_WORDS.join(", ")
                    ));
                }
            }
        }
        match self {
            Pattern::SwitchDropsSession { kinds } if kinds.is_empty() => {
                return Err("`switch_drops_session` names no call kind".into());
            }
            Pattern::ExpiredTokenAfterSuspension { kinds } if kinds.is_empty() => {
                return Err("`expired_token_after_suspension` names no call kind".into());
            }
            _ => {}
        }
        if let Pattern::Divergence { model: None, sdk: None } = self {
            return Err("`divergence` needs a `model` or an `sdk` text to look for".into());
        }
        Ok(())
    }

    /// Whether the SDK's `trace`, up to and including step `upto`, shows the mechanism.
    /// `divergence` is the run's first divergence, if any.
    pub fn matches(&self, trace: &Trace, upto: u32, divergence: Option<&Divergence>) -> bool {
        let steps = || trace.steps.iter().take_while(|s| s.index <= upto);
        let happenings = || steps().flat_map(|s| s.obs.happenings.iter());
        match self {
            Pattern::OverlappingRequests { endpoint, purposes, cleared_by } => {
                let calls = call_purposes(trace);
                // A template's getToken is named `get_token(template=…)`: the purposes speak
                // of the call's kind and options, whatever the template.
                let untemplated = |p: &str| match (p.find("(template="), p.find(')')) {
                    (Some(a), Some(b)) if b > a => format!("{}{}", &p[..a], &p[b + 1..]),
                    _ => p.to_string(),
                };
                let wanted =
                    |p: &str| purposes.is_empty() || purposes.iter().any(|w| *w == untemplated(p));
                // Requests in flight: the token they are for (session and template), purpose,
                // and whether a clearing call started since they were sent.
                type Key = (Option<SessionId>, Option<TemplateName>);
                let mut open: BTreeMap<RequestId, (Key, String, bool)> = BTreeMap::new();
                // API calls whose backend answered 401: their next token request is the API
                // wrapper's `getToken({ skipCache: true })` refresh, `api_call(refresh)`.
                let mut refreshing = std::collections::BTreeSet::new();
                for h in happenings() {
                    match h {
                        Happening::BackendHit { call, status: 401, .. } => {
                            refreshing.insert(*call);
                        }
                        Happening::RequestSent {
                            req, endpoint: e, call, sid, template, ..
                        } if e == endpoint => {
                            let key = (*sid, *template);
                            let mut purpose = purpose_of(&calls, *call);
                            if call.is_some_and(|c| refreshing.contains(&c)) {
                                purpose.push_str("(refresh)");
                            }
                            if open.values().any(|(k, p, cleared)| {
                                *k == key
                                    && (wanted(p) || wanted(&purpose))
                                    && (cleared_by.is_empty() || *cleared)
                            }) {
                                return true;
                            }
                            open.insert(*req, (key, purpose, false));
                        }
                        Happening::CallStarted { kind, .. } if cleared_by.contains(kind) => {
                            open.values_mut().for_each(|o| o.2 = true);
                        }
                        Happening::RequestDone { req, .. } => {
                            open.remove(req);
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::RetryBeforeRetryAfter { endpoint } => {
                let mut sessions: BTreeMap<RequestId, Option<SessionId>> = BTreeMap::new();
                let mut not_before: BTreeMap<Option<SessionId>, u64> = BTreeMap::new();
                for h in happenings() {
                    match h {
                        Happening::RequestSent { at, req, endpoint: e, sid, .. }
                            if e == endpoint =>
                        {
                            if not_before.remove(sid).is_some_and(|due| at.ms() < due) {
                                return true;
                            }
                            sessions.insert(*req, *sid);
                        }
                        Happening::RequestDone {
                            at,
                            req,
                            outcome:
                                RequestOutcome::Answered { status: 429, retry_after_ms: Some(wait) },
                            ..
                        } => {
                            if let Some(sid) = sessions.get(req) {
                                not_before.insert(*sid, at.ms().saturating_add(*wait));
                            }
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::AnswerAfterSignOut {} => {
                let mut sent_at: BTreeMap<RequestId, u64> = BTreeMap::new();
                let mut signed_out_at: Option<u64> = None;
                let mut late_answer = false;
                for h in happenings() {
                    match h {
                        Happening::RequestSent { at, req, .. } => {
                            sent_at.insert(*req, at.ms());
                        }
                        Happening::CallSettled {
                            at,
                            kind: CallKind::SignOut,
                            result: CallResult::Ok,
                            ..
                        } => {
                            signed_out_at = Some(at.ms());
                            late_answer = false;
                        }
                        Happening::RequestDone {
                            req,
                            outcome: RequestOutcome::Answered { status, .. },
                            ..
                        } if (200..300).contains(status) => {
                            if let Some(out) = signed_out_at
                                && sent_at.get(req).is_some_and(|sent| *sent < out)
                            {
                                late_answer = true;
                            }
                        }
                        Happening::StorageWritten { credential: true, .. } if late_answer => {
                            return true;
                        }
                        Happening::Rendered { view, .. }
                            if late_answer && view.is_signed_in == Some(true) =>
                        {
                            return true;
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::ExpiredTokenAfterSuspension { kinds } => {
                // Calls of `kind` open, and whether the app went to the background since.
                let mut open: BTreeMap<u32, bool> = BTreeMap::new();
                for step in steps() {
                    if matches!(step.event, Event::AppState { state: AppState::Background }) {
                        open.values_mut().for_each(|suspended| *suspended = true);
                    }
                    for h in &step.obs.happenings {
                        match h {
                            Happening::CallStarted { call, kind: k, .. } if kinds.contains(k) => {
                                open.insert(call.0, false);
                            }
                            Happening::CallSettled { at, call, result, .. } => {
                                let suspended = open.remove(&call.0).unwrap_or(false);
                                if suspended
                                    && let CallResult::Token { token } = result
                                    && token.is_expired_at(*at)
                                {
                                    return true;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                false
            }
            Pattern::WaitsForFailedLoad { kind } => {
                let mut open = std::collections::BTreeSet::new();
                let mut failed = false;
                for h in happenings() {
                    match h {
                        Happening::CallStarted { call, kind: k, .. } if k == kind => {
                            if failed {
                                return true;
                            }
                            open.insert(*call);
                        }
                        Happening::CallSettled { kind: CallKind::Load, result, .. } => {
                            failed = matches!(result, CallResult::Error { .. });
                            if failed && !open.is_empty() {
                                return true;
                            }
                        }
                        Happening::CallSettled { call, .. } => {
                            open.remove(call);
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::TerminalUnheard {} => {
                // The shown session once it is terminal on the server, and whether an answer
                // has told the SDK since.
                let mut watch: Option<(SessionId, bool)> = None;
                for step in steps() {
                    let obs = &step.obs;
                    let shown = obs.view.session.map(|v| v.id);
                    if watch.is_some_and(|(sid, _)| shown != Some(sid)) {
                        watch = None;
                    }
                    if watch.is_none()
                        && let Some(sid) = shown
                        && obs.server.status_of(sid).is_some_and(|s| s.is_terminal())
                    {
                        watch = Some((sid, false));
                    }
                    if let Some((_, heard)) = &mut watch {
                        *heard |= obs.happenings.iter().any(|h| {
                            matches!(h, Happening::RequestDone {
                                endpoint,
                                outcome: RequestOutcome::Answered { status, .. },
                                ..
                            } if *status == 401
                                || (*endpoint == Endpoint::GetClient
                                    && (200..300).contains(status)))
                        });
                    }
                }
                watch.is_some_and(|(_, heard)| !heard)
            }
            Pattern::SwitchDropsSession { kinds } => {
                // Open calls of `kinds`, the requests sent for them (with the client reload a
                // 401 to one of them set off), and whose answer came last.
                let mut open = std::collections::BTreeSet::new();
                let mut call_of: BTreeMap<RequestId, crate::model::vocab::CallId> = BTreeMap::new();
                let mut after_401 = None;
                let mut last_answer = None;
                for h in happenings() {
                    match h {
                        Happening::CallStarted { call, kind, .. } if kinds.contains(kind) => {
                            open.insert(*call);
                        }
                        Happening::CallSettled { call, .. } => {
                            open.remove(call);
                        }
                        Happening::RequestSent { req, call: Some(call), .. }
                            if open.contains(call) =>
                        {
                            call_of.insert(*req, *call);
                        }
                        Happening::RequestSent {
                            req,
                            endpoint: Endpoint::GetClient,
                            call: None,
                            ..
                        } => {
                            if let Some(call) = after_401.take() {
                                call_of.insert(*req, call);
                            }
                        }
                        // A token answer carries no client: it cannot be the payload that
                        // signs the app out, so one landing in between changes nothing
                        // (fuzz case seed 0x463dadc0222d91ac: a foreground refresh's).
                        Happening::RequestDone { endpoint: Endpoint::Tokens, .. } => {}
                        Happening::RequestDone { req, outcome, .. } => {
                            last_answer = call_of.get(req).copied().filter(|c| open.contains(c));
                            if last_answer.is_some()
                                && matches!(outcome, RequestOutcome::Answered { status: 401, .. })
                            {
                                after_401 = last_answer;
                            }
                        }
                        Happening::SignedOut { cause: SignOutCause::ClientPayload, .. }
                            if last_answer.is_some() =>
                        {
                            return true;
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::SwitchAfterSignOut {} => {
                // Open switches and how many of their requests are unanswered; the switches
                // that were waiting on nothing from the server when the user signed out.
                let switching = [CallKind::SetActive, CallKind::SignIn];
                let mut open: BTreeMap<crate::model::vocab::CallId, u32> = BTreeMap::new();
                let mut call_of: BTreeMap<RequestId, crate::model::vocab::CallId> = BTreeMap::new();
                let mut answered_before = std::collections::BTreeSet::new();
                for h in happenings() {
                    match h {
                        Happening::CallStarted { call, kind, .. } if switching.contains(kind) => {
                            open.insert(*call, 0);
                        }
                        Happening::RequestSent { req, call: Some(call), .. } => {
                            if let Some(n) = open.get_mut(call) {
                                *n += 1;
                                call_of.insert(*req, *call);
                            }
                        }
                        Happening::RequestDone { req, .. } => {
                            if let Some(n) = call_of.remove(req).and_then(|c| open.get_mut(&c)) {
                                *n = n.saturating_sub(1);
                            }
                        }
                        Happening::SignedOut { cause: SignOutCause::User, .. } => {
                            answered_before
                                .extend(open.iter().filter(|(_, n)| **n == 0).map(|(c, _)| *c));
                        }
                        Happening::CallSettled { call, result, .. } => {
                            open.remove(call);
                            if answered_before.remove(call) && matches!(result, CallResult::Ok) {
                                return true;
                            }
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::SignOutWithoutRequest {} => {
                // Open sign-outs and whether they have sent a request yet.
                let mut open: BTreeMap<crate::model::vocab::CallId, bool> = BTreeMap::new();
                for h in happenings() {
                    match h {
                        Happening::CallStarted { call, kind: CallKind::SignOut, .. } => {
                            open.insert(*call, false);
                        }
                        Happening::RequestSent { call: Some(call), .. } => {
                            if let Some(sent) = open.get_mut(call) {
                                *sent = true;
                            }
                        }
                        Happening::CallSettled { call, result: CallResult::Ok, .. }
                            if open.remove(call) == Some(false) =>
                        {
                            return true;
                        }
                        Happening::CallSettled { call, .. } => {
                            open.remove(call);
                        }
                        _ => {}
                    }
                }
                false
            }
            Pattern::Sequence(items) => {
                let calls = call_purposes(trace);
                let mut want = items.iter().peekable();
                for h in happenings() {
                    let Some(p) = want.peek() else { break };
                    if p.matches(h, &calls) {
                        want.next();
                    }
                }
                want.peek().is_none()
            }
            Pattern::Divergence { model, sdk } => divergence.is_some_and(|d| {
                model.as_deref().is_none_or(|m| d.model.contains(m))
                    && sdk.as_deref().is_none_or(|s| d.sdk.contains(s))
            }),
        }
    }
}

impl HappeningPattern {
    fn matches(
        &self,
        h: &Happening,
        calls: &BTreeMap<crate::model::vocab::CallId, String>,
    ) -> bool {
        let json = serde_json::to_value(h).expect("happenings always serialise");
        if json.get("what").and_then(|w| w.as_str()) != Some(self.what.as_str()) {
            return false;
        }
        let (endpoint, status, network_error, kind, result, cause, key, credential, purpose) =
            fields(h, calls);
        let same = |want: Option<String>, got: Option<String>| want.is_none() || want == got;
        same(self.endpoint.map(|e| e.as_str().to_string()), endpoint.map(|e| e.as_str().into()))
            && (self.status.is_none() || self.status == status)
            && (self.network_error.is_none() || self.network_error == network_error)
            && (self.kind.is_none() || self.kind == kind)
            && same(self.result.clone(), result)
            && (self.cause.is_none() || self.cause == cause)
            && (self.key.is_none() || self.key == key)
            && (self.credential.is_none() || self.credential == credential)
            && same(self.purpose.clone(), purpose)
    }
}

/// The fields a [`HappeningPattern`] can look at, as `h` has them.
#[allow(clippy::type_complexity)]
fn fields(
    h: &Happening,
    calls: &BTreeMap<crate::model::vocab::CallId, String>,
) -> (
    Option<Endpoint>,
    Option<u16>,
    Option<bool>,
    Option<CallKind>,
    Option<String>,
    Option<SignOutCause>,
    Option<StorageKey>,
    Option<bool>,
    Option<String>,
) {
    let mut out = (None, None, None, None, None, None, None, None, None);
    match h {
        Happening::RequestSent { endpoint, call, .. } => {
            out.0 = Some(*endpoint);
            out.8 = Some(purpose_of(calls, *call));
        }
        Happening::RequestDone { endpoint, outcome, .. } => {
            out.0 = Some(*endpoint);
            out.1 = outcome.status();
            out.2 = Some(matches!(outcome, RequestOutcome::NetworkError { .. }));
        }
        Happening::CallStarted { kind, .. } => out.3 = Some(*kind),
        Happening::CallSettled { kind, result, .. } => {
            out.3 = Some(*kind);
            out.4 = Some(
                match result {
                    CallResult::Token { .. } => "token",
                    CallResult::Null => "null",
                    CallResult::Ok => "ok",
                    CallResult::Error { .. } => "error",
                    CallResult::Killed => "killed",
                }
                .to_string(),
            );
            if let CallResult::Error { status, .. } = result {
                out.1 = Some(*status);
            }
        }
        Happening::BackendHit { status, .. } => out.1 = Some(*status),
        Happening::SignedOut { cause, .. } => out.5 = Some(*cause),
        Happening::StorageWritten { key, credential, .. } => {
            out.6 = Some(*key);
            out.7 = Some(*credential);
        }
        Happening::StorageRead { key, .. } | Happening::StorageDeleted { key, .. } => {
            out.6 = Some(*key)
        }
        _ => {}
    }
    out
}
