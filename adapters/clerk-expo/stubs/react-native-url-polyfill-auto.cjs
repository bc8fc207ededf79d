//! stubs/react-native-url-polyfill-auto.cjs: `react-native-url-polyfill/auto`, a no-op.
//!
//! The real module replaces React Native's incomplete `URL`/`URLSearchParams` with
//! whatwg-url's. Node 20's own are already the WHATWG ones, so there is nothing to replace.
//! It is stubbed rather than loaded because 2.0.0 ships untranspiled ESM (`import … from
//! 'react-native'`) in a CommonJS package: Node's require-of-ESM would resolve that import
//! through the ESM resolver, past the adapter's CommonJS resolve hook, and fail.

'use strict';

globalThis.REACT_NATIVE_URL_POLYFILL = 'session-harness (Node URL)';

module.exports = {};
