// launch.mjs: what every launch of both Node drivers builds the same way, whatever SDK it
// loads: the instants (virtual ms against the fake clock's Unix ms), the happenings log, the
// device network wired to the call scope, the call-free client reload after a 401, and the
// app shell in its starting state. Each driver's `start` calls these in its own order, around
// what is its own (realm or main-realm globals, loading the SDK, React).
//
// Node built-ins only (and ./): adapters/shared/ has no node_modules of its own.

import { Network } from './fetch.mjs';
import { EPOCH_UNIX_MS } from './protocol.mjs';

/**
 * The offset from the fake clock's Unix ms to the harness's virtual ms: `start`'s `now_ms` is
 * virtual ms since the harness epoch (what the emulator's header and the happenings speak)
 * or, if the harness sends one, a Unix-ms instant; Date.now() agrees with the emulator's token
 * times either way (docs/adapter-protocol.md §9).
 */
export function epochOffset(nowMs) {
  return nowMs >= EPOCH_UNIX_MS ? 0 : EPOCH_UNIX_MS;
}

/** A launch's happenings: `report` appends one at the virtual instant, `take` hands them over. */
export function happeningsLog(virtual) {
  let happenings = [];
  return {
    report: (what, fields) => happenings.push({ what, at: virtual(), ...fields }),
    take: () => {
      const taken = happenings;
      happenings = [];
      return taken;
    },
  };
}

/**
 * The launch's device network (fetch.mjs) over `start`'s fields (protocol.mjs `startFields`):
 * requests carry the call `als` holds, and once `attach(shell)` has run every FAPI answer's
 * status reaches the shell (`lastDelivered`, which tells a 401's sign-out from a payload's).
 * `networkError` makes the SDK realm's `TypeError`. The driver installs `net.fetch`.
 */
export function launchNetwork({ fields, clock, offset, report, als, networkError }) {
  let shell = null;
  const net = new Network({
    clock,
    run: fields.run,
    settings: { fapi_latency_ms: fields.fapiLatency, backend_latency_ms: fields.backendLatency },
    report,
    currentCall: () => als.getStore(),
    onDelivered: (status) => {
      if (shell) shell.lastDelivered = status;
    },
    headerTime: (unixMs) => unixMs - EPOCH_UNIX_MS,
    reportedTime: (unixMs) => unixMs - offset,
    networkError,
  });
  net.offline = fields.network === 'offline';
  return {
    net,
    attach: (attached) => {
      shell = attached;
    },
  };
}

/**
 * `handleUnauthenticated()` (the client reload after a 401) serves no call of the app's: its
 * `GET /client` is reported without one, as the harness model does.
 */
export function callFreeReload(clerk, als) {
  if (typeof clerk.handleUnauthenticated === 'function') {
    const reload = clerk.handleUnauthenticated;
    clerk.handleUnauthenticated = (...args) => als.exit(() => reload.apply(clerk, args));
  }
}

/**
 * The app shell (the adapter's `AppShell` subclass, `options` its own constructor options)
 * over the launch, attached to `network` (what `launchNetwork` returned), numbering calls from `call_base`, in `start`'s
 * app state (a background start holds the JS timers at once).
 */
export function openShell({ AppShell, fields, clerk, clock, network, report, als, options = {} }) {
  const shell = new AppShell({
    clerk,
    clock,
    network: network.net,
    report,
    backendUrl: fields.backendUrl,
    platform: fields.platform,
    treatPendingAsSignedOut: fields.settings.treat_pending_as_signed_out !== false,
    als,
    ...options,
  });
  network.attach(shell);
  shell.nextCall = fields.callBase;
  if (fields.appState === 'background') {
    shell.appState = 'background';
    clock.hold();
  } else {
    shell.appState = fields.appState;
  }
  return shell;
}
