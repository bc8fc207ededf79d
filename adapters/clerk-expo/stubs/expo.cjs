//! stubs/expo.cjs: the part of the `expo` package @clerk/expo 4.x reads at load:
//! `requireOptionalNativeModule` (the ClerkExpo module, or null) and `requireNativeView`
//! (the native auth views, which the harness's app never renders).
//!
//! `requireOptionalNativeModule('ClerkExpo')` answers from clerk-expo-native-module.cjs, the
//! same single place as 3.x's `TurboModuleRegistry.get('ClerkExpo')`.

'use strict';

const { native } = require('./clerk-expo-native-module.cjs');

function requireOptionalNativeModule(name) {
  return name === 'ClerkExpo' ? native() : null;
}

function requireNativeModule(name) {
  const module = requireOptionalNativeModule(name);
  if (!module) throw new Error(`Cannot find native module '${name}'`);
  return module;
}

/** A native view component: rendering one is outside what the harness's app does. */
function requireNativeView(name) {
  return function NativeView() {
    throw new Error(`the native view ${name} cannot render under the session-harness adapter`);
  };
}

module.exports = { requireOptionalNativeModule, requireNativeModule, requireNativeView };
