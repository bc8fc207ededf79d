//! stubs/expo-secure-store.cjs: `expo-secure-store` as @clerk/expo's token cache reads it,
//! backed by the storage the harness owns (docs/adapter-protocol.md §6 "Storage").
//!
//! The driver binds a backend at `start` (`bind`): the persisted key → string map the
//! harness handed over and the `report` function, so every change becomes a
//! `storage_written` / `storage_deleted` happening and the next process gets it back.
//! `keychainService` (default `app`) is part of the key on a phone; the token cache never
//! sets it, so keys are the bare names (`__clerk_client_jwt`), as the harness names them.
//!
//! The resource cache (`@clerk/expo/resource-cache`, passed as `__experimental_resourceCache`)
//! stores each item `<name>_<last 5 of the publishable key>` in two slots of 1024-character
//! chunks: `<item>-A-chunk-0…`, `<item>-A-metadata` (`{"totalChunks":n}`), `<item>-A-complete`
//! (`"false"` while writing, then `"true"`), and `<item>-latest` naming the slot a read tries
//! first. Those physical keys are stored and reported like any other (the harness persists
//! keys it has no name for silently and hands them back at `start`), so a cold start reads
//! them through the package's own code. The harness names the item itself
//! (`__clerk_cache_client`, `__clerk_cache_environment`, `__clerk_cache_session_jwt`), so the
//! stub also reports the item whole under that name at the moment a reader would see it
//! change: when `<item>-latest` is written, the value reassembled from the slot it names
//! (unchanged values are not reported again). The first read of a slot's `-complete` in a
//! process (the package's `get`) is reported as a read of the named item. These names are the
//! harness's record, never SecureStore items: `bind` keeps them out of the store it serves.
//!
//! Storage faults (docs/adapter-protocol.md §3, "Device events"): `armFault` takes a
//! `storage_fault` event (from `start.storage_faults` or a `storage_fault` step) and the next
//! `count` operations of its `op` on its key reject, as expo-secure-store rejects on a
//! keychain or keystore error; nothing changes in the store. Only `throw` is simulated, and
//! only for the key the token cache uses (`client_jwt`, `__clerk_client_jwt`) or for any key
//! when the resource cache is off (its chunked items are not the harness's one-item-per-name
//! store, so a fault counted per SecureStore key would not be the fault the model counts).

'use strict';

// The accessibility constants expo-secure-store exports (only their identity matters here).
const AFTER_FIRST_UNLOCK = 0;
const AFTER_FIRST_UNLOCK_THIS_DEVICE_ONLY = 1;
const ALWAYS = 2;
const WHEN_PASSCODE_SET_THIS_DEVICE_ONLY = 3;
const ALWAYS_THIS_DEVICE_ONLY = 4;
const WHEN_UNLOCKED = 5;
const WHEN_UNLOCKED_THIS_DEVICE_ONLY = 6;

let backend = null;

/** The resource cache's items, by the name the harness gives them (docs above). */
const RESOURCE_CACHE_NAMES = ['__clerk_cache_client', '__clerk_cache_environment', '__clerk_cache_session_jwt'];
/** `<name>_<key suffix>-latest`, and `<name>_<key suffix>-<slot>-complete`. */
const LATEST = /^(__clerk_cache_(?:client|environment|session_jwt))_[\w.]+-latest$/;
const COMPLETE = /^(__clerk_cache_(?:client|environment|session_jwt))_[\w.]+-[AB]-complete$/;

/** The value last reported under each resource-cache name (what the harness holds). */
let mirrored = new Map();
/** The first read of a key in a process is what the harness models; later ones repeat it. */
let reads = new Set();
/** Armed faults, oldest first: `{ op, key: SecureStore key | null, count }`. */
let faults = [];

/** The harness's storage keys a fault may name, as SecureStore names them. */
const FAULT_KEYS = { client_jwt: '__clerk_client_jwt' };

/**
 * Arms one `storage_fault` event. Returns null, or why it cannot be simulated (the driver
 * answers `unsupported` with it).
 */
function armFault(event, { resourceCache }) {
  if (event.kind !== 'throw') return `storage_fault kind ${JSON.stringify(event.kind)}: only \`throw\` is simulated`;
  if (!['read', 'write', 'delete'].includes(event.op)) return `storage_fault op ${JSON.stringify(event.op)}; accepted: read, write, delete`;
  if (!Number.isSafeInteger(event.count) || event.count < 0) return `storage_fault count ${JSON.stringify(event.count)}: a whole number ≥ 0`;
  let key = null;
  if (event.key !== undefined && event.key !== null) {
    key = FAULT_KEYS[event.key];
    if (!key) return `storage_fault key ${JSON.stringify(event.key)}: only ${Object.keys(FAULT_KEYS).join(', ')} is simulated`;
  } else if (resourceCache) {
    return 'storage_fault without a key while the resource cache is on: its chunked items are counted per item by the harness, per SecureStore key here';
  }
  if (event.count > 0) faults.push({ op: event.op, key, count: event.count });
  return null;
}

/** A `clear_faults` step: every armed fault is dropped, as the harness's device drops its own. */
function clearFaults() {
  faults = [];
}

/** The fault the next `op` on `key` meets, consumed; null if none. */
function takeFault(op, key) {
  const i = faults.findIndex((f) => f.op === op && (f.key === null || f.key === key));
  if (i < 0) return null;
  faults[i].count -= 1;
  if (faults[i].count === 0) faults.splice(i, 1);
  const verb = { read: 'getValueWithKeyAsync', write: 'setValueWithKeyAsync', delete: 'deleteValueWithKeyAsync' }[op];
  // The shape of expo-secure-store's rejection on iOS (errSecInteractionNotAllowed).
  return new Error(`Calling the '${verb}' function has failed\n→ Caused by: User interaction is not allowed.`);
}

/**
 * Called by the driver at `start`: `{ values, report }`. The resource-cache names among
 * `values` are the harness's record of what was last reported, not SecureStore items: they
 * leave the store and become the baseline for what counts as a change.
 */
function bind(next) {
  backend = next;
  mirrored = new Map();
  reads = new Set();
  faults = [];
  for (const name of RESOURCE_CACHE_NAMES) {
    if (Object.prototype.hasOwnProperty.call(next.values, name)) {
      mirrored.set(name, next.values[name]);
      delete next.values[name];
    }
  }
}

/**
 * The whole value in `slot` of the resource-cache `item` as the package's `getSlot` reads it
 * (complete, its metadata, every chunk), or null if a read would find none.
 */
function readSlot(values, item, slot) {
  const slotKey = `${item}-${slot}`;
  if (values[`${slotKey}-complete`] !== 'true') return null;
  let total;
  try {
    total = JSON.parse(values[`${slotKey}-metadata`] ?? 'null')?.totalChunks;
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(total) || total < 0) return null;
  const chunks = [];
  for (let i = 0; i < total; i += 1) {
    const chunk = values[`${slotKey}-chunk-${i}`];
    if (!chunk) return null;
    chunks.push(chunk);
  }
  return chunks.join('');
}

/** After `<item>-latest` changed: the item as a reader now sees it, reported under its name. */
function reportResourceItem(key) {
  const match = LATEST.exec(key);
  if (!match) return;
  const { values, report } = store();
  const item = key.slice(0, -'-latest'.length);
  const latest = values[key];
  const value = readSlot(values, item, latest) ?? readSlot(values, item, latest === 'A' ? 'B' : 'A');
  if (value === null || mirrored.get(match[1]) === value) return;
  mirrored.set(match[1], value);
  report('storage_written', { key: match[1], value });
}

function store() {
  if (!backend) throw new Error('expo-secure-store stub used before the driver bound the harness storage');
  return backend;
}

function checkKey(key) {
  if (typeof key !== 'string' || key === '' || !/^[\w.-]+$/.test(key)) {
    throw new Error(`Invalid key provided to SecureStore. Keys must not be empty and contain only alphanumeric characters, ".", "-", and "_". Got ${JSON.stringify(key)}`);
  }
}


async function getItemAsync(key) {
  checkKey(key);
  const { values, report } = store();
  const fault = takeFault('read', key);
  if (fault) throw fault;
  if (!reads.has(key)) {
    reads.add(key);
    report('storage_read', { key });
  }
  const complete = COMPLETE.exec(key);
  if (complete && !reads.has(complete[1])) {
    reads.add(complete[1]);
    report('storage_read', { key: complete[1] });
  }
  return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : null;
}

async function setItemAsync(key, value) {
  checkKey(key);
  if (typeof value !== 'string') throw new Error('Invalid value provided to SecureStore. Values must be strings');
  const { values, report } = store();
  const fault = takeFault('write', key);
  if (fault) throw fault;
  // The harness records changes; a rewrite of the same bytes changes nothing it keeps.
  if (values[key] === value) return;
  values[key] = value;
  report('storage_written', { key, value });
  reportResourceItem(key);
}

async function deleteItemAsync(key) {
  checkKey(key);
  const { values, report } = store();
  const fault = takeFault('delete', key);
  if (fault) throw fault;
  if (!Object.prototype.hasOwnProperty.call(values, key)) return;
  delete values[key];
  report('storage_deleted', { key });
}

function getItem() {
  throw new Error('SecureStore.getItem (synchronous) is not used by @clerk/expo and not provided by the harness stub');
}

async function isAvailableAsync() {
  return true;
}

function canUseBiometricAuthentication() {
  return false;
}

module.exports = {
  bind,
  armFault,
  clearFaults,
  AFTER_FIRST_UNLOCK,
  AFTER_FIRST_UNLOCK_THIS_DEVICE_ONLY,
  ALWAYS,
  WHEN_PASSCODE_SET_THIS_DEVICE_ONLY,
  ALWAYS_THIS_DEVICE_ONLY,
  WHEN_UNLOCKED,
  WHEN_UNLOCKED_THIS_DEVICE_ONLY,
  getItemAsync,
  setItemAsync,
  deleteItemAsync,
  getItem,
  isAvailableAsync,
  canUseBiometricAuthentication,
};
