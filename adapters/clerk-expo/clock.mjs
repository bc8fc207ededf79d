//! clock.mjs: the clerk-expo driver's virtual time: adapters/shared/clock.mjs (the fake clock,
//! idleness, the network agenda, the background) bound to what is clerk-expo's own. The clock
//! fakes the main realm (one app process per driver process, React and @clerk/expo loaded in
//! it), with the fake-timers module of the selected version folder (the driver resolves it
//! there: adapters/shared/ has no node_modules). React's `setImmediate` hops count as work in
//! flight once `trackImmediates()` has wrapped the global, which the driver does before React
//! is loaded (shared/clock.mjs says why).

import { VirtualClock as SharedClock } from '../shared/clock.mjs';

export { trackImmediates } from '../shared/clock.mjs';

export class VirtualClock extends SharedClock {
  /**
   * Installs the fake clock at `nowMs` (virtual ms since the Unix epoch) on the main realm,
   * with the @sinonjs/fake-timers module the selected version folder pins.
   */
  constructor(nowMs, FakeTimers) {
    super({ nowMs, realm: globalThis, FakeTimers, pinnedBy: 'adapters/clerk-expo/versions/*/package.json pin' });
  }
}
