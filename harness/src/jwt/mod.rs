//! Session JWTs and publishable keys: everything the emulator and the backend need to speak
//! Clerk's token formats.
//!
//! - [`keys`]: the committed test-only RSA key (`fixtures/keys/`), its `kid` and the JWKS.
//! - [`claims`]: the claim set of a session JWT (`iss sub sid iat nbf exp azp fva sts v`) and
//!   its mapping to the model's [`TokenInfo`](crate::model::vocab::TokenInfo).
//! - [`signer`]: RS256 signing with a cache keyed on the claims, and [`SessionToken`], a
//!   handle that signs lazily the first time its compact form is needed.
//! - [`verify`]: verification as a Clerk backend does it, with a typed [`Rejection`] per
//!   reason and every time check made against the virtual clock.
//! - [`publishable_key`]: `pk_test_` / `pk_live_` keys, produced and parsed with precise
//!   errors.
//!
//! Why lazy signing: RSA signing costs about 2 ms in an optimised build (DESIGN.md §12), and
//! property runs mint a token every few virtual seconds at 100k+ events per second. Tokens in
//! the in-process path travel as claims ([`SessionToken`]); a real RS256 JWT is produced only
//! when a compact string is asked for: for the wire, for a text body, or for verification
//! from text. RS256 with PKCS#1 v1.5 is deterministic, so a lazily signed token is byte for
//! byte the token the wire would carry.

pub mod claims;
pub mod keys;
pub mod publishable_key;
pub mod signer;
pub mod verify;

pub use claims::SessionClaims;
pub use keys::{Jwks, KeyError, SigningKey, TEST_KID};
pub use publishable_key::{InstanceKind, PublishableKey, PublishableKeyError};
pub use signer::{SessionToken, Signer};
pub use verify::{Rejection, Verified, Verifier};
