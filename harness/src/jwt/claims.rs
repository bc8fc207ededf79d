//! The claim set of a Clerk session JWT (v2) and its mapping to the model's [`TokenInfo`].
//!
//! Claims: `azp exp fva iat iss nbf sid sts sub v` (reference §4.5). The header carries `alg`
//! RS256, `kid`, `typ` JWT and `oiat`, which clerk-js compares to keep the freshest token
//! (reference §1.6). We put the server's monotonic token serial in `oiat`, so a newer token
//! always wins the comparison and the serial survives a trip through text.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::model::vocab::{SessionId, TokenInfo, UserId};

/// The header field clerk-js reads for freshness; it holds [`TokenInfo::serial`].
pub const OIAT_HEADER: &str = "oiat";

/// The JWT claims of a session token, in the order Clerk emits them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Authorized party: the origin the token was minted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    pub exp: u64,
    /// Factor verification age in minutes, `[first, second]`, `-1` for never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fva: Option<[i64; 2]>,
    pub iat: u64,
    pub iss: String,
    pub nbf: u64,
    pub sid: String,
    /// `active` or `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    pub sub: String,
    /// Claims version; 2 for the current format.
    pub v: u8,
}

/// Why claims do not describe a session token of this harness.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("claim `sid` = `{0}` is not a session id; expected `sess_<n>`")]
    BadSid(String),
    #[error("claim `sub` = `{0}` is not a user id; expected `user_<n>`")]
    BadSub(String),
    #[error("claim `sts` = `{0}` is not a session status claim; expected `active` or `pending`")]
    BadSts(String),
}

impl SessionClaims {
    /// The claims the emulator signs for `info`.
    ///
    /// `fva` is fixed at `[0, -1]` (first factor just verified, no second factor): the model
    /// does not track factor ages and nothing in the lifecycle reads them.
    pub fn from_info(info: &TokenInfo, issuer: &str, azp: &str) -> SessionClaims {
        SessionClaims {
            azp: Some(azp.to_string()),
            exp: info.exp,
            fva: Some([0, -1]),
            iat: info.iat,
            iss: issuer.to_string(),
            nbf: info.nbf,
            sid: info.sid.to_string(),
            sts: Some(if info.pending { "pending" } else { "active" }.to_string()),
            sub: info.sub.to_string(),
            v: 2,
        }
    }

    /// The model's view of these claims; `serial` comes from the `oiat` header.
    pub fn to_info(&self, serial: u64) -> Result<TokenInfo, ClaimsError> {
        let sid =
            SessionId::parse(&self.sid).ok_or_else(|| ClaimsError::BadSid(self.sid.clone()))?;
        let sub = UserId::parse(&self.sub).ok_or_else(|| ClaimsError::BadSub(self.sub.clone()))?;
        let pending = match self.sts.as_deref() {
            None | Some("active") => false,
            Some("pending") => true,
            Some(other) => return Err(ClaimsError::BadSts(other.to_string())),
        };
        Ok(TokenInfo { sid, sub, iat: self.iat, nbf: self.nbf, exp: self.exp, pending, serial })
    }
}

/// Base64url without padding, the JWT alphabet.
pub fn b64url_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, with or without padding.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT.decode(text)
}

/// The header and claims of a compact JWT, decoded without any verification. For tools and
/// tests that need to look inside a token; a backend must use [`super::Verifier`].
pub fn peek(jwt: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    let mut parts = jwt.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    parts.next()?;
    let header = serde_json::from_slice(&b64url_decode(header).ok()?).ok()?;
    let payload = serde_json::from_slice(&b64url_decode(payload).ok()?).ok()?;
    Some((header, payload))
}
