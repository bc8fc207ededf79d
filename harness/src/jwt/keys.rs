//! The signing key and the JWKS: the committed test-only RSA key from `fixtures/keys/`,
//! compiled in so the library never reads disk (DESIGN.md §4, "only the runner and xtask touch
//! files"), and the JSON Web Key Set the emulator serves.
//!
//! The keys protect nothing; they are committed so that every run signs identical tokens.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// The `kid` of the committed session-signing key (Clerk's look like `ins_2abc…`).
pub const TEST_KID: &str = "ins_harness_test_1";

/// The committed private key (PKCS#8 PEM). Test-only: see `fixtures/keys/README.md`.
const TEST_PRIVATE_PEM: &str = include_str!("../../../fixtures/keys/session-signing.key.pem");

/// The committed public key (SPKI PEM). Public by nature; the forged-token tests use it as an
/// HMAC secret, the classic algorithm-confusion attack.
pub const TEST_PUBLIC_PEM: &str = include_str!("../../../fixtures/keys/session-signing.pub.pem");

/// The committed JWKS, exactly as served at `/.well-known/jwks.json`.
pub const TEST_JWKS_JSON: &str = include_str!("../../../fixtures/keys/jwks.json");

/// A key that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key `{kid}` is not an RSA private key in PEM form: {reason}")]
    BadPrivateKey { kid: String, reason: String },
    #[error("cannot derive the public JWK of key `{kid}`: {reason}")]
    NoPublicJwk { kid: String, reason: String },
    #[error("JWKS is not valid JSON of the form {{\"keys\": [...]}}: {reason}")]
    BadJwks { reason: String },
    #[error("JWKS key `{kid}` is not a usable RSA public key: {reason}")]
    BadJwk { kid: String, reason: String },
}

/// An RS256 signing key with its `kid` and public JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even test-only key material.
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads an RSA private key (PKCS#1 or PKCS#8 PEM) under `kid`.
    pub fn from_pem(kid: &str, pem: &str) -> Result<SigningKey, KeyError> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| KeyError::BadPrivateKey { kid: kid.to_string(), reason: e.to_string() })?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .map_err(|e| KeyError::NoPublicJwk { kid: kid.to_string(), reason: e.to_string() })?;
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(SigningKey { kid: kid.to_string(), encoding, jwk })
    }

    /// The committed test key, loaded once per process.
    pub fn test_key() -> &'static SigningKey {
        static KEY: OnceLock<SigningKey> = OnceLock::new();
        KEY.get_or_init(|| {
            SigningKey::from_pem(TEST_KID, TEST_PRIVATE_PEM)
                .expect("the committed test key is a valid RSA PEM (fixtures/keys/README.md)")
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The public half as a JWK (`kty RSA`, `alg RS256`, `use sig`, `kid`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }
}

/// A JSON Web Key Set: the keys a backend trusts, by `kid`.
#[derive(Clone, Debug)]
pub struct Jwks {
    set: JwkSet,
    /// Decoding keys and modulus lengths by `kid`, built once: verification must not re-parse
    /// the set per token.
    keys: BTreeMap<String, (DecodingKey, usize)>,
}

impl Jwks {
    /// The set holding the public halves of `keys`.
    pub fn from_signing_keys(keys: &[&SigningKey]) -> Result<Jwks, KeyError> {
        let set = JwkSet { keys: keys.iter().map(|k| k.public_jwk().clone()).collect() };
        Jwks::from_set(set)
    }

    /// Parses a JWKS document.
    pub fn from_json(text: &str) -> Result<Jwks, KeyError> {
        let set: JwkSet =
            serde_json::from_str(text).map_err(|e| KeyError::BadJwks { reason: e.to_string() })?;
        Jwks::from_set(set)
    }

    /// The committed JWKS (`fixtures/keys/jwks.json`).
    pub fn test_jwks() -> &'static Jwks {
        static JWKS: OnceLock<Jwks> = OnceLock::new();
        JWKS.get_or_init(|| {
            Jwks::from_json(TEST_JWKS_JSON)
                .expect("the committed JWKS is valid (fixtures/keys/README.md)")
        })
    }

    fn from_set(set: JwkSet) -> Result<Jwks, KeyError> {
        let mut keys = BTreeMap::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            let bad = |reason: String| KeyError::BadJwk { kid: kid.clone(), reason };
            let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
                return Err(bad("not an RSA key".to_string()));
            };
            let modulus = crate::jwt::claims::b64url_decode(&rsa.n)
                .map_err(|_| bad("`n` is not base64url".to_string()))?;
            // Leading zero bytes do not count towards the signature length.
            let modulus_len = modulus.iter().skip_while(|b| **b == 0).count();
            let key = DecodingKey::from_jwk(jwk).map_err(|e| bad(e.to_string()))?;
            keys.insert(kid, (key, modulus_len));
        }
        Ok(Jwks { set, keys })
    }

    /// The decoding key and the signature length in bytes for `kid`.
    pub fn find(&self, kid: &str) -> Option<(&DecodingKey, usize)> {
        self.keys.get(kid).map(|(k, len)| (k, *len))
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn set(&self) -> &JwkSet {
        &self.set
    }

    /// The document served at `/.well-known/jwks.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.set).expect("a JwkSet always serialises")
    }
}
