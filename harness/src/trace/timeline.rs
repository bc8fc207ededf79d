//! The timeline picture: a trace drawn as lanes over virtual time, as SVG.
//!
//! Lanes: app state, network, the server's status of the SDK's session, what the app renders
//! (route), session-token validity windows, and FAPI requests with their outcomes; violations
//! are marked with a red line and their invariant.
//!
//! Traces span milliseconds to weeks, so the x-axis is *step-scaled*: every step gets a column
//! of the same width, and within a step time runs linearly. Each column is labelled with the
//! step's start time, so a reader sees both the order of events and when they happened.

use std::fmt::Write as _;

use crate::invariants::Report;
use crate::model::time::{VTime, format_clock};
use crate::model::vocab::{AppState, CallResult, Happening, Network, RequestOutcome, Route};
use crate::trace::Trace;

const LEFT: f64 = 150.0;
const COLUMN: f64 = 46.0;
const LANE: f64 = 26.0;
const TOP: f64 = 44.0;

/// Maps virtual time to x within step-scaled columns.
struct Axis {
    starts: Vec<VTime>,
    ends: Vec<VTime>,
}

impl Axis {
    fn new(trace: &Trace) -> Axis {
        Axis {
            starts: trace.steps.iter().map(|s| s.at).collect(),
            ends: trace.steps.iter().map(|s| s.end()).collect(),
        }
    }

    /// x of instant `t`, seen from step `hint` (a happening belongs to a known step).
    fn x_in(&self, step: usize, t: VTime) -> f64 {
        let (a, b) = (self.starts[step], self.ends[step]);
        let frac =
            if b > a { (t.since(a) as f64 / b.since(a) as f64).clamp(0.0, 1.0) } else { 0.5 };
        LEFT + COLUMN * (step as f64 + 0.1 + 0.8 * frac)
    }

    fn x_step(&self, step: usize) -> f64 {
        LEFT + COLUMN * step as f64
    }

    /// x of an instant anywhere in the trace (for spans crossing steps).
    fn x(&self, t: VTime) -> f64 {
        let step = self.starts.iter().rposition(|s| *s <= t).unwrap_or(0);
        // Prefer the last step that contains t, so instants at a boundary sit at its start.
        self.x_in(step, t)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn rect(out: &mut String, x0: f64, x1: f64, lane: usize, colour: &str, label: &str) {
    let y = TOP + LANE * lane as f64 + 3.0;
    let w = (x1 - x0).max(1.5);
    let _ = write!(
        out,
        r##"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{colour}" rx="2"><title>{}</title></rect>"##,
        LANE - 6.0,
        escape(label)
    );
    if w > 34.0 && !label.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#111">{}</text>"##,
            x0 + 3.0,
            y + 13.0,
            escape(&label.chars().take((w / 6.0) as usize).collect::<String>())
        );
    }
}

/// Draws `trace` (with `report`'s violations marked) as a self-contained SVG document.
pub fn svg(trace: &Trace, report: &Report, title: &str) -> String {
    let axis = Axis::new(trace);
    let steps = trace.steps.len().max(1);
    let lanes =
        ["app state", "network", "session (server)", "route", "token valid", "FAPI requests"];
    // Room on the right for the last violation's label.
    let width = LEFT + COLUMN * steps as f64 + 220.0;
    let height = TOP + LANE * lanes.len() as f64 + 70.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif">"#
    );
    let _ = write!(out, r##"<rect width="100%" height="100%" fill="#fff"/>"##);
    let _ = write!(
        out,
        r#"<text x="8" y="20" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, name) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let _ = write!(
            out,
            r##"<text x="8" y="{:.1}" font-size="11" fill="#333">{name}</text>"##,
            y + 16.0
        );
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##,
            width - 220.0
        );
    }
    // Step columns with their start times.
    let axis_y = TOP + LANE * lanes.len() as f64;
    for (i, step) in trace.steps.iter().enumerate() {
        let x = axis.x_step(i);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{axis_y:.1}" stroke="#f4f4f4"/>"##
        );
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#555" transform="rotate(40 {:.1} {:.1})"><title>{}</title>{} {}</text>"##,
            x + 2.0,
            axis_y + 12.0,
            x + 2.0,
            axis_y + 12.0,
            escape(&step.event.to_string()),
            step.index,
            escape(&format_clock(step.at.ms()))
        );
    }
    // Lanes that follow the step-end state.
    for (i, step) in trace.steps.iter().enumerate() {
        let (x0, x1) = (axis.x_step(i), axis.x_step(i + 1));
        let d = step.obs.device;
        let (colour, label) = match (d.running, d.app_state) {
            (false, _) => ("#ccc", "closed"),
            (true, AppState::Active) => ("#9be7a0", "active"),
            (true, AppState::Inactive) => ("#fde68a", "inactive"),
            (true, AppState::Background) => ("#a5b4fc", "background"),
        };
        rect(&mut out, x0, x1, 0, colour, label);
        let (colour, label) = match d.network {
            Network::Online => ("#bae6fd", "online"),
            Network::Offline => ("#fca5a5", "offline"),
        };
        rect(&mut out, x0, x1, 1, colour, label);
        let focus = step.obs.view.session.map(|s| s.id).or(step.obs.server.session.map(|s| s.0));
        if let Some(id) = focus
            && let Some(status) = step.obs.server.status_of(id)
        {
            let colour = if status.is_signed_in() { "#86efac" } else { "#fda4af" };
            rect(&mut out, x0, x1, 2, colour, &format!("{id} {status}"));
        }
    }
    // The route lane follows every render.
    let mut route: Option<(f64, Route)> = None;
    let mut tokens: Vec<(VTime, VTime, u64)> = Vec::new();
    let mut sent: Vec<(crate::model::vocab::RequestId, f64)> = Vec::new();
    let close_route = |out: &mut String, from: f64, to: f64, r: &Route| {
        let colour = match r {
            Route::Closed => "#e5e7eb",
            Route::Loading => "#fde68a",
            Route::SignIn { .. } => "#fca5a5",
            Route::Protected { .. } => "#86efac",
            Route::Task { .. } => "#c4b5fd",
        };
        rect(out, from, to, 3, colour, &r.to_string());
    };
    for (i, step) in trace.steps.iter().enumerate() {
        for h in &step.obs.happenings {
            match h {
                Happening::Rendered { at, view } => {
                    let x = axis.x_in(i, *at);
                    if let Some((from, r)) = route.take() {
                        close_route(&mut out, from, x, &r);
                    }
                    route = Some((x, view.route.clone()));
                }
                Happening::CallSettled { result: CallResult::Token { token }, .. }
                | Happening::BackendHit { token: Some(token), .. } => {
                    if !tokens.iter().any(|t| t.2 == token.serial) {
                        tokens.push((
                            VTime::from_unix_s(token.iat),
                            VTime::from_unix_s(token.exp),
                            token.serial,
                        ));
                    }
                }
                Happening::RequestSent { req, at, .. } => sent.push((*req, axis.x_in(i, *at))),
                Happening::RequestDone { req, at, endpoint, outcome, fault } => {
                    let x1 = axis.x_in(i, *at);
                    let x0 = sent.iter().find(|(r, _)| r == req).map(|(_, x)| *x).unwrap_or(x1);
                    let (colour, status) = match outcome {
                        RequestOutcome::Answered { status, .. } if *status < 300 => {
                            ("#22c55e", status.to_string())
                        }
                        RequestOutcome::Answered { status, .. } if *status == 401 => {
                            ("#f97316", status.to_string())
                        }
                        RequestOutcome::Answered { status, .. } => ("#ef4444", status.to_string()),
                        RequestOutcome::NetworkError { .. } => {
                            ("#7f1d1d", "network error".to_string())
                        }
                    };
                    let label = format!(
                        "{req} {} → {status}{}",
                        endpoint.as_str(),
                        fault.map(|f| format!(" (fault {})", f.name())).unwrap_or_default()
                    );
                    rect(&mut out, x0, x1.max(x0 + 2.0), 5, colour, &label);
                }
                _ => {}
            }
        }
    }
    if let Some((from, r)) = route {
        close_route(&mut out, from, axis.x_step(steps), &r);
    }
    for (iat, exp, serial) in tokens {
        let x0 = axis.x(iat);
        let x1 = axis.x(exp).max(x0 + 2.0);
        rect(&mut out, x0, x1, 4, "#fcd34d", &format!("token #{serial}"));
    }
    // Violations: a red line through every lane at the step that broke.
    for v in &report.violations {
        let step = (v.step as usize).min(steps - 1);
        let x = axis.x_in(step, v.at);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{axis_y:.1}" stroke="#dc2626" stroke-width="2"><title>{}</title></line>"##,
            TOP - 8.0,
            escape(&v.to_string())
        );
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#dc2626" font-weight="bold">✗ {}</text>"##,
            x + 3.0,
            TOP - 10.0,
            escape(v.invariant.as_str())
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ProfileId;
    use crate::model::settings::Setup;
    use crate::model::vocab::{Event, Platform};
    use crate::runner;

    #[test]
    fn draws_every_lane_and_marks_violations() {
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 1000 },
            Event::GetToken { skip_cache: true },
            Event::Advance { ms: 90_000 },
        ];
        let outcome =
            runner::run_model(Setup::new(Platform::Ios, ProfileId::ClerkJs6), &events, None);
        let mut report = outcome.report.clone();
        let clean = svg(&outcome.trace, &report, "t");
        assert!(clean.starts_with("<svg") && clean.trim_end().ends_with("</svg>"));
        for needle in ["app state", "protected(/home)", "token #", "tokens → 200", "sign_in"] {
            assert!(clean.contains(needle), "missing {needle}");
        }
        assert!(!clean.contains("✗"));
        report.violations.push(crate::invariants::Violation {
            invariant: crate::invariants::InvariantId::FreshTokenOnly,
            step: 4,
            at: outcome.trace.steps[4].at,
            expected: "e".into(),
            observed: "o".into(),
        });
        let marked = svg(&outcome.trace, &report, "t");
        assert!(marked.contains("✗ fresh-token-only"));
    }
}
