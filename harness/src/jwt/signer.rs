//! RS256 signing of session tokens, paid for once per distinct claim set.
//!
//! [`Signer::sign`] keeps a cache keyed on the model's [`TokenInfo`]: the same claims always
//! give the same JWT (PKCS#1 v1.5 signatures are deterministic), so caching changes no byte of
//! output, only the cost. [`SessionToken`] carries claims and signs on first use of
//! [`SessionToken::jwt`], so a token that never leaves the process never costs an RSA
//! operation.
//!
//! A signer may also [share](Signer::share_across_runs) its signatures with every other
//! sharing signer of the same key, issuer and party in this process: runs of the real SDK
//! each start their own emulator, and the same seed mints the same claims run after run
//! (the gate's scenarios and its twin reruns, the bench), so they pay for each once.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use jsonwebtoken::{Algorithm, Header};

use super::claims::{OIAT_HEADER, SessionClaims};
use super::keys::SigningKey;
use crate::model::templates::{Template, Templates};
use crate::model::vocab::TokenInfo;

/// Entries kept before the cache is emptied. A run holds a handful of live tokens at a time;
/// the limit only bounds memory in long fuzz campaigns.
pub const SIGN_CACHE_ENTRIES_MAX: usize = 4096;

/// Signs session tokens for one instance (issuer) and one authorized party.
pub struct Signer {
    key: SigningKey,
    issuer: String,
    azp: String,
    /// The instance's JWT templates, whose claims template tokens carry.
    templates: Templates,
    // A HashMap is fine here: it is only looked up, never iterated, so its order cannot
    // reach a trace.
    cache: Mutex<HashMap<TokenInfo, Arc<str>>>,
    rsa_signatures: AtomicU64,
    /// Whether signatures are also looked up in, and added to, [`SHARED`].
    shared: AtomicBool,
}

/// What a shared signature depends on besides the claims: key id, issuer, party.
type SharedKey = (String, String, String, TokenInfo, Option<Template>);

/// Signatures shared between signers across runs ([`Signer::share_across_runs`]), emptied
/// at [`SIGN_CACHE_ENTRIES_MAX`] entries like each signer's own. A HashMap is fine: it is only
/// looked up, never iterated.
static SHARED: Mutex<Option<HashMap<SharedKey, Arc<str>>>> = Mutex::new(None);

fn shared() -> MutexGuard<'static, Option<HashMap<SharedKey, Arc<str>>>> {
    // A panic while holding the lock leaves a valid map: recover it.
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.key.kid())
            .field("issuer", &self.issuer)
            .field("azp", &self.azp)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(key: SigningKey, issuer: &str, azp: &str) -> Signer {
        Signer {
            key,
            issuer: issuer.to_string(),
            azp: azp.to_string(),
            templates: Templates::default(),
            cache: Mutex::new(HashMap::new()),
            rsa_signatures: AtomicU64::new(0),
            shared: AtomicBool::new(false),
        }
    }

    /// From now on, looks signatures up in the process-wide cache too and adds its own there
    /// (the same bytes: PKCS#1 v1.5 is deterministic). The real-SDK runs use it; a signer
    /// that does not share counts exactly the RSA operations its own claims cost.
    pub fn share_across_runs(&self) {
        self.shared.store(true, Ordering::Relaxed);
    }

    fn shared_key(&self, info: &TokenInfo) -> SharedKey {
        let template = info.template.and_then(|name| self.templates.get(name).copied());
        (self.key.kid().to_string(), self.issuer.clone(), self.azp.clone(), *info, template)
    }

    /// A signer whose template tokens carry the claims of `templates`.
    pub fn with_templates(mut self, templates: Templates) -> Signer {
        self.templates = templates;
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn azp(&self) -> &str {
        &self.azp
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The claims this signer puts in the JWT for `info`.
    pub fn claims(&self, info: &TokenInfo) -> SessionClaims {
        let template = info.template.and_then(|name| self.templates.get(name));
        SessionClaims::from_info(info, &self.issuer, &self.azp, template)
    }

    /// The compact RS256 JWT for `info`, from the cache when these claims were signed before.
    pub fn sign(&self, info: &TokenInfo) -> Arc<str> {
        if let Some(jwt) = self.lock_cache().get(info) {
            return jwt.clone();
        }
        let sharing = self.shared.load(Ordering::Relaxed);
        let found = if sharing {
            shared().as_ref().and_then(|m| m.get(&self.shared_key(info)).cloned())
        } else {
            None
        };
        // Sign outside the lock: RSA takes milliseconds and other threads may be serving.
        let jwt: Arc<str> = found.unwrap_or_else(|| Arc::from(self.sign_uncached(info)));
        if sharing {
            let mut all = shared();
            let all = all.get_or_insert_with(HashMap::new);
            if all.len() >= SIGN_CACHE_ENTRIES_MAX {
                all.clear();
            }
            all.insert(self.shared_key(info), jwt.clone());
        }
        let mut cache = self.lock_cache();
        if cache.len() >= SIGN_CACHE_ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(*info, jwt.clone());
        jwt
    }

    /// Signs without the cache (benchmarks, and tests that count RSA operations).
    pub fn sign_uncached(&self, info: &TokenInfo) -> String {
        self.rsa_signatures.fetch_add(1, Ordering::Relaxed);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.key.kid().to_string());
        header.extras.insert(OIAT_HEADER, info.serial);
        jsonwebtoken::encode(&header, &self.claims(info), self.key.encoding_key())
            .expect("RS256 signing with a loaded RSA key cannot fail")
    }

    /// How many RSA signatures this signer has computed (cache misses).
    pub fn rsa_signatures(&self) -> u64 {
        self.rsa_signatures.load(Ordering::Relaxed)
    }

    /// A lazily signed handle for `info`.
    pub fn token(self: &Arc<Self>, info: TokenInfo) -> SessionToken {
        SessionToken { info, signer: self.clone() }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<TokenInfo, Arc<str>>> {
        // A panic while holding the lock leaves a valid map: recover it.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A session token in the in-process world: its claims, and the signer that turns them into a
/// real RS256 JWT the first time the compact form is needed.
#[derive(Clone)]
pub struct SessionToken {
    info: TokenInfo,
    signer: Arc<Signer>,
}

impl SessionToken {
    pub fn info(&self) -> &TokenInfo {
        &self.info
    }

    /// The compact JWT (signed on first use, then cached by the signer).
    pub fn jwt(&self) -> Arc<str> {
        self.signer.sign(&self.info)
    }

    pub fn signer(&self) -> &Arc<Signer> {
        &self.signer
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionToken").field(&self.info).finish()
    }
}

impl PartialEq for SessionToken {
    fn eq(&self, other: &Self) -> bool {
        self.info == other.info && Arc::ptr_eq(&self.signer, &other.signer)
    }
}

impl Eq for SessionToken {}
