//! Virtual time: the one clock's instants and the duration syntax (`30s`, `5m`, `1h30m`).
//!
//! Nothing here reads wall time. An instant is milliseconds since [`EPOCH_UNIX_MS`], a fixed
//! date, so session JWTs carry realistic `iat`/`exp` while every run starts from the same
//! clock reading.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The virtual clock's zero, as Unix milliseconds: 2026-01-01T00:00:00Z.
///
/// Fixed so that the same seed gives byte-identical tokens and traces on every machine.
pub const EPOCH_UNIX_MS: u64 = 1_767_225_600_000;

/// Longest duration a single `advance` may take: ten years, the longest session lifetime an
/// instance may configure (DESIGN.md §5). Longer values are almost certainly typos.
pub const DURATION_MS_MAX: u64 = 10 * 365 * DAY_MS;

pub const SECOND_MS: u64 = 1_000;
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// An instant on the virtual clock, in milliseconds since [`EPOCH_UNIX_MS`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct VTime(pub u64);

impl VTime {
    pub const ZERO: VTime = VTime(0);

    pub fn ms(self) -> u64 {
        self.0
    }

    pub fn plus(self, ms: u64) -> VTime {
        VTime(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: VTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Unix seconds, as JWT claims count them (floor).
    pub fn unix_s(self) -> u64 {
        self.unix_ms() / 1000
    }

    /// Unix milliseconds, as Clerk's JSON timestamps count them.
    pub fn unix_ms(self) -> u64 {
        // Saturating: an instant near `u64::MAX` (only reachable from bad input that a caller
        // failed to bound) reads as the end of time rather than panicking.
        EPOCH_UNIX_MS.saturating_add(self.0)
    }

    /// The virtual instant of a Unix-seconds claim (saturating at the epoch).
    pub fn from_unix_s(s: u64) -> VTime {
        // Saturating both ways: a token's `exp` is input (up to `u64::MAX`), and an `exp`
        // past the end of `u64` milliseconds is simply "far in the future".
        VTime(s.saturating_mul(1000).saturating_sub(EPOCH_UNIX_MS))
    }

    pub fn from_unix_ms(ms: u64) -> VTime {
        VTime(ms.saturating_sub(EPOCH_UNIX_MS))
    }
}

impl fmt::Display for VTime {
    /// `t=5m30.000s` style, the form reports use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_clock(self.0))
    }
}

/// Formats an instant as `[Nd][Nh][Nm]S.mmms`, e.g. `5m30.000s`, `2d3h0m0.000s`.
pub fn format_clock(ms: u64) -> String {
    let days = ms / DAY_MS;
    let hours = (ms % DAY_MS) / HOUR_MS;
    let minutes = (ms % HOUR_MS) / MINUTE_MS;
    let seconds = (ms % MINUTE_MS) / SECOND_MS;
    let millis = ms % SECOND_MS;
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    if days > 0 || hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if days > 0 || hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{seconds}.{millis:03}s"));
    out
}

/// Formats a duration in the shortest exact form the parser accepts: `1500ms`, `30s`, `1h30m`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let units = [("d", DAY_MS), ("h", HOUR_MS), ("m", MINUTE_MS), ("s", SECOND_MS), ("ms", 1)];
    let mut rest = ms;
    let mut out = String::new();
    for (suffix, size) in units {
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, suffix));
            rest %= size;
        }
    }
    out
}

/// Why a duration string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; expected e.g. `250ms`, `30s`, `5m`, `2h`, `7d` or `1h30m`")]
    Empty,
    #[error(
        "bad duration `{input}`: {reason}; expected digits followed by a unit (ms, s, m, h, d), \
         e.g. `250ms`, `30s`, `1h30m`"
    )]
    Malformed { input: String, reason: String },
    #[error("duration `{input}` is longer than the limit of 10 years")]
    TooLong { input: String },
}

/// Digits as a number; `None` when it does not fit in a `u128` (far past any limit).
fn parse_digits(digits: &str) -> Option<u128> {
    debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "the caller split on digits");
    digits.parse().ok()
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`, `1h30m`, `1.5s` into milliseconds.
///
/// A unit is required: a bare `30` is ambiguous (seconds? milliseconds?) and is rejected.
pub fn parse_duration(input: &str) -> Result<u64, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let malformed = |reason: &str| DurationError::Malformed {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(malformed("a number must come before each unit"));
        }
        let number = &text[start..i];
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &text[unit_start..i];
        let unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => SECOND_MS as u128,
            "m" => MINUTE_MS as u128,
            "h" => HOUR_MS as u128,
            "d" => DAY_MS as u128,
            "" => return Err(malformed("missing unit")),
            other => return Err(malformed(&format!("unknown unit `{other}`"))),
        };
        // Checked throughout: a number of any length must end in `TooLong`, never in an
        // overflow (a panic in debug builds, a silent wrap in release builds).
        let too_long = || DurationError::TooLong { input: input.to_string() };
        let value: u128 = if let Some((whole, frac)) = number.split_once('.') {
            if whole.is_empty() || frac.is_empty() || frac.contains('.') {
                return Err(malformed("bad decimal number"));
            }
            let whole = parse_digits(whole).ok_or_else(too_long)?;
            let scale = 10u128.pow(frac.len().min(9) as u32);
            let frac_digits = &frac[..frac.len().min(9)];
            let frac: u128 = frac_digits.parse().map_err(|_| malformed("bad decimal number"))?;
            let exact = whole
                .checked_mul(unit_ms * scale)
                .and_then(|w| w.checked_add(frac * unit_ms))
                .ok_or_else(too_long)?;
            if exact % scale != 0 {
                return Err(malformed("finer than a millisecond"));
            }
            exact / scale
        } else {
            parse_digits(number).and_then(|n| n.checked_mul(unit_ms)).ok_or_else(too_long)?
        };
        total = total.checked_add(value).ok_or_else(too_long)?;
        if total > DURATION_MS_MAX as u128 {
            return Err(too_long());
        }
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_compounds() {
        let cases = [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("7d", 7 * DAY_MS),
            ("1h30m", 5_400_000),
            ("1.5s", 1_500),
            ("0s", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text), Ok(ms), "{text}");
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms), "round trip {text}");
        }
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        for bad in ["", "30", "s", "5x", "1.s", "1.0005s", "20y", "99999999999d"] {
            let err = parse_duration(bad).expect_err(bad).to_string();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }

    /// Issue 19: `advance: 1000000000000000000000000000000000000d` overflowed a `u128`.
    #[test]
    fn huge_numbers_are_too_long_never_an_overflow() {
        let huge = "9".repeat(60);
        for bad in [
            "1000000000000000000000000000000000000d".to_string(),
            format!("{huge}ms"),
            format!("{huge}.5d"),
            "340282366920938463463374607431768211455ms".to_string(),
            "3650d3650d".to_string(),
            "1d".repeat(10_000),
        ] {
            assert!(
                matches!(parse_duration(&bad), Err(DurationError::TooLong { .. })),
                "{bad}: {:?}",
                parse_duration(&bad)
            );
        }
        assert_eq!(parse_duration("3650d"), Ok(DURATION_MS_MAX));
        // A fraction past nanoseconds is cut, then refused as finer than a millisecond.
        assert!(parse_duration(&format!("1.{huge}d")).is_err());
    }

    #[test]
    fn extreme_instants_saturate() {
        assert_eq!(VTime(u64::MAX).unix_ms(), u64::MAX);
        assert_eq!(VTime::from_unix_s(u64::MAX), VTime(u64::MAX - EPOCH_UNIX_MS));
        assert_eq!(VTime::from_unix_s(0), VTime::ZERO);
    }

    #[test]
    fn rejects_bad_durations_with_reasons_again() {
        for bad in ["1h30", "1..5s", ".5s"] {
            let err = parse_duration(bad).expect_err(bad).to_string();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn clock_format_reads_like_a_report() {
        assert_eq!(format_clock(330_000), "5m30.000s");
        assert_eq!(format_clock(1_500), "1.500s");
        assert_eq!(format_clock(DAY_MS + 3 * HOUR_MS), "1d3h0m0.000s");
    }
}
