//! `cargo xtask report -o report.html`: one self-contained HTML page for a person reading a
//! red CI run — the verdict table of every scenario variant, the coverage table of a seeded
//! campaign, the profile differences and known deviations, the defect matrix, and one
//! timeline per scenario variant that broke an invariant.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use session_harness::generate::TRACE_STEPS_DEFAULT;
use session_harness::model::profile::{PROFILE_DIFFERENCES, ProfileId};
use session_harness::runner::{self, Coverage, KNOWN_DEVIATIONS};
use session_harness::scenario;
use session_harness::trace::timeline;

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
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub fn run(args: Args) -> Result<bool> {
    let files = scenario::files::yaml_files(&args.scenarios)
        .with_context(|| format!("reading {}", args.scenarios.display()))?;
    let mut verdicts = String::new();
    let mut timelines = String::new();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for file in &files {
        let display = file.to_string_lossy().to_string();
        let scenario = scenario::load(file, &display)?;
        for (name, run) in scenario::run_all(&scenario, scenario::default_system()) {
            let (verdict, class, broken, sdk) = match &run {
                Ok(r) if r.passed() => {
                    passed += 1;
                    ("pass", "pass", scenario::run::broken(r), r.sdk.clone())
                }
                Ok(r) => {
                    failed += 1;
                    ("FAIL", "fail", scenario::run::broken(r), r.sdk.clone())
                }
                Err(e) => {
                    skipped += 1;
                    ("skipped", "skip", Vec::new(), e.to_string())
                }
            };
            let broken_text = broken.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ");
            let _ = write!(
                verdicts,
                "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{verdict}</td><td>{}</td></tr>",
                escape(&scenario.name),
                escape(&name),
                escape(&sdk),
                escape(&broken_text)
            );
            if let Ok(r) = &run
                && !r.outcome.report.violations.is_empty()
            {
                let title = format!("{} — variant {} ({})", scenario.name, r.variant, r.sdk);
                let _ = write!(
                    timelines,
                    "<h3>{}</h3><div class=\"svg\">{}</div>",
                    escape(&title),
                    timeline::svg(&r.outcome.trace, &r.outcome.report, &title)
                );
                for v in r.outcome.report.violations.iter().take(3) {
                    let _ = write!(timelines, "<pre>{}</pre>", escape(&v.to_string()));
                }
            }
        }
    }
    let mut coverage = Coverage::default();
    for profile in ProfileId::ALL {
        let (c, _) = runner::model_campaign(
            profile,
            0x5eed_0001,
            0..args.cases,
            TRACE_STEPS_DEFAULT,
            |_| {},
        );
        coverage.merge(&c);
    }
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
td, th {{ border: 1px solid #ddd; padding: 3px 8px; font-size: 13px; text-align: left; }}
tr.fail td {{ background: #fee2e2; }} tr.skip td {{ color: #888; }}
pre {{ background: #f6f6f6; padding: 8px; font-size: 12px; white-space: pre-wrap; }}
.svg {{ overflow-x: auto; border: 1px solid #eee; margin-bottom: 8px; }}
</style></head><body>
<h1>session-harness report</h1>
<p>{passed} scenario variants passed, {failed} failed, {skipped} skipped ({} files).</p>
<h2>Verdicts</h2>
<table><tr><th>scenario</th><th>variant</th><th>sdk</th><th>verdict</th><th>invariants broken (as expected when the verdict is pass)</th></tr>{verdicts}</table>
<h2>Coverage (seed 0x5eed0001, {} cases per profile, model)</h2>
<pre>{}</pre>
<h2>Profile differences</h2>
<table><tr><th>topic</th><th>documented</th><th>clerk-js-6</th></tr>{differences}</table>
<h2>Known deviations (findings)</h2>
<table><tr><th>profile</th><th>invariant</th><th>why</th></tr>{deviations}</table>
<h2>Timelines of variants that broke an invariant</h2>
{timelines}
</body></html>
"#,
        files.len(),
        args.cases,
        escape(&coverage.table()),
    );
    scenario::write_atomic(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "wrote {}: {passed} passed, {failed} failed, {skipped} skipped",
        args.output.display()
    );
    Ok(failed == 0)
}
