/**
 * Last-resort teardown of what the netns harnesses made (topologies, then
 * cluster temp dirs, in the order they registered) when the process ends
 * before their owners destroyed them: on unload, on an uncaught error or
 * rejection (which end the process without "unload"), and on SIGINT,
 * SIGTERM and SIGHUP, after which the process exits with 128 + the signal's
 * number. A run that stops by itself on SIGTERM/SIGHUP (the soak finishes its
 * round, reports and tears down) sets a stop handler instead.
 *
 * Owns only the listeners: it calls `destroySync()` of what registered and
 * never kills or removes anything itself.
 */

/** Something with a synchronous last-resort teardown. */
export interface SyncDestroyable {
  destroySync(): void;
}

const EXIT_EVENTS = ["unload", "error", "unhandledrejection"] as const;
/** The signals that end the process, with the exit code a shell would report. */
const EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
type ExitSignal = keyof typeof EXIT_CODES;
const EXIT_SIGNALS = Object.keys(EXIT_CODES) as ExitSignal[];

const live = new Set<SyncDestroyable>();
let stopHandler: (() => void) | null = null;
let signalListeners: Map<ExitSignal, () => void> | null = null;

function destroyAll(): void {
  for (const destroyable of [...live]) destroyable.destroySync();
}

function onSignal(signal: ExitSignal): void {
  // Ctrl-C always ends at once; a stop handler asked to end the run itself.
  if (signal !== "SIGINT" && stopHandler !== null) {
    stopHandler();
    return;
  }
  destroyAll();
  Deno.exit(EXIT_CODES[signal]);
}

/** Listens while anything is registered or a stop handler is set, and only then. */
function syncListeners(): void {
  const wanted = live.size > 0 || stopHandler !== null;
  if (wanted && signalListeners === null) {
    for (const event of EXIT_EVENTS) {
      globalThis.addEventListener(event, destroyAll);
    }
    signalListeners = new Map(
      EXIT_SIGNALS.map((signal) => [signal, () => onSignal(signal)]),
    );
    for (const [signal, listener] of signalListeners) {
      Deno.addSignalListener(signal, listener);
    }
  } else if (!wanted && signalListeners !== null) {
    for (const event of EXIT_EVENTS) {
      globalThis.removeEventListener(event, destroyAll);
    }
    for (const [signal, listener] of signalListeners) {
      Deno.removeSignalListener(signal, listener);
    }
    signalListeners = null;
  }
}

/** Tears `destroyable` down synchronously if the process ends before `unregister()`. */
export function register(destroyable: SyncDestroyable): void {
  live.add(destroyable);
  syncListeners();
}

/** Forgets `destroyable` (its owner destroyed it). */
export function unregister(destroyable: SyncDestroyable): void {
  live.delete(destroyable);
  syncListeners();
}

/**
 * While set, SIGTERM and SIGHUP call `handler` instead of tearing down and
 * exiting: the caller ends its run and destroys its topologies itself.
 * SIGINT still tears down and exits at once. Returns the function that
 * clears the handler.
 */
export function onStopSignal(handler: () => void): () => void {
  stopHandler = handler;
  syncListeners();
  return () => {
    if (stopHandler === handler) stopHandler = null;
    syncListeners();
  };
}
