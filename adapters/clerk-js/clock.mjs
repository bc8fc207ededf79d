// clock.mjs: the clerk-js driver's virtual time: adapters/shared/clock.mjs (the fake clock,
// idleness, the network agenda, the background) bound to what is clerk-js's own. The clock
// fakes the launch's realm (each launch has its own Date and timers), and the fake-timers
// module is the one this folder's package.json pins, resolved from this folder's node_modules
// (adapters/shared/ has none). React's immediates are not tracked: clerk-js runs no React.

import { createRequire } from 'node:module';

import { VirtualClock as SharedClock } from '../shared/clock.mjs';

const require = createRequire(import.meta.url);
const FakeTimers = require('@sinonjs/fake-timers');

export class VirtualClock extends SharedClock {
  /** Installs the fake clock at `nowMs` (virtual ms since the Unix epoch) on `realm`. */
  constructor(nowMs, realm) {
    super({ nowMs, realm, FakeTimers, pinnedBy: 'adapters/clerk-js/package.json pins' });
  }
}
