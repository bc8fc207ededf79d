//! `cargo xtask report -o report.html`: one self-contained HTML page for a person reading a
//! red CI run. Failures come first: the verdict table lists every scenario variant, failing
//! ones on top, each with the reason in words and a link to its timeline; broken invariants
//! are split into the unexpected (red) and those the scenario or profile expects (grey), in
//! the table and in the timelines alike. Then the coverage of a seeded campaign as a heat
//! map (a declared-reachable pair never reached is red), the profile differences and known
//! deviations, and one timeline per variant that broke an invariant, failures first.
//! A progress bar on stderr follows the scenarios and the campaign.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use session_harness::generate::TRACE_STEPS_DEFAULT;
use session_harness::invariants::InvariantId;
use session_harness::model::profile::{PROFILE_DIFFERENCES, ProfileId};
use session_harness::model::vocab::{Event, SessionStatus};
use session_harness::runner::{self, Coverage, KNOWN_DEVIATIONS};
use session_harness::scenario;
use session_harness::trace::timeline;

use crate::term;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the HTML report.
    #[arg(short, long)]
    output: PathBuf,
    /// Scenarios folder.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Cases per profile in the coverage campaign.
    #[arg(long, default_value_t = 1000, value_parser = crate::counts::parse_cases)]
    cases: u64,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An HTML id for a variant's timeline.
fn anchor(scenario: &str, variant: &str) -> String {
    format!("timeline-{scenario}-{variant}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .collect()
}

/// One verdict row.
struct Row {
    rank: u8,
    scenario: String,
    variant: String,
    sdk: String,
    verdict: &'static str,
    class: &'static str,
    reason: String,
    unexpected: Vec<InvariantId>,
    expected: Vec<InvariantId>,
    timeline: Option<String>,
}

pub fn run(args: Args) -> Result<bool> {
    let files = scenario::files::yaml_files(&args.scenarios)
        .with_context(|| format!("reading {}", args.scenarios.display()))?;
    let bar = term::progress(files.len() as u64 + args.cases * 2, "scenario files, then cases");
    let mut rows: Vec<Row> = Vec::new();
    for file in &files {
        let display = file.to_string_lossy().to_string();
        let scenario = scenario::load(file, &display)?;
        for variant in &scenario.variants {
            let name = variant.name.clone();
            let run = scenario::run_variant(&scenario, variant, scenario::default_system());
            let expects = &variant.expect.violates;
            let profile = variant.setup.profile;
            let row = match &run {
                Ok(r) => {
                    let broken = scenario::run::broken(r);
                    // Expected: what the scenario says must break, the profile's known
                    // deviations, and what `holds: [ids]` leaves unchecked.
                    let unchecked = |id: &InvariantId| {
                        variant.expect.holds_only.as_ref().is_some_and(|only| !only.contains(id))
                    };
                    let (expected, unexpected): (Vec<_>, Vec<_>) =
                        broken.into_iter().partition(|id| {
                            expects.contains(id) || runner::is_known(profile, *id) || unchecked(id)
                        });
                    let timeline = (!r.outcome.report.violations.is_empty()).then(|| {
                        let title =
                            format!("{} — variant {} ({})", scenario.name, r.variant, r.sdk);
                        timeline::svg_expecting(
                            &r.outcome.trace,
                            &r.outcome.report,
                            &title,
                            expects,
                        )
                    });
                    let passed = r.passed();
                    Row {
                        rank: if passed { 2 } else { 0 },
                        scenario: scenario.name.clone(),
                        variant: name,
                        sdk: r.sdk.clone(),
                        verdict: if passed { "pass" } else { "FAIL" },
                        class: if passed { "pass" } else { "fail" },
                        reason: if passed {
                            if expected.is_empty() {
                                "every invariant held".to_string()
                            } else {
                                "broke only what it expects".to_string()
                            }
                        } else {
                            r.failures.join("; ")
                        },
                        unexpected,
                        expected,
                        timeline,
                    }
                }
                Err(e) => Row {
                    rank: 1,
                    scenario: scenario.name.clone(),
                    variant: name,
                    sdk: String::new(),
                    verdict: "skipped",
                    class: "skip",
                    reason: e.to_string(),
                    unexpected: Vec::new(),
                    expected: Vec::new(),
                    timeline: None,
                },
            };
            rows.push(row);
        }
        bar.inc(1);
    }
    // Failures first, then skipped, then passes; by name within each.
    rows.sort_by(|a, b| (a.rank, &a.scenario, &a.variant).cmp(&(b.rank, &b.scenario, &b.variant)));
    let failed = rows.iter().filter(|r| r.rank == 0).count();
    let skipped = rows.iter().filter(|r| r.rank == 1).count();
    let passed = rows.len() - failed - skipped;
    let ids = |v: &[InvariantId]| v.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ");
    let mut verdicts = String::new();
    let mut timelines = String::new();
    for r in &rows {
        let id = anchor(&r.scenario, &r.variant);
        let link = if r.timeline.is_some() {
            format!("<a href=\"#{id}\">timeline</a>")
        } else {
            String::new()
        };
        let _ = write!(
            verdicts,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"verdict\">{}</td>\
             <td>{}</td><td class=\"unexpected\">{}</td><td class=\"expected\">{}</td><td>{link}</td></tr>",
            r.class,
            escape(&r.scenario),
            escape(&r.variant),
            escape(&r.sdk),
            r.verdict,
            escape(&r.reason),
            escape(&ids(&r.unexpected)),
            escape(&ids(&r.expected)),
        );
        if let Some(svg) = &r.timeline {
            let _ = write!(
                timelines,
                "<section id=\"{id}\" class=\"{}\"><h3>{} {} [{}]</h3><p class=\"reason\">{}</p>\
                 <div class=\"svg\">{svg}</div><p><a href=\"#verdicts\">back to the verdicts</a></p></section>",
                r.class,
                r.verdict,
                escape(&r.scenario),
                escape(&r.variant),
                escape(&r.reason)
            );
        }
    }
    let mut coverage = Coverage::default();
    for profile in ProfileId::ALL {
        let (c, _) = runner::model_campaign(
            profile,
            0x5eed_0001,
            0..args.cases,
            TRACE_STEPS_DEFAULT,
            |_| bar.inc(1),
        );
        coverage.merge(&c);
    }
    bar.finish_and_clear();
    let mut differences = String::new();
    for d in PROFILE_DIFFERENCES {
        let _ = write!(
            differences,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(d.topic),
            escape(d.documented),
            escape(d.clerk_js_6)
        );
    }
    let mut deviations = String::new();
    for d in KNOWN_DEVIATIONS {
        let _ = write!(
            deviations,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.profile,
            d.invariant,
            escape(d.why)
        );
    }
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>session-harness report</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #111; }}
table {{ border-collapse: collapse; margin-bottom: 24px; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; font-size: 13px; text-align: left; vertical-align: top; }}
tr.fail td {{ background: #fee2e2; }} tr.fail td.verdict {{ color: #b91c1c; font-weight: bold; }}
tr.skip td {{ color: #888; }} td.unexpected {{ color: #b91c1c; }} td.expected {{ color: #6b7280; }}
.svg {{ overflow-x: auto; border: 1px solid #eee; margin-bottom: 8px; }}
.summary {{ font-size: 16px; }} .summary b.fail {{ color: #b91c1c; }}
table.heat td {{ text-align: right; min-width: 34px; font-size: 11px; }}
p.reason {{ font-size: 13px; }}
</style></head><body>
<h1>session-harness report</h1>
<p class="summary"><b class="{summary_class}">{failed} failed</b>, {skipped} skipped, {passed} passed scenario variants ({files} files). Failures are listed first; each links to its timeline.</p>
<h2 id="verdicts">Verdicts</h2>
<table><tr><th>scenario</th><th>variant</th><th>sdk</th><th>verdict</th><th>reason</th><th>broken, unexpected</th><th>broken, expected (scenario or known deviation)</th><th></th></tr>{verdicts}</table>
<h2>Coverage (seed 0x5eed0001, {cases} cases per profile, model)</h2>
{heat}
<h2>Profile differences</h2>
<table><tr><th>topic</th><th>documented</th><th>clerk-js-6</th></tr>{differences}</table>
<h2>Known deviations (findings)</h2>
<table><tr><th>profile</th><th>invariant</th><th>why</th></tr>{deviations}</table>
<h2>Timelines of variants that broke an invariant</h2>
{timelines}
</body></html>
"#,
        summary_class = if failed > 0 { "fail" } else { "" },
        files = files.len(),
        cases = args.cases,
        heat = heat_map(&coverage),
    );
    scenario::write_atomic(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "wrote {}: {} failed, {skipped} skipped, {passed} passed",
        args.output.display(),
        if failed > 0 { term::fail(&failed.to_string()) } else { failed.to_string() }
    );
    Ok(failed == 0)
}

/// Coverage as heat maps: how often each invariant was exercised, and each (event, status)
/// pair reached, shaded by the logarithm of the count; a declared-reachable pair never
/// reached is red.
fn heat_map(coverage: &Coverage) -> String {
    let max = coverage.pairs.values().copied().max().unwrap_or(1).max(1) as f64;
    let shade = |n: u64| {
        if n == 0 {
            "#fecaca".to_string()
        } else {
            let level = ((n as f64).ln_1p() / max.ln_1p()).clamp(0.0, 1.0);
            // From pale to deep blue.
            let light = 95.0 - 55.0 * level;
            format!("hsl(215, 80%, {light:.0}%)")
        }
    };
    let declared = runner::declared_reachable();
    let statuses: Vec<&str> =
        std::iter::once("none").chain(SessionStatus::ALL.iter().map(|s| s.as_str())).collect();
    let mut out = String::from(
        "<p>Each cell: how many steps applied the event while the session had the status. \
         Red: never reached although declared reachable.</p><table class=\"heat\"><tr><th>event \\ status</th>",
    );
    for s in &statuses {
        let _ = write!(out, "<th>{s}</th>");
    }
    out.push_str("</tr>");
    for e in Event::COVERAGE_NAMES {
        let _ = write!(out, "<tr><th>{e}</th>");
        for s in &statuses {
            let n = coverage.pairs.get(&(*s, e)).copied().unwrap_or(0);
            let colour =
                if n == 0 && !declared.contains(&(*s, e)) { "#f9fafb".into() } else { shade(n) };
            let _ = write!(
                out,
                "<td style=\"background:{colour}\" title=\"{e} while {s}: {n}\">{n}</td>"
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><table class=\"heat\"><tr><th>invariant</th><th>exercised</th><th>violated</th></tr>");
    let max_ex = coverage.exercised.values().copied().max().unwrap_or(1).max(1) as f64;
    for id in InvariantId::ALL {
        let ex = coverage.exercised.get(id).copied().unwrap_or(0);
        let vi = coverage.violated.get(id).copied().unwrap_or(0);
        let level = ((ex as f64).ln_1p() / max_ex.ln_1p()).clamp(0.0, 1.0);
        let colour = if ex == 0 {
            "#fecaca".to_string()
        } else {
            format!("hsl(145, 60%, {:.0}%)", 95.0 - 50.0 * level)
        };
        let _ = write!(
            out,
            "<tr><th>{}</th><td style=\"background:{colour}\">{ex}</td><td>{vi}</td></tr>",
            id.as_str()
        );
    }
    let _ = write!(out, "</table><p>{} cases, {} steps.</p>", coverage.cases, coverage.steps);
    out
}
