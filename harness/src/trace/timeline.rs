//! The timeline picture: a trace drawn as lanes over virtual time, as SVG.
//!
//! Lanes: app state, network, the server's status of the SDK's session, what the app renders
//! (route), session-token validity windows (or why there are none), and FAPI requests with
//! their outcomes. Below the lanes, the axis names every step's event at its instant; above
//! them, every broken invariant is a marker: red when it is unexpected, grey and dashed when
//! it is a known deviation of the profile. A legend explains every colour.
//!
//! Traces span milliseconds to weeks, so the x-axis is *time-proportional with breaks*: time
//! runs linearly (every interval between two instants where something happens also gets
//! [`GAP_MIN_PX`], so bursts stay visible), except that a quiet gap longer than [`GAP_BREAK_MS`] (a kill of five
//! minutes, a week in the background) is drawn as a fixed-width break `≈ 5m` (two slanted
//! strokes, as on a broken axis), so a five-minute wait is neither as wide as 0 s nor wider
//! than everything else.

use std::fmt::Write as _;

use crate::model::time::{VTime, format_clock, format_duration};
use crate::model::vocab::{AppState, CallResult, Happening, Network, RequestOutcome, Route};
use crate::runner::is_known;
use crate::trace::Trace;
use crate::trace::verdict::Report;

const LEFT: f64 = 130.0;
/// Width of the time-proportional plot, in pixels.
const PLOT: f64 = 1080.0;
const RIGHT: f64 = 30.0;
const LANE: f64 = 26.0;
/// A quiet gap longer than this is drawn as a break of [`BREAK_WIDTH`].
pub const GAP_BREAK_MS: u64 = 90_000;
const BREAK_WIDTH: f64 = 34.0;
/// Every interval between two instants where something happens gets this much on top of its
/// proportional width, so a burst of requests 50 ms after a minute's wait stays visible.
const GAP_MIN_PX: f64 = 6.0;
/// Rows of violation markers drawn; more are counted.
const MARKER_ROWS_MAX: usize = 6;
const MARKER_ROW: f64 = 15.0;

/// Maps virtual time to x: linear within runs of activity, fixed-width breaks across long
/// quiet gaps.
struct Axis {
    /// Instants where something happens, sorted, deduplicated.
    knots: Vec<u64>,
    /// x of each knot.
    xs: Vec<f64>,
    /// (x where the break starts, the gap it stands for).
    breaks: Vec<(f64, u64)>,
}

impl Axis {
    fn new(trace: &Trace, left: f64) -> Axis {
        let mut knots: Vec<u64> = Vec::new();
        for step in &trace.steps {
            knots.push(step.at.ms());
            knots.push(step.end().ms());
            knots.extend(step.obs.happenings.iter().map(|h| h.at().ms()));
        }
        knots.sort_unstable();
        knots.dedup();
        if knots.is_empty() {
            knots.push(0);
        }
        let gaps = || knots.windows(2).map(|w| w[1] - w[0]);
        let linear: u64 = gaps().filter(|gap| *gap <= GAP_BREAK_MS).sum();
        let linear_n = gaps().filter(|gap| *gap <= GAP_BREAK_MS).count();
        let breaks_n = gaps().filter(|gap| *gap > GAP_BREAK_MS).count();
        let fixed = BREAK_WIDTH * breaks_n as f64 + GAP_MIN_PX * linear_n as f64;
        let room = (PLOT - fixed).max(PLOT / 3.0);
        // A trace of a few milliseconds is not stretched across the page.
        let px_per_ms = if linear == 0 { 0.0 } else { (room / linear as f64).min(2.0) };
        let mut xs = vec![left];
        let mut breaks = Vec::new();
        for w in knots.windows(2) {
            let gap = w[1] - w[0];
            let x = *xs.last().expect("xs starts with one x");
            if gap > GAP_BREAK_MS {
                breaks.push((x, gap));
                xs.push(x + BREAK_WIDTH);
            } else {
                xs.push(x + GAP_MIN_PX + gap as f64 * px_per_ms);
            }
        }
        Axis { knots, xs, breaks }
    }

    /// x of instant `t`: interpolated between its knots (inside a break, at the break's end).
    fn x(&self, t: VTime) -> f64 {
        let t = t.ms();
        match self.knots.binary_search(&t) {
            Ok(i) => self.xs[i],
            Err(0) => self.xs[0],
            Err(i) if i >= self.knots.len() => *self.xs.last().expect("one knot at least"),
            Err(i) => {
                let (a, b) = (self.knots[i - 1], self.knots[i]);
                if b - a > GAP_BREAK_MS {
                    return self.xs[i];
                }
                let frac = (t - a) as f64 / (b - a) as f64;
                self.xs[i - 1] + frac * (self.xs[i] - self.xs[i - 1])
            }
        }
    }

    fn end(&self) -> f64 {
        *self.xs.last().expect("one knot at least")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A lane's box: `label` inside when it fits (cut with `…` when not), in full on hover.
fn rect(out: &mut String, top: f64, x0: f64, x1: f64, lane: usize, colour: &str, label: &str) {
    let y = top + LANE * lane as f64 + 3.0;
    let w = (x1 - x0).max(1.5);
    let _ = write!(
        out,
        r##"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{colour}" rx="2"><title>{}</title></rect>"##,
        LANE - 6.0,
        escape(label)
    );
    let fits = (w / 6.2) as usize;
    if fits >= 4 && !label.is_empty() {
        let shown: String = if label.chars().count() <= fits {
            label.to_string()
        } else {
            label.chars().take(fits - 1).chain(std::iter::once('…')).collect()
        };
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#111">{}</text>"##,
            x0 + 3.0,
            y + 13.0,
            escape(&shown)
        );
    }
}

/// Why the token lane is empty, in words.
fn no_token_reason(trace: &Trace) -> &'static str {
    let signed_in = trace.steps.iter().any(|s| s.obs.view.is_signed_in == Some(true));
    if !signed_in {
        "no session token: the app was never signed in"
    } else {
        "no session token reached a getToken caller or the backend"
    }
}

const LANES: [&str; 6] =
    ["app state", "network", "session (server)", "route", "token valid", "FAPI requests"];

/// Draws `trace` (with `report`'s violations marked) as a self-contained SVG document. The
/// profile's known deviations are drawn as expected.
pub fn svg(trace: &Trace, report: &Report, title: &str) -> String {
    svg_expecting(trace, report, title, &[])
}

/// [`svg`], with `expected` (what a scenario says must break) drawn as expected too: grey
/// and dashed, apart from the unexpected, red ones.
pub fn svg_expecting(
    trace: &Trace,
    report: &Report,
    title: &str,
    expected: &[crate::trace::verdict::InvariantId],
) -> String {
    let axis = Axis::new(trace, LEFT);
    let profile = trace.setup.profile;
    // Violation markers, stacked in rows so that no two labels overlap.
    let mut rows: Vec<f64> = Vec::new(); // per row, the x where its last label ends
    // (x, row, violation, known deviation, label drawn leftwards of its line)
    let mut markers: Vec<(f64, usize, &crate::trace::verdict::Violation, bool, bool)> = Vec::new();
    let plot_end = axis.end();
    let mut hidden = 0;
    let mut seen = std::collections::BTreeSet::new();
    for v in &report.violations {
        // One marker per invariant and step: repeats say nothing new.
        if !seen.insert((v.invariant, v.step)) {
            continue;
        }
        let x = axis.x(v.at);
        let label_w = 7.0 * (v.invariant.as_str().len() as f64 + 2.0);
        // A label that would run off the right edge is drawn leftwards of its line.
        let leftwards = x + label_w > plot_end + RIGHT + 110.0;
        let (from, to) = if leftwards { (x - label_w, x) } else { (x, x + label_w) };
        let known = is_known(profile, v.invariant) || expected.contains(&v.invariant);
        match rows.iter().position(|end| *end < from) {
            Some(row) => {
                rows[row] = to;
                markers.push((x, row, v, known, leftwards));
            }
            None if rows.len() < MARKER_ROWS_MAX => {
                rows.push(to);
                markers.push((x, rows.len() - 1, v, known, leftwards));
            }
            None => hidden += 1,
        }
    }
    let top = 40.0 + MARKER_ROW * rows.len().max(1) as f64;
    let axis_y = top + LANE * LANES.len() as f64;
    let width = LEFT + PLOT + RIGHT + 120.0;
    // Room for the rotated event names under the axis, then the legend.
    let labels_h = 150.0;
    let legend_y = axis_y + labels_h;
    let height = legend_y + 64.0;
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
    for (i, name) in LANES.iter().enumerate() {
        let y = top + LANE * i as f64;
        let _ = write!(
            out,
            r##"<text x="8" y="{:.1}" font-size="11" fill="#333">{name}</text>"##,
            y + 16.0
        );
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/>"##,
            axis.end()
        );
    }
    // Breaks in the axis: a grey band with two slanted strokes and the time it stands for.
    for (x, gap) in &axis.breaks {
        let _ = write!(
            out,
            r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#f3f4f6"><title>{} with nothing happening, drawn short</title></rect>"##,
            x + 2.0,
            BREAK_WIDTH - 4.0,
            axis_y - top,
            format_duration(*gap)
        );
        for dx in [11.0, 19.0] {
            let _ = write!(
                out,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#6b7280" stroke-width="1.5"/>"##,
                x + dx - 3.0,
                axis_y + 5.0,
                x + dx + 3.0,
                axis_y - 5.0
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#374151" text-anchor="middle">≈{}</text>"##,
            x + BREAK_WIDTH / 2.0,
            top - 3.0,
            escape(&format_duration(*gap))
        );
    }
    // The axis, and every step's event at its instant. Steps at one instant share a tick;
    // their names are spread out along the axis and joined to it by a thin line.
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#374151"/>"##,
        axis.end()
    );
    let mut next_free = 0.0f64;
    for step in &trace.steps {
        let x = axis.x(step.at);
        let lx = x.max(next_free);
        // Rotated 55°, names 15 px apart along the axis sit 12 px apart: no overlap.
        next_free = lx + 15.0;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{axis_y:.1}" stroke="#e5e7eb"/><line x1="{x:.1}" y1="{axis_y:.1}" x2="{lx:.1}" y2="{:.1}" stroke="#9ca3af"/>"##,
            axis_y + 8.0
        );
        let text = format!("#{} {} {}", step.index, format_clock(step.at.ms()), step.event);
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{:.1}" font-size="9.5" fill="#111" transform="rotate(55 {lx:.1} {:.1})">{}</text>"##,
            axis_y + 12.0,
            axis_y + 12.0,
            escape(&text.chars().take(34).collect::<String>())
        );
    }
    // Lanes that follow the step-end state, from each step's start to the next one's.
    for (i, step) in trace.steps.iter().enumerate() {
        let x0 = axis.x(step.at);
        let x1 = trace.steps.get(i + 1).map_or(axis.end(), |n| axis.x(n.at));
        if x1 <= x0 {
            continue;
        }
        let d = step.obs.device;
        let (colour, label) = match (d.running, d.app_state) {
            (false, _) => ("#d1d5db", "closed"),
            (true, AppState::Active) => ("#9be7a0", "active"),
            (true, AppState::Inactive) => ("#fde68a", "inactive"),
            (true, AppState::Background) => ("#a5b4fc", "background"),
        };
        rect(&mut out, top, x0, x1, 0, colour, label);
        let (colour, label) = match d.network {
            Network::Online => ("#bae6fd", "online"),
            Network::Offline => ("#fca5a5", "offline"),
            Network::Hanging => ("#fdba74", "hanging"),
        };
        rect(&mut out, top, x0, x1, 1, colour, label);
        let focus = step.obs.view.session.map(|s| s.id).or(step.obs.server.session.map(|s| s.0));
        if let Some(id) = focus
            && let Some(status) = step.obs.server.status_of(id)
        {
            let colour = if status.is_signed_in() { "#86efac" } else { "#fda4af" };
            rect(&mut out, top, x0, x1, 2, colour, &format!("{id} {status}"));
        }
    }
    // The route lane follows every render.
    let mut route: Option<(f64, Route)> = None;
    let mut tokens: Vec<(VTime, VTime, u64)> = Vec::new();
    let mut sent: Vec<(crate::model::vocab::RequestId, f64)> = Vec::new();
    let close_route = |out: &mut String, from: f64, to: f64, r: &Route| {
        rect(out, top, from, to, 3, route_colour(r), &r.to_string());
    };
    for step in &trace.steps {
        for h in &step.obs.happenings {
            match h {
                Happening::Rendered { at, view } => {
                    let x = axis.x(*at);
                    if let Some((from, r)) = route.take() {
                        close_route(&mut out, from, x, &r);
                    }
                    route = Some((x, view.route.clone()));
                }
                Happening::CallSettled { result: CallResult::Token { token }, .. }
                | Happening::BackendHit { token: Some(token), .. }
                    if !tokens.iter().any(|t| t.2 == token.serial) =>
                {
                    tokens.push((
                        VTime::from_unix_s(token.iat),
                        VTime::from_unix_s(token.exp),
                        token.serial,
                    ));
                }
                Happening::RequestSent { req, at, .. } => sent.push((*req, axis.x(*at))),
                Happening::RequestDone { req, at, endpoint, outcome, fault } => {
                    let x1 = axis.x(*at);
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
                    rect(&mut out, top, x0, x1.max(x0 + 2.0), 5, colour, &label);
                }
                _ => {}
            }
        }
    }
    if let Some((from, r)) = route {
        close_route(&mut out, from, axis.end(), &r);
    }
    if tokens.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#6b7280" font-style="italic">{}</text>"##,
            LEFT + 4.0,
            top + LANE * 4.0 + 16.0,
            no_token_reason(trace)
        );
    }
    for (iat, exp, serial) in tokens {
        let x0 = axis.x(iat);
        let x1 = axis.x(exp).max(x0 + 2.0);
        rect(&mut out, top, x0, x1, 4, "#fcd34d", &format!("token #{serial}"));
    }
    // Violations: a line through every lane at the instant, and a label in its own row.
    for (x, row, v, known, leftwards) in &markers {
        let (colour, dash, mark) = if *known {
            ("#9ca3af", r#" stroke-dasharray="4 3""#, "◦")
        } else {
            ("#dc2626", "", "✗")
        };
        let y = 34.0 + MARKER_ROW * *row as f64;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{axis_y:.1}" stroke="{colour}" stroke-width="2"{dash}><title>{}</title></line><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1" stroke-dasharray="1 2"/>"##,
            top - 2.0,
            escape(&format!("{v}{}", if *known { " (expected)" } else { "" })),
            y + 3.0,
            top - 2.0
        );
        let (tx, anchor) = if *leftwards { (x - 3.0, "end") } else { (x + 3.0, "start") };
        let _ = write!(
            out,
            r##"<text x="{tx:.1}" y="{y:.1}" font-size="11" fill="{colour}" font-weight="bold" text-anchor="{anchor}">{mark} {}</text>"##,
            escape(v.invariant.as_str())
        );
    }
    if hidden > 0 {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="30" font-size="11" fill="#dc2626">+{hidden} more broken invariants (see the report)</text>"##,
            LEFT + PLOT - 260.0
        );
    }
    legend(&mut out, legend_y);
    out.push_str("</svg>\n");
    out
}

fn route_colour(r: &Route) -> &'static str {
    match r {
        Route::Closed => "#e5e7eb",
        Route::Loading => "#fde68a",
        Route::SignIn { .. } => "#fca5a5",
        Route::Protected { .. } => "#86efac",
        Route::Task { .. } => "#c4b5fd",
    }
}

/// The key to every colour and mark, in two rows.
fn legend(out: &mut String, y: f64) {
    let rows: [&[(&str, &str)]; 2] = [
        &[
            ("#9be7a0", "active / protected"),
            ("#a5b4fc", "background"),
            ("#d1d5db", "closed"),
            ("#fde68a", "loading / inactive"),
            ("#fca5a5", "sign_in / offline"),
            ("#c4b5fd", "task"),
            ("#fcd34d", "token valid (iat → exp)"),
        ],
        &[
            ("#22c55e", "request 2xx"),
            ("#f97316", "request 401"),
            ("#ef4444", "request 4xx/5xx"),
            ("#7f1d1d", "network error"),
            ("#dc2626", "✗ invariant broken"),
            ("#9ca3af", "◦ expected (scenario or known deviation)"),
            ("#f3f4f6", "≈ long quiet gap, drawn short"),
        ],
    ];
    let _ = write!(
        out,
        r##"<text x="8" y="{:.1}" font-size="11" font-weight="bold">legend</text>"##,
        y + 12.0
    );
    for (r, items) in rows.iter().enumerate() {
        let mut x = LEFT;
        let yy = y + 22.0 * r as f64;
        for (colour, text) in *items {
            let _ = write!(
                out,
                r##"<rect x="{x:.1}" y="{yy:.1}" width="14" height="14" fill="{colour}" stroke="#9ca3af" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#111">{}</text>"##,
                x + 18.0,
                yy + 11.0,
                escape(text)
            );
            x += 26.0 + 6.6 * text.chars().count() as f64;
        }
    }
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
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 90_000 },
        ];
        // `documented`: fresh-token-only is no known deviation there, so it is drawn red.
        let outcome =
            runner::run_model(Setup::new(Platform::Ios, ProfileId::Documented), &events, None);
        let mut report = outcome.report.clone();
        let clean = svg(&outcome.trace, &report, "t");
        assert!(clean.starts_with("<svg") && clean.trim_end().ends_with("</svg>"));
        for needle in ["app state", "protected(/home)", "token #", "tokens → 200", "legend"] {
            assert!(clean.contains(needle), "missing {needle}");
        }
        // No violation line (the legend still explains the mark).
        assert!(!clean.contains(r##"stroke="#dc2626" stroke-width="2""##));
        report.violations.push(crate::trace::verdict::Violation {
            invariant: crate::trace::verdict::InvariantId::FreshTokenOnly,
            step: 4,
            at: outcome.trace.steps[4].at,
            expected: "e".into(),
            observed: "o".into(),
        });
        let marked = svg(&outcome.trace, &report, "t");
        assert!(marked.contains("✗ fresh-token-only"));
        // Expected by the scenario: drawn apart, grey and dashed.
        let expected = svg_expecting(
            &outcome.trace,
            &report,
            "t",
            &[crate::trace::verdict::InvariantId::FreshTokenOnly],
        );
        assert!(expected.contains("◦ fresh-token-only") && !expected.contains("✗ fresh"));
    }

    #[test]
    fn a_long_quiet_gap_is_a_break_and_event_names_sit_on_the_axis() {
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 2_000 },
            Event::Kill,
            Event::Advance { ms: 5 * 60_000 },
            Event::ColdStart,
            Event::Advance { ms: 3_000 },
        ];
        let outcome =
            runner::run_model(Setup::new(Platform::Android, ProfileId::Documented), &events, None);
        let drawn = svg(&outcome.trace, &outcome.report, "t");
        assert!(drawn.contains("≈5m"), "the five-minute kill is drawn as a break");
        assert!(drawn.contains("#2 2.000s kill"), "event names on the axis");
        assert!(drawn.contains("no session token: the app was never signed in"));
        let axis = Axis::new(&outcome.trace, LEFT);
        assert!(axis.end() <= LEFT + PLOT + 1.0, "the plot fits its width");
        assert_eq!(axis.breaks.len(), 1);
    }
}
