//! Session-JWT verification as a Clerk backend does it, with one typed reason per failure.
//!
//! Order of checks, each with its own [`Rejection`]: shape, `alg` (RS256 only; `none` named
//! apart), `kid` present and in the JWKS, signature length, signature, claim shape, issuer,
//! authorized party, then `exp` / `nbf` / `iat` against the *virtual* clock. The session's
//! server-side state is the backend's business ([`crate::backend`]), not this module's.
//!
//! jsonwebtoken checks `exp`/`nbf` against the system clock with a 60 s leeway by default
//! (DESIGN.md §4). Both of its time checks are switched off and the leeway set to zero; the
//! time checks here use the `now` passed in and nothing else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};

use super::claims::{OIAT_HEADER, SessionClaims, b64url_decode};
use super::keys::Jwks;
use crate::model::time::VTime;
use crate::model::vocab::{SessionStatus, TokenInfo};

/// Why a session token was refused. Every forged-token case has its own variant, so a test
/// can tell "rejected for the right reason" from "rejected by luck".
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Rejection {
    #[error("no session token: expected `Authorization: Bearer <jwt>`")]
    MissingToken,
    #[error("not a compact JWT: {detail}")]
    Malformed { detail: String },
    #[error("unsigned token (`alg: none`) refused; only RS256 is accepted")]
    AlgNone,
    #[error("algorithm `{alg}` refused; only RS256 is accepted")]
    AlgorithmNotAllowed { alg: String },
    #[error("token header has no `kid`; the key must be named in the JWKS")]
    MissingKid,
    #[error("`kid` `{kid}` is not in the JWKS")]
    UnknownKid { kid: String },
    #[error("signature is not an RS256 signature for this key: {detail}")]
    MalformedSignature { detail: String },
    #[error("signature does not match the header and claims")]
    SignatureMismatch,
    #[error("claims are not a session token's: {detail}")]
    BadClaims { detail: String },
    #[error("issuer `{found}` is not this instance's")]
    WrongIssuer { found: String },
    #[error("authorized party `{found}` is not allowed")]
    WrongAuthorizedParty { found: String },
    #[error("token expired at {exp} (unix s)")]
    Expired { exp: u64 },
    #[error("token not valid before {nbf} (unix s)")]
    NotYetValid { nbf: u64 },
    #[error("token issued in the future, at {iat} (unix s)")]
    IssuedInFuture { iat: u64 },
    #[error("session is {status}, not active or pending")]
    SessionNotActive { status: SessionStatus },
    #[error("session is unknown to the server")]
    UnknownSession,
    #[error("a JWT template's token is not a session token; the session API needs `sid`")]
    NotASessionToken,
    #[error("no JWT template `{name}` on this instance")]
    UnknownTemplate { name: String },
    #[error(
        "claim `{claim}` is {}, the template says `{expected}`",
        found.as_deref().map_or("missing".to_string(), |f| format!("`{f}`"))
    )]
    TemplateClaimMismatch { claim: String, expected: String, found: Option<String> },
}

impl Rejection {
    /// A short snake_case code for response bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::MissingToken => "missing_token",
            Rejection::Malformed { .. } => "malformed",
            Rejection::AlgNone => "alg_none",
            Rejection::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Rejection::MissingKid => "missing_kid",
            Rejection::UnknownKid { .. } => "unknown_kid",
            Rejection::MalformedSignature { .. } => "malformed_signature",
            Rejection::SignatureMismatch => "signature_mismatch",
            Rejection::BadClaims { .. } => "bad_claims",
            Rejection::WrongIssuer { .. } => "wrong_issuer",
            Rejection::WrongAuthorizedParty { .. } => "wrong_authorized_party",
            Rejection::Expired { .. } => "expired",
            Rejection::NotYetValid { .. } => "not_yet_valid",
            Rejection::IssuedInFuture { .. } => "issued_in_future",
            Rejection::SessionNotActive { .. } => "session_not_active",
            Rejection::UnknownSession => "unknown_session",
            Rejection::NotASessionToken => "not_a_session_token",
            Rejection::UnknownTemplate { .. } => "unknown_template",
            Rejection::TemplateClaimMismatch { .. } => "template_claim_mismatch",
        }
    }
}

/// A token whose signature and claims checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub kid: String,
    pub claims: SessionClaims,
    pub info: TokenInfo,
}

/// Verifies session JWTs against a JWKS, an issuer and the allowed authorized parties.
#[derive(Clone, Debug)]
pub struct Verifier {
    jwks: Jwks,
    issuer: String,
    authorized_parties: Vec<String>,
    validation: Validation,
    /// Texts whose signature checked out, with what they decoded to: a verdict on the
    /// signature is a function of the text and the keys, which never change, and the session
    /// minter reads the same expired token at every refresh that carries it. Shared by
    /// clones (the same keys); emptied at [`super::signer::SIGN_CACHE_ENTRIES_MAX`] entries.
    /// Only looked up, never iterated, so a HashMap's order cannot reach a trace.
    verified: Arc<Mutex<HashMap<String, Verified>>>,
}

impl Verifier {
    /// `authorized_parties` empty means any `azp` is accepted, as in Clerk's backend SDK.
    pub fn new(jwks: Jwks, issuer: &str, authorized_parties: &[&str]) -> Verifier {
        let mut validation = Validation::new(Algorithm::RS256);
        // Time is checked against the virtual clock below, never the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.validate_aud = false;
        // jsonwebtoken's own set type: only membership is read, nothing reaches a trace.
        validation.required_spec_claims =
            ["exp", "nbf", "iss", "sub"].into_iter().map(String::from).collect();
        Verifier {
            jwks,
            issuer: issuer.to_string(),
            authorized_parties: authorized_parties.iter().map(|s| s.to_string()).collect(),
            validation,
            verified: Arc::default(),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys this verifier trusts.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Full verification of a compact JWT at virtual time `now`.
    pub fn verify(&self, jwt: &str, now: VTime) -> Result<Verified, Rejection> {
        let verified = self.verify_signature(jwt)?;
        self.check_claims(&verified.claims, now)?;
        Ok(verified)
    }

    /// Shape, algorithm, key and signature, and the claims' shape; no issuer, party or time
    /// check. For the emulator's session minter, which must read an expired token it signed.
    pub fn verify_signature(&self, jwt: &str) -> Result<Verified, Rejection> {
        if let Some(verified) = self.lock_verified().get(jwt) {
            return Ok(verified.clone());
        }
        let verified = self.verify_signature_uncached(jwt)?;
        let mut cache = self.lock_verified();
        if cache.len() >= super::signer::SIGN_CACHE_ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(jwt.to_string(), verified.clone());
        Ok(verified)
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        // A panic while holding the lock leaves a valid map: recover it.
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn verify_signature_uncached(&self, jwt: &str) -> Result<Verified, Rejection> {
        let malformed = |detail: &str| Rejection::Malformed { detail: detail.to_string() };
        let parts: Vec<&str> = jwt.split('.').collect();
        if parts.len() != 3 {
            return Err(Rejection::Malformed {
                detail: format!("expected 3 dot-separated parts, found {}", parts.len()),
            });
        }
        let header_bytes =
            b64url_decode(parts[0]).map_err(|_| malformed("header is not base64url"))?;
        let header: serde_json::Value = serde_json::from_slice(&header_bytes)
            .map_err(|_| malformed("header is not a JSON object"))?;
        let alg = header
            .get("alg")
            .and_then(|a| a.as_str())
            .ok_or_else(|| malformed("header has no string `alg`"))?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(Rejection::AlgNone);
        }
        if alg != "RS256" {
            return Err(Rejection::AlgorithmNotAllowed { alg: alg.to_string() });
        }
        let kid = match header.get("kid") {
            None | Some(serde_json::Value::Null) => return Err(Rejection::MissingKid),
            Some(serde_json::Value::String(kid)) => kid.clone(),
            Some(_) => return Err(malformed("header `kid` is not a string")),
        };
        let Some((key, signature_len)) = self.jwks.find(&kid) else {
            return Err(Rejection::UnknownKid { kid });
        };
        // An RS256 signature is exactly as long as the modulus; anything else is not a
        // signature at all, which is a different thing from a signature that does not match.
        match b64url_decode(parts[2]) {
            Err(_) => {
                return Err(Rejection::MalformedSignature {
                    detail: "signature is not base64url".to_string(),
                });
            }
            Ok(sig) if sig.len() != signature_len => {
                return Err(Rejection::MalformedSignature {
                    detail: format!("{} bytes, expected {signature_len}", sig.len()),
                });
            }
            Ok(_) => {}
        }
        let data = jsonwebtoken::decode::<SessionClaims>(jwt, key, &self.validation).map_err(
            |e| match e.into_kind() {
                ErrorKind::InvalidSignature => Rejection::SignatureMismatch,
                ErrorKind::MissingRequiredClaim(claim) => {
                    Rejection::BadClaims { detail: format!("missing required claim `{claim}`") }
                }
                ErrorKind::Json(err) => Rejection::BadClaims { detail: err.to_string() },
                other => Rejection::Malformed { detail: format!("{other:?}") },
            },
        )?;
        let serial = data.header.extras.get::<u64>(OIAT_HEADER).ok().flatten().unwrap_or(0);
        let info = data
            .claims
            .to_info(serial)
            .map_err(|e| Rejection::BadClaims { detail: e.to_string() })?;
        Ok(Verified { kid, claims: data.claims, info })
    }

    /// The checks after the signature: issuer, authorized party, and the time claims against
    /// the virtual clock. Shared with the in-process path, whose tokens carry claims only.
    pub fn check_claims(&self, claims: &SessionClaims, now: VTime) -> Result<(), Rejection> {
        if claims.iss != self.issuer {
            return Err(Rejection::WrongIssuer { found: claims.iss.clone() });
        }
        if let Some(azp) = &claims.azp
            && !self.authorized_parties.is_empty()
            && !self.authorized_parties.iter().any(|p| p == azp)
        {
            return Err(Rejection::WrongAuthorizedParty { found: azp.clone() });
        }
        // A token is dead at `exp` exactly, as `TokenInfo::is_expired_at` has it.
        if now.unix_ms() >= claims.exp.saturating_mul(1000) {
            return Err(Rejection::Expired { exp: claims.exp });
        }
        let now_s = now.unix_s();
        if now_s < claims.nbf {
            return Err(Rejection::NotYetValid { nbf: claims.nbf });
        }
        if claims.iat > now_s {
            return Err(Rejection::IssuedInFuture { iat: claims.iat });
        }
        Ok(())
    }
}
