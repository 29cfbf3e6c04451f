/**
 * The kernel owns the process: nothing a cell does may end it.
 *
 * - Late errors (a throw in a timer, a promise nobody awaited, an
 *   EventEmitter "error" without a listener) reach the kernel's handlers
 *   and are reported to the cell that caused them. tfjs-backend-wasm's
 *   Emscripten glue adds its own `uncaughtException`/`unhandledRejection`
 *   listeners that rethrow (which ends Node), and so can any library: the
 *   kernel removes every such listener that is not its own, whenever one
 *   is added.
 * - `process.exit`, `process.abort` and `process.kill(process.pid, ...)`
 *   called by cell code throw an error that
 *   says to restart the kernel instead. The kernel itself exits through
 *   `realExit`.
 */
import { CellScope, originScope } from "./cell-scope";

/** Called with a late error and the scope of the cell that scheduled the failing work (if known). */
export type LateErrorSink = (error: unknown, origin: CellScope | undefined, kind: "uncaughtException" | "unhandledRejection") => void;

const OWNED = ["uncaughtException", "unhandledRejection"] as const;
type Owned = (typeof OWNED)[number];

/**
 * process.exit as Node made it, for the kernel's own shutdown. (Node's exit
 * calls the internal `process.reallyExit`, which is left alone for that reason.)
 */
export const realExit: (code?: number) => never = process.exit.bind(process);

let sink: LateErrorSink | undefined;
const ours = new Set<unknown>();

/**
 * Installs the kernel's handlers for late errors (once per process; a later
 * call only replaces the sink) and the exit guard.
 *
 * @param report where late errors go (kernel.ts publishes them to the cell)
 */
export function guardProcess(report: LateErrorSink): void {
  const first = sink === undefined;
  sink = report;
  if (!first) return;
  for (const event of OWNED) {
    const handler = (e: unknown) => deliver(e, event);
    ours.add(handler);
    process.on(event, handler);
  }
  process.on("newListener", (event: string | symbol, listener: (...a: unknown[]) => void) => {
    if (!OWNED.includes(event as Owned) || ours.has(listener)) return;
    // Node adds the listener after this event; take it off before anything else runs.
    process.nextTick(() => process.removeListener(event, listener));
  });
  evictForeignListeners();
  guardExit();
}

/** Removes late-error listeners the kernel did not install (call after loading code that adds them at import). */
export function evictForeignListeners(): void {
  for (const event of OWNED) {
    for (const l of process.listeners(event as "uncaughtException")) {
      if (!ours.has(l)) process.removeListener(event, l);
    }
  }
}

function deliver(e: unknown, kind: Owned): void {
  try {
    sink?.(e, originScope(), kind);
  } catch {
    // Reporting must never be what ends the process.
  }
}

/** The error a cell gets for trying to end the kernel's process. */
export function exitRefused(what: string): Error {
  return Object.assign(
    new Error(`${what} would end the kernel and lose every variable; to start afresh, restart the kernel (Kernel → Restart) instead`),
    { name: "KernelExitRefused" },
  );
}

function guardExit(): void {
  const p = process as unknown as Record<string, unknown>;
  p.exit = (code?: number) => {
    throw exitRefused(`process.exit(${code ?? ""})`);
  };
  p.abort = () => {
    throw exitRefused("process.abort()");
  };
  const realKill = process.kill.bind(process);
  p.kill = (pid: number, signal?: string | number) => {
    // 0 is the process group, which includes the kernel; SIGINT is how the
    // kernel interrupts its own synchronous code (watchdog.ts), so it stays allowed.
    if ((Number(pid) === process.pid || Number(pid) === 0) && signal !== "SIGINT" && signal !== 0) {
      throw exitRefused(`process.kill(${pid}${signal === undefined ? "" : `, ${JSON.stringify(signal)}`})`);
    }
    return realKill(pid, signal);
  };
}
