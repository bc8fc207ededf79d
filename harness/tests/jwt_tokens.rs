//! Session JWTs and publishable keys: the committed keys, the signer and its cache, the
//! forged-token table (every forgery refused for its own reason), and publishable-key
//! parsing.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use std::collections::BTreeSet;
use std::sync::Arc;

use fapi_support::Device;
use jsonwebtoken::{EncodingKey, Header};
use session_harness::backend::Backend;
use session_harness::fapi::{Fapi, HttpRequest};
use session_harness::jwt::claims::{b64url_decode, b64url_encode, peek};
use session_harness::jwt::keys::{TEST_JWKS_JSON, TEST_PUBLIC_PEM};
use session_harness::jwt::{
    InstanceKind, Jwks, PublishableKey, PublishableKeyError, Rejection, SessionClaims, Signer,
    SigningKey, TEST_KID,
};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{SessionStatus, TokenInfo};

const ATTACKER_PEM: &str = include_str!("../../fixtures/keys/attacker.key.pem");

#[test]
fn committed_jwks_matches_the_private_key() {
    let derived = Jwks::from_signing_keys(&[SigningKey::test_key()]).unwrap();
    let committed = Jwks::from_json(TEST_JWKS_JSON).unwrap();
    let jwk = |set: &Jwks| serde_json::to_value(&set.set().keys[0]).unwrap();
    assert_eq!(jwk(&derived), jwk(&committed), "fixtures/keys/jwks.json drifted from the key");
    assert_eq!(committed.kids().collect::<Vec<_>>(), vec![TEST_KID]);
}

#[test]
fn signing_is_deterministic_cached_and_round_trips() {
    let signer = Arc::new(Signer::new(
        SigningKey::test_key().clone(),
        "https://clerk.emulator.test",
        "http://localhost:8081",
    ));
    let info = token_info(VTime(5_000), 60, 7);
    let first = signer.sign(&info);
    let second = signer.sign(&info);
    assert_eq!(first, second);
    assert_eq!(signer.rsa_signatures(), 1, "the second signature must come from the cache");
    assert_eq!(signer.sign_uncached(&info), *first, "RS256 signatures are deterministic");

    let (header, claims) = peek(&first).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], TEST_KID);
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["oiat"], 7, "the freshness serial travels in the header");
    for claim in ["iss", "sub", "sid", "iat", "nbf", "exp", "azp", "fva", "sts", "v"] {
        assert!(claims.get(claim).is_some(), "claim `{claim}` missing from {claims}");
    }
    assert_eq!(claims["v"], 2);
    assert_eq!(claims["sts"], "active");

    // A handle signs lazily: no RSA until the compact form is asked for.
    let lazy = signer.token(token_info(VTime(9_000), 60, 8));
    assert_eq!(signer.rsa_signatures(), 2, "sign_uncached counted once more");
    let verifier = session_harness::jwt::Verifier::new(
        Jwks::from_json(TEST_JWKS_JSON).unwrap(),
        "https://clerk.emulator.test",
        &["http://localhost:8081"],
    );
    let verified = verifier.verify(&lazy.jwt(), VTime(9_000)).unwrap();
    assert_eq!(signer.rsa_signatures(), 3);
    assert_eq!(verified.info, *lazy.info(), "claims survive the trip through text");
}

fn token_info(now: VTime, ttl_s: u64, serial: u64) -> TokenInfo {
    let iat = now.unix_s();
    TokenInfo {
        sid: session_harness::model::vocab::SessionId(1),
        sub: session_harness::model::vocab::UserId(1),
        iat,
        nbf: iat - 10,
        exp: iat + ttl_s,
        pending: false,
        serial,
        template: None,
    }
}

/// Signs `claims` (as JSON) with `key` under a hand-made header.
fn forge(header: serde_json::Value, claims: &serde_json::Value, key: &EncodingKey) -> String {
    let header: Header = serde_json::from_value(header).unwrap();
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// Replaces part `index` of a compact JWT.
fn with_part(jwt: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
    parts[index] = part.to_string();
    parts.join(".")
}

#[test]
fn forged_tokens_are_each_rejected_for_their_own_reason() {
    let fapi = Fapi::new(InstanceSettings::default());
    let backend = Backend::new(&fapi);
    let mut device = Device::new(&fapi);
    let t0 = VTime(60_000);
    let sid = device.sign_in(t0);
    let valid = device.tokens(sid, t0).json()["jwt"].as_str().unwrap().to_string();
    let now = t0.plus(1_000);
    let (_, valid_claims) = peek(&valid).unwrap();
    let info = backend.authenticate_jwt(&valid, now).unwrap().info;

    let ours = SigningKey::test_key();
    let attacker = SigningKey::from_pem("ins_attacker", ATTACKER_PEM).unwrap();
    let header = |alg: &str, kid: Option<&str>| {
        let mut h = serde_json::json!({ "alg": alg, "typ": "JWT" });
        if let Some(kid) = kid {
            h["kid"] = kid.into();
        }
        h
    };
    let signer_as = |issuer: &str, azp: &str| Signer::new(ours.clone(), issuer, azp);
    let issuer = fapi.config().issuer();
    let azp = fapi.config().authorized_party.clone();

    let alg_none = format!(
        "{}.{}.",
        b64url_encode(br#"{"alg":"none","typ":"JWT","kid":"ins_harness_test_1"}"#),
        valid.split('.').nth(1).unwrap()
    );
    let hs256_with_public_key = forge(
        header("HS256", Some(TEST_KID)),
        &valid_claims,
        &EncodingKey::from_secret(TEST_PUBLIC_PEM.as_bytes()),
    );
    let unknown_kid =
        forge(header("RS256", Some("ins_attacker")), &valid_claims, attacker.encoding_key());
    let mut tampered_claims = valid_claims.clone();
    tampered_claims["exp"] = (valid_claims["exp"].as_u64().unwrap() + 86_400).into();
    let tampered_payload = with_part(
        &valid,
        1,
        &b64url_encode(serde_json::to_string(&tampered_claims).unwrap().as_bytes()),
    );
    let signature = valid.split('.').nth(2).unwrap();
    let bad_signature = with_part(&valid, 2, &signature[..signature.len() - 14]);
    let mut flipped = b64url_decode(signature).unwrap();
    flipped[100] ^= 0x01;
    let flipped_signature = with_part(&valid, 2, &b64url_encode(&flipped));
    let attacker_key_our_kid =
        forge(header("RS256", Some(TEST_KID)), &valid_claims, attacker.encoding_key());
    let missing_kid = forge(header("RS256", None), &valid_claims, ours.encoding_key());
    let mut no_sid = valid_claims.clone();
    no_sid.as_object_mut().unwrap().remove("sid");
    let missing_sid = forge(header("RS256", Some(TEST_KID)), &no_sid, ours.encoding_key());
    let future = TokenInfo { iat: now.unix_s() + 100, nbf: now.unix_s() + 90, ..info };
    let not_yet_valid = signer_as(&issuer, &azp).sign_uncached(&future);
    let iat_ahead = TokenInfo { iat: now.unix_s() + 5, nbf: now.unix_s() - 5, ..info };
    let issued_in_future = signer_as(&issuer, &azp).sign_uncached(&iat_ahead);
    let wrong_issuer = signer_as("https://clerk.evil.test", &azp).sign_uncached(&info);
    let wrong_azp = signer_as(&issuer, "https://evil.test").sign_uncached(&info);
    let expired_at = VTime::from_unix_s(info.exp);

    // (case, token, virtual time of the check, expected reason). The first ten are the
    // must-show rows; the rest pin down neighbouring reasons.
    let table: Vec<(&str, String, VTime, Rejection)> = vec![
        ("alg none", alg_none, now, Rejection::AlgNone),
        (
            "HS256 signed with the public key",
            hs256_with_public_key,
            now,
            Rejection::AlgorithmNotAllowed { alg: "HS256".into() },
        ),
        ("unknown kid", unknown_kid, now, Rejection::UnknownKid { kid: "ins_attacker".into() }),
        ("tampered payload", tampered_payload, now, Rejection::SignatureMismatch),
        (
            "bad signature (truncated)",
            bad_signature,
            now,
            Rejection::MalformedSignature { detail: "246 bytes, expected 256".into() },
        ),
        ("expired", valid.clone(), expired_at, Rejection::Expired { exp: info.exp }),
        ("not yet valid", not_yet_valid, now, Rejection::NotYetValid { nbf: future.nbf }),
        (
            "wrong issuer",
            wrong_issuer,
            now,
            Rejection::WrongIssuer { found: "https://clerk.evil.test".into() },
        ),
        (
            "wrong authorized party",
            wrong_azp,
            now,
            Rejection::WrongAuthorizedParty { found: "https://evil.test".into() },
        ),
        (
            "session revoked",
            valid.clone(),
            now,
            Rejection::SessionNotActive { status: SessionStatus::Revoked },
        ),
        // Neighbours.
        ("signature with one bit flipped", flipped_signature, now, Rejection::SignatureMismatch),
        ("attacker's key under our kid", attacker_key_our_kid, now, Rejection::SignatureMismatch),
        ("no kid", missing_kid, now, Rejection::MissingKid),
        (
            "issued in the future",
            issued_in_future,
            now,
            Rejection::IssuedInFuture { iat: iat_ahead.iat },
        ),
        (
            "no sid claim",
            missing_sid,
            now,
            Rejection::BadClaims { detail: "missing field `sid` at line 1 column 178".into() },
        ),
        (
            "two parts",
            "abc.def".into(),
            now,
            Rejection::Malformed { detail: "expected 3 dot-separated parts, found 2".into() },
        ),
    ];

    // The valid token is accepted, in text and over the backend's HTTP-like entry.
    assert_eq!(backend.authenticate_jwt(&valid, now).unwrap().info.sid, sid);
    let ok = backend.handle(&bearer("/api/profile", &valid), now);
    assert_eq!(ok.status, 200, "{ok:?}");

    let mut failures = Vec::new();
    let mut reasons = BTreeSet::new();
    for (index, (case, token, at, expected)) in table.iter().enumerate() {
        if case == &"session revoked" {
            let mut server = session_harness::fapi::lock(fapi.server());
            assert!(server.end_session_as(sid, SessionStatus::Revoked, now));
        }
        let got = backend.authenticate_jwt(token, *at);
        let matches = match (&got, expected) {
            // serde's message names a column that depends on the claim layout; the variant
            // and the claim are what matter.
            (Err(Rejection::BadClaims { detail }), Rejection::BadClaims { .. }) => {
                detail.contains("`sid`")
            }
            (got, expected) => got.as_ref().err() == Some(expected),
        };
        if !matches {
            failures.push(format!("{case}: expected {expected:?}, got {got:?}"));
        }
        // The HTTP-like entry answers 401 with the same reason code.
        let response = backend.handle(&bearer("/api/profile", token), *at);
        assert_eq!(response.status, 401, "{case}: {response:?}");
        assert_eq!(response.json()["reason"], expected.code(), "{case}");
        if index < 10 {
            reasons.insert(expected.code());
        }
    }
    assert!(failures.is_empty(), "forged tokens misjudged:\n{}", failures.join("\n"));
    assert_eq!(reasons.len(), 10, "the ten must-show forgeries have ten distinct reasons");
    assert_eq!(table.len(), 16);
}

fn bearer(path: &str, jwt: &str) -> HttpRequest {
    HttpRequest::get(path).header("authorization", &format!("Bearer {jwt}"))
}

#[test]
fn verification_ignores_the_system_clock() {
    // A token minted at the virtual epoch (2026-01-01) is valid at that virtual instant and
    // expired one TTL later, whatever the machine's clock says.
    let signer = Signer::new(SigningKey::test_key().clone(), "https://i.test", "https://a.test");
    let info = token_info(VTime(0), 60, 1);
    let jwt = signer.sign_uncached(&info);
    let verifier = session_harness::jwt::Verifier::new(
        Jwks::from_json(TEST_JWKS_JSON).unwrap(),
        "https://i.test",
        &["https://a.test"],
    );
    assert!(verifier.verify(&jwt, VTime(59_999)).is_ok());
    assert_eq!(
        verifier.verify(&jwt, VTime(60_000)).unwrap_err(),
        Rejection::Expired { exp: info.exp },
        "dead at exp exactly: no leeway"
    );
    let claims: SessionClaims = serde_json::from_value(peek(&jwt).unwrap().1).unwrap();
    assert_eq!(claims.exp - claims.iat, 60);
}

#[test]
fn publishable_keys_round_trip() {
    let key = PublishableKey::new(InstanceKind::Development, "clerk.emulator.test").unwrap();
    assert_eq!(key.encode(), "pk_test_Y2xlcmsuZW11bGF0b3IudGVzdCQ", "reference §4.1 example");
    assert_eq!(PublishableKey::parse(&key.encode()).unwrap(), key);
    let live = PublishableKey::new(InstanceKind::Production, "clerk.example.com").unwrap();
    let parsed: PublishableKey = live.encode().parse().unwrap();
    assert_eq!(parsed.instance, InstanceKind::Production);
    assert_eq!(parsed.frontend_api, "clerk.example.com");
    // atob-style: padding tolerated.
    assert_eq!(PublishableKey::parse("pk_test_Y2xlcmsuZW11bGF0b3IudGVzdCQ=").unwrap(), key);
}

#[test]
fn malformed_publishable_keys_say_what_where_and_what_is_accepted() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD_NO_PAD.encode(s);
    type Case = (String, fn(&PublishableKeyError) -> bool, &'static str);
    let cases: Vec<Case> = vec![
        ("".into(), |e| matches!(e, PublishableKeyError::Empty), "expected `pk_test_`"),
        (
            "sk_test_abc".into(),
            |e| matches!(e, PublishableKeyError::UnknownPrefix { .. }),
            "unknown prefix",
        ),
        (
            "pk_test_a_b".into(),
            |e| matches!(e, PublishableKeyError::WrongPartCount { parts: 4, .. }),
            "4 `_`-separated parts",
        ),
        (
            "pk_test_".into(),
            |e| matches!(e, PublishableKeyError::NoPayload { .. }),
            "no encoded host",
        ),
        (
            "pk_test_Y2xl!msu".into(),
            |e| matches!(e, PublishableKeyError::NotBase64 { offset: 12, found: '!', .. }),
            "at character 12",
        ),
        (
            "pk_test_Y".into(),
            |e| matches!(e, PublishableKeyError::BadLength { .. }),
            "invalid length",
        ),
        (
            format!("pk_test_{}", b64("clerk.example.com")),
            |e| matches!(e, PublishableKeyError::NoTrailingDollar { .. }),
            "exactly one `$`",
        ),
        (
            format!("pk_test_{}", b64("clerk.example.com$$")),
            |e| matches!(e, PublishableKeyError::NoTrailingDollar { .. }),
            "exactly one `$`",
        ),
        (
            format!("pk_live_{}", b64("localhost$")),
            |e| matches!(e, PublishableKeyError::HostWithoutDot { .. }),
            "has no `.`",
        ),
        (
            format!(
                "pk_test_{}",
                base64::engine::general_purpose::STANDARD_NO_PAD.encode([0xff, 0xfe, b'$'])
            ),
            |e| matches!(e, PublishableKeyError::NotUtf8 { .. }),
            "does not decode to text",
        ),
    ];
    for (text, is_expected, message_part) in cases {
        let err = PublishableKey::parse(&text).expect_err(&text);
        assert!(is_expected(&err), "{text:?}: got {err:?}");
        let message = err.to_string();
        assert!(message.contains(message_part), "{text:?}: {message}");
        assert!(!message.ends_with('.'), "error messages end without a period: {message}");
    }
    assert!(PublishableKey::new(InstanceKind::Development, "no-dot").is_err());
    assert!(PublishableKey::new(InstanceKind::Development, "a$b.c").is_err());
}

#[test]
fn a_remembered_signature_verdict_changes_no_answer() {
    let fapi = Fapi::new(InstanceSettings::default());
    let mut device = Device::new(&fapi);
    let t0 = VTime(60_000);
    let sid = device.sign_in(t0);
    let valid = device.tokens(sid, t0).json()["jwt"].as_str().unwrap().to_string();
    let verifier = fapi.verifier();
    // The second reading of the same text gives what the first gave.
    let first = verifier.verify_signature(&valid).unwrap();
    let again = verifier.clone().verify_signature(&valid).unwrap();
    assert_eq!((again.info, &again.kid), (first.info, &first.kid));
    assert_eq!(first.info.sid, sid);
    // A text that differs by one bit of its signature is judged on its own.
    let mut signature = b64url_decode(valid.split('.').nth(2).unwrap()).unwrap();
    signature[0] ^= 1;
    let flipped = with_part(&valid, 2, &b64url_encode(&signature));
    assert_eq!(verifier.verify_signature(&flipped).err(), Some(Rejection::SignatureMismatch));
    assert_eq!(verifier.verify_signature(&flipped).err(), Some(Rejection::SignatureMismatch));
    // Only the signature is remembered: time is still checked at every reading.
    let exp = VTime::from_unix_s(first.info.exp);
    assert!(verifier.verify(&valid, t0.plus(1_000)).is_ok());
    assert_eq!(
        verifier.verify(&valid, exp.plus(1_000)).err(),
        Some(Rejection::Expired { exp: first.info.exp })
    );
}
