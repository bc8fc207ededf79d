//! The claim set of a Clerk session JWT (v2) and its mapping to the model's [`TokenInfo`].
//!
//! Claims: `azp exp fva iat iss nbf sid sts sub v` (reference §4.5). A JWT template's token
//! carries Clerk's default template claims `azp exp iat iss jti nbf sub` and the template's own
//! instead, with no session-bound claim (clerk/clerk-docs #2286); its `jti` names the session
//! and the template (`sess_3.supabase.17`), which Clerk's random `jti` does not, so the
//! harness can read a template token back into a [`TokenInfo`]. The header carries `alg`
//! RS256, `kid`, `typ` JWT and `oiat`, which clerk-js compares to keep the freshest token
//! (reference §1.6). We put the server's monotonic token serial in `oiat`, so a newer token
//! always wins the comparison and the serial survives a trip through text.

use base64::Engine as _;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::templates::Template;
use crate::model::vocab::{SessionId, TemplateName, TokenInfo, UserId};

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
    /// A template token's id (`<sid>.<template>.<serial>`); session tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    pub nbf: u64,
    /// The session; template tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `active` or `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    pub sub: String,
    /// Claims version; 2 for the current format. Template tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u8>,
    /// A template's custom claims (and any claim this harness does not name).
    #[serde(flatten)]
    pub custom: BTreeMap<String, serde_json::Value>,
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
    #[error("no claim `sid` (a session token) and no `jti` naming a template token")]
    MissingSid,
    #[error("claim `jti` = `{0}` does not name a template token; expected `<sid>.<template>.<n>`")]
    BadJti(String),
}

impl SessionClaims {
    /// The claims the emulator signs for `info`; `template` is the instance's template
    /// `info.template` names.
    ///
    /// `fva` is fixed at `[0, -1]` (first factor just verified, no second factor): the model
    /// does not track factor ages and nothing in the lifecycle reads them.
    pub fn from_info(
        info: &TokenInfo,
        issuer: &str,
        azp: &str,
        template: Option<&Template>,
    ) -> SessionClaims {
        if let Some(name) = info.template {
            let custom = template
                .into_iter()
                .flat_map(|t| t.claims())
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                .collect();
            return SessionClaims {
                azp: Some(azp.to_string()),
                exp: info.exp,
                fva: None,
                iat: info.iat,
                iss: issuer.to_string(),
                jti: Some(format!("{}.{name}.{}", info.sid, info.serial)),
                nbf: info.nbf,
                sid: None,
                sts: None,
                sub: info.sub.to_string(),
                v: None,
                custom,
            };
        }
        SessionClaims {
            azp: Some(azp.to_string()),
            exp: info.exp,
            fva: Some([0, -1]),
            iat: info.iat,
            iss: issuer.to_string(),
            jti: None,
            nbf: info.nbf,
            sid: Some(info.sid.to_string()),
            sts: Some(if info.pending { "pending" } else { "active" }.to_string()),
            sub: info.sub.to_string(),
            v: Some(2),
            custom: BTreeMap::new(),
        }
    }

    /// The model's view of these claims; `serial` comes from the `oiat` header.
    pub fn to_info(&self, serial: u64) -> Result<TokenInfo, ClaimsError> {
        let (sid, template) = match (&self.sid, &self.jti) {
            (Some(sid), _) => (sid.as_str(), None),
            (None, Some(jti)) => {
                let bad = || ClaimsError::BadJti(jti.clone());
                let mut parts = jti.split('.');
                let (Some(sid), Some(name), Some(_), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                (sid, Some(TemplateName::parse(name).map_err(|_| bad())?))
            }
            (None, None) => return Err(ClaimsError::MissingSid),
        };
        let sid = SessionId::parse(sid).ok_or_else(|| ClaimsError::BadSid(sid.to_string()))?;
        let sub = UserId::parse(&self.sub).ok_or_else(|| ClaimsError::BadSub(self.sub.clone()))?;
        let pending = match self.sts.as_deref() {
            None | Some("active") => false,
            Some("pending") => true,
            Some(other) => return Err(ClaimsError::BadSts(other.to_string())),
        };
        Ok(TokenInfo {
            sid,
            sub,
            iat: self.iat,
            nbf: self.nbf,
            exp: self.exp,
            pending,
            serial,
            template,
        })
    }

    /// The template claim `name` as text, if the token carries it as a string.
    pub fn custom_str(&self, name: &str) -> Option<&str> {
        self.custom.get(name).and_then(|v| v.as_str())
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
