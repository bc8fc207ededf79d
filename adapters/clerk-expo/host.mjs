//! host.mjs: the React renderer the clerk-expo driver mounts the app with: a react-reconciler
//! host that has no output. Owns the host config, the root (concurrent, as React Native's new
//! architecture renders) and `mount`/`unmount`.
//!
//! Why a reconciler host and not react-test-renderer: react-test-renderer is deprecated in
//! React 19 (it warns on every `create`) and keeps a JSON tree of host elements we would never
//! read. The app shell renders no host elements at all (every screen is a route value the
//! driver observes), so the host below only has to exist: every mutation is a no-op, and
//! what React Native would draw is the view the shell computes from `useAuth()` at commit.
//!
//! The config is written against react-reconciler 0.32 (React 19.1), which the version
//! folders pin with React. Timers it schedules (`scheduleTimeout`, used for Suspense) are the
//! fake ones; microtasks are real.

const NO_CONTEXT = {};
// React's event priorities (react-reconciler/constants): Default is the one a host outside
// any event reports.
const DEFAULT_EVENT_PRIORITY = 0b0000000000000000000000000100000;

/** The host config: nothing is drawn; everything React asks the host returns at once. */
function hostConfig(React) {
  let currentUpdatePriority = 0;
  const noop = () => {};
  return {
    rendererPackageName: 'session-harness-clerk-expo-host',
    rendererVersion: '0.1.0',
    supportsMutation: true,
    supportsPersistence: false,
    supportsHydration: false,
    supportsMicrotasks: true,
    supportsResources: false,
    supportsSingletons: false,
    supportsTestSelectors: false,
    isPrimaryRenderer: true,
    warnsIfNotActing: false,
    noTimeout: -1,
    scheduleTimeout: (fn, ms) => setTimeout(fn, ms),
    cancelTimeout: (id) => clearTimeout(id),
    scheduleMicrotask: (fn) => queueMicrotask(fn),
    NotPendingTransition: null,
    HostTransitionContext: React.createContext(null),

    createInstance: (type, props) => ({ type, props }),
    createTextInstance: (text) => ({ text }),
    appendInitialChild: noop,
    finalizeInitialChildren: () => false,
    shouldSetTextContent: () => false,
    getRootHostContext: () => NO_CONTEXT,
    getChildHostContext: () => NO_CONTEXT,
    getPublicInstance: (instance) => instance,
    prepareForCommit: () => null,
    resetAfterCommit: noop,
    preparePortalMount: noop,
    getInstanceFromNode: () => null,
    beforeActiveInstanceBlur: noop,
    afterActiveInstanceBlur: noop,
    prepareScopeUpdate: noop,
    getInstanceFromScope: () => null,
    detachDeletedInstance: noop,
    appendChild: noop,
    appendChildToContainer: noop,
    insertBefore: noop,
    insertInContainerBefore: noop,
    removeChild: noop,
    removeChildFromContainer: noop,
    resetTextContent: noop,
    commitTextUpdate: noop,
    commitMount: noop,
    commitUpdate: noop,
    hideInstance: noop,
    hideTextInstance: noop,
    unhideInstance: noop,
    unhideTextInstance: noop,
    clearContainer: noop,

    setCurrentUpdatePriority: (priority) => {
      currentUpdatePriority = priority;
    },
    getCurrentUpdatePriority: () => currentUpdatePriority,
    resolveUpdatePriority: () => currentUpdatePriority || DEFAULT_EVENT_PRIORITY,
    resolveEventType: () => null,
    resolveEventTimeStamp: () => -1.1,
    shouldAttemptEagerTransition: () => false,
    trackSchedulerEvent: noop,
    requestPostPaintCallback: noop,
    maySuspendCommit: () => false,
    mayResourceSuspendCommit: () => false,
    preloadInstance: () => true,
    startSuspendingCommit: noop,
    suspendInstance: noop,
    waitForCommitToBeReady: () => null,
    resetFormInstance: noop,
    bindToConsole: (method, args) => Function.prototype.bind.call(console[method], console, ...args),
  };
}

/**
 * Mounts `element` in a new concurrent root. `onError` hears every error React reports
 * (uncaught, caught by a boundary, recovered): the driver turns them into stderr lines and,
 * for uncaught ones, an internal error of the step.
 */
export function mount({ React, Reconciler, element, onError }) {
  const reconciler = Reconciler(hostConfig(React));
  const CONCURRENT_ROOT = 1;
  const container = { children: [] };
  const root = reconciler.createContainer(
    container,
    CONCURRENT_ROOT,
    null,
    false,
    null,
    '',
    (error) => onError('uncaught', error),
    (error) => onError('caught', error),
    (error) => onError('recoverable', error),
    null,
  );
  reconciler.updateContainer(element, root, null, null);
  return {
    unmount: () => reconciler.updateContainer(null, root, null, null),
  };
}
