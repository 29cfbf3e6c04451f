/**
 * Runs cells with magics, protocol-free: expand the magic lines, run the
 * TypeScript through the executor, turn the last value into a MIME bundle.
 * kernel.ts wraps it for Jupyter's ZMQ protocol; kernel/cli/runner.ts uses
 * it directly for headless notebook runs.
 */
import * as path from "path";
import { isSlimlabError, SlimlabError } from "../plugins/core/errors";
import { setHost } from "../plugins/core/host";
import { formatBytes, watchWasmAllocations } from "../plugins/backends/memory";
import { CellScope, installScopeTracking, onCallbackPhase, recoverFromTermination } from "./cell-scope";
import { KernelHost } from "./display/kernel-host";
import { CellError, describeLateError, ExecPhase, Executor, interruptedError, memoryError } from "./executor";
import { guardProcess } from "./guard";
import { expandCell, Expansion, RUNTIME } from "./magics/expand";
import { loadPlugin } from "./magics/plugins";
import { MagicRegistry } from "./magics/registry";
import { formatCpuWall } from "./magics/timefmt";
import { createModuleResolver } from "./modules";
import { HISTORY_DECLARATIONS, HISTORY_NAMES, isShown, ResultHistory, resultBundle } from "./results";
import { readRunnable, RunnableFile, splitAtRunLines } from "./run-file";
import { installRuntime } from "./runtime";
import { logInternal } from "./server";
import { InputHandler, PROMPT_DECLARATION, stdinNotSupported } from "./stdin";
import { createConverter, createJsConverter } from "./tslab-adapter";

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

export interface RunOptions {
  /** Record the cell in `$In`/`$Out` and its value in `$_` (default true; false for silent runs). */
  store?: boolean;
}

/** A user expression's value (a MIME bundle) or its error, as execute_reply's user_expressions holds them. */
export type ExpressionOutcome = { ok: true; bundle: Record<string, unknown> } | { ok: false; error: CellError };

/** What a part of a cell gave. */
type PartOutcome = { ok: true; value: unknown; hasValue: boolean } | { ok: false; error: CellError };

/** Names the kernel puts in the notebook's namespace, which `%who` does not list. */
const KERNEL_NAMES = new Set<string>([...HISTORY_NAMES, "prompt", RUNTIME]);

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
  /** `$_`, `$Out`, `$In`. */
  private readonly history: ResultHistory;
  /** The count of the last cell run without one from the caller. */
  private autoCount = 0;
  /** Where input() asks; undefined when the frontend takes no input. */
  private inputHandler: InputHandler | undefined;
  /** The notebook's working directory (%cd). */
  private workdir: string;
  /** Files the running `%run` line asked for; run when it returns. */
  private pendingFiles: RunnableFile[] = [];
  /** Whether the part running is a `%run` line (only then may it ask for a file). */
  private inRunLine = false;

  constructor(cwd: string, sink: OutputSink, registerBuiltins: (r: MagicRegistry) => void) {
    this.sink = sink;
    this.workdir = cwd;
    const modules = createModuleResolver(cwd);
    this.executor = new Executor(
      createConverter(modules.map),
      cwd,
      (id, dir) => modules.require(id, dir),
      (id, dir) => modules.resolve(id, dir),
      () => createJsConverter(modules.map),
    );
    this.history = new ResultHistory(this.executor.locals);
    this.executor.declare(HISTORY_DECLARATIONS + PROMPT_DECLARATION);
    this.executor.locals.prompt = async (message = "", defaultValue?: string) => {
      const answer = await this.readInput(String(message), false);
      return answer === "" && defaultValue !== undefined ? defaultValue : answer;
    };
    this.host = new KernelHost((type, content) => this.sink.display(type, content));
    setHost(this.host);
    registerBuiltins(this.registry);
    installRuntime({
      registry: this.registry,
      page: (text) => this.pages.push(text),
      clearOutput: (wait) => this.host.clearOutput(wait),
      loadPlugin: (file, reload) => loadPlugin(this.registry, path.resolve(this.workdir, file), { reload }),
      input: (prompt, password) => this.readInput(prompt, password),
      namespace: () => Object.fromEntries(Object.entries(this.executor.variables()).filter(([k]) => !KERNEL_NAMES.has(k))),
      cwd: () => this.workdir,
      chdir: (dir) => this.chdir(dir),
      runFile: (file) => this.queueFile(file),
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

  /** Where input() and prompt() ask from now on (the kernel sets it per request); undefined: nowhere. */
  setInput(handler: InputHandler | undefined): void {
    this.inputHandler = handler;
  }

  private readInput(prompt: string, password: boolean): Promise<string> {
    const ask = this.inputHandler;
    if (!ask) return Promise.reject(stdinNotSupported());
    return ask(prompt, password, this.host.signal());
  }

  private chdir(dir: string): string {
    const target = path.resolve(this.workdir, dir);
    try {
      process.chdir(target);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === "ENOENT" ? "no such folder" : code === "ENOTDIR" ? "not a folder" : (e as Error).message;
      throw new SlimlabError("E_FILE", `%cd: ${JSON.stringify(target)}: ${why}`);
    }
    this.workdir = target;
    return target;
  }

  private queueFile(file: string): void {
    if (!this.inRunLine) {
      throw new SlimlabError("E_ARG", "%run must stand alone on a line at the top level of a cell: the file's declarations become notebook variables before the lines after it are type-checked");
    }
    this.pendingFiles.push(readRunnable(file, this.workdir));
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
   * @param count its execution count (for `$Out` and messages about it later); without it, the runner counts
   * @param tag what the caller routes the cell's late output by (kernel.ts: the request)
   */
  async run(code: string, count?: number, tag?: unknown, options: RunOptions = {}): Promise<CellOutcome> {
    const n = count ?? ++this.autoCount;
    const store = options.store ?? true;
    this.pages = [];
    this.host.newCell(code, tag);
    this.onRunStart();
    this.running = true;
    const scope = new CellScope(n, tag);
    this.scope = scope;
    try {
      let expansion: Expansion;
      let parts: ReturnType<typeof splitAtRunLines>;
      try {
        expansion = this.expand(code);
        parts = splitAtRunLines(code, this.registry);
      } catch (e) {
        return { ok: false, error: usageError(e), pages: [] };
      }
      if (store) this.history.input(n, code);
      let res: PartOutcome = { ok: true, value: undefined, hasValue: false };
      for (const part of parts ?? [{ code, runLine: false }]) {
        res = await this.runPart(parts ? this.expand(part.code) : expansion, scope, part.runLine);
        if (!res.ok) break;
      }
      if (!res.ok) return { ok: false, error: res.error, pages: this.pages };
      const shown = res.hasValue && isShown(res.value);
      if (shown && store) this.history.result(n, res.value);
      return { ok: true, result: shown ? this.host.result(resultBundle(res.value)) : undefined, pages: this.pages };
    } catch (e) {
      // A bug in slimlab, not in the cell: still report it in the cell, and keep going.
      logInternal(e);
      return { ok: false, error: { ename: "InternalError", evalue: String(e), traceback: [String((e as Error).stack ?? e)] }, pages: this.pages };
    } finally {
      this.host.endCell();
      this.running = false;
    }
  }

  /** Runs one expanded cell (or part of one), then the files its `%run` line asked for. */
  private async runPart(expansion: Expansion, scope: CellScope, runLine: boolean): Promise<PartOutcome> {
    if (scope.cancelled) return { ok: false, error: interruptedError() };
    this.pendingFiles = [];
    this.inRunLine = runLine;
    const res = await this.executor.run(expansion.code, scope).finally(() => (this.inRunLine = false));
    // Nothing an interrupted cell started may go on changing state after it replied.
    if (scope.cancelled) await scope.settled(INTERRUPT_GRACE_MS);
    if (expansion.timeCell && res.timing) this.sink.stream("stdout", formatCpuWall(res.timing.cpu, res.timing.wall));
    if (!res.ok) return { ok: false, error: shiftColumns(res.error, expansion.firstLineShift) };
    if (expansion.firstLineShift > 0) this.runtimeInScope = true;
    for (const file of this.pendingFiles.splice(0)) {
      if (scope.cancelled) return { ok: false, error: interruptedError() };
      const ran = await this.executor.run(file.source, scope, file.label, file.language);
      if (scope.cancelled) await scope.settled(INTERRUPT_GRACE_MS);
      if (!ran.ok) return ran;
    }
    return res;
  }

  /**
   * Evaluates `expr` (TypeScript) in the notebook's namespace, for
   * execute_request's user_expressions: its value as a MIME bundle, or the error.
   */
  async evaluate(expr: string): Promise<ExpressionOutcome> {
    this.running = true; // an interrupt stops an expression as it stops a cell
    try {
      const res = await this.executor.run(`(${expr}\n)`, this.scope ?? new CellScope(0));
      if (!res.ok) return { ok: false, error: shiftColumns(res.error, 1) }; // the "(" added in front
      return { ok: true, bundle: resultBundle(res.value) };
    } finally {
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
