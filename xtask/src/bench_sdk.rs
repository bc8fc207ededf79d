//! Speed figures of the reference SDK, for `cargo xtask bench`.
//!
//! - `lockstep_events_per_sec`: generated traces (both profiles, waits clamped to 5 s as in
//!   the race mix) driven through the model *and* the reference SDK with its in-process FAPI
//!   emulator, compared at every step, on one paused current-thread runtime — the lockstep
//!   loop of `cargo test` without the invariant checks;
//! - `virtual_seconds_per_wall_second`: a seven-day soak trace (daily use: short foreground
//!   sessions with API calls and token reads, long backgrounds, nights away) through the same
//!   lockstep loop: how much virtual time one wall second covers.
//!
//! Each figure runs for a fixed wall-clock budget: benchmarks are the one place the wall clock
//! is the point.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use session_harness::generate;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};
use session_harness::model::vocab::{AppPath, AppState, Event, Platform};
use session_harness::runner::lockstep::run_lockstep;
use session_harness::sdk::ReferenceSdk;
use session_harness::sim::case_seed;

/// Wall-clock time each figure is measured for.
const BUDGET: Duration = Duration::from_millis(1_500);

pub fn figures() -> Result<Vec<(&'static str, f64)>> {
    Ok(vec![
        ("lockstep_events_per_sec", lockstep_events_per_sec()?),
        ("virtual_seconds_per_wall_second", soak()?),
    ])
}

/// Generated traces with every wait clamped to 5 s: a step is one event and what falls due
/// within seconds of it.
fn race_mix() -> Vec<(Setup, Vec<Event>)> {
    (0..100)
        .flat_map(|i| {
            ProfileId::ALL.map(|p| {
                let case = generate::case_from_seed(
                    p,
                    generate::TRACE_STEPS_DEFAULT,
                    case_seed(0xbe4c, i),
                );
                let events = generate::interpret(&case, None)
                    .events()
                    .into_iter()
                    .map(|e| match e {
                        Event::Advance { ms } => Event::Advance { ms: ms.min(5 * SECOND_MS) },
                        e => e,
                    })
                    .collect();
                (case.setup, events)
            })
        })
        .collect()
}

/// Runs `traces` in lockstep on one runtime; returns (events, whether all agreed).
fn lockstep(traces: &[(Setup, Vec<Event>)]) -> (u64, bool) {
    let rt = ReferenceSdk::runtime();
    rt.block_on(async {
        let mut events_run = 0;
        let mut agreed = true;
        for (setup, events) in traces {
            let mut sdk = ReferenceSdk::new(*setup, &[]);
            let (_, _, divergence, broken) = run_lockstep(*setup, &mut sdk, events, None).await;
            agreed &= divergence.is_none() && broken.is_none();
            events_run += events.len() as u64;
        }
        (events_run, agreed)
    })
}

fn lockstep_events_per_sec() -> Result<f64> {
    let traces = race_mix();
    let started = Instant::now();
    let mut events = 0;
    while started.elapsed() < BUDGET {
        let (n, agreed) = lockstep(&traces);
        if !agreed {
            bail!("the reference SDK diverged from the model on the bench traces");
        }
        events += n;
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// Seven days of an app in daily use.
pub fn soak_trace() -> Vec<Event> {
    let api = |path: &str| Event::ApiCall { path: AppPath::new(path) };
    let mut events = vec![
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
        Event::SignIn { task: None },
        Event::Advance { ms: SECOND_MS },
    ];
    let mut elapsed = 2 * SECOND_MS;
    for day in 0..7 {
        // Sixteen waking hours: a few minutes of use, then the phone goes in a pocket.
        for hour in 0..16 {
            events.push(Event::AppState { state: AppState::Active });
            for minute in 0..5 {
                events.push(api(["/home", "/orders/42", "/checkout"][(hour + minute) % 3]));
                events.push(Event::GetToken { skip_cache: false, template: None });
                events.push(Event::Advance { ms: MINUTE_MS });
            }
            events.push(Event::AppState { state: AppState::Background });
            events.push(Event::Advance { ms: HOUR_MS - 5 * MINUTE_MS });
            elapsed += HOUR_MS;
        }
        // The night: killed by the OS, relaunched in the morning.
        events.push(Event::Kill);
        let morning = (day + 1) * DAY_MS;
        events.push(Event::Advance { ms: morning.saturating_sub(elapsed) });
        elapsed = morning;
        events.push(Event::ColdStart);
        events.push(Event::Advance { ms: 5 * SECOND_MS });
        elapsed += 5 * SECOND_MS;
    }
    events
}

fn soak() -> Result<f64> {
    let events = soak_trace();
    let virtual_ms: u64 = events
        .iter()
        .map(|e| match e {
            Event::Advance { ms } => *ms,
            _ => 0,
        })
        .sum();
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    // A 30-day session, so the soak is a week of use, not a week ending in an expiry.
    setup.instance.max_lifetime_ms = Some(30 * DAY_MS);
    let traces = vec![(setup, events)];
    let started = Instant::now();
    let mut runs = 0u64;
    while started.elapsed() < BUDGET {
        let (_, agreed) = lockstep(&traces);
        if !agreed {
            bail!("the reference SDK diverged from the model on the soak trace");
        }
        runs += 1;
    }
    Ok(runs as f64 * virtual_ms as f64 / 1000.0 / started.elapsed().as_secs_f64())
}
