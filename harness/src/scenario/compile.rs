//! From a parsed file to a runnable [`Scenario`]: defaults filled in, variants merged onto
//! the setup and validated, steps flattened into the event list the world replays, inline
//! checks anchored after the event they follow, and expectations tied to real variants.

use std::collections::BTreeSet;

use crate::invariants::InvariantId;
use crate::model::settings::{
    INSTANCES_MAX, InstanceSettings, LATENCY_MS_MAX, NetSettings, ReuseGrace, SdkSettings,
    SettingsError, Setup, TokenCacheKind,
};
use crate::model::time::format_duration;
use crate::model::vocab::{
    AppPath, AppStateFaultKind, AppStateFaultSpec, Defect, Event, FaultKind, FaultSpec,
    StorageFaultSpec,
};
use crate::runner::system::SdkChoice;
use crate::sim::parse_seed;

use super::error::{Context, ErrorKind, ScenarioError};
use super::format::{
    AppStateFaultKindName, AppStateFaultName, AppStateFaultStep, ExpectSpec, FaultKindName,
    FaultStep, Holds, InstanceSpec, Located, NetSpec, ReuseGraceSpec, SCHEMA_VERSION, ScenarioFile,
    SdkName, Skew, StepSpec, TokenCacheName, VariantSpec,
};

/// The name of the one variant of a scenario that declares none.
pub const DEFAULT_VARIANT: &str = "default";

/// Most events a scenario may hold: a limit on everything (a scenario is read by people).
pub const EVENTS_MAX: usize = 10_000;

/// Most requests one scripted fault may cover.
pub const FAULT_COUNT_MAX: u32 = 1_000;

/// Longest `background_wake` a scenario may ask for: the OS's windows are seconds long.
pub const BACKGROUND_WAKE_MS_MAX: u64 = 10 * 60 * 1_000;

/// Farthest a device clock may be set from the server's: a year either way (a phone left at
/// its factory date is further off, and tests nothing more).
pub const CLOCK_SKEW_MS_MAX: u64 = 365 * 24 * 60 * 60 * 1_000;

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub file: String,
    pub name: String,
    pub description: String,
    pub source: Option<String>,
    pub seed: Option<u64>,
    pub variants: Vec<Variant>,
    /// The events, in order; a concurrent group is consecutive events at one instant.
    pub events: Vec<Event>,
    /// For each event, the line of the step it came from.
    pub event_lines: Vec<u64>,
    /// For each event, whether it belongs to a `concurrently` group.
    pub concurrent: Vec<bool>,
    pub checks: Vec<Check>,
}

/// One variant: its complete setup, the SDK it names, defects and expectation.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub description: Option<String>,
    pub setup: Setup,
    /// The SDK a defect-free variant names (`sdk:`); [`SdkChoice::Model`] for a variant with
    /// defects, which runs on the reference SDK with them and may not name one.
    pub sdk: SdkChoice,
    pub defects: Vec<Defect>,
    pub expect: Expectation,
}

impl Variant {
    /// Whether it runs on the reference SDK: with its defects, or without (`sdk: reference`).
    pub fn on_reference(&self) -> bool {
        !self.defects.is_empty() || self.sdk == SdkChoice::Reference
    }

    /// Whether a divergence from the model fails it: only on the defect-free reference SDK
    /// it names. A defective SDK departs from the model by design; the model cannot.
    pub fn divergence_fails(&self) -> bool {
        self.defects.is_empty() && self.sdk == SdkChoice::Reference
    }
}

/// What a variant's run must show about the invariants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub violates: Vec<InvariantId>,
    /// `None`: every invariant not in `violates` must hold. `Some`: only these must.
    pub holds_only: Option<Vec<InvariantId>>,
}

/// An inline `expect` step.
#[derive(Clone, Debug)]
pub struct Check {
    /// Checked after this many events have been applied (≥ 1).
    pub after: usize,
    pub line: u64,
    pub column: u64,
    pub spec: ExpectSpec,
    pub mode: CheckMode,
}

/// When a check's fields are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// `expect`: at the end of the step it follows.
    Now,
    /// `eventually`: at that step's end or at a later step's end within this many ms.
    Eventually { within_ms: u64 },
    /// `never`: at no step end from there on, within this many ms (`None`: to the end).
    Never { during_ms: Option<u64> },
}

impl Check {
    pub fn applies_to(&self, variant: &str) -> bool {
        self.spec.variants.as_ref().is_none_or(|names| names.iter().any(|n| n == variant))
            && !self.spec.except.iter().flatten().any(|n| n == variant)
    }
}

/// Checks a parsed file and builds the runnable scenario.
pub fn compile(file: &str, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
    let err =
        |line: u64, column: u64, kind: ErrorKind| ScenarioError::new(file, line, column, kind);
    let version = &raw.schema_version;
    if version.value != SCHEMA_VERSION {
        return Err(err(
            version.line,
            version.column,
            ErrorKind::SchemaVersion { found: version.value, accepted: SCHEMA_VERSION },
        ));
    }
    let seed = match &raw.seed {
        Some(text) => Some(parse_seed(text).map_err(|e| err(0, 0, ErrorKind::Seed(e)))?),
        None => None,
    };

    // The base setup, then each variant merged onto it.
    let base = base_setup(file, &raw)?;
    let base_defects: Vec<Defect> = raw.setup.defects.iter().map(|d| d.0).collect();
    let base_sdk = raw.setup.sdk.as_ref();
    if let Some(sdk) = base_sdk
        && !base_defects.is_empty()
    {
        return Err(sdk_with_defects(file, sdk, None, &base_defects, (false, false)));
    }
    let mut variants = Vec::new();
    if raw.variants.is_empty() {
        variants.push(Variant {
            name: DEFAULT_VARIANT.to_string(),
            description: None,
            setup: base,
            sdk: base_sdk.map(|s| s.value.0).unwrap_or_default(),
            defects: base_defects.clone(),
            expect: Expectation { violates: Vec::new(), holds_only: None },
        });
    } else {
        // In the order the file lists them (the map sorts by name; each entry knows its
        // line), so runs, reports and the gate's plan follow the file.
        let mut in_file_order: Vec<_> = raw.variants.iter().collect();
        in_file_order.sort_by_key(|(_, spec)| (spec.line, spec.column));
        for (name, spec) in in_file_order {
            let setup = merge_variant(file, name, base, spec)?;
            let defects: Vec<Defect> = match &spec.value.defects {
                Some(list) => list.iter().map(|d| d.0).collect(),
                None => base_defects.clone(),
            };
            let sdk = spec.value.sdk.as_ref().or(base_sdk);
            if let Some(named) = sdk
                && !defects.is_empty()
            {
                let inherited = (spec.value.sdk.is_none(), spec.value.defects.is_none());
                let mut e = sdk_with_defects(file, named, Some(name), &defects, inherited);
                // The `sdk:` the variant writes, else the variant itself (not the setup).
                if spec.value.sdk.is_none() {
                    (e.line, e.column) = (spec.line, spec.column);
                }
                return Err(e);
            }
            variants.push(Variant {
                name: name.clone(),
                description: spec.value.description.clone(),
                setup,
                sdk: sdk.map(|s| s.value.0).unwrap_or_default(),
                defects,
                expect: Expectation { violates: Vec::new(), holds_only: None },
            });
        }
    }
    let known_names = variants.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ");
    let known = || known_names.clone();

    for (name, spec) in &raw.expect {
        let Some(variant) = variants.iter_mut().find(|v| &v.name == name) else {
            return Err(err(
                spec.line,
                spec.column,
                ErrorKind::MissingVariant { name: name.clone(), known: known() },
            ));
        };
        let violates: Vec<InvariantId> = dedup(spec.value.violates.iter().map(|i| i.0));
        let holds_only = match &spec.value.holds {
            None | Some(Holds::All) => None,
            Some(Holds::Only(list)) => Some(dedup(list.iter().map(|i| i.0))),
        };
        if let Some(both) = holds_only.iter().flatten().find(|id| violates.contains(id)) {
            return Err(err(
                spec.line,
                spec.column,
                ErrorKind::Contradiction(both.as_str().to_string()),
            ));
        }
        variant.expect = Expectation { violates, holds_only };
    }

    // Steps → events and checks; a step addressed to an instance must name one every
    // variant runs.
    let mut flat = Flat {
        fewest: variants
            .iter()
            .min_by_key(|v| v.setup.sdk.instances)
            .map(|v| (v.name.clone(), v.setup.sdk.instances)),
        ..Flat::default()
    };
    if raw.steps.is_empty() {
        return Err(err(
            0,
            0,
            ErrorKind::Empty { what: "steps", hint: "a scenario needs at least one event" },
        ));
    }
    for step in &raw.steps {
        flat.push(file, step, false)?;
        if flat.events.len() > EVENTS_MAX {
            return Err(err(
                step.line,
                step.column,
                ErrorKind::TooMany { what: "events", count: flat.events.len(), limit: EVENTS_MAX },
            ));
        }
    }
    for check in &flat.checks {
        for name in check.spec.variants.iter().flatten().chain(check.spec.except.iter().flatten()) {
            if !variants.iter().any(|v| &v.name == name) {
                return Err(err(
                    check.line,
                    check.column,
                    ErrorKind::MissingVariant { name: name.clone(), known: known() },
                ));
            }
        }
    }

    Ok(Scenario {
        file: file.to_string(),
        name: raw.name,
        description: raw.description,
        source: raw.source,
        seed,
        variants,
        events: flat.events,
        event_lines: flat.lines,
        concurrent: flat.concurrent,
        checks: flat.checks,
    })
}

/// A variant (or the setup, when `variant` is `None`) that names an SDK and switches on
/// defects: located at `sdk`; `inherited` says whether the `sdk` and the defects come from
/// the setup.
fn sdk_with_defects(
    file: &str,
    sdk: &Located<SdkName>,
    variant: Option<&str>,
    defects: &[Defect],
    (sdk_inherited, defects_inherited): (bool, bool),
) -> ScenarioError {
    ScenarioError::new(
        file,
        sdk.line,
        sdk.column,
        ErrorKind::SdkWithDefects {
            context: Context(variant.map(str::to_string)),
            sdk: sdk.value.0,
            defects: crate::runner::system::defect_list(defects),
            sdk_inherited,
            defects_inherited,
        },
    )
}

fn dedup(ids: impl Iterator<Item = InvariantId>) -> Vec<InvariantId> {
    let set: BTreeSet<InvariantId> = ids.collect();
    set.into_iter().collect()
}

fn token_cache(name: TokenCacheName) -> TokenCacheKind {
    match name {
        TokenCacheName::SecureStore => TokenCacheKind::SecureStore,
        TokenCacheName::Memory => TokenCacheKind::Memory,
    }
}

fn merge_instance(mut instance: InstanceSettings, spec: &InstanceSpec) -> InstanceSettings {
    if let Some(d) = spec.session_token_ttl {
        instance.session_token_ttl_ms = d.0;
    }
    if let Some(limit) = spec.max_lifetime {
        instance.max_lifetime_ms = limit.0;
    }
    if let Some(limit) = spec.inactivity_timeout {
        instance.inactivity_timeout_ms = limit.0;
    }
    if let Some(b) = spec.multi_session {
        instance.multi_session = b;
    }
    if let Some(b) = spec.session_minter {
        instance.session_minter = b;
    }
    if let Some(templates) = &spec.templates {
        instance.templates = templates.0;
    }
    if let Some(reuse) = &spec.token_reuse {
        if let Some(policy) = reuse.policy {
            instance.token_reuse.policy = policy.0;
        }
        match reuse.grace {
            Some(ReuseGraceSpec::Versions(n)) => {
                instance.token_reuse.grace = ReuseGrace::Versions(n)
            }
            Some(ReuseGraceSpec::Window(d)) => {
                instance.token_reuse.grace = ReuseGrace::WindowMs(d.0)
            }
            None => {}
        }
    }
    instance
}

fn merge_net(mut net: NetSettings, spec: &NetSpec) -> NetSettings {
    if let Some(d) = spec.fapi_latency {
        net.fapi_latency_ms = d.0;
    }
    if let Some(d) = spec.backend_latency {
        net.backend_latency_ms = d.0;
    }
    if let Some(b) = spec.connectivity_initial {
        net.connectivity_initial = b;
    }
    net
}

fn validate(
    file: &str,
    setup: &Setup,
    variant: Option<&str>,
    instance_at: Option<(u64, u64)>,
    net_at: Option<(u64, u64)>,
    fallback: (u64, u64),
) -> Result<(), ScenarioError> {
    let context = Context(variant.map(str::to_string));
    if let Err(source) = setup.instance.validate() {
        let (line, column) = instance_at.unwrap_or(fallback);
        return Err(ScenarioError::new(
            file,
            line,
            column,
            ErrorKind::Settings { context, source },
        ));
    }
    if let Err(source) = setup.net.validate() {
        let (line, column) = net_at.unwrap_or(fallback);
        return Err(ScenarioError::new(
            file,
            line,
            column,
            ErrorKind::Settings { context, source },
        ));
    }
    // The settings outside `instance` and `net` (`app_state_delay`).
    if let Err(source) = setup.validate() {
        let (line, column) = fallback;
        return Err(ScenarioError::new(
            file,
            line,
            column,
            ErrorKind::Settings { context, source },
        ));
    }
    Ok(())
}

/// `instances: N`, checked where the file writes it (a number too large for the setup's
/// field is out of range too, not cut).
fn instances(file: &str, n: &Located<u32>, variant: Option<&str>) -> Result<u8, ScenarioError> {
    match u8::try_from(n.value) {
        Ok(k) if (1..=INSTANCES_MAX).contains(&k) => Ok(k),
        _ => Err(ScenarioError::new(
            file,
            n.line,
            n.column,
            ErrorKind::Settings {
                context: Context(variant.map(str::to_string)),
                source: SettingsError::Instances { value: n.value },
            },
        )),
    }
}

fn base_setup(file: &str, raw: &ScenarioFile) -> Result<Setup, ScenarioError> {
    let spec = &raw.setup;
    let mut sdk = SdkSettings::default();
    if let Some(t) = spec.token_cache {
        sdk.token_cache = token_cache(t);
    }
    if let Some(b) = spec.resource_cache {
        sdk.resource_cache = b;
    }
    if let Some(b) = spec.native {
        sdk.native = b;
    }
    if let Some(v) = spec.native_variant {
        sdk.native_variant = v.0;
    }
    if let Some(class) = spec.keychain_accessible {
        sdk.keychain_accessible = class.0;
    }
    if let Some(d) = spec.app_state_delay {
        sdk.app_state_delay_ms = d.0;
    }
    if let Some(l) = spec.large_values {
        sdk.large_values = Some(l.0);
    }
    if let Some(b) = spec.treat_pending_as_signed_out {
        sdk.treat_pending_as_signed_out = b;
    }
    if let Some(n) = &spec.instances {
        sdk.instances = instances(file, n, None)?;
    }
    let mut setup = Setup::new(spec.platform.0, spec.profile.0);
    setup.sdk = sdk;
    if let Some(instance) = &spec.instance {
        setup.instance = merge_instance(setup.instance, &instance.value);
    }
    if let Some(net) = &spec.net {
        setup.net = merge_net(setup.net, &net.value);
    }
    validate(
        file,
        &setup,
        None,
        spec.instance.as_ref().map(|l| (l.line, l.column)),
        spec.net.as_ref().map(|l| (l.line, l.column)),
        (raw.schema_version.line, 1),
    )?;
    Ok(setup)
}

fn merge_variant(
    file: &str,
    name: &str,
    base: Setup,
    spec: &Located<VariantSpec>,
) -> Result<Setup, ScenarioError> {
    let v = &spec.value;
    let mut setup = base;
    if let Some(p) = v.platform {
        setup.platform = p.0;
    }
    if let Some(p) = v.profile {
        setup.profile = p.0;
    }
    if let Some(t) = v.token_cache {
        setup.sdk.token_cache = token_cache(t);
    }
    if let Some(b) = v.resource_cache {
        setup.sdk.resource_cache = b;
    }
    if let Some(b) = v.native {
        setup.sdk.native = b;
    }
    if let Some(n) = v.native_variant {
        setup.sdk.native_variant = n.0;
    }
    if let Some(class) = v.keychain_accessible {
        setup.sdk.keychain_accessible = class.0;
    }
    if let Some(d) = v.app_state_delay {
        setup.sdk.app_state_delay_ms = d.0;
    }
    if let Some(l) = v.large_values {
        setup.sdk.large_values = Some(l.0);
    }
    if let Some(b) = v.treat_pending_as_signed_out {
        setup.sdk.treat_pending_as_signed_out = b;
    }
    if let Some(n) = &v.instances {
        setup.sdk.instances = instances(file, n, Some(name))?;
    }
    if let Some(instance) = &v.instance {
        setup.instance = merge_instance(setup.instance, &instance.value);
    }
    if let Some(net) = &v.net {
        setup.net = merge_net(setup.net, &net.value);
    }
    validate(
        file,
        &setup,
        Some(name),
        v.instance.as_ref().map(|l| (l.line, l.column)),
        v.net.as_ref().map(|l| (l.line, l.column)),
        (spec.line, spec.column),
    )?;
    Ok(setup)
}

#[derive(Default)]
struct Flat {
    /// The variant that runs the fewest SDK instances, and how many.
    fewest: Option<(String, u8)>,
    events: Vec<Event>,
    lines: Vec<u64>,
    concurrent: Vec<bool>,
    checks: Vec<Check>,
}

impl Flat {
    fn push(
        &mut self,
        file: &str,
        step: &Located<StepSpec>,
        in_group: bool,
    ) -> Result<(), ScenarioError> {
        let err = |kind: ErrorKind| ScenarioError::new(file, step.line, step.column, kind);
        let event = match &step.value {
            StepSpec::Expect(spec) | StepSpec::Eventually(spec) | StepSpec::Never(spec) => {
                let kind = step.value.kind();
                let mode = match &step.value {
                    StepSpec::Eventually(_) => match (spec.within, spec.during) {
                        (Some(w), None) => CheckMode::Eventually { within_ms: w.0 },
                        _ => {
                            return Err(err(ErrorKind::Step(
                                "`eventually` needs `within` (e.g. `within: 30s`) and takes no \
                                 `during`"
                                    .into(),
                            )));
                        }
                    },
                    StepSpec::Never(_) => match spec.within {
                        None => CheckMode::Never { during_ms: spec.during.map(|d| d.0) },
                        Some(_) => {
                            return Err(err(ErrorKind::Step(
                                "`never` takes `during` (default: the rest of the run), not \
                                 `within`"
                                    .into(),
                            )));
                        }
                    },
                    _ if spec.within.is_some() || spec.during.is_some() => {
                        return Err(err(ErrorKind::Step(
                            "`within` belongs to `eventually` and `during` to `never`, not to \
                             `expect`"
                                .into(),
                        )));
                    }
                    _ => CheckMode::Now,
                };
                if spec.variants.is_some() && spec.except.is_some() {
                    return Err(err(ErrorKind::Step(format!(
                        "`{kind}` takes `variants` or `except`, not both"
                    ))));
                }
                if in_group {
                    return Err(err(ErrorKind::Step(format!(
                        "`{kind}` cannot be inside `concurrently`; put it after the group"
                    ))));
                }
                if self.events.is_empty() {
                    return Err(err(ErrorKind::Step(format!(
                        "`{kind}` before any event; the app is not running yet (start with \
                         `cold_start: {{}}`)"
                    ))));
                }
                for path in spec.path.iter().chain(spec.return_to.iter().filter(|p| *p != "none")) {
                    check_path(path).map_err(|_| err(ErrorKind::Path { path: path.clone() }))?;
                }
                self.checks.push(Check {
                    after: self.events.len(),
                    line: step.line,
                    column: step.column,
                    spec: spec.clone(),
                    mode,
                });
                return Ok(());
            }
            StepSpec::Instance(spec) => {
                let inner = &spec.step;
                let kind = inner.value.kind();
                if !Event::ADDRESSABLE.contains(&kind) {
                    return Err(err(ErrorKind::Step(format!(
                        "`instance` takes one SDK event, not `{kind}`; accepted: {}",
                        Event::ADDRESSABLE.join(", ")
                    ))));
                }
                if spec.n >= u32::from(INSTANCES_MAX) {
                    return Err(err(ErrorKind::Step(format!(
                        "`instance: {{ n: {} }}` is out of range; accepted: 0 ..= {} (and below \
                         the setup's `instances`)",
                        spec.n,
                        INSTANCES_MAX - 1
                    ))));
                }
                if let Some((name, k)) = &self.fewest
                    && spec.n >= u32::from(*k)
                {
                    return Err(err(ErrorKind::Step(format!(
                        "instance {} does not exist in variant `{name}`, which runs {k} SDK \
                         instance(s); accepted: `instances: {}` or more in the setup",
                        spec.n,
                        spec.n + 1
                    ))));
                }
                let mut one = Flat::default();
                one.push(file, inner, true)?;
                let event = one.events.pop().expect("an addressable step is one event");
                match spec.n {
                    0 => event,
                    n => Event::Instance { n: n as u8, step: Box::new(event) },
                }
            }
            StepSpec::Concurrently(group) => {
                if in_group {
                    return Err(err(ErrorKind::Step("`concurrently` cannot be nested".into())));
                }
                if group.len() < 2 {
                    return Err(err(ErrorKind::Step(
                        "`concurrently` needs at least two events; accepted: a list of event \
                         steps such as `{get_token: {}}`"
                            .into(),
                    )));
                }
                for inner in group {
                    self.push(file, inner, true)?;
                }
                return Ok(());
            }
            StepSpec::Advance(d) => {
                if in_group {
                    return Err(err(ErrorKind::Step(
                        "`advance` cannot be inside `concurrently`: the group happens at one \
                         instant"
                            .into(),
                    )));
                }
                Event::Advance { ms: d.0 }
            }
            StepSpec::ColdStart(_) => Event::ColdStart,
            StepSpec::Kill(_) => Event::Kill,
            StepSpec::JsReload(_) => Event::JsReload,
            StepSpec::Reinstall(_) => Event::Reinstall,
            StepSpec::AppState(s) => Event::AppState { state: s.0 },
            StepSpec::Network(n) => Event::Network { state: n.0 },
            StepSpec::SignIn(s) => Event::SignIn { task: s.task.map(|t| t.0) },
            StepSpec::NativeSignIn(_) => Event::NativeSignIn,
            StepSpec::CompleteTask(_) => Event::CompleteTask,
            StepSpec::GetToken(g) => {
                Event::GetToken { skip_cache: g.skip_cache, template: g.template }
            }
            StepSpec::ApiCall(p) => {
                check_path(&p.path).map_err(|_| err(ErrorKind::Path { path: p.path.clone() }))?;
                Event::ApiCall { path: AppPath::new(&p.path) }
            }
            StepSpec::Navigate(p) => {
                check_path(&p.path).map_err(|_| err(ErrorKind::Path { path: p.path.clone() }))?;
                Event::Navigate { path: AppPath::new(&p.path) }
            }
            StepSpec::SessionEnd(_) => Event::SessionEnd,
            StepSpec::SessionRemove(_) => Event::SessionRemove,
            StepSpec::SignOut(_) => Event::SignOut,
            StepSpec::SetActive(_) => Event::SetActive,
            StepSpec::Revoke(_) => Event::Revoke,
            StepSpec::ExpireNow(_) => Event::ExpireNow,
            StepSpec::AbandonNow(_) => Event::AbandonNow,
            StepSpec::Replace(_) => Event::Replace,
            StepSpec::Fault(f) => Event::Fault(fault(f).map_err(|m| err(ErrorKind::Fault(m)))?),
            StepSpec::StorageFault(f) => {
                let count = f.count.unwrap_or(1);
                if count == 0 || count > FAULT_COUNT_MAX {
                    return Err(err(ErrorKind::Fault(format!(
                        "count {count} is out of range; accepted: 1 ..= {FAULT_COUNT_MAX}"
                    ))));
                }
                Event::StorageFault(StorageFaultSpec {
                    op: f.op.0,
                    kind: f.kind.0,
                    count,
                    key: f.key.map(|k| k.0),
                })
            }
            StepSpec::AppStateFault(f) => {
                let count = f.count.unwrap_or(1);
                if count == 0 || count > FAULT_COUNT_MAX {
                    return Err(err(ErrorKind::Fault(format!(
                        "count {count} is out of range; accepted: 1 ..= {FAULT_COUNT_MAX}"
                    ))));
                }
                let kind = match (f.kind.0, f.delay) {
                    (AppStateFaultName::Delay, Some(d)) if d.0 > 0 && d.0 <= LATENCY_MS_MAX => {
                        AppStateFaultKind::Delay { ms: d.0 }
                    }
                    (AppStateFaultName::Delay, _) => {
                        return Err(err(ErrorKind::Fault(
                            "`kind: delay` needs `delay:` in 1ms ..= 10m, e.g. `delay: 2s`".into(),
                        )));
                    }
                    (other, Some(_)) => {
                        return Err(err(ErrorKind::Fault(format!(
                            "`delay` belongs to `kind: delay` only, not `{}`",
                            other.as_str()
                        ))));
                    }
                    (AppStateFaultName::Drop, None) => AppStateFaultKind::Drop,
                    (AppStateFaultName::Duplicate, None) => AppStateFaultKind::Duplicate,
                    (AppStateFaultName::Reorder, None) => AppStateFaultKind::Reorder,
                };
                Event::AppStateFault(AppStateFaultSpec { kind, count })
            }
            StepSpec::ClearFaults(_) => Event::ClearFaults,
            StepSpec::LockDevice(_) => Event::LockDevice,
            StepSpec::UnlockDevice(_) => Event::UnlockDevice,
            StepSpec::Reboot(_) => Event::Reboot,
            StepSpec::BackgroundWake(d) => {
                if in_group {
                    return Err(err(ErrorKind::Step(
                        "`background_wake` cannot be inside `concurrently`: it lets time pass"
                            .into(),
                    )));
                }
                if d.0 == 0 || d.0 > BACKGROUND_WAKE_MS_MAX {
                    return Err(err(ErrorKind::Step(format!(
                        "`background_wake: {}` is out of range; accepted: 1ms ..= 10m (iOS \
                         gives a background fetch about 30s)",
                        format_duration(d.0)
                    ))));
                }
                Event::BackgroundWake { ms: d.0 }
            }
            StepSpec::RestoreBackup(_) => Event::RestoreBackup,
            StepSpec::DeviceSleep(d) => {
                if in_group {
                    return Err(err(ErrorKind::Step(
                        "`device_sleep` cannot be inside `concurrently`: it lets time pass".into(),
                    )));
                }
                if d.0 == 0 {
                    return Err(err(ErrorKind::Step(
                        "`device_sleep: 0ms` sleeps for nothing; accepted: a duration above zero"
                            .into(),
                    )));
                }
                Event::DeviceSleep { ms: d.0 }
            }
            StepSpec::ClockSkew(s) => {
                if s.0.unsigned_abs() > CLOCK_SKEW_MS_MAX {
                    return Err(err(ErrorKind::Step(format!(
                        "`clock_skew: {}` is out of range; accepted: -365d ..= 365d",
                        crate::model::vocab::format_skew(s.0)
                    ))));
                }
                Event::ClockSkew { ms: s.0 }
            }
        };
        self.events.push(event);
        self.lines.push(step.line);
        self.concurrent.push(in_group);
        Ok(())
    }
}

fn check_path(path: &str) -> Result<(), ()> {
    let ok = path.starts_with('/')
        && path.len() <= 200
        && !path.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(()) } else { Err(()) }
}

/// A fault step as the world's [`FaultSpec`]; parameters that do not belong to the kind are
/// refused rather than ignored, so a typo cannot silently script the wrong fault.
fn fault(step: &FaultStep) -> Result<FaultSpec, String> {
    let kind_name = step.kind;
    let refuse = |field: &str, owner: &str| {
        Err(format!("`{field}` only applies to `{owner}` faults, not `{}`", name_of(kind_name)))
    };
    if step.status.is_some() && kind_name != FaultKindName::ServerError {
        return refuse("status", "server_error");
    }
    if step.retry_after.is_some() && kind_name != FaultKindName::RateLimited {
        return refuse("retry_after", "rate_limited");
    }
    if step.latency.is_some() && kind_name != FaultKindName::Latency {
        return refuse("latency", "latency");
    }
    let kind = match kind_name {
        FaultKindName::ServerError => {
            let status = step.status.unwrap_or(503);
            if !(500..=599).contains(&status) {
                return Err(format!(
                    "status {status} is not a server error; accepted: 500 ..= 599 (use \
                     `unauthorized` for 401 and `rate_limited` for 429)"
                ));
            }
            FaultKind::ServerError { status }
        }
        FaultKindName::RateLimited => match step.retry_after {
            Some(d) if d.0 <= LATENCY_MS_MAX => FaultKind::RateLimited { retry_after_ms: d.0 },
            Some(_) => return Err("`retry_after` is longer than the limit of 10m".into()),
            None => {
                return Err("`rate_limited` needs `retry_after`, e.g. `retry_after: 30s`".into());
            }
        },
        FaultKindName::Unauthorized => FaultKind::Unauthorized,
        FaultKindName::MissingExpiredToken => FaultKind::MissingExpiredToken,
        FaultKindName::DropBeforeCommit => FaultKind::DropBeforeCommit,
        FaultKindName::DropAfterCommit => FaultKind::DropAfterCommit,
        FaultKindName::Latency => match step.latency {
            Some(d) if d.0 <= LATENCY_MS_MAX => FaultKind::Latency { ms: d.0 },
            Some(_) => return Err("`latency` is longer than the limit of 10m".into()),
            None => return Err("`latency` faults need `latency`, e.g. `latency: 2s`".into()),
        },
    };
    let count = step.count.unwrap_or(1);
    if count == 0 || count > FAULT_COUNT_MAX {
        return Err(format!("count {count} is out of range; accepted: 1 ..= {FAULT_COUNT_MAX}"));
    }
    Ok(FaultSpec { kind, count, on: step.on.map(|e| e.0) })
}

fn name_of(kind: FaultKindName) -> &'static str {
    match kind {
        FaultKindName::ServerError => "server_error",
        FaultKindName::RateLimited => "rate_limited",
        FaultKindName::Unauthorized => "unauthorized",
        FaultKindName::MissingExpiredToken => "missing_expired_token",
        FaultKindName::DropBeforeCommit => "drop_before_commit",
        FaultKindName::DropAfterCommit => "drop_after_commit",
        FaultKindName::Latency => "latency",
    }
}

/// The inverse of [`Flat::push`] for one event: the step a file writes for it (export).
pub fn step_of(event: &Event) -> StepSpec {
    use super::format::{
        AppStateName, Duration, Empty, EndpointName, GetTokenSpec, NetworkName, PathSpec,
        SignInSpec, StorageFaultKindName, StorageFaultStep, StorageKeyName, StorageOpName,
        TaskName,
    };
    match event {
        Event::Advance { ms } => StepSpec::Advance(Duration(*ms)),
        Event::ColdStart => StepSpec::ColdStart(Empty {}),
        Event::Kill => StepSpec::Kill(Empty {}),
        Event::JsReload => StepSpec::JsReload(Empty {}),
        Event::Reinstall => StepSpec::Reinstall(Empty {}),
        Event::AppState { state } => StepSpec::AppState(AppStateName(*state)),
        Event::Network { state } => StepSpec::Network(NetworkName(*state)),
        Event::SignIn { task } => StepSpec::SignIn(SignInSpec { task: task.map(TaskName) }),
        Event::NativeSignIn => StepSpec::NativeSignIn(Empty {}),
        Event::CompleteTask => StepSpec::CompleteTask(Empty {}),
        Event::GetToken { skip_cache, template } => {
            StepSpec::GetToken(GetTokenSpec { skip_cache: *skip_cache, template: *template })
        }
        Event::ApiCall { path } => StepSpec::ApiCall(PathSpec { path: path.to_string() }),
        Event::Navigate { path } => StepSpec::Navigate(PathSpec { path: path.to_string() }),
        Event::SessionEnd => StepSpec::SessionEnd(Empty {}),
        Event::SessionRemove => StepSpec::SessionRemove(Empty {}),
        Event::SignOut => StepSpec::SignOut(Empty {}),
        Event::SetActive => StepSpec::SetActive(Empty {}),
        Event::Revoke => StepSpec::Revoke(Empty {}),
        Event::ExpireNow => StepSpec::ExpireNow(Empty {}),
        Event::AbandonNow => StepSpec::AbandonNow(Empty {}),
        Event::Replace => StepSpec::Replace(Empty {}),
        Event::Fault(spec) => {
            let mut step = FaultStep {
                kind: FaultKindName::Unauthorized,
                count: Some(spec.count),
                on: spec.on.map(EndpointName),
                status: None,
                retry_after: None,
                latency: None,
            };
            step.kind = match spec.kind {
                FaultKind::ServerError { status } => {
                    step.status = Some(status);
                    FaultKindName::ServerError
                }
                FaultKind::RateLimited { retry_after_ms } => {
                    step.retry_after = Some(Duration(retry_after_ms));
                    FaultKindName::RateLimited
                }
                FaultKind::Unauthorized => FaultKindName::Unauthorized,
                FaultKind::MissingExpiredToken => FaultKindName::MissingExpiredToken,
                FaultKind::DropBeforeCommit => FaultKindName::DropBeforeCommit,
                FaultKind::DropAfterCommit => FaultKindName::DropAfterCommit,
                FaultKind::Latency { ms } => {
                    step.latency = Some(Duration(ms));
                    FaultKindName::Latency
                }
            };
            StepSpec::Fault(step)
        }
        Event::StorageFault(spec) => StepSpec::StorageFault(StorageFaultStep {
            op: StorageOpName(spec.op),
            kind: StorageFaultKindName(spec.kind),
            count: Some(spec.count),
            key: spec.key.map(StorageKeyName),
        }),
        Event::ClearFaults => StepSpec::ClearFaults(Empty {}),
        Event::LockDevice => StepSpec::LockDevice(Empty {}),
        Event::UnlockDevice => StepSpec::UnlockDevice(Empty {}),
        Event::Reboot => StepSpec::Reboot(Empty {}),
        Event::BackgroundWake { ms } => StepSpec::BackgroundWake(Duration(*ms)),
        Event::RestoreBackup => StepSpec::RestoreBackup(Empty {}),
        Event::DeviceSleep { ms } => StepSpec::DeviceSleep(Duration(*ms)),
        Event::ClockSkew { ms } => StepSpec::ClockSkew(Skew(*ms)),
        Event::Instance { n, step } => StepSpec::Instance(super::format::InstanceStep {
            n: u32::from(*n),
            step: Box::new(Located { value: step_of(step), line: 0, column: 0 }),
        }),
        Event::AppStateFault(spec) => StepSpec::AppStateFault(AppStateFaultStep {
            kind: AppStateFaultKindName(match spec.kind {
                AppStateFaultKind::Drop => AppStateFaultName::Drop,
                AppStateFaultKind::Duplicate => AppStateFaultName::Duplicate,
                AppStateFaultKind::Reorder => AppStateFaultName::Reorder,
                AppStateFaultKind::Delay { .. } => AppStateFaultName::Delay,
            }),
            delay: match spec.kind {
                AppStateFaultKind::Delay { ms } => Some(Duration(ms)),
                _ => None,
            },
            count: Some(spec.count),
        }),
    }
}
