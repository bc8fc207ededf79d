//! What the commands share about the terminal: colour for verdicts (off when `NO_COLOR` is
//! set to anything non-empty, see no-color.org, or when stdout is not a terminal) and the
//! progress bar every command longer than a few seconds shows on stderr (drawn only on a
//! terminal, so piped and CI output stays clean).

use console::{Style, Term};
use indicatif::{ProgressBar, ProgressStyle};

/// Whether verdicts are coloured: stdout is a colour terminal and `NO_COLOR` is unset or
/// empty.
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && Term::stdout().features().colors_supported()
}

fn paint(text: &str, style: Style) -> String {
    if colour() { style.force_styling(true).apply_to(text).to_string() } else { text.to_string() }
}

/// A failing verdict (`FAIL`, `BROKEN`): bold red, so it stands out among many lines.
pub fn fail(text: &str) -> String {
    paint(text, Style::new().red().bold())
}

/// A passing verdict: green.
pub fn pass(text: &str) -> String {
    paint(text, Style::new().green())
}

/// A hint (what to do next): yellow.
pub fn hint(text: &str) -> String {
    paint(text, Style::new().yellow())
}

/// A progress bar of `len` `unit`s on stderr, with its rate and time left. Hidden when
/// stderr is not a terminal (indicatif's default), and when `NO_COLOR` asks for plain output
/// it still draws, without colour.
pub fn progress(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  {{per_sec}}  eta {{eta}}"
        ))
        .expect("the template is valid"),
    );
    bar
}
