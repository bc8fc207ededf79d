//! The gate judges an SDK build: the defect-free reference SDK passes every scenario and
//! generated case; a defective one fails, and only a finding that names exactly what broke
//! turns a failure into `expected`. JUnit XML counts what the table counts, and the README's
//! findings table is the one rendered from `findings.yaml`.

use std::path::{Path, PathBuf};

use session_harness::gate::{self, Findings, Plan, ReferenceSubject, Verdict};
use session_harness::model::vocab::Defect;
use session_harness::scenario::{self, Scenario};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

fn library() -> Vec<Scenario> {
    let root = root();
    scenario::files::yaml_files(&root.join("scenarios"))
        .expect("scenarios/ is readable")
        .iter()
        .map(|p| {
            let display = p.strip_prefix(&root).unwrap_or(p).to_string_lossy().to_string();
            scenario::load(p, &display).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn runtime_known(
    profile: session_harness::model::profile::ProfileId,
    id: session_harness::invariants::InvariantId,
) -> bool {
    session_harness::runner::is_known(profile, id)
}

fn run(defects: Vec<Defect>, findings: &Findings) -> Vec<gate::CaseReport> {
    let scenarios = library();
    let plan = Plan { scenarios: &scenarios, cases: 6, seed: 0x6a7e_0001, steps_max: 30 };
    gate::run(&ReferenceSubject { defects }, &plan, findings, 2, &|_| {})
}

#[test]
fn the_reference_sdk_passes_and_a_defective_one_fails_unless_a_finding_names_the_breakage() {
    let clean = run(Vec::new(), &Findings::default());
    let failing: Vec<_> = clean.iter().filter(|r| r.verdict.is_fail()).collect();
    assert!(failing.is_empty(), "{}", gate::table("reference", &clean));
    assert!(clean.iter().any(|r| r.suite == gate::Suite::Fuzz), "the plan has fuzz cases");
    assert!(clean.len() > 100, "every defect-free variant runs: {}", clean.len());

    // A known deviation passes on the reference SDK, which implements the profile; on a real
    // SDK each invariant it breaks needs a finding.
    let deviating = clean
        .iter()
        .find(|r| r.verdict == Verdict::Pass && !r.outcome.report.violations.is_empty())
        .expect("a clerk-js-6 variant shows a known deviation");
    let real = "clerk-js@6.40.0";
    let strict = |f: &Findings| {
        gate::judge(f, real, &deviating.scenario, &deviating.variant, &deviating.outcome, false)
    };
    assert!(strict(&Findings::default()).is_fail(), "a real SDK's deviation needs a finding");
    let mut yaml = String::from("findings:\n");
    let mut ids: Vec<String> = Vec::new();
    for v in &deviating.outcome.report.violations {
        let id = format!("known-{}", v.invariant.as_str());
        if !ids.contains(&id) {
            yaml.push_str(&format!(
                "  - id: {id}\n    sdk: clerk-js@6\n    scenarios: [{}]\n    invariant: {}\n    \
                 mechanism: {{ what: w, pattern: {{ sequence: [ {{ what: call_started }} ] }} }}\n    \
                 title: t\n    reason: r\n",
                deviating.scenario,
                v.invariant.as_str()
            ));
            ids.push(id);
        }
    }
    assert_eq!(strict(&Findings::parse("findings.yaml", &yaml).unwrap()), Verdict::Expected(ids));

    let defect = Defect::parse("no-single-flight").expect("a known defect");
    let broken = run(vec![defect], &Findings::default());
    let failed: Vec<_> = broken.iter().filter(|r| r.verdict.is_fail()).collect();
    assert!(!failed.is_empty(), "the gate must catch no-single-flight");
    let first = failed
        .iter()
        .find(|r| r.suite == gate::Suite::Scenarios)
        .unwrap_or_else(|| panic!("{}", gate::table("reference+no-single-flight", &broken)));

    // What broke there: the first divergence from the model, and the invariants broken
    // beyond the profile's known deviations.
    let label = "reference+no-single-flight";
    let mut breaks: Vec<(String, String)> = Vec::new();
    if let Some(d) = first.outcome.divergence() {
        breaks.push(("divergence".into(), d.field.to_string()));
    }
    let profile = first.outcome.sdk.setup.profile;
    for v in &first.outcome.report.violations {
        let entry = ("invariant".to_string(), v.invariant.as_str().to_string());
        if !runtime_known(profile, v.invariant) && !breaks.contains(&entry) {
            breaks.push(entry);
        }
    }
    assert!(!breaks.is_empty(), "a failing case broke something");
    let findings_for = |entries: &[(String, String)]| {
        let mut yaml = String::from("findings:\n");
        for (i, (kind, what)) in entries.iter().enumerate() {
            // A mechanism every such run shows (docs/findings.md): this test is about names.
            let pattern = if kind == "divergence" {
                "{ divergence: { sdk: \"\" } }"
            } else {
                "{ sequence: [ { what: call_started } ] }"
            };
            yaml.push_str(&format!(
                "  - id: f{i}\n    sdk: {label}\n    scenarios: [{}]\n    {kind}: {what}\n    \
                 mechanism: {{ what: w, pattern: {pattern} }}\n    title: t\n    reason: r\n",
                first.scenario
            ));
        }
        Findings::parse("findings.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"))
    };

    // Every breakage named: expected, with every finding listed.
    let all = findings_for(&breaks);
    let ids: Vec<String> = (0..breaks.len()).map(|i| format!("f{i}")).collect();
    assert_eq!(
        gate::judge(&all, label, &first.scenario, &first.variant, &first.outcome, true),
        Verdict::Expected(ids)
    );
    // One left out: still a failure, naming what no finding accepts.
    for left_out in 0..breaks.len() {
        let mut some = breaks.clone();
        let (_, what) = some.remove(left_out);
        let verdict = gate::judge(
            &findings_for(&some),
            label,
            &first.scenario,
            &first.variant,
            &first.outcome,
            true,
        );
        assert!(verdict.is_fail(), "without a finding for `{what}`: {verdict:?}");
    }
    // The wrong SDK or scenario: a failure.
    assert!(
        gate::judge(&all, "reference", &first.scenario, &first.variant, &first.outcome, true)
            .is_fail()
    );
    assert!(
        gate::judge(&all, label, "routing/elsewhere", &first.variant, &first.outcome, true)
            .is_fail()
    );

    // The whole gate with those findings: that case is expected, the rest still fail.
    let judged = run(vec![defect], &all);
    let same = judged
        .iter()
        .find(|r| r.scenario == first.scenario && r.variant == first.variant)
        .expect("the same case runs again");
    assert!(matches!(same.verdict, Verdict::Expected(_)), "{:?}", same.verdict);
    let still_failing = judged.iter().filter(|r| r.verdict.is_fail()).count();
    assert!(still_failing > 0, "other scenarios and the fuzz cases still fail");
    assert!(still_failing < failed.len(), "the findings accepted their case");

    let xml = gate::junit::render("reference+no-single-flight", &judged);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(&format!("failures=\"{still_failing}\"")),
        "JUnit counts {still_failing} failures:\n{}",
        &xml[..xml.len().min(400)]
    );
    assert!(xml.contains("replay: cargo xtask"), "failures carry their replay command");
}

#[test]
fn the_readme_findings_table_is_the_one_findings_yaml_renders() {
    let root = root();
    let text = std::fs::read_to_string(root.join("findings.yaml")).expect("findings.yaml");
    let findings = Findings::parse("findings.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let (start, end) = ("<!-- findings:start -->\n", "<!-- findings:end -->");
    let from =
        readme.find(start).expect("README.md has a findings table between markers") + start.len();
    let to = readme[from..].find(end).expect("the findings table ends") + from;
    assert_eq!(
        &readme[from..to],
        findings.readme_table(),
        "README.md's findings table is stale: paste the output of `cargo xtask gate --findings-table`"
    );
}

/// A scenario with a defect-free variant on the model, one that names the reference SDK and
/// one with a defect.
const NAMING_THE_REFERENCE: &str = "\
schema_version: 1
name: inline/naming-the-reference
description: three variants, three SDKs
setup: { platform: ios, profile: documented }
variants:
  model: {}
  reference: { sdk: reference }
  buggy: { defects: [no-single-flight] }
steps:
  - cold_start: {}
  - advance: 1s
  - sign_in: {}
  - advance: 5s
";

/// An SDK other than the reference one, as the gate sees it (the reference SDK's behaviour
/// under another label, so it runs in-process).
struct Elsewhere;

impl gate::Subject for Elsewhere {
    fn label(&self) -> String {
        "elsewhere@1.0.0".to_string()
    }

    fn setup(
        &self,
        scenario: session_harness::model::settings::Setup,
    ) -> session_harness::model::settings::Setup {
        scenario
    }

    fn profiles(&self) -> Vec<session_harness::model::profile::ProfileId> {
        session_harness::model::profile::ProfileId::ALL.to_vec()
    }

    fn run(
        &self,
        setup: session_harness::model::settings::Setup,
        events: &[session_harness::model::vocab::Event],
        seed: Option<u64>,
    ) -> session_harness::runner::lockstep::LockstepOutcome {
        session_harness::runner::lockstep::run_reference(setup, &[], events, seed)
    }
}

/// A variant that names the reference SDK (`sdk: reference`) runs under the gate on the
/// reference SDK, and passes there; any other SDK leaves it out, as it leaves out the
/// variants with defects, so an external SDK's snapshots do not gain a copy of a variant
/// meant for the reference SDK.
#[test]
fn a_variant_naming_the_reference_sdk_is_gated_on_the_reference_sdk_only() {
    let sc = scenario::parse("inline.yaml", NAMING_THE_REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    let scenarios = [sc];
    let plan = Plan { scenarios: &scenarios, cases: 0, seed: 0x6a7e_0001, steps_max: 30 };
    let ran = |subject: &dyn gate::Subject| {
        gate::run(subject, &plan, &Findings::default(), 1, &|_| {})
            .into_iter()
            .map(|r| (r.variant, r.verdict))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ran(&ReferenceSubject::default()),
        [("model".to_string(), Verdict::Pass), ("reference".to_string(), Verdict::Pass)]
    );
    assert_eq!(ran(&Elsewhere), [("model".to_string(), Verdict::Pass)]);
}
