//! The words a trace uses for the `ClerkExpo` native module: which call JS made
//! ([`NativeCallName`]) and how the native happenings read. What each call does is
//! `model/native.rs`.

use serde::{Deserialize, Serialize};

use super::Happening;

/// A call JS makes on the `ClerkExpo` module (3.x TurboModule), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeCallName {
    Configure,
    GetSession,
    GetClientToken,
    SignOut,
}

impl NativeCallName {
    pub fn as_str(self) -> &'static str {
        match self {
            NativeCallName::Configure => "configure",
            NativeCallName::GetSession => "get_session",
            NativeCallName::GetClientToken => "get_client_token",
            NativeCallName::SignOut => "sign_out",
        }
    }
}

/// The native happenings in a trace's words (the step tables and the snapshots share them).
pub fn describe(h: &Happening) -> Option<String> {
    Some(match h {
        Happening::NativeCalled { call, answer, .. } => {
            format!("native {} → {answer}", call.as_str())
        }
        Happening::NativeRequest { endpoint, status, .. } => {
            format!("native request {} → {status}", endpoint.as_str())
        }
        Happening::NativeSignedIn { session, .. } => format!(
            "native sign-in → {}",
            session.map(|s| s.to_string()).unwrap_or_else(|| "refused".into())
        ),
        _ => return None,
    })
}
