//! stubs/clerk-expo-native-module.cjs: the `ClerkExpo` native module, the one place the
//! adapter decides what `TurboModuleRegistry.get('ClerkExpo')` (3.x) and
//! `requireOptionalNativeModule('ClerkExpo')` (4.x) return.
//!
//! Without `settings.native` it returns null: no native layer, which @clerk/expo supports (an
//! app without the config plugin): the bootstrap stops at `ClerkExpo?.configure`,
//! `NativeSessionSync` skips `ClerkExpo?.signOut`, and `useNativeAuthEvents` subscribes to
//! nothing, so the JS layer runs alone.
//!
//! With `settings.native` (docs/adapter-protocol.md §11) it returns the 3.x TurboModule:
//! `configure`, `getSession`, `getClientToken` and `signOut` are forwarded to the harness's
//! native layer as `native` protocol lines (`forward`, bound by the driver) and resolve or
//! reject with its answer; the module's events come back on a `step` and reach the
//! `NativeEventEmitter`s made over this module (stubs/react-native.cjs). The rules of the
//! native layer live in the harness only (harness/src/model/native.rs); nothing here decides
//! what a call does.

'use strict';

/** The module handed out: null until the driver binds one (a launch with `native`). */
let clerkExpo = null;

/**
 * Makes the 3.x module for this launch. `forward(call, token)` sends one call to the harness
 * and returns a promise of its answer `{ok, value, code, message}`.
 */
function bind({ forward }) {
  const call = async (name, token) => {
    const answer = await forward(name, token ?? null);
    if (answer.ok) return answer.value ?? null;
    // A native rejection, as React Native makes one from `reject(code, message)`.
    const error = new Error(answer.message ?? `${answer.code} (session-harness native layer)`);
    error.code = answer.code ?? 'E_HARNESS';
    throw error;
  };
  clerkExpo = {
    configure: (_publishableKey, token) => call('configure', token),
    getSession: () => call('get_session'),
    getClientToken: () => call('get_client_token'),
    signOut: () => call('sign_out'),
    // The harness's app never presents the native screens from JS: its native sign-in is the
    // scenario event `native_sign_in`, made on the harness's side.
    presentAuth: () => Promise.reject(Object.assign(new Error('presentAuth is driven by the harness (native_sign_in)'), { code: 'E_HARNESS' })),
    presentUserProfile: () => Promise.reject(Object.assign(new Error('presentUserProfile is not simulated'), { code: 'E_HARNESS' })),
    // RCTEventEmitter's observer bookkeeping: iOS emits only while JS listens; the emitter
    // stub delivers to its listeners, so a count is all it needs.
    addListener: () => {},
    removeListeners: () => {},
  };
  return clerkExpo;
}

/** The module `TurboModuleRegistry.get('ClerkExpo')` hands out. */
function native() {
  return clerkExpo;
}

module.exports = { native, bind };
