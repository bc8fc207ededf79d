//! stubs/react-native.cjs: the part of `react-native` that @clerk/expo 3.x and the app shell
//! read, for Node: `Platform`, `TurboModuleRegistry`, `NativeEventEmitter`, `AppState`.
//!
//! The driver sets the platform at `start` (`setPlatform`) and moves the app state
//! (`setAppState`, which notifies `AppState` listeners as React Native does on a change).
//! `TurboModuleRegistry.get('ClerkExpo')` answers from clerk-expo-native-module.cjs, the one
//! file that decides whether a native layer exists. Anything else of React Native that a
//! package reads is absent on purpose: a new read shows as a TypeError in the adapter's
//! stderr, not as a silent default.

'use strict';

const { native } = require('./clerk-expo-native-module.cjs');

const Platform = {
  OS: 'ios',
  Version: '18.0',
  isTesting: true,
  constants: { reactNativeVersion: { major: 0, minor: 81, patch: 0 } },
  select(choices) {
    if (Object.prototype.hasOwnProperty.call(choices, Platform.OS)) return choices[Platform.OS];
    if (Object.prototype.hasOwnProperty.call(choices, 'native')) return choices.native;
    return choices.default;
  },
};

function setPlatform(os) {
  Platform.OS = os;
  Platform.Version = os === 'ios' ? '18.0' : 35;
}

const TurboModuleRegistry = {
  get(name) {
    return name === 'ClerkExpo' ? native() : null;
  },
  getEnforcing(name) {
    const module = TurboModuleRegistry.get(name);
    if (!module) {
      throw new Error(`TurboModuleRegistry.getEnforcing(...): '${name}' could not be found. Verify that a module by this name is registered in the native binary.`);
    }
    return module;
  },
};

/** Every emitter made in this launch: the native module's events reach those over it. */
const emitters = new Set();

/** Delivers a native module event (docs/adapter-protocol.md §11) to JS's listeners. */
function emitNative(name, body) {
  const module = native();
  for (const emitter of emitters) {
    if (module && emitter.nativeModule === module) emitter.emit(name, body);
  }
}

/** React Native's emitter: `addListener` also tells the native module (iOS starts observing). */
class NativeEventEmitter {
  constructor(nativeModule) {
    this.nativeModule = nativeModule ?? null;
    this.listeners = new Map();
    emitters.add(this);
  }

  addListener(eventType, listener) {
    this.nativeModule?.addListener?.(eventType);
    const set = this.listeners.get(eventType) ?? new Set();
    set.add(listener);
    this.listeners.set(eventType, set);
    return {
      remove: () => {
        if (set.delete(listener)) this.nativeModule?.removeListeners?.(1);
      },
    };
  }

  emit(eventType, ...args) {
    for (const listener of [...(this.listeners.get(eventType) ?? [])]) listener(...args);
  }

  removeAllListeners(eventType) {
    const set = this.listeners.get(eventType);
    if (set) this.nativeModule?.removeListeners?.(set.size);
    this.listeners.delete(eventType);
  }

  listenerCount(eventType) {
    return this.listeners.get(eventType)?.size ?? 0;
  }
}

const appStateListeners = new Set();

const AppState = {
  currentState: 'active',
  isAvailable: true,
  addEventListener(type, listener) {
    if (type !== 'change') return { remove() {} };
    appStateListeners.add(listener);
    return { remove: () => appStateListeners.delete(listener) };
  },
};

/** The OS moved the app: React Native sets `currentState`, then tells every `change` listener. */
function setAppState(state) {
  if (AppState.currentState === state) return;
  AppState.currentState = state;
  for (const listener of [...appStateListeners]) listener(state);
}

module.exports = {
  Platform,
  TurboModuleRegistry,
  NativeEventEmitter,
  AppState,
  // The adapter's controls (not React Native API).
  __harness: { setPlatform, setAppState, emitNative },
};
