//! The reviewable picture of one variant's run, as insta snapshots it: per step the virtual
//! time, the event, what the app shows, and what happened in short form; where the SDK first
//! departed from the model, when the model ran alongside; the broken invariants. Tokens
//! appear as their claims (session, user, times on the virtual clock, status, serial), never
//! raw.
//!
//! A long `advance` in the foreground refreshes dozens of times; listing each refresh would
//! bury the interesting lines, so a busy step lists its notable happenings and summarises the
//! routine ones (refresh round trips, timers, storage rotations) as counts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::settings::{NativeVariant, Setup, TokenCacheKind};
use crate::model::time::{VTime, format_clock, format_duration};
use crate::model::vocab::{
    CallResult, Endpoint, Happening, NativeCallName, RequestOutcome, SessionView, TokenInfo,
};
use crate::runner::divergence::Divergence;

use crate::trace::words::word;

use super::compile::Scenario;
use super::run::VariantRun;

/// Happenings a step may list in full before routine ones are summarised.
pub const HAPPENINGS_LISTED_MAX: usize = 24;

/// One variant's snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotDoc {
    pub scenario: String,
    pub variant: String,
    pub sdk: String,
    pub setup: SetupSummary,
    pub steps: Vec<SnapStep>,
    /// Where the SDK first departed from the model, when the model ran alongside (a variant
    /// with defects, or `sdk: reference`); apart from the violations, which it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departs_from_model: Option<Departure>,
    /// Every violation, one line each (`invariant at step N (t=…): expected …; observed …`).
    pub broken: Vec<String>,
}

/// The first divergence from the model, as a snapshot shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Departure {
    /// `step N (t=…, `event`)`.
    pub at: String,
    /// The part of the observation that differs: `view`, `happenings`, `server`, …
    #[serde(rename = "in")]
    pub field: &'static str,
    /// What the model showed there, and what the SDK showed.
    pub model: String,
    pub sdk: String,
}

impl Departure {
    pub fn of(d: &Divergence) -> Departure {
        Departure {
            at: format!("step {} (t={}, `{}`)", d.step, format_clock(d.at.ms()), d.event),
            field: d.field,
            model: d.model.clone(),
            sdk: d.sdk.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SetupSummary {
    pub platform: &'static str,
    pub profile: &'static str,
    pub sdk: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub defects: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SnapStep {
    /// `#index t=clock event`, with `(concurrent)` for members of a concurrent group.
    pub step: String,
    /// Route, isLoaded, isSignedIn, the SDK's session and the server's truth after the step.
    pub shows: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub happened: Vec<String>,
}

/// Builds the snapshot of `run`, a run of one of `scenario`'s variants.
pub fn snapshot(scenario: &Scenario, run: &VariantRun) -> SnapshotDoc {
    let variant = scenario
        .variants
        .iter()
        .find(|v| v.name == run.variant)
        .expect("a run always belongs to one of its scenario's variants");
    let steps = run
        .outcome
        .trace
        .steps
        .iter()
        .map(|step| {
            let concurrent = scenario.concurrent.get(step.index as usize).copied().unwrap_or(false);
            SnapStep {
                step: format!(
                    "#{} t={} {}{}",
                    step.index,
                    format_clock(step.at.ms()),
                    step.event,
                    if concurrent { " (concurrent)" } else { "" }
                ),
                shows: shows(&step.obs),
                happened: happened(&step.obs.happenings),
            }
        })
        .collect();
    SnapshotDoc {
        scenario: scenario.name.clone(),
        variant: run.variant.clone(),
        sdk: run.sdk.clone(),
        setup: summary(&variant.setup, &run.defects),
        steps,
        departs_from_model: run.divergence.as_ref().map(Departure::of),
        broken: run
            .outcome
            .report
            .violations
            .iter()
            .map(|v| {
                format!(
                    "{} at step {} (t={}): expected {}; observed {}",
                    v.invariant,
                    v.step,
                    format_clock(v.at.ms()),
                    v.expected,
                    v.observed
                )
            })
            .collect(),
    }
}

fn summary(setup: &Setup, defects: &[crate::model::vocab::Defect]) -> SetupSummary {
    let limit = |l: Option<u64>| l.map(format_duration).unwrap_or_else(|| "off".into());
    let i = &setup.instance;
    SetupSummary {
        platform: setup.platform.as_str(),
        profile: setup.profile.as_str(),
        sdk: format!(
            "token_cache={} resource_cache={} treat_pending_as_signed_out={} fapi={} backend={}",
            match setup.sdk.token_cache {
                TokenCacheKind::SecureStore => "secure_store",
                TokenCacheKind::Memory => "memory",
            },
            setup.sdk.resource_cache,
            setup.sdk.treat_pending_as_signed_out,
            format_duration(setup.net.fapi_latency_ms),
            format_duration(setup.net.backend_latency_ms),
        ) + if setup.net.connectivity_initial { "" } else { " connectivity_initial=false" }
            + &match setup.sdk.app_state_delay_ms {
                0 => String::new(),
                ms => format!(" app_state_delay={}", format_duration(ms)),
            }
            + &setup
                .sdk
                .large_values
                .map(|l| format!(" large_values={}", l.as_str()))
                .unwrap_or_default()
            + &match setup.sdk.instances {
                1 => String::new(),
                n => format!(" instances={n}"),
            }
            + if setup.sdk.native { " native=true" } else { "" }
            + &match setup.sdk.native_variant {
                NativeVariant::Current => String::new(),
                v => format!(" native_variant={}", v.as_str()),
            },
        instance: format!(
            "token_ttl={} max_lifetime={} inactivity_timeout={} multi_session={} session_minter={}",
            format_duration(i.session_token_ttl_ms),
            limit(i.max_lifetime_ms),
            limit(i.inactivity_timeout_ms),
            i.multi_session,
            i.session_minter
        ) + &token_reuse_text(i.token_reuse)
            + &templates_text(&i.templates),
        defects: defects.iter().map(|d| d.as_str()).collect(),
    }
}

/// The reuse policy in a summary, only when it is not Clerk's (older snapshots stay as
/// they were).
fn token_reuse_text(reuse: crate::model::settings::TokenReuse) -> String {
    if reuse.is_clerk() {
        return String::new();
    }
    let grace = match reuse.grace {
        crate::model::settings::ReuseGrace::Versions(n) => format!("{n} rotations"),
        crate::model::settings::ReuseGrace::WindowMs(ms) => format_duration(ms),
    };
    format!(" token_reuse={}/{grace}", reuse.policy.as_str())
}

/// The templates in a summary, only when there are some (older snapshots stay as they were):
/// ` templates=convex/1m,supabase/1h`.
fn templates_text(templates: &crate::model::templates::Templates) -> String {
    if templates.is_empty() {
        return String::new();
    }
    let each: Vec<String> = templates
        .iter()
        .map(|t| format!("{}/{}", t.name, format_duration(t.lifetime_ms)))
        .collect();
    format!(" templates={}", each.join(","))
}

fn session_text(s: Option<SessionView>) -> String {
    match s {
        Some(s) => match s.task {
            Some(t) => format!("{}:{}({})", s.id, s.status, t.as_str()),
            None => format!("{}:{}", s.id, s.status),
        },
        None => "none".into(),
    }
}

fn shows(obs: &crate::model::Observation) -> String {
    let v = &obs.view;
    let signed_in = match v.is_signed_in {
        Some(b) => b.to_string(),
        None => "undefined".into(),
    };
    let server = match obs.server.session {
        Some((id, status)) => format!("{id}:{status}"),
        None => "none".into(),
    };
    let mut text = format!(
        "{} loaded={} signed_in={signed_in} session={} server={server}",
        v.route,
        v.is_loaded,
        session_text(v.session)
    );
    if obs.in_flight > 0 {
        text.push_str(&format!(" in_flight={}", obs.in_flight));
    }
    if obs.open_calls > 0 {
        text.push_str(&format!(" open_calls={}", obs.open_calls));
    }
    text
}

/// A token as its claims, times on the virtual clock.
pub fn claims(t: &TokenInfo) -> String {
    let clock = |s: u64| format_clock(VTime::from_unix_s(s).ms());
    format!(
        "jwt#{}{{sid={}{} sub={} iat={} exp={}{}}}",
        t.serial,
        t.sid,
        t.template.map(|n| format!(" template={n}")).unwrap_or_default(),
        t.sub,
        clock(t.iat),
        clock(t.exp),
        if t.pending { " sts=pending" } else { "" }
    )
}

/// One happening in short form, without its time.
pub fn short(h: &Happening) -> String {
    match h {
        Happening::Rendered { view, .. } => format!(
            "render {} loaded={} signed_in={} session={}",
            view.route,
            view.is_loaded,
            view.is_signed_in.map(|b| b.to_string()).unwrap_or_else(|| "undefined".into()),
            session_text(view.session)
        ),
        Happening::CallStarted { call, kind, instance: 0, .. } => {
            format!("{call} {} started", word(kind))
        }
        Happening::CallStarted { call, kind, instance, .. } => {
            format!("{call} {} started (instance {instance})", word(kind))
        }
        Happening::CallSettled { call, kind, result, .. } => {
            let r = match result {
                CallResult::Token { token } => claims(token),
                CallResult::Null => "null".into(),
                CallResult::Ok => "ok".into(),
                CallResult::Error { status, code } => format!("error {status} {code}"),
                CallResult::Killed => "killed".into(),
            };
            format!("{call} {} → {r}", word(kind))
        }
        Happening::RequestSent { req, endpoint, call, sid, template, .. } => format!(
            "{req} → {}{}{}{}",
            endpoint.as_str(),
            template.map(|t| format!("/{t}")).unwrap_or_default(),
            sid.map(|s| format!(" {s}")).unwrap_or_default(),
            call.map(|c| format!(" for {c}")).unwrap_or_default()
        ),
        Happening::RequestDone { req, endpoint, outcome, fault, .. } => {
            let o = match outcome {
                RequestOutcome::Answered { status, retry_after_ms: Some(ra) } => {
                    format!("{status} retry-after {}", format_duration(*ra))
                }
                RequestOutcome::Answered { status, .. } => status.to_string(),
                RequestOutcome::NetworkError { committed } => {
                    format!("network error{}", if *committed { " (committed)" } else { "" })
                }
            };
            format!(
                "{req} ← {} {o}{}",
                endpoint.as_str(),
                fault.map(|f| format!(" [fault {}]", f.name())).unwrap_or_default()
            )
        }
        Happening::BackendHit { call, attempt, token, status, .. } => format!(
            "backend {call} try {attempt} {} → {status}",
            token.as_ref().map(claims).unwrap_or_else(|| "no token".into())
        ),
        Happening::RetryScheduled { call, delay_ms, retry_after_ms, .. } => format!(
            "{call} retry in {}{}",
            format_duration(*delay_ms),
            retry_after_ms
                .map(|r| format!(" (retry-after {})", format_duration(r)))
                .unwrap_or_default()
        ),
        Happening::NativeCalled { .. }
        | Happening::NativeRequest { .. }
        | Happening::NativeSignedIn { .. } => {
            crate::model::vocab::native_calls::describe(h).expect("a native happening")
        }
        Happening::StorageWritten { key, len, digest, stored_digest, credential, .. } => format!(
            "store {} {len}B{}{}",
            key.as_str(),
            if digest != stored_digest { " TRUNCATED" } else { "" },
            if *credential { " credential" } else { "" }
        ),
        Happening::StorageRead { key, digest, .. } => {
            format!("read {} {}", key.as_str(), if digest.is_some() { "found" } else { "nothing" })
        }
        Happening::ClientTokenPresented { req, token, .. } => {
            format!("{req} presents {token}")
        }
        Happening::ClientTokenReceived { req, token, .. } => {
            format!("{req} received {token}")
        }
        Happening::StorageDeleted { key, .. } => format!("delete {}", key.as_str()),
        Happening::StorageFailed { op, key, error, .. } => {
            format!("{} {} failed: {}", op.as_str(), key.as_str(), error.as_str())
        }
        Happening::SignedOut { cause, server_revoke, .. } => format!(
            "signed out ({}){}",
            word(cause),
            if *server_revoke { " + server revoke" } else { "" }
        ),
        Happening::TimerFired { timer, due, at } => {
            let late = at.since(*due);
            if late > 0 {
                format!("timer {} (late {})", word(timer), format_duration(late))
            } else {
                format!("timer {}", word(timer))
            }
        }
    }
}

/// The routine shape of a happening (ids and times stripped), or `None` when it is notable.
fn routine(h: &Happening) -> Option<String> {
    let routine_endpoint = |e: &Endpoint| matches!(e, Endpoint::Tokens | Endpoint::Touch);
    match h {
        Happening::RequestSent { endpoint, .. } if routine_endpoint(endpoint) => {
            Some(format!("→ {}", endpoint.as_str()))
        }
        Happening::RequestDone {
            endpoint,
            outcome: RequestOutcome::Answered { status: 200, .. },
            fault: None,
            ..
        } if routine_endpoint(endpoint) => Some(format!("← {} 200", endpoint.as_str())),
        Happening::TimerFired { timer, .. } => Some(format!("timer {}", word(timer))),
        Happening::StorageWritten { key, digest, stored_digest, .. } if digest == stored_digest => {
            Some(format!("store {}", key.as_str()))
        }
        Happening::StorageRead { key, .. } => Some(format!("read {}", key.as_str())),
        // The native bootstrap's `getSession()` poll that finds nothing (every 100 ms, 3 s).
        Happening::NativeCalled { call: NativeCallName::GetSession, answer, .. }
            if answer == "none" =>
        {
            Some("native get_session → none".into())
        }
        _ => None,
    }
}

fn happened(hs: &[Happening]) -> Vec<String> {
    // Which client token each request carried is bookkeeping for
    // `superseded-token-never-presented`, not behaviour a reviewer reads: left out.
    let hs: Vec<&Happening> = hs
        .iter()
        .filter(|h| {
            !matches!(
                h,
                Happening::ClientTokenPresented { .. } | Happening::ClientTokenReceived { .. }
            )
        })
        .collect();
    let line = |h: &&Happening| format!("{} {}", format_clock(h.at().ms()), short(h));
    if hs.len() <= HAPPENINGS_LISTED_MAX {
        return hs.iter().map(line).collect();
    }
    let mut out = Vec::new();
    // shape → (count, first, last): BTreeMap so the summary order is stable.
    let mut counts: BTreeMap<String, (u32, VTime, VTime)> = BTreeMap::new();
    for h in &hs {
        match routine(h) {
            Some(shape) => {
                let entry = counts.entry(shape).or_insert((0, h.at(), h.at()));
                entry.0 += 1;
                entry.2 = h.at();
            }
            None => out.push(line(h)),
        }
    }
    for (shape, (n, first, last)) in counts {
        out.push(format!(
            "routine {n}× {shape} ({} … {})",
            format_clock(first.ms()),
            format_clock(last.ms())
        ));
    }
    out
}
