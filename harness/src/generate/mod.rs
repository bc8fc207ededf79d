//! State-aware random traces for proptest and fuzz campaigns.
//!
//! proptest generates raw material — a setup and a list of [`Choice`]s — and [`interpret`]
//! turns it into events while running the model world, so each choice picks among the events
//! that make sense *now* (weighted: a signed-out app mostly signs in, a backgrounded one
//! mostly waits or comes back), with some arbitrary events mixed in. Shrinking the raw
//! material (fewer choices, smaller numbers) shrinks the trace.
//!
//! Durations are log-uniform with integer arithmetic only, so a seed gives the same trace on
//! every machine: the exponent is uniform, then the value uniform within its power of two.
//! - short waits (`advance`, weight 10 in every state): 1 ms to 2¹⁷ ms (~131 s);
//! - long waits (weight 3, 4 in the background): 1 ms to 2²² ms (~70 min) while the app is in
//!   the foreground, 1 ms to 2³¹ ms (~25 days) while it is backgrounded or not running;
//!
//! So about one foreground wait in ten outlasts a token (60 s), and only long waits in the
//! background reach days.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::model::World;
use crate::model::profile::ProfileId;
use crate::model::settings::{
    InstanceSettings, NativeVariant, NetSettings, ReuseGrace, ReusePolicy, SdkSettings, Setup,
    TokenCacheKind, TokenReuse,
};
use crate::model::templates::{TemplateSpec, Templates};
use crate::model::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};
use crate::model::vocab::{
    AppPath, AppState, AppStateFaultKind, AppStateFaultSpec, Endpoint, Event, FaultKind, FaultSpec,
    KeychainAccessible, LargeValues, Network, Platform, Route, StorageFaultKind, StorageFaultSpec,
    StorageKey, StorageOp, TaskKey, TemplateName,
};
use crate::sim::SeedRng;
use crate::trace::{Trace, TraceStep};

/// Default longest trace a generated case has.
pub const TRACE_STEPS_DEFAULT: usize = 60;

/// One unit of raw material: which event among those weighted for the current state, and a
/// parameter for it (duration, path, fault …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub pick: u16,
    pub param: u64,
}

/// A generated case before interpretation.
#[derive(Clone, Debug)]
pub struct Case {
    pub setup: Setup,
    pub choices: Vec<Choice>,
}

/// Paths the app has; `/checkout` is the article's mid-transaction screen.
pub const PATHS: [&str; 4] = ["/home", "/checkout", "/orders/42", "/settings"];

/// Short waits (the most weighted event in every state) are log-uniform from 1 ms to
/// 2¹⁷ ms (~131 s): the span of a request, a retry schedule or one token lifetime. (They once
/// took their exponent from the parameter's high bits too, and a "short" wait could last days.)
const SHORT_EXPONENTS: u64 = 17;

/// While the app is in the foreground, waits stop at 2²² ms (~70 min): a foreground app
/// refreshes every ~45 s, so a week in the foreground is 13 000 refresh round trips in one
/// step and tests nothing a background week does not. Backgrounded or killed apps wait up to
/// weeks.
const FOREGROUND_EXPONENTS: u64 = 22;

/// Picks above this are "arbitrary": any event at all, enabled or not (~6%).
const ARBITRARY_PICK_MIN: u16 = 0xF000;

fn choice() -> impl Strategy<Value = Choice> {
    (any::<u16>(), any::<u64>()).prop_map(|(pick, param)| Choice { pick, param })
}

/// Setups the fuzzer explores for `profile` on `platform`s: mostly defaults, sometimes the
/// resource cache, a memory token cache, an inactivity timeout, the session minter,
/// multi-session mode, a short maximum lifetime, a token-reuse policy other than Clerk's, or
/// a second SDK instance.
pub fn setup_strategy(profile: ProfileId) -> impl Strategy<Value = Setup> {
    (any::<bool>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(move |(ios, a, b, c)| {
        let platform = if ios { Platform::Ios } else { Platform::Android };
        let sdk = SdkSettings {
            token_cache: if a % 16 == 0 {
                TokenCacheKind::Memory
            } else {
                TokenCacheKind::SecureStore
            },
            resource_cache: a % 4 == 1,
            // Sometimes an app with @clerk/expo's native module (the config plugin).
            native: (c / 8) % 6 == 2,
            treat_pending_as_signed_out: a % 8 != 3,
            // Sometimes an app's own token cache with expo-secure-store's default class.
            keychain_accessible: if c % 5 == 2 {
                KeychainAccessible::WhenUnlocked
            } else {
                KeychainAccessible::AfterFirstUnlock
            },
            // Sometimes AppState events that reach JS late.
            app_state_delay_ms: if a % 7 == 5 { 2 * SECOND_MS } else { 0 },
            // Sometimes a platform that handles values over its item limit another way.
            large_values: match c % 11 {
                3 => Some(LargeValues::Throw),
                7 => Some(LargeValues::FailOnRead),
                9 => Some(LargeValues::Store),
                _ => None,
            },
            // Today's native build: a named variant is an old release's bug, for scenarios.
            native_variant: NativeVariant::Current,
            // A quarter of the `clerk-js-6` setups run a second, headless SDK instance over
            // the same storage (a second provider, a share extension, a background task).
            // The article's contract (`documented`) is about one instance: under it two
            // instances over one store where the last write wins break its guarantees
            // without any defect (one instance's late sign-out deletes the credential the
            // other just stored: `transient-never-signs-out`; two clients made at a first
            // launch: `eventually-signed-in`), so its campaigns leave them out.
            instances: if profile == ProfileId::ClerkJs6 && (b >> 4) % 4 == 1 { 2 } else { 1 },
        };
        let instance = InstanceSettings {
            inactivity_timeout_ms: (b % 4 == 0).then_some(30 * MINUTE_MS),
            max_lifetime_ms: Some(if b % 5 == 1 { 2 * HOUR_MS } else { 7 * DAY_MS }),
            multi_session: c % 6 == 0,
            session_minter: c % 3 == 1,
            // Sometimes a token-reuse policy other than Clerk's: a grace in time, reuse
            // detection that revokes the family.
            token_reuse: match b % 13 {
                2 => TokenReuse {
                    policy: ReusePolicy::NewClient,
                    grace: ReuseGrace::WindowMs(10 * SECOND_MS),
                },
                5 => TokenReuse {
                    policy: ReusePolicy::RevokeFamily,
                    grace: ReuseGrace::WindowMs(10 * SECOND_MS),
                },
                8 => {
                    TokenReuse { policy: ReusePolicy::RevokeFamily, grace: TokenReuse::CLERK.grace }
                }
                11 => TokenReuse {
                    policy: ReusePolicy::NewClient,
                    grace: ReuseGrace::WindowMs(2 * MINUTE_MS),
                },
                _ => TokenReuse::CLERK,
            },
            // Sometimes JWT templates (one long-lived, one shorter than a refresh cycle), so
            // that `get_token { template }` joins the menu.
            templates: if (a >> 5) % 2 == 1 { generated_templates() } else { Templates::default() },
            ..InstanceSettings::default()
        };
        // Sometimes a connectivity listener that reports changes only.
        let net = NetSettings { connectivity_initial: b % 6 != 5, ..NetSettings::default() };
        Setup { platform, profile, sdk, instance, net }
    })
}

/// The templates of a generated instance: `supabase` (1 h) and `convex` (30 s, Clerk's
/// shortest, so it dies between refreshes and while the app is away).
fn generated_templates() -> Templates {
    let spec = |lifetime_ms, aud: &str| TemplateSpec {
        lifetime_ms,
        claims: [("aud".to_string(), aud.to_string())].into(),
    };
    let specs = [
        ("supabase".to_string(), spec(HOUR_MS, "supabase")),
        ("convex".to_string(), spec(30 * SECOND_MS, "convex")),
    ];
    Templates::from_specs(&specs.into()).expect("the generated templates are within limits")
}

/// A template for `get_token { template }`: one of the instance's, or (one time in nine) one
/// it lacks, answered 404.
fn template_name(param: u64, templates: &Templates) -> TemplateName {
    let names: Vec<TemplateName> = templates.iter().map(|t| t.name).collect();
    let i = (param % 9) as usize;
    match names.get(i % names.len().max(1)) {
        Some(name) if i < 8 => *name,
        _ => {
            TemplateName::parse("hasura").expect("a valid template name, on no generated instance")
        }
    }
}

/// The strategy of whole cases.
pub fn case_strategy(profile: ProfileId, steps_max: usize) -> impl Strategy<Value = Case> {
    (setup_strategy(profile), prop::collection::vec(choice(), 1..=steps_max))
        .prop_map(|(setup, choices)| Case { setup, choices })
}

/// The case a campaign seed gives, without proptest's runner loop: the same generator,
/// driven by a ChaCha stream seeded from `seed`.
pub fn case_from_seed(profile: ProfileId, steps_max: usize, seed: u64) -> Case {
    let bytes = SeedRng::new(seed).fork("gen.case").seed_bytes();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    case_strategy(profile, steps_max)
        .new_tree(&mut runner)
        .expect("the case strategy never rejects")
        .current()
}

/// Log-uniform duration from 1 ms to 2³¹ ms (~25 days), integers only.
pub fn log_uniform_ms(param: u64) -> u64 {
    log_uniform_capped_ms(param, 31)
}

/// Log-uniform duration from 1 ms to 2^`exponents` ms.
pub fn log_uniform_capped_ms(param: u64, exponents: u64) -> u64 {
    let exponent = param % exponents;
    let base = 1u64 << exponent;
    base + (param >> 8) % base
}

fn path(param: u64) -> AppPath {
    AppPath::new(PATHS[(param % PATHS.len() as u64) as usize])
}

fn fault(param: u64) -> FaultSpec {
    let kinds = [
        FaultKind::ServerError { status: [500, 502, 503][(param >> 8) as usize % 3] },
        FaultKind::RateLimited {
            retry_after_ms: [1, 5, 30][(param >> 8) as usize % 3] * SECOND_MS,
        },
        FaultKind::Unauthorized,
        FaultKind::MissingExpiredToken,
        FaultKind::DropBeforeCommit,
        FaultKind::DropAfterCommit,
        FaultKind::Latency { ms: [200, 2_000, 12_000][(param >> 8) as usize % 3] },
    ];
    let kind = kinds[(param % kinds.len() as u64) as usize];
    let on = match (param >> 16) % 4 {
        0 => Some(Endpoint::Tokens),
        1 => Some(Endpoint::GetClient),
        _ => None,
    };
    FaultSpec { kind, count: 1 + ((param >> 24) % 3) as u32, on }
}

#[derive(Clone, Copy)]
enum Template {
    AdvanceShort,
    AdvanceLong,
    ColdStart,
    Kill,
    JsReload,
    Reinstall,
    Foreground,
    Background,
    Inactive,
    Offline,
    Online,
    SignIn,
    SignInPending,
    CompleteTask,
    GetToken,
    GetTokenSkip,
    /// `get_token { template }`, only on instances with templates, and never among the
    /// arbitrary events (so campaigns without templates draw exactly what they drew before).
    GetTemplateToken,
    ApiCall,
    Navigate,
    SessionEnd,
    SessionRemove,
    SignOut,
    SetActive,
    Revoke,
    ExpireNow,
    AbandonNow,
    Replace,
    Fault,
    StorageFault,
    ClearFaults,
    LockDevice,
    UnlockDevice,
    Reboot,
    BackgroundWake,
    RestoreBackup,
    DeviceSleep,
    Hanging,
    ClockSkew,
    AppStateFault,
    NativeSignIn,
    /// An SDK event addressed to a headless instance, only on setups with more than one, and
    /// never among the arbitrary events (so one-instance campaigns draw what they drew
    /// before).
    Headless,
}

const ALL_TEMPLATES: [Template; 39] = [
    Template::AdvanceShort,
    Template::AdvanceLong,
    Template::ColdStart,
    Template::Kill,
    Template::JsReload,
    Template::Reinstall,
    Template::Foreground,
    Template::Background,
    Template::Inactive,
    Template::Offline,
    Template::Online,
    Template::SignIn,
    Template::SignInPending,
    Template::CompleteTask,
    Template::GetToken,
    Template::GetTokenSkip,
    Template::ApiCall,
    Template::Navigate,
    Template::SessionEnd,
    Template::SessionRemove,
    Template::SignOut,
    Template::SetActive,
    Template::Revoke,
    Template::ExpireNow,
    Template::AbandonNow,
    Template::Replace,
    Template::Fault,
    Template::StorageFault,
    Template::ClearFaults,
    Template::LockDevice,
    Template::UnlockDevice,
    Template::Reboot,
    Template::BackgroundWake,
    Template::RestoreBackup,
    Template::DeviceSleep,
    Template::Hanging,
    Template::ClockSkew,
    Template::AppStateFault,
    Template::NativeSignIn,
];

/// What a headless instance is asked to do, weighted: mostly tokens (on demand and forced) and
/// API calls, the work a share extension or a background task does; sometimes its own
/// sign-in, sign-out, session end or removal, switch or task, racing the UI's.
const HEADLESS_STEPS: [(u64, Template); 9] = [
    (4, Template::GetToken),
    (1, Template::GetTokenSkip),
    (4, Template::ApiCall),
    (2, Template::SignIn),
    (2, Template::SignOut),
    (2, Template::SetActive),
    (2, Template::SessionEnd),
    (1, Template::SessionRemove),
    (1, Template::CompleteTask),
];

/// An event for headless instance 1 ..= `instances - 1`: its kind from the low bits of
/// `param`, its own parameters from the rest.
fn headless(param: u64, instances: u8, templates: &Templates) -> Event {
    let n = 1 + (param % u64::from(instances.max(2) - 1)) as u8;
    let param = param >> 2;
    let total: u64 = HEADLESS_STEPS.iter().map(|(w, _)| w).sum::<u64>();
    let mut target = param % total;
    let mut step = Template::GetToken;
    for (w, t) in HEADLESS_STEPS {
        if target < w {
            step = t;
            break;
        }
        target -= w;
    }
    let step = instantiate(step, param >> 5, true, templates, instances);
    Event::Instance { n, step: Box::new(step) }
}

fn instantiate(
    t: Template,
    param: u64,
    foreground: bool,
    templates: &Templates,
    instances: u8,
) -> Event {
    let exponents = if foreground { FOREGROUND_EXPONENTS } else { 31 };
    match t {
        Template::AdvanceShort => {
            Event::Advance { ms: log_uniform_capped_ms(param, SHORT_EXPONENTS) }
        }
        Template::AdvanceLong => Event::Advance { ms: log_uniform_capped_ms(param, exponents) },
        Template::ColdStart => Event::ColdStart,
        Template::Kill => Event::Kill,
        Template::JsReload => Event::JsReload,
        Template::Reinstall => Event::Reinstall,
        Template::Foreground => Event::AppState { state: AppState::Active },
        Template::Background => Event::AppState { state: AppState::Background },
        Template::Inactive => Event::AppState { state: AppState::Inactive },
        Template::Offline => Event::Network { state: Network::Offline },
        Template::Online => Event::Network { state: Network::Online },
        Template::Hanging => Event::Network { state: Network::Hanging },
        Template::AppStateFault => {
            let kind = match param % 4 {
                0 => AppStateFaultKind::Drop,
                1 => AppStateFaultKind::Duplicate,
                2 => AppStateFaultKind::Reorder,
                _ => AppStateFaultKind::Delay { ms: log_uniform_capped_ms(param >> 2, 16).max(1) },
            };
            Event::AppStateFault(AppStateFaultSpec { kind, count: 1 + ((param >> 24) % 2) as u32 })
        }
        // Back in step one time in eight; else up to ~9 h either way, log-uniform.
        Template::ClockSkew => {
            let ms =
                if param.is_multiple_of(8) { 0 } else { log_uniform_capped_ms(param >> 4, 25) };
            let ahead = (param >> 3).is_multiple_of(2);
            Event::ClockSkew { ms: if ahead { ms as i64 } else { -(ms as i64) } }
        }
        Template::SignIn => Event::SignIn { task: None },
        Template::NativeSignIn => Event::NativeSignIn,
        Template::SignInPending => Event::SignIn { task: Some(TaskKey::ALL[(param % 3) as usize]) },
        Template::CompleteTask => Event::CompleteTask,
        Template::GetToken => Event::GetToken { skip_cache: false, template: None },
        Template::GetTokenSkip => Event::GetToken { skip_cache: true, template: None },
        Template::GetTemplateToken => Event::GetToken {
            skip_cache: (param >> 12).is_multiple_of(5),
            template: Some(template_name(param, templates)),
        },
        Template::ApiCall => Event::ApiCall { path: path(param) },
        Template::Navigate => Event::Navigate { path: path(param) },
        Template::SessionEnd => Event::SessionEnd,
        Template::SessionRemove => Event::SessionRemove,
        Template::SignOut => Event::SignOut,
        Template::SetActive => Event::SetActive,
        Template::Revoke => Event::Revoke,
        Template::ExpireNow => Event::ExpireNow,
        Template::AbandonNow => Event::AbandonNow,
        Template::Replace => Event::Replace,
        Template::Fault => Event::Fault(fault(param)),
        Template::StorageFault => Event::StorageFault(storage_fault(param)),
        Template::ClearFaults => Event::ClearFaults,
        Template::LockDevice => Event::LockDevice,
        Template::UnlockDevice => Event::UnlockDevice,
        Template::Reboot => Event::Reboot,
        // iOS gives a background fetch about 30 s; a push or a prewarm less.
        Template::BackgroundWake => {
            Event::BackgroundWake { ms: 1 + (param >> 8) % (30 * SECOND_MS) }
        }
        Template::RestoreBackup => Event::RestoreBackup,
        // A phone on a desk: minutes to a night, log-uniform.
        Template::DeviceSleep => Event::DeviceSleep { ms: log_uniform_capped_ms(param, 25).max(1) },
        Template::Headless => headless(param, instances, templates),
    }
}

/// A storage fault: mostly on the client token, mostly thrown reads.
fn storage_fault(param: u64) -> StorageFaultSpec {
    let op = [StorageOp::Read, StorageOp::Read, StorageOp::Write, StorageOp::Delete]
        [(param % 4) as usize];
    let kind = [
        StorageFaultKind::Throw,
        StorageFaultKind::Throw,
        StorageFaultKind::Hang,
        StorageFaultKind::Garbage,
    ][((param >> 4) % 4) as usize];
    let key = match (param >> 8) % 4 {
        0 => None,
        1 => Some(StorageKey::CachedClient),
        _ => Some(StorageKey::ClientJwt),
    };
    StorageFaultSpec { op, kind, count: 1 + ((param >> 16) % 3) as u32, key }
}

impl Template {
    /// Events of the device itself, which an external adapter may not simulate.
    fn is_device(self) -> bool {
        matches!(
            self,
            Template::StorageFault
                | Template::LockDevice
                | Template::UnlockDevice
                | Template::Reboot
                | Template::BackgroundWake
                | Template::RestoreBackup
                | Template::DeviceSleep
                | Template::Hanging
                | Template::ClockSkew
                | Template::AppStateFault
        )
    }
}

/// The weighted menu of events for the world's current state.
fn menu(world: &World) -> Vec<(u32, Template)> {
    use Template as T;
    let device = &world.device;
    let view = world.view();
    let mut m: Vec<(u32, Template)> = vec![
        (10, T::AdvanceShort),
        (3, T::AdvanceLong),
        (2, T::Fault),
        (2, T::StorageFault),
        (1, T::ClearFaults),
    ];
    if !device.protection.is_unlocked() {
        m.push((3, T::UnlockDevice));
    }
    if !device.running {
        m.extend([(30, T::ColdStart), (2, T::Reinstall), (2, T::Revoke), (2, T::ExpireNow)]);
        // Storage faults queued before a launch meet the launch's reads of the stored token,
        // the reads that matter most.
        m.extend([
            (3, T::BackgroundWake),
            (2, T::Reboot),
            (1, T::RestoreBackup),
            (4, T::StorageFault),
        ]);
        m.extend([(1, T::DeviceSleep), (1, T::ClockSkew)]);
        // A launch behind a captive portal, and the network that comes back before one.
        m.push(if device.network == Network::Online { (1, T::Hanging) } else { (3, T::Online) });
        return m;
    }
    if device.app_state == AppState::Background {
        m.extend([
            (20, T::Foreground),
            (4, T::AdvanceLong),
            (3, T::Kill),
            (2, T::Offline),
            (2, T::Online),
            (1, T::Hanging),
        ]);
        m.extend([(2, T::Revoke), (2, T::ExpireNow), (1, T::AbandonNow), (1, T::Replace)]);
        m.extend([(3, T::LockDevice), (4, T::BackgroundWake), (1, T::Reboot), (1, T::DeviceSleep)]);
        // The AppState event of the return to the foreground, the one that matters most.
        m.extend([(1, T::ClockSkew), (15, T::AppStateFault)]);
        return m;
    }
    m.extend([
        (3, T::Kill),
        (2, T::JsReload),
        (4, T::Background),
        (1, T::Inactive),
        (2, T::Navigate),
        (1, T::LockDevice),
        (1, T::Reboot),
        (2, T::DeviceSleep),
        (1, T::ClockSkew),
        (3, T::AppStateFault),
    ]);
    match device.network {
        Network::Online => m.extend([(2, T::Offline), (1, T::Hanging)]),
        Network::Offline | Network::Hanging => m.push((6, T::Online)),
    }
    if device.app_state == AppState::Inactive {
        m.push((10, T::Foreground));
    }
    match &view.route {
        Route::Loading | Route::Closed => {
            m.extend([(6, T::GetToken), (3, T::ApiCall), (3, T::Navigate)])
        }
        Route::SignIn { .. } => {
            m.extend([(30, T::SignIn), (6, T::SignInPending), (2, T::GetToken), (2, T::ApiCall)]);
            // The native sign-in screen, when the app has the native module.
            if world.setup.sdk.native {
                m.push((20, T::NativeSignIn));
            }
            // A stale screen's buttons: session actions on a signed-out app must be harmless.
            m.extend([
                (1, T::SignOut),
                (1, T::SessionEnd),
                (1, T::SessionRemove),
                (1, T::SetActive),
            ])
        }
        Route::Task { .. } => {
            m.extend([(20, T::CompleteTask), (4, T::GetToken), (2, T::SignOut), (2, T::ApiCall)])
        }
        Route::Protected { .. } if !world.setup.instance.templates.is_empty() => {
            m.push((8, T::GetTemplateToken));
            m.extend(protected_menu());
        }
        Route::Protected { .. } => m.extend(protected_menu()),
    }
    if world.setup.sdk.instances > 1 {
        // The headless instance works whatever the UI shows.
        m.push((16, T::Headless));
    }
    m
}

/// What a user does on a protected screen, and what the server does meanwhile.
fn protected_menu() -> [(u32, Template); 12] {
    use Template as T;
    [
        (14, T::GetToken),
        (4, T::GetTokenSkip),
        (14, T::ApiCall),
        (3, T::SignOut),
        (2, T::SessionEnd),
        (2, T::SessionRemove),
        (2, T::SetActive),
        (2, T::SignIn),
        (3, T::Revoke),
        (3, T::ExpireNow),
        (2, T::AbandonNow),
        (2, T::Replace),
    ]
}

/// Turns raw material into events by running the model; returns the model's trace.
pub fn interpret(case: &Case, seed: Option<u64>) -> Trace {
    interpret_for(case, seed, true)
}

/// `setup` without the device's settings an external adapter cannot simulate (AppState
/// events that arrive late, a connectivity listener that reports changes only), for
/// campaigns that leave device events out.
pub fn without_device_settings(mut setup: Setup) -> Setup {
    // A second SDK instance is the harness's to run (docs/adapter-protocol.md refuses it).
    setup.sdk.instances = 1;
    setup.sdk.app_state_delay_ms = 0;
    setup.sdk.large_values = None;
    setup.net.connectivity_initial = true;
    setup
}

/// [`interpret`], with device events (storage faults, lock state, wakes) left out when
/// `device` is false: campaigns against an external SDK whose adapter answers them
/// `unsupported` (docs/adapter-protocol.md §3). A device choice becomes a short wait.
pub fn interpret_for(case: &Case, seed: Option<u64>, device: bool) -> Trace {
    interpret_with(case, seed, device, true)
}

/// [`interpret_for`], with the native module left out when `native` is false: campaigns
/// against an SDK whose adapter has none (docs/adapter-protocol.md §11). A native sign-in
/// becomes a short wait.
pub fn interpret_with(case: &Case, seed: Option<u64>, device: bool, native: bool) -> Trace {
    let mut setup = if device { case.setup } else { without_device_settings(case.setup) };
    setup.sdk.native &= native;
    let mut world = World::new(setup);
    let mut steps = Vec::with_capacity(case.choices.len() + 1);
    // Every generated trace starts with a launch: a trace of a never-started app tests little.
    let mut events = vec![Event::ColdStart];
    for (i, c) in case.choices.iter().enumerate() {
        let foreground = world.device.running && world.device.app_state != AppState::Background;
        let keep = |t: Template| {
            if (!device && t.is_device()) || (!native && matches!(t, Template::NativeSignIn)) {
                Template::AdvanceShort
            } else {
                t
            }
        };
        let event = if i == 0 {
            events.pop().expect("the launch was pushed above")
        } else if c.pick >= ARBITRARY_PICK_MIN {
            instantiate(
                keep(ALL_TEMPLATES[(c.param % ALL_TEMPLATES.len() as u64) as usize]),
                c.param >> 5,
                foreground,
                &setup.instance.templates,
                setup.sdk.instances,
            )
        } else {
            let mut m = menu(&world);
            if !device {
                m.retain(|(_, t)| !t.is_device());
            }
            let total: u32 = m.iter().map(|(w, _)| w).sum();
            let mut target = (c.pick as u32) % total;
            let mut chosen = m[0].1;
            for (w, t) in &m {
                if target < *w {
                    chosen = *t;
                    break;
                }
                target -= w;
            }
            instantiate(chosen, c.param, foreground, &setup.instance.templates, setup.sdk.instances)
        };
        let at = world.now();
        let obs = world.step(&event);
        steps.push(TraceStep { index: i as u32, at, event, obs });
    }
    Trace { setup, sdk: "model".to_string(), seed, steps }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Campaigns reach `get_token { template }` (on the setups that declare templates), and
    /// the templates' tokens come back.
    #[test]
    fn some_cases_ask_for_template_tokens() {
        let mut asked = 0;
        let mut served = 0;
        for seed in 0..500u64 {
            let trace = interpret(&case_from_seed(ProfileId::ClerkJs6, 60, seed), Some(seed));
            for step in &trace.steps {
                if matches!(step.event, Event::GetToken { template: Some(_), .. }) {
                    asked += 1;
                }
                served += step
                    .obs
                    .happenings
                    .iter()
                    .filter(|h| {
                        matches!(h, crate::model::vocab::Happening::CallSettled {
                        result: crate::model::vocab::CallResult::Token { token }, ..
                    } if token.template.is_some())
                    })
                    .count();
            }
        }
        assert!(asked >= 40 && served >= 5, "{asked} template get_tokens, {served} served");
    }

    /// A share of `clerk-js-6` cases run a headless instance and address it; `documented`
    /// cases and external campaigns (`without_device_settings`) never do.
    #[test]
    fn some_cases_run_a_headless_instance() {
        let (mut two, mut addressed) = (0, 0);
        for seed in 0..400u64 {
            let case = case_from_seed(ProfileId::ClerkJs6, 60, seed);
            assert_eq!(without_device_settings(case.setup).sdk.instances, 1);
            if case.setup.sdk.instances == 2 {
                two += 1;
                let trace = interpret(&case, Some(seed));
                addressed += trace
                    .steps
                    .iter()
                    .filter(|s| matches!(s.event, Event::Instance { n: 1, .. }))
                    .count();
            }
            let documented = case_from_seed(ProfileId::Documented, 60, seed);
            assert_eq!(documented.setup.sdk.instances, 1);
        }
        assert!((60..160).contains(&two), "{two} of 400 cases with two instances");
        assert!(addressed >= 200, "{addressed} steps addressed to the headless instance");
    }

    #[test]
    fn log_uniform_spans_milliseconds_to_weeks() {
        let mut rng = SeedRng::new(1);
        let samples: Vec<u64> = (0..2000).map(|_| log_uniform_ms(rng.next_u64())).collect();
        assert!(samples.iter().any(|&ms| ms < 10));
        assert!(samples.iter().any(|&ms| ms > 7 * DAY_MS));
        let under_second = samples.iter().filter(|&&ms| ms < 1000).count();
        assert!((400..1000).contains(&under_second), "{under_second} of 2000 under 1 s");
    }

    #[test]
    fn short_waits_are_short_and_foreground_waits_bounded() {
        let mut rng = SeedRng::new(2);
        for _ in 0..5000 {
            let param = rng.next_u64();
            let Event::Advance { ms } =
                instantiate(Template::AdvanceShort, param, false, &Templates::default(), 1)
            else {
                panic!("a short wait is an advance")
            };
            assert!((1..1 << SHORT_EXPONENTS).contains(&ms), "short wait of {ms} ms");
            let Event::Advance { ms } =
                instantiate(Template::AdvanceLong, param, true, &Templates::default(), 1)
            else {
                panic!("a long wait is an advance")
            };
            assert!(ms < 1 << FOREGROUND_EXPONENTS, "foreground wait of {ms} ms");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_case() {
        let a = case_from_seed(ProfileId::ClerkJs6, 40, 7);
        let b = case_from_seed(ProfileId::ClerkJs6, 40, 7);
        assert_eq!(a.choices, b.choices);
        assert_eq!(a.setup, b.setup);
        let c = case_from_seed(ProfileId::ClerkJs6, 40, 8);
        assert_ne!(a.choices, c.choices);
    }
}
