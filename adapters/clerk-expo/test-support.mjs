//! test-support.mjs: the clerk-expo driver's test helpers (test/):
//! adapters/shared/test-support.mjs (the dev server per test, the driver over its pipes, every
//! wait bounded), with the Driver bound to this folder's driver.mjs.
//!
//! Env: SESSION_HARNESS_SERVE  see adapters/shared/test-support.mjs.
//!      SESSION_HARNESS_CLERK_EXPO_DIR  the version folder the driver runs (passed through).

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Driver as SharedDriver } from '../shared/test-support.mjs';

export { EPOCH_UNIX_MS, REPO_ROOT, admin, claims, freePort, startServer } from '../shared/test-support.mjs';

export const ADAPTER_DIR = dirname(fileURLToPath(import.meta.url));

/** This adapter's driver as the harness runs it. */
export class Driver extends SharedDriver {
  constructor(env = {}) {
    super(ADAPTER_DIR, env);
  }
}
