/**
 * Runs cells with magics, protocol-free: expand the magic lines, run the
 * TypeScript through the executor, turn the last value into a MIME bundle.
 * kernel.ts wraps it for Jupyter's ZMQ protocol; kernel/cli/runner.ts uses
 * it directly for headless notebook runs.
 */
import * as path from "path";
import { isSlimlabError } from "../plugins/core/errors";
import { setHost } from "../plugins/core/host";
import { formatBytes, watchWasmAllocations } from "../plugins/backends/memory";
import { CellScope, installScopeTracking, onCallbackPhase, recoverFromTermination } from "./cell-scope";
import { KernelHost } from "./display/kernel-host";
import { toMimeBundle } from "./display/format";
import { CellError, describeLateError, ExecPhase, Executor, memoryError } from "./executor";
import { guardProcess } from "./guard";
import { expandCell, Expansion } from "./magics/expand";
import { loadPlugin } from "./magics/plugins";
import { MagicRegistry } from "./magics/registry";
import { formatCpuWall } from "./magics/timefmt";
import { createModuleResolver } from "./modules";
import { installRuntime } from "./runtime";
import { logInternal } from "./server";
import { createConverter } from "./tslab-adapter";

/** How long an interrupted cell gets to stop by itself (at a batch boundary) before its await is abandoned. */
const INTERRUPT_GRACE_MS = 1500;

export interface CellOutcome {
  ok: boolean;
  error?: CellError;
  /** The execute_result bundle, if the cell's last expression had a value. */
  result?: Record<string, unknown>;
  /** Pager payloads (from `%name?`). */
  pages: string[];
}

/** Sinks for what a running cell emits; the Jupyter server and the headless runner supply their own. */
export interface OutputSink {
  /**
   * Text a cell printed. `origin` is set for a late error: the scope of the
   * cell whose timer or promise failed (which may have finished long ago).
   */
  stream(name: "stdout" | "stderr", text: string, origin?: CellScope): void;
  display(msgType: "display_data" | "update_display_data" | "clear_output", content: Record<string, unknown>): void;
}

/**
 * The protocol-free core: runs cells with magics. kernel.ts's Kernel wraps it
 * for ZMQ; kernel/runner.ts uses it directly for headless notebook runs.
 */
export class CellRunner {
  readonly registry = new MagicRegistry();
  readonly executor: Executor;
  readonly host: KernelHost;
  private sink: OutputSink;
  private pages: string[] = [];
  private running = false;
  /** True once a cell that imported the magic runtime has run: later cells see the name already. */
  private runtimeInScope = false;
  /** The scope of the running (or last) cell. */
  private scope: CellScope | undefined;
  /** Told when a cell starts, before anything of it runs (the kernel's watchdog numbers the runs). */
  onRunStart: () => void = () => undefined;

  constructor(cwd: string, sink: OutputSink, registerBuiltins: (r: MagicRegistry) => void) {
    this.sink = sink;
    const modules = createModuleResolver(cwd);
    this.executor = new Executor(createConverter(modules.map), cwd, (id, dir) => modules.require(id, dir), (id, dir) => modules.resolve(id, dir));
    this.host = new KernelHost((type, content) => this.sink.display(type, content));
    setHost(this.host);
    registerBuiltins(this.registry);
    installRuntime({
      registry: this.registry,
      page: (text) => this.pages.push(text),
      clearOutput: (wait) => this.host.clearOutput(wait),
      loadPlugin: (file) => loadPlugin(this.registry, path.resolve(cwd, file)),
    });
    captureOutput((name, text) => this.sink.stream(name, text));
    installScopeTracking();
    watchWasmAllocations();
    guardProcess((e, origin, kind) => this.reportLate(e, origin, kind));
  }

  /** Tells what the main thread runs to `listener` (the kernel's watchdog): a cell's phases, and a cell's timer callbacks. */
  onPhase(listener: (phase: ExecPhase | "callback") => void): void {
    let phase: ExecPhase = "idle";
    this.executor.onPhase = (p) => listener((phase = p));
    onCallbackPhase((inside) => listener(inside ? "callback" : phase));
  }

  /** A late error goes to the running cell's output, or else to the cell that scheduled the failing work. */
  private reportLate(e: unknown, origin: CellScope | undefined, kind: string): void {
    // An interrupted cell's abandoned work failing afterwards is expected.
    if (origin?.cancelled) return;
    const finished = origin !== undefined && (!this.running || origin !== this.scope);
    const from = finished ? ` (from cell [${origin.count}], which had already finished)` : "";
    const lines = describeLateError(e);
    const what = kind === "unhandledRejection" ? "Unhandled promise rejection" : "Uncaught exception";
    const text = `${what}${from}: ${lines.join("\n")}\nThe kernel keeps running; variables are unchanged.\n`;
    this.sink.stream("stderr", text, this.running ? undefined : origin);
  }

  setSink(sink: OutputSink): void {
    this.sink = sink;
  }

  get busy(): boolean {
    return this.running;
  }

  /** Expands magics; a bad magic line throws a SlimlabError. */
  expand(code: string): Expansion {
    return expandCell(code, this.registry, { importRuntime: !this.runtimeInScope });
  }

  /**
   * Runs one cell.
   *
   * @param count its execution count (for messages about it later)
   * @param tag what the caller routes the cell's late output by (kernel.ts: the request)
   */
  async run(code: string, count = 0, tag?: unknown): Promise<CellOutcome> {
    this.pages = [];
    this.host.newCell(code, tag);
    this.onRunStart();
    this.running = true;
    const scope = new CellScope(count, tag);
    this.scope = scope;
    try {
      let expansion: Expansion;
      try {
        expansion = this.expand(code);
      } catch (e) {
        return { ok: false, error: usageError(e), pages: [] };
      }
      const res = await this.executor.run(expansion.code, scope);
      // Nothing an interrupted cell started may go on changing state after it replied.
      if (scope.cancelled) await scope.settled(INTERRUPT_GRACE_MS);
      if (expansion.timeCell && res.timing) this.sink.stream("stdout", formatCpuWall(res.timing.cpu, res.timing.wall));
      if (!res.ok) return { ok: false, error: shiftColumns(res.error, expansion.firstLineShift), pages: this.pages };
      if (expansion.firstLineShift > 0) this.runtimeInScope = true;
      return { ok: true, result: res.hasValue ? this.host.result(toMimeBundle(res.value)) : undefined, pages: this.pages };
    } catch (e) {
      // A bug in slimlab, not in the cell: still report it in the cell, and keep going.
      logInternal(e);
      return { ok: false, error: { ename: "InternalError", evalue: String(e), traceback: [String((e as Error).stack ?? e)] }, pages: this.pages };
    } finally {
      this.host.endCell();
      this.running = false;
    }
  }

  /** Releases what keeps the process alive (the type checker's file watchers); the runner is unusable after. */
  close(): void {
    this.executor.close();
  }

  /**
   * Interrupts the running cell: clears its timers, stops its fits, aborts
   * the signal its loops check, and ends it with KeyboardInterrupt (its
   * await is abandoned if it has not stopped within the grace time).
   *
   * @param forced the running JavaScript was already terminated (watchdog.ts):
   *   tfjs may have been stopped inside an op, so its scopes are repaired,
   *   and there is nothing to wait for
   * @param memory set when the watchdog stopped the code because the heap
   *   was about to run out: the cell ends with a MemoryError instead
   * @param sameCell false when the request was made while another cell (or
   *   none) ran: the running cell is then left alone
   */
  interrupt(forced = false, memory?: { used: number; limit: number }, sameCell = true): void {
    const stoppedCallback = forced ? recoverFromTermination() : undefined;
    const why = memory ? heapStopText(memory) : undefined;
    if (stoppedCallback && !(this.running && stoppedCallback === this.scope)) {
      // A timer callback was the code stopped (of a finished cell, or of another cell than the running one).
      stoppedCallback.cancel();
      const what = why ? `MemoryError: ${why}` : "KeyboardInterrupt: stopped a timer callback";
      this.sink.stream("stderr", `${what} (from cell [${stoppedCallback.count}]); its other timers were cleared\n`, this.running ? undefined : stoppedCallback);
    }
    if (!this.running || !sameCell) return;
    this.scope?.cancel();
    this.host.interrupt();
    this.executor.interrupt(forced ? 0 : INTERRUPT_GRACE_MS, why ? memoryError(why) : undefined);
  }
}

/** What a cell stopped for filling the JavaScript heap reports. */
export function heapStopText(memory: { used: number; limit: number }): string {
  return `the JavaScript heap reached ${formatBytes(memory.used)} of its ${formatBytes(memory.limit)} limit, so the code was stopped before Node would end the kernel; drop large arrays or objects you no longer need (or give Node a larger --max-old-space-size in the kernelspec)`;
}

function usageError(e: unknown): CellError {
  if (isSlimlabError(e)) return { ename: "UsageError", evalue: e.message, traceback: [`UsageError: ${e.message}`] };
  throw e;
}

/** Type errors on line 1 count columns of the expanded line; shift them back to the user's. */
function shiftColumns(err: CellError, shift: number): CellError {
  if (!shift) return err;
  const fix = (s: string) => s.replace(/^line 1, column (\d+)/, (_m, c) => `line 1, column ${Math.max(1, Number(c) - shift)}`);
  return { ...err, evalue: fix(err.evalue), traceback: err.traceback.map(fix) };
}

/** Sends what cells write to stdout/stderr to `emit`, without losing the kernel's own log. */
function captureOutput(emit: (name: "stdout" | "stderr", text: string) => void): void {
  for (const name of ["stdout", "stderr"] as const) {
    const stream = process[name];
    stream.write = ((chunk: unknown, enc?: unknown, cb?: unknown) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof enc === "string" ? (enc as BufferEncoding) : "utf8");
      emit(name, text);
      const done = typeof enc === "function" ? enc : cb;
      if (typeof done === "function") (done as () => void)();
      return true;
    }) as typeof stream.write;
  }
}
