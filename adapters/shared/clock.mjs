// clock.mjs: virtual time for both Node adapters (docs/adapter-protocol.md §4). Owns the fake
// clock (@sinonjs/fake-timers on Date and the four timer functions only; microtasks,
// setImmediate and process.nextTick stay real), the count of real I/O in flight, the count of
// pending `setImmediate` work once `trackImmediates()` is on, the "network agenda" of jobs that
// run whatever JS is doing (a response reaching the device, a backend request reaching the
// server), and the rules of `advance` and of the background.
//
// Idle = no real I/O in flight, no tracked `setImmediate` callback pending, the
// microtask/immediate queues drained, and no timer due at or before the current instant.
// Before every timer or network job fires, the clock waits until that holds, so the order of
// work is a pure function of the events, never of how fast the emulator answered.
//
// Why immediates can count: React's scheduler captures `setImmediate` when it loads and hops
// through it between render, commit and passive effects. If a timer or a network answer could
// fire between a render and its effects, traces would reorder. clerk-expo calls
// `trackImmediates()` before React is loaded, and `drain()` then waits for every wrapped
// callback to have run. clerk-js never calls it: its counts stay at zero and `drain()` is the
// plain I/O-and-queues wait.
//
// The fake-timers module is passed in, not imported: adapters/shared/ has no node_modules,
// and each adapter pins its own copy (adapters/clerk-js/package.json,
// adapters/clerk-expo/versions/*/package.json). So is the global object the clock fakes: a
// clerk-js launch's own realm, or clerk-expo's main realm.
//
// Timer internals: moving a timer's due instant (background holds, exact-instant JS jobs)
// reads and writes `clock.timers` (a Map) and `clock.timerHeap` (remove/push/peek) of
// @sinonjs/fake-timers 15.5.0, the version both adapters pin. They are not public API; a new
// major may rename them, and `VirtualClock.check()` fails loudly if they are missing.

// Real queue turns taken, with nothing new started, before the JS world counts as drained.
// Node drains every microtask (and nextTick) before each immediate, so one turn is usually
// enough; a few more cover promise chains that hop through a stream read.
const QUIET_TURNS = 3;
// A JS world that keeps starting real I/O forever is a bug in the driver or the SDK: fail
// with a clear error rather than spin.
const DRAIN_ROUNDS_MAX = 100_000;

const realSetImmediate = globalThis.setImmediate;
const realClearImmediate = globalThis.clearImmediate;
const turn = () => new Promise((resolve) => realSetImmediate(resolve));

/** `setImmediate` callbacks scheduled through the wrapper and not yet run or cleared. */
const pendingImmediates = new Set();
/** How many were ever scheduled (a drain is quiet only if none was added meanwhile). */
let immediatesStarted = 0;
/** Whether `trackImmediates()` wrapped the globals (clerk-expo). */
let immediatesTracked = false;

/**
 * Wraps the global `setImmediate`/`clearImmediate` so that pending callbacks count as work in
 * flight. Call before loading React (its scheduler keeps the function it finds at load).
 */
export function trackImmediates() {
  if (globalThis.setImmediate.__sessionHarness) return;
  const wrapped = (callback, ...args) => {
    immediatesStarted += 1;
    let handle = null;
    handle = realSetImmediate(() => {
      pendingImmediates.delete(handle);
      callback(...args);
    });
    pendingImmediates.add(handle);
    return handle;
  };
  wrapped.__sessionHarness = true;
  immediatesTracked = true;
  globalThis.setImmediate = wrapped;
  globalThis.clearImmediate = (handle) => {
    pendingImmediates.delete(handle);
    realClearImmediate(handle);
  };
}

export class VirtualClock {
  /**
   * Installs the fake clock at `nowMs` (virtual ms since the Unix epoch) on `realm`, the
   * global object whose Date and timers the SDK reads (the host's real timers stay real),
   * with `FakeTimers`, the @sinonjs/fake-timers module the adapter pins. `pinnedBy` names the
   * manifest that pins it, for `check()`'s message.
   */
  constructor({ nowMs, realm, FakeTimers, pinnedBy }) {
    this.realm = realm;
    this.pinnedBy = pinnedBy;
    this.clock = FakeTimers.withGlobal(realm).install({
      now: nowMs,
      toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
      loopLimit: 1_000_000,
    });
    /** Network jobs: `{at, seq, run}`, run in (at, seq) order, in the background too. */
    this.net = [];
    /** Real I/O in flight (promises), and how many were ever started. */
    this.io = new Set();
    /**
     * Native module calls in flight (docs/adapter-protocol.md §11): a FAPI exchange starts only
     * once they are answered, and a native call only once the I/O before it is, so the
     * harness's server sees native calls and requests in the order JS made them.
     */
    this.nativeIo = new Set();
    this.ioStarted = 0;
    /** False while the app is in the background: JS timers are held. */
    this.jsRuns = true;
    // Orders given to held timers on resume: below every order sinon hands out (which
    // count up from 0), increasing, so held timers run first at the return instant and in
    // the order they fell due.
    this.heldOrder = -1e15;
  }

  now() {
    return this.clock.now;
  }

  uninstall() {
    this.clock.uninstall();
  }

  heap() {
    return this.clock.timerHeap ?? null;
  }

  /** The earliest fake timer, or null. */
  firstTimer() {
    return this.heap()?.peek() ?? null;
  }

  /** Counts `promise` as real I/O until it settles. */
  trackIo(promise) {
    this.ioStarted += 1;
    const tracked = promise.finally(() => this.io.delete(tracked));
    this.io.add(tracked);
    // The caller handles the outcome; this copy only counts.
    tracked.catch(() => {});
    return promise;
  }

  /** Runs `run` at virtual instant `at` as a network job; `seq` breaks ties (send order). */
  netAt(at, seq, run) {
    const job = { at, seq, run };
    let i = this.net.length;
    while (i > 0 && (this.net[i - 1].at > at || (this.net[i - 1].at === at && this.net[i - 1].seq > seq))) {
      i -= 1;
    }
    this.net.splice(i, 0, job);
  }

  /**
   * A JS timer at exactly `at` (a fake `setTimeout`, so the background holds it). sinon
   * adds 1 ms to a zero delay asked for inside a firing timer; the due instant is set back.
   */
  jsAt(at, fn) {
    const handle = this.realm.setTimeout(fn, Math.max(0, at - this.clock.now));
    const timer = this.clock.timers.get(Number(handle));
    if (timer && timer.callAt !== at) {
      this.heap().remove(timer);
      timer.callAt = at;
      this.heap().push(timer);
    }
    return handle;
  }

  /**
   * Waits until no real I/O is in flight, no tracked `setImmediate` is pending, and the real
   * queues are drained.
   */
  async drain() {
    for (let round = 0; round < DRAIN_ROUNDS_MAX; round += 1) {
      if (this.io.size > 0) {
        await Promise.allSettled([...this.io]);
        continue;
      }
      if (pendingImmediates.size > 0) {
        await turn();
        continue;
      }
      const mark = this.ioStarted;
      const immediatesMark = immediatesStarted;
      for (let i = 0; i < QUIET_TURNS; i += 1) await turn();
      if (this.io.size === 0 && this.ioStarted === mark && pendingImmediates.size === 0 && immediatesStarted === immediatesMark) return;
    }
    // The message names React work only where immediates are tracked (clerk-expo).
    const what = immediatesTracked ? 'real I/O or React work' : 'real I/O';
    throw new Error(`the JS world never became idle: ${what} kept starting for ${DRAIN_ROUNDS_MAX} rounds`);
  }

  /**
   * Becomes idle, then fires every job due at or before `target` one at a time, earliest
   * first (network jobs before JS timers at the same instant), idle before each; then moves
   * the clock to `target`. `afterJob` runs (synchronously) after each job has settled.
   */
  async runUntil(target, afterJob) {
    // `afterJob` is synchronous and starts nothing: the world is still idle after it.
    let idle = false;
    for (;;) {
      if (!idle) await this.drain();
      idle = false;
      const js = this.jsRuns ? this.firstTimer() : null;
      const net = this.net[0];
      let fired = false;
      if (net && net.at <= target && (!js || net.at <= js.callAt)) {
        this.net.shift();
        if (this.clock.now < net.at) this.clock.now = net.at;
        net.run();
        fired = true;
      } else if (js && js.callAt <= target) {
        // Fires exactly that timer at its due instant (the clock only moves forward: a
        // timer is never overdue while JS runs, see `resume`).
        this.clock.next();
        fired = true;
      }
      if (!fired) break;
      await this.drain();
      afterJob?.();
      idle = true;
    }
    if (this.clock.now < target) {
      // Plain assignment: `setSystemTime` would shift every timer by the difference.
      this.clock.now = target;
    }
  }

  /** The app goes to the background: JS timers stop firing (they fall due and wait). */
  hold() {
    this.jsRuns = false;
  }

  /**
   * The app returns: every timer that fell due while held is moved to now, in the order it
   * fell due, ahead of anything else at this instant. Returns the moved timers.
   */
  resume() {
    this.jsRuns = true;
    const heap = this.heap();
    if (!heap) return new Set();
    const now = this.clock.now;
    const overdue = heap.timers
      .filter((t) => t.callAt <= now)
      .sort((a, b) => a.callAt - b.callAt || a.order - b.order);
    for (const timer of overdue) {
      heap.remove(timer);
      timer.callAt = now;
      timer.order = this.heldOrder;
      this.heldOrder += 1;
      heap.push(timer);
    }
    return new Set(overdue);
  }

  /** Fires the next timer now if it is one of `held`; false when none is left. */
  fireHeld(held) {
    const first = this.firstTimer();
    if (!first || !held.has(first) || first.callAt > this.clock.now) return false;
    this.clock.next();
    return true;
  }

  /** Fails loudly when the pinned fake-timers internals this file relies on are missing. */
  check() {
    const probe = this.realm.setTimeout(() => {}, 1);
    const timer = this.clock.timers?.get?.(Number(probe));
    const heap = this.heap();
    this.realm.clearTimeout(probe);
    if (!timer || !heap || typeof heap.remove !== 'function' || typeof heap.push !== 'function') {
      throw new Error(
        '@sinonjs/fake-timers internals changed (clock.timers Map, clock.timerHeap remove/push/peek); ' +
          `the driver is written against 15.5.0, the version ${this.pinnedBy}`,
      );
    }
  }
}
