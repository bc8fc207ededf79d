//! The client token a device holds: client, epoch and version under a MAC, and its wire form.

use serde::{Deserialize, Serialize};

use crate::model::vocab::{ClientId, ClientTokenTag};

/// Keyed digest of client tokens: tokens protect nothing here, the key only makes a forged or
/// mistyped token distinguishable from a real one.
pub(super) const CLIENT_TOKEN_MAC_KEY: u64 = 0x5e55_1011_4a4e_55e5;

/// The rotating client token (`__clerk_client_jwt`), as the server issues it.
///
/// `epoch` is the anti-session-fixation part: it changes at every sign-out, and a token of an
/// older epoch is refused. `version` grows with every response, so tokens can be ordered; a
/// superseded token outside the instance's reuse grace is refused too, and answered as its
/// reuse policy says (by default a new, empty client from `GET /v1/client` — the silent
/// sign-out of clerk/javascript #9217).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientToken {
    pub client: ClientId,
    pub epoch: u32,
    pub version: u32,
}

impl ClientToken {
    /// The opaque wire form carried in `authorization` headers and stored on the device.
    pub fn encode(&self) -> String {
        format!("ct.{}.{}.{}.{:016x}", self.client.0, self.epoch, self.version, self.mac())
    }

    /// The token as a trace names it.
    pub fn tag(&self) -> ClientTokenTag {
        ClientTokenTag { client: self.client, epoch: self.epoch, version: self.version }
    }

    /// Parses the wire form; `None` for anything that is not a token this server issued.
    pub fn decode(text: &str) -> Option<ClientToken> {
        let mut parts = text.strip_prefix("ct.")?.split('.');
        let client = ClientId(parts.next()?.parse().ok()?);
        let epoch = parts.next()?.parse().ok()?;
        let version = parts.next()?.parse().ok()?;
        let mac = u64::from_str_radix(parts.next()?, 16).ok()?;
        if parts.next().is_some() {
            return None;
        }
        let token = ClientToken { client, epoch, version };
        (token.mac() == mac).then_some(token)
    }

    pub(super) fn mac(&self) -> u64 {
        let mut h = CLIENT_TOKEN_MAC_KEY;
        for v in [self.client.0 as u64, self.epoch as u64, self.version as u64] {
            h = mix64(h ^ v);
        }
        h
    }
}

/// SplitMix64's finaliser: a cheap, well-spread, deterministic mixing step.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
