//! One vocabulary for people: what step tables, snapshots, logs and divergence messages
//! print, in the scenario format's own words (`network: offline`, `signed_in=undefined`,
//! `load`, `local_wipe`), never Rust's `Debug` (`Offline`, `Some(false)`, `LocalWipe`). A
//! value printed here can be pasted into a scenario's `expect:` or step list as it stands.

use serde::Serialize;

use crate::model::vocab::{AuthView, DeviceView, ServerView, SessionView};

/// The name serde gives a unit-like value (`CallKind::GetToken` → `get_token`): the same
/// snake_case word the scenario format and the JSON traces use.
pub fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_string(),
    }
}

/// `isSignedIn` as a scenario's `signed_in` writes it: `true`, `false` or `undefined`.
pub fn signed_in(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "undefined",
    }
}

/// A session as `id:status`, with its task (`sess_1:pending(setup-mfa)`), or `none`.
pub fn session(s: Option<SessionView>) -> String {
    match s {
        Some(s) => match s.task {
            Some(t) => format!("{}:{}({})", s.id, s.status, t.as_str()),
            None => format!("{}:{}", s.id, s.status),
        },
        None => "none".into(),
    }
}

/// What the app shows, as an inline `expect` would check it:
/// `route=protected path=/home loaded=true signed_in=true session=sess_1:active`.
pub fn view(v: &AuthView) -> String {
    format!(
        "route={} loaded={} signed_in={} session={}",
        v.route,
        v.is_loaded,
        signed_in(v.is_signed_in),
        session(v.session)
    )
}

/// The device's truth: `running=true app_state=background network=offline`.
pub fn device(d: &DeviceView) -> String {
    format!("running={} app_state={} network={}", d.running, word(&d.app_state), word(&d.network))
}

/// The server's truth: `server_status=sess_1:active credential_restores=true
/// sessions=[sess_1:active]`.
pub fn server(s: &ServerView) -> String {
    let current = s.session.map(|(id, st)| format!("{id}:{st}")).unwrap_or_else(|| "none".into());
    let all: Vec<String> = s.sessions.iter().map(|(id, st)| format!("{id}:{st}")).collect();
    format!(
        "server_status={current} credential_restores={} sessions=[{}]",
        s.persisted_credential_valid,
        all.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::vocab::{AppState, CallKind, Network, SignOutCause};

    #[test]
    fn words_are_the_scenario_formats_not_debug() {
        assert_eq!(word(&CallKind::GetToken), "get_token");
        assert_eq!(word(&Network::Offline), "offline");
        assert_eq!(word(&AppState::Background), "background");
        assert_eq!(word(&SignOutCause::LocalWipe), "local_wipe");
        assert_eq!(signed_in(None), "undefined");
        assert_eq!(signed_in(Some(false)), "false");
        let d =
            DeviceView { running: true, app_state: AppState::Active, network: Network::Offline };
        assert_eq!(device(&d), "running=true app_state=active network=offline");
    }
}
