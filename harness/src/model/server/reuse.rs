//! The instance's client-token reuse policy: which client a presented token reaches (the
//! current token, or a superseded one within the grace), what reuse outside the grace does
//! (`new_client`: nothing; `revoke_family`: the client and its sessions revoked), and which
//! sessions the policy put out of a device's reach.

use super::{Client, ClientToken, Server, set_status};
use crate::model::settings::{ReuseGrace, ReusePolicy};
use crate::model::time::VTime;
use crate::model::vocab::{ClientId, SessionId, SessionStatus};

impl Server {
    /// The client a token names, if the token is current: the same epoch, the client not
    /// revoked, and the token within the instance's reuse grace (by default at most
    /// [`super::CLIENT_TOKEN_GRACE_VERSIONS`] rotations old), so answers lost in flight or arriving
    /// out of order do not strand a device, while a token kept aside for long (the native
    /// layer's, clerk/javascript #9217) is refused. A grace in time is judged at
    /// [`Server::clock`], the latest instant the server has seen.
    pub fn resolve_client(&self, token: Option<ClientToken>) -> Option<ClientId> {
        let token = token?;
        let client = self.client(token.client)?;
        let current = client.epoch == token.epoch && !client.revoked;
        (current && self.within_grace(client, token.version)).then_some(client.id)
    }

    /// Whether `version` of `client` (current epoch) is the current token or a superseded one
    /// still within the reuse grace at [`Server::clock`].
    pub(super) fn within_grace(&self, client: &Client, version: u32) -> bool {
        if version > client.version {
            return false;
        }
        match self.settings.token_reuse.grace {
            ReuseGrace::Versions(n) => client.version - version <= n,
            ReuseGrace::WindowMs(window) => {
                version == client.version
                    || client
                        .minted
                        .iter()
                        .any(|(v, at)| *v == version + 1 && self.clock.since(*at) <= window)
            }
        }
    }

    /// A token of `client`'s current epoch that the server rotated past and no longer
    /// honours: reuse outside the grace. `revoke_family` revokes the client and its
    /// signed-in sessions; either policy notes a refused immediate predecessor.
    pub(super) fn detect_reuse(&mut self, token: Option<ClientToken>, now: VTime) {
        let Some(token) = token else { return };
        let Some(client) = self.client(token.client) else { return };
        if client.revoked
            || client.epoch != token.epoch
            || token.version > client.version
            || self.within_grace(client, token.version)
        {
            return;
        }
        let id = client.id;
        let sessions = client.sessions.clone();
        if self.settings.token_reuse.policy == ReusePolicy::RevokeFamily {
            for sid in sessions {
                if let Some(s) = self.session_mut(sid)
                    && s.status.is_signed_in()
                {
                    set_status(s, SessionStatus::Revoked, now);
                }
            }
            if let Some(c) = self.client_mut(id) {
                c.revoked = true;
            }
        }
        let in_time = matches!(self.settings.token_reuse.grace, ReuseGrace::WindowMs(_));
        if let Some(c) = self.client_mut(id)
            && (in_time || token.version + 1 == c.version)
        {
            c.superseded_refused = true;
        }
    }

    /// Signed-in sessions the device may have lost through no fault of its own: those of a
    /// client that refused such a token (`Client::superseded_refused`), or whose superseded token
    /// is `persisted` and no longer honoured: just before the current one, or any under a
    /// grace in time, which runs out while a device is away whatever it does. (Under Clerk's
    /// default a persisted token many rotations behind is the device's doing: it failed to
    /// store the ones it received.)
    pub fn orphaned_sessions(&self, persisted: Option<ClientToken>) -> Vec<SessionId> {
        let lapsed = persisted.and_then(|t| {
            let c = self.client(t.client)?;
            let lapsed = c.epoch == t.epoch
                && !c.revoked
                && t.version < c.version
                && !self.within_grace(c, t.version)
                && (t.version + 1 == c.version
                    || matches!(self.settings.token_reuse.grace, ReuseGrace::WindowMs(_)));
            lapsed.then_some(c.id)
        });
        self.clients
            .iter()
            .filter(|c| c.superseded_refused || Some(c.id) == lapsed)
            .flat_map(|c| c.sessions.iter().copied())
            .filter(|sid| self.session(*sid).is_some_and(|s| s.status.is_signed_in()))
            .collect()
    }
}
