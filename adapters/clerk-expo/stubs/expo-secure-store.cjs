//! stubs/expo-secure-store.cjs: `expo-secure-store` as @clerk/expo's token cache reads it,
//! backed by the storage the harness owns (docs/adapter-protocol.md §6 "Storage").
//!
//! The driver binds a backend at `start` (`bind`): the persisted key → string map the
//! harness handed over and the `report` function, so every change becomes a
//! `storage_written` / `storage_deleted` happening and the next process gets it back.
//! `keychainService` (default `app`) is part of the key on a phone; the token cache never
//! sets it, so keys are the bare names (`__clerk_client_jwt`), as the harness names them.

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

/** Called by the driver at `start`: `{ values, report }`. */
function bind(next) {
  backend = next;
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

/** The first read of a key in a process is what the harness models; later ones repeat it. */
const reads = new Set();

async function getItemAsync(key) {
  checkKey(key);
  const { values, report } = store();
  if (!reads.has(key)) {
    reads.add(key);
    report('storage_read', { key });
  }
  return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : null;
}

async function setItemAsync(key, value) {
  checkKey(key);
  if (typeof value !== 'string') throw new Error('Invalid value provided to SecureStore. Values must be strings');
  const { values, report } = store();
  // The harness records changes; a rewrite of the same bytes changes nothing it keeps.
  if (values[key] === value) return;
  values[key] = value;
  report('storage_written', { key, value });
}

async function deleteItemAsync(key) {
  checkKey(key);
  const { values, report } = store();
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
