//! docs/LIMITS.md states every limit once; this keeps it true: each row that names a
//! constant states that constant's value.

use session_harness::model::settings::{
    LATENCY_MS_MAX, MAX_LIFETIME_MS_MAX, REUSE_GRACE_VERSIONS_MAX, REUSE_GRACE_WINDOW_MS_MAX,
};
use session_harness::model::templates;
use session_harness::model::time::{DAY_MS, DURATION_MS_MAX, MINUTE_MS};
use session_harness::model::vocab::TEMPLATE_NAME_LEN_MAX;
use session_harness::model::world::JOBS_PER_STEP_MAX;
use session_harness::scenario::compile::{BACKGROUND_WAKE_MS_MAX, EVENTS_MAX, FAULT_COUNT_MAX};
use session_harness::scenario::files::FILE_BYTES_MAX;
use session_harness::sdk::external::protocol::LINE_BYTES_MAX;
use session_harness::serve::admin::{FAULTS_QUEUED_MAX, LOG_PAGE_MAX, RANDOM_FAULTS_MAX};
use session_harness::serve::clock::SPEED_MAX;
use session_harness::serve::front::{
    BODY_BYTES_MAX, CONNECTIONS_MAX, HEAD_BYTES_MAX, HEADER_READ_TIMEOUT, LOG_ENTRIES_MAX,
};
use session_harness::serve::settings_file::SETTINGS_FILE_BYTES_MAX;
use session_harness::trace::STEPS_MAX;

#[test]
fn every_limit_in_the_table_is_the_codes() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/LIMITS.md"),
    )
    .expect("docs/LIMITS.md");
    let row = |name: &str| {
        doc.lines()
            .find(|l| l.starts_with('|') && l.contains(name))
            .unwrap_or_else(|| panic!("docs/LIMITS.md has no row naming `{name}`"))
            .to_string()
    };
    let rows: Vec<(&str, String)> = vec![
        ("DURATION_MS_MAX", format!("{}", DURATION_MS_MAX / DAY_MS)),
        ("MAX_LIFETIME_MS_MAX", format!("{} years", MAX_LIFETIME_MS_MAX / DAY_MS / 365)),
        ("LATENCY_MS_MAX", format!("{} minutes", LATENCY_MS_MAX / MINUTE_MS)),
        ("REUSE_GRACE_VERSIONS_MAX", format!("0 ..= {} rotations", REUSE_GRACE_VERSIONS_MAX)),
        (
            "REUSE_GRACE_WINDOW_MS_MAX",
            format!("{} hour", REUSE_GRACE_WINDOW_MS_MAX / MINUTE_MS / 60),
        ),
        ("FILE_BYTES_MAX", FILE_BYTES_MAX.to_string()),
        ("SETTINGS_FILE_BYTES_MAX", SETTINGS_FILE_BYTES_MAX.to_string()),
        ("EVENTS_MAX", EVENTS_MAX.to_string()),
        ("compile::FAULT_COUNT_MAX", FAULT_COUNT_MAX.to_string()),
        ("BACKGROUND_WAKE_MS_MAX", format!("{} minutes", BACKGROUND_WAKE_MS_MAX / MINUTE_MS)),
        ("trace::STEPS_MAX", STEPS_MAX.to_string()),
        ("JOBS_PER_STEP_MAX", JOBS_PER_STEP_MAX.to_string()),
        ("BODY_BYTES_MAX", BODY_BYTES_MAX.to_string()),
        ("HEAD_BYTES_MAX", HEAD_BYTES_MAX.to_string()),
        ("HEADER_READ_TIMEOUT", format!("{} s", HEADER_READ_TIMEOUT.as_secs())),
        ("CONNECTIONS_MAX", CONNECTIONS_MAX.to_string()),
        ("LOG_ENTRIES_MAX", LOG_ENTRIES_MAX.to_string()),
        ("LOG_PAGE_MAX", LOG_PAGE_MAX.to_string()),
        ("FAULTS_QUEUED_MAX", FAULTS_QUEUED_MAX.to_string()),
        ("admin::FAULT_COUNT_MAX", session_harness::serve::admin::FAULT_COUNT_MAX.to_string()),
        ("RANDOM_FAULTS_MAX", RANDOM_FAULTS_MAX.to_string()),
        ("SPEED_MAX", SPEED_MAX.to_string()),
        ("LINE_BYTES_MAX", format!("{} MiB", LINE_BYTES_MAX >> 20)),
        ("TEMPLATES_MAX", format!("{} templates", templates::TEMPLATES_MAX)),
        ("INSTANCES_MAX", format!("1 ..= {}", session_harness::model::settings::INSTANCES_MAX)),
        (
            "TEMPLATE_CLAIMS_MAX",
            format!("at most {} custom claims", templates::TEMPLATE_CLAIMS_MAX),
        ),
        ("TEMPLATE_NAME_LEN_MAX", format!("{} characters", TEMPLATE_NAME_LEN_MAX)),
        ("CLAIM_VALUE_LEN_MAX", format!("values {} printable", templates::CLAIM_VALUE_LEN_MAX)),
        (
            "TEMPLATE_LIFETIME_MS_MIN",
            format!(
                "{} seconds ..= {} years",
                templates::TEMPLATE_LIFETIME_MS_MIN / 1000,
                templates::TEMPLATE_LIFETIME_MS_MAX / DAY_MS / 365
            ),
        ),
    ];
    for (name, value) in rows {
        let line = row(name);
        assert!(line.contains(&value), "docs/LIMITS.md: the `{name}` row lacks `{value}`: {line}");
    }
}
