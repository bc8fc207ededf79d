//! Counterexample export: a failing run written as a scenario file that replays without the
//! generator (DESIGN.md §10). The file names the seed, the system's defects and the invariants
//! that broke, and expects exactly those to break again.
//!
//! What a person needs from an export is honesty about where it came from: its name says
//! what broke (the first invariant beyond the profile's known deviations, or
//! `divergence-<part>` when the SDK parted from the model), its profile and its case seed, so
//! the two profiles' exports of one case never share a file; its `source:` is the command
//! that reruns the case as it was found ([`Origin`]), with how many events it had before
//! shrinking.

use std::collections::BTreeMap;

use crate::invariants::Report;
use crate::model::settings::{NativeVariant, ReuseGrace, TokenCacheKind};
use crate::model::vocab::{Defect, KeychainAccessible};
use crate::runner::is_known;
use crate::runner::lockstep::Divergence;
use crate::sim::format_seed;
use crate::trace::Trace;

use super::compile::{DEFAULT_VARIANT, step_of};
use super::format::{
    DefectName, Duration, InstanceSpec, InvariantName, KeychainAccessibleName, LargeValuesName,
    Limit, Located, NativeVariantName, NetSpec, PlatformName, ProfileName, ReuseGraceSpec,
    ReusePolicyName, SCHEMA_VERSION, ScenarioFile, SetupSpec, TemplatesSpec, TokenCacheName,
    TokenReuseSpec, VariantExpect,
};

/// An exported counterexample: the scenario name (its path under `scenarios/` without
/// `.yaml`) and the file's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub name: String,
    pub yaml: String,
}

fn here<T>(value: T) -> Located<T> {
    Located { value, line: 0, column: 0 }
}

/// Where an exported case came from, for its `source:` line and its name.
#[derive(Clone, Debug, Default)]
pub struct Origin<'a> {
    /// The command that reruns the case as it was found (`cargo xtask replay --seed …
    /// --profile … --sdk … --steps …`).
    pub command: Option<String>,
    /// Events of the case as found, when the exported trace is its shrunk form.
    pub original_steps: Option<usize>,
    /// The first divergence from the model, when that is what failed the case.
    pub divergence: Option<&'a Divergence>,
}

/// Writes `trace` (which broke what `report` says) as a scenario under `regressions/`.
/// `defects` are the defects the system ran with. The source line is the seed and profile
/// only; [`export_with`] records the command that found the case.
pub fn export(trace: &Trace, report: &Report, defects: &[Defect]) -> Exported {
    export_with(trace, report, defects, &Origin::default())
}

/// What broke, as a file name: the first invariant beyond the profile's known deviations
/// (the first of any when only known deviations broke), or the part of the observation that
/// diverged from the model.
fn what_broke(trace: &Trace, report: &Report, origin: &Origin<'_>) -> String {
    if let Some(d) = origin.divergence {
        return format!("divergence-{}", d.field.replace('_', "-"));
    }
    let broken = report.broken();
    broken
        .iter()
        .find(|id| !is_known(trace.setup.profile, **id))
        .or(broken.first())
        .map(|id| id.as_str().to_string())
        .unwrap_or_else(|| "passing".to_string())
}

/// [`export`], with where the case came from.
pub fn export_with(
    trace: &Trace,
    report: &Report,
    defects: &[Defect],
    origin: &Origin<'_>,
) -> Exported {
    let broken = report.broken();
    let seed_text = trace.seed.map(format_seed);
    let setup = &trace.setup;
    let name = format!(
        "regressions/{}-{}-{}",
        what_broke(trace, report, origin),
        setup.profile,
        seed_text.as_deref().map(|s| s.trim_start_matches("0x")).unwrap_or("unseeded")
    );
    let first = report
        .violations
        .iter()
        .find(|v| !is_known(setup.profile, v.invariant))
        .or(report.violations.first());
    let shrunk = match origin.original_steps {
        Some(n) if n != trace.steps.len() => {
            format!(" Shrunk from {n} to {} steps.", trace.steps.len())
        }
        _ => String::new(),
    };
    let description = match (origin.divergence, first) {
        (Some(d), _) => format!(
            "Counterexample found on `{}`: it diverged from the model at step {} (t={}, `{}`) \
             in {}: the model showed {}, the SDK {}. Replayed as a scenario it runs on the \
             model, which holds every invariant; rerun it in lockstep to see the divergence.{shrunk}",
            trace.sdk,
            d.step,
            crate::model::time::format_clock(d.at.ms()),
            d.event,
            d.field,
            d.model,
            d.sdk
        ),
        (None, Some(v)) => format!(
            "Counterexample found on `{}`: invariant `{}` broken at step {} (t={}); \
             expected {}, observed {}.{shrunk}",
            trace.sdk,
            v.invariant,
            v.step,
            crate::model::time::format_clock(v.at.ms()),
            v.expected,
            v.observed
        ),
        (None, None) => format!("Trace exported from `{}`; every invariant held.", trace.sdk),
    };
    let file = ScenarioFile {
        schema_version: here(SCHEMA_VERSION),
        name: name.clone(),
        description,
        source: Some(match (&seed_text, &origin.command) {
            (Some(seed), Some(command)) => {
                format!("generated case, seed {seed}, profile {}: {command}", setup.profile)
            }
            (Some(seed), None) => format!(
                "generated case, seed {seed}, profile {}: cargo xtask replay --seed {seed} \
                 --profile {}",
                setup.profile, setup.profile
            ),
            (None, Some(command)) => format!("exported trace: {command}"),
            (None, None) => "exported trace".to_string(),
        }),
        seed: seed_text.clone(),
        setup: setup_spec(setup, defects),
        variants: BTreeMap::new(),
        steps: trace.steps.iter().map(|s| here(step_of(&s.event))).collect(),
        expect: BTreeMap::from([(
            DEFAULT_VARIANT.to_string(),
            here(VariantExpect {
                violates: broken.iter().copied().map(InvariantName).collect(),
                holds: Some(super::format::Holds::All),
            }),
        )]),
    };
    let body = serde_saphyr::to_string(&file).expect("a scenario file always serialises");
    let yaml = format!("# yaml-language-server: $schema=../../schema/scenario.schema.json\n{body}");
    Exported { name, yaml }
}

/// A shrunk failure (`fuzz`, `check`, `gate`) as a scenario: its shrunk trace, what broke,
/// and `command`, which reruns the case as it was found. `defects` are the system's.
pub fn export_shrunk(
    shrunk: &crate::runner::shrink::Shrunk,
    defects: &[Defect],
    command: &str,
) -> Exported {
    let run = &shrunk.run;
    let origin = Origin {
        command: Some(command.to_string()),
        original_steps: Some(shrunk.original_steps),
        divergence: run.divergence.as_ref(),
    };
    export_with(&run.outcome.trace, &run.outcome.report, defects, &origin)
}

/// `events` as a scenario's `steps:` list (block YAML, one `- step` a line), ready to paste
/// into a scenario file: how the defect matrix and campaign failures print a trace.
pub fn steps_yaml(events: &[crate::model::vocab::Event]) -> String {
    let steps: Vec<_> = events.iter().map(step_of).collect();
    let body = serde_saphyr::to_string(&steps).expect("steps always serialise");
    format!("steps:\n{}", body.lines().map(|l| format!("  {l}\n")).collect::<String>())
}

/// A setup and defects as a scenario's `setup:` says them, every field explicit.
fn setup_spec(setup: &crate::model::settings::Setup, defects: &[Defect]) -> SetupSpec {
    SetupSpec {
        platform: PlatformName(setup.platform),
        profile: ProfileName(setup.profile),
        token_cache: Some(match setup.sdk.token_cache {
            TokenCacheKind::SecureStore => TokenCacheName::SecureStore,
            TokenCacheKind::Memory => TokenCacheName::Memory,
        }),
        resource_cache: Some(setup.sdk.resource_cache),
        // Written only when on, so exports of older setups stay as they were.
        native: setup.sdk.native.then_some(true),
        native_variant: (setup.sdk.native_variant != NativeVariant::Current)
            .then_some(NativeVariantName(setup.sdk.native_variant)),
        treat_pending_as_signed_out: Some(setup.sdk.treat_pending_as_signed_out),
        // Written only when it is not the default, so exports of older setups stay as they were.
        keychain_accessible: (setup.sdk.keychain_accessible != KeychainAccessible::default())
            .then_some(KeychainAccessibleName(setup.sdk.keychain_accessible)),
        app_state_delay: (setup.sdk.app_state_delay_ms != 0)
            .then_some(Duration(setup.sdk.app_state_delay_ms)),
        large_values: setup.sdk.large_values.map(LargeValuesName),
        // Written only when more than one, so exports of older setups stay as they were.
        instances: (setup.sdk.instances != 1).then(|| here(u32::from(setup.sdk.instances))),
        instance: Some(here(InstanceSpec {
            session_token_ttl: Some(Duration(setup.instance.session_token_ttl_ms)),
            max_lifetime: Some(Limit(setup.instance.max_lifetime_ms)),
            inactivity_timeout: Some(Limit(setup.instance.inactivity_timeout_ms)),
            multi_session: Some(setup.instance.multi_session),
            session_minter: Some(setup.instance.session_minter),
            // Written only when it is not Clerk's, so exports of older setups stay as they were.
            token_reuse: (!setup.instance.token_reuse.is_clerk()).then_some(TokenReuseSpec {
                policy: Some(ReusePolicyName(setup.instance.token_reuse.policy)),
                grace: Some(match setup.instance.token_reuse.grace {
                    ReuseGrace::Versions(n) => ReuseGraceSpec::Versions(n),
                    ReuseGrace::WindowMs(ms) => ReuseGraceSpec::Window(Duration(ms)),
                }),
            }),
            templates: (!setup.instance.templates.is_empty())
                .then_some(TemplatesSpec(setup.instance.templates)),
        })),
        net: Some(here(NetSpec {
            fapi_latency: Some(Duration(setup.net.fapi_latency_ms)),
            backend_latency: Some(Duration(setup.net.backend_latency_ms)),
            // Written only when it is not the default, as above.
            connectivity_initial: (!setup.net.connectivity_initial).then_some(false),
        })),
        defects: defects.iter().copied().map(DefectName).collect(),
        // An export replays on the model, or on the reference SDK with its defects.
        sdk: None,
    }
}

/// `setup` with `defects` as a scenario's `setup:` block, ready to paste.
pub fn setup_yaml(setup: &crate::model::settings::Setup, defects: &[Defect]) -> String {
    let body = serde_saphyr::to_string(&setup_spec(setup, defects)).expect("a setup serialises");
    format!("setup:\n{}", body.lines().map(|l| format!("  {l}\n")).collect::<String>())
}
