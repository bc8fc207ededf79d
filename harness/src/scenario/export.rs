//! Counterexample export: a failing run written as a scenario file that replays without the
//! generator (DESIGN.md §10). The file names the seed, the system's defects and the invariants
//! that broke, and expects exactly those to break again.

use std::collections::BTreeMap;

use crate::invariants::Report;
use crate::model::settings::TokenCacheKind;
use crate::model::vocab::Defect;
use crate::sim::format_seed;
use crate::trace::Trace;

use super::compile::{DEFAULT_VARIANT, step_of};
use super::format::{
    DefectName, Duration, InstanceSpec, InvariantName, Limit, Located, NetSpec, PlatformName,
    ProfileName, SCHEMA_VERSION, ScenarioFile, SetupSpec, TokenCacheName, VariantExpect,
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

/// Writes `trace` (which broke what `report` says) as a scenario under `regressions/`.
/// `defects` are the defects the system ran with.
pub fn export(trace: &Trace, report: &Report, defects: &[Defect]) -> Exported {
    let broken = report.broken();
    let first = report.violations.first();
    let seed_text = trace.seed.map(format_seed);
    let label = broken.first().map(|i| i.as_str()).unwrap_or("no-violation");
    let name = format!(
        "regressions/{label}-{}",
        seed_text.as_deref().map(|s| s.trim_start_matches("0x")).unwrap_or("unseeded")
    );
    let setup = &trace.setup;
    let description = match first {
        Some(v) => format!(
            "Counterexample found by the fuzzer on `{}`: invariant `{}` broken at step {} (t={}); \
             expected {}, observed {}.",
            trace.sdk,
            v.invariant,
            v.step,
            crate::model::time::format_clock(v.at.ms()),
            v.expected,
            v.observed
        ),
        None => format!("Trace exported from `{}`; every invariant held.", trace.sdk),
    };
    let file = ScenarioFile {
        schema_version: here(SCHEMA_VERSION),
        name: name.clone(),
        description,
        source: Some(match &seed_text {
            Some(seed) => format!(
                "generated case, seed {seed}, profile {}: cargo xtask replay --seed {seed} \
                 --profile {}",
                setup.profile, setup.profile
            ),
            None => "exported trace".to_string(),
        }),
        seed: seed_text.clone(),
        setup: SetupSpec {
            platform: PlatformName(setup.platform),
            profile: ProfileName(setup.profile),
            token_cache: Some(match setup.sdk.token_cache {
                TokenCacheKind::SecureStore => TokenCacheName::SecureStore,
                TokenCacheKind::Memory => TokenCacheName::Memory,
            }),
            resource_cache: Some(setup.sdk.resource_cache),
            treat_pending_as_signed_out: Some(setup.sdk.treat_pending_as_signed_out),
            instance: Some(here(InstanceSpec {
                session_token_ttl: Some(Duration(setup.instance.session_token_ttl_ms)),
                max_lifetime: Some(Limit(setup.instance.max_lifetime_ms)),
                inactivity_timeout: Some(Limit(setup.instance.inactivity_timeout_ms)),
                multi_session: Some(setup.instance.multi_session),
                session_minter: Some(setup.instance.session_minter),
            })),
            net: Some(here(NetSpec {
                fapi_latency: Some(Duration(setup.net.fapi_latency_ms)),
                backend_latency: Some(Duration(setup.net.backend_latency_ms)),
            })),
            defects: defects.iter().copied().map(DefectName).collect(),
        },
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
