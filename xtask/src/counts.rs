//! Parsing the counts commands take (`--cases`, `--steps`), with the limits of docs/LIMITS.md
//! enforced before any work starts: a count past its limit is a precise error, never a
//! capacity overflow or an arithmetic overflow deep inside a campaign.

/// Most cases one command runs per profile. A campaign at this size takes days on one
/// machine; shard it (`fuzz --shard K/N`) rather than raising it. Keeps every product of a
/// case count (shards, profiles, progress totals) far inside `u64`.
pub const CASES_MAX: u64 = 100_000_000;

/// Longest generated trace, in events (the generator's own limit).
pub const STEPS_MAX: usize = 10_000;

/// `--cases N`: a whole number in `0..=CASES_MAX` (commands needing at least one say so).
pub fn parse_cases(text: &str) -> Result<u64, String> {
    let n: u64 = text.trim().parse().map_err(|_| {
        format!("bad case count `{text}`: expected a whole number in 0..={CASES_MAX}")
    })?;
    if n > CASES_MAX {
        return Err(format!(
            "{n} cases is more than the limit of {CASES_MAX} per command; split the run with \
             `--shard K/N` or several seeds"
        ));
    }
    Ok(n)
}

/// `--steps N`: a whole number in `1..=STEPS_MAX`.
pub fn parse_steps(text: &str) -> Result<usize, String> {
    let bad = || format!("bad step count `{text}`: expected a whole number in 1..={STEPS_MAX}");
    let n: usize = text.trim().parse().map_err(|_| bad())?;
    if !(1..=STEPS_MAX).contains(&n) {
        return Err(bad());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19: `--cases 18446744073709551615` was a capacity-overflow panic.
    #[test]
    fn counts_past_their_limits_are_refused_with_the_limit() {
        assert_eq!(parse_cases("10000"), Ok(10_000));
        assert_eq!(parse_cases("0"), Ok(0));
        assert_eq!(parse_cases(&CASES_MAX.to_string()), Ok(CASES_MAX));
        for bad in ["18446744073709551615", "100000001"] {
            let err = parse_cases(bad).expect_err(bad);
            assert!(err.contains("limit of 100000000"), "{bad}: {err}");
        }
        for bad in ["-1", "1e6", "", "99999999999999999999999"] {
            let err = parse_cases(bad).expect_err(bad);
            assert!(err.contains("bad case count"), "{bad}: {err}");
        }
        assert_eq!(parse_steps("60"), Ok(60));
        for bad in ["0", "10001", "18446744073709551615", "x"] {
            assert!(parse_steps(bad).expect_err(bad).contains("1..=10000"), "{bad}");
        }
    }
}
