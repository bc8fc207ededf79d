//! The dev server's clock: the virtual time a request without `x-harness-virtual-time` is
//! applied at. `manual` stands still until the admin API moves it (for scripts);
//! `realtime[:SPEED]` follows the wall clock, optionally sped up (for a person watching an
//! app).
//!
//! This is the one place outside benchmarks that reads wall time: a dev server talks to a
//! real app whose device clock is real, so by default the virtual clock starts at the wall
//! clock's reading (tokens then carry `iat`/`exp` the device agrees with).

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::model::time::{DURATION_MS_MAX, VTime};

/// Fastest `realtime:SPEED`: a day of virtual time per wall second is already past any
/// session setting worth watching.
pub const SPEED_MAX: u32 = 86_400;

/// How the clock moves between admin calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum ClockMode {
    /// Virtual time moves only when told to (`POST /__harness/clock/advance`).
    Manual,
    /// Virtual time follows the wall clock, `speed` virtual ms per wall ms.
    Realtime { speed: u32 },
}

impl fmt::Display for ClockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockMode::Manual => f.write_str("manual"),
            ClockMode::Realtime { speed: 1 } => f.write_str("realtime"),
            ClockMode::Realtime { speed } => write!(f, "realtime:{speed}"),
        }
    }
}

/// Why a `--clock` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad clock mode `{input}`: {reason}; accepted: `manual`, `realtime`, `realtime:SPEED` (SPEED a whole number 1..={SPEED_MAX}, e.g. `realtime:60`)"
)]
pub struct ClockModeError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for ClockMode {
    type Err = ClockModeError;

    fn from_str(input: &str) -> Result<ClockMode, ClockModeError> {
        let err = |reason| ClockModeError { input: input.to_string(), reason };
        match input.trim() {
            "manual" => Ok(ClockMode::Manual),
            "realtime" => Ok(ClockMode::Realtime { speed: 1 }),
            other => {
                let Some(speed) = other.strip_prefix("realtime:") else {
                    return Err(err("unknown mode"));
                };
                let speed: u32 = speed.parse().map_err(|_| err("SPEED is not a whole number"))?;
                if !(1..=SPEED_MAX).contains(&speed) {
                    return Err(err("SPEED is out of range"));
                }
                Ok(ClockMode::Realtime { speed })
            }
        }
    }
}

/// Why a clock change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    #[error(
        "the clock only moves forward: {target_ms} ms is before the current {now_ms} ms \
         (tokens already issued would come from the future)"
    )]
    Backwards { now_ms: u64, target_ms: u64 },
    #[error("a single move of {ms} ms is longer than the limit of 10 years ({DURATION_MS_MAX} ms)")]
    TooFar { ms: u64 },
}

struct Anchor {
    virtual_at: VTime,
    wall_at: Instant,
}

/// The clock. Cheap to share behind an `Arc`; a std mutex, never held across an `.await`.
pub struct Clock {
    mode: ClockMode,
    anchor: Mutex<Anchor>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").field("mode", &self.mode).field("now", &self.now()).finish()
    }
}

impl Clock {
    /// A clock reading `start` now.
    pub fn new(mode: ClockMode, start: VTime) -> Clock {
        Clock { mode, anchor: Mutex::new(Anchor { virtual_at: start, wall_at: wall_now() }) }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The virtual instant now.
    pub fn now(&self) -> VTime {
        let anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        Self::read(self.mode, &anchor)
    }

    fn read(mode: ClockMode, anchor: &Anchor) -> VTime {
        match mode {
            ClockMode::Manual => anchor.virtual_at,
            ClockMode::Realtime { speed } => {
                let wall_ms = anchor.wall_at.elapsed().as_millis() as u64;
                anchor.virtual_at.plus(wall_ms.saturating_mul(speed as u64))
            }
        }
    }

    /// Moves the clock forward by `ms`; returns the new reading.
    pub fn advance(&self, ms: u64) -> Result<VTime, ClockError> {
        if ms > DURATION_MS_MAX {
            return Err(ClockError::TooFar { ms });
        }
        let mut anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        let now = Self::read(self.mode, &anchor).plus(ms);
        *anchor = Anchor { virtual_at: now, wall_at: wall_now() };
        Ok(now)
    }

    /// Sets the clock to `target`, which must not be in the past: the emulator has already
    /// issued tokens stamped with the current reading.
    pub fn set(&self, target: VTime) -> Result<VTime, ClockError> {
        let mut anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        let now = Self::read(self.mode, &anchor);
        if target < now {
            return Err(ClockError::Backwards { now_ms: now.ms(), target_ms: target.ms() });
        }
        if target.since(now) > DURATION_MS_MAX {
            return Err(ClockError::TooFar { ms: target.since(now) });
        }
        *anchor = Anchor { virtual_at: target, wall_at: wall_now() };
        Ok(target)
    }

    /// How long an injected latency of `virtual_ms` lasts on the wall clock: scaled down by
    /// the speed in realtime mode, as is (a person is waiting) in manual mode.
    pub fn wall_duration(&self, virtual_ms: u64) -> Duration {
        match self.mode {
            ClockMode::Manual => Duration::from_millis(virtual_ms),
            ClockMode::Realtime { speed } => Duration::from_millis(virtual_ms / speed as u64),
        }
    }
}

/// The virtual instant of the wall clock's current reading (the harness epoch if the wall
/// clock is before it).
pub fn wall_clock_vtime() -> VTime {
    #[allow(clippy::disallowed_methods, reason = "a dev server aligns its clock with the device's")]
    let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64);
    // Whole seconds: JWT claims are seconds, and a round start reads better in reports.
    VTime::from_unix_ms(unix_ms.unwrap_or(0) / 1000 * 1000)
}

fn wall_now() -> Instant {
    #[allow(clippy::disallowed_methods, reason = "realtime mode follows the wall clock")]
    Instant::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_back() {
        for (text, mode) in [
            ("manual", ClockMode::Manual),
            ("realtime", ClockMode::Realtime { speed: 1 }),
            ("realtime:60", ClockMode::Realtime { speed: 60 }),
        ] {
            assert_eq!(text.parse::<ClockMode>(), Ok(mode), "{text}");
            assert_eq!(mode.to_string(), text);
        }
        for bad in ["", "auto", "realtime:", "realtime:0", "realtime:1.5", "realtime:99999999"] {
            let err = bad.parse::<ClockMode>().expect_err(bad).to_string();
            assert!(err.contains("accepted: `manual`"), "{bad}: {err}");
        }
    }

    #[test]
    fn manual_clock_moves_only_forward_and_only_when_told() {
        let clock = Clock::new(ClockMode::Manual, VTime(1_000));
        assert_eq!(clock.now(), VTime(1_000));
        assert_eq!(clock.advance(500), Ok(VTime(1_500)));
        assert_eq!(clock.set(VTime(9_000)), Ok(VTime(9_000)));
        assert_eq!(
            clock.set(VTime(10)),
            Err(ClockError::Backwards { now_ms: 9_000, target_ms: 10 })
        );
        assert!(matches!(clock.advance(DURATION_MS_MAX + 1), Err(ClockError::TooFar { .. })));
        assert_eq!(clock.now(), VTime(9_000));
    }

    #[test]
    fn realtime_clock_runs_at_its_speed() {
        let clock = Clock::new(ClockMode::Realtime { speed: 1_000 }, VTime(0));
        std::thread::sleep(Duration::from_millis(20));
        // 20 wall ms at 1000x is at least 20 virtual seconds.
        assert!(clock.now() >= VTime(20_000), "{:?}", clock.now());
        assert_eq!(clock.wall_duration(5_000), Duration::from_millis(5));
    }
}
