//! stubs/clerk-expo-native-module.cjs: the `ClerkExpo` native module, the one place the
//! adapter decides what `TurboModuleRegistry.get('ClerkExpo')` returns.
//!
//! For now it returns null: no native layer. @clerk/expo 3.x supports that (an app without the
//! config plugin): `ClerkProvider`'s native bootstrap stops at `ClerkExpo?.configure`,
//! `NativeSessionSync` skips `ClerkExpo?.signOut`, and `useNativeAuthEvents` subscribes to
//! nothing, so the JS layer (clerk-js under `@clerk/react`, the token cache over
//! expo-secure-store) runs alone.
//!
//! Issue 15 makes the native layer a Rust participant of the harness, reached through the
//! adapter protocol. Then this file returns an object whose `configure`, `getSession`,
//! `getClientToken`, `signOut` (3.x) and `addListener`/`removeListeners` forward each call
//! to the harness as a protocol message and resolve with its answer, and whose events
//! (`onAuthStateChange`) arrive from the harness. Nothing else in the adapter needs to change:
//! every consumer reaches the module through `native()` below.

'use strict';

/** The module `TurboModuleRegistry.get('ClerkExpo')` hands out: null, no native layer. */
function native() {
  return null;
}

module.exports = { native };
