//! The defect matrix in `cargo test`: with a fixed seed, the fuzzer catches every defect of
//! the catalogue unaided, each with a shrunk counterexample of at most eight steps. A defect
//! that stops being caught fails here.
//!
//! One test per defect, so that a test runner that runs tests in parallel and stops at the
//! first failure (nextest, which `cargo xtask mutants` uses) spreads the hunts over every core
//! and stops a mutant at the first defect it hides. The median time to catch (under a second)
//! is a wall-clock figure, so it is judged by `cargo xtask defects`, which CI runs, not here.
//!
//! `cargo xtask defects [--json]` prints the whole matrix; `DEFECTS_SEED=<seed>` tries
//! another seed here.

use session_harness::model::vocab::Defect;
use session_harness::sdk::hunt::{self, SHRUNK_STEPS_GOOD};
use session_harness::sim::{format_seed, parse_seed};

/// The fixed seed CI hunts with.
const SEED: u64 = 0xdefec7;
/// Cases one defect may take before it counts as not caught (as `cargo xtask defects`).
const CASES_MAX: u64 = 20_000;

/// Hunts `defect` unaided and fails unless it is caught with a short counterexample.
fn caught_unaided(defect: Defect) {
    let seed = std::env::var("DEFECTS_SEED")
        .ok()
        .map(|s| parse_seed(&s).expect("DEFECTS_SEED is a seed"))
        .unwrap_or(SEED);
    let catch = hunt::hunt(defect, seed, CASES_MAX);
    let replay = format!(
        "replay: DEFECTS_SEED={} cargo test --test defects_matrix {}",
        format_seed(seed),
        defect.as_str().replace('-', "_")
    );
    assert!(catch.caught, "{defect} not caught in {CASES_MAX} cases\n  {replay}");
    assert!(!catch.invariants.is_empty(), "{defect}: a catch names its invariants");
    assert!(
        catch.shrunk_steps() <= SHRUNK_STEPS_GOOD,
        "{defect}: shrunk counterexample has {} steps (at most {SHRUNK_STEPS_GOOD}): {}\n  {replay}",
        catch.shrunk_steps(),
        catch.shrunk.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "),
    );
}

/// One `#[test]` per defect, and the list they cover.
macro_rules! per_defect {
    ($($name:ident: $variant:ident,)*) => {
        $(
            #[test]
            fn $name() {
                caught_unaided(Defect::$variant);
            }
        )*
        /// Each test's name and the defect it hunts.
        const TESTED: &[(&str, Defect)] = &[$((stringify!($name), Defect::$variant)),*];
    };
}

per_defect! {
    ios_native_cache_wipe: IosNativeCacheWipe,
    signout_while_loading: SignoutWhileLoading,
    stale_timer_logout: StaleTimerLogout,
    no_single_flight: NoSingleFlight,
    redirect_before_loaded: RedirectBeforeLoaded,
    pending_to_sign_in: PendingToSignIn,
    revoked_ignored: RevokedIgnored,
    retry_401_loop: Retry401Loop,
    memory_only_tokens: MemoryOnlyTokens,
    securestore_truncation: SecurestoreTruncation,
    null_offline_logout: NullOfflineLogout,
    no_foreground_refresh: NoForegroundRefresh,
    empty_client_clobber: EmptyClientClobber,
    token_cache_deletes_on_read_error: TokenCacheDeletesOnReadError,
    locked_read_as_absent: LockedReadAsAbsent,
    corrupt_read_stalls_load: CorruptReadStallsLoad,
    storage_read_no_timeout: StorageReadNoTimeout,
    signout_keeps_credential: SignoutKeepsCredential,
    offline_start_gives_up: OfflineStartGivesUp,
    refresh_loop_per_resume: RefreshLoopPerResume,
    timer_only_expiry: TimerOnlyExpiry,
    no_request_timeout: NoRequestTimeout,
    load_waits_for_online_edge: LoadWaitsForOnlineEdge,
    expiry_from_device_clock: ExpiryFromDeviceClock,
    refresh_stops_on_background_event: RefreshStopsOnBackgroundEvent,
    native_token_overwrites_js: NativeTokenOverwritesJs,
    template_never_expires: TemplateNeverExpires,
    unauthenticated_adopts_native: UnauthenticatedAdoptsNative,
    android_requires_native_module: AndroidRequiresNativeModule,
    token_cache_unbound_methods: TokenCacheUnboundMethods,
    refresh_error_removes_session: RefreshErrorRemovesSession,
}

#[test]
fn every_defect_of_the_catalogue_has_its_test() {
    let missing: Vec<&str> = Defect::ALL
        .iter()
        .filter(|d| !TESTED.iter().any(|(_, t)| t == *d))
        .map(|d| d.as_str())
        .collect();
    assert!(missing.is_empty(), "add to per_defect! in defects_matrix.rs: {missing:?}");
    // Each test is named after the defect it hunts, so a failure's name is the defect's.
    for (name, defect) in TESTED {
        let expected = defect.as_str().replace('-', "_");
        assert_eq!(*name, expected, "the test of {defect} is named `{name}`");
    }
}
