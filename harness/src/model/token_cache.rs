//! The token cache's read of the stored client token before a FAPI request, against a
//! device whose storage can fail: the one rule both the model (`model/world/transport.rs`)
//! and the reference SDK (`sdk/reference/js/transport.rs`) apply, so a failing keychain
//! means the same thing to both.
//!
//! `@clerk/expo` reads the client token from its token cache before every request
//! (`__unstable__onBeforeRequest`) and sends what it finds as the `authorization` header.
//! What happens when that read fails is a profile rule ([`ReadFailurePolicy`]): the
//! documented contract keeps a credential through transient failures, `@clerk/expo`'s cache
//! deletes it on any error.

use super::device::{Access, Device, Payload};
use super::profile::{Profile, ReadFailurePolicy};
use super::server::ClientToken;
use super::time::VTime;
use super::vocab::{Happening, StorageError, StorageKey, StorageOp};

/// What the request does after the token cache's read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialRead {
    /// Send it, carrying this client token (none: FAPI mints an anonymous client).
    Send(Option<ClientToken>),
    /// Do not send it: it fails as a network error now, or after the read's timeout.
    Fail { after_ms: u64 },
    /// The read never settles, and nobody stops waiting: the request never goes out.
    Hang,
}

/// What a failed read leads to, for each kind of failure: the profile's rule
/// ([`ReadRules::of`]), which the reference SDK's defects bend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRules {
    /// Answer from the token last given to the cache in this runtime, if any.
    pub memory_first: bool,
    /// After a transient failure (locked, thrown, timed out).
    pub on_transient: OnFailure,
    /// After a permanent one (undecryptable).
    pub on_permanent: OnFailure,
    /// After bytes that do not parse.
    pub on_garbage: OnFailure,
    /// How long a read that never settles is awaited; `None`: forever.
    pub timeout_ms: Option<u64>,
}

/// What the token cache does after one failed read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Keep the item; the request fails as a network error.
    FailRequest,
    /// Delete the item and send no token.
    DeleteAndSendNone,
    /// Keep the item and send no token (FAPI reads it as no client).
    SendNone,
    /// The error escapes as an unhandled rejection: the request never goes out.
    Stall,
}

impl ReadRules {
    pub fn of(rules: &Profile) -> ReadRules {
        match rules.read_failure {
            ReadFailurePolicy::KeepTransient => ReadRules {
                memory_first: true,
                on_transient: OnFailure::FailRequest,
                on_permanent: OnFailure::DeleteAndSendNone,
                on_garbage: OnFailure::DeleteAndSendNone,
                timeout_ms: rules.storage_read_timeout_ms,
            },
            ReadFailurePolicy::DeleteOnThrow => ReadRules {
                memory_first: false,
                on_transient: OnFailure::DeleteAndSendNone,
                on_permanent: OnFailure::DeleteAndSendNone,
                // Garbage is returned, not thrown: nothing is deleted, and FAPI sees no client.
                on_garbage: OnFailure::SendNone,
                timeout_ms: rules.storage_read_timeout_ms,
            },
        }
    }
}

/// Reads the client token for a request under `rules`, logging every storage happening.
/// `memory` is the token the cache was last given in this runtime: a cache that keeps
/// credentials through transient failures answers from it and reads storage only when it
/// has none (so a failed write loses nothing while the runtime lives).
pub fn read_client_token(
    device: &mut Device,
    rules: ReadRules,
    memory: Option<ClientToken>,
    now: VTime,
    log: &mut Vec<Happening>,
) -> CredentialRead {
    if rules.memory_first && memory.is_some() {
        return CredentialRead::Send(memory);
    }
    let key = StorageKey::ClientJwt;
    let failed = |error: StorageError, log: &mut Vec<Happening>| {
        log.push(Happening::StorageFailed { at: now, op: StorageOp::Read, key, error });
    };
    let error = match device.sdk_read(key) {
        Access::Done(Some((Payload::ClientToken(t), _))) => return CredentialRead::Send(Some(t)),
        // A value cut by the platform reads back as garbage.
        Access::Done(Some(_)) => StorageError::Garbage,
        Access::Done(None) => return CredentialRead::Send(None),
        Access::Failed(error) => error,
        Access::Hang => match rules.timeout_ms {
            Some(ms) => {
                failed(StorageError::TimedOut, log);
                return CredentialRead::Fail { after_ms: ms };
            }
            None => {
                failed(StorageError::Hung, log);
                return CredentialRead::Hang;
            }
        },
    };
    failed(error, log);
    let then = match error {
        StorageError::Garbage => rules.on_garbage,
        e if e.is_transient() => rules.on_transient,
        _ => rules.on_permanent,
    };
    match then {
        OnFailure::FailRequest => CredentialRead::Fail { after_ms: 0 },
        OnFailure::DeleteAndSendNone => {
            delete_item(device, key, now, log);
            CredentialRead::Send(None)
        }
        OnFailure::SendNone => CredentialRead::Send(None),
        OnFailure::Stall => CredentialRead::Hang,
    }
}

/// The SDK deletes `key`, logging what the device did.
pub fn delete_item(device: &mut Device, key: StorageKey, now: VTime, log: &mut Vec<Happening>) {
    match device.sdk_delete(key) {
        Access::Done(true) => log.push(Happening::StorageDeleted { at: now, key }),
        Access::Done(false) => {}
        Access::Failed(error) => {
            log.push(Happening::StorageFailed { at: now, op: StorageOp::Delete, key, error })
        }
        Access::Hang => log.push(Happening::StorageFailed {
            at: now,
            op: StorageOp::Delete,
            key,
            error: StorageError::Hung,
        }),
    }
}

/// The SDK writes `payload` under `key` (whole when `raw`): the digest stored, or `None`
/// when the write failed (logged). A garbage write lands, and is logged as the failure it is.
pub fn write_item(
    device: &mut Device,
    key: StorageKey,
    payload: Payload,
    raw: bool,
    now: VTime,
    log: &mut Vec<Happening>,
) -> Option<u64> {
    let error = match device.sdk_write(key, payload, raw) {
        Access::Done(digest) => return Some(digest),
        Access::Failed(error) => error,
        Access::Hang => StorageError::Hung,
    };
    log.push(Happening::StorageFailed { at: now, op: StorageOp::Write, key, error });
    None
}

/// The SDK reads one of its other items (the resource cache's). A failure of any kind
/// (logged) reads as absent, as `@clerk/expo`'s resource cache returns `null` on errors.
pub fn read_item(
    device: &mut Device,
    key: StorageKey,
    now: VTime,
    log: &mut Vec<Happening>,
) -> Result<Option<(Payload, u64)>, StorageError> {
    let error = match device.sdk_read(key) {
        Access::Done(read) => return Ok(read),
        Access::Failed(error) => error,
        Access::Hang => StorageError::Hung,
    };
    log.push(Happening::StorageFailed { at: now, op: StorageOp::Read, key, error });
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{CLERK_JS_6, DOCUMENTED};
    use crate::model::vocab::{
        ClientId, KeychainAccessible, Platform, StorageFaultKind, StorageFaultSpec,
    };

    fn device_with_token(platform: Platform) -> (Device, ClientToken) {
        let mut d = Device::with_class(platform, KeychainAccessible::WhenUnlocked);
        let t = ClientToken { client: ClientId(1), epoch: 1, version: 1 };
        d.write_raw(StorageKey::ClientJwt, Payload::ClientToken(t));
        (d, t)
    }

    #[test]
    fn a_locked_read_keeps_the_token_under_documented_and_deletes_it_under_clerk_js_6() {
        let (mut d, _) = device_with_token(Platform::Ios);
        d.lock();
        let mut log = Vec::new();
        let read = read_client_token(&mut d, ReadRules::of(&DOCUMENTED), None, VTime(5), &mut log);
        assert_eq!(read, CredentialRead::Fail { after_ms: 0 });
        assert!(d.read(StorageKey::ClientJwt).is_some(), "documented keeps the item");
        let read = read_client_token(&mut d, ReadRules::of(&CLERK_JS_6), None, VTime(5), &mut log);
        assert_eq!(read, CredentialRead::Send(None));
        assert!(d.read(StorageKey::ClientJwt).is_none(), "clerk-js-6 deleted the item");
        d.unlock();
        let read = read_client_token(&mut d, ReadRules::of(&DOCUMENTED), None, VTime(6), &mut log);
        assert_eq!(read, CredentialRead::Send(None));
    }

    #[test]
    fn android_reads_while_locked_and_hangs_time_out_only_when_the_profile_says_so() {
        let (mut d, t) = device_with_token(Platform::Android);
        d.lock();
        let mut log = Vec::new();
        assert_eq!(
            read_client_token(&mut d, ReadRules::of(&DOCUMENTED), None, VTime(0), &mut log),
            CredentialRead::Send(Some(t))
        );
        let hang = StorageFaultSpec {
            op: StorageOp::Read,
            kind: StorageFaultKind::Hang,
            count: 2,
            key: None,
        };
        d.push_storage_fault(hang);
        assert_eq!(
            read_client_token(&mut d, ReadRules::of(&DOCUMENTED), None, VTime(0), &mut log),
            CredentialRead::Fail { after_ms: 1_000 }
        );
        assert_eq!(
            read_client_token(&mut d, ReadRules::of(&CLERK_JS_6), None, VTime(0), &mut log),
            CredentialRead::Hang
        );
        assert!(d.storage_faults.is_empty(), "both reads consumed the fault");
    }

    #[test]
    fn an_undecryptable_item_is_dropped_by_both_profiles() {
        let (mut d, _) = device_with_token(Platform::Android);
        d.restore_backup();
        assert!(!d.credential_readable());
        let mut log = Vec::new();
        assert_eq!(
            read_client_token(&mut d, ReadRules::of(&DOCUMENTED), None, VTime(0), &mut log),
            CredentialRead::Send(None)
        );
        assert!(d.read(StorageKey::ClientJwt).is_none());
        assert!(d.credential_readable());
    }
}
