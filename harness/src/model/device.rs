//! The device: platform, app state, network, process lifetime, and secure storage.
//!
//! Secure storage is modelled at the level of what matters to sessions: each item holds a
//! typed payload with its byte length and a digest. iOS refuses (historically: silently cut)
//! items over [`IOS_ITEM_BYTES_MAX`] bytes, so large values go through [`Device::write_chunked`],
//! which splits them into [`CHUNK_BYTES`] pieces the way `@clerk/expo`'s resource cache does
//! (reference §3.3). A value written whole with [`Device::write_raw`] on iOS is truncated,
//! and reads back corrupt: that is the `securestore-truncation` defect's mechanism.
//!
//! Storage is also a part that fails (issue 14). The SDK's operations go through
//! [`Device::sdk_read`], [`Device::sdk_write`] and [`Device::sdk_delete`], which answer as
//! the platform would: scripted faults (throw, hang, garbage) per operation and key, the
//! data protection state against the item's accessibility class (iOS keychain: `locked`
//! refuses `when_unlocked` items, `before_first_unlock` refuses every item; Android's
//! keystore keys need no unlock, and an app that is not direct-boot aware never runs before
//! the first unlock), and items restored from a backup without the key that decrypts them
//! (Android). The environment's own reads ([`Device::read`]) see the truth, unfaulted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::profile::ExpiryClock;
use super::server::{ClientToken, ClientView, mix64};
use super::settings::Setup;
use super::time::VTime;
use super::vocab::{
    AppState, AppStateFaultKind, AppStateFaultSpec, DeviceView, KeychainAccessible, LargeValues,
    Network, Platform, Protection, StorageError, StorageFaultKind, StorageFaultSpec, StorageKey,
    StorageOp, TokenInfo,
};

/// expo-secure-store's historical per-item limit on iOS (the article's "~2,048-byte").
pub const IOS_ITEM_BYTES_MAX: u32 = 2048;
/// The size over which some Android devices refuse a value (expo/expo #2556: "longer than
/// 4072 characters").
pub const ANDROID_ITEM_BYTES_MAX: u32 = 4072;
/// `@clerk/expo` resource cache chunk size (reference §3.3: 1024 characters).
pub const CHUNK_BYTES: u32 = 1024;

/// How long iOS lets a request hang before failing it: `NSURLRequest`'s default
/// `timeoutInterval`, which React Native's fetch keeps.
pub const IOS_REQUEST_TIMEOUT_MS: u64 = 60_000;

/// See [`Device::request_timeout_ms`].
pub fn request_timeout_ms(platform: Platform, sdk_ms: Option<u64>) -> Option<u64> {
    let platform = (platform == Platform::Ios).then_some(IOS_REQUEST_TIMEOUT_MS);
    match (sdk_ms, platform) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Typical wire sizes, so the item limit bites where it does in real apps: a client JWT is
/// ~518 bytes (seed bug report), a client snapshot with one session ~2.6 KB.
pub const CLIENT_JWT_BYTES: u32 = 518;
pub const SESSION_JWT_BYTES: u32 = 720;
pub const ENVIRONMENT_BYTES: u32 = 1_400;
pub const CLIENT_SNAPSHOT_BYTES_BASE: u32 = 900;
pub const CLIENT_SNAPSHOT_BYTES_PER_SESSION: u32 = 1_700;

/// What a stored value means. `Corrupt` is what a truncated or half-written value reads as.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Payload {
    ClientToken(ClientToken),
    Client(Arc<ClientView>),
    SessionJwt(TokenInfo),
    Environment,
    Corrupt,
}

impl Payload {
    /// Bytes this value takes on the wire.
    pub fn len(&self) -> u32 {
        match self {
            Payload::ClientToken(_) => CLIENT_JWT_BYTES,
            Payload::Client(view) => {
                CLIENT_SNAPSHOT_BYTES_BASE
                    + CLIENT_SNAPSHOT_BYTES_PER_SESSION * view.sessions.len() as u32
            }
            Payload::SessionJwt(_) => SESSION_JWT_BYTES,
            Payload::Environment => ENVIRONMENT_BYTES,
            Payload::Corrupt => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A digest of the content, stable across runs.
    pub fn digest(&self) -> u64 {
        match self {
            Payload::ClientToken(t) => {
                mix64(1 ^ mix64(t.client.0 as u64 ^ ((t.epoch as u64) << 32)) ^ t.version as u64)
            }
            Payload::Client(view) => {
                let mut h = mix64(2 ^ view.id.0 as u64);
                for s in &view.sessions {
                    h = mix64(h ^ s.id.0 as u64 ^ ((s.status as u64) << 40));
                }
                h
            }
            Payload::SessionJwt(t) => mix64(3 ^ t.serial),
            Payload::Environment => mix64(4),
            Payload::Corrupt => 0,
        }
    }
}

/// Bytes of a chunked value's metadata item (slot, chunk count, length, checksum).
pub const METADATA_BYTES: u32 = 96;

/// One physical item in secure storage.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Item {
    /// Bytes this item takes in the store (what the platform limit applies to).
    pub len: u32,
    pub digest: u64,
    /// The whole value, on the item that heads it (a raw item, or a chunked value's metadata).
    pub payload: Option<Payload>,
    /// For a chunked value's metadata: how many chunks follow.
    pub chunks: u16,
    /// Stored whole over the platform's limit by a platform whose reads of such a value fail
    /// ([`LargeValues::FailOnRead`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
}

/// Address of a physical item: the logical key and the piece (0 = the head item).
pub type ItemKey = (StorageKey, u16);

/// How an SDK storage operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access<T> {
    Done(T),
    Failed(StorageError),
    /// The promise never settles.
    Hang,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub platform: Platform,
    pub app_state: AppState,
    pub network: Network,
    pub running: bool,
    pub storage: BTreeMap<ItemKey, Item>,
    /// The accessibility class the JS SDK's items are stored with.
    pub class: KeychainAccessible,
    pub protection: Protection,
    /// Scripted storage faults not yet consumed, oldest first.
    pub storage_faults: Vec<StorageFaultSpec>,
    /// Keys whose stored item came back from a backup without its decryption key.
    pub undecryptable: BTreeSet<StorageKey>,
    /// JS runs in the background now (a background wake).
    pub awake: bool,
    /// The device sleeps: nothing of JS runs, whatever the app state.
    pub asleep: bool,
    /// How far the device clock is ahead of the server's (negative: behind).
    pub clock_skew_ms: i64,
    /// Scripted AppState faults not yet consumed, oldest first.
    pub app_state_faults: Vec<AppStateFaultSpec>,
    /// An AppState event held back by a `reorder` fault: heard right after the next one.
    pub held_app_state_event: Option<AppState>,
    /// How late every AppState event reaches JS (a setting; scripted faults come first).
    pub app_state_delay_ms: u64,
    /// What storage does with a value over the platform's item limit.
    pub large_values: LargeValues,
}

/// What JS's AppState listener hears of one change the device made: events to hear now, in
/// order, and one to hear late.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppStateHeard {
    pub now: Vec<AppState>,
    pub late: Option<(u64, AppState)>,
}

impl Device {
    pub fn new(platform: Platform) -> Device {
        Device {
            platform,
            app_state: AppState::Active,
            network: Network::Online,
            running: false,
            storage: BTreeMap::new(),
            class: KeychainAccessible::default(),
            protection: Protection::Unlocked,
            storage_faults: Vec::new(),
            undecryptable: BTreeSet::new(),
            awake: false,
            asleep: false,
            clock_skew_ms: 0,
            app_state_faults: Vec::new(),
            held_app_state_event: None,
            app_state_delay_ms: 0,
            large_values: LargeValues::platform_default(platform),
        }
    }

    /// A device whose JS items are stored with `class`.
    pub fn with_class(platform: Platform, class: KeychainAccessible) -> Device {
        Device { class, ..Device::new(platform) }
    }

    /// The device a setup describes: its platform, its token cache's keychain class, how
    /// late its AppState events reach JS.
    pub fn for_setup(setup: &Setup, class: KeychainAccessible) -> Device {
        Device {
            app_state_delay_ms: setup.sdk.app_state_delay_ms,
            large_values: setup
                .sdk
                .large_values
                .unwrap_or(LargeValues::platform_default(setup.platform)),
            ..Device::with_class(setup.platform, class)
        }
    }

    pub fn view(&self) -> DeviceView {
        DeviceView {
            running: self.running,
            app_state: self.app_state,
            network: self.network,
            protection: self.protection,
            storage_readable: self.credential_readable(),
            awake: self.awake,
            // The native layer is not the device's record: `NativeLayer::device_view` adds it.
            native: None,
        }
    }

    /// The Unix-ms clock a token cache judges expiry against under `clock`: the server's
    /// time, or the device's `Date.now()`.
    pub fn expiry_clock_ms(&self, clock: ExpiryClock, now: VTime) -> u64 {
        match clock {
            ExpiryClock::Server => now.unix_ms(),
            ExpiryClock::Device => self.wall_clock_unix_ms(now),
        }
    }

    /// What `Date.now()` reads on the device (Unix ms) when the server's clock reads `now`.
    pub fn wall_clock_unix_ms(&self, now: VTime) -> u64 {
        now.unix_ms().saturating_add_signed(self.clock_skew_ms)
    }

    /// Whether the JS runtime gets to run: alive, and in the foreground or woken.
    pub fn js_runs(&self) -> bool {
        self.running && !self.asleep && (self.app_state != AppState::Background || self.awake)
    }

    /// How long a request sent now waits before it fails as a network error when the network
    /// hangs: the SDK's own timeout (`sdk_ms`) or the platform's, whichever comes first;
    /// `None` never. Android has none: React Native builds its OkHttp client without
    /// timeouts (react-native #5010, #17483), so a request on a dead connection never settles.
    pub fn request_timeout_ms(&self, sdk_ms: Option<u64>) -> Option<u64> {
        request_timeout_ms(self.platform, sdk_ms)
    }

    // ------------------------------------------------------------- protection and faults

    /// Whether the protection state refuses `key` now (`errSecInteractionNotAllowed`).
    fn refuses(&self, key: StorageKey) -> bool {
        if self.platform != Platform::Ios {
            return false;
        }
        match self.protection {
            Protection::Unlocked => false,
            // ClerkKit's own items are `AFTER_FIRST_UNLOCK`.
            Protection::Locked => {
                !key.is_native() && self.class == KeychainAccessible::WhenUnlocked
            }
            Protection::BeforeFirstUnlock => true,
        }
    }

    /// Whether the SDK's next read of its client token would succeed: nothing in the way
    /// that passes by itself or for good.
    pub fn credential_readable(&self) -> bool {
        let key = StorageKey::ClientJwt;
        !self.refuses(key)
            && !self.undecryptable.contains(&key)
            && !self
                .storage_faults
                .iter()
                .any(|f| f.op == StorageOp::Read && f.key.is_none_or(|k| k == key))
    }

    /// The user locks the device (a first unlock already happened, or not).
    pub fn lock(&mut self) {
        if self.protection == Protection::Unlocked {
            self.protection = Protection::Locked;
        }
    }

    pub fn unlock(&mut self) {
        self.protection = Protection::Unlocked;
    }

    /// The device restarts: the app dies; nothing is unlocked yet.
    pub fn reboot(&mut self) {
        self.running = false;
        self.awake = false;
        self.protection = Protection::BeforeFirstUnlock;
    }

    /// Whether the OS may launch or wake the app now: an Android app that is not
    /// direct-boot aware never runs before the first unlock.
    pub fn may_run_in_background(&self) -> bool {
        !(self.platform == Platform::Android && self.protection == Protection::BeforeFirstUnlock)
    }

    /// The app's data comes back from a backup: the app is reinstalled with its items. iOS
    /// restores keychain items that are not `ThisDeviceOnly` along with their protection;
    /// Android restores the encrypted values but not the keystore key.
    pub fn restore_backup(&mut self) {
        self.running = false;
        self.awake = false;
        if self.platform == Platform::Android {
            self.undecryptable = self.storage.keys().map(|(k, _)| *k).collect();
        }
    }

    /// Drops every scripted storage and AppState fault not yet consumed.
    pub fn clear_faults(&mut self) {
        self.storage_faults.clear();
        self.app_state_faults.clear();
    }

    pub fn push_app_state_fault(&mut self, spec: AppStateFaultSpec) {
        if spec.count > 0 {
            self.app_state_faults.push(spec);
        }
    }

    /// What JS's listener hears of the change to `state` the device just made: the oldest
    /// scripted fault decides (drop, duplicate, reorder, delay), else the delay setting. An
    /// event an earlier `reorder` held back is heard right after this one.
    pub fn deliver_app_state(&mut self, state: AppState) -> AppStateHeard {
        let held = self.held_app_state_event.take();
        let kind = match self.app_state_faults.first_mut() {
            Some(fault) => {
                let kind = fault.kind;
                fault.count -= 1;
                if fault.count == 0 {
                    self.app_state_faults.remove(0);
                }
                Some(kind)
            }
            None => None,
        };
        let mut heard = AppStateHeard::default();
        match kind {
            None if self.app_state_delay_ms == 0 => heard.now.push(state),
            None => heard.late = Some((self.app_state_delay_ms, state)),
            Some(AppStateFaultKind::Drop) => {}
            Some(AppStateFaultKind::Duplicate) => heard.now.extend([state, state]),
            Some(AppStateFaultKind::Reorder) => self.held_app_state_event = Some(state),
            Some(AppStateFaultKind::Delay { ms }) => heard.late = Some((ms, state)),
        }
        heard.now.extend(held);
        heard
    }

    pub fn push_storage_fault(&mut self, spec: StorageFaultSpec) {
        if spec.count > 0 {
            self.storage_faults.push(spec);
        }
    }

    fn take_fault(&mut self, op: StorageOp, key: StorageKey) -> Option<StorageFaultKind> {
        let i = self
            .storage_faults
            .iter()
            .position(|f| f.op == op && f.key.is_none_or(|k| k == key))?;
        let fault = &mut self.storage_faults[i];
        let kind = fault.kind;
        fault.count -= 1;
        if fault.count == 0 {
            self.storage_faults.remove(i);
        }
        Some(kind)
    }

    /// The SDK reads `key`: the value and its digest, `None` when absent.
    pub fn sdk_read(&mut self, key: StorageKey) -> Access<Option<(Payload, u64)>> {
        if self.refuses(key) {
            return Access::Failed(StorageError::Locked);
        }
        if self.undecryptable.contains(&key) {
            return Access::Failed(StorageError::Undecryptable);
        }
        if self.storage.get(&(key, 0)).is_some_and(|item| item.unreadable) {
            return Access::Failed(StorageError::TooLarge);
        }
        match self.take_fault(StorageOp::Read, key) {
            Some(StorageFaultKind::Throw) => Access::Failed(StorageError::Thrown),
            Some(StorageFaultKind::Hang) => Access::Hang,
            Some(StorageFaultKind::Garbage) => Access::Failed(StorageError::Garbage),
            None => Access::Done(self.read(key)),
        }
    }

    /// The SDK writes `payload` under `key` (chunked unless `raw`): the digest the store
    /// holds now. `Failed(Garbage)`: corrupt bytes landed instead.
    pub fn sdk_write(&mut self, key: StorageKey, payload: Payload, raw: bool) -> Access<u64> {
        if self.refuses(key) {
            return Access::Failed(StorageError::Locked);
        }
        match self.take_fault(StorageOp::Write, key) {
            Some(StorageFaultKind::Throw) => Access::Failed(StorageError::Thrown),
            Some(StorageFaultKind::Hang) => Access::Hang,
            // The bytes land, and will not parse: the one failure that changes the store.
            Some(StorageFaultKind::Garbage) => {
                self.undecryptable.remove(&key);
                self.write_raw(key, Payload::Corrupt);
                Access::Failed(StorageError::Garbage)
            }
            // A platform that refuses large values rejects the write; nothing changes.
            None if raw && self.refuses_size(payload.len()) => {
                Access::Failed(StorageError::TooLarge)
            }
            None => Access::Done({
                self.undecryptable.remove(&key);
                if raw { self.write_raw(key, payload) } else { self.write_chunked(key, payload) }
            }),
        }
    }

    /// The SDK deletes `key`: whether anything was there. Deleting needs no decryption, so
    /// protection never refuses it.
    pub fn sdk_delete(&mut self, key: StorageKey) -> Access<bool> {
        match self.take_fault(StorageOp::Delete, key) {
            Some(StorageFaultKind::Throw) => Access::Failed(StorageError::Thrown),
            Some(StorageFaultKind::Hang) => Access::Hang,
            Some(StorageFaultKind::Garbage) | None => {
                self.undecryptable.remove(&key);
                Access::Done(self.delete(key))
            }
        }
    }

    /// The platform's item limit: iOS 2048 bytes, Android about 4 KB (on some devices).
    fn item_limit(&self) -> u32 {
        match self.platform {
            Platform::Ios => IOS_ITEM_BYTES_MAX,
            Platform::Android => ANDROID_ITEM_BYTES_MAX,
        }
    }

    /// Whether a write of `len` bytes as one item is refused ([`LargeValues::Throw`]).
    fn refuses_size(&self, len: u32) -> bool {
        self.large_values == LargeValues::Throw && len > self.item_limit()
    }

    /// Writes `payload` as one item. A value over the platform's limit meets the platform's
    /// [`LargeValues`]: cut to the limit (it reads back corrupt), stored whole but unreadable
    /// to the SDK, or stored whole; a refusing platform's write is refused in
    /// [`Device::sdk_write`] and changes nothing here. Returns the digest the store now holds.
    pub fn write_raw(&mut self, key: StorageKey, payload: Payload) -> u64 {
        let len = payload.len();
        let digest = payload.digest();
        let limit = self.item_limit();
        let whole =
            |payload| Item { len, digest, payload: Some(payload), chunks: 0, unreadable: false };
        let item = match self.large_values {
            _ if len <= limit => whole(payload),
            LargeValues::Truncate => Item {
                len: limit,
                digest: mix64(digest ^ limit as u64),
                payload: Some(Payload::Corrupt),
                chunks: 0,
                unreadable: false,
            },
            LargeValues::FailOnRead => Item { unreadable: true, ..whole(payload) },
            LargeValues::Store => whole(payload),
            LargeValues::Throw => return self.read(key).map_or(0, |(_, d)| d),
        };
        self.delete(key);
        let stored = item.digest;
        self.storage.insert((key, 0), item);
        stored
    }

    /// The native SDK's own keychain (clerk-ios) or preferences (clerk-android) write: whole,
    /// whatever its size — the item limits of expo-secure-store are not the native SDKs'.
    /// Returns the digest the store now holds.
    pub fn write_native(&mut self, key: StorageKey, payload: Payload) -> u64 {
        let item = Item {
            len: payload.len(),
            digest: payload.digest(),
            payload: Some(payload),
            chunks: 0,
            unreadable: false,
        };
        self.delete(key);
        let stored = item.digest;
        self.storage.insert((key, 0), item);
        stored
    }

    /// Writes `payload` in [`CHUNK_BYTES`] pieces behind a metadata item, so no item exceeds
    /// the platform limit. Returns the digest the store now holds (the value's own).
    pub fn write_chunked(&mut self, key: StorageKey, payload: Payload) -> u64 {
        let len = payload.len();
        if len <= CHUNK_BYTES {
            return self.write_raw(key, payload);
        }
        self.delete(key);
        let digest = payload.digest();
        let chunks = len.div_ceil(CHUNK_BYTES) as u16;
        for i in 0..chunks {
            let piece = (len - i as u32 * CHUNK_BYTES).min(CHUNK_BYTES);
            let item = Item {
                len: piece,
                digest: mix64(digest ^ i as u64),
                payload: None,
                chunks: 0,
                unreadable: false,
            };
            self.storage.insert((key, i + 1), item);
        }
        // The head is a small metadata item; the value's bytes live in the chunks.
        let head =
            Item { len: METADATA_BYTES, digest, payload: Some(payload), chunks, unreadable: false };
        self.storage.insert((key, 0), head);
        digest
    }

    /// Reads a value back whole, checking every chunk. `Some(Corrupt)` for a damaged value.
    pub fn read(&self, key: StorageKey) -> Option<(Payload, u64)> {
        self.read_with(key, |payload, digest| (payload.clone(), digest))
    }

    /// [`Device::read`] without the copy: `f` sees the payload (`Corrupt` for a damaged
    /// value) and its digest in place. Every step reads the client token and digests, and a
    /// copy of a cached client is a deep one.
    pub fn read_with<R>(&self, key: StorageKey, f: impl FnOnce(&Payload, u64) -> R) -> Option<R> {
        let head = self.storage.get(&(key, 0))?;
        let whole = (1..=head.chunks).all(|i| {
            self.storage
                .get(&(key, i))
                .is_some_and(|c| c.digest == mix64(head.digest ^ (i - 1) as u64))
        });
        Some(match (&head.payload, whole) {
            (Some(payload), true) => f(payload, head.digest),
            (None, true) => f(&Payload::Corrupt, head.digest),
            (_, false) => f(&Payload::Corrupt, 0),
        })
    }

    /// The digest [`Device::read`] would give.
    pub fn digest(&self, key: StorageKey) -> Option<u64> {
        self.read_with(key, |_, digest| digest)
    }

    /// The client token stored whole under `key`; `None` for anything else or nothing.
    pub fn client_token(&self, key: StorageKey) -> Option<ClientToken> {
        self.read_with(key, |payload, _| match payload {
            Payload::ClientToken(t) => Some(*t),
            _ => None,
        })
        .flatten()
    }

    /// Deletes a value and all its chunks. Returns whether anything was there.
    pub fn delete(&mut self, key: StorageKey) -> bool {
        let chunks = self.storage.get(&(key, 0)).map(|h| h.chunks).unwrap_or(0);
        let existed = self.storage.remove(&(key, 0)).is_some();
        for i in 1..=chunks {
            self.storage.remove(&(key, i));
        }
        existed
    }

    /// Uninstall and reinstall: iOS keeps keychain items, Android clears its storage.
    pub fn reinstall(&mut self) {
        self.running = false;
        self.awake = false;
        if self.platform == Platform::Android {
            self.storage.clear();
            self.undecryptable.clear();
        }
    }

    /// The largest physical item, for reports and the item-limit checks.
    pub fn largest_item(&self) -> u32 {
        self.storage.values().map(|i| i.len).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::server::SessionSnap;
    use crate::model::time::VTime;
    use crate::model::vocab::{ClientId, SessionId, SessionStatus, UserId};

    fn big_client() -> Payload {
        let snap = SessionSnap {
            id: SessionId(1),
            user: UserId(1),
            status: SessionStatus::Active,
            tasks: vec![],
            created_at: VTime(0),
            expire_at: None,
            abandon_at: None,
            last_active_at: VTime(0),
            last_active_token: None,
        };
        Payload::Client(Arc::new(ClientView {
            id: ClientId(1),
            sessions: vec![snap],
            last_active_session: Some(SessionId(1)),
        }))
    }

    #[test]
    fn chunked_values_round_trip_on_ios_and_raw_ones_are_cut() {
        let mut ios = Device::new(Platform::Ios);
        let value = big_client();
        assert!(value.len() > IOS_ITEM_BYTES_MAX);
        let stored = ios.write_chunked(StorageKey::CachedClient, value.clone());
        assert_eq!(stored, value.digest());
        assert_eq!(ios.read(StorageKey::CachedClient), Some((value.clone(), value.digest())));
        assert!(ios.largest_item() <= IOS_ITEM_BYTES_MAX);

        let stored = ios.write_raw(StorageKey::CachedClient, value.clone());
        assert_ne!(stored, value.digest());
        assert_eq!(ios.read(StorageKey::CachedClient).map(|r| r.0), Some(Payload::Corrupt));

        let mut android = Device::new(Platform::Android);
        android.write_raw(StorageKey::CachedClient, value.clone());
        assert_eq!(android.read(StorageKey::CachedClient).map(|r| r.0), Some(value));
    }

    #[test]
    fn reinstall_keeps_the_keychain_on_ios_only() {
        for (platform, kept) in [(Platform::Ios, true), (Platform::Android, false)] {
            let mut d = Device::new(platform);
            let token = ClientToken { client: ClientId(1), epoch: 1, version: 1 };
            d.write_raw(StorageKey::ClientJwt, Payload::ClientToken(token));
            d.reinstall();
            assert_eq!(d.read(StorageKey::ClientJwt).is_some(), kept, "{platform:?}");
        }
    }
}
