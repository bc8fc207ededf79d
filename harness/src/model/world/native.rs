//! The model's record of the iOS native layer (clerk-ios behind `<AuthView>`): configured
//! from JS once JS has loaded, it lives with the process and survives a JS reload.
//! Mirrors `sdk/reference/js/native.rs`.

use crate::model::server::ClientToken;
use crate::model::vocab::Platform;

use super::World;

/// The iOS native SDK layer (clerk-ios behind `<AuthView>`): lives with the process, survives
/// a JS reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Native {
    pub(super) configured: bool,
    pub(super) device_token: Option<ClientToken>,
}

impl World {
    /// The iOS native layer is configured from JS once JS has loaded (Expo 4.x order), with
    /// the client token the device holds then.
    pub(super) fn configure_native(&mut self) {
        if self.device.platform == Platform::Ios && !self.native.configured {
            self.native.configured = true;
            self.native.device_token = self.held_client_token();
        }
    }
}
